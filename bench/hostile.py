"""Peak memory of the wizard on hostile shapes of agentmemory files, and on big sources of
other formats (mem0 exports, mem0's history.db, Letta's sqlite.db).

Usage: python bench/hostile.py [--mb 200] [--work DIR] [--only NAME ...]

Each shape is written once (about --mb megabytes of JSON) and then read by ``validate`` and
``import`` (merge into a new store), each in its own process; wall time and peak RSS come from
wait4. A refusal (caps, limits) is an answer too: what is measured is that the app answers
within its memory bound whatever the file, and that it says what is wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VERSION = "0.9.5"


def _write(path: Path, parts: Iterator[str]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for part in parts:
            f.write(part)


def _array(items: Callable[[int], str], target: int) -> Iterator[str]:
    """A JSON array of items up to about ``target`` characters."""
    yield "["
    size, i = 1, 0
    while size < target:
        text = ("," if i else "") + items(i)
        yield text
        size += len(text)
        i += 1
    yield "]"


def tiny_sessions(path: Path, target: int) -> None:
    """Millions of the smallest sessions (far over the 10,000 cap)."""
    _write(
        path,
        iter(
            [
                f'{{"version":"{VERSION}","sessions":',
                *_array(lambda i: f'{{"id":"s{i}"}}', target),
                "}",
            ]
        ),
    )


def many_buckets(path: Path, target: int) -> None:
    """Observation buckets by the million, each empty or with one tiny observation."""

    def parts() -> Iterator[str]:
        yield f'{{"version":"{VERSION}","sessions":[],"observations":{{'
        size, i = 0, 0
        while size < target:
            body = f'{{"id":"o{i}","sessionId":"b{i}"}}' if i % 2 else ""
            text = ("," if i else "") + f'"b{i}":[{body}]'
            yield text
            size += len(text)
            i += 1
        yield "}}"

    _write(path, parts())


def empty_arrays(path: Path, target: int) -> None:
    """Memories of nothing but empty arrays (concepts, files, sessionIds...)."""
    rec = (
        '{{"id":"m{i}","createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z",'
        '"type":"fact","title":"","content":"","concepts":[],"files":[],"sessionIds":[],'
        '"strength":1,"version":1,"isLatest":true,"extra":[[],[],[],[],[],[],[],[]]}}'
    )
    _write(
        path,
        iter(
            [
                f'{{"version":"{VERSION}","memories":',
                *_array(lambda i: rec.format(i=i), target),
                "}",
            ]
        ),
    )


def deep_nesting(path: Path, target: int) -> None:
    """Memories each holding a value nested 150 levels deep (the limit is 200)."""
    deep = "[" * 150 + "1" + "]" * 150
    rec = (
        '{{"id":"m{i}","createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z",'
        '"type":"fact","title":"t","content":"c","concepts":[],"files":[],"sessionIds":[],'
        '"strength":1,"version":1,"isLatest":true,"deep":' + deep + "}}"
    )
    _write(
        path,
        iter(
            [
                f'{{"version":"{VERSION}","memories":',
                *_array(lambda i: rec.format(i=i), target),
                "}",
            ]
        ),
    )


def one_huge_record(path: Path, target: int) -> None:
    """One memory whose concepts array holds millions of short strings."""
    _write(
        path,
        iter(
            [
                f'{{"version":"{VERSION}","memories":[{{"id":"m1","createdAt":"2026-01-01T00:00:00Z",'
                '"type":"fact","title":"t","content":"c","concepts":',
                *_array(lambda i: f'"c{i}"', target),
                "}]}",
            ]
        ),
    )


def invalid_records(path: Path, target: int) -> None:
    """Hundreds of thousands of memories, every one invalid (no content)."""
    _write(
        path,
        iter(
            [
                f'{{"version":"{VERSION}","memories":',
                *_array(lambda i: f'{{"id":"m{i}","type":"fact"}}', target),
                "}",
            ]
        ),
    )


def twice_encoded(path: Path, target: int) -> None:
    """The whole file as one JSON string (a double-encoded agent file)."""
    inner = {"agents": [{"name": "a", "system": "x" * target}]}
    path.write_text(json.dumps(json.dumps(inner)), encoding="utf-8")


def _mem0_item(i: int, text: str, *, user: str | None = None) -> str:
    return json.dumps(
        {
            "id": f"00000000-0000-4000-8000-{i:012d}",
            "memory": text,
            "hash": "0" * 32,
            "metadata": {"source": "bench", "n": i},
            "created_at": "2026-11-01T10:00:00.000000-08:00",
            "updated_at": "2026-11-02T10:00:00.000000-08:00",
            "user_id": user or f"user{i // 2500}",
            "run_id": f"run-{i // 40}",
        }
    )


def mem0_export(path: Path, target: int) -> None:
    """A mem0 get_all export of 2 KB memories: importable up to the 50,000 cap (100 MB)."""
    body = "prefers short answers and dark themes; " * 50

    _write(
        path, iter(['{"results":', *_array(lambda i: _mem0_item(i, f"{i} {body}"), target), "}"])
    )


def mem0_tiny(path: Path, target: int) -> None:
    """A bare list (as mem0's Platform gives) of millions of the smallest memories."""
    _write(path, _array(lambda i: f'{{"id":"m{i}","memory":""}}', target))


MEM0_HISTORY_DB = ROOT / "tests" / "fixtures" / "native" / "mem0" / "history.db"


def mem0_history_db(path: Path, target: int) -> None:
    """A SQLite source: mem0's history.db with 1 KB memories, each added then updated once,
    and chat messages (a session per ten memories)."""
    import shutil
    import sqlite3

    shutil.copy(MEM0_HISTORY_DB, path)
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM history")
    conn.execute("DELETE FROM messages")
    text = "remembers the deploy checklist and the on-call rota; " * 20
    n = target // (2 * len(text) + 600)
    when = "2026-11-01T10:00:00.000000+00:00"

    def rows() -> Iterator[tuple]:
        for i in range(n):
            mid = f"00000000-0000-4000-8000-{i:012d}"
            yield (f"h{i}a", mid, None, f"{i} {text}", "ADD", when, when, 0, None, "user")
            yield (
                f"h{i}u",
                mid,
                f"{i} {text}",
                f"{i} {text}!",
                "UPDATE",
                when,
                when,
                0,
                None,
                "user",
            )

    conn.executemany("INSERT INTO history VALUES (?,?,?,?,?,?,?,?,?,?)", rows())
    conn.executemany(
        "INSERT INTO messages VALUES (?,?,?,?,?,?)",
        (
            (
                f"msg{i}",
                f"user_id=user{i % 20}&run_id=run-{i // 10}",
                "user",
                f"said {i}",
                None,
                when,
            )
            for i in range(n // 10)
        ),
    )
    conn.commit()
    conn.close()


LETTA_DB = ROOT / "tests" / "fixtures" / "native" / "letta" / "letta-0.11.7.sqlite.db"


def letta_db(path: Path, target: int) -> None:
    """A SQLite source: Letta 0.11.7's sqlite.db with archival passages of 500 characters (an
    embedding of 6 KB each, never read) and as many messages."""
    import shutil
    import sqlite3

    shutil.copy(LETTA_DB, path)
    conn = sqlite3.connect(path)
    org, agent = conn.execute("SELECT organization_id, id FROM agents LIMIT 1").fetchone()
    (archive,) = conn.execute("SELECT archive_id FROM archives_agents LIMIT 1").fetchone()
    (config,) = conn.execute("SELECT embedding_config FROM archival_passages LIMIT 1").fetchone()
    (seq,) = conn.execute("SELECT max(sequence_id) FROM messages").fetchone()
    text = "Holmes noted the mud on the boots and the tan line on the wrist. " * 8
    embedding = bytes(4 * 1536)  # (a float32 vector of 1536 dimensions, as OpenAI's)
    n = target // (2 * len(text) + len(embedding) + 900)
    conn.executemany(
        "INSERT INTO archival_passages (id, text, embedding_config, metadata_, tags, "
        "embedding, created_at, organization_id, archive_id) VALUES (?,?,?,?,?,?,?,?,?)",
        (
            (
                f"passage-{i:08d}",
                f"{i} {text}",
                config,
                json.dumps({"n": i}),
                "[]",
                embedding,
                f"2026-12-02 10:00:00.{i % 1000000:06d}",
                org,
                archive,
            )
            for i in range(n)
        ),
    )
    conn.executemany(
        "INSERT INTO messages (id, role, content, tool_calls, tool_returns, sequence_id, "
        "created_at, organization_id, agent_id) VALUES (?,?,?,?,?,?,?,?,?)",
        (
            (
                f"message-{i:08d}",
                "user",
                json.dumps([{"type": "text", "text": f"{i} {text}"}]),
                "[]",
                "[]",
                seq + 1 + i,
                f"2026-12-03 10:00:00.{i % 1000000:06d}",
                org,
                agent,
            )
            for i in range(n)
        ),
    )
    conn.commit()
    conn.close()


SHAPES: dict[str, Callable[[Path, int], None]] = {
    "tiny sessions": tiny_sessions,
    "many observation buckets": many_buckets,
    "empty arrays": empty_arrays,
    "deep nesting": deep_nesting,
    "one huge record": one_huge_record,
    "every record invalid": invalid_records,
    "twice-encoded agent file": twice_encoded,
    "mem0 export": mem0_export,
    "mem0 tiny memories": mem0_tiny,
    "mem0 history.db": mem0_history_db,
    "Letta sqlite.db": letta_db,
}
SUFFIX = {"mem0 history.db": ".db", "Letta sqlite.db": ".db"}


def measured(cmd: list[str], work: Path) -> tuple[float, int, int, str]:
    """(seconds, peak RSS bytes, exit code, last line of stderr) of one child process."""
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        out = os.open(str(work / "step.out"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        err = os.open(str(work / "step.err"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.chdir(ROOT)
        os.execvp(cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - t0
    lines = (work / "step.err").read_text(errors="replace").strip().splitlines()
    last = lines[0][:110] if lines else ""
    return seconds, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status), last


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200, help="size of each file in MB")
    ap.add_argument("--work", default="/tmp/agentmemory-wizard-hostile")
    ap.add_argument("--only", nargs="*", help="shape names (default: all)")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    print(f"files of about {args.mb} MB; peak RSS per process (limit 150 MB)\n")
    print("| shape | size (MB) | validate (s) | RSS (MB) | import (s) | RSS (MB) | answer |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, make in SHAPES.items():
        if args.only and name not in args.only:
            continue
        path = work / (name.replace(" ", "-") + f"-{args.mb}{SUFFIX.get(name, '.json')}")
        if not path.exists():  # written by a child: this process must stay small, since a
            # forked child's peak RSS starts at its parent's (Linux keeps it across exec)
            pid = os.fork()
            if pid == 0:
                make(path, args.mb * 1024 * 1024)
                os._exit(0)
            os.waitpid(pid, 0)
        db = work / "store.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        v_s, v_rss, _code, _said = measured([py, "-m", "wizard", "validate", str(path)], work)
        i_s, i_rss, i_code, i_answer = measured(
            [py, "-m", "wizard", "import", str(path), "--db", str(db)], work
        )
        said = i_answer if i_code else "imported"
        print(
            f"| {name} | {path.stat().st_size / 2**20:.0f} | {v_s:.1f} | {v_rss / 2**20:.0f} | "
            f"{i_s:.1f} | {i_rss / 2**20:.0f} | exit {i_code}: {said.replace('|', '/')} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
