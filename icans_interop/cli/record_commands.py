"""Commands that write or check records: ``report``, ``convert``, ``validate`` and
``terminology``.

``report`` and ``convert`` validate what they are about to write (profile icans) and write
nothing when it has errors (exit 1); ``--force`` writes anyway, exit 0, the issues still on
standard error. Their outputs are written all-or-nothing (:mod:`icans_interop.cli.files`).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from icans_interop.cli.app import (
    EXIT_INVALID,
    EXIT_UNREADABLE,
    EXIT_USAGE,
    app,
    err,
    fail,
    out,
)
from icans_interop.cli.case_commands import CaseArgument, FormatOption, read_case
from icans_interop.cli.files import (
    STDIO,
    Outputs,
    check_targets,
    is_standard_output,
    label,
    read_input,
)
from icans_interop.cli.show import emit_json, issue_lines, say
from icans_interop.formats import BundleType, FhirVersionIn, Profile, SopClassName
from icans_interop.formats import FhirVersion as Version

if TYPE_CHECKING:
    from icans_interop.conversion import Output
    from icans_interop.issues import Issue

SopClassOption = Annotated[SopClassName, typer.Option(help="SR SOP class.")]
FhirVersionOption = Annotated[Version, typer.Option(help="FHIR version to write.")]
UidRootOption = Annotated[str | None, typer.Option(
    help="Your organisation's UID root for the SR's Series and SOP Instance UIDs "
         "(default: the 2.25 UUID form).")]
ForceOption = Annotated[bool, typer.Option(
    "--force", help="Write even when validation finds errors (they are still printed).")]


class Findings:
    """Issues gathered from the inputs and the outputs of one command, by file."""

    def __init__(self) -> None:
        self.groups: list[tuple[str, list[Issue]]] = []

    def add(self, where: str, issues: list[Issue]) -> None:
        if issues:
            self.groups.append((where, list(issues)))

    @property
    def blocking(self) -> bool:
        return any(i.severity == "error" for _where, group in self.groups for i in group)

    def as_json(self) -> list[dict[str, str]]:
        return [{"file": where, **issue.to_dict()} for where, group in self.groups
                for issue in group]

    def print(self) -> None:
        for where, group in self.groups:
            issue_lines(where, group)


def _finish(outputs: Outputs, findings: Findings, force: bool, fmt: Literal["text", "json"],
            written: list[dict[str, Any]], extra: dict[str, Any] | None = None,
            forceable: bool = True) -> None:
    """Write the outputs unless an error blocks them, then say what happened (JSON or text);
    exit 1 when blocked."""
    to_stderr = any(is_standard_output(t) for t in outputs.targets)
    blocked = findings.blocking and not force
    if not blocked:
        outputs.commit()
    if fmt == "json":
        emit_json({"written": [] if blocked else written, "valid": not findings.blocking,
                   "forced": force and findings.blocking, "issues": findings.as_json(),
                   **(extra or {})}, to_stderr=to_stderr)
    else:
        findings.print()
        if blocked:
            err.print("error: errors found; nothing written"
                      + (" (--force writes anyway)" if forceable else ""), style="bold red")
        else:
            if findings.blocking:
                err.print("written despite errors (--force)")
            for item in written:
                say(f"wrote {label(item['path'])}", to_stderr=to_stderr)
    if blocked:
        raise typer.Exit(EXIT_INVALID)


def _check_uid_root(uid_root: str | None) -> None:
    if uid_root is None:
        return
    from icans_interop.model import check_uid_root

    try:
        check_uid_root(uid_root)
    except ValueError as exc:
        fail(f"--uid-root: {exc}", EXIT_USAGE)


def _read_images(paths: list[str]) -> list[tuple[str, Any]]:
    """The source images' headers (pixel data not read); exit 3 for one that is not DICOM.

    A deflated image is first read by the byte layer, which inflates only up to its limit:
    pydicom inflates a deflated body whole, so it never sees one that could be a bomb."""
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    from icans_interop.dicom import part10

    images = []
    for path in paths:
        data = read_input(path)
        try:
            if part10.is_deflated(data):
                part10.identity(data)
            images.append((label(path), dcmread(io.BytesIO(data), stop_before_pixels=True)))
        except part10.Part10Error as exc:
            fail(f"{label(path)}: not a DICOM file we can read ({exc.code}): {exc}",
                 EXIT_UNREADABLE)
        except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError) as exc:
            fail(f"{label(path)}: not a readable DICOM file ({exc})", EXIT_UNREADABLE)
    return images


@app.command(rich_help_panel="Records")
def report(
    case: CaseArgument,
    sr: Annotated[str | None, typer.Option(
        help="Write a DICOM SR (TID 1500) here; - for standard output.")] = None,
    fhir_out: Annotated[str | None, typer.Option(
        "--fhir", help="Write a FHIR Bundle here; - for standard output.")] = None,
    sop_class: SopClassOption = "comprehensive-3d",
    source_image: Annotated[list[str] | None, typer.Option(
        help="Source MR image(s) of the report's patient and study for the TID 1600 image "
             "library; several may follow one --source-image.")] = None,
    fhir_version: FhirVersionOption = "R4",
    bundle: Annotated[BundleType, typer.Option(help="Bundle type.")] = "transaction",
    uid_root: UidRootOption = None,
    force: ForceOption = False,
    fmt: FormatOption = "text",
) -> None:
    """Write a case as a DICOM SR and/or a FHIR Bundle, validated before it is written.

    The case is checked and every output validated (profile icans): on an error nothing is
    written and the exit status is 1. A source image must be an image of the report's
    patient and study; --force writes anyway and cites a mismatched one as Pertinent Other
    Evidence.
    """
    from icans_interop import conversion
    from icans_interop.dicom import EncodingError
    from icans_interop.validation.semantic import check_report

    targets = [t for t in (sr, fhir_out) if t is not None]
    if not targets:
        fail("nothing to write: give --sr and/or --fhir", EXIT_USAGE)
    check_targets(targets)
    _check_uid_root(uid_root)
    rep = read_case(case, fmt)
    findings = Findings()
    findings.add(label(case), check_report(rep))
    outputs, written = Outputs(), []
    if sr is not None:
        verdict = conversion.check_source_images(rep, _read_images(source_image or []))
        for issue in verdict.issues:
            findings.add("--source-image", [issue])
        try:
            made = conversion.write_sr(rep, sop_class=sop_class, source_images=verdict.images,
                                       other_evidence=verdict.others if force else None,
                                       uid_root=uid_root, force=True)
        except (EncodingError, ValueError) as exc:
            fail(f"cannot write the SR: {exc}", EXIT_INVALID)
        findings.add(label(sr), made.issues)
        outputs.add(sr, made.data)
        written.append({"path": label(sr), "format": "sr", **_sr_identity(made)})
    elif source_image:
        fail("--source-image needs --sr (the images are listed in the SR)", EXIT_USAGE)
    if fhir_out is not None:
        made = conversion.write_fhir(rep, version=fhir_version, bundle=bundle,
                                     uid_root=uid_root, force=True)
        findings.add(label(fhir_out), made.issues)
        outputs.add(fhir_out, made.data)
        written.append({"path": label(fhir_out), "format": "fhir", "version": fhir_version})
    _finish(outputs, findings, force, fmt, written)


def _sr_identity(made: Output) -> dict[str, str]:
    """The SR's UIDs as the JSON summary reports them."""
    from icans_interop.dicom import part10, tags

    parsed = part10.parse(made.data)
    return {"sop_instance_uid": parsed.text(parsed.dataset, tags.SOP_INSTANCE_UID) or "",
            "series_instance_uid": parsed.text(parsed.dataset,
                                               tags.SERIES_INSTANCE_UID) or ""}


@app.command(rich_help_panel="Records")
def convert(
    source: Annotated[str, typer.Argument(
        help="A DICOM SR or a FHIR Bundle (JSON); - reads standard input.")],
    to: Annotated[Literal["fhir", "sr"], typer.Option(help="Target format.")],
    output: Annotated[str, typer.Option("-o", "--output",
                                        help="Output file; - for standard output.")],
    fhir_version: FhirVersionOption = "R4",
    sop_class: SopClassOption = "comprehensive-3d",
    uid_root: UidRootOption = None,
    allow_empty: Annotated[bool, typer.Option(
        "--allow-empty", help="Convert a source that holds no ICANS finding, assessment "
                              "or grade.")] = False,
    force: ForceOption = False,
    fmt: FormatOption = "text",
) -> None:
    """Convert SR -> FHIR or FHIR -> SR through the model, inventing nothing.

    The source is validated first and the output before it is written (profile icans); a
    source with no ICANS content, or without a value the target needs (the procedure), is
    refused. Items of the source the target does not carry are counted (and listed with
    --format json).
    """
    from icans_interop import conversion, sniff

    check_targets([output])
    _check_uid_root(uid_root)
    where = label(source)
    data = read_input(source)
    kind = sniff.kind_of_bytes(data[:4096])
    if kind == "case":
        fail(f"{where}: is a case file; write it with `icans-interop report`", EXIT_UNREADABLE)
    if kind not in ("sr", "fhir"):
        fail(f"{where}: neither a DICOM SR nor a FHIR resource", EXIT_UNREADABLE)
    if kind == to:
        fail(f"{where}: is already {to.upper() if to == 'sr' else 'FHIR'}", EXIT_USAGE)
    findings = Findings()
    try:
        made = conversion.convert(data, kind, to, label=where, fhir_version=fhir_version,
                                  sop_class=sop_class, uid_root=uid_root,
                                  allow_empty=allow_empty, force=force)
    except conversion.OutputRejected as rejected:
        from icans_interop.validation.runner import UNREADABLE_CODES

        findings.add(where, rejected.issues)
        if any(i.code in UNREADABLE_CODES - {"unreadable"} for i in rejected.issues):
            findings.print()  # over a size or nesting limit: the input cannot be read
            fail(f"{where}: cannot be read within the limits; nothing written",
                 EXIT_UNREADABLE)
        _finish(Outputs(), findings, False, fmt, [], {"skipped": []},
                forceable=not any(i.code == "unreadable" for i in rejected.issues))
        return
    except ValueError as exc:  # EncodingError: a value the target cannot carry
        fail(f"cannot write the {to.upper() if to == 'sr' else 'FHIR'} output: {exc}",
             EXIT_INVALID)
    findings.add(where, made.source_issues)
    findings.add(label(output), made.issues)
    outputs = Outputs()
    outputs.add(output, made.data)
    item: dict[str, Any] = {"path": label(output), "format": to}
    item.update(_sr_identity(made) if to == "sr" else {"version": fhir_version})
    if made.skipped and fmt == "text":
        err.print(f"{where}: {len(made.skipped)} item(s) of the source are not carried over "
                  "(listed above; --format json lists them as skipped)")
    _finish(outputs, findings, force, fmt, [item],
            {"skipped": [{"file": where, **i.to_dict()} for i in made.skipped]})


@app.command(rich_help_panel="Records")
def validate(
    paths: Annotated[list[str], typer.Argument(
        help="Files or folders (recursive); - reads one file from standard input.")],
    fmt: Annotated[Literal["text", "json", "outcome"], typer.Option(
        "--format", help="Output format.")] = "text",
    profile: Annotated[Profile, typer.Option(
        help="icans adds the ICANS semantic rules.")] = "icans",
    fhir_version: Annotated[FhirVersionIn, typer.Option(
        help="FHIR version of JSON inputs; auto: R5 when a resource claims the dicom-sr IG "
             "profiles or fhirVersion 5.x, else R4.")] = "auto",
    include: Annotated[list[str] | None, typer.Option(
        help="Only files whose name or path matches this glob (repeatable).")] = None,
    exclude: Annotated[list[str] | None, typer.Option(
        help="Skip files whose name or path matches this glob (repeatable).")] = None,
    jobs: Annotated[int, typer.Option(min=1, max=64, help="Parallel worker processes.")] = 1,
    scheduler: Annotated[str | None, typer.Option(
        help="Run on the Dask cluster whose scheduler is at tcp://HOST:PORT (paths must be "
             "on shared storage, or fsspec URLs such as s3://...).")] = None,
) -> None:
    """Validate DICOM SR, FHIR and case files.

    Exit 0 no errors, 1 errors in some file, 3 some file missing or unreadable (also listed
    in the output as an entry with its issue), 2 usage error.
    """
    import sys

    from icans_interop.validation import runner
    from icans_interop.validation.result import (
        ValidationResult,
        render_json,
        render_outcomes,
    )

    if scheduler is not None:
        from icans_interop.cli.connection_commands import validate_on_cluster

        results = validate_on_cluster(paths, scheduler, profile, fhir_version,
                                      include or [], exclude or [])
    else:
        if paths.count(STDIO) > 1:
            fail("standard input (-) can be read once", EXIT_USAGE)
        named = [Path(p) for p in paths if p != STDIO]
        files, missing = runner.collect(named, include=include or (), exclude=exclude or ())
        entries: list[Path | str] = [*files, *([STDIO] if STDIO in paths else [])]
        results = [ValidationResult(str(path), "missing", (runner.missing_issue(str(path)),))
                   for path in missing]
        if not entries and not results:
            fail("no files to validate (all excluded?)", EXIT_USAGE)
        if STDIO in paths:
            results.append(runner.validate_bytes(read_input(STDIO), label(STDIO), profile,
                                                 fhir_version))
        show_progress = fmt == "text" and sys.stderr.isatty() and len(files) > 1
        results += runner.validate_many(files, profile=profile, fhir_version=fhir_version,
                                        jobs=jobs, progress=show_progress)
    if fmt == "json":
        sys.stdout.write(render_json(results) + "\n")
    elif fmt == "outcome":
        sys.stdout.write(render_outcomes(results) + "\n")
    else:
        for result in results:
            out.print(result.to_text())
        if len(results) > 1:
            out.print(runner.summary_table(results))
    if any(runner.is_unreadable(r) for r in results):
        raise typer.Exit(EXIT_UNREADABLE)
    if any(not r.valid for r in results):
        raise typer.Exit(EXIT_INVALID)


@app.command(rich_help_panel="Records")
def terminology(
    out_dir: Annotated[str, typer.Option(
        "-o", "--output", "--out", help="Existing folder to write the JSON files into.")],
) -> None:
    """Write the terminology: CodeSystems, ValueSets, ConceptMap (FHIR R4 JSON).

    The local CodeSystem, the concept keys and the issue codes (the system of the
    OperationOutcomes of validate --format outcome), one ValueSet per role and a ConceptMap,
    written all or none into an existing folder.
    """
    from icans_interop.fhir import terminology_export

    folder = Path(out_dir)
    if not folder.is_dir():
        fail(f"cannot write into {out_dir}: no such directory (directories are not created)",
             EXIT_USAGE)
    outputs = Outputs()
    for name, data in terminology_export.documents().items():
        outputs.add(str(folder / name), data)
    for target in outputs.commit():
        out.print(f"wrote {target}")

