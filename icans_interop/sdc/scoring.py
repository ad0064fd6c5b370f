"""Evaluate a Questionnaire's SDC variables and calculatedExpressions on a response (fhirpathpy).

This is what a form renderer does as the form is filled; the pre-filler uses it to write the
computed items (ICE total, domain grades) of the responses it makes, and the tests use it to
check the generated expressions against :func:`icans_interop.grading.compute_grade`.
Only what the generated Questionnaire uses is supported: root-level ``variable`` extensions
evaluated in order, and item ``calculatedExpression`` s, all with ``%resource`` = the response.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from icans_interop.formats import FhirVersion as Version
from icans_interop.sdc.questionnaire_writer import EXT_CALCULATED, EXT_VARIABLE, FHIRPATH

JsonDict = dict[str, Any]
Compiled = Callable[[Any, dict[str, Any]], list[Any]]


@lru_cache(maxsize=256)
def _compiled(expression: str, version: Version) -> Compiled:
    from fhirpathpy import compile as compile_fhirpath
    from fhirpathpy.models import models

    compiled: Compiled = compile_fhirpath(expression, models["r5" if version == "R5" else "r4"])
    return compiled


def _expression(extension: JsonDict) -> JsonDict | None:
    value = extension.get("valueExpression")
    if isinstance(value, dict) and value.get("language") == FHIRPATH:
        return value
    return None


def _calculated_items(items: list[JsonDict]) -> Iterator[tuple[str, str]]:
    for item in items:
        for extension in item.get("extension", []):
            value = _expression(extension) if extension.get("url") == EXT_CALCULATED else None
            if value is not None:
                yield item["linkId"], value["expression"]
        yield from _calculated_items(item.get("item", []))


def calculate(questionnaire: JsonDict, response: JsonDict,
              version: Version = "R4") -> dict[str, list[Any]]:
    """linkId -> value(s) of every calculated item of ``questionnaire`` for ``response``.

    An empty list means the expression gave no value (e.g. the ICE total while an ICE item is
    still unanswered).
    """
    env: dict[str, Any] = {"resource": response, "questionnaire": questionnaire}
    for extension in questionnaire.get("extension", []):
        value = _expression(extension) if extension.get("url") == EXT_VARIABLE else None
        if value is not None:
            env[value["name"]] = _compiled(value["expression"], version)(response, dict(env))
    return {link_id: _compiled(expression, version)(response, dict(env))
            for link_id, expression in _calculated_items(questionnaire.get("item", []))}
