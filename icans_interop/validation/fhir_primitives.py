"""FHIR primitive values checked against the R4 JSON rules before any model sees them.

``fhir.resources`` coerces (``"true"`` becomes ``True``, ``"37.2"`` becomes ``37.2``) and checks
neither lengths nor every type's regex, so each primitive value is checked here, during the
structure walk, against the rules the generator took from the R4 definitions
(``primitives`` in ``data/fhir-r4-bindings.json``):

* the JSON type (R4 JSON, json.html#primitive): ``boolean`` is a JSON ``true``/``false``;
  ``integer``, ``positiveInt``, ``unsignedInt`` and ``decimal`` are JSON numbers (an integer
  type takes no fraction or exponent); every other primitive is a JSON string;
* the type's regex (the ``regex`` extension on its ``value`` element), matched in full with
  ASCII semantics for ``\\s``/``\\S`` (the regexes are written for XML Schema and Java, whose
  ``\\s`` is ASCII whitespace only);
* ``maxLength`` (``string``: 1,048,576 characters) and the integer bounds (32-bit).

``base64Binary``'s regex ``(\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+`` backtracks exponentially on a
failing value with line breaks, so the same language is checked linearly: every run of
non-whitespace characters has a length that is a multiple of 4 and uses only the alphabet
(a test compares the two on generated values).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

_BASE64_ALPHABET: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_ASCII_SPACE: Final = re.compile(r"\s+", re.ASCII)


def base64_matches(value: str) -> bool:
    """True when ``value`` is in the language of the R4 base64Binary regex (linear time)."""
    tokens = _ASCII_SPACE.split(value)
    found = False
    for token in tokens:
        if not token:
            continue
        if len(token) % 4 or not _BASE64_ALPHABET.issuperset(token):
            return False
        found = True
    return found


@dataclass(frozen=True, slots=True)
class Rule:
    """What a value of one primitive type must look like in R4 JSON."""

    type: str
    json: str  # "boolean", "number" or "string"
    matches: Callable[[str], object] | None
    regex: str | None
    max_length: int | None
    min_value: int | None
    max_value: int | None


def _matcher(type_name: str, regex: str | None) -> Callable[[str], object] | None:
    """A function whose result is truthy when the text matches (a bound ``fullmatch``)."""
    if regex is None:
        return None
    if type_name == "base64Binary":
        return base64_matches
    return re.compile(regex, re.ASCII).fullmatch


def compile_rules(table: dict[str, dict[str, Any]]) -> dict[str, Rule]:
    """Compiled rules from the ``primitives`` table of the element model (compiled once per
    process: the element model is cached)."""
    out: dict[str, Rule] = {}
    for name, entry in table.items():
        regex = entry.get("regex")
        out[name] = Rule(name, str(entry["json"]), _matcher(name, regex), regex,
                         entry.get("maxLength"), entry.get("minValue"), entry.get("maxValue"))
    return out


_JSON_NAMES: Final = {bool: "boolean", int: "number", float: "number", str: "string",
                      dict: "object", list: "array"}


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value) if isinstance(value, str) else \
        {True: "true", False: "false"}.get(value, str(value)) if isinstance(value, bool) \
        else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def problem(rule: Rule, value: Any) -> str | None:
    """Why ``value`` is not a valid JSON value of ``rule.type``, or None when it is."""
    if type(value) is str and rule.json == "string" and (  # the common case, fast
            rule.max_length is None or len(value) <= rule.max_length) and (
            rule.matches is None or rule.matches(value)):
        return None
    kind = _JSON_NAMES.get(type(value), type(value).__name__)
    if kind != rule.json:
        what = f"the JSON {kind} {_shown(value)}" if kind in ("string", "number", "boolean") \
            else f"a JSON {kind}"
        return (f"a FHIR {rule.type} is a JSON {rule.json} in R4 JSON, not {what}")
    if rule.json == "boolean":
        return None
    if rule.json == "number":
        if isinstance(value, float) and rule.type != "decimal":
            return (f"a FHIR {rule.type} is a JSON integer (no fraction or exponent), got "
                    f"{_shown(value)}")
        text = repr(value) if isinstance(value, float) else str(value)
    else:
        text = value
    if rule.max_length is not None and len(text) > rule.max_length:
        return (f"a FHIR {rule.type} may have at most {rule.max_length:,} characters; this one "
                f"has {len(text):,}")
    if rule.matches is not None and not rule.matches(text):
        return f"invalid {rule.type} {_shown(value)}: does not match the FHIR R4 {rule.type} " \
               f"format"
    if isinstance(value, int) and (
            (rule.min_value is not None and value < rule.min_value)
            or (rule.max_value is not None and value > rule.max_value)):
        return (f"{rule.type} {value} is outside {rule.min_value}..{rule.max_value} "
                "(a 32-bit integer)")
    return None
