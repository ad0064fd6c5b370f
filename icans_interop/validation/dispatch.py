"""Validate an input of any supported format: tell what it is, run the validator for it.

:func:`validate` is :func:`icans_interop.validate` and what ``icans-interop validate`` runs on
each file (through :func:`.runner.validate_one`). The input is told apart by
:func:`icans_interop.sniff.sniff_source` (any source kind of :mod:`icans_interop.sources`):

* a DICOM SR: :func:`.sr.validate_sr`;
* a FHIR resource or Bundle: :func:`.fhir.validate_fhir` (the version detected unless given);
* a QuestionnaireResponse (a filled reporting form): the FHIR checks of profile ``base``, then,
  under profile ``icans``, the form reader's issues and the shared semantic rules on the report
  it gives, located at the answers the values came from;
* a case file: its format (``case-invalid`` per field), then, under profile ``icans``, the
  shared semantic rules located by model path.

Nothing raises: an input that cannot be read or told apart is one ``unreadable`` issue.
"""

from __future__ import annotations

import sys
from typing import Final

from icans_interop import sniff
from icans_interop.formats import FhirVersionIn, Profile
from icans_interop.issues import Issue, error
from icans_interop.validation.result import ValidationResult

#: Issue codes that mean the input could not be read at all (the CLI's exit 3).
UNREADABLE_CODES: Final = frozenset({"unreadable", "too-large", "too-deep"})


def validate(source: object, profile: Profile = "icans", fhir_version: FhirVersionIn = "auto",
             *, file_label: str | None = None) -> ValidationResult:
    """Validate an SR, a FHIR resource or Bundle, a QuestionnaireResponse or a case file;
    never raises. ``fhir_version`` applies to FHIR input (``auto``: detected)."""
    if profile not in ("icans", "base"):
        named = file_label or "<input>"
        return ValidationResult(named, "unknown", (error(
            "invalid-value", named, f"unknown profile {profile!r} (icans or base)"),))
    if _is_report(source):
        return validate_case(source, profile, file_label=file_label)
    found = sniff.sniff_source(source)
    label = file_label or found.label
    try:
        if found.kind == "sr":
            from icans_interop.validation.sr import validate_sr

            return validate_sr(found.source, profile, file_label=label)  # type: ignore[arg-type]
        if found.kind == "fhir":
            from icans_interop.validation.fhir import validate_fhir

            return validate_fhir(found.source, fhir_version, profile, file_label=label)
        if found.kind == "questionnaire-response":
            return validate_response(found.source, profile, fhir_version, file_label=label)
        if found.kind == "case":
            return validate_case(found.source, profile, file_label=label)
    except Exception as exc:  # a validator bug must not become the caller's traceback
        where = label or "<input>"
        return ValidationResult(where, found.kind, (error(
            "internal-error", where, f"validator failed: {type(exc).__name__}: {exc}"),))
    where = label or "<input>"
    if found.problem is not None:
        return ValidationResult(where, "unknown", (error(found.problem.code, where,
                                                         found.problem.message),))
    return ValidationResult(where, "unknown", (error(
        "unreadable", where,
        "neither DICOM nor JSON (not an SR, FHIR resource, form response or case file)"),))


def _is_report(value: object) -> bool:
    """An ImagingReport (the model is not imported to find out: if it is not loaded, no
    report exists), so importing this module stays cheap."""
    module = sys.modules.get("icans_interop.model")
    return module is not None and isinstance(value, module.ImagingReport)


def validate_response(source: object, profile: Profile = "icans",
                      fhir_version: FhirVersionIn = "auto", *,
                      file_label: str | None = None) -> ValidationResult:
    """A QuestionnaireResponse: FHIR profile ``base`` (against its Questionnaire when the input
    holds it or it is this library's form); under ``icans`` also the form reader's issues and
    the semantic rules on the report read from it."""
    from icans_interop import sdc, sources
    from icans_interop.validation.fhir import validate_fhir
    from icans_interop.validation.semantic import check_report

    if sources.kind_of(source, json_text=True) == "file":  # read once, used twice below
        file_label = file_label or sources.label(source, json_text=True)
        try:
            source = sources.read_bytes(source, sniff.MAX_SOURCE_BYTES, json_text=True)
        except sources.SourceError as exc:
            where = file_label or "<input>"
            return ValidationResult(where, "fhir", (error(exc.code, where, exc.message),))
    # Our own form is known: its responses are checked against it (answers, enableWhen,
    # required items), like any Questionnaire given in the input.
    ours = [sdc.questionnaire("R4")]
    checked = validate_fhir(source, fhir_version, "base", file_label=file_label,
                            supporting=ours)
    issues: list[Issue] = list(checked.issues)
    if profile == "icans" and not any(i.code in UNREADABLE_CODES for i in issues):
        reading = sdc.read(source)
        issues.extend(reading.issues)
        if reading.report is not None:
            issues.extend(check_report(reading.report, reading.provenance.locate))
    return ValidationResult(checked.file, "fhir", tuple(dict.fromkeys(issues)),
                            fhir_version=checked.fhir_version)


def validate_case(source: object, profile: Profile | str = "icans", *,
                  file_label: str | None = None) -> ValidationResult:
    """A case file (the library's JSON input format): its format, then under profile
    ``icans`` the semantic rules, located by model path."""
    from icans_interop import sources
    from icans_interop.case import read_case
    from icans_interop.validation.semantic import check_report

    label = file_label or sources.label(source, json_text=True) or "<input>"
    reading = read_case(source)
    issues = list(reading.issues)
    if reading.report is not None and profile == "icans":
        issues.extend(check_report(reading.report))
    return ValidationResult(label, "case", tuple(issues))
