"""Where the store lives, how it is opened, and the errors it reports.

``open_store(path)`` creates the file (owner-only), applies the pragmas (WAL, foreign keys,
synchronous normal, a busy timeout), migrates an older schema after copying the file aside, and
refuses a store written by a newer version or a file that is not a store.

While an import holds the write lock, ``<store>.lock-info`` (owner-only) says who holds it
(program, pid, since when), so a writer that finds the store locked can say what holds it
(SQLite itself cannot). A store found damaged is never written again through the same
``Store``; ``move_aside`` renames a damaged store (never deletes or overwrites anything) so a new
one can be started.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shlex
import shutil
import socket
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import peewee
from peewee import SqliteDatabase
from platformdirs import user_data_dir

from wizard import APP_NAME
from wizard.core.collections import MAIN, in_order
from wizard.core.names import ErrorKind
from wizard.store import entries, migrations
from wizard.store.models import OTHER_SPEC, SEARCH_VERSION, SPECS, db

DB_ENV = "AGENTMEMORY_WIZARD_DB"
BUSY_TIMEOUT_ENV = "AGENTMEMORY_WIZARD_BUSY_TIMEOUT_MS"
DEFAULT_BUSY_TIMEOUT_MS = 5000
FILE_NAME = "store.sqlite"
SQLITE_HEADER = b"SQLite format 3\x00"
LOCK_INFO_SUFFIX = ".lock-info"
DAMAGED_SUFFIX = ".damaged-"
COMPANION_SUFFIXES = ("-wal", "-shm", "-journal", LOCK_INFO_SUFFIX)  # files beside the store


class StoreError(Exception):
    """A problem with the store file itself; ``kind`` is an ErrorKind: locked, readonly, full,
    newer-schema, corrupt or io."""

    def __init__(self, kind: ErrorKind | str, message: str, path: Path | str | None = None) -> None:
        super().__init__(message)
        self.kind = ErrorKind(kind)
        self.message = message
        self.path = Path(path) if path is not None else None  # the store file concerned

    def __str__(self) -> str:
        return self.message


def resolve_db_path(explicit: str | os.PathLike | None = None) -> Path:
    """``--db`` > env ``AGENTMEMORY_WIZARD_DB`` > the user data directory's store file."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(DB_ENV)
    if env:
        return Path(env).expanduser()
    return Path(user_data_dir(APP_NAME, appauthor=False)) / FILE_NAME


def busy_timeout_ms() -> int:
    """The busy timeout: env ``AGENTMEMORY_WIZARD_BUSY_TIMEOUT_MS`` or 5 s."""
    try:
        value = int(os.environ.get(BUSY_TIMEOUT_ENV, ""))
    except ValueError:
        return DEFAULT_BUSY_TIMEOUT_MS
    return max(0, value)


def translate(exc: BaseException, path: Path | str) -> StoreError | None:
    """The StoreError an SQLite or OS error means, or None when it is not a store problem."""
    if isinstance(exc, StoreError):
        return exc
    text = str(exc).lower()
    if "no transaction is active" in text:
        # SQLite rolls a transaction back by itself after some errors (a full disk, I/O); the
        # ROLLBACK that follows then fails and hides the real error: report that one.
        return _translate_context(exc, path)
    if isinstance(exc, (sqlite3.Error, peewee.DatabaseError, peewee.InterfaceError)):
        if "locked" in text or "busy" in text:
            return StoreError(ErrorKind.LOCKED, locked_message(path), path)
        if "readonly" in text or "read-only" in text:
            return StoreError(ErrorKind.READONLY, _readonly_message(path), path)
        if "unable to open" in text and _folder_not_writable(path):
            return StoreError(ErrorKind.READONLY, _readonly_message(path), path)
        if "disk is full" in text or "database or disk is full" in text:
            return StoreError(
                ErrorKind.FULL,
                f"the disk holding the store {path} is full; nothing was written. Free some "
                "space and try again",
                path,
            )
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return StoreError(
                ErrorKind.CORRUPT,
                f"the store {path} is damaged or not an agentmemory-wizard store; it was left "
                "untouched",
                path,
            )
        if "unable to open" in text or "disk i/o" in text:
            return StoreError(
                ErrorKind.IO, f"the store {path} cannot be read or written: {exc}", path
            )
        return None
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return StoreError(ErrorKind.FULL, f"the disk holding the store {path} is full", path)
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return StoreError(
                ErrorKind.READONLY, f"the store {path} cannot be written: {exc.strerror}", path
            )
        return StoreError(ErrorKind.IO, f"the store {path} cannot be read or written: {exc}", path)
    return None


def _translate_context(exc: BaseException, path: Path | str) -> StoreError | None:
    seen: list[BaseException] = [exc]
    todo = [exc.__cause__, exc.__context__]
    while todo:
        e = todo.pop(0)
        if e is None or any(e is s for s in seen) or len(seen) > 20:
            continue
        seen.append(e)
        if "no transaction is active" not in str(e).lower():
            err = translate(e, path)
            if err is not None:
                return err
        todo += [e.__cause__, e.__context__]
    return None


def _folder_not_writable(path: Path | str) -> bool:
    folder = Path(path).parent
    return folder.is_dir() and not os.access(folder, os.W_OK)


def _readonly_message(path: Path | str) -> str:
    what = "its folder is" if _folder_not_writable(path) else "the file is"
    return f"the store {path} is read-only ({what} not writable); nothing was written"


# ---------------------------------------------------------------- who holds the write lock


def lock_info_path(path: Path | str) -> Path:
    return Path(str(path) + LOCK_INFO_SUFFIX)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def read_lock_info(path: Path | str) -> dict | None:
    """Who is writing to the store (``{pid, program, since, host}``), or None when nobody
    announced it or the announcement is stale (its process is gone)."""
    try:
        info = json.loads(lock_info_path(path).read_text(encoding="utf-8"))
        pid = int(info["pid"])
        program = str(info["program"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if info.get("host") in (None, socket.gethostname()) and not _pid_alive(pid):
        return None
    since = str(info.get("since") or "")
    return {"pid": pid, "program": program, "since": since, "host": info.get("host")}


def _since_text(since: str) -> str:
    try:
        return datetime.fromisoformat(since).strftime("%H:%M")
    except ValueError:
        return since or "a moment ago"


def locked_message(path: Path | str) -> str:
    """The 'store is locked' message, saying what holds the lock when the holder announced it."""
    info = read_lock_info(path)
    if info is None:
        return (
            f"the store {path} is locked by another process (another import or the wizard "
            "window may be writing to it); try again when it has finished"
        )
    return (
        f"the store {path} is locked: it is being written by {info['program']} (pid "
        f"{info['pid']}, since {_since_text(info['since'])}); try again when it has finished"
    )


def _write_owner_only(path: Path, text: str) -> None:
    """Write ``path`` whole through a new temporary file: created exclusively, never through a
    link, never truncating a file that is there (a stale one of this pid is removed first,
    which removes a link itself, never its target)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(tmp, flags, 0o600)
    except FileExistsError:
        tmp.unlink()
        fd = os.open(tmp, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    os.replace(tmp, path)


def announce_writer(path: Path | str, program: str, attempt: dict | None = None) -> Path | None:
    """Write the lock-info file (call it while holding the write lock). Best effort."""
    info = {
        "pid": os.getpid(),
        "program": program,
        "since": datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": socket.gethostname(),
    }
    if attempt is not None:
        info["attempt"] = attempt
    target = lock_info_path(path)
    try:
        _write_owner_only(target, json.dumps(info))
    except OSError:
        return None
    return target


def withdraw_writer(info_path: Path | None) -> None:
    """Remove the lock-info file written by ``announce_writer`` (still holding the lock)."""
    if info_path is not None:
        with contextlib.suppress(OSError):
            info_path.unlink()


CLAIM_BUSY_MS = 100  # opening a store never waits long to record a dead writer's attempt


def record_interrupted_attempt(store: Store) -> None:
    """Audit the import of a writer that died with its transaction open, as "interrupted".

    The claim is made holding the write lock: writers create the lock-info only while they
    hold it and remove it before they let go, so one seen under the lock belongs to a dead
    writer. The file goes only once the entry is committed (and a repeat is recognised); on any
    failure (locked, read-only, damaged) it stays for the next opener. Best effort: never
    raises."""
    target = lock_info_path(store.path)
    if not target.exists():
        return
    db = store.database
    try:
        db.execute_sql(f"PRAGMA busy_timeout = {CLAIM_BUSY_MS}")
        with db.atomic("IMMEDIATE"):
            text = target.read_text(encoding="utf-8")
            info = json.loads(text)
            attempt = info.get("attempt")
            if (
                not isinstance(attempt, dict)
                or info.get("host") not in (None, socket.gethostname())
                or _pid_alive(int(info["pid"]))
            ):
                return
            entries.record_interrupted(db, attempt)
        if target.read_text(encoding="utf-8") == text:
            target.unlink()
    except Exception:  # best effort: the announcement stays for the next opener
        return
    finally:
        with contextlib.suppress(Exception):
            db.execute_sql(f"PRAGMA busy_timeout = {busy_timeout_ms()}")


# ---------------------------------------------------------------- a damaged store


def move_aside(path: Path | str) -> Path:
    """Rename a damaged store (with its -wal/-shm/-journal files) to
    ``<name>.damaged-<timestamp>`` beside it, so a new store can be started. Nothing is deleted
    or overwritten; returns the new name. Raises StoreError (kind io/readonly) when it cannot."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = path.with_name(f"{path.name}{DAMAGED_SUFFIX}{stamp}")
    target, n = base, 1
    while any(
        Path(str(target) + s).exists() or Path(str(target) + s).is_symlink()
        for s in ("", *COMPANION_SUFFIXES)
    ):
        n += 1
        target = base.with_name(f"{base.name}-{n}")
    with store_errors(path):
        os.rename(path, target)
        for suffix in COMPANION_SUFFIXES:
            companion = Path(str(path) + suffix)
            if companion.exists():
                os.rename(companion, Path(str(target) + suffix))
    return target


def move_aside_hint(path: Path | str) -> str:
    """The shell command that moves a damaged store aside (the CLI's suggestion)."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = f"{path}{DAMAGED_SUFFIX}{stamp}"
    extra = [s for s in COMPANION_SUFFIXES if Path(str(path) + s).exists()]
    tail = f" (and its {', '.join(extra)} files the same way)" if extra else ""
    return (
        "to keep it and start a new store, move it aside: "
        f"mv {shlex.quote(str(path))} {shlex.quote(target)}{tail}"
    )


@contextlib.contextmanager
def store_errors(path: Path | str, os_errors: bool = True) -> Iterator[None]:
    """Raise SQLite errors (and OS errors, unless ``os_errors`` is False) as StoreError."""
    caught: tuple[type[BaseException], ...] = (sqlite3.Error, peewee.PeeweeException)
    if os_errors:
        caught += (OSError,)
    try:
        yield
    except StoreError:
        raise
    except caught as exc:
        err = translate(exc, path)
        if err is None:
            raise
        raise err from exc


class Store:
    """An open store. Usable from any thread: peewee keeps one connection per thread."""

    def __init__(self, path: Path, database: SqliteDatabase, backup: Path | None = None) -> None:
        self.path = path
        self.database = database
        self.backup = backup  # the copy made before a migration, if one ran
        self.program = APP_NAME  # who writes: named in the lock-info file (the CLI, the window)
        self.damaged: str | None = None  # set once SQLite reported the file damaged

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close this thread's connection."""
        if not self.database.is_closed():
            self.database.close()

    @contextlib.contextmanager
    def errors(self, os_errors: bool = True) -> Iterator[None]:
        """Raise SQLite (and OS) errors as StoreError naming this store.

        Once the store has been found damaged, nothing more goes through it: every later use
        is refused at once (no audit entry is appended to a damaged file)."""
        if self.damaged is not None:
            raise StoreError(
                ErrorKind.CORRUPT,
                f"the store {self.path} was found damaged; nothing more is written to it",
                self.path,
            )
        try:
            with store_errors(self.path, os_errors):
                yield
        except StoreError as exc:
            if exc.kind == ErrorKind.CORRUPT:
                self.damaged = exc.message
            raise

    @contextlib.contextmanager
    def write_transaction(self, attempt: dict | None = None) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` ... commit (or roll back), with the lock-info file present while
        the write lock is held (written after the lock is taken, removed before it is let go,
        so it only ever describes the current holder). ``attempt``: the audit fields to record
        as "interrupted" if the process dies meanwhile (see ``open_store``)."""
        with self.database.atomic("IMMEDIATE"):
            info = announce_writer(self.path, self.program, attempt)
            try:
                yield
            finally:
                withdraw_writer(info)

    @property
    def schema_version(self) -> int:
        with self.errors():
            return migrations.current_version(self.database) or 0

    def counts(self) -> dict[str, int]:
        """Records per collection: every main collection, then the others that have records."""
        out: dict[str, int] = {}
        with self.errors():
            for c in MAIN:
                spec = SPECS[c.name]
                row = self.database.execute_sql(f'SELECT count(*) FROM "{spec.table}"').fetchone()
                out[c.name] = int(row[0])
            cur = self.database.execute_sql(
                f'SELECT collection, count(*) FROM "{OTHER_SPEC.table}" GROUP BY collection'
            )
            others = dict(cur.fetchall())
        for name in in_order(others):
            out[name] = int(others[name])
        return out


def search_ready(database: SqliteDatabase) -> bool:
    """Whether the full-text index is in step with the records (so writes keep it so); when it
    is not, ``store.browse.index_steps`` builds it."""
    row = database.execute_sql("SELECT version FROM search_index WHERE id = 1").fetchone()
    return row is not None and row[0] == SEARCH_VERSION


STORE_FILES = ("", "-wal", "-shm", "-journal", LOCK_INFO_SUFFIX)


def _owner_only(path: Path) -> None:
    """The store and its companions readable by their owner only, whatever made them (an empty
    file someone created, a link to the store: its target)."""
    for suffix in STORE_FILES:
        part = Path(f"{path}{suffix}")
        try:
            if part.exists() and part.stat().st_mode & 0o077:
                os.chmod(part, 0o600)
        except OSError:
            continue


def check_store_path(path: Path) -> None:
    """SQLite's special names are never a store: an empty name and ``:memory:`` are not files,
    and ``file:`` names are URIs with options."""
    text = str(path)
    if text.strip() in ("", ".", ":memory:") or text.startswith("file:"):
        raise StoreError(
            ErrorKind.IO,
            f"{text!r} is not a store file: give the path of a file (e.g. ./store.sqlite)",
            None,
        )


@contextlib.contextmanager
def scratch_store() -> Iterator[Store]:
    """An empty store in a private temporary folder, removed afterwards: what a dry run plans
    against when the store it was asked about does not exist yet (a dry run creates nothing)."""
    folder = Path(tempfile.mkdtemp(prefix="agentmemory-wizard-dry-run-"))
    try:
        with open_store(folder / "store.sqlite") as store:
            yield store
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _create_owner_only(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, 0o600)


def _check_header(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(len(SQLITE_HEADER))
    if head and head != SQLITE_HEADER:
        raise StoreError(
            ErrorKind.CORRUPT,
            f"{path} is not an agentmemory-wizard store (not an SQLite database); it was left "
            "untouched",
            path,
        )


def make_database(path: Path, *, read_only_media: bool = False) -> SqliteDatabase:
    timeout = busy_timeout_ms()
    if read_only_media:
        # nothing can be written beside the file (no -shm, no lock): read it as it is
        return SqliteDatabase(
            f"{path.absolute().as_uri()}?mode=ro&immutable=1",
            uri=True,
            pragmas={"foreign_keys": 1},
            check_same_thread=False,
        )
    return SqliteDatabase(
        str(path),
        pragmas={
            "page_size": 16384,  # new stores: much less time and I/O than 4096 (RESULTS.md)
            "journal_mode": "wal",
            "foreign_keys": 1,
            "synchronous": "normal",
            "busy_timeout": timeout,
        },
        timeout=timeout / 1000,
        # peewee still gives every thread a connection of its own; an import hands its own to
        # the one helper thread that keeps the full-text index, never using it meanwhile
        # (importer._Indexer)
        check_same_thread=False,
    )


def _open_read_only_media(path: Path) -> Store:
    with store_errors(path):
        if not path.is_file():
            raise StoreError(ErrorKind.IO, f"the store {path} is not a regular file", path)
        _check_header(path)
        database = make_database(path, read_only_media=True)
        try:
            database.connect(reuse_if_open=True)
            version = migrations.current_version(database)
            if version != migrations.SCHEMA_VERSION:
                raise StoreError(
                    ErrorKind.READONLY,
                    f"the store {path} is on read-only media and was written by "
                    f"{'an older' if (version or 0) < migrations.SCHEMA_VERSION else 'a newer'} "
                    "version: copy it to a writable folder to read it",
                    path,
                )
        except BaseException:
            database.close()
            raise
    db.initialize(database)
    return Store(path, database, None)


def _on_read_only_media(path: Path) -> bool:
    """Whether nothing can be written where the store is (a read-only disk or folder)."""
    return path.exists() and not os.access(path.parent, os.W_OK)


def open_store(path: str | os.PathLike | None = None, *, readonly: bool = False) -> Store:
    """Open (creating and migrating if needed) the store at ``path`` (default: resolve_db_path).

    ``readonly``: the caller only reads (stats, audit, export); a store on read-only media is
    then read as it is (one needing an upgrade is refused: it cannot be migrated there).
    Raises StoreError(kind, message), kind in locked, readonly, full, newer-schema, corrupt, io.
    """
    path = resolve_db_path(path) if path is None else Path(path).expanduser()
    check_store_path(path)
    if readonly and _on_read_only_media(path):
        return _open_read_only_media(path)
    with store_errors(path):
        if path.exists():
            if path.is_dir():
                raise StoreError(ErrorKind.IO, f"the store {path} is a directory, not a file", path)
            if not path.is_file():
                raise StoreError(ErrorKind.IO, f"the store {path} is not a regular file", path)
            _check_header(path)
            _owner_only(path)
        else:
            _create_owner_only(path)
        database = make_database(path)
        try:
            database.connect(reuse_if_open=True)
            version = migrations.current_version(database)
            if version is None:
                raise StoreError(
                    ErrorKind.CORRUPT,
                    f"{path} is an SQLite database but not an agentmemory-wizard store; it was "
                    "left untouched",
                    path,
                )
            if version > migrations.SCHEMA_VERSION:
                raise StoreError(
                    ErrorKind.NEWER_SCHEMA,
                    f"the store {path} was written by a newer version of {APP_NAME} (schema "
                    f"{version}; this version reads schema {migrations.SCHEMA_VERSION} and "
                    "older)",
                    path,
                )
            backup = None
            if version < migrations.SCHEMA_VERSION:
                backup = migrations.migrate_store(database, path, version)
        except BaseException:
            database.close()
            raise
    db.initialize(database)
    store = Store(path, database, backup)
    record_interrupted_attempt(store)
    return store
