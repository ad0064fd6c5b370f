"""validate_fhir detects the FHIR version by default; one detection for every source kind."""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path

import pytest

from icans_interop import fhir
from icans_interop.model import ImagingReport, load_case
from icans_interop.sniff import detect_fhir_version
from icans_interop.validation import runner
from icans_interop.validation.fhir import validate_fhir
from tests.test_sources import OneShot

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "fixtures" / "valid" / "example-grade3-deep.json"


@cache
def _report() -> ImagingReport:
    return load_case(CASE.read_text("utf-8"))


@cache
def _text(version: str) -> str:
    return fhir.write_json(_report(), version=version)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_validate_fhir_without_a_version_detects_it(version: str, tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_text(_text(version), "utf-8")
    for source in (path, str(path), _text(version), _text(version).encode(),
                   io.BytesIO(_text(version).encode()), json.loads(_text(version)),
                   fhir.write(_report(), version=version)):  # type: ignore[arg-type]
        result = validate_fhir(source)
        assert result.fhir_version == version
        assert not [i for i in result.issues if i.code == "unknown-element"], result.to_text()
        assert result.valid, result.to_text()
    assert result.to_dict()["fhir_version"] == version
    assert f"(fhir {version}; 0 errors" in result.to_text()


def test_an_explicit_version_is_honoured() -> None:
    as_r4 = validate_fhir(_text("R5"), "R4")
    assert as_r4.fhir_version == "R4"
    unknown = [i for i in as_r4.issues if i.code == "unknown-element"]
    assert len(unknown) >= 10, "an R5 bundle read as R4 has R5-only elements"
    assert validate_fhir(_text("R5"), version="R5").issues == validate_fhir(_text("R5")).issues
    assert validate_fhir(_text("R4"), "R5").fhir_version == "R5"
    bad = validate_fhir(_text("R4"), "R6")  # type: ignore[arg-type]
    assert [i.code for i in bad.issues] == ["invalid-value"] and bad.fhir_version is None


def test_detection_on_every_kind(tmp_path: Path) -> None:
    for version in ("R4", "R5"):
        text = _text(version)
        path = tmp_path / f"{version}.json"
        path.write_text(text, "utf-8")
        handle = io.BytesIO(b"  " + text.encode())
        handle.read(2)
        for source in (path, str(path), text, text.encode(), bytearray(text.encode()),
                       memoryview(text.encode()), json.loads(text), handle):
            assert detect_fhir_version(source) == version, type(source).__name__
        assert handle.tell() == 2, "a seekable file object is put back where it was"
    assert detect_fhir_version(fhir.write(_report(), version="R5")) == "R5"
    assert detect_fhir_version(fhir.write(_report(), version="R4")) == "R4"
    assert detect_fhir_version(tmp_path / "missing.json") == "R4"
    assert runner.detect_fhir_version is detect_fhir_version  # one function, re-exported


def test_a_stream_that_cannot_seek_is_not_consumed_silently() -> None:
    class Stream(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            raise AssertionError("must not be read")

    with pytest.raises(ValueError, match="read it into bytes first"):
        detect_fhir_version(Stream())
    # the validator reads a stream once and detects the version on its bytes
    stream = OneShot(_text("R5").encode())
    assert not stream.seekable()
    result = validate_fhir(stream)
    assert result.fhir_version == "R5" and result.valid, result.to_text()


def test_sr_and_case_results_carry_no_fhir_version(tmp_path: Path) -> None:
    case = tmp_path / "case.json"
    case.write_text(CASE.read_text("utf-8"), "utf-8")
    result = runner.validate_one(case)
    assert result.kind == "case" and result.fhir_version is None
    assert "fhir_version" not in result.to_dict()
