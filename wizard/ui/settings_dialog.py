"""The Settings dialog: the largest input file the wizard reads (FORMATS.md section 7 says 2 GB
by default; the user may raise it), saved in QSettings for the next inspection; and, for the
store, dropping old revert data (the prune run, on a worker: first what it would drop, then,
once confirmed, the prune itself)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from wizard.runs.pruning import MAX_AGE, PruneResult
from wizard.store.database import StoreError
from wizard.ui import backend
from wizard.ui.ask import Ask
from wizard.ui.error_dialog import show_unexpected_error
from wizard.ui.formatting import fmt_int, fmt_size, plural
from wizard.ui.plain_text import heading_label, plain_label
from wizard.ui.settings import DEFAULT_MAX_INPUT_MB, MAX_INPUT_MB_RANGE, Settings
from wizard.ui.status import clear_status, muted, set_status
from wizard.ui.worker import Task

DEFAULT_PRUNE_DAYS = 90
IMPORTS_NAMED = 12  # how many imports the confirmation names


def _imports_text(ids: list[int]) -> str:
    named = ", ".join(f"#{n}" for n in ids[:IMPORTS_NAMED])
    more = len(ids) - IMPORTS_NAMED
    return named + (f" and {fmt_int(more)} more" if more > 0 else "")


def prune_question(result: PruneResult, days: int) -> tuple[str, str]:
    """The confirmation of a prune, from its dry run: the question and what it would drop."""
    text = f"Drop the revert data of the audit entries older than {plural(days, 'day', 'days')}?"
    parts = []
    if result.rows:
        parts.append(
            f"This drops {plural(result.rows, 'previous version', 'previous versions')} of "
            f"records ({fmt_size(result.data_bytes)}), kept by "
            f"{plural(result.entries, 'audit entry', 'audit entries')}."
        )
    if len(result.imports) == 1:
        parts.append(
            f"Import {_imports_text(result.imports)} can no longer be reverted afterwards."
        )
    elif result.imports:
        parts.append(
            f"These {fmt_int(len(result.imports))} imports can no longer be reverted "
            f"afterwards: {_imports_text(result.imports)}."
        )
    parts.append(
        "The store file is compacted afterwards. The prune is one transaction and is recorded "
        "in the audit history."
    )
    return text, "\n\n".join(parts)


def prune_summary(result: PruneResult) -> str:
    """What a finished prune did, in one paragraph."""
    parts = [f"Dropped {plural(result.rows, 'previous version', 'previous versions')} of records"]
    if result.rows:
        parts[0] += f" ({fmt_size(result.data_bytes)})"
    parts[0] += "."
    if result.imports:
        n = len(result.imports)
        parts.append(f"{plural(n, 'import', 'imports')} can no longer be reverted.")
    if result.bytes_after is not None:
        parts.append(
            f"Store file: {fmt_size(result.bytes_before)} before, "
            f"{fmt_size(result.bytes_after)} after."
        )
    if result.compact_error:
        parts.append(result.compact_error[:1].upper() + result.compact_error[1:] + ".")
    if result.audit_id is not None:
        parts.append(f"Audit entry #{result.audit_id}.")
    return " ".join(parts)


class SettingsDialog(QDialog):
    """The settings; with ``db_path``, also the pruning of that store's revert data.

    ``pruneFinished(result)`` is emitted when a press of the prune button has run its course:
    the PruneResult (planned when nothing was confirmed or there was nothing to drop), None
    when there is no store, or the exception that stopped it.
    """

    pruneFinished = Signal(object)

    def __init__(
        self,
        settings: Settings,
        parent: QWidget | None = None,
        db_path: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.settings = settings
        self.db_path = Path(db_path) if db_path is not None else None
        self.store = backend.StoreHandle(self.db_path) if self.db_path is not None else None
        self.prune_task: Task | None = None
        layout = QVBoxLayout(self)
        # never squeezed below what its wrapped text needs (it grows with the prune's result)
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        form = QFormLayout()
        self.max_input = QSpinBox()
        self.max_input.setObjectName("maxInputSpin")
        self.max_input.setAccessibleName("Largest input file in megabytes")
        self.max_input.setRange(*MAX_INPUT_MB_RANGE)
        self.max_input.setSingleStep(256)
        self.max_input.setSuffix(" MB")
        self.max_input.setGroupSeparatorShown(True)
        self.max_input.setValue(settings.max_input_mb())
        form.addRow("&Largest input file:", self.max_input)
        layout.addLayout(form)
        layout.addWidget(
            muted(
                plain_label(
                    "Measured after decompression (.gz, .zip). Larger files are refused before "
                    "they are read. An export at agentmemory's own caps is about 370 MB; the "
                    f"default is {DEFAULT_MAX_INPUT_MB} MB (2 GB). Reading a big file takes a "
                    "lot of memory: raise the limit only as far as you need."
                )
            )
        )
        if self.db_path is not None:
            self._add_prune_section(layout)
        self.buttons = buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.default_button = QPushButton("Restore &default")
        self.default_button.setObjectName("restoreDefaultButton")
        self.default_button.clicked.connect(lambda: self.max_input.setValue(DEFAULT_MAX_INPUT_MB))
        buttons.addButton(self.default_button, QDialogButtonBox.ButtonRole.ResetRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addSpacing(8)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)

    # -- revert data -----------------------------------------------------------------------------
    def _add_prune_section(self, inner: QVBoxLayout) -> None:
        # (a heading, not a QGroupBox: a group box squeezes wrapped labels in some styles)
        inner.addSpacing(10)
        inner.addWidget(heading_label("Revert data", scale=1.0))
        inner.addWidget(
            muted(
                plain_label(
                    "Every import keeps the previous versions of the records it changes, so "
                    "it can be reverted. Dropping old revert data keeps the store from growing "
                    "without limit; the imports it belonged to can no longer be reverted."
                )
            )
        )
        row = QHBoxLayout()
        label = QLabel("Drop revert data &older than")
        self.prune_days = QSpinBox()
        self.prune_days.setObjectName("pruneDaysSpin")
        self.prune_days.setAccessibleName("Drop revert data older than this many days")
        self.prune_days.setRange(1, MAX_AGE.days)
        self.prune_days.setValue(DEFAULT_PRUNE_DAYS)
        self.prune_days.setSuffix(" days")
        self.prune_days.setGroupSeparatorShown(True)
        label.setBuddy(self.prune_days)
        self.prune_button = QPushButton("Dro&p…")
        self.prune_button.setObjectName("pruneButton")
        self.prune_button.setAccessibleName("Drop old revert data")
        self.prune_button.setToolTip("Shows what would be dropped and asks before dropping it")
        self.prune_button.clicked.connect(self.start_prune)
        row.addWidget(label)
        row.addWidget(self.prune_days)
        row.addWidget(self.prune_button)
        row.addStretch(1)
        inner.addLayout(row)
        self.prune_status = plain_label("", selectable=True, object_name="pruneStatus")
        self.prune_status.setAccessibleName("Result of dropping revert data")
        self.prune_status.hide()
        inner.addWidget(self.prune_status)

    def _show_prune_status(self, text: str, ok: bool | None = None, neutral: bool = False) -> None:
        self.prune_status.setText(text)
        if neutral:
            clear_status(self.prune_status)
        else:
            set_status(self.prune_status, ok)
        self.prune_status.show()
        self.adjustSize()

    def _set_busy(self, task: Task | None) -> None:
        self.prune_task = task
        busy = task is not None
        self.prune_button.setEnabled(not busy)
        self.prune_days.setEnabled(not busy)
        self.buttons.setEnabled(not busy)

    def start_prune(self) -> None:
        """Ask the store what dropping would do (on a worker), then confirm, then drop."""
        if self.store is None or self.prune_task is not None:
            return
        days = self.prune_days.value()
        self._show_prune_status("Checking what would be dropped…", neutral=True)
        task = Task(
            backend.prune_job(self.store, timedelta(days=days), dry_run=True), name="prune-plan"
        )
        task.finished.connect(lambda result, d=days: self._on_planned(result, d))
        task.failed.connect(self._on_prune_failed)
        self._set_busy(task)
        task.start()

    def _on_planned(self, result: PruneResult | None, days: int) -> None:
        self._set_busy(None)
        if result is None:
            self._show_prune_status(
                f"There is no store at {self.db_path} yet: there is no revert data to drop.",
                neutral=True,
            )
            self.pruneFinished.emit(None)
            return
        if not result.rows and not result.imports:
            self._show_prune_status(
                f"Nothing to drop: no audit entry older than {fmt_int(days)} days keeps "
                "revert data.",
                neutral=True,
            )
            self.pruneFinished.emit(result)
            return
        text, informative = prune_question(result, days)
        if not Ask.question(self, "Drop old revert data?", text, informative, yes_text="&Drop"):
            self._show_prune_status("Nothing was dropped.", neutral=True)
            self.pruneFinished.emit(result)
            return
        assert self.store is not None
        self._show_prune_status("Dropping the revert data and compacting the store…", neutral=True)
        task = Task(
            backend.prune_job(self.store, timedelta(days=days), dry_run=False), name="prune"
        )
        task.finished.connect(self._on_pruned)
        task.failed.connect(self._on_prune_failed)
        self._set_busy(task)
        task.start()

    def _on_pruned(self, result: PruneResult | None) -> None:
        self._set_busy(None)
        if result is None:  # the store went away in between
            self._show_prune_status(f"There is no store at {self.db_path}.", False)
        elif result.ok:
            self._show_prune_status(prune_summary(result), None if result.compact_error else True)
        else:
            where = f" (audit entry #{result.audit_id})" if result.audit_id is not None else ""
            self._show_prune_status(f"Nothing was dropped: {result.error}{where}", False)
        self.pruneFinished.emit(result)

    def _on_prune_failed(self, exc: BaseException) -> None:
        self._set_busy(None)
        if isinstance(exc, StoreError):
            self._show_prune_status(f"Nothing was dropped: {exc.message}", False)
        else:
            self._show_prune_status("Nothing was dropped: an unexpected error happened.", False)
            show_unexpected_error(exc, self)
        self.pruneFinished.emit(exc)

    # -- closing ---------------------------------------------------------------------------------
    def accept(self) -> None:
        if self.prune_task is not None:
            return  # (its buttons are disabled meanwhile; Enter must not close it either)
        self.settings.set_max_input_mb(self.max_input.value())
        self.settings.sync()
        self._close_store()
        super().accept()

    def reject(self) -> None:
        if self.prune_task is not None:
            return  # a prune runs to its end (one transaction); the dialog stays until then
        self._close_store()
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.prune_task is not None:
            event.ignore()
            return
        super().closeEvent(event)

    def _close_store(self) -> None:
        if self.store is not None:
            self.store.close()
