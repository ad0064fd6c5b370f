"""Self-checks of the oracles in ``oracles.py``: each must be able to FAIL, not only pass.

Every oracle gets a known-good input that it must accept and a minimally broken variant of
the same input that it must reject, so a silently broken install (a validator that accepts
everything) cannot make the rest of the suite look green.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    import oracles
except ImportError:  # tests/ imported as a package
    from tests import oracles  # type: ignore[no-redef]

import pydicom
from pydicom.dataset import Dataset, FileDataset

PRIVATE_SCHEME = "99ICANS"
PRIVATE_SCHEME_UID = "2.25.164349213427913127398311283471930827441"

CSD_WARNING = (
    "Warning - Unrecognized defined term <99ICANS> for value 1 of attribute "
    "<Coding Scheme Designator>"
)
CSD_UID_WARNING = (
    f"Warning - Unrecognized defined term <{PRIVATE_SCHEME_UID}> for value 1 of attribute "
    "<Coding Scheme UID>"
)


# ---------------------------------------------------------------------------------------------
# A small, valid Comprehensive 3D SR (TID 1500 Measurement Report) built with highdicom, using
# codes of a private coding scheme declared in the Coding Scheme Identification Sequence.


def build_sr(*, declare_scheme: bool = True, second_private_scheme: bool = False) -> Dataset:
    hd_sr = oracles.require_module("highdicom.sr")
    from pydicom.sr.codedict import codes
    from pydicom.sr.coding import Code
    from pydicom.uid import MRImageStorage, generate_uid

    source = Dataset()  # stands for the MR image the findings were read from
    source.SOPClassUID = MRImageStorage
    source.SOPInstanceUID = generate_uid()
    source.StudyInstanceUID = generate_uid()
    source.SeriesInstanceUID = generate_uid()
    source.PatientID = "ICANS-0001"
    source.PatientName = "Test^Patient"
    source.PatientBirthDate = "19700101"
    source.PatientSex = "O"
    source.StudyID = "1"
    source.AccessionNumber = "A0001"
    source.StudyDate = "20240101"
    source.StudyTime = "120000"
    source.ReferringPhysicianName = "Ref^Doc"
    source.Modality = "MR"

    evaluations = [
        hd_sr.QualitativeEvaluation(
            Code("ICANS-F1", PRIVATE_SCHEME, "Cerebral edema"),
            Code("ICANS-V1", PRIVATE_SCHEME, "Present"),
        )
    ]
    if second_private_scheme:
        evaluations.append(
            hd_sr.QualitativeEvaluation(
                Code("X-1", "99OTHER", "Undeclared finding"), Code("X-2", "99OTHER", "Present")
            )
        )
    group = hd_sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd_sr.TrackingIdentifier(
            uid=generate_uid(), identifier="ICANS finding 1"
        ),
        qualitative_evaluations=evaluations,
    )
    observer = hd_sr.ObservationContext(
        observer_person_context=hd_sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd_sr.PersonObserverIdentifyingAttributes(
                name="Doe^Jane"
            ),
        )
    )
    report = hd_sr.MeasurementReport(
        observation_context=observer,
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=[group],
    )
    document: Dataset = hd_sr.Comprehensive3DSR(
        evidence=[source],
        content=report,
        series_instance_uid=generate_uid(),
        series_number=1,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="ICANS interop tests",
    )
    if declare_scheme:
        item = Dataset()
        item.CodingSchemeDesignator = PRIVATE_SCHEME
        item.CodingSchemeUID = PRIVATE_SCHEME_UID
        item.CodingSchemeName = "ICANS private codes"
        item.CodingSchemeResponsibleOrganization = "ICANS interop project"
        document.CodingSchemeIdentificationSequence = [item]
    return document


def to_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def write(ds: Dataset, path: Path) -> Path:
    path.write_bytes(to_bytes(ds))
    return path


@pytest.fixture
def valid_sr() -> Dataset:
    return build_sr()


# ---------------------------------------------------------------------------------------------
# Skip locally, fail in CI.


def test_require_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    oracles.require(None)  # available: nothing happens
    with pytest.raises(pytest.skip.Exception, match="frobnicator not installed"):
        oracles.require("frobnicator not installed")


def test_require_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="oracle unavailable in CI: frobnicator"):
        oracles.require("frobnicator not installed")


# ---------------------------------------------------------------------------------------------
# dciodvfy


@pytest.fixture
def dciodvfy() -> None:
    oracles.require(oracles.skip_reason_dciodvfy())


@pytest.mark.usefixtures("dciodvfy")
def test_dciodvfy_accepts_valid_sr(valid_sr: Dataset, tmp_path: Path) -> None:
    result = oracles.run_dciodvfy(write(valid_sr, tmp_path / "valid.dcm"))
    assert result.iod == "Comprehensive3DSR", result.raw
    assert result.errors == [], result.raw
    assert result.returncode == 0
    # What dciodvfy says about a private scheme declared in the Coding Scheme Identification
    # Sequence: one CSD warning per code using it (2 here) plus one for the declaration item,
    # and one for the declared Coding Scheme UID. Nothing else.
    assert sorted(result.warnings) == sorted([CSD_WARNING] * 3 + [CSD_UID_WARNING]), result.raw
    assert oracles.unexpected_warnings(result, PRIVATE_SCHEME) == []


@pytest.mark.usefixtures("dciodvfy")
def test_dciodvfy_reports_missing_type1_attribute(valid_sr: Dataset, tmp_path: Path) -> None:
    del valid_sr.CompletionFlag  # Type 1 in the SR Document General Module
    result = oracles.run_dciodvfy(write(valid_sr, tmp_path / "broken.dcm"))
    assert result.errors == [
        "Error - Missing attribute Type 1 Required Element=<CompletionFlag> "
        "Module=<SRDocumentGeneral>"
    ], result.raw
    assert result.returncode == 1
    assert not result.ok


@pytest.mark.usefixtures("dciodvfy")
def test_dciodvfy_reports_bad_enumerated_value(valid_sr: Dataset, tmp_path: Path) -> None:
    valid_sr.ContentSequence[0].ValueType = "BOGUS"
    result = oracles.run_dciodvfy(write(valid_sr, tmp_path / "broken.dcm"))
    expected = "Error - Unrecognized enumerated value <BOGUS> for value 1 of attribute <Value Type>"
    assert expected in result.errors, result.raw


@pytest.mark.usefixtures("dciodvfy")
def test_dciodvfy_hand_built_sr_missing_type1(tmp_path: Path) -> None:
    """A minimal Comprehensive SR written with pydicom alone, without Value Type (Type 1)."""
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    meta = pydicom.dataset.FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.88.33")  # Comprehensive SR
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(tmp_path / "hand.dcm"), Dataset(), file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "SR"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "A^B", "1", "", ""
    ds.StudyDate, ds.StudyTime, ds.ReferringPhysicianName = "20240101", "120000", ""
    ds.StudyID, ds.AccessionNumber, ds.SeriesNumber, ds.InstanceNumber = "1", "", 1, 1
    ds.Manufacturer = ""
    ds.ContentDate, ds.ContentTime = "20240101", "120000"
    ds.CompletionFlag, ds.VerificationFlag = "PARTIAL", "UNVERIFIED"
    ds.ReferencedPerformedProcedureStepSequence = []
    ds.PerformedProcedureCodeSequence = []
    ds.ContinuityOfContent = "SEPARATE"
    title = Dataset()
    title.CodeValue, title.CodingSchemeDesignator, title.CodeMeaning = (
        "126000",
        "DCM",
        ("Imaging Measurement Report"),
    )
    ds.ConceptNameCodeSequence = [title]
    text = Dataset()
    text.RelationshipType = "CONTAINS"
    text.ValueType = "TEXT"
    name = Dataset()
    name.CodeValue, name.CodingSchemeDesignator, name.CodeMeaning = "121071", "DCM", "Finding"
    text.ConceptNameCodeSequence = [name]
    text.TextValue = "no acute abnormality"
    ds.ContentSequence = [text]
    good = tmp_path / "hand-good.dcm"
    ds.ValueType = "CONTAINER"
    ds.save_as(good, enforce_file_format=True)
    assert oracles.run_dciodvfy(good).errors == []

    del ds.ValueType
    bad = tmp_path / "hand-bad.dcm"
    ds.save_as(bad, enforce_file_format=True)
    result = oracles.run_dciodvfy(bad)
    assert any("Type 1 Required Element=<ValueType>" in e for e in result.errors), result.raw


@pytest.mark.usefixtures("dciodvfy")
def test_unexpected_warnings_keeps_other_private_schemes(tmp_path: Path) -> None:
    ds = build_sr(second_private_scheme=True)
    result = oracles.run_dciodvfy(write(ds, tmp_path / "other.dcm"))
    assert result.errors == [], result.raw
    leftover = oracles.unexpected_warnings(result, PRIVATE_SCHEME)
    assert (
        leftover
        == [
            "Warning - Unrecognized defined term <99OTHER> for value 1 of attribute "
            "<Coding Scheme Designator>"
        ]
        * 2
    )


def test_unexpected_warnings_filter_is_exact() -> None:
    result = oracles.DciodvfyResult(
        path="/nonexistent.dcm",
        returncode=0,
        raw="",
        iod="Comprehensive3DSR",
        warnings=[
            CSD_WARNING,
            CSD_UID_WARNING,
            # same text, other designator / attribute: must survive
            "Warning - Unrecognized defined term <99ICANSX> for value 1 of attribute "
            "<Coding Scheme Designator>",
            "Warning - Unrecognized defined term <99ICANS> for value 1 of attribute <Modality>",
            "Warning - Unrecognized defined term <2.25.1> for value 1 of attribute "
            "<Coding Scheme UID>",
            "Warning - Attribute is not present in standard DICOM IOD - (0x0008,0x0102) SH "
            "Coding Scheme Designator",
        ],
    )
    leftover = oracles.unexpected_warnings(result, PRIVATE_SCHEME, scheme_uid=PRIVATE_SCHEME_UID)
    assert leftover == result.warnings[2:]


def test_run_dciodvfy_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"absent\.dcm"):
        oracles.run_dciodvfy(tmp_path / "absent.dcm")


# ---------------------------------------------------------------------------------------------
# Medplum FHIR R4 validator

VALID_OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "icans-grade",
    "status": "final",
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "imaging",
                }
            ]
        }
    ],
    "code": {"coding": [{"system": "http://loinc.org", "code": "18782-3"}], "text": "MRI finding"},
    "subject": {"reference": "Patient/p1"},
    "effectiveDateTime": "2024-01-01T12:00:00Z",
    "valueQuantity": {
        "value": 3,
        "unit": "mm",
        "system": "http://unitsofmeasure.org",
        "code": "mm",
    },
}


@pytest.fixture
def medplum() -> None:
    oracles.require(oracles.skip_reason_medplum())


@pytest.mark.usefixtures("medplum")
def test_medplum_accepts_valid_observation() -> None:
    assert oracles.medplum_validate([VALID_OBSERVATION]) == []


@pytest.mark.usefixtures("medplum")
def test_medplum_reports_missing_required_elements() -> None:
    broken = copy.deepcopy(VALID_OBSERVATION)
    broken["id"] = "no-status"
    del broken["status"], broken["code"]
    assert oracles.medplum_validate([broken]) == [
        "Observation/no-status: Observation.status: Missing required property",
        "Observation/no-status: Observation.code: Missing required property",
    ]


@pytest.mark.usefixtures("medplum")
def test_medplum_reports_required_binding_violations() -> None:
    broken = copy.deepcopy(VALID_OBSERVATION)
    broken["status"] = "bogus"
    broken["valueQuantity"]["comparator"] = "~"
    errors = oracles.medplum_validate([broken])
    assert errors == [
        'Observation/icans-grade: Observation.status: code "bogus" is not in required value set '
        "http://hl7.org/fhir/ValueSet/observation-status|4.0.1",
        'Observation/icans-grade: Observation.value[x].comparator: code "~" is not in required '
        "value set http://hl7.org/fhir/ValueSet/quantity-comparator|4.0.1",
    ]


@pytest.mark.usefixtures("medplum")
def test_medplum_checks_bundle_entries() -> None:
    broken = copy.deepcopy(VALID_OBSERVATION)
    broken["status"] = "bogus"
    entry: dict[str, Any] = {
        "fullUrl": "urn:uuid:6f1c1d1e-8a55-4a38-9f53-2c0f9b1e0a01",
        "resource": broken,
    }
    bundle: dict[str, Any] = {"resourceType": "Bundle", "id": "b1", "type": "collection"}
    bundle["entry"] = [entry]
    errors = oracles.medplum_validate([bundle])
    assert len(errors) == 1, errors
    assert errors[0].startswith(
        'Bundle/b1 entry[0] Observation/icans-grade: Observation.status: code "bogus"'
    )
    entry["resource"] = VALID_OBSERVATION
    assert oracles.medplum_validate([bundle]) == []


@pytest.mark.usefixtures("medplum")
def test_medplum_reports_unknown_property_and_resource_type() -> None:
    extra = copy.deepcopy(VALID_OBSERVATION)
    extra["grade"] = 3
    errors = oracles.medplum_validate([extra, {"resourceType": "Nonsense", "id": "n"}])
    assert errors == [
        'Observation/icans-grade: Observation.grade: Invalid additional property "grade"',
        "Nonsense/n: Invalid resource type",
    ]


# ---------------------------------------------------------------------------------------------
# Orthanc


@pytest.fixture(scope="module")
def orthanc() -> Iterator[oracles.OrthancServer]:
    oracles.require(oracles.orthanc_skip_reason())
    with oracles.OrthancServer() as server:
        yield server


def test_orthanc_round_trip_is_byte_identical(orthanc: oracles.OrthancServer) -> None:
    # Orthanc keeps the file received over REST as is (StorageCompression off, no ingest
    # transcoding configured): the same bytes come back, file meta information included.
    original = to_bytes(build_sr())
    returned = orthanc.store_and_fetch(original)
    assert returned == original


def test_orthanc_cstore_keeps_dataset(orthanc: oracles.OrthancServer, tmp_path: Path) -> None:
    # Over C-STORE the data set arrives byte for byte, but DCMTK (inside Orthanc) writes a new
    # File Meta Information header: Implementation Class UID 1.2.276.0.7230010.3.0.3.6.7 and
    # Implementation Version Name OFFIS_DCMTK_367 replace the sender's (Orthanc 1.10.1 on
    # Debian 12), so only the data set, not the file, can be compared.
    oracles.require_module("pynetdicom")
    ds = build_sr()
    path = write(ds, tmp_path / "cstore.dcm")
    before = set(orthanc.instances())
    assert orthanc.store_via_cstore(path) == "0x0000"
    (new_id,) = set(orthanc.instances()) - before
    returned = pydicom.dcmread(io.BytesIO(orthanc.fetch(new_id)))
    assert returned == pydicom.dcmread(path)
    assert returned.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID


def test_orthanc_rejects_non_dicom(orthanc: oracles.OrthancServer) -> None:
    with pytest.raises(oracles.OracleError, match=r"rejected the instance \(HTTP 400\)"):
        orthanc.store(b"this is not a DICOM file")
