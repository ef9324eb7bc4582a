"""Reading a source's own storage: SQLite databases and folders on this computer.

The rules (docs/SOURCES.md): the user's files are never opened for writing and no vendor code
runs on them. The files a layout needs are copied, with a database's ``-journal``/``-wal``/
``-shm`` companions, into a private temporary folder (:mod:`.safety`); the copy is opened
read-only and deleted afterwards. A layout is recognised by its tables and columns, or by the
files a folder holds, never by a version string.

A big store's rows are kept in a spool (``ReadContext.records``, ``wizard.core.spool``), not in
memory, by the layouts whose formats convert from one (``Format.streams``).

A family module (``mem0``, ``openmemory``, ``letta``, ``letta_code``) exposes ``LAYOUTS``: a
tuple of :class:`SqliteLayout` and :class:`FolderLayout`. A layout's ``read`` turns the copy
into one plain JSON-like document, handed to the adapter of the same format id as
``Payload.value`` (``wizard.core.adapters.*``), so that storage and export files convert
through the same code and the same memory is the same record from either.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wizard.core import fastjson, spool
from wizard.core.jsonstream import decoded_cost
from wizard.core.problems import Problem
from wizard.core.spool import RecordList, Spool

# table name -> its column names, as PRAGMA table_info gives them
Tables = dict[str, frozenset[str]]
CancelFn = Callable[[], bool]
FETCH_ROWS = 500  # rows fetched between two cancellation checks (ReadContext.fetched)


@dataclass
class ReadContext:
    """What a layout's ``read`` may use besides its input: cancellation (check it between
    batches of rows), and a list for what reading noticed (schema quirks, rows it skipped)."""

    cancel: CancelFn | None = None
    warnings: list[Problem] = field(default_factory=list)
    include_deleted: bool = False
    max_bytes: int | None = None  # the input size limit: the store's files in all

    spool: Spool | None = None  # where records() keeps what it is given, made on first use

    def records(self) -> RecordList:
        """A new record array kept in this read's spool (not in memory): the rows of a big
        store are converted from it a chunk at a time."""
        if self.spool is None:
            self.spool = Spool()
        return RecordList(self.spool)

    def check(self) -> None:
        """Raise ``problems.Cancelled`` when the user asked to stop."""
        from wizard.core.problems import Cancelled

        if self.cancel is not None and self.cancel():
            raise Cancelled()

    def fetched(self, cursor: sqlite3.Cursor) -> Iterator[Any]:
        """Each row of ``cursor``, fetched FETCH_ROWS at a time, with a cancellation check
        before each batch."""
        while True:
            self.check()
            batch = cursor.fetchmany(FETCH_ROWS)
            if not batch:
                return
            yield from batch


@dataclass(frozen=True)
class SqliteLayout:
    """A SQLite database recognised by its tables: ``matches(tables)`` is true for this
    layout's schema (every generation it reads); ``read(conn, tables, ctx)`` reads the
    read-only copy into the document the adapter ``id`` converts."""

    id: str  # the format id (shown to the user, written to the audit)
    label: str
    matches: Callable[[Tables], bool]
    read: Callable[[sqlite3.Connection, Tables, ReadContext], Any]
    # what discovery may show before anything is read: a few cheap counts by name
    count: Callable[[sqlite3.Connection, Tables], dict[str, int]] | None = None
    streams: bool = False  # its rows go to ReadContext.records(): no memory check before


@dataclass(frozen=True)
class FolderLayout:
    """A folder (or a file that names one, such as Qdrant's ``meta.json``) recognised by the
    files it holds: ``find(path)`` gives the folder's root and the files to read, relative to
    it (sorted; companions of databases are added by the copier), or None when the path is
    not this layout; ``read(root_of_copy, ctx)`` reads the private copy."""

    id: str
    label: str
    find: Callable[[Path], tuple[Path, list[str]] | None]
    read: Callable[[Path, ReadContext], Any]
    streams: bool = False  # its rows go to ReadContext.records(): no memory check before


Layout = SqliteLayout | FolderLayout

# What reading a damaged database raises: SQLite's errors, and UnicodeDecodeError when the
# damage reaches the text of an error message or of the schema (Python decodes both as UTF-8).
SQLITE_ERRORS: tuple[type[Exception], ...] = (sqlite3.DatabaseError, UnicodeDecodeError)


# What a source's database may make SQLite do: read. (The file is untrusted: no writing, no
# attaching other files, no pragmas but the ones that read the schema.)
_ALLOWED_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
_READ_PRAGMAS = frozenset({"table_info", "table_xinfo", "index_list", "index_info"})
SQLITE_LIMIT_LENGTH = 0  # sqlite3.SQLITE_LIMIT_LENGTH (named in Python 3.11 and later)
MAX_VALUE_BYTES = 16 * 1024 * 1024  # one text or blob value (agentmemory's request frame)
PROGRESS_STEPS = 100_000  # SQLite instructions between two checks for cancellation


def _authorize(
    action: int, arg1: str | None, _arg2: str | None, _db: str | None, _trigger: str | None
) -> int:
    if action in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _READ_PRAGMAS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def open_untrusted(path: Path, cancel: CancelFn | None = None) -> sqlite3.Connection:
    """A read-only connection to a private copy of a source's database, hardened for a file
    that may be hostile: the schema is not trusted (``trusted_schema=OFF``: no SQL function of
    a view, trigger or default runs with side effects), cell sizes are checked as pages are
    read, writing is impossible (``query_only``, and an authorizer that allows reading only:
    no ATTACH, no pragma but schema reads), and long queries stop when ``cancel()`` turns
    true. Raises one of ``SQLITE_ERRORS`` for a file that is not a database."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False)
    try:
        for pragma in (
            "trusted_schema = OFF",
            "query_only = ON",
            "cell_size_check = ON",
            "mmap_size = 0",
        ):
            conn.execute(f"PRAGMA {pragma}")
        setlimit = getattr(conn, "setlimit", None)  # Python 3.11 and later
        if setlimit is not None:
            setlimit(SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        conn.set_authorizer(_authorize)
        if cancel is not None:
            conn.set_progress_handler(lambda: 1 if cancel() else 0, PROGRESS_STEPS)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def table_columns(conn: sqlite3.Connection) -> Tables:
    """Every table of a database with its columns. A table with computed (generated) columns
    is refused: no program the wizard reads makes one, and a computed value can be made to
    take any amount of memory when read."""
    from wizard.core.problems import Code, InputRefused

    names = [
        r[0]
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    ]
    tables: Tables = {}
    for name in names:
        info = conn.execute(f'PRAGMA table_xinfo("{_quoted(name)}")').fetchall()
        if any(r[6] in (2, 3) for r in info):  # hidden: 2 virtual, 3 stored generated column
            raise InputRefused(
                f"table {name!r} has computed columns: not a database the wizard reads",
                code=Code.UNKNOWN_FORMAT,
            )
        tables[name] = frozenset(r[1] for r in info if r[6] == 0)
    return tables


def _quoted(name: str) -> str:
    return name.replace('"', '""')


class Arrays:
    """Where the read's record arrays are kept: lists while the rows kept so far cost less
    than the reader's budget (``spool.SPILL_AFTER``, the JSON reader's), RecordLists in the
    read's spool past it (an array being filled moves there as the budget is passed). A row
    is complete when it is added: a spooled row cannot be changed."""

    def __init__(self, ctx: ReadContext) -> None:
        self._ctx = ctx
        self._held = 0  # what the rows kept in lists cost (jsonstream.decoded_cost)

    def new(self) -> list[dict] | RecordList:
        return self._ctx.records() if self._over() else []

    def add(self, array: list[dict] | RecordList, row: dict) -> list[dict] | RecordList:
        """``array`` with ``row`` appended (a list past the budget becomes a RecordList)."""
        if array.__class__ is list:
            if self._over():
                spooled = self._ctx.records()
                spooled.extend(array)
                array = spooled
            else:
                text = fastjson.dumps(row)
                self._held += decoded_cost(text, 0, len(text))
        array.append(row)
        return array

    def fill(self, rows: Iterator[dict]) -> list[dict] | RecordList:
        array = self.new()
        for row in rows:
            array = self.add(array, row)
        return self.done(array)

    @staticmethod
    def done(array: list[dict] | RecordList) -> list[dict] | RecordList:
        """The array filled: a RecordList's last rows stored now (out of memory)."""
        if isinstance(array, RecordList):
            array.flush()
        return array

    def _over(self) -> bool:
        return self._held > spool.SPILL_AFTER
