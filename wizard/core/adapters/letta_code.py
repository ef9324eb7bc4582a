"""Letta Code's local backend (``~/.letta/lc-local-backend``), as read by
``wizard.core.storage.letta_code`` (its docstring describes the folder and the document).

Mapping, as for Letta's agent files (``wizard.core.adapters.letta``): agent -> Session; every
message of every conversation of the agent -> ``conversation`` observation of that session
(the whole append-only transcript, not only the messages still in the context window; a
message written several times while it streamed counts once, as its last snapshot); each
memory file ``memfs/<agent>/memory/**.md`` -> Memory (``system/<label>.md`` blocks and detached
files such as ``reference/…``; ``skills/`` are left behind, like an agent file's skills); the
agent's system prompt -> Memory of type ``workflow``.

Ids. Letta Code's agent ids are ``agent-local-<uuid>``, unique on their own: the session id
is ``letta-code-<agent id>``. Another agent id (``agent-local-default``, a chosen id) is
namespaced like an agent file's: ``letta-code-<ns>-<agent id>`` with
``ns = stable_id("letta-code", <agent id>, <anchor>)``, the anchor being its first conversation's
creation time (else its first message's, else a digest of its system prompt). Then:

- message: ``<session id>-<conversation id>-<message id>`` (conversation ids ``default`` and
  ``local-conv-<n>`` are unique per agent; message ids ``ui-msg-<n>`` per conversation); a
  message without id: ``…-<conversation id>-line-<n>`` (its line in ``messages.jsonl``);
- memory file: ``<session id>-memory-<path without .md>`` (``…-memory-system/human``);
- system prompt: ``<session id>-system-prompt``.

Every record of an agent has ``agentId = <session id>``, ``sessionIds = [<session id>]`` and
``project = "letta-code:<agent name>/<agent id>"`` (the default name "Letta Code" is shared by
many agents, so the id keeps their projects apart). Nothing is shared between agents: memory
files belong to the agent whose ``memfs`` folder holds them. Hidden agents (subagents) and
archived conversations are imported like the others; those flags stay in the session's
``source``.

Times. A message's ``metadata.created_at`` (else its epoch ``timestamp``); a memory file has no
time of its own: ``createdAt`` is the first commit of its agent's memory repository and
``updatedAt`` the last one (from the reflog), else the agent's first and last activity.

Left behind (counted): the git history of each memory repository (earlier versions of the
files), the compiled system prompts (rebuilt from the system prompt and the blocks), earlier
snapshots of rewritten messages, skills, the memory and conversations of agents that no
longer exist (Letta Code deletes an agent's file and conversations but not its memfs folder),
transcripts still in the old UI format, and credentials (dropped while reading). Model
settings, conversation details, message metadata and frontmatter stay in the records'
``source``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from wizard.core import canonical
from wizard.core.adapters.letta import (
    DEFAULT_IMPORTANCE,
    IMPORTANCE,
    SYSTEM_PROMPT_CONCEPT,
    _block_type,
    _filled,
    _first_words,
    _has_value,
    _names,
    _new_array,
    _spool_of,
    _tags,
    _Tally,
    _text_of,
    _time,
    _tool_facts,
)
from wizard.core.formats import Conversion, ConvertOptions, Format, Payload, storage_sniff
from wizard.core.losses import Kept
from wizard.core.problems import Code, Problem
from wizard.core.spool import RecordList, empty_like, grouped, is_array

SYSTEM = "letta-code"
FORMAT = "letta-code-local"
SKILLS = "skills/"
SYSTEM_DIR = "system/"
SUMMARY_CONCEPT = "compaction-summary"
_UNIQUE_AGENT = re.compile(
    r"agent-local-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)
AGENT_MAPPED = frozenset({"id", "name", "system", "tags", "model"})
MODEL_SETTINGS = ("model_settings", "compaction_settings")
CONVERSATION_MAPPED = frozenset(
    {"id", "agent_id", "created_at", "updated_at", "last_message_at", "in_context_message_ids"}
)
MESSAGE_MAPPED = frozenset({"id", "role", "content", "timestamp", "toolCallId", "toolName"})
META_MAPPED = frozenset({"created_at", "updated_at", "agent_id", "conversation_id"})
PROMPT_KEPT = ("compiledAt", "rawSystemHash", "memfsRevision")


# --- reading the document -------------------------------------------------------------------


def _dicts(value: Any) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) and value.strip() else ""


class _Transcript:
    """One conversation's messages: the latest snapshot of each message id, in the order the
    ids first appear, with the entry that wrapped it (``messages``: ``(id, message, wrapper)``
    items, a RecordList in the transcript's spool when the transcript is one, else a list).

    The rows are read once: the snapshots are grouped by id (``spool.grouped``: by SQLite in
    the spool for a spooled transcript, one id's snapshots in memory at a time), and only
    what the conversion needs of all of them is kept: their first and last times and the
    first agent id they name."""

    def __init__(self, rows: Any) -> None:
        rows = rows if is_array(rows) else []
        self.header: dict | None = None
        self.replaced = 0  # earlier snapshots of a message written again
        self.legacy = 0  # rows of the unversioned UI format (``parts``)
        self.other = 0  # rows that are none of the above
        self.first: str | None = None  # the earliest time of a message
        self.last: str | None = None  # the latest
        self.agent_id = ""  # the first agent id a message's metadata names
        self.messages: list | RecordList = empty_like(rows)
        store = rows.spool if isinstance(rows, RecordList) else None
        for mid, snapshots in grouped(self._snapshots(rows), store):
            message, wrapper = snapshots[-1][1]
            self.replaced += len(snapshots) - 1
            self.messages.append((mid, message, wrapper))
            if t := _message_time(message, wrapper):
                self.first = t if self.first is None else min(self.first, t)
                self.last = t if self.last is None else max(self.last, t)
            meta = message.get("metadata")
            if not self.agent_id and isinstance(meta, dict) and _text(meta.get("agent_id")):
                self.agent_id = meta["agent_id"]
        if isinstance(self.messages, RecordList):
            self.messages.flush()

    def _snapshots(self, rows: list | RecordList) -> Iterator[tuple[str, int, tuple]]:
        """Each message snapshot as (its id, its position, (message, wrapper)), in order."""
        for position, row in enumerate(rows):
            if not isinstance(row, dict):
                continue
            entry, line = row.get("entry"), row.get("line")
            line = line if isinstance(line, int) else 0
            if not isinstance(entry, dict):
                self.other += 1
                continue
            kind = entry.get("type")
            if kind == "session":
                self.header = self.header or entry
                continue
            if kind in ("message", "compaction") and isinstance(entry.get("message"), dict):
                message = entry["message"]
                wrapper: dict | None = {k: v for k, v in entry.items() if k != "message"}
            elif isinstance(entry.get("parts"), list) and entry.get("content") is None:
                self.legacy += 1  # an unversioned UI row (isLegacyUiMessageRow)
                continue
            elif kind is None and isinstance(entry.get("role"), str):  # schema 1: bare messages
                message, wrapper = entry, None
            else:
                self.other += 1
                continue
            yield _text(message.get("id")) or f"line-{line}", position, (message, wrapper)


def _message_time(message: dict, wrapper: dict | None) -> str | None:
    meta = message.get("metadata")
    created = meta.get("created_at") if isinstance(meta, dict) else None
    return (
        _time(created)
        or _time(message.get("timestamp"))
        or _time(wrapper.get("timestamp") if wrapper else None)
    )


class _Conversation:
    def __init__(self, item: dict) -> None:
        self.item = item
        record = item.get("conversation")
        self.record = record if isinstance(record, dict) else {}
        key = _text(item.get("key"))
        self.transcript = _Transcript(item.get("transcript"))
        header = self.transcript.header or {}
        kind, _, rest = key.partition(":")
        self.id = (
            _text(self.record.get("id"))
            or (rest if kind == "conversation" else "")
            or ("default" if kind == "default" else "")
            or _text(header.get("id"))
            or _text(item.get("dir")).rsplit("/", 1)[-1]
        )
        self.agent_id = _text(self.record.get("agent_id")) or (rest if kind == "default" else "")
        if not self.agent_id:  # a conversation without its record: its messages say whose
            self.agent_id = self.transcript.agent_id
        self.first, self.last = self.transcript.first, self.transcript.last
        self.created = _time(self.record.get("created_at")) or _time(header.get("timestamp"))

    def context(self) -> dict:
        """What the session keeps of this conversation (its source)."""
        prompt = self.item.get("system_prompt")
        out: dict = {
            "id": self.id,
            "dir": self.item.get("dir"),
            "key": self.item.get("key"),
            "conversation": self.item.get("conversation"),
            "manifest": self.item.get("manifest"),
        }
        if self.transcript.header is not None:
            out["header"] = self.transcript.header
        if isinstance(prompt, dict):
            out["system_prompt"] = {k: prompt[k] for k in PROMPT_KEPT if k in prompt}
        return out


# --- records ----------------------------------------------------------------------------------


def _observation(
    oid: str, sid: str, conv: str, message: dict, wrapper: dict | None, fallback: str | None
) -> dict:
    role = message.get("role")
    label = role if isinstance(role, str) and role else "message"
    if label == "toolResult":
        label = "tool"
    content = message.get("content")
    calls = [
        {"name": p.get("name"), "arguments": p.get("arguments")}
        for p in _dicts(content)
        if p.get("type") == "toolCall"
    ]
    facts = _tool_facts(calls)
    text = _text_of(content)
    narrative = text or "\n".join(facts)
    meta = message.get("metadata")
    summary = isinstance(meta, dict) and isinstance(meta.get("compaction"), dict)
    shown = "summary" if summary else label
    if label == "tool" and _text(message.get("toolName")):
        shown = f"tool {message['toolName']}"
    words = _first_words(narrative)
    source = canonical.source_block(SYSTEM, FORMAT, message)
    source["conversation"] = conv
    if wrapper:
        source["entry"] = wrapper
    return canonical.observation_record(
        oid,
        sid,
        timestamp=_message_time(message, wrapper) or fallback,
        title=f"{shown}: {words}" if words else shown,
        narrative=narrative,
        facts=facts,
        concepts=[SUMMARY_CONCEPT] if summary else [],
        importance=IMPORTANCE.get(label, DEFAULT_IMPORTANCE),
        agentId=sid,
        source=source,
    )


def _count_message(message: dict, losses: _Tally) -> None:
    content = message.get("content")
    if isinstance(content, list):
        other = [
            p
            for p in content
            if not (isinstance(p, dict) and p.get("type", "text") in ("text", "toolCall"))
        ]
        losses.add(
            "letta-code.message-parts",
            "message parts other than text and tool calls (reasoning, images...)",
            Kept.VERBATIM_ONLY,
            len(other),
        )
    keys = {k for k, v in message.items() if k not in MESSAGE_MAPPED and _has_value(v)}
    keys.discard("metadata")
    meta = message.get("metadata")
    if isinstance(meta, dict):
        keys |= {f"metadata.{k}" for k, v in meta.items() if k not in META_MAPPED and _has_value(v)}
    losses.fields(
        "letta-code.message-fields",
        "messages with other details (model, usage, stop reason, provider...)",
        keys,
    )


def _session_id(agent_id: str, convs: list[_Conversation], system: Any) -> str:
    if _UNIQUE_AGENT.fullmatch(agent_id):
        return f"{SYSTEM}-{agent_id}"
    anchors = sorted(t for c in convs if (t := c.created or c.first))
    anchor = anchors[0] if anchors else "system:" + canonical.stable_id(_text(system))
    return f"{SYSTEM}-{canonical.stable_id(SYSTEM, agent_id, anchor)}-{agent_id}"


def _memory(
    mid: str, file: dict, scope: tuple[str, str], created: str | None, updated: str | None
) -> dict:
    sid, project = scope
    path = file["path"]
    label = path[: -len(".md")]
    short = label[len(SYSTEM_DIR) :] if label.startswith(SYSTEM_DIR) else label
    body = file.get("body")
    return canonical.memory_record(
        mid,
        body if isinstance(body, str) else "",
        created_at=created,
        updated_at=updated,
        mem_type=_block_type(short),
        title=short,
        concepts=[short],
        session_ids=[sid],
        project=project,
        agentId=sid,
        source=canonical.source_block(
            SYSTEM, FORMAT, {"path": path, "frontmatter": file.get("frontmatter")}
        ),
    )


def _system_prompt(
    sid: str, project: str, name: str, record: dict, created: str | None
) -> dict | None:
    system = record.get("system")
    if not isinstance(system, str) or not system.strip():
        return None
    return canonical.memory_record(
        f"{sid}-system-prompt",
        system,
        created_at=created,
        mem_type="workflow",
        title=f"System prompt of {name}",
        concepts=[SYSTEM_PROMPT_CONCEPT],
        session_ids=[sid],
        project=project,
        agentId=sid,
        source=canonical.source_block(
            SYSTEM, FORMAT, {k: record[k] for k in ("id", "name", "system") if k in record}
        ),
    )


def _memory_files(files: list[dict]) -> tuple[list[dict], int]:
    """The memory files that become memories (sorted by path), and how many skills there are."""
    kept = sorted(
        (f for f in files if isinstance(f.get("path"), str) and f["path"].endswith(".md")),
        key=lambda f: f["path"],
    )
    skills = [f for f in kept if f["path"].startswith(SKILLS)]
    return [f for f in kept if not f["path"].startswith(SKILLS)], len(skills)


# --- convert ----------------------------------------------------------------------------------


def convert(payload: Payload, options: ConvertOptions) -> Conversion:
    value = payload.value if isinstance(payload.value, dict) else {}
    errors: list[Problem] = []
    warnings: list[Problem] = []
    losses = _Tally()

    convs = [_Conversation(c) for c in _dicts(value.get("conversations"))]
    memory = {
        m["agent_id"]: m for m in _dicts(value.get("memory")) if isinstance(m.get("agent_id"), str)
    }
    sessions: list[dict] = []
    observations: dict[str, list | RecordList] = {}
    memories: list[dict] = []
    prompts: list[dict] = []
    all_times: list[str] = []
    seen_agents: set[str] = set()

    for item in _dicts(value.get("agents")):
        where = str(item.get("file") or "agents")
        record = item.get("record")
        aid = _text(record.get("id")) if isinstance(record, dict) else ""
        if not isinstance(record, dict) or not aid:
            errors.append(
                Problem(where, "agent has no id; skipped", code=Code.UNCONVERTIBLE_RECORD)
            )
            continue
        if aid in seen_agents:
            warnings.append(
                Problem(where, f"a second file for agent {aid}; skipped", code=Code.DUPLICATE_KEY)
            )
            continue
        seen_agents.add(aid)
        mine = sorted(
            (c for c in convs if c.agent_id == aid),
            key=lambda c: (c.created or c.first or "", c.id),
        )
        sid = _session_id(aid, mine, record.get("system"))
        name = _text(record.get("name"))
        project = f"{SYSTEM}:{name}/{aid}" if name else f"{SYSTEM}:{aid}"

        firsts = [c.first for c in mine if c.first]
        lasts = [c.last for c in mine if c.last]
        created = [c.created for c in mine if c.created]
        started = min(created + firsts, default=None)
        ended = max(lasts, default=None)
        all_times += lasts + created

        # the agent's observations: one bucket, filled (and stored) before the next agent's
        obs = _new_array(_spool_of(c.transcript.messages for c in mine))
        for conv in mine:
            for mid, message, wrapper in conv.transcript.messages:
                oid = f"{sid}-{conv.id}-{mid}"
                obs.append(_observation(oid, sid, conv.id, message, wrapper, conv.created))
                _count_message(message, losses)
            _count_transcript(conv, losses, warnings)
        obs = _filled(obs)
        source = canonical.source_block(SYSTEM, FORMAT, record)
        source["conversations"] = [c.context() for c in mine]
        cwd = next((c.transcript.header.get("cwd") for c in mine if c.transcript.header), None)
        session = canonical.session_record(
            sid,
            project,
            started_at=started,
            ended_at=ended,
            observation_count=len(obs),
            cwd=cwd if isinstance(cwd, str) else "",
            model=_text(record.get("model")) or None,
            tags=_tags(record.get("tags")),
            agentId=sid,
        )
        session["source"] = source
        sessions.append(session)
        if obs:
            observations[sid] = obs

        repo = memory.pop(aid, None)
        git = repo.get("git") if isinstance(repo, dict) else None
        git = git if isinstance(git, dict) else {}
        if repo is not None:
            source["memory"] = {"git": git or None}
            files, skills = _memory_files(_dicts(repo.get("files")))
            first, last = _time(git.get("first")) or started, _time(git.get("last")) or ended
            for file in files:
                mid = f"{sid}-memory-{file['path'][: -len('.md')]}"
                memories.append(_memory(mid, file, (sid, project), first, last))
                losses.fields(
                    "letta-code.block-settings",
                    "memory files with frontmatter (description, read-only, limit)",
                    {
                        k
                        for k, v in (file.get("frontmatter") or {}).items()
                        if isinstance(k, str) and _has_value(v)
                    },
                )
            losses.add(
                "letta-code.skills",
                "skills in the memory folder (skills/<name>/)",
                Kept.NOT_IMPORTED,
                skills,
            )
            commits = git.get("commits")
            losses.add(
                "letta-code.memory-history",
                "commits in the memory repositories (earlier versions of the memory files)",
                Kept.NOT_IMPORTED,
                commits if isinstance(commits, int) else 0,
                "the files as they are now are imported; their history stays in "
                "memfs/<agent>/memory/.git",
            )
        prompt = _system_prompt(sid, project, name or sid, record, started)
        if prompt is not None:
            prompts.append(prompt)
        _count_agent(record, len(mine), losses)
    memories.extend(prompts)

    _orphans(convs, seen_agents, memory, losses, warnings)
    _secrets(value.get("dropped_secrets"), losses, warnings)

    exported = max(all_times) if all_times else None
    data = canonical.export_document(exported_at=exported)
    data["sessions"] = sessions
    data["observations"] = observations
    data["memories"] = memories
    return Conversion(
        data, source_version=None, errors=errors, warnings=warnings, left_behind=losses.items()
    )


def _count_transcript(conv: _Conversation, losses: _Tally, warnings: list[Problem]) -> None:
    t = conv.transcript
    losses.add(
        "letta-code.message-snapshots",
        "earlier snapshots of messages written again while they streamed",
        Kept.NOT_IMPORTED,
        t.replaced,
        "the last snapshot of each message is imported",
    )
    if t.legacy:
        where = f"{conv.item.get('dir')}/messages.jsonl"
        warnings.append(
            Problem(
                where,
                f"{t.legacy} message(s) in Letta Code's old transcript format were left out; "
                "run `letta local-backend migrate-transcripts` and import again",
                code=Code.DATA_DROPPED,
            )
        )
        losses.add(
            "letta-code.legacy-transcripts",
            "messages in the old, unversioned transcript format",
            Kept.NOT_IMPORTED,
            t.legacy,
            "letta local-backend migrate-transcripts converts them",
        )
    losses.add(
        "letta-code.transcript-rows",
        "transcript lines that are not messages",
        Kept.NOT_IMPORTED,
        t.other,
    )
    if isinstance(conv.item.get("system_prompt"), dict):
        losses.add(
            "letta-code.compiled-prompts",
            "compiled system prompts (system-prompt.json)",
            Kept.NOT_IMPORTED,
            1,
            "Letta Code rebuilds them from the system prompt and the memory files, both imported",
        )
    keys = {k for k, v in conv.record.items() if k not in CONVERSATION_MAPPED and _has_value(v)}
    losses.fields(
        "letta-code.conversation-settings",
        "conversations with other details (summary, model, archived...)",
        keys,
    )


def _count_agent(record: dict, conversations: int, losses: _Tally) -> None:
    if any(_has_value(record.get(k)) for k in MODEL_SETTINGS):
        losses.add(
            "letta-code.model-settings",
            "agents' model and compaction settings",
            Kept.VERBATIM_ONLY,
            detail="only the model's name reaches the session (sessions.model)",
        )
    other = {
        k
        for k, v in record.items()
        if k not in AGENT_MAPPED and k not in MODEL_SETTINGS and _has_value(v)
    }
    losses.fields(
        "letta-code.agent-settings", "other agent settings (fields with a value)", other, len(other)
    )


def _orphans(
    convs: list[_Conversation],
    agents: set[str],
    memory: dict[str, dict],
    losses: _Tally,
    warnings: list[Problem],
) -> None:
    """Conversations and memory folders of agents that are not in ``agents/``."""
    lost = [c for c in convs if c.agent_id not in agents]
    if lost:
        messages = sum(len(c.transcript.messages) for c in lost)
        warnings.append(
            Problem(
                "conversations",
                f"{len(lost)} conversation(s) of no agent in agents/ ({messages} message(s)) "
                "were left out",
                code=Code.DANGLING_REFERENCE,
            )
        )
        losses.add(
            "letta-code.orphan-conversations",
            "messages of conversations whose agent is not in agents/",
            Kept.NOT_IMPORTED,
            messages,
        )
    files = sum(len(_memory_files(_dicts(m.get("files")))[0]) for m in memory.values())
    if memory:
        warnings.append(
            Problem(
                "memfs",
                f"the memory of {len(memory)} agent(s) no longer in agents/ (deleted in Letta "
                f"Code: {_names(set(memory))}) was left out",
                code=Code.DELETED_LEFT_OUT,
            )
        )
        losses.add(
            "letta-code.deleted-agents",
            "memory files of deleted agents (memfs folders without an agent)",
            Kept.NOT_IMPORTED,
            files,
        )


def _secrets(dropped: Any, losses: _Tally, warnings: list[Problem]) -> None:
    items = _dicts(dropped)
    if not items:
        return
    fields = {f"{i.get('file')}: {i.get('field')}" for i in items}
    warnings.append(
        Problem(
            "",
            f"{len(items)} credential(s) in agent or conversation settings were not read "
            f"({_names(fields)})",
            code=Code.SECRET_REDACTED,
        )
    )
    losses.add(
        "letta-code.credentials",
        "credentials in agent and conversation settings (API keys, tokens, environment)",
        Kept.NOT_IMPORTED,
        len(items),
        "never read: dropped while the folder was read; set them again in agentmemory's host",
    )


FORMATS: tuple[Format, ...] = (
    Format(
        id=FORMAT,
        label="Letta Code local backend (~/.letta/lc-local-backend)",
        sniff=storage_sniff(FORMAT),
        convert=convert,
        streams=True,
    ),
)
