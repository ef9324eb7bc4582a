"""Page 4: the import, on a worker thread. A progress bar, the current collection, records per
second and the time left. Cancel (the wizard's button, Esc) stops it: one transaction, so
nothing is written, and the attempt is audited."""

from __future__ import annotations

import os
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFormLayout, QProgressBar, QVBoxLayout, QWizardPage

from wizard.core.names import Outcome, Phase
from wizard.runs import Progress
from wizard.runs.batch import BatchStep
from wizard.ui.formatting import fmt_duration, fmt_eta, fmt_int
from wizard.ui.labels import collection_label
from wizard.ui.plain_text import heading_label, plain_label, plain_tooltip
from wizard.ui.rate import RateMeter
from wizard.ui.session import MigrationSession
from wizard.ui.status import muted

HEARTBEAT_MS = 250  # the page updates at least 4 times a second while importing


SUBTITLE = (
    "Everything is written in one transaction: if you cancel, or anything fails, the store "
    "stays exactly as it was."
)


class ImportPage(QWizardPage):
    def __init__(self, session: MigrationSession) -> None:
        super().__init__()
        self.setObjectName("importPage")
        self.session = session
        self.setTitle("Importing")
        self.setSubTitle(SUBTITLE)
        self._done = False
        self.meter = RateMeter()
        self.done_per_collection: dict[str, int] = {}
        self.grand_total = 0
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        self.headline = heading_label("Importing…", scale=1.2)
        self.headline.setObjectName("importHeadline")
        layout.addWidget(self.headline)
        form = QFormLayout()
        self.file_value = plain_label(object_name="importFile")
        self.strategy_value = plain_label(object_name="importStrategy")
        form.addRow("File:", self.file_value)
        form.addRow("Strategy:", self.strategy_value)
        layout.addLayout(form)
        layout.addSpacing(8)
        self.current = plain_label("Starting…", object_name="currentCollectionLabel")
        self.current.setAccessibleName("Current step")
        layout.addWidget(self.current)
        self.bar = QProgressBar()
        self.bar.setObjectName("importProgress")
        self.bar.setAccessibleName("Import progress")
        self.bar.setRange(0, 0)
        self.bar.setMinimumHeight(26)
        layout.addWidget(self.bar)
        self.rate = muted(plain_label("", object_name="rateLabel"))
        self.rate.setAccessibleName("Speed and time left")
        layout.addWidget(self.rate)
        self.elapsed = muted(plain_label("", object_name="elapsedLabel"))
        self.elapsed.setAccessibleName("Time elapsed")
        layout.addWidget(self.elapsed)
        # The worker reports between chunks; a few steps (building indexes, the commit) are one
        # long SQL call each. The heartbeat keeps the page moving at 4 updates a second anyway.
        self.heartbeat = QTimer(self)
        self.heartbeat.setInterval(HEARTBEAT_MS)
        self.heartbeat.timeout.connect(self._beat)
        self.started_at = time.monotonic()
        layout.addSpacing(12)
        self.hint = muted(
            plain_label(
                "Press Cancel (or Esc) to stop: the import is rolled back and the attempt is "
                "recorded in the audit history.",
                object_name="importHint",
            )
        )
        layout.addWidget(self.hint)
        layout.addStretch(1)
        session.importStarted.connect(self._on_started)
        session.batchProgress.connect(self._on_next_file)
        session.importProgress.connect(self._on_progress)
        session.importFinished.connect(self._on_finished)

    # -- QWizardPage -----------------------------------------------------------------------------
    def initializePage(self) -> None:
        self._done = False
        self.meter.reset()
        self.headline.setText("Importing…")
        self.file_value.setText(os.path.basename(self.session.path))
        self.file_value.setToolTip(plain_tooltip(self.session.path))
        self.strategy_value.setText(self.session.strategy.label)
        self.current.setText("Starting…")
        self.rate.setText("")
        self.bar.setRange(0, 0)
        self.completeChanged.emit()
        self.session.start_import()

    def isComplete(self) -> bool:
        return self._done

    # -- view ------------------------------------------------------------------------------------
    def show_stopping(self) -> None:
        self.headline.setText("Stopping…")
        self.current.setText("Rolling back: nothing is written.")
        self.rate.setText("")

    def _beat(self) -> None:
        self.elapsed.setText(f"Elapsed {fmt_duration(time.monotonic() - self.started_at)}")

    def _on_started(self) -> None:
        self.setSubTitle(SUBTITLE)
        self.started_at = time.monotonic()
        self._beat()
        self.heartbeat.start()
        self.meter.reset()
        self.done_per_collection = {}
        insp = self.session.inspection
        self.grand_total = sum(insp.report.counts.values()) if insp is not None else 0

    def _on_next_file(self, step: BatchStep) -> None:
        """The next file of a batch starts (each its own transaction)."""
        index, total, path = step.index, step.total, step.path
        self.setSubTitle(
            f"File {index + 2} of {total + 1}: {os.path.basename(path)}. Each file is its own "
            "transaction: the ones before it stay imported if you cancel."
        )
        self.meter.reset()
        self.done_per_collection = {}
        self.grand_total = 0

    def _on_progress(self, item: Progress) -> None:
        if self.session.is_stopping():
            return
        phase, coll, done, total = item.phase, item.collection, item.done, item.total
        if phase == Phase.DELETE:
            self.bar.setRange(0, max(total, 1))
            self.bar.setValue(done)
            self.current.setText("Deleting the existing records (Replace)…")
            return
        if phase == Phase.COMMIT:
            # One SQL step of seconds at the caps (SQLite copies the new pages into the file):
            # a busy bar says the work goes on, the heartbeat counts the time.
            self.bar.setRange(0, 0)
            self.current.setText("Committing: writing it all to disk…")
            self.rate.setText("")
            return
        if phase == Phase.DONE:
            self.bar.setRange(0, 1000)
            self.bar.setValue(1000)
            self.current.setText("Committed.")
            self.rate.setText("")
            return
        if phase == Phase.INDEX:
            label = collection_label(str(coll)).lower() if coll else "records"
            self.current.setText(f"Building the indexes of the {label}…")
            return
        if coll:
            self.done_per_collection[str(coll)] = done
        overall = sum(self.done_per_collection.values())
        grand = max(self.grand_total, overall, 1)
        self.meter.add(overall, grand)
        self.bar.setRange(0, 1000)
        self.bar.setValue(int(1000 * overall / grand))
        label = collection_label(str(coll)).lower() if coll else "records"
        verb = "Reading the stored" if phase == Phase.READ_STORE else "Writing"
        self.current.setText(f"{verb} {label}: {fmt_int(done)} of {fmt_int(total)}")
        rate = self.meter.rate()
        if rate is not None and rate > 0:
            self.rate.setText(
                f"{fmt_int(int(rate))} records per second · {fmt_eta(self.meter.eta())}"
            )
        else:
            self.rate.setText(fmt_eta(None))

    def _on_finished(self) -> None:
        self.heartbeat.stop()
        self._done = True
        busy = self.bar.maximum() == 0  # it ended during the commit
        self.bar.setRange(0, 1000)
        if self.session.import_outcome == Outcome.SUCCEEDED:
            self.bar.setValue(1000)
        elif busy:
            self.bar.setValue(0)  # the commit failed: nothing was written
        self.completeChanged.emit()
