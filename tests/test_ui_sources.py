"""The wizard takes a source's own storage wherever it takes a file: the first page's list of
stores found on this computer, a dropped folder, a history.db dropped with its Qdrant folder
(one install), and the import of the real mem0 storage with its users kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from test_ui_wizard import drop_files, inspected

from wizard.core import discovery
from wizard.store import database
from wizard.ui import open_wizard
from wizard.ui.wizard import PageId

NATIVE = Path(__file__).parent / "fixtures" / "native" / "mem0"


@pytest.fixture
def laid_out(tmp_path, monkeypatch) -> Path:
    """A home folder with mem0's files at their default places; discovery looks there."""
    home = tmp_path / "home"
    (home / ".mem0").mkdir(parents=True)
    shutil.copy(NATIVE / "history.db", home / ".mem0" / "history.db")
    temp = tmp_path / "tmp"
    shutil.copytree(NATIVE / "qdrant", temp / "qdrant")
    real = discovery.discover
    monkeypatch.setattr(
        "wizard.runs.sources.discover",
        lambda **kw: real(home=home, env={}, cwd=home, temp=temp, **kw),
    )
    return home


@pytest.fixture
def wiz(qtbot, db_path, laid_out):
    w = open_wizard(db_path)
    qtbot.addWidget(w)
    w.show()
    return w


def test_the_first_page_lists_the_install_and_imports_it(qtbot, wiz, db_path, laid_out):
    page = wiz.file_page
    qtbot.waitUntil(lambda: page._found_task is None, timeout=10_000)
    item = page.found.topLevelItem(0)
    assert "mem0" in item.text(0) and str(laid_out / ".mem0" / "history.db") in item.text(1)
    page.found.setCurrentItem(item)
    page.found.setFocus()
    qtbot.keyClick(page.found, Qt.Key.Key_Return)
    inspected(qtbot, wiz)
    assert wiz.session.inspection.format == "mem0-install"
    assert wiz.session.options.vectors
    assert wiz.session.inspection.report.counts["memories"] == 51
    wiz.next()
    wiz.next()
    assert wiz.currentId() == PageId.STRATEGY, (wiz.currentId(), wiz.session.plan_error)
    qtbot.waitUntil(wiz.strategy_page.isComplete, timeout=10_000)
    with qtbot.waitSignal(wiz.session.importFinished, timeout=30_000):
        wiz.next()
    qtbot.waitUntil(lambda: wiz.currentId() == PageId.RESULT)
    with database.open_store(db_path) as store:
        assert store.counts()["memories"] == 51


def test_a_history_db_dropped_with_its_qdrant_folder_is_one_install(qtbot, wiz, tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    shutil.copy(NATIVE / "history.db", a / "history.db")
    shutil.copytree(NATIVE / "qdrant", tmp_path / "b" / "qdrant")
    drop_files(wiz.file_page.drop_zone, [tmp_path / "b" / "qdrant", a / "history.db"])
    inspected(qtbot, wiz)
    assert wiz.session.inspection.format == "mem0-install"
    assert wiz.session.path == str(a / "history.db")


def test_a_dropped_folder_is_read_and_an_unknown_one_explained(qtbot, wiz, tmp_path):
    folder = tmp_path / "mem0"
    folder.mkdir()
    shutil.copy(NATIVE / "history.db", folder / "history.db")
    shutil.copytree(NATIVE / "qdrant", folder / "qdrant")
    drop_files(wiz.file_page.drop_zone, [folder])
    inspected(qtbot, wiz)
    assert wiz.session.inspection.ok and wiz.file_page.isComplete()
    other = tmp_path / "holiday-photos"
    other.mkdir()
    drop_files(wiz.file_page.drop_zone, [other])
    inspected(qtbot, wiz)
    assert not wiz.session.inspection.ok
    assert "holds no source the wizard reads" in wiz.session.inspection.report.errors[0].message


def test_a_recent_install_reads_its_qdrant_folder_again(qtbot, wiz, tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    shutil.copy(NATIVE / "history.db", a / "history.db")
    shutil.copytree(NATIVE / "qdrant", tmp_path / "b" / "qdrant")
    wiz.session.load_file(str(a / "history.db"), vectors=str(tmp_path / "b" / "qdrant"))
    inspected(qtbot, wiz)
    wiz.session.start_over()
    page = wiz.file_page
    page.initializePage()
    item = page.recent.topLevelItem(0)
    assert item.text(0) == "history.db + qdrant"
    page._recent_activated(item)
    inspected(qtbot, wiz)
    assert wiz.session.inspection.format == "mem0-install"
