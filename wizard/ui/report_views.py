"""Views of a validation report shared by the validation and result pages: warnings apart
from notes, what the file leaves behind, and the preview of converted records beside their
source records."""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from wizard.core.losses import Kept, LeftBehind
from wizard.core.preview import PreviewItem, as_text
from wizard.core.problems import Code, Problem
from wizard.ui.plain_text import plain_label
from wizard.ui.tables import fit_table_height, make_table, table_item

KEPT_LABELS = {
    Kept.NOT_IMPORTED: "not imported",
    Kept.VERBATIM_ONLY: "only in the verbatim source copy",
    Kept.REDACTED: "replaced by [redacted]",
}


# Problems that only say how the file was read (pages merged, a wrapper unwrapped): information,
# shown as notes, never as warnings.
NOTE_CODES = frozenset({Code.CONVERSION_NOTE})


WHOLE_FILE = "whole file"  # where a problem about the file, not a place in it, is


def problem_where(problem: Problem) -> str:
    """Where a problem is, in words: a line and column, a path in the file, or the whole file
    (never the report's "(file)")."""
    if problem.line is not None:
        return f"line {problem.line}, column {problem.column}"
    return problem.path or WHOLE_FILE


def problem_line(problem: Problem) -> str:
    """A problem as one line of a list: where (unless it is the whole file), then what."""
    where = problem_where(problem)
    return problem.message if where == WHOLE_FILE else f"{where}: {problem.message}"


def split_notes(problems: list[Problem]) -> tuple[list[Problem], list[Problem]]:
    """(warnings, notes) of a report's warnings, by code."""
    warnings = [p for p in problems if p.code not in NOTE_CODES]
    notes = [p for p in problems if p.code in NOTE_CODES]
    return warnings, notes


def left_behind_table(object_name: str = "leftBehindTable") -> QTableWidget:
    return make_table(["What", "How many", "What becomes of it"], object_name, "Left behind")


def fill_left_behind(table: QTableWidget, items: list[LeftBehind], max_rows: int = 10) -> None:
    """One row per category; the detail (why, or which keys) as the row's tooltip."""
    table.setRowCount(len(items))
    for row, item in enumerate(items):
        tip = item.detail or None
        table.setItem(row, 0, table_item(item.what, tooltip=tip or item.what))
        table.setItem(row, 1, table_item(item.count, number=True))
        table.setItem(row, 2, table_item(KEPT_LABELS[item.kept], tooltip=tip))
    table.setVisible(bool(items))
    fit_table_height(table, max_rows=max_rows)


class PreviewPane(QWidget):
    """A few converted records: pick one, see its source record beside what agentmemory will
    hold."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("previewPane")
        self.items: list[PreviewItem] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        label = QLabel("&Record:")
        self.combo = QComboBox()
        self.combo.setObjectName("previewCombo")
        self.combo.setAccessibleName("Record to preview")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.currentIndexChanged.connect(self._show)
        label.setBuddy(self.combo)
        row.addWidget(label)
        row.addWidget(self.combo, 1)
        layout.addLayout(row)
        sides = QHBoxLayout()
        self.source = self._text("previewSource", "Source record")
        self.converted = self._text("previewConverted", "agentmemory record")
        for title, view in (("In the file", self.source), ("In agentmemory", self.converted)):
            column = QVBoxLayout()
            column.addWidget(plain_label(title))
            column.addWidget(view)
            sides.addLayout(column)
        layout.addLayout(sides)

    @staticmethod
    def _text(object_name: str, accessible: str) -> QPlainTextEdit:
        view = QPlainTextEdit()
        view.setObjectName(object_name)
        view.setAccessibleName(accessible)
        view.setReadOnly(True)
        view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        view.setMinimumHeight(180)
        return view

    def show_items(self, items: list[PreviewItem]) -> None:
        self.items = items
        self.combo.blockSignals(True)
        self.combo.clear()
        for item in items:
            self.combo.addItem(item.label)
        self.combo.blockSignals(False)
        self._show(0)

    def _show(self, index: int) -> None:
        if 0 <= index < len(self.items):
            item = self.items[index]
            self.source.setPlainText(as_text(item.source))
            self.converted.setPlainText(as_text(item.converted))
        else:
            self.source.clear()
            self.converted.clear()
