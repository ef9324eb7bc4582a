"""Storage layouts of the letta_code family (see the package docstring)."""

from __future__ import annotations

from wizard.core.storage import Layout

LAYOUTS: tuple[Layout, ...] = ()
