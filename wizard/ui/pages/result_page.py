"""Page 5: the result: what was written per collection (with a Total row), the audit entry id,
and buttons to see what was imported, open the audit history, send the import to agentmemory or
import another file. The Close button has the focus."""

from __future__ import annotations

import os

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from wizard.core.names import Outcome
from wizard.runs import ImportResult
from wizard.ui.delivery_dialog import open_delivery
from wizard.ui.formatting import fmt_duration_ms, plural
from wizard.ui.labels import count_of, format_label
from wizard.ui.plain_text import heading_label, plain_label, plain_tooltip
from wizard.ui.report_views import (
    fill_left_behind,
    left_behind_table,
    problem_line,
    split_notes,
)
from wizard.ui.results import PLAN_COLUMNS, collection_rows, plan_totals
from wizard.ui.session import MigrationSession
from wizard.ui.status import FAIL_MARK, PASS_MARK, muted, set_status
from wizard.ui.tables import fill_count_table, make_count_table

MAX_WARNINGS = 5  # warnings (and notes) repeated on the result page


class ResultPage(QWizardPage):
    def __init__(self, session: MigrationSession) -> None:
        super().__init__()
        self.setObjectName("resultPage")
        self.session = session
        self.setTitle("Result")
        self.setFinalPage(True)
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        self.headline = heading_label("", scale=1.25)
        self.headline.setObjectName("resultHeadline")
        layout.addWidget(self.headline)
        self.explain = plain_label("", object_name="resultExplain", selectable=True)
        layout.addWidget(self.explain)
        # the files dropped with this one, imported after it (each its own import)
        self.batch_label = plain_label("", object_name="batchSummary", selectable=True)
        self.batch_label.setVisible(False)
        layout.addWidget(self.batch_label)
        form = QFormLayout()
        self.file_value = plain_label(object_name="resultFile", selectable=True)
        self.format_value = plain_label(object_name="resultFormat")
        self.strategy_value = plain_label(object_name="resultStrategy")
        self.audit_value = plain_label(object_name="auditIdLabel", selectable=True)
        form.addRow("File:", self.file_value)
        form.addRow("Format:", self.format_value)
        form.addRow("Strategy:", self.strategy_value)
        form.addRow("Audit entry:", self.audit_value)
        layout.addLayout(form)
        self.table_heading = heading_label("Written per collection")
        layout.addWidget(self.table_heading)
        self.table = make_count_table(
            PLAN_COLUMNS, "resultTable", "Records written per collection", warning=("deleted",)
        )
        layout.addWidget(self.table)
        self.stats = muted(plain_label("", object_name="resultStats", selectable=True))
        layout.addWidget(self.stats)
        # what validation said of the file, repeated: its warnings and what it left behind
        self.warnings_heading = heading_label("Warnings")
        layout.addWidget(self.warnings_heading)
        self.warnings = plain_label("", object_name="resultWarnings", selectable=True)
        layout.addWidget(self.warnings)
        self.notes_heading = heading_label("Notes")
        layout.addWidget(self.notes_heading)
        self.notes = muted(plain_label("", object_name="resultNotes", selectable=True))
        layout.addWidget(self.notes)
        self.left_heading = heading_label("Left behind")
        layout.addWidget(self.left_heading)
        self.left_table = left_behind_table("resultLeftBehind")
        layout.addWidget(self.left_table)
        layout.addStretch(1)
        row = QHBoxLayout()
        self.show_button = QPushButton("Show what was im&ported")
        self.show_button.setObjectName("showImportedButton")
        self.show_button.setToolTip("Browse the records this import wrote")
        self.show_button.clicked.connect(self.show_imported)
        self.audit_button = QPushButton("Open the &audit history")
        self.audit_button.setObjectName("openAuditButton")
        self.audit_button.clicked.connect(self.session.request_audit_history)
        self.again_button = QPushButton("Import a&nother file")
        self.again_button.setObjectName("importAnotherButton")
        self.again_button.clicked.connect(self.session.request_start_over)
        self.send_button = QPushButton("&Send to agentmemory…")
        self.send_button.setObjectName("sendToAgentmemoryButton")
        self.send_button.setToolTip(
            "Send this import's records (or the whole store) into a running agentmemory"
        )
        self.send_button.clicked.connect(self.send_to_agentmemory)
        row.addWidget(self.show_button)
        row.addWidget(self.send_button)
        row.addWidget(self.audit_button)
        row.addWidget(self.again_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.hint = muted(
            plain_label(
                "A successful import can be undone later: select it in the audit history and "
                "choose Revert."
            )
        )
        layout.addWidget(self.hint)

    def initializePage(self) -> None:
        session = self.session
        result = session.result
        outcome = session.import_outcome or Outcome.FAILED
        insp = session.inspection
        self.file_value.setText(os.path.basename(session.path))
        self.file_value.setToolTip(plain_tooltip(session.path))
        fmt = (result.format if result else None) or (insp.format if insp else None)
        version = insp.report.source_version if insp else None
        self.format_value.setText(format_label(fmt, version))
        self.strategy_value.setText(session.strategy.label)
        audit_id = result.audit_id if result else None
        self.audit_value.setText(f"#{audit_id}" if audit_id is not None else "not recorded")
        rows = collection_rows(result.collections if result else {})
        left = result.left_behind if result else []
        if outcome == Outcome.SUCCEEDED:
            self.setSubTitle(
                "The store now holds the file's records, except what is listed as left behind."
                if left
                else "The store now holds the file's records."
            )
            self.headline.setText(f"{PASS_MARK} Import finished")
            set_status(self.headline, True)
            took = fmt_duration_ms(result.duration_ms if result else None)
            self.explain.setText(
                "Everything was written in one transaction" + (f" in {took}." if took else ".")
            )
        elif outcome == Outcome.CANCELLED:
            self.setSubTitle("You stopped the import.")
            self.headline.setText(f"{FAIL_MARK} Import cancelled — the store is unchanged")
            set_status(self.headline, None)
            self.explain.setText(
                "The transaction was rolled back: nothing was written. The "
                "attempt is recorded in the audit history."
            )
            rows = []
        else:
            self.setSubTitle("The import did not complete.")
            self.headline.setText(f"{FAIL_MARK} Import failed — the store is unchanged")
            set_status(self.headline, False)
            error = (result.error if result else None) or (
                str(session.import_error) if session.import_error else "unknown error"
            )
            self.explain.setText(
                f"The transaction was rolled back: nothing was written.\nError: {error}"
            )
            rows = []
        self._fill(rows, result if rows and result is not None else None)
        succeeded = outcome == Outcome.SUCCEEDED
        self.stats.setVisible(succeeded and result is not None)
        if succeeded and result is not None:
            counted = " · ".join(count_of(name, n) for name, n in result.stats.items())
            self.stats.setText(
                f"agentmemory's own count of this import (every record written, identical ones "
                f"included): {counted}"
            )
        warnings, notes = split_notes(result.warnings if result else [])
        for heading, label, problems in (
            (self.warnings_heading, self.warnings, warnings),
            (self.notes_heading, self.notes, notes),
        ):
            heading.setVisible(bool(problems))
            label.setVisible(bool(problems))
            shown = [f"• {problem_line(p)}" for p in problems[:MAX_WARNINGS]]
            if len(problems) > MAX_WARNINGS:
                shown.append(f"… and {len(problems) - MAX_WARNINGS} more (the validation page)")
            label.setText("\n".join(shown))
        self.left_heading.setVisible(bool(left))
        fill_left_behind(self.left_table, left, max_rows=6)
        self._show_batch()
        self.hint.setVisible(succeeded)
        self.send_button.setVisible(succeeded and audit_id is not None)
        self.show_button.setVisible(succeeded and audit_id is not None)
        # The wizard gives the focus to the page's first focusable child after this returns:
        # Close (Finish) takes it back once the page is shown.
        QTimer.singleShot(0, self.focus_close)

    def _show_batch(self) -> None:
        """What became of the files dropped with this one (this page's tables are the first
        file's; each other file is its own import, in the audit history)."""
        rows = self.session.batch_summary()
        self.batch_label.setVisible(bool(rows))
        if not rows:
            return
        lines = [
            f"This page shows the first of the {plural(len(rows) + 1, 'file')} dropped "
            "together; the others, each its own import:"
        ]
        lines += [f"• {name}: {what}" if name else f"• {what}" for name, what in rows]
        self.batch_label.setText("\n".join(lines))

    def focus_close(self) -> None:
        """The focus on the Close (Finish) button, when this page is the one shown."""
        wizard = self.wizard()
        if wizard is not None and wizard.currentPage() is self:
            wizard.button(QWizard.WizardButton.FinishButton).setFocus()

    def show_imported(self) -> None:
        """The store browser, showing the records this import wrote."""
        result = self.session.result
        if result is not None and result.audit_id is not None:
            self.session.request_browser(result.audit_id)

    def send_to_agentmemory(self) -> QWidget:
        """The delivery window, offering this import's records (or the whole store)."""
        result = self.session.result
        audit_id = result.audit_id if result is not None else None
        return open_delivery(self.session.db_path, audit_id, settings=self.session.settings)

    def _fill(self, rows: list, result: ImportResult | None) -> None:
        """The counts per collection and their Total row (none for an import that wrote
        nothing)."""
        totals = plan_totals(result) if result is not None else None
        fill_count_table(self.table, PLAN_COLUMNS, rows, totals)
        self.table.setVisible(bool(rows))
        self.table_heading.setVisible(bool(rows))
