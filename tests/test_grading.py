"""Each rule of the ASTCT 2019 ICANS consensus table, one test (or parameter) per cell."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icans_interop.grading import (
    compute_grade,
    effective_grade,
    icd10cm_key,
    ice_grade,
)
from icans_interop.model import IceItems, NeuroAssessment


def ice_with(total: int) -> IceItems:
    """ICE items adding up to ``total`` (filled in form order)."""
    fields = [
        ("orientation_year", 1),
        ("orientation_month", 1),
        ("orientation_city", 1),
        ("orientation_hospital", 1),
        ("naming", 3),
        ("commands", 1),
        ("writing", 1),
        ("attention", 1),
    ]
    values: dict[str, int] = {}
    left = total
    for name, maximum in fields:
        values[name] = min(maximum, left)
        left -= values[name]
    return IceItems(**values)


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        (10, 0),
        (9, 1),
        (8, 1),
        (7, 1),
        (6, 2),
        (5, 2),
        (4, 2),
        (3, 2),
        (2, 3),
        (1, 3),
        (0, 3),
    ],
)
def test_ice_score_bands(score: int, grade: int) -> None:
    assert compute_grade(NeuroAssessment(ice=ice_with(score))).grade == grade


def test_ice_zero_unarousable_is_grade_4() -> None:
    result = compute_grade(NeuroAssessment(ice=ice_with(0), consciousness="unarousable"))
    assert result.grade == 4
    assert ("ice", 4) in result.domains


def test_ice_zero_awake_with_global_aphasia_is_grade_3() -> None:
    assert compute_grade(NeuroAssessment(ice=ice_with(0), signs=("aphasia",))).grade == 3


def test_ice_not_performable_because_unarousable_is_grade_4() -> None:
    assert ice_grade(None, unarousable=True) == 4


@pytest.mark.parametrize(
    ("level", "grade"),
    [
        ("awake", 0),
        ("awakens_spontaneously", 1),
        ("awakens_to_voice", 2),
        ("awakens_to_tactile", 3),
        ("unarousable", 4),
    ],
)
def test_depressed_level_of_consciousness(level: str, grade: int) -> None:
    assessment = NeuroAssessment(ice=ice_with(10), consciousness=level)
    assert compute_grade(assessment).grade == grade


@pytest.mark.parametrize(
    ("seizure", "grade"),
    [
        ("no_seizure", 0),
        ("seizure_resolving", 3),
        ("nonconvulsive_seizure_resolving", 3),
        ("seizure_prolonged", 4),
        ("seizures_repetitive", 4),
    ],
)
def test_seizure_domain(seizure: str, grade: int) -> None:
    assert compute_grade(NeuroAssessment(ice=ice_with(10), seizure=seizure)).grade == grade


def test_deep_focal_motor_weakness_is_grade_4() -> None:
    assessment = NeuroAssessment(
        ice=ice_with(10), motor="deep_focal_motor_weakness", signs=("hemiparesis",)
    )
    assert compute_grade(assessment).grade == 4


@pytest.mark.parametrize(
    ("finding", "grade"),
    [
        ("focal_edema", 3),
        ("diffuse_edema", 4),
        ("posturing", 4),
        ("cranial_nerve_vi_palsy", 4),
        ("icp_papilledema", 4),
        ("cushings_triad", 4),
    ],
)
def test_raised_icp_and_cerebral_edema(finding: str, grade: int) -> None:
    assessment = NeuroAssessment(ice=ice_with(10), icp_findings=(finding,))
    assert compute_grade(assessment).grade == grade


def test_tremor_and_myoclonus_do_not_change_the_grade() -> None:
    signs = ("tremor", "myoclonus", "asterixis")
    assert compute_grade(NeuroAssessment(ice=ice_with(10), signs=signs)).grade == 0
    assert compute_grade(NeuroAssessment(ice=ice_with(8), signs=signs)).grade == 1


def test_worked_example_ice_3_with_generalized_seizure_is_grade_3() -> None:
    assessment = NeuroAssessment(
        ice=ice_with(3), seizure="seizure_resolving", signs=("seizure_generalized",)
    )
    result = compute_grade(assessment)
    assert result.grade == 3
    assert set(result.driving_domains) == {"seizure"}


def test_most_severe_domain_wins() -> None:
    assessment = NeuroAssessment(
        ice=ice_with(8), consciousness="awakens_to_voice", icp_findings=("focal_edema",)
    )
    result = compute_grade(assessment)
    assert result.grade == 3
    assert result.driving_domains == ("icp_edema",)


def test_hemorrhage_is_not_a_grading_input() -> None:
    # Hemorrhage is an imaging finding: the assessment has no place for it, and the grade of a
    # report is computed from its assessment only.
    assert "hemorrhage" not in NeuroAssessment.model_fields
    assert effective_grade(None, NeuroAssessment(ice=ice_with(10))) == 0


def test_effective_grade_prefers_the_recorded_grade() -> None:
    assert effective_grade(2, NeuroAssessment(ice=ice_with(10))) == 2
    assert effective_grade(None, None) is None


@pytest.mark.parametrize(
    ("grade", "key"),
    [
        (None, "icans_grade_unspecified"),
        (1, "icans_grade_1"),
        (4, "icans_grade_4"),
        (5, "icans_grade_5"),
    ],
)
def test_icd10cm_key(grade: int | None, key: str) -> None:
    assert icd10cm_key(grade) == key


def test_grade_zero_has_no_icd_code() -> None:
    with pytest.raises(ValueError, match="grade 0 has no ICD-10-CM code"):
        icd10cm_key(0)


def test_ice_score_out_of_range_is_rejected() -> None:
    with pytest.raises(ValueError, match="ICE score 11 is outside 0-10"):
        ice_grade(11, unarousable=False)


@given(st.builds(NeuroAssessment, ice=st.none() | st.builds(ice_with, st.integers(0, 10))))
def test_grade_is_max_of_domains(assessment: NeuroAssessment) -> None:
    result = compute_grade(assessment)
    assert 0 <= result.grade <= 4
    assert result.grade == max(g for _, g in result.domains)
