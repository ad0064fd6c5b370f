"""The domain model: frozen, keyed by concepts, with derived identifiers and a JSON Schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from icans_interop.model import Finding, ImagingReport, json_schema, load_case

CASE = Path(__file__).resolve().parent.parent / "fixtures" / "valid" / "example-grade3-deep.json"


def test_report_is_frozen_and_hashable() -> None:
    report = load_case(CASE.read_bytes())
    with pytest.raises(ValidationError, match="frozen"):
        report.impression = "x"  # type: ignore[misc]
    assert hash(report) == hash(load_case(CASE.read_bytes()))
    assert report == load_case(CASE.read_bytes())


def test_missing_identifiers_are_derived_stably() -> None:
    report = load_case(CASE.read_bytes())
    first, second = report.findings[0], report.findings[1]
    assert first.tracking_id == "Limbic T2/FLAIR lesion 1"
    assert second.tracking_id is None  # a label is the author's to give; UIDs are derived
    assert second.tracking_uid is not None and second.tracking_uid != first.tracking_uid
    assert first.tracking_uid is not None and first.tracking_uid.startswith("2.25.")
    assert first.observation_uid != first.tracking_uid
    again = ImagingReport.model_validate(report.model_dump())
    assert again == report


def _bare(finding: Finding) -> dict[str, object]:
    return finding.model_dump(exclude={"tracking_uid", "observation_uid"}, exclude_none=True)


def test_findings_built_as_models_or_dicts_get_the_same_uids() -> None:
    report = load_case(CASE.read_bytes())
    fields = report.model_dump(exclude={"findings"})
    as_dicts = ImagingReport.model_validate({**fields, "findings": [
        _bare(f) for f in report.findings]})
    as_models = ImagingReport(**{**fields, "findings": [
        Finding(**_bare(f)) for f in report.findings]})  # type: ignore[arg-type]
    assert as_models == as_dicts
    assert [f.tracking_uid for f in as_models.findings] == \
        [f.tracking_uid for f in report.findings]


def test_reordering_findings_keeps_their_uids() -> None:
    report = load_case(CASE.read_bytes())
    fields = report.model_dump(exclude={"findings"})
    untracked = [{k: v for k, v in _bare(f).items() if k != "tracking_id"}
                 for f in report.findings]
    forward = ImagingReport.model_validate({**fields, "findings": untracked})
    backward = ImagingReport.model_validate({**fields, "findings": untracked[::-1]})
    uids = {(f.pattern, f.sites): (f.tracking_uid, f.observation_uid) for f in forward.findings}
    assert uids == {(f.pattern, f.sites): (f.tracking_uid, f.observation_uid)
                    for f in backward.findings}
    twins = ImagingReport.model_validate({**fields, "findings": [untracked[0]] * 2})
    assert twins.findings[0].tracking_uid != twins.findings[1].tracking_uid


def test_status_defaults_from_the_verifier() -> None:
    report = load_case(CASE.read_bytes())
    assert report.status == "final" and report.verifying_observer is not None
    data = report.model_dump(exclude={"verifying_observer", "status"})
    assert ImagingReport.model_validate(data).status == "preliminary"
    unverified_final = ImagingReport.model_validate({**data, "status": "final"})
    from icans_interop import dicom
    from icans_interop.dicom.values import EncodingError

    with pytest.raises(EncodingError, match="VERIFIED SR, which needs the verifying"):
        dicom.write(unverified_final)


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
