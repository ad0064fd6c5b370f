"""icans-interop: exchange and validate ICANS MRI and clinical findings as DICOM Structured
Reports (TID 1500) and FHIR resources.

For a caller who does not know the format::

    import icans_interop

    reading = icans_interop.read(source)          # SR, FHIR Bundle, filled form or case file
    report, issues = reading                      # the report (None if unreadable) and issues
    result = icans_interop.validate(source)       # a ValidationResult (profile icans)

A *source* is a path (``pathlib.Path``, ``os.PathLike`` or ``str``), bytes, JSON text, a binary
file object or the parsed model; :mod:`icans_interop.sources` states the one rule for a
``str`` and the byte limits. The names below are re-exported from the modules that define them
(listed in ``__all__``); the format adapters are the subpackages :mod:`icans_interop.dicom`,
:mod:`icans_interop.fhir` and :mod:`icans_interop.sdc`.

Importing this package is cheap: every name is loaded on first use (a module-level
``__getattr__``), so ``import icans_interop`` — and the command line's ``--help`` — does not
load pydicom, fhir.resources or pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from icans_interop.api import read
    from icans_interop.case import read_case
    from icans_interop.conversion import Output, OutputRejected, convert, write_fhir, write_sr
    from icans_interop.dicom.values import EncodingError
    from icans_interop.grading import GradeResult, compute_grade
    from icans_interop.issues import Issue, IssueCode, Severity
    from icans_interop.model import (
        Finding,
        IceItems,
        ImagingReport,
        NeuroAssessment,
        Patient,
        SignalObservation,
        SrInstance,
        Study,
        VerifyingObserver,
        json_schema,
        load_case,
    )
    from icans_interop.reading import Provenance, Reading
    from icans_interop.sniff import detect_fhir_version
    from icans_interop.validation.dispatch import validate
    from icans_interop.validation.fhir import validate_fhir
    from icans_interop.validation.result import ValidationResult
    from icans_interop.validation.sr import validate_sr

    __version__: str

#: Public name -> the module that defines it (imported on first use).
_EXPORTS: Final[dict[str, str]] = {
    # entry points for any format
    "read": "icans_interop.api",
    "validate": "icans_interop.validation.dispatch",
    "detect_fhir_version": "icans_interop.sniff",
    # the domain model (a case file is an ImagingReport as JSON)
    "ImagingReport": "icans_interop.model",
    "Patient": "icans_interop.model",
    "Study": "icans_interop.model",
    "Finding": "icans_interop.model",
    "SignalObservation": "icans_interop.model",
    "NeuroAssessment": "icans_interop.model",
    "IceItems": "icans_interop.model",
    "VerifyingObserver": "icans_interop.model",
    "SrInstance": "icans_interop.model",
    "load_case": "icans_interop.model",
    "json_schema": "icans_interop.model",
    "read_case": "icans_interop.case",
    # what readers and validators return
    "Issue": "icans_interop.issues",
    "IssueCode": "icans_interop.issues",
    "Severity": "icans_interop.issues",
    "Reading": "icans_interop.reading",
    "Provenance": "icans_interop.reading",
    "ValidationResult": "icans_interop.validation.result",
    "validate_sr": "icans_interop.validation.sr",
    "validate_fhir": "icans_interop.validation.fhir",
    # writing and converting with the validators on the way out
    "write_sr": "icans_interop.conversion",
    "write_fhir": "icans_interop.conversion",
    "convert": "icans_interop.conversion",
    "Output": "icans_interop.conversion",
    "OutputRejected": "icans_interop.conversion",
    "EncodingError": "icans_interop.dicom.values",
    # grading
    "compute_grade": "icans_interop.grading",
    "GradeResult": "icans_interop.grading",
}

#: Subpackages and modules reachable as attributes without an explicit import.
_SUBMODULES: Final = frozenset({
    "api", "case", "conversion", "dicom", "fhir", "grading", "issues", "knowledge", "model",
    "net", "profile", "reading", "render", "sdc", "sniff", "sources", "terminology",
    "validation"})

#: What integration code imports from the package (the test checks it matches _EXPORTS).
__all__ = [
    "EncodingError",
    "Finding",
    "GradeResult",
    "IceItems",
    "ImagingReport",
    "Issue",
    "IssueCode",
    "NeuroAssessment",
    "Output",
    "OutputRejected",
    "Patient",
    "Provenance",
    "Reading",
    "Severity",
    "SignalObservation",
    "SrInstance",
    "Study",
    "ValidationResult",
    "VerifyingObserver",
    "__version__",
    "compute_grade",
    "convert",
    "detect_fhir_version",
    "json_schema",
    "load_case",
    "read",
    "read_case",
    "validate",
    "validate_fhir",
    "validate_sr",
    "write_fhir",
    "write_sr",
]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("icans-interop")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0.0.0"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # the next access is a plain attribute lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})
