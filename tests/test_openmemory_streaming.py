"""OpenMemory converts from the spool: the backup (zip, memories.json, memories.jsonl.gz) a chunk
at a time, and its database (openmemory.db) with every row that belongs to a memory grouped on
disk; the records are those of a conversion in memory, in the same order, and memory does not
grow with the input (issue 14)."""

from __future__ import annotations

import gc
import gzip
import json
import sqlite3
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest
from store_helpers import FIXTURES
from streaming_helpers import as_lists, peak_of_a_migration, records_of, same_inspection
from test_storage_openmemory import make_old_db

from wizard.core import reading, spool
from wizard.core.adapters import openmemory as adapter
from wizard.core.formats import ConvertOptions, Payload
from wizard.core.inspection import InspectOptions, inspect_file
from wizard.core.spool import RecordList
from wizard.core.storage import ReadContext, table_columns
from wizard.core.storage import openmemory as storage

MEM0 = FIXTURES / "mem0"
NATIVE = FIXTURES / "native" / "openmemory"
DB = NATIVE / "openmemory.db"
BACKUPS = [
    "openmemory-real-export.zip",
    "mem0-synth-openmemory-export.zip",
    "mem0-synth-openmemory-memories.json",
]
SMALL_BUDGET = 64 * 1024  # the reader keeps this much before it spools
OPTIONS = [
    ConvertOptions(),
    ConvertOptions(include_inactive=True),
    ConvertOptions(include_deleted=True, include_inactive=True),
]


def _conversion(conv) -> dict:
    """What a conversion gives, to compare: records, problems, what is left behind."""
    return {
        "data": records_of(conv.data),
        "errors": [p.to_dict() for p in conv.errors],
        "warnings": [p.to_dict() for p in conv.warnings],
        "left": [item.to_dict() for item in conv.left_behind],
        "version": conv.source_version,
    }


# -- the backup ----------------------------------------------------------------------------------


def _lone_jsonl(tmp_path: Path) -> Path:
    with zipfile.ZipFile(MEM0 / BACKUPS[0]) as zf:
        path = tmp_path / "memories.jsonl.gz"
        path.write_bytes(zf.read("memories.jsonl.gz"))
    return path


@pytest.mark.parametrize("name", [*BACKUPS, "memories.jsonl.gz"])
@pytest.mark.parametrize("everything", [False, True])
def test_an_openmemory_backup_converts_from_the_spool_the_same(
    name, everything, tmp_path, monkeypatch
):
    path = _lone_jsonl(tmp_path) if name.endswith(".gz") else MEM0 / name
    options = InspectOptions(include_deleted=everything, include_inactive=everything)
    plain = inspect_file(path, options)
    assert plain.ok and plain.report.format == "openmemory"
    assert not isinstance(plain.data["memories"], RecordList)
    monkeypatch.setattr(spool, "SPILL_AFTER", -1)  # every record array spooled
    spooled = inspect_file(path, options)
    same_inspection(spooled, plain)
    if name != "memories.jsonl.gz":  # (JSON Lines: a list of lines; their arrays spooled)
        assert isinstance(spooled.data["memories"], RecordList)  # converted a chunk at a time
        assert isinstance(spooled.data["sessions"], RecordList)


def _row(mid: str, state: str = "active", app: str | None = "A", **extra: Any) -> dict:
    row = {
        "id": mid,
        "user_id": "U",
        "app_id": app,
        "content": f"the memory {mid}",
        "metadata": {"n": mid},
        "state": state,
        "created_at": "2025-09-01T16:20:12.880214+00:00",
        "updated_at": "2025-09-02T16:20:12.880214+00:00",
    }
    row.update(extra)
    return row


def odd_backup(apps: bool = True) -> dict:
    """A backup of every case: rows that are no memory, an id kept paused then active (the
    active row is kept) and given again, unknown states, memories without category_ids (their
    categories from memory_categories or the JSON Lines), an app given twice (the last row),
    rules on memories and on nothing, more accesses of a memory than its source copy keeps."""
    memories = [
        "not an object",
        {"content": "no id"},
        _row("d1", "paused"),
        _row("d1", app="B", created_at="2025-01-01T00:00:00Z"),
        _row("d1"),
        _row("n1", content=None),
        _row("na", app=None),
        _row("s1", "weird"),
        _row("s2", "weirder"),
        _row("x2", category_ids=["zz", "c1", "c1", 5]),
        _row("t", state=None, updated_at="2030-01-01T00:00:00Z"),
        _row("del", "deleted"),
        _row("arch", "archived", app="B"),
        *[_row(f"p{i}", "paused") for i in range(7)],
        _row("late", app="C", category_ids=None),
    ]
    if not apps:
        for row in memories:
            if isinstance(row, dict):
                row["app_id"] = None
    return {
        "user": {"id": "U", "user_id": "ed", "name": "Ed"},
        "apps": [
            {"id": "A", "name": "alpha"},
            {"id": "B", "name": "beta"},
            {"id": "A", "name": "alpha2"},
            "junk",
            {"id": "C", "name": ""},
        ],
        "categories": [
            {"id": "c1", "name": "one", "description": "d"},
            {"id": "c2", "name": "two"},
            {"id": "c1", "name": "uno"},
        ],
        "memories": memories,
        "memory_categories": [
            {"memory_id": "na", "category_id": "c2"},
            None,
            {"memory_id": "d1", "category_id": "c1"},
            {"memory_id": "late", "category_id": "c1"},
        ],
        "status_history": [{"memory_id": "d1", "n": i} for i in range(3)]
        + [{"memory_id": "zz"}, "junk", {"memory_id": "x2", "n": 9}],
        "access_controls": [
            {"object_id": "d1", "effect": "deny"},
            {"object_id": "nomem", "effect": "allow"},
            "junk",
            {"object_id": "x2", "effect": "deny"},
        ],
        "access_logs": [
            {
                "memory_id": "d1",
                "access_type": "search" if i % 4 else "delete",
                "accessed_at": f"2025-09-01T10:{i // 60:02d}:{i % 60:02d}Z",
            }
            for i in range(150)
        ],
        "export_meta": {"version": 2},
    }


JSONL_LINES = [
    {"id": "na", "content": "c", "state": "active", "app": "fromline", "categories": ["L1"]},
    {"id": "na", "content": "c", "state": "active", "app": "last", "categories": ["L2", "L2"]},
    {"id": "d1", "app": "z", "categories": "no"},
    {"id": "late", "categories": ["Q"]},
]


@pytest.mark.parametrize("kind", ["json", "json without apps", "zip"])
def test_every_case_of_a_backup_converts_from_the_spool_the_same(kind, tmp_path):
    value = odd_backup(apps=kind != "json without apps")
    if kind == "zip":
        path = tmp_path / "backup.zip"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("memories.json", json.dumps(value))
            lines = "\n".join(json.dumps(line) for line in JSONL_LINES)
            zf.writestr("memories.jsonl.gz", gzip.compress(lines.encode()))
    else:
        path = tmp_path / "memories.json"
        path.write_text(json.dumps(value))
    plain = reading.read_payload(path, reading.Limits())
    spooled = reading.read_payload(path, reading.Limits(spill_after=-1))
    assert isinstance(spooled.value["memories"], RecordList)
    for options in OPTIONS:
        expected = _conversion(adapter.convert(plain, options))
        conv = adapter.convert(spooled, options)
        assert _conversion(conv) == expected
        assert isinstance(conv.data["memories"], RecordList)
    # what the cases give (in memory and from the spool alike)
    conv = adapter.convert(plain, ConvertOptions())
    by_id = {m["id"]: m for m in conv.data["memories"]}
    second = "2025-01-01T00:00:00Z"  # the created_at of the second row of d1
    assert by_id["d1"]["source"]["raw"]["created_at"] == second  # (the paused row left out)
    assert [p.path for p in conv.errors] == ["memories[0]", "memories[1].id", "memories[5].content"]
    assert "1 weird, 1 weirder" in conv.warnings[1].message  # unknown states, in file order
    assert len(by_id["d1"]["source"]["related"]["access_logs"]) == adapter.ACCESS_DETAILS
    conv = adapter.convert(plain, ConvertOptions(include_inactive=True))
    by_id = {m["id"]: m for m in conv.data["memories"]}
    assert by_id["d1"]["source"]["raw"]["created_at"] != second  # the first row: paused


# -- the database -------------------------------------------------------------------------------


def _reference_read(conn: sqlite3.Connection, tables: dict) -> dict:
    """The reader as it was before it spooled: everything in memory, grouped with dicts."""
    rows = storage._rows
    ctx = ReadContext()
    users = {u["id"]: u for u in rows(conn, tables, "users", storage.USER_COLUMNS, ctx)}
    apps = {a["id"]: a for a in rows(conn, tables, "apps", storage.APP_COLUMNS, ctx)}
    for app in apps.values():
        if isinstance(app["is_active"], int):
            app["is_active"] = bool(app["is_active"])
    categories = {
        c["id"]: c for c in rows(conn, tables, "categories", storage.CATEGORY_COLUMNS, ctx)
    }
    memories: dict[Any, list[dict]] = {}
    owner: dict[Any, Any] = {}
    for row in rows(conn, tables, "memories", storage.MEMORY_COLUMNS, ctx):
        memories.setdefault(row["user_id"], []).append(row)
        owner[row["id"]] = row["user_id"]
    dangling: dict[str, int] = {}
    links: dict[Any, list[dict]] = {}
    for link in rows(conn, tables, "memory_categories", ("memory_id", "category_id"), ctx):
        if link["memory_id"] in owner and link["category_id"] in categories:
            links.setdefault(link["memory_id"], []).append(link)
        else:
            dangling["memory_categories"] = dangling.get("memory_categories", 0) + 1
    by_memory: dict[str, dict[Any, list[dict]]] = {"status_history": {}, "access_logs": {}}
    for key, table, columns in (
        ("status_history", "memory_status_history", storage.HISTORY_COLUMNS),
        ("access_logs", "memory_access_logs", storage.LOG_COLUMNS),
    ):
        for row in rows(conn, tables, table, columns, ctx):
            if row["memory_id"] in owner:
                by_memory[key].setdefault(row["memory_id"], []).append(row)
            else:
                dangling[table] = dangling.get(table, 0) + 1
    controls: dict[Any, list[dict]] = {}
    for rule in rows(conn, tables, "access_controls", storage.CONTROL_COLUMNS, ctx):
        subject = apps.get(rule["subject_id"]) if rule["subject_type"] == "app" else None
        user = subject["owner_id"] if subject else owner.get(rule["object_id"])
        if user is None:
            dangling["access_controls"] = dangling.get("access_controls", 0) + 1
        else:
            controls.setdefault(user, []).append(rule)
    owned: dict[Any, list[dict]] = {}
    for app in apps.values():
        owned.setdefault(app["owner_id"], []).append(app)
    documents = []
    for user_id in [*users, *(u for u in memories if u not in users)]:
        mine_rows = memories.get(user_id, [])
        mids = [m["id"] for m in mine_rows]
        for m in mine_rows:
            m["category_ids"] = [link["category_id"] for link in links.get(m["id"], [])]
        mine = owned.get(user_id, [])
        others = {m["app_id"] for m in mine_rows} - {a["id"] for a in mine}
        used_categories = {c for m in mine_rows for c in m["category_ids"]}
        documents.append(
            {
                "user": users.get(user_id) or {"id": user_id},
                "apps": mine + [apps[a] for a in sorted(others, key=str) if a in apps],
                "categories": sorted(
                    (categories[c] for c in used_categories), key=lambda c: str(c["id"])
                ),
                "memories": mine_rows,
                "memory_categories": [link for mid in mids for link in links.get(mid, [])],
                "status_history": [
                    h for mid in mids for h in by_memory["status_history"].get(mid, [])
                ],
                "access_controls": controls.get(user_id, []),
                "access_logs": [
                    log for mid in mids for log in by_memory["access_logs"].get(mid, [])
                ],
            }
        )
    used = {link["category_id"] for group in links.values() for link in group}
    counted = {
        name: storage._count(conn, name)
        for name in sorted(tables)
        if name in ("archive_policies", "configs")
        or (name not in storage.KNOWN and not name.startswith("sqlite_"))
    }
    return {
        "openmemory_db": {
            "schema": storage._revision(conn, tables),
            "archive_policies": counted.pop("archive_policies", 0),
            "configs": counted.pop("configs", 0),
            "unknown_tables": counted,
            "dangling": dangling,
            "unused_categories": len(categories.keys() - used),
        },
        "users": documents,
    }


def _hex(kind: int, n: int) -> str:
    """An id as SQLAlchemy stores a UUID on SQLite (32 hex digits, never all decimal)."""
    return f"abcd{kind:04x}{n:024x}"


def _dashed(hex_id: str) -> str:
    h = hex_id
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


WORDS = ["tea", "coffee", "rust", "python", "berlin", "lisbon", "deploy", "meeting", "vim"]


def write_openmemory_db(path: Path, memories: int, users: int = 3, text: int = 60) -> Path:
    """An openmemory.db of OpenMemory's schema (the fixture's): ``users`` users whose memories
    are interleaved, three apps each, ``text`` words a memory, a memory in ten paused and one in
    ten deleted, two categories and two accesses a memory, a state change for one memory in
    two, access rules on apps and on memories."""
    source = sqlite3.connect(f"file:{DB}?mode=ro", uri=True)
    schema = [
        sql
        for (sql,) in source.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
            "ORDER BY type = 'index'"
        )
    ]
    source.close()
    con = sqlite3.connect(path)
    for sql in schema:
        con.execute(sql)
    t = "2025-09-01 16:20:12.880214"
    uids = [_hex(1, u) for u in range(users)]
    apps = {u: [_hex(2, k * 10 + a) for a in range(3)] for k, u in enumerate(uids)}
    cats = [_hex(3, k) for k in range(10)]
    con.executemany(
        "INSERT INTO users (id, user_id, metadata, created_at, updated_at) VALUES (?,?,?,?,?)",
        [(u, f"user{k}", "{}", t, t) for k, u in enumerate(uids)],
    )
    con.executemany(
        "INSERT INTO apps (id, owner_id, name, metadata, is_active, created_at, updated_at) "
        "VALUES (?,?,?,?,?,?,?)",
        [(a, u, f"app{j}", "{}", 1, t, t) for u, ids in apps.items() for j, a in enumerate(ids)],
    )
    con.executemany(
        "INSERT INTO categories (id, name, description, created_at, updated_at) VALUES (?,?,?,?,?)",
        [(c, f"cat{k}", f"about {k}", t, t) for k, c in enumerate(cats)],
    )
    states = ["active"] * 8 + ["paused", "deleted"]
    con.executemany(
        "INSERT INTO memories (id, user_id, app_id, content, metadata, state, created_at, "
        "updated_at) VALUES (?,?,?,?,?,?,?,?)",
        (
            (
                _hex(4, i),
                uids[i % users],
                apps[uids[i % users]][i % 3],
                f"memory {i}: " + " ".join(WORDS[(i * j) % len(WORDS)] for j in range(text)),
                json.dumps({"n": i}),
                states[i % 10],
                t,
                f"2025-10-{1 + i % 28:02d} 10:00:00.000000",
            )
            for i in range(memories)
        ),
    )
    con.executemany(
        "INSERT INTO memory_categories VALUES (?,?)",
        ((_hex(4, i), cats[(i + k) % 10]) for i in range(memories) for k in (0, 3)),
    )
    con.executemany(
        "INSERT INTO memory_status_history VALUES (?,?,?,?,?,?)",
        (
            (_hex(5, i), _hex(4, i), uids[i % users], "active", states[i % 10], t)
            for i in range(0, memories, 2)
        ),
    )
    con.executemany(
        "INSERT INTO memory_access_logs VALUES (?,?,?,?,?,?)",
        (
            (
                _hex(7, 2 * i + k),
                _hex(4, i),
                apps[uids[i % users]][k],
                f"2025-09-0{1 + k} 10:00:00.{i % 1000:03d}000",
                ("search", "delete")[k],
                json.dumps({"query": "what does the user like", "score": 0.5}),
            )
            for i in range(memories)
            for k in range(2)
        ),
    )
    con.executemany(
        "INSERT INTO access_controls VALUES (?,?,?,?,?,?,?)",
        [
            (_hex(6, 1), "app", apps[uids[0]][1], "memory", _hex(4, 3), "deny", t),
            (_hex(6, 2), "user", uids[-1], "memory", _hex(4, 4), "allow", t),
            (_hex(6, 3), "app", apps[uids[-1]][0], "app", apps[uids[0]][0], "deny", t),
        ],
    )
    con.commit()
    con.close()
    return path


def write_odd_db(path: Path) -> Path:
    """A small openmemory.db of every case: an id stored in two forms (one user's, and two
    users'), memories of a user row gone, of an empty and of a numeric user id, a user with no
    memory, rows that refer to no memory or category, a rule on a memory no one has."""
    write_openmemory_db(path, 30, users=2, text=5)
    con = sqlite3.connect(path)
    t = "2025-09-01 16:20:12"
    con.execute(
        "INSERT INTO users (id, user_id, metadata) VALUES (?, 'lonely', '{}')", (_hex(1, 7),)
    )
    extra = [
        (_hex(4, 900), _hex(1, 99), _hex(2, 0), "a memory whose user row is gone", "active"),
        (_hex(4, 901), _hex(1, 0), _hex(2, 10), "a memory of another owner's app", "active"),
        (_dashed(_hex(4, 902)), _dashed(_hex(1, 1)), _hex(2, 10), "stored dashed", "active"),
        (_hex(4, 903), _hex(1, 0), _hex(2, 1), "a paused twin", "paused"),
        (_dashed(_hex(4, 1)), _hex(1, 0), _hex(2, 2), "the other form of memory 1", "active"),
        (_dashed(_hex(4, 903)), _hex(1, 0), _hex(2, 1), "an active twin", "active"),
        (_hex(4, 904), "", _hex(2, 1), "a memory of an empty user id", "active"),
        (_hex(4, 905), 12345, _hex(2, 1), "a memory of a numeric user id", "active"),
    ]
    con.executemany(
        "INSERT INTO memories (id, user_id, app_id, content, metadata, state, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, '{}', ?, ?, ?)",
        [(*row, t, t) for row in extra],
    )
    con.executemany(
        "INSERT INTO memory_categories VALUES (?, ?)",
        [
            (_hex(4, 900), _hex(3, 1)),
            (_dashed(_hex(4, 902)), _hex(3, 2)),
            (_hex(4, 903), _hex(3, 3)),
            (_hex(4, 900), _hex(3, 99)),  # no such category
            (_hex(4, 999), _hex(3, 1)),  # no such memory
        ],
    )
    con.executemany(
        "INSERT INTO memory_access_logs VALUES (?, ?, ?, ?, ?, '{}')",
        [
            (
                _hex(7, 5000 + i),
                _hex(4, 903),
                _hex(2, 1),
                f"2025-09-02 10:{i // 60:02d}:{i % 60:02d}",
                "delete" if i % 5 == 0 else "search",
            )
            for i in range(130)
        ],
    )
    con.execute(
        "INSERT INTO memory_status_history VALUES (?, ?, ?, 'a', 'b', ?)",
        (_hex(5, 9000), _hex(4, 999), _hex(1, 0), t),
    )
    con.executemany(
        "INSERT INTO access_controls VALUES (?, ?, ?, 'memory', ?, 'allow', ?)",
        [
            (_hex(6, 12), "user", _hex(1, 0), _hex(4, 901), t),
            (_hex(6, 13), "user", _hex(1, 0), _hex(4, 999), t),  # on no memory
            (_hex(6, 14), "user", _hex(1, 0), _hex(4, 903), t),  # on the twins
        ],
    )
    con.commit()
    con.close()
    return path


def _read(path: Path, reader) -> dict:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return reader(conn, table_columns(conn))
    finally:
        conn.close()


def _databases(tmp_path: Path) -> list[Path]:
    old = tmp_path / "old" / "openmemory.db"
    old.parent.mkdir()
    make_old_db(old, configs=True)
    return [DB, old, write_odd_db(tmp_path / "odd.db")]


@pytest.mark.parametrize("budget", [None, -1, 2000])
def test_the_database_reads_and_converts_as_it_did_in_memory(budget, tmp_path, monkeypatch):
    """The reader's documents and their records are those of the reader that kept everything
    in memory (``_reference_read``), whether their arrays are lists, spooled (-1), or spooled
    once past a small budget."""
    if budget is not None:
        monkeypatch.setattr(spool, "SPILL_AFTER", budget)
    for path in _databases(tmp_path):
        doc = _read(path, lambda conn, tables: storage.read(conn, tables, ReadContext()))
        expected = _read(path, _reference_read)
        assert as_lists(doc) == expected, path
        spooled_arrays = {
            k for user in doc["users"] for k, v in user.items() if isinstance(v, RecordList)
        }
        if budget == -1:
            assert spooled_arrays >= {"memories", "status_history", "access_logs"}
        elif budget is None:
            assert not spooled_arrays
        for options in OPTIONS:
            conv = adapter.convert_db(Payload(value=doc, layout="openmemory-db"), options)
            reference = Payload(value=expected, layout="openmemory-db")
            assert _conversion(conv) == _conversion(adapter.convert_db(reference, options))


@pytest.mark.parametrize("everything", [False, True])
def test_an_openmemory_database_converts_from_the_spool_the_same(everything, tmp_path, monkeypatch):
    options = InspectOptions(include_deleted=everything, include_inactive=everything)
    for path in (DB, write_odd_db(tmp_path / "odd.db")):
        plain = inspect_file(path, options)
        assert plain.ok and plain.report.format == "openmemory-db"
        assert not isinstance(plain.data["memories"], RecordList)
        monkeypatch.setattr(spool, "SPILL_AFTER", -1)  # every row spooled
        spooled = inspect_file(path, options)
        monkeypatch.undo()
        same_inspection(spooled, plain)
        for name in ("memories", "sessions", "accessLogs"):
            assert isinstance(spooled.data[name], RecordList), name


def test_a_database_is_read_without_a_memory_check(monkeypatch):
    from wizard.core.storage import reader

    monkeypatch.setattr(reader, "available_memory", lambda: 1024 * 1024)
    monkeypatch.setattr(spool, "SPILL_AFTER", -1)
    result = inspect_file(DB)
    assert result.ok, result.report.errors
    assert isinstance(result.data["memories"], RecordList)


def test_blobs_are_read_as_null(tmp_path):
    """A blob is not text: a value JSON cannot hold is left out (it could not be imported)."""
    path = write_openmemory_db(tmp_path / "blob.db", 5, users=1, text=3)  # (5: rules on 3, 4)
    con = sqlite3.connect(path)
    con.execute("UPDATE memories SET metadata = x'0102' WHERE rowid = 1")
    con.commit()
    con.close()
    insp = inspect_file(path)
    assert insp.ok, insp.report.errors
    assert insp.data["memories"][0]["source"]["raw"]["metadata"] is None


# -- memory that does not grow with the input ---------------------------------------------------


def write_openmemory_backup(path: Path, memories: int) -> Path:
    """An OpenMemory memories.json of about 700 bytes a memory, written a piece at a time: three
    apps, a memory in ten paused, one in fifty given again later (the first row kept), two
    category links a memory, a state change for one memory in two, an access rule."""
    t = "2025-09-01T16:20:12.880214+00:00"
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"user":' + json.dumps({"id": "u", "user_id": "alice", "name": "Alice"}))
        f.write(',"apps":' + json.dumps([{"id": f"a{k}", "name": f"app{k}"} for k in range(3)]))
        f.write(',"categories":')
        f.write(json.dumps([{"id": f"c{k}", "name": f"cat{k}"} for k in range(10)]))
        f.write(',"memories":[')
        for i in range(memories):
            n = i - 25 if i % 50 == 49 else i
            row = {
                "id": f"00000000-0000-4000-8000-{n:012d}",
                "user_id": "u",
                "app_id": f"a{i % 3}",
                "content": f"memory {i} " + "y" * 450,
                "metadata": {"n": i},
                "state": "paused" if i % 10 == 8 else "active",
                "created_at": t,
                "updated_at": f"2025-10-{1 + i % 28:02d}T10:00:00+00:00",
                "archived_at": None,
                "deleted_at": None,
                "category_ids": [f"c{i % 10}", f"c{(i + 3) % 10}"],
            }
            f.write(("," if i else "") + json.dumps(row))
        f.write('],"memory_categories":[')
        f.write(
            ",".join(
                json.dumps({"memory_id": f"00000000-0000-4000-8000-{i:012d}", "category_id": c})
                for i in range(memories)
                for c in (f"c{i % 10}", f"c{(i + 3) % 10}")
            )
        )
        f.write('],"status_history":[')
        f.write(
            ",".join(
                json.dumps(
                    {
                        "id": f"h{i}",
                        "memory_id": f"00000000-0000-4000-8000-{i:012d}",
                        "old_state": "deleted",
                        "new_state": "active",
                        "changed_at": t,
                    }
                )
                for i in range(0, memories, 2)
            )
        )
        f.write('],"access_controls":[')
        f.write(json.dumps({"object_id": "00000000-0000-4000-8000-000000000005", "effect": "deny"}))
        f.write('],"export_meta":{"version":"1"}}')
    return path


def test_memory_of_an_openmemory_backup_does_not_grow_with_it(tmp_path, monkeypatch):
    """OpenMemory's backup converts from the spool: four times the memories, about the same
    peak (a converter that keeps the memories, their ids or their rows in Python fails this)."""
    monkeypatch.setattr(spool, "SPILL_AFTER", SMALL_BUDGET)
    small = write_openmemory_backup(tmp_path / "small.json", 3000)
    large = write_openmemory_backup(tmp_path / "large.json", 12000)
    assert large.stat().st_size > 3.5 * small.stat().st_size
    insp = inspect_file(large)
    assert insp.ok and insp.report.format == "openmemory"
    assert isinstance(insp.data["memories"], RecordList)
    assert len(insp.data["memories"]) == 12000 - 12000 // 10 - 12000 // 50  # paused, repeats
    del insp
    peak_small = peak_of_a_migration(small, tmp_path / "small.sqlite")
    peak_large = peak_of_a_migration(large, tmp_path / "large.sqlite")
    assert peak_large < 1.3 * peak_small + 2 * 1024 * 1024, (peak_small, peak_large)


def _peak_of_an_inspection(path: Path) -> int:
    """Peak Python memory (tracemalloc) of reading, converting and checking ``path``."""
    gc.collect()
    tracemalloc.start()
    try:
        insp = inspect_file(path, InspectOptions(include_deleted=True, include_inactive=True))
        assert insp.ok, insp.report.errors
        del insp
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_of_an_openmemory_database_does_not_grow_with_it(tmp_path, monkeypatch):
    """OpenMemory's database is read into the spool and converts from it: four times the
    memories (and their categories, state changes and accesses), about the same peak (a reader
    or converter that keeps the rows, the records or their ids in Python fails this; importing
    them is measured for the other sources)."""
    monkeypatch.setattr(spool, "SPILL_AFTER", SMALL_BUDGET)
    # (both past the chunks records are kept in: a user's memories more than a chunk's text)
    small = write_openmemory_db(tmp_path / "small.db", 2500, users=2, text=120)
    large = write_openmemory_db(tmp_path / "large.db", 10000, users=2, text=120)
    assert large.stat().st_size > 3.5 * small.stat().st_size
    insp = inspect_file(large)
    assert insp.ok and insp.report.format == "openmemory-db"
    assert isinstance(insp.data["memories"], RecordList)
    assert insp.report.counts["memories"] == 10000 * 8 // 10
    assert insp.report.counts["accessLogs"] == 10000 * 8 // 10
    del insp
    peak_small = _peak_of_an_inspection(small)
    peak_large = _peak_of_an_inspection(large)
    assert peak_large < 1.3 * peak_small + 2 * 1024 * 1024, (peak_small, peak_large)
