"""The CLI and the GUI drive the same runs, so the same case leaves the same audit entry.

Each case runs once through the command line and once through the wizard window, each against
its own copy of the same store; the entries they add are compared field by field (operation,
outcome, strategy, format, source name, size and SHA-256, counts, error code; not ids or
times). The audit policy itself (wizard.runs.policy) is checked on the way: reading and
validating write nothing, every import asked for leaves exactly one entry.
"""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWizard
from store_helpers import REFUSED, SMALL, SMALL_030, copy_of, start_paused_import

from wizard.cli import main
from wizard.core.names import ErrorKind, Outcome, Strategy
from wizard.store import importer
from wizard.store.audit import list_entries
from wizard.store.database import open_store
from wizard.ui import open_audit_history, open_wizard
from wizard.ui.ask import Ask
from wizard.ui.audit_window import describe_entry
from wizard.ui.labels import STRATEGY_OBJECT_NAMES
from wizard.ui.wizard import MigrationWizard, PageId

COMPARED = ("operation", "outcome", "strategy", "format", "counts", "error_code")


def comparable(entry: dict) -> dict:
    """The fields both shells must agree on."""
    out = {k: entry[k] for k in COMPARED}
    source = entry["source"] or {}
    out["source"] = {k: source.get(k) for k in ("name", "size", "sha256")}
    return out


def audit_ids(db: Path) -> set[int]:
    if not db.exists():
        return set()
    con = sqlite3.connect(db)
    try:
        return {r[0] for r in con.execute("SELECT id FROM audit_log")}
    finally:
        con.close()


def added_entries(db: Path, before: set[int]) -> list[dict]:
    with open_store(db) as store:
        return [comparable(e) for e in list_entries(store) if e["id"] not in before]


@pytest.fixture
def stores(tmp_path, template) -> tuple[Path, Path]:
    """Two copies of the same filled store: one for the CLI, one for the GUI."""
    (tmp_path / "cli").mkdir()
    (tmp_path / "gui").mkdir()
    return copy_of(template, tmp_path / "cli"), copy_of(template, tmp_path / "gui")


# -- the two shells --------------------------------------------------------------------------------
def gui_window(qtbot, db: Path, file: Path) -> MigrationWizard:
    wiz = open_wizard(db, file)
    qtbot.addWidget(wiz)
    wiz.show()
    qtbot.waitUntil(
        lambda: wiz.session.inspection is not None and not wiz.session.is_inspecting(),
        timeout=20_000,
    )
    return wiz


def gui_to_commit(qtbot, wiz: MigrationWizard, strategy: Strategy, monkeypatch) -> None:
    """Validation, then the strategy and its dry run; the Import button is next."""
    monkeypatch.setattr(Ask, "question", staticmethod(lambda *a, **k: True))  # replace's check
    wiz.next()
    assert wiz.currentId() == PageId.VALIDATION and wiz.validation_page.isComplete()
    wiz.next()
    assert wiz.currentId() == PageId.STRATEGY
    wiz.strategy_page.findChild(object, STRATEGY_OBJECT_NAMES[strategy]).click()
    qtbot.waitUntil(
        lambda: wiz.strategy_page.isComplete() and wiz.session.strategy == strategy,
        timeout=20_000,
    )


def gui_import(qtbot, db: Path, file: Path, strategy: Strategy, monkeypatch) -> Outcome:
    wiz = gui_window(qtbot, db, file)
    gui_to_commit(qtbot, wiz, strategy, monkeypatch)
    with qtbot.waitSignal(wiz.session.importStopped, timeout=30_000):
        qtbot.mouseClick(wiz.button(QWizard.WizardButton.CommitButton), Qt.MouseButton.LeftButton)
    assert wiz.currentId() == PageId.RESULT
    assert wiz.session.import_outcome is not None
    return wiz.session.import_outcome


def both(db_cli: Path, db_gui: Path, run_cli, run_gui) -> tuple[list[dict], list[dict]]:
    before_cli, before_gui = audit_ids(db_cli), audit_ids(db_gui)
    run_cli()
    run_gui()
    return added_entries(db_cli, before_cli), added_entries(db_gui, before_gui)


# -- the cases -------------------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", list(Strategy))
def test_a_succeeded_import_is_audited_alike(qtbot, stores, monkeypatch, strategy):
    db_cli, db_gui = stores
    cli, gui = both(
        db_cli,
        db_gui,
        lambda: main(["import", str(SMALL), "--db", str(db_cli), "--strategy", strategy]),
        lambda: gui_import(qtbot, db_gui, SMALL, strategy, monkeypatch),
    )
    assert len(cli) == 1 and cli == gui
    assert cli[0]["outcome"] == Outcome.SUCCEEDED and cli[0]["strategy"] == strategy
    assert cli[0]["error_code"] is None
    assert cli[0]["counts"]["stats"]["observations"] == 500


def test_a_failed_import_is_audited_alike(qtbot, stores, monkeypatch):
    """An unexpected error while writing: rolled back, audited as failed/internal by both."""

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(importer._Engine, "_flush", boom)
    db_cli, db_gui = stores
    cli, gui = both(
        db_cli,
        db_gui,
        lambda: main(["import", str(SMALL), "--db", str(db_cli)]),
        lambda: gui_import(qtbot, db_gui, SMALL, Strategy.MERGE, monkeypatch),
    )
    assert len(cli) == 1 and cli == gui
    assert cli[0]["outcome"] == Outcome.FAILED and cli[0]["error_code"] == ErrorKind.INTERNAL
    assert cli[0]["counts"]["partial"] is True
    with open_store(db_gui) as store:
        newest = list_entries(store, limit=1)[0]
    assert "Error (internal):\n  RuntimeError: boom" in describe_entry(newest)  # the window says


def test_a_cancelled_import_is_audited_alike(qtbot, stores, tmp_path, monkeypatch):
    """Stopped inside its transaction (the store's pause hook holds it after the first chunk):
    Ctrl-C in the terminal, Cancel in the window."""
    db_cli, db_gui = stores
    before_cli, before_gui = audit_ids(db_cli), audit_ids(db_gui)

    proc, _prefix = start_paused_import(tmp_path, db_cli, pause=tmp_path / "cli-pause")
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err

    prefix = tmp_path / "gui-pause"
    monkeypatch.setenv(importer.PAUSE_ENV, str(prefix))
    wiz = gui_window(qtbot, db_gui, SMALL)
    gui_to_commit(qtbot, wiz, Strategy.MERGE, monkeypatch)
    qtbot.mouseClick(wiz.button(QWizard.WizardButton.CommitButton), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(Path(f"{prefix}.paused").exists, timeout=30_000)
    with qtbot.waitSignal(wiz.session.importStopped, timeout=30_000):
        wiz.reject()  # Cancel (or Esc) during the import
    assert wiz.session.import_outcome == Outcome.CANCELLED

    cli, gui = added_entries(db_cli, before_cli), added_entries(db_gui, before_gui)
    assert len(cli) == 1 and cli == gui
    assert cli[0]["outcome"] == Outcome.CANCELLED and cli[0]["error_code"] == ErrorKind.CANCELLED


def test_reading_and_validating_write_nothing_in_either_shell(qtbot, stores, capsys):
    """A refused file: `validate` and the validation page leave no entry. An import asked for
    on the command line is refused and audited, naming the problem's code (the window cannot
    ask for it: Next stays disabled)."""
    db_cli, db_gui = stores
    cli, gui = both(
        db_cli,
        db_gui,
        lambda: main(["validate", str(REFUSED)]),
        lambda: gui_window(qtbot, db_gui, REFUSED).next(),
    )
    assert cli == gui == []
    before = audit_ids(db_cli)
    assert main(["import", str(REFUSED), "--db", str(db_cli)]) == 1
    [entry] = added_entries(db_cli, before)
    assert entry["outcome"] == Outcome.REFUSED and entry["error_code"] == "unsupported-format"
    assert entry["source"]["name"] == REFUSED.name
    assert main(["import", str(REFUSED), "--db", str(db_cli), "--dry-run"]) == 1
    assert len(added_entries(db_cli, before)) == 1  # a dry run writes nothing
    capsys.readouterr()


def gui_revert(qtbot, db: Path, audit_id: int, monkeypatch) -> None:
    """Revert from the audit history window: select the import, Revert, confirm."""
    monkeypatch.setattr(Ask, "question", staticmethod(lambda *a, **k: True))
    monkeypatch.setattr(QMessageBox, "open", lambda self: None)  # the "cannot revert" box
    window = open_audit_history(db)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.is_loading(), timeout=10_000)
    assert window.select_entry(audit_id)
    with qtbot.waitSignal(window.revertFinished, timeout=20_000):
        window.revert_selected()


@pytest.mark.parametrize("conflict", [False, True], ids=["succeeded", "refused"])
def test_a_revert_is_audited_alike(qtbot, stores, tmp_path, monkeypatch, capsys, conflict):
    """Revert the template's import #1: it succeeds, or (a later import changed its records)
    it is refused; the command line and the audit window record the same entry."""
    db_cli, db_gui = stores
    if conflict:  # the same later import, changing a record of #1, in both stores
        data = json.loads(SMALL_030.read_text(encoding="utf-8"))
        data["memories"][0]["content"] = "changed later"
        later = tmp_path / "later.json"
        later.write_text(json.dumps(data), encoding="utf-8")
        for db in stores:
            assert main(["import", str(later), "--db", str(db)]) == 0
    cli, gui = both(
        db_cli,
        db_gui,
        lambda: main(["revert", "1", "--db", str(db_cli)]),
        lambda: gui_revert(qtbot, db_gui, 1, monkeypatch),
    )
    assert len(cli) == 1 and cli == gui
    assert cli[0]["operation"] == "revert"
    if conflict:
        assert cli[0]["outcome"] == Outcome.REFUSED and cli[0]["error_code"] == "conflict"
    else:
        assert cli[0]["outcome"] == Outcome.SUCCEEDED and cli[0]["error_code"] is None
    capsys.readouterr()
