"""The one DICOM byte layer: a Part 10 file (or a bare data set) as a plain tree.

Both the SR reader (:mod:`.reader`) and the SR validator (:mod:`icans_interop.validation.sr`)
walk what :func:`parse` returns; ``validate_sr`` parses each input once and hands the same tree
to the reader.

The tree
    An :data:`Item` is a ``dict`` tag -> :data:`Element`; an element is ``(VR, value, offset)``
    where ``value`` is the raw encoded bytes (padding included) or, for a sequence, the list of
    its items, and ``offset`` is where the element's header starts in the data set's byte
    stream (after inflation for the deflated transfer syntax). Nothing is decoded up front:
    :meth:`Parsed.text` and :meth:`Parsed.code` decode on demand with the document's character
    set (pydicom's ``convert_encodings`` / ``decode_bytes``).

Why a parser of our own
    The reader and the validator look at every element and every content item; converting each
    raw element to a pydicom ``DataElement`` costs about 20 us, the whole budget for a
    ten-finding SR (``bench/bench_validate_sr.py`` times pydicom's read + walk beside us). The
    loop below reads the byte stream once, never recurses (an explicit stack), and handles
    explicit and implicit VR little endian, explicit VR big endian, deflate (inflated in
    bounded chunks, see :func:`inflate`), undefined lengths, sequences sent as UN with
    undefined length and encapsulated fragments. ``tests/test_part10.py`` checks it against
    pydicom's own reading, element by element, on every SR of the test corpora.

Limits (:class:`Limits`, one object for reader and validator)
    input bytes (also after inflating), sequence nesting, data elements and content items; an
    input beyond one gets :class:`Part10Error` ``too-large`` / ``too-deep``, never a partial
    tree. Anything that is not a well-formed data set is ``unreadable`` with the byte offset.
"""

from __future__ import annotations

import copy
import gc
import io
import os
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Final, NamedTuple, TypeAlias

from pydicom import dcmwrite
from pydicom.charset import convert_encodings, decode_bytes
from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from icans_interop import sources
from icans_interop.dicom import tags

Item: TypeAlias = "dict[int, Element]"
Element: TypeAlias = "tuple[str, bytes | list[Item], int]"
#: What can be parsed: a path, the encoded bytes, a binary file object or a pydicom Dataset.
Source: TypeAlias = "str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes] | Dataset"


@dataclass(frozen=True, slots=True)
class Limits:
    """What one input may hold; every path that reads DICOM enforces all of them."""

    #: Largest input, in bytes, also after inflating a deflated transfer syntax.
    max_bytes: int = 64 * 1024 * 1024
    #: Deepest nesting of sequence items of any kind (above the content tree's own limit).
    max_nesting: int = 128
    #: Deepest content tree (the root is level 1); PS3.16 templates nest under 10 levels.
    max_content_depth: int = 100
    #: Most data elements and sequence items in one input (about 0.5 s of parsing).
    max_elements: int = 250_000
    #: Most content items (items of Content Sequences): checking one costs ~30 us, so this
    #: bounds validation well under a second; a ten-finding TID 1500 document has ~120.
    max_content_items: int = 10_000


LIMITS: Final = Limits()


class Part10Error(Exception):
    """The input cannot be parsed: ``code`` is ``unreadable``, ``too-large`` or ``too-deep``;
    ``location`` is the content item where a content-tree limit was crossed, if it was."""

    def __init__(self, code: str, message: str, location: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.location = location


class DicomCode(NamedTuple):
    """A code triple as written in a Code Sequence item: (value, designator, meaning)."""

    value: str
    scheme: str
    meaning: str


def describe(code: DicomCode | None) -> str:
    """``(value, scheme, "meaning")`` as PS3.16 writes codes, for issue locations and
    messages (the reader's and the validator's must be identical: the validator completes
    reader locations with template rows by matching this text)."""
    if code is None:
        return "(no concept name)"
    return f'({code.value}, {code.scheme}, "{code.meaning}")'


#: A Value Length of FFFFFFFFH: undefined, ended by a delimiter (PS3.5 7.5).
_UNDEFINED: Final = 0xFFFFFFFF
#: VRs with a 32-bit length after two reserved bytes (PS3.5 Table 7.1-1).
LONG_LENGTH_VRS: Final = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN",
                                    "UR", "UT", "UV"})
#: Every VR of PS3.5 Table 6.2-1.
KNOWN_VRS: Final = LONG_LENGTH_VRS | {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS",
                                "LO", "LT", "PN", "SH", "SL", "SS", "ST", "TM", "UI", "UL",
                                "US"}
#: Text VRs that hold one value (a backslash is text, PS3.5 6.4).
SINGLE_VALUED_VRS: Final = frozenset({"LT", "ST", "UT", "UR"})
_VR_NAMES: Final = {vr.encode("ascii"): vr for vr in KNOWN_VRS}
_MISS: Final = object()
_CACHE_VALUE_BYTES: Final = 256
_CACHE_ENTRIES: Final = 50_000
_TEXT_CACHE: dict[bytes, str | None] = {}


# ---------------------------------------------------------------------------------------------
# The parsed file


@dataclass
class Parsed:
    """A parsed input: file meta and data set as plain trees, and what the parse noticed."""

    meta: Item
    dataset: Item
    transfer_syntax: str
    little_endian: bool
    #: Python codecs of the Specific Character Set (empty: the default repertoire).
    encodings: tuple[str, ...] = ()
    #: Why the Specific Character Set could not be used (None when it could).
    charset_problem: str | None = None
    #: id(item) -> (owning item, sequence tag, 0-based index), for every sequence item.
    parents: dict[int, tuple[Item, int, int]] = field(default_factory=dict)
    #: (code item, owning item, sequence tag) for the items of every ``...CodeSequence``.
    code_items: list[tuple[Item, Item, int]] = field(default_factory=list)
    #: (item, tag, message): elements out of ascending order or repeated (PS3.5 7.1).
    order_problems: list[tuple[Item, int, str]] = field(default_factory=list)
    #: False for a bare data set (no preamble and file meta).
    part10: bool = True

    # -- values ------------------------------------------------------------------------------

    def text(self, item: Item, tag: int) -> str | None:
        """A text element's whole value without padding (None when absent, a sequence or
        empty)."""
        element = item.get(tag)
        return None if element is None else decode(element[1], self.encodings)

    def first(self, item: Item, tag: int) -> str | None:
        """The first value of a (possibly multi-valued) text element."""
        element = item.get(tag)
        if element is None:
            return None
        value = element[1]
        if isinstance(value, bytes) and element[0] not in SINGLE_VALUED_VRS and b"\\" in value:
            value = value.split(b"\\", 1)[0]
        return decode(value, self.encodings)

    def items(self, item: Item, tag: int) -> list[Item]:
        """The items of a sequence element (empty when absent or not a sequence)."""
        element = item.get(tag)
        if element is None or not isinstance(element[1], list):
            return []
        return element[1]

    def uints(self, item: Item, tag: int) -> tuple[int, ...] | None:
        """A UL element's values (None when absent, empty or malformed)."""
        element = item.get(tag)
        value = None if element is None else element[1]
        if not isinstance(value, bytes) or not value or len(value) % 4:
            return None
        fmt = ("<" if self.little_endian else ">") + "I" * (len(value) // 4)
        return struct.unpack(fmt, value)

    def code(self, item: Item) -> DicomCode | None:
        """The code of a Code Sequence item (Code / Long Code / URN Code Value)."""
        value = (self.text(item, tags.CODE_VALUE) or self.text(item, tags.LONG_CODE_VALUE)
                 or self.text(item, tags.URN_CODE_VALUE))
        if value is None:
            return None
        return DicomCode(value, self.text(item, tags.CODING_SCHEME_DESIGNATOR) or "",
                         self.text(item, tags.CODE_MEANING) or "")

    def first_code(self, item: Item, tag: int) -> DicomCode | None:
        """The code in the first item of a code sequence attribute."""
        found = self.items(item, tag)
        return self.code(found[0]) if found else None

    def concept_name(self, item: Item) -> DicomCode | None:
        """The concept name of a content item."""
        return self.first_code(item, tags.CONCEPT_NAME_CODE_SEQUENCE)

    def children(self, item: Item) -> list[Item]:
        """The content items directly under ``item``."""
        return self.items(item, tags.CONTENT_SEQUENCE)

    # -- where things are --------------------------------------------------------------------

    def header_location(self, item: Item, tag: int | None = None) -> str:
        """``(gggg,eeee) Keyword[n] > ...`` of an element of a header item."""
        parts = self._chain(item, None, tags.tag_name)
        if tag is not None:
            parts.append(tags.tag_name(tag))
        return " > ".join(parts) if parts else "(data set)"

    def attribute_path(self, item: Item, stop: Item, tag: int | None) -> str:
        """Keyword path from ``stop`` (a content item) down to ``tag`` in ``item``."""
        parts = self._chain(item, stop, tags.keyword)
        if tag is not None:
            parts.append(tags.keyword(tag))
        return " > ".join(parts)

    def _chain(self, item: Item, stop: Item | None, namer: Callable[[int], str]) -> list[str]:
        parts: list[str] = []
        current = item
        for _ in range(LIMITS.max_nesting + 2):
            if current is stop:
                break
            link = self.parents.get(id(current))
            if link is None:
                break
            owner, seq_tag, index = link
            parts.append(f"{namer(seq_tag)}[{index + 1}]")
            current = owner
        parts.reverse()
        return parts


def decode(value: bytes | list[Item] | None, encodings: tuple[str, ...] = ()) -> str | None:
    """A text value without padding, decoded with ``encodings`` (None when not text or empty).

    Short ASCII values are remembered across files (most SR values repeat), so a repeated
    value costs a dict lookup.
    """
    if not isinstance(value, bytes):
        return None
    known = _TEXT_CACHE.get(value, _MISS)
    if known is not _MISS:
        return known  # type: ignore[return-value]
    if value.isascii():
        result = value.decode("ascii").rstrip(" \x00").lstrip(" ") or None
        if len(value) <= _CACHE_VALUE_BYTES:
            if len(_TEXT_CACHE) >= _CACHE_ENTRIES:
                _TEXT_CACHE.clear()
            _TEXT_CACHE[value] = result
        return result
    return decode_text(value, encodings).rstrip(" \x00").lstrip(" ") or None


def decode_text(value: bytes, encodings: tuple[str, ...]) -> str:
    """``value`` decoded with the document's character sets; Latin-1 when they fail."""
    if encodings:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return str(decode_bytes(value, list(encodings), set()))
        except Exception:
            pass
    return value.decode("latin-1")


def character_set(value: bytes) -> tuple[tuple[str, ...], str | None]:
    """(Python codecs, problem) of a Specific Character Set value (PS3.3 C.12.1.1.2)."""
    terms = [t.strip().decode("ascii", "replace") for t in value.split(b"\\")]
    if terms and not terms[0]:
        terms[0] = "ISO_IR 6"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return tuple(convert_encodings(terms)), None
        except Exception:
            pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            encodings = tuple(convert_encodings(terms))
        except Exception:
            encodings = ()
    shown = value.decode("latin-1")
    return encodings, f"Specific Character Set {shown!r} names an unknown character set"


# ---------------------------------------------------------------------------------------------
# Input


def load(source: Source, limits: Limits = LIMITS) -> tuple[bytes, bool]:
    """The encoded bytes of ``source`` and whether they must be a Part 10 file.

    A path (a ``str`` is always a path here), bytes or binary file object is read by
    :func:`icans_interop.sources.read_bytes` within ``limits.max_bytes`` and must hold a Part 10
    file; a pydicom Dataset is encoded here (as Part 10 when it has file meta with a Transfer
    Syntax UID, else as a bare explicit VR little endian data set), without changing the
    caller's object.
    """
    if isinstance(source, Dataset):
        _check_dataset(source, limits)
        return _dataset_bytes(source), "TransferSyntaxUID" in getattr(source, "file_meta", {})
    try:
        return sources.read_bytes(source, limits.max_bytes, json_text=False), True
    except sources.SourceError as exc:
        raise Part10Error(exc.code, exc.message) from None


def _check_dataset(ds: Dataset, limits: Limits) -> None:
    """Refuse a Dataset beyond the nesting and element limits before it is encoded (encoding
    a deeply nested Dataset costs far more than parsing the same bytes)."""
    stack: list[tuple[Dataset, int]] = [(ds, 0)]
    count = 0
    while stack:
        current, depth = stack.pop()
        if depth > limits.max_nesting:
            raise Part10Error("too-deep", f"sequences nest deeper than {limits.max_nesting} "
                                          "levels")
        try:
            values = list(current.values())
        except Exception as exc:
            raise Part10Error("unreadable", f"the Dataset cannot be read: "
                                            f"{type(exc).__name__}: {exc}") from None
        count += len(values)
        if count > limits.max_elements:
            raise Part10Error("too-large", f"more than {limits.max_elements} data elements "
                                           "and items")
        for element in values:
            value = getattr(element, "value", None)
            if getattr(element, "VR", None) == "SQ" and isinstance(value, list):
                count += len(value)
                stack.extend((item, depth + 1) for item in value if isinstance(item, Dataset))


def _dataset_bytes(ds: Dataset) -> bytes:
    """Encode an in-memory Dataset (shallow copies: the caller's object is not changed)."""
    from icans_interop.dicom.codec import to_bytes  # the writer's fast encoder

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        meta = getattr(ds, "file_meta", None)
        try:
            clone = copy.copy(ds)
            if meta is not None and "TransferSyntaxUID" in meta:
                clone.file_meta = copy.copy(meta)
                return to_bytes(clone)
            else:
                if hasattr(clone, "file_meta"):
                    del clone.file_meta
                dcmwrite(buffer, clone, implicit_vr=False, little_endian=True,
                         enforce_file_format=False)
        except RecursionError:
            raise Part10Error("too-deep", "the Dataset nests too deeply to be encoded (or "
                                          "contains itself)") from None
        except Exception as exc:
            raise Part10Error("unreadable", f"the Dataset cannot be encoded: "
                                            f"{type(exc).__name__}: {exc}") from None
    return buffer.getvalue()


class Identity(NamedTuple):
    """Who an instance is: what a sender or a receiver needs before anything else."""

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str


def is_deflated(data: bytes) -> bool:
    """True for a Part 10 file whose Transfer Syntax is deflated: only its file meta is read
    (callers check such a file with :func:`identity` before another reader inflates it)."""
    if len(data) < 132 or data[128:132] != b"DICM":
        return False
    meta = _Parser(data[132:_meta_end(data)], True, True, Parsed({}, {}, "", True), LIMITS,
                   meta=True).run()
    uid = decode(meta.get(tags.TRANSFER_SYNTAX_UID, ("UI", b"", 0))[1])
    return uid is not None and _transfer_syntax(uid)[2]


def identity(data: bytes, *, limits: Limits = LIMITS) -> Identity:
    """SOP Class, SOP Instance and Transfer Syntax UIDs of a Part 10 file (empty strings for
    absent ones), parsed within ``limits``: a deflated body is inflated only up to the size
    limit, so a deflate bomb is refused (:class:`Part10Error` too-large) before any other
    reader sees it. Raises :class:`Part10Error`."""
    parsed = parse(data, limits=limits)
    return Identity(parsed.text(parsed.dataset, tags.SOP_CLASS_UID) or "",
                    parsed.text(parsed.dataset, tags.SOP_INSTANCE_UID) or "",
                    parsed.transfer_syntax)


def parse(data: bytes, *, part10_required: bool = True, limits: Limits = LIMITS) -> Parsed:
    """Parse encoded bytes into a :class:`Parsed` tree; raises :class:`Part10Error`.

    With ``part10_required`` False, bytes without the ``DICM`` prefix are read as a bare data
    set: explicit VR little endian when the first element carries a VR, else implicit VR
    little endian (how pydicom guesses, too).
    """
    if len(data) > limits.max_bytes:
        raise Part10Error("too-large", f"input has {len(data)} bytes; the limit is "
                                       f"{limits.max_bytes}")
    if len(data) < 132 or data[128:132] != b"DICM":
        if part10_required:
            raise Part10Error("unreadable", "not a DICOM Part 10 file (no 'DICM' prefix after "
                                            "the 128-byte preamble)")
        explicit = len(data) >= 6 and data[4:6] in _VR_NAMES
        guessed = str(ExplicitVRLittleEndian if explicit else ImplicitVRLittleEndian)
        result = Parsed({}, {}, guessed, True, part10=False)
        result.dataset = _Parser(data, explicit, True, result, limits).run()
        return result
    meta_end = _meta_end(data)
    meta_result = Parsed({}, {}, "", True)
    meta = _Parser(data[132:meta_end], True, True, meta_result, limits, meta=True).run()
    uid = decode(meta.get(tags.TRANSFER_SYNTAX_UID, ("UI", b"", 0))[1])
    if uid is None:
        raise Part10Error("unreadable", "the file meta information has no Transfer Syntax UID")
    explicit, little, deflated = _transfer_syntax(uid)
    body = data[meta_end:]
    if deflated:
        body = inflate(body, limits.max_bytes)
    result = Parsed(meta, {}, uid, little)
    result.order_problems.extend(meta_result.order_problems)
    result.dataset = _Parser(body, explicit, little, result, limits).run()
    return result


def read(source: Source, limits: Limits = LIMITS) -> Parsed:
    """:func:`load` and :func:`parse` in one step."""
    data, part10 = load(source, limits)
    return parse(data, part10_required=part10, limits=limits)


def _transfer_syntax(uid: str) -> tuple[bool, bool, bool]:
    """(explicit VR, little endian, deflated) of a transfer syntax UID."""
    ts = UID(uid)
    if not ts.is_transfer_syntax:
        raise Part10Error("unreadable", f"Transfer Syntax UID {uid!r} is not a known transfer "
                                        "syntax")
    return (not ts.is_implicit_VR, ts.is_little_endian, ts.is_deflated)


#: Inflated bytes produced per step (the output is gathered in pieces of this size, so the
#: peak memory of a refused deflate bomb is the cap, not twice the cap as a growing buffer).
_INFLATE_STEP: Final = 1 << 20


def inflate(data: bytes, max_bytes: int) -> bytes:
    """The deflated data set (RFC 1951, no header) inflated to at most ``max_bytes``.

    zlib produces the output a step at a time and stops at the cap, so a small file that
    inflates to gigabytes (a deflate bomb) costs at most ``max_bytes`` of memory before it
    is refused.
    """
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    pieces: list[bytes] = []
    produced = 0
    pending = data
    try:
        while True:
            piece = inflater.decompress(pending, _INFLATE_STEP)
            pieces.append(piece)
            produced += len(piece)
            if produced > max_bytes:
                raise Part10Error("too-large", f"the deflated data set inflates to more "
                                               f"than {max_bytes} bytes")
            pending = inflater.unconsumed_tail
            if not pending:
                break
        pieces.append(inflater.flush())
    except zlib.error as exc:
        raise Part10Error("unreadable", f"the deflated data set cannot be inflated: {exc}"
                          ) from None
    if produced + len(pieces[-1]) > max_bytes:
        raise Part10Error("too-large", f"the deflated data set inflates to more than "
                                       f"{max_bytes} bytes")
    return b"".join(pieces)


def _meta_end(data: bytes) -> int:
    """Offset of the first byte after the file meta group (explicit VR little endian)."""
    pos = 132
    size = len(data)
    while pos + 8 <= size:
        group = struct.unpack_from("<H", data, pos)[0]
        if group != tags.FILE_META_GROUP:
            break
        vr = data[pos + 4:pos + 6].decode("latin-1")
        if vr in LONG_LENGTH_VRS:
            if pos + 12 > size:
                break
            pos += 12 + struct.unpack_from("<I", data, pos + 8)[0]
        else:
            pos += 8 + struct.unpack_from("<H", data, pos + 6)[0]
    if pos > size:
        raise Part10Error("unreadable", "truncated inside the file meta information")
    return pos


# ---------------------------------------------------------------------------------------------
# The parser


class _Frame:
    """One level of the parser's stack: a data set / item (kind 0), a sequence (1) or the
    fragments of an encapsulated value (2)."""

    __slots__ = ("end", "explicit", "item", "items", "kind", "last", "owner", "tag")

    def __init__(self, kind: int, item: Item, items: list[Item], end: int | None,
                 explicit: bool, tag: int, owner: Item, last: int = -1) -> None:
        self.kind = kind
        self.item = item
        self.items = items
        self.end = end
        self.explicit = explicit
        self.tag = tag
        self.owner = owner
        self.last = last


class _Parser:
    """Iterative DICOM data set parser (see the module docstring)."""

    def __init__(self, buf: bytes, explicit: bool, little: bool, result: Parsed,
                 limits: Limits, meta: bool = False) -> None:
        self.buf = buf
        self.explicit = explicit
        self.little = little
        self.result = result
        self.limits = limits
        self.meta = meta

    def run(self) -> Item:
        """Parse the whole buffer, with the cyclic garbage collector paused.

        The tree holds no reference cycles, but a large input creates up to
        ``max_elements`` dicts and lists; each creation burst would otherwise trigger full
        collections that scan the whole process heap (seconds in a long-running process).
        """
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._run()
        finally:
            if enabled:
                gc.enable()

    def _run(self) -> Item:
        """The parse itself (one tight loop on purpose: speed).

        The current frame's fields live in local variables; the stack holds the frames
        below it.
        """
        buf = self.buf
        size = len(buf)
        endian = "<" if self.little else ">"
        unpack_explicit = struct.Struct(endian + "HH2sH").unpack_from
        unpack_implicit = struct.Struct(endian + "HHI").unpack_from
        unpack_u32 = struct.Struct(endian + "I").unpack_from
        result = self.result
        parents = result.parents
        code_items = result.code_items
        problems = result.order_problems
        code_tags = tags.code_sequence_tags()
        implicit_vr = tags.implicit_vr
        vr_names = _VR_NAMES
        long_vrs = LONG_LENGTH_VRS
        limits = self.limits
        max_stack = 2 * limits.max_nesting
        max_elements = limits.max_elements
        max_content = limits.max_content_items
        max_depth = limits.max_content_depth
        content_depth = 1  # the level of the content items being parsed (root: 1)
        content_tag = tags.CONTENT_SEQUENCE
        charset_tag = tags.SPECIFIC_CHARACTER_SET
        delimiter_group = tags.DELIMITER_GROUP
        item_tag, item_end_tag, seq_end_tag = (tags.ITEM, tags.ITEM_DELIMITATION,
                                               tags.SEQUENCE_DELIMITATION)
        root: Item = {}
        no_items: list[Item] = []
        stack: list[_Frame] = []
        frame = _Frame(0, root, no_items, size, self.explicit, 0, root)
        kind, item, explicit, last = 0, root, self.explicit, -1
        end: int | None = size
        pos = 0
        elements = 0
        content_items = 0
        while True:
            if end is not None and pos >= end:
                if pos > end:
                    raise Part10Error("unreadable", f"an element overruns its item or sequence "
                                                    f"at byte {pos} of the data set")
                if not stack:
                    break
                if kind == 1 and frame.tag == content_tag:
                    content_depth -= 1
                frame = stack.pop()
                kind, item, end, explicit, last = (frame.kind, frame.item, frame.end,
                                                   frame.explicit, frame.last)
                continue
            if pos + 8 > size:
                raise Part10Error("unreadable", f"truncated: the data set ends inside an "
                                                f"element header at byte {pos}")
            start = pos
            if kind == 0 and explicit:
                group, number, vr_bytes, length = unpack_explicit(buf, pos)
                tag = group << 16 | number
                if group == delimiter_group:  # delimiters have no VR: tag and a 32-bit length
                    vr = ""
                    length = unpack_u32(buf, pos + 4)[0]
                    pos += 8
                else:
                    known_vr = vr_names.get(vr_bytes)
                    if known_vr is None:
                        raise Part10Error("unreadable", f"invalid VR {vr_bytes!r} of "
                                                        f"{tags.tag_name(tag)} at byte {pos}")
                    vr = known_vr
                    if vr in long_vrs:
                        if pos + 12 > size:
                            raise Part10Error("unreadable", f"truncated inside the header of "
                                                            f"{tags.tag_name(tag)}")
                        length = unpack_u32(buf, pos + 8)[0]
                        pos += 4
                    pos += 8
            else:
                group, number, length = unpack_implicit(buf, pos)
                tag = group << 16 | number
                vr = "" if group == delimiter_group or kind else implicit_vr(tag)
                pos += 8
            if kind == 0:
                if group == delimiter_group:
                    if tag != item_end_tag:
                        raise Part10Error("unreadable", f"unexpected delimiter "
                                                        f"{tags.tag_text(tag)} at byte {start}")
                    if end is not None:
                        raise Part10Error("unreadable", f"item delimiter inside a data set or "
                                                        f"defined-length item at byte {start}")
                    frame = stack.pop()
                    kind, item, end, explicit, last = (frame.kind, frame.item, frame.end,
                                                       frame.explicit, frame.last)
                    continue
                if self.meta and group != tags.FILE_META_GROUP:
                    raise Part10Error("unreadable", f"{tags.tag_name(tag)} inside the file "
                                                    "meta information")
                if tag <= last:
                    problems.append((item, tag, "element is repeated or out of ascending "
                                                "tag order"))
                last = tag
                elements += 1
                if elements > max_elements:
                    raise Part10Error("too-large", f"more than {max_elements} data elements "
                                                   "and items")
                limit = end if end is not None else size
                if vr == "SQ" or (length == _UNDEFINED and vr == "UN"):
                    items: list[Item] = []
                    item[tag] = ("SQ", items, start)
                    seq_end = None if length == _UNDEFINED else pos + length
                    if seq_end is not None and seq_end > limit:
                        raise Part10Error("unreadable", f"truncated: {tags.tag_name(tag)} "
                                                        f"claims {length} bytes, fewer remain")
                    if len(stack) >= max_stack:
                        raise Part10Error("too-deep", f"sequences nest deeper than "
                                                      f"{limits.max_nesting} levels")
                    if tag == content_tag:
                        content_depth += 1
                    stack.append(_Frame(0, item, no_items, end, explicit, 0, item, last))
                    frame = _Frame(1, item, items, seq_end, explicit if vr == "SQ" else False,
                                   tag, item)
                    kind, end, explicit = 1, seq_end, frame.explicit
                    continue
                if length == _UNDEFINED:
                    item[tag] = (vr, b"", start)
                    stack.append(_Frame(0, item, no_items, end, explicit, 0, item, last))
                    frame = _Frame(2, item, no_items, None, explicit, tag, item)
                    kind, end = 2, None
                    continue
                stop = pos + length
                if stop > limit:
                    raise Part10Error("unreadable", f"truncated: {tags.tag_name(tag)} claims "
                                                    f"{length} bytes, {limit - pos} remain")
                value = buf[pos:stop]
                pos = stop
                if vr == "UN" and length and not group & 1:
                    vr = implicit_vr(tag)  # a standard attribute sent as UN: its own VR
                    if vr == "SQ":
                        vr = "UN"
                item[tag] = (vr, value, start)
                if tag == charset_tag and not stack:
                    result.encodings, result.charset_problem = character_set(value)
                continue
            # a sequence (kind 1) or the fragments of an encapsulated value (kind 2)
            if tag == seq_end_tag:
                if end is not None:
                    raise Part10Error("unreadable", f"sequence delimiter inside a "
                                                    f"defined-length sequence at byte {start}")
                if kind == 1 and frame.tag == content_tag:
                    content_depth -= 1
                frame = stack.pop()
                kind, item, end, explicit, last = (frame.kind, frame.item, frame.end,
                                                   frame.explicit, frame.last)
                continue
            if tag != item_tag:
                raise Part10Error("unreadable", f"expected an item in "
                                                f"{tags.tag_name(frame.tag)} at byte {start}, "
                                                f"found {tags.tag_text(tag)}")
            if kind == 2:
                if length == _UNDEFINED:
                    raise Part10Error("unreadable", "fragment of undefined length")
                pos += length
                continue
            elements += 1
            if elements > max_elements:
                raise Part10Error("too-large", f"more than {max_elements} data elements and "
                                               "items")
            new_item: Item = {}
            seq_list = frame.items
            seq_tag = frame.tag
            parents[id(new_item)] = (frame.owner, seq_tag, len(seq_list))
            seq_list.append(new_item)
            if seq_tag == content_tag:
                content_items += 1
                if content_items > max_content:
                    raise Part10Error("too-large", f"more than {max_content} content items")
                if content_depth > max_depth:
                    raise self._too_deep(stack, frame.owner, max_depth)
            elif seq_tag in code_tags:
                code_items.append((new_item, frame.owner, seq_tag))
            item_end = None if length == _UNDEFINED else pos + length
            if item_end is not None and (item_end > size or (
                    end is not None and item_end > end)):
                raise Part10Error("unreadable", f"truncated: an item of "
                                                f"{tags.tag_name(seq_tag)} claims {length} "
                                                "bytes, fewer remain")
            if length == 0:
                continue  # an empty item: nothing to parse inside
            stack.append(frame)
            frame = _Frame(0, new_item, no_items, item_end, explicit, seq_tag, new_item)
            kind, item, end, last = 0, new_item, item_end, -1
        return root

    def _too_deep(self, stack: list[_Frame], owner: Item, max_depth: int) -> Part10Error:
        """The error for a content item below ``max_depth``, located at its parent (the
        deepest item allowed), as ``1.6.18.1...`` with the parent's concept name."""
        content_tag = tags.CONTENT_SEQUENCE
        path = "1" + "".join(f".{len(f.items)}" for f in stack
                             if f.kind == 1 and f.tag == content_tag)
        return Part10Error("too-deep", f"the content tree is deeper than {max_depth} levels",
                           f"{path} {describe(self.result.concept_name(owner))}")
