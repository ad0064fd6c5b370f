"""Read a DICOM SR (TID 1500) into an :class:`~icans_interop.model.ImagingReport`.

The reader is for files from *any* producer, so it is tolerant and never raises:

* input may be any kind of :mod:`icans_interop.sources` (a path, a ``str`` always being a
  path here, bytes, a binary file object, or a pydicom Dataset); the byte layer
  (:mod:`.part10`) parses it once into a plain tree within its :class:`~.part10.Limits`;
  anything unreadable (not DICOM, truncated, too large, too deep) gives an ``unreadable``,
  ``too-large`` or ``too-deep`` issue and no report. A data set without the Part 10 preamble
  is read if it looks like an SR (SOP Class UID or Value Type present);
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

:func:`read` returns a :class:`~icans_interop.reading.Reading`: it unpacks as
``report, issues`` and also says where each model value came from (``provenance``), which the
SR validator uses to locate the semantic rules' issues; :func:`read_parsed` reads a tree the
validator has already parsed, so a file is parsed once.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

from icans_interop.dicom import part10, tags
from icans_interop.dicom.content import HAS_OBS_CONTEXT
from icans_interop.dicom.part10 import LIMITS, Limits, Parsed, Part10Error, Source
from icans_interop.dicom.reader_context import ReadContext, attr, name_key, where
from icans_interop.dicom.reader_evaluations import read_evaluations
from icans_interop.dicom.reader_findings import read_group
from icans_interop.dicom.reader_header import (
    header_procedure,
    read_issued,
    read_patient,
    read_status,
    read_study,
)
from icans_interop.dicom.sopclasses import SR_SOP_CLASSES
from icans_interop.dicom.values import parse_person_name
from icans_interop.issues import Issue, error, information, warning
from icans_interop.model import Finding, ImagingReport, SrInstance
from icans_interop.reading import Reading

#: Largest encoded input accepted (bytes).
MAX_BYTES = LIMITS.max_bytes


def read(source: Source, *, max_bytes: int | None = None,
         limits: Limits = LIMITS) -> Reading:
    """The report in ``source`` (or None), every issue found and their provenance; never
    raises."""
    if max_bytes is not None:
        limits = dataclasses.replace(limits, max_bytes=max_bytes)
    issues: list[Issue] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data, _part10 = part10.load(source, limits)
            parsed = part10.parse(data, part10_required=False, limits=limits)
    except Part10Error as exc:
        return Reading(None, [error(exc.code, exc.location or "", exc.message)])
    except RecursionError:
        return Reading(None, [error("too-deep", "", "the DICOM data nests too deeply to be "
                                                    "parsed")])
    except MemoryError:
        return Reading(None, [error("too-large", "", "the DICOM data is too large to be read")])
    except Exception as exc:  # the boundary: malformed input must never escape as exception
        return Reading(None, [error("unreadable", "", f"cannot read the DICOM data: "
                                                      f"{type(exc).__name__}: {exc}")])
    if not parsed.part10 and tags.SOP_CLASS_UID not in parsed.dataset and \
            tags.VALUE_TYPE not in parsed.dataset:
        issues.append(error("unreadable", "", "not a DICOM file (no DICM prefix, no SR data)"))
        return Reading(None, issues)
    return read_parsed(parsed)


def read_parsed(parsed: Parsed) -> Reading:
    """The report of an already parsed file (see :func:`read`); never raises."""
    issues: list[Issue] = []
    ctx = ReadContext(parsed, issues)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = _report(ctx)
    except RecursionError:
        issues.append(error("too-deep", "", "the DICOM data nests too deeply to be read"))
        report = None
    except Exception as exc:  # the data were parsed; failing on them is our bug
        issues.append(error("internal-error", "", f"the SR reader failed: "
                                                  f"{type(exc).__name__}: {exc}"))
        report = None
    return Reading(report, issues, ctx.provenance, sr_instance=_sr_instance(parsed))


def _sr_instance(parsed: Parsed) -> SrInstance | None:
    """The UIDs and SOP Class of the SR read, when it has all three."""
    values = [parsed.text(parsed.dataset, tag) for tag in (
        tags.SERIES_INSTANCE_UID, tags.SOP_INSTANCE_UID, tags.SOP_CLASS_UID)]
    if any(value is None for value in values):
        return None
    series, instance, sop_class = values
    assert series is not None and instance is not None and sop_class is not None
    return SrInstance(series, instance, sop_class)


# --------------------------------------------------------------------------------------------
# The document


def _report(ctx: ReadContext) -> ImagingReport | None:
    """The whole report: SOP Class check, header modules, then the content tree."""
    sop_class = ctx.header(tags.SOP_CLASS_UID)
    if sop_class is None:
        ctx.issue(warning("missing-required", attr(tags.SOP_CLASS_UID),
                          "no SOP Class UID; read as an SR document"))
    elif sop_class not in SR_SOP_CLASSES:
        ctx.issue(error("wrong-sop-class", attr(tags.SOP_CLASS_UID),
                        f"{sop_class} is not an SR Storage SOP Class"))
        return None
    patient = read_patient(ctx)
    study = read_study(ctx)
    issued = read_issued(ctx)
    if patient is None or study is None or issued is None:
        return None
    data: dict[str, Any] = {"patient": patient, "study": study, "issued": issued}
    read_status(ctx, data)
    _content(ctx, ctx.ds, data)
    return ctx.validated(ImagingReport, data, "1")


def _content(ctx: ReadContext, root: part10.Item, data: dict[str, Any]) -> None:
    """The TID 1500 root: observer, procedure, findings and qualitative evaluations."""
    value_type = ctx.parsed.text(root, tags.VALUE_TYPE)
    title = ctx.name(root)
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
    for item, path, name, key, value_type, rel in ctx.content_items(root, "1"):
        if key == "language" or key == "image_library":
            continue
        if rel == HAS_OBS_CONTEXT:
            if key == "person_observer_name" and value_type == "PNAME" and observer is None:
                observer = parse_person_name(ctx.string(item, tags.PERSON_NAME))
                ctx.provenance.record("observer_name", where(path, name))
            continue  # other observation context (device, subject, procedure) is inherited
        if key == "procedure_reported" and value_type == "CODE":
            found = ctx.key(ctx.value_code(item), "procedure", path, name)
            if procedure is None and found is not None:
                procedure = found
                ctx.provenance.record("procedure", where(path, name))
        elif key == "imaging_measurements" and value_type == "CONTAINER":
            ctx.provenance.record("findings", where(path, name), replace=False)
            for number, group in enumerate(ctx.parsed.children(item), start=1):
                finding, found_at = read_group(ctx, group, f"{path}.{number}")
                if finding is not None:
                    ctx.provenance.merge(f"findings[{len(findings)}]", found_at)
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
