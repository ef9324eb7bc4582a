"""What a file holds that will not be imported, or only verbatim: the "left behind" report.

Every adapter says, per category, how many things of the source do not reach one of
agentmemory's fields: left out entirely (``NOT_IMPORTED``), kept only in the verbatim ``source``
copy of a record (``VERBATIM_ONLY``), or replaced by ``[redacted]`` (``REDACTED``, secrets; see
``wizard.core.redact``). Validation (the page and ``validate --json``) and the result page show
the list; nothing is lost without a line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wizard.core.names import Name


class Kept(Name):
    """What becomes of something left behind."""

    NOT_IMPORTED = "not-imported"
    VERBATIM_ONLY = "verbatim-only"
    REDACTED = "redacted"


@dataclass
class LeftBehind:
    """One category of the source that agentmemory gets no field for.

    ``category`` is stable (``mem0.metadata``, ``letta.tools``...); ``what`` says it in words;
    ``count`` how many (records, fields or values, as ``what`` says); ``detail`` why, or what
    to do about it.
    """

    category: str
    what: str
    kept: Kept
    count: int = 0
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "what": self.what,
            "kept": str(self.kept),
            "count": self.count,
            "detail": self.detail,
        }

    def __str__(self) -> str:
        how = {
            Kept.NOT_IMPORTED: "not imported",
            Kept.VERBATIM_ONLY: "kept only in the verbatim source copy",
            Kept.REDACTED: "replaced by [redacted]",
        }[self.kept]
        text = f"{self.what}: {self.count} ({how})"
        return f"{text}; {self.detail}" if self.detail else text


class Losses:
    """Counts left-behind things by category while a file is converted."""

    def __init__(self) -> None:
        self._by_category: dict[str, LeftBehind] = {}

    def add(self, category: str, what: str, kept: Kept, count: int = 1, detail: str = "") -> None:
        """Count ``count`` more of ``category`` (created on first use with ``what``/``detail``)."""
        if count <= 0:
            return
        entry = self._by_category.get(category)
        if entry is None:
            entry = self._by_category[category] = LeftBehind(category, what, kept, 0, detail)
        entry.count += count

    def items(self) -> list[LeftBehind]:
        return list(self._by_category.values())

    def __bool__(self) -> bool:
        return bool(self._by_category)
