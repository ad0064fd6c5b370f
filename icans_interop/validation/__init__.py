"""Validation of incoming SR and FHIR records (and of case files).

Each format validator runs format-level checks, reads the record into the domain model and,
under the ``icans`` profile, applies the shared semantic rules of :mod:`.semantic`.
"""

from icans_interop.validation.result import ValidationResult

__all__ = ["ValidationResult"]
