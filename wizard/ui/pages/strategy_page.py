"""Page 3: the strategy (merge, replace, skip) and its dry-run plan, computed on a worker.
Replace asks for confirmation, saying how many existing records it deletes; it is never
preselected (the page starts on the last merge or skip)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QProgressBar,
    QRadioButton,
    QVBoxLayout,
    QWizardPage,
)

from wizard.core.names import Strategy
from wizard.ui.ask import Ask
from wizard.ui.formatting import fmt_int, plural
from wizard.ui.labels import STRATEGY_OBJECT_NAMES, count_of, phase_text
from wizard.ui.plain_text import heading_label, plain_label
from wizard.ui.results import PLAN_COLUMNS, collection_rows, plan_totals
from wizard.ui.session import MigrationSession
from wizard.ui.status import muted, set_status
from wizard.ui.tables import fill_count_table, fit_table_height, make_count_table


class StrategyPage(QWizardPage):
    def __init__(self, session: MigrationSession) -> None:
        super().__init__()
        self.setObjectName("strategyPage")
        self.session = session
        self.setTitle("Strategy")
        self.setSubTitle(
            "How the file's records meet what is already in the store. The table "
            "is a dry run: it shows what Import will do."
        )
        self.setCommitPage(True)
        layout = QVBoxLayout(self)
        layout.setSpacing(6)

        self.group = QButtonGroup(self)
        self.radios: dict[Strategy, QRadioButton] = {}
        for strategy in Strategy:
            radio = QRadioButton(strategy.mnemonic)
            radio.setObjectName(STRATEGY_OBJECT_NAMES[strategy])
            radio.setAccessibleName(strategy.label)
            text = strategy.help
            radio.setAccessibleDescription(text)
            radio.setToolTip(text)
            desc = muted(plain_label(text))
            desc.setContentsMargins(26, 0, 0, 8)
            self.group.addButton(radio)
            self.radios[strategy] = radio
            layout.addWidget(radio)
            layout.addWidget(desc)
            radio.toggled.connect(lambda on, s=strategy: self._strategy_toggled(on, s))

        self.plan_heading = heading_label("Dry run: what Import would do")
        layout.addWidget(self.plan_heading)
        self.plan_status = plain_label("", object_name="planStatus")
        layout.addWidget(self.plan_status)
        self.plan_progress = QProgressBar()
        self.plan_progress.setObjectName("planProgress")
        self.plan_progress.setAccessibleName("Dry run progress")
        self.plan_progress.setVisible(False)
        layout.addWidget(self.plan_progress)
        self.earlier_note = plain_label("", object_name="earlierImportsNote", selectable=True)
        self.earlier_note.setVisible(False)
        layout.addWidget(self.earlier_note)
        self.plan_table = make_count_table(
            PLAN_COLUMNS, "planTable", "Dry-run plan", warning=("deleted",)
        )
        layout.addWidget(self.plan_table)
        layout.addStretch(1)

        session.planStarted.connect(self._on_plan_started)
        session.planProgress.connect(self._on_plan_progress)
        session.planFinished.connect(self._on_plan_finished)

    # -- QWizardPage -----------------------------------------------------------------------------
    def initializePage(self) -> None:
        strategy = self.session.strategy
        if strategy.deletes_all:  # Replace is chosen each time, never preselected
            strategy = self.session.settings.last_strategy()
        # Several files at once: each replace would delete what the one before brought
        batch = bool(self.session.queue)
        for s, radio in self.radios.items():
            if s.deletes_all:
                radio.setEnabled(not batch)
                radio.setToolTip(
                    "Not offered for several files at once: each file's replace would delete "
                    "what the others brought. Import them one by one to replace."
                    if batch
                    else s.help
                )
        radio = self.radios[strategy]
        if radio.isChecked():
            self._strategy_chosen(strategy)
        else:
            radio.setChecked(True)  # toggled → _strategy_chosen
        radio.setFocus()

    def cleanupPage(self) -> None:
        self.session.cancel_plan()

    def isComplete(self) -> bool:
        return (
            self.session.strategy in self.session.plans
            and not self.session.is_planning()
            and self.session.inspection is not None
            and self.session.inspection.ok
        )

    def validatePage(self) -> bool:
        if not self.session.strategy.deletes_all:
            return True
        plan = self.session.plans.get(self.session.strategy)
        deleted = plan_totals(plan)["deleted"] if plan is not None else 0
        collections = plan.collections if plan is not None else {}
        rows = [(name, c["deleted"]) for name, c in collection_rows(collections) if c["deleted"]]
        detail = "\n".join(f"  {count_of(n, d)}" for n, d in rows)
        text = (
            f"Replace deletes the {plural(deleted, 'record')} of "
            "the store that this file does not hold, and makes every other one as the file "
            "has it."
            if deleted
            else "Replace deletes nothing here: the store holds no record this file lacks."
        )
        info = (f"{detail}\n\n" if detail else "") + (
            "The audit history is kept, and the import can be reverted from it. Continue?"
        )
        return Ask.question(self, "Replace the store?", text, info, yes_text="&Replace")

    # -- view ------------------------------------------------------------------------------------
    def _strategy_toggled(self, on: bool, strategy: Strategy) -> None:
        if on:
            self._strategy_chosen(strategy)

    def _strategy_chosen(self, strategy: Strategy) -> None:
        self.session.set_strategy(strategy)
        self._show_plan()

    def _on_plan_started(self, strategy: Strategy) -> None:
        self._show_plan()

    def _on_plan_progress(self, item: object) -> None:
        _label, done, total = phase_text(item)
        self.plan_progress.setVisible(True)
        if total > 0:
            self.plan_progress.setRange(0, 1000)
            self.plan_progress.setValue(int(1000 * min(done, total) / total))
        else:
            self.plan_progress.setRange(0, 0)

    def _on_plan_finished(self, strategy: Strategy) -> None:
        self._show_plan()

    def _show_plan(self) -> None:
        session = self.session
        strategy = session.strategy
        plan = session.plans.get(strategy)
        self.plan_progress.setVisible(session.is_planning())
        table = self.plan_table
        if plan is None:
            table.setRowCount(0)
            fit_table_height(table)
            if session.is_planning():
                self.plan_progress.setRange(0, 0)
                self.plan_status.setPalette(self.palette())
                self.plan_status.setText(f"Comparing the file with the store ({strategy.label})…")
            elif session.plan_error is not None:
                set_status(self.plan_status, False)
                self.plan_status.setText(
                    "The dry run failed; see the message. Import is not "
                    "possible until the store can be read."
                )
            else:
                self.plan_status.setText("")
            self.completeChanged.emit()
            return
        earlier = plan.earlier_imports
        self.earlier_note.setVisible(bool(earlier))
        if earlier:
            listed = ", ".join(f"#{n}" for n in earlier)
            self.earlier_note.setText(
                f"This file was imported before by an earlier version of the wizard (import "
                f"{listed} in the audit history), whose records have other ids: importing it "
                "again leaves those records in place. To replace them, revert that import "
                "first (Audit history → Revert), then import the file again."
            )
            set_status(self.earlier_note, None)
        totals = plan_totals(plan)
        fill_count_table(table, PLAN_COLUMNS, collection_rows(plan.collections), totals)
        self.plan_status.setPalette(self.palette())
        self.plan_status.setText(self._summary(strategy, totals))
        self.completeChanged.emit()

    @staticmethod
    def _summary(strategy: Strategy, t: dict[str, int]) -> str:
        parts = [f"{fmt_int(t['inserted'])} new", f"{fmt_int(t['updated'])} overwritten"]
        if t["unchanged"]:
            parts.append(f"{fmt_int(t['unchanged'])} already identical")
        if t["skipped"]:
            parts.append(f"{fmt_int(t['skipped'])} skipped")
        if t["deleted"]:
            what = (
                "record the file does not hold"
                if t["deleted"] == 1
                else "records the file does not hold"
            )
            parts.append(f"{fmt_int(t['deleted'])} {what} deleted")
        return f"{strategy.label} would write: " + ", ".join(parts) + ". Nothing is written yet."
