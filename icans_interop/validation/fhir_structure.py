"""FHIR structure: one typed walk over the JSON, and the fhir.resources model check.

:func:`walk` goes through a resource (or Bundle) once, guided by the element model in
``data/fhir-r{4,5}-bindings.json``, and records what the other checks need: every resource
(with its container and Bundle entry), every node of a type that has invariants, every value
under a required binding, every Reference (with its allowed target types) and every Coding
(with its model path, e.g. ``Condition.code.coding``). While walking it checks ele-1 (no empty
object, array, string or null), ext-1 (an extension has a value or nested extensions, not
both) and the narrative rules txt-1/txt-2 natively.

:func:`check_models` validates each resource with the ``fhir.resources`` models (R4B for R4,
R5 for R5): cardinality, datatypes, primitive formats, unknown elements, choice types. Every
pydantic error becomes one issue at a FHIR path (``Bundle.entry[2].resource.status``) naming
the offending value. Bundle entries are validated one by one (a bad entry does not hide the
others, and an unknown ``resourceType`` cannot crash the model lookup).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Final

from icans_interop.issues import Issue, error, information, issues_from_validation_error
from icans_interop.validation import fhir_primitives
from icans_interop.validation.fhir_narrative import narrative_issues

JsonDict = dict[str, Any]

ELE1: Final = "invariant-failed"
_ID_ONLY: Final = frozenset({"id", "fhir_comments"})
#: Whitespace as the R4 regexes (XML Schema, Java) see it; U+00A0 and friends are content.
_ASCII_WHITESPACE: Final = " \t\n\r\f\v"


@dataclass(frozen=True, slots=True)
class Element:
    type: str
    array: bool
    binding: str | None = None
    targets: tuple[str, ...] | None = None
    #: min >= 1 in the definitions (for a choice variant: the choice element's)
    required: bool = False
    #: the choice element a variant belongs to ("value" for valueQuantity)
    choice: str | None = None


@dataclass(frozen=True, slots=True)
class Required:
    """The required elements of one type: plain JSON names, and choice elements (one of
    whose variants must be present)."""

    names: frozenset[str]
    choices: tuple[tuple[str, frozenset[str]], ...]

    @staticmethod
    def of(elements: dict[str, Element]) -> Required:
        names = frozenset(k for k, e in elements.items() if e.required and e.choice is None)
        groups: dict[str, set[str]] = {}
        for key, element in elements.items():
            if element.required and element.choice is not None:
                groups.setdefault(element.choice, set()).add(key)
        return Required(names, tuple((c, frozenset(v)) for c, v in sorted(groups.items())))


@dataclass(frozen=True, slots=True)
class Model:
    """The element model of one FHIR version."""

    version: str
    resource_types: frozenset[str]
    primitive_types: frozenset[str]
    types: dict[str, dict[str, Element]]
    value_sets: dict[str, Any]
    #: R4 JSON rules of each primitive type (empty for R5: no R5 definitions offline)
    primitives: dict[str, fhir_primitives.Rule]
    #: required elements by type path (R4)
    required: dict[str, Required]

    @property
    def complete(self) -> bool:
        """Does the element model cover every resource type (R4), so that the walk itself
        reports unknown elements?"""
        return bool(self.primitives)


_EXTENSION: Final = Element("Extension", True)


@cache
def model(version: str) -> Model:
    name = "fhir-r5-bindings.json" if version == "R5" else "fhir-r4-bindings.json"
    data = json.loads(resources.files("icans_interop.data").joinpath(name).read_text("utf-8"))
    types = {
        type_path: {
            key: Element(entry["type"], bool(entry["array"]), entry.get("binding"),
                         tuple(entry["targets"]) if "targets" in entry else None,
                         bool(entry.get("required")), entry.get("choice"))
            for key, entry in elements.items()}
        for type_path, elements in data["types"].items()}
    return Model(version, frozenset(data["resourceTypes"]), frozenset(data["primitiveTypes"]),
                 types, data["valueSets"],
                 fhir_primitives.compile_rules(data.get("primitives", {})),
                 {t: Required.of(elements) for t, elements in types.items()})


# ------------------------------------------------------------------------------------------
# The walk


@dataclass(eq=False, slots=True)
class ResourceCtx:
    """One resource in the input: the top one, a Bundle entry's, a contained one..."""

    path: str
    type: str
    data: JsonDict
    parent: ResourceCtx | None = None
    #: "root", "entry" (Bundle.entry.resource), "contained" or "nested" (anywhere else)
    relation: str = "root"
    entry_index: int | None = None
    #: the resource whose contained list holds this one (itself unless contained)
    root: ResourceCtx = field(init=False)
    #: the resource type could not be checked (unknown or not a string)
    unknown_type: bool = False

    def __post_init__(self) -> None:
        self.root = self.parent.root if self.relation == "contained" and self.parent else self

    @property
    def bundle(self) -> ResourceCtx | None:
        """The Bundle this resource is an entry of."""
        return self.parent if self.relation == "entry" else None


@dataclass(slots=True)
class Visit:
    path: str
    type_path: str
    node: JsonDict
    resource: ResourceCtx


@dataclass(slots=True)
class Bound:
    """A value under a required binding."""

    path: str
    type: str
    value: Any
    value_set: str
    element: str
    resource: ResourceCtx


@dataclass(slots=True)
class Ref:
    path: str
    node: JsonDict
    targets: tuple[str, ...] | None
    element: str
    resource: ResourceCtx


@dataclass(slots=True)
class CodingVisit:
    path: str
    node: JsonDict
    element: str
    resource: ResourceCtx


@dataclass(slots=True)
class Walk:
    version: str
    resources: list[ResourceCtx] = field(default_factory=list)
    typed: list[Visit] = field(default_factory=list)
    bound: list[Bound] = field(default_factory=list)
    refs: list[Ref] = field(default_factory=list)
    codings: list[CodingVisit] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    #: locations whose value the walk judged (ele-1, the primitive rules, unknown elements,
    #: accepted ``_name`` properties): the model check's findings there are dropped
    claimed: set[str] = field(default_factory=set)


def _empty_issue(path: str, what: str) -> Issue:
    return error(ELE1, path, f"ele-1: All FHIR elements must have a @value or children "
                             f"(found {what})")


def unknown_element_message(name: str, value: Any) -> str:
    return f"unknown element {name} (value {_show(value)}): not an element of this FHIR type"


class _Walker:
    def __init__(self, version: str, invariant_types: frozenset[str]) -> None:
        self.model = model(version)
        self.out = Walk(version)
        self._from_invariants = invariant_types

    def _empty(self, path: str, what: str) -> None:
        """ele-1 at ``path``; the walk has judged it, so the model check's finding there is
        dropped."""
        self.out.claimed.add(path)
        self.out.issues.append(_empty_issue(path, what))

    # -- resources --------------------------------------------------------------------------

    def resource(self, data: Any, path: str, parent: ResourceCtx | None, relation: str,
                 entry_index: int | None = None) -> None:
        if not isinstance(data, dict):
            return  # the model check reports the wrong JSON type
        rtype = data.get("resourceType")
        ctx = ResourceCtx(path, rtype if isinstance(rtype, str) else "", data, parent,
                          relation, entry_index)
        self.out.resources.append(ctx)
        if not isinstance(rtype, str):
            ctx.unknown_type = True
            if rtype is None:
                self.out.issues.append(error("missing-required", path,
                                             "resourceType is missing: not a FHIR resource"))
            else:
                self.out.issues.append(error(
                    "invalid-value", f"{path}.resourceType",
                    f"resourceType must be a string, got {_show(rtype)}"))
            self.generic(data, path, ctx, resource_root=True)
            return
        if rtype not in self.model.resource_types:
            ctx.unknown_type = True
            self.out.issues.append(error(
                "invalid-value", f"{path}.resourceType",
                f"unknown resource type {rtype!r} (not a FHIR {self.model.version} resource)"))
            self.generic(data, path, ctx, resource_root=True)
            return
        if rtype in self.model.types:
            self.typed(data, rtype, path, rtype, ctx)
        else:
            self.generic(data, path, ctx, resource_root=True)

    # -- typed ------------------------------------------------------------------------------

    def typed(self, node: JsonDict, type_path: str, path: str, mpath: str,
              res: ResourceCtx, entry_index: int | None = None) -> None:
        elements = self.model.types[type_path]
        if type_path in self._from_invariants:
            self.out.typed.append(Visit(path, type_path, node, res))
        if type_path == "Extension":
            self._ext1(node, path)
        complete = self.model.complete
        if complete:
            self._required(node, type_path, path)
        for key, value in node.items():
            if key == "resourceType" and res.data is node:
                continue
            if key.startswith("_"):
                base = elements.get(key[1:])
                if base is not None and base.type in self.model.primitive_types:
                    # R4 JSON json.html#primitive: a primitive's id and extensions
                    # (choice elements too: "_valueString")
                    self.out.claimed.add(f"{path}.{key}")
                    self._primitive_extension(value, f"{path}.{key}", res)
                elif complete:
                    self._unknown(key, value, f"{path}.{key}")
                continue
            element = elements.get(key)
            if element is None:
                if complete and key != "fhir_comments":
                    self._unknown(key, value, f"{path}.{key}")
                continue  # R5: unknown elements are reported by the model check
            child_mpath = f"{mpath}.{key}"
            if element.array:
                if not isinstance(value, list):
                    self.generic(value, f"{path}.{key}", res)
                    continue
                if not value:
                    self._empty(f"{path}.{key}", "an empty array")
                    continue
                aligned = node.get("_" + key)
                for index, item in enumerate(value):
                    item_path = f"{path}.{key}[{index}]"
                    if item is None:
                        if not (isinstance(aligned, list) and index < len(aligned)
                                and aligned[index] is not None):
                            self._empty(item_path, "null")
                        continue
                    self.value(item, element, item_path, child_mpath, type_path, key, res,
                               index if type_path == "Bundle" and key == "entry" else None)
            elif isinstance(value, list):
                self.generic(value, f"{path}.{key}", res)
            else:
                self.value(value, element, f"{path}.{key}", child_mpath, type_path, key, res,
                           entry_index)

    def value(self, value: Any, element: Element, path: str, mpath: str, owner: str, key: str,
              res: ResourceCtx, entry_index: int | None) -> None:
        etype = element.type
        if value is None:
            self._empty(path, "null")
            return
        if etype == "Resource" or etype in self.model.resource_types:
            # Bundle.entry.resource, and Bundle.entry.response.outcome (an OperationOutcome)
            relation = "entry" if owner == "Bundle.entry" else \
                "contained" if key == "contained" else "nested"
            index = entry_index if relation == "entry" else None
            self.resource(value, path, res, relation, index)
            return
        if etype in self.model.primitive_types:
            if isinstance(value, str) and not value.strip(_ASCII_WHITESPACE) and \
                    etype != "xhtml":
                self._empty(path, "an empty string" if not value else "a whitespace-only string")
                return
            rule = self.model.primitives.get(etype)
            if rule is not None:
                found = fhir_primitives.problem(rule, value)
                if found is not None:
                    self.out.claimed.add(path)
                    self.out.issues.append(error("invalid-value", path, found))
            if isinstance(value, str):
                if element.binding:
                    self.out.bound.append(Bound(path, etype, value, element.binding,
                                                f"{owner}.{key}", res))
                if etype == "xhtml" and owner == "Narrative" and key == "div" and \
                        self.model.version == "R4":
                    self.out.issues.extend(narrative_issues(value, path))
            elif isinstance(value, dict | list):
                self.generic(value, path, res)
            return
        if not isinstance(value, dict):
            return  # wrong JSON type: the model check reports it
        if not value:
            self._empty(path, "an empty object")
            return
        if value.keys() <= _ID_ONLY:
            self._empty(path, "only an id")
        if element.binding and etype in ("Coding", "CodeableConcept", "Quantity",
                                         "SimpleQuantity"):
            self.out.bound.append(Bound(path, etype, value, element.binding,
                                        f"{owner}.{key}", res))
        if etype == "Reference":
            self.out.refs.append(Ref(path, value, element.targets, mpath, res))
        elif etype == "Coding":
            self.out.codings.append(CodingVisit(path, value, mpath, res))
        if etype in self.model.types:
            self.typed(value, etype, path, mpath, res, entry_index)
        else:
            self.generic(value, path, res)

    def _primitive_extension(self, value: Any, path: str, res: ResourceCtx) -> None:
        items = value if isinstance(value, list) else [value]
        if isinstance(value, list) and not value:
            self._empty(path, "an empty array")
        for index, item in enumerate(items):
            item_path = f"{path}[{index}]" if isinstance(value, list) else path
            if item is None:
                continue  # aligned with a value in the primitive array
            if not isinstance(item, dict):
                continue
            if not item or all(k == "id" for k in item):
                self._empty(item_path, "an empty primitive extension")
                continue
            extensions = item.get("extension")
            if isinstance(extensions, list):
                for n, ext in enumerate(extensions):
                    self.value(ext, _EXTENSION, f"{item_path}.extension[{n}]", "Extension",
                               "Element", "extension", res, None)

    def _required(self, node: JsonDict, type_path: str, path: str) -> None:
        """Elements of min >= 1 (R4 definitions); a primitive given only as ``_name``
        (extensions, no value) is present."""
        required = self.model.required[type_path]
        keys = node.keys()
        for name in required.names - keys:
            if "_" + name not in node:
                self.out.claimed.add(f"{path}.{name}")
                self.out.issues.append(error("missing-required", f"{path}.{name}",
                                             f"required element {name} is missing"))
        for choice, variants in required.choices:
            if variants.isdisjoint(keys) and not any("_" + v in node for v in variants):
                self.out.issues.append(error(
                    "missing-required", f"{path}.{choice}[x]",
                    f"required element {choice}[x] is missing (one of "
                    f"{', '.join(sorted(variants)[:6])}{', ...' if len(variants) > 6 else ''})"))

    def _unknown(self, key: str, value: Any, path: str) -> None:
        self.out.claimed.add(path)
        self.out.issues.append(error("unknown-element", path,
                                     unknown_element_message(key, value)))

    def _ext1(self, node: JsonDict, path: str) -> None:
        # "_valueString" alone is a value[x] present with extensions only (R4 JSON)
        has_value = any(k.removeprefix("_").startswith("value") and
                        k.removeprefix("_")[5:6].isupper() for k in node)
        has_nested = "extension" in node
        if has_value == has_nested:
            what = "both a value and nested extensions" if has_value else \
                "neither a value nor nested extensions"
            url = node.get("url")
            self.out.issues.append(error(
                ELE1, path, f"ext-1: Must have either extensions or value[x], not both "
                            f"(extension {url!r} has {what})"))

    # -- untyped ----------------------------------------------------------------------------

    def generic(self, node: Any, path: str, res: ResourceCtx,
                resource_root: bool = False) -> None:
        """Walk JSON the model does not describe: ele-1, nested resources, references."""
        if isinstance(node, dict):
            if not resource_root:
                if "resourceType" in node:
                    self.resource(node, path, res, "nested")
                    return
                if not node:
                    self._empty(path, "an empty object")
                    return
                if isinstance(node.get("reference"), str):
                    self.out.refs.append(Ref(path, node, None, "", res))
                if isinstance(node.get("system"), str) and isinstance(node.get("code"), str):
                    self.out.codings.append(CodingVisit(path, node, "", res))
            for key, value in node.items():
                if value is None and not key.startswith("_"):
                    self._empty(f"{path}.{key}", "null")
                elif key == "contained" and isinstance(value, list):
                    # contained resources resolve #id against this one (ref-1, dom-3)
                    for index, item in enumerate(value):
                        if isinstance(item, dict) and "resourceType" in item:
                            self.resource(item, f"{path}.{key}[{index}]", res, "contained")
                        else:
                            self.generic(item, f"{path}.{key}[{index}]", res)
                elif isinstance(value, dict | list):
                    self.generic(value, f"{path}.{key}", res)
                elif value == "":
                    self._empty(f"{path}.{key}", "an empty string")
        elif isinstance(node, list):
            if not node:
                self._empty(path, "an empty array")
            for index, item in enumerate(node):
                if isinstance(item, dict | list):
                    self.generic(item, f"{path}[{index}]", res)


def walk(data: Any, version: str, invariant_types: frozenset[str] = frozenset()) -> Walk:
    """Walk a resource (or Bundle) once; see the module docstring. The nodes of the types in
    ``invariant_types`` are recorded for the invariant checks."""
    walker = _Walker(version, invariant_types)
    if isinstance(data, dict):
        rtype = data.get("resourceType")
        walker.resource(data, rtype if isinstance(rtype, str) and rtype.isalpha() else
                        "Resource", None, "root")
    return walker.out


def _show(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ------------------------------------------------------------------------------------------
# fhir.resources model check


@cache
def _model_class(version: str, resource_type: str) -> Any:
    """The fhir.resources class of a resource type, or None when the library has none."""
    try:
        if version == "R5":
            from fhir.resources import get_fhir_model_class
        else:
            from fhir.resources.R4B import get_fhir_model_class
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError, ImportError, AttributeError):
        return None


def _strip_entries(data: JsonDict) -> JsonDict:
    """A Bundle without its entries' resources (those are validated on their own)."""
    entries = data.get("entry")
    if not isinstance(entries, list):
        return data
    return {**data, "entry": [
        {k: v for k, v in e.items() if k != "resource"} if isinstance(e, dict) else e
        for e in entries]}


def _owner(ctx: ResourceCtx) -> ResourceCtx:
    """The resource validated as a whole that holds ``ctx`` (the top one or a Bundle entry)."""
    while ctx.relation not in ("root", "entry") and ctx.parent is not None:
        ctx = ctx.parent
    return ctx


def check_models(result: Walk) -> list[Issue]:
    """Validate every resource of the walk with the fhir.resources models.

    Findings at a location the walk already judged (:attr:`Walk.claimed`) are dropped, and so
    are unknown elements when the walk's element model is complete (R4: the R4 definitions
    say which elements exist; the R4B models differ from R4 in places)."""
    from pydantic import ValidationError

    complete = model(result.version).complete
    claimed = result.claimed

    issues: list[Issue] = []
    spoiled = {id(_owner(r)) for r in result.resources
               if r.unknown_type and r.relation not in ("root", "entry")}
    for ctx in result.resources:
        if ctx.unknown_type or ctx.relation not in ("root", "entry"):
            continue  # contained and nested resources are validated with their container
        cls = _model_class(result.version, ctx.type)
        if cls is None:
            issues.append(information(
                "not-checked", ctx.path,
                f"{ctx.type} is a FHIR R4 resource type that fhir.resources' R4B models do not "
                "have; its elements, cardinality and values are checked against the R4 "
                "definitions, the rest of the model check (choice and array shapes) is not"))
            continue
        if id(ctx) in spoiled:
            issues.append(information(
                "not-checked", ctx.path,
                "structure not checked: a resource inside it has an unknown resourceType"))
            continue
        data = _strip_entries(ctx.data) if ctx.type == "Bundle" else ctx.data
        try:
            cls.model_validate(data)
        except ValidationError as exc:
            issues.extend(i for i in translate(exc, ctx.path, skip_unknown=complete)
                          if i.location not in claimed)
        except RecursionError:
            issues.append(error("too-deep", ctx.path, "the resource is nested too deeply to "
                                                      "check its structure"))
        except Exception as exc:
            issues.append(error("invalid-value", ctx.path,
                                f"the resource cannot be parsed as a FHIR {ctx.type}: "
                                f"{type(exc).__name__}: {str(exc)[:200]}"))
    return issues


def loc_path(prefix: str, loc: tuple[int | str, ...]) -> str:
    """FHIR path of a pydantic error location below ``prefix``."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("root", "__root__") or "[" in part or part.startswith("function-"):
            continue
        else:
            out += f".{part}"
    return out


_FORMAT_NAMES: Final = {
    "DateTime": "dateTime", "Date": "date", "Time": "time", "Instant": "instant",
    "Decimal": "decimal", "Integer": "integer", "PositiveInt": "positiveInt",
    "UnsignedInt": "unsignedInt", "Id": "id", "Uri": "uri", "Url": "url", "Code": "code",
    "Oid": "oid", "Uuid": "uuid", "Canonical": "canonical", "Base64Binary": "base64Binary",
    "Markdown": "markdown", "String": "string", "Boolean": "boolean", "Integer64": "integer64",
}


#: The FHIR ``uuid`` type (R4 and R5 datatypes: "urn:uuid:" and an RFC 4122 UUID of any
#: version, lower case), as the definitions' regex gives it.
_FHIR_UUID: Final = re.compile(
    r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _extension_primitive_element(loc: tuple[Any, ...], value: Any) -> bool:
    """Whether a model's "extra input" is the ``_valueX`` companion of an extension's primitive
    value (``"_valueCode": {"extension": [...]}``, FHIR json.html#primitive), in its allowed
    shape (an object of ``id`` and extensions that have a ``url``). fhir.resources' R5
    ``Extension`` model lacks these companions (its ``Observation`` has them), so the model's
    complaint there is not a defect of the input; anything else stays ``unknown-element``."""
    if len(loc) < 3 or not isinstance(loc[-1], str) or not isinstance(loc[-2], int):
        return False
    if loc[-3] not in ("extension", "modifierExtension"):
        return False
    name = loc[-1]
    if not name.startswith("_value") or name[len("_value"):] not in _FORMAT_NAMES:
        return False
    if not isinstance(value, dict) or not value or not set(value) <= {"id", "extension"}:
        return False
    nested = value.get("extension", [])
    return isinstance(nested, list) and all(
        isinstance(item, dict) and isinstance(item.get("url"), str) for item in nested)


def translate(exc: Any, prefix: str, skip_unknown: bool = False) -> list[Issue]:
    """One issue per pydantic error, at its FHIR path, naming the offending value (through
    :func:`icans_interop.issues.issues_from_validation_error`, in FHIR's terms).

    A required element that is absent is ``missing-required`` (pydantic's ``missing``, and
    fhir.resources' ``model_field_validation.missing`` for primitives). With ``skip_unknown``
    (R4, whose complete element model the walk checks) unknown and missing elements and
    primitive formats are left to the walk (the models' patterns take Unicode whitespace, the R4
    regexes ASCII whitespace)."""
    seen: set[tuple[str, str]] = set()

    def describe(problem: Mapping[str, Any]) -> tuple[str, str] | None:
        kind = problem.get("type", "")
        loc = tuple(problem.get("loc", ()))
        value = problem.get("input")
        msg = str(problem.get("msg", "")).removeprefix("Value error, ")
        if skip_unknown and (kind == "string_pattern_mismatch"
                             or "does not match spec regex" in msg):
            return None  # R4: the walk matched the value against the R4 regex (ASCII \s)
        if kind == "uuid_version" and isinstance(value, str) and _FHIR_UUID.fullmatch(value):
            return None  # fhir.resources wants version 4; FHIR's uuid is any RFC 4122 UUID
        if kind == "missing" or kind.endswith(".missing"):
            if skip_unknown:
                return None  # R4: the walk checks required elements from the definitions
            code, message = "missing-required", f"required element {loc[-1]!s} is missing" \
                if loc else "a required element is missing"
        elif kind == "extra_forbidden":
            if skip_unknown or _extension_primitive_element(loc, value):
                return None
            code = "unknown-element"
            message = unknown_element_message(str(loc[-1]) if loc else "?", value)
        else:
            code = "invalid-value"
            message = _value_message(kind, msg, value)
        key = (loc_path(prefix, loc), message)
        if key in seen:
            return None
        seen.add(key)
        return code, message

    return issues_from_validation_error(exc, path_of=lambda loc: loc_path(prefix, loc),
                                        describe=describe)


def _value_message(kind: str, msg: str, value: Any) -> str:
    shown = _show(value)
    if "does not match spec regex" in msg:
        name = msg.split(" value string", 1)[0]
        return f"invalid {_FORMAT_NAMES.get(name, name)} {shown}: does not match the FHIR " \
               f"{_FORMAT_NAMES.get(name, name)} format"
    if kind == "list_type":
        return f"expected an array, got {shown}"
    if kind in ("string_type", "int_type", "bool_type", "float_type", "decimal_type",
                "dict_type", "model_type", "int_from_float", "int_parsing", "bool_parsing",
                "string_too_short"):
        return f"{msg} (got {shown})"
    if "Any of one field value is expected" in msg:
        return f"more than one value of a choice element: {msg.split('but got')[0].strip()}"
    if isinstance(value, dict) and len(shown) > 60:
        return msg
    return f"{msg} (got {shown})"
