"""The benchmarks' set-up still runs: a peer API change or a model change must not leave
``make bench`` broken unnoticed (it did once: highdicom's TID 1501 requires a tracking
identifier that our fixture leaves out). Only the set-up is exercised; nothing is timed."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path
from types import ModuleType

import pytest

from icans_interop import dicom
from tests.oracles import require_module

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_bench_sr_builds_the_same_report_with_both_writers() -> None:
    hd = require_module("highdicom")
    bench = _load("bench_sr")
    report = bench.ten_finding_report()
    assert len(report.findings) == 10
    ours = dicom.to_bytes(dicom.write(report))
    read_back, issues = dicom.read(ours)
    assert read_back == report and not issues
    theirs = bench.highdicom_build(report, bench._evidence(report))
    document = hd.sr.srread(io.BytesIO(theirs))
    groups = document.content.get_image_measurement_groups()  # TID 1501, one per finding
    assert [str(g.tracking_uid) for g in groups] == [f.tracking_uid for f in report.findings]


@pytest.mark.parametrize("script", sorted(p.stem for p in BENCH.glob("bench_*.py")))
def test_bench_script_compiles(script: str) -> None:
    compile((BENCH / f"{script}.py").read_text(encoding="utf-8"), script, "exec")
