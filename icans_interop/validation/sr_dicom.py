"""DICOM level of SR validation: reading the file, parsing it, module attributes and VRs.

Reading
    :func:`load` turns a path, bytes or a pydicom ``Dataset`` into the encoded bytes (at most
    :data:`MAX_BYTES`); :func:`parse` checks that they are a DICOM Part 10 file with
    ``pydicom.dcmread(..., force=False)`` (the gate: anything pydicom cannot open is
    ``unreadable``) and then parses them with the small iterative parser of this module.

Why a parser of our own
    Validation has to look at every element (VR rules) and every content item, and converting
    each raw element to a pydicom ``DataElement`` costs about 20 us: the whole budget for a
    ten-finding SR. The parser below reads the byte stream once into plain dicts
    (``{tag: (VR, bytes | [items])}``), checks each value against the rules of its VR on the
    way, never recurses (an explicit stack; :data:`MAX_NESTING` item levels), and stops at
    :data:`MAX_ELEMENTS` elements and :data:`MAX_CONTENT_ITEMS` content items. It handles
    explicit and implicit VR little endian, explicit VR big endian, deflate, undefined lengths,
    sequences encoded as UN with undefined length and encapsulated fragments.

Module attributes
    ``data/sr-iod.csv`` lists, for the SR IODs we accept, the attributes of the Patient,
    General Study, SR Document Series, General Equipment, SR Document General, SR Document
    Content and SOP Common modules with their Type, item count, enumerated values and a
    condition id (rows ``attribute`` and ``content-item``). :func:`check_attributes` walks those
    rows; this module never names an attribute itself except through that table.

Locations are ``(gggg,eeee) Keyword`` for header attributes, ``>``-joined with 1-based item
numbers inside sequences (``(0040,A073) VerifyingObserverSequence[1] > (0040,A075)
VerifyingObserverName``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Final, TypeAlias

from pydicom import dcmread, dcmwrite
from pydicom._dicom_dict import DicomDictionary
from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.uid import UID

#: Largest input accepted (bytes, also after inflating a deflated transfer syntax).
MAX_BYTES: Final = 64 * 1024 * 1024
#: Deepest sequence-item nesting the parser follows (the content-tree limit is lower).
MAX_NESTING: Final = 256
#: Most data elements and sequence items parsed in one file (at most ~0.5 s of parsing).
MAX_ELEMENTS: Final = 250_000
#: Most content items (items of Content Sequences) in one file. Checking one content item at
#: every level costs ~30 us, so this bounds any input to well under a second on one core; a
#: ten-finding TID 1500 document has about 120 content items.
MAX_CONTENT_ITEMS: Final = 10_000

Item: TypeAlias = "dict[int, tuple[str, bytes | list[Item]]]"
Emit = Callable[[str, str, str], None]  # (code, location, message) of an error

CONTENT_SEQUENCE: Final = 0x0040A730
_ITEM: Final = 0xFFFEE000
_ITEM_END: Final = 0xFFFEE00D
_SEQ_END: Final = 0xFFFEE0DD
_UNDEFINED: Final = 0xFFFFFFFF
_LONG_VRS: Final = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR",
                              "UT", "UV"})
_KNOWN_VRS: Final = _LONG_VRS | {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS",
                                 "LO", "LT", "PN", "SH", "SL", "SS", "ST", "TM", "UI", "UL",
                                 "US"}
_MAX_SHOWN: Final = 80
_MISS: Final = object()
_CACHE_VALUE_BYTES: Final = 256
_CACHE_ENTRIES: Final = 50_000


class InputProblem(Exception):
    """The input cannot be validated at all (``unreadable``, ``too-large`` or ``too-deep``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ---------------------------------------------------------------------------------------------
# Tags and names


@lru_cache(maxsize=4096)
def keyword(tag: int) -> str:
    """The DICOM keyword of ``tag`` (``"Private"``/``"Unknown"`` when it has none)."""
    if (tag >> 16) & 1:
        return "Private"
    return keyword_for_tag(tag) or "Unknown"


@lru_cache(maxsize=4096)
def tag_name(tag: int) -> str:
    """``(gggg,eeee) Keyword`` for locations and messages."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {keyword(tag)}"


def tag_of(name: str) -> int:
    tag = tag_for_keyword(name)
    if tag is None:
        raise ValueError(f"unknown DICOM keyword {name!r} in a validation table")
    return int(tag)


@lru_cache(maxsize=1)
def code_sequence_tags() -> frozenset[int]:
    """Tags of every ``...CodeSequence`` attribute of the data dictionary (code items)."""
    return frozenset(tag for tag, entry in DicomDictionary.items()
                     if entry[4].endswith("CodeSequence"))


@lru_cache(maxsize=8192)
def _implicit_vr(tag: int) -> str:
    if (tag >> 16) & 1:
        return "UN" if tag & 0xFF00 else "LO"  # private creator elements are LO
    if tag & 0xFFFF == 0:
        return "UL"  # group length
    entry = DicomDictionary.get(tag)
    if entry is None:
        return "UN"
    vr = entry[0]
    if " or " in vr:  # "US or SS", "OB or OW": the first is right for SR content
        vr = vr.split(" or ")[0]
    return vr


# ---------------------------------------------------------------------------------------------
# Values


def shown(value: bytes | str) -> str:
    """A value for a message: decoded leniently, truncated for giant strings."""
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    if len(text) > _MAX_SHOWN:
        return repr(text[:_MAX_SHOWN]) + f"... ({len(text)} characters)"
    return repr(text)


_TEXT_CACHE: dict[bytes, str | None] = {}


def text(value: bytes | list[Item] | None, encodings: tuple[str, ...] = ()) -> str | None:
    """A text element's value without padding (None when absent, not text or empty)."""
    if not isinstance(value, bytes):
        return None
    known = _TEXT_CACHE.get(value, _MISS)
    if known is not _MISS:
        return known  # type: ignore[return-value]
    if value.isascii():
        result = value.decode("ascii").rstrip(" \x00").lstrip(" ") or None
        if len(value) <= _CACHE_VALUE_BYTES:
            if len(_TEXT_CACHE) >= _CACHE_ENTRIES:
                _TEXT_CACHE.clear()
            _TEXT_CACHE[value] = result
        return result
    return _decode(value, encodings).rstrip(" \x00").lstrip(" ") or None


def _decode(value: bytes, encodings: tuple[str, ...]) -> str:
    if encodings:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return str(decode_bytes(value, list(encodings), set()))
        except Exception:
            pass
    return value.decode("latin-1")


def element_text(item: Item, tag: int, encodings: tuple[str, ...] = ()) -> str | None:
    element = item.get(tag)
    return None if element is None else text(element[1], encodings)


def sequence(item: Item, tag: int) -> list[Item] | None:
    element = item.get(tag)
    if element is None or not isinstance(element[1], list):
        return None
    return element[1]


def is_empty(value: bytes | list[Item]) -> bool:
    if isinstance(value, list):
        return not value
    return not value.strip(b" \x00")


# ---------------------------------------------------------------------------------------------
# VR rules (PS3.5 6.2), applied to the encoded bytes


_CS_CHARS = re.compile(rb"^[A-Z0-9 _]*$")
_UID = re.compile(rb"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_DA = re.compile(rb"^([0-9]{4})([0-9]{2})([0-9]{2})$")
_TM = re.compile(rb"^([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})(?:\.([0-9]{1,6}))?)?)?$")
_DT = re.compile(rb"^([0-9]{4})(?:([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})"
                 rb"(?:([0-9]{2})(?:\.([0-9]{1,6}))?)?)?)?)?)?([+-][0-9]{4})?$")
_IS = re.compile(rb"^[+-]?[0-9]+$")
_DS = re.compile(rb"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_AS = re.compile(rb"^[0-9]{3}[DWMY]$")
_CONTROL = re.compile(rb"[\x00-\x1a\x1c-\x1f\x7f]")  # ESC (0x1b) allowed: ISO 2022
_CONTROL_TEXT = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")  # + TAB LF FF CR

#: VR -> maximum length in characters of one value (PS3.5 Table 6.2-1).
_MAX_CHARS: Final = {"AE": 16, "CS": 16, "LO": 64, "SH": 16, "ST": 1024, "LT": 10240,
                     "UC": 2**32 - 2, "UT": 2**32 - 2}
_FIXED_SIZES: Final = {"US": 2, "SS": 2, "UL": 4, "SL": 4, "FL": 4, "AT": 4, "FD": 8, "SV": 8,
                       "UV": 8, "OD": 8, "OF": 4, "OL": 4, "OV": 8, "OW": 2}


def _valid_date(match: re.Match[bytes]) -> bool:
    try:
        dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return False
    return True


def _valid_time(match: re.Match[bytes], first: int = 1) -> bool:
    hour, minute, second = match[first], match[first + 1], match[first + 2]
    return (int(hour) < 24 and (minute is None or int(minute) < 60)
            and (second is None or int(second) <= 60))


#: VR -> {encoded ASCII value -> problem}: the checks are pure functions of ASCII values.
_VR_CACHE: Final[dict[str, dict[bytes, str | None]]] = {
    vr: {} for vr in ("AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST",
                      "TM", "UI", "UT", "UC")}
_VR_NAMES: Final = {vr.encode("ascii"): vr for vr in _KNOWN_VRS}


def _values(value: bytes) -> list[bytes]:
    return value.split(b"\\")


class VrChecker:
    """Checks encoded values against their VR; knows the document's character set."""

    def __init__(self) -> None:
        self.encodings: tuple[str, ...] = ()
        self.non_ascii = False
        self._checks: dict[str, Callable[[bytes], str | None]] = {
            "AE": self._ae, "AS": self._as, "CS": self._cs, "DA": self._da, "DS": self._ds,
            "DT": self._dt, "IS": self._is, "LO": self._lo, "LT": self._lt, "PN": self._pn,
            "SH": self._sh, "ST": self._st, "TM": self._tm, "UI": self._ui, "UT": self._ut,
            "UC": self._uc,
        }

    def set_character_set(self, value: bytes) -> str | None:
        terms = [t.strip().decode("ascii", "replace") for t in value.split(b"\\")]
        if terms and not terms[0]:
            terms[0] = "ISO_IR 6"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                self.encodings = tuple(convert_encodings(terms))
        except Exception:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    self.encodings = tuple(convert_encodings(terms))
                except Exception:
                    self.encodings = ()
            return f"Specific Character Set {shown(value)} names an unknown character set"
        return None

    def check(self, vr: str, value: bytes) -> str | None:
        """Why ``value`` breaks the rules of ``vr`` (None if it does not).

        Short ASCII values are remembered across files (most SR values repeat: value types,
        relationship types, schemes, code values), so a repeated value costs a dict lookup.
        """
        cache = _VR_CACHE.get(vr)
        if cache is None:
            size = _FIXED_SIZES.get(vr)
            if size is not None and len(value) % size:
                return f"{len(value)} bytes is not a multiple of {size} ({vr})"
            return None
        known = cache.get(value, _MISS)
        if known is not _MISS:
            return known  # type: ignore[return-value]
        problem = self._checks[vr](value)
        if len(value) <= _CACHE_VALUE_BYTES and value.isascii():
            if len(cache) >= _CACHE_ENTRIES:
                cache.clear()
            cache[value] = problem
        return problem

    # -- helpers ----------------------------------------------------------------------------

    def _chars(self, value: bytes) -> str:
        self.non_ascii = True
        return _decode(value, self.encodings)

    def _string(self, value: bytes, vr: str, control: re.Pattern[bytes],
                multi: bool = True) -> str | None:
        limit = _MAX_CHARS[vr]
        parts = _values(value) if multi else [value]
        for part in parts:
            part = part.rstrip(b" \x00") if vr not in ("LT", "ST", "UT") else part.rstrip(b" ")
            if control.search(part):
                return f"value {shown(part)} contains a control character ({vr})"
            if len(part) > limit:
                length = len(part) if part.isascii() else len(self._chars(part))
                if length > limit:
                    return (f"value {shown(part)} has {length} characters; {vr} allows at most "
                            f"{limit}")
            elif not part.isascii():
                self.non_ascii = True
        return None

    # -- one method per VR ------------------------------------------------------------------

    def _ae(self, value: bytes) -> str | None:
        return self._string(value, "AE", _CONTROL)

    def _as(self, value: bytes) -> str | None:
        for part in _values(value):
            part = part.strip(b" ")
            if part and not _AS.match(part):
                return f"age {shown(part)} is not nnnD, nnnW, nnnM or nnnY (AS)"
        return None

    def _cs(self, value: bytes) -> str | None:
        for part in _values(value):
            part = part.strip(b" ")
            if len(part) > 16:
                return f"code string {shown(part)} has {len(part)} characters; CS allows 16"
            if not _CS_CHARS.match(part):
                return (f"code string {shown(part)} may hold only upper-case letters, digits, "
                        "space and underscore (CS)")
        return None

    def _da(self, value: bytes) -> str | None:
        for part in _values(value):
            part = part.strip(b" ")
            if not part:
                continue
            match = _DA.match(part)
            if match is None or not _valid_date(match):
                return f"date {shown(part)} is not a valid YYYYMMDD date (DA)"
        return None

    def _dt(self, value: bytes) -> str | None:
        for part in _values(value):
            part = part.rstrip(b" ")
            if not part:
                continue
            match = _DT.match(part)
            ok = match is not None
            if match is not None:
                month, day = match[2], match[3]
                if month is not None and not 1 <= int(month) <= 12:
                    ok = False
                elif day is not None and month is not None:
                    try:
                        dt.date(int(match[1]), int(month), int(day))
                    except ValueError:
                        ok = False
                if ok and match[4] is not None:
                    ok = _valid_time(match, 4)
                offset = match[8]
                if ok and offset is not None:
                    ok = int(offset[1:3]) <= 14 and int(offset[3:5]) < 60
            if not ok:
                return f"date-time {shown(part)} is not YYYYMMDDHHMMSS.FFFFFF&ZZXX (DT)"
        return None

    def _ds(self, value: bytes) -> str | None:
        for part in _values(value):
            part = part.strip(b" ")
            if not part:
                continue
            if len(part) > 16:
                return f"decimal string {shown(part)} has {len(part)} characters; DS allows 16"
            if not _DS.match(part):
                return f"decimal string {shown(part)} is not a number (DS)"
        return None

    def _is(self, value: bytes) -> str | None:
        for part in _values(value):
            part = part.strip(b" ")
            if not part:
                continue
            if len(part) > 12 or not _IS.match(part) or not -2**31 <= int(part) < 2**31:
                return f"integer string {shown(part)} is not a 32-bit integer (IS)"
        return None

    def _lo(self, value: bytes) -> str | None:
        return self._string(value, "LO", _CONTROL)

    def _sh(self, value: bytes) -> str | None:
        return self._string(value, "SH", _CONTROL)

    def _lt(self, value: bytes) -> str | None:
        return self._string(value, "LT", _CONTROL_TEXT, multi=False)

    def _st(self, value: bytes) -> str | None:
        return self._string(value, "ST", _CONTROL_TEXT, multi=False)

    def _ut(self, value: bytes) -> str | None:
        return self._string(value, "UT", _CONTROL_TEXT, multi=False)

    def _uc(self, value: bytes) -> str | None:
        return self._string(value, "UC", _CONTROL)

    def _pn(self, value: bytes) -> str | None:
        for part in _values(value):
            part = part.rstrip(b" ")
            if _CONTROL.search(part):
                return f"person name {shown(part)} contains a control character (PN)"
            groups = part.split(b"=")
            if len(groups) > 3:
                return f"person name {shown(part)} has more than 3 component groups (PN)"
            for group in groups:
                if group.count(b"^") > 4:
                    return f"person name {shown(part)} has more than 5 components (PN)"
                length = len(group) if group.isascii() else len(self._chars(group))
                if length > 64:
                    return (f"person name component group {shown(group)} has {length} "
                            "characters; PN allows 64")
                if not group.isascii():
                    self.non_ascii = True
        return None

    def _tm(self, value: bytes) -> str | None:
        for part in _values(value):
            part = part.rstrip(b" ")
            if not part:
                continue
            match = _TM.match(part)
            if match is None or not _valid_time(match):
                return f"time {shown(part)} is not a valid HHMMSS.FFFFFF time (TM)"
        return None

    def _ui(self, value: bytes) -> str | None:
        for part in _values(value):
            part = part.rstrip(b"\x00")
            if len(part) > 64:
                return f"UID {shown(part)} has {len(part)} characters; UI allows 64"
            if part and not _UID.match(part):
                return (f"UID {shown(part)} is not dot-separated numbers without leading zeros "
                        "(UI)")
        return None


# ---------------------------------------------------------------------------------------------
# The parser


@dataclass
class Parsed:
    """A parsed file: meta and dataset as plain dicts, with what the parse noticed."""

    meta: Item
    dataset: Item
    transfer_syntax: str
    little_endian: bool
    checker: VrChecker
    #: id(item) -> (owning item, sequence tag, 0-based index), for every sequence item.
    parents: dict[int, tuple[Item, int, int]] = field(default_factory=dict)
    #: (code item, owning item, sequence tag) for items of every ``...CodeSequence``.
    code_items: list[tuple[Item, Item, int]] = field(default_factory=list)
    #: (item, tag, message): values that break their VR, elements out of order.
    vr_problems: list[tuple[Item, int, str]] = field(default_factory=list)
    part10: bool = True

    @property
    def encodings(self) -> tuple[str, ...]:
        return self.checker.encodings

    def uint_values(self, value: bytes | list[Item] | None) -> tuple[int, ...] | None:
        """A UL value as integers (None when absent, empty or malformed)."""
        if not isinstance(value, bytes) or not value or len(value) % 4:
            return None
        fmt = ("<" if self.little_endian else ">") + "I" * (len(value) // 4)
        return struct.unpack(fmt, value)


class _Frame:
    """One level of the parser's stack: a data set / item (kind 0), a sequence (1) or the
    fragments of an encapsulated value (2)."""

    __slots__ = ("end", "explicit", "item", "items", "kind", "last", "owner", "tag")

    def __init__(self, kind: int, item: Item, items: list[Item], end: int | None,
                 explicit: bool, tag: int, owner: Item, last: int = -1) -> None:
        self.kind = kind
        self.item = item
        self.items = items
        self.end = end
        self.explicit = explicit
        self.tag = tag
        self.owner = owner
        self.last = last


class _Parser:
    """Iterative DICOM data set parser (see the module docstring)."""

    def __init__(self, buf: bytes, explicit: bool, little: bool, result: Parsed) -> None:
        self.buf = buf
        self.explicit = explicit
        self.little = little
        self.result = result

    def run(self) -> Item:
        """Parse the whole buffer (one tight loop on purpose: speed).

        The current frame's fields live in local variables; the stack holds the frames
        below it.
        """
        buf = self.buf
        size = len(buf)
        endian = "<" if self.little else ">"
        unpack_explicit = struct.Struct(endian + "HH2sH").unpack_from
        unpack_implicit = struct.Struct(endian + "HHI").unpack_from
        unpack_u32 = struct.Struct(endian + "I").unpack_from
        result = self.result
        parents = result.parents
        code_items = result.code_items
        problems = result.vr_problems
        checker = result.checker
        check = checker.check
        code_tags = code_sequence_tags()
        implicit_vr = _implicit_vr
        vr_names = _VR_NAMES
        long_vrs = _LONG_VRS
        root: Item = {}
        no_items: list[Item] = []
        stack: list[_Frame] = []
        frame = _Frame(0, root, no_items, size, self.explicit, 0, root)
        kind, item, explicit, last = 0, root, self.explicit, -1
        end: int | None = size
        pos = 0
        elements = 0
        content_items = 0
        while True:
            if end is not None and pos >= end:
                if pos > end:
                    raise InputProblem("unreadable", f"an element overruns its item or sequence "
                                                     f"at byte {pos} of the data set")
                if not stack:
                    break
                frame = stack.pop()
                kind, item, end, explicit, last = (frame.kind, frame.item, frame.end,
                                                   frame.explicit, frame.last)
                continue
            if pos + 8 > size:
                raise InputProblem("unreadable", f"truncated: the data set ends inside an "
                                                 f"element header at byte {pos}")
            if kind == 0 and explicit:
                group, number, vr_bytes, length = unpack_explicit(buf, pos)
                tag = group << 16 | number
                if group == 0xFFFE:  # delimiters have no VR: tag and a 32-bit length
                    vr = ""
                    pos += 8
                else:
                    known_vr = vr_names.get(vr_bytes)
                    if known_vr is None:
                        raise InputProblem("unreadable", f"invalid VR {shown(vr_bytes)} of "
                                                         f"{tag_name(tag)} at byte {pos}")
                    vr = known_vr
                    if vr in long_vrs:
                        if pos + 12 > size:
                            raise InputProblem("unreadable", f"truncated inside the header of "
                                                             f"{tag_name(tag)}")
                        length = unpack_u32(buf, pos + 8)[0]
                        pos += 4
                    pos += 8
            else:
                group, number, length = unpack_implicit(buf, pos)
                tag = group << 16 | number
                vr = "" if group == 0xFFFE or kind else implicit_vr(tag)
                pos += 8
            if kind == 0:
                if group == 0xFFFE:
                    if tag != _ITEM_END:
                        raise InputProblem("unreadable", f"unexpected delimiter "
                                                         f"{tag_name(tag)} at byte {pos - 8}")
                    if end is not None:
                        raise InputProblem("unreadable", f"item delimiter inside a data set or "
                                                         f"defined-length item at byte {pos}")
                    frame = stack.pop()
                    kind, item, end, explicit, last = (frame.kind, frame.item, frame.end,
                                                       frame.explicit, frame.last)
                    continue
                if tag <= last:
                    problems.append((item, tag, "element is repeated or out of ascending "
                                                "tag order"))
                last = tag
                elements += 1
                if elements > MAX_ELEMENTS:
                    raise InputProblem("too-large", f"more than {MAX_ELEMENTS} data elements "
                                                    "and items")
                limit = end if end is not None else size
                if vr == "SQ" or (length == _UNDEFINED and vr == "UN"):
                    items: list[Item] = []
                    item[tag] = ("SQ", items)
                    seq_end = None if length == _UNDEFINED else pos + length
                    if seq_end is not None and seq_end > limit:
                        raise InputProblem("unreadable", f"truncated: {tag_name(tag)} claims "
                                                         f"{length} bytes, fewer remain")
                    if len(stack) >= 2 * MAX_NESTING:
                        raise InputProblem("too-deep", f"sequences nest deeper than "
                                                       f"{MAX_NESTING} levels")
                    stack.append(_Frame(0, item, no_items, end, explicit, 0, item, last))
                    frame = _Frame(1, item, items, seq_end, explicit if vr == "SQ" else False,
                                   tag, item)
                    kind, end, explicit = 1, seq_end, frame.explicit
                    continue
                if length == _UNDEFINED:
                    item[tag] = (vr, b"")
                    stack.append(_Frame(0, item, no_items, end, explicit, 0, item, last))
                    frame = _Frame(2, item, no_items, None, explicit, tag, item)
                    kind, end = 2, None
                    continue
                stop = pos + length
                if stop > limit:
                    raise InputProblem("unreadable", f"truncated: {tag_name(tag)} claims "
                                                     f"{length} bytes, {limit - pos} remain")
                value = buf[pos:stop]
                pos = stop
                item[tag] = (vr, value)
                if tag == 0x00080005 and not stack:
                    problem = checker.set_character_set(value)
                    if problem is not None:
                        problems.append((item, tag, problem))
                elif length:
                    if vr == "UN" and not group & 1:
                        vr = implicit_vr(tag)  # a standard attribute sent as UN: its own VR
                        if vr == "SQ":
                            vr = "UN"
                        item[tag] = (vr, value)
                    problem = check(vr, value)
                    if problem is not None:
                        problems.append((item, tag, problem))
                continue
            # a sequence (kind 1) or the fragments of an encapsulated value (kind 2)
            if tag == _SEQ_END:
                if end is not None:
                    raise InputProblem("unreadable", f"sequence delimiter inside a "
                                                     f"defined-length sequence at byte {pos}")
                frame = stack.pop()
                kind, item, end, explicit, last = (frame.kind, frame.item, frame.end,
                                                   frame.explicit, frame.last)
                continue
            if tag != _ITEM:
                raise InputProblem("unreadable", f"expected an item in "
                                                 f"{tag_name(frame.tag)} at byte {pos - 8}, "
                                                 f"found {tag_name(tag)}")
            if kind == 2:
                if length == _UNDEFINED:
                    raise InputProblem("unreadable", "fragment of undefined length")
                pos += length
                continue
            elements += 1
            if elements > MAX_ELEMENTS:
                raise InputProblem("too-large", f"more than {MAX_ELEMENTS} data elements and "
                                                "items")
            new_item: Item = {}
            seq_list = frame.items
            seq_tag = frame.tag
            parents[id(new_item)] = (frame.owner, seq_tag, len(seq_list))
            seq_list.append(new_item)
            if seq_tag == CONTENT_SEQUENCE:
                content_items += 1
                if content_items > MAX_CONTENT_ITEMS:
                    raise InputProblem("too-large", f"more than {MAX_CONTENT_ITEMS} "
                                                    "content items")
            elif seq_tag in code_tags:
                code_items.append((new_item, frame.owner, seq_tag))
            item_end = None if length == _UNDEFINED else pos + length
            if item_end is not None and (item_end > size or (
                    end is not None and item_end > end)):
                raise InputProblem("unreadable", f"truncated: an item of "
                                                 f"{tag_name(seq_tag)} claims {length} "
                                                 "bytes, fewer remain")
            if length == 0:
                continue  # an empty item: nothing to parse inside
            stack.append(frame)
            frame = _Frame(0, new_item, no_items, item_end, explicit, seq_tag, new_item)
            kind, item, end, last = 0, new_item, item_end, -1
        return root


def _transfer_syntax(uid: str) -> tuple[bool, bool, bool]:
    """(explicit VR, little endian, deflated) of a transfer syntax UID."""
    ts = UID(uid)
    if not ts.is_transfer_syntax:
        raise InputProblem("unreadable", f"Transfer Syntax UID {uid!r} is not a known transfer "
                                         "syntax")
    return (not ts.is_implicit_VR, ts.is_little_endian, ts.is_deflated)


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, MAX_BYTES)
    except zlib.error as exc:
        raise InputProblem("unreadable", f"the deflated data set cannot be inflated: {exc}"
                           ) from None
    if inflater.unconsumed_tail:
        raise InputProblem("too-large", f"the deflated data set inflates to more than "
                                        f"{MAX_BYTES} bytes")
    return out


def _gate(data: bytes) -> None:
    """pydicom must be able to open the file (Part 10 preamble, DICM, file meta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            dcmread(io.BytesIO(data), force=False, stop_before_pixels=True)
        except RecursionError:
            raise InputProblem("too-deep", "the data set nests too deeply to be read") from None
        except MemoryError:
            raise InputProblem("too-large", "the data set is too large to be read") from None
        except Exception as exc:
            raise InputProblem("unreadable", f"not a readable DICOM Part 10 file: "
                                             f"{type(exc).__name__}: {exc}") from None


def parse(data: bytes, *, part10_required: bool = True) -> Parsed:
    """Parse an encoded file (see the module docstring); raises :class:`InputProblem`."""
    if len(data) > MAX_BYTES:
        raise InputProblem("too-large", f"input has {len(data)} bytes; the limit is {MAX_BYTES}")
    checker = VrChecker()
    has_prefix = len(data) >= 132 and data[128:132] == b"DICM"
    if not has_prefix and part10_required:
        _gate(data)  # raises with pydicom's own explanation
        raise InputProblem("unreadable", "not a DICOM Part 10 file (no DICM prefix)")
    if not has_prefix:
        # a Dataset given without file meta, written as a bare explicit VR little endian set
        result = Parsed({}, {}, "1.2.840.10008.1.2.1", True, checker, part10=False)
        result.dataset = _Parser(data, True, True, result).run()
        return result
    _gate(data)
    meta_result = Parsed({}, {}, "", True, checker)
    meta_end = _meta_end(data)
    meta = _Parser(data[132:meta_end], True, True, meta_result).run()
    uid = text(meta.get(0x00020010, ("UI", b""))[1])
    if uid is None:
        raise InputProblem("unreadable", "the file meta information has no Transfer Syntax UID")
    explicit, little, deflated = _transfer_syntax(uid)
    body = data[meta_end:]
    if deflated:
        body = _inflate(body)
    result = Parsed(meta, {}, uid, little, checker)
    result.vr_problems.extend(meta_result.vr_problems)
    result.dataset = _Parser(body, explicit, little, result).run()
    return result


def _meta_end(data: bytes) -> int:
    """Offset of the first byte after the file meta group (explicit VR little endian)."""
    pos = 132
    size = len(data)
    while pos + 8 <= size:
        group = struct.unpack_from("<H", data, pos)[0]
        if group != 0x0002:
            break
        vr = data[pos + 4:pos + 6].decode("latin-1")
        if vr in _LONG_VRS:
            if pos + 12 > size:
                break
            length = struct.unpack_from("<I", data, pos + 8)[0]
            pos += 12 + length
        else:
            pos += 8 + struct.unpack_from("<H", data, pos + 6)[0]
    if pos > size:
        raise InputProblem("unreadable", "truncated inside the file meta information")
    return pos


def load(source: str | os.PathLike[str] | bytes | bytearray | memoryview | Dataset
         ) -> tuple[bytes, bool]:
    """The encoded bytes of ``source`` and whether they must be a Part 10 file."""
    if isinstance(source, Dataset):
        return _dataset_bytes(source), False
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if len(data) > MAX_BYTES:
            raise InputProblem("too-large", f"input has {len(data)} bytes; the limit is "
                                            f"{MAX_BYTES}")
        return data, True
    try:
        size = os.stat(source).st_size
        if size > MAX_BYTES:
            raise InputProblem("too-large", f"file has {size} bytes; the limit is {MAX_BYTES}")
        with open(source, "rb") as handle:
            return handle.read(MAX_BYTES + 1), True
    except OSError as exc:
        raise InputProblem("unreadable", f"cannot open the file: {exc}") from None


def _dataset_bytes(ds: Dataset) -> bytes:
    """Encode an in-memory Dataset (shallow copies: the caller's object is not changed)."""
    import copy

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        meta = getattr(ds, "file_meta", None)
        if meta is not None and "TransferSyntaxUID" in meta:
            try:
                clone = copy.copy(ds)
                clone.file_meta = copy.copy(meta)
                dcmwrite(buf, clone, enforce_file_format=True)
                return buf.getvalue()
            except Exception:
                buf = io.BytesIO()
        try:
            clone = copy.copy(ds)
            if hasattr(clone, "file_meta"):
                del clone.file_meta
            dcmwrite(buf, clone, implicit_vr=False, little_endian=True,
                     enforce_file_format=False)
        except RecursionError:
            raise InputProblem("too-deep", "the Dataset nests too deeply to be encoded (or "
                                           "contains itself)") from None
        except Exception as exc:
            raise InputProblem("unreadable", f"the Dataset cannot be encoded: "
                                             f"{type(exc).__name__}: {exc}") from None
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Module attribute table (data/sr-iod.csv)


@dataclass(frozen=True, slots=True)
class AttributeRule:
    """One ``attribute`` or ``content-item`` row of ``sr-iod.csv``."""

    module: str
    path: tuple[int, ...]
    tag: int
    type: str
    items: tuple[int, int | None] | None
    values: frozenset[str]
    condition: str
    source: str


@dataclass(frozen=True, slots=True)
class IodTables:
    """``sr-iod.csv`` compiled: SOP classes, value types, relationships, attribute rules."""

    sop_classes: dict[str, str]  # UID -> short name
    sop_class_names: dict[str, str]  # short name -> IOD name
    value_types: dict[str, frozenset[str]]  # short name -> allowed value types
    #: short name -> {(source VT, relationship, target VT): by-reference allowed}
    relationships: dict[str, dict[tuple[str, str, str], bool]]
    header_rules: dict[tuple[int, ...], tuple[AttributeRule, ...]]
    meta_rules: dict[tuple[int, ...], tuple[AttributeRule, ...]]
    #: value type (or "*", "root") -> {path: rules}
    content_rules: dict[str, dict[tuple[int, ...], tuple[AttributeRule, ...]]]


def _items(text_: str) -> tuple[int, int | None] | None:
    if not text_:
        return None
    low, _, high = text_.partition("-")
    if not high:
        return int(low), int(low)
    return int(low), None if high == "n" else int(high)


@lru_cache(maxsize=1)
def iod_tables() -> IodTables:
    """Parse ``data/sr-iod.csv`` once."""
    raw = resources.files("icans_interop.data").joinpath("sr-iod.csv").read_text("utf-8")
    sop_classes: dict[str, str] = {}
    names: dict[str, str] = {}
    value_types: dict[str, set[str]] = {}
    relationships: dict[str, dict[tuple[str, str, str], bool]] = {}
    header: dict[tuple[int, ...], list[AttributeRule]] = {}
    meta: dict[tuple[int, ...], list[AttributeRule]] = {}
    content: dict[str, dict[tuple[int, ...], list[AttributeRule]]] = {}
    for row in csv.DictReader(io.StringIO(raw)):
        kind = row["kind"]
        classes = row["sop_classes"].split()
        if kind == "sop-class":
            sop_classes[row["values"]] = row["sop_classes"]
            names[row["sop_classes"]] = row["keyword"]
        elif kind == "value-type":
            for name in classes:
                value_types.setdefault(name, set()).add(row["value_type"])
        elif kind == "relationship":
            for name in classes:
                table = relationships.setdefault(name, {})
                for source_vt in row["value_type"].split():
                    for target in row["targets"].split():
                        table[(source_vt, row["relationship"], target)] = (
                            row["by_reference"] == "yes")
        elif kind in ("attribute", "content-item"):
            path_text = row["path"]
            is_meta = path_text == "meta"
            path = () if is_meta or not path_text else tuple(
                tag_of(k) for k in path_text.split("/"))
            rule = AttributeRule(row["module"], path, tag_of(row["keyword"]), row["type"],
                                 _items(row["items"]),
                                 frozenset(v for v in row["values"].split("|") if v),
                                 row["condition"], row["source"])
            if kind == "content-item":
                content.setdefault(row["value_type"], {}).setdefault(path, []).append(rule)
            elif is_meta:
                meta.setdefault(path, []).append(rule)
            else:
                header.setdefault(path, []).append(rule)
        else:
            raise ValueError(f"sr-iod.csv: unknown row kind {kind!r}")
    return IodTables(
        sop_classes, names, {k: frozenset(v) for k, v in value_types.items()}, relationships,
        {k: tuple(v) for k, v in header.items()}, {k: tuple(v) for k, v in meta.items()},
        {vt: {k: tuple(v) for k, v in paths.items()} for vt, paths in content.items()})


Condition = Callable[[str, Item], bool | None]  # (condition id, item) -> true/false/unknown
Rules = dict[tuple[int, ...], tuple[AttributeRule, ...]]


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Attribute rules by sequence path, with each path's sub-paths precomputed."""

    rules: Rules
    children: dict[tuple[int, ...], tuple[tuple[int, ...], ...]]


def rule_set(*parts: Rules) -> RuleSet:
    """Merge rule tables (e.g. the rules of every content item and those of one value type)."""
    merged: dict[tuple[int, ...], list[AttributeRule]] = {}
    for part in parts:
        for path, rules in part.items():
            merged.setdefault(path, []).extend(rules)
    paths = set(merged)
    for path in list(paths):
        paths.update(path[:n] for n in range(len(path)))
    children = {path: tuple(sorted(p for p in paths if len(p) == len(path) + 1
                                   and p[:len(path)] == path)) for path in paths}
    return RuleSet({k: tuple(v) for k, v in merged.items()}, children)


def check_attributes(item: Item, rules: RuleSet, condition: Condition, emit: Emit,
                     where: Callable[[Item, int], str], encodings: tuple[str, ...] = ()
                     ) -> None:
    """Apply attribute rules to ``item`` and, path by path, to items of its sequences."""
    pending: list[tuple[Item, tuple[int, ...]]] = [(item, ())]
    by_path = rules.rules
    children = rules.children
    while pending:
        current, path = pending.pop()
        for rule in by_path.get(path, ()):
            _check_rule(current, rule, condition, emit, where, encodings)
        for sub_path in children.get(path, ()):
            element = current.get(sub_path[-1])
            if element is not None and isinstance(element[1], list):
                pending.extend((child, sub_path) for child in element[1])


def _check_rule(item: Item, rule: AttributeRule, condition: Condition, emit: Emit,
                where: Callable[[Item, int], str], encodings: tuple[str, ...]) -> None:
    element = item.get(rule.tag)
    kind = rule.type
    required = kind in ("1", "2")
    if kind in ("1C", "2C"):
        required = condition(rule.condition, item) is True
    if element is None:
        if required:
            emit("missing-required", where(item, rule.tag),
                 f"Type {kind} attribute {keyword(rule.tag)} is absent ({rule.module}; "
                 f"{rule.source})")
        return
    value = element[1]
    empty = is_empty(value)
    if empty and kind.startswith("1"):
        emit("missing-required", where(item, rule.tag),
             f"Type {kind} attribute {keyword(rule.tag)} is present but empty ({rule.module})")
        return
    if rule.items is not None and isinstance(value, list):
        low, high = rule.items
        count = len(value)
        if (count < low and not (kind.startswith("2") and count == 0)) or (
                high is not None and count > high):
            span = f"{low}" if low == high else f"{low}-{high if high is not None else 'n'}"
            emit("invalid-value", where(item, rule.tag),
                 f"{keyword(rule.tag)} has {count} items; {span} allowed ({rule.source})")
    if rule.values and isinstance(value, bytes) and not empty:
        for part in value.split(b"\\"):
            term = text(part, encodings)
            if term is not None and term not in rule.values:
                allowed = ", ".join(sorted(rule.values))
                emit("invalid-value", where(item, rule.tag),
                     f"{keyword(rule.tag)} {shown(term)} is not an enumerated value "
                     f"({allowed})")


def header_location(parsed: Parsed, item: Item, tag: int | None = None) -> str:
    """``(gggg,eeee) Keyword[n] > ...`` of an element of a (non-content) header item."""
    parts: list[str] = []
    current = item
    guard = 0
    while id(current) in parsed.parents and guard < MAX_NESTING:
        owner, seq_tag, index = parsed.parents[id(current)]
        parts.append(f"{tag_name(seq_tag)}[{index + 1}]")
        current = owner
        guard += 1
    parts.reverse()
    if tag is not None:
        parts.append(tag_name(tag))
    return " > ".join(parts) if parts else "(data set)"


def attribute_path(parsed: Parsed, item: Item, stop: Item, tag: int | None) -> str:
    """Keyword path from ``stop`` (a content item) down to ``tag`` in ``item``."""
    parts: list[str] = []
    current = item
    guard = 0
    while current is not stop and id(current) in parsed.parents and guard < MAX_NESTING:
        owner, seq_tag, index = parsed.parents[id(current)]
        parts.append(f"{keyword(seq_tag)}[{index + 1}]")
        current = owner
        guard += 1
    parts.reverse()
    if tag is not None:
        parts.append(keyword(tag))
    return " > ".join(parts)
