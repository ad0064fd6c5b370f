"""References: do they resolve inside the Bundle, and do they point at an allowed type?

Resolution follows FHIR R4 "Resolving references in Bundles":

* ``urn:uuid:`` / ``urn:oid:`` references resolve only to an entry with that ``fullUrl``; a
  missing one is an error (it can never resolve anywhere else), except in a ``collection``
  Bundle: a collection is a set of resources with no processing rules (R4 bundle.html,
  Bundle.type), its entries need not be complete, and the HL7 validator warns there.
* absolute ``http(s)`` references resolve to the entry with that ``fullUrl`` when present.
* relative ``Type/id`` references resolve against the base of the referring entry's RESTful
  ``fullUrl``, or to the entry whose resource has that type and id. Outside the Bundle they
  may name a resource on the server: an information, not an error.
* a reference matching several entries (one fullUrl at two versions, bdl-7) is an error; a
  versioned one (``Type/id/_history/v``) matches the entry of that ``meta.versionId``: when
  entries of that type and id exist but none has the version, it is an error in a document or
  message (which carry what they reference) and a warning elsewhere.
* conditional references (``Type?search``) are only allowed in transaction/batch bundles;
  there they are matched against the entries' ``request.ifNoneExist`` searches and
  ``identifier=system|value`` searches against entry identifiers. Two matches are an error
  (the server would reject the transaction).
* ``#id`` references must name a resource contained in the same resource (ref-1), and ``#``
  alone refers to the container.

Each resolved (or spelled-out) target type is compared with the allowed target types of the
element (``Observation.subject`` -> Patient | Group | Device | Location...), from the element
model table; ``Reference.type`` must agree with the target. The Bundle's own rules (bdl-7,
fullUrl, links, searchsets) are in :mod:`.fhir_bundle`; dom-3 is checked here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote

from icans_interop.issues import Issue, error, information, warning
from icans_interop.validation import fhir_bundle
from icans_interop.validation.fhir_bundle import RESTFUL, URN, Entry, Index
from icans_interop.validation.fhir_structure import Ref, ResourceCtx, Walk, model


def _conditional_matches(idx: Index, rtype: str, query: str) -> list[Entry]:
    """Entries a conditional reference ``rtype?query`` would find within the bundle."""
    found: list[Entry] = []
    params = parse_qsl(query, keep_blank_values=True)
    for entry in idx.entries:
        res = entry.resource
        if res is None or res.type != rtype:
            continue
        request = entry.request or {}
        if_none = request.get("ifNoneExist")
        if isinstance(if_none, str) and _same_query(if_none, query):
            found.append(entry)
            continue
        if params and all(_matches(res.data, name, value) for name, value in params):
            found.append(entry)
    return found


def _same_query(a: str, b: str) -> bool:
    return sorted(parse_qsl(a.lstrip("?"), keep_blank_values=True)) == \
        sorted(parse_qsl(b, keep_blank_values=True))


def _unescape(token: str) -> list[str]:
    """Split a FHIR token ``system|value`` on its unescaped bar and drop the escapes."""
    parts: list[str] = [""]
    escaped = False
    for char in token:
        if escaped:
            parts[-1] += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|":
            parts.append("")
        else:
            parts[-1] += char
    return parts


def _matches(data: dict[str, Any], name: str, value: str) -> bool:
    """Does a resource match one search parameter? Only ``identifier`` and ``_id``."""
    if name == "_id":
        return data.get("id") == value
    if name != "identifier":
        return False
    parts = _unescape(unquote(value))
    system, code = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
    identifiers = data.get("identifier")
    if not isinstance(identifiers, list):
        return False
    for ident in identifiers:
        if not isinstance(ident, dict) or ident.get("value") != code:
            continue
        if system is None or (system == "" and "system" not in ident) or \
                ident.get("system") == system:
            return True
    return False


def _target_type(ref: Ref, idx: Index | None) -> tuple[str | None, list[Issue]]:
    """The resource type a reference points at (None if unknown) and resolution issues.

    A type read from the reference text (``Patient/1``, ``Patient?...``) is returned with a
    leading ``?`` so the caller can tell it from the type of a resolved resource.
    """
    node = ref.node
    value = node.get("reference")
    where = f"{ref.path}.reference"
    issues: list[Issue] = []
    if not isinstance(value, str):
        return (node.get("type") if isinstance(node.get("type"), str) else None), issues
    if value.startswith("#"):
        if value == "#":
            return ref.resource.root.type, issues
        contained = ref.resource.root.data.get("contained")
        ids = {c["id"]: c.get("resourceType") for c in contained
               if isinstance(c, dict) and isinstance(c.get("id"), str)} \
            if isinstance(contained, list) else {}
        if value[1:] not in ids:
            issues.append(error("invariant-failed", where,
                                f"ref-1: SHALL have a contained resource if a local reference "
                                f"is provided ({value!r} names no contained resource)"))
            return None, issues
        found = ids[value[1:]]
        return (found if isinstance(found, str) else None), issues
    if idx is not None:
        candidates, entries = _resolve(value, ref, idx)
        distinct = len({e.version for e in entries}) == len(entries)  # else bdl-7 says it
        if len(entries) > 1 and distinct and idx.bundle_type != "history":
            issues.append(error(
                "dangling-reference", where,
                f"{value!r} matches {len(entries)} entries "
                f"({', '.join(f'entry[{e.index}]' for e in entries)}); a reference identifies "
                "one resource (give the version: Type/id/_history/version)"))
        elif candidates and not entries:
            # Type/id/_history/v where no entry of that Type/id has meta.versionId v: a
            # document or message carries what it references; elsewhere the server may hold it
            make = error if idx.bundle_type in ("document", "message") else warning
            issues.append(make(
                "dangling-reference", where,
                f"{value!r}: entry {', '.join(str(e.index) for e in candidates)} has this type "
                "and id but no entry has that meta.versionId"))
            entries = candidates
        if entries:
            return entries[0].resource.type if entries[0].resource else None, issues
    if URN.match(value):
        if idx is not None:
            make = warning if idx.bundle_type == "collection" else error
            issues.append(make("dangling-reference", where,
                               f"{value!r} matches no entry's fullUrl in this Bundle"))
        return None, issues
    if "?" in value:
        rtype, _sep, query = value.partition("?")
        if idx is None or idx.bundle_type not in ("transaction", "batch"):
            issues.append(error("invalid-value", where,
                                f"conditional reference {value!r} outside a transaction or "
                                "batch Bundle"))
            return ("?" + rtype) if rtype else None, issues
        matches = idx.conditional.get((rtype, query))
        if matches is None:
            matches = idx.conditional[(rtype, query)] = _conditional_matches(idx, rtype, query)
        if len(matches) > 1:
            issues.append(error(
                "dangling-reference", where,
                f"conditional reference {value!r} matches {len(matches)} entries "
                f"({', '.join(f'entry[{m.index}]' for m in matches)}); it must match one"))
        return ("?" + rtype) if rtype else None, issues
    match = RESTFUL.match(value)
    if match is None:
        if not re.match(r"^[a-z][a-z0-9+.\-]*:", value):
            issues.append(error("invalid-value", where,
                                f"{value!r} is not a valid reference (Type/id, an absolute URL, "
                                "urn:uuid:, urn:oid: or #id)"))
        return None, issues
    rtype = match.group("type")
    if idx is not None and not match.group("base"):
        issues.append(information(
            "reference-not-in-bundle", where,
            f"{value!r} is not in this Bundle; it can only be resolved on the server"))
    return "?" + rtype, issues


def _resolve(value: str, ref: Ref, idx: Index) -> tuple[list[Entry], list[Entry]]:
    """(entries that have the reference's type and id or fullUrl, those of them that match
    its ``_history`` version too) by R4 "Resolving references in Bundles"."""
    match = RESTFUL.match(value)
    version = match.group("version") if match else None
    plain = value.split("/_history/")[0] if version else value
    entries = idx.by_full_url.get(plain)
    if entries is None and not URN.match(value):
        entries = _resolve_relative(plain, ref, idx)
    if not entries:
        return [], []
    if version is None:
        return entries, entries
    return entries, [e for e in entries if e.version == version]


def _resolve_relative(value: str, ref: Ref, idx: Index) -> list[Entry] | None:
    match = RESTFUL.match(value)
    if match is None or match.group("base"):
        return None
    entry = idx.by_resource.get(id(_owner_entry(ref.resource)))
    if entry is not None and entry.full_url:
        own = RESTFUL.match(entry.full_url)
        if own and own.group("base"):
            absolute = own.group("base") + value.split("/_history/")[0]
            if absolute in idx.by_full_url:
                return idx.by_full_url[absolute]
    return idx.by_type_id.get((match.group("type"), match.group("id")))


def _owner_entry(res: ResourceCtx) -> ResourceCtx:
    while res.relation not in ("entry", "root") and res.parent is not None:
        res = res.parent
    return res


def _bundle_of(res: ResourceCtx) -> ResourceCtx | None:
    res = _owner_entry(res)
    return res.bundle


def _references_in(node: Any, out: set[str]) -> None:
    """Every ``reference`` value and every ``#...`` string below ``node``."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(value, str):
                    if key == "reference" or value.startswith("#"):
                        out.add(value)
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(item, list):
            for value in item:
                if isinstance(value, dict | list):
                    stack.append(value)
                elif isinstance(value, str) and value.startswith("#"):
                    out.add(value)  # a canonical in an array (PlanDefinition.library)


def _dom3(res: ResourceCtx) -> list[Issue]:
    """dom-3: each contained resource is referenced from the resource or refers to it (#)."""
    contained = res.data.get("contained")
    if not isinstance(contained, list) or not contained:
        return []
    refs: set[str] = set()
    _references_in(res.data, refs)
    issues: list[Issue] = []
    for index, item in enumerate(contained):
        if not isinstance(item, dict):
            continue
        inner: set[str] = set()
        _references_in(item, inner)
        cid = item.get("id")
        if (isinstance(cid, str) and "#" + cid in refs) or "#" in inner:
            continue
        issues.append(error(
            "invariant-failed", f"{res.path}.contained[{index}]",
            "dom-3: If the resource is contained in another resource, it SHALL be referred to "
            "from elsewhere in the resource or SHALL refer to the containing resource "
            f"(contained {item.get('resourceType')}/{cid} is not referenced as #{cid})"))
    return issues


def check(walk: Walk) -> list[Issue]:
    issues: list[Issue] = []
    for res in walk.resources:
        if res.relation != "contained" and "contained" in res.data:
            issues.extend(_dom3(res))
    known_types = model(walk.version).resource_types
    indexes: dict[int, Index] = {}
    entries_of: dict[int, dict[int | None, ResourceCtx]] = {}
    for res in walk.resources:
        if res.relation == "entry" and res.parent is not None:
            entries_of.setdefault(id(res.parent), {})[res.entry_index] = res
    for res in walk.resources:
        if res.type == "Bundle" and not res.unknown_type:
            index = fhir_bundle.index(res, entries_of.get(id(res), {}))
            indexes[id(res)] = index
            issues.extend(fhir_bundle.check(index, known_types))
    for ref in walk.refs:
        bundle = _bundle_of(ref.resource)
        idx = indexes.get(id(bundle)) if bundle is not None else None
        target, found = _target_type(ref, idx)
        issues.extend(found)
        if target is None:
            continue
        spelled = target.startswith("?")
        target = target.lstrip("?")
        where = f"{ref.path}.reference" if "reference" in ref.node else ref.path
        if target not in known_types:
            if spelled and not found and not re.match(r"^[a-z][a-z0-9+.\-]*:", str(
                    ref.node.get("reference", ""))):  # an absolute URL need not be RESTful
                issues.append(error("invalid-value", where,
                                    f"{ref.node['reference']!r} names {target!r}, which is not "
                                    f"a FHIR {walk.version} resource type"))
            continue
        declared = ref.node.get("type")
        if isinstance(declared, str) and declared != target and \
                isinstance(ref.node.get("reference"), str):
            issues.append(error("reference-wrong-type", f"{ref.path}.type",
                                f"Reference.type is {declared!r} but the reference points at "
                                f"a {target}"))
        if ref.targets is not None and target not in ref.targets:
            issues.append(error(
                "reference-wrong-type", where,
                f"{ref.element or 'this element'} may refer to {_either(ref.targets)}, not to "
                f"a {target} ({ref.node.get('reference', ref.node.get('type'))!r})"))
    return issues


def _either(names: Iterable[str]) -> str:
    items = sorted(names)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]
