"""FHIRPath for the form's live scoring, generated from the grading tables of :mod:`.grading`.

No expression is written per table cell: each domain's grade is built from its table in
:data:`icans_interop.grading.DOMAINS` (a chain of ``iif`` tests, highest grade first, each
testing whether the item's answer is one of the codes of that grade), the ICE domain from
:data:`~icans_interop.grading.ICE_BANDS` and the unarousable rule, and the overall grade as the
maximum over the domains. A test evaluates the expressions with fhirpathpy on generated
QuestionnaireResponses and compares them with :func:`icans_interop.grading.compute_grade` on
every cell of the ASTCT table; the browser test shows LHC-Forms (fhirpath.js) agreeing.

Expressions read answers through ``%resource`` (the QuestionnaireResponse being filled), by
``linkId``, so they work in any SDC renderer that supports the ``variable`` and
``calculatedExpression`` extensions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from icans_interop import grading, terminology
from icans_interop.model import ICE_ITEMS
from icans_interop.sdc import form as f

# Variable names are FHIR ids (letters, digits, '-', '.') and FHIRPath identifiers: camelCase.
PERFORMED_VAR = "assessmentPerformed"
ICE_TOTAL_VAR = "iceTotal"
UNAROUSABLE_VAR = "unarousable"
GRADE_VAR = "icansGrade"


def domain_var(domain: str) -> str:
    """``gradeIce``, ``gradeIcpEdema``: the variable holding one ASTCT domain's grade."""
    return "grade" + "".join(part.capitalize() for part in domain.split("_"))


def literal(text: str) -> str:
    """A FHIRPath string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def answers(link_id: str) -> str:
    """The answer values of the item ``link_id`` anywhere in the response."""
    return f"%resource.repeat(item).where(linkId = {literal(link_id)}).answer.value"


def answered_with(link_id: str, keys: Iterable[str]) -> str:
    """True when an answer of ``link_id`` is a coding of one of the concepts ``keys``.

    Every coding of each concept counts (system and code compared), so an answer coded with
    any code the mapping tables give the concept is recognised.
    """
    by_system: dict[str, list[str]] = {}
    terms = terminology.load()
    for key in keys:
        for coding in terms.concept(key).codings:
            by_system.setdefault(coding.system, []).append(coding.code)
    tests = [f"(system = {literal(system)} and code in ({' | '.join(map(literal, codes))}))"
             for system, codes in by_system.items()]
    return f"{answers(link_id)}.where({' or '.join(tests)}).exists()"


def table_grade(link_id: str, table: Mapping[str, int], default: int) -> str:
    """Grade of a coded domain: the highest grade of its answers, ``default`` when none match."""
    expression = str(default)
    for grade in sorted({g for g in table.values() if g != default}):
        keys = [key for key, g in table.items() if g == grade]
        expression = f"iif({answered_with(link_id, keys)}, {grade}, {expression})"
    return expression


def ice_total() -> str:
    """Sum of the eight ICE items; empty until every item is answered."""
    return " + ".join(f"{answers(key)}" for _field, key, _max in ICE_ITEMS)


def ice_domain_grade() -> str:
    """Grade of the ICE domain from the bands, with the unarousable rule first."""
    score = f"%{ICE_TOTAL_VAR}"
    bands = list(grading.ICE_BANDS)
    expression = str(bands[-1][1])
    for lowest, grade in reversed(bands[:-1]):
        expression = f"iif({score} >= {lowest}, {grade}, {expression})"
    expression = f"iif({score}.empty(), {grading.ICE_NOT_DONE_GRADE}, {expression})"
    return (f"iif(%{UNAROUSABLE_VAR} and ({score}.empty() or {score} = 0), "
            f"{grading.UNAROUSABLE_ICE_GRADE}, {expression})")


def overall_grade() -> str:
    """The highest domain grade, only when the assessment was performed."""
    levels = {grade for _lowest, grade in grading.ICE_BANDS} | {grading.UNAROUSABLE_ICE_GRADE}
    for _name, _field, table in grading.DOMAINS:
        if table is not None:
            levels |= set(table.values())
    domain_vars = [f"%{domain_var(name)}" for name, _field, _table in grading.DOMAINS]
    expression = "0"
    for level in sorted(g for g in levels if g > 0):
        test = " or ".join(f"{v} >= {level}" for v in domain_vars)
        expression = f"iif({test}, {level}, {expression})"
    return f"iif(%{PERFORMED_VAR}, {expression})"


def variables() -> tuple[f.Variable, ...]:
    """The Questionnaire's variables, in evaluation order."""
    out = [f.Variable(PERFORMED_VAR, f"{answers(f.PERFORMED)}.where($this = true).exists()"),
           f.Variable(ICE_TOTAL_VAR, ice_total()),
           f.Variable(UNAROUSABLE_VAR,
                      answered_with(f.domain_item_id("consciousness"), [grading.UNAROUSABLE]))]
    for name, model_field, table in grading.DOMAINS:
        if table is None:
            out.append(f.Variable(domain_var(name), ice_domain_grade()))
            continue
        default = f.model_default(model_field)
        out.append(f.Variable(domain_var(name), table_grade(
            f.domain_item_id(model_field), table, table[default] if default else 0)))
    out.append(f.Variable(GRADE_VAR, overall_grade()))
    return tuple(out)


def calculated() -> dict[str, str]:
    """linkId -> calculatedExpression of the computed items."""
    out = {f.ICE_TOTAL: f"%{ICE_TOTAL_VAR}", f.GRADE: f"%{GRADE_VAR}"}
    for name, _field, _table in grading.DOMAINS:
        out[f.domain_grade_id(name)] = f"%{domain_var(name)}"
    return out
