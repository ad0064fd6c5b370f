"""A validation result per file, and its three renderings: text, JSON and OperationOutcome."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from icans_interop.issues import ISSUE_CODE_SYSTEM, SEVERITY_ORDER, Issue

#: Extension naming the file an OperationOutcome is about.
SOURCE_FILE_EXTENSION = "https://fhir.icans-interop.org/StructureDefinition/source-file"

#: Issue code -> FHIR IssueType (http://hl7.org/fhir/issue-type), for OperationOutcome.
_FHIR_ISSUE_TYPE = {
    "unreadable": "structure",
    "case-invalid": "structure",
    "missing-required": "required",
    "invalid-value": "value",
    "unknown-code": "code-invalid",
    "unknown-concept-key": "code-invalid",
    "wrong-role": "code-invalid",
    "duplicate-uid": "duplicate",
    "too-deep": "too-costly",
    "too-large": "too-costly",
    "too-many-issues": "too-costly",
    "not-in-value-set": "code-invalid",
    "code-unknown": "code-invalid",
    "code-not-billable": "code-invalid",
    "invariant-failed": "invariant",
    "dangling-reference": "not-found",
    "unresolved-reference": "not-found",
    "reference-wrong-type": "structure",
    "grade-mismatch": "business-rule",
    "contradiction": "business-rule",
}


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """What validating one file found."""

    file: str
    kind: str  # "sr", "fhir", "case" or "unknown"
    issues: tuple[Issue, ...] = field(default_factory=tuple)
    #: The FHIR version the input was validated as ("R4" or "R5"; given or detected), for
    #: FHIR input; None otherwise.
    fhir_version: str | None = None

    @property
    def valid(self) -> bool:
        return not any(i.severity == "error" for i in self.issues)

    def count(self, severity: str) -> int:
        return sum(1 for i in self.issues if i.severity == severity)

    def sorted_issues(self) -> list[Issue]:
        return sorted(self.issues, key=lambda i: SEVERITY_ORDER[i.severity])

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"file": self.file, "kind": self.kind, "valid": self.valid}
        if self.fhir_version is not None:
            data["fhir_version"] = self.fhir_version
        data["issues"] = [i.to_dict() for i in self.sorted_issues()]
        return data

    def to_text(self) -> str:
        status = "valid" if self.valid else "INVALID"
        kind = self.kind if self.fhir_version is None else f"{self.kind} {self.fhir_version}"
        lines = [f"{self.file}: {status} ({kind}; {self.count('error')} errors, "
                 f"{self.count('warning')} warnings)"]
        lines += [f"  {issue}" for issue in self.sorted_issues()]
        return "\n".join(lines)

    def to_operation_outcome(self) -> dict[str, Any]:
        """A FHIR R4 OperationOutcome (plain JSON) for this file."""
        issues = [{
            "severity": issue.severity,
            "code": _FHIR_ISSUE_TYPE.get(issue.code, "invalid" if issue.severity == "error"
                                         else "informational"),
            "details": {"coding": [{"system": ISSUE_CODE_SYSTEM, "code": issue.code}],
                        "text": issue.message},
            "diagnostics": issue.message,
            "location": [issue.location],
            "expression": [issue.location] if issue.location.startswith(
                ("Bundle", "Observation", "Condition", "DiagnosticReport", "Patient",
                 "ImagingStudy", "ServiceRequest", "BodyStructure")) else [],
        } for issue in self.sorted_issues()]
        for issue in issues:
            if not issue["expression"]:
                del issue["expression"]
        if not issues:
            issues = [{"severity": "information", "code": "informational",
                       "diagnostics": f"{self.file}: no issues"}]
        return {"resourceType": "OperationOutcome",
                "extension": [{"url": SOURCE_FILE_EXTENSION, "valueString": self.file}],
                "issue": issues}

    def file_uri(self) -> str | None:
        """The file as an absolute URI (a URL stays as it is; standard input has none)."""
        if "://" in self.file:
            return self.file
        if self.file.startswith(("(", "<")):  # (stdin), <bytes>, <input>: no file
            return None
        return Path(self.file).resolve().as_uri()


def render_json(results: Sequence[ValidationResult]) -> str:
    return json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False)


def render_outcomes(results: Sequence[ValidationResult]) -> str:
    if len(results) == 1:
        return json.dumps(results[0].to_operation_outcome(), indent=2, ensure_ascii=False)
    entries = []
    for result in results:
        uri = result.file_uri()
        entry = {"fullUrl": uri} if uri else {}
        entries.append({**entry, "resource": result.to_operation_outcome()})
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    return json.dumps(bundle, indent=2, ensure_ascii=False)
