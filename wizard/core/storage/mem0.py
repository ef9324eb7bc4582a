"""mem0's own storage: ``history.db``, a Qdrant local folder, both together (an install), and
the TypeScript SDK's ``vector_store.db`` / ``memory.db`` (docs/SOURCES.md).

Each read gives the adapter (``wizard.core.adapters.mem0``) plain rows:

- ``mem0-history-db``: ``{"history": [row...], "messages": [row...]}``, every column of the
  ``history`` table by name (all three schema generations keep their own column names, which
  the history converter already reads) in insertion order, and the v2 ``messages`` table;
- ``mem0-qdrant-local``: ``{"collections": {name: [item...]}, "entities": n, "other": n,
  "vectors": n}``, each point as the item mem0's ``get_all`` returns for it (``id``, ``memory``,
  ``hash``, ``metadata``, the promoted keys), so that a memory read here is the same record as
  the same memory in a ``get_all`` export;
- ``mem0-install``: ``{"history": ..., "messages": ..., "collections": ..., ...}``, both;
- ``mem0-ts-local``: ``{"vectors": [item...]}`` or ``{"history": [row...]}``.

Qdrant's rows are pickles. They are read by :class:`_PointUnpickler`, which knows exactly the
classes qdrant-client writes (``PointStruct``, ``SparseVector``) and builds inert stand-ins for
them; any other class, or a point that is not plain data, refuses the file without running
anything.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import pickletools
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from wizard.core.problems import Code, InputRefused
from wizard.core.spool import RecordList
from wizard.core.storage import (
    SQLITE_ERRORS,
    FolderLayout,
    Layout,
    ReadContext,
    SqliteLayout,
    Tables,
    open_untrusted,
    table_columns,
)

QDRANT_MODELS = ("qdrant_client.http.models.models", "qdrant_client.models")
POINT_CLASSES = frozenset({"PointStruct", "SparseVector", "Record"})
POINT_KINDS = frozenset({"PointStruct", "Record"})  # what a row holds (SparseVector: a part)
MAX_POINT_BYTES = 64 * 1024 * 1024
HISTORY_FILE = "history.db"
ENTITY_SUFFIX = "_entities"
TELEMETRY = "mem0migrations"
# mem0 lifts these payload keys onto a get_all item; the rest, but its own bookkeeping, goes to
# the item's metadata (mem0/memory/main.py, promoted_payload_keys)
PROMOTED = ("user_id", "agent_id", "run_id", "actor_id", "role", "attributed_to", "expiration_date")
CORE = frozenset({"data", "hash", "created_at", "updated_at", "id", "text_lemmatized", *PROMOTED})
# the TypeScript SDK writes camelCase
TS_PROMOTED = ("userId", "agentId", "runId", "actorId", "role")
TS_CORE = frozenset(
    {"data", "hash", "createdAt", "updatedAt", "id", "textLemmatized", *TS_PROMOTED}
)


# --- history.db -------------------------------------------------------------------------------


def _is_history(tables: Tables) -> bool:
    cols = tables.get("history")
    if not cols or "memory_id" not in cols:
        return False
    return bool(cols & {"new_memory", "new_value", "prev_value", "old_memory"}) and bool(
        cols & {"event", "action"}
    )


def _rows(conn: sqlite3.Connection, sql: str, ctx: ReadContext) -> RecordList:
    """The rows of a query as objects, kept in the read's spool."""
    cur = conn.execute(sql)
    names = [d[0] for d in cur.description]
    out = ctx.records()
    for row in ctx.fetched(cur):
        out.append(dict(zip(names, map(_plain, row), strict=True)))
    return out


def _plain(value: Any) -> Any:
    """A column value as JSON can hold it (a blob is not text: it is left out)."""
    if isinstance(value, bytes):
        return None
    return value


def read_history(conn: sqlite3.Connection, tables: Tables, ctx: ReadContext) -> dict[str, Any]:
    history = _rows(conn, "SELECT * FROM history ORDER BY rowid", ctx)
    messages: RecordList | list[dict[str, Any]] = []
    cols = tables.get("messages", frozenset())
    if {"session_scope", "content"} <= cols:
        messages = _rows(conn, "SELECT * FROM messages ORDER BY rowid", ctx)
    return {"history": history, "messages": messages}


# --- Qdrant local -----------------------------------------------------------------------------


class _Inert:
    """What a pickled qdrant-client model becomes: its state, nothing else."""

    __slots__ = ("kind", "state")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _inert_class(name: str) -> type:
    def new(cls: type, *args: Any) -> _Inert:
        if args:
            raise pickle.UnpicklingError(f"{name} built with arguments")
        return _Inert(name)

    return type(name, (), {"__new__": new})


class _PointUnpickler(pickle.Unpickler):
    """Unpickles a Qdrant point with an allow-list of exactly the classes qdrant-client
    writes; they become inert stand-ins, so no code of the pickle's choosing ever runs."""

    def find_class(self, module: str, name: str) -> Any:
        if module in QDRANT_MODELS and name in POINT_CLASSES:
            return _inert_class(name)
        if (module, name) == ("builtins", "set"):
            return set
        raise pickle.UnpicklingError(f"it names {module}.{name}")


# Opcodes whose argument says how much memory unpickling takes: bounded before anything loads.
_MEMO_OPS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_NUMBER_OPS = frozenset({"INT", "LONG", "LONG1", "LONG4"})
MAX_INT = 2**63  # numbers a payload may hold (JSON readers and SQLite handle 64-bit integers)
MAX_NODES = 1_000_000  # values in one point's payload


def _refuse(where: str, why: str) -> InputRefused:
    return InputRefused(
        f"not a plain Qdrant point ({why}): the file was refused without running anything in it",
        path=where,
        code=Code.UNSAFE_PICKLE,
    )


def _check_opcodes(blob: bytes, where: str) -> None:
    """Refuse, before loading, a pickle whose arguments would take unbounded memory or time:
    a memo index beyond the pickle's own size (the C unpickler sizes its memo by it) or an
    integer beyond 64 bits."""
    try:
        for op, arg, _pos in pickletools.genops(blob):
            if op.name in _MEMO_OPS and isinstance(arg, int) and arg > len(blob):
                raise _refuse(where, f"a memo index of {arg:,}")
            if op.name in _NUMBER_OPS and isinstance(arg, int) and abs(arg) >= MAX_INT:
                raise _refuse(where, "an integer beyond 64 bits")
            if op.name in _NUMBER_OPS and not isinstance(arg, (int, bool)):
                raise _refuse(where, f"an unreadable number ({op.name})")
    except InputRefused:
        raise
    except Exception as exc:  # pickletools refuses malformed streams: so does the reader
        raise _refuse(where, str(exc)) from None


def unpickle_point(blob: bytes, where: str) -> dict[str, Any]:
    """A point's id, payload and vector count from its pickle, or InputRefused."""
    if not isinstance(blob, bytes) or len(blob) > MAX_POINT_BYTES:
        raise _refuse(where, "not a pickle of a sensible size")
    _check_opcodes(blob, where)
    try:
        obj = _PointUnpickler(io.BytesIO(blob)).load()
    except Exception as exc:  # any unpickling failure refuses the file, by design
        raise _refuse(where, str(exc)) from None
    if not isinstance(obj, _Inert) or obj.kind not in POINT_KINDS:
        raise _refuse(where, "the row is not a point")
    if not isinstance(obj.state, dict):
        raise _refuse(where, "a point without its fields")
    fields = obj.state.get("__dict__", obj.state)
    if not isinstance(fields, dict):
        raise _refuse(where, "a point without its fields")
    pid = fields.get("id")
    payload = fields.get("payload")
    if (
        not isinstance(pid, (str, int))
        or isinstance(pid, bool)
        or (isinstance(pid, int) and abs(pid) >= MAX_INT)
        or not isinstance(payload, dict)
    ):
        raise _refuse(where, "a point without an id or payload")
    vector = fields.get("vector")
    vectors = len(vector) if isinstance(vector, dict) else (1 if vector is not None else 0)
    return {"id": str(pid), "payload": _PlainData(where).value(payload), "vectors": vectors}


class _PlainData:
    """Payload values as plain JSON data; anything else refuses the file. Each list or object
    is visited once: a pickle may share one object many times (its memo), which copied out
    would grow without bound."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.seen: set[int] = set()

    def value(self, value: Any, depth: int = 0) -> Any:
        if depth > 100:
            raise _refuse(self.where, "a payload nested too deeply")
        if value is None or isinstance(value, (str, bool)):
            return value
        if isinstance(value, int):
            if abs(value) >= MAX_INT:
                raise _refuse(self.where, "an integer beyond 64 bits")
            return value
        if isinstance(value, float):
            return value if value == value and abs(value) != float("inf") else None
        if isinstance(value, (list, tuple, set, dict)):
            if id(value) in self.seen:
                raise _refuse(self.where, "a payload that repeats parts of itself")
            self.seen.add(id(value))
            if len(self.seen) > MAX_NODES:
                raise _refuse(self.where, "a payload of more than a million values")
        if isinstance(value, (list, tuple)):
            return [self.value(v, depth + 1) for v in value]
        if isinstance(value, set):
            return sorted((self.value(v, depth + 1) for v in value), key=repr)
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {k: self.value(v, depth + 1) for k, v in value.items()}
        raise _refuse(self.where, f"the payload holds a {type(value).__name__}, not plain data")


def get_all_item(pid: str, payload: dict[str, Any], *, typescript: bool = False) -> dict[str, Any]:
    """The item mem0's ``get_all`` returns for a point. The TypeScript SDK (``typescript``)
    writes the same scope keys (``user_id``...) but its own fields in camelCase
    (``createdAt``, ``textLemmatized``); elsewhere camelCase keys are the user's metadata."""
    core = CORE | TS_CORE if typescript else CORE
    item: dict[str, Any] = {
        "id": pid,
        "memory": payload.get("data", ""),
        "hash": payload.get("hash"),
        "metadata": {k: v for k, v in payload.items() if k not in core} or None,
        "created_at": payload.get("created_at"),
        "updated_at": payload.get("updated_at"),
    }
    if typescript:
        item["created_at"] = payload.get("created_at", payload.get("createdAt"))
        item["updated_at"] = payload.get("updated_at", payload.get("updatedAt"))
    for key in PROMOTED:
        if key in payload:
            item[key] = payload[key]
    if typescript:
        snakes = ("user_id", "agent_id", "run_id", "actor_id", "role")
        for key, snake in zip(TS_PROMOTED, snakes, strict=True):
            if key in payload and snake not in item:
                item[snake] = payload[key]
    return item


def is_entity(payload: dict[str, Any]) -> bool:
    """A point of mem0's entity store (an entity linked to memories), not a memory."""
    return "linkedMemoryIds" in payload or "entityType" in payload or "linked_memory_ids" in payload


def read_points(path: Path, ctx: ReadContext, where: str) -> tuple[RecordList, dict[str, int]]:
    """The get_all items of one collection's ``storage.sqlite`` (a private copy), kept in the
    read's spool, and the count of its other points (``_memories_of``)."""
    try:
        conn = open_untrusted(path, ctx.cancel)
    except SQLITE_ERRORS as exc:
        raise InputRefused(
            f"{where} is not a readable SQLite database: {exc}",
            path=where,
            code=Code.FILE_UNREADABLE,
        ) from None
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "points" not in tables:
            raise InputRefused(
                f"{where} has no points table: not a Qdrant local collection",
                path=where,
                code=Code.UNKNOWN_FORMAT,
            )
        return _memories_of(_points(conn, ctx, where), ctx)
    except SQLITE_ERRORS as exc:
        raise InputRefused(
            f"{where} is a damaged SQLite database: {exc}", path=where, code=Code.FILE_UNREADABLE
        ) from None
    finally:
        conn.close()


def _qdrant_collections(root: Path) -> list[str]:
    """Collection names of a Qdrant local folder: every folder under ``collection/`` with a
    ``storage.sqlite`` entry (of whatever kind: the copier refuses one that is not a regular
    file, rather than the collection being skipped without a word)."""
    base = root / "collection"
    try:
        names = sorted(e.name for e in os.scandir(base) if e.is_dir())
    except OSError:
        return []
    return [n for n in names if os.path.lexists(base / n / "storage.sqlite")]


def _is_qdrant_folder(path: Path) -> bool:
    return (path / "meta.json").is_file() and (path / "collection").is_dir()


def find_qdrant(path: Path) -> tuple[Path, list[str]] | None:
    """A Qdrant local folder, its meta.json, or one collection's storage.sqlite."""
    if path.is_dir():
        if not _is_qdrant_folder(path):
            return None
        names = _qdrant_collections(path)
        return path, ["meta.json", *(f"collection/{n}/storage.sqlite" for n in names)]
    if path.name == "meta.json" and _is_qdrant_folder(path.parent):
        return find_qdrant(path.parent)
    if path.name == "storage.sqlite" and path.parent.parent.name == "collection":
        root = path.parent.parent.parent
        rel = f"collection/{path.parent.name}/storage.sqlite"
        meta = ["meta.json"] if (root / "meta.json").is_file() else []
        return root, [*meta, rel]
    return None


def read_qdrant(root: Path, ctx: ReadContext, shown: str = "") -> dict[str, Any]:
    """The memories of every collection of a Qdrant local folder (a private copy). The entity
    store (``NAME_entities``) and points without memory text are counted, not read as
    memories."""
    collections: dict[str, RecordList] = {}
    entities = other = vectors = 0
    prefix = f"{shown}/" if shown else ""
    for name in _qdrant_collections(root):
        where = f"{prefix}collection/{name}/storage.sqlite"
        items, counts = read_points(root / "collection" / name / "storage.sqlite", ctx, where)
        if name.endswith(ENTITY_SUFFIX) or name == TELEMETRY:
            entities += sum(counts.values()) - counts["vectors"] + len(items)
            continue
        entities += counts["entities"]
        other += counts["other"]
        vectors += counts["vectors"]
        collections[name] = items
    return {"collections": collections, "entities": entities, "other": other, "vectors": vectors}


def _read_qdrant_folder(root: Path, ctx: ReadContext) -> dict[str, Any]:
    if not _qdrant_collections(root):
        raise InputRefused(
            "this Qdrant folder holds no collection (collection/NAME/storage.sqlite): there are "
            "no memories in it",
            code=Code.WRONG_SHAPE,
        )
    return read_qdrant(root, ctx)


def _is_points_table(tables: Tables) -> bool:
    return set(tables) == {"points"} and tables["points"] == frozenset({"id", "point"})


def _read_points_db(conn: sqlite3.Connection, tables: Tables, ctx: ReadContext) -> dict[str, Any]:
    """A collection's storage.sqlite found on its own (renamed or moved)."""
    del tables
    items, counts = _memories_of(_points(conn, ctx, "points"), ctx)
    return {"collections": {"": items}, **counts}


def _points(conn: sqlite3.Connection, ctx: ReadContext, where: str) -> Iterator[dict[str, Any]]:
    """Every point of an open collection database, unpickled (``unpickle_point``)."""
    cur = conn.execute("SELECT point FROM points ORDER BY rowid")
    for row, (blob,) in enumerate(ctx.fetched(cur), 1):
        yield unpickle_point(blob, f"{where} row {row}")


def _memories_of(
    points: Iterable[dict[str, Any]], ctx: ReadContext
) -> tuple[RecordList, dict[str, int]]:
    """The get_all items of a collection's memory points (kept in the read's spool), and the
    count of the rest: entity points, points without memory text, and the memories'
    vectors."""
    items = ctx.records()
    counts = {"entities": 0, "other": 0, "vectors": 0}
    for point in points:
        payload = point["payload"]
        if is_entity(payload):
            counts["entities"] += 1
        elif not isinstance(payload.get("data"), str):
            counts["other"] += 1
        else:
            counts["vectors"] += point["vectors"]
            items.append(get_all_item(point["id"], payload))
    return items, counts


# --- an install: history.db with its Qdrant folder --------------------------------------------


def _install_qdrant_dir(folder: Path) -> str | None:
    """The Qdrant folder inside a mem0 folder: ``qdrant/`` first, else any subfolder."""
    if _is_qdrant_folder(folder / "qdrant"):
        return "qdrant"
    try:
        subs = sorted(e.name for e in os.scandir(folder) if e.is_dir(follow_symlinks=False))
    except OSError:
        return None
    for sub in subs:
        if _is_qdrant_folder(folder / sub):
            return sub
    return None


def find_install(path: Path) -> tuple[Path, list[str]] | None:
    if not path.is_dir() or not (path / HISTORY_FILE).is_file():
        return None
    sub = _install_qdrant_dir(path)
    if sub is None:
        return None
    found = find_qdrant(path / sub)
    if found is None:
        return None
    return path, [HISTORY_FILE, *(f"{sub}/{rel}" for rel in found[1])]


def _open_history(path: Path, where: str, ctx: ReadContext) -> sqlite3.Connection:
    try:
        conn = open_untrusted(path, ctx.cancel)
    except SQLITE_ERRORS as exc:
        raise InputRefused(
            f"{where} is a damaged SQLite database: {exc}", path=where, code=Code.FILE_UNREADABLE
        ) from None
    try:
        tables = table_columns(conn)
    except SQLITE_ERRORS as exc:
        conn.close()
        raise InputRefused(
            f"{where} is a damaged SQLite database: {exc}", path=where, code=Code.FILE_UNREADABLE
        ) from None
    if not _is_history(tables):
        conn.close()
        raise InputRefused(
            f"{where} is not mem0's history database (no history table with memory_id and event)",
            path=where,
            code=Code.UNKNOWN_FORMAT,
        )
    return conn


def read_install_parts(
    root: Path, history_rel: str, qdrant_rel: str, ctx: ReadContext
) -> dict[str, Any]:
    conn = _open_history(root / history_rel, history_rel, ctx)
    try:
        history = read_history(conn, table_columns(conn), ctx)
    except SQLITE_ERRORS as exc:
        raise InputRefused(
            f"{history_rel} is a damaged SQLite database: {exc}",
            path=history_rel,
            code=Code.FILE_UNREADABLE,
        ) from None
    finally:
        conn.close()
    return {**history, **read_qdrant(root / qdrant_rel, ctx, qdrant_rel)}


def _read_install(root: Path, ctx: ReadContext) -> dict[str, Any]:
    # the copy holds the files find_install listed (no empty folders): its meta.json says
    # where the Qdrant folder is
    metas = sorted(p.parent.name for p in root.glob("*/meta.json"))
    sub = "qdrant" if "qdrant" in metas else (metas[0] if metas else None)
    if sub is None:
        raise InputRefused("the mem0 folder's Qdrant folder vanished", code=Code.FILE_NOT_FOUND)
    return read_install_parts(root, HISTORY_FILE, sub, ctx)


INSTALL_LABEL = "mem0 install (history.db with its Qdrant local folder)"


def install_parts(history: Path, vectors: Path) -> tuple[FolderLayout, Path, list[str]]:
    """``import HISTORY.db --vectors QDRANT_DIR``: the two as one install."""
    found = find_qdrant(vectors)
    if found is None:
        raise InputRefused(
            f"{vectors} is not a Qdrant local folder (it needs meta.json and collection/)",
            code=Code.UNKNOWN_FORMAT,
        )
    qroot, qrels = found
    if not history.is_file():
        raise InputRefused(f"{history} is not a file", code=Code.NOT_A_FILE)
    hist = history.resolve()
    qroot = qroot.resolve()
    root = Path(os.path.commonpath([hist.parent, qroot]))
    history_rel = hist.relative_to(root).as_posix()
    qdrant_rel = qroot.relative_to(root).as_posix()
    rels = [history_rel, *(f"{qdrant_rel}/{r}" if qdrant_rel != "." else r for r in qrels)]

    def read(copy_root: Path, ctx: ReadContext) -> dict[str, Any]:
        return read_install_parts(copy_root, history_rel, qdrant_rel, ctx)

    layout = FolderLayout(
        "mem0-install", INSTALL_LABEL, find=lambda _p: None, read=read, streams=True
    )
    return layout, root, rels


def install_pair(paths: list[Path]) -> tuple[Path, Path] | None:
    """Two paths given together that are one mem0 install: a history.db (by name, or a SQLite
    file beside a Qdrant folder) and a Qdrant local folder (or its meta.json); (history,
    folder) or None."""
    if len(paths) != 2:
        return None
    for history, vectors in (paths, paths[::-1]):
        found = find_qdrant(vectors)
        if found is None or not history.is_file() or history.name == "storage.sqlite":
            continue
        try:
            with open(history, "rb") as f:
                if f.read(16) != b"SQLite format 3\x00":
                    continue
        except OSError:
            continue
        return history, found[0]
    return None


# --- the TypeScript SDK -----------------------------------------------------------------------


def _is_ts(tables: Tables) -> bool:
    vectors = tables.get("vectors", frozenset())
    history = tables.get("memory_history", frozenset())
    return {"id", "payload"} <= vectors or {"memory_id", "action"} <= history


def _read_ts(conn: sqlite3.Connection, tables: Tables, ctx: ReadContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if {"id", "payload"} <= tables.get("vectors", frozenset()):
        items = ctx.records()
        bad = entities = 0
        for row in _rows(conn, "SELECT id, payload FROM vectors ORDER BY rowid", ctx):
            try:
                payload = json.loads(row["payload"]) if isinstance(row["payload"], str) else None
            except ValueError:
                payload = None
            if not isinstance(payload, dict) or not isinstance(payload.get("data"), str):
                bad += 1
            elif is_entity(payload):
                entities += 1
            else:
                items.append(get_all_item(str(row["id"]), payload, typescript=True))
        out["vectors"] = items
        out["unreadable"] = bad
        out["entities"] = entities
    if {"memory_id", "action"} <= tables.get("memory_history", frozenset()):
        out["history"] = _rows(conn, "SELECT * FROM memory_history ORDER BY rowid", ctx)
        if {"session_scope", "content"} <= tables.get("messages", frozenset()):
            out["messages"] = _rows(conn, "SELECT * FROM messages ORDER BY rowid", ctx)
    return out


def _count_history(conn: sqlite3.Connection, tables: Tables) -> dict[str, int]:
    del tables
    ids = conn.execute("SELECT count(DISTINCT memory_id) FROM history").fetchone()[0]
    return {"memory ids": int(ids)}


def _count_points(conn: sqlite3.Connection, tables: Tables) -> dict[str, int]:
    del tables
    return {"points": int(conn.execute("SELECT count(*) FROM points").fetchone()[0])}


LAYOUTS: tuple[Layout, ...] = (
    FolderLayout(
        "mem0-install", INSTALL_LABEL, find=find_install, read=_read_install, streams=True
    ),
    FolderLayout(
        "mem0-qdrant-local",
        "mem0 Qdrant local folder",
        find=find_qdrant,
        read=_read_qdrant_folder,
        streams=True,
    ),
    SqliteLayout(
        "mem0-history-db",
        "mem0 history.db",
        matches=_is_history,
        read=read_history,
        count=_count_history,
        streams=True,
    ),
    SqliteLayout(
        "mem0-qdrant-local",
        "mem0 Qdrant local collection (storage.sqlite)",
        matches=_is_points_table,
        read=_read_points_db,
        count=_count_points,
        streams=True,
    ),
    SqliteLayout(
        "mem0-ts-local",
        "mem0 TypeScript SDK storage (vector_store.db / memory.db)",
        matches=_is_ts,
        read=_read_ts,
        streams=True,
    ),
)
