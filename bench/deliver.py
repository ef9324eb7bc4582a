"""Benchmark `deliver`: a full-cap store into a stand-in agentmemory on loopback.

Usage: python bench/deliver.py [--scale 1.0] [--work DIR]

Steps (each its own child process, measured with wait4): the floor's import of the file
(stdlib json + sqlite3, bench/raw_baseline.py), the wizard's import of it into a new store (not
a goal here, it makes the store), then `deliver` of that store into a stand-in server that
accepts at once (it decodes and counts each request, keeps the keys, and answers the read-back
through the list endpoints, as a full-cap agentmemory does), running in a process of its own.
The goals: the wizard's own time (its CPU time, user + system: the server's work is not the
wizard's) at most half the floor's import time, and its peak memory at most 150 MB. Wall time
is shown too.
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


def measured(
    cmd: list[str], work: Path, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)
) -> dict:
    """Wall seconds, CPU seconds, peak RSS (MB) and stdout of one child process."""
    t0 = time.perf_counter()
    out_path, err_path = work / "step.out", work / "step.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode not in ok:
        sys.exit(
            f"step failed ({proc.returncode}): {' '.join(cmd)}\n{err_path.read_text()[-3000:]}"
        )
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "out": out_path.read_text(),
    }


SERVER = r"""
# A stand-in agentmemory that accepts at once: it decodes each request and counts its records
# (the counts acknowledge a chunk), keeps only the keys, and answers the read-back as a real
# server with a full-cap store does: export pages refused as oversized (memories alone are over
# the limit), then the list endpoints.
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

SECRET = sys.argv[1]
keys = {"sessions": set(), "memories": set(), "summaries": set()}
buckets = {}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # one write per answer (no small writes for Nagle to hold back)
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/agentmemory/livez":
            return self.answer(200, {"status": "ok"})
        if self.headers.get("Authorization") != f"Bearer {SECRET}":
            return self.answer(401, {"error": "unauthorized"})
        if url.path == "/agentmemory/health":
            return self.answer(200, {"status": "ok", "version": "0.9.29"})
        if url.path == "/agentmemory/export":
            return self.answer(200, {"success": False, "oversized": True, "error": "too big"})
        if url.path == "/agentmemory/sessions":
            return self.answer(200, {"sessions": [{"id": k} for k in sorted(keys["sessions"])]})
        if url.path == "/agentmemory/observations":
            ids = buckets.get(query.get("sessionId"), [])
            return self.answer(200, {"observations": [{"id": i} for i in ids]})
        if url.path == "/agentmemory/memories":
            ordered = sorted(keys["memories"])
            offset, limit = int(query.get("offset", 0)), int(query.get("limit", len(ordered)))
            page = [{"id": k} for k in ordered[offset : offset + limit]]
            return self.answer(200, {"memories": page, "total": len(ordered)})
        return self.answer(404, {"error": "not found"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Authorization") != f"Bearer {SECRET}":
            return self.answer(401, {"error": "unauthorized"})
        request = json.loads(body)
        data, counts = request["exportData"], {}
        with lock:
            for name in ("sessions", "memories", "summaries"):
                field = "sessionId" if name == "summaries" else "id"
                records = data.get(name, [])
                keys[name].update(r[field] for r in records)
                counts[name] = len(records)
            counts["observations"] = 0
            for sid, bucket in data.get("observations", {}).items():
                buckets.setdefault(sid, []).extend(r["id"] for r in bucket)
                counts["observations"] += len(bucket)
        self.answer(200, {"success": True, "strategy": request.get("strategy"), **counts,
                          "skipped": 0})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()  # until the benchmark closes it
server.shutdown()
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
        [sys.executable, "-c", SERVER, SECRET],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip() if server.stdout else ""
        env = dict(os.environ, AGENTMEMORY_SECRET=SECRET)
        # exit 5: delivered, but what the list endpoints cannot show (summaries, graph) is not
        # verified; that is the honest end of a full-cap delivery
        deliver = measured(
            [*wizard, "deliver", "--to", url, "--db", str(store), "--json"], work, env, (0, 5)
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
