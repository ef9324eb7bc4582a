"""The revert run: undo a successful import, or say (and audit) why it cannot.

The policy lives here: only a successful import that was not reverted yet can be reverted, only
while it still has its revert data (a prune drops that of old entries), and only while no later,
not reverted import changed the same records (they would be lost). The
store reports the facts under its write lock (``audit.revert_write``); this module decides.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from wizard.core.names import ErrorKind, Operation, Outcome
from wizard.runs.policy import revert_fields
from wizard.store import audit
from wizard.store.audit import RevertFacts
from wizard.store.database import Store, StoreError

CONFLICTS_NAMED = 10  # how many conflicting records a refusal message names


@dataclass
class RevertPreview:
    """What reverting import ``target_id`` would do, or why it cannot (``reason``, ``code``)."""

    target_id: int
    ok: bool
    reason: str | None = None
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    restore: dict[str, int] = field(default_factory=dict)  # previous versions put back
    remove: dict[str, int] = field(default_factory=dict)  # records the import inserted
    code: ErrorKind | None = None  # why it cannot: not-revertible, revert-data-pruned, conflict

    def to_dict(self) -> dict[str, Any]:
        return {
            "target_id": self.target_id,
            "ok": self.ok,
            "reason": self.reason,
            "conflicts": [{"collection": c, "key": k} for c, k in self.conflicts],
            "restore": dict(self.restore),
            "remove": dict(self.remove),
            "code": None if self.code is None else str(self.code),
        }


@dataclass
class RevertResult:
    """How a revert run ended; ``audit_id`` is the revert's own entry."""

    ok: bool
    outcome: Outcome  # succeeded or refused
    target_id: int
    audit_id: int | None
    restored: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    error_code: ErrorKind | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "outcome": str(self.outcome),
            "target_id": self.target_id,
            "audit_id": self.audit_id,
            "restored": dict(self.restored),
            "removed": dict(self.removed),
            "conflicts": [{"collection": c, "key": k} for c, k in self.conflicts],
            "error": self.error,
            "error_code": None if self.error_code is None else str(self.error_code),
        }


def decide(facts: RevertFacts) -> RevertPreview:
    """Whether the import may be reverted, and what that would do."""
    target, entry = facts.target_id, facts.entry

    def refused(reason: str, code: ErrorKind = ErrorKind.NOT_REVERTIBLE) -> RevertPreview:
        return RevertPreview(target, False, reason, list(facts.conflicts), code=code)

    if entry is None:
        return refused(f"there is no audit entry #{target}")
    if entry["operation"] != Operation.IMPORT:
        return refused(
            f"audit entry #{target} is a {entry['operation']}, not an import; only imports can "
            "be reverted"
        )
    if entry["outcome"] != Outcome.SUCCEEDED:
        return refused(
            f"import #{target} did not succeed (outcome: {entry['outcome']}); it changed "
            "nothing, so there is nothing to revert"
        )
    if entry["reverted_by"] is not None:
        return refused(
            f"import #{target} was already reverted (audit entry #{entry['reverted_by']})"
        )
    if entry.get("pruned_by") is not None:
        when = str(entry.get("pruned_at") or "")[:10]
        return refused(
            f"import #{target} can no longer be reverted: its revert data (the previous "
            "versions of the records it overwrote or deleted) was dropped by prune "
            f"#{entry['pruned_by']}" + (f" on {when}" if when else ""),
            ErrorKind.REVERT_DATA_PRUNED,
        )
    if facts.conflicts:
        named = ", ".join(f"{c} {k}" for c, k in facts.conflicts[:CONFLICTS_NAMED])
        more = len(facts.conflicts) - CONFLICTS_NAMED
        if more > 0:
            named += f" and {more} more"
        return refused(
            f"import #{target} cannot be reverted: a later import changed the same records "
            f"({named}); revert the later import first",
            ErrorKind.CONFLICT,
        )
    return RevertPreview(target, True, None, [], dict(facts.restore), dict(facts.remove))


def preview(store: Store, audit_id: int) -> RevertPreview:
    """What reverting import ``audit_id`` would do, or why it cannot (nothing is written)."""
    return decide(audit.revert_facts(store, audit_id))


def revert(store: Store, audit_id: int) -> RevertResult:
    """Undo a successful import in one transaction with its entry; a revert that cannot be
    done is refused and audited too (when the store lets us write)."""
    t0 = time.monotonic()
    fields = revert_fields(audit_id, Outcome.SUCCEEDED)
    facts, revert_id = audit.revert_write(store, audit_id, fields, lambda found: decide(found).ok)
    checked = decide(facts)
    if revert_id is not None:
        return RevertResult(
            True, Outcome.SUCCEEDED, audit_id, revert_id, checked.restore, checked.remove
        )
    code = checked.code or ErrorKind.NOT_REVERTIBLE
    refused = revert_fields(
        audit_id,
        Outcome.REFUSED,
        error=checked.reason,
        error_code=code,
        counts={"conflicts": [{"collection": c, "key": k} for c, k in checked.conflicts]},
        duration_ms=int((time.monotonic() - t0) * 1000),
    )
    refusal_id: int | None
    try:
        refusal_id = audit.record_entry(store, refused)
    except StoreError:
        refusal_id = None  # the refusal stands; the store would not take its entry
    return RevertResult(
        False,
        Outcome.REFUSED,
        audit_id,
        refusal_id,
        conflicts=checked.conflicts,
        error=checked.reason,
        error_code=code,
    )
