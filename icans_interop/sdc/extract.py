"""A QuestionnaireResponse back into the domain model (``icans-interop extract``).

Tolerant of other renderers: items are matched by ``linkId`` wherever they sit (nested under
groups or under answers), coded answers by their coding (any coding the mapping tables give the
concept; a coding without a system is matched against the item's options by code), and the
response's ``questionnaire`` canonical is not required to be ours. Nothing raises on bad input:
every problem becomes an :class:`~icans_interop.issues.Issue` located by a FHIR element path
(``QuestionnaireResponse.item[2].item[0].answer[1].valueCoding``):

* ``unknown-item`` — a linkId the form does not define (its nested items are still read);
* ``misplaced-item`` — a known item outside the group it belongs to (e.g. a finding site
  outside a finding group);
* ``unknown-code`` / ``wrong-role`` — an answer coding the tables do not know, or a concept of
  another role than the item's;
* ``invalid-value`` / ``missing-required`` / ``inconsistent-value`` — malformed answers,
  missing required answers (patient, study, procedure; an incomplete ICE; a sequence without
  its signal), contradictions between answers;
* ``assumed-value`` — a documented default used (the model's normal value of an unanswered
  consciousness/seizure/motor item; UTC for a date-time without an offset).

The report's ``issued`` time is the response's ``authored`` time; the findings come in response
order; tracking identifiers not given are derived as for case files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import ValidationError

from icans_interop import fields, sources, terminology
from icans_interop.issues import (
    Issue,
    error,
    information,
    issues_from_validation_error,
    warning,
)
from icans_interop.model import ICE_ITEMS, ImagingReport
from icans_interop.reading import Provenance, Reading
from icans_interop.sdc import form as f
from icans_interop.sdc.questionnaire_writer import QUESTIONNAIRE_URL

JsonDict = dict[str, Any]
Locator = Callable[[str], str]

ROOT: Final = "QuestionnaireResponse"
MAX_BYTES: Final = 16 * 1024 * 1024
MAX_DEPTH: Final = 100
MAX_ITEMS: Final = 100_000

_VALUE_KEYS: Final = {
    "boolean": ("valueBoolean",), "integer": ("valueInteger", "valueDecimal"),
    "string": ("valueString",), "text": ("valueString",), "date": ("valueDate",),
    "dateTime": ("valueDateTime",), "time": ("valueTime",),
    "choice": ("valueCoding", "valueString"),
}
_DATE_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME_RE: Final = re.compile(r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
_DATETIME_RE: Final = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$")


@dataclass
class _Question:
    """One answered (or unanswered) instance of a form question."""

    item: f.FormItem
    path: str
    answers: list[tuple[Any, str]]  # (decoded value, location)


@dataclass
class _Scope:
    """Questions found in one group instance: the response root, a finding or a signal."""

    path: str
    kind: str = "root"
    pattern: str | None = None
    questions: dict[str, list[_Question]] = field(default_factory=dict)
    children: list[_Scope] = field(default_factory=list)


class _Reader:
    def __init__(self) -> None:
        self.form = f.form()
        self.index = self.form.index()
        self.issues: list[Issue] = []
        self.where: dict[str, str] = {}
        self.terms = terminology.load()
        self.count = 0
        #: linkIds with an answer that was rejected (reported once, not again as missing)
        self.rejected: set[str] = set()
        #: where each (non-repeating) group was found, to locate a missing answer
        self.groups: dict[str, str] = {}
        self.parents = {child.link_id: item.link_id for item in self.form.walk()
                        for child in item.children}

    # -- walking ----------------------------------------------------------------------------

    def walk(self, items: Any, path: str, scope: _Scope, depth: int) -> None:
        if not isinstance(items, list):
            self.issues.append(error("invalid-value", path, "item must be a JSON array"))
            return
        if depth > MAX_DEPTH:
            self.issues.append(error("too-deep", path, f"items nest deeper than {MAX_DEPTH}"))
            return
        for i, raw in enumerate(items):
            here = f"{path}[{i}]"
            self.count += 1
            if self.count > MAX_ITEMS:
                self.issues.append(error("too-large", here, f"more than {MAX_ITEMS} items"))
                return
            if not isinstance(raw, dict):
                self.issues.append(error("invalid-value", here, "an item must be a JSON object"))
                continue
            self.visit(raw, here, scope, depth)

    def visit(self, raw: JsonDict, path: str, scope: _Scope, depth: int) -> None:
        link_id = raw.get("linkId")
        spec = self.index.get(link_id) if isinstance(link_id, str) else None
        inner = scope
        if spec is None:
            self.issues.append(warning("unknown-item", f"{path}.linkId",
                                       f"linkId {link_id!r} is not an item of the ICANS form; "
                                       "the item is skipped (nested items are still read)"))
        elif spec.binds in ("finding", "signal"):
            if not self._placed_right(spec, scope, path):
                return
            inner = _Scope(path, spec.binds, spec.pattern)
            scope.children.append(inner)
        elif spec.type == "group":
            self.groups.setdefault(spec.link_id, path)
        else:
            if not self._placed_right(spec, scope, path):
                return
            answers = [(value, where) for value, where in self._answers(spec, raw, path)
                       if value is not None]
            scope.questions.setdefault(spec.link_id, []).append(_Question(spec, path, answers))
        self.walk(raw.get("item", []), f"{path}.item", inner, depth + 1)
        answers_raw = raw.get("answer", [])
        if isinstance(answers_raw, list):
            for j, answer in enumerate(answers_raw):
                if isinstance(answer, dict) and "item" in answer:
                    self.walk(answer["item"], f"{path}.answer[{j}].item", inner, depth + 1)

    @staticmethod
    def _home(spec: f.FormItem) -> tuple[str, str | None]:
        """The (kind, pattern) of the group instance an item must sit in."""
        if spec.binds == "finding":
            return "root", None
        if spec.binds == "signal":
            return "finding", spec.pattern
        head = spec.binds.partition(".")[0]
        if head in ("finding", "signal"):  # finding.sites, signal.value...
            return head, spec.pattern
        return "root", None

    def _placed_right(self, spec: f.FormItem, scope: _Scope, path: str) -> bool:
        """Whether ``spec`` sits in the group instance it belongs to (else warn and skip)."""
        if (scope.kind, scope.pattern) != self._home(spec):
            self.issues.append(warning(
                "misplaced-item", path,
                f"{spec.text!r} ({spec.link_id}) is not inside the group it belongs to; "
                "skipped"))
            return False
        return True

    # -- answers ----------------------------------------------------------------------------

    def _answers(self, spec: f.FormItem, raw: JsonDict, path: str) -> list[tuple[Any, str]]:
        answers = raw.get("answer", [])
        if not isinstance(answers, list):
            self.issues.append(error("invalid-value", f"{path}.answer", "must be a JSON array"))
            return []
        out = []
        for j, answer in enumerate(answers):
            here = f"{path}.answer[{j}]"
            if not isinstance(answer, dict):
                self.issues.append(error("invalid-value", here, "an answer must be an object"))
                continue
            keys = [k for k in answer if k.startswith("value")]
            if not keys:
                continue
            key = keys[0]
            if key not in _VALUE_KEYS[spec.type]:
                self.issues.append(error(
                    "invalid-value", f"{here}.{key}",
                    f"{spec.text!r} ({spec.link_id}) takes {spec.type} answers, not {key}"))
                self.rejected.add(spec.link_id)
                continue
            decoded = self._decode(spec, key, answer[key], f"{here}.{key}")
            if decoded is None:
                self.rejected.add(spec.link_id)
            out.append((decoded, f"{here}.{key}"))
        if len(out) > 1 and not spec.repeats:
            self.issues.append(warning(
                "inconsistent-value", f"{path}.answer[1]",
                f"{spec.text!r} ({spec.link_id}) takes one answer; {len(out)} were given, the "
                "first is kept"))
            out = out[:1]
        return out

    def _decode(self, spec: f.FormItem, key: str, value: Any, path: str) -> Any:
        kind = spec.type
        if kind == "choice":
            return self._coded(spec, value, path)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            self._bad(spec, value, path)
            return None
        if kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int | float) or (
                    isinstance(value, float) and not value.is_integer()):
                self._bad(spec, value, path)
                return None
            number = int(value)
            if (spec.min_value is not None and number < spec.min_value) or (
                    spec.max_value is not None and number > spec.max_value):
                self.issues.append(error(
                    "invalid-value", path, f"{spec.text!r} ({spec.link_id}) is {number}, outside "
                                           f"{spec.min_value}-{spec.max_value}"))
                return None
            return number
        if not isinstance(value, str) or not value.strip():
            self._bad(spec, value, path)
            return None
        if kind == "date":
            if _DATE_RE.match(value):
                return value
            self._bad(spec, value, path)
            return None
        if kind == "time":
            if _TIME_RE.match(value):
                return value
            self._bad(spec, value, path)
            return None
        if kind == "dateTime":
            return self._datetime(spec, value, path)
        return value

    def _bad(self, spec: f.FormItem, value: Any, path: str) -> None:
        """Report a malformed answer (the caller drops it)."""
        self.issues.append(error("invalid-value", path,
                                 f"{spec.text!r} ({spec.link_id}): {_short(value)} is not a "
                                 f"valid {spec.type} answer"))

    def _datetime(self, spec: f.FormItem, value: str, path: str) -> str | None:
        if not _DATETIME_RE.match(value):
            self._bad(spec, value, path)
            return None
        if value.endswith("Z") or re.search(r"[+-]\d{2}:\d{2}$", value):
            return value
        self.issues.append(information(
            "assumed-value", path, f"{spec.text!r} {value} has no UTC offset; UTC is assumed"))
        return value + "Z"

    def _coded(self, spec: f.FormItem, value: Any, path: str) -> str | None:
        if isinstance(value, str):  # open-choice renderers: match a key, label or display
            return self._by_text(spec, value, path)
        if not isinstance(value, dict) or not isinstance(value.get("code"), str):
            self._bad(spec, value, path)
            return None
        system, code = value.get("system"), value["code"]
        fixed = f.FIXED_CHOICES.get(spec.role or "")
        if fixed is not None:
            fixed_system, codes = fixed
            for key, (fixed_code, _display) in codes.items():
                if code == fixed_code and system in (None, fixed_system):
                    return key
            self.issues.append(error("invalid-value", path,
                                     f"{system}|{code} is not a code of {fixed_system}"))
            return None
        if isinstance(system, str):
            concept = (self.terms.lookup_fhir(system, code, spec.role)
                       or self.terms.lookup_fhir(system, code))
        else:
            concept = next((self.terms.concept(k) for k in spec.options
                            if any(c.code == code for c in self.terms.concept(k).codings)), None)
        if concept is None:
            self.issues.append(warning(
                "unknown-code", path, f"{system or '(no system)'}|{code} is not in the mapping "
                                      f"tables; the answer to {spec.text!r} is skipped"))
            return None
        if concept.role != spec.role:
            self.issues.append(error(
                "wrong-role", path, f"{system}|{code} ({concept.label}) is a {concept.role} "
                                    f"concept; {spec.text!r} takes a {spec.role}"))
            return None
        return concept.key

    def _by_text(self, spec: f.FormItem, text: str, path: str) -> str | None:
        folded = text.strip().casefold()
        fixed = f.FIXED_CHOICES.get(spec.role or "")
        if fixed is not None:
            for key, (code, display) in fixed[1].items():
                if folded in (key.casefold(), code, display.casefold()):
                    return key
        elif spec.role is not None:
            for concept in self.terms.value_set(spec.role):
                names = {concept.key, concept.label.casefold(),
                         *(c.display.casefold() for c in concept.codings)}
                if folded in names:
                    return concept.key
        self.issues.append(warning("unknown-code", path,
                                   f"{text!r} names no {spec.role} concept; the answer to "
                                   f"{spec.text!r} is skipped"))
        return None


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- building the model ----------------------------------------------------------------------


class _Builder:
    def __init__(self, reader: _Reader, root: _Scope) -> None:
        self.r = reader
        self.root = root

    def note(self, model_path: str, location: str) -> None:
        self.r.where.setdefault(model_path, location)

    def single(self, scope: _Scope, link_id: str, model_path: str) -> Any:
        found = scope.questions.get(link_id, [])
        if len(found) > 1:
            self.r.issues.append(warning(
                "inconsistent-value", found[1].path,
                f"{found[1].item.text!r} ({link_id}) appears {len(found)} times; the first is "
                "kept"))
        for question in found[:1]:
            if question.answers:
                value, where = question.answers[0]
                self.note(model_path, where)
                return value
            self.note(model_path, question.path)
        return None

    def many(self, scope: _Scope, link_id: str, model_path: str) -> list[Any]:
        values: list[Any] = []
        for question in scope.questions.get(link_id, []):
            self.note(model_path, question.path)
            for value, where in question.answers:
                self.note(f"{model_path}[{len(values)}]", where)
                values.append(value)
        return values

    def missing(self, link_id: str, model_path: str, why: str) -> None:
        """Report a missing answer where it should be (unless its answer was rejected)."""
        if link_id in self.r.rejected:
            return
        parent = self.r.parents.get(link_id)
        where = self.r.where.get(model_path) or self.r.groups.get(parent or "") or ROOT
        spec = self.r.index[link_id]
        self.r.issues.append(error("missing-required", where,
                                   f"{spec.text!r} ({link_id}) {why}"))

    def required(self, value: Any, link_id: str, model_path: str) -> Any:
        if value is None:
            self.missing(link_id, model_path, "is required and has no answer")
        return value

    def identity(self) -> tuple[JsonDict, JsonDict]:
        patient: JsonDict = {}
        study: JsonDict = {}
        for item in self.r.form.walk():
            head, _, name = item.binds.partition(".")
            if head in ("patient", "study") and item.type != "group":
                value = self.single(self.root, item.link_id, item.binds)
                if item.required:
                    self.required(value, item.link_id, item.binds)
                if value is not None:
                    (patient if head == "patient" else study)[name] = value
        return patient, study

    def findings(self) -> list[JsonDict]:
        """Findings by pattern in form order, each pattern's in response order."""
        out: list[JsonDict] = []
        for item in self.r.form.walk():
            if item.binds != "pattern.present" or item.pattern is None:
                continue
            pattern = item.pattern
            present = self.single(self.root, item.link_id, f"present.{pattern}")
            scopes = [s for s in self.root.children if s.pattern == pattern]
            if present is False:
                for scope in scopes:
                    self.r.issues.append(warning(
                        "inconsistent-value", scope.path,
                        f"a {pattern} finding is given while the pattern is marked absent; "
                        "the finding is ignored"))
                continue
            if present and not scopes:  # present, nothing more said: the pattern alone
                self.note(f"findings[{len(out)}]", self.r.where[f"present.{pattern}"])
                out.append({"pattern": pattern})
            for scope in scopes:
                out.append(self._finding(pattern, scope, f"findings[{len(out)}]"))
        return out

    def _finding(self, pattern: str, scope: _Scope, base: str) -> JsonDict:
        self.note(base, scope.path)
        self.note(f"{base}.pattern", scope.path)
        data: JsonDict = {"pattern": pattern}
        for item in self.r.index[f.finding_id(pattern)].children:
            if not item.binds.startswith("finding."):
                continue
            name = item.binds.partition(".")[2]
            if item.repeats:
                values = self.many(scope, item.link_id, f"{base}.{name}")
                if values:
                    data[name] = values
            else:
                value = self.single(scope, item.link_id, f"{base}.{name}")
                if value is not None:
                    data[name] = value
        signals: list[JsonDict] = []
        for signal_scope in scope.children:
            observation = self._signal(pattern, signal_scope, f"{base}.signals[{len(signals)}]")
            if observation is not None:
                signals.append(observation)
        if signals:
            data["signals"] = signals
        return data

    def _signal(self, pattern: str, scope: _Scope, model_path: str) -> JsonDict | None:
        selector = self.single(scope, f.sequence_id(pattern), f"{model_path}.sequence")
        values = [(q.item.sequence, q.answers[0]) for link_id, found in scope.questions.items()
                  for q in found[:1] if q.item.binds == "signal.value" and q.answers]
        if not values:
            if selector is not None:
                self.r.issues.append(error(
                    "missing-required", self.r.where.get(f"{model_path}.sequence", scope.path),
                    f"MR sequence {selector!r} is given without its signal"))
            return None
        sequence, (signal, where) = values[0]
        if len(values) > 1:
            self.r.issues.append(warning(
                "inconsistent-value", values[1][1][1],
                "one signal group holds signals of several sequences; the first is kept"))
        if selector is not None and selector != sequence:
            self.r.issues.append(warning(
                "inconsistent-value", self.r.where[f"{model_path}.sequence"],
                f"the MR sequence {selector!r} differs from the sequence of the signal item "
                f"({sequence!r}); the signal item's is kept"))
        self.note(model_path, scope.path)
        self.note(f"{model_path}.sequence", where)
        self.note(f"{model_path}.signal", where)
        return {"sequence": sequence, "signal": signal}

    def assessment(self) -> JsonDict | None:
        performed = self.single(self.root, f.PERFORMED, "assessment.performed")
        details = [item for item in self.r.form.walk()
                   if item.binds.startswith(("assessment.", "ice.", "computed."))
                   and item.binds != "assessment.performed"]
        answered = any(self.root.questions.get(item.link_id) for item in details)
        if performed is False:
            if answered:
                self.r.issues.append(warning(
                    "inconsistent-value", self.r.where["assessment.performed"],
                    "the assessment is marked not performed but has answers; they are ignored"))
            return None
        if performed is None and not answered:
            return None
        data: JsonDict = {}
        when = self.single(self.root, "assessment.assessed_at", "assessment.assessed_at")
        if when is not None:
            data["assessed_at"] = when
        ice: dict[str, int] = {}
        missing: list[str] = []
        for model_field, key, _maximum in ICE_ITEMS:
            value = self.single(self.root, key, f"assessment.ice.{model_field}")
            if value is None:
                missing.append(key)
            else:
                ice[model_field] = value
        if ice and missing:
            for key in missing:
                self.missing(key, f"assessment.ice.{key}",
                             "has no answer while other ICE items do: the ICE is either done "
                             "in full or not at all")
        if ice:
            data["ice"] = ice
        for model_field, name_key, _role, repeats in _DOMAIN_FIELDS:
            model_path = f"assessment.{model_field}"
            if repeats:
                values = self.many(self.root, name_key, model_path)
                if values:
                    data[model_field] = values
                continue
            value = self.single(self.root, name_key, model_path)
            if value is None:
                default = f.model_default(model_field)
                self.r.issues.append(information(
                    "assumed-value", self.r.where.get(model_path, ROOT),
                    f"{self.r.index[name_key].text!r} ({name_key}) has no answer; the normal "
                    f"value {default!r} is assumed"))
            else:
                data[model_field] = value
        total = self.single(self.root, f.ICE_TOTAL, "assessment.ice_total")
        if total is not None and len(ice) == len(ICE_ITEMS) and total != sum(ice.values()):
            self.r.issues.append(warning(
                "inconsistent-value", self.r.where["assessment.ice_total"],
                f"the ICE total {total} differs from the sum of its items {sum(ice.values())}; "
                "the items are kept"))
        return data


#: Coded assessment domains plus the clinical signs: (model field, linkId, role, repeats).
_DOMAIN_FIELDS: Final = (*fields.ASSESSMENT_DOMAINS,
                         ("signs", fields.SIGNS_KEY, fields.SIGN_ROLE, True))


def _load(source: Any, issues: list[Issue]) -> JsonDict | None:
    """The response as parsed JSON, from any kind of :mod:`icans_interop.sources`."""
    if isinstance(source, dict):
        return source
    try:
        if sources.kind_of(source, json_text=True) == "other" and \
                callable(getattr(source, "model_dump_json", None)):
            raw: str | bytes = source.model_dump_json()  # a fhir.resources model
        else:
            raw = sources.read_bytes(source, MAX_BYTES, json_text=True)
        data = json.loads(raw)
    except sources.SourceError as exc:
        issues.append(error(exc.code, ROOT, exc.message))
        return None
    except (ValueError, RecursionError) as exc:
        issues.append(error("unreadable", ROOT, f"not JSON: {exc}"))
        return None
    if not isinstance(data, dict):
        issues.append(error("unreadable", ROOT, "the JSON is not an object"))
        return None
    return data


def _provenance(where: dict[str, str]) -> Provenance:
    """Model path -> response element path (the nearest parent's, else the response)."""
    provenance = Provenance(ROOT)
    provenance.merge("", where)
    return provenance


def _header(data: JsonDict, issues: list[Issue]) -> None:
    kind = data.get("resourceType")
    if kind != "QuestionnaireResponse":
        issues.append(error("invalid-value", f"{ROOT}.resourceType",
                            f"expected a QuestionnaireResponse, got {_short(kind)}"))
        return
    canonical = data.get("questionnaire")
    if isinstance(canonical, str) and canonical.split("|", 1)[0] != QUESTIONNAIRE_URL:
        issues.append(information(
            "ignored-item", f"{ROOT}.questionnaire",
            f"the response answers {canonical!r}, not {QUESTIONNAIRE_URL}; answers are matched "
            "by linkId"))
    status = data.get("status")
    if status == "entered-in-error":
        issues.append(error("invalid-value", f"{ROOT}.status",
                            "the response is marked entered-in-error"))
    elif status in ("in-progress", "stopped"):
        issues.append(warning("invalid-value", f"{ROOT}.status",
                              f"the response is {status}, not completed"))


def read_located(source: Any) -> tuple[ImagingReport | None, list[Issue], Locator]:
    """Like :func:`read`, also returning a locator from model paths (``findings[0].sites[1]``)
    to response element paths, for the semantic rules (the reading's
    ``provenance.locate``)."""
    reading = read(source)
    return reading.report, reading.issues, reading.provenance.locate


def read(source: Any) -> Reading:
    """A QuestionnaireResponse as a report, its issues and where each value was answered.

    ``source`` is any kind of :mod:`icans_interop.sources`: a path, JSON text (the ``str``
    rule is :func:`icans_interop.sources.is_json_text`), bytes, a binary file object (at most
    :data:`MAX_BYTES` of each), parsed JSON (``dict``) or a ``fhir.resources`` model. The
    :class:`~icans_interop.reading.Reading` unpacks as ``report, issues``; the report is None
    when an error leaves no faithful report (a required answer missing, a malformed value, an
    unreadable input). Never raises on bad input.
    """
    issues: list[Issue] = []
    data = _load(source, issues)
    if data is None:
        return Reading(None, issues, _provenance({}))
    _header(data, issues)
    if any(i.severity == "error" for i in issues) and data.get("resourceType") != \
            "QuestionnaireResponse":
        return Reading(None, issues, _provenance({}))
    reader = _Reader()
    root = _Scope(ROOT)
    reader.walk(data.get("item", []), f"{ROOT}.item", root, 1)
    builder = _Builder(reader, root)
    patient, study = builder.identity()
    case: JsonDict = {"patient": patient, "study": study}
    authored = data.get("authored")
    if isinstance(authored, str) and _DATETIME_RE.match(authored):
        reader.where["issued"] = f"{ROOT}.authored"
        case["issued"] = authored if re.search(r"(Z|[+-]\d{2}:\d{2})$", authored) else (
            authored + "Z")
    else:
        reader.issues.append(error("missing-required", f"{ROOT}.authored",
                                   "authored (the time the report was completed) is missing or "
                                   f"not a date-time: {_short(authored)}"))
    procedure = builder.required(builder.single(root, "procedure", "procedure"), "procedure",
                                 "procedure")
    if procedure is not None:
        case["procedure"] = procedure
    for name in ("observer_name", "impression", "status", "revision"):
        value = builder.single(root, name, name)
        if value is not None:
            case[name] = value
    verifier = {name: builder.single(root, f"verifying_observer.{name}",
                                     f"verifying_observer.{name}")
                for name in ("name", "organization")}
    if verifier["name"] is not None:
        case["verifying_observer"] = {k: v for k, v in verifier.items() if v is not None}
    elif verifier["organization"] is not None:
        reader.issues.append(warning("missing-required", f"{ROOT}.item",
                                     "a verifying organization without a verifier's name; "
                                     "ignored"))
    case["findings"] = builder.findings()
    assessment = builder.assessment()
    if assessment is not None:
        case["assessment"] = assessment
    grade = builder.single(root, f.GRADE, "icans_grade")
    if grade is not None:
        case["icans_grade"] = grade
    issues += reader.issues
    provenance = _provenance(reader.where)
    if any(i.severity == "error" for i in issues):
        return Reading(None, issues, provenance)
    try:
        report = ImagingReport.model_validate(case)
    except ValidationError as exc:
        issues.extend(issues_from_validation_error(exc, locate=provenance.locate))
        return Reading(None, issues, provenance)
    return Reading(report, issues, provenance)
