"""Pruning revert data: the prune run and `prune` on the command line (dry run, the prune, its
audit entry, the file shrinking, reverts refused with the reason, usage errors)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import timedelta

import pytest
from store_helpers import (
    AUDIT_TABLES,
    ROOT,
    SMALL,
    SMALL_030,
    cli_env,
    dump,
    run,
    wait_for,
)

from wizard.cli import main
from wizard.core.names import ErrorKind, Operation, Outcome, Phase
from wizard.runs import pruning, reverting
from wizard.store import audit, database
from wizard.store import pruning as store_pruning
from wizard.store.database import StoreError
from wizard.store.pruning import file_bytes, prune_facts

OLD = "2020-01-01T00:00:00.000Z"


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "store.sqlite"
    monkeypatch.setenv("AGENTMEMORY_WIZARD_DB", str(path))
    return path


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def backdate(db, *ids: int, when: str = OLD) -> None:
    """Make audit entries look old (the prune goes by their time)."""
    con = sqlite3.connect(db)
    con.executemany("UPDATE audit_log SET timestamp = ? WHERE id = ?", [(when, n) for n in ids])
    con.commit()
    con.close()


def change_rows(db) -> dict[int, int]:
    """Revert rows per audit entry."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT audit_id, count(*) FROM audit_changes GROUP BY audit_id")
        return dict(rows.fetchall())
    finally:
        con.close()


@pytest.fixture
def aged(db, capsys):
    """Four imports, each replacing the store with the other sample (so each keeps revert data),
    the first three of them old."""
    for path in (SMALL, SMALL_030, SMALL, SMALL_030):
        assert main(["import", str(path), "--strategy", "replace"]) == 0
    backdate(db, 1, 2, 3)
    capsys.readouterr()
    return db


def test_dry_run_says_what_would_go_and_writes_nothing(aged, capsys):
    before = dump(aged, AUDIT_TABLES)
    kept = change_rows(aged)
    assert set(kept) >= {2, 3, 4}
    assert main(["prune", "--older-than", "90d", "--dry-run", "--json"]) == 0
    out = _json(capsys)
    assert out["ok"] is True and out["outcome"] == "planned" and out["dry_run"] is True
    assert out["older_than"] == "90d" and out["imports"] == [1, 2, 3]
    assert out["rows"] == sum(n for k, n in kept.items() if k <= 3) and out["data_bytes"] > 0
    assert out["audit_id"] is None and out["bytes_after"] is None
    assert dump(aged, AUDIT_TABLES) == before  # not even an audit entry

    assert main(["prune", "--older-than", "90d", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Dry run: pruning revert data older than 90d")
    assert "make these imports impossible to revert: #1, #2, #3" in text


def test_prune_drops_old_revert_data_audits_and_shrinks_the_file(aged, capsys):
    kept = change_rows(aged)
    size_before = file_bytes(aged)
    assert main(["prune", "--older-than", "90d", "--json"]) == 0
    out = _json(capsys)
    assert out["ok"] is True and out["outcome"] == "succeeded" and out["compacted"] is True
    assert out["imports"] == [1, 2, 3] and out["rows"] == sum(n for k, n in kept.items() if k <= 3)
    assert out["bytes_before"] == size_before
    assert out["bytes_after"] < out["bytes_before"]
    assert file_bytes(aged) < size_before  # the file on disk shrank
    assert change_rows(aged) == {4: kept[4]}  # the recent import keeps its revert data

    with database.open_store(aged) as store:
        entry = audit.get_entry(store, out["audit_id"])
        assert entry["operation"] == Operation.PRUNE and entry["outcome"] == Outcome.SUCCEEDED
        assert entry["options"]["older_than"] == "90d" and entry["options"]["cutoff"]
        counts = entry["counts"]
        assert counts["imports"] == [1, 2, 3] and counts["rows"] == out["rows"]
        assert counts["file_bytes_before"] == out["bytes_before"]
        assert counts["file_bytes_after"] == out["bytes_after"]
        for n in (1, 2, 3):
            old = audit.get_entry(store, n)
            assert old["pruned_by"] == out["audit_id"] and old["pruned_at"] == entry["timestamp"]
        assert audit.get_entry(store, 4)["pruned_by"] is None
        assert store.database.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_human_output(aged, capsys):
    assert main(["prune", "--older-than", "2w"]) == 0
    out = capsys.readouterr().out
    assert "Pruned revert data older than 14d" in out
    assert "these imports can no longer be reverted: #1, #2, #3" in out
    assert "(compacted)" in out and "Audit entry #5" in out
    assert main(["audit"]) == 0
    listing = capsys.readouterr().out
    assert "prune  succeeded" in listing and "(revert data pruned by #5)" in listing


def test_reverting_a_pruned_import_is_refused_with_the_reason(aged, capsys):
    assert main(["prune", "--older-than", "90d"]) == 0
    capsys.readouterr()
    assert main(["revert", "3", "--json"]) == 1
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["ok"] is False and out["error_code"] == ErrorKind.REVERT_DATA_PRUNED
    assert "can no longer be reverted" in out["error"] and "prune #5" in out["error"]
    assert "revert data" in captured.err
    with database.open_store(aged) as store:
        refusal = audit.get_entry(store, out["audit_id"])
        assert refusal["operation"] == Operation.REVERT and refusal["outcome"] == Outcome.REFUSED
        assert refusal["error_code"] == ErrorKind.REVERT_DATA_PRUNED
        assert reverting.preview(store, 3).code is ErrorKind.REVERT_DATA_PRUNED
    assert main(["revert", "4", "--json"]) == 0  # the recent import still can be reverted
    assert _json(capsys)["ok"] is True


def test_nothing_old_enough_is_still_a_recorded_prune(db, capsys):
    assert main(["import", str(SMALL)]) == 0
    capsys.readouterr()
    assert main(["prune", "--older-than", "1h", "--json"]) == 0
    out = _json(capsys)
    assert out["ok"] is True and out["imports"] == [] and out["rows"] == 0
    assert out["audit_id"] == 2
    with database.open_store(db) as store:
        assert audit.get_entry(store, 1)["pruned_by"] is None
        assert reverting.preview(store, 1).ok


def test_an_old_entry_recorded_late_does_not_widen_the_prune(db, capsys):
    """Only an unbroken run of old entries from the first is covered: an import recorded with
    an old time after recent ones (an interrupted attempt found later) stops nothing and
    widens nothing, so a revertible import never has a later import without revert data."""
    for path in (SMALL, SMALL_030, SMALL):
        assert main(["import", str(path), "--strategy", "replace"]) == 0
    backdate(db, 1, 3)  # 2 is recent
    capsys.readouterr()
    assert main(["prune", "--older-than", "90d", "--json"]) == 0
    out = _json(capsys)
    assert out["imports"] == [1]
    assert set(change_rows(db)) >= {2, 3}


def test_an_import_already_pruned_is_not_counted_again(aged, capsys):
    assert main(["prune", "--older-than", "90d"]) == 0
    capsys.readouterr()
    backdate(aged, 4, 5)
    assert main(["prune", "--older-than", "90d", "--json"]) == 0
    out = _json(capsys)
    assert out["imports"] == [4] and change_rows(aged) == {}


@pytest.mark.parametrize("age", ["12h", "30d", "2w", " 90D "])
def test_ages_in_hours_days_or_weeks(aged, capsys, age):
    assert main(["prune", "--older-than", age, "--dry-run", "--json"]) == 0
    assert _json(capsys)["ok"] is True


@pytest.mark.parametrize(
    "argv",
    [
        ["prune"],
        ["prune", "--older-than"],
        ["prune", "--older-than", "90"],
        ["prune", "--older-than", "90x"],
        ["prune", "--older-than", "d"],
        ["prune", "--older-than", "-5d"],
        ["prune", "--older-than", "1.5d"],
        ["prune", "--older-than", "0d"],
        ["prune", "--older-than", "0h"],
        ["prune", "--older-than", "36501d"],
        ["prune", "--older-than", "99999999999999999999999d"],
        ["prune", "--older-than", "90d", "--unknown"],
    ],
)
def test_malformed_or_out_of_range_ages_are_usage_errors(aged, capsys, argv):
    before = dump(aged, AUDIT_TABLES)
    assert main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert dump(aged, AUDIT_TABLES) == before


def test_the_range_is_said(capsys):
    assert main(["prune", "--older-than", "0d", "--db", "x"]) == 2
    assert "between 1h and 36500d" in capsys.readouterr().err


def test_a_store_that_does_not_exist_is_an_error_naming_it_and_not_created(tmp_path, capsys):
    missing = tmp_path / "mistyped.sqlite"
    assert main(["prune", "--older-than", "90d", "--db", str(missing)]) == 2
    assert f"no store at {missing}" in capsys.readouterr().err
    assert not missing.exists()


def test_a_locked_store_exit_3_and_nothing_dropped(aged, capsys, monkeypatch):
    kept = change_rows(aged)
    monkeypatch.setenv("AGENTMEMORY_WIZARD_BUSY_TIMEOUT_MS", "50")
    other = sqlite3.connect(aged, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        assert main(["prune", "--older-than", "90d", "--json"]) == 3
    finally:
        other.execute("ROLLBACK")
        other.close()
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["ok"] is False and out["error_code"] == ErrorKind.LOCKED
    assert "locked" in captured.err and "Traceback" not in captured.err
    assert change_rows(aged) == kept


def test_a_cancelled_prune_rolls_back_and_is_audited(aged):
    kept = change_rows(aged)
    with database.open_store(aged) as store:
        gen = pruning.prune_steps(store, timedelta(days=90), cancel=lambda: True)
        _, result = run(gen)
        assert result.outcome == Outcome.CANCELLED and result.error_code == ErrorKind.CANCELLED
        entry = audit.get_entry(store, result.audit_id)
        assert entry["operation"] == Operation.PRUNE and entry["outcome"] == Outcome.CANCELLED
        assert entry["counts"]["partial"] is True
        assert all(audit.get_entry(store, n)["pruned_by"] is None for n in (1, 2, 3))
        assert reverting.preview(store, 3).ok is False  # (a later import changed its records)
        assert reverting.preview(store, 4).ok
    assert change_rows(aged) == kept


def test_closing_the_run_early_rolls_back_and_audits(aged):
    kept = change_rows(aged)
    with database.open_store(aged) as store:
        gen = pruning.prune_steps(store, timedelta(days=90))
        steps = [next(gen), next(gen)]  # inside the transaction, deleting
        assert steps[-1].phase is Phase.DELETE
        gen.close()
        [entry] = [e for e in audit.list_entries(store) if e["operation"] == Operation.PRUNE]
        assert entry["outcome"] == Outcome.CANCELLED
    assert change_rows(aged) == kept


def test_an_age_out_of_range_is_refused_by_the_run_before_anything_is_read(db):
    with database.open_store(db) as store:
        for age in (timedelta(0), timedelta(minutes=59), pruning.MAX_AGE + timedelta(days=1)):
            with pytest.raises(ValueError, match="between 1h and 36500d"):
                run(pruning.prune_steps(store, age))
        assert audit.list_entries(store) == []


def test_facts_read_nothing_but_the_audit(aged):
    with database.open_store(aged) as store:
        facts = prune_facts(store, pruning.cutoff_for(timedelta(days=90)))
    assert facts.last_id == 3 and facts.imports == [1, 2, 3] and facts.rows > 0
    assert pruning.age_text(timedelta(hours=36)) == "36h"
    assert pruning.age_text(timedelta(weeks=2)) == "14d"


def test_a_prune_that_cannot_compact_still_stands_and_says_why(aged, capsys, monkeypatch):
    def full(_store):
        raise StoreError(ErrorKind.FULL, f"the disk holding the store {aged} is full")

    monkeypatch.setattr(store_pruning, "compact", full)
    assert main(["prune", "--older-than", "90d", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["ok"] is True and out["compacted"] is False and out["imports"] == [1, 2, 3]
    assert "not compacted" in out["compact_error"] and "not compacted" in captured.err
    with database.open_store(aged) as store:
        entry = audit.get_entry(store, out["audit_id"])
        assert entry["outcome"] == Outcome.SUCCEEDED and "full" in entry["counts"]["compact_error"]


KILLED_PRUNE = """
import sys, time
from datetime import timedelta
from pathlib import Path
from wizard.runs import pruning
from wizard.store import database
store = database.open_store(sys.argv[1])
gen = pruning.prune_steps(store, timedelta(days=90))
steps = [next(gen) for _ in range(3)]  # everything dropped and marked, not committed
assert steps[-1].phase == "commit", steps
Path(sys.argv[2]).touch()
time.sleep(600)
"""


def test_kill_9_just_before_the_commit_drops_nothing_and_is_audited_as_interrupted(tmp_path, aged):
    kept = change_rows(aged)
    ready = tmp_path / "ready"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_PRUNE, str(aged), str(ready)],
        env=cli_env(tmp_path, aged),
        cwd=str(ROOT),
    )
    try:
        wait_for(ready, proc)
    finally:
        proc.kill()
        proc.wait()
    assert change_rows(aged) == kept
    with database.open_store(aged) as store:  # the next opener records the attempt
        [entry] = [e for e in audit.list_entries(store) if e["operation"] == Operation.PRUNE]
        assert entry["outcome"] == Outcome.INTERRUPTED
        assert entry["error_code"] == ErrorKind.INTERRUPTED and "no revert data" in entry["error"]
        assert all(audit.get_entry(store, n)["pruned_by"] is None for n in (1, 2, 3))
        assert store.database.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
