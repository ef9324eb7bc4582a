"""The audit log: one entry per attempt (import, revert, delivery, prune), and reverting a
successful import.

Entries live in ``audit_log``, apart from the data tables, and survive ``replace``. A successful
import leaves the previous version of every record it overwrote or deleted in
``audit_changes``; the records it wrote carry its id in ``last_audit``. Reverting deletes what
the import wrote and puts the previous versions back (same rowids where free, so export order is
kept), unless a later, not reverted import changed the same records. A prune drops the previous
versions of old entries (``wizard.store.pruning``); the imports it covered say so
(``pruned_by``).
"""

from __future__ import annotations

import getpass
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from peewee import SqliteDatabase

from wizard import __version__
from wizard.core.canonical import now_iso
from wizard.core.collections import in_order
from wizard.core.names import Operation, Outcome
from wizard.store.database import Store, StoreError, search_ready
from wizard.store.entries import finish_entry, write_entry
from wizard.store.migrations import SCHEMA_VERSION
from wizard.store.models import ALL_SPECS, OTHER_SPEC, SPECS, AuditEntry, TableSpec, spec_for

# An import whose revert data a prune dropped holds {"by": the prune's entry id, "at": its time}
# under this key of its options.
PRUNED_KEY = "revert_data_pruned"


def current_user() -> str:
    """The OS user running the app."""
    try:
        return getpass.getuser()
    except Exception:
        return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


def entry_base(operation: Operation, outcome: Outcome) -> dict[str, Any]:
    """The columns every entry has: when, what, who, with which app and schema."""
    return {
        "timestamp": now_iso(),
        "operation": str(operation),
        "outcome": str(outcome),
        "schema_version": SCHEMA_VERSION,
        "app_version": __version__,
        "user": current_user(),
    }


def record_entry(store: Store, fields: dict[str, Any]) -> int:
    """Write an entry in a transaction of its own; returns its id."""
    with store.errors(), store.database.atomic("IMMEDIATE"):
        return write_entry(store.database, fields)


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    source = None
    if row.get("source_path") or row.get("source_name"):
        source = {
            "path": row["source_path"],
            "name": row["source_name"],
            "size": row["source_size"],
            "sha256": row["source_sha256"],
        }

    def load(name: str, default: Any) -> Any:
        text = row.get(name)
        return json.loads(text) if text else default

    options = load("options", {})
    pruned = options.get(PRUNED_KEY) if isinstance(options, dict) else None
    if not isinstance(pruned, dict):
        pruned = {}
    return {
        "id": row["id"],
        "timestamp": row["timestamp"],
        "operation": row["operation"],
        "strategy": row["strategy"],
        "outcome": row["outcome"],
        "format": row["format"],
        "source_version": row["source_version"],
        "source": source,
        "counts": load("counts", {}),
        "caps": load("caps", []),
        "error": row["error"],
        "error_code": row.get("error_code"),
        "duration_ms": row["duration_ms"],
        "app_version": row["app_version"],
        "user": row["user"],
        "schema_version": row["schema_version"],
        "options": options,
        "target_id": row["target_id"],
        "reverted_by": row["reverted_by"],
        "pruned_by": pruned.get("by"),  # the prune that dropped this import's revert data
        "pruned_at": pruned.get("at"),
    }


def imports_of(store: Store, sha256: str) -> list[dict]:
    """The successful, not reverted imports of the file with this SHA-256, oldest first."""
    query = (
        AuditEntry.select()
        .where(
            (AuditEntry.source_sha256 == sha256)
            & (AuditEntry.operation == str(Operation.IMPORT))
            & (AuditEntry.outcome == str(Outcome.SUCCEEDED))
            & AuditEntry.reverted_by.is_null()
        )
        .order_by(AuditEntry.id)
    )
    with store.errors():
        return [_entry(r) for r in query.dicts().execute(store.database)]


def list_entries(store: Store, limit: int | None = None, before: int | None = None) -> list[dict]:
    """Entries newest first (``before``: only ids below it, for paging)."""
    query = AuditEntry.select().order_by(AuditEntry.id.desc())
    if before is not None:
        query = query.where(AuditEntry.id < before)
    if limit is not None:
        query = query.limit(max(0, limit))
    with store.errors():
        return [_entry(r) for r in query.dicts().execute(store.database)]


def get_entry(store: Store, audit_id: int) -> dict:
    """One entry; KeyError when there is none with that id."""
    query = AuditEntry.select().where(AuditEntry.id == audit_id).dicts()
    with store.errors():
        rows = list(query.execute(store.database))
    if not rows:
        raise KeyError(f"no audit entry #{audit_id}")
    return _entry(rows[0])


@dataclass
class RevertFacts:
    """What the store knows of an import that someone wants to revert: its entry (None when
    there is none), the records a later, not reverted import changed since (``conflicts``), and
    what undoing it would do: previous versions put back (``restore``) and records it inserted
    that would go (``remove``), per collection. Whether it may be reverted is the revert run's
    decision (``wizard.runs.reverting``)."""

    target_id: int
    entry: dict[str, Any] | None
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    restore: dict[str, int] = field(default_factory=dict)
    remove: dict[str, int] = field(default_factory=dict)


def committed(store: Store, audit_id: int | None) -> bool:
    """Whether the run that wrote entry ``audit_id`` inside its transaction committed (asked
    after the transaction ended, one way or the other: a rolled-back entry is gone)."""
    if audit_id is None:
        return False
    try:
        return bool(get_entry(store, audit_id)["outcome"] == Outcome.SUCCEEDED)
    except (KeyError, StoreError):
        return False


def _conflicts(db: SqliteDatabase, target: int) -> list[tuple[str, str]]:
    """Records the import wrote that a later, not reverted, successful import changed."""
    found: set[tuple[str, str]] = set()
    # a later import overwrote or deleted a record this import had written
    cur = db.execute_sql(
        "SELECT c.collection, c.key FROM audit_changes c JOIN audit_log a ON a.id = c.audit_id"
        " WHERE c.prev_last_audit = ? AND c.audit_id > ? AND a.operation = ?"
        " AND a.outcome = ? AND a.reverted_by IS NULL",
        (target, target, str(Operation.IMPORT), str(Outcome.SUCCEEDED)),
    )
    found.update(cur.fetchall())
    # a record this import overwrote or deleted was written again later
    main_names = tuple(SPECS)
    for name, spec in SPECS.items():
        cur = db.execute_sql(
            f'SELECT c.collection, c.key FROM audit_changes c JOIN "{spec.table}" t'
            f' ON t."{spec.key_column}" = c.key WHERE c.audit_id = ? AND c.collection = ?'
            " AND t.last_audit IS NOT ?",
            (target, name, target),
        )
        found.update(cur.fetchall())
    marks = ", ".join("?" for _ in main_names)
    cur = db.execute_sql(
        f'SELECT c.collection, c.key FROM audit_changes c JOIN "{OTHER_SPEC.table}" t'
        " ON t.collection = c.collection AND t.key = c.key WHERE c.audit_id = ?"
        f" AND c.collection NOT IN ({marks}) AND t.last_audit IS NOT ?",
        (target, *main_names, target),
    )
    found.update(cur.fetchall())
    return sorted(found)


def _facts(db: SqliteDatabase, target: int) -> RevertFacts:
    rows = list(AuditEntry.select().where(AuditEntry.id == target).dicts().execute(db))
    if not rows:
        return RevertFacts(target, None)
    facts = RevertFacts(target, _entry(rows[0]), _conflicts(db, target))
    restore = dict(
        db.execute_sql(
            "SELECT collection, count(*) FROM audit_changes WHERE audit_id = ? GROUP BY collection",
            (target,),
        ).fetchall()
    )
    remove: dict[str, int] = {}
    for name, spec in SPECS.items():
        n = db.execute_sql(
            f'SELECT count(*) FROM "{spec.table}" t WHERE t.last_audit = ? AND NOT EXISTS'
            " (SELECT 1 FROM audit_changes c WHERE c.audit_id = ? AND c.collection = ?"
            f' AND c.key = t."{spec.key_column}")',
            (target, target, name),
        ).fetchone()[0]
        if n:
            remove[name] = n
    for name, n in db.execute_sql(
        f'SELECT t.collection, count(*) FROM "{OTHER_SPEC.table}" t WHERE t.last_audit = ?'
        " AND NOT EXISTS (SELECT 1 FROM audit_changes c WHERE c.audit_id = ?"
        " AND c.collection = t.collection AND c.key = t.key) GROUP BY t.collection",
        (target, target),
    ).fetchall():
        remove[name] = n
    facts.restore = {name: restore[name] for name in in_order(restore)}
    facts.remove = {name: remove[name] for name in in_order(remove)}
    return facts


def revert_facts(store: Store, audit_id: int) -> RevertFacts:
    """What the store knows of reverting ``audit_id`` (nothing is written)."""
    with store.errors(), store.database.atomic():
        return _facts(store.database, audit_id)


def revert_write(
    store: Store,
    audit_id: int,
    fields: dict[str, Any],
    allowed: Callable[[RevertFacts], bool],
) -> tuple[RevertFacts, int | None]:
    """Undo import ``audit_id`` in one transaction with its entry (``fields``), if ``allowed``
    says so of the facts read under the same write lock; returns those facts and the new
    entry's id (None: nothing written)."""
    t0 = time.monotonic()
    db = store.database
    with store.errors(), db.atomic("IMMEDIATE"):
        facts = _facts(db, audit_id)
        if not allowed(facts):
            return facts, None
        revert_id = write_entry(db, fields)
        _undo(db, audit_id)
        AuditEntry.update(reverted_by=revert_id).where(AuditEntry.id == audit_id).execute(db)
        finish_entry(
            db,
            revert_id,
            counts={"restored": facts.restore, "removed": facts.remove},
            duration_ms=int((time.monotonic() - t0) * 1000),
        )
    return facts, revert_id


def _undo(db: SqliteDatabase, target: int) -> None:
    # the full-text index follows (unless it is to be built again anyway)
    indexed = [(n, s) for n, s in SPECS.items() if s.search_table] if search_ready(db) else []
    # everything the import wrote goes (what it overwrote comes back below)
    for _name, spec in indexed:
        db.execute_sql(spec.search_unindex_where_sql(" WHERE last_audit = ?"), (target,))
    for spec in ALL_SPECS:
        db.execute_sql(f'DELETE FROM "{spec.table}" WHERE last_audit = ?', (target,))
    cur = db.execute_sql(
        "SELECT collection, key, prev_rowid, prev_data, prev_hash, prev_bucket, prev_last_audit"
        " FROM audit_changes WHERE audit_id = ? ORDER BY collection, prev_rowid",
        (target,),
    )
    writer = db.cursor()
    batch: dict[str, list[tuple]] = {}
    specs: dict[str, TableSpec] = {}
    while rows := cur.fetchmany(2000):
        for collection, key, rowid, data, digest, bucket, last_audit in rows:
            spec = spec_for(collection)
            record = json.loads(data) if spec.extract else {}
            row = spec.row(collection, key, record, bucket, digest, data, last_audit)
            batch.setdefault(spec.table, []).append((rowid, rowid, *row))
            specs[spec.table] = spec
        for table, params in batch.items():
            writer.executemany(specs[table].restore_sql, params)
        batch.clear()
    for name, spec in indexed:
        db.execute_sql(
            spec.search_index_where_sql(
                f' WHERE "{spec.key_column}" IN (SELECT key FROM audit_changes'
                " WHERE audit_id = ? AND collection = ?)"
            ),
            (target, name),
        )


def opened_sources(path: str | os.PathLike, limit: int = 200) -> list[str]:
    """The source paths of the store's latest import attempts, newest first, read without
    opening the store for writing (nothing is created, migrated or locked); [] when there is
    no store or it cannot be read."""
    import sqlite3
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        return []
    try:
        conn = sqlite3.connect(f"{p.absolute().as_uri()}?mode=ro", uri=True, timeout=0.2)
    except sqlite3.Error:
        return []
    try:
        rows = conn.execute(
            "SELECT source_path FROM audit_log WHERE source_path IS NOT NULL "
            "GROUP BY source_path ORDER BY max(id) DESC LIMIT ?",
            (limit,),
        ).fetchall()
    except sqlite3.Error:
        return []
    finally:
        conn.close()
    return [r[0] for r in rows if isinstance(r[0], str) and r[0]]
