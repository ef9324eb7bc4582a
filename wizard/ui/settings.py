"""What the app remembers between runs (QSettings, INI format in the user's config directory):
window geometry, the last directory, recent files, the last strategy, the input size limit and
the agentmemory server last delivered to (its URL only: the secret is never saved).

Recent files and the last strategy belong to a store: ``Settings.for_store(db_path)`` keeps them
under a group of that store's own (``stores/<digest of its path>/``); a Settings without a store
keeps them per user, as before. Replace is never remembered: it deletes records, so it is never
preselected for the next file.
"""

from __future__ import annotations

import hashlib
import json
import os

from PySide6.QtCore import QByteArray, QSettings

from wizard.core.names import Strategy
from wizard.remote.client import DEFAULT_URL

ORGANIZATION = "agentmemory"
APPLICATION = "agentmemory-wizard"
MAX_RECENT = 8
MIB = 1024**2
DEFAULT_MAX_INPUT_MB = 2048  # 2 GiB after decompression (FORMATS.md section 7)
MAX_INPUT_MB_RANGE = (1, 1024 * 1024)  # 1 MB to 1 TB


# The strategies the next file may start with (never one that deletes records).
REMEMBERED_STRATEGIES = tuple(s for s in Strategy if not s.deletes_all)


def store_key(db_path: str | os.PathLike[str]) -> str:
    """The settings group of one store: a digest of its absolute path (a path holds characters
    QSettings keys cannot)."""
    path = os.path.abspath(os.path.expanduser(os.fspath(db_path)))
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:16]


class Settings:
    """A thin typed wrapper over QSettings. Pass a QSettings to use another store (tests);
    pass ``store`` (a store's path) to keep recent files and the last strategy for that store."""

    def __init__(
        self, qsettings: QSettings | None = None, *, store: str | os.PathLike[str] | None = None
    ) -> None:
        self._s = qsettings or QSettings(
            QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION
        )
        self._store = (
            None if store is None else os.path.abspath(os.path.expanduser(os.fspath(store)))
        )

    def for_store(self, db_path: str | os.PathLike[str]) -> Settings:
        """The same settings, with recent files and the last strategy of the store at
        ``db_path`` (window geometry, the size limit and the rest stay per user)."""
        return Settings(self._s, store=db_path)

    @property
    def store(self) -> str | None:
        """The store whose recent files and strategy these are (None: per user)."""
        return self._store

    @property
    def qsettings(self) -> QSettings:
        return self._s

    def _key(self, per_user: str, per_store: str) -> str:
        if self._store is None:
            return per_user
        return f"stores/{store_key(self._store)}/{per_store}"

    def _read(self, per_user: str, per_store: str, default: object) -> object:
        """A per-store value; a store with none yet shows what earlier versions kept per user
        (their recent files and strategy are not lost on upgrading)."""
        key = self._key(per_user, per_store)
        if key != per_user and not self._s.contains(key):
            key = per_user
        return self._s.value(key, default)

    def _mark_store(self) -> None:
        """Name the store beside its group, so that a person reading the INI file knows it."""
        if self._store is not None:
            self._s.setValue(f"stores/{store_key(self._store)}/path", self._store)

    def sync(self) -> None:
        self._s.sync()

    # -- geometry --------------------------------------------------------------------------------
    def geometry(self, key: str) -> QByteArray | None:
        value = self._s.value(f"geometry/{key}")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_geometry(self, key: str, value: QByteArray) -> None:
        self._s.setValue(f"geometry/{key}", value)

    # -- last directory --------------------------------------------------------------------------
    def last_dir(self) -> str:
        value = self._s.value("files/lastDir", "")
        return value if isinstance(value, str) and os.path.isdir(value) else ""

    def set_last_dir(self, path: str) -> None:
        self._s.setValue("files/lastDir", path)

    # -- recent files ----------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = self._read("files/recent", "recent", [])
        if isinstance(value, str):  # QSettings returns a one-item list as a plain string
            value = [value]
        if not isinstance(value, list):
            return []
        return [str(v) for v in value if v][:MAX_RECENT]

    def add_recent_file(self, path: str, vectors: str | None = None) -> list[str]:
        """``path`` first in the recent list; ``vectors`` is the Qdrant folder a mem0
        history.db was read with (kept so that the recent entry reads both again)."""
        path = os.path.abspath(path)
        recent = [p for p in self.recent_files() if p != path]
        recent.insert(0, path)
        recent = recent[:MAX_RECENT]
        pairs = {k: v for k, v in self._recent_vectors().items() if k in recent and k != path}
        if vectors:
            pairs[path] = os.path.abspath(vectors)
        self._set_recent(recent, pairs)
        self.set_last_dir(os.path.dirname(path))
        return recent

    def forget_recent_file(self, path: str) -> list[str]:
        """Take ``path`` off the recent list (a file that turned out not to be readable as a
        memory export at all: it would only clutter the list)."""
        path = os.path.abspath(path)
        recent = [p for p in self.recent_files() if p != path]
        pairs = {k: v for k, v in self._recent_vectors().items() if k in recent}
        self._set_recent(recent, pairs)
        return recent

    def _set_recent(self, recent: list[str], pairs: dict[str, str]) -> None:
        self._mark_store()
        self._s.setValue(self._key("files/recent", "recent"), recent)
        self._s.setValue(self._key("files/recentVectors", "recentVectors"), json.dumps(pairs))

    def _recent_vectors(self) -> dict[str, str]:
        try:
            value = json.loads(str(self._read("files/recentVectors", "recentVectors", "{}")))
        except ValueError:
            return {}
        if not isinstance(value, dict):
            return {}
        return {str(k): str(v) for k, v in value.items() if isinstance(v, str)}

    def recent_vectors(self, path: str) -> str | None:
        """The Qdrant folder a recent history.db was read with, if any."""
        return self._recent_vectors().get(os.path.abspath(path))

    def clear_recent_files(self) -> None:
        self._mark_store()
        self._s.setValue(self._key("files/recent", "recent"), [])
        self._s.setValue(self._key("files/recentVectors", "recentVectors"), "{}")

    # -- strategy --------------------------------------------------------------------------------
    def last_strategy(self) -> Strategy:
        """Merge or skip, as last chosen (Merge at first). Never Replace, even if an older
        version saved it."""
        value = self._read("import/strategy", "strategy", str(Strategy.MERGE))
        try:
            strategy = Strategy(value)
        except ValueError:
            return Strategy.MERGE
        return strategy if strategy in REMEMBERED_STRATEGIES else Strategy.MERGE

    def set_last_strategy(self, strategy: Strategy) -> None:
        """Remember merge or skip; Replace is not remembered (the one before it stays)."""
        strategy = Strategy(strategy)
        if strategy in REMEMBERED_STRATEGIES:
            self._mark_store()
            self._s.setValue(self._key("import/strategy", "strategy"), str(strategy))

    # -- input size limit ------------------------------------------------------------------------
    def max_input_mb(self) -> int:
        """The largest input file accepted (after decompression), in MB (MiB)."""
        try:
            value = int(str(self._s.value("files/maxInputMB", DEFAULT_MAX_INPUT_MB)))
        except (TypeError, ValueError):
            return DEFAULT_MAX_INPUT_MB
        low, high = MAX_INPUT_MB_RANGE
        return min(max(value, low), high)

    def set_max_input_mb(self, mb: int) -> None:
        low, high = MAX_INPUT_MB_RANGE
        self._s.setValue("files/maxInputMB", min(max(int(mb), low), high))

    def max_input_bytes(self) -> int:
        return self.max_input_mb() * MIB

    # -- delivery --------------------------------------------------------------------------------
    def delivery_url(self) -> str:
        """The agentmemory server last delivered to, else the default (``DEFAULT_URL``)."""
        value = self._s.value("delivery/url", "")
        return value.strip() if isinstance(value, str) and value.strip() else DEFAULT_URL

    def set_delivery_url(self, url: str) -> None:
        """Remember the server's URL (never a secret: the URL is all the settings hold)."""
        self._s.setValue("delivery/url", url.strip())
