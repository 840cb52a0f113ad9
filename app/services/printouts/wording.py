"""The words printed on paper, in one place: the hook for printing in a language other than the
UI's (issue 18). Every label is translated when `words()` is called, so a printout built inside
`app.i18n.using_language(language)` comes out in that language (the patient's, say).

A layout never writes a fixed English phrase itself; it asks `words()` for its labels.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType

from app.i18n import N_, _, current_language, ngettext, pgettext, using_language, word


def words(language: str | None = None) -> Mapping[str, str]:
    """The printed labels in `language` (default: the current language)."""
    with _maybe(language):
        return MappingProxyType(
            {
                "prescription": _("Prescription"),
                "referral": _("Referral letter"),
                "visit": _("Visit summary"),
                # Translators: the title of a printed appointment slip
                "slip": pgettext("printed slip title", "Appointment"),
                "card": _("Patient card"),
                # Translators: printed label before the patient's name
                "patient": pgettext("printed label", "Patient"),
                # Translators: printed label before the birth date
                "born": pgettext("printed label", "Born"),
                "sex": pgettext("printed label", "Sex"),
                "identifier": pgettext("printed label", "Identifier"),
                "short_number": _("Card number"),
                "date": pgettext("printed label", "Date"),
                "prescriber": pgettext("printed label", "Prescriber"),
                "allergies": pgettext("printed label", "Allergies"),
                "no_known_allergies": _("No known allergies recorded"),
                "medicine": pgettext("printed label", "Medicine"),
                "dose": pgettext("printed label", "Dose"),
                # Translators: printed label: how a medicine is taken (route and frequency)
                "how": pgettext("printed label", "How"),
                "duration": pgettext("printed label", "Duration"),
                "instructions": pgettext("printed label", "Instructions"),
                "signature": pgettext("printed label", "Signature"),
                # Translators: printed label before the facility a patient is referred to
                "to_facility": pgettext("referral to facility", "To"),
                "urgency": pgettext("printed label", "Urgency"),
                "reason": _("Reason for referral"),
                # Translators: printed label before the reason of a visit or appointment
                "reason_short": pgettext("printed label", "Reason"),
                "summary": _("Clinical summary"),
                "note": pgettext("printed label", "Note"),
                "clinician": pgettext("printed label", "Clinician"),
                # Translators: printed label before the date and time of a visit
                "visit_on": pgettext("printed label", "Visit"),
                "vitals": pgettext("printed heading", "Vitals"),
                "diagnoses": pgettext("printed heading", "Diagnoses"),
                "prescriptions": pgettext("printed heading", "Prescriptions"),
                "test_results": pgettext("printed heading", "Test results"),
                "notes": pgettext("printed heading", "Notes"),
                "follow_up": pgettext("printed heading", "Follow-up"),
                "none": _("None recorded"),
                # Translators: printed label before the date and time of an appointment
                "when": pgettext("printed label", "When"),
                "clinic": pgettext("printed label", "Clinic"),
                "bring_card": _("Please bring this slip and your patient card."),
                "card_help": _(
                    "Show this card at every visit. Staff scan the code or type the number."
                ),
            }
        )


def pending_line(count: int) -> str:
    """The warning that the chart has changes the central server has not received yet."""
    return ngettext(
        "Includes {count} change not yet sent to the central server",
        "Includes {count} changes not yet sent to the central server",
        count,
    ).format(count=count)


def printed_line(at: str, user: str) -> str:
    """The foot of every page: when and by whom it was printed."""
    return _("Printed {at} by {user}").format(at=at, user=user)


def for_days(count: int) -> str:
    """How long a medicine is taken, in a medication line ("for 5 days")."""
    return ngettext("for {count} day", "for {count} days", count).format(count=count)


#: Frequency codes as prescribed (resources/codes/medication_terms.json) in words; translated
#: where printed (`frequency_words`).
FREQUENCIES: Mapping[str, str] = MappingProxyType(
    {
        "OD": N_("once daily"),
        "QD": N_("once daily"),
        "BID": N_("twice daily"),
        "TID": N_("three times daily"),
        "QID": N_("four times daily"),
        "QHS": N_("at bedtime"),
        "PRN": N_("when needed"),
        "STAT": N_("immediately, once"),
        "QW": N_("once a week"),
    }
)


def frequency_words(code: str) -> str:
    """A frequency code in words, in the current language; an unknown code as written."""
    return word(FREQUENCIES, code)


@contextmanager
def _maybe(language: str | None) -> Iterator[str]:
    if language is None:
        yield current_language()
    else:
        with using_language(language) as chosen:
            yield chosen
