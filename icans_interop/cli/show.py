"""What the commands print: issues on standard error, JSON documents on standard output.

Scripts use ``--format json`` and never parse the text; the text is for people. When a
command's data go to standard output (``-o -``), its summary goes to standard error so the
data stay clean.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from icans_interop.cli.app import err, out

if TYPE_CHECKING:
    from icans_interop.issues import Issue

TextOrJson = Literal["text", "json"]


def issue_lines(where: str, issues: Iterable[Issue]) -> None:
    """One ``where: severity: [code] location: message`` line per issue, on standard error."""
    for issue in issues:
        err.print(f"{where}: {issue}")


def issue_dicts(issues: Iterable[Issue]) -> list[dict[str, str]]:
    return [issue.to_dict() for issue in issues]


def emit_json(document: Mapping[str, Any] | list[Any], *, to_stderr: bool = False) -> None:
    """A JSON document on one stream, UTF-8, indented, ending in a newline."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    stream = sys.stderr if to_stderr else sys.stdout
    stream.write(text)
    stream.flush()


def say(message: str, *, to_stderr: bool = False) -> None:
    """A line of text for people (standard error when standard output carries data)."""
    (err if to_stderr else out).print(message)
