"""The form (:mod:`.form`) written as a FHIR SDC Questionnaire, R4 or R5.

Every coded answer is an ``answerOption.valueCoding`` with the first FHIR coding of its concept
(standard codes before local ones: the coding the FHIR writer puts first in its
CodeableConcepts); every item that stands for a concept carries all its FHIR codings in
``item.code``. Live scoring uses the SDC ``variable`` and ``calculatedExpression`` extensions
generated in :mod:`.expressions`. What is written is checked with fhir.resources
(``fhir.resources.R4B`` for R4, ``fhir.resources`` for R5) before it is returned.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Final

from icans_interop import knowledge, terminology
from icans_interop.formats import FhirVersion as Version
from icans_interop.sdc import form as f

JsonDict = dict[str, Any]

CANONICAL_BASE: Final = terminology.LOCAL_SYSTEM.rsplit("/CodeSystem/", 1)[0]
QUESTIONNAIRE_ID: Final = "icans-mri-report"
QUESTIONNAIRE_URL: Final = f"{CANONICAL_BASE}/Questionnaire/{QUESTIONNAIRE_ID}"

# Extension URLs: FHIR core (R4/R5 questionnaire extensions) and the SDC IG.
EXT_MIN_VALUE: Final = "http://hl7.org/fhir/StructureDefinition/minValue"
EXT_MAX_VALUE: Final = "http://hl7.org/fhir/StructureDefinition/maxValue"
EXT_REGEX: Final = "http://hl7.org/fhir/StructureDefinition/regex"
EXT_HIDDEN: Final = "http://hl7.org/fhir/StructureDefinition/questionnaire-hidden"
EXT_ITEM_CONTROL: Final = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
EXT_CHOICE_ORIENTATION: Final = (
    "http://hl7.org/fhir/StructureDefinition/questionnaire-choiceOrientation")
EXT_VARIABLE: Final = "http://hl7.org/fhir/StructureDefinition/variable"
EXT_CALCULATED: Final = (
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression")
ITEM_CONTROL_SYSTEM: Final = "http://hl7.org/fhir/questionnaire-item-control"
FHIRPATH: Final = "text/fhirpath"

#: Choice lists up to this long are shown as radio buttons / check boxes, longer ones as a
#: drop-down list.
_SHORT_LIST: Final = 12


def software_version() -> str:
    """The installed icans-interop version: the Questionnaire's ``version``."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("icans-interop")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"


def option_coding(item: f.FormItem, key: str) -> JsonDict:
    """The answer coding of the option ``key`` of a choice item."""
    fixed = f.FIXED_CHOICES.get(item.role or "")
    if fixed is not None:
        system, codes = fixed
        code, display = codes[key]
        return {"system": system, "code": code, "display": display}
    coding = terminology.load().concept(key).fhir_codings()[0]
    return {"system": coding.system, "code": coding.code, "display": coding.display}


def concept_codings(key: str) -> list[JsonDict]:
    return [{"system": c.system, "code": c.code, "display": c.display}
            for c in terminology.load().concept(key).fhir_codings()]


def _expression(expression: str, name: str | None = None) -> JsonDict:
    value: JsonDict = {"language": FHIRPATH, "expression": expression}
    if name is not None:
        value = {"name": name, **value}
    return value


def _item_control(code: str) -> JsonDict:
    return {"url": EXT_ITEM_CONTROL, "valueCodeableConcept": {
        "coding": [{"system": ITEM_CONTROL_SYSTEM, "code": code}]}}


def _extensions(item: f.FormItem) -> list[JsonDict]:
    out: list[JsonDict] = []
    if item.hidden:
        out.append({"url": EXT_HIDDEN, "valueBoolean": True})
    if item.min_value is not None:
        out.append({"url": EXT_MIN_VALUE, "valueInteger": item.min_value})
    if item.max_value is not None:
        out.append({"url": EXT_MAX_VALUE, "valueInteger": item.max_value})
    if item.regex is not None:
        out.append({"url": EXT_REGEX, "valueString": item.regex})
    if item.calculated is not None:
        out.append({"url": EXT_CALCULATED, "valueExpression": _expression(item.calculated)})
    if item.type == "choice" and len(item.options) <= _SHORT_LIST:
        out.append(_item_control("check-box" if item.repeats else "radio-button"))
        if not item.repeats:
            out.append({"url": EXT_CHOICE_ORIENTATION, "valueCode": "horizontal"})
    return out


def _enable_when(item: f.FormItem, index: dict[str, f.FormItem]) -> JsonDict:
    condition = item.enable_when
    assert condition is not None
    clause: JsonDict = {"question": condition.question, "operator": "="}
    if isinstance(condition.answer, bool):
        clause["answerBoolean"] = condition.answer
    else:
        clause["answerCoding"] = option_coding(index[condition.question], condition.answer)
    return clause


def _item(item: f.FormItem, version: Version, index: dict[str, f.FormItem]) -> JsonDict:
    out: JsonDict = {"linkId": item.link_id}
    extensions = _extensions(item)
    if extensions:
        out = {"extension": extensions, **out}
    if item.code_key is not None:
        out["code"] = concept_codings(item.code_key)
    out["text"] = item.text
    if item.type == "choice" and version == "R5":
        out["type"] = "coding"
    else:
        out["type"] = item.type
    if item.enable_when is not None:
        out["enableWhen"] = [_enable_when(item, index)]
    if item.required:
        out["required"] = True
    if item.repeats:
        out["repeats"] = True
    if item.read_only:
        out["readOnly"] = True
    if item.max_length is not None:
        out["maxLength"] = item.max_length
    if item.type == "choice":
        if version == "R5":
            out["answerConstraint"] = "optionsOnly"
        out["answerOption"] = [{"valueCoding": option_coding(item, key)} for key in item.options]
    if item.children:
        out["item"] = [_item(child, version, index) for child in item.children]
    return out


@lru_cache(maxsize=2)
def _questionnaire_json(version: Version) -> str:
    if version not in ("R4", "R5"):
        raise ValueError(f"version must be 'R4' or 'R5', not {version!r}")
    form = f.form()
    index = form.index()
    entry = knowledge.load()
    data: JsonDict = {
        "resourceType": "Questionnaire",
        "id": QUESTIONNAIRE_ID,
        "extension": [{"url": EXT_VARIABLE, "valueExpression": _expression(v.expression, v.name)}
                      for v in form.variables],
        "url": QUESTIONNAIRE_URL,
        "version": software_version(),
        "name": "IcansMriReport",
        "title": "ICANS brain MRI report and neurological assessment",
        "status": "active",
        "subjectType": ["Patient"],
        "publisher": terminology.LOCAL_SCHEME_RESPONSIBLE,
        "description": (
            f"Structured report of the imaging patterns of {entry.title} and of the ASTCT 2019 "
            "ICANS grading, generated by icans-interop from its knowledge entry and mapping "
            "tables. The ICE total and the grade are computed as the form is filled."),
        "item": [_item(item, version, index) for item in form.items],
    }
    check(data, version)
    return json.dumps(data, ensure_ascii=False)


def questionnaire(version: Version = "R4") -> JsonDict:
    """The SDC Questionnaire as FHIR JSON (a fresh dict each call)."""
    result: JsonDict = json.loads(_questionnaire_json(version))
    return result


def canonical() -> str:
    """``url|version`` of the Questionnaire, for ``QuestionnaireResponse.questionnaire``."""
    return f"{QUESTIONNAIRE_URL}|{software_version()}"


def check(data: JsonDict, version: Version) -> None:
    """Parse ``data`` with the fhir.resources model of its type; raises when it is invalid."""
    resource_type = data["resourceType"]
    module_name = resource_type.lower()
    if version == "R5":
        module = __import__(f"fhir.resources.{module_name}", fromlist=[resource_type])
    else:
        module = __import__(f"fhir.resources.R4B.{module_name}", fromlist=[resource_type])
    getattr(module, resource_type).model_validate(data)


def to_json(data: JsonDict) -> str:
    """Indented JSON text of a resource, UTF-8 friendly."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
