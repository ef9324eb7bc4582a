"""Reading the store's results in the UI: fields of a Plan, ImportResult or Progress (or of
their dict forms), and the per-collection counts (inserted, updated, unchanged, skipped,
deleted) of a plan, an import result or an audit entry."""

from __future__ import annotations

import dataclasses
from typing import Any

from wizard.core.collections import ALWAYS_PRESENT
from wizard.store.importer import CollectionPlan

# The per-collection count columns, in the store's order.
PLAN_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(CollectionPlan))
# Collections listed even when nothing in them changes: the main collections agentmemory
# counts in its import result (sessions, observations, memories, summaries).
ALWAYS_SHOWN: tuple[str, ...] = ALWAYS_PRESENT


def attr(obj: Any, name: str, default: Any = None) -> Any:
    """Field of a dataclass-like result or of its dict form."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def collection_rows(
    collections: Any, *, all_rows: bool = False
) -> list[tuple[str, dict[str, int]]]:
    """Per-collection counts of a Plan/ImportResult (``collections`` mapping name → counts).

    Collections with nothing to count are left out (except ``ALWAYS_SHOWN``) unless
    ``all_rows``.
    """
    if not collections:
        return []
    rows = []
    items = collections.items() if isinstance(collections, dict) else collections
    for name, counts in items:
        values = {col: int(attr(counts, col, 0) or 0) for col in PLAN_COLUMNS}
        if all_rows or name in ALWAYS_SHOWN or any(values.values()):
            rows.append((name, values))
    return rows


def plan_totals(plan: object) -> dict[str, int]:
    """The counts of a Plan/ImportResult summed over its collections."""
    totals = dict.fromkeys(PLAN_COLUMNS, 0)
    for _name, counts in collection_rows(attr(plan, "collections")):
        for col in PLAN_COLUMNS:
            totals[col] += counts[col]
    return totals


def written_totals(entry: dict) -> dict[str, int]:
    """The counts of an audit entry (a dict from ``audit.list_entries``) summed over its
    collections; values that are not integers are ignored."""
    cols = (entry.get("counts") or {}).get("collections") or {}
    totals = dict.fromkeys(PLAN_COLUMNS, 0)
    for counts in cols.values():
        if isinstance(counts, dict):
            for k in totals:
                v = counts.get(k)
                if isinstance(v, int):
                    totals[k] += v
    return totals
