"""Application set-up: the crash dialog (copyable, logged, the app keeps running), store error
messages, the window icon, names, settings and helpers."""

from __future__ import annotations

import logging
import sys

import pytest
from PySide6 import QtGui
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QTextDocument
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox

from wizard import crashlog
from wizard.core.names import Strategy
from wizard.ui import error_dialog
from wizard.ui.app import app_icon
from wizard.ui.formatting import fmt_duration, fmt_eta, fmt_size
from wizard.ui.labels import format_label
from wizard.ui.plain_text import INFORMATIVE_LABEL, plain_message_box, plain_tooltip
from wizard.ui.rate import RateMeter
from wizard.ui.settings import MAX_RECENT, Settings


@pytest.fixture
def fresh_log(_log_dir, monkeypatch):
    """crashlog configures its file handler once per process: point it at this test's dir."""
    logger = logging.getLogger("wizard")
    old_handlers = list(logger.handlers)
    for h in old_handlers:
        logger.removeHandler(h)
    monkeypatch.setattr(crashlog, "_configured", False)
    yield crashlog.log_path()
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    for h in old_handlers:
        logger.addHandler(h)


def _raise_and_catch() -> BaseException:
    try:
        raise RuntimeError("something <b>unexpected</b>")
    except RuntimeError as exc:
        return exc


def test_unexpected_error_shows_a_copyable_report_and_is_logged(qtbot, fresh_log):
    exc = _raise_and_catch()
    error_dialog.excepthook(type(exc), exc, exc.__traceback__)
    dialogs = error_dialog.open_error_dialogs()
    assert len(dialogs) == 1
    dialog = dialogs[0]
    assert dialog.isVisible()
    report = dialog.findChild(object, "errorReport").toPlainText()
    assert "RuntimeError: something <b>unexpected</b>" in report
    assert "Traceback" in report
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == report
    log = fresh_log.read_text(encoding="utf-8")
    assert "something <b>unexpected</b>" in log
    assert (fresh_log.stat().st_mode & 0o077) == 0  # owner-only
    dialog.close()
    qtbot.waitUntil(lambda: not error_dialog.open_error_dialogs())
    assert QApplication.instance() is not None  # the app keeps running


def test_a_storm_of_errors_opens_few_dialogs(qtbot, fresh_log):
    for _ in range(10):
        exc = _raise_and_catch()
        error_dialog.excepthook(type(exc), exc, exc.__traceback__)
    dialogs = error_dialog.open_error_dialogs()
    assert len(dialogs) == error_dialog._MAX_OPEN
    for d in dialogs:
        d.close()
    assert fresh_log.read_text(encoding="utf-8").count("unexpected error") == 10


def test_install_excepthook(monkeypatch):
    monkeypatch.setattr(sys, "excepthook", sys.__excepthook__)
    error_dialog.install_excepthook()
    assert sys.excepthook is error_dialog.excepthook


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("locked", "in use"),
        ("readonly", "read-only"),
        ("full", "disk"),
        ("newer-schema", "newer"),
        ("corrupt", "damaged"),
        ("io", "input/output"),
    ],
)
def test_store_error_messages(kind, words):
    from wizard.store.database import StoreError

    text = error_dialog.store_error_text(StoreError(kind, "details here"))
    assert words in text and "details here" in text


def test_window_icon_from_resources(qapp):
    icon = app_icon()
    assert icon is not None and not icon.isNull()
    assert not qapp.windowIcon().isNull()
    assert QGuiApplication.desktopFileName() == "agentmemory-wizard"
    assert qapp.organizationName() == "agentmemory"


def test_window_icon_missing_is_fine(monkeypatch, tmp_path):
    from wizard.ui import app as app_module

    monkeypatch.setattr(app_module, "icon_dirs", lambda: [tmp_path / "nowhere"])
    assert app_module.app_icon() is None


def test_settings_recent_files_are_capped_and_unique(qapp, tmp_path):
    s = Settings()
    files = []
    for i in range(MAX_RECENT + 3):
        p = tmp_path / f"f{i}.json"
        p.write_text("{}")
        files.append(str(p))
        s.add_recent_file(str(p))
    s.add_recent_file(files[0])
    recent = s.recent_files()
    assert len(recent) == MAX_RECENT and recent[0] == files[0]
    assert len(set(recent)) == len(recent)
    s.clear_recent_files()
    assert s.recent_files() == []
    s.set_last_strategy(Strategy.SKIP)
    assert s.last_strategy() is Strategy.SKIP
    s._s.setValue("import/strategy", "nonsense")  # an unknown value in the settings file
    assert s.last_strategy() is Strategy.MERGE


def test_rate_meter_and_formatting():
    m = RateMeter()
    m.add(0, 1000, now=0.0)
    m.add(250, 1000, now=1.0)
    assert m.rate() == 250
    assert m.eta() == 3.0
    assert fmt_eta(3.0) == "about 3 s left"
    assert fmt_eta(None) == "estimating…"
    assert fmt_duration(0.25) == "250 ms" and fmt_duration(125) == "2 min 05 s"
    assert fmt_size(2048) == "2.0 KB" and fmt_size(10) == "10 bytes"


# -- plain text (FORMATS.md section 7) ------------------------------------------------------------
HTML_TEXTS = [
    "unknown type '<b>x</b>'",
    "/tmp/<h1>Big <b>bold <img src=x>.json",
    "a &amp; b &lt;i&gt; <script>alert(1)</script>",
    "two\nlines  and  double spaces",
]


def shown(tooltip: str) -> str:
    """What Qt displays for a tooltip: rich text when it looks like it, else the string."""
    if not QtGui.Qt.mightBeRichText(tooltip):
        return tooltip
    doc = QTextDocument()
    doc.setHtml(tooltip)
    return doc.toPlainText()


@pytest.mark.parametrize("text", HTML_TEXTS)
def test_plain_tooltip_displays_the_literal_text(qapp, text):
    assert QtGui.Qt.mightBeRichText(text) or "<" not in text  # unescaped, Qt would render it
    tip = plain_tooltip(text)
    assert "<b>" not in tip and "<script>" not in tip
    assert shown(tip) == text


def test_plain_tooltip_of_nothing_is_no_tooltip(qapp):
    assert plain_tooltip("") == "" and plain_tooltip(None) == ""


def test_plain_message_box_shows_text_and_informative_text_as_plain_text(qapp):
    box = plain_message_box(
        None, QMessageBox.Icon.Information, "t", HTML_TEXTS[0], informative=HTML_TEXTS[1]
    )
    info = box.findChild(QLabel, INFORMATIVE_LABEL)
    assert box.textFormat() == Qt.TextFormat.PlainText
    assert info is not None and info.textFormat() == Qt.TextFormat.PlainText
    assert info.text() == box.informativeText() == HTML_TEXTS[1]
    box.deleteLater()


def test_store_error_box_shows_the_store_path_and_details_as_plain_text(qapp, monkeypatch):
    from wizard.store.database import StoreError

    monkeypatch.setattr(QMessageBox, "open", lambda self: None)
    path = "/data/<b>store</b>.sqlite"
    box = error_dialog.show_store_error(None, StoreError("corrupt", "bad '<i>x</i>'"), path)
    info = box.findChild(QLabel, INFORMATIVE_LABEL)
    assert info is not None and info.textFormat() == Qt.TextFormat.PlainText
    assert path in info.text() and "bad '<i>x</i>'" in info.text()
    box.deleteLater()


# -- labels come from the core and the store ------------------------------------------------------
def test_format_labels_are_the_detection_labels():
    from wizard.core.detection import BY_ID

    for fmt_id, fmt in BY_ID.items():
        assert format_label(fmt_id) == f"{fmt.label} [{fmt_id}]"
    assert format_label("agentmemory", "0.9.5").endswith(", version 0.9.5")
    assert format_label("something-new") == "something-new"
    assert format_label(None) == "unknown format"


def test_no_display_gives_a_message_instead_of_a_qt_abort(monkeypatch, capsys):
    from wizard.ui import app

    monkeypatch.setattr(app.sys, "platform", "linux")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert app.no_display()
    assert app.run_gui(["export.json"]) == 3
    assert "no display" in capsys.readouterr().err
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert not app.no_display()
