"""Rewrite the README's issue-code table from icans_interop/data/issue-codes.csv.

Run after adding a code: ``python tools/readme_issue_table.py``. A test fails while the README
lacks a catalogued code.
"""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- issue-codes:begin -->", "<!-- issue-codes:end -->"


def table() -> str:
    catalogue = ROOT / "icans_interop" / "data" / "issue-codes.csv"
    with catalogue.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows.sort(key=lambda r: (r["area"], r["code"]))
    lines = ["| code | default severity | area | meaning |", "|---|---|---|---|"]
    lines += [f"| `{r['code']}` | {r['severity']} | {r['area']} | {r['description']} |"
              for r in rows]
    return "\n".join(lines)


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text("utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    readme.write_text(f"{head}{BEGIN}\n{table()}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
