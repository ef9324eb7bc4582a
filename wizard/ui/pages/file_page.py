"""Page 1: choose a file (drop zone, Browse, the path, recent files); the detected format shows
as soon as the file has been read. A button sends the store to agentmemory (its own window)."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from wizard.core.fastjson import escaped
from wizard.ui.backend import sources_job
from wizard.ui.delivery_dialog import open_delivery
from wizard.ui.drop_zone import DropZone
from wizard.ui.formatting import fmt_size
from wizard.ui.labels import describe_counts, format_label, phase_text
from wizard.ui.plain_text import plain_label, plain_tooltip
from wizard.ui.session import MigrationSession, is_source_path
from wizard.ui.status import clear_status, muted, set_status
from wizard.ui.worker import Task, start_task

TYPING_PAUSE_MS = 600
FILE_FILTER = (
    "Memory exports and stores (*.json *.jsonl *.ndjson *.af *.gz *.zip *.db *.sqlite "
    "*.sqlite3);;"
    "JSON (*.json *.jsonl *.ndjson);;Letta agent files (*.af);;Archives (*.gz *.zip);;"
    "All files (*)"
)


class ListOfSources(QTreeWidget):
    """A list whose Enter opens the current item, and only that: Qt passes Enter on to the
    wizard too, which would also press Next while the item is still being read."""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            item = self.currentItem()
            if item is not None and item.flags() & Qt.ItemFlag.ItemIsEnabled:
                self.itemActivated.emit(item, self.currentColumn())
            event.accept()
            return
        super().keyPressEvent(event)


class FilePage(QWizardPage):
    def __init__(self, session: MigrationSession) -> None:
        super().__init__()
        self.setObjectName("filePage")
        self.session = session
        self.setTitle("Choose a file")
        self.setSubTitle(
            "Drag a memory export (or a store's own file or folder) from your file manager onto "
            "this window, browse for it, or pick a store found on this computer. Nothing is "
            "written until the Import step."
        )
        layout = QVBoxLayout(self)
        layout.setSpacing(10)

        self.drop_zone = DropZone()
        self.drop_zone.filesDropped.connect(self.session.load_files)
        self.drop_zone.browseRequested.connect(self.browse)
        layout.addWidget(self.drop_zone, 3)

        row = QHBoxLayout()
        file_label = QLabel("&Path:")
        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("filePathEdit")
        self.path_edit.setAccessibleName("File path")
        self.path_edit.setPlaceholderText("Path of an export file, or of a store's file or folder")
        self.path_edit.setClearButtonEnabled(True)
        self.path_edit.setAcceptDrops(False)  # a drop here goes to the window: it loads the file
        self.path_edit.returnPressed.connect(self._path_entered)
        self.path_edit.editingFinished.connect(self._path_entered)
        # a typed path is read once typing pauses (reading writes nothing)
        self.typing_pause = QTimer(self)
        self.typing_pause.setSingleShot(True)
        self.typing_pause.setInterval(TYPING_PAUSE_MS)
        self.typing_pause.timeout.connect(self._path_paused)
        self.path_edit.textEdited.connect(lambda _text: self.typing_pause.start())
        file_label.setBuddy(self.path_edit)
        self.settings_button = QPushButton("S&ettings…")
        self.settings_button.setObjectName("settingsButton")
        self.settings_button.setToolTip("The largest input file the wizard reads")
        self.settings_button.clicked.connect(self.session.request_settings)
        self.send_button = QPushButton("Send the s&tore to agentmemory…")
        self.send_button.setObjectName("sendStoreButton")
        self.send_button.setToolTip(
            "Send everything the wizard's store holds to a running agentmemory"
        )
        self.send_button.clicked.connect(self.send_store)
        row.addWidget(file_label)
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.settings_button)
        layout.addLayout(row)

        # the front door to what the store already holds
        store_row = QHBoxLayout()
        store_label = QLabel("Your store:")
        self.browser_button = QPushButton("Bro&wse store…")
        self.browser_button.setObjectName("homeBrowserButton")
        self.browser_button.setToolTip("Search and look at the records the store holds")
        self.browser_button.clicked.connect(lambda: self.session.request_browser(None))
        self.audit_button = QPushButton("&Audit history…")
        self.audit_button.setObjectName("homeAuditButton")
        self.audit_button.setToolTip("Every import, revert, delivery and prune; revert an import")
        self.audit_button.clicked.connect(self.session.request_audit_history)
        store_row.addWidget(store_label)
        store_row.addWidget(self.browser_button)
        store_row.addWidget(self.audit_button)
        store_row.addWidget(self.send_button)
        store_row.addStretch(1)
        layout.addLayout(store_row)

        self.status = plain_label(
            "No file chosen yet.", object_name="detectedFormatLabel", selectable=True
        )
        self.status.setAccessibleName("Detected format")
        self.progress = QProgressBar()
        self.progress.setObjectName("readProgress")
        self.progress.setAccessibleName("Reading progress")
        self.progress.setTextVisible(True)
        self.progress.setVisible(False)
        self.progress.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)

        found_head = QHBoxLayout()
        found_label = QLabel("Memory stores found on this &computer")
        self.found = ListOfSources()
        self.found.setObjectName("foundSources")
        self.found.setAccessibleName("Memory stores found on this computer")
        self.found.setAcceptDrops(False)
        self.found.setColumnCount(4)
        self.found.setHeaderLabels(["Store", "Where", "Size", "Changed"])
        self.found.setRootIsDecorated(False)
        self.found.setUniformRowHeights(True)
        self.found.setAlternatingRowColors(True)
        self.found.setStyleSheet("QTreeView::item { padding: 3px 2px; }")
        self.found.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.found.header().setStretchLastSection(False)
        self.found.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.found.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for col in (2, 3):
            self.found.header().setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.found.setColumnWidth(0, 300)
        self.found.itemActivated.connect(self._found_activated)
        found_label.setBuddy(self.found)
        self.rescan = QPushButton("Look a&gain")
        self.rescan.setObjectName("rescanSourcesButton")
        self.rescan.setToolTip("Look again at mem0's, OpenMemory's and Letta's usual places")
        self.rescan.clicked.connect(self.find_sources)
        self.open_folder = QPushButton("Open a f&older…")
        self.open_folder.setObjectName("openFolderButton")
        self.open_folder.setToolTip(
            "A mem0 folder (history.db with its Qdrant folder), a Qdrant local folder, or Letta "
            "Code's local backend"
        )
        self.open_folder.clicked.connect(self.browse_folder)
        found_head.addWidget(found_label)
        found_head.addStretch(1)
        found_head.addWidget(self.open_folder)
        found_head.addWidget(self.rescan)
        layout.addLayout(found_head)
        layout.addWidget(self.found, 2)
        self._found_task: Task | None = None

        recent_head = QHBoxLayout()
        recent_label = QLabel("&Recent files")
        self.recent = ListOfSources()
        self.recent.setObjectName("recentFiles")
        self.recent.setAccessibleName("Recent files")
        self.recent.setAcceptDrops(False)
        self.recent.setColumnCount(2)
        self.recent.setHeaderLabels(["Name", "Folder"])
        self.recent.setRootIsDecorated(False)
        self.recent.setUniformRowHeights(True)
        self.recent.setAlternatingRowColors(True)
        self.recent.setStyleSheet("QTreeView::item { padding: 3px 2px; }")
        self.recent.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.recent.header().setStretchLastSection(True)
        self.recent.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.recent.setColumnWidth(0, 300)
        self.recent.itemActivated.connect(self._recent_activated)
        recent_label.setBuddy(self.recent)
        self.clear_recent = QPushButton("C&lear list")
        self.clear_recent.setObjectName("clearRecentButton")
        self.clear_recent.clicked.connect(self._clear_recent)
        recent_head.addWidget(recent_label)
        recent_head.addStretch(1)
        recent_head.addWidget(self.clear_recent)
        layout.addLayout(recent_head)
        layout.addWidget(self.recent, 2)

        session.fileChanged.connect(self._on_file_changed)
        session.inspectionStarted.connect(self._refresh_status)
        session.inspectionProgress.connect(self._on_progress)
        session.inspectionFinished.connect(self._refresh_status)
        self.setTabOrder(self.drop_zone, self.drop_zone.browse_button)
        self.setTabOrder(self.drop_zone.browse_button, self.path_edit)
        self.setTabOrder(self.path_edit, self.settings_button)
        self.setTabOrder(self.settings_button, self.browser_button)
        self.setTabOrder(self.browser_button, self.audit_button)
        self.setTabOrder(self.audit_button, self.send_button)
        self.setTabOrder(self.send_button, self.found)
        self.setTabOrder(self.found, self.open_folder)
        self.setTabOrder(self.open_folder, self.rescan)
        self.setTabOrder(self.rescan, self.recent)
        self.setTabOrder(self.recent, self.clear_recent)
        self._fill_recent()
        self._fill_found(None)
        self.find_sources()

    # -- QWizardPage -----------------------------------------------------------------------------
    def initializePage(self) -> None:
        self.path_edit.setText(escaped(self.session.path))
        self._fill_recent()
        self._refresh_status()

    def isComplete(self) -> bool:
        return bool(self.session.path) and is_source_path(self.session.path)

    # -- actions ---------------------------------------------------------------------------------
    def browse(self) -> None:
        start = (
            os.path.dirname(self.session.path)
            if self.session.path
            else self.session.settings.last_dir()
        )
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a memory export", start or os.path.expanduser("~"), FILE_FILTER
        )
        if path:
            self.session.load_file(path)

    def browse_folder(self) -> None:
        start = self.session.settings.last_dir() or os.path.expanduser("~")
        path = QFileDialog.getExistingDirectory(self, "Choose a memory store's folder", start)
        if path:
            self.session.load_file(path)

    def find_sources(self) -> None:
        """Look for stores on this computer, on a worker (it only reads file metadata)."""
        if self._found_task is not None:
            return
        self.rescan.setEnabled(False)
        self._found_task = start_task(
            sources_job(self.session.db_path, self.session.settings.recent_files()),
            name="sources",
            finished=self._on_found,
            failed=self._on_found_nothing,
            cancelled=self._on_found_nothing,
        )

    def _on_found_nothing(self, _exc: object = None) -> None:
        """Looking failed or was stopped (a bound method: Qt drops it with the page)."""
        self._on_found([])

    def _on_found(self, found: list) -> None:
        self._found_task = None
        self.rescan.setEnabled(True)
        self._fill_found(found)

    def _found_activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        data = item.data(0, Qt.ItemDataRole.UserRole)
        if data:
            path, vectors = data
            self.session.load_file(path, vectors=vectors or None)

    def send_store(self) -> QWidget:
        """The delivery window for the whole store."""
        return open_delivery(self.session.db_path, settings=self.session.settings)

    def _path_entered(self) -> None:
        self.typing_pause.stop()
        text = self.path_edit.text().strip()
        if text == escaped(self.session.path):
            return
        if text and os.path.abspath(os.path.expanduser(text)) != self.session.path:
            self.session.set_file(text)

    def _path_paused(self) -> None:
        """Typing paused: read the path when there is something there, else say so."""
        text = self.path_edit.text().strip()
        if not text or text == escaped(self.session.path):
            return
        full = os.path.abspath(os.path.expanduser(text))
        if full == self.session.path:
            return
        if is_source_path(full):
            self.session.set_file(full)
            return
        clear_status(self.status)
        muted(self.status)
        self.status.setText(
            f"Nothing at {full} yet: keep typing, or press Enter when the path is complete."
        )

    def _recent_activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        path = item.data(0, Qt.ItemDataRole.UserRole)
        if path:
            self.session.load_file(path, vectors=self.session.settings.recent_vectors(path))

    def _clear_recent(self) -> None:
        self.session.settings.clear_recent_files()
        self._fill_recent()

    # -- view ------------------------------------------------------------------------------------
    def _fill_found(self, found: list | None) -> None:
        self.found.clear()
        if not found:
            text = (
                "Looking…"
                if found is None
                else "None at mem0's, OpenMemory's or Letta's usual places"
            )
            item = QTreeWidgetItem([text, "", "", ""])
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.found.addTopLevelItem(item)
            return
        for f in found:
            where = f.path + (f"  +  {f.vectors}" if f.vectors else "")
            size = fmt_size(f.size) if f.size is not None else ""
            changed = (f.modified or "").replace("T", " ").replace("Z", "")[:16]
            label = f.label if f.readable else f"{f.label}: cannot be read"
            item = QTreeWidgetItem([label, where, size, changed])
            tip = f.reason if not f.readable else "Double-click or press Enter to read it"
            if f.counts:
                tip += "\n" + ", ".join(f"{n:,} {what}" for what, n in f.counts.items())
            for col in range(4):
                item.setToolTip(col, plain_tooltip(f"{where}\n{tip}"))
            if f.readable:
                item.setData(0, Qt.ItemDataRole.UserRole, (f.path, f.vectors or ""))
            else:
                item.setFlags(Qt.ItemFlag.ItemIsSelectable)
            self.found.addTopLevelItem(item)

    def _fill_recent(self) -> None:
        self.recent.clear()
        files = self.session.settings.recent_files()
        for path in files:
            exists = is_source_path(path)
            vectors = self.session.settings.recent_vectors(path)
            name = os.path.basename(path) + (f" + {os.path.basename(vectors)}" if vectors else "")
            name += "" if exists else "  (missing)"
            item = QTreeWidgetItem([name, os.path.dirname(path)])
            item.setData(0, Qt.ItemDataRole.UserRole, path)
            item.setToolTip(0, plain_tooltip(path))
            item.setToolTip(1, plain_tooltip(path))
            if not exists:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
            self.recent.addTopLevelItem(item)
        if not files:
            item = QTreeWidgetItem(["No recent files yet", ""])
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addTopLevelItem(item)
        self.clear_recent.setEnabled(bool(files))

    def _on_file_changed(self, _path: str) -> None:
        # the session's own path: a name that is not UTF-8 does not survive Qt's strings
        shown = escaped(self.session.path)
        if self.path_edit.text() != shown:
            self.path_edit.setText(shown)
        self._fill_recent()
        self.completeChanged.emit()
        self._refresh_status()

    def _on_progress(self, item: object) -> None:
        text, done, total = phase_text(item)
        self.progress.setVisible(True)
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(done, total) / total))
        else:
            self.progress.setRange(0, 0)
        self.progress.setFormat(f"{text} %p%")

    def _refresh_status(self) -> None:
        session = self.session
        label: QLabel = self.status
        self.progress.setVisible(session.is_inspecting())
        if session.is_inspecting():
            self.progress.setRange(0, 0)
            clear_status(label)
            muted(label)
            label.setText(f"Reading {os.path.basename(session.path)}…")
            return
        clear_status(label)
        if not session.path:
            muted(label)
            label.setText("No file chosen yet.")
        elif not is_source_path(session.path):
            set_status(label, False)
            label.setText(f"There is no file at {session.path}.")
        elif session.inspection is None:
            label.setText("")
        else:
            report = session.inspection.report
            if report.format:
                text = f"Detected: {format_label(report.format, report.source_version)}"
                counts = describe_counts(report.counts)
                if counts:
                    text += f" — {counts}"
            else:
                text = "Format not recognised."
            if session.queue:
                names = ", ".join(os.path.basename(p) for p, _v in session.queue[:3])
                more = len(session.queue) - 3
                names += f" and {more} more" if more > 0 else ""
                text += (
                    f"\nThen {len(session.queue)} more, imported after it with the same "
                    f"strategy, each its own import: {names}."
                )
            if session.inspection.ok:
                set_status(label, True)
                text = "✓ " + text
            else:
                set_status(label, False)
                text = "✗ " + text + "\nThis file cannot be imported as it is; Next shows why."
            label.setText(text)
        self.completeChanged.emit()
