"""Patient, Study, issued instant and fallback procedure from the SR header attributes.

A missing value the model requires (Patient ID, Study Instance UID, Study Date, Content Date
and Time) gives ``missing-required`` and None, so no report is made; a malformed optional value
is dropped with an ``invalid-value`` issue located at its attribute. The Timezone Offset From
UTC read here becomes the default zone of every DT value in the content tree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Final

from icans_interop.dicom import content as c
from icans_interop.dicom.reader_context import ReadContext, attr, concept_key, roles
from icans_interop.dicom.tree import first_code
from icans_interop.dicom.values import parse_date, parse_offset, parse_person_name, parse_time
from icans_interop.issues import error, information
from icans_interop.model import Patient, Study

#: Procedure Code Sequence (0008,1032) of the General Study module (a fallback procedure).
PROCEDURE_CODE_SEQUENCE: Final = 0x00081032

#: Header attribute of each Patient / Study field (issue locations).
_PATIENT_FIELDS: Final = {"id": c.PATIENT_ID, "id_issuer": c.ISSUER_OF_PATIENT_ID,
                          "family_name": c.PATIENT_NAME, "given_name": c.PATIENT_NAME,
                          "birth_date": c.PATIENT_BIRTH_DATE, "sex": c.PATIENT_SEX}
_STUDY_FIELDS: Final = {"instance_uid": c.STUDY_INSTANCE_UID, "date": c.STUDY_DATE,
                        "time": c.STUDY_TIME, "accession_number": c.ACCESSION_NUMBER,
                        "description": c.STUDY_DESCRIPTION,
                        "referring_physician": c.REFERRING_PHYSICIAN_NAME}


def _optional(ctx: ReadContext, data: dict[str, Any], field: str, tag: int,
              parse: Callable[[str], object], kind: str) -> None:
    """``data[field]`` parsed from an optional header attribute; malformed: dropped, issue."""
    text = ctx.header(tag)
    if text is not None:
        data[field] = parse(text)
        if data[field] is None:
            ctx.issue(error("invalid-value", attr(tag), f"{text!r} is not a {kind}; dropped"))


def read_patient(ctx: ReadContext) -> Patient | None:
    """The Patient module; None without a Patient ID."""
    data: dict[str, Any] = {"id": ctx.header(c.PATIENT_ID, required=True)}
    if data["id"] is None:
        return None
    data["id_issuer"] = ctx.header(c.ISSUER_OF_PATIENT_ID)
    name = ctx.header(c.PATIENT_NAME)
    if name is not None:
        parts = name.split("=")[0].split("^")  # alphabetic group: Family^Given^Middle...
        data["family_name"] = parts[0].strip() or None
        data["given_name"] = parts[1].strip() if len(parts) > 1 and parts[1].strip() else None
        if any(part.strip() for part in parts[2:]):
            ctx.issue(information("ignored-item", attr(c.PATIENT_NAME),
                                  f"name components after the given name in {name!r} "
                                  "are not carried by the model"))
    _optional(ctx, data, "birth_date", c.PATIENT_BIRTH_DATE, parse_date, "DA date")
    sex = ctx.header(c.PATIENT_SEX)
    if sex is not None:
        data["sex"] = sex
    return ctx.validated(Patient, {k: v for k, v in data.items() if v is not None},
                         attr(c.PATIENT_ID), _PATIENT_FIELDS)


def read_study(ctx: ReadContext) -> Study | None:
    """The General Study module; None without a Study Instance UID or a valid Study Date."""
    uid = ctx.header(c.STUDY_INSTANCE_UID, required=True)
    date_text = ctx.header(c.STUDY_DATE, required=True)
    if uid is None or date_text is None:
        return None
    date = parse_date(date_text)
    if date is None:
        ctx.issue(error("invalid-value", attr(c.STUDY_DATE),
                        f"{date_text!r} is not a DA date"))
        return None
    data: dict[str, Any] = {"instance_uid": uid, "date": date}
    _optional(ctx, data, "time", c.STUDY_TIME, parse_time, "TM time")
    data["accession_number"] = ctx.header(c.ACCESSION_NUMBER)
    data["description"] = ctx.header(c.STUDY_DESCRIPTION)
    data["referring_physician"] = parse_person_name(ctx.header(c.REFERRING_PHYSICIAN_NAME))
    return ctx.validated(Study, {k: v for k, v in data.items() if v is not None},
                         attr(c.STUDY_INSTANCE_UID), _STUDY_FIELDS)


def read_issued(ctx: ReadContext) -> dt.datetime | None:
    """Content Date/Time with the Timezone Offset From UTC (UTC when absent); sets ``ctx.tz``."""
    date_text = ctx.header(c.CONTENT_DATE, required=True)
    time_text = ctx.header(c.CONTENT_TIME, required=True)
    if date_text is None or time_text is None:
        return None
    date, time = parse_date(date_text), parse_time(time_text)
    if date is None or time is None:
        ctx.issue(error("invalid-value", attr(c.CONTENT_DATE),
                        f"Content Date/Time {date_text!r} {time_text!r} malformed"))
        return None
    offset_text = ctx.header(c.TIMEZONE_OFFSET_FROM_UTC)
    tz = None if offset_text is None else parse_offset(offset_text)
    if tz is None:
        ctx.issue(information("assumed-value", attr(c.TIMEZONE_OFFSET_FROM_UTC),
                              f"no usable offset ({offset_text!r}); Content Date/Time "
                              "read as UTC"))
        tz = dt.UTC
    ctx.tz = tz
    return dt.datetime.combine(date, time, tzinfo=tz)


def header_procedure(ctx: ReadContext) -> str | None:
    """A known procedure from Performed Procedure Code Sequence or Procedure Code Sequence."""
    for tag in (c.PERFORMED_PROCEDURE_CODE_SEQUENCE, PROCEDURE_CODE_SEQUENCE):
        code = first_code(ctx.ds, tag)
        if code is not None:
            key = concept_key(code.scheme, code.value)
            if key is not None and roles()[key] == "procedure":
                return key
    return None
