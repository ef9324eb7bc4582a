"""The read-only tables of the wizard pages: how they are built, filled and sized, and the
per-collection count tables (dry run, result) with their Total row and inline bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from wizard.ui.formatting import fmt_int
from wizard.ui.labels import collection_label
from wizard.ui.plain_text import plain_tooltip
from wizard.ui.status import status_color

# A count cell's share of the largest count in its table (0.0-1.0): the length of its bar.
BAR_ROLE = Qt.ItemDataRole.UserRole + 20
TOTAL_LABEL = "Total"
BAR_WIDTH = 72  # what a count column gets beyond its number, for the bar (pixels)


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


class CountBarDelegate(QStyledItemDelegate):
    """Paints a count as a bar proportional to it (``BAR_ROLE``) beside its number, so that
    what a strategy does (and what Replace deletes) is seen at a glance. Columns in
    ``warning_columns`` get the warning colour. The number stays the cell's text (screen
    readers, copying); the bar is drawing only."""

    def __init__(self, parent: QWidget, warning_columns: Sequence[int] = ()) -> None:
        super().__init__(parent)
        self.warning_columns = frozenset(warning_columns)

    def bar_color(self, palette: QPalette, column: int) -> QColor:
        if column in self.warning_columns:
            color = QColor(status_color(palette, None))
        else:
            color = QColor(palette.color(QPalette.ColorRole.Highlight))
        color.setAlpha(110)
        return color

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        fraction = index.data(BAR_ROLE)
        if not isinstance(fraction, float):
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text, opt.text = opt.text, ""
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        rect = opt.rect.adjusted(4, 3, -4, -3)
        room = rect.width() - opt.fontMetrics.horizontalAdvance(text) - 10
        if fraction > 0 and room > 4:
            width = max(2, round(room * min(fraction, 1.0)))
            painter.fillRect(
                QRect(rect.left(), rect.top() + 2, width, rect.height() - 4),
                self.bar_color(opt.palette, index.column()),
            )
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        painter.save()
        painter.setFont(opt.font)
        painter.setPen(
            opt.palette.color(
                QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
            )
        )
        align = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(rect, int(align), text)
        painter.restore()

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        size = super().sizeHint(option, index)
        if isinstance(index.data(BAR_ROLE), float):
            size.setWidth(size.width() + BAR_WIDTH)
        return size


def make_count_table(
    columns: tuple[str, ...], object_name: str, accessible: str, warning: Sequence[str] = ()
) -> QTableWidget:
    """A per-collection count table ('Collection', then a column per count) whose counts are
    drawn with inline bars (``warning``: the count columns drawn in the warning colour)."""
    table = make_table(plan_headers(columns), object_name, accessible)
    warn = [i for i, c in enumerate(columns, start=1) if c in warning]
    table.setItemDelegate(CountBarDelegate(table, warn))
    header = table.horizontalHeader()
    # the counts take the room (their bars need it); the names what they need (when filled)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
    for col in range(1, len(columns) + 1):
        header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch)
    return table


def fill_count_table(
    table: QTableWidget,
    columns: tuple[str, ...],
    rows: Sequence[tuple[str, Mapping[str, int]]],
    totals: Mapping[str, int] | None,
    max_rows: int = 14,
) -> None:
    """One row per collection, then (with ``totals``) a bold Total row. Each count's bar is its
    share of the largest count of the collections (the Total row has none)."""
    largest = max((int(c[col]) for _n, c in rows for col in columns), default=0)
    table.setRowCount(len(rows) + (1 if totals is not None else 0))
    for r, (name, counts) in enumerate(rows):
        table.setItem(r, 0, table_item(collection_label(name)))
        for c, col in enumerate(columns, start=1):
            item = table_item(counts[col], number=True)
            item.setData(BAR_ROLE, counts[col] / largest if largest else 0.0)
            table.setItem(r, c, item)
    if totals is not None:
        last = len(rows)
        total_item = table_item(TOTAL_LABEL)
        font = total_item.font()
        font.setBold(True)
        total_item.setFont(font)
        table.setItem(last, 0, total_item)
        for c, col in enumerate(columns, start=1):
            item = table_item(totals[col], number=True)
            item.setFont(font)
            table.setItem(last, c, item)
    # the names get a margin beyond their text; the counts share the rest
    table.resizeColumnToContents(0)
    table.setColumnWidth(0, table.columnWidth(0) + 24)
    fit_table_height(table, max_rows=max_rows)
