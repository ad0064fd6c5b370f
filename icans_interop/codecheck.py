"""Format checks for code identifiers whose validity is arithmetic, not a lookup.

SNOMED CT identifiers end in a partition identifier and a Verhoeff check digit; LOINC codes
end in a mod-10 check digit. A well-formed code may still not exist, but a malformed one
certainly does not.
"""

from __future__ import annotations

import re

_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6), (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4), (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2), (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
#: Partition identifiers of SNOMED CT components: concept, description, relationship (short
#: and extension forms). Only concept ids (00, 10) are valid codes.
_CONCEPT_PARTITIONS = frozenset({"00", "10"})
_SCTID_RE = re.compile(r"^[1-9][0-9]{5,17}$")
_LOINC_RE = re.compile(r"^([0-9]{1,7})-([0-9])$")


def verhoeff_valid(digits: str) -> bool:
    """True if the last digit of ``digits`` is its Verhoeff check digit."""
    check = 0
    for position, char in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[position % 8][int(char)]]
    return check == 0


def sctid_problem(code: str) -> str | None:
    """Why ``code`` is not a well-formed SNOMED CT concept id, or None if it is."""
    if not _SCTID_RE.match(code):
        return "a SNOMED CT identifier is 6-18 digits without a leading zero"
    partition = code[-3:-1]
    if partition not in _CONCEPT_PARTITIONS:
        return f"partition identifier {partition} is not that of a concept (00 or 10)"
    if not verhoeff_valid(code):
        return "the Verhoeff check digit does not match"
    return None


def loinc_problem(code: str) -> str | None:
    """Why ``code`` is not a well-formed LOINC code, or None if it is."""
    if code.startswith("LP") or code.startswith("LA"):
        return None  # LOINC parts and answers follow another pattern; not checked here
    match = _LOINC_RE.match(code)
    if match is None:
        return "a LOINC code is digits, a hyphen and one check digit"
    body, check = match.groups()
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value // 10 + value % 10
    if (10 - total % 10) % 10 != int(check):
        return "the mod-10 check digit does not match"
    return None
