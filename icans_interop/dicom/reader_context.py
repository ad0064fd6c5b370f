"""The state of one SR read and the helpers every part of the walk shares.

:class:`ReadContext` holds the parsed file (:mod:`.part10`), the issue list, the document's
time zone and the provenance of what has been read; its methods turn what the walk finds into
issues instead of exceptions: a header attribute that cannot be converted, a model value that
fails validation (the field is dropped when it is optional), a code that is unknown or of the
wrong role, an item the encoding has no place for. :func:`content_items` gives each child item
with its path, name and key; :func:`concept_key` maps DICOM codes back to concept keys (legacy
SNOMED-RT codes are matched with pydicom's ``Code`` equality).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any, Final, NamedTuple, TypeVar

from pydantic import BaseModel, ValidationError
from pydicom.sr.coding import Code

from icans_interop import terminology
from icans_interop.dicom import tags
from icans_interop.dicom.layout import NOT_CARRIED
from icans_interop.dicom.part10 import DicomCode, Item, Parsed, describe
from icans_interop.issues import (
    Issue,
    error,
    information,
    issues_from_validation_error,
    warning,
)
from icans_interop.reading import Provenance

M = TypeVar("M", bound=BaseModel)

#: Value types of items the model has no field for (measurements, image references).
_NOT_CARRIED_TYPES: Final = frozenset({"NUM", "IMAGE", "SCOORD", "SCOORD3D", "TCOORD",
                                       "COMPOSITE", "WAVEFORM"})


@lru_cache(maxsize=4096)
def concept_key(scheme: str, value: str, role: str | None = None) -> str | None:
    """Concept key for a DICOM code (of ``role`` when given); SRT/SNM3 designators and
    SNOMED-RT ids are accepted.

    A legacy SNOMED-RT code (``G-A100``, designator SRT) is the SNOMED CT concept that
    pydicom's ``Code`` equality maps it to (PS3.16 Annex O).
    """
    concepts = terminology.load()
    concept = concepts.lookup_dicom(scheme, value, role)
    if concept is None and scheme in ("SRT", "SNM3", "SCT"):
        concept = concepts.lookup_dicom("SCT", value, role)
        if concept is None:
            legacy = Code(value, "SRT", "")
            concept = next((c for c in _snomed_concepts()
                            if (role is None or c.role == role)
                            and Code(c.dicom_coding().code, "SCT", "") == legacy), None)
    return None if concept is None else concept.key


@lru_cache(maxsize=1)
def _snomed_concepts() -> tuple[terminology.Concept, ...]:
    """The concepts whose DICOM coding is SNOMED CT (the candidates of a legacy code)."""
    return tuple(c for c in terminology.load()
                 if c.has_dicom_coding() and c.dicom_coding().scheme == "SCT")


def name_key(name: DicomCode | None) -> str | None:
    """Concept key of a concept name (None when absent or unknown)."""
    return None if name is None else concept_key(name.scheme, name.value)


@lru_cache(maxsize=1)
def roles() -> dict[str, str]:
    """Concept key -> role, for every concept of the mapping tables."""
    return {concept.key: concept.role for concept in terminology.load()}


class ContentItem(NamedTuple):
    """A content item as the walk sees it: node, PS3.3 path, concept name and its key."""

    node: Item
    path: str
    name: DicomCode | None
    key: str | None
    value_type: str | None
    rel: str | None


def where(path: str, name: DicomCode | None) -> str:
    """Issue location of a content item: its path and concept name."""
    return f"{path} {describe(name)}"


def attr(tag: int) -> str:
    """Issue location of a header attribute: ``(gggg,eeee) Keyword``."""
    return tags.tag_name(tag)


class ReadContext:
    """One read: the parsed file, the issue list, the time zone and the provenance."""

    def __init__(self, parsed: Parsed, issues: list[Issue]) -> None:
        self.parsed = parsed
        self.ds = parsed.dataset
        self.issues = issues
        self.tz: dt.tzinfo = dt.UTC  # Timezone Offset From UTC, once read
        self.provenance = Provenance(where("1", parsed.concept_name(parsed.dataset)))

    def issue(self, issue: Issue) -> None:
        """Record ``issue``."""
        self.issues.append(issue)

    # -- the tree ---------------------------------------------------------------------------

    def string(self, item: Item, tag: int) -> str | None:
        """The (first) value of a text element, stripped; None when absent or empty."""
        return self.parsed.first(item, tag)

    def name(self, item: Item) -> DicomCode | None:
        """The concept name of a content item."""
        return self.parsed.concept_name(item)

    def value_code(self, item: Item) -> DicomCode | None:
        """The coded value (Concept Code Sequence) of a CODE content item."""
        return self.parsed.first_code(item, tags.CONCEPT_CODE_SEQUENCE)

    def content_items(self, parent: Item, path: str) -> Iterator[ContentItem]:
        """The content items under ``parent`` (at ``path``), numbered ``path.1`` ..."""
        parsed = self.parsed
        for index, node in enumerate(parsed.children(parent), start=1):
            name = parsed.concept_name(node)
            yield ContentItem(node, f"{path}.{index}", name, name_key(name),
                              parsed.text(node, tags.VALUE_TYPE),
                              parsed.text(node, tags.RELATIONSHIP_TYPE))

    def header(self, tag: int, required: bool = False) -> str | None:
        """A header string attribute (its first value); absent and required: an issue."""
        value = self.parsed.first(self.ds, tag)
        if value is None and required:
            self.issue(error("missing-required", attr(tag), "required attribute is absent "
                                                            "or empty"))
        return value

    def validated(self, model: type[M], data: dict[str, Any], where: str,
                  fields: Mapping[str, int] | None = None) -> M | None:
        """``model`` from ``data``; fields with bad values are dropped (if optional).

        ``fields`` maps a field to the header attribute it came from, for the location.
        """
        def locate(path: str) -> str:
            field = path.split(".", 1)[0].split("[", 1)[0]
            return attr(fields[field]) if fields and field in fields else where

        for _attempt in range(len(data) + 1):
            try:
                return model.model_validate(data)
            except ValidationError as exc:
                found = issues_from_validation_error(exc, locate=locate,
                                                     prefix=f"{model.__name__}.")
                dropped = False
                for err, issue in zip(exc.errors(include_url=False), found, strict=True):
                    field = str(err["loc"][0]) if err["loc"] else ""
                    info = model.model_fields.get(field)
                    if info is None or info.is_required() or field not in data:
                        self.issue(issue)
                        return None
                    self.issue(replace(issue, message=f"{issue.message}; the value is "
                                                      "dropped"))
                    del data[field]
                    dropped = True
                if not dropped:
                    return None
        return None

    def key(self, code: DicomCode | None, role: str, path: str,
            name: DicomCode | None) -> str | None:
        """Concept key of ``code`` if it is a concept of ``role``; else an issue and None."""
        if code is None:
            self.issue(error("missing-required", where(path, name),
                             "the item has no coded value"))
            return None
        key = concept_key(code.scheme, code.value, role)
        if key is not None:
            return key
        key = concept_key(code.scheme, code.value)
        if key is None:
            self.issue(warning("unknown-code", where(path, name),
                               f"value {describe(code)} is not in the mapping tables; "
                               "skipped"))
            return None
        actual = roles()[key]
        if actual != role:
            self.issue(error("wrong-role", where(path, name),
                             f"value {describe(code)} is a {actual} concept ({key!r}); "
                             f"a {role} concept is required here"))
            return None
        return key

    def skip(self, item: Item, path: str, name: DicomCode | None, place: str) -> None:
        """Issue for an item the encoding has no place for at ``place``."""
        value_type = self.parsed.text(item, tags.VALUE_TYPE) or "?"
        key = name_key(name)
        if value_type in _NOT_CARRIED_TYPES or key in NOT_CARRIED:
            self.issue(information("ignored-item", where(path, name),
                                   f"{value_type} item in {place} is not carried by the "
                                   "model; skipped"))
        elif key is None and name is not None:
            self.issue(warning("unknown-code", where(path, name),
                               f"{value_type} item with an unknown concept name in {place}; "
                               "skipped"))
        else:
            self.issue(warning("misplaced-item", where(path, name),
                               f"{value_type} item not expected in {place}; skipped"))
