"""What memory stores are on this computer: mem0's, OpenMemory's and Letta's default places
(docs/SOURCES.md), and the folders of sources the user opened before.

Discovery only looks: it reads file metadata, and to tell what a SQLite file is it copies it
into a private folder and reads its tables there (as every read of a source does), for files
small enough that this takes milliseconds. It opens nothing for writing, writes no audit
entry, and answers within about a second (``bench/sources.py`` measures it).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from wizard.core.storage import open_untrusted, table_columns
from wizard.core.storage.reader import find_folder_layout, is_sqlite
from wizard.core.storage.registry import SQLITE_LAYOUTS

IDENTIFY_UP_TO = 64 * 1024 * 1024  # SQLite files up to this size are identified by their tables
MAX_ENTRIES = 400  # entries looked at per folder the user opened before
MAX_IDENTIFIED = 24  # SQLite files identified in one discovery (each a copy of at most 64 MB)
LABELS = {
    "mem0-install": "mem0 (history.db with its Qdrant folder)",
    "mem0-history-db": "mem0 history.db",
    "mem0-qdrant-local": "mem0 Qdrant local folder",
    "mem0-ts-local": "mem0 TypeScript SDK storage",
    "mem0-faiss": "mem0 FAISS docstore",
    "openmemory-db": "OpenMemory database",
    "letta-sqlite": "Letta database (0.11 and earlier)",
    "letta-code-local": "Letta Code local backend",
    "letta-postgres": "Letta 0.12+ on PostgreSQL",
    "letta-desktop-postgres": "Letta Desktop's embedded PostgreSQL",
    "chroma": "mem0's Chroma database",
    "mem0-faiss-pickle": "mem0 FAISS docstore pickle (before mem0 2.0)",
}


@dataclass
class Found:
    """One store found: ``kind`` is the format id the wizard reads it as, or what it is when
    it cannot be read (``readable`` false, ``reason`` why and what to do instead)."""

    kind: str
    path: str
    size: int | None = None
    modified: str | None = None
    readable: bool = True
    reason: str = ""
    vectors: str | None = None  # mem0's Qdrant folder, read with the history.db in ``path``
    counts: dict[str, int] = field(default_factory=dict)
    where: str = "default"  # "default" (a default place) or "opened before"

    @property
    def label(self) -> str:
        return LABELS.get(self.kind, self.kind)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "label": self.label,
            "path": self.path,
            "size": self.size,
            "modified": self.modified,
            "readable": self.readable,
            "where": self.where,
        }
        if self.vectors:
            out["vectors"] = self.vectors
        if self.reason:
            out["reason"] = self.reason
        if self.counts:
            out["counts"] = dict(self.counts)
        return out


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None


def _when(st: os.stat_result) -> str:
    return datetime.fromtimestamp(st.st_mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tree_size(root: Path, rels: Iterable[str]) -> tuple[int, float]:
    size, newest = 0, 0.0
    for rel in rels:
        st = _stat(root / rel)
        if st is not None:
            size += st.st_size
            newest = max(newest, st.st_mtime)
    return size, newest


def _iso(ts: float) -> str | None:
    if not ts:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def identify_sqlite(path: Path) -> tuple[str | None, dict[str, int]]:
    """The layout of a small SQLite file, from its tables, read on a private copy; with the
    counts its layout can give cheaply. (None, {}) when unknown or too big to look at now."""
    st = _stat(path)
    if st is None or not stat.S_ISREG(st.st_mode) or st.st_size > IDENTIFY_UP_TO:
        return None, {}
    folder = Path(tempfile.mkdtemp(prefix="agentmemory-wizard-source-"))
    try:
        copy = folder / "db"
        for suffix in ("", "-wal"):
            src = path.parent / (path.name + suffix)
            part = _stat(src)
            if part is None or not stat.S_ISREG(part.st_mode):
                continue
            if part.st_size > IDENTIFY_UP_TO:
                return None, {}
            shutil.copyfile(src, folder / ("db" + suffix))
        conn = open_untrusted(copy)
        try:
            tables = table_columns(conn)
            for layout in SQLITE_LAYOUTS:
                if layout.matches(tables):
                    counts = layout.count(conn, tables) if layout.count is not None else {}
                    return layout.id, counts
        finally:
            conn.close()
    except (OSError, sqlite3.DatabaseError):
        return None, {}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return None, {}


class _Finder:
    def __init__(self) -> None:
        self.found: list[Found] = []
        self.seen: set[str] = set()
        self.identified = 0  # SQLite files copied to be identified

    def _key(self, path: Path) -> str:
        try:
            return str(path.resolve())
        except OSError:
            return str(path)

    def add(self, item: Found) -> None:
        key = self._key(Path(item.path))
        if key in self.seen:
            return
        self.seen.add(key)
        if item.vectors:
            self.seen.add(self._key(Path(item.vectors)))
        self.found.append(item)

    def file(self, path: Path, where: str, kind: str | None = None) -> None:
        """A file that may be a store: identified by its tables (or ``kind`` when known)."""
        st = _stat(path)
        if st is None or not stat.S_ISREG(st.st_mode) or self._key(path) in self.seen:
            return
        counts: dict[str, int] = {}
        if is_sqlite(path):
            if self.identified >= MAX_IDENTIFIED:
                return
            self.identified += 1
            kind, counts = identify_sqlite(path)
            if kind is None:
                return
        elif kind is None:
            return
        self.add(Found(kind, str(path), st.st_size, _when(st), counts=counts, where=where))

    def folder(self, path: Path, where: str) -> bool:
        """A folder that is a store layout (a mem0 folder, a Qdrant folder, Letta Code's)."""
        if not path.is_dir() or self._key(path) in self.seen:
            return False
        found = find_folder_layout(path)
        if found is None:
            return False
        layout, root, rels = found
        size, newest = _tree_size(root, rels)
        self.add(Found(layout.id, str(path), size, _iso(newest), where=where))
        return True

    def unreadable(self, kind: str, path: Path, reason: str, where: str = "default") -> None:
        st = _stat(path)
        if st is None or self._key(path) in self.seen:
            return
        size = st.st_size if stat.S_ISREG(st.st_mode) else None
        self.add(Found(kind, str(path), size, _when(st), False, reason, where=where))


def _sqlite_url_path(url: str, cwd: Path) -> Path | None:
    """The file of an SQLAlchemy ``sqlite:///`` URL (relative to the working folder)."""
    for prefix in ("sqlite:////", "sqlite:///"):
        if url.startswith(prefix):
            rest = url[len(prefix) - (1 if prefix == "sqlite:////" else 0) :]
            rest = rest.split("?", 1)[0]
            return Path(rest) if os.path.isabs(rest) else cwd / rest
    return None


def discover(
    *,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    temp: Path = Path("/tmp"),
    opened_before: Iterable[Path] = (),
) -> list[Found]:
    """Every store found, readable ones first. ``opened_before`` are sources the user read
    before (files or folders): their folders are looked at too."""
    env = os.environ if env is None else env
    home = home or Path.home()
    cwd = cwd or Path.cwd()
    f = _Finder()

    # mem0 (Python): ~/.mem0 or $MEM0_DIR; history.db, and its default Qdrant folder
    mem0_dir = Path(env.get("MEM0_DIR") or home / ".mem0")
    history = mem0_dir / "history.db"
    qdrant = temp / "qdrant"
    if not f.folder(mem0_dir, "default"):
        st = _stat(history)
        if st is not None and is_sqlite(history) and (qdrant / "meta.json").is_file():
            rels = [
                "meta.json",
                *(str(p.relative_to(qdrant)) for p in qdrant.glob("collection/*/storage.sqlite")),
            ]
            size, newest = _tree_size(qdrant, rels)
            f.add(
                Found(
                    "mem0-install",
                    str(history),
                    st.st_size + size,
                    _iso(max(st.st_mtime, newest)),
                    vectors=str(qdrant),
                )
            )
        f.file(history, "default")
        f.folder(qdrant, "default")
    f.file(mem0_dir / "vector_store.db", "default")  # the TypeScript SDK
    f.file(cwd / "memory.db", "default")
    faiss = temp / "faiss"
    for path in sorted(faiss.glob("*.json")) if faiss.is_dir() else []:
        if path.with_suffix(".faiss").is_file():
            f.file(path, "default", kind="mem0-faiss")
    for path in sorted(faiss.glob("*.pkl")) if faiss.is_dir() else []:
        f.unreadable(
            "mem0-faiss-pickle",
            path,
            "mem0's FAISS docstore before 2.0 is a Python pickle, which the wizard never "
            "opens: start mem0 2.0 or newer once (it rewrites it as NAME.json)",
        )
    chroma = temp / "chroma" / "chroma.sqlite3"
    f.unreadable(
        "chroma",
        chroma,
        "Chroma keeps mem0's memories in its own segment files, which the wizard does not "
        "read: export them with mem0's get_all and import that file",
    )

    # OpenMemory: $DATABASE_URL when it names a SQLite file, else ./openmemory.db
    url = env.get("DATABASE_URL", "")
    om = _sqlite_url_path(url, cwd) if url else cwd / "openmemory.db"
    if om is not None:
        f.file(om, "default")

    # Letta: ~/.letta/sqlite.db (0.11 and earlier), Postgres after, Letta Code's local backend
    letta = home / ".letta"
    f.file(letta / "sqlite.db", "default")
    f.unreadable(
        "letta-postgres",
        letta / ".persist" / "pgdata",
        "Letta 0.12 and later (and Letta in Docker) keep their data in PostgreSQL: export "
        "your agents from Letta (.af files) and their archival memory, and import those",
    )
    f.unreadable(
        "letta-desktop-postgres",
        letta / "desktop_data",
        "Letta Desktop's embedded PostgreSQL: export your agents from Letta (.af files)",
    )
    lc = Path(env.get("LETTA_LOCAL_BACKEND_DIR") or letta / "lc-local-backend")
    f.folder(lc, "default")

    # folders of sources the user opened before
    for opened in opened_before:
        folder = opened if opened.is_dir() else opened.parent
        if f.folder(opened, "opened before") or f.folder(folder, "opened before"):
            continue
        _scan(f, folder)

    f.found.sort(key=lambda x: (not x.readable, x.where != "default"))
    return f.found


def _scan(f: _Finder, folder: Path) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)[:MAX_ENTRIES]
    except OSError:
        return
    if f.identified >= MAX_IDENTIFIED:
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                f.folder(path, "opened before")
            elif entry.is_file(follow_symlinks=False) and entry.name.endswith(
                (".db", ".sqlite", ".sqlite3")
            ):
                f.file(path, "opened before")
        except OSError:
            continue
