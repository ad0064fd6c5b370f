"""References: do they resolve inside the Bundle, and do they point at an allowed type?

Resolution follows FHIR R4 "Resolving references in Bundles":

* ``urn:uuid:`` / ``urn:oid:`` references resolve only to an entry with that ``fullUrl``; a
  missing one is an error (it can never resolve anywhere else).
* absolute ``http(s)`` references resolve to the entry with that ``fullUrl`` when present.
* relative ``Type/id`` references resolve against the base of the referring entry's RESTful
  ``fullUrl``, or to the entry whose resource has that type and id. Outside the Bundle they
  may name a resource on the server: an information, not an error.
* conditional references (``Type?search``) are only allowed in transaction/batch bundles;
  there they are matched against the entries' ``request.ifNoneExist`` searches and
  ``identifier=system|value`` searches against entry identifiers. Two matches are an error
  (the server would reject the transaction).
* ``#id`` references must name a resource contained in the same resource (ref-1), and ``#``
  alone refers to the container.

Each resolved (or spelled-out) target type is compared with the allowed target types of the
element (``Observation.subject`` -> Patient | Group | Device | Location...), from the element
model table; ``Reference.type`` must agree with the target. bdl-7 (fullUrl unique unless the
versions differ) and the agreement of a RESTful ``fullUrl`` with ``Type/id`` are checked too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, unquote

from icans_interop.issues import Issue, error, information
from icans_interop.validation.fhir_structure import Ref, ResourceCtx, Walk, model

_RESTFUL: Final = re.compile(
    r"^(?P<base>https?://.+/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})"
    r"(/_history/(?P<version>[A-Za-z0-9\-.]{1,64}))?$")
_URN: Final = re.compile(r"^urn:(uuid|oid):\S+$")


@dataclass(slots=True)
class _Entry:
    index: int
    full_url: str | None
    resource: ResourceCtx | None
    request: dict[str, Any] | None


@dataclass(slots=True)
class _Index:
    bundle: ResourceCtx
    bundle_type: str
    entries: list[_Entry] = field(default_factory=list)
    by_full_url: dict[str, list[_Entry]] = field(default_factory=dict)
    by_type_id: dict[tuple[str, str], list[_Entry]] = field(default_factory=dict)
    by_resource: dict[int, _Entry] = field(default_factory=dict)
    conditional: dict[tuple[str, str], list[_Entry]] = field(default_factory=dict)


def _index(bundle: ResourceCtx, entries_of: dict[int, dict[int | None, ResourceCtx]]) -> _Index:
    btype = bundle.data.get("type")
    idx = _Index(bundle, btype if isinstance(btype, str) else "")
    resources = entries_of.get(id(bundle), {})
    raw_entries = bundle.data.get("entry")
    if not isinstance(raw_entries, list):
        return idx
    for index, raw in enumerate(raw_entries):
        if not isinstance(raw, dict):
            continue
        full_url = raw.get("fullUrl") if isinstance(raw.get("fullUrl"), str) else None
        request = raw.get("request") if isinstance(raw.get("request"), dict) else None
        entry = _Entry(index, full_url, resources.get(index), request)
        idx.entries.append(entry)
        if full_url:
            idx.by_full_url.setdefault(full_url, []).append(entry)
        res = entry.resource
        if res is not None:
            idx.by_resource[id(res)] = entry
        if res is not None and isinstance(res.data.get("id"), str):
            idx.by_type_id.setdefault((res.type, res.data["id"]), []).append(entry)
    return idx


_REQUEST_TYPES: Final = frozenset({"batch", "transaction", "history"})
_RESPONSE_TYPES: Final = frozenset({"batch-response", "transaction-response", "history"})


def _entry_rules(idx: _Index) -> list[Issue]:
    """bdl-3, bdl-4, bdl-5 and bdl-8, entry by entry (native; see the invariants table)."""
    issues: list[Issue] = []
    base = idx.bundle.path
    raw_entries = idx.bundle.data.get("entry")
    known = idx.bundle_type in _REQUEST_TYPES | _RESPONSE_TYPES | {
        "document", "message", "searchset", "collection"}
    for index, raw in enumerate(raw_entries if isinstance(raw_entries, list) else []):
        if not isinstance(raw, dict):
            continue
        where = f"{base}.entry[{index}]"
        if known and ("request" in raw) != (idx.bundle_type in _REQUEST_TYPES):
            issues.append(error(
                "invariant-failed", f"{where}.request" if "request" in raw else where,
                "bdl-3: entry.request mandatory for batch/transaction/history, otherwise "
                f"prohibited (Bundle.type is {idx.bundle_type!r})"))
        if known and ("response" in raw) != (idx.bundle_type in _RESPONSE_TYPES):
            issues.append(error(
                "invariant-failed", f"{where}.response" if "response" in raw else where,
                "bdl-4: entry.response mandatory for batch-response/transaction-response/"
                f"history, otherwise prohibited (Bundle.type is {idx.bundle_type!r})"))
        if not any(k in raw for k in ("resource", "request", "response")):
            issues.append(error("invariant-failed", where,
                                "bdl-5: must be a resource unless there's a request or "
                                "response"))
        full_url = raw.get("fullUrl")
        if isinstance(full_url, str) and "/_history/" in full_url:
            issues.append(error("invariant-failed", f"{where}.fullUrl",
                                f"bdl-8: fullUrl cannot be a version specific reference "
                                f"({full_url!r})"))
    return issues


def _bundle_checks(idx: _Index) -> list[Issue]:
    issues: list[Issue] = _entry_rules(idx)
    base = idx.bundle.path
    if idx.bundle_type != "history":
        for full_url, entries in idx.by_full_url.items():
            if len(entries) < 2:
                continue
            versions: dict[Any, int] = {}
            for entry in entries:
                meta = entry.resource.data.get("meta") if entry.resource else None
                version = meta.get("versionId") if isinstance(meta, dict) else None
                version = version if isinstance(version, str) else None
                if version in versions:
                    issues.append(error(
                        "invariant-failed", f"{base}.entry[{entry.index}].fullUrl",
                        f"bdl-7: FullUrl must be unique in a bundle, or else entries with the "
                        f"same fullUrl must have different meta.versionId ({full_url!r} is also "
                        f"the fullUrl of entry[{versions[version]}])"))
                else:
                    versions[version] = entry.index
    for entry in idx.entries:
        if entry.full_url is None or entry.resource is None:
            continue
        match = _RESTFUL.match(entry.full_url)
        if match and match.group("base") and not match.group("version"):
            rid = entry.resource.data.get("id")
            if match.group("type") != entry.resource.type or (
                    isinstance(rid, str) and match.group("id") != rid):
                issues.append(error(
                    "invalid-value", f"{base}.entry[{entry.index}].fullUrl",
                    f"fullUrl {entry.full_url!r} does not agree with the resource "
                    f"{entry.resource.type}/{rid if isinstance(rid, str) else '(no id)'}"))
    return issues


def _conditional_matches(idx: _Index, rtype: str, query: str) -> list[_Entry]:
    """Entries a conditional reference ``rtype?query`` would find within the bundle."""
    found: list[_Entry] = []
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


def _target_type(ref: Ref, idx: _Index | None) -> tuple[str | None, list[Issue]]:
    """The resource type a reference points at (None if unknown) and resolution issues.

    A type read from the reference text (``Patient/1``, ``Patient?...``) is returned with a
    leading ``?`` so the caller can tell it from the type of a resolved resource.
    """
    """The resource type a reference points at (None if unknown) and resolution issues."""
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
        entries = idx.by_full_url.get(value)
        if entries is None and not _URN.match(value):
            entries = _resolve_relative(value, ref, idx)
        if entries:
            return entries[0].resource.type if entries[0].resource else None, issues
    if _URN.match(value):
        if idx is not None:
            issues.append(error("dangling-reference", where,
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
    match = _RESTFUL.match(value)
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


def _resolve_relative(value: str, ref: Ref, idx: _Index) -> list[_Entry] | None:
    match = _RESTFUL.match(value)
    if match is None or match.group("base"):
        return None
    entry = idx.by_resource.get(id(_owner_entry(ref.resource)))
    if entry is not None and entry.full_url:
        own = _RESTFUL.match(entry.full_url)
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
            stack.extend(v for v in item if isinstance(v, dict | list))


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
    indexes: dict[int, _Index] = {}
    entries_of: dict[int, dict[int | None, ResourceCtx]] = {}
    for res in walk.resources:
        if res.relation == "entry" and res.parent is not None:
            entries_of.setdefault(id(res.parent), {})[res.entry_index] = res
    for res in walk.resources:
        if res.type == "Bundle" and not res.unknown_type:
            index = _index(res, entries_of)
            indexes[id(res)] = index
            issues.extend(_bundle_checks(index))
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
            if spelled and not found:
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
