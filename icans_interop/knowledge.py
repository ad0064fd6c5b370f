"""Parser for knowledge-base entries that describe a disease and its imaging patterns.

A knowledge-base entry is a small plain-text document (the packaged example is
``icans_interop/data/icans-knowledge-entry.txt``). Its layout, top to bottom:

* a single **title** line (the disease name) followed by a blank line;
* one or more **category** lines (``Inflammatory diseases``, ...);
* a ``General description`` header followed by free-text paragraphs;
* a ``References`` header followed by a numbered list (``  1. Author ...``);
* one **pattern block** per imaging pattern:

  - the pattern name line (``Hemorrhage``),
  - an ``Anatomical regions`` header,
  - region items: a bullet line ``  • Cerebrum`` starts a region path and each
    following indented line without a bullet nests one level deeper, so
    ``• Cerebrum`` / ``Temporal lobe`` / ``Hippocampus`` is the path
    Cerebrum > Temporal lobe > Hippocampus,
  - qualifier lines (``Symmetric``, ``Bilateral``, ...),
  - sequence lines, each immediately followed by a signal line
    (``T2WI`` then ``Hyperintensity``),
  - a free-text description paragraph.

The parser is written for the *format*, not for one document: whether a line in a
pattern block is a qualifier, a sequence or a signal is decided by membership in
vocabularies that the caller injects (normally from the terminology tables), and
clinical signs are found with an injected lexicon. :func:`load` takes both from the
terminology tables (``mappings/knowledge-terms.csv``, :func:`table_vocabulary`), so an
entry that parses is also an entry whose terms all have concepts.

Every structural problem raises exactly one :class:`KnowledgeEntryError` naming
the 1-based line number and the offending line, so a broken entry can be fixed
without guessing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ENTRY_RESOURCE",
    "REGION_SEPARATOR",
    "DiseaseProfile",
    "ImagingPattern",
    "KnowledgeEntryError",
    "RegionPath",
    "SequenceSignal",
    "Vocabulary",
    "find_clinical_signs",
    "load",
    "parse",
    "pattern_key",
    "table_vocabulary",
]

# --------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------

ENTRY_RESOURCE: Final = "icans-knowledge-entry.txt"
"""File name of the packaged entry inside ``icans_interop.data``."""

REGION_SEPARATOR: Final = " \u203a "
"""Separator used by :meth:`RegionPath.__str__` (a single right-pointing angle quote)."""

_PROSE_MIN_CHARS: Final = 80
"""A line at least this long is free text even without a final full stop."""

_MESSAGE_LINE_CHARS: Final = 60
"""Lines quoted in error messages are shortened to about this many characters."""

_BULLETS: Final = ("\u2022", "-", "*")
_HEADER_GENERAL: Final = "general description"
_HEADER_REFERENCES: Final = "references"
_HEADER_REGIONS: Final = "anatomical regions"
_NUMBERED_ITEM: Final = re.compile(r"^(\d+)[.)]\s+(.*)$")


# --------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------


class RegionPath(BaseModel):
    """An anatomical region with its ancestors, outermost first.

    The entry nests regions by indentation (``• Cerebrum`` / ``Temporal lobe`` /
    ``Hippocampus``); keeping the whole path lets callers code the most specific
    region while still being able to roll findings up to the parent structure.
    """

    model_config = ConfigDict(frozen=True)

    parts: tuple[str, ...] = Field(min_length=1)

    @property
    def leaf(self) -> str:
        """The most specific region name (the last path element)."""
        return self.parts[-1]

    @property
    def parent(self) -> RegionPath | None:
        """The enclosing region path, or ``None`` for a top-level region."""
        if len(self.parts) == 1:
            return None
        return RegionPath(parts=self.parts[:-1])

    def __str__(self) -> str:
        """Human-readable path: the parts joined with :data:`REGION_SEPARATOR` (U+203A)."""
        return REGION_SEPARATOR.join(self.parts)


class SequenceSignal(BaseModel):
    """An MRI sequence together with the signal the pattern shows on it."""

    model_config = ConfigDict(frozen=True)

    sequence: str
    signal: str


class ImagingPattern(BaseModel):
    """One imaging pattern block of an entry: where it occurs and how it looks."""

    model_config = ConfigDict(frozen=True)

    name: str
    regions: tuple[RegionPath, ...]
    qualifiers: tuple[str, ...] = ()
    sequence_signals: tuple[SequenceSignal, ...] = ()
    description: str = ""

    @property
    def key(self) -> str:
        """Stable identifier derived from the name (``deep_structure_involvement``)."""
        return pattern_key(self.name)


class DiseaseProfile(BaseModel):
    """Everything a knowledge-base entry says about one disease."""

    model_config = ConfigDict(frozen=True)

    title: str
    categories: tuple[str, ...] = ()
    description: str = ""
    references: tuple[str, ...] = ()
    patterns: tuple[ImagingPattern, ...]
    clinical_signs: tuple[str, ...] = ()

    def pattern(self, name_or_key: str) -> ImagingPattern:
        """Return the pattern whose name (case-insensitive) or key matches.

        Raises ``KeyError`` listing the available keys when nothing matches, so a
        typo in calling code fails loudly instead of silently yielding nothing.
        """
        wanted = _fold(name_or_key)
        wanted_key = pattern_key(name_or_key)
        for candidate in self.patterns:
            if _fold(candidate.name) == wanted or candidate.key == wanted_key:
                return candidate
        available = ", ".join(p.key for p in self.patterns)
        raise KeyError(f"no imaging pattern {name_or_key!r} (available: {available})")

    def all_regions(self) -> tuple[str, ...]:
        """Unique region names of all patterns, ancestors included, in first-seen order."""
        return _unique(part for p in self.patterns for r in p.regions for part in r.parts)

    def all_qualifiers(self) -> tuple[str, ...]:
        """Unique qualifiers of all patterns in first-seen order."""
        return _unique(q for p in self.patterns for q in p.qualifiers)

    def all_sequences(self) -> tuple[str, ...]:
        """Unique MRI sequences of all patterns in first-seen order."""
        return _unique(s.sequence for p in self.patterns for s in p.sequence_signals)

    def all_signals(self) -> tuple[str, ...]:
        """Unique signal behaviours of all patterns in first-seen order."""
        return _unique(s.signal for p in self.patterns for s in p.sequence_signals)


class KnowledgeEntryError(ValueError):
    """A knowledge-base entry does not follow the expected format.

    ``line_no`` is 1-based and ``line`` is the offending line as written (without
    its line break), so tools can point an editor at the exact spot.
    """

    line_no: int
    line: str
    reason: str

    def __init__(self, line_no: int, line: str, reason: str) -> None:
        super().__init__(f"line {line_no}: {reason}")
        self.line_no = line_no
        self.line = line
        self.reason = reason

    def __reduce__(self) -> tuple[type[KnowledgeEntryError], tuple[int, str, str]]:
        """Keep the exception picklable despite the custom constructor."""
        return (type(self), (self.line_no, self.line, self.reason))


# --------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------


def pattern_key(name: str) -> str:
    """Turn a pattern name into a lower-case identifier (``Deep structure involvement``
    -> ``deep_structure_involvement``) usable as a dictionary key or code suffix."""
    return re.sub(r"[^0-9a-z]+", "_", name.casefold()).strip("_")


def parse(
    text: str,
    *,
    qualifier_terms: frozenset[str],
    sequence_terms: frozenset[str],
    signal_terms: frozenset[str],
    sign_lexicon: Mapping[str, str],
) -> DiseaseProfile:
    """Parse a knowledge-base entry into a :class:`DiseaseProfile`.

    The vocabularies decide how the non-region lines of a pattern block are read
    (membership is case-insensitive), and ``sign_lexicon`` (lower-case phrase ->
    sign key) drives clinical-sign extraction from the general description.

    Raises :class:`KnowledgeEntryError` (and nothing else) for malformed input.
    """
    vocabulary = _Vocabulary(
        qualifiers=frozenset(_fold(t) for t in qualifier_terms),
        sequences=frozenset(_fold(t) for t in sequence_terms),
        signals=frozenset(_fold(t) for t in signal_terms),
    )
    return _Parser(text, vocabulary, sign_lexicon).parse()


def load(path: str | Path | None = None) -> DiseaseProfile:
    """Load an entry with the default vocabularies.

    Without ``path`` the copy shipped in ``icans_interop.data`` is read through
    :mod:`importlib.resources` (works from wheels and zip imports) and the result is
    cached, since the packaged entry cannot change while the process runs.
    """
    if path is None:
        return _load_packaged()
    return _parse_with_tables(Path(path).read_text(encoding="utf-8-sig"))


def find_clinical_signs(text: str, lexicon: Mapping[str, str]) -> tuple[str, ...]:
    """Return the sign keys whose phrases occur in ``text``, by first appearance.

    Phrases match whole words, case-insensitively; spaces and hyphens inside a
    phrase are interchangeable and the last word may be plural. A key reachable
    through several phrases is reported once, at its earliest occurrence.
    """
    first_seen: dict[str, tuple[int, int]] = {}
    for order, (phrase, key) in enumerate(lexicon.items()):
        regex = _phrase_regex(phrase)
        if regex is None:
            continue
        match = regex.search(text)
        if match is None:
            continue
        rank = (match.start(), order)
        if key not in first_seen or rank < first_seen[key]:
            first_seen[key] = rank
    return tuple(sorted(first_seen, key=first_seen.__getitem__))


# --------------------------------------------------------------------------------------
# Implementation
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _load_packaged() -> DiseaseProfile:
    """Parse the packaged entry once per process."""
    resource = resources.files("icans_interop.data").joinpath(ENTRY_RESOURCE)
    return _parse_with_tables(resource.read_text(encoding="utf-8-sig"))


@dataclass(frozen=True)
class Vocabulary:
    """The words that classify a pattern block's lines, and the clinical-sign lexicon."""

    qualifier_terms: frozenset[str]
    sequence_terms: frozenset[str]
    signal_terms: frozenset[str]
    sign_lexicon: Mapping[str, str]


@functools.lru_cache(maxsize=1)
def table_vocabulary() -> Vocabulary:
    """The vocabularies of the mapping tables (``knowledge-terms.csv``).

    An empty vocabulary would silently turn every line into a region, so it is an error.
    """
    from icans_interop import terminology  # local: keeps parse() usable without the tables

    terms = terminology.load()
    vocabulary = Vocabulary(
        qualifier_terms=frozenset().union(*(terms.terms(role) for role in (
            "laterality", "distribution", "number", "morphology"))),
        sequence_terms=terms.terms("mr_sequence"),
        signal_terms=terms.terms("signal"),
        sign_lexicon=MappingProxyType(terms.lexicon("clinical_sign")),
    )
    for name in ("qualifier_terms", "sequence_terms", "signal_terms", "sign_lexicon"):
        if not getattr(vocabulary, name):
            raise terminology.TerminologyError(
                f"knowledge-terms.csv gives no {name.replace('_', ' ')}")
    return vocabulary


def _parse_with_tables(text: str) -> DiseaseProfile:
    """Parse with the vocabularies of the mapping tables."""
    vocabulary = table_vocabulary()
    return parse(
        text,
        qualifier_terms=vocabulary.qualifier_terms,
        sequence_terms=vocabulary.sequence_terms,
        signal_terms=vocabulary.signal_terms,
        sign_lexicon=vocabulary.sign_lexicon,
    )


def _fold(text: str) -> str:
    """Normalise for comparisons: collapse whitespace and case-fold."""
    return " ".join(text.split()).casefold()


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    """Deduplicate strings, keeping first-seen order."""
    return tuple(dict.fromkeys(items))


def _quote(text: str) -> str:
    """Quote a line for an error message, shortening long free text."""
    if len(text) > _MESSAGE_LINE_CHARS:
        text = text[: _MESSAGE_LINE_CHARS - 3] + "..."
    return repr(text)


def _is_prose(text: str) -> bool:
    """Free text is long or reads as a sentence; short bare lines are labels."""
    return len(text) >= _PROSE_MIN_CHARS or text.endswith((".", "!", "?"))


def _bullet_text(text: str) -> str | None:
    """Return the item text of a bullet line, or ``None`` if it is not one."""
    for bullet in _BULLETS:
        if text == bullet:
            return ""
        if text.startswith(bullet) and text[len(bullet)].isspace():
            return text[len(bullet) :].strip()
    if text.startswith(_BULLETS[0]):  # "•Cerebrum": the real bullet needs no space
        return text[1:].strip()
    return None


_SEPARATOR_CLASS: Final = r"[\s\-\u2010\u2011]+"


@functools.lru_cache(maxsize=256)
def _phrase_regex(phrase: str) -> re.Pattern[str] | None:
    """Compile a whole-word, plural-tolerant matcher for a lexicon phrase."""
    tokens = [t for t in re.split(_SEPARATOR_CLASS, phrase.casefold()) if t]
    if not tokens:
        return None
    *head, last = tokens
    body = _SEPARATOR_CLASS.join([*(re.escape(t) for t in head), _plural_tolerant(last)])
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def _plural_tolerant(word: str) -> str:
    """Regex for a word and its regular English plural."""
    if len(word) > 1 and word.endswith("y") and word[-2] not in "aeiou":
        return re.escape(word[:-1]) + "(?:y|ies)"
    if word.endswith("is"):
        return re.escape(word[:-2]) + "(?:is|es)"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return re.escape(word) + "(?:es)?"
    return re.escape(word) + "s?"


@dataclass(frozen=True)
class _Vocabulary:
    """Case-folded term sets used to classify pattern-block lines."""

    qualifiers: frozenset[str]
    sequences: frozenset[str]
    signals: frozenset[str]

    @property
    def all_terms(self) -> frozenset[str]:
        """Every qualifier, sequence and signal term."""
        return self.qualifiers | self.sequences | self.signals


@dataclass(frozen=True)
class _Line:
    """One physical line of the entry."""

    no: int
    raw: str

    @property
    def text(self) -> str:
        """The line without surrounding whitespace."""
        return self.raw.strip()

    @property
    def blank(self) -> bool:
        """Whether the line holds only whitespace."""
        return not self.text

    @property
    def indented(self) -> bool:
        """Whether non-blank content starts after leading whitespace."""
        return not self.blank and self.raw[0].isspace()

    @property
    def header(self) -> str | None:
        """The normalised section header this line is, if any."""
        folded = _fold(self.text).removesuffix(":").rstrip()
        if folded in (_HEADER_GENERAL, _HEADER_REFERENCES, _HEADER_REGIONS):
            return folded
        return None


class _Parser:
    """Single-pass, line-oriented parser; each ``_read_*`` method consumes one part."""

    def __init__(self, text: str, vocabulary: _Vocabulary, lexicon: Mapping[str, str]) -> None:
        self.lines = [
            _Line(no, raw.removesuffix("\r")) for no, raw in enumerate(text.split("\n"), 1)
        ]
        self.pos = 0
        self.vocabulary = vocabulary
        self.lexicon = lexicon

    # -- helpers -----------------------------------------------------------------------

    def _error(self, line: _Line, reason: str) -> KnowledgeEntryError:
        return KnowledgeEntryError(line.no, line.raw, reason)

    def _current(self) -> _Line | None:
        return self.lines[self.pos] if self.pos < len(self.lines) else None

    def _skip_blank(self) -> _Line | None:
        """Advance past blank lines and return the next non-blank line (not consumed)."""
        while (line := self._current()) is not None and line.blank:
            self.pos += 1
        return line

    def _next_nonblank_after(self, index: int) -> _Line | None:
        for following in range(index + 1, len(self.lines)):
            if not self.lines[following].blank:
                return self.lines[following]
        return None

    def _last_nonblank(self) -> _Line:
        for line in reversed(self.lines):
            if not line.blank:
                return line
        return self.lines[-1]

    def _is_pattern_name(self, line: _Line) -> bool:
        """A pattern name is a short, unindented label that is not a section header."""
        return (
            not line.indented
            and line.header is None
            and _bullet_text(line.text) is None
            and not _is_prose(line.text)
        )

    def _announces_regions(self, index: int) -> bool:
        following = self._next_nonblank_after(index)
        return following is not None and following.header == _HEADER_REGIONS

    # -- parts -------------------------------------------------------------------------

    def parse(self) -> DiseaseProfile:
        if all(line.blank for line in self.lines):
            raise self._error(self.lines[0], "empty knowledge entry (expected a title line)")
        title = self._read_title()
        categories = self._read_categories()
        description = self._read_general_description()
        references = self._read_references()
        patterns = self._read_patterns()
        return DiseaseProfile(
            title=title,
            categories=categories,
            description=description,
            references=references,
            patterns=patterns,
            clinical_signs=find_clinical_signs(description, self.lexicon),
        )

    def _read_title(self) -> str:
        line = self._skip_blank()
        if line is None:  # unreachable: parse() rejects an all-blank entry first
            raise self._error(self.lines[0], "empty knowledge entry (expected a title line)")
        if (
            line.indented
            or line.header is not None
            or _bullet_text(line.text) is not None
            or _NUMBERED_ITEM.match(line.text)
        ):
            raise self._error(
                line, f"missing title: expected the disease name before {_quote(line.text)}"
            )
        self.pos += 1
        following = self._current()
        if following is not None and not following.blank and following.header is None:
            raise self._error(
                line,
                f"missing title: {_quote(line.text)} is directly followed by "
                f"{_quote(following.text)} on line {following.no} "
                "(expected a single title line followed by a blank line)",
            )
        return " ".join(line.text.split())

    def _read_categories(self) -> tuple[str, ...]:
        categories: list[str] = []
        while (line := self._skip_blank()) is not None:
            if line.header == _HEADER_GENERAL:
                self.pos += 1
                return tuple(categories)
            if line.header is not None:
                raise self._error(
                    line,
                    f"missing 'General description' section before {_quote(line.text)}",
                )
            if not self._is_pattern_name(line):
                raise self._error(
                    line,
                    f"unexpected line {_quote(line.text)} before the 'General description' "
                    "header (expected a short category line)",
                )
            categories.append(" ".join(line.text.split()))
            self.pos += 1
        last = self._last_nonblank()
        raise self._error(last, "missing 'General description' section (entry ends here)")

    def _read_general_description(self) -> str:
        paragraphs: list[list[str]] = []
        previous_blank = True
        while (line := self._current()) is not None:
            if line.blank:
                previous_blank = True
                self.pos += 1
                continue
            if line.header == _HEADER_REFERENCES:
                self.pos += 1
                return "\n\n".join(" ".join(p) for p in paragraphs)
            if line.header is not None:
                raise self._error(
                    line,
                    f"unexpected header {_quote(line.text)} in the 'General description' "
                    "section (missing 'References' section?)",
                )
            if previous_blank:
                paragraphs.append([])
            paragraphs[-1].append(" ".join(line.text.split()))
            previous_blank = False
            self.pos += 1
        last = self._last_nonblank()
        raise self._error(last, "missing 'References' section (entry ends here)")

    def _read_references(self) -> tuple[str, ...]:
        references: list[str] = []
        item_open = False
        while (line := self._current()) is not None:
            if line.blank:
                item_open = False
                self.pos += 1
                continue
            numbered = _NUMBERED_ITEM.match(line.text)
            if numbered is not None:
                references.append(" ".join(numbered.group(2).split()))
                item_open = True
            elif line.indented and item_open:
                references[-1] = f"{references[-1]} {' '.join(line.text.split())}"
            elif line.header == _HEADER_REGIONS:
                raise self._error(
                    line, "'Anatomical regions' header without a preceding pattern name"
                )
            elif line.header is not None:
                raise self._error(line, f"duplicate section header {_quote(line.text)}")
            elif self._is_pattern_name(line):
                break
            else:
                raise self._error(
                    line,
                    f"unexpected line {_quote(line.text)} in 'References' "
                    "(expected a numbered reference or a pattern name)",
                )
            self.pos += 1
        return tuple(references)

    def _read_patterns(self) -> tuple[ImagingPattern, ...]:
        patterns: list[ImagingPattern] = []
        seen: dict[str, int] = {}
        while self._current() is not None:
            start = self.lines[self.pos]
            pattern = self._read_pattern()
            if pattern.key in seen:
                raise self._error(
                    start,
                    f"duplicate pattern {_quote(pattern.name)} "
                    f"(already defined on line {seen[pattern.key]})",
                )
            seen[pattern.key] = start.no
            patterns.append(pattern)
        if not patterns:
            raise self._error(
                self._last_nonblank(),
                "no imaging pattern in the entry (expected a pattern name followed by an "
                "'Anatomical regions' header after the references)",
            )
        return tuple(patterns)

    def _read_pattern(self) -> ImagingPattern:
        """Read one pattern block; ``pos`` must be at its name line."""
        name_line = self.lines[self.pos]
        name = " ".join(name_line.text.split())
        self.pos += 1
        header = self._skip_blank()
        if header is None:
            raise self._error(
                name_line,
                f"pattern {_quote(name)} has no 'Anatomical regions' header (entry ends here)",
            )
        if header.header != _HEADER_REGIONS:
            raise self._error(
                header,
                f"expected 'Anatomical regions' header after pattern name {_quote(name)} "
                f"(line {name_line.no}), got {_quote(header.text)}",
            )
        self.pos += 1
        regions = self._read_regions(name, header)
        qualifiers, pairs, description = self._read_pattern_body(name)
        return ImagingPattern(
            name=name,
            regions=regions,
            qualifiers=qualifiers,
            sequence_signals=pairs,
            description=description,
        )

    def _read_regions(self, name: str, header: _Line) -> tuple[RegionPath, ...]:
        regions: list[RegionPath] = []
        current: list[str] | None = None

        def close() -> None:
            nonlocal current
            if current is not None:
                regions.append(RegionPath(parts=tuple(current)))
                current = None

        while (line := self._current()) is not None:
            if line.blank:
                close()
            elif (item := _bullet_text(line.text)) is not None:
                close()
                if not item:
                    raise self._error(line, f"empty region item in pattern {_quote(name)}")
                current = [" ".join(item.split())]
            elif line.indented:
                if current is None:
                    raise self._error(
                        line,
                        f"region continuation {_quote(line.text)} in pattern {_quote(name)} "
                        "does not follow a bullet item",
                    )
                current.append(" ".join(line.text.split()))
            else:
                break
            self.pos += 1
        close()
        if not regions:
            line = self._current()
            culprit = header if line is None else line
            raise self._error(
                culprit,
                f"no region items under 'Anatomical regions' in pattern {_quote(name)}",
            )
        return tuple(regions)

    def _read_pattern_body(
        self, name: str
    ) -> tuple[tuple[str, ...], tuple[SequenceSignal, ...], str]:
        """Read qualifiers, sequence/signal pairs and the description of a pattern.

        Stops (without consuming) at the next pattern's name line or at the end.
        """
        vocabulary = self.vocabulary
        qualifiers: list[str] = []
        pairs: list[SequenceSignal] = []
        paragraphs: list[list[str]] = []
        pending: _Line | None = None  # a sequence line still waiting for its signal
        previous_blank = False
        while (line := self._current()) is not None:
            if line.blank:
                previous_blank = True
                self.pos += 1
                continue
            text = " ".join(line.text.split())
            folded = text.casefold()
            if pending is not None:
                if folded not in vocabulary.signals:
                    raise self._error(
                        pending,
                        f"sequence {_quote(pending.text)} in pattern {_quote(name)} is not "
                        f"followed by a signal line (got {_quote(text)} on line {line.no})",
                    )
                pairs.append(SequenceSignal(sequence=" ".join(pending.text.split()), signal=text))
                pending = None
            elif line.header == _HEADER_REGIONS:
                raise self._error(
                    line, "'Anatomical regions' header without a preceding pattern name"
                )
            elif line.header is not None:
                raise self._error(
                    line, f"unexpected section header {_quote(text)} in pattern {_quote(name)}"
                )
            elif _bullet_text(line.text) is not None:
                raise self._error(
                    line,
                    f"region item {_quote(text)} in pattern {_quote(name)} is not part of the "
                    "'Anatomical regions' list",
                )
            elif paragraphs:
                # Inside the description: a short label after a blank line (or right
                # before an 'Anatomical regions' header) starts the next pattern.
                if self._is_pattern_name(line) and (
                    previous_blank or self._announces_regions(self.pos)
                ):
                    break
                if folded in vocabulary.all_terms:
                    raise self._error(
                        line,
                        f"{_quote(text)} in pattern {_quote(name)} follows the description "
                        "(qualifier, sequence and signal lines must precede it)",
                    )
                if previous_blank:
                    paragraphs.append([])
                paragraphs[-1].append(text)
            elif folded in vocabulary.qualifiers:
                qualifiers.append(text)
            elif folded in vocabulary.sequences:
                pending = line
            elif folded in vocabulary.signals:
                raise self._error(
                    line,
                    f"signal {_quote(text)} in pattern {_quote(name)} does not follow a "
                    "sequence line",
                )
            elif _is_prose(text):
                paragraphs.append([text])
            elif self._is_pattern_name(line) and self._announces_regions(self.pos):
                break  # the next pattern starts; this one has no description
            else:
                raise self._error(
                    line,
                    f"unexpected line shape {_quote(text)} in pattern {_quote(name)} "
                    "(expected a qualifier, sequence or signal)",
                )
            previous_blank = False
            self.pos += 1
        if pending is not None:
            raise self._error(
                pending,
                f"sequence {_quote(pending.text)} in pattern {_quote(name)} is not followed "
                "by a signal line (entry ends)",
            )
        description = "\n\n".join(" ".join(p) for p in paragraphs)
        return tuple(qualifiers), tuple(pairs), description
