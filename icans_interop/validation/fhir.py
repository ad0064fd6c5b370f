"""Validate an incoming FHIR resource or Bundle (R4 4.0.1 or R5).

``validate_fhir`` runs, in order, and collects every issue (it never raises, never hangs):

1. JSON well-formedness with size and depth guards (:mod:`.fhir_json`): invalid JSON is
   ``unreadable`` with its line and column.
2. One typed walk over the JSON (:mod:`.fhir_structure`) with the native checks ele-1, ext-1,
   txt-1/txt-2, then the ``fhir.resources`` models (R4B for R4, R5 for R5): cardinality,
   datatypes, formats, unknown elements, one issue per error at its FHIR path.
3. Required value-set bindings (:mod:`.fhir_bindings`).
4. Core invariants of the types we exchange, with compiled fhirpathpy (:mod:`.fhir_invariants`).
5. References: resolution inside the Bundle and allowed target types (:mod:`.fhir_refs`).
6. Codes: ICD-10-CM existence and billability (a claims rule: an error for ICANS content or
   under profile ``icans``, else a warning), SNOMED CT/LOINC check digits, displays
   (:mod:`.fhir_codes`).
7. A QuestionnaireResponse against its Questionnaire, from the input or the ``supporting``
   resources (:mod:`.fhir_questionnaire`).
8. Profile ``icans`` only: the bundle is read into the domain model with
   :func:`icans_interop.fhir.read` (its issues are surfaced), the shared semantic rules run,
   located by the reader's provenance, and each ICD-10-CM G92.0x code (Condition.code,
   DiagnosticReport.conclusionCode) must agree with the recorded and the computed grade.

Profile ``base`` stops after step 7, so any valid FHIR resource of any producer passes
without errors.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from icans_interop import sniff, sources
from icans_interop.formats import FhirVersion as Version
from icans_interop.formats import FhirVersionIn, Profile
from icans_interop.issues import Issue, error, information
from icans_interop.reading import Reading
from icans_interop.validation import (
    fhir_bindings,
    fhir_codes,
    fhir_datatypes,
    fhir_invariants,
    fhir_json,
    fhir_questionnaire,
    fhir_refs,
    fhir_structure,
)
from icans_interop.validation.result import ValidationResult

#: At most this many issues per file; the rest are summarised in one last issue.
MAX_ISSUES: Final = 500


def validate_fhir(source: object, version: FhirVersionIn = "auto",
                  profile: Profile = "icans", *,
                  file_label: str | None = None,
                  supporting: Sequence[str | Path | bytes | dict[str, Any]] = (),
                  ) -> ValidationResult:
    """Validate one FHIR resource or Bundle.

    ``source`` is any kind of :mod:`icans_interop.sources`: a path, JSON text (the ``str``
    rule is :func:`icans_interop.sources.is_json_text`), bytes, a binary file object, parsed
    JSON (``dict``) or a ``fhir.resources`` model. ``version`` ``auto`` is
    :func:`icans_interop.sniff.detect_fhir_version` of the input; the result's
    ``fhir_version`` says which version it was validated as.
    ``supporting`` resources (same forms; Bundles count by their entries) are not validated
    but consulted: the Questionnaire a QuestionnaireResponse answers.
    """
    return validate_and_read_fhir(source, version, profile, file_label=file_label,
                                  supporting=supporting)[0]


def validate_and_read_fhir(source: object, version: FhirVersionIn = "auto",
                           profile: Profile = "icans", *,
                           file_label: str | None = None,
                           supporting: Sequence[str | Path | bytes | dict[str, Any]] = (),
                           ) -> tuple[ValidationResult, Reading | None]:
    """:func:`validate_fhir`, and the reader's :class:`Reading` of the same parsed JSON when
    the ``icans`` profile made one (None otherwise), so a caller that needs both
    (conversion) parses and reads the input once."""
    label = file_label or _label(source)
    used: list[Version] = []
    readings: list[Reading] = []
    try:
        issues = _validate(source, version, profile, label, used, supporting, readings)
    except RecursionError:
        issues = [error("too-deep", label, "the input is nested too deeply to validate")]
    except MemoryError:
        issues = [error("too-large", label, "the input is too large to validate in memory")]
    except Exception as exc:
        issues = [error("internal-error", label,
                        f"the FHIR validator failed: {type(exc).__name__}: {str(exc)[:300]}")]
    result = ValidationResult(label, "fhir", tuple(_cap(_dedupe(issues))),
                              fhir_version=used[-1] if used else None)
    return result, (readings[0] if readings else None)


def _label(source: object) -> str:
    return sources.label(source, json_text=True) or "<input>"


def _dedupe(issues: list[Issue]) -> list[Issue]:
    return list(dict.fromkeys(issues))


def _cap(issues: list[Issue]) -> list[Issue]:
    if len(issues) <= MAX_ISSUES:
        return issues
    kept = sorted(issues, key=lambda i: ("error", "warning", "information").index(i.severity))
    rest = len(issues) - MAX_ISSUES
    summary = information("too-many-issues", kept[MAX_ISSUES].location,
                          f"{rest} more issues not listed (at most {MAX_ISSUES} per file)")
    return [*kept[:MAX_ISSUES], summary]


def _validate(source: object, version: FhirVersionIn, profile: Profile,
              label: str, used: list[Version],
              supporting: Sequence[str | Path | bytes | dict[str, Any]] = (),
              readings: list[Reading] | None = None) -> list[Issue]:
    if version not in ("R4", "R5", "auto"):
        return [error("invalid-value", label,
                      f"unknown FHIR version {version!r} (R4, R5 or auto)")]
    if profile not in ("icans", "base"):
        return [error("invalid-value", label, f"unknown profile {profile!r} (icans or base)")]
    issues: list[Issue] = []
    if sniff.is_fhir_model(source):
        from icans_interop.fhir.serialize import model_to_json

        data: Any = json.loads(model_to_json(source))
    elif isinstance(source, dict | list | int | float) or source is None:
        data = source  # already parsed JSON (a dict, or another JSON value: reported below)
    else:
        loaded = fhir_json.load(source, label)
        if loaded.data is None:
            return loaded.issues
        data, issues = loaded.data, loaded.issues
        source = loaded.raw  # a file object is read once: detect the version on its bytes
    version = sniff.detect_fhir_version(source) if version == "auto" else version
    used.append(version)
    if not isinstance(data, dict):
        issues.append(error("invalid-value", label,
                            f"a FHIR resource is a JSON object; this input is a JSON "
                            f"{_json_kind(data)}"))
        return issues
    helpers, problems = _supporting(supporting)
    issues.extend(problems)
    issues.extend(check_data(data, version, profile=profile, supporting=helpers))
    if profile == "icans" and not any(i.code in ("too-deep", "unreadable") for i in issues):
        issues.extend(icans_checks(data, issues, readings))
    return issues


def _supporting(items: Sequence[str | Path | bytes | dict[str, Any]],
                ) -> tuple[list[dict[str, Any]], list[Issue]]:
    """The supporting resources as parsed JSON, and an information for each unreadable one."""
    parsed: list[dict[str, Any]] = []
    problems: list[Issue] = []
    for item in items:
        if isinstance(item, dict):
            parsed.append(item)
            continue
        loaded = fhir_json.load(item)
        if isinstance(loaded.data, dict):
            parsed.append(loaded.data)
        else:
            reason = "; ".join(i.message for i in loaded.issues) or "not a JSON object"
            problems.append(information("not-checked", loaded.label,
                                        f"supporting resource not used: {reason}"))
    return parsed, problems


def _json_kind(value: object) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean",
            type(None): "null"}.get(type(value), type(value).__name__)


def check_data(data: dict[str, Any], version: Version = "R4",
               timings: dict[str, float] | None = None, *,
               profile: Profile = "base",
               supporting: Sequence[dict[str, Any]] = ()) -> list[Issue]:
    """The format-level checks on parsed JSON (all of profile ``base``; ``profile`` only sets
    the severity of claims rules such as ICD-10-CM billability; ``supporting`` resources are
    consulted, not validated)."""
    clock = _Clock(timings)
    walk = fhir_structure.walk(data, version,
                               fhir_invariants.evaluated_types(version) | fhir_datatypes.TYPES)
    clock("walk")
    issues = list(walk.issues)
    issues.extend(fhir_structure.check_models(walk))
    clock("models")
    issues.extend(fhir_bindings.check(walk))
    clock("bindings")
    issues.extend(fhir_invariants.check(walk, version))
    clock("invariants")
    issues.extend(fhir_refs.check(walk))
    issues.extend(fhir_datatypes.check(walk))
    clock("references")
    issues.extend(fhir_codes.check(walk, claims=profile == "icans"))
    clock("codes")
    issues.extend(fhir_questionnaire.check(walk, supporting))
    clock("questionnaires")
    return issues


class _Clock:
    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.last = time.perf_counter()

    def __call__(self, stage: str) -> None:
        if self.timings is None:
            return
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - self.last
        self.last = now


# ------------------------------------------------------------------------------------------
# Profile icans


#: Issue codes of the reader that repeat what the reference checks already said.
_REFERENCE_CODES: Final = frozenset({"dangling-reference", "reference-wrong-type",
                                     "invariant-failed", "invalid-value"})


def icans_checks(data: dict[str, Any], found: list[Issue],
                 readings: list[Reading] | None = None) -> list[Issue]:
    """Read the bundle into the model; surface the reader's issues and the semantic rules,
    each located where the reader says the value came from (its provenance)."""
    from icans_interop import fhir
    from icans_interop.validation import semantic

    issues: list[Issue] = []
    if data.get("resourceType") != "Bundle":
        return [error("invalid-value", f"{data.get('resourceType') or 'Resource'}",
                      "the icans profile expects a Bundle holding an imaging report; use the "
                      "base profile to validate a single resource")]
    reading = fhir.read(data)
    if readings is not None:
        readings.append(reading)
    taken = {i.location for i in found if i.code in _REFERENCE_CODES}
    for issue in reading.issues:
        if issue.code in ("unresolved-reference", "invalid-value") and \
                issue.location in taken:
            continue  # already reported by the reference checks
        issues.append(issue)
    if reading.report is None:
        return issues
    issues.extend(semantic.check_report(reading.report, reading.provenance.locate))
    issues.extend(semantic.check_grade_statements(reading.report, reading.grade_statements))
    return issues
