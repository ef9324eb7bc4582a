"""Where unexpected errors go: a log file in the user's log directory, never a traceback on screen.

The log holds tracebacks and file names, never memory contents.
"""

from __future__ import annotations

import logging
import os
import platform
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


def crash_report(exc: BaseException) -> str:
    """A plain-text report of an unexpected error, for the log and the copyable dialog."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return (
        f"{APP_NAME} {__version__}\n"
        f"time: {datetime.now(timezone.utc).isoformat()}\n"
        f"python: {sys.version.split()[0]} on {platform.platform()}\n"
        f"error: {type(exc).__name__}: {exc}\n\n{tb}"
    )


def log_crash(exc: BaseException) -> str:
    """Write the report of an unexpected error to the log; return the report."""
    report = crash_report(exc)
    get_logger().error("unexpected error\n%s", report)
    return report
