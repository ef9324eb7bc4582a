"""The wizard, walked on real samples: drop → validation → strategy (each one) → import → result;
a refused file; cancel mid-import; command line and QFileOpenEvent; plain text; settings."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from PySide6 import QtGui
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QFileOpenEvent, QTextDocument
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMessageBox,
    QTableWidget,
    QWidget,
    QWizard,
)
from store_helpers import REFUSED, SMALL
from store_helpers import SMALL_030 as OLD

from wizard import runs
from wizard.store import audit, database, importer
from wizard.ui import open_wizard
from wizard.ui.ask import Ask
from wizard.ui.main_window import MainWindow
from wizard.ui.settings import Settings
from wizard.ui.wizard import MigrationWizard, PageId
from wizard.ui.worker import Task

PAUSE_ENV = importer.PAUSE_ENV

NEXT = QWizard.WizardButton.NextButton
COMMIT = QWizard.WizardButton.CommitButton
CANCEL = QWizard.WizardButton.CancelButton


# -- helpers --------------------------------------------------------------------------------------
@pytest.fixture
def wiz(qtbot, db_path) -> MigrationWizard:
    w = open_wizard(db_path)
    qtbot.addWidget(w)
    w.show()
    return w


def drop_files(widget, paths) -> None:
    """A file manager drop, as QT-PATTERNS §4 simulates it (DragEnter first, then Drop)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(
        QPoint(5, 5),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(5, 5),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, drop)
    assert drop.isAccepted()


def click(qtbot, button) -> None:
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def inspected(qtbot, w: MigrationWizard) -> None:
    qtbot.waitUntil(
        lambda: w.session.inspection is not None and not w.session.is_inspecting(), timeout=10_000
    )


def to_validation(qtbot, w: MigrationWizard, path: Path) -> None:
    drop_files(w.file_page.drop_zone, [path])
    inspected(qtbot, w)
    click(qtbot, w.button(NEXT))
    assert w.currentId() == PageId.VALIDATION


def to_strategy(qtbot, w: MigrationWizard, path: Path) -> None:
    to_validation(qtbot, w, path)
    qtbot.waitUntil(w.validation_page.isComplete)
    click(qtbot, w.button(NEXT))
    assert w.currentId() == PageId.STRATEGY
    qtbot.waitUntil(w.strategy_page.isComplete, timeout=10_000)


def plan_cells(w: MigrationWizard) -> dict[str, list[str]]:
    t = w.strategy_page.plan_table
    return {
        t.item(r, 0).text(): [t.item(r, c).text() for c in range(1, t.columnCount())]
        for r in range(t.rowCount())
    }


def store_counts(db_path) -> dict[str, int]:
    with database.open_store(db_path) as store:
        return store.counts()


def entries(db_path) -> list[dict]:
    with database.open_store(db_path) as store:
        return audit.list_entries(store)


def import_directly(db_path, path: Path, strategy="merge") -> None:
    from wizard.core.inspection import inspect_file

    with database.open_store(db_path) as store:
        gen = runs.import_steps(store, inspect_file(path), strategy)
        while True:
            try:
                next(gen)
            except StopIteration as stop:
                assert stop.value.ok
                break


# -- the whole walk -------------------------------------------------------------------------------
def test_walk_drop_validate_merge_import_result(qtbot, wiz, db_path):
    page = wiz.file_page
    assert wiz.currentId() == PageId.FILE
    assert page.objectName() == "filePage"
    assert not wiz.button(NEXT).isEnabled()

    drop_files(page.drop_zone, [SMALL])
    assert wiz.findChild(object, "filePathEdit").text() == str(SMALL)
    inspected(qtbot, wiz)
    assert "agentmemory" in page.status.text() and "0.9.5" in page.status.text()
    assert wiz.button(NEXT).isEnabled()

    click(qtbot, wiz.button(NEXT))
    vpage = wiz.currentPage()
    assert vpage.objectName() == "validationPage"
    caps = vpage.findChild(object, "capsTable")
    assert caps.rowCount() == 7
    marks = [caps.item(r, 3).text() for r in range(caps.rowCount())]
    assert all(m.startswith("✓") for m in marks)
    counts = {caps.item(r, 0).text(): caps.item(r, 1).text() for r in range(caps.rowCount())}
    assert counts["Sessions"] == "10" and counts["Observations in total"] == "500"
    assert "0.9.5" in vpage.version_value.text()
    assert wiz.button(NEXT).isEnabled()

    click(qtbot, wiz.button(NEXT))
    spage = wiz.currentPage()
    assert spage.objectName() == "strategyPage"
    assert spage.findChild(object, "strategyMerge").isChecked()
    qtbot.waitUntil(spage.isComplete, timeout=10_000)
    cells = plan_cells(wiz)
    assert cells["Sessions"][:2] == ["10", "0"]  # 10 inserted, 0 updated
    assert cells["Observations"][0] == "500"
    assert cells["Total"][0] == "580"
    assert wiz.button(COMMIT).isVisible() and wiz.button(COMMIT).text() == "&Import"

    with qtbot.waitSignal(wiz.session.importFinished, timeout=20_000):
        click(qtbot, wiz.button(COMMIT))
    qtbot.waitUntil(lambda: wiz.currentId() == PageId.RESULT, timeout=10_000)
    rpage = wiz.currentPage()
    assert rpage.objectName() == "resultPage"
    assert "Import finished" in rpage.headline.text()
    audit_id = wiz.session.result.audit_id
    assert rpage.findChild(QLabel, "auditIdLabel").text() == f"#{audit_id}"
    table = rpage.table
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert rows["Observations"] == "500" and rows["Memories"] == "50"

    assert store_counts(db_path)["observations"] == 500
    [entry] = entries(db_path)
    assert entry["id"] == audit_id and entry["outcome"] == "succeeded"
    assert entry["strategy"] == "merge"


def test_import_page_has_the_contract_widgets(qtbot, wiz):
    to_strategy(qtbot, wiz, SMALL)
    with qtbot.waitSignal(wiz.session.importFinished, timeout=20_000):
        wiz.next()
    page = wiz.page(PageId.IMPORT)
    assert page.objectName() == "importPage"
    bar = page.findChild(object, "importProgress")
    assert bar.maximum() == 1000 and bar.value() == 1000


def test_import_page_keeps_moving_through_long_steps(qtbot, wiz):
    """Index builds and the commit are single SQL steps: the page names them, and its
    heartbeat updates the elapsed time 4 times a second until the import ends."""
    from wizard.store.importer import Progress

    page = wiz.import_page
    page._on_started()
    assert page.heartbeat.isActive() and page.heartbeat.interval() <= 250
    first = page.elapsed.text()
    assert first.startswith("Elapsed")
    page._on_progress(Progress("index", "observations", 0, 3))
    assert page.current.text() == "Building the indexes of the observations…"
    page._on_progress(Progress("commit", None, 0, 1))
    assert page.current.text().startswith("Committing")
    assert (page.bar.minimum(), page.bar.maximum()) == (0, 0)  # busy: it moves by itself
    with qtbot.waitSignal(page.heartbeat.timeout, timeout=2_000):
        pass
    wiz.session.import_outcome = "failed"  # the commit failed: rolled back
    page._on_finished()
    assert not page.heartbeat.isActive()
    assert (page.bar.maximum(), page.bar.value()) == (1000, 0)


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        # collection: inserted, updated, unchanged, skipped, deleted
        ("merge", {"Sessions": ["0", "0", "10", "0", "0"], "Total": ["0", "0", "580", "0", "0"]}),
        ("skip", {"Sessions": ["0", "0", "0", "10", "0"], "Total": ["0", "0", "0", "580", "0"]}),
        (
            "replace",
            {"Sessions": ["0", "0", "10", "0", "0"], "Total": ["0", "0", "580", "0", "0"]},
        ),
    ],
)
def test_each_strategy_shows_its_plan_and_imports(
    qtbot, wiz, db_path, monkeypatch, strategy, expected
):
    import_directly(db_path, SMALL)
    asked = []
    monkeypatch.setattr(Ask, "question", staticmethod(lambda *a, **k: asked.append(a) or True))
    to_strategy(qtbot, wiz, SMALL)
    radio = wiz.strategy_page.findChild(
        object,
        {"merge": "strategyMerge", "replace": "strategyReplace", "skip": "strategySkip"}[strategy],
    )
    radio.click()
    qtbot.waitUntil(
        lambda: wiz.strategy_page.isComplete() and wiz.session.strategy == strategy, timeout=10_000
    )
    cells = plan_cells(wiz)
    for name, values in expected.items():
        assert cells[name] == values
    with qtbot.waitSignal(wiz.session.importFinished, timeout=20_000):
        click(qtbot, wiz.button(COMMIT))
    assert wiz.session.import_outcome == "succeeded"
    if strategy == "replace":
        [(_parent, _title, text, _info)] = [a[:4] for a in asked]
        assert "deletes nothing here" in text  # the same file: nothing goes
    else:
        assert asked == []
    assert store_counts(db_path)["observations"] == 500
    assert entries(db_path)[0]["strategy"] == strategy


def test_replace_declined_stays_on_the_strategy_page(qtbot, wiz, db_path, monkeypatch):
    import_directly(db_path, SMALL)
    monkeypatch.setattr(Ask, "question", staticmethod(lambda *a, **k: False))
    to_strategy(qtbot, wiz, SMALL)
    wiz.strategy_page.radios["replace"].click()
    qtbot.waitUntil(
        lambda: wiz.strategy_page.isComplete() and "replace" in wiz.session.plans, timeout=10_000
    )
    click(qtbot, wiz.button(COMMIT))
    assert wiz.currentId() == PageId.STRATEGY
    assert len(entries(db_path)) == 1  # only the first import: nothing was attempted


# -- refused files --------------------------------------------------------------------------------
def test_refused_file_keeps_next_disabled_shows_the_error_and_writes_nothing(
    qtbot, wiz, db_path, monkeypatch
):
    """Reading and validating never write: a refusal seen on the validation page leaves no
    audit entry (an import that is asked for and refused does: the CLI-vs-GUI audit tests)."""
    to_validation(qtbot, wiz, REFUSED)
    page = wiz.validation_page
    assert not page.isComplete()
    assert not wiz.button(NEXT).isEnabled()
    assert "cannot be imported" in page.verdict.text()
    problems = page.problems_table
    assert problems.isVisibleTo(page) and problems.rowCount() >= 1
    texts = " ".join(problems.item(r, 1).text() for r in range(problems.rowCount()))
    assert "structured export" in texts
    started: list[Task] = []
    start = Task.start
    monkeypatch.setattr(Task, "start", lambda task: (started.append(task), start(task))[1])
    wiz.back()
    wiz.next()  # showing it again starts nothing either
    assert started == []
    assert not db_path.exists()  # the store was never even opened
    assert entries(db_path) == []
    assert store_counts(db_path)["memories"] == 0


def _with_version(tmp_path: Path, version) -> Path:
    data = json.loads(SMALL.read_text())
    if version is None:
        data.pop("version")
    else:
        data["version"] = version
    path = tmp_path / "export.json"
    path.write_text(json.dumps(data))
    return path


def test_unknown_version_can_be_read_as_a_chosen_version(qtbot, wiz, db_path, tmp_path):
    path = _with_version(tmp_path, None)
    to_validation(qtbot, wiz, path)
    page = wiz.validation_page
    assert not wiz.button(NEXT).isEnabled()
    box = page.findChild(object, "treatAsVersionBox")
    assert box.isVisibleTo(page)
    assert "no version" in page.version_hint.text()
    page.version_combo.setCurrentText("0.9.5")
    with qtbot.waitSignal(wiz.session.inspectionFinished, timeout=10_000):
        click(qtbot, page.findChild(object, "treatAsVersionButton"))
    assert wiz.session.inspection.ok
    assert wiz.button(NEXT).isEnabled()
    assert "read as 0.9.5" in page.version_value.text()
    click(qtbot, wiz.button(NEXT))
    qtbot.waitUntil(wiz.strategy_page.isComplete, timeout=10_000)
    with qtbot.waitSignal(wiz.session.importFinished, timeout=20_000):
        wiz.next()
    assert wiz.session.import_outcome == "succeeded"
    latest = entries(db_path)[0]
    assert latest["outcome"] == "succeeded"
    assert latest["options"]["treat_as_version"] == "0.9.5"


def test_invalid_records_can_be_left_out_explicitly(qtbot, wiz, db_path, tmp_path):
    data = json.loads(SMALL.read_text())
    data["memories"][3]["id"] = ""
    data["memories"][7]["createdAt"] = {"not": "a time"}
    path = tmp_path / "with-invalid.json"
    path.write_text(json.dumps(data))
    to_validation(qtbot, wiz, path)
    page = wiz.validation_page
    assert not wiz.button(NEXT).isEnabled()
    check = page.findChild(object, "skipInvalidCheck")
    assert check.isVisibleTo(page) and not check.isChecked()
    wheres = [page.problems_table.item(r, 0).text() for r in range(page.problems_table.rowCount())]
    assert any("memories[3]" in w for w in wheres)
    with qtbot.waitSignal(wiz.session.inspectionFinished, timeout=10_000):
        check.click()
    assert wiz.session.inspection.ok and wiz.button(NEXT).isEnabled()
    assert check.isChecked() and "left out" in check.text()
    click(qtbot, wiz.button(NEXT))
    qtbot.waitUntil(wiz.strategy_page.isComplete, timeout=10_000)
    with qtbot.waitSignal(wiz.session.importFinished, timeout=20_000):
        wiz.next()
    assert store_counts(db_path)["memories"] == 48
    assert entries(db_path)[0]["options"]["skip_invalid"] is True


# -- cancel ---------------------------------------------------------------------------------------
def test_cancel_mid_import_rolls_back_and_is_audited(qtbot, wiz, db_path, tmp_path, monkeypatch):
    import_directly(db_path, OLD)  # something already in the store
    before = store_counts(db_path)
    pause = tmp_path / "pause"
    monkeypatch.setenv(PAUSE_ENV, str(pause))  # the store's hook: stop after the first chunk
    to_strategy(qtbot, wiz, SMALL)
    click(qtbot, wiz.button(COMMIT))
    assert wiz.currentId() == PageId.IMPORT
    qtbot.waitUntil(lambda: Path(f"{pause}.paused").exists(), timeout=10_000)
    assert wiz.session.is_importing()
    assert not wiz.import_page.isComplete()
    with qtbot.waitSignal(wiz.session.importFinished, timeout=20_000):
        click(qtbot, wiz.button(CANCEL))  # the GUI does not wait: the worker sees the flag
        assert wiz.isVisible()
        assert "Stopping" in wiz.import_page.headline.text()
    qtbot.waitUntil(lambda: wiz.currentId() == PageId.RESULT, timeout=10_000)
    assert wiz.session.import_outcome == "cancelled"
    assert "cancelled" in wiz.result_page.headline.text()
    assert wiz.button(CANCEL).isEnabled() or not wiz.button(CANCEL).isVisible()
    assert store_counts(db_path) == before
    latest = entries(db_path)[0]
    assert latest["outcome"] == "cancelled"
    assert latest["source"]["name"] == SMALL.name


def test_closing_the_window_mid_import_cancels_then_closes(
    qtbot, wiz, db_path, tmp_path, monkeypatch
):
    pause = tmp_path / "pause"
    monkeypatch.setenv(PAUSE_ENV, str(pause))
    to_strategy(qtbot, wiz, SMALL)
    wiz.next()
    qtbot.waitUntil(lambda: Path(f"{pause}.paused").exists(), timeout=10_000)
    wiz.close()
    assert wiz.isVisible()  # deferred: it closes once the worker has rolled back
    qtbot.waitUntil(lambda: not wiz.isVisible(), timeout=20_000)
    assert store_counts(db_path)["sessions"] == 0
    assert entries(db_path)[0]["outcome"] == "cancelled"


# -- ways in: drop anywhere, browse, recent, command line, QFileOpenEvent -------------------------
def test_drop_anywhere_on_the_window_starts_over_with_that_file(qtbot, wiz):
    to_validation(qtbot, wiz, REFUSED)
    drop_files(wiz, [SMALL])
    assert wiz.currentId() == PageId.FILE
    assert wiz.file_page.path_edit.text() == str(SMALL)
    inspected(qtbot, wiz)
    assert wiz.session.inspection.ok


def test_browse_button_uses_the_file_dialog(qtbot, wiz, monkeypatch):
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(SMALL), ""))
    )
    click(qtbot, wiz.file_page.drop_zone.browse_button)
    assert wiz.session.path == str(SMALL)
    inspected(qtbot, wiz)


def test_recent_files_reopen(qtbot, wiz):
    wiz.load_file(str(SMALL))
    inspected(qtbot, wiz)
    wiz.load_file(str(OLD))
    inspected(qtbot, wiz)
    recent = wiz.file_page.recent
    assert recent.topLevelItem(0).text(0) == OLD.name
    assert recent.topLevelItem(1).text(0) == SMALL.name
    recent.itemActivated.emit(recent.topLevelItem(1), 0)
    assert wiz.session.path == str(SMALL)
    inspected(qtbot, wiz)


def test_command_line_file_is_preloaded(qtbot, db_path):
    w = open_wizard(db_path, SMALL)
    qtbot.addWidget(w)
    w.show()
    assert w.file_page.path_edit.text() == str(SMALL)
    inspected(qtbot, w)
    assert w.button(NEXT).isEnabled()
    assert "agentmemory" in w.file_page.status.text()


def test_run_gui_preloads_argv_and_handles_file_open_events(qtbot, qapp, db_path, monkeypatch):
    from wizard.ui import app as app_module

    monkeypatch.setattr(type(qapp), "exec", lambda self: 0)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # run_gui installs its own
    assert app_module.run_gui([str(SMALL), "--db", str(db_path)]) == 0
    [main] = [x for x in QApplication.topLevelWidgets() if isinstance(x, MainWindow)]
    qtbot.addWidget(main)
    w = main.wizard
    assert w.isVisible()
    assert w.session.path == str(SMALL)
    assert str(w.session.db_path) == str(db_path)
    assert str(db_path) in main.store_label.text()
    assert QApplication.desktopFileName() == "agentmemory-wizard"
    assert QApplication.applicationName() == "agentmemory-wizard"
    inspected(qtbot, w)
    QApplication.sendEvent(qapp, QFileOpenEvent(str(OLD)))
    assert w.session.path == str(OLD)
    inspected(qtbot, w)
    assert w.session.inspection.report.source_version == "0.3.0"


def test_file_open_events_are_queued_until_the_wizard_exists(qtbot, db_path):
    from wizard.ui.app import FileOpenRouter

    router = FileOpenRouter()
    router.open_file(str(REFUSED))
    router.open_file(str(SMALL))  # Finder may send several; the last one wins
    assert router.pending == [str(REFUSED), str(SMALL)]
    w = open_wizard(db_path)
    qtbot.addWidget(w)
    router.connect_receiver(w.load_file)
    assert router.pending == []
    assert w.session.path == str(SMALL)
    inspected(qtbot, w)


def test_the_app_handles_file_open_event(qapp):
    from wizard.ui.app import WizardApplication

    assert isinstance(qapp, WizardApplication)
    got = []
    qapp.files.fileOpened.connect(got.append)
    qapp.files._connected = True
    try:
        QApplication.sendEvent(qapp, QFileOpenEvent(str(SMALL)))
    finally:
        qapp.files.fileOpened.disconnect(got.append)
    assert got == [str(SMALL)]


# -- plain text, settings, buttons ----------------------------------------------------------------
def test_file_names_and_errors_are_plain_text(qtbot, wiz, tmp_path):
    html = tmp_path / "<h1>Big <b>bold <img src=x>.json"
    shutil.copy(SMALL, html)
    to_validation(qtbot, wiz, html)
    for label in wiz.findChildren(QLabel):
        if "<h1>" in label.text() or "<b>" in label.text():
            assert label.textFormat() == Qt.TextFormat.PlainText, label.objectName()
    assert "<h1>Big" in wiz.validation_page.file_value.text()
    assert "<h1>Big" in wiz.file_page.path_edit.text()


def shown_tooltip(tooltip: str) -> str:
    """What Qt displays for a tooltip: rich text when it looks like it, else the string."""
    if not QtGui.Qt.mightBeRichText(tooltip):
        return tooltip
    doc = QTextDocument()
    doc.setHtml(tooltip)
    return doc.toPlainText()


def all_tooltips(w: QWidget) -> list[str]:
    """Every tooltip of the window: widgets' and table cells'."""
    tips = [c.toolTip() for c in w.findChildren(QWidget)]
    for table in w.findChildren(QTableWidget):
        for r in range(table.rowCount()):
            for c in range(table.columnCount()):
                item = table.item(r, c)
                if item is not None:
                    tips.append(item.toolTip())
    return [t for t in tips if t]


def test_record_values_and_file_names_in_tooltips_show_literally(qtbot, wiz, tmp_path):
    data = json.loads(SMALL.read_text())
    data["memories"][0]["type"] = "<b>x</b>"  # a warning quoting the value
    folder = tmp_path / "<i>dir"
    folder.mkdir()
    path = folder / "<h1>Big <b>bold.json"
    path.write_text(json.dumps(data))
    to_validation(qtbot, wiz, path)
    page = wiz.validation_page
    problems = page.problems_table
    row = next(r for r in range(problems.rowCount()) if "'<b>x</b>'" in problems.item(r, 1).text())
    assert "'<b>x</b>'" in shown_tooltip(problems.item(row, 1).toolTip())
    assert shown_tooltip(page.file_value.toolTip()) == str(path)
    qtbot.waitUntil(page.isComplete)
    click(qtbot, wiz.button(NEXT))
    qtbot.waitUntil(wiz.strategy_page.isComplete, timeout=10_000)
    with qtbot.waitSignal(wiz.session.importFinished, timeout=20_000):
        wiz.next()
    qtbot.waitUntil(lambda: wiz.currentId() == PageId.RESULT)
    assert shown_tooltip(wiz.import_page.file_value.toolTip()) == str(path)
    assert shown_tooltip(wiz.result_page.file_value.toolTip()) == str(path)
    wiz.start_over()  # the first page lists the file among the recent files
    recent = wiz.file_page.recent.topLevelItem(0)
    assert shown_tooltip(recent.toolTip(0)) == str(path)
    for tip in all_tooltips(wiz):  # no tooltip anywhere renders the HTML of the file
        assert "<b>" not in tip and "<h1>" not in tip and "<i>" not in tip, tip


def test_record_titles_with_html_stay_text_in_the_audit_details(qtbot, db_path, tmp_path):
    from wizard.ui import open_audit_history

    data = json.loads(SMALL.read_text())
    data["memories"][0]["title"] = "<script>alert(1)</script><b>bold</b>"
    path = tmp_path / "<b>x.json"
    path.write_text(json.dumps(data))
    import_directly(db_path, path)
    window = open_audit_history(db_path)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: not window.is_loading(), timeout=10_000)
    window.table.selectRow(0)
    assert "<b>x.json" in window.details.toPlainText()
    assert window.model.index(0, 6).data() == "<b>x.json"


def test_settings_persist_strategy_recent_files_and_geometry(qtbot, db_path):
    w = open_wizard(db_path)
    qtbot.addWidget(w)
    w.show()
    to_strategy(qtbot, w, SMALL)
    w.strategy_page.radios["skip"].click()
    qtbot.waitUntil(
        lambda: w.strategy_page.isComplete() and w.session.strategy == "skip", timeout=10_000
    )
    w.resize(1000, 720)
    w.reject()
    settings = Settings().for_store(db_path)
    assert settings.last_strategy() == "skip"
    assert settings.recent_files()[0] == str(SMALL)
    assert settings.last_dir() == str(SMALL.parent)
    assert settings.geometry("wizard") is not None

    w2 = open_wizard(db_path, SMALL)
    qtbot.addWidget(w2)
    w2.show()
    assert w2.size().height() == 720  # (the offscreen screen is 800 wide: width is clamped)
    inspected(qtbot, w2)
    w2.next()
    qtbot.waitUntil(w2.validation_page.isComplete)
    w2.next()
    assert w2.strategy_page.radios["skip"].isChecked()


def test_result_buttons_open_the_history_and_start_over(qtbot, wiz, db_path):
    to_strategy(qtbot, wiz, SMALL)
    with qtbot.waitSignal(wiz.session.importFinished, timeout=20_000):
        wiz.next()
    qtbot.waitUntil(lambda: wiz.currentId() == PageId.RESULT)
    with qtbot.waitSignal(wiz.auditWindowOpened) as opened:
        click(qtbot, wiz.result_page.findChild(object, "openAuditButton"))
    window = opened.args[0]
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: not window.is_loading(), timeout=10_000)
    assert window.objectName() == "auditWindow"
    assert window.current_entry()["id"] == wiz.session.result.audit_id
    click(qtbot, wiz.result_page.findChild(object, "importAnotherButton"))
    assert wiz.currentId() == PageId.FILE
    assert wiz.session.path == "" and wiz.file_page.path_edit.text() == ""
    assert not wiz.button(NEXT).isEnabled()


def test_a_store_that_cannot_be_opened_shows_a_message(qtbot, tmp_path, monkeypatch):
    bad = tmp_path / "not-a-store.sqlite"
    bad.write_text("this is not a database")
    shown = []
    monkeypatch.setattr(QMessageBox, "open", lambda self: shown.append(self))
    w = open_wizard(bad)
    qtbot.addWidget(w)
    w.show()
    to_validation(qtbot, w, SMALL)
    click(qtbot, w.button(NEXT))
    qtbot.waitUntil(lambda: bool(shown), timeout=10_000)
    box = shown[0]
    assert box.objectName() == "storeErrorBox"
    assert "damaged" in box.informativeText()
    assert not w.strategy_page.isComplete()
    assert not w.button(COMMIT).isEnabled()
    assert bad.read_text() == "this is not a database"
    assert os.path.exists(bad)


def test_validation_shows_what_is_left_behind_a_preview_and_the_include_options(qtbot, wiz):
    zip_path = SMALL.parents[1] / "mem0" / "openmemory-real-export.zip"
    to_validation(qtbot, wiz, zip_path)
    page = wiz.validation_page
    table = page.left_behind_table
    assert page.left_behind_section.isVisibleTo(page) and table.rowCount() >= 4
    whats = [table.item(r, 0).text() for r in range(table.rowCount())]
    assert "memories not active (1 paused, 1 archived)" in whats
    # a preview: the source record beside the agentmemory record, as plain text
    assert page.preview.combo.count() >= 2
    assert '"content"' in page.preview.source.toPlainText()
    assert '"project": "openmemory:default_user"' in page.preview.converted.toPlainText()
    assert '"origin"' in page.preview.converted.toPlainText()  # as the import stores it
    # the inactive memories come only when asked for, and never as the latest version
    box = page.include_inactive
    assert box.isVisibleTo(page) and not box.isChecked()
    assert not page.include_deleted.isVisibleTo(page)  # this file has no deleted memory
    with qtbot.waitSignal(wiz.session.inspectionFinished, timeout=10_000):
        box.click()
    data = wiz.session.inspection.data
    assert wiz.session.options.include_inactive and len(data["memories"]) == 12
    assert sorted(m["isLatest"] for m in data["memories"]) == [False] * 2 + [True] * 10
    assert page.include_inactive.isChecked()
