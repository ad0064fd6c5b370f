"""Run the ``icans-interop`` command as a user does: a separate process, real standard
streams, real exit codes (``python -m icans_interop``, the installed entry point's code)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "fixtures" / "valid" / "example-grade3-deep.json"
IMAGING_ONLY = ROOT / "fixtures" / "valid" / "imaging-only-no-assessment.json"
INVALID = ROOT / "fixtures" / "invalid"
#: Generous: only catches a hang, never judges speed.
WATCHDOG_S = 120


def icans(*args: str | Path, stdin: bytes | None = None, cwd: Path | None = None,
          umask: int | None = None) -> subprocess.CompletedProcess[bytes]:
    """``icans-interop ARGS`` in a subprocess; stdout and stderr captured as bytes."""
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("ICANS_INTEROP_DEBUG", None)

    def set_umask() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run([sys.executable, "-m", "icans_interop", *map(str, args)],
                          input=stdin if stdin is not None else b"", capture_output=True,
                          cwd=cwd, env=env, timeout=WATCHDOG_S, check=False,
                          preexec_fn=set_umask if umask is not None else None)


def text(result: subprocess.CompletedProcess[bytes]) -> str:
    """Both streams, decoded, for assertion messages and searches."""
    return result.stdout.decode("utf-8", "replace") + result.stderr.decode("utf-8", "replace")
