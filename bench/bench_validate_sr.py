"""Benchmark: validating ten-finding SRs, against highdicom's parse and pydicom's read + walk.

One ten-finding TID 1500 document is written with our writer (``fixtures/valid/
ten-findings.json``, Comprehensive 3D SR) and serialised to bytes; the same bytes are then, in
the same process:

* validated with :func:`icans_interop.validation.sr.validate_sr` (profile ``base``: DICOM, SR,
  template and code levels; and profile ``icans``, which also reads the document into the
  domain model and applies the semantic rules) ``--count`` times (default 1,000);
* parsed by highdicom: ``hd.sr.Comprehensive3DSR.from_dataset(dcmread(...))``;
* read by pydicom and walked: ``dcmread`` and a visit of every content item (value type,
  relationship, concept name and the item's value), the floor for touching the whole tree.

The same is repeated on a ten-finding document written by highdicom. Each timing is the best
of several rounds (mean per file within a round). Printed: per-file times and the two ratios
(targets: highdicom parse / validate_sr >= 5; validate_sr / pydicom read+walk <= 2). Run
``python bench/bench_validate_sr.py [--count N]``. No assertions: this is a measurement.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset

from icans_interop import dicom, model
from icans_interop.validation.sr import validate_sr

ROOT = Path(__file__).resolve().parent.parent
TEN = ROOT / "fixtures" / "valid" / "ten-findings.json"


def our_document() -> bytes:
    report = model.load_case(TEN.read_text(encoding="utf-8"))
    if len(report.findings) != 10:
        raise SystemExit(f"{TEN} should have 10 findings, has {len(report.findings)}")
    return dicom.to_bytes(dicom.write(report, sop_class="comprehensive-3d"))


def highdicom_document() -> bytes | None:
    """The ten-finding document of the tests, written by highdicom (None without it)."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from test_validate_sr import highdicom_sr
    except Exception:
        return None
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        highdicom_sr(findings=10).save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def pydicom_read_and_walk(data: bytes) -> int:
    """pydicom's full read and a walk of every content item (values included)."""
    ds = dcmread(io.BytesIO(data))
    stack: list[Dataset] = [ds]
    visited = 0
    while stack:
        item = stack.pop()
        visited += 1
        vt = item.get("ValueType")
        item.get("RelationshipType")
        names = item.get("ConceptNameCodeSequence")
        if names:
            name = names[0]
            _ = (name.CodeValue, name.CodingSchemeDesignator, name.CodeMeaning)
        if vt == "CODE":
            value = item.ConceptCodeSequence[0]
            _ = (value.CodeValue, value.CodingSchemeDesignator, value.CodeMeaning)
        elif vt == "TEXT":
            _ = item.TextValue
        elif vt == "UIDREF":
            _ = item.UID
        elif vt == "PNAME":
            _ = item.PersonName
        elif vt == "NUM":
            measured = item.get("MeasuredValueSequence")
            if measured:
                _ = (measured[0].NumericValue,
                     measured[0].MeasurementUnitsCodeSequence[0].CodeValue)
        elif vt in ("IMAGE", "COMPOSITE", "WAVEFORM"):
            reference = item.ReferencedSOPSequence[0]
            _ = (reference.ReferencedSOPClassUID, reference.ReferencedSOPInstanceUID)
        children = item.get("ContentSequence")
        if children:
            stack.extend(children)
    return visited


def best_per_call(function: Callable[[], Any], count: int, rounds: int = 5) -> float:
    """Best round's mean seconds per call; ``count`` calls in all."""
    function()  # warm caches (tables, imports)
    per_round = max(1, count // rounds)
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(per_round):
            function()
        best = min(best, (time.perf_counter() - started) / per_round)
    return best


def measure(label: str, data: bytes, count: int) -> tuple[float, float, float]:
    import highdicom as hd

    result = validate_sr(data, "base")
    if not result.valid:
        raise SystemExit(f"{label}: the benchmark document is not valid:\n{result.to_text()}")
    base = best_per_call(lambda: validate_sr(data, "base"), count)
    icans = best_per_call(lambda: validate_sr(data, "icans"), count)
    hd_count = max(20, count // 10)

    def hd_parse() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hd.sr.Comprehensive3DSR.from_dataset(dcmread(io.BytesIO(data)))

    highdicom = best_per_call(hd_parse, hd_count)
    floor = best_per_call(lambda: pydicom_read_and_walk(data), max(50, count // 4))
    items = pydicom_read_and_walk(data)
    print(f"\n{label}: {len(data)} bytes, {items} content items")
    print(f"  validate_sr (base)          {base * 1e3:8.2f} ms/file  ({count} files)")
    print(f"  validate_sr (icans)         {icans * 1e3:8.2f} ms/file  ({count} files)")
    print(f"  highdicom parse             {highdicom * 1e3:8.2f} ms/file")
    print(f"  pydicom read + walk         {floor * 1e3:8.2f} ms/file")
    print(f"  highdicom parse / validate (base):   {highdicom / base:5.1f}x  (target >= 5)")
    print(f"  validate (base) / pydicom read+walk: {base / floor:5.2f}x  (target <= 2)")
    print(f"  highdicom parse / validate (icans):  {highdicom / icans:5.1f}x")
    print(f"  validate (icans) / pydicom read+walk:{icans / floor:5.2f}x")
    return base, highdicom, floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="validations per document")
    args = parser.parse_args()
    measure("ten findings, icans-interop writer", our_document(), args.count)
    other = highdicom_document()
    if other is not None:
        measure("ten findings, highdicom writer", other, args.count)


if __name__ == "__main__":
    main()
