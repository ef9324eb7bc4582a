"""The canonical collections of agentmemory's ExportData and the key of each record.

This is the one place that says which field identifies a record of a collection.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from wizard.core.spool import RecordList, is_array


@dataclass(frozen=True)
class Collection:
    name: str  # the ExportData key, e.g. "graphNodes"
    key: str  # the record field that identifies a record
    stat: str | None = None  # agentmemory's result-stat name for this collection, if any


# Main collections first (in import order), then every other collection agentmemory exports.
MAIN: tuple[Collection, ...] = (
    Collection("sessions", "id", "sessions"),
    Collection("observations", "id", "observations"),
    Collection("memories", "id", "memories"),
    Collection("summaries", "sessionId", "summaries"),
    Collection("profiles", "project"),
    Collection("graphNodes", "id"),
    Collection("graphEdges", "id"),
)
OTHER_NAMES: tuple[str, ...] = (
    "semanticMemories",
    "proceduralMemories",
    "actions",
    "actionEdges",
    "routines",
    "signals",
    "checkpoints",
    "sentinels",
    "sketches",
    "crystals",
    "facets",
    "lessons",
    "insights",
)
OTHER: tuple[Collection, ...] = tuple(Collection(n, "id") for n in OTHER_NAMES) + (
    # Access logs are keyed by the memory they belong to and kept only for memories present in
    # the same import (FORMATS.md section 1).
    Collection("accessLogs", "memoryId"),
)
ALL: tuple[Collection, ...] = MAIN + OTHER
BY_NAME: dict[str, Collection] = {c.name: c for c in ALL}

# The collections agentmemory always writes into an ExportData, even when empty.
ALWAYS_PRESENT: tuple[str, ...] = ("sessions", "observations", "memories", "summaries")


def empty_collection(name: str) -> dict | list:
    """What an empty collection is in ExportData: observations are an object, the rest arrays."""
    return {} if name == "observations" else []


# Top-level ExportData keys that are not collections.
META_KEYS = ("version", "exportedAt", "pagination")


def collection(name: str) -> Collection:
    """The registered collection, or an id-keyed one for a collection a newer version added."""
    return BY_NAME.get(name) or Collection(name, "id")


_ORDER: dict[str, int] = {c.name: i for i, c in enumerate(ALL)}


def order_key(name: str) -> tuple[int, str]:
    """The collection order used everywhere (import, export, counts, reports): the known
    collections in import order, then unknown ones by name."""
    return _ORDER.get(name, len(_ORDER)), name


def in_order(names: Iterable[str]) -> list[str]:
    """``names`` sorted by :func:`order_key`."""
    return sorted(names, key=order_key)


def collection_names(data: dict) -> list[str]:
    """Collections present in a canonical ExportData dict, in collection order."""
    return in_order(
        k for k, v in data.items() if k in BY_NAME or (k not in META_KEYS and is_array(v))
    )


def iter_records(data: dict, name: str) -> Iterator[Any]:
    """Yield the records of one collection; observations are flattened from their buckets."""
    value = data.get(name)
    if name == "observations":
        if isinstance(value, dict):
            for bucket in value.values():
                if is_array(bucket):
                    yield from bucket
        return
    if is_array(value):
        yield from value


def head_records(data: dict, name: str, n: int) -> list[Any]:
    """The first ``n`` records of one collection (observations across their buckets), reading
    no more of a spooled collection than they take."""
    value = data.get(name)
    arrays = value.values() if name == "observations" and isinstance(value, dict) else [value]
    out: list[Any] = []
    for records in arrays:
        if len(out) >= n:
            break
        if isinstance(records, RecordList):
            out.extend(records.head(n - len(out)))
        elif isinstance(records, list):
            out.extend(records[: n - len(out)])
    return out


def count_records(data: dict, name: str) -> int:
    value = data.get(name)
    if name == "observations":
        if isinstance(value, dict):
            return sum(len(b) for b in value.values() if is_array(b))
        return 0
    return len(value) if is_array(value) else 0


def record_key(name: str, record: dict) -> str | None:
    """The key of a record as a string, or None when it has none."""
    value = record.get(collection(name).key) if isinstance(record, dict) else None
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)
