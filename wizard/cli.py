"""The command line: the parser and the subcommands' dispatch (``wizard.main`` opens the wizard
when there is no subcommand).

Exit codes: 0 done, 1 input refused, 2 usage, 3 store problem or unexpected error,
130 cancelled by Ctrl-C. No traceback ever reaches the user: unexpected errors print one line
and go to the log file with their traceback.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import io
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from wizard import APP_NAME, __version__, cli_commands
from wizard.core.names import Strategy
from wizard.core.terminal import terminal_safe
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


# What --skip-invalid does, said for the command it is given to (validate writes nothing).
_SKIP_INVALID_HELP = {
    "validate": "check the file as if its invalid records were left out: what import "
    "--skip-invalid would import",
    "import": "import the valid records of a file that has invalid ones (those left out are "
    "listed in the audit entry)",
}
_DB_HELP = "store file (default: env AGENTMEMORY_WIZARD_DB or the user data directory)"
_JSON_HELP = "print the result as JSON"


def _add_inspect_options(p: argparse.ArgumentParser, command: str) -> None:
    """The read options of validate and import, their help said for that command (validate
    checks what import would take; it writes nothing)."""
    take = "import" if command == "import" else "check (as import would take them)"
    p.add_argument("--skip-invalid", action="store_true", help=_SKIP_INVALID_HELP[command])
    p.add_argument(
        "--treat-as-version",
        metavar="X",
        help="read an agentmemory file with a missing or unknown version as version X",
    )
    p.add_argument(
        "--include-deleted",
        action="store_true",
        help=f"also {take} memories the source marks deleted (mem0's history, OpenMemory, "
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
        help=f"also {take} OpenMemory's paused and archived memories; they are kept with "
        "their state and never marked latest",
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


MAX_SIZE = 1024**5  # 1 PiB: larger sizes are typos, and SQLite's integers end at 2**63


def bounded_int(low: int, high: int, what: str) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (else a usage error, exit 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be from {low} to {high:,}, not {text}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


ENTRY_ID = bounded_int(1, 2**62, "an audit entry number")


def parse_size(text: str) -> int:
    """'4G', '500M', '1.5GB', '4GiB', '123' (bytes) -> bytes (binary units, as the messages use)."""
    m = _SIZE.match(text)
    if m is None:
        raise argparse.ArgumentTypeError(
            f"not a size: {text!r} (use e.g. 500M, 4G or a number of bytes)"
        )
    try:
        size = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    except (OverflowError, ValueError):
        size = MAX_SIZE + 1
    if size > MAX_SIZE:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range (at most 1 PiB)")
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


def output_path(text: str) -> str:
    """A file to write: its folder must exist (else a usage error that names the folder)."""
    folder = os.path.dirname(os.path.abspath(os.path.expanduser(text)))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"cannot write {text}: the folder {folder} does not exist")
    return text


# What each command takes besides its options (said when it is given more).
_TAKES = {
    "validate": "one file",
    "import": "one file",
    "revert": "one audit entry number",
}


def unknown_command(word: str) -> str:
    """The message for a word that is not a subcommand, naming the closest one."""
    close = difflib.get_close_matches(word, COMMANDS, n=1, cutoff=0.6)
    hint = f", did you mean '{close[0]}'?" if close else f" (commands: {', '.join(COMMANDS)})"
    return f"unknown command '{word}'{hint}"


_WORD = re.compile(r"[A-Za-z][A-Za-z_-]*")


def is_misspelt_command(word: str) -> bool:
    """A word close to a subcommand that is no file or folder here ('valdate'): the user meant
    the command line, not to open the window with a file that does not exist."""
    return (
        word not in COMMANDS
        and _WORD.fullmatch(word) is not None  # not a path ('export.json', 'dir/x')
        and not os.path.exists(word)
        and bool(difflib.get_close_matches(word, COMMANDS, n=1, cutoff=0.6))
    )


def opens_window(args: Sequence[str]) -> bool:
    """Whether ``agentmemory-wizard ARGS`` opens the window: no arguments, or a file to preload
    (neither a subcommand, an option, nor a misspelt subcommand, which the CLI reports)."""
    if not args:
        return True
    first = args[0]
    return first not in COMMANDS and not first.startswith("-") and not is_misspelt_command(first)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv``; arguments a command does not take are reported by that command's own
    usage, naming them (argparse's own message would show the top-level usage). Raises
    SystemExit as argparse does."""
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        parser.print_usage(sys.stderr)
        print(terminal_safe(f"{APP_NAME}: error: {unknown_command(argv[0])}"), file=sys.stderr)
        raise SystemExit(EXIT_USAGE)
    args, extra = parser.parse_known_args(argv)
    if extra:
        command = _subparsers(parser).get(args.command or "")
        if command is None:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        options = [e for e in extra if e.startswith("-")]
        if options:
            command.error(f"{args.command} has no option {options[0]}")
        takes = _TAKES.get(args.command)
        named = ", ".join(f"'{e}'" for e in extra)
        extra_word = "argument" if len(extra) == 1 else "arguments"
        if takes:
            command.error(f"{args.command} takes {takes}; the extra {extra_word}: {named}")
        command.error(f"{args.command} takes no file or other argument; got {named}")
    return args


class SafeParser(argparse.ArgumentParser):
    """argparse, whose messages quote what was typed: control characters in it are shown as
    escapes, never sent to the terminal."""

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:
            safe = "\n".join(terminal_safe(line) for line in message.split("\n"))
            super()._print_message(safe, file)


def build_parser() -> argparse.ArgumentParser:
    parser = SafeParser(
        prog=APP_NAME,
        description="Migrate mem0, OpenMemory, Letta and agentmemory exports into agentmemory's "
        "store. Without a subcommand the wizard window opens (with FILE preloaded).",
    )
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    sub = parser.add_subparsers(
        parser_class=SafeParser,
        dest="command",
        metavar="COMMAND",
        help="what to do (agentmemory-wizard COMMAND --help says more); without one, the "
        "wizard window opens",
    )

    p = sub.add_parser("validate", help="detect, convert and check a file; write nothing")
    p.add_argument("file", help="the export file, or a memory store's file or folder, to check")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--preview",
        metavar="N",
        type=bounded_int(0, 10_000, "--preview"),
        default=0,
        help="also show N converted records beside their source records (a memory, a session "
        "and an observation first)",
    )
    _add_inspect_options(p, "validate")

    p = sub.add_parser("import", help="import a file into the store")
    p.add_argument(
        "file", nargs="?", help="the export file, or a memory store's file or folder, to import"
    )
    p.add_argument(
        "--payload",
        metavar="@FILE",
        help="the file to import, in agentmemory's spelling (--payload @FILE)",
    )
    p.add_argument("--db", metavar="PATH", help=_DB_HELP)
    p.add_argument(
        "--strategy",
        choices=[str(s) for s in Strategy],
        default=str(Strategy.MERGE),
        help="; ".join(s.description.rstrip(".") for s in Strategy),
    )
    p.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    p.add_argument("--json", action="store_true", help=_JSON_HELP)
    _add_inspect_options(p, "import")

    p = sub.add_parser(
        "sources",
        help="list the memory stores found on this computer (mem0, OpenMemory, Letta); "
        "reads nothing else and writes nothing",
    )
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.add_argument(
        "--db", metavar="PATH", help="also look in the folders of the sources this store imported"
    )

    p = sub.add_parser("stats", help="record counts per collection in the store")
    p.add_argument("--db", metavar="PATH", help=_DB_HELP)
    p.add_argument("--json", action="store_true", help="print the counts as JSON")

    p = sub.add_parser("audit", help="the audit history, newest first")
    p.add_argument("--db", metavar="PATH", help=_DB_HELP)
    p.add_argument(
        "--limit",
        type=bounded_int(0, 2**31, "--limit"),
        metavar="N",
        help="show only the N newest entries",
    )
    p.add_argument("--json", action="store_true", help="print the entries as JSON")

    p = sub.add_parser("export", help="write the whole store as agentmemory ExportData")
    p.add_argument("--db", metavar="PATH", help=_DB_HELP)
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        type=output_path,
        help="the file to write (its folder must exist); with --split, the first part of the "
        "numbered files' names",
    )
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
    p.add_argument(
        "--force",
        action="store_true",
        help="replace FILE when it exists (never the store, a link or anything but a file)",
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
        type=ENTRY_ID,
        help="send only the records whose current version import N wrote (merge or skip)",
    )
    p.add_argument("--dry-run", action="store_true", help="reach the server and plan; send nothing")
    p.add_argument("--json", action="store_true", help=_JSON_HELP)
    p.add_argument("--db", metavar="PATH", help=_DB_HELP)
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
    p.add_argument(
        "audit_id", type=ENTRY_ID, help="the import's number in the audit history (see: audit)"
    )
    p.add_argument("--db", metavar="PATH", help=_DB_HELP)
    p.add_argument("--json", action="store_true", help=_JSON_HELP)

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
    p.add_argument("--db", metavar="PATH", help=_DB_HELP)
    p.add_argument(
        "--dry-run", action="store_true", help="show what would be dropped; write nothing"
    )
    p.add_argument("--json", action="store_true", help=_JSON_HELP)
    return parser


class _ClosedStream(io.TextIOBase):
    """Stands for a stream the program was started without: writing to it fails as writing to
    a closed file does (so a committed import says it could not show its result)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, _text: str) -> int:
        raise OSError(errno.EBADF, f"{self.name} is closed")

    def isatty(self) -> bool:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand (``wizard.main`` routes everything else to the window)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:  # started with that stream closed
            setattr(sys, name, _ClosedStream(name))
    parser = build_parser()
    try:
        args = _parse(parser, argv)
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
            terminal_safe(
                f"{APP_NAME}: unexpected error: {type(exc).__name__}: {redact(str(exc))} "
                f"(details in {log_path()})"
            ),
            file=sys.stderr,
        )
        return EXIT_STORE
