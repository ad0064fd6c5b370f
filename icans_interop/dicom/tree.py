"""The plain tree the SR reader walks, and accessors that never raise on it.

A :data:`Node` is a dict tag -> value, a sequence being a list of Nodes. It is made either from
a pydicom Dataset (:func:`plain`) or straight from Part 10 bytes (:func:`.codec.parse_part10`),
so both inputs go through one walk; pydicom's lazy element conversion costs more than the whole
walk. Both builders enforce the depth and item limits (:class:`LimitExceeded`) without deep
recursion. The accessors (:func:`string_of`, :func:`item_name`, :func:`item_code`,
:func:`children`) return ``None`` or ``[]`` instead of raising when an attribute is absent,
empty or of another type, because the input comes from any producer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydicom.dataset import Dataset

from icans_interop.dicom.content import (
    CODE_MEANING,
    CODE_VALUE,
    CODING_SCHEME_DESIGNATOR,
    CONCEPT_CODE_SEQUENCE,
    CONCEPT_NAME_CODE_SEQUENCE,
    CONTENT_SEQUENCE,
    LONG_CODE_VALUE,
    URN_CODE_VALUE,
    DicomCode,
)

Node = dict[int, Any]


class LimitExceeded(Exception):
    """The input exceeds a reader limit; ``code`` is the issue code (too-deep, too-large)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def tag_text(tag: int) -> str:
    """``(gggg,eeee)`` of a tag, for issue locations."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def plain(ds: Dataset, on_error: Callable[[str, str], None], max_depth: int,
          max_items: int) -> Node:
    """A Dataset as a plain tree; unreadable elements are reported and left out.

    Content items get PS3.3 paths (``1.4.2``); other sequence items ``path (gggg,eeee)[n]``.
    """
    count = 0

    def convert(dataset: Dataset, path: str, depth: int) -> Node:
        nonlocal count
        count += 1
        if depth > max_depth:
            raise LimitExceeded("too-deep", f"nesting deeper than {max_depth} levels at {path}")
        if count > max_items:
            raise LimitExceeded("too-large", f"more than {max_items} items")
        node: Node = {}
        for tag in list(dataset.keys()):
            try:
                elem = dataset[tag]
                value = elem.value
                if elem.VR == "SQ":
                    items: list[Node] = []
                    for index, item in enumerate(value or (), start=1):
                        sub = (f"{path}.{index}" if tag == CONTENT_SEQUENCE
                               else f"{path} {tag_text(tag)}[{index}]")
                        items.append(convert(item, sub, depth + 1))
                    value = items
                node[int(tag)] = value
            except (LimitExceeded, RecursionError, MemoryError):
                raise
            except Exception as exc:
                on_error(f"{path} {tag_text(tag)}", f"unreadable value: {exc}")
        return node

    return convert(ds, "1", 1)


def string_of(node: Node, tag: int) -> str | None:
    """A single string value, stripped; None when absent, empty or binary."""
    value = node.get(tag)
    if value is None or isinstance(value, bytes | bytearray):
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, list | tuple):
        if not value or isinstance(value[0], dict):
            return None
        text = str(value[0])
    else:
        text = str(value)  # PersonName, IS, DS, UID ...
    text = text.strip(" \x00")
    return text or None


def items_of(node: Node, tag: int) -> list[Node]:
    """The items of a sequence attribute (empty when absent or not a sequence)."""
    value = node.get(tag)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def read_code(item: Node) -> DicomCode | None:
    """The code triple of a Code Sequence item (Code / Long Code / URN Code Value)."""
    value = (string_of(item, CODE_VALUE) or string_of(item, LONG_CODE_VALUE)
             or string_of(item, URN_CODE_VALUE))
    if value is None:
        return None
    return DicomCode(value, string_of(item, CODING_SCHEME_DESIGNATOR) or "",
                     string_of(item, CODE_MEANING) or "")


def first_code(node: Node, tag: int) -> DicomCode | None:
    """The code in the first item of a code sequence attribute, if any."""
    items = items_of(node, tag)
    return read_code(items[0]) if items else None


def item_name(item: Node) -> DicomCode | None:
    """The concept name of a content item."""
    return first_code(item, CONCEPT_NAME_CODE_SEQUENCE)


def item_code(item: Node) -> DicomCode | None:
    """The coded value (Concept Code Sequence) of a CODE content item."""
    return first_code(item, CONCEPT_CODE_SEQUENCE)


def children(item: Node) -> list[Node]:
    """The content items under ``item`` (empty when it has none)."""
    return items_of(item, CONTENT_SEQUENCE)


def describe(code_: DicomCode | None) -> str:
    """``(value, scheme, "meaning")`` as PS3.16 writes codes, for issue messages."""
    if code_ is None:
        return "(no concept name)"
    return f'({code_.value}, {code_.scheme}, "{code_.meaning}")'
