"""The monthly indicators' identities and short definitions (docs/reports/indicators.md says
each one in full). The ids are what the CSV, the DHIS2 mapping file and the MeasureReport
groups use; never rename one (IT's mapping files name them)."""

from __future__ import annotations

from dataclasses import dataclass

from app.i18n import N_


@dataclass(frozen=True)
class Indicator:
    """`name`, `numerator` and `denominator` are N_-marked English: translate where shown."""

    id: str
    name: str
    numerator: str
    denominator: str | None = None  # None: a count, not a proportion


INDICATORS: tuple[Indicator, ...] = (
    Indicator("visits", N_("Visits"), N_("Encounters in the month")),
    Indicator("new_registrations", N_("New registrations"), N_("Patients registered in the month")),
    Indicator(
        "htn_under_care",
        N_("Hypertension under care"),
        N_("Active hypertension diagnosis (I10–I15) and a visit in the last 12 months"),
    ),
    Indicator(
        "dm_under_care",
        N_("Diabetes under care"),
        N_("Active diabetes diagnosis (E10–E14) and a visit in the last 12 months"),
    ),
    Indicator(
        "bp_controlled",
        N_("BP controlled (HEARTS)"),
        N_("Last BP in the past 3 months below 140/90"),
        N_("Hypertension under care, diagnosed at least 3 months before the month end"),
    ),
    Indicator(
        "missed_visits",
        N_("Missed visits (3+ months)"),
        N_("No visit in the past 3 months"),
        N_("Hypertension or diabetes under care"),
    ),
    Indicator(
        "lost_to_follow_up",
        N_("Lost to follow-up (12 months)"),
        N_("No visit in the past 12 months"),
        N_("Active hypertension or diabetes diagnosis with a visit before"),
    ),
    Indicator(
        "follow_up_show_rate",
        N_("Follow-up show rate"),
        N_("Appointments in the month attended"),
        N_("Appointments in the month not cancelled"),
    ),
    Indicator(
        "mcv1_coverage",
        N_("MCV1 coverage (12-month cohort)"),
        N_("A measles-containing dose by the first birthday"),
        N_("Children turning 12 months in the month"),
    ),
    Indicator(
        "penta3_coverage",
        N_("Penta3 coverage (12-month cohort)"),
        N_("Three pentavalent doses by the first birthday"),
        N_("Children turning 12 months in the month"),
    ),
)

BY_ID = {i.id: i for i in INDICATORS}
