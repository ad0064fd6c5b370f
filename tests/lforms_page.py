"""Fill the generated Questionnaire in LHC-Forms the way a person does, in headless Chromium.

:class:`FormPage` serves a tiny page (LHC-Forms' prebuilt web component from tools/lforms and
the Questionnaire) from a temporary folder over HTTP on 127.0.0.1 (a thread of the test
process), opens it in Debian's Chromium through Playwright, and types and clicks answers for a
report: text into inputs, clicks on radio buttons and check boxes, the "+" buttons of repeating
groups, the autocomplete list of the clinical signs. Requests to anything but the local server
are refused and recorded (nothing is downloaded at run time).

Element ids are LHC-Forms' own: ``<linkId>/<instance>/<instance>...`` for an item (one number
per ancestor group instance and one for the item), ``<id>|<system>|<code>`` for an answer
option, ``add-<group linkId>/<last instance path>`` for the button that adds a group instance.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import json
import shutil
import tempfile
import threading
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    import oracles
except ImportError:  # tests/ imported as a package
    from tests import oracles  # type: ignore[no-redef]

from icans_interop.model import ICE_ITEMS, ImagingReport
from icans_interop.sdc import form as f
from icans_interop.sdc.questionnaire_writer import option_coding

TIMEOUT_MS = 60_000
_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ICANS report form</title>
<link rel="stylesheet" href="lforms/webcomponent/styles.css"></head>
<body><div id="form"></div>
<script src="lforms/webcomponent/assets/lib/zone.min.js"></script>
<script src="lforms/webcomponent/lhc-forms.js"></script>
<script src="lforms/fhir/R4/lformsFHIR.min.js"></script>
<script>
fetch("questionnaire.json").then(r => r.json())
  .then(q => LForms.Util.addFormToPage(q, "form", {fhirVersion: "R4"}))
  .then(() => { window.formReady = true; })
  .catch(e => { window.formError = String(e && (e.message || e)); });
</script></body></html>
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _serve(folder: Path) -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


def _sel(element_id: str) -> str:
    return f'[id="{element_id}"]'


class FormPage:
    """One browser page with the form loaded; use as a context manager."""

    def __init__(self, questionnaire: dict[str, Any], timezone: str = "UTC") -> None:
        self.questionnaire = questionnaire
        self.timezone = timezone
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.index = f.form().index()
        self.parents = {child.link_id: item.link_id for item in f.form().walk()
                        for child in item.children}

    def __enter__(self) -> FormPage:
        from playwright.sync_api import sync_playwright

        self._stack: list[Any] = []
        self._tmp = Path(tempfile.mkdtemp(prefix="icans-lforms-"))
        site = self._tmp / "site"
        site.mkdir()
        (site / "lforms").symlink_to(oracles.LFORMS_DIR, target_is_directory=True)
        (site / "index.html").write_text(_PAGE, "utf-8")
        (site / "questionnaire.json").write_text(json.dumps(self.questionnaire), "utf-8")
        self._server = _serve(site)
        base = self._server.__enter__()
        self._playwright = sync_playwright().start()
        chromium = oracles.chromium_path()
        assert chromium is not None
        self.context = self._playwright.chromium.launch_persistent_context(
            str(self._tmp / "profile"), executable_path=chromium, headless=True,
            args=list(oracles.CHROMIUM_ARGS), timezone_id=self.timezone, locale="en-US",
            viewport={"width": 1280, "height": 1000})
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

        def route(request_route: Any) -> None:
            url = request_route.request.url
            if url.startswith(base + "/"):
                request_route.continue_()
            else:
                self.blocked.append(url)
                request_route.abort()

        self.page.route("**/*", route)
        self.page.goto(f"{base}/index.html")
        self.page.wait_for_function("window.formReady || window.formError",
                                    timeout=TIMEOUT_MS)
        problem = self.page.evaluate("window.formError || null")
        if problem:
            raise RuntimeError(f"LHC-Forms could not load the Questionnaire: {problem}")
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.context.close()
        finally:
            self._playwright.stop()
            self._server.__exit__(None, None, None)
            shutil.rmtree(self._tmp, ignore_errors=True)

    # -- element ids ------------------------------------------------------------------------

    def item_id(self, link_id: str, instances: dict[str, int] | None = None) -> str:
        """LHC-Forms' id of an item: one instance number per ancestor, then the item's."""
        chain = [link_id]
        while chain[-1] in self.parents:
            chain.append(self.parents[chain[-1]])
        numbers = [str((instances or {}).get(x, 1)) for x in reversed(chain)]
        return f"{link_id}/{'/'.join(numbers)}"

    def option_id(self, link_id: str, key: str, instances: dict[str, int] | None = None) -> str:
        coding = option_coding(self.index[link_id], key)
        return f"{self.item_id(link_id, instances)}|{coding['system']}|{coding['code']}"

    # -- actions ----------------------------------------------------------------------------

    def type_into(self, link_id: str, text: str, instances: dict[str, int] | None = None) -> None:
        box = self.page.locator(_sel(self.item_id(link_id, instances)))
        box.click()
        box.press_sequentially(text)
        box.press("Tab")

    def click_option(self, link_id: str, key: str,
                     instances: dict[str, int] | None = None) -> None:
        self.page.locator(_sel(self.option_id(link_id, key, instances))).click()

    def click_boolean(self, link_id: str, value: bool) -> None:
        self.page.locator(_sel(f"{self.item_id(link_id)}|{'true' if value else 'false'}")).click()

    def add_instance(self, group: str, last: dict[str, int]) -> None:
        """Click the "+" button under the last instance of a repeating group."""
        self.page.locator(_sel(f"add-{self.item_id(group, last)}")).click()

    def pick_from_list(self, link_id: str, display: str) -> None:
        """Type an option's text into an autocomplete list and take the match."""
        box = self.page.locator(_sel(self.item_id(link_id)))
        box.click()
        box.press_sequentially(display)
        self.page.locator("#completionOptions li", has_text=display).first.click()

    def value_of(self, link_id: str) -> str:
        return self.page.locator(_sel(self.item_id(link_id))).input_value()

    # -- a whole report ---------------------------------------------------------------------

    def fill(self, report: ImagingReport) -> None:
        """Enter ``report`` item by item, as a person would."""
        self._identity(report)
        for item in f.form().walk():
            if item.binds == "pattern.present" and item.pattern is not None:
                self._pattern(report, item.pattern)
        if report.impression:
            self.type_into("impression", report.impression)
        if report.assessment is not None:
            self._assessment(report)
        else:
            self.click_boolean(f.PERFORMED, False)

    def _identity(self, report: ImagingReport) -> None:
        for name in ("id", "id_issuer", "id_system", "family_name", "given_name"):
            value = getattr(report.patient, name)
            if value:
                self.type_into(f"patient.{name}", value)
        if report.patient.birth_date:
            self.type_into("patient.birth_date", _us_date(report.patient.birth_date))
        if report.patient.sex:
            self.click_option("patient.sex", report.patient.sex)
        study = report.study
        self.type_into("study.instance_uid", study.instance_uid)
        for name in ("accession_number", "description", "referring_physician"):
            value = getattr(study, name)
            if value:
                self.type_into(f"study.{name}", value)
        self.type_into("study.date", _us_date(study.date))
        if study.time:
            self.type_into("study.time", study.time.strftime("%H:%M:%S"))
        self.click_option("procedure", report.procedure)
        if report.observer_name:
            self.type_into("observer_name", report.observer_name)
        self.click_option("status", report.status)
        verifier = report.verifying_observer
        if verifier is not None:
            self.type_into("verifying_observer.name", verifier.name)
            if verifier.organization:
                self.type_into("verifying_observer.organization", verifier.organization)
        if report.revision != 1:
            self.type_into("revision", str(report.revision))

    def _pattern(self, report: ImagingReport, pattern: str) -> None:
        findings = [x for x in report.findings if x.pattern == pattern]
        self.click_boolean(f.present_id(pattern), bool(findings))
        group = f.finding_id(pattern)
        for number, finding in enumerate(findings, start=1):
            if number > 1:
                self.add_instance(group, {group: number - 1})
            at = {group: number}
            for site in finding.sites:
                self.click_option(f"{pattern}.finding_site", site, at)
            if finding.laterality:
                self.click_option(f"{pattern}.laterality", finding.laterality, at)
            if finding.tracking_id:
                self.type_into(f"{pattern}.tracking_identifier", finding.tracking_id, at)
            for name, values in (("distribution_descriptor", finding.distribution),
                                 ("number_of_lesions", (finding.number,)),
                                 ("lesion_morphology", (finding.morphology,))):
                for value in values:
                    if value:
                        self.click_option(f"{pattern}.{name}", value, at)
            signal_group = f.signal_id(pattern)
            for j, observation in enumerate(finding.signals, start=1):
                if j > 1:
                    self.add_instance(signal_group, {group: number, signal_group: j - 1})
                here = {group: number, signal_group: j}
                self.click_option(f.sequence_id(pattern), observation.sequence, here)
                self.click_option(f.signal_value_id(pattern, observation.sequence),
                                  observation.signal, here)

    def _assessment(self, report: ImagingReport) -> None:
        assessment = report.assessment
        assert assessment is not None
        self.click_boolean(f.PERFORMED, True)
        if assessment.assessed_at:
            local = assessment.assessed_at.astimezone(zoneinfo.ZoneInfo(self.timezone))
            self.type_into("assessment.assessed_at", local.strftime("%m/%d/%Y %H:%M:%S"))
        if assessment.ice is not None:
            for name, key, _maximum in ICE_ITEMS:
                self.type_into(key, str(getattr(assessment.ice, name)))
        for model_field in ("consciousness", "seizure", "motor"):
            self.click_option(f.domain_item_id(model_field), getattr(assessment, model_field))
        for finding in assessment.icp_findings:
            self.click_option(f.domain_item_id("icp_findings"), finding)
        for sign in assessment.signs:
            display = option_coding(self.index["clinical_signs_observed"], sign)["display"]
            self.pick_from_list("clinical_signs_observed", display)

    def export_response(self) -> dict[str, Any]:
        """The QuestionnaireResponse as LHC-Forms itself exports it."""
        exported: dict[str, Any] = self.page.evaluate(
            "LForms.Util.getFormFHIRData('QuestionnaireResponse', 'R4')")
        return exported

    def screenshot(self, path: Path) -> None:
        """The whole page, once open lists are closed and the page is back at its top (a
        full-page capture of a page scrolled to its bottom can leave unpainted tiles)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.keyboard.press("Escape")
        self.page.evaluate("window.scrollTo(0, 0)")
        self.page.evaluate("new Promise(r => requestAnimationFrame(() => "
                           "requestAnimationFrame(r)))")
        self.page.screenshot(path=str(path), full_page=True, animations="disabled")


def _us_date(value: dt.date) -> str:
    """The MM/DD/YYYY text LHC-Forms' date field takes."""
    return value.strftime("%m/%d/%Y")
