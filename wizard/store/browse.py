"""Browsing the store: full-text search, filters, pages of results, one record, and exporting a
selection (the store browser window and its tests use this; nothing here writes records).

CONTRACT (the UI codes against these names; the store side fills them in):

- ``COLLECTIONS``: the collections the browser lists, in this order.
- ``BrowseFilter``: what the results view shows.
- ``count(store, f) -> int``: how many records match.
- ``page(store, f, offset, limit) -> list[RecordRow]``: one page of matches, in a stable order
  (newest first by the collection's time, then key), never more than ``limit`` rows.
- ``record(store, collection, key) -> dict | None``: the full stored record (with its verbatim
  ``source`` copy when it has one).
- ``facets(store, collection) -> Facets``: the distinct projects, agents and source formats of a
  collection (for the filter boxes), and the import entries that wrote records.
- ``export_selection(store, f, keys, out_path) -> dict[str, int]``: an agentmemory ExportData of
  the records matching ``f`` (or only ``keys`` of ``f.collection`` when given) with what they
  need (a session's observations, a memory's access log), written atomically; counts per
  collection.
- ``index_steps(store, cancel) -> Generator[tuple[int, int], None, None]``: build the full-text
  index of a store made by an earlier version (yields (done, total)); a no-op when it exists.
  ``needs_index(store) -> bool``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

COLLECTIONS = ("memories", "sessions", "observations", "summaries", "graphNodes", "graphEdges")


@dataclass(frozen=True)
class BrowseFilter:
    collection: str = "memories"
    text: str = ""  # words to find in titles and contents (full-text); "" = everything
    project: str | None = None
    agent: str | None = None
    source_format: str | None = None  # the record's source.format, e.g. "mem0-install"
    audit_id: int | None = None  # records whose current version import #N inserted or changed
    session_id: str | None = None  # observations of one session


@dataclass(frozen=True)
class RecordRow:
    """One row of the results view."""

    collection: str
    key: str
    title: str
    project: str | None
    agent: str | None
    when: str | None  # the record's own time (createdAt, startedAt, timestamp...)
    source_format: str | None
    snippet: str = ""  # for a text search: the matching words in context


@dataclass
class Facets:
    projects: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    imports: list[tuple[int, str]] = field(default_factory=list)  # (audit id, label)
