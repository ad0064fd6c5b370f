"""Every DICOM tag this library names, looked up once by keyword in pydicom's data dictionary.

The SR writer, the SR reader and the SR validator all take their tags from here, so a tag is
spelled once, by its PS3.6 keyword, and never as a hex number elsewhere. Tags are
:class:`pydicom.tag.BaseTag` (an ``int``), so they serve as keys of a pydicom ``Dataset`` and of
the byte layer's plain tree (:mod:`.part10`) alike.

Also here: the names used in issue locations (``(gggg,eeee) Keyword``), the VR the data
dictionary gives a tag (for implicit VR transfer syntaxes), and the set of ``...CodeSequence``
attributes (every item of those is a code item the validator checks).
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Final

from pydicom.datadict import dictionary_VR, keyword_dict, keyword_for_tag
from pydicom.tag import BaseTag, Tag


def _tag(keyword: str) -> BaseTag:
    """The tag of a PS3.6 keyword (a typo fails at import, not at run time)."""
    if keyword not in keyword_dict:
        raise ValueError(f"unknown DICOM keyword {keyword!r}")
    return Tag(keyword)


def of(keyword: str) -> BaseTag:
    """The tag of ``keyword`` for names that data tables give (``sr-iod.csv``); raises
    ``ValueError`` for an unknown keyword."""
    return _tag(keyword)


# -- delimiters (PS3.5 7.5) -----------------------------------------------------------------
ITEM: Final = _tag("Item")
ITEM_DELIMITATION: Final = _tag("ItemDelimitationItem")
SEQUENCE_DELIMITATION: Final = _tag("SequenceDelimitationItem")
#: The group of the three delimiters: their elements carry no VR, even in explicit VR.
DELIMITER_GROUP: Final = ITEM.group

# -- file meta (PS3.10 7.1) -----------------------------------------------------------------
FILE_META_GROUP_LENGTH: Final = _tag("FileMetaInformationGroupLength")
FILE_META_GROUP: Final = FILE_META_GROUP_LENGTH.group
FILE_META_INFORMATION_VERSION: Final = _tag("FileMetaInformationVersion")
IMPLEMENTATION_CLASS_UID: Final = _tag("ImplementationClassUID")
IMPLEMENTATION_VERSION_NAME: Final = _tag("ImplementationVersionName")
MEDIA_STORAGE_SOP_CLASS_UID: Final = _tag("MediaStorageSOPClassUID")
MEDIA_STORAGE_SOP_INSTANCE_UID: Final = _tag("MediaStorageSOPInstanceUID")
TRANSFER_SYNTAX_UID: Final = _tag("TransferSyntaxUID")

# -- SOP Common, Patient, General Study, SR Document Series, General Equipment ----------------
SPECIFIC_CHARACTER_SET: Final = _tag("SpecificCharacterSet")
SOP_CLASS_UID: Final = _tag("SOPClassUID")
SOP_INSTANCE_UID: Final = _tag("SOPInstanceUID")
STUDY_DATE: Final = _tag("StudyDate")
CONTENT_DATE: Final = _tag("ContentDate")
STUDY_TIME: Final = _tag("StudyTime")
CONTENT_TIME: Final = _tag("ContentTime")
ACCESSION_NUMBER: Final = _tag("AccessionNumber")
MODALITY: Final = _tag("Modality")
MANUFACTURER: Final = _tag("Manufacturer")
REFERRING_PHYSICIAN_NAME: Final = _tag("ReferringPhysicianName")
TIMEZONE_OFFSET_FROM_UTC: Final = _tag("TimezoneOffsetFromUTC")
STUDY_DESCRIPTION: Final = _tag("StudyDescription")
PROCEDURE_CODE_SEQUENCE: Final = _tag("ProcedureCodeSequence")
PATIENT_NAME: Final = _tag("PatientName")
PATIENT_ID: Final = _tag("PatientID")
ISSUER_OF_PATIENT_ID: Final = _tag("IssuerOfPatientID")
PATIENT_BIRTH_DATE: Final = _tag("PatientBirthDate")
PATIENT_SEX: Final = _tag("PatientSex")
ISSUER_OF_PATIENT_ID_QUALIFIERS_SEQUENCE: Final = _tag("IssuerOfPatientIDQualifiersSequence")
UNIVERSAL_ENTITY_ID: Final = _tag("UniversalEntityID")
UNIVERSAL_ENTITY_ID_TYPE: Final = _tag("UniversalEntityIDType")
SOFTWARE_VERSIONS: Final = _tag("SoftwareVersions")
STUDY_INSTANCE_UID: Final = _tag("StudyInstanceUID")
SERIES_INSTANCE_UID: Final = _tag("SeriesInstanceUID")
STUDY_ID: Final = _tag("StudyID")
SERIES_NUMBER: Final = _tag("SeriesNumber")
INSTANCE_NUMBER: Final = _tag("InstanceNumber")

# -- Code Sequence macro (PS3.3 Table 8.8-1) and coding scheme identification ----------------
CODE_VALUE: Final = _tag("CodeValue")
CODING_SCHEME_DESIGNATOR: Final = _tag("CodingSchemeDesignator")
CODE_MEANING: Final = _tag("CodeMeaning")
LONG_CODE_VALUE: Final = _tag("LongCodeValue")
URN_CODE_VALUE: Final = _tag("URNCodeValue")
MAPPING_RESOURCE: Final = _tag("MappingResource")
CONTEXT_GROUP_EXTENSION_FLAG: Final = _tag("ContextGroupExtensionFlag")
CODING_SCHEME_UID: Final = _tag("CodingSchemeUID")
CODING_SCHEME_IDENTIFICATION_SEQUENCE: Final = _tag("CodingSchemeIdentificationSequence")
CODING_SCHEME_NAME: Final = _tag("CodingSchemeName")
CODING_SCHEME_RESPONSIBLE_ORGANIZATION: Final = _tag("CodingSchemeResponsibleOrganization")

# -- references (SOP Instance Reference macro, Hierarchical evidence) ------------------------
REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE: Final = _tag(
    "ReferencedPerformedProcedureStepSequence")
REFERENCED_SERIES_SEQUENCE: Final = _tag("ReferencedSeriesSequence")
REFERENCED_SOP_CLASS_UID: Final = _tag("ReferencedSOPClassUID")
REFERENCED_SOP_INSTANCE_UID: Final = _tag("ReferencedSOPInstanceUID")
REFERENCED_SOP_SEQUENCE: Final = _tag("ReferencedSOPSequence")

# -- SR Document General and SR Document Content (PS3.3 C.17.2, C.17.3) -----------------------
RELATIONSHIP_TYPE: Final = _tag("RelationshipType")
VERIFYING_OBSERVER_SEQUENCE: Final = _tag("VerifyingObserverSequence")
VERIFYING_OBSERVER_NAME: Final = _tag("VerifyingObserverName")
VERIFYING_OBSERVER_IDENTIFICATION_CODE_SEQUENCE: Final = _tag(
    "VerifyingObserverIdentificationCodeSequence")
VERIFYING_ORGANIZATION: Final = _tag("VerifyingOrganization")
VERIFICATION_DATETIME: Final = _tag("VerificationDateTime")
PREDECESSOR_DOCUMENTS_SEQUENCE: Final = _tag("PredecessorDocumentsSequence")
AUTHOR_OBSERVER_SEQUENCE: Final = _tag("AuthorObserverSequence")
OBSERVER_TYPE: Final = _tag("ObserverType")
OBSERVATION_DATETIME: Final = _tag("ObservationDateTime")
VALUE_TYPE: Final = _tag("ValueType")
CONCEPT_NAME_CODE_SEQUENCE: Final = _tag("ConceptNameCodeSequence")
CONTINUITY_OF_CONTENT: Final = _tag("ContinuityOfContent")
DATETIME: Final = _tag("DateTime")
DATE: Final = _tag("Date")
TIME: Final = _tag("Time")
PERSON_NAME: Final = _tag("PersonName")
UID: Final = _tag("UID")
TEXT_VALUE: Final = _tag("TextValue")
CONCEPT_CODE_SEQUENCE: Final = _tag("ConceptCodeSequence")
OBSERVATION_UID: Final = _tag("ObservationUID")
MEASURED_VALUE_SEQUENCE: Final = _tag("MeasuredValueSequence")
PERFORMED_PROCEDURE_CODE_SEQUENCE: Final = _tag("PerformedProcedureCodeSequence")
CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE: Final = _tag(
    "CurrentRequestedProcedureEvidenceSequence")
PERTINENT_OTHER_EVIDENCE_SEQUENCE: Final = _tag("PertinentOtherEvidenceSequence")
COMPLETION_FLAG: Final = _tag("CompletionFlag")
VERIFICATION_FLAG: Final = _tag("VerificationFlag")
CONTENT_TEMPLATE_SEQUENCE: Final = _tag("ContentTemplateSequence")
CONTENT_SEQUENCE: Final = _tag("ContentSequence")
TEMPLATE_IDENTIFIER: Final = _tag("TemplateIdentifier")
REFERENCED_CONTENT_ITEM_IDENTIFIER: Final = _tag("ReferencedContentItemIdentifier")

#: Attributes of the data set that belong to the root content item (SR Document Content
#: module, PS3.3 C.17.3): everything else at the top level is a header attribute.
ROOT_CONTENT_TAGS: Final = frozenset({
    VALUE_TYPE, CONCEPT_NAME_CODE_SEQUENCE, CONTINUITY_OF_CONTENT, CONTENT_TEMPLATE_SEQUENCE,
    CONTENT_SEQUENCE, OBSERVATION_DATETIME, OBSERVATION_UID, RELATIONSHIP_TYPE,
    REFERENCED_CONTENT_ITEM_IDENTIFIER,
})


def is_private(tag: int) -> bool:
    """True for a tag of an odd (private) group."""
    return bool((tag >> 16) & 1)


@lru_cache(maxsize=4096)
def keyword(tag: int) -> str:
    """The PS3.6 keyword of ``tag`` (``"Private"`` / ``"Unknown"`` when it has none)."""
    if is_private(tag):
        return "Private"
    return keyword_for_tag(tag) or "Unknown"


def tag_text(tag: int) -> str:
    """``(gggg,eeee)`` of a tag."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


@lru_cache(maxsize=4096)
def tag_name(tag: int) -> str:
    """``(gggg,eeee) Keyword``, the form of header-attribute locations."""
    return f"{tag_text(tag)} {keyword(tag)}"


@lru_cache(maxsize=8192)
def implicit_vr(tag: int) -> str:
    """The VR of ``tag`` in an implicit VR transfer syntax (PS3.5 7.1.3).

    Private creators are LO, other private elements and unknown tags UN, group lengths UL;
    where the dictionary allows two VRs ("US or SS", "OB or OW") the first is right for the
    attributes an SR document holds.
    """
    if is_private(tag):
        return "UN" if tag & 0xFF00 else "LO"
    if tag & 0xFFFF == 0:
        return "UL"
    try:
        vr = str(dictionary_VR(tag))
    except KeyError:
        return "UN"
    return vr.split(" or ")[0] if " or " in vr else vr


@cache
def code_sequence_tags() -> frozenset[int]:
    """Every ``...CodeSequence`` attribute of the data dictionary: their items are codes."""
    return frozenset(int(tag) for name, tag in keyword_dict.items()
                     if name.endswith("CodeSequence"))
