"""DIMSE transport on ``pynetdicom``: C-STORE many files over one association.

The association proposes one presentation context per (SOP Class, transfer syntax) among the
files (their own syntax, plus Explicit VR Little Endian as a fallback) and sends each file
with the DIMSE status the peer answers (PS3.4 Annex B: ``0x0000`` success, ``0xB0xx``
warnings — stored, with a note — anything else a refusal). A file whose context the peer
rejected, or that comes after the association dropped, is reported as not sent.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian

from icans_interop.net.prepare import Prepared, prepare_files
from icans_interop.net.transfer import TransferResult

#: PS3.8 9.3.2.2: at most 128 presentation contexts in one association request.
MAX_CONTEXTS: Final = 128
_AE_TITLE: Final = re.compile(r"[ -~]{1,16}")


class AddressError(ValueError):
    """An ``AET@HOST:PORT`` address that cannot be used."""


@dataclass(frozen=True, slots=True)
class Address:
    """A DICOM application entity on the network."""

    aet: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.aet}@{self.host}:{self.port}"


def parse_address(text: str, default_host: str = "127.0.0.1") -> Address:
    """``AET@HOST:PORT`` (or ``AET@PORT``, on ``default_host``) as an :class:`Address`."""
    aet, at, rest = text.partition("@")
    if not at or not aet:
        raise AddressError(f"{text!r}: expected AET@HOST:PORT")
    host, colon, port_text = rest.rpartition(":")
    if not colon:
        host, port_text = default_host, rest
    host = host.strip("[]") or default_host
    check_ae_title(aet)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise AddressError(f"{port_text!r}: not a TCP port")
    return Address(aet, host, int(port_text))


def check_ae_title(aet: str) -> str:
    """``aet`` if it is a valid AE title, else :class:`AddressError`."""
    if not _AE_TITLE.fullmatch(aet) or aet.strip() != aet or "\\" in aet:
        raise AddressError(f"{aet!r}: an AE title is 1-16 printable characters without "
                           "backslash or surrounding spaces")
    return aet


def c_store(files: Sequence[Path], peer: Address, *, calling_aet: str = "ICANS_INTEROP",
            timeout: float = 30.0, max_pdu: int = 0, profile: str | None = "icans"
            ) -> list[TransferResult]:
    """C-STORE the files to ``peer``; one result per file, in order.

    With a ``profile``, each file is validated first and one with errors is not sent.
    """
    prepared = prepare_files(files, profile)
    results: dict[int, TransferResult] = {i: p.refusal for i, p in enumerate(prepared)
                                          if p.refusal is not None}
    ready = [(i, p) for i, p in enumerate(prepared) if p.refusal is None]
    for group in _context_groups(ready):
        results.update(_send_group(group, peer, calling_aet, timeout, max_pdu))
    return [results[i] for i in range(len(prepared))]


def _contexts(item: Prepared) -> list[tuple[str, str]]:
    syntaxes = [item.transfer_syntax_uid]
    if item.transfer_syntax_uid != ExplicitVRLittleEndian:
        syntaxes.append(str(ExplicitVRLittleEndian))
    return [(item.sop_class_uid, syntax) for syntax in syntaxes]


def _context_groups(ready: list[tuple[int, Prepared]]) -> list[list[tuple[int, Prepared]]]:
    """Split the files so that no association needs more than 128 presentation contexts."""
    groups: list[list[tuple[int, Prepared]]] = []
    seen: set[tuple[str, str]] = set()
    current: list[tuple[int, Prepared]] = []
    for index, item in ready:
        wanted = set(_contexts(item)) - seen
        if current and len(seen) + len(wanted) > MAX_CONTEXTS:
            groups.append(current)
            current, seen = [], set()
            wanted = set(_contexts(item))
        seen |= wanted
        current.append((index, item))
    if current:
        groups.append(current)
    return groups


def _send_group(group: list[tuple[int, Prepared]], peer: Address, calling_aet: str,
                timeout: float, max_pdu: int) -> dict[int, TransferResult]:
    from pynetdicom import AE

    ae = AE(ae_title=calling_aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.connection_timeout = timeout
    ae.maximum_pdu_size = max_pdu
    proposed: dict[str, list[str]] = {}
    for _, item in group:
        for sop_class, syntax in _contexts(item):
            if syntax not in proposed.setdefault(sop_class, []):
                proposed[sop_class].append(syntax)
    for sop_class, syntaxes in proposed.items():
        for syntax in syntaxes:
            ae.add_requested_context(sop_class, syntax)
    results: dict[int, TransferResult] = {}
    assoc = ae.associate(peer.host, peer.port, ae_title=peer.aet)
    if not assoc.is_established:
        why = "rejected" if assoc.is_rejected else "aborted" if assoc.is_aborted else "failed"
        for index, item in group:
            results[index] = TransferResult(item.label, False, "not-sent",
                                            f"association with {peer} {why}",
                                            item.sop_instance_uid)
        return results
    try:
        for index, item in group:
            results[index] = _store_one(assoc, item)
    finally:
        if assoc.is_established:
            assoc.release()
    return results


def _store_one(assoc: object, item: Prepared) -> TransferResult:
    from pynetdicom.association import Association

    assert isinstance(assoc, Association)
    if not assoc.is_established:
        return TransferResult(item.label, False, "not-sent", "the association ended",
                              item.sop_instance_uid)
    dataset = dcmread(io.BytesIO(item.data))
    try:
        status = assoc.send_c_store(dataset)
    except (ValueError, RuntimeError, AttributeError) as exc:  # no accepted context, etc.
        return TransferResult(item.label, False, "not-sent", str(exc), item.sop_instance_uid)
    if not status or "Status" not in status:
        return TransferResult(item.label, False, "no answer",
                              "no C-STORE response (timeout or aborted association)",
                              item.sop_instance_uid)
    code = int(status.Status)
    text = f"0x{code:04X}"
    comment = str(status.get("ErrorComment", "") or "")
    if code == 0x0000:
        return TransferResult(item.label, True, text, comment, item.sop_instance_uid)
    if code in (0x0001, 0x0107, 0x0116) or code & 0xF000 == 0xB000:
        return TransferResult(item.label, True, text, comment or "stored with a warning",
                              item.sop_instance_uid)
    return TransferResult(item.label, False, text, comment or "refused by the peer",
                          item.sop_instance_uid)
