"""What the app remembers between runs (QSettings, INI format in the user's config directory):
window geometry, the last directory, recent files, the last strategy, the input size limit and
the agentmemory server last delivered to (its URL only: the secret is never saved)."""

from __future__ import annotations

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


class Settings:
    """A thin typed wrapper over QSettings. Pass a QSettings to use another store (tests)."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self._s = qsettings or QSettings(
            QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION
        )

    @property
    def qsettings(self) -> QSettings:
        return self._s

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
        value = self._s.value("files/recent", [])
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
        self._s.setValue("files/recent", recent)
        pairs = {k: v for k, v in self._recent_vectors().items() if k in recent and k != path}
        if vectors:
            pairs[path] = os.path.abspath(vectors)
        self._s.setValue("files/recentVectors", json.dumps(pairs))
        self.set_last_dir(os.path.dirname(path))
        return recent

    def _recent_vectors(self) -> dict[str, str]:
        try:
            value = json.loads(str(self._s.value("files/recentVectors", "{}")))
        except ValueError:
            return {}
        if not isinstance(value, dict):
            return {}
        return {str(k): str(v) for k, v in value.items() if isinstance(v, str)}

    def recent_vectors(self, path: str) -> str | None:
        """The Qdrant folder a recent history.db was read with, if any."""
        return self._recent_vectors().get(os.path.abspath(path))

    def clear_recent_files(self) -> None:
        self._s.remove("files/recent")
        self._s.remove("files/recentVectors")

    # -- strategy --------------------------------------------------------------------------------
    def last_strategy(self) -> Strategy:
        value = self._s.value("import/strategy", str(Strategy.MERGE))
        try:
            return Strategy(value)
        except ValueError:
            return Strategy.MERGE

    def set_last_strategy(self, strategy: Strategy) -> None:
        self._s.setValue("import/strategy", str(Strategy(strategy)))

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
