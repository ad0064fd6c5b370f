"""Regenerate the README's pictures from the example case.

* ``docs/form.png`` — the generated Questionnaire filled in LHC-Forms (headless Chromium, the
  same page the browser tests drive): the deep-structure finding and the live ASTCT grading;
* ``docs/report.png`` — page 1 of the PDF that ``icans-interop render`` prints.

Run ``.venv/bin/python tools/doc_images.py`` after changing the form or the report template (it
needs what the browser and PDF tests need: Chromium, tools/lforms, poppler-utils).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from lforms_page import FormPage  # noqa: E402  (a test helper, found through sys.path)
from PIL import Image  # noqa: E402

from icans_interop import render, sdc  # noqa: E402
from icans_interop.model import load_case  # noqa: E402

CASE = ROOT / "fixtures" / "valid" / "example-grade3-deep.json"
DOCS = ROOT / "docs"
WIDTH = 820


def _small(image: Image.Image, path: Path) -> None:
    """Scale to the README width and store with a 64-colour palette (small PNG)."""
    scale = WIDTH / image.width
    resized = image.convert("RGB").resize((WIDTH, round(image.height * scale)),
                                          Image.Resampling.LANCZOS)
    resized.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KiB)")


def form_image(tmp: Path) -> None:
    case = load_case(CASE.read_bytes())
    with FormPage(sdc.questionnaire("R4"), timezone="Europe/Paris") as page:
        page.fill(case)
        shot = tmp / "form.png"
        page.screenshot(shot)
        boxes = {}
        for name, element in (("finding", "item-deep_structure_involvement.finding/1/1/1"),
                              ("grading", "item-assessment.grading/1/1/1"),
                              ("grade", "item-icans_grade/1/1")):
            # page coordinates, whatever the scroll position
            boxes[name] = page.page.locator(f'[id="{element}"]').evaluate(
                "e => { const r = e.getBoundingClientRect();"
                " return {y: r.top + window.scrollY, height: r.height}; }")
    with Image.open(shot) as full:
        parts = [full.crop((0, int(boxes["finding"]["y"]) - 4, full.width,
                            int(boxes["finding"]["y"] + boxes["finding"]["height"]) + 4)),
                 full.crop((0, int(boxes["grading"]["y"]) - 4, full.width,
                            int(boxes["grade"]["y"] + boxes["grade"]["height"]) + 6))]
        stacked = Image.new("RGB", (full.width, sum(p.height for p in parts) + 12), "white")
        top = 0
        for part in parts:
            stacked.paste(part, (0, top))
            top += part.height + 12
    _small(stacked, DOCS / "form.png")


def report_image(tmp: Path) -> None:
    pdf = tmp / "report.pdf"
    pdf.write_bytes(render.pdf(load_case(CASE.read_bytes())))
    subprocess.run(["pdftoppm", "-r", "110", "-png", "-f", "1", "-l", "1", str(pdf),
                    str(tmp / "page")], check=True, timeout=120)
    (page,) = tmp.glob("page-*.png")
    with Image.open(page) as image:
        _small(image, DOCS / "report.png")


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        form_image(Path(tmp))
        report_image(Path(tmp))


if __name__ == "__main__":
    main()
