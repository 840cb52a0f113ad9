"""The printed documents as HTML (the subset Qt's QTextDocument renders), built from the chart's
DTOs. Pure: no Qt, no clock (the moment printed comes in `Page`); app/ui renders the HTML to a
PDF or a printer. Every value from the chart is escaped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from app.domain.poc_tests import result_text
from app.domain.reference import vitals_line
from app.i18n import N_, _, formatting, say
from app.services.dto import ChartView, ItemView
from app.services.printouts.card_code import short_number
from app.services.printouts.wording import for_days, frequency_words, pending_line, printed_line

QR_IMAGE = "fieldchart-qr:card"  # the card's QR image, added to the document by app/ui
# Translated where printed (`urgency_words`).
URGENCY = {
    "routine": N_("Routine"),
    "urgent": N_("Urgent"),
    "asap": N_("As soon as possible"),
    "stat": N_("Immediately (stat)"),
}


@dataclass(frozen=True)
class Page:
    """What every page states besides the document: who printed it, when, where, and how many
    of the chart's changes the central server has not received yet."""

    words: Mapping[str, str]
    printed_at: datetime
    user: str
    pending_changes: int = 0
    clinic: str = ""


def day(iso: str | None) -> str:
    """A date or an instant as the device's calendar day, in the printout's language."""
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso)
    return formatting.day((moment.astimezone() if moment.tzinfo else moment).date())


def moment(iso: str | None) -> str:
    """An instant as the device's local date and time, in the printout's language."""
    if not iso:
        return ""
    m = datetime.fromisoformat(iso)
    return formatting.moment(m.astimezone() if m.tzinfo else m)


def birth_day(iso: str) -> str:
    """A birth date (YYYY-MM-DD) in the printout's language; as stored if it is not one."""
    try:
        return day(iso)
    except ValueError:
        return iso


def urgency_words(code: str) -> str:
    english = URGENCY.get(code)
    return _(english) if english else code  # english: one of the N_-marked URGENCY


def _number(x: Any) -> str:
    return formatting.number(float(x)) if x is not None else ""


def _rows(pairs: Iterable[tuple[str, str]]) -> str:
    return "".join(
        f"<tr><td class='label'>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in pairs
    )


def _list(lines: Sequence[str], w: Mapping[str, str]) -> str:
    if not lines:
        return f"<p class='none'>{escape(w['none'])}</p>"
    return "<ul>" + "".join(f"<li>{escape(x)}</li>" for x in lines) + "</ul>"


def _head(title: str, chart: ChartView, page: Page) -> str:
    p, w = chart.patient, page.words
    ident = ", ".join(i["value"] for i in p.identifiers) or p.patient_id
    html = [
        # i18n: ignore (the page's style sheet)
        "<html><head><style>"
        "body{font-family:sans-serif;font-size:11pt} h1{font-size:16pt;margin:0}"
        " td.label{color:#444;padding-right:12px} .warn{color:#a00000;font-weight:bold;"
        "border:1px solid #a00000;padding:4px} .foot{color:#555;font-size:8pt}"
        "</style></head><body>",
        f"<h1>{escape(title)}</h1>",
    ]
    if page.clinic:
        html.append(f"<p>{escape(w['clinic'])}: {escape(page.clinic)}</p>")
    html.append(
        "<table>"
        + _rows(
            [
                (w["patient"], f"{p.family}, {p.given}"),
                (
                    w["born"],
                    _("{date} ({age})").format(
                        date=birth_day(p.birth_date), age=chart.age_label or chart.age_years
                    ),
                ),
                (w["sex"], p.sex),
                (w["identifier"], ident),
            ]
        )
        + "</table>"
    )
    if page.pending_changes:
        text = pending_line(page.pending_changes)
        html.append(f"<p class='warn'>{escape(text)}</p>")
    return "".join(html)


def _foot(page: Page) -> str:
    text = printed_line(formatting.moment(page.printed_at.astimezone()), page.user)
    return f"<p class='foot'>{escape(text)}</p></body></html>"


def allergies_line(chart: ChartView, w: Mapping[str, str]) -> str:
    names = [str(a.data.get("substance") or "?") for a in chart.allergies]
    return ", ".join(names) if names else w["no_known_allergies"]


def medication_line(d: Mapping[str, Any]) -> str:
    frequency = str(d.get("frequency") or "")
    how = " ".join(x for x in (str(d.get("route") or ""), frequency_words(frequency)) if x)
    text = f"{d.get('drug')} {_number(d.get('dose'))} {d.get('dose_unit') or ''}, {how}"
    if d.get("duration_days"):
        text += ", " + for_days(int(d["duration_days"]))
    if d.get("instructions"):
        text += f" ({d['instructions']})"
    return " ".join(text.split())


def prescription(chart: ChartView, items: Sequence[ItemView], prescriber: str, page: Page) -> str:
    w = page.words
    lines = "".join(f"<li>{escape(medication_line(i.data))}</li>" for i in items)
    return (
        _head(w["prescription"], chart, page)
        + "<table>"
        + _rows(
            [
                (w["date"], formatting.day(page.printed_at.astimezone().date())),
                (w["prescriber"], prescriber),
                (w["allergies"], allergies_line(chart, w)),
            ]
        )
        + "</table>"
        + f"<ol>{lines}</ol>"
        + f"<p><br/>{escape(w['signature'])}: ______________________</p>"
        + _foot(page)
    )


def referral(chart: ChartView, item: ItemView, page: Page) -> str:
    w, d = page.words, item.data
    urgency = str(d.get("urgency") or "routine")
    summary = [str(s.get("text") or "") for s in d.get("summary") or []]
    html = (
        _head(w["referral"], chart, page)
        + "<table>"
        + _rows(
            [
                (w["date"], day(d.get("referred_at") or item.clinical_time)),
                (w["to_facility"], str(d.get("to_facility") or "")),
                (w["urgency"], urgency_words(urgency)),
                (w["clinician"], item.recorded_by),
                (w["allergies"], allergies_line(chart, w)),
            ]
        )
        + "</table>"
        + f"<h3>{escape(w['reason'])}</h3><p>{escape(str(d.get('reason') or ''))}</p>"
        + f"<h3>{escape(w['summary'])}</h3>"
        + _list(summary, w)
    )
    if d.get("note"):
        html += f"<h3>{escape(w['note'])}</h3><p>{escape(str(d['note']))}</p>"
    return html + f"<p><br/>{escape(w['signature'])}: ______________________</p>" + _foot(page)


def _in(encounter_id: str, items: Iterable[ItemView], kind: str) -> list[ItemView]:
    return [
        i
        for i in items
        if i.kind == kind and i.data.get("encounter_id") == encounter_id and not i.entered_in_error
    ]


def visit(
    chart: ChartView,
    encounter: ItemView,
    items: Sequence[ItemView],
    follow_ups: Sequence[ItemView],
    page: Page,
) -> str:
    """One encounter: `items` is every item of the chart (vitals, diagnoses, prescriptions,
    results and notes recorded in it are picked by their encounter id)."""
    w, e = page.words, encounter.data
    eid = encounter.item_id
    vitals = [
        f"{moment(v.clinical_time)}: {say(vitals_line(v.data.get('measurements') or {}, bmi))}"
        for v in _in(eid, items, "vitals")
        for bmi in [v.data.get("bmi")]
    ]
    diagnoses = [
        " ".join(x for x in (str(d.data.get("code") or ""), str(d.data.get("text") or "")) if x)
        for d in _in(eid, items, "diagnosis")
    ]
    meds = [medication_line(m.data) for m in _in(eid, items, "medication")]
    results = [
        f"{r.data.get('name') or r.data.get('test')}: {result_text(r.data)}"
        f" ({moment(r.clinical_time)})"
        for r in _in(eid, items, "test_result")
    ]
    notes = [str(n.data.get("text") or "") for n in _in(eid, items, "note")]
    follow = [
        f"{moment(a.data.get('start'))} — {a.data.get('clinician') or ''}"
        + (f" ({a.data['reason']})" if a.data.get("reason") else "")
        for a in follow_ups
    ]
    return (
        _head(w["visit"], chart, page)
        + "<table>"
        + _rows(
            [
                (w["visit_on"], moment(e.get("started_at") or encounter.clinical_time)),
                (w["reason_short"], str(e.get("reason") or "")),
                (w["clinician"], encounter.recorded_by),
                (w["allergies"], allergies_line(chart, w)),
            ]
        )
        + "</table>"
        + "".join(
            f"<h3>{escape(w[key])}</h3>{_list(lines, w)}"
            for key, lines in (
                ("vitals", vitals),
                ("diagnoses", diagnoses),
                ("prescriptions", meds),
                ("test_results", results),
                ("notes", notes),
                ("follow_up", follow),
            )
        )
        + _foot(page)
    )


def slip(chart: ChartView, appointment: ItemView, page: Page) -> str:
    w, d = page.words, appointment.data
    pairs = [
        (w["when"], moment(d.get("start") or appointment.clinical_time)),
        (w["clinician"], str(d.get("clinician") or "")),
    ]
    if d.get("reason"):
        pairs.append((w["reason_short"], str(d["reason"])))
    return (
        _head(w["slip"], chart, page)
        + "<table style='font-size:14pt'>"
        + _rows(pairs)
        + "</table>"
        + f"<p>{escape(w['bring_card'])}</p>"
        + _foot(page)
    )


def card(chart: ChartView, qr_size_px: int, page: Page) -> str:
    """A small card (A6, cut to size): name, birth date, identifier, the QR code and under it
    the short number for when the code will not scan."""
    p, w = chart.patient, page.words
    ident = ", ".join(i["value"] for i in p.identifiers) or p.patient_id
    warn = ""
    if page.pending_changes:
        warn = f"<p class='warn'>{escape(pending_line(page.pending_changes))}</p>"
    clinic = f" — {escape(page.clinic)}" if page.clinic else ""
    return (
        "<html><head><style>body{font-family:sans-serif;font-size:10pt}"
        " .warn{color:#a00000;font-size:8pt} .num{font-size:15pt;font-weight:bold}"
        " .foot{color:#555;font-size:7pt}</style></head><body>"
        f"<p><b>{escape(w['card'])}</b>{clinic}</p>"
        f"<p style='font-size:15pt'><b>{escape(p.family)}, {escape(p.given)}</b></p>"
        "<table>"
        + _rows([(w["born"], birth_day(p.birth_date)), (w["identifier"], ident)])
        + "</table>"
        f"<p align='center'><img src='{QR_IMAGE}' width='{qr_size_px}' height='{qr_size_px}'/>"
        f"<br/>{escape(w['short_number'])}: <span class='num'>"
        f"{escape(short_number(p.patient_id))}</span></p>"
        f"<p style='font-size:8pt'>{escape(w['card_help'])}</p>" + warn + _foot(page)
    )
