"""The command line as a scripting user meets it, each item through a real process: version
and help, JSON everywhere, no truncation in pipes, several source images after one flag,
field names as roles, exit codes that say what happened."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from icans_interop import dicom, fhir, issues
from icans_interop.model import load_case
from tests.clirun import CASE, IMAGING_ONLY, icans, text

COMMANDS = ["knowledge", "codes", "schema", "check", "grade", "report", "convert", "validate",
            "terminology", "template", "extract", "render", "send", "fetch", "gateway"]


def _json(result: Any) -> Any:
    return json.loads(result.stdout)


def test_version() -> None:
    from importlib.metadata import version

    result = icans("--version")
    assert result.returncode == 0
    assert result.stdout.decode().strip() == f"icans-interop {version('icans-interop')}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_short_help(command: str) -> None:
    result = icans(command, "-h")
    assert result.returncode == 0, text(result)
    assert b"Usage:" in result.stdout


@pytest.mark.parametrize("command", ["report", "convert", "template", "extract", "render",
                                     "terminology", "fetch"])
def test_every_writing_command_takes_o_output_or_named_outputs(command: str) -> None:
    usage = icans(command, "-h").stdout.decode()
    assert "--output" in usage or ("--sr" in usage and "--fhir" in usage)


def test_check_json() -> None:
    result = icans("check", CASE, "--format", "json")
    assert result.returncode == 0
    assert _json(result) == {"file": str(CASE), "valid": True, "findings": 2, "issues": []}


def test_check_json_on_an_invalid_case_lists_located_issues() -> None:
    bad = CASE.parent.parent / "invalid" / "unknown-site-key.json"
    result = icans("check", bad, "--format", "json")
    assert result.returncode == 1
    found = _json(result)
    assert found["valid"] is False
    assert any(i["code"] == "case-invalid" and i["location"].startswith("findings[")
               for i in found["issues"])


def test_grade_json() -> None:
    result = icans("grade", CASE, "--format", "json")
    assert result.returncode == 0
    graded = _json(result)
    assert graded["grade"] == 3 and graded["icd10cm"]["code"] == "G92.03"
    assert graded["domains"]["consciousness"] == 2 and graded["issues"] == []


def test_grade_of_an_imaging_only_case_is_not_an_error() -> None:
    result = icans("grade", IMAGING_ONLY)
    assert result.returncode == 0, text(result)
    assert b"no assessment to grade" in result.stdout
    assert _json(icans("grade", IMAGING_ONLY, "--format", "json"))["grade"] is None


def test_knowledge_json_is_the_parsed_entry() -> None:
    entry = _json(icans("knowledge", "--format", "json"))
    names = [p["name"] for p in entry["patterns"]]
    assert "Leptomeningeal enhancement" in names
    assert all(p["concept_key"] for p in entry["patterns"])


def test_report_json_says_what_was_written(tmp_path: Path) -> None:
    sr, bundle = tmp_path / "r.dcm", tmp_path / "r.json"
    result = icans("report", CASE, "--sr", sr, "--fhir", bundle, "--format", "json")
    assert result.returncode == 0, text(result)
    summary = _json(result)
    assert [w["format"] for w in summary["written"]] == ["sr", "fhir"]
    assert summary["written"][0]["sop_instance_uid"] == str(dicom.read(sr)[0] and
                                                           _sop_uid(sr))
    assert summary["valid"] is True and summary["forced"] is False


def _sop_uid(path: Path) -> str:
    from pydicom import dcmread

    return str(dcmread(path).SOPInstanceUID)


def test_convert_json_lists_skipped_items(tmp_path: Path) -> None:
    report = load_case(CASE.read_bytes())
    bundle = json.loads(fhir.write_json(report))
    extra = "urn:uuid:5d0f4c1e-0000-4000-8000-000000000001"
    bundle["entry"].append({"fullUrl": extra,
                            "resource": {"resourceType": "Observation", "status": "final",
                                         "code": {"coding": [{"system": "http://loinc.org",
                                                              "code": "8867-4"}],
                                                  "text": "Heart rate"}},
                            "request": {"method": "POST", "url": "Observation"}})
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "DiagnosticReport":
            entry["resource"]["result"].append({"reference": extra})
    source = tmp_path / "b.json"
    source.write_text(json.dumps(bundle))
    result = icans("convert", source, "--to", "sr", "-o", tmp_path / "o.dcm", "--format",
                   "json")
    summary = _json(result)
    assert result.returncode == 0, text(result)
    assert summary["written"][0]["format"] == "sr"
    assert summary["skipped"] and all(s["file"] == str(source) for s in summary["skipped"])
    text_run = icans("convert", source, "--to", "sr", "-o", tmp_path / "p.dcm")
    assert b"of the source are not carried over" in text_run.stderr


def test_piped_tables_are_not_cut() -> None:
    result = icans("codes", "--role", "pattern")
    assert b"deep_structure_involvement" in result.stdout
    assert "…".encode() not in result.stdout


def test_piped_knowledge_keeps_whole_lines() -> None:
    lines = icans("knowledge").stdout.decode().splitlines()
    signs = [line for line in lines if "Clinical signs:" in line]
    assert len(signs) == 1 and len(signs[0]) > 80


def test_several_source_images_after_one_flag(tmp_path: Path) -> None:
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

    report = load_case(CASE.read_bytes())
    paths = []
    for index in (1, 2):
        image = pydicom.Dataset()
        image.SOPClassUID, image.Modality = MRImageStorage, "MR"
        image.SOPInstanceUID = f"1.2.826.0.1.3680043.10.1412.7.{index}"
        image.StudyInstanceUID = report.study.instance_uid
        image.SeriesInstanceUID = "1.2.826.0.1.3680043.10.1412.7.9"
        image.PatientID, image.Rows, image.Columns = report.patient.id, 8, 8
        image.file_meta = FileMetaDataset()
        image.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        image.file_meta.MediaStorageSOPClassUID = MRImageStorage
        image.file_meta.MediaStorageSOPInstanceUID = image.SOPInstanceUID
        path = tmp_path / f"mr{index}.dcm"
        image.save_as(path, enforce_file_format=True)
        paths.append(path)
    out = tmp_path / "sr.dcm"
    result = icans("report", CASE, "--source-image", *paths, "--sr", out)
    assert result.returncode == 0, text(result)
    series = pydicom.dcmread(out).CurrentRequestedProcedureEvidenceSequence[0]
    assert len(series.ReferencedSeriesSequence[0].ReferencedSOPSequence) == 2


@pytest.mark.parametrize(("field", "key"), [("seizure", "no_seizure"), ("sequence", "flair"),
                                            ("signs", "tremor"), ("sites", "thalamus"),
                                            ("seizure_status", "no_seizure")])
def test_codes_role_accepts_case_field_names(field: str, key: str) -> None:
    rows = _json(icans("codes", "--role", field, "--format", "json"))
    assert key in {r["key"] for r in rows}
    assert len({r["role"] for r in rows}) == 1


def test_codes_role_error_lists_case_fields_not_internal_roles() -> None:
    result = icans("codes", "--role", "colour")
    assert result.returncode == 2
    message = result.stderr.decode()
    assert "seizure" in message and "sequence" in message
    assert "sr_template" not in message and "report_code" not in message


@pytest.mark.parametrize(("kind", "points_to"), [("sr", "validate"), ("fhir", "convert")])
@pytest.mark.parametrize("command", ["check", "grade"])
def test_check_and_grade_say_what_a_record_file_is(tmp_path: Path, command: str, kind: str,
                                                   points_to: str) -> None:
    report = load_case(CASE.read_bytes())
    path = tmp_path / "record"
    if kind == "sr":
        path.write_bytes(dicom.to_bytes(dicom.write(report)))
    else:
        path.write_text(fhir.write_json(report))
    result = icans(command, path)
    assert result.returncode == 3
    message = result.stderr.decode()
    assert ("DICOM file" if kind == "sr" else "FHIR Bundle") in message
    assert points_to in message and "codec" not in message


def test_schema_describes_every_field() -> None:
    schema = _json(icans("schema"))
    objects = [schema, *schema["$defs"].values()]
    for node in objects:
        for name, prop in node.get("properties", {}).items():
            assert prop.get("description"), name
    issued = schema["properties"]["issued"]["description"]
    assert "UTC offset" in issued


def test_template_case_is_a_commented_case_that_checks_clean() -> None:
    made = icans("template", "--format", "case")
    assert made.returncode == 0
    assert "$comment" in _json(made)
    checked = icans("check", "-", stdin=made.stdout)
    assert checked.returncode == 0, text(checked)


def test_validate_json_lists_a_missing_path_as_an_entry(tmp_path: Path) -> None:
    result = icans("validate", CASE, tmp_path / "nope.dcm", "--format", "json")
    assert result.returncode == 3
    entries = {e["file"]: e for e in _json(result)}
    missing = entries[str(tmp_path / "nope.dcm")]
    assert missing["kind"] == "missing" and missing["issues"][0]["code"] == "unreadable"
    assert entries[str(CASE)]["valid"] is True


def test_validate_include_exclude_and_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "case.json").write_bytes(CASE.read_bytes())
    (tmp_path / "README.txt").write_text("notes, not a record")
    stray = icans("validate", tmp_path)
    assert stray.returncode == 3  # some file unreadable
    assert icans("validate", tmp_path, "--exclude", "*.txt").returncode == 0
    assert icans("validate", tmp_path, "--include", "*.json").returncode == 0
    nothing = icans("validate", tmp_path, "--include", "*.dcm")
    assert nothing.returncode == 2 and b"no files to validate" in nothing.stderr


def test_outcome_names_every_file(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_bytes(CASE.read_bytes())
    bad.write_bytes(b"\x00\x01")
    bundle = _json(icans("validate", good, bad, "--format", "outcome"))
    urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert urls == [good.resolve().as_uri(), bad.resolve().as_uri()]
    for entry, path in zip(bundle["entry"], (good, bad), strict=True):
        extension = entry["resource"]["extension"][0]
        assert extension["valueString"] == str(path)


def test_the_issue_code_system_holds_every_catalogued_code(tmp_path: Path) -> None:
    assert icans("terminology", "-o", tmp_path).returncode == 0
    system = json.loads((tmp_path / "CodeSystem-issue-code.json").read_text())
    assert system["url"] == issues.ISSUE_CODE_SYSTEM
    assert {c["code"] for c in system["concept"]} == set(issues.catalogue())


def test_usage_errors_exit_2_and_unreadable_inputs_exit_3(tmp_path: Path) -> None:
    assert icans("report", CASE).returncode == 2  # nothing to write
    assert icans("report", CASE, "--fhir", tmp_path / "x", "--fhir-version", "R6"
                 ).returncode == 2
    assert icans("check", tmp_path / "nope.json").returncode == 3
