"""Validation of incoming SR and FHIR records (and of case files).

Each format validator runs format-level checks, reads the record into the domain model and,
under the ``icans`` profile, applies the shared semantic rules of :mod:`.semantic`.
``validate_sr`` and ``validate_fhir`` are imported on first use, so importing this package
stays cheap (pydicom and fhir.resources load only when a validator is called).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from icans_interop.validation.result import ValidationResult

if TYPE_CHECKING:
    from icans_interop.validation.fhir import validate_fhir
    from icans_interop.validation.sr import validate_sr

__all__ = ["ValidationResult", "validate_fhir", "validate_sr"]


def __getattr__(name: str) -> Any:
    if name == "validate_sr":
        from icans_interop.validation.sr import validate_sr

        return validate_sr
    if name == "validate_fhir":
        from icans_interop.validation.fhir import validate_fhir

        return validate_fhir
    raise AttributeError(name)
