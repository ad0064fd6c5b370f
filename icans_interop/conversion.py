"""Write and convert records only when what is written is valid and nothing is invented.

Integration code calls these instead of the bare writers when a record leaves the program:

* :func:`write_sr` / :func:`write_fhir` build a report's SR or bundle and run the validators
  (profile ``icans``) on exactly those bytes; an error raises :class:`OutputRejected` with the
  issues, and nothing is returned to be written (``force=True`` returns it anyway, the issues
  attached). The writers themselves keep raising ``EncodingError`` for what a format cannot
  carry at all.
* :func:`check_source_images` says which images given for an SR's Image Library are images of
  the report's own patient and study; anything else (an SR, another patient, another study)
  is an error, and with ``force`` it is cited as Pertinent Other Evidence instead.
* :func:`convert` reads an SR or a bundle through the model and writes the other format with
  the same checks, plus the rules of conversion: the source is validated first (profile
  ``icans``) and one with errors is refused; a source with no ICANS finding, assessment or
  grade is refused (``allow_empty`` writes it anyway); a value the target needs and the
  source does not give (the imaging procedure) is refused, never replaced by the model's
  default; several reports or studies in one source are refused by the readers; every item
  of the source the report does not carry is returned in ``skipped``. An SR's own UIDs are
  kept: the bundle of a converted SR names that SR, not one derived for a new document.

Every check is one of the library's validators or readers; this module only decides what
blocks a write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from icans_interop import dicom, fhir
from icans_interop.issues import Issue, error
from icans_interop.model import ImagingReport, SrInstance
from icans_interop.reading import Reading
from icans_interop.validation.fhir import validate_and_read_fhir, validate_fhir
from icans_interop.validation.sr import validate_and_read_sr, validate_sr

Target = Literal["sr", "fhir"]


class OutputRejected(Exception):
    """What was about to be written has errors (``issues``); nothing was written."""

    def __init__(self, message: str, issues: list[Issue]) -> None:
        super().__init__(message)
        self.issues = issues


@dataclass
class Output:
    """A record ready to be written, and what was found on the way."""

    data: bytes
    #: The validators' issues on the output (with ``force``, errors included).
    issues: list[Issue] = field(default_factory=list)
    #: The source's issues (conversion: its validation and reading; report: the case's and
    #: the source images' checks).
    source_issues: list[Issue] = field(default_factory=list)
    #: What the source holds that the output does not carry (conversion only).
    skipped: list[Issue] = field(default_factory=list)
    report: ImagingReport | None = None


def errors(issues: Iterable[Issue]) -> list[Issue]:
    """The issues of severity error."""
    return [i for i in issues if i.severity == "error"]


def _merge(*groups: Iterable[Issue]) -> list[Issue]:
    """Issues of several checks of one record, each (code, location, message) once."""
    seen: set[tuple[str, str, str]] = set()
    merged: list[Issue] = []
    for issue in (i for group in groups for i in group):
        key = (issue.code, issue.location, issue.message)
        if key not in seen:
            seen.add(key)
            merged.append(issue)
    return merged


@dataclass(frozen=True)
class SourceImages:
    """The verdict of :func:`check_source_images`."""

    #: Images of the report's patient and study: the SR's Image Library and evidence.
    images: list[Any]
    #: Instances that are not (an SR, another patient or study); cited as Pertinent Other
    #: Evidence when forced.
    others: list[Any]
    issues: list[Issue]


def check_source_images(report: ImagingReport,
                        datasets: Iterable[tuple[str, Any]]) -> SourceImages:
    """Sort ``(label, pydicom Dataset)`` pairs into images of the report's own patient and
    study and everything else, with an error ``source-image-mismatch`` per other instance
    saying why (not an image: no Rows/Columns or Modality SR/KO/PR; another Patient ID;
    another Study Instance UID)."""
    images: list[Any] = []
    others: list[Any] = []
    issues: list[Issue] = []
    for where, dataset in datasets:
        reasons: list[str] = []
        modality = str(dataset.get("Modality", "") or "")
        if "Rows" not in dataset or "Columns" not in dataset or modality in ("SR", "KO", "PR"):
            reasons.append(f"it is not an image (Modality {modality or 'absent'}, no pixel "
                           "rows/columns)" if modality not in ("SR", "KO", "PR")
                           else f"it is not an image (Modality {modality})")
        patient_id = str(dataset.get("PatientID", "") or "")
        if patient_id != report.patient.id:
            reasons.append(f"its Patient ID {patient_id or '(absent)'!s} is not the report's "
                           f"{report.patient.id}")
        study_uid = str(dataset.get("StudyInstanceUID", "") or "")
        if study_uid != report.study.instance_uid:
            reasons.append(f"its Study Instance UID {study_uid or '(absent)'} is not the "
                           f"report's {report.study.instance_uid}")
        if reasons:
            others.append(dataset)
            issues.append(error("source-image-mismatch", where,
                                "cannot be a source image of this report: "
                                + "; ".join(reasons)
                                + " (--force cites it as Pertinent Other Evidence)"))
        else:
            images.append(dataset)
    return SourceImages(images, others, issues)


def write_sr(report: ImagingReport, *, sop_class: str = "comprehensive-3d",
             source_images: Iterable[Any] | None = None, uid_root: str | None = None,
             other_evidence: Iterable[Any] | None = None, force: bool = False) -> Output:
    """The report's SR as Part 10 bytes, validated (profile icans) before it is returned.

    Raises :class:`OutputRejected` when the SR has errors (unless ``force``) and
    ``EncodingError`` / ``ValueError`` as :func:`icans_interop.dicom.write` does.
    """
    dataset = dicom.write(report, sop_class=sop_class, source_images=source_images,
                          uid_root=uid_root, other_evidence=other_evidence)
    data = dicom.to_bytes(dataset)
    issues = list(validate_sr(data, "icans", file_label="(SR to write)").issues)
    if errors(issues) and not force:
        raise OutputRejected("the SR to write has errors; nothing written", issues)
    return Output(data, issues, report=report)


def write_fhir(report: ImagingReport, *, version: fhir.Version = "R4",
               bundle: fhir.BundleType = "transaction", sr: SrInstance | None = None,
               uid_root: str | None = None, references: Mapping[str, str] | None = None,
               force: bool = False) -> Output:
    """The report's bundle as JSON bytes, validated (profile icans) before it is returned;
    raises :class:`OutputRejected` on errors (unless ``force``)."""
    text = fhir.write_json(report, version=version, bundle=bundle, sr=sr, uid_root=uid_root,
                           references=references)
    issues = list(validate_fhir(text, version, "icans",
                                file_label="(bundle to write)").issues)
    if errors(issues) and not force:
        raise OutputRejected("the bundle to write has errors; nothing written", issues)
    return Output(text.encode("utf-8"), issues, report=report)


def has_icans_content(report: ImagingReport) -> bool:
    """True when the report holds a finding, an assessment or a recorded grade."""
    return bool(report.findings) or report.assessment is not None or \
        report.icans_grade is not None


def conversion_problems(reading: Reading, where: str, *, allow_empty: bool = False
                        ) -> list[Issue]:
    """Why a report read from a source cannot be converted without inventing content."""
    report = reading.report
    if report is None:
        return [error("unreadable", where, "the source could not be read into a report")]
    problems: list[Issue] = []
    if not allow_empty and not has_icans_content(report):
        problems.append(error("no-icans-content", where,
                              f"no ICANS content in {where}: no finding, assessment or grade "
                              "(--allow-empty converts it anyway)"))
    if "procedure" not in reading.provenance:
        problems.append(error("would-invent", reading.provenance.root or where,
                              "the source gives no known imaging procedure code; the target "
                              "needs one and the model's default would be invented"))
    return problems


def read_source(data: bytes, kind: Literal["sr", "fhir"]) -> Reading:
    """Read an SR or a bundle (encoded bytes) into a :class:`Reading`."""
    return dicom.read(data) if kind == "sr" else fhir.read(data)


def validate_and_read(data: bytes, kind: Literal["sr", "fhir"], label: str
                      ) -> tuple[list[Issue], Reading | None]:
    """The validators' issues (profile icans) on an SR or a bundle about to be converted, and
    the reading they made of it (None when they stopped before reading)."""
    if kind == "sr":
        result, reading = validate_and_read_sr(data, "icans", file_label=label)
    else:
        result, reading = validate_and_read_fhir(data, profile="icans", file_label=label)
    return list(result.issues), reading


def convert(data: bytes, kind: Literal["sr", "fhir"], to: Target, *, label: str = "(source)",
            fhir_version: fhir.Version = "R4", sop_class: str = "comprehensive-3d",
            uid_root: str | None = None, allow_empty: bool = False, force: bool = False,
            validate: bool = True) -> Output:
    """Convert an SR or a bundle to the other format through the model (see the module
    docstring); raises :class:`OutputRejected` with the issues when it cannot.

    ``validate=False`` skips validating the source, for a caller that just did (the
    gateway); the output is validated always.
    """
    if validate:
        checked, reading_or_none = validate_and_read(data, kind, label)
        # the icans validators read the source once and surface the reader's issues; read it
        # here only when they stopped before reading (unparseable input, wrong kind)
        reading = reading_or_none or read_source(data, kind)
        source_issues = checked if reading_or_none else _merge(checked, reading.issues)
    else:
        reading = read_source(data, kind)
        source_issues = list(reading.issues)
    problems = conversion_problems(reading, label, allow_empty=allow_empty)
    report = reading.report
    if report is None or (problems and not force) or (errors(source_issues) and not force):
        raise OutputRejected(f"{label} cannot be converted; nothing written",
                             [*source_issues, *problems])
    if to == "fhir":
        output = write_fhir(report, version=fhir_version, sr=reading.sr_instance,
                            uid_root=uid_root, force=force)
    else:
        output = write_sr(report, sop_class=sop_class, uid_root=uid_root, force=force)
    output.source_issues = [*source_issues, *problems]
    output.skipped = reading.skipped
    return output
