"""The state of one bundle read: its resources indexed for reference resolution, and issues.

:class:`BundleIndex` indexes the entries by ``fullUrl`` and by ``Type/id`` so references may
be ``urn:uuid:`` full URLs, relative (``Observation/123``) or absolute URLs; it records which
resources a part of the walk has consumed (:attr:`BundleIndex.used`), and turns unresolvable
references and unusable codes into issues located by FHIR element path
(``Bundle.entry[3].resource.valueCodeableConcept.coding[0]``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from icans_interop import issues as iss
from icans_interop.fhir import codes
from icans_interop.fhir.codes import JsonDict
from icans_interop.fhir.values import as_dict, as_list, as_str
from icans_interop.issues import Issue
from icans_interop.reading import Provenance

_REF_RE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]*)?$")

#: A resource of the bundle: its position in :attr:`BundleIndex.resources` and its JSON.
Found = tuple[int, JsonDict]


class BundleIndex:
    """One read: the bundle, its resources by URL and by type/id, and the issues found."""

    def __init__(self, bundle: JsonDict, found: list[Issue]) -> None:
        self.bundle = bundle
        self.found = found
        self.resources: list[tuple[str, JsonDict]] = []
        self.by_url: dict[str, int] = {}
        self.by_type_id: dict[tuple[str, str], int] = {}
        self.used: set[int] = set()
        #: The imaging DiagnosticReport the reader chose (None: none, or several).
        self.report: Found | None = None
        #: Model path -> FHIR element path of what was read (see :mod:`icans_interop.reading`).
        self.provenance = Provenance("Bundle")

    # -- issues ---------------------------------------------------------------------------

    def issue(self, code: str, location: str, message: str) -> None:
        """An issue with the catalogue's severity for ``code`` (error when not catalogued)."""
        entry = iss.catalogue().get(code)
        severity = entry.severity if entry is not None else "error"
        self.found.append(Issue(severity, code, location, message))

    def concept(self, cc: Any, roles: tuple[str, ...], path: str,
                required: bool = False) -> str | None:
        """Concept key of ``cc`` in ``roles``, or None with an issue at the coding's path."""
        m = codes.match(cc, roles)
        if m.key is not None:
            return m.key
        if m.problem == "missing-required":
            if required:
                self.issue("missing-required", path, f"no coded value: {m.detail}")
            return None
        location = path if m.index is None else f"{path}.coding[{m.index}]"
        self.issue(m.problem or "unknown-code", location, m.detail)
        return None

    def coded_components(self, res: JsonDict, path: str,
                         roles: tuple[str, ...]) -> Iterator[tuple[str, JsonDict, str | None]]:
        """(location, component, concept key of its code) of each object in ``component``.

        A component code outside ``roles`` gives an issue and a None key.
        """
        for k, component in enumerate(as_list(res.get("component"))):
            if not isinstance(component, dict):
                continue
            where = f"{path}.component[{k}]"
            yield where, component, self.concept(component.get("code"), roles,
                                                 f"{where}.code", required=True)

    # -- bundle structure -----------------------------------------------------------------

    def index(self) -> bool:
        """Index the entries; False (with an issue) when this is not a bundle with entries."""
        rtype = self.bundle.get("resourceType")
        if rtype != "Bundle":
            self.issue("invalid-value", "Bundle.resourceType",
                       f"expected a Bundle, got resourceType {rtype!r}")
            return False
        entries = self.bundle.get("entry")
        if not isinstance(entries, list):
            self.issue("missing-required", "Bundle.entry", "the bundle has no entries")
            return False
        for i, entry in enumerate(entries):
            path = f"Bundle.entry[{i}]"
            entry = as_dict(entry)
            resource = as_dict(entry.get("resource")) if entry else None
            if resource is None or not as_str(resource.get("resourceType")):
                self.issue("invalid-value", f"{path}.resource",
                           "entry without a resource (or without resourceType)")
                continue
            number = len(self.resources)
            self.resources.append((f"{path}.resource", resource))
            assert entry is not None
            url = as_str(entry.get("fullUrl"))
            if url:
                self.by_url.setdefault(url, number)
            rid = as_str(resource.get("id"))
            if rid:
                self.by_type_id.setdefault((resource["resourceType"], rid), number)
                if url is None:
                    self.by_url.setdefault(f"{resource['resourceType']}/{rid}", number)
        return True

    def resolve(self, ref: Any, path: str, rtype: str | None = None,
                warn: bool = True) -> Found | None:
        """The bundle resource a Reference points at (by fullUrl, Type/id or URL tail)."""
        ref = as_dict(ref)
        target = as_str(ref.get("reference")) if ref else None
        if target is None:
            return None
        number = self.by_url.get(target)
        if number is None:
            m = _REF_RE.search(target)
            if m:
                number = self.by_type_id.get((m.group(1), m.group(2)))
        if number is None:
            if warn:
                self.issue("unresolved-reference", f"{path}.reference",
                           f"{target!r} is not a resource of this bundle")
            return None
        resource = self.resources[number][1]
        if rtype is not None and resource.get("resourceType") != rtype:
            self.issue("invalid-value", f"{path}.reference",
                       f"{target!r} is a {resource.get('resourceType')}, expected {rtype}")
            return None
        return number, resource

    def first(self, rtype: str) -> Found | None:
        """The first resource of type ``rtype`` in the bundle."""
        for number, (_path, resource) in enumerate(self.resources):
            if resource.get("resourceType") == rtype:
                return number, resource
        return None

    def path(self, number: int) -> str:
        """FHIR path of resource ``number`` (``Bundle.entry[i].resource``)."""
        return self.resources[number][0]

    def follow(self, owner: Found | None, element: str, rtype: str) -> Found | None:
        """First resolvable reference of ``owner.element`` (a Reference or list of them)."""
        if owner is None:
            return None
        number, resource = owner
        value = resource.get(element)
        refs = value if isinstance(value, list) else [value]
        for k, ref in enumerate(refs):
            where = f"{self.path(number)}.{element}" + (f"[{k}]" if isinstance(value, list)
                                                       else "")
            found = self.resolve(ref, where, rtype, warn=False)
            if found is not None:
                return found
        return None
