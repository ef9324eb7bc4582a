"""Letta adapters: agent files (current and first schema) and archival passages."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wizard import runs
from wizard.cli import main
from wizard.core.adapters import letta
from wizard.core.collections import iter_records
from wizard.core.formats import ConvertOptions, Format, Payload
from wizard.core.inspection import inspect_file
from wizard.core.losses import Kept
from wizard.core.names import Strategy
from wizard.core.problems import Code
from wizard.core.schema import validate_records
from wizard.core.steps import drive
from wizard.store.database import open_store
from wizard.store.exporter import export_store

FIXTURES = Path(__file__).parent / "fixtures" / "letta"
BY_ID = {f.id: f for f in letta.FORMATS}

# file, format id, sessions, memories (blocks or passages, plus one system prompt per agent),
# observations (messages), version
EXPECTED = [
    ("loop.af", "letta-af", 1, 9 + 1, 3, "297e8217e952"),
    ("evie.af", "letta-af", 2, 13 + 2, 3, "3e54e2fa2f7e"),
    ("memgpt_agent_with_convo.af", "letta-af", 1, 2 + 1, 1, "f6cd5a1e519d"),
    ("customer_service.double-encoded.af", "letta-af", 1, 2 + 1, 1, "b1c2d3e4f5a6"),
    ("legacy-memgpt_agent_with_convo.af", "letta-af-legacy", 1, 2 + 1, 91, "0.6.47"),
    ("legacy-customer_service.af", "letta-af-legacy", 1, 2 + 1, 4, "0.6.47"),
    ("legacy-deep_research_agent.af", "letta-af-legacy", 1, 3 + 1, 4, "0.7.10"),
    # 7 passages, none of them deleted (checked in test_passages_fixture_holds_seven_live).
    ("letta-synth-archival-passages.json", "letta-passages", 0, 7, 0, None),
    # Copies of real samples with fields added (tests/fixtures/letta/derived/README.md).
    ("derived/loop.with-document.af", "letta-af", 1, 9 + 1 + 3, 3, "297e8217e952"),
    ("derived/loop.with-secrets.af", "letta-af", 1, 9 + 1, 3, "297e8217e952"),
    ("derived/legacy-deep_research_agent.with-secrets.af", "letta-af-legacy", 1, 4, 4, "0.7.10"),
]
FILES = [row[0] for row in EXPECTED]
SAMPLES = [name for name in FILES if not name.startswith("derived/")]
AGENT_FILES = [name for name in SAMPLES if name.endswith(".af")]


def load(name: str) -> Payload:
    """What the reader hands over: a double-encoded file is unwrapped one level."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    value = json.loads(text)
    unwrapped = isinstance(value, str)
    if unwrapped:
        value = json.loads(value)
    return Payload(value=value, name=name, unwrapped=unwrapped)


def matching(payload: Payload) -> list[Format]:
    return [f for f in letta.FORMATS if f.sniff(payload).score == 1.0]


def convert(name: str, options: ConvertOptions | None = None):
    payload = load(name)
    (fmt,) = matching(payload)
    return fmt.convert(payload, options or ConvertOptions())


def observations(data: dict) -> list[dict]:
    return list(iter_records(data, "observations"))


def raw_fixture(name: str):
    return load(name).value


# --- counts, detection, schema --------------------------------------------------------------


@pytest.mark.parametrize(("name", "fmt", "sessions", "memories", "obs", "version"), EXPECTED)
def test_fixture_converts_to_expected_counts(name, fmt, sessions, memories, obs, version):
    payload = load(name)
    assert [f.id for f in matching(payload)] == [fmt]
    conv = BY_ID[fmt].convert(payload, ConvertOptions())
    data = conv.data
    assert conv.errors == []
    assert len(data["sessions"]) == sessions
    assert len(data["memories"]) == memories
    assert len(observations(data)) == obs
    assert conv.source_version == version
    assert data["summaries"] == []
    assert isinstance(data["version"], str) and data["exportedAt"].endswith("Z")


@pytest.mark.parametrize("name", FILES)
def test_records_validate_against_schema(name):
    data = convert(name).data
    for collection in ("sessions", "observations", "memories", "summaries"):
        records = list(iter_records(data, collection))
        assert validate_records(collection, records) == [], collection


@pytest.mark.parametrize("name", FILES)
def test_same_file_twice_gives_identical_result(name):
    assert convert(name).data == convert(name).data


@pytest.mark.parametrize("name", FILES)
def test_ids_are_unique_and_never_file_local(name):
    data = convert(name).data
    ids = [r["id"] for c in ("sessions", "memories") for r in data[c]]
    ids += [o["id"] for o in observations(data)]
    assert len(ids) == len(set(ids))
    for rid in ids:
        assert rid.startswith(("letta-", "passage-")), rid
    for obs in observations(data):
        assert obs["sessionId"] in data["observations"]
        assert obs["sessionId"] in {s["id"] for s in data["sessions"]}


def test_agent_0_in_two_files_gives_different_ids():
    loop = convert("loop.af").data
    memgpt = convert("memgpt_agent_with_convo.af").data
    assert raw_fixture("loop.af")["agents"][0]["id"] == "agent-0"
    assert raw_fixture("memgpt_agent_with_convo.af")["agents"][0]["id"] == "agent-0"
    assert loop["sessions"][0]["id"] != memgpt["sessions"][0]["id"]
    assert loop["sessions"][0]["id"].endswith("-agent-0")
    loop_ids = {m["id"] for m in loop["memories"]} | {o["id"] for o in observations(loop)}
    memgpt_ids = {m["id"] for m in memgpt["memories"]} | {o["id"] for o in observations(memgpt)}
    assert not loop_ids & memgpt_ids  # both files have block-0, block-1 and message-0


def test_legacy_files_get_different_ids():
    a = convert("legacy-customer_service.af").data
    b = convert("legacy-deep_research_agent.af").data
    assert a["sessions"][0]["id"] != b["sessions"][0]["id"]
    assert observations(a)[0]["id"] != observations(b)[0]["id"]
    assert observations(a)[0]["id"].endswith("-msg-0")


# --- sessions and observations --------------------------------------------------------------


def test_agent_becomes_session():
    conv = convert("loop.af")
    (session,) = conv.data["sessions"]
    agent = raw_fixture("loop.af")["agents"][0]
    assert session["project"] == "letta:Loop"
    assert session["cwd"] == ""
    assert session["status"] == "completed"
    assert session["observationCount"] == 3
    assert session["model"] == "claude-sonnet-4-5-20250929"  # from llm_config: model is null
    assert session["tags"] == ["origin:letta-chat", "view:letta-chat"]
    # Times keep the source's precision (microseconds here).
    assert session["startedAt"] == "2026-01-22T02:06:34.048456Z"
    assert session["endedAt"] == "2026-01-22T02:06:34.048937Z"
    src = session["source"]
    assert (src["system"], src["format"]) == ("letta", "letta-af")
    assert "messages" not in src["raw"]
    assert src["raw"]["system"] == agent["system"]
    assert src["raw"]["llm_config"] == agent["llm_config"]
    assert sorted(t["id"] for t in src["related"]["tools"]) == sorted(agent["tool_ids"])
    assert src["file"]["metadata"] == {"revision_id": "297e8217e952"}


def test_messages_become_conversation_observations():
    data = convert("loop.af").data
    system, assistant, tool = observations(data)
    messages = raw_fixture("loop.af")["agents"][0]["messages"]
    assert all(o["type"] == "conversation" for o in (system, assistant, tool))
    # System prompts are kept but marked.
    assert system["title"].startswith("system: You are Loop.")
    assert system["concepts"] == ["system-prompt"]
    assert system["importance"] < assistant["importance"]
    assert system["narrative"] == messages[0]["content"][0]["text"]
    # Tool calls become facts (name with its arguments as a string); raw message kept.
    args = messages[1]["tool_calls"][0]["function"]["arguments"]
    assert assistant["facts"] == [f"send_message({args})"]
    assert assistant["source"]["raw"] == messages[1]
    assert assistant["source"]["raw"]["role"] == "assistant"
    assert tool["title"].startswith("tool: ")
    assert tool["timestamp"] == "2026-01-22T02:06:34.048937Z"


def test_legacy_agent_and_utc_timestamps():
    conv = convert("legacy-memgpt_agent_with_convo.af")
    (session,) = conv.data["sessions"]
    raw = raw_fixture("legacy-memgpt_agent_with_convo.af")
    assert raw["messages"][0]["created_at"] == "2025-04-01T03:47:27.492924"  # no time zone
    first = observations(conv.data)[0]
    assert first["timestamp"] == "2025-04-01T03:47:27.492924Z"
    assert session["startedAt"] == "2025-04-01T03:47:27.492924Z"
    assert session["endedAt"] == "2025-04-01T03:57:37.338117Z"
    assert session["project"] == "letta:memgpt_agent"
    assert session["model"] == "gpt-4-0613"
    assert session["observationCount"] == 91
    assert session["source"]["format"] == "letta-af-legacy"
    assert "messages" not in session["source"]["raw"]
    assert "core_memory" not in session["source"]["raw"]
    assert session["source"]["raw"]["version"] == "0.6.47"
    block = conv.data["memories"][0]
    assert block["createdAt"] == "2025-04-01T03:47:27.000Z"
    assert sum("system-prompt" in o["concepts"] for o in observations(conv.data)) == 6


# --- blocks ---------------------------------------------------------------------------------


def test_blocks_become_memories():
    data = convert("loop.af").data
    by_title = {m["title"]: m for m in data["memories"]}
    sid = data["sessions"][0]["id"]
    raw_blocks = {b["label"]: b for b in raw_fixture("loop.af")["blocks"]}
    about = by_title["about_user"]
    assert about["type"] == "preference"
    assert about["content"] == raw_blocks["about_user"]["value"]
    assert about["concepts"] == ["about_user"]
    assert about["sessionIds"] == [sid]
    assert about["source"]["raw"] == raw_blocks["about_user"]
    assert by_title["preferences"]["type"] == "preference"
    assert by_title["persona"]["type"] == "fact"
    assert by_title["soul"]["type"] == "fact"


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("human", "preference"),
        ("about_user", "preference"),
        ("user", "preference"),
        ("User Profile", "preference"),
        ("persona", "fact"),
        ("about_me", "fact"),
        ("research_plan", "fact"),
    ],
)
def test_block_type_by_label(label, kind):
    assert letta._block_type(label) == kind


def test_shared_block_is_one_memory_with_both_sessions():
    data = convert("evie.af").data
    evie, sleeptime = data["sessions"]
    assert evie["project"] == "letta:Evie"
    assert sleeptime["project"] == "letta:companion-sleeptime_copy"
    by_title = {m["title"]: m for m in data["memories"] if "-block-" in m["id"]}
    assert len(by_title) == 13
    assert by_title["persona"]["sessionIds"] == [evie["id"], sleeptime["id"]]
    # block-12 is used by the sleep-time agent only.
    assert by_title["memory_persona"]["sessionIds"] == [sleeptime["id"]]
    assert evie["source"]["related"]["groups"][0]["id"] == "group-0"
    assert sleeptime["source"]["related"]["groups"][0]["id"] == "group-0"


def test_unused_block_kept_without_sessions_and_missing_block_reported():
    value = copy.deepcopy(raw_fixture("memgpt_agent_with_convo.af"))
    value["blocks"].append({"id": "block-9", "label": "orphan", "value": "x"})
    value["agents"][0]["block_ids"].append("block-404")
    conv = BY_ID["letta-af"].convert(Payload(value), ConvertOptions())
    orphan = next(m for m in conv.data["memories"] if m["title"] == "orphan")
    assert orphan["sessionIds"] == []
    assert orphan["id"].startswith("letta-") and orphan["id"].endswith("-block-9")
    messages = " ".join(w.message for w in conv.warnings)
    assert "block-404" in messages and "used by no agent" in messages


# --- double encoding, errors ----------------------------------------------------------------


def test_double_encoded_file_warns():
    conv = convert("customer_service.double-encoded.af")
    assert any("JSON-encoded twice" in w.message for w in conv.warnings)
    assert not any("JSON-encoded twice" in w.message for w in convert("loop.af").warnings)


def test_bad_records_are_errors_not_exceptions():
    value = copy.deepcopy(raw_fixture("loop.af"))
    value["agents"].append("not an agent")
    value["agents"][0]["messages"].append(42)
    value["blocks"].append(None)
    conv = BY_ID["letta-af"].convert(Payload(value), ConvertOptions())
    paths = {e.path for e in conv.errors}
    assert paths == {"agents[1]", "agents[0].messages[3]", "blocks[9]"}
    assert len(conv.data["sessions"]) == 1
    assert conv.data["sessions"][0]["observationCount"] == 3

    legacy = copy.deepcopy(raw_fixture("legacy-customer_service.af"))
    legacy["messages"].append("junk")
    conv = BY_ID["letta-af-legacy"].convert(Payload(legacy), ConvertOptions())
    assert [e.path for e in conv.errors] == ["messages[4]"]


# --- passages -------------------------------------------------------------------------------


def test_passages_fixture_holds_seven_live():
    items = raw_fixture("letta-synth-archival-passages.json")
    assert len(items) == 7
    assert not any(p.get("is_deleted") for p in items)
    conv = convert("letta-synth-archival-passages.json", ConvertOptions(include_deleted=False))
    assert len(conv.data["memories"]) == 7
    assert conv.warnings == []  # nothing deleted, no embedding vectors (all null)


def test_passage_becomes_fact_memory_keeping_its_id():
    items = raw_fixture("letta-synth-archival-passages.json")
    memory = convert("letta-synth-archival-passages.json").data["memories"][0]
    assert memory["id"] == items[0]["id"]
    assert memory["type"] == "fact"
    assert memory["content"] == items[0]["text"]
    assert memory["title"] == items[0]["text"][:80]
    assert memory["createdAt"] == "2026-01-10T09:10:00.000Z"
    assert memory["concepts"] == ["family"]
    assert memory["sessionIds"] == []
    assert memory["source"]["format"] == "letta-passages"
    assert "embedding" not in memory["source"]["raw"]
    assert memory["source"]["raw"]["archive_id"] == "archive-3f2a"


def _passages() -> list[dict]:
    long_text = "word " * 40 + "\nsecond line"
    return [
        {
            "id": "passage-a",
            "text": long_text,
            "archive_id": "archive-1",
            "created_at": "2026-01-01T00:00:00",
            "embedding": [0.1, 0.2, 0.3],
        },
        {
            "id": "passage-b",
            "text": "gone",
            "archive_id": "archive-1",
            "is_deleted": True,
            "created_at": "2026-01-02T00:00:00+02:00",
            "embedding": [0.4, 0.5, 0.6],
        },
    ]


def test_deleted_passages_skipped_unless_asked_and_embeddings_dropped():
    payload = Payload(_passages())
    assert BY_ID["letta-passages"].sniff(payload).score == 1.0
    conv = BY_ID["letta-passages"].convert(payload, ConvertOptions())
    assert [m["id"] for m in conv.data["memories"]] == ["passage-a"]
    first = conv.data["memories"][0]
    assert first["title"] == ("word " * 40).strip()[:80]
    assert len(first["title"]) == 80
    assert first["createdAt"] == "2026-01-01T00:00:00.000Z"
    assert "embedding" not in first["source"]["raw"]
    messages = [w.message for w in conv.warnings]
    assert any("1 deleted passage" in m for m in messages)
    assert any("1 passage(s) carried embedding" in m for m in messages)

    conv = BY_ID["letta-passages"].convert(payload, ConvertOptions(include_deleted=True))
    assert [m["id"] for m in conv.data["memories"]] == ["passage-a", "passage-b"]
    assert conv.data["memories"][1]["createdAt"] == "2026-01-01T22:00:00.000Z"
    # a deleted passage included on request is kept, never live
    assert [m["isLatest"] for m in conv.data["memories"]] == [True, False]
    assert not any("deleted" in w.message for w in conv.warnings)
    assert validate_records("memories", conv.data["memories"]) == []


# --- scope: project, agentId, sessions ------------------------------------------------------


def _blocks(data: dict) -> list[dict]:
    return [m for m in data["memories"] if "-block-" in m["id"]]


@pytest.mark.parametrize("name", AGENT_FILES)
def test_sessions_and_messages_carry_their_agent(name):
    data = convert(name).data
    for session in data["sessions"]:
        assert session["agentId"] == session["id"]
        name_ = session["source"]["raw"].get("name")
        assert session["project"] == f"letta:{name_}"
    for obs in observations(data):
        assert obs["agentId"] == obs["sessionId"]


@pytest.mark.parametrize("name", AGENT_FILES)
def test_every_block_memory_is_scoped(name):
    data = convert(name).data
    projects = {s["id"]: s["project"] for s in data["sessions"]}
    blocks = _blocks(data)
    assert blocks
    for memory in blocks:
        assert memory["project"].startswith("letta:")
        if len(memory["sessionIds"]) == 1:  # one agent's block: its project and agent
            (sid,) = memory["sessionIds"]
            assert memory["agentId"] == sid
            assert memory["project"] == projects[sid]
        else:  # shared: no single agent, each agent's session listed
            assert len(memory["sessionIds"]) > 1
            assert "agentId" not in memory
            assert memory["project"].startswith(("letta:group:", "letta:file:"))


def test_evie_shared_blocks_are_one_memory_each_scoped_to_the_group():
    data = convert("evie.af").data
    evie, sleeptime = data["sessions"]
    shared = [m for m in _blocks(data) if len(m["sessionIds"]) > 1]
    assert len(shared) == 12
    for memory in shared:
        assert memory["sessionIds"] == [evie["id"], sleeptime["id"]]
        assert memory["project"] == "letta:group:Evie+companion-sleeptime_copy"
        assert "agentId" not in memory
    (own,) = [m for m in _blocks(data) if len(m["sessionIds"]) == 1]
    assert own["title"] == "memory_persona"
    assert own["agentId"] == sleeptime["id"]
    assert own["project"] == "letta:companion-sleeptime_copy"


def test_shared_blocks_of_agents_in_no_common_group_belong_to_the_file():
    value = copy.deepcopy(raw_fixture("evie.af"))
    value["groups"] = []
    value["agents"][0]["group_ids"] = []
    data = BY_ID["letta-af"].convert(Payload(value), ConvertOptions()).data
    shared = [m for m in _blocks(data) if len(m["sessionIds"]) > 1]
    assert len(shared) == 12
    assert len({m["project"] for m in shared}) == 1
    assert shared[0]["project"].startswith("letta:file:")
    # The ids do not depend on the scope.
    assert {m["id"] for m in data["memories"]} == {
        m["id"] for m in convert("evie.af").data["memories"]
    }


def test_a_named_group_gives_its_name_to_the_project():
    value = copy.deepcopy(raw_fixture("evie.af"))
    value["groups"][0]["name"] = "discord crew"
    data = BY_ID["letta-af"].convert(Payload(value), ConvertOptions()).data
    assert {m["project"] for m in _blocks(data) if len(m["sessionIds"]) > 1} == {
        "letta:group:discord crew"
    }


def test_unused_block_belongs_to_the_file():
    value = copy.deepcopy(raw_fixture("loop.af"))
    value["blocks"].append({"id": "block-9", "label": "orphan", "value": "x"})
    data = BY_ID["letta-af"].convert(Payload(value), ConvertOptions()).data
    orphan = next(m for m in data["memories"] if m["title"] == "orphan")
    assert orphan["project"].startswith("letta:file:")
    assert "agentId" not in orphan and orphan["sessionIds"] == []


def test_unnamed_agent_is_named_by_its_session_id():
    value = copy.deepcopy(raw_fixture("memgpt_agent_with_convo.af"))
    del value["agents"][0]["name"]
    data = BY_ID["letta-af"].convert(Payload(value), ConvertOptions()).data
    (session,) = data["sessions"]
    assert session["project"] == f"letta:{session['id']}"
    assert {m["project"] for m in data["memories"]} == {session["project"]}

    legacy = copy.deepcopy(raw_fixture("legacy-customer_service.af"))
    legacy["name"] = ""
    data = BY_ID["letta-af-legacy"].convert(Payload(legacy), ConvertOptions()).data
    assert data["sessions"][0]["project"] == f"letta:{data['sessions'][0]['id']}"


def test_agent_0_of_two_files_gives_two_agent_ids():
    loop = convert("loop.af").data
    memgpt = convert("memgpt_agent_with_convo.af").data
    loop_agents = {r["agentId"] for r in loop["memories"]} | {
        o["agentId"] for o in observations(loop)
    }
    memgpt_agents = {r["agentId"] for r in memgpt["memories"]}
    assert loop_agents == {loop["sessions"][0]["id"]}
    assert memgpt_agents == {memgpt["sessions"][0]["id"]}
    assert loop_agents != memgpt_agents
    assert all(a.endswith("-agent-0") for a in loop_agents | memgpt_agents)


def test_passages_belong_to_their_agent():
    items = raw_fixture("letta-synth-archival-passages.json")
    memories = convert("letta-synth-archival-passages.json").data["memories"]
    agent = items[0]["agent_id"]
    assert {p["agent_id"] for p in items} == {agent}
    for memory in memories:
        assert memory["project"] == f"letta:agent:{agent}"
        assert memory["agentId"] == f"letta-{agent}"
        assert memory["sessionIds"] == []


def _scoped(passages: list[dict]) -> dict[str, dict]:
    conv = BY_ID["letta-passages"].convert(Payload(passages), ConvertOptions())
    return {m["id"]: m for m in conv.data["memories"]}


def test_passage_without_agent_goes_to_its_archives_agent_else_archive_else_file():
    items = copy.deepcopy(raw_fixture("letta-synth-archival-passages.json"))
    agent = items[0]["agent_id"]
    del items[1]["agent_id"]  # same archive as the others: the archive's agent
    items[2]["archive_id"] = "archive-other"  # an archive of its own, no agent
    del items[2]["agent_id"]
    del items[3]["agent_id"]
    del items[3]["archive_id"]  # neither
    memories = _scoped(items)
    second, third, fourth = (memories[items[i]["id"]] for i in (1, 2, 3))
    assert (second["project"], second["agentId"]) == (f"letta:agent:{agent}", f"letta-{agent}")
    assert third["project"] == "letta:archive:archive-other" and "agentId" not in third
    assert fourth["project"] == "letta:passages" and "agentId" not in fourth


def test_an_archive_shared_by_two_agents_names_no_agent():
    passages = [
        {"id": "passage-1", "text": "a", "archive_id": "archive-1", "agent_id": "agent-x1"},
        {"id": "passage-2", "text": "b", "archive_id": "archive-1", "agent_id": "agent-x2"},
        {"id": "passage-3", "text": "c", "archive_id": "archive-1"},
    ]
    memories = _scoped(passages)
    assert memories["passage-3"]["project"] == "letta:archive:archive-1"
    assert "agentId" not in memories["passage-3"]


def test_two_agents_passages_without_ids_stay_two_passages():
    same = {"text": "the same words", "created_at": "2026-01-01T00:00:00Z"}
    passages = [{**same, "agent_id": "agent-a1"}, {**same, "agent_id": "agent-b2"}]
    memories = _scoped(passages)
    assert len(memories) == 2
    assert {m["project"] for m in memories.values()} == {
        "letta:agent:agent-a1",
        "letta:agent:agent-b2",
    }


def test_file_local_agent_ids_in_passages_are_namespaced():
    first = [{"id": "passage-1", "text": "a", "agent_id": "agent-0"}]
    second = [{"id": "passage-2", "text": "b", "agent_id": "agent-0"}]
    a, b = _scoped(first)["passage-1"], _scoped(second)["passage-2"]
    assert a["agentId"] != b["agentId"]
    assert a["agentId"].startswith("letta-") and a["agentId"].endswith("-agent-0")
    assert _scoped(first)["passage-1"]["agentId"] == a["agentId"]  # stable


# --- system prompts -------------------------------------------------------------------------


@pytest.mark.parametrize("name", AGENT_FILES)
def test_system_prompt_is_a_searchable_memory_of_its_agent(name):
    data = convert(name).data
    by_id = {m["id"]: m for m in data["memories"]}
    for session in data["sessions"]:
        raw = session["source"]["raw"]
        prompt = by_id[f"{session['id']}-system-prompt"]
        assert prompt["type"] == "workflow"
        assert prompt["title"] == f"System prompt of {raw['name']}"
        assert prompt["concepts"] == ["system-prompt"]
        assert prompt["content"] == raw["system"] and prompt["content"]
        assert prompt["project"] == session["project"]
        assert prompt["agentId"] == session["id"]
        assert prompt["sessionIds"] == [session["id"]]
        assert prompt["createdAt"].endswith("Z")
    prompts = [m for m in data["memories"] if m["concepts"] == ["system-prompt"]]
    assert len(prompts) == len(data["sessions"])


def test_agent_without_system_prompt_has_no_prompt_memory():
    value = copy.deepcopy(raw_fixture("loop.af"))
    value["agents"][0]["system"] = None
    data = BY_ID["letta-af"].convert(Payload(value), ConvertOptions()).data
    assert not [m for m in data["memories"] if m["type"] == "workflow"]


# --- attached documents ---------------------------------------------------------------------


def _documents(data: dict) -> list[dict]:
    return [m for m in data["memories"] if m["concepts"] == ["document"]]


def test_attached_document_becomes_linked_parts_of_its_agent():
    value = raw_fixture("derived/loop.with-document.af")
    (file,) = value["files"]
    data = convert("derived/loop.with-document.af").data
    (session,) = data["sessions"]
    parts = _documents(data)
    assert len(parts) == 3
    assert "".join(p["content"] for p in parts) == file["content"]
    ids = [p["id"] for p in parts]
    for i, part in enumerate(parts, 1):
        assert part["title"] == f"allotment-handbook.md (part {i} of 3)"
        assert part["type"] == "fact"
        assert 0 < len(part["content"]) <= letta.PART_CHARS
        assert part["relatedIds"] == [x for x in ids if x != part["id"]]
        assert part["project"] == "letta:Loop"
        assert part["agentId"] == session["id"] == part["sessionIds"][0]
        assert "content" not in part["source"]["raw"]
        assert part["source"]["raw"]["id"] == "file-0"
        start, end = part["source"]["part"]["start"], part["source"]["part"]["end"]
        assert file["content"][start:end] == part["content"]
    # Cut at paragraph boundaries, a heading kept with the paragraph it introduces.
    assert parts[0]["content"].endswith("\n\n") and parts[1]["content"].endswith("\n\n")
    assert parts[2]["content"].startswith("## Rules of the association")
    # The text is not also copied into every session's file context.
    assert session["source"]["file"]["files"] == []
    assert convert("derived/loop.with-document.af").data == data  # stable ids


def test_the_derived_document_fixture_is_loop_plus_the_document():
    loop = raw_fixture("loop.af")
    derived = copy.deepcopy(raw_fixture("derived/loop.with-document.af"))
    for key in ("files", "sources"):
        derived[key] = []
    derived["agents"][0]["source_ids"] = []
    derived["agents"][0]["files_agents"] = []
    assert derived == loop


def test_short_document_is_one_memory_and_documents_shared_or_unattached_are_scoped():
    value = copy.deepcopy(raw_fixture("evie.af"))
    value["files"] = [
        {"id": "file-0", "file_name": "f/rules.md", "source_id": "source-0", "content": "Be kind."},
        {"id": "file-1", "original_file_name": "loose.txt", "content": "Nobody reads me."},
        {"id": "file-2", "file_name": "f/empty.txt", "content": None},
    ]
    for agent in value["agents"]:
        agent["source_ids"] = ["source-0"]
    conv = BY_ID["letta-af"].convert(Payload(value), ConvertOptions())
    docs = {m["title"]: m for m in _documents(conv.data)}
    assert set(docs) == {"f/rules.md", "loose.txt"}
    shared, loose = docs["f/rules.md"], docs["loose.txt"]
    assert shared["content"] == "Be kind." and "relatedIds" not in shared
    assert shared["project"] == "letta:group:Evie+companion-sleeptime_copy"
    assert shared["sessionIds"] == [s["id"] for s in conv.data["sessions"]]
    assert "agentId" not in shared
    assert loose["project"].startswith("letta:file:") and loose["sessionIds"] == []
    # A file without text stays in the file context and is listed as left behind.
    context = conv.data["sessions"][0]["source"]["file"]
    assert [f["id"] for f in context["files"]] == ["file-2"]
    assert _left(conv)["letta.files"].count == 1


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, [(0, 5)]),
        ("a" * 25, 10, [(0, 10), (10, 20), (20, 25)]),  # no boundary: cut at the limit
        ("aaaaaa\n\nbbbbbb\n\ncc", 10, [(0, 8), (8, 18)]),  # after blank lines
        ("aaaa bbbb cccc", 10, [(0, 10), (10, 14)]),  # after a word
        ("aaaaaa\n\n# T\n\nbbbbbbbb", 14, [(0, 8), (8, 21)]),  # heading moves on
        ("aa\n\n# T\n\nbbbbbbbbbbbb", 14, [(0, 9), (9, 21)]),  # unless the part is too short
    ],
)
def test_split_text(text, limit, expected):
    bounds = letta.split_text(text, limit)
    assert bounds == expected
    assert "".join(text[s:e] for s, e in bounds) == text


# --- left behind ----------------------------------------------------------------------------


def _left(conv) -> dict:
    return {x.category: x for x in conv.left_behind}


# Sample file: {category: count} that must be listed (others may be listed too).
LEFT_BEHIND = {
    "loop.af": {
        "letta.tools": 9,
        "letta.model-settings": 1,
        "letta.agent-settings": 6,
        "letta.block-settings": 9,
        "letta.tool-returns": 1,
    },
    "evie.af": {
        "letta.tools": 17,
        "letta.tool-rules": 5,
        "letta.model-settings": 2,
        "letta.groups": 1,
        "letta.block-settings": 13,
    },
    "memgpt_agent_with_convo.af": {"letta.tools": 3, "letta.model-settings": 1},
    "customer_service.double-encoded.af": {"letta.tools": 7, "letta.model-settings": 1},
    "legacy-memgpt_agent_with_convo.af": {
        "letta.tools": 6,
        "letta.tool-rules": 4,
        "letta.model-settings": 1,
        "letta.message-fields": 91,
    },
    "legacy-customer_service.af": {"letta.tools": 10, "letta.tool-rules": 4},
    "legacy-deep_research_agent.af": {
        "letta.tools": 5,
        "letta.tool-rules": 7,
        "letta.tool-environment": 2,
    },
    "letta-synth-archival-passages.json": {"letta.passage-fields": 7},
}


@pytest.mark.parametrize("name", sorted(LEFT_BEHIND))
def test_left_behind_lists_what_does_not_migrate(name):
    conv = convert(name)
    left = _left(conv)
    for category, count in LEFT_BEHIND[name].items():
        assert left[category].count == count, category
    if name.endswith(".af"):
        assert left["letta.tools"].kept == Kept.VERBATIM_ONLY
    for entry in conv.left_behind:
        assert entry.count > 0 and entry.category.startswith("letta.")
        assert entry.kept in (Kept.VERBATIM_ONLY, Kept.NOT_IMPORTED)


@pytest.mark.parametrize("name", SAMPLES)
def test_validate_json_lists_left_behind(name, capsys):
    assert main(["validate", str(FIXTURES / name), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    categories = {x["category"] for x in report["left_behind"]}
    assert categories >= set(LEFT_BEHIND[name])


def test_skills_mcp_servers_sources_and_unknown_fields_are_counted():
    value = copy.deepcopy(raw_fixture("loop.af"))
    value["skills"] = [
        {"name": "verify", "files": {"notes.md": "---\nname: verify\n---\n"}, "source_url": None},
        {"name": "linear", "files": None, "source_url": "letta-ai/skills/main/tools/linear"},
    ]
    value["mcp_servers"] = [{"id": "mcp_server-0", "server_type": "sse", "server_name": "x"}]
    value["sources"] = [{"id": "source-0", "name": "folder"}]
    value["future_thing"] = {"a": 1}
    value["agents"][0]["memory_blocks"] = [{"label": "inline", "value": "v"}]
    value["agents"][0]["tool_rules"] = [{"tool_name": "send_message", "type": "exit_loop"}]
    left = _left(BY_ID["letta-af"].convert(Payload(value), ConvertOptions()))
    assert left["letta.skills"].count == 2
    assert left["letta.mcp-servers"].count == 1
    assert left["letta.sources"].count == 1
    assert (
        left["letta.file-fields"].count == 1 and "future_thing" in left["letta.file-fields"].detail
    )
    assert left["letta.inline-blocks"].count == 1
    assert left["letta.tool-rules"].count == 1


def test_file_without_agents_leaves_its_tools_behind_entirely():
    value = {"agents": [], "blocks": [], "tools": [{"id": "tool-0", "name": "t"}]}
    left = _left(BY_ID["letta-af"].convert(Payload(value), ConvertOptions()))
    assert left["letta.tools"].count == 1
    assert left["letta.tools"].kept == Kept.NOT_IMPORTED


def test_dropped_passages_are_listed():
    conv = BY_ID["letta-passages"].convert(Payload(_passages()), ConvertOptions())
    left = _left(conv)
    assert left["letta.deleted-passages"].count == 1
    assert left["letta.deleted-passages"].kept == Kept.NOT_IMPORTED
    assert left["letta.embeddings"].count == 1


# --- secrets --------------------------------------------------------------------------------

SECRET_FIXTURES = {
    "derived/loop.with-secrets.af": {
        "WEATHER_API_KEY": "FAKE-weather-key-7f3a91c2",
        "GARDEN_DB_PASSWORD": "FAKE-db-password-c0ffee42",
        "token": "FAKE-mcp-token-5b8e2d17",
        "Authorization": "Bearer FAKE-mcp-bearer-a4c6e801",
        "WEATHER_CLI_SECRET": "FAKE-cli-secret-19d0b7aa",
    },
    "derived/legacy-deep_research_agent.with-secrets.af": {
        "TAVILY_API_KEY": "FAKE-tavily-key-2e9d4c60",
        "FIRECRAWL_API_KEY": "FAKE-firecrawl-key-83a1f5b9",
    },
}


def _values(name: str) -> list[str]:
    return [v.removeprefix("Bearer ") for v in SECRET_FIXTURES[name].values()]


@pytest.mark.parametrize("name", sorted(SECRET_FIXTURES))
def test_secret_fixtures_hold_the_secrets(name):
    text = (FIXTURES / name).read_text(encoding="utf-8")
    for value in _values(name):
        assert value in text


def test_the_derived_secret_fixtures_are_their_samples_plus_the_secrets():
    derived = copy.deepcopy(raw_fixture("derived/loop.with-secrets.af"))
    agent = derived["agents"][0]
    agent["secrets"], agent["tool_exec_environment_variables"] = None, {}
    derived["mcp_servers"] = []
    assert derived == raw_fixture("loop.af")
    legacy = copy.deepcopy(raw_fixture("derived/legacy-deep_research_agent.with-secrets.af"))
    for variable in legacy["tool_exec_environment_variables"]:
        variable["value"] = ""
    assert legacy == raw_fixture("legacy-deep_research_agent.af")


@pytest.mark.parametrize("name", sorted(SECRET_FIXTURES))
def test_secrets_never_reach_the_converted_data(name):
    inspection = inspect_file(FIXTURES / name)
    assert inspection.ok
    dumped = json.dumps(inspection.data)
    for value in _values(name):
        assert value not in dumped
    (warning,) = [w for w in inspection.report.warnings if w.code == Code.SECRET_REDACTED]
    for key in SECRET_FIXTURES[name]:
        assert key in warning.message
    for value in _values(name):
        assert value not in str(warning)
    left = {x.category: x for x in inspection.report.left_behind}
    assert left["secrets"].kept == Kept.REDACTED and left["secrets"].count >= len(_values(name))
    for value in _values(name):
        assert value not in json.dumps(inspection.report.to_dict())


def test_secrets_stay_under_their_keys_with_the_value_replaced():
    data = inspect_file(FIXTURES / "derived/loop.with-secrets.af").data
    (session,) = data["sessions"]
    raw = session["source"]["raw"]
    assert raw["secrets"]["WEATHER_API_KEY"] == "[redacted]"
    assert raw["tool_exec_environment_variables"]["GARDEN_DB_PASSWORD"] == "[redacted]"
    github, cli = session["source"]["file"]["mcp_servers"]
    assert github["token"] == "[redacted]"
    assert github["custom_headers"] == {"Authorization": "[redacted]"}
    assert github["server_url"] == "https://mcp.example.org/garden/mcp"
    assert cli["stdio_config"]["env"] == {"WEATHER_CLI_SECRET": "[redacted]"}
    assert cli["stdio_config"]["command"] == "npx"
    legacy = inspect_file(FIXTURES / "derived/legacy-deep_research_agent.with-secrets.af").data
    variables = legacy["sessions"][0]["source"]["raw"]["tool_exec_environment_variables"]
    assert [(v["key"], v["value"]) for v in variables] == [
        ("TAVILY_API_KEY", "[redacted]"),
        ("FIRECRAWL_API_KEY", "[redacted]"),
    ]


@pytest.mark.parametrize("name", sorted(SECRET_FIXTURES))
def test_secrets_never_reach_the_store_or_an_export(name, tmp_path, capsys):
    inspection = inspect_file(FIXTURES / name)
    db = tmp_path / "store.sqlite"
    out = tmp_path / "export.json"
    with open_store(db) as store:
        result = drive(runs.import_steps(store, inspection, Strategy.MERGE))
        assert result.ok, result.error
        export_store(store, out)
    exported = out.read_text(encoding="utf-8")
    assert "[redacted]" in exported
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("store.sqlite*"))
    for value in _values(name):
        assert value not in exported
        assert value.encode() not in stored
    # Nor in what validation prints.
    assert main(["validate", str(FIXTURES / name)]) == 0
    assert main(["validate", str(FIXTURES / name), "--json"]) == 0
    printed = capsys.readouterr()
    for value in _values(name):
        assert value not in printed.out and value not in printed.err


# --- sniffing -------------------------------------------------------------------------------

OTHER_FORMATS = {
    "agentmemory": {
        "version": "0.9.5",
        "exportedAt": "2026-01-01T00:00:00Z",
        "sessions": [],
        "observations": {},
        "memories": [],
        "summaries": [],
    },
    "mem0-oss": {
        "results": [
            {"id": "1", "memory": "likes tea", "hash": "abc", "user_id": "alice", "agent_id": "a"}
        ]
    },
    "mem0-oss-list": [{"id": "1", "memory": "likes tea", "hash": "abc", "agent_id": "a"}],
    "mem0-2024": {"memories": [{"id": "1", "memory": "x"}], "entities": []},
    "mem0-platform": {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [{"id": "1", "memory": "x", "categories": []}],
    },
    "mem0-history": [
        {"id": "h", "memory_id": "1", "event": "ADD", "old_memory": None, "new_memory": "x"}
    ],
    "mem0-migration": {"kind": "mem0_oss_qdrant_export", "records": []},
    "openmemory": {"memories": [{"id": "1", "content": "x"}], "export_meta": {}},
}


@pytest.mark.parametrize("name", sorted(OTHER_FORMATS))
def test_other_formats_are_not_letta(name):
    payload = Payload(OTHER_FORMATS[name])
    assert matching(payload) == []


@pytest.mark.parametrize("name", FILES)
def test_each_fixture_matches_exactly_one_format(name):
    assert len(matching(load(name))) == 1


def test_partial_sniffs_explain_what_is_missing():
    no_blocks = letta.sniff_af(Payload({"agents": []}))
    assert 0 < no_blocks.score < 1 and "blocks" in no_blocks.note
    legacy = letta.sniff_af_legacy(Payload({"messages": [], "version": "0.6.47"}))
    assert 0 < legacy.score < 1
    assert "llm_config" in legacy.note and "core_memory" in legacy.note
    text_only = letta.sniff_passages(Payload([{"text": "hello"}]))
    assert 0 < text_only.score < 1 and "passage-" in text_only.note


JUNK = [
    None,
    0,
    1.5,
    True,
    "",
    "text",
    [],
    {},
    [None],
    [1, 2],
    ["a"],
    [[]],
    [{}],
    {"agents": None},
    {"agents": "x", "blocks": 3},
    {"agents": [1], "blocks": []},
    {"llm_config": []},
    {"core_memory": {}},
    {"messages": "x"},
    [{"text": None}],
    [{"text": 1, "id": "passage-1"}],
    {"blocks": {}},
    {"version": "0.6.47"},
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                [
                    "agents",
                    "blocks",
                    "messages",
                    "core_memory",
                    "llm_config",
                    "text",
                    "id",
                    "memory",
                    "sessions",
                    "version",
                    "archive_id",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@pytest.mark.parametrize("value", JUNK, ids=repr)
def test_sniff_never_raises_on_junk(value):
    for fmt in letta.FORMATS:
        result = fmt.sniff(Payload(value))
        assert 0.0 <= result.score < 1.0


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_sniff_never_raises_on_any_json(value):
    for fmt in letta.FORMATS:
        result = fmt.sniff(Payload(value))
        assert 0.0 <= result.score <= 1.0
        if result.score == 1.0:
            # A match must convert without raising.
            fmt.convert(Payload(value), ConvertOptions())


_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_keys = st.sampled_from(
    [
        "id",
        "name",
        "role",
        "content",
        "type",
        "text",
        "tool_calls",
        "function",
        "arguments",
        "created_at",
        "updated_at",
        "label",
        "value",
        "tool_ids",
        "group_ids",
        "agent_ids",
        "block_ids",
        "manager_config",
        "manager_agent_id",
        "tags",
        "model",
        "llm_config",
        "messages",
        "metadata",
        "revision_id",
        "is_deleted",
        "embedding",
        "system",
        "content",
        "file_id",
        "file_name",
        "original_file_name",
        "source_id",
        "source_ids",
        "files_agents",
        "agent_id",
        "archive_id",
        "secrets",
        "tool_exec_environment_variables",
        "tool_rules",
        "memory_blocks",
    ]
)
_records = st.recursive(
    _scalars
    | st.sampled_from(
        ["2025-04-01T03:47:27", "agent-0", "block-0", "passage-x", "file-0", "source-0", "# T\n\nx"]
    ),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=6),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_records, max_size=3),
    st.lists(_records, max_size=3),
    st.lists(_records, max_size=3),
    _records,
)
def test_convert_never_raises_on_odd_records(agents, blocks, tools, other):
    shapes = [
        (
            "letta-af",
            {
                "agents": agents,
                "blocks": blocks,
                "tools": tools,
                "groups": tools,
                "files": tools,
                "sources": blocks,
                "skills": other,
                "metadata": other,
                "created_at": other,
            },
        ),
        (
            "letta-af-legacy",
            {
                "llm_config": {},
                "messages": agents,
                "core_memory": blocks,
                "name": other,
                "version": other,
                "tags": other,
            },
        ),
        (
            "letta-passages",
            [
                {
                    "id": "passage-1",
                    "text": "t",
                    "archive_id": "a",
                    "tags": other,
                    "created_at": other,
                    "embedding": other,
                },
                *blocks,
            ],
        ),
    ]
    for fmt, value in shapes:
        conv = BY_ID[fmt].convert(Payload(value), ConvertOptions(include_deleted=True))
        for collection in ("sessions", "observations", "memories"):
            records = list(iter_records(conv.data, collection))
            assert validate_records(collection, records) == [], (fmt, collection)
