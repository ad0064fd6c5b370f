"""Benchmark of the FHIR adapter against the fhir.resources floor.

For one report with 10 findings (fixtures/valid/ten-findings.json, or 10 copies of the grade-3
fixture's findings when that file is absent), times in the same run:

* write: ``fhir.write_json`` — build the bundle as JSON dicts, validate it once with
  fhir.resources R4B (so invalid output raises, as ``fhir.write`` does), serialise the dicts
  with :mod:`json`. This is the path to use when the JSON text is what is wanted (CLI).
* write (model path, what the CLI does): ``fhir.to_json(fhir.write(report))`` — the same
  validation into models, then ``to_json``'s own walk of the models (same text as
  fhir.resources' ``model_dump_json``, checked by the tests). fhir.resources' serialiser alone
  is timed too: it costs more than the floor.
* read: ``fhir.read`` of the JSON text (``json.loads``, depth guard, walk of the dicts,
  one pydantic validation of the resulting ImagingReport).
* floor: ``fhir.resources.R4B`` ``Bundle.model_validate_json`` of the same JSON text — what
  merely parsing the bundle with the library costs.

Prints the medians and the ratios to the floor (target: write and read each <= 2x). Run:
``python bench/bench_fhir.py [--repeat N]``. No assertions: this is a measurement.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from icans_interop import fhir
from icans_interop.fhir import writer
from icans_interop.model import ImagingReport, load_case

VALID = Path(__file__).resolve().parent.parent / "fixtures" / "valid"
TEN = VALID / "ten-findings.json"
FIXTURE = VALID / "example-grade3-deep.json"


def ten_finding_report() -> ImagingReport:
    if TEN.is_file():
        report = load_case(TEN.read_text(encoding="utf-8"))
        if len(report.findings) == 10:
            return report
    base = load_case(FIXTURE.read_text(encoding="utf-8"))
    findings = []
    for index in range(10):
        template = base.findings[index % len(base.findings)]
        findings.append(template.model_copy(update={
            "tracking_id": f"Finding {index + 1}", "tracking_uid": None,
            "observation_uid": None}).model_dump(exclude_none=True))
    data = base.model_dump(mode="json", exclude_none=True)
    data["findings"] = findings
    return ImagingReport.model_validate(data)


def timeit(func: Callable[[], Any], repeat: int) -> float:
    func()  # warm up (imports, caches)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    report = ten_finding_report()
    text = fhir.to_json(fhir.write(report))
    back, issues = fhir.read(text)
    assert back == report and not issues, issues
    n_entries = len(Bundle.model_validate_json(text).entry)

    t_build = timeit(lambda: writer.build(report), args.repeat)
    t_validate = timeit(lambda: fhir.write(report), args.repeat)
    t_write = timeit(lambda: fhir.write_json(report), args.repeat)
    t_model = timeit(lambda: fhir.to_json(fhir.write(report)), args.repeat)
    model = fhir.write(report)
    t_dump = timeit(model.model_dump_json, args.repeat)
    t_fast = timeit(lambda: fhir.to_json(model), args.repeat)
    t_read = timeit(lambda: fhir.read(text), args.repeat)
    t_floor = timeit(lambda: Bundle.model_validate_json(text), args.repeat)
    print(f"report: {len(report.findings)} findings -> {n_entries} entries, "
          f"{len(text)} characters of JSON (R4 transaction)")
    rows = [
        ("build dicts only (writer.build)", t_build),
        ("fhir.write (dicts + one model validation)", t_validate),
        ("write + serialise: fhir.write_json", t_write),
        ("write + serialise: to_json(write(...))", t_model),
        ("  of which to_json(model)", t_fast),
        ("  (fhir.resources model_dump_json instead)", t_dump),
        ("parse + read: fhir.read(text)", t_read),
        ("floor: R4B Bundle.model_validate_json", t_floor),
    ]
    for label, seconds in rows:
        print(f"  {label:<44} {seconds * 1e3:8.2f} ms")
    print(f"ratio write_json/floor        = {t_write / t_floor:.2f}  (target <= 2)")
    print(f"ratio read/floor              = {t_read / t_floor:.2f}  (target <= 2)")
    print(f"ratio to_json(write())/floor  = {t_model / t_floor:.2f}  (target <= 2)")
    print(f"ratio write + model_dump_json = {(t_validate + t_dump) / t_floor:.2f}  "
          "(fhir.resources' serialiser, for comparison)")

if __name__ == "__main__":
    main()
