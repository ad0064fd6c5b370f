"""SR content items as plain pydicom Datasets: the small layer under the writer and reader.

The layering follows highdicom (coding -> content items -> templates -> document) without its
object model: a content item here is just a :class:`pydicom.Dataset` built in one go from a
dict of :class:`~pydicom.dataelem.DataElement` s (``Dataset(mapping)`` adopts the mapping, so
no attribute-by-attribute ``__setattr__`` and no deep copies).

* **Codes** (:func:`concept_code`): a concept key becomes an immutable
  :class:`DicomCode` triple once per process (an LRU cache over the mapping tables). Only these
  tuples are cached; every document gets *fresh* Datasets, so nothing mutable is ever shared
  between two documents.
* **Content items** (:func:`container`, :func:`code`, :func:`text`, ...): one function per
  value type of PS3.3 C.17.3, each returning a new item with its relationship type.
* **Reading**: the reader walks a *plain tree* (:data:`Node`: tag -> value, a sequence being a
  list of Nodes), made from a Dataset by :func:`plain` or straight from Explicit VR Little
  Endian Part 10 bytes by :func:`parse_part10` (pydicom's lazy element conversion costs more
  than the whole walk); both enforce the depth and item limits without deep recursion.
  Accessors (:func:`string_of`, :func:`item_name`, :func:`item_code`, :func:`children`) return
  ``None`` or ``[]`` instead of raising when an attribute is absent, empty or of another type.

Values are not validated here (``validation_mode=IGNORE``): the writer checks what it puts in
(``writer.check_report``) and the reader treats whatever it gets as untrusted.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any, Final, NamedTuple

from pydicom import config
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag

from icans_interop import terminology

# --------------------------------------------------------------------------------------------
# Tags (PS3.6) used by the SR modules, as BaseTag so Dataset(mapping) gets proper keys.

SPECIFIC_CHARACTER_SET: Final = BaseTag(0x00080005)
SOP_CLASS_UID: Final = BaseTag(0x00080016)
SOP_INSTANCE_UID: Final = BaseTag(0x00080018)
STUDY_DATE: Final = BaseTag(0x00080020)
CONTENT_DATE: Final = BaseTag(0x00080023)
STUDY_TIME: Final = BaseTag(0x00080030)
CONTENT_TIME: Final = BaseTag(0x00080033)
ACCESSION_NUMBER: Final = BaseTag(0x00080050)
MODALITY: Final = BaseTag(0x00080060)
MANUFACTURER: Final = BaseTag(0x00080070)
REFERRING_PHYSICIAN_NAME: Final = BaseTag(0x00080090)
CODE_VALUE: Final = BaseTag(0x00080100)
CODING_SCHEME_DESIGNATOR: Final = BaseTag(0x00080102)
CODE_MEANING: Final = BaseTag(0x00080104)
MAPPING_RESOURCE: Final = BaseTag(0x00080105)
CODING_SCHEME_UID: Final = BaseTag(0x0008010C)
CODING_SCHEME_IDENTIFICATION_SEQUENCE: Final = BaseTag(0x00080110)
CODING_SCHEME_NAME: Final = BaseTag(0x00080115)
CODING_SCHEME_RESPONSIBLE_ORGANIZATION: Final = BaseTag(0x00080116)
LONG_CODE_VALUE: Final = BaseTag(0x00080119)
URN_CODE_VALUE: Final = BaseTag(0x00080120)
TIMEZONE_OFFSET_FROM_UTC: Final = BaseTag(0x00080201)
STUDY_DESCRIPTION: Final = BaseTag(0x00081030)
REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE: Final = BaseTag(0x00081111)
REFERENCED_SERIES_SEQUENCE: Final = BaseTag(0x00081115)
REFERENCED_SOP_CLASS_UID: Final = BaseTag(0x00081150)
REFERENCED_SOP_INSTANCE_UID: Final = BaseTag(0x00081155)
REFERENCED_SOP_SEQUENCE: Final = BaseTag(0x00081199)
PATIENT_NAME: Final = BaseTag(0x00100010)
PATIENT_ID: Final = BaseTag(0x00100020)
ISSUER_OF_PATIENT_ID: Final = BaseTag(0x00100021)
PATIENT_BIRTH_DATE: Final = BaseTag(0x00100030)
PATIENT_SEX: Final = BaseTag(0x00100040)
SOFTWARE_VERSIONS: Final = BaseTag(0x00181020)
STUDY_INSTANCE_UID: Final = BaseTag(0x0020000D)
SERIES_INSTANCE_UID: Final = BaseTag(0x0020000E)
STUDY_ID: Final = BaseTag(0x00200010)
SERIES_NUMBER: Final = BaseTag(0x00200011)
INSTANCE_NUMBER: Final = BaseTag(0x00200013)
RELATIONSHIP_TYPE: Final = BaseTag(0x0040A010)
VERIFYING_OBSERVER_SEQUENCE: Final = BaseTag(0x0040A073)
OBSERVATION_DATETIME: Final = BaseTag(0x0040A032)
VALUE_TYPE: Final = BaseTag(0x0040A040)
CONCEPT_NAME_CODE_SEQUENCE: Final = BaseTag(0x0040A043)
CONTINUITY_OF_CONTENT: Final = BaseTag(0x0040A050)
DATETIME: Final = BaseTag(0x0040A120)
DATE: Final = BaseTag(0x0040A121)
TIME: Final = BaseTag(0x0040A122)
PERSON_NAME: Final = BaseTag(0x0040A123)
UID: Final = BaseTag(0x0040A124)
TEXT_VALUE: Final = BaseTag(0x0040A160)
CONCEPT_CODE_SEQUENCE: Final = BaseTag(0x0040A168)
OBSERVATION_UID: Final = BaseTag(0x0040A171)
PERFORMED_PROCEDURE_CODE_SEQUENCE: Final = BaseTag(0x0040A372)
CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE: Final = BaseTag(0x0040A375)
PERTINENT_OTHER_EVIDENCE_SEQUENCE: Final = BaseTag(0x0040A385)
COMPLETION_FLAG: Final = BaseTag(0x0040A491)
VERIFICATION_FLAG: Final = BaseTag(0x0040A493)
CONTENT_TEMPLATE_SEQUENCE: Final = BaseTag(0x0040A504)
CONTENT_SEQUENCE: Final = BaseTag(0x0040A730)
TEMPLATE_IDENTIFIER: Final = BaseTag(0x0040DB00)

#: Relationship types (PS3.3 C.17.3.2.4), spelled as written.
CONTAINS: Final = "CONTAINS"
HAS_OBS_CONTEXT: Final = "HAS OBS CONTEXT"
HAS_CONCEPT_MOD: Final = "HAS CONCEPT MOD"
HAS_ACQ_CONTEXT: Final = "HAS ACQ CONTEXT"

#: Longest Code Value (SH) and Code Meaning (LO), in characters (PS3.5 Table 6.2-1).
MAX_CODE_VALUE: Final = 16
MAX_LO: Final = 64

_IGNORE: Final = config.IGNORE


class DicomCode(NamedTuple):
    """A code triple as written in a Code Sequence item: (value, designator, meaning)."""

    value: str
    scheme: str
    meaning: str


def element(tag: BaseTag, vr: str, value: Any) -> DataElement:
    """A data element; values were checked by the caller, so pydicom does not re-validate."""
    return DataElement(tag, vr, value, validation_mode=_IGNORE)


def dataset(*elements: DataElement) -> Dataset:
    """A new Dataset holding ``elements`` (adopts a fresh dict: no per-attribute overhead)."""
    mapping: dict[BaseTag, DataElement | RawDataElement] = {e.tag: e for e in elements}
    return Dataset(mapping)


def sequence(items: Iterable[Dataset]) -> Sequence:
    return Sequence(list(items))


# --------------------------------------------------------------------------------------------
# Coding layer


def fit_lo(text: str) -> str:
    """``text`` cut to 64 bytes (UTF-8) at a word boundary (Code Meaning is LO).

    Code Meanings are labels, never compared by readers (PS3.3 8.3), so shortening a long
    local display keeps the file valid without losing the code.
    """
    if len(text.encode("utf-8")) <= MAX_LO:
        return text
    cut = text
    while len(cut.encode("utf-8")) > MAX_LO - 3:
        cut = cut[:-1]
    cut = cut.rstrip()
    space = cut.rfind(" ")
    if space > MAX_LO // 2:
        cut = cut[:space].rstrip(" ,;:-/")
    return cut + "..."


@cache
def concept_code(key: str) -> DicomCode:
    """The DICOM code of a concept key (first standard coding, else the local one)."""
    coding = terminology.load().concept(key).dicom_coding()
    assert coding.scheme is not None  # dicom_coding() only returns codings with a scheme
    return DicomCode(coding.code, coding.scheme, fit_lo(coding.meaning))


def code_sequence_item(code: DicomCode) -> Dataset:
    """A fresh Code Sequence item (Basic Coded Entry Attributes, PS3.3 Table 8.8-1)."""
    value_tag, value_vr = ((CODE_VALUE, "SH") if len(code.value) <= MAX_CODE_VALUE
                           else (LONG_CODE_VALUE, "UC"))
    return Dataset({
        value_tag: DataElement(value_tag, value_vr, code.value, validation_mode=_IGNORE),
        CODING_SCHEME_DESIGNATOR: DataElement(CODING_SCHEME_DESIGNATOR, "SH", code.scheme,
                                              validation_mode=_IGNORE),
        CODE_MEANING: DataElement(CODE_MEANING, "LO", code.meaning, validation_mode=_IGNORE),
    })


def code_sequence(tag: BaseTag, code: DicomCode) -> DataElement:
    return DataElement(tag, "SQ", Sequence([code_sequence_item(code)]),
                       validation_mode=_IGNORE)


# --------------------------------------------------------------------------------------------
# Content-item layer (PS3.3 C.17.3 Document Content / Relationship macros)


def _item(rel: str | None, value_type: str, name: DicomCode | None,
          extra: Iterable[DataElement], children: list[Dataset] | None,
          observation_datetime: str | None = None,
          observation_uid: str | None = None) -> Dataset:
    elements: dict[BaseTag, DataElement | RawDataElement] = {}
    if rel is not None:
        elements[RELATIONSHIP_TYPE] = DataElement(RELATIONSHIP_TYPE, "CS", rel,
                                                  validation_mode=_IGNORE)
    elements[VALUE_TYPE] = DataElement(VALUE_TYPE, "CS", value_type, validation_mode=_IGNORE)
    if name is not None:
        elements[CONCEPT_NAME_CODE_SEQUENCE] = code_sequence(CONCEPT_NAME_CODE_SEQUENCE, name)
    for extra_element in extra:
        elements[extra_element.tag] = extra_element
    if observation_datetime is not None:
        elements[OBSERVATION_DATETIME] = element(OBSERVATION_DATETIME, "DT",
                                                 observation_datetime)
    if observation_uid is not None:
        elements[OBSERVATION_UID] = element(OBSERVATION_UID, "UI", observation_uid)
    if children:
        elements[CONTENT_SEQUENCE] = DataElement(CONTENT_SEQUENCE, "SQ", Sequence(children),
                                                 validation_mode=_IGNORE)
    return Dataset(elements)


def container(name: DicomCode, children: list[Dataset], *, rel: str | None = CONTAINS,
              template: str | None = None, observation_uid: str | None = None) -> Dataset:
    """A CONTAINER item, ContinuityOfContent SEPARATE, with an optional DCMR template id."""
    extra = [element(CONTINUITY_OF_CONTENT, "CS", "SEPARATE")]
    if template is not None:
        extra.append(DataElement(CONTENT_TEMPLATE_SEQUENCE, "SQ", Sequence([dataset(
            element(MAPPING_RESOURCE, "CS", "DCMR"),
            element(TEMPLATE_IDENTIFIER, "CS", template),
        )]), validation_mode=_IGNORE))
    return _item(rel, "CONTAINER", name, extra, children, observation_uid=observation_uid)


def code(rel: str, name: DicomCode, value: DicomCode, *,
         children: list[Dataset] | None = None,
         observation_datetime: str | None = None) -> Dataset:
    """A CODE item: concept name = ``name``, Concept Code Sequence = ``value``."""
    return _item(rel, "CODE", name, (code_sequence(CONCEPT_CODE_SEQUENCE, value),), children,
                 observation_datetime)


def text(rel: str, name: DicomCode, value: str, *,
         observation_datetime: str | None = None) -> Dataset:
    """A TEXT item (Text Value is UT: any length, backslash allowed)."""
    return _item(rel, "TEXT", name, (element(TEXT_VALUE, "UT", value),), None,
                 observation_datetime)


def uidref(rel: str, name: DicomCode, value: str) -> Dataset:
    return _item(rel, "UIDREF", name, (element(UID, "UI", value),), None)


def pname(rel: str, name: DicomCode, value: str) -> Dataset:
    return _item(rel, "PNAME", name, (element(PERSON_NAME, "PN", value),), None)


def image(rel: str, sop_class_uid: str, sop_instance_uid: str) -> Dataset:
    """An IMAGE item without a concept name (TID 1601: purpose of reference not given)."""
    reference = dataset(element(REFERENCED_SOP_CLASS_UID, "UI", sop_class_uid),
                        element(REFERENCED_SOP_INSTANCE_UID, "UI", sop_instance_uid))
    return _item(rel, "IMAGE", None,
                 (DataElement(REFERENCED_SOP_SEQUENCE, "SQ", Sequence([reference]),
                              validation_mode=_IGNORE),), None)


# --------------------------------------------------------------------------------------------
# Reading layer. The reader works on a plain tree (``Node``: tag -> value, a sequence being a
# list of Nodes), made either from a pydicom Dataset (:func:`plain`) or straight from Part 10
# bytes (:func:`parse_part10`), so both inputs go through one walk. Accessors never raise on
# absent or empty values.

Node = dict[int, Any]


class LimitExceeded(Exception):
    """The input exceeds a reader limit; ``code`` is the issue code (too-deep, too-large)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Truncated(Exception):
    """Part 10 bytes end inside an element, item or sequence."""


class Unsupported(Exception):
    """Bytes the fast parser does not handle (another transfer syntax, charset, ...)."""


def tag_text(tag: int) -> str:
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


_EXPLICIT_LE: Final = "1.2.840.10008.1.2.1"
_TEXT_VRS: Final = frozenset({b"AE", b"AS", b"CS", b"DA", b"DS", b"DT", b"IS", b"LO", b"LT",
                              b"PN", b"SH", b"ST", b"TM", b"UC", b"UI", b"UR", b"UT"})
_BINARY_VRS: Final = frozenset({b"AT", b"FD", b"FL", b"OB", b"OD", b"OF", b"OL", b"OV", b"OW",
                                b"SL", b"SS", b"SV", b"UL", b"UN", b"US", b"UV"})
_LONG_VRS: Final = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC",
                              b"UN", b"UR", b"UT", b"UV"})
_SINGLE_VALUED: Final = frozenset({b"LT", b"ST", b"UT", b"UR"})
_CHARSETS: Final = {"": "latin-1", "ISO_IR 6": "latin-1", "ISO_IR 100": "latin-1",
                    "ISO_IR 192": "utf-8"}
_HEAD: Final = struct.Struct("<HH2s")
_ITEM_HEAD: Final = struct.Struct("<HHI")
_U16: Final = struct.Struct("<H")
_U32: Final = struct.Struct("<I")
_UNDEFINED: Final = 0xFFFFFFFF


class _Parser:
    """Explicit VR Little Endian data set parser producing a plain tree."""

    def __init__(self, data: bytes, max_depth: int, max_items: int) -> None:
        self.data = data
        self.size = len(data)
        self.max_depth = max_depth
        self.max_items = max_items
        self.count = 1
        self.codec = "latin-1"

    def dataset(self, pos: int, end: int | None, depth: int) -> tuple[Node, int]:
        data = self.data
        node: Node = {}
        while end is None or pos < end:
            if pos + 8 > self.size:
                raise Truncated(f"data ends inside a data set at byte {pos}")
            group, elem, vr = _HEAD.unpack_from(data, pos)
            if group == 0xFFFE:
                if elem == 0xE00D and end is None:
                    return node, pos + 8
                raise Unsupported(f"unexpected delimiter at byte {pos}")
            if vr in _LONG_VRS:
                if pos + 12 > self.size:
                    raise Truncated(f"data ends inside an element header at byte {pos}")
                length, start = _U32.unpack_from(data, pos + 8)[0], pos + 12
            elif vr in _TEXT_VRS or vr in _BINARY_VRS:
                length, start = _U16.unpack_from(data, pos + 6)[0], pos + 8
            else:
                raise Unsupported(f"unknown VR {vr!r} at byte {pos}")
            tag = group << 16 | elem
            if vr == b"SQ":
                node[tag], pos = self.sequence(start, length, depth)
                continue
            if length == _UNDEFINED:
                raise Unsupported("undefined length outside a sequence")
            stop = start + length
            if stop > self.size:
                raise Truncated(f"data ends inside {tag_text(tag)} at byte {self.size}")
            if vr in _TEXT_VRS:
                node[tag] = self.text(tag, vr, data[start:stop], depth)
            else:
                node[tag] = data[start:stop]
            pos = stop
        if pos != end:
            raise Truncated(f"an item overruns its length at byte {pos}")
        return node, pos

    def text(self, tag: int, vr: bytes, raw: bytes, depth: int) -> str | list[str]:
        text = raw.decode("ascii" if vr == b"UI" else self.codec)
        text = text.rstrip("\x00 ") if vr != b"UT" else text.rstrip(" ")
        if tag == 0x00080005:
            if depth != 1 or text not in _CHARSETS:
                raise Unsupported(f"Specific Character Set {text!r}")
            self.codec = _CHARSETS[text]
        if vr not in _SINGLE_VALUED and "\\" in text:
            return text.split("\\")
        return text

    def sequence(self, start: int, length: int, depth: int) -> tuple[list[Node], int]:
        data = self.data
        items: list[Node] = []
        end = None if length == _UNDEFINED else start + length
        if end is not None and end > self.size:
            raise Truncated(f"a sequence overruns the data at byte {start}")
        pos = start
        while end is None or pos < end:
            if pos + 8 > self.size:
                raise Truncated(f"data ends inside a sequence at byte {pos}")
            group, elem, item_length = _ITEM_HEAD.unpack_from(data, pos)
            if group != 0xFFFE:
                raise Unsupported(f"expected an item tag at byte {pos}")
            if elem == 0xE0DD:
                if end is None:
                    return items, pos + 8
                raise Unsupported(f"sequence delimiter in a defined-length sequence at {pos}")
            if elem != 0xE000:
                raise Unsupported(f"unexpected delimiter at byte {pos}")
            self.count += 1
            if self.count > self.max_items:
                raise LimitExceeded("too-large", f"more than {self.max_items} items")
            if depth + 1 > self.max_depth:
                raise LimitExceeded("too-deep", f"nesting deeper than {self.max_depth} levels")
            if item_length == _UNDEFINED:
                item, pos = self.dataset(pos + 8, None, depth + 1)
            else:
                item_end = pos + 8 + item_length
                if item_end > self.size:
                    raise Truncated(f"an item overruns the data at byte {pos}")
                item, pos = self.dataset(pos + 8, item_end, depth + 1)
            items.append(item)
        if pos != end:
            raise Truncated(f"a sequence overruns its length at byte {pos}")
        return items, pos


def parse_part10(data: bytes, max_depth: int, max_items: int) -> Node | None:
    """The data set of an Explicit VR Little Endian Part 10 file as a plain tree.

    None when the bytes are not such a file (the caller then uses ``dcmread``); raises
    :class:`Truncated`, :class:`Unsupported` or :class:`LimitExceeded`.
    """
    if len(data) < 132 or data[128:132] != b"DICM":
        return None
    pos, syntax = 132, None
    while pos + 8 <= len(data) and data[pos:pos + 2] == b"\x02\x00":
        _group, elem, vr = _HEAD.unpack_from(data, pos)
        if vr in _LONG_VRS:
            length, start = _U32.unpack_from(data, pos + 8)[0], pos + 12
        else:
            length, start = _U16.unpack_from(data, pos + 6)[0], pos + 8
        if elem == 0x0010:
            syntax = data[start:start + length].decode("ascii", "replace").rstrip("\x00 ")
        pos = start + length
    if syntax != _EXPLICIT_LE:
        return None
    parser = _Parser(data, max_depth, max_items)
    return parser.dataset(pos, len(data), 1)[0]


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
    return first_code(item, CONCEPT_NAME_CODE_SEQUENCE)


def item_code(item: Node) -> DicomCode | None:
    return first_code(item, CONCEPT_CODE_SEQUENCE)


def children(item: Node) -> list[Node]:
    """The content items under ``item`` (empty when it has none)."""
    return items_of(item, CONTENT_SEQUENCE)


def describe(code_: DicomCode | None) -> str:
    """``(value, scheme, "meaning")`` as PS3.16 writes codes, for issue messages."""
    if code_ is None:
        return "(no concept name)"
    return f'({code_.value}, {code_.scheme}, "{code_.meaning}")'
