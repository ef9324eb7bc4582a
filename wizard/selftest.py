"""`agentmemory-wizard --self-test`: prove that this installation (or bundle) works.

It starts Qt, builds the wizard and the audit-history window against a temporary store, imports a
tiny built-in agentmemory export into that store and checks what landed. It prints one line,
``self-test: ok (...)`` or ``self-test: FAILED: <reason>``, and returns 0 or 1; never a traceback.
Nothing outside a temporary folder is touched: the store, the log and Qt's settings all live there
(a failure's details are written to the real log folder). It is meant to be the process's only
work: Qt's settings path stays pointed at the removed folder afterwards.

It is the smoke test of the PyInstaller bundle (`packaging/build.sh`), run headless as
``QT_QPA_PLATFORM=offscreen agentmemory-wizard --self-test``. The platform is not forced here:
with a display it uses the real one, which is what a user checking an install wants.

What it checks, it imports inside the step that checks it (the store, the runs, Qt, the
windows): a broken install then fails that step with a one-line reason instead of a traceback
at import time, and Qt is not loaded before the display check (Qt aborts without one).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wizard import APP_NAME, __version__

DB_ENV = "AGENTMEMORY_WIZARD_DB"
LOG_ENV = "AGENTMEMORY_WIZARD_LOG_DIR"  # same name as wizard.crashlog.LOG_ENV

# A tiny agentmemory export (ExportData, version 0.9.5): one session, one observation, one memory.
SAMPLE_EXPORT: dict[str, Any] = {
    "version": "0.9.5",
    "exportedAt": "2026-01-02T10:00:00.000Z",
    "sessions": [
        {
            "id": "ses_selftest_0001",
            "project": "/home/dev/selftest",
            "cwd": "/home/dev/selftest",
            "startedAt": "2026-01-02T09:00:00.000Z",
            "endedAt": "2026-01-02T09:30:00.000Z",
            "status": "completed",
            "observationCount": 1,
            "model": "claude-sonnet",
            "tags": ["self-test"],
        }
    ],
    "observations": {
        "ses_selftest_0001": [
            {
                "id": "obs_selftest_0001",
                "sessionId": "ses_selftest_0001",
                "timestamp": "2026-01-02T09:10:00.000Z",
                "type": "decision",
                "title": "Keep the store in SQLite",
                "facts": ["one file per user", "WAL journal"],
                "narrative": "Chose SQLite for the wizard's store: one file, transactional.",
                "concepts": ["sqlite", "store"],
                "files": ["wizard/store/database.py"],
                "importance": 6,
            }
        ]
    },
    "memories": [
        {
            "id": "mem_selftest_0001",
            "createdAt": "2026-01-02T09:20:00.000Z",
            "updatedAt": "2026-01-02T09:20:00.000Z",
            "type": "architecture",
            "title": "The store is one SQLite file",
            "content": "The wizard keeps every imported record in one SQLite file.",
            "concepts": ["sqlite"],
            "files": ["wizard/store/database.py"],
            "sessionIds": ["ses_selftest_0001"],
            "strength": 0.8,
            "version": 1,
            "isLatest": True,
        }
    ],
    "summaries": [],
}
EXPECTED_COUNTS: dict[str, int] = {"sessions": 1, "observations": 1, "memories": 1}


class SelfTestFailed(Exception):
    """A check failed; the message is the reason printed to the user."""


@contextmanager
def _step(name: str) -> Iterator[None]:
    """Turn any error inside a step into a SelfTestFailed naming the step."""
    try:
        yield
    except SelfTestFailed:
        raise
    except Exception as exc:
        raise SelfTestFailed(f"{name}: {type(exc).__name__}: {exc}") from exc


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _forget_log_handlers(folder: Path) -> None:
    """Close the app's log if it was opened in the temporary folder (about to go away); the
    next get_logger() opens the real log again."""
    from wizard import crashlog

    targets = [getattr(h, "baseFilename", "") for h in logging.getLogger("wizard").handlers]
    if any(t and Path(t).is_relative_to(folder) for t in targets):
        crashlog.close_log()


def _display_problem() -> str | None:
    """Why Qt could not open a window here, found before Qt aborts the process over it."""
    from wizard.ui.app import no_display

    if no_display():
        return "no display (set QT_QPA_PLATFORM=offscreen to run the self-test without one)"
    return None


def _import_sample(export_path: Path, db_path: Path) -> dict[str, int]:
    """Inspect and import the sample into the store at db_path; return the store's counts."""
    from wizard import runs
    from wizard.core.inspection import InspectOptions
    from wizard.store import audit, database

    with _step("inspecting the built-in export"):
        inspection = runs.read(export_path, InspectOptions())
    if not inspection.ok:
        problems = "; ".join(str(p) for p in inspection.report.errors) or "refused"
        raise SelfTestFailed(f"the built-in export was refused: {problems}")
    if inspection.format != "agentmemory":
        raise SelfTestFailed(f"the built-in export was detected as {inspection.format!r}")

    with _step("opening the temporary store"):
        store = database.open_store(db_path)
    try:
        with _step("importing the built-in export"):
            result = runs.drive(runs.import_steps(store, inspection))
        if not result.ok:
            raise SelfTestFailed(f"the import did not succeed: {result.outcome}: {result.error}")
        with _step("reading the store"):
            counts = dict(store.counts())
            entries = audit.list_entries(store)
    finally:
        store.close()
    wrong = {
        name: counts.get(name)
        for name, expected in EXPECTED_COUNTS.items()
        if counts.get(name) != expected
    }
    if wrong:
        raise SelfTestFailed(f"store counts after the import: {wrong}, expected {EXPECTED_COUNTS}")
    if not entries:
        raise SelfTestFailed("the import left no audit entry")
    return counts


def _running_tasks() -> int:
    """How many background tasks of the GUI are still running."""
    from wizard.ui.worker import running_tasks

    return len(running_tasks())


def _settle(name: str, timeout: float = 30.0) -> None:
    """Deliver events until the GUI's background work has finished (the window loaded)."""
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    QApplication.processEvents()
    while _running_tasks():
        if time.monotonic() > deadline:
            raise SelfTestFailed(f"the {name}'s background work did not finish in {timeout:.0f} s")
        QApplication.processEvents()
        time.sleep(0.01)
    QApplication.processEvents()


def _build_window(name: str, factory: Callable[[], Any]) -> None:
    """Build one top-level window, let it load, render it off screen, close and delete it."""
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication, QWidget

    with _step(f"building the {name}"):
        window = factory()
        if not isinstance(window, QWidget):
            raise SelfTestFailed(f"the {name} is a {type(window).__name__}, not a window")
        _settle(name)
        if window.grab().isNull():  # lays it out and paints it without showing it
            raise SelfTestFailed(f"the {name} did not render")
        window.close()
        window.deleteLater()
        _settle(name)
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        QApplication.processEvents()


def _check_file_open(app: Any, export_path: Path) -> None:
    """A file opened from Finder or the Dock (QFileOpenEvent) reaches the app's file queue."""
    from PySide6.QtGui import QFileOpenEvent
    from PySide6.QtWidgets import QApplication

    router = getattr(app, "files", None)
    if router is None:  # a QApplication made by someone else (the self-test run in-process)
        return
    with _step("delivering a file-open event"):
        QApplication.sendEvent(app, QFileOpenEvent(str(export_path)))
        pending = list(router.pending)
        router.pending.clear()
    if pending != [str(export_path)]:
        raise SelfTestFailed(f"a file-open event was not queued for the wizard: {pending}")


def _check_gui(db_path: Path, settings_dir: Path, export_path: Path) -> str:
    """Start Qt (or use the running QApplication), build both windows; return the platform."""
    problem = _display_problem()
    if problem:
        raise SelfTestFailed(problem)
    with _step("starting Qt"):
        from PySide6.QtCore import QCoreApplication, QSettings
        from PySide6.QtWidgets import QApplication

        # Keep whatever the windows remember (QSettings) out of the user's real settings.
        for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
            QSettings.setPath(fmt, QSettings.Scope.UserScope, str(settings_dir))
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        running = QCoreApplication.instance()
        if running is not None and not isinstance(running, QApplication):
            raise SelfTestFailed("a non-widget Qt application is already running")
        if running is None:
            from wizard.ui.app import WizardApplication

            app: QApplication = WizardApplication([sys.argv[0] if sys.argv else APP_NAME])
        else:
            app = running
    if running is None and app.windowIcon().isNull():
        raise SelfTestFailed("the application icon was not found (resources/icons)")
    _check_file_open(app, export_path)
    with _step("loading the user interface"):
        import wizard.ui as ui

    _build_window("wizard", lambda: ui.open_wizard(db_path))
    _build_window("audit window", lambda: ui.open_audit_history(db_path))
    return app.platformName()


def _run(tmp: Path) -> str:
    started = time.monotonic()
    db_path = tmp / "store" / "store.sqlite"
    log_dir = tmp / "log"
    for folder in (db_path.parent, log_dir, tmp / "settings"):
        folder.mkdir(parents=True, exist_ok=True)
    export_path = tmp / "selftest-export.json"
    export_path.write_text(json.dumps(SAMPLE_EXPORT, indent=2), encoding="utf-8")

    with _environment({DB_ENV: str(db_path), LOG_ENV: str(log_dir)}):
        counts = _import_sample(export_path, db_path)
        platform = _check_gui(db_path, tmp / "settings", export_path)

    from PySide6 import __version__ as pyside_version

    imported = ", ".join(f"{name} {counts[name]}" for name in EXPECTED_COUNTS)
    return (
        f"{APP_NAME} {__version__}, PySide6 {pyside_version} on {platform}; "
        f"imported {sum(EXPECTED_COUNTS.values())} records ({imported}); "
        f"built the wizard and the audit window; {time.monotonic() - started:.1f} s"
    )


def _record_failure(exc: BaseException) -> str:
    """Write an unexpected failure's traceback to the log; return where (or '' if it failed)."""
    try:
        from wizard.crashlog import crash_report, log_dir

        path = log_dir() / "selftest-failure.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(crash_report(exc), encoding="utf-8")
        return str(path)
    except Exception:
        return ""


def run_self_test() -> int:
    """Run the self-test; print one line saying ok or why not. 0 = passed, 1 = failed."""
    tmp = Path(tempfile.mkdtemp(prefix=f"{APP_NAME}-selftest-"))
    try:
        detail = _run(tmp)
    except SelfTestFailed as exc:
        reason = str(exc)
        cause = exc.__cause__
        if cause is not None:
            where = _record_failure(cause)
            reason += f" (details in {where})" if where else ""
        print(f"self-test: FAILED: {reason}", flush=True)
        return 1
    except Exception as exc:  # never a traceback, even for a bug in this module
        where = _record_failure(exc)
        suffix = f" (details in {where})" if where else ""
        print(f"self-test: FAILED: {type(exc).__name__}: {exc}{suffix}", flush=True)
        return 1
    finally:
        _forget_log_handlers(tmp)
        _remove_tree(tmp)
    print(f"self-test: ok ({detail})", flush=True)
    return 0


def _remove_tree(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)  # a file still open on Windows is left behind
