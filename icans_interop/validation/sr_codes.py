"""Code level of SR validation: every Code Sequence item of the file.

For each item of any ``...CodeSequence`` (concept names, coded values, units, header codes):

* the Code Sequence Macro (PS3.3 Table 8.8-1): a Code Value (or Long Code Value, or URN Code
  Value), a Coding Scheme Designator (unless URN) and a Code Meaning must be present;
* the Coding Scheme Designator must be one of PS3.16 Table 8-1 (``data/coding-schemes.csv``) or
  be declared in the Coding Scheme Identification Sequence (0008,0110) (``unknown-scheme``,
  once per designator). A private designator (``99`` prefix, PS3.3 8.2) that is not declared
  is a *warning* under profile ``base``, as dciodvfy reports it (DCMTK is silent), and an error
  under ``icans``; any other undeclared designator (``RadLex`` for ``RADLEX``, ``CST4``) is an
  error under both: no receiver can tell which scheme it names;
* a ``DCM`` code must exist in PS3.16 (pydicom's ``Collection("DCM")``, plus the DCM
  codes the template table cites from later editions) (``code-unknown``);
* an ``SCT`` code must be a well-formed SNOMED CT concept id (partition, Verhoeff check digit)
  and an ``LN`` code a well-formed LOINC code (mod-10 check digit) (``code-unknown``); a
  well-formed id that pydicom's subset does not list is *not* reported;
* the Code Meaning of a DCM or SCT code that PS3.16 lists must be one of PS3.16's meanings for
  it, ignoring case and a SNOMED semantic tag such as ``(qualifier value)``
  (``display-mismatch``, a warning).

Results are cached per (value, scheme, meaning) bytes, so repeated codes cost a dict lookup.
"""

from __future__ import annotations

import csv
import io
import re
from functools import lru_cache
from importlib import resources

from pydicom.sr.codedict import Collection

from icans_interop import codecheck
from icans_interop.dicom import tags
from icans_interop.dicom.part10 import Item, Parsed, decode
from icans_interop.issues import Severity
from icans_interop.validation.sr_tree import Report, Tree

_SEMANTIC_TAG = re.compile(r"\s*\([a-z][a-z /-]*\)$")

Finding = tuple[Severity, str, str]  # (severity, issue code, message)


@lru_cache(maxsize=1)
def standard_schemes() -> frozenset[str]:
    """Coding Scheme Designators of PS3.16 Table 8-1 (``data/coding-schemes.csv``)."""
    raw = resources.files("icans_interop.data").joinpath("coding-schemes.csv").read_text("utf-8")
    schemes = frozenset(row["designator"] for row in csv.DictReader(io.StringIO(raw)))
    if not schemes:
        raise ValueError("data/coding-schemes.csv lists no coding scheme")
    return schemes


@lru_cache(maxsize=1)
def _standard_meanings() -> dict[str, dict[str, frozenset[str]]]:
    """scheme -> code -> meanings (casefolded, semantic tag removed), from pydicom's PS3.16
    concept collections, plus the DCM codes the template table cites from later editions."""
    from icans_interop.validation.sr_template import known_dcm_codes

    result: dict[str, dict[str, set[str]]] = {}
    for scheme in ("DCM", "SCT"):
        table = result.setdefault(scheme, {})
        for code in Collection(scheme).concepts.values():
            table.setdefault(code.value, set()).add(_normal(code.meaning))
    for value in known_dcm_codes():
        result["DCM"].setdefault(value, set())
    return {scheme: {code: frozenset(m) for code, m in codes.items()}
            for scheme, codes in result.items()}


def _normal(meaning: str) -> str:
    return _SEMANTIC_TAG.sub("", meaning.strip()).casefold()


@lru_cache(maxsize=65536)
def code_findings(value: bytes | None, scheme: bytes | None, meaning: bytes | None,
                  long_value: bool, urn: bool) -> tuple[Finding, ...]:
    """Problems of one code triple (cached: the same bytes always give the same answer)."""
    findings: list[Finding] = []
    code = decode(value) if value is not None else None
    designator = decode(scheme) if scheme is not None else None
    text = decode(meaning) if meaning is not None else None
    if code is None and not long_value and not urn:
        findings.append(("error", "missing-required", "the code item has no Code Value (nor "
                                                      "Long Code Value / URN Code Value)"))
    if designator is None and not urn:
        findings.append(("error", "missing-required", "the code item has no Coding Scheme "
                                                      "Designator"))
    if text is None:
        findings.append(("error", "missing-required", "the code item has no Code Meaning"))
    if code is None or designator is None:
        return tuple(findings)
    shown = f'({code}, {designator}, "{text or ""}")'
    if designator == "SCT":
        problem = codecheck.sctid_problem(code)
        if problem is not None:
            findings.append(("error", "code-unknown", f"{shown}: {code!r} is not a SNOMED CT "
                                                        f"concept id ({problem})"))
            return tuple(findings)
    elif designator == "LN":
        problem = codecheck.loinc_problem(code)
        if problem is not None:
            findings.append(("error", "code-unknown", f"{shown}: {code!r} is not a LOINC code "
                                                        f"({problem})"))
            return tuple(findings)
    meanings = _standard_meanings()
    if designator == "DCM":
        known = meanings["DCM"].get(code)
        if known is None:
            findings.append(("error", "code-unknown",
                             f"{shown}: DCM code {code} is not defined in PS3.16 (DICOM "
                             "Controlled Terminology)"))
            return tuple(findings)
    elif designator == "SCT":
        known = meanings["SCT"].get(code)
    else:
        known = None
    if known and text is not None and _normal(text) not in known:
        expected = " or ".join(sorted(repr(m) for m in known))
        findings.append(("warning", "display-mismatch",
                         f"{shown}: the Code Meaning differs from PS3.16 ({expected}, ignoring "
                         "case)"))
    return tuple(findings)


def declared_schemes(parsed: Parsed) -> frozenset[str]:
    """Designators declared in the Coding Scheme Identification Sequence."""
    found = set()
    for item in parsed.items(parsed.dataset, tags.CODING_SCHEME_IDENTIFICATION_SEQUENCE):
        designator = parsed.text(item, tags.CODING_SCHEME_DESIGNATOR)
        if designator is not None:
            found.add(designator)
    return frozenset(found)


#: Coding Scheme Designators of private or local schemes start with "99" (PS3.3 8.2).
PRIVATE_PREFIX = "99"


def check(parsed: Parsed, tree: Tree | None, report: Report, profile: str) -> None:
    """Check every code item of the file (``profile`` is ``base`` or ``icans``)."""
    declared = declared_schemes(parsed)
    unknown: dict[str, tuple[_Emit, int]] = {}  # designator -> (first place, uses)
    for code_item, _owner, _seq_tag in parsed.code_items:
        value = code_item.get(tags.CODE_VALUE)
        scheme = code_item.get(tags.CODING_SCHEME_DESIGNATOR)
        meaning = code_item.get(tags.CODE_MEANING)
        raw_value = value[1] if value is not None and isinstance(value[1], bytes) else None
        raw_scheme = scheme[1] if scheme is not None and isinstance(scheme[1], bytes) else None
        raw_meaning = (meaning[1] if meaning is not None and isinstance(meaning[1], bytes)
                       else None)
        findings = code_findings(raw_value, raw_scheme, raw_meaning,
                                 tags.LONG_CODE_VALUE in code_item,
                                 tags.URN_CODE_VALUE in code_item)
        designator = decode(raw_scheme) if raw_scheme is not None else None
        scheme_unknown = (designator is not None and designator not in standard_schemes()
                          and designator not in declared)
        if not findings and not scheme_unknown:
            continue
        emit = _emitter(parsed, tree, report, code_item)
        for severity, code, message in findings:
            emit(severity, code, message)
        if scheme_unknown and designator is not None:
            first = unknown.get(designator)
            unknown[designator] = (emit if first is None else first[0],
                                   1 if first is None else first[1] + 1)
    for designator, (emit, uses) in unknown.items():
        others = f" ({uses - 1} more code items use it)" if uses > 1 else ""
        if designator.startswith(PRIVATE_PREFIX):
            private: Severity = "warning" if profile == "base" else "error"
            emit(private, "unknown-scheme",
                 f"private Coding Scheme Designator {designator!r} is not declared in the "
                 f"Coding Scheme Identification Sequence (0008,0110), so a receiver cannot "
                 f"tell which scheme it names (PS3.3 8.2, C.12.1){others}")
        else:
            emit("error", "unknown-scheme",
                 f"Coding Scheme Designator {designator!r} is neither in PS3.16 Table 8-1 nor "
                 f"declared in the Coding Scheme Identification Sequence (0008,0110), nor "
                 f"a private ('99'-prefixed) designator{others}")


def _emitter(parsed: Parsed, tree: Tree | None, report: Report, code_item: Item
             ) -> _Emit:
    owner = tree.owner_node(code_item) if tree is not None else None
    if owner is None:
        return _Emit(report, -1, parsed.header_location(code_item), "")
    index, content_item = owner
    where = parsed.attribute_path(code_item, content_item, None)
    return _Emit(report, index, "", where)


class _Emit:
    def __init__(self, report: Report, node: int, location: str, where: str) -> None:
        self.report = report
        self.node = node
        self.location = location
        self.where = where

    def __call__(self, severity: Severity, code: str, message: str) -> None:
        text = f"{self.where}: {message}" if self.where else message
        if self.node >= 0:
            self.report.node(severity, code, self.node, text)
        else:
            self.report.at(severity, code, self.location, text)


