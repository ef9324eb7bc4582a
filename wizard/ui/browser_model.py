"""The store browser's results as a Qt model, and how a record is described.

``RecordTableModel`` is a QAbstractTableModel over the rows of ``wizard.store.browse`` (one
``RecordRow`` each) that fetches lazily: ``canFetchMore``/``fetchMore`` ask for one page
(``PAGE_SIZE`` rows) at a time on a worker, and the rows a page brings are inserted in batches of
``INSERT_BATCH``, one batch per turn of the event loop, so the GUI thread never blocks while the
view fills. The model never runs SQL: it is given a job factory (``ui/browser_backend``).
``RecordProxy`` sorts the rows loaded so far (the store's own order is newest first).

``describe_record`` and ``source_text`` turn a stored record into the detail pane's plain text
(the worker calls them: a record may be big).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from functools import partial
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from shiboken6 import isValid

from wizard.store.browse import BrowseFilter, RecordRow
from wizard.ui.audit_model import local_time
from wizard.ui.formatting import fmt_int
from wizard.ui.plain_text import plain_tooltip
from wizard.ui.worker import Job, Task, start_task

PAGE_SIZE = 200  # rows asked of the store at a time
INSERT_BATCH = 50  # rows inserted into the model per turn of the event loop

ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the RecordRow
SORT_ROLE = Qt.ItemDataRole.UserRole + 2

COLUMNS = ("title", "project", "agent", "when", "format")
SNIPPET = "snippet"  # the extra column of a text search
HEADERS = {
    "title": "Title",
    "project": "Project",
    "agent": "Agent",
    "when": "When",
    "format": "Source format",
    SNIPPET: "Match",
}

# collection -> (one, many): "1 memory matches", "1,234 memories match"
NOUNS = {
    "memories": ("memory", "memories"),
    "sessions": ("session", "sessions"),
    "observations": ("observation", "observations"),
    "summaries": ("summary", "summaries"),
    "graphNodes": ("graph node", "graph nodes"),
    "graphEdges": ("graph edge", "graph edges"),
}

TEXT_LIMIT = 100_000  # characters of one field shown in the detail pane
SOURCE_LIMIT = 400_000  # characters of the pretty-printed source copy shown

Index = QModelIndex | QPersistentModelIndex
_ROLES = frozenset({Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, ROW_ROLE, SORT_ROLE})
PageJob = Callable[[BrowseFilter, int, int], Job]  # (filter, offset, limit) -> a page's Job


def noun(collection: str, n: int) -> str:
    one, many = NOUNS.get(collection, (collection, collection))
    return one if n == 1 else many


def count_text(collection: str, n: int, filtered: bool) -> str:
    """'1,234 memories match' (or '1,234 memories' with no filter and no search)."""
    what = f"{fmt_int(n)} {noun(collection, n)}"
    if not filtered:
        return what
    return f"{what} {'matches' if n == 1 else 'match'}"


def is_filtered(f: BrowseFilter) -> bool:
    return bool(
        f.text.strip()
        or f.project is not None
        or f.agent is not None
        or f.source_format is not None
        or f.audit_id is not None
        or f.session_id is not None
    )


# -- tasks owned by a window ----------------------------------------------------------------------
# A lambda connected to a task outlives a window closed meanwhile (WA_DeleteOnClose): its
# results are dropped once the owner's C++ object is gone.
def _while_alive(owner: QObject, fn: Callable[..., None] | None) -> Callable[..., None] | None:
    if fn is None:
        return None

    def call(*args: Any) -> None:
        if isValid(owner):
            fn(*args)

    return call


def start_owned(
    owner: QObject,
    job: Job,
    name: str,
    *,
    finished: Callable[[Any], None] | None = None,
    failed: Callable[[BaseException], None] | None = None,
    progress: Callable[[Any], None] | None = None,
    cancelled: Callable[[], None] | None = None,
) -> Task:
    """Start ``job`` on a worker; its results reach the callables only while ``owner`` exists
    (a window closed meanwhile is gone: its widgets must not be touched)."""
    return start_task(
        job,
        name=name,
        finished=_while_alive(owner, finished),
        failed=_while_alive(owner, failed),
        progress=_while_alive(owner, progress),
        cancelled=_while_alive(owner, cancelled),
    )


# -- the model -------------------------------------------------------------------------------------
class RecordTableModel(QAbstractTableModel):
    """The rows matching one filter, fetched a page at a time.

    Signals: ``pageLoaded(int)`` once a page's rows are all in (the row count),
    ``loadFailed(object)`` with the exception when a page could not be read (fetching stops
    until the next ``set_filter``)."""

    pageLoaded = Signal(int)
    loadFailed = Signal(object)

    def __init__(
        self, page_job: PageJob | None = None, page_size: int = PAGE_SIZE, parent=None
    ) -> None:
        super().__init__(parent)
        self._page_job = page_job
        self._page_size = page_size
        self._filter = BrowseFilter()
        self._rows: list[RecordRow] = []  # in the view's order
        self._loaded: list[RecordRow] = []  # in the store's order (newest first)
        self._sort: tuple[int, Qt.SortOrder] | None = None  # the user's, over the loaded rows
        self._columns: tuple[str, ...] = COLUMNS
        self._generation = 0
        self._active = False  # a filter was set: there is something to fetch
        self._fetching = False  # a page is being read or inserted
        self._exhausted = False
        self._pending: list[RecordRow] = []

    # -- what is shown ---------------------------------------------------------------------------
    @property
    def filter(self) -> BrowseFilter:
        return self._filter

    def columns(self) -> tuple[str, ...]:
        return self._columns

    def set_filter(self, f: BrowseFilter) -> None:
        """Show the records matching ``f``: forget the rows and read the first page."""
        self.beginResetModel()
        self._generation += 1
        self._filter = f
        self._columns = (*COLUMNS, SNIPPET) if f.text.strip() else COLUMNS
        self._rows = []
        self._loaded = []
        self._pending = []
        self._fetching = False
        self._exhausted = False
        self._active = self._page_job is not None
        self.endResetModel()
        if self._active:
            self.fetchMore(QModelIndex())

    def is_fetching(self) -> bool:
        return self._fetching

    def is_complete(self) -> bool:
        """Every matching row is loaded."""
        return self._exhausted

    def row(self, row: int) -> RecordRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of_key(self, key: str) -> int:
        for i, r in enumerate(self._rows):
            if r.key == key:
                return i
        return -1

    # -- lazy fetching ---------------------------------------------------------------------------
    def canFetchMore(self, parent: Index) -> bool:
        if parent.isValid():
            return False
        return self._active and not self._fetching and not self.is_complete()

    def fetchMore(self, parent: Index) -> None:
        if not self.canFetchMore(parent) or self._page_job is None:
            return
        self._fetching = True
        generation = self._generation
        start_owned(
            self,
            self._page_job(self._filter, len(self._loaded), self._page_size),
            "browse-page",
            finished=partial(self._on_page, generation),
            failed=partial(self._on_failed, generation),
        )

    def _on_page(self, generation: int, rows: list[RecordRow]) -> None:
        if generation != self._generation:
            return  # a page of a filter no longer shown
        if len(rows) < self._page_size:
            self._exhausted = True
        # The rows stay as long as the view shows them, and hold no cycles: out of the cyclic
        # collector's sight (reference counting still frees them), a full collection never
        # walks a hundred thousand loaded rows on the GUI thread (60 ms gaps at 100,000 rows
        # without this, 19 ms with it: bench/browser_probe.py).
        gc.freeze()
        self._pending = list(rows)
        self._insert_batch(generation)

    def _insert_batch(self, generation: int) -> None:
        if generation != self._generation:
            return
        batch, self._pending = self._pending[:INSERT_BATCH], self._pending[INSERT_BATCH:]
        if batch:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(batch) - 1)
            self._rows.extend(batch)
            self._loaded.extend(batch)
            self.endInsertRows()
        if self._pending:
            QTimer.singleShot(0, self, lambda g=generation: self._insert_batch(g))
            return
        if self._sort is not None:  # the new rows go to their places among the loaded ones
            self._apply_sort()
        self._fetching = False
        self.pageLoaded.emit(len(self._rows))

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._fetching = False
        self._exhausted = True  # no retry loop on a broken store: the next filter tries again
        self.loadFailed.emit(exc)

    # -- sorting -------------------------------------------------------------------------------
    # The rows loaded so far are sorted here, with one key per row (a proxy's comparisons would
    # call back into Python for every pair: a second for 20,000 rows on the GUI thread).
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (column, order) if 0 <= column < len(self._columns) else None
        self._apply_sort()

    def _apply_sort(self) -> None:
        if self._sort is None:
            rows = list(self._loaded)
        else:
            column, order = self._sort
            col = self._columns[column]
            rows = sorted(
                self._loaded,
                key=lambda r: sort_key(r, col),
                reverse=order == Qt.SortOrder.DescendingOrder,
            )
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        place = {id(r): i for i, r in enumerate(rows)}
        new = [
            self.index(place[id(self._rows[i.row()])], i.column())
            if 0 <= i.row() < len(self._rows)
            else QModelIndex()
            for i in old
        ]
        self._rows = rows
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    # -- Qt model --------------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._columns):
            return None
        col = self._columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == SNIPPET:
                return "The words found, in context"
            return "Sorts the rows loaded so far (the store lists the newest first)"
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # (a view asks for a dozen roles per cell it paints: the others answer at once)
        if role not in _ROLES or (
            not index.isValid()
            or not 0 <= index.row() < len(self._rows)
            or not 0 <= index.column() < len(self._columns)
        ):
            return None
        row = self._rows[index.row()]
        col = self._columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return cell_text(row, col)
        if role == ROW_ROLE:
            return row
        if role == SORT_ROLE:
            return sort_key(row, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == "when":
                return plain_tooltip(row.when) or None
            return plain_tooltip(_cell_value(row, col)) or None
        return None


def _cell_value(row: RecordRow, col: str) -> str:
    if col == "title":
        return row.title or ""
    if col == "project":
        return row.project or ""
    if col == "agent":
        return row.agent or ""
    if col == "when":
        return row.when or ""
    if col == "format":
        return row.source_format or ""
    if col == SNIPPET:
        return row.snippet or ""
    return ""


def sort_key(row: RecordRow, col: str) -> str:
    return (row.when or "") if col == "when" else cell_text(row, col).lower()


def cell_text(row: RecordRow, col: str) -> str:
    """What a cell shows: one line (record text may hold line breaks)."""
    if col == "when":
        return local_time(row.when)
    if col == "title" and not row.title:
        return row.key
    if col == "format" and not row.source_format:
        return "agentmemory"
    return " ".join(_cell_value(row, col).split())


class RecordProxy(QSortFilterProxyModel):
    """The view's model: asked to sort, it has a RecordTableModel sort the rows loaded so far
    (itself it keeps the source's order); over another model it sorts on ``SORT_ROLE``."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        source = self.sourceModel()
        if isinstance(source, RecordTableModel):
            source.sort(column, order)
        else:
            super().sort(column, order)

    def record_row(self, index: QModelIndex) -> RecordRow | None:
        if not index.isValid():
            return None
        return self.data(index.siblingAtColumn(0), ROW_ROLE)


# -- describing a record ---------------------------------------------------------------------------
# Fields shown first, in this order, with their labels; the rest follow under "Other fields".
# A block field is shown under its label, indented (long text); the others on one line.
FIELDS: tuple[tuple[str, str], ...] = (
    ("title", "Title"),
    ("name", "Name"),
    ("subtitle", "Subtitle"),
    ("type", "Type"),
    ("content", "Content"),
    ("narrative", "Narrative"),
    ("summary", "Summary"),
    ("facts", "Facts"),
    ("project", "Project"),
    ("cwd", "Folder"),
    ("agentId", "Agent"),
    ("status", "Status"),
    ("createdAt", "Created"),
    ("updatedAt", "Updated"),
    ("startedAt", "Started"),
    ("endedAt", "Ended"),
    ("timestamp", "Time"),
    ("concepts", "Concepts"),
    ("files", "Files"),
    ("sessionId", "Session"),
    ("sessionIds", "Sessions"),
    ("sourceNodeId", "From node"),
    ("targetNodeId", "To node"),
    ("weight", "Weight"),
    ("importance", "Importance"),
    ("strength", "Strength"),
    ("observationCount", "Observations"),
    ("model", "Model"),
    ("tags", "Tags"),
    ("version", "Version"),
    ("isLatest", "Latest version"),
    ("id", "Id"),
)
BLOCK_FIELDS = frozenset({"content", "narrative", "summary", "facts"})
TIME_FIELDS = frozenset({"createdAt", "updatedAt", "startedAt", "endedAt", "timestamp"})
_LABEL_WIDTH = max(len(label) for _f, label in FIELDS) + 2


def _clip(text: str, limit: int = TEXT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… ({fmt_int(len(text) - limit)} more characters not shown)"


def _value_text(field: str, value: Any) -> str:
    if field in TIME_FIELDS and isinstance(value, str) and value:
        shown = local_time(value)
        return shown if shown == value else f"{shown}  ({value})"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(
        isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value
    ):
        return ", ".join(str(v) for v in value)
    return json.dumps(value, ensure_ascii=False)


def describe_record(collection: str, record: dict) -> str:
    """A stored record's mapped fields as plain text: the known fields first (long text under
    its label), then the others, then where it came from (the source copy itself is
    ``source_text``)."""
    lines: list[str] = []
    shown: set[str] = {"source"}
    for field, label in FIELDS:
        if field not in record:
            continue
        shown.add(field)
        value = record[field]
        if value is None or value == "" or value == []:
            continue
        if field in BLOCK_FIELDS:
            if isinstance(value, list):
                body = "\n".join(f"• {_value_text(field, v)}" for v in value)
            else:
                body = _value_text(field, value)
            lines.append("")
            lines.append(f"{label}:")
            lines.extend("  " + line for line in _clip(body).splitlines() or [""])
            lines.append("")
        else:
            lines.append(f"{label + ':':<{_LABEL_WIDTH}}{_clip(_value_text(field, value))}")
    others = [k for k in record if k not in shown]
    if others:
        lines.append("")
        lines.append("Other fields:")
        for key in others:
            lines.append(f"  {key}: {_clip(_value_text(key, record[key]))}")
    source = record.get("source")
    lines.append("")
    if isinstance(source, dict):
        system, fmt = source.get("system") or "?", source.get("format") or "?"
        lines.append(f"{'Source:':<{_LABEL_WIDTH}}{system} ({fmt})")
    else:
        lines.append(f"{'Source:':<{_LABEL_WIDTH}}agentmemory (no converted source copy)")
    text = "\n".join(lines).strip("\n")
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return f"{noun(collection, 1).capitalize()}\n\n{text}"


def source_text(record: dict) -> str | None:
    """The record's verbatim source copy (``source.raw``) pretty-printed; None when it has
    none."""
    source = record.get("source")
    if not isinstance(source, dict) or "raw" not in source:
        return None
    raw = source["raw"]
    text = raw if isinstance(raw, str) else json.dumps(raw, indent=2, ensure_ascii=False)
    return _clip(text, SOURCE_LIMIT)
