"""One facility-month's indicators (and the twelve months up to it, for the plots), read from
the read models in one transaction. The result depends only on what is recorded and on the
month asked: the clock is not read, so re-running a past month gives identical output while
nothing new is recorded for it."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.reference import Catalog
from app.projections import indicator_rows, patient_links
from app.services.indicators.compute import Facts, IndicatorValue, Month, compute, gather
from app.store.database import Transaction


@dataclass(frozen=True)
class MonthReport:
    month: str  # "2026-11"
    values: tuple[IndicatorValue, ...]
    # Commands recorded on this device from the month's first day on that the server has not
    # accepted yet (pending or needing attention): the month's figures may still change when
    # they sync, and a file sent on says so.
    unsynced_commands: int

    def value(self, indicator: str) -> IndicatorValue:
        return next(v for v in self.values if v.id == indicator)


def who_codes(catalog: Catalog) -> dict[str, str]:
    """Vaccine id (and "cvx:<code>") -> WHO/EPI antigen code, from the bundled list."""
    codes: dict[str, str] = {}
    for vaccine in catalog.vaccines.values():
        if vaccine.who_code:
            codes[vaccine.id] = vaccine.who_code
            if vaccine.cvx:
                codes["cvx:" + vaccine.cvx] = vaccine.who_code
    return codes


def read_facts(conn: Transaction, catalog: Catalog) -> Facts:
    # A record merged into another chart is that person: counted once, as the survivor (with
    # the survivor's registration), with both records' visits, readings and appointments.
    # So a merge, like a late record, changes the figures of the months it touches.
    survivor = patient_links.replacements(conn)
    return gather(
        ((survivor.get(r[0], r[0]), *r[1:]) for r in indicator_rows.item_facts(conn)),
        (r for r in indicator_rows.patient_facts(conn) if r[0] not in survivor),
        (
            (a, survivor.get(pid, pid), day, status)
            for a, pid, day, status in indicator_rows.appointment_facts(conn)
        ),
        who_codes(catalog),
    )


def unsynced_since(by_month: dict[str, int], month: Month) -> int:
    """Unsynced commands recorded from the month's first day on."""
    return sum(count for recorded, count in by_month.items() if recorded >= str(month))


def month_report(conn: Transaction, catalog: Catalog, month: Month) -> MonthReport:
    facts = read_facts(conn, catalog)
    unsynced = unsynced_since(indicator_rows.unsynced_by_month(conn), month)
    return MonthReport(str(month), compute(facts, month), unsynced)


def month_series(
    conn: Transaction, catalog: Catalog, month: Month, months: int = 12
) -> list[MonthReport]:
    """The reports of the `months` months ending with `month`, oldest first (read once)."""
    facts = read_facts(conn, catalog)
    by_month = indicator_rows.unsynced_by_month(conn)
    result = []
    for back in range(months - 1, -1, -1):
        m = month.minus(back)
        result.append(MonthReport(str(m), compute(facts, m), unsynced_since(by_month, m)))
    return result
