"""One finding as the HL7 DICOM SR to FHIR IG has a TID 1501 group: Observations and sites.

* A measurement-group ``Observation`` (category DCM 125007; ``code`` DCM 121071 "Finding" -
  the IG takes ``code`` from the Finding Category item, which this model does not have, and its
  fallback 125007 would clash with the IG's own invariant that 125007 is not both code and
  category; ``valueCodeableConcept`` = the pattern; identifier = Observation UID; ``partOf`` ->
  ImagingStudy, ``basedOn`` -> ServiceRequest, ``hasMember`` -> qualitative evaluations).
* One qualitative-evaluation ``Observation`` (category UMLS C0034375) per TID 1501 row 11 item
  of the SR, same name/value pairs in the same order (:data:`.layout.QUALIFIERS`): MR sequence
  -> signal, Distribution Descriptor, Number of lesions, Lesion Morphology, and Laterality when
  the finding has no site for it to qualify.
* Finding sites: R5 -> ``bodyStructure`` -> a BodyStructure (dicom-sr-finding-site;
  ``includedStructure`` per site with the laterality; tracking identifier/UID as its
  identifiers), plus ``bodySite`` for a single site without laterality (IG mapping). R4 has no
  ``bodyStructure``: one ``component`` per finding site (SCT 363698007) and one for the
  laterality (SCT 272741003), ``bodySite`` when there is exactly one site, and the tracking
  identifier/UID as Observation identifiers. R4 Observations also carry the ``imaging``
  observation category (US Core clinical result).
"""

from __future__ import annotations

from icans_interop import fields
from icans_interop.fhir import codes
from icans_interop.fhir.bundle import (
    PROFILE_FINDING_SITE,
    PROFILE_MEASUREMENT_GROUP,
    PROFILE_QUALITATIVE_EVALUATION,
    BundleBuilder,
    resource_id,
)
from icans_interop.fhir.codes import JsonDict, codeable, fixed_cc
from icans_interop.fhir.values import uid_value
from icans_interop.model import Finding


def evaluations(finding: Finding) -> list[tuple[str, str]]:
    """(concept name key, value key) of the finding's TID 1501 qualitative evaluations."""
    pairs = [(s.sequence, s.signal) for s in finding.signals]
    for field, name_key, _role, repeats in fields.FINDING_QUALIFIERS:
        value = getattr(finding, field)
        if repeats:
            pairs.extend((name_key, v) for v in value)
        elif value is not None:
            pairs.append((name_key, value))
    if finding.laterality is not None and not finding.sites:
        # No finding site to qualify: the SR writes TID 1501 row 11 (272741003, SCT,
        # "Laterality") in the group, so FHIR has the same qualitative evaluation.
        pairs.append(("laterality", finding.laterality))
    return pairs


def add_finding(b: BundleBuilder, finding: Finding, index: int, common: JsonDict,
                imaging_base: JsonDict, device_ref: JsonDict, subject: JsonDict) -> JsonDict:
    """Add the finding's evaluations, BodyStructure (R5) and group; returns the group's ref."""
    r5 = b.r5
    # Position too: a report may (wrongly) repeat an Observation UID; ids must stay unique.
    group_id = resource_id(b.key, str(index), finding.observation_uid or "", "Observation/group")
    members = []
    for number, (name_key, value_key) in enumerate(evaluations(finding), start=1):
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
