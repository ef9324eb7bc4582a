"""The front door: the application window's menu and status bar, the first page's Audit
history and Browse store buttons, the store used last, ``--db`` for the window, several files
dropped at once (imported one after the other), and a typed path read when typing pauses."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from store_helpers import REFUSED, SMALL, SMALL_030
from test_ui_wizard import drop_files, inspected

from wizard.main import _without_db
from wizard.store import audit, database
from wizard.ui.main_window import LAST_STORE_KEY, MainWindow, _global_settings, last_store
from wizard.ui.wizard import PageId


@pytest.fixture
def main(qtbot, db_path) -> MainWindow:
    window = MainWindow(db_path)
    qtbot.addWidget(window)
    window.show()
    return window


def test_the_window_names_its_store_and_has_the_menus(main, db_path):
    assert str(db_path) in main.store_label.text()
    menus = [a.text() for a in main.menuBar().actions()]
    assert menus == ["&File", "&Store", "&Help"]
    names = {a.objectName() for a in main.findChildren(type(main.menuBar().actions()[0]))}
    for name in ("openStoreAction", "browseStoreAction", "auditHistoryAction", "sendStoreAction"):
        assert name in names
    remembered = _global_settings().value(LAST_STORE_KEY)
    assert remembered == str(Path(db_path).absolute())


def test_home_buttons_open_the_audit_history_and_ask_for_the_browser(qtbot, main):
    page = main.wizard.file_page
    with qtbot.waitSignal(main.wizard.auditWindowOpened) as opened:
        page.audit_button.click()
    assert opened.args[0].objectName()
    opened.args[0].close()
    with qtbot.waitSignal(main.wizard.session.browserRequested) as asked:
        page.browser_button.click()
    assert asked.args == [None]


def test_open_another_store_swaps_the_wizard(qtbot, main, tmp_path):
    other = tmp_path / "other.sqlite"
    old = main.wizard
    assert main.open_store(str(other))
    assert main.wizard is not old
    assert str(main.wizard.session.db_path) == str(other)
    assert str(other) in main.store_label.text()
    assert last_store() == str(other.absolute())  # opened next time


def test_db_option_is_taken_by_the_window_too():
    assert _without_db(["--db", "x.sqlite"]) == []
    assert _without_db(["--db=x.sqlite", "file.json"]) == ["file.json"]
    assert _without_db(["validate", "f.json"]) == ["validate", "f.json"]


def test_several_files_dropped_are_imported_one_after_the_other(qtbot, main, db_path, tmp_path):
    w = main.wizard
    third = tmp_path / "again.json"
    shutil.copy(SMALL, third)
    drop_files(w.file_page.drop_zone, [SMALL_030, REFUSED, third])
    inspected(qtbot, w)
    assert [Path(p).name for p, _v in w.session.queue] == [REFUSED.name, "again.json"]
    assert "Then 2 more" in w.file_page.status.text()
    w.next()
    w.next()
    qtbot.waitUntil(w.strategy_page.isComplete, timeout=10_000)
    with qtbot.waitSignal(w.session.importStopped, timeout=60_000):
        w.next()
    qtbot.waitUntil(lambda: w.currentId() == PageId.RESULT)
    outcomes = [item.result.outcome for item in w.session.batch]
    assert [str(o) for o in outcomes] == ["refused", "succeeded"]
    with database.open_store(db_path) as store:
        entries = audit.list_entries(store)
    assert [e["outcome"] for e in reversed(entries)] == ["succeeded", "refused", "succeeded"]
    assert len({e["source"]["name"] for e in entries}) == 3


def test_a_typed_path_is_read_when_typing_pauses(qtbot, main):
    page = main.wizard.file_page
    qtbot.keyClicks(page.path_edit, str(SMALL))
    qtbot.waitUntil(lambda: main.wizard.session.path == str(SMALL), timeout=5_000)
    inspected(qtbot, main.wizard)
    page.path_edit.clear()
    qtbot.keyClicks(page.path_edit, "/no/such/place/yet")
    qtbot.waitUntil(lambda: "Nothing at" in page.status.text(), timeout=5_000)


def test_the_menus_letters_are_not_used_on_the_first_page(main):
    import re

    from PySide6.QtWidgets import QAbstractButton, QLabel

    def letter(text: str) -> str | None:
        m = re.search(r"&([^&])", text)
        return m.group(1).lower() if m else None

    menus = {letter(a.text()) for a in main.menuBar().actions()}
    page = main.wizard.file_page
    widgets = [*page.findChildren(QAbstractButton), *page.findChildren(QLabel)]
    on_page = {letter(w.text()) for w in widgets if w.isVisibleTo(page)} - {None}
    assert not menus & on_page, menus & on_page


def test_replace_is_not_offered_for_several_files_at_once(qtbot, main, tmp_path):
    from wizard.core.names import Strategy

    w = main.wizard
    drop_files(w.file_page.drop_zone, [SMALL_030, SMALL])
    inspected(qtbot, w)
    w.next()
    w.next()
    assert not w.strategy_page.radios[Strategy.REPLACE].isEnabled()
    assert "several files" in w.strategy_page.radios[Strategy.REPLACE].toolTip()


def test_the_result_page_lists_what_became_of_each_file_of_a_batch(qtbot, main, tmp_path):
    w = main.wizard
    drop_files(w.file_page.drop_zone, [SMALL_030, REFUSED])
    inspected(qtbot, w)
    w.next()
    w.next()
    qtbot.waitUntil(w.strategy_page.isComplete, timeout=10_000)
    with qtbot.waitSignal(w.session.importStopped, timeout=60_000):
        w.next()
    qtbot.waitUntil(lambda: w.currentId() == PageId.RESULT)
    text = w.result_page.batch_label.text()
    assert w.result_page.batch_label.isVisibleTo(w.result_page)
    assert REFUSED.name in text and "refused" in text


def test_a_batch_that_fails_keeps_the_first_import_as_committed(qtbot, main, monkeypatch):
    from wizard.runs import batch

    def broken(*_a, **_k):
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(batch, "read", broken)
    w = main.wizard
    w.session.unexpectedError.disconnect()  # no crash dialog in this test
    drop_files(w.file_page.drop_zone, [SMALL_030, SMALL])
    inspected(qtbot, w)
    w.next()
    w.next()
    qtbot.waitUntil(w.strategy_page.isComplete, timeout=10_000)
    with qtbot.waitSignal(w.session.importStopped, timeout=60_000):
        w.next()
    assert str(w.session.import_outcome) == "succeeded"
    assert "stopped on an error" in w.result_page.batch_label.text()
    assert SMALL.name in w.result_page.batch_label.text()


def test_recent_files_of_an_earlier_version_are_kept_on_upgrade(db_path):
    from PySide6.QtCore import QSettings

    from wizard.ui.settings import Settings

    qs = QSettings(str(Path(db_path).parent / "old.ini"), QSettings.Format.IniFormat)
    qs.setValue("files/recent", [str(SMALL)])
    qs.setValue("import/strategy", "skip")
    per_store = Settings(qs).for_store(db_path)
    assert per_store.recent_files() == [str(SMALL)]
    assert str(per_store.last_strategy()) == "skip"


def test_a_store_deleted_while_the_window_runs_is_started_again(qtbot, db_path):
    from wizard.ui import backend

    handle = backend.StoreHandle(db_path)
    first = handle.get()
    first.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    again = handle.get()
    assert again is not first
    assert again.counts()["memories"] == 0
    assert Path(db_path).stat().st_mode & 0o077 == 0
    handle.close()
