"""One function turns pydantic validation errors into located issues, for every reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from icans_interop import dicom, fhir
from icans_interop.issues import issues_from_validation_error, model_path, shorten
from icans_interop.model import ImagingReport, load_case

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "fixtures" / "valid" / "example-grade3-deep.json"


def _error(text: str | bytes) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        load_case(text)
    return caught.value


def _bad_case() -> dict[str, object]:
    data = json.loads(CASE.read_text("utf-8"))
    data["findings"][0]["sites"][1] = "x" * 10_000
    data["patient"]["id"] = ""
    del data["study"]
    return data


def test_locations_are_model_paths_and_values_are_shortened() -> None:
    issues = issues_from_validation_error(_error(json.dumps(_bad_case())), code="case-invalid")
    by_location = {i.location: i for i in issues}
    assert {"patient.id", "study", "findings[0].sites[1]"} <= set(by_location)
    assert all(i.code == "case-invalid" and i.severity == "error" for i in issues)
    site = by_location["findings[0].sites[1]"].message
    assert site.startswith("findings[0].sites[1]: ") and site.endswith("...)")
    assert "got 'xxxx" in site and len(site) < 450
    assert by_location["study"].message == "study: Field required"  # no parent dict dumped


def test_root_location_locator_and_prefix() -> None:
    exc = _error(json.dumps(_bad_case()))
    rooted = issues_from_validation_error(exc, "case.json", severity="warning")
    assert "case.json.patient.id" in {i.location for i in rooted}
    assert {i.severity for i in rooted} == {"warning"}
    located = issues_from_validation_error(exc, locate=lambda path: f"<{path}>",
                                           prefix="ImagingReport.")
    assert {i.location for i in located} >= {"<patient.id>", "<study>"}
    assert any(i.message.startswith("ImagingReport.patient.id: ") for i in located)


def test_unparsable_json_is_unreadable_at_the_root() -> None:
    (issue,) = issues_from_validation_error(_error(b'{"patient": '), code="case-invalid")
    assert (issue.code, issue.location) == ("unreadable", "(root)")


def test_model_path_and_shorten() -> None:
    assert model_path(("findings", 0, "sites", 1)) == "findings[0].sites[1]"
    assert model_path(()) == ""
    assert shorten("abc") == "'abc'"
    assert len(shorten("y" * 500, 40)) == 40


def test_fhir_reader_locates_a_model_error_at_the_element_it_came_from() -> None:
    bundle = json.loads(fhir.write_json(load_case(CASE.read_text("utf-8"))))
    index = next(n for n, e in enumerate(bundle["entry"])
                 if e["resource"]["resourceType"] == "Patient")
    bundle["entry"][index]["resource"]["identifier"][0]["value"] = "p" * 70
    reading = fhir.read(bundle)
    assert reading.report is None
    (issue,) = [i for i in reading.issues if i.code == "case-invalid"]
    assert issue.location == f"Bundle.entry[{index}].resource.identifier[0].value"
    assert issue.message.startswith("report field patient.id: String should have at most 64")


def test_sr_reader_drops_a_bad_optional_value_and_names_it() -> None:
    ds = dicom.write(ImagingReport.model_validate_json(CASE.read_text("utf-8")))
    ds.PatientSex = "X"
    report, issues = dicom.read(ds)
    assert report is not None and report.patient.sex is None
    (issue,) = [i for i in issues if i.code == "invalid-value"]
    assert issue.location == "(0010,0040) PatientSex"
    assert issue.message == ("Patient.sex: Input should be 'M', 'F' or 'O' (got 'X'); the value "
                             "is dropped")


def test_a_format_names_its_errors_in_its_own_terms() -> None:
    exc = _error(json.dumps(_bad_case()))
    seen: list[str] = []

    def describe(problem: object) -> tuple[str, str] | None:
        assert isinstance(problem, dict)
        seen.append(problem["type"])
        if problem["type"] == "missing":
            return None  # left to another check
        return "unknown-element", f"[{problem['type']}]"

    issues = issues_from_validation_error(
        exc, path_of=lambda loc: "Case" + "".join(f"/{part}" for part in loc), describe=describe)
    assert "missing" in seen and len(issues) == len(seen) - seen.count("missing")
    assert {i.code for i in issues} == {"unknown-element"}
    assert "Case/patient/id" in {i.location for i in issues}
    located = issues_from_validation_error(exc, path_of=lambda loc: str(len(loc)),
                                           locate=lambda path: f"at {path}")
    assert {i.location for i in located} >= {"at 2", "at 4"}


def test_fhir_model_errors_go_through_the_one_function() -> None:
    from icans_interop.validation import fhir_structure
    from icans_interop.validation.fhir import validate_fhir

    bundle = json.loads(fhir.write_json(load_case(CASE.read_text("utf-8")), version="R5"))
    bundle["entry"][0]["resource"]["status"] = ["final"]
    calls: list[object] = []
    original = fhir_structure.issues_from_validation_error

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(args[0])
        return original(*args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fhir_structure, "issues_from_validation_error", spy)
        result = validate_fhir(bundle, "R5", "base")
    assert calls, "the R5 model's errors were translated by issues_from_validation_error"
    (issue,) = [i for i in result.issues if i.location == "Bundle.entry[0].resource.status"]
    assert issue.message == 'Input should be a valid string (got ["final"])'
    assert issue.code == "invalid-value"
