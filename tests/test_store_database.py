"""Opening the store: location, pragmas, file mode, refusals, schema versions and migrations."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from wizard.store import database, migrations
from wizard.store.database import StoreError, open_store, resolve_db_path
from wizard.store.models import ALL_MODELS


def test_resolve_db_path_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("AGENTMEMORY_WIZARD_DB", str(tmp_path / "env.sqlite"))
    assert resolve_db_path(tmp_path / "x.sqlite") == tmp_path / "x.sqlite"
    assert resolve_db_path() == tmp_path / "env.sqlite"
    monkeypatch.delenv("AGENTMEMORY_WIZARD_DB")
    default = resolve_db_path()
    assert default.name == "store.sqlite" and "agentmemory-wizard" in str(default)


def test_new_store_is_owner_only_with_pragmas(tmp_path):
    path = tmp_path / "sub" / "store.sqlite"
    with open_store(path) as store:
        db = store.database
        assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute_sql("PRAGMA synchronous").fetchone()[0] == 1  # normal
        assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert store.schema_version == migrations.SCHEMA_VERSION
        store.counts()
        for f in path.parent.iterdir():
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def test_busy_timeout_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("AGENTMEMORY_WIZARD_BUSY_TIMEOUT_MS", "120")
    with open_store(tmp_path / "s.sqlite") as store:
        assert store.database.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 120


def test_models_match_the_migrated_schema(tmp_path):
    with open_store(tmp_path / "s.sqlite") as store:
        for model in ALL_MODELS:
            table = model._meta.table_name
            cols = {r[1] for r in store.database.execute_sql(f'PRAGMA table_info("{table}")')}
            assert cols == {f.column_name for f in model._meta.sorted_fields}, table


def test_not_a_database_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"my precious notes\n" * 100)
    with pytest.raises(StoreError) as err:
        open_store(path)
    assert err.value.kind == "corrupt" and "not an SQLite database" in err.value.message
    assert path.read_bytes() == b"my precious notes\n" * 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_foreign_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE things (x)")
    con.commit()
    con.close()
    with pytest.raises(StoreError) as err:
        open_store(path)
    assert err.value.kind == "corrupt" and "not an agentmemory-wizard store" in err.value.message


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    open_store(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE schema_version SET version = ?", (migrations.SCHEMA_VERSION + 1,))
    con.commit()
    con.close()
    with pytest.raises(StoreError) as err:
        open_store(path)
    assert err.value.kind == "newer-schema"
    assert "newer version" in err.value.message


def test_locked_store_is_reported_as_locked(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTMEMORY_WIZARD_BUSY_TIMEOUT_MS", "50")
    path = tmp_path / "s.sqlite"
    with open_store(path) as store:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with (
                pytest.raises(StoreError) as err,
                store.errors(),
                store.database.atomic("IMMEDIATE"),
            ):
                pass
        finally:
            other.execute("ROLLBACK")
            other.close()
    assert err.value.kind == "locked" and "locked by another process" in err.value.message


def test_error_translation():
    path = Path("/x/s.sqlite")
    cases = {
        "database or disk is full": "full",
        "attempt to write a readonly database": "readonly",
        "file is not a database": "corrupt",
        "database disk image is malformed": "corrupt",
        "database is locked": "locked",
        "unable to open database file": "io",
    }
    for text, kind in cases.items():
        assert database.translate(sqlite3.OperationalError(text), path).kind == kind
    assert database.translate(ValueError("x"), path) is None


def _make_v1_store(path: Path) -> None:
    """A store exactly as schema 1 wrote it, with a record and an audit entry."""
    con = sqlite3.connect(path)
    con.executescript(migrations._V1)
    con.execute("INSERT INTO schema_version VALUES (1, 1, '0.0.1', '2026-01-01T00:00:00Z')")
    con.execute(
        "INSERT INTO sessions (id, project, started_at, hash, data, last_audit)"
        " VALUES ('s1', 'p', 't', x'00', '{\"id\":\"s1\"}', 1)"
    )
    con.execute(
        "INSERT INTO audit_log (id, timestamp, operation, outcome)"
        " VALUES (1, '2026-01-01T00:00:00.000Z', 'import', 'succeeded')"
    )
    con.commit()
    con.close()


def test_migration_from_the_first_schema(tmp_path):
    path = tmp_path / "store.sqlite"
    _make_v1_store(path)
    with open_store(path) as store:
        assert store.schema_version == migrations.SCHEMA_VERSION
        assert store.backup == tmp_path / "store.sqlite.schema1.bak"
        assert store.counts()["sessions"] == 1
        db = store.database
        cols = {r[1] for r in db.execute_sql("PRAGMA table_info(audit_log)")}
        assert "options" in cols and "error_code" in cols
        indexes = {r[1] for r in db.execute_sql("PRAGMA index_list(memories)")}
        assert any("project" in name for name in indexes)
    # the copy made before migrating is the schema-1 store, untouched
    con = sqlite3.connect(tmp_path / "store.sqlite.schema1.bak")
    assert con.execute("SELECT version FROM schema_version").fetchone() == (1,)
    assert con.execute("SELECT id FROM sessions").fetchall() == [("s1",)]
    assert "options" not in {r[1] for r in con.execute("PRAGMA table_info(audit_log)")}
    con.close()
    assert stat.S_IMODE(os.stat(tmp_path / "store.sqlite.schema1.bak").st_mode) == 0o600


def test_migrated_schema_equals_a_new_one(tmp_path):
    _make_v1_store(tmp_path / "old.sqlite")
    open_store(tmp_path / "old.sqlite").close()
    open_store(tmp_path / "new.sqlite").close()

    def schema(p):
        con = sqlite3.connect(p)
        try:
            return sorted(
                con.execute(
                    "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
                )
            )
        finally:
            con.close()

    assert schema(tmp_path / "old.sqlite") == schema(tmp_path / "new.sqlite")


def _announce(path, pid, **attempt_extra) -> None:
    import json
    import socket

    attempt = {
        "timestamp": "2026-11-24T10:00:00.000Z",
        "operation": "import",
        "strategy": "merge",
        "outcome": "interrupted",
        "source_name": "big.json",
        "source_sha256": "ab" * 32,
        "error": "the import did not finish",
        **attempt_extra,
    }
    info = {
        "pid": pid,
        "program": "test",
        "since": "",
        "host": socket.gethostname(),
        "attempt": attempt,
    }
    database.lock_info_path(path).write_text(json.dumps(info))


def _interrupted(path) -> list[dict]:
    from wizard.store import audit

    with database.open_store(path) as store:
        return [e for e in audit.list_entries(store) if e["outcome"] == "interrupted"]


def test_a_dead_writers_attempt_is_recorded_once_with_unknown_fields_ignored(tmp_path):
    path = tmp_path / "s.sqlite"
    database.open_store(path).close()
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _announce(path, dead.pid, bogus_field=1)
    entries = _interrupted(path)
    assert [e["source"]["name"] for e in entries] == ["big.json"]
    assert not database.lock_info_path(path).exists()
    _announce(path, dead.pid)  # the same announcement again (say, the unlink had failed)
    assert len(_interrupted(path)) == 1


def test_a_live_writers_announcement_is_left_alone(tmp_path):
    import os

    path = tmp_path / "s.sqlite"
    database.open_store(path).close()
    _announce(path, os.getppid())
    assert _interrupted(path) == []
    assert database.lock_info_path(path).exists()


def test_a_locked_store_opens_quickly_and_keeps_the_announcement(tmp_path, monkeypatch):
    import sqlite3
    import subprocess
    import sys
    import time

    path = tmp_path / "s.sqlite"
    database.open_store(path).close()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _announce(path, dead.pid)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        database.open_store(path).close()
        assert time.monotonic() - started < 2  # not the 5 s busy timeout
        assert database.lock_info_path(path).exists()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert len(_interrupted(path)) == 1  # recorded by the next opener
