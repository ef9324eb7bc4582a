"""Page 2: validation and caps. Format, the export's version (when it has one people read as a
version), counts against agentmemory's caps (with a pass/fail mark per row), then every error,
warning and note with its location. Next only when the file can be imported. Offers 'treat it
as version X' and 'import only the valid records' (only for invalid records, by code).

A file that could not be read as a memory export at all leaves the recent files list."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from wizard.core import versions
from wizard.core.inspection import Inspection
from wizard.core.preview import samples
from wizard.core.problems import Code
from wizard.core.report_text import report_lines
from wizard.ui.formatting import fmt_int, fmt_size, plural
from wizard.ui.labels import cap_label, describe_counts, format_label, phase_text, readable_version
from wizard.ui.plain_text import heading_label, plain_label, plain_tooltip
from wizard.ui.report_views import (
    PreviewPane,
    fill_left_behind,
    left_behind_table,
    problem_where,
    split_notes,
)
from wizard.ui.session import MigrationSession
from wizard.ui.status import FAIL_MARK, PASS_MARK, muted, set_status, status_color
from wizard.ui.tables import fit_table_height, make_table, table_item

MAX_PROBLEM_ROWS = 500
VERSION_CODES = (Code.VERSION_MISSING, Code.VERSION_UNSUPPORTED)
PREVIEW_RECORDS = 6  # records the preview offers (a memory, a session, an observation first)
AGENTMEMORY_FORMATS = ("agentmemory", "agentmemory-jsonl")
# Refusals that say nothing against the file itself (a setting, a busy source, this computer's
# memory or disk): the file stays in the recent list, to be read again.
KEEP_RECENT_CODES = frozenset(
    {
        Code.SIZE_LIMIT,
        Code.SOURCE_BUSY,
        Code.NO_TEMP_SPACE,
        Code.NOT_ENOUGH_MEMORY,
        Code.TOO_COMPLEX,
    }
)


def unreadable_as_export(insp: Inspection) -> bool:
    """Whether the file could not be read as a memory export at all: refused before any format
    was recognised, for a reason in the file (not a setting or this computer)."""
    report = insp.report
    return (
        not insp.ok
        and report.format is None
        and bool(report.errors)
        and not any(p.code in KEEP_RECENT_CODES for p in report.errors)
    )


class ValidationPage(QWizardPage):
    def __init__(self, session: MigrationSession) -> None:
        super().__init__()
        self.setObjectName("validationPage")
        self.session = session
        self.setTitle("Validation and caps")
        self.setSubTitle(
            "What the file holds, checked against agentmemory's limits. Nothing has been written."
        )
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setAcceptDrops(False)
        body = QWidget()
        scroll.setWidget(body)
        outer.addWidget(scroll)
        layout = QVBoxLayout(body)
        layout.setSpacing(10)

        # progress while the file is read and checked
        self.busy = QWidget()
        busy_layout = QVBoxLayout(self.busy)
        busy_layout.setContentsMargins(0, 0, 0, 0)
        self.busy_label = plain_label("Reading the file…")
        self.busy_bar = QProgressBar()
        self.busy_bar.setObjectName("validationProgress")
        self.busy_bar.setAccessibleName("Checking progress")
        busy_layout.addWidget(self.busy_label)
        busy_layout.addWidget(self.busy_bar)
        layout.addWidget(self.busy)

        # verdict and summary
        self.verdict = heading_label("", scale=1.2)
        self.verdict.setObjectName("verdictLabel")
        layout.addWidget(self.verdict)
        self.form = form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self.file_value = plain_label(selectable=True, object_name="fileValue")
        self.format_value = plain_label(selectable=True, object_name="formatValue")
        self.version_value = plain_label(selectable=True, object_name="versionValue")
        self.records_value = plain_label(selectable=True, object_name="recordsValue")
        form.addRow("File:", self.file_value)
        form.addRow("Format:", self.format_value)
        form.addRow("Version of the export:", self.version_value)
        form.addRow("Records:", self.records_value)
        layout.addLayout(form)

        # treat as version X
        self.version_box = QFrame()
        self.version_box.setObjectName("treatAsVersionBox")
        self.version_box.setFrameShape(QFrame.Shape.StyledPanel)
        vb = QVBoxLayout(self.version_box)
        self.version_hint = plain_label("")
        vrow = QHBoxLayout()
        vlabel = QLabel("Treat it as &version:")
        self.version_combo = QComboBox()
        self.version_combo.setObjectName("versionCombo")
        self.version_combo.setAccessibleName("Version to read the file as")
        self.version_combo.addItems(list(reversed(versions.SUPPORTED_VERSIONS)))
        vlabel.setBuddy(self.version_combo)
        self.version_button = QPushButton("Check &again as this version")
        self.version_button.setObjectName("treatAsVersionButton")
        self.version_button.clicked.connect(self._treat_as_version)
        vrow.addWidget(vlabel)
        vrow.addWidget(self.version_combo)
        vrow.addWidget(self.version_button)
        vrow.addStretch(1)
        vb.addWidget(self.version_hint)
        vb.addLayout(vrow)
        layout.addWidget(self.version_box)

        # caps
        self.caps_section = QWidget()
        caps_layout = QVBoxLayout(self.caps_section)
        caps_layout.setContentsMargins(0, 0, 0, 0)
        self.caps_heading = heading_label("agentmemory's caps")
        caps_layout.addWidget(self.caps_heading)
        self.caps_table = make_table(
            ["Check", "In this file", "Limit", "Result"], "capsTable", "Caps"
        )
        caps_layout.addWidget(self.caps_table)
        layout.addWidget(self.caps_section)

        # problems
        self.problems_section = QWidget()
        problems_layout = QVBoxLayout(self.problems_section)
        problems_layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.problems_section)
        self.body_layout = layout
        prow = QHBoxLayout()
        self.problems_heading = heading_label("Errors and warnings")
        self.copy_button = QPushButton("&Copy report")
        self.copy_button.setObjectName("copyReportButton")
        self.copy_button.setToolTip("Copy the whole validation report as text")
        self.copy_button.clicked.connect(self._copy_report)
        prow.addWidget(self.problems_heading)
        prow.addStretch(1)
        prow.addWidget(self.copy_button)
        problems_layout.addLayout(prow)
        self.problems_table = make_table(
            ["Where", "Problem"], "problemsTable", "Errors and warnings"
        )
        self.problems_table.setWordWrap(True)
        header = self.problems_table.horizontalHeader()
        header.setSectionResizeMode(0, header.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, header.ResizeMode.Stretch)
        header.setMaximumSectionSize(420)
        problems_layout.addWidget(self.problems_table)
        self.no_problems = muted(plain_label("No errors or warnings."))
        problems_layout.addWidget(self.no_problems)

        # What the wizard offers for a problem, by its code (the message says what and where).
        advice_row = QHBoxLayout()
        self.advice = plain_label("", object_name="adviceLabel")
        self.settings_button = QPushButton("&Settings…")
        self.settings_button.setObjectName("sizeSettingsButton")
        self.settings_button.setToolTip("The largest input file the wizard reads")
        self.settings_button.clicked.connect(self.session.request_settings)
        advice_row.addWidget(self.advice, 1)
        advice_row.addWidget(self.settings_button)
        problems_layout.addLayout(advice_row)

        self.skip_invalid = QCheckBox()
        self.skip_invalid.setObjectName("skipInvalidCheck")
        self.skip_invalid.setAccessibleName("Import only the valid records")
        self.skip_invalid.toggled.connect(self._skip_invalid_toggled)
        problems_layout.addWidget(self.skip_invalid)
        # memories the source does not hold as active: left out unless asked for (never live)
        self.include_inactive = QCheckBox(
            "Include paused and archived memories (kept with their state, never as the latest)"
        )
        self.include_inactive.setObjectName("includeInactiveCheck")
        self.include_inactive.toggled.connect(lambda on: self._option_toggled(include_inactive=on))
        problems_layout.addWidget(self.include_inactive)
        self.include_deleted = QCheckBox(
            "Include deleted memories (kept with their state, never as the latest)"
        )
        self.include_deleted.setObjectName("includeDeletedCheck")
        self.include_deleted.toggled.connect(lambda on: self._option_toggled(include_deleted=on))
        problems_layout.addWidget(self.include_deleted)

        # what the file holds that will not be imported, or only verbatim
        self.left_behind_section = QWidget()
        left_layout = QVBoxLayout(self.left_behind_section)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(heading_label("Left behind"))
        left_layout.addWidget(
            muted(
                plain_label(
                    "What the file holds that agentmemory has no place for. Nothing else is "
                    "lost: each record keeps its source record verbatim, except secrets."
                )
            )
        )
        self.left_behind_table = left_behind_table()
        left_layout.addWidget(self.left_behind_table)
        layout.addWidget(self.left_behind_section)

        # what records become: a few converted records beside their source records
        self.preview_section = QWidget()
        preview_layout = QVBoxLayout(self.preview_section)
        preview_layout.setContentsMargins(0, 0, 0, 0)
        preview_layout.addWidget(heading_label("Preview"))
        self.preview = PreviewPane()
        preview_layout.addWidget(self.preview)
        layout.addWidget(self.preview_section)

        layout.addStretch(1)
        # shown only for a checked file, and only when they apply
        self._optional = (
            self.version_box,
            self.skip_invalid,
            self.include_inactive,
            self.include_deleted,
            self.advice,
            self.settings_button,
            self.left_behind_section,
            self.preview_section,
        )

        session.inspectionStarted.connect(self._refresh)
        session.inspectionProgress.connect(self._on_progress)
        session.inspectionFinished.connect(self._refresh)
        session.inspectionFinished.connect(self._forget_if_unreadable)

    # -- QWizardPage -----------------------------------------------------------------------------
    def initializePage(self) -> None:
        self._refresh()

    def isComplete(self) -> bool:
        insp = self.session.inspection
        return not self.session.is_inspecting() and insp is not None and insp.ok

    # -- actions ---------------------------------------------------------------------------------
    def _treat_as_version(self) -> None:
        self.session.change_options(treat_as_version=self.version_combo.currentText())

    def _option_toggled(
        self, *, include_inactive: bool | None = None, include_deleted: bool | None = None
    ) -> None:
        options = self.session.options
        if (include_inactive is not None and include_inactive != options.include_inactive) or (
            include_deleted is not None and include_deleted != options.include_deleted
        ):
            self.session.change_options(
                include_inactive=include_inactive, include_deleted=include_deleted
            )

    def _skip_invalid_toggled(self, checked: bool) -> None:
        if checked != self.session.options.skip_invalid:
            self.session.change_options(skip_invalid=checked)

    def _copy_report(self) -> None:
        insp = self.session.inspection
        if insp is not None:
            QGuiApplication.clipboard().setText(
                "\n".join(report_lines(insp.report, insp.source.name))
            )

    def _forget_if_unreadable(self) -> None:
        """A file that is not a memory export at all does not stay in the recent files list
        (it is dropped, not marked: it would only be chosen again by mistake)."""
        insp = self.session.inspection
        if insp is not None and unreadable_as_export(insp):
            self.session.settings.forget_recent_file(insp.source.path)

    # -- view ------------------------------------------------------------------------------------
    def _on_progress(self, item: object) -> None:
        text, done, total = phase_text(item)
        self.busy_label.setText(f"{text}…")
        if total > 0:
            self.busy_bar.setRange(0, 1000)
            self.busy_bar.setValue(int(1000 * min(done, total) / total))
        else:
            self.busy_bar.setRange(0, 0)

    def _set_details_visible(self, visible: bool) -> None:
        for w in (
            self.caps_heading,
            self.caps_table,
            self.problems_heading,
            self.copy_button,
            self.problems_table,
            self.no_problems,
        ):
            w.setVisible(visible)

    def _refresh(self) -> None:
        session = self.session
        insp = session.inspection
        inspecting = session.is_inspecting()
        self.busy.setVisible(inspecting)
        self.file_value.setText(os.path.basename(session.path) if session.path else "")
        self.file_value.setToolTip(plain_tooltip(session.path))
        if inspecting:
            self.busy_label.setText("Reading the file…")
            self.busy_bar.setRange(0, 0)
            self.verdict.setText("Checking…")
            self.verdict.setPalette(self.palette())
            for label in (self.format_value, self.version_value, self.records_value):
                label.setText("")
            self.form.setRowVisible(self.version_value, False)
            self._hide_optional()
            self._set_details_visible(False)
            self.completeChanged.emit()
            return
        if insp is None:
            self.verdict.setText(
                "The file could not be checked." if session.inspection_error else ""
            )
            set_status(self.verdict, False)
            self.form.setRowVisible(self.version_value, False)
            self._set_details_visible(False)
            self._hide_optional()
            self.completeChanged.emit()
            return
        report = insp.report
        src = insp.source
        self.file_value.setText(f"{src.name}  ({fmt_size(src.size)})")
        self.file_value.setToolTip(plain_tooltip(src.path))
        self.format_value.setText(
            format_label(report.format) if report.format else "not recognised"
        )
        version = readable_version(report.source_version)
        if report.treated_as_version:
            version = f"{version or 'none'} — read as {report.treated_as_version}, as you chose"
        self.version_value.setText(version or "")
        self.form.setRowVisible(self.version_value, bool(version))
        self.records_value.setText(describe_counts(report.counts, limit=10) or "none")
        if insp.ok:
            n_warn = len(split_notes(report.warnings)[0])
            self.verdict.setText(
                f"{PASS_MARK} This file can be imported"
                + (f" ({plural(n_warn, 'warning')} below)" if n_warn else "")
            )
            set_status(self.verdict, True)
        else:
            self.verdict.setText(
                f"{FAIL_MARK} This file cannot be imported: {plural(len(report.errors), 'error')}"
            )
            set_status(self.verdict, False)
        self._set_details_visible(True)
        self._order_sections(problems_first=not insp.ok)
        self._fill_caps(report.caps)
        self._fill_problems(report.errors, report.warnings)
        self._refresh_version_box(insp)
        self._refresh_skip_invalid(insp)
        self._refresh_include(insp)
        self._refresh_advice(insp)
        fill_left_behind(self.left_behind_table, report.left_behind)
        self.left_behind_section.setVisible(bool(report.left_behind))
        shown = samples(insp.data, PREVIEW_RECORDS, insp.format) if insp.data else []
        self.preview.show_items(shown)
        self.preview_section.setVisible(bool(shown))
        self.completeChanged.emit()

    def _hide_optional(self) -> None:
        for widget in self._optional:
            widget.setVisible(False)

    def _order_sections(self, problems_first: bool) -> None:
        """A refused file shows why first (then the way out, then its caps); an importable
        one shows its caps first."""
        order = (
            (self.problems_section, self.version_box, self.caps_section)
            if problems_first
            else (self.version_box, self.caps_section, self.problems_section)
        ) + (self.left_behind_section, self.preview_section)
        layout = self.body_layout
        for w in order:
            layout.removeWidget(w)
        base = layout.count() - 1  # before the closing stretch
        for i, w in enumerate(order):
            layout.insertWidget(base + i, w)

    def _fill_caps(self, caps: list) -> None:
        table = self.caps_table
        table.setRowCount(0)
        if not caps:
            self.caps_heading.setVisible(False)
            table.setVisible(False)
            return
        table.setRowCount(len(caps))
        for row, cap in enumerate(caps):
            label = cap_label(cap.name)
            table.setItem(row, 0, table_item(label, tooltip=cap.detail or None))
            table.setItem(row, 1, table_item(cap.count, number=True))
            table.setItem(row, 2, table_item(cap.limit, number=True))
            # agentmemory's message ("Too many memories") belongs to a cap that is exceeded only
            mark = f"{PASS_MARK} within the cap" if cap.ok else f"{FAIL_MARK} {cap.message}"
            tip = None if cap.ok else cap.message
            table.setItem(row, 3, table_item(mark, color=status_color(table, cap.ok), tooltip=tip))
        fit_table_height(table, max_rows=len(caps))

    def _fill_problems(self, errors: list, warnings: list) -> None:
        table = self.problems_table
        table.setRowCount(0)
        warned, notes = split_notes(warnings)
        rows = (
            [("Error", p) for p in errors]
            + [("Warning", p) for p in warned]
            + [("Note", p) for p in notes]
        )
        shown = rows[:MAX_PROBLEM_ROWS]
        extra = len(rows) - len(shown)
        table.setRowCount(len(shown) + (1 if extra else 0))
        for r, (severity, problem) in enumerate(shown):
            where = problem_where(problem)
            mark = {"Error": FAIL_MARK, "Warning": "!", "Note": "ℹ"}[severity]
            color = (
                None
                if severity == "Note"  # information: the ordinary text colour
                else status_color(table, None if severity == "Warning" else False)
            )
            table.setItem(
                r, 0, table_item(f"{mark} {severity}: {where}", color=color, tooltip=where)
            )
            table.setItem(r, 1, table_item(problem.message, tooltip=problem.message))
        if extra:
            table.setItem(len(shown), 0, table_item("…"))
            table.setItem(
                len(shown),
                1,
                table_item(
                    f"and {fmt_int(extra)} more: use Copy report or the command line "
                    "(agentmemory-wizard validate --json FILE) for the full list"
                ),
            )
        has_rows = table.rowCount() > 0
        table.setVisible(has_rows)
        self.copy_button.setVisible(True)
        self.no_problems.setVisible(not has_rows)
        if has_rows:
            if table.rowCount() <= 60:
                table.resizeRowsToContents()
                for r in range(table.rowCount()):
                    table.setRowHeight(r, table.rowHeight(r) + 6)
            fit_table_height(table, max_rows=8)

    def _refresh_version_box(self, insp: Inspection) -> None:
        report = insp.report
        version_error = any(p.code in VERSION_CODES for p in report.errors)
        show = report.format in AGENTMEMORY_FORMATS and (
            version_error or report.treated_as_version is not None
        )
        self.version_box.setVisible(show)
        if not show:
            return
        if report.treated_as_version:
            self.version_hint.setText(
                f"You chose to read this file as agentmemory version "
                f"{report.treated_as_version}. The audit entry records that choice."
            )
            idx = self.version_combo.findText(report.treated_as_version)
            if idx >= 0:
                self.version_combo.setCurrentIndex(idx)
        else:
            found = report.source_version
            what = f"version {found!r}, which" if found else "no version, so it"
            self.version_hint.setText(
                f"This agentmemory file has {what} is not one the wizard knows. If you know "
                "which agentmemory version wrote it, you can read it as that version. The "
                "choice is recorded in the audit history."
            )

    def _refresh_skip_invalid(self, insp: Inspection) -> None:
        """Offered for invalid records only (by code): never for a file that is not JSON, or
        whose problem is elsewhere; kept while records are being left out, to undo it."""
        report = insp.report
        invalid = sum(1 for p in report.errors if p.code == Code.INVALID_RECORD)
        skipped = report.skipped_invalid_total
        leaving_out = insp.options.skip_invalid and any(
            p.code == Code.INVALID_RECORDS_SKIPPED for p in report.warnings
        )
        show = invalid > 0 or leaving_out
        self.skip_invalid.setVisible(show)
        self.skip_invalid.blockSignals(True)
        self.skip_invalid.setChecked(insp.options.skip_invalid)
        self.skip_invalid.blockSignals(False)
        if insp.options.skip_invalid:
            self.skip_invalid.setText(
                f"Import only the valid records ({fmt_int(skipped)} invalid left out)"
            )
        else:
            self.skip_invalid.setText(
                f"Import only the valid records (leave out the {plural(invalid, 'invalid record')})"
            )

    def _refresh_advice(self, insp: Inspection) -> None:
        too_big = any(p.code == Code.SIZE_LIMIT for p in insp.report.errors)
        self.advice.setVisible(too_big)
        self.settings_button.setVisible(too_big)
        self.advice.setText(
            "The largest file the wizard reads is a setting: raise it, and the file is checked "
            "again."
            if too_big
            else ""
        )

    def _refresh_include(self, insp: Inspection) -> None:
        """The options that bring back what the source does not hold as active: offered when
        the file has such memories (a warning says so) or when the option is on."""
        codes = {p.code for p in insp.report.warnings}
        options = insp.options
        for box, code, on in (
            (self.include_inactive, Code.INACTIVE_LEFT_OUT, options.include_inactive),
            (self.include_deleted, Code.DELETED_LEFT_OUT, options.include_deleted),
        ):
            box.setVisible(on or code in codes)
            box.blockSignals(True)
            box.setChecked(on)
            box.blockSignals(False)
