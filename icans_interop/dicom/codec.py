"""DICOM Part 10 bytes in Explicit VR Little Endian, written directly (the writer's encoder).

:func:`to_bytes` encodes the Datasets :func:`.writer.write` builds (defined lengths, text VRs
and sequences only), several times faster than ``dcmwrite``, which spends most of its time on
generic work these documents do not need (ambiguous-VR correction per nested item, charset
negotiation per element); ``bench/bench_sr.py`` times both and ``tests/test_dicom_writer.py``
checks that pydicom reads back exactly what was built. Other VRs, character sets or transfer
syntaxes go through ``dcmwrite`` (:class:`Unsupported`). Reading is :mod:`.part10`'s job.
"""

from __future__ import annotations

import struct
from typing import Final

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag
from pydicom.uid import ExplicitVRLittleEndian

from icans_interop.dicom import tags
from icans_interop.dicom.part10 import LONG_LENGTH_VRS
from icans_interop.model import derived_uid

#: Implementation Class UID / Version Name written in the file meta of our files.
IMPLEMENTATION_UID: Final = derived_uid("icans-interop", "implementation")
IMPLEMENTATION_VERSION: Final = "ICANS_INTEROP_01"

#: VRs whose value is text (PS3.5 Table 6.2-1).
TEXT_VRS: Final = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH",
                             "ST", "TM", "UC", "UI", "UR", "UT"})

_SHORT_HEADER: Final = struct.Struct("<HH2sH")
_LONG_HEADER: Final = struct.Struct("<HH2sHI")
_ITEM: Final = struct.Struct("<HHI")
_U32: Final = struct.Struct("<I")
#: Character sets the encoder writes (strict: a value outside the set falls back to dcmwrite).
_ENCODE_CHARSETS: Final = {"": "ascii", "ISO_IR 6": "ascii", "ISO_IR 192": "utf-8",
                           "ISO_IR 100": "latin-1"}


class Unsupported(Exception):
    """Data the direct codec does not handle (VR, charset, transfer syntax): pydicom will."""


# --------------------------------------------------------------------------------------------
# Encoding


def _encode(ds: Dataset, codec: str) -> bytes:
    parts: list[bytes] = []
    for elem in ds:
        tag, vr = elem.tag, elem.VR
        if tag.element == 0 or tag.group == tags.FILE_META_GROUP:
            continue  # group lengths are not written; file meta is written separately
        if vr == "SQ":
            items = [_encode(item, codec) for item in elem.value]
            body = b"".join(_ITEM.pack(tags.ITEM.group, tags.ITEM.element, len(item)) + item
                           for item in items)
            parts.append(_LONG_HEADER.pack(tag.group, tag.element, b"SQ", 0, len(body)))
            parts.append(body)
            continue
        if vr not in TEXT_VRS:
            raise Unsupported(vr)
        value = elem.value
        if value is None:
            text = ""
        elif isinstance(value, str):
            text = value
        elif isinstance(value, bytes | bytearray):
            raise Unsupported("raw bytes")
        elif isinstance(value, list | tuple | MultiValue):
            text = "\\".join(str(v) for v in value)
        else:
            text = str(value)
        raw = text.encode("ascii" if vr == "UI" else codec)
        if len(raw) % 2:
            raw += b"\x00" if vr == "UI" else b" "
        if vr in LONG_LENGTH_VRS:
            parts.append(_LONG_HEADER.pack(tag.group, tag.element, vr.encode(), 0, len(raw)))
        elif len(raw) > 0xFFFE:
            raise Unsupported("value too long for a 16-bit length")
        else:
            parts.append(_SHORT_HEADER.pack(tag.group, tag.element, vr.encode(), len(raw)))
        parts.append(raw)
    return b"".join(parts)


def _meta_element(tag: BaseTag, vr: bytes, value: bytes) -> bytes:
    if len(value) % 2:
        value += b"\x00" if vr == b"UI" else b" "
    if vr == b"OB":
        return _LONG_HEADER.pack(tag.group, tag.element, vr, 0, len(value)) + value
    return _SHORT_HEADER.pack(tag.group, tag.element, vr, len(value)) + value


def _fast_bytes(ds: Dataset) -> bytes:
    meta = getattr(ds, "file_meta", None)
    if meta is None or meta.get("TransferSyntaxUID") != ExplicitVRLittleEndian:
        raise Unsupported("transfer syntax")
    charset = ds.get("SpecificCharacterSet", "")
    codec = _ENCODE_CHARSETS.get(charset) if isinstance(charset, str) else None
    if codec is None:
        raise Unsupported("character set")
    body = _encode(ds, codec)
    class_uid = str(meta.get("MediaStorageSOPClassUID") or ds.SOPClassUID)
    instance_uid = str(meta.get("MediaStorageSOPInstanceUID") or ds.SOPInstanceUID)
    elements = (_meta_element(tags.FILE_META_INFORMATION_VERSION, b"OB", b"\x00\x01")
                + _meta_element(tags.MEDIA_STORAGE_SOP_CLASS_UID, b"UI",
                                class_uid.encode("ascii"))
                + _meta_element(tags.MEDIA_STORAGE_SOP_INSTANCE_UID, b"UI",
                                instance_uid.encode("ascii"))
                + _meta_element(tags.TRANSFER_SYNTAX_UID, b"UI",
                                ExplicitVRLittleEndian.encode("ascii"))
                + _meta_element(tags.IMPLEMENTATION_CLASS_UID, b"UI",
                                IMPLEMENTATION_UID.encode("ascii"))
                + _meta_element(tags.IMPLEMENTATION_VERSION_NAME, b"SH",
                                IMPLEMENTATION_VERSION.encode("ascii")))
    meta_length = tags.FILE_META_GROUP_LENGTH
    group_length = (_SHORT_HEADER.pack(meta_length.group, meta_length.element, b"UL", 4)
                    + _U32.pack(len(elements)))
    return b"\x00" * 128 + b"DICM" + group_length + elements + body


def to_bytes(ds: Dataset) -> bytes:
    """``ds`` as a DICOM Part 10 file (preamble, file meta, explicit VR little endian).

    Datasets made by :func:`.writer.write` are encoded directly (several times faster than
    ``dcmwrite``); any other dataset, or one changed to use other VRs or character sets, goes
    through ``pydicom.dcmwrite(..., enforce_file_format=True)``.
    """
    try:
        return _fast_bytes(ds)
    except (Unsupported, UnicodeEncodeError):
        pass
    from io import BytesIO

    from pydicom import dcmwrite

    buffer = BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()
