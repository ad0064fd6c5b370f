"""What the human-readable report shows, computed from the domain model (no HTML here).

The template (``templates/report.html.j2``) only lays out this view: patient and study, the
findings grouped by imaging pattern in the knowledge entry's order (sites with laterality,
qualifiers, per-sequence signals), the ICE items and the five ASTCT domains with the grade and
the domains that drive it, and every code used (shown on hover and in an appendix).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final

from icans_interop import fields, grading, knowledge, terminology
from icans_interop.model import ICE_ITEMS, Finding, ImagingReport

#: Short names of code systems the DICOM scheme table does not name.
_SYSTEM_NAMES: Final = {terminology.HPO: "HPO", terminology.ICD10CM: "ICD-10-CM"}
_SEX: Final = {"M": "male", "F": "female", "O": "other"}
@dataclass(frozen=True, slots=True)
class Code:
    """One coding, as the appendix and the hover text show it."""

    system: str
    code: str
    display: str

    def __str__(self) -> str:
        return f"{self.system} {self.code} \u201c{self.display}\u201d"


@dataclass(frozen=True, slots=True)
class Term:
    """A concept as shown: its label, and its codes for the hover text."""

    key: str
    label: str
    codes: tuple[Code, ...]

    @property
    def title(self) -> str:
        return "; ".join(str(c) for c in self.codes)


@dataclass(frozen=True, slots=True)
class SignalRow:
    sequence: Term
    signal: Term


@dataclass(frozen=True, slots=True)
class FindingRow:
    label: str
    sites: tuple[Term, ...]
    laterality: Term | None
    qualifiers: tuple[Term, ...]
    signals: tuple[SignalRow, ...]
    tracking_uid: str | None


@dataclass(frozen=True, slots=True)
class PatternBlock:
    pattern: Term
    findings: tuple[FindingRow, ...]


@dataclass(frozen=True, slots=True)
class DomainRow:
    title: str
    value: str
    terms: tuple[Term, ...]
    grade: int
    drives: bool


@dataclass(frozen=True, slots=True)
class AssessmentView:
    assessed_at: str | None
    ice_items: tuple[tuple[Term, int, int], ...]  # (item, points, maximum)
    ice_total: int | None
    domains: tuple[DomainRow, ...]
    signs: tuple[Term, ...]
    grade: int
    driving: tuple[str, ...]


@dataclass
class ReportView:
    """Everything the template shows."""

    title: str
    patient: list[tuple[str, str]]
    study: list[tuple[str, str]]
    procedure: Term
    patterns: list[PatternBlock]
    impression: str | None
    assessment: AssessmentView | None
    recorded_grade: int | None
    grade: int | None
    condition: Term | None
    grade_note: str | None
    codes: list[tuple[str, Code]] = field(default_factory=list)
    software: str = ""


class _Terms:
    """Concept lookups that also collect every code shown, for the appendix."""

    def __init__(self) -> None:
        self.terms = terminology.load()
        self.used: dict[str, Term] = {}

    def term(self, key: str) -> Term:
        if key in self.used:
            return self.used[key]
        concept = self.terms.concept(key)
        codes = tuple(Code(_SYSTEM_NAMES.get(c.system) or terminology.scheme_for_system(c.system)
                           or c.system, c.code, c.display) for c in concept.codings)
        term = Term(key, concept.label, codes)
        self.used[key] = term
        return term


def _when(value: dt.datetime | dt.date | dt.time | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    return value.isoformat()


def _person(name: str | None) -> str | None:
    """A DICOM-style ``Family^Given`` name as ``Family, Given``."""
    if not name:
        return None
    parts = [p for p in name.split("^") if p]
    return ", ".join(parts[:2]) + (" " + " ".join(parts[2:]) if len(parts) > 2 else "")


def _rows(pairs: list[tuple[str, str | None]]) -> list[tuple[str, str]]:
    return [(label, value) for label, value in pairs if value]


def _finding(finding: Finding, index: int, t: _Terms) -> FindingRow:
    qualifiers = [*finding.distribution, *(q for q in (finding.number, finding.morphology) if q)]
    return FindingRow(
        label=finding.tracking_id or f"Finding {index}",
        sites=tuple(t.term(k) for k in finding.sites),
        laterality=t.term(finding.laterality) if finding.laterality else None,
        qualifiers=tuple(t.term(k) for k in qualifiers),
        signals=tuple(SignalRow(t.term(s.sequence), t.term(s.signal)) for s in finding.signals),
        tracking_uid=finding.tracking_uid)


def _patterns(report: ImagingReport, t: _Terms) -> list[PatternBlock]:
    order = [terminology.load().term(p.name, "pattern") for p in knowledge.load().patterns]
    keys = [k for k in order if k] + [f.pattern for f in report.findings if f.pattern not in order]
    blocks = []
    for key in dict.fromkeys(keys):
        rows = tuple(_finding(finding, i, t) for i, finding in enumerate(report.findings, 1)
                     if finding.pattern == key)
        if rows:
            blocks.append(PatternBlock(t.term(key), rows))
    return blocks


def _assessment(report: ImagingReport, t: _Terms) -> AssessmentView | None:
    assessment = report.assessment
    if assessment is None:
        return None
    result = grading.compute_grade(assessment)
    grades = dict(result.domains)
    ice = assessment.ice
    items = tuple((t.term(key), getattr(ice, name), maximum) for name, key, maximum in ICE_ITEMS
                  ) if ice else ()
    rows = []
    for name, model_field, _table in grading.DOMAINS:
        if name == "ice":
            value = (f"{result.ice_score}/{grading.ICE_MAX}" if result.ice_score is not None
                     else "not done")
            terms: tuple[Term, ...] = ()
        else:
            raw = getattr(assessment, model_field)
            keys = raw if isinstance(raw, tuple) else (raw,)
            terms = tuple(t.term(k) for k in keys)
            value = "none" if not terms else ""
        rows.append(DomainRow(grading.DOMAIN_TITLES[name], value, terms, grades[name],
                              grades[name] == result.grade and result.grade > 0))
    return AssessmentView(
        assessed_at=_when(assessment.assessed_at), ice_items=items, ice_total=result.ice_score,
        domains=tuple(rows), signs=tuple(t.term(k) for k in assessment.signs),
        grade=result.grade, driving=tuple(grading.DOMAIN_TITLES[d] for d in result.driving_domains))


def _grade_note(report: ImagingReport, view: AssessmentView | None) -> str | None:
    recorded = report.icans_grade
    if view is None:
        return ("The grade was recorded without a structured assessment." if recorded is not None
                else None)
    if recorded is None:
        return "No grade was recorded; the grade shown is computed from the assessment."
    if recorded == view.grade:
        return "The recorded grade agrees with the grade computed from the assessment."
    return (f"The recorded grade {recorded} differs from the grade {view.grade} computed from "
            "the assessment.")


def build(report: ImagingReport, software: str = "") -> ReportView:
    """The view of one report."""
    t = _Terms()
    patient, study = report.patient, report.study
    assessment = _assessment(report, t)
    grade = grading.effective_grade(report.icans_grade, report.assessment)
    condition = t.term(grading.icd10cm_key(grade)) if grade else None
    name = ", ".join(n for n in (patient.family_name, patient.given_name) if n) or None
    view = ReportView(
        title=name or patient.id,
        patient=_rows([
            ("Name", name),
            ("Patient ID", patient.id + (f" ({patient.id_issuer})" if patient.id_issuer else "")),
            ("Birth date", _when(patient.birth_date)),
            ("Sex", _SEX.get(patient.sex or "")),
        ]),
        study=_rows([
            ("Study date", " ".join(x for x in (_when(study.date), _when(study.time)) if x)),
            ("Accession number", study.accession_number),
            ("Description", study.description),
            ("Referring physician", _person(study.referring_physician)),
            ("Reported by", _person(report.observer_name)),
            ("Issued", _when(report.issued)),
            ("Study Instance UID", study.instance_uid),
        ]),
        procedure=t.term(report.procedure),
        patterns=_patterns(report, t),
        impression=report.impression,
        assessment=assessment,
        recorded_grade=report.icans_grade,
        grade=grade,
        condition=condition,
        grade_note=_grade_note(report, assessment),
        software=software,
    )
    if grade is not None:
        t.term(fields.grade_value_key(grade))
    view.codes = [(term.label, code) for term in t.used.values() for code in term.codes]
    return view
