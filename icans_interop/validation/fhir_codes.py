"""Codes: ICD-10-CM existence and billability, well-formed SNOMED CT/LOINC codes, displays.

* ICD-10-CM (``http://hl7.org/fhir/sid/icd-10-cm``): the code must exist in the CDC tabular
  (``simple_icd_10_cm``, imported only when an ICD-10-CM coding is present: it takes ~1.5 s),
  chapters and blocks are not codes. Where the code is a *diagnosis* (``Condition.code``,
  ``DiagnosticReport.conclusionCode``) it should be billable, i.e. a leaf: ``G92.0`` is a
  category, ``G92.00``-``G92.05`` are billable. Billability is a reporting rule (ICD-10-CM
  Official Guidelines for Coding and Reporting, Section I.B.2 "Level of Detail in Coding":
  codes are reported at their highest number of characters), not an R4 conformance rule:
  an error for ICANS content (a G92.0 code) or when ``claims`` is set (profile ``icans``), a
  warning otherwise. A display that differs from the tabular
  description is a warning.
* SNOMED CT and LOINC: the check digit (Verhoeff, mod 10) and SNOMED partition must be right
  (:mod:`icans_interop.codecheck`); a malformed code certainly does not exist. A SNOMED CT
  code may be a post-coordinated expression (R4 snomedct.html, "SNOMED CT Expressions":
  ``71341001:272741003=7771000``): each concept id in it is checked.
* Codes of the mapping tables (SNOMED CT, LOINC, DCM, RadLex, HPO, UMLS, the local code
  system): a display that differs from the table's display, DICOM code meaning and label is
  a warning. Comparison ignores case, repeated spaces and a SNOMED semantic tag.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from types import ModuleType
from typing import Final

from icans_interop import codecheck, terminology
from icans_interop.issues import Issue, error, warning
from icans_interop.validation.fhir_structure import CodingVisit, Walk

#: Model paths where an ICD-10-CM code is a diagnosis and must be billable.
DIAGNOSIS_ELEMENTS: Final = frozenset({
    "Condition.code.coding",
    "DiagnosticReport.conclusionCode.coding",
})

_SEMANTIC_TAG: Final = re.compile(r"\s*\([a-z /]+\)$")

#: ICANS diagnoses (ICD-10-CM G92.0 and its grades): billability is always an error for them.
ICANS_CATEGORY: Final = "G92.0"


#: simple_icd_10_cm builds its tables when first used; a gateway validates in several worker
#: threads at once, and a second thread reading the half-built tables saw real codes (R25.1)
#: as unknown. The first load and use happen under this lock.
_ICD_LOCK: Final = threading.Lock()


@cache
def _icd() -> ModuleType:
    with _ICD_LOCK:
        import simple_icd_10_cm

        module: ModuleType = simple_icd_10_cm
        return module


def _norm(text: str) -> str:
    return " ".join(_SEMANTIC_TAG.sub("", text).split()).casefold()


#: Shape of an ICD-10-CM code (category, then up to four characters after the dot).
_ICD_SHAPE: Final = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")


@cache
def _icd_codes() -> frozenset[str]:
    """Every ICD-10-CM item, dotted and not (chapters and blocks fail the code shape)."""
    module = _icd()
    with _ICD_LOCK:
        codes = module.get_all_codes(True)
    return frozenset(codes) | frozenset(c.replace(".", "") for c in codes)


def icd10cm_problem(code: str) -> tuple[str, str] | None:
    """(issue code, reason) when an ICD-10-CM code does not exist, else None."""
    if not _ICD_SHAPE.match(code) or code not in _icd_codes():
        return "code-unknown", f"ICD-10-CM code {code!r} does not exist in the CDC tabular"
    return None


#: Characters of the SNOMED CT compositional grammar that a concept id never has.
_SCT_EXPRESSION: Final = re.compile(r"[:=+{},()]")
_SCT_TERM: Final = re.compile(r"\|[^|]*\||#-?[0-9.]+|\"[^\"]*\"")


def sct_problem(code: str) -> str | None:
    """Why a SNOMED CT code is malformed: a concept id, or an expression whose concept ids
    (terms ``|...|`` and concrete values ``#5`` aside) are each well formed."""
    if not _SCT_EXPRESSION.search(code):
        return codecheck.sctid_problem(code)
    ids = re.findall(r"[0-9]+", _SCT_TERM.sub(" ", code))
    if not ids:
        return "a SNOMED CT expression names concepts by their ids"
    for sctid in ids:
        found = codecheck.sctid_problem(sctid)
        if found is not None:
            return f"{sctid} in the expression: {found}"
    return None


def check(walk: Walk, claims: bool = False) -> list[Issue]:
    """Code issues of every Coding the walk found; ``claims`` makes billability an error for
    every diagnosis (profile ``icans``), not only for ICANS content."""
    issues: list[Issue] = []
    terms = terminology.load()
    for visit in walk.codings:
        node = visit.node
        system, code = node.get("system"), node.get("code")
        if not isinstance(system, str) or not isinstance(code, str):
            continue
        system = terminology.SYSTEM_ALIASES.get(system, system)
        display = node.get("display")
        display = display if isinstance(display, str) else None
        if system == terminology.ICD10CM:
            issues.extend(_icd_issues(visit, code, display, claims))
            continue
        problem = None
        if system == terminology.SNOMED:
            problem = sct_problem(code)
        elif system == terminology.LOINC:
            problem = codecheck.loinc_problem(code)
        if problem is not None:
            issues.append(error("code-unknown", f"{visit.path}.code",
                                f"{code!r} is not a valid {_system_name(system)} code: "
                                f"{problem}"))
            continue
        if display is None:
            continue
        concept = terms.lookup_fhir(system, code)
        if concept is None:
            continue
        expected = [c for c in concept.codings if c.system == system and c.code == code]
        allowed = {_norm(t) for c in expected for t in (c.display, c.dicom_meaning) if t}
        allowed.add(_norm(concept.label))
        if expected and _norm(display) not in allowed:
            issues.append(warning(
                "display-mismatch", f"{visit.path}.display",
                f"display {display!r} of {_system_name(system)} {code} differs from "
                f"{expected[0].display!r}"))
    return issues


def _icd_issues(visit: CodingVisit, code: str, display: str | None,
                claims: bool) -> list[Issue]:
    found = icd10cm_problem(code)
    if found is not None:
        return [error(found[0], f"{visit.path}.code", found[1])]
    icd = _icd()
    issues: list[Issue] = []
    if visit.element in DIAGNOSIS_ELEMENTS and not icd.is_leaf(code):
        children = list(icd.get_children(code))
        shown = ", ".join(children[:6])
        icans = code.replace(".", "").startswith(ICANS_CATEGORY.replace(".", ""))
        make = error if claims or icans else warning
        issues.append(make(
            "code-not-billable", f"{visit.path}.code",
            f"ICD-10-CM {code!r} ({icd.get_description(code)}) is a category, not a billable "
            f"code; a diagnosis in {visit.element.rsplit('.', 1)[0]} needs one of its "
            f"subcodes ({shown}{', ...' if len(children) > 6 else ''})"))
    if display is not None:
        description = icd.get_description(code)
        if _norm(display) != _norm(description):
            issues.append(warning(
                "display-mismatch", f"{visit.path}.display",
                f"display {display!r} of ICD-10-CM {code} differs from the CDC description "
                f"{description!r}"))
    return issues


def _system_name(system: str) -> str:
    return {terminology.SNOMED: "SNOMED CT", terminology.LOINC: "LOINC",
            terminology.DCM: "DICOM (DCM)", terminology.RADLEX: "RadLex",
            terminology.HPO: "HPO", terminology.UMLS: "UMLS",
            terminology.ICD10CM: "ICD-10-CM"}.get(system, system)
