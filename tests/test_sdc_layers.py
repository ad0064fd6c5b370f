"""The SDC adapter sits beside the DICOM and FHIR adapters: it imports neither of them, nor the
validators or the CLI; the report renderer sits above the adapters and below the CLI.

(An import-linter contract will enforce the whole layering; this keeps the new packages honest
until then.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "icans_interop"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


@pytest.mark.parametrize(("package", "forbidden"), [
    ("sdc", ("icans_interop.dicom", "icans_interop.fhir", "icans_interop.validation",
             "icans_interop.cli", "icans_interop.render")),
    ("render", ("icans_interop.cli",)),
])
def test_layering(package: str, forbidden: tuple[str, ...]) -> None:
    modules = sorted((PACKAGE / package).rglob("*.py"))
    assert modules
    for module in modules:
        bad = {name for name in _imports(module)
               if any(name == f or name.startswith(f + ".") for f in forbidden)}
        assert not bad, f"{module.relative_to(PACKAGE)} imports {sorted(bad)}"
