"""The state of one migration, which the wizard's pages observe and change.

A :class:`MigrationSession` holds the chosen file and its read options, the inspection, the
dry-run plans, the strategy and the import's result, and starts the background tasks (reading,
planning, importing: ``ui/backend.py`` jobs on ``ui/worker.py`` threads). Pages read its fields
and call its methods; they learn of changes from its signals. They never import the wizard, and
the session knows no widget: what the window must show (an error box, the settings dialog, the
audit history) it asks for with a signal.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from wizard.core.fastjson import escaped
from wizard.core.inspection import Inspection, InspectOptions
from wizard.core.names import ErrorKind, Outcome, Strategy
from wizard.core.storage.mem0 import install_pair
from wizard.runs import ImportResult, Plan
from wizard.runs.batch import BatchItem, BatchStep
from wizard.store.database import StoreError
from wizard.ui import backend
from wizard.ui.settings import Settings
from wizard.ui.worker import Task, dispose_in_background, running_tasks, start_task


def group_sources(paths: list[str]) -> list[tuple[str, str | None]]:
    """Dropped paths as sources, in order: (path, Qdrant folder read with it). A mem0
    history.db and a Qdrant folder dropped together are one source."""
    sources: list[tuple[str, str | None]] = []
    used: set[int] = set()
    for i, path in enumerate(paths):
        if i in used:
            continue
        for j in range(i + 1, len(paths)):
            if j in used:
                continue
            pair = install_pair([Path(path), Path(paths[j])])
            if pair is not None:
                used |= {i, j}
                sources.append((str(pair[0]), str(pair[1])))
                break
        else:
            sources.append((path, None))
    return sources


def is_source_path(path: str) -> bool:
    """A path the wizard reads: anything that exists (the reader refuses, at once, what is not
    a regular file or a store's folder it knows, saying what it is)."""
    return os.path.exists(path)


class MigrationSession(QObject):
    """One migration at a time, on the store at ``db_path``."""

    fileChanged = Signal(str)
    inspectionStarted = Signal()
    inspectionProgress = Signal(object)  # (phase, done, total)
    inspectionFinished = Signal()  # .inspection (or .inspection_error) is set
    planStarted = Signal(object)  # Strategy
    planProgress = Signal(object)  # runs.Progress
    planFinished = Signal(object)  # Strategy; .plans[strategy] or .plan_error is set
    importStarted = Signal()
    importProgress = Signal(object)  # runs.Progress
    importFinished = Signal()  # .result / .import_outcome / .import_error are set
    importStopped = Signal()  # the import's thread has ended
    batchProgress = Signal(object)  # runs.batch.BatchStep: the next source of a batch starts
    storeMovedAside = Signal(str)  # where a damaged store was moved
    # What the window is asked to show or do:
    restartRequested = Signal()  # back to the first page (a new file while on another)
    storeProblem = Signal(object)  # a StoreError
    unexpectedError = Signal(object)  # any other exception
    settingsRequested = Signal()
    auditHistoryRequested = Signal()
    browserRequested = Signal(object)  # an audit id (the records that import wrote), or None
    startOverRequested = Signal()

    def __init__(
        self,
        db_path: str | os.PathLike[str],
        settings: Settings,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.db_path = Path(db_path)
        self.settings = settings.for_store(self.db_path)  # recent files, strategy: per store
        self.store = backend.StoreHandle(self.db_path)
        self.path = ""
        self.options = self.default_options()
        self.inspection: Inspection | None = None
        self.inspection_error: BaseException | None = None
        self.strategy: Strategy = self.settings.last_strategy()
        self.plans: dict[Strategy, Plan] = {}
        self.plan_error: BaseException | None = None
        self.result: ImportResult | None = None
        self.import_outcome: Outcome | None = None
        self.import_error: BaseException | None = None
        self._inspect_task: Task | None = None
        self._plan_task: Task | None = None
        self._plan_strategy: Strategy | None = None
        self._import_task: Task | None = None
        # sources dropped together with this one, imported after it: (path, Qdrant folder)
        self.queue: list[tuple[str, str | None]] = []
        self.batch: list[BatchItem] = []  # what became of them (after the import)
        self.batch_left: list[str] = []  # those a cancel or an error left untouched
        self.batch_error: BaseException | None = None
        self._batch_paths: list[str] = []
        self._batch_next = False

    # -- the file --------------------------------------------------------------------------------
    def default_options(self) -> InspectOptions:
        """Options for a new file: the defaults, with the size limit from the settings."""
        return InspectOptions(max_bytes=self.settings.max_input_bytes())

    def load_file(self, path: str, vectors: str | None = None) -> bool:
        """Start over with ``path`` (a drop, the command line, the file manager, a recent file,
        a store found on this computer); ``vectors`` is mem0's Qdrant folder read with a
        history.db as one install.

        Refused (returns False) while an import is running."""
        if not path or self.is_importing():
            return False
        self.restartRequested.emit()
        options = self.default_options()
        if vectors:
            options = dataclasses.replace(options, vectors=os.path.abspath(vectors))
        self.set_file(path, options)
        return True

    def _reset_batch(self) -> None:
        self.batch = []
        self.batch_left = []
        self.batch_error = None
        self._batch_paths = []

    def load_files(self, paths: list[str]) -> bool:
        """Several paths dropped at once: the first source is read and goes through the pages;
        the others wait in ``queue`` and are imported after it, one after the other, with the
        same strategy (each its own import and audit entry). Paths that together form one
        source (a mem0 history.db and its Qdrant folder) are taken as one."""
        sources = group_sources(paths)
        if not sources:
            return False
        first, *rest = sources
        if not self.load_file(first[0], vectors=first[1]):
            return False
        self.queue = rest
        self.fileChanged.emit(self.path)  # the first page says what waits
        return True

    def set_file(self, path: str, options: InspectOptions | None = None) -> None:
        """Choose ``path`` (read at once when it is a file)."""
        self.queue = []
        self._reset_batch()
        path = os.path.abspath(os.path.expanduser(path))
        self.path = path
        self.options = options or self.default_options()
        if is_source_path(path):
            if escaped(path) == path:  # Qt's settings cannot hold a name that is not UTF-8
                self.settings.add_recent_file(path, self.options.vectors)
            self.fileChanged.emit(path)
            self.start_inspection()
        else:
            self.cancel_inspection()
            self._reset_inspection()
            self.fileChanged.emit(path)
            self.inspectionFinished.emit()

    def reinspect(self, options: InspectOptions) -> None:
        """Check the same file again with other options (treat as version X, skip invalid)."""
        self.options = options
        self.start_inspection()

    def change_options(
        self,
        *,
        skip_invalid: bool | None = None,
        treat_as_version: str | None = None,
        include_deleted: bool | None = None,
        include_inactive: bool | None = None,
    ) -> None:
        """Check the file again with the options given changed (the others kept)."""
        options = self.options
        self.reinspect(
            dataclasses.replace(
                options,
                skip_invalid=options.skip_invalid if skip_invalid is None else skip_invalid,
                treat_as_version=treat_as_version or options.treat_as_version,
                include_deleted=(
                    options.include_deleted if include_deleted is None else include_deleted
                ),
                include_inactive=(
                    options.include_inactive if include_inactive is None else include_inactive
                ),
            )
        )

    def apply_size_limit(self, limit: int, reinspect: bool) -> None:
        """A new size limit from the settings: the file is checked again when ``reinspect``
        (it is still on the first pages), and the limit holds for the next file anyway."""
        if limit == self.options.max_bytes:
            return
        options = dataclasses.replace(self.options, max_bytes=limit)
        if reinspect and self.path and is_source_path(self.path) and not self.is_importing():
            self.reinspect(options)
        else:
            self.options = options

    def start_over(self) -> None:
        """No file chosen, nothing read or imported ('Import another file')."""
        if self.is_importing():
            return
        self.cancel_inspection()
        self._reset_inspection()
        self.path = ""
        self.queue = []
        self._reset_batch()
        self.options = self.default_options()
        self.result = None
        self.import_outcome = None
        self.import_error = None
        self.fileChanged.emit("")

    # -- the read run ----------------------------------------------------------------------------
    def is_inspecting(self) -> bool:
        return self._inspect_task is not None

    def start_inspection(self) -> None:
        self.cancel_inspection()
        self._reset_inspection()
        self._inspect_task = start_task(
            backend.read_job(self.path, self.options),
            name="inspect",
            progress=self._on_inspect_progress,
            finished=self._on_inspected,
            failed=self._on_inspect_failed,
            cancelled=self._on_inspect_cancelled,
        )
        self.inspectionStarted.emit()

    def cancel_inspection(self) -> None:
        if self._inspect_task is not None:
            self._inspect_task.cancel()
            self._inspect_task = None

    def _reset_inspection(self) -> None:
        old, self.inspection = self.inspection, None
        self.inspection_error = None
        self.cancel_plan()
        self.plans = {}
        self.plan_error = None
        if old is not None and old.data is not None and not self._data_in_use():
            data, old.data = old.data, None
            dispose_in_background(data)

    @staticmethod
    def _data_in_use() -> bool:
        """Is any task still using an inspection's data (even one already cancelled)?"""
        return any(t.name in ("plan", "import") for t in running_tasks())

    def _on_inspect_progress(self, item: object) -> None:
        if self.sender() is self._inspect_task:
            self.inspectionProgress.emit(item)

    def _on_inspected(self, inspection: Inspection) -> None:
        if self.sender() is not self._inspect_task:
            return
        self._inspect_task = None
        self.inspection = inspection
        self.inspectionFinished.emit()

    def _on_inspect_failed(self, exc: BaseException) -> None:
        if self.sender() is not self._inspect_task:
            return
        self._inspect_task = None
        self.inspection_error = exc
        self.unexpectedError.emit(exc)
        self.inspectionFinished.emit()

    def _on_inspect_cancelled(self) -> None:
        if self.sender() is self._inspect_task:
            self._inspect_task = None
            self.inspectionFinished.emit()

    # -- the dry run -----------------------------------------------------------------------------
    def set_strategy(self, strategy: Strategy) -> None:
        """Choose a strategy; its dry run starts unless it is known already."""
        self.strategy = Strategy(strategy)
        self.settings.set_last_strategy(self.strategy)
        if self.strategy not in self.plans:
            self.start_plan(self.strategy)

    def is_planning(self) -> bool:
        return self._plan_task is not None

    def start_plan(self, strategy: Strategy) -> None:
        self.cancel_plan()
        self.plan_error = None
        if self.inspection is None or self.inspection.data is None:
            return
        self._plan_strategy = strategy
        self._plan_task = start_task(
            backend.plan_job(self.store, self.inspection, strategy),
            name="plan",
            progress=self._on_plan_progress,
            finished=self._on_planned,
            failed=self._on_plan_failed,
        )
        self.planStarted.emit(strategy)

    def cancel_plan(self) -> None:
        if self._plan_task is not None:
            self._plan_task.cancel()
            self._plan_task = None

    def _on_plan_progress(self, item: object) -> None:
        if self.sender() is self._plan_task:
            self.planProgress.emit(item)

    def _on_planned(self, plan: Plan) -> None:
        if self.sender() is not self._plan_task or self._plan_strategy is None:
            return
        self._plan_task = None
        self.plans[self._plan_strategy] = plan
        self.planFinished.emit(self._plan_strategy)

    def _on_plan_failed(self, exc: BaseException) -> None:
        if self.sender() is not self._plan_task:
            return
        self._plan_task = None
        self.plan_error = exc
        self._report(exc)
        self.planFinished.emit(self._plan_strategy)

    # -- the import run --------------------------------------------------------------------------
    def is_importing(self) -> bool:
        return self._import_task is not None and self._import_task.is_running()

    def is_stopping(self) -> bool:
        """Has the running import been asked to stop?"""
        task = self._import_task
        return task is not None and task.is_cancel_requested()

    def start_import(self) -> None:
        if self.inspection is None or not self.inspection.ok or self.is_importing():
            return
        self.result = None
        self.import_outcome = None
        self.import_error = None
        self.cancel_plan()
        self._import_task = start_task(
            backend.import_job(self.store, self.inspection, self.strategy),
            name="import",
            progress=self.importProgress.emit,
            finished=self._on_imported,
            failed=self._on_import_failed,
            cancelled=self._on_import_cancelled,
            stopped=self._on_import_stopped,
        )
        self.importStarted.emit()

    def cancel_import(self) -> None:
        if self._import_task is not None and self.is_importing():
            self._import_task.cancel()

    def _on_imported(self, result: ImportResult) -> None:
        self.result = result
        self.import_outcome = result.outcome
        if self.queue and result.outcome == Outcome.SUCCEEDED:
            self._batch_next = True  # the others start once this import's thread has ended
            return
        self._drop_queue()
        self._finish_import()
        if result.error_code == ErrorKind.CORRUPT:  # offer to start a new store
            self.storeProblem.emit(backend.corrupt_store_error(str(result.error), self.db_path))

    def _drop_queue(self) -> None:
        """The first import did not succeed: the files waiting after it are not imported."""
        self.batch_left = [path for path, _v in self.queue]
        self.queue = []

    def _on_import_failed(self, exc: BaseException) -> None:
        self._drop_queue()
        self.import_error = exc
        self.import_outcome = Outcome.FAILED
        self._report(exc)
        self._finish_import()

    def _on_import_cancelled(self) -> None:
        self._drop_queue()
        self.import_outcome = Outcome.CANCELLED
        self._finish_import()

    def _finish_import(self) -> None:
        self.plans = {}  # the store changed: old dry runs are stale
        self.importFinished.emit()

    def _on_import_stopped(self) -> None:
        task, self._import_task = self._import_task, None  # (its worker freed the data)
        if self._batch_next:
            self._batch_next = False
            if task is None or not task.is_cancel_requested():
                self._start_batch()
                return
            # asked to stop as the first import ended: the others are not started
            self.batch_left = [path for path, _v in self.queue]
            self.queue = []
            self._finish_import()
        self.importStopped.emit()

    # -- the others of a batch -------------------------------------------------------------------
    def _start_batch(self) -> None:
        sources = [(path, self._options_for(vectors)) for path, vectors in self.queue]
        self.queue = []
        self._batch_paths = [path for path, _o in sources]
        self._import_task = start_task(
            backend.batch_job(self.store, sources, self.strategy),
            name="import",
            progress=self._on_batch_progress,
            finished=self._on_batch_done,
            failed=self._on_batch_failed,
            cancelled=self._on_batch_cancelled,
            stopped=self._on_import_stopped,
        )

    def _options_for(self, vectors: str | None) -> InspectOptions:
        """The options of the first source (deleted/inactive choices, size limit) for the next;
        its version choice and skipping of invalid records were made for that file only."""
        return dataclasses.replace(
            self.options, vectors=vectors, treat_as_version=None, skip_invalid=False
        )

    def _on_batch_progress(self, item: object) -> None:
        if isinstance(item, BatchStep):
            self.batchProgress.emit(item)
        else:
            self.importProgress.emit(item)

    def _on_batch_done(self, items: list[BatchItem]) -> None:
        self.batch = items
        done = {item.path for item in items}
        self.batch_left = [p for p in self._batch_paths if p not in done]
        for item in items:
            if item.result.error_code == ErrorKind.CORRUPT:  # offer to start a new store
                self.storeProblem.emit(
                    backend.corrupt_store_error(str(item.result.error), self.db_path)
                )
                break
        self._finish_import()

    def _on_batch_failed(self, exc: BaseException) -> None:
        """The batch stopped on an unexpected error: the first import stands (committed);
        what the batch did is in the audit history."""
        self.batch_error = exc
        self.batch_left = list(self._batch_paths)
        self._report(exc)
        self._finish_import()

    def _on_batch_cancelled(self) -> None:
        self.batch_left = list(self._batch_paths)
        self._finish_import()

    def batch_summary(self) -> list[tuple[str, str]]:
        """What became of each file of a batch after the first: (file name, what happened)."""
        rows = [
            (
                os.path.basename(item.path),
                f"{item.result.outcome}"
                + (f", audit entry #{item.result.audit_id}" if item.result.audit_id else "")
                + (f": {item.result.error}" if item.result.error and not item.result.ok else ""),
            )
            for item in self.batch
        ]
        rows += [(os.path.basename(p), "not imported (stopped before it)") for p in self.batch_left]
        if self.batch_error is not None:
            rows.append(("", f"the batch stopped on an error: {self.batch_error}"))
        return rows

    # -- the store -------------------------------------------------------------------------------
    def _report(self, exc: BaseException) -> None:
        if isinstance(exc, StoreError):
            self.storeProblem.emit(exc)
        else:
            self.unexpectedError.emit(exc)

    def move_store_aside(self) -> Path | None:
        """Rename the damaged store (``…damaged-<timestamp>``, nothing deleted or overwritten)
        and carry on with a new one, created on next use."""
        if self.is_importing():
            return None
        self.cancel_plan()
        old, self.store = self.store, backend.StoreHandle(self.db_path)
        old.close()
        try:
            target = backend.move_store_aside(self.db_path)
        except Exception as exc:
            self._report(exc)
            return None
        self.plans = {}
        self.storeMovedAside.emit(str(target))
        return target

    def close(self) -> None:
        """The window closes: stop reading and planning (an import is never left behind: the
        window waits for it to stop first)."""
        self.cancel_inspection()
        self.cancel_plan()

    # -- requests for the window -----------------------------------------------------------------
    def request_settings(self) -> None:
        self.settingsRequested.emit()

    def request_audit_history(self) -> None:
        self.auditHistoryRequested.emit()

    def request_browser(self, audit_id: int | None = None) -> None:
        """Open the store browser (filtered to what import ``audit_id`` wrote, when given)."""
        self.browserRequested.emit(audit_id)

    def request_start_over(self) -> None:
        self.startOverRequested.emit()
