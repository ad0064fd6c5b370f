"""Batch validation past one machine: a Dask cluster as the Executor, fsspec URLs as input.

* :func:`dask_executor` connects to a running ``dask.distributed`` scheduler
  (``tcp://host:8786``) and yields its ``Client.get_executor()``: a plain
  :class:`concurrent.futures.Executor` that :func:`icans_interop.validation.runner
  .validate_many` accepts like a process pool.
* Local paths must be visible to every worker under the same name (shared storage: NFS,
  a cluster file system). Anything else is read through ``fsspec`` (``s3://``, ``gs://``,
  ``http://``... with the matching fsspec plugin installed on the workers):
  :func:`collect_urls` lists a URL folder, :func:`validate_urls` has each worker read its file
  and run the same per-file validator on its bytes as on a local path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Any, Final

from icans_interop.issues import error
from icans_interop.validation.result import ValidationResult

#: Larger inputs are not read (the validators' own limit).
MAX_BYTES: Final = 64 * 1024 * 1024


def is_url(source: str) -> bool:
    """True for ``scheme://...`` (but not ``file://``, which is a local path)."""
    scheme, sep, _ = source.partition("://")
    return bool(sep) and scheme.isidentifier() and scheme != "file"


@contextmanager
def dask_executor(address: str, timeout: float = 30.0) -> Iterator[Executor]:
    """A ``concurrent.futures`` Executor running on the Dask scheduler at ``address``."""
    import distributed

    connect: Any = distributed.Client  # untyped library
    client = connect(address, timeout=timeout, set_as_default=False)
    try:
        yield client.get_executor()
    finally:
        client.close()


def collect_urls(sources: Sequence[str]) -> tuple[list[str], list[str]]:
    """Files named, and files under folders named (sorted); and sources that do not exist."""
    from fsspec.core import url_to_fs

    files: list[str] = []
    missing: list[str] = []
    for source in sources:
        try:
            fs, path = url_to_fs(source)
            if fs.isdir(path):
                found = sorted(p for p in fs.find(path)
                               if not os.path.basename(p).startswith("."))
                files.extend(fs.unstrip_protocol(p) for p in found)
            elif fs.exists(path):
                files.append(source)
            else:
                missing.append(source)
        except (OSError, ValueError, ImportError):
            missing.append(source)
    return files, missing


def validate_url(url: str, profile: str = "icans", fhir_version: str = "auto"
                 ) -> ValidationResult:
    """Read one fsspec URL and validate its bytes like a local file; never raises."""
    import fsspec

    from icans_interop.validation.dispatch import validate

    try:
        with fsspec.open(url, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except Exception as exc:  # every fsspec backend has its own errors
        return ValidationResult(url, "unknown", (error(
            "unreadable", url, f"cannot read: {type(exc).__name__}: {exc}"),))
    if len(data) > MAX_BYTES:
        return ValidationResult(url, "unknown", (error(
            "too-large", url, f"larger than {MAX_BYTES} bytes"),))
    return validate(data, profile, fhir_version, file_label=url)  # type: ignore[arg-type]


def _validate_urls_chunk(chunk: list[tuple[str, str, str]]) -> list[ValidationResult]:
    return [validate_url(*args) for args in chunk]


def validate_urls(urls: Sequence[str], executor: Executor, *, profile: str = "icans",
                  fhir_version: str = "auto") -> list[ValidationResult]:
    """Validate fsspec URLs on the executor's workers, in order."""
    work = [(url, profile, fhir_version) for url in urls]
    size = max(1, min(64, len(work) // 32))
    chunks = [work[i:i + size] for i in range(0, len(work), size)]
    results: list[ValidationResult] = []
    for chunk_results in executor.map(_validate_urls_chunk, chunks):
        results.extend(chunk_results)
    return results
