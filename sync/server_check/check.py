"""``check_server``: every check of check-server, in order, into one ``ServerReport``.

The entry point for the CLI; the checks themselves live in ``capability_checks``,
``read_checks`` and ``write_probe``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.domain.wording import t
from sync.fhir.client import FhirClient
from sync.fhir.errors import UnsupportedServerError
from sync.server_check.capability_checks import (
    check_create_strategy,
    check_interactions,
    check_resource_types,
    check_transactions,
    check_versioned_update,
)
from sync.server_check.read_checks import (
    check_history,
    check_page_size,
    check_paging,
    check_search,
    check_token,
)
from sync.server_check.report import ServerReport
from sync.server_check.scope_check import check_scope
from sync.server_check.write_probe import probe_writes

if TYPE_CHECKING:
    from app.services.settings import DeviceSettings

__all__ = ["check_server"]


def check_server(
    client: FhirClient,
    *,
    auth_mode: str = "none",
    write_probe: bool = False,
    settings: DeviceSettings | None = None,
) -> ServerReport:
    """Every check, in order. Raises the FhirError when the server cannot be reached at all,
    the TLS handshake fails or the credentials are refused (there is nothing to check then).
    `settings`: the device's (or the configuration's) scope is checked too."""
    report = ServerReport(server=client.base_url, write_probe=write_probe)
    try:
        info = client.capabilities()
    except UnsupportedServerError as exc:
        report.add(
            "fhir_version", "fail", exc.message, t("FieldChart needs a FHIR R4 (4.0.x) server")
        )
        return report
    report.fhir_version, report.software = info.fhir_version, info.software
    report.add(
        "fhir_version",
        "ok",
        t(
            "FHIR {fhir_version} ({value})",
            fhir_version=info.fhir_version,
            value=info.software or "software not named",
        ),
        t("none needed"),
    )
    check_token(client, report, auth_mode)
    check_resource_types(info, report)
    check_interactions(info, report)
    check_create_strategy(info, report)
    check_versioned_update(info, report)
    check_transactions(client, info, report)
    check_scope(client, info, report, settings)
    if write_probe:  # the reads run while the test patients exist: paging has data to page
        with probe_writes(client, report):
            _reads(client, report)
    else:
        _reads(client, report)
    return report


def _reads(client: FhirClient, report: ServerReport) -> None:
    check_search(client, report)
    check_paging(client, report)
    check_page_size(client, report)
    check_history(client, report)
