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
) -> None:
    """Validate DICOM SR and FHIR files; exit 0 no errors, 1 errors, 2 unreadable/usage."""
    from icans_interop.validation import runner
    from icans_interop.validation.result import render_json, render_outcomes

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
