"""The clinical assessment, the recorded grade and the ICANS diagnosis as FHIR resources.

* ICE score: one survey ``Observation`` (``valueInteger`` = total, one component per ICE
  item); level of consciousness, seizure and motor finding: one exam Observation each
  (:data:`.layout.ASSESSMENT_DOMAINS`); one exam Observation per ICP/edema finding and per
  clinical sign (:data:`.layout.ASSESSMENT_LISTS`); the recorded ICANS grade as a survey
  Observation (its time: the assessment's, else the study's).
* a ``Condition`` (ICD-10-CM G92.0x by the effective grade, ``evidence`` -> those
  Observations) unless the grade is 0; an ungraded report with findings gets a provisional
  G92.00 Condition whose evidence is the finding Observations.
"""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from importlib import resources

from icans_interop import fields, grading, terminology
from icans_interop.fhir.bundle import BundleBuilder, resource_id
from icans_interop.fhir.codes import JsonDict, codeable, fixed_cc
from icans_interop.fhir.layout import (
    ASSESSMENT_DOMAINS,
    ASSESSMENT_LISTS,
)
from icans_interop.fhir.values import instant, study_datetime
from icans_interop.model import ICE_ITEMS, ImagingReport


@lru_cache(maxsize=1)
def _exclusions() -> tuple[tuple[str, str], ...]:
    """(ICD-10-CM code, code family it is not written beside) from
    ``data/icd10cm-exclusions.csv`` (the tabular's Excludes notes, each row citing its note)."""
    text = resources.files("icans_interop.data").joinpath("icd10cm-exclusions.csv").read_text(
        "utf-8")
    return tuple((row["code"], row["not_with"]) for row in csv.DictReader(io.StringIO(text)))


def condition_key(report: ImagingReport) -> str | None:
    """The ICD-10-CM concept of the report's ICANS Condition (None: no Condition).

    Graded (a recorded grade or an assessment): G92.01-G92.05; none for grade 0. Not graded
    but with ICANS imaging findings: G92.00 "grade unspecified". A cancelled report: none.
    """
    if report.status == "cancelled":
        return None
    graded = report.assessment is not None or report.icans_grade is not None
    grade = grading.effective_grade(report.icans_grade, report.assessment)
    if grade == 0 or not (graded or report.findings):
        return None
    return grading.icd10cm_key(grade if graded else None)


def _sign_code(key: str, condition: str | None) -> JsonDict:
    """A sign's CodeableConcept without the ICD-10-CM codings its Excludes notes forbid beside
    the report's ICANS code (G93.40, R41.82 when G92.0x is written)."""
    cc = codeable(key)
    if condition is None:
        return cc
    code = terminology.load().concept(condition).fhir_codings()[0].code
    dropped = {excluded for excluded, family in _exclusions() if code.startswith(family)}
    cc["coding"] = [c for c in cc["coding"] if c.get("code") not in dropped]
    return cc


def add_assessment(b: BundleBuilder, report: ImagingReport, subject: JsonDict,
                   issued: str) -> list[JsonDict]:
    """Observations of the clinical assessment and recorded grade; returns their references."""
    refs: list[JsonDict] = []
    condition = condition_key(report)
    assessment = report.assessment
    when: JsonDict = {}
    if assessment is not None and assessment.assessed_at is not None:
        when = {"effectiveDateTime": instant(assessment.assessed_at)}

    def observation(role: str, code_key: str, category: str, value: JsonDict,
                    extra: JsonDict | None = None, effective: JsonDict = when) -> None:
        res: JsonDict = {"resourceType": "Observation", "id": resource_id(b.key, role),
                         "status": report.status, "category": [fixed_cc(category)],
                         "code": codeable(code_key), "subject": subject, **effective,
                         "issued": issued, **value}
        if extra:
            res.update(extra)
        refs.append(b.add(res))

    if assessment is not None:
        if assessment.ice is not None:
            ice = assessment.ice
            observation("Observation/ice", fields.ICE_SCORE_KEY, "category-survey",
                        {"valueInteger": ice.total},
                        {"component": [{"code": codeable(key),
                                        "valueInteger": getattr(ice, field)}
                                       for field, key, _max in ICE_ITEMS]})
        for field, code_key, _role in ASSESSMENT_DOMAINS:
            observation(f"Observation/{field}", code_key, "category-exam",
                        {"valueCodeableConcept": codeable(getattr(assessment, field))})
        for field, code_key, _role, stem in ASSESSMENT_LISTS:
            for number, key in enumerate(getattr(assessment, field), start=1):
                observation(f"Observation/{stem}/{number}", code_key, "category-exam",
                            {"valueCodeableConcept": _sign_code(key, condition)})
    if report.icans_grade is not None:
        # The grade always gets a time: the assessment's, else the study's.
        observation("Observation/grade", fields.GRADE_KEY, "category-survey",
                    {"valueCodeableConcept": codeable(fields.grade_value_key(report.icans_grade))},
                    effective=when or {"effectiveDateTime": study_datetime(report)})
    return refs


def add_condition(b: BundleBuilder, subject: JsonDict, issued: str, effective: str,
                  evidence: list[JsonDict], findings: list[JsonDict]) -> JsonDict | None:
    """The ICANS Condition; returns its code for the DiagnosticReport's conclusionCode.

    The code is :func:`condition_key`'s ICD-10-CM G92.0x with SNOMED CT 1230414002 (ICANS)
    as a second coding. Graded: confirmed (provisional while the report is preliminary),
    evidence -> the assessment Observations. Not graded but with ICANS imaging findings:
    G92.00, *provisional* (imaging alone does not confirm the syndrome), evidence -> the
    finding Observations. Otherwise no Condition.
    """
    report = b.report
    key = condition_key(report)
    if key is None:
        return None
    graded = report.assessment is not None or report.icans_grade is not None
    if not graded:
        evidence = findings
    condition_code = codeable(key)
    condition_code["coding"] = [*condition_code["coding"],
                                *codeable("icans_syndrome")["coding"]]
    confirmed = graded and report.status in ("final", "amended")
    onset = (instant(report.assessment.assessed_at)
             if report.assessment is not None and report.assessment.assessed_at
             else effective)
    condition: JsonDict = {
        "resourceType": "Condition", "id": resource_id(b.key, "Condition/icans"),
        "clinicalStatus": fixed_cc("clinical-active"),
        "verificationStatus": fixed_cc("verification-confirmed" if confirmed
                                       else "verification-provisional"),
        "category": [fixed_cc("encounter-diagnosis")],
        "code": condition_code, "subject": subject, "onsetDateTime": onset,
        "recordedDate": issued,
    }
    if evidence:
        condition["evidence"] = ([{"reference": ref} for ref in evidence] if b.r5
                                 else [{"detail": evidence}])
    b.add(condition)
    return condition_code
