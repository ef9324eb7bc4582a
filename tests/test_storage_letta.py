"""Letta's own database (``~/.letta/sqlite.db``): the ``letta-sqlite`` layout and its adapter.

The fixtures were written by the real Letta 0.6.4, 0.10.0 and 0.11.7
(tests/fixtures/native/letta/make_*.py say how, and what each one holds).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from wizard.core import preflight
from wizard.core.adapters import letta
from wizard.core.collections import iter_records
from wizard.core.formats import ConvertOptions, Payload
from wizard.core.problems import Cancelled, Code
from wizard.core.schema import validate_records
from wizard.core.storage import ReadContext, SqliteLayout, table_columns
from wizard.core.storage import letta as storage
from wizard.core.storage.registry import SQLITE_LAYOUTS

FIXTURES = Path(__file__).parent / "fixtures" / "native" / "letta"
PLANTED = "sk-PLANTED-SECRET-do-not-import-4f1c"

# file, passage generation, sessions, observations (live messages), memories by default,
# memories with include_deleted, embeddings counted (live passages)
EXPECTED = [
    # 5 blocks + 2 system prompts + 2 archival + 2 source passages; +1 deleted passage
    ("letta-0.6.4.sqlite.db", storage.SINGLE, 2, 21, 11, 12, 4),
    # the same + 1 block version; +1 deleted passage
    ("letta-0.10.0.sqlite.db", storage.AGENT, 2, 19, 12, 13, 4),
    # 5 blocks + 2 block versions + 2 prompts + 3 archival + 3 source passages;
    # +1 deleted block, +1 deleted passage
    ("letta-0.11.7.sqlite.db", storage.ARCHIVAL, 2, 73, 15, 17, 6),
]
FILES = [row[0] for row in EXPECTED]


def open_copy(name: str, tmp_path: Path) -> sqlite3.Connection:
    """The fixture copied, opened read-only as the plumbing opens a private copy."""
    copy = tmp_path / name
    shutil.copyfile(FIXTURES / name, copy)
    return sqlite3.connect(f"file:{copy}?mode=ro", uri=True)


def read(name: str, tmp_path: Path) -> dict:
    conn = open_copy(name, tmp_path)
    try:
        return storage.read(conn, table_columns(conn), ReadContext())
    finally:
        conn.close()


def convert(doc: dict, include_deleted: bool = False):
    payload = Payload(value=doc, name="sqlite.db", layout="letta-sqlite")
    return letta.convert_sqlite(payload, ConvertOptions(include_deleted=include_deleted))


def left(conversion, category: str) -> int:
    return sum(e.count for e in conversion.left_behind if e.category == category)


def memories_titled(data: dict, title: str) -> list[dict]:
    return [m for m in data["memories"] if m["title"] == title]


def fixture_rows(name: str, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{FIXTURES / name}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# --- recognising the database ---------------------------------------------------------------


@pytest.mark.parametrize(("name", "gen"), [(row[0], row[1]) for row in EXPECTED])
def test_each_generation_is_recognised_by_its_tables(name, gen, tmp_path):
    conn = open_copy(name, tmp_path)
    tables = table_columns(conn)
    conn.close()
    assert storage.matches(tables)
    assert storage.generation(tables) == gen


def test_other_databases_do_not_match():
    assert not storage.matches({})
    # an OpenMemory-like database
    assert not storage.matches(
        {"memories": frozenset({"id", "content"}), "apps": frozenset({"id", "name"})}
    )
    # Letta's core tables without any passage table
    core = {
        "agents": frozenset({"id", "name", "system", "message_ids"}),
        "messages": frozenset({"id", "agent_id", "role"}),
        "block": frozenset({"id", "label", "value"}),
        "blocks_agents": frozenset({"agent_id", "block_id"}),
    }
    assert not storage.matches(core)
    assert storage.matches(
        {**core, "agent_passages": frozenset({"id"}), "source_passages": frozenset()}
    )


def test_the_layout_and_the_format_are_registered():
    (layout,) = storage.LAYOUTS
    assert isinstance(layout, SqliteLayout) and layout.id == "letta-sqlite"
    assert layout in SQLITE_LAYOUTS
    fmt = next(f for f in letta.FORMATS if f.id == "letta-sqlite")
    assert fmt.sniff(Payload(value={}, layout="letta-sqlite")).score == 1.0
    assert fmt.sniff(Payload(value={"agents": [], "blocks": []})).score == 0.0
    # the agent-file sniffers do not claim the database's document as theirs... unless it is
    # handed over as a file, which the plumbing never does (layout set): only letta-sqlite
    # converts a payload whose layout is letta-sqlite


# --- converting -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "gen", "sessions", "observations", "memories", "with_deleted", "embedded"), EXPECTED
)
def test_fixture_converts_to_expected_counts(
    name, gen, sessions, observations, memories, with_deleted, embedded, tmp_path
):
    doc = read(name, tmp_path)
    assert doc["generation"] == gen
    conv = convert(doc)
    data = conv.data
    assert conv.errors == []
    assert len(data["sessions"]) == sessions
    assert len(list(iter_records(data, "observations"))) == observations
    assert len(data["memories"]) == memories
    assert all(m["isLatest"] for m in data["memories"] if m["version"] == max_version(data, m))
    assert left(conv, "letta.embeddings") == embedded
    assert left(conv, "letta.deleted-messages") == 1
    assert left(conv, "letta.deleted-passages") == 1
    # every session counts its observations
    for session in data["sessions"]:
        assert session["observationCount"] == len(data["observations"].get(session["id"], []))
    included = convert(doc, include_deleted=True).data
    assert len(included["memories"]) == with_deleted
    assert len(list(iter_records(included, "observations"))) == observations


def max_version(data: dict, memory: dict) -> int:
    """The highest version among a memory and the versions it supersedes or that supersede it."""
    return max(
        [memory["version"]]
        + [m["version"] for m in data["memories"] if memory["id"] in m.get("supersedes", [])]
    )


@pytest.mark.parametrize("name", FILES)
def test_converted_document_passes_preflight_and_the_schema(name, tmp_path):
    conv = convert(read(name, tmp_path))
    for collection in ("sessions", "observations", "memories", "summaries"):
        assert validate_records(collection, list(iter_records(conv.data, collection))) == []
    report = preflight.check(conv.data, "letta-sqlite", conv)
    assert report.ok, report.errors
    assert report.counts["sessions"] == 2
    assert report.left_behind == conv.left_behind


@pytest.mark.parametrize("name", FILES)
def test_two_reads_give_the_same_records(name, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = convert(read(name, tmp_path / "a"))
    second = convert(read(name, tmp_path / "b"))
    assert first.data == second.data
    assert [e.to_dict() for e in first.left_behind] == [e.to_dict() for e in second.left_behind]


@pytest.mark.parametrize("name", FILES)
def test_ids_are_letta_real_ids(name, tmp_path):
    data = convert(read(name, tmp_path)).data
    agents = dict(fixture_rows(name, "SELECT name, id FROM agents"))
    by_project = {s["project"]: s for s in data["sessions"]}
    assert set(by_project) == {"letta:sherlock", "letta:watson"}
    for agent_name, agent_id in agents.items():
        session = by_project[f"letta:{agent_name}"]
        assert session["id"] == session["agentId"] == f"letta-{agent_id}"
    message_ids = {r[0] for r in fixture_rows(name, "SELECT id FROM messages")}
    for obs in iter_records(data, "observations"):
        assert obs["id"].removeprefix("letta-") in message_ids
    passage_table = {
        "letta-0.6.4.sqlite.db": "passages",
        "letta-0.10.0.sqlite.db": "agent_passages",
    }
    table = passage_table.get(name, "archival_passages")
    passage_ids = {r[0] for r in fixture_rows(name, f"SELECT id FROM {table}")}
    kept = {m["id"] for m in data["memories"]}
    assert passage_ids - kept == {
        r[0] for r in fixture_rows(name, f"SELECT id FROM {table} WHERE is_deleted = 1")
    }


@pytest.mark.parametrize("name", FILES)
def test_deleted_rows_are_left_out_and_come_back_never_live(name, tmp_path):
    doc = read(name, tmp_path)
    deleted = {
        f"letta-{r[0]}" for r in fixture_rows(name, "SELECT id FROM block WHERE is_deleted = 1")
    }
    table = {"letta-0.6.4.sqlite.db": "passages", "letta-0.10.0.sqlite.db": "agent_passages"}.get(
        name, "archival_passages"
    )
    deleted |= {r[0] for r in fixture_rows(name, f"SELECT id FROM {table} WHERE is_deleted = 1")}
    assert deleted
    default = {m["id"] for m in convert(doc).data["memories"]}
    assert not deleted & default
    included = {m["id"]: m for m in convert(doc, include_deleted=True).data["memories"]}
    assert deleted <= included.keys()
    assert all(included[i]["isLatest"] is False for i in deleted)
    # a deleted message never comes back: an observation cannot say it was deleted
    (message,) = fixture_rows(name, "SELECT id FROM messages WHERE is_deleted = 1")
    for data in (convert(doc).data, convert(doc, include_deleted=True).data):
        assert f"letta-{message[0]}" not in {o["id"] for o in iter_records(data, "observations")}
    warnings = [w for w in convert(doc).warnings if w.code == Code.DELETED_LEFT_OUT]
    assert any("1 message(s)" in w.message for w in warnings)


def test_block_history_becomes_earlier_versions(tmp_path):
    name = "letta-0.11.7.sqlite.db"
    data = convert(read(name, tmp_path)).data
    (block_id,) = {r[0] for r in fixture_rows(name, "SELECT block_id FROM block_history")}
    history = fixture_rows(
        name,
        "SELECT id, sequence_number, value FROM block_history ORDER BY sequence_number",
    )
    (current,) = [m for m in data["memories"] if m["id"] == f"letta-{block_id}"]
    assert current["isLatest"] is True
    assert current["version"] == 3
    assert current["supersedes"] == [f"letta-{h[0]}" for h in history]
    (value,) = fixture_rows(name, f"SELECT value FROM block WHERE id = '{block_id}'")
    assert current["content"] == value[0]
    by_id = {m["id"]: m for m in data["memories"]}
    for hid, sequence, text in history:
        version = by_id[f"letta-{hid}"]
        assert (version["version"], version["content"], version["isLatest"]) == (
            sequence,
            text,
            False,
        )
        assert version["title"] == "human" and version["type"] == "preference"
        assert version["agentId"] == current["agentId"]


@pytest.mark.parametrize("name", FILES)
def test_shared_block_is_one_memory_of_both_sessions(name, tmp_path):
    data = convert(read(name, tmp_path)).data
    (shared,) = memories_titled(data, "case_notes")
    assert sorted(shared["sessionIds"]) == sorted(s["id"] for s in data["sessions"])
    assert "agentId" not in shared
    # 0.11.7 has a group of both agents; the older fixtures have none
    group = name == "letta-0.11.7.sqlite.db"
    assert shared["project"] == ("letta:group:sherlock+watson" if group else "letta:sqlite")


@pytest.mark.parametrize("name", FILES)
def test_passages_are_scoped_like_the_passages_converter_does(name, tmp_path):
    doc = read(name, tmp_path)
    data = convert(doc).data
    sherlock = next(s for s in data["sessions"] if s["project"] == "letta:sherlock")
    archival = {p["id"] for p in doc["passages"]}
    documents = {p["id"] for p in doc["source_passages"]}
    for memory in data["memories"]:
        if memory["id"] in archival:
            assert memory["agentId"] == sherlock["id"]
            assert memory["project"] == f"letta:agent:{sherlock['id'].removeprefix('letta-')}"
            assert memory["type"] == "fact"
        elif memory["id"] in documents:  # the source is attached to sherlock only
            assert memory["project"] == "letta:sherlock"
            assert memory["sessionIds"] == [sherlock["id"]]
            assert "document" in memory["concepts"]
        assert memory["source"]["format"] == "letta-sqlite"
        assert "embedding" not in memory["source"]["raw"]


def test_passage_tags_become_concepts(tmp_path):
    data = convert(read("letta-0.11.7.sqlite.db", tmp_path)).data
    (adler,) = [m for m in data["memories"] if m["content"].startswith("Irene Adler")]
    assert adler["concepts"] == ["cases", "adler"]


def test_embeddings_are_recognised_in_both_encodings_and_never_read(tmp_path):
    encodings = {
        name: {p["embedding"]["encoding"] for p in read(name, tmp_path)["passages"]}
        for name in FILES
    }
    assert encodings == {
        "letta-0.6.4.sqlite.db": {"base64-float32"},
        "letta-0.10.0.sqlite.db": {"float32"},
        "letta-0.11.7.sqlite.db": {"float32"},
    }
    doc = read("letta-0.11.7.sqlite.db", tmp_path)
    assert {p["embedding"]["stored"] for p in doc["passages"]} == {4096}


def test_archive_without_passages_is_counted_and_noted(tmp_path):
    conv = convert(read("letta-0.11.7.sqlite.db", tmp_path))
    assert left(conv, "letta.archives") == 2
    (entry,) = [e for e in conv.left_behind if e.category == "letta.archives"]
    assert "1 hold no passages" in entry.detail
    assert any(
        w.code == Code.CONVERSION_NOTE and "hold no passages" in w.message for w in conv.warnings
    )


def test_left_behind_counts(tmp_path):
    conv = {name: convert(read(name, tmp_path)) for name in FILES}
    assert left(conv["letta-0.6.4.sqlite.db"], "letta.block-templates") == 11
    assert left(conv["letta-0.11.7.sqlite.db"], "letta.deleted-blocks") == 1
    assert left(conv["letta-0.11.7.sqlite.db"], "letta.groups") == 1
    assert left(conv["letta-0.10.0.sqlite.db"], "letta.file-contents") == 1
    # credentials: counted, never read
    assert left(conv["letta-0.6.4.sqlite.db"], "letta.credentials") == 3  # sandbox, its var, key
    assert left(conv["letta-0.11.7.sqlite.db"], "letta.credentials") == 4  # + identity, agent var
    for name in FILES:
        assert left(conv[name], "letta.sources") == 1
        assert left(conv[name], "letta.tools") > 0


# --- secrets --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_nothing_secret_reaches_the_document_or_the_records(name, tmp_path):
    doc = read(name, tmp_path)
    conv = convert(doc, include_deleted=True)
    text = json.dumps(doc) + json.dumps(conv.data)
    secrets = {PLANTED}
    tables = {r[0] for r in fixture_rows(name, "SELECT name FROM sqlite_master")}
    for table, column in (
        ("tokens", "key"),
        ("agent_environment_variables", "value"),
        ("sandbox_environment_variables", "value"),
    ):
        if table in tables:
            secrets |= {r[0] for r in fixture_rows(name, f"SELECT {column} FROM {table}")}
    assert len(secrets) > 1 or name != "letta-0.6.4.sqlite.db"  # the random API key is there
    for secret in secrets:
        assert secret not in text
    assert "SANDBOX_TOKEN" not in text and "CASE_API_KEY" not in text


@pytest.mark.parametrize("name", FILES)
def test_secret_tables_are_only_counted(name, tmp_path):
    conn = open_copy(name, tmp_path)
    tables = table_columns(conn)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    storage.read(conn, tables, ReadContext())
    conn.close()
    for table in storage.SECRET_TABLES:
        touching = [s for s in statements if f'"{table}"' in s]
        assert all(s.startswith("SELECT COUNT(*)") for s in touching), touching
    assert not any("embedding," in s and "length(" not in s for s in statements)


def test_reading_can_be_cancelled(tmp_path):
    conn = open_copy("letta-0.11.7.sqlite.db", tmp_path)
    with pytest.raises(Cancelled):
        storage.read(conn, table_columns(conn), ReadContext(cancel=lambda: True))
    conn.close()


def test_messages_are_in_order_with_their_text(tmp_path):
    for name in FILES:
        data = convert(read(name, tmp_path)).data
        sherlock = next(s for s in data["sessions"] if s["project"] == "letta:sherlock")
        observations = data["observations"][sherlock["id"]]
        assert observations[0]["title"].startswith("system: ")
        assert "system-prompt" in observations[0]["concepts"]
        questions = [o for o in observations if o["narrative"].startswith("Question ")]
        assert questions, name
        # the 0.6.4 messages have only a text column: it becomes the narrative
        assert questions[0]["narrative"] == "Question 0 about the band: what do you make of it?"
        calls = [o for o in observations if o["facts"]]
        assert calls[0]["facts"][0].startswith("send_message(")
