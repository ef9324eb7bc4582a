"""Browsing the store: full-text search, filters, pages of results, one record, and exporting a
selection (the store browser window and its tests use this; nothing here writes records).

CONTRACT (the UI codes against these names; the store side fills them in):

- ``COLLECTIONS``: the collections the browser lists, in this order.
- ``BrowseFilter``: what the results view shows.
- ``count(store, f) -> int``: how many records match.
- ``page(store, f, offset, limit) -> list[RecordRow]``: one page of matches, in a stable order
  (newest first by the collection's time, then the most recently stored first; records without
  a time last), never more than ``limit`` rows.
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

How it works. The full-text index (schema 5) is one contentless FTS5 table per collection
(``TableSpec.search_table``; ``detail=none``: words, not their positions) over the fields the
models name (``search_fields``: an observation's title and facts, not its narrative), kept in
step by every write inside the write's transaction (the importer, revert); a store made by an
earlier version has it built once by ``index_steps``. A search is the words of
``BrowseFilter.text``, all of them, case and accents ignored (``"retry tok*"``: a word ending
in ``*`` is a prefix); until the index is built, a search reads the records instead (slow).
Pages are ordered by the collection's time column and rowid, which the column's index serves
whole, so any offset is an index walk (summaries and the graph, without such a column, are
sorted: 10,000 records at the caps). Project and session filters use indexes; audit id, agent
and source format read every record (a fraction of a second at the caps: bench/RESULTS.md).
Observations have no project of their own: theirs is their session's.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from peewee import SqliteDatabase

from wizard.core.collections import ALWAYS_PRESENT, in_order
from wizard.core.problems import Cancelled
from wizard.store.database import Store, search_ready
from wizard.store.exporter import atomic_output, record_texts, write_array, write_head
from wizard.store.models import (
    SEARCH_SPECS,
    SEARCH_VERSION,
    SPECS,
    SearchIndexRow,
    TableSpec,
    spec_for,
)

COLLECTIONS = ("memories", "sessions", "observations", "summaries", "graphNodes", "graphEdges")

BUILD_CHUNK = 10_000  # records indexed per statement by index_steps (one progress step)
TITLE_CHARS = 200  # a row's title is cut to this many characters
SNIPPET_WORDS = (8, 16)  # words shown before and after the first match
_FETCH = 500  # rows read per query when exporting
_SEARCH_MANY = 5_000  # a search matching more records than this is paged by the time index
_SORT_WITHIN = 10_000  # a filter reading every record sorts its matches up to this offset


@dataclass(frozen=True)
class BrowseFilter:
    collection: str = "memories"
    text: str = ""  # words to find in titles and contents (full-text); "" = everything
    project: str | None = None
    agent: str | None = None
    source_format: str | None = None  # the record's source.format, e.g. "mem0-install"
    audit_id: int | None = None  # records whose current version import #N inserted or changed
    session_id: str | None = None  # observations of one session (also: its summary, memories)


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


# -- the collections as the browser sees them -----------------------------------------------
@dataclass(frozen=True)
class _View:
    name: str
    spec: TableSpec
    time_field: str  # the record's own time
    time_column: str | None  # the indexed column holding it (None: read from the JSON)
    titles: tuple[str, ...]  # the fields a row's title comes from, the first one set
    project: str  # SQL: the record (table alias t) is of project ?
    projects: str  # SQL: the distinct projects of the collection
    session: str  # SQL: the record is of session ?
    indexed: tuple[str, ...] = ()  # the filters an index serves ("project", "session")

    @property
    def time_sql(self) -> str:
        if self.time_column:
            return f't."{self.time_column}"'
        return f"json_extract(t.data, '$.{self.time_field}')"

    @property
    def key_sql(self) -> str:
        return f't."{self.spec.key_column}"'


def _json_view(name: str, titles: tuple[str, ...]) -> _View:
    """A collection without columns for these filters: they read the record's JSON."""
    spec = SPECS[name]
    return _View(
        name,
        spec,
        "createdAt",
        None,
        titles,
        "json_extract(t.data, '$.project') = ?",
        f"SELECT DISTINCT json_extract(data, '$.project') FROM \"{spec.table}\"",
        "json_extract(t.data, '$.sessionId') = ?",
    )


_VIEWS: dict[str, _View] = {
    v.name: v
    for v in (
        _View(
            "memories",
            SPECS["memories"],
            "createdAt",
            "created_at",
            ("title", "content"),
            't."project" = ?',
            'SELECT DISTINCT "project" FROM "memories"',
            "EXISTS (SELECT 1 FROM json_each(t.data, '$.sessionIds') WHERE value = ?)",
            ("project",),
        ),
        _View(
            "sessions",
            SPECS["sessions"],
            "startedAt",
            "started_at",
            ("summary", "firstPrompt", "project", "cwd"),
            't."project" = ?',
            'SELECT DISTINCT "project" FROM "sessions"',
            't."id" = ?',
            ("project", "session"),
        ),
        _View(
            "observations",
            SPECS["observations"],
            "timestamp",
            "timestamp",
            ("title", "subtitle", "narrative", "type"),
            't."session_id" IN (SELECT "id" FROM "sessions" WHERE "project" = ?)',
            'SELECT DISTINCT s."project" FROM "sessions" s WHERE EXISTS (SELECT 1 FROM'
            ' "observations" o WHERE o."session_id" = s."id")',
            't."session_id" = ?',
            ("project", "session"),
        ),
        _View(
            "summaries",
            SPECS["summaries"],
            "createdAt",
            None,
            ("title", "narrative"),
            't."project" = ?',
            'SELECT DISTINCT "project" FROM "summaries"',
            't."session_id" = ?',
            ("project", "session"),
        ),
        _json_view("graphNodes", ("name", "type")),
        _json_view("graphEdges", ("type",)),
    )
}
assert tuple(_VIEWS) == COLLECTIONS


def _view(collection: str) -> _View:
    try:
        return _VIEWS[collection]
    except KeyError:
        raise ValueError(f"the browser does not list the collection {collection!r}") from None


# -- the words of a search ------------------------------------------------------------------
_WORD = re.compile(r"[^\W_]+(\*?)")


def _fold(text: str) -> str:
    """A word as the index compares it: case and accents ignored."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class _Search:
    """The words of ``BrowseFilter.text``: (folded word, is a prefix)."""

    words: tuple[tuple[str, bool], ...]

    @classmethod
    def parse(cls, text: str) -> _Search | None:
        """None when the text asks for nothing (blank)."""
        if not text.strip():
            return None
        text = unicodedata.normalize("NFC", text)
        words = tuple(
            (_fold(m.group(0).rstrip("*")), bool(m.group(1))) for m in _WORD.finditer(text)
        )
        return cls(tuple(dict.fromkeys(words)))

    @property
    def match(self) -> str:
        """The FTS5 query: every word (quoted: never an operator), prefixes marked."""
        return " ".join(f'"{w}"' + ("*" if prefix else "") for w, prefix in self.words)

    def finds(self, word: str) -> bool:
        folded = _fold(word)
        return any(folded.startswith(w) if p else folded == w for w, p in self.words)


# -- the WHERE clause of a filter -----------------------------------------------------------
@dataclass
class _Where:
    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    search: _Search | None = None
    text_clause: int | None = None  # which clause is the full-text one
    nothing: bool = False  # the filter can match no record
    narrowed: bool = False  # an index finds the matches (words, a project, a session)
    reads_records: bool = False  # a clause reads every record (its JSON or its audit id)

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def sql(self, *extra: str) -> str:
        clauses = [*self.clauses, *extra]
        return " WHERE " + " AND ".join(clauses) if clauses else ""


def _where(db: SqliteDatabase, view: _View, f: BrowseFilter) -> _Where:
    w = _Where()
    spec = view.spec
    search = _Search.parse(f.text)
    if search is not None:
        w.search = search
        if not search.words:
            w.nothing = True
        elif search_ready(db):
            w.text_clause = len(w.clauses)
            w.narrowed = True
            table = spec.search_table
            w.add(f't.rowid IN (SELECT rowid FROM "{table}" WHERE "{table}" MATCH ?)', search.match)
        else:  # the index is not built yet: read the records (slow, accents not ignored)
            w.reads_records = True
            text = f"lower({spec.search_text('t.data')})"
            for word, _prefix in search.words:
                w.add(f"{text} LIKE ? ESCAPE '\\'", _like(word))
    if f.project is not None:
        w.add(view.project, f.project)
        w.narrowed = w.narrowed or "project" in view.indexed
    if f.agent is not None:
        _json_equals(w, "agentId", "$.agentId", f.agent)
    if f.source_format is not None:
        _json_equals(w, "format", "$.source.format", f.source_format)
    if f.audit_id is not None:
        w.reads_records = True
        w.add("t.last_audit = ?", f.audit_id)
    if f.session_id is not None:
        w.add(view.session, f.session_id)
        w.narrowed = w.narrowed or "session" in view.indexed
    return w


_PLAIN = re.compile(r"[ !#-\[\]-~]*")  # printable ASCII but '"' and '\\': written as they are


def _json_equals(w: _Where, name: str, path: str, value: str) -> None:
    """The record's field at ``path`` is ``value``. Every record is read; the stored text is
    compact JSON, so a plain value is first looked for as ``"name":"value"`` in the text
    (without decoding it), then checked."""
    w.reads_records = True
    if _PLAIN.fullmatch(value):
        w.add("t.data LIKE ? ESCAPE '\\'", _like(f'"{name}":"{value}"'))
    w.add(f"json_extract(t.data, '{path}') = ?", value)


def _like(word: str) -> str:
    """A LIKE pattern finding ``word`` anywhere (so also as a prefix)."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# -- count and page -------------------------------------------------------------------------
def count(store: Store, f: BrowseFilter) -> int:
    """How many records of ``f.collection`` match ``f``. Raises StoreError, ValueError (a
    collection the browser does not list)."""
    view = _view(f.collection)
    table = view.spec.table
    db = store.database
    with store.errors():
        w = _where(db, view, f)
        if w.nothing:
            return 0
        if w.text_clause is not None and len(w.clauses) == 1:
            search_table = view.spec.search_table
            sql = f'SELECT count(*) FROM "{search_table}" WHERE "{search_table}" MATCH ?'
        else:
            sql = f'SELECT count(*) FROM "{table}" t{w.sql()}'
        return int(db.execute_sql(sql, tuple(w.params)).fetchone()[0])


def page(store: Store, f: BrowseFilter, offset: int, limit: int) -> list[RecordRow]:
    """Up to ``limit`` matches of ``f`` from ``offset`` on, newest first (see the module's
    docstring). Raises StoreError, ValueError."""
    view = _view(f.collection)
    if limit <= 0:
        return []
    db = store.database
    with store.errors(), db.atomic():
        w = _where(db, view, f)
        if w.nothing:
            return []
        rowids = _page_rowids(db, view, w, max(0, offset), limit)
        return _rows(db, view, rowids, w.search)


def _page_rowids(db: SqliteDatabase, view: _View, w: _Where, offset: int, limit: int) -> list[int]:
    table = view.spec.table
    order = view.time_sql
    if w.reads_records and not w.narrowed and offset + limit <= _SORT_WITHIN:
        # Read every record once and sort the matches (a few of them, or the first pages of
        # many), rather than walking the time index with a lookup per row.
        order = "+" + order
    if w.text_clause is not None and view.time_column is not None:
        # A search matching many records is paged along the time index, asking the index of
        # each row whether it matches (one lookup); a rare one from its matches (a sort).
        search_table = view.spec.search_table
        matches = db.execute_sql(
            f'SELECT count(*) FROM "{search_table}" WHERE "{search_table}" MATCH ?',
            (w.params[0],),
        ).fetchone()[0]
        if matches > _SEARCH_MANY:
            w.clauses[w.text_clause] = "+" + w.clauses[w.text_clause]
    sql = (
        f'SELECT t.rowid FROM "{table}" t{w.sql()} ORDER BY {order} DESC, t.rowid DESC'
        " LIMIT ? OFFSET ?"
    )
    return [r[0] for r in db.execute_sql(sql, (*w.params, limit, offset)).fetchall()]


def _rows(
    db: SqliteDatabase, view: _View, rowids: list[int], search: _Search | None
) -> list[RecordRow]:
    if not rowids:
        return []
    spec = view.spec
    found = {
        rowid: (key, json.loads(data))
        for rowid, key, data in db.execute_sql(
            f'SELECT rowid, "{spec.key_column}", data FROM "{spec.table}"'
            " WHERE rowid IN (SELECT value FROM json_each(?))",
            (json.dumps(rowids),),
        ).fetchall()
    }
    projects: dict[str, Any] = {}
    if view.name == "observations":  # an observation's project is its session's
        sessions = sorted(
            {s for _, r in found.values() if isinstance(s := _get(r, "sessionId"), str)}
        )
        if sessions:
            projects = dict(
                db.execute_sql(
                    'SELECT "id", "project" FROM "sessions" WHERE "id" IN'
                    " (SELECT value FROM json_each(?))",
                    (json.dumps(sessions, ensure_ascii=False),),
                ).fetchall()
            )
    out = []
    for rowid in rowids:
        if rowid not in found:
            continue
        key, record = found[rowid]
        if view.name == "observations":
            project = projects.get(_get(record, "sessionId"))
        else:
            project = _get(record, "project")
        out.append(
            RecordRow(
                collection=view.name,
                key=key,
                title=_title(record, view.titles),
                project=_text_or_none(project),
                agent=_text_or_none(_get(record, "agentId")),
                when=_text_or_none(_get(record, view.time_field)),
                source_format=_source_format(record),
                snippet=_snippet(record, view.spec, search) if search is not None else "",
            )
        )
    return out


def _get(record: Any, name: str) -> Any:
    return record.get(name) if isinstance(record, dict) else None


def _text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _source_format(record: Any) -> str | None:
    source = _get(record, "source")
    fmt = _get(source, "format") if isinstance(source, dict) and "system" in source else None
    return fmt if isinstance(fmt, str) else None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _title(record: Any, fields: tuple[str, ...]) -> str:
    for name in fields:
        value = _get(record, name)
        if isinstance(value, str) and value.strip():
            text = _one_line(value)
            return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…"
    return ""


def _field_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _snippet(record: Any, spec: TableSpec, search: _Search) -> str:
    """The first matching word of the indexed fields, with the words around it."""
    for name in spec.model.search_fields:
        text = _one_line(_field_text(_get(record, name)))
        words = list(re.finditer(r"[^\W_]+", text))
        for i, m in enumerate(words):
            if search.finds(m.group(0)):
                before, after = SNIPPET_WORDS
                first = words[max(0, i - before)]
                last = words[min(len(words) - 1, i + after)]
                head = "…" if first.start() > 0 else ""
                tail = "…" if last.end() < len(text) else ""
                return head + text[first.start() : last.end()] + tail
    return ""


# -- one record ------------------------------------------------------------------------------
def record(store: Store, collection: str, key: str) -> dict | None:
    """The record of ``collection`` with that key as stored (its ``source`` copy included), or
    None when there is none. Raises StoreError."""
    spec = spec_for(collection)
    where = f'"{spec.key_column}" = ?'
    params: tuple = (key,)
    if spec.generic:
        where, params = f"collection = ? AND {where}", (collection, key)
    with store.errors():
        row = store.database.execute_sql(
            f'SELECT data FROM "{spec.table}" WHERE {where}', params
        ).fetchone()
    if row is None:
        return None
    value = json.loads(row[0])
    return value if isinstance(value, dict) else {"value": value}


# -- the filter boxes ------------------------------------------------------------------------
def facets(store: Store, collection: str) -> Facets:
    """The distinct projects, agents and source formats of a collection's records (strings
    only, sorted), and the imports whose writes are its records' current versions (newest
    first). Reads every record of the collection once. Raises StoreError, ValueError."""
    view = _view(collection)
    table = view.spec.table
    db = store.database
    out = Facets()
    with store.errors(), db.atomic():
        out.projects = _strings(r[0] for r in db.execute_sql(view.projects))
        agents, formats, audits = set(), set(), set()
        for agent, fmt, audit_id in db.execute_sql(
            "SELECT DISTINCT json_extract(data, '$.agentId'), json_extract(data,"
            f" '$.source.format'), last_audit FROM \"{table}\""
        ):
            agents.add(agent)
            formats.add(fmt)
            audits.add(audit_id)
        out.agents = _strings(agents)
        out.formats = _strings(formats)
        ids = sorted((a for a in audits if isinstance(a, int)), reverse=True)
        labels = {}
        for i in range(0, len(ids), _FETCH):
            part = ids[i : i + _FETCH]
            marks = ", ".join("?" for _ in part)
            for row in db.execute_sql(
                "SELECT id, timestamp, operation, strategy, source_name, format FROM audit_log"
                f" WHERE id IN ({marks})",
                tuple(part),
            ):
                labels[row[0]] = _import_label(*row)
        out.imports = [(a, labels.get(a, f"#{a}")) for a in ids]
    return out


def _strings(values: Iterable[Any]) -> list[str]:
    return sorted({v for v in values if isinstance(v, str) and v})


def _import_label(
    audit_id: int,
    timestamp: str | None,
    operation: str | None,
    strategy: str | None,
    source_name: str | None,
    fmt: str | None,
) -> str:
    when = (timestamp or "")[:16].replace("T", " ")
    what = source_name or fmt or operation or ""
    how = f" ({strategy})" if strategy else ""
    return " ".join(p for p in (f"#{audit_id}", when, what) if p) + how


# -- exporting a selection -------------------------------------------------------------------
def export_selection(
    store: Store, f: BrowseFilter, keys: list[str] | None, out_path: str | Path
) -> dict[str, int]:
    """Write an agentmemory ExportData (the newest version) of the records of
    ``f.collection`` matching ``f`` (or, given ``keys``, of those keys) to ``out_path``,
    atomically and owner-only, with what they need: a session's observations and summary, an
    observation's session, a memory's access log, an edge's nodes. Records are written as
    stored, one read transaction, a batch at a time. Returns the records written per
    collection. Raises StoreError, OSError (the output), ValueError."""
    view = _view(f.collection)
    out_path = Path(out_path)
    db = store.database
    with atomic_output(out_path, store) as out, store.errors(os_errors=False), db.atomic():
        if keys is not None:
            w = _Where()
            w.add(
                f"{view.key_sql} IN (SELECT value FROM json_each(?))",
                json.dumps(list(keys), ensure_ascii=False),
            )
        else:
            w = _where(db, view, f)
            if w.nothing:
                w = _Where(clauses=["0"])
        counts = _write_selection(db, out, view, w)
    return counts


def _selection_parts(view: _View, w: _Where) -> dict[str, tuple[str, tuple]]:
    """collection -> (SQL giving the stored JSON texts to write (a session's observations:
    bucket, text), params)."""
    table = view.spec.table
    chosen = f'SELECT t.rowid FROM "{table}" t{w.sql()}'
    params = tuple(w.params)
    mine = f"t.rowid IN ({chosen})"
    key = view.spec.key_column
    name = view.name
    parts: dict[str, tuple[str, tuple]] = {name: (mine, params)}
    ids = f'SELECT t."{key}" FROM "{table}" t{w.sql()}'
    if name == "sessions":
        parts["observations"] = (f"t.bucket IN ({ids})", params)
        parts["summaries"] = (f"t.session_id IN ({ids})", params)
    elif name == "observations":
        sessions = _either(table, w, "bucket", "session_id")
        parts["sessions"] = (f"t.id IN ({sessions})", params + params)
    elif name == "memories":
        parts["accessLogs"] = (f"t.key IN ({ids})", params)
    elif name == "graphEdges":
        ends = _either(table, w, "source_node_id", "target_node_id")
        parts["graphNodes"] = (f"t.id IN ({ends})", params + params)
    return parts


def _either(table: str, w: _Where, first: str, second: str) -> str:
    """The values of two columns of the chosen rows, as one query (its parameters: twice
    ``w``'s)."""
    return (
        f'SELECT t.{first} FROM "{table}" t{w.sql()} UNION SELECT t.{second}'
        f' FROM "{table}" t{w.sql()}'
    )


def _write_selection(db: SqliteDatabase, out: TextIO, view: _View, w: _Where) -> dict[str, int]:
    parts = _selection_parts(view, w)
    write_head(out)
    counts: dict[str, int] = {}
    names = in_order({*ALWAYS_PRESENT, *parts})
    for name in names:
        condition, params = parts.get(name, ("0", ()))
        spec = spec_for(name)
        out.write(f",{json.dumps(name, ensure_ascii=False)}:")
        if name == "observations":
            counts[name] = _write_buckets(db, out, condition, params)
            continue
        where = f"t.collection = ? AND {condition}" if spec.generic else condition
        args = (name, *params) if spec.generic else params
        counts[name] = write_array(
            out,
            record_texts(
                db, f'SELECT t.data FROM "{spec.table}" t WHERE {where} ORDER BY t.rowid', args
            ),
        )
    out.write("}\n")
    return {name: n for name, n in counts.items() if n or name in ALWAYS_PRESENT}


def _write_buckets(db: SqliteDatabase, out: TextIO, condition: str, params: tuple) -> int:
    """The chosen observations under the session id they were imported under: SQLite sorts
    (bucket, rowid) pairs, the records are read a batch of rowids at a time."""
    out.write("{")
    cur = db.execute_sql(
        f'SELECT t.bucket, t.rowid FROM "observations" t WHERE {condition}'
        " ORDER BY t.bucket, t.rowid",
        params,
    )
    n = 0
    current: str | None = None
    while rows := cur.fetchmany(_FETCH):
        by_rowid = dict(_fetch_data(db, [rowid for _, rowid in rows]))
        for bucket, rowid in rows:
            if bucket != current:
                out.write("]," if current is not None else "")
                out.write(json.dumps(bucket, ensure_ascii=False) + ":[")
                current = bucket
            else:
                out.write(",")
            out.write(by_rowid[rowid])
            n += 1
    out.write("]}" if current is not None else "}")
    return n


def _fetch_data(db: SqliteDatabase, rowids: list[int]) -> list[tuple[int, str]]:
    marks = ", ".join("?" for _ in rowids)
    return db.execute_sql(
        f'SELECT rowid, data FROM "observations" WHERE rowid IN ({marks})', tuple(rowids)
    ).fetchall()


# -- the full-text index ----------------------------------------------------------------------
def needs_index(store: Store) -> bool:
    """Whether the full-text index must be built (``index_steps``) before searches use it: a
    store made by an earlier version. Raises StoreError."""
    with store.errors():
        return not search_ready(store.database)


def index_steps(
    store: Store, cancel: Callable[[], bool] | None = None
) -> Generator[tuple[int, int], None, None]:
    """Build the full-text index of every collection, in one write transaction, yielding
    (records indexed, records in all) between chunks of ``BUILD_CHUNK``; nothing when it is
    built already. Raises Cancelled (when ``cancel()`` says so between chunks: nothing is kept)
    and StoreError (locked: an import is writing; read-only)."""
    db = store.database
    if not needs_index(store):
        return
    with store.errors(), store.write_transaction():
        if search_ready(db):  # built meanwhile by another window or process
            return
        sizes = [
            (spec, int(db.execute_sql(f'SELECT count(*) FROM "{spec.table}"').fetchone()[0]))
            for spec in SEARCH_SPECS
        ]
        total = sum(n for _, n in sizes)
        done = 0
        yield done, total
        for spec, _n in sizes:
            db.execute_sql(spec.search_clear_sql)
            after = 0
            while True:
                if cancel is not None and cancel():
                    raise Cancelled("the index was not built")
                last, n = db.execute_sql(
                    f'SELECT max(rowid), count(*) FROM (SELECT rowid FROM "{spec.table}"'
                    " WHERE rowid > ? ORDER BY rowid LIMIT ?)",
                    (after, BUILD_CHUNK),
                ).fetchone()
                if not n:
                    break
                db.execute_sql(
                    spec.search_index_where_sql(" WHERE rowid > ? AND rowid <= ?"), (after, last)
                )
                after = last
                done += n
                yield done, total
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        SearchIndexRow.insert(id=1, version=SEARCH_VERSION, built_at=now).on_conflict(
            conflict_target=[SearchIndexRow.id],
            update={SearchIndexRow.version: SEARCH_VERSION, SearchIndexRow.built_at: now},
        ).execute(db)


__all__ = [
    "COLLECTIONS",
    "BrowseFilter",
    "Facets",
    "RecordRow",
    "count",
    "export_selection",
    "facets",
    "index_steps",
    "needs_index",
    "page",
    "record",
]
