"""The mapping tables as FHIR R4 terminology resources.

:func:`export` writes, as JSON files:

* ``CodeSystem-icans.json`` — the project's local CodeSystem (url
  :data:`~icans_interop.terminology.LOCAL_SYSTEM`, ``content`` complete): every local code of
  the tables, with its display and the reason no standard code is used;
* ``CodeSystem-icans-keys.json`` — the concept *keys* of the domain model as a code system
  (url :data:`KEYS_SYSTEM` = ``LOCAL_SYSTEM + "-keys"``, ``content`` complete), so that the
  model's values are themselves FHIR codes;
* ``CodeSystem-issue-code.json`` — the issue codes of the validators and readers (url
  :data:`~icans_interop.issues.ISSUE_CODE_SYSTEM`, ``content`` complete), the system of
  ``details.coding`` in the OperationOutcomes ``validate --format outcome`` prints;
* ``ValueSet-<role>.json`` — one ValueSet per role (url :data:`VALUESET_BASE` + role, with
  ``_`` written ``-``): ``compose.include`` per code system listing every code of the role's
  concepts (all codes the readers accept, standard and local);
* ``ValueSet-icans-keys.json`` — all concept keys (the ConceptMap's source);
* ``ConceptMap-icans-keys.json`` — from each concept key (:data:`KEYS_SYSTEM`) to every coding
  of the concept, one ``group`` per target system, ``equivalence`` ``equivalent``; the comment
  says which output uses the coding (FHIR, DICOM or both) and where it was verified.

All are FHIR R4 (4.0.1) resources; the tests parse them with ``fhir.resources.R4B``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from icans_interop import issues, terminology
from icans_interop.terminology import LOCAL_SYSTEM, Concept, Terminology

CANONICAL_BASE = LOCAL_SYSTEM.rsplit("/CodeSystem/", 1)[0]
#: Code system of the domain model's concept keys.
KEYS_SYSTEM = LOCAL_SYSTEM + "-keys"
VALUESET_BASE = CANONICAL_BASE + "/ValueSet/"
#: ValueSet of all concept keys (the ConceptMap's source).
KEYS_VALUESET = VALUESET_BASE + "icans-keys"
CONCEPTMAP_URL = CANONICAL_BASE + "/ConceptMap/icans-keys"
PUBLISHER = terminology.LOCAL_SCHEME_RESPONSIBLE
STATUS = "active"

JsonDict = dict[str, Any]


def _version() -> str:
    from icans_interop.fhir.writer_study import SOFTWARE_VERSION

    return SOFTWARE_VERSION


def _fhir_id(text: str) -> str:
    return text.replace("_", "-")


def _title(role: str) -> str:
    return role.replace("_", " ").capitalize()


def local_code_system(terms: Terminology) -> JsonDict:
    concepts: dict[str, JsonDict] = {}
    for concept in terms:
        for coding in concept.codings:
            if coding.is_local and coding.code not in concepts:
                entry: JsonDict = {"code": coding.code, "display": coding.display,
                                   "definition": f"{concept.label} ({concept.role}). "
                                                 f"{coding.source}"}
                concepts[coding.code] = entry
    return {
        "resourceType": "CodeSystem", "id": "icans", "url": LOCAL_SYSTEM,
        "identifier": [{"system": "urn:ietf:rfc:3986",
                        "value": f"urn:oid:{terminology.LOCAL_SCHEME_UID}"}],
        "version": _version(), "name": "IcansInteropLocal",
        "title": terminology.LOCAL_SCHEME_NAME, "status": STATUS, "experimental": False,
        "publisher": PUBLISHER,
        "description": "Concepts of ICANS imaging and clinical findings that have no verified "
                       "standard code (DICOM private coding scheme "
                       f"{terminology.LOCAL_SCHEME}).",
        "caseSensitive": True, "content": "complete", "count": len(concepts),
        "concept": list(concepts.values()),
    }


def keys_code_system(terms: Terminology) -> JsonDict:
    concepts = [{"code": c.key, "display": c.label,
                 "property": [{"code": "role", "valueCode": c.role}]} for c in terms]
    return {
        "resourceType": "CodeSystem", "id": "icans-keys", "url": KEYS_SYSTEM,
        "version": _version(), "name": "IcansInteropConceptKeys",
        "title": "icans-interop concept keys", "status": STATUS, "experimental": False,
        "publisher": PUBLISHER,
        "description": "The concept keys used as values in the icans-interop domain model and "
                       "case files; ConceptMap icans-keys maps each to its codes.",
        "caseSensitive": True, "content": "complete", "count": len(concepts),
        "property": [{"code": "role", "type": "code",
                      "description": "The value-set role of the concept in the model"}],
        "concept": concepts,
    }


def issue_code_system() -> JsonDict:
    """The catalogue of issue codes (``data/issue-codes.csv``) as a CodeSystem."""
    entries = sorted(issues.catalogue().values(), key=lambda e: e.code)
    return {
        "resourceType": "CodeSystem", "id": "issue-code", "url": issues.ISSUE_CODE_SYSTEM,
        "version": _version(), "name": "IcansInteropIssueCode",
        "title": "icans-interop issue codes", "status": STATUS, "experimental": False,
        "publisher": PUBLISHER,
        "description": "What the icans-interop validators and readers report, one code per "
                       "kind of problem; property severity is the default severity.",
        "caseSensitive": True, "content": "complete", "count": len(entries),
        "property": [{"code": "severity", "type": "code",
                      "description": "Default severity (error, warning, information)"},
                     {"code": "area", "type": "code",
                      "description": "Which part of a record the check concerns"}],
        "concept": [{"code": e.code, "display": e.code.replace("-", " "),
                     "definition": e.description,
                     "property": [{"code": "severity", "valueCode": e.severity},
                                  {"code": "area", "valueCode": e.area}]} for e in entries],
    }


def keys_value_set() -> JsonDict:
    return {
        "resourceType": "ValueSet", "id": "icans-keys", "url": KEYS_VALUESET,
        "version": _version(), "name": "IcansInteropConceptKeys",
        "title": "icans-interop concept keys", "status": STATUS, "experimental": False,
        "publisher": PUBLISHER, "description": "All concept keys of the icans-interop model.",
        "compose": {"include": [{"system": KEYS_SYSTEM}]},
    }


def value_set(role: str, concepts: tuple[Concept, ...]) -> JsonDict:
    by_system: dict[str, dict[str, str]] = {}
    for concept in concepts:
        for coding in concept.codings:
            by_system.setdefault(coding.system, {}).setdefault(coding.code, coding.display)
    include = [{"system": system,
                "concept": [{"code": code, "display": display}
                            for code, display in codes.items()]}
               for system, codes in by_system.items()]
    vid = _fhir_id(role)
    return {
        "resourceType": "ValueSet", "id": vid, "url": VALUESET_BASE + vid,
        "version": _version(), "name": "".join(p.capitalize() for p in role.split("_")),
        "title": f"icans-interop {_title(role)}", "status": STATUS, "experimental": False,
        "publisher": PUBLISHER,
        "description": f"Codes accepted for the {role!r} role of the icans-interop model "
                       f"({len(concepts)} concepts).",
        "compose": {"include": include},
    }


def concept_map(terms: Terminology) -> JsonDict:
    groups: dict[str, list[JsonDict]] = {}
    for concept in terms:
        per_system: dict[str, list[JsonDict]] = {}
        for coding in concept.codings:
            use = {"both": "FHIR and DICOM", "fhir": "FHIR", "dicom": "DICOM"}[coding.use]
            per_system.setdefault(coding.system, []).append(
                {"code": coding.code, "display": coding.display, "equivalence": "equivalent",
                 "comment": f"Written in {use} output. Source: {coding.source}"})
        for system, targets in per_system.items():
            groups.setdefault(system, []).append(
                {"code": concept.key, "display": concept.label, "target": targets})
    return {
        "resourceType": "ConceptMap", "id": "icans-keys", "url": CONCEPTMAP_URL,
        "version": _version(), "name": "IcansInteropKeysToCodes",
        "title": "icans-interop concept keys to codes", "status": STATUS,
        "experimental": False, "publisher": PUBLISHER,
        "description": "Each concept key of the icans-interop model mapped to all of its codes "
                       "(standard codes first where they exist).",
        "sourceCanonical": KEYS_VALUESET,
        "group": [{"source": KEYS_SYSTEM, "target": system, "element": elements}
                  for system, elements in groups.items()],
    }


def resources(terms: Terminology | None = None) -> list[JsonDict]:
    """All terminology resources (CodeSystems, ValueSets by role, the ConceptMap)."""
    terms = terms or terminology.load()
    out = [local_code_system(terms), keys_code_system(terms), issue_code_system(),
           keys_value_set()]
    out.extend(value_set(role, terms.value_set(role)) for role in terms.roles())
    out.append(concept_map(terms))
    return out


def documents() -> dict[str, bytes]:
    """Every terminology resource as ``{file name: UTF-8 JSON}``."""
    return {f"{r['resourceType']}-{r['id']}.json":
            (json.dumps(r, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
            for r in resources()}


def export(out_dir: Path) -> list[Path]:
    """Write the terminology resources into ``out_dir`` (created); returns the file paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in documents().items():
        path = out_dir / name
        path.write_bytes(data)
        written.append(path)
    return written
