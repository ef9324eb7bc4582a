"""Two writers on one store: the wizard and a CLI import at once. The one that comes second waits
up to the busy timeout, then is refused cleanly, told what holds the store; the first one
commits; run again, the second one commits too. Neither corrupts nor loses the other's data."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from store_helpers import (
    DATA_TABLES,
    LETTA,
    ROOT,
    SMALL,
    cli_env,
    copy_of,
    dump,
    integrity,
    start_paused_import,
    wait_for,
)

from wizard.cli import main
from wizard.store import importer

BUSY_MS = 300


def reference(tmp_path: Path, template: Path, first: Path, second: Path) -> dict:
    """The content after importing ``first`` then ``second`` (merge), one after the other."""
    path = tmp_path / "reference.sqlite"
    shutil.copy(template, path)
    for f in (first, second):
        assert main(["import", str(f), "--db", str(path)]) == 0
    return dump(path, DATA_TABLES + ("audit_changes",))


@pytest.fixture
def store(tmp_path, template, monkeypatch) -> Path:
    path = copy_of(template, tmp_path)
    monkeypatch.setenv("AGENTMEMORY_WIZARD_DB", str(path))
    monkeypatch.setenv("AGENTMEMORY_WIZARD_BUSY_TIMEOUT_MS", str(BUSY_MS))
    return path


def audit_entries(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT id, outcome, source_name FROM audit_log ORDER BY id").fetchall()
    finally:
        con.close()


def wizard_to_strategy(qtbot, wiz, path: Path) -> None:
    wiz.load_file(str(path))
    qtbot.waitUntil(
        lambda: wiz.session.inspection is not None and not wiz.session.is_inspecting(),
        timeout=10_000,
    )
    wiz.next()
    qtbot.waitUntil(wiz.validation_page.isComplete, timeout=10_000)
    wiz.next()
    qtbot.waitUntil(wiz.strategy_page.isComplete, timeout=10_000)  # the dry run reads freely


def test_wizard_waits_then_is_refused_while_a_cli_import_writes(qtbot, tmp_path, store, template):
    from wizard.ui import open_wizard
    from wizard.ui.wizard import PageId

    # the CLI holds the write transaction
    cli, pause = start_paused_import(
        tmp_path,
        store,
        pause=tmp_path / "cli-pause",
        AGENTMEMORY_WIZARD_BUSY_TIMEOUT_MS=str(BUSY_MS),
    )
    try:
        wiz = open_wizard(store)
        qtbot.addWidget(wiz)
        wiz.show()
        wizard_to_strategy(qtbot, wiz, LETTA)
        with qtbot.waitSignal(wiz.session.importFinished, timeout=30_000):
            wiz.next()
        result = wiz.session.result
        assert wiz.session.import_outcome == "failed" and result.error_code == "locked"
        assert result.duration_ms >= BUSY_MS * 0.8  # it waited for the busy timeout
        assert (
            "is locked: it is being written by `agentmemory-wizard import` on the command line "
            f"(pid {cli.pid}, since " in result.error
        )
        qtbot.waitUntil(lambda: wiz.currentId() == PageId.RESULT, timeout=10_000)
        assert "store is unchanged" in wiz.result_page.headline.text()
        assert f"pid {cli.pid}" in wiz.result_page.explain.text()
    finally:
        Path(f"{pause}.resume").touch()
        _out, err = cli.communicate(timeout=60)
    assert cli.returncode == 0, err  # the CLI's import was not disturbed

    wiz.start_over()  # and now the wizard's turn
    wizard_to_strategy(qtbot, wiz, LETTA)
    with qtbot.waitSignal(wiz.session.importFinished, timeout=30_000):
        wiz.next()
    assert wiz.session.import_outcome == "succeeded"
    wiz.session.store.close()

    assert integrity(store) == "ok"
    assert dump(store, DATA_TABLES + ("audit_changes",)) == reference(
        tmp_path, template, SMALL, LETTA
    )
    entries = audit_entries(store)
    assert [e[1:] for e in entries[1:]] == [
        ("succeeded", SMALL.name),  # the CLI
        ("succeeded", LETTA.name),  # the wizard, second time
    ]  # (the refused attempt could not be audited either: the store was locked)


def test_cli_waits_then_exits_3_while_the_wizard_writes(
    qtbot, tmp_path, store, template, monkeypatch
):
    from wizard.ui import open_wizard

    pause = tmp_path / "gui-pause"
    wiz = open_wizard(store)
    qtbot.addWidget(wiz)
    wiz.show()
    wizard_to_strategy(qtbot, wiz, LETTA)
    monkeypatch.setenv(importer.PAUSE_ENV, str(pause))  # the store's hook, in this process
    wiz.next()
    wait_for(Path(f"{pause}.paused"))  # the wizard's worker holds the write transaction
    monkeypatch.delenv(importer.PAUSE_ENV)
    try:
        started = time.monotonic()
        cli = subprocess.run(
            [sys.executable, "-m", "wizard", "import", str(SMALL)],
            env=cli_env(tmp_path, store, AGENTMEMORY_WIZARD_BUSY_TIMEOUT_MS=str(BUSY_MS)),
            cwd=str(ROOT),
            capture_output=True,
            text=True,
            timeout=60,
        )
        elapsed = time.monotonic() - started
    finally:
        with qtbot.waitSignal(wiz.session.importFinished, timeout=30_000):
            Path(f"{pause}.resume").touch()
    assert cli.returncode == 3, cli.stderr
    assert elapsed >= BUSY_MS / 1000
    assert "Traceback" not in cli.stderr
    assert (
        f"is locked: it is being written by the wizard window (pid {os.getpid()}, since "
        in cli.stderr
    )
    assert wiz.session.import_outcome == "succeeded"  # the wizard's import was not disturbed
    wiz.session.store.close()

    assert main(["import", str(SMALL), "--db", str(store)]) == 0  # the CLI's turn
    assert integrity(store) == "ok"
    assert dump(store, DATA_TABLES + ("audit_changes",)) == reference(
        tmp_path, template, LETTA, SMALL
    )
    assert [e[1:] for e in audit_entries(store)[1:]] == [
        ("succeeded", LETTA.name),
        ("succeeded", SMALL.name),
    ]
