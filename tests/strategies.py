"""Hypothesis strategies for whole :class:`ImagingReport` s, shared by the SR and FHIR tests.

Reports are built through the model (``ImagingReport.model_validate`` on case-file dicts), so
every concept key is valid for its role and the model's ``derive`` step fills tracking ids and
UIDs that a finding leaves out (most generated findings do; some carry explicit ones).

Text is Unicode, including non-Latin scripts, but stays inside what both formats can carry
faithfully: no control characters, and in DICOM person-name parts no ``^``, ``=`` or ``\\``
(component separators), no ``\\`` in other short strings (value separator). Family and given
names are at most 31 bytes each so ``Family^Given`` fits a 64-byte PN group; other short
strings respect their VR's limit in UTF-8 bytes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from icans_interop import terminology
from icans_interop.model import ICE_ITEMS, Finding, ImagingReport

_TERMS = terminology.load()

#: Letters, digits, punctuation, symbols and spaces from every script (no Cc/Cs/Co/Cn).
_CHARACTERS = st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S", "Zs"],
                            exclude_characters="\\^=")
#: Non-Latin samples so small examples still exercise multi-byte UTF-8.
_NON_LATIN = st.sampled_from(["山田", "太郎", "Иванов", "Ольга", "محمد", "Σωκράτης", "김민준",
                              "Zoë", "Łukasz", "Nguyễn", "אברהם", "श्रुति"])


def _fit(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` bytes of UTF-8, stripped."""
    while len(text.encode("utf-8")) > max_bytes:
        text = text[:-1]
    return text.strip()


def _text(max_bytes: int) -> st.SearchStrategy[str]:
    """Stripped, non-empty text of at most ``max_bytes`` UTF-8 bytes (DICOM SH/LO/PN limits
    are checked in bytes by dciodvfy, so non-Latin text gets fewer characters)."""
    free = st.text(_CHARACTERS, min_size=1, max_size=max_bytes)
    return (free | _NON_LATIN).map(lambda s: _fit(s.strip(), max_bytes)).filter(bool)


def _uid() -> st.SearchStrategy[str]:
    parts = st.lists(st.integers(0, 10**6), min_size=1, max_size=4)
    return parts.map(lambda p: "1.2.826.0.1.3680043.10.1412." + ".".join(map(str, p)))


#: UTC offsets, including ones DICOM cannot write (the writer then uses UTC).
_ZONES = st.sampled_from([
    dt.UTC, dt.timezone(dt.timedelta(hours=1)), dt.timezone(dt.timedelta(hours=-5, minutes=-30)),
    dt.timezone(dt.timedelta(hours=9)), dt.timezone(dt.timedelta(hours=14)),
    dt.timezone(dt.timedelta(hours=-12)), dt.timezone(dt.timedelta(hours=5, minutes=17,
                                                                   seconds=23)),
])


def aware_datetimes() -> st.SearchStrategy[dt.datetime]:
    return st.datetimes(min_value=dt.datetime(1950, 1, 1), max_value=dt.datetime(2099, 12, 31),
                        timezones=_ZONES)


def _keys(role: str) -> st.SearchStrategy[str]:
    return st.sampled_from(_TERMS.keys(role))


def person_names() -> st.SearchStrategy[str]:
    """A PN string: ``Family`` or ``Family^Given``."""
    part = _text(31)
    return part | st.builds(lambda family, given: f"{family}^{given}", part, part)


@st.composite
def findings(draw: st.DrawFn) -> dict[str, Any]:
    """A finding as a case-file dict (every role; identifiers mostly left to ``derive``)."""
    finding: dict[str, Any] = {
        "pattern": draw(_keys("pattern")),
        "sites": draw(st.lists(_keys("anatomy"), max_size=3)),
        "distribution": draw(st.lists(_keys("distribution"), max_size=2)),
        "signals": draw(st.lists(st.fixed_dictionaries(
            {"sequence": _keys("mr_sequence"), "signal": _keys("signal")}), max_size=3)),
    }
    for field, role in (("laterality", "laterality"), ("number", "number"),
                        ("morphology", "morphology")):
        value = draw(st.none() | _keys(role))
        if value is not None:
            finding[field] = value
    if draw(st.integers(0, 4)) == 0:  # explicit identifiers now and then
        finding["tracking_id"] = draw(_text(64))
        finding["tracking_uid"] = draw(_uid())
        finding["observation_uid"] = draw(_uid())
    return finding


@st.composite
def assessments(draw: st.DrawFn) -> dict[str, Any]:
    ice = draw(st.none() | st.fixed_dictionaries(
        {field: st.integers(0, maximum) for field, _key, maximum in ICE_ITEMS}))
    assessment: dict[str, Any] = {
        "consciousness": draw(_keys("consciousness")),
        "seizure": draw(_keys("seizure_status")),
        "motor": draw(_keys("motor_status")),
        "icp_findings": draw(st.lists(_keys("icp_finding"), max_size=3)),
        "signs": draw(st.lists(_keys("clinical_sign"), max_size=4)),
    }
    if ice is not None:
        assessment["ice"] = ice
    when = draw(st.none() | aware_datetimes())
    if when is not None:
        assessment["assessed_at"] = when
    return assessment


def _optional(draw: st.DrawFn, data: dict[str, Any], field: str,
              strategy: st.SearchStrategy[Any]) -> None:
    value = draw(st.none() | strategy)
    if value is not None:
        data[field] = value


@st.composite
def report_dicts(draw: st.DrawFn, max_findings: int = 20) -> dict[str, Any]:
    """A case-file dict (what ``load_case`` accepts), every field exercised."""
    patient: dict[str, Any] = {"id": draw(_text(64))}
    _optional(draw, patient, "id_issuer", _text(64))
    _optional(draw, patient, "family_name", _text(31))
    _optional(draw, patient, "given_name", _text(31))
    _optional(draw, patient, "birth_date", st.dates(dt.date(1900, 1, 1), dt.date(2099, 12, 31)))
    _optional(draw, patient, "sex", st.sampled_from(["M", "F", "O"]))
    study: dict[str, Any] = {"instance_uid": draw(_uid()),
                             "date": draw(st.dates(dt.date(1950, 1, 1), dt.date(2099, 12, 31)))}
    _optional(draw, study, "accession_number", _text(16))
    _optional(draw, study, "time", st.times())
    _optional(draw, study, "description", _text(64))
    _optional(draw, study, "referring_physician", person_names())
    data: dict[str, Any] = {
        "patient": patient,
        "study": study,
        "issued": draw(aware_datetimes()),
        "procedure": draw(_keys("procedure")),
        "findings": draw(st.lists(findings(), max_size=max_findings)),
    }
    _optional(draw, data, "impression", st.text(
        st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Co", "Cn"])
        | st.sampled_from("\t\n\r"), min_size=1, max_size=300).map(str.strip).filter(bool))
    _optional(draw, data, "observer_name", person_names())
    _optional(draw, data, "assessment", assessments())
    _optional(draw, data, "icans_grade", st.integers(0, 5))
    _identity_and_status(draw, data)
    return data


#: Identifier namespaces as hospitals write them (OID URNs and URLs).
_ID_SYSTEMS = st.sampled_from(["urn:oid:2.16.840.1.113883.19.5", "urn:oid:1.2.3.4.5.6",
                               "https://hospital.example.org/mrn", "http://ehr.example/ids/mrn"])


def _identity_and_status(draw: st.DrawFn, data: dict[str, Any]) -> None:
    """Status, verifier, revision and the patient identifier's namespace: a verified status
    (final, amended) always with a verifier and organization (a verified SR needs both), a
    preliminary one (stated or left to the default) never with one."""
    _optional(draw, data["patient"], "id_system", _ID_SYSTEMS)
    status = draw(st.sampled_from(["preliminary", "final", "amended", None]))
    if status in ("final", "amended"):
        data["verifying_observer"] = {"name": draw(person_names()),
                                      "organization": draw(_text(64))}
    if status is not None and (status != "final" or draw(st.booleans())):
        data["status"] = status  # final is also the default with a verifier
    # An SR tells an amendment only by its predecessor: amended is revision 2 or later, and
    # a verified revision after the first reads back as amended (so final is revision 1).
    if status == "amended":
        data["revision"] = draw(st.integers(2, 9999))
    elif status != "final":  # preliminary, stated or by default: any revision
        _optional(draw, data, "revision", st.integers(1, 9999))


@st.composite
def _built(draw: st.DrawFn, data: dict[str, Any]) -> ImagingReport:
    """The report from its dict, its findings given as dicts or as :class:`Finding` models
    (the model derives the same identifiers either way)."""
    if draw(st.booleans()):
        data = {**data, "findings": [Finding.model_validate(f) for f in data["findings"]]}
    return ImagingReport.model_validate(data)


def imaging_reports(max_findings: int = 20) -> st.SearchStrategy[ImagingReport]:
    """Valid reports: 0..``max_findings`` findings, all roles, Unicode names, every status a
    DICOM SR can carry, revisions; findings built as dicts or as models."""
    return report_dicts(max_findings).flatmap(_built)
