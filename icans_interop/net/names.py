"""File names for received records that a hostile sender cannot steer.

A SOP Instance UID arrives from the network; used as a file name as-is, ``../../x`` would
escape the folder and 200 characters would break it. :func:`spool_name` never uses the
received text at all (a digest of it); :func:`readable_name` keeps a well-formed UID (PS3.5
9.1: digits and dots, at most 64 characters) for people to read and hashes anything else.
"""

from __future__ import annotations

import hashlib

from icans_interop.model import is_dicom_uid


def digest(value: str | bytes) -> str:
    """32 hex characters of SHA-256: stable, fixed length, nothing of the input's syntax."""
    data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()[:32]


def spool_name(sop_instance_uid: str) -> str:
    """The spool file name of an instance: its UID's digest, so a resend replaces it."""
    return f"{digest(sop_instance_uid)}.dcm"


def readable_name(sop_instance_uid: str, suffix: str = ".dcm") -> str:
    """``<uid>.dcm`` for a valid UID, else ``x-<digest>.dcm``."""
    if is_dicom_uid(sop_instance_uid):
        return sop_instance_uid + suffix
    return f"x-{digest(sop_instance_uid)}{suffix}"
