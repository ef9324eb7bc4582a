"""The Qt GUI: the migration wizard and the audit history window.

``open_wizard(db_path, file=None)`` and ``open_audit_history(db_path)`` are the entry points
(tests use them; ``wizard.ui.app.run_gui`` is the application). Both return the window without
showing it. A QApplication must exist.
"""

from __future__ import annotations

import os

from wizard.ui.audit_window import AuditWindow
from wizard.ui.wizard import MigrationWizard

__all__ = ["open_audit_history", "open_wizard"]


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
