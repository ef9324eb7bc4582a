"""The audit history as a Qt model: a QAbstractTableModel over the entries (plain dicts from
``audit.list_entries``, newest first) and a sort/filter proxy (outcome, format, text). An import
whose revert data a prune dropped is marked "revert data pruned"; a revert shows the file of the
import it reverted."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QGuiApplication

from wizard.core.names import Operation, Outcome
from wizard.core.terminal import spreadsheet_safe
from wizard.ui.formatting import fmt_duration_ms, fmt_int, plural
from wizard.ui.labels import OPERATION_LABELS, OUTCOME_MARKS, readable_version
from wizard.ui.plain_text import plain_tooltip
from wizard.ui.results import written_totals
from wizard.ui.status import status_color

ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2

COLUMNS = ("id", "time", "operation", "outcome", "strategy", "format", "file", "counts", "duration")
HEADERS = {
    "id": "#",
    "time": "Time",
    "operation": "Operation",
    "outcome": "Outcome",
    "strategy": "Strategy",
    "format": "Format",
    "file": "File",
    "counts": "Records",
    "duration": "Duration",
}
# The outcome filter: every outcome the audit records (a dry run is never audited), and
# "reverted" (imports undone, and the reverts that undid them).
REVERTED = "reverted"
OUTCOMES: tuple[str, ...] = (*(str(o) for o in Outcome if o != Outcome.PLANNED), REVERTED)

Index = QModelIndex | QPersistentModelIndex


def local_time(ts: str | None) -> str:
    """An ISO-8601 UTC timestamp shown in local time, to the second."""
    if not ts:
        return ""
    try:
        dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return ts
    return dt.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def file_name(entry: dict) -> str:
    src = entry.get("source") or {}
    return src.get("name") or ""


def format_text(entry: dict) -> str:
    """The format's id, and the export's version when it is one people read as a version."""
    fmt = entry.get("format") or ""
    version = readable_version(entry.get("source_version"))
    return f"{fmt} {version}" if fmt and version else fmt


PRUNED_MARK = "revert data pruned"


def is_pruned(entry: dict) -> bool:
    """Whether a prune dropped this import's revert data (it can no longer be reverted)."""
    return entry.get("pruned_by") is not None


def pruned_text(entry: dict) -> str:
    """Why a pruned import can no longer be reverted, in one sentence."""
    when = local_time(entry.get("pruned_at"))
    return (
        f"Its revert data was dropped by prune #{entry.get('pruned_by')}"
        + (f" on {when}" if when else "")
        + ": it can no longer be reverted."
    )


def counts_text(entry: dict) -> str:
    """A short summary of an entry's counts."""
    counts = entry.get("counts") or {}
    if entry.get("operation") == Operation.PRUNE:
        rows = counts.get("rows")
        if entry.get("outcome") != Outcome.SUCCEEDED or not isinstance(rows, int):
            return ""
        return f"{plural(rows, 'version')} dropped"
    if entry.get("operation") == Operation.REVERT:
        removed = sum(v for v in (counts.get("removed") or {}).values() if isinstance(v, int))
        restored = sum(v for v in (counts.get("restored") or {}).values() if isinstance(v, int))
        if entry.get("outcome") != Outcome.SUCCEEDED:
            n = len(counts.get("conflicts") or [])
            return plural(n, "conflict") if n else ""
        return f"{fmt_int(removed)} removed, {fmt_int(restored)} restored"
    if counts.get("collections") and entry.get("outcome") == Outcome.SUCCEEDED:
        t = written_totals(entry)
        parts = [f"{fmt_int(t['inserted'] + t['updated'])} written"]
        if t["unchanged"]:
            parts.append(f"{fmt_int(t['unchanged'])} unchanged")
        if t["skipped"]:
            parts.append(f"{fmt_int(t['skipped'])} skipped")
        if t["deleted"]:
            parts.append(f"{fmt_int(t['deleted'])} deleted")
        return ", ".join(parts)
    source = counts.get("source") or {}
    n = sum(v for v in source.values() if isinstance(v, int))
    return f"{fmt_int(n)} in file" if source else ""


def outcome_text(entry: dict) -> str:
    outcome = entry.get("outcome") or ""
    mark = OUTCOME_MARKS[Outcome(outcome)] if outcome in set(Outcome) else ""
    text = f"{mark} {outcome}".strip()
    if entry.get("reverted_by") is not None:
        text += f" (reverted by #{entry['reverted_by']})"
    if is_pruned(entry):
        text += f" ({PRUNED_MARK})"
    return text


def outcome_ok(entry: dict) -> bool | None:
    outcome = entry.get("outcome")
    if outcome == Outcome.SUCCEEDED:
        return None if entry.get("reverted_by") is not None else True
    if outcome in (Outcome.CANCELLED, Outcome.INTERRUPTED):
        return None
    return False


def operation_text(entry: dict) -> str:
    op = entry.get("operation") or ""
    label = OPERATION_LABELS[Operation(op)] if op in set(Operation) else op
    if op == Operation.REVERT and entry.get("target_id") is not None:
        return f"{label} of #{entry['target_id']}"
    older_than = (entry.get("options") or {}).get("older_than")
    if op == Operation.PRUNE and older_than:
        return f"{label}, older than {older_than}"
    return label


def duration_text(entry: dict) -> str:
    """How long the attempt took, as the result page writes an import's duration."""
    return fmt_duration_ms(entry.get("duration_ms"))


class AuditTableModel(QAbstractTableModel):
    """Read-only table of audit entries; ``ENTRY_ROLE`` gives an entry's dict."""

    def __init__(self, entries: list[dict] | None = None, parent=None) -> None:
        super().__init__(parent)
        self._entries: list[dict] = list(entries or [])
        self._by_id = self._index(self._entries)

    @staticmethod
    def _index(entries: list[dict]) -> dict[int, dict]:
        return {e["id"]: e for e in entries if isinstance(e.get("id"), int)}

    # -- data ------------------------------------------------------------------------------------
    def set_entries(self, entries: list[dict]) -> None:
        self.beginResetModel()
        self._entries = list(entries)
        self._by_id = self._index(self._entries)
        self.endResetModel()

    def source_of(self, entry: dict) -> dict:
        """The file an entry is about: its own, or for a revert the file of the import it
        reverted (when that import is loaded)."""
        src = entry.get("source") or {}
        if not src and entry.get("operation") == Operation.REVERT:
            target_id = entry.get("target_id")
            target = self._by_id.get(target_id) if isinstance(target_id, int) else None
            if target is not None:
                src = target.get("source") or {}
        return src

    def entries(self) -> list[dict]:
        return list(self._entries)

    def entry(self, row: int) -> dict | None:
        return self._entries[row] if 0 <= row < len(self._entries) else None

    def row_of_id(self, audit_id: int) -> int:
        for row, e in enumerate(self._entries):
            if e.get("id") == audit_id:
                return row
        return -1

    def formats(self) -> list[str]:
        return sorted({e["format"] for e in self._entries if e.get("format")})

    # -- Qt model --------------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._entries)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return HEADERS[COLUMNS[section]]
            if role == Qt.ItemDataRole.ToolTipRole and COLUMNS[section] == "counts":
                return "Records written (imports) or removed and restored (reverts)"
        if (
            orientation == Qt.Orientation.Vertical
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self._entries)
        ):
            return str(section + 1)
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (
            not index.isValid()
            or not (0 <= index.row() < len(self._entries))
            or not (0 <= index.column() < len(COLUMNS))
        ):
            return None
        entry = self._entries[index.row()]
        col = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            if col == "file":
                return self.source_of(entry).get("name") or ""
            return self._display(entry, col)
        if role == ENTRY_ROLE:
            return entry
        if role == SORT_ROLE:
            return self._sort_key(entry, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == "file":
                return plain_tooltip(self.source_of(entry).get("path")) or None
            if col == "outcome" and is_pruned(entry):
                return plain_tooltip(pruned_text(entry))
            if col == "outcome" and entry.get("error"):
                return plain_tooltip(entry["error"])
            if col == "time":
                return plain_tooltip(entry.get("timestamp")) or None
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and col in ("id", "duration"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and col == "outcome":
            return _outcome_color(outcome_ok(entry))
        return None

    @staticmethod
    def _display(entry: dict, col: str) -> str:
        if col == "id":
            return str(entry.get("id", ""))
        if col == "time":
            return local_time(entry.get("timestamp"))
        if col == "operation":
            return operation_text(entry)
        if col == "outcome":
            return outcome_text(entry)
        if col == "strategy":
            return entry.get("strategy") or ""
        if col == "format":
            return format_text(entry)
        if col == "file":
            return file_name(entry)
        if col == "counts":
            return counts_text(entry)
        if col == "duration":
            return duration_text(entry)
        return ""

    def _sort_key(self, entry: dict, col: str) -> Any:
        if col in ("id", "time"):
            return int(entry.get("id") or 0)
        if col == "duration":
            return float(entry.get("duration_ms") or 0)
        if col == "counts":
            t = written_totals(entry)
            return t["inserted"] + t["updated"]
        if col == "file":
            return self.source_of(entry).get("name", "").lower()
        return AuditTableModel._display(entry, col).lower()


def _outcome_color(ok: bool | None) -> QColor:
    return status_color(QGuiApplication.palette(), ok)


def _matches_outcome(entry: dict, outcome: str) -> bool:
    if not outcome:
        return True
    if outcome == REVERTED:
        return entry.get("reverted_by") is not None or entry.get("operation") == Operation.REVERT
    return entry.get("outcome") == outcome


def entry_search_text(entry: dict) -> str:
    src = entry.get("source") or {}
    parts = [
        str(entry.get("id", "")),
        entry.get("operation"),
        entry.get("outcome"),
        entry.get("strategy"),
        entry.get("format"),
        entry.get("source_version"),
        src.get("name"),
        src.get("path"),
        src.get("sha256"),
        entry.get("error"),
        entry.get("user"),
        local_time(entry.get("timestamp")),
        PRUNED_MARK if is_pruned(entry) else None,
    ]
    return "\n".join(p for p in parts if p).lower()


class AuditFilterProxy(QSortFilterProxyModel):
    """Filters by outcome, operation, format and free text; sorts on SORT_ROLE (newest first by
    default)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._outcome = ""
        self._operation = ""
        self._format = ""
        self._text = ""
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def _begin(self) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.10+
            self.beginFilterChange()

    def _end(self) -> None:
        if hasattr(self, "endFilterChange"):
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:  # pragma: no cover - older Qt
            self.invalidateFilter()

    def set_outcome(self, outcome: str) -> None:
        self._begin()
        self._outcome = outcome
        self._end()

    def set_operation(self, operation: str) -> None:
        self._begin()
        self._operation = operation
        self._end()

    def set_format(self, fmt: str) -> None:
        self._begin()
        self._format = fmt
        self._end()

    def set_text(self, text: str) -> None:
        self._begin()
        self._text = text.strip().lower()
        self._end()

    def filterAcceptsRow(self, source_row: int, _source_parent: Index) -> bool:
        model = self.sourceModel()
        if not isinstance(model, AuditTableModel):
            return True
        entry = model.entry(source_row)
        if entry is None:
            return False
        if not _matches_outcome(entry, self._outcome):
            return False
        if self._operation and entry.get("operation") != self._operation:
            return False
        if self._format and entry.get("format") != self._format:
            return False
        return not self._text or all(
            word in entry_search_text(entry) for word in self._text.split()
        )

    def visible_entries(self) -> list[dict]:
        out = []
        for row in range(self.rowCount()):
            entry = self.data(self.index(row, 0), ENTRY_ROLE)
            if entry is not None:
                out.append(entry)
        return out


# -- export -------------------------------------------------------------------------------------
CSV_FIELDS = (
    "id",
    "timestamp",
    "operation",
    "outcome",
    "strategy",
    "format",
    "source_version",
    "file_name",
    "file_path",
    "file_size",
    "file_sha256",
    "written",
    "skipped",
    "deleted",
    "duration_ms",
    "error",
    "target_id",
    "reverted_by",
    "pruned_by",
    "user",
    "app_version",
    "schema_version",
    "counts",
    "caps",
    "options",
)


def entries_to_csv(entries: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for e in entries:
        writer.writerow({k: spreadsheet_safe(v) for k, v in _csv_row(e).items()})
    return buf.getvalue()


def _csv_row(e: dict) -> dict:
    """One entry as CSV cells (before they are made safe for spreadsheets)."""
    src = e.get("source") or {}
    t = written_totals(e)
    return {
        "id": e.get("id"),
        "timestamp": e.get("timestamp"),
        "operation": e.get("operation"),
        "outcome": e.get("outcome"),
        "strategy": e.get("strategy"),
        "format": e.get("format"),
        "source_version": e.get("source_version"),
        "file_name": src.get("name"),
        "file_path": src.get("path"),
        "file_size": src.get("size"),
        "file_sha256": src.get("sha256"),
        "written": t["inserted"] + t["updated"],
        "skipped": t["skipped"],
        "deleted": t["deleted"],
        "duration_ms": e.get("duration_ms"),
        "error": e.get("error"),
        "target_id": e.get("target_id"),
        "reverted_by": e.get("reverted_by"),
        "pruned_by": e.get("pruned_by"),
        "user": e.get("user"),
        "app_version": e.get("app_version"),
        "schema_version": e.get("schema_version"),
        "counts": json.dumps(e.get("counts") or {}, ensure_ascii=False),
        "caps": json.dumps(e.get("caps") or [], ensure_ascii=False),
        "options": json.dumps(e.get("options") or {}, ensure_ascii=False),
    }


def entries_to_json(entries: list[dict]) -> str:
    return json.dumps(entries, indent=2, ensure_ascii=False) + "\n"
