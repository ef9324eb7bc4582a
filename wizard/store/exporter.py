"""Writing the whole store as agentmemory ExportData (the newest supported version).

Records are written as the JSON text the store keeps (no re-encoding), in insertion order;
observations are regrouped under the session id they were imported under. The file is written
next to its destination and renamed into place, owner-only.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

from peewee import SqliteDatabase

from wizard.core.canonical import now_iso
from wizard.core.collections import ALWAYS_PRESENT, MAIN, in_order
from wizard.core.outputs import atomic_text, protected_paths
from wizard.core.versions import NEWEST
from wizard.store.database import Store
from wizard.store.models import OTHER_SPEC, SPECS

ProgressFn = Callable[[str, int, int], None]
_FETCH = 2000


def record_texts(db: SqliteDatabase, sql: str, params: tuple = ()) -> Iterator[str]:
    """The one text column ``sql`` selects (records' JSON as stored), a batch at a time."""
    cur = db.execute_sql(sql, params)
    while rows := cur.fetchmany(_FETCH):
        for (text,) in rows:
            yield text


def _rows(store: Store, sql: str, params: tuple = ()) -> Iterable[str]:
    return record_texts(store.database, sql, params)


def write_array(out: TextIO, texts: Iterable[str]) -> int:
    """Write records' JSON texts as one JSON array; returns how many."""
    out.write("[")
    n = 0
    for text in texts:
        if n:
            out.write(",")
        out.write(text)
        n += 1
    out.write("]")
    return n


def _observation_buckets(store: Store) -> dict[str, list[int]]:
    """bucket -> rowids of its observations, buckets in order of first appearance."""
    buckets: dict[str, list[int]] = {}
    cur = store.database.execute_sql('SELECT rowid, bucket FROM "observations" ORDER BY rowid')
    while rows := cur.fetchmany(10000):
        for rowid, bucket in rows:
            buckets.setdefault(bucket, []).append(rowid)
    return buckets


def _observation_texts(store: Store, rowids: list[int]) -> Iterable[str]:
    for i in range(0, len(rowids), 500):
        part = rowids[i : i + 500]
        marks = ", ".join("?" for _ in part)
        yield from _rows(
            store,
            f'SELECT data FROM "observations" WHERE rowid IN ({marks}) ORDER BY rowid',
            tuple(part),
        )


@contextlib.contextmanager
def atomic_output(out_path: Path, store: Store | None = None) -> Iterator[TextIO]:
    """A text file written next to ``out_path`` (owner-only, exclusively created) and renamed
    into place when the block ends without an error; removed otherwise (``core.outputs``:
    never the store's own files, never through a link; the caller asked before replacing)."""
    protected = protected_paths(store.path if store is not None else None)
    with atomic_text(out_path, protected=protected, force=True) as out:
        yield out


def write_head(out: TextIO) -> None:
    """The start of an ExportData document: ``{"version":..,"exportedAt":..``."""
    out.write("{")
    out.write(f'"version":{json.dumps(NEWEST)},"exportedAt":{json.dumps(now_iso())}')


def export_store(
    store: Store, out_path: str | os.PathLike, progress: ProgressFn | None = None
) -> dict[str, int]:
    """Write the store to ``out_path`` as ExportData; returns the records written per collection.

    Raises StoreError for store problems and OSError when the output cannot be written.
    """
    out_path = Path(out_path)
    counts: dict[str, int] = {}
    db = store.database
    with atomic_output(out_path, store) as out, store.errors(os_errors=False), db.atomic():
        write_head(out)
        others = dict(
            db.execute_sql(
                f'SELECT collection, count(*) FROM "{OTHER_SPEC.table}" GROUP BY collection'
            ).fetchall()
        )
        main = [c.name for c in MAIN]
        names = main + in_order(n for n in others if n not in main)
        for name in names:
            if name == "observations":
                out.write(',"observations":{')
                n = 0
                for i, (bucket, rowids) in enumerate(_observation_buckets(store).items()):
                    if i:
                        out.write(",")
                    out.write(json.dumps(bucket, ensure_ascii=False) + ":")
                    n += write_array(out, _observation_texts(store, rowids))
                out.write("}")
                counts[name] = n
            elif name in SPECS:
                table = SPECS[name].table
                if name not in ALWAYS_PRESENT:
                    exists = db.execute_sql(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone()
                    if not exists:
                        continue
                out.write(f",{json.dumps(name)}:")
                counts[name] = write_array(
                    out, _rows(store, f'SELECT data FROM "{table}" ORDER BY rowid')
                )
            else:
                out.write(f",{json.dumps(name, ensure_ascii=False)}:")
                counts[name] = write_array(
                    out,
                    _rows(
                        store,
                        f'SELECT data FROM "{OTHER_SPEC.table}" WHERE collection = ?'
                        " ORDER BY rowid",
                        (name,),
                    ),
                )
            if progress is not None:
                progress(name, len(counts), len(names))
        out.write("}\n")
    return counts
