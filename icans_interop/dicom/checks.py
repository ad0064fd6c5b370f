"""Refuse report values DICOM cannot carry faithfully, before anything is built.

The model accepts any text; the SR attributes do not. :func:`check_report` raises
:class:`~.values.EncodingError` for a backslash in a Patient ID, ``^`` or ``=`` inside a name
part, SH/LO/PN values over their limit (counted in UTF-8 bytes, as dciodvfy counts them),
control characters, text not encodable as UTF-8, and an aware study time (TM has no offset).
Code Meanings are not checked: :func:`.content.fit_lo` shortens long local displays instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from icans_interop.dicom.content import MAX_LO
from icans_interop.dicom.values import cannot_write, format_person_name, patient_name
from icans_interop.model import ImagingReport

#: Characters a value of that kind cannot carry: VR value separator, PN component/group
#: separators inside one name part, and C0/C1 control characters (text keeps TAB LF FF CR).
_PN_PART_FORBIDDEN = re.compile(r"[\\^=\x00-\x1f\x7f-\x9f]")
_PN_FORBIDDEN = re.compile(r"[\\\x00-\x1f\x7f-\x9f]")
_LO_FORBIDDEN = re.compile(r"[\\\x00-\x1f\x7f-\x9f]")
_TEXT_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


def _encoded_length(value: str) -> int:
    """Length in bytes as written (UTF-8 when not ASCII): dciodvfy and many readers check
    SH/LO/PN limits in bytes, so multi-byte text must fit the limit in bytes."""
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return len(value) * 4


def _check_lo(field: str, value: str | None, max_len: int = MAX_LO) -> None:
    if value is None:
        return
    if _LO_FORBIDDEN.search(value):
        raise cannot_write(field, value, "backslash or control character")
    if _encoded_length(value) > max_len:
        raise cannot_write(field, value, f"longer than {max_len} bytes (UTF-8)")


def _check_pn(field: str, value: str | None) -> None:
    if value is None:
        return
    if _PN_FORBIDDEN.search(value):
        raise cannot_write(field, value, "backslash or control character")
    if any(_encoded_length(group) > MAX_LO
           for group in format_person_name(value).split("=")):
        raise cannot_write(field, value, "a name component group is longer than 64 bytes "
                                         "(UTF-8)")


def _check_text(field: str, value: str | None) -> None:
    if value is not None and _TEXT_FORBIDDEN.search(value):
        raise cannot_write(field, value, "control character")


def check_uid(field: str, value: str) -> None:
    """Raise :class:`~.values.EncodingError` unless ``value`` is a UID (PS3.5 9.1)."""
    if len(value) > 64 or not _UID.match(value):
        raise cannot_write(field, value, "not a valid UID")


def report_strings(report: ImagingReport) -> Iterator[str]:
    """Every free-text value of the report (for checks and the character set)."""
    patient, study = report.patient, report.study
    verifier = report.verifying_observer
    for value in (patient.id, patient.id_issuer, patient.id_system, patient.family_name,
                  patient.given_name, study.accession_number, study.description,
                  study.referring_physician, report.impression, report.observer_name,
                  verifier.name if verifier else None,
                  verifier.organization if verifier else None):
        if value is not None:
            yield value
    for finding in report.findings:
        if finding.tracking_id is not None:
            yield finding.tracking_id


def check_report(report: ImagingReport) -> None:
    """Raise :class:`~.values.EncodingError` for values DICOM cannot carry faithfully."""
    patient, study = report.patient, report.study
    _check_lo("patient.id", patient.id)
    _check_lo("patient.id_issuer", patient.id_issuer)
    for field, part in (("patient.family_name", patient.family_name),
                        ("patient.given_name", patient.given_name)):
        if part is not None and _PN_PART_FORBIDDEN.search(part):
            raise cannot_write(field, part,
                               "'^', '=', backslash or control character in a name part")
    _check_pn("patient name", patient_name(patient))
    _check_lo("study.accession_number", study.accession_number, 16)
    _check_lo("study.description", study.description)
    _check_pn("study.referring_physician", study.referring_physician)
    _check_pn("observer_name", report.observer_name)
    if report.verifying_observer is not None:
        _check_pn("verifying_observer.name", report.verifying_observer.name)
        _check_lo("verifying_observer.organization", report.verifying_observer.organization)
    if study.time is not None and study.time.tzinfo is not None:
        raise cannot_write("study.time", study.time.isoformat(), "DICOM TM has no UTC offset")
    _check_text("impression", report.impression)
    for index, finding in enumerate(report.findings, start=1):
        _check_text(f"findings[{index}].tracking_id", finding.tracking_id)
    for value in report_strings(report):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise cannot_write("text", value, "not encodable as UTF-8") from exc
