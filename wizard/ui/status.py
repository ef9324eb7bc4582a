"""Pass / fail / warning marks and colours, and muted (secondary) text, from the palette so
they read in light and dark themes."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QWidget

PASS_MARK = "✓"
FAIL_MARK = "✗"


def muted(label: QLabel) -> QLabel:
    """Secondary text: the palette's placeholder colour (readable in light and dark)."""
    pal = label.palette()
    pal.setColor(QPalette.ColorRole.WindowText, pal.color(QPalette.ColorRole.PlaceholderText))
    label.setPalette(pal)
    return label


def is_dark(where: QWidget | QPalette) -> bool:
    palette = where if isinstance(where, QPalette) else where.palette()
    return palette.color(QPalette.ColorRole.Window).lightnessF() < 0.5


def status_color(where: QWidget | QPalette, ok: bool | None) -> QColor:
    """Green for pass, red for fail, amber for a warning (None); tuned to the palette of a
    widget (or to a palette)."""
    dark = is_dark(where)
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
