"""Fuzzing the SR validator: mutated files never raise, never hang, never hit an internal error.

Mutations start from valid SRs (ours in two SOP classes, and highdicom's when installed):

* byte level: flipped bytes, truncation, deleted or duplicated byte ranges, value types
  swapped in place (``CODE`` <-> ``TEXT`` <-> ``DATE`` ...), padding bytes;
* data-set level: a deleted or duplicated element, a duplicated or removed content item, value
  types swapped between items, giant strings, by-reference items pointing anywhere.

Every input must give a :class:`ValidationResult` (no exception), no ``internal-error`` issue,
and take less than one second of CPU. The suite runs ~200 examples; ``make fuzz`` sets
``FUZZ_EXAMPLES`` (examples per test) to run many more, or call :func:`fuzz` directly.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import random
import warnings
import zlib
from functools import lru_cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian

from icans_interop import dicom
from icans_interop.dicom.part10 import Limits
from icans_interop.validation.result import ValidationResult
from icans_interop.validation.sr import validate_sr
from tests.workbound import watchdog

try:
    from test_sr_defects import base_dataset, by_reference, encode, items
except ImportError:  # pragma: no cover - run as a package
    from tests.test_sr_defects import (  # type: ignore[no-redef]
        base_dataset,
        by_reference,
        encode,
        items,
    )

#: Examples per fuzz test (the suite's default keeps the whole file to ~200 inputs).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0")) or None
_BYTE_EXAMPLES = EXAMPLES or 120
_DATASET_EXAMPLES = EXAMPLES or 80
_SAME_LENGTH_VTS = [[b"CODE", b"TEXT", b"DATE", b"TIME"], [b"UIDREF", b"PNAME ", b"SCOORD",
                                                           b"TCOORD", b"IMAGE "]]
_SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow,
                                                          HealthCheck.data_too_large]}


@lru_cache(maxsize=1)
def corpus() -> tuple[bytes, ...]:
    """Valid SRs the mutations start from."""
    documents = [encode(base_dataset("comprehensive-3d")), encode(base_dataset("enhanced"))]
    try:
        from test_validate_sr import highdicom_sr
    except Exception:  # highdicom missing: our documents only
        return tuple(documents)
    with contextlib.suppress(Exception):
        documents.append(encode(highdicom_sr(findings=2, rois=True)))
    return tuple(documents)


def check_input(data: bytes | Dataset, profile: str) -> ValidationResult:
    """The fuzz property: a result, no internal error, no hang (a watchdog, not a time
    limit: speed is measured in bench/)."""
    with watchdog():
        result = validate_sr(data, profile)  # type: ignore[arg-type]
    assert isinstance(result, ValidationResult)
    internal = [str(i) for i in result.issues if i.code == "internal-error"]
    assert not internal, internal
    return result


# ---------------------------------------------------------------------------------------------
# Byte-level mutations


def mutate_bytes(data: bytes, rng: random.Random, operations: int) -> bytes:
    buffer = bytearray(data)
    for _ in range(operations):
        if not buffer:
            break
        choice = rng.randrange(7)
        at = rng.randrange(len(buffer))
        if choice == 0:  # flip a byte
            buffer[at] = rng.randrange(256)
        elif choice == 1:  # truncate
            del buffer[at:]
        elif choice == 2:  # delete a range
            del buffer[at:at + rng.randrange(1, 64)]
        elif choice == 3:  # duplicate a range
            chunk = buffer[at:at + rng.randrange(1, 256)]
            buffer[at:at] = chunk
        elif choice == 4:  # swap a value type in place
            group = rng.choice(_SAME_LENGTH_VTS)
            old, new = rng.sample(group, 2)
            position = buffer.find(old, at)
            if position >= 0:
                buffer[position:position + len(old)] = new
        elif choice == 5:  # a length field made huge
            buffer[at:at + 4] = b"\xff\xff\xff\x7f"
        else:  # a run of junk
            buffer[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 32)))
    return bytes(buffer)


def fuzz_bytes(examples: int) -> None:
    @settings(max_examples=examples, **_SETTINGS)  # type: ignore[arg-type]
    @given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.sampled_from(["base", "icans"]))
    def run(seed: int, operations: int, profile: str) -> None:
        rng = random.Random(seed)
        documents = corpus()
        data = mutate_bytes(documents[rng.randrange(len(documents))], rng, operations)
        check_input(data, profile)

    run()


def test_fuzz_bytes() -> None:
    fuzz_bytes(_BYTE_EXAMPLES)


# ---------------------------------------------------------------------------------------------
# Data-set-level mutations


def mutate_dataset(ds: Dataset, rng: random.Random, operations: int) -> Dataset:
    for _ in range(operations):
        content = list(items(ds))
        path, item = content[rng.randrange(len(content))]
        choice = rng.randrange(7)
        keywords = [element.keyword for element in item if element.keyword]
        if choice == 0 and keywords:  # delete an element
            delattr(item, rng.choice(keywords))
        elif choice == 1 and "ContentSequence" in item and item.ContentSequence:
            sequence = item.ContentSequence  # duplicate a child (a copy: no shared objects)
            sequence.append(copy.deepcopy(sequence[rng.randrange(len(sequence))]))
        elif choice == 2 and "ContentSequence" in item and item.ContentSequence:
            del item.ContentSequence[rng.randrange(len(item.ContentSequence))]
        elif choice == 3:  # swap value types between two items
            _other_path, other = content[rng.randrange(len(content))]
            if "ValueType" in item and "ValueType" in other:
                item.ValueType, other.ValueType = other.ValueType, item.ValueType
        elif choice == 4:  # a giant string
            target = rng.choice(["TextValue", "Manufacturer", "PatientName", "UID",
                                 "SeriesDescription"])
            setattr(item if target in ("TextValue", "UID") else ds, target,
                    "x" * rng.choice([65, 1024, 100_000, 1_000_000]))
        elif choice == 5:  # a by-reference item pointing anywhere (maybe at an ancestor)
            target = [1, *(rng.randrange(1, 12) for _ in range(rng.randrange(0, 4)))]
            if "ContentSequence" not in item:
                item.ContentSequence = []
            item.ContentSequence.append(by_reference(
                rng.choice(["INFERRED FROM", "HAS PROPERTIES", "CONTAINS"]), target))
        elif choice == 6 and keywords:  # copy an element's value into another item
            keyword = rng.choice(keywords)
            _other_path, other = content[rng.randrange(len(content))]
            if item[keyword].VR != "SQ":  # (a sequence could make the object graph cyclic)
                setattr(other, keyword, getattr(item, keyword))
        del path
    return ds


def fuzz_datasets(examples: int) -> None:
    @settings(max_examples=examples, **_SETTINGS)  # type: ignore[arg-type]
    @given(st.integers(0, 2**32 - 1), st.integers(1, 4), st.sampled_from(["base", "icans"]),
           st.booleans())
    def run(seed: int, operations: int, profile: str, as_bytes: bool) -> None:
        rng = random.Random(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns on the invalid values we plant
            ds = mutate_dataset(base_dataset(rng.choice(["comprehensive-3d", "enhanced",
                                                         "comprehensive"])), rng, operations)
        if as_bytes:
            try:
                data: bytes | Dataset = encode(ds)
            except Exception:  # pydicom cannot write this mutation: validate the Dataset
                data = ds
        else:
            data = ds
        check_input(data, profile)

    run()


def test_fuzz_datasets() -> None:
    fuzz_datasets(_DATASET_EXAMPLES)


def fuzz(examples: int = 10_000) -> None:
    """Entry point for long runs (``make fuzz`` sets FUZZ_EXAMPLES for the tests instead)."""
    fuzz_bytes(examples)
    fuzz_datasets(examples)


if __name__ == "__main__":  # python tests/test_sr_fuzz.py [examples]
    import sys

    fuzz(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)


# ---------------------------------------------------------------------------------------------
# Deflated files: bombs, truncated and corrupt streams, bodies just under and over the limit


#: Each input compresses up to 8 MiB: a long run is capped at 2,000 of them.
_DEFLATE_EXAMPLES = min(EXAMPLES, 2000) if EXAMPLES else 40
#: A small limit so inputs around it are cheap to build; the code path is the default's.
_SMALL = Limits(max_bytes=2 << 20)


def _deflated_file(document: bytes, body: bytes) -> bytes:
    """``document``'s preamble and file meta (Transfer Syntax changed to deflated) + ``body``."""
    ds = dcmread(io.BytesIO(document))
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_file_meta_info(buffer, ds.file_meta, enforce_standard=True)
    return b"\x00" * 128 + b"DICM" + buffer.getvalue() + body


def test_fuzz_deflated() -> None:
    @settings(max_examples=_DEFLATE_EXAMPLES, **_SETTINGS)  # type: ignore[arg-type]
    @given(st.integers(0, 2**32 - 1), st.integers(0, 4 * _SMALL.max_bytes),
           st.sampled_from(["zeros", "dataset", "corrupt", "truncated"]))
    def run(seed: int, size: int, kind: str) -> None:
        rng = random.Random(seed)
        documents = corpus()
        document = documents[rng.randrange(len(documents))]
        compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        if kind == "dataset":  # the real body, padded with zeros to ``size``
            start = document.index(b"\x08\x00", 132 + 12)
            plain = document[start:] + b"\x00" * max(0, size - len(document))
        else:
            plain = b"\x00" * size
        body = compressor.compress(plain) + compressor.flush()
        if kind == "corrupt" and body:
            at = rng.randrange(len(body))
            body = body[:at] + bytes([body[at] ^ 0xFF]) + body[at + 1:]
        elif kind == "truncated":
            body = body[:rng.randrange(len(body) + 1)]
        data = _deflated_file(document, body)
        with watchdog():
            result = validate_sr(data, "icans", limits=_SMALL)
            report, found = dicom.read(data, limits=_SMALL)
        for issues in (result.issues, found):
            assert "internal-error" not in {i.code for i in issues}
        if len(plain) > _SMALL.max_bytes and kind in ("zeros", "dataset"):
            assert [i.code for i in found] == ["too-large"], found  # refused at the cap
            assert report is None
        elif len(plain) > _SMALL.max_bytes:  # damaged: refused, whichever comes first
            assert {i.code for i in found} & {"too-large", "unreadable"}, found
            assert report is None

    run()
