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
from typing import NamedTuple

from wizard.core.caps import LIMITS
from wizard.core.collections import in_order

CHUNK_BYTES = 8 * 1024 * 1024  # what a chunk aims at: well inside the frame and the timeout
FRAME_BYTES = 15 * 1024 * 1024  # no request body may be larger (agentmemory's own guard)
# The fixed part of a body: the wrapper, the version, the four collections always present.
_ENVELOPE = 200
_PER_RECORD = 1  # the comma between two records
_PER_BUCKET = 6  # ':[' ... '],' around a bucket, besides the bucket id as a JSON string


class Item(NamedTuple):
    """One record: its collection, key, stored JSON text and observation bucket (or None);
    ``size`` is what it adds to a request body (its UTF-8 length and a comma). A tuple: a
    delivery makes one per record."""

    collection: str
    key: str
    text: str
    bucket: str | None
    size: int


def item(collection: str, key: str, text: str, bucket: str | None = None, nbytes: int = -1) -> Item:
    """An Item; ``nbytes`` is the text's UTF-8 length when known (SQLite tells it)."""
    if nbytes < 0:
        nbytes = len(text.encode("utf-8", "surrogatepass"))
    return Item(collection, key, text, bucket, nbytes + _PER_RECORD)


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


_LIMITED = ("sessions", "memories", "summaries", "accessLogs")


class _Tally:
    """What a chunk holds against the per-request caps."""

    def __init__(self, caps: dict[str, int]) -> None:
        self.caps = caps
        self.records: dict[str, int] = {}
        self.buckets: dict[str, int] = {}

    def delta(self, items: list[Item]) -> tuple[dict[str, int], dict[str, int]] | None:
        """What ``items`` would add, or None when that would break a cap."""
        caps, records, buckets = self.caps, self.records, self.buckets
        added: dict[str, int] = {}
        added_buckets: dict[str, int] = {}
        for it in items:
            added[it.collection] = added.get(it.collection, 0) + 1
            if it.bucket is not None:
                added_buckets[it.bucket] = added_buckets.get(it.bucket, 0) + 1
        for name, n in added.items():
            if name in _LIMITED and records.get(name, 0) + n > caps[name]:
                return None
        if records.get("observations", 0) + added.get("observations", 0) > caps["observations"]:
            return None
        new = sum(1 for b in added_buckets if b not in buckets)
        if len(buckets) + new > caps["observationBuckets"]:
            return None
        per = caps["observationsPerSession"]
        if any(buckets.get(b, 0) + n > per for b, n in added_buckets.items()):
            return None
        return added, added_buckets

    def add(self, delta: tuple[dict[str, int], dict[str, int]]) -> None:
        added, added_buckets = delta
        for name, n in added.items():
            self.records[name] = self.records.get(name, 0) + n
        for bucket, n in added_buckets.items():
            self.buckets[bucket] = self.buckets.get(bucket, 0) + n


def _group_size(items: list[Item]) -> int:
    buckets = {item.bucket for item in items if item.bucket is not None}
    return sum(item.size for item in items) + sum(_key_bytes(b) + _PER_BUCKET for b in buckets)


def _key_bytes(bucket: str) -> int:
    """The bytes of a bucket id as it goes into the body: a JSON string, UTF-8, escapes and
    all (a session id of 100 emoji is 400 bytes, not 100)."""
    return len(json.dumps(bucket, ensure_ascii=False).encode())


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
    tally = _Tally(caps)
    for group in groups:
        if not group:
            continue
        size = _group_size(group)
        if chunk.size + size <= max_bytes:
            delta = tally.delta(group)
            if delta is not None:
                chunk.items.extend(group)
                chunk.size += size
                tally.add(delta)
                continue
        fresh = _Tally(caps)
        delta = fresh.delta(group) if size + _ENVELOPE <= frame_bytes else None
        if delta is not None:
            if chunk.items:  # the group starts a chunk of its own
                yield chunk
                chunk = Chunk(chunk.number + 1)
            chunk.items.extend(group)
            chunk.size += size
            fresh.add(delta)
            tally = fresh
            continue
        for one in group:  # bigger than any request: record by record
            single = _group_size([one])
            if single + _ENVELOPE > frame_bytes:
                if too_big is not None:
                    too_big.append(one)
                continue
            delta = tally.delta([one]) if chunk.size + single <= max_bytes else None
            if delta is None and chunk.items:
                yield chunk
                chunk, tally = Chunk(chunk.number + 1), _Tally(caps)
                delta = tally.delta([one])
            chunk.items.append(one)
            chunk.size += single
            if delta is not None:
                tally.add(delta)
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
