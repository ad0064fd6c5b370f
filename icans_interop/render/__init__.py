"""The human-readable report: one page a clinician reads, as HTML or PDF.

:func:`html` lays out :func:`.view.build` with a Jinja2 template (autoescaped: reports carry
free text from other systems); :func:`pdf` prints that HTML with WeasyPrint (the optional
``render`` extra). The renderer sits above the format adapters: it takes a domain model, so a
case file, an SR, a FHIR bundle or a filled form all render the same way.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from icans_interop.model import ImagingReport
from icans_interop.render.view import ReportView, build

if TYPE_CHECKING:
    from jinja2 import Environment

__all__ = ["PdfUnavailableError", "ReportView", "build", "html", "pdf"]


class PdfUnavailableError(RuntimeError):
    """WeasyPrint (or the system libraries it needs) is not installed."""


def _software_version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("icans-interop")
    except PackageNotFoundError:
        return "0.0.0"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(loader=PackageLoader("icans_interop.render", "templates"),
                       autoescape=True, undefined=StrictUndefined, trim_blocks=False,
                       keep_trailing_newline=True)


def html(report: ImagingReport) -> str:
    """The report as one self-contained HTML5 page (inline CSS, no scripts, no external URL)."""
    view = build(report, software=_software_version())
    return _environment().get_template("report.html.j2").render(v=view)


def pdf(report: ImagingReport) -> bytes:
    """The report as PDF (A4), printed from :func:`html` by WeasyPrint.

    Raises :class:`PdfUnavailableError` when WeasyPrint cannot be imported (install
    ``icans-interop[render]`` and the Pango libraries).
    """
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: the Pango/HarfBuzz libraries are missing
        raise PdfUnavailableError(f"PDF output needs WeasyPrint ({exc}); install "
                                  "icans-interop[render]") from None
    document: bytes = HTML(string=html(report)).write_pdf()
    return document
