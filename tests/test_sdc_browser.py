"""A real form renderer in a real browser: the generated Questionnaire in LHC-Forms.

For three cases (grade 0 with hemorrhage imaging only, grade 3 with deep-structure findings,
grade 4 unarousable) the form is filled through the page as a person would (typing, clicking,
adding finding and signal groups), the live ICE total and grade are read from the page, the
QuestionnaireResponse is exported with LHC-Forms' own export, and ``icans-interop extract``
turns it into an SR (dciodvfy and our validator: no error) and a FHIR bundle (our validator
and the Medplum validator: no error). The extracted report must equal the case entered (the
response's ``authored`` time aside) and carry the expected grade.

Screenshots of the filled forms are saved under out/test-artifacts/ (or $ICANS_TEST_ARTIFACTS)
and checked not to be blank. Skips when Playwright, Chromium or tools/lforms is missing; fails
instead when CI=true.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

try:
    import oracles
    from lforms_page import FormPage
except ImportError:  # tests/ imported as a package
    from tests import oracles  # type: ignore[no-redef]
    from tests.lforms_page import FormPage  # type: ignore[no-redef]

from icans_interop import dicom, grading, sdc
from icans_interop.cli import app
from icans_interop.model import ImagingReport
from icans_interop.sdc import form as f
from icans_interop.validation.fhir import validate_fhir
from icans_interop.validation.sr import validate_sr

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("ICANS_TEST_ARTIFACTS", ROOT / "out" / "test-artifacts"))
runner = CliRunner()


def _case(name: str, **edits: Any) -> ImagingReport:
    data = json.loads((ROOT / "fixtures" / "valid" / f"{name}.json").read_text("utf-8"))
    for path, value in edits.items():
        target = data
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return ImagingReport.model_validate(data)


CASES = {
    # hemorrhage on imaging, normal assessment: ICE 10, grade 0
    "grade0-imaging-only": (_case("grade0-hemorrhage-only"), 0, "10"),
    # limbic T2/FLAIR hyperintensity and leptomeningeal enhancement: ICE 4, seizure -> 3
    "grade3-deep-structures": (_case("example-grade3-deep"), 3, "4"),
    # unarousable, ICE not done, repetitive seizures, diffuse edema: grade 4 (the third deep
    # finding's "diffuse" is not offered for the pattern by the entry, so it is not entered)
    "grade4-unarousable": (_case("grade4-unarousable-edema", findings__2__distribution=None),
                           4, ""),
}


def _normal(report: ImagingReport) -> ImagingReport:
    """The report with multi-select answers in form order (check boxes carry no order)."""
    index = f.form().index()

    def order(link_id: str, values: tuple[str, ...]) -> tuple[str, ...]:
        options = index[link_id].options
        return tuple(sorted(values, key=lambda v: options.index(v) if v in options else 99))

    findings = tuple(x.model_copy(update={
        "sites": order(f"{x.pattern}.finding_site", x.sites),
    }) for x in report.findings)
    update: dict[str, Any] = {"findings": findings}
    if report.assessment is not None:
        update["assessment"] = report.assessment.model_copy(update={
            "icp_findings": order("icp_domain", report.assessment.icp_findings),
            "signs": order("clinical_signs_observed", report.assessment.signs)})
    return report.model_copy(update=update)


def _not_blank(png: Path) -> None:
    from PIL import Image, ImageStat

    with Image.open(png) as image:
        grey = image.convert("L")
        stat = ImageStat.Stat(grey)
        dark = sum(grey.histogram()[:128])
        assert grey.width >= 800 and grey.height >= 600, grey.size
        assert stat.stddev[0] > 20, f"{png}: nearly uniform (stddev {stat.stddev[0]:.1f})"
        assert dark > 0.005 * grey.width * grey.height, f"{png}: almost no dark pixels (text)"


@pytest.fixture(scope="module")
def page() -> Any:
    oracles.require(oracles.skip_reason_lforms())
    with FormPage(sdc.questionnaire("R4"), timezone="Europe/Paris") as form_page:
        yield form_page


@pytest.mark.parametrize("name", list(CASES))
def test_fill_in_lhc_forms_then_extract(name: str, page: FormPage, tmp_path: Path) -> None:
    case, grade, ice_total = CASES[name]
    assert grading.compute_grade(case.assessment).grade == grade  # type: ignore[arg-type]
    page.page.reload()
    page.page.wait_for_function("window.formReady || window.formError")
    page.fill(case)

    # the live scoring the page shows
    assert page.value_of(f.GRADE) == str(grade)
    assert page.value_of(f.ICE_TOTAL) == ice_total
    shot = ARTIFACTS / f"lforms-{name}.png"
    page.screenshot(shot)
    _not_blank(shot)

    exported = page.export_response()
    assert exported["resourceType"] == "QuestionnaireResponse"
    assert any("lformsVersion" in t.get("code", "") for t in exported["meta"]["tag"])
    (ARTIFACTS / f"lforms-{name}.json").write_text(json.dumps(exported, indent=1), "utf-8")
    response = tmp_path / "response.json"
    response.write_text(json.dumps(exported), "utf-8")

    # the model read from LHC-Forms' response is the case entered
    report, issues = sdc.read(exported)
    assert [i for i in issues if i.severity != "information"] == [], issues
    assert report is not None
    assert report.icans_grade == grade
    assert _normal(report.model_copy(update={"issued": case.issued})) == _normal(case)

    # extract -> SR: dciodvfy and our validator
    sr = tmp_path / "report.dcm"
    result = runner.invoke(app, ["extract", str(response), "--to", "sr", "-o", str(sr)])
    assert result.exit_code == 0, result.output
    assert validate_sr(sr).valid
    oracles.require(oracles.skip_reason_dciodvfy())
    verdict = oracles.run_dciodvfy(sr)
    assert verdict.errors == [], verdict.raw
    assert oracles.unexpected_warnings(verdict, "99ICANS") == [], verdict.raw
    from_sr, _ = dicom.read(sr)
    assert from_sr is not None and from_sr.icans_grade == grade

    # extract -> FHIR: our validator and Medplum's
    bundle = tmp_path / "bundle.json"
    result = runner.invoke(app, ["extract", str(response), "--to", "fhir", "-o", str(bundle)])
    assert result.exit_code == 0, result.output
    assert validate_fhir(bundle).valid
    assert oracles.medplum_validate([json.loads(bundle.read_text("utf-8")), exported]) == []

    assert page.errors == [] and page.blocked == []


def test_the_page_refuses_anything_but_the_local_server(page: FormPage) -> None:
    """Guard: a request off the loopback server is blocked and recorded."""
    page.page.evaluate("fetch('http://192.0.2.1/x').catch(() => null)")
    page.page.wait_for_timeout(200)
    assert page.blocked == ["http://192.0.2.1/x"]
    page.blocked.clear()
