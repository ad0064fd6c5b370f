"""Read the DICOM files to send, and keep back the ones that must not leave.

A file that is not DICOM, lacks a SOP Instance UID or (with a validation profile) has
validation errors is refused here, with the reasons, and never reaches the network: nothing
wrong is sent silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from icans_interop.dicom import part10
from icans_interop.net.transfer import TransferResult

#: Files larger than this are refused before being read (the SR validator's own limit).
MAX_FILE_BYTES: Final = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Prepared:
    """A file read for sending: its bytes and identity, or why it stays."""

    label: str
    data: bytes = b""
    sop_class_uid: str = ""
    sop_instance_uid: str = ""
    transfer_syntax_uid: str = ""
    refusal: TransferResult | None = None


def prepare_files(files: Sequence[Path], profile: str | None) -> list[Prepared]:
    return [prepare_file(path, profile) for path in files]


def prepare_file(path: Path, profile: str | None) -> Prepared:
    label = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return _refuse(label, f"larger than {MAX_FILE_BYTES} bytes")
        data = path.read_bytes()
    except OSError as exc:
        return _refuse(label, f"cannot read: {exc.strerror or exc}")
    try:  # the byte layer, within its limits: no pydicom call sees a deflate bomb
        sop_class, sop_instance, syntax = part10.identity(data)
    except part10.Part10Error as exc:
        return _refuse(label, f"not a DICOM file we can read ({exc.code}): {exc}")
    if not sop_class or not sop_instance or not syntax:
        return _refuse(label, "no SOP Class UID, SOP Instance UID or Transfer Syntax UID")
    if profile is not None:
        from icans_interop.validation.sr import validate_sr

        result = validate_sr(data, profile=profile, file_label=label)  # type: ignore[arg-type]
        if not result.valid:
            errors = tuple(i for i in result.sorted_issues() if i.severity == "error")
            return Prepared(label, sop_instance_uid=sop_instance, refusal=TransferResult(
                label, False, "not-sent", f"{len(errors)} validation errors (profile "
                f"{profile}); not sent", sop_instance, errors))
    return Prepared(label, data, sop_class, sop_instance, syntax)


def _refuse(label: str, why: str) -> Prepared:
    return Prepared(label, refusal=TransferResult(label, False, "not-sent", why))
