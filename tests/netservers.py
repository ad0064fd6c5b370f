"""Real servers for the connection tests, all inside one private network namespace.

* Orthanc (``oracles.OrthancServer``) with its DICOMweb plugin is the PACS, and the sender
  that routes instances to the gateway (REST ``/modalities/{id}/store``).
* :class:`FhirServer` is the EHR: ``tests/fhir-server/server.mjs`` serves Medplum's FHIR REST
  engine (``@medplum/fhir-router``) with its in-memory repository. It is not a full FHIR server
  (no persistence, no auth beyond an optional fixed token, transactions processed entry by
  entry) but it does transactions, conditional create and search the way Medplum does.
* :class:`GatewayProcess` runs ``icans-interop gateway`` as its own process, so a test can
  ``kill -9`` it like a crash would.

Every process joins Orthanc's namespace with ``nsenter``, so every address is loopback in a
namespace no other program shares. Waits are bounded by generous watchdog timeouts that
only catch hangs; nothing is timed.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import oracles
except ImportError:  # tests/ imported as a package
    from tests import oracles  # type: ignore[no-redef]

from icans_interop import dicom
from icans_interop.model import load_case

REPO = Path(__file__).resolve().parent.parent
FHIR_SERVER_DIR = REPO / "tests" / "fhir-server"
CASE = REPO / "fixtures" / "valid" / "example-grade3-deep.json"
GATEWAY_AET = "ICANSGW"
GATEWAY_PORT = 11112
FHIR_PORT = 8080
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
CLI = [sys.executable, "-c", "from icans_interop.cli import main; main()"]


def wait_for(check: Callable[[], bool], timeout: float, what: str, every: float = 0.2) -> None:
    """Poll ``check`` until it is true; a watchdog against hangs, never a speed test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"watchdog: {what} not reached within {timeout:.0f} s")


# ---------------------------------------------------------------------------------------------
# Test SRs


@dataclass(frozen=True)
class SampleSR:
    path: Path
    sop_instance_uid: str
    study_uid: str
    patient_id: str


def make_srs(count: int, folder: Path, prefix: str = "1.2.826.0.1.3680043.10.1412.77"
             ) -> list[SampleSR]:
    """``count`` distinct valid SRs written by ``dicom.write`` from the grade-3 fixture, each
    with its own patient, study and accession (so each is its own FHIR identity)."""
    folder.mkdir(parents=True, exist_ok=True)
    base = json.loads(CASE.read_text("utf-8"))
    made: list[SampleSR] = []
    for number in range(count):
        case = copy.deepcopy(base)
        case["patient"]["id"] = f"MRN-T{number:05d}"
        case["study"]["instance_uid"] = f"{prefix}.{number + 1}"
        case["study"]["accession_number"] = f"ACC-T{number:05d}"
        for finding in case.get("findings", []):
            finding.pop("tracking_uid", None)
            finding.pop("observation_uid", None)
        dataset = dicom.write(load_case(json.dumps(case)))
        path = folder / f"sr-{number:04d}.dcm"
        path.write_bytes(dicom.to_bytes(dataset))
        made.append(SampleSR(path, str(dataset.SOPInstanceUID), case["study"]["instance_uid"],
                           case["patient"]["id"]))
    return made


# ---------------------------------------------------------------------------------------------
# Orthanc with DICOMweb, knowing the gateway as a modality


def orthanc_pacs(**overrides: Any) -> oracles.OrthancServer:
    plugin = oracles.dicomweb_plugin_path()
    assert plugin is not None
    extra = {
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True,
                     "Ssl": False, "StudiesMetadata": "Full", "SeriesMetadata": "Full"},
        "DicomModalities": {"gateway": {"AET": GATEWAY_AET, "Host": "127.0.0.1",
                                        "Port": GATEWAY_PORT}},
        "ConcurrentJobs": 4,
        "DicomScuTimeout": 30,
        "DicomAssociationCloseDelay": 0,
    }
    extra.update(overrides)
    return oracles.OrthancServer(plugins=[plugin], extra_config=extra)


def orthanc_json(pacs: oracles.OrthancServer, method: str, path: str,
                 body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode("utf-8")
    status, answer = pacs.request(method, path, data)
    if status != 200:
        raise oracles.OracleError(f"{method} {path}: HTTP {status} {answer[:500]!r}")
    return json.loads(answer) if answer else None


def orthanc_route(pacs: oracles.OrthancServer, instance_ids: Sequence[str], jobs: int = 1,
                  timeout: float = 300.0) -> list[str]:
    """Have Orthanc C-STORE the instances to the gateway in ``jobs`` parallel store jobs;
    the final state of each job (``Success`` or ``Failure``)."""
    groups = [list(instance_ids[i::jobs]) for i in range(jobs)]
    job_ids = [orthanc_json(pacs, "POST", "/modalities/gateway/store",
                            {"Resources": group, "Synchronous": False})["ID"]
               for group in groups if group]
    states: dict[str, str] = {}

    def finished() -> bool:
        for job in job_ids:
            if job not in states:
                state = orthanc_json(pacs, "GET", f"/jobs/{job}")["State"]
                if state in ("Success", "Failure"):
                    states[job] = state
        return len(states) == len(job_ids)

    wait_for(finished, timeout, "Orthanc store jobs finished", every=0.5)
    return [states[job] for job in job_ids]


# ---------------------------------------------------------------------------------------------
# The FHIR server (Medplum's router in Node)


def fhir_server_skip_reason() -> str | None:
    if shutil.which("node") is None:
        return "node not installed (needed for tests/fhir-server)"
    if not (FHIR_SERVER_DIR / "node_modules" / "@medplum" / "fhir-router"
            / "package.json").is_file():
        return ("tests/fhir-server/node_modules missing (run: npm install --no-audit "
                "--no-fund in tests/fhir-server)")
    return None


_SEARCH_CLIENT = r"""
import json, sys, urllib.error, urllib.request
base, timeout = sys.argv[1], float(sys.argv[2])
token = sys.argv[3] if len(sys.argv) > 3 else ""
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
answers = []
for query in json.load(sys.stdin):
    request = urllib.request.Request(base + "/" + query, headers=(
        {"Authorization": "Bearer " + token} if token else {}))
    try:
        with opener.open(request, timeout=timeout) as response:
            answers.append(json.loads(response.read()))
    except urllib.error.HTTPError as error:
        answers.append({"httpStatus": error.code, "body": error.read().decode("utf-8", "replace")})
    except OSError as error:
        answers.append({"httpStatus": 0, "body": str(error)})
print(json.dumps(answers))
"""


class FhirServer:
    """Medplum's FHIR router over HTTP, in the namespace of ``pacs``."""

    def __init__(self, pacs: oracles.OrthancServer, log_dir: Path, port: int = FHIR_PORT,
                 token: str = "") -> None:
        self.pacs = pacs
        self.port = port
        self.token = token
        self.log_path = log_dir / "fhir-server.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FhirServer:
        node = shutil.which("node")
        assert node is not None
        env = dict(os.environ, FHIR_TEST_TOKEN=self.token)
        argv = [node, *oracles._node_flags(), str(FHIR_SERVER_DIR / "server.mjs"),
                str(self.port), "127.0.0.1"]
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(self.pacs.in_netns_argv(argv), stdout=log,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          cwd=FHIR_SERVER_DIR, env=env)
        wait_for(lambda: self._log().count("listening") >= 1 or self._dead(), 120,
                 "FHIR server listening")
        if self._dead():
            raise oracles.OracleError("FHIR server exited:\n" + self._log())
        return self

    def _log(self) -> str:
        return self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""

    def _dead(self) -> bool:
        return self._proc is None or self._proc.poll() is not None

    def down(self) -> None:
        """Stop listening (connection refused) but keep what is stored."""
        assert self._proc is not None
        before = self._log().count("down")
        self._proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: self._log().count("down") > before, 30, "FHIR server down")

    def up(self) -> None:
        assert self._proc is not None
        before = self._log().count("listening")
        self._proc.send_signal(signal.SIGUSR2)
        wait_for(lambda: self._log().count("listening") > before, 30, "FHIR server up")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=15)
        self._proc = None

    def search(self, queries: Sequence[str]) -> list[dict[str, Any]]:
        """GET each ``Type?params`` query; the parsed answers, in order."""
        argv = [sys.executable, "-c", _SEARCH_CLIENT, self.url, "30", self.token]
        proc = subprocess.run(self.pacs.in_netns_argv(argv), input=json.dumps(
            list(queries)).encode("utf-8"), capture_output=True, timeout=300, check=False)
        if proc.returncode != 0:
            raise oracles.OracleError(proc.stderr.decode("utf-8", "replace")[-2000:])
        answers: list[dict[str, Any]] = json.loads(proc.stdout)
        return answers

    def total(self, query: str) -> int:
        """How many resources match (``_summary=count``)."""
        joiner = "&" if "?" in query else "?"
        (answer,) = self.search([f"{query}{joiner}_summary=count"])
        if "total" not in answer:
            raise oracles.OracleError(f"{query}: {answer}")
        return int(answer["total"])

    def totals(self, queries: Sequence[str]) -> list[int]:
        answers = self.search([q + ("&" if "?" in q else "?") + "_summary=count"
                               for q in queries])
        return [int(a["total"]) for a in answers]


# ---------------------------------------------------------------------------------------------
# The gateway as a process of its own


class GatewayProcess:
    """``icans-interop gateway`` in ``pacs``' namespace, logging JSON lines to a file."""

    def __init__(self, pacs: oracles.OrthancServer, fhir_url: str, work: Path,
                 extra_args: Sequence[str] = (), env: dict[str, str] | None = None) -> None:
        self.pacs = pacs
        self.fhir_url = fhir_url
        self.spool = work / "spool"
        self.quarantine = work / "quarantine"
        self.log_path = work / "gateway.log"
        self.out_path = work / "gateway.out"
        self.extra_args = list(extra_args)
        self.env = env
        self._proc: subprocess.Popen[bytes] | None = None
        self._starts = 0

    def start(self) -> GatewayProcess:
        self.out_path.parent.mkdir(parents=True, exist_ok=True)
        argv = [*CLI, "gateway", "--listen", f"{GATEWAY_AET}@127.0.0.1:{GATEWAY_PORT}",
                "--fhir", self.fhir_url, "--spool", str(self.spool),
                "--quarantine", str(self.quarantine), "--log", str(self.log_path),
                "--retry-max", "2", *self.extra_args]
        before = self.count("listening")
        env = dict(os.environ, **(self.env or {}))
        with open(self.out_path, "ab") as out:
            self._proc = subprocess.Popen(self.pacs.in_netns_argv(argv), stdout=out,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          env=env)
        self._starts += 1
        wait_for(lambda: self.count("listening") > before or not self.alive, 120,
                 "gateway listening")
        if not self.alive:
            raise AssertionError("gateway exited at start:\n" + self.output())
        return self

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def kill9(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGKILL)
        self._proc.wait(timeout=30)

    def terminate(self, timeout: float = 60.0) -> int:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGTERM)
        return self._proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.alive:
            assert self._proc is not None
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=30)

    def records(self, event: str | None = None) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        found = []
        for line in self.log_path.read_text("utf-8", "replace").splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                record = json.loads(line)
                if event is None or record.get("event") == event:
                    found.append(record)
        return found

    def count(self, event: str, **match: Any) -> int:
        return sum(all(r.get(k) == v for k, v in match.items()) for r in self.records(event))

    def output(self) -> str:
        out = self.out_path.read_text("utf-8", "replace") if self.out_path.exists() else ""
        return out[-3000:]

    def spooled(self) -> list[Path]:
        return sorted(self.spool.glob("*.dcm")) if self.spool.exists() else []

    def quarantined(self) -> list[Path]:
        return sorted(self.quarantine.glob("*.dcm")) if self.quarantine.exists() else []


@contextlib.contextmanager
def running(*things: Any) -> Iterator[None]:
    """Stop every server/process given, whatever happens in the block."""
    try:
        yield
    finally:
        for thing in reversed(things):
            with contextlib.suppress(Exception):
                thing.stop()


def run_cli(pacs: oracles.OrthancServer, args: Sequence[str], timeout: float = 300.0,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``icans-interop ARGS`` in the namespace; output as text."""
    proc = subprocess.run(pacs.in_netns_argv([*CLI, *args]), capture_output=True,
                          timeout=timeout, check=False, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, **(env or {})))
    return subprocess.CompletedProcess(proc.args, proc.returncode,
                                       proc.stdout.decode("utf-8", "replace"),
                                       proc.stderr.decode("utf-8", "replace"))
