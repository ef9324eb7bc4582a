"""Benchmark `deliver`: a full-cap store into a stand-in agentmemory on loopback.

Usage: python bench/deliver.py [--scale 1.0] [--work DIR]

Steps (each its own child process, measured with wait4): the floor's import of the file
(stdlib json + sqlite3, bench/raw_baseline.py), the wizard's import of it into a new store (not
a goal here, it makes the store), then `deliver` of that store into the test suite's stand-in
server (tests/agentmemory_standin.py) running in a process of its own. The goals: the wizard's
own time (its CPU time, user + system: the server's work is not the wizard's) at most half the
floor's import time, and its peak memory at most 150 MB. Wall time is shown too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECRET = "bench-secret"


def measured(cmd: list[str], work: Path, env: dict[str, str] | None = None) -> dict:
    """Wall seconds, CPU seconds, peak RSS (MB) and stdout of one child process."""
    t0 = time.perf_counter()
    out_path, err_path = work / "step.out", work / "step.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(
            f"step failed ({proc.returncode}): {' '.join(cmd)}\n{err_path.read_text()[-3000:]}"
        )
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "out": out_path.read_text(),
    }


SERVER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from agentmemory_standin import StandIn
server = StandIn(secret=sys.argv[2]).start()
print(server.url, flush=True)
sys.stdin.read()  # until the benchmark closes it
server.stop()
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--work", default="/tmp/agentmemory-wizard-bench")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"agentmemory-{args.scale}.json"
    if not data.exists():
        subprocess.run(
            [sys.executable, str(HERE / "gen_agentmemory.py"), str(data), str(args.scale)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    floor_db = work / "floor.sqlite"
    store = work / "deliver-store.sqlite"
    for path in (floor_db, store):
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    floor = measured(
        [sys.executable, str(HERE / "raw_baseline.py"), str(data), str(floor_db)], work
    )
    wizard = [sys.executable, "-m", "wizard"]
    imported = measured([*wizard, "import", str(data), "--db", str(store)], work)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(ROOT / "tests"), SECRET],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip() if server.stdout else ""
        env = dict(os.environ, AGENTMEMORY_SECRET=SECRET)
        deliver = measured(
            [*wizard, "deliver", "--to", url, "--db", str(store), "--json"], work, env
        )
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(60)
    result = json.loads(deliver["out"])
    rows = [
        ("floor import (json + sqlite3)", floor),
        ("wizard import (makes the store)", imported),
        ("deliver (into the stand-in)", deliver),
    ]
    print(f"scale {args.scale}: {data.stat().st_size:,} bytes of JSON")
    print(f"{'step':34} {'wall s':>8} {'cpu s':>8} {'peak MB':>8}")
    for name, row in rows:
        print(f"{name:34} {row['wall']:8.2f} {row['cpu']:8.2f} {row['rss_mb']:8.0f}")
    print(
        f"deliver: {result['chunks']} chunks, {result['bytes'] / 1024 / 1024:.0f} MB, "
        f"verified {result['verified']}, unverified {result['unverified']}"
    )
    ratio = deliver["cpu"] / floor["wall"]
    print(f"goal: the wizard's own time <= 0.5x the floor's import: {ratio:.2f}x")
    print(f"goal: peak memory <= 150 MB: {deliver['rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
