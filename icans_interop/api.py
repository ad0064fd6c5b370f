"""The entry points for a caller who does not know the format: :func:`read` and
:func:`validate` (re-exported as ``icans_interop.read`` and ``icans_interop.validate``).

Both take any source kind of :mod:`icans_interop.sources` and tell the format apart with
:func:`icans_interop.sniff.sniff_source`: a DICOM SR, a FHIR Bundle (or resource), a FHIR
QuestionnaireResponse (the filled reporting form) or a case file. Neither raises on bad input.
"""

from __future__ import annotations

from icans_interop import sniff
from icans_interop.issues import error
from icans_interop.model import ImagingReport
from icans_interop.reading import Reading
from icans_interop.validation.dispatch import validate

__all__ = ["read", "validate"]


def read(source: object) -> Reading:
    """The report in ``source``, read by the reader of its format, with its issues and
    provenance (see :class:`~icans_interop.reading.Reading`; it unpacks as ``report,
    issues``). Never raises: a source that cannot be read or told apart gives one
    ``unreadable`` issue and no report."""
    if isinstance(source, ImagingReport):
        return Reading(source, [])
    found = sniff.sniff_source(source)
    if found.kind == "sr":
        from icans_interop import dicom

        return dicom.read(found.source)  # type: ignore[arg-type]
    if found.kind == "fhir":
        from icans_interop import fhir

        return fhir.read(found.source)
    if found.kind == "questionnaire-response":
        from icans_interop import sdc

        return sdc.read(found.source)
    if found.kind == "case":
        from icans_interop.case import read_case

        return read_case(found.source)
    where = found.label or "(input)"
    if found.problem is not None:
        return Reading(None, [error(found.problem.code, where, found.problem.message)])
    return Reading(None, [error("unreadable", where, "neither DICOM nor JSON (not an SR, FHIR "
                                                     "resource, form response or case file)")])
