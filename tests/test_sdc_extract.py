"""Reading QuestionnaireResponses: other renderers' shapes, bad answers, bad input.

Each defect is made on a response pre-filled from a fixture, and must come back as an issue
with its code and location; the reader never raises.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icans_interop import sdc
from icans_interop.issues import Issue
from icans_interop.model import ImagingReport, load_case

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = load_case((ROOT / "fixtures/valid/example-grade3-deep.json").read_bytes())
RESPONSE, _ = sdc.write(EXAMPLE)


def response() -> dict[str, Any]:
    return copy.deepcopy(RESPONSE)


def find(data: dict[str, Any], link_id: str) -> dict[str, Any]:
    def walk(items: list[dict[str, Any]]) -> dict[str, Any] | None:
        for item in items:
            if item["linkId"] == link_id:
                return item
            found = walk(item.get("item", []))
            if found is not None:
                return found
        return None

    found = walk(data["item"])
    assert found is not None, link_id
    return found


def parent_of(data: dict[str, Any], link_id: str) -> dict[str, Any]:
    def walk(node: dict[str, Any]) -> dict[str, Any] | None:
        for item in node.get("item", []):
            if item["linkId"] == link_id:
                return node
            found = walk(item)
            if found is not None:
                return found
        return None

    found = walk(data)
    assert found is not None, link_id
    return found


def remove(data: dict[str, Any], link_id: str) -> None:
    parent = parent_of(data, link_id)
    parent["item"] = [i for i in parent["item"] if i["linkId"] != link_id]


def codes(issues: list[Issue]) -> set[tuple[str, str]]:
    return {(i.severity, i.code) for i in issues}


def read(data: Any) -> tuple[ImagingReport | None, list[Issue]]:
    return sdc.read(data)


def test_the_unchanged_response_reads_back_exactly() -> None:
    assert read(response()) == (EXAMPLE, [])


def test_other_codings_of_a_concept_and_codings_without_system() -> None:
    data = response()
    sites = find(data, "deep_structure_involvement.finding_site")
    sites["answer"][0]["valueCoding"] = {"system": "http://radlex.org", "code": "RID6529"}
    sites["answer"][1]["valueCoding"] = {"code": "42695009"}  # Thalamus, matched by option
    report, issues = read(data)
    assert issues == []
    assert report is not None and report.findings[0].sites == ("hippocampus", "thalamus")


def test_open_choice_text_answers_match_labels() -> None:
    data = response()
    find(data, "deep_structure_involvement.laterality")["answer"] = [{"valueString": "bilateral"}]
    find(data, "clinical_signs_observed")["answer"][0] = {"valueString": "Expressive aphasia"}
    report, issues = read(data)
    assert issues == [] and report == EXAMPLE


def test_items_nested_under_answers_are_read() -> None:
    """Some renderers nest a question's children under its answer."""
    data = response()
    performed = find(data, "assessment.performed")
    details = find(data, "assessment.details")
    remove(data, "assessment.details")
    performed["answer"][0]["item"] = [details]
    assert read(data) == (EXAMPLE, [])


def test_unknown_items_are_reported_and_their_children_read() -> None:
    data = response()
    patient = find(data, "patient")
    data["item"][0] = {"linkId": "wrapper-from-another-tool", "item": [patient]}
    report, issues = read(data)
    assert report == EXAMPLE
    assert [(i.code, i.location) for i in issues] == [
        ("unknown-item", "QuestionnaireResponse.item[0].linkId")]


def test_unknown_and_wrong_role_codes() -> None:
    data = response()
    sites = find(data, "deep_structure_involvement.finding_site")
    sites["answer"].append({"valueCoding": {"system": "http://snomed.info/sct",
                                            "code": "24028007"}})  # Right: a laterality
    sites["answer"].append({"valueCoding": {"system": "http://snomed.info/sct", "code": "1"}})
    report, issues = read(data)
    assert report is None
    assert codes(issues) == {("error", "wrong-role"), ("warning", "unknown-code")}
    assert all(".answer[" in i.location and i.location.endswith("valueCoding") for i in issues)


def test_missing_required_answers() -> None:
    data = response()
    remove(data, "patient.id")
    remove(data, "procedure")
    del data["authored"]
    report, issues = read(data)
    assert report is None
    assert [(i.code, i.location, i.message.split(")")[0]) for i in issues] == [
        ("missing-required", "QuestionnaireResponse.item[0]",
         "'Patient identifier (MRN"),
        ("missing-required", "QuestionnaireResponse.authored",
         "authored (the time the report was completed"),
        ("missing-required", "QuestionnaireResponse.item[1]", "'Procedure reported' (procedure"),
    ]


def test_incomplete_ice_is_an_error_at_the_missing_items() -> None:
    data = response()
    remove(data, "ice_naming")
    remove(data, "ice_attention")
    report, issues = read(data)
    assert report is None
    assert [(i.code, "ice_naming" in i.message or "ice_attention" in i.message)
            for i in issues] == [("missing-required", True)] * 2


def test_out_of_range_and_mistyped_answers() -> None:
    data = response()
    find(data, "ice_naming")["answer"] = [{"valueInteger": 4}]
    find(data, "study.date")["answer"] = [{"valueDate": "03/11/2026"}]
    find(data, "deep_structure_involvement.present")["answer"] = [{"valueString": "yes"}]
    report, issues = read(data)
    assert report is None
    # one issue per defect: a rejected answer is not reported again as missing
    assert [i.code for i in issues] == ["invalid-value"] * 3
    assert [i.location.rsplit(".", 1)[1] for i in issues] == [
        "valueDate", "valueString", "valueInteger"]
    assert "outside 0-3" in issues[2].message


def test_misplaced_items_are_skipped() -> None:
    data = response()
    site = copy.deepcopy(find(data, "deep_structure_involvement.finding_site"))
    data["item"].append(site)  # a finding site outside any finding group
    report, issues = read(data)
    assert report == EXAMPLE
    assert [(i.code, i.location) for i in issues] == [
        ("misplaced-item", f"QuestionnaireResponse.item[{len(data['item']) - 1}]")]


def test_a_pattern_marked_absent_ignores_its_findings() -> None:
    data = response()
    find(data, "leptomeningeal_enhancement.present")["answer"] = [{"valueBoolean": False}]
    report, issues = read(data)
    assert report is not None and [f.pattern for f in report.findings] == [
        "deep_structure_involvement"]
    assert codes(issues) == {("warning", "inconsistent-value")}


def test_a_pattern_present_without_details_is_one_bare_finding() -> None:
    data = response()
    remove(data, "leptomeningeal_enhancement.finding")
    report, issues = read(data)
    assert issues == []
    assert report is not None and report.findings[1].pattern == "leptomeningeal_enhancement"
    assert report.findings[1].sites == ()


def test_a_sequence_without_its_signal() -> None:
    data = response()
    signal = find(data, "deep_structure_involvement.signal")
    signal["item"] = [i for i in signal["item"] if i["linkId"].endswith(".sequence")]
    report, issues = read(data)
    assert report is None
    assert [i.code for i in issues] == ["missing-required"]
    assert "without its signal" in issues[0].message


def test_unanswered_domains_take_the_normal_value_with_a_note() -> None:
    data = response()
    remove(data, "level_of_consciousness")
    report, issues = read(data)
    assert report is not None and report.assessment is not None
    assert report.assessment.consciousness == "awake"
    assert [(i.severity, i.code) for i in issues] == [("information", "assumed-value")]


def test_date_time_without_offset_is_read_as_utc_with_a_note() -> None:
    data = response()
    find(data, "assessment.assessed_at")["answer"] = [{"valueDateTime": "2026-11-03T08:00:00"}]
    report, issues = read(data)
    assert report is not None and report.assessment is not None
    assert report.assessment.assessed_at is not None
    assert report.assessment.assessed_at.isoformat() == "2026-11-03T08:00:00+00:00"
    assert codes(issues) == {("information", "assumed-value")}


def test_several_answers_to_a_single_question() -> None:
    data = response()
    find(data, "seizure_domain")["answer"].append(
        copy.deepcopy(find(data, "motor_domain")["answer"][0]))
    _report, issues = read(data)
    assert ("warning", "inconsistent-value") in codes(issues)


def test_ice_total_that_disagrees_with_its_items() -> None:
    data = response()
    find(data, "ice_score")["answer"] = [{"valueInteger": 9}]
    report, issues = read(data)
    assert report == EXAMPLE
    assert codes(issues) == {("warning", "inconsistent-value")}


def test_grade_that_disagrees_is_read_as_recorded() -> None:
    """The semantic rules (not the reader) judge the recorded grade."""
    data = response()
    find(data, "icans_grade")["answer"] = [{"valueInteger": 1}]
    report, _issues = read(data)
    assert report is not None and report.icans_grade == 1


def test_response_header() -> None:
    data = response()
    data["questionnaire"] = "http://example.org/Questionnaire/other"
    data["status"] = "in-progress"
    _report, issues = read(data)
    assert codes(issues) == {("information", "ignored-item"), ("warning", "invalid-value")}
    data["status"] = "entered-in-error"
    report, issues = read(data)
    assert report is None and ("error", "invalid-value") in codes(issues)


@pytest.mark.parametrize("source", [
    b"not json", b"[1, 2]", b"{", "{\"resourceType\": \"Patient\"}", b"\xff\xfe",
    {"resourceType": "QuestionnaireResponse", "item": "nope"},
    {"resourceType": "QuestionnaireResponse", "item": [1, None, {"answer": 3}]},
    b"[" * 100_000,
])
def test_bad_input_gives_issues_not_exceptions(source: Any) -> None:
    report, issues = read(source)
    assert report is None
    assert any(i.severity == "error" for i in issues)


def test_deep_nesting_is_bounded() -> None:
    item: dict[str, Any] = {"linkId": "x"}
    top = item
    for _ in range(300):
        child: dict[str, Any] = {"linkId": "x"}
        item["item"] = [child]
        item = child
    report, issues = read({"resourceType": "QuestionnaireResponse", "item": [top]})
    assert report is None and ("error", "too-deep") in codes(issues)


def test_a_path_is_read(tmp_path: Path) -> None:
    path = tmp_path / "qr.json"
    path.write_text(json.dumps(RESPONSE), "utf-8")
    assert read(path) == (EXAMPLE, [])
    assert codes(read(tmp_path / "missing.json")[1]) == {("error", "unreadable")}


def _mutations() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_responses_never_raise(data: st.DataObject) -> None:
    mutated = response()
    items = [mutated]
    nodes: list[tuple[dict[str, Any], str]] = []
    while items:
        node = items.pop()
        for key, value in node.items():
            nodes.append((node, key))
            if isinstance(value, dict):
                items.append(value)
            elif isinstance(value, list):
                items += [v for v in value if isinstance(v, dict)]
    for _ in range(data.draw(st.integers(1, 4))):
        node, key = data.draw(st.sampled_from(nodes))
        node[key] = data.draw(_mutations())
    report, issues = read(mutated)
    assert report is not None or any(i.severity == "error" for i in issues)
