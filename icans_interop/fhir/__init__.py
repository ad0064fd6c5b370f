"""FHIR adapter for ICANS imaging reports.

* :func:`write` — a report as a ``fhir.resources`` Bundle model (R4 via ``fhir.resources.R4B``
  declared as FHIR 4.0.1 content, or R5 with the HL7 DICOM SR IG profiles);
  :func:`write_json` — the same bundle directly as compact JSON text (faster);
* :func:`read` — a Bundle (ours or another producer's; any source kind of
  :mod:`icans_interop.sources`: a path, JSON text or bytes, a binary file object, a dict or a
  model) back into a report plus issues, never raising;
* :func:`to_json` — compact JSON of a bundle model (the same text as fhir.resources'
  ``model_dump_json``, produced several times faster).
"""

from __future__ import annotations

from icans_interop.fhir.reader import read
from icans_interop.fhir.serialize import to_json
from icans_interop.fhir.writer import build, write, write_json
from icans_interop.formats import BundleType
from icans_interop.formats import FhirVersion as Version

__all__ = ["BundleType", "Version", "build", "read", "to_json", "write", "write_json"]
