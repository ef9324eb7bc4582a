"""The migration wizard: choose a file → validation and caps → strategy → import → result.

The wizard holds the state of one migration (the file, the inspection, the plans, the result)
and starts the background tasks; the pages show that state. Nothing heavy runs on the GUI
thread: reading, checking, planning and importing are :class:`wizard.ui.worker.Task` jobs whose
signals update the state.
"""

from __future__ import annotations

import dataclasses
import os
from enum import IntEnum
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget, QWizard

from wizard.core.inspection import Inspection, InspectOptions
from wizard.ui import backend
from wizard.ui.drop_zone import accept_file_drag, local_files
from wizard.ui.error_dialog import show_store_error, show_unexpected_error
from wizard.ui.plain_text import plain_message_box
from wizard.ui.settings import Settings
from wizard.ui.worker import Task, dispose_in_background, running_tasks

WINDOW_TITLE = "AgentMemory Migration Wizard"


class PageId(IntEnum):
    FILE = 0
    VALIDATION = 1
    STRATEGY = 2
    IMPORT = 3
    RESULT = 4


class MigrationWizard(QWizard):
    """One migration at a time; ``load_file(path)`` starts over with another file."""

    fileChanged = Signal(str)
    inspectionStarted = Signal()
    inspectionProgress = Signal(object)  # (phase, done, total)
    inspectionFinished = Signal()  # self.inspection (or self.inspection_error) is set
    refusalRecorded = Signal(int)
    planStarted = Signal(str)
    planProgress = Signal(object)
    planFinished = Signal(str)  # strategy; self.plans[strategy] or self.plan_error is set
    importStarted = Signal()
    importProgress = Signal(object)
    importFinished = Signal()  # self.result / self.import_outcome / self.import_error are set
    auditWindowOpened = Signal(object)
    settingsOpened = Signal(object)  # the Settings dialog
    storeMovedAside = Signal(str)  # where a damaged store was moved

    def __init__(
        self,
        db_path: str | os.PathLike,
        settings: Settings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        from wizard.ui.pages import (
            FilePage,
            ImportPage,
            ResultPage,
            StrategyPage,
            ValidationPage,
        )

        self.setObjectName("migrationWizard")
        self.setWindowTitle(WINDOW_TITLE)
        self.db_path = Path(db_path)
        self.settings = settings or Settings()
        self.store = backend.StoreHandle(self.db_path)

        # State of the current migration.
        self.path = ""
        self.options = self._default_options()
        self.inspection: Inspection | None = None
        self.inspection_error: BaseException | None = None
        self.inspect_task: Task | None = None
        self.strategy = self.settings.last_strategy()
        self.plans: dict[str, object] = {}
        self.plan_error: BaseException | None = None
        self.plan_task: Task | None = None
        self.import_task: Task | None = None
        self.result: object | None = None
        self.import_outcome: str | None = None  # succeeded, cancelled, failed
        self.import_error: BaseException | None = None
        self.refusals: dict[tuple[str, str], int | None] = {}
        self._close_when_stopped = False
        self.audit_windows: list[QWidget] = []
        self.moved_aside: Path | None = None  # where the last damaged store went

        self.file_page = FilePage(self)
        self.validation_page = ValidationPage(self)
        self.strategy_page = StrategyPage(self)
        self.import_page = ImportPage(self)
        self.result_page = ResultPage(self)
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
        self.currentIdChanged.connect(self._on_page_changed)

    # -- files -----------------------------------------------------------------------------------
    def is_importing(self) -> bool:
        return self.import_task is not None and self.import_task.is_running()

    def load_file(self, path: str) -> bool:
        """Start over with ``path`` (a drop, the command line, Finder, a recent file).

        Refused (returns False) while an import is running.
        """
        if not path or self.is_importing():
            return False
        if self.currentId() not in (-1, PageId.FILE):
            self.restart()
        self.set_file(path)
        return True

    def _default_options(self) -> InspectOptions:
        """Options for a new file: the defaults, with the size limit from the settings."""
        return InspectOptions(max_bytes=self.settings.max_input_bytes())

    def set_file(self, path: str, options: InspectOptions | None = None) -> None:
        path = os.path.abspath(os.path.expanduser(path))
        self.path = path
        self.options = options or self._default_options()
        if os.path.isfile(path):
            self.settings.add_recent_file(path)
            self.fileChanged.emit(path)
            self.start_inspection()
        else:
            self._cancel_inspection()
            self._reset_inspection()
            self.fileChanged.emit(path)
            self.inspectionFinished.emit()

    def reinspect(self, options: InspectOptions) -> None:
        """Check the same file again with other options (treat as version X, skip invalid)."""
        self.options = options
        self.start_inspection()

    def is_inspecting(self) -> bool:
        return self.inspect_task is not None

    def start_inspection(self) -> None:
        self._cancel_inspection()
        self._reset_inspection()
        task = Task(backend.inspect_job(self.path, self.options), name="inspect")
        task.progress.connect(self._on_inspect_progress)
        task.finished.connect(self._on_inspected)
        task.failed.connect(self._on_inspect_failed)
        task.cancelled.connect(self._on_inspect_cancelled)
        self.inspect_task = task
        task.start()
        self.inspectionStarted.emit()

    def _reset_inspection(self) -> None:
        old, self.inspection = self.inspection, None
        self.inspection_error = None
        self._cancel_plan()
        self.plans = {}
        self.plan_error = None
        if old is not None and old.data is not None and not self._tasks_running():
            data, old.data = old.data, None
            dispose_in_background(data)

    @staticmethod
    def _tasks_running() -> bool:
        """Is any task still using an inspection's data (even one already cancelled)?"""
        return any(t.name in ("plan", "import") for t in running_tasks())

    def _cancel_inspection(self) -> None:
        if self.inspect_task is not None:
            self.inspect_task.cancel()
            self.inspect_task = None

    def _on_inspect_progress(self, item: object) -> None:
        if self.sender() is self.inspect_task:
            self.inspectionProgress.emit(item)

    def _on_inspected(self, inspection: Inspection) -> None:
        if self.sender() is not self.inspect_task:
            return
        self.inspect_task = None
        self.inspection = inspection
        self.inspectionFinished.emit()
        if self.currentId() == PageId.VALIDATION:
            self.record_refusal()

    def _on_inspect_failed(self, exc: BaseException) -> None:
        if self.sender() is not self.inspect_task:
            return
        self.inspect_task = None
        self.inspection_error = exc
        show_unexpected_error(exc, self)
        self.inspectionFinished.emit()

    def _on_inspect_cancelled(self) -> None:
        if self.sender() is self.inspect_task:
            self.inspect_task = None
            self.inspectionFinished.emit()

    # -- refusal audit ---------------------------------------------------------------------------
    def record_refusal(self) -> None:
        """Audit a refused file once (as soon as the validation page shows the refusal)."""
        insp = self.inspection
        if insp is None or insp.ok:
            return
        key = (insp.source.path, insp.source.sha256)
        if key in self.refusals:
            return
        self.refusals[key] = None
        task = Task(backend.refusal_job(self.store, insp, self.strategy), name="refusal")
        task.finished.connect(lambda audit_id, k=key: self._on_refusal_recorded(k, audit_id))
        task.failed.connect(self._on_store_task_failed)
        task.start()

    def _on_refusal_recorded(self, key: tuple[str, str], audit_id: object) -> None:
        self.refusals[key] = audit_id if isinstance(audit_id, int) else None
        if isinstance(audit_id, int):
            self.refusalRecorded.emit(audit_id)

    def refusal_audit_id(self) -> int | None:
        insp = self.inspection
        if insp is None:
            return None
        return self.refusals.get((insp.source.path, insp.source.sha256))

    def _on_store_task_failed(self, exc: BaseException) -> None:
        if backend.is_store_error(exc):
            self.show_store_problem(exc)
        else:
            show_unexpected_error(exc, self)

    def show_store_problem(self, exc: BaseException) -> QMessageBox:
        """The store error box; a damaged store gets the offer to move it aside."""
        return show_store_error(self, exc, self.db_path, move_aside=self.move_store_aside)

    def move_store_aside(self) -> Path | None:
        """Rename the damaged store (``…damaged-<timestamp>``, nothing deleted or overwritten)
        and carry on with a new one, created on next use."""
        if self.is_importing():
            return None
        self._cancel_plan()
        old, self.store = self.store, backend.StoreHandle(self.db_path)
        old.close()
        try:
            target = backend.move_store_aside(self.db_path)
        except Exception as exc:
            if backend.is_store_error(exc):
                show_store_error(self, exc, self.db_path)
            else:
                show_unexpected_error(exc, self)
            return None
        self.moved_aside = target
        box = plain_message_box(
            self,
            QMessageBox.Icon.Information,
            "Store moved aside",
            f"The damaged store was moved to:\n{target}",
            f"A new, empty store is created at {self.db_path}.",
            object_name="movedAsideBox",
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.storeMovedAside.emit(str(target))
        self.plans = {}
        if self.currentId() == PageId.STRATEGY:
            self.start_plan(self.strategy)
        return target

    # -- settings --------------------------------------------------------------------------------
    def open_settings(self) -> QDialog:
        from wizard.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(self._on_settings_changed)
        dialog.open()
        self.settingsOpened.emit(dialog)
        return dialog

    def _on_settings_changed(self) -> None:
        """A new size limit applies to the file on the first pages (checked again) and to the
        next file."""
        limit = self.settings.max_input_bytes()
        if limit == self.options.max_bytes:
            return
        options = dataclasses.replace(self.options, max_bytes=limit)
        if (
            self.path
            and os.path.isfile(self.path)
            and not self.is_importing()
            and self.currentId() in (-1, PageId.FILE, PageId.VALIDATION)
        ):
            self.reinspect(options)
        else:
            self.options = options

    # -- plan (dry run) --------------------------------------------------------------------------
    def set_strategy(self, strategy: str) -> None:
        self.strategy = strategy
        self.settings.set_last_strategy(strategy)
        if strategy not in self.plans:
            self.start_plan(strategy)

    def is_planning(self) -> bool:
        return self.plan_task is not None

    def start_plan(self, strategy: str) -> None:
        self._cancel_plan()
        self.plan_error = None
        if self.inspection is None or self.inspection.data is None:
            return
        task = Task(backend.plan_job(self.store, self.inspection, strategy), name="plan")
        task.strategy = strategy
        task.progress.connect(self._on_plan_progress)
        task.finished.connect(self._on_planned)
        task.failed.connect(self._on_plan_failed)
        self.plan_task = task
        task.start()
        self.planStarted.emit(strategy)

    def _cancel_plan(self) -> None:
        if self.plan_task is not None:
            self.plan_task.cancel()
            self.plan_task = None

    def _on_plan_progress(self, item: object) -> None:
        if self.sender() is self.plan_task:
            self.planProgress.emit(item)

    def _on_planned(self, plan: object) -> None:
        task = self.sender()
        if task is not self.plan_task:
            return
        self.plan_task = None
        self.plans[task.strategy] = plan
        self.planFinished.emit(task.strategy)

    def _on_plan_failed(self, exc: BaseException) -> None:
        task = self.sender()
        if task is not self.plan_task:
            return
        self.plan_task = None
        self.plan_error = exc
        self._on_store_task_failed(exc)
        self.planFinished.emit(task.strategy)

    # -- import ----------------------------------------------------------------------------------
    def start_import(self) -> None:
        if self.inspection is None or not self.inspection.ok or self.is_importing():
            return
        self.result = None
        self.import_outcome = None
        self.import_error = None
        self._cancel_plan()
        task = Task(backend.import_job(self.store, self.inspection, self.strategy), name="import")
        task.progress.connect(self.importProgress)
        task.finished.connect(self._on_imported)
        task.failed.connect(self._on_import_failed)
        task.cancelled.connect(self._on_import_cancelled)
        task.stopped.connect(self._on_import_stopped)
        self.import_task = task
        task.start()
        self.importStarted.emit()

    def cancel_import(self) -> None:
        if self.is_importing():
            self.import_task.cancel()

    def _on_imported(self, result: object) -> None:
        self.result = result
        outcome = getattr(result, "outcome", None)
        if outcome is None and isinstance(result, dict):
            outcome = result.get("outcome")
        self.import_outcome = outcome or "succeeded"
        self._finish_import()
        if getattr(result, "error_kind", None) == "corrupt":  # offer to start a new store
            from wizard.store.database import StoreError

            self.show_store_problem(StoreError("corrupt", str(result.error), self.db_path))

    def _on_import_failed(self, exc: BaseException) -> None:
        self.import_error = exc
        self.import_outcome = "failed"
        self._on_store_task_failed(exc)
        self._finish_import()

    def _on_import_cancelled(self) -> None:
        self.import_outcome = "cancelled"
        self._finish_import()

    def _finish_import(self) -> None:
        self.plans = {}  # the store changed: old dry runs are stale
        self.importFinished.emit()

    def _on_import_stopped(self) -> None:
        self.import_task = None  # (its worker has freed the imported data: backend.import_job)
        self.button(QWizard.WizardButton.CancelButton).setEnabled(True)
        if self.currentId() == PageId.IMPORT:
            self.next()
        if self._close_when_stopped:
            self._close_when_stopped = False
            self.close()

    # -- navigation and closing ------------------------------------------------------------------
    def _on_page_changed(self, page_id: int) -> None:
        if page_id == PageId.VALIDATION and self.inspection is not None:
            self.record_refusal()

    def start_over(self) -> None:
        """'Import another file': back to the first page with no file chosen."""
        if self.is_importing():
            return
        self._cancel_inspection()
        self._reset_inspection()
        self.path = ""
        self.options = self._default_options()
        self.result = None
        self.import_outcome = None
        self.import_error = None
        self.restart()
        self.fileChanged.emit("")

    def open_audit_history(self) -> QWidget:
        from wizard.ui.audit_window import AuditWindow

        window = AuditWindow(self.db_path, settings=self.settings)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.audit_windows.append(window)
        window.destroyed.connect(
            lambda _=None, w=window: (
                self.audit_windows.remove(w) if w in self.audit_windows else None
            )
        )
        window.show()
        if self.result is not None:
            audit_id = getattr(self.result, "audit_id", None)
            if isinstance(audit_id, int):
                window.select_entry_when_loaded(audit_id)
        self.auditWindowOpened.emit(window)
        return window

    def reject(self) -> None:
        """Cancel, Esc: during an import, stop it (rolled back, audited) and stay; otherwise
        close. Never waits for a worker."""
        if self.is_importing():
            self.cancel_import()
            self.button(QWizard.WizardButton.CancelButton).setEnabled(False)
            self.import_page.show_stopping()
            return
        self._cancel_inspection()
        self._cancel_plan()
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.is_importing():
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
        if self.is_importing():
            event.ignore()
            return
        accept_file_drag(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self.is_importing():
            event.ignore()
            return
        accept_file_drag(event)

    def dropEvent(self, event: QDropEvent) -> None:
        files = local_files(event.mimeData())
        if not files or self.is_importing():
            event.ignore()
            return
        event.acceptProposedAction()
        self.load_file(files[0])
