"""Bundles: an index of the entries (for reference resolution) and the R4 Bundle rules.

Rules checked here, each entry by entry so the issue points at it (R4 bundle.html):

* bdl-3, bdl-4, bdl-5, bdl-7, bdl-8 (the FHIRPath invariants, natively: see the invariant
  table's reasons);
* ``Bundle.entry.fullUrl`` is "the absolute URL for the resource" (its definition): a relative
  ``Patient/1`` is an error; a RESTful fullUrl "SHALL NOT disagree with the id in the resource"
  (``http://x/fhir/Patient/1`` holding ``Patient/2`` is an error);
* ``Bundle.link``: the navigation relations ``self``, ``first``, ``previous``, ``next`` and
  ``last`` (RFC 8288 / IANA link relations, R4 http.html#paging) name one page each, so each
  occurs at most once;
* a ``searchset``: a resource found by a search is a resource the server holds, and "the only
  time that a resource does not have an id is when it is being submitted to the server using a
  create operation" (R4 resource.html#id): an entry resource without ``id`` is an error (an
  OperationOutcome reports on the search and is exempt); an
  entry of ``search.mode`` ``outcome`` is an OperationOutcome (R4 search-entry-mode), and one of
  mode ``match`` has a type the search asked for (the ``self`` link's ``Type?...`` or
  ``_type=A,B``).

The HL7 validator reports each of these as an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from icans_interop.issues import Issue, error
from icans_interop.validation.fhir_datatypes import ABSOLUTE_URI
from icans_interop.validation.fhir_structure import ResourceCtx

#: ``[base/]Type/id[/_history/version]``
RESTFUL: Final = re.compile(
    r"^(?P<base>https?://.+/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})"
    r"(/_history/(?P<version>[A-Za-z0-9\-.]{1,64}))?$")
URN: Final = re.compile(r"^urn:(uuid|oid):\S+$")

REQUEST_TYPES: Final = frozenset({"batch", "transaction", "history"})
RESPONSE_TYPES: Final = frozenset({"batch-response", "transaction-response", "history"})
KNOWN_TYPES: Final = REQUEST_TYPES | RESPONSE_TYPES | {
    "document", "message", "searchset", "collection"}
#: Link relations that name a single page (RFC 8288; R4 http.html#paging).
SINGLE_LINKS: Final = ("self", "first", "previous", "next", "last")


@dataclass(slots=True)
class Entry:
    index: int
    full_url: str | None
    resource: ResourceCtx | None
    request: dict[str, Any] | None

    @property
    def version(self) -> str | None:
        """The entry resource's ``meta.versionId``."""
        meta = self.resource.data.get("meta") if self.resource else None
        version = meta.get("versionId") if isinstance(meta, dict) else None
        return version if isinstance(version, str) else None


@dataclass(slots=True)
class Index:
    bundle: ResourceCtx
    bundle_type: str
    entries: list[Entry] = field(default_factory=list)
    by_full_url: dict[str, list[Entry]] = field(default_factory=dict)
    by_type_id: dict[tuple[str, str], list[Entry]] = field(default_factory=dict)
    by_resource: dict[int, Entry] = field(default_factory=dict)
    conditional: dict[tuple[str, str], list[Entry]] = field(default_factory=dict)


def index(bundle: ResourceCtx, resources: dict[int | None, ResourceCtx]) -> Index:
    """The entries of ``bundle``; ``resources`` maps entry index -> the walk's resource."""
    btype = bundle.data.get("type")
    idx = Index(bundle, btype if isinstance(btype, str) else "")
    raw_entries = bundle.data.get("entry")
    if not isinstance(raw_entries, list):
        return idx
    for position, raw in enumerate(raw_entries):
        if not isinstance(raw, dict):
            continue
        full_url = raw.get("fullUrl") if isinstance(raw.get("fullUrl"), str) else None
        request = raw.get("request") if isinstance(raw.get("request"), dict) else None
        entry = Entry(position, full_url, resources.get(position), request)
        idx.entries.append(entry)
        if full_url:
            idx.by_full_url.setdefault(full_url, []).append(entry)
        res = entry.resource
        if res is not None:
            idx.by_resource[id(res)] = entry
        if res is not None and isinstance(res.data.get("id"), str):
            idx.by_type_id.setdefault((res.type, res.data["id"]), []).append(entry)
    return idx


def check(idx: Index, resource_types: frozenset[str]) -> list[Issue]:
    """Every Bundle-level rule of the module docstring (``resource_types``: of the version)."""
    return [*_entry_rules(idx), *_unique_full_urls(idx), *_full_url_rules(idx),
            *_link_rules(idx), *_search_rules(idx, resource_types)]


def _entry_rules(idx: Index) -> list[Issue]:
    """bdl-3, bdl-4, bdl-5 and bdl-8, entry by entry (native; see the invariants table)."""
    issues: list[Issue] = []
    base = idx.bundle.path
    raw_entries = idx.bundle.data.get("entry")
    known = idx.bundle_type in KNOWN_TYPES
    for position, raw in enumerate(raw_entries if isinstance(raw_entries, list) else []):
        if not isinstance(raw, dict):
            continue
        where = f"{base}.entry[{position}]"
        if known and ("request" in raw) != (idx.bundle_type in REQUEST_TYPES):
            issues.append(error(
                "invariant-failed", f"{where}.request" if "request" in raw else where,
                "bdl-3: entry.request mandatory for batch/transaction/history, otherwise "
                f"prohibited (Bundle.type is {idx.bundle_type!r})"))
        if known and ("response" in raw) != (idx.bundle_type in RESPONSE_TYPES):
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


def _unique_full_urls(idx: Index) -> list[Issue]:
    """bdl-7: a fullUrl appears once, unless the entries' meta.versionId differ."""
    if idx.bundle_type == "history":
        return []
    issues: list[Issue] = []
    for full_url, entries in idx.by_full_url.items():
        if len(entries) < 2:
            continue
        versions: dict[str | None, int] = {}
        for entry in entries:
            if entry.version in versions:
                issues.append(error(
                    "invariant-failed", f"{idx.bundle.path}.entry[{entry.index}].fullUrl",
                    f"bdl-7: FullUrl must be unique in a bundle, or else entries with the "
                    f"same fullUrl must have different meta.versionId ({full_url!r} is also "
                    f"the fullUrl of entry[{versions[entry.version]}])"))
            else:
                versions[entry.version] = entry.index
    return issues


def _full_url_rules(idx: Index) -> list[Issue]:
    """fullUrl is absolute and agrees with the resource's type and id."""
    issues: list[Issue] = []
    for entry in idx.entries:
        if entry.full_url is None:
            continue
        where = f"{idx.bundle.path}.entry[{entry.index}].fullUrl"
        if not ABSOLUTE_URI.match(entry.full_url):
            issues.append(error(
                "invalid-value", where,
                f"fullUrl {entry.full_url!r} is not an absolute URL (R4 Bundle.entry.fullUrl: "
                "the absolute URL of the resource, e.g. urn:uuid:... or "
                "http://server/fhir/Patient/1)"))
            continue
        if entry.resource is None:
            continue
        match = RESTFUL.match(entry.full_url)
        if match and match.group("base") and not match.group("version"):
            rid = entry.resource.data.get("id")
            if match.group("type") != entry.resource.type or (
                    isinstance(rid, str) and match.group("id") != rid):
                issues.append(error(
                    "invalid-value", where,
                    f"fullUrl {entry.full_url!r} does not agree with the resource "
                    f"{entry.resource.type}/{rid if isinstance(rid, str) else '(no id)'} "
                    "(R4 Bundle.entry.fullUrl SHALL NOT disagree with the id)"))
    return issues


def _link_rules(idx: Index) -> list[Issue]:
    links = idx.bundle.data.get("link")
    if not isinstance(links, list):
        return []
    issues: list[Issue] = []
    seen: dict[str, int] = {}
    for position, link in enumerate(links):
        relation = link.get("relation") if isinstance(link, dict) else None
        if relation not in SINGLE_LINKS:
            continue
        if relation in seen:
            issues.append(error(
                "invalid-value", f"{idx.bundle.path}.link[{position}]",
                f"the link relation {relation!r} names one page and may occur once; "
                f"Bundle.link[{seen[relation]}] already has it"))
        else:
            seen[str(relation)] = position
    return issues


def searched_types(bundle: dict[str, Any],
                   resource_types: frozenset[str]) -> frozenset[str] | None:
    """The resource types a searchset's ``self`` link searched for, or None if unknown."""
    links = bundle.get("link")
    for link in links if isinstance(links, list) else []:
        if not isinstance(link, dict) or link.get("relation") != "self" or \
                not isinstance(link.get("url"), str):
            continue
        parts = urlsplit(link["url"])
        params = dict(parse_qsl(parts.query))
        if "_type" in params:
            named = frozenset(t.strip() for t in params["_type"].split(",") if t.strip())
            return named if named <= resource_types else None
        last = parts.path.rstrip("/").removesuffix("/_search").rsplit("/", 1)[-1]
        return frozenset({last}) if last in resource_types else None
    return None


def _search_rules(idx: Index, resource_types: frozenset[str]) -> list[Issue]:
    if idx.bundle_type != "searchset":
        return []
    issues: list[Issue] = []
    searched = searched_types(idx.bundle.data, resource_types)
    raw_entries = idx.bundle.data.get("entry")
    raw_entries = raw_entries if isinstance(raw_entries, list) else []
    for entry in idx.entries:
        res = entry.resource
        if res is None or res.unknown_type:
            continue
        where = f"{idx.bundle.path}.entry[{entry.index}]"
        raw = raw_entries[entry.index]
        search = raw.get("search") if isinstance(raw, dict) else None
        mode = search.get("mode") if isinstance(search, dict) else None
        if mode == "outcome":
            if res.type != "OperationOutcome":
                issues.append(error(
                    "invalid-value", f"{where}.resource",
                    f"an entry of search.mode 'outcome' is an OperationOutcome, not a "
                    f"{res.type} (R4 search-entry-mode)"))
            continue
        if res.type != "OperationOutcome" and not isinstance(res.data.get("id"), str):
            issues.append(error(
                "missing-required", f"{where}.resource.id",
                f"a search result ({res.type}) is a resource the server holds and has an id "
                "(R4 resource.html#id: only a resource submitted for create has none)"))
        if mode == "match" and searched is not None and res.type not in searched:
            issues.append(error(
                "invalid-value", f"{where}.resource",
                f"a {res.type} is not a match for a search of {', '.join(sorted(searched))} "
                "(search.mode 'match', from the self link)"))
    return issues
