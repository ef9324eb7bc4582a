"""The interface every source-format adapter implements.

An adapter module (``wizard/core/adapters/<family>.py``) exposes ``FORMATS``: a tuple of
:class:`Format`. Detection (``wizard.core.detection``) asks each format's ``sniff`` how well the
parsed payload matches, picks the first full match, and calls its ``convert``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wizard.core.losses import LeftBehind
from wizard.core.problems import Problem


@dataclass
class Payload:
    """A parsed input file, as the adapters see it.

    ``value`` is the parsed JSON document; for JSON Lines (``kind == "jsonl"``) it is the list of
    the parsed lines. ``container`` is "gzip" or "zip" when the JSON came out of one; for a zip,
    ``members`` maps other member names that were read (e.g. ``memories.jsonl.gz``) to their
    parsed content (a list of line values for JSON Lines). ``unwrapped`` is true when the file
    was one JSON string holding the real document (a JSON-encoded-twice Letta file).
    """

    value: Any
    name: str = ""
    kind: str = "json"
    container: str | None = None
    member: str | None = None
    members: dict[str, Any] = field(default_factory=dict)
    unwrapped: bool = False
    sha256: str | None = None  # of the file as read, when it was read from start to end
    warnings: list[Problem] = field(default_factory=list)  # what reading noticed (repeated keys)
    # a source's own storage (``wizard.core.storage``): the layout (= format) id its reader
    # recognised; ``value`` is then the document that reader built, and only that format's
    # adapter converts it
    layout: str | None = None
    size: int | None = None  # bytes of every file read, for a storage (a file's own size else)


@dataclass
class ConvertOptions:
    include_deleted: bool = False  # OpenMemory state "deleted", Letta passages is_deleted
    include_inactive: bool = False  # OpenMemory states "archived" and "paused"
    treat_as_version: str | None = None  # agentmemory file with missing/unknown version


@dataclass
class Conversion:
    """The canonical ExportData dict an adapter produced, and what it noticed on the way.

    ``errors`` are records of the source that could not be converted (with their JSON path in the
    source file); ``warnings`` are things the user should know (dropped embeddings, deleted
    memories left out, relations without ids...). ``left_behind`` counts, per category, what the
    file holds that no agentmemory field receives (``wizard.core.losses``). ``source_version``
    is the source's own version when it has one (agentmemory's ``version``, Letta's
    ``version``...).
    """

    data: dict
    source_version: str | None = None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    left_behind: list[LeftBehind] = field(default_factory=list)


@dataclass(frozen=True)
class Sniff:
    """How well a payload matches a format: 1.0 is a match; below that, how close it came and
    why it is not a match (shown when nothing matches)."""

    score: float
    note: str = ""


NO_MATCH = Sniff(0.0)


@dataclass(frozen=True)
class Format:
    id: str  # stable id shown to the user and written to the audit log
    label: str  # human description
    sniff: Callable[[Payload], Sniff]
    convert: Callable[[Payload, ConvertOptions], Conversion]
    # The converter walks record arrays kept in a spool (``wizard.core.spool.RecordList``) a
    # chunk at a time and writes its records to one: a big file is converted in memory that
    # does not grow with it. Otherwise the reader reads spooled arrays back into memory first.
    streams: bool = False


def storage_sniff(layout_id: str) -> Callable[[Payload], Sniff]:
    """The sniffer of a storage format: it matches exactly the payloads its reader built."""

    def sniff(payload: Payload) -> Sniff:
        return Sniff(1.0) if payload.layout == layout_id else NO_MATCH

    sniff.__name__ = f"sniff_{layout_id.replace('-', '_')}"
    return sniff


def never_raises(sniff: Callable[[Payload], Sniff]) -> Callable[[Payload], Sniff]:
    """Wrap a sniffer so that any JSON at all gives a Sniff, never an exception."""

    def safe(payload: Payload) -> Sniff:
        try:
            return sniff(payload)
        except Exception:  # a sniff that fails is a non-match
            return NO_MATCH

    safe.__name__ = sniff.__name__
    safe.__doc__ = sniff.__doc__
    return safe
