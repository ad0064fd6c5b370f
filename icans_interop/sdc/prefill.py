"""A report as a pre-filled QuestionnaireResponse of the generated form (``template --prefill``).

The response follows the form item by item (:mod:`.form`), so a report read from a case file,
an SR or a FHIR bundle can be reviewed and amended in any SDC renderer and extracted again
(:mod:`.extract`); ``read(write(report)) == report`` for every report the form can hold.

What the form cannot hold is reported, never dropped silently (issue ``not-in-form``):

* a value the form does not offer for its pattern (a qualifier or signal the knowledge entry
  does not name for it) is kept as an answer outside the item's options: an *error*, because
  such a response does not conform to the form (an answer of a ``choice`` item must be one of
  its options; renderers may not show it), so ``template --prefill`` writes it only with
  ``--force``;
* a value with no item at all (a qualifier field or an MR sequence the entry gives no item for
  in that pattern) is left out: an *error*.

The computed items (ICE total, domain grades) are evaluated from the form's own FHIRPath
(:mod:`.scoring`); the grade item holds the grade the report records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from icans_interop.formats import FhirVersion as Version
from icans_interop.issues import Issue, error
from icans_interop.model import Finding, ImagingReport, SignalObservation
from icans_interop.sdc import form as f
from icans_interop.sdc.questionnaire_writer import (
    canonical,
    check,
    option_coding,
    questionnaire,
)
from icans_interop.sdc.scoring import calculate

JsonDict = dict[str, Any]


def fhir_datetime(value: dt.datetime) -> str:
    """ISO 8601 as FHIR writes it; an offset FHIR cannot write (seconds) becomes UTC."""
    offset = value.utcoffset()
    if offset is not None and offset.total_seconds() % 60:
        value = value.astimezone(dt.UTC)
    return value.isoformat()


@dataclass
class _Context:
    report: ImagingReport
    computed: dict[str, list[Any]]
    issues: list[Issue] = field(default_factory=list)
    finding: Finding | None = None
    finding_path: str = ""
    signal: SignalObservation | None = None
    signal_path: str = ""


def _coded(item: f.FormItem, key: str, path: str, ctx: _Context) -> JsonDict:
    if key not in item.options:
        what = item.role if item.role in f.FIXED_CHOICES else repr(key)
        ctx.issues.append(error(
            "not-in-form", path,
            f"{what} is not an option of form item {item.link_id!r}"
            f"{' (the knowledge entry does not name it for the pattern)' if item.pattern else ''}"
            "; kept as an answer the form does not list, the response does not conform to "
            "the form"))
    return {"valueCoding": option_coding(item, key)}


def _scalar(item: f.FormItem, value: Any) -> JsonDict:
    if item.type == "boolean":
        return {"valueBoolean": bool(value)}
    if item.type == "integer":
        return {"valueInteger": int(value)}
    if item.type == "date":
        return {"valueDate": value.isoformat()}
    if item.type == "dateTime":
        return {"valueDateTime": fhir_datetime(value)}
    if item.type == "time":
        return {"valueTime": value.isoformat()}
    return {"valueString": str(value)}


def _value(item: f.FormItem, ctx: _Context) -> tuple[Any, str]:
    """The model value an item carries in the current context, and its model path."""
    binds, report = item.binds, ctx.report
    head, _, name = binds.partition(".")
    if head in ("patient", "study"):
        return getattr(getattr(report, head), name), binds
    if binds in ("procedure", "observer_name", "impression", "icans_grade", "status",
                 "revision"):
        return getattr(report, binds), binds
    if head == "verifying_observer":
        verifier = report.verifying_observer
        return (getattr(verifier, name) if verifier else None), binds
    if binds == "pattern.present":
        return any(x.pattern == item.pattern for x in report.findings), binds
    if head == "finding" and ctx.finding is not None:
        return getattr(ctx.finding, name), f"{ctx.finding_path}.{name}"
    if binds == "signal.sequence" and ctx.signal is not None:
        return ctx.signal.sequence, f"{ctx.signal_path}.sequence"
    if binds == "signal.value" and ctx.signal is not None:
        signal = ctx.signal.signal if ctx.signal.sequence == item.sequence else None
        return signal, f"{ctx.signal_path}.signal"
    assessment = report.assessment
    if binds == "assessment.performed":
        return assessment is not None, binds
    if assessment is None:
        return None, binds
    if head == "assessment":
        return getattr(assessment, name), binds
    if head == "ice":
        return (getattr(assessment.ice, name) if assessment.ice else None), f"assessment.{binds}"
    if head == "computed":
        values = ctx.computed.get(item.link_id) or [None]
        return values[0], binds
    raise AssertionError(f"form item {item.link_id!r} binds unknown field {binds!r}")


def _answers(item: f.FormItem, ctx: _Context) -> list[JsonDict]:
    value, path = _value(item, ctx)
    if value is None or value == ():
        return []
    if item.type == "choice":
        values = value if isinstance(value, tuple) else (value,)
        paths = [f"{path}[{i}]" for i in range(len(values))] if isinstance(value, tuple) \
            else [path]
        return [_coded(item, key, where, ctx) for key, where in zip(values, paths, strict=True)]
    if item.type == "time" and value.tzinfo is not None:
        ctx.issues.append(error("not-in-form", path, f"time {value.isoformat()} has a time "
                                                     "zone, which a FHIR time cannot hold"))
        return []
    return [_scalar(item, value)]


def _question(item: f.FormItem, ctx: _Context) -> list[JsonDict]:
    answers = _answers(item, ctx)
    if not answers:
        return []
    return [{"linkId": item.link_id, "text": item.text, "answer": answers}]


def _children(item: f.FormItem, ctx: _Context) -> list[JsonDict]:
    return [out for child in item.children for out in _fill(child, ctx)]


def _group(item: f.FormItem, ctx: _Context) -> list[JsonDict]:
    children = _children(item, ctx)
    return [{"linkId": item.link_id, "text": item.text, "item": children}] if children else []


def _report_unplaced(item: f.FormItem, finding: Finding, ctx: _Context) -> None:
    """Errors for values of ``finding`` that no item of the pattern's block can carry."""
    placed = {child.binds for child in item.walk()}
    for name in ("distribution", "number", "morphology"):
        if getattr(finding, name) not in (None, ()) and f"finding.{name}" not in placed:
            ctx.issues.append(error(
                "not-in-form", f"{ctx.finding_path}.{name}",
                f"the form has no {name} item for pattern {finding.pattern!r} (the knowledge "
                "entry names no such qualifier for it); the value is left out"))
    sequences = {child.sequence for child in item.walk() if child.sequence}
    for index, signal in enumerate(finding.signals):
        if signal.sequence not in sequences:
            ctx.issues.append(error(
                "not-in-form", f"{ctx.finding_path}.signals[{index}]",
                f"the form has no {signal.sequence!r} signal item for pattern "
                f"{finding.pattern!r} (the knowledge entry gives no such sequence for it); "
                "the observation is left out"))


def _signals(item: f.FormItem, ctx: _Context) -> list[JsonDict]:
    finding = ctx.finding
    if finding is None:
        return []
    sequences = {child.sequence for child in item.children if child.sequence}
    out = []
    for index, signal in enumerate(finding.signals):
        if signal.sequence not in sequences:
            continue  # reported by _report_unplaced
        ctx.signal, ctx.signal_path = signal, f"{ctx.finding_path}.signals[{index}]"
        out += _group(item, ctx)
        ctx.signal = None
    return out


def _fill(item: f.FormItem, ctx: _Context) -> list[JsonDict]:
    handler = _HANDLERS.get(item.binds)
    if handler is not None:
        return handler(item, ctx)
    if item.type == "group":
        if item.link_id == f.DETAILS and ctx.report.assessment is None:
            return []
        return _group(item, ctx)
    return _question(item, ctx)


def _finding_group(item: f.FormItem, ctx: _Context) -> list[JsonDict]:
    groups = []
    for index, finding in enumerate(ctx.report.findings):
        if finding.pattern != item.pattern:
            continue
        ctx.finding, ctx.finding_path = finding, f"findings[{index}]"
        # never empty: the model always carries the finding's tracking identifiers
        groups.append({"linkId": item.link_id, "text": item.text,
                       "item": _children(item, ctx)})
        _report_unplaced(item, finding, ctx)
        ctx.finding = None
    return groups


_HANDLERS: dict[str, Callable[[f.FormItem, _Context], list[JsonDict]]] = {
    "finding": _finding_group,
    "signal": _signals,
}


def _response(report: ImagingReport, computed: dict[str, list[Any]],
              issues: list[Issue]) -> JsonDict:
    ctx = _Context(report, computed, issues)
    items = [out for item in f.form().items for out in _fill(item, ctx)]
    return {"resourceType": "QuestionnaireResponse", "questionnaire": canonical(),
            "status": "completed", "authored": fhir_datetime(report.issued), "item": items}


def write(report: ImagingReport, version: Version = "R4") -> tuple[JsonDict, list[Issue]]:
    """The report as a QuestionnaireResponse of :func:`.questionnaire`, and what it left out.

    The response is checked with fhir.resources (R4B for R4, R5) before it is returned.
    """
    draft = _response(report, {}, [])
    computed = calculate(questionnaire(version), draft, version)
    issues: list[Issue] = []
    response = _response(report, computed, issues)
    check(response, version)
    return response, issues
