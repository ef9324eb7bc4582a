"""The application's window: the migration wizard inside, a menu (File / Store / Help) and a
status bar naming the store the window works on. ``Open another store…`` swaps the wizard for
one on the other store (never during an import); the store used last is opened next time."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox

from wizard import APP_NAME, __version__
from wizard.crashlog import log_path
from wizard.ui.plain_text import plain_message_box
from wizard.ui.settings import APPLICATION, ORGANIZATION, Settings
from wizard.ui.wizard import WINDOW_TITLE, MigrationWizard

LAST_STORE_KEY = "store/last"
STORE_FILTER = "Wizard stores (*.sqlite *.db);;All files (*)"


def _global_settings() -> QSettings:
    return QSettings(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION
    )


def last_store() -> str | None:
    """The store the app worked on last, when it (or at least its folder) still exists."""
    value = _global_settings().value(LAST_STORE_KEY, "")
    if not isinstance(value, str) or not value:
        return None
    return value if os.path.isfile(value) or os.path.isdir(os.path.dirname(value)) else None


def remember_store(path: str | os.PathLike[str]) -> None:
    s = _global_settings()
    s.setValue(LAST_STORE_KEY, os.path.abspath(os.fspath(path)))
    s.sync()


class MainWindow(QMainWindow):
    """The wizard with the app's menu and status bar. ``wizard`` is the current wizard."""

    def __init__(self, db_path: str | os.PathLike[str], settings: Settings | None = None) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.settings = settings or Settings()
        self.store_label = QLabel()
        self.store_label.setObjectName("storePathLabel")
        self.store_label.setTextFormat(Qt.TextFormat.PlainText)
        self.store_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.statusBar().addPermanentWidget(self.store_label, 1)
        self.wizard: MigrationWizard = self._make_wizard(db_path)
        self._build_menu()
        self.resize(self.wizard.size())
        geometry = self.settings.geometry("main")
        if geometry is not None:
            self.restoreGeometry(geometry)

    # -- the wizard ------------------------------------------------------------------------------
    def _make_wizard(self, db_path: str | os.PathLike[str]) -> MigrationWizard:
        wizard = MigrationWizard(db_path, self.settings)
        wizard.setWindowFlags(Qt.WindowType.Widget)
        wizard.finished.connect(self._wizard_finished)
        self.setCentralWidget(wizard)
        path = str(Path(db_path).absolute())
        self.store_label.setText(f"Store: {path}")
        self.store_label.setToolTip(path)
        self.setWindowTitle(f"{WINDOW_TITLE} — {Path(path).name}")
        remember_store(path)
        return wizard

    def load_file(self, path: str) -> bool:
        """A file the OS or the command line asks to open (refused during an import)."""
        return self.wizard.load_file(path)

    def _wizard_finished(self, _result: int) -> None:
        self.close()

    def open_store(self, path: str) -> bool:
        """Work on the store at ``path`` from now on (refused while an import runs)."""
        if self.wizard.session.is_importing():
            return False
        old = self.wizard
        old.finished.disconnect(self._wizard_finished)
        old.session.close()
        self.wizard = self._make_wizard(path)
        old.deleteLater()
        return True

    def choose_store(self) -> None:
        start = os.path.dirname(self.wizard.session.db_path)
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Open another store (a new name creates an empty store)",
            start,
            STORE_FILTER,
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if path and not self.open_store(path):
            self.statusBar().showMessage("Another store can be opened once the import ends", 5000)

    # -- the menu --------------------------------------------------------------------------------
    def _action(
        self,
        text: str,
        slot: object,
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
        name: str = "",
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if name:
            action.setObjectName(name)
        action.triggered.connect(slot)
        return action

    def _build_menu(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(
            self._action(
                "&Open a file…",
                lambda: self.wizard.file_page.browse(),
                QKeySequence.StandardKey.Open,
                "openFileAction",
            )
        )
        file_menu.addAction(
            self._action(
                "Open a &folder…",
                lambda: self.wizard.file_page.browse_folder(),
                None,
                "openFolderAction",
            )
        )
        file_menu.addAction(
            self._action("Open another &store…", self.choose_store, None, "openStoreAction")
        )
        file_menu.addSeparator()
        file_menu.addAction(
            self._action("&Quit", self.close, QKeySequence.StandardKey.Quit, "quitAction")
        )
        store_menu = bar.addMenu("&Store")
        store_menu.addAction(
            self._action(
                "&Browse store…",
                lambda: self.wizard.session.request_browser(None),
                "Ctrl+B",
                "browseStoreAction",
            )
        )
        store_menu.addAction(
            self._action(
                "&Audit history…",
                lambda: self.wizard.open_audit_history(),
                "Ctrl+H",
                "auditHistoryAction",
            )
        )
        store_menu.addAction(
            self._action(
                "Send to &agentmemory…",
                lambda: self.wizard.file_page.send_store(),
                None,
                "sendStoreAction",
            )
        )
        store_menu.addSeparator()
        store_menu.addAction(
            self._action("&Settings…", lambda: self.wizard.open_settings(), None, "settingsAction")
        )
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self._action("&About", self.about, None, "aboutAction"))

    def about(self) -> QMessageBox:
        box = plain_message_box(
            self,
            QMessageBox.Icon.Information,
            f"About {WINDOW_TITLE}",
            f"{APP_NAME} {__version__}",
            f"Moves AI agents' memory from mem0, OpenMemory, Letta and older agentmemory "
            f"installs into agentmemory.\n\nStore: {self.wizard.session.db_path}\n"
            f"Log of unexpected errors: {log_path()}\n\nOn the command line: "
            f"{APP_NAME} --help",
            object_name="aboutBox",
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    # -- closing ---------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if self.wizard.session.is_importing():
            self.wizard.close()  # stops the import; the window closes once it has stopped
            event.ignore()
            return
        self.settings.set_geometry("main", self.saveGeometry())
        self.wizard.finished.disconnect(self._wizard_finished)
        self.wizard.reject()  # closes the session, saves the wizard's settings
        super().closeEvent(event)
