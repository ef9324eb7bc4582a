"""The delivery window (docs/DELIVERY.md section 11): the store, or the records of one import,
sent into a running agentmemory.

One window, three steps on a stack (the views of ``wizard.ui.delivery_view``): the target and
the choices with the dry run's plan; the progress; the result. This module is the behaviour:
every request runs on a worker (``backend.deliver_job``, ``backend.probe_job``) and the window
never waits for one; it asks before a secret goes unencrypted to another machine and before a
replace; Cancel (or closing the window) stops after the request in flight, resumable.

The secret lives in the masked secret field only: never saved, logged or shown. The URL is
remembered in the settings when a delivery starts.

``open_delivery(db_path, audit_id=None)`` opens it (the pages' buttons and the tests use it).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlsplit

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QStackedWidget, QVBoxLayout, QWidget

from wizard.remote.client import BadURL, Client, Unreachable, normalized
from wizard.remote.secret import BadSecret, Secret, checked, find_secret
from wizard.runs.delivering import DeliverOptions, DeliveryProgress, DeliveryResult
from wizard.store.database import StoreError
from wizard.ui import backend
from wizard.ui.ask import Ask
from wizard.ui.audit_window import show_audit_history
from wizard.ui.delivery_view import (
    ResultView,
    SendingView,
    TargetView,
    counts_text,
    describe_plan,
    error_text,
    fmt_mb,
)
from wizard.ui.error_dialog import show_store_error, show_unexpected_error
from wizard.ui.formatting import fmt_int
from wizard.ui.rate import RateMeter
from wizard.ui.settings import Settings
from wizard.ui.worker import Task

WINDOW_TITLE = "Send to agentmemory — AgentMemory Migration Wizard"
HEARTBEAT_MS = 250  # the progress step updates its elapsed time 4 times a second
TYPED = "the secret field (typed in the window)"  # where a typed secret came from (audited)
URL_HINT = "an address like http://127.0.0.1:3111"

_open_windows: list[DeliveryDialog] = []  # strong references: an open window is never collected


def open_delivery(
    db_path: str | os.PathLike[str],
    audit_id: int | None = None,
    parent: QWidget | None = None,
    settings: Settings | None = None,
) -> DeliveryDialog:
    """Open (show) the delivery window for the store at ``db_path``, offering the records of
    import ``audit_id`` when one is given. The window deletes itself when closed."""
    dialog = DeliveryDialog(db_path, audit_id, settings=settings, parent=parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    _open_windows.append(dialog)
    dialog.destroyed.connect(
        lambda _=None, d=dialog: _open_windows.remove(d) if d in _open_windows else None
    )
    dialog.show()
    return dialog


def server_url(text: str) -> str:
    """``text`` as the server's base URL (``scheme://host:port``), without any user or password
    (never used, never remembered). Raises BadURL."""
    parts = urlsplit(normalized(text))
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


class DeliveryDialog(QWidget):
    """The delivery window (see the module doc). Signals for whoever watches it (tests):
    ``planFinished(result_or_error)``, ``deliveryFinished(result_or_error)``, and
    ``stopped()`` once the worker of a plan or a delivery has ended."""

    planFinished = Signal(object)
    deliveryFinished = Signal(object)
    stopped = Signal()

    def __init__(
        self,
        db_path: str | os.PathLike[str],
        audit_id: int | None = None,
        *,
        settings: Settings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("deliveryDialog")
        self.setWindowTitle(WINDOW_TITLE)
        self.setAccessibleName("Send to agentmemory")
        self.db_path = Path(db_path)
        self.settings = settings or Settings()
        self.store = backend.StoreHandle(self.db_path)
        self.found_error = ""  # why a secret found on this computer is not offered
        try:
            self.found = find_secret()
        except BadSecret as exc:  # a found secret that cannot travel: say so, offer none
            self.found, self.found_error = Secret(None, "nowhere"), str(exc)
        self.task: Task | None = None  # the plan or the delivery running
        self.delivering = False  # (that task is a delivery, not a plan)
        self.probe_task: Task | None = None
        self.plan: DeliveryResult | None = None
        self.result: DeliveryResult | None = None
        self.audit_windows: list[QWidget] = []
        self.rate = RateMeter()
        self._probed_url = ""
        self._allowed_http: set[str] = set()  # URLs the user let a secret go to in clear
        self._close_when_stopped = False
        self._closed = False
        self._started_at = time.monotonic()

        self.target = TargetView(self.settings.delivery_url(), self.found.value or "", audit_id)
        self.sending = SendingView()
        self.ending = ResultView()
        self.stack = QStackedWidget()
        self.stack.setObjectName("deliverySteps")
        for view in (self.target, self.sending, self.ending):
            self.stack.addWidget(view)
        QVBoxLayout(self).addWidget(self.stack)

        target = self.target
        target.url_edit.editingFinished.connect(self.probe)
        target.secret_edit.textEdited.connect(lambda _t: self._show_secret_source())
        target.choicesChanged.connect(self._choices_changed)
        target.plan_button.clicked.connect(self.start_plan)
        target.send_button.clicked.connect(self.start_delivery)
        target.close_button.clicked.connect(self.close)
        self.sending.cancel_button.clicked.connect(self.cancel)
        self.ending.audit_button.clicked.connect(self.open_audit_history)
        self.ending.back_button.clicked.connect(self._back)
        self.ending.again_button.clicked.connect(self.start_delivery)
        self.ending.close_button.clicked.connect(self.close)
        # Esc closes the window (during a delivery it asks to stop first, as closing does)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self).activated.connect(self.close)
        self.heartbeat = QTimer(self)
        self.heartbeat.setInterval(HEARTBEAT_MS)
        self.heartbeat.timeout.connect(self._beat)

        self.resize(760, 680)
        geometry = self.settings.geometry("delivery")
        if geometry is not None:
            self.restoreGeometry(geometry)
        self._show_secret_source()
        self._clear_plan()
        self.probe()

    # -- the choices -------------------------------------------------------------------------
    def scope_id(self) -> int | None:
        """The import whose records are sent, or None for the whole store."""
        return self.target.scope_id()

    def secret(self) -> Secret:
        """The secret of the field, and where it came from."""
        text = self.target.secret_edit.text().strip()
        if text and text == self.found.value:
            return self.found
        if text:
            return Secret(text, TYPED)
        return Secret(None, "nowhere (no secret: requests go without auth)")

    def options(self, dry_run: bool = False) -> DeliverOptions:
        return DeliverOptions(
            strategy=self.target.strategy(),
            audit_id=self.scope_id(),
            with_source=self.target.with_source.isChecked(),
            dry_run=dry_run,
        )

    def _choices_changed(self) -> None:
        if self.plan is not None:
            self._clear_plan("The choices changed: check the plan again.")

    def _show_secret_source(self) -> None:
        secret = self.secret()
        if secret.where == TYPED:
            text = "Typed here: used by this window only, never saved."
        elif secret:
            text = f"From {secret.where}. Masked, never saved."
        elif self.found_error:
            self.target.show_secret_source(
                f"Not used: {self.found_error}. Type the secret here.", False
            )
            return
        elif not self.found:
            text = (
                "No secret found (AGENTMEMORY_SECRET, ~/.agentmemory/.env, "
                "~/.agentmemory/secret): requests go without auth, which a server with no "
                "secret accepts."
            )
        else:
            text = "No secret: requests go without auth."
        self.target.show_secret_source(text)

    # -- probing the server ------------------------------------------------------------------
    def probe(self) -> None:
        """Say whether an agentmemory answers at the URL (its liveness check, no secret)."""
        if self._closed:  # (the URL field loses its focus as the window closes)
            return
        try:
            url = server_url(self.target.url_edit.text())
        except BadURL as exc:
            self.target.show_server(f"{exc}: {URL_HINT}", False)
            return
        if url == self._probed_url or self.probe_task is not None:
            return
        self._probed_url = url
        self.target.show_server(f"Looking for agentmemory at {url}…", None, quiet=True)
        task = Task(backend.probe_job(url), name="deliver-probe")
        task.finished.connect(lambda status, u=url: self._on_probed(u, status))
        task.failed.connect(lambda exc, u=url: self._on_probe_failed(u, exc))
        task.stopped.connect(self._probe_stopped)
        self.probe_task = task
        task.start()

    def _on_probed(self, url: str, status: int) -> None:
        if status < 400:
            self.target.show_server(f"✓ An agentmemory answers at {url}.", True)
        else:
            self.target.show_server(f"✗ {url} answered HTTP {status}: not an agentmemory?", False)

    def _on_probe_failed(self, url: str, exc: BaseException) -> None:
        if isinstance(exc, Unreachable):
            text = f"✗ Nothing answers at {url} ({exc}): is agentmemory running?"
        else:
            text = f"✗ {url}: {exc}"
        self.target.show_server(text, False)

    def _probe_stopped(self) -> None:
        self.probe_task = None
        try:
            url = server_url(self.target.url_edit.text())
        except BadURL:
            return
        if url != self._probed_url:  # edited while the probe ran
            self.probe()

    # -- before any request with the secret ----------------------------------------------------
    def _server(self) -> tuple[str, Secret] | None:
        """The URL and secret to use, once the user agreed to a secret over plain http to
        another machine; None when the URL is wrong or the user declined."""
        try:
            url = server_url(self.target.url_edit.text())
        except BadURL as exc:
            self.target.show_server(f"{exc}: {URL_HINT}", False)
            self.target.url_edit.setFocus()
            return None
        secret = self.secret()
        try:
            checked(secret.value, secret.where)
        except BadSecret:
            self.target.show_secret_source(
                "This secret holds a line break, a control character or a character an HTTP "
                "header cannot carry: check it (a stray character from copying?). Nothing was "
                "sent.",
                False,
            )
            self.target.secret_edit.setFocus()
            return None
        if Client(url, secret).insecure and url not in self._allowed_http:
            if not Ask.question(
                self,
                "Send the secret unencrypted?",
                f"{url} is another machine over plain http: the secret would travel "
                "unencrypted, readable by anyone on the way.",
                "Use an https:// address if the server has one. Send it anyway?",
                yes_text="Send &unencrypted",
            ):
                self._clear_plan(
                    "Nothing was sent: the secret would travel unencrypted to another machine. "
                    "Use https, or agree when asked."
                )
                return None
            self._allowed_http.add(url)
        return url, secret

    # -- the plan ------------------------------------------------------------------------------
    def _clear_plan(self, text: str = "") -> None:
        self.plan = None
        self.target.show_plan(
            text
            or "Check the plan to see what would be sent: the server is asked for its version "
            "and the secret is checked, but nothing is sent.",
            quiet=True,
        )

    def start_plan(self) -> None:
        """The dry run on a worker: reach the server, plan the requests, send nothing."""
        if self.task is not None:
            return
        server = self._server()
        if server is None:
            return
        url, secret = server
        self._clear_plan("Asking the server and planning…")
        job = backend.deliver_job(self.store, url, secret, self.options(dry_run=True))
        task = Task(job, name="deliver-plan")
        task.progress.connect(self._on_plan_progress)
        task.finished.connect(self._on_planned)
        task.failed.connect(self._on_plan_failed)
        self._start(task, delivering=False)

    def _on_plan_progress(self, item: DeliveryProgress) -> None:
        if item.chunk:
            self.target.show_plan(
                f"Planning: {fmt_int(item.chunk)} requests so far, {fmt_mb(item.bytes_total)}…",
                quiet=True,
            )

    def _on_planned(self, result: DeliveryResult) -> None:
        if result.ok:
            self.target.show_plan(describe_plan(result, self.target.what(), bool(self.secret())))
            self.plan = result
        else:
            self.target.show_plan(f"✗ {error_text(result)}", False)
        self.planFinished.emit(result)

    def _on_plan_failed(self, exc: BaseException) -> None:
        self.target.show_plan(f"✗ The plan could not be made: {exc}", False)
        self._report(exc)
        self.planFinished.emit(exc)

    # -- the delivery --------------------------------------------------------------------------
    def start_delivery(self) -> None:
        """Send (or resume) on a worker, after the questions: a secret in clear to another
        machine, and a replace (which empties the server first)."""
        if self.task is not None:
            return
        server = self._server()
        if server is None:
            return
        url, secret = server
        options = self.options()
        if options.strategy.deletes_all and not self._confirm_replace(url):
            return
        self.settings.set_delivery_url(url)
        self.settings.sync()
        self.result = None
        self.rate = RateMeter()
        what = f"{self.target.what()} · {options.strategy.label}" + (
            " · with the source copies" if options.with_source else ""
        )
        self.sending.start(url, what[:1].upper() + what[1:])
        self.stack.setCurrentWidget(self.sending)
        self._started_at = time.monotonic()
        self._beat()
        self.heartbeat.start()
        task = Task(backend.deliver_job(self.store, url, secret, options), name="deliver")
        task.progress.connect(self._on_progress)
        task.finished.connect(self._on_delivered)
        task.failed.connect(self._on_delivery_failed)
        self._start(task, delivering=True)

    def _confirm_replace(self, url: str) -> bool:
        plan = self.plan
        wiped = ""
        if plan is not None and plan.strategy.deletes_all and any(plan.would_wipe.values()):
            wiped = f"The server holds {counts_text(plan.would_wipe)} now, among others. "
        return Ask.question(
            self,
            "Replace everything on the server?",
            f"Replace first deletes everything the agentmemory at {url} holds: every "
            "collection, sent or not. Then it sends the whole store.",
            wiped + "This cannot be undone from the wizard.",
            yes_text="&Replace everything",
        )

    def _start(self, task: Task, *, delivering: bool) -> None:
        self.task = task
        self.delivering = delivering
        task.stopped.connect(lambda t=task: self._on_stopped(t))
        self.target.update_choices(busy=True)
        task.start()

    def cancel(self) -> None:
        """Stop the delivery after the request in flight (it can be resumed)."""
        if self.task is None or not self.delivering:
            return
        self.task.cancel()
        self.sending.show_stopping()

    def _on_progress(self, item: DeliveryProgress) -> None:
        if self.task is not None and not self.task.is_cancel_requested():
            self.sending.show_progress(item, self.rate)

    def _on_delivered(self, result: DeliveryResult) -> None:
        self.result = result
        self.heartbeat.stop()
        self.ending.show_result(result, self.target.what())
        self.stack.setCurrentWidget(self.ending)
        (self.ending.back_button if result.ok else self.ending.again_button).setFocus()
        self.deliveryFinished.emit(result)

    def _on_delivery_failed(self, exc: BaseException) -> None:
        self.heartbeat.stop()
        self.stack.setCurrentWidget(self.target)
        self.target.show_plan(f"✗ The delivery could not run: {exc}", False)
        self._report(exc)
        self.deliveryFinished.emit(exc)

    def _on_stopped(self, task: Task) -> None:
        if task is self.task:
            self.task = None
            self.delivering = False
            self.target.update_choices(busy=False)
        self.stopped.emit()
        if self._close_when_stopped and self.task is None:
            self._close_when_stopped = False
            self.close()

    def _report(self, exc: BaseException) -> None:
        if isinstance(exc, StoreError):
            show_store_error(self, exc, self.db_path)
        elif not isinstance(exc, (BadURL, Unreachable)):
            show_unexpected_error(exc, self)

    def _beat(self) -> None:
        self.sending.show_elapsed(time.monotonic() - self._started_at)

    # -- after it ------------------------------------------------------------------------------
    def _back(self) -> None:
        self.stack.setCurrentWidget(self.target)
        self.target.send_button.setFocus()

    def open_audit_history(self) -> QWidget:
        """The audit history, with this delivery's entry selected."""
        result = self.result
        window = show_audit_history(
            self.db_path,
            self.settings,
            self.audit_windows,
            result.audit_id if result is not None else None,
        )
        return window

    # -- closing -------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        """During a delivery: ask, then stop after the request in flight and close once the
        worker has ended. A plan or a probe still running is left to finish unheard."""
        if self.task is not None and self.delivering:
            event.ignore()
            if not self._close_when_stopped and Ask.question(
                self,
                "Stop the delivery?",
                "The delivery stops after the request being sent; what arrived stays on the "
                "server.",
                "Sending again later resumes it: requests already acknowledged are not sent twice.",
                yes_text="&Stop and close",
            ):
                self._close_when_stopped = True
                self.cancel()
            return
        for task in (self.task, self.probe_task):
            if task is not None:
                task.blockSignals(True)  # it ends by itself; nobody is left to tell
        self.task = self.probe_task = None
        self._closed = True
        self.heartbeat.stop()
        self.settings.set_geometry("delivery", self.saveGeometry())
        self.settings.sync()
        super().closeEvent(event)
