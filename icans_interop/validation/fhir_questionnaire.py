"""A QuestionnaireResponse judged against its Questionnaire (R4 questionnaireresponse.html).

The Questionnaire is the one ``QuestionnaireResponse.questionnaire`` names (a canonical,
``url`` or ``url|version``; ``#id`` for a contained one), looked up among the resources of the
input (a Bundle's entries, contained resources) and the ``supporting`` resources the caller
passes to :func:`icans_interop.validation.fhir.validate_fhir`. When it is in neither, one
``not-checked`` information says so. FHIR R4 only.

Item by item (locations ``QuestionnaireResponse.item[0].answer[1]``...), following the rules
table ``data/fhir-questionnaire-rules.json``:

* each response item has a ``linkId`` the Questionnaire has at that place (among a group's
  items, or among a question's items when nested under its answer) -> ``response-mismatch``;
* only questions take answers, of the value type the item type gives (a choice: one of the
  answerOption value types); at most one answer
  unless the item repeats, at most ``questionnaire-maxOccurs``; one response item per linkId
  unless the item repeats; an ``questionnaire-optionExclusive`` option alone
  -> ``response-mismatch``;
* an answer among the ``answerOption`` values (a Coding by system and code) and a quantity in
  a ``questionnaire-unitOption`` unit -> ``not-in-value-set``;
* ``minValue``/``maxValue``, ``maxLength``/``minLength``, ``regex``, ``maxDecimalPlaces``,
  ``mimeType``, ``maxSize`` and the SDC ``minQuantity``/``maxQuantity`` (same unit only)
  -> ``invalid-value``;
* a required item that is enabled (``enableWhen`` evaluated on the response's answers) has an
  answer (a group: items), and a question has ``questionnaire-minOccurs`` answers
  -> ``missing-required``, when the response is ``completed`` or ``amended`` (an in-progress
  response may be incomplete).

A ``regex`` from the Questionnaire comes from the input, so it is applied only when its cost is
bounded: no quantified group and no backreference (what exponential backtracking needs), and an
answer of length ``n`` with ``n ** q`` at most :data:`MAX_REGEX_STEPS` for its ``q``
quantifiers (a backtracking match of such a pattern takes at most about that many steps);
otherwise it is reported as not checked.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any, Final

from icans_interop.issues import Issue, error, information
from icans_interop.validation.fhir_structure import ResourceCtx, Walk

JsonDict = dict[str, Any]

MISMATCH: Final = "response-mismatch"
#: Largest n ** q (answer length to the number of quantifiers) a regex is applied for.
MAX_REGEX_STEPS: Final = 10_000_000


@dataclass(frozen=True, slots=True)
class Rules:
    answer_types: dict[str, tuple[str, ...]]
    no_answers: frozenset[str]
    extensions: dict[str, str]


@cache
def rules() -> Rules:
    data = json.loads(resources.files("icans_interop.data").joinpath(
        "fhir-questionnaire-rules.json").read_text("utf-8"))
    return Rules({k: tuple(v) for k, v in data["answerTypes"].items()},
                 frozenset(data["noAnswers"]), dict(data["extensions"]))


def check(walk: Walk, supporting: Sequence[Any] = ()) -> list[Issue]:
    """Every QuestionnaireResponse of the walk against its Questionnaire."""
    if walk.version != "R4":
        return []
    responses = [r for r in walk.resources if r.type == "QuestionnaireResponse"]
    if not responses:
        return []
    questionnaires = _Questionnaires()
    questionnaires.add(r.data for r in walk.resources if r.type == "Questionnaire")
    questionnaires.add(_resources_in(supporting))
    issues: list[Issue] = []
    for response in responses:
        canonical = response.data.get("questionnaire")
        if not isinstance(canonical, str):
            continue
        questionnaire = questionnaires.find(canonical, response)
        if questionnaire is None:
            issues.append(information(
                "not-checked", f"{response.path}.questionnaire",
                f"the Questionnaire {canonical!r} is neither in the input nor supplied: the "
                "answers are not checked against it"))
            continue
        issues.extend(_Response(response, questionnaire).check())
    return issues


def _resources_in(items: Iterable[Any]) -> Iterable[JsonDict]:
    """Resources given as supporting input, with the entries of Bundles among them."""
    stack = [i for i in items if isinstance(i, dict)]
    while stack:
        item = stack.pop()
        yield item
        if item.get("resourceType") == "Bundle" and isinstance(item.get("entry"), list):
            stack.extend(e["resource"] for e in item["entry"]
                         if isinstance(e, dict) and isinstance(e.get("resource"), dict))


class _Questionnaires:
    def __init__(self) -> None:
        self.by_url: dict[str, list[JsonDict]] = {}

    def add(self, items: Iterable[JsonDict]) -> None:
        for item in items:
            if item.get("resourceType") == "Questionnaire" and isinstance(item.get("url"), str):
                self.by_url.setdefault(item["url"], []).append(item)

    def find(self, canonical: str, response: ResourceCtx) -> JsonDict | None:
        if canonical.startswith("#"):
            contained = response.root.data.get("contained")
            for item in contained if isinstance(contained, list) else []:
                if isinstance(item, dict) and item.get("resourceType") == "Questionnaire" and \
                        item.get("id") == canonical[1:]:
                    return item
            return None
        url, _, version = canonical.partition("|")
        found = self.by_url.get(url, [])
        if version:
            exact = [q for q in found if q.get("version") == version]
            found = exact or [q for q in found if "version" not in q]
        return found[0] if found else None


def _extensions(node: JsonDict) -> dict[str, list[JsonDict]]:
    """The extensions of a Questionnaire item (or option) that the rules table knows."""
    known = rules().extensions
    out: dict[str, list[JsonDict]] = {}
    for ext in node.get("extension", []) if isinstance(node.get("extension"), list) else []:
        if isinstance(ext, dict) and isinstance(ext.get("url"), str) and ext["url"] in known:
            out.setdefault(known[ext["url"]], []).append(ext)
    return out


def _value(node: JsonDict, prefix: str = "value") -> tuple[str, Any] | None:
    """The (key, value) of a node's ``value[x]`` (or ``answer[x]``)."""
    for key, value in node.items():
        if key.startswith(prefix) and key[len(prefix):len(prefix) + 1].isupper():
            return key, value
    return None


def _same(a: tuple[str, Any], b: tuple[str, Any]) -> bool:
    """Equal answer values: a Coding by system and code, a Quantity by value and unit."""
    (ka, va), (kb, vb) = a, b
    if ka.removeprefix("value").removeprefix("answer") != \
            kb.removeprefix("value").removeprefix("answer"):
        return False
    if isinstance(va, dict) and isinstance(vb, dict):
        if "code" in va or "code" in vb:  # a Coding, or a coded Quantity
            if va.get("code") != vb.get("code"):
                return False
            if "system" in va and "system" in vb and va["system"] != vb["system"]:
                return False
            return bool(va.get("value") == vb.get("value"))
        return bool(va.get("reference") == vb.get("reference"))
    return bool(va == vb)


def _order(a: Any, b: Any) -> int | None:
    """-1, 0, 1 comparing two answer values of one kind (numbers, or date/time strings, a
    shorter precision compared as a prefix), None when they are not comparable."""
    if isinstance(a, bool) or isinstance(b, bool):
        return None
    if isinstance(a, int | float) and isinstance(b, int | float):
        return (a > b) - (a < b)
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    return None


class _Response:
    """One QuestionnaireResponse and its Questionnaire."""

    def __init__(self, response: ResourceCtx, questionnaire: JsonDict) -> None:
        self.response = response
        self.questionnaire = questionnaire
        self.issues: list[Issue] = []
        self.strict = response.data.get("status") in ("completed", "amended")
        self.answers: dict[str, list[tuple[str, Any]]] = {}
        self._index(response.data.get("item"))
        #: The sibling lists from the response's top level down to the items being checked:
        #: where an enableWhen question is looked for first (nearest occurrence).
        self.scopes: list[list[JsonDict]] = []

    def _index(self, items: Any) -> None:
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            for answer in _list(item.get("answer")):
                found = _value(answer)
                if found is not None and isinstance(item.get("linkId"), str):
                    self.answers.setdefault(item["linkId"], []).append(found)
                self._index(answer.get("item"))
            self._index(item.get("item"))

    def check(self) -> list[Issue]:
        self.items(_list(self.questionnaire.get("item")), _list(self.response.data.get("item")),
                   self.response.path)
        return self.issues

    # -- one level of items ------------------------------------------------------------------

    def items(self, definitions: list[JsonDict], given: list[JsonDict], path: str) -> None:
        self.scopes.append(given)
        try:
            self._items(definitions, given, path)
        finally:
            self.scopes.pop()

    def _items(self, definitions: list[JsonDict], given: list[JsonDict], path: str) -> None:
        by_link = {d.get("linkId"): d for d in definitions if isinstance(d.get("linkId"), str)}
        seen: dict[str, int] = {}
        for index, item in enumerate(given):
            where = f"{path}.item[{index}]"
            link = item.get("linkId")
            if not isinstance(link, str):
                continue  # linkId is required: reported by the structure check
            definition = by_link.get(link)
            if definition is None:
                self.issues.append(error(
                    MISMATCH, where, f"linkId {link!r} is not an item of the Questionnaire "
                                     f"{self._name()} here"))
                continue
            if link in seen and definition.get("repeats") is not True:
                self.issues.append(error(
                    MISMATCH, where, f"item {link!r} does not repeat, so the response has one "
                                     f"item for it (item[{seen[link]}] is the first)"))
            seen.setdefault(link, index)
            self.item(definition, item, where)
        self.required(definitions, given, path)

    def required(self, definitions: list[JsonDict], given: list[JsonDict], path: str) -> None:
        if not self.strict:
            return
        for definition in definitions:
            link = definition.get("linkId")
            extensions = _extensions(definition)
            minimum = _integer(extensions.get("minOccurs"))
            if definition.get("required") is not True and not minimum:
                continue
            if self.enabled(definition) is not True:
                continue
            matched = [(i, g) for i, g in enumerate(given) if g.get("linkId") == link]
            where = f"{path}.item[{matched[0][0]}]" if matched else path
            group = definition.get("type") == "group"
            if group:
                count = sum(1 for _i, g in matched if _list(g.get("item")))
            else:
                count = sum(len(_list(g.get("answer"))) for _i, g in matched)
            label = f"{link!r}" + (f" ({definition['text']})"
                                   if isinstance(definition.get("text"), str) else "")
            if definition.get("required") is True and count == 0:
                self.issues.append(error(
                    "missing-required", where,
                    f"required item {label} has no {'items' if group else 'answer'} in this "
                    f"{self.response.data.get('status')} response"))
            elif minimum and not group and count < minimum:
                self.issues.append(error(
                    "missing-required", where,
                    f"item {label} needs at least {minimum} answers "
                    f"(questionnaire-minOccurs); this response has {count}"))

    # -- one item ----------------------------------------------------------------------------

    def item(self, definition: JsonDict, item: JsonDict, where: str) -> None:
        kind = definition.get("type")
        answers = _list(item.get("answer"))
        children = _list(definition.get("item"))
        if answers and isinstance(kind, str) and kind in rules().no_answers:
            self.issues.append(error(MISMATCH, where, f"an item of type {kind!r} has no "
                                                      "answers"))
        elif answers:
            self.answer_count(definition, answers, where)
            allowed = self.allowed_types(definition)
            for index, answer in enumerate(answers):
                self.answer(definition, allowed, answer, f"{where}.answer[{index}]")
                nested = _list(answer.get("item"))
                if nested:
                    self.items(children, nested, f"{where}.answer[{index}]")
        nested_items = _list(item.get("item"))
        if nested_items:
            self.items(children, nested_items, where)

    def answer_count(self, definition: JsonDict, answers: list[JsonDict], where: str) -> None:
        maximum = _integer(_extensions(definition).get("maxOccurs"))
        if definition.get("repeats") is not True and len(answers) > 1:
            self.issues.append(error(MISMATCH, where, f"item {definition.get('linkId')!r} does "
                                                      f"not repeat but has {len(answers)} "
                                                      "answers"))
        elif maximum is not None and len(answers) > maximum:
            self.issues.append(error(MISMATCH, where, f"at most {maximum} answers "
                                                      f"(questionnaire-maxOccurs); this item has "
                                                      f"{len(answers)}"))
        options = _list(definition.get("answerOption"))
        exclusive = [_value(o) for o in options if any(
            e.get("valueBoolean") is True for e in _extensions(o).get("optionExclusive", []))]
        if len(answers) > 1 and exclusive:
            for index, answer in enumerate(answers):
                found = _value(answer)
                if found is not None and any(x is not None and _same(found, x)
                                             for x in exclusive):
                    self.issues.append(error(
                        MISMATCH, f"{where}.answer[{index}]",
                        "this answer is an exclusive option (questionnaire-optionExclusive): "
                        "no other answer may be selected with it"))

    def allowed_types(self, definition: JsonDict) -> tuple[str, ...]:
        kind = definition.get("type")
        return rules().answer_types.get(kind if isinstance(kind, str) else "", ())

    def answer(self, definition: JsonDict, allowed: tuple[str, ...], answer: JsonDict,
               where: str) -> None:
        found = _value(answer)
        if found is None:
            return  # an answer with only nested items
        key, value = found
        if allowed and key not in allowed:
            self.issues.append(error(
                MISMATCH, f"{where}.{key}",
                f"answers to {definition.get('type')} items are "
                f"{' or '.join(a.removeprefix('value') for a in allowed)}, not "
                f"{key.removeprefix('value')}"))
            return
        self.options(definition, found, where)
        self.bounds(definition, key, value, f"{where}.{key}")

    def options(self, definition: JsonDict, found: tuple[str, Any], where: str) -> None:
        options = [v for o in _list(definition.get("answerOption"))
                   if (v := _value(o)) is not None]
        key = found[0]
        if definition.get("type") == "open-choice" and key == "valueString":
            return  # open-choice: a free-text answer besides the options
        if options and not any(_same(found, option) for option in options):
            self.issues.append(error(
                "not-in-value-set", f"{where}.{key}",
                f"{_shown(found[1])} is not one of the answerOption values of item "
                f"{definition.get('linkId')!r}"))

    def bounds(self, definition: JsonDict, key: str, value: Any, where: str) -> None:
        extensions = _extensions(definition)
        for rule, sign, word in (("minValue", -1, "below the minimum"),
                                 ("maxValue", 1, "above the maximum")):
            for ext in extensions.get(rule, []):
                limit = _value(ext)
                if limit is not None and _order(value, limit[1]) == sign:
                    self.issues.append(error("invalid-value", where,
                                             f"{_shown(value)} is {word} {_shown(limit[1])} "
                                             f"({rule})"))
        if isinstance(value, str) and key in ("valueString", "valueUri"):
            self.text_bounds(definition, extensions, value, where)
        if key == "valueDecimal" and isinstance(value, int | float) and \
                not isinstance(value, bool):
            places = _integer(extensions.get("maxDecimalPlaces"))
            found = _decimal_places(value)
            if places is not None and found > places:
                self.issues.append(error("invalid-value", where,
                                         f"{value} has {found} decimal places; at most "
                                         f"{places} (maxDecimalPlaces)"))
        if key == "valueAttachment" and isinstance(value, dict):
            self.attachment(extensions, value, where)
        if key == "valueQuantity" and isinstance(value, dict):
            self.quantity(extensions, value, where)

    def text_bounds(self, definition: JsonDict, extensions: dict[str, list[JsonDict]],
                    value: str, where: str) -> None:
        maximum = definition.get("maxLength")
        if isinstance(maximum, int) and not isinstance(maximum, bool) and len(value) > maximum:
            self.issues.append(error("invalid-value", where,
                                     f"{_shown(value)} has {len(value)} characters; at most "
                                     f"{maximum} (maxLength)"))
        minimum = _integer(extensions.get("minLength"))
        if minimum is not None and len(value) < minimum:
            self.issues.append(error("invalid-value", where,
                                     f"{_shown(value)} has {len(value)} characters; at least "
                                     f"{minimum} (minLength)"))
        for ext in extensions.get("regex", []):
            pattern = ext.get("valueString")
            if not isinstance(pattern, str):
                continue
            quantifiers = regex_quantifiers(pattern)
            if quantifiers is None or max(len(value), 2) ** quantifiers > MAX_REGEX_STEPS:
                self.issues.append(information(
                    "not-checked", where, f"regex {pattern!r} is not applied: it could "
                                          "backtrack without bound on this input"))
                continue
            try:
                compiled = re.compile(pattern, re.ASCII)
            except re.error as exc:
                self.issues.append(information("not-checked", where,
                                               f"regex {pattern!r} does not compile: {exc}"))
                continue
            if compiled.fullmatch(value) is None:
                self.issues.append(error("invalid-value", where,
                                         f"{_shown(value)} does not match the item's regex "
                                         f"{pattern!r}"))

    def attachment(self, extensions: dict[str, list[JsonDict]], value: JsonDict,
                   where: str) -> None:
        types = {e["valueCode"] for e in extensions.get("mimeType", [])
                 if isinstance(e.get("valueCode"), str)}
        content_type = value.get("contentType")
        if types and isinstance(content_type, str) and content_type not in types:
            self.issues.append(error("invalid-value", f"{where}.contentType",
                                     f"content type {content_type!r} is not one the item "
                                     f"allows ({', '.join(sorted(map(str, types)))}; mimeType)"))
        limits = [_value(e) for e in extensions.get("maxSize", [])]
        size = _attachment_size(value)
        for limit in limits:
            if limit is not None and size is not None and _order(size, limit[1]) == 1:
                self.issues.append(error("invalid-value", where,
                                         f"the attachment has {size} bytes; at most "
                                         f"{limit[1]} (maxSize)"))

    def quantity(self, extensions: dict[str, list[JsonDict]], value: JsonDict,
                 where: str) -> None:
        units: list[JsonDict] = [e["valueCoding"] for e in extensions.get("unitOption", [])
                                 if isinstance(e.get("valueCoding"), dict)]
        if units and not any(u.get("code") == value.get("code") and
                             u.get("system") == value.get("system") for u in units):
            self.issues.append(error(
                "not-in-value-set", where,
                f"unit {value.get('system')}|{value.get('code')} is not one of the item's "
                f"units ({', '.join(str(u.get('code')) for u in units)}; unitOption)"))
        for rule, sign, word in (("minQuantity", -1, "below"), ("maxQuantity", 1, "above")):
            for ext in extensions.get(rule, []):
                limit = ext.get("valueQuantity")
                if not isinstance(limit, dict) or limit.get("code") is None or \
                        (limit.get("code"), limit.get("system")) != \
                        (value.get("code"), value.get("system")):
                    continue  # other units: comparing needs a UCUM conversion
                if _order(value.get("value"), limit.get("value")) == sign:
                    self.issues.append(error(
                        "invalid-value", where,
                        f"{value.get('value')} {value.get('code')} is {word} "
                        f"{limit.get('value')} {limit.get('code')} ({rule})"))

    # -- enableWhen --------------------------------------------------------------------------

    def enabled(self, definition: JsonDict) -> bool | None:
        """Is the item enabled by its enableWhen (R4 Questionnaire.item.enableWhen), None when
        it cannot be told (an SDC enableWhenExpression)."""
        if "enableWhenExpression" in _extensions(definition):
            return None
        conditions = [c for c in _list(definition.get("enableWhen"))]
        if not conditions:
            return True
        results = [self.condition(c) for c in conditions]
        if definition.get("enableBehavior") == "any":
            return any(results)
        return all(results)

    def question_answers(self, link: str) -> list[tuple[str, Any]]:
        """The answers of the occurrence of question ``link`` nearest to the items being
        checked: R4 Questionnaire.item.enableWhen.question ("the nearest question occurrence
        reachable by tracing first the ancestor axis and then the preceding axis and then the
        following axis"). The sibling lists are searched from the innermost out, each with
        its items' descendants, so an item in one repeat of a group is enabled by the answers
        of that repeat, not of another."""
        for level in reversed(self.scopes):
            occurrences = list(_occurrences(level, link))
            if occurrences:
                return [found for item in occurrences for answer in _list(item.get("answer"))
                        if (found := _value(answer)) is not None]
        return self.answers.get(link, [])

    def condition(self, condition: JsonDict) -> bool:
        answers = self.question_answers(str(condition.get("question")))
        operator = condition.get("operator")
        expected = _value(condition, "answer")
        if expected is None:
            return False
        if operator == "exists":
            return bool(answers) == (expected[1] is True)
        if not answers:
            return False  # no answer: false for every operator but exists
        if operator == "=":
            return any(_same(a, expected) for a in answers)
        if operator == "!=":
            return not any(_same(a, expected) for a in answers)
        wanted = {">": (1,), "<": (-1,), ">=": (0, 1), "<=": (-1, 0)}.get(str(operator))
        if wanted is None:
            return False
        for _key, value in answers:
            left = value.get("value") if isinstance(value, dict) else value
            right = expected[1].get("value") if isinstance(expected[1], dict) else expected[1]
            if _order(left, right) in wanted:
                return True
        return False

    def _name(self) -> str:
        url = self.questionnaire.get("url")
        return repr(url) if isinstance(url, str) else "(no url)"


def regex_quantifiers(pattern: str) -> int | None:
    """The number of quantifiers of a regex outside character classes, or None when it has a
    quantified group or a backreference (its backtracking is not bounded by a power)."""
    count = 0
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            if not in_class and pattern[index + 1:index + 2].isdigit() and \
                    pattern[index + 1] != "0":
                return None  # a backreference
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern[index + 1:index + 2] == "]":
                index += 1  # a literal ] first in the class
        elif char in "*+?{":
            if index > 0 and pattern[index - 1] == ")" and char != "?":
                return None  # a quantified group
            if char == "?" and index > 0 and pattern[index - 1] in "*+?}(":
                index += 1
                continue  # a lazy quantifier or a group flag, not another quantifier
            count += 1
            if char == "{":
                end = pattern.find("}", index)
                index = end if end > 0 else index
        index += 1
    return count


def _occurrences(items: list[JsonDict], link: str) -> Iterable[JsonDict]:
    """The response items with linkId ``link`` among ``items`` and their descendants."""
    stack = list(reversed(items))
    while stack:
        item = stack.pop()
        if item.get("linkId") == link:
            yield item
        nested = _list(item.get("item"))
        for answer in _list(item.get("answer")):
            nested += _list(answer.get("item"))
        stack.extend(reversed(nested))


def _list(value: Any) -> list[JsonDict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _integer(extensions: list[JsonDict] | None) -> int | None:
    for ext in extensions or []:
        value = ext.get("valueInteger")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _decimal_places(value: int | float) -> int:
    try:
        exponent = Decimal(repr(value)).as_tuple().exponent
    except InvalidOperation:
        return 0
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _attachment_size(value: JsonDict) -> int | None:
    size = value.get("size")
    if isinstance(size, int) and not isinstance(size, bool):
        return size
    data = value.get("data")
    if isinstance(data, str):
        try:
            return len(base64.b64decode("".join(data.split()), validate=True))
        except (binascii.Error, ValueError):
            return None
    return None


def _shown(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
