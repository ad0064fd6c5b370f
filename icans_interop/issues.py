"""Structured findings about a record: what is wrong, where, and how bad.

Readers and validators never raise on bad input; they return :class:`Issue` s. Each issue has
a code from the documented catalogue (``data/issue-codes.csv``), a location in the format's own
terms (SR content-item path such as ``1.4.2`` or a FHIR element path such as
``Bundle.entry[2].resource.bodySite.coding[0]``) and a message that names the offending value.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal

#: Code system of the issue codes (exported as a CodeSystem by ``icans-interop terminology``).
ISSUE_CODE_SYSTEM = "https://fhir.icans-interop.org/CodeSystem/issue-code"

Severity = Literal["error", "warning", "information"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "information": 2}


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem (or note) found in a record."""

    severity: Severity
    code: str
    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: [{self.code}] {self.location}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"severity": self.severity, "code": self.code, "location": self.location,
                "message": self.message}


def error(code: str, location: str, message: str) -> Issue:
    return Issue("error", code, location, message)


def warning(code: str, location: str, message: str) -> Issue:
    return Issue("warning", code, location, message)


def information(code: str, location: str, message: str) -> Issue:
    return Issue("information", code, location, message)


def has_errors(issues: list[Issue] | tuple[Issue, ...]) -> bool:
    return any(i.severity == "error" for i in issues)


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    code: str
    severity: Severity
    area: str
    description: str


@lru_cache(maxsize=1)
def catalogue() -> dict[str, CatalogueEntry]:
    """All issue codes the library can emit, with their default severity and meaning."""
    text = resources.files("icans_interop.data").joinpath("issue-codes.csv").read_text("utf-8")
    entries: dict[str, CatalogueEntry] = {}
    for row in csv.DictReader(text.splitlines()):
        entries[row["code"]] = CatalogueEntry(row["code"], row["severity"],  # type: ignore[arg-type]
                                              row["area"], row["description"])
    return entries
