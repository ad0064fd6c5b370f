"""The names of the formats, versions and profiles the library reads and writes.

One definition each, free of heavy imports, so the CLI offers exactly the library's choices
without loading pydicom or fhir.resources to show its help.
"""

from __future__ import annotations

from typing import Literal

#: SR SOP Classes the writer can produce (:mod:`icans_interop.dicom.sopclasses`).
SopClassName = Literal["comprehensive-3d", "enhanced", "comprehensive"]
#: FHIR versions written and validated.
FhirVersion = Literal["R4", "R5"]
#: The FHIR version of an input: ``auto`` detects it (:func:`icans_interop.sniff
#: .detect_fhir_version`).
FhirVersionIn = Literal["auto", "R4", "R5"]
#: Bundle types the FHIR writer produces.
BundleType = Literal["transaction", "collection"]
#: Validation profiles: ``base`` the format's own rules, ``icans`` adds the ICANS rules.
Profile = Literal["icans", "base"]
