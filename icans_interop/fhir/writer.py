"""An :class:`~icans_interop.model.ImagingReport` as a FHIR Bundle (R4 4.0.1 or R5).

Resource layout (one bundle per report; every id is a UUID v5 of the report identity and the
resource's role, every ``fullUrl`` is ``urn:uuid:<id>`` and every reference points at a
``fullUrl``):

* ``DiagnosticReport`` (US Core DiagnosticReport for Report and Note): radiology category
  LOINC LP29684-5, ``code`` = LOINC procedure, ``result`` -> the finding measurement groups,
  ``conclusion`` = impression, ``conclusionCode`` = ICD-10-CM G92.0x when graded.
* ``Patient`` (conditional create on its identifier in a transaction), ``ImagingStudy``
  (Study Instance UID as ``urn:dicom:uid`` / ``urn:oid:``; conditional create),
  ``ServiceRequest`` (accession number, type v2-0203 ACSN; conditional create) when an
  accession number is known, ``Practitioner`` for the observer and the referring physician,
  and one ``Device`` for icans-interop (the IG's ``device`` 1..1).
* Per finding, following the HL7 DICOM SR to FHIR IG (TID 1501 group): a measurement-group
  ``Observation`` (category DCM 125007; ``code`` DCM 121071 "Finding" - the IG takes ``code``
  from the Finding Category item, which this model does not have, and its fallback 125007
  would clash with the IG's own invariant that 125007 is not both code and category;
  ``valueCodeableConcept`` = the pattern; identifier = Observation UID; ``partOf`` ->
  ImagingStudy, ``basedOn`` -> ServiceRequest, ``hasMember`` -> qualitative evaluations) and
  one qualitative-evaluation ``Observation`` (category UMLS C0034375) per TID 1501 row 11
  item of the SR, same name/value pairs in the same order: MR sequence -> signal,
  Distribution Descriptor, Number of lesions, Lesion Morphology, and Laterality when the
  finding has no site for it to qualify.
  Finding sites: R5 -> ``bodyStructure`` -> a BodyStructure (dicom-sr-finding-site;
  ``includedStructure`` per site with the laterality; tracking identifier/UID as its
  identifiers), plus ``bodySite`` for a single site without laterality (IG mapping).
  R4 has no ``bodyStructure``: one ``component`` per finding site (SCT 363698007) and one for
  the laterality (SCT 272741003), ``bodySite`` when there is exactly one site, and the
  tracking identifier/UID as Observation identifiers. R4 Observations also carry the
  ``imaging`` observation category (US Core clinical result).
* The clinical assessment: ICE score (``valueInteger`` plus one component per ICE item),
  level of consciousness, seizure, motor finding, one Observation per ICP/edema finding and per
  clinical sign, the recorded ICANS grade; and a ``Condition`` (ICD-10-CM G92.0x by the
  effective grade, ``evidence`` -> those Observations) unless the grade is 0.

R5 resources claim the IG profiles in ``meta.profile`` where the IG has one. R4 output uses
only elements that exist in FHIR 4.0.1 (built and validated with ``fhir.resources.R4B``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from functools import cache
from importlib import metadata
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from icans_interop import grading
from icans_interop.fhir import codes
from icans_interop.fhir.codes import JsonDict, codeable, fixed_cc
from icans_interop.model import ICE_ITEMS, Finding, ImagingReport

if TYPE_CHECKING:
    from fhir.resources.core.fhirabstractmodel import FHIRAbstractModel

Version = Literal["R4", "R5"]
BundleType = Literal["transaction", "collection"]

IG_PROFILE = "http://hl7.org/fhir/uv/dicom-sr/StructureDefinition/"
PROFILE_MEASUREMENT_GROUP = IG_PROFILE + "imaging-measurement-group"
PROFILE_QUALITATIVE_EVALUATION = IG_PROFILE + "imaging-qualitative-evaluation"
PROFILE_FINDING_SITE = IG_PROFILE + "dicom-sr-finding-site"
PROFILE_GENERAL_EQUIPMENT = IG_PROFILE + "dicom-general-equipment"
PROFILE_PARTICIPANT_PERSON = IG_PROFILE + "dicom-participant-person"

#: Namespace of the UUID v5 resource ids (fixed: ids are stable across releases).
ID_NAMESPACE = uuid.UUID("5d0f3c3e-8a51-5d2b-a3c5-6f1e2b9a7c40")

DEVICE_NAME = "icans-interop"
DEVICE_MANUFACTURER = "icans-interop project"

#: TID 1501 qualitative evaluations other than per-sequence signals: model field -> (concept
#: name key, whether the field is a tuple). Same table as the SR side's row 11 items.
QUALIFIER_EVALUATIONS: tuple[tuple[str, str], ...] = (
    ("distribution", "distribution_descriptor"),
    ("number", "number_of_lesions"),
    ("morphology", "lesion_morphology"),
)

_GENDER = {"M": "male", "F": "female", "O": "other"}


def resource_id(*parts: str) -> str:
    """Deterministic resource id (UUID v5) for the identity ``parts``."""
    return str(uuid.uuid5(ID_NAMESPACE, "|".join(parts)))


def uid_value(uid: str) -> str:
    return f"urn:oid:{uid}"


def _version() -> str:
    try:
        return metadata.version("icans-interop")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


_SOFTWARE_VERSION = _version()


def instant(value: dt.datetime) -> str:
    """FHIR instant/dateTime text of an aware datetime (offset in whole minutes)."""
    offset = value.utcoffset()
    if offset is not None and offset.total_seconds() % 60:
        value = value.astimezone(dt.UTC)
    return _iso(value)


def _iso(value: dt.datetime) -> str:
    """ISO 8601 text as fhir.resources writes it (UTC as ``Z``)."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def study_datetime(report: ImagingReport) -> str:
    """Study date/time as FHIR dateTime.

    DICOM study times are local times without an offset, while a FHIR dateTime with a time
    needs one: the report's (issued) offset is used, and readers take the wall-clock time back.
    """
    study = report.study
    if study.time is None:
        return study.date.isoformat()
    moment = dt.datetime.combine(study.date, study.time.replace(tzinfo=None),
                                 tzinfo=study.time.tzinfo or report.issued.tzinfo)
    offset = moment.utcoffset()
    if offset is not None and offset.total_seconds() % 60:
        moment = moment.replace(tzinfo=dt.UTC)  # keep the wall-clock time FHIR readers see
    return _iso(moment)


def split_person_name(name: str) -> JsonDict:
    """HumanName of a DICOM PN (``Family^Given^Middle^Prefix^Suffix``); ``text`` keeps it all."""
    human: JsonDict = {"text": name}
    parts = name.split("=")[0].split("^")
    if len(parts) > 1:
        if parts[0]:
            human["family"] = parts[0]
        given = [p for p in parts[1:3] if p]
        if given:
            human["given"] = given
        if len(parts) > 3 and parts[3]:
            human["prefix"] = [parts[3]]
        if len(parts) > 4 and parts[4]:
            human["suffix"] = [parts[4]]
    return human


def search_token(system: str | None, value: str) -> str:
    """``identifier=system|value`` search expression (FHIR escaping, then URL encoding)."""

    def esc(text: str) -> str:
        for char in ("\\", "|", ",", "$"):
            text = text.replace(char, "\\" + char)
        return text

    token = f"{esc(system)}|{esc(value)}" if system else esc(value)
    return "identifier=" + quote(token, safe="")


def patient_identifier_system(issuer: str | None) -> str | None:
    """Identifier.system for an issuer of patient id that is a URI or an OID, else None."""
    if not issuer:
        return None
    if issuer.replace(".", "").isdigit() and not issuer.startswith("."):
        return f"urn:oid:{issuer}"
    head, sep, _rest = issuer.partition(":")
    if sep and head and head[0].isalpha() and all(c.isalnum() or c in "+.-" for c in head):
        return issuer
    return None


class _Bundle:
    """Collects resources and their transaction requests."""

    def __init__(self, report: ImagingReport, version: Version, kind: BundleType) -> None:
        self.report = report
        self.r5 = version == "R5"
        self.kind = kind
        self.entries: list[JsonDict] = []
        self.key = f"{report.patient.id_issuer or ''}|{report.patient.id}|" \
                    f"{report.study.instance_uid}"

    def add(self, resource: JsonDict, *, if_none_exist: str | None = None) -> JsonDict:
        """Add a resource; returns a Reference to it (by fullUrl)."""
        rid = resource["id"]
        entry: JsonDict = {"fullUrl": f"urn:uuid:{rid}", "resource": resource}
        if self.kind == "transaction":
            rtype = resource["resourceType"]
            if if_none_exist is not None:
                entry["request"] = {"method": "POST", "url": rtype, "ifNoneExist": if_none_exist}
            else:
                entry["request"] = {"method": "PUT", "url": f"{rtype}/{rid}"}
        self.entries.append(entry)
        return {"reference": f"urn:uuid:{rid}"}

    def profile(self, resource: JsonDict, *profiles: str) -> JsonDict:
        if self.r5 and profiles:
            resource["meta"] = {"profile": list(profiles)}
        return resource


#: Characters a FHIR string cannot hold (C0 controls other than tab, LF and CR).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _clean(value: str | None) -> str | None:
    return _CONTROL.sub("\ufffd", value) if value is not None else None


def fhir_safe(report: ImagingReport) -> ImagingReport:
    """The report with control characters that FHIR strings cannot hold replaced by U+FFFD.

    The model accepts any text; FHIR (and DICOM) do not. Such reports cannot round-trip
    exactly; every other report is returned unchanged (the same object).
    """
    patient, study = report.patient, report.study
    texts = (patient.id, patient.id_issuer, patient.family_name, patient.given_name,
             study.accession_number, study.description, study.referring_physician,
             report.impression, report.observer_name,
             *(f.tracking_id for f in report.findings))
    if not any(t and _CONTROL.search(t) for t in texts):
        return report
    return report.model_copy(update={
        "patient": patient.model_copy(update={
            name: _clean(getattr(patient, name))
            for name in ("id", "id_issuer", "family_name", "given_name")}),
        "study": study.model_copy(update={
            name: _clean(getattr(study, name))
            for name in ("accession_number", "description", "referring_physician")}),
        "impression": _clean(report.impression),
        "observer_name": _clean(report.observer_name),
        "findings": tuple(f.model_copy(update={"tracking_id": _clean(f.tracking_id)})
                          for f in report.findings),
    })


def build(report: ImagingReport, version: Version = "R4",
          bundle: BundleType = "transaction") -> JsonDict:
    """The bundle as plain FHIR JSON (a dict), before model validation."""
    if version not in ("R4", "R5"):
        raise ValueError(f"version must be 'R4' or 'R5', not {version!r}")
    if bundle not in ("transaction", "collection"):
        raise ValueError(f"bundle must be 'transaction' or 'collection', not {bundle!r}")
    report = fhir_safe(report)
    b = _Bundle(report, version, bundle)
    r5 = b.r5
    study = report.study
    issued = instant(report.issued)
    effective = study_datetime(report)

    # DiagnosticReport first (filled in at the end).
    report_res: JsonDict = {"resourceType": "DiagnosticReport",
                            "id": resource_id(b.key, "DiagnosticReport")}
    b.add(report_res)

    # Patient
    patient = report.patient
    pat_system = patient_identifier_system(patient.id_issuer)
    identifier: JsonDict = {"use": "usual", "type": fixed_cc("id-type-mr")}
    if pat_system:
        identifier["system"] = pat_system
    identifier["value"] = patient.id
    if patient.id_issuer:
        identifier["assigner"] = {"display": patient.id_issuer}
    pat: JsonDict = {"resourceType": "Patient",
                     "id": resource_id(patient.id_issuer or "", patient.id, "Patient"),
                     "identifier": [identifier]}
    if patient.family_name or patient.given_name:
        name: JsonDict = {}
        if patient.family_name:
            name["family"] = patient.family_name
        if patient.given_name:
            name["given"] = [patient.given_name]
        pat["name"] = [name]
    if patient.sex:
        pat["gender"] = _GENDER[patient.sex]
    if patient.birth_date:
        pat["birthDate"] = patient.birth_date.isoformat()
    subject = b.add(pat, if_none_exist=search_token(pat_system, patient.id))

    # Practitioners and the Device
    observer = None
    if report.observer_name:
        observer = b.add(b.profile(
            {"resourceType": "Practitioner",
             "id": resource_id(report.observer_name, "Practitioner/observer"),
             "name": [split_person_name(report.observer_name)]}, PROFILE_PARTICIPANT_PERSON))
    referrer = None
    if study.referring_physician:
        referrer = b.add({"resourceType": "Practitioner",
                          "id": resource_id(study.referring_physician, "Practitioner/referrer"),
                          "name": [split_person_name(study.referring_physician)]})
    device: JsonDict = {"resourceType": "Device", "id": resource_id(DEVICE_NAME, "Device"),
                        "manufacturer": DEVICE_MANUFACTURER,
                        "version": [{"value": _SOFTWARE_VERSION}]}
    if r5:
        device["displayName"] = DEVICE_NAME
    else:
        device["deviceName"] = [{"name": DEVICE_NAME, "type": "model-name"}]
    device_ref = b.add(b.profile(device, PROFILE_GENERAL_EQUIPMENT))

    # ServiceRequest (accession number) and ImagingStudy
    procedure = codeable(report.procedure)
    acsn_identifier = None
    order_ref = None
    if study.accession_number:
        acsn_identifier = {"type": fixed_cc("id-type-acsn"), "value": study.accession_number}
        order: JsonDict = {"resourceType": "ServiceRequest",
                           "id": resource_id(study.instance_uid, study.accession_number,
                                             "ServiceRequest"),
                           "identifier": [acsn_identifier], "status": "completed",
                           "intent": "order",
                           "code": {"concept": procedure} if r5 else procedure,
                           "subject": subject}
        if referrer:
            order["requester"] = referrer
        order_ref = b.add(order, if_none_exist=search_token(None, study.accession_number))
        order_ref = {**order_ref, "type": "ServiceRequest", "identifier": acsn_identifier}
    study_identifier = {"type": fixed_cc("id-type-study-uid"), "system": codes.DICOM_UID_SYSTEM,
                        "value": uid_value(study.instance_uid)}
    imaging_study: JsonDict = {"resourceType": "ImagingStudy",
                               "id": resource_id(study.instance_uid, "ImagingStudy"),
                               "identifier": [study_identifier], "status": "available",
                               "subject": subject, "started": effective}
    if acsn_identifier:
        imaging_study["identifier"].append(acsn_identifier)
    if order_ref:
        imaging_study["basedOn"] = [order_ref]
    if referrer:
        imaging_study["referrer"] = referrer
    if r5:
        imaging_study["procedure"] = [{"concept": procedure}]
    else:
        imaging_study["procedureCode"] = [procedure]
    if study.description:
        imaging_study["description"] = study.description
    study_ref = b.add(imaging_study, if_none_exist=search_token(
        codes.DICOM_UID_SYSTEM, uid_value(study.instance_uid)))
    study_ref = {**study_ref, "type": "ImagingStudy", "identifier": study_identifier}

    # Findings
    common: JsonDict = {"status": "final"}
    if order_ref:
        common["basedOn"] = [order_ref]
    common["partOf"] = [study_ref]
    imaging_base: JsonDict = {"subject": subject, "effectiveDateTime": effective,
                              "issued": issued}
    if observer:
        imaging_base["performer"] = [observer]
    results = []
    for index, finding in enumerate(report.findings, start=1):
        results.append(_finding(b, finding, index, common, imaging_base, device_ref, subject))

    # Clinical assessment, grade and condition
    evidence = _assessment(b, report, subject, issued)
    grade = grading.effective_grade(report.icans_grade, report.assessment)
    condition_code = None
    if (report.assessment is not None or report.icans_grade is not None) and grade != 0:
        condition_code = codeable(grading.icd10cm_key(grade))
        onset = (instant(report.assessment.assessed_at)
                 if report.assessment is not None and report.assessment.assessed_at
                 else effective)
        condition: JsonDict = {
            "resourceType": "Condition", "id": resource_id(b.key, "Condition/icans"),
            "clinicalStatus": fixed_cc("clinical-active"),
            "verificationStatus": fixed_cc("verification-confirmed"),
            "category": [fixed_cc("encounter-diagnosis")],
            "code": condition_code, "subject": subject, "onsetDateTime": onset,
            "recordedDate": issued,
        }
        if evidence:
            condition["evidence"] = ([{"reference": ref} for ref in evidence] if r5
                                     else [{"detail": evidence}])
        b.add(condition)

    # DiagnosticReport contents
    report_res.update({"status": "final", "category": [codeable("radiology_category")],
                       "code": procedure, "subject": subject, "effectiveDateTime": effective,
                       "issued": issued})
    if order_ref:
        report_res["basedOn"] = [order_ref]
    if observer:
        report_res["performer"] = [observer]
        report_res["resultsInterpreter"] = [observer]
    if results:
        report_res["result"] = results
    if r5:
        report_res["study"] = [study_ref]
    else:
        report_res["imagingStudy"] = [study_ref]
    if report.impression:
        report_res["conclusion"] = report.impression
    if condition_code is not None:
        report_res["conclusionCode"] = [condition_code]
    return {"resourceType": "Bundle", "id": resource_id(b.key, "Bundle", version, bundle),
            "type": bundle, "entry": b.entries}


def _evaluations(finding: Finding) -> list[tuple[str, str]]:
    """(concept name key, value key) of the finding's TID 1501 qualitative evaluations."""
    pairs = [(s.sequence, s.signal) for s in finding.signals]
    for field, name_key in QUALIFIER_EVALUATIONS:
        value = getattr(finding, field)
        if isinstance(value, tuple):
            pairs.extend((name_key, v) for v in value)
        elif value is not None:
            pairs.append((name_key, value))
    if finding.laterality is not None and not finding.sites:
        # No finding site to qualify: the SR writes TID 1501 row 11 (272741003, SCT,
        # "Laterality") in the group, so FHIR has the same qualitative evaluation.
        pairs.append(("laterality", finding.laterality))
    return pairs


def _finding(b: _Bundle, finding: Finding, index: int, common: JsonDict,
             imaging_base: JsonDict, device_ref: JsonDict, subject: JsonDict) -> JsonDict:
    r5 = b.r5
    # Position too: a report may (wrongly) repeat an Observation UID; ids must stay unique.
    group_id = resource_id(b.key, str(index), finding.observation_uid or "", "Observation/group")
    members = []
    for number, (name_key, value_key) in enumerate(_evaluations(finding), start=1):
        categories = [codeable("qualitative_evaluations")]
        if not r5:
            categories.append(fixed_cc("category-imaging"))
        evaluation: JsonDict = {
            "resourceType": "Observation",
            "id": resource_id(group_id, "evaluation", str(number)),
            **common, "category": categories, "code": codeable(name_key), **imaging_base,
            "device": device_ref, "valueCodeableConcept": codeable(value_key)}
        members.append(b.add(b.profile(evaluation, PROFILE_QUALITATIVE_EVALUATION)))

    identifiers: list[JsonDict] = []
    if finding.observation_uid:
        identifiers.append({"type": fixed_cc("id-type-observation-uid"),
                            "system": codes.DICOM_UID_SYSTEM,
                            "value": uid_value(finding.observation_uid)})
    tracking: list[JsonDict] = []
    if finding.tracking_id:
        tracking.append({"type": codeable("tracking_identifier"), "value": finding.tracking_id})
    if finding.tracking_uid:
        tracking.append({"type": codeable("tracking_uid"), "system": codes.DICOM_UID_SYSTEM,
                         "value": uid_value(finding.tracking_uid)})
    categories = [codeable("measurement_group")]
    if not r5:
        categories.append(fixed_cc("category-imaging"))
    group: JsonDict = {"resourceType": "Observation", "id": group_id}
    if not (r5 and finding.sites):  # R5 keeps tracking identifiers on the BodyStructure
        identifiers.extend(tracking)
    if identifiers:
        group["identifier"] = identifiers
    group.update(common)
    group.update({"category": categories, "code": codeable("finding"), **imaging_base,
                  "valueCodeableConcept": codeable(finding.pattern)})
    components: list[JsonDict] = []
    if len(finding.sites) == 1 and (not r5 or finding.laterality is None):
        group["bodySite"] = codeable(finding.sites[0])
    if r5 and finding.sites:
        structure: JsonDict = {
            "resourceType": "BodyStructure",
            "id": resource_id(group_id, "BodyStructure"),
        }
        if tracking:
            structure["identifier"] = tracking
        included = []
        for site in finding.sites:
            part: JsonDict = {"structure": codeable(site)}
            if finding.laterality:
                part["laterality"] = codeable(finding.laterality)
            included.append(part)
        structure["includedStructure"] = included
        structure["patient"] = subject
        group["bodyStructure"] = b.add(b.profile(structure, PROFILE_FINDING_SITE))
    elif not r5:
        components.extend({"code": codeable("finding_site"), "valueCodeableConcept":
                           codeable(site)} for site in finding.sites)
    if finding.laterality and finding.sites and not r5:
        components.append({"code": codeable("laterality"),
                           "valueCodeableConcept": codeable(finding.laterality)})
    if components:
        group["component"] = components
    group["device"] = device_ref
    if members:
        group["hasMember"] = members
    return b.add(b.profile(group, PROFILE_MEASUREMENT_GROUP))


def _assessment(b: _Bundle, report: ImagingReport, subject: JsonDict,
                issued: str) -> list[JsonDict]:
    """Observations of the clinical assessment and recorded grade; returns their references."""
    refs: list[JsonDict] = []
    assessment = report.assessment
    when: JsonDict = {}
    if assessment is not None and assessment.assessed_at is not None:
        when = {"effectiveDateTime": instant(assessment.assessed_at)}

    def observation(role: str, code_key: str, category: str, value: JsonDict,
                    extra: JsonDict | None = None, effective: JsonDict = when) -> None:
        res: JsonDict = {"resourceType": "Observation", "id": resource_id(b.key, role),
                         "status": "final", "category": [fixed_cc(category)],
                         "code": codeable(code_key), "subject": subject, **effective,
                         "issued": issued, **value}
        if extra:
            res.update(extra)
        refs.append(b.add(res))

    if assessment is not None:
        if assessment.ice is not None:
            ice = assessment.ice
            observation("Observation/ice", "ice_score", "category-survey",
                        {"valueInteger": ice.total},
                        {"component": [{"code": codeable(key),
                                        "valueInteger": getattr(ice, field)}
                                       for field, key, _max in ICE_ITEMS]})
        for role, code_key, value in (
                ("consciousness", "level_of_consciousness", assessment.consciousness),
                ("seizure", "seizure_domain", assessment.seizure),
                ("motor", "motor_domain", assessment.motor)):
            observation(f"Observation/{role}", code_key, "category-exam",
                        {"valueCodeableConcept": codeable(value)})
        for number, finding in enumerate(assessment.icp_findings, start=1):
            observation(f"Observation/icp/{number}", "icp_domain", "category-exam",
                        {"valueCodeableConcept": codeable(finding)})
        for number, sign in enumerate(assessment.signs, start=1):
            observation(f"Observation/sign/{number}", "clinical_signs_observed",
                        "category-exam", {"valueCodeableConcept": codeable(sign)})
    if report.icans_grade is not None:
        # The grade always gets a time: the assessment's, else the study's.
        observation("Observation/grade", "icans_grade", "category-survey",
                    {"valueCodeableConcept": codeable(grade_value_key(report.icans_grade))},
                    effective=when or {"effectiveDateTime": study_datetime(report)})
    return refs


def grade_value_key(grade: int) -> str:
    """Concept key (role icans_grade_value) of an ICANS grade 0-5."""
    return _GRADE_VALUE_KEYS[grade]


def _grade_value_keys() -> dict[int, str]:
    from icans_interop import terminology

    keys = {}
    for concept in terminology.load().value_set("icans_grade_value"):
        keys[int(concept.key.rsplit("_", 1)[1])] = concept.key
    return keys


_GRADE_VALUE_KEYS = _grade_value_keys()


def bundle_class(version: Version) -> type[FHIRAbstractModel]:
    if version == "R5":
        from fhir.resources.bundle import Bundle as R5Bundle

        return R5Bundle
    from fhir.resources.R4B.bundle import Bundle as R4Bundle

    return R4Bundle


def write(report: ImagingReport, *, version: Version = "R4",
          bundle: BundleType = "transaction") -> Any:
    """The report as a FHIR Bundle model (``fhir.resources.R4B`` for R4, R5 otherwise)."""
    data = build(report, version, bundle)
    return bundle_class(version).model_validate(data)


def write_json(report: ImagingReport, *, version: Version = "R4",
               bundle: BundleType = "transaction") -> str:
    """Compact FHIR JSON of the report's bundle, validated by fhir.resources like :func:`write`.

    The dicts are validated once into models (so invalid output raises exactly as ``write``
    does) and the validated dicts are serialised with :mod:`json`: fhir.resources' own
    serialiser costs more than parsing the whole bundle. Same content as
    ``to_json(write(...))``; keys may come in another order.
    """
    data = build(report, version, bundle)
    bundle_class(version).model_validate(data)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------
# Fast JSON of fhir.resources models.
#
# fhir.resources serialises through a Python-level pydantic ``model_serializer`` per element,
# which costs more than validating the whole bundle. :func:`model_to_json` walks the same
# per-class element order, aliases and primitive-extension fields (``_name``) that
# ``FHIRAbstractModel._fhir_iter`` uses and hands a plain dict to :mod:`json`; the tests check
# it gives the same text as ``model_dump_json()``, and it falls back to that for anything it
# does not know.

_Layout = tuple[str | None, tuple[tuple[str, str, bool, str | None, str | None], ...]]


class _Unsupported(Exception):
    """A value the fast serialiser does not handle: use fhir.resources' own."""


@cache
def _layout(cls: type[Any]) -> _Layout:
    from fhir_core.utils import is_primitive_type

    fields = cls.model_fields
    aliases = cls.get_alias_mapping()
    rows = []
    for element in cls.elements_sequence():
        key = aliases[element]
        info = fields[key]
        primitive = bool(is_primitive_type(info))
        ext_key: str | None = f"{key}__ext"
        if not primitive or ext_key not in fields:
            ext_key = None
        ext_alias = (fields[ext_key].alias or ext_key) if ext_key else None
        rows.append((key, info.alias or key, primitive, ext_key, ext_alias))
    return (cls.get_resource_type() if cls.has_resource_base() else None), tuple(rows)


def _primitive(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, dt.datetime):
        return _iso(value)  # pydantic-core writes a zero offset as Z
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return [_primitive(v) for v in value]
    raise _Unsupported(type(value).__name__)  # Decimal, bytes, UUID, float: leave to fhir_core


def _complex(value: Any) -> Any:
    if value is None:  # placeholder in a primitive extension list (``_given: [null, {...}]``)
        return None
    if isinstance(value, list):
        return [_complex(v) for v in value]
    if hasattr(value, "elements_sequence"):
        return _plain(value)
    raise _Unsupported(type(value).__name__)


def _plain(model: Any) -> JsonDict:
    if getattr(model, "__fhir_serialization_summary_only__", False):
        raise _Unsupported("summary mode")
    resource_type, rows = _layout(model.__class__)
    out: JsonDict = {}
    if resource_type is not None:
        out["resourceType"] = resource_type
    values = model.__dict__
    for key, alias, primitive, ext_key, ext_alias in rows:
        value = values.get(key)
        if value is not None:
            value = _primitive(value) if primitive else _complex(value)
            if not (isinstance(value, list) and not value):
                out[alias] = value
        if ext_key is not None:
            ext = values.get(ext_key)
            if ext:
                out[ext_alias or ext_key] = _complex(ext)
    if values.get("fhir_comments") is not None:
        raise _Unsupported("comments")
    return out


def model_to_json(model: Any) -> str:
    """Compact FHIR JSON of a fhir.resources model, as ``model.model_dump_json()`` gives."""
    try:
        data = _plain(model)
    except (_Unsupported, AttributeError, KeyError, TypeError):
        text = model.model_dump_json()
        assert isinstance(text, str)
        return text
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
