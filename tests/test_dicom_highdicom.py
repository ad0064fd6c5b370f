"""highdicom, an independent SR implementation, agrees with us in both directions.

* highdicom parses every SR we write (``hd.sr.srread``) and sees the same measurement groups:
  tracking identifier and UID, finding, finding sites with laterality, qualitative evaluations.
* Our reader reads SRs *built by highdicom* (``Comprehensive3DSR`` with a ``MeasurementReport``
  of ``MeasurementsAndQualitativeEvaluations`` groups) into the same findings.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from pydicom import Dataset
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

try:
    import oracles
except ImportError:  # tests/ imported as a package
    from tests import oracles  # type: ignore[no-redef]

from icans_interop import dicom
from icans_interop.dicom import content as c
from icans_interop.model import Finding, ImagingReport, load_case

FIXTURES = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "valid").glob("*.json"))
SOP_CLASSES = ("comprehensive-3d", "enhanced", "comprehensive")


@pytest.fixture(scope="module")
def hd() -> Any:
    return oracles.require_module("highdicom")


def _triple(concept: Any) -> tuple[str, str]:
    return (str(concept.value), str(concept.scheme_designator))


def _code(key: str) -> tuple[str, str]:
    code = c.concept_code(key)
    return (code.value, code.scheme)


def _expected_evaluations(finding: Finding) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    pairs = [(_code(s.sequence), _code(s.signal)) for s in finding.signals]
    pairs += [(_code("distribution_descriptor"), _code(d)) for d in finding.distribution]
    if finding.number is not None:
        pairs.append((_code("number_of_lesions"), _code(finding.number)))
    if finding.morphology is not None:
        pairs.append((_code("lesion_morphology"), _code(finding.morphology)))
    if finding.laterality is not None and not finding.sites:
        pairs.append((_code("laterality"), _code(finding.laterality)))
    return pairs


@pytest.mark.parametrize("sop_class", SOP_CLASSES)
@pytest.mark.parametrize("case", FIXTURES, ids=lambda p: p.stem)
def test_highdicom_reads_our_sr(hd: Any, case: Path, sop_class: str) -> None:
    report = load_case(case.read_bytes())
    data = dicom.to_bytes(dicom.write(report, sop_class=sop_class))
    sr = hd.sr.srread(io.BytesIO(data))
    expected_class = {"comprehensive-3d": hd.sr.Comprehensive3DSR,
                      "enhanced": hd.sr.EnhancedSR, "comprehensive": hd.sr.ComprehensiveSR}
    assert isinstance(sr, expected_class[sop_class])
    content = sr.content
    assert isinstance(content, hd.sr.MeasurementReport)
    groups = content.get_image_measurement_groups()
    assert len(groups) == len(report.findings)
    for group, finding in zip(groups, report.findings, strict=True):
        assert group.tracking_identifier == finding.tracking_id
        assert group.tracking_uid == finding.tracking_uid
        assert _triple(group.finding_type) == _code(finding.pattern)
        sites = [(_triple(s.value), None if s.laterality is None else _triple(s.laterality))
                 for s in group.finding_sites]
        laterality = (None if finding.laterality is None else _code(finding.laterality))
        assert sites == [(_code(s), laterality) for s in finding.sites]
        evaluations = [(_triple(e.name), _triple(e.value))
                       for e in group.get_qualitative_evaluations()
                       if e.name.value not in ("121071", "363698007")]
        assert evaluations == _expected_evaluations(finding)
    observers = content.get_observer_contexts()
    assert len(observers) == 1
    if report.observer_name is not None:
        assert observers[0].observer_type.value == "121006"
        person = observers[0].observer_identifying_attributes
        assert str(person.name).rstrip("^") == report.observer_name
    else:
        assert observers[0].observer_type.value == "121007"


def test_highdicom_from_dataset(hd: Any) -> None:
    ds = dicom.write(load_case(FIXTURES[0].read_bytes()))
    sr = hd.sr.Comprehensive3DSR.from_dataset(ds)
    assert len(sr.content.get_image_measurement_groups()) == 2


# ---------------------------------------------------------------------------------------------
# highdicom-built SRs read by us


def _hd_concept(hd: Any, key: str) -> Any:
    code = c.concept_code(key)
    return hd.sr.CodedConcept(code.value, code.scheme, code.meaning)


def _label(finding: Finding, number: int) -> str:
    """The finding's tracking id; highdicom requires one, so an untracked finding gets a
    label (which then reads back as the finding's tracking id)."""
    return finding.tracking_id or f"Finding {number}"


def _highdicom_sr(hd: Any, report: ImagingReport) -> bytes:
    """``report``'s findings as a highdicom Comprehensive 3D SR (its own TID 1500 code)."""
    groups = []
    for number, finding in enumerate(report.findings, start=1):
        laterality = (None if finding.laterality is None
                      else _hd_concept(hd, finding.laterality))
        evaluations = [hd.sr.QualitativeEvaluation(_hd_concept(hd, name), _hd_concept(hd, value))
                       for name, value in _evaluation_keys(finding)]
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(
                uid=finding.tracking_uid, identifier=_label(finding, number)),
            finding_type=_hd_concept(hd, finding.pattern),
            finding_sites=[hd.sr.FindingSite(_hd_concept(hd, s), laterality=laterality)
                           for s in finding.sites],
            qualitative_evaluations=evaluations or None,
        ))
    if report.observer_name is not None:
        observer = hd.sr.ObserverContext(
            observer_type=Code("121006", "DCM", "Person"),
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name=report.observer_name))
    else:
        observer = hd.sr.ObserverContext(
            observer_type=Code("121007", "DCM", "Device"),
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid=generate_uid(), name="highdicom test"))
    content = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer)
        if report.observer_name is not None
        else hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=_hd_concept(hd, report.procedure),
        imaging_measurements=groups,
    )
    image = Dataset()
    image.PatientID = report.patient.id
    image.PatientName = f"{report.patient.family_name or ''}^{report.patient.given_name or ''}"
    image.PatientBirthDate = ""
    image.PatientSex = ""
    image.StudyInstanceUID = report.study.instance_uid
    image.AccessionNumber = report.study.accession_number or ""
    image.StudyID = "1"
    image.StudyDate = report.study.date.strftime("%Y%m%d")
    image.StudyTime = ""
    image.SeriesInstanceUID = generate_uid()
    image.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    image.SOPInstanceUID = generate_uid()
    image.SpecificCharacterSet = "ISO_IR 192"
    sr = hd.sr.Comprehensive3DSR(
        evidence=[image], content=content[0], series_instance_uid=generate_uid(),
        series_number=1, sop_instance_uid=generate_uid(), instance_number=1,
        manufacturer="highdicom", is_complete=True)
    sr.ContentDate = report.issued.strftime("%Y%m%d")
    sr.ContentTime = report.issued.strftime("%H%M%S")
    sr.TimezoneOffsetFromUTC = report.issued.strftime("%z")
    buffer = io.BytesIO()
    sr.save_as(buffer)
    return buffer.getvalue()


def _evaluation_keys(finding: Finding) -> list[tuple[str, str]]:
    pairs = [(s.sequence, s.signal) for s in finding.signals]
    pairs += [("distribution_descriptor", d) for d in finding.distribution]
    if finding.number is not None:
        pairs.append(("number_of_lesions", finding.number))
    if finding.morphology is not None:
        pairs.append(("lesion_morphology", finding.morphology))
    if finding.laterality is not None and not finding.sites:
        pairs.append(("laterality", finding.laterality))
    return pairs


@pytest.mark.parametrize("case", FIXTURES, ids=lambda p: p.stem)
def test_we_read_highdicom_built_sr(hd: Any, case: Path) -> None:
    report = load_case(case.read_bytes())
    data = _highdicom_sr(hd, report)
    back, issues = dicom.read(data)
    assert back is not None, issues
    assert [i for i in issues if i.severity != "information"] == []
    # highdicom sets no Observation UID on groups (the model derives one from the study UID
    # and tracking id); everything else must match
    assert tuple(f.model_copy(update={"observation_uid": None}) for f in back.findings) == \
        tuple(f.model_copy(update={"observation_uid": None, "tracking_id": _label(f, n)})
              for n, f in enumerate(report.findings, start=1))
    assert all(f.observation_uid for f in back.findings)
    assert back.patient.id == report.patient.id
    assert back.study.instance_uid == report.study.instance_uid
    assert back.procedure == report.procedure
    assert back.observer_name == report.observer_name
    assert back.issued == report.issued
