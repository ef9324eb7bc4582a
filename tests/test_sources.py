"""Finding memory stores on this computer (``agentmemory-wizard sources``): the default places
of docs/SOURCES.md, their environment variables, unreadable stores with the reason, and the
folders of sources opened before. Discovery writes nothing."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from wizard.cli import main
from wizard.core import discovery
from wizard.core.discovery import discover

NATIVE = Path(__file__).parent / "fixtures" / "native" / "mem0"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def temp(tmp_path: Path) -> Path:
    t = tmp_path / "tmp"
    t.mkdir()
    return t


def lay_out_mem0(home: Path, temp: Path) -> None:
    """The sample's files at mem0's default places: ~/.mem0/history.db and /tmp/qdrant."""
    (home / ".mem0").mkdir()
    shutil.copy(NATIVE / "history.db", home / ".mem0" / "history.db")
    shutil.copytree(NATIVE / "qdrant", temp / "qdrant")


def test_a_mem0_install_at_its_default_places_is_one_source(home, temp):
    lay_out_mem0(home, temp)
    found = discover(home=home, env={}, cwd=home, temp=temp)
    assert [f.kind for f in found] == ["mem0-install"]
    assert found[0].path == str(home / ".mem0" / "history.db")
    assert found[0].vectors == str(temp / "qdrant")
    assert found[0].size and found[0].modified


def test_mem0_dir_and_history_alone(home, temp, tmp_path):
    custom = tmp_path / "elsewhere"
    custom.mkdir()
    shutil.copy(NATIVE / "history.db", custom / "history.db")
    found = discover(home=home, env={"MEM0_DIR": str(custom)}, cwd=home, temp=temp)
    assert [(f.kind, f.counts) for f in found] == [("mem0-history-db", {"memory ids": 56})]


def test_openmemory_database_url_and_letta_places(home, temp, tmp_path):
    om = tmp_path / "om" / "openmemory.db"
    om.parent.mkdir()
    with sqlite3.connect(om) as conn:
        conn.execute("CREATE TABLE t (x)")  # not OpenMemory's tables: not listed
    (home / ".letta" / ".persist" / "pgdata").mkdir(parents=True)
    found = discover(home=home, env={"DATABASE_URL": f"sqlite:///{om}"}, cwd=home, temp=temp)
    assert [f.kind for f in found] == ["letta-postgres"]
    assert not found[0].readable and "PostgreSQL" in found[0].reason


def test_chroma_and_faiss_pickles_are_listed_as_unreadable(home, temp):
    (temp / "chroma").mkdir()
    (temp / "chroma" / "chroma.sqlite3").write_bytes(b"SQLite format 3\x00")
    (temp / "faiss").mkdir()
    (temp / "faiss" / "mem0.pkl").write_bytes(b"\x80\x04.")
    kinds = {f.kind: f for f in discover(home=home, env={}, cwd=home, temp=temp)}
    assert set(kinds) == {"chroma", "mem0-faiss-pickle"}
    assert not any(f.readable for f in kinds.values())


def test_folders_opened_before_are_looked_at(home, temp, tmp_path):
    project = tmp_path / "backup"
    project.mkdir()
    shutil.copy(NATIVE / "history.db", project / "history.db")
    (project / "notes.json").write_text("{}")
    found = discover(home=home, env={}, cwd=home, temp=temp, opened_before=[project / "notes.json"])
    assert [(f.kind, f.where) for f in found] == [("mem0-history-db", "opened before")]


def test_discovery_writes_nothing(home, temp):
    lay_out_mem0(home, temp)
    before = {p: p.stat().st_mtime_ns for p in [*home.rglob("*"), *temp.rglob("*")]}
    discover(home=home, env={}, cwd=home, temp=temp)
    after = {p: p.stat().st_mtime_ns for p in [*home.rglob("*"), *temp.rglob("*")]}
    assert after == before


def test_the_sources_command_lists_in_text_and_json(home, temp, monkeypatch, capsys, tmp_path):
    lay_out_mem0(home, temp)
    real = discovery.discover

    def here(**kw):
        return real(home=home, env={}, cwd=home, temp=temp, **kw)

    monkeypatch.setattr("wizard.runs.sources.discover", here)
    db = tmp_path / "no-store.sqlite"
    assert main(["sources", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "mem0-install" in out and "--vectors" in out
    assert main(["sources", "--json", "--db", str(db)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["kind"] == "mem0-install" and listed[0]["readable"] is True
    assert not db.exists()  # the command never creates a store
