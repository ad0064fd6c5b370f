"""Safe JSON loading for the FHIR validator: size and depth guards before ``json.loads``.

Python's ``json`` module recurses once per nesting level, so a 10,000-deep array would raise
``RecursionError`` (or worse, exhaust the stack of later tree walks). The nesting depth is
therefore measured first, without recursion: strings are blanked with one linear regular
expression and the brackets that remain are counted. Inputs larger than :data:`MAX_BYTES`
are refused before they are read whole.

Beyond RFC 8259, FHIR JSON forbids duplicate property names; they are reported (the last
value is kept, as ``json`` does). ``NaN``/``Infinity`` are not JSON and are refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Final

from icans_interop import sources
from icans_interop.issues import Issue, error

#: Largest input accepted, in bytes (a FHIR Bundle with embedded PDFs stays well below).
MAX_BYTES: Final = 16 * 1024 * 1024
#: Deepest JSON nesting accepted (objects and arrays). FHIR resources rarely pass 30.
MAX_DEPTH: Final = 100

_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_DELTA: Final = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


@dataclass(slots=True)
class Loaded:
    """The parsed JSON (None when it could not be read) and the issues found reading it."""

    data: Any = None
    issues: list[Issue] = field(default_factory=list)
    label: str = "<input>"
    size: int = 0
    #: The bytes read (empty when none could be).
    raw: bytes = b""


def max_depth(raw: bytes) -> int:
    """Deepest nesting of ``[``/``{`` in JSON bytes, ignoring brackets inside strings."""
    brackets = _STRING.sub(b"", raw).translate(None, _BRACKETS)
    if not brackets:
        return 0
    return max(accumulate(_DELTA[b] for b in brackets))


def _location(exc: json.JSONDecodeError) -> str:
    return f"line {exc.lineno}, column {exc.colno}"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class _DuplicateKeys:
    """object_pairs_hook that keeps the last value and remembers duplicated names."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) != len(pairs):
            seen: set[str] = set()
            for key, _value in pairs:
                if key in seen:
                    self.names.append(key)
                seen.add(key)
        return result


def read_source(source: object, label: str | None,
                max_bytes: int = MAX_BYTES) -> tuple[bytes | None, Loaded]:
    """The bytes of ``source`` (any byte kind of :mod:`icans_interop.sources`: a path, JSON
    text, bytes or a binary file object), or None with an issue."""
    kind = sources.kind_of(source, json_text=True)
    loaded = Loaded(label=label or sources.label(source, json_text=True) or
                    {"bytes": "<bytes>", "text": "<text>"}.get(kind, "<input>"))
    try:
        raw = sources.read_bytes(source, max_bytes, json_text=True)
    except sources.SourceError as exc:
        loaded.issues.append(error(exc.code, loaded.label, exc.message))
        return None, loaded
    loaded.size = len(raw)
    loaded.raw = raw
    return raw, loaded


def load(source: object, label: str | None = None, *,
         max_bytes: int = MAX_BYTES, max_nesting: int = MAX_DEPTH) -> Loaded:
    """Parse JSON safely; never raises for bad input (issues say what is wrong)."""
    raw, loaded = read_source(source, label, max_bytes)
    if raw is None:
        return loaded
    return parse_bytes(raw, loaded, max_nesting)


def parse_bytes(raw: bytes, loaded: Loaded, max_nesting: int = MAX_DEPTH) -> Loaded:
    where = loaded.label
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        loaded.issues.append(error(
            "unreadable", f"byte {exc.start}",
            f"not UTF-8 text: byte {raw[exc.start:exc.start + 1]!r} at offset {exc.start} "
            "(FHIR JSON is UTF-8)"))
        return loaded
    if not text.strip():
        loaded.issues.append(error("unreadable", where, "the input is empty"))
        return loaded
    depth = max_depth(raw)
    if depth > max_nesting:
        loaded.issues.append(error(
            "too-deep", where,
            f"JSON nested {depth} levels deep; the FHIR validator accepts at most "
            f"{max_nesting}"))
        return loaded
    hook = _DuplicateKeys()
    try:
        data = json.loads(text, object_pairs_hook=hook, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        loaded.issues.append(error("unreadable", _location(exc),
                                   f"invalid JSON ({exc.msg}) at line {exc.lineno}, column "
                                   f"{exc.colno} (character {exc.pos})"))
        return loaded
    except (ValueError, RecursionError) as exc:
        loaded.issues.append(error("unreadable", where, f"invalid JSON: {exc}"))
        return loaded
    for name in dict.fromkeys(hook.names):
        loaded.issues.append(error("invalid-value", where,
                                   f"JSON property {name!r} appears twice in one object "
                                   "(FHIR JSON forbids duplicate properties)"))
    loaded.data = data
    return loaded
