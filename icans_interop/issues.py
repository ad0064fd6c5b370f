"""Structured findings about a record: what is wrong, where, and how bad.

Readers and validators never raise on bad input; they return :class:`Issue` s. Each issue has
a code from the documented catalogue (``data/issue-codes.csv``, the :class:`IssueCode`
members), a location in the format's own terms (SR content-item path such as ``1.4.2`` or a
FHIR element path such as ``Bundle.entry[2].resource.bodySite.coding[0]``) and a message that
names the offending value.

An :class:`Issue` refuses a code that is not in the catalogue when it is built (a
``ValueError``), whatever the call form, so an undocumented code cannot reach a user.
:func:`issues_from_validation_error` is the one place where a pydantic ``ValidationError``
(a case file, or a report a reader assembled) becomes issues.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from pydantic import ValidationError

#: Code system of the issue codes (exported as a CodeSystem by ``icans-interop terminology``).
ISSUE_CODE_SYSTEM = "https://fhir.icans-interop.org/CodeSystem/issue-code"

Severity = Literal["error", "warning", "information"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "information": 2}


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    code: str
    severity: Severity
    area: str
    description: str


def _load_catalogue() -> dict[str, CatalogueEntry]:
    text = resources.files("icans_interop.data").joinpath("issue-codes.csv").read_text("utf-8")
    entries: dict[str, CatalogueEntry] = {}
    for row in csv.DictReader(text.splitlines()):
        entries[row["code"]] = CatalogueEntry(row["code"], row["severity"],  # type: ignore[arg-type]
                                              row["area"], row["description"])
    return entries


_CATALOGUE: Final = _load_catalogue()
#: Every code of the catalogue: what :class:`Issue` checks a code against.
CODES: Final = frozenset(_CATALOGUE)

#: The issue codes as an enumeration built from ``data/issue-codes.csv`` (member names are the
#: codes in upper case with ``_`` for ``-``: ``IssueCode.UNKNOWN_ELEMENT == "unknown-element"``).
IssueCode = StrEnum(  # type: ignore[misc]
    "IssueCode", {code.upper().replace("-", "_"): code for code in _CATALOGUE},
    module=__name__)


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem (or note) found in a record; ``code`` must be in the catalogue."""

    severity: Severity
    code: str
    location: str
    message: str

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"issue code {self.code!r} is not in data/issue-codes.csv")
        if self.severity not in SEVERITY_ORDER:
            raise ValueError(f"issue severity {self.severity!r} is not error, warning or "
                             "information")

    def __str__(self) -> str:
        return f"{self.severity}: [{self.code}] {self.location}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"severity": self.severity, "code": str(self.code), "location": self.location,
                "message": self.message}


def error(code: str, location: str, message: str) -> Issue:
    return Issue("error", code, location, message)


def warning(code: str, location: str, message: str) -> Issue:
    return Issue("warning", code, location, message)


def information(code: str, location: str, message: str) -> Issue:
    return Issue("information", code, location, message)


def has_errors(issues: list[Issue] | tuple[Issue, ...]) -> bool:
    return any(i.severity == "error" for i in issues)


def catalogue() -> Mapping[str, CatalogueEntry]:
    """All issue codes the library can emit, with their default severity and meaning."""
    return _CATALOGUE


# --------------------------------------------------------------------------------------------
# pydantic validation errors


#: pydantic error types that mean the JSON text itself could not be parsed.
_UNPARSABLE: Final = frozenset({"json_invalid", "json_type"})
_MAX_REASON: Final = 300


def model_path(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """A pydantic error location as a model path: ``findings[0].sites[1]``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def shorten(value: object, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters (ending ``...`` when cut)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: How a format names one pydantic error: ``(code, message)``, or None to leave it out.
Describe = Callable[[Mapping[str, Any]], "tuple[str, str] | None"]


def issues_from_validation_error(
        exc: ValidationError, root_location: str = "", *, code: str = "invalid-value",
        locate: Callable[[str], str] | None = None, prefix: str = "",
        severity: Severity = "error",
        path_of: Callable[[tuple[int | str, ...]], str] | None = None,
        describe: Describe | None = None) -> list[Issue]:
    """One located issue per error of a pydantic ``ValidationError``, in pydantic's order.

    The location of an error at model path ``p`` (``findings[0].sites[1]``, built from the
    error's ``loc``) is ``locate(p)`` when a locator is given (a reader's provenance: where in
    the source the value came from), else ``root_location`` followed by ``p`` (``p`` alone, or
    ``(root)`` for an error of the whole document, when there is no root). The message names
    the model path (after ``prefix``, e.g. a model class name), pydantic's reason and the
    offending value, both shortened. JSON that cannot be parsed at all is ``unreadable`` whatever
    ``code`` says.

    A format with its own terms passes ``path_of`` (the error's ``loc`` -> its location, e.g.
    a FHIR element path; ``locate`` then applies to that) and ``describe`` (the pydantic error
    -> ``(code, message)``, or None to leave the error out, e.g. one the format's own walk
    already reported).
    """
    issues: list[Issue] = []
    for problem in exc.errors(include_url=False):
        kind = problem.get("type", "")
        loc = tuple(problem.get("loc", ()))
        path = path_of(loc) if path_of is not None else model_path(loc)
        if locate is not None:
            location = locate(path)
        elif root_location:
            location = f"{root_location}.{path}" if path else root_location
        else:
            location = path or "(root)"
        if describe is not None:
            described = describe(problem)
            if described is not None:
                issues.append(Issue(severity, described[0], location, described[1]))
            continue
        reason = str(problem.get("msg", "")).removeprefix("Value error, ")
        if len(reason) > _MAX_REASON:  # a model's own message may quote the value whole
            reason = reason[: _MAX_REASON - 3] + "..."
        named = f"{prefix}{path}" if path else prefix.rstrip(".")
        message = f"{named}: {reason}" if named else reason
        if kind != "missing" and kind not in _UNPARSABLE:
            message += f" (got {shorten(problem.get('input'))})"
        issues.append(Issue(severity, "unreadable" if kind in _UNPARSABLE else code, location,
                            message))
    return issues
