"""The case file — the library's own JSON input format (an ImagingReport as JSON) — read like
the other formats: :func:`read_case` returns a :class:`~icans_interop.reading.Reading` and never
raises.

Its JSON Schema is :func:`icans_interop.model.json_schema`. Each problem is an issue located by
its model path (``findings[0].sites[1]``; ``(root)`` for the whole document): ``case-invalid``
for a field missing or of the wrong type or value, ``unreadable`` for what is not JSON or cannot
be read, ``too-large`` beyond :data:`MAX_BYTES`.
"""

from __future__ import annotations

from typing import Final

from pydantic import ValidationError

from icans_interop import sources
from icans_interop.issues import error, issues_from_validation_error
from icans_interop.model import ImagingReport, case_from_data, load_case
from icans_interop.reading import Reading

#: Largest case file accepted, in bytes (a case with a hundred findings is under 100 kB).
MAX_BYTES: Final = 16 * 1024 * 1024
#: Where an issue about the whole file is located.
ROOT: Final = "(root)"


def read_case(source: object) -> Reading:
    """A case file as a report and its issues (the report None when it is not valid).

    ``source`` is any kind of :mod:`icans_interop.sources`: a path, JSON text (the ``str``
    rule is :func:`icans_interop.sources.is_json_text`), bytes, a binary file object, parsed
    JSON (``dict``) or an :class:`~icans_interop.model.ImagingReport` (returned as it is).
    """
    if isinstance(source, ImagingReport):
        return Reading(source, [])
    try:
        if isinstance(source, dict):
            report = case_from_data(source)
        else:
            raw = sources.read_bytes(source, MAX_BYTES, json_text=True)
            report = load_case(raw.removeprefix(b"\xef\xbb\xbf"))
    except sources.SourceError as exc:
        return Reading(None, [error(exc.code, ROOT, exc.message)])
    except ValidationError as exc:
        return Reading(None, issues_from_validation_error(exc, code="case-invalid"))
    except RecursionError:
        return Reading(None, [error("too-deep", ROOT, "the case file nests too deeply")])
    return Reading(report, [])

