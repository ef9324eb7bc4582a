"""Memory that does not grow with the file: the spool, the reader's bounds, the importer that
asks the store a run at a time, and replace keeping only what changes (issue 14)."""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from store_helpers import FIXTURES, dump, export, memory, observation, run, session
from streaming_helpers import peak_of_a_migration

from wizard import runs
from wizard.core import fastjson, jsonstream, spool, validation
from wizard.core.inspection import InspectOptions, inspect_file
from wizard.core.problems import Code
from wizard.core.spool import RecordList, Spool, iter_chunks
from wizard.store.database import open_store

SMALL_BUDGET = 64 * 1024  # the reader keeps this much before it spools


@pytest.fixture
def spill_early(monkeypatch):
    monkeypatch.setattr(spool, "SPILL_AFTER", SMALL_BUDGET)


def write_export(path: Path, sessions: int, per_session: int, memories: int, tag: str = "") -> Path:
    """An agentmemory export of about 600 bytes a record, written a piece at a time."""
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"version":"0.9.5","exportedAt":"2026-02-01T00:00:00.000Z","sessions":[')
        f.write(
            ",".join(json.dumps(session(f"s{i}", project=f"p{i % 7}")) for i in range(sessions))
        )
        f.write('],"observations":{')
        for i in range(sessions):
            bucket = [
                observation(f"o{i}-{j}", f"s{i}", title=f"t{tag}", narrative="n " * 100)
                for j in range(per_session)
            ]
            f.write(("," if i else "") + json.dumps(f"s{i}") + ":" + json.dumps(bucket))
        f.write('},"memories":[')
        f.write(
            ",".join(
                json.dumps(memory(f"m{i}", content=f"memory {i} {tag} " + "x" * 300))
                for i in range(memories)
            )
        )
        f.write('],"summaries":[]}')
    return path


# -- the spool ----------------------------------------------------------------------------------


def test_record_list_is_a_sequence_of_its_records():
    records = [{"id": f"r{i}", "n": i} for i in range(5000)]
    spooled = RecordList(Spool(), records)
    assert len(spooled) == 5000 and spooled and spooled == records
    assert spooled[0] == records[0] and spooled[-1] == records[-1]
    assert spooled[1999:2002] == records[1999:2002]
    assert [len(c) for c in iter_chunks(spooled, 1500)] == [1500, 500, 1500, 500, 1000]
    spooled.extend_text('[{"id":"t1"},{"id":"t2"}]', 2)
    assert len(spooled) == 5002 and spooled[-1] == {"id": "t2"}
    with pytest.raises(IndexError):
        spooled[5002]
    assert not RecordList(Spool())


def test_the_spool_groups_and_ranks_keys_holding_a_lone_surrogate():
    """Ids come from JSON, which may escape half a surrogate pair alone ("\\ud800"): SQLite's
    text cannot hold it, so the spool keeps keys as bytes and gives them back as they were
    (a memory id like that once refused a whole spooled OpenMemory backup)."""
    entries = [("\ud800a", 0, {"t": "\udfff"}), ("b", 1, 2), ("\ud800a", 2, 3)]
    assert list(spool.grouped(iter(entries), Spool())) == list(spool.grouped(iter(entries), None))
    ranked = [("\ud800", "2", 0), ("\ud800", "1", 1), ("z", "\udfff", 2), ("z", "a", 3)]
    for where in (Spool(), None):
        keys, losers = spool.latest(iter(ranked), where)
        assert (keys, list(losers)) == (2, [1, 3])


def test_a_spool_is_private_and_removed_with_its_last_list():
    spooled = RecordList(Spool(), [{"id": "a"}])
    folder = Path(spooled.spool.folder)
    assert folder.is_dir() and (folder.stat().st_mode & 0o777) == 0o700
    del spooled
    gc.collect()
    assert not folder.exists()


def test_a_spool_left_by_a_killed_process_is_removed_next_time(tmp_path):
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = tmp_path / f"{spool.SPOOL_PREFIX}{child.stdout.strip()}-abc"
    stale.mkdir()
    (stale / "records.sqlite").write_bytes(b"x")
    mine = Spool(str(tmp_path))
    assert not stale.exists() and Path(mine.folder).exists()
    mine.close()
    assert not Path(mine.folder).exists()


def test_the_reader_spools_past_its_budget_and_reads_the_same_records(tmp_path, spill_early):
    path = write_export(tmp_path / "big.json", sessions=40, per_session=20, memories=300)
    expected = json.loads(path.read_text())
    insp = inspect_file(path)
    assert insp.ok, insp.report.errors
    data = insp.data
    assert isinstance(data["memories"], RecordList)  # past the budget: spooled
    assert any(isinstance(b, RecordList) for b in data["observations"].values())
    assert list(data["memories"]) == expected["memories"]
    assert {k: list(v) for k, v in data["observations"].items()} == expected["observations"]


def _encoded(insp) -> str:
    data = dict(insp.data)
    data.pop("exportedAt")  # (the time of the conversion)
    return json.dumps({k: list(v) if isinstance(v, RecordList) else v for k, v in data.items()})


@pytest.mark.parametrize(
    "name",
    [
        "mem0-real-oss-2.2.1-getall-all-users.json",
        "mem0-synth-oss-getall-v1_1-relations.json",
        "mem0-synth-platform-getall-v3-page.json",
        "mem0-synth-oss-qdrant-export.json",
        "mem0-docs-platform-getall-graph.json",
        "mem0-real-oss-2.2.1-getall-bob-list.json",  # a bare list: the document is spooled
        "mem0-docs-platform-v2-getall-list.json",
        "mem0-real-oss-2.2.1-history.json",  # history rows, grouped by memory in the spool
        "mem0-synth-oss-history.json",
        "mem0-docs-oss-history-ts-shape.json",
    ],
)
def test_mem0_item_lists_convert_from_the_spool_the_same(name, monkeypatch):
    path = FIXTURES / "mem0" / name
    plain = inspect_file(path)
    monkeypatch.setattr(spool, "SPILL_AFTER", -1)  # every record array spooled
    spooled = inspect_file(path)
    assert spooled.ok == plain.ok and spooled.report.format == plain.report.format
    assert spooled.report.counts == plain.report.counts
    assert [p.message for p in spooled.report.warnings] == [
        p.message for p in plain.report.warnings
    ]
    assert isinstance(spooled.data["memories"], RecordList)  # converted a chunk at a time
    assert _encoded(spooled) == _encoded(plain)


def test_other_formats_are_read_back_into_memory_and_convert_the_same(monkeypatch):
    path = FIXTURES / "letta" / "memgpt_agent_with_convo.af"
    plain = inspect_file(path)
    monkeypatch.setattr(spool, "SPILL_AFTER", -1)  # every record array spooled
    spooled = inspect_file(path)
    assert spooled.ok and spooled.report.format == plain.report.format
    assert spooled.report.counts == plain.report.counts
    assert not spool.holds_spooled(spooled.data)
    assert json.dumps(_encoded(spooled)) == json.dumps(_encoded(plain))


def test_no_room_for_the_spool_is_a_clear_refusal(tmp_path, spill_early, monkeypatch):
    import tempfile

    path = write_export(tmp_path / "big.json", sessions=10, per_session=20, memories=300)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    [problem] = inspect_file(path).report.errors
    assert problem.code == Code.NO_TEMP_SPACE
    assert str(tmp_path / "gone") in problem.message and "free some space" in problem.message


# -- memory that does not grow with the input ---------------------------------------------------


def test_memory_does_not_grow_with_the_input(tmp_path, spill_early):
    """The same export at two sizes (four times as many records): the larger must not take
    much more memory. A reader or importer that keeps records in Python fails this."""
    # (both larger than the chunks records are read and written in)
    small = write_export(tmp_path / "small.json", sessions=60, per_session=40, memories=3000)
    large = write_export(tmp_path / "large.json", sessions=240, per_session=40, memories=12000)
    assert large.stat().st_size > 3.5 * small.stat().st_size
    peak_small = peak_of_a_migration(small, tmp_path / "small.sqlite")
    peak_large = peak_of_a_migration(large, tmp_path / "large.sqlite")
    assert peak_large < 1.3 * peak_small + 2 * 1024 * 1024, (peak_small, peak_large)


def write_mem0_export(path: Path, memories: int) -> Path:
    """A mem0 get_all export of about 700 bytes a memory: seven users, a run for every tenth
    memory, one memory in fifty repeated later with a newer update (kept, the older dropped)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"results":[')
        for i in range(memories):
            repeat = i % 50 == 49
            mid = f"00000000-0000-0000-0000-{(i - 25 if repeat else i):012d}"
            item = {
                "id": mid,
                "memory": f"memory {i} " + "y" * 500,
                "hash": "h",
                "metadata": {"n": i, "api_key": "sk-secret-value"},
                "created_at": "2026-11-01T10:00:00+00:00",
                "updated_at": f"2026-11-{2 if repeat else 1:02d}T10:00:00+00:00",
                "user_id": f"user{i % 7}",
                "run_id": f"run-{i // 10}",
            }
            f.write(("," if i else "") + json.dumps(item))
        f.write("]}")
    return path


def test_memory_of_a_mem0_export_does_not_grow_with_it(tmp_path, spill_early):
    """mem0's item lists convert from the spool: four times the memories, about the same
    peak (a converter that builds the memories in Python fails this)."""
    small = write_mem0_export(tmp_path / "small.json", 3000)
    large = write_mem0_export(tmp_path / "large.json", 12000)
    insp = inspect_file(large)
    assert isinstance(insp.data["memories"], RecordList)
    assert insp.ok and insp.report.format == "mem0-oss"
    assert len(insp.data["memories"]) == 12000 - 12000 // 50  # the older repeats dropped
    assert "sk-secret-value" not in _encoded(insp)  # redacted in the spool too
    del insp
    peak_small = peak_of_a_migration(small, tmp_path / "small.sqlite")
    peak_large = peak_of_a_migration(large, tmp_path / "large.sqlite")
    assert peak_large < 1.3 * peak_small + 2 * 1024 * 1024, (peak_small, peak_large)


# -- the reader's bounds ------------------------------------------------------------------------


def test_buckets_past_what_the_reader_keeps_are_counted_for_the_caps(tmp_path, monkeypatch):
    from wizard.core import caps

    monkeypatch.setattr(jsonstream, "MAX_OBJECT_KEYS", 50)
    monkeypatch.setattr(caps, "LIMITS", (("observationBuckets", 40, "Too many buckets"),))
    obs = {f"s{i}": [observation(f"o{i}-{j}", f"s{i}") for j in range(i % 3)] for i in range(120)}
    path = tmp_path / "buckets.json"
    path.write_text(json.dumps(export(observations=obs)))
    insp = inspect_file(path)
    assert not insp.ok
    [cap] = insp.report.caps
    assert (cap.name, cap.count) == ("observationBuckets", 120)  # exact, not the 50 kept
    assert any(p.code == Code.CAP_EXCEEDED for p in insp.report.errors)


def test_the_validator_lets_go_of_an_array_no_cap_bounds(monkeypatch):
    """Another format's big table (OpenMemory's status history) is fed to the validator as
    the reader decodes it: past MAX_UNCAPPED_KEYS keys it stops (spoiled) instead of keeping
    a key per row, and preflight checks the converted data."""
    monkeypatch.setattr(validation, "MAX_UNCAPPED_KEYS", 10)
    validator = validation.RecordValidator()
    validator.feed("memories", None, 0, [memory(f"m{i}") for i in range(30)])
    assert not validator.spoiled  # (a capped collection keeps its keys up to its cap)
    validator.feed("status_history", None, 0, [{"id": f"h{i}"} for i in range(30)])
    assert validator.spoiled and not validator._collections


def test_a_faiss_docstore_past_what_the_reader_keeps_is_read_whole(tmp_path, monkeypatch):
    """mem0's FAISS file keys its memories by id in one object: the entries past the first
    ones go to the spool instead of being counted, and every memory converts, as from a
    small file."""
    docstore = {
        f"id-{i}": {"data": f"memory {i}", "user_id": "alice", "hash": "h"} for i in range(120)
    }
    index = {str(i): f"id-{i}" for i in range(120)}
    path = tmp_path / "mem0.json"
    path.write_text(json.dumps({"docstore": docstore, "index_to_id": index}))
    plain = inspect_file(path)
    monkeypatch.setattr(jsonstream, "MAX_OBJECT_KEYS", 50)
    spooled = inspect_file(path)
    assert spooled.ok and spooled.report.format == "mem0-faiss"
    assert [m["id"] for m in spooled.data["memories"]] == [f"id-{i}" for i in range(120)]
    assert _encoded(spooled) == _encoded(plain)


def test_a_record_past_the_record_limit_is_refused_with_its_place(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonstream, "RECORD_LIMIT", 100_000)
    path = tmp_path / "huge.json"  # one record of 300 KB: read element by element
    path.write_text(
        json.dumps(export(memories=[memory("m0"), memory("m1", concepts=["c"] * 60_000)]))
    )
    insp = inspect_file(path)
    [problem] = insp.report.errors
    assert problem.code == Code.RECORD_TOO_LARGE and problem.path == "memories[1]"
    assert problem.line == 1 and problem.column


def test_a_document_of_too_many_fields_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonstream, "MAX_OBJECT_KEYS", 10)
    path = tmp_path / "wide.json"
    path.write_text(json.dumps({f"k{i}": i for i in range(11)}))
    [problem] = inspect_file(path).report.errors
    assert problem.code == Code.TOO_MANY_FIELDS


def test_invalid_records_past_the_first_ones_are_counted_and_still_left_out(tmp_path, monkeypatch):
    monkeypatch.setattr(validation, "MAX_INVALID_LISTED", 5)
    bad = [memory(f"m{i}") for i in range(20)]
    for rec in bad[::2]:
        rec["strength"] = "strong"
    path = tmp_path / "invalid.json"
    path.write_text(json.dumps(export(memories=bad)))
    refused = inspect_file(path)
    invalid = [p for p in refused.report.errors if p.code == Code.INVALID_RECORD]
    assert [p.path for p in invalid[:5]] == [f"memories[{i}]" for i in range(0, 10, 2)]
    assert invalid[5].message == "and 5 more invalid records (10 in all)"
    skipped = inspect_file(path, InspectOptions(skip_invalid=True))
    assert skipped.ok and skipped.report.skipped_invalid_total == 10
    assert len(skipped.report.skipped_invalid) == 5
    assert [m["id"] for m in skipped.data["memories"]] == [f"m{i}" for i in range(1, 20, 2)]


# -- records as the store keeps them ------------------------------------------------------------

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_fastjson_writes_what_json_writes_or_says_it_may_differ(value):
    text, data = fastjson.dumps_utf8(value)
    assert data == text.encode("utf-8") and json.loads(text) == value
    try:
        expected = _COMPACT(value).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: escaped by both
        expected = fastjson.json_utf8(value)
    assert data == expected or fastjson.maybe_json_differs(data)
    assert fastjson.json_utf8(value) == expected


def test_a_record_stored_in_the_earlier_text_is_unchanged_when_imported_again(tmp_path):
    db = tmp_path / "store.sqlite"
    path = tmp_path / "small-float.json"
    path.write_text(json.dumps(export(memories=[memory("m1", strength=1e-05)])))
    with open_store(db) as store:
        run(runs.import_steps(store, runs.read(path, InspectOptions()), "merge"))
    # as 0.2.0 stored it: json's text ("1e-05"), its hash, and an entry of that version
    con = sqlite3.connect(db)
    (text,) = con.execute("SELECT data FROM memories").fetchone()
    assert '"strength":0.00001' in text
    old = text.replace("0.00001", "1e-05")
    from wizard.store.importer import content_hash

    con.execute("UPDATE memories SET data = ?, hash = ?", (old, content_hash(old)))
    con.execute("UPDATE audit_log SET app_version = '0.2.0'")
    con.commit()
    con.close()
    with open_store(db) as store:
        result = run(runs.import_steps(store, runs.read(path, InspectOptions()), "merge"))[1]
    assert result.collections["memories"].unchanged == 1
    assert result.collections["memories"].updated == 0


# -- replace keeps only what changes ------------------------------------------------------------


def test_repeated_replaces_keep_no_revert_data_for_identical_records(tmp_path):
    db = tmp_path / "store.sqlite"
    path = write_export(tmp_path / "a.json", sessions=5, per_session=4, memories=10)
    with open_store(db) as store:
        run(runs.import_steps(store, runs.read(path, InspectOptions()), "merge"))
    size = os.path.getsize(db)
    for _ in range(5):
        with open_store(db) as store:
            result = run(runs.import_steps(store, runs.read(path, InspectOptions()), "replace"))[1]
        assert result.ok and sum(p.deleted for p in result.collections.values()) == 0
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM audit_changes").fetchone()[0] == 0
    con.close()
    assert os.path.getsize(db) <= size + 5 * 8192  # the five audit entries, no copies


def test_a_replace_logs_what_it_changes_and_deletes_and_its_revert_restores_the_store(tmp_path):
    db = tmp_path / "store.sqlite"
    first = tmp_path / "first.json"
    first.write_text(
        json.dumps(
            export(
                sessions=[session("a"), session("b"), session("c")],
                memories=[memory("m1"), memory("m2")],
                actions=[{"id": "x1"}],
            )
        )
    )
    second = tmp_path / "second.json"
    second.write_text(
        json.dumps(export(sessions=[session("b"), session("c", project="new"), session("d")]))
    )
    with open_store(db) as store:
        run(runs.import_steps(store, runs.read(first, InspectOptions()), "merge"))
    before = dump(db)
    with open_store(db) as store:
        result = run(runs.import_steps(store, runs.read(second, InspectOptions()), "replace"))[1]
    plans = {n: p.to_dict() for n, p in result.collections.items()}
    assert plans["sessions"] == {
        "inserted": 1,
        "updated": 1,
        "unchanged": 1,
        "skipped": 0,
        "deleted": 1,
    }
    assert plans["memories"]["deleted"] == 2 and plans["actions"]["deleted"] == 1
    con = sqlite3.connect(db)
    logged = con.execute("SELECT collection, key FROM audit_changes ORDER BY 1, 2").fetchall()
    con.close()
    assert logged == [("actions", "x1"), ("memories", "m1"), ("memories", "m2")] + [
        ("sessions", "a"),
        ("sessions", "c"),
    ]
    with open_store(db) as store:
        reverted = runs.revert(store, result.audit_id)
    assert reverted.ok
    after = dump(db)
    assert {t: sorted(r[:-1] for r in rows) for t, rows in after.items()} == {
        t: sorted(r[:-1] for r in rows) for t, rows in before.items()
    }


def test_a_replace_dry_run_writes_nothing_and_plans_what_the_replace_does(tmp_path):
    from wizard.store import importer

    db = tmp_path / "store.sqlite"
    first = write_export(tmp_path / "a.json", sessions=6, per_session=3, memories=8)
    second = write_export(tmp_path / "b.json", sessions=4, per_session=3, memories=12, tag="v2")
    with open_store(db) as store:
        run(runs.import_steps(store, runs.read(first, InspectOptions()), "merge"))
    insp = runs.read(second, InspectOptions())
    with open_store(db) as store:
        store.database.execute_sql("PRAGMA query_only = 1")  # not even a temporary table
        planned = importer.plan(store, insp, "replace")
        store.database.execute_sql("PRAGMA query_only = 0")
        result = run(runs.import_steps(store, insp, "replace"))[1]
    assert planned.to_dict()["collections"] == {
        n: p.to_dict() for n, p in result.collections.items()
    }
    assert planned.collections["sessions"].deleted == 2
    assert planned.collections["memories"].to_dict() == {
        "inserted": 4,
        "updated": 8,
        "unchanged": 0,
        "skipped": 0,
        "deleted": 0,
    }


@pytest.mark.parametrize("budget", [None, 0])  # records in memory, or all spooled
def test_records_validated_while_read_give_the_report_preflight_gives(
    tmp_path, monkeypatch, budget
):
    from wizard.core import preflight

    if budget is not None:
        monkeypatch.setattr(spool, "SPILL_AFTER", budget)
    bad_session = session("s2")
    bad_session["status"] = "paused"  # an unknown value
    doc = {
        "memories": [memory("m1"), memory("m2", strength="x"), memory("m1", content="again")],
        "version": "0.9.5",
        "observations": {
            "s1": [observation("o1", "s1"), observation("o2", "s1", importance="high")],
            "s2": [observation("o1", "s2", type="telepathy")],
        },
        "sessions": [session("s1"), bad_session, session("", project="p")],
        "pagination": {"offset": 0, "limit": 10, "total": 3},
    }
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(doc))
    read = inspect_file(path).report
    checked = preflight.check(json.loads(path.read_text()), "agentmemory")

    def found(report):
        codes = {Code.INVALID_RECORD, Code.DUPLICATE_KEY, Code.UNKNOWN_VALUE}
        return [
            (p.code, p.path, p.message) for p in report.errors + report.warnings if p.code in codes
        ]

    assert found(read) == found(checked)
    assert [c for c, _p, _m in found(read)].count(Code.INVALID_RECORD) == 3
    assert read.counts == checked.counts


def test_a_repeated_skip_counts_spooled_runs_by_their_keys_and_misses_nothing(
    tmp_path, monkeypatch
):
    """Skip over a store that holds a spooled run whole counts it by the keys the reader noted,
    without decoding it; a run with a new record is still looked at record by record, and a
    record repeating its id field is keyed by the value Python keeps (the last)."""
    import shutil

    first = write_export(tmp_path / "a.json", sessions=20, per_session=30, memories=3000)
    db = tmp_path / "store.sqlite"
    with open_store(db) as store:
        run(runs.import_steps(store, runs.read(first, InspectOptions()), "merge"))
    shutil.copy(db, tmp_path / "in-memory.sqlite")
    text = first.read_text()
    # one record repeats its id: Python keeps the last ("m-new"), a text search the first
    text = text.replace('{"id": "m2600", ', '{"id": "m0", "id": "m-new", ', 1)
    text = text.replace('"memories":[', '"memories":[' + json.dumps(memory("m-first")) + ",", 1)
    # a new observation in a bucket among others the store holds (buckets are asked together)
    new = json.dumps(observation("o-new", "s10"))
    text = text.replace('"s10":[', '"s10":[' + new + ",", 1)
    second = tmp_path / "b.json"
    second.write_text(text)
    plans = {}
    for name, budget in (("store", SMALL_BUDGET), ("in-memory", None)):
        monkeypatch.setattr(spool, "SPILL_AFTER", budget)
        path = tmp_path / f"{name}.sqlite" if name != "store" else db
        with open_store(path) as store:
            result = run(runs.import_steps(store, runs.read(second, InspectOptions()), "skip"))[1]
        plans[name] = {n: p.to_dict() for n, p in result.collections.items()}
    assert plans["store"] == plans["in-memory"]
    assert plans["store"]["memories"]["inserted"] == 2  # m-first and m-new
    assert plans["store"]["observations"]["inserted"] == 1
    assert dump(db) == dump(tmp_path / "in-memory.sqlite")


def test_the_head_of_a_spooled_list_decodes_only_what_it_returns(monkeypatch):
    records = [{"id": f"r{i}"} for i in range(3000)]
    spooled = RecordList(Spool(), records)
    decoded = []
    original = json.JSONDecoder.raw_decode
    monkeypatch.setattr(
        json.JSONDecoder,
        "raw_decode",
        lambda self, s, idx=0: decoded.append(idx) or original(self, s, idx),
    )
    assert spooled.head(3) == records[:3]
    assert len(decoded) == 3
    assert RecordList(Spool(), []).head(5) == []


def test_an_agentmemory_export_in_a_zip_is_still_validated(tmp_path):
    import zipfile

    bad = export(memories=[memory("m1"), memory("m2", strength="x")])
    path = tmp_path / "backup.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("memories.json", json.dumps(bad))
    insp = inspect_file(path)
    assert not insp.ok
    assert [p.path for p in insp.report.errors if p.code == Code.INVALID_RECORD] == ["memories[1]"]


def test_the_record_limit_is_agentmemorys_not_another_formats(tmp_path, monkeypatch):
    """A Letta agent is one element of ``agents`` and may be big: it is converted, not sent as
    one record, so agentmemory's frame limit does not apply to it."""
    path = FIXTURES / "letta" / "evie.af"
    plain = inspect_file(path)
    monkeypatch.setattr(jsonstream, "SMALL_MAX", 1024)  # arrays read element by element
    monkeypatch.setattr(jsonstream, "RECORD_LIMIT", 2048)
    limited = inspect_file(path)
    assert limited.ok and limited.report.counts == plain.report.counts
    big = tmp_path / "big.json"
    big.write_text(json.dumps(export(memories=[memory("m1", content="x" * 5000)])))
    [problem] = inspect_file(big).report.errors
    assert problem.code == Code.RECORD_TOO_LARGE and problem.path == "memories[0]"


def test_only_the_arrays_that_lose_a_record_are_rebuilt(tmp_path, spill_early):
    path = write_export(tmp_path / "a.json", sessions=20, per_session=30, memories=3000)
    doc = json.loads(path.read_text())
    doc["observations"]["s3"][4]["importance"] = "high"  # invalid
    doc["observations"]["s5"].append(dict(doc["observations"]["s5"][0]))  # a repeated id
    path.write_text(json.dumps(doc))
    plain = inspect_file(path, InspectOptions(skip_invalid=True))
    insp = inspect_file(path, InspectOptions(skip_invalid=True))
    buckets = insp.data["observations"]
    assert len(buckets["s3"]) == 29 and len(buckets["s5"]) == 30
    assert plain.report.counts == insp.report.counts
    # the other spooled arrays are the reader's own (with the keys it noted)
    untouched = [b for sid, b in buckets.items() if sid not in ("s3", "s5")]
    assert any(isinstance(b, RecordList) for b in untouched)
    assert isinstance(insp.data["memories"], RecordList)
    refs = insp.data["memories"].chunk_refs()
    noted = insp.data["memories"].spool.keys_of([c for c, _n in refs])
    assert all(keys is not None for keys in noted.values())


def test_another_format_too_big_for_this_computers_memory_is_refused_before_it_is_read(
    monkeypatch,
):
    path = FIXTURES / "letta" / "memgpt_agent_with_convo.af"  # (an Agent File does not stream)
    monkeypatch.setattr(spool, "SPILL_AFTER", -1)  # its records spooled
    monkeypatch.setattr(spool, "available_memory", lambda: 1000)  # (its need: tens of KB)
    [problem] = inspect_file(path).report.errors
    assert problem.code == Code.NOT_ENOUGH_MEMORY
    assert "MB free" in problem.message and "split the export" in problem.message
    monkeypatch.setattr(spool, "available_memory", lambda: None)  # unknown: no refusal
    assert inspect_file(path).ok
