"""Nothing invalid or invented is written: ``report`` and ``convert`` validate what they are
about to write and refuse (exit 1, no file) unless ``--force``; conversion carries a
source's ICANS content or says why not.

The invalid fixtures run through a real process; the planted SR and FHIR defects (the
validator's own defect corpora) through the in-process runner, one conversion each.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from icans_interop import dicom, fhir, sniff
from icans_interop.cli import app
from icans_interop.model import load_case
from tests import corpus_sr, oracles, test_fhir_defects, test_sr_defects
from tests.clirun import CASE, INVALID, icans, text

runner = CliRunner()
EXPECTED = json.loads((INVALID / "expected.json").read_text())


def _loads(name: str) -> bool:
    try:
        load_case((INVALID / name).read_bytes())
    except ValueError:
        return False
    return True


#: Invalid fixtures that are well-formed reports with semantic errors (grade, contradiction,
#: duplicate UIDs); the others are not reports at all and nothing can be forced out of them.
CONTENT_INVALID = sorted(name for name in EXPECTED if _loads(name))
NOT_REPORTS = sorted(name for name in EXPECTED if not _loads(name))


def _only(folder: Path, *names: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_report_writes_nothing_for_an_invalid_fixture(name: str, tmp_path: Path) -> None:
    result = icans("report", INVALID / name, "--sr", tmp_path / "r.dcm", "--fhir",
                   tmp_path / "r.json")
    assert result.returncode == EXPECTED[name]["exit"], text(result)
    assert EXPECTED[name]["message"] in text(result)
    _only(tmp_path)


def test_the_fixture_sets_are_not_empty() -> None:
    assert len(CONTENT_INVALID) >= 3 and len(NOT_REPORTS) >= 5


@pytest.mark.parametrize("name", CONTENT_INVALID)
def test_report_force_writes_and_still_prints_the_issues(name: str, tmp_path: Path) -> None:
    result = icans("report", INVALID / name, "--sr", tmp_path / "r.dcm", "--fhir",
                   tmp_path / "r.json", "--force")
    assert result.returncode == 0, text(result)
    assert b"error: [" in result.stderr and b"written despite errors" in result.stderr
    _only(tmp_path, "r.dcm", "r.json")


@pytest.mark.parametrize("name", NOT_REPORTS)
def test_force_cannot_write_what_is_not_a_report(name: str, tmp_path: Path) -> None:
    result = icans("report", INVALID / name, "--fhir", tmp_path / "r.json", "--force")
    assert result.returncode == EXPECTED[name]["exit"], text(result)
    _only(tmp_path)


def test_report_json_on_refusal_lists_the_issues_by_file(tmp_path: Path) -> None:
    result = icans("report", INVALID / "grade-mismatch.json", "--fhir", tmp_path / "r.json",
                   "--format", "json")
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert summary["written"] == [] and summary["valid"] is False
    assert {"file": str(INVALID / "grade-mismatch.json"), "code": "grade-mismatch"}.items() \
        <= next(i for i in summary["issues"] if i["code"] == "grade-mismatch").items()


# --- source images --------------------------------------------------------------------------


def _image(tmp_path: Path, name: str, **changes: Any) -> Path:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

    report = load_case(CASE.read_bytes())
    image = Dataset()
    image.SOPClassUID, image.Modality = MRImageStorage, "MR"
    image.SOPInstanceUID = "1.2.826.0.1.3680043.10.1412.8." + str(abs(hash(name)) % 10**6)
    image.StudyInstanceUID = report.study.instance_uid
    image.SeriesInstanceUID = "1.2.826.0.1.3680043.10.1412.8.1"
    image.PatientID, image.Rows, image.Columns = report.patient.id, 8, 8
    for keyword, value in changes.items():
        if value is None:
            delattr(image, keyword)
        else:
            setattr(image, keyword, value)
    image.file_meta = FileMetaDataset()
    image.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    image.file_meta.MediaStorageSOPClassUID = image.SOPClassUID
    image.file_meta.MediaStorageSOPInstanceUID = image.SOPInstanceUID
    path = tmp_path / name
    image.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize(("changes", "reason"), [
    ({"PatientID": "MRN-OTHER"}, "Patient ID MRN-OTHER is not the report's"),
    ({"StudyInstanceUID": "1.2.826.0.1.3680043.10.1412.99"}, "Study Instance UID"),
    ({"Modality": "SR", "Rows": None, "Columns": None}, "not an image (Modality SR)"),
])
def test_a_source_image_of_another_patient_or_an_sr_is_refused(
        tmp_path: Path, changes: dict[str, Any], reason: str) -> None:
    images = tmp_path / "images"
    images.mkdir()
    bad = _image(images, "bad.dcm", **changes)
    out = tmp_path / "out"
    out.mkdir()
    result = icans("report", CASE, "--sr", out / "r.dcm", "--source-image", bad)
    assert result.returncode == 1, text(result)
    assert b"source-image-mismatch" in result.stderr and reason.encode() in result.stderr
    _only(out)


def test_a_real_sr_file_given_as_source_image_is_refused(tmp_path: Path) -> None:
    sr = tmp_path / "other.dcm"
    sr.write_bytes(dicom.to_bytes(dicom.write(load_case(CASE.read_bytes()))))
    result = icans("report", CASE, "--sr", tmp_path / "r.dcm", "--source-image", sr)
    assert result.returncode == 1 and b"not an image (Modality SR)" in result.stderr
    assert not (tmp_path / "r.dcm").exists()


def test_force_cites_a_mismatched_image_as_pertinent_other_evidence(tmp_path: Path) -> None:
    from pydicom import dcmread

    good = _image(tmp_path, "good.dcm")
    other = _image(tmp_path, "other.dcm", PatientID="MRN-OTHER",
                   StudyInstanceUID="1.2.826.0.1.3680043.10.1412.99")
    out = tmp_path / "r.dcm"
    result = icans("report", CASE, "--sr", out, "--source-image", good, other, "--force")
    assert result.returncode == 0, text(result)
    assert b"source-image-mismatch" in result.stderr
    sr = dcmread(out)
    current = {s.ReferencedSOPInstanceUID
               for e in sr.CurrentRequestedProcedureEvidenceSequence
               for series in e.ReferencedSeriesSequence for s in series.ReferencedSOPSequence}
    cited = {s.ReferencedSOPInstanceUID for e in sr.PertinentOtherEvidenceSequence
             for series in e.ReferencedSeriesSequence for s in series.ReferencedSOPSequence}
    assert current == {dcmread(good).SOPInstanceUID}
    assert cited == {dcmread(other).SOPInstanceUID}
    assert icans("validate", out).returncode == 0


# --- planted defects: convert refuses each ---------------------------------------------------

SR_ERRORS = [d for d in test_sr_defects.DEFECTS if d.severity == "error"]
FHIR_ERRORS = [c for c in test_fhir_defects.CASES if c.version == "R4" and (
    c.plant is not None or (c.expected_raw is not None and c.expected_raw[0] == "error"))]


def _sr_defect(defect: Any) -> bytes:
    mutated, _where = defect.mutate(test_sr_defects.base_dataset(defect.sop_class))
    return mutated if isinstance(mutated, bytes) else test_sr_defects.encode(mutated)


def _fhir_defect(case: Any) -> tuple[bytes, str]:
    if case.plant is None:
        return case.raw, case.expected_raw[0]
    bundle = test_fhir_defects._bundle(case.version, case.kind)
    severity = case.plant(bundle)[0]
    return json.dumps(bundle).encode(), severity


@pytest.mark.parametrize("defect", SR_ERRORS, ids=lambda d: d.name)
def test_convert_refuses_every_planted_sr_defect(defect: Any, tmp_path: Path) -> None:
    source = tmp_path / "in.dcm"
    source.write_bytes(_sr_defect(defect))
    result = runner.invoke(app, ["convert", str(source), "--to", "fhir", "-o",
                                 str(tmp_path / "out.json")])
    # 3: not even readable as DICOM; 2: JSON text given for --to fhir ("is already FHIR")
    allowed = (1, 3) if sniff.kind_of_path(source) == "sr" else (2, 3)
    assert result.exit_code in allowed, result.output
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("case", FHIR_ERRORS, ids=lambda c: c.name)
def test_convert_refuses_every_planted_fhir_defect(case: Any, tmp_path: Path) -> None:
    data, severity = _fhir_defect(case)
    if severity != "error":
        pytest.skip("a warning: converted, with the warning printed")
    source = tmp_path / "in.json"
    source.write_bytes(data)
    result = runner.invoke(app, ["convert", str(source), "--to", "sr", "-o",
                                 str(tmp_path / "out.dcm")])
    assert result.exit_code in (1, 3), result.output
    assert not (tmp_path / "out.dcm").exists()


@pytest.mark.parametrize("defect", SR_ERRORS, ids=lambda d: d.name)
def test_convert_force_writes_a_planted_sr_defect_when_a_report_can_be_read(
        defect: Any, tmp_path: Path) -> None:
    data = _sr_defect(defect)
    source, out = tmp_path / "in.dcm", tmp_path / "out.json"
    source.write_bytes(data)
    result = runner.invoke(app, ["convert", str(source), "--to", "fhir", "-o", str(out),
                                 "--force"])
    if sniff.kind_of_bytes(data) != "sr":
        assert result.exit_code == 2 and not out.exists(), result.output
    elif dicom.read(data).report is None:
        assert result.exit_code in (1, 3) and not out.exists(), result.output
        assert "could not be read into a report" in result.output or \
            "not a readable" in result.output or result.exit_code == 3
    else:
        assert result.exit_code == 0, result.output
        assert out.exists() and "error: [" in result.output


# --- third-party sources: carried or refused with the reason ----------------------------------


def _basic_text_sr(tmp_path: Path) -> Path:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import BasicTextSRStorage, ExplicitVRLittleEndian

    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = BasicTextSRStorage, "1.2.826.0.1.3680043.10.1412.9.1"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.10.1412.9.2"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.1412.9.3"
    ds.Modality, ds.PatientID, ds.PatientName = "SR", "P1", "Doe^Jane"
    ds.StudyDate, ds.ContentDate, ds.ContentTime = "20261103", "20261103", "120000"
    ds.ValueType, ds.ContinuityOfContent = "CONTAINER", "SEPARATE"
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "UNVERIFIED"
    title = Dataset()
    title.CodeValue, title.CodingSchemeDesignator = "18748-4", "LN"
    title.CodeMeaning = "Diagnostic imaging report"
    ds.ConceptNameCodeSequence = [title]
    finding = Dataset()
    finding.RelationshipType, finding.ValueType = "CONTAINS", "TEXT"
    name = Dataset()
    name.CodeValue, name.CodingSchemeDesignator, name.CodeMeaning = "121071", "DCM", "Finding"
    finding.ConceptNameCodeSequence = [name]
    finding.TextValue = "Normal MRI of the brain."
    ds.ContentSequence = [finding]
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path = tmp_path / "basic-text.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def test_a_basic_text_sr_is_not_converted_into_an_invented_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = icans("convert", _basic_text_sr(tmp_path), "--to", "fhir", "-o", out / "b.json")
    assert result.returncode == 1, text(result)
    assert b"nothing written" in result.stderr
    _only(out)


def test_a_highdicom_measurement_report_without_icans_content_is_refused(
        tmp_path: Path) -> None:
    hd = pytest.importorskip("highdicom")
    from pydicom.sr.codedict import codes

    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name="Doe^John"))
    measurement = hd.sr.Measurement(
        name=codes.SCT.Volume, value=12.5, unit=hd.sr.CodedConcept("cm3", "UCUM", "cm3"))
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="lesion 1"),
        measurements=[measurement])
    content = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=hd.sr.CodedConcept("24590-2", "LN", "MR Brain"),
        imaging_measurements=[group])
    evidence = _image_dataset()
    document = hd.sr.Comprehensive3DSR(
        evidence=[evidence], content=content, series_number=1, series_instance_uid=hd.UID(),
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="highdicom")
    source = tmp_path / "hd.dcm"
    document.save_as(source)
    result = icans("convert", source, "--to", "fhir", "-o", tmp_path / "b.json")
    assert result.returncode == 1, text(result)
    assert b"no-icans-content" in result.stderr
    assert not (tmp_path / "b.json").exists()


def _image_dataset() -> Any:
    from pydicom.dataset import Dataset
    from pydicom.uid import MRImageStorage

    image = Dataset()
    image.SOPClassUID, image.Modality = MRImageStorage, "MR"
    image.SOPInstanceUID = "1.2.826.0.1.3680043.10.1412.9.10"
    image.StudyInstanceUID = "1.2.826.0.1.3680043.10.1412.9.11"
    image.SeriesInstanceUID = "1.2.826.0.1.3680043.10.1412.9.12"
    image.PatientID, image.PatientName, image.PatientSex = "P2", "Roe^Ann", "F"
    image.PatientBirthDate, image.StudyDate, image.StudyTime = "19700101", "20261103", "1200"
    image.AccessionNumber, image.StudyID, image.ReferringPhysicianName = "A1", "1", ""
    return image


def _synthea_like_bundle() -> dict[str, Any]:
    """A patient-history bundle as Synthea writes them: a lipid panel report and five
    imaging studies, none of them an ICANS report."""
    patient = "urn:uuid:00000000-0000-4000-8000-000000000001"
    entries: list[dict[str, Any]] = [{"fullUrl": patient, "resource": {
        "resourceType": "Patient", "id": "p1", "name": [{"family": "Doe", "given": ["Ann"]}],
        "gender": "female", "birthDate": "1970-01-01"},
        "request": {"method": "POST", "url": "Patient"}}]
    entries.append({"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000002", "resource": {
        "resourceType": "DiagnosticReport", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "57698-3",
                             "display": "Lipid panel with direct LDL - Serum or Plasma"}]},
        "subject": {"reference": patient}, "effectiveDateTime": "2020-01-01T10:00:00+00:00",
        "issued": "2020-01-01T10:00:00.000+00:00"},
        "request": {"method": "POST", "url": "DiagnosticReport"}})
    for n in range(5):
        entries.append({"fullUrl": f"urn:uuid:00000000-0000-4000-8000-00000000001{n}",
                        "resource": {
                            "resourceType": "ImagingStudy", "status": "available",
                            "identifier": [{"system": "urn:dicom:uid",
                                            "value": f"urn:oid:1.2.840.99999999.{n}"}],
                            "subject": {"reference": patient},
                            "started": f"201{n}-01-01T10:00:00+00:00"},
                        "request": {"method": "POST", "url": "ImagingStudy"}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def test_a_synthea_like_history_is_not_turned_into_a_brain_mri_report(tmp_path: Path) -> None:
    source = tmp_path / "synthea.json"
    source.write_text(json.dumps(_synthea_like_bundle()))
    result = icans("convert", source, "--to", "sr", "-o", tmp_path / "o.dcm")
    assert result.returncode == 1, text(result)
    assert b"nothing written" in result.stderr
    assert b"ambiguous-source" in result.stderr and b"5 ImagingStudies" in result.stderr
    assert not (tmp_path / "o.dcm").exists()


def test_a_radiology_report_without_icans_findings_needs_allow_empty(tmp_path: Path) -> None:
    report = load_case(CASE.read_bytes()).model_copy(
        update={"findings": (), "assessment": None, "icans_grade": None})
    source = tmp_path / "plain.json"
    source.write_text(fhir.write_json(report))
    refused = icans("convert", source, "--to", "sr", "-o", tmp_path / "o.dcm")
    assert refused.returncode == 1 and b"no ICANS content" in refused.stderr
    assert not (tmp_path / "o.dcm").exists()
    allowed = icans("convert", source, "--to", "sr", "-o", tmp_path / "o.dcm", "--allow-empty")
    assert allowed.returncode == 0, text(allowed)
    assert dicom.read(tmp_path / "o.dcm").report == report


def test_an_unknown_procedure_is_not_replaced_by_the_default(tmp_path: Path) -> None:
    bundle = json.loads(fhir.write_json(load_case(CASE.read_bytes())))
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] in ("DiagnosticReport", "ImagingStudy", "ServiceRequest"):
            for element in ("code", "procedureCode"):
                if element in resource:
                    resource[element] = {"coding": [{"system": "http://loinc.org",
                                                     "code": "36801-9",
                                                     "display": "MR Knee"}]} \
                        if element == "code" else [{"coding": [{
                            "system": "http://loinc.org", "code": "36801-9"}]}]
    source = tmp_path / "knee.json"
    source.write_text(json.dumps(bundle))
    result = icans("convert", source, "--to", "sr", "-o", tmp_path / "o.dcm")
    assert result.returncode == 1, text(result)
    assert b"would-invent" in result.stderr
    assert not (tmp_path / "o.dcm").exists()


# --- identity survives a resend ----------------------------------------------------------------


def test_the_same_report_twice_is_one_instance_and_a_revision_a_new_one(tmp_path: Path) -> None:
    from pydicom import dcmread

    case = json.loads(CASE.read_text())
    first, second = tmp_path / "a.dcm", tmp_path / "b.dcm"
    fa, fb = tmp_path / "a.json", tmp_path / "b.json"
    assert icans("report", CASE, "--sr", first, "--fhir", fa).returncode == 0
    assert icans("report", CASE, "--sr", second, "--fhir", fb).returncode == 0
    assert dcmread(first).SOPInstanceUID == dcmread(second).SOPInstanceUID
    assert fa.read_bytes() == fb.read_bytes()
    revised = tmp_path / "rev.json"
    revised.write_text(json.dumps({**case, "revision": 2, "status": "amended"}))
    third = tmp_path / "c.dcm"
    assert icans("report", revised, "--sr", third).returncode == 0
    a, c = dcmread(first), dcmread(third)
    assert c.SOPInstanceUID != a.SOPInstanceUID
    assert c.SeriesInstanceUID == a.SeriesInstanceUID
    assert dicom.read(third).report.findings == dicom.read(first).report.findings  # same UIDs


def test_uid_root_puts_the_sites_root_on_the_instance(tmp_path: Path) -> None:
    from pydicom import dcmread

    out = tmp_path / "r.dcm"
    result = icans("report", CASE, "--sr", out, "--uid-root", "1.2.826.0.1.3680043.10.1412")
    assert result.returncode == 0, text(result)
    assert dcmread(out).SOPInstanceUID.startswith("1.2.826.0.1.3680043.10.1412.")
    bad = icans("report", CASE, "--sr", out, "--uid-root", "1.02.3")
    assert bad.returncode == 2 and b"--uid-root" in bad.stderr


# --- other producers' records: none is turned into an ICANS report ---------------------------


_EXAMPLES = (Path(__file__).resolve().parent.parent / "tools" / "fhir-examples" / "node_modules"
             / "hl7.fhir.r4.examples")
#: Why a record of another producer may be refused: never silently converted.
_REASONS = frozenset({"no-icans-content", "would-invent", "ambiguous-source", "unreadable"})


def _refusal(data: bytes, kind: Any) -> set[str]:
    """The codes of the errors that stop converting ``data`` (fails if it converts)."""
    from icans_interop import conversion

    try:
        conversion.convert(data, kind, "fhir" if kind == "sr" else "sr")
    except conversion.OutputRejected as rejected:
        return {i.code for i in rejected.issues if i.severity == "error"}
    raise AssertionError("converted a record without ICANS content")


@pytest.mark.parametrize("name", sorted(corpus_sr.SCENARIOS))
def test_highdicom_srs_are_refused_with_a_reason(name: str) -> None:
    oracles.require_module("highdicom")
    reasons = _refusal(corpus_sr.build(name), "sr")
    assert "no-icans-content" in reasons, reasons


@pytest.mark.parametrize("name", corpus_sr.DCMQI_SCENARIOS)
def test_dcmqi_srs_are_refused_with_a_reason(name: str) -> None:
    oracles.require(None if corpus_sr.dcmqi_writer() else "dcmqi's tid1500writer not installed")
    reasons = _refusal(corpus_sr.build_dcmqi(name), "sr")
    assert "no-icans-content" in reasons, reasons


def _hl7_reports() -> list[Path]:
    if not _EXAMPLES.is_dir():
        return []
    return sorted(p for p in _EXAMPLES.glob("*.json")
                  if p.name.startswith(("DiagnosticReport-", "Bundle-"))
                  and b'"DiagnosticReport"' in p.read_bytes())


def test_hl7_examples_with_reports_are_present() -> None:
    oracles.require(None if _hl7_reports() else
                    "hl7.fhir.r4.examples not installed in tools/fhir-examples (.ci/run)")
    assert len(_hl7_reports()) >= 20


@pytest.mark.parametrize("path", _hl7_reports(), ids=lambda p: p.stem)
def test_hl7_example_reports_are_refused_with_a_reason(path: Path) -> None:
    reasons = _refusal(path.read_bytes(), "fhir")
    assert reasons & _REASONS, reasons


def test_convert_reads_the_source_once_and_lists_each_issue_once() -> None:
    """The icans validators read the source into the model; conversion uses that reading
    instead of reading again, so a reader issue is listed once (it was listed twice, once
    with and once without its template row), and the output is the same."""
    from icans_interop import conversion
    from icans_interop.validation.sr import validate_sr

    ds = test_sr_defects.base_dataset()
    _path, site = test_sr_defects.find(ds, "363698007")
    site.ConceptCodeSequence[0].CodeValue = "999999999"  # a finding site we do not know
    data = test_sr_defects.encode(ds)
    with pytest.raises(conversion.OutputRejected, match="cannot be converted") as refused:
        conversion.convert(data, "sr", "fhir")
    keys = [(i.code, i.location) for i in refused.value.issues]
    assert len(keys) == len(set(keys)), keys
    assert [i.code for i in refused.value.issues if i.severity == "warning"] == ["unknown-code"]
    assert {(i.code, i.location) for i in validate_sr(data).issues} <= set(keys)
