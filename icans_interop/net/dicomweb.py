"""DICOMweb transport on ``dicomweb-client``: STOW-RS to send, QIDO-RS + WADO-RS to fetch.

* :func:`stow` sends files several per request (one multipart/related POST per batch) and
  reads the server's answer per instance: a SOP Instance listed in the Referenced SOP
  Sequence was stored, one in the Failed SOP Sequence was refused with its Failure Reason
  (PS3.18 10.5.3). An HTTP error without such a body fails its whole batch.
* :func:`fetch` searches a study (and optionally a series) for instances with QIDO-RS, keeps
  the SR instances (any ``... SR Storage`` SOP class) unless asked for all, retrieves each
  with WADO-RS and writes it atomically to the output folder under a name a hostile server
  cannot steer (:func:`.names.readable_name`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import UID

from icans_interop import files
from icans_interop.net.names import readable_name
from icans_interop.net.prepare import Prepared, prepare_files
from icans_interop.net.transfer import TransferResult

if TYPE_CHECKING:
    from dicomweb_client.api import DICOMwebClient

_SOP_CLASS: Final = "00080016"
_SOP_INSTANCE: Final = "00080018"
_SERIES: Final = "0020000E"
_STUDY: Final = "0020000D"


def is_sr_class(sop_class_uid: str) -> bool:
    """True for every SR Storage SOP class pydicom knows (Basic Text ... Comprehensive 3D)."""
    return UID(sop_class_uid).name.endswith("SR Storage")


def client(url: str, *, token: str | None = None, timeout: float = 60.0) -> DICOMwebClient:
    """A DICOMweb client with no proxy/netrc from the environment and an optional token."""
    import requests
    from dicomweb_client.api import DICOMwebClient

    session = requests.Session()
    session.trust_env = False
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return DICOMwebClient(url=url.rstrip("/"), session=session, timeout=timeout)


def stow(files: Sequence[Path], url: str, *, batch_size: int = 20, token: str | None = None,
         timeout: float = 60.0, profile: str | None = "icans") -> list[TransferResult]:
    """STOW-RS the files, ``batch_size`` per request; one result per file, in order.

    With a ``profile``, each file is validated first and one with errors is not sent.
    """
    prepared = prepare_files(files, profile)
    results: dict[int, TransferResult] = {i: p.refusal for i, p in enumerate(prepared)
                                          if p.refusal is not None}
    ready = [(i, p) for i, p in enumerate(prepared) if p.refusal is None]
    web = client(url, token=token, timeout=timeout)
    for start in range(0, len(ready), max(1, batch_size)):
        batch = ready[start:start + max(1, batch_size)]
        for index, result in _stow_batch(web, batch):
            results[index] = result
    return [results[i] for i in range(len(prepared))]


def _stow_batch(web: DICOMwebClient, batch: list[tuple[int, Prepared]]
                ) -> list[tuple[int, TransferResult]]:
    import requests

    datasets: list[Dataset] = []
    for _, item in batch:
        datasets.append(dcmread(io.BytesIO(item.data)))
    status = "200"
    answer: Dataset | None
    try:
        answer = web.store_instances(datasets)
    except requests.HTTPError as exc:
        response = exc.response
        status = str(response.status_code) if response is not None else "error"
        answer = _stow_answer(response)
        if answer is None:
            return [(i, TransferResult(p.label, False, status, f"STOW-RS refused: {exc}",
                                       p.sop_instance_uid)) for i, p in batch]
    except requests.RequestException as exc:
        return [(i, TransferResult(p.label, False, "no answer", f"{type(exc).__name__}: {exc}",
                                   p.sop_instance_uid)) for i, p in batch]
    assert answer is not None
    stored = {str(item.get("ReferencedSOPInstanceUID", "")): item
              for item in answer.get("ReferencedSOPSequence", [])}
    failed = {str(item.get("ReferencedSOPInstanceUID", "")): item
              for item in answer.get("FailedSOPSequence", [])}
    out: list[tuple[int, TransferResult]] = []
    for index, item in batch:
        uid = item.sop_instance_uid
        if uid in failed:
            reason = failed[uid].get("FailureReason")
            code = f"0x{int(reason):04X}" if reason is not None else status
            out.append((index, TransferResult(item.label, False, code,
                                              "the server refused the instance", uid)))
        elif uid in stored:
            warning = stored[uid].get("WarningReason")
            note = f"stored with warning 0x{int(warning):04X}" if warning is not None else ""
            out.append((index, TransferResult(item.label, True, status, note, uid)))
        else:
            out.append((index, TransferResult(item.label, False, status,
                                              "the server's answer does not list the instance",
                                              uid)))
    return out


def _stow_answer(response: Any) -> Dataset | None:
    """The STOW-RS response data set of an HTTP error (409 partial failure), if it has one."""
    if response is None or not response.content:
        return None
    try:
        return Dataset.from_json(response.json())
    except (ValueError, TypeError, KeyError):
        return None


def fetch(url: str, study: str, out_dir: Path, *, series: str | None = None,
          include_all: bool = False, token: str | None = None, timeout: float = 60.0
          ) -> list[TransferResult]:
    """QIDO-RS the study's (or series') instances, WADO-RS each SR (or each instance)."""
    import requests

    web = client(url, token=token, timeout=timeout)
    try:
        found = web.search_for_instances(study_instance_uid=study,
                                         series_instance_uid=series,
                                         fields=[_SOP_CLASS, _SERIES])
    except requests.RequestException as exc:
        return [TransferResult(f"study {study}", False, _http_status(exc),
                               f"QIDO-RS failed: {exc}")]
    results: list[TransferResult] = []
    for entry in found:
        sop_class = _first(entry, _SOP_CLASS)
        sop_instance = _first(entry, _SOP_INSTANCE)
        series_uid = _first(entry, _SERIES) or series or ""
        if not include_all and not is_sr_class(sop_class):
            continue
        target = out_dir / readable_name(sop_instance)
        try:
            dataset = web.retrieve_instance(study_instance_uid=study,
                                            series_instance_uid=series_uid,
                                            sop_instance_uid=sop_instance)
        except requests.RequestException as exc:
            results.append(TransferResult(str(target), False, _http_status(exc),
                                          f"WADO-RS failed: {exc}", sop_instance))
            continue
        try:
            _write_atomic(target, dataset)
        except OSError as exc:
            results.append(TransferResult(str(target), False, "not-written",
                                          f"cannot write: {exc.strerror or exc}", sop_instance))
            continue
        results.append(TransferResult(str(target), True, "200", "", sop_instance))
    return results


def _first(entry: dict[str, Any], tag: str) -> str:
    values = (entry.get(tag) or {}).get("Value") or [""]
    return str(values[0])


def _http_status(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.status_code) if response is not None else "no answer"


def _write_atomic(target: Path, dataset: Dataset) -> None:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    files.write_file(target, buffer.getvalue())


__all__ = ["fetch", "is_sr_class", "stow"]
