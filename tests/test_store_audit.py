"""Audit history and revert: exact restore, refusal naming the records, revert audited."""

from __future__ import annotations

import pytest
from store_helpers import (
    DATA_TABLES,
    dump,
    export,
    inspection,
    load_small,
    memory,
    observation,
    run,
    session,
)

from wizard import runs
from wizard.core.names import Strategy
from wizard.store import audit
from wizard.store.database import open_store


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "store.sqlite") as s:
        yield s


def _import(store, data, strategy="merge"):
    _, result = run(runs.import_steps(store, inspection(data), strategy))
    assert result.ok, result.error
    return result


def _changed_small() -> dict:
    data = load_small()
    data["sessions"][1]["project"] = "moved"
    bucket = next(iter(data["observations"]))
    data["observations"][bucket][3]["title"] = "retitled"
    data["observations"][bucket].append(observation("obs-new", bucket))
    data["memories"].append(memory("mem-new"))
    data["actions"] = [{"id": "act-1"}]
    return data


@pytest.mark.parametrize("strategy", [str(s) for s in Strategy])
def test_revert_restores_the_previous_state_exactly(store, strategy):
    _import(store, load_small())
    before = dump(store.path)
    result = _import(store, _changed_small(), strategy)
    assert dump(store.path) != before
    preview = runs.preview(store, result.audit_id)
    assert preview.ok
    reverted = runs.revert(store, result.audit_id)
    assert reverted.ok and reverted.outcome == "succeeded"
    assert dump(store.path) == before  # rowids, hashes and last_audit included


def test_revert_of_first_import_empties_the_store(store):
    empty = dump(store.path)
    first = _import(store, load_small())
    assert runs.revert(store, first.audit_id).ok
    assert dump(store.path) == empty


def test_revert_refused_when_a_later_import_changed_the_same_records(store):
    first = _import(store, export(sessions=[session("a"), session("b")], memories=[memory("m")]))
    second = _import(store, export(sessions=[session("b", project="later")]))
    preview = runs.preview(store, first.audit_id)
    assert not preview.ok and preview.conflicts == [("sessions", "b")]
    before = dump(store.path)
    result = runs.revert(store, first.audit_id)
    assert not result.ok and result.outcome == "refused"
    assert result.conflicts == [("sessions", "b")]
    assert "sessions b" in result.error
    assert dump(store.path) == before
    entry = audit.get_entry(store, result.audit_id)
    assert (entry["operation"], entry["outcome"], entry["target_id"]) == (
        "revert",
        "refused",
        first.audit_id,
    )
    # once the later import is reverted, the first one can be
    assert runs.revert(store, second.audit_id).ok
    assert runs.revert(store, first.audit_id).ok
    assert store.counts()["sessions"] == 0


def test_revert_refused_when_a_later_replace_deleted_its_records(store):
    first = _import(store, export(sessions=[session("a")]))
    _import(store, export(sessions=[session("z")]), "replace")
    result = runs.revert(store, first.audit_id)
    assert not result.ok and ("sessions", "a") in result.conflicts


def test_revert_refused_when_a_later_import_rewrote_what_it_deleted(store):
    _import(store, export(sessions=[session("a")]))
    second = _import(store, export(sessions=[session("b")]), "replace")
    _import(store, export(sessions=[session("a", project="again")]))
    result = runs.revert(store, second.audit_id)
    assert not result.ok and result.conflicts == [("sessions", "a")]


def test_unrelated_later_import_does_not_block_revert(store):
    first = _import(store, export(sessions=[session("a")]))
    _import(store, export(sessions=[session("b")]))
    assert runs.revert(store, first.audit_id).ok
    assert next(iter(store.counts().items())) == ("sessions", 1)


def test_revert_is_audited_and_only_once(store):
    first = _import(store, load_small())
    result = runs.revert(store, first.audit_id)
    entries = audit.list_entries(store)
    assert [e["id"] for e in entries] == [result.audit_id, first.audit_id]  # newest first
    assert entries[0]["operation"] == "revert" and entries[0]["outcome"] == "succeeded"
    assert entries[0]["target_id"] == first.audit_id
    assert entries[1]["reverted_by"] == result.audit_id
    again = runs.revert(store, first.audit_id)
    assert not again.ok and "already reverted" in again.error
    assert audit.list_entries(store, limit=1)[0]["outcome"] == "refused"


def test_only_succeeded_imports_can_be_reverted(store):
    first = _import(store, export(sessions=[session("a")]))
    revert = runs.revert(store, first.audit_id)
    assert not runs.revert(store, revert.audit_id).ok  # a revert entry
    assert "no audit entry" in runs.revert(store, 999).error
    with pytest.raises(KeyError):
        audit.get_entry(store, 999)


def test_list_entries_limit_and_paging(store):
    ids = [_import(store, export(sessions=[session(str(i))])).audit_id for i in range(5)]
    assert [e["id"] for e in audit.list_entries(store, limit=2)] == ids[::-1][:2]
    assert [e["id"] for e in audit.list_entries(store, limit=2, before=ids[3])] == [
        ids[2],
        ids[1],
    ]


def test_audit_history_survives_replace(store):
    first = _import(store, load_small())
    _import(store, export(sessions=[session("only")]), "replace")
    assert audit.get_entry(store, first.audit_id)["outcome"] == "succeeded"
    assert store.counts()["observations"] == 0
    assert set(DATA_TABLES) >= {"sessions", "other_records"}
