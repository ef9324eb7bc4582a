"""The batch run: several sources dropped at once, imported one after the other with the
strategy chosen for the first, each its own import (its own transaction and audit entry).

A source that cannot be read is refused and audited like any refused import, and the batch goes
on; cancelling stops the batch after the import it interrupted (rolled back and audited as
cancelled), and the sources after it are not touched.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

from wizard.core.allocation import release
from wizard.core.inspection import InspectOptions
from wizard.core.names import Outcome, Strategy
from wizard.core.problems import Cancelled
from wizard.runs.importing import ImportResult, import_steps, read
from wizard.store.database import Store
from wizard.store.importer import Progress

CancelFn = Callable[[], bool]
ReadProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class BatchStep:
    """The batch moves to source ``index`` (0-based) of ``total``."""

    index: int
    total: int
    path: str


@dataclass(frozen=True)
class BatchItem:
    path: str
    result: ImportResult


def batch_steps(
    store: Store,
    sources: Sequence[tuple[str, InspectOptions]],
    strategy: Strategy,
    cancel: CancelFn | None = None,
    read_progress: ReadProgressFn | None = None,
) -> Generator[BatchStep | Progress, None, list[BatchItem]]:
    """Import each source in turn; returns what became of each one that was started."""
    if strategy.deletes_all:  # each file's replace would delete what the others brought
        raise ValueError("a batch of files is imported with merge or skip, never replace")
    items: list[BatchItem] = []
    for index, (path, options) in enumerate(sources):
        if cancel is not None and cancel():
            break
        yield BatchStep(index, len(sources), path)
        try:
            inspection = read(path, options, progress=read_progress, cancel=cancel)
        except Cancelled:
            break
        try:
            result = yield from import_steps(store, inspection, strategy, cancel=cancel)
        finally:
            data, inspection.data = inspection.data, None
            if data is not None:
                release(data)
        items.append(BatchItem(path, result))
        if result.outcome == Outcome.CANCELLED:
            break
    return items
