"""Each user's own settings, kept in the vault (they follow the user, not the computer).

Today that is the language FieldChart speaks to them in (issue 18). Any user may change their
own; nobody changes another's. Stored in the vault's settings table under `user/<name>/...`,
so a shared clinic laptop shows Amina French and Juma Swahili after each signs in.
"""

from __future__ import annotations

from app.domain.errors import ValidationError
from app.domain.roles import Actor
from app.domain.wording import t
from app.i18n import LAUNCH_LANGUAGES, SOURCE_LANGUAGE
from app.store import settings_store
from app.store.vault import Vault


def _key(user: str, name: str) -> str:
    return f"user/{user}/{name}"


class UserSettingsService:
    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    def language(self, actor: Actor) -> str:
        """The user's language; English until they choose one."""
        stored = settings_store.load(self._vault.engine).get(_key(actor.user, "language"))
        return stored if isinstance(stored, str) and stored in LAUNCH_LANGUAGES else SOURCE_LANGUAGE

    def set_language(self, actor: Actor, code: str) -> str:
        language = code.strip().lower()
        if language not in LAUNCH_LANGUAGES:
            raise ValidationError(
                t(
                    "Language: {code} is not one of FieldChart's languages ({known}).",
                    code=code,
                    known=", ".join(LAUNCH_LANGUAGES),
                ),
                "language",
            )
        settings_store.save(self._vault.engine, {_key(actor.user, "language"): language})
        return language
