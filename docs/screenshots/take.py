"""Take the README's screenshots from the real app.

Run it under a real X server (not offscreen) so fonts and the style are the ones people see:

    xvfb-run -a -s '-screen 0 1280x1100x24' python docs/screenshots/take.py

It works in a temporary directory (its own store, settings and copies of the test fixtures) and
writes the PNGs beside this script. The delivery shots send to the test suite's stand-in
agentmemory (tests/agentmemory_standin.py) on an ephemeral loopback port.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the stand-in agentmemory server

WORK = Path(tempfile.mkdtemp(prefix="wizard-shots-"))
os.environ["AGENTMEMORY_WIZARD_DB"] = str(WORK / "store.sqlite")
os.environ["AGENTMEMORY_WIZARD_LOG_DIR"] = str(WORK / "logs")
os.environ["HOME"] = str(WORK / "home")  # no ~/.agentmemory of the user's
os.environ["AGENTMEMORY_SECRET"] = "screenshot-secret"  # what the stand-in expects
PAUSE = str(WORK / "pause")

from PySide6.QtCore import QEventLoop, QSettings  # noqa: E402
from PySide6.QtWidgets import QMessageBox, QScrollArea, QWidget  # noqa: E402

QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(WORK / "settings"))

from agentmemory_standin import StandIn  # noqa: E402

from wizard.cli import main as cli_main  # noqa: E402
from wizard.core.names import Phase  # noqa: E402
from wizard.core.steps import drive  # noqa: E402
from wizard.runs import Progress, prune_steps  # noqa: E402
from wizard.store.database import open_store  # noqa: E402
from wizard.ui.app import WizardApplication  # noqa: E402
from wizard.ui.ask import Ask  # noqa: E402
from wizard.ui.delivery_dialog import open_delivery  # noqa: E402
from wizard.ui.main_window import MainWindow  # noqa: E402
from wizard.ui.plain_text import plain_message_box  # noqa: E402
from wizard.ui.settings_dialog import prune_question  # noqa: E402
from wizard.ui.wizard import MigrationWizard, PageId  # noqa: E402
from wizard.ui.worker import cancel_all_and_wait  # noqa: E402

app = WizardApplication([sys.argv[0]])
T0 = time.monotonic()
Ask.question = staticmethod(lambda *a, **k: True)  # no modal questions while shooting


def spin(cond=None, timeout: float = 20.0, settle: float = 0.0) -> None:
    """Run the event loop until ``cond()`` holds (error after ``timeout``), then ``settle`` s."""
    if cond is not None:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise TimeoutError("condition not reached")
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
    end = time.monotonic() + settle
    while time.monotonic() < end:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)


def shot(widget: QWidget, name: str) -> None:
    spin(settle=0.3)
    path = HERE / f"{name}.png"
    widget.grab().save(str(path))
    print(f"{time.monotonic() - T0:6.1f}s wrote", path.relative_to(ROOT), flush=True)


def copy_fixture(rel: str, name: str | None = None) -> str:
    src = FIXTURES / rel
    dst = WORK / "exports" / (name or src.name)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst)
    return str(dst)


def with_version(version: str | None, name: str) -> str:
    data = json.loads((FIXTURES / "agentmemory" / "agentmemory-0.9.5-small.json").read_text())
    if version is None:
        data.pop("version")
    else:
        data["version"] = version
    dst = WORK / "exports" / name
    dst.write_text(json.dumps(data))
    return str(dst)


def new_wizard() -> MigrationWizard:
    w = MigrationWizard(os.environ["AGENTMEMORY_WIZARD_DB"])
    w.resize(900, 680)
    w.show()
    spin(settle=0.2)
    return w


def main() -> None:
    small = copy_fixture("agentmemory/agentmemory-0.9.5-small.json")
    old = copy_fixture("agentmemory/agentmemory-0.3.0-small.json")
    letta = copy_fixture("letta/loop.af")
    refused = copy_fixture("mem0/mem0-synth-platform-structured-export.json")
    openmemory = copy_fixture("mem0/openmemory-real-export.zip")
    unknown = with_version("0.9.99", "agentmemory-from-a-newer-version.json")
    long_html = copy_fixture(
        "mem0/mem0-real-oss-2.2.1-getall-alice.json",
        "<b>Bold <i>title & an export with a very long file name that goes on and on, "
        "2026-11-20 (copy 3) final FINAL.json",
    )

    # a mem0 install at its default place, and a Letta on PostgreSQL the wizard cannot read
    home = Path(os.environ["HOME"])
    (home / ".mem0").mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "native" / "mem0" / "history.db", home / ".mem0" / "history.db")
    shutil.copytree(FIXTURES / "native" / "mem0" / "qdrant", home / ".mem0" / "qdrant")
    (home / ".letta" / ".persist" / "pgdata").mkdir(parents=True, exist_ok=True)

    w = new_wizard()
    for path in (old, letta, small):
        w.settings.add_recent_file(path)
    w.file_page.initializePage()
    w.file_page.find_sources()
    spin(lambda: w.file_page._found_task is None)
    shot(w, "01-choose-file")

    main_window = MainWindow(os.environ["AGENTMEMORY_WIZARD_DB"], w.settings)
    main_window.resize(900, 760)
    main_window.show()
    main_window.wizard.file_page.find_sources()
    spin(lambda: main_window.wizard.file_page._found_task is None)
    shot(main_window, "00-main-window")
    main_window.menuBar().actions()[1].menu().popup(
        main_window.mapToGlobal(
            main_window.menuBar().actionGeometry(main_window.menuBar().actions()[1]).bottomLeft()
        )
    )
    spin(settle=0.3)
    main_window.menuBar().actions()[1].menu().grab().save(str(HERE / "00b-store-menu.png"))
    main_window.menuBar().actions()[1].menu().close()
    main_window.close()

    w.file_page.found.setCurrentItem(w.file_page.found.topLevelItem(0))
    w.file_page._found_activated(w.file_page.found.topLevelItem(0))
    spin(lambda: w.session.inspection is not None)
    shot(w, "01b-mem0-store-detected")
    w.next()
    spin(lambda: w.validation_page.isComplete())
    shot(w, "01c-mem0-store-validation")
    w.start_over()

    w.load_file(small)
    spin(lambda: w.session.inspection is not None)
    shot(w, "02-file-detected")

    w.next()
    spin(lambda: w.validation_page.isComplete())
    shot(w, "03-validation")

    w.next()
    spin(lambda: w.strategy_page.isComplete())
    shot(w, "05-strategy-merge")

    os.environ["AGENTMEMORY_WIZARD_TEST_PAUSE_AFTER_CHUNK"] = PAUSE
    w.next()
    spin(lambda: os.path.exists(PAUSE + ".paused"))
    # show a plausible mid-import state (the import itself is paused by the store's test hook)
    page = w.import_page
    page.meter.add(0, 580, time.monotonic() - 2)
    page.meter.add(10, 580, time.monotonic())
    page._on_progress(Progress(Phase.WRITE, "observations", 240, 500))
    page.rate.setText("3,840 records per second · about 1 s left")
    shot(w, "06-import")
    Path(PAUSE + ".resume").write_text("")
    spin(lambda: w.currentId() == PageId.RESULT)
    del os.environ["AGENTMEMORY_WIZARD_TEST_PAUSE_AFTER_CHUNK"]
    shot(w, "07-result")

    # same file again: the plan shows what is already there; Replace says what it deletes
    w.start_over()
    w.load_file(small)
    spin(lambda: w.session.inspection is not None)
    w.next()
    spin(lambda: w.validation_page.isComplete())
    w.next()
    w.strategy_page.radios["replace"].setChecked(True)
    spin(lambda: w.strategy_page.isComplete())
    shot(w, "05b-strategy-replace")
    w.strategy_page.radios["merge"].setChecked(True)
    spin(lambda: w.strategy_page.isComplete())

    # a converted source: what stays behind, and a preview of what records become
    w.start_over()
    w.resize(900, 1000)
    w.load_file(openmemory)
    spin(lambda: w.session.inspection is not None)
    w.next()
    spin(lambda: w.validation_page.isComplete())
    body = w.validation_page.findChild(QScrollArea)
    body.verticalScrollBar().setValue(body.verticalScrollBar().maximum())
    shot(w, "03b-validation-left-behind")
    w.next()
    spin(lambda: w.strategy_page.isComplete())
    w.next()
    spin(lambda: w.currentId() == PageId.RESULT)
    shot(w, "07b-result-left-behind")
    w.resize(900, 680)

    w.start_over()
    w.load_file(refused)
    spin(lambda: w.session.inspection is not None)
    w.next()
    shot(w, "04-validation-refused")

    w.start_over()
    w.load_file(unknown)
    spin(lambda: w.session.inspection is not None)
    w.next()
    shot(w, "04b-validation-unknown-version")

    w.start_over()
    w.load_file(long_html)
    spin(lambda: w.session.inspection is not None)
    shot(w, "08-long-file-name")
    w.next()
    spin(lambda: w.validation_page.isComplete())
    shot(w, "08b-long-file-name-validation")
    w.next()
    spin(lambda: w.strategy_page.isComplete())
    w.next()
    spin(lambda: w.currentId() == PageId.RESULT)
    audit = w.open_audit_history()
    audit.resize(1100, 640)
    spin(lambda: not audit.is_loading())
    audit.select_entry(1)
    shot(audit, "09-audit-history")

    from wizard.ui.error_dialog import ErrorDialog

    try:
        raise RuntimeError("an example of an unexpected error")
    except RuntimeError as exc:
        from wizard.crashlog import crash_report

        dialog = ErrorDialog(crash_report(exc), w)
    dialog.show()
    shot(dialog, "10-error-dialog")
    dialog.close()

    # delivery: the plan (a dry run), then a delivery read back and verified
    with StandIn(secret=os.environ["AGENTMEMORY_SECRET"]) as server:
        w.settings.set_delivery_url(server.url)
        delivery = open_delivery(w.session.db_path, w.session.result.audit_id)
        spin(lambda: delivery.probe_task is None)
        delivery.target.scope_store.setChecked(True)
        delivery.target.plan_button.click()
        spin(lambda: delivery.task is None and delivery.plan is not None)
        shot(delivery, "11-deliver-plan")
        delivery.target.send_button.click()
        spin(lambda: delivery.task is None and delivery.result is not None)
        shot(delivery, "12-deliver-done")
        delivery.close()
        # a secret a header cannot carry: said before anything is sent
        delivery = open_delivery(w.session.db_path, w.session.result.audit_id)
        spin(lambda: delivery.probe_task is None)
        delivery.target.secret_edit.setText("pasted\u2028secret")
        delivery.target.secret_edit.textEdited.emit("")  # (as typing would)
        delivery.target.plan_button.click()
        spin(settle=0.3)
        shot(delivery, "13-deliver-bad-secret")
        delivery.close()

    # dropping old revert data: a replace (it keeps the previous versions), every entry so far
    # made two months older, one recent import; then Settings → Drop… (confirmed), and the
    # audit history marks the imports that can no longer be reverted
    cli_main(["import", small, "--strategy", "replace", "--json"])
    con = sqlite3.connect(os.environ["AGENTMEMORY_WIZARD_DB"])
    ids = [row[0] for row in con.execute("SELECT id FROM audit_log ORDER BY id")]
    con.executemany(
        "UPDATE audit_log SET timestamp = ? WHERE id = ?",
        [
            (f"2026-0{8 + i // 20}-{10 + i % 20:02d}T09:{15 + i:02d}:00.000Z", n)
            for i, n in enumerate(ids)
        ],
    )
    con.commit()
    con.close()
    cli_main(["import", old, "--json"])
    settings = w.open_settings()
    settings.prune_days.setValue(60)
    with open_store(os.environ["AGENTMEMORY_WIZARD_DB"]) as store:
        planned = drive(prune_steps(store, timedelta(days=60), dry_run=True))
    text, informative = prune_question(planned, 60)
    box = plain_message_box(
        settings, QMessageBox.Icon.Question, "Drop old revert data?", text, informative
    )
    box.addButton("&Drop", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.show()
    shot(box, "14a-prune-confirm")
    box.close()
    settings.start_prune()
    spin(lambda: settings.prune_task is None and settings.prune_status.text().startswith("Drop"))
    shot(settings, "14-settings-prune")
    settings.accept()
    audit.reload()
    spin(lambda: not audit.is_loading())
    audit.select_entry(ids[0])
    shot(audit, "15-audit-pruned")
    audit.close()
    w.close()
    cancel_all_and_wait()
    spin(settle=0.2)
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
