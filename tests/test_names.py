"""The closed sets of names: every member has what the shells show for it, and every label
names a member (no label for a name that does not exist, none missing)."""

from __future__ import annotations

import json

import pytest

from wizard.core.names import (
    STRATEGY_RULES,
    ErrorKind,
    Operation,
    Outcome,
    Phase,
    Strategy,
)
from wizard.store.database import StoreError
from wizard.ui.audit_model import OUTCOMES, REVERTED
from wizard.ui.labels import (
    OPERATION_LABELS,
    OUTCOME_LABELS,
    OUTCOME_MARKS,
    PHASE_LABELS,
    STRATEGY_OBJECT_NAMES,
    phase_text,
)


@pytest.mark.parametrize(
    ("enum", "labels"),
    [
        (Strategy, STRATEGY_RULES),
        (Strategy, STRATEGY_OBJECT_NAMES),
        (Outcome, OUTCOME_LABELS),
        (Outcome, OUTCOME_MARKS),
        (Operation, OPERATION_LABELS),
        (Phase, PHASE_LABELS),
    ],
)
def test_every_member_has_a_label_and_every_label_a_member(enum, labels):
    assert set(labels) == set(enum)
    assert all(isinstance(key, enum) for key in labels)


def test_a_strategy_rule_holds_what_it_does_and_how_it_is_shown():
    assert [s.overwrites for s in Strategy] == [True, True, False]
    assert [s.deletes_all for s in Strategy] == [False, True, False]
    for s in Strategy:
        assert s.label and s.help.endswith(".") and s.mnemonic.replace("&", "") == s.label
        assert s.description.startswith(f"{s.label}: ")
    assert len({s.mnemonic.split("&")[1][0] for s in Strategy}) == len(Strategy)  # accelerators


def test_names_are_their_values_in_text_json_and_lookups():
    assert str(Outcome.SUCCEEDED) == "succeeded" and f"{Strategy.SKIP:>5}" == " skip"
    assert json.dumps({"s": Strategy.MERGE}) == '{"s": "merge"}'
    assert Strategy("replace") is Strategy.REPLACE and Outcome.FAILED == "failed"
    assert OUTCOME_LABELS.get("interrupted") == "Interrupted"  # a plain string finds its member


def test_the_audit_filter_offers_every_audited_outcome():
    """The audit window's outcome filter: every outcome an entry can have (a dry run is never
    audited), "interrupted" included, and the reverted pseudo-outcome."""
    assert set(OUTCOMES) == {str(o) for o in Outcome if o is not Outcome.PLANNED} | {REVERTED}
    assert Outcome.INTERRUPTED in OUTCOMES


def test_store_error_kinds_are_error_kinds():
    assert StoreError("locked", "busy").kind is ErrorKind.LOCKED
    with pytest.raises(ValueError):
        StoreError("no-such-kind", "?")


def test_phase_text_names_every_phase():
    from wizard.runs import Progress

    for phase in Phase:
        label, done, total = phase_text(Progress(phase, "memories", 1, 2))
        assert label.startswith(PHASE_LABELS[phase]) and (done, total) == (1, 2)
    assert phase_text((Phase.READING, 3, 4)) == ("Reading", 3, 4)
