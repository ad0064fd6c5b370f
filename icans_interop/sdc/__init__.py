"""SDC adapter: the structured-reporting form and the way back from a filled form.

* :func:`questionnaire` — an SDC Questionnaire (R4 or R5) generated from the knowledge entry
  and the mapping tables, with live ICE/grade scoring generated from the grading tables;
* :func:`write` — a report as a pre-filled QuestionnaireResponse (to review or amend a report
  in the form), with the issues of what the form cannot carry;
* :func:`read` — a QuestionnaireResponse (ours or another renderer's) back into the domain
  model, tolerant: answers matched by ``linkId`` and by coding, problems returned as issues.
"""

from __future__ import annotations

from icans_interop.formats import FhirVersion as Version
from icans_interop.sdc.extract import read, read_located
from icans_interop.sdc.prefill import write
from icans_interop.sdc.questionnaire_writer import (
    QUESTIONNAIRE_URL,
    canonical,
    questionnaire,
    to_json,
)
from icans_interop.sdc.scoring import calculate

__all__ = ["QUESTIONNAIRE_URL", "Version", "calculate", "canonical", "questionnaire", "read",
           "read_located", "to_json", "write"]
