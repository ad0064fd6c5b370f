"""A real PACS (Debian's Orthanc, in a private network namespace) stores our SRs unchanged."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread

try:
    import oracles
except ImportError:  # tests/ imported as a package
    from tests import oracles  # type: ignore[no-redef]

from icans_interop import dicom
from icans_interop.model import load_case

FIXTURES = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "valid").glob("*.json"))
SOP_CLASSES = ("comprehensive-3d", "enhanced", "comprehensive")


@pytest.fixture(scope="module")
def pacs() -> Iterator[oracles.OrthancServer]:
    oracles.require(oracles.orthanc_skip_reason())
    with oracles.OrthancServer() as server:
        yield server


def _sr_bytes(case: Path, sop_class: str) -> bytes:
    dataset = dicom.write(load_case(case.read_bytes()), sop_class=sop_class)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.mark.parametrize("sop_class", SOP_CLASSES)
@pytest.mark.parametrize("case", FIXTURES, ids=lambda p: p.stem)
def test_pacs_returns_our_sr_byte_identical(pacs: oracles.OrthancServer, case: Path,
                                            sop_class: str) -> None:
    sent = _sr_bytes(case, sop_class)
    returned = pacs.store_and_fetch(sent)
    assert returned == sent
    report, issues = dicom.read(dcmread(io.BytesIO(returned)))
    assert report == load_case(case.read_bytes())
    assert not [i for i in issues if i.severity == "error"]


def test_pacs_cstore_keeps_the_dataset(pacs: oracles.OrthancServer, tmp_path: Path) -> None:
    case = FIXTURES[0]
    # another revision than the byte-identical test stored: a new instance for this PACS
    dataset = dicom.write(load_case(case.read_bytes()).model_copy(update={"revision": 7}))
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    sent = buffer.getvalue()
    path = tmp_path / "sr.dcm"
    path.write_bytes(sent)
    before = set(pacs.instances())
    assert pacs.store_via_cstore(path) == "0x0000"
    (instance,) = set(pacs.instances()) - before
    returned = dcmread(io.BytesIO(pacs.fetch(instance)))
    original = dcmread(io.BytesIO(sent))
    # C-STORE rewrites only the File Meta Information (implementation UID/version); the data
    # set itself must come back unchanged.
    assert returned == original
