"""Plain-text display of anything that may hold record text, file names or errors.

FORMATS.md section 7: record text is always shown as plain text, never as rich text or HTML.
Qt guesses (``Qt.mightBeRichText``) for labels, message boxes and tooltips, so a file name or a
record value such as ``'<b>x</b>'`` would render as bold. Every such text goes through one of
these helpers:

- ``plain_label`` / ``heading_label``: a QLabel fixed to ``Qt.PlainText``;
- ``plain_tooltip``: a tooltip has no text-format switch, so the text is escaped into rich text
  that shows the literal characters (spaces and line breaks kept);
- ``plain_message_box`` / ``set_plain_informative``: a QMessageBox whose text *and* informative
  text are ``Qt.PlainText`` (``QMessageBox.setTextFormat`` alone does not say so for the
  informative text).
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

INFORMATIVE_LABEL = "qt_msgbox_informativelabel"  # QMessageBox's informative-text QLabel


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


def plain_tooltip(text: object) -> str:
    """A tooltip string that shows ``text`` literally (no tooltip for empty text).

    The result is rich text (one ``pre-wrap`` paragraph) with every ``<``, ``>`` and ``&``
    escaped, so Qt's rich-text guess is right and it displays exactly the characters given,
    spaces and line breaks included, still wrapping long lines."""
    text = "" if text is None else str(text)
    if not text:
        return ""
    return '<p style="white-space:pre-wrap">' + html.escape(text, quote=False) + "</p>"


def set_plain_informative(box: QMessageBox, text: str) -> None:
    """Set a message box's informative text, shown as plain text."""
    box.setInformativeText(text)
    info = box.findChild(QLabel, INFORMATIVE_LABEL)
    if info is not None:
        info.setTextFormat(Qt.TextFormat.PlainText)


def plain_message_box(
    parent: QWidget | None,
    icon: QMessageBox.Icon,
    title: str,
    text: str,
    informative: str = "",
    *,
    object_name: str | None = None,
) -> QMessageBox:
    """A QMessageBox (not shown yet) whose text and informative text are plain text."""
    box = QMessageBox(parent)
    if object_name:
        box.setObjectName(object_name)
    box.setIcon(icon)
    box.setWindowTitle(title)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(text)
    if informative:
        set_plain_informative(box, informative)
    return box
