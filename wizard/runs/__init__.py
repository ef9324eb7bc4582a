"""Runs: the one place that defines what the wizard does when asked to read, import, revert,
deliver or prune.

A run is a sequence of steps (generators yielding progress, returning a result), its refusal
and audit policy (``wizard.runs.policy``) and its result. The CLI and the GUI only drive runs;
neither decides what is audited or refused.
"""

from wizard.core.steps import drive
from wizard.runs.importing import (
    ImportResult,
    dry_run,
    earlier_imports,
    import_steps,
    plan_steps,
    read,
    record_refusal,
    unfinished_result,
)
from wizard.runs.pruning import PruneResult, prune_steps
from wizard.runs.reverting import RevertPreview, RevertResult, preview, revert
from wizard.store.importer import CollectionPlan, Plan, Progress

__all__ = [
    "CollectionPlan",
    "ImportResult",
    "Plan",
    "Progress",
    "PruneResult",
    "RevertPreview",
    "RevertResult",
    "drive",
    "dry_run",
    "earlier_imports",
    "import_steps",
    "plan_steps",
    "preview",
    "prune_steps",
    "read",
    "record_refusal",
    "revert",
    "unfinished_result",
]
