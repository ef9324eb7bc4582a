"""From a path on this computer to the Payload of a source's storage, by the rules of
docs/SOURCES.md: recognise, copy, open the copy read-only, read, delete the copy."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from wizard.core.formats import Payload
from wizard.core.problems import Code, InputRefused
from wizard.core.spool import available_memory
from wizard.core.storage import (
    SQLITE_ERRORS,
    CancelFn,
    FolderLayout,
    ReadContext,
    SqliteLayout,
    Tables,
    open_untrusted,
    table_columns,
)
from wizard.core.storage.registry import FOLDER_LAYOUTS, SQLITE_LAYOUTS
from wizard.core.storage.safety import Copied, copy_source, sweep_stale

SQLITE_MAGIC = b"SQLite format 3\x00"

# Databases the wizard recognises but cannot read: (tables that identify it, why).
UNREADABLE_SQLITE: tuple[tuple[frozenset[str], str], ...] = (
    (
        frozenset({"embeddings", "embedding_metadata", "segments"}),
        "a Chroma database (chroma.sqlite3): mem0's Chroma store keeps its memories in "
        "Chroma's own segment files, which the wizard does not read. Export them with mem0's "
        "get_all (every user), save the result as JSON and import that file",
    ),
)


def is_sqlite(path: Path) -> bool:
    """Whether a regular file starts with SQLite's header (never blocks on a pipe)."""
    try:
        if not path.is_file():
            return False
        with open(path, "rb") as f:
            return f.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def find_folder_layout(path: Path) -> tuple[FolderLayout, Path, list[str]] | None:
    """The folder layout a path is (a folder, or a file that names one), or None."""
    for layout in FOLDER_LAYOUTS:
        found = layout.find(path)
        if found is not None:
            root, rels = found
            return layout, root, rels
    return None


def is_storage(path: Path) -> bool:
    """Whether the reader takes this path as a source's storage rather than a file to parse."""
    return path.is_dir() or is_sqlite(path) or find_folder_layout(path) is not None


# Who writes a database, by the name its program gives it (before its tables are read).
PROGRAMS_BY_NAME = {
    "history.db": "mem0",
    "vector_store.db": "mem0",
    "memory.db": "mem0",
    "storage.sqlite": "mem0's Qdrant",
    "openmemory.db": "OpenMemory",
    "sqlite.db": "Letta",
}


def _program_by_name(path: Path) -> str:
    return PROGRAMS_BY_NAME.get(path.name, "the program that writes it")


def program_of(layout_id: str) -> str:
    family = layout_id.split("-")[0]
    return {"mem0": "mem0", "openmemory": "OpenMemory", "letta": "Letta"}.get(family, family)


def read_storage(
    path: Path,
    *,
    vectors: Path | None = None,
    include_deleted: bool = False,
    cancel: CancelFn | None = None,
    max_bytes: int | None = None,
) -> Payload:
    """Read a source's storage at ``path`` (with mem0's Qdrant folder ``vectors`` when given,
    as one mem0 install). Raises InputRefused (what and where) or Cancelled."""
    sweep_stale()
    ctx = ReadContext(cancel=cancel, include_deleted=include_deleted, max_bytes=max_bytes)
    if vectors is not None:
        from wizard.core.storage.mem0 import install_parts

        layout, root, rels = install_parts(path, vectors)
        return _read_folder(layout, root, rels, path, ctx)
    found = find_folder_layout(path)
    if found is not None:
        return _read_folder(*found, path, ctx)
    if path.is_dir():
        raise InputRefused(
            f"{path.name or path} is a folder that holds no source the wizard reads (a mem0 "
            "folder with history.db and its Qdrant folder, a Qdrant local folder, Letta Code's "
            "local backend); choose an export file or one of those",
            code=Code.NOT_A_FILE,
        )
    return _read_sqlite(path, ctx)


def _read_folder(
    layout: FolderLayout, root: Path, rels: list[str], shown: Path, ctx: ReadContext
) -> Payload:
    copied = copy_source(
        root,
        rels,
        program=program_of(layout.id),
        cancel=ctx.cancel,
        max_bytes=ctx.max_bytes,
        shown=shown,
    )
    try:
        if not layout.streams:
            _check_room(copied, layout.label)
        value = layout.read(copied.root, ctx)
    except SQLITE_ERRORS as exc:  # a layout that names the file says so itself, first
        raise InputRefused(
            f"{shown.name or shown} holds a damaged SQLite database: {exc}",
            code=Code.FILE_UNREADABLE,
        ) from None
    finally:
        copied.remove()
    return _payload(value, shown, layout.id, copied, ctx)


def _read_sqlite(path: Path, ctx: ReadContext) -> Payload:
    copied = copy_source(
        path.parent,
        [path.name],
        program=_program_by_name(path),
        cancel=ctx.cancel,
        max_bytes=ctx.max_bytes,
        shown=path,
    )
    try:
        conn = _open_copy(copied.root / path.name, path, ctx.cancel)
        try:
            tables = table_columns(conn)
            layout = _sqlite_layout(tables, path)
            if not layout.streams:
                _check_room(copied, "this database")
            ctx.check()
            value = layout.read(conn, tables, ctx)
        except SQLITE_ERRORS as exc:
            raise InputRefused(
                f"{path.name} is a damaged SQLite database: {exc}", code=Code.FILE_UNREADABLE
            ) from None
        finally:
            conn.close()
    finally:
        copied.remove()
    return _payload(value, path, layout.id, copied, ctx)


# What reading a store's rows and converting them takes in memory, per byte of its files (rows
# become Python objects, then records; the same bound as for other formats' JSON text), for
# the layouts that do not keep their rows in a spool (``streams``).
MEMORY_FACTOR = 10
MB = 1024 * 1024


def _check_room(copied: Copied, what: str) -> None:
    """Refuse, before reading it, a store this computer has no memory to convert."""
    need = copied.size * MEMORY_FACTOR
    free = available_memory()
    if free is not None and need > free:
        raise InputRefused(
            f"reading {what} needs about {need // MB:,} MB of memory and this computer has "
            f"{free // MB:,} MB free; close other programs and try again",
            code=Code.NOT_ENOUGH_MEMORY,
        )


def _open_copy(copy: Path, shown: Path, cancel: CancelFn | None) -> sqlite3.Connection:
    """The private copy, read-only and hardened (``storage.open_untrusted``); a WAL beside it
    is read too (the copy is ours: nothing the user owns is touched)."""
    try:
        conn = open_untrusted(copy, cancel)
    except SQLITE_ERRORS as exc:
        raise InputRefused(
            f"{shown.name} is not a readable SQLite database: {exc}", code=Code.FILE_UNREADABLE
        ) from None
    return conn


def _sqlite_layout(tables: Tables, path: Path) -> SqliteLayout:
    for layout in SQLITE_LAYOUTS:
        if layout.matches(tables):
            return layout
    names = set(tables)
    for marks, why in UNREADABLE_SQLITE:
        if marks <= names:
            raise InputRefused(f"{path.name} is {why}", code=Code.STORE_NOT_READABLE)
    listed = ", ".join(sorted(names)[:8]) or "no tables"
    raise InputRefused(
        f"{path.name} is a SQLite database the wizard does not know (tables: {listed}); it "
        "reads mem0's history.db and vector_store.db, OpenMemory's openmemory.db and Letta's "
        "sqlite.db",
        code=Code.UNKNOWN_FORMAT,
    )


def _payload(
    value: object, path: Path, layout_id: str, copied: Copied, ctx: ReadContext
) -> Payload:
    return Payload(
        value=value,
        name=path.name or str(path),
        kind="storage",
        sha256=copied.sha256,
        size=copied.size,
        warnings=ctx.warnings,
        layout=layout_id,
    )
