"""SR level of SR validation: the content tree and the PS3.3 constraints of the SOP class.

:func:`build` walks the content tree of a parsed file without recursion (its depth is bounded
by the byte layer's limits) into a flat list of :class:`Node` s; :func:`check` then applies,
for the document's SOP class, the rows of ``data/sr-iod.csv``:

* ``content-item`` rows: the attributes of the Document Content and Document Relationship
  macros and of the value macros of each value type (Type, item count, enumerated values);
* ``value-type`` rows: the value types the IOD allows (A.35.x.3.1.1: no SCOORD3D in Enhanced
  or Comprehensive SR);
* ``relationship`` rows: the (source value type, relationship, target value type) triples of
  Tables A.35.2-2, A.35.3-2 and A.35.13-2, and whether the triple may be by-reference.

By-reference relationships (Referenced Content Item Identifier) must point at an existing
item (``1`` is the root, then 1-based positions), never at the referencing item's own ancestor,
and the by-value tree plus all by-reference edges must stay acyclic (PS3.3 C.17.3.2.4).

Locations are content-item paths as in PS3.3 (root ``1``, its fourth child ``1.4``) followed by
the concept name and, once the template stage has matched the item, its template row:
``1.5.1.3 (363698007, SCT, "Finding Site") [TID 1501 row 6]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from icans_interop.dicom import tags
from icans_interop.dicom.part10 import LIMITS, DicomCode, Item, Parsed, describe
from icans_interop.issues import Issue, Severity
from icans_interop.validation import sr_dicom

Code = DicomCode  # (code value, coding scheme designator, code meaning)

_REFERENCE_VTS: Final = frozenset({"IMAGE", "COMPOSITE", "WAVEFORM"})


@dataclass(slots=True)
class Node:
    """One content item."""

    index: int
    item: Item
    parent: int
    path: str
    depth: int
    rel: str | None
    vt: str | None
    concept: Code | None
    ref: tuple[int, ...] | None = None
    target: int = -1
    children: list[int] = field(default_factory=list)
    row: str | None = None  # "TID 1501 row 6", set by the template stage


class Report:
    """Issues found so far; content-item locations are rendered at the end (template rows)."""

    def __init__(self) -> None:
        self._entries: list[tuple[Severity, str, int, str, str]] = []

    def at(self, severity: Severity, code: str, location: str, message: str) -> None:
        self._entries.append((severity, code, -1, location, message))

    def node(self, severity: Severity, code: str, node: int, message: str,
             suffix: str = "") -> None:
        """An issue of content item ``node``; ``suffix`` is appended to its location."""
        self._entries.append((severity, code, node, suffix, message))

    def error(self, code: str, location: str, message: str) -> None:
        self.at("error", code, location, message)

    def has(self, code: str) -> bool:
        return any(entry[1] == code for entry in self._entries)

    def count(self, severity: Severity) -> int:
        """How many issues of ``severity`` were reported so far."""
        return sum(1 for entry in self._entries if entry[0] == severity)

    def render(self, tree: Tree | None) -> list[Issue]:
        issues: list[Issue] = []
        seen: set[tuple[str, str, str]] = set()
        for severity, code, node, text, message in self._entries:
            location = tree.location(node) + text if node >= 0 and tree is not None else text
            key = (code, location, message)
            if key in seen:
                continue
            seen.add(key)
            issues.append(Issue(severity, code, location, message))
        return issues


@dataclass(slots=True)
class Tree:
    """The content tree of one document."""

    parsed: Parsed
    sop_class: str  # short name ("enhanced", "comprehensive", "comprehensive-3d")
    nodes: list[Node]
    by_item: dict[int, int]  # id(item) -> node index
    by_path: dict[str, int]

    def location(self, index: int) -> str:
        node = self.nodes[index]
        if node.ref is not None and node.vt is None:
            target = ".".join(str(n) for n in node.ref)
            where = f"{node.path} (by-reference to {target})"
        else:
            where = f"{node.path} {describe(node.concept)}"
        return f"{where} [{node.row}]" if node.row else where

    def value_type(self, index: int) -> str | None:
        """The value type of ``index`` or, for a by-reference item, of its target."""
        node = self.nodes[index]
        if node.vt is None and node.target >= 0:
            return self.nodes[node.target].vt
        return node.vt

    def concept(self, index: int) -> Code | None:
        node = self.nodes[index]
        if node.concept is None and node.target >= 0:
            return self.nodes[node.target].concept
        return node.concept

    def owner_node(self, item: Item, tag: int | None = None) -> tuple[int, Item] | None:
        """The content item that ``item`` (an item of any nested sequence) belongs to.

        The root content item is the data set itself: an element of it (``tag``) or an item
        reached through one of its sequences belongs to the root only when that attribute is
        one of the SR Document Content module's; otherwise it is a header attribute (None).
        """
        current = item
        via = tag
        parents = self.parsed.parents
        for _ in range(LIMITS.max_nesting + 2):
            index = self.by_item.get(id(current))
            if index is not None:
                if index == 0 and via is not None and via not in tags.ROOT_CONTENT_TAGS:
                    return None
                return index, current
            link = parents.get(id(current))
            if link is None:
                return None
            current, via = link[0], link[1]
        return None

    def template_id(self, index: int) -> tuple[str | None, str | None]:
        """(Template Identifier, Mapping Resource) of the item's Content Template Sequence."""
        items = self.parsed.items(self.nodes[index].item, tags.CONTENT_TEMPLATE_SEQUENCE)
        if not items:
            return None, None
        return (self.parsed.text(items[0], tags.TEMPLATE_IDENTIFIER),
                self.parsed.text(items[0], tags.MAPPING_RESOURCE))


def _node(parsed: Parsed, index: int, item: Item, parent: int, path: str, depth: int) -> Node:
    node = Node(index, item, parent, path, depth, parsed.text(item, tags.RELATIONSHIP_TYPE),
                parsed.text(item, tags.VALUE_TYPE), parsed.concept_name(item))
    if tags.REFERENCED_CONTENT_ITEM_IDENTIFIER in item:
        node.ref = parsed.uints(item, tags.REFERENCED_CONTENT_ITEM_IDENTIFIER) or ()
    return node


def build(parsed: Parsed, sop_class: str, report: Report) -> Tree:
    """The content tree of ``parsed`` (iterative)."""
    root = _node(parsed, 0, parsed.dataset, -1, "1", 1)
    nodes = [root]
    by_item = {id(parsed.dataset): 0}
    stack = [0]
    while stack:
        index = stack.pop()
        node = nodes[index]
        children = parsed.children(node.item)
        if not children:
            continue
        prefix = node.path + "."
        depth = node.depth + 1
        for position, child in enumerate(children, start=1):
            child_index = len(nodes)
            nodes.append(_node(parsed, child_index, child, index, f"{prefix}{position}", depth))
            by_item[id(child)] = child_index
            node.children.append(child_index)
            stack.append(child_index)
    by_path = {node.path: node.index for node in nodes}
    tree = Tree(parsed, sop_class, nodes, by_item, by_path)
    _resolve_references(tree, report)
    return tree


def _resolve_references(tree: Tree, report: Report) -> None:
    referencing = [node for node in tree.nodes if node.ref is not None]
    if not referencing:
        return
    for node in referencing:
        ref = node.ref or ()
        target_path = ".".join(str(n) for n in ref)
        target = tree.by_path.get(target_path)
        if not ref or target is None:
            report.node("error", "reference-unresolved", node.index,
                        f"Referenced Content Item Identifier {target_path or '(empty)'} names "
                        "no content item of this document")
            continue
        if node.vt is not None:
            report.node("error", "invalid-value", node.index,
                        "a by-reference item has both a Referenced Content Item Identifier and "
                        "a Value Type")
        node.target = target
    _check_cycles(tree, report)


def _check_cycles(tree: Tree, report: Report) -> None:
    """Report by-reference edges that close a cycle (iterative three-colour DFS)."""
    nodes = tree.nodes
    # edges: parent -> child (by-value) and parent of a by-reference item -> its target
    edges: list[list[int]] = [[] for _ in nodes]
    ref_edges: dict[tuple[int, int], int] = {}
    for node in nodes:
        if node.parent < 0:
            continue
        if node.ref is not None:
            if node.target >= 0:
                edges[node.parent].append(node.target)
                ref_edges[(node.parent, node.target)] = node.index
        else:
            edges[node.parent].append(node.index)
    colour = [0] * len(nodes)  # 0 new, 1 on stack, 2 done
    reported: set[int] = set()
    for start in range(len(nodes)):
        if colour[start]:
            continue
        stack: list[tuple[int, int]] = [(start, 0)]
        colour[start] = 1
        while stack:
            current, next_edge = stack[-1]
            if next_edge < len(edges[current]):
                stack[-1] = (current, next_edge + 1)
                target = edges[current][next_edge]
                if colour[target] == 1:
                    referrer = ref_edges.get((current, target))
                    if referrer is not None and referrer not in reported:
                        reported.add(referrer)
                        report.node("error", "reference-cycle", referrer,
                                    f"the by-reference relationship to "
                                    f"{nodes[target].path} closes a cycle (an item would be "
                                    "its own descendant)")
                elif colour[target] == 0:
                    colour[target] = 1
                    stack.append((target, 0))
            else:
                colour[current] = 2
                stack.pop()


def check(tree: Tree, report: Report) -> None:
    """Content-item attributes, value types and relationship constraints of the SOP class."""
    tables = sr_dicom.iod_tables()
    allowed_vts = tables.value_types.get(tree.sop_class, frozenset())
    relationships = tables.relationships.get(tree.sop_class, {})
    parsed = tree.parsed
    encodings = parsed.encodings
    nodes = tree.nodes
    iod_name = tables.sop_class_names.get(tree.sop_class, tree.sop_class)
    for node in nodes:
        index = node.index
        item = node.item

        def emit(code: str, where: str, message: str, index: int = index) -> None:
            report.node("error", code, index, f"{where}: {message}" if where else message)

        def where(sub_item: Item, tag: int, node_item: Item = item) -> str:
            if sub_item is node_item:
                return ""
            return parsed.attribute_path(sub_item, node_item, None)

        vt = node.vt
        by_value = node.ref is None
        rules = _rule_set("root" if node.parent < 0 else "*", vt if by_value else None)
        sr_dicom.check_attributes(item, rules, _conditions(node, parsed), emit, where, encodings)
        if vt is not None and by_value and vt not in allowed_vts:
            if vt in _ALL_VALUE_TYPES:
                report.node("error", "value-type-not-allowed", index,
                            f"value type {vt} is not allowed in {iod_name} "
                            f"(PS3.3 A.35, {tree.sop_class})")
            continue
        if node.parent < 0 or node.rel is None:
            continue
        parent_vt = nodes[node.parent].vt
        target_vt = tree.value_type(index)
        if parent_vt is None or target_vt is None or target_vt not in allowed_vts or \
                parent_vt not in allowed_vts:
            continue
        key = (parent_vt, node.rel, target_vt)
        by_ref_ok = relationships.get(key)
        if by_ref_ok is None:
            by_ref_ok = relationships.get(("*", node.rel, target_vt))
        if by_ref_ok is None:
            if node.rel in _RELATIONSHIPS:
                report.node("error", "relationship-not-allowed", index,
                            f"{parent_vt} {node.rel} {target_vt} is not a relationship "
                            f"{iod_name} allows (PS3.3 Table A.35 relationship constraints)")
        elif node.ref is not None and not by_ref_ok:
            report.node("error", "reference-not-allowed", index,
                        f"{parent_vt} {node.rel} {target_vt} may not be by-reference in "
                        f"{iod_name}")


_ALL_VALUE_TYPES: Final = frozenset({"CONTAINER", "TEXT", "CODE", "NUM", "DATETIME", "DATE",
                                     "TIME", "UIDREF", "PNAME", "SCOORD", "SCOORD3D", "TCOORD",
                                     "COMPOSITE", "IMAGE", "WAVEFORM", "TABLE"})
_RELATIONSHIPS: Final = frozenset({"CONTAINS", "HAS PROPERTIES", "HAS OBS CONTEXT",
                                   "HAS ACQ CONTEXT", "INFERRED FROM", "SELECTED FROM",
                                   "HAS CONCEPT MOD"})


@lru_cache(maxsize=64)
def _rule_set(base: str, vt: str | None) -> sr_dicom.RuleSet:
    """The ``content-item`` rules for one content item: every item's (or the root's) rules
    plus those of its value type."""
    content = sr_dicom.iod_tables().content_rules
    parts = [content.get(base, {})]
    if vt is not None:
        parts.append(content.get(vt, {}))
    return sr_dicom.rule_set(*parts)


def _conditions(node: Node, parsed: Parsed) -> Callable[[str, Item], bool | None]:
    def condition(name: str, item: Item) -> bool | None:
        if name == "by-value":
            return node.ref is None
        if name == "not-root":
            return node.parent >= 0
        if name == "measured-value-empty":
            return not parsed.items(node.item, tags.MEASURED_VALUE_SEQUENCE)
        return None

    return condition


def check_evidence(tree: Tree, report: Report) -> bool:
    """Every instance the content tree references is listed as evidence; True if one of them
    belongs to the current Requested Procedure (the condition of (0040,A375)).

    PS3.3 C.17.2.3: the Current Requested Procedure Evidence Sequence (0040,A375) lists "all
    current evidence referenced in the Content Tree" and the Pertinent Other Evidence Sequence
    (0040,A385) "all other evidence", so an instance that a by-value IMAGE, COMPOSITE or
    WAVEFORM item references and that neither lists is a ``missing-required`` at that item
    (dciodvfy reports the same). A referenced instance belongs to the current Requested
    Procedure unless the document lists it in (0040,A385), which C.17.2.3 reserves for the
    evidence of other Requested Procedures; the Study Instance UID does not decide it (a study
    can hold several Requested Procedures, and producers do list same-study instances in
    (0040,A385)).
    """
    parsed = tree.parsed
    current = _evidence(parsed, tags.CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE)
    other = _evidence(parsed, tags.PERTINENT_OTHER_EVIDENCE_SEQUENCE)
    of_current_procedure = False
    for node in tree.nodes:
        if node.vt not in _REFERENCE_VTS or node.ref is not None:
            continue
        references = parsed.items(node.item, tags.REFERENCED_SOP_SEQUENCE)
        uid = parsed.text(references[0], tags.REFERENCED_SOP_INSTANCE_UID) \
            if references else None
        if uid is None:
            continue  # the content-item rules report the missing reference
        if uid not in other:
            of_current_procedure = True
        if uid not in current and uid not in other:
            report.node("error", "missing-required", node.index,
                        f"ReferencedSOPSequence[1]: the referenced instance {uid} is listed "
                        "in neither the Current Requested Procedure Evidence Sequence "
                        "(0040,A375) nor the Pertinent Other Evidence Sequence (0040,A385) "
                        "(PS3.3 C.17.2.3: every instance the content tree references is "
                        "listed as evidence)")
    return of_current_procedure


def _evidence(parsed: Parsed, sequence: int) -> frozenset[str]:
    """SOP Instance UIDs a Hierarchical SOP Instance Reference sequence lists (PS3.3 C.17-3)."""
    found: set[str] = set()
    for study in parsed.items(parsed.dataset, sequence):
        for series in parsed.items(study, tags.REFERENCED_SERIES_SEQUENCE):
            for instance in parsed.items(series, tags.REFERENCED_SOP_SEQUENCE):
                uid = parsed.text(instance, tags.REFERENCED_SOP_INSTANCE_UID)
                if uid is not None:
                    found.add(uid)
    return frozenset(found)
