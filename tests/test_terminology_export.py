"""The mapping tables exported as FHIR R4 CodeSystems, ValueSets and a ConceptMap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.conceptmap import ConceptMap
from fhir.resources.R4B.valueset import ValueSet

from icans_interop import terminology
from icans_interop.fhir import terminology_export as export_mod

MODELS = {"CodeSystem": CodeSystem, "ValueSet": ValueSet, "ConceptMap": ConceptMap}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    paths = export_mod.export(tmp_path_factory.mktemp("terminology"))
    assert paths and all(p.is_file() for p in paths)
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in paths}


def test_every_file_is_a_valid_r4_resource(exported: dict[str, dict[str, Any]]) -> None:
    for name, resource in exported.items():
        model = MODELS[resource["resourceType"]].model_validate_json(json.dumps(resource))
        assert name == f"{resource['resourceType']}-{model.id}.json"
        assert resource["status"] == "active"
        assert resource["url"].startswith("https://fhir.icans-interop.org/")


def test_local_code_system_is_complete(exported: dict[str, dict[str, Any]]) -> None:
    cs = exported["CodeSystem-icans.json"]
    assert cs["url"] == terminology.LOCAL_SYSTEM
    assert cs["content"] == "complete"
    local = {c.code: c.display for concept in terminology.load() for c in concept.codings
             if c.is_local}
    assert {c["code"]: c["display"] for c in cs["concept"]} == local
    assert cs["count"] == len(local)
    assert {"PTN-DEEP", "SEQ-FLAIR", "ICE-SCORE", "ICANS-G3", "QUAL-SYM"} <= set(local)


def test_one_value_set_per_role(exported: dict[str, dict[str, Any]]) -> None:
    terms = terminology.load()
    for role in terms.roles():
        vs = exported[f"ValueSet-{role.replace('_', '-')}.json"]
        listed = {(inc["system"], c["code"]) for inc in vs["compose"]["include"]
                  for c in inc["concept"]}
        expected = {(c.system, c.code) for concept in terms.value_set(role)
                    for c in concept.codings}
        assert listed == expected, role
        systems = [inc["system"] for inc in vs["compose"]["include"]]
        assert len(systems) == len(set(systems))  # one include per system


def test_concept_map_from_keys_to_every_coding(exported: dict[str, dict[str, Any]]) -> None:
    cm = exported["ConceptMap-icans-keys.json"]
    assert cm["sourceCanonical"] == export_mod.KEYS_VALUESET
    mapped = {(element["code"], group["target"], target["code"])
              for group in cm["group"] for element in group["element"]
              for target in element["target"]}
    expected = {(concept.key, c.system, c.code) for concept in terminology.load()
                for c in concept.codings}
    assert mapped == expected
    assert all(group["source"] == export_mod.KEYS_SYSTEM for group in cm["group"])
    assert ("hippocampus", terminology.SNOMED, "5366008") in mapped
    keys = exported["CodeSystem-icans-keys.json"]
    assert keys["url"] == export_mod.KEYS_SYSTEM
    assert {c["code"] for c in keys["concept"]} == {c.key for c in terminology.load()}
    assert exported["ValueSet-icans-keys.json"]["compose"]["include"] == [
        {"system": export_mod.KEYS_SYSTEM}]


def test_export_is_repeatable(tmp_path: Path) -> None:
    first = [p.read_bytes() for p in export_mod.export(tmp_path / "a")]
    second = [p.read_bytes() for p in export_mod.export(tmp_path / "a")]
    assert first == second
