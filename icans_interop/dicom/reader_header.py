"""Patient, Study, issued instant and fallback procedure from the SR header attributes.

A missing value the model requires (Patient ID, Study Instance UID, Study Date, Content Date
and Time) gives ``missing-required`` and None, so no report is made; a malformed optional value
is dropped with an ``invalid-value`` issue located at its attribute. The Timezone Offset From
UTC read here becomes the default zone of every DT value in the content tree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Final

from icans_interop.dicom import tags
from icans_interop.dicom.reader_context import ReadContext, attr, concept_key, roles
from icans_interop.dicom.values import parse_date, parse_offset, parse_person_name, parse_time
from icans_interop.issues import error, information
from icans_interop.model import Patient, Study

#: Header attribute of each Patient / Study field (issue locations).
_PATIENT_FIELDS: Final = {"id": tags.PATIENT_ID, "id_issuer": tags.ISSUER_OF_PATIENT_ID,
                          "id_system": tags.ISSUER_OF_PATIENT_ID_QUALIFIERS_SEQUENCE,
                          "family_name": tags.PATIENT_NAME, "given_name": tags.PATIENT_NAME,
                          "birth_date": tags.PATIENT_BIRTH_DATE, "sex": tags.PATIENT_SEX}
_STUDY_FIELDS: Final = {"instance_uid": tags.STUDY_INSTANCE_UID, "date": tags.STUDY_DATE,
                        "time": tags.STUDY_TIME, "accession_number": tags.ACCESSION_NUMBER,
                        "description": tags.STUDY_DESCRIPTION,
                        "referring_physician": tags.REFERRING_PHYSICIAN_NAME}


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
    data: dict[str, Any] = {"id": ctx.header(tags.PATIENT_ID, required=True)}
    if data["id"] is None:
        return None
    data["id_issuer"] = ctx.header(tags.ISSUER_OF_PATIENT_ID)
    data["id_system"] = _issuer_system(ctx)
    name = ctx.header(tags.PATIENT_NAME)
    if name is not None:
        parts = name.split("=")[0].split("^")  # alphabetic group: Family^Given^Middle...
        data["family_name"] = parts[0].strip() or None
        data["given_name"] = parts[1].strip() if len(parts) > 1 and parts[1].strip() else None
        if any(part.strip() for part in parts[2:]):
            ctx.issue(information("ignored-item", attr(tags.PATIENT_NAME),
                                  f"name components after the given name in {name!r} "
                                  "are not carried by the model"))
    _optional(ctx, data, "birth_date", tags.PATIENT_BIRTH_DATE, parse_date, "DA date")
    sex = ctx.header(tags.PATIENT_SEX)
    if sex is not None:
        data["sex"] = sex
    patient = ctx.validated(Patient, {k: v for k, v in data.items() if v is not None},
                            attr(tags.PATIENT_ID), _PATIENT_FIELDS)
    _record(ctx, "patient", patient, _PATIENT_FIELDS)
    return patient


def _issuer_system(ctx: ReadContext) -> str | None:
    """The identifier namespace of the Patient ID as a URI (Issuer of Patient ID Qualifiers:
    an ISO Universal Entity ID becomes ``urn:oid:``, a URI stays as it is)."""
    items = ctx.parsed.items(ctx.ds, tags.ISSUER_OF_PATIENT_ID_QUALIFIERS_SEQUENCE)
    if not items:
        return None
    entity = ctx.string(items[0], tags.UNIVERSAL_ENTITY_ID)
    kind = ctx.string(items[0], tags.UNIVERSAL_ENTITY_ID_TYPE)
    if entity is None:
        return None
    if kind == "ISO":
        return f"urn:oid:{entity}"
    if kind in ("URI", "URL") or ":" in entity:
        return entity
    ctx.issue(information("ignored-item", attr(tags.ISSUER_OF_PATIENT_ID_QUALIFIERS_SEQUENCE),
                          f"Universal Entity ID {entity!r} of type {kind!r} is not a URI or "
                          "an OID; not carried"))
    return None


def read_status(ctx: ReadContext, data: dict[str, Any]) -> None:
    """Status, verifying observer and revision from the SR Document General module.

    VERIFIED is ``final`` (``amended`` when its Instance Number, the revision, is above 1);
    UNVERIFIED is ``preliminary``.
    """
    revision_text = ctx.header(tags.INSTANCE_NUMBER)
    revision = 1
    if revision_text is not None:
        try:
            revision = int(revision_text)
        except ValueError:
            revision = 0
        if not 1 <= revision <= 9999:
            ctx.issue(information("assumed-value", attr(tags.INSTANCE_NUMBER),
                                  f"Instance Number {revision_text!r} is not a revision "
                                  "1-9999; read as revision 1"))
            revision = 1
        else:
            ctx.provenance.record("revision", attr(tags.INSTANCE_NUMBER))
    data["revision"] = revision
    flag = ctx.header(tags.VERIFICATION_FLAG)
    verifiers = ctx.parsed.items(ctx.ds, tags.VERIFYING_OBSERVER_SEQUENCE)
    if flag == "VERIFIED" and verifiers:
        name = parse_person_name(ctx.string(verifiers[0], tags.VERIFYING_OBSERVER_NAME))
        organization = ctx.string(verifiers[0], tags.VERIFYING_ORGANIZATION)
        if name is not None:
            data["verifying_observer"] = {"name": name, "organization": organization}
            ctx.provenance.record("verifying_observer", attr(tags.VERIFYING_OBSERVER_SEQUENCE))
            data["status"] = "amended" if revision > 1 else "final"
            ctx.provenance.record("status", attr(tags.VERIFICATION_FLAG))
            return
    if flag == "VERIFIED":
        ctx.issue(error("missing-required", attr(tags.VERIFYING_OBSERVER_SEQUENCE),
                        "VERIFIED without a verifying observer name; read as preliminary"))
    data["status"] = "preliminary"
    if flag is not None:
        ctx.provenance.record("status", attr(tags.VERIFICATION_FLAG))


def read_study(ctx: ReadContext) -> Study | None:
    """The General Study module; None without a Study Instance UID or a valid Study Date."""
    uid = ctx.header(tags.STUDY_INSTANCE_UID, required=True)
    date_text = ctx.header(tags.STUDY_DATE, required=True)
    if uid is None or date_text is None:
        return None
    date = parse_date(date_text)
    if date is None:
        ctx.issue(error("invalid-value", attr(tags.STUDY_DATE),
                        f"{date_text!r} is not a DA date"))
        return None
    data: dict[str, Any] = {"instance_uid": uid, "date": date}
    _optional(ctx, data, "time", tags.STUDY_TIME, parse_time, "TM time")
    data["accession_number"] = ctx.header(tags.ACCESSION_NUMBER)
    data["description"] = ctx.header(tags.STUDY_DESCRIPTION)
    data["referring_physician"] = parse_person_name(ctx.header(tags.REFERRING_PHYSICIAN_NAME))
    study = ctx.validated(Study, {k: v for k, v in data.items() if v is not None},
                          attr(tags.STUDY_INSTANCE_UID), _STUDY_FIELDS)
    _record(ctx, "study", study, _STUDY_FIELDS)
    return study


def _record(ctx: ReadContext, base: str, value: Patient | Study | None,
            fields: Mapping[str, int]) -> None:
    """Provenance of the header fields that made it into the model."""
    if value is None:
        return
    for field, tag in fields.items():
        if getattr(value, field, None) is not None:
            ctx.provenance.record(f"{base}.{field}", attr(tag))


def read_issued(ctx: ReadContext) -> dt.datetime | None:
    """Content Date/Time with the Timezone Offset From UTC (UTC when absent); sets ``ctx.tz``."""
    date_text = ctx.header(tags.CONTENT_DATE, required=True)
    time_text = ctx.header(tags.CONTENT_TIME, required=True)
    if date_text is None or time_text is None:
        return None
    date, time = parse_date(date_text), parse_time(time_text)
    if date is None or time is None:
        ctx.issue(error("invalid-value", attr(tags.CONTENT_DATE),
                        f"Content Date/Time {date_text!r} {time_text!r} malformed"))
        return None
    offset_text = ctx.header(tags.TIMEZONE_OFFSET_FROM_UTC)
    tz = None if offset_text is None else parse_offset(offset_text)
    if tz is None:
        ctx.issue(information("assumed-value", attr(tags.TIMEZONE_OFFSET_FROM_UTC),
                              f"no usable offset ({offset_text!r}); Content Date/Time "
                              "read as UTC"))
        tz = dt.UTC
    ctx.tz = tz
    ctx.provenance.record("issued", attr(tags.CONTENT_DATE))
    return dt.datetime.combine(date, time, tzinfo=tz)


def header_procedure(ctx: ReadContext) -> str | None:
    """A known procedure from Performed Procedure Code Sequence or Procedure Code Sequence."""
    for tag in (tags.PERFORMED_PROCEDURE_CODE_SEQUENCE, tags.PROCEDURE_CODE_SEQUENCE):
        code = ctx.parsed.first_code(ctx.ds, tag)
        if code is not None:
            key = concept_key(code.scheme, code.value)
            if key is not None and roles()[key] == "procedure":
                ctx.provenance.record("procedure", attr(tag))
                return key
    return None
