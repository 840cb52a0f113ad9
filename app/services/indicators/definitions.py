"""The monthly indicators' identities and short definitions (docs/reports/indicators.md says
each one in full). The ids are what the CSV, the DHIS2 mapping file and the MeasureReport
groups use; never rename one (IT's mapping files name them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Indicator:
    id: str
    name: str
    numerator: str
    denominator: str | None = None  # None: a count, not a proportion


INDICATORS: tuple[Indicator, ...] = (
    Indicator("visits", "Visits", "Encounters in the month"),
    Indicator("new_registrations", "New registrations", "Patients registered in the month"),
    Indicator(
        "htn_under_care",
        "Hypertension under care",
        "Active hypertension diagnosis (I10–I15) and a visit in the last 12 months",
    ),
    Indicator(
        "dm_under_care",
        "Diabetes under care",
        "Active diabetes diagnosis (E10–E14) and a visit in the last 12 months",
    ),
    Indicator(
        "bp_controlled",
        "BP controlled (HEARTS)",
        "Last BP in the past 3 months below 140/90",
        "Hypertension under care, diagnosed at least 3 months before the month end",
    ),
    Indicator(
        "missed_visits",
        "Missed visits (3+ months)",
        "No visit in the past 3 months",
        "Hypertension or diabetes under care",
    ),
    Indicator(
        "lost_to_follow_up",
        "Lost to follow-up (12 months)",
        "No visit in the past 12 months",
        "Active hypertension or diabetes diagnosis with a visit before",
    ),
    Indicator(
        "follow_up_show_rate",
        "Follow-up show rate",
        "Appointments in the month attended",
        "Appointments in the month not cancelled",
    ),
    Indicator(
        "mcv1_coverage",
        "MCV1 coverage (12-month cohort)",
        "A measles-containing dose by the first birthday",
        "Children turning 12 months in the month",
    ),
    Indicator(
        "penta3_coverage",
        "Penta3 coverage (12-month cohort)",
        "Three pentavalent doses by the first birthday",
        "Children turning 12 months in the month",
    ),
)

BY_ID = {i.id: i for i in INDICATORS}
