"""CodeableConcepts from concept keys, and concept keys from CodeableConcepts.

Every clinical code comes from the mapping tables (:mod:`icans_interop.terminology`). The only
codes kept here are FHIR *infrastructure* codes that the specifications themselves fix (status
and category code systems, identifier types, the DICOM SR IG's identifier type); they are a
table too (:data:`FIXED`), each row naming the specification it comes from.

Reading is tolerant: a CodeableConcept is matched coding by coding (any order, extra codings
ignored, displays not compared), and system aliases are normalised by the terminology.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from icans_interop import terminology
from icans_interop.terminology import Concept

JsonDict = dict[str, Any]

OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
DICOM_IDENTIFIER_TYPE = "http://hl7.org/fhir/uv/dicom-sr/CodeSystem/dicom-identifier-type"
DICOM_UID_SYSTEM = "urn:dicom:uid"

#: FHIR infrastructure codes: name -> (system, code, display, where the code is defined).
FIXED: dict[str, tuple[str, str, str, str]] = {
    "category-imaging": (OBSERVATION_CATEGORY, "imaging", "Imaging",
                         "FHIR R4 observation-category; US Core clinical-result categories"),
    "category-survey": (OBSERVATION_CATEGORY, "survey", "Survey",
                        "FHIR R4 observation-category"),
    "category-exam": (OBSERVATION_CATEGORY, "exam", "Exam", "FHIR R4 observation-category"),
    "clinical-active": (CONDITION_CLINICAL, "active", "Active",
                        "FHIR R4 condition-clinical (required binding)"),
    "verification-confirmed": (CONDITION_VERIFICATION, "confirmed", "Confirmed",
                               "FHIR R4 condition-ver-status (required binding)"),
    "verification-provisional": (CONDITION_VERIFICATION, "provisional", "Provisional",
                                 "FHIR R4 condition-ver-status (required binding)"),
    "encounter-diagnosis": (CONDITION_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis",
                            "FHIR R4 condition-category; US Core Condition Encounter Diagnosis"),
    "id-type-mr": (V2_0203, "MR", "Medical record number", "HL7 v2 table 0203"),
    "id-type-acsn": (V2_0203, "ACSN", "Accession ID",
                     "HL7 v2 table 0203; dicom-sr IG basedOn[serviceRequestRef]"),
    "id-type-observation-uid": (DICOM_IDENTIFIER_TYPE, "observation-uid", "Observation UID",
                                "HL7 dicom-sr IG CodeSystem dicom-identifier-type"),
    "id-type-study-uid": (terminology.DCM, "110180", "Study Instance UID",
                          "HL7 dicom-sr IG partOf[imagingStudyRef].identifier.type"),
    "modality-sr": (terminology.DCM, "SR", "SR Document",
                    "DICOM PS3.16 CID 32 / Modality (0008,0060) defined term"),
}


def fixed_coding(name: str) -> JsonDict:
    system, code, display, _source = FIXED[name]
    return {"system": system, "code": code, "display": display}


def fixed_cc(name: str) -> JsonDict:
    return {"coding": [fixed_coding(name)]}


@cache
def _codings(key: str) -> tuple[tuple[tuple[str, str], ...], ...]:
    concept = terminology.load().concept(key)
    return tuple(
        (("system", c.system), ("code", c.code), ("display", c.display))
        for c in concept.fhir_codings()
    )


def codeable(key: str) -> JsonDict:
    """The CodeableConcept of a concept key: all its FHIR codings, standard codes first."""
    return {"coding": [dict(c) for c in _codings(key)]}


def codeable_ref(key: str) -> JsonDict:
    """An R5 CodeableReference holding the concept of ``key``."""
    return {"concept": codeable(key)}


def has_coding(cc: Any, system: str, code: str) -> bool:
    """True when the CodeableConcept (a JSON dict, maybe malformed) has system|code."""
    if not isinstance(cc, dict):
        return False
    codings = cc.get("coding")
    if not isinstance(codings, list):
        return False
    system = terminology.SYSTEM_ALIASES.get(system, system)
    for coding in codings:
        if isinstance(coding, dict) and coding.get("code") == code:
            found = coding.get("system")
            if isinstance(found, str) and terminology.SYSTEM_ALIASES.get(found, found) == system:
                return True
    return False


def has_fixed(cc: Any, name: str) -> bool:
    system, code, _display, _source = FIXED[name]
    return has_coding(cc, system, code)


def has_concept(cc: Any, key: str) -> bool:
    """True when any coding of the CodeableConcept is a coding of concept ``key``."""
    return any(c.key == key for c, _i in iter_concepts(cc))


def iter_concepts(cc: Any) -> Iterable[tuple[Concept, int]]:
    """Known concepts of a CodeableConcept, with the index of the coding that named them."""
    if not isinstance(cc, dict):
        return
    codings = cc.get("coding")
    if not isinstance(codings, list):
        return
    terms = terminology.load()
    for index, coding in enumerate(codings):
        if not isinstance(coding, dict):
            continue
        system, code = coding.get("system"), coding.get("code")
        if isinstance(system, str) and isinstance(code, str):
            for concept in terms.lookup_fhir_all(system, code):
                yield concept, index


@dataclass(frozen=True, slots=True)
class Match:
    """Result of matching a CodeableConcept against the concepts of some roles."""

    key: str | None
    #: ``None`` when matched; else ``unknown-code``, ``wrong-role`` or ``missing-required``.
    problem: str | None = None
    #: Index of the offending coding (for the issue location), when one is meant.
    index: int | None = None
    detail: str = ""


def match(cc: Any, roles: Iterable[str]) -> Match:
    """The concept of ``cc`` within ``roles``: the first coding (in order) that names one.

    Codings of unknown systems/codes are skipped as long as another coding is understood.
    """
    wanted = frozenset(roles)
    if not isinstance(cc, dict):
        return Match(None, "missing-required", None, "no CodeableConcept")
    codings = cc.get("coding")
    if not isinstance(codings, list) or not codings:
        text = cc.get("text")
        return Match(None, "missing-required", None,
                     f"no coding (text {text!r})" if isinstance(text, str) else "no coding")
    wrong: tuple[Concept, int] | None = None
    for concept, index in iter_concepts(cc):
        if concept.role in wanted:
            return Match(concept.key)
        if wrong is None:
            wrong = (concept, index)
    if wrong is not None:
        concept, index = wrong
        return Match(None, "wrong-role", index,
                     f"{describe(codings[index])} is the {concept.role} concept "
                     f"{concept.key!r}, expected a {'/'.join(sorted(wanted))} concept")
    shown = ", ".join(describe(c) for c in codings[:5])
    return Match(None, "unknown-code", 0,
                 f"no {'/'.join(sorted(wanted))} concept has the code(s) {shown}")


def describe(coding: Any) -> str:
    """``system|code`` of a coding, for messages."""
    if not isinstance(coding, dict):
        return repr(coding)
    return f"{coding.get('system')}|{coding.get('code')}"
