"""`validate --scheduler` on a Dask LocalCluster (two worker processes on loopback) gives the
same results as `--jobs 1`; the runner accepts any concurrent.futures Executor."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from icans_interop import dicom, fhir
from icans_interop.model import load_case
from icans_interop.validation import runner

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "from icans_interop.cli import main; main()"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SRs and bundles of every valid fixture, the invalid case files, and two broken files."""
    folder = tmp_path_factory.mktemp("corpus")
    for case in sorted((ROOT / "fixtures" / "valid").glob("*.json")):
        report = load_case(case.read_bytes())
        (folder / f"{case.stem}.dcm").write_bytes(dicom.to_bytes(dicom.write(report)))
        (folder / f"{case.stem}.fhir.json").write_text(fhir.to_json(fhir.write(report)))
    for case in sorted((ROOT / "fixtures" / "invalid").glob("*.json")):
        if case.name != "expected.json":
            (folder / f"invalid-{case.name}").write_bytes(case.read_bytes())
    (folder / "garbage.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 50)
    (folder / "broken.json").write_text('{"resourceType": "Bundle", "type": 3')
    return folder


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", scheduler_port=0, dashboard_address=None,
                                  ) as cluster:
        yield cluster.scheduler_address


def _validate(args: list[str]) -> tuple[int, list[dict[str, object]]]:
    proc = subprocess.run([*CLI, "validate", *args, "--format", "json"], capture_output=True,
                          text=True, timeout=600, check=False)
    return proc.returncode, json.loads(proc.stdout)


def test_cluster_gives_the_same_results_as_one_job(corpus: Path, scheduler: str) -> None:
    code_one, one = _validate([str(corpus), "--jobs", "1"])
    code_cluster, cluster = _validate([str(corpus), "--scheduler", scheduler])
    assert code_one == code_cluster == 3  # the garbage file is unreadable
    assert len(one) == len(list(corpus.iterdir())) > 20
    assert cluster == one
    assert any(r["valid"] for r in one) and any(not r["valid"] for r in one)


def test_urls_are_read_by_the_workers(corpus: Path, scheduler: str) -> None:
    from icans_interop.net import batch

    files = sorted(p for p in corpus.iterdir())[:6]
    with batch.dask_executor(scheduler) as executor:
        remote = batch.validate_urls([p.as_uri() for p in files], executor)
    local = runner.validate_many(files)
    assert [r.file for r in remote] == [p.as_uri() for p in files]
    assert [(r.kind, r.valid, [i.code for i in r.issues]) for r in remote] == \
        [(r.kind, r.valid, [i.code for i in r.issues]) for r in local]


def test_any_executor_is_accepted(corpus: Path) -> None:
    files = sorted(corpus.iterdir())
    with ThreadPoolExecutor(max_workers=2) as pool:
        threaded = runner.validate_many(files, executor=pool)
    assert threaded == runner.validate_many(files)


def test_unreachable_scheduler_is_a_clean_error(corpus: Path) -> None:
    proc = subprocess.run([*CLI, "validate", str(corpus), "--scheduler", "tcp://127.0.0.1:9"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 2
    assert "Dask scheduler" in proc.stderr and "Traceback" not in proc.stderr
