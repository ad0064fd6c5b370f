"""Core FHIR invariants (constraints) of the resource types we exchange, with fhirpathpy.

The invariants come from ``data/fhir-r4-invariants.json`` (generated from the R4 definitions by
``tools/gen_fhir_tables.py``), keyed by type: resources (``Observation``), backbone elements
(``Observation.referenceRange``) and datatypes (``Quantity``, ``Period``...). Each is marked
with how it is evaluated:

* ``fhirpath``: compiled once with :func:`fhirpathpy.compile` (on first use) and evaluated on
  every node of that type the walk found. An invariant *fails* only when its expression gives
  ``false``; an empty result passes (as in the reference validator). ``guard`` lists JSON
  properties such that a node with none of them passes without evaluation (computed by the
  generator from the expression and checked on an empty node); ``passIfAbsent`` lists sets
  of properties of which a node lacking any one set passes (a disjunct ``x.empty()``).
* ``native``: checked in Python elsewhere (ele-1 and ext-1 while walking, txt-1/txt-2 below,
  ref-1 and the per-entry Bundle rules bdl-3/4/5/7/8 with the references), each with the
  reason in the table.
* ``skipped``: fhirpathpy cannot evaluate it (ctm-1 calls ``resolve()``); the reason is in
  the table, and a file holding a node of its type gets one ``not-checked`` information
  naming it, never a silent pass. An expression that fails on a file's data likewise gets one
  ``invariant-not-evaluated`` per invariant and file.

The table covers every resource type and datatype of the R4 definitions.

Best-practice constraints (dom-6, "a resource should have narrative") are guidelines, not
conformance rules, and are not reported.

There are no R5 invariant tables: no R5 definitions are available offline, so for R5 only the
native checks run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

from icans_interop.issues import Issue, error, information, warning
from icans_interop.validation.fhir_narrative import INVARIANT_CODE
from icans_interop.validation.fhir_structure import Walk

FhirPathFn = Callable[..., list[Any]]


def _has_value(inputs: list[Any]) -> list[bool]:
    """FHIRPath ``hasValue()``: one primitive with a value (fhirpathpy lacks it)."""
    if len(inputs) != 1:
        return [False]
    item = inputs[0]
    return [item is not None and not isinstance(item, dict | list)]


#: Options every expression is compiled with: hasValue() added, trace() silenced.
COMPILE_OPTIONS: Final[dict[str, Any]] = {
    "userInvocationTable": {"hasValue": {"fn": _has_value, "arity": {0: []}}},
    "traceFn": lambda *_args: None,
    "returnRawData": True,
}



@dataclass(frozen=True, slots=True)
class Invariant:
    type_path: str
    key: str
    severity: str
    human: str
    expression: str
    evaluator: str
    best_practice: bool
    guard: frozenset[str] | None
    pass_if_absent: tuple[frozenset[str], ...]
    element: str | None
    reason: str


@cache
def table(version: str) -> dict[str, tuple[Invariant, ...]]:
    """Invariants by type path for ``version`` (empty for R5: no definitions offline)."""
    if version != "R4":
        return {}
    text = resources.files("icans_interop.data").joinpath(
        "fhir-r4-invariants.json").read_text("utf-8")
    data = json.loads(text)
    out: dict[str, tuple[Invariant, ...]] = {}
    for type_path, items in data["invariants"].items():
        out[type_path] = tuple(Invariant(
            type_path=type_path, key=item["key"], severity=item["severity"],
            human=item["human"], expression=item["expression"],
            evaluator=item["evaluator"], best_practice=bool(item.get("bestPractice")),
            guard=frozenset(item["guard"]) if "guard" in item else None,
            pass_if_absent=tuple(frozenset(keys) for keys in item.get("passIfAbsent", ())),
            element=item.get("element"), reason=item.get("reason", ""),
        ) for item in items)
    return out


@cache
def evaluated_types(version: str) -> frozenset[str]:
    """Type paths with at least one invariant this module evaluates with FHIRPath or must
    report as not checked (the structure walk records their nodes for :func:`check`)."""
    return frozenset(t for t, items in table(version).items()
                     if any(i.evaluator in ("fhirpath", "skipped") and not i.best_practice
                            for i in items))


def skipped(version: str = "R4") -> list[Invariant]:
    """Invariants that fhirpathpy cannot evaluate and that are not checked natively."""
    return [i for items in table(version).values() for i in items if i.evaluator == "skipped"]


#: Compiled expressions by text (dom-2 on eleven resource types is compiled once).
_COMPILED: dict[str, FhirPathFn] = {}


def _model() -> Any:
    from fhirpathpy.models import models

    return models["r4"]


def compiled(invariant: Invariant) -> FhirPathFn:
    """The compiled expression of an invariant (compiled once per process)."""
    key = invariant.expression
    fn = _COMPILED.get(key)
    if fn is None:
        import fhirpathpy

        fn = fhirpathpy.compile(invariant.expression, _model(), options=COMPILE_OPTIONS)
        _COMPILED[key] = fn
    return fn


def _issue(invariant: Invariant, location: str, detail: str = "") -> Issue:
    message = f"{invariant.key}: {invariant.human}"
    if detail:
        message += f" ({detail})"
    maker = {"error": error, "warning": warning}.get(invariant.severity, information)
    return maker(INVARIANT_CODE, location, message)


def check(walk: Walk, version: str) -> list[Issue]:
    """Evaluate the FHIRPath invariants on every typed node the walk recorded."""
    invariants = table(version)
    if not invariants:
        return []
    from fhirpathpy.engine.nodes import ResourceNode

    issues: list[Issue] = []
    unevaluated: dict[str, tuple[str, str, int]] = {}  # key -> (first location, error, count)
    for visit in walk.typed:
        items = invariants.get(visit.type_path)
        if not items:
            continue
        node = visit.node
        keys = node.keys()
        wrapped: Any = None
        for invariant in items:
            if invariant.evaluator == "skipped" and not invariant.best_practice:
                if invariant.key not in unevaluated:
                    unevaluated[invariant.key] = (visit.path, "", 0)
                    issues.append(information(
                        "not-checked", visit.path,
                        f"{invariant.key} ({invariant.type_path}: {invariant.human}) is not "
                        f"checked: {invariant.reason}"))
                continue
            if invariant.evaluator != "fhirpath" or invariant.best_practice or \
                    invariant.element is not None:
                continue
            if invariant.guard is not None and invariant.guard.isdisjoint(keys):
                continue
            if any(absent.isdisjoint(keys) for absent in invariant.pass_if_absent):
                continue
            if wrapped is None:
                wrapped = ResourceNode.create_node(  # type: ignore[no-untyped-call]
                    node, visit.type_path)
            env = {"resource": visit.resource.data, "rootResource": visit.resource.root.data}
            try:
                result = compiled(invariant)(wrapped, env)
            except Exception as exc:
                first, reason, count = unevaluated.get(
                    invariant.key, (visit.path, f"{type(exc).__name__}: {str(exc)[:120]}", 0))
                unevaluated[invariant.key] = (first, reason, count + 1)
                continue
            if _fails(result):
                issues.append(_issue(invariant, visit.path,
                                     f"expression: {invariant.expression}"))
    for key, (first, reason, count) in unevaluated.items():
        if count:
            more = f"; {count - 1} more elements" if count > 1 else ""
            issues.append(information(
                "invariant-not-evaluated", first,
                f"{key} could not be evaluated on this element ({reason}){more}"))
    return issues


def _fails(result: Sequence[Any]) -> bool:
    return len(result) == 1 and result[0] is False


# ------------------------------------------------------------------------------------------
# Narrative (txt-1, txt-2): htmlChecks() in Python.
