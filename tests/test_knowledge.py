"""Tests for the knowledge-base entry parser (``icans_interop.knowledge``).

They pin the parsed content of the packaged ICANS entry, check that every malformed
variant fails with one ``KnowledgeEntryError`` pointing at the right line, fuzz the
parser with Hypothesis, and parse a synthetic second entry to show the parser is
driven by the format and the injected vocabularies rather than by one document.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from icans_interop import knowledge
from icans_interop.knowledge import (
    DiseaseProfile,
    KnowledgeEntryError,
    RegionPath,
    SequenceSignal,
    find_clinical_signs,
    load,
    parse,
    table_vocabulary,
)

_VOCABULARY = table_vocabulary()
QUALIFIER_TERMS = _VOCABULARY.qualifier_terms
SEQUENCE_TERMS = _VOCABULARY.sequence_terms
SIGNAL_TERMS = _VOCABULARY.signal_terms
SIGN_LEXICON = _VOCABULARY.sign_lexicon

ENTRY_FILE = Path(knowledge.__file__).parent / "data" / "icans-knowledge-entry.txt"
# The medical source the package ships a copy of; CI lays shared/ beside the checkout.
SEED_FILE = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "icans-knowledge-entry.txt"
REAL_TEXT = ENTRY_FILE.read_text(encoding="utf-8")
REAL_LINES = REAL_TEXT.split("\n")


def parse_default(text: str) -> DiseaseProfile:
    """Parse with the module's default vocabularies (what ``load`` does)."""
    return parse(
        text,
        qualifier_terms=QUALIFIER_TERMS,
        sequence_terms=SEQUENCE_TERMS,
        signal_terms=SIGNAL_TERMS,
        sign_lexicon=SIGN_LEXICON,
    )


def line_no(content: str, occurrence: int = 1) -> int:
    """1-based number of the ``occurrence``-th line of the real entry equal to ``content``."""
    hits = [i for i, line in enumerate(REAL_LINES, 1) if line == content]
    return hits[occurrence - 1]


def without(*numbers: int) -> list[str]:
    """The real entry's lines with the given 1-based line numbers removed."""
    return [line for i, line in enumerate(REAL_LINES, 1) if i not in numbers]


def inserted(after: int, *new: str) -> list[str]:
    """The real entry's lines with ``new`` inserted after 1-based line ``after``."""
    return [*REAL_LINES[:after], *new, *REAL_LINES[after:]]


def replaced(number: int, new: str) -> list[str]:
    """The real entry's lines with 1-based line ``number`` replaced by ``new``."""
    lines = list(REAL_LINES)
    lines[number - 1] = new
    return lines


def path(*parts: str) -> RegionPath:
    return RegionPath(parts=parts)


def pairs(*items: tuple[str, str]) -> tuple[SequenceSignal, ...]:
    return tuple(SequenceSignal(sequence=s, signal=g) for s, g in items)


def assert_error_line(text: str, error: KnowledgeEntryError) -> None:
    """The error's line number is in range and ``line`` is exactly that line."""
    lines = text.split("\n")
    assert 1 <= error.line_no <= len(lines)
    assert error.line == lines[error.line_no - 1].removesuffix("\r")
    assert str(error).startswith(f"line {error.line_no}: ")


# --------------------------------------------------------------------------------------
# The packaged entry
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def profile() -> DiseaseProfile:
    return load()


def test_packaged_copy_is_the_seed_and_readable_as_resource() -> None:
    resource = resources.files("icans_interop.data").joinpath("icans-knowledge-entry.txt")
    assert resource.read_bytes() == ENTRY_FILE.read_bytes()
    if SEED_FILE.exists():
        assert ENTRY_FILE.read_bytes() == SEED_FILE.read_bytes()


def test_load_default_is_cached_and_equals_explicit_path(profile: DiseaseProfile) -> None:
    assert load() is profile
    assert load(ENTRY_FILE) == profile
    assert load(str(ENTRY_FILE)) == profile
    assert parse_default(REAL_TEXT) == profile


def test_header_parts(profile: DiseaseProfile) -> None:
    assert profile.title == "Immune effector cell-associated neurotoxicity syndrome (ICANS)"
    assert profile.categories == ("Inflammatory diseases", "Iatrogenic diseases")
    paragraphs = profile.description.split("\n\n")
    assert len(paragraphs) == 4
    assert paragraphs[0].startswith("Immune effector cell-associated neurotoxicity syndrome")
    assert paragraphs[-1].endswith("such as hemiparesis or paraparesis.")
    assert len(profile.references) == 1
    assert profile.references[0].startswith('Gust, Juliane, et al. "Endothelial activation')
    assert profile.references[0].endswith("Cancer discovery 7.12 (2017): 1404-1419.")


def test_exactly_three_patterns(profile: DiseaseProfile) -> None:
    assert [p.name for p in profile.patterns] == [
        "Deep structure involvement",
        "Leptomeningeal enhancement",
        "Hemorrhage",
    ]
    assert [p.key for p in profile.patterns] == [
        "deep_structure_involvement",
        "leptomeningeal_enhancement",
        "hemorrhage",
    ]


def test_deep_structure_involvement(profile: DiseaseProfile) -> None:
    pattern = profile.pattern("Deep structure involvement")
    assert pattern.regions == (
        path("Cerebrum", "Temporal lobe", "Hippocampus"),
        path("Cerebrum", "Insula"),
        path("Cerebrum", "Cingulate gyrus"),
        path("Brainstem", "Pons"),
        path("Thalamus"),
        path("External capsule"),
        path("Caudate nucleus"),
        path("Cerebrum", "Cerebral white matter", "Periventricular white matter"),
    )
    assert pattern.qualifiers == ("Symmetric", "Bilateral")
    assert pattern.sequence_signals == pairs(
        ("T2WI", "Hyperintensity"), ("FLAIR", "Hyperintensity")
    )
    assert pattern.description.startswith("The most characteristic imaging pattern")
    assert pattern.description.endswith("cingulate gyrus, and brainstem structures.")


def test_leptomeningeal_enhancement(profile: DiseaseProfile) -> None:
    pattern = profile.pattern("leptomeningeal_enhancement")
    # "Leptomenix" is kept exactly as written in the entry.
    assert pattern.regions == (path("Leptomenix"),)
    assert pattern.qualifiers == ("Diffuse", "Focal")
    assert pattern.sequence_signals == pairs(
        ("CE T1WI", "Enhancement"), ("CE FLAIR", "Enhancement")
    )
    assert pattern.description == (
        "Disruption of the blood-brain barrier can also manifest as superficial "
        "leptomeningeal enhancement, which may present as a focal or diffuse pattern."
    )


def test_hemorrhage(profile: DiseaseProfile) -> None:
    pattern = profile.pattern("HEMORRHAGE")
    assert pattern.regions == (
        path("Cerebrum"),
        path("Caudate nucleus"),
        path("Putamen"),
        path("Globus pallidus"),
    )
    assert pattern.qualifiers == ("Multiple", "Punctate")
    assert pattern.sequence_signals == pairs(("T2*WI", "Hypointensity"), ("SWI", "Hypointensity"))
    assert pattern.description.startswith("Susceptibility artifacts indicating microhemorrhage")
    assert pattern.description.endswith("including the basal ganglia and cerebrum.")


def test_clinical_signs(profile: DiseaseProfile) -> None:
    signs = profile.clinical_signs
    assert set(signs) >= {
        "aphasia",
        "expressive_aphasia",
        "encephalopathy",
        "confusion",
        "disorientation",
        "somnolence",
        "seizure",
        "status_epilepticus",
        "hallucinations",
        "delirium",
        "tremor",
        "myoclonus",
        "asterixis",
        "hemiparesis",
        "paraparesis",
        "word_finding_difficulty",
        "attention_deficit",
        "altered_mental_status",
        "mood_disturbance",
    }
    assert len(signs) == len(set(signs))
    # Order of first appearance in the general description.
    order = ["aphasia", "expressive_aphasia", "encephalopathy", "seizure", "paraparesis"]
    assert [signs.index(s) for s in order] == sorted(signs.index(s) for s in order)


def test_profile_helpers(profile: DiseaseProfile) -> None:
    regions = profile.all_regions()
    assert regions[:3] == ("Cerebrum", "Temporal lobe", "Hippocampus")
    assert len(regions) == len(set(regions))
    assert {"Brainstem", "Pons", "Cerebral white matter", "Leptomenix", "Putamen"} <= set(regions)
    assert profile.all_qualifiers() == (
        "Symmetric",
        "Bilateral",
        "Diffuse",
        "Focal",
        "Multiple",
        "Punctate",
    )
    assert profile.all_sequences() == ("T2WI", "FLAIR", "CE T1WI", "CE FLAIR", "T2*WI", "SWI")
    assert profile.all_signals() == ("Hyperintensity", "Enhancement", "Hypointensity")
    with pytest.raises(KeyError, match="no imaging pattern 'Edema'"):
        profile.pattern("Edema")


def test_region_path() -> None:
    hippocampus = path("Cerebrum", "Temporal lobe", "Hippocampus")
    assert hippocampus.leaf == "Hippocampus"
    assert hippocampus.parent == path("Cerebrum", "Temporal lobe")
    assert path("Cerebrum").parent is None
    assert str(hippocampus) == "Cerebrum \u203a Temporal lobe \u203a Hippocampus"
    assert hash(hippocampus) == hash(path("Cerebrum", "Temporal lobe", "Hippocampus"))
    with pytest.raises(ValidationError):
        RegionPath(parts=())
    with pytest.raises(ValidationError):
        hippocampus.parts = ("Cerebrum",)  # type: ignore[misc]


def test_models_are_frozen(profile: DiseaseProfile) -> None:
    with pytest.raises(ValidationError):
        profile.title = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        profile.patterns[0].name = "other"  # type: ignore[misc]


def test_crlf_and_bom_are_accepted(tmp_path: Path, profile: DiseaseProfile) -> None:
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(b"\xef\xbb\xbf" + REAL_TEXT.replace("\n", "\r\n").encode("utf-8"))
    assert load(crlf) == profile


# --------------------------------------------------------------------------------------
# Malformed entries
# --------------------------------------------------------------------------------------

DEEP_HEADER = line_no("Anatomical regions", 1)
HEMORRHAGE_HEADER = line_no("Anatomical regions", 3)
BILATERAL = line_no("Bilateral")
T2WI = line_no("T2WI")
SWI = line_no("SWI")
PUNCTATE = line_no("Punctate")
REFERENCE = next(i for i, line in enumerate(REAL_LINES, 1) if line.startswith("  1. "))

MALFORMED: list[tuple[str, list[str], int, str]] = [
    ("empty file", [""], 1, r"empty knowledge entry"),
    ("blank lines only", ["", "   ", ""], 1, r"empty knowledge entry"),
    (
        "title removed",
        without(1),
        2,
        r"missing title: 'Inflammatory diseases' is directly followed by 'Iatrogenic diseases'",
    ),
    (
        "title starts with a section header",
        without(1, 2, 3, 4, 5),
        1,
        r"missing title: expected the disease name before 'General description'",
    ),
    (
        "'Anatomical regions' header removed (first pattern)",
        without(DEEP_HEADER),
        DEEP_HEADER,
        r"expected 'Anatomical regions' header after pattern name "
        r"'Deep structure involvement' \(line 20\), got '• Cerebrum'",
    ),
    (
        "'Anatomical regions' header removed (last pattern)",
        without(HEMORRHAGE_HEADER),
        HEMORRHAGE_HEADER,
        r"expected 'Anatomical regions' header after pattern name 'Hemorrhage'",
    ),
    (
        "garbage short line among qualifiers",
        inserted(BILATERAL, "xyz"),
        BILATERAL + 1,
        r"unexpected line shape 'xyz' in pattern 'Deep structure involvement' "
        r"\(expected a qualifier, sequence or signal\)",
    ),
    (
        "garbage short line in the last pattern",
        inserted(PUNCTATE, "Crescent sign"),
        PUNCTATE + 1,
        r"unexpected line shape 'Crescent sign' in pattern 'Hemorrhage' "
        r"\(expected a qualifier, sequence or signal\)",
    ),
    (
        "signal line dropped after T2WI",
        without(T2WI + 1),
        T2WI,
        r"sequence 'T2WI' in pattern 'Deep structure involvement' is not followed by a "
        rf"signal line \(got 'FLAIR' on line {T2WI + 1}\)",
    ),
    (
        "last signal line of the entry dropped",
        without(SWI + 1),
        SWI,
        r"sequence 'SWI' in pattern 'Hemorrhage' is not followed by a signal line "
        r"\(got 'Susceptibility artifacts",
    ),
    (
        "sequence line dropped (signal without sequence)",
        without(T2WI),
        T2WI,
        r"signal 'Hyperintensity' in pattern 'Deep structure involvement' does not follow "
        r"a sequence line",
    ),
    (
        "no pattern at all",
        REAL_LINES[: REFERENCE + 1],
        REFERENCE,
        r"no imaging pattern in the entry",
    ),
    (
        "no pattern at all, entry ends with the reference",
        REAL_LINES[:REFERENCE],
        REFERENCE,
        r"no imaging pattern in the entry",
    ),
    (
        "'General description' header removed",
        without(line_no("General description")),
        line_no("General description") + 1,
        r"unexpected line 'Immune effector cell-associated .*' before the "
        r"'General description' header",
    ),
    (
        "'References' header removed",
        without(line_no("References")),
        DEEP_HEADER - 1,
        r"unexpected header 'Anatomical regions' in the 'General description' section",
    ),
    (
        "pattern name removed",
        without(line_no("Leptomeningeal enhancement")),
        line_no("Anatomical regions", 2) - 1,
        r"'Anatomical regions' header without a preceding pattern name",
    ),
    (
        "duplicate pattern name",
        replaced(line_no("Hemorrhage"), "Leptomeningeal enhancement"),
        line_no("Hemorrhage"),
        r"duplicate pattern 'Leptomeningeal enhancement' \(already defined on line 47\)",
    ),
    (
        "region continuation without a bullet",
        replaced(DEEP_HEADER + 1, "    Cerebrum"),
        DEEP_HEADER + 1,
        r"region continuation 'Cerebrum' in pattern 'Deep structure involvement' does not "
        r"follow a bullet item",
    ),
    (
        "no region items",
        without(line_no("  \u2022 Leptomenix")),
        line_no("  \u2022 Leptomenix"),
        r"no region items under 'Anatomical regions' in pattern 'Leptomeningeal enhancement'",
    ),
    (
        "region item after the qualifiers",
        inserted(PUNCTATE, "  \u2022 Putamen"),
        PUNCTATE + 1,
        r"region item '• Putamen' in pattern 'Hemorrhage' is not part of the",
    ),
    (
        "qualifier after the description",
        inserted(line_no("Hemorrhage") - 2, "Focal"),
        line_no("Hemorrhage") - 1,
        r"'Focal' in pattern 'Leptomeningeal enhancement' follows the description",
    ),
    (
        "pattern name without a header at the end",
        [*REAL_LINES, "", "Edema"],
        len(REAL_LINES) + 2,
        r"pattern 'Edema' has no 'Anatomical regions' header \(entry ends here\)",
    ),
]


@pytest.mark.parametrize(
    ("lines", "expected_line", "message"),
    [pytest.param(lines, no, msg, id=case) for case, lines, no, msg in MALFORMED],
)
def test_malformed_entry_raises_one_located_error(
    lines: list[str], expected_line: int, message: str
) -> None:
    text = "\n".join(lines)
    with pytest.raises(KnowledgeEntryError, match=rf"^line {expected_line}: {message}") as info:
        parse_default(text)
    assert info.value.line_no == expected_line
    assert_error_line(text, info.value)


def test_error_is_a_value_error_and_pickles() -> None:
    with pytest.raises(ValueError, match=r"line 1: ") as info:
        parse_default("")
    error = info.value
    assert isinstance(error, KnowledgeEntryError)
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.line_no, clone.line, str(clone)) == (error.line_no, error.line, str(error))


def test_vocabulary_decides_line_classification() -> None:
    """A line unknown to the default vocabulary parses once the caller adds the term."""
    text = "\n".join(inserted(BILATERAL, "Confluent"))
    with pytest.raises(KnowledgeEntryError, match=rf"^line {BILATERAL + 1}: unexpected line"):
        parse_default(text)
    profile = parse(
        text,
        qualifier_terms=QUALIFIER_TERMS | {"confluent"},
        sequence_terms=SEQUENCE_TERMS,
        signal_terms=SIGNAL_TERMS,
        sign_lexicon=SIGN_LEXICON,
    )
    assert profile.patterns[0].qualifiers == ("Symmetric", "Bilateral", "Confluent")


# --------------------------------------------------------------------------------------
# Clinical-sign matching
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SEIZURES and Tremors", ("seizure", "tremor")),
        ("word finding difficulties, word-finding difficulty", ("word_finding_difficulty",)),
        ("visual hallucinations", ("hallucinations",)),
        ("attention deficits", ("attention_deficit",)),
        ("mood disturbances", ("mood_disturbance",)),
        ("no aphasiac or pretremor or seizured words", ()),
        ("expressive aphasia then aphasia", ("expressive_aphasia", "aphasia")),
        ("delirium, delirium, confusion", ("delirium", "confusion")),
    ],
)
def test_find_clinical_signs(text: str, expected: tuple[str, ...]) -> None:
    assert find_clinical_signs(text, SIGN_LEXICON) == expected


def test_find_clinical_signs_ignores_empty_phrases() -> None:
    assert find_clinical_signs("anything", {"": "nothing", " - ": "nothing"}) == ()


# --------------------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------------------

TERMS = sorted(QUALIFIER_TERMS | SEQUENCE_TERMS | SIGNAL_TERMS)
LINE_POOL = st.one_of(
    st.sampled_from(REAL_LINES),
    st.sampled_from(TERMS),
    st.sampled_from(["", "  \u2022 Cerebrum", "    Pons", "Anatomical regions", "References"]),
    st.text(max_size=40),
)


def assert_parses_or_located_error(text: str) -> None:
    try:
        result = parse_default(text)
    except KnowledgeEntryError as error:
        assert_error_line(text, error)
    else:
        assert result.patterns


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_only_raises_knowledge_entry_error(text: str) -> None:
    assert_parses_or_located_error(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(LINE_POOL, max_size=40))
def test_arbitrary_line_soup_only_raises_knowledge_entry_error(lines: list[str]) -> None:
    assert_parses_or_located_error("\n".join(lines))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_edited_real_entry_only_raises_knowledge_entry_error(data: st.DataObject) -> None:
    lines = list(REAL_LINES)
    edits = data.draw(st.integers(min_value=1, max_value=6))
    for _ in range(edits):
        delete: bool = data.draw(st.booleans())
        if delete and lines:
            del lines[data.draw(st.integers(min_value=0, max_value=len(lines) - 1))]
        else:
            index = data.draw(st.integers(min_value=0, max_value=len(lines)))
            lines.insert(index, data.draw(LINE_POOL))
    assert_parses_or_located_error("\n".join(lines))


@settings(max_examples=100, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=len(REAL_LINES) - 1), max_size=3))
def test_deleting_blank_lines_between_blocks_is_harmless(deleted: set[int]) -> None:
    """Blank separators inside pattern blocks carry no meaning."""
    first_pattern = line_no("Deep structure involvement")
    lines = [
        line
        for i, line in enumerate(REAL_LINES)
        if not (i in deleted and i >= first_pattern and not line.strip())
    ]

    assert parse_default("\n".join(lines)).patterns == load().patterns


# --------------------------------------------------------------------------------------
# A different entry: the parser follows the format, not one document
# --------------------------------------------------------------------------------------

PRES_ENTRY = """\
Posterior reversible encephalopathy syndrome (PRES)

Vascular diseases
Toxic and metabolic diseases

General description

PRES is a clinico-radiological syndrome of vasogenic edema, often triggered by
hypertension, renal failure or immunosuppressive drugs.

Patients present with headaches, visual disturbances, seizures and confusion.

References

  1. Hinchey J, et al. A reversible posterior leukoencephalopathy syndrome.
     N Engl J Med. 1996;334:494-500.
  2. Fugate JE, Rabinstein AA. Posterior reversible encephalopathy syndrome.
     Lancet Neurol. 2015;14:914-925.

Vasogenic edema

Anatomical regions
  \u2022 Cerebrum
    Occipital lobe
  \u2022 Cerebrum
    Parietal lobe
    Precuneus
  \u2022 Cerebellum
Bilateral
Patchy
FLAIR
Hyperintensity
ADC
Facilitated diffusion

Subcortical and cortical FLAIR hyperintensity in a parieto-occipital distribution.

It usually resolves once the trigger is removed.

Cortical enhancement

Anatomical regions
  \u2022 Cerebral cortex
Focal
CE T1WI
Enhancement
"""

PRES_VOCABULARY: dict[str, frozenset[str]] = {
    "qualifier_terms": frozenset({"bilateral", "patchy", "focal"}),
    "sequence_terms": frozenset({"flair", "adc", "ce t1wi"}),
    "signal_terms": frozenset({"hyperintensity", "facilitated diffusion", "enhancement"}),
}
PRES_LEXICON: Mapping[str, str] = {
    "seizure": "seizure",
    "visual disturbance": "visual_disturbance",
    "headache": "headache",
    "confusion": "confusion",
}


def test_synthetic_second_entry() -> None:
    profile = parse(PRES_ENTRY, sign_lexicon=PRES_LEXICON, **PRES_VOCABULARY)
    assert profile.title == "Posterior reversible encephalopathy syndrome (PRES)"
    assert profile.categories == ("Vascular diseases", "Toxic and metabolic diseases")
    assert profile.description.split("\n\n")[0] == (
        "PRES is a clinico-radiological syndrome of vasogenic edema, often triggered by "
        "hypertension, renal failure or immunosuppressive drugs."
    )
    assert profile.references == (
        "Hinchey J, et al. A reversible posterior leukoencephalopathy syndrome. "
        "N Engl J Med. 1996;334:494-500.",
        "Fugate JE, Rabinstein AA. Posterior reversible encephalopathy syndrome. "
        "Lancet Neurol. 2015;14:914-925.",
    )
    assert profile.clinical_signs == ("headache", "visual_disturbance", "seizure", "confusion")

    edema, enhancement = profile.patterns
    assert edema.name == "Vasogenic edema"
    assert edema.regions == (
        path("Cerebrum", "Occipital lobe"),
        path("Cerebrum", "Parietal lobe", "Precuneus"),
        path("Cerebellum"),
    )
    assert edema.qualifiers == ("Bilateral", "Patchy")
    assert edema.sequence_signals == pairs(
        ("FLAIR", "Hyperintensity"), ("ADC", "Facilitated diffusion")
    )
    assert edema.description == (
        "Subcortical and cortical FLAIR hyperintensity in a parieto-occipital distribution."
        "\n\nIt usually resolves once the trigger is removed."
    )

    assert enhancement.name == "Cortical enhancement"
    assert enhancement.regions == (path("Cerebral cortex"),)
    assert enhancement.qualifiers == ("Focal",)
    assert enhancement.sequence_signals == pairs(("CE T1WI", "Enhancement"))
    assert enhancement.description == ""

    assert profile.all_regions() == (
        "Cerebrum",
        "Occipital lobe",
        "Parietal lobe",
        "Precuneus",
        "Cerebellum",
        "Cerebral cortex",
    )
    assert profile.pattern("cortical_enhancement") is enhancement


def test_pattern_without_description_followed_by_another_pattern() -> None:
    """A block may end right after its signals when the next pattern name follows."""
    text = PRES_ENTRY.replace(
        "\nSubcortical and cortical FLAIR hyperintensity in a parieto-occipital distribution."
        "\n\nIt usually resolves once the trigger is removed.\n",
        "",
    )
    profile = parse(text, sign_lexicon=PRES_LEXICON, **PRES_VOCABULARY)
    assert [p.name for p in profile.patterns] == ["Vasogenic edema", "Cortical enhancement"]
    assert profile.patterns[0].description == ""
    assert profile.patterns[0].sequence_signals[-1] == SequenceSignal(
        sequence="ADC", signal="Facilitated diffusion"
    )


def test_synthetic_entry_rejected_with_default_vocabulary() -> None:
    """'Patchy' is not a default qualifier, so the default vocabulary reports it."""
    patchy = PRES_ENTRY.split("\n").index("Patchy") + 1
    with pytest.raises(
        KnowledgeEntryError,
        match=rf"^line {patchy}: unexpected line shape 'Patchy' in pattern 'Vasogenic edema'",
    ):
        parse_default(PRES_ENTRY)
