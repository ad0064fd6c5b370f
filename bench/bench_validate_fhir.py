"""Benchmark of the FHIR validator against fhir.resources' own parse of the same JSON.

Builds N (default 1,000) distinct ten-finding bundles with our writer (R4 transaction, JSON
bytes; patient and study identity vary per bundle), then in the same run times, file by file:

* parse: ``fhir.resources.R4B`` ``Bundle.model_validate_json`` of the bytes — what merely
  parsing the bundle with the library costs (the floor);
* validate: ``validate_fhir(bytes, "R4", profile)`` — JSON guards, the typed walk, the
  fhir.resources model check, bindings, invariants, references, codes and, for the ``icans``
  profile, the reader and the semantic rules.

Prints per-file times (mean, median, p95, max) and the ratio validate / parse (target: <= 3x),
plus the time per validation stage. Run: ``python bench/bench_validate_fhir.py [--count N]
[--profile icans|base] [--rounds R]``. No assertions: this is a measurement.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from fhir.resources.R4B.bundle import Bundle

from icans_interop.fhir.writer import build
from icans_interop.model import ImagingReport, load_case
from icans_interop.validation.fhir import check_data, validate_fhir

TEN = Path(__file__).resolve().parent.parent / "fixtures" / "valid" / "ten-findings.json"


def bundles(count: int) -> list[bytes]:
    base = load_case(TEN.read_bytes())
    assert len(base.findings) == 10, "the fixture must have ten findings"
    out = []
    for index in range(count):
        report = ImagingReport.model_validate({
            **base.model_dump(mode="json"),
            "patient": {**base.patient.model_dump(mode="json"), "id": f"MRN-B{index:05d}"},
            "study": {**base.study.model_dump(mode="json"),
                      "instance_uid": f"1.2.826.0.1.3680043.10.1412.77.{index + 1}"},
            "findings": [{**f.model_dump(mode="json"), "tracking_uid": None,
                          "observation_uid": None} for f in base.findings],
        })
        out.append(json.dumps(build(report, "R4", "transaction"),
                              ensure_ascii=False).encode())
    return out


def timed(fn: Callable[[bytes], object], items: list[bytes]) -> list[float]:
    times = []
    gc.collect()
    for item in items:
        start = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - start)
    return times


def describe(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (f"{name:9s} mean {statistics.fmean(times) * 1e3:7.2f} ms  median "
            f"{statistics.median(times) * 1e3:7.2f} ms  p95 {p95 * 1e3:7.2f} ms  max "
            f"{ordered[-1] * 1e3:7.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--profile", choices=("icans", "base"), default="icans")
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate parse/validate passes over all files this many times")
    args = parser.parse_args()

    items = bundles(args.count)
    size = statistics.fmean(len(b) for b in items)
    print(f"{len(items)} ten-finding R4 bundles, {size / 1024:.0f} KiB each "
          f"({len(json.loads(items[0])['entry'])} entries); profile {args.profile}")
    invalid = sum(not validate_fhir(b, "R4", args.profile).valid for b in items[:5])
    Bundle.model_validate_json(items[0])

    parse: list[float] = []
    validate: list[float] = []
    for _ in range(args.rounds):
        parse += timed(Bundle.model_validate_json, items)
        validate += timed(lambda b: validate_fhir(b, "R4", args.profile), items)
    invalid += sum(not validate_fhir(b, "R4", args.profile).valid for b in items[-5:])

    print(describe("parse", parse))
    print(describe("validate", validate))
    ratio_mean = statistics.fmean(validate) / statistics.fmean(parse)
    ratio_median = statistics.median(validate) / statistics.median(parse)
    verdict = "within" if ratio_mean <= 3.0 else "ABOVE"
    print(f"ratio validate/parse: {ratio_mean:.2f}x (mean), {ratio_median:.2f}x (median); "
          f"{verdict} the 3x target")
    if invalid:
        print(f"WARNING: {invalid} of the sampled bundles did not validate")

    stages: dict[str, float] = {}
    sample = items[: min(100, len(items))]
    for item in sample:
        check_data(json.loads(item), "R4", stages)
    total = sum(stages.values())
    print("base-profile stages per file: " + ", ".join(
        f"{k} {v / len(sample) * 1e3:.2f} ms" for k, v in stages.items())
        + f" (sum {total / len(sample) * 1e3:.2f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
