"""Copying a source's files into a private folder without changing them (docs/SOURCES.md).

The user's files are only ever read: each one is opened read-only, checked to be a regular
file before a byte is read, and copied with its SQLite companions (``-journal``, ``-wal``,
``-shm``) into a folder only this user can open. Nothing takes a lock on them, so the app that
owns them is never disturbed. A file that changes while it is copied, or a database with a
rollback journal beside it (its app is in the middle of a write), is copied again after a short
pause; if it stays busy the copy is refused as in use by its program.

The SHA-256 the audit records covers the bytes copied, file by file in the order given
(sorted relative paths): for a single file it is that file's own SHA-256; for several, each
file's relative path, size and bytes go into it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from wizard.core.problems import Cancelled, Code, InputRefused

COMPANIONS = ("-journal", "-wal", "-shm")
READ_BYTES = 1024 * 1024
BUSY_PAUSES = (0.1, 0.2, 0.4, 0.8)  # seconds between copies of a file that is being written
ROOM_MARGIN = 16 * 1024 * 1024  # free space kept beyond the copy
PREFIX = "agentmemory-wizard-source-"
MIB = 1024 * 1024


@dataclass
class Copied:
    """The private copy of a source's files: ``root`` mirrors the source's relative paths."""

    root: Path
    files: list[str]  # relative paths read, companions included, in the hashed order
    size: int  # bytes read
    sha256: str

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _refuse_unreadable(path: Path, exc: OSError) -> InputRefused:
    if isinstance(exc, FileNotFoundError):
        return InputRefused(f"{path} does not exist", code=Code.FILE_NOT_FOUND)
    if isinstance(exc, PermissionError):
        return InputRefused(f"{path} cannot be read (permission denied)", code=Code.FILE_UNREADABLE)
    return InputRefused(f"{path} cannot be read: {exc.strerror or exc}", code=Code.FILE_UNREADABLE)


def regular_size(path: Path) -> int:
    """The size of a regular file; InputRefused for anything else (a pipe, a device, a folder),
    decided from its metadata before anything is opened."""
    try:
        st = path.stat()
    except OSError as exc:
        raise _refuse_unreadable(path, exc) from None
    if not stat.S_ISREG(st.st_mode):
        raise InputRefused(f"{path} is not a regular file", code=Code.NOT_A_FILE)
    return st.st_size


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a file; False when it cannot even be looked at (a name too long
    for the file system once a suffix is added, a loop of links...)."""
    try:
        return path.is_file()
    except OSError:
        return False


def _with_companions(root: Path, rels: list[str]) -> list[str]:
    out: list[str] = []
    for rel in rels:
        out.append(rel)
        for suffix in COMPANIONS:
            if _is_file(root / (rel + suffix)):
                out.append(rel + suffix)
    return sorted(set(out))


def _snapshot(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")  # a rollback journal that is live


def _hot_journals(root: Path, rels: list[str]) -> dict[str, tuple[int, int] | None]:
    """The rollback journals beside the databases that hold a live header (a write is under
    way, or its writer died), with their size and time. A journal kept with a zeroed header
    (``journal_mode=PERSIST``, ``TRUNCATE``) is not live."""
    hot: dict[str, tuple[int, int] | None] = {}
    for rel in rels:
        if rel.endswith(COMPANIONS):
            continue
        journal = root / (rel + "-journal")
        try:
            if not stat.S_ISREG(journal.stat().st_mode):
                continue
            with open(journal, "rb") as f:
                if f.read(8) != JOURNAL_MAGIC:
                    continue
        except OSError:
            continue
        hot[rel] = _snapshot(journal)
    return hot


def recover_copy(copy_root: Path, rels: list[str]) -> None:
    """Roll back, in the private copy, a write its program left unfinished (a live journal
    that did not change while we waited: its writer died). SQLite does this on the first read
    of a database opened for writing; the copy is ours, so it may."""
    import sqlite3

    for rel in rels:
        journal = copy_root / (rel + "-journal")
        if rel.endswith(COMPANIONS) or not _is_file(journal):
            continue
        try:
            conn = sqlite3.connect(copy_root / rel)
            try:
                conn.execute("PRAGMA trusted_schema = OFF")
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                conn.close()
        except sqlite3.DatabaseError:
            continue  # the reader says what is wrong with it


def copy_source(
    root: Path,
    rels: list[str],
    *,
    program: str,
    cancel: object = None,
    max_bytes: int | None = None,
    shown: Path | None = None,
) -> Copied:
    """Copy ``rels`` (relative to ``root``) with their companions into a new private folder.

    ``program`` names who owns the files, for the "in use" refusal. Raises InputRefused when a
    file is missing, not a regular file, unreadable, busy, or when the temporary folder has no
    room for the copy."""
    rels = _with_companions(root, rels)
    total = 0
    for rel in rels:
        total += regular_size(root / rel)
    if max_bytes is not None and total > max_bytes:
        raise InputRefused(
            f"{root} holds {total / MIB:,.1f} MB to read; sources up to {max_bytes / MIB:,.0f} MB "
            "are accepted (the limit can be raised in the settings, or with --max-size)",
            code=Code.SIZE_LIMIT,
        )
    tmp = Path(tempfile.gettempdir())
    try:
        free = shutil.disk_usage(tmp).free
    except OSError:
        free = None
    if free is not None and free < total + ROOM_MARGIN:
        raise InputRefused(
            f"the temporary folder {tmp} has {free // (1024 * 1024):,} MB free; copying "
            f"{program}'s files safely needs {(total + ROOM_MARGIN) // (1024 * 1024):,} MB",
            code=Code.NO_TEMP_SPACE,
        )
    dest = Path(tempfile.mkdtemp(prefix=PREFIX))  # 0700: only this user can open it
    try:
        first_hot: dict[str, tuple[int, int] | None] | None = None
        changed = False
        for pause in (*BUSY_PAUSES, None):
            for entry in list(dest.iterdir()):  # what an earlier attempt copied
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            copied = _copy_once(root, rels, dest, cancel)
            hot = _hot_journals(root, rels)
            if copied is not None and not hot:
                return copied
            changed = changed or copied is None or (first_hot is not None and hot != first_hot)
            first_hot = hot if first_hot is None else first_hot
            if pause is None:
                break
            time.sleep(pause)
        if copied is not None and not changed:  # a writer that died mid-write
            recover_copy(dest, rels)
            return copied
        raise InputRefused(
            f"{shown or root} is in use by {program}: it is being written right now. Close "
            f"{program} and try again",
            code=Code.SOURCE_BUSY,
        )
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def _copy_once(root: Path, rels: list[str], dest: Path, cancel: object) -> Copied | None:
    """One copy of every file; None when one of them changed while it was copied."""
    digest = hashlib.sha256()
    single = len(rels) == 1
    size = 0
    for rel in rels:
        src = root / rel
        before = _snapshot(src)
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
        try:
            fd = os.open(src, flags)
        except OSError as exc:
            raise _refuse_unreadable(src, exc) from None
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise InputRefused(f"{src} is not a regular file", code=Code.NOT_A_FILE)
            length = os.fstat(f.fileno()).st_size
            if not single:
                digest.update(rel.encode("utf-8", "surrogateescape") + b"\0")
                digest.update(str(length).encode() + b"\0")
            out_fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(out_fd, "wb") as out:
                while True:
                    if callable(cancel) and cancel():
                        raise Cancelled()
                    try:
                        chunk = f.read(READ_BYTES)
                    except OSError as exc:
                        raise _refuse_unreadable(src, exc) from None
                    if not chunk:
                        break
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
        if _snapshot(src) != before:
            return None
    return Copied(dest, rels, size, digest.hexdigest())


def sweep_stale() -> None:
    """Remove copies a killed process left in the temporary folder (older than a day)."""
    tmp = Path(tempfile.gettempdir())
    cutoff = time.time() - 24 * 3600
    try:
        entries = list(tmp.glob(PREFIX + "*"))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir() and not entry.is_symlink() and entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue
