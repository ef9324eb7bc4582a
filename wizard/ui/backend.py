"""The GUI's one door to the runs, the store and the agentmemory server: typed jobs for
``ui/worker.py``.

Everything a job does runs on a worker thread, never on the GUI thread. The GUI reaches the
store only through this module and the store's public API (``wizard.store.database``,
``wizard.store.audit`` for reading the history); what is audited or refused is decided by the
runs (``wizard.runs``), never here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Generator
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from wizard import runs
from wizard.core.discovery import Found
from wizard.core.inspection import Inspection, InspectOptions
from wizard.core.names import ErrorKind, Strategy
from wizard.remote.client import Client
from wizard.remote.secret import Secret
from wizard.runs import ImportResult, Plan, Progress, RevertPreview, RevertResult
from wizard.runs.batch import BatchItem, batch_steps
from wizard.runs.delivering import (
    DeliverOptions,
    DeliveryProgress,
    DeliveryResult,
    deliver_steps,
    tuned,
)
from wizard.runs.pruning import PruneResult, PruneStep, prune_steps
from wizard.runs.sources import find_sources
from wizard.store import audit, database
from wizard.store.database import Store, StoreError
from wizard.ui.worker import Job, TaskContext, release_data

PROGRAM = "the wizard window"  # how another writer's "store is locked" message names us
PROBE_TIMEOUT_S = 5.0  # how long the liveness probe waits for an answer

T = TypeVar("T")
Y = TypeVar("Y")


def resolve_db_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The store the GUI opens: ``--db``, the environment, or the user data directory."""
    return Path(database.resolve_db_path(explicit))


def corrupt_store_error(message: str, db_path: Path) -> StoreError:
    """The error a failed import reports when it found the store damaged (to offer moving it
    aside)."""
    return StoreError(ErrorKind.CORRUPT, message, db_path)


class StoreHandle:
    """Opens the store on first use (on the worker that needs it) and keeps it for the window.

    peewee keeps one connection per thread, so the one Store object serves every worker.
    """

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        self.db_path = Path(db_path)
        self._store: Store | None = None
        self._lock = threading.Lock()

    def get(self) -> Store:
        with self._lock:
            if self._store is not None and not self.db_path.exists():
                # the file was deleted (or moved) while the window ran: start a new store
                # properly (owner-only, its schema) rather than write into a blank file
                stale, self._store = self._store, None
                try:
                    stale.close()
                except Exception:
                    pass
            if self._store is None:
                self._store = database.open_store(self.db_path)
                self._store.program = PROGRAM
            return self._store

    def close_thread_connection(self) -> None:
        """Close the calling thread's connection (peewee reconnects on next use)."""
        store = self._store
        if store is not None:
            try:
                store.close()
            except Exception:
                pass

    def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            try:
                store.close()
            except Exception:
                pass


# -- jobs ------------------------------------------------------------------------------------------
# Each store job closes its thread's connection before it ends: the last close of a WAL database
# checkpoints it, and that must happen inside the job (where SQLite runs without the interpreter
# lock), not while the thread is being torn down.
def _closing(store: StoreHandle, gen: Generator[Y, None, T]) -> Generator[Y, None, T]:
    try:
        result = yield from gen
    finally:
        store.close_thread_connection()
    return result


def read_job(path: str, options: InspectOptions) -> Job:
    """The read run (writes nothing); finishes with the Inspection."""

    def job(ctx: TaskContext) -> Inspection:
        return runs.read(path, options, progress=ctx.report, cancel=ctx.cancelled)

    return Job(job, heavy=True)


def sources_job(db_path: str | os.PathLike[str], recent: list[str]) -> Job:
    """The sources run (looks only); finishes with the list of stores found."""

    def job(ctx: TaskContext) -> list[Found]:
        del ctx
        return find_sources(db_path, recent)

    return Job(job)


def plan_job(store: StoreHandle, inspection: Inspection, strategy: Strategy) -> Job:
    """The dry run; finishes with the Plan."""

    def job(ctx: TaskContext) -> Generator[Progress, None, Plan]:
        if not store.db_path.exists():  # a dry run creates nothing: plan against an empty one
            return _on_scratch(inspection, strategy, ctx)
        gen = runs.plan_steps(store.get(), inspection, strategy, cancel=ctx.cancelled)
        return _closing(store, gen)

    return Job(job, heavy=True, cooperative=True)


def _on_scratch(
    inspection: Inspection, strategy: Strategy, ctx: TaskContext
) -> Generator[Progress, None, Plan]:
    with database.scratch_store() as scratch:
        plan = yield from runs.plan_steps(scratch, inspection, strategy, cancel=ctx.cancelled)
    return plan


def import_job(store: StoreHandle, inspection: Inspection, strategy: Strategy) -> Job:
    """The import run; finishes with the ImportResult (whatever its outcome)."""

    def job(ctx: TaskContext) -> Generator[Progress, None, ImportResult]:
        gen = runs.import_steps(store.get(), inspection, strategy, cancel=ctx.cancelled)
        # Once the result is out the export is not needed any more: free it here, in this thread
        # (and before the thread winds down), never on the GUI thread.
        ctx.defer(lambda: release_data(inspection))
        return _closing(store, gen)

    return Job(job, heavy=True, cooperative=True)


def batch_job(
    store: StoreHandle, sources: list[tuple[str, InspectOptions]], strategy: Strategy
) -> Job:
    """The batch run over the sources after the first; finishes with its BatchItems."""

    def job(ctx: TaskContext) -> Generator[object, None, list[BatchItem]]:
        gen = batch_steps(store.get(), sources, strategy, cancel=ctx.cancelled)
        return _closing(store, gen)

    return Job(job, heavy=True, cooperative=True)


def _store_call(store: StoreHandle, fn: Callable[[Store], T]) -> Job:
    def job(ctx: TaskContext) -> T:
        try:
            return fn(store.get())
        finally:
            store.close_thread_connection()

    return Job(job)


def list_entries_job(store: StoreHandle, limit: int | None = None) -> Job:
    """The audit history, newest first (a list of entry dicts)."""
    return _store_call(store, lambda s: audit.list_entries(s, limit=limit))


def revert_preview_job(store: StoreHandle, audit_id: int) -> Job:
    """What reverting an import would do: a RevertPreview."""

    def call(s: Store) -> RevertPreview:
        return runs.preview(s, audit_id)

    return _store_call(store, call)


def revert_job(store: StoreHandle, audit_id: int) -> Job:
    """The revert run: a RevertResult."""

    def call(s: Store) -> RevertResult:
        return runs.revert(s, audit_id)

    return _store_call(store, call)


def deliver_job(store: StoreHandle, url: str, secret: Secret, options: DeliverOptions) -> Job:
    """The delivery run (a dry run when ``options.dry_run``), with the environment's test hooks
    applied: finishes with the DeliveryResult, whatever its outcome. When cancelled it stops by
    itself after the request in flight; a malformed ``url`` fails the task with ``BadURL``."""
    tuned_options = tuned(options)

    def job(ctx: TaskContext) -> Generator[DeliveryProgress, None, DeliveryResult]:
        client = Client(url, secret)
        gen = deliver_steps(
            store.get(), client, tuned_options, cancel=ctx.cancelled, secret_from=secret.where
        )
        return _closing(store, gen)

    return Job(job, cooperative=True)


def prune_job(store: StoreHandle, older_than: timedelta, *, dry_run: bool) -> Job:
    """The prune run (what it would drop, when ``dry_run``): finishes with the PruneResult,
    whatever its outcome, or with None when there is no store yet (none is created for it).
    Raises ValueError (the task fails) for an age out of range."""

    def job(ctx: TaskContext) -> Generator[PruneStep, None, PruneResult] | None:
        if not store.db_path.exists():
            return None
        gen = prune_steps(store.get(), older_than, dry_run=dry_run, cancel=ctx.cancelled)
        return _closing(store, gen)

    return Job(job, cooperative=True)


def probe_job(url: str) -> Job:
    """Whether something answers agentmemory's liveness check at ``url``: finishes with the
    HTTP status. Sends no secret; fails the task with ``Unreachable`` (nothing answers) or
    ``BadURL``."""

    def job(ctx: TaskContext) -> int:
        client = Client(url, Secret(None, "none: the probe sends no secret"), PROBE_TIMEOUT_S)
        try:
            return client.livez().status
        finally:
            client.close()

    return Job(job)


def move_store_aside(db_path: str | os.PathLike[str]) -> Path:
    """Rename a damaged store to ``<name>.damaged-<timestamp>`` (nothing deleted or overwritten);
    the next use creates a new store. Returns the new name; raises StoreError."""
    return database.move_aside(Path(db_path))
