"""Planted-defect corpus for the FHIR validator.

Each case starts from a valid bundle written by our FHIR writer (the grade-3 fixture, R4
transaction unless said otherwise), plants ONE defect, and asserts the exact issue code and
location it must produce. Errors other than the expected ones fail the case unless the case
lists them as consequences of the same defect. Raw cases give the input (a whole resource or
Bundle) and the expected issue directly.

Where Medplum's validator (tools/fhir-validator) checks the rule, the case names a fragment
of its message (``medplum``) and :func:`test_medplum_confirms_the_planted_defect` checks that
the independent validator reports the same defect; the other cases cite the R4 rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

try:
    import oracles
except ImportError:  # tests/ imported as a package
    from tests import oracles  # type: ignore[no-redef]

from icans_interop.fhir.writer import build
from icans_interop.issues import catalogue
from icans_interop.model import load_case
from icans_interop.validation.fhir import validate_fhir

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "valid" / "example-grade3-deep.json"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
ICANS_G3 = "Immune effector cell-associated neurotoxicity syndrome, grade 3"

Json = dict[str, Any]


def _bundle(version: str = "R4", kind: str = "transaction") -> Json:
    report = load_case(FIXTURE.read_bytes())
    # A JSON round trip: the writer shares sub-dicts (subject...) between resources.
    data: Json = json.loads(json.dumps(build(report, version, kind)))  # type: ignore[arg-type]
    return data


def index_of(bundle: Json, rtype: str, code: str | None = None, nth: int = 0) -> int:
    """Index of the nth entry of ``rtype`` (whose code has ``code``, when given)."""
    found = 0
    for index, entry in enumerate(bundle["entry"]):
        res = entry["resource"]
        if res["resourceType"] != rtype:
            continue
        if code is not None:
            codings = res.get("code", {}).get("coding", [])
            if not any(c.get("code") == code for c in codings):
                continue
        if found == nth:
            return index
        found += 1
    raise LookupError(f"no {rtype} {code or ''} #{nth}")


def res(bundle: Json, rtype: str, code: str | None = None, nth: int = 0) -> Json:
    resource: Json = bundle["entry"][index_of(bundle, rtype, code, nth)]["resource"]
    return resource


def at(bundle: Json, rtype: str, code: str | None = None, nth: int = 0) -> str:
    return f"Bundle.entry[{index_of(bundle, rtype, code, nth)}].resource"


GROUP = "121071"  # the measurement-group Observation (code DCM 121071 Finding)
ICE = "ICE-SCORE"


@dataclass
class Case:
    name: str
    #: plants the defect and returns the expected (severity, code, location)
    plant: Callable[[Json], tuple[str, str, str]] | None = None
    raw: bytes | None = None
    expected_raw: tuple[str, str, str] | None = None
    profile: str = "base"
    version: str = "R4"
    kind: str = "transaction"
    #: other error codes the same defect legitimately causes
    consequences: tuple[str, ...] = field(default_factory=tuple)
    #: a fragment of Medplum's error message that confirms the defect (None: Medplum does not
    #: check this rule)
    medplum: str | None = None


def _status(b: Json) -> tuple[str, str, str]:
    res(b, "Observation", GROUP)["status"] = "done"
    return "error", "not-in-value-set", at(b, "Observation", GROUP) + ".status"


def _missing_code(b: Json) -> tuple[str, str, str]:
    where = at(b, "Observation", GROUP)
    del res(b, "Observation", GROUP)["code"]
    return "error", "missing-required", where + ".code"


def _gender(b: Json) -> tuple[str, str, str]:
    res(b, "Patient")["gender"] = "woman"
    return "error", "not-in-value-set", at(b, "Patient") + ".gender"


def _dangling(b: Json) -> tuple[str, str, str]:
    res(b, "Observation", GROUP)["subject"] = {
        "reference": "urn:uuid:00000000-0000-4000-8000-000000000000"}
    return "error", "dangling-reference", at(b, "Observation", GROUP) + ".subject.reference"


def _subject_practitioner(b: Json) -> tuple[str, str, str]:
    practitioner = b["entry"][index_of(b, "Practitioner")]["fullUrl"]
    res(b, "Observation", GROUP)["subject"] = {"reference": practitioner}
    return "error", "reference-wrong-type", at(b, "Observation", GROUP) + ".subject.reference"


def _result_patient(b: Json) -> tuple[str, str, str]:
    patient = b["entry"][index_of(b, "Patient")]["fullUrl"]
    res(b, "DiagnosticReport")["result"][0] = {"reference": patient}
    return "error", "reference-wrong-type", at(b, "DiagnosticReport") + ".result[0].reference"


def _part_of_device(b: Json) -> tuple[str, str, str]:
    device = b["entry"][index_of(b, "Device")]["fullUrl"]
    res(b, "Observation", GROUP)["partOf"] = [{"reference": device}]
    return "error", "reference-wrong-type", at(b, "Observation", GROUP) + ".partOf[0].reference"


def _condition_coding(b: Json) -> Json:
    coding: Json = res(b, "Condition")["code"]["coding"][0]
    return coding


def _not_billable(b: Json) -> tuple[str, str, str]:
    _condition_coding(b).update(code="G92.0", display=(
        "Immune effector cell-associated neurotoxicity syndrome"))
    return "error", "code-not-billable", at(b, "Condition") + ".code.coding[0].code"


def _unknown_icd(b: Json) -> tuple[str, str, str]:
    _condition_coding(b)["code"] = "G92.09"
    return "error", "code-unknown", at(b, "Condition") + ".code.coding[0].code"


def _display(b: Json) -> tuple[str, str, str]:
    _condition_coding(b)["display"] = "ICANS grade three"
    return "warning", "display-mismatch", at(b, "Condition") + ".code.coding[0].display"


def _bad_snomed(b: Json) -> tuple[str, str, str]:
    group = res(b, "Observation", GROUP)
    group["component"][0]["valueCodeableConcept"]["coding"][0]["code"] = "12738007"
    return ("error", "code-unknown",
            at(b, "Observation", GROUP) + ".component[0].valueCodeableConcept.coding[0].code")


def _obs6(b: Json) -> tuple[str, str, str]:
    res(b, "Observation", GROUP)["dataAbsentReason"] = {"text": "not asked"}
    return "error", "invariant-failed", at(b, "Observation", GROUP)


def _obs7(b: Json) -> tuple[str, str, str]:
    ice = res(b, "Observation", ICE)
    ice["component"].append({"code": ice["code"], "valueInteger": 4})
    return "error", "invariant-failed", at(b, "Observation", ICE)


def _dom2(b: Json) -> tuple[str, str, str]:
    group = res(b, "Observation", GROUP)
    group["contained"] = [{"resourceType": "Device", "id": "d1", "manufacturer": "x",
                           "contained": [{"resourceType": "Device", "id": "d2",
                                          "manufacturer": "y"}]}]
    group["device"] = {"reference": "#d1"}
    return "error", "invariant-failed", at(b, "Observation", GROUP)


def _dom3(b: Json) -> tuple[str, str, str]:
    res(b, "Observation", GROUP)["contained"] = [
        {"resourceType": "Device", "id": "lonely", "manufacturer": "x"}]
    return "error", "invariant-failed", at(b, "Observation", GROUP) + ".contained[0]"


def _bdl7(b: Json) -> tuple[str, str, str]:
    condition = index_of(b, "Condition")
    b["entry"][condition]["fullUrl"] = b["entry"][index_of(b, "Patient")]["fullUrl"]
    return "error", "invariant-failed", f"Bundle.entry[{condition}].fullUrl"


def _bdl3_request_in_collection(b: Json) -> tuple[str, str, str]:
    condition = index_of(b, "Condition")
    b["entry"][condition]["request"] = {"method": "POST", "url": "Condition"}
    return "error", "invariant-failed", f"Bundle.entry[{condition}].request"


def _bdl3_missing_request(b: Json) -> tuple[str, str, str]:
    condition = index_of(b, "Condition")
    del b["entry"][condition]["request"]
    return "error", "invariant-failed", f"Bundle.entry[{condition}]"


def _bdl8(b: Json) -> tuple[str, str, str]:
    condition = index_of(b, "Condition")
    rid = b["entry"][condition]["resource"]["id"]
    b["entry"][condition]["fullUrl"] = f"http://fhir.example.org/r4/Condition/{rid}/_history/2"
    return "error", "invariant-failed", f"Bundle.entry[{condition}].fullUrl"


def _bundle_type(b: Json) -> tuple[str, str, str]:
    b["type"] = "bag"
    return "error", "not-in-value-set", "Bundle.type"


def _method(b: Json) -> tuple[str, str, str]:
    b["entry"][1]["request"]["method"] = "FETCH"
    return "error", "not-in-value-set", "Bundle.entry[1].request.method"


def _clinical_status(b: Json) -> tuple[str, str, str]:
    res(b, "Condition")["clinicalStatus"]["coding"][0]["code"] = "ongoing"
    return "error", "not-in-value-set", at(b, "Condition") + ".clinicalStatus"


def _date(b: Json) -> tuple[str, str, str]:
    res(b, "Observation", GROUP)["effectiveDateTime"] = "2026-11-3"
    return "error", "invalid-value", at(b, "Observation", GROUP) + ".effectiveDateTime"


def _json_type(b: Json) -> tuple[str, str, str]:
    res(b, "Observation", GROUP)["status"] = ["final"]
    return "error", "invalid-value", at(b, "Observation", GROUP) + ".status"


def _unknown_element(b: Json) -> tuple[str, str, str]:
    res(b, "Patient")["sex"] = "female"
    return "error", "unknown-element", at(b, "Patient") + ".sex"


def _two_values(b: Json) -> tuple[str, str, str]:
    res(b, "Observation", GROUP)["valueString"] = "deep structure involvement"
    return "error", "invalid-value", at(b, "Observation", GROUP)


def _empty_object(b: Json) -> tuple[str, str, str]:
    where = at(b, "Observation", GROUP)
    res(b, "Observation", GROUP)["code"] = {}
    return "error", "invariant-failed", where + ".code"


def _ext1(b: Json) -> tuple[str, str, str]:
    res(b, "Patient")["extension"] = [{"url": "http://example.org/fhir/StructureDefinition/x"}]
    return "error", "invariant-failed", at(b, "Patient") + ".extension[0]"


def _reference_type(b: Json) -> tuple[str, str, str]:
    res(b, "Observation", GROUP)["subject"]["type"] = "Group"
    return "error", "reference-wrong-type", at(b, "Observation", GROUP) + ".subject.type"


def _ref1(b: Json) -> tuple[str, str, str]:
    res(b, "Observation", GROUP)["device"] = {"reference": "#nowhere"}
    return "error", "invariant-failed", at(b, "Observation", GROUP) + ".device.reference"


def _conditional_outside_transaction(b: Json) -> tuple[str, str, str]:
    res(b, "Observation", GROUP)["subject"] = {"reference": "Patient?identifier=MRN-100234"}
    return "error", "invalid-value", at(b, "Observation", GROUP) + ".subject.reference"


def _conditional_ambiguous(b: Json) -> tuple[str, str, str]:
    study = b["entry"][index_of(b, "ImagingStudy")]
    twin = json.loads(json.dumps(study))
    twin["fullUrl"] = "urn:uuid:11111111-2222-4333-8444-555555555555"
    twin["resource"]["id"] = "11111111-2222-4333-8444-555555555555"
    b["entry"].append(twin)
    query = study["request"]["ifNoneExist"]
    res(b, "Observation", GROUP)["partOf"] = [{"reference": f"ImagingStudy?{query}"}]
    return "error", "dangling-reference", at(b, "Observation", GROUP) + ".partOf[0].reference"


def _qty3(b: Json) -> tuple[str, str, str]:
    ice = res(b, "Observation", ICE)
    del ice["valueInteger"]
    ice["valueQuantity"] = {"value": 4, "code": "{score}"}
    return "error", "invariant-failed", at(b, "Observation", ICE) + ".valueQuantity"


def _per1(b: Json) -> tuple[str, str, str]:
    group = res(b, "Observation", GROUP)
    del group["effectiveDateTime"]
    group["effectivePeriod"] = {"start": "2026-11-03T15:00:00+01:00",
                                "end": "2026-11-03T14:00:00+01:00"}
    return "error", "invariant-failed", at(b, "Observation", GROUP) + ".effectivePeriod"


def _txt1(b: Json) -> tuple[str, str, str]:
    res(b, "Patient")["text"] = {
        "status": "generated",
        "div": '<div xmlns="http://www.w3.org/1999/xhtml">Jane<script>alert(1)</script></div>'}
    return "error", "invariant-failed", at(b, "Patient") + ".text.div"


def _unknown_resource_type(b: Json) -> tuple[str, str, str]:
    where = at(b, "Condition")
    res(b, "Condition")["resourceType"] = "Conditon"
    return "error", "invalid-value", where + ".resourceType"


def _grade_mismatch(b: Json) -> tuple[str, str, str]:
    _condition_coding(b).update(
        code="G92.02",
        display="Immune effector cell-associated neurotoxicity syndrome, grade 2")
    return "error", "grade-mismatch", at(b, "Condition") + ".code.coding[0].code"


def _site_outside_pattern(b: Json) -> tuple[str, str, str]:
    group = res(b, "Observation", GROUP)
    group["component"][0]["valueCodeableConcept"] = {
        "coding": [{"system": SNOMED, "code": "12738006", "display": "Brain"}]}
    return ("warning", "site-outside-pattern",
            at(b, "Observation", GROUP) + ".component[0].valueCodeableConcept")


def _r5_body_structure(b: Json) -> tuple[str, str, str]:
    patient = b["entry"][index_of(b, "Patient")]["fullUrl"]
    res(b, "Observation", GROUP)["bodyStructure"] = {"reference": patient}
    return "error", "reference-wrong-type", at(b, "Observation", GROUP) + ".bodyStructure.reference"


def _r5_status(b: Json) -> tuple[str, str, str]:
    res(b, "DiagnosticReport")["status"] = "signed"
    return "error", "not-in-value-set", at(b, "DiagnosticReport") + ".status"


PATIENT = "Patient"
UCUM = "http://unitsofmeasure.org"


def _boolean_as_string(b: Json) -> tuple[str, str, str]:
    res(b, PATIENT)["active"] = "true"
    return "error", "invalid-value", at(b, PATIENT) + ".active"


def _integer_as_string(b: Json) -> tuple[str, str, str]:
    res(b, "Observation", ICE)["valueInteger"] = "4"
    return "error", "invalid-value", at(b, "Observation", ICE) + ".valueInteger"


def _decimal_as_string(b: Json) -> tuple[str, str, str]:
    ice = res(b, "Observation", ICE)
    del ice["valueInteger"]
    ice["valueQuantity"] = {"value": "4", "unit": "{score}", "system": UCUM, "code": "{score}"}
    return "error", "invalid-value", at(b, "Observation", ICE) + ".valueQuantity.value"


def _integer_with_fraction(b: Json) -> tuple[str, str, str]:
    res(b, "Observation", ICE)["valueInteger"] = 4.5
    return "error", "invalid-value", at(b, "Observation", ICE) + ".valueInteger"


def _integer_beyond_32_bits(b: Json) -> tuple[str, str, str]:
    res(b, "Observation", ICE)["valueInteger"] = 2**31
    return "error", "invalid-value", at(b, "Observation", ICE) + ".valueInteger"


def _uri_with_space(b: Json) -> tuple[str, str, str]:
    coding = res(b, PATIENT)["identifier"][0]["type"]["coding"][0]
    coding["system"] = "http://terminology.hl7.org/CodeSystem/v2 0203"
    return ("error", "invalid-value",
            at(b, PATIENT) + ".identifier[0].type.coding[0].system")


def _id_too_long(b: Json) -> tuple[str, str, str]:
    res(b, PATIENT)["id"] = "p" * 65
    return "error", "invalid-value", at(b, PATIENT) + ".id"


def _string_over_1mb(b: Json) -> tuple[str, str, str]:
    res(b, PATIENT)["name"][0]["text"] = "x" * (1024 * 1024 + 1)
    return "error", "invalid-value", at(b, PATIENT) + ".name[0].text"


def _invalid_base64(b: Json) -> tuple[str, str, str]:
    res(b, "DiagnosticReport")["presentedForm"] = [{"contentType": "text/plain",
                                                   "data": "..."}]
    return "error", "invalid-value", at(b, "DiagnosticReport") + ".presentedForm[0].data"


def _attachment_size(b: Json) -> tuple[str, str, str]:
    res(b, "DiagnosticReport")["presentedForm"] = [{"contentType": "text/plain",
                                                   "data": "aGVsbG8=", "size": 100}]
    return "error", "invalid-value", at(b, "DiagnosticReport") + ".presentedForm[0].size"


def _undefined_entity(b: Json) -> tuple[str, str, str]:
    res(b, PATIENT)["text"] = {
        "status": "generated",
        "div": '<div xmlns="http://www.w3.org/1999/xhtml">Jane Doe &reg;</div>'}
    return "error", "invariant-failed", at(b, PATIENT) + ".text.div"


def _missing_status(b: Json) -> tuple[str, str, str]:
    where = at(b, "Observation", GROUP)
    del res(b, "Observation", GROUP)["status"]
    return "error", "missing-required", where + ".status"


def _narrative_without_div(b: Json) -> tuple[str, str, str]:
    res(b, PATIENT)["text"] = {"status": "generated"}
    return "error", "missing-required", at(b, PATIENT) + ".text.div"


def _unknown_primitive_extension(b: Json) -> tuple[str, str, str]:
    res(b, PATIENT)["_sex"] = {"extension": [
        {"url": "http://example.org/fhir/StructureDefinition/x", "valueString": "x"}]}
    return "error", "unknown-element", at(b, PATIENT) + "._sex"


def _relative_full_url(b: Json) -> tuple[str, str, str]:
    condition = index_of(b, "Condition")
    b["entry"][condition]["fullUrl"] = "Condition/" + b["entry"][condition]["resource"]["id"]
    return "error", "invalid-value", f"Bundle.entry[{condition}].fullUrl"


def _full_url_disagrees(b: Json) -> tuple[str, str, str]:
    condition = index_of(b, "Condition")
    b["entry"][condition]["fullUrl"] = "http://fhir.example.org/r4/Condition/another-one"
    return "error", "invalid-value", f"Bundle.entry[{condition}].fullUrl"


def _two_self_links(b: Json) -> tuple[str, str, str]:
    b["link"] = [{"relation": "self", "url": "http://fhir.example.org/r4/Bundle/1"},
                 {"relation": "self", "url": "http://fhir.example.org/r4/Bundle/2"}]
    return "error", "invalid-value", "Bundle.link[1]"


def _relative_coding_system(b: Json) -> tuple[str, str, str]:
    res(b, PATIENT)["identifier"][0]["type"]["coding"][0]["system"] = "v2-0203"
    return ("error", "invalid-value",
            at(b, PATIENT) + ".identifier[0].type.coding[0].system")


def _value_set_as_system(b: Json) -> tuple[str, str, str]:
    res(b, PATIENT)["identifier"][0]["type"]["coding"][0]["system"] = \
        "http://hl7.org/fhir/ValueSet/identifier-type"
    return ("error", "invalid-value",
            at(b, PATIENT) + ".identifier[0].type.coding[0].system")


def _raw(resource: Json) -> bytes:
    return json.dumps(resource).encode()


_SUBJECT = {"reference": "Patient/example"}
_RAS_2 = _raw({"resourceType": "RiskAssessment", "id": "ra", "status": "final",
               "subject": _SUBJECT, "prediction": [{"probabilityDecimal": 150}]})
_CSD_1 = _raw({"resourceType": "CodeSystem", "id": "cs", "url": "http://example.org/cs",
               "status": "draft", "content": "complete",
               "concept": [{"code": "a"}, {"code": "b"}, {"code": "a"}]})
_QUE_12 = _raw({"resourceType": "Questionnaire", "id": "q", "status": "draft", "item": [
    {"linkId": "1", "type": "boolean"}, {"linkId": "2", "type": "boolean"},
    {"linkId": "3", "type": "string", "enableWhen": [
        {"question": "1", "operator": "=", "answerBoolean": True},
        {"question": "2", "operator": "=", "answerBoolean": True}]}]})
_PER_1_IN_ENCOUNTER = _raw({
    "resourceType": "Encounter", "id": "e", "status": "finished",
    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
    "period": {"start": "2024-05-02T10:00:00Z", "end": "2024-05-01T10:00:00Z"}})
_CTM_1 = _raw({"resourceType": "CareTeam", "id": "ct", "participant": [
    {"member": {"reference": "Practitioner/p"}, "onBehalfOf": {"reference": "Organization/o"}}]})
_SEARCH_RESULT_WITHOUT_ID = _raw({
    "resourceType": "Bundle", "id": "s", "type": "searchset",
    "link": [{"relation": "self", "url": "http://fhir.example.org/r4/Patient?name=doe"}],
    "entry": [{"fullUrl": "http://fhir.example.org/r4/Patient/x",
               "resource": {"resourceType": "Patient", "name": [{"family": "Doe"}]},
               "search": {"mode": "match"}}]})
_SEARCH_WRONG_TYPE = _raw({
    "resourceType": "Bundle", "id": "s", "type": "searchset",
    "link": [{"relation": "self", "url": "http://fhir.example.org/r4/Patient?name=doe"}],
    "entry": [{"fullUrl": "http://fhir.example.org/r4/Device/d",
               "resource": {"resourceType": "Device", "id": "d"},
               "search": {"mode": "match"}}]})
_SEARCH_OUTCOME_NOT_OO = _raw({
    "resourceType": "Bundle", "id": "s", "type": "searchset",
    "entry": [{"fullUrl": "http://fhir.example.org/r4/Patient/p",
               "resource": {"resourceType": "Patient", "id": "p"},
               "search": {"mode": "outcome"}}]})
_VERSIONS = [{"fullUrl": "http://fhir.example.org/r4/Patient/p",
              "resource": {"resourceType": "Patient", "id": "p",
                           "meta": {"versionId": version}}} for version in ("1", "2")]
_TWO_MATCHES = _raw({
    "resourceType": "Bundle", "id": "c", "type": "collection", "entry": [
        {"fullUrl": "http://fhir.example.org/r4/Observation/o", "resource": {
            "resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"},
            "subject": {"reference": "Patient/p"}}}, *_VERSIONS]})
_VERSION_NOT_IN_DOCUMENT = _raw({
    "resourceType": "Bundle", "id": "d", "type": "document",
    "identifier": {"system": "urn:ietf:rfc:3986",
                   "value": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"},
    "timestamp": "2024-05-01T10:00:00Z", "entry": [
        {"fullUrl": "http://fhir.example.org/r4/Composition/c", "resource": {
            "resourceType": "Composition", "id": "c", "status": "final",
            "type": {"text": "note"}, "date": "2024-05-01", "title": "Note",
            "author": [{"display": "Dr X"}], "subject": {"reference": "Patient/p/_history/3"}}},
        *_VERSIONS]})


_VALID_JSON = json.dumps(_bundle()).encode()
_PRETTY = json.dumps(_bundle(), indent=2)
_BROKEN_AT = _PRETTY.index('"status": "final"') + len('"status": ')
_BROKEN = _PRETTY[:_BROKEN_AT] + _PRETTY[_BROKEN_AT + 1:]  # drop an opening quote
_BROKEN_LINE = _PRETTY.count("\n", 0, _BROKEN_AT) + 1
_BROKEN_COLUMN = _BROKEN_AT - _PRETTY.rfind("\n", 0, _BROKEN_AT)
_NOT_UTF8 = b'{"resourceType": "Patient", "gender": "\xff"}'
_NOT_UTF8_AT = _NOT_UTF8.index(b"\xff")

CASES = [
    # R4 JSON primitive rules (json.html, datatypes.html): the walk checks them before
    # fhir.resources, which would coerce "true" and "4"
    Case("boolean as a string", _boolean_as_string, medplum="expected boolean"),
    Case("integer as a string", _integer_as_string, medplum="expected number"),
    Case("decimal as a string", _decimal_as_string, medplum="expected number"),
    Case("integer with a fraction", _integer_with_fraction, medplum="to be an integer"),
    Case("integer beyond 32 bits", _integer_beyond_32_bits),
    Case("uri with a space", _uri_with_space, medplum="Invalid uri format"),
    Case("id longer than 64 characters", _id_too_long),
    Case("string over 1 MB", _string_over_1mb, medplum="String cannot be larger than 1 MB"),
    Case("invalid base64Binary", _invalid_base64, medplum="Invalid base64Binary format"),
    Case("Attachment.size disagrees with data", _attachment_size),
    Case("undefined XHTML entity in the narrative", _undefined_entity),
    Case("missing required primitive", _missing_status, medplum="Missing required property"),
    Case("narrative without div", _narrative_without_div,
         medplum="Missing required property"),
    Case("_name of no element", _unknown_primitive_extension),
    # Bundle rules (bundle.html)
    Case("relative fullUrl", _relative_full_url, consequences=("dangling-reference",)),
    Case("fullUrl disagrees with the id", _full_url_disagrees,
         consequences=("dangling-reference",)),
    Case("two self links", _two_self_links),
    Case("Coding.system not absolute", _relative_coding_system),
    Case("Coding.system is a value set", _value_set_as_system),
    Case("ras-2 in a RiskAssessment", raw=_RAS_2,
         expected_raw=("error", "invariant-failed", "RiskAssessment.prediction[0]"),
         medplum="Constraint ras-2 not met"),
    Case("csd-1 duplicate code in a CodeSystem", raw=_CSD_1,
         expected_raw=("error", "invariant-failed", "CodeSystem"),
         medplum="Constraint csd-1 not met"),
    Case("que-12 two enableWhen without enableBehavior", raw=_QUE_12,
         expected_raw=("error", "invariant-failed", "Questionnaire.item[2]")),
    Case("per-1 inside an Encounter", raw=_PER_1_IN_ENCOUNTER,
         expected_raw=("error", "invariant-failed", "Encounter.period")),
    Case("ctm-1 is not checked (resolve())", raw=_CTM_1,
         expected_raw=("information", "not-checked", "CareTeam.participant[0]")),
    Case("search result without id", raw=_SEARCH_RESULT_WITHOUT_ID,
         expected_raw=("error", "missing-required", "Bundle.entry[0].resource.id")),
    Case("search match of another type", raw=_SEARCH_WRONG_TYPE,
         expected_raw=("error", "invalid-value", "Bundle.entry[0].resource")),
    Case("search outcome that is no OperationOutcome", raw=_SEARCH_OUTCOME_NOT_OO,
         expected_raw=("error", "invalid-value", "Bundle.entry[0].resource")),
    Case("reference matching two versions", raw=_TWO_MATCHES,
         expected_raw=("error", "dangling-reference",
                       "Bundle.entry[0].resource.subject.reference")),
    Case("versioned reference no document entry has", raw=_VERSION_NOT_IN_DOCUMENT,
         expected_raw=("error", "dangling-reference",
                       "Bundle.entry[0].resource.subject.reference")),
    Case("bad Observation.status", _status),
    Case("missing Observation.code", _missing_code),
    Case("gender 'woman'", _gender),
    Case("dangling urn:uuid reference", _dangling),
    Case("Observation.subject -> Practitioner", _subject_practitioner),
    Case("DiagnosticReport.result -> Patient", _result_patient),
    Case("Observation.partOf -> Device", _part_of_device),
    Case("non-billable G92.0 as diagnosis", _not_billable),
    Case("unknown ICD-10-CM G92.09", _unknown_icd),
    Case("wrong ICD-10-CM display", _display),
    Case("SNOMED CT check digit", _bad_snomed),
    Case("obs-6 dataAbsentReason with a value", _obs6),
    Case("obs-7 component code = code with a value", _obs7),
    Case("dom-2 nested contained", _dom2),
    Case("dom-3 unreferenced contained", _dom3),
    Case("bdl-7 duplicate fullUrl", _bdl7),
    Case("bdl-3 request in a collection", _bdl3_request_in_collection, kind="collection"),
    Case("bdl-3 transaction entry without request", _bdl3_missing_request),
    Case("bdl-8 versioned fullUrl", _bdl8),
    Case("bogus Bundle.type", _bundle_type),
    Case("bogus request.method", _method),
    Case("bogus Condition.clinicalStatus", _clinical_status),
    Case("invalid dateTime", _date),
    Case("wrong JSON type", _json_type),
    Case("unknown element", _unknown_element),
    Case("two value[x]", _two_values),
    Case("ele-1 empty object", _empty_object),
    Case("ext-1 extension without value", _ext1),
    Case("Reference.type disagrees", _reference_type),
    Case("ref-1 #id without contained", _ref1),
    Case("conditional reference in a collection", _conditional_outside_transaction,
         kind="collection"),
    Case("conditional reference matching two entries", _conditional_ambiguous),
    Case("qty-3 unit code without system", _qty3),
    Case("per-1 period ends before it starts", _per1),
    Case("txt-1 script in narrative", _txt1),
    Case("unknown resourceType", _unknown_resource_type),
    Case("grade-mismatch under icans", _grade_mismatch, profile="icans"),
    Case("site outside pattern under icans", _site_outside_pattern, profile="icans"),
    Case("R5 bodyStructure -> Patient", _r5_body_structure, version="R5"),
    Case("R5 bogus DiagnosticReport.status", _r5_status, version="R5"),
    Case("invalid JSON", raw=_BROKEN.encode(),
         expected_raw=("error", "unreadable", f"line {_BROKEN_LINE}, column {_BROKEN_COLUMN}")),
    Case("10,000-deep nesting", raw=b"[" * 10_000 + b"]" * 10_000,
         expected_raw=("error", "too-deep", "<input>")),
    Case("50 MB input", raw=b"{" + b" " * (50 * 1024 * 1024) + b"}",
         expected_raw=("error", "too-large", "<input>")),
    Case("duplicate JSON property", raw=_VALID_JSON.replace(
        b'"type": "transaction"', b'"type": "transaction", "type": "transaction"', 1),
        expected_raw=("error", "invalid-value", "<input>")),
    Case("NaN is not JSON", raw=b'{"resourceType": "Observation", "valueInteger": NaN}',
         expected_raw=("error", "unreadable", "<input>")),
    Case("JSON array at top level", raw=b'[{"resourceType": "Patient"}]',
         expected_raw=("error", "invalid-value", "<input>")),
    Case("not UTF-8", raw=_NOT_UTF8,
         expected_raw=("error", "unreadable", f"byte {_NOT_UTF8_AT}")),
]


def test_corpus_size() -> None:
    assert len(CASES) >= 30
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_planted_defect(case: Case) -> None:
    if case.plant is not None:
        bundle = _bundle(case.version, case.kind)
        clean = validate_fhir(bundle, case.version, case.profile)  # type: ignore[arg-type]
        assert clean.valid, clean.to_text()
        expected = case.plant(bundle)
        source: Any = json.dumps(bundle).encode()
    else:
        assert case.raw is not None and case.expected_raw is not None
        expected = case.expected_raw
        source = case.raw
    result = validate_fhir(source, case.version, case.profile)  # type: ignore[arg-type]
    found = {(i.severity, i.code, i.location) for i in result.issues}
    assert expected in found, result.to_text()
    errors = {(i.code, i.location) for i in result.issues if i.severity == "error"}
    unexpected = {e for e in errors if e != expected[1:] and e[0] not in case.consequences}
    assert not unexpected, result.to_text()
    if expected[0] == "error":
        assert not result.valid
    else:
        assert result.valid, result.to_text()
    known = catalogue()
    assert all(i.code in known for i in result.issues), result.to_text()


MEDPLUM_CASES = [c for c in CASES if c.medplum is not None]


@pytest.mark.slow
@pytest.mark.parametrize("case", MEDPLUM_CASES, ids=[c.name for c in MEDPLUM_CASES])
def test_medplum_confirms_the_planted_defect(case: Case) -> None:
    """The independent validator reports the planted defect too (and not the clean input)."""
    if case.plant is not None:
        data: Any = _bundle(case.version, case.kind)
        case.plant(data)
    else:
        assert case.raw is not None
        data = json.loads(case.raw)
    messages = oracles.medplum_validate([data])
    assert case.medplum is not None
    assert any(case.medplum in m for m in messages), messages


def test_defect_message_names_the_value() -> None:
    bundle = _bundle()
    where = _gender(bundle)[2]
    result = validate_fhir(bundle, "R4", "base")
    (issue,) = [i for i in result.issues if i.location == where]
    assert "'woman'" in issue.message
    assert "administrative-gender" in issue.message
