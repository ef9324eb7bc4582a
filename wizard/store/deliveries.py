"""The store's side of a delivery to a running agentmemory (docs/DELIVERY.md): the records to
send, streamed in owner groups; the record of every delivery and its chunks (for resuming); and
the read-back comparison. Which chunks are sent, retried or trusted is the delivery run's
decision (``wizard.runs.delivering``).

Everything here streams: records come out of SQLite a batch at a time, grouped by merge joins
over key-ordered cursors, and read-back keys go into a temporary table, never a Python set.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peewee import SqliteDatabase

from wizard.core.canonical import now_iso
from wizard.core.chunking import Item, item
from wizard.core.names import Operation, Outcome
from wizard.store.database import Store, store_errors
from wizard.store.models import OTHER_SPEC, SPECS, AuditEntry, DeliveryChunkRow, DeliveryRow

_FETCH = 2000
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_ASCII_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))
MISSING_LISTED = 1000  # missing keys listed per collection (all are counted)


class ChunkState:
    PENDING = "pending"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True)
class Scope:
    """What a delivery sends: the whole store, or the records whose current version one
    import wrote (``audit_id``)."""

    audit_id: int | None = None

    def __str__(self) -> str:
        return "store" if self.audit_id is None else f"import:{self.audit_id}"


def fingerprint(store: Store) -> str:
    """What the store holds, in a word: its newest data-changing audit entry and its counts.
    A delivery resumes only while this is unchanged."""
    db = store.database
    with store.errors():
        last = (
            AuditEntry.select(AuditEntry.id)
            .where(
                AuditEntry.operation.in_([str(Operation.IMPORT), str(Operation.REVERT)])
                & (AuditEntry.outcome == str(Outcome.SUCCEEDED))
            )
            .order_by(AuditEntry.id.desc())
            .limit(1)
            .scalar(db)
        )
        counts = store.counts()
    return json.dumps({"last": last, "counts": counts}, sort_keys=True)


# -- the records, in owner groups -------------------------------------------------------------
Row = tuple[Any, ...]


def _rows(con: sqlite3.Connection, sql: str, params: tuple = ()) -> Iterator[Row]:
    cur = con.execute(sql, params)
    while rows := cur.fetchmany(_FETCH):
        yield from rows


def _is_source_copy(value: object) -> bool:
    """Whether ``value`` is the wizard's copy of a source record (docs/MAPPING.md):
    ``{"system": ..., "format": ..., "raw": ...}``."""
    return isinstance(value, dict) and "system" in value and "format" in value


def _text(text: str, with_source: bool) -> str:
    """The record as sent: the wizard's verbatim ``source`` copy stays home unless asked."""
    if with_source or '"source"' not in text:
        return text
    record = json.loads(text)
    if not isinstance(record, dict) or not _is_source_copy(record.get("source")):
        return text  # (a record's own "source", an edge's end for one, always goes)
    del record["source"]
    out = _ENCODER.encode(record)
    try:
        out.encode("utf-8")
    except UnicodeEncodeError:
        return _ASCII_ENCODER.encode(record)
    return out


_DATA = "data, length(CAST(data AS BLOB))"  # the stored JSON and its UTF-8 length


def _item(
    collection: str,
    key: str,
    row_text: str,
    nbytes: int,
    with_source: bool,
    bucket: str | None = None,
) -> Item:
    """An Item of a stored record; its size from SQLite unless the text was changed."""
    text = _text(row_text, with_source)
    return item(collection, key, text, bucket, nbytes if text is row_text else -1)


def _where(scope: Scope, prefix: str = "") -> tuple[str, tuple]:
    if scope.audit_id is None:
        return "", ()
    return f" {prefix} last_audit = ?", (scope.audit_id,)


class _Cursor:
    """A key-ordered cursor with its current row (None once done), for merge joins."""

    def __init__(self, rows: Iterator[Row]) -> None:
        self._rows = rows
        self.row: Row | None = next(rows, None)

    def key(self) -> Any:
        return None if self.row is None else self.row[0]

    def take(self) -> Row:
        row = self.row
        assert row is not None
        self.row = next(self._rows, None)
        return row


def _session_groups(
    con: sqlite3.Connection, scope: Scope, with_source: bool
) -> Iterator[list[Item]]:
    """A session with its observations (its bucket) and its summary; buckets and summaries
    without a session record come as groups of their own. A merge join over three cursors
    ordered by the session id."""
    where, params = _where(scope, "WHERE")
    sessions = _Cursor(_rows(con, f'SELECT id, {_DATA} FROM "sessions"{where} ORDER BY id', params))
    observations = _Cursor(
        _rows(
            con,
            f'SELECT bucket, id, {_DATA} FROM "observations"{where} ORDER BY bucket, rowid',
            params,
        )
    )
    summaries = _Cursor(
        _rows(
            con, f'SELECT session_id, {_DATA} FROM "summaries"{where} ORDER BY session_id', params
        )
    )
    cursors = (sessions, observations, summaries)
    while any(c.row is not None for c in cursors):
        key = min(c.key() for c in cursors if c.row is not None)
        group: list[Item] = []
        if sessions.key() == key:
            _key, text, nbytes = sessions.take()
            group.append(_item("sessions", key, text, nbytes, with_source))
        while observations.row is not None and observations.key() == key:
            _bucket, oid, text, nbytes = observations.take()
            group.append(_item("observations", oid, text, nbytes, with_source, key))
        if summaries.key() == key:
            _key, text, nbytes = summaries.take()
            group.append(_item("summaries", key, text, nbytes, with_source))
        yield group


def _memory_groups(
    con: sqlite3.Connection, scope: Scope, with_source: bool
) -> Iterator[list[Item]]:
    """A memory with its access log (which must travel in the same request). In the scope of
    one import, a pair is in scope when either half is: a log that import rewrote goes with
    its memory even when the memory itself was unchanged, and the other way round."""
    logs_table = f'"{OTHER_SPEC.table}"'
    params: tuple[int, ...] = ()
    if scope.audit_id is None:
        mem_where, log_where = "", ""
    else:
        mem_where = (
            " WHERE last_audit = ? OR id IN (SELECT key FROM "
            f"{logs_table} WHERE collection = 'accessLogs' AND last_audit = ?)"
        )
        log_where = (
            ' AND (last_audit = ? OR key IN (SELECT id FROM "memories" WHERE last_audit = ?))'
        )
        params = (scope.audit_id, scope.audit_id)
    memories = _Cursor(
        _rows(con, f'SELECT id, {_DATA} FROM "memories"{mem_where} ORDER BY id', params)
    )
    logs = _Cursor(
        _rows(
            con,
            f"SELECT key, {_DATA} FROM {logs_table} WHERE collection = 'accessLogs'{log_where}"
            " ORDER BY key",
            params,
        )
    )
    while memories.row is not None or logs.row is not None:
        key = min(c.key() for c in (memories, logs) if c.row is not None)
        group: list[Item] = []
        if memories.key() == key:
            _key, text, nbytes = memories.take()
            group.append(_item("memories", key, text, nbytes, with_source))
        if logs.key() == key:
            _key, text, nbytes = logs.take()
            group.append(_item("accessLogs", key, text, nbytes, with_source))
        yield group


def _single_groups(
    con: sqlite3.Connection, scope: Scope, with_source: bool
) -> Iterator[list[Item]]:
    """Every other record on its own: profiles, graph, and the other collections."""
    for name in ("profiles", "graphNodes", "graphEdges"):
        spec = SPECS[name]
        where, params = _where(scope, "WHERE")
        sql = f'SELECT "{spec.key_column}", {_DATA} FROM "{spec.table}"{where} ORDER BY rowid'
        for key, text, nbytes in _rows(con, sql, params):
            yield [_item(name, key, text, nbytes, with_source)]
    where, params = _where(scope, "AND")
    for collection, key, text, nbytes in _rows(
        con,
        f'SELECT collection, key, {_DATA} FROM "{OTHER_SPEC.table}" WHERE collection != ?{where}'
        " ORDER BY collection, rowid",
        ("accessLogs", *params),
    ):
        yield [_item(collection, key, text, nbytes, with_source)]


def groups(store: Store, scope: Scope, with_source: bool = False) -> Iterator[list[Item]]:
    """The records to deliver, in owner groups, in a stable order (the same store gives the same
    groups). They are read through a read-only connection of their own in one read
    transaction, so the whole delivery sees one state while the delivery records are written
    (and committed) through the store's connection."""
    with store_errors(store.path):
        uri = Path(store.path).resolve().as_uri() + "?mode=ro"  # (a "?" or "#" in the path)
        con = sqlite3.connect(uri, uri=True, isolation_level=None)
    try:
        with store_errors(store.path):
            con.execute("BEGIN")
            yield from _session_groups(con, scope, with_source)
            yield from _memory_groups(con, scope, with_source)
            yield from _single_groups(con, scope, with_source)
    finally:
        con.close()


def scope_is_empty(store: Store, scope: Scope) -> bool:
    """Whether no record is in scope (it stops at the first record found, where scope_bytes
    reads the size of every one)."""
    db = store.database
    where, params = _where(scope, "WHERE")
    with store.errors():
        for spec in (*SPECS.values(), OTHER_SPEC):
            sql = f'SELECT 1 FROM "{spec.table}"{where} LIMIT 1'
            if db.execute_sql(sql, params).fetchone() is not None:
                return False
    return True


def scope_bytes(store: Store, scope: Scope) -> int:
    """About how many bytes of JSON the records in scope are (for progress and time left)."""
    db = store.database
    where, params = _where(scope, "WHERE")
    total = 0
    with store.errors():
        for spec in (*SPECS.values(), OTHER_SPEC):
            sql = f'SELECT sum(length(CAST(data AS BLOB))) FROM "{spec.table}"{where}'
            total += int(db.execute_sql(sql, params).fetchone()[0] or 0)
    return total


# -- the record of a delivery -----------------------------------------------------------------
@dataclass(frozen=True)
class Delivery:
    id: int
    resumed: bool
    replaced: int | None  # an earlier open delivery that the store's changes made stale


def open_delivery(
    store: Store,
    url: str,
    strategy: str,
    scope: Scope,
    with_source: bool,
    version: str,
) -> Delivery:
    """Resume the open delivery of the same target and choices while the store is unchanged;
    else start a new one (closing a stale one)."""
    db = store.database
    mark = fingerprint(store)
    with store.errors(), db.atomic("IMMEDIATE"):
        row = (
            DeliveryRow.select()
            .where(
                (DeliveryRow.url == url)
                & (DeliveryRow.strategy == strategy)
                & (DeliveryRow.scope == str(scope))
                & (DeliveryRow.with_source == int(with_source))
                & (DeliveryRow.state == "open")
            )
            .order_by(DeliveryRow.id.desc())
            .first(db)
        )
        stale = None
        if row is not None:
            if row.fingerprint == mark and row.declared_version == version:
                return Delivery(int(row.id), True, None)
            stale = int(row.id)
            DeliveryRow.update(state="stale").where(DeliveryRow.id == stale).execute(db)
        new_id = DeliveryRow.insert(
            created_at=now_iso(),
            url=url,
            strategy=strategy,
            scope=str(scope),
            with_source=int(with_source),
            fingerprint=mark,
            declared_version=version,
            state="open",
        ).execute(db)
    return Delivery(int(new_id), False, stale)


def chunk_states(store: Store, delivery_id: int) -> dict[int, tuple[str, str]]:
    """number -> (hash, state) of a delivery's recorded chunks."""
    with store.errors():
        return {
            int(r.number): (r.hash, r.state)
            for r in DeliveryChunkRow.select()
            .where(DeliveryChunkRow.delivery_id == delivery_id)
            .execute(store.database)
        }


def record_chunk(
    store: Store,
    delivery_id: int,
    number: int,
    digest: str,
    keys: dict[str, list[str]],
    counts: dict[str, int],
    size: int,
) -> None:
    """Record a chunk as pending before it is sent (its keys say what it carries)."""
    db = store.database
    with store.errors(), db.atomic("IMMEDIATE"):
        DeliveryChunkRow.insert(
            delivery_id=delivery_id,
            number=number,
            hash=digest,
            keys=json.dumps(keys, ensure_ascii=False),
            counts=json.dumps(counts),
            bytes=size,
            state=ChunkState.PENDING,
            answer=None,
        ).on_conflict_replace().execute(db)


def mark_chunk(store: Store, delivery_id: int, number: int, state: str, answer: Any = None) -> None:
    db = store.database
    with store.errors(), db.atomic("IMMEDIATE"):
        DeliveryChunkRow.update(
            state=state, answer=None if answer is None else json.dumps(answer, ensure_ascii=False)
        ).where(
            (DeliveryChunkRow.delivery_id == delivery_id) & (DeliveryChunkRow.number == number)
        ).execute(db)


def close_delivery(store: Store, delivery_id: int) -> None:
    """The delivery is complete: it is not resumed again."""
    db = store.database
    with store.errors(), db.atomic("IMMEDIATE"):
        DeliveryRow.update(state="done").where(DeliveryRow.id == delivery_id).execute(db)


# -- reading back ------------------------------------------------------------------------------
def missing_keys(
    store: Store, scope: Scope, found: Iterable[tuple[str, str]]
) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Keys in scope that the server did not give back: (count per collection, the first
    MISSING_LISTED keys per collection). ``found`` (collection, key) pairs are streamed into
    a temporary table."""
    db = store.database
    counts: dict[str, int] = {}
    listed: dict[str, list[str]] = {}
    with store.errors():
        db.execute_sql("DROP TABLE IF EXISTS temp.readback")
        db.execute_sql(
            "CREATE TEMP TABLE readback (collection TEXT NOT NULL, key TEXT NOT NULL,"
            " PRIMARY KEY (collection, key)) WITHOUT ROWID"
        )
        try:
            batch: list[tuple[str, str]] = []
            for pair in found:
                batch.append(pair)
                if len(batch) >= _FETCH:
                    _insert(db, batch)
                    batch = []
            _insert(db, batch)
            where, params = _where(scope, "AND")
            for name, spec in SPECS.items():
                sql = (
                    f'SELECT t."{spec.key_column}" FROM "{spec.table}" t WHERE NOT EXISTS'
                    " (SELECT 1 FROM temp.readback r WHERE r.collection = ? AND"
                    f' r.key = t."{spec.key_column}"){where.replace("last_audit", "t.last_audit")}'
                )
                _collect(db, sql, (name, *params), name, counts, listed)
            sql = (
                f'SELECT t.collection, t.key FROM "{OTHER_SPEC.table}" t WHERE NOT EXISTS'
                " (SELECT 1 FROM temp.readback r WHERE r.collection = t.collection AND"
                f" r.key = t.key){where.replace('last_audit', 't.last_audit')}"
            )
            for collection, key in db.execute_sql(sql, params):
                counts[collection] = counts.get(collection, 0) + 1
                if len(listed.setdefault(collection, [])) < MISSING_LISTED:
                    listed[collection].append(key)
        finally:
            db.execute_sql("DROP TABLE IF EXISTS temp.readback")
    return counts, listed


def _insert(db: SqliteDatabase, batch: list[tuple[str, str]]) -> None:
    if batch:
        with db.atomic():
            db.cursor().executemany("INSERT OR IGNORE INTO temp.readback VALUES (?, ?)", batch)


def _collect(
    db: SqliteDatabase,
    sql: str,
    params: tuple,
    name: str,
    counts: dict[str, int],
    listed: dict[str, list[str]],
) -> None:
    for (key,) in db.execute_sql(sql, params):
        counts[name] = counts.get(name, 0) + 1
        if len(listed.setdefault(name, [])) < MISSING_LISTED:
            listed[name].append(key)
