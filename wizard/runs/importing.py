"""The read run and the import run: a file is read and checked (never writing), then imported
with a strategy, or planned (a dry run, never writing).

The import run is the one place that decides what an import attempt leaves in the audit
(``wizard.runs.policy``): the CLI and the GUI both drive :func:`import_steps`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from wizard.core.inspection import Inspection, InspectOptions, inspect_file
from wizard.core.losses import LeftBehind
from wizard.core.names import ErrorKind, Outcome, Strategy
from wizard.core.problems import Cancelled, Code, Problem
from wizard.core.steps import drive
from wizard.core.versions import version_numbers
from wizard.runs.policy import INTERRUPTED, import_counts, import_fields, refusal
from wizard.store import audit, importer
from wizard.store.database import Store, StoreError, translate
from wizard.store.importer import (
    CollectionPlan,
    ImportWrite,
    Plan,
    Progress,
    empty_plans,
    stats_of,
)

CancelFn = Callable[[], bool]
ProgressFn = Callable[[str, int, int], None]


@dataclass
class ImportResult:
    """How an import run ended (or what a dry run would do); ``to_dict()`` is the
    ``import --json`` object.

    ``error_code``: for a refused file its first problem's code, otherwise an ``ErrorKind``.
    ``exception`` is the unexpected error behind an ``internal`` failure (for the crash log).
    """

    ok: bool
    outcome: Outcome
    strategy: Strategy
    format: str | None
    dry_run: bool
    stats: dict[str, int]
    collections: dict[str, CollectionPlan]
    audit_id: int | None
    error: str | None = None
    error_code: Code | ErrorKind | None = None
    duration_ms: int | None = None
    exception: BaseException | None = field(default=None, repr=False, compare=False)
    audit_error: str | None = None  # why the attempt's entry could not be written
    earlier_imports: list[int] = field(default_factory=list)  # see earlier_imports()
    # what validation said of the file: its warnings, and what it leaves behind
    warnings: list[Problem] = field(default_factory=list)
    left_behind: list[LeftBehind] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "outcome": str(self.outcome),
            "strategy": str(self.strategy),
            "format": self.format,
            "dry_run": self.dry_run,
            "stats": dict(self.stats),
            "collections": {n: p.to_dict() for n, p in self.collections.items()},
            "audit_id": self.audit_id,
            "error": self.error,
            "error_code": None if self.error_code is None else str(self.error_code),
            "warnings": [p.to_dict() for p in self.warnings],
            "left_behind": [x.to_dict() for x in self.left_behind],
            "earlier_imports": list(self.earlier_imports),
        }


def unfinished_result(
    strategy: Strategy,
    format_id: str | None,
    outcome: Outcome,
    error: str,
    error_code: Code | ErrorKind | None,
    *,
    dry_run: bool = False,
) -> ImportResult:
    """The result of an import that ended before it had one (the store could not be opened,
    the read was cancelled): nothing written, nothing audited."""
    cols = empty_plans()
    return ImportResult(
        False, outcome, strategy, format_id, dry_run, stats_of(cols), cols, None, error, error_code
    )


def read(
    path: str | os.PathLike[str],
    options: InspectOptions,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> Inspection:
    """The read run: read, detect, convert and check a file. Never writes anything (a refusal
    is audited only when an import is asked for). The reader reports through callbacks, not as
    a generator: it sits under a streaming parser whose inner loop must stay cheap. Raises
    Cancelled."""
    return inspect_file(path, options, progress=progress, cancel=cancel)


# Versions before 0.2.0 imported before records got their owner-scoped ids (docs/MAPPING.md):
# their imports of a file hold other ids than importing it again gives.
SCOPED_IDS_VERSION = (0, 2, 0)


def _older_than_scoped_ids(app_version: str | None) -> bool:
    """Whether an import's wizard version came before scoped ids (unknown counts as older)."""
    version = version_numbers(app_version or "")
    return version is None or version < SCOPED_IDS_VERSION


def earlier_imports(store: Store, inspection: Inspection) -> list[int]:
    """Imports of this same file, still in effect, that an earlier version of the wizard made
    with other ids (sessions per bare run id, unscoped Letta blocks, OpenMemory's inactive
    memories as live ones). Importing the file again does not replace those records: revert
    these imports first (README, "Upgrading")."""
    try:
        entries = audit.imports_of(store, inspection.source.sha256)
    except StoreError:  # advice only: a history that cannot be read does not stop the run
        return []
    return [e["id"] for e in entries if _older_than_scoped_ids(e["app_version"])]


def plan_steps(
    store: Store,
    inspection: Inspection,
    strategy: Strategy | str,
    cancel: CancelFn | None = None,
) -> Generator[Progress, None, Plan]:
    """The dry run (writes nothing): what importing would do, and the earlier imports of the
    same file that hold other ids."""
    strategy = Strategy(strategy)
    plan = yield from importer.plan_steps(store, inspection, strategy, cancel)
    plan.earlier_imports = earlier_imports(store, inspection)
    return plan


def _ms(t0: float) -> int:
    return int((time.monotonic() - t0) * 1000)


def _result(
    inspection: Inspection,
    strategy: Strategy,
    outcome: Outcome,
    t0: float,
    collections: dict[str, CollectionPlan] | None = None,
    *,
    dry_run: bool = False,
    duration_ms: int | None = None,
    **kw: Any,
) -> ImportResult:
    """``duration_ms``: the one the audit entry holds, when it has one (else up to now)."""
    cols = collections if collections is not None else empty_plans()
    return ImportResult(
        ok=outcome in (Outcome.SUCCEEDED, Outcome.PLANNED),
        outcome=outcome,
        strategy=strategy,
        format=inspection.format,
        dry_run=dry_run,
        stats=stats_of(cols),
        collections=cols,
        duration_ms=_ms(t0) if duration_ms is None else duration_ms,
        warnings=list(inspection.report.warnings),
        left_behind=list(inspection.report.left_behind),
        **kw,
    )


def record_refusal(store: Store, inspection: Inspection, strategy: Strategy) -> ImportResult:
    """An import asked for a file that cannot be imported: audited as refused (when the store
    lets us write; else the refusal says so)."""
    t0 = time.monotonic()
    error, code = refusal(inspection)
    fields = import_fields(
        inspection, strategy, Outcome.REFUSED, error=error, error_code=code, duration_ms=0
    )
    audit_id: int | None = None
    audit_error: str | None = None
    try:
        audit_id = audit.record_entry(store, fields)
    except StoreError as e:
        audit_error = e.message
    return _result(
        inspection,
        strategy,
        Outcome.REFUSED,
        t0,
        audit_id=audit_id,
        error=error,
        error_code=code,
        audit_error=audit_error,
    )


def import_steps(
    store: Store,
    inspection: Inspection,
    strategy: Strategy | str = Strategy.MERGE,
    cancel: CancelFn | None = None,
) -> Generator[Progress, None, ImportResult]:
    """The import run: write an inspected file in one transaction, auditing every outcome.

    Yields Progress between chunks (and checks ``cancel`` there). Returns the ImportResult:
    succeeded (committed together with its audit entry), or refused / failed / cancelled (rolled
    back; the entry written in its own transaction). A KeyboardInterrupt, or the generator being
    closed early, rolls back, audits "cancelled" and propagates.
    """
    strategy = Strategy(strategy)
    if not inspection.ok:
        return record_refusal(store, inspection, strategy)
    t0 = time.monotonic()
    earlier = earlier_imports(store, inspection)
    write = ImportWrite(
        store,
        inspection.data or {},
        strategy,
        inspection.format,
        unique=inspection.unique_keys,
    )
    attempt = import_fields(
        inspection,
        strategy,
        Outcome.INTERRUPTED,
        error=INTERRUPTED,
        error_code=ErrorKind.INTERRUPTED,
    )

    recorded: list[int] = []  # the duration the entry holds (its commit comes after it)

    def finish(plans: dict[str, CollectionPlan]) -> dict[str, Any]:
        recorded.append(_ms(t0))
        return {"counts": import_counts(inspection, plans), "duration_ms": recorded[-1]}

    outcome: Outcome
    error: str
    code: ErrorKind
    exc: BaseException | None
    gen = write.steps(
        import_fields(inspection, strategy, Outcome.SUCCEEDED), attempt, finish, cancel
    )
    try:
        plans = yield from gen
    except Cancelled:
        outcome, error, code, exc = (
            Outcome.CANCELLED,
            "cancelled by the user; nothing was written",
            ErrorKind.CANCELLED,
            None,
        )
    except StoreError as e:
        outcome, error, code, exc = Outcome.FAILED, e.message, e.kind, e
    except (KeyboardInterrupt, GeneratorExit):
        if write.committed or audit.committed(store, write.audit_id):
            # Interrupted as the commit returned: the import is complete, say so.
            return _result(
                inspection, strategy, Outcome.SUCCEEDED, t0, write.plans, audit_id=write.audit_id
            )
        _audit_after_rollback(
            store,
            inspection,
            strategy,
            Outcome.CANCELLED,
            "interrupted; nothing was written",
            ErrorKind.CANCELLED,
            write,
            t0,
        )
        raise
    except Exception as e:  # a bug or an unexpected error: rolled back, audited, reported
        err = translate(e, store.path)
        if err is not None:
            outcome, error, code, exc = Outcome.FAILED, err.message, err.kind, e
        else:
            outcome, error, code, exc = (
                Outcome.FAILED,
                f"{type(e).__name__}: {e}",
                ErrorKind.INTERNAL,
                e,
            )
    else:
        return _result(
            inspection,
            strategy,
            Outcome.SUCCEEDED,
            t0,
            plans,
            audit_id=write.audit_id,
            earlier_imports=earlier,
            duration_ms=recorded[-1] if recorded else None,
        )
    audit_id, error = _audit_after_rollback(
        store, inspection, strategy, outcome, error, code, write, t0
    )
    return _result(
        inspection,
        strategy,
        outcome,
        t0,
        write.plans,
        audit_id=audit_id,
        error=error,
        error_code=code,
        exception=exc,
    )


def _audit_after_rollback(
    store: Store,
    inspection: Inspection,
    strategy: Strategy,
    outcome: Outcome,
    error: str,
    code: ErrorKind,
    write: ImportWrite,
    t0: float,
) -> tuple[int | None, str]:
    """Write the entry of a rolled-back import in its own transaction (if the store lets us)."""
    counts = None
    if write.audit_id is not None:  # it got as far as writing: how far (none of it was kept)
        counts = import_counts(inspection, write.plans)
        counts["partial"] = True
    fields = import_fields(
        inspection,
        strategy,
        outcome,
        error=error,
        error_code=code,
        duration_ms=_ms(t0),
        counts=counts,
    )
    try:
        audit_id = audit.record_entry(store, fields)
    except StoreError as e:
        return None, f"{error} (the audit entry could not be written either: {e.message})"
    return audit_id, error


def dry_run(
    store: Store, inspection: Inspection, strategy: Strategy | str = Strategy.MERGE
) -> ImportResult:
    """The ``import --dry-run`` result: the plan as an ImportResult (nothing written or
    audited)."""
    strategy = Strategy(strategy)
    t0 = time.monotonic()
    if not inspection.ok:
        error, code = refusal(inspection)
        return _result(
            inspection,
            strategy,
            Outcome.REFUSED,
            t0,
            dry_run=True,
            audit_id=None,
            error=error,
            error_code=code,
        )
    p = drive(plan_steps(store, inspection, strategy))
    return _result(
        inspection,
        strategy,
        Outcome.PLANNED,
        t0,
        p.collections,
        dry_run=True,
        audit_id=None,
        earlier_imports=p.earlier_imports,
    )


__all__ = [
    "ImportResult",
    "Plan",
    "Progress",
    "dry_run",
    "import_steps",
    "plan_steps",
    "read",
    "record_refusal",
]
