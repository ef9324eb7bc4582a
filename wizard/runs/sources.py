"""The sources run: what memory stores are on this computer (``agentmemory-wizard sources``,
and the list on the wizard's first page). It only looks: it writes nothing, not even an
audit entry."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from wizard.core.discovery import Found, discover
from wizard.store.audit import opened_sources


def find_sources(
    db_path: str | os.PathLike[str] | None = None, recent: Iterable[str] = ()
) -> list[Found]:
    """Stores at the default places, and in the folders of sources opened before: those the
    store's audit names (read-only) and ``recent`` (the wizard's recent files)."""
    opened: list[Path] = []
    seen: set[str] = set()
    places = [*recent, *(opened_sources(db_path) if db_path is not None else [])]
    for place in places:
        if place and place not in seen:
            seen.add(place)
            opened.append(Path(place))
    return discover(opened_before=opened)
