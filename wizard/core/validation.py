"""Validating records a chunk at a time, in whatever order they come.

Preflight feeds a :class:`RecordValidator` the chunks of each collection of canonical data. For
agentmemory's own export, read as one document, the reader feeds it the records as it decodes
them instead (``jsonstream``'s ``on_records``), so a big file is decoded once, not twice; the
result is the same either way: what ``finish`` gives is sorted into collection order.

What it keeps does not grow with the file: the keys of a collection (to find repeated ones)
only while the collection is within its cap (past it the file is refused anyway), the first
MAX_INVALID_LISTED invalid records of each collection, and counts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from operator import methodcaller
from typing import Any

from wizard.core.caps import LIMITS
from wizard.core.collections import META_KEYS, collection, order_key
from wizard.core.fastjson import escaped
from wizard.core.problems import Code, Problem
from wizard.core.schema import validate_records

MAX_UNCAPPED_KEYS = 100_000  # keys kept for an array without a cap (then: spoiled)
MAX_INVALID_LISTED = 1000  # invalid records named one by one (the rest are counted)
MAX_UNKNOWN_VALUES = 50  # unknown values of one field named one by one

# Known values of agentmemory's enums; others are kept but reported (newer versions add some).
KNOWN_VALUES = {
    ("sessions", "status"): {"active", "completed", "abandoned"},
    ("observations", "type"): {
        "file_read",
        "file_write",
        "file_edit",
        "command_run",
        "search",
        "web_fetch",
        "conversation",
        "error",
        "decision",
        "discovery",
        "subagent",
        "notification",
        "task",
        "image",
        "other",
    },
    ("memories", "type"): {"pattern", "preference", "architecture", "bug", "workflow", "fact"},
}

_CAP = {name: limit for name, limit, _message in LIMITS}

# Record fields the store keeps as text columns of their own, besides each collection's key
# (``store/models.py``, ``record_fields``; a test keeps the two alike). Text there must be
# UTF-8: a lone surrogate (a JSON "\\ud800" escape alone) makes the record invalid. Elsewhere
# in a record it is stored escaped, losslessly (``fastjson``).
COLUMN_FIELDS: dict[str, tuple[str, ...]] = {
    "sessions": ("project", "startedAt"),
    "observations": ("sessionId", "timestamp", "type"),
    "memories": ("type", "createdAt", "project"),
    "summaries": ("project",),
    "graphNodes": ("type", "name"),
    "graphEdges": ("sourceNodeId", "targetNodeId", "type"),
}
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate_message(value: str) -> str:
    """What to say of a name holding a lone surrogate (the value shown escaped, cut short)."""
    shown = escaped(value)
    if len(shown) > 60:
        shown = shown[:40] + "..." + shown[-12:]
    return (
        f"'{shown}' holds a lone surrogate (half of a UTF-16 pair, written \\ud800-\\udfff "
        "alone): it is not text, and the store cannot keep it as a key or a name"
    )


def _surrogate_fields(name: str, key_field: str, chunk: list[Any]) -> dict[int, str]:
    """{index: message} of the records whose key or column fields hold a lone surrogate (each
    field's values of the chunk searched at once, in C; one by one only when one has one)."""
    found: dict[int, str] = {}
    for name_field in (key_field, *COLUMN_FIELDS.get(name, ())):
        values = [r.get(name_field) if type(r) is dict else None for r in chunk]
        text = "".join(v for v in values if type(v) is str)
        if LONE_SURROGATE.search(text) is None:
            continue
        for index, value in enumerate(values):
            if type(value) is str and LONE_SURROGATE.search(value):
                found.setdefault(index, f"{name_field}: {lone_surrogate_message(value)}")
    return found


def bucket_path(name: str, bucket: str) -> str:
    """The JSON path of an observation bucket: ``observations.ses_1``."""
    return f"{name}.{bucket}" if bucket.isidentifier() else escaped(f'{name}["{bucket}"]')


def path_of(name: str, bucket: str | None, index: int) -> str:
    """The JSON path of a record: ``memories[3]`` or ``observations.ses_1[3]``."""
    if bucket is None:
        return f"{name}[{index}]"
    return f"{bucket_path(name, bucket)}[{index}]"


def chunk_invalid(
    name: str,
    key_field: str,
    chunk: list[Any],
    keys: list[Any] | None = None,
    surrogates: bool = False,
) -> dict[int, str]:
    """{index: message} of the invalid records of a chunk (the first problem of each);
    ``keys``: each record's key field, when known; ``surrogates``: the text held a surrogate
    escape, so keys and column fields are searched for lone ones."""
    found: dict[int, str] = {}
    for index, where, message in validate_records(name, chunk):
        found.setdefault(index, f"{where.lstrip('.') or 'record'}: {escaped(message)}")
    if surrogates:
        for index, message in _surrogate_fields(name, key_field, chunk).items():
            found.setdefault(index, message)
    if keys is None:
        keys = [r.get(key_field) if type(r) is dict else None for r in chunk]
    if "" in keys:
        for index, key in enumerate(keys):
            if key == "" and type(chunk[index]) is dict:
                found.setdefault(index, f"{key_field}: the key is empty")
    return found


@dataclass
class _Collection:
    name: str
    key_field: str
    known: dict[str, set[str]]
    tracked: bool = True  # keys kept to find repeated ones (not past a cap)
    seen: set[str] = field(default_factory=set)
    duplicates: int = 0
    repeated: set[str] = field(default_factory=set)
    records: int = 0
    buckets: int = 0
    bucket: str | None = None
    in_bucket: int = 0
    invalid: list[tuple[int, int, str, str]] = field(default_factory=list)

    def over_cap(self) -> bool:
        if self.name == "observations":
            return (
                self.records > _CAP["observations"]
                or self.buckets > _CAP["observationBuckets"]
                or self.in_bucket > _CAP["observationsPerSession"]
            )
        limit = _CAP.get(self.name)
        return limit is not None and self.records > limit


class RecordValidator:
    """Validate the records of canonical collections, fed a chunk at a time."""

    def __init__(self, surrogates: bool = False) -> None:
        # the text held a surrogate escape: keys and column fields are searched for lone ones
        self.lone_surrogates = surrogates
        self._collections: dict[str, _Collection] = {}
        self._unknown: Counter = Counter()
        self._feeds = 0  # order of the chunks fed (buckets come in their file order)
        self.invalid_total = 0
        # the arrays holding an invalid record, (collection, bucket): at most one per bucket
        self.invalid_in: set[tuple[str, str | None]] = set()
        self.spoiled = False  # what was fed is not exactly the document (see the reader)

    def spoil(self) -> None:
        """What was fed is not exactly the document: stop, and let what was kept go (preflight
        validates the converted data instead)."""
        self.spoiled = True
        self._collections.clear()

    def surrogates(self) -> None:
        self.lone_surrogates = True

    def _state(self, name: str) -> _Collection:
        state = self._collections.get(name)
        if state is None:
            known = {f: values for (coll, f), values in KNOWN_VALUES.items() if coll == name}
            state = self._collections[name] = _Collection(name, collection(name).key, known)
        return state

    def feed(
        self,
        name: str,
        bucket: str | None,
        start: int,
        chunk: list[Any],
        keys: list[Any] | None = None,
    ) -> None:
        """Validate ``chunk``, the records of ``name`` (of ``bucket``, for observations) from
        index ``start`` on; ``keys``: each one's key field, when the reader has read them (all
        records are objects then). (Arrays of ExportData's own fields, and observations outside
        buckets, are no collection: left to the shape check.)"""
        if self.spoiled or name in META_KEYS or (name == "observations") != (bucket is not None):
            return
        state = self._state(name)
        self._feeds += 1
        if bucket != state.bucket or (bucket is None and start == 0):
            state.bucket, state.in_bucket = bucket, 0
            if bucket is not None:
                state.buckets += 1
        state.records += len(chunk)
        state.in_bucket += len(chunk)
        # Whole-chunk operations, in C where they can be (this runs over every record of a
        # 500,000-record file).
        key_of = methodcaller("get", state.key_field)
        records = chunk  # all objects (the usual case)
        if keys is None:
            try:
                keys = list(map(key_of, chunk))
            except AttributeError:  # something else than an object: the schema says what
                records = [r if type(r) is dict else {} for r in chunk]
                keys = list(map(key_of, records))
        found = chunk_invalid(name, state.key_field, chunk, keys, self.lone_surrogates)
        if found:
            self.invalid_total += len(found)
            self.invalid_in.add((name, bucket))
            room = MAX_INVALID_LISTED - len(state.invalid)
            for index in sorted(found)[: max(room, 0)]:
                path = path_of(name, bucket, start + index)
                state.invalid.append((self._feeds, index, path, found[index]))
        if state.tracked and state.over_cap():
            state.tracked = False  # the file is refused by the cap: stop keeping keys
            state.seen.clear()
        if state.tracked:
            # missing, empty or non-string keys are reported above
            if set(map(type, keys)) == {str} and "" not in keys:
                named = keys
            else:
                named = [k for k in keys if type(k) is str and k]
            seen = state.seen
            before = len(seen)
            earlier = seen.intersection(named) if before else ()
            seen.update(named)
            repeats = len(named) - (len(seen) - before)
            if repeats:  # rare: which keys (the removal walks only these)
                state.duplicates += repeats
                state.repeated.update(earlier)
                state.repeated.update(k for k, n in Counter(named).items() if n > 1)
            if name not in _CAP and len(seen) > MAX_UNCAPPED_KEYS:
                # an array no cap bounds (another format's table, as OpenMemory's status
                # history): not worth the memory of its keys; preflight checks the converted data
                self.spoil()
                return
        unknown = self._unknown
        for known_field, values in state.known.items():
            try:
                found_values = set(map(methodcaller("get", known_field), records)) - values
            except TypeError:  # a value that cannot be hashed (an array): not a string anyway
                found_values = {v for r in records if type(v := r.get(known_field)) is str}
            odd = {v for v in found_values if type(v) is str} - values
            for value in odd:
                count = sum(1 for r in records if r.get(known_field) == value)
                shown: str | None = value
                if (name, known_field, value) not in unknown and len(unknown) >= MAX_UNKNOWN_VALUES:
                    shown = None  # counted with the other unknown values
                unknown[(name, known_field, shown)] += count

    def finish(self, warnings: list[Problem]) -> tuple[dict[str, str], list[tuple[str, set[str]]]]:
        """{path: message} of the first MAX_INVALID_LISTED invalid records in collection order,
        and the collections where a key comes more than once (with those keys); the warnings
        (repeated keys, unknown values) are added to ``warnings``."""
        invalid: dict[str, str] = {}
        repeated: list[tuple[str, set[str]]] = []
        for name in sorted(self._collections, key=order_key):
            state = self._collections[name]
            state.seen = set()  # done with the keys
            for _feed, _index, path, message in sorted(state.invalid)[
                : max(MAX_INVALID_LISTED - len(invalid), 0)
            ]:
                invalid[path] = message
            if state.duplicates and state.tracked:
                repeated.append((name, state.repeated))
                warnings.append(
                    Problem(
                        name,
                        f"{state.duplicates} records repeat the {state.key_field} of "
                        "an earlier one; the last one wins",
                        code=Code.DUPLICATE_KEY,
                    )
                )
        for (name, known_field, value), n in sorted(
            self._unknown.items(), key=lambda item: str(item[0])
        ):
            what = (
                f"{known_field} {value!r}"
                if value is not None
                else f"other values of {known_field}"
            )
            warnings.append(
                Problem(
                    f"{name}[*].{known_field}",
                    f"{n} records have {what}, which agentmemory does not list; kept as is",
                    code=Code.UNKNOWN_VALUE,
                )
            )
        return invalid, repeated
