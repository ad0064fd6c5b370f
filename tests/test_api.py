"""The top-level API: cheap to import, icans_interop.read / validate on any format and source
kind, __version__ and the re-exported names."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest

import icans_interop
from icans_interop import dicom, fhir, sdc
from icans_interop.model import ImagingReport, load_case
from icans_interop.validation import runner
from tests.test_sources import OneShot

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "fixtures" / "valid" / "example-grade3-deep.json"
INVALID = ROOT / "fixtures" / "invalid"
HEAVY = ("pydicom", "fhir.resources", "pydantic", "fhirpathpy", "simple_icd_10_cm")


@cache
def _report() -> ImagingReport:
    return load_case(CASE.read_text("utf-8"))


def _loaded_after(code: str) -> list[str]:
    """The heavy packages a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stdout.split()


def test_importing_the_package_loads_no_heavy_library() -> None:
    assert _loaded_after("import icans_interop") == []
    assert _loaded_after("import icans_interop.cli") == []  # what `--help` imports
    # the dispatcher loads a validator only when it is called
    assert _loaded_after("from icans_interop.validation.dispatch import validate") == []
    # ... and a name is loaded when it is used
    assert "pydantic" in _loaded_after("import icans_interop\nicans_interop.ImagingReport")


def test_version() -> None:
    assert icans_interop.__version__ == metadata.version("icans-interop")
    assert "__version__" in icans_interop.__all__


def test_every_public_name_resolves_to_its_definition() -> None:
    exports = icans_interop._EXPORTS
    assert sorted(icans_interop.__all__) == sorted(["__version__", *exports])
    for name, module in exports.items():
        value = getattr(icans_interop, name)
        assert value is getattr(sys.modules[module], name), name
    assert set(icans_interop.__all__) <= set(dir(icans_interop))
    assert icans_interop.dicom is dicom and icans_interop.sdc is sdc
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        icans_interop.nothing_here  # noqa: B018


# ------------------------------------------------------------------------------------------
# read: the right reader for each format


@cache
def _inputs() -> dict[str, bytes]:
    response, _issues = sdc.write(_report())
    return {
        "sr": dicom.to_bytes(dicom.write(_report())),
        "fhir R4": fhir.write_json(_report(), version="R4").encode(),
        "fhir R5": fhir.write_json(_report(), version="R5").encode(),
        "form response": json.dumps(response).encode(),
        "case": CASE.read_bytes(),
    }


@pytest.mark.parametrize("name", ["sr", "fhir R4", "fhir R5", "form response", "case"])
def test_read_gives_the_report_of_any_format_and_kind(name: str, tmp_path: Path) -> None:
    data = _inputs()[name]
    path = tmp_path / "input"
    path.write_bytes(data)
    kinds: list[object] = [path, str(path), data, io.BytesIO(data)]
    if name != "sr":
        kinds += [data.decode(), json.loads(data)]
    for source in kinds:
        reading = icans_interop.read(source)
        report, issues = reading
        assert not [i for i in issues if i.severity == "error"], (name, issues)
        assert report is not None
        if name == "form response":  # the form holds the findings and the assessment
            assert (report.findings, report.assessment) == (_report().findings,
                                                            _report().assessment)
        else:
            assert report == _report(), name


def test_read_of_parsed_models() -> None:
    assert icans_interop.read(dicom.write(_report())).report == _report()
    assert icans_interop.read(fhir.write(_report(), version="R5")).report == _report()
    assert icans_interop.read(_report()).report is _report()
    reading = icans_interop.read(fhir.write(_report()))
    assert reading.provenance.locate("findings[0]").startswith("Bundle.entry[")


def test_read_of_what_cannot_be_read(tmp_path: Path) -> None:
    missing = tmp_path / "missing.dcm"
    report, issues = icans_interop.read(missing)
    assert report is None
    assert [(i.code, i.message) for i in issues] == [
        ("unreadable", f"cannot read {missing}: No such file or directory")]
    report, issues = icans_interop.read(b"plain text, not a record")
    assert report is None and [i.code for i in issues] == ["unreadable"]
    assert "neither DICOM nor JSON" in issues[0].message
    report, issues = icans_interop.read(42)
    assert report is None and "type int" in issues[0].message


# ------------------------------------------------------------------------------------------
# validate: the right validator for each format


@pytest.mark.parametrize("name", ["sr", "fhir R4", "fhir R5", "form response", "case"])
def test_validate_any_format(name: str, tmp_path: Path) -> None:
    data = _inputs()[name]
    path = tmp_path / "input"
    path.write_bytes(data)
    expected_kind = {"sr": "sr", "case": "case"}.get(name, "fhir")
    for source in (path, data, io.BytesIO(data)):
        result = icans_interop.validate(source)
        assert result.valid, result.to_text()
        assert result.kind == expected_kind
        assert result.fhir_version == {"fhir R5": "R5", "fhir R4": "R4",
                                       "form response": "R4"}.get(name)
    assert icans_interop.validate(path).file == str(path)
    assert runner.validate_one(path).issues == icans_interop.validate(path).issues


def test_validate_honours_an_explicit_fhir_version() -> None:
    r5 = _inputs()["fhir R5"]
    as_r4 = icans_interop.validate(r5, fhir_version="R4")
    assert as_r4.fhir_version == "R4" and "unknown-element" in {i.code for i in as_r4.issues}


def test_a_form_response_gets_the_form_readers_issues_under_icans_only() -> None:
    response = json.loads(_inputs()["form response"])
    response["status"] = "in-progress"
    icans = icans_interop.validate(response)
    assert [(i.severity, i.code, i.location) for i in icans.issues
            if i.severity != "information"] == [
        ("warning", "invalid-value", "QuestionnaireResponse.status")]
    base = icans_interop.validate(response, profile="base")
    assert [i for i in base.issues if i.severity != "information"] == []
    response["item"][0]["linkId"] = "not-an-item-of-the-form"
    assert "unknown-item" in {i.code for i in icans_interop.validate(response).issues}


@pytest.mark.parametrize("name", sorted(p.name for p in INVALID.glob("*.json")
                                        if p.name != "expected.json"))
def test_invalid_case_files(name: str) -> None:
    expected = json.loads((INVALID / "expected.json").read_text("utf-8"))[name]
    result = icans_interop.validate(INVALID / name)
    assert result.kind == "case" and not result.valid
    if expected["exit"] != 1:  # the CLI exit of an input that cannot be read
        assert [i.code for i in result.issues] == ["unreadable"]
    else:
        assert any(expected["message"] in f"{i.code} {i.message}" for i in result.issues), \
            result.to_text()
        report, issues = icans_interop.read(INVALID / name)
        assert [i for i in issues if i.severity == "error"] or report is not None


def test_semantic_issues_of_a_case_are_located_by_model_path() -> None:
    result = icans_interop.validate(INVALID / "symmetric-unilateral.json")
    (issue,) = [i for i in result.issues if i.code == "contradiction"]
    assert issue.location.startswith("findings[")
    assert icans_interop.validate(INVALID / "symmetric-unilateral.json",
                                  profile="base").valid


def test_validate_never_raises_on_bad_input(tmp_path: Path) -> None:
    for source in (tmp_path / "missing.json", tmp_path, b"", b"\x00" * 200, "{", 3.5,
                   io.StringIO("{}")):
        result = icans_interop.validate(source)
        assert not result.valid and result.issues[0].code == "unreadable", source
    bad = icans_interop.validate(_inputs()["case"], profile="strict")  # type: ignore[arg-type]
    assert [i.code for i in bad.issues] == ["invalid-value"]


def test_a_parsed_case_ignores_comment_notes_like_its_json() -> None:
    from icans_interop.model import case_template

    text = case_template()
    assert "$comment" in text
    from_text = icans_interop.read_case(text)
    from_dict = icans_interop.read_case(json.loads(text))
    assert from_text.report is not None and from_text.issues == []
    assert from_dict.report == from_text.report and from_dict.issues == []


def test_content_given_in_memory_has_no_file_uri(tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    path.write_bytes(_inputs()["case"])
    assert icans_interop.validate(path).file_uri() == path.resolve().as_uri()
    for data in (_inputs()["sr"], _inputs()["fhir R4"], _inputs()["case"]):
        result = icans_interop.validate(data)
        assert result.file.startswith("<") and result.file_uri() is None, result.file


def test_a_form_response_file_object_is_read_once() -> None:
    from icans_interop.validation.dispatch import validate_response

    response = json.loads(_inputs()["form response"])
    response["status"] = "in-progress"
    result = validate_response(OneShot(json.dumps(response).encode()))
    assert ("warning", "invalid-value") in {(i.severity, i.code) for i in result.issues}


@pytest.mark.parametrize("entry", ["validate", "read"])
def test_a_fhir_file_is_read_whole_once(entry: str, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Telling a FHIR file's kind needs the whole JSON (a QuestionnaireResponse or not): that
    read is handed on to the validator or reader instead of reading the path again."""
    from icans_interop import fhir, sources
    from icans_interop.model import load_case

    case = Path(__file__).resolve().parent.parent / "fixtures" / "valid" / \
        "example-grade3-deep.json"
    path = tmp_path / "bundle.json"
    path.write_text(fhir.write_json(load_case(case.read_text(encoding="utf-8"))),
                    encoding="utf-8")
    whole_reads: list[object] = []
    real = sources._read_path

    def counting(source: object, max_bytes: int) -> bytes:
        whole_reads.append(source)
        return real(source, max_bytes)  # type: ignore[arg-type]

    monkeypatch.setattr(sources, "_read_path", counting)
    if entry == "validate":
        result = icans_interop.validate(path)
        assert result.valid and result.file == str(path), result.to_text()
    else:
        assert icans_interop.read(path).report is not None
    assert len(whole_reads) == 1
