"""DICOM level of SR validation: the module attributes of the SR IODs, from a table.

``data/sr-iod.csv`` lists, for the SR IODs we accept, the attributes of the Patient, General
Study, SR Document Series, General Equipment, SR Document General, SR Document Content and SOP
Common modules with their Type, item count, enumerated values and a condition id (rows
``attribute`` and ``content-item``), plus the value types and relationship constraints of each
IOD. :func:`iod_tables` compiles it once; :func:`check_attributes` walks the rules over a
parsed item (:mod:`icans_interop.dicom.part10`). This module never names an attribute itself
except through that table.

Locations are ``(gggg,eeee) Keyword`` for header attributes, ``>``-joined with 1-based item
numbers inside sequences (``(0040,A073) VerifyingObserverSequence[1] > (0040,A075)
VerifyingObserverName``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from icans_interop.dicom import tags
from icans_interop.dicom.part10 import Item, decode
from icans_interop.validation.sr_values import shown

Emit = Callable[[str, str, str], None]  # (code, location, message) of an error


def is_empty(value: bytes | list[Item]) -> bool:
    """True for a zero-length value (padding only) or a sequence with no items."""
    if isinstance(value, list):
        return not value
    return not value.strip(b" \x00")


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
    #: the condition decides presence both ways (``iff`` prefix): present while the
    #: condition is false is an error ("shall not be present otherwise", PS3.5 7.4)
    iff: bool = False
    #: a condition ``not-with:Keyword``, evaluated here rather than by the caller: false when
    #: the same item has that attribute, not decidable otherwise (the rest of the condition
    #: depends on the referenced instance)
    not_with: int | None = None


@dataclass(frozen=True, slots=True)
class IodTables:
    """``sr-iod.csv`` compiled: SOP classes, value types, relationships, attribute rules."""

    sop_classes: dict[str, str]  # UID -> short name
    sop_class_names: dict[str, str]  # short name -> IOD name
    #: short name -> root templates the IOD can carry that the template stage checks (the
    #: ``targets`` cell of a ``sop-class`` row): TID 1500 needs NUM items, so not Basic Text
    root_templates: dict[str, frozenset[str]]
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


def _condition(text_: str) -> tuple[str, bool, int | None]:
    """(condition id, iff, tag of a ``not-with:Keyword`` condition) of a ``condition`` cell."""
    iff = text_.startswith("iff ")
    if iff:
        text_ = text_[4:]
    name, _, argument = text_.partition(":")
    return text_, iff, tags.of(argument) if name == "not-with" else None


@lru_cache(maxsize=1)
def iod_tables() -> IodTables:
    """Parse ``data/sr-iod.csv`` once."""
    raw = resources.files("icans_interop.data").joinpath("sr-iod.csv").read_text("utf-8")
    sop_classes: dict[str, str] = {}
    names: dict[str, str] = {}
    root_templates: dict[str, frozenset[str]] = {}
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
            root_templates[row["sop_classes"]] = frozenset(row["targets"].split())
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
                tags.of(k) for k in path_text.split("/"))
            condition, iff, not_with = _condition(row["condition"])
            rule = AttributeRule(row["module"], path, tags.of(row["keyword"]), row["type"],
                                 _items(row["items"]),
                                 frozenset(v for v in row["values"].split("|") if v),
                                 condition, row["source"], iff, not_with)
            if kind == "content-item":
                content.setdefault(row["value_type"], {}).setdefault(path, []).append(rule)
            elif is_meta:
                meta.setdefault(path, []).append(rule)
            else:
                header.setdefault(path, []).append(rule)
        else:
            raise ValueError(f"sr-iod.csv: unknown row kind {kind!r}")
    return IodTables(
        sop_classes, names, root_templates,
        {k: frozenset(v) for k, v in value_types.items()}, relationships,
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
    holds: bool | None = None
    if kind in ("1C", "2C"):
        if rule.not_with is not None:
            holds = False if rule.not_with in item else None
        else:
            holds = condition(rule.condition, item)
        required = holds is True
    if element is None:
        if required:
            emit("missing-required", where(item, rule.tag),
                 f"Type {kind} attribute {tags.keyword(rule.tag)} is absent ({rule.module}; "
                 f"{rule.source})")
        return
    if rule.iff and holds is False:
        emit("invalid-value", where(item, rule.tag),
             f"Type {kind} attribute {tags.keyword(rule.tag)} shall not be present here "
             f"({rule.module}; {rule.source})")
        return
    value = element[1]
    empty = is_empty(value)
    if empty and kind.startswith("1"):
        emit("missing-required", where(item, rule.tag),
             f"Type {kind} attribute {tags.keyword(rule.tag)} is present but empty ({rule.module})")
        return
    if rule.items is not None and isinstance(value, list):
        low, high = rule.items
        count = len(value)
        if (count < low and not (kind.startswith("2") and count == 0)) or (
                high is not None and count > high):
            span = f"{low}" if low == high else f"{low}-{high if high is not None else 'n'}"
            emit("invalid-value", where(item, rule.tag),
                 f"{tags.keyword(rule.tag)} has {count} items; {span} allowed ({rule.source})")
    if rule.values and isinstance(value, bytes) and not empty:
        for part in value.split(b"\\"):
            term = decode(part, encodings)
            if term is not None and term not in rule.values:
                allowed = ", ".join(sorted(rule.values))
                emit("invalid-value", where(item, rule.tag),
                     f"{tags.keyword(rule.tag)} {shown(term)} is not an enumerated value "
                     f"({allowed})")


