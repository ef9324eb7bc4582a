"""OpenMemory's own database (``openmemory.db``): recognised by its tables, read into one
backup-shaped document per user, converted by the openmemory adapter.

The fixture was made by OpenMemory's own code (mem0 at 540d23d610, alembic head, REST routes and
MCP tools in process): see tests/fixtures/native/openmemory/make_openmemory_db.py. It holds three
users; alice's backup zip, made by OpenMemory's backup route from the same database, lies next
to it. An older schema (the first alembic revision: no configs table, an app name unique across
users) is built here from that revision's DDL.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from wizard.core import preflight
from wizard.core.adapters import openmemory as adapter
from wizard.core.formats import Conversion, ConvertOptions, Payload
from wizard.core.problems import Cancelled, Code
from wizard.core.storage import ReadContext, table_columns
from wizard.core.storage import openmemory as storage

NATIVE = Path(__file__).parent / "fixtures" / "native" / "openmemory"
DB = NATIVE / "openmemory.db"
ZIP = NATIVE / "memories_export_alice.zip"
SECRET = "sk-FAKE-openmemory-secret-123"
(LAYOUT,) = storage.LAYOUTS
DB_FORMAT = next(f for f in adapter.FORMATS if f.id == "openmemory-db")
# memories of the fixture, by user and state (the generator asserts the same)
STATES = {
    "alice": {"active": 5, "paused": 1, "archived": 1, "deleted": 2},
    "bob": {"active": 2, "archived": 1, "deleted": 1},
    "carol": {"active": 1, "paused": 1},
}


def open_copy(path: Path, tmp_path: Path) -> sqlite3.Connection:
    """A read-only connection to a private copy, as the storage plumbing opens one."""
    copy = tmp_path / path.name
    shutil.copyfile(path, copy)
    return sqlite3.connect(f"file:{copy}?mode=ro", uri=True)


def read_db(path: Path, tmp_path: Path, ctx: ReadContext | None = None) -> dict:
    conn = open_copy(path, tmp_path)
    try:
        tables = table_columns(conn)
        assert LAYOUT.matches(tables)
        return LAYOUT.read(conn, tables, ctx or ReadContext())
    finally:
        conn.close()


def convert(doc: dict, deleted: bool = False, inactive: bool = False) -> Conversion:
    payload = Payload(value=doc, name="openmemory.db", layout="openmemory-db")
    assert DB_FORMAT.sniff(payload).score == 1.0
    options = ConvertOptions(include_deleted=deleted, include_inactive=inactive)
    return adapter.convert_db(payload, options)


@pytest.fixture(scope="module")
def doc(tmp_path_factory) -> dict:
    return read_db(DB, tmp_path_factory.mktemp("om"))


def owners() -> dict[str, str]:
    """memory id (dashed) -> user name, straight from the fixture with sqlite3."""
    with sqlite3.connect(f"file:{DB}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT m.id, u.user_id FROM memories m JOIN users u ON u.id = m.user_id"
        ).fetchall()
    return {storage._uuid(mid): user for mid, user in rows}


# --- recognising the schema -------------------------------------------------------------------


def test_the_layout_is_recognised_by_its_tables_and_nothing_else_is(tmp_path):
    conn = open_copy(DB, tmp_path)
    tables = table_columns(conn)
    conn.close()
    assert LAYOUT.id == "openmemory-db" and LAYOUT.matches(tables)
    assert not LAYOUT.matches({k: v for k, v in tables.items() if k != "memory_status_history"})
    no_state = dict(tables, memories=tables["memories"] - {"state"})
    assert not LAYOUT.matches(no_state)
    mem0_history = {"history": frozenset({"id", "memory_id", "old_memory", "new_memory"})}
    letta_like = {"users": frozenset({"id", "name", "organization_id"}), "agents": frozenset()}
    assert not LAYOUT.matches(mem0_history) and not LAYOUT.matches(letta_like)


# --- counts per state and option, users kept apart --------------------------------------------


@pytest.mark.parametrize(
    ("deleted", "inactive", "states"),
    [
        (False, False, {"active"}),
        (False, True, {"active", "paused", "archived"}),
        (True, False, {"active", "deleted"}),
        (True, True, {"active", "paused", "archived", "deleted"}),
    ],
)
def test_memories_of_every_user_by_state_and_option(doc, deleted, inactive, states):
    result = convert(doc, deleted=deleted, inactive=inactive)
    assert result.errors == []
    memories = result.data["memories"]
    found = Counter((m["project"], m["state"]) for m in memories)
    expected = {
        (f"openmemory:{user}", state): n
        for user, by_state in STATES.items()
        for state, n in by_state.items()
        if state in states
    }
    assert found == expected
    assert all(m["isLatest"] is (m["state"] == "active") for m in memories)
    codes = {w.code for w in result.warnings}
    assert (Code.INACTIVE_LEFT_OUT in codes) is not inactive
    assert (Code.DELETED_LEFT_OUT in codes) is not deleted
    assert Code.ACCESS_RULES in codes
    assert result.source_version == "afd00efbd06b"


def test_each_memory_stays_with_its_user_and_each_app_is_a_session_of_its_owner(doc):
    result = convert(doc, deleted=True, inactive=True)
    owner = owners()
    sessions = {s["id"]: s for s in result.data["sessions"]}
    for m in result.data["memories"]:
        user = owner[m["id"]]
        assert m["project"] == f"openmemory:{user}"
        assert m["sessionIds"] == [f"openmemory:{user}:{m['agentId']}"]
        assert sessions[m["sessionIds"][0]]["project"] == m["project"]
    # alice and bob both have an app named "claude": two sessions, one per owner
    assert {"openmemory:alice:claude", "openmemory:bob:claude"} <= set(sessions)
    assert sorted(sessions) == sorted(
        [
            "openmemory:alice:openmemory",
            "openmemory:alice:claude",
            "openmemory:alice:cursor",
            "openmemory:bob:claude",
            "openmemory:carol:cline",
        ]
    )
    claude = sessions["openmemory:alice:claude"]["source"]["raw"]
    assert claude["metadata"] == {"client": "claude-desktop", "version": "0.9.3"}
    assert claude["description"] == "Claude Desktop" and claude["is_active"] is True
    assert sessions["openmemory:carol:cline"]["source"]["raw"]["is_active"] is False
    assert [d["user"]["user_id"] for d in doc["users"]] == ["alice", "bob", "carol"]


def test_ids_are_in_the_backups_dashed_form_and_times_in_utc(doc):
    result = convert(doc, deleted=True, inactive=True)
    text = json.dumps(doc)
    with sqlite3.connect(f"file:{DB}?mode=ro", uri=True) as conn:
        hex_ids = [r[0] for r in conn.execute("SELECT id FROM memories")]
    assert all(len(h) == 32 and h not in text for h in hex_ids)  # never the stored form
    for m in result.data["memories"]:
        assert len(m["id"]) == 36 and m["id"].count("-") == 4 and m["id"] == m["id"].lower()
        assert m["createdAt"].endswith("Z") and m["source"]["raw"]["created_at"].endswith("+00:00")
    # hex digits that were all decimal digits: SQLite's NUMERIC affinity made them a number
    assert storage._uuid(15) == "00000000-0000-0000-0000-000000000015"
    assert storage._uuid("not a uuid") == "not a uuid" and storage._uuid(None) is None
    workflow = [m for m in result.data["memories"] if m["type"] == "workflow"]
    assert [m["title"][:13] for m in workflow] == ["To deploy the"]


def test_categories_and_status_history_reach_the_memory(doc):
    result = convert(doc, deleted=True, inactive=True)
    by_text = {m["content"]: m for m in result.data["memories"]}
    assert by_text["Alice prefers green tea over coffee."]["concepts"] == ["preferences"]
    assert by_text["Bob maintains the Rust deploy tooling."]["concepts"] == [
        "programming",
        "work",
    ]
    replaced = by_text["Bob likes coffee, black, no sugar."]  # deleted by mem0's ADD of b2
    history = replaced["source"]["related"]["status_history"]
    assert [(h["old_state"], h["new_state"]) for h in history] == [
        ("deleted", "active"),
        ("active", "deleted"),
    ]
    kinds = {item.category: item for item in result.left_behind}
    assert kinds["openmemory.status_history"].count == 22


# --- access logs --------------------------------------------------------------------------


def test_access_logs_become_agentmemory_access_logs_of_imported_memories(doc):
    with sqlite3.connect(f"file:{DB}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT memory_id, access_type FROM memory_access_logs").fetchall()
    reads = Counter(storage._uuid(mid) for mid, kind in rows if kind not in ("delete",))
    for deleted, inactive in ((False, False), (True, True)):
        result = convert(doc, deleted=deleted, inactive=inactive)
        imported = {m["id"] for m in result.data["memories"]}
        logs = {log["memoryId"]: log for log in result.data["accessLogs"]}
        assert logs.keys() == {mid for mid in reads if mid in imported}
        for mid, log in logs.items():
            assert log["count"] == reads[mid] == len(log["recent"])
            assert log["recent"] == sorted(log["recent"])
            assert log["lastAt"].endswith("Z") and len(log["lastAt"]) == 24
        details = sum(
            len(m["source"].get("related", {}).get("access_logs", []))
            for m in result.data["memories"]
        )
        kinds = {item.category: item for item in result.left_behind}
        assert kinds["openmemory.access_logs"].count == details
        left_out = kinds.get("openmemory.access_logs_left_out")
        assert (left_out.count if left_out else 0) + details == len(rows)


# --- what is never read, and what is left behind --------------------------------------------


def test_the_configs_table_is_never_read_and_its_secret_goes_nowhere(tmp_path):
    conn = open_copy(DB, tmp_path)
    tables = table_columns(conn)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    doc = LAYOUT.read(conn, tables, ReadContext())
    conn.close()
    about_configs = [s for s in statements if "configs" in s]
    assert about_configs == ['SELECT count(*) FROM "configs"']
    assert SECRET in DB.read_bytes().decode("latin-1")  # the fixture does hold it
    for deleted, inactive in ((False, False), (True, True)):
        result = convert(doc, deleted=deleted, inactive=inactive)
        everything = json.dumps(
            [
                doc,
                result.data,
                [w.to_dict() for w in result.warnings],
                [item.to_dict() for item in result.left_behind],
            ]
        )
        assert SECRET not in everything and "sk-FAKE" not in everything
        kinds = {item.category: item for item in result.left_behind}
        assert kinds["openmemory.configs"].count == 1
        assert kinds["openmemory.configs"].detail == "never read"
        assert kinds["openmemory.archive_policies"].count == 1
        assert kinds["openmemory.access_controls"].count == 1


def test_the_converted_database_passes_preflight(doc):
    for deleted, inactive in ((False, False), (True, True)):
        result = convert(doc, deleted=deleted, inactive=inactive)
        report = preflight.check(result.data, "openmemory-db", result)
        assert report.ok and report.errors == []
        assert report.counts["memories"] == len(result.data["memories"])
        assert report.counts["accessLogs"] == len(result.data["accessLogs"])  # none orphaned
        assert report.counts["sessions"] == len(result.data["sessions"])


def test_reading_stops_when_cancelled(tmp_path):
    with pytest.raises(Cancelled):
        read_db(DB, tmp_path, ReadContext(cancel=lambda: True))


# --- the same records as the backup zip -------------------------------------------------------


def _without_origin_of_copy(record: dict) -> dict:
    """A record without what only says where it was read from: the format in its source copy
    and the database's access details."""
    record = json.loads(json.dumps(record))
    source = record.get("source", {})
    source.pop("format", None)
    source.get("related", {}).pop("access_logs", None)
    if source.get("related") == {}:
        source.pop("related")
    return record


@pytest.mark.parametrize(("deleted", "inactive"), [(False, False), (True, True)])
def test_alice_from_the_database_is_alice_from_her_backup_zip(doc, deleted, inactive):
    with zipfile.ZipFile(ZIP) as zf:
        value = json.loads(zf.read("memories.json"))
        text = gzip.decompress(zf.read("memories.jsonl.gz")).decode("utf-8")
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    payload = Payload(
        value=value,
        name=ZIP.name,
        container="zip",
        member="memories.json",
        members={"memories.jsonl.gz": lines},
    )
    options = ConvertOptions(include_deleted=deleted, include_inactive=inactive)
    from_zip = adapter.convert(payload, options).data
    from_db = convert(doc, deleted=deleted, inactive=inactive).data
    alice = "openmemory:alice"
    db_memories = [m for m in from_db["memories"] if m["project"] == alice]
    db_sessions = [s for s in from_db["sessions"] if s["project"] == alice]
    assert len(db_memories) == len(from_zip["memories"]) > 0
    assert [_without_origin_of_copy(m) for m in db_memories] == [
        _without_origin_of_copy(m) for m in from_zip["memories"]
    ]
    assert [_without_origin_of_copy(s) for s in db_sessions] == [
        _without_origin_of_copy(s) for s in from_zip["sessions"]
    ]
    assert {m["source"]["format"] for m in db_memories} == {"openmemory-db"}


# --- the first alembic revision ---------------------------------------------------------------

# `alembic upgrade 0b53c747049a --sql` of OpenMemory (mem0 at 540d23d610), tables only, plus
# the index that made an app's name unique across all users until afd00efbd06b.
REVISION_1 = """
CREATE TABLE access_controls (id UUID NOT NULL, subject_type VARCHAR NOT NULL, subject_id UUID,
    object_type VARCHAR NOT NULL, object_id UUID, effect VARCHAR NOT NULL, created_at DATETIME,
    PRIMARY KEY (id));
CREATE TABLE archive_policies (id UUID NOT NULL, criteria_type VARCHAR NOT NULL,
    criteria_id UUID, days_to_archive INTEGER NOT NULL, created_at DATETIME, PRIMARY KEY (id));
CREATE TABLE categories (id UUID NOT NULL, name VARCHAR NOT NULL, description VARCHAR,
    created_at DATETIME, updated_at DATETIME, PRIMARY KEY (id));
CREATE TABLE users (id UUID NOT NULL, user_id VARCHAR NOT NULL, name VARCHAR, email VARCHAR,
    metadata JSON, created_at DATETIME, updated_at DATETIME, PRIMARY KEY (id));
CREATE TABLE apps (id UUID NOT NULL, owner_id UUID NOT NULL, name VARCHAR NOT NULL,
    description VARCHAR, metadata JSON, is_active BOOLEAN, created_at DATETIME,
    updated_at DATETIME, PRIMARY KEY (id), FOREIGN KEY(owner_id) REFERENCES users (id));
CREATE UNIQUE INDEX ix_apps_name ON apps (name);
CREATE TABLE memories (id UUID NOT NULL, user_id UUID NOT NULL, app_id UUID NOT NULL,
    content VARCHAR NOT NULL, vector VARCHAR, metadata JSON, state VARCHAR(8),
    created_at DATETIME, updated_at DATETIME, archived_at DATETIME, deleted_at DATETIME,
    PRIMARY KEY (id), FOREIGN KEY(app_id) REFERENCES apps (id),
    FOREIGN KEY(user_id) REFERENCES users (id));
CREATE TABLE memory_access_logs (id UUID NOT NULL, memory_id UUID NOT NULL,
    app_id UUID NOT NULL, accessed_at DATETIME, access_type VARCHAR NOT NULL, metadata JSON,
    PRIMARY KEY (id), FOREIGN KEY(app_id) REFERENCES apps (id),
    FOREIGN KEY(memory_id) REFERENCES memories (id));
CREATE TABLE memory_categories (memory_id UUID NOT NULL, category_id UUID NOT NULL,
    PRIMARY KEY (memory_id, category_id), FOREIGN KEY(category_id) REFERENCES categories (id),
    FOREIGN KEY(memory_id) REFERENCES memories (id));
CREATE TABLE memory_status_history (id UUID NOT NULL, memory_id UUID NOT NULL,
    changed_by UUID NOT NULL, old_state VARCHAR(8) NOT NULL, new_state VARCHAR(8) NOT NULL,
    changed_at DATETIME, PRIMARY KEY (id), FOREIGN KEY(changed_by) REFERENCES users (id),
    FOREIGN KEY(memory_id) REFERENCES memories (id));
"""
# add_config_table, the second revision
CONFIGS = """
CREATE TABLE configs (id UUID NOT NULL, "key" VARCHAR NOT NULL, value JSON NOT NULL,
    created_at DATETIME, updated_at DATETIME, PRIMARY KEY (id), UNIQUE ("key"));
"""


def h(n: int) -> str:
    """The n-th id, stored as SQLAlchemy stores a UUID on SQLite (32 hex digits)."""
    return f"abcdef00{n:024x}"


def dashed(n: int) -> str:
    return f"abcdef00-0000-0000-0000-{n:012x}"


def make_old_db(path: Path, *, configs: bool = False) -> None:
    """An OpenMemory database of the first revision (or the second, with ``configs``): two
    users, apps named differently (the name was unique across users), a memory whose user row
    is gone, a table the wizard does not know."""
    conn = sqlite3.connect(path)
    conn.executescript(REVISION_1 + (CONFIGS if configs else ""))
    t = "2025-05-01 10:00:00.000000"
    conn.executemany(
        "INSERT INTO users VALUES (?, ?, ?, NULL, '{}', ?, ?)",
        [(h(1), "dana", "Dana", t, t), (h(2), "eli", None, t, t)],
    )
    conn.executemany(
        "INSERT INTO apps VALUES (?, ?, ?, NULL, '{}', ?, ?, ?)",
        [(h(11), h(1), "claude", 1, t, t), (h(12), h(2), "cursor", 0, t, t)],
    )
    conn.executemany(
        "INSERT INTO memories VALUES (?, ?, ?, ?, NULL, '{}', ?, ?, ?, NULL, NULL)",
        [
            (h(21), h(1), h(11), "Dana uses zsh.", "active", t, t),
            (h(22), h(1), h(11), "Dana's old laptop.", "deleted", t, t),
            (h(23), h(2), h(12), "Eli likes jazz.", "paused", t, t),
            (h(24), h(9), h(12), "A memory whose user row is gone.", "active", t, t),
        ],
    )
    conn.execute("INSERT INTO categories VALUES (?, 'tools', NULL, ?, ?)", (h(31), t, t))
    conn.execute("INSERT INTO memory_categories VALUES (?, ?)", (h(21), h(31)))
    conn.execute(
        "INSERT INTO memory_status_history VALUES (?, ?, ?, 'deleted', 'active', ?)",
        (h(41), h(21), h(1), t),
    )
    conn.executemany(
        "INSERT INTO memory_access_logs VALUES (?, ?, ?, ?, ?, '{}')",
        [
            (h(51), h(21), h(11), "2025-05-02 10:00:00.000000", "search"),
            (h(52), h(21), h(11), "2025-05-03 10:00:00.250000", "list"),
            (h(53), h(99), h(11), t, "search"),  # of a memory that is not there
        ],
    )
    conn.execute("INSERT INTO archive_policies VALUES (?, 'app', ?, 7, ?)", (h(61), h(11), t))
    if configs:
        conn.execute(
            "INSERT INTO configs VALUES (?, 'main', ?, ?, ?)",
            (h(71), json.dumps({"mem0": {"llm": {"config": {"api_key": SECRET}}}}), t, t),
        )
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('not OpenMemory''s')")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("configs", "schema"), [(False, "0b53c747049a"), (True, "add_config_table")]
)
def test_older_revisions_are_read_the_same_way(tmp_path, configs, schema):
    path = tmp_path / "old" / "openmemory.db"
    path.parent.mkdir()
    make_old_db(path, configs=configs)
    doc = read_db(path, tmp_path)
    assert doc["openmemory_db"]["schema"] == schema
    result = convert(doc, deleted=True, inactive=True)
    assert result.errors == [] and result.source_version == schema
    by_id = {m["id"]: m for m in result.data["memories"]}
    assert {by_id[dashed(n)]["project"] for n in (21, 22)} == {"openmemory:dana"}
    assert by_id[dashed(23)]["project"] == "openmemory:eli"
    orphan = by_id[dashed(24)]  # its user row is gone: a project of its own, named by its id
    assert orphan["project"] == f"openmemory:{dashed(9)}"
    assert by_id[dashed(21)]["concepts"] == ["tools"]
    (log,) = result.data["accessLogs"]
    assert log == {
        "memoryId": dashed(21),
        "count": 2,
        "lastAt": "2025-05-03T10:00:00.250Z",
        "recent": [1746180000000, 1746266400250],
    }
    kinds = {item.category: item.count for item in result.left_behind}
    assert kinds["openmemory.table.notes"] == 1
    assert kinds["openmemory.dangling.memory_access_logs"] == 1
    assert kinds["openmemory.archive_policies"] == 1
    assert kinds.get("openmemory.configs", 0) == (1 if configs else 0)
    assert SECRET not in json.dumps([doc, result.data])
    assert preflight.check(result.data, "openmemory-db", result).ok
    default = convert(doc)
    assert [m["content"] for m in default.data["memories"]] == [
        "Dana uses zsh.",
        "A memory whose user row is gone.",
    ]
