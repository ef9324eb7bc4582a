"""The read-only tables of the wizard pages: how they are built, filled and sized."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from wizard.ui.formatting import fmt_int
from wizard.ui.plain_text import plain_tooltip


def make_table(columns: list[str], object_name: str, accessible: str) -> QTableWidget:
    """A read-only, row-selecting table with a stretching first column."""
    table = QTableWidget(0, len(columns))
    table.setObjectName(object_name)
    table.setAccessibleName(accessible)
    table.setHorizontalHeaderLabels(columns)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 10)
    table.setTabKeyNavigation(False)
    table.setAcceptDrops(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for col in range(1, len(columns)):
        header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    return table


def table_item(
    text: object, *, number: bool = False, tooltip: str | None = None, color: QColor | None = None
) -> QTableWidgetItem:
    """A read-only cell; its text and its tooltip are shown as plain text."""
    item = QTableWidgetItem(fmt_int(text) if number and isinstance(text, int) else str(text))
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if number:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    if tooltip:
        item.setToolTip(plain_tooltip(tooltip))
    if color is not None:
        item.setForeground(color)
    return item


def fit_table_height(table: QTableWidget, max_rows: int = 12) -> None:
    """Make a short table exactly as tall as its rows (no empty band, no scroll bar)."""
    rows = min(table.rowCount(), max_rows)
    height = table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth()
    for r in range(rows):
        height += table.rowHeight(r)
    if table.rowCount() > max_rows:
        height += table.horizontalScrollBar().sizeHint().height() // 2
    table.setMinimumHeight(height)
    table.setMaximumHeight(height)


def plan_headers(columns: tuple[str, ...]) -> list[str]:
    """'Collection' then each count column capitalised ('Inserted', 'Updated', …)."""
    return ["Collection", *(c.capitalize() for c in columns)]
