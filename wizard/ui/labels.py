"""User-facing names: of collections, caps, formats, strategies and progress phases.

The ids come from the core and the store (``wizard.core.detection.BY_ID`` for formats and
their labels, ``wizard.store.importer.STRATEGIES``); only how the UI names them lives here."""

from __future__ import annotations

from wizard.core.detection import BY_ID
from wizard.ui.formatting import fmt_int
from wizard.ui.results import attr

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


def collection_label(name: str) -> str:
    """'graphNodes' → 'Graph nodes' (known names as listed, others split at capitals)."""
    if name in COLLECTION_LABELS:
        return COLLECTION_LABELS[name]
    out = "".join(" " + c.lower() if c.isupper() else c for c in name)
    return out[:1].upper() + out[1:]


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
    parts = [f"{fmt_int(n)} {collection_label(name).lower()}" for name, n in counts.items() if n]
    if len(parts) > limit:
        parts = [*parts[:limit], f"{len(parts) - limit} more collections"]
    return " · ".join(parts)


# -- formats --------------------------------------------------------------------------------------
def format_label(fmt: str | None, version: str | None = None) -> str:
    """A format's label and id (``BY_ID``), and the source version when known."""
    if not fmt:
        return "unknown format"
    known = BY_ID.get(fmt)
    text = f"{known.label} [{fmt}]" if known is not None else fmt
    if version:
        text += f", version {version}"
    return text


# -- strategies -----------------------------------------------------------------------------------
STRATEGY_NAMES = {"merge": "Merge", "replace": "Replace", "skip": "Skip existing"}
STRATEGY_TEXT = {
    "merge": "Merge: add new records and overwrite existing ones that have the same id.",
    "replace": "Replace: delete every record in the store (the audit history is kept), then "
    "add the file's records.",
    "skip": "Skip existing: add only records whose id is not in the store yet; change nothing "
    "else.",
}

# -- progress phases ------------------------------------------------------------------------------
PHASE_LABELS = {
    "read": "Reading the store's",
    "plan": "Comparing",
    "write": "Writing",
    "delete": "Deleting existing",
    "done": "Finishing",
    "reading": "Reading",
    "validating": "Checking records",
    "checking": "Checking records",
    "converting": "Converting",
    "planning": "Comparing with the store",
    "deleting": "Deleting existing records",
    "writing": "Writing",
    "importing": "Writing",
    "committing": "Committing",
}


def phase_text(item: object) -> tuple[str, int, int]:
    """(label, done, total) of a progress item: a (phase, done, total) tuple from the core or a
    store ``Progress(phase, collection, done, total)``."""
    if isinstance(item, tuple) and len(item) == 3:
        phase, done, total = item
        return PHASE_LABELS.get(str(phase), str(phase).capitalize()), int(done), int(total)
    phase = attr(item, "phase", "")
    coll = attr(item, "collection", None)
    done = int(attr(item, "done", 0) or 0)
    total = int(attr(item, "total", 0) or 0)
    label = PHASE_LABELS.get(str(phase), str(phase).capitalize())
    if coll:
        label = f"{label} {collection_label(str(coll)).lower()}"
    return label, done, total
