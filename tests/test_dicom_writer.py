"""dicom.write: the SR passes dciodvfy, follows the TID 1500/1501 rows, fills the modules."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from pydicom import Dataset, dcmread, dcmwrite
from pydicom.dataelem import DataElement
from pydicom.uid import ImplicitVRLittleEndian

try:
    import oracles
except ImportError:  # tests/ imported as a package
    from tests import oracles  # type: ignore[no-redef]

from icans_interop import dicom, terminology
from icans_interop.dicom import content as c
from icans_interop.dicom import writer as w
from icans_interop.dicom.part10 import DicomCode
from icans_interop.model import ImagingReport, load_case

FIXTURES = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "valid").glob("*.json"))
SOP_CLASSES = {"comprehensive-3d": ("1.2.840.10008.5.1.4.1.1.88.34", "Comprehensive3DSR"),
               "enhanced": ("1.2.840.10008.5.1.4.1.1.88.22", "EnhancedSR"),
               "comprehensive": ("1.2.840.10008.5.1.4.1.1.88.33", "ComprehensiveSR")}
#: dciodvfy wants a Study Time for DICOMDIRs; a report without one leaves it empty (Type 2)
#: rather than inventing a time. This is the only warning tolerated, and only then.
STUDY_TIME_WARNING = ("Warning - Missing attribute or value that would be needed to build "
                      "DICOMDIR - Study Time")


def _case(path: Path) -> ImagingReport:
    return load_case(path.read_bytes())


def _example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURES[0].read_text("utf-8"))
    return data


def _report(**changes: Any) -> ImagingReport:
    data = _example()
    for dotted, value in changes.items():
        target = data
        *parents, leaf = dotted.split("__")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return ImagingReport.model_validate(data)


def _dciodvfy_problems(data: bytes, report: ImagingReport, iod: str) -> list[str]:
    oracles.require(oracles.skip_reason_dciodvfy())
    result = oracles.run_dciodvfy_on_bytes(data)
    # dciodvfy names the IOD first, unless a warning about the file as a whole comes first
    assert iod in (result.iod, *result.other), result.raw
    allowed = {STUDY_TIME_WARNING} if report.study.time is None else set()
    warnings = oracles.unexpected_warnings(result, terminology.LOCAL_SCHEME,
                                           terminology.LOCAL_SCHEME_UID)
    return result.errors + [x for x in warnings if x not in allowed]


def _by_name(items: list[Dataset], key: str) -> list[Dataset]:
    code = c.concept_code(key)
    return [i for i in items if i.ConceptNameCodeSequence[0].CodeValue == code.value
            and i.ConceptNameCodeSequence[0].CodingSchemeDesignator == code.scheme]


def _one(items: list[Dataset], key: str) -> Dataset:
    found = _by_name(items, key)
    assert len(found) == 1, key
    return found[0]


def test_there_are_fixtures() -> None:
    assert FIXTURES


# ---------------------------------------------------------------------------------------------
# dciodvfy


@pytest.mark.parametrize("sop_class", SOP_CLASSES)
@pytest.mark.parametrize("case", FIXTURES, ids=lambda p: p.stem)
def test_dciodvfy_reports_nothing(case: Path, sop_class: str, tmp_path: Path) -> None:
    """dcmwrite(enforce_file_format=True) output: no errors, no warnings but 99ICANS's."""
    report = _case(case)
    target = tmp_path / "sr.dcm"
    dcmwrite(target, dicom.write(report, sop_class=sop_class), enforce_file_format=True)
    assert _dciodvfy_problems(target.read_bytes(), report, SOP_CLASSES[sop_class][1]) == []


@pytest.mark.parametrize("sop_class", SOP_CLASSES)
@pytest.mark.parametrize("case", FIXTURES, ids=lambda p: p.stem)
def test_dciodvfy_on_our_encoder(case: Path, sop_class: str) -> None:
    """The direct encoder of ``dicom.to_bytes`` is just as clean."""
    report = _case(case)
    data = dicom.to_bytes(dicom.write(report, sop_class=sop_class))
    assert _dciodvfy_problems(data, report, SOP_CLASSES[sop_class][1]) == []


def _images(report: ImagingReport, other_study: bool = True) -> list[Dataset]:
    images = []
    for index in range(3):
        image = Dataset()
        image.StudyInstanceUID = ("1.2.826.0.1.3680043.10.1412.77" if other_study and index == 2
                                  else report.study.instance_uid)
        image.SeriesInstanceUID = f"1.2.826.0.1.3680043.10.1412.5.{index // 2}"
        image.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
        image.SOPInstanceUID = f"1.2.826.0.1.3680043.10.1412.6.{index}"
        images.append(image)
    return images


@pytest.mark.parametrize("sop_class", SOP_CLASSES)
def test_dciodvfy_with_source_images(sop_class: str) -> None:
    report = _case(FIXTURES[0])
    ds = dicom.write(report, sop_class=sop_class, source_images=_images(report))
    assert _dciodvfy_problems(dicom.to_bytes(ds), report, SOP_CLASSES[sop_class][1]) == []


@pytest.mark.parametrize("changes", [
    {"patient__family_name": "山田", "patient__given_name": "太郎", "observer_name": "Иванов"},
    {"patient__given_name": None, "observer_name": "Rita", "study__referring_physician": "Smith"},
    {"patient__family_name": None, "patient__given_name": None, "observer_name": None,
     "study__accession_number": None, "study__description": None, "assessment": None,
     "impression": None, "icans_grade": None},
    {"findings": [], "assessment": None, "impression": None, "icans_grade": None},
], ids=["unicode", "single-component-names", "sparse", "empty"])
def test_dciodvfy_on_variants(changes: dict[str, Any]) -> None:
    report = _report(**changes)
    for sop_class, (_uid, iod) in SOP_CLASSES.items():
        data = dicom.to_bytes(dicom.write(report, sop_class=sop_class))
        assert _dciodvfy_problems(data, report, iod) == [], sop_class


# ---------------------------------------------------------------------------------------------
# Modules


def test_header_modules() -> None:
    report = _case(FIXTURES[0])
    ds = dicom.write(report)
    assert ds.SOPClassUID == SOP_CLASSES["comprehensive-3d"][0]
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.Modality == "SR"
    assert ds.Manufacturer == "icans-interop"
    assert ds.PatientID == report.patient.id
    assert ds.IssuerOfPatientID == report.patient.id_issuer
    assert str(ds.PatientName) == f"{report.patient.family_name}^{report.patient.given_name}"
    assert ds.StudyInstanceUID == report.study.instance_uid
    assert ds.AccessionNumber == report.study.accession_number
    assert ds.StudyID == report.study.accession_number
    assert ds.StudyDate == w.format_date(report.study.date)
    assert ds.CompletionFlag == "COMPLETE"
    assert report.status == "final" and report.verifying_observer is not None
    assert ds.VerificationFlag == "VERIFIED"
    verifier = ds.VerifyingObserverSequence[0]
    assert str(verifier.VerifyingObserverName) == report.verifying_observer.name
    assert verifier.VerifyingOrganization == report.verifying_observer.organization
    assert verifier.VerificationDateTime == w.format_datetime(report.issued)
    assert ds.SeriesNumber == 1 and ds.InstanceNumber == 1
    assert ds.ReferencedPerformedProcedureStepSequence == []
    procedure = c.concept_code(report.procedure)
    assert ds.PerformedProcedureCodeSequence[0].CodeValue == procedure.value
    # issued 2026-11-03T16:05:00+01:00
    assert (ds.ContentDate, ds.ContentTime, ds.TimezoneOffsetFromUTC) == (
        "20261103", "160500", "+0100")
    assert "SpecificCharacterSet" not in ds  # all ASCII
    assert "CurrentRequestedProcedureEvidenceSequence" not in ds


def test_one_report_is_one_instance_and_a_revision_is_a_new_one() -> None:
    """Resending a report must not duplicate it in a PACS: its UIDs are derived from the
    report's identity, revision and SOP Class; an amendment keeps the series."""
    report = _case(FIXTURES[0])
    first, second = dicom.write(report), dicom.write(report)
    assert first.SOPInstanceUID == second.SOPInstanceUID
    assert first.SeriesInstanceUID == second.SeriesInstanceUID
    assert first.SOPInstanceUID.startswith("2.25.")
    revised = dicom.write(report.model_copy(update={"revision": 2, "status": "amended"}))
    assert revised.SOPInstanceUID != first.SOPInstanceUID
    assert revised.SeriesInstanceUID == first.SeriesInstanceUID
    assert revised.InstanceNumber == 2
    predecessor = revised.PredecessorDocumentsSequence[0]
    assert predecessor.ReferencedSeriesSequence[0].ReferencedSOPSequence[0] \
        .ReferencedSOPInstanceUID == first.SOPInstanceUID
    assert [f.tracking_uid for f in dicom.read(revised)[0].findings] == \
        [f.tracking_uid for f in report.findings]
    enhanced = dicom.write(report, sop_class="enhanced")
    assert enhanced.SOPInstanceUID != first.SOPInstanceUID
    rooted = dicom.write(report, uid_root="1.2.826.0.1.3680043.10.999")
    assert rooted.SOPInstanceUID.startswith("1.2.826.0.1.3680043.10.999.")
    assert len(rooted.SOPInstanceUID) <= 64
    with pytest.raises(ValueError, match="UID root"):
        dicom.write(report, uid_root="1.02.3")


def test_unicode_sets_utf8() -> None:
    ds = dicom.write(_report(patient__family_name="山田", patient__given_name="Zoë"))
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    back = dcmread(io.BytesIO(dicom.to_bytes(ds)))
    assert str(back.PatientName) == "山田^Zoë"


def test_private_scheme_declared_only_when_used() -> None:
    ds = dicom.write(_case(FIXTURES[0]))
    (declaration,) = ds.CodingSchemeIdentificationSequence
    assert declaration.CodingSchemeDesignator == terminology.LOCAL_SCHEME
    assert declaration.CodingSchemeUID == terminology.LOCAL_SCHEME_UID
    assert declaration.CodingSchemeName == terminology.LOCAL_SCHEME_NAME
    assert declaration.CodingSchemeResponsibleOrganization == terminology.LOCAL_SCHEME_RESPONSIBLE
    standard_only = _report(findings=[{"pattern": "hemorrhage", "sites": ["thalamus"]}],
                            assessment=None, icans_grade=None)
    assert "CodingSchemeIdentificationSequence" not in dicom.write(standard_only)


def test_source_images_evidence_and_library() -> None:
    report = _case(FIXTURES[0])
    images = _images(report)
    ds = dicom.write(report, source_images=images)
    (current,) = ds.CurrentRequestedProcedureEvidenceSequence
    assert current.StudyInstanceUID == report.study.instance_uid
    refs = [r.ReferencedSOPInstanceUID for s in current.ReferencedSeriesSequence
            for r in s.ReferencedSOPSequence]
    assert refs == [images[0].SOPInstanceUID, images[1].SOPInstanceUID]
    (other,) = ds.PertinentOtherEvidenceSequence
    assert other.StudyInstanceUID == images[2].StudyInstanceUID
    library = _one(list(ds.ContentSequence), "image_library")
    group = _one(list(library.ContentSequence), "image_library_group")
    assert [(i.ValueType, i.ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
            for i in group.ContentSequence] == [("IMAGE", i.SOPInstanceUID) for i in images]
    as_tuples = dicom.write(report, source_images=[
        dicom.SourceImage(i.StudyInstanceUID, i.SeriesInstanceUID, i.SOPClassUID,
                          i.SOPInstanceUID) for i in images])
    assert as_tuples.PertinentOtherEvidenceSequence == ds.PertinentOtherEvidenceSequence


# ---------------------------------------------------------------------------------------------
# Content tree (TID 1500 / 1501 / 1001 / 1204 rows)


def test_tid_1500_root() -> None:
    ds = dicom.write(_case(FIXTURES[0]))
    assert ds.ValueType == "CONTAINER"
    assert ds.ContinuityOfContent == "SEPARATE"
    assert ds.ConceptNameCodeSequence[0].CodeValue == "126000"
    template = ds.ContentTemplateSequence[0]
    assert (template.MappingResource, template.TemplateIdentifier) == ("DCMR", "1500")
    items = list(ds.ContentSequence)
    language = _one(items, "language")
    assert language.RelationshipType == "HAS CONCEPT MOD"
    assert (language.ConceptCodeSequence[0].CodeValue,
            language.ConceptCodeSequence[0].CodingSchemeDesignator) == ("en-US", "RFC5646")
    observer_type = _one(items, "observer_type")
    assert observer_type.RelationshipType == "HAS OBS CONTEXT"
    assert observer_type.ConceptCodeSequence[0].CodeValue == "121006"
    person = _one(items, "person_observer_name")
    assert (person.ValueType, str(person.PersonName)) == ("PNAME", "Radiologist^Rita")
    procedure = _one(items, "procedure_reported")
    assert procedure.RelationshipType == "HAS CONCEPT MOD"
    assert procedure.ConceptCodeSequence[0].CodingSchemeDesignator == "LN"
    measurements = _one(items, "imaging_measurements")
    assert measurements.RelationshipType == "CONTAINS"
    evaluations = _one(items, "qualitative_evaluations")
    assert (evaluations.ConceptNameCodeSequence[0].CodeValue,
            evaluations.ConceptNameCodeSequence[0].CodingSchemeDesignator) == ("C0034375", "UMLS")


def test_device_observer_without_observer_name() -> None:
    items = list(dicom.write(_report(observer_name=None)).ContentSequence)
    assert _one(items, "observer_type").ConceptCodeSequence[0].CodeValue == "121007"
    assert _one(items, "device_observer_uid").UID == w.DEVICE_OBSERVER_UID
    assert _one(items, "device_observer_name").TextValue == "icans-interop"
    assert not _by_name(items, "person_observer_name")


def test_tid_1501_group() -> None:
    report = _case(FIXTURES[0])
    finding = report.findings[0]
    ds = dicom.write(report)
    measurements = _one(list(ds.ContentSequence), "imaging_measurements")
    group = measurements.ContentSequence[0]
    assert group.ObservationUID == finding.observation_uid
    items = list(group.ContentSequence)
    tracking = _one(items, "tracking_identifier")
    assert (tracking.RelationshipType, tracking.ValueType, tracking.TextValue) == (
        "HAS OBS CONTEXT", "TEXT", finding.tracking_id)
    uid = _one(items, "tracking_uid")
    assert (uid.RelationshipType, uid.ValueType, uid.UID) == (
        "HAS OBS CONTEXT", "UIDREF", finding.tracking_uid)
    pattern = _one(items, "finding")
    assert pattern.RelationshipType == "CONTAINS"  # TID 1501 row 3b
    assert pattern.ConceptCodeSequence[0].CodeValue == c.concept_code(finding.pattern).value
    sites = _by_name(items, "finding_site")
    assert [s.ConceptCodeSequence[0].CodeValue for s in sites] == [
        c.concept_code(k).value for k in finding.sites]
    for site in sites:
        assert site.RelationshipType == "HAS CONCEPT MOD"  # row 6
        (laterality,) = site.ContentSequence  # row 7, under each site
        assert laterality.RelationshipType == "HAS CONCEPT MOD"
        assert laterality.ConceptCodeSequence[0].CodeValue == "51440002"
    signals = [i for i in items if i.ConceptNameCodeSequence[0].CodeValue in ("110805",
                                                                             "SEQ-FLAIR")]
    assert [(s.RelationshipType, s.ConceptCodeSequence[0].CodeValue) for s in signals] == [
        ("CONTAINS", "RID35805"), ("CONTAINS", "RID35805")]
    distribution = _one(items, "distribution_descriptor")
    assert distribution.RelationshipType == "CONTAINS"
    assert distribution.ConceptCodeSequence[0].CodeValue == "QUAL-SYM"


def test_laterality_without_sites_is_a_qualitative_evaluation() -> None:
    ds = dicom.write(_report(findings=[{"pattern": "hemorrhage", "laterality": "left",
                                        "number": "multiple", "morphology": "punctate"}]))
    group = _one(list(ds.ContentSequence), "imaging_measurements").ContentSequence[0]
    items = list(group.ContentSequence)
    laterality = _one(items, "laterality")
    assert (laterality.RelationshipType, laterality.ConceptCodeSequence[0].CodeValue) == (
        "CONTAINS", "7771000")
    assert _one(items, "number_of_lesions").ConceptCodeSequence[0].CodeValue == "255204007"
    assert _one(items, "lesion_morphology").ConceptCodeSequence[0].CodeValue == "QUAL-PUNCT"


def test_assessment_items() -> None:
    report = _case(FIXTURES[0])
    assert report.assessment is not None and report.assessment.ice is not None
    ds = dicom.write(report)
    items = list(_one(list(ds.ContentSequence), "qualitative_evaluations").ContentSequence)
    assert all(i.RelationshipType == "CONTAINS" and i.ValueType in ("CODE", "TEXT")
               for i in items)  # TID 1500 rows 13/14 only
    assert _one(items, "impression").TextValue == report.impression
    grade = _one(items, "icans_grade")
    assert grade.ConceptCodeSequence[0].CodeValue == f"ICANS-G{report.icans_grade}"
    assert "ObservationDateTime" not in grade
    naming = _one(items, "ice_naming")
    assert (naming.ValueType, naming.TextValue) == ("TEXT", str(report.assessment.ice.naming))
    assert naming.ObservationDateTime == "20261103090000+0100"
    assert _one(items, "ice_score").TextValue == str(report.assessment.ice.total)
    consciousness = _one(items, "level_of_consciousness")
    assert consciousness.ConceptCodeSequence[0].CodeValue == "LOC-VOICE"
    signs = _by_name(items, "clinical_signs_observed")
    coded = {s.ConceptCodeSequence[0].CodeValue for s in signs if s.ValueType == "CODE"}
    texts = {s.TextValue for s in signs if s.ValueType == "TEXT"}
    assert coded == {"26079004"}  # tremor has an SCT code
    assert texts == {"Expressive aphasia", "Confusion"}  # HPO-only signs: their labels


# ---------------------------------------------------------------------------------------------
# Values DICOM cannot carry, options


@pytest.mark.parametrize(("changes", "message"), [
    ({"patient__id": "MRN\\1"}, r"patient\.id .*backslash"),
    ({"patient__family_name": "Doe^Smith"}, r"patient\.family_name .*'\^'"),
    ({"study__accession_number": "検査番号検査番号"}, r"accession_number .*16 bytes"),
    ({"study__time": "14:32:00+01:00"}, r"study\.time .*UTC offset"),
    ({"impression": "bad\x00text"}, r"impression .*control character"),
    ({"observer_name": "山" * 30 + "^" + "田" * 10}, r"observer_name .*64 bytes"),
])
def test_values_dicom_cannot_carry(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(dicom.EncodingError, match=message):
        dicom.write(_report(**changes))


def test_unknown_sop_class() -> None:
    with pytest.raises(ValueError, match="unknown SR SOP class 'basic'"):
        dicom.write(_case(FIXTURES[0]), sop_class="basic")


def test_bad_source_image() -> None:
    with pytest.raises(dicom.EncodingError, match="source image lacks a UID"):
        dicom.write(_case(FIXTURES[0]), source_images=[Dataset()])


def test_long_meanings_and_codes() -> None:
    long = c.fit_lo("Unarousable or requires vigorous or repetitive tactile stimuli to arouse; "
                    "stupor or coma")
    assert len(long.encode()) <= 64 and long.endswith("...")
    item = c.code_sequence_item(DicomCode("X" * 20, "99ICANS", "m"))
    assert item.LongCodeValue == "X" * 20 and "CodeValue" not in item


# ---------------------------------------------------------------------------------------------
# Serialisation and sharing


@pytest.mark.parametrize("case", FIXTURES, ids=lambda p: p.stem)
def test_our_encoder_matches_dcmwrite(case: Path) -> None:
    ds = dicom.write(_report(patient__family_name="山田") if case == FIXTURES[0]
                     else _case(case))
    ours = dcmread(io.BytesIO(dicom.to_bytes(ds)))
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    theirs = dcmread(io.BytesIO(buffer.getvalue()))
    assert ours == theirs
    assert ours.file_meta.TransferSyntaxUID == theirs.file_meta.TransferSyntaxUID


def test_to_bytes_falls_back_to_dcmwrite() -> None:
    ds = dicom.write(_case(FIXTURES[0]))
    ds.add(DataElement(0x00280010, "US", 512))  # a VR the direct encoder does not write
    assert dcmread(io.BytesIO(dicom.to_bytes(ds))).Rows == 512
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    back = dcmread(io.BytesIO(dicom.to_bytes(ds)))
    assert back.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian


def test_documents_share_no_datasets() -> None:
    report = _case(FIXTURES[0])
    first = dicom.write(report)
    first.ContentSequence[0].ConceptNameCodeSequence[0].CodeMeaning = "changed"
    second = dicom.write(report)
    assert second.ContentSequence[0].ConceptNameCodeSequence[0].CodeMeaning == (
        "Language of Content Item and Descendants")
    assert c.concept_code("language").meaning == "Language of Content Item and Descendants"
