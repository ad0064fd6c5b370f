"""An :class:`~icans_interop.model.ImagingReport` as a FHIR Bundle (R4 4.0.1 or R5).

Resource layout (one bundle per report; ids, fullUrls and transaction requests as described
in :mod:`.bundle`):

* ``DiagnosticReport`` (US Core DiagnosticReport for Report and Note): identifier = the SR's
  SOP Instance UID, ``status`` = the report's (preliminary, final, amended, cancelled),
  radiology category LOINC LP29684-5, ``code`` = LOINC procedure, ``resultsInterpreter`` =
  the author (the SR's person observer), ``performer`` = the verifying observer, who is
  responsible for the report (a PractitionerRole of the verifying organization), ``result``
  -> the finding measurement groups, ``conclusion`` = impression, ``conclusionCode`` =
  ICD-10-CM G92.0x when graded.
* ``Patient``, ``Practitioner`` s, ``Device``, ``ServiceRequest`` and ``ImagingStudy``: the
  context every Observation points at (:mod:`.writer_study`).
* Per finding, the TID 1501 group as the HL7 DICOM SR IG maps it: a measurement-group
  Observation, its qualitative evaluations and (R5) a BodyStructure (:mod:`.writer_findings`).
* The clinical assessment, the recorded grade and the ICANS ``Condition``
  (:mod:`.writer_assessment`).

R5 resources claim the IG profiles in ``meta.profile`` where the IG has one. R4 output uses
only elements that exist in FHIR 4.0.1 (built and validated with ``fhir.resources.R4B``).
:func:`build` gives the plain JSON dicts; :func:`write` validates them into a fhir.resources
model and :func:`write_json` into compact JSON text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydicom.uid import Comprehensive3DSRStorage

from icans_interop.fhir.bundle import (
    BundleBuilder,
    check_references,
    resource_id,
    search_token,
    sr_identifier,
)
from icans_interop.fhir.codes import JsonDict, codeable
from icans_interop.fhir.serialize import compact_json
from icans_interop.fhir.values import instant, study_datetime
from icans_interop.fhir.writer_assessment import add_assessment, add_condition
from icans_interop.fhir.writer_findings import add_finding
from icans_interop.fhir.writer_study import add_study_context
from icans_interop.formats import BundleType
from icans_interop.formats import FhirVersion as Version
from icans_interop.model import ImagingReport, SrInstance, report_uids

if TYPE_CHECKING:
    from fhir.resources.core.fhirabstractmodel import FHIRAbstractModel

__all__ = ["BundleType", "Version", "build", "bundle_class", "fhir_safe", "instant",
           "search_token", "write", "write_json"]

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
          bundle: BundleType = "transaction", *, sr: SrInstance | None = None,
          uid_root: str | None = None, references: Mapping[str, str] | None = None
          ) -> JsonDict:
    """The bundle as plain FHIR JSON (a dict), before model validation.

    ``sr`` is the SR instance the report is stored as (when converting an SR: the source's
    UIDs); by default the one :func:`icans_interop.dicom.write` makes for the report (same
    derived UIDs, under ``uid_root``; Comprehensive 3D SR). ``references`` points at
    resources the receiving server already has instead of creating them: ``{"Patient":
    "Patient/123", "Practitioner": "Practitioner?identifier=...", "Encounter": ...}``.
    """
    if version not in ("R4", "R5"):
        raise ValueError(f"version must be 'R4' or 'R5', not {version!r}")
    if bundle not in ("transaction", "collection"):
        raise ValueError(f"bundle must be 'transaction' or 'collection', not {bundle!r}")
    report = fhir_safe(report)
    if sr is None:
        sop_class = str(Comprehensive3DSRStorage)
        series_uid, instance_uid = report_uids(report, sop_class, uid_root)
        sr = SrInstance(series_uid, instance_uid, sop_class)
    b = BundleBuilder(report, version, bundle, sr, check_references(references))
    issued = instant(report.issued)
    effective = study_datetime(report)

    # DiagnosticReport first (filled in at the end).
    report_res: JsonDict = {"resourceType": "DiagnosticReport",
                            "id": resource_id(b.key, "DiagnosticReport")}
    b.add(report_res)
    ctx = add_study_context(b)

    # Findings
    common: JsonDict = {"status": report.status}
    if ctx.encounter:
        common["encounter"] = ctx.encounter
    if ctx.order:
        common["basedOn"] = [ctx.order]
    common["partOf"] = [ctx.study]
    imaging_base: JsonDict = {"subject": ctx.subject, "effectiveDateTime": effective,
                              "issued": issued}
    if ctx.observer:
        imaging_base["performer"] = [ctx.observer]
    results = [add_finding(b, finding, index, common, imaging_base, ctx.device, ctx.subject)
               for index, finding in enumerate(report.findings, start=1)]

    # Clinical assessment, grade and condition
    evidence = add_assessment(b, report, ctx.subject, issued)
    condition_code = add_condition(b, ctx.subject, issued, effective, evidence,
                                   results)

    # DiagnosticReport contents
    report_res.update({"identifier": [sr_identifier(b.sr)], "status": report.status,
                       "category": [codeable("radiology_category")],
                       "code": ctx.procedure, "subject": ctx.subject,
                       "effectiveDateTime": effective, "issued": issued})
    if ctx.order:
        report_res["basedOn"] = [ctx.order]
    if ctx.encounter:
        report_res["encounter"] = ctx.encounter
    if ctx.verifier:
        report_res["performer"] = [ctx.verifier]
    if ctx.observer:
        report_res["resultsInterpreter"] = [ctx.observer]
    if results:
        report_res["result"] = results
    if b.r5:
        report_res["study"] = [ctx.study]
    else:
        report_res["imagingStudy"] = [ctx.study]
    if report.impression:
        report_res["conclusion"] = report.impression
    if condition_code is not None:
        report_res["conclusionCode"] = [condition_code]
    return {"resourceType": "Bundle", "id": resource_id(b.key, "Bundle", version, bundle),
            "type": bundle, "entry": b.entries}


def bundle_class(version: Version) -> type[FHIRAbstractModel]:
    """The fhir.resources Bundle model of ``version`` (R4 via ``fhir.resources.R4B``)."""
    if version == "R5":
        from fhir.resources.bundle import Bundle as R5Bundle

        return R5Bundle
    from fhir.resources.R4B.bundle import Bundle as R4Bundle

    return R4Bundle


def write(report: ImagingReport, *, version: Version = "R4",
          bundle: BundleType = "transaction", sr: SrInstance | None = None,
          uid_root: str | None = None, references: Mapping[str, str] | None = None) -> Any:
    """The report as a FHIR Bundle model (``fhir.resources.R4B`` for R4, R5 otherwise);
    the keyword options are those of :func:`build`."""
    data = build(report, version, bundle, sr=sr, uid_root=uid_root, references=references)
    return bundle_class(version).model_validate(data)


def write_json(report: ImagingReport, *, version: Version = "R4",
               bundle: BundleType = "transaction", sr: SrInstance | None = None,
               uid_root: str | None = None, references: Mapping[str, str] | None = None
               ) -> str:
    """Compact FHIR JSON of the report's bundle, validated by fhir.resources like :func:`write`.

    The dicts are validated once into models (so invalid output raises exactly as ``write``
    does) and the validated dicts are serialised with :mod:`json`: fhir.resources' own
    serialiser costs more than parsing the whole bundle. Same content as
    ``to_json(write(...))``; keys may come in another order.
    """
    data = build(report, version, bundle, sr=sr, uid_root=uid_root, references=references)
    bundle_class(version).model_validate(data)
    return compact_json(data)
