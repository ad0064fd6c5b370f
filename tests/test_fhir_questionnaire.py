"""A QuestionnaireResponse judged against its Questionnaire (validation.fhir_questionnaire).

One Questionnaire exercises every rule of ``data/fhir-questionnaire-rules.json``; a response
that answers it correctly gets no issue, and each planted defect gets its exact code and
location. The Questionnaire is found in the input (a Bundle, a contained resource) or among
the ``supporting`` resources.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from icans_interop.validation.fhir import validate_fhir

Json = dict[str, Any]
URL = "http://example.org/fhir/Questionnaire/icans-check"
EXT = "http://hl7.org/fhir/StructureDefinition/"
SDC = "http://hl7.org/fhir/uv/sdc/StructureDefinition/"
UCUM = "http://unitsofmeasure.org"
CODES = "http://example.org/codes"


def _ext(name: str, **value: Any) -> Json:
    return {"url": (SDC if name.startswith("sdc-") else EXT) + name, **value}


QUESTIONNAIRE: Json = {
    "resourceType": "Questionnaire", "id": "icans-check", "url": URL, "version": "1",
    "status": "active", "item": [
        {"linkId": "ice", "type": "integer", "required": True,
         "extension": [_ext("minValue", valueInteger=0), _ext("maxValue", valueInteger=10)]},
        {"linkId": "seizure", "type": "boolean", "required": True},
        {"linkId": "seizure-kind", "type": "choice", "required": True,
         "enableWhen": [{"question": "seizure", "operator": "=", "answerBoolean": True}],
         "answerOption": [{"valueCoding": {"system": CODES, "code": "focal"}},
                          {"valueCoding": {"system": CODES, "code": "generalised"}}]},
        {"linkId": "signs", "type": "choice", "repeats": True,
         "extension": [_ext("questionnaire-maxOccurs", valueInteger=2)],
         "answerOption": [
             {"valueCoding": {"system": CODES, "code": "tremor"}},
             {"valueCoding": {"system": CODES, "code": "aphasia"}},
             {"valueCoding": {"system": CODES, "code": "none"},
              "extension": [_ext("questionnaire-optionExclusive", valueBoolean=True)]}]},
        {"linkId": "note", "type": "string", "maxLength": 40,
         "extension": [_ext("minLength", valueInteger=2),
                       _ext("regex", valueString="[A-Za-z ,.]+")]},
        {"linkId": "temperature", "type": "decimal",
         "extension": [_ext("maxDecimalPlaces", valueInteger=1)]},
        {"linkId": "weight", "type": "quantity",
         "extension": [_ext("questionnaire-unitOption",
                            valueCoding={"system": UCUM, "code": "kg"}),
                       _ext("sdc-questionnaire-maxQuantity",
                            valueQuantity={"value": 300, "system": UCUM, "code": "kg"})]},
        {"linkId": "scan", "type": "attachment",
         "extension": [_ext("mimeType", valueCode="image/png"),
                       _ext("maxSize", valueDecimal=16)]},
        {"linkId": "imaging", "type": "group", "item": [
            {"linkId": "imaging-date", "type": "date", "required": True,
             "extension": [_ext("minValue", valueDate="2020-01-01")]},
            {"linkId": "imaging-note", "type": "display", "text": "MRI within 48 hours"}]},
    ]}

RESPONSE: Json = {
    "resourceType": "QuestionnaireResponse", "id": "r", "questionnaire": URL + "|1",
    "status": "completed", "item": [
        {"linkId": "ice", "answer": [{"valueInteger": 7}]},
        {"linkId": "seizure", "answer": [{"valueBoolean": True}]},
        {"linkId": "seizure-kind",
         "answer": [{"valueCoding": {"system": CODES, "code": "focal"}}]},
        {"linkId": "signs", "answer": [{"valueCoding": {"system": CODES, "code": "tremor"}},
                                       {"valueCoding": {"system": CODES, "code": "aphasia"}}]},
        {"linkId": "note", "answer": [{"valueString": "Somnolent, oriented"}]},
        {"linkId": "temperature", "answer": [{"valueDecimal": 38.5}]},
        {"linkId": "weight", "answer": [{"valueQuantity": {
            "value": 70, "unit": "kg", "system": UCUM, "code": "kg"}}]},
        {"linkId": "scan", "answer": [{"valueAttachment": {
            "contentType": "image/png", "data": "aGVsbG8=", "size": 5}}]},
        {"linkId": "imaging", "item": [
            {"linkId": "imaging-date", "answer": [{"valueDate": "2024-05-01"}]}]},
    ]}

AT = "QuestionnaireResponse"


def _item(response: Json, link: str) -> Json:
    item: Json = next(i for i in response["item"] if i["linkId"] == link)
    return item


def _index(response: Json, link: str) -> int:
    return next(n for n, i in enumerate(response["item"]) if i["linkId"] == link)


def _validate(response: Json, supporting: list[Any] | None = None) -> set[tuple[str, str, str]]:
    result = validate_fhir(response, "R4", "base",
                           supporting=[QUESTIONNAIRE] if supporting is None else supporting)
    return {(i.severity, i.code, i.location) for i in result.issues}


def test_a_correct_response_has_no_issue() -> None:
    assert _validate(RESPONSE) == set()


def _answer(link: str, value: Json, index: int = 0) -> Callable[[Json], str]:
    def plant(r: Json) -> str:
        _item(r, link)["answer"][index] = value
        return f"{AT}.item[{_index(r, link)}].answer[{index}].{next(iter(value))}"
    return plant


def _unknown_link(r: Json) -> str:
    r["item"].append({"linkId": "ice-total", "answer": [{"valueInteger": 3}]})
    return f"{AT}.item[{len(r['item']) - 1}]"


def _two_answers(r: Json) -> str:
    _item(r, "ice")["answer"].append({"valueInteger": 8})
    return f"{AT}.item[{_index(r, 'ice')}]"


def _item_twice(r: Json) -> str:
    r["item"].append(copy.deepcopy(_item(r, "ice")))
    return f"{AT}.item[{len(r['item']) - 1}]"


def _too_many(r: Json) -> str:
    _item(r, "signs")["answer"] = [{"valueCoding": {"system": CODES, "code": c}}
                                   for c in ("tremor", "aphasia", "tremor")]
    return f"{AT}.item[{_index(r, 'signs')}]"


def _exclusive(r: Json) -> str:
    _item(r, "signs")["answer"][1] = {"valueCoding": {"system": CODES, "code": "none"}}
    return f"{AT}.item[{_index(r, 'signs')}].answer[1]"


def _answer_to_display(r: Json) -> str:
    group = _item(r, "imaging")
    group["item"].append({"linkId": "imaging-note", "answer": [{"valueString": "x"}]})
    return f"{AT}.item[{_index(r, 'imaging')}].item[1]"


def _required_missing(r: Json) -> str:
    del r["item"][_index(r, "ice")]
    return AT


def _required_enabled(r: Json) -> str:
    _item(r, "seizure-kind")["answer"] = []
    del _item(r, "seizure-kind")["answer"]
    return f"{AT}.item[{_index(r, 'seizure-kind')}]"


def _nested_required(r: Json) -> str:
    _item(r, "imaging")["item"] = [{"linkId": "imaging-note"}]
    return f"{AT}.item[{_index(r, 'imaging')}]"


def _attachment_type(r: Json) -> str:
    _item(r, "scan")["answer"][0]["valueAttachment"]["contentType"] = "application/pdf"
    return f"{AT}.item[{_index(r, 'scan')}].answer[0].valueAttachment.contentType"


def _attachment_size(r: Json) -> str:
    attachment = _item(r, "scan")["answer"][0]["valueAttachment"]
    attachment.update(data="aGVsbG8gd29ybGQsIGFnYWluIQ==", size=19)
    return f"{AT}.item[{_index(r, 'scan')}].answer[0].valueAttachment"


def _unit(r: Json) -> str:
    _item(r, "weight")["answer"][0]["valueQuantity"].update(code="[lb_av]", unit="lb")
    return f"{AT}.item[{_index(r, 'weight')}].answer[0].valueQuantity"


def _quantity_max(r: Json) -> str:
    _item(r, "weight")["answer"][0]["valueQuantity"]["value"] = 400
    return f"{AT}.item[{_index(r, 'weight')}].answer[0].valueQuantity"


def _nested_date(r: Json) -> str:
    _item(r, "imaging")["item"][0]["answer"][0]["valueDate"] = "2019-12-31"
    return f"{AT}.item[{_index(r, 'imaging')}].item[0].answer[0].valueDate"


DEFECTS: dict[str, tuple[Callable[[Json], str], str]] = {
    "unknown linkId": (_unknown_link, "response-mismatch"),
    "answer of another type": (_answer("ice", {"valueString": "7"}), "response-mismatch"),
    "two answers to a non-repeating item": (_two_answers, "response-mismatch"),
    "a non-repeating item twice": (_item_twice, "response-mismatch"),
    "more answers than maxOccurs": (_too_many, "response-mismatch"),
    "exclusive option with another": (_exclusive, "response-mismatch"),
    "answer to a display item": (_answer_to_display, "response-mismatch"),
    "answer outside answerOption": (
        _answer("seizure-kind", {"valueCoding": {"system": CODES, "code": "tonic"}}),
        "not-in-value-set"),
    "quantity in a unit not offered": (_unit, "not-in-value-set"),
    "integer above maxValue": (_answer("ice", {"valueInteger": 11}), "invalid-value"),
    "string longer than maxLength": (_answer("note", {"valueString": "x" * 41}),
                                     "invalid-value"),
    "string shorter than minLength": (_answer("note", {"valueString": "x"}), "invalid-value"),
    "string not matching the regex": (_answer("note", {"valueString": "GCS 14"}),
                                      "invalid-value"),
    "too many decimal places": (_answer("temperature", {"valueDecimal": 38.25}),
                                "invalid-value"),
    "quantity above maxQuantity": (_quantity_max, "invalid-value"),
    "attachment of a type not allowed": (_attachment_type, "invalid-value"),
    "attachment larger than maxSize": (_attachment_size, "invalid-value"),
    "nested date below minValue": (_nested_date, "invalid-value"),
    "required item absent": (_required_missing, "missing-required"),
    "enabled required item unanswered": (_required_enabled, "missing-required"),
    "required nested item absent": (_nested_required, "missing-required"),
}


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_planted_defect(name: str) -> None:
    plant, code = DEFECTS[name]
    response = copy.deepcopy(RESPONSE)
    where = plant(response)
    found = _validate(response)
    assert ("error", code, where) in found, sorted(found)
    assert {f[1] for f in found if f[0] == "error"} == {code}, sorted(found)


def test_disabled_required_item_needs_no_answer() -> None:
    response = copy.deepcopy(RESPONSE)
    _item(response, "seizure")["answer"] = [{"valueBoolean": False}]
    del response["item"][_index(response, "seizure-kind")]
    assert _validate(response) == set()


def test_in_progress_response_may_be_incomplete() -> None:
    response = copy.deepcopy(RESPONSE)
    response["status"] = "in-progress"
    del response["item"][_index(response, "ice")]
    assert _validate(response) == set()


def test_questionnaire_found_in_the_input() -> None:
    """In a Bundle beside the response, or contained in it; no supporting resource needed."""
    response = copy.deepcopy(RESPONSE)
    _item(response, "ice")["answer"] = [{"valueInteger": 11}]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:0b0c5e57-2ad8-4b4a-8a50-4f2bfa0b0c01",
         "resource": QUESTIONNAIRE},
        {"fullUrl": "urn:uuid:0b0c5e57-2ad8-4b4a-8a50-4f2bfa0b0c02", "resource": response}]}
    where = "Bundle.entry[1].resource.item[0].answer[0].valueInteger"
    assert ("error", "invalid-value", where) in _validate(bundle, supporting=[])
    contained = {**response, "questionnaire": "#q",
                 "contained": [{**QUESTIONNAIRE, "id": "q"}]}
    assert ("error", "invalid-value", f"{AT}.item[0].answer[0].valueInteger") in \
        _validate(contained, supporting=[])


def test_supporting_forms_and_missing_questionnaire(tmp_path: Path) -> None:
    path = tmp_path / "q.json"
    path.write_text(json.dumps(QUESTIONNAIRE), "utf-8")
    response = copy.deepcopy(RESPONSE)
    _item(response, "ice")["answer"] = [{"valueInteger": 11}]
    planted = ("error", "invalid-value", f"{AT}.item[0].answer[0].valueInteger")
    for form in (path, str(path), path.read_bytes(),
                 {"resourceType": "Bundle", "type": "collection",
                  "entry": [{"resource": QUESTIONNAIRE}]}):
        assert planted in _validate(response, supporting=[form]), form
    missing = _validate(response, supporting=[])
    assert missing == {("information", "not-checked", f"{AT}.questionnaire")}
    unreadable = _validate(response, supporting=[tmp_path / "absent.json", QUESTIONNAIRE])
    assert planted in unreadable
    assert any(f[1] == "not-checked" for f in unreadable)
    other_version = {**response, "questionnaire": URL + "|2"}
    assert _validate(other_version) == {("information", "not-checked", f"{AT}.questionnaire")}


def test_a_risky_regex_is_not_applied() -> None:
    """A regex from the input that could backtrack without bound is reported, not run."""
    questionnaire = copy.deepcopy(QUESTIONNAIRE)
    note = next(i for i in questionnaire["item"] if i["linkId"] == "note")
    note["extension"][1]["valueString"] = "(a+)+b"
    note["maxLength"] = 100
    response = copy.deepcopy(RESPONSE)
    _item(response, "note")["answer"] = [{"valueString": "a" * 60}]
    code = ("import json, sys\n"
            "from icans_interop.validation.fhir import validate_fhir\n"
            "q, r = json.loads(sys.argv[1]), json.loads(sys.argv[2])\n"
            "issues = validate_fhir(r, 'R4', 'base', supporting=[q]).issues\n"
            "assert [i.code for i in issues] == ['not-checked'], issues\n")
    subprocess.run([sys.executable, "-c", code, json.dumps(questionnaire),
                    json.dumps(response)], check=True, timeout=120)


@pytest.mark.parametrize(("pattern", "quantifiers"), [
    (r"^[^@\s]+@[^@\s]+\.[^@\s]+$", 3), (r"\d{3}-\d{4}", 2), ("[]a]+", 1), ("a+?b", 1),
    ("(?:ab)?c", 1), ("(a+)+b", None), ("((a+))+", None), ("(a|ab)*", None),
    (r"(\w)\1", None)])
def test_regex_cost(pattern: str, quantifiers: int | None) -> None:
    """Quantified groups and backreferences are refused; otherwise n ** quantifiers bounds the
    backtracking, and a long answer to a many-quantifier regex is not matched."""
    from icans_interop.validation.fhir_questionnaire import regex_quantifiers

    assert regex_quantifiers(pattern) == quantifiers


def test_a_costly_regex_on_a_long_answer_is_not_applied() -> None:
    questionnaire = copy.deepcopy(QUESTIONNAIRE)
    note = next(i for i in questionnaire["item"] if i["linkId"] == "note")
    note["extension"][1]["valueString"] = "a*a*a*a*a*a*a*b"
    note["maxLength"] = 200
    response = copy.deepcopy(RESPONSE)
    _item(response, "note")["answer"] = [{"valueString": "a" * 150}]
    found = _validate(response, supporting=[questionnaire])
    assert found == {("information", "not-checked",
                      f"{AT}.item[{_index(response, 'note')}].answer[0].valueString")}
