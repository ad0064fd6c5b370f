"""CLI commands that write files: report, convert, validate, terminology."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from icans_interop import dicom, fhir
from icans_interop.cli import app
from icans_interop.model import load_case

ROOT = Path(__file__).resolve().parent.parent
VALID = sorted((ROOT / "fixtures" / "valid").glob("*.json"))
runner = CliRunner()


def _strip_ids(value: Any) -> Any:
    """A bundle without generated resource ids, fullUrls, references and timestamps."""
    if isinstance(value, dict):
        return {k: _strip_ids(v) for k, v in value.items()
                if k not in ("id", "fullUrl", "reference", "lastUpdated", "url")}
    if isinstance(value, list):
        return [_strip_ids(v) for v in value]
    return value


@pytest.mark.parametrize("case", VALID, ids=lambda p: p.stem)
def test_sr_to_fhir_convert_equals_direct_fhir(case: Path, tmp_path: Path) -> None:
    sr, direct, converted = tmp_path / "sr.dcm", tmp_path / "direct.json", tmp_path / "conv.json"
    result = runner.invoke(app, ["report", str(case), "--sr", str(sr), "--fhir", str(direct)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["convert", str(sr), "--to", "fhir", "-o", str(converted)])
    assert result.exit_code == 0, result.output
    assert _strip_ids(json.loads(converted.read_text())) == \
        _strip_ids(json.loads(direct.read_text()))


@pytest.mark.parametrize("case", VALID, ids=lambda p: p.stem)
def test_fhir_to_sr_convert_keeps_the_report(case: Path, tmp_path: Path) -> None:
    bundle, sr = tmp_path / "b.json", tmp_path / "sr.dcm"
    assert runner.invoke(app, ["report", str(case), "--fhir", str(bundle)]).exit_code == 0
    result = runner.invoke(app, ["convert", str(bundle), "--to", "sr", "-o", str(sr),
                                 "--sop-class", "enhanced"])
    assert result.exit_code == 0, result.output
    report, issues = dicom.read(sr)
    assert report == load_case(case.read_bytes())
    assert not [i for i in issues if i.severity == "error"]


def test_report_r5_and_validate_detects_the_version(tmp_path: Path) -> None:
    out = tmp_path / "r5.json"
    result = runner.invoke(app, ["report", str(VALID[0]), "--fhir", str(out),
                                 "--fhir-version", "R5", "--bundle", "collection"])
    assert result.exit_code == 0, result.output
    report, _ = fhir.read(out.read_bytes())
    assert report == load_case(VALID[0].read_bytes())
    result = runner.invoke(app, ["validate", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["valid"] is True


def test_invalid_case_writes_no_file(tmp_path: Path) -> None:
    out = tmp_path / "never.dcm"
    bad = ROOT / "fixtures" / "invalid" / "unknown-site-key.json"
    result = runner.invoke(app, ["report", str(bad), "--sr", str(out)])
    assert result.exit_code == 1
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_unwritable_value_gives_clean_error_and_no_file(tmp_path: Path) -> None:
    case = json.loads(VALID[0].read_text())
    case["patient"]["id"] = "A\\B"  # a backslash is the DICOM value separator
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    out = tmp_path / "out.dcm"
    result = runner.invoke(app, ["report", str(path), "--sr", str(out)])
    assert result.exit_code == 1, result.output
    assert "cannot write the SR" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.json"]


def test_convert_rejects_unknown_input(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01not dicom, not json")
    result = runner.invoke(app, ["convert", str(junk), "--to", "fhir", "-o",
                                 str(tmp_path / "x.json")])
    assert result.exit_code == 3
    assert "neither a DICOM SR nor a FHIR resource" in result.output
    assert not (tmp_path / "x.json").exists()


def test_report_with_source_image(tmp_path: Path) -> None:
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    report = load_case(VALID[0].read_bytes())
    image = pydicom.Dataset()
    image.SOPClassUID = MRImageStorage
    image.SOPInstanceUID = generate_uid()
    image.StudyInstanceUID = report.study.instance_uid
    image.SeriesInstanceUID = generate_uid()
    image.Modality = "MR"
    image.PatientID = report.patient.id
    image.Rows, image.Columns = 256, 256
    image.file_meta = FileMetaDataset()
    image.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    image.file_meta.MediaStorageSOPClassUID = MRImageStorage
    image.file_meta.MediaStorageSOPInstanceUID = image.SOPInstanceUID
    mr = tmp_path / "mr.dcm"
    image.save_as(mr, enforce_file_format=True)
    out = tmp_path / "sr.dcm"
    result = runner.invoke(app, ["report", str(VALID[0]), "--sr", str(out),
                                 "--source-image", str(mr)])
    assert result.exit_code == 0, result.output
    sr = pydicom.dcmread(out)
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
    sop = evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert sop.ReferencedSOPInstanceUID == image.SOPInstanceUID


def test_terminology_export_command(tmp_path: Path) -> None:
    result = runner.invoke(app, ["terminology", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    names = {p.name for p in tmp_path.iterdir()}
    assert any("CodeSystem" in n for n in names)
    assert any("ConceptMap" in n for n in names)
