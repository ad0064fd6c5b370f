"""Bundle assembly for the writer: resource ids, entries, transaction requests, IG profiles.

Every id is a UUID v5 of the report identity and the resource's role (:func:`resource_id`), so
writing the same report twice gives the same bundle; every ``fullUrl`` is ``urn:uuid:<id>`` and
every reference points at a ``fullUrl``. In a transaction, shared resources (Patient,
ImagingStudy, ServiceRequest) are conditional creates on their identifier
(:func:`search_token`); the rest are PUTs to their id.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Final
from urllib.parse import quote

from icans_interop.fhir.codes import JsonDict
from icans_interop.formats import BundleType
from icans_interop.formats import FhirVersion as Version
from icans_interop.model import ImagingReport, SrInstance

IG_PROFILE: Final = "http://hl7.org/fhir/uv/dicom-sr/StructureDefinition/"
PROFILE_MEASUREMENT_GROUP: Final = IG_PROFILE + "imaging-measurement-group"
PROFILE_QUALITATIVE_EVALUATION: Final = IG_PROFILE + "imaging-qualitative-evaluation"
PROFILE_FINDING_SITE: Final = IG_PROFILE + "dicom-sr-finding-site"
PROFILE_GENERAL_EQUIPMENT: Final = IG_PROFILE + "dicom-general-equipment"
PROFILE_PARTICIPANT_PERSON: Final = IG_PROFILE + "dicom-participant-person"

#: Namespace of the UUID v5 resource ids (fixed: ids are stable across releases).
ID_NAMESPACE: Final = uuid.UUID("5d0f3c3e-8a51-5d2b-a3c5-6f1e2b9a7c40")


def resource_id(*parts: str) -> str:
    """Deterministic resource id (UUID v5) for the identity ``parts``."""
    return str(uuid.uuid5(ID_NAMESPACE, "|".join(parts)))


def search_token(system: str | None, value: str) -> str:
    """``identifier=system|value`` search expression (FHIR escaping, then URL encoding)."""

    def esc(text: str) -> str:
        for char in ("\\", "|", ",", "$"):
            text = text.replace(char, "\\" + char)
        return text

    token = f"{esc(system)}|{esc(value)}" if system else esc(value)
    return "identifier=" + quote(token, safe="")


#: Resource types a caller may point at instead of having them created.
REFERABLE: Final = ("Patient", "Practitioner", "Encounter")
_REFERENCE = re.compile(r"^(Patient|Practitioner|Encounter)(/[A-Za-z0-9\-.]{1,64}|\?\S+)$")


def check_references(references: Mapping[str, str] | None) -> dict[str, str]:
    """``references`` checked: a known type and a literal (``Type/id``) or conditional
    (``Type?identifier=...``) reference of that type; raises ``ValueError`` otherwise."""
    checked: dict[str, str] = {}
    for rtype, reference in (references or {}).items():
        match = _REFERENCE.match(reference)
        if rtype not in REFERABLE or match is None or match[1] != rtype:
            raise ValueError(f"reference for {rtype!r} must be '{rtype}/<id>' or "
                             f"'{rtype}?<search>' (one of {', '.join(REFERABLE)}), "
                             f"not {reference!r}")
        checked[rtype] = reference
    return checked


def sr_identifier(sr: SrInstance) -> JsonDict:
    """Identifier of the SR document a DiagnosticReport is (its SOP Instance UID)."""
    return {"type": {"text": "SOP Instance UID"}, "system": "urn:dicom:uid",
            "value": f"urn:oid:{sr.instance_uid}"}


class BundleBuilder:
    """Collects resources and their transaction requests for one report."""

    def __init__(self, report: ImagingReport, version: Version, kind: BundleType,
                 sr: SrInstance, references: Mapping[str, str] | None = None) -> None:
        self.report = report
        self.r5 = version == "R5"
        self.kind = kind
        self.sr = sr
        self.references = dict(references or {})
        self.entries: list[JsonDict] = []
        patient = report.patient
        self.key = f"{patient.id_system or patient.id_issuer or ''}|{patient.id}|" \
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
        """``resource`` claiming the IG ``profiles`` in ``meta.profile`` (R5 only)."""
        if self.r5 and profiles:
            resource["meta"] = {"profile": list(profiles)}
        return resource
