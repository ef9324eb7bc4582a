"""Letta adapters: agent files (current and first schema) and archival passages."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wizard.core.adapters import letta
from wizard.core.collections import iter_records
from wizard.core.formats import ConvertOptions, Format, Payload
from wizard.core.schema import validate_records

FIXTURES = Path(__file__).parent / "fixtures" / "letta"
BY_ID = {f.id: f for f in letta.FORMATS}

# file, format id, sessions, memories (blocks or passages), observations (messages), version
EXPECTED = [
    ("loop.af", "letta-af", 1, 9, 3, "297e8217e952"),
    ("evie.af", "letta-af", 2, 13, 3, "3e54e2fa2f7e"),
    ("memgpt_agent_with_convo.af", "letta-af", 1, 2, 1, "f6cd5a1e519d"),
    ("customer_service.double-encoded.af", "letta-af", 1, 2, 1, "b1c2d3e4f5a6"),
    ("legacy-memgpt_agent_with_convo.af", "letta-af-legacy", 1, 2, 91, "0.6.47"),
    ("legacy-customer_service.af", "letta-af-legacy", 1, 2, 4, "0.6.47"),
    ("legacy-deep_research_agent.af", "letta-af-legacy", 1, 3, 4, "0.7.10"),
    # 7 passages, none of them deleted (checked in test_passages_fixture_holds_seven_live).
    ("letta-synth-archival-passages.json", "letta-passages", 0, 7, 0, None),
]
FILES = [row[0] for row in EXPECTED]


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
    assert session["startedAt"] == "2026-01-22T02:06:34.048Z"
    assert session["endedAt"] == "2026-01-22T02:06:34.048Z"
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
    assert tool["timestamp"] == "2026-01-22T02:06:34.048Z"


def test_legacy_agent_and_utc_timestamps():
    conv = convert("legacy-memgpt_agent_with_convo.af")
    (session,) = conv.data["sessions"]
    raw = raw_fixture("legacy-memgpt_agent_with_convo.af")
    assert raw["messages"][0]["created_at"] == "2025-04-01T03:47:27.492924"  # no time zone
    first = observations(conv.data)[0]
    assert first["timestamp"] == "2025-04-01T03:47:27.492Z"
    assert session["startedAt"] == "2025-04-01T03:47:27.492Z"
    assert session["endedAt"] == "2025-04-01T03:57:37.338Z"
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
    by_title = {m["title"]: m for m in data["memories"]}
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
    assert not any("deleted" in w.message for w in conv.warnings)
    assert validate_records("memories", conv.data["memories"]) == []


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
    ]
)
_records = st.recursive(
    _scalars | st.sampled_from(["2025-04-01T03:47:27", "agent-0", "block-0", "passage-x"]),
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
