"""What the Reports page and `fieldchart report` call: a month's indicators, the twelve months
up to it, and the month as a file in one of the export formats.

Who: staff (clinic managers are staff users) and clinicians. Admins manage users, devices and
sync and do not read clinical data, not even counted (docs/reports/indicators.md)."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.errors import RoleError, ValidationError
from app.domain.reference import Catalog
from app.domain.roles import Actor, Role
from app.i18n import _
from app.services.indicators import exports
from app.services.indicators.compute import Month
from app.services.indicators.definitions import BY_ID
from app.services.indicators.report import MonthReport, month_report, month_series
from app.store.database import read_transaction
from app.store.report_mapping import MAPPING_FILE, MappingFileError, mapping_for
from app.store.vault import Vault


@dataclass(frozen=True)
class ExportedReport:
    text: str
    warning: str | None  # unsynced commands: say so before the file is sent on


class ReportService:
    def __init__(self, vault: Vault, catalog: Catalog) -> None:
        self._vault = vault
        self._catalog = catalog

    def _check(self, actor: Actor) -> None:
        if actor.role is Role.ADMIN:
            raise RoleError(
                _("Admins manage users, devices and sync; reports are for clinic staff")
            )

    def month(self, actor: Actor, month: str | Month) -> MonthReport:
        self._check(actor)
        m = month if isinstance(month, Month) else Month.parse(month)
        with read_transaction(self._vault.engine) as conn:
            return month_report(conn, self._catalog, m)

    def series(self, actor: Actor, month: str | Month, months: int = 12) -> list[MonthReport]:
        self._check(actor)
        m = month if isinstance(month, Month) else Month.parse(month)
        with read_transaction(self._vault.engine) as conn:
            return month_series(conn, self._catalog, m, months)

    def export(
        self,
        actor: Actor,
        month: str | Month,
        fmt: str,
        *,
        org_unit: str | None = None,
        reporter: str | None = None,
    ) -> ExportedReport:
        """The month as text in `fmt` (csv | dhis2 | measurereport)."""
        if fmt not in exports.FORMATS:
            raise ValidationError(
                _("Format {format} is not one of {formats}").format(
                    format=repr(fmt), formats=", ".join(exports.FORMATS)
                ),
                "format",
            )
        report = self.month(actor, month)
        if fmt == "csv":
            text = exports.to_csv(report)
        elif fmt == "dhis2":
            try:
                mapping = mapping_for(self._vault.data_dir, BY_ID)
            except MappingFileError as exc:
                # The file's problems by their place in it: IT fixes the file, nothing else.
                raise ValidationError(
                    _("Not usable: {problem}").format(problem=exc), MAPPING_FILE
                ) from None
            text = exports.to_dhis2(report, mapping, org_unit)
        else:
            text = exports.to_measure_report(report, reporter)
        return ExportedReport(text, exports.warning(report))
