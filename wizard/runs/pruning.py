"""The prune run: drop the revert data of old audit entries, so the store does not grow without
limit, then compact the file.

The policy lives here (and in ``wizard.runs.policy``): the age is between ``MIN_AGE`` and
``MAX_AGE`` (the shells check it first: a usage error); every prune asked for leaves one entry
(succeeded, failed, cancelled; interrupted when the process died), a dry run none; the revert
data goes in one transaction with that entry, and the imports it covered are marked, so the
revert run refuses them with a reason (``revert-data-pruned``). The store provides the
mechanics (``wizard.store.pruning``). Compacting (``VACUUM``) comes after the commit: when it
fails (the disk has no room for the copy it makes, another program reads the store) the prune
stands and the result says why the file did not shrink.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from wizard.core.canonical import utc_iso
from wizard.core.names import ErrorKind, Outcome, Phase
from wizard.core.problems import Cancelled
from wizard.runs.policy import INTERRUPTED_PRUNE, prune_fields
from wizard.store import audit, pruning
from wizard.store.database import Store, StoreError, translate
from wizard.store.pruning import PruneFacts, PruneStep, PruneWrite

CancelFn = Callable[[], bool]

MIN_AGE = timedelta(hours=1)  # younger revert data is the import just made: never dropped
MAX_AGE = timedelta(days=36500)  # a hundred years: anything longer is a typing slip


@dataclass
class PruneResult:
    """How a prune ended (or what a dry run would drop); ``to_dict()`` is ``prune --json``.

    ``imports``: the imports that can no longer be reverted afterwards; ``entries``: the
    entries whose revert data went, ``rows`` and ``data_bytes`` how much. ``bytes_before`` and
    ``bytes_after`` are the file's size on disk (with its write-ahead log); ``compact_error``
    says why it was not compacted when it could not be.
    """

    ok: bool
    outcome: Outcome  # succeeded, planned (a dry run), failed or cancelled
    dry_run: bool
    older_than: str
    cutoff: str
    imports: list[int] = field(default_factory=list)
    entries: int = 0
    rows: int = 0
    data_bytes: int = 0
    bytes_before: int = 0
    bytes_after: int | None = None
    compacted: bool = False
    compact_error: str | None = None
    audit_id: int | None = None
    error: str | None = None
    error_code: ErrorKind | None = None
    duration_ms: int = 0
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "outcome": str(self.outcome),
            "dry_run": self.dry_run,
            "older_than": self.older_than,
            "cutoff": self.cutoff,
            "imports": list(self.imports),
            "entries": self.entries,
            "rows": self.rows,
            "data_bytes": self.data_bytes,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
            "compacted": self.compacted,
            "compact_error": self.compact_error,
            "audit_id": self.audit_id,
            "error": self.error,
            "error_code": None if self.error_code is None else str(self.error_code),
            "duration_ms": self.duration_ms,
        }


def age_text(age: timedelta) -> str:
    """'90d', '12h' or '90m': the age as the command line spells it."""
    seconds = int(age.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def check_age(age: timedelta) -> None:
    """Raise ValueError (its message says the range) unless MIN_AGE <= age <= MAX_AGE."""
    if not MIN_AGE <= age <= MAX_AGE:
        raise ValueError(
            f"the age must be between {age_text(MIN_AGE)} and {age_text(MAX_AGE)}, "
            f"not {age_text(age)}"
        )


def cutoff_for(age: timedelta, now: datetime | None = None) -> str:
    """The UTC timestamp (as the audit writes them) before which entries are older than
    ``age``."""
    moment = (now or datetime.now(timezone.utc)) - age
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    text = utc_iso(moment.isoformat())
    assert text is not None
    return text


def _ms(t0: float) -> int:
    return int((time.monotonic() - t0) * 1000)


def _fill(result: PruneResult, facts: PruneFacts) -> None:
    result.imports = list(facts.imports)
    result.entries = len(facts.changes)
    result.rows = facts.rows
    result.data_bytes = facts.data_bytes


def _counts(facts: PruneFacts | None, before: int, after: int | None = None) -> dict[str, Any]:
    """What a prune entry's ``counts`` holds."""
    counts: dict[str, Any] = {"file_bytes_before": before}
    if facts is not None:
        counts.update(
            imports=list(facts.imports),
            entries=len(facts.changes),
            rows=facts.rows,
            data_bytes=facts.data_bytes,
        )
    if after is not None:
        counts["file_bytes_after"] = after
    return counts


def prune_steps(
    store: Store,
    older_than: timedelta,
    *,
    dry_run: bool = False,
    cancel: CancelFn | None = None,
    now: datetime | None = None,
) -> Generator[PruneStep, None, PruneResult]:
    """The prune run (see the module doc): drop the revert data of the entries older than
    ``older_than`` in one transaction with the prune's entry, then compact the file. A dry run
    only says what would go. Raises ValueError for an age out of range (before anything is
    read). Yields PruneStep between chunks (and checks ``cancel`` there, until the commit).
    Returns the PruneResult: succeeded, planned, or failed / cancelled (rolled back, audited).
    A KeyboardInterrupt, or the generator being closed early, rolls back, audits "cancelled"
    and propagates."""
    check_age(older_than)
    t0 = time.monotonic()
    age, cutoff = age_text(older_than), cutoff_for(older_than, now)
    before = pruning.file_bytes(store.path)
    result = PruneResult(
        ok=False,
        outcome=Outcome.FAILED,
        dry_run=dry_run,
        older_than=age,
        cutoff=cutoff,
        bytes_before=before,
    )
    if dry_run:
        yield PruneStep(Phase.READ_STORE)
        _fill(result, pruning.prune_facts(store, cutoff))
        result.ok, result.outcome, result.duration_ms = True, Outcome.PLANNED, _ms(t0)
        return result
    write = PruneWrite(store, cutoff)
    attempt = prune_fields(
        age,
        cutoff,
        Outcome.INTERRUPTED,
        error=INTERRUPTED_PRUNE,
        error_code=ErrorKind.INTERRUPTED,
    )

    def finish(facts: PruneFacts) -> dict[str, Any]:
        return {"counts": _counts(facts, before), "duration_ms": _ms(t0)}

    gen = write.steps(prune_fields(age, cutoff, Outcome.SUCCEEDED), attempt, finish, cancel)
    try:
        facts = yield from gen
    except Cancelled:
        result.outcome, result.error_code = Outcome.CANCELLED, ErrorKind.CANCELLED
        result.error = "cancelled by the user; no revert data was dropped"
    except StoreError as exc:
        result.error, result.error_code, result.exception = exc.message, exc.kind, exc
    except (KeyboardInterrupt, GeneratorExit):
        if write.committed or audit.committed(store, write.audit_id):
            # Interrupted as the commit returned: the prune is done (not compacted), say so.
            if write.facts is not None:
                _fill(result, write.facts)
            result.ok, result.outcome, result.audit_id = True, Outcome.SUCCEEDED, write.audit_id
            result.duration_ms = _ms(t0)
            return result
        result.outcome, result.error_code = Outcome.CANCELLED, ErrorKind.CANCELLED
        result.error = "interrupted; no revert data was dropped"
        _audit_after_rollback(store, result, write, t0)
        raise
    except Exception as exc:  # a bug or an unexpected error: rolled back, audited, reported
        err = translate(exc, store.path)
        result.exception = exc
        if err is not None:
            result.error, result.error_code = err.message, err.kind
        else:
            result.error, result.error_code = f"{type(exc).__name__}: {exc}", ErrorKind.INTERNAL
    else:
        _fill(result, facts)
        result.ok, result.outcome, result.audit_id = True, Outcome.SUCCEEDED, write.audit_id
        yield PruneStep(Phase.COMPACT)
        _compact(store, result, facts)
        result.duration_ms = _ms(t0)
        yield PruneStep(Phase.DONE, 1, 1)
        return result
    _audit_after_rollback(store, result, write, t0)
    return result


def _compact(store: Store, result: PruneResult, facts: PruneFacts) -> None:
    """Compact the file after the commit when there is anything to give back, and add the size
    it ended with to the prune's entry (best effort: the prune stands either way)."""
    try:
        if facts.rows or pruning.free_pages(store):
            pruning.compact(store)
            result.compacted = True
    except StoreError as exc:
        result.compact_error = f"the store was not compacted: {exc.message}"
    try:
        result.bytes_after = pruning.settle(store)
    except StoreError:
        result.bytes_after = pruning.file_bytes(store.path)
    if result.audit_id is not None:
        counts = _counts(facts, result.bytes_before, result.bytes_after)
        if result.compact_error:
            counts["compact_error"] = result.compact_error
        try:
            pruning.record_counts(store, result.audit_id, counts)
        except StoreError:
            pass  # the entry keeps the size before; the result still says both


def _audit_after_rollback(store: Store, result: PruneResult, write: PruneWrite, t0: float) -> None:
    """Write the entry of a rolled-back prune in its own transaction (if the store lets us)."""
    result.duration_ms = _ms(t0)
    counts = _counts(write.facts, result.bytes_before)
    if write.audit_id is not None:
        counts["partial"] = True  # it got as far as deleting: none of it was kept
    fields = prune_fields(
        result.older_than,
        result.cutoff,
        result.outcome,
        error=result.error,
        error_code=result.error_code,
        counts=counts,
        duration_ms=result.duration_ms,
    )
    try:
        result.audit_id = audit.record_entry(store, fields)
    except StoreError as exc:
        result.error = (
            f"{result.error} (the audit entry could not be written either: {exc.message})"
        )


__all__ = [
    "MAX_AGE",
    "MIN_AGE",
    "PruneResult",
    "PruneStep",
    "age_text",
    "check_age",
    "cutoff_for",
    "prune_steps",
]
