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
from dataclasses import dataclass, field
from hashlib import blake2b
from pathlib import Path
from typing import Any

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
from wizard.core.inspection import Inspection
from wizard.core.names import Phase, Strategy
from wizard.core.problems import Cancelled
from wizard.core.steps import drive
from wizard.store.database import Store
from wizard.store.entries import finish_entry, write_entry
from wizard.store.models import ALL_SPECS, OTHER_SPEC, SPECS, TableSpec, spec_for

STAT_NAMES = ("sessions", "observations", "memories", "summaries", "skipped")
# Records per chunk (one executemany, one progress report, one cancel check): whole runs are
# added up to at least this many, so a chunk holds fewer than twice as many.
CHUNK_ROWS = 2000
DEFER_INDEXES_FROM = 10_000  # records: below this, index builds are not worth deferring
PAUSE_ENV = "AGENTMEMORY_WIZARD_TEST_PAUSE_AFTER_CHUNK"
PAUSE_LIMIT_S = 60.0

CancelFn = Callable[[], bool]
_SKIPPED = b""  # marks a key the skip strategy left alone (a real digest is never empty)


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


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# For the rare record holding a lone surrogate ("\ud800"): escaped, it is valid UTF-8 text.
_ASCII_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))
_UNHASHED = b"?"  # a dry run does not hash records it would simply insert


def _bucket_salt(bucket: str | None) -> bytes:
    return b"\x00" + (bucket or "").encode("utf-8")


def content_hash(text: str, bucket: str | None = None) -> bytes:
    """16-byte digest of what a row holds (an observation's bucket included)."""
    h = blake2b(text.encode("utf-8"), digest_size=16)
    if bucket is not None:
        h.update(_bucket_salt(bucket))
    return h.digest()


def _iter_pairs(data: dict, name: str) -> Iterator[tuple[str | None, Any]]:
    """(bucket, record) for every record of a collection; bucket only for observations."""
    for bucket, group in _iter_groups(data, name):
        for rec in group:
            yield bucket, rec


def _iter_groups(data: dict, name: str) -> Iterator[tuple[str | None, list]]:
    """The records of a collection in runs of at most CHUNK_ROWS: (bucket, records), bucket
    only for observations, whose runs never span two buckets."""
    runs: Iterable[tuple[str | None, Any]]
    if name == "observations":
        value = data.get("observations")
        runs = value.items() if isinstance(value, dict) else ()
    else:
        runs = [(None, data.get(name))]
    for bucket, items in runs:
        if not isinstance(items, list):
            continue
        if len(items) <= CHUNK_ROWS:
            yield bucket, items
        else:
            for start in range(0, len(items), CHUNK_ROWS):
                yield bucket, items[start : start + CHUNK_ROWS]


def _all_present(group: list, key_field: str, existing: dict[str, bytes]) -> bool:
    """Whether every record of a run is an object whose key the store already has."""
    try:
        return all(map(existing.__contains__, [rec.get(key_field) for rec in group]))
    except (AttributeError, TypeError):  # not an object, or an unhashable key: look closer
        return False


class _Engine:
    """Classifies every record against the store and (when writing) writes it."""

    def __init__(
        self,
        store: Store,
        data: dict,
        strategy: Strategy,
        format_id: str | None,
        audit_id: int | None = None,
    ) -> None:
        self.store = store
        self.data = data
        self.strategy = strategy
        self.format_id = format_id
        self.audit_id = audit_id  # None: dry run
        self.writing = audit_id is not None
        self.plans = empty_plans()
        self.pause = os.environ.get(PAUSE_ENV) if self.writing else None

    def _plan(self, name: str) -> CollectionPlan:
        return self.plans.setdefault(name, CollectionPlan())

    def run(self, cancel: CancelFn | None) -> Generator[Progress, None, dict[str, CollectionPlan]]:
        self.cancel = cancel
        db = self.store.database
        if self.strategy.deletes_all:
            yield from self._delete_all()
        names = collection_names(self.data)
        memory_keys: set[str] | None = None
        if "accessLogs" in names:
            memory_keys = {
                k for _, m in _iter_pairs(self.data, "memories") if (k := _key("memories", m))
            }
        for name in names:
            yield from self._collection(db, name, memory_keys)
        return self.plans

    def _check_cancel(self) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled("import cancelled")

    def _delete_all(self) -> Generator[Progress, None, None]:
        db = self.store.database
        counts: list[tuple[str, TableSpec, int]] = []
        for name, spec in SPECS.items():
            n = db.execute_sql(f'SELECT count(*) FROM "{spec.table}"').fetchone()[0]
            counts.append((name, spec, n))
        others = db.execute_sql(
            f'SELECT collection, count(*) FROM "{OTHER_SPEC.table}" GROUP BY collection'
        ).fetchall()
        others.sort(key=lambda r: order_key(r[0]))
        for name, n in others:
            counts.append((name, OTHER_SPEC, n))
        total = len(ALL_SPECS)
        for name, _spec, n in counts:
            if n:
                self._plan(name).deleted = n
        if not self.writing:
            return
        for i, spec in enumerate(ALL_SPECS, 1):
            params = (self.audit_id,) if spec.generic else (self.audit_id, _name_of(spec))
            db.execute_sql(spec.log_all_sql, params)
            db.execute_sql(f'DELETE FROM "{spec.table}"')
            yield Progress(Phase.DELETE, _name_of(spec), i, total)
            self._check_cancel()

    def _load_state(self, db, spec: TableSpec, name: str) -> dict[str, bytes]:
        if self.strategy.deletes_all:
            return {}
        params = (name,) if spec.generic else ()
        # skip only asks whether a key is there; merge compares content hashes
        sql = spec.state_sql if self.strategy.overwrites else spec.keys_sql
        cur = db.execute_sql(sql, params)
        state: dict[str, bytes] = {}
        while rows := cur.fetchmany(10000):
            state.update(rows)
        return state

    def _collection(
        self, db, name: str, memory_keys: set[str] | None
    ) -> Generator[Progress, None, None]:
        spec = spec_for(name)
        total = count_records(self.data, name)
        yield Progress(Phase.READ_STORE, name, 0, total)
        existing = self._load_state(db, spec, name)
        self._check_cancel()
        chunks = self._classify(name, spec, existing, memory_keys)
        if not self.writing:
            for _logs, _rows, done in chunks:
                yield Progress(Phase.PLAN, name, done, total)
                self._check_cancel()
            return
        # Into an empty table, build the secondary indexes once at the end (a sort) instead of
        # row by row; the DROP and CREATE are part of the import's transaction.
        deferred = []
        if not spec.generic and not existing and total >= DEFER_INDEXES_FROM:
            deferred = _secondary_indexes(db, spec.table)
            for index, _sql in deferred:
                db.execute_sql(f'DROP INDEX "{index}"')
        # (Serializing on a helper thread while this one writes was tried: the GIL hand-over
        # between the two cost as much as the overlap gained.)
        for logs, rows, done in chunks:
            self._flush(db, spec, logs, rows)
            yield Progress(Phase.WRITE, name, done, total)
            self._check_cancel()
        for i, (_index, sql) in enumerate(deferred):
            yield Progress(Phase.INDEX, name, i, len(deferred))
            db.execute_sql(sql)

    def _classify(
        self, name: str, spec: TableSpec, existing: dict[str, bytes], memory_keys: set[str] | None
    ) -> Iterator[tuple[list[tuple], list[tuple], int]]:
        """Classify (and, when writing, serialize) every record of one collection against the
        store's (key, hash) pairs; yields (change-log params, rows, records done) about every
        CHUNK_ROWS records."""
        classifier = _Classifier(self, name, spec, existing, memory_keys)
        key_field = classifier.key_field
        # skip, when the store already has every record of a run (a repeated import): count
        # them, nothing more to look at
        quick = not self.strategy.overwrites and classifier.only_memories is None
        done = 0
        next_report = CHUNK_ROWS
        for bucket, group in _iter_groups(self.data, name):
            if quick and _all_present(group, key_field, existing):
                classifier.plan.skipped += len(group)
            else:
                classifier.classify(bucket, group)
            done += len(group)
            if done >= next_report:
                next_report = done + CHUNK_ROWS
                yield classifier.logs, classifier.rows, done
                classifier.logs, classifier.rows = [], []
        yield classifier.logs, classifier.rows, done

    def _flush(self, db, spec: TableSpec, logs: list[tuple], rows: list[tuple]) -> None:
        if not rows:
            return
        cur = db.cursor()
        if logs:
            cur.executemany(spec.log_one_sql, logs)
        cur.executemany(spec.upsert_sql, rows)
        if self.pause:
            _pause(self.pause, self.cancel)
            self.pause = None


class _Classifier:
    """The classification of one collection's records, a run at a time."""

    def __init__(
        self,
        engine: _Engine,
        name: str,
        spec: TableSpec,
        existing: dict[str, bytes],
        memory_keys: set[str] | None,
    ) -> None:
        self.name = name
        self.plan = engine._plan(name)
        self.existing = existing
        self.only_memories = memory_keys if name == "accessLogs" else None
        self.fmt, self.writing, self.audit_id = engine.format_id, engine.writing, engine.audit_id
        self.merge_like = engine.strategy.overwrites
        self.key_field = collection(name).key
        self.build = spec.row_builder
        self.salted = name == "observations"  # an observation's hash includes its bucket
        self.written: dict[str, bytes] = {}  # key -> digest (or a marker) of this import
        self.unchanged: set[str] = set()
        self.rows: list[tuple] = []  # rows to write
        self.logs: list[tuple] = []  # change-log parameters (previous versions to keep)

    def serialized(self, rec: dict, bucket: str | None) -> tuple[dict, str, bytes]:
        """The record as stored (origin stamped), its JSON text and its content hash."""
        stamped = stamp_origin(self.name, rec, self.fmt)
        text = _ENCODER.encode(stamped)
        salt_bucket = bucket if self.salted else None
        try:
            return stamped, text, content_hash(text, salt_bucket)
        except UnicodeEncodeError:  # a lone surrogate (JavaScript allows them): escape it
            text = _ASCII_ENCODER.encode(stamped)
            return stamped, text, content_hash(text, salt_bucket)

    def classify(self, bucket: str | None, group: list) -> None:
        """Classify a run of records (one bucket's, for observations)."""
        # This loop runs once per record (600k at agentmemory's caps): names are bound locally
        # and building the row is inlined.
        name, plan, written, unchanged = self.name, self.plan, self.written, self.unchanged
        existing, pop, only_memories = self.existing, self.existing.pop, self.only_memories
        writing, audit_id, merge_like = self.writing, self.audit_id, self.merge_like
        skip_existing = not merge_like
        key_field, build, serialized = self.key_field, self.build, self.serialized
        rows, logs = self.rows, self.logs
        for rec in group:
            key = rec.get(key_field) if rec.__class__ is dict else None
            if key.__class__ is not str or not key:
                key = _key(name, rec)
            if (
                key is None
                or (only_memories is not None and key not in only_memories)
                or (skip_existing and key in existing)  # skip: the store has it
            ):
                plan.skipped += 1
            elif key in written:  # the same key again in this import: the last one wins
                prev = written[key]
                if prev is not _SKIPPED and (writing or key in unchanged):
                    stamped, text, digest = serialized(rec, bucket)
                    if digest != prev:
                        written[key] = digest
                        if key in unchanged:
                            unchanged.discard(key)
                            plan.unchanged -= 1
                            plan.updated += 1
                        if writing:
                            logs.append((audit_id, name, key, audit_id))
                            rows.append(build(name, key, stamped, bucket, digest, text, audit_id))
            else:
                old = pop(key, None)
                if old is not None and not merge_like:
                    plan.skipped += 1
                    written[key] = _SKIPPED
                elif old is None and not writing:
                    plan.inserted += 1
                    written[key] = _UNHASHED
                else:
                    stamped, text, digest = serialized(rec, bucket)
                    written[key] = digest
                    if old is None:
                        plan.inserted += 1
                        rows.append(build(name, key, stamped, bucket, digest, text, audit_id))
                    elif old == digest:
                        plan.unchanged += 1
                        unchanged.add(key)
                    else:
                        plan.updated += 1
                        if writing:
                            logs.append((audit_id, name, key, audit_id))
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


def _name_of(spec: TableSpec) -> str:
    for name, s in SPECS.items():
        if s is spec:
            return name
    return "other"


def _pause(prefix: str, cancel: CancelFn | None) -> None:
    """The test hook: announce the pause, then wait for the resume file (or cancel)."""
    Path(prefix + ".paused").write_text(str(os.getpid()))
    resume = Path(prefix + ".resume")
    deadline = time.monotonic() + PAUSE_LIMIT_S
    while not resume.exists() and time.monotonic() < deadline:
        if cancel is not None and cancel():
            return
        time.sleep(0.01)


def _data_and_format(data: dict | Inspection, format_id: str | None) -> tuple[dict, str | None]:
    if isinstance(data, Inspection):
        return data.data or {}, format_id or data.format
    return data, format_id


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
    payload, fmt = _data_and_format(data, format_id)
    engine = _Engine(store, payload, strategy, fmt)
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

    def __init__(self, store: Store, data: dict, strategy: Strategy, format_id: str | None):
        self.store = store
        self.data = data
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
        with paused_gc(), store.errors(), store.write_transaction(attempt):
            self.audit_id = write_entry(db, entry)
            engine = _Engine(store, self.data, self.strategy, self.format_id, self.audit_id)
            self.plans = engine.plans
            plans = yield from engine.run(cancel)
            yield Progress(Phase.COMMIT, None, 0, 1)  # the commit is one long step
            finish_entry(db, self.audit_id, **finish(plans))
        self.committed = True
        yield Progress(Phase.DONE, None, 1, 1)
        return plans
