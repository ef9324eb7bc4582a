"""Small shared widgets and formatting helpers. Everything that shows file names, errors or
record text is plain text (never rich text): a title holding HTML must not render."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QLabel,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

PASS_MARK = "✓"
FAIL_MARK = "✗"


def plain_label(
    text: str = "",
    parent: QWidget | None = None,
    *,
    wrap: bool = True,
    selectable: bool = False,
    object_name: str | None = None,
) -> QLabel:
    """A QLabel that never interprets its text as HTML."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(wrap)
    label.setText(text)
    if selectable:
        label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
    if object_name:
        label.setObjectName(object_name)
    return label


def heading_label(text: str, parent: QWidget | None = None, *, scale: float = 1.15) -> QLabel:
    label = plain_label(text, parent)
    font = QFont(label.font())
    font.setBold(True)
    if font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * scale)
    label.setFont(font)
    return label


def muted(label: QLabel) -> QLabel:
    """Secondary text: the palette's placeholder colour (readable in light and dark)."""
    pal = label.palette()
    pal.setColor(QPalette.ColorRole.WindowText, pal.color(QPalette.ColorRole.PlaceholderText))
    label.setPalette(pal)
    return label


def is_dark(widget: QWidget) -> bool:
    return widget.palette().color(QPalette.ColorRole.Window).lightnessF() < 0.5


def status_color(widget: QWidget, ok: bool | None) -> QColor:
    """Green for pass, red for fail, amber for a warning (None); tuned to the palette."""
    dark = is_dark(widget)
    if ok is None:
        return QColor("#e0b050") if dark else QColor("#8a5a00")
    if ok:
        return QColor("#6cc070") if dark else QColor("#1b7a2b")
    return QColor("#ff7b72") if dark else QColor("#b3261e")


def set_status(label: QLabel, ok: bool | None) -> None:
    pal = label.palette()
    pal.setColor(QPalette.ColorRole.WindowText, status_color(label, ok))
    label.setPalette(pal)


def clear_status(label: QLabel) -> None:
    label.setPalette(QPalette())


def hline() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.HLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line


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
    item = QTableWidgetItem(fmt_int(text) if number and isinstance(text, int) else str(text))
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if number:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    if tooltip:
        item.setToolTip(tooltip)
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


# -- formatting ---------------------------------------------------------------------------------
def fmt_int(n: object) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n)


def fmt_size(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size):,} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def fmt_eta(seconds: float | None) -> str:
    if seconds is None or seconds < 0 or math.isinf(seconds):
        return "estimating…"
    if seconds < 1:
        return "less than a second left"
    if seconds < 60:
        return f"about {math.ceil(seconds)} s left"
    return f"about {fmt_duration(seconds)} left"


COLLECTION_LABELS = {
    "sessions": "Sessions",
    "observations": "Observations",
    "memories": "Memories",
    "summaries": "Summaries",
    "profiles": "Profiles",
    "graphNodes": "Graph nodes",
    "graphEdges": "Graph edges",
    "semanticMemories": "Semantic memories",
    "proceduralMemories": "Procedural memories",
    "actionEdges": "Action edges",
    "accessLogs": "Access logs",
    "observationBuckets": "Sessions with observations",
    "observationsPerSession": "Observations in one session",
}


def collection_label(name: str) -> str:
    if name in COLLECTION_LABELS:
        return COLLECTION_LABELS[name]
    out = "".join(" " + c.lower() if c.isupper() else c for c in name)
    return out[:1].upper() + out[1:]


CAP_LABELS = {
    "sessions": "Sessions",
    "memories": "Memories",
    "summaries": "Summaries",
    "observationBuckets": "Sessions with observations",
    "observationsPerSession": "Observations in one session",
    "observations": "Observations in total",
    "accessLogs": "Access logs",
}


class Ask:
    """Modal questions, in one place so tests can replace them (monkeypatch ``Ask.question``).

    Unlike the QMessageBox static helpers these never interpret their text as rich text.
    """

    @staticmethod
    def question(
        parent: QWidget | None, title: str, text: str, informative: str = "", yes_text: str = "&Yes"
    ) -> bool:
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(title)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(text)
        if informative:
            box.setInformativeText(informative)
            info = box.findChild(QLabel, "qt_msgbox_informativelabel")
            if info is not None:
                info.setTextFormat(Qt.TextFormat.PlainText)
        yes = box.addButton(yes_text, QMessageBox.ButtonRole.AcceptRole)
        no = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(no)
        box.setEscapeButton(no)
        box.exec()
        return box.clickedButton() is yes
