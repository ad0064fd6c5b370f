"""Tell what a file is from its first bytes: a DICOM file, a FHIR resource or a case file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

Kind = Literal["sr", "fhir", "case", "unknown", "unreadable"]
_HEAD = 4096
_RESOURCE_TYPE = re.compile(rb'"resourceType"\s*:')


def kind_of_bytes(head: bytes) -> Kind:
    """Classify by content, never by file name."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "sr"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] in (b"{", b"["):
        if _RESOURCE_TYPE.search(head):
            return "fhir"
        if b'"patient"' in head and b'"study"' in head:
            return "case"
        return "fhir"  # JSON of unknown shape: the FHIR validator says what is wrong
    if head[:2] in (b"\x02\x00", b"\x08\x00") and len(head) >= 8:
        return "sr"  # a DICOM data set without the Part 10 preamble
    return "unknown"


def kind_of_path(path: Path) -> Kind:
    try:
        with path.open("rb") as handle:
            return kind_of_bytes(handle.read(_HEAD))
    except OSError:
        return "unreadable"
