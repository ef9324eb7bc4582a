"""Modal questions, in one place so tests can replace them (monkeypatch ``Ask.question``)."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from wizard.ui.plain_text import plain_message_box


class Ask:
    """Unlike the QMessageBox static helpers these never interpret their text as rich text."""

    @staticmethod
    def question(
        parent: QWidget | None, title: str, text: str, informative: str = "", yes_text: str = "&Yes"
    ) -> bool:
        box = plain_message_box(parent, QMessageBox.Icon.Question, title, text, informative)
        yes = box.addButton(yes_text, QMessageBox.ButtonRole.AcceptRole)
        no = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(no)
        box.setEscapeButton(no)
        box.exec()
        return box.clickedButton() is yes
