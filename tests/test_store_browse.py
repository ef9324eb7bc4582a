"""The store browser's store side: the full-text index kept in step with every write, searches,
filters, pages, one record, facets, exporting a selection, and building the index of an older
store."""

from __future__ import annotations

import json
import os
import sqlite3
import stat

import pytest
from store_helpers import (
    dump,
    export,
    index_differences,
    inspection,
    load_small,
    memory,
    observation,
    run,
    search_shadow,
    session,
    stored,
)

from wizard import runs
from wizard.core.names import Operation, Outcome
from wizard.core.problems import Cancelled
from wizard.core.steps import drive
from wizard.store import audit, browse, importer, pruning
from wizard.store.browse import BrowseFilter
from wizard.store.database import open_store
from wizard.store.models import SPECS


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "store.sqlite") as s:
        yield s


def _import(store, data, strategy="merge", cancel=None):
    _, result = run(runs.import_steps(store, inspection(data), strategy, cancel))
    return result


def _ok(store, data, strategy="merge"):
    result = _import(store, data, strategy)
    assert result.ok, result.error
    return result


def keys(store, collection="memories", text="", **filters) -> list[str]:
    """The keys of every match, in page order (and the count agrees)."""
    f = BrowseFilter(collection=collection, text=text, **filters)
    rows = browse.page(store, f, 0, 10_000)
    assert browse.count(store, f) == len(rows)
    return [r.key for r in rows]


def in_step(store) -> None:
    assert not browse.needs_index(store)
    assert index_differences(store.path) == {}


# -- searching ---------------------------------------------------------------------------------
def test_search_finds_a_word_of_an_imported_memory(store):
    _ok(
        store,
        export(
            memories=[
                memory("m1", "The Café on the corner serves crêpes\nand coffee"),
                memory("m2", "Nothing to see"),
            ]
        ),
    )
    f = BrowseFilter(collection="memories", text="cafe")
    assert browse.count(store, f) == 1
    [row] = browse.page(store, f, 0, 50)
    assert row.key == "m1" and row.collection == "memories"
    assert "Café" in row.snippet and "\n" not in row.snippet
    # case and accents ignored, every word needed, a word ending in * is a prefix
    assert keys(store, text="CRÊPES café") == ["m1"]
    assert keys(store, text="coffee") == ["m1"]  # after a line break
    assert keys(store, text="cre*") == ["m1"]
    assert keys(store, text="cafe nothing") == []
    assert keys(store, text="cre") == []
    assert keys(store, text='"(-*)"') == []  # no word at all: nothing
    assert sorted(keys(store, text="  ")) == ["m1", "m2"]  # blank: everything
    in_step(store)


def test_search_covers_the_indexed_fields_of_every_collection(store):
    _ok(
        store,
        export(
            sessions=[session("s1", project="/home/dev/alpha", firstPrompt="fix the zebra")],
            observations={
                "s1": [
                    observation("o1", "s1", title="gamma title", narrative="delta story"),
                    observation("o2", "s1", facts=["epsilon fact"]),
                ]
            },
            memories=[memory("m1", "kappa content", title="lambda")],
            summaries=[{"sessionId": "s1", "title": "iota", "narrative": "theta"}],
            graphNodes=[{"id": "n1", "type": "concept", "name": "omicron"}],
            graphEdges=[{"id": "e1", "type": "sigma", "sourceNodeId": "n1", "targetNodeId": "n1"}],
        ),
    )
    assert keys(store, "sessions", "alpha") == ["s1"]
    assert keys(store, "sessions", "zebra") == ["s1"]
    assert keys(store, "observations", "gamma") == ["o1"]
    assert keys(store, "observations", "epsilon") == ["o2"]
    assert keys(store, "observations", "delta") == []  # a narrative is not indexed
    assert keys(store, "memories", "kappa lambda") == ["m1"]
    assert keys(store, "summaries", "iota theta") == ["s1"]
    assert keys(store, "graphNodes", "omicron") == ["n1"]
    assert keys(store, "graphEdges", "sigma") == ["e1"]
    assert keys(store, "memories", "gamma") == []  # one collection at a time
    in_step(store)


# -- the index follows every write ---------------------------------------------------------------
BASE = export(
    sessions=[session("s1"), session("s2")],
    observations={"s1": [observation("o1", "s1", title="charlie")]},
    memories=[memory("m1", "alpha"), memory("m2", "bravo"), memory("m3", "steady")],
)


def test_the_index_follows_merge(store):
    _ok(store, BASE)
    changed = export(
        memories=[
            memory("m1", "alpha again"),  # indexed text changed
            memory("m2", "bravo", strength=0.5),  # changed, same indexed text
            memory("m4", "foxtrot"),  # new
        ]
    )
    _ok(store, changed)
    assert keys(store, text="alpha") == ["m1"]
    assert keys(store, text="again") == ["m1"]
    assert keys(store, text="bravo") == ["m2"]
    assert keys(store, text="foxtrot") == ["m4"]
    in_step(store)


def test_the_index_follows_replace(store):
    _ok(store, BASE)
    _ok(store, export(memories=[memory("m2", "delta"), memory("m3", "steady")]), "replace")
    assert keys(store, text="alpha") == []  # deleted
    assert keys(store, text="bravo") == []  # overwritten
    assert keys(store, text="delta") == ["m2"]
    assert keys(store, text="steady") == ["m3"]  # kept as it was
    assert keys(store, "observations", "charlie") == []  # a collection the file lacks
    in_step(store)


def test_the_index_follows_revert(store):
    first = _ok(store, BASE)
    second = _ok(store, export(memories=[memory("m1", "echo"), memory("m5", "golf")]))
    assert keys(store, text="alpha") == [] and keys(store, text="echo") == ["m1"]
    assert runs.revert(store, second.audit_id).ok
    assert keys(store, text="alpha") == ["m1"]  # the previous version is back
    assert keys(store, text="echo") == [] and keys(store, text="golf") == []
    in_step(store)
    third = _ok(store, export(memories=[memory("m2", "hotel")]), "replace")
    assert keys(store, text="alpha") == [] and keys(store, "observations", "charlie") == []
    assert runs.revert(store, third.audit_id).ok
    assert keys(store, text="alpha") == ["m1"] and keys(store, "observations", "charlie") == ["o1"]
    assert keys(store, text="hotel") == []
    in_step(store)
    assert runs.revert(store, first.audit_id).ok
    assert keys(store) == [] and keys(store, "observations") == []
    in_step(store)


def test_prune_leaves_the_index_as_it_is(store):
    _ok(store, BASE)
    _ok(store, export(memories=[memory("m1", "india")]))
    before = search_shadow(store.path)
    prune = pruning.PruneWrite(store, "9999-01-01T00:00:00.000Z")
    entry = audit.entry_base(Operation.PRUNE, Outcome.SUCCEEDED)
    drive(prune.steps(entry, {}, lambda facts: {"duration_ms": 1}))
    assert prune.facts is not None and prune.facts.rows > 0
    assert search_shadow(store.path)["search_memories_data"] == before["search_memories_data"]
    assert keys(store, text="india") == ["m1"]
    in_step(store)


def test_a_cancelled_import_leaves_no_index_rows(store, monkeypatch):
    _ok(store, load_small())
    before = search_shadow(store.path)
    data = load_small()
    for rec in data["memories"]:
        rec["content"] = "juliet"
    for bucket in data["observations"].values():
        for rec in bucket:
            rec["title"] = "juliet"
    monkeypatch.setattr(importer, "CHUNK_ROWS", 100)
    seen = []

    def cancel():
        return sum(1 for p in seen if p.phase == "write") > 3

    gen = runs.import_steps(store, inspection(data), "replace", cancel)
    result = drive(gen, seen.append)
    assert result.outcome == "cancelled"
    assert search_shadow(store.path) == before
    assert keys(store, text="juliet") == [] and keys(store, "observations", "juliet") == []
    in_step(store)


def test_an_error_in_the_index_fails_the_import_and_rolls_it_back(store, monkeypatch):
    _ok(store, BASE)
    before = dump(store.path)
    shadow = search_shadow(store.path)
    spec = SPECS["memories"]
    monkeypatch.setattr(
        type(spec),
        "search_insert_after_sql",
        property(lambda self: "INSERT INTO nowhere VALUES (1)"),
    )
    result = _import(store, export(memories=[memory("m9", "kilo")]))
    assert result.outcome == "failed" and "nowhere" in result.error
    assert dump(store.path) == before and search_shadow(store.path) == shadow


def test_the_index_checker_sees_a_stale_index(store):
    _ok(store, BASE)
    con = sqlite3.connect(store.path)
    con.execute("DELETE FROM memories WHERE id = 'm1'")  # behind the index's back
    con.commit()
    con.close()
    assert "search_memories" in index_differences(store.path)


# -- a store made by an earlier version --------------------------------------------------------
def _as_schema_4(path) -> None:
    """Turn a store back into what schema 4 was: no index, no index state."""
    con = sqlite3.connect(path)
    for (name,) in con.execute(
        "SELECT name FROM sqlite_master WHERE name LIKE 'search%' AND sql LIKE 'CREATE VIRTUAL%'"
    ).fetchall():
        con.execute(f"DROP TABLE {name}")
    con.execute("DROP TABLE search_index")
    con.execute("UPDATE schema_version SET version = 4")
    con.commit()
    con.close()


def test_an_older_store_gets_its_index_built_once(tmp_path):
    path = tmp_path / "store.sqlite"
    with open_store(path) as store:
        _ok(store, load_small())
    _as_schema_4(path)
    with open_store(path) as store:
        assert store.backup is not None  # migrated
        assert browse.needs_index(store)
        # until then a search reads the records
        assert keys(store, "memories", "cache") == keys(store, "memories", "CACHE")
        assert len(keys(store, "memories", "cache")) > 0
        # writes leave the index alone meanwhile; the build covers them
        _ok(store, export(memories=[memory("m-new", "lima")]))
        progress = list(browse.index_steps(store, None))
        total = sum(store.counts()[c] for c in browse.COLLECTIONS)
        assert progress[0] == (0, total) and progress[-1] == (total, total)
        assert [d for d, _ in progress] == sorted(d for d, _ in progress)
        in_step(store)
        assert keys(store, "memories", "lima") == ["m-new"]
        assert list(browse.index_steps(store, None)) == []  # built: nothing to do


def test_building_the_index_can_be_cancelled(tmp_path, monkeypatch):
    path = tmp_path / "store.sqlite"
    with open_store(path) as store:
        _ok(store, load_small())
    _as_schema_4(path)
    monkeypatch.setattr(browse, "BUILD_CHUNK", 50)
    with open_store(path) as store:
        before = search_shadow(path)
        steps = browse.index_steps(store, lambda: True)
        assert next(steps)[0] == 0
        with pytest.raises(Cancelled):
            next(steps)
        assert search_shadow(path) == before
        assert browse.needs_index(store)
        drive(browse.index_steps(store, lambda: False))
        in_step(store)


# -- filters, pages, one record, facets ---------------------------------------------------------
def _source(fmt: str) -> dict:
    return {"system": "mem0", "format": fmt, "raw": {"id": "x"}}


FILTERED = export(
    sessions=[session("s1", project="p1"), session("s2", project="p2", agentId="a2")],
    observations={
        "s1": [observation("o1", "s1", agentId="a1"), observation("o2", "s1")],
        "s2": [observation("o3", "s2", source=_source("mem0-install"))],
    },
    memories=[
        memory("m1", project="p1", agentId="a1", source=_source("mem0-install")),
        memory("m2", project="p2", sessionIds=["s2"]),
        memory("m3"),
    ],
)


def test_filters(store):
    first = _ok(store, FILTERED)
    second = _ok(store, export(memories=[memory("m2", "changed", project="p2", sessionIds=["s2"])]))
    assert sorted(keys(store, project="p1")) == ["m1"]
    assert sorted(keys(store, agent="a1")) == ["m1"]
    assert sorted(keys(store, source_format="mem0-install")) == ["m1"]
    assert sorted(keys(store, audit_id=first.audit_id)) == ["m1", "m3"]
    assert sorted(keys(store, audit_id=second.audit_id)) == ["m2"]
    assert sorted(keys(store, session_id="s2")) == ["m2"]
    assert sorted(keys(store, project="p2", text="changed")) == ["m2"]
    assert keys(store, project="p1", agent="nobody") == []
    # an observation's project is its session's
    assert sorted(keys(store, "observations", project="p1")) == ["o1", "o2"]
    assert sorted(keys(store, "observations", session_id="s2")) == ["o3"]
    assert sorted(keys(store, "observations", agent="a1")) == ["o1"]
    assert sorted(keys(store, "observations", source_format="mem0-install")) == ["o3"]
    assert sorted(keys(store, "sessions", agent="a2")) == ["s2"]
    [row] = browse.page(store, BrowseFilter(collection="observations", agent="a1"), 0, 10)
    assert (row.project, row.agent, row.source_format) == ("p1", "a1", None)
    [row] = browse.page(store, BrowseFilter(collection="memories", agent="a1"), 0, 10)
    assert (row.project, row.agent, row.source_format) == ("p1", "a1", "mem0-install")
    assert row.when == "2026-01-02T00:00:00.000Z" and row.title == "c"

    facets = browse.facets(store, "memories")
    assert facets.projects == ["p1", "p2"] and facets.agents == ["a1"]
    assert facets.formats == ["mem0-install"]
    assert [i for i, _ in facets.imports] == [second.audit_id, first.audit_id]
    assert (
        facets.imports[0][1].startswith(f"#{second.audit_id} ")
        and "(merge)" in facets.imports[0][1]
    )
    assert browse.facets(store, "observations").projects == ["p1", "p2"]
    with pytest.raises(ValueError):
        browse.facets(store, "profiles")


def test_filter_values_are_matched_exactly(store):
    agents = ["a_1", "ab1", "A_1", 'we"ird', "agént", "100%", "1000"]
    _ok(store, export(memories=[memory(f"m{i}", agentId=a) for i, a in enumerate(agents)]))
    for i, agent in enumerate(agents):
        assert keys(store, agent=agent) == [f"m{i}"], agent
        assert keys(store, "memories", "c", agent=agent) == [f"m{i}"], agent
    assert browse.facets(store, "memories").agents == sorted(agents)


def test_pages_are_newest_first_and_stable(store, monkeypatch):
    times = [f"2026-01-{1 + i % 9:02d}T00:00:00.000Z" for i in range(30)]  # ties
    mems = [memory(f"m{i:02d}", "common word", createdAt=t) for i, t in enumerate(times)]
    mems.append(memory("m-none", "common word", createdAt=None))
    _ok(store, export(memories=mems))
    con = sqlite3.connect(store.path)
    rowid = dict(con.execute("SELECT id, rowid FROM memories").fetchall())
    con.close()
    expected = sorted(
        (m["id"] for m in mems),
        key=lambda k: (next(m["createdAt"] for m in mems if m["id"] == k) or "", rowid[k]),
        reverse=True,
    )
    assert expected[-1] == "m-none"  # without a time: last
    for text in ("", "common"):
        f = BrowseFilter(collection="memories", text=text)
        pages = [browse.page(store, f, offset, 7) for offset in range(0, 35, 7)]
        assert [len(p) for p in pages] == [7, 7, 7, 7, 3]
        assert [r.key for p in pages for r in p] == expected
        assert browse.page(store, f, 31, 7) == [] and browse.page(store, f, 0, 0) == []
    # a search matching many records is paged along the time index: the same pages
    monkeypatch.setattr(browse, "_SEARCH_MANY", 0)
    f = BrowseFilter(collection="memories", text="common")
    assert [r.key for r in browse.page(store, f, 3, 20)] == expected[3:23]


def test_record_and_reads_write_nothing(store, tmp_path):
    _ok(store, FILTERED)
    before = dump(store.path)
    entries = audit.list_entries(store)
    rec = browse.record(store, "memories", "m1")
    assert rec is not None and rec["source"] == _source("mem0-install")
    assert rec == stored(store.path, "memories")["m1"]
    assert browse.record(store, "memories", "nope") is None
    assert browse.record(store, "summaries", "s1") is None
    for collection in browse.COLLECTIONS:
        f = BrowseFilter(collection=collection, text="c", project="p1")
        browse.count(store, f)
        browse.page(store, f, 0, 10)
        browse.facets(store, collection)
    browse.export_selection(store, BrowseFilter(), None, tmp_path / "out.json")
    assert dump(store.path) == before and audit.list_entries(store) == entries


def test_unknown_collection_is_refused(store):
    with pytest.raises(ValueError):
        browse.count(store, BrowseFilter(collection="accessLogs"))


# -- exporting a selection -------------------------------------------------------------------
def _round_trip(store, tmp_path, f, keys_=None) -> tuple[dict, dict]:
    out = tmp_path / "selection.json"
    counts = browse.export_selection(store, f, keys_, out)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".selection")]
    data = json.loads(out.read_text(encoding="utf-8"))
    with open_store(tmp_path / "copy.sqlite") as copy:
        _ok(copy, data)
        assert {c: n for c, n in copy.counts().items() if n} == {
            c: n for c, n in counts.items() if n
        }
    return counts, data


def test_export_selection_round_trips_through_the_importer(store, tmp_path):
    small = load_small()
    sid = small["sessions"][2]["id"]
    small["accessLogs"] = [{"memoryId": small["memories"][0]["id"], "count": 3}]
    _ok(store, small)
    # a session brings its observations and its summary
    counts, data = _round_trip(store, tmp_path, BrowseFilter(collection="sessions", session_id=sid))
    assert [s["id"] for s in data["sessions"]] == [sid]
    assert list(data["observations"]) == [sid]
    assert counts["observations"] == len(small["observations"][sid])
    assert [s["sessionId"] for s in data["summaries"]] == [sid]
    originals = stored(store.path, "observations")
    copies = stored(tmp_path / "copy.sqlite", "observations")
    assert copies == {k: originals[k] for k in copies}  # the records as stored, unchanged


def test_export_selection_of_keys_brings_what_they_need(store, tmp_path):
    small = load_small()
    mem = small["memories"][0]["id"]
    small["accessLogs"] = [{"memoryId": mem, "count": 3}]
    _ok(store, small)
    obs = [o["id"] for o in next(iter(small["observations"].values()))[:2]]
    counts, data = _round_trip(store, tmp_path, BrowseFilter(collection="observations"), obs)
    assert counts["observations"] == 2 and counts["sessions"] == 1
    assert counts["memories"] == 0 and data["memories"] == []
    (tmp_path / "copy.sqlite").unlink()
    counts, data = _round_trip(store, tmp_path, BrowseFilter(collection="memories"), [mem])
    assert counts == {
        "sessions": 0,
        "observations": 0,
        "memories": 1,
        "summaries": 0,
        "accessLogs": 1,
    }
    assert data["accessLogs"] == [{"memoryId": mem, "count": 3}]


def test_export_selection_of_a_project_keeps_the_buckets(store, tmp_path):
    small = load_small()
    _ok(store, small)
    project = small["sessions"][0]["project"]
    sessions = [s["id"] for s in small["sessions"] if s["project"] == project]
    f = BrowseFilter(collection="observations", project=project)
    counts, data = _round_trip(store, tmp_path, f)
    assert sorted(data["observations"]) == sorted(sessions)
    for sid in sessions:
        assert [o["id"] for o in data["observations"][sid]] == [
            o["id"] for o in small["observations"][sid]
        ]
    assert sorted(s["id"] for s in data["sessions"]) == sorted(sessions)
    assert counts["observations"] == browse.count(store, f)


def test_a_new_store_needs_no_index_build(store):
    assert not browse.needs_index(store)
    assert list(browse.index_steps(store, None)) == []
    _ok(store, BASE)
    assert not browse.needs_index(store)
    in_step(store)


def test_export_selection_of_a_search(store, tmp_path):
    _ok(store, BASE)
    counts, data = _round_trip(store, tmp_path, BrowseFilter(collection="memories", text="bravo"))
    assert [m["id"] for m in data["memories"]] == ["m2"] and counts["memories"] == 1
