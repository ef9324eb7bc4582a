"""What the tests of conversions that stream share: a converted document with its RecordLists
made lists, the comparison of two inspections of one file (in memory and from the spool), and
the peak Python memory of a migration (for the tests that memory does not grow with the
input)."""

from __future__ import annotations

import gc
import json
import tracemalloc
from pathlib import Path
from typing import Any

from store_helpers import run

from wizard import runs
from wizard.core.inspection import InspectOptions
from wizard.core.spool import RecordList
from wizard.store.database import open_store


def as_lists(value: Any) -> Any:
    """A converted document with every RecordList made a list (to compare or encode)."""
    if isinstance(value, RecordList):
        return [as_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: as_lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_lists(v) for v in value]
    return value


def same_inspection(spooled: Any, in_memory: Any) -> None:
    """Two inspections of one file give the same report and the same records, in order."""
    assert spooled.ok == in_memory.ok and spooled.report.format == in_memory.report.format
    assert spooled.report.counts == in_memory.report.counts
    for kind in ("errors", "warnings"):
        assert [(p.path, p.message, p.code) for p in getattr(spooled.report, kind)] == [
            (p.path, p.message, p.code) for p in getattr(in_memory.report, kind)
        ]
    assert [e.to_dict() for e in spooled.report.left_behind] == [
        e.to_dict() for e in in_memory.report.left_behind
    ]
    assert json.dumps(records_of(spooled.data)) == json.dumps(records_of(in_memory.data))


def records_of(data: dict) -> dict:
    """A converted document as lists, without the time it was converted at."""
    data = as_lists(data)
    data.pop("exportedAt", None)  # (the time of the conversion, for some formats)
    return data


def peak_of_a_migration(path: Path, db: Path) -> int:
    """Peak Python memory (tracemalloc) of reading, checking and importing ``path`` into a new
    store, then merging it again over the full store."""
    gc.collect()
    tracemalloc.start()
    try:
        with open_store(db) as store:
            for _ in range(2):
                insp = runs.read(path, InspectOptions())
                assert insp.ok, insp.report.errors
                result = run(runs.import_steps(store, insp, "merge"))[1]
                assert result.ok
                del insp
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
