"""The revert run: undo a successful import, or say (and audit) why it cannot."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from wizard.core.names import ErrorKind, Outcome
from wizard.runs.policy import revert_fields
from wizard.store import audit
from wizard.store.audit import RevertPreview
from wizard.store.database import Store


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


def preview(store: Store, audit_id: int) -> RevertPreview:
    """What reverting import ``audit_id`` would do, or why it cannot (nothing is written)."""
    return audit.revert_preview(store, audit_id)


def revert(store: Store, audit_id: int) -> RevertResult:
    """Undo a successful import in one transaction with its entry; a revert that cannot be
    done is refused and audited too."""
    t0 = time.monotonic()
    fields = revert_fields(audit_id, Outcome.SUCCEEDED)
    checked, revert_id = audit.revert_write(store, audit_id, fields)
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
    refusal_id = audit.record_entry(store, refused)
    return RevertResult(
        False,
        Outcome.REFUSED,
        audit_id,
        refusal_id,
        conflicts=checked.conflicts,
        error=checked.reason,
        error_code=code,
    )
