"""A FHIR Bundle (R4 or R5, ours or another producer's) back into an ImagingReport.

The reader works on plain JSON (never on fhir.resources models, which would reject a whole
bundle for one bad element) and is tolerant: references may be ``urn:uuid:`` full URLs,
relative (``Observation/123``) or absolute URLs; codings may come in any order with extra
codings and other displays; R4 and R5 shapes (``bodySite``/components vs ``bodyStructure``,
CodeableConcept vs CodeableReference) are both understood. Whatever cannot be used becomes an
:class:`~icans_interop.issues.Issue` located by FHIR element path
(``Bundle.entry[3].resource.valueCodeableConcept.coding[0]``). :func:`read` never raises.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from pydantic import ValidationError

from icans_interop import issues as iss
from icans_interop import terminology
from icans_interop.fhir import codes
from icans_interop.fhir.codes import JsonDict
from icans_interop.issues import Issue
from icans_interop.model import ICE_ITEMS, ImagingReport

#: Deepest JSON nesting accepted (a FHIR bundle of this library nests about 12 levels).
MAX_DEPTH = 64
#: Largest JSON text accepted (characters or bytes).
MAX_SIZE = 64 * 1024 * 1024

_GENDER = {"male": "M", "female": "F", "other": "O"}
_QUALIFIER_FIELDS = {"distribution_descriptor": "distribution", "number_of_lesions": "number",
                     "lesion_morphology": "morphology"}
_SINGLE_FIELDS = frozenset({"number", "morphology"})
_ICE_FIELD_BY_KEY = {key: field for field, key, _max in ICE_ITEMS}
_DOMAIN_FIELDS = {"level_of_consciousness": ("consciousness", "consciousness"),
                  "seizure_domain": ("seizure", "seizure_status"),
                  "motor_domain": ("motor", "motor_status")}
_REF_RE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]*)?$")


def read(source: Any) -> tuple[ImagingReport | None, list[Issue]]:
    """Read a bundle (fhir.resources model, dict, or JSON text/bytes) into a report.

    Returns the report (None when none can be built) and the issues found. Never raises.
    """
    found: list[Issue] = []
    try:
        data = _load(source, found)
        if data is None:
            return None, found
        return _Reader(data, found).run(), found
    except Exception as exc:  # a reader bug must not become the caller's traceback
        found.append(iss.error("unreadable", "Bundle",
                               f"internal error while reading the bundle: {exc!r}"))
        return None, found


def _load(source: Any, found: list[Issue]) -> JsonDict | None:
    data: Any
    if isinstance(source, dict):
        data = source
    elif isinstance(source, str | bytes | bytearray | memoryview):
        if len(source) > MAX_SIZE:
            found.append(iss.error("too-large", "Bundle",
                                   f"input of {len(source)} bytes exceeds {MAX_SIZE}"))
            return None
        text: str
        if isinstance(source, str):
            text = source
        else:
            try:
                text = bytes(source).decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                found.append(iss.error("unreadable", "Bundle", f"not UTF-8 text: {exc}"))
                return None
        try:
            data = json.loads(text)
        except RecursionError:
            found.append(iss.error("too-deep", "Bundle",
                                   f"JSON nesting too deep to parse (limit {MAX_DEPTH} levels)"))
            return None
        except ValueError as exc:
            found.append(iss.error("unreadable", "Bundle", f"not JSON: {exc}"))
            return None
    elif hasattr(source, "model_dump_json"):
        from icans_interop.fhir.writer import model_to_json

        data = json.loads(model_to_json(source))
    else:
        found.append(iss.error("unreadable", "Bundle",
                               f"expected a Bundle (model, dict or JSON), got "
                               f"{type(source).__name__}"))
        return None
    if not isinstance(data, dict):
        found.append(iss.error("invalid-value", "Bundle",
                               f"expected a JSON object, got {type(data).__name__}"))
        return None
    depth = _depth_exceeds(data, MAX_DEPTH)
    if depth:
        found.append(iss.error("too-deep", "Bundle",
                               f"JSON nesting exceeds the limit of {MAX_DEPTH} levels"))
        return None
    return data


def _depth_exceeds(data: Any, limit: int) -> bool:
    """True when ``data`` nests containers deeper than ``limit`` (iterative; cycles included)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


# ---------------------------------------------------------------------------------------------
# Small JSON accessors: the input may hold anything anywhere.


def _dict(value: Any) -> JsonDict | None:
    return value if isinstance(value, dict) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _strip_oid(value: str) -> str:
    return value[8:] if value.lower().startswith("urn:oid:") else value


_UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


class _Reader:
    def __init__(self, bundle: JsonDict, found: list[Issue]) -> None:
        self.bundle = bundle
        self.found = found
        self.resources: list[tuple[str, JsonDict]] = []
        self.by_url: dict[str, int] = {}
        self.by_type_id: dict[tuple[str, str], int] = {}
        self.used: set[int] = set()

    # -- issues ---------------------------------------------------------------------------

    def issue(self, code: str, location: str, message: str) -> None:
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

    # -- bundle structure -----------------------------------------------------------------

    def index(self) -> bool:
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
            entry = _dict(entry)
            resource = _dict(entry.get("resource")) if entry else None
            if resource is None or not _str(resource.get("resourceType")):
                self.issue("invalid-value", f"{path}.resource",
                           "entry without a resource (or without resourceType)")
                continue
            number = len(self.resources)
            self.resources.append((f"{path}.resource", resource))
            assert entry is not None
            url = _str(entry.get("fullUrl"))
            if url:
                self.by_url.setdefault(url, number)
            rid = _str(resource.get("id"))
            if rid:
                self.by_type_id.setdefault((resource["resourceType"], rid), number)
                if url is None:
                    self.by_url.setdefault(f"{resource['resourceType']}/{rid}", number)
        return True

    def resolve(self, ref: Any, path: str, rtype: str | None = None,
                warn: bool = True) -> tuple[int, JsonDict] | None:
        """The bundle resource a Reference points at (by fullUrl, Type/id or URL tail)."""
        ref = _dict(ref)
        target = _str(ref.get("reference")) if ref else None
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

    def first(self, rtype: str) -> tuple[int, JsonDict] | None:
        for number, (_path, resource) in enumerate(self.resources):
            if resource.get("resourceType") == rtype:
                return number, resource
        return None

    def path(self, number: int) -> str:
        return self.resources[number][0]

    def follow(self, owner: tuple[int, JsonDict] | None, element: str,
               rtype: str) -> tuple[int, JsonDict] | None:
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

    # -- the report -----------------------------------------------------------------------

    def run(self) -> ImagingReport | None:
        if not self.index():
            return None
        report = self.first("DiagnosticReport")
        if report is None:
            self.issue("missing-required", "Bundle.entry",
                       "the bundle has no DiagnosticReport; reading what the other resources "
                       "say")
        groups = self.groups(report)
        data: JsonDict = {}
        patient = self.follow(report, "subject", "Patient") or self.first("Patient")
        if patient is None:
            self.issue("missing-required", "Bundle.entry", "the bundle has no Patient")
            return None
        data["patient"] = self.patient(patient)
        study = self.study(report, groups)
        if study is None:
            return None
        data["study"] = study
        issued = self.issued(report, groups)
        if issued is None:
            return None
        data["issued"] = issued
        procedure = self.procedure(report)
        if procedure is not None:
            data["procedure"] = procedure
        data["findings"] = [f for f in (self.finding(g) for g in groups) if f is not None]
        if report is not None:
            rpath = self.path(report[0])
            conclusion = report[1].get("conclusion")
            if isinstance(conclusion, str):
                data["impression"] = conclusion
            elif conclusion is not None:
                self.issue("invalid-value", f"{rpath}.conclusion", "conclusion is not a string")
            observer = self.person(report, ("resultsInterpreter", "performer"))
            if observer:
                data["observer_name"] = observer
        assessment, grade = self.assessment()
        if assessment is not None:
            data["assessment"] = assessment
        if grade is None and assessment is None:
            grade = self.condition_grade(report)
        if grade is not None:
            data["icans_grade"] = grade
        try:
            return ImagingReport.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                loc = ".".join(str(p) for p in error["loc"])
                self.issue("case-invalid", f"Bundle (report field {loc})",
                           f"{error['msg']} (value {error.get('input')!r})"[:500])
            return None

    def patient(self, found: tuple[int, JsonDict]) -> JsonDict:
        number, res = found
        path = self.path(number)
        out: JsonDict = {}
        identifiers = [(k, i) for k, i in enumerate(_list(res.get("identifier")))
                       if isinstance(i, dict) and _str(i.get("value"))]
        chosen = next(((k, i) for k, i in identifiers if codes.has_fixed(i.get("type"),
                                                                         "id-type-mr")),
                      identifiers[0] if identifiers else None)
        if chosen is None:
            self.issue("missing-required", f"{path}.identifier",
                       "the Patient has no identifier value (medical record number)")
            rid = _str(res.get("id"))
            out["id"] = rid or "unknown"
        else:
            ident = chosen[1]
            out["id"] = ident["value"]
            assigner = _dict(ident.get("assigner"))
            issuer = _str(assigner.get("display")) if assigner else None
            if issuer is None and _str(ident.get("system")):
                issuer = _strip_oid(ident["system"])
            if issuer is not None:
                if len(issuer) <= 64:
                    out["id_issuer"] = issuer
                else:
                    self.issue("invalid-value", f"{path}.identifier[{chosen[0]}].system",
                               f"issuer {issuer!r} is longer than 64 characters; dropped")
        names = [n for n in _list(res.get("name")) if isinstance(n, dict)]
        if names:
            name = names[0]
            if _str(name.get("family")):
                out["family_name"] = name["family"]
            given = [g for g in _list(name.get("given")) if isinstance(g, str)]
            if given:
                out["given_name"] = " ".join(given)
        gender = res.get("gender")
        if gender is not None:
            if gender in _GENDER:
                out["sex"] = _GENDER[gender]
            elif gender != "unknown":
                self.issue("invalid-value", f"{path}.gender",
                           f"{gender!r} is not a FHIR administrative gender")
        birth = res.get("birthDate")
        if birth is not None:
            parsed = self.date(birth, f"{path}.birthDate")
            if parsed is not None:
                out["birth_date"] = parsed
        return out

    def date(self, value: Any, path: str) -> dt.date | None:
        parsed = _parse_date(value)
        if parsed is None:
            partial = isinstance(value, str) and _PARTIAL_DATE_RE.match(value) is not None
            self.found.append(Issue(
                "warning" if partial else "error", "invalid-value", path,
                f"{value!r} is a partial date, the model records only full dates; dropped"
                if partial else f"{value!r} is not a date (YYYY-MM-DD)"))
        return parsed

    def study(self, report: tuple[int, JsonDict] | None,
              groups: list[tuple[int, JsonDict]]) -> JsonDict | None:
        imaging = None
        for owner, element in ((report, "imagingStudy"), (report, "study")):
            imaging = imaging or self.follow(owner, element, "ImagingStudy")
        for group in groups:
            imaging = imaging or self.follow(group, "partOf", "ImagingStudy")
        imaging = imaging or self.first("ImagingStudy")
        out: JsonDict = {}
        identifiers: list[tuple[str, Any]] = []
        if imaging is not None:
            ipath = self.path(imaging[0])
            identifiers = [(f"{ipath}.identifier[{k}]", i)
                           for k, i in enumerate(_list(imaging[1].get("identifier")))]
        # Logical references (Reference.identifier) name the study too.
        for owner, element in ((report, "imagingStudy"), (report, "study"),
                               *((g, "partOf") for g in groups)):
            if owner is not None:
                for k, ref in enumerate(_list(owner[1].get(element))):
                    if isinstance(ref, dict) and isinstance(ref.get("identifier"), dict):
                        identifiers.append((f"{self.path(owner[0])}.{element}[{k}].identifier",
                                            ref["identifier"]))
        uid = None
        for where, ident in identifiers:
            if not isinstance(ident, dict) or codes.has_fixed(ident.get("type"), "id-type-acsn"):
                continue
            value = _str(ident.get("value"))
            if value and (ident.get("system") == codes.DICOM_UID_SYSTEM
                          or value.lower().startswith("urn:oid:")):
                candidate = _strip_oid(value)
                if _UID_RE.match(candidate) and len(candidate) <= 64:
                    uid = candidate
                    break
                self.issue("invalid-value", f"{where}.value",
                           f"{value!r} is not a DICOM UID")
        if uid is None:
            self.issue("missing-required", self.path(imaging[0]) + ".identifier"
                       if imaging else "Bundle.entry",
                       "no Study Instance UID (identifier with system urn:dicom:uid)")
            return None
        out["instance_uid"] = uid
        accession = self.accession(report, imaging, groups)
        if accession:
            out["accession_number"] = accession
        started, where = None, "Bundle.entry"
        if imaging is not None and imaging[1].get("started") is not None:
            started, where = imaging[1]["started"], f"{self.path(imaging[0])}.started"
        elif report is not None and report[1].get("effectiveDateTime") is not None:
            started = report[1]["effectiveDateTime"]
            where = f"{self.path(report[0])}.effectiveDateTime"
        if started is None:
            self.issue("missing-required", where,
                       "no study date (ImagingStudy.started or DiagnosticReport.effective)")
            return None
        when = self.study_when(started, where)
        if when is None:
            return None
        out.update(when)
        if imaging is not None:
            description = imaging[1].get("description")
            if _str(description):
                out["description"] = description
            referrer = self.person(imaging, ("referrer",))
            if referrer:
                out["referring_physician"] = referrer
        return out

    def study_when(self, value: Any, path: str) -> JsonDict | None:
        if isinstance(value, str):
            try:
                if "T" in value:
                    moment = dt.datetime.fromisoformat(value)
                    return {"date": moment.date(), "time": moment.time()}
                if len(value) == 10:
                    return {"date": dt.date.fromisoformat(value)}
            except ValueError:
                pass
        self.issue("invalid-value", path, f"{value!r} is not a dateTime with a full date")
        return None

    def accession(self, report: tuple[int, JsonDict] | None,
                  imaging: tuple[int, JsonDict] | None,
                  groups: list[tuple[int, JsonDict]]) -> str | None:
        holders: list[Any] = []
        if imaging is not None:
            holders.extend(_list(imaging[1].get("identifier")))
        order = (self.follow(report, "basedOn", "ServiceRequest")
                 or self.follow(imaging, "basedOn", "ServiceRequest")
                 or self.first("ServiceRequest"))
        if order is not None:
            holders.extend(_list(order[1].get("identifier")))
        for owner in (report, imaging, *groups):
            if owner is not None:
                holders.extend(r.get("identifier") for r in _list(owner[1].get("basedOn"))
                               if isinstance(r, dict))
        for ident in holders:
            if isinstance(ident, dict) and codes.has_fixed(ident.get("type"), "id-type-acsn"):
                value = _str(ident.get("value"))
                if value:
                    return value
        return None

    def issued(self, report: tuple[int, JsonDict] | None,
               groups: list[tuple[int, JsonDict]]) -> dt.datetime | None:
        for owner in (report, *groups):
            if owner is not None and owner[1].get("issued") is not None:
                where = f"{self.path(owner[0])}.issued"
                value = owner[1]["issued"]
                moment = _parse_instant(value)
                if moment is None:
                    self.issue("invalid-value", where,
                               f"{value!r} is not an instant (date, time and time zone)")
                return moment
        self.issue("missing-required",
                   f"{self.path(report[0])}.issued" if report else "Bundle.entry",
                   "no issued instant for the report")
        return None

    def procedure(self, report: tuple[int, JsonDict] | None) -> str | None:
        """The procedure: DiagnosticReport.code, else the ImagingStudy's or the order's code."""
        candidates: list[tuple[Any, str]] = []
        if report is not None:
            candidates.append((report[1].get("code"), f"{self.path(report[0])}.code"))
        for rtype, elements in (("ImagingStudy", ("procedureCode", "procedure")),
                                ("ServiceRequest", ("code",))):
            for path, res in self.resources:
                if res.get("resourceType") != rtype:
                    continue
                for element in elements:
                    value = res.get(element)
                    for k, cc in enumerate(value if isinstance(value, list) else [value]):
                        where = f"{path}.{element}" + (f"[{k}]" if isinstance(value, list)
                                                       else "")
                        if isinstance(cc, dict) and isinstance(cc.get("concept"), dict):
                            cc, where = cc["concept"], f"{where}.concept"  # R5 CodeableReference
                        candidates.append((cc, where))
        for cc, _where in candidates:
            key = codes.match(cc, ("procedure",)).key
            if key is not None:
                return key
        if candidates and candidates[0][0] is not None:
            cc, where = candidates[0]
            if codes.match(cc, ("report_code",)).key is None:
                self.concept(cc, ("procedure",), where)
        self.issue("assumed-value", candidates[0][1] if candidates else "Bundle.entry",
                   "no known imaging procedure code; the default procedure is assumed")
        return None

    def person(self, owner: tuple[int, JsonDict], elements: tuple[str, ...]) -> str | None:
        """A person's name as DICOM PN from the first resolvable reference of ``elements``."""
        for element in elements:
            value = owner[1].get(element)
            for ref in (value if isinstance(value, list) else [value]):
                found = self.resolve(ref, f"{self.path(owner[0])}.{element}", warn=False)
                if found is not None:
                    for name in _list(found[1].get("name")):
                        if isinstance(name, dict):
                            pn = _person_name(name)
                            if pn:
                                return pn
                if isinstance(ref, dict) and _str(ref.get("display")):
                    return str(ref["display"])
        return None

    # -- findings -------------------------------------------------------------------------

    def is_group(self, resource: JsonDict) -> bool:
        if resource.get("resourceType") != "Observation":
            return False
        if any(codes.has_concept(c, "measurement_group")
               for c in _list(resource.get("category"))):
            return True
        code = resource.get("code")
        return codes.has_concept(code, "measurement_group") or codes.has_concept(code, "finding")

    def groups(self, report: tuple[int, JsonDict] | None) -> list[tuple[int, JsonDict]]:
        """Finding Observations: in DiagnosticReport.result order, then the others."""
        out: list[tuple[int, JsonDict]] = []
        seen: set[int] = set()
        if report is not None:
            rpath = self.path(report[0])
            for k, ref in enumerate(_list(report[1].get("result"))):
                found = self.resolve(ref, f"{rpath}.result[{k}]", "Observation")
                if found is None or found[0] in seen:
                    continue
                resource = found[1]
                if self.is_group(resource) or (
                        isinstance(resource.get("valueCodeableConcept"), dict)
                        and codes.match(resource["valueCodeableConcept"], ("pattern",)).key):
                    out.append(found)
                    seen.add(found[0])
        for number, (_path, resource) in enumerate(self.resources):
            if number not in seen and self.is_group(resource):
                out.append((number, resource))
                seen.add(number)
        self.used.update(seen)
        return out

    def finding(self, group: tuple[int, JsonDict]) -> JsonDict | None:
        number, res = group
        path = self.path(number)
        pattern = self.concept(res.get("valueCodeableConcept"), ("pattern",),
                               f"{path}.valueCodeableConcept", required=True)
        out: JsonDict = {"sites": [], "distribution": [], "signals": []}
        self.identifiers(res, path, out, observation=True)
        structure = self.resolve(res.get("bodyStructure"), f"{path}.bodyStructure",
                                 "BodyStructure") if res.get("bodyStructure") else None
        if structure is not None:
            self.used.add(structure[0])
            spath = self.path(structure[0])
            self.identifiers(structure[1], spath, out, observation=False)
            for k, part in enumerate(_list(structure[1].get("includedStructure"))):
                if not isinstance(part, dict):
                    continue
                where = f"{spath}.includedStructure[{k}]"
                site = self.concept(part.get("structure"), ("anatomy",), f"{where}.structure",
                                    required=True)
                if site:
                    out["sites"].append(site)
                if part.get("laterality") is not None:
                    self.laterality(part["laterality"], f"{where}.laterality", out)
        for k, component in enumerate(_list(res.get("component"))):
            if not isinstance(component, dict):
                continue
            where = f"{path}.component[{k}]"
            name = self.concept(component.get("code"), ("sr_template",), f"{where}.code",
                                required=True)
            value = component.get("valueCodeableConcept")
            if name == "finding_site":
                site = self.concept(value, ("anatomy",), f"{where}.valueCodeableConcept",
                                    required=True)
                if site:
                    out["sites"].append(site)
            elif name == "laterality":
                self.laterality(value, f"{where}.valueCodeableConcept", out)
            elif name is not None:
                self.issue("wrong-role", f"{where}.code",
                           f"component {name!r} is not a finding site or laterality; skipped")
        if not out["sites"] and res.get("bodySite") is not None:
            site = self.concept(res["bodySite"], ("anatomy",), f"{path}.bodySite")
            if site:
                out["sites"].append(site)
        for k, ref in enumerate(_list(res.get("hasMember"))):
            found = self.resolve(ref, f"{path}.hasMember[{k}]", "Observation")
            if found is not None:
                self.used.add(found[0])
                self.evaluation(found, out)
        if pattern is None:
            return None
        out["pattern"] = pattern
        return out

    def laterality(self, cc: Any, path: str, out: JsonDict) -> None:
        key = self.concept(cc, ("laterality",), path, required=True)
        if key is None:
            return
        if out.get("laterality") not in (None, key):
            self.issue("inconsistent-value", path,
                       f"laterality {key!r} differs from {out['laterality']!r} given before; "
                       "the first is kept")
            return
        out["laterality"] = key

    def identifiers(self, res: JsonDict, path: str, out: JsonDict, observation: bool) -> None:
        for k, ident in enumerate(_list(res.get("identifier"))):
            if not isinstance(ident, dict):
                continue
            where = f"{path}.identifier[{k}]"
            value = _str(ident.get("value"))
            if value is None:
                continue
            kind = None
            id_type = ident.get("type")
            if codes.has_concept(id_type, "tracking_identifier"):
                kind = "tracking_id"
            elif codes.has_concept(id_type, "tracking_uid"):
                kind = "tracking_uid"
            elif observation and (codes.has_fixed(id_type, "id-type-observation-uid")
                                  or (id_type is None
                                      and ident.get("system") == codes.DICOM_UID_SYSTEM)):
                kind = "observation_uid"
            if kind is None:
                continue
            if kind != "tracking_id":
                value = _strip_oid(value)
                if not (_UID_RE.match(value) and len(value) <= 64):
                    self.issue("invalid-value", f"{where}.value",
                               f"{ident['value']!r} is not a DICOM UID; ignored")
                    continue
            elif len(value) > 64:
                self.issue("invalid-value", f"{where}.value",
                           f"tracking identifier {value!r} is longer than 64 characters")
                continue
            out.setdefault(kind, value)

    def evaluation(self, found: tuple[int, JsonDict], out: JsonDict) -> None:
        number, res = found
        path = self.path(number)
        name = self.concept(res.get("code"), ("mr_sequence", "sr_template"), f"{path}.code",
                            required=True)
        if name is None:
            return
        value_path = f"{path}.valueCodeableConcept"
        value_cc = res.get("valueCodeableConcept")
        concept = terminology.load().get(name)
        role = concept.role if concept is not None else ""
        if role == "mr_sequence":
            signal = self.concept(value_cc, ("signal",), value_path, required=True)
            if signal:
                out["signals"].append({"sequence": name, "signal": signal})
            return
        field = _QUALIFIER_FIELDS.get(name)
        if field is not None:
            value = self.concept(value_cc, (field,), value_path, required=True)
            if value is None:
                return
            if field in _SINGLE_FIELDS:
                if out.get(field) not in (None, value):
                    self.issue("inconsistent-value", value_path,
                               f"a second {field} {value!r} (first {out[field]!r}); ignored")
                    return
                out[field] = value
            else:
                out[field].append(value)
            return
        if name == "finding_site":
            site = self.concept(value_cc, ("anatomy",), value_path, required=True)
            if site:
                out["sites"].append(site)
        elif name == "laterality":
            self.laterality(value_cc, value_path, out)
        else:
            self.issue("wrong-role", f"{path}.code",
                       f"{name!r} is not a qualitative evaluation of an ICANS finding; skipped")

    # -- clinical assessment --------------------------------------------------------------

    def assessment(self) -> tuple[JsonDict | None, int | None]:
        out: JsonDict = {}
        grade: int | None = None
        icp: list[str] = []
        signs: list[str] = []
        seen = False
        for number, (path, res) in enumerate(self.resources):
            if number in self.used or res.get("resourceType") != "Observation":
                continue
            name = codes.match(res.get("code"), ("assessment", "clinical_sign"))
            if name.key is None:
                if name.problem in ("unknown-code", "wrong-role") and not self.is_evaluation(res):
                    self.concept(res.get("code"), ("assessment", "clinical_sign"),
                                 f"{path}.code")
                continue
            self.used.add(number)
            key = name.key
            value_path = f"{path}.valueCodeableConcept"
            value_cc = res.get("valueCodeableConcept")
            if key == "icans_grade":
                grade = self.grade_value(res, path)
                continue
            seen = True
            if "assessed_at" not in out and res.get("effectiveDateTime") is not None:
                moment = self.instant(res["effectiveDateTime"], f"{path}.effectiveDateTime")
                if moment is not None:
                    out["assessed_at"] = moment
            if key == "ice_score":
                ice = self.ice(res, path)
                if ice is not None:
                    out["ice"] = ice
            elif key in _DOMAIN_FIELDS:
                field, role = _DOMAIN_FIELDS[key]
                value = self.concept(value_cc, (role,), value_path, required=True)
                if value is not None:
                    out[field] = value
            elif key == "icp_domain":
                value = self.concept(value_cc, ("icp_finding",), value_path, required=True)
                if value is not None:
                    icp.append(value)
            elif key == "clinical_signs_observed":
                value = self.concept(value_cc, ("clinical_sign",), value_path, required=True)
                if value is not None:
                    signs.append(value)
            else:
                concept = terminology.load().get(key)
                if concept is not None and concept.role == "clinical_sign":
                    if res.get("valueBoolean") is not False:
                        signs.append(key)
                else:
                    self.issue("wrong-role", f"{path}.code",
                               f"{key!r} is not an assessment observation; skipped")
        if not seen:
            return None, grade
        out["icp_findings"] = icp
        out["signs"] = signs
        return out, grade

    def is_evaluation(self, res: JsonDict) -> bool:
        return any(codes.has_concept(c, "qualitative_evaluations")
                   for c in _list(res.get("category")))

    def instant(self, value: Any, path: str) -> dt.datetime | None:
        moment = _parse_instant(value)
        if moment is None:
            self.issue("invalid-value", path, f"{value!r} is not a dateTime with a time zone")
        return moment

    def ice(self, res: JsonDict, path: str) -> JsonDict | None:
        items: JsonDict = {}
        for k, component in enumerate(_list(res.get("component"))):
            if not isinstance(component, dict):
                continue
            where = f"{path}.component[{k}]"
            key = self.concept(component.get("code"), ("assessment",), f"{where}.code",
                               required=True)
            field = _ICE_FIELD_BY_KEY.get(key or "")
            if field is None:
                if key is not None:
                    self.issue("wrong-role", f"{where}.code", f"{key!r} is not an ICE item")
                continue
            value = component.get("valueInteger")
            if not isinstance(value, int) or isinstance(value, bool):
                self.issue("invalid-value", f"{where}.valueInteger",
                           f"ICE item {key!r} has no integer value ({value!r})")
                continue
            items[field] = value
        missing = [field for field, _key, _max in ICE_ITEMS if field not in items]
        if missing:
            self.issue("missing-required", f"{path}.component",
                       f"ICE items missing ({', '.join(missing)}): the ICE score "
                       f"{res.get('valueInteger')!r} cannot be recorded item by item")
            return None
        total = res.get("valueInteger")
        if isinstance(total, int) and total != sum(items.values()):
            self.issue("inconsistent-value", f"{path}.valueInteger",
                       f"ICE total {total} differs from the sum of its items "
                       f"{sum(items.values())}; the items are kept")
        return items

    def grade_value(self, res: JsonDict, path: str) -> int | None:
        if isinstance(res.get("valueInteger"), int) and not isinstance(res["valueInteger"],
                                                                          bool):
            return int(res["valueInteger"])
        key = self.concept(res.get("valueCodeableConcept"), ("icans_grade_value",),
                           f"{path}.valueCodeableConcept", required=True)
        return _trailing_int(key) if key else None

    def condition_grade(self, report: tuple[int, JsonDict] | None) -> int | None:
        """The grade a G92.0x Condition (or conclusionCode) states, for bundles that carry no
        grade Observation and no assessment."""
        candidates: list[tuple[Any, str]] = []
        for number, (path, res) in enumerate(self.resources):
            if res.get("resourceType") == "Condition":
                candidates.append((res.get("code"), f"{path}.code"))
                self.used.add(number)
        if report is not None:
            for k, cc in enumerate(_list(report[1].get("conclusionCode"))):
                candidates.append((cc, f"{self.path(report[0])}.conclusionCode[{k}]"))
        for cc, _where in candidates:
            key = codes.match(cc, ("condition",)).key
            if key is not None and key.startswith("icans_grade_") and key[-1].isdigit():
                return _trailing_int(key)
        return None


def _trailing_int(key: str) -> int:
    return int(key.rsplit("_", 1)[1])


_PARTIAL_DATE_RE = re.compile(r"^[0-9]{4}(-[0-9]{2})?$")


def _parse_date(value: Any) -> dt.date | None:
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _parse_instant(value: Any) -> dt.datetime | None:
    """An aware datetime from FHIR instant/dateTime text with a time and a zone, else None."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _person_name(name: JsonDict) -> str | None:
    """DICOM PN text of a HumanName (its ``text`` when given)."""
    text = _str(name.get("text"))
    if text:
        return text
    family = _str(name.get("family")) or ""
    given = [g for g in _list(name.get("given")) if isinstance(g, str)]
    prefix = [p for p in _list(name.get("prefix")) if isinstance(p, str)]
    suffix = [s for s in _list(name.get("suffix")) if isinstance(s, str)]
    parts = [family, given[0] if given else "", " ".join(given[1:]), " ".join(prefix),
             " ".join(suffix)]
    pn = "^".join(parts).rstrip("^")
    return pn or None
