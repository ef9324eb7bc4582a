"""Letta (formerly MemGPT) adapters: agent files (current and first schema) and archival passages.

Formats (FORMATS.md section 6, LETTA.md):

- ``letta-af``: current Agent File, an object with ``agents[]`` and ``blocks[]``.
- ``letta-af-legacy``: first Agent File schema, one agent at the top level (``core_memory``,
  ``messages``, ``llm_config``...).
- ``letta-passages``: a bare list of archival passages (``{id: "passage-...", text, ...}``).

Mapping: agent -> Session, message -> ``conversation`` observation, core memory block -> Memory,
passage -> Memory of type ``fact``. What the canonical fields do not hold is kept in the record's
``source`` object.

Ids. Letta's ids in an agent file are local to the file (``agent-0``, ``block-0``,
``message-0``), so they are never imported as is. Each agent gets a namespace
``ns = stable_id("letta", <agent name>, <anchor>)`` where the anchor is the agent's earliest
message time (UTC), else the file's ``created_at``, else a digest of its system prompt. Then:

- session: ``letta-<ns>-<agent id>`` (legacy files have no agent id: ``letta-<ns>-agent-0``);
- message: ``letta-<ns>-<message id>`` (legacy, or a message without id: ``letta-<ns>-msg-<i>``
  where ``i`` is the message's index in the agent's ``messages``);
- block: ``letta-<ns>-<block id>`` with the namespace of the **first agent (file order) that
  uses the block**, so a block shared by several agents is one Memory and a single-agent file
  keeps its block ids when other agents are added to a later export. A block no agent uses gets
  the file namespace ``stable_id("letta-file", *sorted(agent namespaces))`` (or, in a file
  without agents, of its ``created_at`` and block labels). Legacy blocks: ``letta-<ns>-block-<i>``.
- passages carry real unique ids (``passage-<uuid>``): kept as they are.

The same file always gives the same ids; two files that both hold ``agent-0`` give different ids
unless they hold the same agent (same name and same first message time).
"""

from __future__ import annotations

import json
import re
from typing import Any

from wizard.core import canonical
from wizard.core.formats import NO_MATCH, Conversion, ConvertOptions, Format, Payload, Sniff
from wizard.core.problems import Code, Problem

SYSTEM = "letta"
AF = "letta-af"
AF_LEGACY = "letta-af-legacy"
PASSAGES = "letta-passages"

SAMPLE = 20  # items looked at by a sniff
TITLE_WORDS = 60  # characters of text after the role in an observation title
IMPORTANCE = {"system": 2, "tool": 3}  # other roles: DEFAULT_IMPORTANCE
DEFAULT_IMPORTANCE = 5
SYSTEM_PROMPT_CONCEPT = "system-prompt"
# Block labels whose words say the block is about the user: such blocks become preferences.
USER_WORDS = frozenset({"human", "user", "users", "preference", "preferences"})
LEGACY_KEYS = ("core_memory", "messages", "llm_config")
# Top-level keys of a current agent file that are matched to agents by id.
RELATED_KEYS = ("tools", "groups", "sources")

UNWRAPPED_WARNING = "the file was JSON-encoded twice; unwrapped one level"


# --- sniffing -------------------------------------------------------------------------------


def sniff_af(payload: Payload) -> Sniff:
    value = payload.value
    if not isinstance(value, dict):
        return NO_MATCH
    agents, blocks = value.get("agents"), value.get("blocks")
    if isinstance(agents, list) and isinstance(blocks, list):
        if all(isinstance(a, dict) for a in agents[:SAMPLE]):
            return Sniff(1.0)
        return Sniff(0.6, "letta-af: agents[] holds items that are not objects")
    if isinstance(agents, list):
        return Sniff(0.5, "letta-af: has agents[] but no blocks[] array")
    if isinstance(blocks, list) and "sessions" not in value:
        return Sniff(0.3, "letta-af: has blocks[] but no agents[] array")
    return NO_MATCH


def sniff_af_legacy(payload: Payload) -> Sniff:
    value = payload.value
    if not isinstance(value, dict) or "agents" in value or "sessions" in value:
        return NO_MATCH
    present = [k for k in LEGACY_KEYS if k in value]
    if not present:
        return NO_MATCH
    llm_ok = isinstance(value.get("llm_config"), dict)
    messages_ok = isinstance(value.get("messages"), list)
    core_ok = isinstance(value.get("core_memory"), list)
    if llm_ok and (messages_ok or core_ok):
        return Sniff(1.0)
    missing = [k for k in LEGACY_KEYS if k not in value]
    if missing:
        note = f"letta-af-legacy: has {', '.join(present)} but no {', '.join(missing)}"
    else:
        note = "letta-af-legacy: llm_config must be an object and messages/core_memory arrays"
    return Sniff(round(0.2 * len(present), 2), note)


def _passage_like(item: Any) -> bool:
    if not isinstance(item, dict) or "memory" in item or not isinstance(item.get("text"), str):
        return False
    pid = item.get("id")
    return (isinstance(pid, str) and pid.startswith("passage-")) or (
        "archive_id" in item or "agent_id" in item
    )


def sniff_passages(payload: Payload) -> Sniff:
    value = payload.value
    if not isinstance(value, list) or not value:
        return NO_MATCH
    sample = value[:SAMPLE]
    if all(_passage_like(item) for item in sample):
        return Sniff(1.0)
    with_text = [i for i in sample if isinstance(i, dict) and isinstance(i.get("text"), str)]
    if with_text and not any(isinstance(i, dict) and "memory" in i for i in sample):
        return Sniff(
            0.5,
            "letta-passages: items have a text but not all have a 'passage-' id or an "
            "archive_id/agent_id",
        )
    return NO_MATCH


# --- shared helpers -------------------------------------------------------------------------


def _time(value: Any) -> str | None:
    """A UTC ISO timestamp, or None when the value is absent or not a time."""
    out = canonical.utc_iso(value)
    if out and out.endswith("Z") and out[:4].isdigit():
        return out
    return None


def _empty_export(exported_at: str | None) -> dict:
    return canonical.export_document(exported_at=exported_at)


def _start_warnings(payload: Payload) -> list[Problem]:
    return [Problem("", UNWRAPPED_WARNING, code=Code.CONVERSION_NOTE)] if payload.unwrapped else []


def _text_of(content: Any) -> str:
    """The text parts of a message's content joined (reasoning and other parts left out)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = [
        part["text"]
        for part in content
        if isinstance(part, dict)
        and part.get("type", "text") == "text"
        and isinstance(part.get("text"), str)
    ]
    return "\n\n".join(t for t in texts if t)


def _tool_facts(tool_calls: Any) -> list[str]:
    """``name(arguments)`` for each tool call, arguments as the source string."""
    if not isinstance(tool_calls, list):
        return []
    facts = []
    for call in tool_calls:
        if not isinstance(call, dict):
            continue
        function = call.get("function")
        if not isinstance(function, dict):
            function = call
        name = function.get("name") or "tool"
        args = function.get("arguments")
        if args is None:
            args = ""
        elif not isinstance(args, str):
            args = json.dumps(args, ensure_ascii=False, sort_keys=True)
        facts.append(f"{name}({args})")
    return facts


def _first_words(text: str, limit: int = TITLE_WORDS) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut + "…"


def _observation(
    oid: str, session_id: str, message: dict, fmt: str, fallback_time: str | None
) -> dict:
    role = message.get("role")
    if not isinstance(role, str):
        role = "message"
    text = _text_of(message.get("content"))
    facts = _tool_facts(message.get("tool_calls"))
    narrative = text or "\n".join(facts)
    words = _first_words(narrative)
    is_system = role == "system"
    return canonical.observation_record(
        oid,
        session_id,
        timestamp=_time(message.get("created_at")) or fallback_time,
        title=f"{role}: {words}" if words else role,
        narrative=narrative,
        facts=facts,
        concepts=[SYSTEM_PROMPT_CONCEPT] if is_system else [],
        importance=IMPORTANCE.get(role, DEFAULT_IMPORTANCE),
        source=canonical.source_block(SYSTEM, fmt, message),
    )


def _message_times(messages: list) -> list[str]:
    times = (_time(m.get("created_at")) for m in messages if isinstance(m, dict))
    return sorted(t for t in times if t)


def _namespace(name: Any, anchor: str | None, system_prompt: Any) -> str:
    if not anchor:
        anchor = "system:" + canonical.stable_id(system_prompt if system_prompt else "")
    return canonical.stable_id(SYSTEM, name if name is not None else "", anchor)


def _model(agent: dict) -> str | None:
    model = agent.get("model")
    if not isinstance(model, str) or not model:
        llm = agent.get("llm_config")
        model = llm.get("model") if isinstance(llm, dict) else None
    return model if isinstance(model, str) and model else None


def _tags(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    return [t for t in value if isinstance(t, str)]


def _block_type(label: Any) -> str:
    words = set(re.split(r"[^a-z0-9]+", label.lower())) if isinstance(label, str) else set()
    return "preference" if words & USER_WORDS else "fact"


def _block_memory(
    mid: str, block: dict, fmt: str, session_ids: list[str], fallback_time: str | None
) -> dict:
    label = block.get("label")
    label = label if isinstance(label, str) and label else "block"
    value = block.get("value")
    return canonical.memory_record(
        mid,
        value if isinstance(value, str) else "",
        created_at=_time(block.get("created_at")) or fallback_time,
        updated_at=_time(block.get("updated_at")),
        mem_type=_block_type(label),
        title=label,
        concepts=[label],
        session_ids=session_ids,
        source=canonical.source_block(SYSTEM, fmt, block),
    )


def _agent_messages(agent: dict, path: str, errors: list[Problem]) -> list[tuple[int, dict]]:
    """The agent's messages that are objects, with their index; ``path`` is the agent's path
    ("" for a legacy file, whose agent is the whole document)."""
    where = f"{path}.messages" if path else "messages"
    messages = agent.get("messages")
    if messages is None:
        return []
    if not isinstance(messages, list):
        errors.append(
            Problem(where, "messages must be an array; none imported", code=Code.WRONG_SHAPE)
        )
        return []
    kept = []
    for j, message in enumerate(messages):
        if isinstance(message, dict):
            kept.append((j, message))
        else:
            errors.append(
                Problem(
                    f"{where}[{j}]",
                    "message is not an object; skipped",
                    code=Code.UNCONVERTIBLE_RECORD,
                )
            )
    return kept


def _add_session(data: dict, session: dict, observations: list[dict]) -> None:
    data["sessions"].append(session)
    if observations:
        data["observations"][session["id"]] = observations


# --- letta-af (current schema) --------------------------------------------------------------


def _related(agent: dict, value: dict) -> tuple[dict, set[tuple[str, str]]]:
    """Top-level tools, groups and sources an agent refers to, and their (key, id) pairs."""
    aid = _local_id(agent.get("id"), "")
    wanted = {
        "tools": set(_ids(agent.get("tool_ids"))),
        "groups": set(_ids(agent.get("group_ids"))),
        "sources": set(_ids(agent.get("source_ids"))),
    }
    related: dict[str, list] = {}
    used: set[tuple[str, str]] = set()
    for key in RELATED_KEYS:
        items = value.get(key)
        if not isinstance(items, list):
            continue
        for item in items:
            if not isinstance(item, dict):
                continue
            iid = _local_id(item.get("id"), "")
            member = (
                key == "groups"
                and aid
                and (
                    aid in _ids(item.get("agent_ids"))
                    or (
                        isinstance(item.get("manager_config"), dict)
                        and item["manager_config"].get("manager_agent_id") == aid
                    )
                )
            )
            if (iid and iid in wanted[key]) or member:
                related.setdefault(key, []).append(item)
                used.add((key, iid))
    return related, used


def _ids(value: Any) -> list[str]:
    """The string form of the ids in a list of ids (other values ignored)."""
    if not isinstance(value, list):
        return []
    return [str(v) for v in value if isinstance(v, (str, int)) and not isinstance(v, bool)]


def _local_id(value: Any, fallback: str) -> str:
    """A file-local id as a string, or ``fallback`` when the record has none usable."""
    if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "":
        return str(value)
    return fallback


def _unreferenced(value: dict, used: set[tuple[str, str]]) -> dict:
    out: dict[str, list] = {}
    for key in RELATED_KEYS:
        items = value.get(key)
        if isinstance(items, list):
            rest = [
                i
                for i in items
                if not (isinstance(i, dict) and (key, _local_id(i.get("id"), "")) in used)
            ]
            if rest:
                out[key] = rest
    return out


def convert_af(payload: Payload, options: ConvertOptions) -> Conversion:
    value = payload.value if isinstance(payload.value, dict) else {}
    errors: list[Problem] = []
    warnings = _start_warnings(payload)
    file_time = _time(value.get("created_at"))
    data = _empty_export(file_time)
    agents = value.get("agents")
    if not isinstance(agents, list):
        agents = []
    blocks = value.get("blocks")
    if not isinstance(blocks, list):
        blocks = []

    # File context kept with every session: top-level keys that are neither agents, blocks nor
    # records matched to an agent (tools/groups/sources referenced by no agent stay here).
    file_context = {k: v for k, v in value.items() if k not in ("agents", "blocks", *RELATED_KEYS)}
    used: set[tuple[str, str]] = set()
    sources: list[dict] = []  # session sources waiting for the file context
    block_users: dict[str, list[tuple[str, str]]] = {}  # block id -> [(session id, agent ns)]
    namespaces: list[str] = []

    for i, agent in enumerate(agents):
        path = f"agents[{i}]"
        if not isinstance(agent, dict):
            errors.append(
                Problem(path, "agent is not an object; skipped", code=Code.UNCONVERTIBLE_RECORD)
            )
            continue
        messages = _agent_messages(agent, path, errors)
        times = _message_times([m for _, m in messages])
        ns = _namespace(agent.get("name"), times[0] if times else file_time, agent.get("system"))
        namespaces.append(ns)
        local = _local_id(agent.get("id"), f"agent-{i}")
        sid = f"letta-{ns}-{local}"
        started = times[0] if times else file_time
        observations = []
        for j, message in messages:
            oid = f"letta-{ns}-{_local_id(message.get('id'), f'msg-{j}')}"
            observations.append(_observation(oid, sid, message, AF, started))
        related, agent_used = _related(agent, value)
        used |= agent_used
        source = canonical.source_block(
            SYSTEM, AF, {k: v for k, v in agent.items() if k != "messages"}
        )
        if related:
            source["related"] = related
        session = canonical.session_record(
            sid,
            f"letta:{agent.get('name') or local}",
            started_at=started,
            ended_at=times[-1] if times else None,
            observation_count=len(observations),
            model=_model(agent),
            tags=_tags(agent.get("tags")),
        )
        session["source"] = source
        sources.append(source)
        _add_session(data, session, observations)
        for bid in _ids(agent.get("block_ids")):
            block_users.setdefault(bid, []).append((sid, ns))

    unreferenced = _unreferenced(value, used)
    context = {**file_context, **({"unreferenced": unreferenced} if unreferenced else {})}
    if context:
        for source in sources:
            source["file"] = context

    file_ns = (
        canonical.stable_id(f"{SYSTEM}-file", *sorted(namespaces))
        if namespaces
        else canonical.stable_id(
            f"{SYSTEM}-file",
            value.get("created_at"),
            *sorted(str(b.get("label")) for b in blocks if isinstance(b, dict)),
        )
    )
    seen: set[str] = set()
    unused = 0
    for k, block in enumerate(blocks):
        path = f"blocks[{k}]"
        if not isinstance(block, dict):
            errors.append(
                Problem(path, "block is not an object; skipped", code=Code.UNCONVERTIBLE_RECORD)
            )
            continue
        local_bid = _local_id(block.get("id"), f"block-{k}")
        users = block_users.get(local_bid, [])
        ns = users[0][1] if users else file_ns
        mid = f"letta-{ns}-{local_bid}"
        if mid in seen:
            warnings.append(
                Problem(path, f"duplicate block id {local_bid!r}; skipped", code=Code.DUPLICATE_KEY)
            )
            continue
        seen.add(mid)
        if not users:
            unused += 1
        session_ids = list(dict.fromkeys(sid for sid, _ in users))
        data["memories"].append(_block_memory(mid, block, AF, session_ids, file_time))

    known = {_local_id(b.get("id"), "") for b in blocks if isinstance(b, dict)}
    missing = sorted(set(block_users) - known)
    if missing:
        warnings.append(
            Problem(
                "blocks",
                f"agents refer to blocks not in the file: {', '.join(missing)}",
                code=Code.DANGLING_REFERENCE,
            )
        )
    if unused:
        warnings.append(
            Problem(
                "blocks",
                f"{unused} block(s) used by no agent were imported without sessions",
                code=Code.CONVERSION_NOTE,
            )
        )
    meta = value.get("metadata")
    revision = meta.get("revision_id") if isinstance(meta, dict) else None
    return Conversion(
        data,
        source_version=revision if isinstance(revision, str) and revision else None,
        errors=errors,
        warnings=warnings,
    )


# --- letta-af-legacy (first schema) ---------------------------------------------------------


def convert_af_legacy(payload: Payload, options: ConvertOptions) -> Conversion:
    value = payload.value if isinstance(payload.value, dict) else {}
    errors: list[Problem] = []
    warnings = _start_warnings(payload)
    file_time = _time(value.get("created_at"))
    data = _empty_export(_time(value.get("updated_at")) or file_time)

    messages = _agent_messages(value, "", errors)
    times = _message_times([m for _, m in messages])
    started = times[0] if times else file_time
    ns = _namespace(value.get("name"), started, value.get("system"))
    sid = f"letta-{ns}-agent-0"
    observations = [
        _observation(f"letta-{ns}-msg-{j}", sid, message, AF_LEGACY, started)
        for j, message in messages
    ]
    session = canonical.session_record(
        sid,
        f"letta:{value.get('name') or 'agent'}",
        started_at=started,
        ended_at=times[-1] if times else None,
        observation_count=len(observations),
        model=_model(value),
        tags=_tags(value.get("tags")),
    )
    session["source"] = canonical.source_block(
        SYSTEM,
        AF_LEGACY,
        {k: v for k, v in value.items() if k not in ("messages", "core_memory")},
    )
    _add_session(data, session, observations)

    core = value.get("core_memory")
    if core is not None and not isinstance(core, list):
        errors.append(
            Problem(
                "core_memory", "core_memory must be an array; none imported", code=Code.WRONG_SHAPE
            )
        )
        core = []
    for k, block in enumerate(core or []):
        if not isinstance(block, dict):
            errors.append(
                Problem(
                    f"core_memory[{k}]",
                    "block is not an object; skipped",
                    code=Code.UNCONVERTIBLE_RECORD,
                )
            )
            continue
        data["memories"].append(
            _block_memory(f"letta-{ns}-block-{k}", block, AF_LEGACY, [sid], file_time)
        )

    version = value.get("version")
    return Conversion(
        data,
        source_version=version if isinstance(version, str) and version else None,
        errors=errors,
        warnings=warnings,
    )


# --- letta-passages -------------------------------------------------------------------------


def convert_passages(payload: Payload, options: ConvertOptions) -> Conversion:
    items = payload.value if isinstance(payload.value, list) else []
    errors: list[Problem] = []
    warnings = _start_warnings(payload)
    memories: list[dict] = []
    seen: set[str] = set()
    deleted = embedded = duplicates = 0

    for i, item in enumerate(items):
        path = f"[{i}]"
        if not isinstance(item, dict):
            errors.append(
                Problem(path, "passage is not an object; skipped", code=Code.UNCONVERTIBLE_RECORD)
            )
            continue
        text = item.get("text")
        if not isinstance(text, str):
            errors.append(
                Problem(
                    f"{path}.text", "passage has no text; skipped", code=Code.UNCONVERTIBLE_RECORD
                )
            )
            continue
        if item.get("is_deleted") is True and not options.include_deleted:
            deleted += 1
            continue
        pid = item.get("id")
        if not isinstance(pid, str) or not pid:
            pid = f"letta-passage-{canonical.stable_id(text, item.get('created_at'))}"
        if pid in seen:
            duplicates += 1
            continue
        seen.add(pid)
        if item.get("embedding") not in (None, []):
            embedded += 1
        raw = {k: v for k, v in item.items() if k != "embedding"}
        created = _time(item.get("created_at"))
        memories.append(
            canonical.memory_record(
                pid,
                text,
                created_at=created,
                updated_at=_time(item.get("updated_at")),
                mem_type="fact",
                title=canonical.title_from_text(text),
                concepts=_tags(item.get("tags")) or [],
                source=canonical.source_block(SYSTEM, PASSAGES, raw),
            )
        )

    if deleted:
        warnings.append(
            Problem(
                "",
                f"{deleted} deleted passage(s) (is_deleted: true) were left out",
                code=Code.DELETED_LEFT_OUT,
            )
        )
    if embedded:
        warnings.append(
            Problem(
                "",
                f"{embedded} passage(s) carried embedding vectors; they were not kept",
                code=Code.DATA_DROPPED,
            )
        )
    if duplicates:
        warnings.append(
            Problem(
                "",
                f"{duplicates} passage(s) repeated an earlier id; skipped",
                code=Code.DUPLICATE_KEY,
            )
        )
    times = sorted(t for m in memories if (t := _time(m.get("updatedAt"))))
    data = _empty_export(times[-1] if times else None)
    data["memories"] = memories
    return Conversion(data, source_version=None, errors=errors, warnings=warnings)


FORMATS: tuple[Format, ...] = (
    Format(AF, "Letta Agent File (.af)", sniff_af, convert_af),
    Format(AF_LEGACY, "Letta Agent File (.af), first schema", sniff_af_legacy, convert_af_legacy),
    Format(PASSAGES, "Letta archival memory passages", sniff_passages, convert_passages),
)
