"""SR content items as plain pydicom Datasets: the writing layer under :mod:`.writer`.

The layering follows highdicom (coding -> content items -> templates -> document) without its
object model: a content item here is just a :class:`pydicom.Dataset` built in one go from a
dict of :class:`~pydicom.dataelem.DataElement` s (``Dataset(mapping)`` adopts the mapping, so
no attribute-by-attribute ``__setattr__`` and no deep copies).

* **Tags** (PS3.6) of the SR modules, as :class:`~pydicom.tag.BaseTag` constants; the reader
  (:mod:`.tree`, :mod:`.reader`) uses the same constants.
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
