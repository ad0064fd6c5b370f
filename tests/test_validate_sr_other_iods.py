"""SRs that are not TID 1500 Measurement Reports, from other producers, judged fairly.

``--profile base`` judges a file by its standard alone: a conformant Basic Text SR, or a
Comprehensive SR that follows another template (TID 2000, Basic Diagnostic Imaging Report),
gets no errors, and a ``not-checked`` note says the template rules were not applied (only
TID 1500 has rows here); an SR IOD this validator does not describe (a dose report, a Key Object
Selection document) gets ``not-checked`` rather than a false ``wrong-sop-class``. Under
``icans`` the same files are refused: they cannot carry an ICANS report. A TID 1500 document
put in a Basic Text SR (which has no NUM items) stays ``wrong-sop-class`` under both profiles.

Each document is our own valid SR with its content replaced, so the header modules stay the
ones dciodvfy accepts; dciodvfy confirms every document called conformant here.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from icans_interop.validation.sr import validate_sr

try:
    import oracles
    from test_sr_defects import base_dataset, code_item, content, encode
except ImportError:  # tests/ imported as a package
    from tests import oracles  # type: ignore[no-redef]
    from tests.test_sr_defects import base_dataset, code_item, content, encode

BASIC_TEXT = "1.2.840.10008.5.1.4.1.1.88.11"
COMPREHENSIVE = "1.2.840.10008.5.1.4.1.1.88.33"
DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.67"  # X-Ray Radiation Dose SR (TID 10001)
SOP_CLASS = "(0008,0016) SOPClassUID"
REPORT_TITLE = ("18748-4", "LN", "Diagnostic Imaging Report")


def _template(identifier: str) -> Sequence:
    item = Dataset()
    item.MappingResource = "DCMR"
    item.TemplateIdentifier = identifier
    return Sequence([item])


def _diagnostic_report(sop_class: str, *, template: str | None = "2000",
                       title: tuple[str, str, str] = REPORT_TITLE) -> Dataset:
    """Our SR turned into a small TID 2000 report: the same header and observer context, a
    new title, and one Findings section with a TEXT finding."""
    ds = base_dataset("comprehensive")
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.ConceptNameCodeSequence = Sequence([code_item(*title)])
    if template is None:
        del ds.ContentTemplateSequence
    else:
        ds.ContentTemplateSequence = _template(template)
    keep = [item for item in ds.ContentSequence
            if item.RelationshipType in ("HAS CONCEPT MOD", "HAS OBS CONTEXT")
            and item.ValueType in ("CODE", "PNAME", "TEXT")]
    finding = content("CONTAINS", "TEXT", ("121071", "DCM", "Finding"),
                      TextValue="Symmetric T2 hyperintensity of both thalami.")
    findings = content("CONTAINS", "CONTAINER", ("121070", "DCM", "Findings"),
                       ContinuityOfContent="SEPARATE")
    findings.ContentSequence = Sequence([finding])
    ds.ContentSequence = Sequence([*keep, findings])
    for keyword in ("CurrentRequestedProcedureEvidenceSequence",
                    "PertinentOtherEvidenceSequence"):
        if keyword in ds:
            delattr(ds, keyword)
    return ds


def _errors(data: bytes, profile: str) -> list[tuple[str, str]]:
    result = validate_sr(data, profile)  # type: ignore[arg-type]
    return [(i.code, i.location) for i in result.issues if i.severity == "error"]


def _confirm_conformant(data: bytes) -> None:
    oracles.require(oracles.skip_reason_dciodvfy())
    verdict = oracles.run_dciodvfy_on_bytes(data)
    assert verdict.ok, verdict.errors


CONFORMANT: dict[str, Callable[[], Dataset]] = {
    "basic-text-tid2000": lambda: _diagnostic_report(BASIC_TEXT),
    "basic-text-no-template": lambda: _diagnostic_report(BASIC_TEXT, template=None),
    "comprehensive-tid2000": lambda: _diagnostic_report(COMPREHENSIVE),
}


@pytest.mark.parametrize("name", sorted(CONFORMANT))
def test_a_conformant_sr_of_another_template_has_no_base_errors(name: str) -> None:
    data = encode(CONFORMANT[name]())
    _confirm_conformant(data)
    result = validate_sr(data, "base")
    assert [i for i in result.issues if i.severity == "error"] == []
    notes = [i for i in result.issues if i.code == "not-checked"]
    assert len(notes) == 1 and notes[0].severity == "information"
    assert notes[0].location == '1 (18748-4, LN, "Diagnostic Imaging Report")'
    assert "only TID 1500" in notes[0].message


@pytest.mark.parametrize("name", sorted(CONFORMANT))
def test_the_icans_profile_still_refuses_them(name: str) -> None:
    codes = {code for code, _ in _errors(encode(CONFORMANT[name]()), "icans")}
    assert codes, "an SR that is no ICANS report must not pass the icans profile"
    if name.startswith("basic-text"):
        assert "wrong-sop-class" in codes
    else:
        assert "wrong-template" in codes


def test_the_base_checks_still_run_on_a_basic_text_sr() -> None:
    """A NUM item is not allowed in Basic Text SR (PS3.3 A.35.1.3.1.1): the IOD's value types
    are applied, not skipped with the template."""
    ds = _diagnostic_report(BASIC_TEXT)
    ds.ContentSequence[-1].ContentSequence.append(content(
        "CONTAINS", "NUM", ("121206", "DCM", "Distance")))
    errors = _errors(encode(ds), "base")
    assert errors and all(location.startswith("1.") for _, location in errors), errors


def test_a_tid1500_document_in_a_basic_text_sr_is_the_wrong_sop_class_under_base() -> None:
    ds = base_dataset("comprehensive")
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = BASIC_TEXT
    assert ("wrong-sop-class", SOP_CLASS) in _errors(encode(ds), "base")


def test_a_tid1500_title_without_a_declared_template_is_judged_as_tid1500() -> None:
    """No Content Template Sequence but the title of a Measurement Report (CID 7021): the
    document is a TID 1500 report missing its template identification."""
    ds = _diagnostic_report(COMPREHENSIVE, template=None,
                            title=("126000", "DCM", "Imaging Measurement Report"))
    errors = _errors(encode(ds), "base")
    assert any(code == "missing-required" and "[TID 1500 row 1]" in location
               for code, location in errors), errors


def test_an_sr_iod_we_do_not_describe_is_not_checked_under_base() -> None:
    ds = _diagnostic_report(DOSE_SR, template="10001")
    result = validate_sr(encode(ds), "base")
    assert [(i.severity, i.code, i.location) for i in result.issues] == [
        ("information", "not-checked", SOP_CLASS)]
    assert "X-Ray Radiation Dose SR" in result.issues[0].message
    assert ("wrong-sop-class", SOP_CLASS) in _errors(encode(ds), "icans")


def test_an_image_is_still_the_wrong_sop_class_under_base() -> None:
    ds = _diagnostic_report("1.2.840.10008.5.1.4.1.1.4")  # MR Image Storage
    assert _errors(encode(ds), "base") == [("wrong-sop-class", SOP_CLASS)]
