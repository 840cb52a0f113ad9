"""The DHIS2 mapping file: which DHIS2 data element (and category option combo) receives
which number of which monthly indicator. Bundled in resources/reports/dhis2_mapping.json; IT
puts an edited copy in the vault's data directory as dhis2_mapping.json, which then replaces
it (docs/reports/indicators.md). A file that does not fit is refused with every problem named
by its place in the file, never a traceback."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

MAPPING_FILE = "dhis2_mapping.json"
VALUES = ("numerator", "denominator", "score")
# A DHIS2 uid: 11 characters, a letter then letters or digits.
UID = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}$")


class MappingFileError(ValueError):
    """The mapping file cannot be used; `problems` says where and why."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class DataValueMapping:
    indicator: str
    value: str  # numerator | denominator | score
    data_element: str
    category_option_combo: str | None


@dataclass(frozen=True)
class Dhis2Mapping:
    source: str  # "bundled" or the file's name
    org_unit: str | None
    data_set: str | None
    data_values: tuple[DataValueMapping, ...]


def parse_mapping(text: str, source: str, indicators: Collection[str]) -> Dhis2Mapping:
    """The mapping in `text`; MappingFileError naming each problem when it does not fit."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MappingFileError(source, [f"not JSON (line {exc.lineno}: {exc.msg})"]) from None
    if not isinstance(data, dict):
        raise MappingFileError(source, ["the file must hold one JSON object"])
    problems: list[str] = []
    org_unit = _optional_uid(data, "orgUnit", problems)
    data_set = _optional_uid(data, "dataSet", problems)
    entries = data.get("dataValues")
    found: list[DataValueMapping] = []
    if not isinstance(entries, list):
        problems.append("dataValues: must be a list of mappings")
        entries = []
    seen: set[str] = set()
    for n, entry in enumerate(entries, start=1):
        where = f"dataValues[{n}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be an object")
            continue
        mapped = _entry(entry, where, indicators, problems)
        if mapped is None:
            continue
        key = f"{mapped.data_element}/{mapped.category_option_combo}"
        if key in seen:
            problems.append(f"{where}.dataElement: {key} is mapped twice")
        seen.add(key)
        found.append(mapped)
    if problems:
        raise MappingFileError(source, problems)
    return Dhis2Mapping(source, org_unit, data_set, tuple(found))


def _entry(
    entry: dict[str, Any], where: str, indicators: Collection[str], problems: list[str]
) -> DataValueMapping | None:
    before = len(problems)
    indicator = entry.get("indicator")
    if indicator not in indicators:
        problems.append(
            f"{where}.indicator: {indicator!r} is not one of {', '.join(sorted(indicators))}"
        )
    value = entry.get("value", "numerator")
    if value not in VALUES:
        problems.append(f"{where}.value: {value!r} is not one of {', '.join(VALUES)}")
    element = entry.get("dataElement")
    if not isinstance(element, str) or not UID.match(element):
        problems.append(f"{where}.dataElement: {element!r} is not a DHIS2 id (11 characters)")
    combo = _optional_uid(entry, "categoryOptionCombo", problems, where)
    if len(problems) > before:
        return None
    return DataValueMapping(str(indicator), str(value), str(element), combo)


def _optional_uid(
    data: dict[str, Any], key: str, problems: list[str], where: str = ""
) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not UID.match(value):
        name = f"{where}.{key}" if where else key
        problems.append(f"{name}: {value!r} is not a DHIS2 id (11 characters)")
        return None
    return value


def bundled_mapping_text() -> str:
    return resources.files("resources").joinpath("reports", MAPPING_FILE).read_text("utf-8")


def read_mapping_file(path: Path, indicators: Collection[str]) -> Dhis2Mapping:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingFileError(path.name, [f"cannot be read ({type(exc).__name__})"]) from None
    return parse_mapping(text, path.name, indicators)


def mapping_for(data_dir: Path | None, indicators: Collection[str]) -> Dhis2Mapping:
    """The data directory's mapping file when there is one (an unusable one is refused, not
    silently replaced: IT meant theirs), else the bundled one."""
    if data_dir is not None and (Path(data_dir) / MAPPING_FILE).is_file():
        return read_mapping_file(Path(data_dir) / MAPPING_FILE, indicators)
    return parse_mapping(bundled_mapping_text(), "bundled " + MAPPING_FILE, indicators)
