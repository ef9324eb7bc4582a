"""What records become, before anything is written: a few converted records beside their
source records (validation's preview, ``validate --preview N``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from wizard.core.canonical import stamp_origin
from wizard.core.collections import collection_names, head_records

# The kinds a preview covers first, in this order; then more memories, then anything else.
KINDS = ("memories", "sessions", "observations")


@dataclass(frozen=True)
class PreviewItem:
    """One record: where it is in the converted data, the agentmemory record (without its
    verbatim copy) and the source record it came from (the record itself for an agentmemory
    file, whose records are not converted)."""

    collection: str
    index: int
    converted: dict
    source: Any

    def to_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "index": self.index,
            "converted": self.converted,
            "source": self.source,
        }

    @property
    def label(self) -> str:
        """'memories[0]: Prefers dark mode' (its title, name or id)."""
        rec = self.converted
        name = rec.get("title") or rec.get("name") or rec.get("id") or rec.get("sessionId") or ""
        return f"{self.collection}[{self.index}]: {name}" if name else f"{self.collection}"


def _item(collection: str, index: int, record: Any, format_id: str | None) -> PreviewItem:
    if not isinstance(record, dict):
        return PreviewItem(collection, index, {"value": record}, record)
    source = record.get("source")
    stamped = stamp_origin(collection, record, format_id)  # as the import will store it
    converted = {k: v for k, v in stamped.items() if k != "source"}
    if isinstance(source, dict) and "raw" in source:
        return PreviewItem(collection, index, converted, source["raw"])
    return PreviewItem(collection, index, converted, record)


def samples(data: dict, n: int = 5, format_id: str | None = None) -> list[PreviewItem]:
    """Up to ``n`` records of ``data`` (read as ``format_id``): one of each of memories,
    sessions and observations first (those present), then more memories, then the other
    collections."""
    if n <= 0:
        return []
    iters = {name: iter(enumerate(head_records(data, name, n))) for name in collection_names(data)}
    order = [k for k in KINDS if k in iters] + [k for k in iters if k not in KINDS]
    picked: list[PreviewItem] = []
    for name in order:  # one of each kind
        found = next(iters[name], None)
        if found is not None:
            picked.append(_item(name, found[0], found[1], format_id))
        if len(picked) >= n:
            return picked
    for name in order:  # then more, memories first
        for index, record in iters[name]:
            picked.append(_item(name, index, record, format_id))
            if len(picked) >= n:
                return picked
    return picked


def as_text(value: Any) -> str:
    """A record as indented JSON, as the preview shows it."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
