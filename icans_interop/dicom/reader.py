"""Read a DICOM SR (TID 1500) into an :class:`~icans_interop.model.ImagingReport`.

The reader is for files from *any* producer, so it is tolerant and never raises:

* input may be a Dataset, a path, bytes or a binary file object; anything unreadable
  (not DICOM, truncated, too large, too deep for pydicom's parser) gives an ``unreadable``,
  ``too-large`` or ``too-deep`` issue and no report;
* bytes in Explicit VR Little Endian are parsed directly (:func:`.codec.parse_part10`), other
  transfer syntaxes and character sets through ``dcmread``; either way the data become a plain
  tree (:mod:`.tree`) bounded by :data:`MAX_DEPTH` levels and :data:`MAX_ITEMS` items;
* the tree is walked by concept name, so the order of items does not matter: this module walks
  the header (:mod:`.reader_header`) and the TID 1500 root, :mod:`.reader_findings` the TID
  1501 groups and :mod:`.reader_evaluations` the Qualitative Evaluations;
* codes are mapped back to concept keys with :func:`terminology.lookup_dicom` (SRT/SNM3 are
  read as SCT; legacy SNOMED-RT code values such as ``G-C0E3`` are translated with pydicom's
  SNOMED map); unknown codes give ``unknown-code`` warnings, recognised items the model cannot
  carry (measurements, image references, modifiers) give ``ignored-item`` notes;
* a bad value drops only the field it belongs to (``invalid-value``); a missing value the model
  requires (Patient ID, Study Instance UID, Study Date, Content Date) gives
  ``missing-required`` and no report.

Locations are PS3.3 content-item paths (root ``1``, its third child ``1.3``) followed by the
item's concept name, or ``(gggg,eeee) Keyword`` for header attributes. The layout tables are
those of :mod:`.layout`, which the writer builds from, so the two stay one-to-one.
"""

from __future__ import annotations

import os
import warnings
from io import BytesIO
from typing import IO, Any, Final

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from icans_interop.dicom import codec
from icans_interop.dicom import content as c
from icans_interop.dicom import tree as t
from icans_interop.dicom.reader_context import (
    ReadContext,
    attr,
    content_items,
    name_key,
    where,
)
from icans_interop.dicom.reader_evaluations import read_evaluations
from icans_interop.dicom.reader_findings import read_group
from icans_interop.dicom.reader_header import (
    header_procedure,
    read_issued,
    read_patient,
    read_study,
)
from icans_interop.dicom.sopclasses import SR_SOP_CLASSES
from icans_interop.dicom.values import parse_person_name
from icans_interop.issues import Issue, error, information, warning
from icans_interop.model import Finding, ImagingReport

#: Deepest content tree accepted (PS3.16 templates nest well under 10 levels).
MAX_DEPTH: Final = 64
#: Most content items accepted in one document.
MAX_ITEMS: Final = 100_000
#: Largest encoded input accepted (bytes).
MAX_BYTES: Final = 64 * 1024 * 1024

Source = Dataset | bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes]

def read(source: Source, *, max_bytes: int = MAX_BYTES) -> tuple[ImagingReport | None,
                                                                list[Issue]]:
    """The report in ``source`` (or None) and every issue found; never raises."""
    issues: list[Issue] = []
    stage = "load"
    try:
        # pydicom warns on malformed values; they become issues here instead. (The filter is
        # process-wide while it is active, as warnings filters are.)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            node = _load(source, issues, max_bytes)
            if node is None:
                return None, issues
            stage = "walk"
            return _report(ReadContext(node, issues)), issues
    except t.LimitExceeded as exc:
        issues.append(error(exc.code, "", str(exc)))
    except RecursionError:
        issues.append(error("too-deep", "", "the DICOM data nests too deeply to be parsed"))
    except MemoryError:
        issues.append(error("too-large", "", "the DICOM data is too large to be read"))
    except Exception as exc:  # the boundary: malformed input must never escape as exception
        if stage == "load":
            issues.append(error("unreadable", "", f"cannot read the DICOM data: "
                                                  f"{type(exc).__name__}: {exc}"))
        else:  # the data were read; failing on them is our bug, not the file's
            issues.append(error("internal-error", "", f"the SR reader failed: "
                                                      f"{type(exc).__name__}: {exc}"))
    return None, issues


# --------------------------------------------------------------------------------------------
# Input


def _load(source: Source, issues: list[Issue], max_bytes: int) -> t.Node | None:
    """The input as a plain tree (see :mod:`.content`), or None with an issue."""
    def bad_element(where: str, message: str) -> None:
        issues.append(error("invalid-value", where, message))

    if isinstance(source, Dataset):
        return t.plain(source, bad_element, MAX_DEPTH, MAX_ITEMS)
    data = _bytes_of(source, issues, max_bytes)
    if data is None:
        return None
    try:
        node = codec.parse_part10(data, MAX_DEPTH, MAX_ITEMS)
    except codec.Truncated as exc:
        issues.append(error("unreadable", "", f"truncated DICOM data: {exc}"))
        return None
    except codec.Unsupported:
        node = None  # another transfer syntax or character set: let pydicom parse it
    if node is not None:
        return node
    try:
        ds = dcmread(BytesIO(data))
    except InvalidDicomError:
        ds = None
    except (RecursionError, MemoryError):
        raise
    except Exception as exc:
        issues.append(error("unreadable", "", f"not a readable DICOM file (truncated or "
                                              f"corrupt): {type(exc).__name__}: {exc}"))
        return None
    if ds is None:  # no preamble / file meta: accept a bare data set if it looks like one
        try:
            ds = dcmread(BytesIO(data), force=True)
        except (RecursionError, MemoryError):
            raise
        except Exception as exc:
            issues.append(error("unreadable", "", f"not a DICOM file: {type(exc).__name__}: "
                                                  f"{exc}"))
            return None
        if c.SOP_CLASS_UID not in ds and c.VALUE_TYPE not in ds:
            issues.append(error("unreadable", "", "not a DICOM file (no DICM prefix, no SR "
                                                  "data)"))
            return None
    return t.plain(ds, bad_element, MAX_DEPTH, MAX_ITEMS)


def _bytes_of(source: Source, issues: list[Issue], max_bytes: int) -> bytes | None:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif isinstance(source, str | os.PathLike):
        try:
            size = os.stat(source).st_size
            if size > max_bytes:
                issues.append(error("too-large", str(source),
                                    f"file has {size} bytes; the limit is {max_bytes}"))
                return None
            with open(source, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            issues.append(error("unreadable", str(source), f"cannot open the file: {exc}"))
            return None
    elif hasattr(source, "read"):
        data = source.read(max_bytes + 1)
        if not isinstance(data, bytes):
            issues.append(error("unreadable", "", "the file object did not return bytes"))
            return None
    else:
        issues.append(error("unreadable", "", f"cannot read DICOM from a "
                                              f"{type(source).__name__}"))
        return None
    if len(data) > max_bytes:
        issues.append(error("too-large", "", f"input exceeds the limit of {max_bytes} bytes"))
        return None
    return data


# --------------------------------------------------------------------------------------------
# The document


def _report(ctx: ReadContext) -> ImagingReport | None:
    """The whole report: SOP Class check, header modules, then the content tree."""
    sop_class = ctx.header(c.SOP_CLASS_UID)
    if sop_class is None:
        ctx.issue(warning("missing-required", attr(c.SOP_CLASS_UID),
                          "no SOP Class UID; read as an SR document"))
    elif sop_class not in SR_SOP_CLASSES:
        ctx.issue(error("wrong-sop-class", attr(c.SOP_CLASS_UID),
                        f"{sop_class} is not an SR Storage SOP Class"))
        return None
    patient = read_patient(ctx)
    study = read_study(ctx)
    issued = read_issued(ctx)
    if patient is None or study is None or issued is None:
        return None
    data: dict[str, Any] = {"patient": patient, "study": study, "issued": issued}
    _content(ctx, ctx.ds, data)
    return ctx.validated(ImagingReport, data, "1")


def _content(ctx: ReadContext, root: t.Node, data: dict[str, Any]) -> None:
    """The TID 1500 root: observer, procedure, findings and qualitative evaluations."""
    value_type = t.string_of(root, c.VALUE_TYPE)
    title = t.item_name(root)
    if value_type != "CONTAINER" or title is None:
        ctx.issue(error("missing-required", "1", "the document has no root CONTAINER "
                                                 "with a concept name"))
        return
    if name_key(title) != "imaging_measurement_report":
        ctx.issue(information("ignored-item", where("1", title),
                              "document title is not (126000, DCM, \"Imaging Measurement "
                              "Report\"); read as TID 1500 anyway"))
    procedure: str | None = None
    observer: str | None = None
    findings: list[Finding] = []
    for item, path, name, key, value_type, rel in content_items(root, "1"):
        if key == "language" or key == "image_library":
            continue
        if rel == c.HAS_OBS_CONTEXT:
            if key == "person_observer_name" and value_type == "PNAME" and observer is None:
                observer = parse_person_name(t.string_of(item, c.PERSON_NAME))
            continue  # other observation context (device, subject, procedure) is inherited
        if key == "procedure_reported" and value_type == "CODE":
            found = ctx.key(t.item_code(item), "procedure", path, name)
            procedure = procedure or found
        elif key == "imaging_measurements" and value_type == "CONTAINER":
            for number, group in enumerate(t.children(item), start=1):
                finding = read_group(ctx, group, f"{path}.{number}")
                if finding is not None:
                    findings.append(finding)
        elif key == "qualitative_evaluations" and value_type == "CONTAINER":
            read_evaluations(ctx, item, path, data)
        else:
            ctx.skip(item, path, name, "the TID 1500 root")
    procedure = procedure or header_procedure(ctx)
    if procedure is not None:
        data["procedure"] = procedure
    else:
        ctx.issue(information("assumed-value", "1", "no known procedure code; the "
                                                    "model default is used"))
    data["observer_name"] = observer
    data["findings"] = tuple(findings)
