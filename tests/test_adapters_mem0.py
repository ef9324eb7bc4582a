"""mem0 adapters: OSS get_all/search, Platform pages, history, migration file, and the refused
Platform structured export."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wizard.core.adapters import mem0, openmemory
from wizard.core.collections import iter_records
from wizard.core.formats import ConvertOptions, Format, Payload
from wizard.core.problems import InputRefused
from wizard.core.schema import validate_records

FIXTURES = Path(__file__).parent / "fixtures"
MEM0 = FIXTURES / "mem0"
BY_ID = {f.id: f for f in mem0.FORMATS}
ALL_OURS = mem0.FORMATS + openmemory.FORMATS
EITHER = {"mem0-oss", "mem0-platform"}

# file, accepted format ids, memories, sessions, graph nodes, graph edges, warnings
# (counts verified by reading each file; see the comments)
EXPECTED = [
    # 19 items, all with distinct ids; run ids run-1 and run-2
    ("mem0-real-oss-2.2.1-getall-alice.json", {"mem0-oss"}, 19, 2, 0, 0, 0),
    # 54 items; run ids run-1, run-2, run-3 (run-2 and run-3 shared by two users each)
    # 3 run ids, used by 5 (user, run) pairs: a session is one run of one owner
    ("mem0-real-oss-2.2.1-getall-all-users.json", {"mem0-oss"}, 54, 5, 0, 0, 0),
    # bare list of 12 items; run ids run-2 and run-3
    ("mem0-real-oss-2.2.1-getall-bob-list.json", {"mem0-oss"}, 12, 2, 0, 0, 0),
    # 7 items, one run id; 4 relations over 5 entity names (priya + 4 targets)
    ("mem0-synth-oss-getall-v1_1-relations.json", {"mem0-oss"}, 7, 1, 5, 4, 0),
    # one page (3 of count 143): a warning says so; one session_id
    ("mem0-synth-platform-getall-v3-page.json", {"mem0-platform"}, 3, 1, 0, 0, 1),
    # 3 items; 3 relations over joseph, seattle, "software engineer"
    ("mem0-docs-platform-getall-graph.json", {"mem0-platform"}, 3, 0, 3, 3, 0),
    ("mem0-docs-platform-v2-getall-list.json", EITHER, 1, 0, 0, 0, 0),
    ("mem0-cognee-fixture-export.json", EITHER, 4, 0, 0, 0, 0),
    # history rows of one memory each
    ("mem0-real-oss-2.2.1-history.json", {"mem0-history"}, 1, 0, 0, 0, 0),
    ("mem0-synth-oss-history.json", {"mem0-history"}, 1, 0, 0, 0, 0),
    ("mem0-docs-oss-history-ts-shape.json", {"mem0-history"}, 1, 0, 0, 0, 0),
    ("mem0-docs-platform-history.json", {"mem0-history"}, 1, 0, 0, 0, 0),
    # record_count 4, 4 records
    ("mem0-synth-oss-qdrant-export.json", {"mem0-migration"}, 4, 0, 0, 0, 0),
]
FILES = [row[0] for row in EXPECTED]
REFUSED = "mem0-synth-platform-structured-export.json"


def load(name: str) -> Payload:
    return Payload(value=json.loads((MEM0 / name).read_text(encoding="utf-8")), name=name)


def matching(payload: Payload, formats: tuple[Format, ...] = ALL_OURS) -> list[str]:
    return [f.id for f in formats if f.sniff(payload).score == 1.0]


def convert(name: str, options: ConvertOptions | None = None):
    payload = load(name)
    (fmt_id,) = matching(payload)
    return fmt_id, BY_ID[fmt_id].convert(payload, options or ConvertOptions())


def without_time(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "exportedAt"}


# --- every fixture ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ids", "memories", "sessions", "nodes", "edges", "warnings"), EXPECTED, ids=FILES
)
def test_fixture_detected_and_converted(name, ids, memories, sessions, nodes, edges, warnings):
    payload = load(name)
    found = matching(payload)
    assert len(found) == 1, found  # exactly one of our formats claims it
    assert found[0] in ids
    conv = BY_ID[found[0]].convert(payload, ConvertOptions())
    data = conv.data
    assert conv.errors == []
    assert len(conv.warnings) == warnings, conv.warnings
    assert len(data["memories"]) == memories
    assert len(data["sessions"]) == sessions
    assert len(data.get("graphNodes", [])) == nodes
    assert len(data.get("graphEdges", [])) == edges
    assert data["observations"] == {}
    assert data["summaries"] == []
    assert isinstance(data["version"], str) and data["exportedAt"].endswith("Z")


@pytest.mark.parametrize("name", FILES)
def test_records_validate_against_schema(name):
    _, conv = convert(name)
    for collection in ("sessions", "memories", "graphNodes", "graphEdges"):
        records = list(iter_records(conv.data, collection))
        assert validate_records(collection, records) == []


@pytest.mark.parametrize("name", FILES)
def test_ids_stable_across_conversions(name):
    _, first = convert(name)
    _, second = convert(name)
    assert without_time(first.data) == without_time(second.data)


@pytest.mark.parametrize("name", [n for n in FILES if "history" not in n])
def test_memory_ids_and_raw_items_kept(name):
    value = json.loads((MEM0 / name).read_text(encoding="utf-8"))
    if isinstance(value, dict):
        value = value.get("results", value.get("records"))
    fmt_id, conv = convert(name)
    by_id = {m["id"]: m for m in conv.data["memories"]}
    assert set(by_id) == {item["id"] for item in value}
    for item in value:
        mem = by_id[item["id"]]
        assert mem["content"] == item["memory"]
        assert mem["source"] == {"system": "mem0", "format": fmt_id, "raw": item}
        assert "origin" not in mem  # stamped once, by the importer (canonical.stamp_origin)


def test_timestamps_normalised_to_utc():
    _, conv = convert("mem0-synth-oss-getall-v1_1-relations.json")
    mem = {m["id"]: m for m in conv.data["memories"]}
    # created_at "2025-06-02T09:14:03.512604-07:00", updated_at null
    first = mem["bdd640fb-0667-4ad1-9c80-317fa3b1799d"]
    assert first["createdAt"] == "2025-06-02T16:14:03.512604Z"
    assert first["updatedAt"] == "2025-06-02T16:14:03.512604Z"
    # updated_at "2025-06-09T18:02:44.090731-07:00" crosses midnight in UTC
    assert mem["bd9c66b3-ad3c-4d6d-9a3d-1fa7bc8960a9"]["updatedAt"] == "2025-06-10T01:02:44.090731Z"


def test_procedural_memory_is_workflow_and_title_is_first_line():
    _, conv = convert("mem0-synth-oss-getall-v1_1-relations.json")
    mem = {m["id"]: m for m in conv.data["memories"]}
    proc = mem["b74d0fb1-32e7-4629-8fad-c1a606cb0fb3"]
    assert proc["type"] == "workflow"
    assert proc["title"] == "## Summary of the agent's execution history"
    assert {m["type"] for m in mem.values() if m is not proc} == {"fact"}


def test_runs_become_sessions_with_project_and_time_span():
    _, conv = convert("mem0-real-oss-2.2.1-getall-alice.json")
    sessions = {s["source"]["raw"]["run_id"]: s for s in conv.data["sessions"]}
    assert set(sessions) == {"run-1", "run-2"}
    # the owner is the user (alice), also when the memory has an agent
    assert {s["project"] for s in sessions.values()} == {"mem0:user:alice"}
    assert sessions["run-1"]["agentId"] == "coder" and sessions["run-2"]["agentId"] == "support"
    for session in sessions.values():
        sid = session["id"]
        assert sid.startswith("mem0-run-")
        mems = [m for m in conv.data["memories"] if m["sessionIds"] == [sid]]
        assert len(mems) == 2
        assert session["startedAt"] == min(m["createdAt"] for m in mems)
        assert session["endedAt"] == max(m["updatedAt"] for m in mems)
    no_run = [m for m in conv.data["memories"] if not m["sessionIds"]]
    assert len(no_run) == 15
    assert {m["project"] for m in no_run} == {"mem0:user:alice"}
    assert {m.get("agentId") for m in no_run} == {None, "coder", "support"}


def test_platform_categories_session_id_and_expiry():
    _, conv = convert("mem0-synth-platform-getall-v3-page.json")
    mem = {m["id"]: m for m in conv.data["memories"]}
    trip = mem["b02b61c4-a3d7-4628-ace6-6fa2fd5166e6"]
    assert trip["concepts"] == ["travel"]
    [session] = [s for s in conv.data["sessions"] if s["id"] == trip["sessionIds"][0]]
    assert session["source"]["raw"]["run_id"] == "session-2026-06-11"
    assert trip["agentId"] == "travel-assistant"
    assert trip["createdAt"] == "2026-06-11T14:45:10.003377Z"
    assert mem["5304317f-af42-412f-b838-b3268e944239"]["forgetAfter"] == "2027-07-02T00:00:00.000Z"
    assert "143" in conv.warnings[0].message


def test_graph_relations_become_nodes_and_edges():
    _, conv = convert("mem0-docs-platform-getall-graph.json")
    nodes = {n["name"]: n for n in conv.data["graphNodes"]}
    assert set(nodes) == {"joseph", "seattle", "software engineer"}
    assert nodes["joseph"]["type"] == "person"
    assert nodes["seattle"]["type"] == "location"  # source_type "city"
    assert nodes["seattle"]["properties"] == {"mem0Type": "city"}
    edges = {e["type"]: e for e in conv.data["graphEdges"]}
    assert set(edges) == {"name", "city", "job"}
    assert edges["city"]["sourceNodeId"] == nodes["joseph"]["id"]
    assert edges["city"]["targetNodeId"] == nodes["seattle"]["id"]
    assert edges["city"]["source"]["raw"]["target_type"] == "city"
    # ids come from the names and the triple only
    _, other = convert("mem0-docs-platform-getall-graph.json")
    assert [n["id"] for n in other.data["graphNodes"]] == [n["id"] for n in conv.data["graphNodes"]]


def test_relation_spellings_destination_and_relation():
    value = {
        "memories": [{"id": "m1", "memory": "Lives in Lisbon", "hash": "x", "user_id": "u"}],
        "entities": [
            {"source": "u", "relation": "lives_in", "destination": "lisbon"},
            {"source": "u", "relationship": "lives_in", "target": "lisbon"},
            {"source": "u", "relationship": "likes"},
        ],
    }
    payload = Payload(value=value)
    assert matching(payload) == ["mem0-oss"]
    conv = BY_ID["mem0-oss"].convert(payload, ConvertOptions())
    assert len(conv.data["graphNodes"]) == 2
    assert len(conv.data["graphEdges"]) == 1  # the same triple twice is one edge
    assert [e.path for e in conv.errors] == ["entities[2]"]


def test_migration_file_version_and_records():
    fmt_id, conv = convert("mem0-synth-oss-qdrant-export.json")
    assert fmt_id == "mem0-migration"
    assert conv.source_version == "1"
    mem = {m["id"]: m for m in conv.data["memories"]}
    assert mem["972a8469-1641-4f82-8b9d-2434e465e150"]["source"]["raw"]["metadata"] == {
        "category": "food"
    }
    records = json.loads((MEM0 / "mem0-synth-oss-qdrant-export.json").read_text())["records"]
    assert matching(Payload(value=records)) == ["mem0-migration"]  # a bare list of its records


# --- history ----------------------------------------------------------------------------------


def test_history_final_state_typescript_rows_newest_first():
    _, conv = convert("mem0-docs-oss-history-ts-shape.json")
    (mem,) = conv.data["memories"]
    assert mem["id"] == "892db2ae-06d9-49e5-8b3e-585ef9b85b8e"
    assert mem["content"] == "I love India, it is my favorite country."
    assert mem["createdAt"] == "2025-02-27T16:33:20.557Z"
    assert mem["updatedAt"] == "2025-02-27T16:33:27.051Z"
    rows = json.loads((MEM0 / "mem0-docs-oss-history-ts-shape.json").read_text())
    assert mem["source"]["raw"] == rows


def test_history_python_update_wins():
    _, conv = convert("mem0-synth-oss-history.json")
    (mem,) = conv.data["memories"]
    assert mem["content"] == "Is allergic to peanuts"
    assert mem["createdAt"] == "2025-06-02T16:14:03.513402Z"
    assert mem["updatedAt"] == "2025-06-10T01:02:44.090731Z"


def test_platform_history_none_strings_and_user():
    _, conv = convert("mem0-docs-platform-history.json")
    (mem,) = conv.data["memories"]
    assert mem["content"] == "Turned vegetarian."
    assert mem["project"] == "mem0:user:alex"
    assert mem["source"]["raw"][0]["input"][1]["content"] == "I turned vegetarian now."


def test_history_deleted_memories_left_out_with_warning():
    rows = [
        {
            "id": "1",
            "memory_id": "a",
            "old_memory": None,
            "new_memory": "A",
            "event": "ADD",
            "created_at": "2025-01-01T00:00:00+00:00",
            "updated_at": None,
            "is_deleted": False,
        },
        {
            "id": "2",
            "memory_id": "a",
            "old_memory": "A",
            "new_memory": None,
            "event": "DELETE",
            "created_at": None,
            "updated_at": None,
            "is_deleted": True,
        },
        {
            "id": "3",
            "memory_id": "b",
            "old_memory": None,
            "new_memory": "B",
            "event": "ADD",
            "created_at": "2025-01-02T00:00:00+00:00",
            "updated_at": None,
            "is_deleted": False,
        },
        {
            "id": "4",
            "memory_id": "b",
            "old_memory": "B",
            "new_memory": "B2",
            "event": "UPDATE",
            "created_at": "2025-01-02T00:00:00+00:00",
            "updated_at": "2025-01-03T00:00:00-08:00",
            "is_deleted": False,
        },
        {
            "id": "5",
            "memory_id": "c",
            "prev_value": None,
            "new_value": "C",
            "event": "ADD",
            "timestamp": "2024-07-01T10:00:00-07:00",
            "is_deleted": 0,
        },
        {"id": "6", "old_memory": None, "new_memory": "orphan", "event": "ADD"},
    ]
    payload = Payload(value=rows)
    assert matching(payload) == ["mem0-history"]
    conv = BY_ID["mem0-history"].convert(payload, ConvertOptions())
    mem = {m["id"]: m for m in conv.data["memories"]}
    assert set(mem) == {"b", "c"}
    assert mem["b"]["content"] == "B2"
    assert mem["b"]["updatedAt"] == "2025-01-03T08:00:00.000Z"
    assert mem["c"]["createdAt"] == "2024-07-01T17:00:00.000Z"
    assert [w.message for w in conv.warnings] == [
        "1 memory deleted in mem0 (last event DELETE): not imported"
    ]
    assert [e.path for e in conv.errors] == ["[5].memory_id"]


# --- errors, dedupe, other shapes -------------------------------------------------------------


def test_unusable_items_reported_with_paths_and_left_out():
    value = {
        "results": [
            {"id": "ok", "memory": "fine", "hash": "h"},
            {"id": "bad-text", "memory": 42, "hash": "h"},
            {"memory": "no id", "hash": "h"},
            "not an object",
            {"id": "", "memory": "empty id", "hash": "h"},
        ]
    }
    conv = BY_ID["mem0-oss"].convert(Payload(value=value), ConvertOptions())
    assert [m["id"] for m in conv.data["memories"]] == ["ok"]
    assert [e.path for e in conv.errors] == [
        "results[1].memory",
        "results[2].id",
        "results[3]",
        "results[4].id",
    ]


def test_duplicate_ids_deduped_keeping_latest():
    value = [
        {"id": "m", "memory": "old", "hash": "1", "updated_at": "2025-01-01T00:00:00+00:00"},
        {"id": "m", "memory": "new", "hash": "2", "updated_at": "2025-02-01T00:00:00+00:00"},
        {"id": "m", "memory": "older", "hash": "3", "updated_at": "2024-01-01T00:00:00+00:00"},
    ]
    conv = BY_ID["mem0-oss"].convert(Payload(value=value), ConvertOptions())
    assert [m["content"] for m in conv.data["memories"]] == ["new"]
    assert len(conv.warnings) == 1


def test_empty_results_is_valid_and_empty():
    payload = Payload(value={"results": []})
    assert matching(payload) == ["mem0-oss"]
    conv = BY_ID["mem0-oss"].convert(payload, ConvertOptions())
    assert conv.data["memories"] == [] and conv.data["sessions"] == []
    assert conv.errors == [] and conv.warnings == []


def test_typescript_camel_case_items():
    item = {
        "id": "t1",
        "memory": "Likes tea",
        "hash": "h",
        "metadata": {},
        "createdAt": "2025-02-27T16:33:20.557Z",
        "updatedAt": "2025-02-28T16:33:20.557Z",
        "userId": "ann",
        "runId": "r9",
    }
    conv = BY_ID["mem0-oss"].convert(Payload(value={"results": [item]}), ConvertOptions())
    (mem,) = conv.data["memories"]
    assert mem["createdAt"] == "2025-02-27T16:33:20.557Z"
    assert mem["updatedAt"] == "2025-02-28T16:33:20.557Z"
    [session] = conv.data["sessions"]
    assert mem["sessionIds"] == [session["id"]] and session["source"]["raw"]["run_id"] == "r9"
    assert conv.data["sessions"][0]["project"] == "mem0:user:ann"


def test_none_string_timestamps_are_absent():
    item = {
        "id": "n",
        "memory": "x",
        "hash": "h",
        "created_at": "None",
        "updated_at": None,
        "metadata": "None",
    }
    conv = BY_ID["mem0-oss"].convert(Payload(value=[item]), ConvertOptions())
    (mem,) = conv.data["memories"]
    assert mem["createdAt"] == "" and mem["updatedAt"] == ""
    assert validate_records("memories", [mem]) == []


def test_cli_envelope_is_platform():
    value = {
        "status": "success",
        "command": "list",
        "duration_ms": 12,
        "scope": {},
        "count": 1,
        "data": [
            {
                "id": "c1",
                "memory": "Uses vim",
                "categories": ["tools"],
                "created_at": "2026-01-01T00:00:00Z",
                "expiration_date": None,
            }
        ],
    }
    payload = Payload(value=value)
    assert matching(payload) == ["mem0-platform"]
    conv = BY_ID["mem0-platform"].convert(payload, ConvertOptions())
    assert [m["concepts"] for m in conv.data["memories"]] == [["tools"]]


def test_structured_export_is_refused_with_explanation():
    payload = load(REFUSED)
    assert matching(payload) == ["mem0-platform-structured-export"]
    with pytest.raises(InputRefused) as info:
        BY_ID["mem0-platform-structured-export"].convert(payload, ConvertOptions())
    message = str(info.value)
    assert "structured export" in message
    assert "no memory records" in message
    assert "ids, times and texts are gone" in message


def test_small_plain_object_is_only_close_to_structured_export():
    payload = Payload(value={"hello": "world"})
    assert matching(payload) == []
    sniff = BY_ID["mem0-platform-structured-export"].sniff(payload)
    assert 0 < sniff.score < 1 and "no ids, times or memory texts" in sniff.note


# --- sniffing ---------------------------------------------------------------------------------

JUNK = [
    None,
    0,
    1.5,
    True,
    "",
    "text",
    [],
    [1, 2],
    [None],
    [[]],
    ["a", {"memory": 1}],
    {},
    {"results": None},
    {"results": "x"},
    {"results": [1, "a", None]},
    {"results": [[]]},
    {"results": [{"memory": None}]},
    {"memories": 3},
    {"memories": [None]},
    {"kind": "mem0_oss_qdrant_export"},
    {"kind": "mem0_oss_qdrant_export", "records": 5},
    {"count": 1, "next": None, "previous": None, "results": None},
    {"status": "ok", "command": "list", "data": None},
    {"status": 1, "command": 2, "data": [1]},
    [{"memory_id": None}],
    [{"memory_id": "a", "event": []}],
    {"a": {"b": {"c": {"d": {"e": 1}}}}},
    {"x": [{"id": 1}]},
    {1: 2},
    [{"relations": 5}],
    {"results": [{"memory": "m"}], "relations": 7},
    {"memories": [{"content": "c"}], "export_meta": None},
    {"items": [None], "total": 1},
    [{"content": "c", "state": "active", "app": None}] * 30,
]


@pytest.mark.parametrize("value", JUNK, ids=[repr(v)[:40] for v in JUNK])
def test_sniff_never_raises_on_junk(value):
    for kind in ("json", "jsonl"):
        payload = Payload(value=value, kind=kind)
        for fmt in ALL_OURS:
            result = fmt.sniff(payload)
            assert 0.0 <= result.score <= 1.0


def test_convert_of_junk_reports_instead_of_crashing():
    conv = BY_ID["mem0-oss"].convert(Payload(value={"results": [1, None]}), ConvertOptions())
    assert conv.data["memories"] == [] and len(conv.errors) == 2
    conv = BY_ID["mem0-oss"].convert(
        Payload(value={"results": [{"id": "a", "memory": "m"}], "relations": 7}), ConvertOptions()
    )
    assert len(conv.data["memories"]) == 1 and "graphNodes" not in conv.data
    assert conv.warnings[0].path == "relations"


def test_partial_matches_explain_what_is_missing():
    sniff = BY_ID["mem0-oss"].sniff(Payload(value={"results": [{"text": "x", "id": "1"}]}))
    assert 0 < sniff.score < 1 and "memory" in sniff.note
    sniff = BY_ID["mem0-platform"].sniff(Payload(value={"count": 1, "results": []}))
    assert 0 < sniff.score < 1 and "next" in sniff.note
    sniff = BY_ID["mem0-history"].sniff(Payload(value=[{"memory_id": "a", "text": "x"}]))
    assert 0 < sniff.score < 1


def _other_family_payloads() -> list[tuple[str, Payload]]:
    out = []
    for path in sorted(p for p in (FIXTURES / "letta").iterdir() if p.is_file()):
        value = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(value, str):
            value = json.loads(value)
        out.append((path.name, Payload(value=value, name=path.name)))
    for path in sorted((FIXTURES / "agentmemory").iterdir()):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".jsonl":
            lines = [json.loads(line) for line in text.splitlines() if line.strip()]
            out.append((path.name, Payload(value=lines, name=path.name, kind="jsonl")))
        else:
            out.append((path.name, Payload(value=json.loads(text), name=path.name)))
    return out


@pytest.mark.parametrize(
    ("name", "payload"), _other_family_payloads(), ids=[n for n, _ in _other_family_payloads()]
)
def test_other_families_not_claimed(name, payload):
    assert matching(payload) == []


def test_exportdata_like_objects_not_claimed():
    for value in (
        {"version": "0.9.5", "memories": [], "sessions": []},
        {"version": "0.9.5", "memories": [{"id": "m", "content": "c"}]},
        {"agents": [], "blocks": []},
        {"core_memory": [], "messages": [], "llm_config": {}},
        [{"id": "passage-1", "text": "t", "agent_id": "a", "created_at": "2025-01-01"}],
    ):
        assert matching(Payload(value=value)) == [], value


def test_sniff_does_not_modify_payload():
    payload = load("mem0-real-oss-2.2.1-getall-alice.json")
    before = copy.deepcopy(payload.value)
    for fmt in ALL_OURS:
        fmt.sniff(payload)
    BY_ID["mem0-oss"].convert(payload, ConvertOptions())
    assert payload.value == before


# --- end to end through the reader (and detection once it exists) -----------------------------


@pytest.mark.parametrize("name", [*FILES, REFUSED])
def test_read_payload_then_sniff(name, tmp_path):
    reading = pytest.importorskip("wizard.core.reading")
    payload = reading.read_payload(MEM0 / name)
    found = matching(payload)
    assert len(found) == 1
    # a gzip of the same file reads the same
    gz = tmp_path / (name + ".gz")
    gz.write_bytes(gzip.compress((MEM0 / name).read_bytes()))
    assert matching(reading.read_payload(gz)) == found


@pytest.mark.parametrize(("name", "ids"), [(r[0], r[1]) for r in EXPECTED], ids=FILES)
def test_detection_end_to_end(name, ids):
    detection = pytest.importorskip("wizard.core.detection")
    reading = pytest.importorskip("wizard.core.reading")
    fmt = detection.detect(reading.read_payload(MEM0 / name))
    assert fmt.id in ids


@pytest.mark.parametrize("name", [*FILES, REFUSED])
def test_exactly_one_format_of_any_family_matches(name):
    detection = pytest.importorskip("wizard.core.detection")
    payload = load(name)
    assert len([f.id for f in detection.FORMATS if f.sniff(payload).score >= 1.0]) == 1


def test_detection_refuses_structured_export_on_convert():
    detection = pytest.importorskip("wizard.core.detection")
    reading = pytest.importorskip("wizard.core.reading")
    fmt = detection.detect(reading.read_payload(MEM0 / REFUSED))
    assert fmt.id == "mem0-platform-structured-export"
    with pytest.raises(InputRefused, match="no memory records"):
        fmt.convert(load(REFUSED), ConvertOptions())


# --- mutated fixtures: sniff and convert report, never crash -----------------------------------

_scalar = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=5)
    | st.floats(allow_nan=False, allow_infinity=False)
)
_json = st.recursive(
    _scalar,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:5]):
            yield from _paths(item, (*prefix, i))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([*FILES, REFUSED]), st.floats(0, 1), _json)
def test_mutated_fixtures_never_crash(name, choice, new):
    value = json.loads((MEM0 / name).read_text(encoding="utf-8"))
    spots = list(_paths(value))[1:]
    target = spots[int(choice * (len(spots) - 1))]
    holder = value
    for key in target[:-1]:
        holder = holder[key]
    holder[target[-1]] = new
    payload = Payload(value=value)
    for fmt in ALL_OURS:
        if fmt.sniff(payload).score > 0:
            try:
                conv = fmt.convert(payload, ConvertOptions())
            except InputRefused:
                continue
            for collection in ("sessions", "memories", "graphNodes", "graphEdges"):
                records = list(iter_records(conv.data, collection))
                assert validate_records(collection, records) == []
