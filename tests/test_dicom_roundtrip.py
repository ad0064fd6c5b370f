"""read(write(report)) == report: every fixture, every SOP class, generated reports."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from pydicom import Dataset, dcmread, dcmwrite
from pydicom.uid import ImplicitVRLittleEndian

try:
    from strategies import imaging_reports
except ImportError:  # tests/ imported as a package
    from tests.strategies import imaging_reports  # type: ignore[no-redef]

from icans_interop import dicom
from icans_interop.model import ImagingReport, load_case

FIXTURES = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "valid").glob("*.json"))
SOP_CLASSES = ("comprehensive-3d", "enhanced", "comprehensive")


def _dcmwrite_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


@pytest.mark.parametrize("sop_class", SOP_CLASSES)
@pytest.mark.parametrize("case", FIXTURES, ids=lambda p: p.stem)
def test_fixture_round_trip(case: Path, sop_class: str) -> None:
    report = load_case(case.read_bytes())
    ds = dicom.write(report, sop_class=sop_class)
    for source in (ds, dicom.to_bytes(ds), _dcmwrite_bytes(ds),
                   dcmread(io.BytesIO(_dcmwrite_bytes(ds)))):
        back, issues = dicom.read(source)
        assert issues == []
        assert back == report


@pytest.mark.parametrize("case", FIXTURES, ids=lambda p: p.stem)
def test_fixture_round_trip_through_a_file(case: Path, tmp_path: Path) -> None:
    report = load_case(case.read_bytes())
    path = tmp_path / "sr.dcm"
    dcmwrite(path, dicom.write(report), enforce_file_format=True)
    back, issues = dicom.read(path)
    assert (back, issues) == (report, [])
    with path.open("rb") as handle:
        assert dicom.read(handle) == (report, [])


def test_round_trip_with_source_images() -> None:
    report = load_case(FIXTURES[0].read_bytes())
    image = Dataset()
    image.StudyInstanceUID = report.study.instance_uid
    image.SeriesInstanceUID = "1.2.3.4"
    image.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    image.SOPInstanceUID = "1.2.3.4.5"
    back, issues = dicom.read(dicom.to_bytes(dicom.write(report, source_images=[image])))
    assert (back, issues) == (report, [])


def test_implicit_vr_file_is_read_through_pydicom() -> None:
    """Files the direct parser does not handle (here implicit VR) go through dcmread."""
    report = load_case(FIXTURES[0].read_bytes())
    ds = dicom.write(report)
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    data = _dcmwrite_bytes(ds)
    assert dcmread(io.BytesIO(data)).file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    assert dicom.read(data) == (report, [])


def test_rewriting_a_read_report_gives_the_same_content() -> None:
    report = load_case(FIXTURES[0].read_bytes())
    first = dicom.write(report)
    back, _ = dicom.read(first)
    assert back is not None
    second = dicom.write(back)
    assert first.ContentSequence == second.ContentSequence


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(imaging_reports())
def test_generated_round_trip(report: ImagingReport) -> None:
    ds = dicom.write(report)
    assert dicom.read(ds) == (report, [])
    assert dicom.read(dicom.to_bytes(ds)) == (report, [])


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(imaging_reports(max_findings=5))
def test_generated_round_trip_other_sop_classes_via_dcmwrite(report: ImagingReport) -> None:
    for sop_class in ("enhanced", "comprehensive"):
        data = _dcmwrite_bytes(dicom.write(report, sop_class=sop_class))
        assert dicom.read(data) == (report, [])
