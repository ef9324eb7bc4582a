"""The audit history window: every attempt, newest first, filterable; the whole entry in a
details pane; export of the (filtered) history to CSV or JSON; revert of a selected import (an
import whose revert data was pruned is marked, and asking to revert it says why it cannot)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QCloseEvent, QFontDatabase, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from wizard.core.collections import in_order
from wizard.core.names import Operation, Outcome
from wizard.core.outputs import OutputRefused, protected_paths, write_text_atomic
from wizard.runs import RevertPreview, RevertResult
from wizard.store.database import StoreError
from wizard.ui import backend
from wizard.ui.ask import Ask
from wizard.ui.audit_model import (
    COLUMNS,
    ENTRY_ROLE,
    OUTCOMES,
    REVERTED,
    AuditFilterProxy,
    AuditTableModel,
    entries_to_csv,
    entries_to_json,
    is_pruned,
    local_time,
    operation_text,
    pruned_text,
)
from wizard.ui.error_dialog import show_store_error, show_unexpected_error
from wizard.ui.formatting import fmt_duration_ms, fmt_int, fmt_size, plural
from wizard.ui.labels import (
    OPERATION_LABELS,
    OUTCOME_LABELS,
    cap_label,
    collection_label,
    count_of,
    readable_version,
)
from wizard.ui.plain_text import plain_message_box
from wizard.ui.results import PLAN_COLUMNS
from wizard.ui.settings import Settings
from wizard.ui.worker import Task

WINDOW_TITLE = "Audit history — AgentMemory Migration Wizard"


# Options the details name in words; any other option is listed as "name: value".
_OPTIONS_SHOWN = frozenset(
    {
        "treat_as_version",
        "skip_invalid",
        "skipped_invalid",
        "skipped_invalid_total",
        "include_deleted",
        "include_inactive",
        "url",
        "server_version",
        "declared_version",
        "scope",
        "older_than",
        "cutoff",
    }
)


def _plain_value(value: object) -> str:
    """An option's value in words: lists joined, objects as 'key value' pairs, no JSON."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain_value(v) for v in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{k} {_plain_value(v)}" for k, v in value.items()) or "none"
    return fmt_int(value) if isinstance(value, int) else str(value)


def describe_entry(entry: dict, source: dict | None = None) -> str:
    """The whole entry as readable plain text, line by line (no JSON). ``source``: the file
    the entry is about when it has none of its own (a revert: its import's file)."""
    lines: list[str] = []
    op = operation_text(entry)
    lines.append(f"Audit entry #{entry.get('id')} — {op}, {entry.get('outcome')}")
    if entry.get("reverted_by") is not None:
        lines.append(f"Reverted by entry #{entry['reverted_by']}.")
    if is_pruned(entry):
        lines.append(pruned_text(entry))
    lines.append("")
    ts = entry.get("timestamp")
    lines.append(f"Time:            {local_time(ts)}  ({ts})")
    src = entry.get("source") or source or {}
    options = entry.get("options") or {}
    if entry.get("operation") == Operation.DELIVER:
        lines.append(f"Server:          {options.get('url') or src.get('name')}")
        versions = f"{options.get('server_version')} (declared {options.get('declared_version')})"
        lines.append(f"agentmemory:     {versions}")
        scope = options.get("scope") or "store"
        what = "the whole store" if scope == "store" else f"import #{scope.partition(':')[2]}"
        lines.append(f"Sent:            {what}")
    elif entry.get("operation") == Operation.PRUNE:
        lines.extend(_prune_lines(entry))
    elif src:
        lines.append(f"File:            {src.get('name')}  ({fmt_size(src.get('size'))})")
        lines.append(f"Path:            {src.get('path')}")
        lines.append(f"SHA-256:         {src.get('sha256')}")
    if entry.get("format"):
        version = readable_version(entry.get("source_version"))
        lines.append(
            f"Format:          {entry['format']}" + (f", version {version}" if version else "")
        )
    if entry.get("strategy"):
        lines.append(f"Strategy:        {entry['strategy']}")
    took = fmt_duration_ms(entry.get("duration_ms"))
    if took:
        lines.append(f"Duration:        {took}")
    lines.append(f"User:            {entry.get('user')}")
    lines.append(
        f"App version:     {entry.get('app_version')}  (store schema {entry.get('schema_version')})"
    )
    options = entry.get("options") or {}
    chosen = []
    if options.get("treat_as_version"):
        chosen.append(f"read as agentmemory version {options['treat_as_version']}")
    if options.get("skip_invalid"):
        n = options.get("skipped_invalid_total") or len(options.get("skipped_invalid") or [])
        chosen.append(f"imported only the valid records ({fmt_int(n)} left out)")
    if options.get("include_deleted"):
        chosen.append("included deleted memories")
    if options.get("include_inactive"):
        chosen.append("included paused and archived memories")
    if chosen:
        lines.append("Choices:         " + "; ".join(chosen))
    for key, value in options.items():
        if key not in _OPTIONS_SHOWN and value not in (None, False, "", [], {}):
            lines.append(f"{key.replace('_', ' ').capitalize() + ':':<17}{_plain_value(value)}")
    if entry.get("error"):
        lines.append("")
        code = entry.get("error_code")
        lines.append(f"Error ({code}):" if code else "Error:")
        lines.append(f"  {entry['error']}")
    counts = entry.get("counts") or {}
    cols = counts.get("collections") or {}
    if cols:
        lines.append("")
        partial = " (how far it got; none of it was kept)" if counts.get("partial") else ""
        lines.append(f"Records per collection{partial}:")
        head = PLAN_COLUMNS
        width = max(len(collection_label(n)) for n in cols) + 2
        lines.append("  " + "Collection".ljust(width) + "".join(h.rjust(11) for h in head))
        for name in in_order(cols):  # (a stored entry's keys come back sorted by name)
            c = cols[name]
            lines.append(
                "  "
                + collection_label(name).ljust(width)
                + "".join(fmt_int(c.get(h, 0)).rjust(11) for h in head)
            )
    for key, title in (("removed", "Removed by the revert"), ("restored", "Put back")):
        part = counts.get(key) or {}
        if part:
            lines.append("")
            lines.append(f"{title}:")
            for name, n in part.items():
                lines.append(f"  {collection_label(name)}: {fmt_int(n)}")
    source = counts.get("source") or {}
    if source:
        lines.append("")
        lines.append("In the file:")
        for name, n in source.items():
            lines.append(f"  {collection_label(name)}: {fmt_int(n)}")
    caps = entry.get("caps") or []
    if caps:
        lines.append("")
        lines.append("agentmemory's caps:")
        for cap in caps:
            ok = bool(cap.get("ok"))
            # agentmemory's message ("Too many memories") is said of an exceeded cap only
            lines.append(
                f"  {'within the cap' if ok else 'OVER THE CAP':<15}"
                f"{cap_label(str(cap.get('name')))}: {fmt_int(cap.get('count'))} of "
                f"{fmt_int(cap.get('limit'))}" + ("" if ok else f" ({cap.get('message')})")
            )
    skipped = options.get("skipped_invalid") or []
    if skipped:
        lines.append("")
        lines.append("Invalid records left out:")
        for path in skipped[:50]:
            lines.append(f"  {path}")
        total = max(options.get("skipped_invalid_total") or 0, len(skipped))
        if total > 50:
            lines.append(f"  … and {fmt_int(total - 50)} more (Export JSON lists those recorded)")
    return "\n".join(lines)


def _prune_lines(entry: dict) -> list[str]:
    """What a prune entry dropped, and the store file's size before and after."""
    options = entry.get("options") or {}
    counts = entry.get("counts") or {}
    lines = [
        f"Dropped:         revert data older than {options.get('older_than')} (entries before "
        f"{local_time(options.get('cutoff'))})"
    ]
    if isinstance(counts.get("rows"), int):
        partial = " (rolled back: none of it was dropped)" if counts.get("partial") else ""
        lines.append(
            f"Versions:        {plural(counts['rows'], 'previous version')} of records "
            f"({fmt_size(counts.get('data_bytes'))}), kept by "
            f"{plural(int(counts.get('entries') or 0), 'entry', 'entries')}{partial}"
        )
    imports = counts.get("imports") or []
    if imports and not counts.get("partial"):
        lines.append(
            "No longer revertible: "
            + ", ".join(f"#{n}" for n in imports[:50])
            + (f" and {fmt_int(len(imports) - 50)} more" if len(imports) > 50 else "")
        )
    before, after = counts.get("file_bytes_before"), counts.get("file_bytes_after")
    if isinstance(before, int):
        size = f"{fmt_size(before)} before" + (
            f", {fmt_size(after)} after" if isinstance(after, int) else ""
        )
        lines.append(f"Store file:      {size}")
    if counts.get("compact_error"):
        lines.append(f"Not compacted:   {counts['compact_error']}")
    return lines


def describe_preview(preview: RevertPreview) -> str:
    removed = preview.remove
    restored = preview.restore
    parts = []
    if removed:
        n = sum(removed.values())
        detail = ", ".join(count_of(k, v) for k, v in removed.items())
        parts.append(f"Removes the {plural(n, 'record')} this import added ({detail}).")
    if restored:
        n = sum(restored.values())
        detail = ", ".join(count_of(k, v) for k, v in restored.items())
        parts.append(
            f"Puts back the previous version of {plural(n, 'record')} it overwrote or "
            f"deleted ({detail})."
        )
    if not parts:
        parts.append("The import changed no records; reverting only marks it as reverted.")
    parts.append("The revert is one transaction and is recorded in the audit history.")
    return "\n\n".join(parts)


class AuditWindow(QMainWindow):
    entriesLoaded = Signal()
    revertFinished = Signal(object)
    exportFinished = Signal(str)

    def __init__(
        self,
        db_path: str | os.PathLike,
        settings: Settings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("auditWindow")
        self.setWindowTitle(f"{WINDOW_TITLE} — {Path(db_path).name}")  # which store
        self.db_path = Path(db_path)
        self.settings = settings or Settings()
        self.store = backend.StoreHandle(self.db_path)
        self.load_task: Task | None = None
        self.busy_task: Task | None = None
        self._select_after_load: int | None = None

        central = QWidget()
        self.setCentralWidget(central)
        layout = QVBoxLayout(central)

        bar = QHBoxLayout()
        outcome_label = QLabel("&Outcome:")
        self.outcome_filter = QComboBox()
        self.outcome_filter.setObjectName("outcomeFilter")
        self.outcome_filter.setAccessibleName("Filter by outcome")
        self.outcome_filter.addItem("All", "")
        for outcome in OUTCOMES:
            label = OUTCOME_LABELS[Outcome(outcome)] if outcome != REVERTED else "Reverted"
            self.outcome_filter.addItem(label, outcome)
        outcome_label.setBuddy(self.outcome_filter)
        operation_label = QLabel("O&peration:")
        self.operation_filter = QComboBox()
        self.operation_filter.setObjectName("operationFilter")
        self.operation_filter.setAccessibleName("Filter by operation")
        self.operation_filter.addItem("All", "")
        for operation in Operation:
            self.operation_filter.addItem(OPERATION_LABELS[operation].capitalize(), str(operation))
        operation_label.setBuddy(self.operation_filter)
        format_label = QLabel("&Format:")
        self.format_filter = QComboBox()
        self.format_filter.setObjectName("formatFilter")
        self.format_filter.setAccessibleName("Filter by format")
        self.format_filter.addItem("All", "")
        self.format_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        format_label.setBuddy(self.format_filter)
        self.search = QLineEdit()
        self.search.setObjectName("auditSearch")
        self.search.setAccessibleName("Search the history")
        self.search.setPlaceholderText("Search file, error, id, user…")
        self.search.setClearButtonEnabled(True)
        self.refresh_button = QPushButton("R&efresh")
        self.refresh_button.setObjectName("refreshButton")
        self.refresh_button.clicked.connect(self.reload)
        bar.addWidget(outcome_label)
        bar.addWidget(self.outcome_filter)
        bar.addSpacing(12)
        bar.addWidget(operation_label)
        bar.addWidget(self.operation_filter)
        bar.addSpacing(12)
        bar.addWidget(format_label)
        bar.addWidget(self.format_filter)
        bar.addSpacing(12)
        bar.addWidget(self.search, 1)
        bar.addWidget(self.refresh_button)
        layout.addLayout(bar)

        self.model = AuditTableModel(parent=self)
        self.proxy = AuditFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setObjectName("auditTable")
        self.table.setAccessibleName("Audit entries")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 10)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for col, name in enumerate(COLUMNS):
            mode = (
                QHeaderView.ResizeMode.Stretch
                if name == "file"
                else QHeaderView.ResizeMode.ResizeToContents
            )
            header.setSectionResizeMode(col, mode)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_changed)

        self.details = QPlainTextEdit()
        self.details.setObjectName("auditDetails")
        self.details.setAccessibleName("Entry details")
        self.details.setReadOnly(True)
        self.details.setAcceptDrops(False)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.setPlaceholderText("Select an entry to see all of it.")
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        layout.addWidget(self.splitter, 1)

        buttons = QHBoxLayout()
        self.export_csv_button = QPushButton("Export &CSV…")
        self.export_csv_button.setObjectName("exportCsvButton")
        self.export_csv_button.setToolTip("Save the entries shown (filters applied) as CSV")
        self.export_csv_button.clicked.connect(lambda: self.export("csv"))
        self.export_json_button = QPushButton("Export &JSON…")
        self.export_json_button.setObjectName("exportJsonButton")
        self.export_json_button.setToolTip("Save the entries shown (filters applied) as JSON")
        self.export_json_button.clicked.connect(lambda: self.export("json"))
        self.revert_button = QPushButton("&Revert this import…")
        self.revert_button.setObjectName("revertButton")
        self.revert_button.setToolTip("Undo the selected successful import")
        self.revert_button.setEnabled(False)
        self.revert_button.clicked.connect(self.revert_selected)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        buttons.addWidget(self.export_csv_button)
        buttons.addWidget(self.export_json_button)
        buttons.addStretch(1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)

        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setObjectName("auditStatus")
        self.statusBar().addWidget(self.status, 1)

        self.outcome_filter.currentIndexChanged.connect(
            lambda _i: self._apply_filter(self.proxy.set_outcome, self.outcome_filter.currentData())
        )
        self.operation_filter.currentIndexChanged.connect(
            lambda _i: self._apply_filter(
                self.proxy.set_operation, self.operation_filter.currentData() or ""
            )
        )
        self.format_filter.currentIndexChanged.connect(
            lambda _i: self._apply_filter(
                self.proxy.set_format, self.format_filter.currentData() or ""
            )
        )
        self.search.textChanged.connect(lambda t: self._apply_filter(self.proxy.set_text, t))
        for key, slot in (
            (QKeySequence.StandardKey.Find, self.search.setFocus),
            (QKeySequence.StandardKey.Refresh, self.reload),
            (QKeySequence.StandardKey.Close, self.close),
        ):
            QShortcut(QKeySequence(key), self).activated.connect(slot)

        self.resize(1100, 700)
        geometry = self.settings.geometry("audit")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.qsettings.value("geometry/auditSplitter")
        if state is not None:
            self.splitter.restoreState(state)
        self.reload()

    # -- loading ---------------------------------------------------------------------------------
    def is_loading(self) -> bool:
        return self.load_task is not None

    def reload(self) -> None:
        if self.load_task is not None:
            return
        self.status.setText("Loading the history…")
        task = Task(backend.list_entries_job(self.store), name="audit-list")
        task.finished.connect(self._on_loaded)
        task.failed.connect(self._on_load_failed)
        self.load_task = task
        task.start()

    def _on_loaded(self, entries: list[dict]) -> None:
        self.load_task = None
        current = self.current_entry()
        keep = current.get("id") if current else None
        self.model.set_entries(entries)
        self._refresh_format_filter()
        target = self._select_after_load or keep
        self._select_after_load = None
        if target is not None:
            self.select_entry(target)
        elif self.proxy.rowCount() > 0:
            self.table.selectRow(0)
        self._update_status()
        self.entriesLoaded.emit()

    def _on_load_failed(self, exc: BaseException) -> None:
        self.load_task = None
        self.status.setText("The history could not be loaded.")
        self._show_error(exc)
        self.entriesLoaded.emit()

    def _show_error(self, exc: BaseException) -> None:
        if isinstance(exc, StoreError):
            show_store_error(self, exc, self.db_path)
        else:
            show_unexpected_error(exc, self)

    def _refresh_format_filter(self) -> None:
        current = self.format_filter.currentData() or ""
        self.format_filter.blockSignals(True)
        self.format_filter.clear()
        self.format_filter.addItem("All", "")
        for fmt in self.model.formats():
            self.format_filter.addItem(fmt, fmt)
        idx = self.format_filter.findData(current)
        self.format_filter.setCurrentIndex(max(idx, 0))
        self.format_filter.blockSignals(False)
        if idx < 0 and current:
            self.proxy.set_format("")

    def _apply_filter(self, setter, value: str) -> None:
        setter(value)
        self._update_status()
        if not self.table.selectionModel().hasSelection() and self.proxy.rowCount():
            self.table.selectRow(0)
        elif not self.proxy.rowCount():
            self._show_entry(None)

    def _update_status(self) -> None:
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        if total == 0:
            self.status.setText("No attempts recorded yet.")
        elif shown == total:
            self.status.setText(plural(total, "entry", "entries"))
        else:
            self.status.setText(f"{fmt_int(shown)} of {plural(total, 'entry', 'entries')} shown")
        self.export_csv_button.setEnabled(shown > 0)
        self.export_json_button.setEnabled(shown > 0)

    # -- selection and details -------------------------------------------------------------------
    def select_entry_when_loaded(self, audit_id: int) -> None:
        if self.is_loading():
            self._select_after_load = audit_id
        else:
            self.select_entry(audit_id)

    def select_entry(self, audit_id: int) -> bool:
        row = self.model.row_of_id(audit_id)
        if row < 0:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return False
        self.table.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(index)
        return True

    def current_entry(self) -> dict | None:
        index = self.table.selectionModel().currentIndex()
        if not index.isValid():
            return None
        return self.proxy.data(index.siblingAtColumn(0), ENTRY_ROLE)

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        entry = (
            self.proxy.data(current.siblingAtColumn(0), ENTRY_ROLE) if current.isValid() else None
        )
        self._show_entry(entry)

    def _show_entry(self, entry: dict | None) -> None:
        self.details.setPlainText(
            describe_entry(entry, self.model.source_of(entry)) if entry else ""
        )
        revertable = bool(
            entry
            and entry.get("operation") == Operation.IMPORT
            and entry.get("outcome") == Outcome.SUCCEEDED
            and entry.get("reverted_by") is None
        )
        self.revert_button.setEnabled(revertable and self.busy_task is None)
        # A pruned import stays selectable for revert: asking says why it cannot be.
        self.revert_button.setToolTip(
            pruned_text(entry)
            if entry and revertable and is_pruned(entry)
            else "Undo the selected successful import"
        )

    # -- export ----------------------------------------------------------------------------------
    def export(self, kind: str) -> None:
        entries = self.proxy.visible_entries()
        if not entries:
            return
        start = self.settings.last_dir() or os.path.expanduser("~")
        name = f"agentmemory-audit.{kind}"
        flt = "CSV (*.csv)" if kind == "csv" else "JSON (*.json)"
        path, _ = QFileDialog.getSaveFileName(
            self, f"Export the history as {kind.upper()}", os.path.join(start, name), flt
        )
        if not path:
            return
        if not os.path.splitext(path)[1]:
            path += f".{kind}"

        protected = protected_paths(self.db_path)

        def job(_ctx) -> str:
            text = entries_to_csv(entries) if kind == "csv" else entries_to_json(entries)
            # the file dialog asked before replacing a file: force; never the store itself
            write_text_atomic(path, text, protected=protected, force=True)
            return path

        task = Task(job, name="audit-export")
        task.finished.connect(self._on_exported)
        task.failed.connect(self._on_export_failed)
        self._export_count = len(entries)
        task.start()

    def _on_exported(self, path: str) -> None:
        self.status.setText(f"Exported {plural(self._export_count, 'entry', 'entries')} to {path}")
        self.exportFinished.emit(path)

    def _on_export_failed(self, exc: BaseException) -> None:
        if isinstance(exc, (OSError, OutputRefused)):
            box = plain_message_box(
                self,
                QMessageBox.Icon.Warning,
                "Export failed",
                f"The history could not be saved: {exc}",
            )
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
        else:
            show_unexpected_error(exc, self)
        self.exportFinished.emit("")

    # -- revert ----------------------------------------------------------------------------------
    def revert_selected(self) -> None:
        entry = self.current_entry()
        if entry is None or self.busy_task is not None:
            return
        audit_id = int(entry["id"])
        self.status.setText(f"Checking what reverting import #{audit_id} would change…")
        task = Task(backend.revert_preview_job(self.store, audit_id), name="revert-preview")
        task.finished.connect(lambda preview, e=entry: self._on_preview(e, preview))
        task.failed.connect(self._on_busy_failed)
        self._set_busy(task)
        task.start()

    def _set_busy(self, task: Task | None) -> None:
        self.busy_task = task
        self.revert_button.setEnabled(False)
        if task is None:
            self._show_entry(self.current_entry())

    def _on_preview(self, entry: dict, preview: RevertPreview) -> None:
        self._set_busy(None)
        audit_id = int(entry["id"])
        name = (entry.get("source") or {}).get("name") or "the file"
        if not preview.ok:
            # Asked for and refused: the revert run records the refusal (as the CLI's does),
            # then the window says why.
            task = Task(backend.revert_job(self.store, audit_id), name="revert")
            task.finished.connect(lambda result, e=entry: self._on_revert_refused(e, result))
            task.failed.connect(self._on_busy_failed)
            self._set_busy(task)
            task.start()
            return
        text = f"Revert import #{audit_id} of {name} ({local_time(entry.get('timestamp'))})?"
        if not Ask.question(
            self, "Revert this import?", text, describe_preview(preview), yes_text="&Revert"
        ):
            self._update_status()
            self.revertFinished.emit(None)
            return
        self.status.setText(f"Reverting import #{audit_id}…")
        task = Task(backend.revert_job(self.store, audit_id), name="revert")
        task.finished.connect(self._on_reverted)
        task.failed.connect(self._on_busy_failed)
        self._set_busy(task)
        task.start()

    def _on_revert_refused(self, entry: dict, result: RevertResult) -> None:
        self._set_busy(None)
        if result.ok:  # (the store changed in between: it could be reverted after all)
            self._on_reverted(result)
            return
        audit_id = int(entry["id"])
        name = (entry.get("source") or {}).get("name") or "the file"
        box = plain_message_box(
            self,
            QMessageBox.Icon.Information,
            "Cannot revert",
            f"Import #{audit_id} ({name}) cannot be reverted.",
            result.error or "",
            object_name="cannotRevertBox",
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.reload()
        self.revertFinished.emit(result)

    def _on_reverted(self, result: RevertResult) -> None:
        self._set_busy(None)
        new_id = result.audit_id
        if result.ok:
            self._select_after_load = new_id
            self.status.setText(f"Import #{result.target_id} reverted (entry #{new_id}).")
        else:
            box = plain_message_box(
                self,
                QMessageBox.Icon.Warning,
                "Revert refused",
                result.error or "The import could not be reverted.",
            )
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
        self.reload()
        self.revertFinished.emit(result)

    def _on_busy_failed(self, exc: BaseException) -> None:
        self._set_busy(None)
        self._update_status()
        self._show_error(exc)
        self.revertFinished.emit(exc)

    # -- closing ---------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.set_geometry("audit", self.saveGeometry())
        self.settings.qsettings.setValue("geometry/auditSplitter", self.splitter.saveState())
        self.settings.sync()
        super().closeEvent(event)


def show_audit_history(
    db_path: str | os.PathLike[str],
    settings: Settings,
    keep: list[QWidget],
    select: int | None = None,
) -> AuditWindow:
    """Open the audit history (kept alive in ``keep`` until it is closed), with entry
    ``select`` selected once the entries are loaded."""
    window = AuditWindow(db_path, settings=settings)
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    keep.append(window)
    window.destroyed.connect(lambda _=None, w=window: keep.remove(w) if w in keep else None)
    window.show()
    if select is not None:
        window.select_entry_when_loaded(select)
    return window
