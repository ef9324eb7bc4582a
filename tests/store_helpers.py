"""Helpers for the store tests: inspections built by hand, table dumps, small ExportData."""

from __future__ import annotations

import copy
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from wizard.core.inspection import Inspection, SourceInfo
from wizard.core.report import Report
from wizard.core.steps import drive
from wizard.store.importer import PAUSE_ENV
from wizard.store.models import ALL_SPECS

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
SMALL = FIXTURES / "agentmemory" / "agentmemory-0.9.5-small.json"
SMALL_030 = FIXTURES / "agentmemory" / "agentmemory-0.3.0-small.json"
REFUSED = FIXTURES / "mem0" / "mem0-synth-platform-structured-export.json"
LETTA = FIXTURES / "letta" / "loop.af"
DATA_TABLES = tuple(s.table for s in ALL_SPECS)
AUDIT_TABLES = ("audit_log", "audit_changes")


def inspection(
    data: dict, fmt: str = "agentmemory", version: str | None = None, name: str = "export.json"
) -> Inspection:
    """An accepted Inspection of ``data`` as if read from a file called ``name``."""
    report = Report(
        ok=True,
        format=fmt,
        source_version=version or data.get("version"),
        counts={"sessions": len(data.get("sessions", []))},
    )
    return Inspection(
        source=SourceInfo(f"/src/{name}", name, 1234, "ab" * 32), report=report, data=data
    )


def load_small(path: Path = SMALL) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def run(gen):
    """Drive a generator to its end: (list of yielded values, return value)."""
    seen: list = []
    result = drive(gen, seen.append)
    return seen, result


def dump(db_path: Path | str, tables: tuple[str, ...] = DATA_TABLES) -> dict[str, list[tuple]]:
    """Every row (rowid first) of the tables, in rowid order, through a fresh connection."""
    con = sqlite3.connect(str(db_path))
    try:
        return {
            t: con.execute(f'SELECT rowid, * FROM "{t}" ORDER BY rowid').fetchall() for t in tables
        }
    finally:
        con.close()


def stored(db_path: Path | str, table: str, key: str = "id") -> dict[str, dict]:
    """key -> record as stored in one table."""
    con = sqlite3.connect(str(db_path))
    try:
        rows = con.execute(f'SELECT "{key}", data FROM "{table}" ORDER BY rowid').fetchall()
    finally:
        con.close()
    return {k: json.loads(d) for k, d in rows}


def session(sid: str, project: str = "p", **extra) -> dict:
    return {
        "id": sid,
        "project": project,
        "cwd": "/w",
        "startedAt": "2026-01-01T00:00:00.000Z",
        "status": "completed",
        "observationCount": 0,
        **extra,
    }


def memory(mid: str, content: str = "c", **extra) -> dict:
    return {
        "id": mid,
        "createdAt": "2026-01-02T00:00:00.000Z",
        "updatedAt": "2026-01-02T00:00:00.000Z",
        "type": "fact",
        "title": content[:10],
        "content": content,
        "concepts": [],
        "files": [],
        "sessionIds": [],
        "strength": 1,
        "version": 1,
        "isLatest": True,
        **extra,
    }


def observation(oid: str, sid: str, title: str = "t", **extra) -> dict:
    return {
        "id": oid,
        "sessionId": sid,
        "timestamp": "2026-01-03T00:00:00.000Z",
        "type": "conversation",
        "title": title,
        "facts": [],
        "narrative": "n",
        "concepts": [],
        "files": [],
        "importance": 5,
        **extra,
    }


def export(sessions=(), observations=None, memories=(), **others) -> dict:
    data = {
        "version": "0.9.5",
        "exportedAt": "2026-02-01T00:00:00.000Z",
        "sessions": list(sessions),
        "observations": dict(observations or {}),
        "memories": list(memories),
        "summaries": [],
    }
    data.update({k: list(v) for k, v in others.items()})
    return copy.deepcopy(data)


# What `audit --json` and audit.list_entries give for every entry (issue 3's contract).
AUDIT_KEYS = frozenset(
    {
        "id",
        "timestamp",
        "operation",
        "strategy",
        "outcome",
        "format",
        "source_version",
        "source",
        "counts",
        "caps",
        "error",
        "duration_ms",
        "app_version",
        "user",
    }
)


def pragma(db: Path | str, name: str):
    """The first value of ``PRAGMA name`` on a connection of its own."""
    con = sqlite3.connect(db)
    try:
        return con.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        con.close()


def integrity(db: Path | str) -> str:
    return pragma(db, "integrity_check")


def copy_of(template: Path, tmp_path: Path) -> Path:
    """A store file copied from a template, in a folder of its own."""
    path = tmp_path / "store" / "store.sqlite"
    path.parent.mkdir()
    shutil.copy(template, path)
    return path


# -- the CLI in a child process ---------------------------------------------------------------
def cli_env(tmp_path: Path, db: Path | None = None, pause: Path | None = None, **extra) -> dict:
    """The environment of a child ``python -m wizard``: this checkout importable, its own log
    folder, the store (``db``), and the store's pause hook only when ``pause`` is given."""
    env = dict(os.environ)
    env.pop(PAUSE_ENV, None)
    env.update(
        AGENTMEMORY_WIZARD_LOG_DIR=str(tmp_path / "logs"),
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    if db is not None:
        env["AGENTMEMORY_WIZARD_DB"] = str(db)
    if pause is not None:
        env[PAUSE_ENV] = str(pause)
    env.update(extra)
    return env


def wait_for(path: Path, proc: subprocess.Popen | None = None, limit: float = 60.0) -> None:
    """Wait (polling, a child process's file) until ``path`` exists; fail if ``proc`` ends."""
    deadline = time.monotonic() + limit
    while not path.exists():
        if proc is not None:
            assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.01)


def start_paused_import(
    tmp_path: Path, db: Path, *args: str, pause: Path | None = None, **env: str
) -> tuple[subprocess.Popen, Path]:
    """``wizard import SMALL *args`` in a child process, held by the store's pause hook inside
    its write transaction after the first chunk: (process, pause prefix). Touch
    ``<prefix>.resume`` to let it go on."""
    prefix = pause or tmp_path / "pause"
    proc = subprocess.Popen(
        [sys.executable, "-m", "wizard", "import", str(SMALL), *args],
        env=cli_env(tmp_path, db, prefix, **env),
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(Path(f"{prefix}.paused"), proc)
    return proc, prefix


# -- the full-text index ------------------------------------------------------------------------
def index_differences(db_path: Path | str) -> dict[str, tuple[list, list]]:
    """Where the store's full-text index differs from one built afresh from its records: table
    -> (its terms with their document counts, the fresh ones); {} when it is in step. Also
    runs FTS5's own integrity check."""
    from wizard.store.models import SEARCH_SPECS

    con = sqlite3.connect(str(db_path))
    out: dict[str, tuple[list, list]] = {}
    try:
        for spec in SEARCH_SPECS:
            table = spec.search_table
            con.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")
            options = con.execute(
                "SELECT sql FROM sqlite_master WHERE name = ?", (table,)
            ).fetchone()[0]
            fresh = options.replace(
                f"CREATE VIRTUAL TABLE {table}", "CREATE VIRTUAL TABLE temp.fresh"
            )
            con.execute(fresh)
            con.execute(
                f"INSERT INTO temp.fresh (rowid, text) SELECT rowid, {spec.search_text('data')}"
                f' FROM "{spec.table}"'
            )
            con.execute(f"CREATE VIRTUAL TABLE temp.live_terms USING fts5vocab(main, {table}, row)")
            con.execute("CREATE VIRTUAL TABLE temp.fresh_terms USING fts5vocab(temp, fresh, row)")
            live = con.execute("SELECT term, doc FROM temp.live_terms ORDER BY term").fetchall()
            built = con.execute("SELECT term, doc FROM temp.fresh_terms ORDER BY term").fetchall()
            for name in ("fresh_terms", "live_terms", "fresh"):
                con.execute(f"DROP TABLE temp.{name}")
            if live != built:
                out[table] = (live, built)
    finally:
        con.close()
    return out


def search_shadow(db_path: Path | str) -> dict[str, list[tuple]]:
    """Every row of the full-text index's own tables (to see that nothing changed)."""
    con = sqlite3.connect(str(db_path))
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'search%'"
                " AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name"
            )
        ]
        return {n: con.execute(f'SELECT * FROM "{n}" ORDER BY 1').fetchall() for n in names}
    finally:
        con.close()
