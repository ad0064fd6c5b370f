"""Template level of SR validation: a table-driven engine for PS3.16 templates.

``data/sr-templates.csv`` has one row per template row (TID 1500, 1204, 1001-1007, 1010, 1600-
1602, 1501, 1410, 1411, 1419, 300, 4019): nesting level, relationship with the parent, value
type, concept name (EV/DT code, a DCID/BCID context group, a ``$parameter`` or ``any``), VM,
requirement type (M, MC, U, UC), a condition id, the value set of the item's value with its
strength (DCID/BCID) and the context group's extensibility, the included template of INCLUDE
rows, the template's extensibility, the edition each row was verified against (``edition``:
e.g. DCMTK's PS3.16 2025e row annotations, highdicom's or the HL7 DICOM SR IG's current
mappings, or only a ~2016 DocBook parse) and the sources themselves (DCMTK-style ``TID nnnn
Row r: ...`` annotations). Row labels that the public sources do not give (a row added in a
later edition, such as TID 1410's SCOORD3D image region ``5-3d``) are ours and say so in the
source. The engine below knows no template: it compiles the table
into, per row, the candidate rows of its children (INCLUDE rows expanded, with the
relationship inherited from the INCLUDE row when the included row leaves it empty) and walks
the content tree once, top-down.

Reading of PS3.16 this engine implements (section 6 "Template specification" conventions):

* **Requirement types** (6.1.7): ``M`` shall be present; ``MC`` shall be present if
  the condition holds (may be present otherwise, unless the condition says IFF); ``U`` may be
  present; ``UC`` may be present only if the condition holds. A child row's requirement
  applies only when its parent item is present; a row of an included template is required only
  when every INCLUDE row on the way is itself required (M, or MC with a true condition) or the
  included template is present (at least one of its items matched). When a whole required
  inclusion is missing, the INCLUDE row is reported, not each of its rows.
* **VM** bounds the number of sibling items matching a row; a row reached through a 1-n
  INCLUDE may repeat once per inclusion.
* **Concept names**: EV and DT codes match by (scheme, value); rows whose concept name is a
  parameter (``$QualType``) or "any" match any concept of their value type and relationship,
  after the rows with a fixed code. A concept name that a sibling row fixes (EV/DT) but with
  another value type or relationship is reported (``wrong-value-type`` /
  ``wrong-relationship``) at that item, and counted for the row it names (the producer
  meant that row: no follow-on ``missing-required`` for it). A row whose concept name is a
  parameter still takes such an item first (a TEXT qualitative evaluation may be named
  (121071, DCM, "Finding")); a template the table does not carry does not (a TEXT Person
  Observer Name is reported as the wrong value type for TID 1003 row 1, not swallowed by TID
  1015). Template parameters are not bound: a ``$parameter`` constraint is not checked.
* **Value sets** (Value Set Constraint column, 6.1.x and 7.2): ``BCID`` (baseline) only
  suggests codes, so any code is conformant and nothing is reported. ``DCID`` (defined) means
  the code shall come from the context group; if the group is *extensible*, a code outside it
  may be used only as an extension for a new concept, never as a substitute for a concept the
  group has (PS3.16 7.2.3), and the extension is declared with the Context Group Extension
  attributes (PS3.3 8.7): a code outside the group with Context Group Extension Flag "Y" is
  accepted silently, one without it is a *warning* (``outside-extensible-value-set``: whether
  it substitutes for a member cannot be decided mechanically); if the group is
  *non-extensible* any code outside it is an *error* (``not-in-value-set``). Groups whose
  extensibility is not established are handled as extensible. Members come from pydicom's
  ``Collection("CIDnnnn")`` (legacy SNOMED-RT codes match through pydicom's ``Code``
  equality); a group pydicom does not have (e.g. CID 5000 Language, by reference
  to RFC 5646) is not checked.
* **Extensibility**: items that match no row are allowed below rows of an extensible template
  (the default where the table says ``unknown``) and below INCLUDEs of templates the table does
  not carry (e.g. TID 1604-1607 image library descriptors); below a row of a non-extensible
  template they are ``unexpected-item`` errors.
* **Conditions**: ``rows-absent:a,b`` (IF rows a and b are absent), ``xor:a,b`` (MC: required
  when the other rows are absent; UC: allowed only then), ``rows-present:a`` (IFF row a),
  ``row-value:1=CODE^SCHEME|absent`` (IFF row 1 has that value or is absent),
  ``template-present:nnnn`` (an item of an included TID nnnn is present),
  ``not-inherited:observer`` (no Author or Verifying Observer Sequence to inherit observer
  context from), ``not-inherited:header`` (context inherited from the mandatory Patient and
  General Study modules: never required) and ``loose`` (not evaluated: treated as U). An
  ``iff`` prefix makes an MC/UC row an error when present while its condition is false.
* **Order** (Order Significant templates such as TID 1204 and 4019) is not checked.

Row disambiguation: when several rows fix the same concept (TID 1410, 1411 and 1501 all start
with CONTAINER (125007, DCM, "Measurement Group")), the row named by the item's Content
Template Sequence wins; otherwise the row whose children match more of the item's children.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Final

from pydicom.sr.codedict import Collection
from pydicom.sr.coding import Code as PydicomCode

from icans_interop.dicom import tags
from icans_interop.dicom.part10 import Item, describe
from icans_interop.validation.sr_tree import Code, Report, Tree

ROOT_TEMPLATE: Final = "1500"


@dataclass(frozen=True, slots=True)
class ValueSet:
    cid: int
    defined: bool  # DCID (True) or BCID/CID (False)
    extensible: bool


@dataclass(eq=False, slots=True)
class Row:
    """One row of a template, as compiled from ``sr-templates.csv``."""

    template: str
    row: str
    nesting: int
    rel: str
    by_reference: bool
    vt: str
    concept_kind: str  # "code", "any", "cid", "none"
    concept: tuple[str, str] | None  # (scheme, value)
    meaning: str
    concept_set: ValueSet | None
    vm: tuple[int, int | None]
    requirement: str
    condition: Condition | None
    iff: bool
    value_set: ValueSet | None
    include: str | None
    extensible: bool
    children: list[Row] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"TID {self.template} row {self.row}"

    def title(self) -> str:
        if self.include is not None:
            return f'"{self.meaning}" (TID {self.include})'
        if self.concept is not None:
            return f'{self.vt} ({self.concept[1]}, {self.concept[0]}, "{self.meaning}")'
        return f"{self.vt} {self.meaning or '(any concept name)'}".strip()


@dataclass(slots=True)
class Spec:
    """A candidate row for a child item: the row, how it was reached, and its limits."""

    row: Row
    rel: str  # effective relationship ("" = any)
    chain: tuple[Row, ...]  # INCLUDE rows from the parent's row list down to ``row``
    max_count: int | None
    wildcard: bool  # stands for a template the table does not carry


@dataclass(slots=True)
class SpecSet:
    """The candidate rows for the children of items matching one row (compiled once)."""

    specs: list[Spec]
    exact: dict[tuple[str, str, str, str], list[int]]
    loose: dict[tuple[str, str], list[int]]
    wildcards: list[int]
    by_concept: dict[tuple[str, str], list[int]]
    includes: list[Row]
    include_members: dict[int, list[int]]  # id(include row) -> spec indices
    template_members: dict[str, list[int]]
    row_members: dict[tuple[str, str], list[int]]
    extensible: bool
    keys: frozenset[tuple[str, str, str, str]]


# ---------------------------------------------------------------------------------------------
# Conditions


@dataclass(slots=True)
class _Context:
    tree: Tree
    specset: SpecSet
    counts: list[int]
    matched: list[list[int]]
    template: str


Condition = Callable[[_Context], bool | None]


def _compile_condition(text: str, template: str) -> tuple[Condition | None, bool]:
    text = text.strip()
    if not text:
        return None, False
    iff = text.startswith("iff ")
    if iff:
        text = text[4:]
    name, _, argument = text.partition(":")
    if name in ("rows-absent", "xor"):
        rows = tuple(argument.split(","))
        return (lambda ctx: all(not _row_count(ctx, r) for r in rows)), iff
    if name == "rows-present":
        rows = tuple(argument.split(","))
        return (lambda ctx: any(_row_count(ctx, r) for r in rows)), iff
    if name == "template-present":
        templates = tuple(argument.split(","))
        return (lambda ctx: any(ctx.counts[i] for t in templates
                                for i in ctx.specset.template_members.get(t, ()))), iff
    if name == "row-value":
        row, _, wanted = argument.partition("=")
        options = wanted.split("|")
        allow_absent = "absent" in options
        codes = {tuple(o.split("^")) for o in options if o != "absent"}
        return (lambda ctx: _row_value(ctx, row, codes, allow_absent)), iff
    if name == "not-inherited":
        if argument == "observer":
            return (lambda ctx: tags.AUTHOR_OBSERVER_SEQUENCE not in ctx.tree.parsed.dataset
                    and tags.VERIFYING_OBSERVER_SEQUENCE not in ctx.tree.parsed.dataset), iff
        return (lambda ctx: False), iff
    if name == "loose":
        return (lambda ctx: None), iff
    raise ValueError(f"sr-templates.csv: unknown condition {text!r} (TID {template})")


def _row_count(ctx: _Context, row: str) -> int:
    return sum(ctx.counts[i] for i in ctx.specset.row_members.get((ctx.template, row), ()))


def _row_value(ctx: _Context, row: str, codes: set[tuple[str, ...]],
               allow_absent: bool) -> bool:
    members = ctx.specset.row_members.get((ctx.template, row), ())
    nodes = [n for i in members for n in ctx.matched[i]]
    if not nodes:
        return allow_absent
    for index in nodes:
        value = _code_value(ctx.tree, index)
        if value is not None and (value[0], value[1]) in codes:
            return True
    return False


def _code_value(tree: Tree, index: int) -> Code | None:
    node = tree.nodes[index]
    item = node.item if node.target < 0 else tree.nodes[node.target].item
    return tree.parsed.first_code(item, tags.CONCEPT_CODE_SEQUENCE)


# ---------------------------------------------------------------------------------------------
# The table


def _vm(text: str) -> tuple[int, int | None]:
    low, _, high = text.partition("-")
    if not high:
        return int(low), int(low)
    return int(low), None if high == "n" else int(high)


def _value_set(text: str, kind: str) -> ValueSet | None:
    text = text.strip()
    if not text:
        return None
    strength, _, number = text.partition(" ")
    return ValueSet(int(number), strength == "DCID", kind != "non-extensible")


@lru_cache(maxsize=1)
def templates() -> dict[str, list[Row]]:
    """``data/sr-templates.csv`` compiled: template id -> its level-0 rows (with children)."""
    raw = resources.files("icans_interop.data").joinpath("sr-templates.csv").read_text("utf-8")
    tops: dict[str, list[Row]] = {}
    last_at_level: dict[str, dict[int, Row]] = {}
    for line in csv.DictReader(io.StringIO(raw)):
        template = line["template"]
        relationship = line["relationship"]
        constraint = line["concept_constraint"]
        concept: tuple[str, str] | None = None
        concept_set: ValueSet | None = None
        if constraint in ("EV", "DT"):
            kind = "code"
            concept = (line["concept_scheme"], line["concept_code"])
        elif constraint.startswith(("DCID", "BCID", "CID")):
            kind = "cid"
            concept_set = _value_set(constraint, "unknown")
        elif constraint == "none":
            kind = "none"
        else:  # "any" or a $parameter
            kind = "any"
        condition, iff = _compile_condition(line["condition"], template)
        row = Row(template=template, row=line["row"], nesting=int(line["nesting"]),
                  rel=relationship.removeprefix("R-"),
                  by_reference=relationship.startswith("R-"), vt=line["value_type"],
                  concept_kind=kind, concept=concept, meaning=line["concept_meaning"],
                  concept_set=concept_set, vm=_vm(line["vm"]),
                  requirement=line["requirement"], condition=condition, iff=iff,
                  value_set=_value_set(line["value_set"], line["value_set_type"]),
                  include=line["include"] or None,
                  extensible=line["template_type"] != "non-extensible")
        levels = last_at_level.setdefault(template, {})
        if row.nesting == 0:
            tops.setdefault(template, []).append(row)
        else:
            parent = levels.get(row.nesting - 1)
            if parent is None:
                raise ValueError(f"sr-templates.csv: TID {template} row {row.row} has no "
                                 "parent row")
            parent.children.append(row)
        levels[row.nesting] = row
        for deeper in [level for level in levels if level > row.nesting]:
            del levels[deeper]
    return tops


def known_dcm_codes() -> frozenset[str]:
    """DCM code values the template table cites (they are PS3.16 codes by its sources)."""
    codes: set[str] = set()
    for rows in templates().values():
        stack = list(rows)
        while stack:
            row = stack.pop()
            if row.concept is not None and row.concept[0] == "DCM":
                codes.add(row.concept[1])
            stack.extend(row.children)
    return frozenset(codes)


def _multiply(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a * b


def _expand(rows: list[Row], chain: tuple[Row, ...], inherited: str, factor: int | None,
            out: list[Spec], depth: int = 0) -> None:
    tables = templates()
    for row in rows:
        rel = row.rel or inherited
        limit = _multiply(row.vm[1], factor)
        if row.vt == "INCLUDE":
            included = tables.get(row.include or "")
            if included is None or depth > 16:
                out.append(Spec(row, rel, (*chain, row), None, True))
            else:
                _expand(included, (*chain, row), rel, limit, out, depth + 1)
        else:
            out.append(Spec(row, rel, chain, limit, False))


_SPECSETS: dict[int, SpecSet] = {}


def specset(parent: Row) -> SpecSet:
    """The compiled candidates for the children of items matching ``parent`` (cached)."""
    cached = _SPECSETS.get(id(parent))
    if cached is not None:
        return cached
    specs: list[Spec] = []
    _expand(parent.children, (), "", 1, specs)
    result = _compile(specs, parent.extensible)
    _SPECSETS[id(parent)] = result
    return result


def _compile(specs: list[Spec], extensible: bool) -> SpecSet:
    exact: dict[tuple[str, str, str, str], list[int]] = {}
    loose: dict[tuple[str, str], list[int]] = {}
    wildcards: list[int] = []
    by_concept: dict[tuple[str, str], list[int]] = {}
    includes: list[Row] = []
    include_members: dict[int, list[int]] = {}
    template_members: dict[str, list[int]] = {}
    row_members: dict[tuple[str, str], list[int]] = {}
    for index, spec in enumerate(specs):
        row = spec.row
        for include in spec.chain:
            if id(include) not in include_members:
                includes.append(include)
            include_members.setdefault(id(include), []).append(index)
            if include.include:
                template_members.setdefault(include.include, []).append(index)
        row_members.setdefault((row.template, row.row), []).append(index)
        if spec.wildcard:
            wildcards.append(index)
            extensible = True
            continue
        template_members.setdefault(row.template, []).append(index)
        if row.concept_kind == "code" and row.concept is not None:
            exact.setdefault((spec.rel, row.vt, *row.concept), []).append(index)
            by_concept.setdefault(row.concept, []).append(index)
        else:
            loose.setdefault((spec.rel, row.vt), []).append(index)
    return SpecSet(specs, exact, loose, wildcards, by_concept, includes, include_members,
                   template_members, row_members, extensible, frozenset(exact))


@lru_cache(maxsize=256)
def cid_members(cid: int) -> frozenset[tuple[str, str]] | None:
    """(scheme, code) members of PS3.16 context group ``cid`` from pydicom's
    ``Collection("CIDnnnn")`` (None when pydicom does not have the group).

    A keyword that two schemes define in one group (pydicom raises for it) is looked up in
    each scheme of the group, so both codes count as members.
    """
    try:
        group = Collection(f"CID{cid}")
    except KeyError:
        return None
    members: set[tuple[str, str]] = set()
    ambiguous: list[str] = []
    for keyword in group.dir():
        try:
            code = getattr(group, keyword)
        except RuntimeError:
            ambiguous.append(keyword)
            continue
        members.add((code.scheme_designator, code.value))
    schemes = {scheme for scheme, _value in members}
    for keyword in ambiguous:
        for scheme in schemes:
            try:
                code = getattr(Collection(scheme), keyword)
            except (AttributeError, KeyError, RuntimeError):
                continue
            members.add((code.scheme_designator, code.value))
    return frozenset(members)


@lru_cache(maxsize=65536)
def in_context_group(cid: int, scheme: str, value: str) -> bool | None:
    """Whether (scheme, value) is a member of CID ``cid`` (None: the group is unknown).

    A legacy SNOMED-RT code (``SRT``/``SNM3``, e.g. ``G-A100`` for "Right") is a member when
    pydicom's ``Code`` equality maps it to a SNOMED CT member (PS3.16 Annex O).
    """
    members = cid_members(cid)
    if members is None:
        return None
    if (scheme, value) in members:
        return True
    if scheme in ("SRT", "SNM3", "SCT"):
        legacy = PydicomCode(value, "SRT", "")
        return any(legacy == PydicomCode(code, "SCT", "")
                   for member_scheme, code in members if member_scheme == "SCT")
    return False


# ---------------------------------------------------------------------------------------------
# The walk


def declares_root_template(tree: Tree) -> bool:
    """Whether the document says it is a TID 1500 Measurement Report: its root Content
    Template Sequence names DCMR 1500, or its title is one of TID 1500 row 1's document titles
    (CID 7021, Measurement Report Document Titles), whatever template it declares (a wrong
    declaration is then ``wrong-template``). Another template with another title is a
    document this engine has no rows for (PS3.3 C.18.8: the Content Template Sequence is
    required only when a template was used)."""
    if not tree.nodes:
        return False
    template_id, resource = tree.template_id(0)
    if template_id == ROOT_TEMPLATE and resource in (None, "DCMR"):
        return True
    tops = templates().get(ROOT_TEMPLATE)
    title = tree.concept(0)
    if not tops or title is None or tops[0].concept_set is None:
        return False
    return bool(in_context_group(tops[0].concept_set.cid, title[1], title[0]))


def root_description(tree: Tree) -> str:
    """The document's declared template and title, for a message."""
    template_id, resource = tree.template_id(0) if tree.nodes else (None, None)
    declared = (f"declares template {resource or '?'} {template_id}" if template_id is not None
                else "declares no template")
    title = tree.concept(0) if tree.nodes else None
    return f"{declared} and has the title {describe(title)}"


def check(tree: Tree, report: Report) -> None:
    """Match the content tree against TID 1500 and everything it includes."""
    tops = templates().get(ROOT_TEMPLATE)
    if not tops:
        raise ValueError("sr-templates.csv has no TID 1500")
    root_row = tops[0]
    root = tree.nodes[0]
    template_id, resource = tree.template_id(0)
    if template_id is None:
        report.node("error", "missing-required", 0,
                    "the root CONTAINER has no Content Template Sequence (0040,A504) naming "
                    "TID 1500 (Type 1C: required when the content follows a template)")
    elif template_id != ROOT_TEMPLATE or (resource is not None and resource != "DCMR"):
        report.node("error", "wrong-template", 0,
                    f"the document declares template {resource or '?'} {template_id}, not "
                    f"DCMR {ROOT_TEMPLATE} (Measurement Report); template rules not checked")
        return
    if root.vt != "CONTAINER":
        return
    root.row = root_row.label
    _check_concept_set(tree, report, 0, root_row)
    queue: list[tuple[int, Row]] = [(0, root_row)]
    while queue:
        index, row = queue.pop()
        node = tree.nodes[index]
        if not node.children:
            if row.children:
                _requirements(tree, report, index, specset(row), [], [], row.template)
            continue
        queue.extend(_match_children(tree, report, index, row))


def _match_children(tree: Tree, report: Report, index: int, row: Row, dry: bool = False
                    ) -> list[tuple[int, Row]]:
    """Match the children of item ``index`` (which matched ``row``) against its candidate
    rows, report what is wrong there, and return the children to descend into. ``dry``: a
    trial for :func:`_fit` (no row labels set, no value-set checks, no nested trials)."""
    specs = specset(row)
    counts = [0] * len(specs.specs)
    matched: list[list[int]] = [[] for _ in specs.specs]
    descend: list[tuple[int, Row]] = []
    nodes = tree.nodes
    for child in nodes[index].children:
        node = nodes[child]
        rel = node.rel or ""
        vt = tree.value_type(child) or ""
        concept = tree.concept(child)
        choice = -1
        candidates: list[int] | None = None
        if concept is not None:
            candidates = specs.exact.get((rel, vt, concept[1], concept[0]))
        if candidates:
            choice = candidates[0] if len(candidates) == 1 else _disambiguate(
                tree, child, specs, candidates, dry)
        else:
            candidates = specs.loose.get((rel, vt))
            if candidates:
                choice = candidates[0]
            elif concept is not None and (concept[1], concept[0]) in specs.by_concept:
                # a row fixes this concept name with another value type or relationship:
                # report it there, and count the item for that row (it is the row the
                # producer meant; no follow-on "row absent")
                mismatch = specs.by_concept[(concept[1], concept[0])][0]
                _mismatch(report, child, specs.specs[mismatch], rel, vt, concept)
                counts[mismatch] += 1
                matched[mismatch].append(child)
                continue
            else:
                for wildcard in specs.wildcards:
                    if specs.specs[wildcard].rel in ("", rel):
                        choice = wildcard
                        break
        if choice < 0:
            _unmatched(report, child, specs, rel, vt, concept, row)
            continue
        spec = specs.specs[choice]
        counts[choice] += 1
        matched[choice].append(child)
        if spec.wildcard:
            continue
        target = spec.row
        if not dry:
            node.row = target.label
        if spec.max_count is not None and counts[choice] > spec.max_count:
            report.node("error", "too-many-items", child,
                        f"{target.title()} may appear at most {spec.max_count} time(s) here "
                        f"(VM {_vm_text(target.vm)}); this is occurrence {counts[choice]}")
        if target.by_reference and node.ref is None:
            report.node("error", "wrong-relationship", child,
                        f"{target.label} requires a by-reference {target.rel} relationship")
        if not dry:
            _check_concept_set(tree, report, child, target)
            _check_value_set(tree, report, child, target)
        if node.ref is None and (target.children or node.children):
            descend.append((child, target))
    _requirements(tree, report, index, specs, counts, matched, row.template)
    return descend


def _disambiguate(tree: Tree, child: int, specs: SpecSet, candidates: list[int],
                  dry: bool = False) -> int:
    """The row, among ``candidates`` that all fix the child's concept name, that it follows:
    the template its Content Template Sequence names; else the row under which its own
    children fit with the fewest errors (one level, :func:`_fit`), then the one whose
    distinctive rows match more of them, then the one with fewer mandatory rows."""
    declared, _resource = tree.template_id(child)
    if declared is not None:
        for candidate in candidates:
            if specs.specs[candidate].row.template == declared or any(
                    inc.include == declared for inc in specs.specs[candidate].chain):
                return candidate
    keys: list[set[tuple[str, str, str, str]]] = []
    nodes = tree.nodes
    for grandchild in nodes[child].children:
        concept = tree.concept(grandchild)
        if concept is not None:
            keys.append({(nodes[grandchild].rel or "", tree.value_type(grandchild) or "",
                          concept[1], concept[0])})
    child_keys: set[tuple[str, str, str, str]] = set()
    for key in keys:
        child_keys |= key
    candidate_keys = [specset(specs.specs[c].row).keys for c in candidates]
    shared = candidate_keys[0]
    for own in candidate_keys[1:]:
        shared = shared & own
    ranked: list[tuple[tuple[int, int], int]] = []
    for candidate, own in zip(candidates, candidate_keys, strict=True):
        score = len((own - shared) & child_keys)
        mandatory = sum(1 for s in specset(specs.specs[candidate].row).specs
                        if s.row.requirement in ("M", "MC"))
        ranked.append(((score, -mandatory), candidate))
    ranked.sort(key=lambda entry: entry[0], reverse=True)  # stable: earlier rows win ties
    if dry:
        return ranked[0][1]
    best, fewest = ranked[0][1], -1
    for _rank, candidate in ranked:  # the first that fits without errors, else the best fit
        problems = _fit(tree, child, specs.specs[candidate].row)
        if fewest < 0 or problems < fewest:
            best, fewest = candidate, problems
        if not problems:
            break
    return best


def _fit(tree: Tree, index: int, row: Row) -> int:
    """How many errors item ``index``'s children would get if it followed ``row``."""
    trial = Report()
    _match_children(tree, trial, index, row, dry=True)
    return trial.count("error")


def _mismatch(report: Report, child: int, spec: Spec, rel: str, vt: str, concept: Code
              ) -> None:
    """The item has the concept name a row fixes, with another value type or relationship."""
    wanted = spec.row
    if wanted.vt != vt:
        report.node("error", "wrong-value-type", child,
                    f"{describe(concept)} is {wanted.vt} in {wanted.label}, not {vt}",
                    f" [{wanted.label}]")
    else:
        report.node("error", "wrong-relationship", child,
                    f"{describe(concept)} has relationship {spec.rel or '(none)'} with its "
                    f"parent in {wanted.label}, not {rel or '(none)'}", f" [{wanted.label}]")


def _unmatched(report: Report, child: int, specs: SpecSet, rel: str, vt: str,
               concept: Code | None, parent_row: Row) -> None:
    if not specs.extensible:
        report.node("error", "unexpected-item", child,
                    f"{rel} {vt} {describe(concept)} matches no row below {parent_row.label}, "
                    f"and TID {parent_row.template} is not extensible")


def _requirement_active(row: Row, ctx: _Context) -> bool:
    if row.requirement == "M":
        return True
    if row.requirement == "MC" and row.condition is not None:
        return row.condition(ctx) is True
    return False


def _requirements(tree: Tree, report: Report, index: int, specs: SpecSet, counts: list[int],
                  matched: list[list[int]], template: str) -> None:
    if not counts:
        counts = [0] * len(specs.specs)
        matched = [[] for _ in specs.specs]
    present = {key: any(counts[i] for i in members)
               for key, members in specs.include_members.items()}
    reported_includes: set[int] = set()
    contexts: dict[str, _Context] = {}

    def context(for_template: str) -> _Context:
        ctx = contexts.get(for_template)
        if ctx is None:
            ctx = _Context(tree, specs, counts, matched, for_template)
            contexts[for_template] = ctx
        return ctx

    for include in specs.includes:
        if (include.iff and include.condition is not None and present[id(include)]
                and include.condition(context(include.template)) is False):
            first = next(n for i in specs.include_members[id(include)] for n in matched[i])
            report.node("error", "condition-violated", first,
                        f"{include.title()} is present but the condition of "
                        f"{include.label} does not hold")
    for position, spec in enumerate(specs.specs):
        if spec.wildcard:
            continue
        row = spec.row
        ctx = context(row.template)
        missing_include: Row | None = None
        applicable = True
        for include in spec.chain:
            if present[id(include)]:
                continue
            if _requirement_active(include, context(include.template)):
                missing_include = include
                break
            applicable = False
            break
        count = counts[position]
        if (count and row.condition is not None and (row.iff or row.requirement == "UC")
                and row.condition(ctx) is False):
            report.node("error", "condition-violated", matched[position][0],
                        f"{row.label} may be present only if its condition holds")
        if not applicable or count:
            continue
        if missing_include is not None:
            if id(missing_include) in reported_includes:
                continue
            reported_includes.add(id(missing_include))
            report.node("error", "missing-required", index,
                        f"{missing_include.title()} is required "
                        f"({missing_include.requirement}) but absent",
                        f" > [{missing_include.label}]")
        elif _requirement_active(row, ctx):
            report.node("error", "missing-required", index,
                        f"{row.title()} is required ({row.requirement}) but absent",
                        f" > [{row.label}]")


def _vm_text(vm: tuple[int, int | None]) -> str:
    low, high = vm
    return str(low) if low == high else f"{low}-{'n' if high is None else high}"


def _check_concept_set(tree: Tree, report: Report, index: int, row: Row) -> None:
    value_set = row.concept_set
    if value_set is None or not value_set.defined:
        return
    concept = tree.concept(index)
    if concept is None:
        return
    _membership(report, index, (concept[1], concept[0]), describe(concept), value_set,
                "concept name", _code_item(tree, index, tags.CONCEPT_NAME_CODE_SEQUENCE))


def _check_value_set(tree: Tree, report: Report, index: int, row: Row) -> None:
    value_set = row.value_set
    if value_set is None or not value_set.defined or row.vt != "CODE":
        return
    value = _code_value(tree, index)
    if value is None:
        return
    _membership(report, index, (value[1], value[0]), describe(value), value_set, "value",
                _code_item(tree, index, tags.CONCEPT_CODE_SEQUENCE))


def _code_item(tree: Tree, index: int, tag: int) -> Item | None:
    node = tree.nodes[index]
    item = node.item if node.target < 0 else tree.nodes[node.target].item
    found = tree.parsed.items(item, tag)
    return found[0] if found else None


def _membership(report: Report, index: int, code: tuple[str, str], shown: str,
                value_set: ValueSet, what: str, item: Item | None) -> None:
    if in_context_group(value_set.cid, code[0], code[1]) is not False:
        return
    extension = item.get(tags.CONTEXT_GROUP_EXTENSION_FLAG) if item is not None else None
    declared = extension is not None and isinstance(extension[1], bytes) and \
        extension[1].strip(b" \x00") == b"Y"
    if value_set.extensible and declared:
        return  # a declared private extension of an extensible group (PS3.16 7.2.3)
    if value_set.extensible:
        report.node("warning", "outside-extensible-value-set", index,
                    f"{what} {shown} is not in CID {value_set.cid} (DCID, extensible: allowed "
                    "as an extension, but check it is deliberate)")
    else:
        report.node("error", "not-in-value-set", index,
                    f"{what} {shown} is not in CID {value_set.cid} (DCID, non-extensible)")

