"""Commands on the knowledge entry, the code tables and case files: ``knowledge``,
``codes``, ``schema``, ``check`` and ``grade``."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from icans_interop.cli.app import EXIT_INVALID, EXIT_UNREADABLE, EXIT_USAGE, app, fail, out
from icans_interop.cli.files import label, read_input
from icans_interop.cli.show import TextOrJson, emit_json, issue_dicts, issue_lines

if TYPE_CHECKING:
    from icans_interop.issues import Issue
    from icans_interop.model import ImagingReport

CaseArgument = Annotated[str, typer.Argument(help="Case file (JSON); - reads standard input.",
                                             metavar="CASE")]
FormatOption = Annotated[TextOrJson, typer.Option("--format", help="Output format.")]


def load_case_issues(data: bytes, where: str) -> tuple[ImagingReport | None, list[Issue]]:
    """A case file's report, or None and located ``case-invalid`` issues; exit 3 when the
    bytes are not a case file at all (a DICOM file or a FHIR resource says so and points to
    the commands that read it)."""
    from icans_interop import sniff
    from icans_interop.case import read_case as read_case_file

    if sniff.kind_of_bytes(data[:4096]) == "sr":
        fail(f"{where}: is a DICOM file, not a case file; use `icans-interop validate` to "
             "check it or `icans-interop convert` to turn it into FHIR", EXIT_UNREADABLE)
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError) as exc:
        fail(f"{where}: not a case file: not valid JSON ({exc})", EXIT_UNREADABLE)
    if isinstance(parsed, dict) and "resourceType" in parsed:
        fail(f"{where}: is a FHIR {parsed['resourceType']} resource, not a case file; use "
             "`icans-interop validate` to check it or `icans-interop convert` to turn it "
             "into an SR", EXIT_UNREADABLE)
    reading = read_case_file(data)
    return reading.report, list(reading.issues)


def read_case(path: str, fmt: TextOrJson = "text") -> ImagingReport:
    """Load a case file or exit: 3 unreadable, 1 invalid (the issues printed, or in JSON)."""
    where = label(path)
    report, issues = load_case_issues(read_input(path), where)
    if report is None:
        if fmt == "json":
            emit_json({"file": where, "valid": False, "issues": issue_dicts(issues)})
        else:
            issue_lines(where, issues)
        raise typer.Exit(EXIT_INVALID)
    return report


@app.command(rich_help_panel="Case files")
def knowledge(fmt: FormatOption = "text") -> None:
    """Show the parsed knowledge entry: patterns, regions, qualifiers, sequences, signs."""
    from icans_interop import knowledge as kb
    from icans_interop import profile

    entry = kb.load()
    rules = profile.pattern_rules()
    if fmt == "json":
        document = entry.model_dump(mode="json")
        for pattern in document["patterns"]:
            key = kb.pattern_key(pattern["name"])
            pattern["concept_key"] = key
            pattern["sites"] = sorted(rules[key].sites) if key in rules else []
        emit_json(document)
        return
    tree = Tree(Text(f"{entry.title} ({', '.join(entry.categories)})", style="bold"))
    for pattern in entry.patterns:
        node = tree.add(Text(pattern.name, style="bold cyan"))
        regions = node.add("Anatomical regions")
        for region in pattern.regions:
            regions.add(str(region))
        node.add("Qualifiers: " + ", ".join(pattern.qualifiers))
        node.add("Sequence / signal: " + "; ".join(
            f"{p.sequence} {p.signal.lower()}" for p in pattern.sequence_signals))
        key = kb.pattern_key(pattern.name)
        if key in rules:
            sites = ", ".join(sorted(rules[key].sites))
            node.add(Text(f"concept keys: sites {sites}", style="dim"))
    tree.add("Clinical signs: " + ", ".join(entry.clinical_signs))
    out.print(tree)


@app.command(rich_help_panel="Case files")
def codes(
    role: Annotated[str | None, typer.Option(
        help="Only the concepts a case field takes (e.g. sites, sequence, signs, seizure).")]
    = None,
    fmt: Annotated[Literal["table", "csv", "json"], typer.Option(
        "--format", help="Output format.")] = "table",
) -> None:
    """List every code the library can emit, with the case field it serves and its source."""
    from icans_interop import terminology
    from icans_interop.model import coded_fields

    terms = terminology.load()
    fields_by_role: dict[str, list[str]] = {}
    for name, field_role in coded_fields().items():
        fields_by_role.setdefault(field_role, []).append(name)
    wanted: str | None = None
    if role is not None:
        by_field = {name.rsplit(".", 1)[-1]: r for name, r in coded_fields().items()}
        wanted = by_field.get(role) or (role if role in fields_by_role else None)
        if wanted is None:
            fail(f"unknown role {role!r}; case fields: {', '.join(sorted(by_field))}",
                 EXIT_USAGE)
    rows = [{"key": c.key, "field": ", ".join(fields_by_role.get(c.role, [])),
             "role": c.role, "label": c.label, "system": k.system, "scheme": k.scheme or "",
             "code": k.code, "display": k.display, "use": k.use, "source": k.source}
            for c in terms if wanted is None or c.role == wanted for k in c.codings]
    if fmt == "json":
        emit_json(rows)
    elif fmt == "csv":
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["key"])
        writer.writeheader()
        writer.writerows(rows)
    else:
        table = Table("key", "field", "scheme", "code", "display", "use")
        for row in rows:
            table.add_row(row["key"], row["field"] or f"({row['role']})",
                          row["scheme"] or row["system"], row["code"], row["display"],
                          row["use"])
        out.print(table)


@app.command(rich_help_panel="Case files")
def schema() -> None:
    """Print the JSON Schema of the case-file format (every field described)."""
    from icans_interop.model import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n")


@app.command(rich_help_panel="Case files")
def check(case: CaseArgument, fmt: FormatOption = "text") -> None:
    """Validate a case file: format, concept keys and the semantic rules (exit 0/1/3)."""
    from icans_interop.validation.semantic import check_report

    where = label(case)
    report = read_case(case, fmt)
    issues = check_report(report)
    valid = not any(i.severity == "error" for i in issues)
    if fmt == "json":
        emit_json({"file": where, "valid": valid, "findings": len(report.findings),
                   "issues": issue_dicts(issues)})
    else:
        issue_lines(where, issues)
        if valid:
            out.print(f"{where}: valid ({len(report.findings)} findings"
                      f"{', ' + str(len(issues)) + ' notes' if issues else ''})")
    if not valid:
        raise typer.Exit(EXIT_INVALID)


@app.command(rich_help_panel="Case files")
def grade(case: CaseArgument, fmt: FormatOption = "text") -> None:
    """Compute the ASTCT 2019 ICANS grade of a case's assessment, domain by domain.

    A case without an assessment (imaging only) has nothing to grade: exit 0 and say so.
    A recorded grade that differs from the computed one exits 1.
    """
    from icans_interop import grading, terminology

    where = label(case)
    report = read_case(case, fmt)
    if report.assessment is None:
        if fmt == "json":
            emit_json({"file": where, "grade": None, "reason": "no assessment to grade",
                       "recorded_grade": report.icans_grade, "issues": []})
        else:
            out.print(f"{where}: no assessment to grade (imaging findings only)")
        return
    result = grading.compute_grade(report.assessment)
    key = grading.icd10cm_key(result.grade) if result.grade else None
    icd: dict[str, Any] | None = None
    if key:
        coding = terminology.load().concept(key).fhir_codings()[0]
        icd = {"system": coding.system, "code": coding.code, "display": coding.display}
    mismatch = report.icans_grade is not None and report.icans_grade != result.grade
    message = (f"recorded grade {report.icans_grade} differs from computed grade "
               f"{result.grade}")
    if fmt == "json":
        from icans_interop.issues import error

        issues = [error("grade-mismatch", "icans_grade", message)] if mismatch else []
        emit_json({"file": where, "grade": result.grade, "domains": dict(result.domains),
                   "ice_score": result.ice_score, "icd10cm": icd,
                   "recorded_grade": report.icans_grade, "issues": issue_dicts(issues)})
    else:
        table = Table("domain", "grade", title=f"ICANS grade {result.grade} (ASTCT 2019)")
        for name, value in result.domains:
            table.add_row(name, str(value),
                          style="bold" if value == result.grade and value else "")
        out.print(table)
        out.print(f"ICE score: {'not done' if result.ice_score is None else result.ice_score}")
        if icd is not None:
            out.print(f"ICD-10-CM: {icd['code']} {icd['display']}")
        if mismatch:
            from icans_interop.cli.app import err

            err.print(f"{where}: {message}")
    if mismatch:
        raise typer.Exit(EXIT_INVALID)

