"""TID 1501 measurement groups back into :class:`~icans_interop.model.Finding` s.

Items are recognised by concept name, in any order, following :data:`.layout.FINDING_QUALIFIERS`
as the writer does. Laterality may come under each Finding Site (rows 6/7) or in the group
(row 11); differing lateralities and repeated single-valued qualifiers keep the first value
with an ``inconsistent-value`` warning. A group without a Finding item (row 3b) is skipped.
"""

from __future__ import annotations

from typing import Any

from icans_interop.dicom import content as c
from icans_interop.dicom import tree as t
from icans_interop.dicom.layout import FINDING_QUALIFIERS
from icans_interop.dicom.reader_context import (
    ReadContext,
    content_items,
    name_key,
    roles,
    where,
)
from icans_interop.issues import error, warning
from icans_interop.model import Finding, SignalObservation

#: Concept-name key of a row 11 qualifier -> (Finding field, value role).
_QUALIFIER_OF = {name: (field, role) for field, name, role, _repeats in FINDING_QUALIFIERS}


def read_group(ctx: ReadContext, group: t.Node, path: str) -> Finding | None:
    """The Finding of one Measurement Group CONTAINER (None, with issues, when unusable)."""
    name = t.item_name(group)
    if (t.string_of(group, c.VALUE_TYPE) != "CONTAINER"
            or name_key(name) != "measurement_group"):
        ctx.skip(group, path, name, "Imaging Measurements")
        return None
    data: dict[str, Any] = {"observation_uid": t.string_of(group, c.OBSERVATION_UID)}
    sites: list[str] = []
    lateralities: list[str] = []
    signals: list[SignalObservation] = []
    qualifiers: dict[str, list[str]] = {}
    for item, item_path, item_name, key, value_type, rel in content_items(group, path):
        if key == "tracking_identifier" and value_type == "TEXT":
            data.setdefault("tracking_id", t.string_of(item, c.TEXT_VALUE))
        elif key == "tracking_uid" and value_type == "UIDREF":
            data.setdefault("tracking_uid", t.string_of(item, c.UID))
        elif rel == c.HAS_OBS_CONTEXT:
            continue  # session, time point context: inherited context the model lacks
        elif value_type != "CODE":
            ctx.skip(item, item_path, item_name, "a measurement group")
        elif key == "finding":
            found = ctx.key(t.item_code(item), "pattern", item_path, item_name)
            if found is not None:
                data.setdefault("pattern", found)
        elif key == "finding_site":
            site = ctx.key(t.item_code(item), "anatomy", item_path, item_name)
            if site is not None:
                sites.append(site)
                lateralities.extend(_site_modifiers(ctx, item, item_path))
        elif key == "laterality":
            found = ctx.key(t.item_code(item), "laterality", item_path, item_name)
            if found is not None:
                lateralities.append(found)
        elif key in _QUALIFIER_OF:
            field, role = _QUALIFIER_OF[key]
            found = ctx.key(t.item_code(item), role, item_path, item_name)
            if found is not None:
                qualifiers.setdefault(field, []).append(found)
        elif key is not None and roles()[key] == "mr_sequence":
            found = ctx.key(t.item_code(item), "signal", item_path, item_name)
            if found is not None:
                signals.append(SignalObservation(sequence=key, signal=found))
        else:
            ctx.skip(item, item_path, item_name, "a measurement group")
    if "pattern" not in data:
        ctx.issue(error("missing-required", where(path, name),
                        "measurement group without a (121071, DCM, \"Finding\") item "
                        "(TID 1501 row 3b); the group is skipped"))
        return None
    data["sites"] = tuple(sites)
    data["signals"] = tuple(signals)
    if lateralities:
        data["laterality"] = lateralities[0]
        if len(set(lateralities)) > 1:
            ctx.issue(warning("inconsistent-value", where(path, name),
                              f"finding sites have different lateralities "
                              f"{sorted(set(lateralities))}; {lateralities[0]!r} used"))
    for field, _name_key, _role, repeats in FINDING_QUALIFIERS:
        values = qualifiers.get(field, [])
        if repeats:
            data[field] = tuple(values)
        elif values:
            data[field] = values[0]
            if len(values) > 1:
                ctx.issue(warning("inconsistent-value", where(path, name),
                                  f"several {field} values {values}; the first is used"))
    return ctx.validated(Finding, {k: v for k, v in data.items() if v is not None},
                         where(path, name))


def _site_modifiers(ctx: ReadContext, site: t.Node, path: str) -> list[str]:
    """Lateralities under one Finding Site (TID 1501 row 7); other modifiers are skipped."""
    found: list[str] = []
    for item, item_path, name, key, value_type, _rel in content_items(site, path):
        if key == "laterality" and value_type == "CODE":
            laterality = ctx.key(t.item_code(item), "laterality", item_path, name)
            if laterality is not None:
                found.append(laterality)
        else:
            ctx.skip(item, item_path, name, "a finding site")
    return found
