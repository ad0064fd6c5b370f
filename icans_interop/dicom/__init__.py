"""DICOM SR adapter: :func:`write` an ImagingReport as a TID 1500 SR, :func:`read` one back.

``write`` builds the Dataset directly with pydicom (module :mod:`.writer`, field-by-field
encoding table in :mod:`.layout`); :func:`to_bytes` encodes it as a Part 10 file
(:mod:`.codec`); ``read`` walks any SR content tree into the domain model and returns issues
instead of raising (module :mod:`.reader`).
"""

from __future__ import annotations

from icans_interop.dicom.codec import to_bytes
from icans_interop.dicom.reader import read
from icans_interop.dicom.sopclasses import SOP_CLASS_UIDS
from icans_interop.dicom.values import EncodingError
from icans_interop.dicom.writer import SourceImage, write

__all__ = ["SOP_CLASS_UIDS", "EncodingError", "SourceImage", "read", "to_bytes", "write"]
