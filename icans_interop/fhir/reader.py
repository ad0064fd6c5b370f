"""A FHIR Bundle (R4 or R5, ours or another producer's) back into an ImagingReport.

The reader works on plain JSON (never on fhir.resources models, which would reject a whole
bundle for one bad element) and is tolerant: references may be ``urn:uuid:`` full URLs,
relative (``Observation/123``) or absolute URLs; codings may come in any order with extra
codings and other displays; R4 and R5 shapes (``bodySite``/components vs ``bodyStructure``,
CodeableConcept vs CodeableReference) are both understood. Whatever cannot be used becomes an
:class:`~icans_interop.issues.Issue` located by FHIR element path
(``Bundle.entry[3].resource.valueCodeableConcept.coding[0]``). :func:`read` never raises.

This module loads the input (size and depth limits) and assembles the report; the parts are
read by :mod:`.reader_study` (patient, study, issued, procedure, people),
:mod:`.reader_findings` and :mod:`.reader_assessment`, over the index of
:mod:`.reader_bundle`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from icans_interop import issues as iss
from icans_interop import sniff, sources
from icans_interop.fhir import codes
from icans_interop.fhir.codes import JsonDict
from icans_interop.fhir.reader_assessment import (
    condition_grade,
    grade_statements,
    read_assessment,
)
from icans_interop.fhir.reader_bundle import BundleIndex, Found
from icans_interop.fhir.reader_findings import find_groups, is_group, read_finding
from icans_interop.fhir.reader_study import (
    read_issued,
    read_patient,
    read_person,
    read_procedure,
    read_status,
    read_study,
    read_verifier,
)
from icans_interop.fhir.values import as_list
from icans_interop.issues import Issue
from icans_interop.model import ImagingReport
from icans_interop.reading import GradeStatement, Reading

#: Deepest JSON nesting accepted (a FHIR bundle of this library nests about 12 levels).
MAX_DEPTH = 64
#: Largest JSON text accepted (characters or bytes).
MAX_SIZE = 64 * 1024 * 1024


def read(source: Any) -> Reading:
    """Read a bundle into a report.

    ``source`` is any kind of :mod:`icans_interop.sources`: a path, JSON text (the ``str``
    rule is :func:`icans_interop.sources.is_json_text`), bytes, a binary file object (at most
    :data:`MAX_SIZE` bytes of each), parsed JSON (``dict``) or a ``fhir.resources`` model.

    Returns a :class:`~icans_interop.reading.Reading`: it unpacks as ``report, issues`` (the
    report None when none can be built) and carries the FHIR path each model value was read
    from and the bundle's G92.0x grade statements. Never raises.
    """
    found: list[Issue] = []
    try:
        data = _load(source, found)
        if data is None:
            return Reading(None, found)
        bx = BundleIndex(data, found)
        report = _report(bx)
        return Reading(report, found, bx.provenance, _statements(bx))
    except Exception as exc:  # a reader bug must not become the caller's traceback
        found.append(iss.error("unreadable", "Bundle",
                               f"internal error while reading the bundle: {exc!r}"))
        return Reading(None, found)


def _statements(bx: BundleIndex) -> tuple[GradeStatement, ...]:
    if not bx.resources:
        return ()
    return grade_statements(bx, bx.report)


def _load(source: Any, found: list[Issue]) -> JsonDict | None:
    data: Any
    if isinstance(source, dict):
        data = source
    elif sources.kind_of(source, json_text=True) != "other":
        try:
            raw = sources.read_bytes(source, MAX_SIZE, json_text=True)
        except sources.SourceError as exc:
            found.append(iss.error(exc.code, "Bundle", exc.message))
            return None
        try:
            text = raw.decode("utf-8-sig")
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
    elif sniff.is_fhir_model(source) or hasattr(source, "model_dump_json"):
        from icans_interop.fhir.serialize import model_to_json

        data = json.loads(model_to_json(source))
    else:
        found.append(iss.error("unreadable", "Bundle",
                               f"expected a Bundle (a path, JSON text or bytes, a binary file "
                               f"object, a dict or a fhir.resources model), got "
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


def _is_imaging(bx: BundleIndex, res: JsonDict) -> bool:
    """A DiagnosticReport of imaging: radiology category, a known imaging procedure, or a
    result that is a measurement group."""
    if any(codes.has_concept(c, "radiology_category") for c in as_list(res.get("category"))):
        return True
    if codes.match(res.get("code"), ("procedure",)).key is not None:
        return True
    results = as_list(res.get("result"))
    return any(found is not None and is_group(found[1])
               for found in (bx.resolve(ref, "", "Observation", warn=False) for ref in results))


def _imaging_report(bx: BundleIndex) -> tuple[Found | None, bool]:
    """The bundle's imaging DiagnosticReport, and whether there are several (an error: one
    report per bundle, rather than a silent choice)."""
    reports = [(n, res) for n, (_path, res) in enumerate(bx.resources)
               if res.get("resourceType") == "DiagnosticReport"]
    if len(reports) <= 1:
        return (reports[0] if reports else None), False
    imaging = [found for found in reports if _is_imaging(bx, found[1])]
    others = [bx.path(n) for n, _res in reports if (n, _res) not in imaging]
    if len(imaging) > 1:
        names = ", ".join(bx.path(n) for n, _res in imaging)
        bx.issue("ambiguous-source", "Bundle.entry",
                 f"{len(imaging)} imaging DiagnosticReports ({names}): one report per bundle "
                 "is read, and choosing one would drop the others")
        return None, True
    if others:
        bx.issue("ignored-item", "Bundle.entry",
                 f"{len(others)} DiagnosticReport(s) that are not imaging reports are not read "
                 f"({', '.join(others[:5])}{', ...' if len(others) > 5 else ''})")
    return (imaging[0] if imaging else None), False


def _report(bx: BundleIndex) -> ImagingReport | None:
    """The report of an indexed bundle (None, with issues, when one cannot be made)."""
    if not bx.index():
        return None
    report, ambiguous = _imaging_report(bx)
    bx.report = report
    if ambiguous:
        return None
    if report is None:
        bx.issue("missing-required", "Bundle.entry",
                 "the bundle has no imaging DiagnosticReport; reading what the other resources "
                 "say")
    groups = find_groups(bx, report)
    data: JsonDict = {}
    patient = bx.follow(report, "subject", "Patient") or bx.first("Patient")
    if patient is None:
        bx.issue("missing-required", "Bundle.entry", "the bundle has no Patient")
        return None
    data["patient"] = read_patient(bx, patient)
    study = read_study(bx, report, groups)
    if study is None:
        return None
    data["study"] = study
    issued = read_issued(bx, report, groups)
    if issued is None:
        return None
    data["issued"] = issued
    procedure = read_procedure(bx, report)
    if procedure is not None:
        data["procedure"] = procedure
    findings: list[JsonDict] = []
    for group in groups:
        finding, found_at = read_finding(bx, group)
        if finding is not None:
            bx.provenance.merge(f"findings[{len(findings)}]", found_at)
            findings.append(finding)
    data["findings"] = findings
    if report is not None:
        rpath = bx.path(report[0])
        conclusion = report[1].get("conclusion")
        if isinstance(conclusion, str):
            data["impression"] = conclusion
            bx.provenance.record("impression", f"{rpath}.conclusion")
        elif conclusion is not None:
            bx.issue("invalid-value", f"{rpath}.conclusion", "conclusion is not a string")
        observer = read_person(bx, report, ("resultsInterpreter",))
        if observer:
            data["observer_name"] = observer
            bx.provenance.record("observer_name", f"{rpath}.resultsInterpreter")
        verifier = read_verifier(bx, report)
        if verifier:
            data["verifying_observer"] = verifier
    read_status(bx, report, data)
    assessment, grade = read_assessment(bx)
    if assessment is not None:
        data["assessment"] = assessment
    if grade is None and assessment is None:
        grade = condition_grade(bx, report)
    if grade is not None:
        data["icans_grade"] = grade
    try:
        return ImagingReport.model_validate(data)
    except ValidationError as exc:
        bx.found.extend(iss.issues_from_validation_error(
            exc, code="case-invalid", locate=bx.provenance.locate, prefix="report field "))
        return None
