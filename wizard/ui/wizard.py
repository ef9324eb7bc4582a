"""The migration wizard: choose a file → validation and caps → strategy → import → result.

The window owns navigation and dialogs; the state of the migration lives in a
:class:`wizard.ui.session.MigrationSession`, which the pages observe. Nothing heavy runs on the
GUI thread: the session's tasks do the reading, planning and importing.
"""

from __future__ import annotations

import os
from enum import IntEnum

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget, QWizard

from wizard.store.database import StoreError
from wizard.ui.audit_window import show_audit_history
from wizard.ui.drop_zone import accept_file_drag, local_files
from wizard.ui.error_dialog import show_store_error, show_unexpected_error
from wizard.ui.pages import FilePage, ImportPage, ResultPage, StrategyPage, ValidationPage
from wizard.ui.plain_text import plain_message_box
from wizard.ui.session import MigrationSession
from wizard.ui.settings import Settings
from wizard.ui.settings_dialog import SettingsDialog

WINDOW_TITLE = "AgentMemory Migration Wizard"


class PageId(IntEnum):
    FILE = 0
    VALIDATION = 1
    STRATEGY = 2
    IMPORT = 3
    RESULT = 4


class MigrationWizard(QWizard):
    """One migration at a time; ``load_file(path)`` starts over with another file."""

    auditWindowOpened = Signal(object)
    browserOpened = Signal(object)
    settingsOpened = Signal(object)  # the Settings dialog

    def __init__(
        self,
        db_path: str | os.PathLike,
        settings: Settings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("migrationWizard")
        self.setWindowTitle(WINDOW_TITLE)
        self.settings = settings or Settings()
        self.session = session = MigrationSession(db_path, self.settings, self)
        self._close_when_stopped = False
        self.audit_windows: list[QWidget] = []

        self.file_page = FilePage(session)
        self.validation_page = ValidationPage(session)
        self.strategy_page = StrategyPage(session)
        self.import_page = ImportPage(session)
        self.result_page = ResultPage(session)
        self.setPage(PageId.FILE, self.file_page)
        self.setPage(PageId.VALIDATION, self.validation_page)
        self.setPage(PageId.STRATEGY, self.strategy_page)
        self.setPage(PageId.IMPORT, self.import_page)
        self.setPage(PageId.RESULT, self.result_page)
        self.setStartId(PageId.FILE)

        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Import")
        self.setButtonText(QWizard.WizardButton.FinishButton, "&Close")
        self.setAcceptDrops(True)
        self.setMinimumSize(760, 600)
        self.resize(900, 680)
        geometry = self.settings.geometry("wizard")
        if geometry is not None:
            self.restoreGeometry(geometry)

        session.restartRequested.connect(self._restart_for_new_file)
        session.storeProblem.connect(self.show_store_problem)
        session.unexpectedError.connect(lambda exc: show_unexpected_error(exc, self))
        session.storeMovedAside.connect(self._on_store_moved_aside)
        session.settingsRequested.connect(self.open_settings)
        session.auditHistoryRequested.connect(self.open_audit_history)
        session.browserRequested.connect(self.open_store_browser)
        session.startOverRequested.connect(self.start_over)
        session.importStopped.connect(self._on_import_stopped)

    # -- files -----------------------------------------------------------------------------------
    def load_file(self, path: str) -> bool:
        """Start over with ``path``; refused (False) while an import is running."""
        return self.session.load_file(path)

    def _restart_for_new_file(self) -> None:
        if self.currentId() not in (-1, PageId.FILE):
            self.restart()

    # -- the store -------------------------------------------------------------------------------
    def show_store_problem(self, exc: StoreError) -> QMessageBox:
        """The store error box; a damaged store gets the offer to move it aside."""
        return show_store_error(
            self, exc, self.session.db_path, move_aside=self.session.move_store_aside
        )

    def _on_store_moved_aside(self, target: str) -> None:
        box = plain_message_box(
            self,
            QMessageBox.Icon.Information,
            "Store moved aside",
            f"The damaged store was moved to:\n{target}",
            f"A new, empty store is created at {self.session.db_path}.",
            object_name="movedAsideBox",
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        if self.currentId() == PageId.STRATEGY:
            self.session.start_plan(self.session.strategy)

    # -- settings --------------------------------------------------------------------------------
    def open_settings(self) -> QDialog:
        dialog = SettingsDialog(self.settings, self, db_path=self.session.db_path)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(self._on_settings_changed)
        dialog.open()
        self.settingsOpened.emit(dialog)
        return dialog

    def _on_settings_changed(self) -> None:
        """A new size limit applies to the file on the first pages (checked again) and to the
        next file."""
        first_pages = self.currentId() in (-1, PageId.FILE, PageId.VALIDATION)
        self.session.apply_size_limit(self.settings.max_input_bytes(), reinspect=first_pages)

    # -- the import ------------------------------------------------------------------------------
    def _on_import_stopped(self) -> None:
        self.button(QWizard.WizardButton.CancelButton).setEnabled(True)
        if self.currentId() == PageId.IMPORT:
            self.next()
        if self._close_when_stopped:
            self._close_when_stopped = False
            self.close()

    # -- navigation and closing ------------------------------------------------------------------
    def start_over(self) -> None:
        """'Import another file': back to the first page with no file chosen."""
        if self.session.is_importing():
            return
        self.session.start_over()
        self.restart()

    def open_audit_history(self) -> QWidget:
        result = self.session.result
        window = show_audit_history(
            self.session.db_path,
            self.settings,
            self.audit_windows,
            result.audit_id if result is not None else None,
        )
        self.auditWindowOpened.emit(window)
        return window

    def open_store_browser(self, audit_id: int | None = None) -> QWidget:
        """The store browser (filtered to what import ``audit_id`` wrote, when given)."""
        from wizard.ui.store_browser import show_store_browser

        window = show_store_browser(
            self.session.db_path, self.audit_windows, audit_id, settings=self.settings
        )
        self.browserOpened.emit(window)
        return window

    def reject(self) -> None:
        """Cancel, Esc: during an import, stop it (rolled back, audited) and stay; otherwise
        close. Never waits for a worker."""
        if self.session.is_importing():
            self.session.cancel_import()
            self.button(QWizard.WizardButton.CancelButton).setEnabled(False)
            self.import_page.show_stopping()
            return
        self.session.close()
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.session.is_importing():
            self._close_when_stopped = True
            self.reject()
            event.ignore()
            return
        super().closeEvent(event)

    def done(self, result: int) -> None:
        self.settings.set_geometry("wizard", self.saveGeometry())
        self.settings.sync()
        super().done(result)

    # -- drops anywhere on the window ------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.session.is_importing():
            event.ignore()
            return
        accept_file_drag(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self.session.is_importing():
            event.ignore()
            return
        accept_file_drag(event)

    def dropEvent(self, event: QDropEvent) -> None:
        files = local_files(event.mimeData())
        if not files or self.session.is_importing():
            event.ignore()
            return
        event.acceptProposedAction()
        self.session.load_files(files)
