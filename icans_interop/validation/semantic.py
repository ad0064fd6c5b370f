"""The shared semantic rules, run on the domain model once for both formats.

Format validators read a record into an :class:`ImagingReport` and call :func:`check_report`
with a *locator* that turns model paths (``findings[1].sites[0]``) into locations of their own
format (an SR content-item path, a FHIR element path): the reader's provenance
(:class:`icans_interop.reading.Provenance`), so every issue points at the item the value was
read from. :func:`check_grade_statements` holds codes that state a grade elsewhere in the
record (ICD-10-CM G92.0x in FHIR) against the report's grade.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from icans_interop import grading, profile, terminology
from icans_interop.issues import Issue, error, information, warning
from icans_interop.model import ImagingReport
from icans_interop.reading import GradeStatement

Locator = Callable[[str], str]

_LATERAL: Final = frozenset({"left", "right", "unilateral"})
_EXCLUSIVE_DISTRIBUTIONS: Final = (frozenset({"focal", "diffuse"}),
                                   frozenset({"focal", "generalized"}))


def _identity(path: str) -> str:
    return path


def _label(key: str) -> str:
    concept = terminology.load().get(key)
    return concept.label if concept is not None else key


def check_report(report: ImagingReport, locate: Locator | None = None) -> list[Issue]:
    """All semantic issues of a report, located through ``locate``."""
    where = locate or _identity
    issues: list[Issue] = []
    rules = profile.pattern_rules()
    seen_tracking: dict[str, int] = {}
    seen_observation: dict[str, int] = {}
    for index, finding in enumerate(report.findings):
        base = f"findings[{index}]"
        pattern = _label(finding.pattern)
        rule = rules.get(finding.pattern)
        if rule is not None:
            for site_index, site in enumerate(finding.sites):
                if site not in rule.sites:
                    issues.append(warning(
                        "site-outside-pattern", where(f"{base}.sites[{site_index}]"),
                        f"finding site {_label(site)!r} ({site}) is not among the regions the "
                        f"knowledge entry gives for pattern {pattern!r}"))
            for signal_index, obs in enumerate(finding.signals):
                if (obs.sequence, obs.signal) not in rule.sequence_signals:
                    issues.append(warning(
                        "signal-not-in-pattern", where(f"{base}.signals[{signal_index}]"),
                        f"{_label(obs.sequence)} {_label(obs.signal).lower()} is not a "
                        f"(sequence, signal) pair the knowledge entry describes for pattern "
                        f"{pattern!r}"))
            qualifiers = [("distribution", q) for q in finding.distribution]
            qualifiers += [(name, value) for name, value in (
                ("number", finding.number), ("morphology", finding.morphology)) if value]
            for name, value in qualifiers:
                if value not in rule.qualifiers:
                    issues.append(information(
                        "qualifier-not-in-pattern", where(f"{base}.{name}"),
                        f"qualifier {_label(value)!r} is not one the knowledge entry names "
                        f"for pattern {pattern!r}"))
        if "symmetric" in finding.distribution and finding.laterality in _LATERAL:
            issues.append(error(
                "contradiction", where(f"{base}.laterality"),
                f"a symmetric finding cannot have laterality {_label(finding.laterality or '')!r}"
            ))
        for pair in _EXCLUSIVE_DISTRIBUTIONS:
            if pair <= set(finding.distribution):
                issues.append(error(
                    "contradiction", where(f"{base}.distribution"),
                    f"distribution is both {' and '.join(sorted(pair))}"))
        if finding.number == "single" and finding.distribution and "multifocal" in \
                finding.distribution:
            issues.append(error("contradiction", where(f"{base}.number"),
                                "a single finding cannot be multifocal"))
        for uid, seen, what in ((finding.tracking_uid, seen_tracking, "tracking_uid"),
                                (finding.observation_uid, seen_observation, "observation_uid")):
            if uid is None:
                continue
            if uid in seen:
                issues.append(error(
                    "duplicate-uid", where(f"{base}.{what}"),
                    f"{what.replace('_', ' ')} {uid} is also used by finding {seen[uid] + 1}"))
            else:
                seen[uid] = index
    issues.extend(_check_grade(report, where))
    return issues


def _check_grade(report: ImagingReport, where: Locator) -> list[Issue]:
    if report.assessment is None or report.icans_grade is None:
        return []
    result = grading.compute_grade(report.assessment)
    if report.icans_grade == result.grade:
        return []
    if report.icans_grade == 5:
        return [information("grade-not-computable", where("icans_grade"),
                            "grade 5 (death due to ICANS) is recorded; the assessment gives "
                            f"grade {result.grade}, which cannot confirm or refute it")]
    driving = ", ".join(result.driving_domains) or "no domain"
    return [error(
        "grade-mismatch", where("icans_grade"),
        f"recorded ICANS grade {report.icans_grade} differs from the ASTCT grade "
        f"{result.grade} computed from the assessment (driven by {driving}; ICE score "
        f"{result.ice_score if result.ice_score is not None else 'not done'})")]


def check_grade_statements(report: ImagingReport,
                           statements: tuple[GradeStatement, ...]) -> list[Issue]:
    """Each code stating an ICANS grade must agree with the recorded grade (else with the
    grade computed from the assessment; grade 5 cannot be computed, only noted)."""
    recorded = report.icans_grade
    computed = (grading.compute_grade(report.assessment).grade
                if report.assessment is not None else None)
    issues: list[Issue] = []
    for statement in statements:
        grade, code, location = statement.grade, statement.code, statement.location
        if recorded is not None:
            if grade != recorded:
                issues.append(error(
                    "grade-mismatch", location,
                    f"ICD-10-CM {code} (ICANS grade {grade}) differs from the recorded ICANS "
                    f"grade {recorded}"))
        elif computed is not None and grade != computed:
            if grade == 5:
                issues.append(information(
                    "grade-not-computable", location,
                    f"ICD-10-CM {code} (grade 5, death due to ICANS); the assessment gives "
                    f"grade {computed}, which cannot confirm or refute it"))
            else:
                issues.append(error(
                    "grade-mismatch", location,
                    f"ICD-10-CM {code} (ICANS grade {grade}) differs from the ASTCT grade "
                    f"{computed} computed from the assessment"))
    return issues
