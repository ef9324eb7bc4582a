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

A big backup converts in memory that does not grow with it (``Format.streams``): the record
arrays the reader spooled are read a chunk at a time, the memories and sessions written to the
same spool, and what belongs to each memory (categories, state history, access rules and
accesses, its ``memories.jsonl.gz`` line) grouped by memory id in the spool, which also finds
the first row of each id (``_fill_backup``, ``_Firsts``). Nothing is kept in memory per
memory; apps and categories are looked up by id (their names).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
from wizard.core.spool import (
    RecordList,
    empty_like,
    grouped,
    holds_spooled,
    is_array,
    materialize,
)

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
    if not is_array(items):
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
    if is_array(value):
        if value and _mostly(value, _is_logical_record):
            return Sniff(1.0, "OpenMemory logical records (memories.jsonl.gz)")
        return NO_MATCH
    if not isinstance(value, dict) or "version" in value or "sessions" in value:
        return NO_MATCH  # agentmemory ExportData has a top-level version
    if "id" in value and _is_logical_record(value):
        return Sniff(1.0, "one OpenMemory logical record (a one-line memories.jsonl.gz)")
    memories = value.get("memories")
    if "export_meta" in value:
        if not is_array(memories):
            return Sniff(0.5, "has export_meta but no memories[] list")
        # export_meta is OpenMemory's own mark: broken rows are reported by convert.
        if not memories or any(isinstance(m, dict) and "content" in m for m in memories[:SAMPLE]):
            return Sniff(1.0)
        return Sniff(0.6, "memories[] items lack the content of OpenMemory rows")
    if is_array(memories) and memories and _rows(memories, "content", "state", "app_id"):
        return Sniff(1.0, "OpenMemory memories.json without export_meta")
    items = value.get("items")
    if "total" in value and _rows(items, "content", "state") and items:
        return Sniff(1.0, "OpenMemory REST memory listing")
    looks_relational = bool({"apps", "categories", "user"} & value.keys())
    if looks_relational and is_array(memories) and memories and _rows(memories, "content"):
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


def _array(value: Any) -> list | RecordList | tuple[()]:
    """A record array of the file (nothing when the field is no array)."""
    return value if is_array(value) else ()


def _ref(row: Any, key: str) -> str | None:
    """The id a row refers to by ``key`` (None: not an object, or no text there)."""
    if isinstance(row, dict):
        value = row.get(key)
        if isinstance(value, str):
            return value
    return None


def _plain(value: Any) -> Any:
    """An object of the file with the arrays the reader spooled in it (its fields and the
    fields of its objects: a JSON Lines record, or the user row, is a document of its own) as
    lists: what is kept verbatim must be JSON. The file's object is left as it is."""
    if not isinstance(value, dict) or not holds_spooled(value):
        return value
    return materialize({k: dict(v) if isinstance(v, dict) else v for k, v in value.items()})


def _names_by_id(rows: Any) -> dict[str, str | None]:
    """The name of each row of an array (apps, categories) by its id; of an id given twice,
    the last row's."""
    names: dict[str, str | None] = {}
    for row in _array(rows):
        rid = _ref(row, "id")
        if rid is not None:
            names[rid] = _name(row.get("name"))
    return names


def _rows_by_id(rows: Any, wanted: set[str]) -> dict[str, dict]:
    """The rows of some ids (of an id given twice, the last row)."""
    found: dict[str, dict] = {}
    if wanted:
        for row in _array(rows):
            rid = _ref(row, "id")
            if rid is not None and rid in wanted:
                found[rid] = row
    return found


def _descriptions(rows: Any) -> dict[str, bool]:
    """Whether each category has a description, by id (of an id given twice, the last row)."""
    return {
        rid: bool(row.get("description"))
        for row in _array(rows)
        if (rid := _ref(row, "id")) is not None
    }


def _jsonl_lines(payload: Payload) -> Any:
    """The zip's ``memories.jsonl.gz`` records (None when absent)."""
    for name, lines in payload.members.items():
        if name.rsplit("/", 1)[-1] == JSONL_MEMBER and is_array(lines):
            return lines
    return None


# The arrays of a relational document whose rows belong to a memory.
RELATED = ("memory_categories", "status_history", "access_controls", "access_logs")


def _spooled_in(value: dict, lines: Any = None) -> RecordList | None:
    """The first array of a relational document (or of its ``memories.jsonl.gz``) that the
    reader spooled, or None: what is converted from a spooled file is spooled too, in the same
    spool."""
    for item in (value.get("memories"), *(value.get(k) for k in RELATED), lines):
        if isinstance(item, RecordList):
            return item
    return None


def _described(mid: str, text: str) -> str:
    """How a warning names a memory: its first words and its id."""
    return f"'{canonical.title_from_text(text, 40)}' ({mid})"


def _unique(names: Any) -> list[str]:
    seen: list[str] = []
    for n in names:
        if isinstance(n, str) and n and n not in seen:
            seen.append(n)
    return seen


class _App:
    """An app that wrote kept memories, the session it becomes: its row (found by id once the
    memories are added) and the span of its memories' times."""

    __slots__ = ("end", "ref", "row", "start")

    def __init__(self, ref: str | None) -> None:
        self.ref = ref  # the id of its row in the document's apps (None: named, no row)
        self.row: dict | None = None
        self.start: str | None = None
        self.end: str | None = None

    def add(self, record: dict) -> None:
        created, updated = record["createdAt"], record["updatedAt"]
        if created and (self.start is None or created < self.start):
            self.start = created
        if updated and (self.end is None or updated > self.end):
            self.end = updated


class _Builder:
    """Collects memories (and the per-app sessions they belong to) for one conversion.

    The memories go to an array like ``like``: a RecordList in the same spool when the file's
    arrays are spooled, so what is converted from a big file stays out of memory too. Which
    row of an id is kept (the first usable one) is found by ``grouped`` (``_Firsts``): nothing
    is kept in memory per memory. The first memory is held back until ``finish`` knows whether
    the user row goes into it (a record is never changed once in its array)."""

    def __init__(
        self, user: str | None, options: ConvertOptions, fmt: str = FORMAT_ID, like: object = None
    ) -> None:
        self.user = user
        self.fmt = fmt
        self.project = f"openmemory:{user}" if user else "openmemory"
        self.options = options
        self.memories: list[dict] | RecordList = empty_like(like)
        self.first: dict | None = None  # the first memory, until ``finish``
        self.apps: dict[str, _App] = {}  # app name -> its session's makings
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.left_out: dict[str, int] = {}  # state -> memories left out
        self.named: dict[str, list[str]] = {}  # state -> the first NAMED of them, described
        self.duplicates = 0
        self.losses = Losses()

    def _included(self, state: Any) -> bool:
        return (
            state in (None, ACTIVE)
            or (state == DELETED and self.options.include_deleted)
            or (state != DELETED and self.options.include_inactive)
        )

    def usable(self, row: Any, text_key: str = "content") -> str | None:
        """The id of a row that ``add`` makes a memory when it is the first of its id (an
        object with an id and a text, in a state included), else None."""
        if not isinstance(row, dict):
            return None
        mid = row.get("id")
        if not isinstance(mid, str) or not mid or not isinstance(row.get(text_key), str):
            return None
        return mid if self._included(row.get("state")) else None

    def add(
        self,
        row: Any,
        path: str,
        *,
        first: bool,
        app: str | None,
        categories: list[str],
        app_ref: str | None = None,
        related: dict | None = None,
        text_key: str = "content",
    ) -> None:
        """Add a row: a memory, or a problem, a memory left out for its state, or a duplicate
        (a usable row that is not the ``first`` of its id: ``_Firsts``)."""
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
        if not self._included(state):
            key = str(state)
            self.left_out[key] = self.left_out.get(key, 0) + 1
            named = self.named.setdefault(key, [])
            if len(named) < NAMED:
                named.append(_described(mid, text))
            return
        if not first:
            self.duplicates += 1
            return
        sessions = []
        entry = None
        if app:
            sessions.append(_session_id(self.user, app))
            entry = self.apps.get(app)
            if entry is None:
                entry = self.apps[app] = _App(app_ref)
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
        if state not in (None, ACTIVE):
            record["isLatest"] = False  # kept for the record, never live
        if entry is not None:
            entry.add(record)
        self._count(row, related)
        if self.first is None and not self.memories:
            self.first = record
        else:
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

    def sessions(self, user_row: Any) -> list[dict] | RecordList:
        """One session per app that wrote an imported memory, spanning their times."""
        out = empty_like(self.memories)
        for app, entry in self.apps.items():
            source = canonical.source_block(SYSTEM, self.fmt, entry.row or {"name": app})
            if isinstance(user_row, dict) and not out:  # the user row once, in the first session
                source["related"] = {"user": user_row}
            out.append(
                canonical.session_record(
                    _session_id(self.user, app),
                    self.project,
                    started_at=entry.start,
                    ended_at=entry.end,
                    agentId=app,
                    tags=[app],
                    source=source,
                )
            )
        return out

    def finish(self, user_row: Any) -> list[dict] | RecordList:
        """The sessions, with the user row kept once (in the first memory when no session);
        every memory is then in ``memories``."""
        sessions = self.sessions(user_row)
        if self.first is not None:
            if isinstance(user_row, dict) and not sessions:
                self.first["source"].setdefault("related", {})["user"] = user_row
            memories = empty_like(self.memories)
            memories.append(self.first)
            memories.extend(self.memories)  # (a spool's chunks are shared, not copied)
            self.memories, self.first = memories, None
        return sessions

    def absorb(self, other: _Builder) -> None:
        """Take over another builder's memories and findings (one builder per user), once it
        is finished."""
        self.memories.extend(other.memories)
        self.errors.extend(other.errors)
        self.warnings.extend(other.warnings)
        self.duplicates += other.duplicates
        for state, n in other.left_out.items():
            self.left_out[state] = self.left_out.get(state, 0) + n
            named = self.named.setdefault(state, [])
            named.extend(other.named[state][: NAMED - len(named)])
        for item in other.losses.items():
            self.losses.add(item.category, item.what, item.kept, item.count, item.detail)

    def conversion(
        self,
        user_row: Any = None,
        source_version: str | None = None,
        sessions: list[dict] | RecordList | None = None,
        **collections: Any,
    ) -> Conversion:
        self._report_left_out()
        if self.duplicates:
            message = f"{self.duplicates} duplicate memory id(s): kept the first"
            self.warnings.append(Problem("", message, code=Code.DUPLICATE_KEY))
        if sessions is None:
            sessions = self.finish(user_row)
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
            chosen = [s for s in states if s in self.left_out]
            if code is Code.INACTIVE_LEFT_OUT:  # an unknown state: not active either
                chosen += [s for s in self.left_out if s not in (*INACTIVE, DELETED)]
            n = sum(self.left_out[s] for s in chosen)
            if not n:
                continue
            counts = ", ".join(f"{self.left_out[s]} {s}" for s in chosen)
            names = [name for s in chosen for name in self.named[s]]
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


class _Found:
    """What adding the memories of a relational document counted besides them: its access
    rules (and those denying), its accesses (and those of the memories kept)."""

    __slots__ = ("accesses", "accesses_kept", "denied", "rules")

    def __init__(self) -> None:
        self.rules = 0
        self.denied = 0
        self.accesses = 0
        self.accesses_kept = 0


class _Firsts:
    """The groups of ``grouped`` over an array's usable rows (each row's id, index and None,
    then what belongs to an id, placed after every row), taken while walking the array: the
    groups come in the order of their first rows, so ``take(index)`` gives the group of the
    row at ``index`` when it is the first usable row of its id (else None: a problem, a row
    left out, or a duplicate). What is kept in memory is one group."""

    def __init__(self, groups: Iterator[tuple[str, list[tuple[int, Any]]]]) -> None:
        self._groups = groups
        self._ahead = next(groups, None)

    def take(self, index: int) -> list[tuple[int, Any]] | None:
        ahead = self._ahead
        if ahead is None or ahead[1][0][0] != index:
            return None
        self._ahead = next(self._groups, None)
        return ahead[1]

    def close(self) -> None:
        """Read the rest: what belongs to no usable row (this ends the grouping, which drops
        its table)."""
        while self._ahead is not None:
            self._ahead = next(self._groups, None)


def _belonging(
    builder: _Builder, value: dict, memories: Any, lines: Any, found: _Found
) -> Iterator[tuple[str, int, Any]]:
    """For ``grouped``: each usable memory row (its id, its index, None), then each row that
    belongs to a memory, tagged with its kind (``[kind, row]``) and placed after every memory,
    in the file's order; counts the access rules and accesses on the way."""
    links_needed = False  # (a memory without category_ids: its categories are linked)
    for i, row in enumerate(memories):
        mid = builder.usable(row)
        if mid is not None:
            yield mid, i, None
            links_needed = links_needed or not isinstance(row.get("category_ids"), list)
    place = len(memories)
    if links_needed:
        for link in _array(value.get("memory_categories")):
            mid = _ref(link, "memory_id")
            if mid is not None:
                yield mid, place, ["l", link.get("category_id")]
                place += 1
    for row in _array(value.get("status_history")):
        mid = _ref(row, "memory_id")
        if mid is not None:
            yield mid, place, ["h", row]
            place += 1
    for rule in _array(value.get("access_controls")):
        mid = _ref(rule, "object_id")
        if mid is not None:
            found.rules += 1
            found.denied += rule.get("effect") == "deny"
            yield mid, place, ["c", rule]
            place += 1
    for row in _array(value.get("access_logs")):  # the database only
        mid = _ref(row, "memory_id")
        if mid is not None:
            found.accesses += 1
            yield mid, place, ["a", row]
            place += 1
    for line in _array(lines):  # what a memory's line names: its app and categories
        mid = _ref(line, "id")
        if mid is not None:
            categories = line.get("categories")
            if isinstance(categories, RecordList):  # (a line is a document of its own)
                categories = list(categories)
            yield mid, place, ["j", [_name(line.get("app")), categories]]
            place += 1


def _fill_backup(
    builder: _Builder,
    value: dict,
    lines: Any,
    base: str,
    on_record: Callable[[str, list[dict]], None] | None = None,
) -> _Found:
    """Add the memories of one relational ``memories.json`` (ids of apps and categories
    resolved to their names), each with what belongs to it: status history, access rules and
    accesses, its line of ``memories.jsonl.gz``; ``on_record(id, accesses)`` is told each
    memory kept, with all its accesses.

    What belongs to each memory is grouped by memory id (``spool.grouped``: by SQLite in the
    spool when the document's arrays are spooled), in the order of the memories, and the
    memories are added in turn, the first row of an id taking its group (``_Firsts``): one
    memory's rows in memory at a time, not the file's."""
    memories = _array(value.get("memories"))
    app_names = _names_by_id(value.get("apps"))
    categories = _names_by_id(value.get("categories"))
    found = _Found()
    spooled = _spooled_in(value, lines)
    firsts = _Firsts(
        grouped(
            _belonging(builder, value, memories, lines, found),
            None if spooled is None else spooled.spool,
        )
    )
    for i, row in enumerate(memories):
        group = firsts.take(i)
        if group is None:  # a problem, left out, or a duplicate
            builder.add(row, f"{base}[{i}]", first=False, app=None, categories=[])
            continue
        links: list[Any] = []
        history: list[dict] = []
        rules: list[dict] = []
        accesses: list[dict] = []
        line: list[Any] = [None, None]  # the app and categories its line names
        for _place, item in group:
            if item is None:
                continue
            kind, got = item
            if kind == "l":
                links.append(got)
            elif kind == "h":
                history.append(got)
            elif kind == "c":
                rules.append(got)
            elif kind == "a":
                accesses.append(got)
            else:  # of a memory in two lines, the last one's
                line = got
        app_id = row.get("app_id")
        app_ref = app_id if isinstance(app_id, str) and app_id in app_names else None
        app = app_names[app_ref] if app_ref is not None else _name(line[0])
        cat_ids = row.get("category_ids")
        if not isinstance(cat_ids, list):
            cat_ids = links
        names = _unique([categories.get(c) for c in cat_ids if isinstance(c, str)])
        if not names and isinstance(line[1], list):
            names = _unique(line[1])
        related: dict[str, list[dict]] = {}
        if history:
            related["status_history"] = history
        if rules:
            related["access_controls"] = rules
        if accesses:
            related["access_logs"] = accesses[-ACCESS_DETAILS:]
        builder.add(
            row,
            f"{base}[{i}]",
            first=True,
            app=app,
            categories=names,
            app_ref=app_ref,
            related=related or None,
        )
        found.accesses_kept += len(accesses)
        if on_record is not None:
            on_record(row["id"], accesses)
    firsts.close()
    rows = _rows_by_id(value.get("apps"), {a.ref for a in builder.apps.values() if a.ref})
    for entry in builder.apps.values():
        if entry.ref is not None:
            entry.row = rows.get(entry.ref)
    return found


def _report_rules(builder: _Builder, n: int, denied: int) -> None:
    if not n:
        return
    builder.warnings.append(
        Problem(
            "access_controls",
            f"{n} access rule{'s' if n != 1 else ''} ({denied} denying an app a memory) "
            "will not be enforced: agentmemory has no access rules, so every agent can read "
            "these memories; the rules stay in each memory's source copy",
            code=Code.ACCESS_RULES,
        )
    )


def _count_descriptions(builder: _Builder, described: dict[str, bool]) -> None:
    builder.losses.add(
        "openmemory.category_descriptions",
        "category descriptions (the names become concepts)",
        Kept.NOT_IMPORTED,
        sum(described.values()),
    )


def _convert_backup(payload: Payload, value: dict, options: ConvertOptions) -> Conversion:
    """The relational ``memories.json`` of one user."""
    user_row = _plain(value.get("user"))
    lines = _jsonl_lines(payload)
    builder = _Builder(_user_name(user_row), options, like=_spooled_in(value, lines))
    found = _fill_backup(builder, value, lines, "memories")
    _report_rules(builder, found.rules, found.denied)
    _count_descriptions(builder, _descriptions(value.get("categories")))
    meta = _plain(value.get("export_meta"))
    version = meta.get("version") if isinstance(meta, dict) else None
    return builder.conversion(user_row, None if version is None else str(version))


def _convert_records(items: Any, base: str, options: ConvertOptions) -> Conversion:
    """Logical records (``memories.jsonl.gz`` lines) or REST listing items: names inline."""
    builder = _Builder(None, options, like=items)

    def usable() -> Iterator[tuple[str, int, None]]:
        for i, item in enumerate(items):
            mid = builder.usable(item)
            if mid is not None:
                yield mid, i, None

    firsts = _Firsts(grouped(usable(), items.spool if isinstance(items, RecordList) else None))
    for i, item in enumerate(items):
        row = _plain(item)
        app = categories = None
        if isinstance(row, dict):
            app = _name(row.get("app")) or _name(row.get("app_name"))
            categories = row.get("categories")
        names = _unique(categories) if isinstance(categories, list) else []
        first = firsts.take(i) is not None
        builder.add(row, f"{base}[{i}]", first=first, app=app, categories=names)
    firsts.close()
    return builder.conversion()


def convert(payload: Payload, options: ConvertOptions) -> Conversion:
    value = payload.value
    if is_array(value):
        return _convert_records(value, "", options)
    if isinstance(value, dict) and _is_logical_record(value):
        return _convert_records([value], "", options)
    if isinstance(value, dict) and is_array(value.get("memories")):
        return _convert_backup(payload, value, options)
    if isinstance(value, dict) and is_array(value.get("items")):
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
) -> tuple[list[dict] | RecordList, list[dict] | RecordList, _Found]:
    """Convert one user's document of the database: their sessions and access logs, and what
    was counted (access rules)."""
    user_row = doc.get("user")
    label = _user_name(user_row)
    if label is None and isinstance(user_row, dict):
        label = _name(user_row.get("id"))  # memories whose user row is missing
    like = _spooled_in(doc)
    builder = _Builder(label or "unknown", options, DB_FORMAT_ID, like)
    logs = empty_like(like)
    older = 0  # accesses past the ACCESS_DETAILS kept of a memory

    def access_log(mid: str, rows: list[dict]) -> None:
        nonlocal older
        log = _access_log(mid, rows)
        if log:
            logs.append(log)
        older += max(len(rows) - ACCESS_DETAILS, 0)

    found = _fill_backup(builder, doc, None, f"{base}.memories", access_log)
    sessions = builder.finish(user_row)
    builder.losses.add(
        "openmemory.access_details_older",
        f"accesses of a memory older than its latest {ACCESS_DETAILS} (only counted "
        "in its access log)",
        Kept.NOT_IMPORTED,
        older,
    )
    builder.losses.add(
        "openmemory.access_logs_left_out",
        "accesses of memories left out",
        Kept.NOT_IMPORTED,
        found.accesses - found.accesses_kept,
    )
    if isinstance(user_row, dict) and not builder.memories:
        main.losses.add(
            "openmemory.users_without_memories",
            "users with no imported memory (their user rows)",
            Kept.NOT_IMPORTED,
        )
    main.losses.add(
        "openmemory.apps_without_memories",
        "apps with no imported memory (their names, descriptions and metadata)",
        Kept.NOT_IMPORTED,
        sum(
            1
            for a in _array(doc.get("apps"))
            if isinstance(a, dict) and a.get("name") not in builder.apps
        ),
    )
    main.absorb(builder)
    return sessions, logs, found


def convert_db(payload: Payload, options: ConvertOptions) -> Conversion:
    """OpenMemory's database, as its reader hands it over: every user's memories in their own
    project ``openmemory:<user>``, one session per app of the user. The reader keeps the rows
    in a spool; the records are written to it too."""
    value = payload.value
    users = value.get("users") if isinstance(value, dict) else None
    if not is_array(users):
        raise InputRefused(
            "not an OpenMemory database document: no users[] list",
            path="users",
            code=Code.WRONG_SHAPE,
        )
    like = next(
        (s for doc in users if isinstance(doc, dict) and (s := _spooled_in(doc)) is not None),
        None,
    )
    main = _Builder(None, options, DB_FORMAT_ID, like)
    sessions = empty_like(like)
    logs = empty_like(like)
    rules = denied = 0
    described: dict[str, bool] = {}
    for i, doc in enumerate(users):
        if not isinstance(doc, dict):
            main.errors.append(
                Problem(f"users[{i}]", "not an object", code=Code.UNCONVERTIBLE_RECORD)
            )
            continue
        user_sessions, user_logs, found = _db_user(main, doc, f"users[{i}]", options)
        sessions.extend(user_sessions)
        logs.extend(user_logs)
        rules += found.rules
        denied += found.denied
        described.update(_descriptions(doc.get("categories")))
    _report_rules(main, rules, denied)
    _count_descriptions(main, described)
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
    Format(FORMAT_ID, "OpenMemory backup (zip or memories.json)", sniff, convert, streams=True),
    Format(
        DB_FORMAT_ID,
        "OpenMemory database (openmemory.db)",
        storage_sniff(DB_FORMAT_ID),
        convert_db,
        streams=True,
    ),
)
