"""TID 1501 measurement groups back into :class:`~icans_interop.model.Finding` s.

Items are recognised by concept name, in any order, following :data:`.fields.FINDING_QUALIFIERS`
as the writer does. Laterality may come under each Finding Site (rows 6/7) or in the group
(row 11); differing lateralities and repeated single-valued qualifiers keep the first value
with an ``inconsistent-value`` warning. A group without a Finding item (row 3b) is skipped.
"""

from __future__ import annotations

from typing import Any

from icans_interop import fields
from icans_interop.dicom import tags
from icans_interop.dicom.content import HAS_OBS_CONTEXT
from icans_interop.dicom.part10 import Item
from icans_interop.dicom.reader_context import ReadContext, name_key, roles, where
from icans_interop.issues import error, warning
from icans_interop.model import Finding, SignalObservation
from icans_interop.reading import Provenance

#: Concept-name key of a row 11 qualifier -> (Finding field, value role).
_QUALIFIER_OF = {name: (field, role)
                 for field, name, role, _repeats in fields.FINDING_QUALIFIERS}


def read_group(ctx: ReadContext, group: Item, path: str) -> tuple[Finding | None, Provenance]:
    """The Finding of one Measurement Group CONTAINER (None, with issues, when unusable),
    with where each of its values came from (paths relative to the finding: ``.sites[0]``)."""
    name = ctx.name(group)
    here = where(path, name)
    found_at = Provenance(here)
    found_at.record("", here)
    if (ctx.parsed.text(group, tags.VALUE_TYPE) != "CONTAINER"
            or name_key(name) != "measurement_group"):
        ctx.skip(group, path, name, "Imaging Measurements")
        return None, found_at
    data: dict[str, Any] = {"observation_uid": ctx.string(group, tags.OBSERVATION_UID)}
    sites: list[str] = []
    lateralities: list[str] = []
    signals: list[SignalObservation] = []
    qualifiers: dict[str, list[str]] = {}
    for item, item_path, item_name, key, value_type, rel in ctx.content_items(group, path):
        at = where(item_path, item_name)
        if key == "tracking_identifier" and value_type == "TEXT":
            data.setdefault("tracking_id", ctx.string(item, tags.TEXT_VALUE))
            found_at.record(".tracking_id", at, replace=False)
        elif key == "tracking_uid" and value_type == "UIDREF":
            data.setdefault("tracking_uid", ctx.string(item, tags.UID))
            found_at.record(".tracking_uid", at, replace=False)
        elif rel == HAS_OBS_CONTEXT:
            continue  # session, time point context: inherited context the model lacks
        elif value_type != "CODE":
            ctx.skip(item, item_path, item_name, "a measurement group")
        elif key == "finding":
            found = ctx.key(ctx.value_code(item), "pattern", item_path, item_name)
            if found is not None and "pattern" not in data:
                data["pattern"] = found
                found_at.record(".pattern", at)
        elif key == "finding_site":
            site = ctx.key(ctx.value_code(item), "anatomy", item_path, item_name)
            if site is not None:
                found_at.record(f".sites[{len(sites)}]", at)
                sites.append(site)
                for laterality, laterality_at in _site_modifiers(ctx, item, item_path):
                    found_at.record(".laterality", laterality_at, replace=False)
                    lateralities.append(laterality)
        elif key == "laterality":
            found = ctx.key(ctx.value_code(item), "laterality", item_path, item_name)
            if found is not None:
                found_at.record(".laterality", at, replace=False)
                lateralities.append(found)
        elif key in _QUALIFIER_OF:
            field, role = _QUALIFIER_OF[key]
            found = ctx.key(ctx.value_code(item), role, item_path, item_name)
            if found is not None:
                values = qualifiers.setdefault(field, [])
                found_at.record(f".{field}", at, replace=False)
                found_at.record(f".{field}[{len(values)}]", at)
                values.append(found)
        elif key is not None and roles()[key] == "mr_sequence":
            found = ctx.key(ctx.value_code(item), "signal", item_path, item_name)
            if found is not None:
                found_at.record(f".signals[{len(signals)}]", at)
                signals.append(SignalObservation(sequence=key, signal=found))
        else:
            ctx.skip(item, item_path, item_name, "a measurement group")
    if "pattern" not in data:
        ctx.issue(error("missing-required", where(path, name),
                        "measurement group without a (121071, DCM, \"Finding\") item "
                        "(TID 1501 row 3b); the group is skipped"))
        return None, found_at
    data["sites"] = tuple(sites)
    data["signals"] = tuple(signals)
    if lateralities:
        data["laterality"] = lateralities[0]
        if len(set(lateralities)) > 1:
            ctx.issue(warning("inconsistent-value", where(path, name),
                              f"finding sites have different lateralities "
                              f"{sorted(set(lateralities))}; {lateralities[0]!r} used"))
    for field, _name_key, _role, repeats in fields.FINDING_QUALIFIERS:
        values = qualifiers.get(field, [])
        if repeats:
            data[field] = tuple(values)
        elif values:
            data[field] = values[0]
            if len(values) > 1:
                ctx.issue(warning("inconsistent-value", where(path, name),
                                  f"several {field} values {values}; the first is used"))
    return ctx.validated(Finding, {k: v for k, v in data.items() if v is not None},
                         here), found_at


def _site_modifiers(ctx: ReadContext, site: Item, path: str) -> list[tuple[str, str]]:
    """(laterality, location) under one Finding Site (TID 1501 row 7); other modifiers are
    skipped."""
    found: list[tuple[str, str]] = []
    for item, item_path, name, key, value_type, _rel in ctx.content_items(site, path):
        if key == "laterality" and value_type == "CODE":
            laterality = ctx.key(ctx.value_code(item), "laterality", item_path, name)
            if laterality is not None:
                found.append((laterality, where(item_path, name)))
        else:
            ctx.skip(item, item_path, name, "a finding site")
    return found
