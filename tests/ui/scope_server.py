"""What the UI tests need to save server settings now that Settings and the first-run wizard
check the sync scope with the server first (Backend.check_scope, as enroll does): an
Organization that really exists on the server the test types, and, for tests whose subject is
an authentication mode the test peer has no token endpoint for, a recording stand-in for the
check (see ScopeCheckStub)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from app.services.clinic import Clinic
from app.services.settings import DeviceSettings
from app.ui.backend import Backend
from sync.fhir.client import FhirClient
from tests.peer.harness import PeerServer
from tests.realfhir.harness import RealFhirServer

#: What the stand-in says the pull will use (shown after "Saved. Sync pulls …").
STUB_STRATEGY = "patients of the facility (the check was stood in for by the test)"


def peer_organization(peer: PeerServer, organization_id: str) -> str:
    """IT's Organization on the peer, created with our id (the peer takes ids by PUT); its
    reference."""
    body = {"resourceType": "Organization", "id": organization_id, "name": organization_id}
    with FhirClient(peer.base_url) as client:
        client.put("Organization", organization_id, body)
    return f"Organization/{organization_id}"


def real_organization(real: RealFhirServer, name: str) -> str:
    """IT's Organization on the real server, created by POST (it assigns the id); the id it
    returned, which is what IT gives the clinic to type."""
    with FhirClient(real.base_url, real.auth()) as client:
        made = client.create("Organization", {"resourceType": "Organization", "name": name})
    return str(made.resource["id"])


@dataclass
class ScopeCheckStub:
    """Backend.check_scope that records the settings it was asked about and passes.

    Only for tests whose subject is an authentication mode, not the scope: the real check
    (sync.clinic_sync.check_scope_for) authenticates every request it makes, the metadata
    read included, so with client credentials or SMART it first needs the token endpoint the
    test names, which the test peer does not have. The scope check itself is tested against
    the peer in tests/ui/test_scope_settings.py and tests/ui/test_forms.py."""

    checked: list[DeviceSettings] = field(default_factory=list)

    def __call__(self, clinic: Clinic, settings: DeviceSettings) -> str:
        self.checked.append(settings)
        return STUB_STRATEGY

    def scopes(self) -> list[tuple[str | None, str | None, bool]]:
        """(server, Organization, pull everything) of each check, in order."""
        return [(s.server_url, s.scope_organization, s.pull_everything) for s in self.checked]


def with_stub_check(backend: Backend) -> tuple[Backend, ScopeCheckStub]:
    """The same backend (the same vault) whose scope check is a ScopeCheckStub."""
    stub = ScopeCheckStub()
    return replace(backend, check_scope=stub), stub
