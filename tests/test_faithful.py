"""A faithful migration, tried as a new user would, end to end through the command line: nothing
mixed between users, nothing revived, no secret kept, every loss said; and the upgrade path for
stores written before records got their owner-scoped ids (README, "Upgrading")."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from store_helpers import FIXTURES, dump

from wizard import runs
from wizard.cli import main
from wizard.core.inspection import inspect_file, source_info
from wizard.core.report import Report
from wizard.store import audit
from wizard.store.database import open_store

MEM0 = FIXTURES / "mem0"
ALICE = MEM0 / "mem0-real-oss-2.2.1-getall-alice.json"
BOB = MEM0 / "mem0-real-oss-2.2.1-getall-bob-list.json"
ALL_USERS = MEM0 / "mem0-real-oss-2.2.1-getall-all-users.json"
OPENMEMORY = MEM0 / "openmemory-real-export.zip"
LETTA = FIXTURES / "letta"
SECRET = "sk-FAKE-SECRET-VALUE-0123456789"


@pytest.fixture
def db(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "store.sqlite"
    monkeypatch.setenv("AGENTMEMORY_WIZARD_DB", str(path))
    monkeypatch.setenv("AGENTMEMORY_WIZARD_LOG_DIR", str(tmp_path / "logs"))
    return path


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def _rows(db: Path, table: str, where: str, *params: object) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(f"SELECT * FROM {table} WHERE {where}", params).fetchall()
    finally:
        con.close()


def test_two_users_files_leave_each_others_records_untouched(db, capsys):
    """alice's and bob's files both use run-2: two sessions, nothing of alice's rewritten."""
    assert main(["import", str(ALICE), "--json"]) == 0
    capsys.readouterr()
    alice_before = dump(db, ("sessions", "memories"))
    assert main(["import", str(BOB), "--json"]) == 0
    out = _json(capsys)
    bob = out["collections"]
    assert bob["sessions"]["updated"] == 0 and bob["memories"]["updated"] == 0
    assert bob["sessions"]["inserted"] == 2  # bob's own runs: his run-2, and run-3
    after = dump(db, ("sessions", "memories"))
    for table, rows in alice_before.items():
        assert set(rows) <= set(after[table]), table  # every alice row as it was
    runs_of = {}
    for _rowid, _sid, project, *_rest in after["sessions"]:
        raw = json.loads(_rest[-2])["source"]["raw"]
        runs_of.setdefault(raw["run_id"], set()).add(project)
    assert runs_of["run-2"] == {"mem0:user:alice", "mem0:user:bob"}


def test_no_user_id_is_lost(db, capsys):
    data = inspect_file(ALL_USERS).data
    for memory in data["memories"]:
        raw = memory["source"]["raw"]
        assert memory["project"] == f"mem0:user:{raw['user_id']}"
        assert memory.get("agentId") == raw.get("agent_id")
    # the same memory reaches the same record from another export of it
    alice = {m["id"]: m for m in inspect_file(ALICE).data["memories"]}
    for memory in data["memories"]:
        if memory["id"] in alice:
            same = alice[memory["id"]]
            assert (same["project"], same["sessionIds"]) == (
                memory["project"],
                memory["sessionIds"],
            )


def test_no_archived_or_paused_memory_comes_back_live(db, capsys):
    assert main(["import", str(OPENMEMORY)]) == 0
    states = {json.loads(r[-2])["state"] for r in dump(db, ("memories",))["memories"]}
    assert states == {"active"}
    err = capsys.readouterr().out
    assert "2 memories not active (1 paused, 1 archived) left out" in err
    assert main(["import", str(OPENMEMORY), "--include-inactive"]) == 0
    records = [json.loads(r[-2]) for r in dump(db, ("memories",))["memories"]]
    assert {r["state"] for r in records} == {"active", "paused", "archived"}
    assert all(r["isLatest"] is (r["state"] == "active") for r in records)


@pytest.mark.parametrize("name", sorted(p.name for p in LETTA.glob("*.af")))
def test_every_letta_memory_is_scoped(name):
    data = inspect_file(LETTA / name).data
    assert data["memories"]
    for memory in data["memories"]:
        assert memory.get("project", "").startswith("letta:"), memory["id"]
        assert memory.get("agentId") or len(memory["sessionIds"]) > 1, memory["id"]


def _with_secrets(tmp_path: Path) -> Path:
    """alice's real file with credentials added where a user's metadata might hold them."""
    items = json.loads(ALICE.read_text(encoding="utf-8"))["results"]
    items[0]["metadata"]["api_key"] = SECRET
    items[1]["metadata"]["headers"] = {"Authorization": f"Bearer {SECRET}"}
    path = tmp_path / "alice-with-secrets.json"
    path.write_text(json.dumps({"results": items}), encoding="utf-8")
    return path


def test_no_secret_value_in_the_store_an_export_or_a_log(db, tmp_path, capsys):
    source = _with_secrets(tmp_path)
    assert main(["validate", str(source), "--json", "--preview", "10"]) == 0
    report = capsys.readouterr().out
    assert SECRET not in report
    warning = next(w for w in json.loads(report)["warnings"] if w["code"] == "secret-redacted")
    assert "api_key" in warning["message"] and "Authorization" in warning["message"]
    assert main(["import", str(source)]) == 0
    assert main(["export", "--out", str(tmp_path / "export.json")]) == 0
    letta = LETTA / "derived" / "loop.with-secrets.af"
    assert main(["import", str(letta)]) == 0
    assert main(["export", "--out", str(tmp_path / "export2.json")]) == 0
    capsys.readouterr()
    written = [*tmp_path.glob("store.sqlite*"), tmp_path / "export.json", tmp_path / "export2.json"]
    written += [p for p in (tmp_path / "logs").rglob("*") if p.is_file()]
    for path in written:
        assert SECRET.encode() not in path.read_bytes(), path.name
        assert b"FAKE-" not in path.read_bytes(), path.name  # the Letta fixture's fake secrets
    [memory] = [
        json.loads(r[-2])
        for r in dump(db, ("memories",))["memories"]
        if json.loads(r[-2])["id"] == "0d846ed7-b1bb-494e-85f0-e3bce514cad9"
    ]
    assert memory["source"]["raw"]["metadata"]["api_key"] == "[redacted]"


@pytest.mark.parametrize(
    "path", [ALICE, OPENMEMORY, LETTA / "loop.af", LETTA / "letta-synth-archival-passages.json"]
)
def test_validation_says_what_will_be_left_behind(path, capsys):
    assert main(["validate", str(path), "--json"]) == 0
    left = json.loads(capsys.readouterr().out)["left_behind"]
    assert left and all(item["count"] > 0 for item in left)
    assert main(["validate", str(path)]) == 0
    assert "left behind (" in capsys.readouterr().out


# -- upgrading a store written before the owner-scoped ids ----------------------------------------
def _old_import(db: Path) -> int:
    """alice's file as an earlier version of the wizard imported it: sessions keyed by the bare
    run id, projects named after the agent (version 0.1.0 in the audit entry)."""
    insp = inspect_file(ALICE)
    old = json.loads(json.dumps(insp.data))
    for session in old["sessions"]:
        session["id"] = session["source"]["raw"]["run_id"]
    for memory in old["memories"]:
        raw = memory["source"]["raw"]
        memory["project"] = f"mem0:{raw.get('agent_id') or raw['user_id']}"
        memory["sessionIds"] = [raw["run_id"]] if raw.get("run_id") else []
    report = Report(ok=True, format=insp.format, counts=insp.report.counts)
    old_insp = type(insp)(source_info(ALICE), report, old, insp.options)
    with open_store(db) as store:
        result = runs.drive(runs.import_steps(store, old_insp))
        assert result.ok
        store.database.execute_sql(
            "UPDATE audit_log SET app_version = '0.1.0' WHERE id = ?", (result.audit_id,)
        )
    return result.audit_id


def test_importing_again_after_an_upgrade_names_the_earlier_import(db, capsys):
    old_id = _old_import(db)
    assert main(["import", str(ALICE), "--dry-run", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["earlier_imports"] == [old_id]
    assert f"revert {old_id}" in captured.err and "Upgrading" in captured.err


def test_the_remedy_revert_then_import_gives_what_a_new_store_holds(db, tmp_path, capsys):
    old_id = _old_import(db)
    assert _rows(db, "sessions", "id = ?", "run-2")  # the old ids
    assert main(["revert", str(old_id)]) == 0
    capsys.readouterr()
    assert main(["import", str(ALICE), "--json"]) == 0
    assert _json(capsys)["earlier_imports"] == []
    fresh = tmp_path / "fresh.sqlite"
    assert main(["import", str(ALICE), "--db", str(fresh)]) == 0

    def keys(path: Path) -> dict:
        with open_store(path) as store:
            con = store.database
            return {
                t: sorted(r[0] for r in con.execute_sql(f"SELECT id FROM {t}").fetchall())
                for t in ("sessions", "memories")
            }

    assert keys(db) == keys(fresh)
    assert not _rows(db, "sessions", "id = ?", "run-2")
    with open_store(db) as store:
        entries = audit.list_entries(store)
    assert [e["operation"] for e in entries][:3] == ["import", "revert", "import"]


def test_the_strategy_page_names_the_earlier_import_too(db, qtbot):
    from wizard.ui import open_wizard

    old_id = _old_import(db)
    wiz = open_wizard(db, ALICE)
    qtbot.addWidget(wiz)
    wiz.show()
    qtbot.waitUntil(
        lambda: wiz.session.inspection is not None and not wiz.session.is_inspecting(),
        timeout=10_000,
    )
    wiz.next()
    wiz.next()
    page = wiz.strategy_page
    qtbot.waitUntil(page.isComplete, timeout=10_000)
    assert page.earlier_note.isVisibleTo(page)
    assert f"#{old_id}" in page.earlier_note.text() and "revert" in page.earlier_note.text()


@pytest.mark.parametrize(
    ("version", "older"),
    [
        ("0.1.0", True),
        ("0.1.9", True),
        (None, True),
        ("dev", True),
        ("0.2.0", False),
        ("0.2.0rc1", False),
        ("1.0", False),
    ],
)
def test_which_wizard_versions_imported_before_the_scoped_ids(version, older):
    from wizard.runs.importing import _older_than_scoped_ids

    assert _older_than_scoped_ids(version) is older
