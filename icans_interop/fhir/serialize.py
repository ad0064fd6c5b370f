"""Compact FHIR JSON text: of plain dicts, and fast of fhir.resources models.

fhir.resources serialises through a Python-level pydantic ``model_serializer`` per element,
which costs more than validating the whole bundle. :func:`model_to_json` walks the same
per-class element order, aliases and primitive-extension fields (``_name``) that
``FHIRAbstractModel._fhir_iter`` uses and hands a plain dict to :mod:`json`; the tests check
it gives the same text as ``model_dump_json()``, and it falls back to that for anything it
does not know.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from typing import Any

from icans_interop.fhir.codes import JsonDict
from icans_interop.fhir.values import iso

_Layout = tuple[str | None, tuple[tuple[str, str, bool, str | None, str | None], ...]]


class _Unsupported(Exception):
    """A value the fast serialiser does not handle: use fhir.resources' own."""


def compact_json(data: Any) -> str:
    """``data`` as compact JSON text (no spaces, non-ASCII kept), as FHIR servers send it."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def to_json(bundle: Any) -> str:
    """Compact FHIR JSON of a bundle: a fhir.resources model, or a plain JSON dict."""
    if isinstance(bundle, dict):
        return compact_json(bundle)
    if not hasattr(bundle, "model_dump_json"):
        raise TypeError(f"cannot serialise {type(bundle).__name__} as FHIR JSON")
    return model_to_json(bundle)


@cache
def _layout(cls: type[Any]) -> _Layout:
    from fhir_core.utils import is_primitive_type

    fields = cls.model_fields
    aliases = cls.get_alias_mapping()
    rows = []
    for element in cls.elements_sequence():
        key = aliases[element]
        info = fields[key]
        primitive = bool(is_primitive_type(info))
        ext_key: str | None = f"{key}__ext"
        if not primitive or ext_key not in fields:
            ext_key = None
        ext_alias = (fields[ext_key].alias or ext_key) if ext_key else None
        rows.append((key, info.alias or key, primitive, ext_key, ext_alias))
    return (cls.get_resource_type() if cls.has_resource_base() else None), tuple(rows)


def _primitive(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, dt.datetime):
        return iso(value)  # pydantic-core writes a zero offset as Z
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return [_primitive(v) for v in value]
    raise _Unsupported(type(value).__name__)  # Decimal, bytes, UUID, float: leave to fhir_core


def _complex(value: Any) -> Any:
    if value is None:  # placeholder in a primitive extension list (``_given: [null, {...}]``)
        return None
    if isinstance(value, list):
        return [_complex(v) for v in value]
    if hasattr(value, "elements_sequence"):
        return _plain(value)
    raise _Unsupported(type(value).__name__)


def _plain(model: Any) -> JsonDict:
    if getattr(model, "__fhir_serialization_summary_only__", False):
        raise _Unsupported("summary mode")
    resource_type, rows = _layout(model.__class__)
    out: JsonDict = {}
    if resource_type is not None:
        out["resourceType"] = resource_type
    values = model.__dict__
    for key, alias, primitive, ext_key, ext_alias in rows:
        value = values.get(key)
        if value is not None:
            value = _primitive(value) if primitive else _complex(value)
            if not (isinstance(value, list) and not value):
                out[alias] = value
        if ext_key is not None:
            ext = values.get(ext_key)
            if ext:
                out[ext_alias or ext_key] = _complex(ext)
    if values.get("fhir_comments") is not None:
        raise _Unsupported("comments")
    return out


def model_to_json(model: Any) -> str:
    """Compact FHIR JSON of a fhir.resources model, as ``model.model_dump_json()`` gives."""
    try:
        data = _plain(model)
    except (_Unsupported, AttributeError, KeyError, TypeError):
        text = model.model_dump_json()
        assert isinstance(text, str)
        return text
    return compact_json(data)
