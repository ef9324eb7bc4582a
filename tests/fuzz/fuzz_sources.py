#!/usr/bin/env python3
"""On-demand fuzzing of the source readers (``wizard/core/storage``) through ``inspect_file``:
sources' own SQLite databases and folders, made hostile.

Each input is a copy of one native fixture (tests/fixtures/native: mem0's history.db, its
Qdrant local folder and both as an install, mem0-ts's databases, openmemory.db, Letta's three
sqlite.db generations, Letta Code's backend folder), mutated:

- **SQL level**: column values of other types (NULL, huge or negative numbers, NaN-ish floats,
  huge or odd strings, invalid JSON text, JSON of wrong shapes, blobs, invalid UTF-8), NOT NULL
  loosened in the schema, columns dropped or renamed, tables dropped, renamed, or replaced by a
  view (an endless recursive one too), triggers, indexes, generated columns, rows deleted,
  duplicated or multiplied, an unknown table;
- **page level**: byte flips, zeroed or copied pages, header fields, truncation, garbage
  appended, a hot rollback journal beside the database;
- **pickle level** (Qdrant points): byte flips, opcode splices and deletions, points whose
  payload holds odd or non-plain values, and crafted malicious pickles (``os.system``,
  ``builtins.open``/``exec``, ``INST``, ``REDUCE`` through the allowed classes...) that would
  create a canary file if any of them ran;
- **file level** (Letta Code, the Qdrant folder): JSON, JSON Lines, Markdown and reflog
  mutations, empty, huge, non-UTF-8 files, files or folders replaced by symbolic links (outside,
  dangling, loops), FIFOs or folders, odd names.

Each input runs through ``inspect_file`` in a worker process with a watchdog (a time limit and
a memory ceiling, the worker's RSS polled while it works). It must give a report or a clean
refusal (no exception, no "could not be converted"), never run code (the canary file never
appears), never change the source (its files are compared before and after) and leave no
private copy behind. Findings are saved as a tar of the input with its verdict
(``<out>/<seed>-<n>-<kind>.tar`` and ``.txt``), replayed with ``--replay FILE.tar``; the exit
code is 1 when anything was found.

Not a pytest module (regressions are in tests/test_fuzz_findings.py). Examples::

    python tests/fuzz/fuzz_sources.py --seconds 600 --jobs 2
    python tests/fuzz/fuzz_sources.py --replay fuzz-findings/sources/123-45-traceback.tar
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import multiprocessing
import os
import pickle
import random
import shutil
import sqlite3
import stat
import sys
import tarfile
import tempfile
import time
import traceback
import types
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NATIVE = ROOT / "tests" / "fixtures" / "native"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from fuzz.fuzz_inputs import _random_json, mutate_bytes, mutate_json  # noqa: E402

# A file that appears only if a pickle's code ran (a fixed path, so that a replay checks it too).
CANARY = Path(tempfile.gettempdir()) / "agentmemory-fuzz-canary"
PRIVATE_COPY = "agentmemory-wizard-source-"  # wizard.core.storage.safety.PREFIX


# == the harness: worker processes with a watchdog (shared with fuzz_delivery.py) ===============
def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _worker(conn: Connection, check: Callable[[Any], tuple[str | None, bool]]) -> None:
    import resource

    private_tmp = tempfile.mkdtemp(prefix="fuzz-worker-")
    os.environ["TMPDIR"] = private_tmp  # the reader's private copies go here: checked empty
    tempfile.tempdir = None
    os.environ["AGENTMEMORY_WIZARD_LOG_DIR"] = tempfile.mkdtemp(prefix="fuzz-log-")
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        started = time.monotonic()
        try:
            verdict, accepted = check(job)
        except BaseException:  # anything escaping is a finding
            verdict, accepted = "traceback:\n" + traceback.format_exc(), False
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        conn.send((verdict, accepted, peak_kb, time.monotonic() - started))


class Slot:
    """One worker process and the input it is working on."""

    def __init__(self, ctx: Any, check: Callable[[Any], tuple[str | None, bool]]) -> None:
        self.ctx, self.check = ctx, check
        self.start()

    def start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, self.check), daemon=True)
        self.proc.start()
        child.close()
        self.job: tuple | None = None
        self.deadline = 0.0

    def restart(self) -> None:
        self.proc.kill()
        self.proc.join(5)
        self.conn.close()
        self.start()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


def kind_of(verdict: str) -> str:
    """The finding's class: the first word of a verdict that is not a traceback."""
    if verdict.startswith("traceback"):
        return "traceback"
    return verdict.split(":", 1)[0].strip().replace(" ", "-")[:40] or "bad-outcome"


def run_fuzz(
    *,
    name: str,
    seconds: float,
    iterations: int,
    jobs: int,
    timeout: float,
    max_rss_mb: int,
    seed: int,
    check: Callable[[Any], tuple[str | None, bool]],
    make: Callable[[random.Random, int, int], tuple[str, Any]],
    save: Callable[[Any, Path], None],
    out: Path,
    cleanup: Callable[[Any], None] = lambda job: None,
) -> int:
    """Feed ``make(rng, serial, slot)`` inputs to ``check`` in ``jobs`` workers until the time or
    the count runs out; save each finding with ``save(job, stem)``. Returns the number of
    findings."""
    rng = random.Random(seed)
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    slots = [Slot(ctx, check) for _ in range(max(1, jobs))]
    findings: list[str] = []
    counts = {"inputs": 0, "accepted": 0}
    slowest = 0.0
    started = time.monotonic()
    serial = 0
    print(
        f"fuzzing {name}: seed {seed}, {len(slots)} workers, {timeout:g} s and {max_rss_mb} MB "
        "per input",
        flush=True,
    )

    def record(slot: Slot, kind: str, detail: str) -> None:
        n, label, job = slot.job  # type: ignore[misc]
        out.mkdir(parents=True, exist_ok=True)
        stem = out / f"{seed}-{n}-{kind}"
        try:
            save(job, stem)
        except Exception as exc:  # a finding whose input cannot be saved is still reported
            detail += f"\n(the input could not be saved: {exc})"
        stem.with_suffix(".txt").write_text(
            f"input #{n} (seed {seed}) {label}: {kind}\n{detail}\n", encoding="utf-8"
        )
        lines = [line for line in detail.splitlines() if line.strip()] or [kind]
        summary = lines[-1] if kind == "traceback" else lines[0]
        findings.append(f"#{n} {kind}: {label}: {summary.strip()[:240]}")
        print(f"FINDING #{n} {kind} {label} -> {stem}", flush=True)

    def done() -> bool:
        if iterations and serial >= iterations:
            return True
        return time.monotonic() - started >= seconds

    def finish(slot: Slot) -> None:
        if slot.job is not None:
            cleanup(slot.job[2])
        slot.job = None

    try:
        while True:
            for index, slot in enumerate(slots):
                if slot.job is None and not done():
                    serial += 1
                    label, job = make(rng, serial, index)
                    slot.job = (serial, label, job)
                    slot.deadline = time.monotonic() + timeout
                    slot.conn.send(job)
            busy = [s for s in slots if s.job is not None]
            if not busy:
                break
            ready = wait([s.conn for s in busy], timeout=0.25)
            now = time.monotonic()
            for slot in busy:
                if slot.conn in ready:
                    try:
                        verdict, accepted, peak_kb, took = slot.conn.recv()
                    except (EOFError, OSError):
                        counts["inputs"] += 1
                        record(slot, "crash", f"the worker died (exit code {slot.proc.exitcode})")
                        finish(slot)
                        slot.restart()
                        continue
                    counts["inputs"] += 1
                    counts["accepted"] += accepted
                    slowest = max(slowest, took)
                    if verdict:
                        record(slot, kind_of(verdict), verdict)
                    if peak_kb > max_rss_mb * 1024:
                        record(slot, "memory", f"the worker peaked at {peak_kb // 1024} MB")
                        finish(slot)
                        slot.restart()
                        continue
                    finish(slot)
                elif now > slot.deadline:
                    counts["inputs"] += 1
                    record(slot, "hang", f"no answer within {timeout:g} s")
                    finish(slot)
                    slot.restart()
                elif not slot.proc.is_alive():
                    counts["inputs"] += 1
                    record(slot, "crash", f"the worker died (exit code {slot.proc.exitcode})")
                    finish(slot)
                    slot.restart()
                elif _rss_kb(slot.proc.pid) > max_rss_mb * 1024:
                    counts["inputs"] += 1
                    record(slot, "memory", f"the worker grew past {max_rss_mb} MB while working")
                    finish(slot)
                    slot.restart()
    finally:
        for slot in slots:
            slot.stop()
    elapsed = time.monotonic() - started
    print(
        f"{counts['inputs']} inputs in {elapsed:.0f} s ({counts['inputs'] / max(elapsed, 1e-9):.1f}"
        f"/s; {counts['accepted']} accepted, the others refused; slowest {slowest:.1f} s), "
        f"seed {seed}: {len(findings)} findings",
        flush=True,
    )
    for line in findings:
        print("  " + line)
    return len(findings)


# == checking one input (in a worker) ==============================================================
def _snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under ``root`` (not following links): its kind, size and content hash."""
    out: dict[str, tuple] = {}
    if not os.path.lexists(root):
        return out
    entries = [root] if not root.is_dir() or root.is_symlink() else []
    if not entries:
        for folder, dirs, files in os.walk(root, followlinks=False):
            entries += [Path(folder) / n for n in dirs + files]
    for path in entries:
        st = path.lstat()
        rel = str(path.relative_to(root.parent))
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", os.readlink(path))
        elif stat.S_ISREG(st.st_mode):
            with open(path, "rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
            out[rel] = ("file", st.st_size, st.st_mtime_ns, digest)
        else:
            out[rel] = (stat.S_IFMT(st.st_mode),)
    return out


def check_source(job: tuple[str, str]) -> tuple[str | None, bool]:
    """(None for a proper report or a clean refusal, else what is wrong; accepted)."""
    from wizard.core import inspection as inspection_module

    crashes: list[str] = []  # what inspect_file's catch-all logged: the finding's traceback

    def log_crash(exc: BaseException) -> None:
        crashes.append("".join(traceback.format_exception(exc)))

    inspection_module.log_crash = log_crash  # type: ignore[assignment]
    case, target = job
    path = Path(case) / target
    before = _snapshot(path)
    inspection = inspection_module.inspect_file(path)
    report = inspection.report
    verdict: str | None = None
    if CANARY.exists():
        verdict = "code ran: the canary file appeared (a pickle's code was executed)"
    elif _snapshot(path) != before:
        verdict = "source changed: reading changed the source's files"
    elif any(p.name.startswith(PRIVATE_COPY) for p in Path(tempfile.gettempdir()).iterdir()):
        for p in Path(tempfile.gettempdir()).iterdir():
            shutil.rmtree(p, ignore_errors=True)
        verdict = "copy left: a private copy of the source stayed in the temporary folder"
    elif not report.ok:
        if not report.errors:
            verdict = "bad outcome: refused without saying why"
        for problem in report.errors:
            if "could not be converted" in problem.message:
                verdict = f"adapter error: {problem.message}\n" + "\n".join(crashes)
            elif not problem.message.strip():
                verdict = "bad outcome: an empty problem"
        if verdict is None and inspection.data is not None:
            verdict = "bad outcome: refused but data was kept"
    elif inspection.data is None:
        verdict = "bad outcome: accepted without data"
    return verdict, bool(report.ok)


# == building inputs (in the parent) ===============================================================
TARGETS: dict[str, tuple[str, ...]] = {
    # name: (what to copy from NATIVE, ...) ; the input's target is the first copied name
    "mem0-history": ("mem0/history.db",),
    "mem0-install": ("mem0",),
    "mem0-qdrant": ("mem0/qdrant",),
    "mem0-qdrant-collection": ("mem0/qdrant/collection/mem/storage.sqlite",),
    "mem0-ts-vectors": ("mem0-ts/vector_store.db",),
    "mem0-ts-memory": ("mem0-ts/memory.db",),
    "mem0-ts-entities": ("mem0-ts/vector_store_entities.db",),
    "openmemory": ("openmemory/openmemory.db",),
    "letta-0.6.4": ("letta/letta-0.6.4.sqlite.db",),
    "letta-0.10.0": ("letta/letta-0.10.0.sqlite.db",),
    "letta-0.11.7": ("letta/letta-0.11.7.sqlite.db",),
    "letta-code": ("letta-code/lc-local-backend",),
}
WEIGHTS = {"mem0-install": 2, "mem0-qdrant": 2, "mem0-qdrant-collection": 2, "letta-code": 3}


def build_case(case: Path, name: str) -> str:
    """A fresh copy of a fixture in ``case``; returns the target's name inside it."""
    (source,) = TARGETS[name]
    src = NATIVE / source
    dest = case / src.name
    if src.is_dir():
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns("getall-*.json"))
        for stored in dest.glob("memfs/*/memory/dot-git"):
            stored.rename(stored.with_name(".git"))
    else:
        shutil.copyfile(src, dest)
    return src.name


def _databases(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and not p.is_symlink() and p.read_bytes()[:16] == b"SQLite format 3\x00"
    )


# -- SQL-level mutations -------------------------------------------------------------------------
def _odd_value(rng: random.Random) -> tuple[str, Any]:
    """("param", value) or ("sql", expression): a value of another type or shape."""
    kind = rng.randrange(14)
    if kind == 0:
        return "param", None
    if kind == 1:
        return "param", rng.choice([0, -1, 1, 2**63 - 1, -(2**63), 4102444800000, -62135596800])
    if kind == 2:
        return "param", rng.choice([1e308, -1e308, 5e-324, 0.5, -0.0, 1e19])
    if kind == 3:
        return "sql", rng.choice(["1e999", "-1e999", "(1e999 - 1e999)", "zeroblob(0)"])
    if kind == 4:
        return "param", "x" * rng.choice([0, 1, 10_000, 1_000_000, 6_000_000])
    if kind == 5:
        return "param", rng.choice(
            ["{", "[1,", '{"a":', "nul", "NaN", "[NaN]", '"\\ud800"', "1e999"]
        )
    if kind == 6:
        return "param", json.dumps(_random_json(rng), allow_nan=True)
    if kind == 7:
        return "param", rng.choice(
            ['"text"', "[]", "{}", "[[[]]]", "123", "true", "null", '[{"x":1}]']
        )
    if kind == 8:
        depth = rng.choice([50, 150, 201, 1000, 100_000])
        return "param", "[" * depth + "]" * depth
    if kind == 9:
        return "param", rng.randbytes(rng.choice([0, 1, 16, 4096]))
    if kind == 10:  # text whose bytes are not UTF-8
        return "sql", rng.choice(
            ["CAST(X'FF' AS TEXT)", "CAST(X'C3' AS TEXT)", "CAST(X'00FF41' AS TEXT)"]
        )
    if kind == 11:
        return "param", rng.choice(
            ["\x00", "é" * 1000, "\u202e", "'; DROP TABLE x; --", "\r\n", " "]
        )
    if kind == 12:
        return "param", rng.choice(
            ["2026-13-45 99:99:99", "not a date", "0000-00-00", "9999-12-31 23:59:59.999999", "-1"]
        )
    return "param", rng.choice(
        ["00000000000000000000000000000000", "zz" * 16, "a" * 31, "deleted", "active", "DELETE"]
    )


def _tables(con: sqlite3.Connection) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]


def _columns(con: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_op(rng: random.Random, con: sqlite3.Connection, tables: list[str]) -> str:
    table = rng.choice(tables)
    cols = _columns(con, table)
    col = rng.choice(cols) if cols else "x"
    t, c = _q(table), _q(col)
    op = rng.randrange(16)
    if op <= 4:  # the most useful: a column's values become something else
        how, value = _odd_value(rng)
        m = rng.choice([1, 1, 2, 3, 7])
        where = f"WHERE rowid % {m} = {rng.randrange(m)}"
        if how == "sql":
            con.execute(f"UPDATE {t} SET {c} = {value} {where}")
        else:
            con.execute(f"UPDATE {t} SET {c} = ? {where}", (value,))
        return f"set {table}.{col}"
    if op == 5:  # the schema no longer says NOT NULL (nor UNIQUE / CHECK): the data may lie
        con.execute("PRAGMA writable_schema = ON")
        con.execute(
            "UPDATE sqlite_master SET sql = replace(replace(sql, 'NOT NULL', ''), 'CHECK', "
            "'/*CHECK*/ CHECK') WHERE name = ?",
            (table,),
        )
        con.execute("PRAGMA writable_schema = OFF")
        return f"loosen {table}"
    if op == 6:
        keep = [x for x in cols if x != col]
        if not keep:
            return "nothing"
        listed = ", ".join(_q(x) for x in keep)
        con.execute(f"CREATE TABLE fuzz_tmp AS SELECT {listed} FROM {t}")
        con.execute(f"DROP TABLE {t}")
        con.execute(f"ALTER TABLE fuzz_tmp RENAME TO {t}")
        return f"drop column {table}.{col}"
    if op == 7:
        con.execute(f"ALTER TABLE {t} RENAME COLUMN {c} TO {_q(col + '_renamed')}")
        return f"rename column {table}.{col}"
    if op == 8:
        con.execute(f"DROP TABLE {t}")
        if rng.random() < 0.5:  # a view of the same name, endless
            con.execute(
                f"CREATE VIEW {t} AS WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
                f"FROM r) SELECT x AS {c} FROM r"
            )
            return f"table {table} became an endless view"
        return f"drop table {table}"
    if op == 9:
        con.execute(f"ALTER TABLE {t} RENAME TO {_q(table + '_old')}")
        return f"rename table {table}"
    if op == 10:
        con.execute(
            f"CREATE TRIGGER fuzz_{rng.randrange(10**6)} AFTER INSERT ON {t} BEGIN "
            f"DELETE FROM {t}; END"
        )
        con.execute(f"CREATE INDEX IF NOT EXISTS fuzz_i_{rng.randrange(10**6)} ON {t}({c})")
        return f"trigger and index on {table}"
    if op == 11:
        expr = rng.choice(["hex(randomblob(100))", "length(" + c + ")", "1"])
        kind = rng.choice(["VIRTUAL", "STORED"])
        con.execute(f"ALTER TABLE {t} ADD COLUMN fuzz_g TEXT GENERATED ALWAYS AS ({expr}) {kind}")
        return f"generated column on {table}"
    if op == 12:
        m = rng.choice([1, 2, 3])
        con.execute(f"DELETE FROM {t} WHERE rowid % {m} = 0")
        return f"delete rows of {table}"
    if op == 13:
        n = rng.choice([1, 2, 50, 3000])
        con.execute(
            f"INSERT OR IGNORE INTO {t} SELECT {t}.* FROM {t}, (WITH RECURSIVE r(x) AS "
            f"(SELECT 1 UNION ALL SELECT x + 1 FROM r LIMIT {n}) SELECT x FROM r)"
        )
        return f"duplicate rows of {table}"
    if op == 14:
        con.execute(f"INSERT OR IGNORE INTO {t} DEFAULT VALUES")
        return f"empty row in {table}"
    con.execute(f"CREATE TABLE {_q(table + '_extra')} (a, b BLOB, c TEXT)")
    con.execute(f"INSERT INTO {_q(table + '_extra')} VALUES (1, x'00', 'x')")
    return f"extra table beside {table}"


def mutate_sql(rng: random.Random, db: Path, how: list[str]) -> None:
    con = sqlite3.connect(db, isolation_level=None)
    try:
        con.execute("PRAGMA foreign_keys = OFF")
        for _ in range(rng.randint(1, 4)):
            tables = _tables(con)
            if not tables:
                break
            try:
                how.append(_sql_op(rng, con, tables))
            except sqlite3.Error:
                pass
    finally:
        con.close()
    for suffix in ("-journal", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)


# -- pickle-level mutations (Qdrant points) ------------------------------------------------------
QDRANT_MODULE = "qdrant_client.http.models.models"


def _fake_qdrant() -> type:
    """A PointStruct that pickles as qdrant-client's (a module of that name in this process)."""
    existing = sys.modules.get(QDRANT_MODULE)
    if existing is not None and hasattr(existing, "PointStruct"):
        return existing.PointStruct

    class PointStruct:
        def __getstate__(self) -> dict:
            return {"__dict__": dict(self.__dict__), "__pydantic_fields_set__": {"id", "payload"}}

        def __setstate__(self, state: dict) -> None:
            self.__dict__.update(state.get("__dict__", state))

    PointStruct.__module__ = QDRANT_MODULE
    PointStruct.__qualname__ = "PointStruct"
    parts = QDRANT_MODULE.split(".")
    for i in range(1, len(parts) + 1):
        sys.modules.setdefault(".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
    sys.modules[QDRANT_MODULE].PointStruct = PointStruct  # type: ignore[attr-defined]
    return PointStruct


def _load_point(blob: bytes) -> Any:
    _fake_qdrant()
    return pickle.loads(blob)  # our own fixture's points (trusted here, never in the wizard)


class _Shared:
    """Made to pickle as a class the reader does not know."""


def _odd_payload_value(rng: random.Random) -> Any:
    kind = rng.randrange(10)
    if kind == 0:
        return _random_json(rng)
    if kind == 1:
        return rng.choice([b"bytes", bytearray(b"x"), 1j, range(3), frozenset({1}), (1, (2,))])
    if kind == 2:
        shared = ["x"] * 3
        return [shared, shared]
    if kind == 3:
        return {1: "int key", None: "none key"}
    if kind == 4:
        return rng.choice([2**64, -(2**63), 10**400, float("nan"), float("inf")])
    if kind == 5:
        nested: Any = "leaf"
        for _ in range(rng.choice([99, 101, 500])):
            nested = [nested]
        return nested
    if kind == 6:
        return _Shared()
    if kind == 7:
        return {"x" * rng.choice([1, 10_000]): list(range(rng.choice([10, 100_000])))}
    if kind == 8:
        return "\ud800" + "é" * rng.choice([1, 100])
    return {"a": {"b": {"c": set(range(5))}}}


def _canary_pickles() -> list[bytes]:
    path = str(CANARY)
    touch = f"touch {path}"
    code = f"open({path!r}, 'w').close()"
    p0 = [
        f"cos\nsystem\n(S'{touch}'\ntR.".encode(),
        f"cposix\nsystem\n(S'{touch}'\ntR.".encode(),
        f"cbuiltins\nopen\n(S'{path}'\nS'w'\ntR.".encode(),
        f'c__builtin__\neval\n(S"{code}"\ntR.'.encode(),
        f"(S'{path}'\nS'w'\nibuiltins\nopen\n.".encode(),
        f"csubprocess\ncall\n((S'touch'\nS'{path}'\nltR.".encode(),
        # through the allowed classes: arguments, a BUILD that would run code
        f"c{QDRANT_MODULE}\nPointStruct\n(S'{path}'\ntR.".encode(),
        f"c{QDRANT_MODULE}\nPointStruct\n)\x81}}S'__dict__'\ncbuiltins\nexec\n(S\"{code}\"\n"
        "tRsb.".encode(),
        f'cbuiltins\nset\n(cbuiltins\nmap\n(cbuiltins\nexec\n(S"{code}"\nltRtR.'.encode(),
        f"ccopyreg\n_reconstructor\n(cos\nsystem\nc__builtin__\nstr\nS'{touch}'\ntR.".encode(),
    ]
    # protocol 4: STACK_GLOBAL with the module and name as strings
    for module, name, args in (("os", "system", (touch,)), ("builtins", "exec", (code,))):
        out = io.BytesIO()
        out.write(b"\x80\x04")
        for text in (module, name):
            raw = text.encode()
            out.write(b"\x8c" + bytes([len(raw)]) + raw)
        out.write(b"\x93")
        raw = args[0].encode()
        out.write(b"\x8c" + bytes([len(raw)]) + raw + b"\x85R.")
        p0.append(out.getvalue())
    return p0


def _splice(rng: random.Random, blob: bytes, other: bytes) -> bytes:
    """Opcode-level edits: cut, repeat or transplant whole opcodes."""
    import pickletools

    def starts(data: bytes) -> list[int]:
        try:
            return [pos for _op, _arg, pos in pickletools.genops(data)]
        except Exception:
            return [0, len(data)]

    a, b = starts(blob), starts(other)
    i, j = sorted(rng.sample(a, 2)) if len(a) > 1 else (0, len(blob))
    op = rng.randrange(4)
    if op == 0:
        return blob[:i] + blob[j:]
    if op == 1:
        return blob[:j] + blob[i:j] * rng.choice([2, 10, 1000]) + blob[j:]
    if op == 2:
        k, m = sorted(rng.sample(b, 2)) if len(b) > 1 else (0, len(other))
        return blob[:i] + other[k:m] + blob[i:]
    special = rng.choice(
        [
            b"r\xff\xff\xff\x7f",
            b"j\xff\xff\xff\x7f",
            b"\x8a\x09" + b"\xff" * 9,
            b"2",
            b"0",
            b"1",
            b"\x82\x01",
            b"P0\n",
            b"Q",
            b"\x88",
            b"I99999999999999999999999\n",
            b"(",
            b".",
        ]
    )
    return blob[:i] + special + blob[i:]


def mutate_points(rng: random.Random, db: Path, how: list[str]) -> None:
    con = sqlite3.connect(db, isolation_level=None)
    try:
        rows = con.execute("SELECT rowid, point FROM points ORDER BY rowid").fetchall()
        if not rows:
            return
        blobs = [r[1] for r in rows if isinstance(r[1], bytes)]
        for _ in range(rng.randint(1, 3)):
            rowid, blob = rng.choice(rows)
            if not isinstance(blob, bytes):
                continue
            op = rng.randrange(6)
            if op == 0:
                new = _canary_pickles()
                blob = rng.choice(new)
                how.append("canary pickle")
            elif op == 1:
                buf = bytearray(blob)
                for _ in range(rng.randint(1, 6)):
                    buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
                blob = bytes(buf)
                how.append("pickle byte flips")
            elif op == 2:
                blob = _splice(rng, blob, rng.choice(blobs))
                how.append("pickle opcode splice")
            elif op == 3:
                blob = blob[: rng.randrange(len(blob))]
                how.append("pickle truncated")
            else:
                point = _load_point(blob)
                fields = point.__dict__
                target = rng.choice(["payload", "payload", "id", "vector", "root"])
                value = _odd_payload_value(rng)
                if target == "payload" and isinstance(fields.get("payload"), dict):
                    key = rng.choice([*fields["payload"], "data", "user_id", "metadata", "x"])
                    fields["payload"][key] = value
                elif target == "root":
                    point = value
                else:
                    fields[target] = value
                try:
                    blob = pickle.dumps(point, protocol=rng.choice([2, 3, 4, 5]))
                except Exception:
                    continue
                how.append(f"point {target} became {type(value).__name__}")
            con.execute("UPDATE points SET point = ? WHERE rowid = ?", (blob, rowid))
    finally:
        con.close()


# -- page-level mutations ------------------------------------------------------------------------
JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")


def mutate_pages(rng: random.Random, db: Path, how: list[str]) -> None:
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    pages = max(1, len(data) // page)
    op = rng.randrange(7)
    if op == 0:
        for _ in range(rng.randint(1, 30)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        how.append("byte flips")
    elif op == 1:
        p = rng.randrange(pages)
        data[p * page : (p + 1) * page] = bytes(page)
        how.append(f"page {p + 1} zeroed")
    elif op == 2:
        a, b = rng.randrange(pages), rng.randrange(pages)
        data[b * page : (b + 1) * page] = data[a * page : (a + 1) * page]
        how.append(f"page {a + 1} copied over page {b + 1}")
    elif op == 3:
        cut = rng.choice([rng.randrange(len(data)), rng.randrange(pages) * page, 100, 16])
        del data[cut:]
        how.append(f"truncated at {cut}")
    elif op == 4:
        data += rng.randbytes(rng.choice([1, 100, page, 3 * page]))
        how.append("garbage appended")
    elif op == 5:  # header fields: page size, reserved bytes, page count, schema format...
        offset = rng.choice([16, 17, 18, 19, 20, 21, 28, 29, 30, 31, 40, 44, 47, 52, 56, 96])
        data[offset] = rng.randrange(256)
        how.append(f"header byte {offset}")
    else:  # a b-tree page's cell pointers or cell count
        p = rng.randrange(pages)
        base = p * page + (100 if p == 0 else 0)
        for k in range(rng.randint(1, 4)):
            if base + 3 + k < len(data):
                data[base + 3 + k] = rng.randrange(256)
        how.append(f"b-tree header of page {p + 1}")
    db.write_bytes(bytes(data))
    if rng.random() < 0.05:  # a hot journal: a write under way, or its writer died
        Path(str(db) + "-journal").write_bytes(JOURNAL_MAGIC + rng.randbytes(rng.choice([0, 512])))
        how.append("hot journal")


# -- file-level mutations (folders) --------------------------------------------------------------
OUTSIDE = ["/etc/hostname", "/etc/passwd", "/dev/zero", "/dev/null", "/proc/self/status", "/"]


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _mutate_jsonl(rng: random.Random, data: bytes) -> bytes:
    lines = data.split(b"\n")
    i = rng.randrange(len(lines))
    op = rng.randrange(4)
    if op == 0:
        mutated = mutate_json(rng, lines[i]) if lines[i].strip() else None
        lines[i] = mutated if mutated is not None else lines[i]
    elif op == 1:
        lines.insert(i, rng.choice([b"{", b"null", b"[]", b'"x"', b"1e999", b"\xff", b"{}" * 3]))
    elif op == 2:
        lines.insert(i, json.dumps({"type": "message", "message": _random_json(rng)}).encode())
    else:
        lines = lines * rng.choice([2, 100])
    return b"\n".join(lines)


def _mutate_markdown(rng: random.Random, data: bytes) -> bytes:
    op = rng.randrange(5)
    if op == 0:
        return b"---\n" + rng.choice([b"", b"description:", b"- item", b":\n:", b"a: b\n" * 5000])
    if op == 1:
        return data.replace(b"\n", rng.choice([b"\r\n", b"\r", b"\n---\n"]))
    if op == 2:
        return b"---\n" + b"key: " + b"x" * 2_000_000 + b"\n---\n" + data
    if op == 3:
        return b"---\n" * rng.choice([2, 3, 10_000]) + data
    return data + b"\n---" + rng.randbytes(64)


def _mutate_reflog(rng: random.Random, data: bytes) -> bytes:
    stamp = rng.choice(
        [
            b"99999999999999999999",
            b"-99999999999999",
            b"1e9",
            b"nan",
            b"",
            b"253402300800",
            b"-62135596801",
            b"0",
            b"18446744073709551616",
        ]
    )
    line = b"0" * 40 + b" " + b"1" * 40 + b" A <a@b> " + stamp + b" +0000\tcommit: x"
    op = rng.randrange(3)
    if op == 0:
        return data + line + b"\n"
    if op == 1:
        return line
    return data.replace(b"\t", b" ") + b"\n\t\t\n" + b"x " * 10_000


def _replace_with(rng: random.Random, path: Path, how: list[str], root: Path) -> None:
    """The file or folder at ``path`` becomes a link, a FIFO, a folder, or goes."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    op = rng.randrange(6)
    if op == 0:
        path.symlink_to(rng.choice(OUTSIDE))
        how.append(f"{path.relative_to(root)} -> link outside")
    elif op == 1:
        path.symlink_to(path.name)  # a loop
        how.append(f"{path.relative_to(root)} -> link loop")
    elif op == 2:
        path.symlink_to(root / "nowhere")
        how.append(f"{path.relative_to(root)} -> dangling link")
    elif op == 3:
        os.mkfifo(path)
        how.append(f"{path.relative_to(root)} -> FIFO")
    elif op == 4:
        path.mkdir()
        how.append(f"{path.relative_to(root)} -> folder")
    else:
        how.append(f"{path.relative_to(root)} removed")


def mutate_folder(rng: random.Random, root: Path, how: list[str]) -> None:
    for _ in range(rng.randint(1, 3)):
        files = [p for p in _files(root) if "/objects/" not in str(p)]
        if not files:
            return
        path = rng.choice(files)
        op = rng.randrange(10)
        data = path.read_bytes()
        name = path.name
        if data[:16] == b"SQLite format 3\x00" and op < 5:
            continue  # databases get the SQL and page mutations
        if op <= 3:
            if name.endswith(".jsonl"):
                new = _mutate_jsonl(rng, data)
            elif name.endswith(".md"):
                new = _mutate_markdown(rng, data)
            elif name == "HEAD" and "logs" in path.parts:
                new = _mutate_reflog(rng, data)
            else:
                try:
                    new = mutate_json(rng, data) or mutate_bytes(rng, data, b"")
                except (UnicodeError, ValueError, RecursionError, TypeError, KeyError, IndexError):
                    new = mutate_bytes(rng, data, b"")
            path.write_bytes(new)
            how.append(f"{path.relative_to(root)} edited")
        elif op == 4:
            path.write_bytes(mutate_bytes(rng, data, rng.choice(files).read_bytes()))
            how.append(f"{path.relative_to(root)} bytes")
        elif op == 5:
            path.write_bytes(
                rng.choice(
                    [
                        b"",
                        b"\xef\xbb\xbf",
                        b"\xff\xfe{\x00}\x00",
                        data.decode("utf-8", "replace").encode("latin-1", "replace"),
                        data * (8_000_000 // (len(data) + 1)),
                    ]
                )
            )
            how.append(f"{path.relative_to(root)} empty/odd encoding/huge")
        elif op == 6:
            _replace_with(rng, path, how, root)
        elif op == 7:
            folder = rng.choice(
                [p for p in root.rglob("*") if p.is_dir() and not p.is_symlink()] or [root]
            )
            if folder != root:
                _replace_with(rng, folder, how, root)
        elif op == 8:
            odd = rng.choice(
                [
                    "._x.json",
                    "bad\nname.json",
                    "x" * 250 + ".json",
                    "%%%.json",
                    "YQ.json",
                    "e30.json",
                ]
            )
            target = path.parent / odd
            target.write_bytes(rng.choice([data, b"{}", b"[]", b'{"id": null}']))
            how.append(f"extra file {odd[:20]!r}")
        else:
            copy = path.with_name("Y29weQ" + path.name[:200])  # a second file, same content
            if not os.path.lexists(copy):
                copy.write_bytes(data)
            how.append(f"{path.relative_to(root)} duplicated")


# -- one input -----------------------------------------------------------------------------------
def make_source_input(rng: random.Random, serial: int, slot: int, work: Path) -> tuple[str, Any]:
    names = list(TARGETS)
    name = rng.choices(names, [WEIGHTS.get(n, 1) for n in names])[0]
    case = work / f"case-{slot}-{serial}"
    case.mkdir()
    target = build_case(case, name)
    path = case / target
    how: list[str] = []
    for db in _databases(path):
        is_points = db.name == "storage.sqlite"
        if is_points and rng.random() < 0.6:
            mutate_points(rng, db, how)
        if rng.random() < (0.35 if is_points else 0.7):
            mutate_sql(rng, db, how)
        if rng.random() < 0.25:
            mutate_pages(rng, db, how)
    if path.is_dir() and (not how or rng.random() < 0.5):
        mutate_folder(rng, path, how)
    if not path.is_dir() and rng.random() < 0.02:
        _replace_with(rng, path, how, case)
    return f"{name} ({'; '.join(how)[:300] or 'unchanged'})", (str(case), target)


def save_source_input(job: tuple[str, str], stem: Path) -> None:
    case, target = job
    with tarfile.open(stem.with_suffix(".tar"), "w") as tar:
        tar.add(case, arcname="case", recursive=True)
        info = tarfile.TarInfo("target")
        raw = target.encode()
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))


def replay(path: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(path) as tar:
        tar.extractall(tmp, filter="fully_trusted")
        target = (Path(tmp) / "target").read_text()
        CANARY.unlink(missing_ok=True)
        try:
            verdict, _accepted = check_source((str(Path(tmp) / "case"), target))
        except BaseException:
            verdict = "traceback:\n" + traceback.format_exc()
    print(verdict or "ok: a report or a clean refusal")
    return 1 if verdict else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="stop after this long")
    parser.add_argument("--iterations", type=int, default=0, help="stop after N inputs (0: none)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    parser.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per input")
    parser.add_argument("--max-rss-mb", type=int, default=1024, help="memory ceiling per input")
    parser.add_argument("--out", type=Path, default=Path("fuzz-findings") / "sources")
    parser.add_argument("--replay", type=Path, help="check one saved input (.tar)")
    args = parser.parse_args(argv)
    if args.replay:
        return replay(args.replay)
    CANARY.unlink(missing_ok=True)
    seed = args.seed if args.seed is not None else int(time.time())
    work = Path(tempfile.mkdtemp(prefix="agentmemory-fuzz-sources-"))
    try:
        found = run_fuzz(
            name="the source readers (inspect_file on native stores)",
            seconds=args.seconds,
            iterations=args.iterations,
            jobs=args.jobs,
            timeout=args.timeout,
            max_rss_mb=args.max_rss_mb,
            seed=seed,
            check=check_source,
            make=lambda rng, serial, slot: make_source_input(rng, serial, slot, work),
            save=save_source_input,
            out=args.out,
            cleanup=lambda job: shutil.rmtree(job[0], ignore_errors=True),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if CANARY.exists():
        print("the canary file exists: a pickle's code ran")
        return 1
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
