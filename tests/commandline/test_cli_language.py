"""The command line speaks the unlocking user's own language (kept in the vault): a refused
command comes back in it, and FIELDCHART_LANG overrides it for one run."""

from __future__ import annotations

from pathlib import Path

from app.i18n import _, pgettext, say, using_language
from app.services.clinic import open_clinic
from app.store.vault import Vault
from tests.commandline.test_cli_clinic import (
    PASSPHRASES,
    exec_as,
    results,
    run_cli,
    vault_with_clinician,
)
from tests.i18n.refusals import SYSTOLIC_400

IMPOSSIBLE_VITALS = {
    "type": "RecordVitals",
    "patient_id": "pat-lang",
    "vitals_id": "vit-lang",
    "systolic": 400,
    "diastolic": 80,
}
REGISTER = {
    "type": "RegisterPatient",
    "patient_id": "pat-lang",
    "given": "Amina",
    "family": "Hassan",
    "birth_date": "1980-04-23",
    "sex": "female",
}
REFUSAL = SYSTOLIC_400


def _choose_language(data_dir: Path, user: str, language: str) -> None:
    vault = Vault.open(data_dir)
    vault.unlock(user, PASSPHRASES[user])
    clinic = open_clinic(vault)
    try:
        clinic.user_settings.set_language(clinic.actor, language)
    finally:
        clinic.close()


def _refusal_of(result_lines: list[dict[str, object]]) -> object:
    refused = [r for r in result_lines if r.get("ok") is False]
    assert len(refused) == 1, result_lines
    return refused[0]["error"]


def test_a_refusal_comes_back_in_the_users_language(tmp_path: Path) -> None:
    data_dir = vault_with_clinician(tmp_path / "vault")
    _choose_language(data_dir, "doc", "fr")
    done = exec_as(data_dir, "doc", REGISTER, IMPOSSIBLE_VITALS)
    with using_language("fr"):
        french = say(REFUSAL)
    assert french != str(REFUSAL) and "400" in french
    assert _refusal_of(results(done)) == french


def test_each_user_has_their_own_language_and_the_environment_can_override_it(
    tmp_path: Path,
) -> None:
    data_dir = vault_with_clinician(tmp_path / "vault")
    _choose_language(data_dir, "doc", "sw")
    _choose_language(data_dir, "admin", "ar")
    swahili = exec_as(data_dir, "doc", REGISTER, IMPOSSIBLE_VITALS)
    with using_language("sw"):
        assert _refusal_of(results(swahili)) == say(REFUSAL)
    override = run_cli(
        "exec",
        "--data-dir",
        data_dir,
        user="doc",
        stdin='{"type": "RecordVitals", "patient_id": "pat-lang", "systolic": 400, '
        '"diastolic": 80}',
        FIELDCHART_LANG="es",
    )
    with using_language("es"):
        assert _refusal_of(results(override)) == say(REFUSAL)


def test_help_and_usage_errors_speak_the_chosen_language() -> None:
    """argparse's own words too: no 'usage:' or 'positional arguments' left in French."""
    shown = run_cli("--help", FIELDCHART_LANG="fr")
    assert shown.returncode == 0
    with using_language("fr"):
        usage = pgettext("argparse", "usage: ").strip()
        described = _("FieldChart offline-first clinic client. Without a command, opens the app.")
    assert shown.stdout.startswith(usage) and usage != "usage:"
    assert "positional arguments" not in shown.stdout and "show this help" not in shown.stdout
    assert described.split()[0] in shown.stdout
    refused = run_cli("print", "--data-dir", "/nonexistent", "bogus", "x", FIELDCHART_LANG="fr")
    assert refused.returncode == 2
    assert "error:" not in refused.stderr and "invalid choice" not in refused.stderr
