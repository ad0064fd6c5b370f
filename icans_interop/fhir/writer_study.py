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
from icans_interop.fhir.codes import JsonDict, codeable, fixed_cc
from icans_interop.fhir.layout import GENDER
from icans_interop.fhir.values import (
    patient_identifier_system,
    split_person_name,
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
    device: JsonDict
    order: JsonDict | None
    study: JsonDict
    procedure: JsonDict


def add_study_context(b: BundleBuilder) -> StudyContext:
    """Add Patient, Practitioners, Device, ServiceRequest and ImagingStudy (in that order)."""
    report = b.report
    subject = _patient(b)
    observer = None
    if report.observer_name:
        observer = b.add(b.profile(
            {"resourceType": "Practitioner",
             "id": resource_id(report.observer_name, "Practitioner/observer"),
             "name": [split_person_name(report.observer_name)]}, PROFILE_PARTICIPANT_PERSON))
    referrer = None
    referring = report.study.referring_physician
    if referring:
        referrer = b.add({"resourceType": "Practitioner",
                          "id": resource_id(referring, "Practitioner/referrer"),
                          "name": [split_person_name(referring)]})
    device = _device(b)
    procedure = codeable(report.procedure)
    order, study = _order_and_study(b, subject, referrer, procedure)
    return StudyContext(subject, observer, device, order, study, procedure)


def _patient(b: BundleBuilder) -> JsonDict:
    patient = b.report.patient
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
        pat["gender"] = GENDER[patient.sex]
    if patient.birth_date:
        pat["birthDate"] = patient.birth_date.isoformat()
    return b.add(pat, if_none_exist=search_token(pat_system, patient.id))


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
    study_ref = b.add(imaging_study, if_none_exist=search_token(
        codes.DICOM_UID_SYSTEM, uid_value(study.instance_uid)))
    study_ref = {**study_ref, "type": "ImagingStudy", "identifier": study_identifier}
    return order_ref, study_ref
