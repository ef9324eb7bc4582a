"""Reading results in the UI: the per-collection counts (inserted, updated, unchanged,
skipped, deleted) of a plan, an import result or an audit entry."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from wizard.core.collections import ALWAYS_PRESENT
from wizard.runs import CollectionPlan, ImportResult, Plan

# The per-collection count columns, in the store's order.
PLAN_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(CollectionPlan))
# Collections listed even when nothing in them changes: the main collections agentmemory
# counts in its import result (sessions, observations, memories, summaries).
ALWAYS_SHOWN: tuple[str, ...] = ALWAYS_PRESENT


def collection_rows(
    collections: Mapping[str, CollectionPlan], *, all_rows: bool = False
) -> list[tuple[str, dict[str, int]]]:
    """Per-collection counts of a Plan/ImportResult's ``collections``.

    Collections with nothing to count are left out (except ``ALWAYS_SHOWN``) unless
    ``all_rows``.
    """
    rows = []
    for name, counts in collections.items():
        values = counts.to_dict()
        if all_rows or name in ALWAYS_SHOWN or any(values.values()):
            rows.append((name, values))
    return rows


def plan_totals(plan: Plan | ImportResult) -> dict[str, int]:
    """The counts of a Plan/ImportResult summed over its collections."""
    totals = dict.fromkeys(PLAN_COLUMNS, 0)
    for _name, counts in collection_rows(plan.collections):
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
