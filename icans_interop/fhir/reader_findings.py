"""Finding Observations (TID 1501 groups as the DICOM SR IG maps them) back into findings.

A group is an Observation with the measurement-group category or code (or the Finding code),
or any ``DiagnosticReport.result`` whose value is a pattern. Its sites come from an R5
BodyStructure, R4 components or ``bodySite``; its qualitative evaluations from ``hasMember``
(:data:`.layout.QUALIFIERS` as the writer emits them, MR sequence -> signal, and finding site
or laterality from producers that put them there); tracking identifiers and the Observation
UID from the identifiers of the group or its BodyStructure. A group without a pattern is
dropped.
"""

from __future__ import annotations

from typing import Any

from icans_interop import fields, terminology
from icans_interop.fhir import codes
from icans_interop.fhir.codes import JsonDict
from icans_interop.fhir.reader_bundle import BundleIndex, Found
from icans_interop.fhir.values import as_list, as_str, strip_oid
from icans_interop.model import is_dicom_uid
from icans_interop.reading import Provenance

#: Concept-name key of a qualitative evaluation -> (Finding field, value role, repeats).
_QUALIFIER_OF = {name: (field, role, repeats)
                 for field, name, role, repeats in fields.FINDING_QUALIFIERS}


def is_group(resource: JsonDict) -> bool:
    """True for an Observation that is a measurement group (by category or code)."""
    if resource.get("resourceType") != "Observation":
        return False
    if any(codes.has_concept(c, "measurement_group")
           for c in as_list(resource.get("category"))):
        return True
    code = resource.get("code")
    return codes.has_concept(code, "measurement_group") or codes.has_concept(code, "finding")


def find_groups(bx: BundleIndex, report: Found | None) -> list[Found]:
    """Finding Observations: in DiagnosticReport.result order, then the others."""
    out: list[Found] = []
    seen: set[int] = set()
    if report is not None:
        rpath = bx.path(report[0])
        for k, ref in enumerate(as_list(report[1].get("result"))):
            found = bx.resolve(ref, f"{rpath}.result[{k}]", "Observation")
            if found is None or found[0] in seen:
                continue
            resource = found[1]
            if is_group(resource) or (
                    isinstance(resource.get("valueCodeableConcept"), dict)
                    and codes.match(resource["valueCodeableConcept"], ("pattern",)).key):
                out.append(found)
                seen.add(found[0])
    for number, (_path, resource) in enumerate(bx.resources):
        if number not in seen and is_group(resource):
            out.append((number, resource))
            seen.add(number)
    bx.used.update(seen)
    return out


def read_finding(bx: BundleIndex, group: Found) -> tuple[JsonDict | None, Provenance]:
    """The Finding fields of one group (None when it has no usable pattern), with where each
    came from (paths relative to the finding: ``.sites[0]``)."""
    number, res = group
    path = bx.path(number)
    at = Provenance(path)
    at.record("", path)
    pattern = bx.concept(res.get("valueCodeableConcept"), ("pattern",),
                         f"{path}.valueCodeableConcept", required=True)
    out: JsonDict = {"sites": [], **{field: [] for field, _n, _r, repeats
                                     in fields.FINDING_QUALIFIERS if repeats}, "signals": []}
    _identifiers(bx, res, path, out, at, observation=True)
    structure = bx.resolve(res.get("bodyStructure"), f"{path}.bodyStructure",
                           "BodyStructure") if res.get("bodyStructure") else None
    if structure is not None:
        bx.used.add(structure[0])
        spath = bx.path(structure[0])
        _identifiers(bx, structure[1], spath, out, at, observation=False)
        for k, part in enumerate(as_list(structure[1].get("includedStructure"))):
            if not isinstance(part, dict):
                continue
            where = f"{spath}.includedStructure[{k}]"
            site = bx.concept(part.get("structure"), ("anatomy",), f"{where}.structure",
                              required=True)
            if site:
                at.record(f".sites[{len(out['sites'])}]", f"{where}.structure")
                out["sites"].append(site)
            if part.get("laterality") is not None:
                _laterality(bx, part["laterality"], f"{where}.laterality", out, at)
    for where, component, name in bx.coded_components(res, path, ("sr_template",)):
        value = component.get("valueCodeableConcept")
        if _site_or_laterality(bx, name, value, f"{where}.valueCodeableConcept", out, at):
            continue
        if name is not None:
            bx.issue("wrong-role", f"{where}.code",
                     f"component {name!r} is not a finding site or laterality; skipped")
    if not out["sites"] and res.get("bodySite") is not None:
        site = bx.concept(res["bodySite"], ("anatomy",), f"{path}.bodySite")
        if site:
            at.record(".sites[0]", f"{path}.bodySite")
            out["sites"].append(site)
    for k, ref in enumerate(as_list(res.get("hasMember"))):
        found = bx.resolve(ref, f"{path}.hasMember[{k}]", "Observation")
        if found is not None:
            bx.used.add(found[0])
            _evaluation(bx, found, out, at)
    if pattern is None:
        return None, at
    out["pattern"] = pattern
    at.record(".pattern", f"{path}.valueCodeableConcept")
    return out, at


def _site_or_laterality(bx: BundleIndex, name: str | None, value: Any, value_path: str,
                        out: JsonDict, at: Provenance) -> bool:
    """Record a finding-site or laterality name/value pair; False for any other name."""
    if name == "finding_site":
        site = bx.concept(value, ("anatomy",), value_path, required=True)
        if site:
            at.record(f".sites[{len(out['sites'])}]", value_path)
            out["sites"].append(site)
        return True
    if name == "laterality":
        _laterality(bx, value, value_path, out, at)
        return True
    return False


def _laterality(bx: BundleIndex, cc: Any, path: str, out: JsonDict, at: Provenance) -> None:
    key = bx.concept(cc, ("laterality",), path, required=True)
    if key is None:
        return
    if out.get("laterality") not in (None, key):
        bx.issue("inconsistent-value", path,
                 f"laterality {key!r} differs from {out['laterality']!r} given before; "
                 "the first is kept")
        return
    out["laterality"] = key
    at.record(".laterality", path, replace=False)


def _identifiers(bx: BundleIndex, res: JsonDict, path: str, out: JsonDict, at: Provenance,
                 observation: bool) -> None:
    """Tracking identifier/UID (and, on the group, the Observation UID) from identifiers."""
    for k, ident in enumerate(as_list(res.get("identifier"))):
        if not isinstance(ident, dict):
            continue
        where = f"{path}.identifier[{k}]"
        value = as_str(ident.get("value"))
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
            value = strip_oid(value)
            if not is_dicom_uid(value):
                bx.issue("invalid-value", f"{where}.value",
                         f"{ident['value']!r} is not a DICOM UID; ignored")
                continue
        elif len(value) > 64:
            bx.issue("invalid-value", f"{where}.value",
                     f"tracking identifier {value!r} is longer than 64 characters")
            continue
        if kind not in out:
            out[kind] = value
            at.record(f".{kind}", f"{where}.value")


def _evaluation(bx: BundleIndex, found: Found, out: JsonDict, at: Provenance) -> None:
    """One qualitative evaluation (``hasMember``) into the finding's fields."""
    number, res = found
    path = bx.path(number)
    name = bx.concept(res.get("code"), ("mr_sequence", "sr_template"), f"{path}.code",
                      required=True)
    if name is None:
        return
    value_path = f"{path}.valueCodeableConcept"
    value_cc = res.get("valueCodeableConcept")
    concept = terminology.load().get(name)
    role = concept.role if concept is not None else ""
    if role == "mr_sequence":
        signal = bx.concept(value_cc, ("signal",), value_path, required=True)
        if signal:
            at.record(f".signals[{len(out['signals'])}]", value_path)
            out["signals"].append({"sequence": name, "signal": signal})
        return
    qualifier = _QUALIFIER_OF.get(name)
    if qualifier is not None:
        field, value_role, repeats = qualifier
        value = bx.concept(value_cc, (value_role,), value_path, required=True)
        if value is None:
            return
        if not repeats:
            if out.get(field) not in (None, value):
                bx.issue("inconsistent-value", value_path,
                         f"a second {field} {value!r} (first {out[field]!r}); ignored")
                return
            out[field] = value
            at.record(f".{field}", value_path, replace=False)
        else:
            at.record(f".{field}", value_path, replace=False)
            at.record(f".{field}[{len(out[field])}]", value_path)
            out[field].append(value)
        return
    if not _site_or_laterality(bx, name, value_cc, value_path, out, at):
        bx.issue("wrong-role", f"{path}.code",
                 f"{name!r} is not a qualitative evaluation of an ICANS finding; skipped")
