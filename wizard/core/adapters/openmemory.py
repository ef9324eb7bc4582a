"""OpenMemory: the backup zip (``memories.json`` + optional ``memories.jsonl.gz``), its
``memories.json`` alone, and a lone ``memories.jsonl.gz`` of logical records.

Shapes: ``docs/MEM0.md`` section 4; mapping: docs/MAPPING.md. Each memory keeps its id and
its source row verbatim in ``source.raw``; the app that wrote it (the MCP client: claude,
cursor...) becomes a session of the user's project ``openmemory:<user>``.

Only active memories are live. Paused and archived ones are left out unless
``ConvertOptions.include_inactive``, deleted ones unless ``include_deleted``; either way they are
counted and named in a warning, and when included they keep their ``state`` and are marked not
latest (``isLatest: false``), so nothing comes back to life. Access rules (an app denied a
memory) stay in the memory's source copy and are reported: agentmemory does not enforce them.
Each source object is kept once: the backup's user row in the first session's source copy only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wizard.core import canonical
from wizard.core.formats import (
    NO_MATCH,
    Conversion,
    ConvertOptions,
    Format,
    Payload,
    Sniff,
    never_raises,
)
from wizard.core.losses import Kept, Losses
from wizard.core.problems import Code, InputRefused, Problem

SYSTEM = "openmemory"
FORMAT_ID = "openmemory"
SAMPLE = 20  # sniff looks at no more than this many items
JSONL_MEMBER = "memories.jsonl.gz"
ACTIVE = "active"
INACTIVE = ("paused", "archived")
DELETED = "deleted"
NAMED = 5  # how many left-out memories a warning names
# Row fields that reach an agentmemory field (the rest stay only in the verbatim copy).
MAPPED = frozenset(
    {"id", "content", "text", "created_at", "updated_at", "state", "app_id", "app", "app_name"}
)


# --- sniff ------------------------------------------------------------------------------------


def _mostly(items: Any, test: Callable[[Any], bool]) -> bool:
    """At least 80% of the first items pass (a few broken rows are reported by convert)."""
    if not isinstance(items, list):
        return False
    sample = items[:SAMPLE]
    return sum(1 for i in sample if test(i)) >= 0.8 * len(sample)


def _rows(items: Any, *required: str) -> bool:
    """The first items are (mostly) objects holding every ``required`` key."""
    return _mostly(items, lambda i: isinstance(i, dict) and all(k in i for k in required))


def _is_logical_record(item: Any) -> bool:
    """A ``memories.jsonl.gz`` line: ``content`` + ``state`` + ``app`` / ``categories``."""
    return (
        isinstance(item, dict)
        and "content" in item
        and "state" in item
        and ("app" in item or "categories" in item)
    )


@never_raises
def sniff(payload: Payload) -> Sniff:
    """OpenMemory backup ``memories.json`` (``export_meta`` + ``memories[]`` with ``content`` and
    ``state``), a list of its logical records, or the REST ``{items, total, page}`` listing."""
    value = payload.value
    if isinstance(value, list):
        if value and _mostly(value, _is_logical_record):
            return Sniff(1.0, "OpenMemory logical records (memories.jsonl.gz)")
        return NO_MATCH
    if not isinstance(value, dict) or "version" in value or "sessions" in value:
        return NO_MATCH  # agentmemory ExportData has a top-level version
    if "id" in value and _is_logical_record(value):
        return Sniff(1.0, "one OpenMemory logical record (a one-line memories.jsonl.gz)")
    memories = value.get("memories")
    if "export_meta" in value:
        if not isinstance(memories, list):
            return Sniff(0.5, "has export_meta but no memories[] list")
        # export_meta is OpenMemory's own mark: broken rows are reported by convert.
        if not memories or any(isinstance(m, dict) and "content" in m for m in memories[:SAMPLE]):
            return Sniff(1.0)
        return Sniff(0.6, "memories[] items lack the content of OpenMemory rows")
    if isinstance(memories, list) and memories and _rows(memories, "content", "state", "app_id"):
        return Sniff(1.0, "OpenMemory memories.json without export_meta")
    items = value.get("items")
    if "total" in value and _rows(items, "content", "state") and items:
        return Sniff(1.0, "OpenMemory REST memory listing")
    looks_relational = bool({"apps", "categories", "user"} & value.keys())
    if looks_relational and isinstance(memories, list) and memories and _rows(memories, "content"):
        return Sniff(0.5, "memories[] have content but no state/app_id and no export_meta")
    return NO_MATCH


# --- conversion helpers -----------------------------------------------------------------------


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _mem_type(row: dict) -> str:
    meta = row.get("metadata")
    procedural = isinstance(meta, dict) and meta.get("memory_type") == "procedural_memory"
    return "workflow" if procedural else "fact"


def _session_id(user: str | None, app: str) -> str:
    return f"openmemory:{user}:{app}" if user else f"openmemory:{app}"


def _by_id(rows: Any) -> dict[str, dict]:
    if not isinstance(rows, list):
        return {}
    return {r["id"]: r for r in rows if isinstance(r, dict) and isinstance(r.get("id"), str)}


def _grouped(rows: Any, key: str) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    if isinstance(rows, list):
        for row in rows:
            if isinstance(row, dict) and isinstance(row.get(key), str):
                groups.setdefault(row[key], []).append(row)
    return groups


def _jsonl_lines(payload: Payload) -> dict[str, dict]:
    """The zip's ``memories.jsonl.gz`` records by memory id (empty when absent)."""
    for name, lines in payload.members.items():
        if name.rsplit("/", 1)[-1] == JSONL_MEMBER and isinstance(lines, list):
            return _by_id(lines)
    return {}


def _described(mid: str, text: str) -> str:
    """How a warning names a memory: its first words and its id."""
    return f"'{canonical.title_from_text(text, 40)}' ({mid})"


def _unique(names: list[Any]) -> list[str]:
    seen: list[str] = []
    for n in names:
        if isinstance(n, str) and n and n not in seen:
            seen.append(n)
    return seen


class _Builder:
    """Collects memories (and the per-app sessions they belong to) for one conversion."""

    def __init__(self, user: str | None, options: ConvertOptions) -> None:
        self.user = user
        self.project = f"openmemory:{user}" if user else "openmemory"
        self.options = options
        self.memories: list[dict] = []
        self.seen: set[str] = set()
        self.apps: dict[str, dict] = {}  # app name -> raw app row (or {"name": ...})
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.left_out: dict[str, list[str]] = {}  # state -> first lines of the memories
        self.duplicates = 0
        self.losses = Losses()

    def add(
        self,
        row: Any,
        path: str,
        *,
        app: str | None,
        categories: list[str],
        app_row: dict | None = None,
        related: dict | None = None,
        text_key: str = "content",
    ) -> None:
        if not isinstance(row, dict):
            self.errors.append(
                Problem(
                    path,
                    "not an object: an OpenMemory memory is expected",
                    code=Code.UNCONVERTIBLE_RECORD,
                )
            )
            return
        mid = row.get("id")
        if not isinstance(mid, str) or not mid:
            self.errors.append(
                Problem(f"{path}.id", "missing or empty memory id", code=Code.UNCONVERTIBLE_RECORD)
            )
            return
        text = row.get(text_key)
        if not isinstance(text, str):
            self.errors.append(
                Problem(
                    f"{path}.{text_key}",
                    "memory text missing or not text",
                    code=Code.UNCONVERTIBLE_RECORD,
                )
            )
            return
        state = row.get("state")
        live = state in (None, ACTIVE)
        included = (
            live
            or (state == DELETED and self.options.include_deleted)
            or (state != DELETED and self.options.include_inactive)
        )
        if not included:
            self.left_out.setdefault(str(state), []).append(_described(mid, text))
            return
        if mid in self.seen:
            self.duplicates += 1
            return
        self.seen.add(mid)
        sessions = []
        if app:
            sessions.append(_session_id(self.user, app))
            self.apps.setdefault(app, app_row or {"name": app})
        source = canonical.source_block(SYSTEM, FORMAT_ID, row)
        if related:
            source["related"] = related
        record = canonical.memory_record(
            mid,
            text,
            created_at=canonical.utc_iso(row.get("created_at")),
            updated_at=canonical.utc_iso(row.get("updated_at")),
            mem_type=_mem_type(row),
            concepts=categories,
            session_ids=sessions,
            source=source,
            agentId=app,
            project=self.project,
            state=state if isinstance(state, str) else None,
        )
        if not live:
            record["isLatest"] = False  # kept for the record, never live
        self._count(row, related)
        self.memories.append(record)  # the importer stamps its origin

    def _count(self, row: dict, related: dict | None) -> None:
        for key, value in row.items():
            if key in MAPPED or value in (None, "", [], {}) or key in ("category_ids", "user_id"):
                continue
            self.losses.add(f"openmemory.{key}", f"memory field '{key}'", Kept.VERBATIM_ONLY)
        for key, what in (
            ("status_history", "state changes (status history)"),
            ("access_controls", "access rules (an app allowed or denied a memory)"),
        ):
            if related and related.get(key):
                self.losses.add(f"openmemory.{key}", what, Kept.VERBATIM_ONLY, len(related[key]))

    def sessions(self, user_row: Any) -> list[dict]:
        """One session per app that wrote an imported memory, spanning their times."""
        out: list[dict] = []
        for app, app_row in self.apps.items():
            sid = _session_id(self.user, app)
            mems = [m for m in self.memories if sid in m["sessionIds"]]
            starts = [m["createdAt"] for m in mems if m["createdAt"]]
            ends = [m["updatedAt"] for m in mems if m["updatedAt"]]
            source = canonical.source_block(SYSTEM, FORMAT_ID, app_row)
            if isinstance(user_row, dict) and not out:  # the user row once, in the first session
                source["related"] = {"user": user_row}
            out.append(
                canonical.session_record(
                    sid,
                    self.project,
                    started_at=min(starts) if starts else None,
                    ended_at=max(ends) if ends else None,
                    agentId=app,
                    tags=[app],
                    source=source,
                )
            )
        return out

    def conversion(self, user_row: Any = None, source_version: str | None = None) -> Conversion:
        self._report_left_out()
        if self.duplicates:
            message = f"{self.duplicates} duplicate memory id(s): kept the first"
            self.warnings.append(Problem("", message, code=Code.DUPLICATE_KEY))
        sessions = self.sessions(user_row)
        if isinstance(user_row, dict) and not sessions and self.memories:
            self.memories[0]["source"].setdefault("related", {})["user"] = user_row
        data = canonical.export_document(sessions=sessions, memories=self.memories)
        return Conversion(
            data=data,
            source_version=source_version,
            errors=self.errors,
            warnings=self.warnings,
            left_behind=self.losses.items(),
        )

    def _report_left_out(self) -> None:
        """Name the memories left out for their state (the shells offer to include them)."""
        for states, code in (
            (INACTIVE, Code.INACTIVE_LEFT_OUT),
            ((DELETED,), Code.DELETED_LEFT_OUT),
        ):
            groups = {s: self.left_out[s] for s in states if s in self.left_out}
            for state in set(self.left_out) - {*INACTIVE, DELETED}:
                if code is Code.INACTIVE_LEFT_OUT:  # an unknown state: not active either
                    groups[state] = self.left_out[state]
            n = sum(len(v) for v in groups.values())
            if not n:
                continue
            counts = ", ".join(f"{len(v)} {s}" for s, v in groups.items())
            names = [name for v in groups.values() for name in v]
            listed = "; ".join(names[:NAMED]) + (f"; and {n - NAMED} more" if n > NAMED else "")
            noun = "memory" if n == 1 else "memories"
            self.warnings.append(
                Problem(
                    "memories", f"{n} {noun} not active ({counts}) left out: {listed}", code=code
                )
            )
            self.losses.add(
                f"openmemory.{code}",
                f"memories not active ({counts})",
                Kept.NOT_IMPORTED,
                n,
            )


# --- convert ----------------------------------------------------------------------------------


def _convert_backup(payload: Payload, value: dict, options: ConvertOptions) -> Conversion:
    """The relational ``memories.json``: ids of apps and categories resolved to their names."""
    user_row = value.get("user")
    user = (
        _name(user_row.get("user_id")) or _name(user_row.get("name"))
        if isinstance(user_row, dict)
        else None
    )
    apps = _by_id(value.get("apps"))
    categories = {cid: _name(c.get("name")) for cid, c in _by_id(value.get("categories")).items()}
    links = _grouped(value.get("memory_categories"), "memory_id")
    history = _grouped(value.get("status_history"), "memory_id")
    controls = _grouped(value.get("access_controls"), "object_id")
    lines = _jsonl_lines(payload)
    builder = _Builder(user, options)
    for i, row in enumerate(value.get("memories") or []):
        mid = row.get("id") if isinstance(row, dict) else None
        line = lines.get(mid, {}) if isinstance(mid, str) else {}
        app_id = row.get("app_id") if isinstance(row, dict) else None
        app_row = apps.get(app_id) if isinstance(app_id, str) else None
        app = _name(app_row.get("name")) if app_row else _name(line.get("app"))
        cat_ids = row.get("category_ids") if isinstance(row, dict) else None
        if not isinstance(cat_ids, list):
            cat_ids = [link.get("category_id") for link in links.get(mid, [])] if mid else []
        names = _unique([categories.get(c) for c in cat_ids if isinstance(c, str)])
        if not names and isinstance(line.get("categories"), list):
            names = _unique(line["categories"])
        related = {}
        if isinstance(mid, str) and history.get(mid):
            related["status_history"] = history[mid]
        if isinstance(mid, str) and controls.get(mid):
            related["access_controls"] = controls[mid]
        builder.add(
            row,
            f"memories[{i}]",
            app=app,
            categories=names,
            app_row=app_row,
            related=related or None,
        )
    rules = [r for rows in controls.values() for r in rows if isinstance(r, dict)]
    if rules:
        denied = sum(1 for r in rules if r.get("effect") == "deny")
        n = len(rules)
        builder.warnings.append(
            Problem(
                "access_controls",
                f"{n} access rule{'s' if n != 1 else ''} ({denied} denying an app a memory) "
                "will not be enforced: agentmemory has no access rules, so every agent can read "
                "these memories; the rules stay in each memory's source copy",
                code=Code.ACCESS_RULES,
            )
        )
    described = sum(1 for c in _by_id(value.get("categories")).values() if c.get("description"))
    builder.losses.add(
        "openmemory.category_descriptions",
        "category descriptions (the names become concepts)",
        Kept.NOT_IMPORTED,
        described,
    )
    meta = value.get("export_meta")
    version = meta.get("version") if isinstance(meta, dict) else None
    return builder.conversion(user_row, None if version is None else str(version))


def _convert_records(items: list, base: str, options: ConvertOptions) -> Conversion:
    """Logical records (``memories.jsonl.gz`` lines) or REST listing items: names inline."""
    builder = _Builder(None, options)
    for i, row in enumerate(items):
        app = categories = None
        if isinstance(row, dict):
            app = _name(row.get("app")) or _name(row.get("app_name"))
            categories = row.get("categories")
        names = _unique(categories) if isinstance(categories, list) else []
        builder.add(row, f"{base}[{i}]", app=app, categories=names)
    return builder.conversion()


def convert(payload: Payload, options: ConvertOptions) -> Conversion:
    value = payload.value
    if isinstance(value, list):
        return _convert_records(value, "", options)
    if isinstance(value, dict) and _is_logical_record(value):
        return _convert_records([value], "", options)
    if isinstance(value, dict) and isinstance(value.get("memories"), list):
        return _convert_backup(payload, value, options)
    if isinstance(value, dict) and isinstance(value.get("items"), list):
        return _convert_records(value["items"], "items", options)
    raise InputRefused(
        "not an OpenMemory export: no memories[] list", path="memories", code=Code.WRONG_SHAPE
    )


FORMATS: tuple[Format, ...] = (
    Format(FORMAT_ID, "OpenMemory backup (zip or memories.json)", sniff, convert),
)
