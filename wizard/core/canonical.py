"""Builders for canonical agentmemory records, shared by every source adapter.

The mapping rules of FORMATS.md section 6 that apply to more than one source live here once:
timestamps normalised to UTC ISO-8601, titles cut from the first line of a text, the ``source``
object that keeps everything the canonical fields do not hold, stable ids, and the ``origin``
stamped on imported records.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

from wizard.core.collections import ALWAYS_PRESENT, empty_collection
from wizard.core.versions import NEWEST

TITLE_LIMIT = 80
_ABSENT = (None, "", "None", "null")


def utc_iso(value: Any) -> str | None:
    """An ISO-8601 UTC timestamp (``2025-08-27T13:59:46.727Z``, or with microseconds when the
    source has them: ``…46.727473Z``) or None.

    Accepts ISO strings with an offset, ``Z`` or none (read as UTC), epoch seconds or
    milliseconds, and treats None, "" and "None" as absent. Unparseable text is returned as is.
    """
    if value in _ABSENT:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            seconds = value / 1000 if value > 1e11 else value
            dt = datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
        return _fmt(dt)
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return text
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return _fmt(dt.astimezone(timezone.utc))


def _fmt(dt: datetime) -> str:
    """Milliseconds, or microseconds when the time has them (the source's precision is kept)."""
    micro = dt.microsecond
    fraction = f"{micro // 1000:03d}" if micro % 1000 == 0 else f"{micro:06d}"
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + fraction + "Z"


def now_iso() -> str:
    """Now, as a canonical UTC timestamp."""
    return _fmt(datetime.now(timezone.utc))


def export_document(*, exported_at: str | None = None, **collections: Any) -> dict:
    """A canonical ExportData for converted records: the newest agentmemory version, and the
    four collections agentmemory always writes present even when empty."""
    document: dict = {"version": NEWEST, "exportedAt": exported_at or now_iso()}
    document.update((name, empty_collection(name)) for name in ALWAYS_PRESENT)
    document.update(collections)
    return document


def title_from_text(text: Any, limit: int = TITLE_LIMIT) -> str:
    """The first non-empty line of a text, cut to ``limit`` characters."""
    if not isinstance(text, str):
        return ""
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line[:limit]
    return ""


def source_block(system: str, fmt: str, raw: Any) -> dict:
    """What a converted record keeps of its source, verbatim."""
    return {"system": system, "format": fmt, "raw": raw}


def stable_id(*parts: Any, length: int = 16) -> str:
    """A short hex digest of the parts: the same input always gives the same id."""
    # surrogatepass: a lone surrogate in a source id (a JSON "\ud800") hashes, not raises
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:length]


def session_record(
    sid: str,
    project: str,
    *,
    started_at: str | None,
    ended_at: str | None = None,
    observation_count: int = 0,
    status: str = "completed",
    cwd: str = "",
    **extra: Any,
) -> dict:
    rec = {
        "id": sid,
        "project": project,
        "cwd": cwd,
        "startedAt": started_at or ended_at or "",
        "status": status,
        "observationCount": observation_count,
    }
    if ended_at:
        rec["endedAt"] = ended_at
    rec.update({k: v for k, v in extra.items() if v is not None})
    return rec


def memory_record(
    mid: str,
    content: str,
    *,
    created_at: str | None,
    updated_at: str | None = None,
    mem_type: str = "fact",
    title: str | None = None,
    concepts: list | None = None,
    files: list | None = None,
    session_ids: list | None = None,
    source: dict | None = None,
    **extra: Any,
) -> dict:
    rec = {
        "id": mid,
        "createdAt": created_at or updated_at or "",
        "updatedAt": updated_at or created_at or "",
        "type": mem_type,
        "title": title if title is not None else title_from_text(content),
        "content": content,
        "concepts": list(concepts or []),
        "files": list(files or []),
        "sessionIds": list(session_ids or []),
        "strength": 1.0,
        "version": 1,
        "isLatest": True,
    }
    rec.update({k: v for k, v in extra.items() if v is not None})
    if source is not None:
        rec["source"] = source
    return rec


def observation_record(
    oid: str,
    session_id: str,
    *,
    timestamp: str | None,
    title: str,
    narrative: str,
    obs_type: str = "conversation",
    facts: list | None = None,
    concepts: list | None = None,
    files: list | None = None,
    importance: int = 5,
    source: dict | None = None,
    **extra: Any,
) -> dict:
    rec = {
        "id": oid,
        "sessionId": session_id,
        "timestamp": timestamp or "",
        "type": obs_type,
        "title": title,
        "facts": list(facts or []),
        "narrative": narrative,
        "concepts": list(concepts or []),
        "files": list(files or []),
        "importance": importance,
    }
    rec.update({k: v for k, v in extra.items() if v is not None})
    if source is not None:
        rec["source"] = source
    return rec


# Collections whose records carry an ``origin``, and the field holding each record's own time.
ORIGIN_TIME_FIELD = {"observations": "timestamp", "memories": "createdAt"}


def stamp_origin(
    collection: str, record: dict, format_id: str | None, *, in_place: bool = False
) -> dict:
    """Give an imported record without an origin ``{channel: "import", detail, capturedAt}``.

    Returns the record itself when nothing is to be added, else a shallow copy (or, with
    ``in_place``, the record itself with its origin added: for records nobody else holds).
    """
    field = ORIGIN_TIME_FIELD.get(collection)
    if field is None or record.get("origin"):
        return record
    stamped = record if in_place else dict(record)
    stamped["origin"] = {
        "channel": "import",
        "detail": format_id,
        "capturedAt": record.get(field) or record.get("updatedAt") or "",
    }
    return stamped
