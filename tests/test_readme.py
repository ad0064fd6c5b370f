"""The README's Python example runs as written, and its commands exist."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text("utf-8")


def test_python_example_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
                             ) -> None:
    (block,) = re.findall(r"```python\n(.*?)```", README, re.S)
    monkeypatch.chdir(ROOT)
    exec(compile(block, "README.md", "exec"), {})  # runs our own documentation
    assert capsys.readouterr().out.split() == [
        "Bundle.entry[13].resource.includedStructure[0].structure", "3", "True", "R5", "True"]


def test_documented_cli_commands_exist() -> None:
    from typer.main import get_command

    from icans_interop.cli import app

    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    documented = set(re.findall(r"^icans-interop (\w+)", README, re.M))
    assert documented <= commands
    assert {"knowledge", "codes", "schema", "check", "grade", "report", "convert", "validate",
            "terminology"} <= documented


def test_make_targets_exist() -> None:
    makefile = (ROOT / "Makefile").read_text("utf-8")
    for target in ("run", "test", "fuzz", "bench"):
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "make test" in (ROOT / ".ci" / "run").read_text("utf-8")
    assert os.access(ROOT / ".ci" / "run", os.R_OK)
