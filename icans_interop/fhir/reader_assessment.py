"""The clinical assessment and the ICANS grade from the Observations no finding consumed.

Assessment Observations are recognised by code (:mod:`.layout`: ICE score with its item
components, the single-valued domains, ICP/edema findings, clinical signs, also signs coded
directly as the Observation's code); the first ``effectiveDateTime`` is the assessment time.
The grade is the recorded grade Observation, else (when there is no assessment either) the
grade a G92.0x Condition or ``conclusionCode`` states.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from icans_interop import fields, terminology
from icans_interop.fhir import codes
from icans_interop.fhir.codes import JsonDict
from icans_interop.fhir.layout import (
    ASSESSMENT_DOMAINS,
    ASSESSMENT_LISTS,
)
from icans_interop.fhir.reader_bundle import BundleIndex, Found
from icans_interop.fhir.values import as_list, parse_instant
from icans_interop.model import ICE_ITEMS
from icans_interop.reading import GradeStatement

#: Observation.code key of a single-valued domain -> (NeuroAssessment field, value role).
_DOMAIN_OF = {name: (field, role) for field, name, role in ASSESSMENT_DOMAINS}
#: Observation.code key of a multi-valued domain -> (NeuroAssessment field, value role).
_LIST_OF = {name: (field, role) for field, name, role, _stem in ASSESSMENT_LISTS}


def read_assessment(bx: BundleIndex) -> tuple[JsonDict | None, int | None]:
    """NeuroAssessment fields (None when no assessment Observation) and the recorded grade."""
    out: JsonDict = {}
    grade: int | None = None
    lists: dict[str, list[str]] = {field: [] for field, _n, _r, _s in ASSESSMENT_LISTS}
    seen = False
    for number, (path, res) in enumerate(bx.resources):
        if number in bx.used or res.get("resourceType") != "Observation":
            continue
        name = codes.match(res.get("code"), ("assessment", "clinical_sign"))
        if name.key is None:
            if name.problem in ("unknown-code", "wrong-role") and not _is_evaluation(res):
                bx.concept(res.get("code"), ("assessment", "clinical_sign"), f"{path}.code")
            continue
        bx.used.add(number)
        key = name.key
        value_path = f"{path}.valueCodeableConcept"
        value_cc = res.get("valueCodeableConcept")
        if key == fields.GRADE_KEY:
            grade = _grade_value(bx, res, path)
            continue
        seen = True
        record = bx.provenance.record
        if "assessed_at" not in out and res.get("effectiveDateTime") is not None:
            moment = _instant(bx, res["effectiveDateTime"], f"{path}.effectiveDateTime")
            if moment is not None:
                out["assessed_at"] = moment
        if key == fields.ICE_SCORE_KEY:
            ice = _ice(bx, res, path)
            if ice is not None:
                out["ice"] = ice
                record("assessment", path, replace=False)
                record("assessment.ice", f"{path}.valueInteger", replace=False)
        elif key in _DOMAIN_OF:
            field, role = _DOMAIN_OF[key]
            value = bx.concept(value_cc, (role,), value_path, required=True)
            if value is not None:
                out[field] = value
                record(f"assessment.{field}", value_path)
        elif key in _LIST_OF:
            field, role = _LIST_OF[key]
            value = bx.concept(value_cc, (role,), value_path, required=True)
            if value is not None:
                record(f"assessment.{field}", value_path, replace=False)
                record(f"assessment.{field}[{len(lists[field])}]", value_path)
                lists[field].append(value)
        else:
            concept = terminology.load().get(key)
            if concept is not None and concept.role == "clinical_sign":
                if res.get("valueBoolean") is not False:
                    record(f"assessment.signs[{len(lists['signs'])}]", f"{path}.code")
                    lists["signs"].append(key)  # a sign coded as the Observation itself
            else:
                bx.issue("wrong-role", f"{path}.code",
                         f"{key!r} is not an assessment observation; skipped")
    if not seen:
        return None, grade
    out.update(lists)
    return out, grade


def _is_evaluation(res: JsonDict) -> bool:
    return any(codes.has_concept(c, "qualitative_evaluations")
               for c in as_list(res.get("category")))


def _instant(bx: BundleIndex, value: Any, path: str) -> dt.datetime | None:
    moment = parse_instant(value)
    if moment is None:
        bx.issue("invalid-value", path, f"{value!r} is not a dateTime with a time zone")
    return moment


def _ice(bx: BundleIndex, res: JsonDict, path: str) -> JsonDict | None:
    items: JsonDict = {}
    for where, component, key in bx.coded_components(res, path, ("assessment",)):
        field = fields.ICE_FIELD_BY_KEY.get(key or "")
        if field is None:
            if key is not None:
                bx.issue("wrong-role", f"{where}.code", f"{key!r} is not an ICE item")
            continue
        value = component.get("valueInteger")
        if not isinstance(value, int) or isinstance(value, bool):
            bx.issue("invalid-value", f"{where}.valueInteger",
                     f"ICE item {key!r} has no integer value ({value!r})")
            continue
        items[field] = value
    missing = [field for field, _key, _max in ICE_ITEMS if field not in items]
    if missing:
        bx.issue("missing-required", f"{path}.component",
                 f"ICE items missing ({', '.join(missing)}): the ICE score "
                 f"{res.get('valueInteger')!r} cannot be recorded item by item")
        return None
    total = res.get("valueInteger")
    if isinstance(total, int) and total != sum(items.values()):
        bx.issue("inconsistent-value", f"{path}.valueInteger",
                 f"ICE total {total} differs from the sum of its items "
                 f"{sum(items.values())}; the items are kept")
    return items


def _grade_value(bx: BundleIndex, res: JsonDict, path: str) -> int | None:
    if isinstance(res.get("valueInteger"), int) and not isinstance(res["valueInteger"], bool):
        bx.provenance.record("icans_grade", f"{path}.valueInteger", replace=False)
        return int(res["valueInteger"])
    key = bx.concept(res.get("valueCodeableConcept"), (fields.GRADE_VALUE_ROLE,),
                     f"{path}.valueCodeableConcept", required=True)
    if key is None:
        return None
    bx.provenance.record("icans_grade", f"{path}.valueCodeableConcept", replace=False)
    return fields.key_grade(key)


def condition_grade(bx: BundleIndex, report: Found | None) -> int | None:
    """The grade a G92.0x Condition (or conclusionCode) states, for bundles that carry no
    grade Observation and no assessment."""
    candidates: list[tuple[Any, str]] = []
    for number, (path, res) in enumerate(bx.resources):
        if res.get("resourceType") == "Condition":
            candidates.append((res.get("code"), f"{path}.code"))
            bx.used.add(number)
    if report is not None:
        for k, cc in enumerate(as_list(report[1].get("conclusionCode"))):
            candidates.append((cc, f"{bx.path(report[0])}.conclusionCode[{k}]"))
    for cc, where in candidates:
        key = codes.match(cc, ("condition",)).key
        if key is not None and key.startswith("icans_grade_") and key[-1].isdigit():
            bx.provenance.record("icans_grade", where, replace=False)
            return fields.key_grade(key)
    return None


def grade_statements(bx: BundleIndex, report: Found | None) -> tuple[GradeStatement, ...]:
    """Every ICD-10-CM coding that states an ICANS grade (G92.01-G92.05), in a Condition's
    code or in ``DiagnosticReport.conclusionCode``, with its element path."""
    places: list[tuple[Any, str]] = [
        (res.get("code"), f"{path}.code") for path, res in bx.resources
        if res.get("resourceType") == "Condition"]
    if report is not None:
        places.extend((cc, f"{bx.path(report[0])}.conclusionCode[{k}]")
                      for k, cc in enumerate(as_list(report[1].get("conclusionCode"))))
    found: list[GradeStatement] = []
    concepts = terminology.load()
    for cc, where in places:
        for k, coding in enumerate(as_list(cc.get("coding") if isinstance(cc, dict) else None)):
            if not isinstance(coding, dict):
                continue
            system, code = coding.get("system"), coding.get("code")
            if not isinstance(system, str) or not isinstance(code, str):
                continue
            concept = concepts.lookup_fhir(system, _icd10cm_dotted(code))
            if concept is None or concept.role != "condition" or \
                    not concept.key.startswith("icans_grade_") or not concept.key[-1].isdigit():
                continue
            found.append(GradeStatement(f"{where}.coding[{k}].code", code,
                                        fields.key_grade(concept.key)))
    return tuple(found)


def _icd10cm_dotted(code: str) -> str:
    """``G9203`` -> ``G92.03`` (ICD-10-CM written without its dot, as some producers do)."""
    if "." not in code and len(code) > 3:
        return f"{code[:3]}.{code[3:]}"
    return code
