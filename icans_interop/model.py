"""The format-neutral domain model of an ICANS imaging report.

Values are *concept keys* from the mapping tables (``"hippocampus"``, ``"flair"``), never raw
codes: the DICOM and FHIR adapters translate keys to codes at the edges. Every model is frozen,
so reports can be shared, hashed and compared (``read(write(r)) == r`` is the round-trip test).
Unknown keys fail with a message listing the keys allowed for that role.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Annotated, Any, Final, Literal, NamedTuple, get_args, get_origin

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from icans_interop import terminology

#: Root under which UIDs derived from a report's content are made (ISO 9834-8 UUID form).
_UID_NAMESPACE = uuid.UUID("a4b6b4b1-6a43-5d1b-9f4e-1c3a7f0e9d21")
_UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


#: Longest UID root accepted for derived UIDs (leaves at least 23 digits of the hash).
MAX_UID_ROOT: Final = 40


def derived_uid(*parts: str, root: str | None = None) -> str:
    """A stable DICOM UID derived from ``parts``: ``2.25.<uuid>`` (PS3.5 B.2), or, under a
    site's own ``root``, ``<root>.<digits of the same UUID>`` cut to 64 characters.

    Writers of both formats use it, so one report gets the same tracking, observation,
    series and instance UIDs in its SR and in its FHIR bundle, whenever it is written.
    """
    number = str(uuid.uuid5(_UID_NAMESPACE, "|".join(parts)).int)
    if root is None:
        return f"2.25.{number}"
    check_uid_root(root)
    return f"{root}.{number[:64 - len(root) - 1]}"


def check_uid_root(root: str) -> str:
    """``root`` if it can prefix derived UIDs (a valid UID of at most 40 characters)."""
    if len(root) > MAX_UID_ROOT or not is_dicom_uid(root):
        raise ValueError(f"UID root {root!r} must be a valid UID of at most {MAX_UID_ROOT} "
                         "characters (digits and dots, no leading zeros)")
    return root


def is_dicom_uid(value: str) -> bool:
    """True for a syntactically valid DICOM UID (PS3.5 9.1: digits and dots, no leading
    zeros, at most 64 characters)."""
    return len(value) <= 64 and _UID_RE.fullmatch(value) is not None


def _check_uid(value: str) -> str:
    if not is_dicom_uid(value):
        raise ValueError(f"{value!r} is not a valid DICOM UID (digits and dots, at most 64 "
                         "characters, no leading zeros)")
    return value


Uid = Annotated[str, AfterValidator(_check_uid),
                WithJsonSchema({"type": "string", "pattern": _UID_RE.pattern, "maxLength": 64})]


class RoleKey:
    """Pydantic marker: the annotated ``str`` must be a concept key of ``role``.

    Validation looks the key up in the terminology; the JSON Schema lists the allowed keys.
    """

    __slots__ = ("role",)

    def __init__(self, role: str) -> None:
        self.role = role

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler
                                     ) -> core_schema.CoreSchema:
        role = self.role

        def check(value: str) -> str:
            terminology.load().require(value, role)
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "enum": list(terminology.load().keys(self.role)),
                "description": f"concept key of role {self.role!r}"}


#: Trailing component delimiters and white space (any Unicode space: FHIR strings are
#: trimmed of it) of a person-name group.
_TRAILING_PN: Final = re.compile(r"[\^\s]+$")


def _person_name(value: str) -> str:
    """A person name (DICOM PN form, ``Family^Given``) without trailing, insignificant
    component and group delimiters: ``Doe^`` is ``Doe`` (PS3.5 6.2.1.1)."""
    value = "=".join(_TRAILING_PN.sub("", group) for group in value.split("=")).rstrip("=")
    if not value:
        raise ValueError("a person name needs at least one component")
    return value


PersonName = Annotated[str, Field(max_length=64), AfterValidator(_person_name)]

AnatomyKey = Annotated[str, RoleKey("anatomy")]
PatternKey = Annotated[str, RoleKey("pattern")]
SequenceKey = Annotated[str, RoleKey("mr_sequence")]
SignalKey = Annotated[str, RoleKey("signal")]
LateralityKey = Annotated[str, RoleKey("laterality")]
DistributionKey = Annotated[str, RoleKey("distribution")]
NumberKey = Annotated[str, RoleKey("number")]
MorphologyKey = Annotated[str, RoleKey("morphology")]
ProcedureKey = Annotated[str, RoleKey("procedure")]
SignKey = Annotated[str, RoleKey("clinical_sign")]
ConsciousnessKey = Annotated[str, RoleKey("consciousness")]
SeizureKey = Annotated[str, RoleKey("seizure_status")]
MotorKey = Annotated[str, RoleKey("motor_status")]
IcpKey = Annotated[str, RoleKey("icp_finding")]

_FROZEN = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True,
                     use_attribute_docstrings=True)


class Patient(BaseModel):
    """Who the report is about; ``id`` is the medical record number.

    ``id_issuer`` is the issuer's name (DICOM Issuer of Patient ID, FHIR identifier.assigner);
    ``id_system`` the URI of the identifier namespace (DICOM Issuer of Patient ID Qualifiers:
    Universal Entity ID, FHIR identifier.system). Without ``id_system`` a FHIR transaction
    creates the Patient unconditionally: a bare MRN could match another issuer's patient.
    """

    model_config = _FROZEN
    id: Annotated[str, Field(min_length=1, max_length=64)]
    """The patient identifier (medical record number) as the issuer writes it (DICOM Patient ID)."""
    id_issuer: Annotated[str, Field(max_length=64)] | None = None
    """Name of the organisation that issued ``id`` (DICOM Issuer of Patient ID, FHIR
    identifier.assigner)."""
    id_system: Annotated[str, Field(min_length=1, max_length=64,
                                    pattern=r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")] | None = None
    """URI of the identifier namespace, e.g. ``urn:oid:1.2.3`` or
    ``https://hospital.example/mrn`` (DICOM Issuer of Patient ID Qualifiers, FHIR
    identifier.system). Without it no conditional create is used."""
    family_name: Annotated[str, Field(max_length=64)] | None = None
    """Family name."""
    given_name: Annotated[str, Field(max_length=64)] | None = None
    """Given name(s)."""
    birth_date: dt.date | None = None
    """Date of birth (YYYY-MM-DD)."""
    sex: Literal["M", "F", "O"] | None = None
    """Administrative sex: M, F or O (DICOM Patient's Sex)."""


class Study(BaseModel):
    """The imaging study the findings were made on."""

    model_config = _FROZEN
    instance_uid: Uid
    """Study Instance UID of the MR study the findings were made on (digits and dots, at most
    64 characters)."""
    accession_number: Annotated[str, Field(min_length=1, max_length=16)] | None = None
    """Accession number of the order (at most 16 characters)."""
    date: dt.date
    """Date the study was performed (YYYY-MM-DD)."""
    time: dt.time | None = None
    """Time the study was performed (HH:MM[:SS])."""
    description: Annotated[str, Field(max_length=64)] | None = None
    """Study description as the modality or RIS wrote it."""
    referring_physician: PersonName | None = None
    """Referring physician, ``Family^Given`` (DICOM person-name form)."""


class SignalObservation(BaseModel):
    """The signal seen on one MR sequence, e.g. FLAIR hyperintensity."""

    model_config = _FROZEN
    sequence: SequenceKey
    """The MR sequence (concept key, e.g. ``flair``); `icans-interop codes --role sequence`
    lists them."""
    signal: SignalKey
    """What the sequence shows (concept key, e.g. ``hyperintense``)."""


class Finding(BaseModel):
    """One imaging finding: an ICANS pattern at one or more sites, with its qualifiers.

    ``tracking_uid`` and ``observation_uid`` identify the finding across formats; when they
    are left out they are derived from the study UID and the tracking id (or, without one,
    the finding's content), so reordering the findings or building them as models rather
    than dicts gives the same UIDs.
    """

    model_config = _FROZEN
    pattern: PatternKey
    """The ICANS imaging pattern of the knowledge entry (concept key)."""
    sites: tuple[AnatomyKey, ...] = ()
    """Anatomical sites of the finding (concept keys); each must belong to the pattern's regions."""
    laterality: LateralityKey | None = None
    """Left, right, bilateral or unilateral (concept key)."""
    distribution: tuple[DistributionKey, ...] = ()
    """Distribution descriptors, e.g. ``symmetric``, ``diffuse`` (concept keys)."""
    number: NumberKey | None = None
    """Number of lesions: single or multiple (concept key)."""
    morphology: MorphologyKey | None = None
    """Lesion morphology (concept key)."""
    signals: tuple[SignalObservation, ...] = ()
    """Signal per MR sequence."""
    tracking_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    """The author's label for the finding, stable across reports (TID 1500 Tracking
    Identifier); the tracking UID is derived from it."""
    tracking_uid: Uid | None = None
    """Derived when absent (from the study UID and the tracking id or the finding's content);
    give it only to keep another system's UID."""
    observation_uid: Uid | None = None
    """Derived when absent, like ``tracking_uid``."""


class IceItems(BaseModel):
    """The ten points of the ASTCT 2019 ICE score, item by item."""

    model_config = _FROZEN
    orientation_year: Annotated[int, Field(ge=0, le=1)]
    """Orientation to year: 1 point."""
    orientation_month: Annotated[int, Field(ge=0, le=1)]
    """Orientation to month: 1 point."""
    orientation_city: Annotated[int, Field(ge=0, le=1)]
    """Orientation to city: 1 point."""
    orientation_hospital: Annotated[int, Field(ge=0, le=1)]
    """Orientation to hospital: 1 point."""
    naming: Annotated[int, Field(ge=0, le=3)]
    """Naming three objects: up to 3 points."""
    commands: Annotated[int, Field(ge=0, le=1)]
    """Following simple commands: 1 point."""
    writing: Annotated[int, Field(ge=0, le=1)]
    """Writing a standard sentence: 1 point."""
    attention: Annotated[int, Field(ge=0, le=1)]
    """Counting backwards from 100 by ten: 1 point."""

    @property
    def total(self) -> int:
        return (self.orientation_year + self.orientation_month + self.orientation_city
                + self.orientation_hospital + self.naming + self.commands + self.writing
                + self.attention)


#: (field of IceItems, assessment concept key, maximum points), in ICE form order.
ICE_ITEMS: tuple[tuple[str, str, int], ...] = (
    ("orientation_year", "ice_orientation_year", 1),
    ("orientation_month", "ice_orientation_month", 1),
    ("orientation_city", "ice_orientation_city", 1),
    ("orientation_hospital", "ice_orientation_hospital", 1),
    ("naming", "ice_naming", 3),
    ("commands", "ice_commands", 1),
    ("writing", "ice_writing", 1),
    ("attention", "ice_attention", 1),
)


class NeuroAssessment(BaseModel):
    """The clinical neurological assessment graded by the ASTCT 2019 ICANS consensus.

    ``ice`` is None when the ICE could not be performed (e.g. the patient is unarousable).
    Clinical ``signs`` are recorded for completeness; tremor, myoclonus and hemorrhage never
    change the grade.
    """

    model_config = _FROZEN
    assessed_at: AwareDatetime | None = None
    """When the patient was assessed, with a UTC offset (e.g. 2026-11-03T09:00:00+01:00)."""
    ice: IceItems | None = None
    """The ICE score item by item; absent when the ICE could not be performed (e.g. unarousable)."""
    consciousness: ConsciousnessKey = "awake"
    """Depressed level of consciousness domain (concept key)."""
    seizure: SeizureKey = "no_seizure"
    """Seizure domain (concept key)."""
    motor: MotorKey = "no_motor_weakness"
    """Motor findings domain (concept key)."""
    icp_findings: tuple[IcpKey, ...] = ()
    """Elevated ICP / cerebral edema findings (concept keys)."""
    signs: tuple[SignKey, ...] = ()
    """Other clinical signs observed (concept keys); they never change the grade."""


class VerifyingObserver(BaseModel):
    """Who verified (signed) the report: DICOM Verifying Observer Sequence, FHIR
    DiagnosticReport.resultsInterpreter (a PractitionerRole of the organization). ``name`` is
    a person name, ``Family^Given`` as in DICOM PN; ``organization`` is the Verifying
    Organization, which a verified DICOM SR requires (dciodvfy: Type 1 in the SR Document
    General module): without it the report can be written to FHIR but not to DICOM."""

    model_config = _FROZEN
    name: PersonName
    """Who verified the report, ``Family^Given``."""
    organization: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    """The verifier's organisation; a verified DICOM SR requires it."""


ReportStatus = Literal["preliminary", "final", "amended", "cancelled"]


class ImagingReport(BaseModel):
    """An ICANS brain-MRI report: identity, procedure, findings and optional assessment.

    ``icans_grade`` is the grade the author recorded (0-5, ASTCT 1-4 plus ICD-10-CM grade 5);
    the validators compare it with the grade computed from ``assessment``.

    ``status`` follows FHIR DiagnosticReport.status: ``final`` and ``amended`` mean verified;
    left out, it is ``final`` with a ``verifying_observer`` and ``preliminary`` without one.
    A verified DICOM SR names who verified it, so the SR writer refuses a final or amended
    report without a verifying observer (FHIR reports from other systems often have none).
    ``revision`` counts versions of one report: the same report written twice is one SR
    instance (the SOP Instance UID is derived from the report's identity, SOP Class and
    revision), an amendment (revision 2, 3 ...) is a new one in the same series.
    """

    model_config = _FROZEN
    patient: Patient
    """Who the report is about."""
    study: Study
    """The MR study the findings were made on."""
    issued: AwareDatetime
    """When the report was issued (signed or released), with a UTC offset; the SR Content
    Date/Time and DiagnosticReport.issued."""
    procedure: ProcedureKey = "mr_brain"
    """The imaging procedure (concept key); `icans-interop codes --role procedure` lists them."""
    findings: tuple[Finding, ...] = ()
    """The imaging findings, one per pattern and group of sites."""
    impression: Annotated[str, Field(max_length=10240)] | None = None
    """The author's free-text impression."""
    observer_name: PersonName | None = None
    """The author (radiologist), ``Family^Given`` (DICOM person-name form); without it the SR
    names the software as device observer."""
    assessment: NeuroAssessment | None = None
    """The clinical neurological assessment the ICANS grade is computed from; absent for an
    imaging-only report."""
    icans_grade: Annotated[int, Field(ge=0, le=5)] | None = None
    """The ICANS grade the author recorded (0-5); checked against the grade computed from
    ``assessment``."""
    status: ReportStatus = "preliminary"
    """preliminary, final, amended or cancelled (FHIR DiagnosticReport.status; SR
    Completion/Verification flags). Left out: final with a verifying observer, else
    preliminary."""
    verifying_observer: VerifyingObserver | None = None
    """Who verified (signed) the report; required for a final or amended SR."""
    revision: Annotated[int, Field(ge=1, le=9999)] = 1
    """Version of this report: 1 for the first, 2, 3 ... for amendments (each a new SR instance
    in the same series)."""

    @model_validator(mode="before")
    @classmethod
    def _derive(cls, data: Any) -> Any:
        """Fill the status and the findings' tracking identifiers and UIDs (see above)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("status") is None:
            data["status"] = "final" if data.get("verifying_observer") else "preliminary"
        study = data.get("study")
        study_uid = (study.get("instance_uid") if isinstance(study, dict)
                     else getattr(study, "instance_uid", None))
        findings = data.get("findings")
        if not isinstance(study_uid, str) or not isinstance(findings, list | tuple):
            return data
        data["findings"] = _with_identifiers(study_uid, findings)
        return data


_CONTENT_FIELDS: Final = ("pattern", "sites", "laterality", "distribution", "number",
                          "morphology", "signals")


def _with_identifiers(study_uid: str, findings: list[Any] | tuple[Any, ...]) -> list[Any]:
    """Findings (dicts or models) with their tracking and observation UIDs filled where absent.

    The UIDs depend on the study UID and the tracking id when the finding has one, else on
    the finding's content (and how many identical findings came before it): never on the
    finding's position, so reordering a report keeps every finding's UIDs.
    """
    filled: list[Any] = []
    seen: dict[str, int] = {}
    for finding in findings:
        if isinstance(finding, Finding):
            finding = finding.model_dump(exclude_none=True)
        if not isinstance(finding, dict):
            filled.append(finding)
            continue
        finding = dict(finding)
        tracking_id = finding.get("tracking_id")
        if isinstance(tracking_id, str) and tracking_id.strip():
            identity = "id:" + tracking_id.strip()
        else:
            content = json.dumps({k: _unordered(finding.get(k)) for k in _CONTENT_FIELDS},
                                 sort_keys=True, default=str)
            identity = "content:" + content
        occurrence = seen.get(identity, 0)
        seen[identity] = occurrence + 1
        key = identity if occurrence == 0 else f"{identity}#{occurrence}"
        if finding.get("tracking_uid") is None:
            finding["tracking_uid"] = derived_uid(study_uid, "tracking", key)
        if finding.get("observation_uid") is None:
            finding["observation_uid"] = derived_uid(study_uid, "observation", key)
        filled.append(finding)
    return filled


class SrInstance(NamedTuple):
    """The SR instance a report is (or would be) stored as: what FHIR uses to point at it."""

    series_uid: str
    instance_uid: str
    sop_class_uid: str


def _unordered(value: Any) -> Any:
    """A list field of a finding as a sorted list: the same sites, qualifiers or signals in
    another order are the same finding (forms and other producers do not keep the order)."""
    if isinstance(value, list | tuple):
        return sorted(json.dumps(v, sort_keys=True, default=str) for v in value)
    return value


def report_uids(report: ImagingReport, sop_class_uid: str,
                root: str | None = None) -> tuple[str, str]:
    """(Series Instance UID, SOP Instance UID) of the report's SR in SOP Class
    ``sop_class_uid``: the series is the same for every revision of the report, the instance
    is new for each revision (and differs between SOP Classes: another IOD is another
    instance)."""
    identity = (report.patient.id_system or report.patient.id_issuer or "", report.patient.id,
                report.study.instance_uid)
    series = derived_uid(*identity, "sr-series", root=root)
    instance = derived_uid(*identity, "sr-instance", sop_class_uid, str(report.revision),
                           root=root)
    return series, instance


def coded_fields() -> dict[str, str]:
    """Every case field that takes a concept key, as ``{"findings.sites": "anatomy", ...}``
    (dotted path from the report -> terminology role), read from the model's annotations so
    it cannot drift from them."""
    found: dict[str, str] = {}

    def roles(annotation: Any) -> list[str]:
        if get_origin(annotation) is Annotated:
            marks = [m.role for m in annotation.__metadata__ if isinstance(m, RoleKey)]
            return marks or roles(get_args(annotation)[0])
        return [r for arg in get_args(annotation) for r in roles(arg)]

    def models(annotation: Any) -> list[type[BaseModel]]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return [annotation]
        return [m for arg in get_args(annotation) for m in models(arg)]

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata \
                else info.annotation
            for role in roles(annotation):
                found[prefix + name] = role
            for inner in models(info.annotation):
                walk(inner, f"{prefix}{name}.")

    walk(ImagingReport, "")
    return found


#: Keys a case file may hold for people and tools, never data: JSON Schema's own comment
#: and schema keywords, at any level.
NOTE_KEYS: Final = frozenset({"$comment", "$schema"})


def json_schema() -> dict[str, Any]:
    """JSON Schema of the case-file format (an :class:`ImagingReport`), every field
    described; ``$comment`` is allowed on every object."""
    schema = ImagingReport.model_json_schema()
    for node in [schema, *schema.get("$defs", {}).values()]:
        for prop in node.get("properties", {}).values():
            if isinstance(prop.get("description"), str):
                prop["description"] = _one_paragraph(prop["description"])
        if "properties" in node:
            node["properties"]["$comment"] = {"type": "string",
                                              "description": "A note for people; ignored."}
    schema["properties"]["$schema"] = {"type": "string", "description": "Ignored."}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ICANS imaging report (icans-interop case file)"
    return schema


def _one_paragraph(text: str) -> str:
    return re.sub(r"(?<!\n)\n(?!\n)", " ", text)


def _without_notes(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_notes(v) for k, v in value.items() if k not in NOTE_KEYS}
    if isinstance(value, list):
        return [_without_notes(v) for v in value]
    return value


def load_case(text: str | bytes) -> ImagingReport:
    """Parse a case file (JSON) into a report; raises pydantic ``ValidationError`` (also for
    text that is not JSON). ``$comment`` and ``$schema`` keys are ignored at any level."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return ImagingReport.model_validate_json(text)  # raises the located json_invalid
    return case_from_data(data)


def case_from_data(data: Any) -> ImagingReport:
    """A case file already parsed from JSON into a report (``$comment`` and ``$schema`` keys
    ignored); raises pydantic ``ValidationError``."""
    return ImagingReport.model_validate(_without_notes(data))


def case_template() -> str:
    """A starting case file with ``$comment`` notes (``icans-interop template --format
    case``); it passes ``icans-interop check`` as it is."""
    from importlib import resources

    return resources.files("icans_interop.data").joinpath("case-template.json").read_text(
        "utf-8")
