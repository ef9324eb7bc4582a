"""Where the store lives, how it is opened, and the errors it reports.

``open_store(path)`` creates the file (owner-only), applies the pragmas (WAL, foreign keys,
synchronous normal, a busy timeout), migrates an older schema after copying the file aside, and
refuses a store written by a newer version or a file that is not a store.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import peewee
from peewee import SqliteDatabase
from platformdirs import user_data_dir

from wizard import APP_NAME
from wizard.core.collections import MAIN, OTHER
from wizard.store import migrations
from wizard.store.models import OTHER_SPEC, SPECS, db

DB_ENV = "AGENTMEMORY_WIZARD_DB"
BUSY_TIMEOUT_ENV = "AGENTMEMORY_WIZARD_BUSY_TIMEOUT_MS"
DEFAULT_BUSY_TIMEOUT_MS = 5000
FILE_NAME = "store.sqlite"
SQLITE_HEADER = b"SQLite format 3\x00"

STORE_ERROR_KINDS = ("locked", "readonly", "full", "newer-schema", "corrupt", "io")


class StoreError(Exception):
    """A problem with the store file itself; ``kind`` is one of ``STORE_ERROR_KINDS``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

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
    if isinstance(exc, (sqlite3.Error, peewee.DatabaseError, peewee.InterfaceError)):
        if "locked" in text or "busy" in text:
            return StoreError(
                "locked",
                f"the store {path} is locked by another process (another import or the wizard "
                "window may be writing to it); try again when it has finished",
            )
        if "readonly" in text or "read-only" in text:
            return StoreError(
                "readonly", f"the store {path} is read-only; choose a writable file with --db"
            )
        if "disk is full" in text or "database or disk is full" in text:
            return StoreError(
                "full",
                f"the disk holding the store {path} is full; nothing was written. Free some "
                "space and try again",
            )
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return StoreError(
                "corrupt",
                f"the store {path} is damaged or not an agentmemory-wizard store; it was left "
                "untouched",
            )
        if "unable to open" in text or "disk i/o" in text:
            return StoreError("io", f"the store {path} cannot be read or written: {exc}")
        return None
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return StoreError("full", f"the disk holding the store {path} is full")
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return StoreError("readonly", f"the store {path} cannot be written: {exc.strerror}")
        return StoreError("io", f"the store {path} cannot be read or written: {exc}")
    return None


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

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close this thread's connection."""
        if not self.database.is_closed():
            self.database.close()

    def errors(self, os_errors: bool = True) -> contextlib.AbstractContextManager[None]:
        """Raise SQLite (and OS) errors as StoreError naming this store."""
        return store_errors(self.path, os_errors)

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
        for c in OTHER:
            if c.name in others:
                out[c.name] = int(others.pop(c.name))
        for name in sorted(others):
            out[name] = int(others[name])
        return out


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
            "corrupt",
            f"{path} is not an agentmemory-wizard store (not an SQLite database); it was left "
            "untouched. Choose another file with --db",
        )


def make_database(path: Path) -> SqliteDatabase:
    timeout = busy_timeout_ms()
    return SqliteDatabase(
        str(path),
        pragmas={
            "journal_mode": "wal",
            "foreign_keys": 1,
            "synchronous": "normal",
            "busy_timeout": timeout,
        },
        timeout=timeout / 1000,
    )


def open_store(path: str | os.PathLike | None = None) -> Store:
    """Open (creating and migrating if needed) the store at ``path`` (default: resolve_db_path).

    Raises StoreError(kind, message), kind in locked, readonly, full, newer-schema, corrupt, io.
    """
    path = resolve_db_path(path) if path is None else Path(path).expanduser()
    with store_errors(path):
        if path.exists():
            if path.is_dir():
                raise StoreError("io", f"the store {path} is a directory, not a file")
            _check_header(path)
        else:
            _create_owner_only(path)
        database = make_database(path)
        try:
            database.connect(reuse_if_open=True)
            version = migrations.current_version(database)
            if version is None:
                raise StoreError(
                    "corrupt",
                    f"{path} is an SQLite database but not an agentmemory-wizard store; it was "
                    "left untouched. Choose another file with --db",
                )
            if version > migrations.SCHEMA_VERSION:
                raise StoreError(
                    "newer-schema",
                    f"the store {path} was written by a newer version of {APP_NAME} (schema "
                    f"{version}; this version reads schema {migrations.SCHEMA_VERSION} and "
                    "older). Update the app, or choose another store with --db",
                )
            backup = None
            if version < migrations.SCHEMA_VERSION:
                backup = migrations.migrate_store(database, path, version)
        except BaseException:
            database.close()
            raise
    db.initialize(database)
    return Store(path, database, backup)
