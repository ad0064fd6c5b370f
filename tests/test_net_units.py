"""Spool, names and addresses: hostile values stay inside their folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from icans_interop.model import is_dicom_uid
from icans_interop.net.dimse import AddressError, parse_address
from icans_interop.net.gateway import GatewayConfig, GatewayError
from icans_interop.net.names import readable_name, spool_name
from icans_interop.net.spool import Spool, SpoolError


@pytest.mark.parametrize("uid", ["../../x", "/etc/passwd", "1." + "2" * 198, "a\0b", "",
                                 "..", "x/../../y", "\u202e.dcm"])
def test_hostile_uids_give_fixed_safe_names(uid: str, tmp_path: Path) -> None:
    name = spool_name(uid)
    assert len(name) == 36 and name.endswith(".dcm") and "/" not in name
    assert readable_name(uid).startswith("x-") or is_dicom_uid(uid)
    spool = Spool(tmp_path / "spool", tmp_path / "quarantine")
    spool.open()
    received = tmp_path / "received.dcm"
    received.write_bytes(b"data")
    admitted = spool.admit(received, uid)
    assert admitted == name and (tmp_path / "spool" / name).read_bytes() == b"data"
    moved = spool.quarantine(admitted, {"resourceType": "OperationOutcome", "issue": []},
                             "validation-failed", uid)
    assert moved.parent == tmp_path / "quarantine"
    note = json.loads(moved.with_suffix(".json").read_text("utf-8"))
    assert note["resourceType"] == "OperationOutcome"
    assert {e["valueString"] for e in note["extension"]} == {"validation-failed", uid[:256]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quarantine", "received.dcm",
                                                          "spool"]
    spool.close()


def test_a_resend_replaces_the_spooled_copy_and_half_written_files_are_cleared(
        tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", tmp_path / "q")
    assert spool.open() == []
    source = tmp_path / "in.dcm"
    source.write_bytes(b"one")
    spool.admit(source, "1.2.3")
    source.write_bytes(b"two")
    spool.admit(source, "1.2.3")
    assert spool.pending() == [spool_name("1.2.3")]
    assert spool.path(spool_name("1.2.3")).read_bytes() == b"two"
    (tmp_path / "s" / ".tmp-crashed").write_bytes(b"partial")
    (tmp_path / "s" / ".receiving" / "tmpabc.dcm").write_bytes(b"partial")
    spool.close()
    assert Spool(tmp_path / "s", tmp_path / "q").open() == [spool_name("1.2.3")]
    assert not (tmp_path / "s" / ".tmp-crashed").exists()
    assert list((tmp_path / "s" / ".receiving").iterdir()) == []


def test_one_gateway_per_spool(tmp_path: Path) -> None:
    first = Spool(tmp_path / "s", tmp_path / "q")
    first.open()
    with pytest.raises(SpoolError, match="in use"):
        Spool(tmp_path / "s", tmp_path / "q").open()
    first.close()


def test_addresses() -> None:
    assert str(parse_address("GW@10.1.2.3:104")) == "GW@10.1.2.3:104"
    assert parse_address("GW@11112").host == "127.0.0.1"  # loopback unless told otherwise
    for bad in ("GW", "@h:1", "GW@h:0", "GW@h:x", "A" * 17 + "@h:1", "G\\W@h:1"):
        with pytest.raises(AddressError):
            parse_address(bad)


def test_gateway_config_refuses_unsafe_settings(tmp_path: Path) -> None:
    base = {"listen": parse_address("GW@11112"), "fhir_url": "https://ehr.example/fhir",
            "spool_dir": tmp_path / "s", "quarantine_dir": tmp_path / "q"}
    GatewayConfig(**base, allowed_fhir_urls=("https://ehr.example/fhir",)).check()
    GatewayConfig(**base, allowed_fhir_urls=("https://ehr.example",)).check()
    with pytest.raises(GatewayError, match="allow-list"):
        GatewayConfig(**base, allowed_fhir_urls=("https://ehr.example/fhirx",)).check()
    with pytest.raises(GatewayError, match="different folders"):
        GatewayConfig(**{**base, "quarantine_dir": tmp_path / "s"}).check()
    with pytest.raises(GatewayError, match="http"):
        GatewayConfig(**{**base, "fhir_url": "file:///etc"}).check()
