"""`send` and `fetch` against a real PACS: Orthanc with its DICOMweb plugin (STOW-RS, QIDO-RS,
WADO-RS) and its DICOM server (C-STORE), in a private network namespace."""

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

from icans_interop import dicom


@pytest.fixture(scope="module")
def pacs() -> Iterator[oracles.OrthancServer]:
    oracles.require(oracles.orthanc_dicomweb_skip_reason())
    with netservers.orthanc_pacs() as server:
        yield server


@pytest.fixture(scope="module")
def srs(tmp_path_factory: pytest.TempPathFactory) -> list[netservers.SampleSR]:
    return netservers.make_srs(5, tmp_path_factory.mktemp("srs"), "1.2.826.0.1.3680043.10.1412.81")


def _instance_uids(pacs: oracles.OrthancServer) -> set[str]:
    uids = set()
    for instance in pacs.instances():
        tags = netservers.orthanc_json(pacs, "GET", f"/instances/{instance}/simplified-tags")
        uids.add(tags["SOPInstanceUID"])
    return uids


def _web(pacs: oracles.OrthancServer) -> str:
    return f"{pacs.base_url}/dicom-web"


def test_send_stow_rs_several_per_request_then_fetch_back(
        pacs: oracles.OrthancServer, srs: list[netservers.SampleSR], tmp_path: Path) -> None:
    files = [str(sr.path) for sr in srs[:3]]
    done = netservers.run_cli(pacs, ["send", *files, "--dicomweb", _web(pacs),
                                     "--batch-size", "2", "--format", "json"])
    assert done.returncode == 0, done.stderr + done.stdout
    results = json.loads(done.stdout)
    assert [r["ok"] for r in results] == [True, True, True]
    assert [r["sop_instance_uid"] for r in results] == [sr.sop_instance_uid for sr in srs[:3]]
    assert {sr.sop_instance_uid for sr in srs[:3]} <= _instance_uids(pacs)

    out = tmp_path / "fetched"
    out.mkdir()
    fetched = netservers.run_cli(pacs, ["fetch", "--dicomweb", _web(pacs), "--study",
                                        srs[0].study_uid, "-o", str(out), "--format", "json"])
    assert fetched.returncode == 0, fetched.stderr + fetched.stdout
    (only,) = json.loads(fetched.stdout)
    assert only["ok"] and only["sop_instance_uid"] == srs[0].sop_instance_uid
    returned = dcmread(out / f"{srs[0].sop_instance_uid}.dcm")
    original = dcmread(srs[0].path)
    assert returned == original  # the data set comes back unchanged
    report, issues = dicom.read(returned)
    assert report is not None and not [i for i in issues if i.severity == "error"]


def test_send_c_store(
        pacs: oracles.OrthancServer, srs: list[netservers.SampleSR]) -> None:
    files = [str(sr.path) for sr in srs[3:]]
    done = netservers.run_cli(pacs, ["send", *files, "--dimse",
                                     f"{pacs.aet}@127.0.0.1:{pacs.dicom_port}",
                                     "--calling-aet", "ICANSTEST", "--format", "json"])
    assert done.returncode == 0, done.stderr + done.stdout
    results = json.loads(done.stdout)
    assert [r["status"] for r in results] == ["0x0000", "0x0000"]
    assert {sr.sop_instance_uid for sr in srs[3:]} <= _instance_uids(pacs)


def test_send_refuses_an_invalid_sr_and_exits_1(
        pacs: oracles.OrthancServer, srs: list[netservers.SampleSR], tmp_path: Path) -> None:
    broken = tmp_path / "broken.dcm"
    dataset = dcmread(srs[0].path)
    del dataset.ContentSequence  # TID 1500 root without content: validation errors
    dataset.SOPInstanceUID = "1.2.826.0.1.3680043.10.1412.81.999"
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    broken.write_bytes(buffer.getvalue())
    for target in (["--dicomweb", _web(pacs)],
                   ["--dimse", f"{pacs.aet}@127.0.0.1:{pacs.dicom_port}"]):
        done = netservers.run_cli(pacs, ["send", str(srs[1].path), str(broken), *target,
                                         "--format", "json"])
        assert done.returncode == 1, done.stderr + done.stdout
        good, bad = json.loads(done.stdout)
        assert good["ok"] and not bad["ok"]
        assert bad["status"] == "not-sent"
        assert any(i["severity"] == "error" for i in bad["issues"])
    assert "1.2.826.0.1.3680043.10.1412.81.999" not in _instance_uids(pacs)


def test_fetch_only_sr_unless_all(pacs: oracles.OrthancServer, tmp_path: Path) -> None:
    # A non-SR instance (a Key Object Selection would do; use a minimal Secondary Capture).
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage

    study = "1.2.826.0.1.3680043.10.1412.82"
    image = Dataset()
    image.file_meta = FileMetaDataset()
    image.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    image.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    image.file_meta.MediaStorageSOPInstanceUID = study + ".1.1"
    image.SOPClassUID = SecondaryCaptureImageStorage
    image.SOPInstanceUID = study + ".1.1"
    image.StudyInstanceUID = study
    image.SeriesInstanceUID = study + ".1"
    image.Modality = "OT"
    image.PatientID = "MRN-OT"
    buffer = io.BytesIO()
    image.save_as(buffer, enforce_file_format=True)
    pacs.store(buffer.getvalue())
    (tmp_path / "sr").mkdir()
    (tmp_path / "all").mkdir()
    only_sr = netservers.run_cli(pacs, ["fetch", "--dicomweb", _web(pacs), "--study", study,
                                        "-o", str(tmp_path / "sr"), "--format", "json"])
    assert only_sr.returncode == 0 and json.loads(only_sr.stdout) == []
    everything = netservers.run_cli(pacs, ["fetch", "--dicomweb", _web(pacs), "--study", study,
                                           "--all", "-o", str(tmp_path / "all"), "--format",
                                           "json"])
    assert everything.returncode == 0, everything.stderr
    (one,) = json.loads(everything.stdout)
    assert one["sop_instance_uid"] == study + ".1.1"
    assert (tmp_path / "all" / f"{study}.1.1.dcm").is_file()


def test_fetch_rejects_a_malformed_uid(pacs: oracles.OrthancServer, tmp_path: Path) -> None:
    done = netservers.run_cli(pacs, ["fetch", "--dicomweb", _web(pacs), "--study",
                                     "../../etc", "-o", str(tmp_path)])
    assert done.returncode == 2
    assert "not a DICOM UID" in done.stderr
