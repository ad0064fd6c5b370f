"""The issue-code catalogue is complete, documented in the README, and used consistently."""

from __future__ import annotations

import re
from pathlib import Path

from icans_interop.issues import catalogue

ROOT = Path(__file__).resolve().parent.parent
_CALLS = (re.compile(r"\b(?:error|warning|information)\(\s*\"([a-z][a-z0-9-]+)\"", re.S),
          re.compile(r"\bIssue\(\s*\"(?:error|warning|information)\",\s*\"([a-z][a-z0-9-]+)\"",
                     re.S))


def _codes_in_source() -> set[str]:
    codes: set[str] = set()
    for path in (ROOT / "icans_interop").rglob("*.py"):
        text = path.read_text("utf-8")
        for pattern in _CALLS:
            codes |= set(pattern.findall(text))
    return codes


def test_every_emitted_code_is_catalogued() -> None:
    missing = _codes_in_source() - set(catalogue())
    assert not missing, f"codes emitted but not in data/issue-codes.csv: {sorted(missing)}"


def test_catalogue_entries_are_well_formed() -> None:
    for code, entry in catalogue().items():
        assert re.fullmatch(r"[a-z][a-z0-9-]+", code)
        assert entry.severity in ("error", "warning", "information")
        assert len(entry.description) > 20


def test_readme_documents_every_code() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    undocumented = [code for code in catalogue() if f"| `{code}` |" not in readme]
    assert not undocumented, f"README issue table lacks: {undocumented}"


def test_an_unknown_code_is_refused_when_the_issue_is_built() -> None:
    import pytest

    from icans_interop.issues import Issue, error, warning

    with pytest.raises(ValueError, match=r"'no-such-code' is not in data/issue-codes\.csv"):
        error("no-such-code", "here", "message")
    with pytest.raises(ValueError, match=r"'Unreadable' is not in data/issue-codes\.csv"):
        Issue(severity="warning", code="Unreadable", location="", message="")
    with pytest.raises(ValueError, match=r"severity 'fatal'"):
        Issue("fatal", "unreadable", "", "")  # type: ignore[arg-type]
    assert warning("unknown-code", "1.2", "m").code == "unknown-code"


def test_every_catalogue_row_is_an_issue_code_member() -> None:
    from icans_interop.issues import IssueCode

    text = (ROOT / "icans_interop" / "data" / "issue-codes.csv").read_text("utf-8")
    rows = [line.split(",", 1)[0] for line in text.splitlines()[1:] if line.strip()]
    assert len(rows) == len(set(rows)), "a code appears twice in the catalogue"
    assert [member.value for member in IssueCode] == rows
    for code in rows:
        member = IssueCode(code)
        assert member == code and IssueCode[code.upper().replace("-", "_")] is member
    assert IssueCode.UNKNOWN_ELEMENT == "unknown-element"  # type: ignore[attr-defined]
