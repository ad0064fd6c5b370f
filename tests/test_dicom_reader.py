"""dicom.read: tolerant of other producers, never raises, issues with SR paths."""

from __future__ import annotations

import datetime as dt
import io
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydicom import Dataset, dcmwrite
from pydicom.dataelem import DataElement
from pydicom.sequence import Sequence
from pydicom.uid import ImplicitVRLittleEndian

from icans_interop import dicom
from icans_interop.dicom import content as c
from icans_interop.dicom.part10 import LIMITS, Limits
from icans_interop.issues import Issue
from icans_interop.model import ImagingReport, load_case

FIXTURES = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "valid").glob("*.json"))
EXAMPLE = FIXTURES[0]


def _report() -> ImagingReport:
    return load_case(EXAMPLE.read_bytes())


def _written() -> Dataset:
    return dicom.write(_report())


def _code_item(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _content_item(rel: str, value_type: str, name: tuple[str, str, str], **values: Any) -> Dataset:
    item = Dataset()
    item.RelationshipType = rel
    item.ValueType = value_type
    item.ConceptNameCodeSequence = [_code_item(*name)]
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def _index_of(ds: Dataset, key: str) -> int:
    code = c.concept_code(key)
    for index, item in enumerate(ds.ContentSequence, start=1):
        if item.ConceptNameCodeSequence[0].CodeValue == code.value:
            return index
    raise AssertionError(key)


def _measurements(ds: Dataset) -> Dataset:
    container: Dataset = ds.ContentSequence[_index_of(ds, "imaging_measurements") - 1]
    return container


def _codes(issues: list[Issue]) -> list[tuple[str, str]]:
    return [(i.severity, i.code) for i in issues]


# ---------------------------------------------------------------------------------------------
# Other producers: extra items, other orders, legacy codes


def test_unknown_root_item_is_a_warning_with_its_path() -> None:
    ds = _written()
    ds.ContentSequence.append(_content_item("CONTAINS", "TEXT", ("X1", "99FOO", "Foo"),
                                            TextValue="bar"))
    report, issues = dicom.read(ds)
    assert report == _report()
    (issue,) = issues
    assert (issue.severity, issue.code) == ("warning", "unknown-code")
    assert issue.location == f'1.{len(ds.ContentSequence)} (X1, 99FOO, "Foo")'


def test_unknown_value_in_a_group_names_the_item() -> None:
    ds = _written()
    group = _measurements(ds).ContentSequence[0]
    item = _content_item("CONTAINS", "CODE", ("110805", "DCM", "T2 Weighted MR Signal Intensity"))
    item.ConceptCodeSequence = [_code_item("Z9", "99FOO", "Zed")]
    group.ContentSequence.append(item)
    report, issues = dicom.read(ds)
    assert report == _report()
    (issue,) = issues
    assert issue.code == "unknown-code"
    root_index = _index_of(ds, "imaging_measurements")
    assert issue.location.startswith(f"1.{root_index}.1.{len(group.ContentSequence)} (110805")
    assert "(Z9, 99FOO" in issue.message


def test_items_in_another_order() -> None:
    ds = _written()
    ds.ContentSequence = Sequence(list(reversed(ds.ContentSequence)))
    front = {c.concept_code(k).value for k in ("tracking_identifier", "tracking_uid", "finding")}
    for group in _measurements(ds).ContentSequence:
        items = list(group.ContentSequence)
        first = [i for i in items if i.ConceptNameCodeSequence[0].CodeValue in front]
        rest = [i for i in items if i.ConceptNameCodeSequence[0].CodeValue not in front]
        group.ContentSequence = Sequence(rest + first)  # identifiers and finding last
    assert dicom.read(ds) == (_report(), [])


def _walk(ds: Dataset) -> list[Dataset]:
    found = [ds]
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value:
                found.extend(_walk(item))
    return found


def test_srt_designator_is_read_as_sct() -> None:
    ds = _written()
    changed = 0
    for item in _walk(ds):
        if item.get("CodingSchemeDesignator") == "SCT":
            item.CodingSchemeDesignator = "SRT"
            changed += 1
    assert changed > 5
    assert dicom.read(ds) == (_report(), [])


def test_legacy_snomed_rt_code_values() -> None:
    ds = _written()
    for item in _walk(ds):
        if item.get("CodeValue") == "363698007":  # Finding Site, as older producers wrote it
            item.CodeValue, item.CodingSchemeDesignator = "G-C0E3", "SRT"
        if item.get("CodeValue") == "272741003":  # Laterality
            item.CodeValue, item.CodingSchemeDesignator = "G-C171", "SRT"
    assert dicom.read(ds) == (_report(), [])


def test_things_the_model_does_not_carry_are_noted() -> None:
    ds = _written()
    group = _measurements(ds).ContentSequence[0]
    measurement = _content_item("CONTAINS", "NUM", ("G-D705", "SRT", "Volume"))
    measurement.MeasuredValueSequence = []
    group.ContentSequence.append(measurement)
    site = group.ContentSequence[3]
    site.ContentSequence.append(_content_item("HAS CONCEPT MOD", "CODE",
                                              ("106233006", "SCT", "Topographical modifier"),
                                              ConceptCodeSequence=[_code_item(
                                                  "261183002", "SCT", "Upper")]))
    ds.ContentSequence.insert(1, _content_item("HAS OBS CONTEXT", "CODE",
                                               ("121024", "DCM", "Subject Class"),
                                               ConceptCodeSequence=[_code_item(
                                                   "121025", "DCM", "Patient")]))
    report, issues = dicom.read(ds)
    assert report == _report()
    assert _codes(issues) == [("information", "ignored-item"), ("information", "ignored-item")]


def test_wrong_role_drops_the_group() -> None:
    ds = _written()
    group = _measurements(ds).ContentSequence[0]
    position, finding = next(
        (n, i) for n, i in enumerate(group.ContentSequence, start=1)
        if i.ConceptNameCodeSequence[0].CodeValue == c.concept_code("finding").value)
    finding.ConceptCodeSequence = [_code_item("5366008", "SCT", "Hippocampal structure")]
    report, issues = dicom.read(ds)
    assert report is not None and len(report.findings) == len(_report().findings) - 1
    assert _codes(issues) == [("error", "wrong-role"), ("error", "missing-required")]
    assert issues[0].location.endswith(f'.1.{position} (121071, DCM, "Finding")')


def test_misplaced_known_concept() -> None:
    ds = _written()
    group = _measurements(ds).ContentSequence[0]
    grade = _content_item("CONTAINS", "CODE", c.concept_code("icans_grade"),
                          ConceptCodeSequence=[_code_item("ICANS-G1", "99ICANS", "ICANS grade 1")])
    group.ContentSequence.append(grade)
    report, issues = dicom.read(ds)
    assert report == _report()
    assert _codes(issues) == [("warning", "misplaced-item")]


def test_observation_datetime_inherited_from_the_container() -> None:
    ds = _written()
    container = ds.ContentSequence[_index_of(ds, "qualitative_evaluations") - 1]
    stamp = container.ContentSequence[3].ObservationDateTime
    for item in container.ContentSequence:
        if "ObservationDateTime" in item:
            del item.ObservationDateTime
    container.ObservationDateTime = stamp
    assert dicom.read(ds) == (_report(), [])


def test_unknown_sign_label() -> None:
    ds = _written()
    container = ds.ContentSequence[_index_of(ds, "qualitative_evaluations") - 1]
    container.ContentSequence.append(_content_item(
        "CONTAINS", "TEXT", c.concept_code("clinical_signs_observed"), TextValue="Hiccups"))
    report, issues = dicom.read(ds)
    assert report == _report()
    assert _codes(issues) == [("warning", "unknown-code")]


def test_ice_problems() -> None:
    ds = _written()
    container = ds.ContentSequence[_index_of(ds, "qualitative_evaluations") - 1]
    total = next(i for i in container.ContentSequence if i.get("TextValue") == "4")
    total.TextValue = "9"
    report, issues = dicom.read(ds)
    assert report == _report()
    assert _codes(issues) == [("warning", "inconsistent-value")]
    naming = next(i for i in container.ContentSequence
                  if i.ConceptNameCodeSequence[0].CodeValue == "ICE-NAMING")
    naming.TextValue = "two"
    report, issues = dicom.read(ds)
    assert report is not None and report.assessment is not None
    assert report.assessment.ice is None
    assert ("error", "invalid-value") in _codes(issues)


def test_missing_timezone_is_read_as_utc() -> None:
    ds = _written()
    del ds.TimezoneOffsetFromUTC
    report, issues = dicom.read(ds)
    assert report is not None
    assert report.issued == dt.datetime(2026, 11, 3, 16, 5, tzinfo=dt.UTC)
    assert _codes(issues) == [("information", "assumed-value")]


# ---------------------------------------------------------------------------------------------
# Missing / wrong header data


@pytest.mark.parametrize(("keyword", "location"), [
    ("StudyInstanceUID", "(0020,000D) StudyInstanceUID"),
    ("PatientID", "(0010,0020) PatientID"),
    ("StudyDate", "(0008,0020) StudyDate"),
    ("ContentDate", "(0008,0023) ContentDate"),
])
def test_missing_required_header(keyword: str, location: str) -> None:
    ds = _written()
    delattr(ds, keyword)
    report, issues = dicom.read(ds)
    assert report is None
    assert [(i.code, i.location) for i in issues] == [("missing-required", location)]


def test_bad_optional_values_are_dropped() -> None:
    ds = _written()
    ds.PatientBirthDate = "19611340"
    ds.PatientSex = "X"
    report, issues = dicom.read(ds)
    assert report is not None
    assert report.patient.birth_date is None and report.patient.sex is None
    assert [(i.code, i.location) for i in issues] == [
        ("invalid-value", "(0010,0030) PatientBirthDate"),
        ("invalid-value", "(0010,0040) PatientSex")]


def test_not_an_sr() -> None:
    ds = _written()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    report, issues = dicom.read(ds)
    assert report is None and _codes(issues) == [("error", "wrong-sop-class")]


def test_no_content_tree() -> None:
    ds = _written()
    del ds.ContentSequence
    del ds.ValueType
    report, issues = dicom.read(ds)
    assert report is not None and report.findings == ()
    assert _codes(issues)[0] == ("error", "missing-required")


# ---------------------------------------------------------------------------------------------
# Unreadable, huge, deep


@pytest.mark.parametrize("source", [b"", b"not a dicom file", b"\x00" * 132, 12345,
                                    "/nonexistent/file.dcm"])
def test_unreadable_inputs(source: Any) -> None:
    report, issues = dicom.read(source)
    assert report is None
    assert _codes(issues) == [("error", "unreadable")]


def test_truncated_bytes() -> None:
    data = dicom.to_bytes(_written())
    report, issues = dicom.read(data[: len(data) // 2])
    assert report is None
    assert _codes(issues) == [("error", "unreadable")]
    assert "truncated" in issues[0].message


def test_size_limit() -> None:
    data = dicom.to_bytes(_written())
    assert _codes(dicom.read(data, max_bytes=1000)[1]) == [("error", "too-large")]


def test_max_bytes_keeps_the_other_limits() -> None:
    """``max_bytes`` replaces only the size cap: a content-item limit given with it holds."""
    from icans_interop.dicom.part10 import Limits

    data = dicom.to_bytes(_written())
    report, issues = dicom.read(data, max_bytes=len(data) * 2,
                                limits=Limits(max_content_items=5))
    assert report is None and _codes(issues) == [("error", "too-large")]


def _deep(depth: int) -> Dataset:
    ds = _written()
    item = ds.ContentSequence[_index_of(ds, "imaging_measurements") - 1]
    for _ in range(depth):
        child = _content_item("CONTAINS", "CONTAINER", ("X", "99FOO", "Nest"),
                              ContinuityOfContent="SEPARATE")
        item.ContentSequence = [child]
        item = child
    return ds


def test_deep_tree_dataset() -> None:
    report, issues = dicom.read(_deep(300))
    assert report is None
    assert _codes(issues) == [("error", "too-deep")]


def test_deep_tree_bytes() -> None:
    report, issues = dicom.read(dicom.to_bytes(_deep(300)))
    assert report is None
    assert _codes(issues) == [("error", "too-deep")]


def _implicit_nested(depth: int) -> bytes:
    """An implicit VR file whose Content Sequence nests ``depth`` undefined-length items."""
    meta = Dataset()
    meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.34"
    ds.SOPInstanceUID = "1.2.3"
    ds.file_meta = meta  # type: ignore[assignment]
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    sq = struct.pack("<HHI", 0x0040, 0xA730, 0xFFFFFFFF)
    item = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    item_end = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
    sq_end = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    return buffer.getvalue() + (sq + item) * depth + (item_end + sq_end) * depth


@pytest.mark.parametrize("depth", [LIMITS.max_nesting + 1, 5000])
def test_deep_implicit_vr_file(depth: int) -> None:
    report, issues = dicom.read(_implicit_nested(depth))
    assert report is None
    assert _codes(issues) == [("error", "too-deep")]


def test_item_count_limit() -> None:
    limits = Limits(max_content_items=10)
    for source in (_written(), dicom.to_bytes(_written())):
        report, issues = dicom.read(source, limits=limits)
        assert report is None
        assert _codes(issues) == [("error", "too-large")]
        assert "more than 10 content items" in issues[0].message


def test_an_80_level_tree_is_within_the_limits() -> None:
    """One limit for reader and validator: 80 nested content items are read, not refused."""
    report, issues = dicom.read(dicom.to_bytes(_deep(80)))
    assert report is not None
    assert "too-deep" not in {i.code for i in issues}


# ---------------------------------------------------------------------------------------------
# Never raises: mutated datasets and bytes


def _elements(ds: Dataset) -> list[tuple[Dataset, int]]:
    found: list[tuple[Dataset, int]] = []
    for elem in ds:
        found.append((ds, elem.tag))
        if elem.VR == "SQ":
            for item in elem.value:
                found.extend(_elements(item))
    return found


_GARBAGE = st.sampled_from([
    ("US", 7), ("SQ", []), ("LO", "a\\b\\c"), ("UI", "not-a-uid"), ("DA", "2026-13-45"),
    ("TM", "99:99"), ("DT", "yesterday"), ("IS", "twelve"), ("CS", "x" * 80), ("UT", ""),
    ("OB", b"\x00\xff"), ("PN", "=^=^"), ("SH", "é" * 40), ("FD", 1.5),
])


def _check(result: tuple[ImagingReport | None, list[Issue]]) -> None:
    report, issues = result
    assert report is None or isinstance(report, ImagingReport)
    assert all(isinstance(i, Issue) for i in issues)
    if report is None:
        assert any(i.severity == "error" for i in issues)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_datasets_never_raise(data: st.DataObject) -> None:
    ds = _written()
    targets = _elements(ds)
    for _ in range(data.draw(st.integers(1, 4))):
        parent, tag = data.draw(st.sampled_from(targets))
        if tag not in parent:
            continue
        if data.draw(st.booleans()):
            del parent[tag]
        else:
            vr, value = data.draw(_GARBAGE)
            try:
                parent[tag] = DataElement(tag, vr, value, validation_mode=0)
            except ValueError:  # pydicom refuses to hold this value at all
                continue
    _check(dicom.read(ds))
    try:
        encoded = dicom.to_bytes(ds)
    except Exception:  # some garbage cannot even be written; the Dataset path was tested
        assume(False)
        raise
    _check(dicom.read(encoded))


_ENCODED = dicom.to_bytes(_written())  # one file: generated UIDs change the length per write


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_bytes_never_raise(data: st.DataObject) -> None:
    encoded = bytearray(_ENCODED)
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(encoded) - 1))
        encoded = encoded[:cut]
    for _ in range(data.draw(st.integers(0, 8))):
        if not encoded:
            break
        position = data.draw(st.integers(0, len(encoded) - 1))
        encoded[position] = data.draw(st.integers(0, 255))
    _check(dicom.read(bytes(encoded)))
