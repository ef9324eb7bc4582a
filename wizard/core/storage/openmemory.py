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
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from wizard.core.storage import Layout, ReadContext, SqliteLayout, Tables

LAYOUT_ID = "openmemory-db"
BATCH = 500  # rows fetched between two cancellation checks

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
        return _uuid(value)
    if column in TIMES:
        return _time(value)
    if column in JSONS:
        return _json(value)
    return value


def _rows(
    conn: sqlite3.Connection,
    tables: Tables,
    table: str,
    columns: tuple[str, ...],
    ctx: ReadContext,
) -> Iterator[dict]:
    """Each row of ``table`` as a dict of ``columns`` (None for a column the table lacks), in
    the order they were written, fetched in batches with a cancellation check between them."""
    if table not in tables:
        return
    present = [c for c in columns if c in tables[table]]
    if not present:
        return
    select = f"SELECT {', '.join(_quoted(c) for c in present)} FROM {_quoted(table)}"
    try:
        cursor = conn.execute(f"{select} ORDER BY rowid")
    except sqlite3.OperationalError:  # a table without rowid: its primary key's order
        cursor = conn.execute(select)
    while True:
        ctx.check()
        batch = cursor.fetchmany(BATCH)
        if not batch:
            return
        for values in batch:
            found = dict(zip(present, values, strict=True))
            yield {c: _value(c, found.get(c)) for c in columns}


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


def read(conn: sqlite3.Connection, tables: Tables, ctx: ReadContext) -> dict:
    """The database as one backup-shaped document per user (see the module docstring):
    ``{"openmemory_db": {schema, counts}, "users": [{user, apps, categories, memories,
    memory_categories, status_history, access_controls, access_logs}]}``."""
    users = {u["id"]: u for u in _rows(conn, tables, "users", USER_COLUMNS, ctx)}
    apps = {a["id"]: a for a in _rows(conn, tables, "apps", APP_COLUMNS, ctx)}
    for app in apps.values():
        if isinstance(app["is_active"], int):  # SQLite's Boolean; the backup has true/false
            app["is_active"] = bool(app["is_active"])
    categories = {c["id"]: c for c in _rows(conn, tables, "categories", CATEGORY_COLUMNS, ctx)}

    memories: dict[Any, list[dict]] = {}  # user id -> the user's memory rows
    owner: dict[Any, Any] = {}  # memory id -> user id
    for row in _rows(conn, tables, "memories", MEMORY_COLUMNS, ctx):
        memories.setdefault(row["user_id"], []).append(row)
        owner[row["id"]] = row["user_id"]

    dangling: dict[str, int] = {}  # rows that refer to no memory / category, by table
    links: dict[Any, list[dict]] = {}
    link_rows = _rows(conn, tables, "memory_categories", ("memory_id", "category_id"), ctx)
    for link in link_rows:
        if link["memory_id"] in owner and link["category_id"] in categories:
            links.setdefault(link["memory_id"], []).append(link)
        else:
            dangling["memory_categories"] = dangling.get("memory_categories", 0) + 1
    by_memory: dict[str, dict[Any, list[dict]]] = {"status_history": {}, "access_logs": {}}
    for key, table, columns in (
        ("status_history", "memory_status_history", HISTORY_COLUMNS),
        ("access_logs", "memory_access_logs", LOG_COLUMNS),
    ):
        for row in _rows(conn, tables, table, columns, ctx):
            if row["memory_id"] in owner:
                by_memory[key].setdefault(row["memory_id"], []).append(row)
            else:
                dangling[table] = dangling.get(table, 0) + 1

    # An access rule belongs to the user who owns its subject app or its object memory.
    controls: dict[Any, list[dict]] = {}
    for rule in _rows(conn, tables, "access_controls", CONTROL_COLUMNS, ctx):
        subject = apps.get(rule["subject_id"]) if rule["subject_type"] == "app" else None
        user = subject["owner_id"] if subject else owner.get(rule["object_id"])
        if user is None:
            dangling["access_controls"] = dangling.get("access_controls", 0) + 1
        else:
            controls.setdefault(user, []).append(rule)

    owned: dict[Any, list[dict]] = {}  # user id -> the apps the user owns
    for app in apps.values():
        owned.setdefault(app["owner_id"], []).append(app)
    documents = []
    # Users in the order they were made, then owners of memories with no user row.
    for user_id in [*users, *(u for u in memories if u not in users)]:
        ctx.check()
        rows = memories.get(user_id, [])
        mids = [m["id"] for m in rows]
        for m in rows:
            m["category_ids"] = [link["category_id"] for link in links.get(m["id"], [])]
        mine = owned.get(user_id, [])
        others = {m["app_id"] for m in rows} - {a["id"] for a in mine}  # apps of other owners
        used_categories = {c for m in rows for c in m["category_ids"]}
        documents.append(
            {
                "user": users.get(user_id) or {"id": user_id},
                "apps": mine + [apps[a] for a in sorted(others, key=str) if a in apps],
                "categories": sorted(
                    (categories[c] for c in used_categories), key=lambda c: str(c["id"])
                ),
                "memories": rows,
                "memory_categories": [link for mid in mids for link in links.get(mid, [])],
                "status_history": [
                    h for mid in mids for h in by_memory["status_history"].get(mid, [])
                ],
                "access_controls": controls.get(user_id, []),
                "access_logs": [
                    log for mid in mids for log in by_memory["access_logs"].get(mid, [])
                ],
            }
        )

    used = {link["category_id"] for group in links.values() for link in group}
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
            "dangling": dangling,
            "unused_categories": len(categories.keys() - used),
        },
        "users": documents,
    }


LAYOUTS: tuple[Layout, ...] = (
    SqliteLayout(
        id=LAYOUT_ID,
        label="OpenMemory database (openmemory.db)",
        matches=matches,
        read=read,
    ),
)
