"""Required value-set bindings of FHIR elements (status codes, gender, Bundle.type...).

The walk (:mod:`.fhir_structure`) records every value under a *required* binding; the value
sets are expanded at build time into ``data/fhir-r4-bindings.json`` (by
``tools/gen_fhir_tables.py`` from the R4 definitions). A value set that cannot be enumerated
(ISO 4217 currencies, for instance) is listed there with the reason and not checked; mime
types (BCP 13) get a syntax check. For R5 the code lists come from the fhir.resources R5 models
and only cover ``code`` elements whose model lists the whole value set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from icans_interop.issues import Issue, error
from icans_interop.validation.fhir_structure import Bound, Walk, model

CODE: Final = "not-in-value-set"
MIME_TYPE: Final = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\s*;.*)?$")
#: Values an element bound to mime types allows besides them. R4 CapabilityStatement.format
#: (its definition's comment): '"xml", "json" and "ttl" are allowed, which describe the simple
#: encodings described in the specification ... Otherwise, mime types are legal here.'
MIME_TYPE_SHORTHANDS: Final = {"CapabilityStatement.format": frozenset({"xml", "json", "ttl"})}


@dataclass(frozen=True, slots=True)
class ValueSet:
    url: str
    pairs: frozenset[tuple[str, str]]
    codes: frozenset[str]
    check: str  # "codes", "mime-type" or "unchecked"

    def describe(self, limit: int = 12) -> str:
        shown = sorted(self.codes)
        text = ", ".join(shown[:limit])
        return text + (", ..." if len(shown) > limit else "")


@cache
def value_set(version: str, url: str) -> ValueSet:
    entry: dict[str, Any] = model(version).value_sets.get(url, {})
    if "codes" in entry:
        pairs = frozenset((system, code) for system, codes in entry["codes"].items()
                          for code in codes)
        return ValueSet(url, pairs, frozenset(code for _s, code in pairs), "codes")
    check = "mime-type" if entry.get("check") == "mime-type" else "unchecked"
    return ValueSet(url, frozenset(), frozenset(), check)


def _name(url: str) -> str:
    if url.startswith("urn:icans-interop:r5-model-codes:"):
        return f"the codes FHIR R5 allows for {url.rsplit(':', 1)[1]}"
    return f"required value set {url}"


def _coding_ok(vs: ValueSet, coding: Any) -> bool:
    if not isinstance(coding, dict):
        return False
    system, code = coding.get("system"), coding.get("code")
    if not isinstance(code, str):
        return False
    if not isinstance(system, str):
        return False
    return (system, code) in vs.pairs or ("", code) in vs.pairs


def _check(vs: ValueSet, item: Bound) -> Issue | None:
    value = item.value
    if vs.check == "mime-type":
        if item.type in ("code", "string") and isinstance(value, str) and \
                not MIME_TYPE.match(value) and \
                value not in MIME_TYPE_SHORTHANDS.get(item.element, ()):
            return error(CODE, item.path, f"{value!r} is not a valid mime type (BCP 13)")
        return None
    if vs.check != "codes":
        return None
    if item.type in ("code", "string", "uri"):
        if value in vs.codes:
            return None
        return error(CODE, item.path, f"code {value!r} is not in {_name(vs.url)} "
                                      f"({vs.describe()})")
    if item.type == "Coding":
        if _coding_ok(vs, value):
            return None
        return error(CODE, item.path, f"Coding {_describe(value)} is not in {_name(vs.url)} "
                                      f"({vs.describe()})")
    if item.type == "CodeableConcept":
        codings = value.get("coding") if isinstance(value, dict) else None
        codings = codings if isinstance(codings, list) else []
        if any(_coding_ok(vs, c) for c in codings):
            return None
        shown = ", ".join(_describe(c) for c in codings[:5]) or "no coding"
        return error(CODE, item.path, f"CodeableConcept ({shown}) has no coding from "
                                      f"{_name(vs.url)} ({vs.describe()})")
    if item.type in ("Quantity", "SimpleQuantity"):
        if not isinstance(value, dict) or value.get("code") is None or _coding_ok(vs, value):
            return None
        return error(CODE, item.path, f"unit {_describe(value)} is not in {_name(vs.url)}")
    return None


def _describe(coding: Any) -> str:
    if not isinstance(coding, dict):
        return repr(coding)
    return f"{coding.get('system', '(no system)')}|{coding.get('code', '(no code)')}"


def check(walk: Walk) -> list[Issue]:
    """One issue per value outside its required value set."""
    issues: list[Issue] = []
    for item in walk.bound:
        problem = _check(value_set(walk.version, item.value_set), item)
        if problem is not None:
            issues.append(problem)
    return issues


def unchecked(version: str = "R4") -> dict[str, str]:
    """Required value sets that are bound but not checked, with the reason."""
    out: dict[str, str] = {}
    for url, entry in model(version).value_sets.items():
        if "unchecked" in entry:
            out[url] = str(entry["unchecked"])
    return out
