"""The SR-to-FHIR gateway: a DICOM Storage SCP that validates, converts and forwards to an EHR.

For each SR a PACS (or modality) C-STOREs to it, the gateway

1. receives the dataset straight to disk (pynetdicom's chunked receiving, into the spool's
   ``.receiving`` folder), aborting an association that sends more than the dataset size
   limit: memory use does not grow with the input;
2. parses it (a malformed dataset is refused with ``0xC210``, a data set that does not match
   the SOP Class of its request with ``0xA900``), then **admits it to the spool** (fsync,
   rename, fsync) and only then answers ``0x0000`` Success — a spool that is full, or a disk
   that fails, gives ``0xA700`` Out of Resources instead;
3. in a bounded pool of worker threads: validates it (:func:`~icans_interop.validation.sr
   .validate_sr`, profile ``icans``); converts it (:func:`icans_interop.conversion.convert`:
   through the model, nothing invented, the bundle validated, the SR's own UIDs kept) into an
   R4 transaction Bundle and POSTs it
   (:class:`~.fhir_rest.FhirClient`, retries with backoff and ``Retry-After``);
4. removes it from the spool when the EHR accepted the bundle; moves it to the quarantine with
   an OperationOutcome when it has validation errors, cannot be converted or the EHR refused
   it (4xx); keeps it and retries later with growing delays when the EHR is unreachable,
   overloaded (429/5xx) or refuses the credentials (401/403: a configuration problem, not the
   record's fault).

On start the spool is drained first: whatever a crash, a ``kill -9`` or a power cut left
there is sent; resending is harmless because the bundle's resource ids are deterministic
(UUID v5 of the report identity) and Patient/ImagingStudy use conditional create.

Only the SR SOP classes that can carry TID 1500 (Enhanced, Comprehensive, Comprehensive 3D)
and Verification are negotiated: a presentation context for any other SOP class is rejected
at association time, which is how a Storage SCP declines a class it does not support. The
listening address is loopback unless another is given; a list of allowed calling AE titles,
a limit of simultaneous associations, a maximum PDU size and timeouts bound what a sender can
do, and an allow-list of FHIR base URLs bounds where records may go. Every file gives one JSON
log line (``sop_instance_uid``, ``outcome``, ``ms``...). SIGTERM stops it gracefully: no new
associations, running transfers and files finish, the rest stays in the spool.
"""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Final, TextIO, cast

from icans_interop.issues import Issue, error
from icans_interop.net.dimse import Address
from icans_interop.net.fhir_rest import FhirClient, RetryPolicy
from icans_interop.net.spool import Spool

if TYPE_CHECKING:
    from pynetdicom.dimse_primitives import C_STORE
    from pynetdicom.events import Event

#: DIMSE statuses the SCP answers (PS3.4 Table B.2-1 and PS3.7 Annex C).
SUCCESS: Final = 0x0000
OUT_OF_RESOURCES: Final = 0xA700
DATASET_MISMATCH: Final = 0xA900
CANNOT_UNDERSTAND: Final = 0xC210
_LOG_UID_CHARS: Final = 128
_JANITOR_PERIOD: Final = 1.0
_UNREADABLE: Final = frozenset({"unreadable", "too-deep", "too-large"})


class GatewayError(ValueError):
    """The gateway cannot start with this configuration."""


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything the gateway needs; defaults are the safe ones."""

    listen: Address
    fhir_url: str
    spool_dir: Path
    quarantine_dir: Path
    token: str | None = None
    profile: str = "icans"
    workers: int = 2
    queue_size: int = 64
    max_pdu: int = 65536
    max_associations: int = 8
    max_dataset_bytes: int = 64 * 1024 * 1024
    max_spooled: int = 10_000
    allowed_calling_aets: tuple[str, ...] = ()
    allowed_fhir_urls: tuple[str, ...] = ()
    network_timeout: float = 60.0
    fhir_timeout: float = 30.0
    fhir_retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(attempts=3))
    #: Delay before a file that failed to reach the EHR is tried again; doubles up to the cap.
    retry_initial: float = 1.0
    retry_max: float = 300.0

    def check(self) -> None:
        """Refuse configurations that are unsafe or cannot work."""
        if self.allowed_fhir_urls and not any(
                _same_or_below(self.fhir_url, allowed) for allowed in self.allowed_fhir_urls):
            raise GatewayError(f"FHIR endpoint {self.fhir_url} is not in the allow-list "
                               f"({', '.join(self.allowed_fhir_urls)})")
        if not self.fhir_url.startswith(("http://", "https://")):
            raise GatewayError(f"FHIR endpoint {self.fhir_url!r} is not an http(s) URL")
        for name, value in (("workers", self.workers), ("queue_size", self.queue_size),
                            ("max_associations", self.max_associations),
                            ("max_spooled", self.max_spooled)):
            if value < 1:
                raise GatewayError(f"{name} must be at least 1")
        if self.max_pdu and self.max_pdu < 4096:
            raise GatewayError("max_pdu must be 0 (unlimited) or at least 4096 bytes")
        if self.spool_dir.resolve() == self.quarantine_dir.resolve():
            raise GatewayError("the spool and the quarantine must be different folders")


def _same_or_below(url: str, allowed: str) -> bool:
    url, allowed = url.rstrip("/"), allowed.rstrip("/")
    return url == allowed or url.startswith(allowed + "/")


class JsonLog:
    """One JSON object per line, flushed at once (a kill -9 keeps every line written)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, event: str, **fields: Any) -> None:
        record = {"ts": round(time.time(), 3), "event": event, **fields}
        line = json.dumps(record, ensure_ascii=True, default=str)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


def _uid_for_log(uid: str) -> str:
    return uid if len(uid) <= _LOG_UID_CHARS else uid[:_LOG_UID_CHARS] + "..."


class Gateway:
    """A running SR-to-FHIR gateway; :meth:`start`, then :meth:`stop` (or :meth:`serve`)."""

    def __init__(self, config: GatewayConfig, *, log: TextIO | None = None,
                 client_factory: Callable[[threading.Event], FhirClient] | None = None) -> None:
        config.check()
        self.config = config
        self.log = JsonLog(log or sys.stderr)
        self.spool = Spool(config.spool_dir, config.quarantine_dir)
        self._stop = threading.Event()
        self._queue: queue.Queue[str] = queue.Queue(maxsize=config.queue_size)
        self._lock = threading.Lock()
        self._spooled: set[str] = set()     # names in the spool
        self._busy: set[str] = set()        # queued or being processed
        self._not_before: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._received: dict[int, int] = {}  # bytes per association since its last dataset
        self._aborting: set[int] = set()
        self._threads: list[threading.Thread] = []
        self._server: Any = None
        self._client_factory = client_factory or self._default_client

    def _default_client(self, stop: threading.Event) -> FhirClient:
        return FhirClient(self.config.fhir_url, token=self.config.token,
                          timeout=self.config.fhir_timeout, retry=self.config.fhir_retry,
                          stop=stop)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Open the spool, start the workers (draining the spool first), then listen."""
        pending = self.spool.open()
        with self._lock:
            self._spooled.update(pending)
        self.log("start", listen=str(self.config.listen), fhir=self.config.fhir_url,
                 pending=len(pending), workers=self.config.workers)
        for number in range(self.config.workers):
            thread = threading.Thread(target=self._work, name=f"gateway-worker-{number}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        janitor = threading.Thread(target=self._schedule, name="gateway-scheduler", daemon=True)
        janitor.start()
        self._threads.append(janitor)
        self._server = self._listen()

    def _listen(self) -> Any:
        from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
        from pynetdicom import AE, _config, evt
        from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

        from icans_interop.dicom import SOP_CLASS_UIDS

        # The gateway owns its process: receive datasets to files in the spool's file system
        # (hard-linked into the spool on admission), never into memory.
        _config.STORE_RECV_CHUNKED_DATASET = True
        tempfile.tempdir = str(self.spool.receiving)
        ae = AE(ae_title=self.config.listen.aet)
        ae.maximum_associations = self.config.max_associations
        ae.maximum_pdu_size = self.config.max_pdu
        ae.network_timeout = self.config.network_timeout
        ae.acse_timeout = min(30.0, self.config.network_timeout)
        ae.dimse_timeout = self.config.network_timeout
        if self.config.allowed_calling_aets:
            ae.require_calling_aet = list(self.config.allowed_calling_aets)
        syntaxes = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
        for uid in sorted(set(SOP_CLASS_UIDS.values())):
            ae.add_supported_context(uid, syntaxes)
        ae.add_supported_context(Verification, syntaxes)
        handlers: list[Any] = [
            (evt.EVT_C_STORE, self._on_store), (evt.EVT_DATA_RECV, self._on_data),
            (evt.EVT_RELEASED, self._on_end), (evt.EVT_ABORTED, self._on_end),
            (evt.EVT_CONN_CLOSE, self._on_end), (evt.EVT_REJECTED, self._on_rejected),
            (evt.EVT_ACCEPTED, self._on_accepted)]
        listen = self.config.listen
        server = ae.start_server((listen.host, listen.port), block=False, evt_handlers=handlers)
        self.log("listening", address=str(listen))
        return server

    def stop(self, timeout: float = 30.0) -> None:
        """Stop listening, let running transfers and files finish (up to ``timeout``)."""
        if self._server is not None:
            server, self._server = self._server, None
            deadline = time.monotonic() + timeout
            server.shutdown()  # no new associations; running ones go on
            while server.active_associations and time.monotonic() < deadline:
                time.sleep(0.1)
            for assoc in server.active_associations:
                assoc.abort()
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=max(1.0, timeout))
        self._threads.clear()
        self.spool.close()
        self.log("stopped", pending=len(self.spool.pending()))

    def serve(self) -> None:
        """Run until SIGTERM or SIGINT, then stop gracefully."""
        done = threading.Event()

        def _on_signal(signum: int, frame: FrameType | None) -> None:
            self.log("signal", signal=signal.Signals(signum).name)
            done.set()

        previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM,
                                                                    signal.SIGINT)}
        try:
            self.start()
            while not done.wait(1.0):
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # -- DICOM side ----------------------------------------------------------------------

    def _on_data(self, event: Event) -> None:
        """Count what an association sends; abort it past the dataset size limit."""
        key = id(event.assoc)
        limit = self.config.max_dataset_bytes + self.config.max_pdu + 65536
        with self._lock:
            total = self._received.get(key, 0) + len(event.data)
            self._received[key] = total
            if total <= limit or key in self._aborting:
                return
            self._aborting.add(key)  # log and abort once
        requestor = event.assoc.requestor
        self.log("refused", outcome="too-large", calling_aet=requestor.ae_title,
                 peer=f"{requestor.address}:{requestor.port}", bytes=total,
                 limit=self.config.max_dataset_bytes)
        event.assoc.abort(block=False)

    def _on_end(self, event: Event) -> None:
        with self._lock:
            self._received.pop(id(event.assoc), None)
            # The reader may still drain PDUs already on the wire after an abort: forget the
            # association only when its connection is closed, so it is refused once.
            if event.event is evt_conn_close():
                self._aborting.discard(id(event.assoc))

    def _on_accepted(self, event: Event) -> None:
        requestor = event.assoc.requestor
        self.log("association", calling_aet=requestor.ae_title,
                 peer=f"{requestor.address}:{requestor.port}",
                 contexts=len(event.assoc.accepted_contexts),
                 rejected_contexts=len(event.assoc.rejected_contexts))

    def _on_rejected(self, event: Event) -> None:
        requestor = event.assoc.requestor
        self.log("association-rejected", calling_aet=requestor.ae_title,
                 peer=f"{requestor.address}:{requestor.port}")

    def _on_store(self, event: Event) -> int:
        """Admit one dataset to the spool and answer; never raises."""
        started = time.monotonic()
        with self._lock:
            self._received[id(event.assoc)] = 0
        calling = event.assoc.requestor.ae_title
        uid = str(_store_request(event).AffectedSOPInstanceUID or "")
        status, outcome, name = self._admit(event)
        self.log("received", sop_instance_uid=_uid_for_log(uid), outcome=outcome,
                 status=f"0x{status:04X}", calling_aet=calling, spool_name=name,
                 ms=round((time.monotonic() - started) * 1000, 1))
        return status

    def _admit(self, event: Event) -> tuple[int, str, str]:
        from icans_interop.dicom import part10

        try:
            path = Path(event.dataset_path)
            size = path.stat().st_size
        except (AttributeError, OSError):
            return CANNOT_UNDERSTAND, "malformed", ""
        if size > self.config.max_dataset_bytes + 1024:
            return OUT_OF_RESOURCES, "too-large", ""
        try:  # the byte layer, within its limits: a deflate bomb is refused, not inflated
            sop_class, sop_instance, _syntax = part10.identity(path.read_bytes())
        except (part10.Part10Error, OSError):
            return CANNOT_UNDERSTAND, "malformed", ""
        if _unreadable(path):
            return CANNOT_UNDERSTAND, "malformed", ""
        request = _store_request(event)
        if (sop_class != str(request.AffectedSOPClassUID)
                or sop_instance != str(request.AffectedSOPInstanceUID)):
            return DATASET_MISMATCH, "dataset-mismatch", ""
        with self._lock:
            if len(self._spooled) >= self.config.max_spooled:
                return OUT_OF_RESOURCES, "spool-full", ""
        try:
            name = self.spool.admit(path, sop_instance)
        except OSError as exc:
            self.log("spool-error", error=f"{type(exc).__name__}: {exc}")
            return OUT_OF_RESOURCES, "spool-error", ""
        with self._lock:
            self._spooled.add(name)
            self._not_before.pop(name, None)
            self._failures.pop(name, None)
        self._offer(name)
        return SUCCESS, "spooled", name

    # -- worker side ---------------------------------------------------------------------

    def _offer(self, name: str) -> bool:
        """Queue a spooled file unless it is already queued or running, or the queue is full
        (then the scheduler offers it again later: the spool is the overflow)."""
        with self._lock:
            if name in self._busy or name not in self._spooled:
                return False
            self._busy.add(name)
        try:
            self._queue.put_nowait(name)
        except queue.Full:
            with self._lock:
                self._busy.discard(name)
            return False
        return True

    def _schedule(self) -> None:
        """Offer due files (drain at start, retries after backoff); clear dead receptions."""
        last_clean = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                due = [n for n in self._spooled
                       if n not in self._busy and self._not_before.get(n, 0.0) <= now]
            for name in sorted(due):
                if not self._offer(name):
                    break
            if now - last_clean > _JANITOR_PERIOD * 30:
                with contextlib.suppress(OSError):
                    self.spool.clean_receiving(max_age=self.config.network_timeout * 2)
                last_clean = now
            self._stop.wait(_JANITOR_PERIOD / 4)

    def _work(self) -> None:
        client = self._client_factory(self._stop)
        try:
            while not self._stop.is_set():
                try:
                    name = self._queue.get(timeout=0.25)
                except queue.Empty:
                    continue
                try:
                    self._process(name, client)
                except Exception as exc:  # a bug must not kill the worker nor lose the file
                    self._retry_later(name)
                    self.log("file", spool_name=name, outcome="internal-error",
                             error=f"{type(exc).__name__}: {exc}")
                finally:
                    with self._lock:
                        self._busy.discard(name)
        finally:
            client.close()

    def _process(self, name: str, client: FhirClient) -> None:
        from icans_interop import conversion
        from icans_interop.validation.result import ValidationResult
        from icans_interop.validation.sr import validate_sr

        started = time.monotonic()
        path = self.spool.path(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            with self._lock:
                self._spooled.discard(name)
            return
        uid = _sop_instance_uid(data)

        def finish(outcome: str, **extra: Any) -> None:
            self.log("file", sop_instance_uid=_uid_for_log(uid), outcome=outcome,
                     spool_name=name, ms=round((time.monotonic() - started) * 1000, 1),
                     **extra)

        result = validate_sr(data, profile=self.config.profile,  # type: ignore[arg-type]
                             file_label=name)
        if not result.valid:
            self._quarantine(name, result, "validation-failed", uid)
            finish("quarantined", reason="validation-failed", errors=result.count("error"))
            return
        try:
            bundle = conversion.convert(data, "sr", "fhir", label=name,
                                        validate=False).data.decode("utf-8")
        except conversion.OutputRejected as rejected:  # nothing sendable without inventing
            self._quarantine(name, ValidationResult(name, "sr", tuple(rejected.issues)),
                             "conversion-failed", uid)
            finish("quarantined", reason="conversion-failed")
            return
        except Exception as exc:  # conversion refused this record: it is not sendable
            problem = error("invalid-value", "(file)", f"conversion to FHIR failed: "
                                                       f"{type(exc).__name__}: {exc}"[:500])
            self._quarantine(name, ValidationResult(name, "sr", (problem,)),
                             "conversion-failed", uid)
            finish("quarantined", reason="conversion-failed")
            return
        answer = client.send_bundle(bundle)
        if answer.ok:
            self.spool.done(name)
            with self._lock:
                self._spooled.discard(name)
                self._not_before.pop(name, None)
                self._failures.pop(name, None)
            finish("sent", status=answer.status, attempts=answer.attempts)
        elif answer.transient or answer.status in (401, 403):
            delay = self._retry_later(name)
            finish("retry", status=answer.status, retry_in_s=round(delay, 1),
                   error=_first_error(answer.issues))
        else:
            self._quarantine(name, ValidationResult(name, "sr", answer.issues),
                             "fhir-refused", uid)
            finish("quarantined", reason="fhir-refused", status=answer.status,
                   error=_first_error(answer.issues))

    def _quarantine(self, name: str, result: Any, reason: str, uid: str) -> None:
        self.spool.quarantine(name, result.to_operation_outcome(), reason, uid)
        with self._lock:
            self._spooled.discard(name)
            self._not_before.pop(name, None)
            self._failures.pop(name, None)

    def _retry_later(self, name: str) -> float:
        with self._lock:
            failures = self._failures.get(name, 0) + 1
            self._failures[name] = failures
            delay = float(min(self.config.retry_max,
                              self.config.retry_initial * (2 ** (failures - 1))))
            self._not_before[name] = time.monotonic() + delay
        return delay

    # -- introspection (tests, health checks) --------------------------------------------

    def pending_count(self) -> int:
        with self._lock:
            return len(self._spooled)


def evt_conn_close() -> Any:
    from pynetdicom import evt

    return evt.EVT_CONN_CLOSE


def _unreadable(path: Path) -> bool:
    """True when the file cannot be parsed at all (truncated, garbage, too deep): the input
    checks of the SR validator (profile ``base``), not its judgement of the content, which
    comes later and sends a readable but invalid SR to the quarantine."""
    from icans_interop.validation.sr import validate_sr

    result = validate_sr(path, profile="base")
    return any(i.code in _UNREADABLE for i in result.issues)


def _store_request(event: Event) -> C_STORE:
    return cast("C_STORE", event.request)


def _first_error(issues: tuple[Issue, ...]) -> str:
    for issue in issues:
        if issue.severity == "error":
            return issue.message[:300]
    return ""


def _sop_instance_uid(data: bytes) -> str:
    from icans_interop.dicom import part10

    try:
        return part10.identity(data).sop_instance_uid
    except part10.Part10Error:
        return ""
