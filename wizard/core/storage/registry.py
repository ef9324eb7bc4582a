"""Every storage layout the wizard reads."""

from __future__ import annotations

from wizard.core.storage import (
    FolderLayout,
    Layout,
    SqliteLayout,
    letta,
    letta_code,
    mem0,
    openmemory,
)

LAYOUTS: tuple[Layout, ...] = mem0.LAYOUTS + openmemory.LAYOUTS + letta.LAYOUTS + letta_code.LAYOUTS
SQLITE_LAYOUTS = tuple(x for x in LAYOUTS if isinstance(x, SqliteLayout))
FOLDER_LAYOUTS = tuple(x for x in LAYOUTS if isinstance(x, FolderLayout))
