"""The knowledge entry resolved to concept keys: what each ICANS pattern allows.

The semantic rules compare a report against these per-pattern sets: a finding site outside
its pattern's regions, or a (sequence, signal) pair the entry does not describe for the
pattern, is worth a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from icans_interop import knowledge, terminology

_QUALIFIER_ROLES = ("laterality", "distribution", "number", "morphology")


class UnresolvedTermError(LookupError):
    """A word of the knowledge entry has no concept in the mapping tables."""


@dataclass(frozen=True, slots=True)
class PatternRules:
    """The concept keys the knowledge entry names for one imaging pattern."""

    pattern: str
    sites: frozenset[str]
    qualifiers: frozenset[str]
    sequence_signals: frozenset[tuple[str, str]]
    region_paths: tuple[tuple[str, ...], ...]
    #: The same qualifiers and (sequence, signal) pairs in the order the entry lists them (forms
    #: and reports show them in that order; the frozensets above answer membership).
    qualifier_order: tuple[str, ...] = ()
    sequence_signal_order: tuple[tuple[str, str], ...] = ()

    @property
    def site_order(self) -> tuple[str, ...]:
        """The finding sites in the order the entry's region paths first name them."""
        return tuple(dict.fromkeys(key for path in self.region_paths for key in path))


def _resolve(text: str, *roles: str) -> str:
    terms = terminology.load()
    for role in roles:
        key = terms.term(text, role)
        if key is not None:
            return key
    raise UnresolvedTermError(f"knowledge entry term {text!r} has no concept of role "
                              f"{'/'.join(roles)} in mappings/knowledge-terms.csv")


def resolve_pattern(pattern: knowledge.ImagingPattern) -> PatternRules:
    """Resolve every word of one pattern block to concept keys."""
    paths = tuple(tuple(_resolve(part, "anatomy") for part in region.parts)
                  for region in pattern.regions)
    qualifiers = tuple(dict.fromkeys(_resolve(q, *_QUALIFIER_ROLES) for q in pattern.qualifiers))
    pairs = tuple(dict.fromkeys((_resolve(p.sequence, "mr_sequence"), _resolve(p.signal, "signal"))
                                for p in pattern.sequence_signals))
    return PatternRules(
        pattern=_resolve(pattern.name, "pattern"),
        sites=frozenset(key for path in paths for key in path),
        qualifiers=frozenset(qualifiers),
        sequence_signals=frozenset(pairs),
        region_paths=paths,
        qualifier_order=qualifiers,
        sequence_signal_order=pairs,
    )


@lru_cache(maxsize=1)
def pattern_rules() -> dict[str, PatternRules]:
    """Rules for every pattern of the packaged knowledge entry, by pattern key."""
    return {rules.pattern: rules
            for rules in (resolve_pattern(p) for p in knowledge.load().patterns)}
