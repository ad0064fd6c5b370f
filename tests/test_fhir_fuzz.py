"""Fuzzing the FHIR validator with JSON mutations: it must never fail or hang.

Every input must give a ValidationResult without an ``internal-error`` issue (no exception
escaped a check); a generous watchdog (tests/workbound.py, 30 s per input) catches hangs
without asserting speed (a loaded machine must not fail the suite; bench/ measures speed).
The suite runs a few dozen examples per test; ``make fuzz``
sets ``FUZZ_EXAMPLES`` (e.g. 10000) for a long run.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

try:
    from test_fhir_questionnaire import QUESTIONNAIRE, RESPONSE
except ImportError:  # tests/ imported as a package
    from tests.test_fhir_questionnaire import QUESTIONNAIRE, RESPONSE  # type: ignore[no-redef]

from icans_interop.fhir.writer import build
from icans_interop.model import load_case
from icans_interop.validation.fhir import validate_fhir
from icans_interop.validation.result import ValidationResult
from tests.workbound import watchdog

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
#: Seconds one input may take before the test calls it a hang (typical: 5-50 ms).

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 100,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])


def _base(version: str, kind: str) -> dict[str, Any]:
    report = load_case((ROOT / "fixtures/valid/example-grade3-deep.json").read_bytes())
    data: dict[str, Any] = json.loads(json.dumps(build(report, version,  # type: ignore[arg-type]
                                                       kind)))  # type: ignore[arg-type]
    return data


BASES = {(v, k): _base(v, k) for v in ("R4", "R5") for k in ("transaction", "collection")}
#: A Questionnaire and its response in one collection (the QR is judged against the Q).
QUESTIONNAIRE_BUNDLE: dict[str, Any] = {
    "resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:7f0c5e57-2ad8-4b4a-8a50-4f2bfa0b0c01", "resource": QUESTIONNAIRE},
        {"fullUrl": "urn:uuid:7f0c5e57-2ad8-4b4a-8a50-4f2bfa0b0c02", "resource": RESPONSE}]}
PRODUCERS = [json.loads(p.read_text("utf-8"))
             for p in sorted((ROOT / "tests/data/fhir").glob("*.json"))]

# One-time costs (the ICD-10-CM tabular, the knowledge entry, compiled invariants) are not
# what the per-input watchdog is about: pay them before the first example.
RESOURCE_TYPES = ["Bundle", "Observation", "Condition", "DiagnosticReport", "ImagingStudy",
                  "Patient", "Basic", "Parameters"]
for (_version, _kind), _bundle in BASES.items():
    validate_fhir(_bundle, _version, "icans")  # type: ignore[arg-type]
    for _type in RESOURCE_TYPES:  # the models build their validators on first use
        validate_fhir({"resourceType": _type}, _version, "base")  # type: ignore[arg-type]

JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**20),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
    st.sampled_from(["", " ", "final", "urn:uuid:x", "#", "#x", "Patient/1", "Patient?x=1",
                     "G92.0", "G92.09", "http://hl7.org/fhir/sid/icd-10-cm", "2020-13-45",
                     "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>", "<div>", "Bundle",
                     "Observation", "Nope", "resourceType", "\ud800"]))
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(
                                ["resourceType", "reference", "system", "code", "display",
                                 "coding", "value", "valueString", "extension", "url", "id",
                                 "contained", "entry", "resource", "status", "_status", "div",
                                 "start", "end", "type", "fullUrl", "request", "x"]),
                                inner, max_size=4)),
    max_leaves=12)


def _check(source: Any, version: str = "R4", profile: str = "icans") -> ValidationResult:
    with watchdog():
        result = validate_fhir(source, version, profile)  # type: ignore[arg-type]
    assert isinstance(result, ValidationResult)
    crashed = [i for i in result.issues if i.code == "internal-error"]
    assert not crashed, result.to_text()
    return result


def _mutate(data: Any, draw: Any) -> Any:
    """Replace, delete or retype one node at a random path of ``data`` (a copy)."""
    data = copy.deepcopy(data)
    parent: Any = None
    key: Any = None
    node = data
    for _ in range(draw(st.integers(0, 12))):
        if isinstance(node, dict) and node:
            k = draw(st.sampled_from(sorted(node)))
        elif isinstance(node, list) and node:
            k = draw(st.integers(0, len(node) - 1))
        else:
            break
        parent, key, node = node, k, node[k]
    operation = draw(st.sampled_from(["replace", "delete", "empty", "wrap", "duplicate",
                                      "stringify", "null"]))
    if parent is None:
        return draw(JSON_VALUES) if operation == "replace" else data
    if operation == "replace":
        parent[key] = draw(JSON_VALUES)
    elif operation == "delete":
        del parent[key]
    elif operation == "empty":
        parent[key] = type(node)() if isinstance(node, dict | list | str) else None
    elif operation == "wrap":
        parent[key] = [node]
    elif operation == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(node))
    elif operation == "stringify":
        parent[key] = json.dumps(node)
    else:
        parent[key] = None
    return data


@FUZZ
@given(st.data(), st.sampled_from(sorted(BASES)), st.sampled_from(["icans", "base"]))
def test_structural_mutations(data: st.DataObject, base: tuple[str, str], profile: str) -> None:
    mutated = BASES[base]
    for _ in range(data.draw(st.integers(1, 3))):
        mutated = _mutate(mutated, data.draw)
    _check(json.dumps(mutated).encode("utf-8", "surrogatepass"), base[0], profile)


@FUZZ
@given(st.data(), st.integers(0, len(PRODUCERS) - 1))
def test_producer_mutations(data: st.DataObject, index: int) -> None:
    mutated = _mutate(PRODUCERS[index], data.draw)
    _check(mutated, "R4", data.draw(st.sampled_from(["icans", "base"])))


@FUZZ
@given(st.data())
def test_questionnaire_response_mutations(data: st.DataObject) -> None:
    """Mutating a Questionnaire and its response (either side) never crashes the judge."""
    mutated = QUESTIONNAIRE_BUNDLE
    for _ in range(data.draw(st.integers(1, 3))):
        mutated = _mutate(mutated, data.draw)
    _check(json.dumps(mutated).encode("utf-8", "surrogatepass"), "R4", "base")


QR_LEAVES = st.one_of(
    JSON_LEAVES, st.sampled_from(["q1", "q2", "group", "display", "choice", "integer", "=",
                                  "exists", ">=", "any", "completed", "(a+)+b", "a*a*b",
                                  "http://hl7.org/fhir/StructureDefinition/regex",
                                  "http://hl7.org/fhir/StructureDefinition/minValue",
                                  "http://hl7.org/fhir/StructureDefinition/maxSize"]))
QR_VALUES = st.recursive(
    QR_LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(
        ["linkId", "type", "item", "answer", "answerOption", "enableWhen", "enableBehavior",
         "question", "operator", "answerBoolean", "answerInteger", "required", "repeats",
         "maxLength", "extension", "url", "valueString", "valueInteger", "valueCoding",
         "valueDecimal", "valueAttachment", "valueQuantity", "valueCode", "code", "system",
         "size", "data", "contentType", "value"]), inner, max_size=4)),
    max_leaves=16)


@FUZZ
@given(st.lists(QR_VALUES, max_size=3), st.lists(QR_VALUES, max_size=3),
       st.sampled_from(["completed", "in-progress", 7]))
def test_random_questionnaire_and_response(definitions: list[Any], answers: list[Any],
                                           status: Any) -> None:
    """Arbitrary item trees on both sides never crash the judge."""
    url = "http://example.org/q"
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Questionnaire", "url": url, "status": "draft",
                      "item": definitions}},
        {"resource": {"resourceType": "QuestionnaireResponse", "questionnaire": url,
                      "status": status, "item": answers}}]}
    _check(json.dumps(bundle, ensure_ascii=False).encode("utf-8", "surrogatepass"), "R4",
           "base")


@FUZZ
@given(st.data())
def test_byte_mutations(data: st.DataObject) -> None:
    raw = bytearray(json.dumps(BASES[("R4", "transaction")]).encode())
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(raw) - 1))
        operation = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if operation == "flip":
            raw[position] = data.draw(st.integers(0, 255))
        elif operation == "insert":
            raw[position:position] = data.draw(st.binary(min_size=1, max_size=8))
        elif operation == "delete":
            del raw[position:position + data.draw(st.integers(1, 16))]
        else:
            del raw[position:]
        if not raw:
            raw = bytearray(b"{")
    _check(bytes(raw), "R4", data.draw(st.sampled_from(["icans", "base"])))


@FUZZ
@given(JSON_VALUES, st.sampled_from(RESOURCE_TYPES), st.sampled_from(["R4", "R5"]))
def test_random_documents(value: Any, resource_type: str, version: str) -> None:
    document = value if isinstance(value, dict) else {"value": value}
    document = {**document, "resourceType": resource_type}
    _check(document, version, "base")
    _check(json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass"),
           version, "icans")
