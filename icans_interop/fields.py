"""Which concept names carry which model field, independent of the format.

The SR and the FHIR adapters both write one coded item per row of these tables (a TID 1501
CODE item, a qualitative-evaluation Observation) and read them back through the same rows, so
the two formats cannot drift apart.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from icans_interop import terminology
from icans_interop.model import ICE_ITEMS

#: Finding qualifiers written as qualitative evaluations other than per-sequence signals:
#: (Finding field, concept-name key, value role, repeats).
FINDING_QUALIFIERS: Final[tuple[tuple[str, str, str, bool], ...]] = (
    ("distribution", "distribution_descriptor", "distribution", True),
    ("number", "number_of_lesions", "number", False),
    ("morphology", "lesion_morphology", "morphology", False),
)
#: Coded assessment domains: (NeuroAssessment field, concept-name key, value role, repeats).
ASSESSMENT_DOMAINS: Final[tuple[tuple[str, str, str, bool], ...]] = (
    ("consciousness", "level_of_consciousness", "consciousness", False),
    ("seizure", "seizure_domain", "seizure_status", False),
    ("motor", "motor_domain", "motor_status", False),
    ("icp_findings", "icp_domain", "icp_finding", True),
)
SIGNS_KEY: Final = "clinical_signs_observed"
SIGN_ROLE: Final = "clinical_sign"
ICE_SCORE_KEY: Final = "ice_score"
GRADE_KEY: Final = "icans_grade"
GRADE_VALUE_ROLE: Final = "icans_grade_value"

#: ICE item concept key -> IceItems field.
ICE_FIELD_BY_KEY: Final = {key: field for field, key, _max in ICE_ITEMS}


def key_grade(key: str) -> int:
    """The grade a grade-value or ICD-10-CM condition key ends in (``icans_grade_3`` -> 3)."""
    return int(key.rsplit("_", 1)[1])


@lru_cache(maxsize=1)
def grade_value_keys() -> dict[int, str]:
    """ICANS grade (0-5) -> concept key of role ``icans_grade_value``."""
    keys = {key_grade(key): key for key in terminology.load().keys(GRADE_VALUE_ROLE)}
    if sorted(keys) != list(range(6)):
        raise terminology.TerminologyError(f"{GRADE_VALUE_ROLE} concepts must cover grades 0-5")
    return keys


def grade_value_key(grade: int) -> str:
    """Concept key (role ``icans_grade_value``) of an ICANS grade 0-5."""
    return grade_value_keys()[grade]
