"""The resources a report's Observations point at: Patient, Practitioners, Device, order, study.

* ``Patient``: identifier type MR (system from the issuer when it is a URI or OID, assigner =
  the issuer); conditional create on its identifier in a transaction.
* ``Practitioner`` for the observer (R5: dicom-participant-person) and the referring
  physician, the DICOM PN split into a HumanName.
* one ``Device`` for icans-interop (the IG's ``device`` 1..1; R5: dicom-general-equipment).
* ``ServiceRequest`` (accession number, type v2-0203 ACSN; conditional create) when an
  accession number is known, and the ``ImagingStudy`` (Study Instance UID as ``urn:dicom:uid``
  / ``urn:oid:``; conditional create). References to both also carry the identifier (logical
  references, as the IG's ``partOf`` / ``basedOn`` slices want).
"""

from __future__ import annotations

from importlib import metadata
from typing import NamedTuple

from icans_interop.fhir import codes
from icans_interop.fhir.bundle import (
    PROFILE_GENERAL_EQUIPMENT,
    PROFILE_PARTICIPANT_PERSON,
    BundleBuilder,
    resource_id,
    search_token,
)
from icans_interop.fhir.codes import JsonDict, codeable, fixed_cc, fixed_coding
from icans_interop.fhir.layout import GENDER
from icans_interop.fhir.values import (
    human_names,
    study_datetime,
    uid_value,
)

DEVICE_NAME = "icans-interop"
DEVICE_MANUFACTURER = "icans-interop project"


def _version() -> str:
    try:
        return metadata.version("icans-interop")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


#: Version of this software (Device.version; terminology resources' version).
SOFTWARE_VERSION = _version()


class StudyContext(NamedTuple):
    """References to the context resources, for the Observations and the DiagnosticReport."""

    subject: JsonDict
    observer: JsonDict | None
    verifier: JsonDict | None
    device: JsonDict
    order: JsonDict | None
    study: JsonDict
    procedure: JsonDict
    encounter: JsonDict | None


def add_study_context(b: BundleBuilder) -> StudyContext:
    """Add Patient, Practitioners, Device, ServiceRequest and ImagingStudy (in that order);
    a Patient, author Practitioner or Encounter the caller names in ``references`` is
    referenced instead of created."""
    report = b.report
    subject = _referenced(b, "Patient") or _patient(b)
    observer = None
    if report.observer_name:
        observer = _referenced(b, "Practitioner") or b.add(b.profile(
            {"resourceType": "Practitioner",
             "id": resource_id(report.observer_name, "Practitioner/observer"),
             "name": human_names(report.observer_name)}, PROFILE_PARTICIPANT_PERSON))
    verifier = _verifier(b)
    referrer = None
    referring = report.study.referring_physician
    if referring:
        referrer = b.add({"resourceType": "Practitioner",
                          "id": resource_id(referring, "Practitioner/referrer"),
                          "name": human_names(referring)})
    device = _device(b)
    procedure = codeable(report.procedure)
    order, study = _order_and_study(b, subject, referrer, procedure)
    return StudyContext(subject, observer, verifier, device, order, study, procedure,
                        _referenced(b, "Encounter"))


def _referenced(b: BundleBuilder, rtype: str) -> JsonDict | None:
    """A reference to an existing server resource the caller named, if any."""
    reference = b.references.get(rtype)
    return None if reference is None else {"reference": reference}


def _verifier(b: BundleBuilder) -> JsonDict | None:
    """The verifying observer: a Practitioner, within a PractitionerRole of the verifying
    organization when there is one (DiagnosticReport.performer: who is responsible)."""
    verifier = b.report.verifying_observer
    if verifier is None:
        return None
    person = b.add(b.profile(
        {"resourceType": "Practitioner",
         "id": resource_id(verifier.name, "Practitioner/verifier"),
         "name": human_names(verifier.name)}, PROFILE_PARTICIPANT_PERSON))
    if verifier.organization is None:
        return person
    organization = b.add({"resourceType": "Organization",
                          "id": resource_id(verifier.organization, "Organization/verifier"),
                          "name": verifier.organization})
    return b.add({"resourceType": "PractitionerRole",
                  "id": resource_id(verifier.name, verifier.organization,
                                    "PractitionerRole/verifier"),
                  "practitioner": person, "organization": organization})


def _patient(b: BundleBuilder) -> JsonDict:
    patient = b.report.patient
    identifier: JsonDict = {"use": "usual", "type": fixed_cc("id-type-mr")}
    if patient.id_system:
        identifier["system"] = patient.id_system
    identifier["value"] = patient.id
    if patient.id_issuer:
        identifier["assigner"] = {"display": patient.id_issuer}
    pat: JsonDict = {"resourceType": "Patient",
                     "id": resource_id(patient.id_system or patient.id_issuer or "",
                                       patient.id, "Patient"),
                     "identifier": [identifier]}
    if patient.family_name or patient.given_name:
        name: JsonDict = {}
        if patient.family_name:
            name["family"] = patient.family_name
        if patient.given_name:
            name["given"] = [patient.given_name]
        pat["name"] = [name]
    if patient.sex:
        pat["gender"] = GENDER[patient.sex]
    if patient.birth_date:
        pat["birthDate"] = patient.birth_date.isoformat()
    # Conditional create only on system|value: a bare MRN could match another issuer's
    # patient on the receiving server, so without a system the Patient is created as is.
    return b.add(pat, if_none_exist=search_token(patient.id_system, patient.id)
                 if patient.id_system else None)


def _sr_series(b: BundleBuilder) -> JsonDict:
    """The report's own SR as a series of the study (modality SR, one instance whose number
    is the report's revision): where FHIR finds the DICOM document."""
    sr = b.sr
    modality = fixed_coding("modality-sr")
    return {"uid": sr.series_uid, "modality": {"coding": [modality]} if b.r5 else modality,
            "instance": [{"uid": sr.instance_uid,
                          "sopClass": {"system": "urn:ietf:rfc:3986",
                                       "code": f"urn:oid:{sr.sop_class_uid}"},
                          "number": b.report.revision}]}


def _device(b: BundleBuilder) -> JsonDict:
    device: JsonDict = {"resourceType": "Device", "id": resource_id(DEVICE_NAME, "Device"),
                        "manufacturer": DEVICE_MANUFACTURER,
                        "version": [{"value": SOFTWARE_VERSION}]}
    if b.r5:
        device["displayName"] = DEVICE_NAME
    else:
        device["deviceName"] = [{"name": DEVICE_NAME, "type": "model-name"}]
    return b.add(b.profile(device, PROFILE_GENERAL_EQUIPMENT))


def _order_and_study(b: BundleBuilder, subject: JsonDict, referrer: JsonDict | None,
                     procedure: JsonDict) -> tuple[JsonDict | None, JsonDict]:
    """ServiceRequest (when there is an accession number) and ImagingStudy references."""
    r5, study = b.r5, b.report.study
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
                               "subject": subject, "started": study_datetime(b.report)}
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
    imaging_study["series"] = [_sr_series(b)]
    study_ref = b.add(imaging_study, if_none_exist=search_token(
        codes.DICOM_UID_SYSTEM, uid_value(study.instance_uid)))
    study_ref = {**study_ref, "type": "ImagingStudy", "identifier": study_identifier}
    return order_ref, study_ref
