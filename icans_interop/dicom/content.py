"""SR content items as plain pydicom Datasets: the writing layer under :mod:`.writer`.

The layering follows highdicom (coding -> content items -> templates -> document) without its
object model: a content item here is just a :class:`pydicom.Dataset` built in one go from a
dict of :class:`~pydicom.dataelem.DataElement` s (``Dataset(mapping)`` adopts the mapping, so
no attribute-by-attribute ``__setattr__`` and no deep copies).

* **Tags** come from :mod:`.tags` (by PS3.6 keyword), shared with the reader and validator.
* **Codes** (:func:`concept_code`): a concept key becomes an immutable
  :class:`DicomCode` triple once per process (an LRU cache over the mapping tables). Only these
  tuples are cached; every document gets *fresh* Datasets, so nothing mutable is ever shared
  between two documents.
* **Content items** (:func:`container`, :func:`code`, :func:`text`, ...): one function per
  value type of PS3.3 C.17.3, each returning a new item with its relationship type.

Values are not validated here (``validation_mode=IGNORE``): the writer checks what it puts in
(:func:`.checks.check_report`) and the reader treats whatever it gets as untrusted.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, Final

from pydicom import config
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag

from icans_interop import terminology
from icans_interop.dicom.part10 import DicomCode
from icans_interop.dicom.tags import (
    CODE_MEANING,
    CODE_VALUE,
    CODING_SCHEME_DESIGNATOR,
    CONCEPT_CODE_SEQUENCE,
    CONCEPT_NAME_CODE_SEQUENCE,
    CONTENT_SEQUENCE,
    CONTENT_TEMPLATE_SEQUENCE,
    CONTINUITY_OF_CONTENT,
    LONG_CODE_VALUE,
    MAPPING_RESOURCE,
    OBSERVATION_DATETIME,
    OBSERVATION_UID,
    PERSON_NAME,
    REFERENCED_SOP_CLASS_UID,
    REFERENCED_SOP_INSTANCE_UID,
    REFERENCED_SOP_SEQUENCE,
    RELATIONSHIP_TYPE,
    TEMPLATE_IDENTIFIER,
    TEXT_VALUE,
    UID,
    VALUE_TYPE,
)

#: Relationship types (PS3.3 C.17.3.2.4), spelled as written.
CONTAINS: Final = "CONTAINS"
HAS_OBS_CONTEXT: Final = "HAS OBS CONTEXT"
HAS_CONCEPT_MOD: Final = "HAS CONCEPT MOD"
HAS_ACQ_CONTEXT: Final = "HAS ACQ CONTEXT"

#: Longest Code Value (SH) and Code Meaning (LO), in characters (PS3.5 Table 6.2-1).
MAX_CODE_VALUE: Final = 16
MAX_LO: Final = 64

_IGNORE: Final = config.IGNORE


def element(tag: BaseTag, vr: str, value: Any) -> DataElement:
    """A data element; values were checked by the caller, so pydicom does not re-validate."""
    return DataElement(tag, vr, value, validation_mode=_IGNORE)


def dataset(*elements: DataElement) -> Dataset:
    """A new Dataset holding ``elements`` (adopts a fresh dict: no per-attribute overhead)."""
    mapping: dict[BaseTag, DataElement | RawDataElement] = {e.tag: e for e in elements}
    return Dataset(mapping)


def sequence(items: Iterable[Dataset]) -> Sequence:
    """A new Sequence of ``items``."""
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
    """A code sequence attribute (``tag``, SQ) holding one fresh item for ``code``."""
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
    """A UIDREF item (UID in (0040,A124))."""
    return _item(rel, "UIDREF", name, (element(UID, "UI", value),), None)


def pname(rel: str, name: DicomCode, value: str) -> Dataset:
    """A PNAME item (value already in written PN form, see :mod:`.values`)."""
    return _item(rel, "PNAME", name, (element(PERSON_NAME, "PN", value),), None)


def image(rel: str, sop_class_uid: str, sop_instance_uid: str) -> Dataset:
    """An IMAGE item without a concept name (TID 1601: purpose of reference not given)."""
    reference = dataset(element(REFERENCED_SOP_CLASS_UID, "UI", sop_class_uid),
                        element(REFERENCED_SOP_INSTANCE_UID, "UI", sop_instance_uid))
    return _item(rel, "IMAGE", None,
                 (DataElement(REFERENCED_SOP_SEQUENCE, "SQ", Sequence([reference]),
                              validation_mode=_IGNORE),), None)
