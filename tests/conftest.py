"""Shared test set-up. Qt runs offscreen (set before any Qt import); every test gets its own
log directory; GUI tests (those using qtbot/qapp) get isolated QSettings, a temporary store
(env AGENTMEMORY_WIZARD_DB) and a teardown that stops any background task still running."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _log_dir(tmp_path_factory, monkeypatch) -> Path:
    """Unexpected errors are logged into a temporary directory, never the user's."""
    path = tmp_path_factory.mktemp("logs")
    monkeypatch.setenv("AGENTMEMORY_WIZARD_LOG_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def qapp_cls():
    """pytest-qt builds the app's own QApplication subclass (QFileOpenEvent handling)."""
    from wizard.ui.app import WizardApplication

    return WizardApplication


@pytest.fixture(scope="session")
def _qt_test_mode():
    from PySide6.QtCore import QStandardPaths

    QStandardPaths.setTestModeEnabled(True)  # before the first QSettings use


@pytest.fixture(autouse=True)
def _qt_isolation(request, tmp_path):
    """For GUI tests: QSettings in tmp, and no background task outliving its test."""
    if not {"qtbot", "qapp"} & set(request.fixturenames):
        yield
        return
    request.getfixturevalue("_qt_test_mode")
    from PySide6.QtCore import QSettings

    settings_dir = tmp_path / "settings"
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(settings_dir))
    yield
    from wizard.ui.worker import cancel_all_and_wait

    assert cancel_all_and_wait(30_000), "a background task did not stop"


@pytest.fixture
def db_path(tmp_path, monkeypatch) -> Path:
    """A temporary store path, also exported as AGENTMEMORY_WIZARD_DB."""
    path = tmp_path / "store" / "store.sqlite"
    monkeypatch.setenv("AGENTMEMORY_WIZARD_DB", str(path))
    return path


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A store holding one import (the agentmemory 0.3.0 sample), checkpointed into one file;
    tests copy it."""
    import sqlite3

    from store_helpers import SMALL_030

    from wizard.cli import main

    path = tmp_path_factory.mktemp("template") / "store.sqlite"
    assert main(["import", str(SMALL_030), "--db", str(path)]) == 0
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path
