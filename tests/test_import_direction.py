"""The layering of DESIGN.md: domain <- store <- projections <- services <- (ui, sync).

Checked on the source (AST), so a violation fails even if the import sits in a function.
Sync reaches the vault only through app.services; outside the domain, only ClinicCommands runs
a command's decision and only the SyncGateway decides a rebase.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package -> packages of ours it must never import
FORBIDDEN: dict[str, set[str]] = {
    "app.domain": {
        "app.i18n",  # the domain's words are Text (app/domain/wording.py), rendered above it
        "app.store",
        "app.projections",
        "app.services",
        "app.ui",
        "app.cli",
        "app.commandline",
        "app.main",
        "sync",
    },
    "app.store": {
        "app.projections",
        "app.services",
        "app.ui",
        "app.cli",
        "app.commandline",
        "app.main",
        "sync",
    },
    "app.projections": {"app.services", "app.ui", "app.cli", "app.commandline", "app.main", "sync"},
    "app.services": {"app.ui", "app.cli", "app.commandline", "app.main", "sync"},
    "sync": {
        "app.store",
        "app.projections",
        "app.ui",
        "app.cli",
        "app.commandline",
        "app.main",
    },
    "app.ui": {"app.store", "sync", "app.cli", "app.commandline"},
    # Translations sit beside every layer: they may read the domain's Text, nothing else.
    "app.i18n": {
        "app.store",
        "app.projections",
        "app.services",
        "app.ui",
        "app.cli",
        "app.commandline",
        "app.main",
        "sync",
    },
}
THIRD_PARTY_ONLY_IN_UI = ("PySide6", "shiboken6")
# Decision functions of the domain -> the only modules outside app/domain that may import them.
# A service that read a chart and judged a conflict itself (the rebase once did, with
# decide_patient.clean_field) would be a second, untested copy of a domain rule.
DECIDERS: dict[str, set[str]] = {
    "app.domain.decide": {"app/services/clinic_commands.py"},
    "app.domain.rebase.decide_rebase": {"app/services/sync_gateway.py"},
}
# The per-area rules behind decide (decide_patient, decide_clinical, ...): the domain's own.
DECIDE_RULES_PREFIX = "app.domain.decide_"
PURE_DOMAIN_BANNED = (
    "sqlalchemy",
    "sqlcipher3",
    "httpx",
    "PySide6",
    "apscheduler",
    "os",
    "socket",
    "subprocess",
    "pathlib",
    "time",
)


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package.replace(".", "/")).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # The names too: `from app.domain import decide` imports app.domain.decide.
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _hits(imported: set[str], banned: set[str] | tuple[str, ...]) -> list[str]:
    return sorted(m for m in imported for b in banned if m == b or m.startswith(b + "."))


Hits = Callable[[Path, set[str]], list[str]]


def _banning(banned: set[str] | tuple[str, ...]) -> Hits:
    """What a module imports of `banned` (any of them or below them)."""
    return lambda rel, imported: _hits(imported, banned)


def _importers(
    hits: Hits,
    skip: Callable[[Path], bool] = lambda rel: False,
    packages: Sequence[str] = ("app", "sync"),
) -> dict[str, list[str]]:
    """Each module of `packages` (but those `skip` passes over, by path below the repository)
    with the imports `hits` objects to, where there are any."""
    offenders = {}
    for package in packages:
        for path in _modules(package):
            rel = path.relative_to(ROOT)
            if skip(rel):
                continue
            found = hits(rel, _imports(path))
            if found:
                offenders[str(rel)] = found
    return offenders


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_import_only_downwards(package: str) -> None:
    assert _importers(_banning(FORBIDDEN[package]), packages=(package,)) == {}


def test_only_the_ui_imports_qt() -> None:
    offenders = _importers(
        _banning(THIRD_PARTY_ONLY_IN_UI), skip=lambda rel: rel.parts[:2] == ("app", "ui")
    )
    assert offenders == {}


def test_domain_is_pure() -> None:
    assert _importers(_banning(PURE_DOMAIN_BANNED), packages=("app.domain",)) == {}


def test_only_the_store_and_projections_touch_sql() -> None:
    offenders = _importers(
        _banning(("sqlalchemy", "sqlcipher3", "sqlite3")),
        skip=lambda rel: rel.parts[:2] in (("app", "store"), ("app", "projections")),
    )
    assert offenders == {}


def _decision_hits(rel: str, imported: set[str]) -> list[str]:
    hits = {m for m in imported if m.startswith(DECIDE_RULES_PREFIX)}
    for decider, allowed in DECIDERS.items():
        if rel not in allowed:
            hits.update(_hits(imported, (decider,)))
    return sorted(hits)


def test_only_clinic_commands_and_the_gateway_run_domain_decisions() -> None:
    offenders = _importers(
        lambda rel, imported: _decision_hits(rel.as_posix(), imported),
        skip=lambda rel: rel.parts[:2] == ("app", "domain"),
    )
    assert offenders == {}


def test_the_checker_sees_a_decision_outside_its_home(tmp_path: Path) -> None:
    # Guards the guard, in each form a module could use to decide on its own.
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from app.domain import decide\n"
        "from app.domain.decide_patient import clean_field\n"
        "from app.domain.rebase import decide_rebase\n"
    )
    imported = _imports(bad)
    rules = ["app.domain.decide_patient", "app.domain.decide_patient.clean_field"]
    assert _decision_hits("app/services/clinic_queries.py", imported) == sorted(
        [*rules, "app.domain.decide", "app.domain.rebase.decide_rebase"]
    )
    assert _decision_hits("app/services/clinic_commands.py", imported) == sorted(
        [*rules, "app.domain.rebase.decide_rebase"]
    )
    assert _decision_hits("app/services/sync_gateway.py", imported) == sorted(
        [*rules, "app.domain.decide"]
    )


# The one mapper (app/store/event_log.py: NewEvent.of, RecordedEvent.to_domain) is the only
# module outside the domain that rebuilds an event from its stored form.
FROM_PAYLOAD_USERS = {
    "app/store/event_log.py",
    "app/services/clinic_commands.py",  # until its _load folds through app.store.charts
}


def test_only_the_mapper_rebuilds_stored_events() -> None:
    offenders = _importers(
        _banning(("app.domain.events.from_payload",)),
        skip=lambda rel: rel.parts[:2] == ("app", "domain") or rel.as_posix() in FROM_PAYLOAD_USERS,
    )
    assert list(offenders) == []


def test_only_the_stream_codec_spells_the_patient_stream_prefix() -> None:
    # stream_of / patient_of_stream in app/domain/events.py; nobody slices "patient-" by hand.
    offenders = []
    for package in ("app", "sync"):
        for path in _modules(package):
            rel = path.relative_to(ROOT)
            if rel.as_posix() == "app/domain/events.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                # f-strings too: their literal parts are Constant nodes. The prefix by itself is
                # what building or slicing a stream id by hand spells (f"patient-{id}",
                # s[len("patient-"):], startswith("patient-")); a word such as the scope
                # strategy "patient-list" is not a stream id.
                if isinstance(node, ast.Constant) and node.value == "patient-":
                    offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    # Guards the guard: a module that imports upwards must be reported.
    bad = tmp_path / "bad.py"
    bad.write_text("from app.ui import main_window\nimport sync.worker\n")
    assert _hits(_imports(bad), FORBIDDEN["app.domain"]) == [
        "app.ui",
        "app.ui.main_window",
        "sync.worker",
    ]
    # Sync goes through app.services, in whichever form it would import the store.
    bad.write_text("from app import store\nfrom app.store.outbox import OutboxEntry\n")
    assert _hits(_imports(bad), FORBIDDEN["sync"]) == [
        "app.store",
        "app.store.outbox",
        "app.store.outbox.OutboxEntry",
    ]
