"""`icans-interop validate`: folders, sniffing by content, formats, exit codes, --jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from icans_interop import dicom, fhir
from icans_interop.cli import app
from icans_interop.model import load_case

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "fixtures" / "valid" / "example-grade3-deep.json"
runner = CliRunner()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a valid SR, a valid bundle, a bundle with a bad code and a nested subfolder.

    File names deliberately lie about the content: the kind is sniffed, not guessed.
    """
    folder = tmp_path_factory.mktemp("corpus")
    report = load_case(CASE.read_bytes())
    (folder / "report.json.bak").write_bytes(dicom.to_bytes(dicom.write(report)))
    bundle = json.loads(fhir.to_json(fhir.write(report)))
    (folder / "bundle.dat").write_text(json.dumps(bundle))
    bad = json.loads(json.dumps(bundle))
    for entry in bad["entry"]:
        if entry["resource"]["resourceType"] == "Condition":
            entry["resource"]["code"]["coding"][0]["code"] = "G92.0"
    (folder / "nested").mkdir()
    (folder / "nested" / "bad-bundle.json").write_text(json.dumps(bad))
    return folder


def test_folder_is_walked_and_errors_exit_1(corpus: Path) -> None:
    result = runner.invoke(app, ["validate", str(corpus), "--format", "json"])
    assert result.exit_code == 1, result.output
    results = {Path(r["file"]).name: r for r in json.loads(result.stdout)}
    assert results["report.json.bak"]["kind"] == "sr" and results["report.json.bak"]["valid"]
    assert results["bundle.dat"]["kind"] == "fhir" and results["bundle.dat"]["valid"]
    bad = results["bad-bundle.json"]
    assert not bad["valid"]
    assert any(i["code"] == "code-not-billable" and "G92.0" in i["message"]
               for i in bad["issues"])


def test_valid_files_exit_0_with_summary(corpus: Path) -> None:
    result = runner.invoke(app, ["validate", str(corpus / "report.json.bak"),
                                 str(corpus / "bundle.dat")])
    assert result.exit_code == 0, result.output
    assert "Summary" in result.stdout


def test_outcome_format_is_an_operation_outcome(corpus: Path) -> None:
    result = runner.invoke(app, ["validate", str(corpus / "nested" / "bad-bundle.json"),
                                 "--format", "outcome"])
    assert result.exit_code == 1
    outcome = json.loads(result.stdout)
    assert outcome["resourceType"] == "OperationOutcome"
    errors = [i for i in outcome["issue"] if i["severity"] == "error"]
    assert errors and errors[0]["code"] == "code-invalid"
    assert errors[0]["expression"][0].startswith("Bundle.entry[")


def test_unreadable_input_exits_3(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x00" * 10)
    result = runner.invoke(app, ["validate", str(junk)])
    assert result.exit_code == 3
    assert "unreadable" in result.stdout


def test_truncated_sr_exits_3(tmp_path: Path) -> None:
    data = dicom.to_bytes(dicom.write(load_case(CASE.read_bytes())))
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[: len(data) // 2])
    result = runner.invoke(app, ["validate", str(path), "--format", "json"])
    assert result.exit_code in (1, 3), result.output
    issues = json.loads(result.stdout)[0]["issues"]
    assert issues and "Traceback" not in result.output


def test_missing_path_exits_3(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.dcm")])
    assert result.exit_code == 3
    assert "no such file or folder" in result.output


def test_jobs_2_gives_the_same_results(corpus: Path) -> None:
    one = runner.invoke(app, ["validate", str(corpus), "--format", "json"])
    two = runner.invoke(app, ["validate", str(corpus), "--format", "json", "--jobs", "2"])
    assert one.exit_code == two.exit_code == 1
    assert json.loads(one.stdout) == json.loads(two.stdout)


def test_base_profile_skips_semantic_rules(tmp_path: Path) -> None:
    case = json.loads(CASE.read_text())
    case["icans_grade"] = 1  # disagrees with the assessment (grade 3)
    report = load_case(json.dumps(case))
    path = tmp_path / "sr.dcm"
    path.write_bytes(dicom.to_bytes(dicom.write(report)))
    icans = runner.invoke(app, ["validate", str(path), "--format", "json"])
    base = runner.invoke(app, ["validate", str(path), "--format", "json", "--profile", "base"])
    assert icans.exit_code == 1
    assert any(i["code"] == "grade-mismatch" for i in json.loads(icans.stdout)[0]["issues"])
    assert base.exit_code == 0, base.output
