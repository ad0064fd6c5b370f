"""Write an :class:`~icans_interop.model.ImagingReport` as a DICOM SR (TID 1500) Dataset.

The document is built directly with pydicom (see :mod:`.content`): no highdicom at run time,
no deep copies. Every item follows a row of PS3.16 TID 1500/1501/1001/1204/1600 as recorded in
``shared/reference/dicom-templates.md``; items the model does not have are not written.

Encoding, one row per model field (r = template row; IG = HL7 dicom-sr IG 1.0.0 mapping):

| Model field | SR encoding | dicom-sr IG / FHIR |
|---|---|---|
| `patient.id` | Patient ID (0010,0020) | Observation.subject → Patient.identifier |
| `patient.id_issuer` | Issuer of Patient ID (0010,0021) | Patient.identifier.system / assigner |
| `patient.family_name`, `.given_name` | Patient's Name (0010,0010) `Family^Given` | Patient.name.family / .given |
| `patient.birth_date` | Patient's Birth Date (0010,0030) | Patient.birthDate |
| `patient.sex` | Patient's Sex (0010,0040) M / F / O | Patient.gender |
| `study.instance_uid` | Study Instance UID (0020,000D) | Observation.partOf → ImagingStudy.identifier (urn:dicom:uid, type DCM 110180) |
| `study.accession_number` | Accession Number (0008,0050); also Study ID (0020,0010), else "1" | Observation.basedOn → ServiceRequest.identifier (v2-0203 ACSN) |
| `study.date`, `study.time` | Study Date (0008,0020), Study Time (0008,0030) | ImagingStudy.started |
| `study.description` | Study Description (0008,1030) | ImagingStudy.description |
| `study.referring_physician` | Referring Physician's Name (0008,0090) | ImagingStudy.referrer |
| `issued` | Content Date (0008,0023) + Content Time (0008,0033) + Timezone Offset From UTC (0008,0201) | Observation.issued (IG: Observation DateTime, which defaults to Content Date/Time) |
| `procedure` | TID 1500 r4 HAS CONCEPT MOD CODE (121058, DCM, "Procedure reported") = LOINC code; also Performed Procedure Code Sequence (0040,A372) | ImagingStudy.procedure (R5) / procedureCode (R4) |
| `observer_name` | TID 1002 r1 HAS OBS CONTEXT CODE (121005, DCM, "Observer Type") = (121006, DCM, "Person"); TID 1003 r1 HAS OBS CONTEXT PNAME (121008, DCM, "Person Observer Name") | Observation.performer → Practitioner (dicom-participant-person) |
| `observer_name` absent | TID 1002 r1 Observer Type = (121007, DCM, "Device"); TID 1004 r1 UIDREF (121012, DCM, "Device Observer UID") = fixed icans-interop UID, r2 TEXT (121013, DCM, "Device Observer Name") = "icans-interop" | Observation.device → Device (dicom-general-equipment) |
| `findings[i]` | TID 1500 r6 CONTAINS CONTAINER (126010, DCM, "Imaging Measurements") → r9 TID 1501 r1 CONTAINS CONTAINER (125007, DCM, "Measurement Group"), one per finding, in order | Observation imaging-measurement-group (category DCM 125007) |
| `findings[i].observation_uid` | Observation UID (0040,A171) of the Measurement Group CONTAINER | Observation.identifier[observationUID] (urn:dicom:uid) |
| `findings[i].tracking_id` | TID 1501 r2 HAS OBS CONTEXT TEXT (112039, DCM, "Tracking Identifier") | BodyStructure tracking identifiers (Observation.focus[trackingIdentifiers]) |
| `findings[i].tracking_uid` | TID 1501 r3 HAS OBS CONTEXT UIDREF (112040, DCM, "Tracking Unique Identifier") | idem, identifier system urn:dicom:uid |
| `findings[i].pattern` | TID 1501 r3b CONTAINS CODE (121071, DCM, "Finding") = pattern concept | Observation.valueCodeableConcept |
| `findings[i].sites[j]` | TID 1501 r6 HAS CONCEPT MOD CODE (363698007, SCT, "Finding Site"), one item per site, in order | Observation.bodySite (no laterality) or .bodyStructure → BodyStructure (dicom-sr-finding-site) |
| `findings[i].laterality` | TID 1501 r7 HAS CONCEPT MOD CODE (272741003, SCT, "Laterality") under each Finding Site; with no site: r11 CONTAINS CODE (272741003, SCT, "Laterality") in the group | BodyStructure.includedStructure.laterality |
| `findings[i].signals[j]` | TID 1501 r11 CONTAINS CODE, concept name = sequence concept (e.g. (110805, DCM, "T2 Weighted MR Signal Intensity"), (SEQ-FLAIR, 99ICANS)), value = signal (e.g. (RID35805, RADLEX, "Hyperintense")) | hasMember → imaging-qualitative-evaluation: code = sequence, valueCodeableConcept = signal |
| `findings[i].distribution[j]` | TID 1501 r11 CONTAINS CODE (112006, DCM, "Distribution Descriptor") = e.g. (19648000, SCT, "Diffuse"), (QUAL-SYM, 99ICANS) | qualitative evaluation, code DCM 112006 |
| `findings[i].number` | TID 1501 r11 CONTAINS CODE (246206008, SCT, "Number of lesions") = e.g. (255204007, SCT, "Multiple") | qualitative evaluation, code SCT 246206008 |
| `findings[i].morphology` | TID 1501 r11 CONTAINS CODE (122133, DCM, "Lesion Morphology") = e.g. (QUAL-PUNCT, 99ICANS, "Punctate") | qualitative evaluation, code DCM 122133 |
| `impression` | TID 1500 r12 CONTAINS CONTAINER (C0034375, UMLS, "Qualitative Evaluations") → r14 CONTAINS TEXT (121073, DCM, "Impression") | imaging-qualitative-evaluation (category UMLS C0034375), code DCM 121073, value from Text Value |
| `icans_grade` | r12 → r13 CONTAINS CODE (ICANS-GRADE, 99ICANS) = (ICANS-G0 … ICANS-G5, 99ICANS) | qualitative evaluation, code ICANS-GRADE |
| `assessment.ice.<item>` (8 items) | r12 → r14 CONTAINS TEXT (ICE-ORIENT-YEAR … ICE-ATTENTION, 99ICANS) = points as a decimal integer ("0" … "3") | qualitative evaluation, code ICE-*, value from Text Value |
| (ICE total, derived) | r14 CONTAINS TEXT (ICE-SCORE, 99ICANS) = "0" … "10"; the reader checks it against the items | qualitative evaluation, code ICE-SCORE |
| `assessment.consciousness` | r13 CONTAINS CODE (LOC, 99ICANS) = (LOC-*, 99ICANS) | qualitative evaluation, code LOC |
| `assessment.seizure` | r13 CONTAINS CODE (SEIZURE, 99ICANS) = (SZ-*, 99ICANS) | qualitative evaluation, code SEIZURE |
| `assessment.motor` | r13 CONTAINS CODE (MOTOR, 99ICANS) = (MOTOR-*, 99ICANS) | qualitative evaluation, code MOTOR |
| `assessment.icp_findings[j]` | r13 CONTAINS CODE (ICP-EDEMA, 99ICANS) = (ICP-*, 99ICANS), one item each | qualitative evaluation, code ICP-EDEMA |
| `assessment.signs[j]` | r13 CONTAINS CODE (SIGNS, 99ICANS) = the sign's DICOM code (SCT / DCM) where the mapping tables have one; otherwise r14 CONTAINS TEXT (SIGNS, 99ICANS) = the concept's label | qualitative evaluation, code SIGNS (FHIR adds the HPO / ICD-10-CM codings) |
| `assessment.assessed_at` | Observation DateTime (0040,A032), with offset, on every assessment item (ICE, LOC, SEIZURE, MOTOR, ICP-EDEMA, SIGNS) | Observation.issued of those qualitative evaluations (IG maps (0040,A032) to issued) |

Design decisions:

* **ICE item scores** are TEXT items holding the integer (``"2"``): TID 1500 rows 13/14 allow
  only CODE and TEXT in the Qualitative Evaluations container, no standard code exists for
  "n points", and a NUM item would leave the template (dciodvfy accepts TEXT; the reader
  parses it back with ``int`` and range-checks it against the model).
* **Clinical signs** without a DICOM coding (only HPO / ICD-10-CM rows, which have no DICOM
  designator in the tables) are written as TEXT with the concept's label; the reader maps the
  label (or the key) back. When the tables gain a DICOM coding for a sign, it is written as CODE
  automatically.
* **Presence of the assessment** is signalled by the LOC/SEIZURE/MOTOR items, which are always
  written when ``assessment`` is set (they have model defaults).
* **Language** (TID 1204) is ``(en-US, RFC5646, "English (United States)")``, as highdicom's
  default; RFC 5646 tags are not in pydicom's concept dictionaries, so the triple is the
  constant :data:`LANGUAGE` here rather than a mapping row.
* **Finding** is CONTAINS (TID 1501 row 3b, as the 2016 DocBook, DCMTK and highdicom have it);
  finding sites and laterality are HAS CONCEPT MOD (rows 6/7).
* Local codes use the private scheme ``99ICANS``, declared in the Coding Scheme Identification
  Sequence (0008,0110) with its UID, name and responsible organisation. Standard designators
  (DCM, SCT, LN, RADLEX, UMLS, RFC5646) are in PS3.16 Table 8-1 and need no declaration.
* Values DICOM cannot carry faithfully raise :class:`EncodingError` before anything is built
  (a backslash in a Patient ID, ``^`` inside a name part, SH/LO/PN values over their limit
  counted in UTF-8 bytes as dciodvfy counts them, control characters, an aware study time).
* Person names without a ``^`` get a trailing one (``Rita^``; dciodvfy calls a bare single
  component the retired PN form); the reader drops trailing delimiters again. Code Meanings
  longer than 64 bytes (a few local displays) are shortened at a word boundary.
* Study ID (0020,0010), which the model lacks but dciodvfy wants for DICOMDIRs, is the
  accession number (else ``"1"``). An absent study time stays empty (Type 2): dciodvfy then
  warns that a DICOMDIR would need it; inventing a time would break the round trip.
* :func:`to_bytes` encodes these Datasets directly (Explicit VR Little Endian, defined
  lengths), several times faster than ``dcmwrite``, which it falls back to for anything else.
"""  # noqa: E501

from __future__ import annotations

import datetime as dt
import re
import struct
from collections.abc import Iterable, Iterator
from functools import cache, lru_cache
from typing import Any, Final, NamedTuple

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from icans_interop import terminology
from icans_interop.dicom import content as c
from icans_interop.dicom.sopclasses import sop_class_uid
from icans_interop.model import (
    ICE_ITEMS,
    Finding,
    ImagingReport,
    NeuroAssessment,
    derived_uid,
)

# --------------------------------------------------------------------------------------------
# Layout tables: which concept carries which model field (the reader walks the same tables).

#: TID 1501 row 11 qualifiers: (Finding field, concept-name key, value role, repeats).
FINDING_QUALIFIERS: Final[tuple[tuple[str, str, str, bool], ...]] = (
    ("distribution", "distribution_descriptor", "distribution", True),
    ("number", "number_of_lesions", "number", False),
    ("morphology", "lesion_morphology", "morphology", False),
)
#: Coded assessment items (TID 1500 row 13): (NeuroAssessment field, name key, value role,
#: repeats).
ASSESSMENT_CODES: Final[tuple[tuple[str, str, str, bool], ...]] = (
    ("consciousness", "level_of_consciousness", "consciousness", False),
    ("seizure", "seizure_domain", "seizure_status", False),
    ("motor", "motor_domain", "motor_status", False),
    ("icp_findings", "icp_domain", "icp_finding", True),
)
#: Template concepts other producers write that the model has no field for (read: noted, skipped).
NOT_CARRIED: Final = frozenset({"topographical_modifier", "finding_category"})
SIGNS_KEY: Final = "clinical_signs_observed"
SIGN_ROLE: Final = "clinical_sign"
ICE_TOTAL_KEY: Final = "ice_score"
GRADE_KEY: Final = "icans_grade"
GRADE_ROLE: Final = "icans_grade_value"

#: TID 1204 language value (highdicom DEFAULT_LANGUAGE; PS3.16 CID 5000 uses RFC 5646 tags).
LANGUAGE: Final = c.DicomCode("en-US", "RFC5646", "English (United States)")
#: Device Observer UID (TID 1004 row 1) of this software: stable, derived from its name.
DEVICE_OBSERVER_UID: Final = derived_uid("icans-interop", "device-observer")
MANUFACTURER: Final = "icans-interop"
TEMPLATE_ID: Final = "1500"

#: Characters a value of that kind cannot carry: VR value separator, PN component/group
#: separators inside one name part, and C0/C1 control characters (text keeps TAB LF FF CR).
_PN_PART_FORBIDDEN = re.compile(r"[\\^=\x00-\x1f\x7f-\x9f]")
_PN_FORBIDDEN = re.compile(r"[\\\x00-\x1f\x7f-\x9f]")
_LO_FORBIDDEN = re.compile(r"[\\\x00-\x1f\x7f-\x9f]")
_TEXT_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


class EncodingError(ValueError):
    """A report value cannot be written as valid DICOM (nothing is produced)."""


class SourceImage(NamedTuple):
    """A reference to one image the findings were made on (TID 1600 entry + evidence)."""

    study_uid: str
    series_uid: str
    sop_class_uid: str
    sop_instance_uid: str


@cache
def name(key: str) -> c.DicomCode:
    """Concept-name code of a template concept (``mappings/sr-template.csv`` etc.)."""
    return c.concept_code(key)


@lru_cache(maxsize=1)
def grade_keys() -> dict[int, str]:
    """ICANS grade (0-5) -> concept key of role ``icans_grade_value`` (key ends in ``_<n>``)."""
    keys = {int(key.rsplit("_", 1)[1]): key for key in terminology.load().keys(GRADE_ROLE)}
    if sorted(keys) != list(range(6)):
        raise terminology.TerminologyError(f"{GRADE_ROLE} concepts must cover grades 0-5")
    return keys


@lru_cache(maxsize=1)
def _software_version() -> str:
    try:
        from importlib.metadata import version

        return version("icans-interop")
    except Exception:  # not installed as a distribution (source checkout)
        return "unknown"


# --------------------------------------------------------------------------------------------
# Value formatting and checks


def format_date(value: dt.date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def format_time(value: dt.time) -> str:
    text = f"{value.hour:02d}{value.minute:02d}{value.second:02d}"
    return f"{text}.{value.microsecond:06d}" if value.microsecond else text


def _dicom_offset(value: dt.datetime) -> tuple[dt.datetime, str]:
    """``value`` and its ``&ZZXX`` offset; offsets DICOM cannot write become UTC."""
    offset = value.utcoffset()
    assert offset is not None
    minutes, rest = divmod(offset, dt.timedelta(minutes=1))
    if rest or not -12 * 60 <= minutes <= 14 * 60:
        try:
            value, minutes = value.astimezone(dt.UTC), 0
        except OverflowError as exc:
            raise _fail("date-time", value.isoformat(), "outside years 1-9999 in UTC") from exc
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return value, f"{sign}{hours:02d}{mins:02d}"


def format_datetime(value: dt.datetime) -> str:
    """DT with explicit offset (``YYYYMMDDHHMMSS[.FFFFFF]&ZZXX``)."""
    value, offset = _dicom_offset(value)
    return format_date(value.date()) + format_time(value.time()) + offset


def _fail(field: str, value: str, why: str) -> EncodingError:
    return EncodingError(f"{field} {value!r} cannot be written to DICOM: {why}")


def _encoded_length(value: str) -> int:
    """Length in bytes as written (UTF-8 when not ASCII): dciodvfy and many readers check
    SH/LO/PN limits in bytes, so multi-byte text must fit the limit in bytes."""
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return len(value) * 4


def _check_lo(field: str, value: str | None, max_len: int = c.MAX_LO) -> None:
    if value is None:
        return
    if _LO_FORBIDDEN.search(value):
        raise _fail(field, value, "backslash or control character")
    if _encoded_length(value) > max_len:
        raise _fail(field, value, f"longer than {max_len} bytes (UTF-8)")


def _check_pn(field: str, value: str | None) -> None:
    if value is None:
        return
    if _PN_FORBIDDEN.search(value):
        raise _fail(field, value, "backslash or control character")
    if any(_encoded_length(group) > c.MAX_LO for group in person_name(value).split("=")):
        raise _fail(field, value, "a name component group is longer than 64 bytes (UTF-8)")


def person_name(value: str) -> str:
    """A PN value as written: a group without ``^`` gets one (``Rita`` -> ``Rita^``).

    dciodvfy flags a single-component name as the retired PN form; the trailing delimiter
    makes the component explicitly the family name. The reader drops trailing delimiters.
    """
    if "^" in value or not value:
        return value
    return "=".join(group + "^" if group and "^" not in group else group
                    for group in value.split("="))


def _check_text(field: str, value: str | None) -> None:
    if value is not None and _TEXT_FORBIDDEN.search(value):
        raise _fail(field, value, "control character")


def _check_uid(field: str, value: str) -> None:
    if len(value) > 64 or not _UID.match(value):
        raise _fail(field, value, "not a valid UID")


def patient_name(report: ImagingReport) -> str:
    """``Family^Given`` as written (``Family^`` without a given name; empty without both)."""
    family = report.patient.family_name or ""
    given = report.patient.given_name or ""
    return f"{family}^{given}" if family or given else ""


def _strings(report: ImagingReport) -> Iterator[str]:
    """Every free-text value of the report (for checks and the character set)."""
    patient, study = report.patient, report.study
    for value in (patient.id, patient.id_issuer, patient.family_name, patient.given_name,
                  study.accession_number, study.description, study.referring_physician,
                  report.impression, report.observer_name):
        if value is not None:
            yield value
    for finding in report.findings:
        if finding.tracking_id is not None:
            yield finding.tracking_id


def check_report(report: ImagingReport) -> None:
    """Raise :class:`EncodingError` for values DICOM cannot carry faithfully."""
    patient, study = report.patient, report.study
    _check_lo("patient.id", patient.id)
    _check_lo("patient.id_issuer", patient.id_issuer)
    for field, part in (("patient.family_name", patient.family_name),
                        ("patient.given_name", patient.given_name)):
        if part is not None and _PN_PART_FORBIDDEN.search(part):
            raise _fail(field, part, "'^', '=', backslash or control character in a name part")
    _check_pn("patient name", patient_name(report))
    _check_lo("study.accession_number", study.accession_number, 16)
    _check_lo("study.description", study.description)
    _check_pn("study.referring_physician", study.referring_physician)
    _check_pn("observer_name", report.observer_name)
    if study.time is not None and study.time.tzinfo is not None:
        raise _fail("study.time", study.time.isoformat(), "DICOM TM has no UTC offset")
    _check_text("impression", report.impression)
    for index, finding in enumerate(report.findings, start=1):
        _check_text(f"findings[{index}].tracking_id", finding.tracking_id)
    for value in _strings(report):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _fail("text", value, "not encodable as UTF-8") from exc


# --------------------------------------------------------------------------------------------
# Templates


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
    for field, name_key, _role, repeats in FINDING_QUALIFIERS:
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
        items.append(c.text(c.CONTAINS, name(ICE_TOTAL_KEY), str(assessment.ice.total),
                            observation_datetime=when))
    for field, name_key, _role, repeats in ASSESSMENT_CODES:
        value = getattr(assessment, field)
        for key in (value if repeats else (value,)):
            items.append(c.code(c.CONTAINS, name(name_key), c.concept_code(key),
                                observation_datetime=when))
    signs = name(SIGNS_KEY)
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
        items.append(c.code(c.CONTAINS, name(GRADE_KEY),
                            c.concept_code(grade_keys()[report.icans_grade])))
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
                        person_name(report.observer_name))]
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
# Modules


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
        _check_uid(f"source image {field}", uid)
    return image


def _evidence(images: Iterable[SourceImage]) -> list[Dataset]:
    """Hierarchical SOP Instance Reference Macro items (PS3.3 Table C.17-3), by study/series."""
    tree: dict[str, dict[str, list[SourceImage]]] = {}
    for image in images:
        tree.setdefault(image.study_uid, {}).setdefault(image.series_uid, []).append(image)
    studies = []
    for study_uid, series in tree.items():
        series_items = [c.dataset(
            c.element(c.SERIES_INSTANCE_UID, "UI", series_uid),
            c.element(c.REFERENCED_SOP_SEQUENCE, "SQ", Sequence([c.dataset(
                c.element(c.REFERENCED_SOP_CLASS_UID, "UI", i.sop_class_uid),
                c.element(c.REFERENCED_SOP_INSTANCE_UID, "UI", i.sop_instance_uid),
            ) for i in members])),
        ) for series_uid, members in series.items()]
        studies.append(c.dataset(
            c.element(c.STUDY_INSTANCE_UID, "UI", study_uid),
            c.element(c.REFERENCED_SERIES_SEQUENCE, "SQ", Sequence(series_items)),
        ))
    return studies


def _tree_facts(root: Dataset) -> tuple[set[str], bool]:
    """Coding scheme designators used in the content tree, and whether all meanings are ASCII."""
    schemes: set[str] = set()
    ascii_only = True
    stack = [root]
    while stack:
        item = stack.pop()
        for tag in (c.CONCEPT_NAME_CODE_SEQUENCE, c.CONCEPT_CODE_SEQUENCE):
            elem = item.get(tag)
            if elem is not None:
                code_item = elem.value[0]
                schemes.add(code_item[c.CODING_SCHEME_DESIGNATOR].value)
                ascii_only = ascii_only and code_item[c.CODE_MEANING].value.isascii()
        elem = item.get(c.CONTENT_SEQUENCE)
        if elem is not None:
            stack.extend(elem.value)
    return schemes, ascii_only


def _coding_scheme_identification() -> Dataset:
    """Declaration of the private scheme 99ICANS (PS3.3 Table C.12-1, 8.2)."""
    return c.dataset(
        c.element(c.CODING_SCHEME_DESIGNATOR, "SH", terminology.LOCAL_SCHEME),
        c.element(c.CODING_SCHEME_UID, "UI", terminology.LOCAL_SCHEME_UID),
        c.element(c.CODING_SCHEME_NAME, "ST", terminology.LOCAL_SCHEME_NAME),
        c.element(c.CODING_SCHEME_RESPONSIBLE_ORGANIZATION, "ST",
                  terminology.LOCAL_SCHEME_RESPONSIBLE),
    )


def write(report: ImagingReport, *, sop_class: str = "comprehensive-3d",
          source_images: Iterable[Any] | None = None) -> Dataset:
    """The report as a new SR Dataset (with file meta, ready for ``dcmwrite``).

    ``sop_class`` is ``"comprehensive-3d"`` (default), ``"enhanced"`` or ``"comprehensive"``.
    ``source_images`` are pydicom Datasets (or :class:`SourceImage` s) of the images the
    findings were made on: they are listed in an Image Library (TID 1600) and in the Current
    Requested Procedure Evidence Sequence (images of other studies go to Pertinent Other
    Evidence). Raises :class:`EncodingError` for values DICOM cannot carry and ``ValueError``
    for an unknown ``sop_class``; the report itself is never modified.
    """
    class_uid = sop_class_uid(sop_class)
    check_report(report)
    images = [_source_image(i) for i in source_images or ()]
    root = document_content(report, images)
    instance_uid = generate_uid()
    patient, study = report.patient, report.study
    issued, offset = _dicom_offset(report.issued)
    procedure = c.concept_code(report.procedure)
    elements = [
        c.element(c.SOP_CLASS_UID, "UI", class_uid),
        c.element(c.SOP_INSTANCE_UID, "UI", instance_uid),
        c.element(c.STUDY_DATE, "DA", format_date(study.date)),
        c.element(c.CONTENT_DATE, "DA", format_date(issued.date())),
        c.element(c.STUDY_TIME, "TM", "" if study.time is None else format_time(study.time)),
        c.element(c.CONTENT_TIME, "TM", format_time(issued.time())),
        c.element(c.ACCESSION_NUMBER, "SH", study.accession_number or ""),
        c.element(c.MODALITY, "CS", "SR"),
        c.element(c.MANUFACTURER, "LO", MANUFACTURER),
        c.element(c.REFERRING_PHYSICIAN_NAME, "PN",
                  person_name(study.referring_physician or "")),
        c.element(c.TIMEZONE_OFFSET_FROM_UTC, "SH", offset),
        c.element(c.REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE, "SQ", Sequence()),
        c.element(c.PATIENT_NAME, "PN", patient_name(report)),
        c.element(c.PATIENT_ID, "LO", patient.id),
        c.element(c.PATIENT_BIRTH_DATE, "DA",
                  "" if patient.birth_date is None else format_date(patient.birth_date)),
        c.element(c.PATIENT_SEX, "CS", patient.sex or ""),
        c.element(c.SOFTWARE_VERSIONS, "LO", _software_version()),
        c.element(c.STUDY_INSTANCE_UID, "UI", study.instance_uid),
        c.element(c.SERIES_INSTANCE_UID, "UI", generate_uid()),
        c.element(c.STUDY_ID, "SH", study.accession_number or "1"),
        c.element(c.SERIES_NUMBER, "IS", "1"),
        c.element(c.INSTANCE_NUMBER, "IS", "1"),
        c.element(c.COMPLETION_FLAG, "CS", "COMPLETE"),
        c.element(c.VERIFICATION_FLAG, "CS", "UNVERIFIED"),
        c.code_sequence(c.PERFORMED_PROCEDURE_CODE_SEQUENCE, procedure),
    ]
    if patient.id_issuer is not None:
        elements.append(c.element(c.ISSUER_OF_PATIENT_ID, "LO", patient.id_issuer))
    if study.description is not None:
        elements.append(c.element(c.STUDY_DESCRIPTION, "LO", study.description))
    if images:
        current = [i for i in images if i.study_uid == study.instance_uid]
        other = [i for i in images if i.study_uid != study.instance_uid]
        if current:
            elements.append(c.element(c.CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE, "SQ",
                                      Sequence(_evidence(current))))
        if other:
            elements.append(c.element(c.PERTINENT_OTHER_EVIDENCE_SEQUENCE, "SQ",
                                      Sequence(_evidence(other))))
    schemes, ascii_codes = _tree_facts(root)
    if terminology.LOCAL_SCHEME in schemes:
        elements.append(c.element(c.CODING_SCHEME_IDENTIFICATION_SEQUENCE, "SQ",
                                  Sequence([_coding_scheme_identification()])))
    if not (ascii_codes and all(value.isascii() for value in _strings(report))):
        elements.append(c.element(c.SPECIFIC_CHARACTER_SET, "CS", "ISO_IR 192"))
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



# --------------------------------------------------------------------------------------------
# Serialisation: a direct Explicit VR Little Endian encoder for the Datasets built above.
# pydicom's dcmwrite spends most of its time on generic work these documents do not need
# (ambiguous-VR correction per nested item, charset negotiation per element); anything this
# encoder does not know (other VRs, charsets, transfer syntaxes) falls back to dcmwrite.

_TEXT_VRS: Final = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH",
                              "ST", "TM", "UC", "UI", "UR", "UT"})
_LONG_LENGTH_VRS: Final = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN",
                                     "UR", "UT", "UV"})
_SHORT_HEADER: Final = struct.Struct("<HH2sH")
_LONG_HEADER: Final = struct.Struct("<HH2sHI")
_ITEM: Final = struct.Struct("<HHI")
_CODECS: Final = {"": "ascii", "ISO_IR 6": "ascii", "ISO_IR 192": "utf-8",
                  "ISO_IR 100": "latin-1"}
#: Implementation Class UID / Version Name written in the file meta of our files.
IMPLEMENTATION_UID: Final = derived_uid("icans-interop", "implementation")
IMPLEMENTATION_VERSION: Final = "ICANS_INTEROP_01"


class _Unsupported(Exception):
    """The fast encoder cannot write this dataset; dcmwrite will."""


def _encode(ds: Dataset, codec: str) -> bytes:
    parts: list[bytes] = []
    for elem in ds:
        tag, vr = elem.tag, elem.VR
        if tag.element == 0 or tag.group == 2:
            continue  # group lengths are not written; file meta is written separately
        if vr == "SQ":
            items = [_encode(item, codec) for item in elem.value]
            body = b"".join(_ITEM.pack(0xFFFE, 0xE000, len(item)) + item for item in items)
            parts.append(_LONG_HEADER.pack(tag.group, tag.element, b"SQ", 0, len(body)))
            parts.append(body)
            continue
        if vr not in _TEXT_VRS:
            raise _Unsupported(vr)
        value = elem.value
        if value is None:
            text = ""
        elif isinstance(value, str):
            text = value
        elif isinstance(value, bytes | bytearray):
            raise _Unsupported("raw bytes")
        elif isinstance(value, list | tuple | MultiValue):
            text = "\\".join(str(v) for v in value)
        else:
            text = str(value)
        raw = text.encode("ascii" if vr == "UI" else codec)
        if len(raw) % 2:
            raw += b"\x00" if vr == "UI" else b" "
        if vr in _LONG_LENGTH_VRS:
            parts.append(_LONG_HEADER.pack(tag.group, tag.element, vr.encode(), 0, len(raw)))
        elif len(raw) > 0xFFFE:
            raise _Unsupported("value too long for a 16-bit length")
        else:
            parts.append(_SHORT_HEADER.pack(tag.group, tag.element, vr.encode(), len(raw)))
        parts.append(raw)
    return b"".join(parts)


def _meta_element(element: int, vr: bytes, value: bytes) -> bytes:
    if len(value) % 2:
        value += b"\x00" if vr == b"UI" else b" "
    if vr == b"OB":
        return _LONG_HEADER.pack(2, element, vr, 0, len(value)) + value
    return _SHORT_HEADER.pack(2, element, vr, len(value)) + value


def _fast_bytes(ds: Dataset) -> bytes:
    meta = getattr(ds, "file_meta", None)
    if meta is None or meta.get("TransferSyntaxUID") != ExplicitVRLittleEndian:
        raise _Unsupported("transfer syntax")
    charset = ds.get("SpecificCharacterSet", "")
    codec = _CODECS.get(charset) if isinstance(charset, str) else None
    if codec is None:
        raise _Unsupported("character set")
    body = _encode(ds, codec)
    class_uid = str(meta.get("MediaStorageSOPClassUID") or ds.SOPClassUID)
    instance_uid = str(meta.get("MediaStorageSOPInstanceUID") or ds.SOPInstanceUID)
    elements = (_meta_element(0x0001, b"OB", b"\x00\x01")
                + _meta_element(0x0002, b"UI", class_uid.encode("ascii"))
                + _meta_element(0x0003, b"UI", instance_uid.encode("ascii"))
                + _meta_element(0x0010, b"UI", ExplicitVRLittleEndian.encode("ascii"))
                + _meta_element(0x0012, b"UI", IMPLEMENTATION_UID.encode("ascii"))
                + _meta_element(0x0013, b"SH", IMPLEMENTATION_VERSION.encode("ascii")))
    group_length = _SHORT_HEADER.pack(2, 0, b"UL", 4) + struct.pack("<I", len(elements))
    return b"\x00" * 128 + b"DICM" + group_length + elements + body


def to_bytes(ds: Dataset) -> bytes:
    """``ds`` as a DICOM Part 10 file (preamble, file meta, explicit VR little endian).

    Datasets made by :func:`write` are encoded directly (several times faster than
    ``dcmwrite``); any other dataset, or one changed to use other VRs or character sets, goes
    through ``pydicom.dcmwrite(..., enforce_file_format=True)``.
    """
    try:
        return _fast_bytes(ds)
    except (_Unsupported, UnicodeEncodeError):
        pass
    from io import BytesIO

    from pydicom import dcmwrite

    buffer = BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()
