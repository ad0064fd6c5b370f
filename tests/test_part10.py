"""The byte layer (``icans_interop.dicom.part10``) against pydicom's own reading.

The parser is hand-written for speed (``bench/bench_validate_sr.py``), so it must read exactly
what pydicom reads: on every SR of the test corpora -- our writer's documents in all three SOP
classes, the documents highdicom and dcmqi write (``tests/corpus_sr.py``), the same documents
re-encoded in the other transfer syntaxes and with undefined lengths, and byte-mutated files
pydicom can still read -- the tree has the same tags, the same VRs (where the file states
them), the same raw values and the same sequence structure as ``pydicom.dcmread``.

Also: ``validate_sr`` parses each input once, and both limits (nesting, content items) give
the same answer to the reader and the validator.
"""

from __future__ import annotations

import copy
import io
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import require, require_module
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from icans_interop import dicom
from icans_interop.dicom import part10, tags
from icans_interop.dicom.part10 import Item, Parsed, Part10Error
from icans_interop.model import load_case
from icans_interop.validation.sr import validate_sr

ROOT = Path(__file__).resolve().parent.parent
CASES = sorted((ROOT / "fixtures" / "valid").glob("*.json"))
SOP_CLASSES = ("comprehensive-3d", "enhanced", "comprehensive")


def _pydicom(data: bytes) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dcmread(io.BytesIO(data), force=False)


def _differences(ours: Item, theirs: Dataset, path: str, out: list[str]) -> None:
    """Every way ``ours`` differs from pydicom's data set (empty: the same tree)."""
    # keys(), not iteration: iterating a Dataset converts its raw elements
    their_tags = {int(tag) for tag in theirs.keys()}  # noqa: SIM118
    if set(ours) != their_tags:
        out.append(f"{path}: tags differ: only ours {sorted(set(ours) - their_tags)}, "
                   f"only pydicom's {sorted(their_tags - set(ours))}")
        return
    for tag in theirs.keys():  # noqa: SIM118
        where = f"{path} {tags.tag_text(tag)}"
        vr, value, _offset = ours[int(tag)]
        element: Any = theirs.get_item(tag)
        if isinstance(element, RawDataElement) and (element.VR == "SQ" or (
                element.VR in (None, "UN") and isinstance(value, list))):
            element = theirs[tag]  # pydicom parses the sequence's bytes itself
        if isinstance(element, RawDataElement):
            if element.VR is not None and vr != element.VR and not (
                    element.VR == "UN" and vr == tags.implicit_vr(tag)):
                out.append(f"{where}: VR {vr} vs pydicom's {element.VR}")
            raw = element.value or b""
            if not isinstance(value, bytes) or value != raw:
                out.append(f"{where}: value {value!r:.60} vs pydicom's {raw!r:.60}")
            continue
        if element.VR == "SQ" or isinstance(value, list):
            items = list(element.value or ())
            if not isinstance(value, list) or len(value) != len(items):
                out.append(f"{where}: sequence of {len(items)} items vs ours {value!r:.60}")
                continue
            for index, (mine, item) in enumerate(zip(value, items, strict=True), start=1):
                _differences(mine, item, f"{where}[{index}]", out)
            continue
        if vr != element.VR:  # pydicom converted it already (the file meta elements)
            out.append(f"{where}: VR {vr} vs pydicom's {element.VR}")
        elif not _same_value(value, element.value):
            out.append(f"{where}: value {value!r:.60} vs pydicom's {element.value!r:.60}")


def _same_value(raw: Any, converted: Any) -> bool:
    """Our raw bytes against a value pydicom has already converted (file meta)."""
    if not isinstance(raw, bytes):
        return False
    if converted is None or converted == "":
        return raw.strip(b" \x00") == b""
    if isinstance(converted, int):
        return len(raw) == 4 and int.from_bytes(raw, "little") == converted
    if isinstance(converted, bytes):
        return raw == converted
    return raw.decode("latin-1").strip().strip("\x00").strip() == str(converted).strip()


def differences(data: bytes) -> list[str]:
    """How our parse of ``data`` differs from pydicom's (both must read it)."""
    parsed = part10.parse(data)
    theirs = _pydicom(data)
    found: list[str] = []
    _differences(parsed.meta, theirs.file_meta, "File Meta", found)
    _differences(parsed.dataset, theirs, "Data Set", found)
    return found


def _encode(ds: Dataset, syntax: str | None = None, undefined: bool = False) -> bytes:
    ds = copy.deepcopy(ds)
    if syntax is not None:
        ds.file_meta.TransferSyntaxUID = syntax
    if undefined:
        stack = [ds]
        while stack:
            current = stack.pop()
            for element in current:
                if element.VR == "SQ":
                    element.is_undefined_length = True
                    stack.extend(element.value)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _ours() -> list[tuple[str, Dataset]]:
    found = []
    for case in CASES:
        report = load_case(case.read_text(encoding="utf-8"))
        for sop_class in SOP_CLASSES:
            found.append((f"{case.stem}.{sop_class}", dicom.write(report, sop_class=sop_class)))
    return found


def _theirs() -> list[tuple[str, bytes]]:
    """The SRs highdicom writes (its API) and dcmqi's tid1500writer writes (its binary)."""
    require_module("highdicom")
    import corpus_sr

    found = [(name, corpus_sr.build(name)) for name in corpus_sr.SCENARIOS]
    if corpus_sr.dcmqi_writer() is None:
        require("dcmqi's tid1500writer (PyPI package dcmqi) is not installed")
    else:
        found.extend((f"dcmqi/{name}", corpus_sr.build_dcmqi(name))
                     for name in corpus_sr.DCMQI_SCENARIOS)
    return found


@pytest.mark.parametrize(("name", "ds"), _ours(), ids=lambda x: x if isinstance(x, str) else "")
def test_our_documents_parse_as_pydicom_reads_them(name: str, ds: Dataset) -> None:
    data = dicom.to_bytes(ds)
    assert differences(data) == [], name


@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, ExplicitVRBigEndian,
                                    DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian])
@pytest.mark.parametrize("undefined", [False, True], ids=["defined", "undefined-lengths"])
def test_every_transfer_syntax_parses_as_pydicom_reads_it(syntax: str, undefined: bool) -> None:
    for name, ds in _ours()[::5]:
        data = _encode(ds, syntax, undefined)
        assert differences(data) == [], (name, syntax)


def test_other_producers_documents_parse_as_pydicom_reads_them() -> None:
    documents = _theirs()
    assert len(documents) >= 20
    for name, data in documents:
        assert differences(data) == [], name
        assert differences(_encode(_pydicom(data), undefined=True)) == [], name


_BASE = dicom.to_bytes(dicom.write(load_case(CASES[0].read_text(encoding="utf-8"))))
_AGREED: list[int] = []


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(132, len(_BASE) - 1), st.integers(0, 255)),
                min_size=1, max_size=6))
def test_mutated_files_pydicom_reads_parse_the_same(flips: list[tuple[int, int]]) -> None:
    """Byte-flipped files: whenever pydicom and we both read one, the trees are equal."""
    data = bytearray(_BASE)
    for position, value in flips:
        data[position] = value
    try:
        theirs = _pydicom(bytes(data))
        list(theirs.keys())
    except Exception:
        return  # pydicom cannot read it: nothing to compare with
    try:
        found = differences(bytes(data))
    except Part10Error:
        return  # we refuse what pydicom accepted (its reading is lenient): allowed
    except Exception:
        return
    assert found == []
    _AGREED.append(1)


def test_the_mutation_comparison_compared_something() -> None:
    """The fuzz comparison above is not vacuous: most mutations keep the file readable."""
    test_mutated_files_pydicom_reads_parse_the_same()
    assert len(_AGREED) >= 100, len(_AGREED)


def test_differences_can_fail() -> None:
    """The comparison notices a changed value and a missing element (it is not vacuous)."""
    data = bytearray(_BASE)
    at = bytes(data).index(b"CONTAINER")
    data[at] = ord("K")
    parsed = part10.parse(bytes(data))
    theirs = _pydicom(_BASE)
    found: list[str] = []
    _differences(parsed.dataset, theirs, "Data Set", found)
    assert any("value" in line for line in found)
    del parsed.dataset[int(tags.PATIENT_ID)]
    found = []
    _differences(parsed.dataset, theirs, "Data Set", found)
    assert any("tags differ" in line for line in found)


def test_validate_sr_parses_each_input_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = part10.parse

    def counting(data: bytes, **kwargs: Any) -> Parsed:
        calls.append(len(data))
        return real(data, **kwargs)

    monkeypatch.setattr(part10, "parse", counting)
    for profile in ("base", "icans"):
        calls.clear()
        result = validate_sr(_BASE, profile)  # type: ignore[arg-type]
        assert result.valid, result.to_text()
        assert len(calls) == 1, (profile, calls)


def test_a_deflate_bomb_is_refused_without_inflating_it() -> None:
    """1 MiB that inflates to 1 GiB: refused as too-large by both, inflating at most the
    limit (the limit here is 8 MiB, so nothing near a gibibyte is ever held)."""
    import zlib

    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_file_meta_info

    meta = dcmread(io.BytesIO(_BASE)).file_meta
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buffer = DicomBytesIO()
    write_file_meta_info(buffer, meta, enforce_standard=True)
    prefix = b"\x00" * 128 + b"DICM" + buffer.getvalue()
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    chunk = b"\x00" * (1 << 20)
    body = b"".join(compressor.compress(chunk) for _ in range(1024)) + compressor.flush()
    assert len(body) < 2 << 20
    limits = part10.Limits(max_bytes=8 << 20)
    with pytest.raises(Part10Error, match="inflates to more than"):
        part10.parse(prefix + body, limits=limits)
    report, issues = dicom.read(prefix + body, limits=limits)
    assert report is None and [i.code for i in issues] == ["too-large"]
    result = validate_sr(prefix + body, limits=limits)
    assert [i.code for i in result.issues] == ["too-large"]
