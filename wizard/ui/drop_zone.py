"""The large 'drop a file here' area, and the helpers every drop target shares."""

from __future__ import annotations

import os
from urllib.parse import unquote_to_bytes, urlsplit

from PySide6.QtCore import QMimeData, QSize, Qt, QUrl, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QFrame, QPushButton, QSizePolicy, QStyle, QVBoxLayout, QWidget

from wizard.ui.plain_text import heading_label, plain_label
from wizard.ui.status import muted


def local_files(mime: QMimeData | None) -> list[str]:
    """The local file paths carried by a drag (URLs from a file manager)."""
    if mime is None or not mime.hasUrls():
        return []
    return [_local_path(u) for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


def _local_path(url: QUrl) -> str:
    """A dropped file's path with its bytes as they are: ``toLocalFile`` replaces bytes that
    are not UTF-8, so the path is decoded from the percent-encoded URL instead."""
    encoded = bytes(url.toEncoded().data()).decode("ascii", "replace")
    return os.fsdecode(unquote_to_bytes(urlsplit(encoded).path))


def accept_file_drag(event: QDragEnterEvent | QDragMoveEvent) -> bool:
    if local_files(event.mimeData()):
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        return True
    event.ignore()
    return False


class DropZone(QFrame):
    """A big dashed frame that takes dropped files and has the Browse button.

    Emits ``filesDropped(list)`` with local paths, and ``browseRequested()`` for the button,
    a click on the zone, or Enter/Space while it has focus.
    """

    # list[str] as Python strings: a name that is not UTF-8 would not survive Qt's strings
    filesDropped = Signal(object)
    browseRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropZone")
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Drop zone")
        self.setAccessibleDescription(
            "Drop a memory export file here, or press Enter to browse for one."
        )
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(170)
        self._hover = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(8)
        layout.addStretch(1)
        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_FileDialogStart)
        self.icon_label = plain_label("")
        self.icon_label.setPixmap(icon.pixmap(QSize(40, 40), self.devicePixelRatioF()))
        self.icon_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = heading_label("Drop a memory export here", scale=1.3)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint = muted(
            plain_label(
                "mem0, OpenMemory, Letta or agentmemory — an export (JSON, JSON Lines, .gz, "
                ".zip) or the store itself (history.db, a Qdrant folder, openmemory.db, "
                "sqlite.db)"
            )
        )
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.browse_button = QPushButton("&Browse…")
        self.browse_button.setObjectName("browseButton")
        self.browse_button.setAccessibleName("Browse for a file")
        self.browse_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.browse_button.clicked.connect(self.browseRequested)
        layout.addWidget(self.icon_label)
        layout.addWidget(self.title)
        layout.addWidget(self.hint)
        layout.addSpacing(6)
        layout.addWidget(self.browse_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)

    # -- painting: a dashed rounded border, highlighted while a file hovers ----------------------
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        color = (
            pal.color(QPalette.ColorRole.Highlight)
            if self._hover or self.hasFocus()
            else pal.color(QPalette.ColorRole.Mid)
        )
        if self._hover:
            fill = pal.color(QPalette.ColorRole.Highlight)
            fill.setAlphaF(0.10)
            painter.setBrush(fill)
        else:
            painter.setBrush(pal.color(QPalette.ColorRole.Base))
        pen = QPen(color, 2, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawRoundedRect(self.rect().adjusted(2, 2, -2, -2), 10, 10)
        painter.end()

    def _set_hover(self, hover: bool) -> None:
        if hover != self._hover:
            self._hover = hover
            self.update()

    # -- drag and drop ---------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.source() is self:
            event.ignore()
            return
        self._set_hover(accept_file_drag(event))

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        accept_file_drag(event)

    def dragLeaveEvent(self, event) -> None:
        self._set_hover(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self._set_hover(False)
        files = local_files(event.mimeData())
        if not files:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        self.filesDropped.emit(files)

    # -- keyboard and mouse ----------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.browseRequested.emit()
            return
        super().keyPressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
            event.position().toPoint()
        ):
            self.browseRequested.emit()
            return
        super().mouseReleaseEvent(event)
