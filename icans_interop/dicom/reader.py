"""Read a DICOM SR (TID 1500) into an :class:`~icans_interop.model.ImagingReport`.

The reader is for files from *any* producer, so it is tolerant and never raises:

* input may be a Dataset, a path, bytes or a binary file object; anything unreadable
  (not DICOM, truncated, too large, too deep for pydicom's parser) gives an ``unreadable``,
  ``too-large`` or ``too-deep`` issue and no report;
* bytes in Explicit VR Little Endian are parsed directly (:func:`content.parse_part10`), other
  transfer syntaxes and character sets through ``dcmread``; either way the data become a plain
  tree bounded by :data:`MAX_DEPTH` levels and :data:`MAX_ITEMS` items;
* the tree is walked by concept name, so the order of items does not matter;
* codes are mapped back to concept keys with :func:`terminology.lookup_dicom` (SRT/SNM3 are
  read as SCT; legacy SNOMED-RT code values such as ``G-C0E3`` are translated with pydicom's
  SNOMED map); unknown codes give ``unknown-code`` warnings, recognised items the model cannot
  carry (measurements, image references, modifiers) give ``ignored-item`` notes;
* a bad value drops only the field it belongs to (``invalid-value``); a missing value the model
  requires (Patient ID, Study Instance UID, Study Date, Content Date) gives
  ``missing-required`` and no report.

Locations are PS3.3 content-item paths (root ``1``, its third child ``1.3``) followed by the
item's concept name, or ``(gggg,eeee) Keyword`` for header attributes. The layout tables are
those of :mod:`.writer`, so the two stay one-to-one.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import warnings
from collections.abc import Mapping
from functools import lru_cache
from io import BytesIO
from typing import IO, Any, Final, TypeVar

from pydantic import BaseModel, ValidationError
from pydicom import dcmread
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from icans_interop import terminology
from icans_interop.dicom import content as c
from icans_interop.dicom import writer as w
from icans_interop.dicom.sopclasses import SR_SOP_CLASSES
from icans_interop.issues import Issue, error, information, warning
from icans_interop.model import (
    ICE_ITEMS,
    Finding,
    IceItems,
    ImagingReport,
    NeuroAssessment,
    Patient,
    SignalObservation,
    Study,
)

#: Deepest content tree accepted (PS3.16 templates nest well under 10 levels).
MAX_DEPTH: Final = 64
#: Most content items accepted in one document.
MAX_ITEMS: Final = 100_000
#: Largest encoded input accepted (bytes).
MAX_BYTES: Final = 64 * 1024 * 1024

#: Procedure Code Sequence (0008,1032) of the General Study module (a fallback procedure).
PROCEDURE_CODE_SEQUENCE: Final = 0x00081032

#: Value types of items the model has no field for (measurements, image references).
_NOT_CARRIED_TYPES: Final = frozenset({"NUM", "IMAGE", "SCOORD", "SCOORD3D", "TCOORD",
                                       "COMPOSITE", "WAVEFORM"})
#: Header attribute of each Patient / Study field (issue locations).
_PATIENT_FIELDS: Final = {"id": c.PATIENT_ID, "id_issuer": c.ISSUER_OF_PATIENT_ID,
                          "family_name": c.PATIENT_NAME, "given_name": c.PATIENT_NAME,
                          "birth_date": c.PATIENT_BIRTH_DATE, "sex": c.PATIENT_SEX}
_STUDY_FIELDS: Final = {"instance_uid": c.STUDY_INSTANCE_UID, "date": c.STUDY_DATE,
                        "time": c.STUDY_TIME, "accession_number": c.ACCESSION_NUMBER,
                        "description": c.STUDY_DESCRIPTION,
                        "referring_physician": c.REFERRING_PHYSICIAN_NAME}

Source = Dataset | bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes]
M = TypeVar("M", bound=BaseModel)

_DA = re.compile(r"^(\d{4})\.?(\d{2})\.?(\d{2})$")
_TM = re.compile(r"^(\d{2}):?(?:(\d{2}):?(?:(\d{2})(?:\.(\d{1,6}))?)?)?$")
_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?"
                 r"([+-]\d{4})?$")
_OFFSET = re.compile(r"^([+-])(\d{2})(\d{2})$")


def read(source: Source, *, max_bytes: int = MAX_BYTES) -> tuple[ImagingReport | None,
                                                                list[Issue]]:
    """The report in ``source`` (or None) and every issue found; never raises."""
    issues: list[Issue] = []
    stage = "load"
    try:
        # pydicom warns on malformed values; they become issues here instead. (The filter is
        # process-wide while it is active, as warnings filters are.)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            node = _load(source, issues, max_bytes)
            if node is None:
                return None, issues
            stage = "walk"
            return _DocumentReader(node, issues).report(), issues
    except c.LimitExceeded as exc:
        issues.append(error(exc.code, "", str(exc)))
    except RecursionError:
        issues.append(error("too-deep", "", "the DICOM data nests too deeply to be parsed"))
    except MemoryError:
        issues.append(error("too-large", "", "the DICOM data is too large to be read"))
    except Exception as exc:  # the boundary: malformed input must never escape as exception
        if stage == "load":
            issues.append(error("unreadable", "", f"cannot read the DICOM data: "
                                                  f"{type(exc).__name__}: {exc}"))
        else:  # the data were read; failing on them is our bug, not the file's
            issues.append(error("internal-error", "", f"the SR reader failed: "
                                                      f"{type(exc).__name__}: {exc}"))
    return None, issues


# --------------------------------------------------------------------------------------------
# Input


def _load(source: Source, issues: list[Issue], max_bytes: int) -> c.Node | None:
    """The input as a plain tree (see :mod:`.content`), or None with an issue."""
    def bad_element(where: str, message: str) -> None:
        issues.append(error("invalid-value", where, message))

    if isinstance(source, Dataset):
        return c.plain(source, bad_element, MAX_DEPTH, MAX_ITEMS)
    data = _bytes_of(source, issues, max_bytes)
    if data is None:
        return None
    try:
        node = c.parse_part10(data, MAX_DEPTH, MAX_ITEMS)
    except c.Truncated as exc:
        issues.append(error("unreadable", "", f"truncated DICOM data: {exc}"))
        return None
    except c.Unsupported:
        node = None  # another transfer syntax or character set: let pydicom parse it
    if node is not None:
        return node
    try:
        ds = dcmread(BytesIO(data))
    except InvalidDicomError:
        ds = None
    except (RecursionError, MemoryError):
        raise
    except Exception as exc:
        issues.append(error("unreadable", "", f"not a readable DICOM file (truncated or "
                                              f"corrupt): {type(exc).__name__}: {exc}"))
        return None
    if ds is None:  # no preamble / file meta: accept a bare data set if it looks like one
        try:
            ds = dcmread(BytesIO(data), force=True)
        except (RecursionError, MemoryError):
            raise
        except Exception as exc:
            issues.append(error("unreadable", "", f"not a DICOM file: {type(exc).__name__}: "
                                                  f"{exc}"))
            return None
        if c.SOP_CLASS_UID not in ds and c.VALUE_TYPE not in ds:
            issues.append(error("unreadable", "", "not a DICOM file (no DICM prefix, no SR "
                                                  "data)"))
            return None
    return c.plain(ds, bad_element, MAX_DEPTH, MAX_ITEMS)


def _bytes_of(source: Source, issues: list[Issue], max_bytes: int) -> bytes | None:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif isinstance(source, str | os.PathLike):
        try:
            size = os.stat(source).st_size
            if size > max_bytes:
                issues.append(error("too-large", str(source),
                                    f"file has {size} bytes; the limit is {max_bytes}"))
                return None
            with open(source, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            issues.append(error("unreadable", str(source), f"cannot open the file: {exc}"))
            return None
    elif hasattr(source, "read"):
        data = source.read(max_bytes + 1)
        if not isinstance(data, bytes):
            issues.append(error("unreadable", "", "the file object did not return bytes"))
            return None
    else:
        issues.append(error("unreadable", "", f"cannot read DICOM from a "
                                              f"{type(source).__name__}"))
        return None
    if len(data) > max_bytes:
        issues.append(error("too-large", "", f"input exceeds the limit of {max_bytes} bytes"))
        return None
    return data


# --------------------------------------------------------------------------------------------
# Value parsing (DA/TM/DT strings as read; None on anything malformed)


def parse_date(text: str) -> dt.date | None:
    match = _DA.match(text)
    if match is None:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def parse_time(text: str) -> dt.time | None:
    match = _TM.match(text)
    if match is None:
        return None
    micro = int((match[4] or "0").ljust(6, "0"))
    try:
        return dt.time(int(match[1]), int(match[2] or 0), int(match[3] or 0), micro)
    except ValueError:
        return None


def parse_offset(text: str) -> dt.timezone | None:
    match = _OFFSET.match(text)
    if match is None:
        return None
    minutes = int(match[2]) * 60 + int(match[3])
    if minutes > 14 * 60:
        return None
    return dt.timezone(dt.timedelta(minutes=-minutes if match[1] == "-" else minutes))


def parse_datetime(text: str, default_tz: dt.tzinfo | None) -> dt.datetime | None:
    """A DT value; without its own offset it takes ``default_tz`` (None: naive)."""
    match = _DT.match(text)
    if match is None:
        return None
    tz = parse_offset(match[8]) if match[8] else default_tz
    if match[8] and tz is None:
        return None
    try:
        return dt.datetime(int(match[1]), int(match[2] or 1), int(match[3] or 1),
                           int(match[4] or 0), int(match[5] or 0), int(match[6] or 0),
                           int((match[7] or "0").ljust(6, "0")), tzinfo=tz)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# Concept lookups


@lru_cache(maxsize=4096)
def concept_key(scheme: str, value: str) -> str | None:
    """Concept key for a DICOM code; SRT/SNM3 designators and SNOMED-RT ids are accepted."""
    concepts = terminology.load()
    concept = concepts.lookup_dicom(scheme, value)
    if concept is None and scheme in ("SRT", "SNM3", "SCT"):
        concept = concepts.lookup_dicom("SCT", _legacy_snomed().get(value, value))
    return None if concept is None else concept.key


def _legacy_snomed() -> dict[str, str]:
    """pydicom's SNOMED-RT -> SNOMED CT id map (imported only when a legacy code appears)."""
    from pydicom.sr._snomed_dict import mapping

    return mapping["SRT"]


@lru_cache(maxsize=1)
def _grade_of_key() -> dict[str, int]:
    return {key: grade for grade, key in w.grade_keys().items()}


@lru_cache(maxsize=1)
def _sign_labels() -> dict[str, str]:
    """Label or key (case-folded) -> clinical-sign key, for TEXT sign items."""
    labels: dict[str, str] = {}
    for concept in terminology.load().value_set(w.SIGN_ROLE):
        labels[concept.label.casefold()] = concept.key
        labels[concept.key.casefold()] = concept.key
    return labels


@lru_cache(maxsize=1)
def _ice_fields() -> dict[str, str]:
    return {key: field for field, key, _max in ICE_ITEMS}


@lru_cache(maxsize=1)
def _roles() -> dict[str, str]:
    return {concept.key: concept.role for concept in terminology.load()}


# --------------------------------------------------------------------------------------------
# The walk


def person_name(value: str | None) -> str | None:
    """A PN value without trailing (insignificant) component and group delimiters."""
    if value is None:
        return None
    value = "=".join(group.rstrip("^ ") for group in value.split("=")).rstrip("=")
    return value or None


def _where(path: str, name: c.DicomCode | None) -> str:
    return f"{path} {c.describe(name)}"


def _attr(tag: int) -> str:
    return f"{c.tag_text(tag)} {keyword_for_tag(tag)}"


class _DocumentReader:
    """One read: the dataset, the issue list, and the values found so far."""

    def __init__(self, ds: c.Node, issues: list[Issue]) -> None:
        self.ds = ds
        self.issues = issues
        self.tz: dt.tzinfo = dt.UTC  # Timezone Offset From UTC, once read

    # -- issue helpers ----------------------------------------------------------------------

    def _issue(self, issue: Issue) -> None:
        self.issues.append(issue)

    def _header(self, tag: int, required: bool = False) -> str | None:
        """A header string attribute; a conversion failure is an ``invalid-value`` issue."""
        try:
            value = c.string_of(self.ds, tag)
        except Exception as exc:
            self._issue(error("invalid-value", _attr(tag), f"unreadable value: {exc}"))
            return None
        if value is None and required:
            self._issue(error("missing-required", _attr(tag), "required attribute is absent "
                                                              "or empty"))
        return value

    def _validated(self, model: type[M], data: dict[str, Any], where: str,
                   fields: Mapping[str, int] | None = None) -> M | None:
        """``model`` from ``data``; fields with bad values are dropped (if optional).

        ``fields`` maps a field to the header attribute it came from, for the location.
        """
        for _attempt in range(len(data) + 1):
            try:
                return model.model_validate(data)
            except ValidationError as exc:
                dropped = False
                for err in exc.errors():
                    field = str(err["loc"][0]) if err["loc"] else ""
                    info = model.model_fields.get(field)
                    value = data.get(field)
                    location = _attr(fields[field]) if fields and field in fields else where
                    if info is None or info.is_required() or field not in data:
                        self._issue(error("invalid-value", location,
                                          f"{model.__name__}.{field or '?'} = {value!r}: "
                                          f"{err['msg']}"))
                        return None
                    self._issue(error("invalid-value", location,
                                      f"{model.__name__}.{field} = {value!r} dropped: "
                                      f"{err['msg']}"))
                    del data[field]
                    dropped = True
                if not dropped:
                    return None
        return None

    def _key(self, code: c.DicomCode | None, role: str, path: str,
             name: c.DicomCode | None) -> str | None:
        """Concept key of ``code`` if it is a concept of ``role``; else an issue and None."""
        if code is None:
            self._issue(error("missing-required", _where(path, name),
                              "the item has no coded value"))
            return None
        key = concept_key(code.scheme, code.value)
        if key is None:
            self._issue(warning("unknown-code", _where(path, name),
                                f"value {c.describe(code)} is not in the mapping tables; "
                                "skipped"))
            return None
        actual = _roles()[key]
        if actual != role:
            self._issue(error("wrong-role", _where(path, name),
                              f"value {c.describe(code)} is a {actual} concept ({key!r}); "
                              f"a {role} concept is required here"))
            return None
        return key

    def _skip(self, item: c.Node, path: str, name: c.DicomCode | None, where: str) -> None:
        """Issue for an item the encoding has no place for at ``where``."""
        value_type = c.string_of(item, c.VALUE_TYPE) or "?"
        key = None if name is None else concept_key(name.scheme, name.value)
        if value_type in _NOT_CARRIED_TYPES or key in w.NOT_CARRIED:
            self._issue(information("ignored-item", _where(path, name),
                                    f"{value_type} item in {where} is not carried by the "
                                    "model; skipped"))
        elif key is None and name is not None:
            self._issue(warning("unknown-code", _where(path, name),
                                f"{value_type} item with an unknown concept name in {where}; "
                                "skipped"))
        else:
            self._issue(warning("misplaced-item", _where(path, name),
                                f"{value_type} item not expected in {where}; skipped"))

    # -- document ---------------------------------------------------------------------------

    def report(self) -> ImagingReport | None:
        ds = self.ds
        sop_class = self._header(c.SOP_CLASS_UID)
        if sop_class is None:
            self._issue(warning("missing-required", _attr(c.SOP_CLASS_UID),
                                "no SOP Class UID; read as an SR document"))
        elif sop_class not in SR_SOP_CLASSES:
            self._issue(error("wrong-sop-class", _attr(c.SOP_CLASS_UID),
                              f"{sop_class} is not an SR Storage SOP Class"))
            return None
        patient = self._patient()
        study = self._study()
        issued = self._issued()
        if patient is None or study is None or issued is None:
            return None
        data: dict[str, Any] = {"patient": patient, "study": study, "issued": issued}
        self._content(ds, data)
        return self._validated(ImagingReport, data, "1")

    def _patient(self) -> Patient | None:
        data: dict[str, Any] = {"id": self._header(c.PATIENT_ID, required=True)}
        if data["id"] is None:
            return None
        data["id_issuer"] = self._header(c.ISSUER_OF_PATIENT_ID)
        name = self._header(c.PATIENT_NAME)
        if name is not None:
            parts = name.split("=")[0].split("^")  # alphabetic group: Family^Given^Middle...
            data["family_name"] = parts[0].strip() or None
            data["given_name"] = parts[1].strip() if len(parts) > 1 and parts[1].strip() else None
            if any(part.strip() for part in parts[2:]):
                self._issue(information("ignored-item", _attr(c.PATIENT_NAME),
                                        f"name components after the given name in {name!r} "
                                        "are not carried by the model"))
        birth = self._header(c.PATIENT_BIRTH_DATE)
        if birth is not None:
            data["birth_date"] = parse_date(birth)
            if data["birth_date"] is None:
                self._issue(error("invalid-value", _attr(c.PATIENT_BIRTH_DATE),
                                  f"{birth!r} is not a DA date; dropped"))
        sex = self._header(c.PATIENT_SEX)
        if sex is not None:
            data["sex"] = sex
        return self._validated(Patient, {k: v for k, v in data.items() if v is not None},
                               _attr(c.PATIENT_ID), _PATIENT_FIELDS)

    def _study(self) -> Study | None:
        uid = self._header(c.STUDY_INSTANCE_UID, required=True)
        date_text = self._header(c.STUDY_DATE, required=True)
        if uid is None or date_text is None:
            return None
        date = parse_date(date_text)
        if date is None:
            self._issue(error("invalid-value", _attr(c.STUDY_DATE),
                              f"{date_text!r} is not a DA date"))
            return None
        data: dict[str, Any] = {"instance_uid": uid, "date": date}
        time_text = self._header(c.STUDY_TIME)
        if time_text is not None:
            data["time"] = parse_time(time_text)
            if data["time"] is None:
                self._issue(error("invalid-value", _attr(c.STUDY_TIME),
                                  f"{time_text!r} is not a TM time; dropped"))
        data["accession_number"] = self._header(c.ACCESSION_NUMBER)
        data["description"] = self._header(c.STUDY_DESCRIPTION)
        data["referring_physician"] = person_name(self._header(c.REFERRING_PHYSICIAN_NAME))
        return self._validated(Study, {k: v for k, v in data.items() if v is not None},
                               _attr(c.STUDY_INSTANCE_UID), _STUDY_FIELDS)

    def _issued(self) -> dt.datetime | None:
        date_text = self._header(c.CONTENT_DATE, required=True)
        time_text = self._header(c.CONTENT_TIME, required=True)
        if date_text is None or time_text is None:
            return None
        date, time = parse_date(date_text), parse_time(time_text)
        if date is None or time is None:
            self._issue(error("invalid-value", _attr(c.CONTENT_DATE),
                              f"Content Date/Time {date_text!r} {time_text!r} malformed"))
            return None
        offset_text = self._header(c.TIMEZONE_OFFSET_FROM_UTC)
        tz = None if offset_text is None else parse_offset(offset_text)
        if tz is None:
            self._issue(information("assumed-value", _attr(c.TIMEZONE_OFFSET_FROM_UTC),
                                    f"no usable offset ({offset_text!r}); Content Date/Time "
                                    "read as UTC"))
            tz = dt.UTC
        self.tz = tz
        return dt.datetime.combine(date, time, tzinfo=tz)

    def _content(self, root: c.Node, data: dict[str, Any]) -> None:
        value_type = c.string_of(root, c.VALUE_TYPE)
        title = c.item_name(root)
        if value_type != "CONTAINER" or title is None:
            self._issue(error("missing-required", "1", "the document has no root CONTAINER "
                                                      "with a concept name"))
            return
        if concept_key(title.scheme, title.value) != "imaging_measurement_report":
            self._issue(information("ignored-item", _where("1", title),
                                    "document title is not (126000, DCM, \"Imaging Measurement "
                                    "Report\"); read as TID 1500 anyway"))
        procedure: str | None = None
        observer: str | None = None
        findings: list[Finding] = []
        for index, item in enumerate(c.children(root), start=1):
            path = f"1.{index}"
            name = c.item_name(item)
            key = None if name is None else concept_key(name.scheme, name.value)
            rel = c.string_of(item, c.RELATIONSHIP_TYPE)
            value_type = c.string_of(item, c.VALUE_TYPE)
            if key == "language" or key == "image_library":
                continue
            if rel == c.HAS_OBS_CONTEXT:
                if key == "person_observer_name" and value_type == "PNAME" and observer is None:
                    observer = person_name(c.string_of(item, c.PERSON_NAME))
                continue  # other observation context (device, subject, procedure) is inherited
            if key == "procedure_reported" and value_type == "CODE":
                found = self._key(c.item_code(item), "procedure", path, name)
                procedure = procedure or found
            elif key == "imaging_measurements" and value_type == "CONTAINER":
                for number, group in enumerate(c.children(item), start=1):
                    finding = self._group(group, f"{path}.{number}")
                    if finding is not None:
                        findings.append(finding)
            elif key == "qualitative_evaluations" and value_type == "CONTAINER":
                self._evaluations(item, path, data)
            else:
                self._skip(item, path, name, "the TID 1500 root")
        procedure = procedure or self._procedure_from_header()
        if procedure is not None:
            data["procedure"] = procedure
        else:
            self._issue(information("assumed-value", "1", "no known procedure code; the "
                                                          "model default is used"))
        data["observer_name"] = observer
        data["findings"] = tuple(findings)

    def _procedure_from_header(self) -> str | None:
        for tag in (c.PERFORMED_PROCEDURE_CODE_SEQUENCE, PROCEDURE_CODE_SEQUENCE):
            code = c.first_code(self.ds, tag)
            if code is not None:
                key = concept_key(code.scheme, code.value)
                if key is not None and _roles()[key] == "procedure":
                    return key
        return None

    # -- TID 1501 ---------------------------------------------------------------------------

    def _group(self, group: c.Node, path: str) -> Finding | None:
        name = c.item_name(group)
        if (c.string_of(group, c.VALUE_TYPE) != "CONTAINER"
                or name is None or concept_key(name.scheme, name.value) != "measurement_group"):
            self._skip(group, path, name, "Imaging Measurements")
            return None
        data: dict[str, Any] = {"observation_uid": c.string_of(group, c.OBSERVATION_UID)}
        sites: list[str] = []
        lateralities: list[str] = []
        signals: list[SignalObservation] = []
        qualifiers: dict[str, list[str]] = {}
        qualifier_of = {name_key: (field, role) for field, name_key, role, _r
                        in w.FINDING_QUALIFIERS}
        for index, item in enumerate(c.children(group), start=1):
            item_path = f"{path}.{index}"
            item_name = c.item_name(item)
            key = None if item_name is None else concept_key(item_name.scheme, item_name.value)
            value_type = c.string_of(item, c.VALUE_TYPE)
            rel = c.string_of(item, c.RELATIONSHIP_TYPE)
            if key == "tracking_identifier" and value_type == "TEXT":
                data.setdefault("tracking_id", c.string_of(item, c.TEXT_VALUE))
            elif key == "tracking_uid" and value_type == "UIDREF":
                data.setdefault("tracking_uid", c.string_of(item, c.UID))
            elif rel == c.HAS_OBS_CONTEXT:
                continue  # session, time point context: inherited context the model lacks
            elif value_type != "CODE":
                self._skip(item, item_path, item_name, "a measurement group")
            elif key == "finding":
                found = self._key(c.item_code(item), "pattern", item_path, item_name)
                if found is not None:
                    data.setdefault("pattern", found)
            elif key == "finding_site":
                site = self._key(c.item_code(item), "anatomy", item_path, item_name)
                if site is not None:
                    sites.append(site)
                    lateralities.extend(self._site_modifiers(item, item_path))
            elif key == "laterality":
                found = self._key(c.item_code(item), "laterality", item_path, item_name)
                if found is not None:
                    lateralities.append(found)
            elif key in qualifier_of:
                field, role = qualifier_of[key]
                found = self._key(c.item_code(item), role, item_path, item_name)
                if found is not None:
                    qualifiers.setdefault(field, []).append(found)
            elif key is not None and _roles()[key] == "mr_sequence":
                found = self._key(c.item_code(item), "signal", item_path, item_name)
                if found is not None:
                    signals.append(SignalObservation(sequence=key, signal=found))
            else:
                self._skip(item, item_path, item_name, "a measurement group")
        if "pattern" not in data:
            self._issue(error("missing-required", _where(path, name),
                              "measurement group without a (121071, DCM, \"Finding\") item "
                              "(TID 1501 row 3b); the group is skipped"))
            return None
        data["sites"] = tuple(sites)
        data["signals"] = tuple(signals)
        if lateralities:
            data["laterality"] = lateralities[0]
            if len(set(lateralities)) > 1:
                self._issue(warning("inconsistent-value", _where(path, name),
                                    f"finding sites have different lateralities "
                                    f"{sorted(set(lateralities))}; {lateralities[0]!r} used"))
        for field, _name_key, _role, repeats in w.FINDING_QUALIFIERS:
            values = qualifiers.get(field, [])
            if repeats:
                data[field] = tuple(values)
            elif values:
                data[field] = values[0]
                if len(values) > 1:
                    self._issue(warning("inconsistent-value", _where(path, name),
                                        f"several {field} values {values}; the first is used"))
        return self._validated(Finding, {k: v for k, v in data.items() if v is not None},
                               _where(path, name))

    def _site_modifiers(self, site: c.Node, path: str) -> list[str]:
        found: list[str] = []
        for index, item in enumerate(c.children(site), start=1):
            item_path = f"{path}.{index}"
            name = c.item_name(item)
            key = None if name is None else concept_key(name.scheme, name.value)
            if key == "laterality" and c.string_of(item, c.VALUE_TYPE) == "CODE":
                laterality = self._key(c.item_code(item), "laterality", item_path, name)
                if laterality is not None:
                    found.append(laterality)
            else:
                self._skip(item, item_path, name, "a finding site")
        return found

    # -- TID 1500 row 12 --------------------------------------------------------------------

    def _evaluations(self, container: c.Node, path: str, data: dict[str, Any]) -> None:
        """Impression, ICANS grade and neuro assessment from the Qualitative Evaluations."""
        inherited = self._observation_datetime(container, None, path)
        assessment: dict[str, Any] = {}
        times: list[dt.datetime] = []
        ice: dict[str, str] = {}
        ice_total: str | None = None
        signs: list[str] = []
        impressions: list[str] = []
        coded = {name_key: (field, role, repeats) for field, name_key, role, repeats
                 in w.ASSESSMENT_CODES}
        ice_fields = _ice_fields()
        for index, item in enumerate(c.children(container), start=1):
            item_path = f"{path}.{index}"
            name = c.item_name(item)
            key = None if name is None else concept_key(name.scheme, name.value)
            value_type = c.string_of(item, c.VALUE_TYPE)
            is_assessment = key in coded or key in ice_fields or key in (w.SIGNS_KEY,
                                                                         w.ICE_TOTAL_KEY)
            if is_assessment:
                when = self._observation_datetime(item, inherited, item_path)
                if when is not None:
                    times.append(when)
            if key == "impression" and value_type == "TEXT":
                text = c.string_of(item, c.TEXT_VALUE)
                if text is not None:
                    impressions.append(text)
            elif key == w.GRADE_KEY and value_type == "CODE":
                grade = self._key(c.item_code(item), w.GRADE_ROLE, item_path, name)
                if grade is not None:
                    data.setdefault("icans_grade", _grade_of_key()[grade])
            elif key in ice_fields and value_type == "TEXT":
                ice.setdefault(ice_fields[key], c.string_of(item, c.TEXT_VALUE) or "")
            elif key == w.ICE_TOTAL_KEY and value_type == "TEXT":
                ice_total = c.string_of(item, c.TEXT_VALUE)
            elif key in coded and value_type == "CODE":
                field, role, repeats = coded[key]
                found = self._key(c.item_code(item), role, item_path, name)
                if found is None:
                    continue
                if repeats:
                    assessment.setdefault(field, []).append(found)
                elif field in assessment:
                    self._issue(warning("inconsistent-value", _where(item_path, name),
                                        f"second {field} value {found!r}; the first is used"))
                else:
                    assessment[field] = found
            elif key == w.SIGNS_KEY and value_type == "CODE":
                found = self._key(c.item_code(item), w.SIGN_ROLE, item_path, name)
                if found is not None:
                    signs.append(found)
            elif key == w.SIGNS_KEY and value_type == "TEXT":
                label = c.string_of(item, c.TEXT_VALUE) or ""
                sign = _sign_labels().get(label.casefold())
                if sign is None:
                    self._issue(warning("unknown-code", _where(item_path, name),
                                        f"clinical sign {label!r} is not a known sign label; "
                                        "skipped"))
                else:
                    signs.append(sign)
            else:
                self._skip(item, item_path, name, "the Qualitative Evaluations container")
        if impressions:
            data["impression"] = "\n\n".join(impressions)
        if assessment or ice or signs or ice_total is not None:
            self._assessment(assessment, ice, ice_total, signs, times, path, data)

    def _observation_datetime(self, item: c.Node, inherited: dt.datetime | None,
                              path: str) -> dt.datetime | None:
        text = c.string_of(item, c.OBSERVATION_DATETIME)
        if text is None:
            return inherited
        value = parse_datetime(text, self.tz)
        if value is None:
            self._issue(error("invalid-value", f"{path} (0040,A032) ObservationDateTime",
                              f"{text!r} is not a DT value; ignored"))
            return inherited
        return value

    def _assessment(self, fields: dict[str, Any], ice: dict[str, str], ice_total: str | None,
                    signs: list[str], times: list[dt.datetime], path: str,
                    data: dict[str, Any]) -> None:
        where = f"{path} (C0034375, UMLS, \"Qualitative Evaluations\")"
        assessment: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                      for k, v in fields.items()}
        assessment["signs"] = tuple(signs)
        if times:
            assessment["assessed_at"] = times[0]
            if any(t != times[0] for t in times):
                self._issue(warning("inconsistent-value", where, "assessment items have different "
                                                            "Observation DateTimes; the first "
                                                            "is used"))
        if ice:
            assessment["ice"] = self._ice(ice, ice_total, where)
        elif ice_total is not None:
            self._issue(warning("missing-required", where,
                                f"ICE total {ice_total!r} without item scores; the model "
                                "needs the eight items"))
        found = self._validated(NeuroAssessment, {k: v for k, v in assessment.items()
                                                  if v is not None}, where)
        if found is not None:
            data["assessment"] = found

    def _ice(self, ice: dict[str, str], total: str | None, where: str) -> IceItems | None:
        missing = [field for field, _key, _max in ICE_ITEMS if field not in ice]
        if missing:
            self._issue(error("missing-required", where,
                              f"ICE item scores missing: {', '.join(missing)}; ICE dropped"))
            return None
        values: dict[str, int] = {}
        for field, text in ice.items():
            if not re.fullmatch(r"[0-9]{1,2}", text.strip()):
                self._issue(error("invalid-value", where,
                                  f"ICE {field} score {text!r} is not an integer; ICE dropped"))
                return None
            values[field] = int(text)
        items = self._validated(IceItems, dict(values), where)
        if items is not None and total is not None and total.strip() != str(items.total):
            self._issue(warning("inconsistent-value", where,
                                f"ICE total {total!r} differs from the sum of the items "
                                f"({items.total}); the items are used"))
        return items

