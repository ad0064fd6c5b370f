"""The SDC Questionnaire: generated from the knowledge entry, valid FHIR, stable, round-trips.

The expected content is derived here from the parsed entry and the mapping tables directly
(not from ``sdc.form``), so a form that forgot a region, qualifier or (sequence, signal) pair of
the entry fails.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icans_interop import fields, grading, knowledge, profile, sdc, terminology
from icans_interop.model import ICE_ITEMS, ImagingReport, load_case
from icans_interop.sdc import form as f
from icans_interop.sdc import questionnaire_writer as qmod

try:
    import strategies
except ImportError:  # tests/ imported as a package
    from tests import strategies  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
VALID = sorted((ROOT / "fixtures" / "valid").glob("*.json"))
LINK_IDS = ROOT / "tests" / "data" / "sdc-link-ids.txt"
T = terminology.load()
ENTRY = knowledge.load()
Q4 = sdc.questionnaire("R4")
Q5 = sdc.questionnaire("R5")


def _items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        out.append(item)
        out += _items(item.get("item", []))
    return out


def _codes(item: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in item.get("code", [])}


def _options(item: dict[str, Any]) -> list[tuple[str, str]]:
    return [(o["valueCoding"]["system"], o["valueCoding"]["code"])
            for o in item.get("answerOption", [])]


def _first(key: str) -> tuple[str, str]:
    coding = T.concept(key).fhir_codings()[0]
    return coding.system, coding.code


def _all_codings(key: str) -> set[tuple[str, str]]:
    return {(c.system, c.code) for c in T.concept(key).codings}


def _by_code(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    wanted = _all_codings(key)
    return [i for i in items if _codes(i) & wanted]


def _pattern_group(pattern_key: str) -> dict[str, Any]:
    imaging = next(i for i in Q4["item"] if i["linkId"] == "imaging")
    (group,) = [i for i in imaging["item"] if _codes(i) & _all_codings(pattern_key)]
    return group


# --- valid FHIR ------------------------------------------------------------------------------


def test_questionnaire_is_valid_r4_and_r5() -> None:
    from fhir.resources.questionnaire import Questionnaire as R5Questionnaire
    from fhir.resources.R4B.questionnaire import Questionnaire as R4Questionnaire

    r4 = R4Questionnaire.model_validate(Q4)
    r5 = R5Questionnaire.model_validate(Q5)
    assert r4.url == r5.url == qmod.QUESTIONNAIRE_URL
    assert r4.version == r5.version == qmod.software_version() != ""
    assert {i["type"] for i in _items(Q4["item"])} >= {"choice", "integer", "boolean", "group"}
    assert "choice" not in {i["type"] for i in _items(Q5["item"])}  # R5: coding + constraint
    assert all(i.get("answerConstraint") == "optionsOnly" for i in _items(Q5["item"])
               if i["type"] == "coding")


@pytest.mark.parametrize("version", ["R4", "R5"])
@pytest.mark.parametrize("case", VALID, ids=lambda p: p.stem)
def test_prefilled_responses_are_valid_fhir(case: Path, version: str) -> None:
    from fhir.resources.questionnaireresponse import QuestionnaireResponse as R5Response
    from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse as R4Response

    response, _issues = sdc.write(load_case(case.read_bytes()), version)  # type: ignore[arg-type]
    model = R5Response if version == "R5" else R4Response
    parsed = model.model_validate(response)
    assert parsed.questionnaire == sdc.canonical()
    assert parsed.status == "completed"


# --- generated from the knowledge entry --------------------------------------------------------


@pytest.mark.parametrize("pattern", ENTRY.patterns, ids=lambda p: p.key)
def test_every_entry_term_of_a_pattern_is_in_its_block(pattern: knowledge.ImagingPattern) -> None:
    key = T.term(pattern.name, "pattern")
    assert key is not None
    block = _items([_pattern_group(key)])
    # regions: every part of every path, and nothing else, as finding-site options
    (sites,) = _by_code(block, "finding_site")
    regions = {T.term(part, "anatomy") for region in pattern.regions for part in region.parts}
    assert set(_options(sites)) == {_first(k) for k in regions if k}
    assert sites["repeats"] is True
    # qualifiers: each under the item of its role; only the entry's (laterality lists all)
    for qualifier in pattern.qualifiers:
        qkey = next(k for role in ("laterality", "distribution", "number", "morphology")
                    if (k := T.term(qualifier, role)))
        role = T.concept(qkey).role
        name = "laterality" if role == "laterality" else next(
            n for _f, n, r, _rep in fields.FINDING_QUALIFIERS if r == role)
        (item,) = _by_code(block, name)
        assert _first(qkey) in _options(item), qualifier
    offered = {_first(k) for k in profile.pattern_rules()[key].qualifiers}
    for _field, name, _role, _rep in fields.FINDING_QUALIFIERS:
        for item in _by_code(block, name):
            assert set(_options(item)) <= offered
    # (sequence, signal) pairs: an item coded with the sequence, enabled when the sequence is
    # chosen, offering the signal
    for pair in pattern.sequence_signals:
        sequence, signal = T.term(pair.sequence, "mr_sequence"), T.term(pair.signal, "signal")
        assert sequence and signal
        candidates = [i for i in _by_code(block, sequence)
                      if _first(signal) in _options(i)]
        assert candidates, f"{pair.sequence} -> {pair.signal}"
        (item,) = candidates
        (condition,) = item["enableWhen"]
        coding = condition["answerCoding"]
        assert (coding["system"], coding["code"]) == _first(sequence)
        assert _first(sequence) in _options(next(i for i in block
                                                  if i["linkId"] == condition["question"]))


def test_every_ice_item_and_astct_domain_is_in_the_form() -> None:
    items = _items(Q4["item"])
    for _field, key, maximum in ICE_ITEMS:
        (item,) = _by_code(items, key)
        assert item["type"] == "integer"
        limits = {e["url"].rsplit("/", 1)[1]: e["valueInteger"] for e in item["extension"]}
        assert limits == {"minValue": 0, "maxValue": maximum}
    for _name, model_field, table in grading.DOMAINS:
        if table is None:
            continue
        name_key = next(k for f, k, _r, _rep in fields.ASSESSMENT_DOMAINS if f == model_field)
        (item,) = [i for i in _by_code(items, name_key) if i.get("answerOption")]
        assert {_first(k) for k in table} == set(_options(item))
    (signs,) = _by_code(items, fields.SIGNS_KEY)
    assert {_first(k) for k in ENTRY.clinical_signs} <= set(_options(signs))
    assert set(_options(signs)) == {_first(k) for k in T.keys(fields.SIGN_ROLE)}
    calculated = {i["linkId"] for i in items if any(
        e["url"] == qmod.EXT_CALCULATED for e in i.get("extension", []))}
    assert {"ice_score", "icans_grade"} <= calculated
    assert all(i.get("readOnly") for i in items if i["linkId"] in calculated)


def test_every_answer_and_item_code_is_a_mapping_table_coding() -> None:
    for item in _items(Q4["item"]):
        for system, code in [*_codes(item), *_options(item)]:
            fixed = {sys: codes for sys, codes in f.FIXED_CHOICES.values()}
            if system in fixed:  # FHIR infrastructure codes (gender, report status)
                assert code in {c for c, _d in fixed[system].values()}
                continue
            concept = T.lookup_fhir(system, code)
            assert concept is not None, (item["linkId"], system, code)
            assert (system, code) == _first(concept.key) or item.get("code"), item["linkId"]
        for option in item.get("answerOption", []):
            assert set(option["valueCoding"]) == {"system", "code", "display"}


# --- stable link ids ---------------------------------------------------------------------------


def test_link_ids_are_the_recorded_ones() -> None:
    """linkIds are an interface: a QuestionnaireResponse of an earlier release must still map.

    Renaming or removing one breaks saved responses; adding one means recording it in
    tests/data/sdc-link-ids.txt.
    """
    generated = [i["linkId"] for i in _items(Q4["item"])]
    assert len(generated) == len(set(generated))
    recorded = LINK_IDS.read_text("utf-8").split()
    assert set(recorded) - set(generated) == set(), "linkIds removed or renamed"
    assert set(generated) - set(recorded) == set(), "new linkIds: record them"
    assert [i["linkId"] for i in _items(Q5["item"])] == generated


def test_link_ids_derive_from_concept_keys_and_model_fields() -> None:
    structural = {"patient", "study", "imaging", "assessment", "ice", "present", "finding",
                  "signal", "sequence", "performed", "details", "grading", "observation_uid",
                  "procedure", "observer_name", "impression", "sex", "status", "revision",
                  "verifying_observer"}
    model_fields = {"id", "id_issuer", "id_system", "family_name", "given_name", "birth_date",
                    "instance_uid", "name", "organization",
                    "accession_number", "date", "time", "description", "referring_physician",
                    "assessed_at", *(name for name, _f, _t in grading.DOMAINS)}
    for link_id in (i["linkId"] for i in _items(Q4["item"])):
        for part in link_id.split("."):
            assert part in T or part in structural or part in model_fields, (link_id, part)


# --- round trip ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["R4", "R5"])
@pytest.mark.parametrize("case", VALID, ids=lambda p: p.stem)
def test_case_prefill_extract_round_trip(case: Path, version: str) -> None:
    report = load_case(case.read_bytes())
    response, _issues = sdc.write(report, version)  # type: ignore[arg-type]
    again, issues = sdc.read(json.loads(json.dumps(response)))
    assert [i for i in issues if i.severity != "information"] == []
    assert again == report


def test_values_the_entry_does_not_offer_are_kept_and_reported() -> None:
    """Kept (nothing is lost) but an error: the response breaks the form's options, which
    the FHIR validator confirms against the form itself."""
    from icans_interop.validation.dispatch import validate_response

    report = load_case((ROOT / "fixtures/valid/grade2-limbic-unicode.json").read_bytes())
    response, issues = sdc.write(report)
    assert [(i.severity, i.code, i.location) for i in issues] == [
        ("error", "not-in-form", "findings[1].distribution[0]")]
    found = validate_response(json.dumps(response), "base")
    assert [i.code for i in found.issues if i.severity == "error"] == ["not-in-value-set"]
    assert sdc.read(response).report == report


@pytest.mark.parametrize("case", VALID, ids=lambda p: p.stem)
def test_prefilled_responses_conform_to_the_form(case: Path) -> None:
    """Checked against our own Questionnaire (options, types, enableWhen per repeat,
    required items): no error unless the form cannot hold a value of the report."""
    from icans_interop.validation.dispatch import validate_response

    response, issues = sdc.write(load_case(case.read_bytes()))
    found = validate_response(json.dumps(response), "icans")
    if any(i.code == "not-in-form" for i in issues):
        assert not found.valid
    else:
        assert found.valid, found.to_text()


def test_values_with_no_item_are_errors() -> None:
    data = json.loads((ROOT / "fixtures/valid/example-grade3-deep.json").read_text("utf-8"))
    data["findings"][0]["number"] = "multiple"  # deep structures: the entry names no number
    data["findings"][0]["signals"].append({"sequence": "dwi", "signal": "hyperintense"})
    response, issues = sdc.write(ImagingReport.model_validate(data))
    assert {(i.severity, i.location) for i in issues if i.code == "not-in-form"} == {
        ("error", "findings[0].number"), ("error", "findings[0].signals[2]")}
    again, _ = sdc.read(response)
    assert again is not None and again.findings[0].number is None


@st.composite
def form_findings(draw: st.DrawFn) -> dict[str, Any]:
    """A finding the form can hold: the pattern's regions, qualifiers and pairs only."""
    rules = draw(st.sampled_from(list(profile.pattern_rules().values())))
    finding: dict[str, Any] = {
        "pattern": rules.pattern,
        "sites": draw(st.lists(st.sampled_from(rules.site_order), max_size=3)),
        "signals": [{"sequence": s, "signal": g} for s, g in draw(st.lists(
            st.sampled_from(rules.sequence_signal_order), max_size=3))],
    }
    laterality = draw(st.none() | st.sampled_from(T.keys("laterality")))
    if laterality:
        finding["laterality"] = laterality
    for model_field, _name, role, repeats in fields.FINDING_QUALIFIERS:
        offered = [q for q in rules.qualifier_order if T.concept(q).role == role]
        if not offered:
            continue
        if repeats:
            finding[model_field] = draw(st.lists(st.sampled_from(offered), max_size=2))
        elif draw(st.booleans()):
            finding[model_field] = draw(st.sampled_from(offered))
    return finding


@st.composite
def form_reports(draw: st.DrawFn) -> ImagingReport:
    data = draw(strategies.report_dicts(max_findings=0))
    findings = draw(st.lists(form_findings(), max_size=6))
    order = {p: i for i, p in enumerate(profile.pattern_rules())}
    data["findings"] = sorted(findings, key=lambda x: order[x["pattern"]])  # form order
    if draw(st.booleans()) and data.get("study", {}).get("time") is not None:
        data["study"]["time"] = data["study"]["time"].replace(microsecond=0)
    return ImagingReport.model_validate(data)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(form_reports(), st.sampled_from(["R4", "R5"]))
def test_generated_reports_round_trip(report: ImagingReport, version: str) -> None:
    response, issues = sdc.write(report, version)  # type: ignore[arg-type]
    assert issues == []
    again, read_issues = sdc.read(json.loads(sdc.to_json(response)))
    assert [i for i in read_issues if i.severity != "information"] == []
    assert again == report


# --- the computed items agree with compute_grade -------------------------------------------


def _base() -> dict[str, Any]:
    return json.loads((ROOT / "fixtures/valid/imaging-only-no-assessment.json").read_text())


def _check_scoring(assessment: dict[str, Any], version: str = "R4") -> None:
    data = _base()
    data["assessment"] = assessment
    report = ImagingReport.model_validate(data)
    assert report.assessment is not None
    expected = grading.compute_grade(report.assessment)
    response, _ = sdc.write(report, version)  # type: ignore[arg-type]
    # evaluate on the answers alone: drop what the pre-filler computed
    for item in _items(response["item"]):
        if item["linkId"].startswith(("ice_score", "icans_grade")):
            item.pop("answer", None)
    values = sdc.calculate(Q5 if version == "R5" else Q4, response, version)  # type: ignore[arg-type]
    assert values["icans_grade"] == [expected.grade], (assessment, expected)
    assert values["ice_score"] == ([] if expected.ice_score is None else [expected.ice_score])
    for name, grade in expected.domains:
        assert values[f"icans_grade.{name}"] == [grade], (name, assessment)


def _ice(total: int) -> dict[str, int]:
    values, left = {}, total
    for name, _key, maximum in ICE_ITEMS:
        values[name] = min(maximum, left)
        left -= values[name]
    return values


@pytest.mark.parametrize(("domain", "key"), [
    (name, key) for name, _field, table in grading.DOMAINS if table for key in table])
def test_every_domain_table_cell(domain: str, key: str) -> None:
    model_field = next(f for n, f, _t in grading.DOMAINS if n == domain)
    value: Any = [key] if model_field == "icp_findings" else key
    _check_scoring({"ice": _ice(10), model_field: value})


@pytest.mark.parametrize("consciousness", list(grading.CONSCIOUSNESS_GRADE))
@pytest.mark.parametrize("score", [None, *range(grading.ICE_MAX + 1)])
def test_every_ice_band_with_every_level_of_consciousness(score: int | None,
                                                          consciousness: str) -> None:
    assessment: dict[str, Any] = {"consciousness": consciousness}
    if score is not None:
        assessment["ice"] = _ice(score)
    _check_scoring(assessment)


def test_no_assessment_means_no_computed_grade() -> None:
    response, _ = sdc.write(load_case(json.dumps(_base())))
    values = sdc.calculate(Q4, response)
    assert values["icans_grade"] == [] and values["ice_score"] == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategies.assessments(), st.sampled_from(["R4", "R5"]))
def test_generated_assessments(assessment: dict[str, Any], version: str) -> None:
    _check_scoring(assessment, version)


def test_table_expressions_follow_the_table() -> None:
    """The chain is built from whatever table it is given (here a made-up one)."""
    from fhirpathpy import evaluate
    from fhirpathpy.models import models

    from icans_interop.sdc import expressions

    table = {"awake": 0, "awakens_spontaneously": 2, "awakens_to_voice": 2, "unarousable": 7}
    expression = expressions.table_grade("x", table, 0)
    assert expression.count("iif(") == 2  # one test per distinct grade above the default
    for key, grade in [*table.items(), ("awakens_to_tactile", 0)]:
        system, code = _first(key)
        response = {"resourceType": "QuestionnaireResponse", "status": "completed", "item": [
            {"linkId": "x", "answer": [{"valueCoding": {"system": system, "code": code}}]}]}
        assert evaluate(response, expression, {"resource": response}, models["r4"]) == [grade]


def test_expressions_name_no_table_value_by_hand() -> None:
    """Every code an expression tests comes from a grading table concept."""
    keys = {k for _n, _f, table in grading.DOMAINS if table for k in table}
    allowed = {c.code for k in keys for c in T.concept(k).codings}
    expressions = [e["valueExpression"]["expression"] for e in Q4["extension"]]
    tested = {code for e in expressions for code in re.findall(r"code in \(([^)]*)\)", e)}
    codes = {c.strip(" '") for group in tested for c in group.split("|")}
    assert codes and codes <= allowed
