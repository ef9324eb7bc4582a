"""Letta converts from the spool: the database's messages, passages, blocks and block versions,
an agent file of the first schema and a list of archival passages are read a chunk at a time
and converted into the same spool; the records are those of a conversion in memory, and memory
does not grow with the input (issue 14)."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import struct
from pathlib import Path

import pytest
from store_helpers import FIXTURES
from streaming_helpers import as_lists, peak_of_a_migration, same_inspection

from wizard.core import spool
from wizard.core.adapters import letta
from wizard.core.formats import ConvertOptions, Payload
from wizard.core.inspection import InspectOptions, inspect_file
from wizard.core.spool import RecordList, Spool
from wizard.core.storage import ReadContext, table_columns
from wizard.core.storage import letta as storage

NATIVE = FIXTURES / "native" / "letta"
DATABASES = ["letta-0.6.4.sqlite.db", "letta-0.10.0.sqlite.db", "letta-0.11.7.sqlite.db"]
SMALL_BUDGET = 64 * 1024  # the reader keeps this much before it spools


def _spooled_arrays(data: dict) -> set[str]:
    found = {k for k, v in data.items() if isinstance(v, RecordList)}
    if any(isinstance(b, RecordList) for b in data.get("observations", {}).values()):
        found.add("observations")
    return found


# -- the same records from the spool ------------------------------------------------------------


@pytest.mark.parametrize("name", DATABASES)
@pytest.mark.parametrize("include_deleted", [False, True])
def test_a_letta_database_converts_from_the_spool_the_same(name, include_deleted, monkeypatch):
    path = NATIVE / name
    options = InspectOptions(include_deleted=include_deleted)
    plain = inspect_file(path, options)  # (a small database: its rows stay in memory)
    assert plain.ok and not _spooled_arrays(plain.data)
    monkeypatch.setattr(spool, "SPILL_AFTER", -1)  # every row spooled
    spooled = inspect_file(path, options)
    same_inspection(spooled, plain)
    assert _spooled_arrays(spooled.data) == {"sessions", "memories", "observations"}


def test_values_json_cannot_hold_read_the_same_from_memory_and_from_the_spool(
    tmp_path, monkeypatch
):
    """A JSON column holding NaN or an infinity (Python's JSON writes them) reads as null
    whether its row stays in memory or goes to the spool; a passages table with no column the
    wizard reads holds no passages (not a damaged database)."""
    path = Path(shutil.copy(NATIVE / "letta-0.11.7.sqlite.db", tmp_path / "sqlite.db"))
    conn = sqlite3.connect(path)
    conn.execute(
        'UPDATE messages SET content = \'[{"type": "text", "text": "hi", '
        '"score": NaN}]\' WHERE rowid = (SELECT min(rowid) FROM messages)'
    )
    conn.execute("UPDATE block SET metadata_ = '{\"w\": -Infinity}'")
    conn.commit()
    conn.close()
    plain = inspect_file(path)
    assert plain.ok
    monkeypatch.setattr(spool, "SPILL_AFTER", -1)
    spooled = inspect_file(path)
    same_inspection(spooled, plain)
    assert "NaN" not in json.dumps(as_lists(plain.data))


@pytest.mark.parametrize("budget", [0, 20_000, 60_000, 150_000])
def test_a_budget_passed_while_reading_spools_the_rest_and_converts_the_same(
    budget, monkeypatch, tmp_path
):
    """Past the budget, the array being filled moves to the spool and the later ones start
    there; the records are the same whatever was kept where."""
    path = NATIVE / "letta-0.11.7.sqlite.db"
    plain = inspect_file(path)
    monkeypatch.setattr(spool, "SPILL_AFTER", budget)
    same_inspection(inspect_file(path), plain)
    conn = sqlite3.connect(f"file:{shutil.copy(path, tmp_path / 'copy.db')}?mode=ro", uri=True)
    try:
        doc = storage.read(conn, table_columns(conn), ReadContext())
    finally:
        conn.close()
    assert isinstance(doc["passages"], RecordList)  # (read after the messages)
    assert sum(len(a["messages"]) for a in doc["agents"]) == 73


def test_the_reader_keeps_each_agents_messages_in_order_in_the_spool(tmp_path, monkeypatch):
    path = shutil.copy(NATIVE / "letta-0.11.7.sqlite.db", tmp_path / "sqlite.db")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        plain = storage.read(conn, table_columns(conn), ReadContext())
        monkeypatch.setattr(spool, "SPILL_AFTER", -1)
        spooled = storage.read(conn, table_columns(conn), ReadContext())
        live = "SELECT id FROM messages WHERE agent_id = ? AND is_deleted = 0 ORDER BY sequence_id"
        orders = [[r[0] for r in conn.execute(live, (a["id"],))] for a in plain["agents"]]
    finally:
        conn.close()
    for key in ("passages", "source_passages", "blocks", "block_history"):
        assert isinstance(spooled[key], RecordList) and not isinstance(plain[key], RecordList)
    for mine, order in zip(spooled["agents"], orders, strict=True):
        assert isinstance(mine["messages"], RecordList)
        # every live message of the agent, in the agent's order (sequence_id)
        assert [m["id"] for m in mine["messages"]] == order
    assert as_lists(spooled) == plain


@pytest.mark.parametrize(
    "name",
    [
        "legacy-memgpt_agent_with_convo.af",
        "legacy-customer_service.af",
        "legacy-deep_research_agent.af",
        "derived/legacy-deep_research_agent.with-secrets.af",
    ],
)
def test_an_agent_file_of_the_first_schema_converts_from_the_spool_the_same(name, monkeypatch):
    path = FIXTURES / "letta" / name
    plain = inspect_file(path)
    monkeypatch.setattr(spool, "SPILL_AFTER", -1)  # every record array spooled
    spooled = inspect_file(path)
    same_inspection(spooled, plain)
    assert spooled.report.format == "letta-af-legacy"
    assert {"memories", "observations"} <= _spooled_arrays(spooled.data)


def test_a_file_of_passages_converts_from_the_spool_the_same(monkeypatch):
    path = FIXTURES / "letta" / "letta-synth-archival-passages.json"
    plain = inspect_file(path)
    monkeypatch.setattr(spool, "SPILL_AFTER", -1)  # the document, a bare list, spooled
    spooled = inspect_file(path)
    same_inspection(spooled, plain)
    assert spooled.report.format == "letta-passages"
    assert _spooled_arrays(spooled.data) == {"memories"}


def _passages_with_trouble() -> list:
    """The fixture's passages, and what a passages converter must skip or count: a repeated
    id, a deleted passage, a file-local agent id, an item without text, one that is no
    object."""
    items = json.loads((FIXTURES / "letta" / "letta-synth-archival-passages.json").read_text())
    extra = [
        dict(items[0]),
        {**items[1], "id": "passage-deleted", "is_deleted": True},
        {"id": "passage-local", "text": "local agent", "agent_id": "agent-0"},
        {"id": "passage-no-text"},
        "not a passage",
        {"text": "no id", "archive_id": "archive-x", "created_at": "2025-01-01T00:00:00Z"},
    ]
    return items + extra


@pytest.mark.parametrize("include_deleted", [False, True])
def test_a_list_of_passages_converts_from_the_spool_the_same(include_deleted):
    items = _passages_with_trouble()
    options = ConvertOptions(include_deleted=include_deleted)
    plain = letta.convert_passages(Payload(items), options)
    spooled = letta.convert_passages(Payload(RecordList(Spool(), items)), options)
    assert isinstance(spooled.data["memories"], RecordList)
    assert as_lists(spooled.data) == plain.data
    assert [(p.path, p.message) for p in spooled.errors] == [
        (p.path, p.message) for p in plain.errors
    ]
    assert [(p.path, p.message) for p in spooled.warnings] == [
        (p.path, p.message) for p in plain.warnings
    ]
    assert [e.to_dict() for e in spooled.left_behind] == [e.to_dict() for e in plain.left_behind]
    assert len(plain.errors) == 2 and plain.warnings


def test_letta_stores_and_files_that_stream_are_not_refused_for_memory(monkeypatch):
    """Their rows go to a spool: no memory check refuses them (the formats stream)."""
    from wizard.core.storage import reader

    monkeypatch.setattr(reader, "available_memory", lambda: 1024)
    monkeypatch.setattr(spool, "available_memory", lambda: 1024)
    assert inspect_file(NATIVE / "letta-0.11.7.sqlite.db").ok
    monkeypatch.setattr(spool, "SPILL_AFTER", -1)
    assert inspect_file(FIXTURES / "letta" / "legacy-memgpt_agent_with_convo.af").ok


# -- memory that does not grow with the database ------------------------------------------------


def write_letta_db(path: Path, passages: int, messages: int) -> Path:
    """Letta 0.11.7's fixture with ``passages`` more archival passages of sherlock (about 1,500
    bytes each, with an embedding) and ``messages`` more messages (about 1,000 bytes each),
    shared by both agents."""
    shutil.copyfile(NATIVE / "letta-0.11.7.sqlite.db", path)
    rnd = random.Random(14)
    words = ("the", "game", "is", "afoot", "Watson", "Holmes", "Baker", "street", "fog")
    con = sqlite3.connect(path)
    org = con.execute("SELECT organization_id FROM agents LIMIT 1").fetchone()[0]
    agents = [r[0] for r in con.execute("SELECT id FROM agents ORDER BY rowid")]
    archive = con.execute("SELECT archive_id FROM archives_agents LIMIT 1").fetchone()[0]
    config = con.execute("SELECT embedding_config FROM archival_passages LIMIT 1").fetchone()[0]
    sequence = con.execute("SELECT max(sequence_id) FROM messages").fetchone()[0] + 1

    def text(n: int) -> str:
        return " ".join(rnd.choice(words) for _ in range(n))

    con.executemany(
        "INSERT INTO archival_passages (id, text, embedding_config, metadata_, tags, embedding, "
        "created_at, organization_id, archive_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                f"passage-{i:08d}-0000-4000-8000-000000000000",
                f"passage {i}: {text(250)}",
                config,
                json.dumps({"n": i}),
                json.dumps([f"t{i % 5}"]),
                struct.pack("8f", *[0.5] * 8),
                f"2026-12-02 10:{i // 3600 % 60:02d}:{i // 60 % 60:02d}.{i:06d}",
                org,
                archive,
            )
            for i in range(passages)
        ),
    )
    con.executemany(
        "INSERT INTO messages (id, role, content, tool_calls, tool_returns, sequence_id, "
        "created_at, organization_id, agent_id) VALUES (?, ?, ?, '[]', '[]', ?, ?, ?, ?)",
        (
            (
                f"message-{i:08d}-0000-4000-8000-000000000000",
                ("user", "assistant")[i % 2],
                json.dumps([{"type": "text", "text": f"message {i}: {text(170)}"}]),
                sequence + i,
                f"2026-12-03 11:{i // 3600 % 60:02d}:{i // 60 % 60:02d}.{i:06d}",
                org,
                agents[i % len(agents)],
            )
            for i in range(messages)
        ),
    )
    con.commit()
    con.close()
    return path


def test_memory_of_a_letta_database_does_not_grow_with_it(tmp_path, monkeypatch):
    """Four times the passages and messages, about the same peak: a reader or converter that
    keeps the rows or the records in Python fails this."""
    monkeypatch.setattr(spool, "SPILL_AFTER", SMALL_BUDGET)
    # (both past the buffers records are read, written and imported in: a thousand messages
    # an agent and more)
    small = write_letta_db(tmp_path / "small.db", passages=300, messages=2000)
    large = write_letta_db(tmp_path / "large.db", passages=1200, messages=8000)
    assert large.stat().st_size > 3 * small.stat().st_size
    insp = inspect_file(small)
    assert insp.ok and insp.report.format == "letta-sqlite"
    assert _spooled_arrays(insp.data) == {"sessions", "memories", "observations"}
    assert insp.report.counts["observations"] == 73 + 2000
    assert insp.report.counts["memories"] == 15 + 300
    del insp
    peak_small = peak_of_a_migration(small, tmp_path / "small.sqlite")
    peak_large = peak_of_a_migration(large, tmp_path / "large.sqlite")
    assert peak_large < 1.3 * peak_small + 2 * 1024 * 1024, (peak_small, peak_large)
