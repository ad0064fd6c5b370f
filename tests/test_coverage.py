"""Every term of the knowledge entry resolves to a concept, and the fixtures exercise them all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from icans_interop import grading, knowledge, profile, terminology
from icans_interop.model import ImagingReport, load_case

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "valid"
T = terminology.load()
ENTRY = knowledge.load()


def test_every_region_resolves_to_an_anatomy_concept() -> None:
    for pattern in ENTRY.patterns:
        for region in pattern.regions:
            for part in region.parts:
                assert T.term(part, "anatomy") is not None, f"{part!r} ({pattern.name})"


def test_every_qualifier_sequence_signal_and_pattern_resolves() -> None:
    for pattern in ENTRY.patterns:
        assert T.term(pattern.name, "pattern") is not None, pattern.name
        for qualifier in pattern.qualifiers:
            assert any(T.term(qualifier, role) for role in
                       ("laterality", "distribution", "number", "morphology")), qualifier
        for pair in pattern.sequence_signals:
            assert T.term(pair.sequence, "mr_sequence") is not None, pair.sequence
            assert T.term(pair.signal, "signal") is not None, pair.signal


def test_every_clinical_sign_is_a_concept() -> None:
    assert len(ENTRY.clinical_signs) >= 15
    for sign in ENTRY.clinical_signs:
        assert T.require(sign, "clinical_sign")


def test_resolved_rules_keep_the_nesting() -> None:
    deep = profile.pattern_rules()["deep_structure_involvement"]
    assert ("cerebrum", "temporal_lobe", "hippocampus") in deep.region_paths
    assert ("brainstem", "pons") in deep.region_paths
    assert ("cerebrum", "cerebral_white_matter", "periventricular_white_matter") in \
        deep.region_paths


def _cases() -> list[ImagingReport]:
    return [load_case(p.read_bytes()) for p in sorted(FIXTURES.glob("*.json"))]


def test_fixtures_cover_every_term_of_the_entry() -> None:
    rules = profile.pattern_rules()
    cases = _cases()
    patterns = {f.pattern for r in cases for f in r.findings}
    sites = {s for r in cases for f in r.findings for s in f.sites}
    qualifiers = {q for r in cases for f in r.findings
                  for q in (*f.distribution, f.number, f.morphology, f.laterality) if q}
    pairs = {(s.sequence, s.signal) for r in cases for f in r.findings for s in f.signals}
    assert patterns == set(rules)
    assert set().union(*(r.sites for r in rules.values())) <= sites
    assert set().union(*(r.qualifiers for r in rules.values())) <= qualifiers
    assert set().union(*(r.sequence_signals for r in rules.values())) <= pairs


def test_fixtures_cover_grades_0_to_4() -> None:
    grades = {grading.effective_grade(r.icans_grade, r.assessment) for r in _cases()}
    assert {0, 1, 2, 3, 4} <= grades


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.name)
def test_recorded_grades_of_fixtures_agree_with_astct(path: Path) -> None:
    report = load_case(path.read_bytes())
    if report.icans_grade is not None and report.assessment is not None:
        assert report.icans_grade == grading.compute_grade(report.assessment).grade


def test_fixture_files_are_pretty_json() -> None:
    for path in FIXTURES.glob("*.json"):
        assert isinstance(json.loads(path.read_text("utf-8")), dict)
