"""fhir.read: other producers' bundles, unknown codes with exact paths, and hostile input."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icans_interop import fhir, terminology
from icans_interop.issues import Issue
from icans_interop.model import ImagingReport, load_case

DEEP = Path(__file__).resolve().parent.parent / "fixtures" / "valid" / "example-grade3-deep.json"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
SCT = "http://snomed.info/sct"
LOCAL = terminology.LOCAL_SYSTEM
BASE = "http://other.example/fhir/"


def other_producer_bundle() -> dict[str, Any]:
    """A bundle as another system might send it: relative references, absolute fullUrls,
    codings in another order with extra unknown codings and other displays, the IG's
    fallback group code (DCM 125007), no tracking identifiers, no Practitioner resource,
    a Condition but no grade Observation."""

    def entry(resource: dict[str, Any]) -> dict[str, Any]:
        return {"fullUrl": f"{BASE}{resource['resourceType']}/{resource['id']}",
                "resource": resource}

    return {"resourceType": "Bundle", "type": "searchset", "entry": [
        entry({"resourceType": "Observation", "id": "e1", "status": "final",
               "code": {"coding": [{"system": DCM, "code": "110805",
                                    "display": "T2 weighted signal"}]},
               "subject": {"reference": "Patient/p1"},
               "valueCodeableConcept": {"coding": [
                   {"system": "http://www.radlex.org", "code": "RID35805",
                    "display": "hyperintense"}]}}),
        entry({"resourceType": "DiagnosticReport", "id": "r1", "status": "final",
               "category": [{"coding": [{"system": "http://loinc.org", "code": "LP29684-5"}]}],
               "code": {"coding": [{"system": "http://example.org/local-codes",
                                    "code": "MRHEAD"},
                                   {"system": "http://loinc.org", "code": "24590-2",
                                    "display": "MRI of brain"}]},
               "subject": {"reference": "Patient/p1"},
               "effectiveDateTime": "2026-01-02T10:20:30Z",
               "issued": "2026-01-02T12:00:00Z",
               "imagingStudy": [{"reference": "ImagingStudy/s1"}],
               "result": [{"reference": "Observation/g1"}],
               "resultsInterpreter": [{"display": "Doe^John"}],
               "conclusion": "Hippocampal hyperintensity."}),
        entry({"resourceType": "Patient", "id": "p1",
               "identifier": [{"system": "urn:oid:1.2.3.4", "value": "12345"}],
               "name": [{"family": "Roe", "given": ["Alex", "B"]}], "gender": "male"}),
        entry({"resourceType": "ImagingStudy", "id": "s1", "status": "available",
               "subject": {"reference": "Patient/p1"},
               "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:1.2.3.4.5"}],
               "started": "2026-01-02T10:20:30Z"}),
        entry({"resourceType": "Observation", "id": "g1", "status": "final",
               "category": [{"coding": [{"system": DCM, "code": "125007",
                                         "display": "Measurement group"}]}],
               "code": {"coding": [{"system": DCM, "code": "125007"}]},
               "subject": {"reference": f"{BASE}Patient/p1"},
               "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:1.2.3.4.5.6"}],
               "valueCodeableConcept": {"coding": [
                   {"system": "http://example.org/x", "code": "abc"},
                   {"system": LOCAL, "code": "PTN-DEEP", "display": "deep structures"}]},
               "bodySite": {"coding": [{"system": SCT, "code": "5366008",
                                        "display": "Hippocampus (body structure)"}]},
               "hasMember": [{"reference": "Observation/e1"}, {"reference": "Observation/e2"},
                             {"reference": f"{BASE}Observation/e3/_history/2"}]}),
        entry({"resourceType": "Observation", "id": "e2", "status": "final",
               "code": {"coding": [{"system": SCT, "code": "246206008"}]},
               "subject": {"reference": "Patient/p1"},
               "valueCodeableConcept": {"coding": [
                   {"system": "http://radlex.org", "code": "RID5765"},
                   {"system": SCT, "code": "255204007"}]}}),
        entry({"resourceType": "Observation", "id": "e3", "status": "final",
               "code": {"coding": [{"system": DCM, "code": "112006"}]},
               "subject": {"reference": "Patient/p1"},
               "valueCodeableConcept": {"coding": [{"system": SCT, "code": "19648000"}]}}),
        entry({"resourceType": "Condition", "id": "c1",
               "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm",
                                    "code": "G92.02"}]},
               "subject": {"reference": "Patient/p1"}}),
    ]}


def expected_other_report() -> ImagingReport:
    return ImagingReport.model_validate({
        "patient": {"id": "12345", "id_system": "urn:oid:1.2.3.4", "family_name": "Roe",
                    "given_name": "Alex B", "sex": "M"},
        "study": {"instance_uid": "1.2.3.4.5", "date": "2026-01-02", "time": "10:20:30"},
        "issued": "2026-01-02T12:00:00Z",
        "procedure": "mr_brain",
        "findings": [{"pattern": "deep_structure_involvement", "sites": ["hippocampus"],
                      "distribution": ["diffuse"], "number": "multiple",
                      "signals": [{"sequence": "t2w", "signal": "hyperintense"}],
                      "observation_uid": "1.2.3.4.5.6"}],
        "impression": "Hippocampal hyperintensity.",
        "observer_name": "Doe^John",
        "icans_grade": 2,
        "status": "final",  # as the DiagnosticReport says; it names no verifier
    })


def entry_index(bundle: dict[str, Any], rid: str) -> int:
    return next(i for i, e in enumerate(bundle["entry"]) if e["resource"].get("id") == rid)


def codes_of(found: list[Issue]) -> list[str]:
    return [i.code for i in found]


# ---------------------------------------------------------------------------------------------
# Tolerance


def test_other_producer_bundle_reads_into_the_expected_report() -> None:
    report, found = fhir.read(other_producer_bundle())
    assert found == []
    assert report == expected_other_report()
    assert report is not None
    finding = report.findings[0]
    # no tracking UID in the bundle: derived from the study UID and the finding's content
    assert finding.tracking_uid is not None and finding.tracking_uid.startswith("2.25.")


def test_other_producer_bundle_as_text_and_bytes() -> None:
    text = json.dumps(other_producer_bundle())
    assert fhir.read(text)[0] == expected_other_report()
    assert fhir.read(text.encode("utf-8"))[0] == expected_other_report()
    assert fhir.read(b"\xef\xbb\xbf" + text.encode("utf-8"))[0] == expected_other_report()


def test_reads_a_fhir_resources_model() -> None:
    from fhir.resources.R4B.bundle import Bundle

    bundle = other_producer_bundle()
    bundle["type"] = "collection"
    model = Bundle.model_validate(bundle)
    assert fhir.read(model)[0] == expected_other_report()


def test_entry_order_and_reference_forms_do_not_matter() -> None:
    bundle = other_producer_bundle()
    bundle["entry"].reverse()
    for entry in bundle["entry"]:  # ids only, no fullUrl
        del entry["fullUrl"]
    assert fhir.read(bundle) == (expected_other_report(), [])


def test_unknown_code_is_an_issue_with_its_exact_path() -> None:
    bundle = other_producer_bundle()
    index = entry_index(bundle, "e1")
    bundle["entry"][index]["resource"]["valueCodeableConcept"] = {"coding": [
        {"system": "http://radlex.org", "code": "RID99999"}]}
    report, found = fhir.read(bundle)
    assert [(i.code, i.severity, i.location) for i in found] == [
        ("unknown-code", "warning",
         f"Bundle.entry[{index}].resource.valueCodeableConcept.coding[0]")]
    assert "http://radlex.org|RID99999" in found[0].message
    assert report is not None
    assert report.findings[0].signals == ()  # the unknown item is skipped, the rest read


def test_unknown_pattern_code_path() -> None:
    bundle = other_producer_bundle()
    index = entry_index(bundle, "g1")
    bundle["entry"][index]["resource"]["valueCodeableConcept"] = {"coding": [
        {"system": "http://example.org/x", "code": "abc"},
        {"system": SCT, "code": "404684003"}]}
    report, found = fhir.read(bundle)
    assert report is not None and report.findings == ()
    (issue,) = [i for i in found if i.code == "unknown-code"]
    assert issue.location == f"Bundle.entry[{index}].resource.valueCodeableConcept.coding[0]"


def test_known_code_in_the_wrong_place_is_wrong_role() -> None:
    bundle = other_producer_bundle()
    index = entry_index(bundle, "e3")
    bundle["entry"][index]["resource"]["valueCodeableConcept"] = {"coding": [
        {"system": "http://loinc.org", "code": "banana"},
        {"system": SCT, "code": "5366008"}]}  # hippocampus is not a distribution
    report, found = fhir.read(bundle)
    assert [(i.code, i.location) for i in found] == [
        ("wrong-role", f"Bundle.entry[{index}].resource.valueCodeableConcept.coding[1]")]
    assert report is not None and report.findings[0].distribution == ()


def test_unresolved_member_reference() -> None:
    bundle = other_producer_bundle()
    index = entry_index(bundle, "g1")
    bundle["entry"][index]["resource"]["hasMember"].append({"reference": "Observation/nope"})
    report, found = fhir.read(bundle)
    assert report == expected_other_report()
    assert [(i.code, i.location) for i in found] == [
        ("unresolved-reference", f"Bundle.entry[{index}].resource.hasMember[3].reference")]


def test_missing_study_uid_is_an_error_without_report() -> None:
    bundle = other_producer_bundle()
    index = entry_index(bundle, "s1")
    del bundle["entry"][index]["resource"]["identifier"]
    report, found = fhir.read(bundle)
    assert report is None
    assert [(i.code, i.location) for i in found] == [
        ("missing-required", f"Bundle.entry[{index}].resource.identifier")]


def test_study_uid_from_a_logical_reference_when_no_imaging_study() -> None:
    bundle = other_producer_bundle()
    bundle["entry"].pop(entry_index(bundle, "s1"))
    report_res = bundle["entry"][entry_index(bundle, "r1")]["resource"]
    report_res["imagingStudy"] = [{"identifier": {"system": "urn:dicom:uid",
                                                  "value": "urn:oid:1.2.3.4.5"}}]
    assert fhir.read(bundle) == (expected_other_report(), [])


def test_ice_total_without_items_is_reported() -> None:
    bundle = other_producer_bundle()
    bundle["entry"].append({"resource": {
        "resourceType": "Observation", "id": "ice", "status": "final",
        "code": {"coding": [{"system": LOCAL, "code": "ICE-SCORE"}]},
        "effectiveDateTime": "2026-01-02T09:00:00+01:00", "valueInteger": 7}})
    report, found = fhir.read(bundle)
    assert report is not None and report.assessment is not None
    assert report.assessment.ice is None
    assert report.icans_grade is None  # the assessment exists: the Condition is not a grade
    assert [(i.code, i.location) for i in found] == [
        ("missing-required", f"Bundle.entry[{len(bundle['entry']) - 1}].resource.component")]


# ---------------------------------------------------------------------------------------------
# Hostile input: never raises.


@pytest.mark.parametrize(("source", "code"), [
    ("{not json", "unreadable"),
    (b"\xff\xfe\x00garbage", "unreadable"),
    ("", "unreadable"),
    (42, "unreadable"),
    ("[1, 2]", "invalid-value"),
    ('{"resourceType": "Patient"}', "invalid-value"),
    ('{"resourceType": "Bundle"}', "missing-required"),
    ('{"resourceType": "Bundle", "type": "collection", "entry": []}', "missing-required"),
    ("[" * 10_000 + "]" * 10_000, "too-deep"),
    ('{"a":' * 10_000 + "1" + "}" * 10_000, "too-deep"),
])
def test_bad_input_gives_an_issue_and_no_report(source: Any, code: str) -> None:
    report, found = fhir.read(source)
    assert report is None
    assert code in codes_of(found), found
    assert all(i.severity == "error" for i in found if i.code == code)


def test_deep_dict_is_rejected_before_any_model() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(10_000):
        node["x"] = {}
        node = node["x"]
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": {"resourceType": "Observation", "extension": [deep]}}]}
    report, found = fhir.read(bundle)
    assert report is None and codes_of(found) == ["too-deep"]
    cyclic: dict[str, Any] = {"resourceType": "Bundle"}
    cyclic["self"] = cyclic
    assert codes_of(fhir.read(cyclic)[1]) == ["too-deep"]


def test_moderately_deep_json_inside_an_entry() -> None:
    text = json.dumps(other_producer_bundle())
    text = text[:-2] + ', {"resource": {"resourceType": "Basic", "x": ' + "[" * 500 + \
        "]" * 500 + "}}]}"
    report, found = fhir.read(text)
    assert report is None and codes_of(found) == ["too-deep"]


def test_too_large_input() -> None:
    from icans_interop.fhir import reader

    # JSON text (a str starting with "{" after whitespace; any other str is a path)
    report, found = fhir.read(" {" + " " * reader.MAX_SIZE + "}")
    assert report is None and codes_of(found) == ["too-large"]


def test_wrong_types_everywhere_do_not_raise() -> None:
    bundle = other_producer_bundle()
    for entry in bundle["entry"]:
        resource = entry["resource"]
        for key in list(resource):
            if key not in ("resourceType", "id"):
                broken = copy.deepcopy(bundle)
                broken["entry"][bundle["entry"].index(entry)]["resource"][key] = 7
                report, found = fhir.read(broken)
                assert report is None or isinstance(report, ImagingReport)
                assert isinstance(found, list)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(_paths(value, (*prefix, index)))
    return out


_OUR_BUNDLE = json.loads(fhir.write_json(load_case(DEEP.read_text(encoding="utf-8"))))
_OUR_PATHS = _paths(_OUR_BUNDLE)[1:]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_OUR_PATHS), json_values), min_size=1, max_size=4))
def test_mutated_bundles_never_raise(mutations: list[tuple[tuple[Any, ...], Any]]) -> None:
    bundle = copy.deepcopy(_OUR_BUNDLE)
    for path, value in mutations:
        node: Any = bundle
        try:
            for step in path[:-1]:
                node = node[step]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    report, found = fhir.read(bundle)
    assert report is None or isinstance(report, ImagingReport)
    assert all(isinstance(i, Issue) for i in found)
    if report is None:
        assert any(i.severity == "error" for i in found)


def test_partial_birth_date_is_dropped_with_a_warning() -> None:
    bundle = other_producer_bundle()
    index = entry_index(bundle, "p1")
    bundle["entry"][index]["resource"]["birthDate"] = "1961"
    report, found = fhir.read(bundle)
    assert report == expected_other_report()
    assert [(i.severity, i.code, i.location) for i in found] == [
        ("warning", "invalid-value", f"Bundle.entry[{index}].resource.birthDate")]
    bundle["entry"][index]["resource"]["birthDate"] = "12/03/1961"
    assert [(i.severity, i.code) for i in fhir.read(bundle)[1]] == [("error", "invalid-value")]


def test_naive_issued_is_invalid() -> None:
    bundle = other_producer_bundle()
    index = entry_index(bundle, "r1")
    bundle["entry"][index]["resource"]["issued"] = "2026-01-02T12:00:00"
    report, found = fhir.read(bundle)
    assert report is None
    assert [(i.code, i.location) for i in found] == [
        ("invalid-value", f"Bundle.entry[{index}].resource.issued")]


def test_grade_statements_come_from_the_imaging_report_the_reader_chose() -> None:
    """A laboratory DiagnosticReport ahead of the imaging report is not read (ignored-item);
    its conclusionCode must not count as the report's grade statement, the imaging report's
    must."""
    from icans_interop.model import load_case
    from icans_interop.validation.fhir import validate_fhir

    case = Path(__file__).resolve().parent.parent / "fixtures" / "valid" / \
        "example-grade3-deep.json"
    bundle = json.loads(fhir.write_json(load_case(case.read_text(encoding="utf-8"))))
    patient = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    bundle["entry"].insert(0, {
        "fullUrl": "urn:uuid:0b6c1f5e-5d7a-4c55-9a51-6a3f2f0c1d11",
        "resource": {
            "resourceType": "DiagnosticReport", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                                      "code": "LAB"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "57698-3"}]},
            "subject": {"reference": patient["fullUrl"]},
            "conclusionCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm",
                                            "code": "G92.05"}]}]},
        "request": {"method": "POST", "url": "DiagnosticReport"}})
    data = json.dumps(bundle).encode()
    statements = fhir.read(data).grade_statements
    assert {s.grade for s in statements} == {3}
    assert any(s.location.startswith("Bundle.entry[1].resource.conclusionCode")
               for s in statements)
    result = validate_fhir(data, profile="icans")
    assert result.valid and "grade-mismatch" not in {i.code for i in result.issues}
