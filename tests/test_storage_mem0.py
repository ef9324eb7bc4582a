"""mem0's own storage: history.db (three schema generations and the v2 messages table), the
Qdrant local folder (restricted unpickling), both as one install, the TypeScript SDK's files and
the FAISS docstore. The real storage is tests/fixtures/native/mem0 (made by mem0ai 2.2.1)."""

from __future__ import annotations

import copyreg
import hashlib
import json
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from wizard.core.inspection import InspectOptions, inspect_file
from wizard.core.problems import Code
from wizard.core.spool import RecordList
from wizard.core.storage import safety

NATIVE = Path(__file__).parent / "fixtures" / "native" / "mem0"
LIVE, DELETED, EVER, UPDATES = 51, 5, 56, 11


@pytest.fixture
def install(tmp_path: Path) -> Path:
    """A copy of the real mem0 storage, as it sits in a user's folder."""
    dest = tmp_path / "mem0"
    dest.mkdir()
    shutil.copy(NATIVE / "history.db", dest / "history.db")
    shutil.copytree(NATIVE / "qdrant", dest / "qdrant")
    return dest


def digest_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def memories(inspection) -> dict[str, dict]:
    return {m["id"]: m for m in inspection.data["memories"]}


def codes(inspection) -> set[str]:
    return {str(w.code) for w in inspection.report.warnings}


def test_the_install_folder_imports_exactly_its_live_memories_with_their_users(install):
    before = digest_tree(install)
    result = inspect_file(install)
    assert result.ok, result.report.errors
    assert result.format == "mem0-install"
    mems = memories(result)
    assert len(mems) == LIVE
    assert all(m["isLatest"] for m in mems.values())
    getall = json.loads((NATIVE / "getall-all-users.json").read_text())["results"]
    assert set(mems) == {item["id"] for item in getall}
    for item in getall:
        mem = mems[item["id"]]
        assert mem["content"] == item["memory"]
        assert mem["project"] == f"mem0:user:{item['user_id']}"  # every user id kept
        assert mem.get("agentId") == item.get("agent_id")
    left = {lb.category: lb.count for lb in result.report.left_behind}
    assert left["mem0.deleted"] == DELETED
    assert left["mem0.history"] == UPDATES
    assert digest_tree(install) == before  # the user's files are untouched


def test_storage_and_get_all_export_give_the_same_records(install, tmp_path):
    """The identity rule: the same memory from the storage and from an export of the same
    install is the same record (id, project, sessions, text, times)."""
    from_storage = memories(inspect_file(install))
    export = tmp_path / "getall.json"
    shutil.copy(NATIVE / "getall-all-users.json", export)
    from_export = memories(inspect_file(export))
    assert set(from_storage) == set(from_export)
    for mid, mem in from_export.items():
        other = from_storage[mid]
        for key in ("content", "project", "agentId", "sessionIds", "createdAt", "updatedAt"):
            assert other.get(key) == mem.get(key), (mid, key)


def test_include_deleted_keeps_deleted_memories_never_live(install):
    result = inspect_file(install, InspectOptions(include_deleted=True))
    mems = memories(result)
    assert len(mems) == EVER
    dead = [m for m in mems.values() if not m["isLatest"]]
    assert len(dead) == DELETED
    assert all(m["content"] for m in dead)


def test_history_alone_goes_under_one_project_and_says_users_are_unknown(install):
    result = inspect_file(install / "history.db")
    assert result.ok and result.format == "mem0-history-db"
    mems = memories(result)
    assert len(mems) == LIVE
    assert {m["project"] for m in mems.values()} == {"mem0"}
    assert Code.OWNERS_UNKNOWN.value in codes(result)
    assert Code.DELETED_LEFT_OUT.value in codes(result)


def test_history_with_vectors_is_one_install(install, tmp_path):
    elsewhere = tmp_path / "tmp-qdrant"
    shutil.move(install / "qdrant", elsewhere)
    result = inspect_file(install / "history.db", InspectOptions(vectors=str(elsewhere)))
    assert result.ok and result.format == "mem0-install"
    assert {m["project"] for m in memories(result).values()} != {"mem0"}
    assert len(memories(result)) == LIVE


@pytest.mark.parametrize(
    "where", ["qdrant", "qdrant/meta.json", "qdrant/collection/mem/storage.sqlite"]
)
def test_the_qdrant_folder_its_meta_and_its_collection_are_read(install, where):
    result = inspect_file(install / where)
    assert result.ok and result.format == "mem0-qdrant-local"
    assert len(memories(result)) == LIVE
    left = {lb.category: lb.count for lb in result.report.left_behind}
    assert left["mem0.vectors"] >= LIVE


def test_the_audit_records_path_total_size_and_a_hash_over_the_files_read(install):
    result = inspect_file(install)
    files = ["history.db", "qdrant/collection/mem/storage.sqlite", "qdrant/meta.json"]
    assert result.source.size == sum((install / f).stat().st_size for f in files)
    h = hashlib.sha256()
    for rel in sorted(files):
        data = (install / rel).read_bytes()
        h.update(rel.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    assert result.source.sha256 == h.hexdigest()
    single = inspect_file(install / "history.db")
    assert single.source.sha256 == hashlib.sha256((install / "history.db").read_bytes()).hexdigest()


class Boom:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_a_poisoned_pickle_is_refused_without_running(install, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = install / "qdrant" / "collection" / "mem" / "storage.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO points VALUES ('evil', ?)", (pickle.dumps(Boom()),))
    result = inspect_file(install / "qdrant")
    assert not result.ok
    assert result.report.errors[0].code == Code.UNSAFE_PICKLE
    assert "refused without running" in result.report.errors[0].message
    assert not (tmp_path / "PWNED").exists()


def test_a_pickle_of_an_unknown_class_is_refused(install):
    db = install / "qdrant" / "collection" / "mem" / "storage.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO points VALUES ('odd', ?)", (pickle.dumps(Path("/etc")),))
    result = inspect_file(install)
    assert result.report.errors[0].code == Code.UNSAFE_PICKLE


def unfinished_write(db: Path) -> None:
    """Leave ``db`` as a writer killed mid-transaction leaves it: a live rollback journal."""
    script = (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA journal_mode=DELETE')\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        "c.execute(\"UPDATE history SET new_memory = 'HALF-WRITTEN'\")\n"
        "c.execute('PRAGMA cache_size=1'); c.execute('PRAGMA cache_spill=ON')\n"
        'c.execute("UPDATE history SET old_memory = hex(randomblob(4000))")\n'
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(db)], check=True)


def test_a_database_being_written_is_retried_then_named(install, monkeypatch):
    unfinished_write(install / "history.db")
    ticks = iter(range(100))  # the journal changes between attempts: a writer is at work
    real = safety._hot_journals
    monkeypatch.setattr(
        safety, "_hot_journals", lambda root, rels: {**real(root, rels), "tick": next(ticks)}
    )
    monkeypatch.setattr(safety, "BUSY_PAUSES", (0.0, 0.0))
    result = inspect_file(install / "history.db")
    assert not result.ok
    problem = result.report.errors[0]
    assert problem.code == Code.SOURCE_BUSY
    assert "history.db is in use by mem0" in problem.message and "try again" in problem.message


def test_a_write_its_writer_left_unfinished_is_rolled_back_in_the_copy(install, monkeypatch):
    db = install / "history.db"
    unfinished_write(db)
    assert (install / "history.db-journal").read_bytes()[:8] == safety.JOURNAL_MAGIC
    before = digest_tree(install)
    monkeypatch.setattr(safety, "BUSY_PAUSES", (0.0,))
    result = inspect_file(db)
    assert result.ok, result.report.errors
    assert "HALF-WRITTEN" not in {m["content"] for m in memories(result).values()}
    assert digest_tree(install) == before  # the user's files, journal included, untouched


def test_a_persist_journal_is_not_busy(install):
    db = install / "history.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=PERSIST")
        conn.execute("DELETE FROM messages")
    conn.close()
    assert (install / "history.db-journal").exists()
    assert inspect_file(db).ok


def test_qdrants_lock_file_alone_is_not_busy(install):
    assert (install / "qdrant" / ".lock").exists()
    assert inspect_file(install / "qdrant").ok


def test_a_damaged_database_is_refused_by_name(tmp_path):
    bad = tmp_path / "history.db"
    data = (NATIVE / "history.db").read_bytes()
    bad.write_bytes(data[:100] + b"\xff" * 4000 + data[4100:])
    result = inspect_file(bad)
    assert not result.ok
    assert "history.db" in result.report.errors[0].message


def test_an_unknown_folder_and_an_unknown_database_are_refused(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    assert inspect_file(folder).report.errors[0].code == Code.NOT_A_FILE
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE recipes (name TEXT)")
    assert inspect_file(other).report.errors[0].code == Code.UNKNOWN_FORMAT


def test_a_chroma_database_is_named_as_unreadable(tmp_path):
    chroma = tmp_path / "chroma.sqlite3"
    with sqlite3.connect(chroma) as conn:
        for t in ("embeddings", "embedding_metadata", "segments", "collections"):
            conn.execute(f"CREATE TABLE {t} (id TEXT)")
    problem = inspect_file(chroma).report.errors[0]
    assert problem.code == Code.STORE_NOT_READABLE and "Chroma" in problem.message


GENERATIONS = {
    # f842a92e25 (2024-07): prev_value/new_value, timestamp, lowercase events
    "2024-07": (
        "CREATE TABLE history (id TEXT PRIMARY KEY, memory_id TEXT, prev_value TEXT, "
        "new_value TEXT, event TEXT, timestamp DATETIME, is_deleted INTEGER)",
        [
            ("1", "m1", None, "likes tea", "add", "2024-07-12T10:00:00", 0),
            ("2", "m1", "likes tea", "likes green tea", "update", "2024-07-13T10:00:00", 0),
            ("3", "m2", None, "lives in Porto", "add", "2024-07-12T11:00:00", 0),
            ("4", "m2", "lives in Porto", None, "delete", "2024-07-14T10:00:00", 1),
        ],
    ),
    # 80945df4ca (2024-08): old_memory/new_memory/new_value, created_at/updated_at
    "2024-08": (
        "CREATE TABLE history (id TEXT PRIMARY KEY, memory_id TEXT, old_memory TEXT, "
        "new_memory TEXT, new_value TEXT, event TEXT, created_at DATETIME, "
        "updated_at DATETIME, is_deleted INTEGER)",
        [
            ("1", "m1", None, "likes tea", None, "ADD", "2024-08-01T10:00:00", None, 0),
            (
                "2",
                "m1",
                "likes tea",
                "likes green tea",
                None,
                "UPDATE",
                "2024-08-01T10:00:00",
                "2024-08-02T10:00:00",
                0,
            ),
            ("3", "m2", None, "lives in Porto", None, "ADD", "2024-08-01T11:00:00", None, 0),
            ("4", "m2", "lives in Porto", None, None, "DELETE", None, "2024-08-03T10:00:00", 1),
        ],
    ),
    # a1c9a63074 (2025-05) and v2: actor_id/role, without new_value
    "2025-05": (
        "CREATE TABLE history (id TEXT PRIMARY KEY, memory_id TEXT, old_memory TEXT, "
        "new_memory TEXT, event TEXT, created_at DATETIME, updated_at DATETIME, "
        "is_deleted INTEGER, actor_id TEXT, role TEXT)",
        [
            ("1", "m1", None, "likes tea", "ADD", "2025-05-16T10:00:00", None, 0, None, "user"),
            (
                "2",
                "m1",
                "likes tea",
                "likes green tea",
                "UPDATE",
                "2025-05-16T10:00:00",
                "2025-05-17T10:00:00",
                0,
                None,
                "user",
            ),
            (
                "3",
                "m2",
                None,
                "lives in Porto",
                "ADD",
                "2025-05-16T11:00:00",
                None,
                0,
                "bob",
                "user",
            ),
            (
                "4",
                "m2",
                "lives in Porto",
                None,
                "DELETE",
                None,
                "2025-05-18T10:00:00",
                1,
                None,
                None,
            ),
        ],
    ),
}


@pytest.mark.parametrize("generation", sorted(GENERATIONS))
def test_every_history_schema_generation(tmp_path, generation):
    schema, rows = GENERATIONS[generation]
    db = tmp_path / "history.db"
    with sqlite3.connect(db) as conn:
        conn.execute(schema)
        marks = ",".join("?" * len(rows[0]))
        conn.executemany(f"INSERT INTO history VALUES ({marks})", rows)
    result = inspect_file(db)
    assert result.ok and result.format == "mem0-history-db"
    mems = memories(result)
    assert set(mems) == {"m1"}
    assert mems["m1"]["content"] == "likes green tea"
    with_deleted = memories(inspect_file(db, InspectOptions(include_deleted=True)))
    assert with_deleted["m2"]["content"] == "lives in Porto"
    assert with_deleted["m2"]["isLatest"] is False


def test_the_v2_messages_table_becomes_conversation_observations(install):
    with sqlite3.connect(install / "history.db") as conn:
        conn.executemany(
            "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    "a",
                    "run_id=run-1&user_id=alice",
                    "user",
                    "I moved to Porto",
                    None,
                    "2026-12-01T11:00:00+00:00",
                ),
                (
                    "b",
                    "run_id=run-1&user_id=alice",
                    "assistant",
                    "Noted.",
                    None,
                    "2026-12-01T11:00:01+00:00",
                ),
                ("c", "user_id=bob", "user", "Call me Rob", None, "2026-12-01T11:02:00+00:00"),
            ],
        )
    result = inspect_file(install)
    assert result.ok, result.report.errors
    obs = result.data["observations"]
    assert sum(len(v) for v in obs.values()) == 3
    sessions = {s["id"]: s for s in result.data["sessions"]}
    alice_run = next(sid for sid, o in obs.items() if len(o) == 2)
    assert sessions[alice_run]["project"] == "mem0:user:alice"
    # the run's memories and its messages share one session
    assert any(alice_run in m["sessionIds"] for m in result.data["memories"])
    bob = next(sid for sid, o in obs.items() if len(o) == 1)
    assert sessions[bob]["project"] == "mem0:user:bob"


def test_faiss_docstore_json_is_read_and_its_pickle_refused(tmp_path):
    doc = {
        "docstore": {
            "f1": {
                "data": "likes tea",
                "hash": "x",
                "user_id": "alice",
                "created_at": "2026-01-01T00:00:00+00:00",
                "source": "chat",
            },
            "f2": {
                "data": "lives in Porto",
                "user_id": "bob",
                "created_at": "2026-01-02T00:00:00+00:00",
            },
        },
        "index_to_id": {"0": "f1", "1": "f2"},
    }
    path = tmp_path / "mem0.json"
    path.write_text(json.dumps(doc))
    result = inspect_file(path)
    assert result.ok and result.format == "mem0-faiss"
    mems = memories(result)
    assert mems["f1"]["project"] == "mem0:user:alice"
    assert mems["f2"]["project"] == "mem0:user:bob"
    pkl = tmp_path / "mem0.pkl"
    pkl.write_bytes(pickle.dumps((doc["docstore"], doc["index_to_id"])))
    problem = inspect_file(pkl).report.errors[0]
    assert problem.code == Code.UNSUPPORTED_FORMAT and "never unpickles" in problem.message


def test_a_pipe_is_refused_before_it_is_read(tmp_path):
    fifo = tmp_path / "history.db"
    os.mkfifo(fifo)
    result = inspect_file(fifo)  # must not block
    assert result.report.errors[0].code == Code.NOT_A_FILE


def test_the_private_copy_is_gone_afterwards(install, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "t"))
    (tmp_path / "t").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    assert inspect_file(install).ok
    assert not any(p.name.startswith(safety.PREFIX) for p in (tmp_path / "t").iterdir())


TS = Path(__file__).parent / "fixtures" / "native" / "mem0-ts"


def test_the_typescript_sdks_vector_store(tmp_path):
    """Made by the real mem0ai 3.3.1 (tests/fixtures/native/mem0-ts/README.md)."""
    shutil.copy(TS / "vector_store.db", tmp_path / "vector_store.db")
    result = inspect_file(tmp_path / "vector_store.db")
    assert result.ok and result.format == "mem0-ts-local"
    mems = memories(result)
    assert len(mems) == 10
    projects = [m["project"] for m in mems.values()]
    assert projects.count("mem0:user:alice") == 7 and projects.count("mem0:user:bob") == 3
    assert sum(1 for m in mems.values() if m.get("agentId") == "travel-agent") == 4
    assert all(m["createdAt"] for m in mems.values())


def test_the_typescript_sdks_history_and_messages(tmp_path):
    shutil.copy(TS / "memory.db", tmp_path / "memory.db")
    result = inspect_file(tmp_path / "memory.db")
    assert result.ok and result.format == "mem0-ts-local"
    assert len(memories(result)) == 10
    assert sum(len(v) for v in result.data["observations"].values()) == 5
    left = {lb.category: lb.count for lb in result.report.left_behind}
    assert left["mem0.deleted"] == 1 and left["mem0.history"] == 2
    deleted = memories(inspect_file(tmp_path / "memory.db", InspectOptions(include_deleted=True)))
    assert [m["content"] for m in deleted.values() if not m["isLatest"]] == [
        "Bob drinks decaf after 3pm"
    ]


def test_the_typescript_entity_store_holds_no_memories(tmp_path):
    shutil.copy(TS / "vector_store_entities.db", tmp_path / "vector_store_entities.db")
    result = inspect_file(tmp_path / "vector_store_entities.db")
    assert memories(result) == {}
    left = {lb.category: lb.count for lb in result.report.left_behind}
    assert left["mem0.entities"] == 7


def test_a_store_over_the_size_limit_is_refused_before_it_is_copied(install):
    result = inspect_file(install, InspectOptions(max_bytes=100_000))
    assert result.report.errors[0].code == Code.SIZE_LIMIT


def test_a_store_too_big_for_this_computers_memory_is_refused(monkeypatch):
    """A layout whose rows are not kept in a spool is refused when the computer lacks the
    memory to convert it (every layout streams now: one is made not to)."""
    import dataclasses

    from wizard.core.storage import reader

    monkeypatch.setattr(
        reader,
        "FOLDER_LAYOUTS",
        tuple(dataclasses.replace(layout, streams=False) for layout in reader.FOLDER_LAYOUTS),
    )
    monkeypatch.setattr(reader, "available_memory", lambda: 1000)
    letta_code = NATIVE.parent / "letta-code" / "lc-local-backend"
    result = inspect_file(letta_code)
    assert result.report.errors[0].code == Code.NOT_ENOUGH_MEMORY


def test_mem0_stores_are_read_into_a_spool_with_no_memory_check(install, monkeypatch):
    from wizard.core.storage import reader

    monkeypatch.setattr(reader, "available_memory", lambda: 1024 * 1024)
    result = inspect_file(install)
    assert result.ok, result.report.errors
    assert isinstance(result.data["memories"], RecordList)


def test_a_hostile_database_cannot_make_sqlite_write_or_attach(tmp_path):
    """The source's database is untrusted: the connection reads, nothing else."""
    from wizard.core.storage import open_untrusted

    db = tmp_path / "history.db"
    shutil.copy(NATIVE / "history.db", db)
    conn = open_untrusted(db)
    try:
        for sql in (
            "DELETE FROM history",
            f"ATTACH DATABASE '{tmp_path / 'new.db'}' AS x",
            "PRAGMA journal_mode = WAL",
            "CREATE TABLE t (x)",
        ):
            with pytest.raises(sqlite3.DatabaseError):
                conn.execute(sql)
    finally:
        conn.close()
    assert not (tmp_path / "new.db").exists()


def test_a_cancel_stops_a_long_query_inside_sqlite(tmp_path):
    from wizard.core.storage import open_untrusted

    db = tmp_path / "history.db"
    shutil.copy(NATIVE / "history.db", db)
    conn = open_untrusted(db, cancel=lambda: True)
    try:
        with pytest.raises(sqlite3.OperationalError):
            conn.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                "SELECT count(*) FROM n"
            ).fetchone()
    finally:
        conn.close()


class PointStruct:
    """Pickles as qdrant-client's class does (module and name), with plain state."""

    def __init__(self, pid, payload):
        self.id, self.payload, self.vector = pid, payload, {"": [0.1, 0.2]}

    def __reduce_ex__(self, protocol):
        return (copyreg.__newobj__, (PointStruct,), {"__dict__": dict(vars(self))})


PointStruct.__module__ = "qdrant_client.http.models.models"


@pytest.fixture
def fake_qdrant_module(monkeypatch):
    import types

    names = ["qdrant_client", "qdrant_client.http", "qdrant_client.http.models"]
    for name in names:
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    module = types.ModuleType("qdrant_client.http.models.models")
    module.PointStruct = PointStruct
    monkeypatch.setitem(sys.modules, "qdrant_client.http.models.models", module)


def point_blob(payload, pid="p1") -> bytes:
    return pickle.dumps(PointStruct(pid, payload), protocol=4)


def test_a_plain_point_is_read(fake_qdrant_module):
    from wizard.core.storage.mem0 import unpickle_point

    point = unpickle_point(point_blob({"data": "hi", "user_id": "u"}), "row 1")
    assert point == {"id": "p1", "payload": {"data": "hi", "user_id": "u"}, "vectors": 1}


def test_a_payload_sharing_itself_exponentially_is_refused_at_once(fake_qdrant_module):
    from wizard.core.problems import InputRefused
    from wizard.core.storage.mem0 import unpickle_point

    shared: list = []
    for _ in range(60):  # 2**60 values once copied out
        shared = [shared, shared]
    with pytest.raises(InputRefused) as refused:
        unpickle_point(point_blob({"data": "hi", "x": shared}), "row 1")
    assert refused.value.problem.code == Code.UNSAFE_PICKLE


def test_a_huge_memo_index_or_integer_is_refused_before_loading(fake_qdrant_module):
    import struct

    from wizard.core.problems import InputRefused
    from wizard.core.storage.mem0 import unpickle_point

    memo_bomb = b"\x80\x04K\x01r" + struct.pack("<I", 2**29) + b"."
    for blob in (
        memo_bomb,
        point_blob({"data": "hi", "n": 10**5000}),
        point_blob({"data": "hi"}, pid=2**70),
    ):
        with pytest.raises(InputRefused) as refused:
            unpickle_point(blob, "row 1")
        assert refused.value.problem.code == Code.UNSAFE_PICKLE


def test_camelcase_metadata_keys_never_change_the_owner(install):
    """A user's metadata key spelt like the TypeScript SDK's (userId) stays metadata."""
    from wizard.core.storage.mem0 import get_all_item

    item = get_all_item("m", {"data": "x", "agent_id": "support", "userId": "bob"})
    assert "user_id" not in item and item["metadata"] == {"userId": "bob"}


def test_an_install_whose_vector_store_is_empty_says_owners_are_unknown(install):
    with sqlite3.connect(install / "qdrant" / "collection" / "mem" / "storage.sqlite") as conn:
        conn.execute("DELETE FROM points")
    conn.close()
    result = inspect_file(install)
    assert len(memories(result)) == LIVE
    assert Code.OWNERS_UNKNOWN.value in codes(result)


def test_an_install_with_no_collection_at_all_is_read_from_its_history(install):
    shutil.rmtree(install / "qdrant" / "collection" / "mem")
    result = inspect_file(install)
    assert result.ok and len(memories(result)) == LIVE
    assert Code.OWNERS_UNKNOWN.value in codes(result)


def test_a_collection_that_is_not_a_regular_file_is_refused_not_skipped(install):
    db = install / "qdrant" / "collection" / "mem" / "storage.sqlite"
    db.unlink()
    os.mkfifo(db)
    result = inspect_file(install / "qdrant")
    assert result.report.errors[0].code == Code.NOT_A_FILE


def test_a_qdrant_folder_without_collections_is_refused(install):
    shutil.rmtree(install / "qdrant" / "collection" / "mem")
    result = inspect_file(install / "qdrant")
    assert not result.ok and "no collection" in result.report.errors[0].message


def test_computed_columns_are_refused(tmp_path):
    db = tmp_path / "history.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE history (id, memory_id, new_memory, event, created_at, "
            "old_memory TEXT GENERATED ALWAYS AS (hex(zeroblob(50000000))) VIRTUAL)"
        )
        conn.execute(
            "INSERT INTO history (id, memory_id, new_memory, event) VALUES (1,'m','x','ADD')"
        )
    conn.close()
    result = inspect_file(db)
    assert not result.ok and "computed columns" in result.report.errors[0].message
