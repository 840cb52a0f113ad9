"""The packaging files agree with each other (the bundle itself is built and self-tested by
`packaging/build.sh --self-test`, which CI runs after the test suite)."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import tomllib

import pytest

from tests.it.conftest import REPO_ROOT

PACKAGING = REPO_ROOT / "packaging"


def test_pyinstaller_is_pinned_in_the_package_extra_only() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    package = project["optional-dependencies"]["package"]
    assert any(re.fullmatch(r"pyinstaller==\d+\.\d+\.\d+", p) for p in package), package
    assert any(p.startswith("pyinstaller-hooks-contrib==") for p in package), package
    assert not any("pyinstaller" in d.lower() for d in project["dependencies"])
    build = (PACKAGING / "build.sh").read_text()
    assert "'.[package]'" in build  # the build installs exactly that extra


def test_the_desktop_entry_starts_fieldchart_with_its_icon() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(PACKAGING / "fieldchart.desktop", encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application"
    assert desktop["Exec"] == "fieldchart" and desktop["Icon"] == "fieldchart"
    assert desktop["Terminal"] == "false"
    assert (REPO_ROOT / "resources" / "ui" / "fieldchart.png").exists()
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        pytest.skip("desktop-file-validate is not installed")
    result = subprocess.run(
        [validator, str(PACKAGING / "fieldchart.desktop")], capture_output=True, text=True
    )
    assert result.returncode == 0 and "error" not in result.stdout, result.stdout


def test_the_spec_collects_what_the_app_reads_at_run_time() -> None:
    spec = (PACKAGING / "fieldchart.spec").read_text()
    for needed in (
        "sqlalchemy.dialects.sqlite.pysqlcipher",
        "sqlcipher3.dbapi2",
        "PySide6.QtCharts",
        "app.selftest",
        'copy_metadata("APScheduler")',
        'collect_data_files("certifi")',
    ):
        assert needed in spec
    for suffix in (".json", ".qss", ".svg", ".png"):
        assert f'"{suffix}"' in spec
    for plugin in ("libqoffscreen", "libqxcb"):
        assert plugin not in spec  # never dropped


def ci_steps() -> list[str]:
    """The lines of .ci/run that are not comments."""
    return [
        line.strip()
        for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def test_ci_builds_and_self_tests_the_bundle_after_the_suite() -> None:
    lines = ci_steps()
    runs = [i for i, line in enumerate(lines) if "./fieldchart.sh test" in line]
    runs = [i for i in runs if lines[i].startswith("FIELDCHART_TEST_NOW=")]
    assert len(runs) == 2, "the suite runs once before and once after midnight UTC"
    assert [lines[i].split()[0] for i in runs] == [
        "FIELDCHART_TEST_NOW=2026-12-02T23:59:30Z",
        "FIELDCHART_TEST_NOW=2026-12-03T00:00:30Z",
    ]
    assert lines.index("./fieldchart.sh check") < runs[0]
    assert lines.index("packaging/build.sh --self-test") > runs[-1]


def test_ci_runs_the_real_server_tests_with_atomic_transactions_and_without() -> None:
    lines = ci_steps()

    def where(ending: str) -> int:
        [index] = [i for i, line in enumerate(lines) if line.endswith(ending)]
        return index

    setup, start = where('"$REALFHIR/setup.sh"'), where('"$REALFHIR/start.sh" >/dev/null')
    # The second clock pass leaves out the real-server variants (the first runs them all).
    runs = [
        where("23:59:30Z ./fieldchart.sh test"),
        where('00:00:30Z ./fieldchart.sh test -m "not realfhir"'),
    ]
    non_atomic = where("FIELDCHART_REALFHIR_ATOMIC=0 ./fieldchart.sh test -m realfhir")
    assert where("./fieldchart.sh check") < setup < start < runs[0] < runs[1] < non_atomic
    assert non_atomic < where("packaging/build.sh --self-test")
