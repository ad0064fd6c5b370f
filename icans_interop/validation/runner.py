"""Validate many files: collect them, sniff their kind, fan out over processes, summarise."""

from __future__ import annotations

import fnmatch
import multiprocessing
import multiprocessing.context
import os
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from icans_interop import sniff
from icans_interop.issues import Issue, error
from icans_interop.validation.result import ValidationResult

_SKIP_DIRS = frozenset({".git", "__pycache__", "node_modules", ".venv"})


def collect(paths: Iterable[Path], *, include: Sequence[str] = (),
            exclude: Sequence[str] = ()) -> tuple[list[Path], list[Path]]:
    """Files named and files under folders named (recursive, sorted), and missing paths.

    ``include`` / ``exclude`` are globs matched against each file's name and its path as
    found: with ``include`` only matching files are kept, then ``exclude`` drops matches.
    """
    files: list[Path] = []
    missing: list[Path] = []
    for path in paths:
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
                files.extend(Path(root) / n for n in sorted(names) if not n.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            missing.append(path)
    return [f for f in files if _selected(f, include, exclude)], missing


def _selected(path: Path, include: Sequence[str], exclude: Sequence[str]) -> bool:
    def matches(patterns: Sequence[str]) -> bool:
        return any(fnmatch.fnmatch(path.name, p) or fnmatch.fnmatch(str(path), p)
                   for p in patterns)

    return (not include or matches(include)) and not matches(exclude)


#: Issue codes that mean a file could not be read at all (exit 3 in the CLI).
UNREADABLE_CODES = frozenset({"unreadable", "too-large", "too-deep"})


def missing_issue(path: str) -> Issue:
    """The issue of a path that names no file or folder."""
    return error("unreadable", path, "no such file or folder")


def is_unreadable(result: ValidationResult) -> bool:
    """True when the file was missing, of no known kind, or could not be read whole."""
    return result.kind in ("unknown", "missing") or any(
        i.code in UNREADABLE_CODES for i in result.issues)


def validate_bytes(data: bytes, label: str, profile: str = "icans",
                   fhir_version: str = "auto") -> ValidationResult:
    """Validate one file given as bytes (e.g. standard input); never raises."""
    return _validate_kind(data, sniff.kind_of_bytes(data[:4096]), label, profile, fhir_version)


def _validate_kind(source: Path | bytes, kind: str, label: str, profile: str,
                   fhir_version: str) -> ValidationResult:
    """The validator of ``kind`` on ``source`` (a path or the bytes); never raises."""
    try:
        if kind == "sr":
            from icans_interop.validation.sr import validate_sr

            return validate_sr(source, profile=profile,  # type: ignore[arg-type]
                               file_label=label)
        if kind == "fhir":
            from icans_interop.validation.fhir import validate_fhir

            version = detect_fhir_version(source) if fhir_version == "auto" else fhir_version
            return validate_fhir(source, version=version,  # type: ignore[arg-type]
                                 profile=profile, file_label=label)  # type: ignore[arg-type]
        if kind == "case":
            data = source if isinstance(source, bytes) else source.read_bytes()
            return _case_result(data, label, profile)
    except Exception as exc:  # a validator bug must not take the whole batch down
        return ValidationResult(label, kind, (error(
            "internal-error", label, f"validator failed: {type(exc).__name__}: {exc}"),))
    return ValidationResult(label, "unknown", (error(
        "unreadable", label, "neither DICOM nor JSON (not an SR, FHIR resource or case "
        "file)"),))


def validate_one(path: Path, profile: str = "icans", fhir_version: str = "auto"
                 ) -> ValidationResult:
    """Validate one file of any supported kind; never raises."""
    kind = sniff.kind_of_path(path)
    if kind == "unreadable":
        return ValidationResult(str(path), "unknown", (error("unreadable", str(path),
                                                             "cannot read the file"),))
    return _validate_kind(path, kind, str(path), profile, fhir_version)


_R5_MARKERS = (re.compile(rb'"fhirVersion"\s*:\s*"5'),
               re.compile(rb"http://hl7\.org/fhir/uv/dicom-sr/StructureDefinition/"))
_SNIFF_BYTES = 1 << 20


def detect_fhir_version(source: Path | bytes) -> str:
    """R5 when the first MiB claims the dicom-sr IG profiles or fhirVersion 5.x; else R4."""
    if isinstance(source, bytes):
        head = source[:_SNIFF_BYTES]
    else:
        try:
            with source.open("rb") as handle:
                head = handle.read(_SNIFF_BYTES)
        except OSError:
            return "R4"
    return "R5" if any(m.search(head) for m in _R5_MARKERS) else "R4"


def _case_result(data: bytes, label: str, profile: str) -> ValidationResult:
    from pydantic import ValidationError

    from icans_interop.model import load_case
    from icans_interop.validation.semantic import check_report

    try:
        report = load_case(data)
    except ValidationError as exc:
        issues: list[Issue] = []
        for problem in exc.errors():
            loc = ".".join(str(p) for p in problem["loc"]) or "(root)"
            code = "unreadable" if problem["type"] == "json_invalid" else "case-invalid"
            issues.append(error(code, loc, f"{problem['msg']} (got {problem.get('input')!r:.80})"))
        return ValidationResult(label, "case", tuple(issues))
    except RecursionError as exc:
        return ValidationResult(label, "case", (error("unreadable", label, str(exc)),))
    issues = check_report(report) if profile == "icans" else []
    return ValidationResult(label, "case", tuple(issues))


def _validate_args(args: tuple[Path, str, str]) -> ValidationResult:
    return validate_one(*args)


def _validate_chunk(chunk: list[tuple[Path, str, str]]) -> list[ValidationResult]:
    """Several files per task: one task per file costs a cluster more than the work."""
    return [validate_one(*args) for args in chunk]


def validate_many(files: Sequence[Path], *, profile: str = "icans", fhir_version: str = "auto",
                  jobs: int = 1, progress: bool = False, executor: Executor | None = None
                  ) -> list[ValidationResult]:
    """Validate files in order; ``jobs`` > 1 uses that many worker processes.

    ``executor`` (any :class:`concurrent.futures.Executor`, e.g. a Dask cluster's
    ``Client.get_executor()``) runs the work instead, in chunks of files; its workers must
    see the same paths (shared storage).
    """
    work = [(path, profile, fhir_version) for path in files]
    results: list[ValidationResult] = []
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, disable=not progress, transient=True) as bar:
        task = bar.add_task("validating", total=len(work))
        if executor is not None:
            size = max(1, min(64, len(work) // 32))
            chunks = [work[i:i + size] for i in range(0, len(work), size)]
            for chunk_results in executor.map(_validate_chunk, chunks):
                results.extend(chunk_results)
                bar.advance(task, len(chunk_results))
        elif jobs <= 1 or len(work) < 2:
            for item in work:
                results.append(_validate_args(item))
                bar.advance(task)
        else:
            _warm_up()
            chunk = max(1, min(64, len(work) // (jobs * 8)))
            with ProcessPoolExecutor(max_workers=jobs, mp_context=_fork_context()) as pool:
                for result in pool.map(_validate_args, work, chunksize=chunk):
                    results.append(result)
                    bar.advance(task)
    return results


def _warm_up() -> None:
    """Import the validators (and their tables) once, before workers are forked from us."""
    from icans_interop.validation import fhir, sr  # noqa: F401


def _fork_context() -> multiprocessing.context.BaseContext | None:
    """Fork where available, so workers start with the validators already imported."""
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return None


def summary_table(results: Sequence[ValidationResult]) -> Table:
    table = Table("kind", "files", "valid", "errors", "warnings", title="Summary")
    kinds = sorted({r.kind for r in results})
    for kind in kinds:
        group = [r for r in results if r.kind == kind]
        table.add_row(kind, str(len(group)), str(sum(r.valid for r in group)),
                      str(sum(r.count("error") for r in group)),
                      str(sum(r.count("warning") for r in group)))
    return table
