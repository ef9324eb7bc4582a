"""Letta Code's local backend: the folder ``~/.letta/lc-local-backend`` (docs/SOURCES.md §3).

Read from letta-ai/letta-code at commit ``1f4d3e3ea3537763f36b633e52b289bdb0667c5b``
(``src/utils/local-backend-paths.ts``, ``src/backend/local/{local-store,paths,local-types,
local-message,local-agent-record,system-prompt-compilation,local-backend}.ts``,
``src/agent/{memory-filesystem,memory-git,memory-git-hooks}.ts``, ``src/utils/frontmatter.ts``).
The folder is ``$LETTA_LOCAL_BACKEND_DIR`` when set, else ``~/.letta/lc-local-backend``; it holds

- ``agents/<base64url(agent id)>.json``: one agent (``id``, ``name``, ``description``,
  ``system``, ``tags``, ``model``, ``model_settings``, ``hidden``, ``compaction_settings``);
  Letta Code skips AppleDouble ``._*`` files there, and so does this reader;
- ``conversations/<base64url(key)>/``, key ``default:<agent id>`` or
  ``conversation:<conversation id>``: ``conversation.json`` (``id``, ``agent_id``, times,
  ``summary``, ``archived``, ``in_context_message_ids``, model...), ``manifest.json`` (transcript
  format: ``schema_version`` 2 = ``pi-session-entry-jsonl``, 1 = ``pi-ai-message-jsonl``),
  ``messages.jsonl`` (version 2: a ``session`` header, then ``message`` / ``compaction``
  entries wrapping a pi-ai message; version 1: bare messages; both append-only, a message
  rewritten while it streamed appears again with the same id) and ``system-prompt.json`` (the
  system prompt compiled with the memory blocks, ``compiledAt``, ``memfsRevision``);
- ``memfs/<agent id>/memory/``: the agent's memory as Markdown files in a git repository
  (``system/<label>.md`` in-context blocks, ``reference/…`` detached memory,
  ``skills/<name>/`` skill folders), each with a frontmatter (``description``, ``read_only``,
  legacy ``limit``). Deleting an agent removes its agent file and conversations, not its memfs.
- ``providers/auth.json`` holds provider credentials (API keys, OAuth tokens): never listed,
  never copied.

``find`` takes the backend folder itself, or one of its ``agents``, ``conversations`` or
``memfs`` folders (then the folder above is the root). It recognises the folder by an
``agents`` folder holding at least one ``*.json`` next to a ``conversations`` or ``memfs``
folder; it only lists folders (``os.scandir``, nothing is opened), never follows a symbolic
link (linked files and folders inside the root are skipped), and leaves out every ``.git``
folder except one small file: ``memfs/<agent>/memory/.git/logs/HEAD``, the repository's
reflog, one line per commit, from which ``read`` counts the commits (and their first and last
times) that stay behind in the repository's history.

``read`` turns the private copy into one plain document (see :func:`read`). Credentials in agent
and conversation records (a key naming one, such as ``api_key`` or ``token``, or a container of
environment variables or headers holding text) are dropped while reading: the document lists
where they were (file and field name), never their values. A JSON file that does not parse, or
a line of a ``messages.jsonl`` that does not, refuses the whole folder with the file, line and
column (Letta Code itself cannot load such a file either).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import os
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

from wizard.core.problems import Code, InputRefused, Problem
from wizard.core.redact import is_credential_key
from wizard.core.storage import Arrays, FolderLayout, Layout, ReadContext

LAYOUT_ID = "letta-code-local"
AGENTS, CONVERSATIONS, MEMFS, MEMORY = "agents", "conversations", "memfs", "memory"
CONVERSATION_FILES = ("conversation.json", "manifest.json", "messages.jsonl", "system-prompt.json")
REFLOG = ".git/logs/HEAD"
# Containers whose text values are all secrets, whatever their keys are called.
SECRET_CONTAINERS = frozenset(
    {
        "secrets",
        "env",
        "environment",
        "environment_variables",
        "env_vars",
        "tool_exec_environment_variables",
        "headers",
        "custom_headers",
    }
)
_FRONTMATTER = re.compile(r"^---\n([\s\S]*?)\n---(?:\n([\s\S]*))?$")


# --- find -------------------------------------------------------------------------------------


def find(path: Path) -> tuple[Path, list[str]] | None:
    """The backend folder and the files to read (relative, sorted), or None."""
    try:
        if not path.is_dir():
            return None
        root = path
        if path.name in (AGENTS, CONVERSATIONS, MEMFS) and _looks_like(path.parent):
            root = path.parent
        elif not _looks_like(path):
            return None
        rels = _agent_files(root) + _conversation_files(root) + _memfs_files(root)
    except OSError:
        return None
    return (root, sorted(rels)) if rels else None


def _real_dir(path: Path) -> bool:
    """A folder that is not a symbolic link."""
    return path.is_dir() and not path.is_symlink()


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    if not _real_dir(folder):
        return []
    with os.scandir(folder) as it:
        return sorted(it, key=lambda e: e.name)


def _agent_json(entry: os.DirEntry[str]) -> bool:
    return (
        entry.name.endswith(".json")
        and not entry.name.startswith("._")
        and entry.is_file(follow_symlinks=False)
    )


def _looks_like(root: Path) -> bool:
    if not (_real_dir(root / CONVERSATIONS) or _real_dir(root / MEMFS)):
        return False
    return any(_agent_json(e) for e in _entries(root / AGENTS))


def _agent_files(root: Path) -> list[str]:
    return [f"{AGENTS}/{e.name}" for e in _entries(root / AGENTS) if _agent_json(e)]


def _conversation_files(root: Path) -> list[str]:
    out = []
    for conv in _entries(root / CONVERSATIONS):
        if conv.name.startswith("._") or not conv.is_dir(follow_symlinks=False):
            continue
        for e in _entries(Path(conv.path)):
            if e.name in CONVERSATION_FILES and e.is_file(follow_symlinks=False):
                out.append(f"{CONVERSATIONS}/{conv.name}/{e.name}")
    return out


def _memfs_files(root: Path) -> list[str]:
    out = []
    for agent in _entries(root / MEMFS):
        if not agent.is_dir(follow_symlinks=False):
            continue
        memory = Path(agent.path) / MEMORY
        base = f"{MEMFS}/{agent.name}/{MEMORY}"
        if not _real_dir(memory):
            continue
        out += [f"{base}/{rel}" for rel in _markdown_files(memory)]
        git = memory / ".git"
        if _real_dir(git) and _real_dir(git / "logs"):
            reflog = git / "logs" / "HEAD"
            if reflog.is_file() and not reflog.is_symlink():
                out.append(f"{base}/{REFLOG}")
    return out


def _markdown_files(memory: Path) -> list[str]:
    """The ``*.md`` files under a memory folder (relative to it), without ``.git`` and links."""
    out = []
    for folder, dirs, files in os.walk(memory, followlinks=False):
        here = Path(folder)
        dirs[:] = [d for d in dirs if d != ".git" and not (here / d).is_symlink()]
        for name in files:
            full = here / name
            wanted = name.endswith(".md") and not name.startswith("._")
            if wanted and not full.is_symlink() and full.is_file():
                out.append(full.relative_to(memory).as_posix())
    return out


# --- read -------------------------------------------------------------------------------------


def read(root: Path, ctx: ReadContext) -> dict:
    """The copy of a backend folder as one document::

        {"agents": [{"file", "record"}],
         "conversations": [{"dir", "key", "conversation", "manifest", "system_prompt",
                            "transcript": [{"line", "entry"}]}],
         "memory": [{"agent_id", "files": [{"path", "frontmatter", "body"}],
                     "git": {"commits", "first", "last", "head"} | None}],
         "dropped_secrets": [{"file", "field"}]}

    ``key`` is the decoded folder name (``default:<agent id>``, ``conversation:<id>``) or None;
    a missing file gives None (a record) or [] (a transcript). Lists are in path order.

    A transcript is read a line at a time into an array kept as the Letta reader keeps its
    rows (``storage.Arrays``): a list while the rows read so far cost less than the
    reader's budget (``spool.SPILL_AFTER``), past it a RecordList in the read's spool, which
    the adapter converts from a chunk at a time."""
    dropped: list[dict] = []
    arrays = Arrays(ctx)
    agents = []
    for entry in _entries(root / AGENTS):
        if not _agent_json(entry):
            continue
        ctx.check()
        rel = f"{AGENTS}/{entry.name}"
        record = _json_file(root, rel)
        if not isinstance(record, dict):
            ctx.warnings.append(
                Problem(rel, "not an agent (not a JSON object); skipped", code=Code.WRONG_SHAPE)
            )
            continue
        agents.append({"file": rel, "record": _without_secrets(record, rel, "", dropped)})

    conversations = []
    for entry in _entries(root / CONVERSATIONS):
        if not entry.is_dir(follow_symlinks=False):
            continue
        ctx.check()
        rel = f"{CONVERSATIONS}/{entry.name}"
        folder = Path(entry.path)
        conversation = _json_file(root, f"{rel}/conversation.json", missing_ok=True)
        if isinstance(conversation, dict):
            conversation = _without_secrets(conversation, f"{rel}/conversation.json", "", dropped)
        conversations.append(
            {
                "dir": rel,
                "key": _decoded(entry.name),
                "conversation": conversation,
                "manifest": _json_file(root, f"{rel}/manifest.json", missing_ok=True),
                "system_prompt": _json_file(root, f"{rel}/system-prompt.json", missing_ok=True),
                "transcript": arrays.fill(_jsonl_rows(root, f"{rel}/messages.jsonl", ctx))
                if (folder / "messages.jsonl").is_file()
                else [],
            }
        )

    memory = []
    for entry in _entries(root / MEMFS):
        folder = Path(entry.path) / MEMORY
        if not _real_dir(folder):
            continue
        base = f"{MEMFS}/{entry.name}/{MEMORY}"
        files = []
        for rel in sorted(_markdown_files(folder)):
            ctx.check()
            text = _text_file(root, f"{base}/{rel}")
            frontmatter, body = parse_frontmatter(text)
            files.append({"path": rel, "frontmatter": frontmatter, "body": body})
        reflog = folder / REFLOG
        git = _reflog(reflog.read_text("utf-8", "replace")) if reflog.is_file() else None
        memory.append({"agent_id": entry.name, "files": files, "git": git})

    return {
        "agents": agents,
        "conversations": conversations,
        "memory": memory,
        "dropped_secrets": dropped,
    }


def _decoded(name: str) -> str | None:
    """A folder name as Letta Code encoded it (base64url of the key), or None."""
    try:
        raw = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4))
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _text_file(root: Path, rel: str) -> str:
    data = (root / rel).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_utf8(rel, exc.start + 1) from None


def _json_file(root: Path, rel: str, *, missing_ok: bool = False) -> Any:
    if missing_ok and not (root / rel).is_file():
        return None
    text = _text_file(root, rel)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputRefused(
            f"{rel} is damaged: line {exc.lineno}, column {exc.colno}: {exc.msg}",
            path=rel,
            line=exc.lineno,
            column=exc.colno,
            code=Code.SYNTAX_ERROR,
        ) from None


def _not_utf8(rel: str, byte: int) -> InputRefused:
    return InputRefused(
        f"{rel} is not UTF-8 text (byte {byte}); Letta Code writes UTF-8, so the file is damaged",
        path=rel,
        code=Code.NOT_UTF8,
    )


def _lines(file: BinaryIO, rel: str) -> Iterator[tuple[int, str]]:
    """The lines of a UTF-8 file (split at ``\\n`` only; a leading BOM dropped), numbered
    from 1, a line at a time. A byte that is not UTF-8 refuses the file as
    :func:`_text_file` does (its place counted after the BOM, as ``utf-8-sig`` counts it)."""
    offset = 0
    for n, raw in enumerate(file, start=1):
        if n == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _not_utf8(rel, offset + exc.start + 1) from None
        offset += len(raw)
        yield n, line[:-1] if line.endswith("\n") else line


def _null(_name: str) -> None:
    return None


def _jsonl_rows(root: Path, rel: str, ctx: ReadContext) -> Iterator[dict]:
    """The rows ``{"line", "entry"}`` of a ``messages.jsonl``, read a line at a time. A line
    that does not parse refuses the folder; so does a byte that is not UTF-8 anywhere in the
    file, first (as when the whole file was decoded before it was parsed)."""
    with (root / rel).open("rb") as file:
        lines = _lines(file, rel)
        for n, line in lines:
            if not line.strip():
                continue
            if n % 1000 == 0:
                ctx.check()
            try:  # NaN and infinities (JSON has none) become null, as the spool has them
                value = json.loads(line, parse_constant=_null)
            except json.JSONDecodeError as exc:
                for _ in lines:  # a byte that is not UTF-8 further on is reported instead
                    pass
                raise InputRefused(
                    f"{rel}, line {n} is not JSON ({exc.msg}, column {exc.colno}): the "
                    "transcript is damaged; Letta Code cannot load it either. Repair or remove "
                    "that line and try again",
                    path=rel,
                    line=n,
                    column=exc.colno,
                    code=Code.SYNTAX_ERROR,
                ) from None
            yield {"line": n, "entry": value}


def parse_frontmatter(text: str) -> tuple[dict[str, Any], str]:
    """Letta Code's ``parseFrontmatter`` (``src/utils/frontmatter.ts``): ``key: value`` lines
    and ``- item`` lists between ``---`` lines; the body trimmed. No frontmatter: ({}, text)."""
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    match = _FRONTMATTER.match(normalized)
    if match is None:
        return {}, normalized
    frontmatter: dict[str, Any] = {}
    key: str | None = None
    items: list[str] = []

    def save() -> None:
        nonlocal key, items
        if key is not None:
            frontmatter[key] = items if items else ""
        key, items = None, []

    for line in match.group(1).split("\n"):
        if line.strip().startswith("-") and key is not None:
            items.append(line.strip()[1:].strip())
            continue
        save()
        colon = line.find(":")
        if colon > 0:
            name, value = line[:colon].strip(), line[colon + 1 :].strip()
            if value:
                frontmatter[name] = value
            else:
                key = name
    save()
    return frontmatter, (match.group(2) or "").strip()


def _reflog(text: str) -> dict | None:
    """Commits recorded in a reflog (``commit``, ``commit (initial)``, ``(amend)``,
    ``(merge)`` lines), their first and last times, and the revision HEAD names last."""
    commits = 0
    times: list[int] = []
    head = None
    for line in text.splitlines():
        who, _, message = line.partition("\t")
        parts = who.split()
        if len(parts) < 4:
            continue
        head = parts[1]
        if message.startswith("commit"):
            commits += 1
            try:
                when = int(parts[-2])
            except ValueError:
                continue
            if FIRST_SECOND <= when <= LAST_SECOND:  # a time a date can say (else: not kept)
                times.append(when)
    if head is None:
        return None
    return {
        "commits": commits,
        "first": _iso(min(times)) if times else None,
        "last": _iso(max(times)) if times else None,
        "head": head,
    }


# The seconds a reflog time may hold: years 1 to 9999, as datetime can write them.
FIRST_SECOND = -62135596800
LAST_SECOND = 253402300799


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _holds_text(value: Any) -> bool:
    if isinstance(value, str):
        return value != ""
    if isinstance(value, dict):
        return any(_holds_text(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_text(v) for v in value)
    return False


def _without_secrets(value: Any, file: str, path: str, dropped: list[dict]) -> Any:
    """A copy of a record without its credentials; where each was goes into ``dropped``.

    A field is a credential when its key names one (``api_key``, ``token``...) or it is a
    container of environment variables or headers, and it holds text (a count or a flag under
    such a key is no secret)."""
    if isinstance(value, list):
        return [_without_secrets(v, file, f"{path}[{i}]", dropped) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        field = f"{path}.{key}" if path else str(key)
        secret = is_credential_key(str(key)) or str(key).lower() in SECRET_CONTAINERS
        if secret and _holds_text(item):
            dropped.append({"file": file, "field": field})
            continue
        out[key] = _without_secrets(item, file, field, dropped)
    return out


LAYOUTS: tuple[Layout, ...] = (
    FolderLayout(
        id=LAYOUT_ID,
        label="Letta Code local backend folder (~/.letta/lc-local-backend)",
        find=find,
        read=read,
        streams=True,
    ),
)
"""Every storage layout the wizard reads."""
