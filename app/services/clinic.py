"""The services of one unlocked vault, wired together: what the UI, CLI and sync hold."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.reference import Catalog
from app.domain.roles import Actor
from app.projections.runner import ProjectionRunner, RebuildProgress
from app.services.clinic_commands import ClinicCommands
from app.services.clinic_queries import ClinicQueries
from app.services.clock import Clock, system_clock
from app.services.drafts import DraftsService
from app.services.settings import SettingsService
from app.services.sync_gateway import SyncGateway
from app.services.user_settings import UserSettingsService
from app.store.lock_guard import refuse_connections_unless
from app.store.reference_data import catalog_for
from app.store.vault import Vault


@dataclass
class Clinic:
    vault: Vault
    runner: ProjectionRunner
    commands: ClinicCommands
    queries: ClinicQueries
    settings: SettingsService
    clock: Clock  # the one clock of this session: UI, sync and the domain read "now" from it
    catalog: Catalog
    drafts: DraftsService  # unsaved forms kept across a lock, per user
    sync_gateway: SyncGateway  # what sync may do to this vault (built once, here)
    user_settings: UserSettingsService  # each user's own (their language)

    @property
    def actor(self) -> Actor:
        """Who is signed in (the UI and the CLI ask the clinic, not the vault)."""
        return self.vault.actor

    def close(self) -> None:
        """Forget cached charts and lock the vault."""
        self.commands.forget()
        self.vault.lock()


def _refuse_connections_after_lock(vault: Vault) -> None:
    """The read models hold the engine itself, not the vault: without this, a Clinic kept past
    lock() could open the file again (its engine still knows the key) and read or write."""
    engine = vault.engine
    refuse_connections_unless(engine, lambda: vault.is_unlocked and vault.engine is engine)


def open_clinic(
    vault: Vault,
    *,
    clock: Clock = system_clock,
    catalog: Catalog | None = None,
    progress: RebuildProgress | None = None,
) -> Clinic:
    """Build the services over an unlocked vault, bringing the read models up to date
    (`progress` hears how a rebuild of them goes, if one is needed)."""
    _refuse_connections_after_lock(vault)
    vault.fold_pending_audit()  # refused unlocks while it was locked join the audit now
    runner = ProjectionRunner(lambda: vault.engine, vault.events)
    runner.ensure_ready(progress)
    # The shipped code lists plus this device's local medicine file, if IT put one there.
    cat = catalog if catalog is not None else catalog_for(vault.data_dir)
    return Clinic(
        vault=vault,
        runner=runner,
        commands=ClinicCommands(vault, runner, cat, clock),
        queries=ClinicQueries(vault, runner, clock, cat),
        settings=SettingsService(vault),
        clock=clock,
        catalog=cat,
        drafts=DraftsService(vault, clock),
        sync_gateway=SyncGateway(vault, runner, cat, clock),
        user_settings=UserSettingsService(vault),
    )
