"""OpenMemory adapter: the backup zip, its memories.json alone, and lone logical records."""

from __future__ import annotations

import copy
import gzip
import json
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wizard.core.adapters import mem0, openmemory
from wizard.core.collections import iter_records
from wizard.core.formats import ConvertOptions, Payload
from wizard.core.problems import Code
from wizard.core.schema import validate_records

MEM0 = Path(__file__).parent / "fixtures" / "mem0"
FORMAT = openmemory.FORMATS[0]
ALL_OURS = mem0.FORMATS + openmemory.FORMATS
REAL_ZIP = "openmemory-real-export.zip"
SYNTH_ZIP = "mem0-synth-openmemory-export.zip"
SYNTH_JSON = "mem0-synth-openmemory-memories.json"
JSONL = "memories.jsonl.gz"


def zip_parts(name: str) -> tuple[dict, list[dict]]:
    with zipfile.ZipFile(MEM0 / name) as zf:
        value = json.loads(zf.read("memories.json"))
        text = gzip.decompress(zf.read(JSONL)).decode("utf-8")
    return value, [json.loads(line) for line in text.splitlines() if line.strip()]


def load_zip(name: str) -> Payload:
    """What the reader hands over for an OpenMemory backup zip."""
    value, lines = zip_parts(name)
    return Payload(
        value=value, name=name, container="zip", member="memories.json", members={JSONL: lines}
    )


def load_json(name: str) -> Payload:
    return Payload(value=json.loads((MEM0 / name).read_text(encoding="utf-8")), name=name)


def load_lines(name: str) -> Payload:
    return Payload(value=zip_parts(name)[1], name=JSONL, kind="jsonl", container="gzip")


def matching(payload: Payload) -> list[str]:
    return [f.id for f in ALL_OURS if f.sniff(payload).score == 1.0]


def run(payload: Payload, include_deleted: bool = False, include_inactive: bool = False):
    options = ConvertOptions(include_deleted=include_deleted, include_inactive=include_inactive)
    return FORMAT.convert(payload, options)


# file loader, memories in the file, imported by default (active only), with the inactive
# (paused, archived), with everything; sessions (apps with active memories); left-out codes
# openmemory-real-export.zip: 12 memories, states 10 active / 1 paused / 1 archived, 3 apps.
# mem0-synth-openmemory-*: 5 memories: 2 active, 1 archived, 1 paused, 1 deleted; 2 apps.
INACTIVE, DELETED = Code.INACTIVE_LEFT_OUT, Code.DELETED_LEFT_OUT
CASES = [
    ("real zip", lambda: load_zip(REAL_ZIP), 12, 10, 12, 12, 3, [INACTIVE]),
    ("real jsonl", lambda: load_lines(REAL_ZIP), 12, 10, 12, 12, 3, [INACTIVE]),
    ("synth zip", lambda: load_zip(SYNTH_ZIP), 5, 2, 4, 5, 2, [INACTIVE, DELETED]),
    ("synth json", lambda: load_json(SYNTH_JSON), 5, 2, 4, 5, 2, [INACTIVE, DELETED]),
    ("synth jsonl", lambda: load_lines(SYNTH_ZIP), 5, 2, 4, 5, 2, [INACTIVE, DELETED]),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize(
    ("label", "loader", "total", "active", "inactive", "everything", "sessions", "codes"),
    CASES,
    ids=IDS,
)
def test_detected_and_converted(
    label, loader, total, active, inactive, everything, sessions, codes
):
    payload = loader()
    assert matching(payload) == ["openmemory"]
    conv = run(payload)
    assert conv.errors == []
    assert len(conv.data["memories"]) == active
    assert len(conv.data["sessions"]) == sessions
    assert conv.data["observations"] == {} and conv.data["summaries"] == []
    assert [w.code for w in conv.warnings if w.code in (INACTIVE, DELETED)] == codes
    assert len(run(payload, include_inactive=True).data["memories"]) == inactive
    both = run(payload, include_deleted=True, include_inactive=True).data["memories"]
    assert len(both) == everything == total
    # nothing comes back to life: only active memories are the latest version
    assert all(m["isLatest"] is (m["state"] == "active") for m in both)


def test_left_out_memories_are_named_and_counted():
    conv = run(load_json(SYNTH_JSON))
    [inactive] = [w for w in conv.warnings if w.code == Code.INACTIVE_LEFT_OUT]
    assert inactive.message.startswith("2 memories not active (")
    assert "1 archived" in inactive.message and "1 paused" in inactive.message
    assert "a9488d99-0bbb-4599-91ce-5dd2b45ed1f0" in inactive.message  # named by id
    [deleted] = [w for w in conv.warnings if w.code == Code.DELETED_LEFT_OUT]
    assert deleted.message.startswith("1 memory not active (1 deleted) left out: '")
    left = {x.category: x for x in conv.left_behind}
    assert left["openmemory.inactive-left-out"].count == 2
    assert left["openmemory.deleted-left-out"].count == 1


def test_real_export_states_apps_and_categories():
    conv = run(load_zip(REAL_ZIP), include_inactive=True)
    mems = conv.data["memories"]
    assert Counter(m["state"] for m in mems) == {"active": 10, "paused": 1, "archived": 1}
    assert conv.source_version == "1"
    assert {m["project"] for m in mems} == {"openmemory:default_user"}
    by_id = {m["id"]: m for m in mems}
    paused = by_id["cb3de294-3b33-4e76-bc66-9b2e1da8a940"]
    assert paused["state"] == "paused" and paused["isLatest"] is False
    assert paused["agentId"] == "claude"
    assert paused["concepts"] == ["preferences", "work"]
    assert paused["sessionIds"] == ["openmemory:default_user:claude"]
    archived = by_id["c2a22222-954d-4707-88a1-d6a32666dc51"]
    assert archived["state"] == "archived" and archived["agentId"] == "cursor"
    # access controls and status history of a memory are kept next to its raw row
    first = by_id["76e5918b-574c-4aed-9b4e-bb0f8b77b70d"]
    assert first["source"]["related"]["access_controls"][0]["effect"] == "deny"
    assert first["title"] == "Uses ünïcode and emoji 🎉 in notes (#0)"
    sessions = {s["id"]: s for s in conv.data["sessions"]}
    assert set(sessions) == {
        "openmemory:default_user:claude",
        "openmemory:default_user:cursor",
        "openmemory:default_user:openmemory",
    }
    claude = sessions["openmemory:default_user:claude"]
    assert claude["project"] == "openmemory:default_user"
    assert claude["source"]["raw"]["name"] == "claude"
    # the user row (name, e-mail) is kept once: in the first session's source copy only
    with_user = [s for s in sessions.values() if "user" in s["source"].get("related", {})]
    assert [s["source"]["related"]["user"]["name"] for s in with_user] == ["Dana"]
    claude_mems = [m for m in mems if m["agentId"] == "claude"]
    assert claude["startedAt"] == min(m["createdAt"] for m in claude_mems)
    assert claude["endedAt"] == max(m["updatedAt"] for m in claude_mems)


def test_zip_and_json_alone_give_the_same_records():
    from_zip = run(load_zip(SYNTH_ZIP)).data
    from_json = run(load_json(SYNTH_JSON)).data
    assert from_zip["memories"] == from_json["memories"]
    assert from_zip["sessions"] == from_json["sessions"]


def test_raw_rows_kept_verbatim_and_ids_kept():
    value, _ = zip_parts(REAL_ZIP)
    conv = run(load_zip(REAL_ZIP), include_inactive=True)
    by_id = {m["id"]: m for m in conv.data["memories"]}
    assert set(by_id) == {row["id"] for row in value["memories"]}
    for row in value["memories"]:
        mem = by_id[row["id"]]
        assert mem["content"] == row["content"]
        assert mem["source"]["raw"] == row
        assert mem["source"]["system"] == "openmemory"
        assert mem["source"]["format"] == "openmemory"


def test_deleted_included_on_request_keeps_state_and_is_never_live():
    conv = run(load_zip(SYNTH_ZIP), include_deleted=True, include_inactive=True)
    by_id = {m["id"]: m for m in conv.data["memories"]}
    gone = by_id["7412b293-4729-4739-a14f-f3d719db3ad0"]
    assert gone["state"] == "deleted" and gone["isLatest"] is False
    assert gone["source"]["raw"]["deleted_at"] == "2025-09-20T14:02:09.331870+00:00"
    assert conv.warnings == []
    only_deleted = run(load_zip(SYNTH_ZIP), include_deleted=True)  # the two options are apart
    states = {m["state"] for m in only_deleted.data["memories"]}
    assert states == {"active", "deleted"}


def test_synth_categories_resolved_from_ids():
    conv = run(load_json(SYNTH_JSON), include_inactive=True)
    by_id = {m["id"]: m for m in conv.data["memories"]}
    assert by_id["ec1b8ca1-f91e-4d4c-9ff4-9b7889463e85"]["concepts"] == ["preferences", "work"]
    assert by_id["a9488d99-0bbb-4599-91ce-5dd2b45ed1f0"]["concepts"] == ["travel"]
    assert {m["project"] for m in by_id.values()} == {"openmemory:priya"}


def test_categories_from_memory_categories_or_jsonl_when_ids_missing():
    payload = load_zip(SYNTH_ZIP)
    for row in payload.value["memories"]:
        del row["category_ids"]
    by_id = {m["id"]: m for m in run(payload).data["memories"]}
    assert by_id["ec1b8ca1-f91e-4d4c-9ff4-9b7889463e85"]["concepts"] == ["preferences", "work"]
    payload.value["memory_categories"] = []
    by_id = {m["id"]: m for m in run(payload).data["memories"]}  # from memories.jsonl.gz
    assert by_id["ec1b8ca1-f91e-4d4c-9ff4-9b7889463e85"]["concepts"] == ["preferences", "work"]


@pytest.mark.parametrize("loader", [c[1] for c in CASES], ids=IDS)
def test_records_validate_and_ids_stable(loader):
    first = run(loader(), include_deleted=True, include_inactive=True).data
    second = run(loader(), include_deleted=True, include_inactive=True).data
    for collection in ("sessions", "memories"):
        records = list(iter_records(first, collection))
        assert validate_records(collection, records) == []
    first.pop("exportedAt")
    second.pop("exportedAt")
    assert first == second


def test_timestamps_normalised():
    conv = run(load_json(SYNTH_JSON))
    by_id = {m["id"]: m for m in conv.data["memories"]}
    mem = by_id["e2acf72f-9e57-4f7a-a0ee-89aed453dd32"]  # "2025-09-01T16:20:12.880214+00:00"
    assert mem["createdAt"] == "2025-09-01T16:20:12.880214Z"


def test_unusable_rows_reported_with_paths():
    payload = load_json(SYNTH_JSON)
    payload.value["memories"][1]["content"] = None
    del payload.value["memories"][2]["id"]
    payload.value["memories"].append("junk")
    assert matching(payload) == ["openmemory"]
    conv = run(payload, include_inactive=True)
    assert [e.path for e in conv.errors] == ["memories[1].content", "memories[2].id", "memories[5]"]
    assert len(conv.data["memories"]) == 2  # 5 - 1 deleted - 2 unusable


def test_rest_listing_items():
    value = {
        "items": [
            {
                "id": "r1",
                "content": "Likes tea",
                "created_at": 1756800000,
                "state": "active",
                "app_id": "x",
                "app_name": "cursor",
                "categories": ["food"],
                "metadata_": {},
            }
        ],
        "total": 1,
        "page": 1,
        "size": 10,
        "pages": 1,
    }
    payload = Payload(value=value)
    assert matching(payload) == ["openmemory"]
    (mem,) = run(payload).data["memories"]
    assert mem["createdAt"] == "2025-09-02T08:00:00.000Z"
    assert mem["concepts"] == ["food"] and mem["agentId"] == "cursor"


def test_memories_json_without_export_meta_still_detected():
    payload = load_json(SYNTH_JSON)
    del payload.value["export_meta"]
    assert matching(payload) == ["openmemory"]
    assert run(payload).source_version is None


JUNK = [
    None,
    3,
    "x",
    [],
    {},
    [None],
    [{"content": 1}],
    {"memories": None},
    {"memories": [None]},
    {"export_meta": {}},
    {"export_meta": 1, "memories": [1, 2]},
    {
        "export_meta": {},
        "memories": [{"content": "c"}],
        "apps": 5,
        "categories": "x",
        "memory_categories": [None],
        "status_history": {},
        "user": [],
    },
    {"items": None, "total": 1},
    {"items": [None], "total": "x"},
    {"user": {}, "memories": []},
]


@pytest.mark.parametrize("value", JUNK, ids=[repr(v)[:40] for v in JUNK])
def test_sniff_never_raises(value):
    for kind in ("json", "jsonl"):
        result = FORMAT.sniff(Payload(value=value, kind=kind, container="zip"))
        assert 0.0 <= result.score <= 1.0


def test_convert_tolerates_junk_side_tables():
    value = {
        "export_meta": {},
        "memories": [{"id": "a", "content": "c", "app_id": 5, "category_ids": [None, 3]}],
        "apps": 5,
        "categories": "x",
        "memory_categories": [None],
        "status_history": {},
        "user": [],
    }
    payload = Payload(value=value)
    assert matching(payload) == ["openmemory"]
    conv = run(payload)
    assert [m["id"] for m in conv.data["memories"]] == ["a"]
    assert conv.data["sessions"] == []


def test_agentmemory_and_mem0_shapes_not_claimed():
    for value in (
        {"version": "0.9.5", "memories": [{"id": "m", "content": "c"}], "sessions": []},
        {"results": [{"id": "m", "memory": "x", "hash": "h"}]},
        [{"id": "m", "memory": "x", "hash": "h"}],
    ):
        assert FORMAT.sniff(Payload(value=value)).score < 1.0


def test_sniff_and_convert_do_not_modify_payload():
    payload = load_zip(REAL_ZIP)
    before = copy.deepcopy(payload.value)
    FORMAT.sniff(payload)
    run(payload)
    assert payload.value == before


@pytest.mark.parametrize("name", [REAL_ZIP, SYNTH_ZIP, SYNTH_JSON])
def test_end_to_end_reader_and_detection(name):
    reading = pytest.importorskip("wizard.core.reading")
    detection = pytest.importorskip("wizard.core.detection")
    payload = reading.read_payload(MEM0 / name)
    assert detection.detect(payload).id == "openmemory"
    expected = 10 if name == REAL_ZIP else 2  # the active ones
    assert len(run(payload).data["memories"]) == expected
    assert len([f for f in detection.FORMATS if f.sniff(payload).score >= 1.0]) == 1


def test_lone_jsonl_gz_through_the_reader(tmp_path):
    reading = pytest.importorskip("wizard.core.reading")
    detection = pytest.importorskip("wizard.core.detection")
    with zipfile.ZipFile(MEM0 / REAL_ZIP) as zf:
        (tmp_path / JSONL).write_bytes(zf.read(JSONL))
    payload = reading.read_payload(tmp_path / JSONL)
    assert detection.detect(payload).id == "openmemory"
    assert len(run(payload, include_inactive=True).data["memories"]) == 12


_scalar = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
_json = st.recursive(
    _scalar,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["memories", "apps", "categories", "memory_categories", "user"]),
    st.integers(0, 4),
    st.sampled_from(["id", "content", "app_id", "category_ids", "state", "name", "created_at"]),
    _json,
)
def test_mutated_backup_never_crashes(table, index, key, new):
    value = json.loads((MEM0 / SYNTH_JSON).read_text(encoding="utf-8"))
    rows = value[table]
    if isinstance(rows, list) and rows:
        rows[index % len(rows)][key] = new
    else:
        value[table] = new
    payload = Payload(value=value)
    if FORMAT.sniff(payload).score == 0:
        return
    conv = run(payload, include_deleted=True)
    for collection in ("sessions", "memories"):
        assert validate_records(collection, list(iter_records(conv.data, collection))) == []
