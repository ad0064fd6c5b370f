"""Where each model field goes in the SR: the layout tables the writer builds and the reader walks.

Both :mod:`.writer` and the reader modules iterate the same tables (:mod:`icans_interop.fields`:
``FINDING_QUALIFIERS``, ``ASSESSMENT_DOMAINS``, the concept keys), so the two stay one-to-one. Every item
follows a row of PS3.16 TID 1500/1501/1001/1204/1600 as recorded in
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
  label (or the key) back (:func:`sign_labels`). When the tables gain a DICOM coding for a
  sign, it is written as CODE automatically.
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
* Header values DICOM cannot carry are refused before anything is built
  (:mod:`.checks`); how dates, times and names are spelled is in :mod:`.values`.
"""  # noqa: E501

from __future__ import annotations

from functools import cache, lru_cache
from typing import Final

from icans_interop import fields, terminology
from icans_interop.dicom.content import concept_code
from icans_interop.dicom.part10 import DicomCode
from icans_interop.model import derived_uid

#: Template concepts other producers write that the model has no field for (read: noted, skipped).
NOT_CARRIED: Final = frozenset({"topographical_modifier", "finding_category"})

#: TID 1204 language value (highdicom DEFAULT_LANGUAGE; PS3.16 CID 5000 uses RFC 5646 tags).
LANGUAGE: Final = DicomCode("en-US", "RFC5646", "English (United States)")
#: Device Observer UID (TID 1004 row 1) of this software: stable, derived from its name.
DEVICE_OBSERVER_UID: Final = derived_uid("icans-interop", "device-observer")
MANUFACTURER: Final = "icans-interop"
TEMPLATE_ID: Final = "1500"


@cache
def name(key: str) -> DicomCode:
    """Concept-name code of a template concept (``mappings/sr-template.csv`` etc.)."""
    return concept_code(key)


@lru_cache(maxsize=1)
def grade_of_key() -> dict[str, int]:
    """Concept key of role ``icans_grade_value`` -> ICANS grade (the inverse of
    :func:`.fields.grade_value_keys`)."""
    return {key: grade for grade, key in fields.grade_value_keys().items()}


@lru_cache(maxsize=1)
def sign_labels() -> dict[str, str]:
    """Label or key (case-folded) -> clinical-sign key, for TEXT sign items."""
    labels: dict[str, str] = {}
    for concept in terminology.load().value_set(fields.SIGN_ROLE):
        labels[concept.label.casefold()] = concept.key
        labels[concept.key.casefold()] = concept.key
    return labels
