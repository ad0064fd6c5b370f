"""The VR rules of PS3.5 6.2, applied to every encoded value of a parsed SR.

:func:`check_values` walks the tree the byte layer (:mod:`icans_interop.dicom.part10`) built
and returns, for every element whose value breaks the rules of its VR, the item, the tag and
why. The rules are those of PS3.5 Table 6.2-1 for values *stored* in an instance: lengths in
characters (decoded with the document's character set), character repertoires, calendar-valid
dates and times, the single-value VRs, and fixed sizes of binary VRs.

pydicom has validators too (``pydicom.valuerep.validate_value``), written for setting one
value in memory; ``tests/test_sr_values.py`` runs both on generated values of every VR: we
reject everything pydicom rejects, and each value only we reject breaks a rule listed in
:data:`STRICTER_THAN_PYDICOM`, with its PS3.5 reference.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from icans_interop.dicom import part10, tags
from icans_interop.dicom.part10 import Item, Parsed

_MAX_SHOWN: Final = 80
_MISS: Final = object()
_CACHE_VALUE_BYTES: Final = 256
_CACHE_ENTRIES: Final = 50_000

#: Rules checked here that pydicom's validators do not check (PS3.5 references).
STRICTER_THAN_PYDICOM: Final = {
    "multi-valued": "each backslash-separated value is checked on its own (PS3.5 6.4)",
    "control-character": "LO, SH, ST, LT, UT, UC, PN and AE exclude control characters other "
                         "than ESC (and TAB, LF, FF, CR in the text VRs) (PS3.5 6.1.2, 6.2)",
    "calendar": "DA, DT and TM values are real dates and times (February 30 is no date) "
                "(PS3.5 Table 6.2-1)",
    "no-range": "a stored DA, DT or TM value is one value, not the range matching form of "
                "queries (PS3.4 C.2.2.2.5 applies to queries only)",
    "length-in-characters": "LO, SH, LT, ST, AE, CS and PN lengths are counted in characters "
                            "after decoding (PS3.5 6.2)",
    "integer-range": "IS values lie in -2^31 .. 2^31-1 (PS3.5 Table 6.2-1)",
    "dt-offset": "the &ZZXX offset of a DT is at most 14 hours, 59 minutes (PS3.5 Table 6.2-1)",
    "uid-padding": "a UI value is padded with a single trailing NUL only (PS3.5 9.1)",
    "pn-components": "a PN component group has at most five components (PS3.5 6.2.1.2)",
    "binary-size": "binary VRs have a length that is a multiple of their value size",
}


def shown(value: bytes | str) -> str:
    """A value for a message: decoded leniently, truncated for giant strings."""
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    if len(text) > _MAX_SHOWN:
        return repr(text[:_MAX_SHOWN]) + f"... ({len(text)} characters)"
    return repr(text)


def _decode(value: bytes, encodings: tuple[str, ...]) -> str:
    return part10.decode_text(value, encodings)


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


def _values(value: bytes) -> list[bytes]:
    return value.split(b"\\")


class VrChecker:
    """Checks encoded values against their VR; knows the document's character set."""

    def __init__(self, encodings: tuple[str, ...] = ()) -> None:
        self.encodings = encodings
        self.non_ascii = False
        self._checks: dict[str, Callable[[bytes], str | None]] = {
            "AE": self._ae, "AS": self._as, "CS": self._cs, "DA": self._da, "DS": self._ds,
            "DT": self._dt, "IS": self._is, "LO": self._lo, "LT": self._lt, "PN": self._pn,
            "SH": self._sh, "ST": self._st, "TM": self._tm, "UI": self._ui, "UT": self._ut,
            "UC": self._uc,
        }

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
        for part in _values(value):
            if not part.isascii():
                return (f"application entity {shown(part)} is not in the default character "
                        "repertoire (AE)")
        return self._string(value, "AE", _CONTROL)

    def _as(self, value: bytes) -> str | None:
        for part in _values(value):
            part = part.rstrip(b" ")  # four characters exactly: no leading space (PS3.5 6.2)
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



@dataclass(frozen=True, slots=True)
class ValueCheck:
    """What :func:`check_values` found."""

    #: (item, tag, message) of each value that breaks its VR.
    problems: list[tuple[Item, int, str]]
    #: True when some text value needs more than the default repertoire.
    non_ascii: bool


def check_values(parsed: Parsed) -> ValueCheck:
    """Check every value of the file meta and the data set against its VR."""
    checker = VrChecker(parsed.encodings)
    check = checker.check
    problems: list[tuple[Item, int, str]] = []
    if parsed.charset_problem is not None:
        problems.append((parsed.dataset, tags.SPECIFIC_CHARACTER_SET, parsed.charset_problem))
    stack: list[Item] = [parsed.meta, parsed.dataset]
    charset = tags.SPECIFIC_CHARACTER_SET
    while stack:
        item = stack.pop()
        for tag, (vr, value, _offset) in item.items():
            if isinstance(value, list):
                stack.extend(value)
            elif value and not (tag == charset and item is parsed.dataset):
                problem = check(vr, value)
                if problem is not None:
                    problems.append((item, tag, problem))
    return ValueCheck(problems, checker.non_ascii)
