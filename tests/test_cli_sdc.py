"""CLI: template, extract and render; validation on the way out, atomic writes, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from icans_interop import dicom, fhir, sdc
from icans_interop.cli import app
from icans_interop.model import load_case

ROOT = Path(__file__).resolve().parent.parent
VALID = sorted((ROOT / "fixtures" / "valid").glob("*.json"))
EXAMPLE = ROOT / "fixtures" / "valid" / "example-grade3-deep.json"
runner = CliRunner()


def _prefilled(tmp_path: Path, case: Path = EXAMPLE, *, force: bool = False) -> Path:
    out = tmp_path / "response.json"
    result = runner.invoke(app, ["template", "--prefill", str(case), "-o", str(out),
                                 *(["--force"] if force else [])])
    assert result.exit_code == 0, result.output
    return out


def test_template_writes_the_questionnaire(tmp_path: Path) -> None:
    result = runner.invoke(app, ["template"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == sdc.questionnaire("R4")
    out = tmp_path / "q.json"
    result = runner.invoke(app, ["template", "--format", "questionnaire", "--fhir-version", "R5",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text("utf-8")) == sdc.questionnaire("R5")


@pytest.mark.parametrize("source", ["case", "sr", "fhir"])
def test_prefill_from_a_case_an_sr_or_a_bundle(source: str, tmp_path: Path) -> None:
    report = load_case(EXAMPLE.read_bytes())
    path = {"case": EXAMPLE, "sr": tmp_path / "in.dcm", "fhir": tmp_path / "in.json"}[source]
    if source == "sr":
        path.write_bytes(dicom.to_bytes(dicom.write(report)))
    elif source == "fhir":
        path.write_text(fhir.write_json(report, version="R5"), "utf-8")
    response = _prefilled(tmp_path, path)
    again, issues = sdc.read(response)
    assert again == report and issues == []


def test_prefill_that_would_lose_a_value_fails_unless_forced(tmp_path: Path) -> None:
    data = json.loads(EXAMPLE.read_text("utf-8"))
    data["findings"][0]["number"] = "multiple"
    case = tmp_path / "case.json"
    case.write_text(json.dumps(data), "utf-8")
    out = tmp_path / "qr.json"
    result = runner.invoke(app, ["template", "--prefill", str(case), "-o", str(out)])
    assert result.exit_code == 1
    assert "not-in-form" in result.output and not out.exists()
    result = runner.invoke(app, ["template", "--prefill", str(case), "-o", str(out), "--force"])
    assert result.exit_code == 0 and out.exists()


@pytest.mark.parametrize("case", VALID, ids=lambda p: p.stem)
def test_extract_to_case_sr_and_fhir(case: Path, tmp_path: Path) -> None:
    report = load_case(case.read_bytes())
    # Two fixtures hold a qualifier the entry does not name for the pattern: the form cannot
    # hold it (not-in-form), so their responses are written with --force; nothing is lost.
    response = _prefilled(tmp_path, case, force=True)
    targets = {"case": tmp_path / "out.json", "sr": tmp_path / "out.dcm",
               "fhir": tmp_path / "bundle.json"}
    for to, out in targets.items():
        result = runner.invoke(app, ["extract", str(response), "--to", to, "-o", str(out)])
        assert result.exit_code == 0, result.output
    assert load_case(targets["case"].read_bytes()) == report
    assert dicom.read(targets["sr"])[0] == report
    assert fhir.read(targets["fhir"].read_bytes())[0] == report


def _mismatched_response(tmp_path: Path) -> Path:
    response = _prefilled(tmp_path)
    data = json.loads(response.read_text("utf-8"))
    for group in data["item"]:
        if group["linkId"] == "assessment":
            for item in group["item"]:
                if item["linkId"] == "icans_grade":
                    item["answer"] = [{"valueInteger": 1}]  # computed grade is 3
    response.write_text(json.dumps(data), "utf-8")
    return response


@pytest.mark.parametrize("to", ["case", "sr", "fhir"])
def test_extract_validates_and_writes_nothing_on_error(to: str, tmp_path: Path) -> None:
    response = _mismatched_response(tmp_path)
    out = tmp_path / "out.bin"
    result = runner.invoke(app, ["extract", str(response), "--to", to, "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert "grade-mismatch" in result.output and "nothing written" in result.output
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["response.json"]
    result = runner.invoke(app, ["extract", str(response), "--to", to, "-o", str(out),
                                 "--force"])
    assert result.exit_code == 0 and out.exists()


def test_extract_of_an_unfaithful_response_writes_nothing(tmp_path: Path) -> None:
    response = _prefilled(tmp_path)
    data = json.loads(response.read_text("utf-8"))
    data["item"] = data["item"][1:]  # no patient
    response.write_text(json.dumps(data), "utf-8")
    out = tmp_path / "out.dcm"
    result = runner.invoke(app, ["extract", str(response), "--to", "sr", "-o", str(out)])
    assert result.exit_code == 1
    assert "missing-required" in result.output and not out.exists()


def test_extract_keeps_an_existing_file_on_failure(tmp_path: Path) -> None:
    response = _mismatched_response(tmp_path)
    out = tmp_path / "out.json"
    out.write_text("previous", "utf-8")
    result = runner.invoke(app, ["extract", str(response), "-o", str(out)])
    assert result.exit_code == 1
    assert out.read_text("utf-8") == "previous"


@pytest.mark.parametrize("content", [b"", b"{not json", b"\x00\x01"])
def test_extract_unreadable_input_exits_3(content: bytes, tmp_path: Path) -> None:
    response = tmp_path / "bad.json"
    response.write_bytes(content)
    result = runner.invoke(app, ["extract", str(response), "-o", str(tmp_path / "o.json")])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output and not (tmp_path / "o.json").exists()


@pytest.mark.parametrize("source", ["case", "sr", "fhir", "response"])
def test_render_html_from_any_input(source: str, tmp_path: Path) -> None:
    report = load_case(EXAMPLE.read_bytes())
    path = {"case": EXAMPLE, "sr": tmp_path / "in.dcm", "fhir": tmp_path / "in.json",
            "response": tmp_path / "qr.json"}[source]
    if source == "sr":
        path.write_bytes(dicom.to_bytes(dicom.write(report)))
    elif source == "fhir":
        path.write_text(fhir.write_json(report), "utf-8")
    elif source == "response":
        path.write_text(sdc.to_json(sdc.write(report)[0]), "utf-8")
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["render", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Grade 3" in out.read_text("utf-8")


def test_render_pdf(tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    result = runner.invoke(app, ["render", str(EXAMPLE), "--format", "pdf", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF-")


def test_render_refuses_an_invalid_record_unless_forced(tmp_path: Path) -> None:
    case = ROOT / "fixtures" / "invalid" / "grade-mismatch.json"
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["render", str(case), "-o", str(out)])
    assert result.exit_code == 1 and not out.exists()
    result = runner.invoke(app, ["render", str(case), "-o", str(out), "--force"])
    assert result.exit_code == 0
    assert "differs from the grade" in out.read_text("utf-8")


def test_render_of_an_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"\x00" * 10)
    result = runner.invoke(app, ["render", str(bad), "-o", str(tmp_path / "o.html")])
    assert result.exit_code == 3 and "Traceback" not in result.output


def test_help_stays_fast_to_import() -> None:
    """template/extract/render import their modules lazily (no jinja2/weasyprint at start)."""
    import subprocess
    import sys

    code = ("import sys, icans_interop.cli; "
            "print(sorted(m for m in ('jinja2', 'weasyprint', 'fhirpathpy', 'pydicom') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.strip()
    assert out == "[]"
