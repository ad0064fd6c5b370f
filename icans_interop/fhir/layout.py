"""Which Observation carries which model field: the tables the FHIR writer and reader share.

The writer emits one qualitative-evaluation Observation per row of :data:`QUALIFIERS` (the
same rows, in the same order, as the SR's TID 1501 row 11 items), one exam Observation per
row of :data:`ASSESSMENT_DOMAINS` and one per value of :data:`ASSESSMENT_LISTS`; the reader
maps the same concept keys back to the same fields, so the two cannot drift apart. Gender and
grade codes are likewise kept as one table with its inverse.
"""

from __future__ import annotations

from typing import Final

from icans_interop import fields

#: Qualitative evaluations other than per-sequence signals (the SR's TID 1501 row 11 items).
QUALIFIERS: Final = fields.FINDING_QUALIFIERS
#: Single-valued assessment domains, one exam Observation each:
#: (NeuroAssessment field, Observation.code key, value role).
ASSESSMENT_DOMAINS: Final[tuple[tuple[str, str, str], ...]] = tuple(
    (field, key, role) for field, key, role, repeats in fields.ASSESSMENT_DOMAINS if not repeats)
#: Multi-valued assessment domains, one exam Observation per value:
#: (NeuroAssessment field, Observation.code key, value role, resource-id stem).
_ID_STEM: Final = {"icp_findings": "icp", "signs": "sign"}
ASSESSMENT_LISTS: Final[tuple[tuple[str, str, str, str], ...]] = (
    *((field, key, role, _ID_STEM[field])
      for field, key, role, repeats in fields.ASSESSMENT_DOMAINS if repeats),
    ("signs", fields.SIGNS_KEY, fields.SIGN_ROLE, _ID_STEM["signs"]),
)
#: Observation.code of the ICE score (components: the items).
ICE_SCORE_KEY: Final = fields.ICE_SCORE_KEY
#: Observation.code of the recorded grade (value role ``icans_grade_value``).
GRADE_KEY: Final = fields.GRADE_KEY
GRADE_VALUE_ROLE: Final = fields.GRADE_VALUE_ROLE

#: ICE item concept key -> IceItems field.
ICE_FIELD_BY_KEY: Final = fields.ICE_FIELD_BY_KEY

#: Patient.sex (DICOM) -> Patient.gender (FHIR), and back.
GENDER: Final = {"M": "male", "F": "female", "O": "other"}
SEX_OF_GENDER: Final = {gender: sex for sex, gender in GENDER.items()}


key_grade = fields.key_grade
grade_value_key = fields.grade_value_key
