"""Where unexpected errors go: a log file in the user's log directory, never a traceback on screen.

The log (owner-only) holds tracebacks and file names, never memory contents: the text of an
exception can quote the value that upset the code (``invalid literal for int(): 'my secret'``,
pydantic's ``input_value='...'``), so every quoted literal in exception messages is replaced by
its length before anything is written.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path

from platformdirs import user_log_dir

from wizard import APP_NAME, __version__

LOG_ENV = "AGENTMEMORY_WIZARD_LOG_DIR"
_configured = False


def log_dir() -> Path:
    return Path(os.environ.get(LOG_ENV) or user_log_dir(APP_NAME, appauthor=False))


def log_path() -> Path:
    return log_dir() / "wizard.log"


def get_logger() -> logging.Logger:
    """The app's logger, writing to the owner-only log file (configured once)."""
    global _configured
    logger = logging.getLogger("wizard")
    if not _configured:
        _configured = True
        logger.setLevel(logging.INFO)
        logger.propagate = False
        try:
            path = log_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            old = os.umask(0o077)
            try:
                handler = logging.FileHandler(path, encoding="utf-8")
            finally:
                os.umask(old)
            os.chmod(path, 0o600)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            logger.addHandler(handler)
        except OSError:
            logger.addHandler(logging.NullHandler())
    return logger


def close_log() -> None:
    """Close the log file; the next get_logger() opens it again, in the folder named then."""
    global _configured
    logger = logging.getLogger("wizard")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    _configured = False


# A quoted literal ('...' or "...", with escapes); possessive, so a long one costs no stack.
_QUOTED = re.compile(r"'(?:[^'\\\n]++|\\.)*+'" + r'|"(?:[^"\\\n]++|\\.)*+"')
MAX_MESSAGE = 2000  # characters of an exception message kept in the report


def redact(text: str) -> str:
    """An exception message with every quoted literal replaced by its length."""

    def hide(m: re.Match[str]) -> str:
        quote = m.group(0)[0]
        return f"{quote}<{len(m.group(0)) - 2} chars>{quote}"

    text = _QUOTED.sub(hide, text)
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE] + f"... ({len(text) - MAX_MESSAGE} more characters)"
    return text


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [e.__cause__, e.__context__]
    return seen


def crash_report(exc: BaseException) -> str:
    """A plain-text report of an unexpected error, for the log and the copyable dialog.

    The traceback's code lines are kept; the exception messages are redacted (``redact``)."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    for e in _chain(exc):
        only = "".join(traceback.format_exception_only(type(e), e))
        tb = tb.replace(only, redact(only))
    try:
        message = redact(str(exc))
    except Exception:  # a broken __str__ must not hide the report
        message = "(the message could not be shown)"
    return (
        f"{APP_NAME} {__version__}\n"
        f"time: {datetime.now(timezone.utc).isoformat()}\n"
        f"python: {sys.version.split()[0]} on {platform.platform()}\n"
        f"error: {type(exc).__name__}: {message}\n\n{tb}"
    )


def log_crash(exc: BaseException) -> str:
    """Write the report of an unexpected error to the log; return the report."""
    report = crash_report(exc)
    get_logger().error("unexpected error\n%s", report)
    return report
