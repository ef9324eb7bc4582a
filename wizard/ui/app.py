"""The application: QApplication set-up, files from the command line and from the OS
(QFileOpenEvent on macOS), the crash dialog, and ``run_gui(argv)``."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QFileOpenEvent, QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from wizard import __version__
from wizard.store.database import DB_ENV
from wizard.ui import backend
from wizard.ui.error_dialog import install_excepthook
from wizard.ui.main_window import MainWindow, last_store
from wizard.ui.settings import APPLICATION, ORGANIZATION
from wizard.ui.worker import cancel_all_and_wait

DISPLAY_NAME = "AgentMemory Migration Wizard"
DESKTOP_FILE_NAME = "agentmemory-wizard"
ICON_DIR = Path(__file__).resolve().parent.parent.parent / "resources" / "icons"
ICON_NAMES = ("agentmemory-wizard",)


def icon_dirs() -> list[Path]:
    """Where the app icon may be: the source tree's resources/icons, the package's resources
    (installed wheel), and a PyInstaller bundle's."""
    here = Path(__file__).resolve().parent
    dirs = [here.parent / "resources" / "icons", ICON_DIR]
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        dirs.insert(0, Path(bundle) / "resources" / "icons")
    return dirs


def app_icon() -> QIcon | None:
    """The window icon from resources/icons/ (the hicolor PNG sizes, so small sizes stay crisp,
    and the SVG for anything else), or None when the icon is not there."""
    for folder in icon_dirs():
        if not folder.is_dir():
            continue
        icon = QIcon()
        for png in sorted(folder.glob("hicolor/*/apps/*.png")):
            if any(png.stem.startswith(n) for n in ICON_NAMES):
                icon.addFile(str(png))
        for name in ICON_NAMES:
            for ext in (".svg", ".png"):
                path = folder / f"{name}{ext}"
                if path.is_file():
                    icon.addFile(str(path))
        if not icon.isNull():
            return icon
    return None


class FileOpenRouter(QObject):
    """Files the OS asks the app to open, queued until a receiver (the wizard) exists."""

    fileOpened = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pending: list[str] = []
        self._connected = False

    def open_file(self, path: str) -> None:
        if self._connected:
            self.fileOpened.emit(path)
        else:
            self.pending.append(path)

    def connect_receiver(self, slot) -> None:
        """Connect the wizard; hands it the files that arrived before it existed."""
        self.fileOpened.connect(slot)
        self._connected = True
        pending, self.pending = self.pending, []
        for path in pending:
            self.fileOpened.emit(path)


class WizardApplication(QApplication):
    """QApplication that turns QFileOpenEvent (Finder, the Dock) into ``files.fileOpened``."""

    def __init__(self, argv: Sequence[str]) -> None:
        super().__init__(list(argv))
        self.files = FileOpenRouter(self)
        configure_app(self)

    def event(self, e: QEvent) -> bool:
        if e.type() == QEvent.Type.FileOpen:
            path = e.file() if isinstance(e, QFileOpenEvent) else ""
            if not path and isinstance(e, QFileOpenEvent) and e.url().isLocalFile():
                path = e.url().toLocalFile()
            if path:
                self.files.open_file(path)
                return True
        return super().event(e)


def configure_app(app: QGuiApplication) -> None:
    """Names (QSettings, window manager matching), the icon."""
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(DISPLAY_NAME)
    app.setApplicationVersion(__version__)
    QGuiApplication.setDesktopFileName(DESKTOP_FILE_NAME)
    icon = app_icon()
    if icon is not None:
        app.setWindowIcon(icon)


def _shutdown() -> None:
    """At exit: ask running work to stop and wait for it (no thread destroyed while running)."""
    cancel_all_and_wait(30_000)


def no_display() -> bool:
    """True where Qt would abort for want of a screen: Linux with neither an X11 nor a Wayland
    display, and no platform chosen through QT_QPA_PLATFORM."""
    if os.environ.get("QT_QPA_PLATFORM") or not sys.platform.startswith("linux"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_gui(argv: Sequence[str]) -> int:
    """Open the wizard (the first path in ``argv`` preloaded) and run the event loop."""
    if no_display():
        print(
            "agentmemory-wizard: there is no display to open the window on (DISPLAY and "
            "WAYLAND_DISPLAY are not set). Use a subcommand on the command line: "
            "agentmemory-wizard --help",
            file=sys.stderr,
        )
        return 3
    explicit_db, argv = _db_option(list(argv))
    files = [a for a in argv if a and not a.startswith("-")]
    app = QApplication.instance()
    if app is None:
        app = WizardApplication([sys.argv[0] if sys.argv else "agentmemory-wizard"])
    elif isinstance(app, QGuiApplication):
        configure_app(app)
    install_excepthook()
    app.aboutToQuit.connect(_shutdown)

    if explicit_db or os.environ.get(DB_ENV):
        db_path = backend.resolve_db_path(explicit_db)
    else:  # the store used last, else the default one
        db_path = backend.resolve_db_path(last_store())
    window = MainWindow(db_path)
    router: FileOpenRouter | None = getattr(app, "files", None)
    if router is not None:
        router.connect_receiver(window.load_file)
    if files:
        window.wizard.load_file(os.path.abspath(files[0]))
    window.show()
    return app.exec()


def _db_option(argv: list[str]) -> tuple[str | None, list[str]]:
    """``--db PATH`` / ``--db=PATH`` taken out of the GUI's arguments."""
    db: str | None = None
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--db" and i + 1 < len(argv):
            db = argv[i + 1]
            i += 2
            continue
        if arg.startswith("--db="):
            db = arg[len("--db=") :]
        else:
            rest.append(arg)
        i += 1
    return db, rest
