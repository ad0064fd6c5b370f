"""FHIR narrative (``Narrative.div``): the XHTML rules of invariants txt-1 and txt-2.

Checked natively during the structure walk (:mod:`.fhir_structure`) rather than with FHIRPath:
txt-1's ``htmlChecks()`` is not a FHIRPath function any library implements.

The div is XML, not HTML: the only entities are XML's own five (``&amp;`` ``&lt;`` ``&gt;``
``&quot;`` ``&apos;``) and character references; an HTML entity such as ``&reg;`` or
``&nbsp;`` is undefined: the div is XHTML, i.e. XML (R4 narrative.html), and FHIR forbids a
DTD (R4 xml.html), so only XML's predefined entities exist (the HL7 validator errs).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any, Final

from icans_interop.issues import Issue, Severity, error, warning

INVARIANT_CODE: Final = "invariant-failed"

XHTML_NS: Final = "http://www.w3.org/1999/xhtml"
#: Elements FHIR narrative may not contain (active or external content, forms, frames).
_FORBIDDEN_ELEMENTS: Final = frozenset({
    "script", "style", "form", "input", "button", "select", "textarea", "iframe", "frame",
    "frameset", "object", "embed", "applet", "base", "link", "meta", "head", "body", "html",
    "title", "noscript", "svg", "math"})
_ACTIVE_ATTRIBUTE: Final = re.compile(r"^on", re.IGNORECASE)
_ENTITY: Final = re.compile(r"&([A-Za-z_:][A-Za-z0-9_:.\-]*);")
_XML_ENTITIES: Final = frozenset({"amp", "lt", "gt", "quot", "apos"})


def narrative_issues(div: Any, location: str, severity: Severity = "error") -> list[Issue]:
    """txt-1 (allowed XHTML) and txt-2 (some content) for one ``Narrative.div`` value."""
    if not isinstance(div, str):
        return []
    make = error if severity == "error" else warning
    if "<!DOCTYPE" in div.upper() or "<!ENTITY" in div.upper():
        return [make(INVARIANT_CODE, location,
                     "txt-1: the narrative SHALL be XHTML without a DOCTYPE or entity "
                     "declarations")]
    undefined = sorted({m.group(1) for m in _ENTITY.finditer(div)} - _XML_ENTITIES)
    if undefined:
        shown = ", ".join(f"&{name};" for name in undefined[:5])
        return [make(INVARIANT_CODE, location,
                     f"txt-1: the narrative uses the undefined entity {shown}: FHIR narrative "
                     "is XML, whose only entities are &amp; &lt; &gt; &quot; &apos; (write the "
                     "character itself or a character reference such as &#174;)")]
    try:
        root = ET.fromstring(div)
    except ET.ParseError as exc:
        return [make(INVARIANT_CODE, location,
                     f"txt-1: the narrative is not well-formed XHTML ({exc})")]
    problems: list[Issue] = []
    if root.tag != f"{{{XHTML_NS}}}div":
        problems.append(make(INVARIANT_CODE, location,
                             f"txt-1: the narrative root must be a <div> in the XHTML namespace "
                             f"{XHTML_NS}, found {root.tag!r}"))
    has_content = False
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""
        if tag.lower() in _FORBIDDEN_ELEMENTS:
            problems.append(make(INVARIANT_CODE, location,
                                 f"txt-1: the narrative contains a <{tag}> element, which FHIR "
                                 "narrative does not allow"))
        for attribute in element.attrib:
            name = attribute.rsplit("}", 1)[-1]
            if _ACTIVE_ATTRIBUTE.match(name):
                problems.append(make(INVARIANT_CODE, location,
                                     f"txt-1: the narrative has an event attribute {name!r} "
                                     f"on <{tag}>"))
        if tag == "img" or (element.text and element.text.strip()) or \
                (element is not root and element.tail and element.tail.strip()):
            has_content = True
    if not has_content:
        problems.append(make(INVARIANT_CODE, location,
                             "txt-2: the narrative SHALL have some non-whitespace content"))
    return problems
