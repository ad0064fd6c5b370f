"""DICOM Part 10 bytes in Explicit VR Little Endian, written and parsed directly.

Both directions exist for speed, not features; anything they do not know falls back to
pydicom (:class:`Unsupported`):

* :func:`to_bytes` encodes the Datasets :func:`.writer.write` builds (defined lengths, text
  VRs and sequences only), several times faster than ``dcmwrite``, which spends most of its
  time on generic work these documents do not need (ambiguous-VR correction per nested item,
  charset negotiation per element). Other VRs, character sets or transfer syntaxes go through
  ``dcmwrite``.
* :func:`parse_part10` turns Explicit VR Little Endian bytes into the reader's plain tree
  (:mod:`.tree`), enforcing the depth and item limits; other transfer syntaxes and character
  sets are left to ``dcmread`` by the reader.

Both share the byte layout (VR classes, header and item structs) defined once here.
"""

from __future__ import annotations

import struct
from typing import Final

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import ExplicitVRLittleEndian

from icans_interop.dicom.tree import LimitExceeded, Node, tag_text
from icans_interop.model import derived_uid

#: Implementation Class UID / Version Name written in the file meta of our files.
IMPLEMENTATION_UID: Final = derived_uid("icans-interop", "implementation")
IMPLEMENTATION_VERSION: Final = "ICANS_INTEROP_01"

#: VRs whose value is text (PS3.5 Table 6.2-1).
TEXT_VRS: Final = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH",
                             "ST", "TM", "UC", "UI", "UR", "UT"})
#: VRs with a 32-bit length after two reserved bytes (PS3.5 Table 7.1-1).
LONG_LENGTH_VRS: Final = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN",
                                    "UR", "UT", "UV"})
#: Binary VRs: kept as bytes by the parser.
BINARY_VRS: Final = frozenset({"AT", "FD", "FL", "OB", "OD", "OF", "OL", "OV", "OW", "SL", "SS",
                               "SV", "UL", "UN", "US", "UV"})
#: Text VRs that are never multi-valued (a backslash is text).
SINGLE_VALUED_VRS: Final = frozenset({"LT", "ST", "UT", "UR"})

_SHORT_HEADER: Final = struct.Struct("<HH2sH")
_LONG_HEADER: Final = struct.Struct("<HH2sHI")
_ITEM: Final = struct.Struct("<HHI")
_HEAD: Final = struct.Struct("<HH2s")
_U16: Final = struct.Struct("<H")
_U32: Final = struct.Struct("<I")
_UNDEFINED: Final = 0xFFFFFFFF
_SPECIFIC_CHARACTER_SET: Final = 0x00080005

#: Character sets the encoder writes (strict: a value outside the set falls back to dcmwrite).
_ENCODE_CHARSETS: Final = {"": "ascii", "ISO_IR 6": "ascii", "ISO_IR 192": "utf-8",
                           "ISO_IR 100": "latin-1"}
#: Character sets the parser reads (tolerant: stray 8-bit bytes in a default-charset file).
_DECODE_CHARSETS: Final = {"": "latin-1", "ISO_IR 6": "latin-1", "ISO_IR 100": "latin-1",
                           "ISO_IR 192": "utf-8"}
_TEXT_VRS_B: Final = frozenset(vr.encode() for vr in TEXT_VRS)
_BINARY_VRS_B: Final = frozenset(vr.encode() for vr in BINARY_VRS)
_LONG_VRS_B: Final = frozenset(vr.encode() for vr in LONG_LENGTH_VRS)
_SINGLE_VALUED_B: Final = frozenset(vr.encode() for vr in SINGLE_VALUED_VRS)


class Unsupported(Exception):
    """Data the direct codec does not handle (VR, charset, transfer syntax): pydicom will."""


class Truncated(Exception):
    """Part 10 bytes end inside an element, item or sequence."""


# --------------------------------------------------------------------------------------------
# Encoding


def _encode(ds: Dataset, codec: str) -> bytes:
    parts: list[bytes] = []
    for elem in ds:
        tag, vr = elem.tag, elem.VR
        if tag.element == 0 or tag.group == 2:
            continue  # group lengths are not written; file meta is written separately
        if vr == "SQ":
            items = [_encode(item, codec) for item in elem.value]
            body = b"".join(_ITEM.pack(0xFFFE, 0xE000, len(item)) + item for item in items)
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


def _meta_element(element: int, vr: bytes, value: bytes) -> bytes:
    if len(value) % 2:
        value += b"\x00" if vr == b"UI" else b" "
    if vr == b"OB":
        return _LONG_HEADER.pack(2, element, vr, 0, len(value)) + value
    return _SHORT_HEADER.pack(2, element, vr, len(value)) + value


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
    elements = (_meta_element(0x0001, b"OB", b"\x00\x01")
                + _meta_element(0x0002, b"UI", class_uid.encode("ascii"))
                + _meta_element(0x0003, b"UI", instance_uid.encode("ascii"))
                + _meta_element(0x0010, b"UI", ExplicitVRLittleEndian.encode("ascii"))
                + _meta_element(0x0012, b"UI", IMPLEMENTATION_UID.encode("ascii"))
                + _meta_element(0x0013, b"SH", IMPLEMENTATION_VERSION.encode("ascii")))
    group_length = _SHORT_HEADER.pack(2, 0, b"UL", 4) + _U32.pack(len(elements))
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


# --------------------------------------------------------------------------------------------
# Parsing


class _Parser:
    """Explicit VR Little Endian data set parser producing a plain tree."""

    def __init__(self, data: bytes, max_depth: int, max_items: int) -> None:
        self.data = data
        self.size = len(data)
        self.max_depth = max_depth
        self.max_items = max_items
        self.count = 1
        self.codec = "latin-1"

    def dataset(self, pos: int, end: int | None, depth: int) -> tuple[Node, int]:
        data = self.data
        node: Node = {}
        while end is None or pos < end:
            if pos + 8 > self.size:
                raise Truncated(f"data ends inside a data set at byte {pos}")
            group, elem, vr = _HEAD.unpack_from(data, pos)
            if group == 0xFFFE:
                if elem == 0xE00D and end is None:
                    return node, pos + 8
                raise Unsupported(f"unexpected delimiter at byte {pos}")
            if vr in _LONG_VRS_B:
                if pos + 12 > self.size:
                    raise Truncated(f"data ends inside an element header at byte {pos}")
                length, start = _U32.unpack_from(data, pos + 8)[0], pos + 12
            elif vr in _TEXT_VRS_B or vr in _BINARY_VRS_B:
                length, start = _U16.unpack_from(data, pos + 6)[0], pos + 8
            else:
                raise Unsupported(f"unknown VR {vr!r} at byte {pos}")
            tag = group << 16 | elem
            if vr == b"SQ":
                node[tag], pos = self.sequence(start, length, depth)
                continue
            if length == _UNDEFINED:
                raise Unsupported("undefined length outside a sequence")
            stop = start + length
            if stop > self.size:
                raise Truncated(f"data ends inside {tag_text(tag)} at byte {self.size}")
            if vr in _TEXT_VRS_B:
                node[tag] = self.text(tag, vr, data[start:stop], depth)
            else:
                node[tag] = data[start:stop]
            pos = stop
        if pos != end:
            raise Truncated(f"an item overruns its length at byte {pos}")
        return node, pos

    def text(self, tag: int, vr: bytes, raw: bytes, depth: int) -> str | list[str]:
        text = raw.decode("ascii" if vr == b"UI" else self.codec)
        text = text.rstrip("\x00 ") if vr != b"UT" else text.rstrip(" ")
        if tag == _SPECIFIC_CHARACTER_SET:
            if depth != 1 or text not in _DECODE_CHARSETS:
                raise Unsupported(f"Specific Character Set {text!r}")
            self.codec = _DECODE_CHARSETS[text]
        if vr not in _SINGLE_VALUED_B and "\\" in text:
            return text.split("\\")
        return text

    def sequence(self, start: int, length: int, depth: int) -> tuple[list[Node], int]:
        data = self.data
        items: list[Node] = []
        end = None if length == _UNDEFINED else start + length
        if end is not None and end > self.size:
            raise Truncated(f"a sequence overruns the data at byte {start}")
        pos = start
        while end is None or pos < end:
            if pos + 8 > self.size:
                raise Truncated(f"data ends inside a sequence at byte {pos}")
            group, elem, item_length = _ITEM.unpack_from(data, pos)
            if group != 0xFFFE:
                raise Unsupported(f"expected an item tag at byte {pos}")
            if elem == 0xE0DD:
                if end is None:
                    return items, pos + 8
                raise Unsupported(f"sequence delimiter in a defined-length sequence at {pos}")
            if elem != 0xE000:
                raise Unsupported(f"unexpected delimiter at byte {pos}")
            self.count += 1
            if self.count > self.max_items:
                raise LimitExceeded("too-large", f"more than {self.max_items} items")
            if depth + 1 > self.max_depth:
                raise LimitExceeded("too-deep", f"nesting deeper than {self.max_depth} levels")
            if item_length == _UNDEFINED:
                item, pos = self.dataset(pos + 8, None, depth + 1)
            else:
                item_end = pos + 8 + item_length
                if item_end > self.size:
                    raise Truncated(f"an item overruns the data at byte {pos}")
                item, pos = self.dataset(pos + 8, item_end, depth + 1)
            items.append(item)
        if pos != end:
            raise Truncated(f"a sequence overruns its length at byte {pos}")
        return items, pos


def parse_part10(data: bytes, max_depth: int, max_items: int) -> Node | None:
    """The data set of an Explicit VR Little Endian Part 10 file as a plain tree.

    None when the bytes are not such a file (the caller then uses ``dcmread``); raises
    :class:`Truncated`, :class:`Unsupported` or :class:`~.tree.LimitExceeded`.
    """
    if len(data) < 132 or data[128:132] != b"DICM":
        return None
    pos, syntax = 132, None
    while pos + 8 <= len(data) and data[pos:pos + 2] == b"\x02\x00":
        _group, elem, vr = _HEAD.unpack_from(data, pos)
        if vr in _LONG_VRS_B:
            length, start = _U32.unpack_from(data, pos + 8)[0], pos + 12
        else:
            length, start = _U16.unpack_from(data, pos + 6)[0], pos + 8
        if elem == 0x0010:
            syntax = data[start:start + length].decode("ascii", "replace").rstrip("\x00 ")
        pos = start + length
    if syntax != ExplicitVRLittleEndian:
        return None
    parser = _Parser(data, max_depth, max_items)
    return parser.dataset(pos, len(data), 1)[0]
