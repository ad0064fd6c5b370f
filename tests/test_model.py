"""The domain model: frozen, keyed by concepts, with derived identifiers and a JSON Schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from icans_interop.model import Finding, ImagingReport, derived_uid, json_schema, load_case

CASE = Path(__file__).resolve().parent.parent / "fixtures" / "valid" / "example-grade3-deep.json"


def test_report_is_frozen_and_hashable() -> None:
    report = load_case(CASE.read_bytes())
    with pytest.raises(ValidationError, match="frozen"):
        report.impression = "x"  # type: ignore[misc]
    assert hash(report) == hash(load_case(CASE.read_bytes()))
    assert report == load_case(CASE.read_bytes())


def test_missing_identifiers_are_derived_stably() -> None:
    report = load_case(CASE.read_bytes())
    first = report.findings[0]
    assert first.tracking_id == "Finding 1"
    assert first.tracking_uid == derived_uid(report.study.instance_uid, "tracking", "1")
    assert first.observation_uid != first.tracking_uid
    again = ImagingReport.model_validate(report.model_dump())
    assert again == report


def test_unknown_key_lists_allowed_keys() -> None:
    with pytest.raises(ValidationError, match=r"'flare' is not a known mr_sequence concept; "
                                              r"allowed: t2w, t1w, t2star, dwi, flair"):
        Finding(pattern="hemorrhage", signals=({"sequence": "flare", "signal": "hypointense"},))


def test_roles_are_enforced() -> None:
    with pytest.raises(ValidationError, match="'hippocampus' is not a known pattern concept"):
        Finding(pattern="hippocampus")


def test_uid_rules() -> None:
    with pytest.raises(ValidationError, match="not a valid DICOM UID"):
        Finding(pattern="hemorrhage", tracking_uid="1.02.3")
    with pytest.raises(ValidationError, match="not a valid DICOM UID"):
        Finding(pattern="hemorrhage", tracking_uid="1." + "2" * 70)


def test_extra_fields_are_rejected() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Finding(pattern="hemorrhage", colour="red")  # type: ignore[call-arg]


def test_json_schema_lists_allowed_keys() -> None:
    schema = json_schema()
    finding = schema["$defs"]["Finding"]["properties"]
    assert "hippocampus" in str(finding["sites"])
    assert schema["required"] == ["patient", "study", "issued"]
