"""Importing canonical ExportData into the store: a dry-run plan and the one-transaction write.

Both run the same engine over the records, collection by collection, in chunks: ``plan_steps``
only reads the (key, hash) pairs the store holds; :class:`ImportWrite` writes with prepared
``executemany`` statements generated from the models, keeps the previous version of every record
it overwrites or deletes (for revert), and commits everything together with its audit entry, or
nothing. Which entries are written, and what they say, is the run's policy (``wizard.runs``).

Test hook: when the environment variable ``AGENTMEMORY_WIZARD_TEST_PAUSE_AFTER_CHUNK`` is set
to a path prefix P, an import creates the file ``P.paused`` after writing its first chunk (inside
the open transaction) and then waits until ``P.resume`` exists, the cancel flag is set, or 60 s
pass. Tests use it to interrupt a real import at a known point without sleeping.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from hashlib import blake2b
from pathlib import Path
from typing import Any

from peewee import DatabaseError

from wizard.core.allocation import paused_gc
from wizard.core.canonical import stamp_origin
from wizard.core.collections import (
    MAIN,
    collection,
    collection_names,
    count_records,
    order_key,
    record_key,
)
from wizard.core.fastjson import dumps_utf8, json_utf8, maybe_json_differs
from wizard.core.inspection import Inspection
from wizard.core.names import Operation, Outcome, Phase, Strategy
from wizard.core.preflight import keep_last_of_repeated_keys
from wizard.core.problems import Cancelled
from wizard.core.spool import RecordList, Spool, is_array, iter_chunks
from wizard.core.steps import drive
from wizard.core.versions import version_numbers
from wizard.store.database import Store, search_ready
from wizard.store.entries import finish_entry, write_entry
from wizard.store.models import OTHER_SPEC, SPECS, TableSpec, spec_for

STAT_NAMES = ("sessions", "observations", "memories", "summaries", "skipped")
# Records per chunk (one executemany, one progress report, one cancel check): whole runs are
# added up to at least this many, so a chunk holds fewer than twice as many.
CHUNK_ROWS = 2000
DEFER_INDEXES_FROM = 10_000  # records: below this, index builds are not worth deferring
PAUSE_ENV = "AGENTMEMORY_WIZARD_TEST_PAUSE_AFTER_CHUNK"
PAUSE_LIMIT_S = 60.0

CancelFn = Callable[[], bool]


@dataclass(frozen=True)
class Progress:
    """Where a plan or an import is (``collection`` None for the steps of the whole import)."""

    phase: Phase
    collection: str | None
    done: int
    total: int


@dataclass
class CollectionPlan:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    deleted: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "deleted": self.deleted,
        }


def empty_plans() -> dict[str, CollectionPlan]:
    """A count of nothing for every main collection."""
    return {c.name: CollectionPlan() for c in MAIN}


def stats_of(collections: dict[str, CollectionPlan]) -> dict[str, int]:
    """agentmemory's result stats, as its own ``mem::import`` counts them for the same file and
    store: every record written per main collection (an identical one that merge or replace
    writes again counts too), and all skipped. The exact inserted / updated / unchanged split is
    in the per-collection plans."""
    stats = dict.fromkeys(STAT_NAMES, 0)
    for c in MAIN:
        if c.stat and c.name in collections:
            p = collections[c.name]
            stats[c.stat] = p.inserted + p.updated + p.unchanged
    stats["skipped"] = sum(p.skipped for p in collections.values())
    return stats


@dataclass
class Plan:
    strategy: Strategy
    collections: dict[str, CollectionPlan]
    # imports of the same file made with other ids (see wizard.runs.importing.earlier_imports)
    earlier_imports: list[int] = field(default_factory=list)

    @property
    def stats(self) -> dict[str, int]:
        return stats_of(self.collections)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "stats": self.stats,
            "collections": {n: p.to_dict() for n, p in self.collections.items()},
        }


def _bucket_salt(bucket: str | None) -> bytes:
    return b"\x00" + (bucket or "").encode("utf-8")


def content_hash(text: str | bytes, bucket: str | None = None) -> bytes:
    """16-byte digest of what a row holds (its text, or the UTF-8 bytes of it; an observation's
    bucket included)."""
    h = blake2b(text.encode("utf-8") if isinstance(text, str) else text, digest_size=16)
    if bucket is not None:
        h.update(_bucket_salt(bucket))
    return h.digest()


def _iter_pairs(data: dict, name: str) -> Iterator[tuple[str | None, Any]]:
    """(bucket, record) for every record of a collection; bucket only for observations."""
    for bucket, group, _owned in _iter_groups(data, name):
        for rec in group:  # type: ignore[union-attr]  # (records: no ``present``)
            yield bucket, rec


def _iter_groups(
    data: dict, name: str, present: Callable[[list[str]], bool] | None = None
) -> Iterator[tuple[str | None, list | int, bool]]:
    """The records of a collection in runs of at most CHUNK_ROWS: (bucket, records, owned),
    bucket only for observations, whose runs never span two buckets. A collection kept in a
    spool is read a run at a time; its runs are ``owned`` (decoded for this reader alone).

    With ``present`` (skip: whether the store holds all these keys), a spooled run whose keys
    the reader noted and the store holds is not decoded at all: its size comes instead of its
    records. Small runs (observation buckets) are asked about together, up to CHUNK_ROWS
    keys at a time."""
    runs: Iterable[tuple[str | None, Any]]
    if name == "observations":
        value = data.get("observations")
        runs = value.items() if isinstance(value, dict) else ()
    else:
        runs = [(None, data.get(name))]
    waiting: list[tuple[str | None, Spool, int, int]] = []  # (bucket, spool, chunk, records)

    def settle() -> Iterator[tuple[str | None, list | int, bool]]:
        if not waiting or present is None:
            return
        spool = waiting[0][1]
        noted = spool.keys_of([chunk_id for _b, _s, chunk_id, _n in waiting])
        together = [k for _b, _s, chunk_id, _n in waiting for k in noted.get(chunk_id) or ()]
        whole = all(noted.get(chunk_id) is not None for _b, _s, chunk_id, _n in waiting)
        if whole and present(together):
            for bucket, _spool, _chunk_id, count in waiting:
                yield bucket, count, True
        else:  # one by one: which of them the store holds whole
            for bucket, _spool, chunk_id, count in waiting:
                keys = noted.get(chunk_id)
                if keys is not None and present(keys):
                    yield bucket, count, True
                else:
                    records = spool.records(chunk_id)
                    for start in range(0, len(records), CHUNK_ROWS):
                        yield bucket, records[start : start + CHUNK_ROWS], True
        waiting.clear()

    for bucket, items in runs:
        if not is_array(items):
            continue
        if present is not None and isinstance(items, RecordList):
            for chunk_id, count in items.chunk_refs():
                if waiting and waiting[0][1] is not items.spool:
                    yield from settle()
                waiting.append((bucket, items.spool, chunk_id, count))
                if sum(n for _b, _s, _c, n in waiting) >= CHUNK_ROWS:
                    yield from settle()
            continue
        yield from settle()
        owned = isinstance(items, RecordList)
        for group in iter_chunks(items, CHUNK_ROWS):
            yield bucket, group, owned
    yield from settle()


class _Engine:
    """Classifies every record against the store and (when writing) writes it.

    Nothing proportional to the file or the store is kept in Python: the store is asked for
    the keys of one run of records at a time (``json_each`` over the run's keys), and what a
    replace keeps is noted in a temporary table. The records' keys must be unique per
    collection (preflight keeps the last of a repeated key; ``unique=False`` does that here).
    """

    def __init__(
        self,
        store: Store,
        data: dict,
        strategy: Strategy,
        format_id: str | None,
        *,
        unique: bool = False,
    ) -> None:
        """A dry run until ``write_as``. Made before the run's transaction: it asks the audit
        log whether an earlier version wrote the store, and a damaged log must not spoil the
        transaction (the record tables may be intact)."""
        self.store = store
        self.data = data
        self.strategy = strategy
        self.format_id = format_id
        self.audit_id: int | None = None  # None: dry run
        self.writing = False
        self.pause: str | None = None
        self.unique = unique
        # only merge-like runs compare content
        self.legacy_text = strategy.overwrites and _has_legacy_text(store.database)
        self.plans = empty_plans()
        self.indexer: _Indexer | None = None  # keeps the full-text index (when writing)
        self.index_at_once = True

    def write_as(self, audit_id: int) -> None:
        """Write (inside the open transaction), under audit entry ``audit_id``."""
        self.audit_id = audit_id
        self.writing = True
        self.pause = os.environ.get(PAUSE_ENV)

    def _plan(self, name: str) -> CollectionPlan:
        return self.plans.setdefault(name, CollectionPlan())

    def run(self, cancel: CancelFn | None) -> Generator[Progress, None, dict[str, CollectionPlan]]:
        self.cancel = cancel
        if self.writing and search_ready(self.store.database):
            self.indexer = _Indexer(self.store.database)
        db = _Serial(self.store.database, self.indexer)
        try:
            plans = yield from self._run(db)
        except BaseException:
            if self.indexer is not None:
                self.indexer.close(quiet=True)
            raise
        if self.indexer is not None:
            self.indexer.close()
        return plans

    def _run(self, db) -> Generator[Progress, None, dict[str, CollectionPlan]]:
        if not self.unique:
            keep_last_of_repeated_keys(self.data)
        names = collection_names(self.data)
        memory_keys: set[str] | None = None
        if "accessLogs" in names:
            memory_keys = {
                k for _, m in _iter_pairs(self.data, "memories") if (k := _key("memories", m))
            }
        if self.strategy.deletes_all and self.writing:
            db.execute_sql(f"CREATE TEMP TABLE IF NOT EXISTS {_KEPT} (key TEXT PRIMARY KEY)")
        for name in names:
            yield from self._collection(db, name, memory_keys)
        if self.strategy.deletes_all:
            yield from self._delete_others(db, names)
            if self.writing:
                db.execute_sql(f"DROP TABLE IF EXISTS {_KEPT}")
        return self.plans

    def _check_cancel(self) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled("import cancelled")

    def _delete_others(self, db, names: list[str]) -> Generator[Progress, None, None]:
        """Replace: every record of a collection the file does not hold goes (its previous
        version kept for revert)."""
        present = set(names)
        gone: list[tuple[str, TableSpec]] = [
            (name, spec) for name, spec in SPECS.items() if name not in present
        ]
        others = db.execute_sql(f'SELECT DISTINCT collection FROM "{OTHER_SPEC.table}"')
        gone += [(name, OTHER_SPEC) for (name,) in others.fetchall() if name not in present]
        gone.sort(key=lambda item: order_key(item[0]))
        for i, (name, spec) in enumerate(gone, 1):
            if self._drop(db, spec, name):
                yield Progress(Phase.DELETE, name, i, len(gone))
                self._check_cancel()

    def _drop(self, db, spec: TableSpec, name: str, condition: str | None = None) -> int:
        """Replace: delete the records of collection ``name`` (those meeting ``condition``),
        their previous versions kept for revert; a dry run only counts them. Returns how many,
        which the plan's ``deleted`` says."""
        clauses = ['"collection" = ?'] if spec.generic else []
        params: tuple = (name,) if spec.generic else ()
        if condition:
            clauses.append(condition)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        n = db.execute_sql(f'SELECT count(*) FROM "{spec.table}"{where}', params).fetchone()[0]
        if n:
            self._plan(name).deleted = n
            if self.writing:
                log_params = (self.audit_id, *params) if spec.generic else (self.audit_id, name)
                db.execute_sql(spec.log_all_sql + where, log_params)
                if self.indexer is not None and spec.search_table:
                    if condition:
                        db.execute_sql(spec.search_unindex_where_sql(where), params)
                    else:
                        db.execute_sql(spec.search_clear_sql)
                db.execute_sql(f'DELETE FROM "{spec.table}"{where}', params)
        return int(n)

    def _all_present(self, db, spec: TableSpec, name: str, keys: list[str | None]) -> bool:
        """Whether the store already has every record of a run (counted by SQLite)."""
        if None in keys:
            return False
        if not keys:
            return True
        params: tuple = (_KEYS_JSON(keys), name) if spec.generic else (_KEYS_JSON(keys),)
        return bool(db.read_sql(spec.count_sql, params).fetchone()[0] == len(keys))

    def _lookup(self, db, spec: TableSpec, name: str, keys: list[str | None]) -> dict[str, bytes]:
        """(key, hash) of the store's records among ``keys``."""
        named = [k for k in keys if k is not None]
        if not named:
            return {}
        params: tuple = (_KEYS_JSON(named), name) if spec.generic else (_KEYS_JSON(named),)
        return dict(db.read_sql(spec.lookup_sql, params).fetchall())

    def _collection(
        self, db, name: str, memory_keys: set[str] | None
    ) -> Generator[Progress, None, None]:
        spec = spec_for(name)
        total = count_records(self.data, name)
        yield Progress(Phase.READ_STORE, name, 0, total)
        where = ' WHERE "collection" = ?' if spec.generic else ""
        params: tuple = (name,) if spec.generic else ()
        store_empty = (
            db.execute_sql(f'SELECT 1 FROM "{spec.table}"{where} LIMIT 1', params).fetchone()
            is None
        )
        self.index_at_once = store_empty  # no lookup comes before the next run is classified
        # replace notes the keys it keeps (a dry run counts instead: it writes nothing, not even
        # a temporary table, so it works on a store opened read-only)
        keeping = self.strategy.deletes_all and not store_empty and self.writing
        if keeping:
            db.execute_sql(f"DELETE FROM {_KEPT}")
        self._check_cancel()
        classifier = _Classifier(self, name, spec, memory_keys)
        # skip, when the store already has every record of a run (a repeated import): count
        # them, nothing more to look at
        quick = not self.strategy.overwrites and classifier.only_memories is None
        # Into an empty table, build the secondary indexes once at the end (a sort) instead of
        # row by row; the DROP and CREATE are part of the import's transaction.
        deferred = []
        if self.writing and not spec.generic and store_empty and total >= DEFER_INDEXES_FROM:
            deferred = _secondary_indexes(db, spec.table)
            for index, _sql in deferred:
                db.execute_sql(f'DROP INDEX "{index}"')
        done = 0
        next_report = CHUNK_ROWS
        present = None
        if quick and not store_empty:
            present = lambda keys: self._all_present(db, spec, name, keys)  # noqa: E731
        for bucket, group, owned in _iter_groups(self.data, name, present):
            if isinstance(group, int):  # a spooled run the store holds whole (by its keys)
                classifier.plan.skipped += group
                done += group
            elif not group:
                continue
            else:
                keys = classifier.keys(group)
                if quick and not store_empty and self._all_present(db, spec, name, keys):
                    classifier.plan.skipped += len(group)
                else:
                    existing = {} if store_empty else self._lookup(db, spec, name, keys)
                    if self.indexer is not None:  # the last run's index work, beside Python's
                        self.indexer.start()
                    classifier.classify(bucket, group, keys, existing, owned)
                if keeping and classifier.kept:
                    db.cursor().executemany(
                        f"INSERT OR IGNORE INTO {_KEPT} (key) VALUES (?)", classifier.kept
                    )
                classifier.kept = []
                done += len(group)
            if done >= next_report:
                next_report = done + CHUNK_ROWS
                if self.writing:
                    self._flush(db, spec, name, classifier.logs, classifier.rows)
                    yield Progress(Phase.WRITE, name, done, total)
                else:
                    yield Progress(Phase.PLAN, name, done, total)
                classifier.logs, classifier.rows = [], []
                self._check_cancel()
        if self.writing:
            self._flush(db, spec, name, classifier.logs, classifier.rows)
            yield Progress(Phase.WRITE, name, done, total)
        else:
            yield Progress(Phase.PLAN, name, done, total)
        self._check_cancel()
        if keeping:  # what the file does not bring goes
            self._drop(db, spec, name, f"{_q(spec.key_column)} NOT IN (SELECT key FROM {_KEPT})")
        elif self.strategy.deletes_all and not store_empty:  # a dry run: the rest of the table
            plan = classifier.plan
            n = db.execute_sql(f'SELECT count(*) FROM "{spec.table}"{where}', params).fetchone()[0]
            plan.deleted = n - plan.updated - plan.unchanged
        for i, (_index, sql) in enumerate(deferred):
            yield Progress(Phase.INDEX, name, i, len(deferred))
            db.execute_sql(sql)

    def _flush(self, db, spec: TableSpec, name: str, logs: list[str], rows: list[tuple]) -> None:
        """Write a run's rows, after keeping the previous versions of those they overwrite;
        then have the full-text index follow them."""
        if not rows:
            return
        indexed = self.indexer is not None and spec.search_table is not None
        if indexed:
            top = db.execute_sql(f"SELECT max(rowid) FROM {_q(spec.table)}").fetchone()[0]
        keys = _KEYS_JSON(logs) if logs else None
        if keys is not None:
            db.execute_sql(spec.log_many_sql, (self.audit_id, name, keys, self.audit_id))
        db.cursor().executemany(spec.upsert_sql, rows)
        if indexed:
            assert self.indexer is not None
            work: list[tuple[str, tuple]] = []
            if keys is not None:
                make, empty, note, unindex, index = spec.search_changed_sql
                work += [
                    (make, ()),
                    (empty, ()),
                    (note, (self.audit_id, name, keys)),
                    (unindex, ()),
                    (index, ()),
                ]
            work.append((spec.search_insert_after_sql, (top or 0,)))
            self.indexer.queue(work)
            if self.index_at_once:
                self.indexer.start()
        if self.pause:
            _pause(self.pause, self.cancel)
            self.pause = None


class _Indexer:
    """Keeps the full-text index in step with the rows an import writes, inside its
    transaction: a run's index statements go to one helper thread on the import's own
    connection, so SQLite indexes a run (in C, without the GIL) while Python prepares the next
    one. The connection is never used by both at once: the engine reaches it only through
    ``_Serial``. A run's work is queued when its rows are written and started once the next
    run's lookup is done (at once into an empty table: there is none), so it runs beside the
    next run's classification; anything else that writes runs it first, in order. ``close``
    (always called, also when the import fails or is cancelled) waits for the helper, so
    nothing runs when the transaction ends."""

    def __init__(self, db) -> None:
        self._connection = db.connection()  # this thread's: the one holding the transaction
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="wizard-search-index")
        self._queued: list[tuple[str, tuple]] | None = None
        self._running: Future | None = None

    def _run(self, work: list[tuple[str, tuple]]) -> None:
        for sql, params in work:
            self._connection.execute(sql, params)

    def queue(self, work: list[tuple[str, tuple]]) -> None:
        """The index work of the rows just written; it runs before anything else writes."""
        self.settle()
        self._queued = work

    def start(self) -> None:
        """Run the queued work on the helper thread."""
        work, self._queued = self._queued, None
        if work is not None:
            self._running = self._pool.submit(self._run, work)

    def wait(self) -> None:
        """Wait until the helper is done; raises what its statements raised."""
        running, self._running = self._running, None
        if running is not None:
            running.result()

    def settle(self) -> None:
        """Nothing left to do: the helper done, the queued work run here."""
        self.wait()
        work, self._queued = self._queued, None
        if work is not None:
            self._run(work)

    def close(self, quiet: bool = False) -> None:
        """Finish and let the helper go; ``quiet``: another error is on its way already (the
        transaction rolls back), so queued work is dropped and what the helper raised too."""
        try:
            if quiet:
                self._queued = None
            self.settle()
        except Exception:
            if not quiet:
                raise
        finally:
            self._pool.shutdown(wait=True)


class _Serial:
    """The store's database as the engine uses it: while an ``_Indexer`` works, a statement
    that may write first lets it finish (``execute_sql``, ``cursor``); one that only reads
    the record tables waits only for the helper (``read_sql``: queued index work may follow
    it)."""

    def __init__(self, db, indexer: _Indexer | None) -> None:
        self._db = db
        self._indexer = indexer

    def execute_sql(self, *args: Any, **kwargs: Any) -> Any:
        if self._indexer is not None:
            self._indexer.settle()
        return self._db.execute_sql(*args, **kwargs)

    def read_sql(self, *args: Any, **kwargs: Any) -> Any:
        if self._indexer is not None:
            self._indexer.wait()
        return self._db.execute_sql(*args, **kwargs)

    def cursor(self) -> Any:
        if self._indexer is not None:
            self._indexer.settle()
        return self._db.cursor()


# Versions before this one stored records in json's text, which differs from orjson's for
# floats below 1e-4 (wizard.core.fastjson).
ORJSON_TEXT_VERSION = (0, 3, 0)


def _has_legacy_text(db) -> bool:
    """Whether an import by a version before ORJSON_TEXT_VERSION wrote to this store (when
    the history cannot be read, it may have: the records are compared in both forms)."""
    try:
        rows = db.execute_sql(
            "SELECT DISTINCT app_version FROM audit_log WHERE operation = ? AND outcome = ?",
            (str(Operation.IMPORT), str(Outcome.SUCCEEDED)),
        ).fetchall()
    except DatabaseError:  # a damaged audit log: the record tables may still be intact
        return True
    for (app_version,) in rows:
        version = version_numbers(app_version or "")
        if version is None or version < ORJSON_TEXT_VERSION:
            return True
    return False


_KEPT = "temp.wizard_replace_kept"
_KEYS_JSON = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Classifier:
    """The classification of one collection's records, a run at a time."""

    def __init__(
        self,
        engine: _Engine,
        name: str,
        spec: TableSpec,
        memory_keys: set[str] | None,
    ) -> None:
        self.name = name
        self.plan = engine._plan(name)
        self.only_memories = memory_keys if name == "accessLogs" else None
        self.fmt, self.writing, self.audit_id = engine.format_id, engine.writing, engine.audit_id
        self.merge_like = engine.strategy.overwrites
        self.legacy_text = engine.legacy_text  # records may be stored in json's form
        self.key_field = collection(name).key
        self.build = spec.row_builder
        self.salted = name == "observations"  # an observation's hash includes its bucket
        self.rows: list[tuple] = []  # rows to write
        self.logs: list[str] = []  # keys whose previous versions are kept (for revert)
        self.kept: list[tuple[str]] = []  # keys the import holds (what a replace keeps)

    def keys(self, group: list) -> list[str | None]:
        """The key of each record of a run (None: no usable key)."""
        key_field, name = self.key_field, self.name
        keys: list[str | None] = []
        for rec in group:
            key = rec.get(key_field) if rec.__class__ is dict else None
            if key.__class__ is not str or not key:
                key = _key(name, rec)
            keys.append(key)
        return keys

    def serialized(
        self, rec: dict, salt: bytes | None, owned: bool = False
    ) -> tuple[dict, str, bytes, bytes]:
        """The record as stored (origin stamped; in place when the run ``owned`` it: decoded
        from a spool for this run only), its JSON text and UTF-8 bytes, and its content hash
        (``salt``: an observation's bucket)."""
        stamped = stamp_origin(self.name, rec, self.fmt, in_place=owned)
        text, data = dumps_utf8(stamped)  # a lone surrogate comes escaped: valid UTF-8
        h = blake2b(data, digest_size=16)
        if salt is not None:
            h.update(salt)
        return stamped, text, data, h.digest()

    def digest(self, data: bytes, bucket: str | None) -> bytes:
        return content_hash(data, bucket if self.salted else None)

    def same_as_before(self, stamped: dict, data: bytes, bucket: str | None, old: bytes) -> bool:
        """Whether a record whose hash differs from the store's is the same record written by
        an earlier version in ``json``'s form (a float below 1e-4)."""
        return (
            self.legacy_text
            and maybe_json_differs(data)
            and self.digest(json_utf8(stamped), bucket) == old
        )

    def classify(
        self,
        bucket: str | None,
        group: list,
        keys: list[str | None],
        existing: dict[str, bytes],
        owned: bool = False,
    ) -> None:
        """Classify a run of records (one bucket's, for observations) against the store's
        (key, hash) pairs of the same keys. ``owned``: the run's records were decoded for it
        alone (from a spool), so they may be stamped in place."""
        # This loop runs once per record (600k at agentmemory's caps): names are bound locally
        # and building the row is inlined.
        name, plan, only_memories = self.name, self.plan, self.only_memories
        writing, audit_id, merge_like = self.writing, self.audit_id, self.merge_like
        build, serialized = self.build, self.serialized
        rows, logs, kept = self.rows, self.logs, self.kept
        get = existing.get
        salt = _bucket_salt(bucket) if self.salted else None
        for rec, key in zip(group, keys):  # noqa: B905 - same length by construction
            if key is None or (only_memories is not None and key not in only_memories):
                plan.skipped += 1
                continue
            old = get(key)
            if old is not None and not merge_like:  # skip: the store has it
                plan.skipped += 1
                continue
            kept.append((key,))
            if old is None and not writing:
                plan.inserted += 1  # a dry run does not hash what it would simply insert
                continue
            stamped, text, data, digest = serialized(rec, salt, owned)
            if old is None:
                plan.inserted += 1
                rows.append(build(name, key, stamped, bucket, digest, text, audit_id))
            elif old == digest or self.same_as_before(stamped, data, bucket, old):
                plan.unchanged += 1
            else:
                plan.updated += 1
                if writing:
                    logs.append(key)
                    rows.append(build(name, key, stamped, bucket, digest, text, audit_id))


def _secondary_indexes(db, table: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of a table's non-unique indexes (unique ones serve upserts)."""
    rows = db.execute_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
        "AND sql IS NOT NULL",
        (table,),
    ).fetchall()
    return [(name, sql) for name, sql in rows if not sql.upper().startswith("CREATE UNIQUE")]


def _key(name: str, rec: Any) -> str | None:
    return record_key(name, rec) if isinstance(rec, dict) else None


def _pause(prefix: str, cancel: CancelFn | None) -> None:
    """The test hook: announce the pause, then wait for the resume file (or cancel)."""
    Path(prefix + ".paused").write_text(str(os.getpid()))
    resume = Path(prefix + ".resume")
    deadline = time.monotonic() + PAUSE_LIMIT_S
    while not resume.exists() and time.monotonic() < deadline:
        if cancel is not None and cancel():
            return
        time.sleep(0.01)


def _data_and_format(
    data: dict | Inspection, format_id: str | None
) -> tuple[dict, str | None, bool]:
    """The records, their format, and whether their keys are known to be unique."""
    if isinstance(data, Inspection):
        return data.data or {}, format_id or data.format, data.unique_keys
    return data, format_id, False


def plan_steps(
    store: Store,
    data: dict | Inspection,
    strategy: Strategy,
    cancel: CancelFn | None = None,
    *,
    format_id: str | None = None,
) -> Generator[Progress, None, Plan]:
    """Dry run: what an import would do, per collection, without writing. Raises Cancelled.

    ``data`` is the canonical dict or the Inspection; pass the Inspection (or ``format_id``) so
    the origin stamped on records without one is accounted for, as the import does.
    """
    strategy = Strategy(strategy)
    payload, fmt, unique = _data_and_format(data, format_id)
    with store.errors():
        engine = _Engine(store, payload, strategy, fmt, unique=unique)
    with paused_gc(), store.errors(), store.database.atomic():
        plans = yield from engine.run(cancel)
    yield Progress(Phase.DONE, None, 1, 1)
    return Plan(strategy, plans)


def plan(
    store: Store, data: dict | Inspection, strategy: Strategy, *, format_id: str | None = None
) -> Plan:
    """``plan_steps`` run to the end."""
    return drive(plan_steps(store, data, strategy, format_id=format_id))


class ImportWrite:
    """One import's transaction: its audit entry, the records, the commit.

    ``plans`` says how far it got (also after a failure); ``audit_id`` is the entry written
    inside the transaction (gone again if it rolled back); ``committed`` turns true once the
    commit has returned.
    """

    def __init__(
        self,
        store: Store,
        data: dict,
        strategy: Strategy,
        format_id: str | None,
        *,
        unique: bool = False,
    ) -> None:
        self.store = store
        self.data = data
        self.unique = unique  # keys known unique per collection (preflight checked them)
        self.strategy = Strategy(strategy)
        self.format_id = format_id
        self.plans = empty_plans()
        self.audit_id: int | None = None
        self.committed = False

    def steps(
        self,
        entry: dict[str, Any],
        attempt: dict[str, Any],
        finish: Callable[[dict[str, CollectionPlan]], dict[str, Any]],
        cancel: CancelFn | None = None,
    ) -> Generator[Progress, None, dict[str, CollectionPlan]]:
        """Write everything in one transaction with the audit entry ``entry``; ``finish(plans)``
        gives the entry's final fields, written just before the commit. While the transaction
        is open, the lock-info file beside the store carries ``attempt`` (the entry the next
        opener records if this process dies). Raises Cancelled, StoreError, or whatever went
        wrong; everything is rolled back then."""
        store = self.store
        db = store.database
        with store.errors():  # before the transaction (see _Engine)
            engine = _Engine(store, self.data, self.strategy, self.format_id, unique=self.unique)
        with paused_gc(), store.errors(), store.write_transaction(attempt):
            self.audit_id = write_entry(db, entry)
            engine.write_as(self.audit_id)
            self.plans = engine.plans
            plans = yield from engine.run(cancel)
            yield Progress(Phase.COMMIT, None, 0, 1)  # the commit is one long step
            finish_entry(db, self.audit_id, **finish(plans))
        self.committed = True
        yield Progress(Phase.DONE, None, 1, 1)
        return plans
