"""Record arrays too big to keep in memory, kept in a private temporary SQLite file instead.

A 350 MB export decoded into Python objects takes more than a gigabyte. The reader
(``jsonstream``) keeps the record arrays of a file in memory up to a budget; past it, each
array becomes a :class:`RecordList`: the same records, held as JSON text in chunks of at most
:data:`CHUNK_RECORDS` in a :class:`Spool` (a SQLite file in a private temporary folder, removed
when the last list using it is gone, or at exit). Reading a RecordList decodes one chunk at a
time, so whatever walks a collection (validation, caps, the import) holds one chunk, never the
file.

A RecordList is a sequence, not a ``list``: code that walks record arrays asks
:func:`is_array`, and ``iter_chunks`` walks any array a chunk at a time.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeGuard

from wizard.core import fastjson
from wizard.core.problems import Code, InputRefused

CHUNK_RECORDS = 2000  # records per stored chunk (and per chunk read back)
CHUNK_CHARS = 1024 * 1024  # text per stored chunk, at most about this much
# Record text kept in memory by the reader before arrays go to a spool (see jsonstream).
SPILL_AFTER = 8 * 1024 * 1024
SPOOL_PREFIX = "agentmemory-wizard-spool-"
BATCH_CHARS = 4 * 1024 * 1024  # chunks held before they are written, at most about this much
GROUP_ROWS = 2000  # rows of grouped() read back at a time


def _remove(db: sqlite3.Connection, folder: str) -> None:
    try:
        db.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Spool:
    """A private temporary SQLite file of JSON text chunks, removed when it is collected.

    Chunks are written once and never changed, so lists may share them. Access is serialised
    by a lock: a spool is written by the reading thread and read later by another worker.
    Chunks are numbered here and written in batches (an observation bucket is a chunk of its
    own: ten thousand small inserts cost more than the reading around them).
    """

    def __init__(self, directory: str | None = None) -> None:
        sweep_stale(directory)
        try:
            # mode 0700; the pid in the name tells a later process whether its owner still runs
            self.folder = tempfile.mkdtemp(prefix=f"{SPOOL_PREFIX}{os.getpid()}-", dir=directory)
        except OSError as exc:
            raise _no_room(directory or tempfile.gettempdir(), exc) from None
        path = os.path.join(self.folder, "records.sqlite")
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()  # a RecordList flushes under it (see _flush)
        self._pending: list[tuple[int, str, str | None]] = []
        self._pending_chars = 0
        self._next_id = 1
        self._groups = 0  # tables made for grouped() and latest()
        self.chars = 0  # text kept, in all
        self._finalizer = weakref.finalize(self, _remove, self._db, self.folder)
        try:
            for pragma in (
                "page_size = 65536",  # chunks are big: fewer overflow pages to write and read
                "journal_mode = OFF",
                "synchronous = OFF",
                "cache_size = -2048",
                "temp_store = FILE",
            ):
                self._db.execute(f"PRAGMA {pragma}")
            self._db.execute(
                "CREATE TABLE chunks (id INTEGER PRIMARY KEY, text TEXT NOT NULL, keys TEXT)"
            )
        except sqlite3.Error as exc:
            self.close()
            raise _no_room(os.path.dirname(self.folder), exc) from None

    def put(self, text: str, keys: list[str] | None = None) -> int:
        """Keep a chunk (and, when known, the key of each of its records); returns its
        number."""
        with self._lock:
            chunk_id = self._next_id
            self._next_id += 1
            self.chars += len(text)
            self._pending.append((chunk_id, text, None if keys is None else json.dumps(keys)))
            self._pending_chars += len(text)
            if self._pending_chars >= BATCH_CHARS:
                self._write()
            return chunk_id

    def _write(self) -> None:
        """Write the pending chunks (the lock is held)."""
        if not self._pending:
            return
        self._many("INSERT INTO chunks (id, text, keys) VALUES (?, ?, ?)", self._pending)
        self._pending = []
        self._pending_chars = 0

    def get(self, chunk_id: int) -> str:
        with self._lock:
            self._write()
            row = self._db.execute("SELECT text FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
        return str(row[0])

    def records(self, chunk_id: int) -> list[Any]:
        """The records of a chunk, decoded."""
        return json.loads(self.get(chunk_id))

    def keys_of(self, chunk_ids: list[int]) -> dict[int, list[str] | None]:
        """The key of each record of some chunks, as the reader noted them (None: not
        noted)."""
        with self._lock:
            self._write()
            rows = self._db.execute(
                "SELECT id, keys FROM chunks WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(chunk_ids),),
            ).fetchall()
        return {chunk_id: None if keys is None else json.loads(keys) for chunk_id, keys in rows}

    def grouped(
        self, entries: Iterable[tuple[str, int, Any]]
    ) -> Iterator[tuple[str, list[tuple[int, Any]]]]:
        """``entries`` (key, position, value) by key: each key's values in position order,
        the keys in the order of their first position. Sorted by SQLite in this file (on
        disk past a small cache), so one key's values are in memory at a time."""
        table = self._table(
            "grouped",
            "k BLOB NOT NULL, i INTEGER, v TEXT",
            ((_key(key), position, fastjson.dumps(value)) for key, position, value in entries),
        )
        try:
            with self._lock:  # sorted once into a table whose row ids follow the order
                self._db.execute(f"CREATE TABLE {table}_sorted (k TEXT, i INTEGER, v TEXT)")
                self._db.execute(
                    f"INSERT INTO {table}_sorted SELECT k, i, v FROM (SELECT k, i, v, "
                    f"min(i) OVER (PARTITION BY k) AS f FROM {table}) ORDER BY f, i"
                )
                self._db.execute(f"DROP TABLE {table}")
        except sqlite3.Error as exc:  # the temporary folder is full (or gone)
            raise _no_room(os.path.dirname(self.folder), exc) from None
        key_now: str | None = None
        group: list[tuple[int, Any]] = []
        after = 0
        while True:
            with self._lock:
                rows = self._db.execute(
                    f"SELECT rowid, k, i, v FROM {table}_sorted WHERE rowid > ? ORDER BY rowid "
                    "LIMIT ?",
                    (after, GROUP_ROWS),
                ).fetchall()
            if not rows:
                break
            after = rows[-1][0]
            for _rowid, stored, position, text in rows:
                key = stored.decode("utf-8", "surrogatepass")
                if key != key_now:
                    if key_now is not None:
                        yield key_now, group
                    key_now, group = key, []
                group.append((position, json.loads(text)))
        if key_now is not None:
            yield key_now, group
        with self._lock:
            self._db.execute(f"DROP TABLE {table}_sorted")

    def latest(self, entries: Iterable[tuple[str, str, int]]) -> tuple[int, Iterator[int]]:
        """``spool.latest`` on disk."""
        table = self._table(
            "latest",
            "k BLOB NOT NULL, r BLOB, i INTEGER",
            ((_key(key), _key(rank), position) for key, rank, position in entries),
        )
        try:
            with self._lock:
                (keys,) = self._db.execute(f"SELECT count(DISTINCT k) FROM {table}").fetchone()
                self._db.execute(f"CREATE TABLE {table}_lost (i INTEGER PRIMARY KEY)")
                self._db.execute(
                    f"INSERT INTO {table}_lost SELECT i FROM (SELECT i, row_number() OVER "
                    f"(PARTITION BY k ORDER BY r DESC, i) AS n FROM {table}) WHERE n > 1"
                )
                self._db.execute(f"DROP TABLE {table}")
        except sqlite3.Error as exc:  # the temporary folder is full (or gone)
            raise _no_room(os.path.dirname(self.folder), exc) from None
        return int(keys), self._losers(f"{table}_lost")

    def _losers(self, table: str) -> Iterator[int]:
        after = -1
        while True:
            with self._lock:
                page = [
                    i
                    for (i,) in self._db.execute(
                        f"SELECT i FROM {table} WHERE i > ? ORDER BY i LIMIT ?",
                        (after, GROUP_ROWS),
                    )
                ]
            if not page:
                break
            yield from page
            after = page[-1]
        with self._lock:
            self._db.execute(f"DROP TABLE {table}")

    def _table(self, name: str, columns: str, rows: Iterable[tuple[Any, Any, Any]]) -> str:
        """A new table of three columns filled with ``rows`` (written in batches); its name."""
        with self._lock:
            self._write()
            self._groups += 1
            table = f"{name}_{self._groups}"
            self._db.execute(f"CREATE TABLE {table} ({columns})")
        batch: list[tuple[Any, Any, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= CHUNK_RECORDS:
                with self._lock:
                    self._many(f"INSERT INTO {table} VALUES (?, ?, ?)", batch)
                batch = []
        if batch:
            with self._lock:
                self._many(f"INSERT INTO {table} VALUES (?, ?, ?)", batch)
        return table

    def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """``executemany`` in one transaction (the lock is held): in autocommit, each row
        was a transaction of its own, 15 microseconds a row."""
        try:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(sql, rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:  # the temporary folder is full (or gone)
            raise _no_room(os.path.dirname(self.folder), exc) from None

    def close(self) -> None:
        """Remove the file now (the lists using it can no longer be read)."""
        self._finalizer()


def sweep_stale(directory: str | None = None) -> list[str]:
    """Remove the spools of processes that are gone (killed before they could clean up);
    returns the folders removed."""
    root = directory or tempfile.gettempdir()
    removed: list[str] = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(SPOOL_PREFIX):
            continue
        pid_text = name[len(SPOOL_PREFIX) :].split("-", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        path = os.path.join(root, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid() or sys.platform == "win32":  # (os.kill(pid, 0) is Ctrl-C there)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, not ours (or cannot tell): leave it
        return True
    return True


def _key(text: str) -> bytes:
    """A key as SQLite keeps it for grouped() and latest(): its UTF-8 bytes, a lone surrogate
    (a JSON escape alone, which SQLite's text cannot hold) kept as is. Bytes compare as the
    text does, code point by code point."""
    return text.encode("utf-8", "surrogatepass")


def _no_room(where: str, exc: Exception) -> InputRefused:
    """The refusal when the temporary folder ``where`` cannot hold a spool."""
    return InputRefused(
        f"the records of this big file wait in the temporary folder {where} while it is read, "
        f"and it has no room left ({exc}); free some space there (or set TMPDIR to a folder "
        "with room) and try again",
        code=Code.NO_TEMP_SPACE,
    )


class RecordList:
    """A sequence of records kept as JSON text chunks in a :class:`Spool`.

    ``append`` takes a decoded record, ``append_text`` the JSON text of one record as read
    (kept as is: nothing is encoded again), ``extend_text`` a JSON array's text. Iterating
    decodes one chunk at a time.
    """

    __slots__ = (
        "__weakref__",
        "_chunks",
        "_keys",
        "_len",
        "_pending",
        "_pending_chars",
        "spool",
    )

    def __init__(self, spool: Spool, records: Iterable[Any] = ()) -> None:
        self.spool = spool
        self._chunks: list[tuple[int, int]] = []  # (chunk id, records in it)
        self._len = 0
        self._pending: list[str] = []  # texts of records not yet stored
        self._keys: list[str] | None = []  # their keys (None: one is not known)
        self._pending_chars = 0
        self.extend(records)

    # -- writing ------------------------------------------------------------------------------
    def append(self, record: Any, key: str | None = None) -> None:
        """Add one record (and its key, when the reader knows it)."""
        self.append_text(fastjson.dumps(record), key)

    def append_text(self, text: str, key: str | None = None) -> None:
        """Add one record's text (and its key, when the reader knows it)."""
        if key is None:
            self._keys = None
        elif self._keys is not None:
            self._keys.append(key)
        self._pending.append(text)
        self._pending_chars += len(text)
        self._len += 1
        if len(self._pending) >= CHUNK_RECORDS or self._pending_chars >= CHUNK_CHARS:
            self._flush()

    def extend_text(self, array_text: str, count: int, keys: list[str] | None = None) -> None:
        """Add the ``count`` records of one JSON array's text (``[...]``), stored as it is
        (with the key of each, when the reader knows them)."""
        if not count:
            return
        self._flush()
        self._chunks.append((self.spool.put(array_text, keys), count))
        self._len += count

    def extend(self, records: Iterable[Any]) -> None:
        if isinstance(records, RecordList) and records.spool is self.spool:
            records._flush()
            self._flush()
            self._chunks.extend(records._chunks)  # chunks never change: shared
            self._len += records._len
            return
        for record in records:
            self.append(record)

    def flush(self) -> None:
        """Store the records appended so far now (a list filled to its end: out of memory)."""
        self._flush()

    def _flush(self) -> None:
        """Store the pending records as a chunk: under the spool's lock, so that two threads
        reading one list (a plan still stopping while the import starts) store them once."""
        if not self._pending:
            return
        with self.spool._lock:
            if self._pending:
                text = "[" + ",".join(self._pending) + "]"
                self._chunks.append((self.spool.put(text, self._keys), len(self._pending)))
                self._pending = []
                self._keys = []
                self._pending_chars = 0

    # -- reading ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def chunk_refs(self) -> list[tuple[int, int]]:
        """(chunk id, records in it) of every stored chunk, in order."""
        self._flush()
        return list(self._chunks)

    def stored_chunks(self) -> Iterator[list[Any]]:
        """The records a stored chunk at a time (at most CHUNK_RECORDS each, rarely fewer)."""
        self._flush()
        for chunk_id, _count in self._chunks:
            yield self.spool.records(chunk_id)

    def rewritten(self, change: Callable[[int, Any], Any]) -> RecordList:
        """A RecordList of ``change(index, record)`` for each record; a chunk whose records
        all come back as they were (the same objects) is shared, not written again."""
        out = RecordList(self.spool)
        index = 0
        for chunk_id, count in self.chunk_refs():
            records = self.spool.records(chunk_id)
            changed = [change(index + k, record) for k, record in enumerate(records)]
            index += count
            if all(new is old for new, old in zip(changed, records, strict=True)):
                out._flush()
                out._chunks.append((chunk_id, count))
                out._len += count
            else:
                out.extend(changed)
        return out

    def head(self, n: int) -> list[Any]:
        """The first ``n`` records, decoding no more of the text than they take (a preview on
        the GUI thread must not decode a whole chunk)."""
        out: list[Any] = []
        decoder = json.JSONDecoder()
        for chunk_id, _count in self.chunk_refs():
            if len(out) >= n:
                break
            text = self.spool.get(chunk_id)
            pos = 1  # after "["
            while len(out) < n:
                pos = _skip(text, pos)
                if pos >= len(text) or text[pos] == "]":
                    break
                value, pos = decoder.raw_decode(text, pos)
                out.append(value)
                pos = _skip(text, pos)
                if pos < len(text) and text[pos] == ",":
                    pos += 1
        return out

    def __iter__(self) -> Iterator[Any]:
        for chunk in self.stored_chunks():
            yield from chunk

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._len)
            if step != 1:
                return list(self)[index]
            return self._range(start, stop)
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError("RecordList index out of range")
        found = self._range(index, index + 1)
        return found[0]

    def _range(self, start: int, stop: int) -> list[Any]:
        self._flush()
        out: list[Any] = []
        offset = 0
        for chunk_id, count in self._chunks:
            if offset >= stop:
                break
            if offset + count > start:
                records = self.spool.records(chunk_id)
                out.extend(records[max(start - offset, 0) : stop - offset])
            offset += count
        return out

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, RecordList)):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<RecordList of {self._len} records in {len(self._chunks)} chunks>"


class CountedObject(dict):
    """An object with more entries than the reader keeps in memory: the first ones; then an
    entry whose value is an array (an observation bucket) is counted, not kept (only
    agentmemory's caps can use those: the file is refused, its counts exact; any other format
    refuses the file), and any other entry (a record keyed by its id, as in mem0's FAISS
    docstore) is kept in a spool as a ``[key, value]`` pair (``spilled``; ``entries`` walks
    them all)."""

    def __init__(self, path: str, entries: dict) -> None:
        super().__init__(entries)
        self.path = path
        self.more_keys = 0  # entries past the ones in memory (spilled or counted)
        self.more_records = 0  # records in the arrays counted
        self.more_largest = 0  # records in the largest of them
        self.more_largest_key = ""
        self.spilled: RecordList | None = None

    def count(self, key: str, records: int) -> None:
        self.more_keys += 1
        self.more_records += records
        if records > self.more_largest:
            self.more_largest, self.more_largest_key = records, key

    def keep(self, key: str, value: Any, new_list: Callable[[], RecordList]) -> None:
        if self.spilled is None:
            self.spilled = new_list()
        self.spilled.append([key, value])
        self.more_keys += 1

    @property
    def dropped(self) -> int:
        """Entries counted and not kept."""
        return self.more_keys - len(self.spilled or ())

    def entries(self) -> Iterator[tuple[str, Any]]:
        """Every (key, value) kept: those in memory, then the spilled ones."""
        yield from self.items()
        yield from ((pair[0], pair[1]) for pair in self.spilled or ())


def counted_objects(value: Any) -> list[CountedObject]:
    """The CountedObjects in a document (or list of JSON Lines pages)."""
    docs = value if value.__class__ is list else [value]
    return [
        item
        for doc in docs
        if isinstance(doc, dict)
        for item in doc.values()
        if isinstance(item, CountedObject)
    ]


def _skip(text: str, pos: int) -> int:
    """The position of the next character that is not JSON whitespace."""
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def spooled_chars(*values: Any) -> int:
    """The text kept in the spools the RecordLists of these documents use."""
    spools = {
        id(item.spool): item.spool
        for value in values
        for container, key in _slots(value)
        if isinstance(item := container[key], RecordList)
    }
    spools.update({id(v.spool): v.spool for v in values if isinstance(v, RecordList)})
    return sum(s.chars for s in spools.values())


def available_memory() -> int | None:
    """Bytes of memory this computer can still give (Linux: MemAvailable); None: unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def is_array(value: object) -> TypeGuard[list[Any] | RecordList]:
    """Whether a value is a JSON array: a list, or a RecordList kept in a spool."""
    return value.__class__ is list or isinstance(value, (list, RecordList))


def empty_like(records: object) -> list[Any] | RecordList:
    """A new, empty array of the same kind: a RecordList in the same spool for a RecordList
    (what a converter writes from a spooled array stays out of memory too), else a list."""
    if isinstance(records, RecordList):
        return RecordList(records.spool)
    return []


def grouped(
    entries: Iterable[tuple[str, int, Any]], spool: Spool | None
) -> Iterator[tuple[str, list[tuple[int, Any]]]]:
    """``entries`` (key, position, value), given in position order, by key: each key's values
    in position order, the keys in the order of their first position. Sorted in ``spool``
    when there is one (``Spool.grouped``: one key's values in memory at a time), else in
    memory."""
    if spool is not None:
        yield from spool.grouped(entries)
        return
    groups: dict[str, list[tuple[int, Any]]] = {}
    for key, position, value in entries:
        groups.setdefault(key, []).append((position, value))
    yield from groups.items()


def latest(
    entries: Iterable[tuple[str, str, int]], spool: Spool | None
) -> tuple[int, Iterator[int]]:
    """Of ``entries`` (key, rank, position) given in position order: how many keys there
    are, and the positions of the entries that lose to another of their key (the highest
    rank wins, the first on a tie), ascending. Kept in ``spool`` when there is one (on disk:
    a key, a rank and a position per entry; the positions read back a page at a time), else
    in memory."""
    if spool is not None:
        return spool.latest(entries)
    best: dict[str, tuple[str, int]] = {}
    losers: list[int] = []
    for key, rank, position in entries:
        kept = best.get(key)
        if kept is None:
            best[key] = (rank, position)
        elif rank > kept[0]:
            losers.append(kept[1])
            best[key] = (rank, position)
        else:
            losers.append(position)
    losers.sort()
    return len(best), iter(losers)


def iter_chunks(records: list[Any] | RecordList, size: int) -> Iterator[list[Any]]:
    """The records of an array in order, at most ``size`` at a time."""
    if isinstance(records, RecordList):
        for chunk in records.stored_chunks():
            if len(chunk) <= size:
                yield chunk
            else:
                for start in range(0, len(chunk), size):
                    yield chunk[start : start + size]
        return
    if len(records) <= size:
        yield records
        return
    for start in range(0, len(records), size):
        yield records[start : start + size]


def _slots(value: Any) -> Iterator[tuple[dict, str]]:
    """Where the reader may put a RecordList in a parsed document (or in each page of a list
    of JSON Lines pages): (object, key) for the document's fields and for the fields of the
    objects one level down (observation buckets)."""
    docs = value if value.__class__ is list else [value]
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        for key, item in doc.items():
            yield doc, key
            if isinstance(item, dict):
                for inner in item:
                    yield item, inner


def holds_spooled(value: Any) -> bool:
    """Whether a parsed document (or the list of JSON Lines pages) is or holds a
    RecordList."""
    if isinstance(value, RecordList):
        return True
    return any(isinstance(container[key], RecordList) for container, key in _slots(value))


def materialize(value: Any) -> Any:
    """The same document (or list of JSON Lines pages) with every RecordList made a list and
    every CountedObject's spilled entries put back, in place (a document that is a
    RecordList is returned as a list)."""
    if isinstance(value, RecordList):
        return list(value)
    for container, key in list(_slots(value)):
        item = container[key]
        if isinstance(item, RecordList):
            container[key] = list(item)
        elif isinstance(item, CountedObject) and item.spilled is not None:
            container[key] = dict(item.entries())
    return value


def head_view(value: Any, records: int = 50, budget: int = 2000) -> Any:
    """A small copy for looking at a file's shape: every RecordList replaced by a list of its
    first ``records`` records, ``budget`` records in all (later ones by empty lists); records
    are shared, not copied (only the objects that hold RecordLists are)."""

    def page(doc: Any) -> Any:
        if not isinstance(doc, dict):
            return doc
        return {k: dict(v) if isinstance(v, dict) else v for k, v in doc.items()}

    if isinstance(value, RecordList):  # a bare list of records
        return value[: min(records, budget)]
    view = [page(doc) for doc in value] if value.__class__ is list else page(value)
    left = budget
    for container, key in list(_slots(view)):
        item = container[key]
        if isinstance(item, RecordList):
            n = min(records, left)
            left -= n
            container[key] = item[:n] if n else []
    return view
