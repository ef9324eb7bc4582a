"""agentmemory ExportData versions the wizard accepts (FORMATS.md section 2)."""

from __future__ import annotations

import re


def _series(prefix: str, first: int, last: int) -> list[str]:
    return [f"{prefix}.{n}" for n in range(first, last + 1)]


SUPPORTED_VERSIONS: tuple[str, ...] = tuple(
    ["0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.6.1", "0.7.0"]
    + _series("0.7", 2, 7)
    + ["0.7.9"]
    + _series("0.8", 0, 13)
    + _series("0.9", 0, 29)
)
OLDEST = SUPPORTED_VERSIONS[0]
NEWEST = SUPPORTED_VERSIONS[-1]
SUPPORTED_RANGE = (
    f"{OLDEST} to {NEWEST} (agentmemory's own list: 0.3.0, 0.4.0, 0.5.0, 0.6.0, "
    "0.6.1, 0.7.0, 0.7.2-0.7.7, 0.7.9, 0.8.0-0.8.13, 0.9.0-0.9.29)"
)


def version_numbers(version: str) -> tuple[int, ...] | None:
    """``"0.9.29"`` → ``(0, 9, 29)``; a pre-release or build suffix is cut (``"0.2.0rc1"``,
    ``"0.9.30-beta"`` → their release); None when it does not start with a number."""
    m = re.match(r"\d+(?:\.\d+)*", version.strip())
    return tuple(int(n) for n in m.group(0).split(".")) if m else None


def is_supported(version: object) -> bool:
    return isinstance(version, str) and version in SUPPORTED_VERSIONS


def unsupported_message(version: object) -> str:
    if version is None:
        found = "no version"
    elif isinstance(version, str):
        found = f"version {version!r}"
    else:
        found = f"a version of type {type(version).__name__} ({version!r})"
    return f"agentmemory export has {found}; supported versions are {SUPPORTED_RANGE}"
