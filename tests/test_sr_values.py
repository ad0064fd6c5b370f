"""The validator's VR rules against pydicom's value validators, on generated values.

``validation/sr_values.py`` checks stored values against PS3.5 Table 6.2-1 itself (pydicom's
``validate_value`` is written for setting one value in memory and leaves out several rules).
The two must agree where pydicom has an opinion: every value pydicom rejects, we reject; every
value only we reject breaks one of the stricter rules listed in ``STRICTER_THAN_PYDICOM``.
"""

from __future__ import annotations

import re
from typing import Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.valuerep import VALIDATORS

from icans_interop.validation.sr_values import STRICTER_THAN_PYDICOM, VrChecker

#: Characters each VR's values are drawn from: the VR's own repertoire plus the characters
#: that break it (controls, lower case, separators, non-ASCII, padding).
_ALPHABETS: Final = {
    "AE": "AB z09 _-\\\x01\x7f\u00e9",
    "AS": "0123456789DWMYX \\",
    "CS": "ABZ09 _az-\\\x09\u00e9",
    "DA": "0123456789-. \\",
    "DS": "0123456789+-.eE ,\\",
    "DT": "0123456789+-. \\",
    "IS": "0123456789+-. \\",
    "LO": "Ab 9^=-\\\x00\x01\x1b\x09\u00e9\u4e2d",
    "LT": "Ab 9\\\r\n\t\x01\x0b\u00e9",
    "PN": "Ab^= \\\x01\u00e9",
    "SH": "Ab 9\\\x01\x1b\u00e9",
    "ST": "Ab 9\\\r\n\t\x01\u00e9",
    "TM": "0123456789.-: \\",
    "UI": "0123456789.a \x00\\",
    "UT": "Ab 9\\\r\n\t\x01\x07\u00e9",
}
#: VRs holding one value: a backslash is text there (PS3.5 6.4).
_SINGLE: Final = frozenset({"LT", "ST", "UT"})
_CONTROL: Final = re.compile(r"[\x00-\x1a\x1c-\x1f\x7f]")
#: Values pydicom accepts in the range matching form of queries (PS3.4 C.2.2.2.5).
_RANGE: Final = re.compile(r"-")


def _pydicom_accepts(vr: str, text: str) -> bool:
    """pydicom's validator on each value of ``text`` (split as a multi-valued element is)."""
    validator = VALIDATORS.get(vr)
    if validator is None:
        return True  # pydicom has no rule for this VR (UT)
    parts = [text] if vr in _SINGLE else text.split("\\")
    for part in parts:
        part = part.rstrip("\x00" if vr == "UI" else " ")
        if vr in ("DA", "DT", "TM", "AS", "IS", "DS", "CS", "AE") and not part.strip(" "):
            continue  # an empty value: nothing to validate
        ok, _message = validator(vr, part)
        if not ok:
            return False
    return True


def _stricter_rule(vr: str, text: str, problem: str) -> str | None:
    """Which documented stricter rule our rejection of ``text`` follows (None: unexplained)."""
    parts = [text] if vr in _SINGLE else text.split("\\")
    if any(_CONTROL.search(part) for part in parts) and "control character" in problem:
        return "control-character"
    if vr == "DT" and re.search(r"[+-](1[5-9]|[2-9]\d)\d\d$", text.strip()):
        return "dt-offset"
    if vr in ("DA", "DT", "TM"):
        return "no-range" if any(_RANGE.search(p.strip()[1:]) or p.strip().startswith("-")
                                 for p in parts) else "calendar"
    if vr == "IS" and "32-bit integer" in problem:
        return "integer-range"
    if vr == "PN" and "components" in problem:
        return "pn-components"
    if "characters;" in problem:
        return "length-in-characters"
    if vr == "UI" and "\x00" in text:
        return "uid-padding"
    return None


@pytest.mark.parametrize("vr", sorted(_ALPHABETS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_we_reject_what_pydicom_rejects_and_explain_the_rest(vr: str, data: st.DataObject
                                                              ) -> None:
    text = data.draw(st.text(alphabet=_ALPHABETS[vr], max_size=70), label="value")
    encoded = text.encode("utf-8")
    ours = VrChecker(("utf_8",)).check(vr, encoded)
    theirs = _pydicom_accepts(vr, text)
    if not theirs:
        assert ours is not None, f"pydicom rejects {vr} {text!r}, we accept it"
    elif ours is not None:
        rule = _stricter_rule(vr, text, ours)
        assert rule in STRICTER_THAN_PYDICOM, f"only we reject {vr} {text!r}: {ours}"


@pytest.mark.parametrize(("vr", "value", "rule"), [
    ("DA", "20260230", "calendar"), ("DA", "20260101-", "no-range"),
    ("LO", "a\x01b", "control-character"), ("IS", "4294967296", "integer-range"),
    ("DT", "20261103160500+1900", "dt-offset"), ("PN", "A^B^C^D^E^F", "pn-components"),
])
def test_the_stricter_rules_are_real(vr: str, value: str, rule: str) -> None:
    """Each documented difference exists: pydicom accepts the value, we reject it."""
    assert _pydicom_accepts(vr, value)
    problem = VrChecker().check(vr, value.encode("ascii"))
    assert problem is not None
    assert _stricter_rule(vr, value, problem) == rule
