"""SR conformance corpus built with highdicom: TID 1500 documents written by another producer.

highdicom is an independent implementation of the SR templates (its own encoders for TID 1500,
1501, 1410, 1411 and 1419). Every document here is built through its public API the way a
highdicom user writes one, exercising what the templates allow: 2-D and 3-D image regions,
volumetric ROIs (per-slice regions, volume surfaces, segments), measurement groups with only
qualitative evaluations, measurements with algorithm, method, derivation and properties,
person and device observers, finding sites with laterality and topographical modifiers, and all
three SOP classes that allow TID 1500 (Enhanced, Comprehensive and Comprehensive 3D SR).

Each scenario is a function returning the highdicom document (a pydicom ``Dataset``); the names
in :data:`SCENARIOS` are the corpus file names the conformance tests report. The source images
are pydicom's own test files (``CT_small.dcm``, ``MR_small.dcm``), so nothing is downloaded.
UIDs are derived from the scenario name, so a document is the same on every run.

Nothing here copies highdicom's documentation or tests: the content is chosen to cover the
template rows, and every document is also checked by dciodvfy in ``test_corpus.py``.
"""

from __future__ import annotations

import copy
import io
import warnings
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

Builder = Callable[[], Dataset]


def _hd() -> Any:
    import highdicom

    return highdicom


def uid(*parts: str) -> str:
    """A UID derived from ``parts`` (the same on every run)."""
    return str(generate_uid(entropy_srcs=["icans-interop corpus", *parts]))


@cache
def _image(name: str) -> Dataset:
    path = get_testdata_file(name)
    assert path is not None, f"pydicom test file {name} missing"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path)


def ct() -> Dataset:
    """pydicom's CT_small.dcm (one CT slice, 128 x 128, with a Frame of Reference)."""
    return copy.deepcopy(_image("CT_small.dcm"))


def mr() -> Dataset:
    """pydicom's MR_small.dcm (one MR slice, 64 x 64)."""
    return copy.deepcopy(_image("MR_small.dcm"))


def ct_of_another_study() -> Dataset:
    """The CT slice re-identified as an instance of a prior study (a different Study Instance
    UID): a report referencing it lists it in Pertinent Other Evidence, not in Current
    Requested Procedure Evidence (PS3.3 C.17.2.3)."""
    ds = ct()
    ds.StudyInstanceUID = uid("prior study")
    ds.SeriesInstanceUID = uid("prior study", "series")
    ds.SOPInstanceUID = uid("prior study", "image")
    return ds


# ---------------------------------------------------------------------------------------------
# Shared pieces


def person_observer(name: str = "Reader^Ruth") -> Any:
    hd = _hd()
    return hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name=name, organization_name="Corpus Hospital"),
    )


def device_observer(label: str = "device") -> Any:
    hd = _hd()
    return hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=uid(label, "observer device"), name="Segmenter", manufacturer_name="Corpus Labs",
            model_name="Model 1", serial_number="SN-1"),
    )


def observation_context(person: bool = True, device: bool = False) -> Any:
    return _hd().sr.ObservationContext(
        observer_person_context=person_observer() if person else None,
        observer_device_context=device_observer() if device else None,
    )


def tracking(name: str, label: str) -> Any:
    return _hd().sr.TrackingIdentifier(uid=uid(name, label), identifier=label)


def region_2d(image: Dataset, graphic_type: str = "POLYLINE") -> Any:
    hd = _hd()
    data = {
        "POINT": np.array([[40.0, 40.0]]),
        "CIRCLE": np.array([[40.0, 40.0], [50.0, 40.0]]),
        "ELLIPSE": np.array([[30.0, 40.0], [50.0, 40.0], [40.0, 35.0], [40.0, 45.0]]),
        "POLYLINE": np.array([[30.0, 30.0], [50.0, 30.0], [50.0, 50.0], [30.0, 50.0],
                              [30.0, 30.0]]),
    }[graphic_type]
    return hd.sr.ImageRegion(
        graphic_type=graphic_type,
        graphic_data=data,
        source_image=hd.sr.SourceImageForRegion.from_source_image(image),
    )


def region_3d(image: Dataset, graphic_type: str = "POLYGON") -> Any:
    hd = _hd()
    data = {
        "POINT": np.array([[-160.0, -150.0, -207.0]]),
        "POLYGON": np.array([[-160.0, -150.0, -207.0], [-150.0, -150.0, -207.0],
                             [-150.0, -140.0, -207.0], [-160.0, -150.0, -207.0]]),
        "ELLIPSE": np.array([[-165.0, -150.0, -207.0], [-155.0, -150.0, -207.0],
                             [-160.0, -153.0, -207.0], [-160.0, -147.0, -207.0]]),
        "POLYLINE": np.array([[-160.0, -150.0, -207.0], [-150.0, -150.0, -207.0],
                              [-150.0, -140.0, -207.0]]),
    }[graphic_type]
    return hd.sr.ImageRegion3D(graphic_type=graphic_type, graphic_data=data,
                               frame_of_reference_uid=image.FrameOfReferenceUID)


def measurement(name: Any = None, value: float = 12.5, unit: Any = None, **kwargs: Any) -> Any:
    return _hd().sr.Measurement(name=name or codes.SCT.Area, value=value,
                                unit=unit or codes.UCUM.SquareMillimeter, **kwargs)


def evaluation(name: Any = None, value: Any = None) -> Any:
    return _hd().sr.QualitativeEvaluation(name=name or codes.SCT.Severity,
                                          value=value or codes.SCT.Mild)


def brain_site(laterality: Any = None, modifier: Any = None) -> Any:
    return _hd().sr.FindingSite(anatomic_location=codes.SCT.Hippocampus, laterality=laterality,
                                topographical_modifier=modifier)


_SOP_CLASSES = {"comprehensive-3d": "Comprehensive3DSR", "comprehensive": "ComprehensiveSR",
                "enhanced": "EnhancedSR"}


def document(name: str, sop_class: str, groups: list[Any], evidence: list[Dataset], *,
             context: Any = None, procedure: Any = None,
             report_kwargs: dict[str, Any] | None = None,
             sr_kwargs: dict[str, Any] | None = None) -> Dataset:
    """A TID 1500 Measurement Report of ``sop_class`` holding ``groups``."""
    hd = _hd()
    report = hd.sr.MeasurementReport(
        observation_context=context or observation_context(),
        procedure_reported=procedure or codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=groups,
        **(report_kwargs or {}),
    )
    cls = getattr(hd.sr, _SOP_CLASSES[sop_class])
    return cls(
        evidence=evidence,
        content=report,
        series_instance_uid=uid(name, "series"),
        series_number=900,
        sop_instance_uid=uid(name, "instance"),
        instance_number=1,
        manufacturer="Corpus Producer",
        **(sr_kwargs or {}),
    )


def planar(name: str, label: str, image: Dataset, region: Any, **kwargs: Any) -> Any:
    return _hd().sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking(name, label), referenced_region=region,
        finding_type=kwargs.pop("finding_type", codes.SCT.Lesion), **kwargs)


def group(name: str, label: str, **kwargs: Any) -> Any:
    return _hd().sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking(name, label),
        finding_type=kwargs.pop("finding_type", codes.SCT.Lesion), **kwargs)


@cache
def _segmentation() -> Dataset:
    """A binary SEG of the CT slice (one segment), written by highdicom."""
    hd = _hd()
    image = ct()
    mask = np.zeros((1, image.Rows, image.Columns), dtype=bool)
    mask[0, 30:50, 30:50] = True
    description = hd.seg.SegmentDescription(
        segment_number=1, segment_label="lesion",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Lesion,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )
    return hd.seg.Segmentation(
        source_images=[image], pixel_array=mask, segmentation_type="BINARY",
        segment_descriptions=[description], series_instance_uid=uid("seg", "series"),
        series_number=901, sop_instance_uid=uid("seg", "instance"), instance_number=1,
        manufacturer="Corpus Producer", manufacturer_model_name="Model 1",
        software_versions="1", device_serial_number="SN-1",
    )


def segmentation() -> Dataset:
    return copy.deepcopy(_segmentation())


# ---------------------------------------------------------------------------------------------
# Scenarios (one document each)


def planar_region3d_polygon() -> Dataset:
    """TID 1410 with an SCOORD3D POLYGON image region (``ImageRegion3D``) and an area."""
    n, image = "planar_region3d_polygon", ct()
    return document(n, "comprehensive-3d",
                    [planar(n, "ROI 1", image, region_3d(image, "POLYGON"),
                            measurements=[measurement()])], [image])


def planar_region3d_point() -> Dataset:
    n, image = "planar_region3d_point", ct()
    return document(n, "comprehensive-3d",
                    [planar(n, "ROI 1", image, region_3d(image, "POINT"),
                            qualitative_evaluations=[evaluation()])], [image])


def planar_region3d_ellipse() -> Dataset:
    n, image = "planar_region3d_ellipse", ct()
    return document(n, "comprehensive-3d",
                    [planar(n, "ROI 1", image, region_3d(image, "ELLIPSE"),
                            measurements=[measurement(codes.SCT.Diameter, 9.0,
                                                      codes.UCUM.Millimeter)])], [image])


def planar_region3d_polyline() -> Dataset:
    n, image = "planar_region3d_polyline", ct()
    return document(n, "comprehensive-3d",
                    [planar(n, "ROI 1", image, region_3d(image, "POLYLINE"),
                            measurements=[measurement(codes.SCT.Length, 10.0,
                                                      codes.UCUM.Millimeter)])], [image])


def planar_region2d_polyline_3d_sop() -> Dataset:
    """TID 1410 with a 2-D (SCOORD) region, in a Comprehensive 3D SR."""
    n, image = "planar_region2d_polyline_3d_sop", ct()
    return document(n, "comprehensive-3d",
                    [planar(n, "ROI 1", image, region_2d(image, "POLYLINE"),
                            measurements=[measurement()])], [image])


def planar_region2d_circle_comprehensive() -> Dataset:
    n, image = "planar_region2d_circle_comprehensive", ct()
    return document(n, "comprehensive",
                    [planar(n, "ROI 1", image, region_2d(image, "CIRCLE"),
                            measurements=[measurement()])], [image])


def planar_region2d_ellipse_enhanced() -> Dataset:
    n, image = "planar_region2d_ellipse_enhanced", ct()
    return document(n, "enhanced",
                    [planar(n, "ROI 1", image, region_2d(image, "ELLIPSE"),
                            measurements=[measurement()])], [image])


def planar_region2d_point_enhanced() -> Dataset:
    n, image = "planar_region2d_point_enhanced", ct()
    return document(n, "enhanced",
                    [planar(n, "ROI 1", image, region_2d(image, "POINT"),
                            qualitative_evaluations=[evaluation()])], [image])


def measurements_and_evaluations_enhanced() -> Dataset:
    """TID 1501 with a measurement and a qualitative evaluation, Enhanced SR."""
    n, image = "measurements_and_evaluations_enhanced", ct()
    hd = _hd()
    return document(n, "enhanced", [group(
        n, "Group 1", measurements=[measurement()], qualitative_evaluations=[evaluation()],
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(image)])],
        [image])


def measurements_and_evaluations_comprehensive() -> Dataset:
    n, image = "measurements_and_evaluations_comprehensive", ct()
    return document(n, "comprehensive", [group(
        n, "Group 1", measurements=[measurement(codes.SCT.Volume, 800.0,
                                                codes.UCUM.CubicMillimeter)],
        qualitative_evaluations=[evaluation()])], [image])


def qualitative_only_mr() -> Dataset:
    """A TID 1501 group carrying only qualitative evaluations (no measurement), MR source."""
    n, image = "qualitative_only_mr", mr()
    hd = _hd()
    return document(n, "comprehensive-3d", [group(
        n, "Finding 1", finding_type=codes.SCT.Edema,
        finding_sites=[brain_site(codes.SCT.Left)],
        qualitative_evaluations=[evaluation(codes.SCT.AssociatedMorphology, codes.SCT.Edema)],
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(image)])],
        [image], procedure=codes.LN.BrainMRI)


def finding_sites_laterality() -> Dataset:
    """Finding sites with laterality and a topographical modifier (TID 1419 rows)."""
    n, image = "finding_sites_laterality", mr()
    return document(n, "comprehensive-3d", [group(
        n, "Finding 1", finding_type=codes.SCT.Edema,
        finding_sites=[brain_site(codes.SCT.Right, codes.SCT.Medial),
                       _hd().sr.FindingSite(anatomic_location=codes.SCT.Thalamus,
                                            laterality=codes.SCT.Left)],
        qualitative_evaluations=[evaluation()])], [image])


def volumetric_regions() -> Dataset:
    """TID 1411 with per-slice 2-D regions."""
    n, image = "volumetric_regions", ct()
    hd = _hd()
    volumetric = hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations
    return document(n, "comprehensive-3d", [volumetric(
        tracking_identifier=tracking(n, "Volume 1"),
        referenced_regions=[region_2d(image, "POLYLINE")], finding_type=codes.SCT.Lesion,
        measurements=[measurement(codes.SCT.Volume, 800.0, codes.UCUM.CubicMillimeter)])],
        [image])


def volumetric_surface() -> Dataset:
    """TID 1411 with an SCOORD3D volume surface (an ellipsoid)."""
    n, image = "volumetric_surface", ct()
    hd = _hd()
    ellipsoid = np.array([
        [-165.0, -150.0, -207.0], [-155.0, -150.0, -207.0],
        [-160.0, -155.0, -207.0], [-160.0, -145.0, -207.0],
        [-160.0, -150.0, -212.0], [-160.0, -150.0, -202.0]])
    surface = hd.sr.VolumeSurface(
        graphic_type="ELLIPSOID", graphic_data=ellipsoid,
        frame_of_reference_uid=image.FrameOfReferenceUID,
        source_images=[hd.sr.SourceImageForSegmentation.from_source_image(image)])
    volumetric = hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations
    return document(n, "comprehensive-3d", [volumetric(
        tracking_identifier=tracking(n, "Volume 1"), referenced_volume_surface=surface,
        finding_type=codes.SCT.Lesion,
        measurements=[measurement(codes.SCT.Volume, 500.0, codes.UCUM.CubicMillimeter)])],
        [image])


def volumetric_segment() -> Dataset:
    """TID 1411 referencing a segment of a highdicom SEG (Referenced Segment)."""
    n, image, seg = "volumetric_segment", ct(), segmentation()
    hd = _hd()
    segment = hd.sr.ReferencedSegment(
        sop_class_uid=seg.SOPClassUID, sop_instance_uid=seg.SOPInstanceUID, segment_number=1,
        source_images=[hd.sr.SourceImageForSegmentation.from_source_image(image)])
    volumetric = hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations
    return document(n, "comprehensive-3d", [volumetric(
        tracking_identifier=tracking(n, "Segment 1"), referenced_segment=segment,
        finding_type=codes.SCT.Lesion,
        measurements=[measurement(codes.SCT.Volume, 400.0, codes.UCUM.CubicMillimeter)])],
        [image, seg])


def planar_segmentation_frame() -> Dataset:
    """TID 1410 referencing one frame of a segment (Referenced Segmentation Frame)."""
    n, image, seg = "planar_segmentation_frame", ct(), segmentation()
    hd = _hd()
    frame = hd.sr.ReferencedSegmentationFrame(
        sop_class_uid=seg.SOPClassUID, sop_instance_uid=seg.SOPInstanceUID, frame_number=1,
        segment_number=1,
        source_image=hd.sr.SourceImageForSegmentation.from_source_image(image))
    return document(n, "comprehensive-3d", [hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking(n, "Segment frame 1"), referenced_segment=frame,
        finding_type=codes.SCT.Lesion, measurements=[measurement()])], [image, seg])


def device_observer_only() -> Dataset:
    n, image = "device_observer_only", ct()
    return document(n, "comprehensive-3d",
                    [planar(n, "ROI 1", image, region_3d(image), measurements=[measurement()])],
                    [image], context=observation_context(person=False, device=True))


def person_and_device_observers() -> Dataset:
    n, image = "person_and_device_observers", ct()
    return document(n, "comprehensive",
                    [group(n, "Group 1", measurements=[measurement()])], [image],
                    context=observation_context(person=True, device=True))


def prior_study_evidence() -> Dataset:
    """The referenced image is re-identified as an instance of another study. highdicom 0.28
    gives the report that study's Study Instance UID and lists the image in Current Requested
    Procedure Evidence (0040,A375)."""
    n, image = "prior_study_evidence", ct_of_another_study()
    return document(n, "comprehensive-3d",
                    [planar(n, "ROI 1", image, region_2d(image), measurements=[measurement()])],
                    [image])


def algorithm_measurement() -> Dataset:
    """A measurement with algorithm identification, method, derivation and properties."""
    n, image = "algorithm_measurement", ct()
    hd = _hd()
    algorithm = hd.sr.AlgorithmIdentification(name="Corpus Segmenter", version="1.0",
                                              parameters=["threshold=0.5"])
    value = measurement(
        codes.SCT.Volume, 812.0, codes.UCUM.CubicMillimeter, algorithm_id=algorithm,
        method=codes.DCM.ManualProcessing,
        derivation=codes.SCT.Mean,
        properties=hd.sr.MeasurementProperties(normality=codes.SCT.Abnormal),
        referenced_images=[hd.sr.SourceImageForMeasurement.from_source_image(image)])
    return document(n, "comprehensive-3d",
                    [group(n, "Group 1", algorithm_id=algorithm, measurements=[value])], [image])


def multiple_groups() -> Dataset:
    """Planar (2-D and 3-D) and TID 1501 groups in one report."""
    n, image = "multiple_groups", ct()
    return document(n, "comprehensive-3d", [
        planar(n, "ROI 1", image, region_3d(image), measurements=[measurement()]),
        planar(n, "ROI 2", image, region_2d(image, "CIRCLE"),
               qualitative_evaluations=[evaluation()]),
        group(n, "Group 3", measurements=[measurement(codes.SCT.Diameter, 7.0,
                                                      codes.UCUM.Millimeter)]),
    ], [image])


def image_library() -> Dataset:
    """A report whose Image Library (TID 1600) describes the referenced image."""
    n, image = "image_library", ct()
    return document(n, "comprehensive-3d",
                    [planar(n, "ROI 1", image, region_3d(image), measurements=[measurement()])],
                    [image], report_kwargs={"referenced_images": [image]})


def complete_verified() -> Dataset:
    """Completion flag COMPLETE and verification flag VERIFIED with a verifying observer."""
    n, image = "complete_verified", ct()
    return document(n, "comprehensive",
                    [group(n, "Group 1", measurements=[measurement()])], [image],
                    sr_kwargs={"is_complete": True, "is_final": True, "is_verified": True,
                               "verifying_observer_name": "Verifier^Vera",
                               "verifying_organization": "Corpus Hospital"})


def time_point_context() -> Dataset:
    """A group with a time point context (TID 1502)."""
    n, image = "time_point_context", ct()
    hd = _hd()
    context = hd.sr.TimePointContext(time_point="baseline")
    return document(n, "comprehensive-3d", [group(
        n, "Group 1", time_point_context=context, measurements=[measurement()])], [image])


def mr_brain_findings() -> Dataset:
    """An MR head report with two findings in the brain, the shape ICANS reports take."""
    n, image = "mr_brain_findings", mr()
    return document(n, "comprehensive-3d", [
        group(n, "Finding 1", finding_type=codes.SCT.Edema,
              finding_sites=[brain_site(codes.SCT.Left)],
              qualitative_evaluations=[evaluation(codes.SCT.AssociatedMorphology,
                                                  codes.SCT.Edema)]),
        planar(n, "Finding 2", image, region_2d(image, "POLYLINE"),
               finding_type=codes.SCT.Lesion,
               finding_sites=[_hd().sr.FindingSite(anatomic_location=codes.SCT.Thalamus,
                                                    laterality=codes.SCT.Right)],
               measurements=[measurement()]),
    ], [image])


SCENARIOS: dict[str, Builder] = {
    f"highdicom/{f.__name__}.dcm": f for f in (
        planar_region3d_polygon, planar_region3d_point, planar_region3d_ellipse,
        planar_region3d_polyline, planar_region2d_polyline_3d_sop,
        planar_region2d_circle_comprehensive, planar_region2d_ellipse_enhanced,
        planar_region2d_point_enhanced, measurements_and_evaluations_enhanced,
        measurements_and_evaluations_comprehensive, qualitative_only_mr,
        finding_sites_laterality, volumetric_regions, volumetric_surface, volumetric_segment,
        planar_segmentation_frame, device_observer_only, person_and_device_observers,
        prior_study_evidence, algorithm_measurement, multiple_groups, image_library,
        complete_verified, time_point_context, mr_brain_findings,
    )
}


def encode(ds: Dataset) -> bytes:
    """``ds`` as a DICOM Part 10 file, exactly as highdicom made it."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@cache
def build(name: str) -> bytes:
    """The encoded document of scenario ``name`` (built once per test session)."""
    return encode(SCENARIOS[name]())


def prior_study_evidence_pertinent_other() -> Dataset:
    """The prior-study report with its evidence where PS3.3 C.17.2.3 puts it: the referenced
    image is not an instance of the current requested procedure (another study), so it is
    listed in Pertinent Other Evidence (0040,A385) and Current Requested Procedure Evidence
    (0040,A375) is absent. highdicom itself lists every evidence instance in A375; its own
    stored test object ``sr_document.dcm`` carries A385 only, as this one does."""
    ds = prior_study_evidence()
    ds.PertinentOtherEvidenceSequence = ds.CurrentRequestedProcedureEvidenceSequence
    del ds.CurrentRequestedProcedureEvidenceSequence
    return ds


SCENARIOS["highdicom/prior_study_evidence_pertinent_other.dcm"] = (
    prior_study_evidence_pertinent_other)


# ---------------------------------------------------------------------------------------------
# dcmqi: TID 1500 documents written by its tid1500writer program (PyPI package ``dcmqi``)
#
# The writer takes a JSON description (dcmqi's own metadata format), the referenced images and
# a segmentation. The images are pydicom's CT slice, the segmentation is highdicom's (above);
# the descriptions below are this project's, written to the dcmqi schema. dcmqi writes
# Enhanced SR documents that reference segments by Referenced Segment (TID 1411).


def _code(value: str, scheme: str, meaning: str) -> dict[str, str]:
    return {"CodeValue": value, "CodingSchemeDesignator": scheme, "CodeMeaning": meaning}


_VOLUME = _code("118565006", "SCT", "Volume")
_MM3 = _code("mm3", "UCUM", "cubic millimeter")
_LESION = _code("52988006", "SCT", "Lesion")
_LIVER = _code("10200004", "SCT", "Liver")
_HU = _code("[hnsf'U]", "UCUM", "Hounsfield unit")
_ATTENUATION = _code("112031", "DCM", "Attenuation Coefficient")


def _dcmqi_group(label: str, segment_uid: str, series_uid: str, **extra: Any) -> dict[str, Any]:
    group = {
        "TrackingIdentifier": label,
        "ReferencedSegment": 1,
        "SourceSeriesForImageSegmentation": series_uid,
        "segmentationSOPInstanceUID": segment_uid,
        "Finding": _LESION,
        "FindingSite": _LIVER,
        "measurementItems": [{"value": "812", "quantity": _VOLUME, "units": _MM3}],
    }
    group.update(extra)
    return group


def _dcmqi_metadata(name: str, image: Dataset, seg: Dataset) -> dict[str, Any]:
    """The dcmqi description of scenario ``name``."""
    meta: dict[str, Any] = {
        "SeriesDescription": "Corpus measurements", "SeriesNumber": "902",
        "InstanceNumber": "1", "compositeContext": ["seg.dcm"], "imageLibrary": ["ct.dcm"],
        "observerContext": {"ObserverType": "PERSON", "PersonObserverName": "Reader^Ruth"},
        "VerificationFlag": "UNVERIFIED", "CompletionFlag": "COMPLETE",
        "activitySession": "1", "timePoint": "1",
    }
    args = (seg.SOPInstanceUID, image.SeriesInstanceUID)
    if name == "volume":
        meta["Measurements"] = [_dcmqi_group("Lesion 1", *args)]
    elif name == "statistics":
        meta["procedureReported"] = _code("25045-6", "LN", "CT unspecified body region")
        meta["Measurements"] = [_dcmqi_group(
            "Lesion 1", *args,
            Laterality=_code("7771000", "SCT", "Left"),
            MeasurementMethod=_code("126030", "DCM", "Sum of segmented voxel method for volume"),
            measurementAlgorithmIdentification={"AlgorithmName": "Corpus Segmenter",
                                                "AlgorithmVersion": "1.0"},
            measurementItems=[
                {"value": "812", "quantity": _VOLUME, "units": _MM3},
                {"value": "41.5", "quantity": _ATTENUATION, "units": _HU,
                 "derivationModifier": _code("373098007", "SCT", "Mean")},
                {"value": "7.25", "quantity": _ATTENUATION, "units": _HU,
                 "derivationModifier": _code("386136009", "SCT", "Standard Deviation")},
            ])]
    elif name == "device_observer":
        meta["observerContext"] = {
            "ObserverType": "DEVICE", "DeviceObserverUID": uid("dcmqi", "device"),
            "DeviceObserverName": "Segmenter", "DeviceObserverManufacturer": "Corpus Labs"}
        meta["Measurements"] = [_dcmqi_group("Lesion 1", *args)]
    elif name == "private_scheme_evaluation":
        # A qualitative evaluation coded in a private (99-prefixed) scheme that the
        # description does not declare, as dcmqi's own examples do: dcmqi writes no Coding
        # Scheme Identification Sequence for it (dciodvfy warns, DCMTK is silent).
        meta["Measurements"] = [_dcmqi_group(
            "Lesion 1", *args, qualitativeEvaluations=[{
                "conceptCode": _code("1001", "99CORPUS", "Lesion conspicuity"),
                "conceptValue": _code("1002", "99CORPUS", "Conspicuous")}])]
    elif name == "two_groups_text_evaluation":
        meta["Measurements"] = [
            _dcmqi_group("Lesion 1", *args),
            _dcmqi_group("Lesion 2", *args, qualitativeEvaluations=[{
                "conceptCode": _code("121071", "DCM", "Finding"),
                "conceptValue": "small hypodense lesion"}]),
        ]
    else:
        raise KeyError(name)
    return meta


DCMQI_SCENARIOS: tuple[str, ...] = (
    "volume", "statistics", "device_observer", "private_scheme_evaluation",
    "two_groups_text_evaluation")


def dcmqi_writer() -> str | None:
    """Path of dcmqi's ``tid1500writer`` (from the PyPI package), or None."""
    import shutil
    import sys
    from pathlib import Path

    beside = Path(sys.executable).parent / "tid1500writer"
    if beside.is_file():
        return str(beside)
    return shutil.which("tid1500writer")


@cache
def build_dcmqi(name: str, timeout: float = 120.0) -> bytes:
    """Run dcmqi's tid1500writer on scenario ``name``; the SR it writes, as bytes."""
    import json
    import subprocess
    import tempfile
    from pathlib import Path

    writer = dcmqi_writer()
    if writer is None:
        raise FileNotFoundError("tid1500writer (PyPI package dcmqi) not installed")
    image, seg = ct(), segmentation()
    with tempfile.TemporaryDirectory(prefix="icans-dcmqi-") as tmp:
        work = Path(tmp)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image.save_as(work / "ct.dcm", enforce_file_format=True)
            seg.save_as(work / "seg.dcm", enforce_file_format=True)
        (work / "meta.json").write_text(json.dumps(_dcmqi_metadata(name, image, seg)), "utf-8")
        out = work / "sr.dcm"
        proc = subprocess.run(
            [writer, "--inputMetadata", str(work / "meta.json"),
             "--inputImageLibraryDirectory", str(work),
             "--inputCompositeContextDirectory", str(work), "--outputDICOM", str(out)],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False)
        if proc.returncode != 0 or not out.is_file():
            raise RuntimeError(f"tid1500writer failed ({proc.returncode}): "
                               f"{proc.stderr.decode('utf-8', 'replace')[-1000:]}")
        return out.read_bytes()
