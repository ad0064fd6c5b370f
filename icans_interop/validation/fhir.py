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
6. Codes: ICD-10-CM existence and billability, SNOMED CT/LOINC check digits, displays
   (:mod:`.fhir_codes`).
7. Profile ``icans`` only: the bundle is read into the domain model with
   :func:`icans_interop.fhir.read` (its issues are surfaced), the shared semantic rules run
   with a locator into the bundle, and each ICD-10-CM G92.0x code (Condition.code,
   DiagnosticReport.conclusionCode) must agree with the recorded and the computed grade.

Profile ``base`` stops after step 6, so any valid FHIR resource of any producer passes
without errors.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Final, Literal

from icans_interop import terminology
from icans_interop.issues import Issue, error, information
from icans_interop.validation import (
    fhir_bindings,
    fhir_codes,
    fhir_invariants,
    fhir_json,
    fhir_refs,
    fhir_structure,
)
from icans_interop.validation.result import ValidationResult

Version = Literal["R4", "R5"]
Profile = Literal["icans", "base"]

#: At most this many issues per file; the rest are summarised in one last issue.
MAX_ISSUES: Final = 500


def validate_fhir(source: str | Path | bytes | dict[str, Any], version: Version = "R4",
                  profile: Profile = "icans", *,
                  file_label: str | None = None) -> ValidationResult:
    """Validate one FHIR resource or Bundle.

    ``source`` is a path (``str`` or :class:`~pathlib.Path`), JSON text (a ``str`` starting
    with ``{`` or ``[``), JSON bytes, or an already parsed JSON object (``dict``).
    """
    label = file_label or _label(source)
    try:
        issues = _validate(source, version, profile, label)
    except RecursionError:
        issues = [error("too-deep", label, "the input is nested too deeply to validate")]
    except MemoryError:
        issues = [error("too-large", label, "the input is too large to validate in memory")]
    except Exception as exc:
        issues = [error("internal-error", label,
                        f"the FHIR validator failed: {type(exc).__name__}: {str(exc)[:300]}")]
    return ValidationResult(label, "fhir", tuple(_cap(_dedupe(issues))))


def _label(source: object) -> str:
    if isinstance(source, Path):
        return str(source)
    if isinstance(source, str) and source.lstrip()[:1] not in ("{", "["):
        return source
    return "<input>"


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


def _validate(source: str | Path | bytes | dict[str, Any], version: Version, profile: Profile,
              label: str) -> list[Issue]:
    if version not in ("R4", "R5"):
        return [error("invalid-value", label, f"unknown FHIR version {version!r} (R4 or R5)")]
    if profile not in ("icans", "base"):
        return [error("invalid-value", label, f"unknown profile {profile!r} (icans or base)")]
    if not isinstance(source, str | bytes | bytearray | Path):
        data: Any = source  # already parsed JSON (a dict, or anything else: reported below)
        issues: list[Issue] = []
    else:
        loaded = fhir_json.load(source, label)
        if loaded.data is None:
            return loaded.issues
        data, issues = loaded.data, loaded.issues
    if not isinstance(data, dict):
        issues.append(error("invalid-value", label,
                            f"a FHIR resource is a JSON object; this input is a JSON "
                            f"{_json_kind(data)}"))
        return issues
    issues.extend(check_data(data, version))
    if profile == "icans" and not any(i.code in ("too-deep", "unreadable") for i in issues):
        issues.extend(icans_checks(data, issues))
    return issues


def _json_kind(value: object) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean",
            type(None): "null"}.get(type(value), type(value).__name__)


def check_data(data: dict[str, Any], version: Version = "R4",
               timings: dict[str, float] | None = None) -> list[Issue]:
    """The format-level checks (profile ``base``) on parsed JSON."""
    clock = _Clock(timings)
    walk = fhir_structure.walk(data, version)
    clock("walk")
    issues = list(walk.issues)
    empty = {i.location for i in walk.issues if i.message.startswith("ele-1")}
    issues.extend(i for i in fhir_structure.check_models(walk) if i.location not in empty)
    clock("models")
    issues.extend(fhir_bindings.check(walk))
    clock("bindings")
    issues.extend(fhir_invariants.check(walk, version))
    clock("invariants")
    issues.extend(fhir_refs.check(walk))
    clock("references")
    issues.extend(fhir_codes.check(walk))
    clock("codes")
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


def icans_checks(data: dict[str, Any], found: list[Issue]) -> list[Issue]:
    """Read the bundle into the model; surface the reader's issues and the semantic rules."""
    from icans_interop import fhir
    from icans_interop.validation import semantic

    issues: list[Issue] = []
    if data.get("resourceType") != "Bundle":
        return [error("invalid-value", f"{data.get('resourceType') or 'Resource'}",
                      "the icans profile expects a Bundle holding an imaging report; use the "
                      "base profile to validate a single resource")]
    report, read_issues = fhir.read(data)
    taken = {i.location for i in found if i.code in _REFERENCE_CODES}
    for issue in read_issues:
        if issue.code in ("unresolved-reference", "invalid-value") and \
                issue.location in taken:
            continue  # already reported by the reference checks
        issues.append(issue)
    if report is None:
        return issues
    locate = Locator(data)
    issues.extend(semantic.check_report(report, locate))
    issues.extend(locate.grade_codes(report))
    return issues


_GRADE_CODES: Final = {f"G92.0{g}": g for g in range(1, 6)} | {f"G920{g}": g for g in range(1, 6)}


class Locator:
    """Model paths of a report read from a bundle -> FHIR element paths in that bundle.

    Follows the reader's choices: findings are the measurement-group Observations in
    ``DiagnosticReport.result`` order, then any other group; a finding's sites come from its
    BodyStructure, then its finding-site components, then ``bodySite``; signals and
    qualifiers are its ``hasMember`` qualitative evaluations in order.
    """

    def __init__(self, bundle: dict[str, Any]) -> None:
        from icans_interop.fhir import codes

        self.codes = codes
        self.paths: dict[str, str] = {}
        self.entries: list[tuple[str, dict[str, Any]]] = []
        self.by_ref: dict[str, int] = {}
        entries = bundle.get("entry")
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                continue
            resource = entry["resource"]
            number = len(self.entries)
            self.entries.append((f"Bundle.entry[{index}].resource", resource))
            if isinstance(entry.get("fullUrl"), str):
                self.by_ref.setdefault(entry["fullUrl"], number)
            rtype, rid = resource.get("resourceType"), resource.get("id")
            if isinstance(rtype, str) and isinstance(rid, str):
                self.by_ref.setdefault(f"{rtype}/{rid}", number)
        self.conditions: list[tuple[str, Any]] = []
        self._index()

    # -- building ---------------------------------------------------------------------------

    def _resolve(self, ref: Any) -> tuple[str, dict[str, Any]] | None:
        if not isinstance(ref, dict) or not isinstance(ref.get("reference"), str):
            return None
        target = ref["reference"]
        number = self.by_ref.get(target)
        if number is None and "/" in target:
            parts = target.split("/_history/")[0].rsplit("/", 2)
            number = self.by_ref.get("/".join(parts[-2:]))
        return self.entries[number] if number is not None else None

    def _is_group(self, res: dict[str, Any]) -> bool:
        if res.get("resourceType") != "Observation":
            return False
        categories = res.get("category")
        if any(self.codes.has_concept(c, "measurement_group")
               for c in (categories if isinstance(categories, list) else [])):
            return True
        code = res.get("code")
        return self.codes.has_concept(code, "measurement_group") or \
            self.codes.has_concept(code, "finding")

    def _index(self) -> None:
        report = next(((p, r) for p, r in self.entries
                       if r.get("resourceType") == "DiagnosticReport"), None)
        groups: list[tuple[str, dict[str, Any]]] = []
        seen: set[str] = set()
        if report is not None:
            results = report[1].get("result")
            for ref in results if isinstance(results, list) else []:
                found = self._resolve(ref)
                if found is None or found[0] in seen or \
                        found[1].get("resourceType") != "Observation":
                    continue
                value = found[1].get("valueCodeableConcept")
                if self._is_group(found[1]) or self.codes.match(value, ("pattern",)).key:
                    groups.append(found)
                    seen.add(found[0])
            codes_ = report[1].get("conclusionCode")
            for k, cc in enumerate(codes_ if isinstance(codes_, list) else []):
                self.conditions.append((f"{report[0]}.conclusionCode[{k}]", cc))
        for path, res in self.entries:
            if path not in seen and self._is_group(res):
                groups.append((path, res))
                seen.add(path)
        for number, (path, res) in enumerate(groups):
            self._finding(f"findings[{number}]", path, res)
        self._assessment(seen)

    def _finding(self, base: str, path: str, res: dict[str, Any]) -> None:
        match = self.codes.match
        self.paths[base] = path
        self.paths[f"{base}.pattern"] = f"{path}.valueCodeableConcept"
        sites: list[str] = []
        structure = self._resolve(res.get("bodyStructure"))
        if structure is not None:
            parts = structure[1].get("includedStructure")
            for k, part in enumerate(parts if isinstance(parts, list) else []):
                where = f"{structure[0]}.includedStructure[{k}]"
                if isinstance(part, dict):
                    sites.append(f"{where}.structure")
                    if "laterality" in part:
                        self.paths.setdefault(f"{base}.laterality", f"{where}.laterality")
            self._identifiers(base, structure[0], structure[1])
        components = res.get("component")
        for k, component in enumerate(components if isinstance(components, list) else []):
            if not isinstance(component, dict):
                continue
            where = f"{path}.component[{k}]"
            name = match(component.get("code"), ("sr_template",)).key
            if name == "finding_site":
                sites.append(f"{where}.valueCodeableConcept")
            elif name == "laterality":
                self.paths.setdefault(f"{base}.laterality", f"{where}.valueCodeableConcept")
        if not sites and res.get("bodySite") is not None:
            sites.append(f"{path}.bodySite")
        signals = 0
        members = res.get("hasMember")
        for ref in members if isinstance(members, list) else []:
            found = self._resolve(ref)
            if found is None:
                continue
            mpath, member = found
            name = match(member.get("code"), ("mr_sequence", "sr_template")).key
            value = f"{mpath}.valueCodeableConcept"
            concept = terminology.load().get(name or "")
            if concept is not None and concept.role == "mr_sequence":
                self.paths[f"{base}.signals[{signals}]"] = value
                signals += 1
            elif name in ("distribution_descriptor", "number_of_lesions", "lesion_morphology"):
                field = {"distribution_descriptor": "distribution",
                         "number_of_lesions": "number",
                         "lesion_morphology": "morphology"}[name]
                self.paths.setdefault(f"{base}.{field}", value)
            elif name == "finding_site":
                sites.append(value)
            elif name == "laterality":
                self.paths.setdefault(f"{base}.laterality", value)
        for k, site in enumerate(sites):
            self.paths[f"{base}.sites[{k}]"] = site
        self._identifiers(base, path, res)

    def _identifiers(self, base: str, path: str, res: dict[str, Any]) -> None:
        idents = res.get("identifier")
        for k, ident in enumerate(idents if isinstance(idents, list) else []):
            if not isinstance(ident, dict):
                continue
            id_type = ident.get("type")
            where = f"{path}.identifier[{k}].value"
            if self.codes.has_concept(id_type, "tracking_uid"):
                self.paths.setdefault(f"{base}.tracking_uid", where)
            elif self.codes.has_concept(id_type, "tracking_identifier"):
                self.paths.setdefault(f"{base}.tracking_id", where)
            elif self.codes.has_fixed(id_type, "id-type-observation-uid"):
                self.paths.setdefault(f"{base}.observation_uid", where)

    def _assessment(self, used: set[str]) -> None:
        icp = signs = 0
        for path, res in self.entries:
            rtype = res.get("resourceType")
            if rtype == "Condition":
                self.conditions.append((f"{path}.code", res.get("code")))
                continue
            if rtype != "Observation" or path in used:
                continue
            key = self.codes.match(res.get("code"), ("assessment", "clinical_sign")).key
            value = f"{path}.valueCodeableConcept"
            if key == "icans_grade":
                self.paths.setdefault("icans_grade", value if "valueCodeableConcept" in res
                                      else f"{path}.valueInteger")
            elif key == "ice_score":
                self.paths.setdefault("assessment.ice", f"{path}.valueInteger")
                self.paths.setdefault("assessment", path)
            elif key == "level_of_consciousness":
                self.paths.setdefault("assessment.consciousness", value)
            elif key == "seizure_domain":
                self.paths.setdefault("assessment.seizure", value)
            elif key == "motor_domain":
                self.paths.setdefault("assessment.motor", value)
            elif key == "icp_domain":
                self.paths[f"assessment.icp_findings[{icp}]"] = value
                icp += 1
            elif key == "clinical_signs_observed":
                self.paths[f"assessment.signs[{signs}]"] = value
                signs += 1
        if "icans_grade" not in self.paths:
            for where, _cc in self.conditions:
                self.paths["icans_grade"] = where
                break

    # -- lookup -----------------------------------------------------------------------------

    def __call__(self, model_path: str) -> str:
        path = model_path
        while path:
            found = self.paths.get(path)
            if found is not None:
                return found
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return "Bundle"

    def grade_codes(self, report: Any) -> list[Issue]:
        """Each ICD-10-CM G92.0x code must agree with the recorded (else computed) grade."""
        from icans_interop import grading

        recorded = report.icans_grade
        computed = (grading.compute_grade(report.assessment).grade
                    if report.assessment is not None else None)
        issues: list[Issue] = []
        for where, cc in self.conditions:
            codings = cc.get("coding") if isinstance(cc, dict) else None
            for k, coding in enumerate(codings if isinstance(codings, list) else []):
                if not isinstance(coding, dict):
                    continue
                system = coding.get("system")
                system = terminology.SYSTEM_ALIASES.get(system, system) \
                    if isinstance(system, str) else system
                code = coding.get("code")
                grade = _GRADE_CODES.get(code) \
                    if system == terminology.ICD10CM and isinstance(code, str) else None
                if grade is None:
                    continue
                location = f"{where}.coding[{k}].code"
                if recorded is not None:
                    if grade != recorded:
                        issues.append(error(
                            "grade-mismatch", location,
                            f"ICD-10-CM {code} (ICANS grade {grade}) differs from the recorded "
                            f"ICANS grade {recorded}"))
                elif computed is not None and grade != computed:
                    if grade == 5:
                        issues.append(information(
                            "grade-not-computable", location,
                            f"ICD-10-CM {code} (grade 5, death due to ICANS); the assessment "
                            f"gives grade {computed}, which cannot confirm or refute it"))
                    else:
                        issues.append(error(
                            "grade-mismatch", location,
                            f"ICD-10-CM {code} (ICANS grade {grade}) differs from the ASTCT "
                            f"grade {computed} computed from the assessment"))
        return issues
