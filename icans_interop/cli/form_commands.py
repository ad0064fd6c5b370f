"""The structured reporting form and the human-readable report: ``template``, ``extract``
and ``render``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from icans_interop.cli.app import EXIT_INVALID, EXIT_UNREADABLE, EXIT_USAGE, app, fail
from icans_interop.cli.files import STDIO, Outputs, check_targets, label, read_input
from icans_interop.cli.record_commands import (
    FhirVersionOption,
    Findings,
    ForceOption,
    SopClassOption,
    _finish,
)
from icans_interop.cli.show import issue_lines

if TYPE_CHECKING:
    from icans_interop.model import ImagingReport

OutputOption = Annotated[str, typer.Option("-o", "--output",
                                           help="Output file; - for standard output.")]


def read_report(path: str) -> ImagingReport:
    """A case file, SR, FHIR bundle or QuestionnaireResponse as a report (the library's
    :func:`icans_interop.read`), or exit 1 (no report) / 3 (not a record at all)."""
    from icans_interop.api import read
    from icans_interop.validation.runner import UNREADABLE_CODES

    where = label(path)
    report, issues = read(read_input(path))
    issue_lines(where, issues)
    if report is None:
        unreadable = any(i.code in UNREADABLE_CODES for i in issues)
        fail(f"{where}: could not be read into a report",
             EXIT_UNREADABLE if unreadable else EXIT_INVALID)
    return report


def _write_one(output: str, data: bytes, findings: Findings, force: bool) -> None:
    """Write ``data`` to ``output`` unless ``findings`` block it (text summary)."""
    outputs = Outputs()
    outputs.add(output, data)
    _finish(outputs, findings, force, "text",
            [] if output == STDIO else [{"path": label(output)}])


@app.command(rich_help_panel="Forms and reports")
def template(
    fmt: Annotated[Literal["questionnaire", "case"], typer.Option(
        "--format", help="questionnaire: the SDC Questionnaire (FHIR); case: a commented "
                         "starting case file.")] = "questionnaire",
    output: Annotated[str, typer.Option("-o", "--output",
                                        help="Output file (default: standard output).")]
    = STDIO,
    fhir_version: FhirVersionOption = "R4",
    prefill: Annotated[str | None, typer.Option(
        help="Write a QuestionnaireResponse pre-filled from this case, SR or FHIR bundle.")]
    = None,
    force: Annotated[bool, typer.Option(help="Write even when the report has values the form "
                                             "cannot hold.")] = False,
) -> None:
    """Write the SDC Questionnaire, a pre-filled response, or a starting case file.

    The Questionnaire is generated from the knowledge entry; --prefill writes a
    QuestionnaireResponse filled from a record; --format case writes a case file whose
    $comment notes say what to fill (it passes check as it is).
    """
    from icans_interop import sdc

    check_targets([output])
    findings = Findings()
    if fmt == "case":
        if prefill is not None:
            fail("--prefill goes with --format questionnaire", EXIT_USAGE)
        from icans_interop.model import case_template

        _write_one(output, case_template().encode("utf-8"), findings, force)
        return
    if prefill is None:
        _write_one(output, sdc.to_json(sdc.questionnaire(fhir_version)).encode("utf-8"),
                   findings, force)
        return
    report_ = read_report(prefill)
    response, issues = sdc.write(report_, fhir_version)
    findings.add(label(prefill), list(issues))
    _write_one(output, sdc.to_json(response).encode("utf-8"), findings, force)


@app.command(rich_help_panel="Forms and reports")
def extract(
    response: Annotated[str, typer.Argument(
        help="A filled QuestionnaireResponse (JSON); - reads standard input.")],
    output: OutputOption,
    to: Annotated[Literal["case", "sr", "fhir"], typer.Option(help="What to write.")] =
    "case",
    fhir_version: FhirVersionOption = "R4",
    sop_class: SopClassOption = "comprehensive-3d",
    force: ForceOption = False,
) -> None:
    """A filled form (QuestionnaireResponse) as a case file, DICOM SR or FHIR Bundle.

    What is about to be written is validated first (profile icans): on an error nothing is
    written and the exit status is 1.
    """
    from icans_interop import conversion, sdc
    from icans_interop.dicom import EncodingError
    from icans_interop.validation.runner import UNREADABLE_CODES

    check_targets([output])
    where = label(response)
    report_, issues, locate = sdc.read_located(read_input(response))
    issue_lines(where, issues)
    if any(i.code in UNREADABLE_CODES for i in issues):
        fail(f"{where}: unreadable", EXIT_UNREADABLE)
    if report_ is None:
        fail(f"{where}: could not be read into a report; nothing written", EXIT_INVALID)
    findings = Findings()
    if to == "case":
        from icans_interop.validation.semantic import check_report

        findings.add(label(output), check_report(report_, locate))
        data = report_.model_dump(mode="json", exclude_none=True)
        encoded = (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    elif to == "sr":
        try:
            made = conversion.write_sr(report_, sop_class=sop_class, force=True)
        except (EncodingError, ValueError) as exc:
            fail(f"cannot write the SR: {exc}", EXIT_INVALID)
        findings.add(label(output), made.issues)
        encoded = made.data
    else:
        made = conversion.write_fhir(report_, version=fhir_version, force=True)
        findings.add(label(output), made.issues)
        encoded = made.data
    _write_one(output, encoded, findings, force)


@app.command(rich_help_panel="Forms and reports")
def render(
    source: Annotated[str, typer.Argument(
        help="A case file, DICOM SR, FHIR bundle or QuestionnaireResponse; - reads standard "
             "input.")],
    output: OutputOption,
    fmt: Annotated[Literal["html", "pdf"], typer.Option("--format", help="Output format.")]
    = "html",
    force: Annotated[bool, typer.Option(help="Write even when the record has errors.")] =
    False,
) -> None:
    """The human-readable report (HTML, or PDF via WeasyPrint) a clinician reads."""
    from icans_interop import render as rendering
    from icans_interop.validation.semantic import check_report

    check_targets([output])
    report_ = read_report(source)
    findings = Findings()
    findings.add(label(source), check_report(report_))
    if findings.blocking and not force:
        _finish(Outputs(), findings, False, "text", [])
    if fmt == "html":
        document = rendering.html(report_).encode("utf-8")
    else:
        try:
            document = rendering.pdf(report_)
        except rendering.PdfUnavailableError as exc:
            fail(str(exc), EXIT_USAGE)
    _write_one(output, document, findings, force)
