"""The store browser window: the lazy model (qtmodeltester), search, filters, details, the
session's observations, export, the index build, store errors."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox
from shiboken6 import isValid
from store_helpers import FIXTURES, SMALL, export, inspection, memory, run

from wizard import runs
from wizard.core.inspection import inspect_file
from wizard.store import browse, database
from wizard.store.browse import BrowseFilter, RecordRow
from wizard.ui import open_store_browser
from wizard.ui.ask import Ask
from wizard.ui.browser_model import (
    COLUMNS,
    PAGE_SIZE,
    ROW_ROLE,
    SNIPPET,
    RecordProxy,
    RecordTableModel,
    count_text,
    describe_record,
    source_text,
)
from wizard.ui.error_dialog import open_error_dialogs
from wizard.ui.worker import Job, running_tasks

MEM0 = FIXTURES / "mem0" / "mem0-real-oss-2.2.1-getall-alice.json"
ZEBRA = "Zebra crossings need a <b>second</b> look"


# -- stores ----------------------------------------------------------------------------------------
def zebra_export() -> dict:
    return export(
        memories=[
            memory("mem_zebra", ZEBRA + " before the school run", project="/home/dev/zoo"),
            memory("mem_plain", "Nothing to see here", project="/home/dev/zoo"),
        ]
    )


@pytest.fixture
def store_path(db_path) -> Path:
    """A store with three imports: the 0.9.5 sample (#1), two memories of our own (#2) and
    mem0 memories with their source copies (#3)."""
    with database.open_store(db_path) as store:
        assert run(runs.import_steps(store, inspect_file(SMALL), "merge"))[1].ok
        assert run(runs.import_steps(store, inspection(zebra_export()), "merge"))[1].ok
        assert run(runs.import_steps(store, inspect_file(MEM0), "merge"))[1].ok
    return db_path


def open_window(qtbot, path: Path, audit_id: int | None = None):
    w = open_store_browser(path, audit_id)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: not w.is_loading(), timeout=10_000)
    return w


@pytest.fixture
def window(qtbot, store_path):
    w = open_window(qtbot, store_path)
    qtbot.waitUntil(lambda: w.search.isEnabled(), timeout=10_000)
    return w


def shown_keys(w) -> list[str]:
    return [w.proxy.index(r, 0).data(ROW_ROLE).key for r in range(w.proxy.rowCount())]


def search(qtbot, w, text: str) -> None:
    with qtbot.waitSignal(w.countLoaded, timeout=10_000):
        qtbot.keyClicks(w.search, text)
    qtbot.waitUntil(lambda: not w.is_loading(), timeout=10_000)


# -- the model -------------------------------------------------------------------------------------
def _rows(n: int) -> list[RecordRow]:
    return [
        RecordRow(
            "memories", f"m{i:04}", f"Title {i}", "p", None, f"2026-01-01T00:{i % 60:02}:00Z", None
        )
        for i in range(n)
    ]


def _list_pages(rows: list[RecordRow]):
    def page_job(f: BrowseFilter, offset: int, limit: int) -> Job:
        return Job(lambda ctx: rows[offset : offset + limit])

    return page_job


def test_model_fetches_a_page_at_a_time_and_passes_qtmodeltester(qtbot, qtmodeltester):
    rows = _rows(PAGE_SIZE * 2 + 17)
    model = RecordTableModel(_list_pages(rows))
    with qtbot.waitSignal(model.pageLoaded, timeout=10_000):
        model.set_filter(BrowseFilter("memories"))
    assert model.rowCount() == PAGE_SIZE
    assert model.canFetchMore(QModelIndex()) and not model.is_complete()
    for expected in (PAGE_SIZE * 2, len(rows)):
        with qtbot.waitSignal(model.pageLoaded, timeout=10_000):
            model.fetchMore(QModelIndex())
        assert model.rowCount() == expected
    assert model.is_complete() and not model.canFetchMore(QModelIndex())
    assert model.row(0) == rows[0] and model.row(len(rows) - 1) == rows[-1]
    qtmodeltester.check(model, force_py=True)
    proxy = RecordProxy()
    proxy.setSourceModel(model)
    proxy.sort(COLUMNS.index("when"), Qt.SortOrder.DescendingOrder)
    qtmodeltester.check(proxy, force_py=True)


def test_model_drops_a_page_of_an_older_filter(qtbot):
    rows = _rows(5)
    model = RecordTableModel(_list_pages(rows))
    model.set_filter(BrowseFilter("memories"))
    with qtbot.waitSignal(model.pageLoaded, timeout=10_000):
        model.set_filter(BrowseFilter("memories", text="x"))
    assert model.rowCount() == 5  # one page, not two
    assert model.columns() == (*COLUMNS, SNIPPET)
    qtbot.waitUntil(lambda: model.is_complete())


def test_empty_model_passes_qtmodeltester(qtmodeltester):
    qtmodeltester.check(RecordTableModel(), force_py=True)


def test_count_text():
    assert count_text("memories", 1234, True) == "1,234 memories match"
    assert count_text("memories", 1, True) == "1 memory matches"
    assert count_text("graphNodes", 3, False) == "3 graph nodes"


def test_describe_record_is_the_fields_then_the_source():
    rec = memory("m1", "line one\nline two", project="/p", agentId="agent-7")
    rec["source"] = {"system": "mem0", "format": "mem0-oss", "raw": {"memory": "<b>x</b>"}}
    rec["extra"] = {"a": 1}
    text = describe_record("memories", rec)
    assert text.startswith("Memory")
    assert "Content:\n  line one\n  line two" in text
    assert "Agent:" in text and "agent-7" in text
    assert 'Other fields:\n  extra: {"a": 1}' in text
    assert "mem0 (mem0-oss)" in text
    assert source_text(rec) == '{\n  "memory": "<b>x</b>"\n}'
    assert source_text(memory("m2")) is None


# -- the window ------------------------------------------------------------------------------------
def test_opens_on_the_memories_newest_first(window, store_path):
    assert window.objectName() == "storeBrowser"
    table = window.findChild(object, "recordTable")
    assert table is window.table and table.model() is window.proxy
    headers = [window.proxy.headerData(c, Qt.Orientation.Horizontal) for c in range(5)]
    assert headers == ["Title", "Project", "Agent", "When", "Source format"]
    n = 50 + 2 + 19
    assert window.proxy.rowCount() == n
    assert window.findChild(object, "matchCount").text() == f"{n} memories"
    assert str(store_path) in window.findChild(object, "storePath").text()
    whens = [window.proxy.index(r, 0).data(ROW_ROLE).when for r in range(n)]
    assert whens == sorted(whens, reverse=True)
    assert window.current_row() is not None  # the first row is selected


def test_search_finds_a_memory_and_shows_it(qtbot, window):
    search(qtbot, window, "zebra")
    assert shown_keys(window) == ["mem_zebra"]
    assert window.status.text() == "1 memory matches"
    assert window.proxy.headerData(5, Qt.Orientation.Horizontal) == "Match"
    assert "zebra" in window.proxy.index(0, 5).data().lower()  # the words found, in context
    window.table.selectRow(0)
    qtbot.waitUntil(lambda: "school run" in window.detail.toPlainText(), timeout=10_000)
    detail = window.findChild(object, "recordDetail")
    assert ZEBRA in detail.toPlainText()  # literally: plain text
    assert "/home/dev/zoo" in detail.toPlainText()
    assert not window.source_toggle.isEnabled()  # an agentmemory record: no source copy
    window.search.setFocus()
    qtbot.keyClick(window.search, Qt.Key.Key_Escape)
    assert window.search.text() == ""
    with qtbot.waitSignal(window.countLoaded, timeout=10_000):
        pass
    qtbot.waitUntil(lambda: not window.is_loading(), timeout=10_000)
    assert window.proxy.rowCount() == 71


def test_enter_in_the_table_shows_the_detail(qtbot, window):
    window.table.setFocus()
    window.table.selectRow(3)
    row = window.current_row()
    qtbot.keyClick(window.table, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: row.key in window.detail.toPlainText(), timeout=10_000)
    qtbot.waitUntil(lambda: window.detail.hasFocus() or QApplication.focusWidget() is None)


def test_ctrl_f_focuses_the_search(qtbot, window):
    window.table.setFocus()
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.search.hasFocus() or QApplication.focusWidget() is None)


def test_mem0_record_shows_its_verbatim_source(qtbot, window):
    fmt = window.format_filter
    qtbot.waitUntil(lambda: fmt.findData("mem0-oss") >= 0, timeout=10_000)
    with qtbot.waitSignal(window.countLoaded, timeout=10_000):
        fmt.setCurrentIndex(fmt.findData("mem0-oss"))
    qtbot.waitUntil(lambda: not window.is_loading(), timeout=10_000)
    assert window.proxy.rowCount() == 19
    assert {window.proxy.index(r, 4).data() for r in range(19)} == {"mem0-oss"}
    qtbot.waitUntil(lambda: window.source_toggle.isEnabled(), timeout=10_000)
    assert not window.source_view.isVisible()
    window.source_toggle.click()
    assert window.source_view.isVisible()
    assert '"user_id": "alice"' in window.findChild(object, "recordSource").toPlainText()


def test_filter_by_the_import_that_wrote_the_records(qtbot, store_path):
    w = open_window(qtbot, store_path, audit_id=2)
    assert sorted(shown_keys(w)) == ["mem_plain", "mem_zebra"]
    assert w.audit_filter.currentData() == 2
    assert w.status.text() == "2 memories match"
    qtbot.waitUntil(lambda: w.audit_filter.count() >= 4, timeout=10_000)
    assert w.audit_filter.currentData() == 2  # kept when the facets came
    with qtbot.waitSignal(w.countLoaded, timeout=10_000):
        w.audit_filter.setCurrentIndex(w.audit_filter.findData(3))
    qtbot.waitUntil(lambda: not w.is_loading(), timeout=10_000)
    assert w.proxy.rowCount() == 19


def test_observations_load_a_page_at_a_time(qtbot, window):
    with qtbot.waitSignal(window.countLoaded, timeout=10_000):
        window.collection_combo.setCurrentIndex(window.collection_combo.findData("observations"))
    qtbot.waitUntil(lambda: not window.is_loading(), timeout=10_000)
    assert window.status.text() == "500 observations"
    assert window.model.rowCount() == PAGE_SIZE  # the first page only
    assert window.model.canFetchMore(QModelIndex())
    window.table.scrollToBottom()  # the view asks for more as it reaches the end
    qtbot.waitUntil(lambda: window.model.rowCount() == 2 * PAGE_SIZE, timeout=10_000)
    qtbot.waitUntil(lambda: not window.model.is_fetching(), timeout=10_000)
    window.table.scrollToBottom()
    qtbot.waitUntil(lambda: window.model.is_complete(), timeout=10_000)
    qtbot.waitUntil(lambda: window.model.rowCount() == 500, timeout=10_000)


def test_a_session_s_observations_are_one_click_away(qtbot, window):
    with qtbot.waitSignal(window.countLoaded, timeout=10_000):
        window.collection_combo.setCurrentIndex(window.collection_combo.findData("sessions"))
    qtbot.waitUntil(lambda: not window.is_loading(), timeout=10_000)
    session = "ses_11_000009"
    assert window.select_key(session)
    button = window.findChild(object, "showObservationsButton")
    qtbot.waitUntil(lambda: button.isVisible(), timeout=10_000)
    with qtbot.waitSignal(window.countLoaded, timeout=10_000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.is_loading(), timeout=10_000)
    assert window.collection() == "observations"
    assert window.model.filter.session_id == session
    assert window.status.text() == "50 observations match"
    assert session in window.session_label.text()
    with qtbot.waitSignal(window.countLoaded, timeout=10_000):
        window.clear_session_button.click()
    assert window.status.text() == "500 observations"


def _save_to(monkeypatch, path: Path) -> None:
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(path), ""))
    )


def test_export_selection_writes_a_file_that_reimports(qtbot, window, tmp_path, monkeypatch):
    out = tmp_path / "picked.json"
    _save_to(monkeypatch, out)
    search(qtbot, window, "zebra")
    window.table.selectRow(0)
    with qtbot.waitSignal(window.exportFinished, timeout=10_000) as done:
        qtbot.mouseClick(window.export_selection_button, Qt.MouseButton.LeftButton)
    assert done.args[0]["memories"] == 1
    assert "Exported 1 memory" in window.status.text()
    checked = inspect_file(out)
    assert checked.ok, checked.report
    with database.open_store(tmp_path / "other.sqlite") as other:
        assert run(runs.import_steps(other, checked, "merge"))[1].ok
        assert other.counts()["memories"] == 1


def test_export_asks_before_replacing_a_file(qtbot, window, tmp_path, monkeypatch):
    out = tmp_path / "all.json"
    out.write_text("keep me", encoding="utf-8")
    _save_to(monkeypatch, out)
    asked: list[str] = []

    def refuse(parent, title, text, informative="", yes_text="&Yes"):
        asked.append(text)
        return False

    monkeypatch.setattr(Ask, "question", staticmethod(refuse))
    with qtbot.waitSignal(window.exportFinished, timeout=10_000) as done:
        window.export_all_button.click()
    assert done.args == [None] and asked and "all.json" in asked[0]
    assert out.read_text(encoding="utf-8") == "keep me"
    monkeypatch.setattr(Ask, "question", staticmethod(lambda *a, **k: True))
    with qtbot.waitSignal(window.exportFinished, timeout=10_000) as done:
        window.export_all_button.click()
    assert done.args[0]["memories"] == 71
    assert len(json.loads(out.read_text(encoding="utf-8"))["memories"]) == 71


def test_index_is_built_once_on_open_then_search_works(qtbot, store_path, monkeypatch):
    steps: list[int] = []

    def index_steps(store, cancel):
        for i in range(3):
            steps.append(i)
            yield (i + 1, 3)

    monkeypatch.setattr(browse, "needs_index", lambda store: True)
    monkeypatch.setattr(browse, "index_steps", index_steps)
    w = open_store_browser(store_path)
    qtbot.addWidget(w)
    assert not w.search.isEnabled()
    with qtbot.waitSignal(w.searchReady, timeout=10_000) as ready:
        w.show()
    assert ready.args == [True] and steps == [0, 1, 2]
    assert w.search.isEnabled() and w.index_progress.isHidden()


def test_cancelling_the_index_build_leaves_search_off(qtbot, store_path, monkeypatch):
    def index_steps(store, cancel):
        while True:  # until cancelled
            if cancel():
                from wizard.core.problems import Cancelled

                raise Cancelled("cancelled")
            yield (0, 10)

    monkeypatch.setattr(browse, "needs_index", lambda store: True)
    monkeypatch.setattr(browse, "index_steps", index_steps)
    w = open_store_browser(store_path)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.is_indexing() and w.index_progress.isVisible(), timeout=10_000)
    with qtbot.waitSignal(w.searchReady, timeout=10_000) as ready:
        w.findChild(object, "cancelIndexButton").click()
    assert ready.args == [False]
    assert not w.search.isEnabled()
    assert w.findChild(object, "buildIndexButton").isVisible()


def test_a_damaged_store_is_reported_in_the_window(qtbot, db_path):
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not a database" * 100)
    w = open_store_browser(db_path)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.findChild(QMessageBox, "storeErrorBox") is not None, timeout=10_000)
    qtbot.waitUntil(lambda: not w.model.is_fetching(), timeout=10_000)
    assert len(w.findChildren(QMessageBox, "storeErrorBox")) == 1
    assert w.status.text() == "The store could not be read."
    box = w.findChild(QMessageBox, "storeErrorBox")
    assert "damaged" in box.informativeText()


def test_widgets_have_names_for_screen_readers(window):
    for name in (
        "collectionChooser",
        "projectFilter",
        "agentFilter",
        "formatFilter",
        "auditFilter",
        "storeSearch",
        "recordTable",
        "recordDetail",
        "recordSource",
    ):
        widget = window.findChild(object, name)
        assert widget is not None and widget.accessibleName(), name


def test_closing_while_pages_load_drops_their_results(qtbot, store_path, monkeypatch):
    gate = threading.Event()
    real_page, real_count = browse.page, browse.count

    def held_page(store, f, offset, limit):
        gate.wait(10)
        return real_page(store, f, offset, limit)

    def held_count(store, f):
        gate.wait(10)
        return real_count(store, f)

    monkeypatch.setattr(browse, "page", held_page)
    monkeypatch.setattr(browse, "count", held_count)
    w = open_store_browser(store_path)
    w.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    w.show()
    w.close()
    qtbot.waitUntil(lambda: not isValid(w), timeout=10_000)
    with qtbot.captureExceptions() as raised:
        gate.set()
        qtbot.waitUntil(lambda: not running_tasks(), timeout=10_000)
    assert not raised and not open_error_dialogs()


def test_sorting_orders_the_loaded_rows_and_keeps_the_selection(qtbot, window):
    window.table.selectRow(5)
    key = window.current_row().key
    window.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    titles = [window.proxy.index(r, 0).data().lower() for r in range(window.proxy.rowCount())]
    assert titles == sorted(titles)
    assert window.current_row().key == key
    window.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the store's order again
    whens = [window.proxy.index(r, 0).data(ROW_ROLE).when for r in range(window.proxy.rowCount())]
    assert whens == sorted(whens, reverse=True)


def _without_index(path: Path) -> None:
    """Make a store look made by an earlier version (schema 4): no full-text index."""
    con = sqlite3.connect(path)
    for (name,) in con.execute(
        "SELECT name FROM sqlite_master WHERE name LIKE 'search%' AND sql LIKE 'CREATE VIRTUAL%'"
    ).fetchall():
        con.execute(f"DROP TABLE {name}")
    con.execute("DROP TABLE search_index")
    con.execute("UPDATE schema_version SET version = 4")
    con.commit()
    con.close()


def test_an_older_store_gets_its_index_built_then_search_works(qtbot, store_path, monkeypatch):
    _without_index(store_path)
    monkeypatch.setattr(browse, "BUILD_CHUNK", 50)  # several progress steps
    w = open_store_browser(store_path)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.searchReady, timeout=20_000) as ready:
        w.show()
    assert ready.args == [True] and w.search.isEnabled()
    assert not w.findChild(object, "buildIndexButton").isVisible()
    with database.open_store(store_path) as store:
        assert not browse.needs_index(store)
    qtbot.waitUntil(lambda: not w.is_loading(), timeout=10_000)
    search(qtbot, w, "zebra")
    assert shown_keys(w) == ["mem_zebra"]
