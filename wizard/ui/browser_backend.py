"""The store browser's door to the store: typed jobs over ``wizard.store.browse`` for
``ui/worker.py``.

Like ``ui/backend.py`` (whose ``StoreHandle`` opens the store on the first worker that needs it),
everything here runs on a worker thread, never on the GUI thread, and each job closes its
thread's connection before it ends. Nothing here writes records: the index build is the one job
that writes to the store (the full-text index of a store made by an earlier version).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from wizard.store import browse
from wizard.store.browse import BrowseFilter, Facets, RecordRow
from wizard.store.database import Store
from wizard.ui.backend import StoreHandle
from wizard.ui.browser_model import describe_record, source_text
from wizard.ui.worker import Job, TaskContext

T = TypeVar("T")

__all__ = [
    "RecordDetail",
    "browse_count_job",
    "browse_page_job",
    "export_job",
    "facets_job",
    "index_job",
    "needs_index_job",
    "record_job",
]


@dataclass(frozen=True)
class RecordDetail:
    """One record, as the detail pane shows it (the text is made on the worker: a record may be
    big, and pretty-printing it must not hold the GUI thread)."""

    collection: str
    key: str
    record: dict | None  # None: no such record any more
    text: str  # the mapped fields, as plain text
    source: str | None  # the verbatim source copy, pretty-printed; None when it has none


def _store_call(store: StoreHandle, fn: Callable[[Store], T]) -> Job:
    def job(ctx: TaskContext) -> T:
        del ctx
        try:
            return fn(store.get())
        finally:
            store.close_thread_connection()

    return Job(job)


def browse_page_job(store: StoreHandle, f: BrowseFilter, offset: int, limit: int) -> Job:
    """One page of the records matching ``f``: a list of RecordRow (at most ``limit``)."""

    def call(s: Store) -> list[RecordRow]:
        return list(browse.page(s, f, offset, limit))

    return _store_call(store, call)


def browse_count_job(store: StoreHandle, f: BrowseFilter) -> Job:
    """How many records match ``f`` (an int)."""

    def call(s: Store) -> int:
        return int(browse.count(s, f))

    return _store_call(store, call)


def facets_job(store: StoreHandle, collection: str) -> Job:
    """The filter boxes' choices for ``collection``: a Facets."""

    def call(s: Store) -> Facets:
        return browse.facets(s, collection)

    return _store_call(store, call)


def record_job(store: StoreHandle, collection: str, key: str) -> Job:
    """One whole record and its description: a RecordDetail (``record`` None when it is gone)."""

    def call(s: Store) -> RecordDetail:
        record = browse.record(s, collection, key)
        if record is None:
            return RecordDetail(
                collection, key, None, "This record is no longer in the store.", None
            )
        return RecordDetail(
            collection, key, record, describe_record(collection, record), source_text(record)
        )

    return _store_call(store, call)


def export_job(
    store: StoreHandle, f: BrowseFilter, keys: list[str] | None, out_path: str | os.PathLike[str]
) -> Job:
    """Write an agentmemory ExportData of the records matching ``f`` (only ``keys`` of
    ``f.collection`` when given) to ``out_path``, atomically: the counts per collection."""
    path = Path(out_path)

    def call(s: Store) -> dict[str, int]:
        return dict(browse.export_selection(s, f, keys, path))

    return Job(_store_call(store, call).fn, heavy=True)


def needs_index_job(store: StoreHandle) -> Job:
    """Whether the store lacks its full-text index (a bool)."""

    def call(s: Store) -> bool:
        return bool(browse.needs_index(s))

    return _store_call(store, call)


def index_job(store: StoreHandle) -> Job:
    """Build the full-text index (a no-op when it exists), reporting (done, total); cancellable
    (the store's steps decide where stopping is safe)."""

    def job(ctx: TaskContext) -> Generator[tuple[int, int], None, None]:
        return _closing(store, browse.index_steps(store.get(), ctx.cancelled))

    return Job(job, cooperative=True)


def _closing(
    store: StoreHandle, gen: Generator[tuple[int, int], None, None]
) -> Generator[tuple[int, int], None, None]:
    try:
        yield from gen
    finally:
        store.close_thread_connection()
