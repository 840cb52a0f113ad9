"""A month's indicators as a file: CSV, a DHIS2 dataValueSet (JSON) and a FHIR R4
MeasureReport (JSON). Each is a pure function of the report (and the mapping), written with
sorted keys and fixed separators, so the same month gives byte-identical files. No generation
time is written (it would make two runs differ); no patient data is in any of them, only
counts.

Unsynced commands (docs/reports/indicators.md): the CSV's first line is a comment row
("# warning: ..."), the DHIS2 file carries it as the dataValueSet's and each value's
`comment`, and the MeasureReport's status is "pending" (FHIR: the data may still change)
with its narrative saying why. The CLI and the Reports page say it too."""

from __future__ import annotations

import calendar
import csv
import io
import json
from datetime import date
from typing import Any

from app.domain.errors import ValidationError
from app.i18n import _, formatting, ngettext
from app.services.indicators.definitions import BY_ID
from app.services.indicators.report import MonthReport
from app.store.report_mapping import Dhis2Mapping

FORMATS = ("csv", "dhis2", "measurereport")
MEASURE_BASE = "https://fieldchart.example.org/fhir/Measure/"
INDICATOR_SYSTEM = "https://fieldchart.example.org/fhir/CodeSystem/monthly-indicators"
POPULATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-population"


def warning(report: MonthReport) -> str | None:
    """What a person must know before sending the file on, or None."""
    if not report.unsynced_commands:
        return None
    n = report.unsynced_commands
    first = date.fromisoformat(f"{report.month}-01")
    return ngettext(
        "{count} command recorded since {day} is not yet synced; these figures may change "
        "after the next sync",
        "{count} commands recorded since {day} are not yet synced; these figures may change "
        "after the next sync",
        n,
    ).format(count=formatting.count(n), day=formatting.day(first))


def _score_text(score: float | None) -> str:
    return "" if score is None else f"{score:.4f}".rstrip("0").rstrip(".") or "0"


def to_csv(report: MonthReport) -> str:
    out = io.StringIO()
    note = warning(report)
    if note:
        out.write(f"# warning: {note}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["month", "indicator", "name", "numerator", "denominator", "score"])
    for v in report.values:
        writer.writerow(
            [
                report.month,
                v.id,
                _(BY_ID[v.id].name),  # the indicator names are N_-marked (definitions.py)
                v.numerator,
                "" if v.denominator is None else v.denominator,
                _score_text(v.score) if v.denominator is not None else "",
            ]
        )
    return out.getvalue()


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def to_dhis2(report: MonthReport, mapping: Dhis2Mapping, org_unit: str | None = None) -> str:
    """A dataValueSet for DHIS2's /api/dataValueSets. `org_unit` (e.g. from the command line)
    wins over the mapping file's; one of them must name it."""
    unit = org_unit or mapping.org_unit
    if not unit:
        raise ValidationError(
            _("No DHIS2 organisation unit: set orgUnit in {file} or give one").format(
                file=mapping.source
            ),
            "orgUnit",
        )
    period = report.month.replace("-", "")
    note = warning(report)
    values = []
    for m in mapping.data_values:
        v = report.value(m.indicator)
        number = {"numerator": v.numerator, "denominator": v.denominator, "score": v.score}[m.value]
        if number is None:
            continue  # a proportion of no one: DHIS2 stores no value rather than a zero
        entry: dict[str, Any] = {
            "dataElement": m.data_element,
            "period": period,
            "orgUnit": unit,
            "value": str(number) if not isinstance(number, float) else _score_text(number),
        }
        if m.category_option_combo:
            entry["categoryOptionCombo"] = m.category_option_combo
        if note:
            entry["comment"] = note
        values.append(entry)
    document: dict[str, Any] = {"period": period, "orgUnit": unit, "dataValues": values}
    if mapping.data_set:
        document["dataSet"] = mapping.data_set
    if note:
        document["comment"] = note
    return _dump(document)


def measure_report(report: MonthReport, reporter: str | None = None) -> dict[str, Any]:
    """A FHIR R4 MeasureReport (type summary): one group per indicator with its populations
    (initial-population, denominator, numerator) and measureScore."""
    first = f"{report.month}-01"
    year, month = (int(x) for x in report.month.split("-"))
    last = f"{report.month}-{calendar.monthrange(year, month)[1]:02d}"
    groups = []
    for v in report.values:
        d = BY_ID[v.id]
        populations = [_population("numerator", v.numerator)]
        if v.denominator is not None:
            populations.insert(0, _population("denominator", v.denominator))
            populations.insert(0, _population("initial-population", v.denominator))
        group: dict[str, Any] = {
            "id": v.id.replace("_", "-"),
            "code": {"coding": [{"system": INDICATOR_SYSTEM, "code": v.id, "display": d.name}]},
            "population": populations,
        }
        if v.score is not None:
            group["measureScore"] = {"value": v.score}
        groups.append(group)
    note = warning(report)
    resource: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "id": f"fieldchart-monthly-{report.month}",
        "status": "pending" if note else "complete",
        "type": "summary",
        "measure": MEASURE_BASE + "fieldchart-monthly-indicators",
        # The month's end, not the time of the run: two runs must give the same file.
        "date": f"{last}T23:59:59Z",
        "period": {"start": first, "end": last},
        "group": groups,
    }
    if reporter:
        resource["reporter"] = {"reference": reporter}
    if note:
        resource["text"] = {
            "status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>Warning: {note}</p></div>',
        }
    return resource


def _population(code: str, count: int) -> dict[str, Any]:
    return {"code": {"coding": [{"system": POPULATION_SYSTEM, "code": code}]}, "count": count}


def to_measure_report(report: MonthReport, reporter: str | None = None) -> str:
    return _dump(measure_report(report, reporter))
