"""Faults during an import, on real stores: kill -9 and Ctrl-C of a real CLI process at several
points, an exception injected mid-write, a full disk (SQLite's ``max_page_count``), a read-only
store file or folder, a locked store (and what holds it), a damaged store (moved aside, never
overwritten), a store from a newer schema. After each: ``PRAGMA integrity_check`` is ok and the
content is exactly what it was (or, after the commit, exactly the imported state)."""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from store_helpers import (
    AUDIT_TABLES,
    DATA_TABLES,
    ROOT,
    SMALL,
    SMALL_030,
    cli_env,
    copy_of,
    dump,
    integrity,
    pragma,
    start_paused_import,
    wait_for,
)

from wizard import runs
from wizard.cli import main
from wizard.store import database, importer
from wizard.store.migrations import SCHEMA_VERSION

ALL_TABLES = DATA_TABLES + AUDIT_TABLES


@pytest.fixture(scope="module")
def reference(tmp_path_factory, template) -> dict:
    """The store's content after a clean ``import SMALL --strategy replace`` on the template."""
    path = tmp_path_factory.mktemp("reference") / "store.sqlite"
    shutil.copy(template, path)
    assert main(["import", str(SMALL), "--strategy", "replace", "--db", str(path)]) == 0
    return dump(path, DATA_TABLES + ("audit_changes",))


@pytest.fixture
def filled(tmp_path, template, monkeypatch) -> Path:
    path = copy_of(template, tmp_path)
    monkeypatch.setenv("AGENTMEMORY_WIZARD_DB", str(path))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def last_audit(db: Path) -> dict:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return dict(con.execute("SELECT * FROM audit_log ORDER BY id DESC LIMIT 1").fetchone())
    finally:
        con.close()


# -- kill -9 and Ctrl-C of a real process, at several points --------------------------------------
# The CLI runs for real in a child process; this harness only adds a place to stop at: while
# reading the file (no transaction yet), after every record is written but before the commit
# (inside the transaction), and just after the commit. (After the first chunk, inside the
# transaction: the store's own hook, tests/test_store_cli.py.) At the stop it writes
# <prefix>.paused, and <prefix>.flagged once the first Ctrl-C has been seen; it goes on when
# <prefix>.resume exists (or, for "reading", at the first Ctrl-C).
HARNESS = r"""
import contextlib, os, sys, time
from pathlib import Path

point, prefix = os.environ["RELIABILITY_HOLD"].split(":", 1)
from wizard import cli_commands as commands
from wizard.runs import importing
from wizard.store import importer

flags = []
_ctrl_c = commands._ctrl_c_cancels


@contextlib.contextmanager
def _seen(flag):
    flags.append(flag)
    with _ctrl_c(flag):
        yield


commands._ctrl_c_cancels = _seen


def hold(return_on_ctrl_c):
    Path(prefix + ".paused").write_text(str(os.getpid()))
    announced = False
    deadline = time.monotonic() + 60
    while not Path(prefix + ".resume").exists() and time.monotonic() < deadline:
        if flags and flags[0].is_set():
            if not announced:
                announced = True
                Path(prefix + ".flagged").touch()
            if return_on_ctrl_c:
                return
        time.sleep(0.005)


if point == "reading":
    _inspect = importing.inspect_file

    def inspect_file(*args, **kwargs):
        hold(True)
        return _inspect(*args, **kwargs)

    importing.inspect_file = inspect_file
elif point == "before-commit":
    _finish = importer.finish_entry

    def finish_entry(*args, **kwargs):
        hold(False)
        return _finish(*args, **kwargs)

    importer.finish_entry = finish_entry
elif point == "after-commit":
    _update = commands.ProgressBar.update

    def update(self, label, done, total, force=False):
        if label == "done":
            hold(False)
        return _update(self, label, done, total, force)

    commands.ProgressBar.update = update
else:
    raise SystemExit(f"unknown point {point}")

from wizard.cli import main

sys.exit(main(sys.argv[1:]))
"""


def start_cli(tmp_path: Path, db: Path, point: str) -> tuple[subprocess.Popen, str]:
    prefix = str(tmp_path / f"hold-{point}")
    argv = ["import", str(SMALL), "--strategy", "replace", "--db", str(db)]
    proc = subprocess.Popen(
        [sys.executable, "-c", HARNESS, *argv],
        env=cli_env(tmp_path, RELIABILITY_HOLD=f"{point}:{prefix}"),
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(Path(prefix + ".paused"), proc)
    return proc, prefix


@pytest.mark.parametrize("point", ["reading", "before-commit"])
def test_kill_9_before_the_commit_leaves_the_store_exactly_as_it_was(tmp_path, filled, point):
    before = dump(filled, ALL_TABLES)
    proc, _ = start_cli(tmp_path, filled, point)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert integrity(filled) == "ok"
    assert dump(filled, ALL_TABLES) == before  # not even an audit entry


def test_kill_9_just_after_the_commit_keeps_the_whole_import(tmp_path, filled, reference):
    proc, _ = start_cli(tmp_path, filled, "after-commit")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert integrity(filled) == "ok"
    assert dump(filled, DATA_TABLES + ("audit_changes",)) == reference
    assert last_audit(filled)["outcome"] == "succeeded"


def test_ctrl_c_while_reading_stops_writes_nothing_and_exits_130(tmp_path, filled):
    """Reading writes nothing: a read stopped by Ctrl-C leaves the audit as it was too (the
    import run had not started)."""
    tables = (*DATA_TABLES, "audit_changes", "audit_log")
    before = dump(filled, tables)
    proc, _ = start_cli(tmp_path, filled, "reading")
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "cancelled" in err and "nothing was written" in err
    assert integrity(filled) == "ok"
    assert dump(filled, tables) == before


def test_second_ctrl_c_just_before_the_commit_rolls_back_at_once(tmp_path, filled):
    """The first Ctrl-C asks to stop at the next chunk (there is none left); the second one
    interrupts at once: rolled back, audited, exit 130."""
    before = dump(filled, DATA_TABLES + ("audit_changes",))
    proc, prefix = start_cli(tmp_path, filled, "before-commit")
    proc.send_signal(signal.SIGINT)
    wait_for(Path(prefix + ".flagged"), proc)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "cancelled" in err
    assert integrity(filled) == "ok"
    assert dump(filled, DATA_TABLES + ("audit_changes",)) == before
    assert last_audit(filled)["outcome"] == "cancelled"


# -- an exception injected mid-write, through the CLI ---------------------------------------------
def test_exception_mid_write_rolls_back_exit_3_and_logs_the_traceback(
    filled, capsys, monkeypatch, tmp_path
):
    from wizard import crashlog

    monkeypatch.setattr(crashlog, "_configured", False)
    monkeypatch.setenv("AGENTMEMORY_WIZARD_LOG_DIR", str(tmp_path / "logs"))
    before = dump(filled, DATA_TABLES + ("audit_changes",))
    monkeypatch.setattr(importer, "CHUNK_ROWS", 100)
    original = importer._Engine._flush
    calls = []

    def failing(self, *args):
        original(self, *args)
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("injected failure")

    monkeypatch.setattr(importer._Engine, "_flush", failing)
    try:
        assert main(["import", str(SMALL), "--strategy", "replace"]) == 3
    finally:
        crashlog.close_log()
    err = capsys.readouterr().err
    assert "injected failure" in err and "details in" in err and "Traceback" not in err
    assert integrity(filled) == "ok"
    assert dump(filled, DATA_TABLES + ("audit_changes",)) == before
    entry = last_audit(filled)
    assert entry["outcome"] == "failed" and "injected failure" in entry["error"]
    assert "Traceback" in (tmp_path / "logs" / "wizard.log").read_text(encoding="utf-8")


# -- a full disk: SQLite's max_page_count on the import's own connection --------------------------
@pytest.fixture
def full_disk(monkeypatch):
    """Every store connection opened from now on may grow the file by only a few pages."""

    def limit(db: Path, spare: int = 8) -> None:
        pages = pragma(db, "page_count") + spare
        original = database.make_database

        def limited(path):
            d = original(path)
            d._pragmas = [*d._pragmas, ("max_page_count", pages)]
            return d

        monkeypatch.setattr(database, "make_database", limited)

    return limit


@pytest.mark.parametrize("strategy", ["merge", "replace"])
def test_disk_full_refused_exit_3_store_intact_and_unchanged(filled, full_disk, capsys, strategy):
    before = dump(filled, DATA_TABLES + ("audit_changes",))
    full_disk(filled)
    assert main(["import", str(SMALL), "--strategy", strategy]) == 3
    err = capsys.readouterr().err
    assert "is full; nothing was written" in err and "Traceback" not in err
    assert integrity(filled) == "ok"
    assert dump(filled, DATA_TABLES + ("audit_changes",)) == before
    entry = last_audit(filled)  # the failed attempt still fits in the audit log
    assert entry["outcome"] == "failed" and "full" in entry["error"]


def test_disk_full_in_the_wizard_says_so_and_changes_nothing(qtbot, filled, full_disk):
    from wizard.ui import open_wizard

    before = dump(filled, DATA_TABLES + ("audit_changes",))
    full_disk(filled)
    wiz = _wizard_to_import(qtbot, open_wizard(filled))
    assert wiz.session.import_outcome == "failed" and wiz.session.result.error_code == "full", (
        wiz.session.result.error
    )
    qtbot.waitUntil(lambda: wiz.currentId() == 4, timeout=10_000)
    assert "store is unchanged" in wiz.result_page.headline.text()
    assert "is full" in wiz.result_page.explain.text()
    wiz.session.store.close()
    assert integrity(filled) == "ok"
    assert dump(filled, DATA_TABLES + ("audit_changes",)) == before


def _wizard_to_import(qtbot, wiz, path: Path = SMALL):
    """Load ``path`` and run the import with the merge strategy; returns when it has ended."""
    qtbot.addWidget(wiz)
    wiz.show()
    wiz.load_file(str(path))
    qtbot.waitUntil(
        lambda: wiz.session.inspection is not None and not wiz.session.is_inspecting(),
        timeout=10_000,
    )
    wiz.next()
    qtbot.waitUntil(wiz.validation_page.isComplete, timeout=10_000)
    wiz.next()
    qtbot.waitUntil(wiz.strategy_page.isComplete, timeout=10_000)
    with qtbot.waitSignal(wiz.session.importFinished, timeout=30_000):
        wiz.next()
    return wiz


# -- read-only store file and folder --------------------------------------------------------------
def _drop_root_overrides() -> None:  # pragma: no cover - runs in the child, before exec
    """In the child: give up root's CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (from the bounding
    set, so the exec'd program runs without them): permission bits apply to it as to anyone."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2
    for cap in (cap_dac_override, cap_dac_read_search):
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def run_cli_unprivileged(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """The real CLI in a child process for which permission bits hold (as root: without the
    capabilities that let root write anything)."""
    preexec = _drop_root_overrides if os.geteuid() == 0 else None
    return subprocess.run(
        [sys.executable, "-m", "wizard", *argv],
        env=cli_env(tmp_path),
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=preexec,
    )


@pytest.fixture
def permission_bits_hold(tmp_path):
    """Skip when even the unprivileged child may write a read-only file (an odd container)."""
    probe = tmp_path / "probe"
    probe.write_text("x")
    probe.chmod(0o400)
    try:
        proc = run_cli_unprivileged(["--version"], tmp_path)
        env = dict(os.environ)
        check = subprocess.run(
            [sys.executable, "-c", f"open({str(probe)!r}, 'a').write('y')"],
            capture_output=True,
            env=env,
            preexec_fn=_drop_root_overrides if os.geteuid() == 0 else None,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot run a child without root's permission override: {exc}")
    finally:
        probe.chmod(0o600)
    assert proc.returncode == 0, proc.stderr
    if check.returncode == 0:
        pytest.skip("permission bits are not enforced for the child process here")


@pytest.mark.parametrize("what", ["file", "folder"])
def test_read_only_store_refused_exit_3_and_unchanged(tmp_path, filled, permission_bits_hold, what):
    before = dump(filled, ALL_TABLES)
    digest = sha256(filled)
    target = filled if what == "file" else filled.parent
    old_mode = stat.S_IMODE(target.stat().st_mode)
    target.chmod(0o400 if what == "file" else 0o500)
    try:
        proc = run_cli_unprivileged(["import", str(SMALL), "--db", str(filled)], tmp_path)
    finally:
        target.chmod(old_mode)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "read-only" in proc.stderr
    assert ("its folder is not writable" if what == "folder" else "the file is") in proc.stderr
    assert sha256(filled) == digest
    assert integrity(filled) == "ok"
    assert dump(filled, ALL_TABLES) == before


def test_read_only_store_in_the_wizard_is_explained(qtbot, filled, monkeypatch):
    """(Simulated: the wizard runs in this process, which may be root; ``query_only`` makes
    SQLite refuse writes exactly as for a read-only file: SQLITE_READONLY.)"""
    from wizard.ui import open_wizard

    original = database.make_database

    def read_only(path):
        d = original(path)
        d._pragmas = [*d._pragmas, ("query_only", 1)]
        return d

    monkeypatch.setattr(database, "make_database", read_only)
    before = dump(filled, ALL_TABLES)
    wiz = _wizard_to_import(qtbot, open_wizard(filled))
    assert wiz.session.import_outcome == "failed" and wiz.session.result.error_code == "readonly"
    qtbot.waitUntil(lambda: wiz.currentId() == 4, timeout=10_000)
    assert "read-only" in wiz.result_page.explain.text()
    wiz.session.store.close()
    assert dump(filled, ALL_TABLES) == before


def test_new_store_in_a_read_only_folder_refused_exit_3(tmp_path, permission_bits_hold):
    folder = tmp_path / "locked-folder"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        proc = run_cli_unprivileged(
            ["import", str(SMALL), "--db", str(folder / "store.sqlite")], tmp_path
        )
    finally:
        folder.chmod(0o700)
    assert proc.returncode == 3, proc.stderr
    assert "cannot be written: Permission denied" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(folder.iterdir()) == []


# -- locked: wait up to the busy timeout, then say what holds the store ---------------------------
def test_locked_by_an_import_says_which_program_pid_and_since(tmp_path, filled, monkeypatch):
    """A CLI import paused inside its transaction (the store's test hook): its lock-info file
    (owner-only) names it; another writer waits the busy timeout, then is refused with that."""
    proc, prefix = start_paused_import(tmp_path, filled)
    try:
        info_path = database.lock_info_path(filled)
        assert stat.S_IMODE(info_path.stat().st_mode) == 0o600
        info = json.loads(info_path.read_text())
        assert info["pid"] == proc.pid
        assert info["program"] == "`agentmemory-wizard import` on the command line"
        monkeypatch.setenv("AGENTMEMORY_WIZARD_BUSY_TIMEOUT_MS", "300")
        from store_helpers import inspection, load_small, run

        with database.open_store(filled) as store:
            _, result = run(runs.import_steps(store, inspection(load_small()), "merge"))
        assert result.outcome == "failed" and result.error_code == "locked"
        assert result.duration_ms >= 250  # it waited for the busy timeout first
        assert (
            f"is locked: it is being written by `agentmemory-wizard import` on the command line "
            f"(pid {proc.pid}, since " in result.error
        )
        assert "; try again when it has finished" in result.error
    finally:
        Path(f"{prefix}.resume").touch()
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert not database.lock_info_path(filled).exists()  # removed with the transaction
    assert integrity(filled) == "ok"


def test_stale_lock_info_of_a_dead_process_is_not_believed(tmp_path, filled, monkeypatch, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    database.lock_info_path(filled).write_text(
        json.dumps({"pid": dead.pid, "program": "a ghost", "since": "2026-01-01T10:00:00"})
    )
    monkeypatch.setenv("AGENTMEMORY_WIZARD_BUSY_TIMEOUT_MS", "50")
    other = sqlite3.connect(filled, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a foreign writer that announces nothing
    try:
        assert main(["import", str(SMALL), "--json"]) == 3
    finally:
        other.execute("ROLLBACK")
        other.close()
    error = json.loads(capsys.readouterr().out)["error"]
    assert "locked by another process" in error and "ghost" not in error
    # the next import replaces the stale file and removes it when done
    assert main(["import", str(SMALL)]) == 0
    assert not database.lock_info_path(filled).exists()


# -- a damaged store: said so, never overwritten, moved aside on request ---------------------------
def _damage_a_table(db: Path, table: str = "observations") -> None:
    """Overwrite the root page of a table with garbage: the file header and schema stay
    readable, the table does not."""
    con = sqlite3.connect(db)
    root, size = con.execute(
        "SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_master "
        "WHERE name = ?",
        (table,),
    ).fetchone()
    con.close()
    with open(db, "r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\xa5" * size)


def test_not_sqlite_store_exit_3_says_so_and_suggests_moving_it_aside(tmp_path, capsys):
    notes = tmp_path / "store.sqlite"
    notes.write_bytes(b"my notes, not a database\n" * 50)
    assert main(["import", str(SMALL), "--db", str(notes)]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert "not an SQLite database" in err[0] and "left untouched" in err[0]
    assert err[1].startswith("agentmemory-wizard: to keep it and start a new store, move it aside")
    assert f"mv {notes} {notes}.damaged-" in err[1]
    assert notes.read_bytes() == b"my notes, not a database\n" * 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.sqlite"]


def test_damaged_store_exit_3_and_nothing_is_written_to_it(filled, capsys):
    _damage_a_table(filled)
    digest = sha256(filled)
    assert main(["import", str(SMALL), "--json"]) == 3
    out = capsys.readouterr()
    result = json.loads(out.out)
    assert result["ok"] is False and "damaged" in result["error"]
    assert "could not be written either" in result["error"] and result["audit_id"] is None
    assert "move it aside: mv " in out.err and "Traceback" not in out.err
    assert sha256(filled) == digest  # not even the audit entry of the failed attempt
    assert not Path(f"{filled}-wal").exists() or Path(f"{filled}-wal").stat().st_size == 0


def test_move_aside_renames_with_companions_and_never_overwrites(tmp_path):
    store = tmp_path / "store.sqlite"
    store.write_bytes(b"damaged")
    Path(f"{store}-wal").write_bytes(b"its wal")
    first = database.move_aside(store)
    assert first.name.startswith("store.sqlite.damaged-")
    assert first.read_bytes() == b"damaged" and Path(f"{first}-wal").read_bytes() == b"its wal"
    assert not store.exists() and not Path(f"{store}-wal").exists()
    store.write_bytes(b"damaged again")  # within the same second: a new name, nothing lost
    second = database.move_aside(store)
    assert second != first and second.read_bytes() == b"damaged again"
    assert first.read_bytes() == b"damaged"


def test_wizard_offers_to_move_a_damaged_store_aside_and_starts_a_new_one(
    qtbot, tmp_path, monkeypatch
):
    from PySide6.QtWidgets import QMessageBox

    from wizard.ui import open_wizard
    from wizard.ui.wizard import PageId

    bad = tmp_path / "store.sqlite"
    bad.write_bytes(b"this is not a database")
    shown: list[QMessageBox] = []
    monkeypatch.setattr(QMessageBox, "open", lambda self: shown.append(self))
    wiz = open_wizard(bad)
    qtbot.addWidget(wiz)
    wiz.show()
    wiz.load_file(str(SMALL))
    qtbot.waitUntil(
        lambda: wiz.session.inspection is not None and not wiz.session.is_inspecting(),
        timeout=10_000,
    )
    wiz.next()
    qtbot.waitUntil(wiz.validation_page.isComplete, timeout=10_000)
    wiz.next()
    qtbot.waitUntil(lambda: bool(shown), timeout=10_000)
    box = shown[0]
    assert box.objectName() == "storeErrorBox" and "damaged" in box.informativeText()
    assert "Nothing is deleted" in box.informativeText()
    button = box.findChild(object, "moveAsideButton")
    assert button is not None and "Move it aside and start a new store" in button.text()
    assert bad.read_bytes() == b"this is not a database"  # nothing happens until asked
    with qtbot.waitSignal(wiz.session.storeMovedAside, timeout=10_000) as moved:
        button.click()
    aside = Path(moved.args[0])
    assert aside.name.startswith("store.sqlite.damaged-")
    assert aside.read_bytes() == b"this is not a database"
    assert shown[-1].objectName() == "movedAsideBox" and str(aside) in shown[-1].text()
    assert wiz.currentId() == PageId.STRATEGY
    qtbot.waitUntil(wiz.strategy_page.isComplete, timeout=10_000)  # planned on a new store
    with qtbot.waitSignal(wiz.session.importFinished, timeout=30_000):
        wiz.next()
    assert wiz.session.import_outcome == "succeeded"
    wiz.session.store.close()
    assert integrity(bad) == "ok"
    assert stat.S_IMODE(bad.stat().st_mode) == 0o600
    assert aside.read_bytes() == b"this is not a database"


def test_wizard_import_into_a_damaged_store_offers_the_move_too(qtbot, filled, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from wizard.ui import open_wizard

    _damage_a_table(filled)
    digest = sha256(filled)
    shown: list[QMessageBox] = []
    monkeypatch.setattr(QMessageBox, "open", lambda self: shown.append(self))
    wiz = open_wizard(filled)
    qtbot.addWidget(wiz)
    wiz.show()
    wiz.load_file(str(SMALL_030))
    qtbot.waitUntil(
        lambda: wiz.session.inspection is not None and not wiz.session.is_inspecting(),
        timeout=10_000,
    )
    wiz.next()
    qtbot.waitUntil(wiz.validation_page.isComplete, timeout=10_000)
    wiz.next()
    # the dry run reads the damaged table: the box offers the move
    qtbot.waitUntil(lambda: bool(shown), timeout=10_000)
    assert shown[0].findChild(object, "moveAsideButton") is not None
    wiz.session.store.close()
    assert sha256(filled) == digest


# -- a store from a newer schema: refused, untouched ---------------------------------------------
def test_newer_schema_store_exit_3_and_untouched(filled, capsys):
    con = sqlite3.connect(filled)
    con.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    digest = sha256(filled)
    assert main(["import", str(SMALL)]) == 3
    err = capsys.readouterr().err
    assert "newer version" in err and len(err.strip().splitlines()) == 1
    assert sha256(filled) == digest
    assert integrity(filled) == "ok"


def test_wizard_import_that_finds_the_store_damaged_offers_the_move(qtbot, filled, monkeypatch):
    """The dry run reads the record tables (intact here); the import also writes the audit
    log, whose page is damaged: the import fails, nothing is written, the move is offered."""
    from PySide6.QtWidgets import QMessageBox

    from wizard.ui import open_wizard

    _damage_a_table(filled, "audit_log")
    digest = sha256(filled)
    shown: list[QMessageBox] = []
    monkeypatch.setattr(QMessageBox, "open", lambda self: shown.append(self))
    wiz = _wizard_to_import(qtbot, open_wizard(filled))
    assert wiz.session.import_outcome == "failed" and wiz.session.result.error_code == "corrupt"
    assert [b.objectName() for b in shown] == ["storeErrorBox"]
    assert shown[0].findChild(object, "moveAsideButton") is not None
    qtbot.waitUntil(lambda: wiz.currentId() == 4, timeout=10_000)
    assert "store is unchanged" in wiz.result_page.headline.text()
    wiz.session.store.close()
    assert sha256(filled) == digest
