"""A deflate bomb — 1 MiB that inflates to 1 GiB — is refused by every path that reads DICOM
(validate, convert, report's source images, send, the Python readers and validators) in
bounded memory and time: each run in its own process, whose peak resident size is measured
there (< 200 MB; the inflater stops at the byte layer's 64 MiB limit)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from icans_interop import dicom
from icans_interop.model import load_case
from tests.clirun import CASE, WATCHDOG_S

PEAK_LIMIT_KB = 200 * 1024
#: Runs argv as a child and prints the child's exit status and peak resident size (KiB).
_MEASURE = ("import json, resource, subprocess, sys; "
            "done = subprocess.run(sys.argv[1:], capture_output=True); "
            "print(json.dumps([done.returncode, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
            "done.stderr.decode('utf-8', 'replace')]))")


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our SR's file meta, Deflated Explicit VR Little Endian, and a body of 1 GiB of zeros
    deflated to about 1 MiB."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_file_meta_info
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    meta = dicom.write(load_case(CASE.read_bytes())).file_meta
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buffer = DicomBytesIO()
    write_file_meta_info(buffer, meta, enforce_standard=True)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = b"\x00" * (1 << 20)
    body = b"".join(compressor.compress(zeros) for _ in range(1024)) + compressor.flush()
    path = tmp_path_factory.mktemp("bomb") / "bomb.dcm"
    path.write_bytes(b"\x00" * 128 + b"DICM" + buffer.getvalue() + body)
    assert path.stat().st_size < 2 << 20
    return path


def _measured(*argv: str | Path) -> tuple[int, int, str]:
    done = subprocess.run([sys.executable, "-c", _MEASURE, *map(str, argv)],
                          capture_output=True, text=True, timeout=WATCHDOG_S, check=True)
    code, peak_kb, stderr = json.loads(done.stdout)
    return code, peak_kb, stderr


def _cli(*args: str | Path) -> tuple[int, int, str]:
    return _measured(sys.executable, "-m", "icans_interop", *args)


def test_validate_refuses_it(bomb: Path) -> None:
    code, peak, stderr = _cli("validate", bomb)
    assert code == 3, stderr
    assert peak < PEAK_LIMIT_KB, f"{peak} KiB"


def test_convert_refuses_it(bomb: Path, tmp_path: Path) -> None:
    code, peak, stderr = _cli("convert", bomb, "--to", "fhir", "-o", tmp_path / "o.json")
    assert code == 3 and "too-large" in stderr, stderr
    assert peak < PEAK_LIMIT_KB, f"{peak} KiB"
    assert not (tmp_path / "o.json").exists()


def test_report_refuses_it_as_a_source_image(bomb: Path, tmp_path: Path) -> None:
    code, peak, stderr = _cli("report", CASE, "--sr", tmp_path / "r.dcm", "--source-image",
                              bomb)
    assert code == 3 and "too-large" in stderr, stderr
    assert peak < PEAK_LIMIT_KB, f"{peak} KiB"


def test_send_refuses_it_before_the_network(bomb: Path) -> None:
    code, peak, stderr = _cli("send", bomb, "--dimse", "ANY@127.0.0.1:9", "--dry-run")
    assert code == 1, stderr
    assert peak < PEAK_LIMIT_KB, f"{peak} KiB"


@pytest.mark.parametrize("call", [
    "dicom.read(path).issues",
    "validate_sr(path, 'base').issues",
    "validate_sr(path.read_bytes(), 'icans').issues",
    "conversion.convert(path.read_bytes(), 'sr', 'fhir')",
])
def test_the_python_readers_refuse_it(bomb: Path, call: str) -> None:
    code = ("import sys; from pathlib import Path; "
            "from icans_interop import conversion, dicom; "
            "from icans_interop.validation.sr import validate_sr; "
            f"path = Path({str(bomb)!r})\n"
            f"try:\n    found = {call}\n"
            "except conversion.OutputRejected as rejected:\n    found = rejected.issues\n"
            "print(sorted({i.code for i in found}))")
    status, peak, stderr = _measured(sys.executable, "-c", code)
    assert status == 0, stderr
    assert peak < PEAK_LIMIT_KB, f"{peak} KiB"


def test_the_python_readers_report_too_large(bomb: Path) -> None:
    """The same calls in this process: the issue is too-large, nothing else."""
    from icans_interop.validation.sr import validate_sr

    assert [i.code for i in dicom.read(bomb).issues] == ["too-large"]
    assert [i.code for i in validate_sr(bomb, "icans").issues] == ["too-large"]
    assert [i.code for i in validate_sr(io.BytesIO(bomb.read_bytes()).getvalue()).issues] \
        == ["too-large"]
