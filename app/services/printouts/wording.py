"""The words printed on paper, in one place: the hook for printing in a language other than the
UI's (the multilingual issue, #18, supplies the other languages; until then only English).

A layout never writes a fixed English phrase itself; it asks `words(language)` for its labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

ENGLISH: Mapping[str, str] = MappingProxyType(
    {
        "prescription": "Prescription",
        "referral": "Referral letter",
        "visit": "Visit summary",
        "slip": "Appointment",
        "card": "Patient card",
        "patient": "Patient",
        "born": "Born",
        "sex": "Sex",
        "identifier": "Identifier",
        "short_number": "Card number",
        "date": "Date",
        "prescriber": "Prescriber",
        "allergies": "Allergies",
        "no_known_allergies": "No known allergies recorded",
        "medicine": "Medicine",
        "dose": "Dose",
        "how": "How",
        "duration": "Duration",
        "days": "days",
        "instructions": "Instructions",
        "signature": "Signature",
        "to_facility": "To",
        "urgency": "Urgency",
        "reason": "Reason for referral",
        "summary": "Clinical summary",
        "note": "Note",
        "clinician": "Clinician",
        "visit_on": "Visit",
        "vitals": "Vitals",
        "diagnoses": "Diagnoses",
        "prescriptions": "Prescriptions",
        "test_results": "Test results",
        "notes": "Notes",
        "follow_up": "Follow-up",
        "none": "None recorded",
        "when": "When",
        "clinic": "Clinic",
        "bring_card": "Please bring this slip and your patient card.",
        "card_help": "Show this card at every visit. Staff scan the code or type the number.",
        "pending": "Includes {n} change{s} not yet sent to the central server",
        "printed": "Printed {at} by {user}",
    }
)
LANGUAGES: Mapping[str, Mapping[str, str]] = MappingProxyType({"en": ENGLISH})

#: Frequency codes as prescribed (resources/codes/medication_terms.json) in words.
FREQUENCIES_EN: Mapping[str, str] = MappingProxyType(
    {
        "OD": "once daily",
        "QD": "once daily",
        "BID": "twice daily",
        "TID": "three times daily",
        "QID": "four times daily",
        "QHS": "at bedtime",
        "PRN": "when needed",
        "STAT": "immediately, once",
        "QW": "once a week",
    }
)


def words(language: str = "en") -> Mapping[str, str]:
    """The labels of `language`; English where that language has none yet (#18)."""
    chosen = LANGUAGES.get(language, ENGLISH)
    return MappingProxyType({**ENGLISH, **chosen})
