"""The three SR Storage SOP Classes the writer can produce, and what each allows.

The reader accepts any SR SOP Class; only these three are written because TID 1500 needs
CONTAINER, CODE, TEXT, UIDREF, PNAME and IMAGE items, which Basic Text SR forbids (CODE with
HAS CONCEPT MOD under items) and Key Object Selection cannot carry. UIDs are pydicom's
(``pydicom.uid``, PS3.4 Annex B).
"""

from __future__ import annotations

from typing import Final

from pydicom.uid import (
    BasicTextSRStorage,
    Comprehensive3DSRStorage,
    ComprehensiveSRStorage,
    EnhancedSRStorage,
    ExtensibleSRStorage,
)

#: Writer option -> SOP Class UID.
SOP_CLASS_UIDS: Final[dict[str, str]] = {
    "comprehensive-3d": str(Comprehensive3DSRStorage),
    "enhanced": str(EnhancedSRStorage),
    "comprehensive": str(ComprehensiveSRStorage),
}

#: SR SOP Classes whose content tree the reader walks (any other SOP Class is an error).
SR_SOP_CLASSES: Final[dict[str, str]] = {
    str(uid): uid.name.removesuffix(" Storage")
    for uid in (BasicTextSRStorage, EnhancedSRStorage, ComprehensiveSRStorage,
                Comprehensive3DSRStorage, ExtensibleSRStorage)
}


def sop_class_uid(name: str) -> str:
    """The SOP Class UID for a writer option; unknown names raise ``ValueError``."""
    try:
        return SOP_CLASS_UIDS[name]
    except KeyError:
        allowed = ", ".join(SOP_CLASS_UIDS)
        raise ValueError(f"unknown SR SOP class {name!r}; allowed: {allowed}") from None
