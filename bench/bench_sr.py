"""Benchmark: icans_interop.dicom against highdicom on the same 10-finding report.

Run ``python bench/bench_sr.py`` (highdicom must be installed; it is a test dependency).

* **build + serialise**: ``dicom.write(report)`` + Part 10 bytes, versus highdicom building the
  equivalent TID 1500 content (observation context, procedure, one TID 1501
  ``MeasurementsAndQualitativeEvaluations`` per finding with tracking identifier, finding,
  finding sites with laterality and the same qualitative evaluations) into a
  ``Comprehensive3DSR`` and writing it. Our document additionally carries the impression,
  grade and assessment (highdicom's MeasurementReport has no row-12 container), so the
  comparison is conservative.
* **read**: ``dicom.read(bytes)`` into the domain model, versus ``hd.sr.srread`` of the same
  bytes (headline ratio), and versus ``srread`` followed by walking the measurement groups
  (finding, sites, evaluations) as a consumer would; and, from an already parsed Dataset,
  ``dicom.read(ds)`` versus ``Comprehensive3DSR.from_dataset(ds)``.

Each timing is the best of several rounds (mean per call within a round), both libraries in
the same process on the same input. The two headline ratios are printed last.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import highdicom as hd
import pydicom
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from icans_interop import dicom
from icans_interop.dicom import content as c
from icans_interop.dicom.part10 import DicomCode
from icans_interop.model import ImagingReport, load_case

PATTERNS = [
    ("deep_structure_involvement", ["hippocampus", "thalamus"], "bilateral", ["symmetric"],
     [("t2w", "hyperintense"), ("flair", "hyperintense")]),
    ("leptomeningeal_enhancement", ["leptomeninges"], None, ["diffuse"],
     [("ce_t1w", "enhancement"), ("ce_flair", "enhancement")]),
    ("hemorrhage", ["cerebral_white_matter"], "left", ["multifocal"],
     [("swi", "hypointense"), ("t2star", "hypointense")]),
]


FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "valid" / "ten-findings.json"


def ten_finding_report() -> ImagingReport:
    """The ten-finding fixture when present, else an equivalent synthetic report.

    Each finding gets a human-readable tracking identifier: highdicom's TID 1501 requires one
    (PS3.16 makes it optional), so both writers then encode the same content items.
    """
    if FIXTURE.is_file():
        report = load_case(FIXTURE.read_bytes())
        if len(report.findings) == 10:
            data = report.model_dump(mode="json", exclude_none=True)
            for index, finding in enumerate(data["findings"]):
                finding.setdefault("tracking_id", f"Finding {index + 1}")
            return ImagingReport.model_validate(data)
    findings = []
    for index in range(10):
        pattern, sites, laterality, distribution, signals = PATTERNS[index % len(PATTERNS)]
        finding = {"pattern": pattern, "sites": sites, "distribution": distribution,
                   "signals": [{"sequence": s, "signal": v} for s, v in signals],
                   "number": "multiple", "morphology": "punctate"}
        if laterality:
            finding["laterality"] = laterality
        finding["tracking_id"] = f"Finding {index + 1}"
        findings.append(finding)
    return ImagingReport.model_validate({
        "patient": {"id": "MRN-1", "family_name": "Doe", "given_name": "Jane",
                    "birth_date": "1961-04-12", "sex": "F"},
        "study": {"instance_uid": "1.2.826.0.1.3680043.10.1412.1.9", "date": "2026-11-03",
                  "time": "14:32:00", "accession_number": "ACC1"},
        "issued": "2026-11-03T16:05:00+01:00",
        "observer_name": "Radiologist^Rita",
        "findings": findings,
        "impression": "Compatible with ICANS.",
        "icans_grade": 3,
        "assessment": {"assessed_at": "2026-11-03T09:00:00+01:00",
                       "ice": {"orientation_year": 1, "orientation_month": 1,
                               "orientation_city": 0, "orientation_hospital": 0, "naming": 1,
                               "commands": 1, "writing": 0, "attention": 0},
                       "consciousness": "awakens_to_voice", "seizure": "seizure_resolving",
                       "signs": ["expressive_aphasia", "tremor"]},
    })


def _hd_code(code: DicomCode) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(code.value, code.scheme, code.meaning)


def _evidence(report: ImagingReport) -> pydicom.Dataset:
    image = pydicom.Dataset()
    image.PatientID = report.patient.id
    image.PatientName = "Doe^Jane"
    image.PatientBirthDate = "19610412"
    image.PatientSex = "F"
    image.StudyInstanceUID = report.study.instance_uid
    image.AccessionNumber = "ACC1"
    image.StudyID = "1"
    image.StudyDate = "20261103"
    image.StudyTime = "143200"
    image.SpecificCharacterSet = "ISO_IR 192"  # the fixture has non-ASCII text
    image.SeriesInstanceUID = generate_uid()
    image.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    image.SOPInstanceUID = generate_uid()
    return image


def highdicom_build(report: ImagingReport, evidence: pydicom.Dataset) -> bytes:
    """The same findings as highdicom TID 1500 content, in a Comprehensive 3D SR, written."""
    name = c.concept_code
    groups = []
    for finding in report.findings:
        laterality = (None if finding.laterality is None
                      else _hd_code(name(finding.laterality)))
        evaluations = [hd.sr.QualitativeEvaluation(_hd_code(name(s.sequence)),
                                                   _hd_code(name(s.signal)))
                       for s in finding.signals]
        evaluations += [hd.sr.QualitativeEvaluation(_hd_code(name("distribution_descriptor")),
                                                    _hd_code(name(d)))
                        for d in finding.distribution]
        for field, key in (("number", "number_of_lesions"), ("morphology", "lesion_morphology")):
            value = getattr(finding, field)
            if value is not None:
                evaluations.append(hd.sr.QualitativeEvaluation(_hd_code(name(key)),
                                                               _hd_code(name(value))))
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=finding.tracking_uid,
                                                          identifier=finding.tracking_id),
            finding_type=_hd_code(name(finding.pattern)),
            finding_sites=[hd.sr.FindingSite(_hd_code(name(s)), laterality=laterality)
                           for s in finding.sites],
            qualitative_evaluations=evaluations,
        ))
    observer = hd.sr.ObserverContext(
        observer_type=Code("121006", "DCM", "Person"),
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name=report.observer_name))
    content = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=_hd_code(name(report.procedure)),
        imaging_measurements=groups,
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=[evidence], content=content[0], series_instance_uid=generate_uid(),
        series_number=1, sop_instance_uid=generate_uid(), instance_number=1,
        manufacturer="bench", is_complete=True)
    buffer = io.BytesIO()
    sr.save_as(buffer)
    return buffer.getvalue()


def highdicom_read(data: bytes) -> int:
    """srread + walk the groups the way a consumer would (finding, sites, evaluations)."""
    sr = hd.sr.srread(io.BytesIO(data))
    seen = 0
    for group in sr.content.get_image_measurement_groups():
        seen += group.finding_type is not None
        seen += len(group.finding_sites)
        seen += len(group.get_qualitative_evaluations())
    return seen


def best(func: Callable[[], object], rounds: int = 5, number: int = 10) -> float:
    """Best mean seconds per call over ``rounds`` rounds of ``number`` calls."""
    func()  # warm caches (terminology, lazy imports) on both sides
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            func()
        results.append((time.perf_counter() - start) / number)
    return min(results)


def main() -> None:
    report = ten_finding_report()
    evidence = _evidence(report)
    ours_bytes = dicom.to_bytes(dicom.write(report))
    theirs_bytes = highdicom_build(report, evidence)
    check, issues = dicom.read(ours_bytes)
    assert check == report and not issues, issues

    build_ours = best(lambda: dicom.to_bytes(dicom.write(report)))
    build_theirs = best(lambda: highdicom_build(report, evidence))
    read_ours = best(lambda: dicom.read(ours_bytes))
    read_theirs = best(lambda: highdicom_read(ours_bytes))
    srread_only = best(lambda: hd.sr.srread(io.BytesIO(ours_bytes)))
    parsed = pydicom.dcmread(io.BytesIO(ours_bytes))
    read_ds_ours = best(lambda: dicom.read(parsed))
    read_ds_theirs = best(lambda: hd.sr.Comprehensive3DSR.from_dataset(parsed))

    ms = 1000.0
    source = FIXTURE.name if FIXTURE.is_file() else "synthetic report"
    print(f"{source}: 10 findings; our SR {len(ours_bytes)} bytes, highdicom's "
          f"{len(theirs_bytes)} bytes ({dt.date.today()}, pydicom {version('pydicom')}, "
          f"highdicom {version('highdicom')})")
    print(f"build+serialise  ours {build_ours * ms:8.2f} ms   highdicom "
          f"{build_theirs * ms:8.2f} ms")
    print(f"read bytes       ours {read_ours * ms:8.2f} ms   highdicom srread+walk "
          f"{read_theirs * ms:8.2f} ms")
    print(f"                                     highdicom srread only "
          f"{srread_only * ms:8.2f} ms")
    print(f"read Dataset     ours {read_ds_ours * ms:8.2f} ms   highdicom from_dataset "
          f"{read_ds_theirs * ms:8.2f} ms")
    print(f"RATIO build+serialise (highdicom / ours): {build_theirs / build_ours:6.1f}x "
          "(target >= 5x)")
    print(f"RATIO read            (highdicom srread / ours): {srread_only / read_ours:6.1f}x "
          "(target >= 5x)")
    print(f"      read + walk     (highdicom srread+walk / ours): "
          f"{read_theirs / read_ours:6.1f}x")
    print(f"      read Dataset    (highdicom from_dataset / ours): "
          f"{read_ds_theirs / read_ds_ours:6.1f}x")

if __name__ == "__main__":
    main()
