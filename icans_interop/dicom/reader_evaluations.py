"""TID 1500 row 12 (Qualitative Evaluations) back into impression, grade and neuro assessment.

Items are recognised by concept name following :data:`.fields.ASSESSMENT_DOMAINS` and the
keys of :mod:`.fields`. ICE item scores are TEXT integers (checked against the model's ranges and
the written total); clinical signs are CODE, or TEXT holding the sign's label or key. The
assessment time is the Observation DateTime of the assessment items (inherited from the
container when they have none); differing times keep the first with a warning.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from icans_interop import fields
from icans_interop.dicom import tags
from icans_interop.dicom.layout import grade_of_key, sign_labels
from icans_interop.dicom.part10 import Item
from icans_interop.dicom.reader_context import ReadContext, where
from icans_interop.dicom.values import parse_datetime
from icans_interop.issues import error, warning
from icans_interop.model import ICE_ITEMS, IceItems, NeuroAssessment

#: Concept-name key of a row 13 coded item -> (NeuroAssessment field, value role, repeats).
_CODED = {name: (field, role, repeats)
          for field, name, role, repeats in fields.ASSESSMENT_DOMAINS}
SIGNS_KEY = fields.SIGNS_KEY
ICE_TOTAL_KEY = fields.ICE_SCORE_KEY


def read_evaluations(ctx: ReadContext, container: Item, path: str,
                     data: dict[str, Any]) -> None:
    """Impression, ICANS grade and neuro assessment from the Qualitative Evaluations."""
    record = ctx.provenance.record
    record("assessment", where(path, ctx.name(container)), replace=False)
    inherited = _observation_datetime(ctx, container, None, path)
    assessment: dict[str, Any] = {}
    times: list[dt.datetime] = []
    ice: dict[str, str] = {}
    ice_total: str | None = None
    signs: list[str] = []
    impressions: list[str] = []
    ice_field = fields.ICE_FIELD_BY_KEY
    counts: dict[str, int] = {}
    for item, item_path, name, key, value_type, _rel in ctx.content_items(container, path):
        at = where(item_path, name)
        is_assessment = key in _CODED or key in ice_field or key in (SIGNS_KEY, ICE_TOTAL_KEY)
        if is_assessment:
            when = _observation_datetime(ctx, item, inherited, item_path)
            if when is not None:
                times.append(when)
        if key == "impression" and value_type == "TEXT":
            text = ctx.string(item, tags.TEXT_VALUE)
            if text is not None:
                impressions.append(text)
                record("impression", at, replace=False)
        elif key == fields.GRADE_KEY and value_type == "CODE":
            grade = ctx.key(ctx.value_code(item), fields.GRADE_VALUE_ROLE, item_path, name)
            if grade is not None and "icans_grade" not in data:
                data["icans_grade"] = grade_of_key()[grade]
                record("icans_grade", at)
        elif key in ice_field and value_type == "TEXT":
            ice.setdefault(ice_field[key], ctx.string(item, tags.TEXT_VALUE) or "")
            record(f"assessment.ice.{ice_field[key]}", at, replace=False)
        elif key == ICE_TOTAL_KEY and value_type == "TEXT":
            ice_total = ctx.string(item, tags.TEXT_VALUE)
            record("assessment.ice", at, replace=False)
        elif key in _CODED and value_type == "CODE":
            field, role, repeats = _CODED[key]
            found = ctx.key(ctx.value_code(item), role, item_path, name)
            if found is None:
                continue
            if repeats:
                number = counts.get(field, 0)
                counts[field] = number + 1
                record(f"assessment.{field}[{number}]", at)
                record(f"assessment.{field}", at, replace=False)
                assessment.setdefault(field, []).append(found)
            elif field in assessment:
                ctx.issue(warning("inconsistent-value", where(item_path, name),
                                  f"second {field} value {found!r}; the first is used"))
            else:
                assessment[field] = found
                record(f"assessment.{field}", at)
        elif key == SIGNS_KEY and value_type == "CODE":
            found = ctx.key(ctx.value_code(item), fields.SIGN_ROLE, item_path, name)
            if found is not None:
                record(f"assessment.signs[{len(signs)}]", at)
                signs.append(found)
        elif key == SIGNS_KEY and value_type == "TEXT":
            label = ctx.string(item, tags.TEXT_VALUE) or ""
            sign = sign_labels().get(label.casefold())
            if sign is None:
                ctx.issue(warning("unknown-code", at,
                                  f"clinical sign {label!r} is not a known sign label; "
                                  "skipped"))
            else:
                record(f"assessment.signs[{len(signs)}]", at)
                signs.append(sign)
        else:
            ctx.skip(item, item_path, name, "the Qualitative Evaluations container")
    if impressions:
        data["impression"] = "\n\n".join(impressions)
    if assessment or ice or signs or ice_total is not None:
        _assessment(ctx, assessment, ice, ice_total, signs, times, path, data)


def _observation_datetime(ctx: ReadContext, item: Item, inherited: dt.datetime | None,
                          path: str) -> dt.datetime | None:
    text = ctx.string(item, tags.OBSERVATION_DATETIME)
    if text is None:
        return inherited
    value = parse_datetime(text, ctx.tz)
    if value is None:
        ctx.issue(error("invalid-value", f"{path} (0040,A032) ObservationDateTime",
                        f"{text!r} is not a DT value; ignored"))
        return inherited
    return value


def _assessment(ctx: ReadContext, coded: dict[str, Any], ice: dict[str, str],
                ice_total: str | None, signs: list[str], times: list[dt.datetime], path: str,
                data: dict[str, Any]) -> None:
    place = f"{path} (C0034375, UMLS, \"Qualitative Evaluations\")"
    assessment: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                  for k, v in coded.items()}
    assessment["signs"] = tuple(signs)
    if times:
        assessment["assessed_at"] = times[0]
        if any(time != times[0] for time in times):
            ctx.issue(warning("inconsistent-value", place, "assessment items have different "
                                                           "Observation DateTimes; the first "
                                                           "is used"))
    if ice:
        assessment["ice"] = _ice(ctx, ice, ice_total, place)
    elif ice_total is not None:
        ctx.issue(warning("missing-required", place,
                          f"ICE total {ice_total!r} without item scores; the model "
                          "needs the eight items"))
    found = ctx.validated(NeuroAssessment, {k: v for k, v in assessment.items()
                                            if v is not None}, place)
    if found is not None:
        data["assessment"] = found


def _ice(ctx: ReadContext, ice: dict[str, str], total: str | None,
         place: str) -> IceItems | None:
    missing = [field for field, _key, _max in ICE_ITEMS if field not in ice]
    if missing:
        ctx.issue(error("missing-required", place,
                        f"ICE item scores missing: {', '.join(missing)}; ICE dropped"))
        return None
    values: dict[str, int] = {}
    for field, text in ice.items():
        if not re.fullmatch(r"[0-9]{1,2}", text.strip()):
            ctx.issue(error("invalid-value", place,
                            f"ICE {field} score {text!r} is not an integer; ICE dropped"))
            return None
        values[field] = int(text)
    items = ctx.validated(IceItems, dict(values), place)
    if items is not None and total is not None and total.strip() != str(items.total):
        ctx.issue(warning("inconsistent-value", place,
                          f"ICE total {total!r} differs from the sum of the items "
                          f"({items.total}); the items are used"))
    return items
