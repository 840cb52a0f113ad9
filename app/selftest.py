"""`fieldchart --self-test`: prove that this installation (source tree or PyInstaller bundle)
works end to end, without touching the user's vault, settings or network.

In a temporary directory it creates a vault (cheap Argon2id), records a few commands through
ClinicCommands as a clinician, verifies every seal and the hash chain, checks that the files
hold no plaintext, reopens the vault, loads the sync machinery, and renders the main window
offscreen. It removes the directory and exits 0, or exits 1 with the failing step and the
reason on one line. The data is synthetic, so messages may be shown as they are.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import platform
import secrets
import shutil
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.i18n import _

log = logging.getLogger("fieldchart.selftest")

ADMIN, CLINICIAN = "selftest-admin", "selftest-clinician"
FAMILY = "Qwzselftestovna"  # synthetic and distinctive: searched for in the files afterwards
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MIN_WINDOW = (640, 400)
MIN_PNG_BYTES = 8 * 1024  # a blank window compresses to far less


class SelfTestFailure(Exception):
    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"{step}: {reason}")
        self.step, self.reason = step, reason


@dataclass
class SelfTest:
    root: Path
    keep: bool = False
    done: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    def step(self, name: str, action: Callable[[], object]) -> None:
        started = time.perf_counter()
        try:
            action()
        except SelfTestFailure:
            raise
        except Exception as exc:
            raise SelfTestFailure(name, _reason(exc)) from exc
        log.info("self-test step %s ok in %.2f s", name, time.perf_counter() - started)
        self.done.append(name)


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _check(condition: bool, step: str, reason: str) -> None:
    if not condition:
        raise SelfTestFailure(step, reason)


# -- the steps ------------------------------------------------------------------------------


def _reference_data(t: SelfTest) -> None:
    from app.store.reference_data import bundled_catalog

    catalog = bundled_catalog()
    _check(bool(catalog.icd10 and catalog.medicines), "reference data", _("code lists are empty"))
    t.state["catalog"] = catalog


def _translations(t: SelfTest) -> None:
    """Every launch language's catalog and Babel's locale data are in the bundle."""
    from datetime import date

    from app.domain.wording import t as text
    from app.i18n import LAUNCH_LANGUAGES, SOURCE_LANGUAGE, say, using_language
    from app.i18n.formatting import day

    english = text("{label} is required", label="X")
    for language in LAUNCH_LANGUAGES:
        if language == SOURCE_LANGUAGE:
            continue
        with using_language(language):
            said, shown = say(english), day(date(2026, 11, 21))
        _check(said != str(english), "translations", f"{language}: no catalog")
        _check("2026" in shown, "translations", f"{language}: no locale data")


def _create_vault(t: SelfTest) -> None:
    from app.domain.roles import Role
    from app.store.crypto import FAST_FOR_TESTS
    from app.store.vault import Vault

    t.state["passphrases"] = {user: secrets.token_urlsafe(16) for user in (ADMIN, CLINICIAN)}
    data_dir = t.root / "vault"
    vault, _recovery = Vault.create(
        data_dir, ADMIN, t.state["passphrases"][ADMIN], kdf=FAST_FOR_TESTS
    )
    try:
        vault.add_user(CLINICIAN, Role.CLINICIAN, t.state["passphrases"][CLINICIAN])
    finally:
        vault.lock()
    t.state["data_dir"] = data_dir


def _unlock(t: SelfTest) -> Any:
    from app.services.clinic import open_clinic
    from app.store.vault import Vault

    vault = Vault.open(t.state["data_dir"])
    vault.unlock(CLINICIAN, t.state["passphrases"][CLINICIAN])
    try:
        return open_clinic(vault, catalog=t.state["catalog"])
    except BaseException:
        vault.lock()
        raise


def _record(t: SelfTest) -> None:
    from app.domain import commands as c

    clinic = t.state["clinic"] = _unlock(t)
    actor = clinic.actor
    catalog = t.state["catalog"]
    code = "I10" if "I10" in catalog.icd10 else sorted(catalog.icd10)[0]
    patient = clinic.commands.execute(
        c.RegisterPatient(given="Selftest", family=FAMILY, birth_date="1970-01-01", sex="other"),
        actor,
    ).patient_id
    for command in (
        c.RecordVitals(patient_id=patient, systolic=121, diastolic=79, heart_rate=64),
        c.RecordDiagnosis(patient_id=patient, code=code),
        c.AddNote(patient_id=patient, text="Self-test note: nothing clinical."),
    ):
        clinic.commands.execute(command, actor)
    t.state["patient"] = patient


def _verify(t: SelfTest) -> None:
    clinic = t.state["clinic"]
    report = clinic.vault.events.verify()
    _check(
        report.events >= 4,
        "verify log",
        _("only {events} events were recorded").format(events=report.events),
    )
    chart = clinic.queries.chart(t.state["patient"], clinic.actor, record_view=False)
    _check(
        chart.patient.family == FAMILY and len(chart.problems) == 1 and len(chart.notes) == 1,
        "verify log",
        _("the chart does not show what was recorded"),
    )
    _check(chart.last_vitals is not None, "verify log", _("the vitals are missing from the chart"))
    t.state["chart"] = chart


def _no_plaintext(t: SelfTest) -> None:
    needles = [FAMILY.encode(enc) for enc in ("utf-8", "utf-16-le", "utf-16-be")]
    for path in sorted(t.state["data_dir"].rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            _check(
                not any(n in data for n in needles),
                "no plaintext",
                _("the patient's name is readable in {name}: the vault is not encrypted").format(
                    name=path.name
                ),
            )


def _reopen(t: SelfTest) -> None:
    t.state.pop("clinic").close()
    clinic = t.state["clinic"] = _unlock(t)
    chart = clinic.queries.chart(t.state["patient"], clinic.actor, record_view=False)
    _check(
        chart == t.state["chart"],
        "reopen",
        _("the chart differs after locking and unlocking"),
    )


def _sync_machinery(t: SelfTest) -> None:
    from datetime import UTC

    import certifi
    from apscheduler.schedulers.background import BackgroundScheduler

    import sync.clinic_sync  # the FHIR client, mapping and engine load
    import sync.worker

    _check(Path(certifi.where()).is_file(), "sync", _("the CA certificate bundle is missing"))
    _check(
        callable(sync.clinic_sync.client_for) and bool(sync.worker.SyncWorker),
        "sync",
        _("no worker"),
    )
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(lambda: None, "interval", minutes=5)  # triggers are entry points
    _check(len(scheduler.get_jobs()) == 1, "sync", _("the scheduler does not accept jobs"))


def _render(t: SelfTest) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # Qt lives behind the composition root: app.main builds the window the app shows.
    render = getattr(importlib.import_module("app.main"), "render_main_window", None)
    if render is None:
        raise SelfTestFailure(
            "render main window",
            "app.main has no render_main_window(clinic, data_dir, png, *, patient_id)",
        )
    png = t.root / "main-window.png"
    render(t.state["clinic"], t.state["data_dir"], png, patient_id=t.state["patient"])
    _check(png.is_file(), "render main window", _("no screenshot was written"))
    data = png.read_bytes()
    _check(data[:8] == PNG_SIGNATURE, "render main window", _("the screenshot is not a PNG"))
    width, height = struct.unpack(">II", data[16:24])
    _check(
        width >= MIN_WINDOW[0] and height >= MIN_WINDOW[1],
        "render main window",
        _("the window is only {width}x{height} pixels").format(width=width, height=height),
    )
    _check(len(data) >= MIN_PNG_BYTES, "render main window", _("the window rendered blank"))
    t.state["window"] = f"{width}x{height}"


def _close(t: SelfTest) -> None:
    clinic = t.state.pop("clinic", None)
    if clinic is not None:
        clinic.close()


STEPS: list[tuple[str, Callable[[SelfTest], None]]] = [
    ("reference data", _reference_data),
    ("translations", _translations),
    ("create vault", _create_vault),
    ("record commands", _record),
    ("verify log", _verify),
    ("no plaintext", _no_plaintext),
    ("reopen", _reopen),
    ("sync", _sync_machinery),
    ("render main window", _render),
    ("lock", _close),
]


def run(*, out: Callable[[str], None] = print, err: Callable[[str], None] | None = None) -> int:
    """Run every step; 0 if all passed, else 1 with `fieldchart: self-test failed ...`."""
    err = err or (lambda line: print(line, file=sys.stderr))
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="fieldchart-selftest-"))
    t = SelfTest(root)
    try:
        for name, action in STEPS:
            t.step(name, functools.partial(action, t))
    except SelfTestFailure as failure:
        log.warning("self-test failed at step %s", failure.step)
        err(
            _("fieldchart: self-test failed at {step}: {reason}").format(
                step=failure.step, reason=failure.reason
            )
        )
        return 1
    finally:
        try:
            _close(t)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    if root.exists():
        err(
            _("fieldchart: self-test failed at cleanup: {root} could not be removed").format(
                root=root
            )
        )
        return 1
    seconds = time.perf_counter() - started
    where = _("bundle") if getattr(sys, "frozen", False) else _("source")
    out(
        _(
            "self-test passed: {steps} steps in {seconds:.1f} s (FieldChart {version}, {where}, "
            "Python {python}, window {window})"
        ).format(
            steps=len(t.done),
            seconds=seconds,
            version=_version(),
            where=where,
            python=platform.python_version(),
            window=t.state.get("window", "?"),
        )
    )
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fieldchart")
    except PackageNotFoundError:
        return "unknown"
