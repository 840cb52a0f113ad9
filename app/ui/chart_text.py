"""One-line descriptions of chart items, shared by the summary, pickers and lists."""

from __future__ import annotations

from typing import Any

from app.domain.poc_tests import result_text
from app.domain.reference import vitals_line
from app.i18n import N_, _, code_names, ngettext, say, word
from app.services.dto import ItemView
from app.ui.formatting import number, time_of_day, when

# English msgids: show with `_(KIND_LABELS[kind])` (kind_label()).
KIND_LABELS = {
    "encounter": N_("Encounter"),
    "vitals": N_("Vitals"),
    # Translators: a chart item kind, a diagnosis on the problem list
    "diagnosis": N_("Problem"),
    "allergy": N_("Allergy"),
    "medication": N_("Medication"),
    # Translators: a chart item kind, a clinical note
    "note": N_("Note"),
    # Translators: a chart item kind, a follow-up appointment
    "appointment": N_("Follow-up"),
    "referral": N_("Referral"),
    "test_result": N_("Test result"),
    "immunization": N_("Immunization"),
    "call": N_("Follow-up call"),
}


# N_-marked: shown as `_(text)`.
APPOINTMENT_STATUS = {
    # Translators: an appointment's status
    "booked": N_("Booked"),
    # Translators: an appointment's status
    "fulfilled": N_("Attended"),
    # Translators: an appointment's status
    "noshow": N_("No-show"),
    # Translators: an appointment's status
    "cancelled": N_("Cancelled"),
}
# An allergy's recorded severity, in words.
SEVERITY_TEXT = {"mild": N_("Mild"), "moderate": N_("Moderate"), "severe": N_("Severe")}
# A follow-up call's recorded outcome, in words (N_-marked: shown as `_(text)`).
OUTCOME_TEXT = {
    "agreed-to-come": N_("Agreed to come"),
    "remind-later": N_("Remind later"),
    "wrong-number": N_("Wrong number"),
    "no-answer": N_("No answer"),
    "moved": N_("Moved away"),
    "died": N_("Died"),
    "refused": N_("Refused"),
}


def kind_label(kind: str) -> str:
    """The kind of chart item in the current language ("Problem")."""
    return word(KIND_LABELS, kind)


def vitals_text(measurements: dict[str, Any], bmi: Any = None) -> str:
    """A set of vitals in one line, as the timeline writes it."""
    line = vitals_line(measurements, bmi)
    return say(line) if line else _("no measurements")


def describe(item: ItemView) -> str:
    """What the item is, in one line a clinician recognises."""
    d = item.data
    if item.kind == "diagnosis":
        text = str(d.get("text") or "")
        if not d.get("code"):
            return text
        code = str(d["code"])
        return f"{code} {code_names.recorded_diagnosis(code, text)}".strip()
    if item.kind == "allergy":
        severity = d.get("severity")
        extra = [
            x for x in (d.get("reaction"), word(SEVERITY_TEXT, severity) if severity else None) if x
        ]
        if d.get("criticality") == "high":
            extra.append(_("HIGH criticality"))
        text = str(d.get("substance", "?"))
        if extra:
            # Translators: an allergy and its details ("Penicillin (rash, severe)")
            text = _("{substance} ({details})").format(substance=text, details=", ".join(extra))
        if d.get("unresolved"):
            text = _(
                "{allergy} — not matched to the medicine list: only its exact name is checked"
            ).format(allergy=text)
        return text
    if item.kind == "medication":
        text = (
            f"{d.get('drug')} {number(d.get('dose') or 0)} {d.get('dose_unit', '')} "
            f"{d.get('route', '')} {d.get('frequency', '')}"
        )
        if d.get("duration_days"):
            days = int(d["duration_days"])
            text = ngettext(
                "{prescription} for {count} day", "{prescription} for {count} days", days
            ).format(prescription=text, count=days)
        return " ".join(text.split()) + "".join(medication_markers(d))
    if item.kind == "vitals":
        return vitals_text(d.get("measurements") or {}, d.get("bmi"))
    if item.kind == "note":
        first = (d.get("text") or "").splitlines()
        return (first[0][:90] + ("…" if len(first[0]) > 90 else "")) if first else _("(empty)")
    if item.kind == "encounter":
        started = when(d.get("started_at"))
        if d.get("reason"):
            return _("{time} — {reason} ({status})").format(
                time=started, reason=d["reason"], status=item.status
            )
        return _("{time} ({status})").format(time=started, status=item.status)
    if item.kind == "test_result":
        values = {
            "test": d.get("name", "?"),
            "result": result_text(d),
            "time": when(item.clinical_time),
        }
        if d.get("abnormal"):
            return _("{test}: {result} — abnormal ({time})").format(**values)
        return _("{test}: {result} ({time})").format(**values)
    if item.kind == "immunization":
        day = d.get("given_on") or when(item.clinical_time)
        vaccine = d.get("vaccine", "?")
        if d.get("dose_number"):
            text = _("{vaccine} dose {dose}, {day}").format(
                vaccine=vaccine, dose=d["dose_number"], day=day
            )
        else:
            text = _("{vaccine}, {day}").format(vaccine=vaccine, day=day)
        # Translators: a dose copied from the patient's vaccination card
        return _("{immunization} (card)").format(immunization=text) if d.get("historical") else text
    if item.kind == "referral":
        return _("to {facility}: {reason} ({status})").format(
            facility=d.get("to_facility") or "—", reason=d.get("reason") or "—", status=item.status
        )
    if item.kind == "call":
        code = str(d.get("outcome", "?"))
        outcome = word(OUTCOME_TEXT, code).replace("-", " ")
        if d.get("next_call_on"):
            return _("{outcome}, call again {day} ({time})").format(
                outcome=outcome, day=d["next_call_on"], time=when(item.clinical_time)
            )
        return _("{outcome} ({time})").format(outcome=outcome, time=when(item.clinical_time))
    if item.kind == "appointment":
        return _("{time} with {clinician} ({status})").format(
            time=time_of_day(d.get("start", "")),
            clinician=d.get("clinician", "?"),
            status=word(APPOINTMENT_STATUS, item.status),
        )
    return item.item_id


def medication_markers(data: dict[str, Any]) -> list[str]:
    """What a clinician must see next to a prescription: a given-despite-allergy override with
    its reason, and a drug no allergy or duplicate check could look at."""
    markers = []
    if data.get("override_reason"):
        markers.append(
            _(" — given despite allergy: {reason}").format(reason=data["override_reason"])
        )
    if data.get("unchecked"):
        markers.append(_(" — ⚠ not in the medicine list: allergies and duplicates not checked"))
    return markers


def labelled(item: ItemView) -> str:
    # Translators: a chart item's kind and what it is ("Problem: J18 Pneumonia")
    return _("{kind}: {item}").format(kind=kind_label(item.kind), item=describe(item))
