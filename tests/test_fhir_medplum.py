"""The independent R4 validator (Medplum + required bindings, tools/fhir-validator) finds no
error in any resource we write: every fixture's R4 bundles and the terminology export.

Skips when Node or tools/fhir-validator/node_modules is missing; fails instead when CI=true.
The validator's warnings are not asserted on: it reports every ``urn:uuid:`` reference as of
unknown type (it infers the type from the text before the first ``/``), although such
references are how bundle entries refer to each other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

try:
    import oracles
    from test_fhir_roundtrip import REPORT_STRATEGIES
except ImportError:  # tests/ imported as a package
    from tests import oracles  # type: ignore[no-redef]
    from tests.test_fhir_roundtrip import REPORT_STRATEGIES  # type: ignore[no-redef]

from icans_interop import fhir
from icans_interop.fhir import terminology_export
from icans_interop.model import load_case

pytestmark = pytest.mark.slow

FIXTURES = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "valid").glob("*.json"))


def _bundles() -> list[dict[str, Any]]:
    out = []
    for path in FIXTURES:
        report = load_case(path.read_text(encoding="utf-8"))
        for kind in ("transaction", "collection"):
            out.append(json.loads(fhir.to_json(fhir.write(report, version="R4",
                                                          bundle=kind))))  # type: ignore[arg-type]
    return out


def test_every_r4_bundle_and_resource_is_valid() -> None:
    oracles.require(oracles.skip_reason_medplum())
    bundles = _bundles()
    # A Bundle is validated as a whole and each of its entry resources on its own.
    report = oracles.medplum_report(bundles)
    assert report["errors"] == []
    resources = [e["resource"] for b in bundles for e in b["entry"]]
    kinds = {r["resourceType"] for r in resources}
    assert {"Patient", "ImagingStudy", "ServiceRequest", "DiagnosticReport", "Observation",
            "Condition", "Practitioner", "Device"} <= kinds


def test_terminology_export_is_valid(tmp_path: Path) -> None:
    oracles.require(oracles.skip_reason_medplum())
    resources = [json.loads(p.read_text(encoding="utf-8"))
                 for p in terminology_export.export(tmp_path)]
    assert oracles.medplum_validate(resources) == []


def test_the_validator_catches_a_broken_bundle() -> None:
    """Guard against a validator that accepts everything: bindings and cardinality."""
    oracles.require(oracles.skip_reason_medplum())
    bundle = _bundles()[0]
    condition = next(e["resource"] for e in bundle["entry"]
                     if e["resource"]["resourceType"] == "Condition")
    condition["clinicalStatus"]["coding"][0]["code"] = "ongoing"
    observation = next(e["resource"] for e in bundle["entry"]
                       if e["resource"]["resourceType"] == "Observation")
    del observation["status"]
    errors = oracles.medplum_validate([bundle])
    assert any("clinicalStatus" in e for e in errors), errors
    assert any("Observation.status" in e or "status" in e for e in errors), errors


@pytest.mark.parametrize("strategy", [s for _n, s in REPORT_STRATEGIES],
                         ids=[n for n, _s in REPORT_STRATEGIES])
def test_generated_r4_bundles_are_valid(strategy: Any) -> None:
    """Generated reports, validated in batches (one Node process per batch)."""
    oracles.require(oracles.skip_reason_medplum())

    @settings(max_examples=4, deadline=None, phases=[Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(strategy, min_size=10, max_size=10))
    def check(reports: list[Any]) -> None:
        bundles = [json.loads(fhir.write_json(r, bundle=kind))
                   for r in reports for kind in ("transaction", "collection")]
        assert oracles.medplum_validate(bundles) == []

    check()
