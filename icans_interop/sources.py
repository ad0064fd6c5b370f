"""What a reader or validator takes as input, and the one rule that tells the kinds apart.

Every reader (:func:`icans_interop.dicom.read`, :func:`icans_interop.fhir.read`,
:func:`icans_interop.sdc.read`, :func:`icans_interop.case.read_case`, :func:`icans_interop.read`)
and every validator (:func:`~icans_interop.validation.sr.validate_sr`,
:func:`~icans_interop.validation.fhir.validate_fhir`, :func:`icans_interop.validate`) accepts
a *source* of one of these kinds:

* a **path**: a :class:`pathlib.Path` or any other :class:`os.PathLike`, or a ``str`` (see
  the rule below);
* the **encoded content**: ``bytes``, ``bytearray`` or ``memoryview``;
* **JSON text**: a ``str`` (JSON formats only);
* a **binary file object**: anything whose ``read()`` returns bytes (read once, at most the
  reader's byte limit plus one byte, so an endless stream is refused, never read whole);
* the **parsed model**: a pydicom ``Dataset`` for DICOM; a ``dict`` (parsed JSON) or a
  ``fhir.resources`` model for FHIR; a ``dict`` or an ``ImagingReport`` for a case.

The rule for a ``str``: for a JSON format, a ``str`` whose first character, after an optional
leading byte order mark (U+FEFF) and whitespace, is ``{`` or ``[`` is JSON text; any other
``str`` is a path. For DICOM a ``str`` is always a path. (:func:`is_json_text` is that rule;
no other module repeats it.)

Byte limits apply to every kind: a path's size is checked before it is read, bytes and text
by their length, a file object by reading at most the limit plus one byte. A source that
cannot be read gives :class:`SourceError` (``unreadable`` with the path and the operating
system's reason, or ``too-large``); the readers and validators turn it into an issue, never
an exception for their caller.

This module is at the bottom of the layers: it knows bytes, paths and file objects, never a
format.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, Final, Literal

#: What a source is, once parsed models are told apart by each format.
Kind = Literal["path", "bytes", "text", "file", "other"]

_BOM: Final = "\ufeff"
_JSON_STARTS: Final = ("{", "[")
_SHOWN_PATH: Final = 200


class SourceError(Exception):
    """A source that cannot be read: ``code`` is ``unreadable`` or ``too-large``."""

    def __init__(self, code: Literal["unreadable", "too-large"], message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_json_text(text: str) -> bool:
    """True when ``text`` is JSON text rather than a path: its first character after an
    optional byte order mark and whitespace is ``{`` or ``[``."""
    return text.removeprefix(_BOM).lstrip()[:1] in _JSON_STARTS


def kind_of(source: object, *, json_text: bool) -> Kind:
    """The kind of ``source`` (``other``: not one of the byte kinds; a format may know it as
    its parsed model). ``json_text`` says whether a ``str`` may be JSON text (the rule of
    :func:`is_json_text`) or is always a path (DICOM)."""
    if isinstance(source, str):
        return "text" if json_text and is_json_text(source) else "path"
    if isinstance(source, os.PathLike):
        return "path"
    if isinstance(source, bytes | bytearray | memoryview):
        return "bytes"
    if callable(getattr(source, "read", None)):
        return "file"
    return "other"


def label(source: object, *, json_text: bool) -> str | None:
    """How to name ``source`` in a result: its path, or the ``name`` of a file object that
    has one; None for content given in memory."""
    kind = kind_of(source, json_text=json_text)
    if isinstance(source, str | os.PathLike) and kind == "path":
        return os.fsdecode(os.fspath(source))
    if kind == "file":
        name = getattr(source, "name", None)
        return name if isinstance(name, str) else None
    return None


def read_bytes(source: object, max_bytes: int, *, json_text: bool) -> bytes:
    """The encoded content of a path, bytes, text or binary file object, at most
    ``max_bytes`` long; raises :class:`SourceError` (never another exception for bad input).

    Text is encoded as UTF-8 (a lone surrogate is kept as its bytes, so the parser reports
    it rather than this function).
    """
    kind = kind_of(source, json_text=json_text)
    if kind == "path":
        return _read_path(source, max_bytes)  # type: ignore[arg-type]
    if kind == "bytes":
        assert isinstance(source, bytes | bytearray | memoryview)
        size = memoryview(source).nbytes
        if size > max_bytes:
            raise SourceError("too-large", f"the input has {size:,} bytes; the limit is "
                                           f"{max_bytes:,}")
        return bytes(source)
    if kind == "text":
        assert isinstance(source, str)
        if len(source) > max_bytes:  # every character takes at least one byte
            raise SourceError("too-large", f"the text has {len(source):,} characters; the "
                                           f"limit is {max_bytes:,} bytes")
        data = source.encode("utf-8", "surrogatepass")
        _check_size(len(data), max_bytes, "the text")
        return data
    if kind == "file":
        return _read_file(source, max_bytes)
    raise unsupported(source)


def unsupported(source: object) -> SourceError:
    """The error for a source of no known kind."""
    return SourceError("unreadable", f"cannot read a source of type {type(source).__name__}: "
                                     "expected a path, bytes, text or a binary file object (or "
                                     "the parsed model)")


def _check_size(size: int, max_bytes: int, what: str) -> None:
    if size > max_bytes:
        raise SourceError("too-large", f"{what} has more than {max_bytes:,} bytes, the limit")


def shown_path(path: str | os.PathLike[str] | os.PathLike[bytes]) -> str:
    """A path as messages show it (cut when very long: a mistaken ``str`` may be a document)."""
    text = os.fsdecode(os.fspath(path))
    return text if len(text) <= _SHOWN_PATH else text[: _SHOWN_PATH - 3] + "..."


def _read_path(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    shown = shown_path(path)
    with _reading(path) as handle:
        info = os.fstat(handle.fileno())
        if stat.S_ISREG(info.st_mode) and info.st_size > max_bytes:
            raise SourceError("too-large", f"{shown} has {info.st_size:,} bytes; the limit is "
                                           f"{max_bytes:,}")
        data = handle.read(max_bytes + 1)  # a pipe or device: at most one byte too many
    _check_size(len(data), max_bytes, shown)
    return data


def read_head(path: str | os.PathLike[str], size: int) -> bytes:
    """The first ``size`` bytes of the file at ``path`` (to tell what it is); raises
    :class:`SourceError` ``unreadable`` with the path and the reason."""
    with _reading(path) as handle:
        return handle.read(size)


@contextmanager
def _reading(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """The file at ``path`` open for reading; any failure to open or read it is a
    :class:`SourceError` naming the path and the operating system's reason."""
    shown = shown_path(path)
    try:
        with open(path, "rb") as handle:
            yield handle
    except OSError as exc:
        raise SourceError("unreadable", f"cannot read {shown}: {exc.strerror or exc}") from None
    except ValueError as exc:  # a NUL character in the name
        raise SourceError("unreadable", f"cannot read {shown}: not a usable file name "
                                        f"({exc})") from None


def _read_file(handle: object, max_bytes: int) -> bytes:
    try:
        data = handle.read(max_bytes + 1)  # type: ignore[attr-defined]
    except Exception as exc:  # a closed file, a socket error...: the caller's stream failed
        raise SourceError("unreadable", f"cannot read the file object: {type(exc).__name__}: "
                                        f"{exc}") from None
    if isinstance(data, str):
        raise SourceError("unreadable", "the file object gives text, not bytes: open it in "
                                        "binary mode ('rb')")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SourceError("unreadable", f"the file object's read() gave a "
                                        f"{type(data).__name__}, not bytes")
    _check_size(memoryview(data).nbytes, max_bytes, "the file object")
    return bytes(data)
