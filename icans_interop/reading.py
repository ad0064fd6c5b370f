"""What a format reader returns: the report, the issues, and where each value came from.

Both readers (:func:`icans_interop.dicom.read`, :func:`icans_interop.fhir.read`) return a
:class:`Reading`. It unpacks like the pair ``report, issues = read(source)``; its
:attr:`~Reading.provenance` maps each model path the reader filled (``findings[2].sites[0]``,
``icans_grade``, ``assessment.seizure``) to its location in the source, in the format's own
terms (an SR content-item path with its concept name, a FHIR element path). Validators look
locations up there instead of walking the format a second time, so an issue found on the model
points at the very item the value was read from.

:attr:`~Reading.grade_statements` are the codes in the source that *state* an ICANS grade
besides the report's own grade (in FHIR: each ICD-10-CM G92.0x coding of a Condition or of
``DiagnosticReport.conclusionCode``), for the rule that they must agree with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from icans_interop.issues import Issue
from icans_interop.model import ImagingReport, SrInstance

#: Reader issue codes that mean "this part of the source is not in the report".
SKIPPED_CODES: Final = frozenset({"ignored-item", "unknown-code", "misplaced-item",
                                  "wrong-role", "unresolved-reference", "unknown-item"})


class Provenance(Mapping[str, str]):
    """Model path -> location in the source; :meth:`locate` falls back to the nearest parent."""

    def __init__(self, root: str = "") -> None:
        self._where: dict[str, str] = {}
        self.root = root

    def record(self, path: str, location: str, *, replace: bool = True) -> None:
        """Remember that the value at model ``path`` was read from ``location``."""
        if replace or path not in self._where:
            self._where[path] = location

    def merge(self, prefix: str, other: Mapping[str, str]) -> None:
        """Record every entry of ``other`` (paths relative to ``prefix``)."""
        for path, location in other.items():
            self._where[prefix + path] = location

    def locate(self, path: str) -> str:
        """Where ``path`` came from; else its nearest recorded parent; else the root."""
        current = path
        while current:
            found = self._where.get(current)
            if found is not None:
                return found
            cut = max(current.rfind("."), current.rfind("["))
            current = current[:cut] if cut > 0 else ""
        return self.root

    def __getitem__(self, path: str) -> str:
        return self._where[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


@dataclass(frozen=True, slots=True)
class GradeStatement:
    """A code in the source that states an ICANS grade (e.g. ICD-10-CM G92.03 -> 3)."""

    location: str
    code: str
    grade: int


class Reading(tuple[ImagingReport | None, list[Issue]]):
    """One read: the pair ``(report, issues)`` (the report None when none could be made),
    with the provenance of the report's values and the grade statements of the source."""

    provenance: Provenance
    grade_statements: tuple[GradeStatement, ...]
    #: The SR instance read (its own UIDs and SOP Class), when the source is an SR: what a
    #: FHIR bundle of this report points at instead of UIDs derived for a new SR.
    sr_instance: SrInstance | None

    def __new__(cls, report: ImagingReport | None, issues: list[Issue],
                provenance: Provenance | None = None,
                grade_statements: tuple[GradeStatement, ...] = (),
                sr_instance: SrInstance | None = None) -> Reading:
        self = super().__new__(cls, (report, issues))
        self.provenance = provenance if provenance is not None else Provenance()
        self.grade_statements = grade_statements
        self.sr_instance = sr_instance
        return self

    @property
    def skipped(self) -> list[Issue]:
        """What the source holds that the report does not carry (items skipped, unknown or
        misplaced codes): a converter counts and lists them rather than drop them silently."""
        return [i for i in self.issues if i.code in SKIPPED_CODES]

    @property
    def report(self) -> ImagingReport | None:
        """The report read (None when none could be made)."""
        return self[0]

    @property
    def issues(self) -> list[Issue]:
        """Everything the reader found wrong or noteworthy."""
        return self[1]
