"""Write an :class:`~icans_interop.model.ImagingReport` as a DICOM SR (TID 1500) Dataset.

The document is built directly with pydicom (items from :mod:`.content`): no highdicom at run
time, no deep copies. The content tree follows the layout tables of :mod:`.layout` (which also
holds the field-by-field encoding table); :func:`write` wraps it in the SR Document header
modules. Values DICOM cannot carry raise :class:`~.values.EncodingError` before anything is
built (:mod:`.checks`); :func:`.codec.to_bytes` encodes the result.

Header decisions: Study ID (0020,0010), which the model lacks but dciodvfy wants for
DICOMDIRs, is the accession number (else ``"1"``). An absent study time stays empty (Type 2):
dciodvfy then warns that a DICOMDIR would need it; inventing a time would break the round
trip. The character set is declared (ISO_IR 192) only when some text is not ASCII.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Final, NamedTuple

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import UID, ExplicitVRLittleEndian

from icans_interop import fields, terminology
from icans_interop.dicom import content as c
from icans_interop.dicom import tags
from icans_interop.dicom.checks import check_report, check_uid, report_strings
from icans_interop.dicom.codec import IMPLEMENTATION_UID, IMPLEMENTATION_VERSION
from icans_interop.dicom.layout import (
    DEVICE_OBSERVER_UID,
    LANGUAGE,
    MANUFACTURER,
    TEMPLATE_ID,
    name,
)
from icans_interop.dicom.sopclasses import sop_class_uid
from icans_interop.dicom.values import (
    EncodingError,
    dicom_offset,
    format_date,
    format_datetime,
    format_person_name,
    format_time,
    patient_name,
)
from icans_interop.model import (
    ICE_ITEMS,
    Finding,
    ImagingReport,
    NeuroAssessment,
    report_uids,
)


class SourceImage(NamedTuple):
    """A reference to one image the findings were made on (TID 1600 entry + evidence)."""

    study_uid: str
    series_uid: str
    sop_class_uid: str
    sop_instance_uid: str


@lru_cache(maxsize=1)
def _software_version() -> str:
    try:
        from importlib.metadata import version

        return version("icans-interop")
    except Exception:  # not installed as a distribution (source checkout)
        return "unknown"


# --------------------------------------------------------------------------------------------
# Templates (the content tree)


def _finding_group(finding: Finding) -> Dataset:
    """TID 1501 Measurement and Qualitative Evaluation Group for one finding."""
    items: list[Dataset] = []
    if finding.tracking_id is not None:
        items.append(c.text(c.HAS_OBS_CONTEXT, name("tracking_identifier"), finding.tracking_id))
    if finding.tracking_uid is not None:
        items.append(c.uidref(c.HAS_OBS_CONTEXT, name("tracking_uid"), finding.tracking_uid))
    items.append(c.code(c.CONTAINS, name("finding"), c.concept_code(finding.pattern)))
    laterality = (None if finding.laterality is None
                  else c.concept_code(finding.laterality))
    for site in finding.sites:
        modifiers = None
        if laterality is not None:
            modifiers = [c.code(c.HAS_CONCEPT_MOD, name("laterality"), laterality)]
        items.append(c.code(c.HAS_CONCEPT_MOD, name("finding_site"), c.concept_code(site),
                            children=modifiers))
    for signal in finding.signals:
        items.append(c.code(c.CONTAINS, c.concept_code(signal.sequence),
                            c.concept_code(signal.signal)))
    for field, name_key, _role, repeats in fields.FINDING_QUALIFIERS:
        value = getattr(finding, field)
        for key in (value if repeats else (() if value is None else (value,))):
            items.append(c.code(c.CONTAINS, name(name_key), c.concept_code(key)))
    if laterality is not None and not finding.sites:
        items.append(c.code(c.CONTAINS, name("laterality"), laterality))
    return c.container(name("measurement_group"), items,
                       observation_uid=finding.observation_uid)


def _assessment_items(assessment: NeuroAssessment) -> list[Dataset]:
    """The neuro assessment as TID 1500 rows 13/14 items (ICE items as TEXT integers)."""
    when = (None if assessment.assessed_at is None
            else format_datetime(assessment.assessed_at))
    items: list[Dataset] = []
    if assessment.ice is not None:
        for field, key, _max in ICE_ITEMS:
            items.append(c.text(c.CONTAINS, name(key), str(getattr(assessment.ice, field)),
                                observation_datetime=when))
        items.append(c.text(c.CONTAINS, name(fields.ICE_SCORE_KEY), str(assessment.ice.total),
                            observation_datetime=when))
    for field, name_key, _role, repeats in fields.ASSESSMENT_DOMAINS:
        value = getattr(assessment, field)
        for key in (value if repeats else (value,)):
            items.append(c.code(c.CONTAINS, name(name_key), c.concept_code(key),
                                observation_datetime=when))
    signs = name(fields.SIGNS_KEY)
    concepts = terminology.load()
    for key in assessment.signs:
        concept = concepts.concept(key)
        if concept.has_dicom_coding():
            items.append(c.code(c.CONTAINS, signs, c.concept_code(key),
                                observation_datetime=when))
        else:
            items.append(c.text(c.CONTAINS, signs, concept.label, observation_datetime=when))
    return items


def _qualitative_evaluations(report: ImagingReport) -> Dataset | None:
    """TID 1500 row 12 container with the impression, grade and assessment (or None)."""
    items: list[Dataset] = []
    if report.impression is not None:
        items.append(c.text(c.CONTAINS, name("impression"), report.impression))
    if report.icans_grade is not None:
        items.append(c.code(c.CONTAINS, name(fields.GRADE_KEY),
                            c.concept_code(fields.grade_value_key(report.icans_grade))))
    if report.assessment is not None:
        items.extend(_assessment_items(report.assessment))
    if not items:
        return None
    return c.container(name("qualitative_evaluations"), items)


def _observer_context(report: ImagingReport) -> list[Dataset]:
    """TID 1001 -> 1002 with 1003 (person) or 1004 (this software as device observer)."""
    if report.observer_name is not None:
        return [c.code(c.HAS_OBS_CONTEXT, name("observer_type"), name("person")),
                c.pname(c.HAS_OBS_CONTEXT, name("person_observer_name"),
                        format_person_name(report.observer_name))]
    return [c.code(c.HAS_OBS_CONTEXT, name("observer_type"), name("device")),
            c.uidref(c.HAS_OBS_CONTEXT, name("device_observer_uid"), DEVICE_OBSERVER_UID),
            c.text(c.HAS_OBS_CONTEXT, name("device_observer_name"), MANUFACTURER)]


def _image_library(images: list[SourceImage]) -> Dataset:
    """TID 1600: Image Library -> one Image Library Group -> one IMAGE item per image."""
    entries = [c.image(c.CONTAINS, i.sop_class_uid, i.sop_instance_uid) for i in images]
    return c.container(name("image_library"),
                       [c.container(name("image_library_group"), entries)])


def document_content(report: ImagingReport, images: list[SourceImage]) -> Dataset:
    """The TID 1500 root CONTAINER with its whole content tree."""
    items = [c.code(c.HAS_CONCEPT_MOD, name("language"), LANGUAGE)]
    items.extend(_observer_context(report))
    items.append(c.code(c.HAS_CONCEPT_MOD, name("procedure_reported"),
                        c.concept_code(report.procedure)))
    if images:
        items.append(_image_library(images))
    items.append(c.container(name("imaging_measurements"),
                             [_finding_group(f) for f in report.findings]))
    evaluations = _qualitative_evaluations(report)
    if evaluations is not None:
        items.append(evaluations)
    return c.container(name("imaging_measurement_report"), items, rel=None,
                       template=TEMPLATE_ID)


# --------------------------------------------------------------------------------------------
# Modules (the header around the tree)


def _source_image(value: Any) -> SourceImage:
    if isinstance(value, SourceImage):
        image = value
    else:
        try:
            image = SourceImage(str(value.StudyInstanceUID), str(value.SeriesInstanceUID),
                                str(value.SOPClassUID), str(value.SOPInstanceUID))
        except AttributeError as exc:
            raise EncodingError(f"source image lacks a UID attribute: {exc}") from exc
    for field, uid in zip(SourceImage._fields, image, strict=True):
        check_uid(f"source image {field}", uid)
    return image


def _evidence(images: Iterable[SourceImage]) -> list[Dataset]:
    """Hierarchical SOP Instance Reference Macro items (PS3.3 Table C.17-3), by study/series."""
    tree: dict[str, dict[str, list[SourceImage]]] = {}
    for image in images:
        tree.setdefault(image.study_uid, {}).setdefault(image.series_uid, []).append(image)
    studies = []
    for study_uid, series in tree.items():
        series_items = [c.dataset(
            c.element(tags.SERIES_INSTANCE_UID, "UI", series_uid),
            c.element(tags.REFERENCED_SOP_SEQUENCE, "SQ", Sequence([c.dataset(
                c.element(tags.REFERENCED_SOP_CLASS_UID, "UI", i.sop_class_uid),
                c.element(tags.REFERENCED_SOP_INSTANCE_UID, "UI", i.sop_instance_uid),
            ) for i in members])),
        ) for series_uid, members in series.items()]
        studies.append(c.dataset(
            c.element(tags.STUDY_INSTANCE_UID, "UI", study_uid),
            c.element(tags.REFERENCED_SERIES_SEQUENCE, "SQ", Sequence(series_items)),
        ))
    return studies


def _tree_facts(root: Dataset) -> tuple[set[str], bool]:
    """Coding scheme designators used in the content tree, and whether all meanings are ASCII."""
    schemes: set[str] = set()
    ascii_only = True
    stack = [root]
    while stack:
        item = stack.pop()
        for tag in (tags.CONCEPT_NAME_CODE_SEQUENCE, tags.CONCEPT_CODE_SEQUENCE):
            elem = item.get(tag)
            if elem is not None:
                code_item = elem.value[0]
                schemes.add(code_item[tags.CODING_SCHEME_DESIGNATOR].value)
                ascii_only = ascii_only and code_item[tags.CODE_MEANING].value.isascii()
        elem = item.get(tags.CONTENT_SEQUENCE)
        if elem is not None:
            stack.extend(elem.value)
    return schemes, ascii_only


def _coding_scheme_identification() -> Dataset:
    """Declaration of the private scheme 99ICANS (PS3.3 Table C.12-1, 8.2)."""
    return c.dataset(
        c.element(tags.CODING_SCHEME_DESIGNATOR, "SH", terminology.LOCAL_SCHEME),
        c.element(tags.CODING_SCHEME_UID, "UI", terminology.LOCAL_SCHEME_UID),
        c.element(tags.CODING_SCHEME_NAME, "ST", terminology.LOCAL_SCHEME_NAME),
        c.element(tags.CODING_SCHEME_RESPONSIBLE_ORGANIZATION, "ST",
                  terminology.LOCAL_SCHEME_RESPONSIBLE),
    )


#: Report status -> (Completion Flag, Verification Flag) (PS3.3 C.17.2.1).
_FLAGS: Final = {"preliminary": ("COMPLETE", "UNVERIFIED"), "final": ("COMPLETE", "VERIFIED"),
                 "amended": ("COMPLETE", "VERIFIED")}


def _status_elements(report: ImagingReport, class_uid: str, series_uid: str,
                     uid_root: str | None) -> list[DataElement]:
    """Completion/Verification Flags, the verifying observer and, for an amendment, the
    revision it replaces (Predecessor Documents Sequence)."""
    flags = _FLAGS.get(report.status)
    if flags is None:
        raise EncodingError(f"a {report.status} report has no DICOM SR form (an SR is "
                            "preliminary, final or amended)")
    if report.status == "amended" and report.revision < 2:
        raise EncodingError("an amended SR names the revision it replaces (Predecessor "
                            "Documents Sequence): give the amendment revision 2 or later")
    elements = [c.element(tags.COMPLETION_FLAG, "CS", flags[0]),
                c.element(tags.VERIFICATION_FLAG, "CS", flags[1])]
    verifier = report.verifying_observer
    if flags[1] == "VERIFIED" and verifier is None:
        raise EncodingError(f"a {report.status} report is a VERIFIED SR, which needs the "
                            "verifying observer (Verifying Observer Sequence, Type 1C); give "
                            "verifying_observer or write it as preliminary")
    if flags[1] == "VERIFIED" and verifier is not None:
        if verifier.organization is None:
            raise EncodingError(f"a {report.status} SR needs the verifying observer's "
                                "organization (Verifying Organization is Type 1 in the SR "
                                "Document General module)")
        elements.append(c.element(tags.VERIFYING_OBSERVER_SEQUENCE, "SQ", Sequence([c.dataset(
            c.element(tags.VERIFYING_OBSERVER_NAME, "PN", format_person_name(verifier.name)),
            c.element(tags.VERIFYING_OBSERVER_IDENTIFICATION_CODE_SEQUENCE, "SQ", Sequence()),
            c.element(tags.VERIFYING_ORGANIZATION, "LO", verifier.organization),
            c.element(tags.VERIFICATION_DATETIME, "DT", format_datetime(report.issued)),
        )])))
    if report.revision > 1:
        previous = report.model_copy(update={"revision": report.revision - 1})
        _series, previous_uid = report_uids(previous, class_uid, uid_root)
        elements.append(c.element(tags.PREDECESSOR_DOCUMENTS_SEQUENCE, "SQ", Sequence(
            _evidence([SourceImage(report.study.instance_uid, series_uid, class_uid,
                                   previous_uid)]))))
    return elements


def _issuer_qualifiers(system: str) -> DataElement:
    """Issuer of Patient ID Qualifiers: the identifier namespace as a Universal Entity ID
    (an ``urn:oid:`` system as its ISO OID, any other URI as a URI; PS3.3 C.7.1.1)."""
    oid = system.removeprefix("urn:oid:")
    entity, kind = (oid, "ISO") if oid != system else (system, "URI")
    return c.element(tags.ISSUER_OF_PATIENT_ID_QUALIFIERS_SEQUENCE, "SQ", Sequence([c.dataset(
        c.element(tags.UNIVERSAL_ENTITY_ID, "UT", entity),
        c.element(tags.UNIVERSAL_ENTITY_ID_TYPE, "CS", kind),
    )]))


def write(report: ImagingReport, *, sop_class: str = "comprehensive-3d",
          source_images: Iterable[Any] | None = None, uid_root: str | None = None,
          other_evidence: Iterable[Any] | None = None) -> Dataset:
    """The report as a new SR Dataset (with file meta, ready for ``dcmwrite``).

    ``sop_class`` is ``"comprehensive-3d"`` (default), ``"enhanced"`` or ``"comprehensive"``.
    ``source_images`` are pydicom Datasets (or :class:`SourceImage` s) of the images the
    findings were made on: they are listed in an Image Library (TID 1600) and in the Current
    Requested Procedure Evidence Sequence (images of other studies go to Pertinent Other
    Evidence). ``other_evidence`` (same forms) are instances the findings were not made on
    but which the author deliberately cites: they go to the Pertinent Other Evidence
    Sequence only, not to the Image Library. The Series and SOP Instance UIDs are derived
    from the report's identity and revision (:func:`~icans_interop.model.report_uids`, under
    ``uid_root`` when given), so writing one report twice gives one instance. Raises
    :class:`EncodingError` for values DICOM cannot carry and ``ValueError`` for an unknown
    ``sop_class`` or ``uid_root``; the report itself is never modified.
    """
    class_uid = sop_class_uid(sop_class)
    check_report(report)
    images = [_source_image(i) for i in source_images or ()]
    cited = [_source_image(i) for i in other_evidence or ()]
    root = document_content(report, images)
    series_uid, instance_uid = report_uids(report, class_uid, uid_root)
    patient, study = report.patient, report.study
    issued, offset = dicom_offset(report.issued)
    procedure = c.concept_code(report.procedure)
    elements = [
        c.element(tags.SOP_CLASS_UID, "UI", class_uid),
        c.element(tags.SOP_INSTANCE_UID, "UI", instance_uid),
        c.element(tags.STUDY_DATE, "DA", format_date(study.date)),
        c.element(tags.CONTENT_DATE, "DA", format_date(issued.date())),
        c.element(tags.STUDY_TIME, "TM", "" if study.time is None else format_time(study.time)),
        c.element(tags.CONTENT_TIME, "TM", format_time(issued.time())),
        c.element(tags.ACCESSION_NUMBER, "SH", study.accession_number or ""),
        c.element(tags.MODALITY, "CS", "SR"),
        c.element(tags.MANUFACTURER, "LO", MANUFACTURER),
        c.element(tags.REFERRING_PHYSICIAN_NAME, "PN",
                  format_person_name(study.referring_physician or "")),
        c.element(tags.TIMEZONE_OFFSET_FROM_UTC, "SH", offset),
        c.element(tags.REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE, "SQ", Sequence()),
        c.element(tags.PATIENT_NAME, "PN", patient_name(report.patient)),
        c.element(tags.PATIENT_ID, "LO", patient.id),
        c.element(tags.PATIENT_BIRTH_DATE, "DA",
                  "" if patient.birth_date is None else format_date(patient.birth_date)),
        c.element(tags.PATIENT_SEX, "CS", patient.sex or ""),
        c.element(tags.SOFTWARE_VERSIONS, "LO", _software_version()),
        c.element(tags.STUDY_INSTANCE_UID, "UI", study.instance_uid),
        c.element(tags.SERIES_INSTANCE_UID, "UI", series_uid),
        c.element(tags.STUDY_ID, "SH", study.accession_number or "1"),
        c.element(tags.SERIES_NUMBER, "IS", "1"),
        c.element(tags.INSTANCE_NUMBER, "IS", str(report.revision)),
        *_status_elements(report, class_uid, series_uid, uid_root),
        c.code_sequence(tags.PERFORMED_PROCEDURE_CODE_SEQUENCE, procedure),
    ]
    if patient.id_issuer is not None:
        elements.append(c.element(tags.ISSUER_OF_PATIENT_ID, "LO", patient.id_issuer))
    if patient.id_system is not None:
        elements.append(_issuer_qualifiers(patient.id_system))
    if study.description is not None:
        elements.append(c.element(tags.STUDY_DESCRIPTION, "LO", study.description))
    if images or cited:
        current = [i for i in images if i.study_uid == study.instance_uid]
        other = [i for i in images if i.study_uid != study.instance_uid] + cited
        if current:
            elements.append(c.element(tags.CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE, "SQ",
                                      Sequence(_evidence(current))))
        if other:
            elements.append(c.element(tags.PERTINENT_OTHER_EVIDENCE_SEQUENCE, "SQ",
                                      Sequence(_evidence(other))))
    schemes, ascii_codes = _tree_facts(root)
    if terminology.LOCAL_SCHEME in schemes:
        elements.append(c.element(tags.CODING_SCHEME_IDENTIFICATION_SEQUENCE, "SQ",
                                  Sequence([_coding_scheme_identification()])))
    if not (ascii_codes and all(value.isascii() for value in report_strings(report))):
        elements.append(c.element(tags.SPECIFIC_CHARACTER_SET, "CS", "ISO_IR 192"))
    mapping: dict[BaseTag, DataElement | RawDataElement] = {e.tag: e for e in elements}
    for root_element in root:
        mapping[root_element.tag] = root_element
    ds = Dataset(mapping)
    ds.file_meta = _file_meta(class_uid, instance_uid)
    return ds


def _file_meta(class_uid: str, instance_uid: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(class_uid)
    meta.MediaStorageSOPInstanceUID = UID(instance_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID(IMPLEMENTATION_UID)
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    return meta
