"""OpenMemory: the backup zip (``memories.json`` + optional ``memories.jsonl.gz``), its
``memories.json`` alone, and a lone ``memories.jsonl.gz`` of logical records.

Shapes: ``docs/MEM0.md`` section 4; mapping: docs/MAPPING.md. Each memory keeps its id and
its source row verbatim in ``source.raw``; the app that wrote it (the MCP client: claude,
cursor...) becomes a session of the user's project ``openmemory:<user>``.

The same code converts OpenMemory's own database (``openmemory-db``): its reader
(``wizard.core.storage.openmemory``) hands over one backup-shaped document per user, so a memory
read from the database is the same record as from that user's backup zip. The database adds
each memory's access log: how often and when it was read becomes agentmemory's access log of the
memory (``accessLogs``: count, last and recent times), which app read it and with what query
stays in the memory's source copy.

Only active memories are live. Paused and archived ones are left out unless
``ConvertOptions.include_inactive``, deleted ones unless ``include_deleted``; either way they are
counted and named in a warning, and when included they keep their ``state`` and are marked not
latest (``isLatest: false``), so nothing comes back to life. Access rules (an app denied a
memory) stay in the memory's source copy and are reported: agentmemory does not enforce them.
Each source object is kept once: the backup's user row in the first session's source copy only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
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
    storage_sniff,
)
from wizard.core.losses import Kept, Losses
from wizard.core.problems import Code, InputRefused, Problem

SYSTEM = "openmemory"
FORMAT_ID = "openmemory"
DB_FORMAT_ID = "openmemory-db"
SAMPLE = 20  # sniff looks at no more than this many items
JSONL_MEMBER = "memories.jsonl.gz"
ACTIVE = "active"
INACTIVE = ("paused", "archived")
DELETED = "deleted"
NAMED = 5  # how many left-out memories a warning names
RECENT = 20  # access times an agentmemory access log keeps (its RECENT_CAP)
ACCESS_DETAILS = 100  # accesses of one memory kept in its source copy (the latest)
NOT_READS = frozenset({"delete", "delete_all"})  # access types that are no reading
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
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

    def __init__(self, user: str | None, options: ConvertOptions, fmt: str = FORMAT_ID) -> None:
        self.user = user
        self.fmt = fmt
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
        source = canonical.source_block(SYSTEM, self.fmt, row)
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
            ("access_logs", "accesses of a memory (which app, search query and score)"),
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
            source = canonical.source_block(SYSTEM, self.fmt, app_row)
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

    def user_sessions(self, user_row: Any) -> list[dict]:
        """The sessions, with the user row kept once (in the first memory when no session)."""
        sessions = self.sessions(user_row)
        if isinstance(user_row, dict) and not sessions and self.memories:
            self.memories[0]["source"].setdefault("related", {})["user"] = user_row
        return sessions

    def absorb(self, other: _Builder) -> None:
        """Take over another builder's memories and findings (one builder per user)."""
        self.memories.extend(other.memories)
        self.errors.extend(other.errors)
        self.warnings.extend(other.warnings)
        self.duplicates += other.duplicates
        for state, names in other.left_out.items():
            self.left_out.setdefault(state, []).extend(names)
        for item in other.losses.items():
            self.losses.add(item.category, item.what, item.kept, item.count, item.detail)

    def conversion(
        self,
        user_row: Any = None,
        source_version: str | None = None,
        sessions: list[dict] | None = None,
        **collections: Any,
    ) -> Conversion:
        self._report_left_out()
        if self.duplicates:
            message = f"{self.duplicates} duplicate memory id(s): kept the first"
            self.warnings.append(Problem("", message, code=Code.DUPLICATE_KEY))
        if sessions is None:
            sessions = self.user_sessions(user_row)
        data = canonical.export_document(sessions=sessions, memories=self.memories, **collections)
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


def _user_name(user_row: Any) -> str | None:
    if not isinstance(user_row, dict):
        return None
    return _name(user_row.get("user_id")) or _name(user_row.get("name"))


def _fill_backup(builder: _Builder, value: dict, lines: dict[str, dict], base: str) -> list[dict]:
    """Add the memories of one relational ``memories.json`` (ids of apps and categories
    resolved to their names); returns its access rules."""
    apps = _by_id(value.get("apps"))
    categories = {cid: _name(c.get("name")) for cid, c in _by_id(value.get("categories")).items()}
    links = _grouped(value.get("memory_categories"), "memory_id")
    history = _grouped(value.get("status_history"), "memory_id")
    controls = _grouped(value.get("access_controls"), "object_id")
    accesses = _grouped(value.get("access_logs"), "memory_id")  # the database only
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
        if isinstance(mid, str) and accesses.get(mid):
            related["access_logs"] = accesses[mid][-ACCESS_DETAILS:]
        builder.add(
            row,
            f"{base}[{i}]",
            app=app,
            categories=names,
            app_row=app_row,
            related=related or None,
        )
    return [r for rows in controls.values() for r in rows if isinstance(r, dict)]


def _report_rules(builder: _Builder, rules: list[dict]) -> None:
    if not rules:
        return
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


def _count_descriptions(builder: _Builder, categories: list[dict]) -> None:
    builder.losses.add(
        "openmemory.category_descriptions",
        "category descriptions (the names become concepts)",
        Kept.NOT_IMPORTED,
        sum(1 for c in categories if c.get("description")),
    )


def _convert_backup(payload: Payload, value: dict, options: ConvertOptions) -> Conversion:
    """The relational ``memories.json`` of one user."""
    user_row = value.get("user")
    builder = _Builder(_user_name(user_row), options)
    rules = _fill_backup(builder, value, _jsonl_lines(payload), "memories")
    _report_rules(builder, rules)
    _count_descriptions(builder, list(_by_id(value.get("categories")).values()))
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


# --- OpenMemory's database -------------------------------------------------------------------


def _epoch_ms(value: Any) -> int | None:
    text = canonical.utc_iso(value)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
    return None if dt is None else (dt - EPOCH) // timedelta(milliseconds=1)


def _iso_ms(ms: int) -> str:
    """A time as JavaScript's ``toISOString`` writes it (agentmemory's ``lastAt``)."""
    dt = EPOCH + timedelta(milliseconds=ms)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _access_log(mid: str, rows: list[dict]) -> dict | None:
    """agentmemory's access log of a memory (``{memoryId, count, lastAt, recent}``) from
    OpenMemory's accesses of it: searches and listings count, deletions do not."""
    reads = [r for r in rows if isinstance(r, dict) and r.get("access_type") not in NOT_READS]
    if not reads:
        return None
    times = sorted(t for t in (_epoch_ms(r.get("accessed_at")) for r in reads) if t is not None)
    return {
        "memoryId": mid,
        "count": len(reads),
        "lastAt": _iso_ms(times[-1]) if times else "",
        "recent": times[-RECENT:],
    }


def _db_user(
    main: _Builder, doc: dict, base: str, options: ConvertOptions
) -> tuple[list[dict], list[dict], list[dict]]:
    """Convert one user's document of the database: their sessions, access logs and rules."""
    user_row = doc.get("user")
    label = _user_name(user_row)
    if label is None and isinstance(user_row, dict):
        label = _name(user_row.get("id"))  # memories whose user row is missing
    builder = _Builder(label or "unknown", options, DB_FORMAT_ID)
    rules = _fill_backup(builder, doc, {}, f"{base}.memories")
    sessions = builder.user_sessions(user_row)
    accesses = _grouped(doc.get("access_logs"), "memory_id")
    logs = []
    for record in builder.memories:
        rows = accesses.pop(record["id"], [])
        log = _access_log(record["id"], rows)
        if log:
            logs.append(log)
        if len(rows) > ACCESS_DETAILS:
            builder.losses.add(
                "openmemory.access_details_older",
                f"accesses of a memory older than its latest {ACCESS_DETAILS} (only counted "
                "in its access log)",
                Kept.NOT_IMPORTED,
                len(rows) - ACCESS_DETAILS,
            )
    builder.losses.add(
        "openmemory.access_logs_left_out",
        "accesses of memories left out",
        Kept.NOT_IMPORTED,
        sum(len(rows) for rows in accesses.values()),
    )
    if isinstance(user_row, dict) and not builder.memories:
        main.losses.add(
            "openmemory.users_without_memories",
            "users with no imported memory (their user rows)",
            Kept.NOT_IMPORTED,
        )
    apps = doc.get("apps")
    idle = [a for a in apps if isinstance(a, dict)] if isinstance(apps, list) else []
    main.losses.add(
        "openmemory.apps_without_memories",
        "apps with no imported memory (their names, descriptions and metadata)",
        Kept.NOT_IMPORTED,
        len([a for a in idle if a.get("name") not in builder.apps]),
    )
    main.absorb(builder)
    return sessions, logs, rules


def convert_db(payload: Payload, options: ConvertOptions) -> Conversion:
    """OpenMemory's database, as its reader hands it over: every user's memories in their own
    project ``openmemory:<user>``, one session per app of the user."""
    value = payload.value
    users = value.get("users") if isinstance(value, dict) else None
    if not isinstance(users, list):
        raise InputRefused(
            "not an OpenMemory database document: no users[] list",
            path="users",
            code=Code.WRONG_SHAPE,
        )
    main = _Builder(None, options, DB_FORMAT_ID)
    sessions: list[dict] = []
    logs: list[dict] = []
    rules: list[dict] = []
    categories: dict[str, dict] = {}
    for i, doc in enumerate(users):
        if not isinstance(doc, dict):
            main.errors.append(
                Problem(f"users[{i}]", "not an object", code=Code.UNCONVERTIBLE_RECORD)
            )
            continue
        user_sessions, user_logs, user_rules = _db_user(main, doc, f"users[{i}]", options)
        sessions += user_sessions
        logs += user_logs
        rules += user_rules
        categories.update(_by_id(doc.get("categories")))
    _report_rules(main, rules)
    _count_descriptions(main, list(categories.values()))
    meta = value.get("openmemory_db") if isinstance(value.get("openmemory_db"), dict) else {}
    _count_db_leftovers(main, meta)
    schema = meta.get("schema")
    return main.conversion(
        sessions=sessions,
        source_version=schema if isinstance(schema, str) else None,
        **({"accessLogs": logs} if logs else {}),
    )


def _count_db_leftovers(builder: _Builder, meta: dict) -> None:
    """What the reader counted without reading: the settings, archive policies, tables it
    does not know, rows that refer to nothing."""

    def number(value: Any) -> int:
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    builder.losses.add(
        "openmemory.configs",
        "settings (the configs table: LLM, embedder and vector store, which can hold API keys)",
        Kept.NOT_IMPORTED,
        number(meta.get("configs")),
        "never read",
    )
    builder.losses.add(
        "openmemory.archive_policies",
        "archive policies (archive an app's or a category's memories after some days)",
        Kept.NOT_IMPORTED,
        number(meta.get("archive_policies")),
    )
    builder.losses.add(
        "openmemory.unused_categories",
        "categories no memory has",
        Kept.NOT_IMPORTED,
        number(meta.get("unused_categories")),
    )
    unknown = meta.get("unknown_tables")
    for table, n in unknown.items() if isinstance(unknown, dict) else ():
        builder.losses.add(
            f"openmemory.table.{table}",
            f"rows of the table '{table}', which the wizard does not know",
            Kept.NOT_IMPORTED,
            number(n),
            "never read",
        )
    dangling = meta.get("dangling")
    for table, n in dangling.items() if isinstance(dangling, dict) else ():
        builder.losses.add(
            f"openmemory.dangling.{table}",
            f"rows of '{table}' that refer to a memory, category or app not in the database",
            Kept.NOT_IMPORTED,
            number(n),
        )


FORMATS: tuple[Format, ...] = (
    Format(FORMAT_ID, "OpenMemory backup (zip or memories.json)", sniff, convert),
    Format(
        DB_FORMAT_ID,
        "OpenMemory database (openmemory.db)",
        storage_sniff(DB_FORMAT_ID),
        convert_db,
    ),
)
