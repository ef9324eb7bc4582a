"""Pruning from the window: the settings dialog's "Drop revert data older than N days" (dry run,
confirmation, the prune on a worker, the result), and the audit window's mark on the imports
whose revert data is gone."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from store_helpers import SMALL, SMALL_030, run

from wizard import runs
from wizard.core.inspection import inspect_file
from wizard.core.names import ErrorKind, Operation, Outcome
from wizard.store import audit, database
from wizard.ui import open_audit_history, open_wizard
from wizard.ui.ask import Ask
from wizard.ui.audit_model import COLUMNS, ENTRY_ROLE, PRUNED_MARK
from wizard.ui.settings import Settings
from wizard.ui.settings_dialog import SettingsDialog

OLD = "2020-01-01T00:00:00.000Z"


@pytest.fixture
def aged(db_path):
    """Three imports replacing each other (each keeps revert data), the first two old."""
    with database.open_store(db_path) as store:
        for path in (SMALL, SMALL_030, SMALL):
            run(runs.import_steps(store, inspect_file(path), "replace"))
    con = sqlite3.connect(db_path)
    con.execute("UPDATE audit_log SET timestamp = ? WHERE id IN (1, 2)", (OLD,))
    con.commit()
    con.close()
    return db_path


def entries(db_path) -> list[dict]:
    with database.open_store(db_path) as store:
        return audit.list_entries(store)


@pytest.fixture
def dialog(qtbot, aged):
    d = SettingsDialog(Settings(), db_path=aged)
    qtbot.addWidget(d)
    d.show()
    return d


def test_the_dialog_asks_with_what_would_go_then_prunes_and_reports(
    qtbot, dialog, aged, monkeypatch
):
    asked = []
    monkeypatch.setattr(Ask, "question", staticmethod(lambda *a, **k: asked.append(a) or True))
    spin = dialog.findChild(object, "pruneDaysSpin")
    button = dialog.findChild(object, "pruneButton")
    assert spin.value() == 90 and button.isEnabled()
    spin.setValue(30)
    with qtbot.waitSignal(dialog.pruneFinished, timeout=20_000) as done:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert dialog.prune_task is not None and not button.isEnabled()  # on a worker
        dialog.reject()  # it stays open until the prune has run its course
        assert dialog.isVisible()
    result = done.args[0]
    assert result.ok and result.outcome == Outcome.SUCCEEDED and result.imports == [1, 2]
    assert result.compacted and result.bytes_after < result.bytes_before
    [(_parent, _title, text, info)] = [a[:4] for a in asked]
    assert "older than 30 days" in text
    assert "#1, #2" in info and "can no longer be reverted" in info and "previous versions" in info
    status = dialog.findChild(object, "pruneStatus")
    assert status.isVisible() and status.text().startswith("Dropped ")
    assert "2 imports can no longer be reverted" in status.text()
    assert f"Audit entry #{result.audit_id}" in status.text()
    assert button.isEnabled() and dialog.prune_task is None
    [prune] = [e for e in entries(aged) if e["operation"] == Operation.PRUNE]
    assert prune["outcome"] == Outcome.SUCCEEDED and prune["options"]["older_than"] == "30d"
    dialog.reject()
    assert not dialog.isVisible()


def test_declined_drops_nothing(qtbot, dialog, aged, monkeypatch):
    monkeypatch.setattr(Ask, "question", staticmethod(lambda *a, **k: False))
    with qtbot.waitSignal(dialog.pruneFinished, timeout=20_000) as done:
        dialog.start_prune()
    assert done.args[0].outcome == Outcome.PLANNED
    assert dialog.findChild(object, "pruneStatus").text() == "Nothing was dropped."
    assert not [e for e in entries(aged) if e["operation"] == Operation.PRUNE]
    assert all(e["pruned_by"] is None for e in entries(aged))


def test_nothing_old_enough_asks_nothing(qtbot, dialog, monkeypatch):
    monkeypatch.setattr(Ask, "question", staticmethod(lambda *a, **k: pytest.fail("asked")))
    dialog.findChild(object, "pruneDaysSpin").setValue(36500)
    with qtbot.waitSignal(dialog.pruneFinished, timeout=20_000):
        dialog.start_prune()
    assert "Nothing to drop" in dialog.findChild(object, "pruneStatus").text()


def test_no_store_says_so_and_creates_none(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(Ask, "question", staticmethod(lambda *a, **k: pytest.fail("asked")))
    missing = tmp_path / "none.sqlite"
    d = SettingsDialog(Settings(), db_path=missing)
    qtbot.addWidget(d)
    with qtbot.waitSignal(d.pruneFinished, timeout=20_000) as done:
        d.start_prune()
    assert done.args == [None]
    assert f"no store at {missing}" in d.findChild(object, "pruneStatus").text()
    assert not missing.exists()


def test_a_locked_store_is_reported_in_the_dialog(qtbot, dialog, aged, monkeypatch):
    monkeypatch.setattr(Ask, "question", staticmethod(lambda *a, **k: True))
    monkeypatch.setenv("AGENTMEMORY_WIZARD_BUSY_TIMEOUT_MS", "50")
    other = sqlite3.connect(aged, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with qtbot.waitSignal(dialog.pruneFinished, timeout=20_000) as done:
            dialog.start_prune()
    finally:
        other.execute("ROLLBACK")
        other.close()
    result = done.args[0]
    assert not result.ok and result.error_code == ErrorKind.LOCKED
    assert "Nothing was dropped" in dialog.findChild(object, "pruneStatus").text()
    assert dialog.findChild(object, "pruneButton").isEnabled()


def test_the_wizards_settings_dialog_prunes_its_store(qtbot, aged):
    wiz = open_wizard(aged)
    qtbot.addWidget(wiz)
    dialog = wiz.open_settings()
    assert dialog.findChild(object, "pruneButton") is not None
    assert dialog.db_path == aged
    dialog.reject()


def test_the_audit_window_marks_pruned_imports_and_says_why_revert_is_refused(
    qtbot, aged, monkeypatch
):
    with database.open_store(aged) as store:
        result = run(runs.prune_steps(store, timedelta(days=90)))[1]
    assert result.imports == [1, 2]
    shown = []
    monkeypatch.setattr(QMessageBox, "open", lambda self: shown.append(self))
    window = open_audit_history(aged)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.is_loading(), timeout=10_000)
    model = window.model
    outcome = COLUMNS.index("outcome")
    marks = {}
    for row in range(model.rowCount()):
        entry = model.index(row, 0).data(ENTRY_ROLE)
        marks[entry["id"]] = model.index(row, outcome).data()
    assert PRUNED_MARK in marks[1] and PRUNED_MARK in marks[2]
    assert PRUNED_MARK not in marks[3] and PRUNED_MARK not in marks[4]
    tip = model.index(model.row_of_id(1), outcome).data(Qt.ItemDataRole.ToolTipRole)
    assert f"prune #{result.audit_id}" in tip and "can no longer be reverted" in tip
    prune_row = model.row_of_id(result.audit_id)
    assert model.index(prune_row, COLUMNS.index("operation")).data() == "prune, older than 90d"
    assert "versions dropped" in model.index(prune_row, COLUMNS.index("counts")).data()

    window.search.setText(PRUNED_MARK)  # the mark can be searched for
    assert window.proxy.rowCount() == 2
    window.search.clear()

    window.select_entry(result.audit_id)
    details = window.details.toPlainText()
    assert "revert data older than 90d" in details and "No longer revertible: #1, #2" in details
    window.select_entry(2)
    assert "can no longer be reverted" in window.details.toPlainText()
    assert window.revert_button.isEnabled()  # asking says why
    assert "can no longer be reverted" in window.revert_button.toolTip()
    with qtbot.waitSignal(window.revertFinished, timeout=10_000) as done:
        qtbot.mouseClick(window.revert_button, Qt.MouseButton.LeftButton)
    refusal = done.args[0]
    assert not refusal.ok and refusal.error_code == ErrorKind.REVERT_DATA_PRUNED
    assert shown and "cannot be reverted" in shown[0].text()
    assert "revert data" in shown[0].informativeText()
    assert f"prune #{result.audit_id}" in shown[0].informativeText()
