"""Rules of R4 datatypes that neither FHIRPath invariants nor the primitive rules express.

* ``Attachment.size`` is "the number of bytes of data that make up this content (before
  base64 encoding, if that is done)" (R4 Attachment.size): with ``data`` present, it must be
  the length of the decoded data.
* ``Coding.system`` identifies a code system by an absolute URI (R4 terminologies.html: a
  code system is identified by its canonical URL, or a ``urn:oid:``/``urn:uuid:``; a local or
  relative reference is not a code system), and a URL of the R4 ``ValueSet`` namespace
  (``http://hl7.org/fhir/ValueSet/...``) names a value set, not a code system.

The HL7 validator reports each as an error.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from icans_interop.issues import Issue, error
from icans_interop.validation.fhir_primitives import base64_matches
from icans_interop.validation.fhir_structure import Walk

#: Datatypes whose nodes the walk records for this module.
TYPES: Final = frozenset({"Attachment"})
#: A URI with a scheme (RFC 3986 section 3.1): absolute.
ABSOLUTE_URI: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
VALUE_SET_NAMESPACE: Final = "http://hl7.org/fhir/ValueSet/"
_ASCII_SPACE: Final = re.compile(rb"\s+")


def check(walk: Walk) -> list[Issue]:
    issues: list[Issue] = []
    for visit in walk.typed:
        if visit.type_path == "Attachment":
            issues.extend(_attachment(visit.node, visit.path))
    for coding in walk.codings:
        system = coding.node.get("system")
        if not isinstance(system, str) or not system.strip():
            continue
        where = f"{coding.path}.system"
        if not ABSOLUTE_URI.match(system):
            issues.append(error(
                "invalid-value", where,
                f"Coding.system {system!r} is not an absolute URI: a code system is named by "
                "its canonical URL (or urn:oid:/urn:uuid:), not a local reference"))
        elif system.startswith(VALUE_SET_NAMESPACE):
            issues.append(error(
                "invalid-value", where,
                f"Coding.system {system!r} names a value set, not a code system (give the "
                "system of the code; a value set only selects codes)"))
    return issues


def _attachment(node: dict[str, object], path: str) -> list[Issue]:
    data, size = node.get("data"), node.get("size")
    if not isinstance(data, str) or isinstance(size, bool) or not isinstance(size, int):
        return []
    if not base64_matches(data):
        return []  # reported by the primitive rules
    try:
        decoded = base64.b64decode(_ASCII_SPACE.sub(b"", data.encode("ascii")), validate=True)
    except (binascii.Error, ValueError):
        return []
    if len(decoded) == size:
        return []
    return [error("invalid-value", f"{path}.size",
                  f"Attachment.size is {size} but its data decodes to {len(decoded)} bytes "
                  "(R4 Attachment.size: the number of bytes before base64 encoding)")]
