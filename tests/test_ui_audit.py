"""The audit history window: the model (qtmodeltester), filters, details, export, revert."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PySide6 import QtGui
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QFileDialog, QLabel, QMessageBox
from store_helpers import LETTA, REFUSED, SMALL, run
from store_helpers import SMALL_030 as OLD

from wizard import runs
from wizard.core.inspection import InspectOptions, inspect_file
from wizard.store import audit, database
from wizard.ui import open_audit_history
from wizard.ui.ask import Ask
from wizard.ui.audit_model import (
    COLUMNS,
    ENTRY_ROLE,
    AuditFilterProxy,
    AuditTableModel,
    counts_text,
    entries_to_csv,
)
from wizard.ui.plain_text import INFORMATIVE_LABEL


@pytest.fixture
def history(db_path) -> Path:
    """A store with a few attempts: two imports, a refusal, a cancelled import."""
    with database.open_store(db_path) as store:
        run(runs.import_steps(store, inspect_file(SMALL), "merge"))
        runs.record_refusal(store, inspect_file(REFUSED), "merge")
        run(runs.import_steps(store, inspect_file(LETTA), "skip"))
        gen = runs.import_steps(store, inspect_file(OLD), "merge", cancel=lambda: True)
        assert run(gen)[1].outcome == "cancelled"
    return db_path


def sample_entries(db_path) -> list[dict]:
    with database.open_store(db_path) as store:
        return audit.list_entries(store)


@pytest.fixture
def window(qtbot, history):
    w = open_audit_history(history)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: not w.is_loading(), timeout=10_000)
    return w


def test_models_pass_qtmodeltester(qtmodeltester, history):
    model = AuditTableModel(sample_entries(history))
    qtmodeltester.check(model, force_py=True)
    proxy = AuditFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(0, Qt.SortOrder.DescendingOrder)
    proxy.set_outcome("succeeded")
    qtmodeltester.check(proxy, force_py=True)


def test_empty_model_passes_qtmodeltester(qtmodeltester):
    qtmodeltester.check(AuditTableModel([]), force_py=True)


def test_entries_newest_first_with_the_columns(window):
    table = window.findChild(object, "auditTable")
    assert table is window.table
    model = table.model()
    assert isinstance(model, AuditFilterProxy)
    assert model.rowCount() == 4
    ids = [int(model.index(r, 0).data()) for r in range(4)]
    assert ids == sorted(ids, reverse=True)
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(len(COLUMNS))]
    for h in ("Time", "Outcome", "Strategy", "Format", "File", "Records", "Duration"):
        assert h in headers
    outcomes = [model.index(r, COLUMNS.index("outcome")).data() for r in range(4)]
    assert outcomes[0].endswith("cancelled") and outcomes[3].endswith("succeeded")
    assert model.index(3, COLUMNS.index("counts")).data() == "580 written"
    assert model.index(3, COLUMNS.index("file")).data() == SMALL.name


def test_filters_by_outcome_format_and_text(qtbot, window):
    proxy = window.proxy
    combo = window.findChild(object, "outcomeFilter")
    combo.setCurrentIndex(combo.findData("refused"))
    assert proxy.rowCount() == 1
    assert proxy.index(0, 0).data(ENTRY_ROLE)["source"]["name"] == REFUSED.name
    combo.setCurrentIndex(combo.findData(""))
    fmt = window.findChild(object, "formatFilter")
    assert fmt.findData("letta-af") >= 0
    fmt.setCurrentIndex(fmt.findData("letta-af"))
    assert proxy.rowCount() == 1
    fmt.setCurrentIndex(0)
    qtbot.keyClicks(window.findChild(object, "auditSearch"), "0.3.0-small")
    assert proxy.rowCount() == 1
    assert proxy.index(0, 0).data(ENTRY_ROLE)["outcome"] == "cancelled"
    assert "1 of 4" in window.status.text()
    window.search.clear()
    assert proxy.rowCount() == 4


def test_details_pane_shows_the_whole_entry(window):
    proxy = window.proxy
    row = next(
        r
        for r in range(proxy.rowCount())
        if proxy.index(r, 0).data(ENTRY_ROLE)["outcome"] == "refused"
    )
    window.table.selectRow(row)
    text = window.findChild(object, "auditDetails").toPlainText()
    assert "refused" in text and REFUSED.name in text
    assert "structured export" in text  # the error
    assert "SHA-256:" in text and '"sha256"' not in text  # all of it, as readable lines
    window.table.selectRow(proxy.rowCount() - 1)  # the first import
    text = window.details.toPlainText()
    assert "agentmemory's caps:" in text and "Records per collection" in text
    assert window.revert_button.isEnabled()
    window.table.selectRow(row)
    assert not window.revert_button.isEnabled()


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_export_the_filtered_history(qtbot, window, tmp_path, monkeypatch, kind):
    out = tmp_path / f"history.{kind}"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), ""))
    )
    window.outcome_filter.setCurrentIndex(window.outcome_filter.findData("succeeded"))
    assert window.proxy.rowCount() == 2
    button = window.findChild(object, "exportCsvButton" if kind == "csv" else "exportJsonButton")
    with qtbot.waitSignal(window.exportFinished, timeout=10_000) as done:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert done.args == [str(out)]
    if kind == "csv":
        rows = list(csv.DictReader(out.open(encoding="utf-8")))
        assert [r["outcome"] for r in rows] == ["succeeded", "succeeded"]
        assert {r["file_name"] for r in rows} == {SMALL.name, LETTA.name}
        assert json.loads(rows[-1]["counts"])["stats"]["observations"] == 500
    else:
        data = json.loads(out.read_text(encoding="utf-8"))
        assert [e["outcome"] for e in data] == ["succeeded", "succeeded"]
        assert data[-1]["source"]["sha256"]


def test_revert_after_confirmation_says_what_changes(qtbot, window, history, monkeypatch):
    asked = []
    monkeypatch.setattr(Ask, "question", staticmethod(lambda *a, **k: asked.append(a) or True))
    first = window.model.entries()[-1]
    assert window.select_entry(first["id"])
    with qtbot.waitSignal(window.revertFinished, timeout=10_000) as done:
        qtbot.mouseClick(window.revert_button, Qt.MouseButton.LeftButton)
    result = done.args[0]
    assert result.ok
    [(_parent, _title, text, info)] = [a[:4] for a in asked]
    assert f"#{first['id']}" in text and SMALL.name in text
    assert "Removes the 580 records" in info and "500 observations" in info
    qtbot.waitUntil(lambda: not window.is_loading(), timeout=10_000)
    assert window.model.rowCount() == 5
    assert window.current_entry()["operation"] == "revert"
    with database.open_store(history) as store:
        assert store.counts()["observations"] == 3  # the Letta import stays
        assert audit.get_entry(store, first["id"])["reverted_by"] == result.audit_id


def test_revert_declined_changes_nothing(qtbot, window, history, monkeypatch):
    monkeypatch.setattr(Ask, "question", staticmethod(lambda *a, **k: False))
    window.select_entry(window.model.entries()[-1]["id"])
    with qtbot.waitSignal(window.revertFinished, timeout=10_000) as done:
        window.revert_selected()
    assert done.args == [None]
    with database.open_store(history) as store:
        assert store.counts()["observations"] == 503
        assert len(audit.list_entries(store)) == 4


def test_revert_that_is_not_possible_explains_why(qtbot, window, history, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "open", lambda self: shown.append(self))
    with database.open_store(history) as store:  # a later import rewrites the same records
        data = inspect_file(SMALL)
        data.data["memories"][0]["content"] = "changed"
        run(runs.import_steps(store, data, "merge"))
    window.reload()
    qtbot.waitUntil(lambda: not window.is_loading(), timeout=10_000)
    first = window.model.entries()[-1]
    window.select_entry(first["id"])
    with qtbot.waitSignal(window.revertFinished, timeout=10_000):
        window.revert_selected()
    assert shown and "cannot be reverted" in shown[0].text()
    assert "later import" in shown[0].informativeText()


def test_a_reason_naming_html_record_keys_is_plain_text(qtbot, db_path, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "open", lambda self: shown.append(self))
    data = json.loads(SMALL.read_text())
    data["memories"][0]["id"] = "<b>m</b>"
    path = tmp_path / "html-keys.json"
    path.write_text(json.dumps(data))
    with database.open_store(db_path) as store:
        run(runs.import_steps(store, inspect_file(path), "merge"))
        data["memories"][0]["content"] = "changed by a later import"
        path.write_text(json.dumps(data))
        run(runs.import_steps(store, inspect_file(path), "merge"))
    w = open_audit_history(db_path)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: not w.is_loading(), timeout=10_000)
    w.select_entry(w.model.entries()[-1]["id"])
    with qtbot.waitSignal(w.revertFinished, timeout=10_000):
        w.revert_selected()
    box = shown[0]
    info = box.findChild(QLabel, INFORMATIVE_LABEL)
    assert "<b>m</b>" in box.informativeText()
    assert info is not None and info.textFormat() == Qt.TextFormat.PlainText
    assert box.textFormat() == Qt.TextFormat.PlainText


def shown_tooltip(tooltip: str) -> str:
    """What Qt displays for a tooltip: rich text when it looks like it, else the string."""
    if not QtGui.Qt.mightBeRichText(tooltip):
        return tooltip
    doc = QTextDocument()
    doc.setHtml(tooltip)
    return doc.toPlainText()


def test_tooltips_show_the_path_and_the_error_literally(qapp):
    entry = {
        "id": 1,
        "operation": "import",
        "outcome": "refused",
        "timestamp": "2026-01-02T03:04:05Z",
        "source": {"name": "<b>x</b>.json", "path": "/data/<i>d</i>/<b>x</b>.json"},
        "error": "unknown type '<b>x</b>' in memories[0]",
    }
    model = AuditTableModel([entry])
    tip = Qt.ItemDataRole.ToolTipRole
    file_tip = model.index(0, COLUMNS.index("file")).data(tip)
    error_tip = model.index(0, COLUMNS.index("outcome")).data(tip)
    assert shown_tooltip(file_tip) == entry["source"]["path"] and "<b>" not in file_tip
    assert shown_tooltip(error_tip) == entry["error"] and "<b>" not in error_tip
    assert model.index(0, COLUMNS.index("file")).data() == "<b>x</b>.json"


def test_counts_text_for_each_kind_of_entry():
    assert (
        counts_text(
            {"operation": "import", "outcome": "refused", "counts": {"source": {"memories": 3}}}
        )
        == "3 in file"
    )
    assert (
        counts_text(
            {
                "operation": "revert",
                "outcome": "succeeded",
                "counts": {"removed": {"memories": 2}, "restored": {}},
            }
        )
        == "2 removed, 0 restored"
    )
    assert "id" in entries_to_csv([]).splitlines()[0]


def test_skipped_invalid_records_are_listed(qtbot, db_path, tmp_path):
    data = json.loads(SMALL.read_text())
    data["memories"][2]["id"] = ""
    path = tmp_path / "some-invalid.json"
    path.write_text(json.dumps(data))
    with database.open_store(db_path) as store:
        run(
            runs.import_steps(store, inspect_file(path, InspectOptions(skip_invalid=True)), "merge")
        )
    w = open_audit_history(db_path)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: not w.is_loading(), timeout=10_000)
    text = w.details.toPlainText()
    assert "imported only the valid records (1 left out)" in text
    assert "memories[2]" in text
