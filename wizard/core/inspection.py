"""The whole core chain for one file: read, detect, convert, check. Never raises for bad input."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from wizard.core.report import Report

DEFAULT_MAX_BYTES = 2 * 1024**3  # 2 GiB after decompression (FORMATS.md section 7)

ProgressFn = Callable[[str, int, int], None]
CancelFn = Callable[[], bool]


@dataclass(frozen=True)
class InspectOptions:
    skip_invalid: bool = False
    treat_as_version: str | None = None
    include_deleted: bool = False
    max_bytes: int = DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class SourceInfo:
    path: str
    name: str
    size: int
    sha256: str

    def to_dict(self) -> dict:
        return {"path": self.path, "name": self.name, "size": self.size, "sha256": self.sha256}


@dataclass
class Inspection:
    source: SourceInfo
    report: Report
    data: dict | None = None  # the canonical ExportData to import; None when refused
    options: InspectOptions = field(default_factory=InspectOptions)

    @property
    def ok(self) -> bool:
        return self.report.ok and self.data is not None

    @property
    def format(self) -> str | None:
        return self.report.format


def source_info(path: str | os.PathLike, cancel: CancelFn | None = None) -> SourceInfo:
    """Name, size and SHA-256 of a file (read in chunks; the audit log records them)."""
    p = Path(path)
    h = hashlib.sha256()
    size = 0
    try:
        with open(p, "rb") as f:
            while chunk := f.read(4 * 1024 * 1024):
                h.update(chunk)
                size += len(chunk)
        digest = h.hexdigest()
    except OSError:
        digest = ""
    return SourceInfo(path=str(p.absolute()), name=p.name, size=size, sha256=digest)
