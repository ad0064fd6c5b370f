"""read(write(r)) == r for every valid fixture and for generated reports, R4 and R5,
transaction and collection bundles, through models, dicts and JSON text."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icans_interop import fhir, terminology
from icans_interop.model import ICE_ITEMS, ImagingReport, load_case

FIXTURES = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "valid").glob("*.json"))
COMBINATIONS = [(v, k) for v in ("R4", "R5") for k in ("transaction", "collection")]


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
@pytest.mark.parametrize(("version", "kind"), COMBINATIONS)
def test_fixture_round_trip(path: Path, version: Any, kind: Any) -> None:
    report = load_case(path.read_text(encoding="utf-8"))
    bundle = fhir.write(report, version=version, bundle=kind)
    assert fhir.read(bundle) == (report, [])
    assert fhir.read(fhir.to_json(bundle)) == (report, [])
    assert fhir.read(fhir.write_json(report, version=version, bundle=kind)) == (report, [])


def test_there_are_fixtures() -> None:
    assert len(FIXTURES) >= 1


# ---------------------------------------------------------------------------------------------
# Generated reports. tests/strategies.py (shared with the SR tests) is used when present.

_terms = terminology.load()
_text = st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]),
                min_size=1, max_size=20).map(str.strip).filter(bool)
#: Person names (PN): text with at least one character that is not a delimiter.
_name = _text.filter(lambda s: bool(s.replace("^", "").replace("=", "").strip()))
_uid = st.lists(st.integers(0, 99_999), min_size=2, max_size=6).map(
    lambda parts: "1.2." + ".".join(str(p) for p in parts))
_offsets = st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=1)),
                            dt.timezone(dt.timedelta(hours=-5, minutes=-30)),
                            dt.timezone(dt.timedelta(hours=9)),
                            dt.timezone(dt.timedelta(hours=5, minutes=17, seconds=23))])
_aware = st.datetimes(min_value=dt.datetime(1950, 1, 1), max_value=dt.datetime(2100, 1, 1),
                      timezones=_offsets)


def _keys(role: str) -> st.SearchStrategy[str]:
    return st.sampled_from(_terms.keys(role))


@st.composite
def _finding(draw: st.DrawFn) -> dict[str, Any]:
    finding: dict[str, Any] = {
        "pattern": draw(_keys("pattern")),
        "sites": draw(st.lists(_keys("anatomy"), max_size=3)),
        "laterality": draw(st.none() | _keys("laterality")),
        "distribution": draw(st.lists(_keys("distribution"), max_size=2)),
        "number": draw(st.none() | _keys("number")),
        "morphology": draw(st.none() | _keys("morphology")),
        "signals": draw(st.lists(st.fixed_dictionaries(
            {"sequence": _keys("mr_sequence"), "signal": _keys("signal")}), max_size=3)),
    }
    for field in ("tracking_id", "tracking_uid", "observation_uid"):
        strategy = _text if field == "tracking_id" else _uid
        value = draw(st.none() | strategy)
        if value is not None:
            finding[field] = value
    return finding


@st.composite
def _assessment(draw: st.DrawFn) -> dict[str, Any]:
    ice = draw(st.none() | st.fixed_dictionaries(
        {field: st.integers(0, maximum) for field, _key, maximum in ICE_ITEMS}))
    return {
        "assessed_at": draw(st.none() | _aware),
        "ice": ice,
        "consciousness": draw(_keys("consciousness")),
        "seizure": draw(_keys("seizure_status")),
        "motor": draw(_keys("motor_status")),
        "icp_findings": draw(st.lists(_keys("icp_finding"), max_size=2)),
        "signs": draw(st.lists(_keys("clinical_sign"), max_size=3)),
    }


@st.composite
def _own_reports(draw: st.DrawFn) -> ImagingReport:
    data = {
        "patient": {"id": draw(_text), "id_issuer": draw(st.none() | _text | _uid),
                    "family_name": draw(st.none() | _text), "given_name": draw(st.none() | _text),
                    "birth_date": draw(st.none() | st.dates(dt.date(1900, 1, 1),
                                                            dt.date(2100, 1, 1))),
                    "sex": draw(st.none() | st.sampled_from(["M", "F", "O"]))},
        "study": {"instance_uid": draw(_uid),
                  "accession_number": draw(st.none() | _text.map(lambda s: s[:16])),
                  "date": draw(st.dates(dt.date(1950, 1, 1), dt.date(2100, 1, 1))),
                  "time": draw(st.none() | st.times()),
                  "description": draw(st.none() | _text),
                  "referring_physician": draw(st.none() | _name)},
        "issued": draw(_aware),
        "procedure": draw(_keys("procedure")),
        "findings": draw(st.lists(_finding(), max_size=4)),
        "impression": draw(st.none() | st.text(st.characters(exclude_categories=["Cc", "Cs"])
                                               | st.sampled_from("\t\n\r"),
                                               min_size=1, max_size=200).map(str.strip)
                           .filter(bool)),
        "observer_name": draw(st.none() | _name
                              | st.builds(lambda a, b: f"{a}^{b}", _name, _name)),
        "assessment": draw(st.none() | _assessment()),
        "icans_grade": draw(st.none() | st.integers(0, 5)),
    }
    return ImagingReport.model_validate(data)


def _shared_strategy() -> st.SearchStrategy[ImagingReport] | None:
    """The ImagingReport strategy of tests/strategies.py (shared with the SR tests), if any."""
    try:
        import strategies  # type: ignore[import-not-found]
    except ImportError:
        try:
            from tests import strategies  # type: ignore[import-not-found,no-redef]
        except ImportError:
            return None
    for name in ("imaging_reports", "reports", "imaging_report", "report_strategy"):
        candidate = getattr(strategies, name, None)
        if isinstance(candidate, st.SearchStrategy):
            return candidate
        if callable(candidate):
            made = candidate()
            if isinstance(made, st.SearchStrategy):
                return made
    return None


_shared_reports = _shared_strategy()
REPORT_STRATEGIES = [("own", _own_reports())]
if _shared_reports is not None:
    REPORT_STRATEGIES.append(("shared", _shared_reports))


@pytest.mark.parametrize("strategy", [s for _n, s in REPORT_STRATEGIES],
                         ids=[n for n, _s in REPORT_STRATEGIES])
@pytest.mark.parametrize(("version", "kind"), COMBINATIONS)
def test_generated_round_trip(strategy: st.SearchStrategy[ImagingReport], version: Any,
                              kind: Any) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(strategy)
    def check(report: ImagingReport) -> None:
        text = fhir.write_json(report, version=version, bundle=kind)
        back, found = fhir.read(text)
        assert found == []
        assert back == report

    check()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_own_reports())
def test_generated_bundle_is_the_model(report: ImagingReport) -> None:
    """The model path gives the same bundle as the fast JSON path."""
    from fhir.resources.R4B.bundle import Bundle

    text = fhir.write_json(report)
    assert Bundle.model_validate_json(text).model_dump_json() == fhir.to_json(fhir.write(report))


def test_control_characters_are_replaced_not_written() -> None:
    """FHIR strings cannot hold C0 controls (other than tab/LF/CR): U+FFFD stands in."""
    report = load_case(FIXTURES[0].read_text(encoding="utf-8"))
    dirty = report.model_copy(update={"impression": "a\x03b\tc", "observer_name": "X^\x1fY"})
    back, found = fhir.read(fhir.write_json(dirty))
    assert found == [] and back is not None
    assert back.impression == "a\ufffdb\tc"
    assert back.observer_name == "X^\ufffdY"
    assert back == fhir.writer.fhir_safe(dirty)


@pytest.mark.parametrize("name", ["0^^0", "Doe^^Q", "^^Q", "Doe^^Q=^^X", "Doe^John^Q^Dr^Jr",
                                  "Radiologist^Rita", "Yamada^Tarou=山田^太郎=やまだ^たろう"])
def test_person_names_survive_the_human_name(name: str) -> None:
    """A DICOM PN whose middle name has no given name before it cannot be said with
    HumanName parts alone (``given`` holds given and middle names): its DICOM form rides in
    ``text`` (hypothesis found ``0^^0`` coming back as ``0^0``); other names stay parts."""
    from icans_interop.fhir.values import human_names, person_name_of

    names = human_names(name)
    assert person_name_of(names) == name
    lossy = "^^" in name.split("=")[0]
    assert any("^" in n.get("text", "") for n in names) == lossy
