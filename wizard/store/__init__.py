"""The local SQLite store: opening and migrating it, importing into it, its audit log, export."""

from __future__ import annotations

from wizard.store.database import Store, StoreError, open_store, resolve_db_path

__all__ = ["Store", "StoreError", "open_store", "resolve_db_path"]
