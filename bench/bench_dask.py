"""Batch validation on a Dask cluster: files/s with 1 and 2 worker processes, against the local
`--jobs 1` loop, on the same files in the same run (a LocalCluster on loopback stands in for a
real cluster; on 2 cores the 2-worker figure is the ceiling, not a cluster's).

Prints figures only; nothing is asserted.
"""

from __future__ import annotations

import os
import time

from batch_files import ten_finding_files  # bench/, beside this script
from distributed import LocalCluster

from icans_interop.net.batch import dask_executor
from icans_interop.validation import runner

N_EACH = int(os.environ.get("BENCH_FILES", "300"))


def main() -> None:
    with ten_finding_files(N_EACH) as files:
        runner.validate_many(files[:20])  # warm imports
        start = time.perf_counter()
        reference = runner.validate_many(files)
        local = len(files) / (time.perf_counter() - start)
        print(f"validate --jobs 1 (local loop): {local:.1f} files/s ({len(files)} files)")
        rates = {}
        for workers in (1, 2):
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              host="127.0.0.1", scheduler_port=0,
                              dashboard_address=None) as cluster, \
                    dask_executor(cluster.scheduler_address) as executor:
                runner.validate_many(files[:40], executor=executor)  # warm the workers
                start = time.perf_counter()
                results = runner.validate_many(files, executor=executor)
                rates[workers] = len(files) / (time.perf_counter() - start)
            same = results == reference
            print(f"Dask, {workers} worker(s): {rates[workers]:.1f} files/s "
                  f"(same results as --jobs 1: {same})")
        print(f"ratio 2 workers / 1 worker: {rates[2] / rates[1]:.2f}x; "
              f"1 worker / local loop: {rates[1] / local:.2f}x")


if __name__ == "__main__":
    main()
