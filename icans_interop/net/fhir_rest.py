"""Send a FHIR Bundle to a FHIR server's REST API (``httpx``), politely and without losing it.

* A ``transaction`` or ``batch`` Bundle is POSTed to the base URL (FHIR R4 3.1.0.11); any other
  Bundle type (``collection``, ``document``...) is POSTed to ``[base]/Bundle``, which stores it
  as a resource.
* Timeouts bound every request. Connection errors, timeouts, HTTP 429 and 5xx are retried
  with exponential backoff (jittered, capped), honouring the server's ``Retry-After`` (seconds
  or an HTTP date, capped). Anything else is an answer: a 2xx is success, a 4xx is a refusal.
* The server's OperationOutcome (in an error response, or per entry of a transaction/batch
  response) becomes this library's :class:`~icans_interop.issues.Issue`s (code
  ``server-outcome``) with the server's severity, issue type, text and expression.
* A bearer token is read from an environment variable or a file (:func:`load_token`), never
  from a command line where ``ps`` would show it; it is sent only over the configured URL.
"""

from __future__ import annotations

import email.utils
import json
import math
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from icans_interop.issues import Issue, error

if TYPE_CHECKING:
    import httpx

FHIR_JSON: Final = "application/fhir+json"
#: Status codes that mean "try again later" rather than "no".
RETRYABLE_STATUS: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
_SEVERITIES: Final = {"fatal": "error", "error": "error", "warning": "warning",
                      "information": "information"}
_MAX_ISSUES: Final = 200


class TokenError(ValueError):
    """The bearer token could not be read (missing variable, unreadable or empty file)."""


def load_token(env_var: str | None = None, path: Path | None = None) -> str | None:
    """The bearer token from the environment variable ``env_var`` or the file ``path``.

    Exactly one source may be given; ``None`` when neither is. The file's surrounding
    whitespace is stripped (a trailing newline is usual). An empty or missing source raises
    :class:`TokenError` rather than silently sending no token.
    """
    if env_var and path:
        raise TokenError("give the token through an environment variable or a file, not both")
    if env_var:
        value = os.environ.get(env_var, "").strip()
        if not value:
            raise TokenError(f"environment variable {env_var} is not set or empty")
        return value
    if path is not None:
        try:
            value = path.read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise TokenError(f"cannot read the token file {path}: {exc}") from None
        if not value:
            raise TokenError(f"the token file {path} is empty")
        return value
    return None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry a transient failure."""

    attempts: int = 5
    initial_delay: float = 0.5
    max_delay: float = 30.0
    #: A server's Retry-After longer than this is cut to it (a hostile or confused server
    #: must not park the client for hours).
    max_retry_after: float = 120.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (attempt counts from 1)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        base = min(self.max_delay, self.initial_delay * (2 ** (attempt - 1)))
        # Jitter spreads clients that failed together.
        return float(base * (0.5 + random.random() / 2))


@dataclass(frozen=True, slots=True)
class FhirResponse:
    """What became of one request after every retry."""

    status: int  # HTTP status of the last answer; 0 when no answer came
    issues: tuple[Issue, ...] = field(default_factory=tuple)
    body: dict[str, Any] | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        """2xx and no error in the response's OperationOutcome(s)."""
        return 200 <= self.status < 300 and not any(i.severity == "error" for i in self.issues)

    @property
    def transient(self) -> bool:
        """The failure may go away by itself (no answer, 429, 5xx): keep the record, retry."""
        return self.status == 0 or self.status in RETRYABLE_STATUS


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date), None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def outcome_issues(outcome: object, where: str = "(server)") -> list[Issue]:
    """This library's issues for a FHIR OperationOutcome (anything else gives none)."""
    if not isinstance(outcome, dict) or outcome.get("resourceType") != "OperationOutcome":
        return []
    found: list[Issue] = []
    for item in outcome.get("issue") or []:
        if not isinstance(item, dict):
            continue
        severity = _SEVERITIES.get(str(item.get("severity")), "error")
        details = item.get("details") if isinstance(item.get("details"), dict) else {}
        text = str(item.get("diagnostics") or (details or {}).get("text") or "(no text)")
        places = item.get("expression") or item.get("location") or []
        place = str(places[0]) if isinstance(places, list) and places else where
        found.append(Issue(severity, "server-outcome", place,  # type: ignore[arg-type]
                           f"server says [{item.get('code', 'unknown')}] {text[:500]}"))
        if len(found) >= _MAX_ISSUES:
            break
    return found


def response_issues(body: object) -> list[Issue]:
    """Issues from an OperationOutcome body or from each entry of a transaction/batch
    response (``Bundle.entry[i].response.outcome``, and non-2xx entry statuses)."""
    if not isinstance(body, dict):
        return []
    if body.get("resourceType") == "OperationOutcome":
        return outcome_issues(body)
    found: list[Issue] = []
    if body.get("resourceType") == "Bundle" and str(body.get("type", "")).endswith("-response"):
        for index, entry in enumerate(body.get("entry") or []):
            response = entry.get("response") if isinstance(entry, dict) else None
            if not isinstance(response, dict):
                continue
            where = f"Bundle.entry[{index}]"
            entry_issues = outcome_issues(response.get("outcome"), where)
            status = str(response.get("status", "")).split(" ")[0]
            if status and not status.startswith("2"):
                if not any(i.severity == "error" for i in entry_issues):
                    entry_issues.append(error("server-outcome", where,
                                              f"server answered {response.get('status')}"))
            else:  # success: keep only what the server flagged as warnings or worse
                entry_issues = [i for i in entry_issues if i.severity != "information"]
            found.extend(entry_issues)
    return found[:_MAX_ISSUES]


class FhirClient:
    """A FHIR REST client for one server (base URL), reusing its connections.

    ``stop`` (a :class:`threading.Event`), when set, cuts the backoff waits short so that a
    gateway can stop promptly; the response is then the last failure.
    """

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 30.0,
                 retry: RetryPolicy | None = None, stop: threading.Event | None = None,
                 sleep: Callable[[float], object] | None = None,
                 max_response_bytes: int = 64 * 1024 * 1024) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.max_response_bytes = max_response_bytes
        self._stop = stop or threading.Event()
        self._sleep = sleep
        headers = {"Accept": FHIR_JSON, "User-Agent": "icans-interop"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # trust_env=False: no proxy or .netrc credentials picked up behind the caller's back.
        self._client = httpx.Client(base_url=self.base_url, headers=headers, trust_env=False,
                                    timeout=httpx.Timeout(timeout), follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> FhirClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def endpoint_for(self, bundle: dict[str, Any]) -> str:
        """Where a Bundle of this type is POSTed: the base for transaction/batch."""
        return "" if bundle.get("type") in ("transaction", "batch") else "Bundle"

    def send_bundle(self, bundle: str | bytes | dict[str, Any]) -> FhirResponse:
        """POST the Bundle (JSON text, bytes or parsed) and return the server's verdict."""
        if isinstance(bundle, dict):
            data = bundle
            body = json.dumps(bundle, ensure_ascii=False).encode("utf-8")
        else:
            body = bundle.encode("utf-8") if isinstance(bundle, str) else bundle
            data = json.loads(body)
        return self.request("POST", self.endpoint_for(data), body)

    def request(self, method: str, path: str, body: bytes | None = None) -> FhirResponse:
        """One FHIR interaction with retries on transient failures."""
        import httpx

        last = FhirResponse(0, (error("server-unreachable", self.base_url, "no attempt made"),))
        for attempt in range(1, self.retry.attempts + 1):
            retry_after: float | None = None
            try:
                headers = {"Content-Type": FHIR_JSON} if body is not None else {}
                answer = self._client.request(method, path or "", content=body, headers=headers)
                retry_after = parse_retry_after(answer.headers.get("Retry-After"))
                last = self._verdict(answer, attempt)
            except httpx.TransportError as exc:  # connect, read, write, timeouts, protocol
                last = FhirResponse(0, (error(
                    "server-unreachable", self.base_url,
                    f"{type(exc).__name__}: {exc or 'no answer'}"),), None, attempt)
            if not last.transient or attempt == self.retry.attempts or self._stop.is_set():
                return last
            self._wait(self.retry.delay(attempt, retry_after))
        return last

    def _verdict(self, answer: httpx.Response, attempt: int) -> FhirResponse:
        content = answer.content[: self.max_response_bytes]
        parsed: Any = None
        if content:
            try:
                parsed = json.loads(content)
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                parsed = None
        issues = response_issues(parsed)
        status = answer.status_code
        if not 200 <= status < 300 and not any(i.severity == "error" for i in issues):
            code = "server-unreachable" if status in RETRYABLE_STATUS else "server-outcome"
            issues.append(error(code, self.base_url,
                                f"server answered HTTP {status} {answer.reason_phrase}"))
        return FhirResponse(status, tuple(issues), parsed if isinstance(parsed, dict) else None,
                            attempt)

    def _wait(self, seconds: float) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
        else:
            self._stop.wait(seconds)
