"""User-facing names: of collections, caps, formats, outcomes, operations and progress phases.

The ids come from the core (``wizard.core.detection.BY_ID`` for formats and their labels,
``wizard.core.names`` for the closed sets; a strategy carries its own label and help text); only
how the UI names them lives here. A test checks that every member of each set has a label.
"""

from __future__ import annotations

import re

from wizard.core.detection import BY_ID
from wizard.core.names import Operation, Outcome, Phase, Strategy
from wizard.runs import Progress
from wizard.ui.formatting import plural

# -- collections and caps -------------------------------------------------------------------------
COLLECTION_LABELS = {
    "sessions": "Sessions",
    "observations": "Observations",
    "memories": "Memories",
    "summaries": "Summaries",
    "profiles": "Profiles",
    "graphNodes": "Graph nodes",
    "graphEdges": "Graph edges",
    "semanticMemories": "Semantic memories",
    "proceduralMemories": "Procedural memories",
    "actionEdges": "Action edges",
    "accessLogs": "Access logs",
    "observationBuckets": "Sessions with observations",
    "observationsPerSession": "Observations in one session",
}


# One of a collection, where dropping the plural's last letter is wrong.
COLLECTION_SINGULAR = {
    "memories": "memory",
    "summaries": "summary",
    "semanticMemories": "semantic memory",
    "proceduralMemories": "procedural memory",
    "observationBuckets": "session with observations",
    "observationsPerSession": "observation in one session",
    "skipped": "skipped",
}


def collection_label(name: str) -> str:
    """'graphNodes' → 'Graph nodes' (known names as listed, others split at capitals)."""
    if name in COLLECTION_LABELS:
        return COLLECTION_LABELS[name]
    out = "".join(" " + c.lower() if c.isupper() else c for c in name)
    return out[:1].upper() + out[1:]


def count_of(name: str, n: int) -> str:
    """'1 session', '500 observations', '1 memory': a count of a collection's records."""
    many = collection_label(name).lower()
    one = COLLECTION_SINGULAR.get(name) or (many[:-1] if many.endswith("s") else many)
    return plural(n, one, many)


CAP_LABELS = {
    "sessions": "Sessions",
    "memories": "Memories",
    "summaries": "Summaries",
    "observationBuckets": "Sessions with observations",
    "observationsPerSession": "Observations in one session",
    "observations": "Observations in total",
    "accessLogs": "Access logs",
}


def cap_label(name: str) -> str:
    return CAP_LABELS.get(name, name)


def describe_counts(counts: dict[str, int], limit: int = 6) -> str:
    """'10 sessions · 500 observations · …' (collections with no records left out)."""
    parts = [count_of(name, n) for name, n in counts.items() if n]
    if len(parts) > limit:
        parts = [*parts[:limit], f"{len(parts) - limit} more collections"]
    return " · ".join(parts)


# -- formats --------------------------------------------------------------------------------------
# A version people read as one ("0.9.5", "1", "2.0-beta"), not an internal revision id (a Letta
# database's migration revision such as "f6cd5a1e519d").
_READABLE_VERSION = re.compile(r"^v?\d{1,4}(\.\d+)*([-+][0-9A-Za-z.]+)?$")


def readable_version(version: object) -> str | None:
    """The version of the export as people know it, or None (no version, or only a revision
    id that means nothing to them)."""
    if not isinstance(version, str) or not _READABLE_VERSION.match(version.strip()):
        return None
    return version.strip()


def format_label(fmt: str | None, version: str | None = None) -> str:
    """A format's label and id (``BY_ID``), and the export's version when it has a readable
    one (``readable_version``)."""
    if not fmt:
        return "unknown format"
    known = BY_ID.get(fmt)
    text = f"{known.label} [{fmt}]" if known is not None else fmt
    shown = readable_version(version)
    if shown:
        text += f", version {shown}"
    return text


# -- strategies, outcomes, operations --------------------------------------------------------------
STRATEGY_OBJECT_NAMES = {
    Strategy.MERGE: "strategyMerge",
    Strategy.REPLACE: "strategyReplace",
    Strategy.SKIP: "strategySkip",
}
OUTCOME_LABELS = {
    Outcome.SUCCEEDED: "Succeeded",
    Outcome.REFUSED: "Refused",
    Outcome.FAILED: "Failed",
    Outcome.CANCELLED: "Cancelled",
    Outcome.INTERRUPTED: "Interrupted",
    Outcome.PLANNED: "Planned (dry run)",
}
OUTCOME_MARKS = {
    Outcome.SUCCEEDED: "✓",
    Outcome.REFUSED: "✗",
    Outcome.FAILED: "✗",
    Outcome.CANCELLED: "⊘",
    Outcome.INTERRUPTED: "⊘",
    Outcome.PLANNED: "",
}
OPERATION_LABELS = {
    Operation.IMPORT: "import",
    Operation.REVERT: "revert",
    Operation.DELIVER: "delivery",
    Operation.PRUNE: "prune",
}

# -- progress phases ------------------------------------------------------------------------------
PHASE_LABELS = {
    Phase.READING: "Reading",
    Phase.VALIDATING: "Checking records",
    Phase.READ_STORE: "Reading the store's",
    Phase.PLAN: "Comparing",
    Phase.DELETE: "Deleting existing",
    Phase.WRITE: "Writing",
    Phase.INDEX: "Building the indexes of",
    Phase.COMMIT: "Committing",
    Phase.CONNECT: "Connecting to",
    Phase.WIPE: "Emptying",
    Phase.SEND: "Sending",
    Phase.VERIFY: "Checking what arrived:",
    Phase.COMPACT: "Compacting the store",
    Phase.DONE: "Finishing",
}


def _phase_label(phase: object) -> str:
    try:
        return PHASE_LABELS[Phase(phase)]
    except ValueError:
        return str(phase).capitalize()


def phase_text(item: object) -> tuple[str, int, int]:
    """(label, done, total) of a progress item: a (phase, done, total) tuple from the read run
    or a ``runs.Progress``."""
    if isinstance(item, Progress):
        label = _phase_label(item.phase)
        if item.collection:
            label = f"{label} {collection_label(item.collection).lower()}"
        return label, item.done, item.total
    if isinstance(item, tuple) and len(item) == 3:
        phase, done, total = item
        return _phase_label(phase), int(done), int(total)
    return "Working", 0, 0
