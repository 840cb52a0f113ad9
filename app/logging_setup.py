"""Logging for the CLI and the desktop app: a rotating file in the platform's log directory.

Where: ``$FIELDCHART_LOG_DIR``, else platformdirs' ``user_log_dir("FieldChart")`` (Linux
``~/.local/state/FieldChart/log``, Windows ``%LOCALAPPDATA%\\FieldChart\\Logs``, macOS
``~/Library/Logs/FieldChart``). ``fieldchart.log`` rotates at 1 MiB, five old files are kept,
the directory is 0700 and the files 0600.

Never PHI. Our code logs only event and command types, counts, durations, exit codes and
error classes, never values a person typed. As a second line of defence the formatter drops
what could carry data we did not vet:

* exception messages: a traceback is reduced to the exception classes and the frames' file,
  line and function (an exception's text may quote a value, e.g. a SQL constraint or a
  server's diagnostics);
* third-party loggers below WARNING (httpx logs every request URL at INFO: the resource ids in
  them are patient ids);
* UUIDs anywhere in a line (patient, resource, command and event ids are UUIDs): "<id>".

``FIELDCHART_LOG_LEVEL`` (DEBUG, INFO, WARNING, ...) sets our own loggers' level (INFO).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import traceback
from pathlib import Path
from types import TracebackType

from platformdirs import user_log_dir

LOG_DIR_ENV = "FIELDCHART_LOG_DIR"
LOG_LEVEL_ENV = "FIELDCHART_LOG_LEVEL"
LOG_FILE = "fieldchart.log"
MAX_BYTES = 1024 * 1024
BACKUPS = 5
OUR_LOGGERS = ("fieldchart", "app", "sync")
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"

_handler: logging.Handler | None = None

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def log_dir() -> Path:
    env = os.environ.get(LOG_DIR_ENV)
    return Path(env) if env else Path(user_log_dir("FieldChart", appauthor=False))


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class PhiSafeFormatter(logging.Formatter):
    """Formats tracebacks without exception messages, and every UUID (patient, resource,
    command ids) as <id> (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        # Another handler may have cached its own rendering of the traceback on the record.
        cached, record.exc_text = record.exc_text, None
        try:
            return _UUID.sub("<id>", super().format(record))
        finally:
            record.exc_text = cached

    def formatException(self, ei: ExcInfo) -> str:
        _type, value, tb = ei
        if value is None:
            return ""
        lines = ["Traceback (exception messages are not logged):"]
        for frame in traceback.extract_tb(tb):
            lines.append(f'  File "{_short(frame.filename)}", line {frame.lineno}, in {frame.name}')
        chain: list[str] = []
        seen: set[int] = set()
        exc: BaseException | None = value
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            chain.append(type(exc).__qualname__)
            exc = exc.__cause__ or exc.__context__
        lines.append(" <- ".join(chain))
        return "\n".join(lines)

    def formatStack(self, stack_info: str) -> str:
        return "(stack not logged)"


def _short(filename: str) -> str:
    """A source path from the package root on (no home directory or user name)."""
    parts = Path(filename).parts
    for root in ("app", "sync", "site-packages"):
        if root in parts:
            return "/".join(parts[parts.index(root) :])
    return Path(filename).name


class _OursOrWarnings(logging.Filter):
    """Our loggers at their level; everybody else's only from WARNING up."""

    def filter(self, record: logging.LogRecord) -> bool:
        ours = record.name.split(".", 1)[0] in OUR_LOGGERS
        return ours or record.levelno >= logging.WARNING


def configure_logging(directory: Path | None = None) -> Path | None:
    """Send log records to the rotating file; safe to call more than once (the first call
    wins). Returns the log file, or None if the directory cannot be written: the program then
    runs without a log rather than failing."""
    global _handler
    if _handler is not None:
        name = getattr(_handler, "baseFilename", None)
        return Path(name) if name else None
    target = directory or log_dir()
    try:
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = target / LOG_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        handler: logging.Handler = _PrivateRotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
        )
    except OSError:
        # No log then; and no stray warnings on stderr either (logging's last resort), which
        # would break the CLI's one-line error contract.
        _handler = logging.NullHandler()
        logging.getLogger().addHandler(_handler)
        return None
    handler.setFormatter(PhiSafeFormatter(FORMAT))
    handler.addFilter(_OursOrWarnings())
    handler.setLevel(logging.DEBUG)
    # Records of our loggers reach the root's handlers whatever the root's level (WARNING):
    # levels are checked where a record is made, so only our loggers are raised.
    logging.getLogger().addHandler(handler)
    level = logging.getLevelName(os.environ.get(LOG_LEVEL_ENV, "INFO").upper())
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(level if isinstance(level, int) else logging.INFO)
    for noisy in ("httpx", "httpcore", "apscheduler", "urllib3", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _handler = handler
    return path


def reset_logging() -> None:
    """Remove the handler (tests use this between scenarios)."""
    global _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler.close()
        _handler = None


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """New log files (after rotation too) are readable by their owner only."""

    def _open(self):  # type: ignore[no-untyped-def]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        return super()._open()

    def handleError(self, record: logging.LogRecord) -> None:
        # A record that cannot be written (a full disk) is dropped: logging's default prints
        # a traceback to stderr, which would break the CLI's one-line error contract.
        pass
