"""Runs: the one place that defines what the wizard does when asked to read, import or revert.

A run is a sequence of steps (generators yielding progress, returning a result), its refusal
and audit policy (``wizard.runs.policy``) and its result. The CLI and the GUI only drive runs;
neither decides what is audited or refused. Delivery and pruning will be runs here too.
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
from wizard.runs.reverting import RevertPreview, RevertResult, preview, revert
from wizard.store.importer import CollectionPlan, Plan, Progress

__all__ = [
    "CollectionPlan",
    "ImportResult",
    "Plan",
    "Progress",
    "RevertPreview",
    "RevertResult",
    "drive",
    "dry_run",
    "earlier_imports",
    "import_steps",
    "plan_steps",
    "preview",
    "read",
    "record_refusal",
    "revert",
    "unfinished_result",
]
