"""The command line: the parser and the subcommands' dispatch (``wizard.main`` opens the wizard
when there is no subcommand).

Exit codes: 0 done, 1 input refused, 2 usage, 3 store problem or unexpected error,
130 cancelled by Ctrl-C. No traceback ever reaches the user: unexpected errors print one line
and go to the log file with their traceback.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from datetime import timedelta

from wizard import APP_NAME, __version__, cli_commands
from wizard.core.names import Strategy
from wizard.crashlog import log_crash, log_path, redact
from wizard.exit_codes import EXIT_CANCELLED, EXIT_OK, EXIT_STORE, EXIT_USAGE
from wizard.remote.client import DEFAULT_URL
from wizard.runs.pruning import MAX_AGE, check_age

COMMANDS = (
    "validate",
    "import",
    "stats",
    "audit",
    "export",
    "revert",
    "deliver",
    "prune",
    "sources",
)


def _add_inspect_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="import the valid records of a file that has invalid ones",
    )
    p.add_argument(
        "--treat-as-version",
        metavar="X",
        help="read an agentmemory file with a missing or unknown version as version X",
    )
    p.add_argument(
        "--include-deleted",
        action="store_true",
        help="also import memories the source marks deleted (mem0's history, OpenMemory, "
        "Letta); they are kept with their state and never marked latest",
    )
    p.add_argument(
        "--vectors",
        metavar="QDRANT_DIR",
        help="with a mem0 history.db: its Qdrant local folder, read with it as one mem0 "
        "install (whose memory each one is, and its full payload)",
    )
    p.add_argument(
        "--include-inactive",
        action="store_true",
        help="also import OpenMemory's paused and archived memories; they are kept with their "
        "state and never marked latest",
    )
    p.add_argument(
        "--max-size",
        metavar="SIZE",
        type=parse_size,
        default=None,
        help="largest input accepted, after decompression (default 2G; e.g. 500M, 4G, 4GiB, "
        "or bytes)",
    )


_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'4G', '500M', '1.5GB', '4GiB', '123' (bytes) -> bytes (binary units, as the messages use)."""
    m = _SIZE.match(text)
    if m is None:
        raise argparse.ArgumentTypeError(
            f"not a size: {text!r} (use e.g. 500M, 4G or a number of bytes)"
        )
    size = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    if size < 1:
        raise argparse.ArgumentTypeError(f"the size must be at least 1 byte, not {text!r}")
    return size


_AGE_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
_AGE = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.IGNORECASE)


def parse_age(text: str) -> timedelta:
    """'90d', '12h', '2w' -> the age (hours, days or weeks), within the prune run's range."""
    m = _AGE.match(text)
    if m is None:
        raise argparse.ArgumentTypeError(f"not an age: {text!r} (use e.g. 90d, 12h or 2w)")
    try:
        age = timedelta(**{_AGE_UNITS[m.group(2).lower()]: int(m.group(1))})
        check_age(age)
    except OverflowError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is out of range (at most {MAX_AGE.days}d)"
        ) from None
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return age


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=APP_NAME,
        description="Migrate mem0, OpenMemory, Letta and agentmemory exports into agentmemory's "
        "store. Without a subcommand the wizard window opens (with FILE preloaded).",
    )
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("validate", help="detect, convert and check a file; write nothing")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--preview",
        metavar="N",
        type=int,
        default=0,
        help="also show N converted records beside their source records (a memory, a session "
        "and an observation first)",
    )
    _add_inspect_options(p)

    p = sub.add_parser("import", help="import a file into the store")
    p.add_argument("file", nargs="?")
    p.add_argument("--payload", metavar="@FILE", help="agentmemory's spelling: --payload @FILE")
    p.add_argument(
        "--db",
        metavar="PATH",
        help="store file (default: env AGENTMEMORY_WIZARD_DB or the user data directory)",
    )
    p.add_argument(
        "--strategy",
        choices=[str(s) for s in Strategy],
        default=str(Strategy.MERGE),
        help="; ".join(s.description for s in Strategy),
    )
    p.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    p.add_argument("--json", action="store_true")
    _add_inspect_options(p)

    p = sub.add_parser(
        "sources",
        help="list the memory stores found on this computer (mem0, OpenMemory, Letta); "
        "reads nothing else and writes nothing",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--db", metavar="PATH", help="also look in the folders of the sources this store imported"
    )

    p = sub.add_parser("stats", help="record counts per collection in the store")
    p.add_argument("--db", metavar="PATH")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("audit", help="the audit history, newest first")
    p.add_argument("--db", metavar="PATH")
    p.add_argument("--limit", type=int, metavar="N")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("export", help="write the whole store as agentmemory ExportData")
    p.add_argument("--db", metavar="PATH")
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument(
        "--split",
        metavar="SIZE",
        type=parse_size,
        help="write numbered files instead (FILE.001.json...), each a whole request body for "
        "agentmemory's import ({exportData, strategy}) under SIZE, e.g. 15MiB",
    )
    p.add_argument(
        "--strategy",
        choices=[str(s) for s in Strategy],
        default=str(Strategy.MERGE),
        help="the strategy written into split files (replace: the first file empties the "
        "server, the others merge)",
    )
    p.add_argument("--with-source", action="store_true", help="keep the verbatim source copies")

    p = sub.add_parser("deliver", help="send the store into a running agentmemory")
    p.add_argument(
        "--to", metavar="URL", default=DEFAULT_URL, help=f"the server (default {DEFAULT_URL})"
    )
    p.add_argument(
        "--strategy",
        choices=[str(s) for s in Strategy],
        default=str(Strategy.MERGE),
        help="how the records meet the server's (replace empties the server first, once)",
    )
    p.add_argument(
        "--audit-id",
        metavar="N",
        type=int,
        help="send only the records whose current version import N wrote (merge or skip)",
    )
    p.add_argument("--dry-run", action="store_true", help="reach the server and plan; send nothing")
    p.add_argument("--json", action="store_true")
    p.add_argument("--db", metavar="PATH")
    p.add_argument(
        "--token-file",
        metavar="FILE",
        help="read the secret from FILE (default: AGENTMEMORY_SECRET, ~/.agentmemory/.env, "
        "~/.agentmemory/secret)",
    )
    p.add_argument("--with-source", action="store_true", help="send the verbatim source copies too")
    p.add_argument(
        "--allow-remote-http",
        action="store_true",
        help="send the secret over plain http to another machine (it travels unencrypted)",
    )

    p = sub.add_parser("revert", help="undo a successful import")
    p.add_argument("audit_id", type=int)
    p.add_argument("--db", metavar="PATH")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "prune",
        help="drop the revert data of old audit entries (those imports can no longer be "
        "reverted) and shrink the store file",
    )
    p.add_argument(
        "--older-than",
        metavar="AGE",
        type=parse_age,
        required=True,
        help="entries older than AGE: a number of hours, days or weeks (12h, 90d, 2w)",
    )
    p.add_argument("--db", metavar="PATH")
    p.add_argument(
        "--dry-run", action="store_true", help="show what would be dropped; write nothing"
    )
    p.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand (``wizard.main`` routes everything else to the window)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version exit 0, usage errors exit 2
        return int(exc.code or 0)
    if not args.command:
        parser.print_usage(sys.stderr)
        return EXIT_USAGE
    try:
        return cli_commands.run(args)
    except KeyboardInterrupt:
        print(f"{APP_NAME}: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # never a traceback on the terminal
        log_crash(exc)
        print(
            f"{APP_NAME}: unexpected error: {type(exc).__name__}: {redact(str(exc))} "
            f"(details in {log_path()})",
            file=sys.stderr,
        )
        return EXIT_STORE
