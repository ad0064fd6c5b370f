"""DA, TM, DT and PN text: written from model values, and parsed back tolerantly.

The writer and the reader spell values the same way only if both directions live together:

* dates and times are written without separators (``YYYYMMDD``, ``HHMMSS[.FFFFFF]``), DT with
  an explicit ``&ZZXX`` offset; offsets DICOM cannot write (seconds, beyond -12:00..+14:00)
  become UTC. The parsers also accept the ACR-NEMA separators and truncated times, and give
  ``None`` for anything malformed (the reader turns that into an issue).
* Person names without a ``^`` get a trailing one (``Rita^``; dciodvfy calls a bare single
  component the retired PN form); the reader drops trailing delimiters again.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any, TypeVar

from icans_interop.model import Patient

T = TypeVar("T")

_DA = re.compile(r"^(\d{4})\.?(\d{2})\.?(\d{2})$")
_TM = re.compile(r"^(\d{2}):?(?:(\d{2}):?(?:(\d{2})(?:\.(\d{1,6}))?)?)?$")
_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?"
                 r"([+-]\d{4})?$")
_OFFSET = re.compile(r"^([+-])(\d{2})(\d{2})$")


class EncodingError(ValueError):
    """A report value cannot be written as valid DICOM (nothing is produced)."""


def cannot_write(field: str, value: str, why: str) -> EncodingError:
    """The :class:`EncodingError` for ``field`` = ``value``."""
    return EncodingError(f"{field} {value!r} cannot be written to DICOM: {why}")


# --------------------------------------------------------------------------------------------
# Writing


def format_date(value: dt.date) -> str:
    """DA text (``YYYYMMDD``)."""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def format_time(value: dt.time) -> str:
    """TM text (``HHMMSS``, with ``.FFFFFF`` only when there are microseconds)."""
    text = f"{value.hour:02d}{value.minute:02d}{value.second:02d}"
    return f"{text}.{value.microsecond:06d}" if value.microsecond else text


def dicom_offset(value: dt.datetime) -> tuple[dt.datetime, str]:
    """``value`` and its ``&ZZXX`` offset; offsets DICOM cannot write become UTC."""
    offset = value.utcoffset()
    assert offset is not None
    minutes, rest = divmod(offset, dt.timedelta(minutes=1))
    if rest or not -12 * 60 <= minutes <= 14 * 60:
        try:
            value, minutes = value.astimezone(dt.UTC), 0
        except OverflowError as exc:
            raise cannot_write("date-time", value.isoformat(),
                               "outside years 1-9999 in UTC") from exc
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return value, f"{sign}{hours:02d}{mins:02d}"


def format_datetime(value: dt.datetime) -> str:
    """DT with explicit offset (``YYYYMMDDHHMMSS[.FFFFFF]&ZZXX``)."""
    value, offset = dicom_offset(value)
    return format_date(value.date()) + format_time(value.time()) + offset


def format_person_name(value: str) -> str:
    """A PN value as written: a group without ``^`` gets one (``Rita`` -> ``Rita^``).

    dciodvfy flags a single-component name as the retired PN form; the trailing delimiter
    makes the component explicitly the family name. The reader drops trailing delimiters.
    """
    if "^" in value or not value:
        return value
    return "=".join(group + "^" if group and "^" not in group else group
                    for group in value.split("="))


def patient_name(patient: Patient) -> str:
    """``Family^Given`` as written (``Family^`` without a given name; empty without both)."""
    family = patient.family_name or ""
    given = patient.given_name or ""
    return f"{family}^{given}" if family or given else ""


# --------------------------------------------------------------------------------------------
# Reading (strings as read; None on anything malformed)


def _made(factory: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """``factory(*args, **kwargs)``, or None when the fields are out of range."""
    try:
        return factory(*args, **kwargs)
    except ValueError:
        return None


def parse_date(text: str) -> dt.date | None:
    """A DA value (``YYYYMMDD`` or ``YYYY.MM.DD``)."""
    match = _DA.match(text)
    if match is None:
        return None
    return _made(dt.date, int(match[1]), int(match[2]), int(match[3]))


def parse_time(text: str) -> dt.time | None:
    """A TM value, possibly truncated (``HH``, ``HHMM``) or with ACR-NEMA colons."""
    match = _TM.match(text)
    if match is None:
        return None
    micro = int((match[4] or "0").ljust(6, "0"))
    return _made(dt.time, int(match[1]), int(match[2] or 0), int(match[3] or 0), micro)


def parse_offset(text: str) -> dt.timezone | None:
    """A Timezone Offset From UTC (``&ZZXX``) within -14:00..+14:00."""
    match = _OFFSET.match(text)
    if match is None:
        return None
    minutes = int(match[2]) * 60 + int(match[3])
    if minutes > 14 * 60:
        return None
    return dt.timezone(dt.timedelta(minutes=-minutes if match[1] == "-" else minutes))


def parse_datetime(text: str, default_tz: dt.tzinfo | None) -> dt.datetime | None:
    """A DT value; without its own offset it takes ``default_tz`` (None: naive)."""
    match = _DT.match(text)
    if match is None:
        return None
    tz = parse_offset(match[8]) if match[8] else default_tz
    if match[8] and tz is None:
        return None
    return _made(dt.datetime, int(match[1]), int(match[2] or 1), int(match[3] or 1),
                 int(match[4] or 0), int(match[5] or 0), int(match[6] or 0),
                 int((match[7] or "0").ljust(6, "0")), tzinfo=tz)


def parse_person_name(value: str | None) -> str | None:
    """A PN value without trailing (insignificant) component and group delimiters."""
    if value is None:
        return None
    value = "=".join(group.rstrip("^ ") for group in value.split("=")).rstrip("=")
    return value or None
