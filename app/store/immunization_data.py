"""Loads the bundled vaccine list and the routine immunization schedule, and the schedule IT
may put in a vault's data directory (`immunization_schedule.json`) in place of the bundled one.

A schedule file is checked whole: one problem and the file is not used (the bundled schedule
stays in effect and the problem is logged); a half-read schedule could call a child up to date
who is not. `fieldchart immunization-schedule check FILE` says what is wrong before IT installs
it. The format is in docs/clinical/immunizations.md and resources/README.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from app.domain.immunization_schedule import (
    Duration,
    ImmunizationSchedule,
    ScheduledDose,
    Series,
    Vaccine,
    parse_duration,
)
from app.domain.values import SEXES

SCHEDULE_FILE = "immunization_schedule.json"  # in a vault's data directory
BUNDLED_SOURCE = "bundled"
_REFERENCE_BIRTH = date(2000, 1, 31)  # to compare ages ("4 weeks" vs "1 month")

log = logging.getLogger(__name__)


class ScheduleFileError(ValueError):
    """A schedule file that cannot be used; `problems` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@lru_cache(maxsize=1)
def bundled_vaccines() -> Mapping[str, Vaccine]:
    """resources/codes/vaccines.json by vaccine id."""
    data = json.loads(
        resources.files("resources").joinpath("codes", "vaccines.json").read_text("utf-8")
    )
    return {
        e["id"]: Vaccine(
            id=e["id"],
            name=e["name"],
            cvx=e.get("cvx"),
            who_code=e.get("who_code"),
            doses=int(e.get("doses", 1)),
            route=e.get("route"),
            site=e.get("site"),
        )
        for e in data["vaccines"]
    }


@lru_cache(maxsize=1)
def bundled_schedule() -> ImmunizationSchedule:
    """resources/protocols/who_immunization_schedule.json (checked by tests)."""
    text = (
        resources.files("resources")
        .joinpath("protocols", "who_immunization_schedule.json")
        .read_text("utf-8")
    )
    return parse_schedule(json.loads(text), bundled_vaccines(), BUNDLED_SOURCE)


def read_schedule_file(path: Path) -> ImmunizationSchedule:
    """The schedule in `path`, or ScheduleFileError naming every problem."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScheduleFileError(
            [f"cannot be read ({exc.strerror or type(exc).__name__})"]
        ) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ScheduleFileError([f"is not valid JSON ({exc})"]) from None
    return parse_schedule(data, bundled_vaccines(), str(path))


def schedule_for(data_dir: Path) -> ImmunizationSchedule:
    """The override in `data_dir` when it is there and valid, else the bundled schedule."""
    path = Path(data_dir) / SCHEDULE_FILE
    if not path.is_file():
        return bundled_schedule()
    try:
        return read_schedule_file(path)
    except ScheduleFileError as exc:
        # No patient data here: the problems name keys and values of an IT-edited file.
        log.warning(
            "%s is not used (the bundled schedule is): %s", SCHEDULE_FILE, "; ".join(exc.problems)
        )
        return bundled_schedule()


def parse_schedule(
    data: object, vaccines: Mapping[str, Vaccine], source: str
) -> ImmunizationSchedule:
    """A schedule from its JSON form; ScheduleFileError listing every problem found."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise ScheduleFileError(["is not a JSON object"])
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        problems.append('"version" is missing (a text such as "clinic-2027-1")')
    raw_series = data.get("series")
    if not isinstance(raw_series, list) or not raw_series:
        problems.append('"series" must be a non-empty list')
        raw_series = []
    series: list[Series] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw_series):
        found = _series(entry, f"series[{index}]", vaccines, seen, problems)
        if found is not None:
            series.append(found)
    if problems:
        raise ScheduleFileError(problems)
    title = data.get("title")
    return ImmunizationSchedule(
        version=str(version).strip(),
        title=title if isinstance(title, str) else "",
        series=tuple(series),
        source=source,
    )


def _series(
    entry: object,
    where: str,
    vaccines: Mapping[str, Vaccine],
    seen: set[str],
    problems: list[str],
) -> Series | None:
    if not isinstance(entry, dict):
        problems.append(f"{where} is not an object")
        return None
    series_id = entry.get("id")
    if not isinstance(series_id, str) or not series_id.strip():
        problems.append(f'{where}: "id" is missing')
        return None
    where = f"{where} ({series_id!r})"
    if series_id in seen:
        problems.append(f"{where}: the id is used twice")
    seen.add(series_id)
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f'{where}: "name" is missing')
    listed = entry.get("vaccines")
    if not isinstance(listed, list) or not listed:
        problems.append(f'{where}: "vaccines" must list vaccine ids of vaccines.json')
        listed = []
    unknown = [str(v) for v in listed if v not in vaccines]
    if unknown:
        problems.append(
            f"{where}: unknown vaccine ids {unknown} (known: {', '.join(sorted(vaccines))})"
        )
    sex = entry.get("sex")
    if sex is not None and sex not in SEXES:
        problems.append(f'{where}: "sex" must be one of {", ".join(SEXES)}')
    raw_doses = entry.get("doses")
    if not isinstance(raw_doses, list) or not raw_doses:
        problems.append(f'{where}: "doses" must be a non-empty list')
        raw_doses = []
    doses = [_dose(d, f"{where} doses[{i}]", i + 1, problems) for i, d in enumerate(raw_doses)]
    return Series(
        id=series_id,
        name=str(name or series_id),
        vaccines=tuple(str(v) for v in listed),
        doses=tuple(d for d in doses if d is not None),
        sex=sex,
    )


def _dose(entry: object, where: str, number: int, problems: list[str]) -> ScheduledDose | None:
    if not isinstance(entry, dict):
        problems.append(f"{where} is not an object")
        return None
    if entry.get("dose") != number:
        problems.append(f'{where}: "dose" must be {number} (doses are numbered 1, 2, ... in order)')
    ages: dict[str, Duration | None] = {}
    for key, required in (
        ("min_age", True),
        ("recommended_age", True),
        ("overdue_after", True),
        ("min_interval", False),
        ("max_age", False),
    ):
        value = entry.get(key)
        if value is None:
            if required:
                problems.append(f'{where}: "{key}" is missing (e.g. "6 weeks")')
            ages[key] = None
            continue
        parsed = parse_duration(value)
        if parsed is None:
            problems.append(
                f'{where}: "{key}" {value!r} is not an age like "6 weeks", "9 months", "4 years"'
            )
        ages[key] = parsed
    min_age, recommended, overdue = ages["min_age"], ages["recommended_age"], ages["overdue_after"]
    max_age = ages["max_age"]
    if min_age and recommended and _days(recommended) < _days(min_age):
        problems.append(f'{where}: "recommended_age" is below "min_age"')
    if min_age and max_age and _days(max_age) <= _days(min_age):
        problems.append(f'{where}: "max_age" must be above "min_age"')
    if overdue is not None and _days(overdue) < 1:
        problems.append(f'{where}: "overdue_after" must be at least "1 day"')
    if min_age is None or recommended is None or overdue is None:
        return None
    return ScheduledDose(
        dose=number,
        min_age=min_age,
        recommended_age=recommended,
        overdue_after=overdue,
        min_interval=ages["min_interval"] or Duration(0, "days"),
        max_age=max_age,
    )


def _days(duration: Duration) -> int:
    return (duration.after(_REFERENCE_BIRTH) - _REFERENCE_BIRTH).days


def schedule_summary(schedule: ImmunizationSchedule) -> dict[str, Any]:
    """The schedule as plain data (the CLI's `show`)."""
    return {
        "version": schedule.version,
        "title": schedule.title,
        "source": schedule.source,
        "series": [
            {
                "id": s.id,
                "name": s.name,
                "vaccines": list(s.vaccines),
                **({"sex": s.sex} if s.sex else {}),
                "doses": [
                    {
                        "dose": d.dose,
                        "min_age": str(d.min_age),
                        "recommended_age": str(d.recommended_age),
                        "min_interval": str(d.min_interval),
                        "overdue_after": str(d.overdue_after),
                        **({"max_age": str(d.max_age)} if d.max_age else {}),
                    }
                    for d in s.doses
                ],
            }
            for s in schedule.series
        ],
    }
