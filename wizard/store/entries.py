"""Writing audit entries: the mechanics only (which entries a run writes is the run's policy,
``wizard.runs``). Every function works inside the caller's transaction."""

from __future__ import annotations

import json
from typing import Any

from peewee import SqliteDatabase

from wizard.core.fastjson import escaped_all
from wizard.core.names import Outcome
from wizard.store.models import AuditEntry

JSON_COLUMNS = ("counts", "caps", "options")


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _encode(fields: dict[str, Any]) -> dict[str, Any]:
    """The row of an entry: JSON columns encoded, and every text escaped where it is not valid
    Unicode (a file name that is not UTF-8), so that any run's entry can be written."""
    fields = escaped_all(fields)
    return {k: (_dumps(v) if k in JSON_COLUMNS else v) for k, v in fields.items()}


def write_entry(database: SqliteDatabase, fields: dict[str, Any]) -> int:
    """Insert an entry; returns its id."""
    return int(AuditEntry.insert(_encode(fields)).execute(database))


def finish_entry(database: SqliteDatabase, audit_id: int, **fields: Any) -> None:
    """Update an entry."""
    AuditEntry.update(_encode(fields)).where(AuditEntry.id == audit_id).execute(database)


def record_interrupted(database: SqliteDatabase, attempt: dict[str, Any]) -> None:
    """Write the entry of an import whose process died (its fields as it announced them);
    once: the same attempt is not recorded twice."""
    columns = AuditEntry._meta.fields
    fields = {k: v for k, v in attempt.items() if k in columns and k != "id"}
    fields["outcome"] = str(Outcome.INTERRUPTED)
    seen = AuditEntry.select().where(
        (AuditEntry.outcome == str(Outcome.INTERRUPTED))
        & (AuditEntry.timestamp == fields.get("timestamp"))
        & (AuditEntry.source_sha256 == fields.get("source_sha256"))
    )
    if not seen.exists(database):
        write_entry(database, fields)
