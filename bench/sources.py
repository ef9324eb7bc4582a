"""Benchmark `agentmemory-wizard sources`: how long discovery takes on a home folder laid out
with every store the wizard finds (mem0 at its default places, the TypeScript SDK, Letta's
sqlite.db, Letta Code's folder, OpenMemory by DATABASE_URL, a Letta on PostgreSQL) and folders
opened before holding other files. The goal (issue 15): an answer within about a second.

Usage: python bench/sources.py [--rounds 5] [--noise 2000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "tests" / "fixtures" / "native"


def lay_out(home: Path, noise: int) -> dict[str, str]:
    (home / ".mem0").mkdir(parents=True)
    shutil.copy(NATIVE / "mem0" / "history.db", home / ".mem0" / "history.db")
    shutil.copytree(NATIVE / "mem0" / "qdrant", home / ".mem0" / "qdrant")
    shutil.copy(NATIVE / "mem0-ts" / "vector_store.db", home / ".mem0" / "vector_store.db")
    (home / ".letta" / ".persist" / "pgdata").mkdir(parents=True)
    shutil.copy(NATIVE / "letta" / "letta-0.11.7.sqlite.db", home / ".letta" / "sqlite.db")
    shutil.copytree(
        NATIVE / "letta-code" / "lc-local-backend", home / ".letta" / "lc-local-backend"
    )
    om = home / "openmemory" / "openmemory.db"
    om.parent.mkdir()
    shutil.copy(NATIVE / "openmemory" / "openmemory.db", om)
    downloads = home / "Downloads"
    downloads.mkdir()
    for i in range(noise):  # a busy folder the user opened an export from
        (downloads / f"file-{i:05d}.txt").write_text("x")
    (downloads / "mem0-export.json").write_text("{}")
    return {"HOME": str(home), "DATABASE_URL": f"sqlite:///{om}"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--noise", type=int, default=2000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wizard-bench-sources-"))
    try:
        env = {**os.environ, **lay_out(work / "home", args.noise)}
        db = work / "store.sqlite"
        # a store whose audit names the export in Downloads: that folder is looked at too
        subprocess.run(
            [
                sys.executable,
                "-m",
                "wizard",
                "import",
                str(NATIVE / "mem0" / "history.db"),
                "--db",
                str(db),
            ],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        import sqlite3

        with sqlite3.connect(db) as conn:
            conn.execute(
                "UPDATE audit_log SET source_path = ?",
                (str(work / "home" / "Downloads" / "mem0-export.json"),),
            )
        cmd = [sys.executable, "-m", "wizard", "sources", "--json", "--db", str(db)]
        times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            out = subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True)
            times.append(time.perf_counter() - t0)
        import json

        found = json.loads(out.stdout)
        print(f"found {len(found)}: " + ", ".join(f["kind"] for f in found))
        median = statistics.median(times)
        print(
            f"sources (whole command, {args.rounds} rounds): median {median:.3f} s, "
            f"max {max(times):.3f} s"
        )
        sys.path.insert(0, str(ROOT))
        os.environ.update(env)
        from wizard.runs.sources import find_sources

        t0 = time.perf_counter()
        find_sources(db)
        print(f"discovery alone (in process): {time.perf_counter() - t0:.3f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
