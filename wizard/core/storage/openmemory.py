"""Storage layouts of the openmemory family: OpenMemory's own SQLite database ``openmemory.db``.

OpenMemory (mem0's self-hosted MCP server, ``openmemory/api``; its last tree is mem0's
``540d23d610``) keeps users, their apps (the MCP clients), memories with their state,
categories, state history, access logs and access rules in one database, by default
``openmemory.db`` in the API's working folder (docs/MEM0.md section 4). Three alembic revisions
exist: ``0b53c747049a`` (every table but ``configs``; an app name unique across all users),
``add_config_table`` (adds ``configs``) and ``afd00efbd06b`` (an app name unique per owner); the
tables and columns the reader needs are the same in all three.

``read`` builds what OpenMemory's backup route (``POST /api/v1/backup/export``) writes to
``memories.json``, once per user and for every user, so the adapter converts both through the
same code and a memory read here is the same record as from a backup zip: ids in the zip's
dashed form (the database stores UUIDs as 32 hex digits), times as ``…+00:00`` (OpenMemory
writes naive UTC times), JSON columns parsed. Each user's document adds the memories' access
logs, which the backup leaves out.

Never read: the ``configs`` table (provider settings that can hold API keys: only its rows are
counted) and the rows of tables the reader does not know (counted too). Archive policies are
counted, not read: nothing in agentmemory receives them.

A big database is read in memory that does not grow with it (``streams``): the documents'
arrays go to the read's spool past the reader's budget (``Arrays``), the rows that belong to a
memory (category links, state history, accesses, access rules) are grouped by memory by SQLite
in the spool, and each user's memories are read in turn with theirs (``read``). What is kept in
memory is the users, apps and categories; nothing per memory.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from wizard.core import fastjson
from wizard.core.spool import RecordList
from wizard.core.storage import Arrays, Layout, ReadContext, SqliteLayout, Tables

LAYOUT_ID = "openmemory-db"

# The columns each table has in every revision, in the backup's key order; ``metadata`` is the
# column behind the models' ``metadata_`` attribute.
USER_COLUMNS = ("id", "user_id", "name", "email", "metadata", "created_at", "updated_at")
APP_COLUMNS = (
    "id",
    "owner_id",
    "name",
    "description",
    "metadata",
    "is_active",
    "created_at",
    "updated_at",
)
CATEGORY_COLUMNS = ("id", "name", "description", "created_at", "updated_at")
MEMORY_COLUMNS = (
    "id",
    "user_id",
    "app_id",
    "content",
    "metadata",
    "state",
    "created_at",
    "updated_at",
    "archived_at",
    "deleted_at",
)
HISTORY_COLUMNS = ("id", "memory_id", "changed_by", "old_state", "new_state", "changed_at")
CONTROL_COLUMNS = (
    "id",
    "subject_type",
    "subject_id",
    "object_type",
    "object_id",
    "effect",
    "created_at",
)
LOG_COLUMNS = ("id", "memory_id", "app_id", "accessed_at", "access_type", "metadata")
UUIDS = frozenset(
    {
        "id",
        "user_id",
        "owner_id",
        "app_id",
        "memory_id",
        "category_id",
        "changed_by",
        "subject_id",
        "object_id",
    }
)
TIMES = frozenset(
    {"created_at", "updated_at", "archived_at", "deleted_at", "changed_at", "accessed_at"}
)
JSONS = frozenset({"metadata"})
_HEX32 = re.compile("[0-9a-f]{32}")  # a UUID as SQLAlchemy stores it (str(UUID) keeps it)
# Tables whose rows are read, or counted on purpose; any other table is counted as unknown.
KNOWN = frozenset(
    {
        "users",
        "apps",
        "memories",
        "categories",
        "memory_categories",
        "memory_status_history",
        "memory_access_logs",
        "access_controls",
        "archive_policies",
        "configs",
        "alembic_version",
    }
)
# What makes a database OpenMemory's: these tables with at least these columns.
REQUIRED: dict[str, frozenset[str]] = {
    "users": frozenset({"id", "user_id"}),
    "apps": frozenset({"id", "owner_id", "name"}),
    "memories": frozenset({"id", "user_id", "app_id", "content", "state"}),
    "memory_status_history": frozenset({"memory_id", "old_state", "new_state"}),
}


def matches(tables: Tables) -> bool:
    """OpenMemory's schema (every alembic revision): users, apps, memories with their state,
    and the memories' status history."""
    return all(name in tables and columns <= tables[name] for name, columns in REQUIRED.items())


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _uuid(value: Any) -> Any:
    """A UUID in the backup's dashed form (SQLAlchemy stores 32 hex digits on SQLite); any
    other value as it is."""
    try:
        if isinstance(value, str) and value:
            if len(value) == 32 and _HEX32.fullmatch(value):  # (how they are stored: fast)
                return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
            return str(uuid.UUID(value))
        if isinstance(value, bytes) and len(value) == 16:
            return str(uuid.UUID(bytes=value))
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**32:
            # hex digits that were all decimal digits: the column's NUMERIC affinity stored
            # them as a number, dropping the leading zeros
            return str(uuid.UUID(str(value).zfill(32)))
    except ValueError:
        pass
    return value


def _time(value: Any) -> Any:
    """A stored time as the backup writes it (``2025-09-03T08:03:02.551903+00:00``): naive
    times are UTC, as OpenMemory writes them; text that is no time stays as it is."""
    if not isinstance(value, str) or not value:
        return value
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return value
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat()


def _json(value: Any) -> Any:
    """A JSON column's value; text that is not JSON stays as it is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _value(column: str, value: Any) -> Any:
    if column in UUIDS:
        value = _uuid(value)
    elif column in TIMES:
        value = _time(value)
    elif column in JSONS:
        value = _json(value)
    return None if isinstance(value, bytes) else value  # a blob is not text: left out


def _rows(
    conn: sqlite3.Connection,
    tables: Tables,
    table: str,
    columns: tuple[str, ...],
    ctx: ReadContext,
    where: str = "",
    params: tuple[Any, ...] = (),
) -> Iterator[dict]:
    """Each row of ``table`` (those ``where`` selects) as a dict of ``columns`` (None for a
    column the table lacks), in the order they were written, fetched in batches with a
    cancellation check between them."""
    for found in _raw_rows(conn, tables, table, columns, ctx, where, params):
        yield {c: _value(c, found.get(c)) for c in columns}


def _raw_rows(
    conn: sqlite3.Connection,
    tables: Tables,
    table: str,
    columns: tuple[str, ...],
    ctx: ReadContext,
    where: str = "",
    params: tuple[Any, ...] = (),
) -> Iterator[dict]:
    """The same rows with their values as stored (the columns the table has)."""
    if table not in tables:
        return
    present = [c for c in columns if c in tables[table]]
    if not present:
        return
    select = f"SELECT {', '.join(_quoted(c) for c in present)} FROM {_quoted(table)}"
    if where:
        select += f" WHERE {where}"
    try:
        cursor = conn.execute(f"{select} ORDER BY rowid", params)
    except sqlite3.OperationalError:  # a table without rowid: its primary key's order
        cursor = conn.execute(select, params)
    for values in ctx.fetched(cursor):
        yield dict(zip(present, values, strict=True))


def _count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {_quoted(table)}").fetchone()[0])


def _revision(conn: sqlite3.Connection, tables: Tables) -> str:
    """The alembic revision the schema shows (from its tables and indexes, never from
    ``alembic_version``)."""
    if "configs" not in tables:
        return "0b53c747049a"
    indexes = {
        r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'apps'") if r[0]
    }
    return "afd00efbd06b" if "idx_app_owner_name" in indexes else "add_config_table"


# Where grouping places a row (``_entries``): a memory row at its user's rank (shifted by
# RANK_SHIFT) plus its index, in the order of the documents; a row that belongs to a memory
# after every memory row (from BELONGING on), in the order of the tables.
RANK_SHIFT = 40
BELONGING = 1 << 62
MAX_FORMS = 500  # stored forms of a user's id one query names (past it: every row, filtered)
# The tables whose rows may refer to a memory not in the database, in the order they are read.
DANGLING = ("memory_categories", "memory_status_history", "memory_access_logs", "access_controls")
KINDS = {"l": "memory_categories", "h": "memory_status_history", "a": "memory_access_logs"}


class _Users:
    """The users in the order their documents come (the users table's, then owners of
    memories with no user row, met in the first pass over the memories) and the forms their
    ids are stored in: what is kept per user, nothing per memory."""

    def __init__(self, users: dict) -> None:
        self.order: list[Any] = list(users)  # user id by rank
        self.rank: dict[Any, int] = {uid: r for r, uid in enumerate(self.order)}
        self.forms: dict[int, set[Any]] = {}  # rank -> its user id as stored
        self.scanned: set[int] = set()  # ranks of more forms than MAX_FORMS: every row read

    def rank_of(self, uid: Any, stored: Any) -> int:
        """The rank of a memory's user (``uid`` as read, ``stored`` as stored)."""
        rank = self.rank.get(uid)
        if rank is None:
            rank = self.rank[uid] = len(self.order)
            self.order.append(uid)
        forms = self.forms.setdefault(rank, set())
        if rank not in self.scanned:
            forms.add(stored)
            if len(forms) > MAX_FORMS:  # (blobs, all read as None: no query names them)
                self.scanned.add(rank)
                forms.clear()
        return rank

    def memories(
        self, conn: sqlite3.Connection, tables: Tables, ctx: ReadContext, rank: int
    ) -> Iterator[dict]:
        """The memory rows of the user of this rank, in the order they were written: read with
        the forms of the user's id (equal as SQLite compares them: the rows of other users
        this finds are left to them)."""
        if rank not in self.forms:  # a user with no memory
            return
        where, params = "", ()
        if rank not in self.scanned:
            forms = self.forms[rank]
            params = tuple(f for f in forms if f is not None)
            tests = [f"user_id IN ({', '.join('?' * len(params))})"] if params else []
            if None in forms:
                tests.append("user_id IS NULL")
            where = " OR ".join(tests)
        for row in _rows(conn, tables, "memories", MEMORY_COLUMNS, ctx, where, params):
            if self.rank[row["user_id"]] == rank:
                yield row


def _key(mid: Any) -> str:
    """A memory id as a grouping key: ids equal in Python (``1 == 1.0``) give the same key."""
    if isinstance(mid, str):
        return fastjson.dumps(mid)
    if isinstance(mid, float) and mid.is_integer():
        mid = int(mid)
    return repr(int(mid) if isinstance(mid, bool) else mid)


def _entries(
    conn: sqlite3.Connection,
    tables: Tables,
    ctx: ReadContext,
    users: _Users,
    apps: dict,
    categories: dict,
    rules: RecordList,
    dangling: dict[str, int],
) -> Iterator[tuple[str, int, Any]]:
    """For ``Spool.grouped``, keyed by memory id: each memory row's place (None), then each row
    that refers to a memory (its category links, state history, accesses and the access rules
    on it: ``[kind, row]``), after every memory; the groups of the memory ids come in the
    order of the documents. An access rule on an app is placed now (``[rank, index, rule]``
    in ``rules``); the rows that refer to nothing they can be checked against now are counted
    in ``dangling``."""
    memory_rows = _raw_rows(conn, tables, "memories", ("id", "user_id"), ctx)
    for i, stored in enumerate(memory_rows):
        uid = _value("user_id", stored.get("user_id"))
        rank = users.rank_of(uid, stored.get("user_id"))
        yield _key(_value("id", stored.get("id"))), (rank << RANK_SHIFT) + i, None
    place = BELONGING
    for link in _rows(conn, tables, "memory_categories", ("memory_id", "category_id"), ctx):
        if link["category_id"] in categories:
            yield _key(link["memory_id"]), place, ["l", link]
            place += 1
        else:
            dangling["memory_categories"] += 1
    for kind, table, columns in (
        ("h", "memory_status_history", HISTORY_COLUMNS),
        ("a", "memory_access_logs", LOG_COLUMNS),
    ):
        for row in _rows(conn, tables, table, columns, ctx):
            yield _key(row["memory_id"]), place, [kind, row]
            place += 1
    # An access rule belongs to the user who owns its subject app or its object memory.
    for j, rule in enumerate(_rows(conn, tables, "access_controls", CONTROL_COLUMNS, ctx)):
        subject = apps.get(rule["subject_id"]) if rule["subject_type"] == "app" else None
        if not subject:
            yield _key(rule["object_id"]), place, ["c", [j, rule]]
            place += 1
        elif subject["owner_id"] is None:
            dangling["access_controls"] += 1
        elif subject["owner_id"] in users.rank:  # (else a user with no document: nowhere)
            rules.append([users.rank[subject["owner_id"]], j, rule])


class _Document:
    """One user's document, filled a memory at a time: its arrays lists, or RecordLists in the
    read's spool past the reader's budget (``Arrays``)."""

    def __init__(self, arrays: Arrays) -> None:
        self.arrays = arrays
        self.memories = arrays.new()
        self.links = arrays.new()
        self.history = arrays.new()
        self.rules = arrays.new()
        self.accesses = arrays.new()
        self.app_ids: set[Any] = set()  # the apps of its memories
        self.category_ids: set[Any] = set()  # the categories of its memories

    def add(self, row: dict, belonging: list[list[Any]]) -> None:
        """A memory row, with what belongs to its id (``[kind, row]``, in the file's order)."""
        links = [link for kind, link in belonging if kind == "l"]
        row["category_ids"] = [link["category_id"] for link in links]
        self.memories = self.arrays.add(self.memories, row)
        self.app_ids.add(row["app_id"])
        self.category_ids.update(row["category_ids"])
        for link in links:
            self.links = self.arrays.add(self.links, link)
        for kind, item in belonging:
            if kind == "h":
                self.history = self.arrays.add(self.history, item)
        for kind, item in belonging:
            if kind == "a":
                self.accesses = self.arrays.add(self.accesses, item)

    def done(self) -> None:
        """Complete: the last rows of its RecordLists stored now (out of memory)."""
        for records in (self.memories, self.links, self.history, self.rules, self.accesses):
            Arrays.done(records)


def _documents(
    conn: sqlite3.Connection,
    tables: Tables,
    ctx: ReadContext,
    arrays: Arrays,
    users: _Users,
    groups: Iterator[tuple[str, list[tuple[int, Any]]]],
    rules: RecordList,
    dangling: dict[str, int],
) -> list[_Document]:
    """Each user's document, from their memory rows (read from the database in turn) and the
    groups of their ids, taken in the same order: the first row of an id takes its group (a
    group of more rows keeps what belongs to the id for the next ones), whose access rules on
    the memory go to ``rules`` with the rank of its last row's user. Then the groups of ids no
    memory row has: counted in ``dangling``."""
    ahead = next(groups, None)
    repeated: dict[str, list[Any]] = {}  # id of several rows -> [rows to come, belonging]
    documents = []
    for rank in range(len(users.order)):
        document = _Document(arrays)
        for row in users.memories(conn, tables, ctx, rank):
            key = _key(row["id"])
            again = repeated.get(key)
            if again is not None:
                again[0] -= 1
                if not again[0]:
                    del repeated[key]
                document.add(row, again[1])
                continue
            if ahead is None or ahead[0] != key:  # (the groups follow the rows)
                raise AssertionError(f"memory {key} read out of the order of its group")
            places = [place for place, item in ahead[1] if item is None]
            belonging = [item for _place, item in ahead[1] if item is not None]
            ahead = next(groups, None)
            last = max(places, key=lambda place: place & ((1 << RANK_SHIFT) - 1))
            for kind, item in belonging:
                if kind == "c":
                    owner = last >> RANK_SHIFT
                    if users.order[owner] is None:
                        dangling["access_controls"] += 1
                    else:
                        rules.append([owner, item[0], item[1]])
            belonging = [item for item in belonging if item[0] != "c"]
            if len(places) > 1:
                repeated[key] = [len(places) - 1, belonging]
            document.add(row, belonging)
        document.done()
        documents.append(document)
    while ahead is not None:  # rows that refer to a memory not in the database
        for _place, (kind, _item) in ahead[1]:
            dangling[KINDS.get(kind, "access_controls")] += 1
        ahead = next(groups, None)
    return documents


def read(conn: sqlite3.Connection, tables: Tables, ctx: ReadContext) -> dict:
    """The database as one backup-shaped document per user (see the module docstring):
    ``{"openmemory_db": {schema, counts}, "users": [{user, apps, categories, memories,
    memory_categories, status_history, access_controls, access_logs}]}``.

    The record arrays are lists, or RecordLists in the read's spool past the reader's budget
    (``Arrays``). The rows that refer to a memory are grouped by memory id, in the order of the
    documents, by SQLite in the spool (``Spool.grouped``); each user's memories are read from
    the database in turn and written with them to the user's arrays, one memory at a time.
    Users, apps and categories are read into memory; nothing is kept per memory."""
    users = {u["id"]: u for u in _rows(conn, tables, "users", USER_COLUMNS, ctx)}
    apps = {a["id"]: a for a in _rows(conn, tables, "apps", APP_COLUMNS, ctx)}
    for app in apps.values():
        if isinstance(app["is_active"], int):  # SQLite's Boolean; the backup has true/false
            app["is_active"] = bool(app["is_active"])
    categories = {c["id"]: c for c in _rows(conn, tables, "categories", CATEGORY_COLUMNS, ctx)}

    dangling = dict.fromkeys(DANGLING, 0)  # rows that refer to no memory / category, by table
    rules = ctx.records()  # [rank, index, rule]: each access rule, with its user's rank
    order = _Users(users)
    entries = _entries(conn, tables, ctx, order, apps, categories, rules, dangling)
    arrays = Arrays(ctx)
    groups = rules.spool.grouped(entries)
    documents = _documents(conn, tables, ctx, arrays, order, groups, rules, dangling)
    if rules:  # each user's rules, in the order of the table
        placed = ((str(rank), (rank << RANK_SHIFT) + j, rule) for rank, j, rule in rules)
        for rank_key, group in rules.spool.grouped(placed):
            document = documents[int(rank_key)]
            for _place, rule in group:
                document.rules = arrays.add(document.rules, rule)
            Arrays.done(document.rules)

    owned: dict[Any, list[dict]] = {}  # user id -> the apps the user owns
    for app in apps.values():
        owned.setdefault(app["owner_id"], []).append(app)
    docs = []
    for user_id, document in zip(order.order, documents, strict=True):
        mine = owned.get(user_id, [])
        others = document.app_ids - {a["id"] for a in mine}  # apps of other owners
        docs.append(
            {
                "user": users.get(user_id) or {"id": user_id},
                "apps": mine + [apps[a] for a in sorted(others, key=str) if a in apps],
                "categories": sorted(
                    (categories[c] for c in document.category_ids), key=lambda c: str(c["id"])
                ),
                "memories": document.memories,
                "memory_categories": document.links,
                "status_history": document.history,
                "access_controls": document.rules,
                "access_logs": document.accesses,
            }
        )

    used = {c for document in documents for c in document.category_ids}
    counted = {
        name: _count(conn, name)
        for name in sorted(tables)
        if name in ("archive_policies", "configs")
        or (name not in KNOWN and not name.startswith("sqlite_"))
    }
    return {
        "openmemory_db": {
            "schema": _revision(conn, tables),
            "archive_policies": counted.pop("archive_policies", 0),
            "configs": counted.pop("configs", 0),
            "unknown_tables": counted,
            "dangling": {table: n for table, n in dangling.items() if n},
            "unused_categories": len(categories.keys() - used),
        },
        "users": docs,
    }


LAYOUTS: tuple[Layout, ...] = (
    SqliteLayout(
        id=LAYOUT_ID,
        label="OpenMemory database (openmemory.db)",
        matches=matches,
        read=read,
        streams=True,
    ),
)
