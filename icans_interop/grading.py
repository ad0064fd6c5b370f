"""ASTCT 2019 consensus grading of ICANS (Lee DW et al., Biol Blood Marrow Transplant 2019).

The grade is that of the most severe of five domains: ICE score, depressed level of
consciousness, seizure, motor findings, and elevated intracranial pressure / cerebral edema.
The domain tables below are data; :func:`compute_grade` only takes their maximum.

Deliberately *not* graded (consensus footnotes): tremor and myoclonus (CTCAE v5.0 instead),
intracranial hemorrhage with or without edema, and imaging findings other than the edema the
assessment records. Children aged 12 or younger are assessed with the CAPD, not the ICE score;
this module grades adults only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from icans_interop.model import IceItems, NeuroAssessment

#: Grade by level of consciousness (ASTCT table, row "Depressed level of consciousness").
CONSCIOUSNESS_GRADE: Mapping[str, int] = MappingProxyType({
    "awake": 0,
    "awakens_spontaneously": 1,
    "awakens_to_voice": 2,
    "awakens_to_tactile": 3,
    "unarousable": 4,
})
#: Grade by seizure status (no seizure grade below 3 exists).
SEIZURE_GRADE: Mapping[str, int] = MappingProxyType({
    "no_seizure": 0,
    "seizure_resolving": 3,
    "nonconvulsive_seizure_resolving": 3,
    "seizure_prolonged": 4,
    "seizures_repetitive": 4,
})
#: Grade by motor finding (only deep focal weakness counts; tremor/myoclonus never do).
MOTOR_GRADE: Mapping[str, int] = MappingProxyType({
    "no_motor_weakness": 0,
    "deep_focal_motor_weakness": 4,
})
#: Grade by elevated ICP / cerebral edema finding.
ICP_GRADE: Mapping[str, int] = MappingProxyType({
    "focal_edema": 3,
    "diffuse_edema": 4,
    "posturing": 4,
    "cranial_nerve_vi_palsy": 4,
    "icp_papilledema": 4,
    "cushings_triad": 4,
})

ICE_MAX = 10
#: ICE score bands, best first: (lowest score of the band, grade). 10 is grade 0, 7-9 grade 1,
#: 3-6 grade 2, 0-2 grade 3.
ICE_BANDS: tuple[tuple[int, int], ...] = ((10, 0), (7, 1), (3, 2), (0, 3))
#: The level of consciousness at which a patient cannot perform the ICE, and the ICE-domain grade
#: that follows when the score is 0 or the ICE was not done.
UNAROUSABLE = "unarousable"
UNAROUSABLE_ICE_GRADE = 4
#: ICE-domain grade when the ICE was not done and the patient is arousable.
ICE_NOT_DONE_GRADE = 0

#: The five ASTCT domains in report order, each with the NeuroAssessment field it grades and
#: its table (None for the ICE domain, graded by :data:`ICE_BANDS`). ``icp_findings`` repeats:
#: its domain grade is the highest of its findings (0 when none).
DOMAINS: tuple[tuple[str, str, Mapping[str, int] | None], ...] = (
    ("ice", "ice", None),
    ("consciousness", "consciousness", CONSCIOUSNESS_GRADE),
    ("seizure", "seizure", SEIZURE_GRADE),
    ("motor", "motor", MOTOR_GRADE),
    ("icp_edema", "icp_findings", ICP_GRADE),
)
#: How forms and reports call each domain (the consensus table's row names).
DOMAIN_TITLES: Mapping[str, str] = MappingProxyType({
    "ice": "ICE score",
    "consciousness": "Depressed level of consciousness",
    "seizure": "Seizure",
    "motor": "Motor findings",
    "icp_edema": "Elevated ICP / cerebral edema",
})


def ice_score(items: IceItems) -> int:
    """The ICE score, 0-10, from its ten points."""
    return items.total


def ice_grade(score: int | None, *, unarousable: bool) -> int:
    """Grade of the ICE domain, from :data:`ICE_BANDS`.

    A patient who cannot perform the ICE because they are unarousable (score 0 or not done) is
    grade 4; an awake patient with ICE 0 (e.g. global aphasia) stays grade 3.
    """
    if unarousable and (score is None or score == 0):
        return UNAROUSABLE_ICE_GRADE
    if score is None:
        return ICE_NOT_DONE_GRADE
    if not 0 <= score <= ICE_MAX:
        raise ValueError(f"ICE score {score} is outside 0-{ICE_MAX}")
    return next(grade for lowest, grade in ICE_BANDS if score >= lowest)


@dataclass(frozen=True, slots=True)
class GradeResult:
    """The overall grade with the grade of each domain, so a reader can see why."""

    grade: int
    ice_score: int | None
    domains: tuple[tuple[str, int], ...]

    @property
    def driving_domains(self) -> tuple[str, ...]:
        """The domains whose grade equals the overall grade (empty for grade 0)."""
        if self.grade == 0:
            return ()
        return tuple(name for name, grade in self.domains if grade == self.grade)


def compute_grade(assessment: NeuroAssessment) -> GradeResult:
    """ASTCT ICANS grade 0-4 of an assessment: the maximum over the five :data:`DOMAINS`."""
    score = ice_score(assessment.ice) if assessment.ice is not None else None
    unarousable = assessment.consciousness == UNAROUSABLE
    domains: list[tuple[str, int]] = []
    for name, field, table in DOMAINS:
        if table is None:
            domains.append((name, ice_grade(score, unarousable=unarousable)))
            continue
        value = getattr(assessment, field)
        values = value if isinstance(value, tuple) else (value,)
        domains.append((name, max((table[v] for v in values), default=0)))
    return GradeResult(grade=max(g for _, g in domains), ice_score=score, domains=tuple(domains))


def icd10cm_key(grade: int | None) -> str:
    """Concept key of the ICD-10-CM ICANS code for a grade (G92.00 when not graded)."""
    if grade is None:
        return "icans_grade_unspecified"
    if not 1 <= grade <= 5:
        raise ValueError(f"ICANS grade {grade} has no ICD-10-CM code (G92.01-G92.05 are 1-5)")
    return f"icans_grade_{grade}"


def effective_grade(recorded: int | None, assessment: NeuroAssessment | None) -> int | None:
    """The grade a report stands for: the recorded one, else the one its assessment gives."""
    if recorded is not None:
        return recorded
    if assessment is not None:
        return compute_grade(assessment).grade
    return None
