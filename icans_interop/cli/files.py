"""Reading inputs and writing outputs safely, the way any Unix tool is expected to.

* ``-`` is standard input (one input) or standard output (one output).
* A regular file (or a new one) is written all at once: the bytes go to a hidden temporary
  file beside it, created with mode 0666 so the umask applies as for any other tool (an
  existing file keeps its mode), then renamed over the target. Anything else the user names
  — ``/dev/stdout``, ``/dev/null``, a FIFO, a symbolic link — is never renamed over: it is
  opened and written as it is, like the shell's ``>``.
* No directory is created: a missing one is a usage error naming the user's path.
* Several outputs of one command are all written or none: every temporary file is complete
  before the first rename, the outputs must be distinct, and at most one may be ``-``.
* Every failure exits 2 (output) or 3 (input) with the user's own path and the operating
  system's reason, never the temporary file's name.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from icans_interop import files
from icans_interop.cli.app import EXIT_UNREADABLE, EXIT_USAGE, fail

STDIO: Final = "-"
#: The largest input read (the byte layer's own limit is 64 MiB; this only stops a runaway
#: stream such as ``/dev/zero`` before the readers see it).
MAX_INPUT_BYTES: Final = 256 * 1024 * 1024


def label(path: str | Path) -> str:
    """How an input or output is named in messages."""
    return "(standard input)" if str(path) == STDIO else str(path)


def read_input(path: str | Path, *, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a file, or of standard input for ``-``; exit 3 when they cannot be read.

    At most ``limit`` + 1 bytes are read, so the readers can report an oversized input
    themselves without this reading it whole.
    """
    try:
        if str(path) == STDIO:
            return sys.stdin.buffer.read(limit + 1)
        with open(path, "rb") as handle:
            return handle.read(limit + 1)
    except IsADirectoryError:
        fail(f"{label(path)}: is a directory, not a file", EXIT_UNREADABLE)
    except OSError as exc:
        fail(f"{label(path)}: cannot read ({exc.strerror or exc})", EXIT_UNREADABLE)


@dataclass(frozen=True)
class _Output:
    target: str
    data: bytes


class Outputs:
    """The files one command writes, written all together or not at all (see the module
    docstring). ``add`` each, then ``commit``; nothing touches the disk before ``commit``."""

    def __init__(self) -> None:
        self._items: list[_Output] = []

    def add(self, target: str | Path, data: bytes) -> None:
        self._items.append(_Output(str(target), data))

    @property
    def targets(self) -> list[str]:
        return [item.target for item in self._items]

    def check(self) -> None:
        """Exit 2 unless every output can be attempted (see :func:`check_targets`)."""
        check_targets(self.targets)

    def commit(self) -> list[str]:
        """Write every output; returns the targets. Exit 2 (nothing of ours left behind:
        no temporary file, no renamed output) when one cannot be written."""
        self.check()
        staged: list[tuple[str, str]] = []  # (temporary file, target)
        direct: list[_Output] = []
        try:
            for item in self._items:
                if _renamable(item.target):
                    staged.append((_stage(item), item.target))
                else:
                    direct.append(item)
            for item in direct:  # devices, pipes, links: written as they are
                _write_direct(item)
            for temporary, target in staged:
                _rename(temporary, target)
        finally:
            for temporary, _target in staged:
                files.discard(temporary)
        return self.targets


def write_outputs(*items: tuple[str | Path, bytes]) -> list[str]:
    """Write ``(target, data)`` pairs all-or-nothing; returns the targets."""
    outputs = Outputs()
    for target, data in items:
        outputs.add(target, data)
    return outputs.commit()


def is_standard_output(target: str) -> bool:
    """True for ``-`` and for any name of the file standard output is (``/dev/stdout``,
    ``/proc/self/fd/1``): a command's summary then goes to standard error."""
    if target == STDIO:
        return True
    try:
        ours, theirs = os.fstat(sys.stdout.fileno()), os.stat(target)
    except (OSError, ValueError):
        return False
    return (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino)


def check_targets(targets: list[str]) -> None:
    """Exit 2 unless every output can be attempted: distinct targets, at most one ``-``,
    existing parent directories, no directory named as a file. Commands call it before
    their work, so a typo fails at once."""
    seen: dict[str, str] = {}
    for target in targets:
        key = _identity(target)
        if key in seen:
            fail(f"{label(target)} is given for two outputs; give each output its own path",
                 EXIT_USAGE)
        seen[key] = target
        if target == STDIO:
            continue
        if os.path.isdir(target):
            fail(f"cannot write {target}: is a directory", EXIT_USAGE)
        parent = os.path.dirname(target) or "."
        if not os.path.isdir(parent):
            fail(f"cannot write {target}: no such directory {parent} (directories are not "
                 "created)", EXIT_USAGE)


def _identity(target: str) -> str:
    """Two names of one file compare equal (``a.json``, ``./a.json``, a link to it)."""
    if target == STDIO:
        return STDIO
    try:
        info = os.stat(target)
        return f"inode:{info.st_dev}:{info.st_ino}"
    except OSError:
        return os.path.realpath(target)


def _renamable(target: str) -> bool:
    if target == STDIO:
        return False
    try:
        return files.is_renamable(target)
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}", EXIT_USAGE)


def _stage(item: _Output) -> str:
    try:
        return files.stage(item.target, item.data)
    except OSError as exc:
        fail(f"cannot write {item.target}: {exc.strerror or exc}", EXIT_USAGE)


def _write_direct(item: _Output) -> None:
    try:
        if item.target == STDIO:
            sys.stdout.flush()
            sys.stdout.buffer.write(item.data)
            sys.stdout.buffer.flush()
        else:
            files.write_direct(item.target, item.data)
    except OSError as exc:
        fail(f"cannot write {label(item.target)}: {exc.strerror or exc}", EXIT_USAGE)


def _rename(temporary: str, target: str) -> None:
    try:
        files.install(temporary, target)
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}", EXIT_USAGE)
