"""Both readers, both validators and the form reader take the same source kinds, with the
same result for the same content, the byte limits on every kind, and an issue (never an
exception) for a source that cannot be read."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from icans_interop import dicom, fhir, sdc, sources
from icans_interop.dicom.part10 import Limits
from icans_interop.issues import Issue
from icans_interop.model import ImagingReport, load_case
from icans_interop.validation.fhir import validate_fhir
from icans_interop.validation.sr import validate_sr

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "fixtures" / "valid" / "example-grade3-deep.json"


class OneShot(io.RawIOBase):
    """A binary stream that can be read once (no seek): what a socket or pipe gives."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk


@cache
def _report() -> ImagingReport:
    return load_case(CASE.read_text("utf-8"))


@cache
def _sr_bytes() -> bytes:
    """An SR whose reader and validator both have something to say (a bad Patient's Sex)."""
    ds = dicom.write(_report())
    ds.PatientSex = "X"
    return dicom.to_bytes(ds)


@cache
def _bundle_text() -> str:
    """An R4 bundle with an element that is not FHIR (the validator's unknown-element)."""
    bundle = json.loads(fhir.write_json(_report()))
    patient = next(e["resource"] for e in bundle["entry"]
                   if e["resource"]["resourceType"] == "Patient")
    patient["favouriteColour"] = "blue"
    return json.dumps(bundle, indent=1)


@cache
def _response_text() -> str:
    response, _issues = sdc.write(_report())
    response["status"] = "in-progress"  # a warning from the form reader
    return json.dumps(response)


class _PathLike:
    """An os.PathLike that is not a pathlib.Path."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return str(self.path)


def _byte_kinds(data: bytes, tmp: Path) -> dict[str, Callable[[], Any]]:
    """Every kind that carries these bytes (a fresh object per call: file objects are read
    once)."""
    path = tmp / "input.bin"
    path.write_bytes(data)
    return {
        "Path": lambda: path,
        "os.PathLike": lambda: _PathLike(path),
        "str path": lambda: str(path),
        "bytes": lambda: data,
        "bytearray": lambda: bytearray(data),
        "memoryview": lambda: memoryview(data),
        "BytesIO": lambda: io.BytesIO(data),
        "open file": lambda: path.open("rb"),
    }


def _json_kinds(text: str, tmp: Path) -> dict[str, Callable[[], Any]]:
    kinds = _byte_kinds(text.encode("utf-8"), tmp)
    kinds.update({
        "text": lambda: text,
        "text after BOM and whitespace": lambda: "\ufeff \n\t" + text,
        "dict": lambda: json.loads(text),
    })
    return kinds


def _same(results: dict[str, Any]) -> None:
    """Every kind gave what the first gave."""
    (first_kind, first), *rest = results.items()
    for kind, result in rest:
        assert result == first, f"{kind} differs from {first_kind}"


def _reading(reading: Any) -> tuple[ImagingReport | None, tuple[Issue, ...]]:
    return reading[0], tuple(reading[1])


# ------------------------------------------------------------------------------------------
# One content, every kind, one answer


def test_sr_reader_and_validator_agree_on_every_kind(tmp_path: Path) -> None:
    kinds = _byte_kinds(_sr_bytes(), tmp_path)
    readings = {k: _reading(dicom.read(make())) for k, make in kinds.items()}
    _same(readings)
    report, issues = readings["bytes"]
    assert report is not None and report.patient.sex is None
    assert "invalid-value" in {i.code for i in issues}
    results = {k: validate_sr(make()).issues for k, make in kinds.items()}
    _same(results)
    assert results["bytes"], "the validator has something to say about this SR"
    # the parsed model: a pydicom Dataset gives the same report
    ds = dicom.write(_report())
    ds.PatientSex = "X"
    assert dicom.read(ds).report == report


def test_fhir_reader_and_validator_agree_on_every_kind(tmp_path: Path) -> None:
    text = _bundle_text()
    kinds = _json_kinds(text, tmp_path)
    readings = {k: _reading(fhir.read(make())) for k, make in kinds.items()}
    _same(readings)
    assert readings["text"][0] == _report()
    results = {k: validate_fhir(make(), "R4", "base").issues for k, make in kinds.items()}
    _same(results)
    assert [i.code for i in results["text"]] == ["unknown-element"]
    # the parsed model: a fhir.resources Bundle reads and validates like its JSON
    model = fhir.write(_report())
    assert fhir.read(model).report == fhir.read(fhir.to_json(model)).report == _report()
    assert validate_fhir(model).issues == validate_fhir(fhir.to_json(model)).issues == ()


def test_form_reader_agrees_on_every_kind(tmp_path: Path) -> None:
    kinds = _json_kinds(_response_text(), tmp_path)
    readings = {k: _reading(sdc.read(make())) for k, make in kinds.items()}
    _same(readings)
    report, issues = readings["Path"]
    assert report is not None and report.findings == _report().findings
    assert [(i.severity, i.code) for i in issues] == [("warning", "invalid-value")]


def test_validator_labels_name_the_path_or_the_file(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(_bundle_text(), "utf-8")
    assert validate_fhir(path).file == validate_fhir(str(path)).file == str(path)
    assert validate_fhir(_PathLike(path)).file == str(path)
    with path.open("rb") as handle:
        assert validate_fhir(handle).file == str(path)
    assert validate_fhir(_bundle_text()).file == "<input>"
    sr = tmp_path / "r.dcm"
    sr.write_bytes(_sr_bytes())
    with sr.open("rb") as handle:
        assert validate_sr(handle).file == str(sr)
    assert validate_sr(io.BytesIO(_sr_bytes())).file == "<bytes>"


# ------------------------------------------------------------------------------------------
# The rule for str


def test_the_str_rule() -> None:
    assert sources.is_json_text('{"resourceType": "Bundle"}')
    assert sources.is_json_text("\ufeff\n  [1]")
    assert not sources.is_json_text("  \ufeff{}")  # a byte order mark comes first or not at all
    for path in ("x.json", "/tmp/{x}.json", "", "   ", "C:\\data\\{.json", "\ufeffx"):
        assert not sources.is_json_text(path), path
    assert sources.kind_of("{}", json_text=True) == "text"
    assert sources.kind_of("{}", json_text=False) == "path"  # DICOM: a str is always a path
    assert sources.kind_of(Path("x"), json_text=True) == "path"
    assert sources.kind_of(memoryview(b""), json_text=True) == "bytes"
    assert sources.kind_of(io.BytesIO(), json_text=True) == "file"
    assert sources.kind_of({}, json_text=True) == "other"


def test_a_str_that_is_not_json_is_a_path_for_the_fhir_reader(tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_text(_bundle_text(), "utf-8")
    assert fhir.read(str(path)).report == _report()
    report, issues = fhir.read("no-such-bundle.json")
    assert report is None
    assert [(i.code, i.message) for i in issues] == [
        ("unreadable", "cannot read no-such-bundle.json: No such file or directory")]


# ------------------------------------------------------------------------------------------
# Unreadable sources: an issue with the path and the reason, never an exception


@dataclass(frozen=True)
class Entry:
    name: str
    run: Callable[[Any], list[Issue]]


ENTRIES = [
    Entry("dicom.read", lambda s: list(dicom.read(s).issues)),
    Entry("fhir.read", lambda s: list(fhir.read(s).issues)),
    Entry("sdc.read", lambda s: list(sdc.read(s).issues)),
    Entry("validate_sr", lambda s: list(validate_sr(s).issues)),
    Entry("validate_fhir", lambda s: list(validate_fhir(s).issues)),
]


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
@pytest.mark.parametrize("as_str", [False, True], ids=["Path", "str"])
def test_unreadable_paths_give_an_issue_with_the_path_and_reason(
        entry: Entry, as_str: bool, tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    for path, reason in ((missing, "No such file or directory"),
                         (tmp_path, "Is a directory")):
        (issue,) = entry.run(str(path) if as_str else path)
        assert issue.code == "unreadable" and issue.severity == "error"
        assert issue.message == f"cannot read {path}: {reason}"


class _Broken(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        raise OSError(5, "Input/output error")


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_failing_and_text_file_objects_give_an_issue(entry: Entry) -> None:
    (issue,) = entry.run(_Broken())
    assert issue.code == "unreadable" and "Input/output error" in issue.message
    (issue,) = entry.run(io.StringIO("{}"))
    assert issue.code == "unreadable" and "open it in binary mode" in issue.message
    (issue,) = entry.run(object())
    assert issue.code == "unreadable" and "object" in issue.message


# ------------------------------------------------------------------------------------------
# Byte limits on every kind


class _Endless(io.RawIOBase):
    """A stream that never ends; remembers how much was asked of it."""

    def __init__(self, fill: bytes = b" ") -> None:
        self.asked = 0
        self.fill = fill

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        assert size >= 0, "an endless stream must never be read whole"
        self.asked += size
        return self.fill * size


def _limit_kinds(limit: int, tmp: Path, json_text: bool) -> dict[str, Callable[[], Any]]:
    data = b"{" + b" " * limit + b"}"
    kinds = _byte_kinds(data, tmp)
    if json_text:
        kinds["text"] = lambda: data.decode()
    return kinds


def test_dicom_limits_on_every_kind(tmp_path: Path) -> None:
    limit = 1000
    for kind, make in _limit_kinds(limit, tmp_path, json_text=False).items():
        assert [i.code for i in dicom.read(make(), max_bytes=limit).issues] == ["too-large"], kind
        result = validate_sr(make(), limits=Limits(max_bytes=limit))
        assert [i.code for i in result.issues] == ["too-large"], kind
    stream = _Endless()
    assert [i.code for i in dicom.read(stream, max_bytes=limit).issues] == ["too-large"]
    assert stream.asked == limit + 1


def test_fhir_reader_and_form_reader_limits_on_every_kind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from icans_interop.fhir import reader
    from icans_interop.sdc import extract

    limit = 1000
    monkeypatch.setattr(reader, "MAX_SIZE", limit)
    monkeypatch.setattr(extract, "MAX_BYTES", limit)
    for kind, make in _limit_kinds(limit, tmp_path, json_text=True).items():
        assert [i.code for i in fhir.read(make()).issues] == ["too-large"], kind
        assert [i.code for i in sdc.read(make()).issues] == ["too-large"], kind
    for read in (fhir.read, sdc.read):
        stream = _Endless()
        assert [i.code for i in read(stream).issues] == ["too-large"]
        assert stream.asked == limit + 1


def test_fhir_validator_limit_on_every_kind(tmp_path: Path) -> None:
    from icans_interop.validation import fhir_json

    limit = fhir_json.MAX_BYTES
    for kind, make in _limit_kinds(limit, tmp_path, json_text=True).items():
        result = validate_fhir(make())
        assert [(i.code, i.location) for i in result.issues] == [
            ("too-large", result.file)], kind
    stream = _Endless(b"[")
    assert [i.code for i in validate_fhir(stream).issues] == ["too-large"]
    assert stream.asked == limit + 1


def test_a_regular_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.dcm"
    with path.open("wb") as handle:
        handle.truncate(5000)  # sparse: its size says enough
    with pytest.raises(sources.SourceError, match=r"big\.dcm has 5,000 bytes; the limit is 1,000"):
        sources.read_bytes(path, 1000, json_text=False)


def test_a_pipe_is_read_up_to_the_limit(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"x" * 2000)
        os.close(write_end)
        write_end = -1
        with pytest.raises(sources.SourceError, match="more than 1,000 bytes"):
            sources.read_bytes(f"/dev/fd/{read_end}", 1000, json_text=False)
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
