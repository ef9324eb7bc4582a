"""Letta (formerly MemGPT) adapters: agent files (current and first schema) and archival passages.

Formats (FORMATS.md section 6, LETTA.md):

- ``letta-af``: current Agent File, an object with ``agents[]`` and ``blocks[]``.
- ``letta-af-legacy``: first Agent File schema, one agent at the top level (``core_memory``,
  ``messages``, ``llm_config``...).
- ``letta-passages``: a bare list of archival passages (``{id: "passage-...", text, ...}``).
- ``letta-sqlite``: Letta's own database (``~/.letta/sqlite.db``, Letta 0.6 to 0.11.7), read by
  ``wizard.core.storage.letta`` into a document shaped like the current Agent File (see the
  section on the database at the end of this docstring).

Mapping: agent -> Session, message -> ``conversation`` observation, core memory block -> Memory,
the agent's system prompt -> Memory of type ``workflow``, the text of a file attached to an
agent -> Memories of type ``fact`` (one per part of about 4,000 characters, cut at paragraph
boundaries), passage -> Memory of type ``fact``. What the canonical fields do not hold is kept
in the record's ``source`` object and counted in the conversion's ``left_behind`` (tools, tool
rules, model settings, skills, MCP servers, groups...). Secrets stay under their own keys
(``secrets``, ``tool_exec_environment_variables``, an MCP server's ``token``...) so that the
central redaction (``wizard.core.redact``) replaces their values.

Ids. Letta's ids in an agent file are local to the file (``agent-0``, ``block-0``,
``message-0``), so they are never imported as is. Each agent gets a namespace
``ns = stable_id("letta", <agent name>, <anchor>)`` where the anchor is the agent's earliest
message time (UTC), else the file's ``created_at``, else a digest of its system prompt. Then:

- session: ``letta-<ns>-<agent id>`` (legacy files have no agent id: ``letta-<ns>-agent-0``);
  this is also the agent's ``agentId``;
- message: ``letta-<ns>-<message id>`` (legacy, or a message without id: ``letta-<ns>-msg-<i>``
  where ``i`` is the message's index in the agent's ``messages``);
- block: ``letta-<ns>-<block id>`` with the namespace of the **first agent (file order) that
  uses the block**, so a block shared by several agents is one Memory and a single-agent file
  keeps its block ids when other agents are added to a later export. A block no agent uses gets
  the file namespace ``stable_id("letta-file", *sorted(agent namespaces))`` (or, in a file
  without agents, of its ``created_at`` and block labels). Legacy blocks: ``letta-<ns>-block-<i>``.
- system prompt: ``<session id>-system-prompt``;
- document part: ``letta-<ns>-<file id>-part-<i>`` (``i`` from 1), ``ns`` chosen as for blocks;
- passages carry real unique ids (``passage-<uuid>``): kept as they are.

The same file always gives the same ids; two files that both hold ``agent-0`` give different ids
unless they hold the same agent (same name and same first message time).

Scope (``project``, ``agentId``, ``sessionIds``). An agent's session, its messages, its system
prompt, and every block or document only that agent uses get ``project = "letta:<agent name>"``
(an unnamed agent: ``letta:<session id>``) and ``agentId = <session id>``. A block or document
several agents use is one Memory without ``agentId``, listing each agent's session in
``sessionIds``, with ``project = "letta:group:<group name>"`` when one group holds all those
agents (a group's name: its ``name``, else its agents' names joined by ``+``), else
``letta:file:<file namespace>``; one no agent uses gets ``letta:file:<file namespace>`` alone.
A passage belongs to its agent when known (its ``agent_id``, or the one agent the other
passages of its archive name): ``project = "letta:agent:<agent id>"``, ``agentId =
"letta-<agent id>"`` (a file-local ``agent-<n>`` is namespaced by the file's passage ids);
else to its archive (``letta:archive:<archive id>``); else to the file (``letta:passages``).

The database (``letta-sqlite``). It is converted by the same helpers as an agent file (agent
-> session, message -> observation, block -> memory, system prompt -> memory) and the passages
converter (archival and source passages), so the same memory gets the same title, content,
type, concepts, times and project (``letta:<agent name>``, ``letta:group:...``) from either.

- Ids are Letta's real ids, which the database holds and which are unique on their own:
  session ``letta-<agent id>`` (``letta-agent-<uuid>``, also the agentId, and the same agentId
  the passages converter gives that agent's passages), message ``letta-<message id>``, block
  ``letta-<block id>``, block version ``letta-<block_history id>``, system prompt
  ``<session id>-system-prompt``, passage ``passage-<uuid>`` as is (as in ``letta-passages``).
  They are not the ids an agent file of the same agent gives: an export renumbers its rows
  (``agent-0``, ``message-0``...) in an order that depends on which agents and which messages
  it holds (0.11.7 exports the first 50 messages, later servers the in-context ones or the
  last 50), so no id computed from the database could promise to equal the file's, and one
  that equals it only sometimes would merge unrelated records. Real ids never collide with
  the files' namespaced ids and stay the same for as long as the row exists.
- Every live message is imported (an agent file holds at most 50), in Letta's order.
- ``block_history``: each checkpoint of a block is a memory of its own, ``isLatest: false``,
  ``version`` = its sequence number; the block's current value is the latest memory, with
  ``version`` one above its last checkpoint and ``supersedes`` listing them.
- Soft-deleted rows (``is_deleted``): agents (with their messages), messages, blocks, block
  versions and passages are left out and counted. With ``include_deleted`` deleted blocks,
  versions and passages come back with ``isLatest: false``; deleted messages and agents never
  do (an observation or a session cannot say it was deleted).
- Source passages (the chunks of files in sources) are memories of type ``fact`` with the
  concept ``document``, scoped like a document to the agents their source is attached to
  (else ``letta:source:<source name>``); the files' full texts are counted, not imported.
- A block several agents share outside a group, or no agent uses, gets ``letta:sqlite``;
  blocks of Letta's presets (``is_template``) that no agent uses are counted, not imported.
- Counted, never read (rule 6 of docs/SOURCES.md): credentials and the tables that may hold
  them (environment variables, providers, API keys, MCP servers, sandboxes, identities);
  counted: archives (and those without passages), run records, embeddings; tools by name only.

Big inputs (``Format.streams``). The database, a list of passages and a first-schema agent
file convert from the spool (``wizard.core.spool``): the record arrays the reader kept there
(the database's messages of each agent, passages, blocks and block versions; the passages of a
list; a legacy file's ``messages`` and ``core_memory``) are read a chunk at a time, and the
records made of them go to the same spool, one agent's observations after the other's. What
stays in memory per record is its id (repeated passage ids, block versions grouped by block in
the spool) and the first and last message time of each agent. The current agent file does not
stream: its unit is an agent (with its messages, at most the 50 or so an export holds) and
every session carries the file's context, known only once every agent has been read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from wizard.core import canonical
from wizard.core.formats import (
    NO_MATCH,
    Conversion,
    ConvertOptions,
    Format,
    Payload,
    Sniff,
    storage_sniff,
)
from wizard.core.losses import Kept, LeftBehind, Losses
from wizard.core.problems import Code, Problem
from wizard.core.spool import RecordList, Spool, empty_like, grouped, is_array

SYSTEM = "letta"
AF = "letta-af"
AF_LEGACY = "letta-af-legacy"
PASSAGES = "letta-passages"
SQLITE = "letta-sqlite"

SAMPLE = 20  # items looked at by a sniff
TITLE_WORDS = 60  # characters of text after the role in an observation title
IMPORTANCE = {"system": 2, "tool": 3}  # other roles: DEFAULT_IMPORTANCE
DEFAULT_IMPORTANCE = 5
SYSTEM_PROMPT_CONCEPT = "system-prompt"
DOCUMENT_CONCEPT = "document"
PART_CHARS = 4000  # a document is cut into parts of about this many characters
# Where a document part may end, best first: after a blank line, a line, a sentence, a word.
PART_BREAKS = ("\n\n", "\n", ". ", " ")
# Block labels whose words say the block is about the user: such blocks become preferences.
USER_WORDS = frozenset({"human", "user", "users", "preference", "preferences"})
LEGACY_KEYS = ("core_memory", "messages", "llm_config")
# Top-level keys of a current agent file that are matched to agents by id.
RELATED_KEYS = ("tools", "groups", "sources")
# Top-level keys of a current agent file the adapter reads or reports by name.
FILE_KEYS = frozenset(
    {"agents", "blocks", "groups", "files", "sources", "tools", "mcp_servers", "skills"}
    | {"metadata", "created_at"}
)
FILE_PASSAGES_PROJECT = "letta:passages"
_LOCAL_AGENT_ID = re.compile(r"agent-\d+")

# Agent fields that reach a canonical field (or are counted under their own category below).
AGENT_MAPPED = frozenset(
    {"id", "name", "messages", "block_ids", "tool_ids", "group_ids", "source_ids", "folder_ids"}
    | {"model", "tags", "system"}
    # the first schema's agent is the whole file
    | {"core_memory", "created_at", "updated_at", "version"}
)
MODEL_SETTINGS = (
    "llm_config",
    "embedding_config",
    "model_settings",
    "compaction_settings",
    "embedding",
    "context_window_limit",
    "embedding_chunk_size",
    "max_tokens",
    "max_reasoning_tokens",
    "enable_reasoner",
    "reasoning",
    "parallel_tool_calls",
    "response_format",
)
ENVIRONMENT_KEYS = ("secrets", "tool_exec_environment_variables")
# (agent-level "tools": tool names in the current schema, tool definitions in the first one)
AGENT_COUNTED = frozenset(
    {*MODEL_SETTINGS, *ENVIRONMENT_KEYS, "tool_rules", "memory_blocks", "tools"}
)
BLOCK_MAPPED = frozenset({"id", "label", "value", "created_at", "updated_at"})
MESSAGE_MAPPED = frozenset(
    {"id", "type", "role", "content", "tool_calls", "created_at", "agent_id", "tool_returns"}
)
PASSAGE_MAPPED = frozenset(
    {"id", "text", "created_at", "updated_at", "tags", "agent_id", "archive_id", "is_deleted"}
    | {"embedding"}
)
NAMED_FIELDS = 8  # how many field names a left-behind detail lists
# The order of the left-behind list: what people look for first (other categories follow).
CATEGORY_ORDER = (
    "letta.tools",
    "letta.tool-rules",
    "letta.skills",
    "letta.mcp-servers",
    "letta.model-settings",
    "letta.tool-environment",
    "letta.groups",
    "letta.sources",
    "letta.files",
    "letta.agent-settings",
    "letta.inline-blocks",
    "letta.block-settings",
    "letta.duplicate-blocks",
    "letta.message-parts",
    "letta.tool-returns",
    "letta.message-fields",
    "letta.file-fields",
    "letta.deleted-passages",
    "letta.duplicate-passages",
    "letta.embeddings",
    "letta.passage-fields",
    # the database (letta-sqlite)
    "letta.credentials",
    "letta.deleted-agents",
    "letta.deleted-messages",
    "letta.deleted-blocks",
    "letta.block-templates",
    "letta.archives",
    "letta.file-contents",
    "letta.run-records",
)

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


@dataclass(frozen=True)
class _Agent:
    """One agent of the file as the records made from it name it."""

    local: str  # its file-local id ("agent-0")
    sid: str  # its session id, which is also its agentId
    ns: str  # the namespace of its records' ids
    label: str  # its name, else its session id
    group_ids: tuple[str, ...] = ()

    @property
    def project(self) -> str:
        return f"letta:{self.label}"


@dataclass(frozen=True)
class _Scope:
    """Who a memory belongs to: its project, its agent (one agent only), its sessions."""

    project: str
    agent_id: str | None
    session_ids: tuple[str, ...]


def _agent_scope(agent: _Agent) -> _Scope:
    return _Scope(agent.project, agent.sid, (agent.sid,))


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


def _has_value(value: Any) -> bool:
    """Whether a field says something (None, False, "" and empty containers do not)."""
    return value not in (None, False, "", [], {})


def _names(keys: set[str]) -> str:
    listed = sorted(keys)
    more = len(listed) - NAMED_FIELDS
    return ", ".join(listed[:NAMED_FIELDS]) + (f" and {more} more" if more > 0 else "")


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
    oid: str, agent: _Agent, message: dict, fmt: str, fallback_time: str | None
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
        agent.sid,
        timestamp=_time(message.get("created_at")) or fallback_time,
        title=f"{role}: {words}" if words else role,
        narrative=narrative,
        facts=facts,
        concepts=[SYSTEM_PROMPT_CONCEPT] if is_system else [],
        importance=IMPORTANCE.get(role, DEFAULT_IMPORTANCE),
        agentId=agent.sid,
        source=canonical.source_block(SYSTEM, fmt, message),
    )


def _message_span(
    messages: list | RecordList, where: str, errors: list[Problem]
) -> tuple[str | None, str | None, int]:
    """The earliest and the latest time of an agent's messages, and how many are objects;
    each message that is not one is reported (``where``: the path of the messages) and
    skipped. One pass: a spooled array is read a chunk at a time."""
    first: str | None = None
    last: str | None = None
    count = 0
    for j, message in enumerate(messages):
        if not isinstance(message, dict):
            errors.append(
                Problem(
                    f"{where}[{j}]",
                    "message is not an object; skipped",
                    code=Code.UNCONVERTIBLE_RECORD,
                )
            )
            continue
        count += 1
        t = _time(message.get("created_at"))
        if t:
            if first is None or t < first:
                first = t
            if last is None or t > last:
                last = t
    return first, last, count


def _objects(messages: list | RecordList) -> Iterator[tuple[int, dict]]:
    """The messages that are objects, with their index (the others: see _message_span)."""
    for j, message in enumerate(messages):
        if isinstance(message, dict):
            yield j, message


def _namespace(name: Any, anchor: str | None, system_prompt: Any) -> str:
    if not anchor:
        anchor = "system:" + canonical.stable_id(system_prompt if system_prompt else "")
    return canonical.stable_id(SYSTEM, name if name is not None else "", anchor)


def _label(name: Any, sid: str) -> str:
    return name if isinstance(name, str) and name.strip() else sid


def _model(agent: dict) -> str | None:
    model = agent.get("model")
    if not isinstance(model, str) or not model:
        llm = agent.get("llm_config")
        model = llm.get("model") if isinstance(llm, dict) else None
    return model if isinstance(model, str) and model else None


def _tags(value: Any) -> list[str] | None:
    if not is_array(value):
        return None
    return [t for t in value if isinstance(t, str)]


def _block_type(label: Any) -> str:
    words = set(re.split(r"[^a-z0-9]+", label.lower())) if isinstance(label, str) else set()
    return "preference" if words & USER_WORDS else "fact"


def _block_memory(
    mid: str, block: dict, fmt: str, scope: _Scope, fallback_time: str | None
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
        session_ids=list(scope.session_ids),
        project=scope.project,
        agentId=scope.agent_id,
        source=canonical.source_block(SYSTEM, fmt, block),
    )


def _system_prompt_memory(
    agent: _Agent, record: dict, fmt: str, created: str | None, updated: str | None = None
) -> dict | None:
    """The agent's system prompt as a searchable memory, or None when it has none."""
    system = record.get("system")
    if not isinstance(system, str) or not system.strip():
        return None
    raw = {k: record[k] for k in ("id", "name", "system") if k in record}
    return canonical.memory_record(
        f"{agent.sid}-system-prompt",
        system,
        created_at=created,
        updated_at=updated,
        mem_type="workflow",
        title=f"System prompt of {agent.label}",
        concepts=[SYSTEM_PROMPT_CONCEPT],
        session_ids=[agent.sid],
        project=agent.project,
        agentId=agent.sid,
        source=canonical.source_block(SYSTEM, fmt, raw),
    )


def split_text(text: str, limit: int = PART_CHARS) -> list[tuple[int, int]]:
    """Where to cut a long text into parts of about ``limit`` characters: ``(start, end)``
    offsets that cover the text exactly, in order.

    A part ends after the last blank line in its second half, else after a line end, a
    sentence or a word there; a text without any of these is cut at ``limit``.
    """
    bounds = []
    start = 0
    while len(text) - start > limit:
        cut = _cut(text, start + limit // 2, start + limit)
        bounds.append((start, cut))
        start = cut
    bounds.append((start, len(text)))
    return bounds


def _cut(text: str, low: int, high: int) -> int:
    """Where a part that must end between ``low`` and ``high`` ends (see ``split_text``)."""
    blank = PART_BREAKS[0]
    at = text.rfind(blank, low, high)
    while at >= 0:
        # A heading belongs to the paragraph after it: cut before a heading that would end
        # the part, when the part stays long enough.
        before = text.rfind(blank, 0, at)
        last = text[before + len(blank) if before >= 0 else 0 : at].strip()
        if not (last.startswith("#") and "\n" not in last) or before + len(blank) < low:
            return at + len(blank)
        at = before
    for sep in PART_BREAKS[1:]:
        at = text.rfind(sep, low, high)
        if at >= 0:
            return at + len(sep)
    return high


def _messages_path(path: str) -> str:
    """The path of the messages of the agent at ``path`` ("" for a legacy file, whose agent
    is the whole document)."""
    return f"{path}.messages" if path else "messages"


def _agent_messages(agent: dict, path: str, errors: list[Problem]) -> list | RecordList:
    """The agent's messages array (a list, or a RecordList kept in a spool), [] when it has
    none or when it is not an array (an error); ``path`` is the agent's path. The messages
    that are not objects are reported by ``_message_span`` and skipped by ``_objects``."""
    messages = agent.get("messages")
    if messages is None:
        return []
    if not is_array(messages):
        errors.append(
            Problem(
                _messages_path(path),
                "messages must be an array; none imported",
                code=Code.WRONG_SHAPE,
            )
        )
        return []
    return messages


def _new_array(spool: Spool | None) -> list | RecordList:
    """An empty record array: a RecordList in ``spool`` when there is one, else a list."""
    return [] if spool is None else RecordList(spool)


def _spool_of(arrays: Iterable[Any]) -> Spool | None:
    """The spool of the first of ``arrays`` kept in one (what a conversion writes from
    spooled arrays goes to the same spool), or None: all are in memory."""
    for array in arrays:
        if isinstance(array, RecordList):
            return array.spool
    return None


def _filled(array: list | RecordList) -> list | RecordList:
    """An array written to its end: a RecordList's last records stored now (out of memory:
    buckets are filled one after the other)."""
    if isinstance(array, RecordList):
        array.flush()
    return array


def _in_memory(value: dict) -> dict:
    """A copy of an object whose record arrays kept in a spool (its fields, and its objects'
    fields) are lists: a verbatim copy inside one record."""

    def plain(item: Any) -> Any:
        return list(item) if isinstance(item, RecordList) else item

    out = {}
    for key, item in value.items():
        if isinstance(item, dict) and any(isinstance(v, RecordList) for v in item.values()):
            item = {k: plain(v) for k, v in item.items()}
        out[key] = plain(item)
    return out


def _agent_session(
    sid: str,
    project: str,
    agent: dict,
    fmt: str,
    started: str | None,
    ended: str | None,
    observations: list[dict] | RecordList,
    related: dict | None,
) -> dict:
    """An agent's Session, with the agent (its messages aside) as its verbatim source, and
    what it refers to (``related``) beside it."""
    source = canonical.source_block(
        SYSTEM, fmt, {k: v for k, v in agent.items() if k != "messages"}
    )
    if related:
        source["related"] = related
    session = canonical.session_record(
        sid,
        project,
        started_at=started,
        ended_at=ended,
        observation_count=len(observations),
        model=_model(agent),
        tags=_tags(agent.get("tags")),
        agentId=sid,
    )
    session["source"] = source
    return session


def _add_session(data: dict, session: dict, observations: list[dict] | RecordList) -> None:
    data["sessions"].append(session)
    if observations:
        data["observations"][session["id"]] = observations


# --- what is left behind ----------------------------------------------------------------------


class _Tally(Losses):
    """Losses that also gather, per category, the names of the fields it counted (shown as
    the category's detail)."""

    def __init__(self) -> None:
        super().__init__()
        self._fields: dict[str, set[str]] = {}

    def fields(
        self,
        category: str,
        what: str,
        keys: set[str],
        count: int = 1,
        kept: Kept = Kept.VERBATIM_ONLY,
    ) -> None:
        """Count ``count`` more of a category made of the fields ``keys`` (none: nothing)."""
        if keys:
            self.add(category, what, kept, count)
            self._fields.setdefault(category, set()).update(keys)

    def duplicate_block(self) -> None:
        """One more block left out for repeating an earlier block's id."""
        self.add(
            "letta.duplicate-blocks", "blocks repeating an earlier block's id", Kept.NOT_IMPORTED
        )

    def items(self) -> list[LeftBehind]:
        rank = {c: i for i, c in enumerate(CATEGORY_ORDER)}
        out = sorted(super().items(), key=lambda e: rank.get(e.category, len(rank)))
        for entry in out:
            keys = self._fields.get(entry.category)
            if keys:
                entry.detail = f"fields: {_names(keys)}"
        return out


def _count_agent(agent: dict, losses: _Tally) -> None:
    """Count what of one agent (a legacy file: the whole file) no canonical field receives."""
    if any(_has_value(agent.get(k)) for k in MODEL_SETTINGS):
        losses.add(
            "letta.model-settings",
            "agents' model settings (llm_config, embedding_config, model_settings...)",
            Kept.VERBATIM_ONLY,
            detail="only the model's name reaches the session (sessions.model)",
        )
    rules = agent.get("tool_rules")
    if is_array(rules):
        losses.add("letta.tool-rules", "tool rules", Kept.VERBATIM_ONLY, len(rules))
    names: set[str] = set()
    for key in ENVIRONMENT_KEYS:
        names |= _environment_names(agent.get(key))
    losses.add(
        "letta.tool-environment",
        "tool environment variables and agent secrets",
        Kept.VERBATIM_ONLY,
        len(names),
        "their names are kept; any value they hold is replaced by [redacted]",
    )
    inline = agent.get("memory_blocks")
    if is_array(inline):
        losses.add(
            "letta.inline-blocks",
            "memory blocks written inline in an agent (memory_blocks)",
            Kept.VERBATIM_ONLY,
            len(inline),
        )
    other = {
        k
        for k, v in agent.items()
        if k not in AGENT_MAPPED and k not in AGENT_COUNTED and _has_value(v)
    }
    losses.fields(
        "letta.agent-settings", "other agent settings (fields with a value)", other, len(other)
    )


def _environment_names(value: Any) -> set[str]:
    """The variable names of a ``secrets`` / ``tool_exec_environment_variables`` value: an
    object of names (current schema) or a list of ``{key, value}`` (first schema)."""
    if isinstance(value, dict):
        return {str(k) for k in value}
    if is_array(value):
        return {
            str(e.get("key"))
            for e in value
            if isinstance(e, dict) and isinstance(e.get("key"), (str, int))
        }
    return set()


def _count_block(block: dict, losses: _Tally) -> None:
    losses.fields(
        "letta.block-settings",
        "core memory blocks with settings (limit, description, read-only...)",
        {k for k, v in block.items() if k not in BLOCK_MAPPED and _has_value(v)},
    )


def _count_message(message: dict, losses: _Tally) -> None:
    returns = message.get("tool_returns")
    if isinstance(returns, list):
        losses.add(
            "letta.tool-returns",
            "tool results attached to messages (status, stdout, stderr)",
            Kept.VERBATIM_ONLY,
            len(returns),
            "the tool message's text is the observation's narrative",
        )
    content = message.get("content")
    if isinstance(content, list):
        other = [
            p for p in content if not (isinstance(p, dict) and p.get("type", "text") == "text")
        ]
        losses.add(
            "letta.message-parts",
            "message parts other than text (reasoning, images...)",
            Kept.VERBATIM_ONLY,
            len(other),
        )
    losses.fields(
        "letta.message-fields",
        "messages with other details (model, tool call id, approvals...)",
        {k for k, v in message.items() if k not in MESSAGE_MAPPED and _has_value(v)},
    )


def _count_file(value: dict, undocumented: int, losses: _Tally, kept: Kept) -> None:
    """Count the file-wide parts of a current agent file (``kept``: VERBATIM_ONLY when they
    travel with the sessions, NOT_IMPORTED in a file without agents)."""

    def listed(key: str) -> list:
        items = value.get(key)
        return items if isinstance(items, list) else []

    losses.add("letta.tools", "tools (definitions and source code)", kept, len(listed("tools")))
    losses.add("letta.skills", "skills (instructions and scripts)", kept, len(listed("skills")))
    losses.add("letta.mcp-servers", "MCP servers", kept, len(listed("mcp_servers")))
    losses.add(
        "letta.groups",
        "multi-agent groups (manager type and settings)",
        kept,
        len(listed("groups")),
        "blocks their agents share are scoped to the group (project letta:group:...)",
    )
    losses.add(
        "letta.sources",
        "data sources and folders (name, description, instructions, embedding settings)",
        kept,
        len(listed("sources")),
    )
    losses.add(
        "letta.files",
        "attached files not made into memories (no text, or a repeated id)",
        kept,
        undocumented,
    )
    other = {k for k, v in value.items() if k not in FILE_KEYS and _has_value(v)}
    meta = value.get("metadata")
    if isinstance(meta, dict):
        other |= {f"metadata.{k}" for k, v in meta.items() if k != "revision_id" and _has_value(v)}
    losses.fields("letta.file-fields", "other fields of the file", other, len(other), kept)


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
            member = key == "groups" and aid and aid in _group_members(item)
            if (iid and iid in wanted[key]) or member:
                related.setdefault(key, []).append(item)
                used.add((key, iid))
    return related, used


def _group_members(group: dict) -> set[str]:
    """The local ids of the agents a group names: its ``agent_ids`` and its manager."""
    members = set(_ids(group.get("agent_ids")))
    manager = group.get("manager_config")
    if isinstance(manager, dict):
        members |= set(_ids([manager.get("manager_agent_id")]))
    return members


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


class _Owners:
    """Decides the scope of a block or document from the agents that use it."""

    def __init__(self, value: dict, agents: list[_Agent], file_ns: str) -> None:
        self.file_project = f"letta:file:{file_ns}"
        self.groups: list[tuple[str, set[str]]] = []  # (name, session ids), file order
        groups = value.get("groups")
        for group in groups if isinstance(groups, list) else []:
            if not isinstance(group, dict):
                continue
            gid = _local_id(group.get("id"), "")
            named = _group_members(group)
            members = [a for a in agents if a.local in named or (gid and gid in a.group_ids)]
            if not members:
                continue
            name = group.get("name")
            if not (isinstance(name, str) and name.strip()):
                name = "+".join(a.label for a in members)
            self.groups.append((name, {a.sid for a in members}))

    def scope(self, users: list[_Agent]) -> _Scope:
        if not users:
            return _Scope(self.file_project, None, ())
        if len(users) == 1:
            return _agent_scope(users[0])
        sids = tuple(a.sid for a in users)
        for name, members in self.groups:
            if set(sids) <= members:
                return _Scope(f"letta:group:{name}", None, sids)
        return _Scope(self.file_project, None, sids)


def _users(agents: list[_Agent], wanted: dict[str, list[str]], key: str) -> list[_Agent]:
    """The agents (file order, each once) whose list ``wanted[agent sid]`` holds ``key``."""
    return [a for a in agents if key in wanted.get(a.sid, ())]


def _file_users(agents: list[_Agent], raw_agents: dict[str, dict], file: dict) -> list[_Agent]:
    """The agents a file is attached to: by ``files_agents`` or through its source (folder)."""
    fid = _local_id(file.get("id"), "")
    source = _local_id(file.get("source_id"), "")
    users = []
    for agent in agents:
        raw = raw_agents[agent.sid]
        links = raw.get("files_agents")
        by_link = bool(fid) and any(
            isinstance(link, dict) and _local_id(link.get("file_id"), "") == fid
            for link in (links if isinstance(links, list) else [])
        )
        folders = _ids(raw.get("source_ids")) + _ids(raw.get("folder_ids"))
        if by_link or (source and source in folders):
            users.append(agent)
    return users


def _document_memories(
    file: dict, fid: str, ns: str, scope: _Scope, fallback_time: str | None
) -> list[dict]:
    """A file's text as memories of about PART_CHARS characters each, linked to each other."""
    text = file["content"]
    bounds = [(s, e) for s, e in split_text(text) if text[s:e].strip()]
    name = next(
        (
            file[k]
            for k in ("original_file_name", "file_name")
            if isinstance(file.get(k), str) and file[k].strip()
        ),
        fid,
    )
    ids = [f"letta-{ns}-{fid}-part-{i}" for i in range(1, len(bounds) + 1)]
    raw = {k: v for k, v in file.items() if k != "content"}
    created = _time(file.get("file_creation_date")) or _time(file.get("created_at"))
    updated = _time(file.get("file_last_modified_date")) or _time(file.get("updated_at"))
    memories = []
    for i, (start, end) in enumerate(bounds):
        n = len(bounds)
        source = canonical.source_block(SYSTEM, AF, raw)
        source["part"] = {"index": i + 1, "of": n, "start": start, "end": end}
        memories.append(
            canonical.memory_record(
                ids[i],
                text[start:end],
                created_at=created or fallback_time,
                updated_at=updated,
                mem_type="fact",
                title=f"{name} (part {i + 1} of {n})" if n > 1 else name,
                concepts=[DOCUMENT_CONCEPT],
                session_ids=list(scope.session_ids),
                relatedIds=[other for other in ids if other != ids[i]] or None,
                project=scope.project,
                agentId=scope.agent_id,
                source=source,
            )
        )
    return memories


def convert_af(payload: Payload, options: ConvertOptions) -> Conversion:
    value = payload.value if isinstance(payload.value, dict) else {}
    errors: list[Problem] = []
    warnings = _start_warnings(payload)
    losses = _Tally()
    file_time = _time(value.get("created_at"))
    data = _empty_export(file_time)
    agents = value.get("agents")
    if not isinstance(agents, list):
        agents = []
    blocks = value.get("blocks")
    if not isinstance(blocks, list):
        blocks = []
    files = value.get("files")
    if not isinstance(files, list):
        files = []

    used: set[tuple[str, str]] = set()
    sources: list[dict] = []  # session sources waiting for the file context
    block_ids: dict[str, list[str]] = {}  # session id -> the agent's block ids
    known: list[_Agent] = []
    raw_agents: dict[str, dict] = {}
    prompts: list[dict] = []

    for i, agent in enumerate(agents):
        path = f"agents[{i}]"
        if not isinstance(agent, dict):
            errors.append(
                Problem(path, "agent is not an object; skipped", code=Code.UNCONVERTIBLE_RECORD)
            )
            continue
        messages = _agent_messages(agent, path, errors)
        first, last, _count = _message_span(messages, _messages_path(path), errors)
        ns = _namespace(agent.get("name"), first or file_time, agent.get("system"))
        local = _local_id(agent.get("id"), f"agent-{i}")
        sid = f"letta-{ns}-{local}"
        me = _Agent(
            local, sid, ns, _label(agent.get("name"), sid), tuple(_ids(agent.get("group_ids")))
        )
        known.append(me)
        raw_agents[sid] = agent
        started = first or file_time
        observations = []
        for j, message in _objects(messages):
            oid = f"letta-{ns}-{_local_id(message.get('id'), f'msg-{j}')}"
            observations.append(_observation(oid, me, message, AF, started))
            _count_message(message, losses)
        related, agent_used = _related(agent, value)
        used |= agent_used
        session = _agent_session(sid, me.project, agent, AF, started, last, observations, related)
        sources.append(session["source"])
        _add_session(data, session, observations)
        block_ids[sid] = list(dict.fromkeys(_ids(agent.get("block_ids"))))
        prompt = _system_prompt_memory(me, agent, AF, started)
        if prompt is not None:
            prompts.append(prompt)
        _count_agent(agent, losses)

    file_ns = (
        canonical.stable_id(f"{SYSTEM}-file", *sorted(a.ns for a in known))
        if known
        else canonical.stable_id(
            f"{SYSTEM}-file",
            value.get("created_at"),
            *sorted(str(b.get("label")) for b in blocks if isinstance(b, dict)),
        )
    )
    owners = _Owners(value, known, file_ns)

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
        users = _users(known, block_ids, local_bid)
        ns = users[0].ns if users else file_ns
        mid = f"letta-{ns}-{local_bid}"
        if mid in seen:
            warnings.append(
                Problem(path, f"duplicate block id {local_bid!r}; skipped", code=Code.DUPLICATE_KEY)
            )
            losses.duplicate_block()
            continue
        seen.add(mid)
        if not users:
            unused += 1
        data["memories"].append(_block_memory(mid, block, AF, owners.scope(users), file_time))
        _count_block(block, losses)
    data["memories"].extend(prompts)

    # Attached files with text become document memories; the others stay in the file context.
    kept_files: list = []
    for file in files:
        content = file.get("content") if isinstance(file, dict) else None
        if not isinstance(file, dict) or not isinstance(content, str) or not content.strip():
            kept_files.append(file)
            continue
        fid = _local_id(file.get("id"), f"file-{canonical.stable_id(content)}")
        users = _file_users(known, raw_agents, file)
        ns = users[0].ns if users else file_ns
        parts = _document_memories(file, fid, ns, owners.scope(users), file_time)
        if parts[0]["id"] in seen:
            warnings.append(
                Problem("files", f"duplicate file id {fid!r}; skipped", code=Code.DUPLICATE_KEY)
            )
            kept_files.append(file)
            continue
        seen.add(parts[0]["id"])
        data["memories"].extend(parts)

    # File context kept with every session: top-level keys that are neither agents, blocks,
    # documents nor records matched to an agent (tools/groups/sources referenced by no agent
    # stay here, under "unreferenced").
    file_context = {
        k: (kept_files if v is files else v)
        for k, v in value.items()
        if k not in ("agents", "blocks", *RELATED_KEYS)
    }
    unreferenced = _unreferenced(value, used)
    context = {**file_context, **({"unreferenced": unreferenced} if unreferenced else {})}
    if context:
        for source in sources:
            source["file"] = context
    _count_file(
        value, len(kept_files), losses, Kept.VERBATIM_ONLY if sources else Kept.NOT_IMPORTED
    )

    wanted = {bid for ids in block_ids.values() for bid in ids}
    present = {_local_id(b.get("id"), "") for b in blocks if isinstance(b, dict)}
    missing = sorted(wanted - present)
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
        left_behind=losses.items(),
    )


# --- letta-af-legacy (first schema) ---------------------------------------------------------


def convert_af_legacy(payload: Payload, options: ConvertOptions) -> Conversion:
    """The first schema's one agent. Its record arrays (``messages``, ``core_memory``) may be
    kept in a spool by the reader: they are read a chunk at a time, and what is made of them
    (observations, memories) goes to the same spool."""
    value = payload.value if isinstance(payload.value, dict) else {}
    errors: list[Problem] = []
    warnings = _start_warnings(payload)
    losses = _Tally()
    file_time = _time(value.get("created_at"))
    data = _empty_export(_time(value.get("updated_at")) or file_time)

    messages = _agent_messages(value, "", errors)
    first, last, _count = _message_span(messages, _messages_path(""), errors)
    started = first or file_time
    ns = _namespace(value.get("name"), started, value.get("system"))
    sid = f"letta-{ns}-agent-0"
    agent = _Agent("agent-0", sid, ns, _label(value.get("name"), sid))
    observations = empty_like(messages)
    for j, message in _objects(messages):
        observations.append(_observation(f"letta-{ns}-msg-{j}", agent, message, AF_LEGACY, started))
        _count_message(message, losses)
    _filled(observations)
    session = canonical.session_record(
        sid,
        agent.project,
        started_at=started,
        ended_at=last,
        observation_count=len(observations),
        model=_model(value),
        tags=_tags(value.get("tags")),
        agentId=sid,
    )
    session["source"] = canonical.source_block(
        SYSTEM,
        AF_LEGACY,
        _in_memory({k: v for k, v in value.items() if k not in ("messages", "core_memory")}),
    )
    _add_session(data, session, observations)

    core = value.get("core_memory")
    if core is not None and not is_array(core):
        errors.append(
            Problem(
                "core_memory", "core_memory must be an array; none imported", code=Code.WRONG_SHAPE
            )
        )
        core = []
    data["memories"] = _new_array(_spool_of((core, messages)))
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
            _block_memory(f"letta-{ns}-block-{k}", block, AF_LEGACY, _agent_scope(agent), file_time)
        )
        _count_block(block, losses)
    prompt = _system_prompt_memory(
        agent, value, AF_LEGACY, file_time or started, _time(value.get("updated_at"))
    )
    if prompt is not None:
        data["memories"].append(prompt)

    _filled(data["memories"])
    _count_agent(value, losses)
    tools = value.get("tools")
    if is_array(tools):
        losses.add(
            "letta.tools", "tools (definitions and source code)", Kept.VERBATIM_ONLY, len(tools)
        )

    version = value.get("version")
    return Conversion(
        data,
        source_version=version if isinstance(version, str) and version else None,
        errors=errors,
        warnings=warnings,
        left_behind=losses.items(),
    )


# --- letta-passages -------------------------------------------------------------------------


class _PassageOwners:
    """Decides the scope of a passage: its agent, else its archive, else the file. ``arrays``
    are the passage arrays of the file (lists or RecordLists), read once here (and once more
    for a file-local agent id)."""

    def __init__(self, *arrays: list | RecordList) -> None:
        self.arrays = arrays
        archives: dict[str, set[str]] = {}
        for item in self._items():
            archive, agent = _text_id(item.get("archive_id")), _text_id(item.get("agent_id"))
            if archive and agent:
                archives.setdefault(archive, set()).add(agent)
        # An archive whose passages all name the same agent belongs to that agent.
        self.archive_agent = {a: next(iter(s)) for a, s in archives.items() if len(s) == 1}
        self._ns: str | None = None

    def _items(self) -> Iterator[dict]:
        for array in self.arrays:
            for item in array:
                if isinstance(item, dict):
                    yield item

    def scope(self, item: dict) -> _Scope:
        archive = _text_id(item.get("archive_id"))
        agent = _text_id(item.get("agent_id")) or (archive and self.archive_agent.get(archive))
        if agent:
            return _Scope(f"letta:agent:{agent}", self._agent_id(agent), ())
        if archive:
            return _Scope(f"letta:archive:{archive}", None, ())
        return _Scope(FILE_PASSAGES_PROJECT, None, ())

    def _agent_id(self, agent: str) -> str:
        if not _LOCAL_AGENT_ID.fullmatch(agent):
            return f"{SYSTEM}-{agent}"  # a server's agent id is unique on its own
        if self._ns is None:  # a file-local id: namespaced by the file's passages (their ids)
            ids = sorted(str(i.get("id")) for i in self._items())
            self._ns = canonical.stable_id(f"{SYSTEM}-passages", *ids)
        return f"{SYSTEM}-{self._ns}-{agent}"


def _text_id(value: Any) -> str:
    return value if isinstance(value, str) and value.strip() else ""


class _Passages:
    """Converts passages one at a time (``memory``), remembering what it leaves out (deleted,
    repeated ids, embeddings) for ``finish``. What it keeps per passage is its id."""

    def __init__(
        self,
        owners: _PassageOwners,
        options: ConvertOptions,
        losses: _Tally,
        errors: list[Problem],
        fmt: str,
    ) -> None:
        self.owners = owners
        self.options = options
        self.losses = losses
        self.errors = errors
        self.fmt = fmt
        self.seen: set[str] = set()
        self.deleted = self.embedded = self.duplicates = 0

    def memory(self, item: Any, path: str) -> dict | None:
        """The memory of one passage (``path``: where it is in the file), or None when it is
        skipped (an error), left out (deleted) or repeats an earlier id."""
        if not isinstance(item, dict):
            self.errors.append(
                Problem(path, "passage is not an object; skipped", code=Code.UNCONVERTIBLE_RECORD)
            )
            return None
        text = item.get("text")
        if not isinstance(text, str):
            self.errors.append(
                Problem(
                    f"{path}.text", "passage has no text; skipped", code=Code.UNCONVERTIBLE_RECORD
                )
            )
            return None
        if item.get("is_deleted") is True and not self.options.include_deleted:
            self.deleted += 1
            return None
        scope = self.owners.scope(item)
        pid = item.get("id")
        if not isinstance(pid, str) or not pid:  # (two agents' same text stay two passages)
            made = canonical.stable_id(scope.project, text, item.get("created_at"))
            pid = f"letta-passage-{made}"
        if pid in self.seen:
            self.duplicates += 1
            return None
        self.seen.add(pid)
        if item.get("embedding") not in (None, []):
            self.embedded += 1
        self.losses.fields(
            "letta.passage-fields",
            "passages with other details (metadata, file, source, organization...)",
            {k for k, v in item.items() if k not in PASSAGE_MAPPED and _has_value(v)},
        )
        raw = {k: v for k, v in item.items() if k != "embedding"}
        created = _time(item.get("created_at"))
        memory = canonical.memory_record(
            pid,
            text,
            created_at=created,
            updated_at=_time(item.get("updated_at")),
            mem_type="fact",
            title=canonical.title_from_text(text),
            concepts=_tags(item.get("tags")) or [],
            project=scope.project,
            agentId=scope.agent_id,
            source=canonical.source_block(SYSTEM, self.fmt, raw),
        )
        if item.get("is_deleted") is True:  # included on request: kept, never live
            memory["isLatest"] = False
        return memory

    def finish(self, warnings: list[Problem]) -> None:
        """Say what was left out."""
        if self.deleted:
            warnings.append(
                Problem(
                    "",
                    f"{self.deleted} deleted passage(s) (is_deleted: true) were left out",
                    code=Code.DELETED_LEFT_OUT,
                )
            )
            self.losses.add(
                "letta.deleted-passages",
                "deleted passages (is_deleted: true)",
                Kept.NOT_IMPORTED,
                self.deleted,
                "included when asked (--include-deleted)",
            )
        if self.embedded:
            warnings.append(
                Problem(
                    "",
                    f"{self.embedded} passage(s) carried embedding vectors; they were not kept",
                    code=Code.DATA_DROPPED,
                )
            )
            self.losses.add(
                "letta.embeddings",
                "passages' embedding vectors",
                Kept.NOT_IMPORTED,
                self.embedded,
                "agentmemory computes its own",
            )
        if self.duplicates:
            warnings.append(
                Problem(
                    "",
                    f"{self.duplicates} passage(s) repeated an earlier id; skipped",
                    code=Code.DUPLICATE_KEY,
                )
            )
            self.losses.add(
                "letta.duplicate-passages",
                "passages repeating an earlier passage's id",
                Kept.NOT_IMPORTED,
                self.duplicates,
            )


class _Newest:
    """The newest of the times seen (ISO text: the greatest), "" before any."""

    def __init__(self) -> None:
        self.value = ""

    def see(self, value: Any) -> None:
        if isinstance(value, str) and value > self.value:
            self.value = value


def convert_passages(payload: Payload, options: ConvertOptions) -> Conversion:
    """A list of passages (kept in a spool by the reader when big: read a chunk at a time,
    the memories written to the same spool)."""
    items = payload.value if is_array(payload.value) else []
    errors: list[Problem] = []
    warnings = _start_warnings(payload)
    losses = _Tally()
    passages = _Passages(_PassageOwners(items), options, losses, errors, PASSAGES)
    memories = empty_like(items)
    newest = _Newest()
    for i, item in enumerate(items):
        memory = passages.memory(item, f"[{i}]")
        if memory is not None:
            memories.append(memory)
            newest.see(_time(memory.get("updatedAt")))
    passages.finish(warnings)
    data = _empty_export(newest.value or None)
    data["memories"] = _filled(memories)
    return Conversion(
        data, source_version=None, errors=errors, warnings=warnings, left_behind=losses.items()
    )


# --- letta-sqlite (Letta's own database, read by wizard.core.storage.letta) ----------------

SQLITE_PROJECT = "letta:sqlite"  # blocks several agents share outside a group, or none uses
# Block fields that are the database's bookkeeping, not the block's settings (kept verbatim).
BLOCK_BOOKKEEPING = frozenset({"version", "current_history_entry_id", "is_deleted"})


def _listed(value: dict, key: str) -> list[dict]:
    """The objects of a small array of the document (agents, groups, sources...), in memory."""
    return list(_each(value, key))


def _each(value: dict, key: str) -> Iterator[dict]:
    """The objects of an array of the document (a list, or a RecordList read a chunk at a
    time), one after the other."""
    items = value.get(key)
    if is_array(items):
        for item in items:
            if isinstance(item, dict):
                yield item


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _counted(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class _SqliteTally:
    """What a database conversion leaves out because it is deleted, counted per kind."""

    def __init__(self) -> None:
        self.agents = self.agent_messages = self.messages = 0
        self.blocks = self.versions = 0

    def warn(self, warnings: list[Problem], losses: _Tally) -> None:
        if self.agents:
            losses.add(
                "letta.deleted-agents",
                "soft-deleted agents (is_deleted), with their messages",
                Kept.NOT_IMPORTED,
                self.agents,
                f"{self.agent_messages} message(s) of theirs left out too",
            )
        if self.messages:
            losses.add(
                "letta.deleted-messages",
                "soft-deleted messages (is_deleted)",
                Kept.NOT_IMPORTED,
                self.messages,
                "a conversation record cannot be marked deleted, so they are never imported",
            )
        if self.blocks or self.versions:
            losses.add(
                "letta.deleted-blocks",
                "soft-deleted core memory blocks and block versions (is_deleted)",
                Kept.NOT_IMPORTED,
                self.blocks + self.versions,
                "included, never live, when asked (--include-deleted)",
            )
        parts = [
            f"{n} {what}"
            for n, what in (
                (self.agents, "agent(s)"),
                (self.messages + self.agent_messages, "message(s)"),
                (self.blocks, "block(s)"),
                (self.versions, "block version(s)"),
            )
            if n
        ]
        if parts:
            warnings.append(
                Problem(
                    "",
                    f"soft-deleted rows (is_deleted) left out: {', '.join(parts)}",
                    code=Code.DELETED_LEFT_OUT,
                )
            )


def _sqlite_agent_related(
    agent: dict, groups: dict[str, dict], sources: dict[str, dict], files: list[dict]
) -> dict:
    """The groups and sources (with their files' metadata) an agent of the database uses."""
    related: dict[str, list] = {}
    for gid in _ids(agent.get("group_ids")):
        if gid in groups:
            related.setdefault("groups", []).append(groups[gid])
    for sid in _ids(agent.get("source_ids")):
        if sid in sources:
            listed = [f for f in files if f.get("source_id") == sid]
            related.setdefault("sources", []).append({**sources[sid], "files": listed})
    return related


def _sqlite_blocks(
    value: dict,
    known: list[_Agent],
    block_ids: dict[str, list[str]],
    owners: _Owners,
    options: ConvertOptions,
    deleted: _SqliteTally,
    losses: _Tally,
    warnings: list[Problem],
    memories: list | RecordList,
    newest: _Newest,
    spool: Spool | None,
) -> set[str]:
    """Blocks as memories (written to ``memories``), each followed by its earlier versions
    (``block_history``); returns the ids of the blocks. A block's versions are found by
    grouping the blocks and the versions by block (in ``spool`` when there is one: one
    block's versions in memory at a time)."""
    present: set[str] = set()

    def entries() -> Iterator[tuple[str, int, Any]]:
        """(block id, position, (0, block) or (1, version)): the blocks, then the versions."""
        k = 0
        for block in _each(value, "blocks"):
            present.add(_local_id(block.get("id"), ""))
            yield _local_id(block.get("id"), f"block-{k}"), k, (0, block)
            k += 1
        for j, row in enumerate(_each(value, "block_history")):
            yield _local_id(row.get("block_id"), ""), k + j, (1, row)

    seen: set[str] = set()
    templates = unused = 0
    for bid, group in grouped(entries(), spool):
        versions = [row for _i, (kind, row) in group if kind == 1]
        for _i, (kind, block) in group:
            if kind != 0:
                continue
            users = _users(known, block_ids, bid)
            if not users and block.get("is_template") is True:
                templates += 1
                continue
            gone = block.get("is_deleted") is True
            if gone and not options.include_deleted:
                deleted.blocks += 1
                deleted.versions += len(versions)
                continue
            mid = f"{SYSTEM}-{bid}"
            if mid in seen:
                losses.duplicate_block()
                continue
            seen.add(mid)
            unused += not users
            scope = owners.scope(users)
            memory = _block_memory(mid, block, SQLITE, scope, None)
            _count_block({k: v for k, v in block.items() if k not in BLOCK_BOOKKEEPING}, losses)
            older: list[dict] = []
            for row in versions:
                if row.get("is_deleted") is True and not options.include_deleted:
                    deleted.versions += 1
                    continue
                hid = f"{SYSTEM}-{_local_id(row.get('id'), f'{bid}-v{len(older) + 1}')}"
                if hid in seen:
                    continue
                seen.add(hid)
                version = _block_memory(hid, row, SQLITE, scope, None)
                sequence = row.get("sequence_number")
                version["version"] = sequence if isinstance(sequence, int) and sequence > 0 else 1
                version["isLatest"] = False
                older.append(version)
            if older:
                memory["version"] = max(v["version"] for v in older) + 1
                memory["supersedes"] = [v["id"] for v in older]
            if gone:  # included on request: kept, never live
                memory["isLatest"] = False
            for done in (memory, *older):
                memories.append(done)
                newest.see(done.get("updatedAt"))
    if templates:
        losses.add(
            "letta.block-templates",
            "block templates no agent uses (Letta's presets: is_template)",
            Kept.NOT_IMPORTED,
            templates,
        )
    if unused:
        warnings.append(
            Problem(
                "blocks",
                f"{unused} block(s) used by no agent were imported without sessions",
                code=Code.CONVERSION_NOTE,
            )
        )
    return present


def _sqlite_passages(
    value: dict,
    known: list[_Agent],
    owners: _Owners,
    options: ConvertOptions,
    losses: _Tally,
    warnings: list[Problem],
    memories: list | RecordList,
    newest: _Newest,
) -> set[Any]:
    """Archival and source passages as the passages converter makes them (written to
    ``memories``); a source passage is then scoped like a document: to the agents its source
    is attached to. Returns the archives the archival passages name."""
    arrays = [value.get(k) for k in ("passages", "source_passages")]
    passages = _Passages(
        _PassageOwners(*(a for a in arrays if is_array(a))), options, losses, [], SQLITE
    )
    sources = {s.get("id"): s for s in _listed(value, "sources")}
    by_local = {a.local: a for a in known}
    attached = {a.local: set(_ids(a_raw.get("source_ids"))) for a, a_raw in _raw(value, known)}
    # the agents of each source passage (by id: the last passage of an id decides, as the
    # passage an id keeps may be an earlier one); one list per source and agent, shared
    users_of: dict[str, list[_Agent]] = {}
    shared: dict[tuple[str, str], list[_Agent]] = {}
    for item in _each(value, "source_passages"):
        sid = _local_id(item.get("source_id"), "")
        aid = _local_id(item.get("agent_id"), "")
        users = shared.get((sid, aid))
        if users is None:
            users = [a for a in known if sid and sid in attached.get(a.local, set())]
            agent = by_local.get(aid)
            if agent is not None and agent not in users:  # (0.6.4: the passage names its agent)
                users.append(agent)
            shared[sid, aid] = users
        users_of[_local_id(item.get("id"), "")] = users
    used: set[Any] = set()

    def items() -> Iterator[dict]:
        for item in _each(value, "passages"):
            if item.get("archive_id") is not None:
                used.add(item.get("archive_id"))
            yield item
        yield from _each(value, "source_passages")

    for i, item in enumerate(items()):
        memory = passages.memory(item, f"[{i}]")
        if memory is None:
            continue
        raw = memory["source"]["raw"]
        users = users_of.get(_local_id(raw.get("id"), ""))
        if users is not None:
            source = sources.get(raw.get("source_id")) or {}
            name = source.get("name") or raw.get("source_id") or "source"
            scope = owners.scope(users) if users else _Scope(f"letta:source:{name}", None, ())
            memory["project"] = scope.project
            memory["sessionIds"] = list(scope.session_ids)
            if scope.agent_id:
                memory["agentId"] = scope.agent_id
            else:
                memory.pop("agentId", None)
            memory["concepts"] = list(dict.fromkeys([DOCUMENT_CONCEPT, *memory["concepts"]]))
        memories.append(memory)
        newest.see(memory.get("updatedAt"))
    passages.finish(warnings)
    return used


def _raw(value: dict, known: list[_Agent]) -> list[tuple[_Agent, dict]]:
    by_id = {_local_id(a.get("id"), ""): a for a in _listed(value, "agents")}
    return [(a, by_id.get(a.local, {})) for a in known]


def _sqlite_counts(
    value: dict, losses: _Tally, warnings: list[Problem], used_archives: set[Any]
) -> None:
    """Count what the reader only counted or read for the record (archives, sources...);
    ``used_archives``: the archives the archival passages name."""
    counts = _mapping(value.get("counts"))
    secrets = _mapping(counts.get("secrets"))
    held = {k: _counted(v) for k, v in secrets.items() if _counted(v)}
    losses.add(
        "letta.credentials",
        "rows holding credentials or settings that may (environment variables, providers, "
        "API keys, MCP servers, sandboxes, identities)",
        Kept.NOT_IMPORTED,
        sum(held.values()),
        "never read: " + ", ".join(f"{k} {v}" for k, v in sorted(held.items())) if held else "",
    )
    runs = _mapping(counts.get("runs"))
    losses.add(
        "letta.run-records",
        "run records (steps, jobs, provider traces, batches)",
        Kept.NOT_IMPORTED,
        sum(_counted(v) for v in runs.values()),
    )
    losses.add(
        "letta.file-contents",
        "full texts of files in sources",
        Kept.NOT_IMPORTED,
        _counted(counts.get("file_contents")),
        "their text reaches agentmemory as the source passages",
    )
    archives = _listed(value, "archives")
    empty = [a for a in archives if a.get("id") not in used_archives]
    losses.add(
        "letta.archives",
        "archives (name, description, which agents share them)",
        Kept.NOT_IMPORTED,
        len(archives),
        f"their passages are imported; {len(empty)} hold no passages" if empty else "",
    )
    if empty:
        warnings.append(
            Problem(
                "archives",
                f"{len(empty)} archive(s) hold no passages (Letta 0.11 on SQLite could not store "
                "archival passages)",
                code=Code.CONVERSION_NOTE,
            )
        )
    losses.add(
        "letta.sources",
        "data sources and folders (name, description, instructions, embedding settings)",
        Kept.VERBATIM_ONLY,
        len(_listed(value, "sources")),
        "kept with the sessions of the agents they are attached to",
    )
    losses.add(
        "letta.groups",
        "multi-agent groups (manager type and settings)",
        Kept.VERBATIM_ONLY,
        len(_listed(value, "groups")),
        "blocks their agents share are scoped to the group (project letta:group:...)",
    )


def convert_sqlite(payload: Payload, options: ConvertOptions) -> Conversion:
    """Letta's database as read by ``wizard.core.storage.letta`` (see the module docstring:
    real ids, every message, block versions, passages; deleted rows left out).

    The reader keeps the big arrays (each agent's messages, the passages, the blocks and
    their versions) in its spool past its budget: they are read here a chunk at a time, and
    the records made of them go to the same spool, an agent's observations after the other's.
    What stays in memory is the agents, and per record its id."""
    value = payload.value if isinstance(payload.value, dict) else {}
    errors: list[Problem] = []
    warnings: list[Problem] = []
    losses = _Tally()
    deleted = _SqliteTally()
    data = _empty_export(None)
    groups = {_local_id(g.get("id"), ""): g for g in _listed(value, "groups")}
    sources = {_local_id(s.get("id"), ""): s for s in _listed(value, "sources")}
    files = _listed(value, "files")
    agents = _listed(value, "agents")
    spool = _spool_of(
        [value.get(k) for k in ("passages", "source_passages", "blocks", "block_history")]
        + [agent.get("messages") for agent in agents]
    )
    data["sessions"] = _new_array(spool)
    data["memories"] = _new_array(spool)
    newest = _Newest()
    known: list[_Agent] = []
    block_ids: dict[str, list[str]] = {}
    prompts = _new_array(spool)
    tools: set[str] = set()

    for i, agent in enumerate(agents):
        path = f"agents[{i}]"
        messages = _agent_messages(agent, path, errors)
        first, last, count = _message_span(messages, _messages_path(path), errors)
        if agent.get("is_deleted") is True:
            deleted.agents += 1
            deleted.agent_messages += count
            continue
        local = _local_id(agent.get("id"), f"agent-{i}")
        sid = f"{SYSTEM}-{local}"
        me = _Agent(
            local, sid, "", _label(agent.get("name"), sid), tuple(_ids(agent.get("group_ids")))
        )
        known.append(me)
        started = first or _time(agent.get("created_at"))
        observations = empty_like(messages)
        for j, message in _objects(messages):
            oid = f"{SYSTEM}-{_local_id(message.get('id'), f'{local}-msg-{j}')}"
            observations.append(_observation(oid, me, message, SQLITE, started))
            _count_message(message, losses)
        _filled(observations)
        related = _sqlite_agent_related(agent, groups, sources, files)
        session = _agent_session(
            sid, me.project, agent, SQLITE, started, last, observations, related
        )
        newest.see(session.get("endedAt") or session.get("startedAt"))
        _add_session(data, session, observations)
        block_ids[sid] = list(dict.fromkeys(_ids(agent.get("block_ids"))))
        prompt = _system_prompt_memory(me, agent, SQLITE, started, _time(agent.get("updated_at")))
        if prompt is not None:
            prompts.append(prompt)
            newest.see(prompt.get("updatedAt"))
        _count_agent(agent, losses)
        tools.update(t for t in agent.get("tools") or [] if isinstance(t, str))

    owners = _Owners({"groups": list(groups.values())}, known, "")
    owners.file_project = SQLITE_PROJECT
    memories = data["memories"]
    present = _sqlite_blocks(
        value,
        known,
        block_ids,
        owners,
        options,
        deleted,
        losses,
        warnings,
        memories,
        newest,
        spool,
    )
    memories.extend(prompts)
    used = _sqlite_passages(value, known, owners, options, losses, warnings, memories, newest)
    _filled(memories)
    _filled(data["sessions"])
    deleted.messages = _counted(_mapping(value.get("counts")).get("deleted_messages"))
    deleted.warn(warnings, losses)
    losses.add(
        "letta.tools",
        "tools (definitions and source code)",
        Kept.VERBATIM_ONLY,
        len(tools),
        "only their names are read, kept with the sessions",
    )
    _sqlite_counts(value, losses, warnings, used)

    wanted = {bid for ids in block_ids.values() for bid in ids}
    missing = sorted(wanted - present)
    if missing:
        warnings.append(
            Problem(
                "blocks",
                f"agents refer to blocks not in the database: {', '.join(missing)}",
                code=Code.DANGLING_REFERENCE,
            )
        )
    data["exportedAt"] = newest.value or canonical.now_iso()
    return Conversion(data, errors=errors, warnings=warnings, left_behind=losses.items())


FORMATS: tuple[Format, ...] = (
    Format(AF, "Letta Agent File (.af)", sniff_af, convert_af),
    Format(
        AF_LEGACY,
        "Letta Agent File (.af), first schema",
        sniff_af_legacy,
        convert_af_legacy,
        streams=True,
    ),
    Format(
        PASSAGES,
        "Letta archival memory passages",
        sniff_passages,
        convert_passages,
        streams=True,
    ),
    Format(
        SQLITE,
        "Letta server database (sqlite.db)",
        storage_sniff(SQLITE),
        convert_sqlite,
        streams=True,
    ),
)
