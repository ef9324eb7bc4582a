"""The Qt GUI: the migration wizard, the audit history window and the store browser.

``open_wizard(db_path, file=None)``, ``open_audit_history(db_path)`` and
``open_store_browser(db_path, audit_id=None)`` are the entry points (tests use them;
``wizard.ui.app.run_gui`` is the application). Each returns the window without showing it. A
QApplication must exist.
"""

from __future__ import annotations

import os

from wizard.ui.audit_window import AuditWindow
from wizard.ui.store_browser import StoreBrowser
from wizard.ui.wizard import MigrationWizard

__all__ = ["open_audit_history", "open_store_browser", "open_wizard"]


def open_wizard(
    db_path: str | os.PathLike[str], file: str | os.PathLike[str] | None = None
) -> MigrationWizard:
    """The wizard for the store at ``db_path``, with ``file`` preloaded (read in the background)."""
    wizard = MigrationWizard(db_path)
    if file:
        wizard.session.set_file(os.fspath(file))
    return wizard


def open_audit_history(db_path: str | os.PathLike[str]) -> AuditWindow:
    """The audit history window for the store at ``db_path`` (entries load in the background)."""
    return AuditWindow(db_path)


def open_store_browser(
    db_path: str | os.PathLike[str], audit_id: int | None = None
) -> StoreBrowser:
    """The store browser for the store at ``db_path``, limited to the records import
    ``audit_id`` wrote when given (records load in the background)."""
    return StoreBrowser(db_path, audit_id)
