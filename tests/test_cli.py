"""The command line: exit codes, messages with locations, and no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from icans_interop.cli import app

ROOT = Path(__file__).resolve().parent.parent
VALID = sorted((ROOT / "fixtures" / "valid").glob("*.json"))
INVALID_DIR = ROOT / "fixtures" / "invalid"
EXPECTED = json.loads((INVALID_DIR / "expected.json").read_text())
runner = CliRunner()


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_check_valid_cases(path: Path) -> None:
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout


@pytest.mark.parametrize("name", sorted(EXPECTED), ids=str)
def test_check_invalid_cases(name: str) -> None:
    result = runner.invoke(app, ["check", str(INVALID_DIR / name)])
    assert result.exit_code == EXPECTED[name]["exit"], result.output
    assert EXPECTED[name]["message"] in result.output
    assert "Traceback" not in result.output


def test_check_missing_file() -> None:
    result = runner.invoke(app, ["check", "/nonexistent/case.json"])
    assert result.exit_code == 3
    assert "cannot read" in result.output


def test_grade_shows_domains_and_icd_code() -> None:
    result = runner.invoke(app, ["grade", str(ROOT / "fixtures/valid/example-grade3-deep.json")])
    assert result.exit_code == 0, result.output
    assert "ICANS grade 3" in result.stdout
    assert "G92.03" in result.stdout


def test_grade_mismatch_exits_1() -> None:
    result = runner.invoke(app, ["grade", str(INVALID_DIR / "grade-mismatch.json")])
    assert result.exit_code == 1
    assert "recorded grade 1 differs from computed grade 3" in result.output


def test_codes_json_lists_every_code_with_its_source() -> None:
    result = runner.invoke(app, ["codes", "--format", "json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert {"G92.03", "24590-2", "5366008", "HP:0002381", "C0034375"} <= {r["code"] for r in rows}
    assert all(r["source"] for r in rows)


def test_codes_unknown_role() -> None:
    result = runner.invoke(app, ["codes", "--role", "colour"])
    assert result.exit_code == 2
    assert "unknown role 'colour'" in result.output


def test_schema_is_json() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"].startswith("ICANS imaging report")


def test_knowledge_shows_nesting() -> None:
    result = runner.invoke(app, ["knowledge"])
    assert result.exit_code == 0
    assert "Cerebrum \u203a Temporal lobe \u203a Hippocampus" in result.stdout
    assert "Leptomeningeal enhancement" in result.stdout


def test_report_needs_an_output() -> None:
    result = runner.invoke(app, ["report", str(VALID[0])])
    assert result.exit_code == 2
    assert "nothing to write" in result.output
