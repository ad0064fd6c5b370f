"""The human-readable report: valid HTML5 that escapes hostile text, and a PDF with real pages.

HTML validity is judged by html5lib in strict mode (a parse error per the HTML5 parsing
algorithm fails the test). The PDF is converted to PNG with poppler's ``pdftoppm`` and each page
is inspected for ink. pdftoppm skips locally when missing and fails under CI=true.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

try:
    import oracles
except ImportError:  # tests/ imported as a package
    from tests import oracles  # type: ignore[no-redef]

from icans_interop import render
from icans_interop.model import ImagingReport, load_case

ROOT = Path(__file__).resolve().parent.parent
VALID = sorted((ROOT / "fixtures" / "valid").glob("*.json"))
EXAMPLE = ROOT / "fixtures" / "valid" / "example-grade3-deep.json"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes" \'single\''


def _strict_parse(text: str) -> None:
    import html5lib

    html5lib.HTMLParser(strict=True).parse(text)


def _hostile() -> ImagingReport:
    data = json.loads(EXAMPLE.read_text("utf-8"))
    data["impression"] = HOSTILE + "\nsecond line"
    data["patient"]["family_name"] = '"><b>Doe'
    data["patient"]["given_name"] = "</td></tr></table>"
    data["study"]["description"] = "<!-- -->"
    data["observer_name"] = "Rita^<i>R</i>"
    data["findings"][0]["tracking_id"] = "<svg onload=alert(1)>"
    return ImagingReport.model_validate(data)


@pytest.mark.parametrize("case", VALID, ids=lambda p: p.stem)
def test_html_is_valid_html5(case: Path) -> None:
    page = render.html(load_case(case.read_bytes()))
    _strict_parse(page)
    assert page.startswith("<!DOCTYPE html>")
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    assert "<script" not in page and "http://" not in page.split("</style>")[1]


def test_html_shows_what_a_clinician_needs() -> None:
    page = render.html(load_case(EXAMPLE.read_bytes()))
    for text in ("Doe, Jane", "MRN-100234 (HOSP-A)", "2026-11-03 14:32:00", "ACC20261101",
                 "Deep structure involvement", "Hippocampus", "Thalamus", "Bilateral",
                 "Symmetric", "T2WI", "FLAIR", "Hyperintensity", "Leptomeningeal enhancement",
                 "CE T1WI", "Grade 3", "ICANS, grade 3", "driven by Seizure", "4/10",
                 "Awakens to voice", "Expressive aphasia", "G92.03", "ICE-NAMING", "5366008"):
        assert text in page, text
    # codes on hover: the coded label carries its codes
    assert 'title="SCT 5366008 \u201cHippocampal structure\u201d; RADLEX RID6529' in page


def test_hostile_text_is_escaped() -> None:
    page = render.html(_hostile())
    _strict_parse(page)
    assert "<script" not in page and "<img" not in page and "<svg" not in page
    assert "<b>" not in page and "<i>R</i>" not in page and "</td></tr></table>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;b&gt;Doe" in page
    assert "&lt;!-- --&gt;" in page


def test_imaging_only_and_ungraded_reports() -> None:
    page = render.html(load_case((ROOT / "fixtures/valid/imaging-only-no-assessment.json")
                                 .read_bytes()))
    _strict_parse(page)
    assert "No neurological assessment and no grade are recorded." in page
    data = json.loads(EXAMPLE.read_text("utf-8"))
    data["findings"] = []
    del data["icans_grade"]
    page = render.html(ImagingReport.model_validate(data))
    assert "No ICANS imaging finding is reported." in page
    assert "No grade was recorded; the grade shown is computed from the assessment." in page


def _ink(png: Path) -> float:
    from PIL import Image

    with Image.open(png) as image:
        grey = image.convert("L")
        dark = sum(grey.histogram()[:160])
        return dark / (grey.width * grey.height)


def test_pdf_pages_have_content(tmp_path: Path) -> None:
    pdftoppm = shutil.which("pdftoppm")
    oracles.require(None if pdftoppm else "pdftoppm not installed (apt-get install "
                                          "poppler-utils)")
    assert pdftoppm is not None
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render.pdf(_hostile()))
    assert pdf.read_bytes().startswith(b"%PDF-")
    proc = subprocess.run([pdftoppm, "-r", "50", "-png", str(pdf), str(tmp_path / "page")],
                          capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    pages = sorted(tmp_path.glob("page-*.png"))
    assert 1 <= len(pages) <= 4
    for page in pages:
        # more ink than the page-number footer alone (about 0.0007 at 50 dpi): text on every page
        assert _ink(page) > 0.002, page.name
    assert _ink(pages[0]) > 0.02
    text = subprocess.run([shutil.which("pdftotext") or "pdftotext", str(pdf), "-"],
                          capture_output=True, timeout=120, check=False).stdout.decode()
    assert "Grade 3" in text and '<script>alert("x")</script>' in text
