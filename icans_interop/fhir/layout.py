"""Which Observation carries which model field: the tables the FHIR writer and reader share.

The writer emits one qualitative-evaluation Observation per row of :data:`QUALIFIERS` (the
same rows, in the same order, as the SR's TID 1501 row 11 items), one exam Observation per
row of :data:`ASSESSMENT_DOMAINS` and one per value of :data:`ASSESSMENT_LISTS`; the reader
maps the same concept keys back to the same fields, so the two cannot drift apart. Gender and
grade codes are likewise kept as one table with its inverse.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from icans_interop import terminology
from icans_interop.model import ICE_ITEMS

#: TID 1501 qualitative evaluations other than per-sequence signals:
#: (Finding field, concept-name key, value role, repeats).
QUALIFIERS: Final[tuple[tuple[str, str, str, bool], ...]] = (
    ("distribution", "distribution_descriptor", "distribution", True),
    ("number", "number_of_lesions", "number", False),
    ("morphology", "lesion_morphology", "morphology", False),
)
#: Single-valued assessment domains, one exam Observation each:
#: (NeuroAssessment field, Observation.code key, value role).
ASSESSMENT_DOMAINS: Final[tuple[tuple[str, str, str], ...]] = (
    ("consciousness", "level_of_consciousness", "consciousness"),
    ("seizure", "seizure_domain", "seizure_status"),
    ("motor", "motor_domain", "motor_status"),
)
#: Multi-valued assessment domains, one exam Observation per value:
#: (NeuroAssessment field, Observation.code key, value role, resource-id stem).
ASSESSMENT_LISTS: Final[tuple[tuple[str, str, str, str], ...]] = (
    ("icp_findings", "icp_domain", "icp_finding", "icp"),
    ("signs", "clinical_signs_observed", "clinical_sign", "sign"),
)
#: Observation.code of the ICE score (components: the items).
ICE_SCORE_KEY: Final = "ice_score"
#: Observation.code of the recorded grade (value role ``icans_grade_value``).
GRADE_KEY: Final = "icans_grade"
GRADE_VALUE_ROLE: Final = "icans_grade_value"

#: ICE item concept key -> IceItems field.
ICE_FIELD_BY_KEY: Final = {key: field for field, key, _max in ICE_ITEMS}

#: Patient.sex (DICOM) -> Patient.gender (FHIR), and back.
GENDER: Final = {"M": "male", "F": "female", "O": "other"}
SEX_OF_GENDER: Final = {gender: sex for sex, gender in GENDER.items()}


def key_grade(key: str) -> int:
    """The grade a grade-value or condition concept key ends in (``icans_grade_3`` -> 3)."""
    return int(key.rsplit("_", 1)[1])


@lru_cache(maxsize=1)
def _grade_value_keys() -> dict[int, str]:
    return {key_grade(concept.key): concept.key
            for concept in terminology.load().value_set(GRADE_VALUE_ROLE)}


def grade_value_key(grade: int) -> str:
    """Concept key (role icans_grade_value) of an ICANS grade 0-5."""
    return _grade_value_keys()[grade]
