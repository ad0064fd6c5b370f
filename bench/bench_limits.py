"""Benchmark: the SR validator on adversarial inputs, against pydicom reading the same bytes.

The tests bound these inputs by counted work and a hang watchdog (a loaded machine must not
fail them); the speed lives here. For each input — a content tree nested 10,000 levels deep,
the largest number of content items accepted (``Limits.max_content_items``) and one more,
values of megabytes, and a header with more elements than accepted — the best of
``--rounds`` runs of :func:`~icans_interop.validation.sr.validate_sr` (profile icans) is
printed next to pydicom reading the same bytes (``dcmread(force=True)``) and visiting every
element (``iterall``, which makes pydicom decode what it read lazily), with the ratio ours /
pydicom.
Run ``python bench/bench_limits.py [--rounds N]``. No assertions: this is a measurement.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from pydicom import dcmread

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from icans_interop.dicom.part10 import LIMITS  # noqa: E402
from icans_interop.validation.sr import validate_sr  # noqa: E402
from tests import test_validate_sr as adversarial  # noqa: E402
from tests.test_sr_defects import base_dataset, encode, find  # noqa: E402


def _giant() -> bytes:
    ds = base_dataset()
    ds.Manufacturer = "M" * 2_000_000
    find(ds, "121073")[1].TextValue = "impression " * 500_000
    return encode(ds)


INPUTS: dict[str, Callable[[], bytes]] = {
    "nested 10,000 levels": lambda: adversarial._deep_undefined(10_000),
    f"{LIMITS.max_content_items:,} content items": lambda: adversarial._flat_items(
        LIMITS.max_content_items),
    f"{LIMITS.max_content_items + 1:,} content items (refused)": lambda: adversarial._flat_items(
        LIMITS.max_content_items + 1),
    "megabyte values": _giant,
}


def best(work: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def _pydicom(data: bytes) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return sum(1 for _ in dcmread(io.BytesIO(data), force=True).iterall())
        except Exception as exc:  # pydicom refuses some of these: that is its answer
            return exc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    validate_sr(_giant(), "icans")  # warm up: imports and tables
    print(f"{'input':38} {'validate_sr':>12} {'pydicom read+walk':>18} {'ratio':>7}")
    for name, make in INPUTS.items():
        data = make()
        ours = best(lambda data=data: validate_sr(data, "icans"), args.rounds)
        theirs = best(lambda data=data: _pydicom(data), args.rounds)
        print(f"{name:38} {ours * 1000:10.1f}ms {theirs * 1000:16.1f}ms {ours / theirs:7.2f}")


if __name__ == "__main__":
    main()
