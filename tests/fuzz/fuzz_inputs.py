#!/usr/bin/env python3
"""On-demand fuzzing of the reader, detector, adapters and checks (``inspect_file``), and
optionally the importer.

Random mutations of the real samples (tests/fixtures) and of the hostile files (hostile.py):
byte flips, inserts, deletions, truncations, repeated slices, splices between two samples,
JSON-structure mutations (a node replaced by a deep, huge, wrong-typed or odd value), BOMs and
UTF-16, double encoding, and gzip / zip wrappers (damaged ones too). Every input must give a
report or a clean refusal: a refused report says why, an accepted one has data, and nothing
raises, hangs or eats memory. Each input runs in a worker process with a watchdog (a time limit
and a memory ceiling); a worker that hangs, dies or grows too big is replaced.

Findings are saved with the input (``<out>/<n>-<kind>.bin`` and ``.txt``) so they can be
replayed: ``python tests/fuzz/fuzz_inputs.py --replay FILE``. The exit code is 1 when anything
was found, else 0.

This is not a pytest module (the bounded property tests are in tests/test_core_properties.py).
Examples::

    python tests/fuzz/fuzz_inputs.py --seconds 120
    python tests/fuzz/fuzz_inputs.py --iterations 5000 --jobs 4 --seed 7 --store
"""

from __future__ import annotations

import argparse
import copy
import gzip
import io
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
import traceback
import zipfile
from multiprocessing.connection import Connection, wait
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

MAX_INPUT = 4 * 1024 * 1024  # mutated inputs are kept under this size (before wrapping)


# -- checking one input (in a worker process) -----------------------------------------------------
def check_file(path: str, store_dir: str | None) -> tuple[str | None, bool]:
    """(None when the input gave a proper report, else what is wrong; was it accepted)."""
    from wizard.core.inspection import inspect_file

    inspection = inspect_file(path)
    report = inspection.report
    if not report.ok:
        if not report.errors:
            return "refused without saying why", False
        for problem in report.errors:
            if "could not be converted" in problem.message:
                return f"an adapter raised: {problem.message}", False
            if not problem.message.strip():
                return "an empty problem", False
        if inspection.data is not None:
            return "refused but data was kept", False
        return None, False
    if inspection.data is None:
        return "accepted without data", True
    if store_dir is not None:
        return _import_into_a_new_store(inspection, Path(store_dir)), True
    return None, True


def _import_into_a_new_store(inspection, folder: Path) -> str | None:
    import sqlite3

    from wizard import runs
    from wizard.store import database

    db = folder / f"fuzz-{os.getpid()}.sqlite"
    for f in folder.glob(f"{db.name}*"):
        f.unlink()
    with database.open_store(db) as store:
        result = runs.drive(runs.import_steps(store, inspection, "merge"))
    con = sqlite3.connect(db)
    try:
        verdict = con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()
    if not result.ok:
        return f"an accepted file failed to import: {result.error}"
    if verdict != "ok":
        return f"integrity_check after the import: {verdict}"
    return None


def _faulty_check(path: str, store_dir: str | None) -> tuple[str | None, bool]:
    """For ``--self-check``: inputs that hang, crash, raise or grow, to prove the watchdog."""
    data = Path(path).read_bytes()
    if data == b"HANG":
        time.sleep(3600)
    if data == b"CRASH":
        os._exit(9)
    if data == b"RAISE":
        raise RuntimeError("an exception escaped")
    if data == b"GROW":
        hog = bytearray(300 * 1024 * 1024)
        hog[::4096] = b"x" * len(hog[::4096])
    return check_file(path, store_dir)


def _worker(conn: Connection, store_dir: str | None, self_check: bool = False) -> None:
    import resource

    os.environ.setdefault("AGENTMEMORY_WIZARD_LOG_DIR", tempfile.mkdtemp(prefix="fuzz-log-"))
    while True:
        try:
            path = conn.recv()
        except EOFError:
            return
        if path is None:
            return
        try:
            verdict, accepted = (_faulty_check if self_check else check_file)(path, store_dir)
        except BaseException:  # anything escaping inspect_file is a finding
            verdict, accepted = "traceback:\n" + traceback.format_exc(), False
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        conn.send((verdict, accepted, peak_kb))


# -- mutations (in the parent) --------------------------------------------------------------------
def load_seeds(rng: random.Random) -> list[tuple[str, bytes]]:
    seeds = [(str(p.relative_to(FIXTURES)), p.read_bytes()) for p in sorted(FIXTURES.glob("*/*"))]
    from fuzz.hostile import build

    with tempfile.TemporaryDirectory() as tmp:
        for case in build(Path(tmp), big=False).values():
            data = case.path.read_bytes()
            if len(data) <= MAX_INPUT:
                seeds.append((f"hostile/{case.name}", data))
    return seeds


def _random_json(rng: random.Random, depth: int = 0):
    kind = rng.randrange(12)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63, -(2**70), 10**400, 1e308, -0.0, 5e-324])
    if kind == 3:
        return rng.choice(["", " ", "\u0000", "\ud800x", "é" * 50, "<b>x</b>", "'; DROP --", "\n"])
    if kind == 4:
        return "x" * rng.choice([1, 1000, 100_000, 3_000_000])
    if kind == 5 and depth < 3:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 6 and depth < 3:
        keys = ["id", "sessionId", "memory", "content", "agents", "blocks", "version", "", "x"]
        return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randrange(4))}
    if kind == 7:
        n = rng.choice([10, 150, 199, 201, 500])
        return json.loads("[" * n + "]" * n) if n < 900 else []
    if kind == 8:
        return rng.choice(["2026-01-01T00:00:00.000Z", "not a date", "9999-99-99", 1700000000])
    if kind == 9:
        return rng.choice(["0.9.5", "0.3.0", "1.0.0", "", 7, None])
    if kind == 10:
        return [{"id": f"r{i}"} for i in range(rng.choice([0, 1, 100, 5001]))]
    return rng.random()


def _nodes(value, path=()):
    yield path
    if isinstance(value, dict):
        for k in list(value)[:40]:
            yield from _nodes(value[k], (*path, k))
    elif isinstance(value, list):
        for i in range(min(len(value), 6)):
            yield from _nodes(value[i], (*path, i))


def mutate_json(rng: random.Random, data: bytes) -> bytes | None:
    """Replace, delete or duplicate one node of the document (or of a JSON Lines record)."""
    text = data.decode("utf-8-sig", errors="strict")
    lines = None
    try:
        doc = json.loads(text)
    except ValueError:
        try:
            lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError:
            return None
        doc = lines
    inner = False
    if isinstance(doc, str):  # a double-encoded Letta file
        try:
            doc, inner = json.loads(doc), True
        except ValueError:
            return None
    doc = copy.deepcopy(doc)
    paths = list(_nodes(doc))
    path = rng.choice(paths)
    op = rng.randrange(3)
    if not path:
        doc = _random_json(rng)
    else:
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if op == 0:
            parent[last] = _random_json(rng)
        elif op == 1:
            del parent[last]
        else:
            value = parent[last]
            if isinstance(parent, list):
                parent.extend([copy.deepcopy(value)] * rng.choice([1, 2, 50]))
            else:
                parent[f"{last}_copy"] = copy.deepcopy(value)
    if inner:
        doc = json.dumps(doc)
    if lines is not None and isinstance(doc, list):
        out = "\n".join(json.dumps(r) for r in doc)
    else:
        out = json.dumps(doc, allow_nan=rng.random() < 0.1)
    return out.encode("utf-8")


def mutate_bytes(rng: random.Random, data: bytes, other: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randrange(1, 5)):
        if not buf:
            buf += rng.randbytes(rng.randrange(1, 16))
            continue
        i = rng.randrange(len(buf))
        op = rng.randrange(8)
        if op == 0:
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[i:i] = rng.randbytes(rng.randrange(1, 8))
        elif op == 2:
            del buf[i : i + rng.randrange(1, 64)]
        elif op == 3:
            del buf[i:]
        elif op == 4:
            j = min(len(buf), i + rng.randrange(1, 256))
            buf[j:j] = buf[i:j] * rng.randrange(1, 8)
        elif op == 5 and other:  # splice: the start of one sample, the end of another
            buf = buf[:i] + bytearray(other[rng.randrange(len(other)) :])
        elif op == 6:
            buf[i:i] = rng.choice([b"NaN", b"-Infinity", b"\x00", b"\xff\xfe", b'"\\u', b"}]"])
        else:
            buf[i] = rng.choice(b'{}[]",:\\ \n0e-')
    return bytes(buf[:MAX_INPUT])


def wrap(rng: random.Random, data: bytes) -> bytes:
    """Sometimes put the input in a gzip or zip container, a BOM, UTF-16 or a JSON string."""
    op = rng.randrange(10)
    if op == 0:
        packed = gzip.compress(data, mtime=0)
        return packed if rng.random() < 0.8 else packed[: rng.randrange(len(packed))]
    if op == 1:
        buf = io.BytesIO()
        names = ["memories.json", "backup/memories.json", "../memories.json", "notes.txt"]
        with zipfile.ZipFile(buf, "w", rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])) as z:
            z.writestr(rng.choice(names), data)
            if rng.random() < 0.3:
                z.writestr("memories.jsonl.gz", gzip.compress(data, mtime=0))
        packed = buf.getvalue()
        return packed if rng.random() < 0.8 else packed[: rng.randrange(len(packed))]
    if op == 2:
        return b"\xef\xbb\xbf" + data
    if op == 3:
        try:
            return data.decode("utf-8").encode(rng.choice(["utf-16", "utf-16-le", "latin-1"]))
        except (UnicodeError, ValueError):
            return data
    if op == 4:
        try:
            return json.dumps(data.decode("utf-8")).encode("utf-8")
        except UnicodeError:
            return data
    return data


def make_input(rng: random.Random, seeds: list[tuple[str, bytes]]) -> tuple[str, bytes]:
    name, data = rng.choice(seeds)
    _other_name, other = rng.choice(seeds)
    how = []
    if rng.random() < 0.45:
        try:
            mutated = mutate_json(rng, data)
        except (UnicodeError, ValueError, RecursionError, TypeError, KeyError, IndexError):
            mutated = None
        if mutated is not None:
            data = mutated
            how.append("json")
    if not how or rng.random() < 0.4:
        data = mutate_bytes(rng, data, other)
        how.append("bytes")
    data = wrap(rng, data)
    return f"{name} ({'+'.join(how)})", data


# -- the run --------------------------------------------------------------------------------------
def _kind(verdict: str) -> str:
    """traceback: an exception escaped inspect_file (the caller would crash); adapter-error: an
    adapter raised and inspect_file turned it into a refusal (and logged it); bad-outcome: any
    other broken promise (a refusal without a reason, data kept for a refused file...)."""
    if verdict.startswith("traceback"):
        return "traceback"
    if verdict.startswith("an adapter raised"):
        return "adapter-error"
    return "bad-outcome"


class Slot:
    """One worker process and the input it is working on."""

    def __init__(self, ctx, store_dir: str | None, self_check: bool = False) -> None:
        self.ctx = ctx
        self.store_dir = store_dir
        self.self_check = self_check
        self.start()

    def start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(
            target=_worker, args=(child, self.store_dir, self.self_check), daemon=True
        )
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="stop after this long")
    parser.add_argument("--iterations", type=int, default=0, help="stop after N inputs (0: none)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    parser.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per input")
    parser.add_argument("--max-rss-mb", type=int, default=1024, help="memory ceiling per input")
    parser.add_argument("--store", action="store_true", help="also import accepted inputs")
    parser.add_argument("--out", type=Path, default=Path("fuzz-findings"))
    parser.add_argument("--replay", type=Path, help="check one saved input and print the verdict")
    parser.add_argument(
        "--self-check",
        action="store_true",
        help="feed inputs that hang, crash, raise and grow: all four must be reported",
    )
    args = parser.parse_args(argv)
    planted = [b"HANG", b"CRASH", b"RAISE", b"GROW"] if args.self_check else []
    if args.self_check:
        args.timeout, args.max_rss_mb, args.iterations = 3.0, 200, 40
        args.seconds = max(args.seconds, 60.0)

    if args.replay:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                verdict, _accepted = check_file(str(args.replay), tmp if args.store else None)
            except BaseException:
                verdict = "traceback:\n" + traceback.format_exc()
        print(verdict or "ok: a report or a clean refusal")
        return 1 if verdict else 0

    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    seeds = load_seeds(rng)
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    work = Path(tempfile.mkdtemp(prefix="agentmemory-fuzz-"))
    store_dir = str(work / "stores") if args.store else None
    if store_dir:
        os.makedirs(store_dir)
    slots = [Slot(ctx, store_dir, args.self_check) for _ in range(max(1, args.jobs))]
    findings: list[str] = []
    counts = {"inputs": 0, "accepted": 0}
    started = time.monotonic()
    serial = 0
    print(
        f"fuzzing inspect_file{' and the importer' if args.store else ''}: seed {seed}, "
        f"{len(seeds)} seeds, {len(slots)} workers, {args.timeout:g} s and {args.max_rss_mb} MB "
        "per input",
        flush=True,
    )

    def record(slot: Slot, kind: str, detail: str) -> None:
        n, label, data, _path = slot.job
        args.out.mkdir(parents=True, exist_ok=True)
        stem = args.out / f"{seed}-{n}-{kind}"
        stem.with_suffix(".bin").write_bytes(data)
        stem.with_suffix(".txt").write_text(
            f"input #{n} (seed {seed}) from {label}: {kind}\n{detail}\n", encoding="utf-8"
        )
        lines = [line for line in detail.splitlines() if line.strip()]
        summary = lines[-1] if kind == "traceback" else lines[0]  # the exception / the verdict
        findings.append(f"#{n} {kind}: {label}: {summary.strip()[:200]}")
        print(f"FINDING #{n} {kind} from {label} -> {stem}.bin", flush=True)

    def done() -> bool:
        if args.iterations and serial >= args.iterations:
            return True
        return time.monotonic() - started >= args.seconds

    try:
        while True:
            for slot in slots:
                if slot.job is None and not done():
                    serial += 1
                    label, data = make_input(rng, seeds)
                    if planted and serial % 10 == 0:
                        data = planted.pop(0)
                        label = f"planted {data.decode()}"
                    path = work / f"input-{slots.index(slot)}"
                    path.write_bytes(data)
                    slot.job = (serial, label, data, path)
                    slot.deadline = time.monotonic() + args.timeout
                    slot.conn.send(str(path))
            busy = [s for s in slots if s.job is not None]
            if not busy:
                break
            ready = wait([s.conn for s in busy], timeout=0.5)
            now = time.monotonic()
            for slot in busy:
                if slot.conn in ready:
                    try:
                        verdict, accepted, peak_kb = slot.conn.recv()
                    except (EOFError, OSError):
                        counts["inputs"] += 1
                        record(slot, "crash", f"the worker died (exit code {slot.proc.exitcode})")
                        slot.restart()
                        continue
                    counts["inputs"] += 1
                    counts["accepted"] += accepted
                    if verdict:
                        record(slot, _kind(verdict), verdict)
                    if peak_kb > args.max_rss_mb * 1024:
                        record(slot, "memory", f"the worker peaked at {peak_kb // 1024} MB")
                        slot.job = None
                        slot.restart()
                        continue
                    slot.job = None
                elif now > slot.deadline:
                    counts["inputs"] += 1
                    record(slot, "hang", f"no answer within {args.timeout:g} s")
                    slot.restart()
                elif not slot.proc.is_alive():
                    counts["inputs"] += 1
                    record(slot, "crash", f"the worker died (exit code {slot.proc.exitcode})")
                    slot.restart()
    finally:
        for slot in slots:
            slot.stop()
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.monotonic() - started
    print(
        f"{counts['inputs']} inputs in {elapsed:.0f} s ({counts['inputs'] / max(elapsed, 1e-9):.0f}"
        f"/s; {counts['accepted']} accepted, the others refused), seed {seed}: "
        f"{len(findings)} findings",
        flush=True,
    )
    for line in findings:
        print("  " + line)
    if args.self_check:
        kinds = sorted(f.split()[1].rstrip(":") for f in findings)
        ok = kinds == ["crash", "hang", "memory", "traceback"]
        print(f"self-check {'passed' if ok else 'FAILED'}: found {kinds}")
        return 0 if ok else 1
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
