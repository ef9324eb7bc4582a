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
    gui_args = _without_db(args)
    if cli.opens_window(gui_args):
        from wizard.ui.app import run_gui

        return run_gui(args)
    return cli.main(args)


def _without_db(args: list[str]) -> list[str]:
    """The arguments without a leading ``--db PATH`` (the GUI takes it too: the store to open)."""
    if args[:1] == ["--db"] and len(args) >= 2:
        return args[2:]
    if args[:1] and args[0].startswith("--db="):
        return args[1:]
    return args
