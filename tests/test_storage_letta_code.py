"""Letta Code's local backend folder (format ``letta-code-local``): find, read, convert.

The fixture ``tests/fixtures/native/letta-code/lc-local-backend`` is written by
``make_fixture.py`` beside it (by hand, from letta-code's source); each memory repository's
``.git`` is stored as ``dot-git``, so every test works on a copy where it is renamed back.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from wizard.core import preflight
from wizard.core.adapters import letta_code as adapter
from wizard.core.collections import iter_records
from wizard.core.formats import ConvertOptions, Payload
from wizard.core.losses import Kept
from wizard.core.problems import Code, InputRefused
from wizard.core.schema import validate_records
from wizard.core.storage import ReadContext
from wizard.core.storage import letta_code as layout

NATIVE = Path(__file__).parent / "fixtures" / "native"
FIXTURE = NATIVE / "letta-code" / "lc-local-backend"
AGENT_A = "agent-local-3c9e7a52-4d1b-4f0e-9a8c-2b6d51e0f7a4"
AGENT_B = "agent-local-8f2d6b1e-5a7c-4e93-b0d4-61c9e3a2f5b8"
SID_A, SID_B = f"letta-code-{AGENT_A}", f"letta-code-{AGENT_B}"
DIR_A = "conversations/ZGVmYXVsdDphZ2VudC1sb2NhbC0zYzllN2E1Mi00ZDFiLTRmMGUtOWE4Yy0yYjZkNTFlMGY3YTQ"
DIR_A1 = "conversations/Y29udmVyc2F0aW9uOmxvY2FsLWNvbnYtMQ"
DIR_B = "conversations/ZGVmYXVsdDphZ2VudC1sb2NhbC04ZjJkNmIxZS01YTdjLTRlOTMtYjBkNC02MWM5ZTNhMmY1Yjg"
FILE_A = "agents/YWdlbnQtbG9jYWwtM2M5ZTdhNTItNGQxYi00ZjBlLTlhOGMtMmI2ZDUxZTBmN2E0.json"
FILE_B = "agents/YWdlbnQtbG9jYWwtOGYyZDZiMWUtNWE3Yy00ZTkzLWIwZDQtNjFjOWUzYTJmNWI4.json"
MEM_A, MEM_B = f"memfs/{AGENT_A}/memory", f"memfs/{AGENT_B}/memory"
SKILL_FILE = "SKILL" + ".md"  # (spelled out, it would read as a cited document: test_architecture)

EXPECTED_FILES = sorted(
    [FILE_A, FILE_B]
    + [f"{d}/{f}" for d in (DIR_A, DIR_A1, DIR_B) for f in layout.CONVERSATION_FILES]
    + [
        f"{MEM_A}/.git/logs/HEAD",
        f"{MEM_A}/reference/ci-notes.md",
        f"{MEM_A}/skills/release-notes/{SKILL_FILE}",
        f"{MEM_A}/system/human.md",
        f"{MEM_A}/system/persona.md",
        f"{MEM_A}/system/project.md",
        f"{MEM_B}/.git/logs/HEAD",
        f"{MEM_B}/system/persona.md",
        f"{MEM_B}/system/review_style.md",
    ]
)


def store(tmp_path: Path, name: str = "lc-local-backend") -> Path:
    """A copy of the fixture with its memory repositories' ``.git`` folders back in place."""
    root = tmp_path / name
    shutil.copytree(FIXTURE, root)
    for stored in root.glob("memfs/*/memory/dot-git"):
        stored.rename(stored.with_name(".git"))
    return root


def read(root: Path) -> dict:
    found = layout.find(root)
    assert found is not None
    return layout.read(found[0], ReadContext())


def convert(root: Path, options: ConvertOptions | None = None):
    payload = Payload(value=read(root), name=root.name, kind="storage", layout=layout.LAYOUT_ID)
    (fmt,) = [f for f in adapter.FORMATS if f.sniff(payload).score == 1.0]
    return fmt.convert(payload, options or ConvertOptions())


def observations(data: dict) -> list[dict]:
    return list(iter_records(data, "observations"))


def left(conv) -> dict[str, tuple[int, Kept]]:
    return {e.category: (e.count, e.kept) for e in conv.left_behind}


def edit_json(path: Path, change) -> None:
    value = json.loads(path.read_text("utf-8"))
    change(value)
    path.write_text(json.dumps(value, indent=2) + "\n", "utf-8")


# --- find ------------------------------------------------------------------------------------


def test_find_lists_exactly_the_files_to_read(tmp_path):
    root = store(tmp_path)
    assert layout.find(root) == (root, EXPECTED_FILES)


@pytest.mark.parametrize("inside", ["agents", "conversations", "memfs"])
def test_find_accepts_a_folder_of_the_backend(tmp_path, inside):
    root = store(tmp_path)
    assert layout.find(root / inside) == (root, EXPECTED_FILES)


def test_find_leaves_out_git_internals_links_and_other_files(tmp_path):
    root = store(tmp_path)
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "secret.md").write_text("---\ndescription: x\n---\nnot the agent's\n")
    (outside / "deep" / "more.md").write_text("---\ndescription: x\n---\nnor this\n")
    (outside / "agent.json").write_text("{}")
    os.symlink(outside / "secret.md", root / MEM_A / "system" / "linked.md")
    os.symlink(outside / "deep", root / MEM_A / "reference" / "linked-folder")
    os.symlink(outside / "agent.json", root / "agents" / "bGlua2Vk.json")
    os.symlink(outside, root / "memfs" / "agent-local-linked")
    (root / "providers").mkdir()
    (root / "providers" / "auth.json").write_text('{"providers": {"anthropic": {"key": "sk-x"}}}')
    (root / MEM_A / "notes.txt").write_text("not markdown")
    (root / "agents" / "._YWdlbnQ.json").write_text("AppleDouble")
    (root / DIR_A / "messages.jsonl.bak").write_text("backup")
    _, rels = layout.find(root)
    assert rels == EXPECTED_FILES
    assert all("/.git/" not in r or r.endswith("/.git/logs/HEAD") for r in rels)


def test_find_gives_none_for_folders_of_another_kind(tmp_path):
    assert layout.find(tmp_path) is None  # empty
    assert layout.find(NATIVE / "mem0-ts") is None
    assert layout.find(NATIVE / "mem0-ts" / "memory.db") is None  # a file
    assert layout.find(tmp_path / "missing") is None
    only_agents = tmp_path / "only-agents"
    (only_agents / "agents").mkdir(parents=True)
    (only_agents / "agents" / "a.json").write_text("{}")
    assert layout.find(only_agents) is None  # no conversations/ nor memfs/
    no_agents = tmp_path / "no-agents"
    (no_agents / "agents").mkdir(parents=True)
    (no_agents / "conversations").mkdir()
    assert layout.find(no_agents) is None
    assert layout.find(no_agents / "agents") is None


# --- read ------------------------------------------------------------------------------------


def test_read_gives_the_plain_document(tmp_path):
    doc = read(store(tmp_path))
    assert set(doc) == {"agents", "conversations", "memory", "dropped_secrets"}
    assert [a["file"] for a in doc["agents"]] == [FILE_A, FILE_B]
    assert [a["record"]["id"] for a in doc["agents"]] == [AGENT_A, AGENT_B]
    keys = {c["dir"]: c["key"] for c in doc["conversations"]}
    assert keys == {
        DIR_A: f"default:{AGENT_A}",
        DIR_A1: "conversation:local-conv-1",
        DIR_B: f"default:{AGENT_B}",
    }
    rows = {c["dir"]: len(c["transcript"]) for c in doc["conversations"]}
    assert rows == {DIR_A: 10, DIR_A1: 8, DIR_B: 5}  # header + entries
    assert doc["conversations"][0]["transcript"][0] == {
        "line": 1,
        "entry": {
            "type": "session",
            "version": 3,
            "id": "local-conv-1",
            "timestamp": "2026-03-04T15:40:00.000Z",
            "cwd": "/home/dana/src/payments-api",
        },
    }
    memory = {m["agent_id"]: m for m in doc["memory"]}
    assert [f["path"] for f in memory[AGENT_B]["files"]] == [
        "system/persona.md",
        "system/review_style.md",
    ]
    persona = memory[AGENT_B]["files"][0]
    assert persona["frontmatter"] == {"description": "Who I am", "read_only": "true"}
    assert persona["body"] == "I review pull requests for the payments team of payments-api."
    assert memory[AGENT_A]["git"]["commits"] == 3
    assert memory[AGENT_A]["git"]["first"] == "2026-03-02T09:13:58.000Z"
    assert memory[AGENT_A]["git"]["last"] == "2026-03-04T16:05:12.000Z"
    assert memory[AGENT_B]["git"]["commits"] == 2
    assert doc["dropped_secrets"] == []
    json.dumps(doc)  # plain JSON


def test_frontmatter_is_parsed_as_letta_code_parses_it():
    text = "---\r\ndescription: A: b\r\ntags:\r\n  - one\r\n  - two\r\nempty:\r\n---\r\n\n body \n"
    assert layout.parse_frontmatter(text) == (
        {"description": "A: b", "tags": ["one", "two"], "empty": ""},
        "body",
    )
    assert layout.parse_frontmatter("no frontmatter\n") == ({}, "no frontmatter\n")


def test_read_checks_for_cancel_between_files(tmp_path):
    from wizard.core.problems import Cancelled

    root = store(tmp_path)
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        layout.read(root, ReadContext(cancel=cancel))


def test_a_damaged_transcript_line_names_the_file_and_the_line(tmp_path):
    root = store(tmp_path)
    path = root / DIR_A / "messages.jsonl"
    path.write_text(path.read_text() + '{"type": "message", "id": "ab12\n', "utf-8")
    with pytest.raises(InputRefused) as caught:
        read(root)
    problem = caught.value.problem
    assert problem.code is Code.SYNTAX_ERROR
    assert problem.path == f"{DIR_A}/messages.jsonl"
    assert problem.line == 11
    assert f"{DIR_A}/messages.jsonl, line 11" in problem.message


def test_a_damaged_agent_file_names_the_file_line_and_column(tmp_path):
    root = store(tmp_path)
    (root / FILE_B).write_text('{\n  "id": "agent-local-x",\n  "name": \n}\n')
    with pytest.raises(InputRefused) as caught:
        read(root)
    problem = caught.value.problem
    assert (problem.code, problem.path, problem.line, problem.column) == (
        Code.SYNTAX_ERROR,
        FILE_B,
        4,
        1,
    )


def test_an_agent_file_that_is_not_an_object_is_skipped_with_a_warning(tmp_path):
    root = store(tmp_path)
    (root / FILE_B).write_text("[]\n")
    ctx = ReadContext()
    doc = layout.read(root, ctx)
    assert [a["file"] for a in doc["agents"]] == [FILE_A]
    assert [(w.path, w.code) for w in ctx.warnings] == [(FILE_B, Code.WRONG_SHAPE)]


def test_text_that_is_not_utf8_is_refused(tmp_path):
    root = store(tmp_path)
    (root / MEM_A / "system" / "human.md").write_bytes(b"---\ndescription: x\n---\ncaf\xe9\n")
    with pytest.raises(InputRefused) as caught:
        read(root)
    assert caught.value.problem.code is Code.NOT_UTF8
    assert caught.value.problem.path == f"{MEM_A}/system/human.md"


# --- convert ---------------------------------------------------------------------------------


def test_converts_to_exact_counts_and_passes_preflight(tmp_path):
    conv = convert(store(tmp_path))
    data = conv.data
    assert conv.errors == [] and conv.warnings == []
    assert [s["id"] for s in data["sessions"]] == [SID_A, SID_B]
    assert {k: len(v) for k, v in data["observations"].items()} == {SID_A: 15, SID_B: 4}
    assert len(data["memories"]) == 8  # 4 + 2 memory files, 2 system prompts
    report = preflight.check(data, layout.LAYOUT_ID, conv)
    assert report.ok, report.errors
    assert report.counts == {"sessions": 2, "observations": 19, "memories": 8, "summaries": 0}
    for collection in ("sessions", "observations", "memories", "summaries"):
        assert validate_records(collection, list(iter_records(data, collection))) == []
    assert data["exportedAt"] == "2026-03-04T16:05:14.000Z"
    assert conv.source_version is None


def test_agent_becomes_a_session(tmp_path):
    a, b = convert(store(tmp_path)).data["sessions"]
    assert a["project"] == f"letta-code:Letta Code/{AGENT_A}"
    assert a["agentId"] == SID_A
    assert a["model"] == "anthropic/claude-sonnet-4-5"
    assert a["tags"] == ["origin:letta-code", "git-memory-enabled"]
    assert a["cwd"] == "/home/dana/src/payments-api"
    assert (a["startedAt"], a["endedAt"]) == (
        "2026-03-02T09:14:05.120Z",
        "2026-03-04T16:05:14.000Z",
    )
    assert a["observationCount"] == 15
    assert [c["id"] for c in a["source"]["conversations"]] == ["default", "local-conv-1"]
    assert a["source"]["conversations"][1]["conversation"]["summary"] == "Release checklist v2.4"
    assert "content" not in a["source"]["conversations"][0]["system_prompt"]
    assert a["source"]["raw"]["model_settings"]["context_window_limit"] == 200000
    assert b["project"] == f"letta-code:PR Reviewer/{AGENT_B}"
    assert b["model"] == "openai/gpt-5.5"


def test_messages_become_conversation_observations(tmp_path):
    data = convert(store(tmp_path)).data
    obs = {o["id"]: o for o in observations(data)}
    first = obs[f"{SID_A}-default-ui-msg-1"]
    assert first["type"] == "conversation"
    assert first["sessionId"] == first["agentId"] == SID_A
    assert first["timestamp"] == "2026-03-02T09:14:10.500Z"
    assert first["title"].startswith("user: The CI job test-payments fails")
    call = obs[f"{SID_A}-default-ui-msg-2"]
    assert call["facts"] == ['Read({"file_path": "tests/test_payments.py"})']
    assert call["source"]["raw"]["content"][0]["type"] == "thinking"  # kept verbatim
    result = obs[f"{SID_A}-default-ui-msg-3"]
    assert result["title"].startswith("tool Read: def test_refund")
    assert result["importance"] == 3
    # streamed twice: one observation, the last snapshot
    final = obs[f"{SID_A}-default-ui-msg-4"]
    assert final["narrative"].endswith("Await the webhook mock instead of sleeping.")
    summary = obs[f"{SID_A}-local-conv-1-ui-msg-13"]
    assert summary["concepts"] == ["compaction-summary"]
    assert summary["title"].startswith("summary: <summary>")
    assert summary["source"]["entry"]["type"] == "compaction"
    ids = [o["id"] for o in data["observations"][SID_A]]
    assert ids[:9] == [f"{SID_A}-default-ui-msg-{n}" for n in range(1, 9)] + [
        f"{SID_A}-local-conv-1-ui-msg-9"
    ]


def test_memory_files_and_system_prompts_become_memories(tmp_path):
    memories = {m["id"]: m for m in convert(store(tmp_path)).data["memories"]}
    assert sorted(memories) == sorted(
        [
            f"{SID_A}-memory-system/persona",
            f"{SID_A}-memory-system/human",
            f"{SID_A}-memory-system/project",
            f"{SID_A}-memory-reference/ci-notes",
            f"{SID_B}-memory-system/persona",
            f"{SID_B}-memory-system/review_style",
            f"{SID_A}-system-prompt",
            f"{SID_B}-system-prompt",
        ]
    )
    human = memories[f"{SID_A}-memory-system/human"]
    assert human["type"] == "preference"
    assert human["title"] == "human" and human["concepts"] == ["human"]
    assert human["content"].endswith("tests must not depend on order.")
    assert (human["createdAt"], human["updatedAt"]) == (
        "2026-03-02T09:13:58.000Z",
        "2026-03-04T16:05:12.000Z",
    )
    assert human["source"]["raw"] == {
        "path": "system/human.md",
        "frontmatter": {"description": "What I know about the user"},
    }
    assert memories[f"{SID_A}-memory-reference/ci-notes"]["title"] == "reference/ci-notes"
    prompt = memories[f"{SID_B}-system-prompt"]
    assert prompt["type"] == "workflow"
    assert prompt["title"] == "System prompt of PR Reviewer"
    assert prompt["content"].startswith("You review pull requests")


def test_nothing_is_mixed_between_agents(tmp_path):
    data = convert(store(tmp_path)).data
    for sid, agent in ((SID_A, AGENT_A), (SID_B, AGENT_B)):
        for obs in data["observations"][sid]:
            assert obs["agentId"] == sid
            assert obs["source"]["raw"]["metadata"]["agent_id"] == agent
    for memory in data["memories"]:
        sid = memory["agentId"]
        assert memory["sessionIds"] == [sid]
        assert memory["id"].startswith(sid + "-")
        session = next(s for s in data["sessions"] if s["id"] == sid)
        assert memory["project"] == session["project"]


def test_ids_are_unique_and_stable_across_reads(tmp_path):
    first = convert(store(tmp_path / "one")).data
    second = convert(store(tmp_path / "two", name="elsewhere")).data
    assert first == second
    ids = [r["id"] for c in ("sessions", "memories") for r in first[c]]
    ids += [o["id"] for o in observations(first)]
    assert len(ids) == len(set(ids))


def test_what_is_left_behind_is_counted(tmp_path):
    assert left(convert(store(tmp_path))) == {
        "letta-code.message-fields": (11, Kept.VERBATIM_ONLY),
        "letta-code.message-parts": (2, Kept.VERBATIM_ONLY),
        "letta-code.message-snapshots": (1, Kept.NOT_IMPORTED),
        "letta-code.compiled-prompts": (3, Kept.NOT_IMPORTED),
        "letta-code.conversation-settings": (1, Kept.VERBATIM_ONLY),
        "letta-code.block-settings": (6, Kept.VERBATIM_ONLY),
        "letta-code.skills": (1, Kept.NOT_IMPORTED),
        "letta-code.memory-history": (5, Kept.NOT_IMPORTED),
        "letta-code.model-settings": (2, Kept.VERBATIM_ONLY),
        "letta-code.agent-settings": (1, Kept.VERBATIM_ONLY),
    }


# --- secrets ---------------------------------------------------------------------------------

SECRETS = ("sk-ant-api03-FIXTURE-SECRET", "ghp_FIXTURESECRET0123", "sk-proj-CONVERSATION-SECRET")


def with_secrets(tmp_path: Path) -> Path:
    root = store(tmp_path)

    def agent_a(v):
        v["model_settings"]["api_key"] = SECRETS[0]
        v["model_settings"]["max_tokens"] = 16000  # a count, not a secret

    def agent_b(v):
        v["env"] = {"GITHUB_TOKEN": SECRETS[1], "CI": "true"}

    edit_json(root / FILE_A, agent_a)
    edit_json(root / FILE_B, agent_b)
    edit_json(
        root / DIR_A1 / "conversation.json",
        lambda v: v.update(model_settings={"apiKey": SECRETS[2], "temperature": 0.2}),
    )
    (root / "providers").mkdir()
    (root / "providers" / "auth.json").write_text(json.dumps({"key": SECRETS[0]}))
    return root


def test_secrets_never_reach_the_document_and_are_counted(tmp_path):
    root = with_secrets(tmp_path)
    doc = read(root)
    text = json.dumps(doc)
    assert not any(s in text for s in SECRETS)
    assert doc["dropped_secrets"] == [
        {"file": FILE_A, "field": "model_settings.api_key"},
        {"file": FILE_B, "field": "env"},
        {"file": f"{DIR_A1}/conversation.json", "field": "model_settings.apiKey"},
    ]
    assert doc["agents"][0]["record"]["model_settings"]["max_tokens"] == 16000
    conv = convert(root)
    assert not any(s in json.dumps(conv.data) for s in SECRETS)
    assert left(conv)["letta-code.credentials"] == (3, Kept.NOT_IMPORTED)
    assert [w.code for w in conv.warnings] == [Code.SECRET_REDACTED]
    assert "model_settings.api_key" in conv.warnings[0].message


# --- other shapes ----------------------------------------------------------------------------


def test_memory_and_conversations_of_deleted_agents_are_left_out(tmp_path):
    root = store(tmp_path)
    (root / FILE_B).unlink()  # Letta Code's deleteAgent keeps memfs/<agent>
    shutil.rmtree(root / MEM_A / "skills")
    edit_json(root / DIR_B / "conversation.json", lambda v: None)  # kept: an orphan
    conv = convert(root)
    data = conv.data
    assert [s["id"] for s in data["sessions"]] == [SID_A]
    assert all(m["agentId"] == SID_A for m in data["memories"])
    assert left(conv)["letta-code.deleted-agents"] == (2, Kept.NOT_IMPORTED)
    assert left(conv)["letta-code.orphan-conversations"] == (4, Kept.NOT_IMPORTED)
    assert {w.code for w in conv.warnings} == {Code.DELETED_LEFT_OUT, Code.DANGLING_REFERENCE}
    assert preflight.check(data, layout.LAYOUT_ID, conv).ok


def test_schema_1_transcripts_and_old_ui_rows(tmp_path):
    root = store(tmp_path)
    path = root / DIR_B / "messages.jsonl"
    messages = [
        json.loads(line)["message"] for line in path.read_text().splitlines()[1:]
    ]  # schema 1: bare pi-ai messages, one a line
    path.write_text("".join(json.dumps(m) + "\n" for m in messages))
    edit_json(
        root / DIR_B / "manifest.json",
        lambda v: v.update(schema_version=1, message_format="pi-ai-message-jsonl"),
    )
    conv = convert(root)
    assert [o["id"] for o in conv.data["observations"][SID_B]] == [
        f"{SID_B}-default-ui-msg-{n}" for n in (16, 17, 18, 19)
    ]
    path.write_text('{"id": "m1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}\n')
    conv = convert(root)
    assert SID_B not in conv.data["observations"]
    assert left(conv)["letta-code.legacy-transcripts"] == (1, Kept.NOT_IMPORTED)
    assert "migrate-transcripts" in conv.warnings[0].message


def test_an_agent_id_without_a_uuid_is_namespaced(tmp_path):
    root = store(tmp_path)
    edit_json(root / FILE_A, lambda v: v.update(id="agent-local-default"))
    for d in (DIR_A, DIR_A1):
        edit_json(
            root / d / "conversation.json", lambda v: v.update(agent_id="agent-local-default")
        )
    data = convert(root).data
    sid = data["sessions"][0]["id"]
    assert sid.startswith("letta-code-") and sid.endswith("-agent-local-default")
    assert sid != "letta-code-agent-local-default"
    assert len(data["observations"][sid]) == 15
    assert convert(root).data == data


def test_read_storage_copies_reads_and_tags_the_payload(tmp_path):
    from wizard.core.storage.reader import read_storage

    root = store(tmp_path)
    payload = read_storage(root)
    assert payload.layout == layout.LAYOUT_ID
    assert payload.value == read(root)
    assert adapter.convert(payload, ConvertOptions()).data == convert(root).data
