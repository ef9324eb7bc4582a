"""The preflight report: what a file is, what it holds, and whether it can be imported."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wizard.core.caps import Cap
from wizard.core.losses import LeftBehind
from wizard.core.problems import Problem


@dataclass
class Report:
    ok: bool
    format: str | None = None
    source_version: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    caps: list[Cap] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    # Paths of invalid records left out because the user chose to import only the valid ones.
    skipped_invalid: list[str] = field(default_factory=list)  # the first 1,000 of them
    skipped_invalid_total: int = 0
    # Set when the user explicitly chose to read an agentmemory file as another version.
    treated_as_version: str | None = None
    # What the file holds that will not be imported, or only verbatim (wizard.core.losses).
    left_behind: list[LeftBehind] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "ok": self.ok,
            "format": self.format,
            "source_version": self.source_version,
            "counts": dict(self.counts),
            "caps": [c.to_dict() for c in self.caps],
            "errors": [p.to_dict() for p in self.errors],
            "warnings": [p.to_dict() for p in self.warnings],
            "left_behind": [x.to_dict() for x in self.left_behind],
        }
        if self.skipped_invalid:
            d["skipped_invalid"] = list(self.skipped_invalid)
            d["skipped_invalid_total"] = self.skipped_invalid_total
        if self.treated_as_version:
            d["treated_as_version"] = self.treated_as_version
        return d

    def refuse(self, problem: Problem) -> Report:
        self.errors.append(problem)
        self.ok = False
        return self
