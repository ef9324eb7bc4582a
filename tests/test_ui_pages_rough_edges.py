"""Issue 16, the rough edges a new user hit in the window: settings per store (Replace never
remembered, unreadable files off the recent list), unique mnemonics on every page, the result
page (focus on Close, Total row, 'Show what was imported'), the validation page (the offer to
leave out invalid records only for invalid records, notes apart from warnings, plain wording),
plurals, inline bars in the count tables, and the audit window (readable details, reverts
showing their file, one duration format)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget, QWizard
from store_helpers import LETTA, REFUSED, SMALL, run

from wizard import runs
from wizard.core.inspection import inspect_file
from wizard.core.names import Strategy
from wizard.store import audit, database
from wizard.ui import open_audit_history, open_wizard
from wizard.ui.audit_model import COLUMNS
from wizard.ui.audit_window import describe_entry
from wizard.ui.formatting import fmt_duration_ms, plural
from wizard.ui.labels import count_of, describe_counts, format_label, readable_version
from wizard.ui.report_views import WHOLE_FILE
from wizard.ui.results import PLAN_COLUMNS
from wizard.ui.settings import Settings
from wizard.ui.tables import BAR_ROLE, TOTAL_LABEL, CountBarDelegate
from wizard.ui.wizard import MigrationWizard, PageId

FIXTURES = Path(__file__).parent / "fixtures"
PAGINATED = FIXTURES / "agentmemory" / "agentmemory-0.9.20-paginated.jsonl"
NEXT = QWizard.WizardButton.NextButton
COMMIT = QWizard.WizardButton.CommitButton
FINISH = QWizard.WizardButton.FinishButton


# -- helpers -------------------------------------------------------------------------------------
def make_wizard(qtbot, db_path, settings: Settings | None = None) -> MigrationWizard:
    w = MigrationWizard(db_path, settings=settings)
    qtbot.addWidget(w)
    w.show()
    return w


def read_file(qtbot, w: MigrationWizard, path: Path) -> None:
    w.session.load_file(str(path))
    qtbot.waitUntil(
        lambda: w.session.inspection is not None and not w.session.is_inspecting(), timeout=20_000
    )


def to_validation(qtbot, w: MigrationWizard, path: Path) -> None:
    read_file(qtbot, w, path)
    w.next()
    assert w.currentId() == PageId.VALIDATION


def to_strategy(qtbot, w: MigrationWizard, path: Path) -> None:
    to_validation(qtbot, w, path)
    qtbot.waitUntil(w.validation_page.isComplete)
    w.next()
    assert w.currentId() == PageId.STRATEGY
    qtbot.waitUntil(w.strategy_page.isComplete, timeout=20_000)


def to_result(qtbot, w: MigrationWizard, path: Path) -> None:
    to_strategy(qtbot, w, path)
    with qtbot.waitSignal(w.session.importFinished, timeout=30_000):
        w.next()
    qtbot.waitUntil(lambda: w.currentId() == PageId.RESULT, timeout=20_000)


def problem_rows(w: MigrationWizard) -> list[tuple[str, str]]:
    table = w.validation_page.problems_table
    return [(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())]


def table_rows(table) -> dict[str, list[str]]:
    return {
        table.item(r, 0).text(): [table.item(r, c).text() for c in range(1, table.columnCount())]
        for r in range(table.rowCount())
    }


# -- 1. settings per store; Replace never remembered; unreadable files forgotten ---------------
def test_recent_files_and_strategy_are_kept_per_store(qapp, tmp_path):
    user = Settings()
    one, two = user.for_store(tmp_path / "one.sqlite"), user.for_store(tmp_path / "two.sqlite")
    assert one.store == str(tmp_path / "one.sqlite")
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text("{}")
    b.write_text("{}")
    one.add_recent_file(str(a))
    two.add_recent_file(str(b), vectors=str(tmp_path))
    one.set_last_strategy(Strategy.SKIP)
    assert one.recent_files() == [str(a)] and two.recent_files() == [str(b)]
    assert two.recent_vectors(str(b)) == str(tmp_path) and one.recent_vectors(str(b)) is None
    assert one.last_strategy() is Strategy.SKIP and two.last_strategy() is Strategy.MERGE
    assert user.recent_files() == [] and user.last_strategy() is Strategy.MERGE  # per user
    # the same store by another spelling of its path is the same store
    assert Settings().for_store(tmp_path / "x" / ".." / "one.sqlite").recent_files() == [str(a)]
    one.clear_recent_files()
    assert one.recent_files() == [] and two.recent_files() == [str(b)]
    assert two.forget_recent_file(str(b)) == [] and two.recent_vectors(str(b)) is None


def test_replace_is_never_remembered(qapp, tmp_path):
    settings = Settings().for_store(tmp_path / "s.sqlite")
    settings.set_last_strategy(Strategy.SKIP)
    settings.set_last_strategy(Strategy.REPLACE)
    assert settings.last_strategy() is Strategy.SKIP  # the one before it stays
    # a Replace saved by an older version is not taken either
    settings.qsettings.setValue("import/strategy", "replace")
    assert Settings().last_strategy() is Strategy.MERGE


def test_replace_is_never_preselected_and_import_stays_the_default(qtbot, db_path, tmp_path):
    settings = Settings().for_store(db_path)
    w = make_wizard(qtbot, db_path, settings)
    to_strategy(qtbot, w, SMALL)
    page = w.strategy_page
    page.radios[Strategy.REPLACE].click()
    qtbot.waitUntil(lambda: page.isComplete() and w.session.strategy == "replace", timeout=20_000)
    assert w.button(COMMIT).isDefault()
    assert settings.last_strategy() is Strategy.MERGE
    # back and forth on the same file: Replace is chosen again, not preselected
    w.back()
    w.next()
    assert page.radios[Strategy.MERGE].isChecked()
    qtbot.waitUntil(page.isComplete, timeout=20_000)
    assert w.button(COMMIT).isDefault()
    # a new window on the same store starts on the last merge or skip
    page.radios[Strategy.SKIP].click()
    qtbot.waitUntil(lambda: w.session.strategy == "skip")
    w2 = make_wizard(qtbot, db_path, Settings().for_store(db_path))
    to_strategy(qtbot, w2, SMALL)
    assert w2.strategy_page.radios[Strategy.SKIP].isChecked()
    assert w2.button(COMMIT).isDefault()


def test_the_wizard_keeps_recent_files_and_strategy_per_store(qtbot, db_path):
    w = open_wizard(db_path)
    qtbot.addWidget(w)
    assert w.session.settings.store == os.path.abspath(db_path)


def test_a_file_that_is_not_a_memory_export_leaves_the_recent_list(qtbot, db_path, tmp_path):
    settings = Settings().for_store(db_path)
    w = make_wizard(qtbot, db_path, settings)
    text = tmp_path / "notes.txt"
    text.write_text("hello world\nthis is not JSON\n")
    read_file(qtbot, w, SMALL)
    read_file(qtbot, w, text)
    assert not w.session.inspection.ok
    assert settings.recent_files() == [str(SMALL)]  # dropped, not marked
    # a file refused only by the size limit (a setting) stays, to be read again
    big = tmp_path / "big.json"
    big.write_text(" " * (1024 * 1024 + 10) + "{}")
    settings.set_max_input_mb(1)
    read_file(qtbot, w, big)
    assert [p.code for p in w.session.inspection.report.errors] == ["size-limit"]
    assert settings.recent_files() == [str(big), str(SMALL)]


# -- 2. mnemonics, focus, 'Show what was imported' ------------------------------------------------
def mnemonics(w: MigrationWizard, page: QWidget) -> list[tuple[str, str]]:
    """(letter, text) of every button and buddied label on ``page`` (shown or not: they may
    be shown together), and of the wizard's buttons usable with it."""
    found = []
    widgets: list[QWidget] = list(page.findChildren(QAbstractButton))
    widgets += [label for label in page.findChildren(QLabel) if label.buddy() is not None]
    widgets += [
        w.button(b)
        for b in (
            QWizard.WizardButton.BackButton,
            NEXT,
            COMMIT,
            FINISH,
            QWizard.WizardButton.CancelButton,
        )
        if w.button(b).isVisible() and w.button(b).isEnabled()
    ]
    for widget in widgets:
        text = widget.text().replace("&&", "")
        m = re.search(r"&(\w)", text)
        if m:
            found.append((m.group(1).lower(), text))
    return found


def test_no_page_uses_a_mnemonic_twice(qtbot, db_path):
    w = make_wizard(qtbot, db_path)
    seen = {}
    seen[PageId.FILE] = mnemonics(w, w.file_page)
    to_validation(qtbot, w, SMALL)
    seen[PageId.VALIDATION] = mnemonics(w, w.validation_page)
    qtbot.waitUntil(w.validation_page.isComplete)
    w.next()
    qtbot.waitUntil(w.strategy_page.isComplete, timeout=20_000)
    seen[PageId.STRATEGY] = mnemonics(w, w.strategy_page)
    with qtbot.waitSignal(w.session.importFinished, timeout=30_000):
        w.next()
    seen[PageId.IMPORT] = mnemonics(w, w.import_page)
    qtbot.waitUntil(lambda: w.currentId() == PageId.RESULT, timeout=20_000)
    seen[PageId.RESULT] = mnemonics(w, w.result_page)
    assert "p" in {letter for letter, _ in seen[PageId.RESULT]}  # Show what was im&ported
    for page_id in (PageId.VALIDATION, PageId.STRATEGY, PageId.IMPORT, PageId.RESULT):
        letters = [letter for letter, _ in seen[page_id]]
        twice = {x for x in letters if letters.count(x) > 1}
        assert not twice, (page_id.name, [t for x, t in seen[page_id] if x in twice])


def test_the_file_page_uses_no_mnemonic_twice(qtbot, db_path):
    w = make_wizard(qtbot, db_path)
    letters = [letter for letter, _ in mnemonics(w, w.file_page)]
    assert len(letters) == len(set(letters)), mnemonics(w, w.file_page)


def test_the_audit_window_uses_no_mnemonic_twice(qtbot, db_path):
    window = open_audit_history(db_path)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: not window.is_loading(), timeout=10_000)
    widgets: list[QWidget] = list(window.findChildren(QAbstractButton))
    widgets += [label for label in window.findChildren(QLabel) if label.buddy() is not None]
    letters = [m.group(1).lower() for w in widgets if (m := re.search(r"&(\w)", w.text()))]
    assert len(letters) == len(set(letters)), letters


def test_result_page_focus_total_row_and_show_what_was_imported(qtbot, db_path):
    w = make_wizard(qtbot, db_path)
    to_result(qtbot, w, SMALL)
    page = w.result_page
    close = w.button(FINISH)
    qtbot.waitUntil(lambda: w.focusWidget() is close)
    rows = table_rows(page.table)
    assert rows[TOTAL_LABEL][0] == "580" and rows["Observations"][0] == "500"
    assert page.table.item(page.table.rowCount() - 1, 0).text() == TOTAL_LABEL
    button = page.findChild(QAbstractButton, "showImportedButton")
    assert button is page.show_button and button.isVisible()
    assert button.text() == "Show what was im&ported"
    audit_id = w.session.result.audit_id
    try:  # (the store browser itself is not under test here)
        w.session.browserRequested.disconnect(w.open_store_browser)
    except (RuntimeError, TypeError):
        pass
    with qtbot.waitSignal(w.session.browserRequested) as blocker:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert blocker.args == [audit_id]


def test_result_page_of_a_failed_import_offers_no_browsing(qtbot, db_path, monkeypatch):
    w = make_wizard(qtbot, db_path)
    to_strategy(qtbot, w, SMALL)
    monkeypatch.setenv("AGENTMEMORY_WIZARD_TEST_PAUSE_AFTER_CHUNK", str(db_path) + ".pause")
    w.next()
    qtbot.waitUntil(lambda: os.path.exists(str(db_path) + ".pause.paused"), timeout=20_000)
    with qtbot.waitSignal(w.session.importStopped, timeout=30_000):
        w.reject()  # cancel: rolled back
    qtbot.waitUntil(lambda: w.currentId() == PageId.RESULT, timeout=20_000)
    assert not w.result_page.show_button.isVisible()
    assert not w.result_page.table.isVisible()


# -- 3. invalid records only; a file that is not JSON ----------------------------------------------
def test_not_json_says_it_is_not_a_memory_export_and_offers_no_skipping(qtbot, db_path, tmp_path):
    text = tmp_path / "notes.json"
    text.write_text("hello world\n")
    w = make_wizard(qtbot, db_path)
    to_validation(qtbot, w, text)
    page = w.validation_page
    [(where, message)] = problem_rows(w)
    assert where.endswith("line 1, column 1")
    assert message.startswith("this is not a memory export: it is not JSON")
    assert [p.code for p in w.session.inspection.report.errors] == ["syntax-error"]
    assert not page.skip_invalid.isVisibleTo(page)
    # even with the option on (kept from before), there is nothing to leave out
    w.session.change_options(skip_invalid=True)
    qtbot.waitUntil(lambda: not w.session.is_inspecting() and w.session.inspection is not None)
    assert not page.skip_invalid.isVisibleTo(page)


def test_leaving_out_invalid_records_is_offered_for_invalid_records(qtbot, db_path, tmp_path):
    data = json.loads(SMALL.read_text())
    data["memories"][2]["id"] = ""
    path = tmp_path / "one-invalid.json"
    path.write_text(json.dumps(data))
    w = make_wizard(qtbot, db_path)
    to_validation(qtbot, w, path)
    page = w.validation_page
    assert page.skip_invalid.isVisibleTo(page)
    assert page.skip_invalid.text().endswith("(leave out the 1 invalid record)")
    assert page.verdict.text().endswith("1 error")
    page.skip_invalid.click()
    qtbot.waitUntil(page.isComplete, timeout=20_000)
    assert page.skip_invalid.isVisibleTo(page) and page.skip_invalid.isChecked()


# -- 4. jargon -----------------------------------------------------------------------------------
def test_a_revision_id_is_not_shown_as_a_version(qtbot, db_path):
    assert readable_version("297e8217e952") is None and readable_version("0.9.5") == "0.9.5"
    assert readable_version("1") == "1" and readable_version(None) is None
    assert format_label("letta-af", "297e8217e952").endswith("[letta-af]")
    w = make_wizard(qtbot, db_path)
    to_validation(qtbot, w, LETTA)
    page = w.validation_page
    assert not page.form.isRowVisible(page.version_value)
    assert "297e8217e952" not in page.format_value.text()
    read_file(qtbot, w, SMALL)
    w.next()
    assert page.form.isRowVisible(page.version_value)
    assert page.version_value.text() == "0.9.5"
    label = page.form.labelForField(page.version_value)
    assert label.text() == "Version of the export:"


def test_whole_file_problems_say_so_and_notes_are_not_warnings(qtbot, db_path):
    w = make_wizard(qtbot, db_path)
    to_validation(qtbot, w, REFUSED)
    [(where, _message)] = problem_rows(w)
    assert where == f"✗ Error: {WHOLE_FILE}" and "(file)" not in where
    read_file(qtbot, w, PAGINATED)
    w.next()
    page = w.validation_page
    notes = [(wh, m) for wh, m in problem_rows(w) if "pages merged in order" in m]
    assert notes and notes[0][0].startswith("ℹ Note")
    table = page.problems_table
    row = next(r for r in range(table.rowCount()) if "merged" in table.item(r, 1).text())
    assert table.item(row, 0).foreground().style() == Qt.BrushStyle.NoBrush  # no warning colour
    warnings = [p for p in w.session.inspection.report.warnings if p.code != "conversion-note"]
    assert ("warning" in page.verdict.text()) == bool(warnings)  # notes are not counted
    assert w.session.inspection.ok
    w.next()
    qtbot.waitUntil(w.strategy_page.isComplete, timeout=20_000)
    with qtbot.waitSignal(w.session.importFinished, timeout=30_000):
        w.next()
    qtbot.waitUntil(lambda: w.currentId() == PageId.RESULT, timeout=20_000)
    result = w.result_page
    assert result.notes.isVisible() and "• 3 pages merged in order" in result.notes.text()
    assert "(file)" not in result.notes.text()
    assert "pages merged" not in result.warnings.text()


def test_passing_caps_do_not_carry_the_over_cap_message(qtbot, db_path):
    w = make_wizard(qtbot, db_path)
    to_validation(qtbot, w, SMALL)
    caps = w.validation_page.caps_table
    for r in range(caps.rowCount()):
        assert caps.item(r, 3).text() == "✓ within the cap"
        assert "Too many" not in caps.item(r, 3).toolTip()


def test_plurals(qapp):
    assert plural(1, "session") == "1 session" and plural(2, "session") == "2 sessions"
    assert plural(1, "entry", "entries") == "1 entry"
    assert plural(1000, "entry", "entries") == "1,000 entries"
    assert count_of("memories", 1) == "1 memory" and count_of("sessions", 1) == "1 session"
    assert count_of("graphNodes", 2) == "2 graph nodes" and count_of("summaries", 1) == "1 summary"
    assert describe_counts({"sessions": 1, "observations": 1}) == "1 session · 1 observation"


def test_the_dry_run_says_would(qtbot, db_path):
    w = make_wizard(qtbot, db_path)
    to_strategy(qtbot, w, SMALL)
    page = w.strategy_page
    assert "would" in page.plan_status.text() and "were" not in page.plan_status.text()
    assert "would" in page.plan_heading.text()


# -- 5. Total rows, bars ---------------------------------------------------------------------------
def test_count_tables_draw_bars_and_deleted_in_the_warning_colour(qtbot, db_path):
    w = make_wizard(qtbot, db_path)
    to_result(qtbot, w, SMALL)
    for table in (w.strategy_page.plan_table, w.result_page.table):
        delegate = table.itemDelegate()
        assert isinstance(delegate, CountBarDelegate)
        deleted = [table.horizontalHeaderItem(c).text() for c in delegate.warning_columns]
        assert deleted == ["Deleted"]
        assert TOTAL_LABEL in table_rows(table)
        total = table.rowCount() - 1
        assert table.item(total, 1).data(BAR_ROLE) is None  # the Total row has no bar
    table = w.result_page.table
    obs = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == "Observations")
    assert table.item(obs, 1).data(BAR_ROLE) == 1.0  # the largest count
    assert table.item(obs, 2).data(BAR_ROLE) == 0.0
    w.result_page.grab()  # painted without error
    w.strategy_page.plan_table.grab()


def test_replace_shows_what_it_deletes_as_a_bar(qtbot, db_path, tmp_path):
    with database.open_store(db_path) as store:
        run(runs.import_steps(store, inspect_file(SMALL), "merge"))
    data = json.loads(SMALL.read_text())
    data["memories"] = data["memories"][:10]
    path = tmp_path / "fewer.json"
    path.write_text(json.dumps(data))
    w = make_wizard(qtbot, db_path)
    to_strategy(qtbot, w, path)
    page = w.strategy_page
    page.radios[Strategy.REPLACE].click()
    qtbot.waitUntil(lambda: page.isComplete() and w.session.strategy == "replace", timeout=20_000)
    table = page.plan_table
    deleted_col = 1 + PLAN_COLUMNS.index("deleted")
    memories = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == "Memories")
    assert table.item(memories, deleted_col).text() == "40"
    assert table.item(memories, deleted_col).data(BAR_ROLE) > 0
    assert "40 records the file does not hold deleted" in page.plan_status.text()
    table.grab()


# -- audit window: readable details, reverts, durations --------------------------------------------
def test_audit_details_are_readable_lines_and_reverts_show_their_file(qtbot, db_path):
    with database.open_store(db_path) as store:
        run(runs.import_steps(store, inspect_file(SMALL), "merge"))
        runs.revert(store, 1)
        entries = audit.list_entries(store)
    window = open_audit_history(db_path)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: not window.is_loading(), timeout=10_000)
    proxy = window.proxy
    files = {
        proxy.index(r, 0).data(): proxy.index(r, COLUMNS.index("file")).data()
        for r in range(proxy.rowCount())
    }
    assert files == {"1": SMALL.name, "2": SMALL.name}  # the revert shows its import's file
    assert window.status.text() == "2 entries"
    window.select_entry(1)
    text = window.details.toPlainText()
    assert "{" not in text and '"sha256"' not in text  # no JSON
    assert "SHA-256:" in text and "Records per collection" in text
    caps = text[text.index("agentmemory's caps:") :]
    assert "within the cap" in caps and "Too many" not in caps
    assert "Sessions with observations: 10 of 10,000" in caps
    window.select_entry(2)
    assert SMALL.name in window.details.toPlainText()
    # one duration format, from the entry's recorded duration
    row = next(r for r in range(proxy.rowCount()) if proxy.index(r, 0).data() == "1")
    entry = next(e for e in entries if e["id"] == 1)
    assert proxy.index(row, COLUMNS.index("duration")).data() == fmt_duration_ms(
        entry["duration_ms"]
    )
    assert f"Duration:        {fmt_duration_ms(entry['duration_ms'])}" in describe_entry(entry)


def test_one_duration_format(qapp):
    assert fmt_duration_ms(344) == "344 ms"
    assert fmt_duration_ms(1500) == "1.5 s"
    assert fmt_duration_ms(None) == "" and fmt_duration_ms(True) == ""
