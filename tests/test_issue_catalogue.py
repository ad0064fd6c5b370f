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
