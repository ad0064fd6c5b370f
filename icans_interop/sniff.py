"""Tell what an input is: a DICOM file, a FHIR resource, a form response or a case file
(:func:`kind_of_bytes` from the first bytes, :func:`sniff_source` for any source kind), and
which FHIR version a FHIR input is (:func:`detect_fhir_version`)."""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from icans_interop import sources
from icans_interop.formats import FhirVersion

Kind = Literal["sr", "fhir", "case", "unknown", "unreadable"]
_HEAD = 4096
_RESOURCE_TYPE = re.compile(rb'"resourceType"\s*:')


def kind_of_bytes(head: bytes) -> Kind:
    """Classify by content, never by file name."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "sr"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] in (b"{", b"["):
        if _RESOURCE_TYPE.search(head):
            return "fhir"
        if b'"patient"' in head and b'"study"' in head:
            return "case"
        return "fhir"  # JSON of unknown shape: the FHIR validator says what is wrong
    if head[:2] in (b"\x02\x00", b"\x08\x00") and len(head) >= 8:
        return "sr"  # a DICOM data set without the Part 10 preamble
    return "unknown"


def kind_of_path(path: Path) -> Kind:
    try:
        with path.open("rb") as handle:
            return kind_of_bytes(handle.read(_HEAD))
    except OSError:
        return "unreadable"


# --------------------------------------------------------------------------------------------
# FHIR version of an input


_R5_MARKERS: Final = (re.compile(rb'"fhirVersion"\s*:\s*"5'),
                      re.compile(rb"http://hl7\.org/fhir/uv/dicom-sr/StructureDefinition/"))
#: How much of a JSON input :func:`detect_fhir_version` looks at.
VERSION_SNIFF_BYTES: Final = 1 << 20


def is_fhir_model(value: object) -> bool:
    """True for a ``fhir.resources`` model (of any version), without importing the package."""
    return type(value).__module__.startswith("fhir.resources.")


def detect_fhir_version(source: object) -> FhirVersion:
    """The FHIR version of a FHIR input of any source kind (:mod:`icans_interop.sources`).

    A ``fhir.resources`` model is the version of its classes (``fhir.resources.R4B``: R4;
    the package's default classes: R5). For JSON (a path, bytes, text, a binary file object
    or a parsed ``dict``): R5 when its first MiB claims the HL7 DICOM SR IG profiles or a
    ``fhirVersion`` 5.x, else R4. A seekable file object is put back where it was; a stream
    that cannot seek cannot be looked at without consuming it (``ValueError``: read it into
    bytes first). A source that cannot be read is R4; the validator says why it cannot.
    """
    if is_fhir_model(source):
        module = type(source).__module__
        return "R5" if not module.startswith(("fhir.resources.R4B.", "fhir.resources.STU3.")) \
            else "R4"
    head = _version_head(source)
    return "R5" if any(marker.search(head) for marker in _R5_MARKERS) else "R4"


def _version_head(source: object) -> bytes:
    if isinstance(source, dict | list):
        try:
            text = json.dumps(source, ensure_ascii=False, default=str)
        except (ValueError, TypeError, RecursionError):
            return b""
        return text[:VERSION_SNIFF_BYTES].encode("utf-8", "surrogatepass")
    kind = sources.kind_of(source, json_text=True)
    if kind == "file":
        return _peek(source)
    if kind == "text":
        assert isinstance(source, str)
        return source[:VERSION_SNIFF_BYTES].encode("utf-8", "surrogatepass")
    if kind == "bytes":
        assert isinstance(source, bytes | bytearray | memoryview)
        return bytes(memoryview(source)[:VERSION_SNIFF_BYTES])
    if kind == "path":
        assert isinstance(source, str | os.PathLike)
        try:
            return sources.read_head(source, VERSION_SNIFF_BYTES)
        except sources.SourceError:
            return b""
    return b""


def _peek(handle: Any) -> bytes:
    seekable = getattr(handle, "seekable", None)
    if not (callable(seekable) and seekable()):
        raise ValueError("the FHIR version of a file object that cannot seek cannot be detected "
                         "without consuming it: read it into bytes first")
    where = handle.tell()
    try:
        head = handle.read(VERSION_SNIFF_BYTES)
    finally:
        handle.seek(where)
    return head if isinstance(head, bytes) else b""


# --------------------------------------------------------------------------------------------
# Any source: what it is, for the readers and validators that do not know the format


SourceKind = Literal["sr", "fhir", "questionnaire-response", "case", "unknown", "unreadable"]
#: A file object is read once, at most this many bytes plus one (the largest reader limit):
#: the reader or validator chosen then applies its own limit to those bytes.
MAX_SOURCE_BYTES: Final = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Sniffed:
    """What a source is, and what to hand on to the reader or validator of that kind."""

    kind: SourceKind
    #: The caller's source, or the bytes read from a file object or a FHIR JSON file (each
    #: read only once, here).
    source: object
    #: Its path or file name, when it has one.
    label: str | None = None
    #: Why it could not be looked at (``kind`` ``unreadable``).
    problem: sources.SourceError | None = None


def sniff_source(source: object) -> Sniffed:
    """Tell an SR, a FHIR resource, a QuestionnaireResponse and a case file apart, for any
    source kind of :mod:`icans_interop.sources` (the ``str`` rule of JSON formats applies).

    Parsed models: a pydicom Dataset is an SR; a ``fhir.resources`` model or a ``dict`` is
    judged by its ``resourceType`` (a ``dict`` without one that has ``patient`` and ``study``
    is a case). Encoded content is judged by :func:`kind_of_bytes`, and FHIR JSON whose
    top-level ``resourceType`` is ``QuestionnaireResponse`` is a form response.
    """
    if _is_dataset(source):
        return Sniffed("sr", source)
    if is_fhir_model(source):
        kind: SourceKind = "questionnaire-response" if \
            source.get_resource_type() == "QuestionnaireResponse" else "fhir"  # type: ignore[attr-defined]
        return Sniffed(kind, source)
    if isinstance(source, dict):
        return Sniffed(_kind_of_json(source), source)
    byte_kind = sources.kind_of(source, json_text=True)
    label = sources.label(source, json_text=True)
    if byte_kind == "other":
        return Sniffed("unreadable", source, None, sources.unsupported(source))
    try:
        if byte_kind == "file":
            source = sources.read_bytes(source, MAX_SOURCE_BYTES, json_text=True)
            byte_kind = "bytes"
        if byte_kind == "path":
            assert isinstance(source, str | os.PathLike)
            head = sources.read_head(source, _HEAD)
        elif isinstance(source, str):
            head = source[:_HEAD].encode("utf-8", "surrogatepass")
        else:
            assert isinstance(source, bytes | bytearray | memoryview)
            head = bytes(memoryview(source)[:_HEAD])
        kind = kind_of_bytes(head)
        if kind == "fhir" and byte_kind == "path":
            try:  # JSON is parsed whole anyway: read it once here and hand the bytes on
                source = sources.read_bytes(source, MAX_SOURCE_BYTES, json_text=True)
                byte_kind = "bytes"
            except sources.SourceError:
                pass  # the validator reads the path and reports why it cannot
        if kind == "fhir" and _is_response(source, byte_kind):
            kind = "questionnaire-response"
    except sources.SourceError as problem:
        return Sniffed("unreadable", source, label, problem)
    return Sniffed(kind, source, label)


def _is_dataset(value: object) -> bool:
    """A pydicom Dataset (pydicom is not imported to find out: if it is not loaded, no Dataset
    exists)."""
    module = sys.modules.get("pydicom.dataset")
    return module is not None and isinstance(value, module.Dataset)


def _kind_of_json(data: object) -> SourceKind:
    if isinstance(data, dict):
        resource_type = data.get("resourceType")
        if resource_type == "QuestionnaireResponse":
            return "questionnaire-response"
        if resource_type is None and "patient" in data and "study" in data:
            return "case"
    return "fhir"  # JSON of another shape: the FHIR validator says what is wrong


def _is_response(source: object, byte_kind: str) -> bool:
    """True when FHIR JSON is a QuestionnaireResponse at its top level (parsed only when the
    name occurs at all)."""
    if byte_kind == "path":
        return False  # it could not be read whole: the reader or validator reports it
    if isinstance(source, str):
        data: str | bytes = source
    else:
        assert isinstance(source, bytes | bytearray | memoryview)
        data = bytes(source)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if b"QuestionnaireResponse" not in data:
        return False
    try:
        parsed = json.loads(data.removeprefix(b"\xef\xbb\xbf"))
    except (ValueError, RecursionError):
        return False
    return _kind_of_json(parsed) == "questionnaire-response"
