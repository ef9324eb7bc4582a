"""Dropping revert data: the mechanics of a prune. Which entries it covers, deleting the previous
versions they kept (``audit_changes``), marking the imports that can no longer be reverted, and
compacting the file. Whether to prune and what the prune's own entry says is the prune run's
policy (``wizard.runs.pruning``).

A prune covers the oldest entries only, as one unbroken run from the first: every entry up to
the one before the first entry at or after the cutoff. So an import that stays revertible never
has a later import whose revert data is gone, which its conflict check needs (a later import's
previous versions are how it sees that its own records were overwritten since). An entry
recorded late with an old time (an interrupted import found at the next start) never widens it.

An import whose revert data was dropped is marked in its ``options``: ``revert_data_pruned:
{"by": the prune's entry id, "at": its time}`` (``audit.pruned_by`` reads it back).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peewee import SqliteDatabase

from wizard.core.names import Operation, Outcome, Phase
from wizard.core.problems import Cancelled
from wizard.store.audit import PRUNED_KEY
from wizard.store.database import Store
from wizard.store.entries import finish_entry, write_entry

CancelFn = Callable[[], bool]
DELETE_CHUNK = 5000  # revert rows deleted per statement (progress and cancel between them)


@dataclass
class PruneFacts:
    """What a prune with this cutoff covers: every entry up to ``last_id`` (None: none), the
    imports that can be reverted now and could not be after it (``imports``, oldest first),
    and the revert data it drops: rows per entry (``changes``) and their size in bytes."""

    cutoff: str
    last_id: int | None = None
    imports: list[int] = field(default_factory=list)
    changes: dict[int, int] = field(default_factory=dict)
    data_bytes: int = 0

    @property
    def rows(self) -> int:
        return sum(self.changes.values())


@dataclass(frozen=True)
class PruneStep:
    """Where a prune is: ``phase`` (read, delete, commit, compact, done), ``done`` of
    ``total``."""

    phase: Phase
    done: int = 0
    total: int = 0


def file_bytes(path: Path) -> int:
    """The store's size on disk: the file and its write-ahead log."""
    total = 0
    for candidate in (path, path.with_name(f"{path.name}-wal")):
        try:
            total += candidate.stat().st_size
        except OSError:
            pass
    return total


def _facts(db: SqliteDatabase, cutoff: str) -> PruneFacts:
    facts = PruneFacts(cutoff)
    first_recent = db.execute_sql(
        "SELECT min(id) FROM audit_log WHERE timestamp >= ?", (cutoff,)
    ).fetchone()[0]
    if first_recent is None:
        row = db.execute_sql("SELECT max(id) FROM audit_log").fetchone()
    else:
        row = db.execute_sql(
            "SELECT max(id) FROM audit_log WHERE id < ?", (first_recent,)
        ).fetchone()
    facts.last_id = row[0]
    if facts.last_id is None:
        return facts
    cur = db.execute_sql(
        "SELECT id, options FROM audit_log WHERE id <= ? AND operation = ? AND outcome = ?"
        " AND reverted_by IS NULL ORDER BY id",
        (facts.last_id, str(Operation.IMPORT), str(Outcome.SUCCEEDED)),
    )
    for audit_id, options in cur.fetchall():
        if PRUNED_KEY not in (json.loads(options) if options else {}):
            facts.imports.append(int(audit_id))
    cur = db.execute_sql(
        "SELECT audit_id, count(*), coalesce(sum(length(CAST(prev_data AS BLOB))"
        " + length(prev_hash)), 0) FROM audit_changes WHERE audit_id <= ?"
        " GROUP BY audit_id ORDER BY audit_id",
        (facts.last_id,),
    )
    for audit_id, rows, size in cur.fetchall():
        facts.changes[int(audit_id)] = int(rows)
        facts.data_bytes += int(size)
    return facts


def prune_facts(store: Store, cutoff: str) -> PruneFacts:
    """What pruning the revert data of entries older than ``cutoff`` (a UTC timestamp as the
    audit writes them) would drop; nothing is written."""
    with store.errors(), store.database.atomic():
        return _facts(store.database, cutoff)


class PruneWrite:
    """One prune's transaction: its audit entry, the revert data dropped, the imports marked.

    ``facts`` are read under the write lock (None until then); ``audit_id`` is the entry
    written inside the transaction (gone again if it rolled back); ``committed`` turns true
    once the commit has returned.
    """

    def __init__(self, store: Store, cutoff: str) -> None:
        self.store = store
        self.cutoff = cutoff
        self.facts: PruneFacts | None = None
        self.audit_id: int | None = None
        self.committed = False

    def steps(
        self,
        entry: dict[str, Any],
        attempt: dict[str, Any],
        finish: Callable[[PruneFacts], dict[str, Any]],
        cancel: CancelFn | None = None,
    ) -> Generator[PruneStep, None, PruneFacts]:
        """Drop the revert data in one transaction with the audit entry ``entry``;
        ``finish(facts)`` gives the entry's final fields, written just before the commit. While
        the transaction is open the lock-info file carries ``attempt``. Raises Cancelled (from
        ``cancel``), StoreError, or whatever went wrong; everything is rolled back then."""
        store = self.store
        db = store.database
        with store.errors(), store.write_transaction(attempt):
            yield PruneStep(Phase.READ_STORE)
            facts = self.facts = _facts(db, self.cutoff)
            self.audit_id = write_entry(db, entry)
            total, done = facts.rows, 0
            if facts.last_id is not None and facts.changes:
                while True:
                    yield PruneStep(Phase.DELETE, done, total)
                    if cancel is not None and cancel():
                        raise Cancelled("cancelled by the user")
                    n = db.execute_sql(
                        "DELETE FROM audit_changes WHERE rowid IN (SELECT rowid FROM"
                        " audit_changes WHERE audit_id <= ? LIMIT ?)",
                        (facts.last_id, DELETE_CHUNK),
                    ).rowcount
                    done += n
                    if n < DELETE_CHUNK:
                        break
            mark = {"by": self.audit_id, "at": entry.get("timestamp")}
            for audit_id in facts.imports:
                _mark(db, audit_id, mark)
            yield PruneStep(Phase.COMMIT, done, total)
            finish_entry(db, self.audit_id, **finish(facts))
        self.committed = True
        return facts


def _mark(db: SqliteDatabase, audit_id: int, mark: dict[str, Any]) -> None:
    row = db.execute_sql("SELECT options FROM audit_log WHERE id = ?", (audit_id,)).fetchone()
    options = json.loads(row[0]) if row and row[0] else {}
    options[PRUNED_KEY] = mark
    db.execute_sql(
        "UPDATE audit_log SET options = ? WHERE id = ?",
        (json.dumps(options, ensure_ascii=False), audit_id),
    )


def compact(store: Store) -> None:
    """Rebuild the file without its free pages (``VACUUM``). Runs outside any transaction: call
    it after the commit. Raises StoreError (locked, full: VACUUM needs room for a copy)."""
    with store.errors():
        store.database.execute_sql("VACUUM")


def settle(store: Store) -> int:
    """Fold the write-ahead log back into the file and truncate it; returns the store's size on
    disk then. Best effort: a reader elsewhere may keep part of the log for now."""
    with store.errors():
        store.database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return file_bytes(store.path)


def free_pages(store: Store) -> int:
    """Pages of the file that hold nothing (what compacting would give back)."""
    with store.errors():
        return int(store.database.execute_sql("PRAGMA freelist_count").fetchone()[0])


def record_counts(store: Store, audit_id: int, counts: dict[str, Any]) -> None:
    """Replace a prune entry's counts in a transaction of its own (the size the file ended with
    is known only after the commit), then fold the write-ahead log back into the file so that
    size stays true. Raises StoreError."""
    db = store.database
    with store.errors():
        with db.atomic("IMMEDIATE"):
            finish_entry(db, audit_id, counts=counts)
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
