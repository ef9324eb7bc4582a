"""Numbered schema migrations. Each is frozen: it never imports the live models.

``SCHEMA_VERSION`` is the schema this code writes. A new store runs every migration from 1; an
older store is copied aside (``<file>.schema<N>.bak``) and then migrated in one transaction; a
store written by a newer version is refused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from peewee import SqliteDatabase, TextField
from playhouse.migrate import SqliteMigrator, migrate

from wizard import __version__

SCHEMA_VERSION = 5

# Schema 1, as first released.
_V1 = """
CREATE TABLE schema_version (
    id INTEGER NOT NULL PRIMARY KEY, version INTEGER NOT NULL, app_version TEXT,
    updated_at TEXT);
CREATE TABLE sessions (
    id TEXT NOT NULL PRIMARY KEY, project TEXT, started_at TEXT,
    hash BLOB NOT NULL, data TEXT NOT NULL, last_audit INTEGER);
CREATE INDEX sessions_project ON sessions (project);
CREATE INDEX sessions_started_at ON sessions (started_at);
CREATE TABLE observations (
    id TEXT NOT NULL PRIMARY KEY, session_id TEXT, timestamp TEXT, type TEXT,
    bucket TEXT NOT NULL, hash BLOB NOT NULL, data TEXT NOT NULL, last_audit INTEGER);
CREATE INDEX observations_session_id ON observations (session_id);
CREATE INDEX observations_timestamp ON observations (timestamp);
CREATE INDEX observations_type ON observations (type);
CREATE TABLE memories (
    id TEXT NOT NULL PRIMARY KEY, type TEXT, created_at TEXT, project TEXT,
    hash BLOB NOT NULL, data TEXT NOT NULL, last_audit INTEGER);
CREATE INDEX memories_type ON memories (type);
CREATE INDEX memories_created_at ON memories (created_at);
CREATE TABLE summaries (
    session_id TEXT NOT NULL PRIMARY KEY, project TEXT,
    hash BLOB NOT NULL, data TEXT NOT NULL, last_audit INTEGER);
CREATE INDEX summaries_project ON summaries (project);
CREATE TABLE profiles (
    project TEXT NOT NULL PRIMARY KEY,
    hash BLOB NOT NULL, data TEXT NOT NULL, last_audit INTEGER);
CREATE TABLE graph_nodes (
    id TEXT NOT NULL PRIMARY KEY, type TEXT, name TEXT,
    hash BLOB NOT NULL, data TEXT NOT NULL, last_audit INTEGER);
CREATE INDEX graph_nodes_type ON graph_nodes (type);
CREATE INDEX graph_nodes_name ON graph_nodes (name);
CREATE TABLE graph_edges (
    id TEXT NOT NULL PRIMARY KEY, source_node_id TEXT, target_node_id TEXT, type TEXT,
    hash BLOB NOT NULL, data TEXT NOT NULL, last_audit INTEGER);
CREATE INDEX graph_edges_source_node_id ON graph_edges (source_node_id);
CREATE INDEX graph_edges_target_node_id ON graph_edges (target_node_id);
CREATE INDEX graph_edges_type ON graph_edges (type);
CREATE TABLE other_records (
    collection TEXT NOT NULL, key TEXT NOT NULL,
    hash BLOB NOT NULL, data TEXT NOT NULL, last_audit INTEGER,
    PRIMARY KEY (collection, key));
CREATE TABLE audit_log (
    id INTEGER NOT NULL PRIMARY KEY, timestamp TEXT NOT NULL, operation TEXT NOT NULL,
    strategy TEXT, outcome TEXT NOT NULL, format TEXT, source_version TEXT,
    source_path TEXT, source_name TEXT, source_size INTEGER, source_sha256 TEXT,
    schema_version INTEGER, counts TEXT, caps TEXT, error TEXT, duration_ms INTEGER,
    app_version TEXT, user TEXT, target_id INTEGER, reverted_by INTEGER);
CREATE TABLE audit_changes (
    audit_id INTEGER NOT NULL REFERENCES audit_log (id) ON DELETE CASCADE,
    collection TEXT NOT NULL, key TEXT NOT NULL, prev_rowid INTEGER, prev_data TEXT NOT NULL,
    prev_hash BLOB NOT NULL, prev_bucket TEXT, prev_last_audit INTEGER,
    PRIMARY KEY (audit_id, collection, key));
CREATE INDEX audit_changes_prev_last_audit ON audit_changes (prev_last_audit);
"""


def _m0001_initial(database: SqliteDatabase) -> None:
    """Schema 1: the data tables, the audit log and its change log."""
    for statement in _V1.split(";"):
        if statement.strip():
            database.execute_sql(statement)


def _m0002_audit_options(database: SqliteDatabase) -> None:
    """Schema 2: the audit entry keeps the import options; memories are indexed by project."""
    migrator = SqliteMigrator(database)
    migrate(
        migrator.add_column("audit_log", "options", TextField(null=True)),
        migrator.add_index("memories", ("project",), False),
    )


def _m0003_audit_error_code(database: SqliteDatabase) -> None:
    """Schema 3: the audit entry keeps a stable code for why a run did not succeed."""
    migrator = SqliteMigrator(database)
    migrate(migrator.add_column("audit_log", "error_code", TextField(null=True)))


_V4 = """
CREATE TABLE deliveries (
    id INTEGER NOT NULL PRIMARY KEY, created_at TEXT NOT NULL, url TEXT NOT NULL,
    strategy TEXT NOT NULL, scope TEXT NOT NULL, with_source INTEGER NOT NULL,
    fingerprint TEXT NOT NULL, declared_version TEXT, state TEXT NOT NULL);
CREATE TABLE delivery_chunks (
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    number INTEGER NOT NULL, hash TEXT NOT NULL, keys TEXT NOT NULL, counts TEXT NOT NULL,
    bytes INTEGER NOT NULL, state TEXT NOT NULL, answer TEXT,
    PRIMARY KEY (delivery_id, number));
"""


def _m0004_deliveries(database: SqliteDatabase) -> None:
    """Schema 4: deliveries to a running agentmemory and their chunks (for resuming)."""
    for statement in _V4.split(";"):
        if statement.strip():
            database.execute_sql(statement)


# The full-text index of the store browser: one contentless FTS5 table per browsable collection
# (the text is not stored twice: it is read from the records' JSON when a row is indexed, and
# again when it is removed), and which version of the indexed fields it holds (0: not built).
_SEARCH_OPTIONS = (
    "text, content='', detail=none, columnsize=0, tokenize='unicode61 remove_diacritics 2'"
)
_V5_TABLES = ("sessions", "observations", "memories", "summaries", "graph_nodes", "graph_edges")
_V5_FIELDS_VERSION = 1  # the fields schema 5 indexes (models.SEARCH_VERSION 1)


def _m0005_search(database: SqliteDatabase) -> None:
    """Schema 5: the full-text index. An older store's records are indexed later, with
    progress, when the store is first browsed (``store.browse.index_steps``): until then it is
    marked not built, and writes leave it alone."""
    for table in _V5_TABLES:
        database.execute_sql(f"CREATE VIRTUAL TABLE search_{table} USING fts5({_SEARCH_OPTIONS})")
    database.execute_sql(
        "CREATE TABLE search_index (id INTEGER NOT NULL PRIMARY KEY, version INTEGER NOT NULL,"
        " built_at TEXT)"
    )
    holds_records = any(
        database.execute_sql(f"SELECT 1 FROM {table} LIMIT 1").fetchone() for table in _V5_TABLES
    )
    database.execute_sql(
        "INSERT INTO search_index (id, version) VALUES (1, ?)",
        (0 if holds_records else _V5_FIELDS_VERSION,),
    )


MIGRATIONS: tuple[tuple[int, Callable[[SqliteDatabase], None]], ...] = (
    (1, _m0001_initial),
    (2, _m0002_audit_options),
    (3, _m0003_audit_error_code),
    (4, _m0004_deliveries),
    (5, _m0005_search),
)
assert MIGRATIONS[-1][0] == SCHEMA_VERSION


def current_version(database: SqliteDatabase) -> int | None:
    """The schema version of the file: 0 for an empty file, None when it is not a store."""
    tables = set(database.get_tables())
    if "schema_version" in tables:
        row = database.execute_sql("SELECT version FROM schema_version WHERE id = 1").fetchone()
        return int(row[0]) if row else None
    if not tables:
        return 0
    return None


def backup_path(path: Path, version: int) -> Path:
    """Where a store of schema ``version`` is copied before it is migrated."""
    candidate = path.with_name(f"{path.name}.schema{version}.bak")
    n = 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.schema{version}.{n}.bak")
    return candidate


def copy_aside(database: SqliteDatabase, path: Path, version: int) -> Path:
    """A consistent copy of the store (SQLite's backup API, WAL included), owner-only."""
    target = backup_path(path, version)
    target.touch(mode=0o600, exist_ok=False)
    dest = sqlite3.connect(str(target))
    try:
        database.connection().backup(dest)
    finally:
        dest.close()
    return target


def migrate_store(database: SqliteDatabase, path: Path, version: int) -> Path | None:
    """Bring a store from ``version`` to ``SCHEMA_VERSION``; returns the backup copy, if made.

    The version is read again under the write lock, so two processes opening a new store at
    once do not both create it.
    """
    backup = copy_aside(database, path, version) if version > 0 else None
    with database.atomic("IMMEDIATE"):
        version = current_version(database) or 0
        if version >= SCHEMA_VERSION:
            return backup
        for number, step in MIGRATIONS:
            if number > version:
                step(database)
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        database.execute_sql(
            "INSERT INTO schema_version (id, version, app_version, updated_at) VALUES (1, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET version = excluded.version,"
            " app_version = excluded.app_version, updated_at = excluded.updated_at",
            (SCHEMA_VERSION, __version__, now),
        )
    return backup
