"""The SR-to-FHIR gateway against real servers: Orthanc sends, Medplum's FHIR router receives.

Faults are real: the gateway process is killed with SIGKILL mid-stream, the FHIR endpoint
stops listening and comes back, hostile associations send path-like and over-long UIDs,
truncated and oversized datasets, non-SR SOP classes and unknown AE titles. Every wait is a
watchdog against hangs; no test measures time (figures are in bench/bench_gateway.py).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread

try:
    import netservers
    import oracles
except ImportError:  # tests/ imported as a package
    from tests import netservers, oracles  # type: ignore[no-redef]

ICD10CM = netservers.ICD10CM
FhirServer = netservers.FhirServer
GatewayProcess = netservers.GatewayProcess
SampleSR = netservers.SampleSR
wait_for = netservers.wait_for


@pytest.fixture
def pacs() -> Iterator[oracles.OrthancServer]:
    oracles.require(oracles.orthanc_dicomweb_skip_reason())
    oracles.require(netservers.fhir_server_skip_reason())
    with netservers.orthanc_pacs() as server:
        yield server


@pytest.fixture
def ehr(pacs: oracles.OrthancServer, tmp_path: Path) -> Iterator[FhirServer]:
    server = FhirServer(pacs, tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


def _upload(pacs: oracles.OrthancServer, srs: list[SampleSR]) -> list[str]:
    return [pacs.store(sr.path.read_bytes()) for sr in srs]


def _study_totals(ehr: FhirServer, srs: list[SampleSR]) -> list[int]:
    return ehr.totals([f"ImagingStudy?identifier=urn:dicom:uid|urn:oid:{sr.study_uid}"
                       for sr in srs])


def _patient_totals(ehr: FhirServer, srs: list[SampleSR]) -> list[int]:
    return ehr.totals([f"Patient?identifier={sr.patient_id}" for sr in srs])


def _assert_each_arrived_once(ehr: FhirServer, srs: list[SampleSR]) -> None:
    assert _study_totals(ehr, srs) == [1] * len(srs)
    assert _patient_totals(ehr, srs) == [1] * len(srs)
    assert ehr.total("DiagnosticReport") == len(srs)
    assert ehr.total(f"Condition?code={ICD10CM}|G92.03") == len(srs)


def test_orthanc_routes_srs_through_the_gateway_to_fhir(
        pacs: oracles.OrthancServer, ehr: FhirServer, tmp_path: Path) -> None:
    srs = netservers.make_srs(6, tmp_path / "srs", "1.2.826.0.1.3680043.10.1412.83")
    gateway = GatewayProcess(pacs, ehr.url, tmp_path / "gw").start()
    with netservers.running(gateway):
        assert netservers.orthanc_route(pacs, _upload(pacs, srs)) == ["Success"]
        wait_for(lambda: gateway.count("file", outcome="sent") >= len(srs), 180,
                 "all SRs sent to FHIR")
        _assert_each_arrived_once(ehr, srs)
        # Two findings per report, each one measurement-group Observation with code 121071.
        assert ehr.total("Observation?code=http://dicom.nema.org/resources/ontology/DCM|121071"
                         ) == 2 * len(srs)
        assert gateway.spooled() == [] and gateway.quarantined() == []
        sent = gateway.records("file")
        assert {r["sop_instance_uid"] for r in sent} == {sr.sop_instance_uid for sr in srs}
        assert all(isinstance(r["ms"], float) for r in sent)
        assert gateway.terminate() == 0
        assert gateway.count("stopped") == 1


def test_two_hundred_srs_sent_concurrently_by_orthanc_are_all_stored(
        pacs: oracles.OrthancServer, ehr: FhirServer, tmp_path: Path) -> None:
    srs = netservers.make_srs(200, tmp_path / "srs", "1.2.826.0.1.3680043.10.1412.84")
    gateway = GatewayProcess(pacs, ehr.url, tmp_path / "gw", ["--workers", "2"]).start()
    with netservers.running(gateway):
        states = netservers.orthanc_route(pacs, _upload(pacs, srs), jobs=4)
        assert states == ["Success"] * 4
        assert gateway.count("association") == 4  # four store jobs, four associations
        wait_for(lambda: gateway.count("file", outcome="sent") >= len(srs), 600,
                 "200 SRs sent to FHIR")
        _assert_each_arrived_once(ehr, srs)
        assert gateway.spooled() == [] and gateway.quarantined() == []


def test_kill_9_with_100_in_flight_loses_nothing_and_duplicates_nothing(
        pacs: oracles.OrthancServer, ehr: FhirServer, tmp_path: Path) -> None:
    srs = netservers.make_srs(100, tmp_path / "srs", "1.2.826.0.1.3680043.10.1412.85")
    ids = _upload(pacs, srs)
    gateway = GatewayProcess(pacs, ehr.url, tmp_path / "gw", ["--workers", "1"]).start()
    with netservers.running(gateway):
        jobs = [netservers.orthanc_json(pacs, "POST", "/modalities/gateway/store",
                                        {"Resources": ids[i::2], "Synchronous": False})["ID"]
                for i in range(2)]
        wait_for(lambda: gateway.count("received", outcome="spooled") >= 20, 300,
                 "20 SRs spooled")
        gateway.kill9()
        acknowledged = {r["sop_instance_uid"] for r in gateway.records("received")
                        if r["outcome"] == "spooled"}
        sent_before = {r["sop_instance_uid"] for r in gateway.records("file")
                       if r["outcome"] == "sent"}
        left_in_spool = len(gateway.spooled())
        # Orthanc's jobs fail (the peer vanished): it holds responsibility for the rest.
        wait_for(lambda: all(netservers.orthanc_json(pacs, "GET", f"/jobs/{j}")["State"]
                             in ("Success", "Failure") for j in jobs), 300,
                 "Orthanc jobs ended")

        gateway.start()  # drains the spool before anything new arrives
        wait_for(lambda: not gateway.spooled(), 300, "spool drained after restart")
        by_uid = {sr.sop_instance_uid: sr for sr in srs}
        drained = [by_uid[uid] for uid in sorted(acknowledged)]
        # Every acknowledged SR reached the EHR without any resend by the PACS.
        assert _study_totals(ehr, drained) == [1] * len(drained)
        assert len(acknowledged) >= 20 and left_in_spool >= 0
        assert gateway.count("start") == 2
        starts = gateway.records("start")
        assert starts[1]["pending"] == left_in_spool

        # The PACS now resends everything (what it does for failed transfers): each SR is in
        # the EHR exactly once, resends update rather than duplicate.
        assert netservers.orthanc_route(pacs, ids, jobs=2) == ["Success", "Success"]
        wait_for(lambda: not gateway.spooled()
                 and gateway.count("file", outcome="sent") >= len(sent_before) + 100,
                 600, "resent SRs delivered")
        _assert_each_arrived_once(ehr, srs)
        assert gateway.quarantined() == []


def test_fhir_endpoint_down_then_back_loses_nothing(
        pacs: oracles.OrthancServer, ehr: FhirServer, tmp_path: Path) -> None:
    srs = netservers.make_srs(20, tmp_path / "srs", "1.2.826.0.1.3680043.10.1412.86")
    gateway = GatewayProcess(pacs, ehr.url, tmp_path / "gw").start()
    with netservers.running(gateway):
        ehr.down()
        assert netservers.orthanc_route(pacs, _upload(pacs, srs)) == ["Success"]
        assert gateway.count("received", outcome="spooled") == len(srs)
        wait_for(lambda: gateway.count("file", outcome="retry") >= len(srs), 300,
                 "every SR tried and kept for a retry")
        assert len(gateway.spooled()) == len(srs)  # kept, not dropped
        assert gateway.count("file", outcome="sent") == 0
        ehr.up()
        wait_for(lambda: not gateway.spooled(), 300, "spool drained once FHIR is back")
        _assert_each_arrived_once(ehr, srs)
        assert gateway.quarantined() == []


# ---------------------------------------------------------------------------------------------
# Hostile and malformed senders

_SCU = r"""
import json, sys
from pydicom import dcmread
from pynetdicom import AE, _config
spec = json.load(sys.stdin)
_config.STORE_SEND_CHUNKED_DATASET = spec.get("chunked", False)
ae = AE(ae_title=spec["calling"])
ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 60
for uid in spec["classes"]:
    ae.add_requested_context(uid, "1.2.840.10008.1.2.1")
assoc = ae.associate("127.0.0.1", spec["port"], ae_title=spec["called"])
out = {"established": assoc.is_established, "rejected": assoc.is_rejected, "statuses": []}
if assoc.is_established:
    out["accepted"] = [c.abstract_syntax for c in assoc.accepted_contexts]
    for path in spec["files"]:
        try:
            status = assoc.send_c_store(path if spec.get("chunked") else dcmread(path))
            out["statuses"].append("0x%04X" % status.Status if status else "none")
        except Exception as exc:
            out["statuses"].append("error: %s" % type(exc).__name__)
            out["error"] = str(exc)[:300]
        if not assoc.is_established:
            break
    out["aborted"] = assoc.is_aborted or not assoc.is_established
    if assoc.is_established:
        assoc.release()
print(json.dumps(out))
"""


def _scu(pacs: oracles.OrthancServer, files: list[Path], classes: list[str],
         calling: str = "ICANSTEST", chunked: bool = False) -> dict[str, object]:
    import subprocess
    import sys

    spec = {"files": [str(f) for f in files], "classes": classes, "calling": calling,
            "called": netservers.GATEWAY_AET, "port": netservers.GATEWAY_PORT,
            "chunked": chunked}
    proc = subprocess.run(pacs.in_netns_argv([sys.executable, "-c", _SCU]),
                          input=json.dumps(spec).encode(), capture_output=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    answer: dict[str, object] = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    return answer


def _rewrite(source: Path, target: Path, uid: str, meta_uid: str | None = None) -> Path:
    """The SR with another SOP Instance UID (written as-is, even when it is not a UID)."""
    from pydicom import config

    dataset = dcmread(source)
    with config.disable_value_validation():
        dataset.SOPInstanceUID = uid
        dataset.file_meta.MediaStorageSOPInstanceUID = meta_uid or uid
        buffer = io.BytesIO()
        # Not enforce_file_format: it would copy the data set's UID into the file meta.
        dataset.preamble = b"\0" * 128
        dataset.save_as(buffer, enforce_file_format=False)
    target.write_bytes(buffer.getvalue())
    return target


def test_hostile_senders_are_refused_and_nothing_escapes_the_spool(
        pacs: oracles.OrthancServer, ehr: FhirServer, tmp_path: Path) -> None:
    from pydicom.uid import ComprehensiveSRStorage, CTImageStorage

    srs = netservers.make_srs(2, tmp_path / "srs", "1.2.826.0.1.3680043.10.1412.87")
    sr_class = str(dcmread(srs[0].path).SOPClassUID)
    work = tmp_path / "gw"
    gateway = GatewayProcess(pacs, ehr.url, work, [
        "--max-dataset-mb", "1", "--allow-aet", "ICANSTEST", "--allow-aet", "ORTHANC"]).start()
    with netservers.running(gateway):
        # Path-like and 200-character SOP Instance UIDs: stored under digests, then
        # quarantined (invalid UID) with an OperationOutcome; nothing outside the folders.
        escape = _rewrite(srs[0].path, tmp_path / "escape.dcm", "../../x")
        answer = _scu(pacs, [escape], [sr_class])
        assert answer["statuses"] == ["0x0000"], answer
        wait_for(lambda: len(gateway.quarantined()) == 1, 120, "hostile UID quarantined")
        # pynetdicom will not put a 200-character UID in a command; a hostile peer can still
        # put one in the data set: it does not match the request, 0xA900, nothing kept.
        long = _rewrite(srs[0].path, tmp_path / "long.dcm", "1." + "2" * 198,
                        meta_uid="1.2.826.0.1.3680043.10.1412.87.9")
        answer = _scu(pacs, [long], [sr_class], chunked=True)
        assert answer["statuses"] == ["0xA900"], answer
        assert gateway.count("received", outcome="dataset-mismatch") == 1
        for path in gateway.quarantined():
            assert len(path.stem) == 32 and set(path.stem) <= set("0123456789abcdef")
            outcome = json.loads(path.with_suffix(".json").read_text("utf-8"))
            assert outcome["resourceType"] == "OperationOutcome"
            assert any(e["valueString"] == "validation-failed" for e in outcome["extension"])
            assert any(i["severity"] == "error" for i in outcome["issue"])
        assert not (tmp_path / "x").exists() and not (work / "x").exists()
        assert sorted(p.name for p in work.iterdir()) == ["gateway.log", "gateway.out",
                                                          "quarantine", "spool"]

        # A truncated data set (valid file meta, cut in the middle): 0xC210, nothing spooled.
        data = srs[1].path.read_bytes()
        truncated = tmp_path / "truncated.dcm"
        truncated.write_bytes(data[: len(data) // 2])
        answer = _scu(pacs, [truncated], [sr_class], chunked=True)
        assert answer["statuses"] == ["0xC210"], answer

        # Larger than --max-dataset-mb: the association is aborted, no file is kept.
        big = dcmread(srs[1].path)
        big.add_new(0x00111010, "OB", b"\0" * (3 * 1024 * 1024))
        big.add_new(0x00110010, "LO", "ICANS TEST PADDING")
        oversized = tmp_path / "oversized.dcm"
        big.save_as(oversized, enforce_file_format=True)
        answer = _scu(pacs, [oversized], [sr_class], chunked=True)
        assert answer["statuses"] == ["none"], answer  # no C-STORE response: not stored
        assert gateway.count("refused", outcome="too-large") == 1

        # A non-SR SOP class: its presentation context is rejected at association time.
        answer = _scu(pacs, [], [str(CTImageStorage), str(ComprehensiveSRStorage)])
        assert answer["established"] and answer["accepted"] == [str(ComprehensiveSRStorage)]

        # A calling AE title outside the allow-list: the association is rejected.
        answer = _scu(pacs, [srs[1].path], [sr_class], calling="INTRUDER")
        assert answer["rejected"] is True and answer["statuses"] == []

        # Through all that the gateway kept running and still delivers a valid SR.
        assert gateway.alive
        answer = _scu(pacs, [srs[1].path], [sr_class])
        assert answer["statuses"] == ["0x0000"]
        wait_for(lambda: gateway.count("file", outcome="sent") == 1, 120, "valid SR sent")
        assert _study_totals(ehr, [srs[1]]) == [1]
        assert gateway.spooled() == []
        receiving = gateway.spool / ".receiving"
        assert gateway.terminate() == 0
        # Only the aborted oversized transfer can have left a partial file; the next start
        # clears it.
        gateway.start()
        assert list(receiving.iterdir()) == []


def test_one_association_carries_many_files_from_send_dimse(
        pacs: oracles.OrthancServer, ehr: FhirServer, tmp_path: Path) -> None:
    srs = netservers.make_srs(3, tmp_path / "srs", "1.2.826.0.1.3680043.10.1412.88")
    gateway = GatewayProcess(pacs, ehr.url, tmp_path / "gw").start()
    with netservers.running(gateway):
        done = netservers.run_cli(pacs, ["send", *[str(sr.path) for sr in srs], "--dimse",
                                         f"{netservers.GATEWAY_AET}@127.0.0.1:"
                                         f"{netservers.GATEWAY_PORT}", "--format", "json"])
        assert done.returncode == 0, done.stderr + done.stdout
        assert [r["status"] for r in json.loads(done.stdout)] == ["0x0000"] * 3
        assert gateway.count("association") == 1
        wait_for(lambda: gateway.count("file", outcome="sent") == 3, 120, "3 SRs sent")
        _assert_each_arrived_once(ehr, srs)


def test_gateway_refuses_a_fhir_endpoint_outside_the_allow_list(
        pacs: oracles.OrthancServer, tmp_path: Path) -> None:
    done = netservers.run_cli(pacs, [
        "gateway", "--listen", "GW@11113", "--fhir", "http://127.0.0.1:9/fhir", "--spool",
        str(tmp_path / "s"), "--quarantine", str(tmp_path / "q"),
        "--allow-fhir", "https://ehr.example.org/fhir"], timeout=120)
    assert done.returncode == 2
    assert "not in the allow-list" in done.stderr
