"""The one place where the GUI calls the core and the store (ARCHITECTURE.md's Core and Store
APIs). Everything here runs on a worker thread (``ui/worker.py``), never on the GUI thread;
each function is a job factory or a plain call made from inside a job.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

from wizard.core.inspection import Inspection, InspectOptions, inspect_file
from wizard.ui.worker import TaskContext, cooperative, heavy, release_data

DB_ENV = "AGENTMEMORY_WIZARD_DB"
PROGRAM = "the wizard window"  # how another writer's "store is locked" message names us


def resolve_db_path(explicit: str | os.PathLike | None = None) -> Path:
    from wizard.store import database

    return Path(database.resolve_db_path(explicit))


def store_error_type() -> type[BaseException]:
    from wizard.store.database import StoreError

    return StoreError


def is_store_error(exc: object) -> bool:
    try:
        return isinstance(exc, store_error_type())
    except ImportError:
        return False


class StoreHandle:
    """Opens the store on first use (on the worker that needs it) and keeps it for the window.

    peewee keeps one connection per thread, so the one Store object serves every worker.
    """

    def __init__(self, db_path: str | os.PathLike) -> None:
        self.db_path = Path(db_path)
        self._store: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._store is None:
                from wizard.store import database

                self._store = database.open_store(self.db_path)
                self._store.program = PROGRAM
            return self._store

    @property
    def is_open(self) -> bool:
        return self._store is not None

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


# -- jobs (each returns a callable for worker.Task) ------------------------------------------------
# Each store job closes its thread's connection before it ends: the last close of a WAL database
# checkpoints it, and that must happen inside the job (where SQLite runs without the interpreter
# lock), not while the thread is being torn down.
def _closing(store: StoreHandle, gen: Generator) -> Generator:
    try:
        result = yield from gen
    finally:
        store.close_thread_connection()
    return result


def inspect_job(path: str, options: InspectOptions):
    @heavy
    def job(ctx: TaskContext) -> Inspection:
        return inspect_file(path, options, progress=ctx.report, cancel=ctx.cancelled)

    return job


def plan_job(store: StoreHandle, inspection: Inspection, strategy: str):
    @heavy
    @cooperative
    def job(ctx: TaskContext) -> Generator:
        from wizard.store import importer

        gen = importer.plan_steps(store.get(), inspection, strategy, cancel=ctx.cancelled)
        return _closing(store, gen)

    return job


def import_job(store: StoreHandle, inspection: Inspection, strategy: str):
    @heavy
    @cooperative
    def job(ctx: TaskContext) -> Generator:
        from wizard.store import importer

        gen = importer.apply(store.get(), inspection, strategy, cancel=ctx.cancelled)
        # Once the result is out the export is not needed any more: free it here, in this thread
        # (and before the thread winds down), never on the GUI thread.
        ctx.defer(lambda: release_data(inspection))
        return _closing(store, gen)

    return job


def _store_call(store: StoreHandle, fn):
    def job(ctx: TaskContext) -> Any:
        try:
            return fn(store.get())
        finally:
            store.close_thread_connection()

    return job


def refusal_job(store: StoreHandle, inspection: Inspection, strategy: str):
    from wizard.store import importer

    return _store_call(store, lambda s: importer.record_refusal(s, inspection, strategy))


def list_entries_job(store: StoreHandle, limit: int | None = None):
    from wizard.store import audit

    return _store_call(store, lambda s: audit.list_entries(s, limit=limit))


def revert_preview_job(store: StoreHandle, audit_id: int):
    from wizard.store import audit

    return _store_call(store, lambda s: audit.revert_preview(s, audit_id))


def revert_job(store: StoreHandle, audit_id: int):
    from wizard.store import audit

    return _store_call(store, lambda s: audit.revert(s, audit_id))


def move_store_aside(db_path: str | os.PathLike) -> Path:
    """Rename a damaged store to ``<name>.damaged-<timestamp>`` (nothing deleted or overwritten);
    the next use creates a new store. Returns the new name; raises StoreError."""
    from wizard.store import database

    return database.move_aside(db_path)


def as_dict(obj: Any) -> dict:
    """A result object (ImportResult, Plan, RevertResult...) or dict as a plain dict."""
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if hasattr(obj, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(obj)
    return dict(vars(obj))
