"""The Settings dialog: the largest input file the wizard reads (FORMATS.md section 7 says 2 GB
by default; the user may raise it). Saved in QSettings; the next inspection uses it."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from wizard.ui.plain_text import plain_label
from wizard.ui.settings import DEFAULT_MAX_INPUT_MB, MAX_INPUT_MB_RANGE, Settings
from wizard.ui.status import muted


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.settings = settings
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.max_input = QSpinBox()
        self.max_input.setObjectName("maxInputSpin")
        self.max_input.setAccessibleName("Largest input file in megabytes")
        self.max_input.setRange(*MAX_INPUT_MB_RANGE)
        self.max_input.setSingleStep(256)
        self.max_input.setSuffix(" MB")
        self.max_input.setGroupSeparatorShown(True)
        self.max_input.setValue(settings.max_input_mb())
        form.addRow("&Largest input file:", self.max_input)
        layout.addLayout(form)
        layout.addWidget(
            muted(
                plain_label(
                    "Measured after decompression (.gz, .zip). Larger files are refused before "
                    "they are read. An export at agentmemory's own caps is about 370 MB; the "
                    f"default is {DEFAULT_MAX_INPUT_MB} MB (2 GB). Reading a big file takes a "
                    "lot of memory: raise the limit only as far as you need."
                )
            )
        )
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.default_button = QPushButton("Restore &default")
        self.default_button.setObjectName("restoreDefaultButton")
        self.default_button.clicked.connect(lambda: self.max_input.setValue(DEFAULT_MAX_INPUT_MB))
        buttons.addButton(self.default_button, QDialogButtonBox.ButtonRole.ResetRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)

    def accept(self) -> None:
        self.settings.set_max_input_mb(self.max_input.value())
        self.settings.sync()
        super().accept()
