"""``icans-interop``: the command line over the public API.

Exit codes: 0 success / valid, 1 invalid input content (validation errors), 2 unreadable input
or usage error. Heavy modules (pydicom, fhir.resources, ICD-10-CM) are imported inside the
commands that need them, so ``--help`` stays fast. No command prints a traceback for bad input
(set ``ICANS_INTEROP_DEBUG=1`` to see one for an internal error).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

if TYPE_CHECKING:
    from icans_interop.issues import Issue
    from icans_interop.model import ImagingReport
    from icans_interop.net.transfer import TransferResult
    from icans_interop.validation.result import ValidationResult

app = typer.Typer(name="icans-interop", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False,
                  help="Exchange and validate ICANS imaging findings as DICOM SR and FHIR.")
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2
T = TypeVar("T")


class CodesFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class SopClass(StrEnum):
    comprehensive_3d = "comprehensive-3d"
    enhanced = "enhanced"
    comprehensive = "comprehensive"


class FhirVersion(StrEnum):
    R4 = "R4"
    R5 = "R5"


class FhirVersionIn(StrEnum):
    auto = "auto"
    R4 = "R4"
    R5 = "R5"


class BundleType(StrEnum):
    transaction = "transaction"
    collection = "collection"


class Target(StrEnum):
    fhir = "fhir"
    sr = "sr"


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    outcome = "outcome"


class Profile(StrEnum):
    icans = "icans"
    base = "base"


def fail(message: str, code: int = EXIT_UNREADABLE) -> typer.Exit:
    err.print(f"error: {message}", style="bold red")
    return typer.Exit(code)


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_case(path: Path) -> ImagingReport:
    """Load a case file or exit 2 (unreadable) / 1 (invalid) with located messages."""
    from pydantic import ValidationError

    from icans_interop.model import load_case

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise fail(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise fail(f"{path}: not valid JSON ({exc})") from None
    try:
        return load_case(data)
    except ValidationError as exc:
        for problem in exc.errors():
            location = _model_path(problem["loc"])
            err.print(f"{path}: error: [case-invalid] {location}: {problem['msg']} "
                      f"(got {_shorten(problem.get('input'))})")
        raise typer.Exit(EXIT_INVALID) from None


def _model_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(root)"


def _shorten(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@app.command()
def knowledge() -> None:
    """Show the parsed knowledge entry: patterns, regions, qualifiers, sequences, signs."""
    from icans_interop import knowledge as kb
    from icans_interop import profile

    entry = kb.load()
    rules = profile.pattern_rules()
    tree = Tree(Text(f"{entry.title} ({', '.join(entry.categories)})", style="bold"))
    for pattern in entry.patterns:
        node = tree.add(Text(pattern.name, style="bold cyan"))
        regions = node.add("Anatomical regions")
        for region in pattern.regions:
            regions.add(str(region))
        node.add("Qualifiers: " + ", ".join(pattern.qualifiers))
        node.add("Sequence / signal: " + "; ".join(
            f"{p.sequence} {p.signal.lower()}" for p in pattern.sequence_signals))
        key = kb.pattern_key(pattern.name)
        if key in rules:
            sites = ", ".join(sorted(rules[key].sites))
            node.add(Text(f"concept keys: sites {sites}", style="dim"))
    tree.add("Clinical signs: " + ", ".join(entry.clinical_signs))
    out.print(tree)


@app.command()
def codes(
    role: Annotated[str | None, typer.Option(help="Only concepts of this role.")] = None,
    fmt: Annotated[CodesFormat, typer.Option("--format", help="Output format.")] =
    CodesFormat.table,
) -> None:
    """List every code the library can emit, with its role and verification source."""
    from icans_interop import terminology

    terms = terminology.load()
    if role is not None and role not in terms.roles():
        raise fail(f"unknown role {role!r}; roles: {', '.join(terms.roles())}")
    rows = [{"key": c.key, "role": c.role, "label": c.label, "system": k.system,
             "scheme": k.scheme or "", "code": k.code, "display": k.display, "use": k.use,
             "source": k.source}
            for c in terms if role is None or c.role == role for k in c.codings]
    if fmt is CodesFormat.json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
    elif fmt is CodesFormat.csv:
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["key"])
        writer.writeheader()
        writer.writerows(rows)
    else:
        table = Table("key", "role", "scheme", "code", "display", "use")
        for row in rows:
            table.add_row(row["key"], row["role"], row["scheme"] or row["system"], row["code"],
                          row["display"], row["use"])
        out.print(table)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the case-file format."""
    from icans_interop.model import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


@app.command()
def check(case: Annotated[Path, typer.Argument(help="Case file (JSON).")]) -> None:
    """Validate a case file: format, concept keys and the semantic rules."""
    from icans_interop.validation.semantic import check_report

    report = read_case(case)
    issues = check_report(report)
    for issue in issues:
        err.print(f"{case}: {issue}")
    if any(i.severity == "error" for i in issues):
        raise typer.Exit(EXIT_INVALID)
    out.print(f"{case}: valid ({len(report.findings)} findings"
              f"{', ' + str(len(issues)) + ' notes' if issues else ''})")


@app.command()
def grade(case: Annotated[Path, typer.Argument(help="Case file (JSON).")]) -> None:
    """Compute the ASTCT 2019 ICANS grade of a case's assessment, domain by domain."""
    from icans_interop import grading

    report = read_case(case)
    if report.assessment is None:
        raise fail(f"{case}: the case has no assessment to grade", EXIT_INVALID)
    result = grading.compute_grade(report.assessment)
    table = Table("domain", "grade", title=f"ICANS grade {result.grade} (ASTCT 2019)")
    for name, value in result.domains:
        table.add_row(name, str(value), style="bold" if value == result.grade and value else "")
    out.print(table)
    out.print(f"ICE score: {result.ice_score if result.ice_score is not None else 'not done'}")
    key = grading.icd10cm_key(result.grade) if result.grade else None
    if key:
        from icans_interop import terminology

        coding = terminology.load().concept(key).fhir_codings()[0]
        out.print(f"ICD-10-CM: {coding.code} {coding.display}")
    if report.icans_grade is not None and report.icans_grade != result.grade:
        err.print(f"{case}: recorded grade {report.icans_grade} differs from computed grade "
                  f"{result.grade}")
        raise typer.Exit(EXIT_INVALID)


def _write_sr(report: ImagingReport, path: Path, sop_class: SopClass,
              source_images: list[Path]) -> None:
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    from icans_interop import dicom

    images = []
    for image in source_images:
        try:
            images.append(dcmread(image, stop_before_pixels=True))
        except (OSError, InvalidDicomError) as exc:
            raise fail(f"{image}: not a readable DICOM file ({exc})") from None
    try:
        dataset = dicom.write(report, sop_class=sop_class.value, source_images=images or None)
    except ValueError as exc:  # EncodingError: a value DICOM cannot carry; nothing written
        raise fail(f"cannot write the SR: {exc}", EXIT_INVALID) from None
    with atomic_output(path) as tmp:
        tmp.write_bytes(dicom.to_bytes(dataset))


def _write_fhir(report: ImagingReport, path: Path, version: FhirVersion,
                bundle: BundleType) -> None:
    from icans_interop import fhir

    result = fhir.write(report, version=version.value, bundle=bundle.value)
    write_text_atomic(path, fhir.to_json(result))


@app.command()
def report(
    case: Annotated[Path, typer.Argument(help="Case file (JSON).")],
    sr: Annotated[Path | None, typer.Option(help="Write a DICOM SR (TID 1500) here.")] = None,
    sop_class: Annotated[SopClass, typer.Option(help="SR SOP class.")] =
    SopClass.comprehensive_3d,
    source_image: Annotated[list[Path] | None, typer.Option(
        help="Source MR image(s) for the TID 1600 image library.")] = None,
    fhir_out: Annotated[Path | None, typer.Option("--fhir", help="Write a FHIR Bundle here.")]
    = None,
    fhir_version: Annotated[FhirVersion, typer.Option(help="FHIR version.")] = FhirVersion.R4,
    bundle: Annotated[BundleType, typer.Option(help="Bundle type.")] = BundleType.transaction,
) -> None:
    """Write a case as a DICOM SR and/or a FHIR Bundle."""
    if sr is None and fhir_out is None:
        raise fail("nothing to write: give --sr and/or --fhir")
    rep = read_case(case)
    if sr is not None:
        _write_sr(rep, sr, sop_class, source_image or [])
        out.print(f"wrote {sr}")
    if fhir_out is not None:
        _write_fhir(rep, fhir_out, fhir_version, bundle)
        out.print(f"wrote {fhir_out}")


@app.command()
def convert(
    source: Annotated[Path, typer.Argument(help="A DICOM SR or a FHIR Bundle (JSON).")],
    to: Annotated[Target, typer.Option(help="Target format.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output file.")],
    fhir_version: Annotated[FhirVersion, typer.Option(help="FHIR version.")] = FhirVersion.R4,
    sop_class: Annotated[SopClass, typer.Option(help="SR SOP class.")] =
    SopClass.comprehensive_3d,
) -> None:
    """Convert SR -> FHIR or FHIR -> SR, through the domain model."""
    from icans_interop import sniff

    kind = sniff.kind_of_path(source)
    if kind == "unreadable":
        raise fail(f"{source}: cannot read")
    report_, issues = _read_any(source, kind)
    for issue in issues:
        err.print(f"{source}: {issue}")
    if report_ is None:
        raise fail(f"{source}: could not be read into a report", EXIT_INVALID)
    if to is Target.sr:
        _write_sr(report_, output, sop_class, [])
    else:
        _write_fhir(report_, output, fhir_version, BundleType.transaction)
    out.print(f"wrote {output}")


def _read_any(path: Path, kind: str) -> tuple[ImagingReport | None, list[Issue]]:
    if kind == "sr":
        from icans_interop import dicom

        return dicom.read(path)
    if kind == "fhir":
        from icans_interop import fhir

        return fhir.read(path.read_bytes())
    if kind == "case":
        return read_case(path), []
    raise fail(f"{path}: neither a DICOM SR nor a FHIR resource")


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursive).")],
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] =
    OutputFormat.text,
    profile: Annotated[Profile, typer.Option(help="icans adds the ICANS semantic rules.")] =
    Profile.icans,
    fhir_version: Annotated[FhirVersionIn, typer.Option(
        help="FHIR version of JSON inputs; auto: R5 when a resource claims the dicom-sr IG "
             "profiles or fhirVersion 5.x, else R4.")] = FhirVersionIn.auto,
    jobs: Annotated[int, typer.Option(min=1, max=64, help="Parallel worker processes.")] = 1,
    scheduler: Annotated[str | None, typer.Option(
        help="Run on the Dask cluster whose scheduler is at tcp://HOST:PORT (paths must be "
             "on shared storage, or fsspec URLs such as s3://...).")] = None,
) -> None:
    """Validate DICOM SR and FHIR files; exit 0 no errors, 1 errors, 2 unreadable/usage."""
    from icans_interop.validation import runner
    from icans_interop.validation.result import render_json, render_outcomes

    if scheduler is not None:
        results, missing = _validate_on_cluster(paths, scheduler, profile, fhir_version)
    else:
        files, missing = runner.collect(paths)
        for path in missing:
            err.print(f"{path}: no such file or folder")
        if not files:
            raise fail("no files to validate")
        show_progress = fmt is OutputFormat.text and sys.stderr.isatty() and len(files) > 1
        results = runner.validate_many(files, profile=profile.value,
                                       fhir_version=fhir_version.value, jobs=jobs,
                                       progress=show_progress)
    if fmt is OutputFormat.json:
        sys.stdout.write(render_json(results) + "\n")
    elif fmt is OutputFormat.outcome:
        sys.stdout.write(render_outcomes(results) + "\n")
    else:
        for result in results:
            out.print(result.to_text())
        if len(results) > 1:
            out.print(runner.summary_table(results))
    if missing or any(r.kind == "unknown" or any(i.code in ("unreadable", "too-large",
                                                            "too-deep") for i in r.issues)
                      for r in results):
        raise typer.Exit(EXIT_UNREADABLE)
    if any(not r.valid for r in results):
        raise typer.Exit(EXIT_INVALID)


@app.command()
def terminology(out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")]) -> None:
    """Write the local CodeSystem, one ValueSet per role and a ConceptMap (FHIR R4 JSON)."""
    from icans_interop.fhir import terminology_export

    for path in terminology_export.export(out_dir):
        out.print(f"wrote {path}")


# --- structured reporting form (SDC) and the human-readable report ---------------------------


class TemplateFormat(StrEnum):
    questionnaire = "questionnaire"


class ExtractTarget(StrEnum):
    case = "case"
    sr = "sr"
    fhir = "fhir"


class RenderFormat(StrEnum):
    html = "html"
    pdf = "pdf"


def _read_report(path: Path) -> ImagingReport:
    """A case file, SR, FHIR bundle or QuestionnaireResponse as a report, or exit 1/2."""
    from icans_interop import sniff

    kind = sniff.kind_of_path(path)
    if kind == "unreadable":
        raise fail(f"{path}: cannot read")
    if kind == "fhir" and _is_questionnaire_response(path):
        from icans_interop import sdc

        report_, issues = sdc.read(path)
    else:
        report_, issues = _read_any(path, kind)
    for issue in issues:
        err.print(f"{path}: {issue}")
    if report_ is None:
        raise fail(f"{path}: could not be read into a report", EXIT_INVALID)
    return report_


def _is_questionnaire_response(path: Path) -> bool:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("resourceType") == "QuestionnaireResponse"


def _emit(output: Path | None, text: str) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(output, text)
        out.print(f"wrote {output}")


def _gate(label: str, issues: list[Issue] | tuple[Issue, ...], force: bool) -> None:
    """Print issues; on an error exit 1 before anything is written, unless forced."""
    for issue in issues:
        err.print(f"{label}: {issue}")
    if any(i.severity == "error" for i in issues):
        if not force:
            raise fail(f"{label}: errors found; nothing written (--force writes anyway)",
                       EXIT_INVALID)
        err.print(f"{label}: written despite errors (--force)")


@app.command()
def template(
    fmt: Annotated[TemplateFormat, typer.Option("--format", help="Template format.")] =
    TemplateFormat.questionnaire,
    output: Annotated[Path | None, typer.Option("-o", "--output",
                                                help="Output file (default: stdout).")] = None,
    fhir_version: Annotated[FhirVersion, typer.Option(help="FHIR version.")] = FhirVersion.R4,
    prefill: Annotated[Path | None, typer.Option(
        help="Write a QuestionnaireResponse pre-filled from this case, SR or FHIR bundle.")]
    = None,
    force: Annotated[bool, typer.Option(help="Write even when the report has values the form "
                                             "cannot hold.")] = False,
) -> None:
    """Write the SDC Questionnaire generated from the knowledge entry (or a pre-filled response)."""
    from icans_interop import sdc

    version: Literal["R4", "R5"] = "R5" if fhir_version is FhirVersion.R5 else "R4"
    if prefill is None:
        _emit(output, sdc.to_json(sdc.questionnaire(version)))
        return
    report_ = _read_report(prefill)
    response, issues = sdc.write(report_, version)
    _gate(str(prefill), issues, force)
    _emit(output, sdc.to_json(response))


@app.command()
def extract(
    response: Annotated[Path, typer.Argument(help="A filled QuestionnaireResponse (JSON).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output file.")],
    to: Annotated[ExtractTarget, typer.Option(help="What to write.")] = ExtractTarget.case,
    fhir_version: Annotated[FhirVersion, typer.Option(help="FHIR version.")] = FhirVersion.R4,
    sop_class: Annotated[SopClass, typer.Option(help="SR SOP class.")] =
    SopClass.comprehensive_3d,
    force: Annotated[bool, typer.Option(help="Write even when validation finds errors.")] =
    False,
) -> None:
    """A filled form (QuestionnaireResponse) as a case file, DICOM SR or FHIR Bundle.

    What is about to be written is validated first (profile icans): on an error nothing is
    written and the exit status is 1.
    """
    from icans_interop import sdc

    report_, issues, locate = sdc.read_located(response)
    for issue in issues:
        err.print(f"{response}: {issue}")
    if any(i.code in ("unreadable", "too-large", "too-deep") for i in issues):
        raise fail(f"{response}: unreadable", EXIT_UNREADABLE)
    if report_ is None:
        raise fail(f"{response}: could not be read into a report; nothing written", EXIT_INVALID)
    label = str(output)
    if to is ExtractTarget.case:
        from icans_interop.validation.semantic import check_report

        _gate(label, check_report(report_, locate), force)
        data = report_.model_dump(mode="json", exclude_none=True)
        write_text_atomic(output, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    elif to is ExtractTarget.sr:
        from icans_interop import dicom
        from icans_interop.validation.sr import validate_sr

        try:
            encoded = dicom.to_bytes(dicom.write(report_, sop_class=sop_class.value))
        except ValueError as exc:  # EncodingError: a value DICOM cannot carry
            raise fail(f"cannot write the SR: {exc}", EXIT_INVALID) from None
        _gate(label, validate_sr(encoded, "icans", file_label=label).issues, force)
        with atomic_output(output) as tmp:
            tmp.write_bytes(encoded)
    else:
        from icans_interop import fhir
        from icans_interop.validation.fhir import validate_fhir

        text = fhir.write_json(report_, version=fhir_version.value)
        _gate(label, validate_fhir(text, fhir_version.value, "icans",
                                   file_label=label).issues, force)
        write_text_atomic(output, text)
    out.print(f"wrote {output}")


@app.command()
def render(
    source: Annotated[Path, typer.Argument(
        help="A case file, DICOM SR, FHIR bundle or QuestionnaireResponse.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output file.")],
    fmt: Annotated[RenderFormat, typer.Option("--format", help="Output format.")] =
    RenderFormat.html,
    force: Annotated[bool, typer.Option(help="Write even when the record has errors.")] =
    False,
) -> None:
    """The human-readable report (HTML, or PDF via WeasyPrint) a clinician reads."""
    from icans_interop import render as rendering
    from icans_interop.validation.semantic import check_report

    report_ = _read_report(source)
    _gate(str(source), check_report(report_), force)
    if fmt is RenderFormat.html:
        write_text_atomic(output, rendering.html(report_))
    else:
        try:
            document = rendering.pdf(report_)
        except rendering.PdfUnavailableError as exc:
            raise fail(str(exc)) from None
        with atomic_output(output) as tmp:
            tmp.write_bytes(document)
    out.print(f"wrote {output}")
# ---------------------------------------------------------------------------------------------
# Connections: send, fetch, gateway, and validate on a cluster (icans_interop.net).


class SendFormat(StrEnum):
    text = "text"
    json = "json"


TokenEnv = Annotated[str | None, typer.Option(
    "--token-env", help="Read a bearer token from this environment variable.")]
TokenFile = Annotated[Path | None, typer.Option(
    "--token-file", help="Read a bearer token from this file.")]


def _token(env_var: str | None, path: Path | None) -> str | None:
    from icans_interop.net.fhir_rest import TokenError, load_token

    try:
        return load_token(env_var, path)
    except TokenError as exc:
        raise fail(str(exc)) from None


def _print_transfers(results: list[TransferResult], fmt: SendFormat) -> None:
    if fmt is SendFormat.json:
        sys.stdout.write(json.dumps([r.to_dict() for r in results], indent=2,
                                    ensure_ascii=False) + "\n")
    else:
        for result in results:
            out.print(result.to_text())
        refused = sum(not r.ok for r in results)
        out.print(f"{len(results) - refused} of {len(results)} files ok"
                  + (f", {refused} refused" if refused else ""))
    if any(not r.ok for r in results):
        raise typer.Exit(EXIT_INVALID)


@app.command()
def send(
    files: Annotated[list[Path], typer.Argument(help="DICOM SR files, or FHIR Bundles (JSON) "
                                                    "with --fhir.")],
    dicomweb: Annotated[str | None, typer.Option(help="STOW-RS to this DICOMweb base URL.")]
    = None,
    dimse: Annotated[str | None, typer.Option(help="C-STORE to AET@HOST:PORT.")] = None,
    fhir_url: Annotated[str | None, typer.Option("--fhir", help="POST to this FHIR base URL.")]
    = None,
    calling_aet: Annotated[str, typer.Option(help="Our AE title (with --dimse).")] =
    "ICANS_INTEROP",
    batch_size: Annotated[int, typer.Option(min=1, max=1000,
                                            help="Files per STOW-RS request.")] = 20,
    profile: Annotated[Profile, typer.Option(help="Validate with this profile first; files "
                                                  "with errors are not sent.")] = Profile.icans,
    fhir_version: Annotated[FhirVersionIn, typer.Option(help="FHIR version of bundles.")] =
    FhirVersionIn.auto,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate only; send nothing.")]
    = False,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds per request.")] = 60.0,
    retries: Annotated[int, typer.Option(min=1, max=20, help="Attempts per FHIR request "
                                                             "on transient errors.")] = 5,
    token_env: TokenEnv = None,
    token_file: TokenFile = None,
    fmt: Annotated[SendFormat, typer.Option("--format", help="Output format.")] =
    SendFormat.text,
) -> None:
    """Send SRs to a PACS (STOW-RS, C-STORE) or bundles to a FHIR server; exit 1 if refused.

    Every file is validated first; one with errors is not sent. A file counts as refused
    when validation or the peer refused it.
    """
    if sum(x is not None for x in (dicomweb, dimse, fhir_url)) != 1:
        raise fail("give exactly one of --dicomweb, --dimse and --fhir")
    missing = [p for p in files if not p.is_file()]
    if missing:
        raise fail(f"{missing[0]}: no such file")
    token = _token(token_env, token_file)
    if fhir_url is not None:
        results = _send_fhir(files, fhir_url, profile, fhir_version, dry_run, timeout, retries,
                             token)
    elif dry_run:
        from icans_interop.net.prepare import prepare_files
        from icans_interop.net.transfer import TransferResult

        results = [p.refusal or TransferResult(p.label, True, "not-sent", "valid (dry run)",
                                               p.sop_instance_uid)
                   for p in prepare_files(files, profile.value)]
    elif dicomweb is not None:
        from icans_interop.net import dicomweb as web

        results = web.stow(files, dicomweb, batch_size=batch_size, token=token,
                           timeout=timeout, profile=profile.value)
    else:
        from icans_interop.net import dimse as dimse_net

        assert dimse is not None
        try:
            peer = dimse_net.parse_address(dimse)
            dimse_net.check_ae_title(calling_aet)
        except dimse_net.AddressError as exc:
            raise fail(str(exc)) from None
        results = dimse_net.c_store(files, peer, calling_aet=calling_aet, timeout=timeout,
                                    profile=profile.value)
    _print_transfers(results, fmt)


def _send_fhir(files: list[Path], url: str, profile: Profile, fhir_version: FhirVersionIn,
               dry_run: bool, timeout: float, retries: int, token: str | None
               ) -> list[TransferResult]:
    from icans_interop.net.fhir_rest import FhirClient, RetryPolicy
    from icans_interop.net.transfer import TransferResult
    from icans_interop.validation.fhir import validate_fhir
    from icans_interop.validation.runner import detect_fhir_version

    results: list[TransferResult] = []
    with FhirClient(url, token=token, timeout=timeout,
                    retry=RetryPolicy(attempts=retries)) as client:
        for path in files:
            version = (detect_fhir_version(path) if fhir_version is FhirVersionIn.auto
                       else fhir_version.value)
            checked = validate_fhir(path, version=version,  # type: ignore[arg-type]
                                    profile=profile.value)
            errors = tuple(i for i in checked.sorted_issues() if i.severity == "error")
            if errors:
                results.append(TransferResult(str(path), False, "not-sent",
                                              f"{len(errors)} validation errors; not sent",
                                              issues=errors))
                continue
            if dry_run:
                results.append(TransferResult(str(path), True, "not-sent", "valid (dry run)"))
                continue
            answer = client.send_bundle(path.read_bytes())
            problems = tuple(i for i in answer.issues if i.severity != "information")
            results.append(TransferResult(
                str(path), answer.ok, str(answer.status) if answer.status else "no answer",
                f"after {answer.attempts} attempts" if answer.attempts > 1 else "",
                issues=problems))
    return results


@app.command()
def fetch(
    dicomweb: Annotated[str, typer.Option(help="DICOMweb base URL (QIDO-RS and WADO-RS).")],
    study: Annotated[str, typer.Option(help="Study Instance UID.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder to write into.")],
    series: Annotated[str | None, typer.Option(help="Only this Series Instance UID.")] = None,
    include_all: Annotated[bool, typer.Option("--all", help="Every instance, not only SRs.")]
    = False,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds per request.")] = 60.0,
    token_env: TokenEnv = None,
    token_file: TokenFile = None,
    fmt: Annotated[SendFormat, typer.Option("--format", help="Output format.")] =
    SendFormat.text,
) -> None:
    """Fetch a study's (or series') SR instances from a PACS over DICOMweb."""
    from icans_interop.net import dicomweb as web
    from icans_interop.net.names import is_uid

    for label, uid in (("--study", study), ("--series", series)):
        if uid is not None and not is_uid(uid):
            raise fail(f"{label} {uid!r} is not a DICOM UID")
    token = _token(token_env, token_file)
    results = web.fetch(dicomweb, study, output, series=series, include_all=include_all,
                        token=token, timeout=timeout)
    if not results:
        err.print(f"study {study}: no {'instances' if include_all else 'SR instances'} found")
    _print_transfers(results, fmt)


@app.command()
def gateway(
    listen: Annotated[str, typer.Option(help="Our AE title and address: AET@HOST:PORT "
                                             "(AET@PORT binds to loopback).")],
    fhir_url: Annotated[str, typer.Option("--fhir", help="FHIR base URL of the EHR.")],
    spool: Annotated[Path, typer.Option(help="Spool folder (received, not yet sent).")],
    quarantine: Annotated[Path, typer.Option(help="Quarantine folder (refused, with "
                                                  "OperationOutcome).")],
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker threads.")] = 2,
    queue_size: Annotated[int, typer.Option("--queue", min=1, max=100_000,
                                            help="Work queue length.")] = 64,
    max_pdu: Annotated[int, typer.Option(min=0, max=(1 << 32) - 1,
                                         help="Largest PDU we accept (bytes; 0 = no limit).")]
    = 65536,
    max_associations: Annotated[int, typer.Option(min=1, max=1000,
                                                  help="Simultaneous associations.")] = 8,
    max_dataset_mb: Annotated[float, typer.Option(min=0.01, max=4096,
                                                  help="Largest dataset accepted (MiB).")]
    = 64.0,
    max_spooled: Annotated[int, typer.Option(min=1, help="Refuse new files (0xA700) past "
                                                         "this many in the spool.")] = 10_000,
    allow_aet: Annotated[list[str] | None, typer.Option(
        help="Accept associations only from this calling AE title (repeatable).")] = None,
    allow_fhir: Annotated[list[str] | None, typer.Option(
        help="Refuse to start unless --fhir is this base URL or below it (repeatable).")]
    = None,
    profile: Annotated[Profile, typer.Option(help="Validation profile.")] = Profile.icans,
    timeout: Annotated[float, typer.Option(min=1, help="Network and FHIR timeout (s).")] =
    60.0,
    retry_max: Annotated[float, typer.Option(min=1, help="Longest wait between two tries "
                                                         "of one file (s).")] = 300.0,
    log: Annotated[Path | None, typer.Option(help="Append JSON log lines here (default: "
                                                  "standard error).")] = None,
    token_env: TokenEnv = None,
    token_file: TokenFile = None,
) -> None:
    """Run the SR-to-FHIR gateway: C-STORE in, validate, convert, POST to the EHR.

    Nothing acknowledged is lost (spool, drained on start); nothing invalid is sent
    (quarantine, with an OperationOutcome). SIGTERM stops it gracefully.
    """
    from icans_interop.net import dimse as dimse_net
    from icans_interop.net.gateway import Gateway, GatewayConfig, GatewayError
    from icans_interop.net.spool import SpoolError

    try:
        address = dimse_net.parse_address(listen)
        for aet in allow_aet or []:
            dimse_net.check_ae_title(aet)
    except dimse_net.AddressError as exc:
        raise fail(str(exc)) from None
    config = GatewayConfig(
        listen=address, fhir_url=fhir_url, spool_dir=spool, quarantine_dir=quarantine,
        token=_token(token_env, token_file), profile=profile.value, workers=workers,
        queue_size=queue_size, max_pdu=max_pdu, max_associations=max_associations,
        max_dataset_bytes=int(max_dataset_mb * 1024 * 1024), max_spooled=max_spooled,
        allowed_calling_aets=tuple(allow_aet or ()), allowed_fhir_urls=tuple(allow_fhir or ()),
        network_timeout=timeout, fhir_timeout=timeout, retry_max=retry_max)
    stream = None
    try:
        stream = log.open("a", encoding="utf-8") if log is not None else None
        Gateway(config, log=stream).serve()
    except (GatewayError, SpoolError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:  # the port is taken, a folder is not writable...
        raise fail(f"cannot run the gateway: {exc}") from None
    finally:
        if stream is not None:
            stream.close()


def _validate_on_cluster(paths: list[Path], scheduler: str, profile: Profile,
                         fhir_version: FhirVersionIn
                         ) -> tuple[list[ValidationResult], list[Path]]:
    """Validate on a Dask cluster: local paths (shared storage) or fsspec URLs."""
    from icans_interop.net import batch
    from icans_interop.validation import runner

    # typer hands over Paths; "s3://b/k" became "s3:/b/k": restore the URL.
    sources = [str(p).replace(":/", "://", 1) if batch.is_url(str(p).replace(":/", "://", 1))
               else str(p) for p in paths]
    urls = [s for s in sources if batch.is_url(s)]
    local, missing_local = runner.collect([Path(s).resolve() for s in sources
                                           if not batch.is_url(s)])
    remote, missing = batch.collect_urls(urls) if urls else ([], [])
    missing = [str(p) for p in missing_local] + missing
    for source in missing:
        err.print(f"{source}: no such file or folder")
    if not local and not remote:
        raise fail("no files to validate")
    try:
        with batch.dask_executor(scheduler) as executor:
            results = runner.validate_many(local, profile=profile.value,
                                           fhir_version=fhir_version.value, executor=executor)
            results += batch.validate_urls(remote, executor, profile=profile.value,
                                           fhir_version=fhir_version.value)
    except OSError as exc:  # scheduler unreachable (distributed raises OSError/TimeoutError)
        raise fail(f"Dask scheduler {scheduler}: {exc}") from None
    return results, [Path(source) for source in missing]


def _guard(func: Callable[[], T]) -> T:
    try:
        return func()
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except KeyboardInterrupt:
        err.print("interrupted")
        raise SystemExit(130) from None
    except Exception as exc:  # last line of defence: no traceback for users
        if os.environ.get("ICANS_INTEROP_DEBUG"):
            raise
        err.print(f"error: internal error: {type(exc).__name__}: {exc} "
                  "(set ICANS_INTEROP_DEBUG=1 for details)")
        raise SystemExit(EXIT_UNREADABLE) from None


def main() -> None:
    """Console-script entry point."""
    _guard(lambda: app())
