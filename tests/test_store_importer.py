"""Strategies, plan vs apply, atomicity (failure, cancel, interrupt, lock) of the importer."""

from __future__ import annotations

import json
import sqlite3

import pytest
from store_helpers import (
    AUDIT_KEYS,
    AUDIT_TABLES,
    DATA_TABLES,
    dump,
    export,
    inspection,
    load_small,
    memory,
    observation,
    run,
    session,
    stored,
)

from wizard import runs
from wizard.core.canonical import stamp_origin
from wizard.core.names import Strategy
from wizard.core.report import Report
from wizard.store import audit, importer
from wizard.store.database import open_store
from wizard.store.migrations import SCHEMA_VERSION

# The store holds BEFORE; then IMPORT arrives. Overlap: b identical, c changed, d new (sessions);
# m2 changed, m3 new (memories); o2 identical, o3 new (observations); n1 only in the store.
BEFORE = export(
    sessions=[session("a"), session("b"), session("c")],
    observations={"a": [observation("o1", "a")], "b": [observation("o2", "b")]},
    memories=[memory("m1"), memory("m2")],
    graphNodes=[{"id": "n1", "type": "concept", "name": "x"}],
)
IMPORT = export(
    sessions=[session("b"), session("c", project="changed"), session("d")],
    observations={"b": [observation("o2", "b")], "d": [observation("o3", "d")]},
    memories=[memory("m2", "changed"), memory("m3")],
)


def _c(ins=0, upd=0, unch=0, skip=0, dele=0) -> dict:
    return {"inserted": ins, "updated": upd, "unchanged": unch, "skipped": skip, "deleted": dele}


CASES = {
    "merge": {
        "counts": {
            "sessions": _c(ins=1, upd=1, unch=1),
            "observations": _c(ins=1, unch=1),
            "memories": _c(ins=1, upd=1),
            "graphNodes": _c(),
        },
        # agentmemory's stats count every record merge writes, the identical ones too
        "stats": {"sessions": 3, "observations": 2, "memories": 2, "summaries": 0, "skipped": 0},
        "sessions": {"a": "p", "b": "p", "c": "changed", "d": "p"},
        "memories": {"m1": "c", "m2": "changed", "m3": "c"},
        "observations": ["o1", "o2", "o3"],
        "graphNodes": ["n1"],
    },
    "replace": {
        "counts": {
            # only what changes: identical records stay, those the file lacks go
            "sessions": _c(ins=1, upd=1, unch=1, dele=1),
            "observations": _c(ins=1, unch=1, dele=1),
            "memories": _c(ins=1, upd=1, dele=1),
            "graphNodes": _c(dele=1),
        },
        "stats": {"sessions": 3, "observations": 2, "memories": 2, "summaries": 0, "skipped": 0},
        "sessions": {"b": "p", "c": "changed", "d": "p"},
        "memories": {"m2": "changed", "m3": "c"},
        "observations": ["o2", "o3"],
        "graphNodes": [],
    },
    "skip": {
        "counts": {
            "sessions": _c(ins=1, skip=2),
            "observations": _c(ins=1, skip=1),
            "memories": _c(ins=1, skip=1),
            "graphNodes": _c(),
        },
        "stats": {"sessions": 1, "observations": 1, "memories": 1, "summaries": 0, "skipped": 4},
        "sessions": {"a": "p", "b": "p", "c": "p", "d": "p"},
        "memories": {"m1": "c", "m2": "c", "m3": "c"},
        "observations": ["o1", "o2", "o3"],
        "graphNodes": ["n1"],
    },
}


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "store.sqlite"


@pytest.fixture
def store(db_path):
    with open_store(db_path) as s:
        yield s


def _apply(store, data, strategy="merge", cancel=None, **kw):
    return run(runs.import_steps(store, inspection(data, **kw), strategy, cancel))


@pytest.mark.parametrize("strategy", [str(s) for s in Strategy])
def test_strategy_on_overlapping_data(store, db_path, strategy):
    _apply(store, BEFORE)
    expected = CASES[strategy]
    planned = importer.plan(store, inspection(IMPORT), strategy)
    _, result = _apply(store, IMPORT, strategy)
    assert result.ok and result.outcome == "succeeded"
    for name, counts in expected["counts"].items():
        assert result.collections[name].to_dict() == counts, name
    assert result.stats == expected["stats"]
    assert planned.to_dict()["collections"] == {
        n: p.to_dict() for n, p in result.collections.items()
    }
    assert planned.stats == result.stats
    sessions = stored(db_path, "sessions")
    assert {k: v["project"] for k, v in sessions.items()} == expected["sessions"]
    memories = stored(db_path, "memories")
    assert {k: v["content"] for k, v in memories.items()} == expected["memories"]
    assert list(stored(db_path, "observations")) == expected["observations"]
    assert list(stored(db_path, "graph_nodes")) == expected["graphNodes"]
    # records are stored whole, origin stamped where it was missing
    assert memories["m3"] == stamp_origin("memories", memory("m3"), "agentmemory")
    assert memories["m3"]["origin"] == {
        "channel": "import",
        "detail": "agentmemory",
        "capturedAt": "2026-01-02T00:00:00.000Z",
    }
    assert store.counts()["sessions"] == len(expected["sessions"])


@pytest.mark.parametrize("strategy", [str(s) for s in Strategy])
def test_plan_equals_apply_on_fixture(store, strategy):
    small = load_small()
    _apply(store, small)
    changed = load_small()
    changed["sessions"][0]["project"] = "elsewhere"
    changed["memories"] = changed["memories"][:10]
    changed["sessions"].append(session("brand-new"))
    before = dump(store.path, DATA_TABLES + AUDIT_TABLES)
    planned = importer.plan(store, inspection(changed), strategy)
    assert dump(store.path, DATA_TABLES + AUDIT_TABLES) == before  # a plan writes nothing
    _, result = _apply(store, changed, strategy)
    assert {n: p.to_dict() for n, p in result.collections.items()} == planned.to_dict()[
        "collections"
    ]
    assert result.stats == planned.stats


def test_reimport_is_unchanged(store):
    _, first = _apply(store, load_small())
    _, again = _apply(store, load_small())
    assert first.stats["observations"] == 500
    # agentmemory's own import would report writing them all again (its stats' meaning); the
    # exact split says nothing changed
    assert again.stats == {
        "sessions": 10,
        "observations": 500,
        "memories": 50,
        "summaries": 10,
        "skipped": 0,
    }
    assert again.collections["observations"].unchanged == 500
    assert sum(p.inserted + p.updated for p in again.collections.values()) == 0


def test_plan_steps_yields_progress_and_accepts_a_dict(store):
    progress, plan = run(importer.plan_steps(store, load_small(), "merge"))
    assert any(p.collection == "observations" and p.done == 500 for p in progress)
    assert plan.collections["observations"].inserted == 500


def test_duplicate_keys_last_one_wins(store, db_path):
    _apply(store, export(sessions=[session("x", project="v0")]))
    data = export(
        sessions=[session("x", project="v0"), session("x", project="v1"), session("y")]
        + [session("y", project="v2")]
    )
    planned = importer.plan(store, inspection(data), "merge")
    _, result = _apply(store, data)
    assert result.collections["sessions"].to_dict() == _c(ins=1, upd=1)
    assert planned.collections["sessions"].to_dict() == _c(ins=1, upd=1)
    assert {k: v["project"] for k, v in stored(db_path, "sessions").items()} == {
        "x": "v1",
        "y": "v2",
    }


def test_other_collections_and_access_logs(store, db_path):
    data = export(
        memories=[memory("m1")],
        actions=[{"id": "a1", "kind": "x"}],
        accessLogs=[{"memoryId": "m1", "count": 2}, {"memoryId": "gone", "count": 1}],
        futureThings=[{"id": "f1"}],
        profiles=[{"project": "p", "summary": "s"}],
    )
    _, result = _apply(store, data)
    assert result.collections["accessLogs"].to_dict() == _c(ins=1, skip=1)
    assert result.collections["futureThings"].inserted == 1
    assert store.counts() == {
        "sessions": 0,
        "observations": 0,
        "memories": 1,
        "summaries": 0,
        "profiles": 1,
        "graphNodes": 0,
        "graphEdges": 0,
        "actions": 1,
        "accessLogs": 1,
        "futureThings": 1,
    }


def test_records_without_key_are_skipped_not_fatal(store):
    _, result = _apply(store, export(sessions=[session("ok"), {"project": "no id"}, "junk"]))
    assert result.ok
    assert result.collections["sessions"].to_dict() == _c(ins=1, skip=2)


def test_repeated_skip_counts_whole_runs_and_still_finds_the_new_records(
    store, db_path, monkeypatch
):
    monkeypatch.setattr(importer, "CHUNK_ROWS", 3)  # runs of 3: sessions span several
    obs_a = [observation(f"o{i}", "a") for i in range(7)]
    obs_b = [observation(f"p{i}", "b") for i in range(3)]
    sessions = [session(f"s{i}") for i in range(10)]
    _apply(store, export(sessions=sessions, observations={"a": obs_a, "b": obs_b}))
    looked_at = []
    original = importer._Classifier.classify
    monkeypatch.setattr(
        importer._Classifier,
        "classify",
        lambda self, bucket, group, *rest: (
            looked_at.append(len(group)) or original(self, bucket, group, *rest)
        ),
    )
    again = export(
        sessions=[*sessions, session("s10")],
        observations={
            "a": [*obs_a[:4], observation("o7", "a"), *obs_a[4:]],
            "b": [observation("p0", "b", title="changed"), *obs_b[1:]],
            "c": [observation("q0", "c")],
        },
    )
    planned = importer.plan(store, inspection(again), "skip")
    seen, result = _apply(store, again, "skip")
    assert result.collections["sessions"].to_dict() == _c(ins=1, skip=10)
    assert result.collections["observations"].to_dict() == _c(ins=2, skip=10)
    assert planned.stats == result.stats
    # only the runs holding a new record were looked at one by one (plan and apply)
    assert looked_at == [2, 3, 1] * 2  # sessions s9-s10; o3, o7, o4; q0
    done = [p.done for p in seen if p.phase == "write" and p.collection == "observations"]
    assert done == sorted(done) and done[-1] == 12
    assert stored(db_path, "observations")["p0"]["title"] == "t"  # skip leaves it alone
    assert set(stored(db_path, "sessions")) == {f"s{i}" for i in range(11)}


def _audit_rows(db_path):
    return dump(db_path, ("audit_log",))["audit_log"]


def test_failure_mid_import_leaves_store_unchanged(store, db_path, monkeypatch):
    _apply(store, load_small(), "merge")
    before = dump(db_path, (*DATA_TABLES, "audit_changes"))
    entries_before = _audit_rows(db_path)
    monkeypatch.setattr(importer, "CHUNK_ROWS", 50)
    original = importer._Engine._flush
    calls = []

    def failing_flush(self, *args):
        original(self, *args)
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("injected failure")

    monkeypatch.setattr(importer._Engine, "_flush", failing_flush)
    changed = load_small()
    for o in changed["observations"]["ses_11_000000"]:
        o["title"] = "changed"
    _, result = _apply(store, changed, "replace")
    assert len(calls) == 2
    assert not result.ok and result.outcome == "failed" and result.error_code == "internal"
    assert "injected failure" in result.error
    assert dump(db_path, (*DATA_TABLES, "audit_changes")) == before
    assert _audit_rows(db_path)[:-1] == entries_before
    entry = audit.get_entry(store, result.audit_id)
    assert entry["outcome"] == "failed" and "injected failure" in entry["error"]
    assert entry["counts"]["partial"] is True


def test_disk_full_maps_to_store_error_kind(store, db_path, monkeypatch):
    before = dump(db_path)
    original = importer._Engine._flush

    def full(self, *args):
        original(self, *args)
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(importer._Engine, "_flush", full)
    _, result = _apply(store, load_small())
    assert result.outcome == "failed" and result.error_code == "full"
    assert "full" in result.error
    assert dump(db_path) == before


def test_cancel_after_first_chunk(store, db_path, monkeypatch):
    _apply(store, load_small(), "merge")
    before = dump(db_path, (*DATA_TABLES, "audit_changes"))
    monkeypatch.setattr(importer, "CHUNK_ROWS", 100)
    seen = []

    def cancel():
        return any(p.phase == "write" for p in seen)

    gen = runs.import_steps(store, inspection(export(sessions=[session("z")])), "replace", cancel)
    result = None
    while True:
        try:
            seen.append(next(gen))
        except StopIteration as stop:
            result = stop.value
            break
    assert result.outcome == "cancelled" and not result.ok
    assert dump(db_path, (*DATA_TABLES, "audit_changes")) == before
    assert audit.list_entries(store, 1)[0]["outcome"] == "cancelled"


def test_closing_the_generator_rolls_back_and_audits(store, db_path):
    before = dump(db_path)
    gen = runs.import_steps(store, inspection(load_small()), "merge")
    for p in gen:
        if p.phase == "write":
            break
    gen.close()
    assert dump(db_path) == before
    assert audit.list_entries(store, 1)[0]["outcome"] == "cancelled"


def test_closing_the_generator_after_the_commit_keeps_the_import(store, db_path):
    gen = runs.import_steps(store, inspection(load_small()), "merge")
    for p in gen:
        if p.phase == "done":
            break
    gen.close()
    entries = audit.list_entries(store)
    assert [e["outcome"] for e in entries] == ["succeeded"]
    assert store.counts()["observations"] == 500


def test_keyboard_interrupt_inside_apply(store, db_path, monkeypatch):
    before = dump(db_path)

    def interrupt(self, *args):
        raise KeyboardInterrupt

    monkeypatch.setattr(importer._Engine, "_flush", interrupt)
    with pytest.raises(KeyboardInterrupt):
        _apply(store, load_small())
    assert dump(db_path) == before
    assert audit.list_entries(store, 1)[0]["outcome"] == "cancelled"


def test_locked_store_fails_cleanly(db_path, monkeypatch):
    monkeypatch.setenv("AGENTMEMORY_WIZARD_BUSY_TIMEOUT_MS", "50")
    with open_store(db_path) as store:
        before = dump(db_path, DATA_TABLES + AUDIT_TABLES)
        other = sqlite3.connect(str(db_path), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            _, result = _apply(store, load_small())
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert result.outcome == "failed" and result.error_code == "locked"
        assert "locked by another process" in result.error
        assert result.audit_id is None  # the store would not take the entry either
    assert dump(db_path, DATA_TABLES + AUDIT_TABLES) == before


def test_refused_inspection_is_audited_not_written(store, db_path):
    bad = inspection(export(sessions=[session("a")]))
    bad.report = Report(ok=False, format="agentmemory")
    bad.data = None
    _, result = _apply_insp(store, bad)
    assert result.outcome == "refused" and result.audit_id is not None
    assert store.counts()["sessions"] == 0
    assert audit.get_entry(store, result.audit_id)["outcome"] == "refused"


def _apply_insp(store, insp, strategy="merge"):
    return run(runs.import_steps(store, insp, strategy))


def test_unknown_strategy_is_a_value_error(store):
    with pytest.raises(ValueError):
        importer.plan(store, export(), "upsert")


def test_audit_entry_fields(store):
    _, result = _apply(store, load_small())
    entry = audit.list_entries(store)[0]
    assert entry["id"] == result.audit_id
    assert set(entry) >= AUDIT_KEYS
    assert entry["operation"] == "import" and entry["outcome"] == "succeeded"
    assert entry["source"] == {
        "path": "/src/export.json",
        "name": "export.json",
        "size": 1234,
        "sha256": "ab" * 32,
    }
    assert entry["counts"]["stats"] == result.stats
    assert entry["schema_version"] == SCHEMA_VERSION
    assert entry["timestamp"].endswith("Z")


def test_apply_on_a_worker_thread_while_another_thread_reads(db_path):
    import threading

    with open_store(db_path) as store:
        results = []
        paused = threading.Event()
        go_on = threading.Event()

        def cancel():
            paused.set()
            go_on.wait(10)
            return False

        def work():
            with store.database.connection_context():
                results.append(
                    run(runs.import_steps(store, inspection(load_small()), "merge", cancel))[1]
                )

        worker = threading.Thread(target=work)
        worker.start()
        assert paused.wait(10)
        # the reader sees the state before the import's transaction
        assert store.counts()["observations"] == 0
        go_on.set()
        worker.join(10)
        assert results[0].ok
        assert store.counts()["observations"] == 500


def test_two_stores_open_at_once_stay_apart(tmp_path):
    with open_store(tmp_path / "a.sqlite") as a, open_store(tmp_path / "b.sqlite") as b:
        _apply(a, load_small())
        assert a.counts()["sessions"] == 10 and b.counts()["sessions"] == 0
        assert len(audit.list_entries(a)) == 1 and audit.list_entries(b) == []


def test_stored_hash_is_the_content_hash_of_the_stored_text(store, db_path):
    _apply(store, load_small())
    con = sqlite3.connect(db_path)
    try:
        for table, bucket_col in (("sessions", None), ("observations", "bucket")):
            cols = f"data, hash{', ' + bucket_col if bucket_col else ''}"
            for row in con.execute(f"SELECT {cols} FROM {table}"):
                bucket = row[2] if bucket_col else None
                assert importer.content_hash(row[0], bucket) == row[1]
                compact = json.dumps(json.loads(row[0]), ensure_ascii=False, separators=(",", ":"))
                assert compact == row[0]
    finally:
        con.close()


def test_converted_records_get_their_origin_from_the_importer(store, db_path):
    from pathlib import Path

    from wizard.core.inspection import inspect_file

    path = Path(__file__).parent / "fixtures" / "mem0" / "mem0-real-oss-2.2.1-getall-alice.json"
    inspection = inspect_file(path)
    _, result = run(runs.import_steps(store, inspection, "merge"))
    assert result.ok
    memories = stored(db_path, "memories")
    assert len(memories) == 19
    for record in memories.values():
        assert record["origin"] == {
            "channel": "import",
            "detail": "mem0-oss",
            "capturedAt": record["createdAt"],
        }


def test_ctrl_c_as_the_commit_returns_reports_the_committed_import(store, monkeypatch):
    import contextlib

    from wizard.store.database import Store

    write_transaction = Store.write_transaction

    @contextlib.contextmanager
    def interrupted_after_commit(self, attempt=None):
        with write_transaction(self, attempt):
            yield
        raise KeyboardInterrupt  # the signal lands right as COMMIT returns

    monkeypatch.setattr(Store, "write_transaction", interrupted_after_commit)
    _, result = run(runs.import_steps(store, inspection(load_small()), "merge"))
    assert result.outcome == "succeeded" and result.audit_id is not None
    assert [e["outcome"] for e in audit.list_entries(store)] == ["succeeded"]
    assert store.counts()["observations"] == 500
