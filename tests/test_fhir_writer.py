"""fhir.write: the resource layout, codes, identifiers and references of the bundles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.bundle import Bundle as R5Bundle
from fhir.resources.R4B.bundle import Bundle as R4Bundle

from icans_interop import dicom, fhir, grading, terminology
from icans_interop.fhir import writer
from icans_interop.model import ImagingReport, load_case

FIXTURES = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "valid").glob("*.json"))
DEEP = Path(__file__).resolve().parent.parent / "fixtures" / "valid" / "example-grade3-deep.json"

DCM = "http://dicom.nema.org/resources/ontology/DCM"
SCT = "http://snomed.info/sct"
UMLS = "http://terminology.hl7.org/CodeSystem/umls"
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
IG = "http://hl7.org/fhir/uv/dicom-sr/StructureDefinition/"


def load(path: Path) -> ImagingReport:
    return load_case(path.read_text(encoding="utf-8"))


def bundle_json(report: ImagingReport, version: str = "R4",
                kind: str = "transaction") -> dict[str, Any]:
    return json.loads(fhir.to_json(fhir.write(report, version=version,  # type: ignore[arg-type]
                                              bundle=kind)))  # type: ignore[arg-type]


def resources(bundle: dict[str, Any], rtype: str | None = None) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"]
            if rtype is None or e["resource"]["resourceType"] == rtype]


def by_url(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["fullUrl"]: e["resource"] for e in bundle["entry"]}


def codings(cc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in cc.get("coding", [])}


def first_coding(cc: dict[str, Any]) -> tuple[str, str]:
    return cc["coding"][0]["system"], cc["coding"][0]["code"]


def has(ccs: list[dict[str, Any]] | dict[str, Any], system: str, code: str) -> bool:
    items = ccs if isinstance(ccs, list) else [ccs]
    return any((system, code) in codings(cc) for cc in items)


def references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def groups(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in resources(bundle, "Observation")
            if has(r.get("category", []), DCM, "125007")]


def fhir_coding(key: str) -> tuple[str, str]:
    coding = terminology.load().concept(key).fhir_codings()[0]
    return coding.system, coding.code


@pytest.fixture(scope="module")
def deep() -> ImagingReport:
    return load(DEEP)


# ---------------------------------------------------------------------------------------------
# fhir.resources parses what we write.


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
@pytest.mark.parametrize("kind", ["transaction", "collection"])
def test_fhir_resources_parses_every_bundle(path: Path, kind: str) -> None:
    report = load(path)
    r4 = fhir.to_json(fhir.write(report, version="R4", bundle=kind))  # type: ignore[arg-type]
    r5 = fhir.to_json(fhir.write(report, version="R5", bundle=kind))  # type: ignore[arg-type]
    assert R4Bundle.model_validate_json(r4).type == kind
    assert R5Bundle.model_validate_json(r5).type == kind
    assert isinstance(fhir.write(report), R4Bundle)
    assert isinstance(fhir.write(report, version="R5"), R5Bundle)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
@pytest.mark.parametrize("version", ["R4", "R5"])
def test_write_json_is_the_model_json(path: Path, version: str) -> None:
    report = load(path)
    fast = fhir.write_json(report, version=version)  # type: ignore[arg-type]
    model = fhir.to_json(fhir.write(report, version=version))  # type: ignore[arg-type]
    assert json.loads(fast) == json.loads(model)


def test_bad_arguments_raise() -> None:
    report = load(DEEP)
    with pytest.raises(ValueError, match="version must be 'R4' or 'R5'"):
        fhir.write(report, version="R4B")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bundle must be 'transaction' or 'collection'"):
        fhir.write(report, bundle="document")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Bundle mechanics: ids, fullUrls, references, requests.


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
@pytest.mark.parametrize("version", ["R4", "R5"])
@pytest.mark.parametrize("kind", ["transaction", "collection"])
def test_every_reference_resolves_in_the_bundle(path: Path, version: str, kind: str) -> None:
    bundle = bundle_json(load(path), version, kind)
    urls = by_url(bundle)
    assert len(urls) == len(bundle["entry"])  # fullUrls are unique
    for entry in bundle["entry"]:
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"
        for ref in references(entry["resource"]):
            assert ref in urls, f"{ref} in {entry['resource']['resourceType']}"


def test_ids_are_deterministic(deep: ImagingReport) -> None:
    assert bundle_json(deep) == bundle_json(deep)
    assert fhir.write_json(deep, version="R5") == fhir.write_json(deep, version="R5")
    ids = [r["id"] for r in resources(bundle_json(deep))]
    assert len(set(ids)) == len(ids)


def test_transaction_requests(deep: ImagingReport) -> None:
    bundle = bundle_json(deep)
    assert bundle["type"] == "transaction"
    for entry in bundle["entry"]:
        resource, request = entry["resource"], entry["request"]
        rtype = resource["resourceType"]
        if rtype in ("ImagingStudy", "ServiceRequest"):
            assert request["method"] == "POST" and request["url"] == rtype
            assert request["ifNoneExist"].startswith("identifier=")
        else:
            assert request == {"method": "PUT", "url": f"{rtype}/{resource['id']}"}
    requests = {e["resource"]["resourceType"]: e["request"] for e in bundle["entry"]}
    # No system for the MRN: a conditional create on the bare value could match another
    # issuer's patient, so the Patient is PUT to its own id instead.
    assert "ifNoneExist" not in requests["Patient"]
    assert requests["ImagingStudy"]["ifNoneExist"] == (
        "identifier=urn%3Adicom%3Auid%7Curn%3Aoid%3A1.2.826.0.1.3680043.10.1412.1.1")
    collection = bundle_json(deep, kind="collection")
    assert all("request" not in e for e in collection["entry"])


def test_conditional_create_escapes_the_identifier() -> None:
    assert writer.search_token(None, "A|B,C") == "identifier=A%5C%7CB%5C%2CC"
    assert writer.search_token("urn:oid:1.2.3", "X 1") == (
        "identifier=urn%3Aoid%3A1.2.3%7CX%201")


# ---------------------------------------------------------------------------------------------
# Patient, ImagingStudy, ServiceRequest, Practitioner, Device.


def test_patient(deep: ImagingReport) -> None:
    (patient,) = resources(bundle_json(deep), "Patient")
    (identifier,) = patient["identifier"]
    assert identifier["value"] == "MRN-100234"
    assert identifier["assigner"] == {"display": "HOSP-A"}
    assert has(identifier["type"], "http://terminology.hl7.org/CodeSystem/v2-0203", "MR")
    assert "system" not in identifier  # "HOSP-A" is neither a URI nor an OID
    assert patient["name"] == [{"family": "Doe", "given": ["Jane"]}]
    assert patient["gender"] == "female"
    assert patient["birthDate"] == "1961-04-12"


def test_patient_system_makes_the_conditional_create(deep: ImagingReport) -> None:
    report = deep.model_copy(update={"patient": deep.patient.model_copy(
        update={"id_system": "urn:oid:1.2.840.99", "sex": "O"})})
    bundle = bundle_json(report)
    (patient,) = resources(bundle, "Patient")
    assert patient["identifier"][0]["system"] == "urn:oid:1.2.840.99"
    assert patient["identifier"][0]["assigner"] == {"display": "HOSP-A"}
    assert patient["gender"] == "other"
    request = next(e["request"] for e in bundle["entry"]
                   if e["resource"]["resourceType"] == "Patient")
    assert request["ifNoneExist"] == "identifier=urn%3Aoid%3A1.2.840.99%7CMRN-100234"
    back, _issues = fhir.read(bundle)
    assert back is not None and back.patient == report.patient


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_imaging_study_and_service_request(deep: ImagingReport, version: str) -> None:
    bundle = bundle_json(deep, version)
    (study,) = resources(bundle, "ImagingStudy")
    uid = [i["value"] for i in study["identifier"] if i.get("system") == "urn:dicom:uid"]
    assert uid == [f"urn:oid:{deep.study.instance_uid}"]
    assert {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                 "code": "ACSN", "display": "Accession ID"}]},
            "value": "ACC20261101"} in study["identifier"]
    assert study["status"] == "available"
    assert study["started"] == "2026-11-03T14:32:00+01:00"
    assert study["description"] == "MR Brain WO and W contrast IV"
    (order,) = resources(bundle, "ServiceRequest")
    assert order["status"] == "completed" and order["intent"] == "order"
    acsn = order["identifier"][0]
    assert acsn["value"] == "ACC20261101"
    assert has(acsn["type"], "http://terminology.hl7.org/CodeSystem/v2-0203", "ACSN")
    code = order["code"]["concept"] if version == "R5" else order["code"]
    assert has(code, "http://loinc.org", "24587-8")
    urls = by_url(bundle)
    assert urls[study["basedOn"][0]["reference"]] is order
    assert urls[study["referrer"]["reference"]]["name"][0] == {"family": "Smith",
                                                               "given": ["Anna"]}
    (sr_series,) = study["series"]
    modality = sr_series["modality"]["coding"][0] if version == "R5" else sr_series["modality"]
    assert (modality["system"], modality["code"]) == (DCM, "SR")
    (instance,) = sr_series["instance"]
    sr = dicom.write(deep)
    assert (sr_series["uid"], instance["uid"], instance["number"]) == (
        sr.SeriesInstanceUID, sr.SOPInstanceUID, deep.revision)
    assert instance["sopClass"]["code"] == f"urn:oid:{sr.SOPClassUID}"
    assert urls[order["requester"]["reference"]]["resourceType"] == "Practitioner"


def test_no_service_request_without_accession(deep: ImagingReport) -> None:
    report = deep.model_copy(update={"study": deep.study.model_copy(
        update={"accession_number": None, "time": None})})
    bundle = bundle_json(report)
    assert resources(bundle, "ServiceRequest") == []
    (study,) = resources(bundle, "ImagingStudy")
    assert study["started"] == "2026-11-03"
    assert all("basedOn" not in r for r in resources(bundle, "Observation"))


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_device_for_icans_interop(deep: ImagingReport, version: str) -> None:
    bundle = bundle_json(deep, version)
    (device,) = resources(bundle, "Device")
    assert device["manufacturer"] == "icans-interop project"
    if version == "R5":
        assert device["displayName"] == "icans-interop"
        assert device["meta"]["profile"] == [IG + "dicom-general-equipment"]
    else:
        assert device["deviceName"] == [{"name": "icans-interop", "type": "model-name"}]
        assert "meta" not in device
    device_url = next(e["fullUrl"] for e in bundle["entry"]
                      if e["resource"]["resourceType"] == "Device")
    for observation in groups(bundle):
        assert observation["device"] == {"reference": device_url}


# ---------------------------------------------------------------------------------------------
# DiagnosticReport.


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_diagnostic_report(deep: ImagingReport, version: str) -> None:
    bundle = bundle_json(deep, version)
    (report,) = resources(bundle, "DiagnosticReport")
    urls = by_url(bundle)
    assert deep.status == "final" and report["status"] == "final"
    assert report["identifier"] == [{"type": {"text": "SOP Instance UID"},
                                     "system": "urn:dicom:uid",
                                     "value": f"urn:oid:{dicom.write(deep).SOPInstanceUID}"}]
    assert has(report["category"], "http://loinc.org", "LP29684-5")
    assert has(report["code"], "http://loinc.org", "24587-8")
    assert urls[report["subject"]["reference"]]["resourceType"] == "Patient"
    assert report["effectiveDateTime"] == "2026-11-03T14:32:00+01:00"
    assert report["issued"] == "2026-11-03T16:05:00+01:00"
    interpreter = urls[report["resultsInterpreter"][0]["reference"]]
    assert interpreter["resourceType"] == "Practitioner"
    assert interpreter["name"][0] == {"family": "Radiologist", "given": ["Rita"]}
    role = urls[report["performer"][0]["reference"]]  # the verifier: responsible
    assert role["resourceType"] == "PractitionerRole"
    assert urls[role["practitioner"]["reference"]]["name"][0] == {"family": "Neuro",
                                                                  "given": ["Nadia"]}
    assert urls[role["organization"]["reference"]]["name"] == \
        "University Hospital Neuroradiology"
    study_element = "study" if version == "R5" else "imagingStudy"
    assert urls[report[study_element][0]["reference"]]["resourceType"] == "ImagingStudy"
    assert [urls[r["reference"]] for r in report["result"]] == groups(bundle)
    assert report["conclusion"] == deep.impression
    assert has(report["conclusionCode"], "http://hl7.org/fhir/sid/icd-10-cm", "G92.03")


# ---------------------------------------------------------------------------------------------
# Findings per the dicom-sr IG.


def expected_evaluations(report: ImagingReport, index: int) -> list[tuple[tuple[str, str],
                                                                          tuple[str, str]]]:
    finding = report.findings[index]
    pairs = [(fhir_coding(s.sequence), fhir_coding(s.signal)) for s in finding.signals]
    pairs += [(fhir_coding("distribution_descriptor"), fhir_coding(d))
              for d in finding.distribution]
    if finding.number:
        pairs.append((fhir_coding("number_of_lesions"), fhir_coding(finding.number)))
    if finding.morphology:
        pairs.append((fhir_coding("lesion_morphology"), fhir_coding(finding.morphology)))
    if finding.laterality and not finding.sites:
        pairs.append((fhir_coding("laterality"), fhir_coding(finding.laterality)))
    return pairs


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
@pytest.mark.parametrize("version", ["R4", "R5"])
def test_measurement_groups_and_qualitative_evaluations(path: Path, version: str) -> None:
    report = load(path)
    bundle = bundle_json(report, version)
    urls = by_url(bundle)
    found = groups(bundle)
    assert len(found) == len(report.findings)
    study_url = next(u for u, r in urls.items() if r["resourceType"] == "ImagingStudy")
    for index, (finding, group) in enumerate(zip(report.findings, found, strict=True)):
        category = {c for cc in group["category"] for c in codings(cc)}
        if version == "R4":
            assert category == {(DCM, "125007"), (OBS_CAT, "imaging")}
            assert "meta" not in group
        else:
            assert category == {(DCM, "125007")}
            assert group["meta"]["profile"] == [IG + "imaging-measurement-group"]
        assert has(group["code"], DCM, "121071")
        assert has(group["valueCodeableConcept"], *fhir_coding(finding.pattern))
        assert group["status"] == report.status
        assert group["issued"] == writer.instant(report.issued)
        assert group["effectiveDateTime"].startswith(report.study.date.isoformat())
        assert group["partOf"][0]["reference"] == study_url
        assert group["partOf"][0]["identifier"]["value"] == \
            f"urn:oid:{report.study.instance_uid}"
        assert urls[group["subject"]["reference"]]["resourceType"] == "Patient"
        members = [urls[m["reference"]] for m in group.get("hasMember", [])]
        pairs = []
        for member in members:
            category = {c for cc in member["category"] for c in codings(cc)}
            assert (UMLS, "C0034375") in category
            assert ((OBS_CAT, "imaging") in category) == (version == "R4")
            if version == "R5":
                assert member["meta"]["profile"] == [IG + "imaging-qualitative-evaluation"]
            assert member["effectiveDateTime"] == group["effectiveDateTime"]
            assert member["partOf"] == group["partOf"]
            pairs.append((first_coding(member["code"]),
                          first_coding(member["valueCodeableConcept"])))
        assert pairs == expected_evaluations(report, index)


def identifier_values(resource: dict[str, Any], system: str, code: str) -> list[str]:
    return [i["value"] for i in resource.get("identifier", []) if has(i.get("type", {}),
                                                                      system, code)]


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
@pytest.mark.parametrize("version", ["R4", "R5"])
def test_identifiers_agree_with_the_sr_uids(path: Path, version: str) -> None:
    """Observation UID, tracking UID/ID and Study Instance UID are the model's (the SR's)."""
    report = load(path)
    bundle = bundle_json(report, version)
    urls = by_url(bundle)
    (study,) = resources(bundle, "ImagingStudy")
    assert {"type": {"coding": [{"system": DCM, "code": "110180",
                                 "display": "Study Instance UID"}]},
            "system": "urn:dicom:uid",
            "value": f"urn:oid:{report.study.instance_uid}"} in study["identifier"]
    id_type = "http://hl7.org/fhir/uv/dicom-sr/CodeSystem/dicom-identifier-type"
    for finding, group in zip(report.findings, groups(bundle), strict=True):
        assert identifier_values(group, id_type, "observation-uid") == [
            f"urn:oid:{finding.observation_uid}"]
        holder = group
        if version == "R5" and finding.sites:
            holder = urls[group["bodyStructure"]["reference"]]
            assert identifier_values(group, DCM, "112040") == []
        assert identifier_values(holder, DCM, "112040") == [f"urn:oid:{finding.tracking_uid}"]
        assert identifier_values(holder, DCM, "112039") == (
            [finding.tracking_id] if finding.tracking_id else [])
        uid_ident = next(i for i in holder["identifier"] if has(i["type"], DCM, "112040"))
        assert uid_ident["system"] == "urn:dicom:uid"


def test_r5_finding_site_body_structure(deep: ImagingReport) -> None:
    bundle = bundle_json(deep, "R5")
    urls = by_url(bundle)
    first = groups(bundle)[0]
    structure = urls[first["bodyStructure"]["reference"]]
    assert structure["meta"]["profile"] == [IG + "dicom-sr-finding-site"]
    assert urls[structure["patient"]["reference"]]["resourceType"] == "Patient"
    parts = structure["includedStructure"]
    assert [first_coding(p["structure"]) for p in parts] == [
        fhir_coding("hippocampus"), fhir_coding("thalamus")]
    assert all(has(p["laterality"], SCT, "51440002") for p in parts)
    assert "bodySite" not in first and "component" not in first
    # One site without laterality: bodySite as well (IG: bodySite when no laterality).
    second = groups(bundle)[1]
    assert has(second["bodySite"], SCT, "66697007")
    assert "laterality" not in urls[second["bodyStructure"]["reference"]][
        "includedStructure"][0]


def test_r4_sites_and_laterality_as_components(deep: ImagingReport) -> None:
    bundle = bundle_json(deep, "R4")
    first, second = groups(bundle)
    assert [(first_coding(c["code"]), first_coding(c["valueCodeableConcept"]))
            for c in first["component"]] == [
        ((SCT, "363698007"), fhir_coding("hippocampus")),
        ((SCT, "363698007"), fhir_coding("thalamus")),
        ((SCT, "272741003"), (SCT, "51440002"))]
    assert "bodySite" not in first  # two sites do not fit Observation.bodySite (0..1)
    assert has(second["bodySite"], SCT, "66697007")
    assert resources(bundle, "BodyStructure") == []


# ---------------------------------------------------------------------------------------------
# Clinical assessment and Condition.


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_assessment_observations(deep: ImagingReport, version: str) -> None:
    bundle = bundle_json(deep, version)
    local = terminology.LOCAL_SYSTEM
    by_code = {}
    for observation in resources(bundle, "Observation"):
        for system, code in codings(observation["code"]):
            if system == local:
                by_code.setdefault(code, []).append(observation)
    (ice,) = by_code["ICE-SCORE"]
    assert ice["valueInteger"] == 4
    assert len(ice["component"]) == 8
    assert ice["effectiveDateTime"] == "2026-11-03T09:00:00+01:00"
    assert [c["valueInteger"] for c in ice["component"]] == [1, 1, 0, 0, 1, 1, 0, 0]
    assert has(by_code["LOC"][0]["valueCodeableConcept"], local, "LOC-VOICE")
    assert has(by_code["SEIZURE"][0]["valueCodeableConcept"], local, "SZ-RESOLVING")
    assert has(by_code["MOTOR"][0]["valueCodeableConcept"], local, "MOTOR-NONE")
    assert "ICP-EDEMA" not in by_code
    hpo = "http://human-phenotype-ontology.org"
    signs = by_code["SIGNS"]
    assert len(signs) == 3
    for observation, code in zip(signs, ["HP:0002427", "HP:0001337", "HP:0001289"],
                                 strict=True):
        assert has(observation["valueCodeableConcept"], hpo, code)
    (grade,) = by_code["ICANS-GRADE"]
    assert has(grade["valueCodeableConcept"], local, "ICANS-G3")
    for observation in resources(bundle, "Observation"):
        assert observation["status"] == "final"
        assert "effectiveDateTime" in observation
        assert "issued" in observation


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_condition(deep: ImagingReport, version: str) -> None:
    bundle = bundle_json(deep, version)
    urls = by_url(bundle)
    (condition,) = resources(bundle, "Condition")
    assert has(condition["clinicalStatus"],
               "http://terminology.hl7.org/CodeSystem/condition-clinical", "active")
    assert has(condition["verificationStatus"],
               "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed")
    assert has(condition["category"],
               "http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis")
    assert has(condition["code"], "http://hl7.org/fhir/sid/icd-10-cm", "G92.03")
    assert condition["onsetDateTime"] == "2026-11-03T09:00:00+01:00"
    if version == "R5":
        refs = [e["reference"]["reference"] for e in condition["evidence"]]
    else:
        refs = [d["reference"] for d in condition["evidence"][0]["detail"]]
    evidence = [urls[r] for r in refs]
    assert len(evidence) == 8  # ICE, consciousness, seizure, motor, 3 signs, the grade
    assert all(e["resourceType"] == "Observation" for e in evidence)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_condition_code_follows_the_effective_grade(path: Path) -> None:
    report = load(path)
    bundle = bundle_json(report)
    grade = grading.effective_grade(report.icans_grade, report.assessment)
    conditions = resources(bundle, "Condition")
    if grade == 0 or (grade is None and not report.findings):
        assert conditions == []
    elif grade is None:  # findings but no grade: provisional "grade unspecified"
        (condition,) = conditions
        assert has(condition["code"], "http://hl7.org/fhir/sid/icd-10-cm", "G92.00")
        assert condition["verificationStatus"]["coding"][0]["code"] == "provisional"
    else:
        (condition,) = conditions
        assert has(condition["code"], *fhir_coding(grading.icd10cm_key(grade)))


def test_computed_grade_when_none_recorded(deep: ImagingReport) -> None:
    report = deep.model_copy(update={"icans_grade": None})
    bundle = bundle_json(report)
    (condition,) = resources(bundle, "Condition")
    assert has(condition["code"], "http://hl7.org/fhir/sid/icd-10-cm",
               f"G92.0{grading.compute_grade(deep.assessment).grade}")  # type: ignore[arg-type]
    local = terminology.LOCAL_SYSTEM
    assert not any(has(o["code"], local, "ICANS-GRADE")
                   for o in resources(bundle, "Observation"))


def test_imaging_only_report_has_a_provisional_ungraded_condition(deep: ImagingReport
                                                                   ) -> None:
    report = deep.model_copy(update={"assessment": None, "icans_grade": None,
                                     "observer_name": None, "impression": None})
    bundle = bundle_json(report)
    (condition,) = resources(bundle, "Condition")
    assert has(condition["code"], "http://hl7.org/fhir/sid/icd-10-cm", "G92.00")
    assert has(condition["code"], "http://snomed.info/sct", "1230414002")
    assert condition["verificationStatus"]["coding"][0]["code"] == "provisional"
    groups = {e["fullUrl"] for e in bundle["entry"]
              if has(e["resource"].get("category", [{}])[0], terminology.DCM, "125007")}
    refs = condition["evidence"][0]["detail"]
    assert {r["reference"] for r in refs} == groups
    no_findings = report.model_copy(update={"findings": ()})
    assert resources(bundle_json(no_findings), "Condition") == []
    # the referring physician and the verifying observer; no author
    assert sorted(r["name"][0]["family"] for r in resources(bundle, "Practitioner")) == [
        "Neuro", "Smith"]
    (report_res,) = resources(bundle, "DiagnosticReport")
    assert "conclusion" not in report_res
    assert [c["coding"][0]["code"] for c in report_res["conclusionCode"]] == ["G92.00"]
    assert "resultsInterpreter" not in report_res  # no author observer
    assert len(resources(bundle, "Observation")) == 2 + sum(
        len(expected_evaluations(report, i)) for i in range(len(report.findings)))


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_r5_observations_meet_the_ig_cardinalities(path: Path) -> None:
    """What the dicom-sr IG's imaging-observation profile makes 1..1 (no IG validator is
    installable here, so the constraints are checked one by one)."""
    bundle = bundle_json(load(path), "R5")
    urls = by_url(bundle)
    for resource in resources(bundle, "Observation"):
        profiles = resource.get("meta", {}).get("profile", [])
        if not profiles:
            continue
        assert profiles[0] in (IG + "imaging-measurement-group",
                               IG + "imaging-qualitative-evaluation")
        assert len(resource["partOf"]) == 1
        part_of = resource["partOf"][0]
        assert urls[part_of["reference"]]["resourceType"] == "ImagingStudy"
        assert has(part_of["identifier"]["type"], DCM, "110180")
        assert part_of["identifier"]["system"] == "urn:dicom:uid"
        for based_on in resource.get("basedOn", []):
            assert has(based_on["identifier"]["type"],
                       "http://terminology.hl7.org/CodeSystem/v2-0203", "ACSN")
            assert based_on["identifier"]["value"]
        assert urls[resource["subject"]["reference"]]["resourceType"] == "Patient"
        assert resource["issued"]
        assert urls[resource["device"]["reference"]]["resourceType"] == "Device"
        assert "valueCodeableConcept" in resource
        assert "component" not in resource  # IG: components are not used
        if "bodyStructure" in resource:
            structure = urls[resource["bodyStructure"]["reference"]]
            assert structure["meta"]["profile"] == [IG + "dicom-sr-finding-site"]
            for identifier in structure.get("identifier", []):
                assert identifier["value"]
        for identifier in resource.get("identifier", []):
            if has(identifier["type"],
                   "http://hl7.org/fhir/uv/dicom-sr/CodeSystem/dicom-identifier-type",
                   "observation-uid"):
                assert identifier["system"] == "urn:dicom:uid"


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_laterality_without_site_is_a_qualitative_evaluation(deep: ImagingReport,
                                                             version: str) -> None:
    """As in the SR (TID 1501 row 11 Laterality in the group when no Finding Site)."""
    finding = deep.findings[0].model_copy(update={"sites": (), "laterality": "left"})
    report = deep.model_copy(update={"findings": (finding,)})
    bundle = bundle_json(report, version)
    (group,) = groups(bundle)
    assert "component" not in group and "bodyStructure" not in group
    urls = by_url(bundle)
    last = urls[group["hasMember"][-1]["reference"]]
    assert first_coding(last["code"]) == (SCT, "272741003")
    assert first_coding(last["valueCodeableConcept"]) == (SCT, "7771000")
    assert fhir.read(fhir.write_json(report, version=version)) == (report, [])  # type: ignore


# ---------------------------------------------------------------------------------------------
# Against the SR the dicom adapter writes for the same report.


def _sr_groups(dataset: Any) -> list[Any]:
    found = []
    stack = list(getattr(dataset, "ContentSequence", []))
    while stack:
        item = stack.pop(0)
        name = item.ConceptNameCodeSequence[0] if "ConceptNameCodeSequence" in item else None
        if (item.ValueType == "CONTAINER" and name is not None
                and (name.CodingSchemeDesignator, name.CodeValue) == ("DCM", "125007")):
            found.append(item)
        else:
            stack.extend(getattr(item, "ContentSequence", []))
    return found


def _key(scheme: str, code: str) -> str:
    concept = terminology.load().lookup_dicom(scheme, code)
    assert concept is not None, (scheme, code)
    return concept.key


def _fhir_key(cc: dict[str, Any]) -> str:
    for coding in cc["coding"]:
        concept = terminology.load().lookup_fhir(coding["system"], coding["code"])
        if concept is not None:
            return concept.key
    raise AssertionError(cc)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
@pytest.mark.parametrize("version", ["R4", "R5"])
def test_same_uids_and_qualitative_evaluations_as_the_sr(path: Path, version: str) -> None:
    dicom = pytest.importorskip("icans_interop.dicom")
    report = load(path)
    dataset = dicom.write(report)
    bundle = bundle_json(report, version)
    urls = by_url(bundle)
    (study,) = resources(bundle, "ImagingStudy")
    assert f"urn:oid:{dataset.StudyInstanceUID}" in [i["value"] for i in study["identifier"]]
    sr_groups = _sr_groups(dataset)
    fhir_groups = groups(bundle)
    assert len(sr_groups) == len(fhir_groups) == len(report.findings)
    id_type = "http://hl7.org/fhir/uv/dicom-sr/CodeSystem/dicom-identifier-type"
    for sr_group, group in zip(sr_groups, fhir_groups, strict=True):
        assert identifier_values(group, id_type, "observation-uid") == [
            f"urn:oid:{sr_group.ObservationUID}"]
        holder = urls[group["bodyStructure"]["reference"]] if "bodyStructure" in group \
            else group
        sr_pairs = []
        for item in sr_group.ContentSequence:
            name = item.ConceptNameCodeSequence[0]
            name_key = _key(name.CodingSchemeDesignator, name.CodeValue)
            if name_key == "tracking_uid":
                assert identifier_values(holder, DCM, "112040") == [f"urn:oid:{item.UID}"]
            elif name_key == "tracking_identifier":
                assert identifier_values(holder, DCM, "112039") == [item.TextValue]
            elif (item.RelationshipType == "CONTAINS" and item.ValueType == "CODE"
                  and name_key != "finding"):
                value = item.ConceptCodeSequence[0]
                sr_pairs.append((name_key, _key(value.CodingSchemeDesignator,
                                                value.CodeValue)))
        fhir_pairs = [(_fhir_key(urls[m["reference"]]["code"]),
                       _fhir_key(urls[m["reference"]]["valueCodeableConcept"]))
                      for m in group.get("hasMember", [])]
        assert fhir_pairs == sr_pairs


def test_fast_json_is_fhir_resources_json() -> None:
    """to_json walks the models itself: same text as model_dump_json, extensions included."""
    from fhir.resources.R4B.patient import Patient

    for path in FIXTURES:
        for version in ("R4", "R5"):
            model = fhir.write(load(path), version=version)  # type: ignore[arg-type]
            assert fhir.to_json(model) == model.model_dump_json()
    patient = Patient.model_validate({
        "resourceType": "Patient", "birthDate": "2000", "multipleBirthInteger": 2,
        "_gender": {"extension": [{"url": "http://x.org", "valueString": "y"}]},
        "name": [{"given": ["a", None], "_given": [None, {"extension": [
            {"url": "http://z.org", "valueBoolean": True}]}]}],
        "extension": [{"url": "http://d.org", "valueDecimal": 1.50}],
    })
    assert fhir.to_json(patient) == patient.model_dump_json()
    with pytest.raises(TypeError, match="cannot serialise int"):
        fhir.to_json(3)


def test_condition_and_statuses_follow_the_report_status(deep: ImagingReport) -> None:
    """final: DiagnosticReport, Observations final, Condition confirmed; preliminary: all
    preliminary and the Condition provisional; the codes carry ICD-10-CM and SNOMED CT."""
    for status, verification in (("final", "confirmed"), ("preliminary", "provisional")):
        report = deep.model_copy(update={"status": status})
        bundle = bundle_json(report)
        (condition,) = resources(bundle, "Condition")
        assert condition["verificationStatus"]["coding"][0]["code"] == verification
        assert [c["code"] for c in condition["code"]["coding"]] == ["G92.03", "1230414002"]
        assert {r["status"] for r in resources(bundle, "Observation")} == {status}
        assert resources(bundle, "DiagnosticReport")[0]["status"] == status
    cancelled = deep.model_copy(update={"status": "cancelled"})
    assert resources(bundle_json(cancelled), "Condition") == []


def test_no_g93_40_or_r41_82_beside_icans(deep: ImagingReport) -> None:
    """ICD-10-CM Excludes notes: G93.4 excludes toxic encephalopathy (G92), R41.82 'due to
    known condition': signs keep their other codings, not those two ICD-10-CM codes."""
    assessment = deep.assessment
    assert assessment is not None
    report = deep.model_copy(update={"assessment": assessment.model_copy(update={
        "signs": ("encephalopathy", "altered_mental_status", "tremor")})})
    bundle = bundle_json(report)
    codes = {c["code"] for o in resources(bundle, "Observation")
             for c in o.get("valueCodeableConcept", {}).get("coding", [])}
    assert "G93.40" not in codes and "R41.82" not in codes
    assert "R25.1" in codes  # tremor keeps its ICD-10-CM code
    back, _issues = fhir.read(bundle)
    assert back is not None and back.assessment == report.assessment


def test_references_to_existing_server_resources(deep: ImagingReport) -> None:
    built = writer.build(deep, references={"Patient": "Patient/p-1",
                                           "Encounter": "Encounter?identifier=E|9"})
    assert resources(built, "Patient") == []
    (report,) = resources(built, "DiagnosticReport")
    assert report["subject"] == {"reference": "Patient/p-1"}
    assert report["encounter"] == {"reference": "Encounter?identifier=E|9"}
    with pytest.raises(ValueError, match="reference for 'Patient'"):
        writer.build(deep, references={"Patient": "Practitioner/1"})
