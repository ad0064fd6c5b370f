"""Who and what the report is about: Patient, study, issued instant, procedure, people.

Each value is looked for where our writer puts it first and then where other producers do:
the study via ``DiagnosticReport.imagingStudy`` / ``study``, the groups' ``partOf`` or any
ImagingStudy, its UID also from logical references (``Reference.identifier``); the accession
number from the ImagingStudy, the ServiceRequest or any ``basedOn`` identifier; the procedure
from the report's code, else the ImagingStudy's or the order's (R4 CodeableConcept or R5
CodeableReference). What the model requires and cannot be found (Study Instance UID, study
date, issued) gives ``missing-required`` and None.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from icans_interop.fhir import codes
from icans_interop.fhir.codes import JsonDict
from icans_interop.fhir.layout import SEX_OF_GENDER
from icans_interop.fhir.reader_bundle import BundleIndex, Found
from icans_interop.fhir.values import (
    as_dict,
    as_list,
    as_str,
    is_partial_date,
    parse_date,
    parse_instant,
    person_name_of,
    strip_oid,
)
from icans_interop.issues import Issue
from icans_interop.model import is_dicom_uid


def read_patient(bx: BundleIndex, found: Found) -> JsonDict:
    """Patient fields: the MR identifier (else the first), issuer, name, sex, birth date."""
    number, res = found
    path = bx.path(number)
    out: JsonDict = {}
    identifiers = [(k, i) for k, i in enumerate(as_list(res.get("identifier")))
                   if isinstance(i, dict) and as_str(i.get("value"))]
    chosen = next(((k, i) for k, i in identifiers if codes.has_fixed(i.get("type"),
                                                                     "id-type-mr")),
                  identifiers[0] if identifiers else None)
    if chosen is None:
        bx.issue("missing-required", f"{path}.identifier",
                 "the Patient has no identifier value (medical record number)")
        rid = as_str(res.get("id"))
        out["id"] = rid or "unknown"
    else:
        ident = chosen[1]
        where = f"{path}.identifier[{chosen[0]}]"
        out["id"] = ident["value"]
        bx.provenance.record("patient.id", f"{where}.value")
        assigner = as_dict(ident.get("assigner"))
        issuer = as_str(assigner.get("display")) if assigner else None
        system = as_str(ident.get("system"))
        for field, value, element in (("id_issuer", issuer, "assigner.display"),
                                      ("id_system", system, "system")):
            if value is None:
                continue
            if len(value) <= 64:
                out[field] = value
                bx.provenance.record(f"patient.{field}", f"{where}.{element}")
            else:
                bx.issue("invalid-value", f"{where}.{element}",
                         f"{value!r} is longer than 64 characters, as DICOM can carry; "
                         "dropped")
    names = [n for n in as_list(res.get("name")) if isinstance(n, dict)]
    if names:
        name = names[0]
        if as_str(name.get("family")):
            out["family_name"] = name["family"]
        given = [g for g in as_list(name.get("given")) if isinstance(g, str)]
        if given:
            out["given_name"] = " ".join(given)
    gender = res.get("gender")
    if gender is not None:
        if gender in SEX_OF_GENDER:
            out["sex"] = SEX_OF_GENDER[gender]
        elif gender != "unknown":
            bx.issue("invalid-value", f"{path}.gender",
                     f"{gender!r} is not a FHIR administrative gender")
    birth = res.get("birthDate")
    if birth is not None:
        parsed = _date(bx, birth, f"{path}.birthDate")
        if parsed is not None:
            out["birth_date"] = parsed
    return out


def _date(bx: BundleIndex, value: Any, path: str) -> dt.date | None:
    parsed = parse_date(value)
    if parsed is None:
        partial = is_partial_date(value)
        bx.found.append(Issue(
            "warning" if partial else "error", "invalid-value", path,
            f"{value!r} is a partial date, the model records only full dates; dropped"
            if partial else f"{value!r} is not a date (YYYY-MM-DD)"))
    return parsed


def read_study(bx: BundleIndex, report: Found | None, groups: list[Found]) -> JsonDict | None:
    """Study fields: Study Instance UID, accession number, date/time, description, referrer."""
    imaging = None
    for owner, element in ((report, "imagingStudy"), (report, "study")):
        imaging = imaging or bx.follow(owner, element, "ImagingStudy")
    for group in groups:
        imaging = imaging or bx.follow(group, "partOf", "ImagingStudy")
    if imaging is None:
        studies = [n for n, (_path, res) in enumerate(bx.resources)
                   if res.get("resourceType") == "ImagingStudy"]
        if len(studies) > 1:
            bx.issue("ambiguous-source", "Bundle.entry",
                     f"{len(studies)} ImagingStudies and no report or finding says which one "
                     f"was read ({', '.join(bx.path(n) for n in studies[:5])})")
            return None
        imaging = (studies[0], bx.resources[studies[0]][1]) if studies else None
    out: JsonDict = {}
    identifiers: list[tuple[str, Any]] = []
    if imaging is not None:
        ipath = bx.path(imaging[0])
        identifiers = [(f"{ipath}.identifier[{k}]", i)
                       for k, i in enumerate(as_list(imaging[1].get("identifier")))]
    # Logical references (Reference.identifier) name the study too.
    for owner, element in ((report, "imagingStudy"), (report, "study"),
                           *((g, "partOf") for g in groups)):
        if owner is not None:
            for k, ref in enumerate(as_list(owner[1].get(element))):
                if isinstance(ref, dict) and isinstance(ref.get("identifier"), dict):
                    identifiers.append((f"{bx.path(owner[0])}.{element}[{k}].identifier",
                                        ref["identifier"]))
    uid = None
    for where, ident in identifiers:
        if not isinstance(ident, dict) or codes.has_fixed(ident.get("type"), "id-type-acsn"):
            continue
        value = as_str(ident.get("value"))
        if value and (ident.get("system") == codes.DICOM_UID_SYSTEM
                      or value.lower().startswith("urn:oid:")):
            candidate = strip_oid(value)
            if is_dicom_uid(candidate):
                uid = candidate
                break
            bx.issue("invalid-value", f"{where}.value",
                     f"{value!r} is not a DICOM UID")
    if uid is None:
        bx.issue("missing-required", bx.path(imaging[0]) + ".identifier"
                 if imaging else "Bundle.entry",
                 "no Study Instance UID (identifier with system urn:dicom:uid)")
        return None
    out["instance_uid"] = uid
    accession = _accession(bx, report, imaging, groups)
    if accession:
        out["accession_number"] = accession
    started, where = None, "Bundle.entry"
    if imaging is not None and imaging[1].get("started") is not None:
        started, where = imaging[1]["started"], f"{bx.path(imaging[0])}.started"
    elif report is not None and report[1].get("effectiveDateTime") is not None:
        started = report[1]["effectiveDateTime"]
        where = f"{bx.path(report[0])}.effectiveDateTime"
    if started is None:
        bx.issue("missing-required", where,
                 "no study date (ImagingStudy.started or DiagnosticReport.effective)")
        return None
    when = _study_when(bx, started, where)
    if when is None:
        return None
    out.update(when)
    if imaging is not None:
        description = imaging[1].get("description")
        if as_str(description):
            out["description"] = description
        referrer = read_person(bx, imaging, ("referrer",))
        if referrer:
            out["referring_physician"] = referrer
    return out


def _study_when(bx: BundleIndex, value: Any, path: str) -> JsonDict | None:
    if isinstance(value, str):
        try:
            if "T" in value:
                moment = dt.datetime.fromisoformat(value)
                return {"date": moment.date(), "time": moment.time()}
            if len(value) == 10:
                return {"date": dt.date.fromisoformat(value)}
        except ValueError:
            pass
    bx.issue("invalid-value", path, f"{value!r} is not a dateTime with a full date")
    return None


def _accession(bx: BundleIndex, report: Found | None, imaging: Found | None,
               groups: list[Found]) -> str | None:
    holders: list[Any] = []
    if imaging is not None:
        holders.extend(as_list(imaging[1].get("identifier")))
    order = (bx.follow(report, "basedOn", "ServiceRequest")
             or bx.follow(imaging, "basedOn", "ServiceRequest")
             or bx.first("ServiceRequest"))
    if order is not None:
        holders.extend(as_list(order[1].get("identifier")))
    for owner in (report, imaging, *groups):
        if owner is not None:
            holders.extend(r.get("identifier") for r in as_list(owner[1].get("basedOn"))
                           if isinstance(r, dict))
    for ident in holders:
        if isinstance(ident, dict) and codes.has_fixed(ident.get("type"), "id-type-acsn"):
            value = as_str(ident.get("value"))
            if value:
                return value
    return None


def read_issued(bx: BundleIndex, report: Found | None,
                groups: list[Found]) -> dt.datetime | None:
    """``issued`` of the DiagnosticReport, else of the first group that has one."""
    for owner in (report, *groups):
        if owner is not None and owner[1].get("issued") is not None:
            where = f"{bx.path(owner[0])}.issued"
            value = owner[1]["issued"]
            moment = parse_instant(value)
            if moment is None:
                bx.issue("invalid-value", where,
                         f"{value!r} is not an instant (date, time and time zone)")
            return moment
    bx.issue("missing-required",
             f"{bx.path(report[0])}.issued" if report else "Bundle.entry",
             "no issued instant for the report")
    return None


def read_procedure(bx: BundleIndex, report: Found | None) -> str | None:
    """The procedure: DiagnosticReport.code, else the ImagingStudy's or the order's code."""
    candidates: list[tuple[Any, str]] = []
    if report is not None:
        candidates.append((report[1].get("code"), f"{bx.path(report[0])}.code"))
    for rtype, elements in (("ImagingStudy", ("procedureCode", "procedure")),
                            ("ServiceRequest", ("code",))):
        for path, res in bx.resources:
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
    for cc, where in candidates:
        key = codes.match(cc, ("procedure",)).key
        if key is not None:
            bx.provenance.record("procedure", where)
            return key
    if candidates and candidates[0][0] is not None:
        cc, where = candidates[0]
        if codes.match(cc, ("report_code",)).key is None:
            bx.concept(cc, ("procedure",), where)
    bx.issue("assumed-value", candidates[0][1] if candidates else "Bundle.entry",
             "no known imaging procedure code; the default procedure is assumed")
    return None


def read_person(bx: BundleIndex, owner: Found, elements: tuple[str, ...]) -> str | None:
    """A person's name as DICOM PN from the first resolvable reference of ``elements``
    (a Practitioner, or the practitioner of a PractitionerRole)."""
    return next((name for name, _org in _people(bx, owner, elements)), None)


def read_verifier(bx: BundleIndex, report: Found | None) -> JsonDict | None:
    """The verifying observer: DiagnosticReport.performer, who is responsible for the report
    (a Practitioner, or a PractitionerRole with its organization)."""
    if report is None:
        return None
    for name, organization in _people(bx, report, ("performer",)):
        bx.provenance.record("verifying_observer", f"{bx.path(report[0])}.performer")
        return {"name": name, "organization": organization}
    return None


def _people(bx: BundleIndex, owner: Found, elements: tuple[str, ...]
            ) -> list[tuple[str, str | None]]:
    found_people: list[tuple[str, str | None]] = []
    for element in elements:
        value = owner[1].get(element)
        for ref in (value if isinstance(value, list) else [value]):
            found = bx.resolve(ref, f"{bx.path(owner[0])}.{element}", warn=False)
            organization = None
            if found is not None and found[1].get("resourceType") == "PractitionerRole":
                role = found[1]
                org = bx.resolve(role.get("organization"), "", "Organization", warn=False)
                organization = as_str(org[1].get("name")) if org is not None else None
                found = bx.resolve(role.get("practitioner"), "", "Practitioner", warn=False)
            if found is not None:
                pn = person_name_of(as_list(found[1].get("name")))
                if pn:
                    found_people.append((pn, organization))
                continue
            if isinstance(ref, dict) and as_str(ref.get("display")):
                found_people.append((str(ref["display"]), None))
    return found_people


#: DiagnosticReport.status -> the model's status (the states between have no SR form).
_STATUS: Final = {"preliminary": "preliminary", "registered": "preliminary",
                  "partial": "preliminary", "final": "final", "amended": "amended",
                  "corrected": "amended", "appended": "amended", "cancelled": "cancelled"}


def read_status(bx: BundleIndex, report: Found | None, data: JsonDict) -> None:
    """Status and revision: DiagnosticReport.status, and the revision as the Instance Number
    of the report's SR in the ImagingStudy (the instance whose UID the report names)."""
    if report is None:
        return
    path = bx.path(report[0])
    status = report[1].get("status")
    if isinstance(status, str) and status in _STATUS:
        data["status"] = _STATUS[status]
        bx.provenance.record("status", f"{path}.status")
        if _STATUS[status] != status:
            bx.issue("assumed-value", f"{path}.status",
                     f"status {status!r} read as {_STATUS[status]!r}")
    elif status is not None:
        bx.issue("invalid-value", f"{path}.status", f"{status!r} is not a report status")
    uids = {strip_oid(i["value"]) for i in as_list(report[1].get("identifier"))
            if isinstance(i, dict) and isinstance(i.get("value"), str)
            and i.get("system") == codes.DICOM_UID_SYSTEM}
    for study_path, study in bx.resources:
        if study.get("resourceType") != "ImagingStudy":
            continue
        for s_index, series in enumerate(as_list(study.get("series"))):
            instances = series.get("instance") if isinstance(series, dict) else None
            for i_index, instance in enumerate(as_list(instances)):
                if isinstance(instance, dict) and instance.get("uid") in uids:
                    revision = instance.get("number")
                    if isinstance(revision, int) and 1 <= revision <= 9999:
                        data["revision"] = revision
                        bx.provenance.record(
                            "revision",
                            f"{study_path}.series[{s_index}].instance[{i_index}].number")
                    return
