#!/usr/bin/env python3
"""On-demand fuzzing of the delivery run (``wizard.runs.delivering`` and its client) against an
untrusted server.

Each input is a delivery of a small store (tests/fixtures/agentmemory's 0.9.5 sample, cut in
several chunks) to a hostile HTTP server on a loopback ephemeral port: a proxy in front of the
realistic stand-in (tests/agentmemory_standin.py, whose answers follow docs/DELIVERY.md) that
mutates some of its answers, chosen per request from the input's seed:

- wrong status codes and status lines; redirects (3xx to a second "elsewhere" listener, which
  must never get a request: the secret goes nowhere else);
- huge bodies (tens to hundreds of MB, by Content-Length or chunked), slow drips of the body or
  of the head, an endless flood of ``100 Continue``, truncated bodies, a wrong, invalid or
  doubled Content-Length, chunked garbage, header floods, no answer, a connection reset
  mid-answer, an answer later than the client's timeout;
- invalid JSON (NaN, deep nesting, binary, cut) and JSON of wrong shapes in place of the
  expected one (``success: "yes"``, counts as strings, negative or huge, lists for objects,
  ``hasMore`` forever, odd versions...), answers of an earlier request, and a server that says
  it wrote a chunk it never received.

The run is driven to its end (random strategy, chunk size, scope, dry run, a cancel) and must
end with a clean result: an outcome with a message and a code when it failed, no exception, no
run longer than its timeouts allow, a memory ceiling; exactly one audit entry per attempt
(none for a dry run) holding the outcome; never the secret in the result, the audit or the
log; a success only when the stand-in really holds every record. Sometimes an honest second
run follows, which must then deliver (or say what is missing). Each input runs in a worker
process with a watchdog (fuzz_sources.run_fuzz); findings are saved as the input's JSON
(``<out>/<seed>-<n>-<kind>.json`` and ``.txt``) for ``--replay FILE.json``; the exit code is 1
when anything was found.

Not a pytest module (regressions are in tests/test_fuzz_findings.py). Examples::

    python tests/fuzz/fuzz_delivery.py --seconds 600 --jobs 2
    python tests/fuzz/fuzz_delivery.py --replay fuzz-findings/delivery/123-45-slow.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from agentmemory_standin import StandIn, request_counts  # noqa: E402

from fuzz.fuzz_inputs import mutate_json  # noqa: E402
from fuzz.fuzz_sources import run_fuzz  # noqa: E402

SECRET = "fuzz-secret-5b7e1c9d"
SMALL = ROOT / "tests" / "fixtures" / "agentmemory" / "agentmemory-0.9.5-small.json"
CLIENT_TIMEOUT = 1.0  # the client's timeout in these runs (seconds)
SLOW_S = 60.0  # a run longer than this did not keep to its timeouts
MAX_HOLD_S = 40.0  # no hostile answer holds a connection longer than this

KINDS = (
    "status",
    "status-line",
    "redirect",
    "huge",
    "huge-chunked",
    "drip-body",
    "drip-head",
    "continue-flood",
    "truncate",
    "cl-short",
    "cl-long",
    "cl-invalid",
    "chunked-garbage",
    "headers-garbage",
    "json-garbage",
    "json-shape",
    "json-mutate",
    "endless-pages",
    "reset",
    "close",
    "late",
    "lie-success",
    "replay",
)
STATUSES = (
    101, 102, 199, 200, 201, 202, 204, 205, 206, 299, 300, 301, 302, 303, 304, 305, 307, 308,
    400, 401, 403, 404, 405, 408, 409, 413, 418, 429, 431, 500, 502, 503, 504, 599, 600, 999,
)  # fmt: skip
REASONS = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}


# == the hostile server ==========================================================================
class Elsewhere:
    """A listener at "another address": it must never be contacted."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.contacts = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.contacts += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


class HostileProxy:
    """Forwards each request to the stand-in and mutates some answers (see the module doc)."""

    def __init__(self, upstream: str, elsewhere: int, spec: dict[str, Any]) -> None:
        self.upstream = upstream.split("://", 1)[1]
        self.elsewhere = elsewhere
        self.spec = spec
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.count = 0
        self.lock = threading.Lock()
        self.answers: list[tuple[int, bytes]] = []
        self.origins = 0
        self.first_sessions: list | None = None
        self.first_memories: list | None = None
        self.sticky = False
        self.applied: list[str] = []
        self.threads: list[threading.Thread] = []
        t = threading.Thread(target=self._serve, daemon=True)
        t.start()
        self.threads.append(t)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        for t in self.threads:
            t.join(2)

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._connection, args=(conn,), daemon=True)
            t.start()
            self.threads.append(t)

    def _connection(self, conn: socket.socket) -> None:
        conn.settimeout(MAX_HOLD_S)
        reader = conn.makefile("rb")
        try:
            while not self.stop.is_set():
                line = reader.readline(65537)
                if not line:
                    return
                method, target = (line.decode("latin-1").split() + ["", ""])[:2]
                headers: dict[str, str] = {}
                while True:
                    h = reader.readline(65537)
                    if h in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = h.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = reader.read(int(headers.get("content-length") or 0))
                if "origin" in headers:
                    self.origins += 1
                with self.lock:
                    n = self.count
                    self.count += 1
                if not self._answer(conn, n, method, target, headers, body):
                    return
        except OSError:
            return
        finally:
            reader.close()
            conn.close()

    def _forward(self, method: str, target: str, headers: dict, body: bytes) -> tuple[int, bytes]:
        up = http.client.HTTPConnection(self.upstream, timeout=30)
        try:
            sent = {k: v for k, v in headers.items() if k in ("authorization", "content-type")}
            up.request(method, target, body=body or None, headers=sent)
            answer = up.getresponse()
            return answer.status, answer.read()
        finally:
            up.close()

    # -- the answers ---------------------------------------------------------------------------
    def _answer(
        self, conn: socket.socket, n: int, method: str, target: str, headers: dict, body: bytes
    ) -> bool:
        """Answer request ``n``; False when the connection is to be closed."""
        rng = random.Random(f"{self.spec['seed']}-{n}")
        kind = None
        if rng.random() < self.spec["rate"]:
            kind = rng.choice(self.spec["kinds"])
        if self.sticky and self.spec["rate"] and method == "GET":
            kind = "endless-pages"  # once it starts, every later page says there is more
        if kind == "lie-success" and method == "POST":
            self.applied.append(f"{n}:{kind}")
            try:
                data = json.loads(body)["exportData"]
                fake = {"success": True, "strategy": "merge", **request_counts(data), "skipped": 0}
            except Exception:
                fake = {"success": True}
            return self._send(conn, 200, json.dumps(fake).encode())
        if kind in ("close", "reset") and rng.random() < 0.5:  # before the server saw it
            self.applied.append(f"{n}:{kind}-before")
            return self._cut(conn, kind == "reset", b"")
        status, raw = self._forward(method, target, headers, body)
        self.answers = [*self.answers[-19:], (status, raw)]  # a few, for "replay"
        try:
            if "/export" in target and self.first_sessions is None:
                self.first_sessions = json.loads(raw).get("sessions") or None
            if "/memories" in target and self.first_memories is None:
                self.first_memories = json.loads(raw).get("memories") or None
        except Exception:
            pass
        if kind is None:
            return self._send(conn, status, raw)
        self.applied.append(f"{n}:{kind}")
        return getattr(self, "_" + kind.replace("-", "_"))(conn, rng, status, raw, target)

    def _send(self, conn: socket.socket, status: int, raw: bytes, extra: str = "") -> bool:
        head = (
            f"HTTP/1.1 {status} {REASONS.get(status, 'Whatever')}\r\n"
            f"Content-Type: application/json\r\n{extra}Content-Length: {len(raw)}\r\n\r\n"
        )
        conn.sendall(head.encode("latin-1") + raw)
        return True

    def _cut(self, conn: socket.socket, reset: bool, partial: bytes) -> bool:
        if partial:
            conn.sendall(partial)
        if reset:  # RST instead of FIN
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False

    def _hold(self, seconds: float) -> None:
        self.stop.wait(min(seconds, MAX_HOLD_S))

    def _status(self, conn, rng, status, raw, target) -> bool:
        return self._send(conn, rng.choice(STATUSES), raw)

    def _status_line(self, conn, rng, status, raw, target) -> bool:
        line = rng.choice(
            [b"HTTP/1.1 200\r\n", b"HTTP/2 200 OK\r\n", b"ICY 200 OK\r\n", b"HTTP/1.1 abc OK\r\n",
             b"HTTP/1.1 99999 X\r\n", b"garbage\r\n", b"\r\n", b"HTTP/1.1 -200 OK\r\n",
             b"HTTP/0.9 200 OK\r\n", b"HTTP/1.1 200 OK\n"]
        )  # fmt: skip
        conn.sendall(line + f"Content-Length: {len(raw)}\r\n\r\n".encode() + raw)
        return False

    def _redirect(self, conn, rng, status, raw, target) -> bool:
        where = rng.choice(
            [f"http://127.0.0.1:{self.elsewhere}{target}", f"//127.0.0.1:{self.elsewhere}/",
             f"http://localhost:{self.elsewhere}/agentmemory/import", "/agentmemory/livez",
             "https://example.invalid/", "\x00\xff" * 50, "x" * 5000]
        )  # fmt: skip
        code = rng.choice([300, 301, 302, 303, 307, 308])
        return self._send(conn, code, rng.choice([b"", raw]), f"Location: {where}\r\n")

    def _huge(self, conn, rng, status, raw, target) -> bool:
        size = rng.choice([20, 60, 300]) * 1024 * 1024
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
        self._stream(conn, rng, size)
        return False

    def _huge_chunked(self, conn, rng, status, raw, target) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        block = self._filler(rng)
        for _ in range(rng.choice([20, 60, 300])):
            if self.stop.is_set():
                break
            conn.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n")
        conn.sendall(b"0\r\n\r\n")
        return False

    @staticmethod
    def _filler(rng: random.Random) -> bytes:
        return rng.choice(
            [b"[" * (1 << 20), b"0," * (1 << 19), b" " * (1 << 20), b'{"a":' * 209715]
        )

    def _stream(self, conn: socket.socket, rng: random.Random, size: int) -> None:
        block = self._filler(rng)
        sent = 0
        while sent < size and not self.stop.is_set():
            conn.sendall(block[: size - sent])
            sent += len(block)

    def _drip_body(self, conn, rng, status, raw, target) -> bool:
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(raw) + 10}\r\n\r\n".encode())
        end = time.monotonic() + MAX_HOLD_S
        for byte in raw + b" " * 10:
            if self.stop.is_set() or time.monotonic() > end:
                break
            conn.sendall(bytes([byte]))
            self._hold(0.2)
        return False

    def _drip_head(self, conn, rng, status, raw, target) -> bool:
        end = time.monotonic() + MAX_HOLD_S
        head = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: yes\r\n" * 10_000
        for byte in head:
            if self.stop.is_set() or time.monotonic() > end:
                break
            conn.sendall(bytes([byte]))
            self._hold(0.1)
        return False

    def _continue_flood(self, conn, rng, status, raw, target) -> bool:
        end = time.monotonic() + MAX_HOLD_S
        while not self.stop.is_set() and time.monotonic() < end:
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n" * 100)
            self._hold(0.01)
        return False

    def _truncate(self, conn, rng, status, raw, target) -> bool:
        head = f"HTTP/1.1 {status} OK\r\nContent-Length: {len(raw)}\r\n\r\n".encode()
        return self._cut(conn, rng.random() < 0.5, head + raw[: len(raw) // 2])

    def _cl_short(self, conn, rng, status, raw, target) -> bool:
        head = f"HTTP/1.1 {status} OK\r\nContent-Length: {len(raw) // 2}\r\n\r\n".encode()
        conn.sendall(head + raw)  # the rest pollutes the next answer on this connection
        return True

    def _cl_long(self, conn, rng, status, raw, target) -> bool:
        head = f"HTTP/1.1 {status} OK\r\nContent-Length: {len(raw) + 1000}\r\n\r\n".encode()
        conn.sendall(head + raw)
        self._hold(rng.choice([0.0, 3 * CLIENT_TIMEOUT]))
        return False

    def _cl_invalid(self, conn, rng, status, raw, target) -> bool:
        value = rng.choice(
            ["-5", "abc", "1, 2", f"{len(raw)}\r\nContent-Length: {len(raw) + 7}", "9" * 20, ""]
        )  # fmt: skip
        conn.sendall(f"HTTP/1.1 {status} OK\r\nContent-Length: {value}\r\n\r\n".encode() + raw)
        return False

    def _chunked_garbage(self, conn, rng, status, raw, target) -> bool:
        tail = rng.choice(
            [b"zz\r\n", b"ffffffffffffffffff\r\nabc", b"5\r\nab", b"3\r\nabc\r\n", b"-1\r\n",
             b"3;x=" + b"y" * 70000 + b"\r\nabc\r\n0\r\n\r\n", b"\r\n\r\n",
             f"{len(raw):x}\r\n".encode() + raw + b"\r\n0\r\n" + b"X: y\r\n" * 1000 + b"\r\n"]
        )  # fmt: skip
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + tail)
        self._hold(rng.choice([0.0, 2 * CLIENT_TIMEOUT]))
        return False

    def _headers_garbage(self, conn, rng, status, raw, target) -> bool:
        extra = rng.choice(
            [b"X-A: b\r\n" * 150, b"X-Long: " + b"a" * 70000 + b"\r\n", b"no colon here\r\n",
             b"X-Bin: \xff\xfe\x00\r\n", b"Connection: close\r\n", b"Content-Type: text/html\r\n",
             b" folded: line\r\n", b"Transfer-Encoding: gzip, chunked\r\n"]
        )  # fmt: skip
        head = f"HTTP/1.1 {status} OK\r\n".encode() + extra
        conn.sendall(head + f"Content-Length: {len(raw)}\r\n\r\n".encode() + raw)
        return False

    def _json_garbage(self, conn, rng, status, raw, target) -> bool:
        body = rng.choice(
            [b"", b"NaN", b'{"success": NaN}', b"[" * 100_000, b"\xff\xfe", b"<html>", b"null",
             b'{"success": true', b"1e999", b'{"total": Infinity}', b"\x00" * 100, b'"\\ud800"',
             b'{"success": true, "success": false}', raw[: len(raw) // 3]]
        )  # fmt: skip
        return self._send(conn, rng.choice([status, 200]), body)

    def _json_shape(self, conn, rng, status, raw, target) -> bool:
        try:
            value = json.loads(raw)
        except ValueError:
            value = {}
        odd = [
            "yes", "true", 1, 0, None, True, False, -1, -(10**30), 10**30, 2**63, 1.0, 1e308,
            "5", "", [], {}, [1], {"a": 1}, "x" * 10000, [[[]]],
        ]  # fmt: skip
        for _ in range(rng.randint(1, 3)):
            if not isinstance(value, dict) or not value or rng.random() < 0.1:
                value = rng.choice([[value], "string", 7, None, [], value])
                continue
            key = rng.choice(
                [*value, "success", "sessions", "memories", "pagination", "version", "oversized",
                 "total", "skipped", "observations", "error"]
            )  # fmt: skip
            if key == "pagination" and isinstance(value.get(key), dict) and rng.random() < 0.7:
                page = value[key]
                page[rng.choice(["hasMore", "offset", "total", "limit"])] = rng.choice(odd)
            else:
                value[key] = rng.choice(odd)
        return self._send(conn, status, json.dumps(value).encode())

    def _json_mutate(self, conn, rng, status, raw, target) -> bool:
        try:
            body = mutate_json(rng, raw) or raw
        except Exception:
            body = raw
        return self._send(conn, status, body)

    def _endless_pages(self, conn, rng, status, raw, target) -> bool:
        try:
            value = json.loads(raw)
        except ValueError:
            return self._send(conn, status, raw)
        self.sticky = True
        if isinstance(value, dict):
            if "/memories" in target:
                value["total"] = 10**9
                if not value.get("memories") and self.first_memories:
                    value["memories"] = self.first_memories
            else:
                value["pagination"] = {"offset": 0, "limit": 1, "total": 10**9, "hasMore": True}
                if not value.get("sessions") and self.first_sessions:
                    value["sessions"] = self.first_sessions
        return self._send(conn, status, json.dumps(value).encode())

    def _reset(self, conn, rng, status, raw, target) -> bool:
        head = f"HTTP/1.1 {status} OK\r\nContent-Length: {len(raw)}\r\n\r\n".encode()
        return self._cut(conn, True, head[: rng.randrange(len(head) + 1)])

    def _close(self, conn, rng, status, raw, target) -> bool:
        return self._cut(conn, False, b"")

    def _late(self, conn, rng, status, raw, target) -> bool:
        self._hold(CLIENT_TIMEOUT * rng.choice([1.5, 3.0]))
        try:
            self._send(conn, status, raw)
        except OSError:
            pass
        return False

    def _lie_success(self, conn, rng, status, raw, target) -> bool:  # a GET: answered as is
        return self._send(conn, status, raw)

    def _replay(self, conn, rng, status, raw, target) -> bool:
        old_status, old = rng.choice(self.answers)
        return self._send(conn, old_status, old)


# == checking one input (in a worker) ==============================================================
_TEMPLATE: Path | None = None


def _template() -> Path:
    """A store holding the small sample, built once per worker."""
    global _TEMPLATE
    if _TEMPLATE is None:
        from wizard import runs
        from wizard.core.inspection import inspect_file
        from wizard.store import database

        folder = Path(tempfile.mkdtemp(prefix="fuzz-delivery-template-"))
        db = folder / "template.sqlite"
        with database.open_store(db) as store:
            result = runs.drive(runs.import_steps(store, inspect_file(SMALL), "merge"))
            assert result.ok, result.error
        _TEMPLATE = db
    return _TEMPLATE


def _keys(db: Path) -> dict[str, set[str]]:
    from delivery_helpers import store_records

    return store_records(db)


def _run(db: Path, url: str, spec: dict[str, Any], options: Any) -> tuple[Any, float, list]:
    """One delivery to ``url``: (result, seconds, deliver entries before and after)."""
    from wizard.core.steps import drive
    from wizard.remote.client import Client
    from wizard.remote.secret import Secret
    from wizard.runs import delivering
    from wizard.store import audit
    from wizard.store.database import open_store

    client = Client(url, Secret(SECRET, "fuzz"), timeout=CLIENT_TIMEOUT)
    seen = [0]

    def cancel() -> bool:
        seen[0] += 1
        return bool(spec.get("cancel_after")) and seen[0] > spec["cancel_after"]

    with open_store(db) as store:
        before = [e for e in audit.list_entries(store) if e["operation"] == "deliver"]
        t0 = time.monotonic()
        result = drive(delivering.deliver_steps(store, client, options, cancel, secret_from="fuzz"))
        took = time.monotonic() - t0
        after = [e for e in audit.list_entries(store) if e["operation"] == "deliver"]
    return result, took, [before, after]


def _problems(result: Any, took: float, entries: list, dry_run: bool) -> list[str]:
    from wizard.core.names import Outcome

    out = []
    if took > SLOW_S:
        out.append(f"slow: the run took {took:.0f} s (client timeout {CLIENT_TIMEOUT:g} s)")
    if result.ok != (result.outcome in (Outcome.SUCCEEDED, Outcome.PLANNED)):
        out.append(f"bad outcome: ok={result.ok} with outcome {result.outcome}")
    if not result.ok and (not (result.error or "").strip() or result.error_code is None):
        out.append(f"bad outcome: {result.outcome} without a message or a code")
    if (result.error or "").startswith("unexpected error"):
        out.append(f"internal error: {result.error}")
    text = json.dumps(result.to_dict(), default=str)
    if SECRET in text:
        out.append("secret leaked: into the result")
    before, after = entries
    if SECRET in json.dumps(after, default=str):
        out.append("secret leaked: into the audit")
    if dry_run:
        if len(after) != len(before):
            out.append("bad audit: a dry run wrote an audit entry")
    elif len(after) != len(before) + 1:
        out.append(f"bad audit: {len(after) - len(before)} entries for one attempt")
    else:
        entry = after[0]
        if entry["id"] != result.audit_id or entry["outcome"] != str(result.outcome):
            out.append(
                f"bad audit: entry #{entry['id']} says {entry['outcome']}, the result "
                f"#{result.audit_id} {result.outcome}"
            )
    return out


def check_delivery(spec: dict[str, Any]) -> tuple[str | None, bool]:
    """(None when the run ended cleanly, else what is wrong; whether it succeeded)."""
    from wizard.core.names import ErrorKind, Outcome, Strategy
    from wizard.runs import delivering

    work = Path(tempfile.mkdtemp(prefix="fuzz-delivery-"))
    db = work / "store.sqlite"
    shutil.copyfile(_template(), db)
    standin = StandIn(secret=SECRET, version=spec["version"]).start()
    elsewhere = Elsewhere()
    proxy = HostileProxy(standin.url, elsewhere.port, spec)
    problems: list[str] = []
    try:
        options = delivering.DeliverOptions(
            strategy=Strategy(spec["strategy"]),
            audit_id=spec.get("audit_id"),
            dry_run=spec["dry_run"],
            max_bytes=spec["max_bytes"],
            attempts=3,
            first_pause=0.01,
            max_pause=0.02,
        )
        result, took, entries = _run(db, proxy.url, spec, options)
        problems += _problems(result, took, entries, options.dry_run)
        delivered = result.ok and not options.dry_run and options.audit_id is None
        if delivered:
            missing = {k: v - _server_keys(standin)[k] for k, v in _keys(db).items()}
            if any(missing.values()):
                problems.append(f"false success: the server lacks {missing}")
        if spec.get("honest_rerun") and not options.dry_run:
            honest = dict(spec, rate=0.0, cancel_after=0)
            proxy.spec = honest
            again, took2, entries2 = _run(db, proxy.url, honest, options)
            problems += [f"{p} (honest re-run)" for p in _problems(again, took2, entries2, False)]
            fine = again.outcome == Outcome.SUCCEEDED or again.error_code in (
                ErrorKind.INCOMPLETE,
                ErrorKind.NOT_DELIVERABLE,
                ErrorKind.SERVER_REFUSED,
            )
            if not fine:
                problems.append(
                    f"bad outcome: an honest re-run ended {again.outcome} ({again.error_code}: "
                    f"{again.error})"
                )
        if elsewhere.contacts:
            problems.append("redirect followed: the elsewhere listener was contacted")
        if proxy.origins:
            problems.append("origin sent: a request carried an Origin header")
        logs = Path(os.environ.get("AGENTMEMORY_WIZARD_LOG_DIR", work))
        for log in logs.rglob("*") if logs.is_dir() else []:
            if log.is_file() and SECRET.encode() in log.read_bytes():
                problems.append(f"secret leaked: into {log.name}")
    finally:
        proxy.close()
        elsewhere.close()
        standin.stop()
        shutil.rmtree(work, ignore_errors=True)
    if problems:
        return "\n".join(problems) + f"\n(mutations applied: {proxy.applied})", False
    return None, bool(result.ok)


def _server_keys(standin: StandIn) -> dict[str, set[str]]:
    from delivery_helpers import on_server

    return on_server(standin)


# == inputs (in the parent) ========================================================================
def make_spec(rng: random.Random) -> tuple[str, dict[str, Any]]:
    kinds = rng.sample(KINDS, rng.randint(1, 4))
    spec = {
        "seed": rng.randrange(2**32),
        "strategy": rng.choice(["merge", "merge", "skip", "replace"]),
        "max_bytes": rng.choice([16 * 1024, 64 * 1024, 1024 * 1024]),
        "dry_run": rng.random() < 0.1,
        "audit_id": 1 if rng.random() < 0.1 else None,
        "version": rng.choice(["0.9.29", "0.9.29", "0.9.5", "0.3.0", "0.9.30", "1.0.0", "x"]),
        "rate": rng.choice([0.05, 0.2, 0.4, 0.8]),
        "kinds": kinds,
        "cancel_after": rng.choice([0] * 9 + [3]),
        "honest_rerun": rng.random() < 0.25,
    }
    return f"{spec['strategy']} {'+'.join(kinds)} rate {spec['rate']}", spec


def save_spec(spec: dict[str, Any], stem: Path) -> None:
    stem.with_suffix(".json").write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="stop after this long")
    parser.add_argument("--iterations", type=int, default=0, help="stop after N inputs (0: none)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    parser.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per input")
    parser.add_argument("--max-rss-mb", type=int, default=1024, help="memory ceiling per input")
    parser.add_argument("--out", type=Path, default=Path("fuzz-findings") / "delivery")
    parser.add_argument("--replay", type=Path, help="run one saved input (.json)")
    parser.add_argument("--kinds", help="only these mutations (comma-separated)")
    args = parser.parse_args(argv)
    os.environ.setdefault("AGENTMEMORY_WIZARD_LOG_DIR", tempfile.mkdtemp(prefix="fuzz-log-"))
    if args.replay:
        spec = json.loads(args.replay.read_text(encoding="utf-8"))
        try:
            verdict, _ok = check_delivery(spec)
        except BaseException:
            verdict = "traceback:\n" + traceback.format_exc()
        print(verdict or "ok: a clean outcome")
        return 1 if verdict else 0
    seed = args.seed if args.seed is not None else int(time.time())
    only = tuple(args.kinds.split(",")) if args.kinds else None

    def make(rng: random.Random, serial: int, slot: int) -> tuple[str, dict[str, Any]]:
        label, spec = make_spec(rng)
        if only:
            spec["kinds"] = list(only)
            label = f"{spec['strategy']} {'+'.join(only)} rate {spec['rate']}"
        return label, spec

    found = run_fuzz(
        name="the delivery run against a hostile server",
        seconds=args.seconds,
        iterations=args.iterations,
        jobs=args.jobs,
        timeout=args.timeout,
        max_rss_mb=args.max_rss_mb,
        seed=seed,
        check=check_delivery,
        make=make,
        save=save_spec,
        out=args.out,
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
