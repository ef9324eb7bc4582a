"""mem0 sources: OSS ``get_all``/``search`` output, Platform pages, history rows, the
OSS-to-Platform migration file, and the Platform's schema-shaped export (refused).

Shapes: ``docs/MEM0.md`` sections 1-6. Mapping: FORMATS.md section 6 and docs/MAPPING.md.

Identity. A memory keeps its mem0 id (a UUID, unique in a mem0 install), so the same memory is
the same record from any export. Its owner is its user when it has one, else its agent, else its
run: ``project`` names the owner (``mem0:user:alice``, ``mem0:agent:support``,
``mem0:run:run-7``, or ``mem0``) and ``agentId`` carries the agent whenever there is one. A
session is one run of one owner: ``mem0-run-<stable id of (owner, run id)>``, so two users' runs
called "run-2" are two sessions. Graph entities and relations are scoped the same way (by the
file's owner when it has exactly one, else by the set of owners). The source item is kept
verbatim in ``source.raw``; what only that copy holds is counted in ``left_behind``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from wizard.core import canonical
from wizard.core.formats import (
    NO_MATCH,
    Conversion,
    ConvertOptions,
    Format,
    Payload,
    Sniff,
    never_raises,
    storage_sniff,
)
from wizard.core.losses import Kept, Losses
from wizard.core.problems import Code, InputRefused, Problem
from wizard.core.spool import CountedObject, RecordList, empty_like, grouped, is_array, latest

SYSTEM = "mem0"
SAMPLE = 20  # sniff looks at no more than this many items

OSS = "mem0-oss"
PLATFORM = "mem0-platform"
HISTORY = "mem0-history"
MIGRATION = "mem0-migration"
STRUCTURED = "mem0-platform-structured-export"
# a mem0 install's own storage (wizard.core.storage.mem0 reads it; docs/SOURCES.md)
HISTORY_DB = "mem0-history-db"
QDRANT_LOCAL = "mem0-qdrant-local"
INSTALL = "mem0-install"
TS_LOCAL = "mem0-ts-local"
FAISS = "mem0-faiss"

MIGRATION_KIND = "mem0_oss_qdrant_export"
# Item keys only the Platform emits (MEM0.md 3.1; camelCase from the TypeScript client).
PLATFORM_KEYS = frozenset(
    {
        "categories",
        "structured_attributes",
        "structuredAttributes",
        "session_id",
        "sessionId",
        "immutable",
        "owner",
        "organization",
        "app_id",
        "appId",
        "replaced_by",
        "synthesized",
        "lifecycle_state",
        "input",
    }
)
PAGE_KEYS = ("count", "next", "previous", "results")
# Top-level keys of the other families' files: an object holding one of them is not a
# Platform structured export (agentmemory ExportData, Letta agent files, mem0/OpenMemory dumps).
KNOWN_TOP_KEYS = frozenset(
    {
        "version",
        "sessions",
        "observations",
        "memories",
        "summaries",
        "exportedAt",
        "agents",
        "blocks",
        "core_memory",
        "messages",
        "llm_config",
        "tools",
        "groups",
        "results",
        "relations",
        "entities",
        "records",
        "kind",
        "count",
        "next",
        "previous",
        "status",
        "command",
        "data",
        "items",
        "export_meta",
        "apps",
        "categories",
        "user",
        "id",
        "memory",
        "memory_id",
        "text",
        "content",
        "error",
        "message",
    }
)
GRAPH_NODE_TYPES = frozenset(
    {
        "file",
        "function",
        "concept",
        "error",
        "decision",
        "pattern",
        "library",
        "person",
        "project",
        "preference",
        "location",
        "organization",
        "event",
    }
)
NODE_TYPE_ALIASES = {
    "city": "location",
    "country": "location",
    "place": "location",
    "address": "location",
    "company": "organization",
    "org": "organization",
    "employer": "organization",
    "team": "organization",
    "user": "person",
    "people": "person",
}


# --- reading mem0 items -----------------------------------------------------------------------


def _first(item: dict, *keys: str) -> Any:
    """The first of ``keys`` (snake_case then camelCase spellings) with a present value."""
    for key in keys:
        value = item.get(key)
        if value not in (None, "", "None"):
            return value
    return None


def _text_id(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _metadata(item: dict) -> dict:
    meta = item.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _scope(item: dict) -> tuple[str | None, str | None, str | None]:
    """(user id, agent id, run id) of a mem0 item; Platform's ``session_id`` is the run id."""
    user = _first(item, "user_id", "userId")
    agent = _first(item, "agent_id", "agentId")
    run = _first(item, "run_id", "runId", "session_id", "sessionId")
    return (
        user if isinstance(user, str) else None,
        agent if isinstance(agent, str) else None,
        run if isinstance(run, str) else None,
    )


def _owner(user: str | None, agent: str | None, run: str | None) -> tuple[str, str] | None:
    """Who a memory belongs to: (kind, id) for its user, else its agent, else its run."""
    for kind, who in (("user", user), ("agent", agent), ("run", run)):
        if who:
            return kind, who
    return None


def _project(owner: tuple[str, str] | None) -> str:
    """``mem0:user:alice``, ``mem0:agent:support``, ``mem0:run:r1``, or ``mem0``."""
    return f"{SYSTEM}:{owner[0]}:{owner[1]}" if owner else SYSTEM


def _session_id(owner: tuple[str, str] | None, run: str) -> str:
    """One session per owner and run."""
    kind, who = owner if owner else ("", "")
    return f"mem0-run-{canonical.stable_id('mem0-run', kind, who, run)}"


# Item fields that reach an agentmemory field (the rest stay only in the verbatim copy).
MAPPED_KEYS = frozenset(
    {
        "id",
        "memory",
        "created_at",
        "createdAt",
        "updated_at",
        "updatedAt",
        "user_id",
        "userId",
        "agent_id",
        "agentId",
        "run_id",
        "runId",
        "session_id",
        "sessionId",
        "categories",
        "expiration_date",
        "expirationDate",
    }
)
# How the verbatim-only fields are named in the left-behind list.
FIELD_WORDS = {
    "metadata": "custom metadata",
    "hash": "content hash",
    "role": "who said it: user or assistant",
    "actor_id": "actor id (who said it)",
    "score": "search score",
}


def _count_verbatim(item: dict, losses: Losses) -> None:
    """Count the fields of an item that only its verbatim copy keeps."""
    for key, value in item.items():
        if key in MAPPED_KEYS or value in (None, "", [], {}):
            continue
        if key == "metadata" and isinstance(value, dict) and not set(value) - {"memory_type"}:
            continue  # memory_type is mapped to the memory's type
        losses.add(
            f"mem0.{key}",
            f"memory field '{key}' ({FIELD_WORDS[key]})"
            if key in FIELD_WORDS
            else f"memory field '{key}'",
            Kept.VERBATIM_ONLY,
        )


def _categories(item: dict) -> list[str]:
    cats = item.get("categories")
    if not isinstance(cats, list):
        return []
    return [c for c in cats if isinstance(c, str) and c]


def _mem_type(item: dict) -> str:
    return "workflow" if _metadata(item).get("memory_type") == "procedural_memory" else "fact"


def _memory(
    mid: str, text: str, item: dict, fmt: str, raw: Any, *, created: Any = None, updated: Any = None
) -> dict:
    """A canonical Memory from a mem0 item (times may be given when rebuilt from history)."""
    user, agent, run = _scope(item)
    owner = _owner(user, agent, run)
    if created is None:
        created = _first(item, "created_at", "createdAt")
    if updated is None:
        updated = _first(item, "updated_at", "updatedAt")
    expires = canonical.utc_iso(_first(item, "expiration_date", "expirationDate"))
    record = canonical.memory_record(
        mid,
        text,
        created_at=canonical.utc_iso(created),
        updated_at=canonical.utc_iso(updated),
        mem_type=_mem_type(item),
        concepts=_categories(item),
        session_ids=[_session_id(owner, run)] if run else [],
        source=canonical.source_block(SYSTEM, fmt, raw),
        agentId=agent,
        project=_project(owner),
        forgetAfter=expires,
    )
    return record  # the importer stamps its origin (canonical.stamp_origin)


def _item_memory(item: Any, path: str, fmt: str) -> dict | Problem:
    """Convert one get_all/search item, or say why it is unusable (a Problem)."""
    if not isinstance(item, dict):
        return Problem(
            path, "not an object: a mem0 memory item is expected", code=Code.UNCONVERTIBLE_RECORD
        )
    mid = _text_id(item.get("id"))
    if mid is None:
        return Problem(f"{path}.id", "missing or empty memory id", code=Code.UNCONVERTIBLE_RECORD)
    text = item.get("memory")
    if not isinstance(text, str):
        return Problem(
            f"{path}.memory",
            "memory text is missing or not a string",
            code=Code.UNCONVERTIBLE_RECORD,
        )
    return _memory(mid, text, item, fmt, item)


# --- building the canonical document ----------------------------------------------------------


def _dedupe(memories: list[dict] | RecordList, warnings: list[Problem]) -> list[dict] | RecordList:
    """One memory per id: the most recently updated one (the first on a tie), where the
    kept version stands in the file. The ids are compared in the spool for spooled memories
    (``spool.latest``): nothing per memory is kept in memory."""
    spool = memories.spool if isinstance(memories, RecordList) else None
    keys, losers = latest(
        ((mem["id"], mem["updatedAt"] or "", seq) for seq, mem in enumerate(memories)), spool
    )
    dropped = len(memories) - keys
    if not dropped:
        return memories
    warnings.append(
        Problem(
            "",
            f"{dropped} duplicate memory id(s): kept the latest version",
            code=Code.DUPLICATE_KEY,
        )
    )
    out = empty_like(memories)
    lost = next(losers, None)
    for seq, mem in enumerate(memories):
        if seq == lost:
            lost = next(losers, None)
        else:
            out.append(mem)
    return out


def _run_of(mem: dict) -> dict:
    """What a memory's session is built from: its run id and owner, from its source item."""
    raw = mem["source"]["raw"]
    item = raw[-1] if isinstance(raw, list) and raw else raw
    user, agent, run = _scope(item) if isinstance(item, dict) else (None, None, None)
    out = {"run_id": run}
    if user:
        out["user_id"] = user
    elif agent:
        out["agent_id"] = agent
    return out


def _sessions(memories: list[dict] | RecordList, fmt: str) -> tuple[list[dict] | RecordList, str]:
    """One session per owner and run, spanning its memories' times (spooled with spooled
    memories: the memories' runs are grouped in the spool, one run in memory at a time);
    with the newest update time of the memories (what the graph is dated by), from the same
    pass."""
    spool = memories.spool if isinstance(memories, RecordList) else None
    newest = ""

    def runs() -> Iterator:
        nonlocal newest
        for seq, mem in enumerate(memories):
            newest = max(newest, mem["updatedAt"] or "")
            for sid in mem["sessionIds"]:
                part = (mem.get("project"), mem.get("agentId"), mem["createdAt"], mem["updatedAt"])
                yield sid, seq, [*part, _run_of(mem)]

    sessions = empty_like(memories)
    for sid, group in grouped(runs(), spool):
        first = group[0][1]
        starts = [created for _i, (_p, _a, created, _u, _r) in group if created]
        ends = [updated or created for _i, (_p, _a, created, updated, _r) in group]
        ends = [end for end in ends if end]
        sessions.append(
            canonical.session_record(
                sid,
                first[0] or SYSTEM,
                started_at=min(starts) if starts else None,
                ended_at=max(ends) if ends else None,
                agentId=next((agent for _i, (_p, agent, *_rest) in group if agent), None),
                source=canonical.source_block(SYSTEM, fmt, first[4]),
            )
        )
    return sessions, newest


def _node_type(kind: Any) -> str:
    if isinstance(kind, str):
        kind = kind.strip().lower()
        if kind in GRAPH_NODE_TYPES:
            return kind
        return NODE_TYPE_ALIASES.get(kind, "concept")
    return "concept"


def _node_id(scope: str, name: str) -> str:
    return f"mem0-entity-{canonical.stable_id('mem0-entity', scope, name)}"


def _graph(
    relations: Any, path: str, fmt: str, when: str, errors: list[Problem], scope: str
) -> tuple[list[dict], list[dict]]:
    """Graph nodes (one per entity name) and edges (one per distinct triple) from relations,
    their ids scoped to ``scope`` (the owners of the file's memories)."""
    nodes: dict[str, dict] = {}
    edges: dict[str, dict] = {}
    if not is_array(relations):
        return [], []
    for i, rel in enumerate(relations):
        where = f"{path}[{i}]"
        if not isinstance(rel, dict):
            errors.append(
                Problem(
                    where,
                    "not an object: a graph relation is expected",
                    code=Code.UNCONVERTIBLE_RECORD,
                )
            )
            continue
        src = rel.get("source")
        dst = _first(rel, "target", "destination")
        kind = _first(rel, "relationship", "relation")
        if not (isinstance(src, str) and src and isinstance(dst, str) and dst):
            errors.append(
                Problem(
                    where,
                    "relation without a source or target entity name",
                    code=Code.UNCONVERTIBLE_RECORD,
                )
            )
            continue
        if not isinstance(kind, str):
            errors.append(
                Problem(
                    f"{where}.relationship",
                    "relation type missing or not text",
                    code=Code.UNCONVERTIBLE_RECORD,
                )
            )
            continue
        for name, ntype in ((src, rel.get("source_type")), (dst, rel.get("target_type"))):
            if name not in nodes:
                typed = isinstance(ntype, str)
                props = {"mem0Type": ntype} if typed else {}
                raw = {"name": name, "type": ntype} if typed else {"name": name}
                nodes[name] = {
                    "id": _node_id(scope, name),
                    "type": _node_type(ntype),
                    "name": name,
                    "properties": props,
                    "sourceObservationIds": [],
                    "createdAt": when,
                    "source": canonical.source_block(SYSTEM, fmt, raw),
                }
        eid = f"mem0-rel-{canonical.stable_id('mem0-relation', scope, src, kind, dst)}"
        edges.setdefault(
            eid,
            {
                "id": eid,
                "type": kind,
                "sourceNodeId": _node_id(scope, src),
                "targetNodeId": _node_id(scope, dst),
                "weight": 1.0,
                "sourceObservationIds": [],
                "createdAt": when,
                "source": canonical.source_block(SYSTEM, fmt, rel),
            },
        )
    return list(nodes.values()), list(edges.values())


def _document(
    memories: list[dict] | RecordList,
    fmt: str,
    warnings: list[Problem],
    errors: list[Problem],
    relations: Any = None,
    relations_path: str = "relations",
) -> dict:
    memories = _dedupe(memories, warnings)
    sessions, newest = _sessions(memories, fmt)
    data = canonical.export_document(sessions=sessions, memories=memories)
    if relations is not None and not is_array(relations):
        warnings.append(
            Problem(relations_path, "relations are not a list: ignored", code=Code.WRONG_SHAPE)
        )
    elif relations:
        # Relations carry no time (MEM0.md 1.4): date them with the newest memory, so that a
        # second conversion of the same file gives the same records.
        scope = "\x1e".join(sorted({m.get("project") or SYSTEM for m in memories}))
        nodes, edges = _graph(relations, relations_path, fmt, newest, errors, scope)
        if nodes:
            data["graphNodes"] = nodes
            data["graphEdges"] = edges
    return data


def _convert_items(
    items: list | RecordList,
    base: str,
    fmt: str,
    *,
    relations: Any = None,
    relations_path: str = "relations",
    source_version: str | None = None,
    warnings: list[Problem] | None = None,
) -> Conversion:
    errors: list[Problem] = []
    warnings = warnings if warnings is not None else []
    losses = Losses()
    memories = empty_like(items)  # a spooled array's memories are spooled too
    for i, item in enumerate(items):
        converted = _item_memory(item, f"{base}[{i}]", fmt)
        if isinstance(converted, Problem):
            errors.append(converted)
        else:
            memories.append(converted)
            _count_verbatim(item, losses)
    data = _document(memories, fmt, warnings, errors, relations, relations_path)
    return Conversion(
        data=data,
        source_version=source_version,
        errors=errors,
        warnings=warnings,
        left_behind=losses.items(),
    )


# --- sniff helpers ----------------------------------------------------------------------------


def _sample(items: list | RecordList) -> list:
    return items[:SAMPLE]


def _all_dicts(items: list | RecordList) -> bool:
    return all(isinstance(i, dict) for i in items)


def _mostly(items: list | RecordList, test: Callable[[Any], bool]) -> bool:
    """At least 80% of the sampled items pass (a few broken records are reported later)."""
    sample = _sample(items)
    return bool(sample) and sum(1 for i in sample if test(i)) >= 0.8 * len(sample)


def _memory_items(items: list | RecordList) -> bool:
    """Sampled items are mem0 memory items (objects with a ``memory`` text)."""
    return _mostly(items, lambda i: isinstance(i, dict) and "memory" in i)


def _platform_items(items: list | RecordList) -> bool:
    return any(PLATFORM_KEYS & i.keys() for i in _sample(items) if isinstance(i, dict))


def _migration_items(items: list | RecordList) -> bool:
    return any("source_payload" in i for i in _sample(items) if isinstance(i, dict))


def _history_items(items: list | RecordList) -> bool:
    return _mostly(items, _is_history_row)


def _is_history_row(row: Any) -> bool:
    if not isinstance(row, dict) or "memory_id" not in row:
        return False
    python = "event" in row and ("old_memory" in row or "new_memory" in row)
    typescript = "action" in row and ("previous_value" in row or "new_value" in row)
    early = ("prev_value" in row or "new_value" in row) and ("event" in row or "timestamp" in row)
    return python or typescript or early


def _results_envelope(value: Any) -> list | RecordList | None:
    """``results`` of a get_all/search object (OSS v1.1, Platform), or None."""
    if isinstance(value, dict) and is_array(value.get("results")):
        return value["results"]
    return None


def _is_page(value: dict) -> bool:
    return all(k in value for k in PAGE_KEYS)


def _cli_items(value: Any) -> list | RecordList | None:
    """Items of a mem0 CLI ``-o json`` envelope ``{status, command, data}``, or None."""
    if not (isinstance(value, dict) and {"status", "command", "data"} <= value.keys()):
        return None
    data = value["data"]
    if isinstance(data, dict) and is_array(data.get("results")):
        data = data["results"]
    return data if is_array(data) else None


# --- mem0-oss ---------------------------------------------------------------------------------


def _oss_items(value: Any) -> tuple[list | RecordList, str, Any, str] | None:
    """(items, items path, relations, relations path) of an OSS document, or None."""
    if is_array(value):
        return value, "", None, "relations"
    if not isinstance(value, dict):
        return None
    if is_array(value.get("results")):
        return value["results"], "results", value.get("relations"), "relations"
    if is_array(value.get("memories")) and "version" not in value:
        return value["memories"], "memories", value.get("entities"), "entities"
    return None


@never_raises
def sniff_oss(payload: Payload) -> Sniff:
    """OSS ``get_all``/``search``: ``{"results": [...]}`` (+ ``relations``), a bare list of
    items, or the 2024 ``{"memories": [...], "entities": [...]}``; items have ``memory``."""
    value = payload.value
    if isinstance(value, dict) and (_is_page(value) or _cli_items(value) is not None):
        return NO_MATCH  # Platform page / CLI envelope
    found = _oss_items(value)
    if found is None:
        return NO_MATCH
    items, where, _, _ = found
    if items and not _memory_items(items):
        if where == "results" and _all_dicts(_sample(items)):
            return Sniff(0.4, "results[] items have no 'memory' text (mem0 items do)")
        if where == "" and _all_dicts(_sample(items)) and not _history_items(items):
            return Sniff(0.2, "a list of objects, but they have no 'memory' text (mem0 items do)")
        return NO_MATCH
    if isinstance(value, dict):
        extra = value.keys() - {"results", "relations", "memories", "entities"}
        if extra:
            return Sniff(0.3, f"has {where}[] but also unexpected keys {sorted(extra)[:5]}")
        if not items:
            if where == "memories" and "entities" not in value:
                return Sniff(0.5, "an empty 'memories' list: nothing identifies it as mem0")
            return Sniff(1.0, "no memories (empty results)")
    elif not items:
        return Sniff(0.3, "an empty list: nothing to import")
    if _platform_items(items) or (where == "" and _migration_items(items)):
        return NO_MATCH  # mem0-platform / mem0-migration
    return Sniff(1.0)


def convert_oss(payload: Payload, options: ConvertOptions) -> Conversion:
    found = _oss_items(payload.value)
    if found is None:
        raise InputRefused(
            "not a mem0 get_all/search result: no results[] list", code=Code.WRONG_SHAPE
        )
    items, where, relations, rel_path = found
    return _convert_items(items, where, OSS, relations=relations, relations_path=rel_path)


# --- mem0-platform ----------------------------------------------------------------------------


@never_raises
def sniff_platform(payload: Payload) -> Sniff:
    """Mem0 Platform: the paginated ``{count, next, previous, results}``, items carrying
    Platform-only keys (``categories``, ``structured_attributes``, ``session_id``...), or the
    mem0 CLI envelope ``{status, command, data}``."""
    value = payload.value
    cli = _cli_items(value)
    if cli is not None:
        if not cli or _memory_items(cli):
            return Sniff(1.0, "mem0 CLI JSON output")
        return Sniff(0.4, "mem0 CLI envelope whose data holds no memory items")
    if isinstance(value, dict) and "results" in value and any(k in value for k in PAGE_KEYS[:3]):
        items = _results_envelope(value)
        if items is None:
            return Sniff(0.4, "a Platform page whose 'results' is not a list")
        if not _is_page(value):
            missing = [k for k in PAGE_KEYS if k not in value]
            return Sniff(0.6, f"looks like a Platform page but lacks {missing}")
        if items and not _memory_items(items):
            return Sniff(0.5, "a Platform page whose results have no 'memory' text")
        return Sniff(1.0)
    found = _oss_items(value)
    if found is None or found[1] == "memories":
        return NO_MATCH
    items = found[0]
    if isinstance(value, dict) and value.keys() - {"results", "relations"}:
        return NO_MATCH
    if _memory_items(items) and _platform_items(items):
        return Sniff(1.0)
    return NO_MATCH


def _platform_parts(value: Any) -> tuple[list | RecordList, str, Any]:
    cli = _cli_items(value)
    if cli is not None:
        return cli, "data", None
    if isinstance(value, dict) and is_array(value.get("results")):
        return value["results"], "results", value.get("relations")
    if is_array(value):
        return value, "", None
    raise InputRefused("not a Mem0 Platform memory list: no results[] list", code=Code.WRONG_SHAPE)


def convert_platform(payload: Payload, options: ConvertOptions) -> Conversion:
    value = payload.value
    items, where, relations = _platform_parts(value)
    warnings: list[Problem] = []
    if isinstance(value, dict) and _is_page(value):
        total = value.get("count")
        if (
            value.get("next")
            or value.get("previous")
            or (isinstance(total, int) and total > len(items))
        ):
            warnings.append(
                Problem(
                    "count",
                    (
                        f"this file is one page of a paginated Platform listing ({len(items)} of "
                        f"{total} memories); export the other pages to import everything"
                    ),
                    code=Code.INCOMPLETE_EXPORT,
                )
            )
    return _convert_items(items, where, PLATFORM, relations=relations, warnings=warnings)


# --- mem0-migration ---------------------------------------------------------------------------


@never_raises
def sniff_migration(payload: Payload) -> Sniff:
    """mem0's OSS-to-Platform migration file (``kind == "mem0_oss_qdrant_export"``), or a bare
    list of its records (items with ``source_payload``)."""
    value = payload.value
    if isinstance(value, dict) and value.get("kind") == MIGRATION_KIND:
        if is_array(value.get("records")):
            return Sniff(1.0)
        return Sniff(0.6, "a mem0 migration file without a records[] list")
    if isinstance(value, list) and _memory_items(value) and _migration_items(value):
        return Sniff(1.0, "records of a mem0 migration file")
    return NO_MATCH


def convert_migration(payload: Payload, options: ConvertOptions) -> Conversion:
    value = payload.value
    if is_array(value):
        return _convert_items(value, "", MIGRATION)
    if not (isinstance(value, dict) and is_array(value.get("records"))):
        raise InputRefused(
            "mem0 migration file without a records[] list", path="records", code=Code.WRONG_SHAPE
        )
    version = value.get("version")
    warnings: list[Problem] = []
    declared = value.get("record_count")
    if isinstance(declared, int) and declared != len(value["records"]):
        warnings.append(
            Problem(
                "record_count",
                (f"the file says {declared} records but holds {len(value['records'])}"),
                code=Code.INCOMPLETE_EXPORT,
            )
        )
    return _convert_items(
        value["records"],
        "records",
        MIGRATION,
        source_version=None if version is None else str(version),
        warnings=warnings,
    )


# --- mem0-history -----------------------------------------------------------------------------


@never_raises
def sniff_history(payload: Payload) -> Sniff:
    """mem0 ``history()`` rows: ``memory_id`` + ``event`` + ``old_memory``/``new_memory``
    (Python; with ``input`` on the Platform), ``action`` + ``previous_value``/``new_value``
    (TypeScript), or ``prev_value``/``new_value`` + ``timestamp`` (2024)."""
    value = payload.value
    if not isinstance(value, list) or not value:
        return NO_MATCH
    sample = _sample(value)
    if not any(isinstance(r, dict) and "memory_id" in r for r in sample):
        return NO_MATCH
    if _history_items(value):
        return Sniff(1.0)
    return Sniff(0.5, "rows with memory_id, but without event/action and the memory texts")


EVENT_RANK = {"ADD": 0, "UPDATE": 1, "DELETE": 2, "NONE": 1}


def _event(row: dict) -> str:
    event = _first(row, "event", "action")
    return event.upper() if isinstance(event, str) else ""


def _row_time(row: dict) -> str | None:
    return canonical.utc_iso(_first(row, "updated_at", "timestamp", "created_at"))


def _row_order(indexed: tuple[int, dict]) -> tuple:
    """Sort key: event time, then ADD < UPDATE < DELETE, then row id / file position.

    Rows without a time (0.1.x DELETE rows have none) sort first for ADD, last otherwise.
    """
    index, row = indexed
    event = _event(row)
    time = _row_time(row)
    if time is None:
        time = "" if event == "ADD" else "\uffff"
    row_id = row.get("id")
    serial = row_id if isinstance(row_id, int) and not isinstance(row_id, bool) else index
    return (time, EVENT_RANK.get(event, 1), serial, index)


def _new_text(row: dict) -> Any:
    for key in ("new_memory", "new_value"):
        if key in row and row[key] not in (None, "None"):
            return row[key]
    return None


def _is_delete(row: dict) -> bool:
    deleted = row.get("is_deleted")
    return _event(row) == "DELETE" or (deleted is True or deleted == 1)


def convert_history(payload: Payload, options: ConvertOptions) -> Conversion:
    rows = payload.value
    if not is_array(rows):
        raise InputRefused("mem0 history must be a list of rows", code=Code.WRONG_SHAPE)
    errors: list[Problem] = []
    warnings: list[Problem] = []
    losses = Losses()
    memories = _history_memories(rows, "", HISTORY, options, errors, warnings, losses)
    data = _document(memories, HISTORY, warnings, errors)
    return Conversion(data=data, errors=errors, warnings=warnings, left_behind=losses.items())


def _history_entries(rows: list | RecordList, base: str, errors: list[Problem]) -> Iterator:
    """(memory id, index in ``rows``, row) of each usable history row, in file order."""
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            errors.append(
                Problem(
                    f"{base}[{i}]",
                    "not an object: a history row is expected",
                    code=Code.UNCONVERTIBLE_RECORD,
                )
            )
            continue
        mid = _text_id(row.get("memory_id"))
        if mid is None:
            errors.append(
                Problem(
                    f"{base}[{i}].memory_id",
                    "missing or empty memory id",
                    code=Code.UNCONVERTIBLE_RECORD,
                )
            )
            continue
        yield mid, i, row


def _last_text(events: list[tuple[int, dict]]) -> Any:
    """The newest memory text of a memory's events (a DELETE row repeats the text it removed
    as its old text)."""
    for _i, row in reversed(events):
        text = _new_text(row)
        if isinstance(text, str):
            return text
        old = _first(row, "old_memory", "prev_value", "previous_value")
        if isinstance(old, str):
            return old
    return None


class _Live:
    """What converting an install's history with its vector store found besides memories:
    the vector store's items (and those repeated in another collection), and the memories
    live in the history but missing from the vector store."""

    def __init__(self) -> None:
        self.items = 0
        self.repeated = 0
        self.orphans = 0


def _history_memories(
    rows: list | RecordList,
    base: str,
    fmt: str,
    options: ConvertOptions,
    errors: list[Problem],
    warnings: list[Problem],
    losses: Losses,
    *,
    live: list | RecordList | None = None,
    found: _Live | None = None,
) -> list[dict] | RecordList:
    """Memories rebuilt from history rows: each memory's final state after its events, in
    the order of their first rows (then the vector store's memories the history lacks).

    A memory whose last event is a DELETE is counted and left out, or with
    ``options.include_deleted`` kept with its last text and marked not latest (never live).
    ``live`` holds the vector store's get_all items of an install: those memories are built
    from the item (owner, payload) and keep their history rows in the verbatim copy; the rest
    come from the history alone (counted in ``found``). The rows are grouped by memory in a
    spool when they are kept in one: a memory's rows are in memory, not the file's."""
    spool = next((a.spool for a in (rows, live) if isinstance(a, RecordList)), None)
    memories: list[dict] | RecordList = [] if spool is None else RecordList(spool)
    found = found if found is not None else _Live()
    first_item = len(rows)

    def entries() -> Iterator:
        yield from _history_entries(rows, base, errors)
        for j, item in enumerate(live or ()):
            yield item["id"], first_item + j, item

    deleted = 0
    for mid, group in grouped(entries(), spool):
        indexed = [(i, row) for i, row in group if i < first_item]
        items = [row for i, row in group if i >= first_item]
        item = items[0] if items else None  # a memory in two collections: the first
        found.items += len(items)
        found.repeated += max(len(items) - 1, 0)
        if item is not None:
            _count_verbatim(item, losses)
        if item is not None and not indexed:  # in the vector store, never in the history
            memories.append(_memory(mid, item["memory"], item, fmt, item))
            continue
        events = sorted(indexed, key=_row_order)
        last_index, last = events[-1]
        trail = [row for _, row in indexed]  # this memory's rows, in file order, verbatim
        first_row = events[0][1]
        created = _first(first_row, "created_at", "timestamp")
        if item is not None:
            memories.append(_memory(mid, item["memory"], item, fmt, {**item, "history": trail}))
        elif _is_delete(last):
            deleted += 1
            if not options.include_deleted:
                continue
            text = _last_text(events)
            if not isinstance(text, str):
                continue
            scope = {**first_row, **{k: v for k, v in last.items() if v not in (None, "None")}}
            record = _memory(
                mid, text, scope, fmt, trail, created=created, updated=_row_time(last) or created
            )
            record["isLatest"] = False  # kept for the record, never live
            memories.append(record)
        else:
            text = _new_text(last)
            if not isinstance(text, str):
                errors.append(
                    Problem(
                        f"{base}[{last_index}].new_memory",
                        (f"the latest event of memory {mid} has no new memory text"),
                        code=Code.UNCONVERTIBLE_RECORD,
                    )
                )
                continue
            scope = {**first_row, **{k: v for k, v in last.items() if v not in (None, "None")}}
            found.orphans += 1
            memories.append(
                _memory(
                    mid,
                    text,
                    scope,
                    fmt,
                    trail,
                    created=created,
                    updated=_row_time(last) or created,
                )
            )
        losses.add(
            "mem0.history",
            "earlier versions of a memory (the history's update trail)",
            Kept.VERBATIM_ONLY,
            len(events) - 1,
            "the memory holds its latest text; every event stays in its verbatim copy",
        )
    if deleted:
        kept = "kept, marked not latest" if options.include_deleted else "not imported"
        warnings.append(
            Problem(
                base,
                (
                    f"{deleted} memor{'y' if deleted == 1 else 'ies'} deleted in mem0 "
                    f"(last event DELETE): {kept}"
                ),
                code=Code.CONVERSION_NOTE if options.include_deleted else Code.DELETED_LEFT_OUT,
            )
        )
        if not options.include_deleted:
            losses.add(
                "mem0.deleted",
                "memories deleted in mem0 (last event DELETE)",
                Kept.NOT_IMPORTED,
                deleted,
                "import with --include-deleted to keep them, marked not latest",
            )
    return memories


# --- Platform structured export (refused) -----------------------------------------------------

STRUCTURED_EXPLANATION = (
    "This file cannot be imported: it looks like a Mem0 Platform structured export "
    "(get_memory_export), an object shaped by the schema you gave the Platform and filled in "
    "from your memories. The Platform's schema-shaped export holds no memory records: their "
    "ids, times and texts are gone, so there is nothing to import faithfully. "
    "Export the memories themselves instead (MemoryClient.get_all, every page, saved as JSON)."
)


# A schema the user gave the Platform: several fields named like identifiers.
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
STRUCTURED_MIN_FIELDS = 3


def _schema_shaped(value: Any, depth: int = 0) -> bool:
    """Scalars, lists of scalars and nested objects with field-like keys, none a record."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if depth >= 4:
        return False
    if isinstance(value, list):
        return all(_schema_shaped(v, depth + 1) for v in value[:SAMPLE])
    if isinstance(value, dict):
        if "id" in value or "memory" in value:
            return False  # a record, not a schema field
        return all(
            isinstance(k, str) and _schema_shaped(v, depth + 1) for k, v in list(value.items())[:50]
        )
    return False


@never_raises
def sniff_structured(payload: Payload) -> Sniff:
    """The Platform's schema-shaped export: an object with none of the keys any memory export
    has (no ids, no memory texts, no records), only schema fields."""
    value = payload.value
    if payload.kind != "json" or payload.container == "zip":
        return NO_MATCH
    if not isinstance(value, dict) or not value or value.keys() & KNOWN_TOP_KEYS:
        return NO_MATCH
    if not _schema_shaped(value):
        return NO_MATCH
    fields = [k for k in value if isinstance(k, str) and FIELD_NAME.match(k)]
    if len(fields) == len(value) >= STRUCTURED_MIN_FIELDS:
        return Sniff(1.0, "schema-shaped object without memory records")
    return Sniff(
        0.3,
        (
            "an object of plain fields without any memory record; a Mem0 Platform structured "
            "export looks like this, but it holds no ids, times or memory texts to import"
        ),
    )


def convert_structured(payload: Payload, options: ConvertOptions) -> Conversion:
    raise InputRefused(STRUCTURED_EXPLANATION, code=Code.UNSUPPORTED_FORMAT)


# --- a mem0 install's own storage -------------------------------------------------------------

OWNERS_UNKNOWN_TEXT = (
    "mem0's history holds no user, agent or run ids: these memories are imported under the "
    "project 'mem0'. To keep whose memory each one is, import the history together with its "
    "vector store (the folder holding both, or --vectors QDRANT_DIR)"
)


def _messages(
    rows: list | RecordList, fmt: str, losses: Losses
) -> tuple[list[dict], dict[str, list[dict] | RecordList]]:
    """mem0 2's ``messages`` table (the last chat messages of each scope): one session per
    owner and run, each message a ``conversation`` observation (grouped into buckets in the
    spool when the rows are kept in one)."""
    sessions: dict[str, dict] = {}
    spool = rows.spool if isinstance(rows, RecordList) else None
    observations: dict[str, list[dict] | RecordList] = {}
    for sid, group in grouped(_message_observations(rows, fmt, losses, sessions), spool):
        bucket = empty_like(rows)
        bucket.extend(obs for _i, obs in group)
        if isinstance(bucket, RecordList):
            bucket.flush()  # (its records out of memory now: buckets are filled one by one)
        observations[sid] = bucket
        sessions[sid]["observationCount"] = len(bucket)
    return list(sessions.values()), observations


def _message_observations(
    rows: list | RecordList, fmt: str, losses: Losses, sessions: dict[str, dict]
) -> Iterator:
    """(session id, index, observation) of each chat message, the sessions gathered in
    ``sessions`` on the way."""
    for index, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("content"), str):
            losses.add("mem0.messages", "chat messages without text", Kept.NOT_IMPORTED)
            continue
        scope = row.get("session_scope")
        parts = dict(
            p.split("=", 1)
            for p in (scope.split("&") if isinstance(scope, str) else [])
            if "=" in p
        )
        user, agent, run = parts.get("user_id"), parts.get("agent_id"), parts.get("run_id")
        owner = _owner(user, agent, run)
        sid = _session_id(owner, run or "")
        when = canonical.utc_iso(row.get("created_at"))
        if sid not in sessions:
            sessions[sid] = canonical.session_record(
                sid,
                _project(owner),
                started_at=when,
                ended_at=when,
                agentId=agent,
                source=canonical.source_block(SYSTEM, fmt, {"session_scope": scope}),
            )
        session = sessions[sid]
        if when and (not session.get("startedAt") or when < session["startedAt"]):
            session["startedAt"] = when
        if when and (not session.get("endedAt") or when > session["endedAt"]):
            session["endedAt"] = when
        role = row.get("role") if isinstance(row.get("role"), str) else "message"
        text = row["content"]
        oid = f"mem0-msg-{canonical.stable_id('mem0-msg', row.get('id'), scope)}"
        yield (
            sid,
            index,
            canonical.observation_record(
                oid,
                sid,
                timestamp=when,
                title=f"{role}: {canonical.title_from_text(text)}",
                narrative=text,
                obs_type="conversation",
                source=canonical.source_block(SYSTEM, fmt, row),
            ),
        )


def _merge_sessions(
    data: dict, sessions: list[dict], observations: dict[str, list[dict] | RecordList]
) -> None:
    """Add chat sessions to a converted document (a run with memories keeps one session,
    spanning its memories and its messages)."""
    if not sessions:
        return
    chats = {session["id"]: session for session in sessions}
    merged = empty_like(data["sessions"])
    for mine in data["sessions"]:  # (written anew: a spooled record is changed by copying it)
        session = chats.pop(mine["id"], None)
        if session is not None:
            mine["observationCount"] = session["observationCount"]
            if session.get("startedAt") and (
                not mine.get("startedAt") or session["startedAt"] < mine["startedAt"]
            ):
                mine["startedAt"] = session["startedAt"]
            if session.get("endedAt") and (
                not mine.get("endedAt") or session["endedAt"] > mine["endedAt"]
            ):
                mine["endedAt"] = session["endedAt"]
        merged.append(mine)
    merged.extend(chats.values())
    data["sessions"] = merged
    if observations:
        data["observations"] = {**data.get("observations", {}), **observations}


def _history_db_conversion(
    value: dict,
    fmt: str,
    options: ConvertOptions,
    live: list | RecordList | None = None,
    found: _Live | None = None,
) -> Conversion:
    errors: list[Problem] = []
    warnings: list[Problem] = []
    losses = Losses()
    rows = value.get("history") or []
    memories = _history_memories(
        rows, "history", fmt, options, errors, warnings, losses, live=live, found=found
    )
    data = _document(memories, fmt, warnings, errors)
    sessions, observations = _messages(value.get("messages") or [], fmt, losses)
    _merge_sessions(data, sessions, observations)
    return Conversion(data=data, errors=errors, warnings=warnings, left_behind=losses.items())


def _vector_losses(value: dict, losses: Losses) -> None:
    losses.add(
        "mem0.vectors",
        "embedding vectors (dense and BM25) of the vector store",
        Kept.NOT_IMPORTED,
        int(value.get("vectors") or 0),
        "agentmemory computes its own embeddings",
    )
    losses.add(
        "mem0.entities",
        "points of the entity store (NAME_entities) and mem0's own bookkeeping collections",
        Kept.NOT_IMPORTED,
        int(value.get("entities") or 0),
    )
    losses.add(
        "mem0.points",
        "vector store points without memory text",
        Kept.NOT_IMPORTED,
        int(value.get("other") or 0) + int(value.get("unreadable") or 0),
    )


def _all_items(collections: dict[str, list | RecordList]) -> list | RecordList:
    """The items of every collection, one after the other (a spool's chunks are shared)."""
    parts = list(collections.values())
    out = empty_like(parts[0]) if parts else []
    for items in parts:
        out.extend(items)
    return out


def _history_alone(value: dict, fmt: str, options: ConvertOptions) -> Conversion:
    """A history read without its vector store: whose memories they are is unknown."""
    conversion = _history_db_conversion(value, fmt, options)
    if conversion.data["memories"]:
        conversion.warnings.append(
            Problem("history", OWNERS_UNKNOWN_TEXT, code=Code.OWNERS_UNKNOWN)
        )
    return conversion


def convert_history_db(payload: Payload, options: ConvertOptions) -> Conversion:
    conversion = _history_alone(payload.value, HISTORY_DB, options)
    return conversion


def convert_qdrant_local(payload: Payload, options: ConvertOptions) -> Conversion:
    value = payload.value
    conversion = _convert_items(_all_items(value["collections"]), "collections", QDRANT_LOCAL)
    losses = Losses()
    _vector_losses(value, losses)
    conversion.left_behind.extend(losses.items())
    conversion.warnings.append(
        Problem(
            "",
            "a vector store holds only the memories that are live now: deleted memories and "
            "earlier versions are in mem0's history.db; import the folder holding both (or "
            "history.db with --vectors) to bring them too",
            code=Code.CONVERSION_NOTE,
        )
    )
    return conversion


def convert_install(payload: Payload, options: ConvertOptions) -> Conversion:
    value = payload.value
    found = _Live()
    live = _all_items(value.get("collections") or {})
    conversion = _history_db_conversion(value, INSTALL, options, live, found)
    if found.repeated:
        conversion.warnings.append(
            Problem(
                "collections",
                f"{found.repeated} memory id(s) found in more than one collection: kept the first",
                code=Code.DUPLICATE_KEY,
            )
        )
    losses = Losses()
    _vector_losses(value, losses)
    conversion.left_behind.extend(losses.items())
    orphans = found.orphans
    if orphans and not found.items:
        conversion.warnings.append(
            Problem(
                "history",
                "the vector store holds no memories (an older mem0 cleared it at start-up), "
                "and the history holds no user, agent or run ids: whose memory each one is "
                "is unknown; they are imported under the project 'mem0'",
                code=Code.OWNERS_UNKNOWN,
            )
        )
    elif orphans:
        conversion.warnings.append(
            Problem(
                "history",
                f"{orphans} memor{'y' if orphans == 1 else 'ies'} live in the history "
                "but missing from the vector store (an older mem0 cleared it at start-up): "
                "imported from the history, under the project 'mem0'",
                code=Code.OWNERS_UNKNOWN,
            )
        )
    return conversion


def convert_ts_local(payload: Payload, options: ConvertOptions) -> Conversion:
    value = payload.value
    if "vectors" in value:
        conversion = _convert_items(value["vectors"], "vectors", TS_LOCAL)
        losses = Losses()
        losses.add(
            "mem0.vectors",
            "embedding vectors of the vector store",
            Kept.NOT_IMPORTED,
            len(value["vectors"]),
            "agentmemory computes its own embeddings",
        )
        _vector_losses(
            {"other": value.get("unreadable"), "entities": value.get("entities")}, losses
        )
        conversion.left_behind.extend(losses.items())
        return conversion
    conversion = _history_alone(value, TS_LOCAL, options)
    return conversion


@never_raises
def sniff_faiss(payload: Payload) -> Sniff:
    """mem0's FAISS docstore ``NAME.json``: ``{"docstore": {id: payload}, "index_to_id": ...}``."""
    value = payload.value
    if not isinstance(value, dict) or "docstore" not in value:
        return NO_MATCH
    if not isinstance(value.get("docstore"), dict):
        return Sniff(0.5, "a 'docstore' that is not an object of payloads")
    if "index_to_id" not in value:
        return Sniff(0.6, "a docstore without index_to_id (mem0's FAISS file has both)")
    return Sniff(1.0)


def convert_faiss(payload: Payload, options: ConvertOptions) -> Conversion:
    from wizard.core.storage.mem0 import get_all_item

    docstore = payload.value["docstore"]
    spilled = docstore.spilled if isinstance(docstore, CountedObject) else None
    items = empty_like(spilled)  # (a docstore past what the reader keeps: in its spool)
    other = 0
    entries = docstore.entries() if isinstance(docstore, CountedObject) else docstore.items()
    for pid, doc in entries:
        if isinstance(doc, dict) and isinstance(doc.get("data"), str):
            items.append(get_all_item(str(pid), doc))
        else:
            other += 1
    conversion = _convert_items(items, "docstore", FAISS)
    losses = Losses()
    _vector_losses({"other": other}, losses)
    losses.add(
        "mem0.vectors",
        "embedding vectors (in the .faiss index beside this file, not read)",
        Kept.NOT_IMPORTED,
        len(items),
        "agentmemory computes its own embeddings",
    )
    conversion.left_behind.extend(losses.items())
    return conversion


FORMATS: tuple[Format, ...] = (
    Format(
        MIGRATION,
        "mem0 OSS-to-Platform migration file",
        sniff_migration,
        convert_migration,
        streams=True,
    ),
    Format(
        PLATFORM,
        "Mem0 Platform memories (get_all page or list, CLI JSON)",
        sniff_platform,
        convert_platform,
        streams=True,
    ),
    Format(OSS, "mem0 library get_all/search output", sniff_oss, convert_oss, streams=True),
    Format(HISTORY, "mem0 memory history rows", sniff_history, convert_history, streams=True),
    Format(FAISS, "mem0 FAISS docstore (NAME.json)", sniff_faiss, convert_faiss, streams=True),
    Format(
        INSTALL,
        "mem0 install (history.db with its Qdrant folder)",
        storage_sniff(INSTALL),
        convert_install,
        streams=True,
    ),
    Format(
        HISTORY_DB,
        "mem0 history.db",
        storage_sniff(HISTORY_DB),
        convert_history_db,
        streams=True,
    ),
    Format(
        QDRANT_LOCAL,
        "mem0 Qdrant local folder",
        storage_sniff(QDRANT_LOCAL),
        convert_qdrant_local,
        streams=True,
    ),
    Format(
        TS_LOCAL,
        "mem0 TypeScript SDK storage",
        storage_sniff(TS_LOCAL),
        convert_ts_local,
        streams=True,
    ),
    # Last: it claims objects that match nothing else, so detection must try it after every
    # other family's formats.
    Format(
        STRUCTURED,
        "Mem0 Platform structured (schema-shaped) export",
        sniff_structured,
        convert_structured,
    ),
)
