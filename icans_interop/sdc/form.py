"""The reporting form as data: one tree of :class:`FormItem` s generated from the knowledge entry.

Nothing here is a hand-written item list. The imaging section has one block per pattern of the
parsed knowledge entry (:func:`icans_interop.profile.pattern_rules`): its finding sites are the
pattern's regions, its qualifier items offer only the qualifiers the entry names for the pattern
(one item per model field of :data:`icans_interop.fields.FINDING_QUALIFIERS`), and its signal
items only the (sequence, signal) pairs the entry gives. The assessment section walks the ICE
items of :data:`icans_interop.model.ICE_ITEMS`, the coded domains of
:data:`icans_interop.fields.ASSESSMENT_DOMAINS` and the ASTCT domains of
:data:`icans_interop.grading.DOMAINS`.

The Questionnaire writer (:mod:`.questionnaire_writer`), the pre-filler (:mod:`.prefill`) and the
extractor (:mod:`.extract`) all walk this one tree, so the three cannot disagree about which
``linkId`` carries which model field.

``linkId`` s are derived from concept keys and model field names (``hemorrhage.finding_site``,
``ice_naming``, ``level_of_consciousness``), so they stay stable across releases as long as the
keys do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final, Literal

from icans_interop import fields, grading, knowledge, profile, terminology
from icans_interop.model import ICE_ITEMS, NeuroAssessment

ItemType = Literal["group", "display", "boolean", "integer", "string", "text", "date",
                   "dateTime", "time", "choice"]

#: FHIR administrative-gender codes for the model's ``Patient.sex`` (FHIR R4/R5 required
#: binding http://hl7.org/fhir/ValueSet/administrative-gender).
GENDER_SYSTEM: Final = "http://hl7.org/fhir/administrative-gender"
GENDER_CODES: Final = {"M": ("male", "Male"), "F": ("female", "Female"), "O": ("other", "Other")}
#: FHIR diagnostic-report-status codes for the model's ``status`` (the same code spelled the
#: same: the model follows DiagnosticReport.status).
STATUS_SYSTEM: Final = "http://hl7.org/fhir/diagnostic-report-status"
STATUS_CODES: Final = {"preliminary": ("preliminary", "Preliminary"),
                       "final": ("final", "Final"), "amended": ("amended", "Amended"),
                       "cancelled": ("cancelled", "Cancelled")}
#: Choice items whose options are FHIR infrastructure codes, not concepts of the tables:
#: role -> (system, model value -> (code, display)).
FIXED_CHOICES: Final = {"sex": (GENDER_SYSTEM, GENDER_CODES),
                        "report_status": (STATUS_SYSTEM, STATUS_CODES)}

#: Pattern of a DICOM UID (the model's Uid type), offered to renderers as an SDC regex.
UID_REGEX: Final = r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*"


@dataclass(frozen=True, slots=True)
class EnableWhen:
    """Show an item only when ``question`` has the answer ``key`` (a concept key) or ``True``."""

    question: str
    answer: bool | str


@dataclass(frozen=True, slots=True)
class FormItem:
    """One Questionnaire item and the model field it carries (``binds``).

    ``binds`` names the destination in the model: ``patient.id``, ``finding.sites``,
    ``signal.value``, ``ice.naming``, ``assessment.icp_findings``, ``computed.ice_total``...
    ``options`` are concept keys of ``role`` (choice items); ``code_key`` is the concept whose
    codings become ``item.code``.
    """

    link_id: str
    text: str
    type: ItemType
    binds: str = ""
    role: str | None = None
    options: tuple[str, ...] = ()
    code_key: str | None = None
    repeats: bool = False
    required: bool = False
    read_only: bool = False
    hidden: bool = False
    min_value: int | None = None
    max_value: int | None = None
    max_length: int | None = None
    regex: str | None = None
    enable_when: EnableWhen | None = None
    calculated: str | None = None
    pattern: str | None = None
    sequence: str | None = None
    children: tuple[FormItem, ...] = field(default=())

    def walk(self) -> Iterator[FormItem]:
        """This item and all its descendants, depth first in form order."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, slots=True)
class Variable:
    """An SDC ``variable`` of the Questionnaire: a named FHIRPath expression."""

    name: str
    expression: str


@dataclass(frozen=True, slots=True)
class Form:
    """The whole form: its items, its variables (evaluated in order) and a linkId index."""

    items: tuple[FormItem, ...]
    variables: tuple[Variable, ...]

    def walk(self) -> Iterator[FormItem]:
        for item in self.items:
            yield from item.walk()

    def index(self) -> dict[str, FormItem]:
        return _index(self)


@lru_cache(maxsize=1)
def _index(form: Form) -> dict[str, FormItem]:
    found: dict[str, FormItem] = {}
    for item in form.walk():
        if item.link_id in found:
            raise ValueError(f"linkId {item.link_id!r} is generated twice")
        found[item.link_id] = item
    return found


# --- link ids ------------------------------------------------------------------------------

PATIENT: Final = "patient"
STUDY: Final = "study"
IMAGING: Final = "imaging"
ASSESSMENT: Final = "assessment"
PERFORMED: Final = "assessment.performed"
DETAILS: Final = "assessment.details"
ICE_GROUP: Final = "ice"
GRADING: Final = "assessment.grading"
ICE_TOTAL: Final = fields.ICE_SCORE_KEY
GRADE: Final = fields.GRADE_KEY


def present_id(pattern: str) -> str:
    return f"{pattern}.present"


def finding_id(pattern: str) -> str:
    return f"{pattern}.finding"


def signal_id(pattern: str) -> str:
    return f"{pattern}.signal"


def sequence_id(pattern: str) -> str:
    return f"{pattern}.signal.sequence"


def signal_value_id(pattern: str, sequence: str) -> str:
    return f"{pattern}.signal.{sequence}"


def domain_grade_id(domain: str) -> str:
    return f"{fields.GRADE_KEY}.{domain}"


def domain_item_id(model_field: str) -> str:
    """linkId of a coded assessment domain: its concept-name key (``level_of_consciousness``)."""
    return next(key for name, key, _role, _rep in fields.ASSESSMENT_DOMAINS if name == model_field)


# --- the tree ------------------------------------------------------------------------------

#: The identity items: (linkId, text, type, model field, required, max length). Their linkIds are
#: the model's field paths.
_PATIENT_ITEMS: Final = (
    ("patient.id", "Patient identifier (MRN)", "string", True, 64),
    ("patient.id_issuer", "Issuer of the patient identifier", "string", False, 64),
    ("patient.id_system", "Identifier system (URI) of the patient identifier", "string",
     False, 64),
    ("patient.family_name", "Family name", "string", False, 64),
    ("patient.given_name", "Given name", "string", False, 64),
    ("patient.birth_date", "Birth date", "date", False, None),
)
_STUDY_ITEMS: Final = (
    ("study.instance_uid", "Study Instance UID", "string", True, 64),
    ("study.accession_number", "Accession number", "string", False, 16),
    ("study.date", "Study date", "date", True, None),
    ("study.time", "Study time", "time", False, None),
    ("study.description", "Study description", "string", False, 64),
    ("study.referring_physician", "Referring physician", "string", False, 64),
)


def _label(key: str) -> str:
    return terminology.load().concept(key).label


def _identity_item(spec: tuple[str, str, str, bool, int | None]) -> FormItem:
    link_id, text, kind, required, max_length = spec
    return FormItem(link_id=link_id, text=text, type=kind, binds=link_id,  # type: ignore[arg-type]
                    required=required, max_length=max_length,
                    regex=UID_REGEX if link_id == "study.instance_uid" else None)


def _identity() -> tuple[FormItem, ...]:
    patient = FormItem(
        link_id=PATIENT, text="Patient", type="group",
        children=(*(_identity_item(s) for s in _PATIENT_ITEMS),
                  FormItem(link_id="patient.sex", text="Sex", type="choice", binds="patient.sex",
                           role="sex", options=tuple(GENDER_CODES))))
    study = FormItem(
        link_id=STUDY, text="Imaging study", type="group",
        children=(*(_identity_item(s) for s in _STUDY_ITEMS),
                  FormItem(link_id="procedure", text=_label("procedure_reported"), type="choice",
                           binds="procedure", role="procedure", required=True,
                           options=terminology.load().keys("procedure"),
                           code_key="procedure_reported"),
                  FormItem(link_id="observer_name", text="Reporting radiologist",
                           type="string", binds="observer_name", max_length=64),
                  FormItem(link_id="status", text="Report status", type="choice",
                           binds="status", role="report_status", options=tuple(STATUS_CODES)),
                  FormItem(link_id="verifying_observer.name", text="Verified by",
                           type="string", binds="verifying_observer.name", max_length=64),
                  FormItem(link_id="verifying_observer.organization",
                           text="Verifying organization", type="string",
                           binds="verifying_observer.organization", max_length=64),
                  FormItem(link_id="revision", text="Revision", type="integer",
                           binds="revision", min_value=1)))
    return patient, study


def _qualifier_items(pattern: str, rules: profile.PatternRules) -> list[FormItem]:
    terms = terminology.load()
    items = [FormItem(link_id=f"{pattern}.laterality", text=_label("laterality"), type="choice",
                      binds="finding.laterality", role="laterality",
                      options=terms.keys("laterality"), code_key="laterality", pattern=pattern)]
    for model_field, name_key, role, repeats in fields.FINDING_QUALIFIERS:
        offered = tuple(q for q in rules.qualifier_order if terms.concept(q).role == role)
        if offered:
            items.append(FormItem(link_id=f"{pattern}.{name_key}", text=_label(name_key),
                                  type="choice", binds=f"finding.{model_field}", role=role,
                                  options=offered, repeats=repeats, code_key=name_key,
                                  pattern=pattern))
    return items


def _signal_group(pattern: str, rules: profile.PatternRules) -> FormItem:
    sequences = tuple(dict.fromkeys(seq for seq, _sig in rules.sequence_signal_order))
    selector = FormItem(link_id=sequence_id(pattern), text="MR sequence", type="choice",
                        binds="signal.sequence", role="mr_sequence", options=sequences,
                        required=True, pattern=pattern)
    values = tuple(
        FormItem(link_id=signal_value_id(pattern, seq), text=f"{_label(seq)} signal",
                 type="choice", binds="signal.value", role="signal",
                 options=tuple(sig for s, sig in rules.sequence_signal_order if s == seq),
                 code_key=seq, required=True, pattern=pattern, sequence=seq,
                 enable_when=EnableWhen(sequence_id(pattern), seq))
        for seq in sequences)
    return FormItem(link_id=signal_id(pattern), text="Signal on an MR sequence", type="group",
                    binds="signal", repeats=True, pattern=pattern, children=(selector, *values))


def _pattern_block(rules: profile.PatternRules) -> FormItem:
    pattern = rules.pattern
    finding = FormItem(
        link_id=finding_id(pattern), text=f"{_label(pattern)} finding", type="group",
        binds="finding", repeats=True, pattern=pattern, code_key="finding",
        enable_when=EnableWhen(present_id(pattern), True),
        children=(
            FormItem(link_id=f"{pattern}.finding_site", text=_label("finding_site"),
                     type="choice", binds="finding.sites", role="anatomy",
                     options=rules.site_order, repeats=True, code_key="finding_site",
                     pattern=pattern),
            *_qualifier_items(pattern, rules),
            _signal_group(pattern, rules),
            FormItem(link_id=f"{pattern}.tracking_identifier", text=_label("tracking_identifier"),
                     type="string", binds="finding.tracking_id", max_length=64,
                     code_key="tracking_identifier", pattern=pattern),
            FormItem(link_id=f"{pattern}.tracking_uid", text=_label("tracking_uid"),
                     type="string", binds="finding.tracking_uid", max_length=64, hidden=True,
                     regex=UID_REGEX, code_key="tracking_uid", pattern=pattern),
            FormItem(link_id=f"{pattern}.observation_uid", text="Observation UID",
                     type="string", binds="finding.observation_uid", max_length=64,
                     hidden=True, regex=UID_REGEX, pattern=pattern),
        ))
    return FormItem(
        link_id=pattern, text=_label(pattern), type="group", code_key=pattern, pattern=pattern,
        children=(FormItem(link_id=present_id(pattern), text=f"{_label(pattern)} present",
                           type="boolean", binds="pattern.present", pattern=pattern),
                  finding))


def _imaging() -> FormItem:
    patterns = [profile.pattern_rules()[_pattern_key(p)] for p in knowledge.load().patterns]
    return FormItem(
        link_id=IMAGING, text="Imaging findings", type="group", code_key="imaging_measurements",
        children=(*(_pattern_block(rules) for rules in patterns),
                  FormItem(link_id="impression", text=_label("impression"), type="text",
                           binds="impression", code_key="impression")))


def _pattern_key(pattern: knowledge.ImagingPattern) -> str:
    key = terminology.load().term(pattern.name, "pattern")
    if key is None:
        raise profile.UnresolvedTermError(f"pattern {pattern.name!r} has no concept")
    return key


def _assessment(expressions: dict[str, str]) -> FormItem:
    terms = terminology.load()
    performed = EnableWhen(PERFORMED, True)
    ice = FormItem(
        link_id=ICE_GROUP, text=f"{_label(fields.ICE_SCORE_KEY)} items", type="group",
        code_key=fields.ICE_SCORE_KEY,
        children=tuple(FormItem(link_id=key, text=_label(key), type="integer",
                                binds=f"ice.{model_field}", code_key=key, min_value=0,
                                max_value=maximum)
                       for model_field, key, maximum in ICE_ITEMS))
    domains = tuple(
        FormItem(link_id=name_key, text=_label(name_key), type="choice",
                 binds=f"assessment.{model_field}", role=role, options=terms.keys(role),
                 repeats=repeats, required=not repeats, code_key=name_key)
        for model_field, name_key, role, repeats in fields.ASSESSMENT_DOMAINS)
    signs = FormItem(link_id=fields.SIGNS_KEY, text=_label(fields.SIGNS_KEY), type="choice",
                     binds="assessment.signs", role=fields.SIGN_ROLE, options=_sign_options(),
                     repeats=True, code_key=fields.SIGNS_KEY)
    grading_group = FormItem(
        link_id=GRADING, text="ASTCT 2019 grading (computed as the form is filled)",
        type="group",
        children=(
            FormItem(link_id=ICE_TOTAL, text=f"{_label(fields.ICE_SCORE_KEY)} (0-10)",
                     type="integer", binds="computed.ice_total", read_only=True,
                     code_key=fields.ICE_SCORE_KEY, min_value=0, max_value=grading.ICE_MAX,
                     calculated=expressions[ICE_TOTAL]),
            *(FormItem(link_id=domain_grade_id(name), text=f"{grading.DOMAIN_TITLES[name]}: grade",
                       type="integer", binds=f"computed.domain.{name}", read_only=True,
                       min_value=0, max_value=4, calculated=expressions[domain_grade_id(name)])
              for name, _field, _table in grading.DOMAINS)))
    details = FormItem(
        link_id=DETAILS, text="Assessment", type="group", enable_when=performed,
        children=(FormItem(link_id="assessment.assessed_at", text="Assessed at",
                           type="dateTime", binds="assessment.assessed_at"),
                  ice, *domains, signs, grading_group))
    grade = FormItem(link_id=GRADE, text=f"{_label(fields.GRADE_KEY)} (0-5)", type="integer",
                     binds="icans_grade", read_only=True, code_key=fields.GRADE_KEY,
                     min_value=0, max_value=5, calculated=expressions[GRADE])
    return FormItem(
        link_id=ASSESSMENT, text="Neurological assessment (ASTCT 2019 ICANS grading)",
        type="group",
        children=(FormItem(link_id=PERFORMED, text="Neurological assessment performed",
                           type="boolean", binds="assessment.performed"),
                  details, grade))


def _sign_options() -> tuple[str, ...]:
    """Every clinical sign of the tables; the ones the entry's description names first."""
    named = [key for key in knowledge.load().clinical_signs
             if terminology.load().get(key) is not None]
    rest = [key for key in terminology.load().keys(fields.SIGN_ROLE) if key not in named]
    return (*named, *rest)


def model_default(model_field: str) -> str | None:
    """The model's default for a single-valued assessment field (``awake``...), else None."""
    default = NeuroAssessment.model_fields[model_field].default
    return default if isinstance(default, str) else None


@lru_cache(maxsize=1)
def form() -> Form:
    """The form generated from the packaged knowledge entry and mapping tables."""
    from icans_interop.sdc import expressions

    variables = expressions.variables()
    calculated = expressions.calculated()
    return Form(items=(*_identity(), _imaging(), _assessment(calculated)),
                variables=variables)
