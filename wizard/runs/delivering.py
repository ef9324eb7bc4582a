"""The delivery run: the store (or one import's records) into a running agentmemory, chunked
under its 16 MiB frame, retried, resumable, read back and audited (docs/DELIVERY.md).

Steps: reach the server (version, auth); plan the chunks (``wizard.core.chunking`` over the
store's owner groups, streamed); open or resume the delivery record; for replace, one wipe;
send each chunk not acknowledged yet, recorded before it goes; read back; audit. The run
decides every policy here (what is retried, what stops, what counts as acknowledged); the
client only carries requests and the store only keeps records.
"""

from __future__ import annotations

import contextlib
import os
import re
import reprlib
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeGuard

from wizard.core.chunking import CHUNK_BYTES, FRAME_BYTES, Chunk, Item, body, digest, pack
from wizard.core.collections import MAIN, in_order, record_key
from wizard.core.names import ErrorKind, Operation, Outcome, Phase, Strategy
from wizard.core.outputs import protected_paths, write_atomic
from wizard.core.problems import Cancelled
from wizard.core.versions import NEWEST, SUPPORTED_VERSIONS, version_numbers
from wizard.remote.client import Answer, Client, Unreachable
from wizard.store import audit, deliveries
from wizard.store.database import Store, StoreError
from wizard.store.deliveries import ChunkState, Scope
from wizard.store.entries import finish_entry, write_entry

CancelFn = Callable[[], bool]
MAIN_COUNTED = tuple(c.name for c in MAIN if c.stat)  # the collections the server counts
INTERRUPTED = (
    "the delivery did not finish: the program stopped before it could record the outcome; "
    "run it again to resume (acknowledged chunks are not sent twice)"
)


@dataclass(frozen=True)
class DeliverOptions:
    """What to deliver where, and how (docs/DELIVERY.md sections 6-7)."""

    strategy: Strategy = Strategy.MERGE
    audit_id: int | None = None  # only the records whose current version this import wrote
    with_source: bool = False  # the wizard's verbatim source copies go too
    dry_run: bool = False  # reach the server and plan; send nothing
    verify: bool = True
    max_bytes: int = CHUNK_BYTES
    attempts: int = 6  # tries of one request before the server counts as unreachable
    first_pause: float = 0.25  # seconds before the first retry, doubled each time
    max_pause: float = 4.0


# Test hooks (like the importer's pause hook): smaller chunks and shorter retry pauses, so that
# tests deliver several chunks of a small store without waiting.
CHUNK_ENV = "AGENTMEMORY_WIZARD_TEST_CHUNK_BYTES"
PAUSE_ENV = "AGENTMEMORY_WIZARD_TEST_RETRY_PAUSE"


def tuned(options: DeliverOptions) -> DeliverOptions:
    """``options`` with the test hooks of the environment applied (none set: unchanged)."""
    changes: dict[str, Any] = {}
    if os.environ.get(CHUNK_ENV):
        changes["max_bytes"] = int(os.environ[CHUNK_ENV])
    if os.environ.get(PAUSE_ENV):
        pause = float(os.environ[PAUSE_ENV])
        changes.update(first_pause=pause, max_pause=pause)
    return replace(options, **changes) if changes else options


@dataclass(frozen=True)
class DeliveryProgress:
    """Where a delivery is: its phase, chunks and bytes sent of those planned (0: unknown)."""

    phase: Phase
    chunk: int = 0
    chunks: int = 0
    bytes_sent: int = 0
    bytes_total: int = 0
    records_sent: int = 0


@dataclass
class DeliveryResult:
    """How a delivery ended (or what it would do: ``dry_run``); ``to_dict()`` is
    ``deliver --json``."""

    ok: bool
    outcome: Outcome
    url: str
    strategy: Strategy
    scope: str
    dry_run: bool = False
    secret_from: str = ""
    with_source: bool = False
    server_version: str | None = None
    declared_version: str | None = None
    delivery_id: int | None = None
    resumed: bool = False
    restarted: str | None = None  # why an earlier delivery could not be resumed
    chunks: int = 0
    bytes: int = 0
    sent: dict[str, int] = field(default_factory=dict)
    already: int = 0  # chunks acknowledged by an earlier attempt (resumed), not sent again
    server_stats: dict[str, int] = field(default_factory=dict)
    verified: bool = False
    missing: dict[str, list[str]] = field(default_factory=dict)
    missing_counts: dict[str, int] = field(default_factory=dict)
    unverified: list[str] = field(default_factory=list)
    too_big: list[str] = field(default_factory=list)
    would_wipe: dict[str, int] = field(default_factory=dict)
    audit_id: int | None = None
    error: str | None = None
    error_code: ErrorKind | None = None
    refused_keys: dict[str, list[str]] = field(default_factory=dict)
    duration_ms: int = 0

    @property
    def resumable(self) -> bool:
        """Whether sending again resumes this delivery (cancelled, or the server went away
        once a delivery had started)."""
        return self.outcome == Outcome.CANCELLED or (
            self.error_code == ErrorKind.UNREACHABLE and self.delivery_id is not None
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "outcome": str(self.outcome),
            "url": self.url,
            "server_version": self.server_version,
            "declared_version": self.declared_version,
            "strategy": str(self.strategy),
            "scope": self.scope,
            "dry_run": self.dry_run,
            "secret_from": self.secret_from,
            "delivery_id": self.delivery_id,
            "resumed": self.resumed,
            "restarted": self.restarted,
            "chunks": self.chunks,
            "already": self.already,
            "bytes": self.bytes,
            "sent": dict(self.sent),
            "server_stats": dict(self.server_stats),
            "verified": self.verified,
            "missing": {k: list(v) for k, v in self.missing.items()},
            "missing_counts": dict(self.missing_counts),
            "unverified": list(self.unverified),
            "too_big": list(self.too_big),
            "would_wipe": dict(self.would_wipe),
            "audit_id": self.audit_id,
            "error": self.error,
            "error_code": None if self.error_code is None else str(self.error_code),
            "refused_keys": {k: list(v) for k, v in self.refused_keys.items()},
        }


TOO_BIG_KEPT = 100  # too-big keys an audit entry keeps (the count is always whole)

# What the server says is untrusted text: shown, audited and stored only short and as UTF-8.
_SHORT = reprlib.Repr()
for _limit, _names in ((200, ("maxstring", "maxother", "maxlong")), (10, ("maxlist", "maxdict"))):
    for _name in _names:
        setattr(_SHORT, _name, _limit)
SAID_CHARS = 300
ANSWER_FIELDS = (
    *MAIN_COUNTED,
    "success",
    "strategy",
    "skipped",
    "sourceTruncated",
    "sourceOmitted",
)


def _said(value: Any, limit: int = SAID_CHARS) -> str:
    """Something a server sent, as text fit for a message, the audit and the store: at most
    ``limit`` characters, what UTF-8 cannot hold (a lone surrogate) replaced."""
    text = value if isinstance(value, str) else _SHORT.repr(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.encode("utf-8", "replace").decode("utf-8")


def _recorded(body: Any) -> dict[str, Any] | None:
    """The part of an acknowledged answer a chunk keeps: its known fields, plain values only."""
    if not isinstance(body, dict):
        return None
    return {
        name: _said(value, 100) if isinstance(value, str) else value
        for name, value in body.items()
        if name in ANSWER_FIELDS and (value is None or isinstance(value, (int, float, str)))
    }


class _Stop(Exception):
    """The delivery stops: ``outcome``, ``code`` and a message."""

    def __init__(self, outcome: Outcome, code: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.outcome, self.code, self.message = outcome, code, message


def declared_version(server_version: str | None) -> str:
    """The ExportData version to declare: the server's own when the wizard knows it; for an
    unknown server version, the newest known one not newer than it (a 0.7.8 server gets 0.7.7,
    a newer server the newest); the newest when the server does not say."""
    if server_version in SUPPORTED_VERSIONS:
        return server_version
    server = version_numbers(server_version) if server_version else None
    if server is None:
        return NEWEST
    older = [v for v in SUPPORTED_VERSIONS if (version_numbers(v) or ()) <= server]
    return older[-1] if older else SUPPORTED_VERSIONS[0]


def _check_options(store: Store, options: DeliverOptions) -> None:
    if options.audit_id is None:
        if options.strategy.deletes_all and deliveries.scope_is_empty(store, Scope(None)):
            raise _Stop(
                Outcome.REFUSED,
                ErrorKind.NOT_DELIVERABLE,
                "the store is empty: replace would only delete everything on the server "
                "(import a file first)",
            )
        return
    if options.strategy.deletes_all:
        raise _Stop(
            Outcome.REFUSED,
            ErrorKind.NOT_DELIVERABLE,
            "replace deletes everything on the server first: it can only send the whole store, "
            "not the records of one import (use merge or skip, or leave out --audit-id)",
        )
    try:
        entry = audit.get_entry(store, options.audit_id)
    except KeyError:
        entry = None
    if (
        entry is None
        or entry["operation"] != Operation.IMPORT
        or entry["outcome"] != Outcome.SUCCEEDED
        or entry["reverted_by"] is not None
    ):
        raise _Stop(
            Outcome.REFUSED,
            ErrorKind.NOT_DELIVERABLE,
            f"audit entry #{options.audit_id} is not a successful import still in effect: "
            "there is nothing of it to deliver",
        )
    if deliveries.scope_is_empty(store, Scope(options.audit_id)):
        raise _Stop(
            Outcome.REFUSED,
            ErrorKind.NOT_DELIVERABLE,
            f"import #{options.audit_id} left nothing to deliver: later imports rewrote every "
            "record it wrote (deliver the whole store instead)",
        )


def _connect(client: Client) -> str | None:
    """Reach the server: its version. Raises _Stop when it cannot be used."""
    try:
        live = client.livez()
    except Unreachable as exc:
        raise _Stop(
            Outcome.FAILED,
            ErrorKind.UNREACHABLE,
            f"no agentmemory answers at {client.url} ({exc}); is it running?",
        ) from None
    if live.status >= 400:
        raise _Stop(
            Outcome.FAILED,
            ErrorKind.UNREACHABLE,
            f"{client.url} answered {live.status} to the liveness check: not an agentmemory?",
        )
    try:
        health = client.health()
    except Unreachable as exc:
        raise _Stop(Outcome.FAILED, ErrorKind.UNREACHABLE, f"{client.url}: {exc}") from None
    if health.status == 401:
        raise _Stop(
            Outcome.FAILED,
            ErrorKind.UNAUTHORIZED,
            f"{client.url} refused the secret (401 unauthorized): nothing was sent",
        )
    if health.status >= 400:
        raise _Stop(
            Outcome.FAILED,
            ErrorKind.UNREACHABLE,
            f"{client.url} answered {health.status} to the health check",
        )
    version = health.field("version")
    return _said(version, 64) if isinstance(version, str) else None


def _pause(seconds: float, cancel: CancelFn | None) -> None:
    """Wait before a retry, a slice at a time so that a cancel is seen."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cancel is not None and cancel():
            raise Cancelled("delivery cancelled")
        time.sleep(min(0.05, max(0.0, end - time.monotonic())))


def _tries(options: DeliverOptions, cancel: CancelFn | None, attempts: int) -> Iterator[int]:
    """Attempt numbers from 1 to ``attempts``, with a growing, capped pause before each retry."""
    pause = options.first_pause
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            _pause(pause, cancel)
            pause = min(pause * 2, options.max_pause)
        yield attempt


def _acknowledged(answer: Answer, counts: dict[str, int], strategy: Strategy) -> bool:
    """200, success true, and counts that match what the chunk carried."""
    if answer.status != 200 or answer.field("success") is not True:
        return False
    carried = {name: counts.get(name, 0) for name in MAIN_COUNTED}
    written = {name: answer.field(name) for name in MAIN_COUNTED}
    if not all(isinstance(n, int) for n in written.values()):
        return False
    if strategy.overwrites:
        return written == carried
    skipped = answer.field("skipped")
    total_written = sum(int(n) for n in written.values())
    return (
        all(int(written[n]) <= carried[n] for n in MAIN_COUNTED)
        and isinstance(skipped, int)
        and total_written + skipped >= sum(carried.values())
    )


def _send(
    client: Client,
    payload: bytes,
    counts: dict[str, int],
    strategy: Strategy,
    options: DeliverOptions,
    cancel: CancelFn | None,
) -> Answer:
    """Send one request until it is acknowledged; transient failures (no answer, 404, 5xx)
    are retried with growing pauses. Raises _Stop for a refusal, a 401, or too many tries."""
    last = ""
    for _attempt in _tries(options, cancel, options.attempts):
        try:
            answer = client.post_import(payload)
        except Unreachable as exc:
            last = str(exc)
            continue
        if _acknowledged(answer, counts, strategy):
            return answer
        if answer.status == 200 and answer.field("success") is False:
            raise _Stop(
                Outcome.REFUSED,
                ErrorKind.SERVER_REFUSED,
                "the server refused the request: "
                f"{_said(answer.field('error') or 'no reason given')}",
            )
        if answer.status == 401:
            raise _Stop(
                Outcome.FAILED,
                ErrorKind.UNAUTHORIZED,
                f"{client.url} refused the secret (401 unauthorized); nothing more was sent",
            )
        if answer.status == 200:  # success, but other counts: the chunk did not land whole
            last = f"the server wrote other counts than sent ({_said(answer.body)})"
            continue
        if answer.status in (404, 408, 429) or answer.status >= 500:
            last = f"HTTP {answer.status} {_said(answer.field('error') or '')}".strip()
            continue
        raise _Stop(
            Outcome.FAILED,
            ErrorKind.INTERNAL,
            f"the server answered HTTP {answer.status}: "
            f"{_said(answer.field('error') or answer.body)}",
        )
    raise _Stop(
        Outcome.FAILED,
        ErrorKind.UNREACHABLE,
        f"the server did not take a request after {options.attempts} tries ({last})",
    )


def _keys_summary(keys: dict[str, list[str]], limit: int = 10) -> str:
    parts = []
    for name, found in keys.items():
        shown = ", ".join(found[:limit]) + (
            f" and {len(found) - limit} more" if len(found) > limit else ""
        )
        parts.append(f"{name}: {shown}")
    return "; ".join(parts)


# -- reading back ----------------------------------------------------------------------------------
MAX_PAGE_SESSIONS = 1000
MEMORY_PAGE = 1000  # memories per request of the fallback read-back
# Records one listing may give back before the server counts as endless (a server that says
# "more" for ever would hold the read-back for ever): far more than any store the wizard sends.
MAX_READ_BACK = 5_000_000


def _keys_of(data: dict[str, Any], first: bool) -> Iterator[tuple[str, str]]:
    """(collection, key) of an export page: sessions, their observations and profiles on every
    page; the unpaged collections once (from the first page)."""
    for name, value in data.items():
        if name == "observations" and isinstance(value, dict):
            for bucket in value.values():
                for rec in bucket if isinstance(bucket, list) else ():
                    if isinstance(rec, dict) and _usable(rec.get("id")):
                        yield "observations", rec["id"]
            continue
        if not isinstance(value, list) or not (first or name in ("sessions", "profiles")):
            continue
        for rec in value:
            key = record_key(name, rec) if isinstance(rec, dict) else None
            if _usable(key) and _usable(name):
                yield name, key


def _usable(key: Any) -> TypeGuard[str]:
    """A key the server gave that can be one of ours: text SQLite can hold (UTF-8)."""
    if not isinstance(key, str):
        return False
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: none of the store's keys is one
        return False
    return True


def _list(value: Any) -> list[Any]:
    """A list from an answer, or [] for anything else (the server is not trusted)."""
    return value if isinstance(value, list) else []


class _Patient:
    """GETs of the read-back, retried like the imports but for less long: a moment without an
    answer or a 5xx (a server restarting) is tried again with growing pauses, a 404 too for
    the first read (a restarting server's routes 404 for a moment); a read that timed out is
    not (it would time out again, 190 s each: the delivery is left unverified instead). Raises
    Unreachable once the tries are spent."""

    ATTEMPTS = 4

    def __init__(self, client: Client, options: DeliverOptions, cancel: CancelFn | None) -> None:
        self.client, self.options, self.cancel = client, options, cancel
        self._answered = False  # a first answer came: later 404s mean "no such route"

    def export_page(self, max_sessions: int, offset: int) -> Answer:
        return self.get("/export", {"maxSessions": max_sessions, "offset": offset})

    def get(self, path: str, params: dict[str, Any] | None = None) -> Answer:
        attempts = min(self.ATTEMPTS, self.options.attempts)
        for attempt in _tries(self.options, self.cancel, attempts):
            try:
                answer = self.client.get(path, params)
            except Unreachable as exc:
                if exc.timed_out or attempt == attempts:
                    raise
                continue
            transient = answer.status in (408, 429) or answer.status >= 500
            transient = transient or (answer.status == 404 and not self._answered)
            if not transient or attempt == attempts:
                self._answered = self._answered or answer.status == 200
                return answer
        raise AssertionError("unreachable: the last try returns or raises")


class _ReadBack:
    """Keys the server holds, streamed; ``unverified`` lists collections it could not list."""

    def __init__(self, client: Client, options: DeliverOptions, cancel: CancelFn | None) -> None:
        self.client = _Patient(client, options, cancel)
        self.cancel = cancel
        self.unverified: list[str] = []

    def pairs(self) -> Iterator[tuple[str, str]]:
        size, offset, first = MAX_PAGE_SESSIONS, 0, True
        previous: list[Any] | None = None
        while True:
            if self.cancel is not None and self.cancel():
                raise Cancelled("delivery cancelled")
            try:
                answer = self.client.export_page(size, offset)
            except Unreachable as exc:
                if exc.timed_out and size > 1:  # a big page may take the server too long
                    size //= 2
                    continue
                raise
            if answer.field("oversized") is True or answer.status == 413:
                if size > 1:
                    size //= 2
                    continue
                yield from self._fallback()
                return
            data = answer.body if answer.status == 200 and isinstance(answer.body, dict) else None
            if data is None or answer.field("success") is False:
                yield from self._fallback()
                return
            sessions = data.get("sessions")
            if sessions == previous:  # the same page again: the server does not move on
                self.unverified.extend(["sessions", "observations"])
                return
            yield from _keys_of(data, first)
            first = False
            page = data.get("pagination")
            if not isinstance(page, dict) or page.get("hasMore") is not True:
                return
            if not isinstance(sessions, list) or not sessions:
                return
            offset += len(sessions)
            previous = sessions
            if offset > MAX_READ_BACK:
                self.unverified.extend(["sessions", "observations"])
                return

    def _fallback(self) -> Iterator[tuple[str, str]]:
        """Export refused at every page size: the list endpoints (sessions, their
        observations, memories); the other collections cannot be listed."""
        client = self.client
        for rec in _list(client.get("/sessions").field("sessions")):
            if isinstance(rec, dict) and _usable(rec.get("id")):
                yield "sessions", rec["id"]
                obs = client.get("/observations", {"sessionId": rec["id"]}).field("observations")
                for o in _list(obs):
                    if isinstance(o, dict) and _usable(o.get("id")):
                        yield "observations", o["id"]
        offset = 0
        previous: list[Any] | None = None
        while True:  # a page at a time: the list of every memory can be large
            answer = client.get("/memories", {"limit": MEMORY_PAGE, "offset": offset})
            memories = answer.field("memories")
            if not isinstance(memories, list) or (memories and memories == previous):
                self.unverified.append("memories")  # no list, or the same page again
                break
            previous = memories
            for rec in memories:
                if isinstance(rec, dict) and _usable(rec.get("id")):
                    yield "memories", rec["id"]
            total = answer.field("total")
            offset += len(memories)
            if not memories or not isinstance(total, int) or offset >= total:
                break
            if offset > MAX_READ_BACK:
                self.unverified.append("memories")
                break
        self.unverified.extend(["summaries", "profiles", "graphNodes", "graphEdges"])


# -- the run -------------------------------------------------------------------------------------
def _deliver_fields(
    url: str, options: DeliverOptions, outcome: Outcome, *, error: str | None = None
) -> dict[str, Any]:
    return {
        **audit.entry_base(Operation.DELIVER, outcome),
        "strategy": str(options.strategy),
        "source_name": url,
        "target_id": options.audit_id,
        "counts": {},
        "caps": [],
        "error": error,
        "error_code": str(ErrorKind.INTERRUPTED) if outcome is Outcome.INTERRUPTED else None,
        "options": {"url": url, "with_source": options.with_source},
    }


def plan_chunks(
    store: Store, scope: Scope, options: DeliverOptions, too_big: list[Item]
) -> Iterator[Chunk]:
    """The chunks of a delivery, streamed (the same store gives the same chunks)."""
    return pack(
        deliveries.groups(store, scope, options.with_source), options.max_bytes, too_big=too_big
    )


def deliver_steps(
    store: Store,
    client: Client,
    options: DeliverOptions,
    cancel: CancelFn | None = None,
    *,
    secret_from: str = "",
) -> Generator[DeliveryProgress, None, DeliveryResult]:
    """The delivery run (see the module doc). Yields progress between requests; returns the
    result, audited (a dry run writes nothing)."""
    t0 = time.monotonic()
    scope = Scope(options.audit_id)
    result = DeliveryResult(
        ok=False,
        outcome=Outcome.FAILED,
        url=client.url,
        strategy=options.strategy,
        scope=str(scope),
        dry_run=options.dry_run,
        secret_from=secret_from,
        with_source=options.with_source,
    )
    entry_id: int | None = None
    try:
        _check_options(store, options)
        yield DeliveryProgress(Phase.CONNECT)
        result.server_version = _connect(client)
        version = declared_version(result.server_version)
        result.declared_version = version
        if options.dry_run:
            yield from _plan_only(store, client, scope, options, result)
            result.ok, result.outcome = True, Outcome.PLANNED
            return result
        entry_id = _open_entry(store, client.url, options)
        yield from _deliver(store, client, scope, options, version, result, cancel)
        if options.verify:
            yield DeliveryProgress(Phase.VERIFY)
            _verify(store, client, scope, result, options, cancel)
        if result.too_big or not result.verified:
            result.outcome = Outcome.FAILED
            result.error_code = ErrorKind.INCOMPLETE
            result.error = _incomplete_message(result)
        else:
            result.ok, result.outcome = True, Outcome.SUCCEEDED
    except _Stop as stop:
        result.outcome, result.error_code, result.error = stop.outcome, stop.code, stop.message
    except Cancelled:
        result.outcome, result.error_code = Outcome.CANCELLED, ErrorKind.CANCELLED
        result.error = (
            "cancelled: the chunks sent so far stay on the server; run it again to resume"
        )
    except StoreError as exc:
        result.outcome, result.error_code, result.error = Outcome.FAILED, exc.kind, exc.message
    except (KeyboardInterrupt, GeneratorExit):
        result.outcome, result.error_code = Outcome.CANCELLED, ErrorKind.CANCELLED
        result.error = "interrupted: run it again to resume"
        _close_entry(store, entry_id, result, t0)
        raise
    except Exception as exc:  # a bug: the attempt is audited as failed, then the shell reports
        result.outcome, result.error_code = Outcome.FAILED, ErrorKind.INTERNAL
        result.error = f"unexpected error: {type(exc).__name__} (details in the crash log)"
        if not options.dry_run:
            with contextlib.suppress(Exception):  # (never hide the error itself)
                _close_entry(store, entry_id, result, t0)
        raise
    finally:
        client.close()
    result.duration_ms = int((time.monotonic() - t0) * 1000)
    if not options.dry_run:
        result.audit_id = _close_entry(store, entry_id, result, t0)
    yield DeliveryProgress(Phase.DONE, result.chunks, result.chunks, result.bytes, result.bytes)
    return result


def _open_entry(store: Store, url: str, options: DeliverOptions) -> int | None:
    """The attempt's entry, written first as interrupted: a killed delivery leaves it so."""
    try:
        with store.errors(), store.database.atomic("IMMEDIATE"):
            return write_entry(
                store.database,
                _deliver_fields(url, options, Outcome.INTERRUPTED, error=INTERRUPTED),
            )
    except StoreError:
        return None


def _close_entry(
    store: Store, entry_id: int | None, result: DeliveryResult, t0: float
) -> int | None:
    """The attempt's outcome into its entry (a new entry when the first could not be written)."""
    counts = {
        "sent": dict(result.sent),
        "chunks": result.chunks,
        "already": result.already,
        "bytes": result.bytes,
        "server_stats": dict(result.server_stats),
        "missing": dict(result.missing_counts),
        "unverified": list(result.unverified),
        "too_big": len(result.too_big),
        "too_big_keys": list(result.too_big[:TOO_BIG_KEPT]),
    }
    options = {
        "url": result.url,
        "scope": result.scope,
        "server_version": result.server_version,
        "declared_version": result.declared_version,
        "delivery_id": result.delivery_id,
        "resumed": result.resumed,
        "secret_from": result.secret_from,
        "with_source": result.with_source,
    }
    fields = {
        "outcome": str(result.outcome),
        "counts": counts,
        "error": result.error,
        "error_code": None if result.error_code is None else str(result.error_code),
        "duration_ms": int((time.monotonic() - t0) * 1000),
        "options": options,
    }
    try:
        with store.errors(), store.database.atomic("IMMEDIATE"):
            if entry_id is None:
                base = _deliver_fields(
                    result.url, DeliverOptions(strategy=result.strategy), result.outcome
                )
                return write_entry(store.database, {**base, **fields})
            finish_entry(store.database, entry_id, **fields)
            return entry_id
    except StoreError:
        return entry_id


def _plan_only(
    store: Store, client: Client, scope: Scope, options: DeliverOptions, result: DeliveryResult
) -> Iterator[DeliveryProgress]:
    too_big: list[Item] = []
    for chunk in plan_chunks(store, scope, options, too_big):
        result.chunks += 1
        result.bytes += chunk.size
        for name, n in chunk.counts().items():
            result.sent[name] = result.sent.get(name, 0) + n
        yield DeliveryProgress(Phase.SEND, result.chunks, 0, 0, result.bytes)
    result.sent = {name: result.sent[name] for name in in_order(result.sent)}
    result.too_big = [f"{i.collection}:{i.key}" for i in too_big]
    if options.strategy.deletes_all:
        result.would_wipe = _server_counts(client)


def _server_counts(client: Client) -> dict[str, int]:
    """What the server holds, as far as its count and list endpoints say (for the dry run of
    a replace: what it would wipe)."""
    out: dict[str, int] = {}
    try:
        total = client.get("/memories", {"count": "true"}).field("total")
        if isinstance(total, int):
            out["memories"] = total
        sessions = client.get("/sessions").field("sessions")
        if isinstance(sessions, list):
            out["sessions"] = len(sessions)
    except Unreachable:
        pass
    return out


def _deliver(
    store: Store,
    client: Client,
    scope: Scope,
    options: DeliverOptions,
    version: str,
    result: DeliveryResult,
    cancel: CancelFn | None,
) -> Iterator[DeliveryProgress]:
    record = deliveries.open_delivery(
        store, client.url, str(options.strategy), scope, options.with_source, version
    )
    result.delivery_id, result.resumed = record.id, record.resumed
    if record.replaced is not None:
        result.restarted = (
            f"the store changed since delivery #{record.replaced} started: a new delivery "
            "sends everything again"
        )
    states = deliveries.chunk_states(store, record.id) if record.resumed else {}
    chunk_strategy = Strategy.MERGE if options.strategy.deletes_all else options.strategy
    if options.strategy.deletes_all and states.get(0, ("", ""))[1] != ChunkState.ACKNOWLEDGED:
        yield DeliveryProgress(Phase.WIPE)
        wipe = body(None, version, str(Strategy.REPLACE))
        deliveries.record_chunk(store, record.id, 0, "wipe", {}, {}, len(wipe))
        deliveries.mark_chunk(store, record.id, 0, ChunkState.SENT)
        answer = _send(client, wipe, {}, Strategy.REPLACE, options, cancel)
        deliveries.mark_chunk(store, record.id, 0, ChunkState.ACKNOWLEDGED, _recorded(answer.body))
    total = deliveries.scope_bytes(store, scope)
    planned = max(1, -(-total // options.max_bytes))
    yield DeliveryProgress(Phase.SEND, 0, planned, 0, total)
    too_big: list[Item] = []
    for chunk in plan_chunks(store, scope, options, too_big):
        if cancel is not None and cancel():
            raise Cancelled("delivery cancelled")
        counts = chunk.counts()
        payload = body(chunk, version, str(chunk_strategy))
        chunk_digest = digest(payload)
        result.chunks += 1
        result.bytes += chunk.size
        for name, n in counts.items():
            result.sent[name] = result.sent.get(name, 0) + n
        if states.get(chunk.number) == (chunk_digest, ChunkState.ACKNOWLEDGED):
            result.already += 1
            continue
        if len(payload) > FRAME_BYTES:  # never: pack keeps chunks under max_bytes
            raise _Stop(Outcome.FAILED, ErrorKind.INTERNAL, "a chunk grew over the frame limit")
        deliveries.record_chunk(
            store, record.id, chunk.number, chunk_digest, chunk.keys(), counts, len(payload)
        )
        deliveries.mark_chunk(store, record.id, chunk.number, ChunkState.SENT)
        try:
            answer = _send(client, payload, counts, chunk_strategy, options, cancel)
        except _Stop as stop:
            if stop.code is ErrorKind.SERVER_REFUSED:
                result.refused_keys = chunk.keys()
                stop.message += f" (chunk {chunk.number}: {_keys_summary(chunk.keys())})"
            raise
        deliveries.mark_chunk(
            store, record.id, chunk.number, ChunkState.ACKNOWLEDGED, _recorded(answer.body)
        )
        for name in (*MAIN_COUNTED, "skipped"):
            value = answer.field(name)
            if isinstance(value, int):
                result.server_stats[name] = result.server_stats.get(name, 0) + value
        yield DeliveryProgress(
            Phase.SEND,
            chunk.number,
            max(planned, chunk.number),
            result.bytes,
            max(total, result.bytes),
            sum(result.sent.values()),
        )
    result.sent = {name: result.sent[name] for name in in_order(result.sent)}
    result.too_big = [f"{i.collection}:{i.key}" for i in too_big]
    deliveries.close_delivery(store, record.id)


def _verify(
    store: Store,
    client: Client,
    scope: Scope,
    result: DeliveryResult,
    options: DeliverOptions,
    cancel: CancelFn | None,
) -> None:
    reader = _ReadBack(client, options, cancel)
    try:
        counts, listed = deliveries.missing_keys(store, scope, reader.pairs())
    except Unreachable as exc:
        result.unverified = ["all"]
        result.error = f"the read-back failed: {exc}"
        return
    too_big = {tuple(k.split(":", 1)) for k in result.too_big}
    for name in list(counts):
        if name in reader.unverified:
            counts.pop(name)
            listed.pop(name, None)
            continue
        kept = [k for k in listed.get(name, []) if (name, k) not in too_big]
        dropped = len(listed.get(name, [])) - len(kept)
        counts[name] -= dropped
        listed[name] = kept
        if counts[name] <= 0:
            counts.pop(name)
            listed.pop(name, None)
    result.missing_counts = counts
    result.missing = listed
    sent = set(result.sent)
    result.unverified = [name for name in reader.unverified if name in sent]
    result.verified = not counts and not result.unverified


def _incomplete_message(result: DeliveryResult) -> str:
    parts = []
    if result.missing_counts:
        parts.append(
            "missing on the server after delivery: "
            + ", ".join(f"{n} {name}" for name, n in result.missing_counts.items())
        )
    if result.unverified:
        parts.append("could not be read back to check: " + ", ".join(result.unverified))
    if result.too_big:
        parts.append(
            f"{len(result.too_big)} record(s) too big for any request, not sent: "
            + ", ".join(result.too_big[:10])
        )
    return "; ".join(parts) or "the delivery could not be verified"


# -- delivering by hand: numbered request bodies ---------------------------------------------------
@dataclass
class SplitExport:
    """The files ``export --split`` wrote: (path, bytes, records per collection), and the
    records too big for any request (left out)."""

    files: list[tuple[Path, int, dict[str, int]]] = field(default_factory=list)
    too_big: list[str] = field(default_factory=list)


def _write_private(path: Path, data: bytes, store_path: Path | None = None) -> None:
    """Write a new owner-only file beside its destination, then rename it into place
    (``core.outputs``: never the store's files, never through a link; a killed writer's
    partial file is removed by the next write)."""
    write_atomic(path, lambda out: out.write(data), protected=protected_paths(store_path))


def split_leftovers(out: Path) -> list[Path]:
    """Numbered files an earlier ``export --split`` to ``out`` left (``out.001.json``...): a
    new split refuses to write beside them, lest a stale file be sent with the new ones."""
    pattern = re.compile(re.escape(out.stem) + r"\.\d{3,}\.json")
    try:
        return sorted(p for p in out.parent.iterdir() if pattern.fullmatch(p.name))
    except OSError:
        return []


def export_split(
    store: Store,
    out: Path,
    max_bytes: int,
    strategy: Strategy = Strategy.MERGE,
    with_source: bool = False,
) -> SplitExport:
    """The store as numbered request bodies under ``max_bytes`` (``out.001.json``...), for
    delivering by hand: with replace, file 001 is the wipe and the others merge."""
    written = SplitExport()
    number = 0

    def next_path() -> Path:
        nonlocal number
        number += 1
        return out.with_name(f"{out.stem}.{number:03d}.json")

    if strategy.deletes_all:
        wipe = body(None, NEWEST, str(Strategy.REPLACE))
        path = next_path()
        _write_private(path, wipe, store.path)
        written.files.append((path, len(wipe), {}))
    chunk_strategy = Strategy.MERGE if strategy.deletes_all else strategy
    too_big: list[Item] = []
    budget = max(1024, max_bytes - 1024)  # the body's own fields beside the records
    for packed in pack(deliveries.groups(store, Scope(), with_source), budget, too_big, max_bytes):
        for chunk, payload in _within(packed.items, max_bytes, str(chunk_strategy), too_big):
            path = next_path()
            _write_private(path, payload, store.path)
            written.files.append((path, len(payload), chunk.counts()))
    written.too_big = [f"{i.collection}:{i.key}" for i in too_big]
    return written


def _within(
    items: list[Item], max_bytes: int, strategy: str, too_big: list[Item]
) -> Iterator[tuple[Chunk, bytes]]:
    """The request bodies of ``items``, each at most ``max_bytes``: when the packing's estimate
    was short, the records are halved until each part fits (never a file over the size); only
    a record too big on its own is left out (``too_big``)."""
    chunk = Chunk(0, list(items))
    payload = body(chunk, NEWEST, strategy)
    if len(payload) <= max_bytes:
        yield chunk, payload
    elif len(items) == 1:
        too_big.extend(items)
    else:
        half = len(items) // 2
        yield from _within(items[:half], max_bytes, strategy, too_big)
        yield from _within(items[half:], max_bytes, strategy, too_big)
