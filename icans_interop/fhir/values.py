"""FHIR primitive values from model values and back: instants, dates, UIDs, person names.

Writer and reader keep each conversion next to its inverse so they cannot drift apart:

* instants are ISO 8601 with the offset in whole minutes (UTC as ``Z``, as fhir.resources
  writes it); the reader accepts any dateTime with a time and a zone;
* study date/time: DICOM study times are local times without an offset, a FHIR dateTime with a
  time needs one, so the report's (issued) offset is used and readers take the wall-clock time
  back;
* DICOM UIDs are written ``urn:oid:<uid>`` (system ``urn:dicom:uid``); the prefix is stripped
  on reading and the rest must be a UID of at most 64 characters;
* a DICOM PN (``Family^Given^Middle^Prefix^Suffix``) becomes a HumanName of family, given,
  prefix and suffix (one without ``^`` is ``text``); a PN with ideographic or phonetic groups
  becomes one HumanName per group, marked with the EN.representation extension.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from icans_interop.fhir.codes import JsonDict
from icans_interop.model import ImagingReport

_PARTIAL_DATE = re.compile(r"^[0-9]{4}(-[0-9]{2})?$")


def as_dict(value: Any) -> JsonDict | None:
    """``value`` if it is a JSON object, else None (input may hold anything anywhere)."""
    return value if isinstance(value, dict) else None


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else an empty list."""
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    """``value`` if it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


# --------------------------------------------------------------------------------------------
# Date and time


def iso(value: dt.datetime) -> str:
    """ISO 8601 text as fhir.resources writes it (UTC as ``Z``)."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def instant(value: dt.datetime) -> str:
    """FHIR instant/dateTime text of an aware datetime (offset in whole minutes)."""
    offset = value.utcoffset()
    if offset is not None and offset.total_seconds() % 60:
        value = value.astimezone(dt.UTC)
    return iso(value)


def study_datetime(report: ImagingReport) -> str:
    """Study date/time as FHIR dateTime (the issued offset stands in for the missing one)."""
    study = report.study
    if study.time is None:
        return study.date.isoformat()
    moment = dt.datetime.combine(study.date, study.time.replace(tzinfo=None),
                                 tzinfo=study.time.tzinfo or report.issued.tzinfo)
    offset = moment.utcoffset()
    if offset is not None and offset.total_seconds() % 60:
        moment = moment.replace(tzinfo=dt.UTC)  # keep the wall-clock time FHIR readers see
    return iso(moment)


def parse_date(value: Any) -> dt.date | None:
    """A full FHIR date (``YYYY-MM-DD``), else None."""
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def is_partial_date(value: Any) -> bool:
    """True for a FHIR date with only a year or a year and month."""
    return isinstance(value, str) and _PARTIAL_DATE.match(value) is not None


def parse_instant(value: Any) -> dt.datetime | None:
    """An aware datetime from FHIR instant/dateTime text with a time and a zone, else None."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


# --------------------------------------------------------------------------------------------
# Identifiers


def uid_value(uid: str) -> str:
    """Identifier.value of a DICOM UID (``urn:oid:<uid>``)."""
    return f"urn:oid:{uid}"


def strip_oid(value: str) -> str:
    """``value`` without a leading ``urn:oid:`` (any case)."""
    return value[8:] if value.lower().startswith("urn:oid:") else value


# --------------------------------------------------------------------------------------------
# Person names


#: ISO 21090 EN.representation: which DICOM PN component group a HumanName is.
EN_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
#: DICOM PN component groups in order: alphabetic, ideographic, phonetic (PS3.5 6.2.1.2).
_GROUPS = ("ABC", "IDE", "SYL")


def split_person_name(name: str) -> JsonDict:
    """HumanName of one DICOM PN component group (``Family^Given^Middle^Prefix^Suffix``):
    family, given, prefix and suffix parts; a name without ``^`` (one free-text name) is
    ``text``."""
    parts = name.split("^")
    if len(parts) == 1:
        return {"text": name}
    human: JsonDict = {}
    if parts[0]:
        human["family"] = parts[0]
    given = [p for p in parts[1:3] if p]
    if given:
        human["given"] = given
    if len(parts) > 3 and parts[3]:
        human["prefix"] = [parts[3]]
    if len(parts) > 4 and parts[4]:
        human["suffix"] = [parts[4]]
    if not human:
        return {"text": name}
    if person_name(human) != name.rstrip("^"):
        # the parts cannot say it (a middle name without a given name, ``Doe^^Q``): the
        # DICOM form is kept in ``text``, which :func:`person_name` then prefers
        human["text"] = name
    return human


def human_names(name: str) -> list[JsonDict]:
    """The HumanNames of a DICOM PN: one per component group. A name with ideographic or
    phonetic groups (``Yamada^Tarou=山田^太郎=やまだ^たろう``) marks each with the
    EN.representation extension (ABC, IDE, SYL), as FHIR represents them."""
    groups = name.split("=")[:3]
    if len(groups) == 1:
        return [split_person_name(name)]
    names = []
    for group, code in zip(groups, _GROUPS, strict=False):
        if group:
            names.append({"extension": [{"url": EN_REPRESENTATION, "valueCode": code}],
                          **split_person_name(group)})
    return names


def person_name(name: JsonDict) -> str | None:
    """DICOM PN text of one HumanName (one component group): from its parts, else its
    ``text``."""
    text = as_str(name.get("text"))
    if not any(name.get(part) for part in ("family", "given", "prefix", "suffix")):
        return text
    if text is not None and "^" in text:
        return text  # the DICOM form, kept where the parts lose something (see above)
    family = as_str(name.get("family")) or ""
    given = [g for g in as_list(name.get("given")) if isinstance(g, str)]
    prefix = [p for p in as_list(name.get("prefix")) if isinstance(p, str)]
    suffix = [s for s in as_list(name.get("suffix")) if isinstance(s, str)]
    parts = [family, given[0] if given else "", " ".join(given[1:]), " ".join(prefix),
             " ".join(suffix)]
    pn = "^".join(parts).rstrip("^")
    return pn or None


def _representation(name: JsonDict) -> str | None:
    for extension in as_list(name.get("extension")):
        if isinstance(extension, dict) and extension.get("url") == EN_REPRESENTATION:
            code = extension.get("valueCode")
            return code if code in _GROUPS else None
    return None


def person_name_of(names: list[Any]) -> str | None:
    """DICOM PN of a resource's HumanNames (the inverse of :func:`human_names`): the groups
    marked ABC/IDE/SYL joined with ``=``; without marks, the first name that has one."""
    candidates = [n for n in names if isinstance(n, dict)]
    groups: dict[str, str] = {}
    for name in candidates:
        code = _representation(name)
        pn = person_name(name)
        if code is not None and pn and code not in groups:
            groups[code] = pn
    if not groups:
        return next((pn for n in candidates if (pn := person_name(n))), None)
    return "=".join(groups.get(code, "") for code in _GROUPS).rstrip("=") or None
