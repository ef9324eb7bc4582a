"""The audit policy: which runs write an entry, and what the entry says.

- Reading and validating never write anything (no entry for a refusal seen by ``validate`` or
  on the validation page); a dry run writes nothing either.
- Every run that was asked to write records one entry whatever its outcome: an import
  (succeeded, refused, failed, cancelled; interrupted when the process died), a revert
  (succeeded, refused), a delivery, and a prune (succeeded, failed, cancelled; interrupted when
  the process died). A prune's dry run writes nothing.
- A prune marks the imports whose revert data it dropped; the revert run then refuses them
  (``revert-data-pruned``).
- An entry that did not succeed carries a stable ``error_code``: the first problem's code for a
  refused file, an ``ErrorKind`` otherwise.
"""

from __future__ import annotations

from typing import Any

from wizard.core.fastjson import escaped_all
from wizard.core.inspection import Inspection
from wizard.core.names import ErrorKind, Operation, Outcome, Strategy
from wizard.core.problems import Code
from wizard.store.audit import entry_base
from wizard.store.importer import CollectionPlan, stats_of

INTERRUPTED = (
    "the import did not finish: the program stopped before it could record the outcome; "
    "its transaction was never committed, so nothing was written"
)


def refusal(inspection: Inspection) -> tuple[str, Code | ErrorKind]:
    """Why a file is refused: the first error as text, and its code."""
    errors = inspection.report.errors
    if not errors:
        return "the file was refused", ErrorKind.INTERNAL
    return str(errors[0]), errors[0].code


def import_counts(inspection: Inspection, plans: dict[str, CollectionPlan]) -> dict[str, Any]:
    """What an import entry's ``counts`` holds: agentmemory's stats, the per-collection split
    and the file's own counts."""
    return {
        "stats": stats_of(plans),
        "collections": {n: p.to_dict() for n, p in plans.items()},
        "source": dict(inspection.report.counts),
    }


def import_fields(
    inspection: Inspection,
    strategy: Strategy,
    outcome: Outcome,
    *,
    error: str | None = None,
    error_code: Code | ErrorKind | None = None,
    duration_ms: int | None = None,
    counts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of an import entry for an Inspection (whatever its outcome)."""
    report, src, opts = inspection.report, inspection.source, inspection.options
    options = {
        "skip_invalid": bool(opts.skip_invalid),
        "skipped_invalid": list(report.skipped_invalid),  # the first 1,000
        "skipped_invalid_total": report.skipped_invalid_total,
        "treat_as_version": report.treated_as_version or opts.treat_as_version,
        "include_deleted": bool(opts.include_deleted),
        "include_inactive": bool(opts.include_inactive),
        **({"vectors": opts.vectors} if opts.vectors else {}),
    }
    # Text from the file (its name, a message quoting a value, a path with a bucket name) may
    # hold surrogates (a name that is not UTF-8, a JSON "\ud800"): the store's text cannot, so
    # the entry keeps them escaped ("\udcff"), and the attempt is audited, never lost.
    fields: dict[str, Any] = escaped_all(
        {
            **_ended(Operation.IMPORT, outcome, error, error_code, duration_ms),
            "strategy": str(strategy),
            "format": report.format,
            "source_version": report.source_version,
            "source_path": src.path,
            "source_name": src.name,
            "source_size": src.size,
            "source_sha256": src.sha256,
            "counts": counts if counts is not None else {"source": dict(report.counts)},
            "caps": [c.to_dict() for c in report.caps],
            "options": options,
        }
    )
    return fields


def _ended(
    operation: Operation,
    outcome: Outcome,
    error: str | None,
    error_code: Code | ErrorKind | None,
    duration_ms: int | None,
) -> dict[str, Any]:
    """The columns every entry has: what ran, how it ended, why, how long it took."""
    return {
        **entry_base(operation, outcome),
        "error": error,
        "error_code": None if error_code is None else str(error_code),
        "duration_ms": duration_ms,
    }


def revert_fields(
    target: int,
    outcome: Outcome,
    *,
    error: str | None = None,
    error_code: ErrorKind | None = None,
    counts: dict[str, Any] | None = None,
    duration_ms: int = 0,
) -> dict[str, Any]:
    """The columns of a revert entry."""
    return {
        **_ended(Operation.REVERT, outcome, error, error_code, duration_ms),
        "counts": counts or {},
        "caps": [],
        "target_id": target,
        "options": {},
    }


INTERRUPTED_PRUNE = (
    "the prune did not finish: the program stopped before it could record the outcome; its "
    "transaction was never committed, so no revert data was dropped"
)


def prune_fields(
    older_than: str,
    cutoff: str,
    outcome: Outcome,
    *,
    error: str | None = None,
    error_code: ErrorKind | None = None,
    counts: dict[str, Any] | None = None,
    duration_ms: int | None = None,
) -> dict[str, Any]:
    """The columns of a prune entry: the age asked for and the cutoff time it meant."""
    return {
        **_ended(Operation.PRUNE, outcome, error, error_code, duration_ms),
        "counts": counts or {},
        "caps": [],
        "options": {"older_than": older_than, "cutoff": cutoff},
    }
