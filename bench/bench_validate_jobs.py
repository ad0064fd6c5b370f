"""Throughput of `icans-interop validate --jobs 2` against `--jobs 1` on the same files.

Writes 500 ten-finding SRs and 500 ten-finding R4 bundles (our writers) into a temporary folder,
validates them all with one and with two worker processes in the same run, and prints files/s
and the ratio (target on 2 cores: at least 1.7x).
"""

from __future__ import annotations

import os
import sys
import time

from batch_files import ten_finding_files  # bench/, beside this script

from icans_interop.validation import runner

N_EACH = int(os.environ.get("BENCH_FILES", "500"))


def main() -> None:
    with ten_finding_files(N_EACH) as files:
        runner.validate_many(files[:20], jobs=1)  # warm caches and imports
        timings = {}
        for jobs in (1, 2):
            start = time.perf_counter()
            results = runner.validate_many(files, jobs=jobs)
            timings[jobs] = time.perf_counter() - start
            if not all(r.valid for r in results):
                sys.exit(f"unexpected invalid result with --jobs {jobs}")
    count = len(files)
    print(f"files: {count} ({N_EACH} SR + {N_EACH} FHIR bundles, ten findings each), "
          f"cores: {os.cpu_count()}")
    for jobs, seconds in timings.items():
        print(f"--jobs {jobs}: {seconds:6.2f} s  {count / seconds:7.1f} files/s")
    print(f"speed-up --jobs 2 / --jobs 1: {timings[1] / timings[2]:.2f}x (target >= 1.7x)")


if __name__ == "__main__":
    main()
