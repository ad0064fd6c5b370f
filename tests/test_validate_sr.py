"""The SR validator on valid documents (ours and highdicom's), on every input form, at its
limits, and the integrity of its tables (``sr-templates.csv``, ``sr-iod.csv``, issue codes)."""

from __future__ import annotations

import copy
import csv
import io
import re
import struct
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)

from icans_interop import dicom, model
from icans_interop.dicom import part10
from icans_interop.dicom.part10 import LIMITS, Limits
from icans_interop.issues import catalogue
from icans_interop.validation import sr_codes, sr_dicom, sr_template, sr_tree, sr_values
from icans_interop.validation.sr import validate_sr
from tests.workbound import calls, watchdog

try:
    from test_sr_defects import base_dataset, encode, find, items, remove
except ImportError:  # pragma: no cover - run as a package
    from tests.test_sr_defects import (  # type: ignore[no-redef]
        base_dataset,
        encode,
        find,
        items,
        remove,
    )

ROOT = Path(__file__).resolve().parent.parent
VALID = sorted((ROOT / "fixtures" / "valid").glob("*.json"))
SOP_CLASSES = ("comprehensive-3d", "enhanced", "comprehensive")
DATA = ROOT / "icans_interop" / "data"


def errors(result: Any) -> list[str]:
    return [str(i) for i in result.issues if i.severity == "error"]


# ---------------------------------------------------------------------------------------------
# Our writer's documents


@pytest.mark.parametrize("sop_class", SOP_CLASSES)
@pytest.mark.parametrize("case", VALID, ids=lambda p: p.stem)
def test_writer_output_is_valid_under_both_profiles(case: Path, sop_class: str) -> None:
    report = model.load_case(case.read_text(encoding="utf-8"))
    data = dicom.to_bytes(dicom.write(report, sop_class=sop_class))
    base = validate_sr(data, "base", file_label=case.name)
    assert base.valid, base.to_text()
    assert base.count("warning") == 0, base.to_text()
    icans = validate_sr(data, "icans", file_label=case.name)
    assert icans.valid, icans.to_text()


@pytest.mark.parametrize("sop_class", SOP_CLASSES)
def test_writer_output_with_image_library_is_valid(sop_class: str) -> None:
    """With source images: TID 1600 image library and the evidence sequences."""
    report = model.load_case(VALID[0].read_text(encoding="utf-8"))
    images = [dicom.SourceImage(report.study.instance_uid, "1.2.826.0.1.3680043.10.1412.2",
                                "1.2.840.10008.5.1.4.1.1.4", f"1.2.826.0.1.3680043.10.1412.3.{n}")
              for n in (1, 2)]
    images.append(dicom.SourceImage("1.2.826.0.1.3680043.10.1412.9",  # a prior study
                                    "1.2.826.0.1.3680043.10.1412.8", "1.2.840.10008.5.1.4.1.1.4",
                                    "1.2.826.0.1.3680043.10.1412.7"))
    data = dicom.to_bytes(dicom.write(report, sop_class=sop_class, source_images=images))
    for profile in ("base", "icans"):
        result = validate_sr(data, profile)
        assert result.valid and not result.count("warning"), result.to_text()


def _with_one_image() -> Dataset:
    report = model.load_case(VALID[0].read_text(encoding="utf-8"))
    image = dicom.SourceImage(report.study.instance_uid, "1.2.826.0.1.3680043.10.1412.2",
                              "1.2.840.10008.5.1.4.1.1.4", "1.2.826.0.1.3680043.10.1412.3.1")
    return dicom.write(report, source_images=[image])


def test_evidence_is_required_when_images_are_referenced() -> None:
    """The image (TID 1601 entry) is then listed in neither evidence sequence, and (0040,A375)
    is required: the image belongs to the current Requested Procedure (PS3.3 C.17.2.3)."""
    ds = _with_one_image()
    del ds.CurrentRequestedProcedureEvidenceSequence
    result = validate_sr(encode(ds), "base")
    assert sorted((i.code, i.location) for i in result.issues) == [
        ("missing-required", "(0040,A375) CurrentRequestedProcedureEvidenceSequence"),
        ("missing-required", "1.5.1.1 (no concept name) [TID 1601 row 1]")]


def test_evidence_of_another_procedure_needs_no_current_evidence() -> None:
    """Listed in Pertinent Other Evidence (0040,A385) only, the referenced image is evidence
    of another Requested Procedure: (0040,A375) is not required (PS3.3 C.17.2.3), even for an
    image of the document's own study."""
    ds = _with_one_image()
    ds.PertinentOtherEvidenceSequence = ds.CurrentRequestedProcedureEvidenceSequence
    del ds.CurrentRequestedProcedureEvidenceSequence
    result = validate_sr(encode(ds), "base")
    assert result.valid and not result.issues, result.to_text()


# ---------------------------------------------------------------------------------------------
# highdicom's documents (profile base: any conformant TID 1500 passes)

hd = pytest.importorskip("highdicom")
numpy = pytest.importorskip("numpy")


def _image(study_uid: str, series_uid: str, number: int) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.10.1412.77"
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "MRN-1"
    ds.PatientBirthDate = "19610412"
    ds.PatientSex = "F"
    ds.StudyDate = "20261103"
    ds.StudyTime = "143200"
    ds.AccessionNumber = "ACC1"
    ds.StudyID = "1"
    ds.ReferringPhysicianName = "Smith^Anna"
    ds.Modality = "MR"
    ds.InstanceNumber = number
    ds.Rows = ds.Columns = 4
    ds.PixelSpacing = [1.0, 1.0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [0, 0, float(number)]
    ds.SliceThickness = 1.0
    ds.AcquisitionDate = ds.ContentDate = "20261103"
    ds.AcquisitionTime = ds.ContentTime = "143300"
    return ds


def highdicom_sr(*, findings: int = 3, sop: str = "Comprehensive3DSR", library: bool = True,
                 rois: bool = False, device: bool = False) -> Dataset:
    """A TID 1500 document built by highdicom (measurement report, evaluations, sites)."""
    study, series = generate_uid(), generate_uid()
    images = [_image(study, series, n) for n in (1, 2)]
    if device:
        observer = hd.sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid=generate_uid(), name="reader-ai", manufacturer_name="ACME"))
        context = hd.sr.ObservationContext(observer_device_context=observer)
    else:
        observer = hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name="Radiologist^Rita"))
        context = hd.sr.ObservationContext(observer_person_context=observer)
    algorithm = hd.sr.AlgorithmIdentification(name="segmenter", version="1.0")
    groups: list[Any] = []
    for index in range(findings):
        site = hd.sr.FindingSite(Code("5366008", "SCT", "Hippocampus"),
                                 laterality=codes.SCT.Left if index % 2 else codes.SCT.Right)
        measurement = hd.sr.Measurement(name=codes.SCT.Volume, value=1.5 + index,
                                        unit=codes.UCUM.CubicMillimeter, finding_sites=[site],
                                        algorithm_id=algorithm)
        evaluations = [hd.sr.QualitativeEvaluation(
            Code("112006", "DCM", "Distribution Descriptor"), Code("19648000", "SCT", "Diffuse"))]
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(),
                                                         identifier=f"Finding {index + 1}"),
            finding_type=Code("50960005", "SCT", "Hemorrhage"), finding_sites=[site],
            qualitative_evaluations=evaluations, measurements=[measurement],
            algorithm_id=algorithm))
    if rois:
        source = hd.sr.SourceImageForRegion(images[0].SOPClassUID, images[0].SOPInstanceUID)
        region = hd.sr.ImageRegion(graphic_type="POLYLINE", source_image=source,
                                   graphic_data=numpy.array(
                                       [[1.0, 1.0], [2.0, 1.0], [2.0, 2.0], [1.0, 1.0]]))
        groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier="ROI"),
            referenced_region=region,
            measurements=[hd.sr.Measurement(name=codes.SCT.Area, value=1.0,
                                            unit=codes.UCUM.SquareMillimeter)]))
        if sop == "Comprehensive3DSR":
            surface = hd.sr.VolumeSurface(
                graphic_type="POINT", graphic_data=numpy.array([[1.0, 2.0, 3.0]]),
                frame_of_reference_uid=images[0].FrameOfReferenceUID,
                source_images=[hd.sr.SourceImageForSegmentation(
                    images[0].SOPClassUID, images[0].SOPInstanceUID)])
            groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(),
                                                             identifier="Volume"),
                referenced_volume_surface=surface,
                measurements=[hd.sr.Measurement(name=codes.SCT.Volume, value=2.0,
                                                unit=codes.UCUM.CubicMillimeter)]))
    report = hd.sr.MeasurementReport(
        observation_context=context, procedure_reported=Code("24590-2", "LN", "MR Brain"),
        imaging_measurements=groups, referenced_images=images if library else None)
    cls = getattr(hd.sr, sop)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(evidence=images, content=report[0], series_instance_uid=generate_uid(),
                   series_number=1, sop_instance_uid=generate_uid(), instance_number=1,
                   manufacturer="ACME")


def _drop(ds: Dataset, *concepts: str) -> Dataset:
    """Remove every content item whose concept name is one of ``concepts``."""
    doomed = [path for path, item in items(ds) if "ConceptNameCodeSequence" in item
              and item.ConceptNameCodeSequence[0].CodeValue in concepts]
    for path in sorted(doomed, key=lambda p: [int(n) for n in p.split(".")], reverse=True):
        remove(ds, path)
    return ds


HIGHDICOM_CASES: dict[str, Callable[[], Dataset]] = {
    "comprehensive-3d": lambda: highdicom_sr(),
    "comprehensive-3d-rois": lambda: highdicom_sr(rois=True),
    "comprehensive-rois": lambda: highdicom_sr(sop="ComprehensiveSR", rois=True),
    "enhanced": lambda: highdicom_sr(sop="EnhancedSR"),
    "enhanced-rois": lambda: highdicom_sr(sop="EnhancedSR", rois=True),
    "device-observer": lambda: highdicom_sr(device=True),
    "no-image-library": lambda: highdicom_sr(library=False),
    "without-tracking-ids": lambda: _drop(highdicom_sr(), "112039", "112040"),
    "procedure-reported-absent": lambda: _drop(highdicom_sr(), "121058"),
    "language-absent": lambda: _drop(highdicom_sr(), "121049"),
    "ten-findings": lambda: highdicom_sr(findings=10),
}


@pytest.mark.parametrize("name", sorted(HIGHDICOM_CASES))
def test_highdicom_documents_pass_base(name: str) -> None:
    ds = HIGHDICOM_CASES[name]()
    result = validate_sr(encode(ds), "base", file_label=name)
    assert result.valid, result.to_text()
    assert result.count("warning") == 0, result.to_text()


def test_highdicom_document_as_dataset_is_not_modified() -> None:
    ds = highdicom_sr(findings=1)
    before = encode(ds)
    result = validate_sr(ds, "base")
    assert result.valid, result.to_text()
    assert result.file == "<dataset>"
    assert encode(ds) == before


def test_icans_profile_surfaces_reader_issues_on_foreign_documents() -> None:
    result = validate_sr(encode(highdicom_sr(findings=1)), "icans")
    reader_codes = {"unknown-code", "ignored-item", "misplaced-item", "wrong-role",
                    "assumed-value"}
    assert reader_codes & {i.code for i in result.issues}, result.to_text()


def test_template_rows_are_annotated() -> None:
    """Every item of a highdicom document that a table row describes carries that row."""
    ds = highdicom_sr(findings=1, rois=True)
    parsed = part10.parse(encode(ds))
    report = sr_tree.Report()
    tree = sr_tree.build(parsed, "comprehensive-3d", report)
    sr_template.check(tree, report)
    rows = {node.path: node.row for node in tree.nodes}
    assert rows["1"] == "TID 1500 row 1"
    group = find(ds, "125007")[0]
    assert rows[group] == "TID 1501 row 1"
    planar = find(ds, "125007", 1)[0]
    assert rows[planar] == "TID 1410 row 1"
    volumetric = find(ds, "125007", 2)[0]
    assert rows[volumetric] == "TID 1411 row 1"
    assert rows[find(ds, "272741003")[0]] == "TID 1501 row 7"
    assert rows[find(ds, "121008")[0]] == "TID 1003 row 1"
    assert rows[find(ds, "111001")[0]] == "TID 4019 row 1"


def _image_region_3d() -> Dataset:
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = "SCOORD3D"
    name = Dataset()
    name.CodeValue, name.CodingSchemeDesignator, name.CodeMeaning = (
        "111030", "DCM", "Image Region")
    item.ConceptNameCodeSequence = [name]
    item.GraphicType = "POINT"
    item.GraphicData = [1.0, 2.0, 3.0]
    item.ReferencedFrameOfReferenceUID = "1.2.826.0.1.3680043.10.1412.5"
    return item


def test_planar_group_holds_one_image_region_2d_or_3d() -> None:
    """TID 1410: the SCOORD3D image region is an alternative to the SCOORD one (and to the
    segmentation frame and the Region in Space), not an addition."""
    ds = dcmread(io.BytesIO(encode(highdicom_sr(findings=1, rois=True))))  # plain pydicom
    path, planar = find(ds, "125007", 1)
    planar.ContentSequence.append(_image_region_3d())
    where = f"{path}.{len(planar.ContentSequence)}"
    result = validate_sr(encode(ds), "base")
    assert [(i.code, i.location) for i in result.issues if i.severity == "error"] == [
        ("condition-violated", f'{where} (111030, DCM, "Image Region") [TID 1410 row 5-3d]')
    ], result.to_text()


def test_group_without_template_identifier_follows_the_template_it_fits() -> None:
    """Our writer's TID 1501 groups carry no Content Template Sequence. An SCOORD3D Image
    Region in one (TID 1501 row 10e, an $ImagePurpose reference) keeps it a TID 1501 group:
    read as TID 1410 it would lack TID 1419's measurement."""
    ds = base_dataset("comprehensive-3d")
    path, group = find(ds, "125007")
    group.ContentSequence.append(_image_region_3d())
    parsed = part10.parse(encode(ds))
    report = sr_tree.Report()
    tree = sr_tree.build(parsed, "comprehensive-3d", report)
    sr_template.check(tree, report)
    assert tree.nodes[tree.by_path[path]].row == "TID 1501 row 1"
    assert report.count("error") == 0, report.render(tree)


# ---------------------------------------------------------------------------------------------
# Input forms, encodings, labels


def test_path_bytes_and_dataset_give_the_same_issues(tmp_path: Path) -> None:
    ds = base_dataset()
    ds.Manufacturer = "M" * 65  # one planted problem so that the issues are not empty
    data = encode(ds)
    path = tmp_path / "sr.dcm"
    path.write_bytes(data)
    by_path = validate_sr(path, "base")
    by_str = validate_sr(str(path), "base")
    by_bytes = validate_sr(data, "base", file_label="mine.dcm")
    by_dataset = validate_sr(ds, "base")
    assert by_path.file == str(path) and by_bytes.file == "mine.dcm"
    assert by_path.kind == "sr"
    assert by_path.issues == by_str.issues == by_bytes.issues == by_dataset.issues
    assert [i.code for i in by_path.issues] == ["invalid-value"]


@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, ExplicitVRBigEndian,
                                    DeflatedExplicitVRLittleEndian], ids=str)
def test_other_transfer_syntaxes(syntax: str) -> None:
    ds = base_dataset()
    ds.file_meta.TransferSyntaxUID = syntax
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds.save_as(buffer, enforce_file_format=True)
        except Exception as exc:  # pydicom cannot write this syntax here
            pytest.skip(f"pydicom cannot write {syntax}: {exc}")
    result = validate_sr(buffer.getvalue(), "base")
    assert result.valid, result.to_text()


def test_undefined_lengths_are_parsed() -> None:
    """Sequences and items of undefined length (what many toolkits write)."""
    data = encode(base_dataset())
    parsed_defined = part10.parse(data)
    ds = base_dataset()
    for _path, item in items(ds):
        for element in item:
            if element.VR == "SQ":
                element.is_undefined_length = True
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(buffer, enforce_file_format=True)
    result = validate_sr(buffer.getvalue(), "base")
    assert result.valid, result.to_text()
    assert len(part10.parse(buffer.getvalue()).parents) == len(parsed_defined.parents)


@pytest.mark.parametrize("payload", [b"", b"DICM", b"\x00" * 200, b"\x00" * 128 + b"DICM"],
                         ids=["empty", "prefix-only", "zeros", "preamble-only"])
def test_unreadable_inputs(payload: bytes) -> None:
    result = validate_sr(payload, "icans")
    assert [i.code for i in result.issues] == ["unreadable"], result.to_text()
    assert not result.valid


def test_missing_file() -> None:
    result = validate_sr(Path("/nonexistent/sr.dcm"))
    assert [(i.code, i.location) for i in result.issues] == [("unreadable", "(file)")]


def test_file_size_limit(tmp_path: Path) -> None:
    data = encode(base_dataset())
    limits = Limits(max_bytes=len(data) - 1)
    assert [i.code for i in validate_sr(data, limits=limits).issues] == ["too-large"]
    path = tmp_path / "big.dcm"
    path.write_bytes(data)
    assert [i.code for i in validate_sr(path, limits=limits).issues] == ["too-large"]


# ---------------------------------------------------------------------------------------------
# Limits: deep nesting, many items, giant values (never an exception, each input < 1 s)


def _element(tag: int, vr: bytes, value: bytes) -> bytes:
    if len(value) % 2:
        value += b" " if vr != b"UI" else b"\x00"
    group, number = tag >> 16, tag & 0xFFFF
    if vr in (b"SQ", b"UT", b"OB", b"UN"):
        return struct.pack("<HH2sHI", group, number, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", group, number, vr, len(value)) + value


def _with_content(content: bytes) -> bytes:
    """A Part 10 file: the base document's header, then ``content`` as the root's content."""
    data = encode(base_dataset())
    parsed = part10.parse(data)
    start = data.index(struct.pack("<HH", 0x0040, 0xA730))
    stop = start + 12 + struct.unpack_from("<I", data, start + 8)[0]
    assert parsed.dataset[0x0040A730]
    return data[:start] + content + data[stop:]


def _deep_undefined(levels: int) -> bytes:
    open_level = (struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, 0xFFFFFFFF)
                  + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
                  + _element(0x0040A010, b"CS", b"CONTAINS")
                  + _element(0x0040A040, b"CS", b"CONTAINER")
                  + _element(0x0040A050, b"CS", b"SEPARATE"))
    close_level = (struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
                   + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0))
    return _with_content(open_level * levels + close_level * levels)


def _deep_defined(levels: int) -> bytes:
    inner = b""
    for _ in range(levels):
        body = (_element(0x0040A010, b"CS", b"CONTAINS") + _element(0x0040A040, b"CS",
                                                                     b"CONTAINER")
                + _element(0x0040A050, b"CS", b"SEPARATE") + inner)
        item = struct.pack("<HHI", 0xFFFE, 0xE000, len(body)) + body
        inner = struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, len(item)) + item
    return _with_content(inner)


@pytest.mark.parametrize("build", [_deep_undefined, _deep_defined], ids=["undefined", "defined"])
def test_deep_nesting(build: Callable[[int], bytes]) -> None:
    """Too deep is refused, and the walk stops at the nesting limit: 10,000 levels cost
    (in counted calls) no more than twice what 150 levels do, not 66 times."""
    work = {}
    for levels in (150, 10_000):
        data = build(levels)
        with watchdog():
            result, work[levels] = calls(lambda data=data: validate_sr(data, "icans"))
        assert "too-deep" in {i.code for i in result.issues}, result.to_text()[:2000]
        assert "internal-error" not in {i.code for i in result.issues}
    assert work[10_000] < 2 * work[150], work


def _flat_items(count: int) -> bytes:
    item_body = (_element(0x0040A010, b"CS", b"CONTAINS") + _element(0x0040A040, b"CS", b"TEXT")
                 + _element(0x0040A160, b"UT", b"x"))
    item = struct.pack("<HHI", 0xFFFE, 0xE000, len(item_body)) + item_body
    payload = item * count
    return _with_content(struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, len(payload))
                         + payload)


def test_too_many_content_items() -> None:
    data = _flat_items(LIMITS.max_content_items + 1)
    with watchdog():
        result = validate_sr(data, "icans")
    assert [i.code for i in result.issues] == ["too-large"], result.to_text()


def test_work_grows_linearly_with_content_items_up_to_the_limit() -> None:
    """Counted calls, not seconds: ten times the items may cost at most ~eleven times the
    calls (a quadratic step would cost a hundred). Speed: bench/bench_limits.py."""
    small = _flat_items(LIMITS.max_content_items // 10)
    large = _flat_items(LIMITS.max_content_items)
    with watchdog():
        (_, few), (result, many) = (calls(lambda: validate_sr(small, "icans")),
                                    calls(lambda: validate_sr(large, "icans")))
    assert "internal-error" not in {i.code for i in result.issues}
    assert many < 11 * few, (few, many)


def test_too_many_elements() -> None:
    """Many tiny header items (not content items) are bounded too."""
    item = struct.pack("<HHI", 0xFFFE, 0xE000, 0)
    payload = item * (LIMITS.max_elements + 1)
    other = struct.pack("<HH2sHI", 0x0008, 0x1115, b"SQ", 0, len(payload)) + payload
    data = _with_content(b"")
    at = data.index(struct.pack("<HH", 0x0008, 0x1111))  # before Ref. Performed Proc. Step
    data = data[:at] + other + data[at:]
    with watchdog():
        result = validate_sr(data, "icans")
    assert [i.code for i in result.issues] == ["too-large"], result.to_text()


def test_giant_values() -> None:
    ds = base_dataset()
    ds.Manufacturer = "M" * 2_000_000
    find(ds, "121073")[1].TextValue = "impression " * 500_000
    data = encode(ds)
    with watchdog():
        result = validate_sr(data, "icans")
    long_lo = [i for i in result.issues if i.location == "(0008,0070) Manufacturer"]
    assert long_lo and len(long_lo[0].message) < 300


# ---------------------------------------------------------------------------------------------
# Tables and issue codes


def test_template_table_compiles_and_is_consistent() -> None:
    tables = sr_template.templates()
    assert {"1500", "1501", "1204", "1001", "1002", "1003", "1004", "1600", "1601",
            "300", "4019"} <= set(tables)
    with (DATA / "sr-templates.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    keys = [(r["template"], r["row"]) for r in rows]
    assert len(keys) == len(set(keys)), "duplicate template rows"
    for row in rows:
        assert row["requirement"] in {"M", "MC", "U", "UC"}, row
        assert row["source"].startswith(f"TID {row['template']} Row "), row
        assert row["edition"], f"TID {row['template']} row {row['row']}: no edition recorded"
        if row["requirement"] in {"MC", "UC"}:
            assert row["condition"], row
    # every include of the TID 1500 tree is either tabled or known to be left open
    untabled = {"1008", "1009", "1015", "1420", "1502", "1603", "1604", "1605", "1606",
                "1607", "1609", "310", "315", "320", "321", "1000", "4108"}
    for row in rows:
        if row["include"]:
            assert row["include"] in tables or row["include"] in untabled, row


def test_template_codes_exist_or_are_flagged() -> None:
    """EV/DT concept names are PS3.16 codes, or their source says they await verification."""
    from pydicom.sr.codedict import Collection

    known = {(scheme, code.value) for scheme in ("DCM", "SCT")
             for code in Collection(scheme).concepts.values()}
    with (DATA / "sr-templates.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["concept_constraint"] in ("EV", "DT") and row["concept_scheme"] in (
                    "DCM", "SCT"):
                pair = (row["concept_scheme"], row["concept_code"])
                assert pair in known or "verify" in row["source"], row


def test_iod_table_compiles() -> None:
    tables = sr_dicom.iod_tables()
    assert set(tables.sop_classes.values()) == {*SOP_CLASSES, "basic-text"}
    assert {n for n, roots in tables.root_templates.items() if "1500" in roots} == set(
        SOP_CLASSES)  # Basic Text SR cannot carry TID 1500 (no NUM)
    assert "NUM" not in tables.value_types["basic-text"]
    assert not any(tables.relationships["basic-text"].values())  # no by-reference at all
    assert "SCOORD3D" in tables.value_types["comprehensive-3d"]
    assert "SCOORD3D" not in tables.value_types["enhanced"]
    assert "SCOORD3D" not in tables.value_types["comprehensive"]
    assert not any(tables.relationships["enhanced"].values())  # no by-reference at all
    assert tables.relationships["comprehensive"][("CONTAINER", "CONTAINS", "CONTAINER")] is False
    assert tables.relationships["comprehensive"][("CODE", "INFERRED FROM", "NUM")] is True


def test_every_issue_code_is_catalogued() -> None:
    sources = "".join((ROOT / "icans_interop" / name).read_text()
                      for name in ("validation/sr.py", "validation/sr_dicom.py",
                                   "validation/sr_tree.py", "validation/sr_template.py",
                                   "validation/sr_codes.py", "validation/sr_values.py",
                                   "dicom/part10.py"))
    with_severity = re.compile(r'(?:"error"|"warning"|"information"),\s*"([a-z-]+)"')
    direct = re.compile(r'(?:error|emit|Part10Error)\(\s*"([a-z-]+)"')
    used = set(with_severity.findall(sources)) | set(direct.findall(sources))
    used -= {"error", "warning", "information"}
    assert {"unreadable", "wrong-sop-class", "reference-cycle", "unknown-scheme"} <= used
    assert used <= set(catalogue()), used - set(catalogue())


def test_standard_schemes_include_every_scheme_of_pydicoms_context_groups() -> None:
    """No code of a PS3.16 context group can be ``unknown-scheme`` (pydicom's public API)."""
    used: set[str] = set()
    groups = 0
    for cid in range(1, 20_000):
        members = sr_template.cid_members(cid)
        if members is not None:
            groups += 1
            used |= {scheme for scheme, _code in members}
    assert groups > 1000
    assert {"DCM", "SCT", "LN", "UCUM", "RADLEX"} <= used
    assert used <= sr_codes.standard_schemes(), used - sr_codes.standard_schemes()


def test_cyclic_dataset() -> None:
    """A Dataset that contains itself (possible in memory, not in a file) is refused."""
    ds = base_dataset()
    group = find(ds, "125007")[1]
    group.ContentSequence = ds.ContentSequence
    with watchdog():
        result = validate_sr(ds, "icans")
    assert [i.code for i in result.issues] == ["too-deep"], result.to_text()


def test_dataset_input_is_not_mutated() -> None:
    ds = base_dataset()
    snapshot = copy.deepcopy(ds)
    validate_sr(ds, "icans")
    assert ds == snapshot


@pytest.mark.parametrize(("vr", "value", "ok"), [
    ("CS", b"CONTAINER ", True), ("CS", b"HAS OBS CONTEXT ", True), ("CS", b"sr", False),
    ("CS", b"ABCDEFGHIJKLMNOPQ", False), ("CS", b"ORIGINAL\\PRIMARY", True),
    ("UI", b"1.2.840.10008.5.1.4.1.1.88.34\x00", True), ("UI", b"1.2.03", False),
    ("UI", b"1." + b"2" * 63, False), ("UI", b"1.2.a", False),
    ("DA", b"20261103", True), ("DA", b"20260229", False), ("DA", b"2026-11-03", False),
    ("TM", b"143200", True), ("TM", b"143200.123456", True), ("TM", b"14", True),
    ("TM", b"246000", False), ("TM", b"14:32:00", False),
    ("DT", b"20261103160500.000000+0100", True), ("DT", b"2026", True),
    ("DT", b"20261303", False), ("DT", b"20261103160500+2500", False),
    ("PN", b"Doe^Jane", True), ("PN", b"A^B^C^D^E^F", False), ("PN", b"=" * 3 + b"x", False),
    ("PN", b"D" * 65, False), ("LO", b"x" * 64, True), ("LO", b"x" * 65, False),
    ("LO", b"a\x01b", False), ("SH", b"x" * 16, True), ("SH", b"x" * 17, False),
    ("DS", b"1.5", True), ("DS", b"-1e-3", True), ("DS", b"1,5", False),
    ("IS", b"42", True), ("IS", b"4294967296", False), ("AS", b"061Y", True),
    ("AS", b"61Y", False), ("US", b"\x01\x00", True), ("US", b"\x01", False),
    ("UT", b"line\r\nnext\tcol", True), ("UT", b"bell\x07", False),
])
def test_vr_rules(vr: str, value: bytes, ok: bool) -> None:
    problem = sr_values.VrChecker().check(vr, value)
    assert (problem is None) == ok, problem
