"""Benchmark the store browser's reads at agentmemory's caps: searches, pages, one record, filters.

Usage: python bench/browse.py [--scale 1.0] [--rounds 5] [--work DIR] [--fresh]

Imports the file bench/run.py uses (bench/gen_agentmemory.py writes it: at scale 1.0 10,000
sessions, 500,000 observations, 50,000 memories) into a store of its own once, then a small
second file whose records hold a word nothing else holds ("zanzibar"), and measures each call
of ``wizard.store.browse`` the way the browser makes it: on a connection of its own (the window
closes its worker's connection after every job), so SQLite's page cache starts cold every time
(the files are in the OS cache). Each call runs --rounds times; the median and the slowest are
printed as one table. ``--fresh`` imports again; the index build of an older store is measured
on a copy whose index is marked not built.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from wizard.core.steps import drive  # noqa: E402
from wizard.store import browse  # noqa: E402
from wizard.store.browse import BrowseFilter  # noqa: E402
from wizard.store.database import Store, open_store  # noqa: E402

RARE = "zanzibar"
COMMON = "cache"


def make_input(work: Path, scale: float) -> Path:
    path = work / f"agentmemory-{scale}.json"
    if not path.exists():
        subprocess.run(
            [sys.executable, str(HERE / "gen_agentmemory.py"), str(path), str(scale)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return path


def rare_file(work: Path) -> Path:
    """20 memories and a session of 20 observations holding the rare word."""
    sid = "ses_rare_0001"
    observations = [
        {
            "id": f"obs_rare_{i:03d}",
            "sessionId": sid,
            "timestamp": f"2026-11-30T10:{i:02d}:00.000Z",
            "type": "discovery",
            "title": f"Found the {RARE} cache key {i}",
            "narrative": f"the {RARE} retry path of worker {i}",
            "facts": [],
        }
        for i in range(20)
    ]
    memories = [
        {
            "id": f"mem_rare_{i:03d}",
            "createdAt": f"2026-11-30T11:{i:02d}:00.000Z",
            "type": "fact",
            "title": f"{RARE.capitalize()} fact {i}",
            "content": f"a memory about {RARE} number {i}",
        }
        for i in range(20)
    ]
    data = {
        "version": "0.9.5",
        "exportedAt": "2026-11-30T12:00:00.000Z",
        "sessions": [{"id": sid, "project": "/home/dev/rare", "startedAt": "2026-11-30T10:00Z"}],
        "observations": {sid: observations},
        "memories": memories,
        "summaries": [],
    }
    path = work / "browse-rare.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def wizard_import(path: Path, db: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "wizard", "import", str(path), "--db", str(db)],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


def measure(store: Store, rounds: int, fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(median, slowest) seconds of ``fn`` over the rounds, each on a new connection."""
    times = []
    result = None
    for _ in range(rounds):
        store.close()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), max(times), result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--work", default="/tmp/agentmemory-wizard-bench")
    ap.add_argument("--fresh", action="store_true", help="import into a new store first")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    db = work / "browse-store.sqlite"
    if args.fresh or not db.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        seconds = wizard_import(make_input(work, args.scale), db)
        print(f"import of the scale-{args.scale} file: {seconds:.1f} s", file=sys.stderr)
        wizard_import(rare_file(work), db)
    store = open_store(db)
    con = sqlite3.connect(db)
    big, small = (r[0] for r in con.execute("SELECT id FROM audit_log ORDER BY id LIMIT 2"))
    some_session = con.execute("SELECT id FROM sessions ORDER BY rowid LIMIT 1 OFFSET 5000")
    session = some_session.fetchone()[0]
    project = con.execute("SELECT project FROM sessions WHERE id = ?", (session,)).fetchone()[0]
    con.close()
    obs = BrowseFilter(collection="observations")
    n_obs = browse.count(store, obs)
    rows: list[tuple[str, float, float, str]] = []

    def step(label: str, fn: Callable[[], Any], show: Callable[[Any], str] = str) -> Any:
        median, slowest, result = measure(store, args.rounds, fn)
        rows.append((label, median, slowest, show(result)))
        print(f"  {label}: {median * 1000:.1f} ms", file=sys.stderr)
        return result

    def n_rows(result: Any) -> str:
        return f"{len(result)} rows"

    for collection in ("observations", "memories"):
        for word in (COMMON, RARE):
            f = BrowseFilter(collection=collection, text=word)
            n = step(f"{collection}: count of '{word}'", lambda f=f: browse.count(store, f))
            step(
                f"{collection}: first page of '{word}'",
                lambda f=f: browse.page(store, f, 0, 200),
                n_rows,
            )
            if n > 400:
                step(
                    f"{collection}: last page of '{word}' (offset {n - 200:,})",
                    lambda f=f, n=n: browse.page(store, f, n - 200, 200),
                    n_rows,
                )
    step("observations: count, no filter", lambda: browse.count(store, obs))
    for label, offset in (
        ("first", 0),
        ("middle", n_obs // 2),
        ("last", n_obs - 200),
    ):
        step(
            f"observations: {label} page (offset {offset:,})",
            lambda offset=offset: browse.page(store, obs, offset, 200),
            n_rows,
        )
    step(
        "observations: one record",
        lambda: browse.record(store, "observations", "obs_rare_007"),
        lambda r: "found" if r else "missing",
    )
    for label, f in (
        ("project", BrowseFilter(collection="observations", project=project)),
        (
            f"audit id #{big} (the big import)",
            BrowseFilter(collection="observations", audit_id=big),
        ),
        (
            f"audit id #{small} (20 records)",
            BrowseFilter(collection="observations", audit_id=small),
        ),
        ("session", BrowseFilter(collection="observations", session_id=session)),
        ("agent (none has one)", BrowseFilter(collection="observations", agent="claude")),
        (
            "project and 'cache'",
            BrowseFilter(collection="observations", project=project, text=COMMON),
        ),
    ):
        n = step(f"observations by {label}: count", lambda f=f: browse.count(store, f))
        step(
            f"observations by {label}: first page",
            lambda f=f: browse.page(store, f, 0, 200),
            n_rows,
        )
        if n > 400:
            step(
                f"observations by {label}: last page",
                lambda f=f, n=n: browse.page(store, f, n - 200, 200),
                n_rows,
            )
    for collection in ("observations", "memories", "sessions"):
        step(
            f"facets of {collection}",
            lambda c=collection: browse.facets(store, c),
            lambda r: f"{len(r.projects)} projects, {len(r.imports)} imports",
        )
    out = work / "browse-export.json"
    step(
        "export: one project's observations with their sessions",
        lambda: browse.export_selection(
            store, BrowseFilter(collection="observations", project=project), None, out
        ),
        lambda r: ", ".join(f"{k} {v}" for k, v in r.items() if v),
    )
    store.close()

    # the index of an older store, built once
    copy = work / "browse-old.sqlite"
    shutil.copy(db, copy)
    con = sqlite3.connect(copy)
    con.execute("UPDATE search_index SET version = 0")
    con.commit()
    con.close()
    old = open_store(copy)
    t0 = time.perf_counter()
    drive(browse.index_steps(old, None))
    build = time.perf_counter() - t0
    old.close()
    copy.unlink()
    rows.append(("index_steps: the index of an older store at the caps", build, build, "built"))

    size = (work / f"agentmemory-{args.scale}.json").stat().st_size
    print(
        f"\nscale {args.scale} ({size / 2**20:.0f} MB file, {n_obs:,} observations); store "
        f"{os.path.getsize(db) / 2**20:.0f} MB; medians of {args.rounds}, each call on a new "
        f"connection; {os.cpu_count()} cores, SQLite {sqlite3.sqlite_version}\n"
    )
    print("| call | median (ms) | slowest (ms) | result |")
    print("|---|---:|---:|---|")
    for label, median, slowest, shown in rows:
        print(f"| {label} | {median * 1000:.1f} | {slowest * 1000:.1f} | {shown} |")


if __name__ == "__main__":
    main()
