"""The batch the throughput benchmarks validate: copies of the ten-finding report as an SR and
as an R4 bundle (our writers) in a temporary folder, collected as ``validate`` would."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from icans_interop import dicom, fhir
from icans_interop.model import load_case
from icans_interop.validation import runner

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def ten_finding_files(n_each: int) -> Iterator[list[Path]]:
    """``n_each`` SRs and ``n_each`` bundles, removed on exit."""
    report = load_case((ROOT / "fixtures/valid/ten-findings.json").read_bytes())
    sr = dicom.to_bytes(dicom.write(report))
    bundle = fhir.to_json(fhir.write(report)).encode()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        for i in range(n_each):
            (base / f"sr-{i:04d}.dcm").write_bytes(sr)
            (base / f"bundle-{i:04d}.json").write_bytes(bundle)
        files, _ = runner.collect([base])
        yield files
