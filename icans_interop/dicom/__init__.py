"""DICOM SR adapter: :func:`write` an ImagingReport as a TID 1500 SR, :func:`read` one back.

``write`` builds the Dataset directly with pydicom (module :mod:`.writer`, encoding table in
its docstring); ``read`` walks any SR content tree into the domain model and returns issues
instead of raising (module :mod:`.reader`).
"""

from __future__ import annotations

from icans_interop.dicom.reader import read
from icans_interop.dicom.sopclasses import SOP_CLASS_UIDS
from icans_interop.dicom.writer import EncodingError, SourceImage, to_bytes, write

__all__ = ["SOP_CLASS_UIDS", "EncodingError", "SourceImage", "read", "to_bytes", "write"]
