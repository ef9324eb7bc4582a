"""A stand-in for a running agentmemory's REST API, for the tests of delivery.

A real agentmemory cannot run on the test machines, so this server plays one on loopback: what a
client sees of agentmemory 0.9.29 (livez, health, import, export, the list endpoints), from the
project's delivery spec and agentmemory's sources (``mem::import`` / ``mem::export`` in
``src/functions/export-import.ts``, the REST handlers of ``src/triggers/api.ts``). Faults are
injected by the tests: the n-th import request can fail in the ways the real server fails
(500 after a partial write, a dropped connection, a slow answer, a 404 while the worker
re-registers).

Only the stdlib: one ``ThreadingHTTPServer`` on ``127.0.0.1`` and an ephemeral port. The state
(``store``, ``requests``, ``imports``, ``audit_rows``) is guarded by ``lock``; read it under the
lock, or after the client has its answer.
"""

from __future__ import annotations

import hmac
import json
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from wizard.core.caps import LIMITS
from wizard.core.collections import ALL, count_records
from wizard.core.versions import SUPPORTED_VERSIONS

FAULT_KINDS = ("500-after-partial-write", "drop", "drop-after-write", "timeout", "404")
DEFAULT_TIMEOUT_DELAY = 2.0

_CAP = {name: (limit, message) for name, limit, message in LIMITS}
_NOT_FOUND_IMPORT = {"error": "Function api::import not found"}
_INVOCATION_STOPPED = {"error": "Invocation stopped"}
_EXPORT_DATA_REQUIRED = {"error": "exportData is required"}
_MAX_EXPORT_PAGE = 1000
_RECENT_CAP = 20  # agentmemory keeps the last 20 access timestamps of a memory
_EXPORT_OVERSIZE_HINT = (
    "narrow the range with ?maxSessions / ?offset, or export fewer collections; the "
    "non-session collections (memories, graph, semantic, actions, lessons, ...) are not yet "
    "paginated"
)

# The collections mem::import writes, in its order, with the field each is keyed by. Sessions,
# observations, memories and summaries come first; access logs last (their cap is checked after
# everything else was written). A collection not listed here is ignored by the importer.
_KEYS: dict[str, str] = {
    "sessions": "id",
    "observations": "id",
    "memories": "id",
    "summaries": "sessionId",
    "graphNodes": "id",
    "graphEdges": "id",
    "semanticMemories": "id",
    "proceduralMemories": "id",
    "profiles": "project",
    "actions": "id",
    "actionEdges": "id",
    "routines": "id",
    "signals": "id",
    "checkpoints": "id",
    "sentinels": "id",
    "sketches": "id",
    "crystals": "id",
    "facets": "id",
    "lessons": "id",
    "insights": "id",
    "accessLogs": "memoryId",
}
_OPTIONAL_IMPORT_ORDER = tuple(n for n in _KEYS if n not in {"sessions", "observations"})
# The unpaged collections mem::export adds after sessions, memories, summaries, observations and
# profiles, in its order; an empty one is left out.
_EXPORT_COLLECTIONS = (
    "graphNodes",
    "graphEdges",
    "semanticMemories",
    "proceduralMemories",
    "actions",
    "actionEdges",
    "sentinels",
    "sketches",
    "crystals",
    "facets",
    "lessons",
    "insights",
    "routines",
    "signals",
    "checkpoints",
    "accessLogs",
)


class _Refused(Exception):
    """mem::import refuses: HTTP 200 ``{"success": false, "error": message}``."""


class _Crashed(Exception):
    """mem::import throws midway (a record without its key): HTTP 500, writes so far kept."""


class _Stopped(Exception):
    """The injected 500-after-partial-write fault: the write budget is spent."""


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _js_truthy(value: object) -> bool:
    """JavaScript's truthiness: ``{}`` and ``[]`` are true, ``0``, ``""`` and ``null`` false."""
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0 and not (isinstance(value, float) and math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def _js_integer(raw: str | None) -> int | None:
    """``Number(raw)`` when it is an integer (agentmemory's query parsing), else None."""
    if raw is None:
        return None
    text = raw.strip()
    if text == "":
        return 0
    try:
        number = float(text)
    except ValueError:
        return None
    if not math.isfinite(number) or number != int(number):
        return None
    return int(number)


def _version_tuple(version: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return None


def _allowed_versions(server_version: str) -> frozenset[str]:
    """The wizard's list of agentmemory versions, none newer than the server's own."""
    own = _version_tuple(server_version)
    if own is None:
        return frozenset(SUPPORTED_VERSIONS)
    return frozenset(v for v in SUPPORTED_VERSIONS if (_version_tuple(v) or ()) <= own)


def _record_key(collection: str, record: object, where: str) -> str:
    if not isinstance(record, dict):
        raise _Crashed(f"Cannot read properties of {where}: not an object")
    value = record.get(_KEYS[collection])
    if value is None or value == "" or isinstance(value, (dict, list)):
        raise _Crashed(f"{where} has no {_KEYS[collection]}")
    return value if isinstance(value, str) else json.dumps(value)


def _import_origin(existing: object, captured_at: object) -> object:
    """agentmemory's importOrigin: a record's own origin is kept, else it came by import."""
    if _js_truthy(existing):
        return existing
    when = captured_at if isinstance(captured_at, str) and captured_at else _now_iso()
    return {"channel": "import", "capturedAt": when}


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _normalize_access_log(raw: object) -> dict:
    """agentmemory's normalizeAccessLog: only memoryId, count, lastAt and recent are kept."""
    r = raw if isinstance(raw, dict) else {}
    count = max(0, math.floor(r["count"])) if _finite(r.get("count")) else 0
    recent = [x for x in r["recent"] if _finite(x)] if isinstance(r.get("recent"), list) else []
    recent = recent[-_RECENT_CAP:]
    return {
        "memoryId": r["memoryId"] if isinstance(r.get("memoryId"), str) else "",
        "count": max(count, len(recent)),
        "lastAt": r["lastAt"] if isinstance(r.get("lastAt"), str) else "",
        "recent": recent,
    }


def request_counts(export_data: dict) -> dict[str, int]:
    """Records per collection in an ExportData (observations counted one by one)."""
    return {
        name: count_records(export_data, name)
        for name, value in export_data.items()
        if isinstance(value, list) or (name == "observations" and isinstance(value, dict))
    }


class StandIn:
    """A loopback agentmemory (REST) for tests: start it, point the client at ``url``.

    ``secret``: the bearer token every endpoint but livez requires (None: no auth, as 0.9.29
    without a secret). ``version``: what health and export report; import accepts the wizard's
    versions no newer than it. ``frame_limit``: a request body over it never reaches the
    importer (500, then ``not_found_after_drop`` import requests answered 404).
    ``export_limit``: an export page whose JSON is bigger is refused as oversized. ``delay``: how
    long the ``timeout`` fault waits (0: 2 s).
    """

    def __init__(
        self,
        *,
        secret: str | None = None,
        version: str = "0.9.29",
        frame_limit: int = 16 * 1024 * 1024,
        export_limit: int = 15 * 1024 * 1024,
        not_found_after_drop: int = 3,
        delay: float = 0.0,
    ) -> None:
        self.secret = secret
        self.version = version
        self.frame_limit = frame_limit
        self.export_limit = export_limit
        self.not_found_after_drop = not_found_after_drop
        self.delay = delay
        self.url = ""
        self.lock = threading.RLock()
        self.store: dict[str, dict] = {c.name: {} for c in ALL}
        self.requests: list[dict] = []
        self.imports: list[dict] = []
        self.audit_rows = 0
        self._allowed = _allowed_versions(version)
        self._import_requests = 0  # import requests seen (past auth), for the faults
        self._faults: dict[int, tuple[str, float]] = {}  # import request number -> fault
        self._every: tuple[int, int, str, float] | None = None  # (base, k, kind, fraction)
        self._not_found_left = 0
        self._failing_reads = 0  # export reads still to answer 503 (fail_reads)
        self.slow_pages_over: int | None = None  # export pages of more sessions wait ``delay``
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> StandIn:
        """Bind 127.0.0.1 on an ephemeral port and serve on a daemon thread."""
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.standin = self
        self._server = server
        self._stopping.clear()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.name = "agentmemory-standin"
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; a handler still sleeping is woken up."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- fault injection -------------------------------------------------------------------

    def fail_request(self, n: int, kind: str, write_fraction: float = 0.5) -> None:
        """The n-th import request from now (1-based) fails with ``kind`` (FAULT_KINDS)."""
        _check_fault(kind, n, write_fraction)
        with self.lock:
            self._faults[self._import_requests + n] = (kind, write_fraction)

    def fail_every(self, k: int, kind: str, write_fraction: float = 0.5) -> None:
        """Every k-th import request from now fails with ``kind`` (until clear_faults)."""
        _check_fault(kind, k, write_fraction)
        with self.lock:
            self._every = (self._import_requests, k, kind, write_fraction)

    def fail_reads(self, n: int) -> None:
        """The next ``n`` GET /agentmemory/export requests answer 503 (a server restarting)."""
        with self.lock:
            self._failing_reads = n

    def clear_faults(self) -> None:
        """No more injected faults (a 404 window after an oversized body still runs out)."""
        with self.lock:
            self._faults.clear()
            self._every = None

    def _fault_for(self, number: int) -> tuple[str, float] | None:
        fault = self._faults.pop(number, None)
        if fault is None and self._every is not None:
            base, k, kind, fraction = self._every
            if (number - base) % k == 0:
                fault = (kind, fraction)
        return fault

    # -- reading the state -----------------------------------------------------------------

    def export_json(self) -> dict:
        """The whole store as one ExportData: every session, every observation bucket (also
        those without a session record), every profile and every non-empty collection."""
        with self.lock:
            sessions = self._sorted_sessions()
            data: dict[str, Any] = {
                "version": self.version,
                "exportedAt": _now_iso(),
                "sessions": sessions,
                "observations": self._buckets(None),
                "memories": list(self.store.get("memories", {}).values()),
                "summaries": list(self.store.get("summaries", {}).values()),
            }
            for name, records in self.store.items():
                if name not in data and records:
                    data[name] = list(records.values())
            return json.loads(_dumps(data))

    def seed(self, export_data: dict, strategy: str = "merge") -> dict:
        """Import ``export_data`` directly (no HTTP, no faults, no audit row, not in
        ``imports``): what the server holds before a test. Missing ``version`` and main
        collections are filled in. Returns mem::import's answer."""
        data = {
            "version": max(self._allowed, key=lambda v: _version_tuple(v) or ()),
            "sessions": [],
            "observations": {},
            "memories": [],
            "summaries": [],
            **json.loads(_dumps(export_data)),
        }
        with self.lock:
            try:
                return self._import(data, strategy, None)
            except _Refused as refusal:
                return {"success": False, "error": str(refusal)}

    def _sorted_sessions(self) -> list[dict]:
        sessions = self.store.get("sessions", {})
        return [sessions[k] for k in sorted(sessions)]

    def _buckets(self, wanted: set[str] | None) -> dict[str, list]:
        buckets: dict[str, list] = {}
        for (bucket, _id), obs in self.store.get("observations", {}).items():
            if wanted is None or bucket in wanted:
                buckets.setdefault(bucket, []).append(obs)
        return buckets

    # -- mem::import -----------------------------------------------------------------------

    def _validate(self, export_data: object) -> dict:
        """mem::import's checks before any write, in its order; raises _Refused."""
        if not isinstance(export_data, dict) or not isinstance(export_data.get("version"), str):
            raise _Refused("exportData with string version is required")
        if export_data["version"] not in self._allowed:
            raise _Refused(f"Unsupported export version: {export_data['version']}")
        for name in ("sessions", "memories", "summaries"):
            if not isinstance(export_data.get(name), list):
                raise _Refused(f"{name} must be an array")
        observations = export_data.get("observations")
        if not isinstance(observations, dict):
            raise _Refused("observations must be an object")
        for name in ("sessions", "memories", "summaries"):
            limit, message = _CAP[name]
            if len(export_data[name]) > limit:
                raise _Refused(message)
        limit, message = _CAP["observationBuckets"]
        if len(observations) > limit:
            raise _Refused(message)
        total = 0
        per_bucket_limit, per_bucket_message = _CAP["observationsPerSession"]
        for bucket in observations.values():
            if not isinstance(bucket, list):
                raise _Refused("observation values must be arrays")
            if len(bucket) > per_bucket_limit:
                raise _Refused(per_bucket_message)
            total += len(bucket)
        limit, message = _CAP["observations"]
        if total > limit:
            raise _Refused(message)
        return export_data

    def _import(self, body: dict, strategy_sent: object, budget: list[int] | None) -> dict:
        """mem::import on the store (caller holds the lock). ``budget``: how many records may
        still be written (the partial-write fault) or None. Returns the success answer.
        Raises _Refused before any write (the access-log checks: after the other writes),
        _Crashed or _Stopped midway (what was written stays)."""
        data = self._validate(body)
        strategy = strategy_sent if _js_truthy(strategy_sent) else "merge"
        skip = strategy == "skip"
        stats = {"sessions": 0, "observations": 0, "memories": 0, "summaries": 0, "skipped": 0}
        store = self.store

        def spend() -> None:
            if budget is not None:
                if budget[0] <= 0:
                    raise _Stopped
                budget[0] -= 1

        def put(collection: str, key: Any, record: dict, stat: str | None) -> None:
            spend()
            target = store.setdefault(collection, {})
            if skip and key in target:
                stats["skipped"] += 1
                return
            target[key] = record
            if stat:
                stats[stat] += 1

        if strategy == "replace":
            for records in store.values():
                records.clear()

        for i, session in enumerate(data["sessions"]):
            put("sessions", _record_key("sessions", session, f"sessions[{i}]"), session, "sessions")
        for bucket, observations in data["observations"].items():
            for i, obs in enumerate(observations):
                key = _record_key("observations", obs, f"observations[{bucket!r}][{i}]")
                obs["origin"] = _import_origin(obs.get("origin"), obs.get("timestamp"))
                put("observations", (bucket, key), obs, "observations")
        for name in _OPTIONAL_IMPORT_ORDER:
            records = data.get(name)
            if name == "accessLogs":
                break
            if not isinstance(records, list):  # absent (or not a list: nothing to iterate)
                continue
            for i, record in enumerate(records):
                key = _record_key(name, record, f"{name}[{i}]")
                if name == "memories" and not (skip and key in store.get(name, {})):
                    if not isinstance(record.get("sessionIds"), list):
                        record["sessionIds"] = []
                    record["origin"] = _import_origin(record.get("origin"), record.get("createdAt"))
                put(name, key, record, name if name in stats else None)

        logs = data.get("accessLogs")
        if _js_truthy(logs):
            if not isinstance(logs, list):
                raise _Refused("accessLogs must be an array")
            limit, message = _CAP["accessLogs"]
            if len(logs) > limit:
                raise _Refused(message)
            memory_ids = {m.get("id") for m in data["memories"] if isinstance(m, dict)}
            for raw in logs:
                log = _normalize_access_log(raw)
                if not log["memoryId"] or log["memoryId"] not in memory_ids:
                    spend()
                    continue
                put("accessLogs", log["memoryId"], log, None)
        return {"success": True, "strategy": strategy, **stats}


def _check_fault(kind: str, n: int, write_fraction: float) -> None:
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
    if n < 1:
        raise ValueError("count import requests from 1")
    if not 0.0 <= write_fraction <= 1.0:
        raise ValueError("write_fraction is between 0 and 1")


@contextmanager
def running(**kwargs: Any) -> Iterator[StandIn]:
    """A started StandIn (keyword arguments as for StandIn), stopped on leaving."""
    standin = StandIn(**kwargs).start()
    try:
        yield standin
    finally:
        standin.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() never waits for a client's idle keep-alive connection
    standin: StandIn


class _Drop(Exception):
    """Close the connection without an answer."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "agentmemory-standin"
    timeout = 30  # an idle keep-alive connection ends eventually
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    # -- plumbing --------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, body: object) -> None:
        payload = _dumps(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def _serve(self, method: str) -> None:
        standin = self.server.standin
        entry: dict[str, Any] = {
            "method": method,
            "path": self.path,
            "status": None,
            "bytes": 0,
            "strategy": None,
            "counts": None,
            "auth_ok": True,
            "origin": self.headers.get("Origin"),
        }
        with standin.lock:
            standin.requests.append(entry)
        try:
            body = self._read_body()
            entry["bytes"] = len(body)
            status, answer = self._route(standin, method, body, entry)
        except _Drop:
            self.close_connection = True
            return
        except Exception as exc:  # a handler error answers 500, never kills the server
            self.close_connection = True  # the request may not have been read to its end
            status, answer = 500, {"error": f"{type(exc).__name__}: {exc}"}
        entry["status"] = status
        try:
            self._send(status, answer)
        except OSError:
            self.close_connection = True

    def _authorized(self, standin: StandIn) -> bool:
        if standin.secret is None:
            return True
        given = self.headers.get("Authorization") or ""
        expected = f"Bearer {standin.secret}"
        return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))

    def _route(self, standin: StandIn, method: str, body: bytes, entry: dict) -> tuple[int, object]:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        route = (method, url.path.rstrip("/") or "/")
        if route == ("GET", "/agentmemory/livez"):
            return 200, {"status": "ok"}
        handlers = {
            ("GET", "/agentmemory/health"): lambda: (
                200,
                {"status": "ok", "version": standin.version},
            ),
            ("POST", "/agentmemory/import"): lambda: self._import(standin, body, entry),
            ("GET", "/agentmemory/export"): lambda: self._export_or_fault(standin, query),
            ("GET", "/agentmemory/memories"): lambda: self._memories(standin, query),
            ("GET", "/agentmemory/sessions"): lambda: self._sessions(standin),
            ("GET", "/agentmemory/observations"): lambda: self._observations(standin, query),
        }
        handler = handlers.get(route)
        if handler is None:
            return 404, {"error": "not found"}
        if not self._authorized(standin):
            entry["auth_ok"] = False
            return 401, {"error": "unauthorized"}
        return handler()

    # -- endpoints -------------------------------------------------------------------------

    def _export_or_fault(self, standin: StandIn, query: dict) -> tuple[int, object]:
        with standin.lock:
            if standin._failing_reads > 0:
                standin._failing_reads -= 1
                return 503, {"error": "restarting"}
            slow = standin.slow_pages_over
        asked = _js_integer(query.get("maxSessions"))
        if slow is not None and (asked is None or asked > slow):
            standin._stopping.wait(standin.delay or DEFAULT_TIMEOUT_DELAY)
        return self._export(standin, query)

    def _import(self, standin: StandIn, raw: bytes, entry: dict) -> tuple[int, object]:
        parsed = _parse_json(raw) if _is_json(self.headers.get("Content-Type")) else None
        if isinstance(parsed, dict):
            entry["strategy"] = parsed.get("strategy")
            if isinstance(parsed.get("exportData"), dict):
                entry["counts"] = request_counts(parsed["exportData"])
        with standin.lock:
            standin._import_requests += 1
            fault = standin._fault_for(standin._import_requests)
        kind, fraction = fault if fault else ("", 0.0)
        if kind == "404":
            return 404, _NOT_FOUND_IMPORT
        if kind == "drop":
            raise _Drop
        if kind == "timeout":
            standin._stopping.wait(standin.delay or DEFAULT_TIMEOUT_DELAY)
        with standin.lock:
            if standin._not_found_left > 0:
                standin._not_found_left -= 1
                return 404, _NOT_FOUND_IMPORT
            if len(raw) > standin.frame_limit:
                # The frame never reaches the engine: the worker's connection drops and it
                # re-registers, so the next import requests find no function.
                standin._not_found_left = standin.not_found_after_drop
                return 500, _INVOCATION_STOPPED
            if not isinstance(parsed, dict) or not _js_truthy(parsed.get("exportData")):
                return 400, _EXPORT_DATA_REQUIRED
            return self._run_import(standin, parsed, kind, fraction)

    def _run_import(
        self, standin: StandIn, body: dict, kind: str, fraction: float
    ) -> tuple[int, object]:
        """mem::import on the request (lock held) and its record in ``imports``."""
        export_data = body["exportData"]
        strategy = body.get("strategy")
        effective = strategy if strategy in ("replace", "skip") else "merge"
        record: dict[str, Any] = {
            "strategy": effective,
            "counts": request_counts(export_data) if isinstance(export_data, dict) else {},
            "success": False,
        }
        standin.imports.append(record)
        budget = None
        if kind == "500-after-partial-write":
            total = sum(record["counts"].values())
            budget = [math.floor(total * fraction)]
        status: int
        answer: object
        try:
            answer = standin._import(export_data, strategy, budget)
            status = 200
        except _Refused as refusal:
            record["error"] = str(refusal)
            status, answer = 200, {"success": False, "error": str(refusal)}
        except _Stopped:
            status, answer = 500, _INVOCATION_STOPPED
        except _Crashed as crash:
            record["error"] = str(crash)
            status, answer = 500, {"error": str(crash)}
        else:
            record["success"] = kind != "500-after-partial-write"
            if record["success"]:
                standin.audit_rows += 1
        if kind == "500-after-partial-write":  # whatever the importer managed, the caller sees 500
            return 500, _INVOCATION_STOPPED
        if kind == "drop-after-write":  # the importer ran to its end; its answer is lost
            raise _Drop
        return status, answer

    def _export(self, standin: StandIn, query: dict[str, str]) -> tuple[int, object]:
        raw_max = _js_integer(query.get("maxSessions"))
        max_sessions = min(raw_max, _MAX_EXPORT_PAGE) if raw_max and raw_max > 0 else None
        raw_offset = _js_integer(query.get("offset"))
        offset = raw_offset if raw_offset is not None and raw_offset >= 0 else 0
        with standin.lock:
            every = standin._sorted_sessions()
            page = every[offset : offset + max_sessions] if max_sessions else every
            observations = standin._buckets({s.get("id") for s in page})
            data: dict[str, Any] = {
                "version": standin.version,
                "exportedAt": _now_iso(),
                "sessions": page,
                "observations": {
                    s["id"]: observations[s["id"]] for s in page if s.get("id") in observations
                },
                "memories": list(standin.store.get("memories", {}).values()),
                "summaries": list(standin.store.get("summaries", {}).values()),
            }
            profiles = standin.store.get("profiles", {})
            projects = dict.fromkeys(s.get("project") for s in page)
            found = [profiles[p] for p in projects if p in profiles]
            if found:
                data["profiles"] = found
            for name in _EXPORT_COLLECTIONS:
                records = standin.store.get(name)
                if records:
                    data[name] = list(records.values())
            if max_sessions:
                data["pagination"] = {
                    "offset": offset,
                    "limit": max_sessions,
                    "total": len(every),
                    "hasMore": offset + max_sessions < len(every),
                }
            payload = _dumps(data)
        if len(payload) > standin.export_limit:
            limit_mib = f"{standin.export_limit / (1024 * 1024):g}"
            return 200, {
                "success": False,
                "error": (
                    f"Response is {len(payload) / (1024 * 1024):.1f} MiB, over the ~{limit_mib}"
                    f" MiB engine transport frame limit; {_EXPORT_OVERSIZE_HINT}"
                ),
                "oversized": True,
                "bytes": len(payload),
                "limitBytes": standin.export_limit,
            }
        return 200, data

    def _memories(self, standin: StandIn, query: dict[str, str]) -> tuple[int, object]:
        with standin.lock:
            memories = list(standin.store.get("memories", {}).values())
        if query.get("latest") == "true":
            memories = [m for m in memories if m.get("isLatest")]
        if query.get("count") == "true":
            latest = sum(1 for m in memories if m.get("isLatest"))
            return 200, {"total": len(memories), "latestCount": latest}
        raw_limit = _js_integer(query["limit"]) if "limit" in query else None
        limit = min(raw_limit, 5000) if raw_limit and raw_limit > 0 else None
        raw_offset = _js_integer(query["offset"]) if "offset" in query else None
        offset = raw_offset if raw_offset is not None and raw_offset >= 0 else 0
        sliced = memories[offset : offset + limit] if limit else memories
        return 200, {"memories": sliced, "total": len(memories), "offset": offset, "limit": limit}

    def _sessions(self, standin: StandIn) -> tuple[int, object]:
        with standin.lock:
            return 200, {"sessions": standin._sorted_sessions()}

    def _observations(self, standin: StandIn, query: dict[str, str]) -> tuple[int, object]:
        session_id = query.get("sessionId", "").strip()
        if not session_id:
            return 400, {"error": "sessionId required"}
        with standin.lock:
            return 200, {"observations": standin._buckets({session_id}).get(session_id, [])}


def _is_json(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == "application/json"


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _parse_json(raw: bytes) -> object:
    """The body as JSON (None when it is not: the engine then has no body to hand over)."""
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
