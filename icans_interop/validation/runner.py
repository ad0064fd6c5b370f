"""Validate many files: collect them, sniff their kind, fan out over processes, summarise."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from icans_interop import sniff
from icans_interop.issues import error, issues_from_validation_error
from icans_interop.sniff import detect_fhir_version
from icans_interop.validation.result import ValidationResult

__all__ = ["collect", "detect_fhir_version", "summary_table", "validate_case", "validate_many",
           "validate_one"]

_SKIP_DIRS = frozenset({".git", "__pycache__", "node_modules", ".venv"})


def collect(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """Files named and files under folders named (recursive, sorted), and missing paths."""
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
    return files, missing


def validate_one(path: Path, profile: str = "icans", fhir_version: str = "auto"
                 ) -> ValidationResult:
    """Validate one file of any supported kind; never raises."""
    label = str(path)
    kind = sniff.kind_of_path(path)
    try:
        if kind == "sr":
            from icans_interop.validation.sr import validate_sr

            return validate_sr(path, profile=profile, file_label=label)  # type: ignore[arg-type]
        if kind == "fhir":
            from icans_interop.validation.fhir import validate_fhir

            return validate_fhir(path, version=fhir_version,  # type: ignore[arg-type]
                                 profile=profile, file_label=label)  # type: ignore[arg-type]
        if kind == "case":
            return validate_case(path, profile)
    except Exception as exc:  # a validator bug must not take the whole batch down
        return ValidationResult(label, kind, (error(
            "internal-error", label, f"validator failed: {type(exc).__name__}: {exc}"),))
    reason = "cannot read the file" if kind == "unreadable" else \
        "neither DICOM nor JSON (not an SR, FHIR resource or case file)"
    return ValidationResult(label, "unknown", (error("unreadable", label, reason),))


def validate_case(path: Path, profile: str) -> ValidationResult:
    """Validate a case file (the library's JSON input format)."""
    from pydantic import ValidationError

    from icans_interop.model import load_case
    from icans_interop.validation.semantic import check_report

    label = str(path)
    try:
        report = load_case(path.read_bytes())
    except ValidationError as exc:
        issues = issues_from_validation_error(exc, code="case-invalid")
        return ValidationResult(label, "case", tuple(issues))
    except (OSError, RecursionError) as exc:
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
