"""The gateway under load: Orthanc C-STOREs 200 SRs over 4 concurrent associations; the gateway
spools, validates, converts and POSTs each to Medplum's FHIR router. Prints files/s (first
reception to last delivery) and the p50/p95 latency per file (reception to delivery), from the
gateway's own JSON log. Needs what the tests need (Orthanc with orthanc-dicomweb, unshare,
node with tests/fhir-server installed; run as root).

Prints figures only; nothing is asserted.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import netservers  # noqa: E402  (test helpers: the same servers the tests use)
import oracles  # noqa: E402

N_FILES = int(os.environ.get("BENCH_FILES", "200"))
JOBS = int(os.environ.get("BENCH_ASSOCIATIONS", "4"))


def main() -> None:
    for reason in (oracles.orthanc_dicomweb_skip_reason(), netservers.fhir_server_skip_reason()):
        if reason:
            print(f"bench_gateway: skipped: {reason}")
            return
    with tempfile.TemporaryDirectory() as folder, netservers.orthanc_pacs() as pacs:
        work = Path(folder)
        srs = netservers.make_srs(N_FILES, work / "srs", "1.2.826.0.1.3680043.10.1412.99")
        ids = [pacs.store(sr.path.read_bytes()) for sr in srs]
        ehr = netservers.FhirServer(pacs, work).start()
        gateway = netservers.GatewayProcess(pacs, ehr.url, work / "gw").start()
        with netservers.running(ehr, gateway):
            started = time.perf_counter()
            states = netservers.orthanc_route(pacs, ids, jobs=JOBS)
            netservers.wait_for(lambda: gateway.count("file", outcome="sent") >= N_FILES,
                                1800, "all files delivered", every=0.5)
            wall = time.perf_counter() - started
            received = {r["sop_instance_uid"]: r["ts"] for r in gateway.records("received")}
            sent = {r["sop_instance_uid"]: r["ts"] for r in gateway.records("file")
                    if r["outcome"] == "sent"}
        latencies = sorted((sent[uid] - received[uid]) * 1000 for uid in sent)
        span = max(sent.values()) - min(received.values())
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        print(f"gateway: {len(sent)} of {N_FILES} SRs delivered over {JOBS} associations "
              f"(Orthanc jobs: {', '.join(states)})")
        print(f"throughput: {len(sent) / span:.1f} files/s (first reception to last delivery; "
              f"{wall:.1f} s wall including Orthanc's jobs)")
        print(f"latency reception -> delivery: p50 {statistics.median(latencies):.0f} ms, "
              f"p95 {p95:.0f} ms, max {latencies[-1]:.0f} ms")


if __name__ == "__main__":
    main()
