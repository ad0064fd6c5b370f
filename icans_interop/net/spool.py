"""A durable spool and quarantine for received SRs: nothing acknowledged is ever lost.

Layout (one gateway per spool, enforced with an exclusive lock on ``.lock``)::

    SPOOL/<digest>.dcm          admitted, waiting to be converted and sent
    SPOOL/.receiving/           where the DICOM server writes datasets while they arrive
    SPOOL/.tmp-*                being admitted (removed on start: never acknowledged)
    QUARANTINE/<digest>.dcm     refused (validation errors, or the EHR said no)
    QUARANTINE/<digest>.json    its OperationOutcome (reason and received UID as extensions)

:meth:`Spool.admit` makes a file durable *before* the sender is told Success: the bytes are
written (or hard-linked) under a temporary name, ``fsync``-ed, renamed into place and the
folder ``fsync``-ed. File names are :func:`~.names.spool_name` digests of the SOP Instance
UID, never the received text, so a resend of the same instance replaces its earlier copy.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Final

from icans_interop.net.names import spool_name

RECEIVING: Final = ".receiving"
_TMP_PREFIX: Final = ".tmp-"
QUARANTINE_REASON: Final = "https://fhir.icans-interop.org/StructureDefinition/quarantine-reason"
RECEIVED_UID: Final = "https://fhir.icans-interop.org/StructureDefinition/received-sop-instance-uid"


class SpoolError(RuntimeError):
    """The spool cannot be used (locked by another gateway, not writable)."""


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable."""
    handle = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def write_durably(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically and durably (temp file, fsync, rename)."""
    tmp = target.parent / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(target.parent)


class Spool:
    """The spool and quarantine folders of one gateway."""

    def __init__(self, spool_dir: Path, quarantine_dir: Path) -> None:
        self.dir = spool_dir
        self.quarantine_dir = quarantine_dir
        self.receiving = spool_dir / RECEIVING
        self._lock_handle: int | None = None
        self._mutex = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------

    def open(self) -> list[str]:
        """Create the folders, take the lock, clear half-written files; the pending names."""
        for folder in (self.dir, self.quarantine_dir, self.receiving):
            folder.mkdir(parents=True, exist_ok=True)
        handle = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(handle)
            raise SpoolError(f"{self.dir} is in use by another gateway") from None
        self._lock_handle = handle
        for folder in (self.dir, self.quarantine_dir):
            for stale in folder.glob(f"{_TMP_PREFIX}*"):
                stale.unlink(missing_ok=True)
        self.clean_receiving(max_age=0.0)
        return self.pending()

    def close(self) -> None:
        if self._lock_handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            os.close(self._lock_handle)
            self._lock_handle = None

    def pending(self) -> list[str]:
        """Names of the admitted files, oldest first."""
        entries = []
        for path in self.dir.glob("*.dcm"):
            with contextlib.suppress(FileNotFoundError):
                entries.append((path.stat().st_mtime, path.name))
        return [name for _, name in sorted(entries)]

    def clean_receiving(self, max_age: float) -> int:
        """Remove partial receptions untouched for ``max_age`` seconds (aborted transfers)."""
        removed = 0
        limit = time.time() - max_age
        for path in self.receiving.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime <= limit:
                    path.unlink()
                    removed += 1
        return removed

    # -- files ---------------------------------------------------------------------------

    def path(self, name: str) -> Path:
        return self.dir / name

    def admit(self, source: Path, sop_instance_uid: str) -> str:
        """Make the received file ``source`` durable in the spool; returns its name.

        ``source`` stays where it is (its owner removes it): on the same file system it is
        hard-linked, elsewhere copied.
        """
        name = spool_name(sop_instance_uid)
        tmp = self.dir / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
        try:
            try:
                os.link(source, tmp)
            except OSError:
                shutil.copyfile(source, tmp)
            handle = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(handle)
            finally:
                os.close(handle)
            os.replace(tmp, self.dir / name)
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(self.dir)
        return name

    def done(self, name: str) -> None:
        """The file reached its destination: remove it from the spool."""
        (self.dir / name).unlink(missing_ok=True)
        fsync_dir(self.dir)

    def quarantine(self, name: str, outcome: dict[str, Any], reason: str,
                   sop_instance_uid: str) -> Path:
        """Move the file to the quarantine with its OperationOutcome (``<stem>.json``) beside
        it; the reason and the received SOP Instance UID travel as extensions of it."""
        stem = name.removesuffix(".dcm")
        note = {**outcome, "id": stem, "extension": [
            *outcome.get("extension", []),
            {"url": QUARANTINE_REASON, "valueString": reason},
            {"url": RECEIVED_UID, "valueString": sop_instance_uid[:256]}]}
        write_durably(self.quarantine_dir / f"{stem}.json",
                      json.dumps(note, indent=2, ensure_ascii=False).encode("utf-8"))
        source, target = self.dir / name, self.quarantine_dir / name
        try:
            os.replace(source, target)
        except OSError:  # another file system: copy durably, then drop the spooled copy
            write_durably(target, source.read_bytes())
            source.unlink()
        fsync_dir(self.quarantine_dir)
        fsync_dir(self.dir)
        return target
