"""Storage layouts of the openmemory family (see the package docstring)."""

from __future__ import annotations

from wizard.core.storage import Layout

LAYOUTS: tuple[Layout, ...] = ()
