"""The delivery window's three steps as widgets, and the texts they show (docs/DELIVERY.md
section 11): the target and choices with the plan, the progress, the result.

Views only: they show what they are given and hold the inputs. Running plans and deliveries,
asking questions and remembering the URL is ``wizard.ui.delivery_dialog``'s. Everything a
server or the store says is shown as plain text.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from wizard.core.names import ErrorKind, Outcome, Phase, Strategy
from wizard.runs.delivering import DeliveryProgress, DeliveryResult
from wizard.ui.formatting import fmt_duration, fmt_eta, fmt_int
from wizard.ui.labels import OUTCOME_LABELS, OUTCOME_MARKS, collection_label
from wizard.ui.plain_text import heading_label, plain_label
from wizard.ui.rate import RateMeter
from wizard.ui.status import clear_status, muted, set_status
from wizard.ui.tables import fit_table_height, make_table, table_item

MAX_KEYS = 10  # keys listed per collection (missing, too big); the rest are counted

# What each strategy does on the server (Strategy.help speaks of the wizard's own store).
DELIVERY_HELP: dict[Strategy, str] = {
    Strategy.MERGE: "Add the records and overwrite the server's records that have the same key.",
    Strategy.SKIP: "Add only the records whose key the server does not hold yet; change nothing "
    "else.",
    Strategy.REPLACE: "Delete everything the server holds (every collection, sent or not), then "
    "send the whole store.",
}
STRATEGY_NAMES = {
    Strategy.MERGE: "deliverMerge",
    Strategy.SKIP: "deliverSkip",
    Strategy.REPLACE: "deliverReplace",
}
ADVICE: dict[ErrorKind, str] = {
    ErrorKind.UNREACHABLE: "Start agentmemory, or correct the URL: the server's REST address "
    "(port 3111 unless III_REST_PORT says otherwise).",
    ErrorKind.UNAUTHORIZED: "The secret is the AGENTMEMORY_SECRET the server was started with "
    "(agentmemory 0.9.30 keeps it in ~/.agentmemory/secret): type it in the Secret field.",
    ErrorKind.SERVER_REFUSED: "Nothing after that request was sent. Fix what the server names, "
    "then send again.",
    ErrorKind.INCOMPLETE: "Sending again (merge) sends the missing records again; records too "
    "big for any request cannot be delivered.",
}
RESUME = (
    "What was acknowledged stays on the server. Resume sends the rest: requests already "
    "acknowledged are not sent twice, as long as the store does not change in between."
)


# -- texts ----------------------------------------------------------------------------------------
def fmt_mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def requests(n: int) -> str:
    """'1 request', '12 requests'."""
    return f"{fmt_int(n)} request" + ("" if n == 1 else "s")


def counts_text(counts: dict[str, int]) -> str:
    """'10 sessions · 500 observations · …' (every collection, zeros left out)."""
    parts = [f"{fmt_int(n)} {collection_label(name).lower()}" for name, n in counts.items() if n]
    return " · ".join(parts) or "nothing"


def listed(keys: list[str]) -> str:
    shown = ", ".join(keys[:MAX_KEYS])
    more = len(keys) - MAX_KEYS
    return shown + (f" and {fmt_int(more)} more" if more > 0 else "")


def error_text(result: DeliveryResult) -> str:
    """Why a run stopped, then what to do about it."""
    text = result.error or OUTCOME_LABELS[result.outcome]
    advice = ADVICE.get(result.error_code) if result.error_code is not None else None
    return f"{text}\n{advice}" if advice else text


def declared_text(result: DeliveryResult) -> str:
    if result.declared_version and result.declared_version == result.server_version:
        return f"{result.declared_version} (the server's own)"
    if result.server_version is None:
        return f"{result.declared_version} (the newest the wizard knows: the server did not say)"
    return (
        f"{result.declared_version} (the nearest the wizard knows to the server's "
        f"{result.server_version})"
    )


def describe_plan(plan: DeliveryResult, what: str, secret_sent: bool) -> str:
    """What a dry run found, for people."""
    secret = "the secret is accepted" if secret_sent else "no secret was sent and none is needed"
    server = plan.server_version or "of an unknown version"
    lines = [
        f"✓ agentmemory {server} answers at {plan.url}; {secret}.",
        f"The records will declare version {declared_text(plan)}.",
    ]
    if plan.chunks == 0:
        lines.append(f"There is nothing to send: {what} holds no records.")
    else:
        lines.append(
            f"Would send {what} ({plan.strategy.label}) in {requests(plan.chunks)}, "
            f"{fmt_mb(plan.bytes)}:"
        )
        lines.append("    " + counts_text(plan.sent))
    if plan.strategy.deletes_all:
        wiped = counts_text(plan.would_wipe) if any(plan.would_wipe.values()) else ""
        lines.append(
            "Replace first deletes everything the server holds"
            + (f" (now {wiped}, and all its other collections)." if wiped else ".")
        )
    if plan.too_big:
        lines.append(
            f"{fmt_int(len(plan.too_big))} record(s) too big for any request would be left out: "
            + listed(plan.too_big)
        )
    lines.append("Nothing was sent.")
    return "\n".join(lines)


def details_text(result: DeliveryResult) -> str:
    """Missing keys, collections that could not be checked, records too big to send, the
    refused request's keys."""
    lines: list[str] = []
    for name, n in result.missing_counts.items():
        keys = result.missing.get(name, [])
        shown = f": {listed(keys)}" if keys else ""
        lines.append(
            f"Missing on the server, {collection_label(name).lower()} ({fmt_int(n)}){shown}"
        )
    unverified = [n for n in result.unverified if n != "all"]
    if unverified:
        lines.append(
            "Could not be read back to check: "
            + ", ".join(collection_label(n).lower() for n in unverified)
        )
    if result.too_big:
        lines.append(
            f"Too big for any request, not sent ({fmt_int(len(result.too_big))}): "
            + listed(result.too_big)
        )
    if result.refused_keys:
        lines.append(
            "The refused request held: "
            + "; ".join(
                f"{collection_label(n).lower()} {listed(keys)}"
                for n, keys in result.refused_keys.items()
            )
        )
    return "\n".join(lines)


def outcome_text(result: DeliveryResult, what: str) -> tuple[str, bool | None, str]:
    """The result's headline, its status (pass, warning, fail) and its explanation."""
    mark = OUTCOME_MARKS.get(result.outcome, "")
    code = result.error_code
    lines: list[str] = []
    ok: bool | None
    if result.outcome == Outcome.SUCCEEDED:
        headline, ok = f"{mark} Delivered and verified", True
        lines.append(
            f"{fmt_int(sum(result.sent.values()))} records of {what} reached the server; every "
            "one was read back from it."
        )
    elif result.outcome == Outcome.CANCELLED:
        headline, ok = f"{mark} Delivery stopped — it can be resumed", None
        lines.append(RESUME)
    elif code == ErrorKind.INCOMPLETE:
        headline, ok = f"{mark} Delivered, but not complete", False
        lines.append(error_text(result))
    elif result.resumable:
        headline, ok = f"{mark} The server stopped answering — it can be resumed", False
        lines.append(error_text(result))
        lines.append(RESUME)
    else:
        headline, ok = f"{mark} The delivery failed", False
        lines.append(error_text(result))
    if result.restarted:
        lines.append(result.restarted)
    if result.resumed:
        lines.append(
            f"Resumed delivery #{result.delivery_id}: {requests(result.already)} acknowledged "
            "earlier were not sent again."
        )
    return headline, ok, "\n".join(line for line in lines if line)


def rate_text(meter: RateMeter) -> str:
    """'1.25 MB per second · about 3 s left' of a meter fed with bytes."""
    rate = meter.rate()
    if rate is None or rate <= 0:
        return fmt_eta(None)
    return f"{rate / 1024 / 1024:.2f} MB per second · {fmt_eta(meter.eta())}"


def _button(text: str, name: str, tooltip: str = "") -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    if tooltip:
        button.setToolTip(tooltip)
    return button


# -- step 1: the target and the choices, the plan ------------------------------------------------
class TargetView(QWidget):
    """The server (URL, secret), what to send, the strategy, the plan, and the buttons.
    ``choicesChanged`` when the user changes any choice (a plan shown is then out of date)."""

    choicesChanged = Signal()

    def __init__(self, url: str, secret: str, audit_id: int | None) -> None:
        super().__init__()
        self.setObjectName("deliveryTargetPage")
        self.audit_id = audit_id
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(heading_label("Send to a running agentmemory", scale=1.25))
        layout.addWidget(
            muted(
                plain_label(
                    "The records go through agentmemory's REST import in requests under its "
                    "size limit; afterwards they are read back and checked. Every delivery is "
                    "recorded in the audit history."
                )
            )
        )
        layout.addWidget(self._server_box(url, secret))
        layout.addWidget(self._scope_box())
        layout.addWidget(self._strategy_box())
        plan = QGroupBox("Plan")
        plan_layout = QVBoxLayout(plan)
        self.plan_label = plain_label("", object_name="deliveryPlan", selectable=True)
        self.plan_label.setAccessibleName("Plan")
        plan_layout.addWidget(self.plan_label)
        layout.addWidget(plan)
        layout.addStretch(1)
        row = QHBoxLayout()
        self.plan_button = _button(
            "Check the &plan",
            "deliveryPlanButton",
            "Ask the server and plan the requests: nothing is sent",
        )
        self.send_button = _button("Sen&d", "deliverySendButton", "Send the records now")
        self.close_button = _button("Close", "deliveryCloseButton")
        row.addWidget(self.plan_button)
        row.addStretch(1)
        row.addWidget(self.send_button)
        row.addWidget(self.close_button)
        layout.addLayout(row)
        for button in (*self.radios.values(), *self.scope_group.buttons(), self.with_source):
            button.toggled.connect(lambda _on: self._changed())
        self.url_edit.textEdited.connect(lambda _t: self.choicesChanged.emit())
        self.secret_edit.textEdited.connect(lambda _t: self.choicesChanged.emit())
        self.busy = False
        self.update_choices(busy=False)

    def _server_box(self, url: str, secret: str) -> QGroupBox:
        box = QGroupBox("Server")
        grid = QGridLayout(box)
        grid.setColumnStretch(1, 1)
        grid.setVerticalSpacing(4)
        self.url_edit = QLineEdit(url)
        self.url_edit.setObjectName("deliveryUrl")
        self.url_edit.setAccessibleName("Server URL")
        self.url_edit.setPlaceholderText("http://127.0.0.1:3111")
        self.url_edit.setClearButtonEnabled(True)
        url_label = QLabel("&URL:")
        url_label.setBuddy(self.url_edit)
        self.server_status = plain_label("", object_name="serverStatus", selectable=True)
        self.server_status.setAccessibleName("Server status")
        self.secret_edit = QLineEdit(secret)
        self.secret_edit.setObjectName("deliverySecret")
        self.secret_edit.setAccessibleName("Secret")
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret_edit.setPlaceholderText("none: requests go without auth")
        secret_label = QLabel("S&ecret:")
        secret_label.setBuddy(self.secret_edit)
        self.secret_source = muted(plain_label("", object_name="secretSource", selectable=True))
        self.secret_source.setAccessibleName("Where the secret comes from")
        grid.addWidget(url_label, 0, 0)
        grid.addWidget(self.url_edit, 0, 1)
        grid.addWidget(self.server_status, 1, 1)
        grid.setRowMinimumHeight(2, 6)
        grid.addWidget(secret_label, 3, 0)
        grid.addWidget(self.secret_edit, 3, 1)
        grid.addWidget(self.secret_source, 4, 1)
        return box

    def _scope_box(self) -> QGroupBox:
        box = QGroupBox("What to send")
        layout = QVBoxLayout(box)
        self.scope_group = QButtonGroup(self)
        self.scope_import: QRadioButton | None = None
        if self.audit_id is not None:
            self.scope_import = QRadioButton(f"Only this &import (#{self.audit_id})")
            self.scope_import.setObjectName("scopeImport")
            self.scope_import.setAccessibleName(f"Only import {self.audit_id}")
            self.scope_import.setToolTip(
                "The records whose current version this import wrote (merge or skip only)"
            )
            self.scope_group.addButton(self.scope_import)
            layout.addWidget(self.scope_import)
        self.scope_store = QRadioButton("The &whole store")
        self.scope_store.setObjectName("scopeStore")
        self.scope_store.setAccessibleName("The whole store")
        self.scope_group.addButton(self.scope_store)
        layout.addWidget(self.scope_store)
        (self.scope_import or self.scope_store).setChecked(True)
        self.with_source = QCheckBox("Send the wizard's verbatim s&ource copies too")
        self.with_source.setObjectName("withSource")
        self.with_source.setAccessibleName("Send the verbatim source copies too")
        self.with_source.setToolTip(
            "Converted records (mem0, Letta) keep a copy of their source record in the wizard's "
            "store; it stays home unless this is checked"
        )
        layout.addWidget(self.with_source)
        return box

    def _strategy_box(self) -> QGroupBox:
        box = QGroupBox("Strategy on the server")
        grid = QGridLayout(box)
        grid.setColumnStretch(1, 1)
        grid.setHorizontalSpacing(16)
        self.strategy_group = QButtonGroup(self)
        self.radios: dict[Strategy, QRadioButton] = {}
        for line, name in enumerate((Strategy.MERGE, Strategy.SKIP, Strategy.REPLACE)):
            radio = QRadioButton(name.mnemonic)
            radio.setObjectName(STRATEGY_NAMES[name])
            radio.setAccessibleName(name.label)
            radio.setAccessibleDescription(DELIVERY_HELP[name])
            self.strategy_group.addButton(radio)
            self.radios[name] = radio
            grid.addWidget(radio, line, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(muted(plain_label(DELIVERY_HELP[name])), line, 1)
        self.radios[Strategy.MERGE].setChecked(True)
        return box

    # -- the choices -------------------------------------------------------------------------
    def strategy(self) -> Strategy:
        return next((s for s, r in self.radios.items() if r.isChecked()), Strategy.MERGE)

    def scope_id(self) -> int | None:
        """The import whose records are sent, or None for the whole store."""
        if self.scope_import is not None and self.scope_import.isChecked():
            return self.audit_id
        return None

    def what(self) -> str:
        audit_id = self.scope_id()
        return "the whole store" if audit_id is None else f"the records of import #{audit_id}"

    def _changed(self) -> None:
        self.update_choices(self.busy)
        self.choicesChanged.emit()

    def update_choices(self, busy: bool) -> None:
        """Inputs off while a plan or a delivery runs; replace only for the whole store (it
        empties the server first)."""
        self.busy = busy
        for widget in (
            self.url_edit,
            self.secret_edit,
            self.with_source,
            self.plan_button,
            self.send_button,
            *self.scope_group.buttons(),
            *self.radios.values(),
        ):
            widget.setEnabled(not busy)
        partial = self.scope_id() is not None
        replace = self.radios[Strategy.REPLACE]
        if partial and replace.isChecked():
            self.radios[Strategy.MERGE].setChecked(True)
        replace.setEnabled(not partial and not busy)
        replace.setToolTip(
            "Only for the whole store: replace empties the server first"
            if partial
            else DELIVERY_HELP[Strategy.REPLACE]
        )

    # -- what it says ------------------------------------------------------------------------
    def show_secret_source(self, text: str, ok: bool | None = None) -> None:
        """Where the secret comes from (muted), or why it cannot be used (``ok`` False)."""
        clear_status(self.secret_source)
        if ok is None:
            muted(self.secret_source)
        else:
            set_status(self.secret_source, ok)
        self.secret_source.setText(text)

    def show_server(self, text: str, ok: bool | None, *, quiet: bool = False) -> None:
        """The server's status: passed, failed, a warning (None), or ``quiet`` (muted)."""
        clear_status(self.server_status)
        if quiet:
            muted(self.server_status)
        else:
            set_status(self.server_status, ok)
        self.server_status.setText(text)

    def show_plan(self, text: str, ok: bool | None = None, *, quiet: bool = False) -> None:
        """The plan, an error (``ok`` False) or a hint (``quiet``)."""
        clear_status(self.plan_label)
        if quiet:
            muted(self.plan_label)
        elif ok is False:
            set_status(self.plan_label, False)
        self.plan_label.setText(text)


# -- step 2: the progress -------------------------------------------------------------------------
class SendingView(QWidget):
    """The delivery running: step, progress bar (bytes), rate, time left, elapsed, Cancel."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("deliverySendingPage")
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        self.headline = heading_label("Sending…", scale=1.25)
        self.headline.setObjectName("deliveryHeadline")
        layout.addWidget(self.headline)
        self.what = plain_label("", object_name="deliveryWhat", selectable=True)
        layout.addWidget(self.what)
        layout.addSpacing(8)
        self.step = plain_label("Starting…", object_name="deliveryStep")
        self.step.setAccessibleName("Current step")
        layout.addWidget(self.step)
        self.bar = QProgressBar()
        self.bar.setObjectName("deliveryProgress")
        self.bar.setAccessibleName("Delivery progress")
        self.bar.setRange(0, 0)
        self.bar.setMinimumHeight(26)
        layout.addWidget(self.bar)
        self.rate = muted(plain_label("", object_name="deliveryRate"))
        self.rate.setAccessibleName("Speed and time left")
        layout.addWidget(self.rate)
        self.elapsed = muted(plain_label("", object_name="deliveryElapsed"))
        self.elapsed.setAccessibleName("Time elapsed")
        layout.addWidget(self.elapsed)
        layout.addSpacing(12)
        layout.addWidget(
            muted(
                plain_label(
                    "Cancel stops after the request being sent. What arrived stays on the "
                    "server, and sending again resumes the delivery: requests already "
                    "acknowledged are not sent twice."
                )
            )
        )
        layout.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        self.cancel_button = _button(
            "Cancel",
            "deliveryCancelButton",
            "Stop after the request being sent (the delivery can be resumed)",
        )
        row.addWidget(self.cancel_button)
        layout.addLayout(row)

    def start(self, url: str, what: str) -> None:
        self.headline.setText(f"Sending to {url}…")
        self.what.setText(what)
        self.step.setText(f"Connecting to {url}…")
        self.rate.setText("")
        self.bar.setRange(0, 0)
        self.cancel_button.setEnabled(True)

    def show_elapsed(self, seconds: float) -> None:
        self.elapsed.setText(f"Elapsed {fmt_duration(seconds)}")

    def show_stopping(self) -> None:
        self.cancel_button.setEnabled(False)
        self.headline.setText("Stopping…")
        self.step.setText("Stopping after the request being sent: what arrived stays there.")
        self.rate.setText("")

    def show_progress(self, item: DeliveryProgress, rate: RateMeter) -> None:
        phase = item.phase
        if phase == Phase.CONNECT:
            self.bar.setRange(0, 0)
            self.step.setText("Connecting: checking the server's version and the secret…")
        elif phase == Phase.WIPE:
            self.bar.setRange(0, 0)
            self.step.setText("Emptying the server (replace, one request)…")
        elif phase == Phase.SEND:
            total = max(item.bytes_total, item.bytes_sent, 1)
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * item.bytes_sent / total))
            if item.chunk:
                self.step.setText(
                    f"Request {fmt_int(item.chunk)} of about {fmt_int(item.chunks)} · "
                    f"{fmt_mb(item.bytes_sent)} of {fmt_mb(total)} · "
                    f"{fmt_int(item.records_sent)} records"
                )
            else:
                self.step.setText(f"Sending about {requests(item.chunks)}, {fmt_mb(total)}…")
            rate.add(item.bytes_sent, total)
            self.rate.setText(rate_text(rate))
        elif phase == Phase.VERIFY:
            self.bar.setRange(0, 0)
            self.step.setText("Reading back what arrived, to check it…")
            self.rate.setText("")
        elif phase == Phase.DONE:
            self.bar.setRange(0, 1000)
            self.bar.setValue(1000)


# -- step 3: the result ---------------------------------------------------------------------------
class ResultView(QWidget):
    """How the delivery ended: the outcome, the facts, per collection sent, read back and
    missing, the missing and too-big keys, the audit entry; Back, Resume/Send again, Close."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("deliveryResultPage")
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        self.headline = heading_label("", scale=1.25)
        self.headline.setObjectName("deliveryResult")
        self.headline.setAccessibleName("Outcome")
        layout.addWidget(self.headline)
        self.text = plain_label("", object_name="deliveryResultText", selectable=True)
        layout.addWidget(self.text)
        form = QFormLayout()
        self.server = plain_label(object_name="deliveryServer", selectable=True)
        self.what = plain_label(object_name="deliveryScope")
        self.declared = plain_label(object_name="deliveryDeclared")
        self.requests = plain_label(object_name="deliveryRequests")
        self.audit_id = plain_label(object_name="deliveryAuditId", selectable=True)
        form.addRow("Server:", self.server)
        form.addRow("Sent:", self.what)
        form.addRow("Declared version:", self.declared)
        form.addRow("Requests:", self.requests)
        form.addRow("Audit entry:", self.audit_id)
        layout.addLayout(form)
        self.table_heading = heading_label("Per collection")
        layout.addWidget(self.table_heading)
        self.table = make_table(
            ["Collection", "Sent", "Read back", "Missing"],
            "deliveryResultTable",
            "Records sent, read back and missing per collection",
        )
        layout.addWidget(self.table)
        self.stats = muted(plain_label("", object_name="deliveryServerStats", selectable=True))
        layout.addWidget(self.stats)
        self.details = plain_label("", object_name="deliveryDetails", selectable=True)
        layout.addWidget(self.details)
        layout.addStretch(1)
        row = QHBoxLayout()
        self.audit_button = _button("Open the &audit history", "deliveryAuditButton")
        self.back_button = _button(
            "&Back", "deliveryBackButton", "Back to the server and the choices"
        )
        self.again_button = _button("&Resume", "deliveryAgainButton")
        self.close_button = _button("Close", "deliveryDoneButton")
        row.addWidget(self.audit_button)
        row.addStretch(1)
        row.addWidget(self.back_button)
        row.addWidget(self.again_button)
        row.addWidget(self.close_button)
        layout.addLayout(row)

    def show_result(self, result: DeliveryResult, what: str) -> None:
        headline, ok, text = outcome_text(result, what)
        self.headline.setText(headline)
        set_status(self.headline, ok)
        self.text.setText(text)
        version = result.server_version or "unknown version"
        self.server.setText(f"agentmemory {version} at {result.url}")
        self.what.setText(f"{what[:1].upper()}{what[1:]} · {result.strategy.label}")
        self.declared.setText(declared_text(result) if result.declared_version else "—")
        delivery = f" · delivery #{result.delivery_id}" if result.delivery_id is not None else ""
        took = f" in {fmt_duration(result.duration_ms / 1000)}" if result.duration_ms else ""
        self.requests.setText(f"{requests(result.chunks)}, {fmt_mb(result.bytes)}{took}{delivery}")
        self.audit_id.setText(
            f"#{result.audit_id} (this attempt, in the audit history)"
            if result.audit_id is not None
            else "not recorded"
        )
        self._fill_table(result)
        stats = {k: v for k, v in result.server_stats.items() if k != "skipped"}
        skipped = result.server_stats.get("skipped", 0)
        self.stats.setText(
            f"agentmemory's own count of what it wrote: {counts_text(stats)}"
            + (f" · {fmt_int(skipped)} skipped" if skipped else "")
            if stats
            else ""
        )
        self.stats.setVisible(bool(stats))
        details = details_text(result)
        self.details.setText(details)
        self.details.setVisible(bool(details))
        self.audit_button.setEnabled(result.audit_id is not None)
        self.again_button.setText("&Resume" if result.resumable else "Send &again")
        self.again_button.setVisible(not result.ok)

    def _fill_table(self, result: DeliveryResult) -> None:
        table = self.table
        checked = result.outcome == Outcome.SUCCEEDED or result.error_code == ErrorKind.INCOMPLETE
        rows = [(name, n) for name, n in result.sent.items() if n]
        table.setRowCount(len(rows))
        for r, (name, sent) in enumerate(rows):
            missing = result.missing_counts.get(name, 0)
            unread = name in result.unverified or "all" in result.unverified
            table.setItem(r, 0, table_item(collection_label(name)))
            table.setItem(r, 1, table_item(sent, number=True))
            if not checked:
                table.setItem(r, 2, table_item("not checked"))
                table.setItem(r, 3, table_item("—"))
            elif unread:
                table.setItem(r, 2, table_item("could not be read back"))
                table.setItem(r, 3, table_item("?"))
            else:
                table.setItem(r, 2, table_item(max(0, sent - missing), number=True))
                table.setItem(r, 3, table_item(missing, number=True))
        table.setVisible(bool(rows))
        self.table_heading.setVisible(bool(rows))
        if rows:
            fit_table_height(table, max_rows=12)
