"""The three SR Storage SOP Classes the writer can produce, and what each allows.

The reader accepts any SR SOP Class; only these three are written because TID 1500 needs
CONTAINER, CODE, TEXT, UIDREF, PNAME and IMAGE items, which Basic Text SR forbids (CODE with
HAS CONCEPT MOD under items) and Key Object Selection cannot carry. UIDs are from PS3.4 Annex B
(checked against highdicom's ``sop_class_iod_map.json``, 2026b).
"""

from __future__ import annotations

from typing import Final, Literal

SopClassName = Literal["comprehensive-3d", "enhanced", "comprehensive"]

#: Writer option -> SOP Class UID.
SOP_CLASS_UIDS: Final[dict[str, str]] = {
    "comprehensive-3d": "1.2.840.10008.5.1.4.1.1.88.34",
    "enhanced": "1.2.840.10008.5.1.4.1.1.88.22",
    "comprehensive": "1.2.840.10008.5.1.4.1.1.88.33",
}

#: SR SOP Classes whose content tree the reader walks (any other SOP Class is an error).
SR_SOP_CLASSES: Final[dict[str, str]] = {
    "1.2.840.10008.5.1.4.1.1.88.11": "Basic Text SR",
    "1.2.840.10008.5.1.4.1.1.88.22": "Enhanced SR",
    "1.2.840.10008.5.1.4.1.1.88.33": "Comprehensive SR",
    "1.2.840.10008.5.1.4.1.1.88.34": "Comprehensive 3D SR",
    "1.2.840.10008.5.1.4.1.1.88.35": "Extensible SR",
}


def sop_class_uid(name: str) -> str:
    """The SOP Class UID for a writer option; unknown names raise ``ValueError``."""
    try:
        return SOP_CLASS_UIDS[name]
    except KeyError:
        allowed = ", ".join(SOP_CLASS_UIDS)
        raise ValueError(f"unknown SR SOP class {name!r}; allowed: {allowed}") from None
