"""Helpers the pages share: how formats, counts, progress items and plan rows are shown."""

from __future__ import annotations

from typing import Any

from wizard.ui.widgets import collection_label, fmt_int

FORMAT_LABELS = {
    "agentmemory": "agentmemory export (JSON)",
    "agentmemory-jsonl": "agentmemory paginated export (JSON Lines)",
    "mem0-oss": "mem0 (open-source library)",
    "mem0-platform": "Mem0 Platform",
    "mem0-history": "mem0 history",
    "mem0-migration": "mem0 migration file",
    "openmemory": "OpenMemory backup",
    "letta-af": "Letta Agent File",
    "letta-af-legacy": "Letta Agent File (first schema)",
    "letta-passages": "Letta archival passages",
}

STRATEGY_TEXT = {
    "merge": "Merge: add new records and overwrite existing ones that have the same id.",
    "replace": "Replace: delete every record in the store (the audit history is kept), then "
    "add the file's records.",
    "skip": "Skip existing: add only records whose id is not in the store yet; change nothing "
    "else.",
}
STRATEGY_NAMES = {"merge": "Merge", "replace": "Replace", "skip": "Skip existing"}

PLAN_COLUMNS = ("inserted", "updated", "unchanged", "skipped", "deleted")
PHASE_LABELS = {
    "read": "Reading the store's",
    "plan": "Comparing",
    "write": "Writing",
    "delete": "Deleting existing",
    "done": "Finishing",
    "reading": "Reading",
    "validating": "Checking records",
    "checking": "Checking records",
    "converting": "Converting",
    "planning": "Comparing with the store",
    "deleting": "Deleting existing records",
    "writing": "Writing",
    "importing": "Writing",
    "committing": "Committing",
}


def format_label(fmt: str | None, version: str | None = None) -> str:
    if not fmt:
        return "unknown format"
    text = FORMAT_LABELS.get(fmt, fmt)
    if fmt in FORMAT_LABELS:
        text += f" [{fmt}]"
    if version:
        text += f", version {version}"
    return text


def describe_counts(counts: dict[str, int], limit: int = 6) -> str:
    parts = [f"{fmt_int(n)} {collection_label(name).lower()}" for name, n in counts.items() if n]
    if len(parts) > limit:
        parts = [*parts[:limit], f"{len(parts) - limit} more collections"]
    return " · ".join(parts)


def attr(obj: Any, name: str, default: Any = None) -> Any:
    """Field of a dataclass-like result or of its dict form."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def phase_text(item: object) -> tuple[str, int, int]:
    """(label, done, total) of a progress item: a (phase, done, total) tuple from the core or a
    store ``Progress(phase, collection, done, total)``."""
    if isinstance(item, tuple) and len(item) == 3:
        phase, done, total = item
        return PHASE_LABELS.get(str(phase), str(phase).capitalize()), int(done), int(total)
    phase = attr(item, "phase", "")
    coll = attr(item, "collection", None)
    done = int(attr(item, "done", 0) or 0)
    total = int(attr(item, "total", 0) or 0)
    label = PHASE_LABELS.get(str(phase), str(phase).capitalize())
    if coll:
        label = f"{label} {collection_label(str(coll)).lower()}"
    return label, done, total


ALWAYS_SHOWN = ("sessions", "observations", "memories", "summaries")


def collection_rows(
    collections: Any, *, all_rows: bool = False
) -> list[tuple[str, dict[str, int]]]:
    """Per-collection counts of a Plan/ImportResult (``collections`` mapping name → counts).

    Collections with nothing to count are left out (except the four main ones) unless
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
