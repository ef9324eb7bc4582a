"""The store browser: the records of the wizard's store, one collection at a time, filtered by
project, agent, source format and the import that wrote them, searched by words (full-text);
the whole of a selected record in a details pane, with its verbatim source copy folded below;
export of the selection, or of everything matching, as an agentmemory ExportData.

Everything it reads comes from ``wizard.store.browse`` through the jobs of
``ui/browser_backend.py``, on workers; the results load a page at a time as the view scrolls
(``ui/browser_model.py``). A store made by an earlier version gets its full-text index built
once, on open (cancellable); search waits for it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
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
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from wizard.store.browse import COLLECTIONS, BrowseFilter, Facets, RecordRow
from wizard.store.database import StoreError
from wizard.ui import backend, browser_backend
from wizard.ui.ask import Ask
from wizard.ui.browser_backend import RecordDetail
from wizard.ui.browser_model import (
    SNIPPET,
    RecordProxy,
    RecordTableModel,
    count_text,
    is_filtered,
    noun,
    start_owned,
)
from wizard.ui.error_dialog import show_store_error, show_unexpected_error
from wizard.ui.formatting import fmt_int
from wizard.ui.labels import collection_label
from wizard.ui.plain_text import plain_label, plain_message_box, plain_tooltip
from wizard.ui.settings import Settings
from wizard.ui.status import muted
from wizard.ui.worker import Task

WINDOW_TITLE = "Store browser — AgentMemory Migration Wizard"
SEARCH_PAUSE_MS = 300  # the search runs when typing pauses this long
ALL = "All"
COLLECTION_TEXT = {"sessions": "Sessions (with their observations)"}
SOURCE_SHOW = "Show the verbatim so&urce copy"
SOURCE_HIDE = "Hide the verbatim so&urce copy"
COLUMN_WIDTHS = {"title": 380, "project": 200, "agent": 110, "when": 150, "format": 130}


def _combo(object_name: str, accessible: str) -> QComboBox:
    combo = QComboBox()
    combo.setObjectName(object_name)
    combo.setAccessibleName(accessible)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    combo.setMinimumContentsLength(8)
    combo.setMaximumWidth(260)
    combo.addItem(ALL)
    return combo


def _buddy(text: str, widget: QWidget) -> QLabel:
    label = QLabel(text)
    label.setBuddy(widget)
    return label


class StoreBrowser(QMainWindow):
    """The store browser window (see the module doc).

    Signals (for tests and the app): ``countLoaded(int)`` when the number of matches is known,
    ``detailShown(object)`` with the RecordDetail shown (None when the pane was cleared),
    ``facetsLoaded()``, ``searchReady(bool)`` once the index is there (False: not built),
    ``exportFinished(object)`` with the counts written (None: failed or not asked).
    """

    countLoaded = Signal(int)
    detailShown = Signal(object)
    facetsLoaded = Signal()
    searchReady = Signal(bool)
    exportFinished = Signal(object)

    def __init__(
        self,
        db_path: str | os.PathLike[str],
        audit_id: int | None = None,
        settings: Settings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("storeBrowser")
        self.setWindowTitle(WINDOW_TITLE)
        self.db_path = Path(db_path)
        self.settings = settings or Settings()
        self.store = backend.StoreHandle(self.db_path)
        self._session_id: str | None = None
        self._query_generation = 0  # the filter whose count and first page are awaited
        self._facets_for = ""  # the collection whose facets were asked for last
        self._detail_key: tuple[str, str] | None = None
        self._keep_key: str | None = None  # the row to select again once the first page is in
        self._search_ready = False
        self._count: int | None = None
        self._index_task: Task | None = None
        self._export_task: Task | None = None
        self._error_box: QMessageBox | None = None

        central = QWidget()
        self.setCentralWidget(central)
        layout = QVBoxLayout(central)

        # -- what to show: collection, search; then the filters --------------------------------
        self.collection_combo = QComboBox()
        self.collection_combo.setObjectName("collectionChooser")
        self.collection_combo.setAccessibleName("Collection")
        for name in COLLECTIONS:
            self.collection_combo.addItem(COLLECTION_TEXT.get(name, collection_label(name)), name)
        self.search = QLineEdit()
        self.search.setObjectName("storeSearch")
        self.search.setAccessibleName("Search the records")
        self.search.setAccessibleDescription(
            "Words to find in titles and contents; the search runs when typing pauses. "
            "Escape clears it."
        )
        self.search.setClearButtonEnabled(True)
        self.search.setEnabled(False)
        self.search.setPlaceholderText("Checking the search index…")
        self.index_progress = QProgressBar()
        self.index_progress.setObjectName("indexProgress")
        self.index_progress.setAccessibleName("Building the search index")
        self.index_progress.setFormat("Building the search index… %p%")
        self.index_progress.setMaximumWidth(320)
        self.index_progress.hide()
        self.cancel_index_button = QPushButton("Cancel")
        self.cancel_index_button.setObjectName("cancelIndexButton")
        self.cancel_index_button.setAccessibleName("Cancel building the search index")
        self.cancel_index_button.clicked.connect(self.cancel_index)
        self.cancel_index_button.hide()
        self.build_index_button = QPushButton("&Build the search index")
        self.build_index_button.setObjectName("buildIndexButton")
        self.build_index_button.setToolTip(
            "This store was made by an earlier version: search needs its index built once"
        )
        self.build_index_button.clicked.connect(self.build_index)
        self.build_index_button.hide()

        self.project_filter = _combo("projectFilter", "Filter by project")
        self.agent_filter = _combo("agentFilter", "Filter by agent")
        self.format_filter = _combo("formatFilter", "Filter by source format")
        self.audit_filter = _combo("auditFilter", "Filter by the import that wrote the records")
        self.audit_filter.setToolTip("Only the records an import inserted or changed")
        self.audit_filter.setMaximumWidth(400)  # (its labels carry a time and a file name)
        self.clear_filters_button = QPushButton("Clea&r filters")
        self.clear_filters_button.setObjectName("clearFiltersButton")
        self.clear_filters_button.setAccessibleName("Clear the filters and the search")
        self.clear_filters_button.clicked.connect(self.clear_filters)

        top = QHBoxLayout()
        top.addWidget(_buddy("&Collection:", self.collection_combo))
        top.addWidget(self.collection_combo)
        top.addSpacing(16)
        top.addWidget(_buddy("&Search:", self.search))
        top.addWidget(self.search, 1)
        top.addWidget(self.index_progress)
        top.addWidget(self.cancel_index_button)
        top.addWidget(self.build_index_button)
        layout.addLayout(top)
        filters = QHBoxLayout()
        for text, combo in (
            ("&Project:", self.project_filter),
            ("A&gent:", self.agent_filter),
            ("Source &format:", self.format_filter),
            ("Written by &import:", self.audit_filter),
        ):
            filters.addWidget(_buddy(text, combo))
            filters.addWidget(combo)
            filters.addSpacing(10)
        filters.addStretch(1)
        filters.addWidget(self.clear_filters_button)
        layout.addLayout(filters)

        # -- the session an observation list is limited to -------------------------------------
        self.session_bar = QWidget()
        session_row = QHBoxLayout(self.session_bar)
        session_row.setContentsMargins(0, 0, 0, 0)
        self.session_label = plain_label(wrap=False, object_name="sessionFilterLabel")
        self.clear_session_button = QPushButton("Show &all observations")
        self.clear_session_button.setObjectName("clearSessionButton")
        self.clear_session_button.clicked.connect(self.clear_session)
        session_row.addWidget(self.session_label, 1)
        session_row.addWidget(self.clear_session_button)
        self.session_bar.hide()
        layout.addWidget(self.session_bar)

        # -- results and details ---------------------------------------------------------------
        self.model = RecordTableModel(self._page_job, parent=self)
        self.proxy = RecordProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setObjectName("recordTable")
        self.table.setAccessibleName("Records")
        self.table.setModel(self.proxy)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)  # (unsorted: the store's order, newest first)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 10)
        # rows of one height: the view lays out 100,000 loaded rows without visiting them
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setHighlightSections(False)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_changed)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.table.activated.connect(self._on_activated)
        self.model.modelReset.connect(self._size_columns)
        self.model.pageLoaded.connect(self._on_page_loaded)
        self.model.loadFailed.connect(self._on_failed)

        detail_pane = QWidget()
        detail_layout = QVBoxLayout(detail_pane)
        detail_layout.setContentsMargins(0, 0, 0, 0)
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.detail = QPlainTextEdit()
        self.detail.setObjectName("recordDetail")
        self.detail.setAccessibleName("Record details")
        self.detail.setReadOnly(True)
        self.detail.setAcceptDrops(False)
        self.detail.setFont(fixed)
        self.detail.setPlaceholderText("Select a record to see all of it.")
        detail_buttons = QHBoxLayout()
        self.observations_button = QPushButton("Show its &observations")
        self.observations_button.setObjectName("showObservationsButton")
        self.observations_button.setToolTip("List the observations of this session")
        self.observations_button.clicked.connect(self.show_session_observations)
        self.observations_button.hide()
        self.source_toggle = QToolButton()
        self.source_toggle.setObjectName("sourceToggle")
        self.source_toggle.setAccessibleName("Show or hide the verbatim source copy")
        self.source_toggle.setCheckable(True)
        self.source_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.source_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.source_toggle.setText(SOURCE_SHOW)
        self.source_toggle.setEnabled(False)
        self.source_toggle.toggled.connect(self._on_source_toggled)
        detail_buttons.addWidget(self.source_toggle)
        detail_buttons.addStretch(1)
        detail_buttons.addWidget(self.observations_button)
        self.source_view = QPlainTextEdit()
        self.source_view.setObjectName("recordSource")
        self.source_view.setAccessibleName("Verbatim source copy")
        self.source_view.setReadOnly(True)
        self.source_view.setAcceptDrops(False)
        self.source_view.setFont(fixed)
        self.source_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.source_view.hide()
        # the source copy unfolds beside the fields (its toggle heads the pane)
        self.detail_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.detail_splitter.addWidget(self.detail)
        self.detail_splitter.addWidget(self.source_view)
        self.detail_splitter.setChildrenCollapsible(False)
        detail_layout.addLayout(detail_buttons)
        detail_layout.addWidget(self.detail_splitter, 1)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(detail_pane)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        layout.addWidget(self.splitter, 1)

        buttons = QHBoxLayout()
        self.export_selection_button = QPushButton("&Export selection…")
        self.export_selection_button.setObjectName("exportSelectionButton")
        self.export_selection_button.setToolTip(
            "Save the selected records (with what they need) as an agentmemory export"
        )
        self.export_selection_button.clicked.connect(self.export_selection)
        self.export_all_button = QPushButton("Export all &matching…")
        self.export_all_button.setObjectName("exportAllButton")
        self.export_all_button.setToolTip(
            "Save every record matching the filters and the search as an agentmemory export"
        )
        self.export_all_button.clicked.connect(self.export_all)
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("closeButton")
        self.close_button.clicked.connect(self.close)
        buttons.addWidget(self.export_selection_button)
        buttons.addWidget(self.export_all_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)

        self.status = plain_label(wrap=False, object_name="matchCount")
        self.status.setAccessibleName("Matches")
        self.statusBar().addWidget(self.status, 1)
        path = str(self.db_path.absolute())
        self.path_label = muted(plain_label(f"Store: {path}", wrap=False, object_name="storePath"))
        self.path_label.setAccessibleName("Store file")
        self.path_label.setToolTip(path)
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.statusBar().addPermanentWidget(self.path_label)

        # -- behaviour -------------------------------------------------------------------------
        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(SEARCH_PAUSE_MS)
        self.search_timer.timeout.connect(self._on_search_paused)
        self.search.textChanged.connect(lambda _t: self.search_timer.start())
        self.search.returnPressed.connect(self._on_search_paused)
        QShortcut(
            QKeySequence(Qt.Key.Key_Escape),
            self.search,
            self.search.clear,
            context=Qt.ShortcutContext.WidgetShortcut,
        )
        for key, slot in (
            (QKeySequence.StandardKey.Find, self.focus_search),
            (QKeySequence.StandardKey.Close, self.close),
        ):
            QShortcut(QKeySequence(key), self).activated.connect(slot)
        self.collection_combo.currentIndexChanged.connect(self._on_collection_changed)
        for combo in (self.project_filter, self.agent_filter, self.format_filter):
            combo.currentIndexChanged.connect(lambda _i: self.refresh())
        self.audit_filter.currentIndexChanged.connect(lambda _i: self.refresh())

        if audit_id is not None:
            self.audit_filter.addItem(f"#{audit_id}", int(audit_id))
            self.audit_filter.setCurrentIndex(1)
        self.resize(1200, 800)
        geometry = self.settings.geometry("browser")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.qsettings.value("geometry/browserSplitter")
        if state is not None:
            self.splitter.restoreState(state)
        self._update_buttons()
        self._check_index()
        self._load_facets()
        self.refresh()

    # -- the filter ------------------------------------------------------------------------------
    def collection(self) -> str:
        return str(self.collection_combo.currentData())

    def current_filter(self) -> BrowseFilter:
        """What the widgets ask for (the search only once the index is there)."""
        return BrowseFilter(
            collection=self.collection(),
            text=self.search.text().strip() if self._search_ready else "",
            project=_choice(self.project_filter),
            agent=_choice(self.agent_filter),
            source_format=_choice(self.format_filter),
            audit_id=_choice(self.audit_filter),
            session_id=self._session_id if self.collection() == "observations" else None,
        )

    def refresh(self) -> None:
        """Show the records matching the filters now: the first page, then the count."""
        f = self.current_filter()
        self.search_timer.stop()
        self._query_generation += 1
        generation = self._query_generation
        self._count = None
        current = self.current_row()
        if current is not None and current.collection == f.collection:
            self._keep_key = current.key
        self._show_detail(None)
        self.status.setText("Reading the store…")
        self._update_session_bar(f)
        self.model.set_filter(f)
        start_owned(
            self,
            browser_backend.browse_count_job(self.store, f),
            "browse-count",
            finished=partial(self._on_count, generation),
            failed=partial(self._on_failed, generation=generation),
        )
        self._update_buttons()

    def is_loading(self) -> bool:
        """A page or the count of the current filter is still being read."""
        return self.model.is_fetching() or self._count is None

    def _page_job(self, f: BrowseFilter, offset: int, limit: int):
        return browser_backend.browse_page_job(self.store, f, offset, limit)

    def _on_count(self, generation: int, n: int) -> None:
        if generation != self._query_generation:
            return
        self._count = n
        f = self.model.filter
        self.status.setText(count_text(f.collection, n, is_filtered(f)))
        self._update_buttons()
        self.countLoaded.emit(n)

    def _on_page_loaded(self, rows: int) -> None:
        if rows and not self.table.selectionModel().currentIndex().isValid():
            # the record shown before the filter changed, when it still matches; else the first
            keep, self._keep_key = self._keep_key, None
            if keep is None or not self.select_key(keep):
                self.table.selectRow(0)
        self._update_buttons()

    def _on_search_paused(self) -> None:
        self.search_timer.stop()
        if self._search_ready and self.search.text().strip() != self.model.filter.text:
            self.refresh()

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _on_collection_changed(self, _index: int) -> None:
        self._session_id = None
        _reset_quietly(self.project_filter, self.agent_filter, self.format_filter)
        self._load_facets()
        self.refresh()

    def clear_filters(self) -> None:
        """Every filter back to All, the search emptied, the session forgotten."""
        self._session_id = None
        _reset_quietly(
            self.project_filter, self.agent_filter, self.format_filter, self.audit_filter
        )
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self.refresh()

    # -- a session's observations ----------------------------------------------------------------
    def show_session_observations(self) -> None:
        """Switch to the observations of the selected session."""
        row = self.current_row()
        if row is None or row.collection != "sessions":
            return
        self.show_observations_of(row.key)

    def show_observations_of(self, session_id: str) -> None:
        self._session_id = session_id
        index = self.collection_combo.findData("observations")
        self.collection_combo.blockSignals(True)
        self.collection_combo.setCurrentIndex(index)
        self.collection_combo.blockSignals(False)
        _reset_quietly(self.project_filter, self.agent_filter, self.format_filter)
        self._load_facets()
        self.refresh()

    def clear_session(self) -> None:
        self._session_id = None
        self.refresh()

    def _update_session_bar(self, f: BrowseFilter) -> None:
        if f.session_id is None:
            self.session_bar.hide()
            return
        self.session_label.setText(f"Observations of session {f.session_id}")
        self.session_bar.show()

    # -- facets ----------------------------------------------------------------------------------
    def _load_facets(self) -> None:
        collection = self.collection()
        self._facets_for = collection
        start_owned(
            self,
            browser_backend.facets_job(self.store, collection),
            "browse-facets",
            finished=partial(self._on_facets, collection),
            failed=self._on_failed,
        )

    def _on_facets(self, collection: str, facets: Facets) -> None:
        if collection != self._facets_for:
            return
        changed = False
        for combo, values in (
            (self.project_filter, [(v, v) for v in facets.projects]),
            (self.agent_filter, [(v, v) for v in facets.agents]),
            (self.format_filter, [(v, v) for v in facets.formats]),
            (self.audit_filter, [(_import_text(n, label), n) for n, label in facets.imports]),
        ):
            changed = _fill(combo, values) or changed
        self.facetsLoaded.emit()
        if changed:  # a chosen value this collection does not have went back to All
            self.refresh()

    # -- selection and details -------------------------------------------------------------------
    def current_row(self) -> RecordRow | None:
        return self.proxy.record_row(self.table.selectionModel().currentIndex())

    def selected_keys(self) -> list[str]:
        rows = self.table.selectionModel().selectedRows()
        out = []
        for index in sorted(rows, key=lambda i: i.row()):
            row = self.proxy.record_row(index)
            if row is not None:
                out.append(row.key)
        return out

    def select_key(self, key: str) -> bool:
        """Make the loaded row of ``key`` current (False when it is not loaded)."""
        row = self.model.row_of_key(key)
        if row < 0:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        self.table.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(index)
        return True

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = self.proxy.record_row(current)
        if row is None:
            self._show_detail(None)
            return
        self._load_detail(row)

    def _on_activated(self, index: QModelIndex) -> None:
        row = self.proxy.record_row(index)
        if row is None:
            return
        if self._detail_key != (row.collection, row.key):
            self._load_detail(row)
        self.detail.setFocus(Qt.FocusReason.OtherFocusReason)

    def _load_detail(self, row: RecordRow) -> None:
        key = (row.collection, row.key)
        self._detail_key = key
        self.observations_button.setVisible(row.collection == "sessions")
        start_owned(
            self,
            browser_backend.record_job(self.store, row.collection, row.key),
            "browse-record",
            finished=partial(self._on_detail, key),
            failed=self._on_failed,
        )

    def _on_detail(self, key: tuple[str, str], detail: RecordDetail) -> None:
        if key != self._detail_key:
            return
        self._show_detail(detail)

    def _show_detail(self, detail: RecordDetail | None) -> None:
        if detail is None:
            self._detail_key = None
            self.detail.clear()
            self.source_view.clear()
            self.observations_button.hide()
        else:
            self.detail.setPlainText(detail.text)
            self.source_view.setPlainText(detail.source or "")
            self.observations_button.setVisible(detail.collection == "sessions")
        has_source = detail is not None and detail.source is not None
        self.source_toggle.setEnabled(has_source)
        self.source_toggle.setToolTip(
            ""
            if has_source or detail is None
            else "This record has no source copy: it was an agentmemory record"
        )
        self.source_view.setVisible(has_source and self.source_toggle.isChecked())
        self.detailShown.emit(detail)

    def _on_source_toggled(self, shown: bool) -> None:
        self.source_toggle.setText(SOURCE_HIDE if shown else SOURCE_SHOW)
        self.source_toggle.setArrowType(
            Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        )
        self.source_view.setVisible(shown and self.source_toggle.isEnabled())

    # -- the index -------------------------------------------------------------------------------
    def _check_index(self) -> None:
        start_owned(
            self,
            browser_backend.needs_index_job(self.store),
            "browse-needs-index",
            finished=self._on_index_checked,
            failed=self._on_index_failed,
        )

    def _on_index_checked(self, needed: bool) -> None:
        if needed:
            self.build_index()
        else:
            self._set_search_ready(True)

    def build_index(self) -> None:
        """Build the store's full-text index on a worker, with a progress bar (cancellable)."""
        if self.is_indexing():
            return
        self.build_index_button.hide()
        self.index_progress.setRange(0, 0)
        self.index_progress.show()
        self.cancel_index_button.setEnabled(True)
        self.cancel_index_button.show()
        self.search.setPlaceholderText("Search waits for the index…")
        self._index_task = start_owned(
            self,
            browser_backend.index_job(self.store),
            "browse-index",
            progress=self._on_index_progress,
            finished=lambda _r: self._on_index_built(),
            cancelled=self._on_index_cancelled,
            failed=self._on_index_failed,
        )

    def cancel_index(self) -> None:
        if self._index_task is not None:
            self._index_task.cancel()
            self.cancel_index_button.setEnabled(False)

    def is_indexing(self) -> bool:
        return self._index_task is not None

    def _on_index_progress(self, item: object) -> None:
        if isinstance(item, tuple) and len(item) == 2:
            done, total = item
            if isinstance(done, int) and isinstance(total, int) and total > 0:
                self.index_progress.setRange(0, total)
                self.index_progress.setValue(min(done, total))

    def _index_over(self) -> None:
        self._index_task = None
        self.index_progress.hide()
        self.cancel_index_button.hide()

    def _on_index_built(self) -> None:
        self._index_over()
        self._set_search_ready(True)

    def _on_index_cancelled(self) -> None:
        self._index_over()
        self._set_search_ready(False)

    def _on_index_failed(self, exc: BaseException) -> None:
        self._index_over()
        self._set_search_ready(False)
        self._on_failed(exc)

    def _set_search_ready(self, ready: bool) -> None:
        self._search_ready = ready
        self.search.setEnabled(ready)
        self.build_index_button.setVisible(not ready)
        self.search.setPlaceholderText(
            "Words in titles and contents (Ctrl+F)" if ready else "Search needs the index"
        )
        if ready and self.search.text().strip():
            self.refresh()
        self.searchReady.emit(ready)

    # -- export ----------------------------------------------------------------------------------
    def export_selection(self) -> None:
        keys = self.selected_keys()
        if keys:
            self._export(keys)

    def export_all(self) -> None:
        self._export(None)

    def _export(self, keys: list[str] | None) -> None:
        if self._export_task is not None:
            return
        f = self.model.filter
        start = self.settings.last_dir() or os.path.expanduser("~")
        name = f"agentmemory-{f.collection}.json"
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export as an agentmemory file",
            os.path.join(start, name),
            "agentmemory export (*.json);;All files (*)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if not path:
            self.exportFinished.emit(None)
            return
        if not os.path.splitext(path)[1]:
            path += ".json"
        if os.path.exists(path) and not Ask.question(
            self,
            "Replace the file?",
            f"{os.path.basename(path)} already exists. Replace it?",
            f"It is in {os.path.dirname(path)}. Its contents will be lost.",
            yes_text="&Replace",
        ):
            self.exportFinished.emit(None)
            return
        self.settings.set_last_dir(os.path.dirname(path))
        what = (
            f"{fmt_int(len(keys))} selected {noun(f.collection, len(keys))}"
            if keys is not None
            else f"every matching {noun(f.collection, 1)}"
        )
        self.status.setText(f"Exporting {what}…")
        self._export_task = start_owned(
            self,
            browser_backend.export_job(self.store, f, keys, path),
            "browse-export",
            finished=partial(self._on_exported, path),
            failed=self._on_export_failed,
        )
        self._update_buttons()

    def _on_exported(self, path: str, counts: dict[str, int]) -> None:
        self._export_task = None
        parts = [f"{fmt_int(n)} {noun(name, n)}" for name, n in counts.items() if n]
        self.status.setText(f"Exported {', '.join(parts) if parts else 'nothing'} to {path}")
        self._update_buttons()
        self.exportFinished.emit(counts)

    def _on_export_failed(self, exc: BaseException) -> None:
        self._export_task = None
        self._update_buttons()
        self._restore_count_status()
        if isinstance(exc, OSError):
            box = plain_message_box(
                self,
                QMessageBox.Icon.Warning,
                "Export failed",
                f"The export could not be saved: {exc}",
                object_name="exportFailedBox",
            )
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
        else:
            self._on_failed(exc)
        self.exportFinished.emit(None)

    def _update_buttons(self) -> None:
        idle = self._export_task is None
        self.export_selection_button.setEnabled(idle and self.table.selectionModel().hasSelection())
        self.export_all_button.setEnabled(idle and bool(self._count))

    # -- errors ----------------------------------------------------------------------------------
    def _on_failed(self, exc: BaseException, generation: int | None = None) -> None:
        if generation is not None and generation != self._query_generation:
            return
        if isinstance(exc, StoreError):
            self.status.setText("The store could not be read.")
            if self._error_box is None:  # one box for the jobs a broken store fails at once
                box = show_store_error(self, exc, self.db_path)
                self._error_box = box
                box.destroyed.connect(self._forget_error_box)
        elif isinstance(exc, ValueError):  # a search the store could not understand
            self.status.setText(f"The search could not be run: {exc}")
        else:
            self.status.setText("Something went wrong while reading the store.")
            show_unexpected_error(exc, self)

    def _forget_error_box(self, _obj: object = None) -> None:
        self._error_box = None

    def _restore_count_status(self) -> None:
        f = self.model.filter
        if self._count is not None:
            self.status.setText(count_text(f.collection, self._count, is_filtered(f)))

    # -- closing ---------------------------------------------------------------------------------
    def _size_columns(self) -> None:
        header = self.table.horizontalHeader()
        columns = self.model.columns()
        stretch = SNIPPET if SNIPPET in columns else "title"  # (the words found, when searching)
        for col, name in enumerate(columns):
            if name == stretch:
                header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch)
            else:
                header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
                header.resizeSection(col, COLUMN_WIDTHS.get(name, 120))

    def closeEvent(self, event: QCloseEvent) -> None:
        self.search_timer.stop()
        if self._index_task is not None:  # it stops by itself, rolled back; never waited for
            self._index_task.cancel()
        self.settings.set_geometry("browser", self.saveGeometry())
        self.settings.qsettings.setValue("geometry/browserSplitter", self.splitter.saveState())
        self.settings.sync()
        super().closeEvent(event)


def _import_text(audit_id: int, label: str) -> str:
    """'#12 2026-11-23 10:15 notes.json (merge)': the store's label, numbered."""
    label = " ".join(label.split())
    return label if label.startswith(f"#{audit_id}") else f"#{audit_id} {label}".strip()


def _choice(combo: QComboBox):
    """The chosen value of a filter box, None for All."""
    return None if combo.currentIndex() <= 0 else combo.currentData()


def _fill(combo: QComboBox, values: Sequence[tuple[str, object]]) -> bool:
    """Refill a filter box (All first), keeping the chosen value when it is still there.

    Returns True when a chosen value was dropped (the box went back to All)."""
    current = _choice(combo)
    combo.blockSignals(True)
    combo.clear()
    combo.addItem(ALL)
    for text, value in values:
        combo.addItem(text, value)
        combo.setItemData(combo.count() - 1, plain_tooltip(text), Qt.ItemDataRole.ToolTipRole)
    index = combo.findData(current) if current is not None else 0
    if index < 0 and isinstance(current, int):  # an import that wrote none of these records
        combo.addItem(f"#{current}", current)
        index = combo.count() - 1
    combo.setCurrentIndex(max(index, 0))
    combo.blockSignals(False)
    return current is not None and index < 0


def show_store_browser(
    db_path: str | os.PathLike[str],
    keep: list[QWidget],
    audit_id: int | None = None,
    settings: Settings | None = None,
) -> StoreBrowser:
    """Open the store browser (kept alive in ``keep`` until it is closed), limited to what
    import ``audit_id`` wrote when given."""
    window = StoreBrowser(db_path, audit_id, settings=settings)
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    keep.append(window)
    window.destroyed.connect(lambda _=None, w=window: keep.remove(w) if w in keep else None)
    window.show()
    return window


def _reset_quietly(*combos: QComboBox) -> None:
    """Each filter back to its first item (All) without announcing the change: the caller
    loads what the new filter shows once, itself."""
    for combo in combos:
        combo.blockSignals(True)
        combo.setCurrentIndex(0)
        combo.blockSignals(False)
