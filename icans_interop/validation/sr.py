"""Validate an incoming DICOM SR (TID 1500) at four levels, then (profile ``icans``) semantics.

``validate_sr(source, profile)`` never raises and never hangs (every loop is bounded by the
limits of :mod:`.sr_dicom` and :mod:`.sr_tree`):

1. **DICOM** (:mod:`.sr_dicom`): a readable Part 10 file of at most 64 MB (``unreadable``,
   ``too-large``), an SR SOP Class that allows TID 1500 (Enhanced, Comprehensive and
   Comprehensive 3D SR; anything else is ``wrong-sop-class``), file meta consistent with the
   data set, the Type 1/2/1C/2C attributes of the IOD's modules (``missing-required``,
   enumerated values and item counts as ``invalid-value``) and the VR rules of every value.
2. **SR** (:mod:`.sr_tree`): content-item macros, value types the SOP class allows,
   relationship constraints of PS3.3 A.35.x-2, by-reference relationships (resolvable,
   allowed, acyclic), depth and size limits (``too-deep``, ``too-large``).
3. **Template** (:mod:`.sr_template`): TID 1500 and the templates it includes, from
   ``data/sr-templates.csv`` (requirement types, conditions, VM, concept names, value sets).
4. **Codes** (:mod:`.sr_codes`): coding schemes, DCM codes, SNOMED CT / LOINC identifiers,
   code meanings.

Profile ``base`` stops there: any conformant TID 1500 document, from any producer, passes with
no errors. Profile ``icans`` also reads the document into the domain model with
:func:`icans_interop.dicom.read` (surfacing the reader's issues: unknown codes, codes of the
wrong role for our value sets, values the model cannot carry) and applies the shared semantic
rules (:func:`icans_interop.validation.semantic.check_report`), located in the SR through a
locator that maps model paths (``findings[1].sites[0]``) to content items.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Final, Literal

from pydicom.dataset import Dataset

from icans_interop.issues import Issue, error
from icans_interop.validation import sr_codes, sr_dicom, sr_template, sr_tree
from icans_interop.validation.result import ValidationResult
from icans_interop.validation.sr_dicom import InputProblem, Item, Parsed
from icans_interop.validation.sr_tree import Report, Tree

Profile = Literal["icans", "base"]
Source = str | Path | bytes | bytearray | memoryview | Dataset

FILE: Final = "(file)"
_SOP_CLASS_UID: Final = 0x00080016
_SOP_INSTANCE_UID: Final = 0x00080018
_MEDIA_SOP_CLASS: Final = 0x00020002
_MEDIA_SOP_INSTANCE: Final = 0x00020003
_VERIFICATION_FLAG: Final = 0x0040A493
_OBSERVER_TYPE: Final = 0x0040A084
_OBSERVATION_UID: Final = 0x0040A171
_UID: Final = 0x0040A124
_MAX_MESSAGE: Final = 400


def validate_sr(source: Source, profile: Profile = "icans", *,
                file_label: str | None = None) -> ValidationResult:
    """Validate one SR (a path, the encoded bytes or a pydicom Dataset); never raises."""
    label = file_label or _label(source)
    report = Report()
    extra: list[Issue] = []
    trees: list[Tree] = []  # the content tree once built (locations survive a failure)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _validate(source, profile, report, extra, trees)
    except InputProblem as problem:
        report.error(problem.code, FILE, problem.message)
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
    return ValidationResult(label, "sr", tuple(issues))


def _label(source: Source) -> str:
    if isinstance(source, str | os.PathLike):
        return str(source)
    if isinstance(source, Dataset):
        return "<dataset>"
    return "<bytes>"


def _validate(source: Source, profile: Profile, report: Report, extra: list[Issue],
              trees: list[Tree]) -> None:
    data, part10 = sr_dicom.load(source)
    parsed = sr_dicom.parse(data, part10_required=part10)
    tables = sr_dicom.iod_tables()
    dataset = parsed.dataset
    sop_uid = sr_dicom.element_text(dataset, _SOP_CLASS_UID)
    sop_name = tables.sop_classes.get(sop_uid or "")
    if sop_name is None:
        accepted = ", ".join(f"{tables.sop_class_names[n]} ({u})"
                             for u, n in tables.sop_classes.items())
        if sop_uid is None:
            report.error("missing-required", sr_dicom.tag_name(_SOP_CLASS_UID),
                         "the data set has no SOP Class UID; cannot tell which IOD applies")
        else:
            report.error("wrong-sop-class", sr_dicom.tag_name(_SOP_CLASS_UID),
                         f"SOP Class UID {sop_uid} is not an SR Storage SOP Class that allows "
                         f"TID 1500; accepted: {accepted}")
        return
    tree = sr_tree.build(parsed, sop_name, report)
    trees.append(tree)
    _check_header(parsed, tree, report)
    sr_tree.check(tree, report)
    sr_template.check(tree, report)
    sr_codes.check(parsed, tree, report)
    _vr_problems(parsed, tree, report)
    if profile == "icans":
        extra.extend(_icans(source, data, tree))


# ---------------------------------------------------------------------------------------------
# DICOM level: file meta and header modules


def _check_header(parsed: Parsed, tree: Tree, report: Report) -> None:

    def emit(code: str, location: str, message: str) -> None:
        report.error(code, location, message)

    def where(item: Item, tag: int) -> str:
        return sr_dicom.header_location(parsed, item, tag)

    def meta_where(item: Item, tag: int) -> str:
        return f"File Meta > {sr_dicom.tag_name(tag)}"

    references = sr_tree.references_instances(tree)

    def condition(name: str, item: Item) -> bool | None:
        if name == "verified":
            return sr_dicom.element_text(parsed.dataset, _VERIFICATION_FLAG) == "VERIFIED"
        if name == "observer-person":
            return sr_dicom.element_text(item, _OBSERVER_TYPE) == "PSN"
        if name == "observer-device":
            return sr_dicom.element_text(item, _OBSERVER_TYPE) == "DEV"
        if name == "non-ascii-text":
            return parsed.checker.non_ascii
        if name == "content-references-instances":
            return references
        return None  # "not-evaluated": checked only when present

    if parsed.part10:
        sr_dicom.check_attributes(parsed.meta, _rules("meta"), condition, emit, meta_where)
        for media, own in ((_MEDIA_SOP_CLASS, _SOP_CLASS_UID),
                           (_MEDIA_SOP_INSTANCE, _SOP_INSTANCE_UID)):
            in_meta = sr_dicom.element_text(parsed.meta, media)
            in_set = sr_dicom.element_text(parsed.dataset, own)
            if in_meta is not None and in_set is not None and in_meta != in_set:
                report.error("invalid-value", meta_where(parsed.meta, media),
                             f"{sr_dicom.keyword(media)} {in_meta} differs from "
                             f"{sr_dicom.keyword(own)} {in_set} of the data set")
    sr_dicom.check_attributes(parsed.dataset, _rules("header"), condition, emit, where,
                              parsed.encodings)


@lru_cache(maxsize=2)
def _rules(which: str) -> sr_dicom.RuleSet:
    tables = sr_dicom.iod_tables()
    return sr_dicom.rule_set(tables.meta_rules if which == "meta" else tables.header_rules)


def _vr_problems(parsed: Parsed, tree: Tree, report: Report) -> None:
    limit = 200
    for item, tag, message in parsed.vr_problems[:limit]:
        owner = tree.owner_node(item, tag)
        if owner is None:
            if item is parsed.meta:
                location = f"File Meta > {sr_dicom.tag_name(tag)}"
            else:
                location = sr_dicom.header_location(parsed, item, tag)
            report.error("invalid-value", location, message)
        else:
            index, content_item = owner
            where = sr_dicom.attribute_path(parsed, item, content_item, tag)
            report.node("error", "invalid-value", index, f"{where}: {message}")
    if len(parsed.vr_problems) > limit:
        report.error("invalid-value", FILE, f"{len(parsed.vr_problems) - limit} further values "
                                            "break their VR (not listed)")


# ---------------------------------------------------------------------------------------------
# Profile icans: the reader and the shared semantic rules


def _icans(source: Source, data: bytes, tree: Tree) -> list[Issue]:
    from icans_interop import dicom
    from icans_interop.validation import semantic

    model, issues = dicom.read(source if isinstance(source, Dataset) else data)
    issues = [_with_row(tree, _short(issue)) for issue in issues]
    if model is not None:
        issues = [*issues, *semantic.check_report(model, _locator(tree, model))]
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
    """The reader's content-item locations, completed with the template row we matched."""
    match = _CONTENT_PATH.match(issue.location)
    if match is None:
        return issue
    index = tree.by_path.get(match[1])
    if index is None:
        return issue
    node = tree.nodes[index]
    prefix = f"{node.path} {sr_tree.describe(node.concept)}"
    if node.row is None or not issue.location.startswith(prefix):
        return issue
    rest = issue.location[len(prefix):]
    return Issue(issue.severity, issue.code, tree.location(index) + rest, issue.message)


_MODEL_PATH = re.compile(r"^findings\[(\d+)\](?:\.(\w+)(?:\[(\d+)\])?)?$")


def _locator(tree: Tree, model: object) -> Callable[[str], str]:
    """Model path -> SR location (``findings[1].sites[0]`` -> ``1.5.2.4 (...) [TID ...]``)."""
    from icans_interop import terminology
    from icans_interop.model import ImagingReport

    nodes = tree.nodes
    concepts = terminology.load()

    def code(key: str) -> tuple[str, str] | None:
        concept = concepts.get(key)
        if concept is None or not concept.has_dicom_coding():
            return None
        coding = concept.dicom_coding()
        return (coding.code, coding.scheme or "")

    def path_key(index: int) -> tuple[int, ...]:
        return tuple(int(p) for p in nodes[index].path.split("."))

    groups = sorted((n.index for n in nodes
                     if n.row is not None and n.row.endswith("row 1")
                     and n.row.split()[1] in ("1501", "1410", "1411")), key=path_key)
    group_of: dict[int, int] = {}
    if isinstance(model, ImagingReport):
        by_uid: dict[str, int] = {}
        tracking = code("tracking_uid")
        for group in groups:
            uid = sr_dicom.element_text(nodes[group].item, _OBSERVATION_UID)
            if uid:
                by_uid[uid] = group
            for child in nodes[group].children:
                concept = nodes[child].concept
                if tracking and concept and (concept[0], concept[1]) == tracking:
                    value = sr_dicom.element_text(nodes[child].item, _UID)
                    if value:
                        by_uid.setdefault(value, group)
        for position, finding in enumerate(model.findings):
            found = by_uid.get(finding.observation_uid or "") or by_uid.get(
                finding.tracking_uid or "")
            if found is None and position < len(groups):
                found = groups[position]
            if found is not None:
                group_of[position] = found

    field_keys = {"sites": "finding_site", "laterality": "laterality",
                  "tracking_uid": "tracking_uid", "tracking_id": "tracking_identifier",
                  "pattern": "finding", "distribution": "distribution_descriptor",
                  "number": "number_of_lesions", "morphology": "lesion_morphology"}

    def children_with(index: int, wanted: tuple[str, str] | None) -> list[int]:
        if wanted is None:
            return []
        found = []
        stack = list(reversed(nodes[index].children))
        while stack:
            child = stack.pop()
            concept = nodes[child].concept
            if concept is not None and (concept[0], concept[1]) == wanted:
                found.append(child)
            elif nodes[child].rel == "HAS CONCEPT MOD":
                stack.extend(reversed(nodes[child].children))
        return found

    def signal_items(group: int) -> list[int]:
        result = []
        for child in nodes[group].children:
            concept = nodes[child].concept
            if nodes[child].vt != "CODE" or concept is None:
                continue
            known = concepts.lookup_dicom(concept[1], concept[0])
            if known is not None and known.role == "mr_sequence":
                result.append(child)
        return result

    def named(key: str) -> int | None:
        wanted = code(key)
        for node in nodes:
            if node.concept is not None and (node.concept[0], node.concept[1]) == wanted:
                return node.index
        return None

    def locate(path: str) -> str:
        match = _MODEL_PATH.match(path)
        if match is not None:
            group = group_of.get(int(match[1]))
            if group is None:
                return tree.location(0)
            field_name, number = match[2], match[3]
            index = group
            if field_name == "signals":
                items = signal_items(group)
                position = int(number or 0)
                if position < len(items):
                    index = items[position]
            elif field_name in field_keys:
                items = children_with(group, code(field_keys[field_name]))
                position = int(number or 0)
                if position < len(items):
                    index = items[position]
            return tree.location(index)
        if path.startswith("icans_grade"):
            found = named("icans_grade")
            return tree.location(found if found is not None else 0)
        if path.startswith("assessment"):
            found = named("qualitative_evaluations")
            return tree.location(found if found is not None else 0)
        return tree.location(0)

    return locate


