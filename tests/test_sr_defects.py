"""Planted-defect corpus for the SR validator: one defect per SR, exact issue code and location.

Every case starts from a valid SR our writer produces (``fixtures/valid/example-grade3-deep.json``,
two findings, an assessment and a grade), plants ONE defect and asserts that
``validate_sr`` reports the expected issue code, severity and location, and (for errors) that no
error of another code appears. Locations are computed here from the mutated dataset (path,
concept name, template row), independently of the validator.

The helpers at the top (``base_dataset``, ``items``, ``find``, ``location``, ``encode``) are also
used by ``test_validate_sr.py`` and ``test_sr_fuzz.py``.
"""

from __future__ import annotations

import copy
import io
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from icans_interop import dicom, model
from icans_interop.validation.sr import validate_sr

try:
    import oracles
except ImportError:  # tests/ imported as a package
    from tests import oracles  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
BASE_CASE = ROOT / "fixtures" / "valid" / "example-grade3-deep.json"
ROOT_LOCATION = '1 (126000, DCM, "Imaging Measurement Report") [TID 1500 row 1]'

# ---------------------------------------------------------------------------------------------
# Helpers (shared with the other SR validator tests)


@lru_cache(maxsize=8)
def _base(sop_class: str, case: Path = BASE_CASE) -> Dataset:
    report = model.load_case(case.read_text(encoding="utf-8"))
    return dicom.write(report, sop_class=sop_class)


def base_dataset(sop_class: str = "comprehensive-3d", case: Path = BASE_CASE) -> Dataset:
    """A fresh deep copy of the valid SR our writer makes for ``case``."""
    return copy.deepcopy(_base(sop_class, case))


def encode(ds: Dataset) -> bytes:
    """``ds`` as a Part 10 file, written by pydicom exactly as it is (warnings silenced)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def items(ds: Dataset) -> Iterator[tuple[str, Dataset]]:
    """(path, item) of every content item in document order; the root is ``1``."""
    stack: list[tuple[str, Dataset]] = [("1", ds)]
    while stack:
        path, item = stack.pop()
        yield path, item
        children = item.get("ContentSequence") or []
        stack.extend(reversed([(f"{path}.{n}", child) for n, child in
                               enumerate(children, start=1)]))


def find(ds: Dataset, code: str, nth: int = 0) -> tuple[str, Dataset]:
    """The ``nth`` content item whose concept name has code value ``code``."""
    found = [(path, item) for path, item in items(ds)
             if "ConceptNameCodeSequence" in item
             and item.ConceptNameCodeSequence[0].CodeValue == code]
    return found[nth]


def location(path: str, item: Dataset, row: str | None = None) -> str:
    """The location the validator must give: path, concept name, template row."""
    if "ConceptNameCodeSequence" in item and item.ConceptNameCodeSequence:
        concept = item.ConceptNameCodeSequence[0]
        where = (f"{path} ({concept.CodeValue}, {concept.CodingSchemeDesignator}, "
                 f'"{concept.CodeMeaning}")')
    else:
        where = f"{path} (no concept name)"
    return f"{where} [{row}]" if row else where


def code_item(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def content(rel: str | None, vt: str, name: tuple[str, str, str] | None, **values: object
            ) -> Dataset:
    """A content item (``values`` are attribute keyword -> value)."""
    item = Dataset()
    if rel is not None:
        item.RelationshipType = rel
    item.ValueType = vt
    if name is not None:
        item.ConceptNameCodeSequence = Sequence([code_item(*name)])
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def by_reference(rel: str, target: list[int]) -> Dataset:
    item = Dataset()
    item.RelationshipType = rel
    item.ReferencedContentItemIdentifier = target
    return item


def append_child(parent: Dataset, child: Dataset) -> int:
    """Append ``child`` to ``parent``'s Content Sequence; its 1-based position."""
    if "ContentSequence" not in parent:
        parent.ContentSequence = Sequence()
    parent.ContentSequence.append(child)
    return len(parent.ContentSequence)


def remove(ds: Dataset, path: str) -> None:
    """Remove the content item at ``path`` (not the root)."""
    numbers = [int(n) for n in path.split(".")[1:]]
    parent = ds
    for number in numbers[:-1]:
        parent = parent.ContentSequence[number - 1]
    del parent.ContentSequence[numbers[-1] - 1]


# ---------------------------------------------------------------------------------------------
# The defects

Mutation = Callable[[Dataset], tuple[Dataset | bytes, str]]


@dataclass(frozen=True)
class Defect:
    name: str
    code: str
    mutate: Mutation
    severity: str = "error"
    sop_class: str = "comprehensive-3d"
    profile: str = "base"
    also: frozenset[str] = field(default_factory=frozenset)  # other error codes it may cause
    #: a fragment of the error dciodvfy gives for the defect, when dciodvfy checks it
    dciodvfy: str | None = None


def _missing_type1(ds: Dataset) -> tuple[Dataset, str]:
    del ds.SeriesInstanceUID
    return ds, "(0020,000E) SeriesInstanceUID"


def _missing_type2(ds: Dataset) -> tuple[Dataset, str]:
    del ds.PatientID
    return ds, "(0010,0020) PatientID"


def _empty_type1(ds: Dataset) -> tuple[Dataset, str]:
    ds.SeriesNumber = None
    return ds, "(0020,0011) SeriesNumber"


def _lowercase_cs(ds: Dataset) -> tuple[Dataset, str]:
    ds.Modality = "sr"
    return ds, "(0008,0060) Modality"


def _long_cs(ds: Dataset) -> tuple[Dataset, str]:
    ds.CompletionFlag = "COMPLETE_AND_FINAL"
    return ds, "(0040,A491) CompletionFlag"


def _enum_cs(ds: Dataset) -> tuple[Dataset, str]:
    ds.VerificationFlag = "CHECKED"
    return ds, "(0040,A493) VerificationFlag"


def _long_uid(ds: Dataset) -> tuple[Dataset, str]:
    ds.StudyInstanceUID = "1.2.826.0.1." + "7" * 60
    return ds, "(0020,000D) StudyInstanceUID"


def _uid_leading_zero(ds: Dataset) -> tuple[Dataset, str]:
    ds.SeriesInstanceUID = "1.2.826.0.1.0123"
    return ds, "(0020,000E) SeriesInstanceUID"


def _long_lo(ds: Dataset) -> tuple[Dataset, str]:
    ds.Manufacturer = "M" * 65
    return ds, "(0008,0070) Manufacturer"


def _long_sh(ds: Dataset) -> tuple[Dataset, str]:
    ds.AccessionNumber = "A" * 17
    return ds, "(0008,0050) AccessionNumber"


def _bad_da(ds: Dataset) -> tuple[Dataset, str]:
    ds.ContentDate = "20261341"
    return ds, "(0008,0023) ContentDate"


def _bad_tm(ds: Dataset) -> tuple[Dataset, str]:
    ds.ContentTime = "256000"
    return ds, "(0008,0033) ContentTime"


def _bad_pn(ds: Dataset) -> tuple[Dataset, str]:
    ds.PatientName = "Doe^Jane^M^Dr^Jr^Extra"
    return ds, "(0010,0010) PatientName"


def _wrong_sop_class(ds: Dataset) -> tuple[Dataset, str]:
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    return ds, "(0008,0016) SOPClassUID"


def _basic_text_sr(ds: Dataset) -> tuple[Dataset, str]:
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    return ds, "(0008,0016) SOPClassUID"


def _media_uid_mismatch(ds: Dataset) -> tuple[bytes, str]:
    data = encode(ds)  # pydicom rewrites the meta UID from the data set: change the bytes
    uid = str(ds.SOPInstanceUID).encode("ascii")
    at = data.index(uid) + len(uid) - 1  # first occurrence: the file meta
    changed = b"1" if data[at:at + 1] != b"1" else b"2"
    return data[:at] + changed + data[at + 1:], "File Meta > (0002,0003) MediaStorageSOPInstanceUID"


def _verified_without_observer(ds: Dataset) -> tuple[Dataset, str]:
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "VERIFIED"
    if "VerifyingObserverSequence" in ds:
        del ds.VerifyingObserverSequence
    return ds, "(0040,A073) VerifyingObserverSequence"


def _non_ascii_without_charset(ds: Dataset) -> tuple[bytes, str]:
    if "SpecificCharacterSet" in ds:
        del ds.SpecificCharacterSet
    data = encode(ds)
    name = str(ds.PatientName).encode("ascii")
    changed = name[:-1] + b"\xe9"  # same length: an e-acute in Latin-1
    return data.replace(name, changed, 1), "(0008,0005) SpecificCharacterSet"


def _root_title_missing(ds: Dataset) -> tuple[Dataset, str]:
    del ds.ConceptNameCodeSequence
    return ds, "1 (no concept name) [TID 1500 row 1]"


def _root_title_unknown_code(ds: Dataset) -> tuple[Dataset, str]:
    ds.ConceptNameCodeSequence[0].CodeValue = "126999"
    return ds, location("1", ds, "TID 1500 row 1")


def _root_title_outside_cid7021(ds: Dataset) -> tuple[Dataset, str]:
    ds.ConceptNameCodeSequence = Sequence([code_item("18748-4", "LN",
                                                     "Diagnostic imaging study")])
    return ds, location("1", ds, "TID 1500 row 1")


def _wrong_template(ds: Dataset) -> tuple[Dataset, str]:
    ds.ContentTemplateSequence[0].TemplateIdentifier = "2000"
    return ds, location("1", ds)


def _no_template_identification(ds: Dataset) -> tuple[Dataset, str]:
    del ds.ContentTemplateSequence
    return ds, ROOT_LOCATION


def _missing_observation_context(ds: Dataset) -> tuple[Dataset, str]:
    for code in ("121008", "121005"):
        remove(ds, find(ds, code)[0])
    return ds, ROOT_LOCATION + " > [TID 1500 row 3]"


def _missing_person_observer_name(ds: Dataset) -> tuple[Dataset, str]:
    remove(ds, find(ds, "121008")[0])
    return ds, ROOT_LOCATION + " > [TID 1002 row 2]"


def _no_measurements_nor_evaluations(ds: Dataset) -> tuple[Dataset, str]:
    for code in ("C0034375", "126010"):
        remove(ds, find(ds, code)[0])
    return ds, ROOT_LOCATION + " > [TID 1500 row 6]"


def _procedure_reported_contains(ds: Dataset) -> tuple[Dataset, str]:
    path, item = find(ds, "121058")
    item.RelationshipType = "CONTAINS"
    return ds, location(path, item, "TID 1500 row 4")


def _finding_site_text(ds: Dataset) -> tuple[Dataset, str]:
    path, item = find(ds, "363698007")
    item.ValueType = "TEXT"
    del item.ConceptCodeSequence
    item.TextValue = "hippocampus"
    return ds, location(path, item, "TID 1501 row 6")


def _two_tracking_identifiers(ds: Dataset) -> tuple[Dataset, str]:
    group_path, group = find(ds, "125007")
    extra = content("HAS OBS CONTEXT", "TEXT", ("112039", "DCM", "Tracking Identifier"),
                    TextValue="again")
    position = append_child(group, extra)
    return ds, location(f"{group_path}.{position}", extra, "TID 1501 row 2")


def _scoord3d_in_enhanced(ds: Dataset) -> tuple[Dataset, str]:
    group_path, group = find(ds, "125007")
    extra = content("CONTAINS", "SCOORD3D", ("111030", "DCM", "Image Region"),
                    GraphicType="POINT", GraphicData=[1.0, 2.0, 3.0],
                    ReferencedFrameOfReferenceUID="1.2.826.0.1.3680043.10.1412.5")
    position = append_child(group, extra)
    return ds, location(f"{group_path}.{position}", extra, "TID 1501 row 10e")


def _scoord3d_in_comprehensive(ds: Dataset) -> tuple[Dataset, str]:
    return _scoord3d_in_enhanced(ds)


def _relationship_not_allowed(ds: Dataset) -> tuple[Dataset, str]:
    path, site = find(ds, "363698007")
    extra = content("CONTAINS", "TEXT", ("121073", "DCM", "Impression"), TextValue="x")
    position = append_child(site, extra)
    return ds, location(f"{path}.{position}", extra)


def _container_without_continuity(ds: Dataset) -> tuple[Dataset, str]:
    path, group = find(ds, "125007")
    del group.ContinuityOfContent
    return ds, location(path, group, "TID 1501 row 1")


def _by_reference_cycle(ds: Dataset) -> tuple[Dataset, str]:
    group_path, _group = find(ds, "125007")
    finding_path, finding = find(ds, "121071")
    target = [int(n) for n in group_path.split(".")]
    position = append_child(finding, by_reference("INFERRED FROM", target))
    return ds, f"{finding_path}.{position} (by-reference to {group_path})"


def _by_reference_unresolved(ds: Dataset) -> tuple[Dataset, str]:
    finding_path, finding = find(ds, "121071")
    position = append_child(finding, by_reference("INFERRED FROM", [1, 99, 3]))
    return ds, f"{finding_path}.{position} (by-reference to 1.99.3)"


def _by_reference_in_enhanced(ds: Dataset) -> tuple[Dataset, str]:
    site_path, _site = find(ds, "363698007")
    finding_path, finding = find(ds, "121071")
    target = [int(n) for n in site_path.split(".")]
    position = append_child(finding, by_reference("INFERRED FROM", target))
    return ds, f"{finding_path}.{position} (by-reference to {site_path})"


def _unknown_dcm_code(ds: Dataset) -> tuple[Dataset, str]:
    path, item = find(ds, "112006")
    item.ConceptNameCodeSequence[0].CodeValue = "112999"
    return ds, location(path, item, "TID 1501 row 11")


def _malformed_sct(ds: Dataset) -> tuple[Dataset, str]:
    path, item = find(ds, "363698007")
    item.ConceptCodeSequence[0].CodeValue = "5366009"  # Verhoeff digit broken
    return ds, location(path, item, "TID 1501 row 6")


def _undeclared_private_scheme(ds: Dataset) -> tuple[Dataset, str]:
    del ds.CodingSchemeIdentificationSequence
    path, item = find(ds, "121071")  # its value is (PTN-DEEP, 99ICANS)
    return ds, location(path, item, "TID 1501 row 3b")


def _unknown_public_looking_scheme(ds: Dataset) -> tuple[Dataset, str]:
    path, item = find(ds, "363698007")
    item.ConceptCodeSequence[0].CodingSchemeDesignator = "SNOMED"
    return ds, location(path, item, "TID 1501 row 6")


def _mixed_case_scheme(ds: Dataset) -> tuple[Dataset, str]:
    path, item = find(ds, "363698007")
    item.ConceptCodeSequence[0].CodingSchemeDesignator = "RadLex"  # PS3.16 says RADLEX
    return ds, location(path, item, "TID 1501 row 6")


def _person_observer_name_text(ds: Dataset) -> tuple[Dataset, str]:
    path, item = find(ds, "121008")
    name = str(item.PersonName)
    del item.PersonName
    item.ValueType = "TEXT"
    item.TextValue = name
    return ds, location(path, item, "TID 1003 row 1")


def _empty_content_sequence(ds: Dataset) -> tuple[Dataset, str]:
    path, item = find(ds, "121058")
    item.ContentSequence = Sequence()
    return ds, location(path, item, "TID 1500 row 4")


_MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
_SEGMENTATION = "1.2.840.10008.5.1.4.1.1.66.4"
_RWV_MAP = "1.2.840.10008.5.1.4.1.1.67"
_ECG = "1.2.840.10008.5.1.4.1.1.9.1.1"
_SOURCE_OF_MEASUREMENT = ("121112", "DCM", "Source of Measurement")


def _instance_uid(label: str) -> str:
    return f"1.2.826.0.1.3680043.10.1412.77.{label}"


def list_as_evidence(ds: Dataset, sop_class: str, sop_instance: str,
                     keyword: str = "CurrentRequestedProcedureEvidenceSequence") -> None:
    """List an instance of ``ds``'s study in an evidence sequence (PS3.3 C.17-3)."""
    instance = Dataset()
    instance.ReferencedSOPClassUID = sop_class
    instance.ReferencedSOPInstanceUID = sop_instance
    series = Dataset()
    series.SeriesInstanceUID = _instance_uid("900")
    series.ReferencedSOPSequence = Sequence([instance])
    study = Dataset()
    study.StudyInstanceUID = ds.StudyInstanceUID
    study.ReferencedSeriesSequence = Sequence([series])
    setattr(ds, keyword, Sequence([*ds.get(keyword, []), study]))


def add_reference(ds: Dataset, value_type: str, name: tuple[str, str, str], sop_class: str,
                  sop_instance: str, listed: bool = True, **reference: object
                  ) -> tuple[str, Dataset]:
    """Add an IMAGE / COMPOSITE / WAVEFORM item to the first measurement group; list its
    instance in Current Requested Procedure Evidence unless ``listed`` is false (then another
    instance is listed, so that the sequence itself is there)."""
    group_path, group = find(ds, "125007")
    ref = Dataset()
    ref.ReferencedSOPClassUID = sop_class
    ref.ReferencedSOPInstanceUID = sop_instance
    for keyword, value in reference.items():
        setattr(ref, keyword, value)
    item = content("CONTAINS", value_type, name, ReferencedSOPSequence=Sequence([ref]))
    position = append_child(group, item)
    list_as_evidence(ds, sop_class, sop_instance if listed else _instance_uid("999"))
    return f"{group_path}.{position}", item


def _image_not_in_evidence(ds: Dataset) -> tuple[Dataset, str]:
    path, item = add_reference(ds, "IMAGE", _SOURCE_OF_MEASUREMENT, _MR_IMAGE,
                               _instance_uid("1"), listed=False)
    return ds, location(path, item, "TID 1501 row 10b")


def _composite_not_in_evidence(ds: Dataset) -> tuple[Dataset, str]:
    path, item = add_reference(ds, "COMPOSITE", ("126100", "DCM",
                                                 "Real World Value Map used for measurement"),
                               _RWV_MAP, _instance_uid("2"), listed=False)
    return ds, location(path, item, "TID 1501 row 9")


def _waveform_not_in_evidence(ds: Dataset) -> tuple[Dataset, str]:
    path, item = add_reference(ds, "WAVEFORM", _SOURCE_OF_MEASUREMENT, _ECG,
                               _instance_uid("3"), listed=False)
    return ds, location(path, item, "TID 1501 row 10f")


def _segment_and_frame_number(ds: Dataset) -> tuple[Dataset, str]:
    path, item = add_reference(ds, "IMAGE", _SOURCE_OF_MEASUREMENT, _SEGMENTATION,
                               _instance_uid("4"), ReferencedFrameNumber=[1],
                               ReferencedSegmentNumber=[1])
    return ds, location(path, item, "TID 1501 row 10b")


def _laterality_outside_cid244(ds: Dataset) -> tuple[Dataset, str]:
    path, item = find(ds, "272741003")
    item.ConceptCodeSequence = Sequence([code_item("255549009", "SCT", "Anterior")])
    return ds, location(path, item, "TID 1501 row 7")


def _meaning_mismatch(ds: Dataset) -> tuple[Dataset, str]:
    path, item = find(ds, "121058")
    item.ConceptNameCodeSequence[0].CodeMeaning = "Procedure performed"
    return ds, location(path, item, "TID 1500 row 4")


def _language_with_foreign_child(ds: Dataset) -> tuple[Dataset, str]:
    path, language = find(ds, "121049")
    extra = content("HAS CONCEPT MOD", "TEXT", ("121050", "DCM",
                                                "Equivalent Meaning of Concept Name"),
                    TextValue="English")
    position = append_child(language, extra)
    return ds, location(f"{path}.{position}", extra)


def _too_deep(ds: Dataset) -> tuple[Dataset, str]:
    parent = ds.ContentSequence[-1]
    path = f"1.{len(ds.ContentSequence)}"
    for _ in range(120):
        child = content("CONTAINS", "CONTAINER", ("121073", "DCM", "Impression"),
                        ContinuityOfContent="SEPARATE")
        position = append_child(parent, child)
        path = f"{path}.{position}"
        parent = child
        if path.count(".") + 1 == 100:
            expected = location(path, child)
    return ds, expected


def _truncated(ds: Dataset) -> tuple[bytes, str]:
    data = encode(ds)
    return data[: len(data) * 2 // 3], "(file)"


def _not_dicom(ds: Dataset) -> tuple[bytes, str]:
    return b'{"resourceType": "Bundle"}' * 10, "(file)"


def _duplicate_tracking_uid(ds: Dataset) -> tuple[Dataset, str]:
    first = find(ds, "112040", 0)[1]
    path, second = find(ds, "112040", 1)
    second.UID = first.UID
    return ds, location(path, second, "TID 1501 row 3")


def _grade_mismatch(ds: Dataset) -> tuple[Dataset, str]:
    path, item = find(ds, "ICANS-GRADE")
    item.ConceptCodeSequence = Sequence([code_item("ICANS-G1", "99ICANS", "ICANS grade 1")])
    return ds, location(path, item, "TID 1500 row 13")


def _site_outside_pattern(ds: Dataset) -> tuple[Dataset, str]:
    path, item = find(ds, "363698007")  # first finding: deep structure involvement
    item.ConceptCodeSequence = Sequence([code_item("66697007", "SCT",
                                                   "Leptomeninges structure")])
    return ds, location(path, item, "TID 1501 row 6")


def _laterality_wrong_role_icans(ds: Dataset) -> tuple[Dataset, str]:
    path, item = find(ds, "272741003")  # a known anatomy code where a laterality belongs
    item.ConceptCodeSequence = Sequence([code_item("5366008", "SCT",
                                                   "Hippocampal structure")])
    return ds, location(path, item, "TID 1501 row 7")


DEFECTS: list[Defect] = [
    Defect("missing-type1-attribute", "missing-required", _missing_type1),
    Defect("missing-type2-attribute", "missing-required", _missing_type2),
    Defect("empty-type1-attribute", "missing-required", _empty_type1),
    Defect("cs-lowercase", "invalid-value", _lowercase_cs),
    Defect("cs-too-long", "invalid-value", _long_cs),
    Defect("cs-not-enumerated", "invalid-value", _enum_cs, also=frozenset({"missing-required"})),
    Defect("uid-too-long", "invalid-value", _long_uid),
    Defect("uid-leading-zero", "invalid-value", _uid_leading_zero),
    Defect("lo-too-long", "invalid-value", _long_lo),
    Defect("sh-too-long", "invalid-value", _long_sh),
    Defect("da-invalid", "invalid-value", _bad_da),
    Defect("tm-invalid", "invalid-value", _bad_tm),
    Defect("pn-too-many-components", "invalid-value", _bad_pn),
    Defect("wrong-sop-class-mr-image", "wrong-sop-class", _wrong_sop_class),
    Defect("wrong-sop-class-basic-text-sr", "wrong-sop-class", _basic_text_sr),
    Defect("media-storage-uid-mismatch", "invalid-value", _media_uid_mismatch),
    Defect("verified-without-verifying-observer", "missing-required",
           _verified_without_observer),
    Defect("non-ascii-without-character-set", "missing-required",
           _non_ascii_without_charset),
    Defect("root-title-missing", "missing-required", _root_title_missing),
    Defect("root-title-unknown-dcm-code", "code-unknown", _root_title_unknown_code),
    Defect("root-title-outside-cid-7021", "outside-extensible-value-set",
           _root_title_outside_cid7021, severity="warning"),
    Defect("wrong-template-identifier", "wrong-template", _wrong_template),
    Defect("no-content-template-sequence", "missing-required", _no_template_identification),
    Defect("missing-observation-context", "missing-required", _missing_observation_context),
    Defect("missing-person-observer-name", "missing-required",
           _missing_person_observer_name),
    Defect("no-measurements-nor-evaluations", "missing-required",
           _no_measurements_nor_evaluations),
    Defect("wrong-relationship-procedure-reported", "wrong-relationship",
           _procedure_reported_contains),
    Defect("finding-site-wrong-value-type", "wrong-value-type", _finding_site_text),
    Defect("vm-exceeded-tracking-identifier", "too-many-items", _two_tracking_identifiers),
    Defect("scoord3d-in-enhanced-sr", "value-type-not-allowed", _scoord3d_in_enhanced,
           sop_class="enhanced"),
    Defect("scoord3d-in-comprehensive-sr", "value-type-not-allowed",
           _scoord3d_in_comprehensive, sop_class="comprehensive"),
    Defect("relationship-not-allowed", "relationship-not-allowed", _relationship_not_allowed),
    Defect("container-without-continuity", "missing-required",
           _container_without_continuity),
    Defect("by-reference-cycle", "reference-cycle", _by_reference_cycle),
    Defect("by-reference-unresolved", "reference-unresolved", _by_reference_unresolved),
    Defect("by-reference-in-enhanced-sr", "reference-not-allowed", _by_reference_in_enhanced,
           sop_class="enhanced"),
    Defect("unknown-dcm-code", "code-unknown", _unknown_dcm_code),
    Defect("malformed-sct-id", "code-unknown", _malformed_sct),
    # a private (99) designator without its declaration: dciodvfy warns, DCMTK is silent
    Defect("undeclared-private-scheme", "unknown-scheme", _undeclared_private_scheme,
           severity="warning"),
    Defect("undeclared-private-scheme-icans", "unknown-scheme", _undeclared_private_scheme,
           profile="icans"),
    Defect("unknown-scheme-designator", "unknown-scheme", _unknown_public_looking_scheme),
    Defect("mixed-case-scheme-designator", "unknown-scheme", _mixed_case_scheme),
    Defect("person-observer-name-as-text", "wrong-value-type", _person_observer_name_text),
    Defect("empty-content-sequence", "missing-required", _empty_content_sequence,
           dciodvfy="Empty attribute (no value) Type 1C Conditional Element=<ContentSequence>"),
    Defect("image-not-in-evidence", "missing-required", _image_not_in_evidence,
           dciodvfy="is not listed in CurrentRequestedProcedureEvidenceSequence or "
                    "PertinentOtherEvidenceSequence but have IMAGE"),
    Defect("composite-not-in-evidence", "missing-required", _composite_not_in_evidence,
           dciodvfy="is not listed in CurrentRequestedProcedureEvidenceSequence or "
                    "PertinentOtherEvidenceSequence but have COMPOSITE"),
    Defect("waveform-not-in-evidence", "missing-required", _waveform_not_in_evidence,
           dciodvfy="is not listed in CurrentRequestedProcedureEvidenceSequence or "
                    "PertinentOtherEvidenceSequence but have WAVEFORM"),
    Defect("segment-and-frame-number", "invalid-value", _segment_and_frame_number,
           dciodvfy="Shall not be present when ReferencedFrameNumber is present - attribute "
                    "<ReferencedSegmentNumber>"),
    Defect("laterality-outside-cid-244", "outside-extensible-value-set",
           _laterality_outside_cid244, severity="warning"),
    Defect("code-meaning-mismatch", "display-mismatch", _meaning_mismatch,
           severity="warning"),
    Defect("non-extensible-template-extended", "unexpected-item",
           _language_with_foreign_child),
    Defect("content-tree-too-deep", "too-deep", _too_deep),
    Defect("truncated-file", "unreadable", _truncated),
    Defect("not-dicom", "unreadable", _not_dicom),
    Defect("duplicate-tracking-uid", "duplicate-uid", _duplicate_tracking_uid,
           profile="icans"),
    Defect("grade-mismatch", "grade-mismatch", _grade_mismatch, profile="icans"),
    Defect("site-outside-pattern", "site-outside-pattern", _site_outside_pattern,
           severity="warning", profile="icans"),
    Defect("laterality-wrong-role", "wrong-role", _laterality_wrong_role_icans,
           profile="icans"),
]


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda d: d.name)
def test_planted_defect(defect: Defect) -> None:
    mutated, expected_location = defect.mutate(base_dataset(defect.sop_class))
    data = mutated if isinstance(mutated, bytes) else encode(mutated)
    result = validate_sr(data, defect.profile)  # type: ignore[arg-type]
    found = [(i.severity, i.code, i.location) for i in result.issues]
    assert (defect.severity, defect.code, expected_location) in found, result.to_text()
    if defect.severity == "error" and defect.profile == "base":
        unexpected = {i.code for i in result.issues if i.severity == "error"} - {
            defect.code, *defect.also}
        assert not unexpected, result.to_text()
    if defect.severity == "warning" and defect.profile == "base":
        assert result.valid, result.to_text()


@pytest.mark.slow
@pytest.mark.parametrize("defect", [d for d in DEFECTS if d.dciodvfy], ids=lambda d: d.name)
def test_reference_tool_confirms_planted_defect(defect: Defect) -> None:
    """dciodvfy reports the defects it checks as errors (the others are template, code and
    profile rules dciodvfy does not apply)."""
    oracles.require(oracles.skip_reason_dciodvfy())
    mutated, _where = defect.mutate(base_dataset(defect.sop_class))
    data = mutated if isinstance(mutated, bytes) else encode(mutated)
    errors = oracles.run_dciodvfy_on_bytes(data).errors
    assert [e for e in errors if defect.dciodvfy and defect.dciodvfy in e], errors


def test_corpus_is_large_enough() -> None:
    assert len(DEFECTS) >= 30
    assert len({d.name for d in DEFECTS}) == len(DEFECTS)


@pytest.mark.parametrize("sop_class", ["comprehensive-3d", "enhanced", "comprehensive"])
def test_base_documents_are_valid(sop_class: str) -> None:
    """The corpus starts from documents with no issue at all (both profiles)."""
    data = encode(base_dataset(sop_class))
    for profile in ("base", "icans"):
        result = validate_sr(data, profile)  # type: ignore[arg-type]
        assert result.valid, result.to_text()
        assert not [i for i in result.issues if i.severity == "warning"], result.to_text()
