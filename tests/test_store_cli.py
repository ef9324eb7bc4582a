"""The store subcommands: exit codes, --json shapes, and real processes interrupted mid-import."""

from __future__ import annotations

import json
import signal
import sqlite3

import pytest
from store_helpers import (
    AUDIT_KEYS,
    AUDIT_TABLES,
    DATA_TABLES,
    REFUSED,
    SMALL,
    SMALL_030,
    dump,
    integrity,
    start_paused_import,
)

from wizard.cli import main
from wizard.store import audit, database
from wizard.store.migrations import SCHEMA_VERSION

IMPORT_KEYS = {
    "ok",
    "outcome",
    "strategy",
    "format",
    "dry_run",
    "stats",
    "collections",
    "audit_id",
    "error",
    "error_code",
    "warnings",
    "left_behind",
    "earlier_imports",
}
STAT_KEYS = {"sessions", "observations", "memories", "summaries", "skipped"}


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "store.sqlite"
    monkeypatch.setenv("AGENTMEMORY_WIZARD_DB", str(path))
    monkeypatch.setenv("AGENTMEMORY_WIZARD_LOG_DIR", str(tmp_path / "logs"))
    return path


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_import_json_shape_and_exit_0(db, capsys):
    assert main(["import", str(SMALL), "--json"]) == 0
    out = _json(capsys)
    assert set(out) == IMPORT_KEYS
    assert out["ok"] is True and out["format"] == "agentmemory" and out["dry_run"] is False
    assert set(out["stats"]) == STAT_KEYS and out["stats"]["observations"] == 500
    assert out["collections"]["sessions"] == {
        "inserted": 10,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "deleted": 0,
    }
    assert isinstance(out["audit_id"], int) and out["error"] is None


def test_payload_spelling_and_db_option(tmp_path, db, capsys):
    other = tmp_path / "other.sqlite"
    assert main(["import", "--payload", f"@{SMALL}", "--db", str(other), "--json"]) == 0
    assert _json(capsys)["stats"]["sessions"] == 10
    assert other.exists() and not db.exists()


def test_human_output(db, capsys):
    assert main(["import", str(SMALL)]) == 0
    out = capsys.readouterr()
    assert "Imported agentmemory-0.9.5-small.json" in out.out and "revert 1" in out.out
    assert out.err == ""  # no progress bar when stderr is not a terminal


def test_dry_run_writes_nothing(db, capsys):
    assert main(["import", str(SMALL)]) == 0
    capsys.readouterr()
    before = dump(db, DATA_TABLES + AUDIT_TABLES)
    assert main(["import", str(SMALL_030), "--dry-run", "--strategy", "replace", "--json"]) == 0
    out = _json(capsys)
    assert out["dry_run"] is True and out["audit_id"] is None
    assert out["collections"]["graphNodes"]["deleted"] == 5
    assert dump(db, DATA_TABLES + AUDIT_TABLES) == before


def test_refused_file_exit_1_and_audited(db, capsys):
    assert main(["import", str(REFUSED), "--json"]) == 1
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["ok"] is False and REFUSED.name in out["error"]
    assert "Traceback" not in captured.err and len(captured.err.strip().splitlines()) == 1
    assert main(["audit", "--json"]) == 0
    entries = _json(capsys)
    assert entries[0]["outcome"] == "refused" and entries[0]["id"] == out["audit_id"]
    assert set(entries[0]) >= AUDIT_KEYS
    assert entries[0]["source"]["name"] == REFUSED.name


@pytest.mark.parametrize(
    "argv",
    [
        ["import"],
        ["import", "a.json", "--payload", "@b.json"],
        ["import", "a.json", "--strategy", "upsert"],
        ["revert", "not-a-number"],
        ["audit", "--limit", "-1"],
    ],
)
def test_usage_errors_exit_2(db, argv):
    assert main(argv) == 2


def test_locked_store_exit_3(db, capsys, monkeypatch):
    database.open_store(db).close()  # an empty store
    monkeypatch.setenv("AGENTMEMORY_WIZARD_BUSY_TIMEOUT_MS", "50")
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        capsys.readouterr()
        assert main(["import", str(SMALL), "--json"]) == 3
    finally:
        other.execute("ROLLBACK")
        other.close()
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["ok"] is False and "locked" in out["error"]
    assert "Traceback" not in captured.err


def test_newer_schema_and_corrupt_exit_3(db, capsys):
    database.open_store(db).close()  # an empty store
    con = sqlite3.connect(db)
    con.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 5,))
    con.commit()
    con.close()
    capsys.readouterr()
    assert main(["import", str(SMALL)]) == 3
    assert "newer version" in capsys.readouterr().err
    junk = db.parent / "junk.sqlite"
    junk.write_text("not a database at all")
    assert main(["stats", "--db", str(junk)]) == 3
    assert junk.read_text() == "not a database at all"


def test_stats_audit_export_revert(tmp_path, db, capsys):
    assert main(["import", str(SMALL)]) == 0
    assert main(["stats", "--json"]) == 0
    capsys.readouterr()
    assert main(["stats", "--json"]) == 0
    assert _json(capsys) == {
        "sessions": 10,
        "observations": 500,
        "memories": 50,
        "summaries": 10,
        "profiles": 0,
        "graphNodes": 5,
        "graphEdges": 5,
    }
    out = tmp_path / "export.json"
    assert main(["export", "--out", str(out)]) == 0
    assert main(["validate", str(out)]) == 0
    capsys.readouterr()
    fresh = tmp_path / "fresh.sqlite"
    assert main(["import", str(out), "--db", str(fresh), "--json"]) == 0
    assert _json(capsys)["stats"]["observations"] == 500
    assert main(["revert", "1", "--json"]) == 0
    reverted = _json(capsys)
    assert reverted["ok"] is True and reverted["target_id"] == 1
    assert main(["revert", "1", "--json"]) == 1
    assert "already reverted" in _json(capsys)["error"]
    assert main(["audit", "--limit", "2", "--json"]) == 0
    entries = _json(capsys)
    assert [e["operation"] for e in entries] == ["revert", "revert"]
    assert main(["audit"]) == 0
    assert "#1" in capsys.readouterr().out


def test_export_into_a_missing_folder_is_a_usage_error(tmp_path, db, capsys):
    database.open_store(db).close()
    assert main(["export", "--out", str(tmp_path / "missing" / "x.json")]) == 2
    assert "cannot write" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [["stats"], ["audit"], ["export", "--out", "x.json"], ["revert", "1"], ["deliver"]],
)
def test_a_store_that_does_not_exist_is_refused_not_created(tmp_path, capsys, command):
    missing = tmp_path / "mistyped.sqlite"
    command = [str(tmp_path / c) if c == "x.json" else c for c in command]
    assert main([*command, "--db", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"no store at {missing}" in err and "import a file first" in err
    assert not missing.exists() and not (tmp_path / "x.json").exists()


# ------------------------------------------------------------- real processes, interrupted


@pytest.fixture
def filled(db):
    assert main(["import", str(SMALL_030)]) == 0
    return db


def test_kill_9_mid_import_leaves_store_intact_and_unchanged(tmp_path, filled):
    before = dump(filled, DATA_TABLES + AUDIT_TABLES)
    proc, _ = start_paused_import(tmp_path, filled, "--strategy", "replace")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert integrity(filled) == "ok"
    assert dump(filled, DATA_TABLES + AUDIT_TABLES) == before


def test_a_killed_import_is_audited_as_interrupted_when_the_store_is_next_opened(tmp_path, filled):
    proc, _ = start_paused_import(tmp_path, filled, "--strategy", "replace")
    assert database.lock_info_path(filled).exists()  # the attempt is announced meanwhile
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    before = dump(filled, DATA_TABLES)
    with database.open_store(filled) as store:
        newest = audit.list_entries(store, 1)[0]
    assert newest["outcome"] == "interrupted" and newest["operation"] == "import"
    assert newest["source"]["name"] == "agentmemory-0.9.5-small.json"
    assert "nothing was written" in newest["error"]
    assert not database.lock_info_path(filled).exists()
    assert dump(filled, DATA_TABLES) == before  # only the audit entry was added
    with database.open_store(filled) as store:  # recorded once, not at every opening
        assert [e["outcome"] for e in audit.list_entries(store)].count("interrupted") == 1


def test_ctrl_c_mid_import_rolls_back_audits_and_exits_130(tmp_path, filled, capsys):
    before = dump(filled, DATA_TABLES + ("audit_changes",))
    proc, _ = start_paused_import(tmp_path, filled, "--strategy", "replace")
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "cancelled" in err
    assert integrity(filled) == "ok"
    assert dump(filled, DATA_TABLES + ("audit_changes",)) == before
    capsys.readouterr()
    assert main(["audit", "--limit", "1", "--json"]) == 0
    assert _json(capsys)[0]["outcome"] == "cancelled"


def test_ctrl_c_after_the_commit_reports_the_committed_import(db, capsys, monkeypatch):
    """Ctrl-C while the terminal shows the last progress (the commit has returned): the import
    is complete and reported as such, exit 0, never "nothing was written"."""
    from wizard import cli_commands

    update = cli_commands.ProgressBar.update

    def interrupted(self, label, done, total, force=False):
        if label == "done":
            raise KeyboardInterrupt
        return update(self, label, done, total, force)

    monkeypatch.setattr(cli_commands.ProgressBar, "update", interrupted)
    assert main(["import", str(SMALL), "--json"]) == 0
    out = _json(capsys)
    assert out["ok"] is True and out["outcome"] == "succeeded"
    with database.open_store(db) as store:
        assert store.counts()["observations"] == 500
        assert [e["outcome"] for e in audit.list_entries(store)] == ["succeeded"]


def test_a_refusal_the_locked_store_cannot_audit_is_still_a_refusal(db, capsys, monkeypatch):
    """The file is refused (exit 1, the reason, the --json object) even when the store is locked
    so that the refusal itself cannot be written to the audit; the CLI says that too."""
    database.open_store(db).close()  # an empty store
    capsys.readouterr()
    monkeypatch.setenv("AGENTMEMORY_WIZARD_BUSY_TIMEOUT_MS", "50")
    holder = sqlite3.connect(db)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert main(["import", str(REFUSED), "--json"]) == 1
    finally:
        holder.rollback()
        holder.close()
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["outcome"] == "refused" and out["audit_id"] is None
    assert out["error_code"] == "unsupported-format"
    assert "the refusal could not be audited" in captured.err
    assert "refused:" in captured.err
