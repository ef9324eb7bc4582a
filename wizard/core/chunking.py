"""Packing records into import requests a running agentmemory accepts (docs/DELIVERY.md
sections 3-5): each request body at most ``max_bytes`` of compact UTF-8 JSON and within every
per-request cap; records of one owner (a session with its observations and summary, a memory
with its access log) travel together where they can.

Records arrive as the JSON text the store keeps. A request body is assembled by joining those
texts: nothing is decoded again, so packing costs one UTF-8 length per record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from hashlib import blake2b

from wizard.core.caps import LIMITS
from wizard.core.collections import in_order

CHUNK_BYTES = 8 * 1024 * 1024  # what a chunk aims at: well inside the frame and the timeout
FRAME_BYTES = 15 * 1024 * 1024  # no request body may be larger (agentmemory's own guard)
# The fixed part of a body: the wrapper, the version, the four collections always present.
_ENVELOPE = 200
_PER_RECORD = 1  # the comma between two records
_PER_BUCKET = 8  # '"<id>":[' ... ']' around a bucket, besides the bucket id itself


@dataclass(frozen=True)
class Item:
    """One record: its collection, key, observation bucket (or None) and stored JSON text;
    ``size`` is what it adds to a request body (its UTF-8 length and a comma)."""

    collection: str
    key: str
    text: str
    bucket: str | None = None
    size: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if not self.size:
            object.__setattr__(self, "size", len(self.text.encode("utf-8")) + _PER_RECORD)


@dataclass
class Chunk:
    """The records of one request, in the order they were packed."""

    number: int
    items: list[Item] = field(default_factory=list)
    size: int = _ENVELOPE

    def counts(self) -> dict[str, int]:
        """Records per collection, in collection order."""
        found: dict[str, int] = {}
        for item in self.items:
            found[item.collection] = found.get(item.collection, 0) + 1
        return {name: found[name] for name in in_order(found)}

    def keys(self) -> dict[str, list[str]]:
        """Record keys per collection (what the chunk carries)."""
        found: dict[str, list[str]] = {}
        for item in self.items:
            found.setdefault(item.collection, []).append(item.key)
        return found


def _caps() -> dict[str, int]:
    return {name: limit for name, limit, _message in LIMITS}


class _Tally:
    """What a chunk holds against the per-request caps."""

    def __init__(self) -> None:
        self.records: dict[str, int] = {}
        self.buckets: dict[str, int] = {}

    def fits(self, items: list[Item], caps: dict[str, int]) -> bool:
        records = dict(self.records)
        buckets = dict(self.buckets)
        for item in items:
            records[item.collection] = records.get(item.collection, 0) + 1
            if item.bucket is not None:
                buckets[item.bucket] = buckets.get(item.bucket, 0) + 1
        for name in ("sessions", "memories", "summaries", "accessLogs"):
            if records.get(name, 0) > caps.get(name, 1 << 62):
                return False
        if len(buckets) > caps["observationBuckets"]:
            return False
        if records.get("observations", 0) > caps["observations"]:
            return False
        return not buckets or max(buckets.values()) <= caps["observationsPerSession"]

    def add(self, items: list[Item]) -> None:
        for item in items:
            self.records[item.collection] = self.records.get(item.collection, 0) + 1
            if item.bucket is not None:
                self.buckets[item.bucket] = self.buckets.get(item.bucket, 0) + 1


def _group_size(items: list[Item]) -> int:
    buckets = {item.bucket for item in items if item.bucket is not None}
    return sum(item.size for item in items) + sum(len(b) + _PER_BUCKET for b in buckets)


def pack(
    groups: Iterable[list[Item]],
    max_bytes: int = CHUNK_BYTES,
    too_big: list[Item] | None = None,
    frame_bytes: int = FRAME_BYTES,
) -> Iterator[Chunk]:
    """Chunks of the groups, in order, numbered from 1, each aiming at ``max_bytes``.

    A group stays in one chunk when it fits one; a group larger than ``max_bytes`` but within
    ``frame_bytes`` gets a chunk of its own; only a group larger than a whole request is split
    record by record (a session's big bucket; never a memory and its access log, which fit).
    A record that cannot fit any request is left out and added to ``too_big``."""
    caps = _caps()
    chunk = Chunk(1)
    tally = _Tally()
    for group in groups:
        if not group:
            continue
        size = _group_size(group)
        if chunk.size + size <= max_bytes and tally.fits(group, caps):
            chunk.items.extend(group)
            chunk.size += size
            tally.add(group)
            continue
        if size + _ENVELOPE <= frame_bytes and _Tally().fits(group, caps):
            if chunk.items:  # the group starts a chunk of its own
                yield chunk
                chunk, tally = Chunk(chunk.number + 1), _Tally()
            chunk.items.extend(group)
            chunk.size += size
            tally.add(group)
            continue
        for item in group:  # bigger than any request: record by record
            single = _group_size([item])
            if single + _ENVELOPE > frame_bytes:
                if too_big is not None:
                    too_big.append(item)
                continue
            full = chunk.size + single > max_bytes or not tally.fits([item], caps)
            if full and chunk.items:
                yield chunk
                chunk, tally = Chunk(chunk.number + 1), _Tally()
            chunk.items.append(item)
            chunk.size += single
            tally.add([item])
    if chunk.items:
        yield chunk


def digest(payload: bytes) -> str:
    """A request body's hash: the same records, version and strategy give the same digest."""
    return blake2b(payload, digest_size=16).hexdigest()


def body(chunk: Chunk | None, version: str, strategy: str) -> bytes:
    """The request body ``{"exportData": ..., "strategy": ...}`` of a chunk (None: an empty
    ExportData, the wipe of a replace), compact UTF-8 JSON."""
    sections: dict[str, list[str]] = {"sessions": [], "memories": [], "summaries": []}
    buckets: dict[str, list[str]] = {}
    if chunk is not None:
        for item in chunk.items:
            if item.collection == "observations":
                buckets.setdefault(item.bucket or "", []).append(item.text)
            else:
                sections.setdefault(item.collection, []).append(item.text)
    parts = [f'"version":{json.dumps(version)}']
    for name in in_order(sections):
        parts.append(f"{json.dumps(name)}:[{','.join(sections[name])}]")
    observations = ",".join(
        f"{json.dumps(bucket, ensure_ascii=False)}:[{','.join(texts)}]"
        for bucket, texts in buckets.items()
    )
    parts.append(f'"observations":{{{observations}}}')
    text = '{"exportData":{' + ",".join(parts) + "}," + f'"strategy":{json.dumps(strategy)}}}'
    return text.encode("utf-8", "surrogatepass")
