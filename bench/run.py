"""Benchmark the wizard against the floor (stdlib json + sqlite3 executemany, no validation).

Usage: python bench/run.py [--scale 1.0] [--rounds 1] [--work DIR]

Every step runs as its own child process, so its wall time and peak memory (RSS, from wait4)
are its own. With --rounds N the whole sequence runs N times and each step's median is shown
(on a shared machine single timings vary by 10% or more). Printed as one table; the goals are
ratios to the floor measured in the same run:
import into an empty store <= 1.5x the floor's time, peak memory <= the floor's, validation
alone <= 0.5x, a repeated import with skip <= 0.5x.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def run_measured(cmd: list[str]) -> tuple[float, int, str]:
    """(seconds, peak RSS bytes, stdout) of one child process, measured with wait4."""
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child: exec the command with stdout to a file
        out = os.open(str(WORK / "step.out"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        err = os.open(str(WORK / "step.err"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.chdir(ROOT)
        os.execvp(cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code not in (0,):
        sys.exit(
            f"step failed ({code}): {' '.join(cmd)}\n{(WORK / 'step.err').read_text()[-2000:]}"
        )
    return seconds, usage.ru_maxrss * 1024, (WORK / "step.out").read_text()


WORK = Path("/tmp")


def make_inputs(scale: float) -> tuple[Path, Path]:
    """The generated file A and a copy B with every record changed (same keys)."""
    a = WORK / f"agentmemory-{scale}.json"
    b = WORK / f"agentmemory-{scale}-changed.json"
    if not a.exists():
        subprocess.run(
            [sys.executable, str(HERE / "gen_agentmemory.py"), str(a), str(scale)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    if not b.exists():
        code = (
            "import json,sys\n"
            "d=json.load(open(sys.argv[1]))\n"
            "for k,v in d.items():\n"
            "    recs=[r for b in v.values() for r in b] if k=='observations' else v\n"
            "    if isinstance(recs,list):\n"
            "        for r in recs: r['revision']=2\n"
            "json.dump(d,open(sys.argv[2],'w'),separators=(',',':'))\n"
        )
        subprocess.run([sys.executable, "-c", code, str(a), str(b)], check=True)
    return a, b


def main() -> None:
    global WORK
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=1, help="run every step N times; medians")
    ap.add_argument("--work", default="/tmp/agentmemory-wizard-bench")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    WORK = Path(args.work)
    WORK.mkdir(parents=True, exist_ok=True)
    a, b = make_inputs(args.scale)
    db = WORK / "store.sqlite"
    floor_db = WORK / "floor.sqlite"
    py = sys.executable
    wizard = [py, "-m", "wizard"]
    steps = [
        (
            "floor (json + sqlite3, no validation)",
            [py, str(HERE / "raw_baseline.py"), str(a), str(floor_db)],
        ),
        ("validate", [*wizard, "validate", str(a), "--json"]),
        ("import merge, empty store", [*wizard, "import", str(a), "--db", str(db)]),
        (
            "import merge, full store (every record updated)",
            [*wizard, "import", str(b), "--db", str(db)],
        ),
        (
            "import skip, full store",
            [*wizard, "import", str(a), "--db", str(db), "--strategy", "skip"],
        ),
        (
            "import replace, full store",
            [*wizard, "import", str(a), "--db", str(db), "--strategy", "replace"],
        ),
    ]
    measured: dict[str, list[tuple[float, int]]] = {label: [] for label, _ in steps}
    for round_no in range(1, args.rounds + 1):
        for p in (db, floor_db):  # every round starts from no store
            for suffix in ("", "-wal", "-shm"):
                Path(str(p) + suffix).unlink(missing_ok=True)
        for label, cmd in steps:
            seconds, rss, _ = run_measured(cmd)
            measured[label].append((seconds, rss))
            print(
                f"  round {round_no}, {label}: {seconds:.2f} s, {rss / 2**20:.0f} MB",
                file=sys.stderr,
            )
    rows = [
        (
            label,
            statistics.median(s for s, _ in runs),
            statistics.median(r for _, r in runs),
        )
        for label, runs in measured.items()
    ]
    floor_s, floor_rss = rows[0][1], rows[0][2]

    size = a.stat().st_size
    print(
        f"\nscale {args.scale}: {size / 2**20:.0f} MB ({size:,} bytes); "
        f"{'median of ' + str(args.rounds) + ' rounds; ' if args.rounds > 1 else ''}"
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}\n"
    )
    print("| step | time (s) | x floor | peak RSS (MB) | x floor |")
    print("|---|---:|---:|---:|---:|")
    for label, seconds, rss in rows:
        print(
            f"| {label} | {seconds:.2f} | {seconds / floor_s:.2f} | {rss / 2**20:.0f} | "
            f"{rss / floor_rss:.2f} |"
        )
    print(
        json.dumps(
            {
                "scale": args.scale,
                "bytes": size,
                "rows": [{"step": r[0], "seconds": round(r[1], 3), "rss": r[2]} for r in rows],
                "rounds": {
                    label: [{"seconds": round(t, 3), "rss": r} for t, r in runs]
                    for label, runs in measured.items()
                },
            }
        ),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
