"""The delivery window (docs/DELIVERY.md section 11) against the stand-in agentmemory of
tests/agentmemory_standin.py on an ephemeral loopback port: the secret prefilled and its source
shown, the plan, merge and replace deliveries, a wrong secret, cancel and resume, closing
mid-delivery, plain http to another machine, and the buttons that open it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import shiboken6
from agentmemory_standin import StandIn
from delivery_helpers import on_server, store_records
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QRadioButton, QWizard
from store_helpers import SMALL

from wizard.cli import main
from wizard.runs import delivering
from wizard.store import audit
from wizard.store.database import open_store
from wizard.ui import open_wizard
from wizard.ui.ask import Ask
from wizard.ui.delivery_dialog import DeliveryDialog, open_delivery
from wizard.ui.settings import Settings
from wizard.ui.wizard import PageId

SECRET = "gui-test-secret-51c0de"
TIMEOUT = 30_000  # ms: a delivery of the sample in small chunks takes well under a second


@pytest.fixture
def env(tmp_path, monkeypatch, db_path) -> Path:
    """The store path, with the secret in the environment, no ~/.agentmemory of the user's,
    short retry pauses and 64 KiB chunks (the 0.9.5 sample makes several)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AGENTMEMORY_SECRET", SECRET)
    monkeypatch.setenv(delivering.PAUSE_ENV, "0.01")
    monkeypatch.setenv(delivering.CHUNK_ENV, "65536")
    return db_path


@pytest.fixture
def store(env) -> Path:
    assert main(["import", str(SMALL), "--db", str(env)]) == 0
    return env


@pytest.fixture
def server(qtbot):
    """The stand-in, remembered as the server to deliver to (no test ever probes port 3111)."""
    with StandIn(secret=SECRET) as standin:
        Settings().set_delivery_url(standin.url)
        yield standin


class Asked:
    """Ask.question replaced: records the titles asked and answers ``answer``."""

    def __init__(self) -> None:
        self.titles: list[str] = []
        self.answer = True

    def __call__(self, _parent, title: str, *_args, **_kwargs) -> bool:
        self.titles.append(title)
        return self.answer


@pytest.fixture
def asked(monkeypatch) -> Asked:
    recorder = Asked()
    monkeypatch.setattr(Ask, "question", staticmethod(recorder))
    return recorder


@pytest.fixture(autouse=True)
def _close_delivery_windows(qtbot):
    """Close the delivery windows a test left open (they delete themselves when closed, so
    they are not qtbot's to close)."""
    yield
    for window in delivery_windows():
        if shiboken6.isValid(window):
            window.close()


def delivery_windows() -> list[DeliveryDialog]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, DeliveryDialog)]


def dialog_for(qtbot, db: Path, audit_id: int | None = None) -> DeliveryDialog:
    dialog = open_delivery(db, audit_id)
    qtbot.waitUntil(lambda: dialog.probe_task is None, timeout=TIMEOUT)
    return dialog


def press(qtbot, dialog: DeliveryDialog, name: str) -> None:
    """Click the button ``name`` and wait until the plan or delivery it starts has ended."""
    button = dialog.findChild(object, name)
    assert button.isVisible() and button.isEnabled(), name
    with qtbot.waitSignal(dialog.stopped, timeout=TIMEOUT):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def deliveries(db: Path) -> list[dict]:
    with open_store(db) as store:
        return [e for e in audit.list_entries(store) if e["operation"] == "deliver"]


def text_of(dialog: DeliveryDialog, name: str) -> str:
    return dialog.findChild(object, name).text()


# -- the target ------------------------------------------------------------------------------
def test_the_secret_is_prefilled_from_the_environment_and_its_source_shown(
    qtbot, store, server, asked
):
    dialog = dialog_for(qtbot, store)
    assert dialog.objectName() == "deliveryDialog"
    secret = dialog.findChild(QLineEdit, "deliverySecret")
    assert secret.text() == SECRET and secret.echoMode() == QLineEdit.EchoMode.Password
    source = text_of(dialog, "secretSource")
    assert "AGENTMEMORY_SECRET" in source and SECRET not in source
    assert text_of(dialog, "deliveryUrl") == server.url
    assert "An agentmemory answers" in text_of(dialog, "serverStatus")
    assert dialog.findChild(QRadioButton, "scopeImport") is None  # no import given
    assert dialog.findChild(QRadioButton, "scopeStore").isChecked()
    assert dialog.findChild(QRadioButton, "deliverMerge").isChecked()
    assert dialog.findChild(QRadioButton, "deliverReplace").isEnabled()
    assert not dialog.findChild(object, "withSource").isChecked()
    # typed over: the label says so (and still never shows it)
    secret.selectAll()
    qtbot.keyClicks(secret, "typed-secret")
    assert "Typed here" in text_of(dialog, "secretSource")
    assert not [r for r in server.requests if r["method"] == "POST"]


def test_no_secret_found_says_requests_go_without_auth(qtbot, store, server, asked, monkeypatch):
    monkeypatch.delenv("AGENTMEMORY_SECRET")
    dialog = dialog_for(qtbot, store)
    assert dialog.findChild(QLineEdit, "deliverySecret").text() == ""
    assert "requests go without auth" in text_of(dialog, "secretSource")


def test_a_found_secret_a_header_cannot_carry_is_not_offered(
    qtbot, store, server, asked, monkeypatch
):
    monkeypatch.setenv("AGENTMEMORY_SECRET", "line-one\nline-two")
    dialog = dialog_for(qtbot, store)
    assert dialog.findChild(QLineEdit, "deliverySecret").text() == ""
    source = text_of(dialog, "secretSource")
    assert "Not used" in source and "line break" in source and "line-one" not in source


def test_a_typed_secret_a_header_cannot_carry_sends_nothing(qtbot, store, server, asked):
    dialog = dialog_for(qtbot, store)
    secret = dialog.findChild(QLineEdit, "deliverySecret")
    secret.setText("caf\u00e9-\u20ac")  # (the euro sign is outside Latin-1)
    dialog.target.plan_button.click()
    assert dialog.task is None and dialog.plan is None
    assert "cannot carry" in text_of(dialog, "secretSource")
    assert "\u20ac" not in text_of(dialog, "secretSource")
    assert not [r for r in server.requests if r["method"] == "POST"]


# -- the plan --------------------------------------------------------------------------------
def test_the_plan_shows_the_chunks_and_sends_nothing(qtbot, store, server, asked):
    dialog = dialog_for(qtbot, store)
    press(qtbot, dialog, "deliveryPlanButton")
    plan = dialog.plan
    assert plan is not None and plan.dry_run and plan.chunks > 3
    text = text_of(dialog, "deliveryPlan")
    assert f"in {plan.chunks} requests" in text and "500 observations" in text
    assert "0.9.29" in text and "Nothing was sent" in text
    assert server.imports == [] and not [r for r in server.requests if r["method"] == "POST"]
    assert deliveries(store) == []  # a dry run is not an attempt
    assert asked.titles == []  # loopback: no question


def test_a_wrong_secret_shows_an_error_and_sends_nothing(qtbot, store, server, asked):
    dialog = dialog_for(qtbot, store)
    secret = dialog.findChild(QLineEdit, "deliverySecret")
    secret.selectAll()
    qtbot.keyClicks(secret, "not-the-secret")
    press(qtbot, dialog, "deliveryPlanButton")
    text = text_of(dialog, "deliveryPlan")
    assert "refused the secret" in text and "type it in the Secret field" in text
    assert "not-the-secret" not in text
    press(qtbot, dialog, "deliverySendButton")
    assert dialog.result is not None and dialog.result.error_code == "unauthorized"
    assert "failed" in text_of(dialog, "deliveryResult")
    assert "refused the secret" in text_of(dialog, "deliveryResultText")
    assert server.imports == [] and not [r for r in server.requests if r["method"] == "POST"]


# -- delivering ------------------------------------------------------------------------------
def test_a_merge_delivery_lands_complete_and_shows_verified(qtbot, store, server, asked, tmp_path):
    dialog = dialog_for(qtbot, store)
    press(qtbot, dialog, "deliverySendButton")
    result = dialog.result
    assert result is not None and result.ok and result.verified and result.chunks > 3
    assert on_server(server) == store_records(store)
    assert "Delivered and verified" in text_of(dialog, "deliveryResult")
    table = dialog.findChild(object, "deliveryResultTable")
    rows = {
        table.item(r, 0).text(): [table.item(r, c).text() for c in range(1, 4)]
        for r in range(table.rowCount())
    }
    assert rows["Observations"] == ["500", "500", "0"] and rows["Memories"] == ["50", "50", "0"]
    [entry] = deliveries(store)
    assert entry["outcome"] == "succeeded" and f"#{entry['id']}" in text_of(
        dialog, "deliveryAuditId"
    )
    assert asked.titles == []
    assert Settings().delivery_url() == server.url  # the URL is remembered...
    dialog.close()
    logs = Path(os.environ["AGENTMEMORY_WIZARD_LOG_DIR"])
    written = [*tmp_path.rglob("*"), *logs.rglob("*")]  # store, settings, logs
    assert any(p.name.endswith(".ini") for p in written)
    for path in written:  # ...and the secret is in no file
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_replace_asks_and_wipes_once(qtbot, store, server, asked):
    server.seed(
        {
            "version": "0.9.29",
            "sessions": [],
            "observations": {},
            "summaries": [],
            "memories": [{"id": "old", "content": "gone", "type": "fact"}],
        }
    )
    dialog = dialog_for(qtbot, store)
    dialog.findChild(QRadioButton, "deliverReplace").click()
    press(qtbot, dialog, "deliveryPlanButton")
    assert "Replace first deletes everything the server holds" in text_of(dialog, "deliveryPlan")
    asked.answer = False  # declined: nothing happens
    qtbot.mouseClick(dialog.findChild(object, "deliverySendButton"), Qt.MouseButton.LeftButton)
    assert asked.titles == ["Replace everything on the server?"]
    assert dialog.task is None and server.imports == []
    asked.answer = True
    press(qtbot, dialog, "deliverySendButton")
    assert dialog.result is not None and dialog.result.ok
    strategies = [i["strategy"] for i in server.imports]
    assert strategies[0] == "replace" and set(strategies[1:]) == {"merge"}
    assert strategies.count("replace") == 1
    assert "old" not in server.store["memories"]
    assert on_server(server) == store_records(store)


def test_cancel_mid_delivery_says_resumable_and_running_again_completes(
    qtbot, store, server, asked
):
    server.delay = 2.0
    server.fail_request(3, "timeout")  # the third request answers slowly
    dialog = dialog_for(qtbot, store)
    qtbot.mouseClick(dialog.findChild(object, "deliverySendButton"), Qt.MouseButton.LeftButton)
    assert dialog.findChild(object, "deliveryProgress").isVisible()
    qtbot.waitUntil(lambda: server._import_requests >= 3, timeout=TIMEOUT)
    with qtbot.waitSignal(dialog.stopped, timeout=TIMEOUT):
        qtbot.mouseClick(
            dialog.findChild(object, "deliveryCancelButton"), Qt.MouseButton.LeftButton
        )
    result = dialog.result
    assert result is not None and result.outcome == "cancelled"
    assert len(server.imports) == result.chunks == 3  # stopped after the request in flight
    assert "can be resumed" in text_of(dialog, "deliveryResult")
    again = dialog.findChild(object, "deliveryAgainButton")
    assert again.text() == "&Resume"
    server.delay = 0.0
    press(qtbot, dialog, "deliveryAgainButton")
    done = dialog.result
    assert done is not None and done.ok and done.resumed and done.verified and done.chunks > 3
    assert len(server.imports) == done.chunks  # the three acknowledged were not sent again
    assert on_server(server) == store_records(store)
    assert "Resumed delivery" in text_of(dialog, "deliveryResultText")
    assert [e["outcome"] for e in deliveries(store)] == ["succeeded", "cancelled"]


def test_closing_mid_delivery_asks_then_stops_after_the_chunk(qtbot, store, server, asked):
    server.delay = 2.0
    server.fail_request(2, "timeout")
    dialog = dialog_for(qtbot, store)
    qtbot.mouseClick(dialog.findChild(object, "deliverySendButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: server._import_requests >= 2, timeout=TIMEOUT)
    asked.answer = False
    dialog.close()
    assert asked.titles == ["Stop the delivery?"] and dialog.isVisible()
    assert not dialog.task.is_cancel_requested()
    asked.answer = True
    dialog.close()
    qtbot.waitUntil(lambda: not shiboken6.isValid(dialog), timeout=TIMEOUT)
    assert [e["outcome"] for e in deliveries(store)] == ["cancelled"]
    assert len(server.imports) == 2


def test_plain_http_to_another_machine_with_a_secret_asks_and_refuses_when_declined(
    qtbot, store, server, asked
):
    dialog = dialog_for(qtbot, store)
    dialog.findChild(QLineEdit, "deliveryUrl").setText("http://192.0.2.10:3111")
    asked.answer = False
    dialog.start_plan()
    dialog.start_delivery()
    assert asked.titles == ["Send the secret unencrypted?"] * 2
    assert dialog.task is None and "Nothing was sent" in text_of(dialog, "deliveryPlan")
    assert Settings().delivery_url() == server.url  # not remembered: nothing started


# -- the entry points ------------------------------------------------------------------------
def test_the_result_pages_button_opens_the_dialog_scoped_to_that_import(qtbot, env, server, asked):
    wiz = open_wizard(env, SMALL)
    qtbot.addWidget(wiz)
    wiz.show()
    qtbot.waitUntil(lambda: wiz.session.inspection is not None, timeout=TIMEOUT)
    wiz.next()
    qtbot.waitUntil(wiz.validation_page.isComplete, timeout=TIMEOUT)
    wiz.next()
    qtbot.waitUntil(wiz.strategy_page.isComplete, timeout=TIMEOUT)
    with qtbot.waitSignal(wiz.session.importFinished, timeout=TIMEOUT):
        wiz.next()
    qtbot.waitUntil(lambda: wiz.currentId() == PageId.RESULT, timeout=TIMEOUT)
    assert wiz.button(QWizard.WizardButton.FinishButton).isVisible()
    audit_id = wiz.session.result.audit_id
    button = wiz.result_page.findChild(object, "sendToAgentmemoryButton")
    assert button.isVisible()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    [dialog] = delivery_windows()
    qtbot.waitUntil(lambda: dialog.probe_task is None, timeout=TIMEOUT)
    scope = dialog.findChild(QRadioButton, "scopeImport")
    assert scope.isChecked() and f"#{audit_id}" in scope.text()
    replace = dialog.findChild(QRadioButton, "deliverReplace")
    assert not replace.isEnabled()  # replace only for the whole store
    dialog.findChild(QRadioButton, "scopeStore").click()
    assert replace.isEnabled()
    dialog.findChild(QRadioButton, "scopeImport").click()
    press(qtbot, dialog, "deliverySendButton")
    assert dialog.result.ok and dialog.result.scope == f"import:{audit_id}"
    assert on_server(server) == store_records(env)


def test_the_file_pages_button_opens_it_for_the_whole_store(qtbot, store, server, asked):
    wiz = open_wizard(store)
    qtbot.addWidget(wiz)
    wiz.show()
    button = wiz.file_page.findChild(object, "sendStoreButton")
    assert button.isVisible()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    [dialog] = delivery_windows()
    qtbot.waitUntil(lambda: dialog.probe_task is None, timeout=TIMEOUT)
    assert dialog.findChild(QRadioButton, "scopeImport") is None
    assert dialog.findChild(QRadioButton, "scopeStore").isChecked()
    assert dialog.scope_id() is None
