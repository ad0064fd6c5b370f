"""Write and convert records only when what is written is valid and nothing is invented.

Integration code calls these instead of the bare writers when a record leaves the program:

* :func:`write_sr` / :func:`write_fhir` build a report's SR or bundle and run the validators
  (profile ``icans``) on exactly those bytes; an error raises :class:`OutputRejected` with the
  issues, and nothing is returned to be written (``force=True`` returns it anyway, the issues
  attached). The writers themselves keep raising ``EncodingError`` for what a format cannot
  carry at all.
* :func:`convert` reads an SR or a bundle through the model and writes the other format with
  the same checks, plus the rules of conversion: a source with no ICANS finding, assessment
  or grade is refused (``allow_empty`` writes it anyway); a value the target needs and the
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
from icans_interop.validation.fhir import validate_fhir
from icans_interop.validation.sr import validate_sr

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
    #: The source's issues and skipped items (conversion only).
    source_issues: list[Issue] = field(default_factory=list)
    skipped: list[Issue] = field(default_factory=list)
    report: ImagingReport | None = None


def _errors(issues: Iterable[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity == "error"]


def write_sr(report: ImagingReport, *, sop_class: str = "comprehensive-3d",
             source_images: Iterable[Any] | None = None, uid_root: str | None = None,
             force: bool = False) -> Output:
    """The report's SR as Part 10 bytes, validated (profile icans) before it is returned.

    Raises :class:`OutputRejected` when the SR has errors (unless ``force``) and
    ``EncodingError`` / ``ValueError`` as :func:`icans_interop.dicom.write` does.
    """
    dataset = dicom.write(report, sop_class=sop_class, source_images=source_images,
                          uid_root=uid_root)
    data = dicom.to_bytes(dataset)
    issues = list(validate_sr(data, "icans", file_label="(SR to write)").issues)
    if _errors(issues) and not force:
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
    if _errors(issues) and not force:
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
                              f"no ICANS content in {where}: no finding, assessment or grade"))
    if "procedure" not in reading.provenance:
        problems.append(error("would-invent", reading.provenance.root or where,
                              "the source gives no known imaging procedure code; the target "
                              "needs one and the model's default would be invented"))
    return problems


def read_source(data: bytes, kind: Literal["sr", "fhir"]) -> Reading:
    """Read an SR or a bundle (encoded bytes) into a :class:`Reading`."""
    return dicom.read(data) if kind == "sr" else fhir.read(data)


def convert(data: bytes, kind: Literal["sr", "fhir"], to: Target, *, label: str = "(source)",
            fhir_version: fhir.Version = "R4", sop_class: str = "comprehensive-3d",
            uid_root: str | None = None, allow_empty: bool = False,
            force: bool = False) -> Output:
    """Convert an SR or a bundle to the other format through the model (see the module
    docstring); raises :class:`OutputRejected` with the issues when it cannot."""
    reading = read_source(data, kind)
    source_issues = list(reading.issues)
    problems = conversion_problems(reading, label, allow_empty=allow_empty)
    report = reading.report
    if report is None or (problems and not force) or (_errors(source_issues) and not force):
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
