"""`send --fhir` against Medplum's FHIR router, and the REST client's retry rules against a
scripted HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

try:
    import netservers
    import oracles
except ImportError:  # tests/ imported as a package
    from tests import netservers, oracles  # type: ignore[no-redef]

from icans_interop import fhir
from icans_interop.model import load_case
from icans_interop.net.fhir_rest import FhirClient, RetryPolicy, load_token, parse_retry_after

CASES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(scope="module")
def pacs() -> Iterator[oracles.OrthancServer]:
    oracles.require(oracles.orthanc_skip_reason())
    oracles.require(netservers.fhir_server_skip_reason())
    with oracles.OrthancServer() as server:  # provides the private network namespace
        yield server


@pytest.fixture(scope="module")
def ehr(pacs: oracles.OrthancServer, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[netservers.FhirServer]:
    server = netservers.FhirServer(pacs, tmp_path_factory.mktemp("ehr"), port=8081,
                                   token="s3cret-test-token").start()
    try:
        yield server
    finally:
        server.stop()


def _bundle(tmp_path: Path, case: str = "valid/example-grade3-deep.json") -> Path:
    report = load_case((CASES / case).read_bytes())
    path = tmp_path / "bundle.json"
    path.write_text(fhir.to_json(fhir.write(report, version="R4")), "utf-8")
    return path


def test_send_bundle_as_transaction_then_search_proves_arrival(
        pacs: oracles.OrthancServer, ehr: netservers.FhirServer, tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    env = {"EHR_TOKEN": ehr.token}
    done = netservers.run_cli(pacs, ["send", str(bundle), "--fhir", ehr.url, "--token-env",
                                     "EHR_TOKEN", "--format", "json"], env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    (result,) = json.loads(done.stdout)
    assert result["ok"] and result["status"] == "200"
    assert ehr.total(f"Condition?code={netservers.ICD10CM}|G92.03") == 1
    assert ehr.total("Patient?identifier=MRN-100234") == 1
    # Resending updates (deterministic ids, conditional create): still one of each.
    token_file = tmp_path / "token"
    token_file.write_text(ehr.token + "\n", "utf-8")
    again = netservers.run_cli(pacs, ["send", str(bundle), "--fhir", ehr.url, "--token-file",
                                      str(token_file)])
    assert again.returncode == 0, again.stderr + again.stdout
    assert ehr.total(f"Condition?code={netservers.ICD10CM}|G92.03") == 1
    assert ehr.total("Patient?identifier=MRN-100234") == 1
    assert ehr.total("Observation?code=http://dicom.nema.org/resources/ontology/DCM|121071") == 2


def test_invalid_bundle_is_not_sent_and_dry_run_sends_nothing(
        pacs: oracles.OrthancServer, ehr: netservers.FhirServer, tmp_path: Path) -> None:
    good = _bundle(tmp_path, "valid/grade1-focal-leptomeningeal.json")
    data = json.loads(good.read_text("utf-8"))
    for entry in data["entry"]:
        if entry["resource"]["resourceType"] == "Condition":
            entry["resource"]["code"]["coding"][0]["code"] = "G92.09"  # not an ICD-10-CM code
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), "utf-8")
    before = ehr.total("Condition")
    env = {"EHR_TOKEN": ehr.token}
    done = netservers.run_cli(pacs, ["send", str(bad), "--fhir", ehr.url, "--token-env",
                                     "EHR_TOKEN", "--format", "json"], env=env)
    assert done.returncode == 1
    (result,) = json.loads(done.stdout)
    assert result["status"] == "not-sent"
    assert any(i["code"] == "code-unknown" for i in result["issues"])
    dry = netservers.run_cli(pacs, ["send", str(good), "--fhir", ehr.url, "--dry-run",
                                    "--token-env", "EHR_TOKEN"], env=env)
    assert dry.returncode == 0, dry.stderr + dry.stdout
    assert "dry run" in dry.stdout
    assert ehr.total("Condition") == before


def test_server_outcome_becomes_issues_and_exit_1(
        pacs: oracles.OrthancServer, ehr: netservers.FhirServer, tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    done = netservers.run_cli(pacs, ["send", str(bundle), "--fhir", ehr.url, "--format",
                                     "json"])  # no token: the server answers 401
    assert done.returncode == 1
    (result,) = json.loads(done.stdout)
    assert result["status"] == "401"
    (issue,) = result["issues"]
    assert issue["code"] == "server-outcome" and "[login]" in issue["message"]


def test_token_never_on_the_command_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from icans_interop.cli import app

    result = CliRunner().invoke(app, ["send", str(_bundle(tmp_path)), "--fhir",
                                      "http://127.0.0.1:9", "--token", "abc"])
    assert result.exit_code == 2
    assert "No such option" in result.output


def test_load_token_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_OK", " tok \n")
    assert load_token("T_OK") == "tok"
    (tmp_path / "t").write_text("filetok\n")
    assert load_token(None, tmp_path / "t") == "filetok"
    assert load_token() is None
    with pytest.raises(ValueError, match="not set or empty"):
        load_token("T_MISSING_FOR_SURE")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        load_token(None, tmp_path / "empty")
    with pytest.raises(ValueError, match="not both"):
        load_token("T_OK", tmp_path / "t")


# ---------------------------------------------------------------------------------------------
# Retries against a scripted server (plain HTTP on loopback)


class _Scripted(BaseHTTPRequestHandler):
    script: ClassVar[list[tuple[int, dict[str, str], Any]]] = []
    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        type(self).seen.append(self.headers.get("Authorization", ""))
        status, headers, body = type(self).script.pop(0)
        data = json.dumps(body).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[tuple[str, type[_Scripted]]]:
    handler = type("Handler", (_Scripted,), {"script": [], "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/fhir", handler
    finally:
        server.shutdown()
        server.server_close()


_OK = {"resourceType": "Bundle", "type": "transaction-response",
       "entry": [{"response": {"status": "201 Created"}}]}
_BUNDLE = {"resourceType": "Bundle", "type": "transaction", "entry": []}


def test_retries_on_503_and_429_honouring_retry_after(
        scripted: tuple[str, type[_Scripted]]) -> None:
    url, handler = scripted
    handler.script[:] = [(503, {"Retry-After": "3"}, {}), (429, {"Retry-After": "1"}, {}),
                         (200, {}, _OK)]
    waits: list[float] = []
    with FhirClient(url, token="tkn", sleep=waits.append,
                    retry=RetryPolicy(attempts=5)) as client:
        answer = client.send_bundle(_BUNDLE)
    assert answer.ok and answer.attempts == 3
    assert waits == [3.0, 1.0]
    assert handler.seen == ["Bearer tkn"] * 3


def test_gives_up_after_the_attempts_and_says_so(scripted: tuple[str, type[_Scripted]]) -> None:
    url, handler = scripted
    handler.script[:] = [(502, {}, {})] * 3
    waits: list[float] = []
    with FhirClient(url, sleep=waits.append, retry=RetryPolicy(attempts=3,
                                                                initial_delay=0.5)) as client:
        answer = client.send_bundle(_BUNDLE)
    assert not answer.ok and answer.transient and answer.status == 502
    assert len(waits) == 2 and all(0.25 <= w <= 1.0 for w in waits)
    assert answer.issues[0].code == "server-unreachable"


def test_a_4xx_is_an_answer_not_retried(scripted: tuple[str, type[_Scripted]]) -> None:
    url, handler = scripted
    outcome = {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "invalid", "diagnostics": "bad subject",
         "expression": ["Bundle.entry[3].resource.subject"]}]}
    handler.script[:] = [(400, {}, outcome)]
    waits: list[float] = []
    with FhirClient(url, sleep=waits.append) as client:
        answer = client.send_bundle(_BUNDLE)
    assert not answer.ok and not answer.transient and waits == []
    (issue,) = answer.issues
    assert issue.location == "Bundle.entry[3].resource.subject"
    assert "[invalid] bad subject" in issue.message


def test_entry_failures_in_a_batch_response_are_issues(
        scripted: tuple[str, type[_Scripted]]) -> None:
    url, handler = scripted
    handler.script[:] = [(200, {}, {"resourceType": "Bundle", "type": "batch-response",
                                    "entry": [{"response": {"status": "201 Created"}},
                                              {"response": {"status": "422"}}]})]
    with FhirClient(url, sleep=lambda _s: None) as client:
        answer = client.send_bundle({"resourceType": "Bundle", "type": "batch", "entry": []})
    assert not answer.ok
    assert [i.location for i in answer.issues] == ["Bundle.entry[1]"]


def test_connection_refused_is_transient() -> None:
    waits: list[float] = []
    with FhirClient("http://127.0.0.1:9", sleep=waits.append,
                    retry=RetryPolicy(attempts=2), timeout=5) as client:
        answer = client.send_bundle(_BUNDLE)
    assert answer.status == 0 and answer.transient and len(waits) == 1
    assert answer.issues[0].code == "server-unreachable"


def test_retry_after_forms() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    assert RetryPolicy(max_retry_after=60).delay(1, 86400.0) == 60.0
