"""The format-neutral domain model of an ICANS imaging report.

Values are *concept keys* from the mapping tables (``"hippocampus"``, ``"flair"``), never raw
codes: the DICOM and FHIR adapters translate keys to codes at the edges. Every model is frozen,
so reports can be shared, hashed and compared (``read(write(r)) == r`` is the round-trip test).
Unknown keys fail with a message listing the keys allowed for that role.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any, Literal

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


def derived_uid(*parts: str) -> str:
    """A stable DICOM UID (``2.25.<uuid>``) derived from ``parts``.

    Writers of both formats use it, so one report gets the same tracking and observation UIDs
    in its SR and in its FHIR bundle.
    """
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, '|'.join(parts)).int}"


def _check_uid(value: str) -> str:
    if len(value) > 64 or not _UID_RE.match(value):
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

_FROZEN = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Patient(BaseModel):
    """Who the report is about; ``id`` is the medical record number."""

    model_config = _FROZEN
    id: Annotated[str, Field(min_length=1, max_length=64)]
    id_issuer: Annotated[str, Field(max_length=64)] | None = None
    family_name: Annotated[str, Field(max_length=64)] | None = None
    given_name: Annotated[str, Field(max_length=64)] | None = None
    birth_date: dt.date | None = None
    sex: Literal["M", "F", "O"] | None = None


class Study(BaseModel):
    """The imaging study the findings were made on."""

    model_config = _FROZEN
    instance_uid: Uid
    accession_number: Annotated[str, Field(min_length=1, max_length=16)] | None = None
    date: dt.date
    time: dt.time | None = None
    description: Annotated[str, Field(max_length=64)] | None = None
    referring_physician: Annotated[str, Field(max_length=64)] | None = None


class SignalObservation(BaseModel):
    """The signal seen on one MR sequence, e.g. FLAIR hyperintensity."""

    model_config = _FROZEN
    sequence: SequenceKey
    signal: SignalKey


class Finding(BaseModel):
    """One imaging finding: an ICANS pattern at one or more sites, with its qualifiers.

    ``tracking_uid`` and ``observation_uid`` identify the finding across formats; when a case
    leaves them out they are derived from the study UID and the finding's position.
    """

    model_config = _FROZEN
    pattern: PatternKey
    sites: tuple[AnatomyKey, ...] = ()
    laterality: LateralityKey | None = None
    distribution: tuple[DistributionKey, ...] = ()
    number: NumberKey | None = None
    morphology: MorphologyKey | None = None
    signals: tuple[SignalObservation, ...] = ()
    tracking_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    tracking_uid: Uid | None = None
    observation_uid: Uid | None = None


class IceItems(BaseModel):
    """The ten points of the ASTCT 2019 ICE score, item by item."""

    model_config = _FROZEN
    orientation_year: Annotated[int, Field(ge=0, le=1)]
    orientation_month: Annotated[int, Field(ge=0, le=1)]
    orientation_city: Annotated[int, Field(ge=0, le=1)]
    orientation_hospital: Annotated[int, Field(ge=0, le=1)]
    naming: Annotated[int, Field(ge=0, le=3)]
    commands: Annotated[int, Field(ge=0, le=1)]
    writing: Annotated[int, Field(ge=0, le=1)]
    attention: Annotated[int, Field(ge=0, le=1)]

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
    ice: IceItems | None = None
    consciousness: ConsciousnessKey = "awake"
    seizure: SeizureKey = "no_seizure"
    motor: MotorKey = "no_motor_weakness"
    icp_findings: tuple[IcpKey, ...] = ()
    signs: tuple[SignKey, ...] = ()


class ImagingReport(BaseModel):
    """An ICANS brain-MRI report: identity, procedure, findings and optional assessment.

    ``icans_grade`` is the grade the author recorded (0-5, ASTCT 1-4 plus ICD-10-CM grade 5);
    the validators compare it with the grade computed from ``assessment``.
    """

    model_config = _FROZEN
    patient: Patient
    study: Study
    issued: AwareDatetime
    procedure: ProcedureKey = "mr_brain"
    findings: tuple[Finding, ...] = ()
    impression: Annotated[str, Field(max_length=10240)] | None = None
    observer_name: Annotated[str, Field(max_length=64)] | None = None
    assessment: NeuroAssessment | None = None
    icans_grade: Annotated[int, Field(ge=0, le=5)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _derive_identifiers(cls, data: Any) -> Any:
        """Fill missing tracking identifiers and UIDs from the study UID and position."""
        if not isinstance(data, dict):
            return data
        study = data.get("study")
        study_uid = (study.get("instance_uid") if isinstance(study, dict)
                     else getattr(study, "instance_uid", None))
        findings = data.get("findings")
        if not isinstance(study_uid, str) or not isinstance(findings, list | tuple):
            return data
        filled: list[Any] = []
        for index, finding in enumerate(findings, start=1):
            if isinstance(finding, dict):
                finding = dict(finding)
                finding.setdefault("tracking_id", f"Finding {index}")
                if finding.get("tracking_uid") is None:
                    finding["tracking_uid"] = derived_uid(study_uid, "tracking", str(index))
                if finding.get("observation_uid") is None:
                    finding["observation_uid"] = derived_uid(study_uid, "observation",
                                                             str(index))
            filled.append(finding)
        return {**data, "findings": filled}


def json_schema() -> dict[str, Any]:
    """JSON Schema of the case-file format (an :class:`ImagingReport`)."""
    schema = ImagingReport.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ICANS imaging report (icans-interop case file)"
    return schema


def load_case(text: str | bytes) -> ImagingReport:
    """Parse a case file (JSON) into a report; raises pydantic ``ValidationError``."""
    return ImagingReport.model_validate_json(text)

