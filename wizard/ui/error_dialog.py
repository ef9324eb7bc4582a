"""Dialogs for errors: the unexpected-error report (copyable, logged) and store problems."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from wizard.core.names import ErrorKind
from wizard.crashlog import log_crash, log_path
from wizard.store.database import StoreError
from wizard.ui.plain_text import plain_label, plain_message_box, set_plain_informative


class ErrorDialog(QDialog):
    """'Something went wrong': the report, a Copy button, and where the log is."""

    def __init__(self, report: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorDialog")
        self.setWindowTitle("Unexpected error")
        self.report = report
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        head = QLabel()
        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical)
        head.setPixmap(icon.pixmap(40, 40))
        head.setAlignment(Qt.AlignmentFlag.AlignTop)
        intro = plain_label(
            "Something unexpected went wrong. The app keeps running.\n"
            f"This report was saved to {log_path()}.\n"
            "Copy it into a bug report if you want the problem fixed. It holds no memory "
            "contents."
        )
        intro.setWordWrap(True)
        top.addWidget(head)
        top.addSpacing(8)
        top.addWidget(intro, 1)
        layout.addLayout(top)
        self.text = QPlainTextEdit(report)
        self.text.setObjectName("errorReport")
        self.text.setReadOnly(True)
        self.text.setAcceptDrops(False)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setAccessibleName("Error report")
        layout.addWidget(self.text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("&Copy report")
        self.copy_button.setObjectName("copyReportButton")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy_report)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(720, 420)

    def copy_report(self) -> None:
        QGuiApplication.clipboard().setText(self.report)
        self.copy_button.setText("Copied")


_open_dialogs: list[ErrorDialog] = []
_MAX_OPEN = 3  # an error in a paint loop must not open a thousand windows


def show_unexpected_error(exc: BaseException, parent: QWidget | None = None) -> ErrorDialog | None:
    """Log an unexpected error and show the copyable report (non-blocking). Never raises."""
    try:
        report = log_crash(exc)
    except Exception:  # the log itself failed: still show something
        report = f"{type(exc).__name__}: {exc}"
    if QApplication.instance() is None or len(_open_dialogs) >= _MAX_OPEN:
        return None
    if parent is None:
        parent = QApplication.activeWindow()
    dialog = ErrorDialog(report, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    _open_dialogs.append(dialog)
    dialog.finished.connect(lambda _=0, d=dialog: _forget(d))
    dialog.open()
    return dialog


def _forget(dialog: ErrorDialog) -> None:
    if dialog in _open_dialogs:
        _open_dialogs.remove(dialog)


def open_error_dialogs() -> list[ErrorDialog]:
    return list(_open_dialogs)


def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """sys.excepthook for the GUI: log and show; the event loop keeps running."""
    if issubclass(exc_type, KeyboardInterrupt):
        QApplication.quit()
        return
    if exc.__traceback__ is None and tb is not None:
        exc = exc.with_traceback(tb)
    show_unexpected_error(exc)


def install_excepthook() -> None:
    sys.excepthook = excepthook


STORE_ERROR_TEXT: dict[ErrorKind, str] = {
    ErrorKind.LOCKED: "The store is in use by another program (it is locked). Close the other "
    "program (or the other copy of this wizard) and try again.",
    ErrorKind.READONLY: "The store cannot be written: the file or its folder is read-only. "
    "Check its permissions, or choose another location with AGENTMEMORY_WIZARD_DB.",
    ErrorKind.FULL: "The disk holding the store is full. Free some space and try again. "
    "Nothing was written.",
    ErrorKind.NEWER_SCHEMA: "The store was written by a newer version of the wizard. Update "
    "the wizard to use it; this version will not change it.",
    ErrorKind.CORRUPT: "The store file is damaged (it is not a database this wizard can read). "
    "Move it away to start a new store, or restore a backup.",
    ErrorKind.IO: "The store could not be read or written (an input/output error).",
}


def store_error_text(err: StoreError) -> str:
    text = STORE_ERROR_TEXT.get(err.kind, "The store could not be opened or written.")
    return f"{text}\n\nDetails: {err.message or err}"


MOVE_ASIDE_TEXT = "&Move it aside and start a new store"


def show_store_error(
    parent: QWidget | None,
    err: StoreError,
    db_path: object = None,
    move_aside: Callable[[], object] | None = None,
) -> QMessageBox:
    """A clear message for a StoreError (locked, read-only, full, newer schema, corrupt, io).

    For a damaged store, ``move_aside`` (when given) is offered as a button: it renames the
    file (nothing is deleted or overwritten) so that a new store can be started."""
    box = plain_message_box(
        parent,
        QMessageBox.Icon.Warning,
        "Store problem",
        "The memory store cannot be used right now.",
        object_name="storeErrorBox",
    )
    info = store_error_text(err)
    if db_path:
        info += f"\n\nStore: {db_path}"
    if err.kind == ErrorKind.CORRUPT and move_aside is not None:
        info += (
            "\n\nMoving it aside renames the file (to …damaged-<date>, in the same folder) and "
            "starts a new, empty store. Nothing is deleted."
        )
        button = box.addButton(MOVE_ASIDE_TEXT, QMessageBox.ButtonRole.ActionRole)
        button.setObjectName("moveAsideButton")
        button.clicked.connect(move_aside)
        box.addButton(QMessageBox.StandardButton.Close)
    set_plain_informative(box, info)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
