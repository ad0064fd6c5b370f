"""HL7's published FHIR R4 examples get no error from ``validate_fhir(profile="base")``.

Every resource of two HL7 packages that ``.ci/run`` installs in ``tools/fhir-examples``:

* ``hl7.fhir.r4.examples`` 4.0.1 (CC0-1.0): the examples of the R4 specification, every
  example resource and every definition (StructureDefinition, ValueSet, CodeSystem,
  SearchParameter...) of release 4.0.1, one file each (the two bundles larger than the
  validator's input limit are validated entry by entry);
* ``hl7.fhir.uv.ips`` 2.0.0 (CC0-1.0): the ``example/`` folder of the International Patient
  Summary implementation guide.

A few published R4 examples break an R4 rule that the HL7 validator applies: they are listed in
:data:`INVALID_R4_EXAMPLES` with the codes we report and the reason, and, where Medplum's
validator (``tools/fhir-validator``) checks the rule, the fragment of its message that confirms
the defect. A listed file must fail with its listed codes only (a listed file that passes, or
fails otherwise, fails the test: delete or fix the entry).

Without the packages the tests skip with the reason; under ``CI=true`` they fail instead.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

try:
    import oracles
except ImportError:  # tests/ imported as a package
    from tests import oracles  # type: ignore[no-redef]

from icans_interop.issues import Issue
from icans_interop.validation.fhir import validate_fhir
from icans_interop.validation.fhir_json import MAX_BYTES

EXAMPLES = Path(__file__).resolve().parent.parent / "tools" / "fhir-examples"
R4_EXAMPLES = EXAMPLES / "node_modules" / "hl7.fhir.r4.examples"
IPS_EXAMPLES = EXAMPLES / "packages" / "hl7.fhir.uv.ips" / "example"
NOT_RESOURCES = frozenset({"package.json", ".index.json"})


@dataclass(frozen=True)
class Invalid:
    """A published example that breaks an R4 rule."""

    codes: frozenset[str]  # the error codes we report on it
    reason: str
    medplum: str | None = None  # a fragment of Medplum's error that confirms the defect


def _invalid(codes: str, reason: str, medplum: str | None = None) -> Invalid:
    return Invalid(frozenset(codes.split()), reason, medplum)


_TXT2 = ("txt-2: its narrative div holds only whitespace ('The narrative SHALL have some "
         "non-whitespace content'; the HL7 validator's htmlChecks())")
_FULL_URL = ("Bundle.entry.fullUrl 'SHALL NOT disagree with the id in the resource': the "
             "RESTful fullUrl names another id than the resource's")
_TARGET = ("the reference points at a resource type its element's definition does not list "
           "(the HL7 validator's Reference_REF_BadTargetType)")
_SEARCH_BASE = "SearchParameter.base is 1..* and absent"
_MIME = ("TestScript operation accept/contentType are bound (required) to BCP 13 mime types in "
         "R4; 'xml'/'json' are the STU3 codes")
_SDF4 = ("sdf-4: a logical model that is not abstract has no baseDefinition ('If the structure "
         "is not abstract, then there SHALL be a baseDefinition')")
_SCT = ("not a SNOMED CT concept id (the HL7 validator with its terminology server: unknown "
        "code); ")

#: Published R4 examples (file name) that break an R4 rule the HL7 validator applies.
INVALID_R4_EXAMPLES: dict[str, Invalid] = {
    "ActivityDefinition-blood-tubes-supply.json": _invalid("invariant-failed", _TXT2),
    "ActivityDefinition-heart-valve-replacement.json": _invalid("invariant-failed", _TXT2),
    "EventDefinition-example.json": _invalid("invariant-failed", _TXT2),
    "Questionnaire-zika-virus-exposure-assessment.json": _invalid("invariant-failed", _TXT2),
    "Bundle-10bb101f-a121-4264-a920-67be9cb82c74.json": _invalid("invalid-value", _FULL_URL),
    "Bundle-3a0707d3-549e-4467-b8b8-5a2ab3800efe.json": _invalid("invalid-value", _FULL_URL),
    "Bundle-lri-example.json": _invalid("invalid-value", _FULL_URL),
    "DeviceMetric-example.json": _invalid(
        "reference-wrong-type", "DeviceMetric.parent -> DeviceDefinition: " + _TARGET),
    "DeviceUseStatement-example.json": _invalid(
        "reference-wrong-type", "DeviceUseStatement.reasonReference -> Procedure: " + _TARGET),
    "MedicationRequest-medrx0301.json": _invalid(
        "reference-wrong-type",
        "MedicationRequest.dispenseRequest.performer -> Practitioner: " + _TARGET),
    "Observation-clinical-gender.json": _invalid(
        "reference-wrong-type", "Observation.performer -> Encounter: " + _TARGET),
    "ImagingStudy-example-xr.json": _invalid(
        "code-unknown", _SCT + "'T-15460' is a SNOMED RT code"),
    "NutritionOrder-enteralcontinuous.json": _invalid(
        "code-unknown", _SCT + "6547210000124112 has partition 11, a description id"),
    "PlanDefinition-example-cardiology-os.json": _invalid(
        "code-unknown", _SCT + "the code is the text 'look up value'"),
    "ImplementationGuide-fhir.json": _invalid(
        "missing-required invalid-value",
        "ImplementationGuide.name and .status (1..1) are absent; a manifest reference names a "
        "SearchParameter whose id has 73 characters", "ImplementationGuide.name: Missing "
        "required property"),
    "ig-r4.json": _invalid(
        "missing-required invalid-value", "the same ImplementationGuide as "
        "ImplementationGuide-fhir.json", "ImplementationGuide.name: Missing required property"),
    "Questionnaire-qs1.json": _invalid(
        "missing-required", "Questionnaire.item.linkId (1..1) is absent on nested items",
        "linkId: Missing required property"),
    "SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json":
        _invalid("invalid-value", "the id has 73 characters; an id has at most 64 "
                                  "(resource.html#id)"),
    "StructureDefinition-Definition.json": _invalid("invariant-failed", _SDF4,
                                                    "Constraint sdf-4 not met"),
    "StructureDefinition-Event.json": _invalid("invariant-failed", _SDF4,
                                               "Constraint sdf-4 not met"),
    "StructureDefinition-FiveWs.json": _invalid("invariant-failed", _SDF4,
                                                "Constraint sdf-4 not met"),
    "StructureDefinition-Request.json": _invalid("invariant-failed", _SDF4,
                                                 "Constraint sdf-4 not met"),
    **{f"SearchParameter-{kind}-extensions-{rtype}-{name}.json": _invalid(
        "missing-required", _SEARCH_BASE, "SearchParameter.base: Missing required property")
       for kind, rtype in (("codesystem", "CodeSystem"), ("valueset", "ValueSet"))
       for name in ("author", "effective", "end", "keyword", "workflow")},
    **{f"TestScript-testscript-example{suffix}.json": _invalid(
        "not-in-value-set", _MIME, "is not a valid mime type")
       for suffix in ("", "-history", "-multisystem", "-readtest", "-search", "-update")},
}


def _require(directory: Path) -> None:
    if not directory.is_dir():
        oracles.require(f"{directory} is not installed (run .ci/run, or npm install in "
                        "tools/fhir-examples and npm pack its fhirPackages)")


@cache
def _r4_files() -> tuple[str, ...]:
    if not R4_EXAMPLES.is_dir():
        return ()
    return tuple(sorted(p.name for p in R4_EXAMPLES.glob("*.json")
                        if p.name not in NOT_RESOURCES))


def _groups() -> list[str]:
    """Test groups: the resource type a file name starts with (``Observation-...``)."""
    names = {name.split("-", 1)[0] for name in _r4_files()}
    return sorted(names) or ["(not installed)"]


def _issues(path: Path) -> list[Issue]:
    """Errors of one file; a file beyond the input limit is validated entry by entry."""
    if path.stat().st_size <= MAX_BYTES:
        issues = validate_fhir(path, "R4", "base").issues
    else:
        data = json.loads(path.read_bytes())
        issues = tuple(issue for entry in data.get("entry", [])
                       for issue in validate_fhir(entry["resource"], "R4", "base").issues)
    return [i for i in issues if i.severity == "error"]


def _render(issues: list[Issue]) -> str:
    return "\n".join(f"    {i}" for i in issues[:8])


@pytest.mark.parametrize("group", _groups())
def test_r4_examples_have_no_errors(group: str) -> None:
    _require(R4_EXAMPLES)
    problems: list[str] = []
    for name in _r4_files():
        if name.split("-", 1)[0] != group:
            continue
        errors = _issues(R4_EXAMPLES / name)
        listed = INVALID_R4_EXAMPLES.get(name)
        if listed is None and errors:
            problems.append(f"{name}: {len(errors)} errors on a conformant example:\n"
                            f"{_render(errors)}")
        elif listed is not None and not errors:
            problems.append(f"{name}: listed as invalid ({listed.reason}) but gets no error: "
                            "delete its INVALID_R4_EXAMPLES entry")
        elif listed is not None and not {i.code for i in errors} <= listed.codes:
            problems.append(f"{name}: codes {sorted({i.code for i in errors})} beyond the "
                            f"listed {sorted(listed.codes)}:\n{_render(errors)}")
    assert not problems, "\n".join(problems)


def test_every_listed_example_exists() -> None:
    _require(R4_EXAMPLES)
    files = set(_r4_files())
    assert len(files) >= 5000, f"only {len(files)} R4 example files"
    assert set(INVALID_R4_EXAMPLES) <= files, set(INVALID_R4_EXAMPLES) - files


def test_ips_examples_have_no_errors() -> None:
    _require(IPS_EXAMPLES)
    files = sorted(IPS_EXAMPLES.glob("*.json"))
    files = [p for p in files if p.name not in NOT_RESOURCES]
    assert len(files) >= 40
    problems = [f"{p.name}:\n{_render(errors)}" for p in files if (errors := _issues(p))]
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_medplum_confirms_the_listed_invalid_examples() -> None:
    """Where Medplum's validator checks the rule, it reports the listed defect too."""
    _require(R4_EXAMPLES)
    oracles.require(oracles.skip_reason_medplum())
    confirmed = {name: entry for name, entry in INVALID_R4_EXAMPLES.items() if entry.medplum}
    resources: list[dict[str, Any]] = [json.loads((R4_EXAMPLES / name).read_text("utf-8"))
                                       for name in confirmed]
    messages = oracles.medplum_validate(resources)
    by_label: dict[str, list[str]] = defaultdict(list)
    for message in messages:
        by_label[message.split(":", 1)[0]].append(message)
    missing = []
    for (name, entry), resource in zip(confirmed.items(), resources, strict=True):
        label = f"{resource['resourceType']}/{resource.get('id')}"
        if not any(entry.medplum in m for m in by_label[label]):
            missing.append(f"{name}: Medplum does not say {entry.medplum!r}")
    assert not missing, "\n".join(missing)
