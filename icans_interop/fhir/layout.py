"""Which Observation carries which model field: the tables the FHIR writer and reader share.

The writer emits one qualitative-evaluation Observation per row of
:data:`.fields.FINDING_QUALIFIERS` (the same rows, in the same order, as the SR's TID 1501
row 11 items), one exam Observation per row of :data:`ASSESSMENT_DOMAINS` and one per value
of :data:`ASSESSMENT_LISTS`; the reader
maps the same concept keys back to the same fields, so the two cannot drift apart. Gender and
grade codes are likewise kept as one table with its inverse.
"""

from __future__ import annotations

from typing import Final

from icans_interop import fields

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
#: Patient.sex (DICOM) -> Patient.gender (FHIR), and back.
GENDER: Final = {"M": "male", "F": "female", "O": "other"}
SEX_OF_GENDER: Final = {gender: sex for sex, gender in GENDER.items()}
