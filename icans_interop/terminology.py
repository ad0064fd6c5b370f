"""Coded concepts loaded from the shipped mapping tables.

Every code the library emits comes from ``mappings/*.csv``; nothing is coded inline. A
:class:`Concept` is what the domain model refers to by *key*; its :class:`Coding` s say how
the concept is written in FHIR (system URI) and in DICOM (coding scheme designator).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Literal

#: Canonical URL of the project's own CodeSystem, for concepts with no verified standard code.
LOCAL_SYSTEM = "https://fhir.icans-interop.org/CodeSystem/icans"
#: DICOM private coding scheme designator of the local code system (PS3.3 8.2: "99" prefix).
LOCAL_SCHEME = "99ICANS"
#: ISO UUID-derived UID of the local coding scheme, declared in Coding Scheme Identification.
LOCAL_SCHEME_UID = "2.25.63099953316477532064853279178744889958"
LOCAL_SCHEME_NAME = "icans-interop local concepts"
LOCAL_SCHEME_RESPONSIBLE = "icans-interop project"

SNOMED = "http://snomed.info/sct"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
LOINC = "http://loinc.org"
RADLEX = "http://radlex.org"
UMLS = "http://terminology.hl7.org/CodeSystem/umls"
HPO = "http://human-phenotype-ontology.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"

#: FHIR system URI -> DICOM coding scheme designator (PS3.16 Table 8-1 designators).
SYSTEM_TO_SCHEME: Mapping[str, str] = {
    SNOMED: "SCT",
    DCM: "DCM",
    LOINC: "LN",
    RADLEX: "RADLEX",
    UMLS: "UMLS",
    UCUM: "UCUM",
    "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl": "NCIt",
    LOCAL_SYSTEM: LOCAL_SCHEME,
}
#: DICOM designator -> FHIR system URI, including designators other producers still send.
SCHEME_TO_SYSTEM: Mapping[str, str] = {
    **{scheme: system for system, scheme in SYSTEM_TO_SCHEME.items()},
    "SRT": SNOMED,  # retired SNOMED-RT designator, still written by older producers
    "SNM3": SNOMED,
}
#: Alternative FHIR system spellings seen in the wild, normalised on input.
SYSTEM_ALIASES: Mapping[str, str] = {
    "http://www.radlex.org": RADLEX,
    "http://www.nlm.nih.gov/research/umls": UMLS,
    "https://loinc.org": LOINC,
    "http://hl7.org/fhir/sid/icd-10-cm/": ICD10CM,
}

Use = Literal["both", "fhir", "dicom"]
_TERM_COLUMNS = ("term", "role", "key", "source")
_COLUMNS = ("key", "role", "label", "system", "scheme", "code", "display", "dicom_meaning",
            "use", "source")


class TerminologyError(ValueError):
    """A mapping table is malformed or a concept key is unknown."""


@dataclass(frozen=True, slots=True)
class Coding:
    """One code of one concept, with both its FHIR and its DICOM spelling."""

    system: str
    code: str
    display: str
    scheme: str | None = None
    dicom_meaning: str | None = None
    use: Use = "both"
    source: str = field(default="", compare=False)

    @property
    def meaning(self) -> str:
        """Code Meaning to write in DICOM (the PS3.16 meaning where it differs)."""
        return self.dicom_meaning or self.display

    @property
    def is_local(self) -> bool:
        return self.system == LOCAL_SYSTEM

    @property
    def in_fhir(self) -> bool:
        return self.use in ("both", "fhir")

    @property
    def in_dicom(self) -> bool:
        return self.scheme is not None and self.use in ("both", "dicom")


@dataclass(frozen=True, slots=True)
class Concept:
    """A concept of the domain model, identified by its key, with all its codings."""

    key: str
    role: str
    label: str
    codings: tuple[Coding, ...]

    def fhir_codings(self) -> tuple[Coding, ...]:
        """Codings to emit in a FHIR CodeableConcept, standard codes first."""
        return tuple(sorted((c for c in self.codings if c.in_fhir), key=lambda c: c.is_local))

    def dicom_coding(self) -> Coding:
        """The one coding to write in DICOM: the first standard one, else the local one."""
        candidates = [c for c in self.codings if c.in_dicom]
        if not candidates:
            raise TerminologyError(f"concept {self.key!r} has no DICOM coding")
        candidates.sort(key=lambda c: c.is_local)
        return candidates[0]

    def has_dicom_coding(self) -> bool:
        return any(c.in_dicom for c in self.codings)


class Terminology:
    """All concepts of the mapping tables with lookups by key, role and code."""

    def __init__(self, concepts: Iterable[Concept], terms: Mapping[tuple[str, str], str]) -> None:
        self._by_key: dict[str, Concept] = {}
        self._by_role: dict[str, list[Concept]] = {}
        by_system_code: dict[tuple[str, str], list[Concept]] = {}
        by_scheme_code: dict[tuple[str, str], list[Concept]] = {}
        for concept in concepts:
            if concept.key in self._by_key:
                raise TerminologyError(f"concept key {concept.key!r} defined twice")
            self._by_key[concept.key] = concept
            self._by_role.setdefault(concept.role, []).append(concept)
            for coding in concept.codings:
                _add_once(by_system_code.setdefault((coding.system, coding.code), []), concept)
                if coding.scheme:
                    _add_once(by_scheme_code.setdefault((coding.scheme, coding.code), []),
                              concept)
        #: One code may name concepts of different roles (HPO papilledema is a clinical sign
        #: and an ICP/edema finding): reverse lookups choose by role.
        self._by_system_code = {k: tuple(v) for k, v in by_system_code.items()}
        self._by_scheme_code = {k: tuple(v) for k, v in by_scheme_code.items()}
        self._terms = {(term.casefold(), role): key for (term, role), key in terms.items()}

    def __iter__(self) -> Iterator[Concept]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def get(self, key: str) -> Concept | None:
        return self._by_key.get(key)

    def concept(self, key: str) -> Concept:
        """The concept for ``key``; an unknown key raises with the list of known keys."""
        try:
            return self._by_key[key]
        except KeyError:
            raise TerminologyError(f"unknown concept key {key!r}") from None

    def roles(self) -> tuple[str, ...]:
        return tuple(self._by_role)

    def value_set(self, role: str) -> tuple[Concept, ...]:
        """All concepts of one role (the value set the model accepts for that role)."""
        return tuple(self._by_role.get(role, ()))

    def keys(self, role: str) -> tuple[str, ...]:
        return tuple(c.key for c in self._by_role.get(role, ()))

    def require(self, key: str, role: str) -> Concept:
        """The concept ``key`` of ``role``, or an error naming the allowed keys."""
        concept = self._by_key.get(key)
        if concept is None or concept.role != role:
            allowed = ", ".join(self.keys(role))
            raise TerminologyError(f"{key!r} is not a known {role} concept; allowed: {allowed}")
        return concept

    def lookup_fhir_all(self, system: str, code: str) -> tuple[Concept, ...]:
        """Every concept with the FHIR coding (system, code); system aliases normalised."""
        system = SYSTEM_ALIASES.get(system, system)
        return self._by_system_code.get((system, code), ())

    def lookup_fhir(self, system: str, code: str, role: str | None = None) -> Concept | None:
        """Reverse lookup by FHIR (system, code): the concept of ``role`` when given, else
        the first concept with that coding."""
        return _choose(self.lookup_fhir_all(system, code), role)

    def lookup_dicom(self, scheme: str, code: str, role: str | None = None) -> Concept | None:
        """Reverse lookup by DICOM (designator, code); SRT/SNM3 are read as SCT."""
        system = SCHEME_TO_SYSTEM.get(scheme)
        found: tuple[Concept, ...] = ()
        if system is not None:
            found = self._by_system_code.get((system, code), ())
        if not found:
            found = self._by_scheme_code.get((scheme, code), ())
        return _choose(found, role)

    def term(self, text: str, role: str | None = None) -> str | None:
        """Concept key for a word of the knowledge entry (case-insensitive)."""
        folded = text.strip().casefold()
        if role is not None:
            return self._terms.get((folded, role))
        for (term, _role), key in self._terms.items():
            if term == folded:
                return key
        return None

    def terms(self, role: str) -> frozenset[str]:
        """The knowledge-entry words that name concepts of ``role``."""
        return frozenset(term for term, r in self._terms if r == role)

    def lexicon(self, role: str) -> dict[str, str]:
        """Knowledge-entry phrase (case-folded) -> concept key, for the phrases of ``role``."""
        return {term: key for (term, r), key in self._terms.items() if r == role}


def _add_once(concepts: list[Concept], concept: Concept) -> None:
    if concept not in concepts:
        concepts.append(concept)


def _choose(concepts: tuple[Concept, ...], role: str | None) -> Concept | None:
    if role is None:
        return concepts[0] if concepts else None
    return next((c for c in concepts if c.role == role), None)


def scheme_for_system(system: str) -> str | None:
    return SYSTEM_TO_SCHEME.get(SYSTEM_ALIASES.get(system, system))


def system_for_scheme(scheme: str) -> str | None:
    return SCHEME_TO_SYSTEM.get(scheme)


def _read_rows(name: str, text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or tuple(reader.fieldnames) != _COLUMNS:
        raise TerminologyError(f"{name}: header must be {','.join(_COLUMNS)}")
    rows = []
    for line_no, row in enumerate(reader, start=2):
        if None in row or any(v is None for v in row.values()):
            raise TerminologyError(f"{name} line {line_no}: wrong number of columns")
        if not row["key"] or not row["code"] or not row["system"] or not row["source"]:
            raise TerminologyError(f"{name} line {line_no}: key, system, code and source are "
                                   "required")
        if row["use"] not in ("both", "fhir", "dicom"):
            raise TerminologyError(f"{name} line {line_no}: use {row['use']!r} is not "
                                   "both/fhir/dicom")
        rows.append(row)
    return rows


def build(tables: Mapping[str, str], terms_csv: str = "") -> Terminology:
    """Build a terminology from CSV texts (name -> content); used by :func:`load` and tests."""
    grouped: dict[str, list[dict[str, str]]] = {}
    for name, text in tables.items():
        for row in _read_rows(name, text):
            grouped.setdefault(row["key"], []).append(row)
    concepts = []
    for key, rows in grouped.items():
        roles = {r["role"] for r in rows}
        if len(roles) != 1:
            raise TerminologyError(f"concept {key!r} has several roles: {sorted(roles)}")
        codings = tuple(
            Coding(system=r["system"], code=r["code"], display=r["display"],
                   scheme=r["scheme"] or None, dicom_meaning=r["dicom_meaning"] or None,
                   use=r["use"], source=r["source"])  # type: ignore[arg-type]
            for r in rows
        )
        concepts.append(Concept(key=key, role=rows[0]["role"], label=rows[0]["label"],
                                codings=codings))
    terms: dict[tuple[str, str], str] = {}
    if terms_csv:
        reader = csv.DictReader(io.StringIO(terms_csv))
        if reader.fieldnames is None or tuple(reader.fieldnames) != _TERM_COLUMNS:
            raise TerminologyError(f"knowledge-terms.csv: header must be "
                                   f"{','.join(_TERM_COLUMNS)}")
        for line_no, row in enumerate(reader, start=2):
            if row["key"] not in grouped:
                raise TerminologyError(f"knowledge term {row['term']!r} names unknown concept "
                                       f"{row['key']!r}")
            if not row["source"]:
                raise TerminologyError(f"knowledge-terms.csv line {line_no}: no source")
            terms[(row["term"], row["role"])] = row["key"]
    return Terminology(concepts, terms)


@lru_cache(maxsize=1)
def load() -> Terminology:
    """The terminology of the shipped ``mappings/`` tables (parsed once per process)."""
    package = resources.files("icans_interop.mappings")
    tables: dict[str, str] = {}
    terms_csv = ""
    for entry in sorted(package.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".csv"):
            continue
        text = entry.read_text(encoding="utf-8")
        if entry.name == "knowledge-terms.csv":
            terms_csv = text
        else:
            tables[entry.name] = text
    return build(tables, terms_csv)
