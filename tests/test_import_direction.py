"""The layering of DESIGN.md: domain <- store <- projections <- services <- (ui, sync).

Checked on the source (AST), so a violation fails even if the import sits in a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package -> packages of ours it must never import
FORBIDDEN: dict[str, set[str]] = {
    "app.domain": {
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
    "sync": {"app.ui", "app.cli", "app.commandline", "app.main"},
    "app.ui": {"app.store", "sync", "app.cli", "app.commandline"},
}
THIRD_PARTY_ONLY_IN_UI = ("PySide6", "shiboken6")
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
            found.add(node.module)
    return found


def _hits(imported: set[str], banned: set[str] | tuple[str, ...]) -> list[str]:
    return sorted(m for m in imported for b in banned if m == b or m.startswith(b + "."))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_import_only_downwards(package: str) -> None:
    bad = {
        str(path.relative_to(ROOT)): _hits(_imports(path), FORBIDDEN[package])
        for path in _modules(package)
    }
    assert {k: v for k, v in bad.items() if v} == {}


def test_only_the_ui_imports_qt() -> None:
    offenders = {}
    for package in ("app", "sync"):
        for path in _modules(package):
            rel = path.relative_to(ROOT)
            if rel.parts[:2] == ("app", "ui"):
                continue
            hits = _hits(_imports(path), THIRD_PARTY_ONLY_IN_UI)
            if hits:
                offenders[str(rel)] = hits
    assert offenders == {}


def test_domain_is_pure() -> None:
    offenders = {
        str(p.relative_to(ROOT)): _hits(_imports(p), PURE_DOMAIN_BANNED)
        for p in _modules("app.domain")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_only_the_store_and_projections_touch_sql() -> None:
    offenders = {}
    for package in ("app", "sync"):
        for path in _modules(package):
            rel = path.relative_to(ROOT)
            if rel.parts[:2] in (("app", "store"), ("app", "projections")):
                continue
            hits = _hits(_imports(path), ("sqlalchemy", "sqlcipher3", "sqlite3"))
            if hits:
                offenders[str(rel)] = hits
    assert offenders == {}


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    # Guards the guard: a module that imports upwards must be reported.
    bad = tmp_path / "bad.py"
    bad.write_text("from app.ui import main_window\nimport sync.worker\n")
    assert _hits(_imports(bad), FORBIDDEN["app.domain"]) == ["app.ui", "sync.worker"]
