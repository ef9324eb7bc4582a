"""Storage layouts of the letta family: Letta's own SQLite database (``~/.letta/sqlite.db``).

Letta up to 0.11.7 kept everything in one SQLite database built by SQLAlchemy's ``create_all``
(no migrations: every release's tables are simply those of its ORM). Three generations of
passage tables are recognised by their tables, never by a version string (docs/SOURCES.md 3):

- ``passages`` (0.6.4): one table; archival passages carry ``agent_id``, source passages
  ``source_id``/``file_id`` (attaching a source copied the agent's id onto its passages);
- ``agent_passages`` + ``source_passages`` (0.6.6 to 0.10.x);
- ``archival_passages`` + ``source_passages`` + ``archives`` + ``archives_agents`` (0.11.0 on):
  an archival passage belongs to an archive, an archive to its agents.

``read`` builds one document shaped like the current Agent File (``agents[]`` with their
``messages``, ``blocks[]``, ``groups[]``, ``sources[]``) plus what only the database holds:
every message (not only the in-context ones), ``block_history``, archival and source
passages, archives, soft-deleted rows (flagged ``is_deleted``; deleted messages are only
counted), and the number of rows of the tables that are not read. The adapter
(``wizard.core.adapters.letta.convert_sqlite``) converts it.

The big tables (messages, archival and source passages, blocks and their history) are read as
a JSON file is (``jsonstream``): their rows are kept in lists until they cost the reader's
budget (``spool.SPILL_AFTER``), then in the read's spool (``ReadContext.records``), where the
adapter converts them from a chunk at a time. Each agent's messages are one array,
read in one query ordered by agent (so each array is filled, and stored, before the next).
Agents, groups, sources, files and archives stay in memory: a database holds a few of them.

What is never read: secrets and credentials (rule 6): the values of agent and sandbox
environment variables, ``providers``, ``tokens``, MCP servers and their OAuth rows, sandbox
configurations, identities (their properties may hold credentials), and any column whose name
says key, token, secret or password. Those tables are only counted (``SELECT COUNT(*)``).
Embedding vectors are not read either: only their presence, encoding and stored size
(``length()`` and the first bytes, to tell base64 text, <= 0.8.17, from raw float32, >= 0.9.0).
Tools are read by name only (no source code); steps, jobs and other run records are counted.

Older generations lack columns (0.6.4: no ``content`` on messages, only ``text``; no
``block_history``; agents keep ``tool_names``): a column is read only when ``tables`` lists it.
JSON columns are stored as text and parsed; a value that is not valid JSON is kept as text.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from typing import Any

from wizard.core.spool import RecordList
from wizard.core.storage import Arrays, Layout, ReadContext, SqliteLayout, Tables

LAYOUT_ID = "letta-sqlite"

SINGLE = "passages"  # 0.6.4
AGENT = "agent_passages"  # 0.6.6 - 0.10.x
ARCHIVAL = "archival_passages"  # 0.11.0 +

# Bookkeeping columns of every table: never carried into the document.
BOOKKEEPING = frozenset(
    {"organization_id", "_created_by_id", "_last_updated_by_id", "user_id", "_vector_db_namespace"}
)
# A column whose name says it holds a credential is never selected, in any table.
_SECRET_COLUMN = re.compile(r"(api_?key|access_key|token|secret|password|credential)", re.I)
# Tables that hold secrets or credentials: counted, never read.
SECRET_TABLES = (
    "agent_environment_variables",
    "sandbox_environment_variables",
    "sandbox_configs",
    "providers",
    "tokens",
    "mcp_server",
    "mcp_oauth",
    "identities",
)
# Run records with no place in agentmemory: counted.
RUN_TABLES = (
    "steps",
    "step_metrics",
    "jobs",
    "job_messages",
    "provider_traces",
    "llm_batch_job",
    "llm_batch_items",
    "prompts",
)
JSON_COLUMNS = frozenset(
    {"content", "tool_calls", "tool_returns", "metadata_", "tags", "message_ids"}
    | {"llm_config", "embedding_config", "tool_rules", "response_format", "tool_names"}
    | {"agent_ids", "properties", "config"}
)
BOOL_COLUMNS = frozenset(
    {"is_deleted", "read_only", "is_template", "preserve_on_migration", "is_err", "approve"}
    | {"message_buffer_autoclear", "enable_sleeptime", "hidden", "is_owner"}
)
_BASE64 = re.compile(rb"[A-Za-z0-9+/=]+")


# --- recognising the schema -------------------------------------------------------------------


def generation(tables: Tables) -> str | None:
    """Which passage generation the database has (SINGLE, AGENT, ARCHIVAL), or None."""
    if {ARCHIVAL, "source_passages", "archives", "archives_agents"} <= tables.keys():
        return ARCHIVAL
    if {AGENT, "source_passages"} <= tables.keys():
        return AGENT
    if SINGLE in tables and {"agent_id", "source_id"} <= tables[SINGLE]:
        return SINGLE
    return None


def matches(tables: Tables) -> bool:
    """Letta's tables: agents, messages, core memory blocks and one passage generation."""
    needed = {
        "agents": {"id", "name", "system", "message_ids"},
        "messages": {"id", "agent_id", "role"},
        "block": {"id", "label", "value"},
        "blocks_agents": {"agent_id", "block_id"},
    }
    if any(not cols <= tables.get(name, frozenset()) for name, cols in needed.items()):
        return False
    return generation(tables) is not None


# --- reading helpers --------------------------------------------------------------------------


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _readable(tables: Tables, table: str, skip: frozenset[str] = frozenset()) -> list[str]:
    """The columns of a table that may be read: present, not bookkeeping, not secret-named."""
    return sorted(
        c
        for c in tables.get(table, frozenset())
        if c not in BOOKKEEPING and c not in skip and not _SECRET_COLUMN.search(c)
    )


def _value(column: str, value: Any) -> Any:
    if isinstance(value, bytes):  # (only embeddings are blobs; they are never selected)
        return None
    if column in JSON_COLUMNS and isinstance(value, str):
        try:  # NaN and infinities (which JSON cannot hold) become null, as the spool has them
            return json.loads(value, parse_constant=lambda _name: None)
        except ValueError:
            return value
    if column in BOOL_COLUMNS and isinstance(value, int):
        return bool(value)
    return value


def _key(column: str) -> str:
    """The Agent File's name of a column (``metadata_`` is ``metadata`` there)."""
    return "metadata" if column == "metadata_" else column


def _rows(
    conn: sqlite3.Connection,
    ctx: ReadContext,
    table: str,
    columns: list[str],
    where: str = "",
    order: str = "",
    params: tuple = (),
) -> Iterator[dict]:
    """The rows of a table as dicts (JSON parsed, flags as booleans), in batches."""
    if not columns:
        return
    sql = f"SELECT {', '.join(_q(c) for c in columns)} FROM {_q(table)}"
    if where:
        sql += f" WHERE {where}"
    if order:
        sql += f" ORDER BY {order}"
    for row in ctx.fetched(conn.execute(sql, params)):
        yield {_key(c): _value(c, v) for c, v in zip(columns, row, strict=True)}


def _count(conn: sqlite3.Connection, tables: Tables, table: str, where: str = "") -> int:
    if table not in tables:
        return 0
    sql = f"SELECT COUNT(*) FROM {_q(table)}" + (f" WHERE {where}" if where else "")
    return int(conn.execute(sql).fetchone()[0])


def _pairs(
    conn: sqlite3.Connection, ctx: ReadContext, tables: Tables, table: str, a: str, b: str
) -> list[tuple[str, str]]:
    """(a, b) of a junction table, live rows only where it has ``is_deleted`` (0.6.4)."""
    cols = tables.get(table, frozenset())
    if not {a, b} <= cols:
        return []
    where = "COALESCE(is_deleted, 0) = 0" if "is_deleted" in cols else ""
    return [(r[a], r[b]) for r in _rows(conn, ctx, table, [a, b], where, f"{_q(a)}, rowid")]


def _embedding(length: Any, head: Any) -> dict | None:
    """How a passage's embedding is stored, from its ``length()`` and first bytes:
    {encoding, stored} (never the vector), or None when it has none."""
    if not length:
        return None
    raw = head if isinstance(head, bytes) else str(head).encode("latin-1", "replace")
    if _BASE64.fullmatch(raw):  # <= 0.8.17: base64 of the float32 bytes
        return {"encoding": "base64-float32", "stored": length * 3 // 4 // 4}
    return {"encoding": "float32", "stored": length // 4}  # >= 0.9.0: the float32 bytes


# --- reading the database ---------------------------------------------------------------------


def read(conn: sqlite3.Connection, tables: Tables, ctx: ReadContext) -> dict:
    """The database as an Agent-File-shaped document (see the module docstring)."""
    gen = generation(tables)
    if gen is None:  # (the plumbing only calls read when matches() said yes)
        raise ValueError("not a Letta database: no passage tables")
    arrays = Arrays(ctx)
    agents = _agents(conn, tables, ctx)
    by_id = {a["id"]: a for a in agents}
    deleted_messages = _messages(conn, tables, ctx, by_id, arrays)
    blocks = arrays.fill(_rows(conn, ctx, "block", _readable(tables, "block"), order="rowid"))
    history = (
        arrays.fill(
            _rows(
                conn,
                ctx,
                "block_history",
                _readable(tables, "block_history"),
                order="block_id, sequence_number, rowid",
            )
        )
        if "block_history" in tables
        else []
    )
    groups = _groups(conn, tables, ctx, by_id)
    sources, files = _sources(conn, tables, ctx)
    archives = _archives(conn, tables, ctx)
    passages, source_passages = _passages(conn, tables, ctx, gen, archives, arrays)
    return {
        "generation": gen,
        "agents": agents,
        "blocks": blocks,
        "block_history": history,
        "groups": groups,
        "sources": sources,
        "files": files,
        "archives": archives,
        "passages": passages,
        "source_passages": source_passages,
        "counts": {
            "deleted_messages": deleted_messages,
            "file_contents": _count(conn, tables, "file_contents"),
            "secrets": {t: _count(conn, tables, t) for t in SECRET_TABLES if t in tables},
            "runs": {t: _count(conn, tables, t) for t in RUN_TABLES if t in tables},
        },
    }


def _agents(conn: sqlite3.Connection, tables: Tables, ctx: ReadContext) -> list[dict]:
    agents = []
    for row in _rows(conn, ctx, "agents", _readable(tables, "agents"), order="created_at, rowid"):
        row["in_context_message_ids"] = row.pop("message_ids", None) or []
        row["tags"] = []
        row["block_ids"] = []
        row["tool_ids"] = []
        names = row.pop("tool_names", None)  # 0.6.4 keeps the names on the agent
        row["tools"] = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
        row["source_ids"] = []
        row["group_ids"] = []
        row["messages"] = []
        agents.append(row)
    by_id = {a["id"]: a for a in agents}
    for agent_id, tag in _pairs(conn, ctx, tables, "agents_tags", "agent_id", "tag"):
        if agent_id in by_id:
            by_id[agent_id]["tags"].append(tag)
    for agent_id, block_id in _pairs(conn, ctx, tables, "blocks_agents", "agent_id", "block_id"):
        if agent_id in by_id and block_id not in by_id[agent_id]["block_ids"]:
            by_id[agent_id]["block_ids"].append(block_id)
    tool_names = {}
    if {"id", "name"} <= tables.get("tools", frozenset()):
        tool_names = {r["id"]: r["name"] for r in _rows(conn, ctx, "tools", ["id", "name"])}
    for agent_id, tool_id in _pairs(conn, ctx, tables, "tools_agents", "agent_id", "tool_id"):
        agent = by_id.get(agent_id)
        if agent is not None:
            agent["tool_ids"].append(tool_id)
            name = tool_names.get(tool_id)
            if name and name not in agent["tools"]:
                agent["tools"].append(name)
    for table in ("sources_agents", "agent_source_mapping"):
        for agent_id, source_id in _pairs(conn, ctx, tables, table, "agent_id", "source_id"):
            agent = by_id.get(agent_id)
            if agent is not None and source_id not in agent["source_ids"]:
                agent["source_ids"].append(source_id)
    return agents


# Message columns that are bookkeeping of the database, not of the message.
MESSAGE_SKIP = frozenset({"text", "sequence_id", "step_id", "updated_at", "is_deleted"})


def _messages(
    conn: sqlite3.Connection,
    tables: Tables,
    ctx: ReadContext,
    agents: dict[str, dict],
    arrays: Arrays,
) -> int:
    """Put every live message into its agent's ``messages`` (oldest first, as the agent wrote
    them), one agent after the other; returns the number of soft-deleted messages (counted,
    not carried)."""
    cols = tables["messages"]
    columns = _readable(tables, "messages", MESSAGE_SKIP)
    if "text" in cols:  # the text of messages without content parts (0.6.4 and older rows)
        columns.append("text")
    # by agent (Letta's index on agent_id and sequence_id serves it), then in each agent's
    # order: every agent's array is filled before the next one starts
    order = "agent_id, "
    order += ("sequence_id, " if "sequence_id" in cols else "") + "created_at, rowid"
    where = "COALESCE(is_deleted, 0) = 0" if "is_deleted" in cols else ""
    agent: dict | None = None
    for row in _rows(conn, ctx, "messages", columns, where, order):
        text = row.pop("text", None)
        if not isinstance(row.get("content"), list) or not row["content"]:
            row["content"] = [{"type": "text", "text": text}] if isinstance(text, str) else []
        message = {"type": "message", **row}
        mine = agents.get(row.get("agent_id") or "")
        if mine is not agent:
            if agent is not None:
                arrays.done(agent["messages"])
            agent = mine
        if agent is not None:
            agent["messages"] = arrays.add(agent["messages"], message)
    if agent is not None:
        arrays.done(agent["messages"])
    return _count(conn, tables, "messages", "is_deleted = 1") if "is_deleted" in cols else 0


def _groups(
    conn: sqlite3.Connection, tables: Tables, ctx: ReadContext, agents: dict[str, dict]
) -> list[dict]:
    if "groups" not in tables:
        return []
    groups = list(_rows(conn, ctx, "groups", _readable(tables, "groups"), order="rowid"))
    members: dict[str, list[str]] = {}
    for group_id, agent_id in _pairs(conn, ctx, tables, "groups_agents", "group_id", "agent_id"):
        members.setdefault(group_id, []).append(agent_id)
    for group in groups:
        listed = group.get("agent_ids")
        ids = list(listed) if isinstance(listed, list) else []
        group["agent_ids"] = list(dict.fromkeys(ids + members.get(group["id"], [])))
        for agent_id in group["agent_ids"]:
            agent = agents.get(agent_id)
            if agent is not None and group["id"] not in agent["group_ids"]:
                agent["group_ids"].append(group["id"])
    return groups


def _sources(
    conn: sqlite3.Connection, tables: Tables, ctx: ReadContext
) -> tuple[list[dict], list[dict]]:
    sources = (
        list(_rows(conn, ctx, "sources", _readable(tables, "sources"), order="rowid"))
        if "sources" in tables
        else []
    )
    files = (
        list(_rows(conn, ctx, "files", _readable(tables, "files"), order="rowid"))
        if "files" in tables
        else []
    )
    return sources, files


def _archives(conn: sqlite3.Connection, tables: Tables, ctx: ReadContext) -> list[dict]:
    if "archives" not in tables:
        return []
    archives = list(_rows(conn, ctx, "archives", _readable(tables, "archives"), order="rowid"))
    owners: dict[str, list[str]] = {}
    cols = tables.get("archives_agents", frozenset())
    if {"agent_id", "archive_id"} <= cols:
        order = ("is_owner DESC, " if "is_owner" in cols else "") + "rowid"
        for row in _rows(conn, ctx, "archives_agents", ["archive_id", "agent_id"], order=order):
            owners.setdefault(row["archive_id"], []).append(row["agent_id"])
    for archive in archives:
        archive["agent_ids"] = owners.get(archive["id"], [])
    return archives


PASSAGE_SKIP = frozenset({"embedding", "embedding_config"})


def _passages(
    conn: sqlite3.Connection,
    tables: Tables,
    ctx: ReadContext,
    gen: str,
    archives: list[dict],
    arrays: Arrays,
) -> tuple[list[dict] | RecordList, list[dict] | RecordList]:
    """(archival passages, source passages), each with its agent or source, and a note of how
    its embedding is stored instead of the vector."""
    archive_agent = {a["id"]: a["agent_ids"][0] for a in archives if len(a["agent_ids"]) == 1}

    def table_rows(table: str, where: str = "", archival: bool = False) -> Iterator[dict]:
        columns = _readable(tables, table, PASSAGE_SKIP)
        if not columns:  # (a table with nothing the wizard reads: no passages)
            return
        embedded = "embedding" in tables.get(table, frozenset())
        sql = f"SELECT {', '.join(_q(c) for c in columns)}"
        if embedded:  # its size and first bytes only (see _embedding)
            sql += ", length(embedding), substr(embedding, 1, 16)"
        sql += f" FROM {_q(table)}" + (f" WHERE {where}" if where else "")
        for values in ctx.fetched(conn.execute(sql + " ORDER BY created_at, rowid")):
            mine = values[: len(columns)]
            row = {_key(c): _value(c, v) for c, v in zip(columns, mine, strict=True)}
            row["embedding"] = _embedding(*values[len(columns) :]) if embedded else None
            archive = row.get("archive_id")
            if archival and not row.get("agent_id") and archive in archive_agent:
                row["agent_id"] = archive_agent[archive]
            yield row

    if gen == SINGLE:
        archival = arrays.fill(table_rows(SINGLE, "source_id IS NULL", archival=True))
        documents = arrays.fill(table_rows(SINGLE, "source_id IS NOT NULL"))
    else:
        archival = arrays.fill(table_rows(gen, archival=True))
        documents = arrays.fill(table_rows("source_passages"))
    return archival, documents


LAYOUTS: tuple[Layout, ...] = (
    SqliteLayout(
        id=LAYOUT_ID,
        label="Letta server database (~/.letta/sqlite.db, Letta 0.6 to 0.11)",
        matches=matches,
        read=read,
        streams=True,
    ),
)
