"""Files as any Unix tool treats them (issue: safe to embed), each through a real process:
devices and links are written through, never replaced; created files honour the umask;
``-`` is standard input/output; no directory is created; several outputs are all or none."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.clirun import CASE, icans, text


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.skipif(not os.path.islink("/dev/stdout"), reason="/dev/stdout is not a link here")
def test_dev_stdout_is_written_through_not_replaced() -> None:
    before = os.readlink("/dev/stdout")
    result = icans("report", CASE, "--fhir", "/dev/stdout")
    assert result.returncode == 0, text(result)
    assert os.path.islink("/dev/stdout") and os.readlink("/dev/stdout") == before
    assert json.loads(result.stdout)["resourceType"] == "Bundle"
    assert b"wrote" not in result.stdout  # the summary went to standard error


def test_dev_null_stays_a_device() -> None:
    result = icans("report", CASE, "--sr", "/dev/null")
    assert result.returncode == 0, text(result)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_symbolic_link_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    result = icans("report", CASE, "--fhir", link)
    assert result.returncode == 0, text(result)
    assert link.is_symlink() and json.loads(real.read_text())["resourceType"] == "Bundle"


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_created_files_honour_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    sr, bundle = tmp_path / "r.dcm", tmp_path / "r.json"
    result = icans("report", CASE, "--sr", sr, "--fhir", bundle, umask=umask)
    assert result.returncode == 0, text(result)
    assert stat.S_IMODE(sr.stat().st_mode) == mode
    assert stat.S_IMODE(bundle.stat().st_mode) == mode


def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    bundle = tmp_path / "r.json"
    bundle.write_text("old")
    bundle.chmod(0o640)
    result = icans("report", CASE, "--fhir", bundle, umask=0o022)
    assert result.returncode == 0, text(result)
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o640
    assert json.loads(bundle.read_text())["resourceType"] == "Bundle"
    assert _listing(tmp_path) == ["r.json"]  # no temporary file left


def test_dash_writes_standard_output(tmp_path: Path) -> None:
    result = icans("report", CASE, "--fhir", "-", cwd=tmp_path)
    assert result.returncode == 0, text(result)
    assert json.loads(result.stdout)["resourceType"] == "Bundle"
    assert _listing(tmp_path) == []  # no file called "-"


def test_dash_reads_standard_input_in_check_validate_report(tmp_path: Path) -> None:
    case = CASE.read_bytes()
    checked = icans("check", "-", stdin=case)
    assert checked.returncode == 0 and b"(standard input): valid" in checked.stdout
    sr = icans("report", "-", "--sr", "-", stdin=case)
    assert sr.returncode == 0, text(sr)
    assert sr.stdout[128:132] == b"DICM"
    validated = icans("validate", "-", "--format", "json", stdin=sr.stdout)
    assert validated.returncode == 0, text(validated)
    assert json.loads(validated.stdout)[0]["kind"] == "sr"


def test_two_outputs_on_standard_output_are_refused() -> None:
    result = icans("report", CASE, "--sr", "-", "--fhir", "-")
    assert result.returncode == 2
    assert b"is given for two outputs" in result.stderr and result.stdout == b""


def test_a_missing_directory_is_not_created(tmp_path: Path) -> None:
    target = tmp_path / "typo" / "r.json"
    result = icans("report", CASE, "--fhir", target)
    assert result.returncode == 2
    assert f"cannot write {target}: no such directory {target.parent}".encode() in result.stderr
    assert not target.parent.exists()


def test_an_unwritable_target_names_the_users_path_not_a_temporary_file() -> None:
    result = icans("report", CASE, "--sr", "/proc/x.dcm")
    assert result.returncode == 2, text(result)
    assert b"cannot write /proc/x.dcm:" in result.stderr
    assert b".tmp" not in result.stderr and b"Traceback" not in result.stderr


def test_one_path_for_two_outputs_is_refused(tmp_path: Path) -> None:
    same = tmp_path / "x"
    result = icans("report", CASE, "--sr", same, "--fhir", tmp_path / "." / "x")
    assert result.returncode == 2
    assert b"is given for two outputs" in result.stderr
    assert _listing(tmp_path) == []


def test_outputs_are_all_or_nothing(tmp_path: Path) -> None:
    """The SR can be written, the bundle cannot: neither is left behind."""
    sr = tmp_path / "r.dcm"
    result = icans("report", CASE, "--sr", sr, "--fhir", "/proc/self/x.json")
    assert result.returncode == 2, text(result)
    assert _listing(tmp_path) == []


def test_a_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    sr = tmp_path / "r.dcm"
    sr.write_bytes(b"previous")
    result = icans("report", CASE, "--sr", sr, "--fhir", "/proc/self/x.json")
    assert result.returncode == 2
    assert sr.read_bytes() == b"previous" and _listing(tmp_path) == ["r.dcm"]


def test_terminology_needs_an_existing_folder_and_takes_o(tmp_path: Path) -> None:
    missing = icans("terminology", "-o", tmp_path / "nope")
    assert missing.returncode == 2 and b"no such directory" in missing.stderr
    assert not (tmp_path / "nope").exists()
    made = icans("terminology", "-o", tmp_path)
    assert made.returncode == 0, text(made)
    assert "CodeSystem-issue-code.json" in _listing(tmp_path)


def test_fetch_does_not_create_its_folder(tmp_path: Path) -> None:
    result = icans("fetch", "--dicomweb", "http://127.0.0.1:9/dicom-web", "--study", "1.2.3",
                   "-o", tmp_path / "nope")
    assert result.returncode == 2 and b"no such directory" in result.stderr
    assert not (tmp_path / "nope").exists()
