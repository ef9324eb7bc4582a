"""The program's entry point: `agentmemory-wizard [FILE]` opens the wizard, `--self-test` checks
the installed app, a subcommand runs the CLI (``wizard.cli``).

The one module that knows both shells; neither shell imports the other.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from wizard import cli


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--self-test" in args:
        from wizard.selftest import run_self_test  # Qt is imported only when it is needed

        return run_self_test()
    if not args or (args[0] not in cli.COMMANDS and not args[0].startswith("-")):
        from wizard.ui.app import run_gui

        return run_gui(args)
    return cli.main(args)
