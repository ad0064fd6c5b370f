"""Validate an incoming DICOM SR (TID 1500) at four levels, then (profile ``icans``) semantics.

``validate_sr(source, profile)`` never raises and never hangs (every loop is bounded by the
limits of :mod:`.sr_dicom` and :mod:`.sr_tree`):

1. **DICOM**: the byte layer (:mod:`icans_interop.dicom.part10`) parses the input once (a
   Part 10 file within its limits: ``unreadable``, ``too-large``, ``too-deep``); then an SR SOP
   Class whose IOD ``data/sr-iod.csv`` describes (Basic Text, Enhanced, Comprehensive and
   Comprehensive 3D SR; a non-SR object is ``wrong-sop-class``; another SR IOD, such as Key
   Object Selection or a dose report, is ``not-checked`` under ``base``), file meta consistent
   with the data set, the Type 1/2/1C/2C attributes of the IOD's modules (:mod:`.sr_dicom`:
   ``missing-required``, enumerated values and item counts as ``invalid-value``) and the VR
   rules of every value (:mod:`.sr_values`).
2. **SR** (:mod:`.sr_tree`): content-item macros, value types the SOP class allows,
   relationship constraints of PS3.3 A.35.x-2, by-reference relationships (resolvable,
   allowed, acyclic), depth and size limits (``too-deep``, ``too-large``).
3. **Template** (:mod:`.sr_template`): TID 1500 and the templates it includes, from
   ``data/sr-templates.csv`` (requirement types, conditions, VM, concept names, value sets),
   for a document that declares TID 1500 or has one of its titles (and always under
   ``icans``); a TID 1500 document in an IOD that cannot carry it (Basic Text SR) is
   ``wrong-sop-class``. Under ``base`` another template (e.g. TID 2000) is ``not-checked``
   (information), never judged against TID 1500.
4. **Codes** (:mod:`.sr_codes`): coding schemes, DCM codes, SNOMED CT / LOINC identifiers,
   code meanings.

Profile ``base`` stops there: any conformant SR of those IODs, from any producer, passes with
no errors. Profile ``icans`` also reads the same parsed tree into the domain model
(:func:`icans_interop.dicom.reader.read_parsed`, surfacing the reader's issues: unknown codes,
codes of the wrong role for our value sets, values the model cannot carry) and applies the
shared semantic rules (:func:`icans_interop.validation.semantic.check_report`), each located
where the reader says the value came from (its provenance), completed with the template row
the template stage matched.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from typing import Final

from pydicom.dataset import Dataset
from pydicom.uid import UID

from icans_interop import sources
from icans_interop.dicom import part10, tags
from icans_interop.dicom.part10 import LIMITS, Item, Limits, Parsed, Part10Error, Source
from icans_interop.formats import Profile
from icans_interop.issues import Issue, error
from icans_interop.reading import Reading
from icans_interop.validation import sr_codes, sr_dicom, sr_template, sr_tree, sr_values
from icans_interop.validation.result import ValidationResult
from icans_interop.validation.sr_tree import Report, Tree

FILE: Final = "(file)"
_MAX_MESSAGE: Final = 400


def validate_sr(source: Source, profile: Profile = "icans", *,
                file_label: str | None = None, limits: Limits = LIMITS) -> ValidationResult:
    """Validate one SR; never raises.

    ``source`` is any kind of :mod:`icans_interop.sources` (a path, ``str`` included, the
    encoded bytes, a binary file object or a pydicom Dataset).

    ``limits`` bound what one input may hold (the byte layer's, shared with the reader).
    """
    return validate_and_read_sr(source, profile, file_label=file_label, limits=limits)[0]


def validate_and_read_sr(source: Source, profile: Profile = "icans", *,
                         file_label: str | None = None, limits: Limits = LIMITS
                         ) -> tuple[ValidationResult, Reading | None]:
    """:func:`validate_sr`, and the reader's :class:`Reading` of the same parse when the
    ``icans`` profile made one (None otherwise), so a caller that needs both (conversion)
    parses and reads the input once."""
    label = file_label or _label(source)
    report = Report()
    extra: list[Issue] = []
    trees: list[Tree] = []  # the content tree once built (locations survive a failure)
    readings: list[Reading] = []  # the icans profile's reading of the same parse
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _validate(source, profile, report, extra, trees, readings, limits)
    except Part10Error as problem:
        report.error(problem.code, problem.location or FILE, problem.message)
    except RecursionError:
        report.error("too-deep", FILE, "the data nests too deeply to be validated")
    except MemoryError:
        report.error("too-large", FILE, "the data is too large to be validated")
    except Exception as exc:  # the boundary: a bug must not escape as a traceback
        report.error("internal-error", FILE, f"the SR validator failed: {type(exc).__name__}: "
                                             f"{exc}")
    try:
        issues = report.render(trees[0] if trees else None)
    except Exception as exc:
        issues = [error("internal-error", FILE, f"rendering issues failed: {exc}")]
    seen = {(i.code, i.location) for i in issues}
    for issue in extra:
        key = (issue.code, issue.location)
        if key not in seen:
            seen.add(key)
            issues.append(issue)
    return ValidationResult(label, "sr", tuple(issues)), (readings[0] if readings else None)


#: The SOP Class UIDs of the SR family (PS3.4 B.5: "Structured Reporting" storage classes).
_SR_FAMILY: Final = "1.2.840.10008.5.1.4.1.1.88."


def _sop_name(uid: str) -> str:
    """pydicom's name of a SOP Class UID, or "unknown SOP Class"."""
    name = UID(uid).name
    return "unknown SOP Class" if name == uid else name


def _accepted(tables: sr_dicom.IodTables, template: str | None) -> str:
    """The SOP classes described (that can carry ``template``, when given), for a message."""
    return ", ".join(f"{tables.sop_class_names[n]} ({u})" for u, n in tables.sop_classes.items()
                     if template is None or template in tables.root_templates[n])


def _label(source: Source) -> str:
    if isinstance(source, Dataset):
        return "<dataset>"
    return sources.label(source, json_text=False) or "<bytes>"


def _validate(source: Source, profile: Profile, report: Report, extra: list[Issue],
              trees: list[Tree], readings: list[Reading], limits: Limits) -> None:
    data, part10_required = part10.load(source, limits)
    parsed = part10.parse(data, part10_required=part10_required, limits=limits)
    tables = sr_dicom.iod_tables()
    sop_uid = parsed.text(parsed.dataset, tags.SOP_CLASS_UID)
    sop_name = tables.sop_classes.get(sop_uid or "")
    where_sop = tags.tag_name(tags.SOP_CLASS_UID)
    if sop_name is None:
        if sop_uid is None:
            report.error("missing-required", where_sop,
                         "the data set has no SOP Class UID; cannot tell which IOD applies")
        elif profile == "base" and sop_uid.startswith(_SR_FAMILY):
            report.at("information", "not-checked", where_sop,
                      f"SOP Class UID {sop_uid} ({_sop_name(sop_uid)}) is an SR IOD this "
                      f"validator does not describe; nothing of it was checked (described: "
                      f"{_accepted(tables, None)})")
        else:
            report.error("wrong-sop-class", where_sop,
                         f"SOP Class UID {sop_uid} ({_sop_name(sop_uid)}) is not an SR Storage "
                         f"SOP Class that allows TID 1500; accepted: "
                         f"{_accepted(tables, sr_template.ROOT_TEMPLATE)}")
        return
    tree = sr_tree.build(parsed, sop_name, report)
    trees.append(tree)
    values = sr_values.check_values(parsed)
    current_evidence = sr_tree.check_evidence(tree, report)
    _check_header(parsed, report, values.non_ascii, current_evidence)
    sr_tree.check(tree, report)
    if profile == "icans" or sr_template.declares_root_template(tree):
        if sr_template.ROOT_TEMPLATE not in tables.root_templates[sop_name]:
            report.error("wrong-sop-class", where_sop,
                         f"SOP Class UID {sop_uid} ({tables.sop_class_names[sop_name]}) cannot "
                         f"carry TID 1500 (it allows no NUM items); accepted: "
                         f"{_accepted(tables, sr_template.ROOT_TEMPLATE)}")
        sr_template.check(tree, report)
    elif tree.nodes:
        report.node("information", "not-checked", 0,
                    f"the document {sr_template.root_description(tree)}: only TID 1500 "
                    f"(Measurement Report) templates are checked, so its template rules were "
                    f"not")
    sr_codes.check(parsed, tree, report, profile)
    _value_problems(parsed, tree, report, [*parsed.order_problems, *values.problems])
    if profile == "icans":
        extra.extend(_icans(parsed, tree, readings))


# ---------------------------------------------------------------------------------------------
# DICOM level: file meta and header modules


def _check_header(parsed: Parsed, report: Report, non_ascii: bool,
                  current_evidence: bool) -> None:

    def emit(code: str, location: str, message: str) -> None:
        report.error(code, location, message)

    def where(item: Item, tag: int) -> str:
        return parsed.header_location(item, tag)

    def meta_where(item: Item, tag: int) -> str:
        return f"File Meta > {tags.tag_name(tag)}"

    def condition(name: str, item: Item) -> bool | None:
        if name == "verified":
            return parsed.text(parsed.dataset, tags.VERIFICATION_FLAG) == "VERIFIED"
        if name == "observer-person":
            return parsed.text(item, tags.OBSERVER_TYPE) == "PSN"
        if name == "observer-device":
            return parsed.text(item, tags.OBSERVER_TYPE) == "DEV"
        if name == "non-ascii-text":
            return non_ascii
        if name == "content-references-current-evidence":
            return current_evidence
        return None  # "not-evaluated": checked only when present

    if parsed.part10:
        sr_dicom.check_attributes(parsed.meta, _rules("meta"), condition, emit, meta_where)
        for media, own in ((tags.MEDIA_STORAGE_SOP_CLASS_UID, tags.SOP_CLASS_UID),
                           (tags.MEDIA_STORAGE_SOP_INSTANCE_UID, tags.SOP_INSTANCE_UID)):
            in_meta = parsed.text(parsed.meta, media)
            in_set = parsed.text(parsed.dataset, own)
            if in_meta is not None and in_set is not None and in_meta != in_set:
                report.error("invalid-value", meta_where(parsed.meta, media),
                             f"{tags.keyword(media)} {in_meta} differs from "
                             f"{tags.keyword(own)} {in_set} of the data set")
    sr_dicom.check_attributes(parsed.dataset, _rules("header"), condition, emit, where,
                              parsed.encodings)


@lru_cache(maxsize=2)
def _rules(which: str) -> sr_dicom.RuleSet:
    tables = sr_dicom.iod_tables()
    return sr_dicom.rule_set(tables.meta_rules if which == "meta" else tables.header_rules)


def _value_problems(parsed: Parsed, tree: Tree, report: Report,
                    problems: list[tuple[Item, int, str]]) -> None:
    limit = 200
    for item, tag, message in problems[:limit]:
        owner = tree.owner_node(item, tag)
        if owner is None:
            if item is parsed.meta:
                location = f"File Meta > {tags.tag_name(tag)}"
            else:
                location = parsed.header_location(item, tag)
            report.error("invalid-value", location, message)
        else:
            index, content_item = owner
            where = parsed.attribute_path(item, content_item, tag)
            report.node("error", "invalid-value", index, f"{where}: {message}")
    if len(problems) > limit:
        report.error("invalid-value", FILE, f"{len(problems) - limit} further values "
                                            "break their VR (not listed)")


# ---------------------------------------------------------------------------------------------
# Profile icans: the reader on the same tree, and the shared semantic rules


def _icans(parsed: Parsed, tree: Tree, readings: list[Reading]) -> list[Issue]:
    from icans_interop.dicom.reader import read_parsed
    from icans_interop.validation import semantic

    reading = read_parsed(parsed)
    readings.append(reading)
    issues = [_with_row(tree, _short(issue)) for issue in reading.issues]
    if reading.report is not None:
        provenance = reading.provenance

        def locate(path: str) -> str:
            return _row_location(tree, provenance.locate(path))

        issues = [*issues, *semantic.check_report(reading.report, locate)]
    return issues


_CONTENT_PATH = re.compile(r"^(1(?:\.\d+)*)( |$)")


def _short(issue: Issue) -> Issue:
    """The reader's issue with a message of reasonable length (giant values are cut)."""
    if len(issue.message) <= _MAX_MESSAGE:
        return issue
    cut = issue.message[:_MAX_MESSAGE]
    return Issue(issue.severity, issue.code, issue.location,
                 f"{cut}... ({len(issue.message)} characters)")


def _with_row(tree: Tree, issue: Issue) -> Issue:
    """The reader's issue, its content-item location completed with the template row."""
    location = _row_location(tree, issue.location)
    if location == issue.location:
        return issue
    return Issue(issue.severity, issue.code, location, issue.message)


def _row_location(tree: Tree, location: str) -> str:
    """A reader location (``1.5.2.4 (363698007, SCT, "Finding Site")...``) with the template
    row the template stage matched for that item (``... [TID 1501 row 6]``)."""
    match = _CONTENT_PATH.match(location)
    if match is None:
        return location
    index = tree.by_path.get(match[1])
    if index is None:
        return location
    node = tree.nodes[index]
    prefix = f"{node.path} {part10.describe(node.concept)}"
    if node.row is None or not location.startswith(prefix):
        return location
    return tree.location(index) + location[len(prefix):]
