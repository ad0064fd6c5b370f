"""Validate many files: collect them, sniff their kind, fan out over processes, summarise."""

from __future__ import annotations

import fnmatch
import multiprocessing
import multiprocessing.context
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from icans_interop.issues import Issue, error
from icans_interop.sniff import detect_fhir_version
from icans_interop.validation.dispatch import UNREADABLE_CODES, validate, validate_case
from icans_interop.validation.result import ValidationResult

__all__ = ["UNREADABLE_CODES", "collect", "detect_fhir_version", "is_unreadable",
           "missing_issue", "summary_table", "validate_bytes", "validate_case", "validate_many",
           "validate_one"]

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
    return validate(data, profile, fhir_version,  # type: ignore[arg-type]
                    file_label=label)


def validate_one(path: Path, profile: str = "icans", fhir_version: str = "auto"
                 ) -> ValidationResult:
    """Validate one file of any supported kind (:func:`.dispatch.validate`); never raises."""
    return validate(path, profile, fhir_version,  # type: ignore[arg-type]
                    file_label=str(path))


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
