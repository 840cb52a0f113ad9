"""The rotating log: where it goes, what it refuses to write, and that it rotates."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import logging_setup
from app.logging_setup import LOG_FILE, MAX_BYTES, configure_logging, reset_logging


@pytest.fixture
def configured(log_dir: Path) -> Iterator[Path]:
    reset_logging()
    path = configure_logging()
    assert path == log_dir / LOG_FILE
    try:
        yield path
    finally:
        reset_logging()


def _flush() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def test_exception_messages_and_ids_never_reach_the_file(configured: Path) -> None:
    log = logging.getLogger("fieldchart.test")
    try:
        try:
            raise ValueError("patient Zephyrine Quillborough has no phone")
        except ValueError as inner:
            raise RuntimeError("while saving Zephyrine") from inner
    except RuntimeError:
        log.exception("saving failed for 0b6c8a0e-2f4e-4a4f-9a7e-3f1d2c3b4a59")
    _flush()
    text = configured.read_text(encoding="utf-8")
    assert "Zephyrine" not in text and "Quillborough" not in text
    assert "0b6c8a0e" not in text
    assert "saving failed for <id>" in text
    assert "RuntimeError <- ValueError" in text
    assert 'File "tests/it/test_logging.py"' not in text  # not a path we would recognise
    assert "test_exception_messages_and_ids_never_reach_the_file" in text


def test_other_libraries_only_from_warning_up(configured: Path) -> None:
    logging.getLogger("httpx").warning("GET /Patient/x failed")
    logging.getLogger("httpx").info("HTTP Request: GET https://fhir/Patient?name=Zephyrine")
    logging.getLogger("fieldchart.test").info("exec: exit code 0")
    logging.getLogger("fieldchart.test").debug("debug detail")
    _flush()
    text = configured.read_text(encoding="utf-8")
    assert "Zephyrine" not in text
    assert "GET /Patient/x failed" in text
    assert "exec: exit code 0" in text
    assert "debug detail" not in text


def test_the_log_rotates_and_stays_private(configured: Path) -> None:
    log = logging.getLogger("fieldchart.test")
    line = "x" * 1000
    for _ in range(MAX_BYTES // 1000 * 3):
        log.info(line)
    _flush()
    files = sorted(p.name for p in configured.parent.iterdir())
    assert files[:3] == [LOG_FILE, f"{LOG_FILE}.1", f"{LOG_FILE}.2"]
    assert len(files) <= 1 + logging_setup.BACKUPS
    assert all(p.stat().st_size <= MAX_BYTES + 2000 for p in configured.parent.iterdir())
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in configured.parent.iterdir())
    assert configured.parent.stat().st_mode & 0o777 == 0o700


def test_an_unwritable_directory_means_no_log_and_no_noise(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reset_logging()
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    try:
        assert configure_logging(blocked / "logs") is None
        logging.getLogger("fieldchart.test").warning("nobody hears this")
        assert capsys.readouterr().err == ""
    finally:
        reset_logging()


def test_configuring_twice_keeps_one_handler(configured: Path) -> None:
    handlers = len(logging.getLogger().handlers)
    assert configure_logging() == configured
    assert len(logging.getLogger().handlers) == handlers
