"""Where fhir.resources' models are stricter than FHIR, the validator follows FHIR.

Found on the HL7 examples of fhir-test-cases (``r5/examples/parameters-example-types.json``,
the ``structuredefinition-standards-status`` extensions of R5 StructureDefinitions):

* FHIR's ``uuid`` is any RFC 4122 UUID as ``urn:uuid:`` + lower-case hex (R4/R5 datatypes,
  the definitions' regex); fhir.resources accepts version 4 only.
* A primitive ``value[x]`` of an extension may carry its own id and extensions in
  ``_valueCode`` and friends (json.html#primitive); fhir.resources' R5 ``Extension`` model has
  no such fields, so every R5 resource the walk does not type (StructureDefinition, ValueSet,
  ...) got ``unknown-element`` there.

Each gap is closed only for the input FHIR allows: malformed values stay errors.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from icans_interop.validation.fhir import validate_fhir

V1_UUID = "urn:uuid:79a14950-442c-11ed-b878-0242ac120002"  # time-based (version 1)
V4_UUID = "urn:uuid:c757873d-ec9a-4326-a141-556f43239520"


def _errors(resource: dict[str, Any], version: str) -> list[tuple[str, str]]:
    result = validate_fhir(json.dumps(resource).encode(), version=version,  # type: ignore[arg-type]
                           profile="base")
    return [(i.code, i.location) for i in result.issues if i.severity == "error"]


def _parameters(uuid: str) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [{"name": "id", "valueUuid": uuid}]}


@pytest.mark.parametrize("version", ["R4", "R5"])
@pytest.mark.parametrize("uuid", [V1_UUID, V4_UUID])
def test_a_uuid_of_any_version_is_a_fhir_uuid(version: str, uuid: str) -> None:
    assert _errors(_parameters(uuid), version) == []


@pytest.mark.parametrize("version", ["R4", "R5"])
@pytest.mark.parametrize("uuid", ["urn:uuid:not-a-uuid", V1_UUID.upper().replace("URN:UUID",
                                                                                  "urn:uuid")])
def test_a_malformed_uuid_is_still_an_error(version: str, uuid: str) -> None:
    assert _errors(_parameters(uuid), version) == [
        ("invalid-value", "Parameters.parameter[0].valueUuid")]


def _structure_definition(extension: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "StructureDefinition", "id": "x", "url": "http://example.org/sd/x",
            "name": "X", "status": "draft", "kind": "resource", "abstract": False,
            "type": "Patient", "extension": [extension],
            "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
            "derivation": "constraint",
            "differential": {"element": [{"id": "Patient", "path": "Patient"}]}}


STATUS = "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status"
DERIVED = "http://hl7.org/fhir/StructureDefinition/structuredefinition-conformance-derivedFrom"


def test_an_extension_primitive_may_carry_extensions_in_r5() -> None:
    extension = {"url": STATUS, "valueCode": "informative",
                 "_valueCode": {"extension": [{"url": DERIVED,
                                               "valueCanonical": "http://example.org/ig"}]}}
    assert _errors(_structure_definition(extension), "R5") == []


@pytest.mark.parametrize("companion", [
    {"_valueCode": {"text": "not an Element"}},  # only id and extension belong there
    {"_valueCode": {"extension": [{"valueString": "no url"}]}},
    {"_valueNotAType": {"extension": [{"url": DERIVED, "valueString": "x"}]}},
])
def test_a_malformed_companion_is_still_an_unknown_element(companion: dict[str, Any]) -> None:
    extension = {"url": STATUS, "valueCode": "informative", **companion}
    key = next(iter(companion))
    assert ("unknown-element", f"StructureDefinition.extension[0].{key}") in _errors(
        _structure_definition(extension), "R5")
