"""The CLI's subcommands: validate, import, stats, audit, export, revert, deliver, prune.

Each drives a run (``wizard.runs``) or reads the store; none decides what is audited or refused.
Human output by default, ``--json`` for machines (stdout only ever carries the result). A
progress bar goes to stderr when it is a terminal. Ctrl-C during an import asks it to stop at
the next chunk (rolled back and audited, exit 130); a second Ctrl-C interrupts at once (also
rolled back and audited).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, TypeVar

from wizard import APP_NAME, runs
from wizard.core import preview
from wizard.core.chunking import FRAME_BYTES
from wizard.core.fastjson import escaped_all
from wizard.core.inspection import Inspection, InspectOptions
from wizard.core.names import ErrorKind, Outcome, Strategy
from wizard.core.outputs import OutputRefused, check_output, protected_paths
from wizard.core.problems import Cancelled, Code
from wizard.core.report import Report
from wizard.core.report_text import left_behind_lines, report_lines
from wizard.core.terminal import json_terminal_safe, terminal_safe
from wizard.crashlog import log_crash, log_path
from wizard.exit_codes import (
    EXIT_CANCELLED,
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_STORE,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
)
from wizard.remote.client import BadURL, Client
from wizard.remote.secret import BadSecret, find_secret
from wizard.runs import ImportResult, delivering, pruning
from wizard.runs.sources import find_sources
from wizard.store.audit import list_entries
from wizard.store.database import (
    Store,
    StoreError,
    move_aside_hint,
    open_store,
    resolve_db_path,
    scratch_store,
)
from wizard.store.exporter import export_store

R = TypeVar("R")  # what a run returns


def run(args: argparse.Namespace) -> int:
    """Run one subcommand; returns the exit code."""
    handlers = {
        "validate": cmd_validate,
        "import": cmd_import,
        "stats": cmd_stats,
        "audit": cmd_audit,
        "export": cmd_export,
        "revert": cmd_revert,
        "deliver": cmd_deliver,
        "prune": cmd_prune,
        "sources": cmd_sources,
    }
    handler = handlers.get(args.command)
    if handler is None:
        _err(f"unknown command {args.command!r}")
        return EXIT_USAGE
    try:
        return handler(args)
    except NoStore as exc:
        _err(str(exc))
        return EXIT_USAGE
    except StoreError as exc:
        _store_err(exc)
        return EXIT_STORE


# ---------------------------------------------------------------- output helpers


def _err(message: str) -> None:
    _say(f"{APP_NAME}: {message}", file=sys.stderr)


def _say(text: str, file: Any = None) -> None:
    """One line of output: names and record text in it are never sent raw to the terminal,
    nor can a line break inside a name forge another line (``core.terminal``)."""
    print(terminal_safe(text), file=file)


# What the command line offers for a store problem, by its kind.
STORE_ADVICE = {
    ErrorKind.READONLY: "Choose a writable file with --db, or fix the permissions",
    ErrorKind.CORRUPT: "Choose another file with --db",
    ErrorKind.NEWER_SCHEMA: "Update the app, or choose another store with --db",
}


def _advised(message: str, kind: object) -> str:
    """A store problem's message with what the command line offers for its kind."""
    advice = STORE_ADVICE.get(kind) if isinstance(kind, ErrorKind) else None
    return f"{message}. {advice}" if advice else message


def _store_err(exc: StoreError) -> None:
    """A store problem in one line (with what to do about it); for a damaged store, a second
    line saying how to start a new one without losing the old file."""
    _err(_advised(exc.message, exc.kind))
    if exc.kind == ErrorKind.CORRUPT and exc.path is not None and exc.path.is_file():
        _err(move_aside_hint(exc.path))


def _print_json(obj: Any) -> None:
    print(json_terminal_safe(json.dumps(escaped_all(obj), indent=2, ensure_ascii=False)))


class ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    WIDTH = 30

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._last = 0.0
        self._shown = False

    def update(self, label: str, done: int, total: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        frac = min(1.0, done / total) if total else 0.0
        filled = int(frac * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        text = f"\r[{bar}] {frac * 100:5.1f}% {label} {done}/{total}" if total else f"\r{label}"
        sys.stderr.write(terminal_safe(text)[:120].ljust(80))
        sys.stderr.flush()
        self._shown = True

    def clear(self) -> None:
        if self.enabled and self._shown:
            sys.stderr.write("\r" + " " * 80 + "\r")
            sys.stderr.flush()
            self._shown = False


@contextlib.contextmanager
def _ctrl_c_cancels(flag: threading.Event) -> Iterator[None]:
    """First Ctrl-C sets ``flag`` (stop at the next chunk); a second one interrupts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: object) -> None:
        if flag.is_set():
            raise KeyboardInterrupt
        flag.set()

    old = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


class NoStore(Exception):
    """A command that reads the store was pointed at a file that does not exist (it would
    otherwise create an empty store and answer about it)."""


def _open(args: argparse.Namespace, *, create: bool = False, readonly: bool = False) -> Store:
    """The store of ``--db`` (or the default one). Only ``import`` creates it: every other
    command refuses a store that does not exist, so a mistyped path is not taken for an empty
    store (or, for ``deliver --strategy replace``, an order to empty the server)."""
    path = resolve_db_path(getattr(args, "db", None))
    if not create and not path.exists():
        raise NoStore(f"no store at {path}: import a file first, or name the store with --db")
    store = open_store(path, readonly=readonly)
    store.program = f"`{APP_NAME} {args.command}` on the command line"  # named if it locks
    return store


# ---------------------------------------------------------------- validate, import


def inspect_options(args: argparse.Namespace) -> InspectOptions:
    """The read options of ``validate`` and ``import``."""
    extra = {"max_bytes": args.max_size} if getattr(args, "max_size", None) else {}
    return InspectOptions(
        skip_invalid=args.skip_invalid,
        treat_as_version=args.treat_as_version,
        include_deleted=args.include_deleted,
        include_inactive=args.include_inactive,
        vectors=getattr(args, "vectors", None),
        **extra,
    )


MIN_SPLIT = 64 * 1024  # export --split: smaller files are not worth a request each
MAX_WARNINGS = 10  # warnings repeated after an import (validate lists them all)

# What the command line offers for a problem, by its code (the message says what and where).
ADVICE = {
    Code.SIZE_LIMIT: "raise the size limit with --max-size, e.g. --max-size 4G",
    Code.INACTIVE_LEFT_OUT: "include them with --include-inactive; they keep their state and are "
    "never marked latest",
    Code.DELETED_LEFT_OUT: "include them with --include-deleted; they keep their state and are "
    "never marked latest",
    Code.INVALID_RECORD: "import only the valid records with --skip-invalid",
    Code.VERSION_MISSING: "read it as a version you know with --treat-as-version X",
    Code.VERSION_UNSUPPORTED: "read it as a version you know with --treat-as-version X",
}


def _needs_size_advice(problems: list) -> bool:
    return any(p.code == Code.SIZE_LIMIT for p in problems)


def advice_lines(report: Report) -> list[str]:
    """The options that answer the report's problems, once each."""
    seen: list[str] = []
    for problem in [*report.errors, *report.warnings]:
        text = ADVICE.get(problem.code)
        if text is not None and text not in seen:
            seen.append(text)
    return [f"  ({text})" for text in seen]


def cmd_validate(args: argparse.Namespace) -> int:
    """Read and check a file; writes nothing, audits nothing."""
    if args.preview < 0:
        _err("--preview must be 0 or more")
        return EXIT_USAGE
    inspection = runs.read(args.file, inspect_options(args))
    data = inspection.data
    shown = preview.samples(data, args.preview, inspection.format) if data else []
    if args.json:
        out = inspection.report.to_dict()
        if args.preview:
            out["preview"] = [item.to_dict() for item in shown]
        _print_json(out)
    else:
        for line in report_lines(inspection.report, inspection.source.name):
            _say(line)
        for line in advice_lines(inspection.report):
            _say(line)
        for line in _preview_lines(shown):
            _say(line)
    return EXIT_OK if inspection.ok else EXIT_REFUSED


def _preview_lines(items: list[preview.PreviewItem]) -> list[str]:
    """Each previewed record as agentmemory will hold it, then the source record."""
    if not items:
        return []
    lines = [f"  preview ({len(items)} record{'s' if len(items) != 1 else ''}):"]
    for item in items:
        lines.append(f"    {item.label}")
        for title, value in (("agentmemory record", item.converted), ("source", item.source)):
            lines.append(f"      {title}:")
            lines.extend("        " + line for line in preview.as_text(value).splitlines())
    return lines


def _import_path(args: argparse.Namespace) -> str | None:
    payload = getattr(args, "payload", None)
    if payload and args.file:
        return None
    if payload:
        return payload[1:] if payload.startswith("@") else payload
    return args.file


def _empty_result(
    args: argparse.Namespace, fmt: str | None, error: str, code: ErrorKind | Code | None
) -> dict:
    """The ``import --json`` object of an import that wrote nothing and has no result."""
    outcome = Outcome.CANCELLED if code == ErrorKind.CANCELLED else Outcome.FAILED
    return runs.unfinished_result(
        Strategy(args.strategy), fmt, outcome, error, code, dry_run=bool(args.dry_run)
    ).to_dict()


def cmd_import(args: argparse.Namespace) -> int:
    """Read a file, then run the import (or the dry run) on it."""
    path = _import_path(args)
    if not path:
        _err("import needs one file: `import FILE` or `import --payload @FILE`")
        return EXIT_USAGE
    strategy = Strategy(args.strategy)
    target = resolve_db_path(getattr(args, "db", None))
    try:
        if args.dry_run and not target.exists():  # a dry run creates nothing: plan on empty
            store_context: Any = scratch_store()
        else:
            store_context = _open(args, create=True)
    except StoreError as exc:
        if args.json:
            _print_json(_empty_result(args, None, exc.message, exc.kind))
        _store_err(exc)
        return EXIT_STORE

    bar = ProgressBar()
    flag = threading.Event()
    with store_context as store, _ctrl_c_cancels(flag):
        try:  # the read run: writes nothing, so a cancelled read leaves no trace
            inspection = runs.read(
                path,
                inspect_options(args),
                progress=lambda phase, done, total: bar.update(str(phase), done, total),
                cancel=flag.is_set,
            )
        except (Cancelled, KeyboardInterrupt):
            bar.clear()
            if args.json:
                _print_json(
                    _empty_result(
                        args,
                        None,
                        "cancelled by the user; nothing was written",
                        ErrorKind.CANCELLED,
                    )
                )
            _err("cancelled; nothing was written")
            return EXIT_CANCELLED
        bar.clear()

        result: ImportResult | None
        if args.dry_run:
            result = runs.dry_run(store, inspection, strategy)
        else:
            result = _drive_import(store, inspection, strategy, bar, flag)
        bar.clear()
    if result is None:
        if args.json:
            _print_json(
                _empty_result(
                    args, inspection.format, "cancelled; nothing was written", ErrorKind.CANCELLED
                )
            )
        _err("cancelled; nothing was written")
        return EXIT_CANCELLED
    if result.outcome == Outcome.REFUSED:
        return _refused(args, inspection, result)
    try:
        if result.earlier_imports:
            _err(_earlier_note(result.earlier_imports))
        _import_output(args, store, inspection, result)
        sys.stdout.flush()
    except (OSError, ValueError) as exc:  # a full or closed stdout: the import stands
        if not result.ok or result.dry_run:
            raise
        with contextlib.suppress(OSError, ValueError):
            _err(
                f"import committed (audit entry #{result.audit_id}), but its result could not "
                f"be written: {getattr(exc, 'strerror', None) or exc}"
            )
        return EXIT_OK
    if result.ok:
        return EXIT_OK
    if result.outcome == Outcome.CANCELLED:
        return EXIT_CANCELLED
    if result.error_code == ErrorKind.INTERNAL and result.exception is not None:
        log_crash(result.exception)
        _err(f"details in {log_path()}")
    if result.error_code == ErrorKind.CORRUPT and store.path.is_file():
        _err(move_aside_hint(store.path))
    return EXIT_STORE


def _drive_import(
    store: Store,
    inspection: Inspection,
    strategy: Strategy,
    bar: ProgressBar,
    flag: threading.Event,
) -> ImportResult | None:
    """Run the import to its end; None when a second Ctrl-C interrupted it (rolled back and
    audited by the run)."""
    gen = runs.import_steps(store, inspection, strategy, cancel=flag.is_set)

    def show(p: runs.Progress) -> None:
        label = f"{p.phase} {p.collection}" if p.collection else str(p.phase)
        bar.update(label, p.done, p.total)

    return _drive_shown(gen, show)


def _drive_shown(gen: Generator[Any, None, R], show: Callable[[Any], None]) -> R | None:
    """Run a run's steps to their end, showing each; None when a second Ctrl-C interrupted it
    (the run rolled back and audited what it had to)."""
    try:
        return runs.drive(gen, show)
    except KeyboardInterrupt:
        return None


def _earlier_note(audit_ids: list[int]) -> str:
    """Imports of the same file made with other ids by an earlier version (README: Upgrading)."""
    listed = ", ".join(f"#{n}" for n in audit_ids)
    first = audit_ids[0]
    return (
        f"note: this file was imported before by an earlier version of the wizard (import "
        f"{listed}), whose records have other ids; importing it again leaves those records in "
        f"place. To replace them, revert that import first ({APP_NAME} revert {first}), then "
        "import the file again (README: Upgrading)"
    )


def _refused(args: argparse.Namespace, inspection: Any, result: ImportResult) -> int:
    errors = inspection.report.errors
    first = str(errors[0]) if errors else "the file cannot be imported"
    more = (
        f" (and {len(errors) - 1} more problems; `validate` lists them all)"
        if len(errors) > 1
        else ""
    )
    message = f"{inspection.source.name}: refused: {first}{more}"
    if _needs_size_advice(errors[:1]):
        message += "; raise it with --max-size (e.g. --max-size 4G)"
    if result.audit_error is not None and not args.dry_run:
        _err(f"(the refusal could not be audited: {result.audit_error})")
    if args.json:
        out = result.to_dict()
        out["error"] = message
        _print_json(out)
    _err(message)
    return EXIT_REFUSED


def _warning_lines(report: Report) -> list[str]:
    """The file's warnings and what it leaves behind, repeated after an import."""
    lines = [f"Warning: {p}" for p in report.warnings[:MAX_WARNINGS]]
    if len(report.warnings) > MAX_WARNINGS:
        lines.append(f"... and {len(report.warnings) - MAX_WARNINGS} more warnings (`validate`)")
    if report.left_behind:
        lines.append("Left behind:")
        lines.extend(line[2:] for line in left_behind_lines(report)[1:])
    return lines


def _import_output(
    args: argparse.Namespace, store: Store, inspection: Inspection, result: ImportResult
) -> None:
    if args.json:
        _print_json(result.to_dict())
        if not result.ok:
            _err(_advised(result.error or str(result.outcome), result.error_code))
        return
    name = inspection.source.name
    version = inspection.report.source_version
    fmt = f"{result.format} {version}" if version else str(result.format)
    if result.dry_run:
        target = resolve_db_path(getattr(args, "db", None))
        where = target if target.exists() else f"{target} (a new store: nothing is created yet)"
        head = (
            f"Dry run: importing {name} ({fmt}) with strategy {result.strategy} into "
            f"{where} would change:"
        )
    elif result.ok:
        head = f"Imported {name} ({fmt}) with strategy {result.strategy} into {store.path}:"
    else:
        head = f"Import of {name} {result.outcome}: {result.error}"
    _say(head)
    if result.ok:
        cols = ("inserted", "updated", "unchanged", "skipped", "deleted")
        width = max([len(n) for n in result.collections] + [10])
        _say("  " + "collection".ljust(width) + "".join(c.rjust(11) for c in cols))
        for n, p in result.collections.items():
            d = p.to_dict()
            _say("  " + n.ljust(width) + "".join(str(d[c]).rjust(11) for c in cols))
        stats = ", ".join(f"{k} {v}" for k, v in result.stats.items())
        _say(f"Stats (as agentmemory counts them: every record written): {stats}")
        for line in _warning_lines(inspection.report):
            _say(line)
    if result.audit_id is not None:
        hint = f" (undo with: {APP_NAME} revert {result.audit_id})" if result.ok else ""
        _say(f"Audit entry #{result.audit_id}{hint}")
    if not result.ok:
        _err(_advised(result.error or str(result.outcome), result.error_code))


# ---------------------------------------------------------------- stats, audit


def cmd_sources(args: argparse.Namespace) -> int:
    found = find_sources(resolve_db_path(args.db))
    if args.json:
        _print_json([f.to_dict() for f in found])
        return EXIT_OK
    if not found:
        _say("No memory stores found at mem0's, OpenMemory's or Letta's usual places.")
        return EXIT_OK
    for f in found:
        size = f"{f.size:,} bytes" if f.size is not None else ""
        parts = [f.kind, f.path]
        if f.vectors:
            parts.append(f"with {f.vectors}")
        parts += [p for p in (size, f.modified or "") if p]
        if f.counts:
            parts.append(", ".join(f"{n:,} {what}" for what, n in f.counts.items()))
        _say("  ".join(parts))
        if not f.readable:
            _say(f"    cannot be read: {f.reason}")
        else:
            vectors = f" --vectors {shlex.quote(f.vectors)}" if f.vectors else ""
            _say(f"    import with: {APP_NAME} import {shlex.quote(f.path)}{vectors}")
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    with _open(args, readonly=True) as store:
        counts = store.counts()
    if args.json:
        _print_json(counts)
        return EXIT_OK
    _say(f"Store: {store.path}")
    width = max(len(n) for n in counts)
    for name, n in counts.items():
        _say(f"  {name.ljust(width)} {n:>9}")
    _say(f"  {'total'.ljust(width)} {sum(counts.values()):>9}")
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 0:
        _err("--limit must be 0 or more")
        return EXIT_USAGE
    with _open(args, readonly=True) as store:
        entries = list_entries(store, args.limit)
    if args.json:
        _print_json(entries)
        return EXIT_OK
    if not entries:
        _say(f"No audit entries in {store.path}")
    for e in entries:
        src = (e["source"] or {}).get("name") or (
            f"import #{e['target_id']}" if e["target_id"] else ""
        )
        parts = [f"#{e['id']}", e["timestamp"], e["operation"], e["outcome"]]
        if e["strategy"]:
            parts.append(e["strategy"])
        if e["format"]:
            parts.append(e["format"] + (f" {e['source_version']}" if e["source_version"] else ""))
        if src:
            parts.append(src)
        stats = (e["counts"] or {}).get("stats")
        if stats and e["outcome"] == Outcome.SUCCEEDED:
            parts.append(", ".join(f"{k} {v}" for k, v in stats.items()))
        if e["reverted_by"]:
            parts.append(f"(reverted by #{e['reverted_by']})")
        if e.get("pruned_by"):
            parts.append(f"(revert data pruned by #{e['pruned_by']})")
        if e["error"]:
            parts.append(f"error: {e['error']}")
        _say("  ".join(parts))
    return EXIT_OK


# ---------------------------------------------------------------- export, revert


def _output_refused(args: argparse.Namespace) -> str | None:
    """Why ``--out`` cannot be written (the store, a link, an existing file without --force),
    or None."""
    protected = protected_paths(resolve_db_path(getattr(args, "db", None)))
    try:
        check_output(args.out, protected=protected, force=getattr(args, "force", False))
    except OutputRefused as exc:
        return str(exc)
    return None


def cmd_export(args: argparse.Namespace) -> int:
    refused = _output_refused(args)
    if refused is not None:
        _err(refused)
        return EXIT_USAGE
    if args.split is not None:
        return _export_split(args)
    with _open(args, readonly=True) as store:
        try:
            counts = export_store(store, args.out)
        except OSError as exc:
            _err(f"cannot write {args.out}: {exc.strerror or exc}")
            return EXIT_STORE
    total = sum(counts.values())
    detail = ", ".join(f"{k} {v}" for k, v in counts.items())
    _say(f"Exported {total} records ({detail}) from {store.path} to {args.out}")
    return EXIT_OK


def _export_split(args: argparse.Namespace) -> int:
    """Numbered request bodies under SIZE, for delivering by hand (docs/DELIVERY.md 10)."""
    if args.split < MIN_SPLIT:
        _err(f"--split must be at least {MIN_SPLIT // 1024} KiB")
        return EXIT_USAGE
    if args.split > FRAME_BYTES:
        _err("--split can be at most 15MiB: agentmemory refuses larger requests")
        return EXIT_USAGE
    leftovers = delivering.split_leftovers(Path(args.out))
    if leftovers:
        _err(
            f"{len(leftovers)} file(s) of an earlier split are there ({leftovers[0]}...): "
            "remove them or choose another --out, so no stale file is sent with the new ones"
        )
        return EXIT_USAGE
    with _open(args, readonly=True) as store:
        try:
            written = delivering.export_split(
                store, Path(args.out), args.split, Strategy(args.strategy), args.with_source
            )
        except OutputRefused as exc:
            _err(str(exc))
            return EXIT_USAGE
        except OSError as exc:
            _err(f"cannot write {args.out}: {exc.strerror or exc}")
            return EXIT_STORE
    for path, size, counts in written.files:
        detail = ", ".join(f"{k} {v}" for k, v in counts.items()) or "empty: the wipe"
        _say(f"{path}  {size:,} bytes  ({detail})")
    if written.too_big:
        _err(
            f"{len(written.too_big)} record(s) too big for any request were left out: "
            + ", ".join(written.too_big[:10])
        )
        return EXIT_INCOMPLETE
    return EXIT_OK


# -- deliver ---------------------------------------------------------------------------------------
DELIVER_EXITS = {
    ErrorKind.SERVER_REFUSED: EXIT_REFUSED,
    ErrorKind.NOT_DELIVERABLE: EXIT_USAGE,
    ErrorKind.UNREACHABLE: EXIT_UNREACHABLE,
    ErrorKind.UNAUTHORIZED: EXIT_UNREACHABLE,
    ErrorKind.INCOMPLETE: EXIT_INCOMPLETE,
    ErrorKind.CANCELLED: EXIT_CANCELLED,
}


# What the command line offers for a delivery problem, by its kind.
DELIVER_ADVICE = {
    ErrorKind.UNAUTHORIZED: "Check the secret: AGENTMEMORY_SECRET, ~/.agentmemory/.env, "
    "~/.agentmemory/secret, or --token-file FILE",
    ErrorKind.UNREACHABLE: "Start agentmemory, or give its address with --to URL",
}
RESUME_ADVICE = "run the same command again to resume"


def cmd_deliver(args: argparse.Namespace) -> int:
    """Send the store (or one import's records) into a running agentmemory."""
    strategy = Strategy(args.strategy)
    if args.audit_id is not None and strategy.deletes_all:
        _err(
            "replace empties the whole server first: it can only send the whole store, not "
            "the records of one import (use --strategy merge or skip, or leave out --audit-id)"
        )
        return EXIT_USAGE
    try:
        secret = find_secret(args.token_file)
    except OSError as exc:
        _err(f"cannot read the secret from {args.token_file}: {exc.strerror or exc}")
        return EXIT_USAGE
    except BadSecret as exc:
        _err(str(exc))
        return EXIT_USAGE
    if args.token_file is not None and not secret:
        _err(f"the token file {args.token_file} is empty")
        return EXIT_USAGE
    try:
        client = Client(args.to, secret)
    except BadURL as exc:
        _err(str(exc))
        return EXIT_USAGE
    if client.insecure and not args.allow_remote_http:
        _err(
            f"{client.url} is another machine over plain http: the secret would travel "
            "unencrypted. Use https, or --allow-remote-http if you accept that"
        )
        return EXIT_USAGE
    if not secret:
        _err(
            "no secret found (AGENTMEMORY_SECRET, ~/.agentmemory/.env, ~/.agentmemory/secret): "
            "requests go without auth"
        )
    options = delivering.tuned(
        delivering.DeliverOptions(
            strategy=strategy,
            audit_id=args.audit_id,
            with_source=args.with_source,
            dry_run=args.dry_run,
        )
    )
    bar = ProgressBar()
    flag = threading.Event()
    with _open(args) as store, _ctrl_c_cancels(flag):
        gen = delivering.deliver_steps(
            store, client, options, cancel=flag.is_set, secret_from=secret.where
        )

        def show(p: delivering.DeliveryProgress) -> None:
            label = (
                f"{p.phase} chunk {p.chunk} ({p.records_sent:,} records)"
                if p.chunk
                else str(p.phase)
            )
            bar.update(label, p.bytes_sent, p.bytes_total)

        result = _drive_shown(gen, show)
        bar.clear()
    if result is None:
        _err("interrupted: run the same command again to resume")
        return EXIT_CANCELLED
    if args.json:
        _print_json(result.to_dict())
    else:
        for line in _delivery_lines(result):
            _say(line)
    if not result.ok:
        advice = DELIVER_ADVICE.get(result.error_code) if result.error_code else None
        if result.resumable:
            advice = f"{advice}; {RESUME_ADVICE}" if advice else RESUME_ADVICE.capitalize()
        message = result.error or str(result.outcome)
        stop = "" if message.endswith((".", "?", "!")) else "."
        _err(f"{message}{stop} {advice}" if advice else message)
    if result.ok:
        return EXIT_OK
    if result.error_code in DELIVER_EXITS:
        return DELIVER_EXITS[result.error_code]
    return EXIT_STORE


def _delivery_lines(result: delivering.DeliveryResult) -> list[str]:
    """What a delivery did (or would do), for people."""
    if result.server_version is None and result.declared_version is None:
        # it stopped before the server was reached: the error line says why
        return [] if result.audit_id is None else [f"Audit entry #{result.audit_id}"]
    what = "the whole store" if result.scope == "store" else f"import #{result.scope[7:]}"
    verb = "Would send" if result.dry_run else "Sent"
    lines = [
        f"{verb} {what} to {result.url} (agentmemory {result.server_version or 'unknown'}; "
        f"declared version {result.declared_version}) with strategy {result.strategy}",
        f"  secret: from {result.secret_from}",
    ]
    if result.restarted:
        lines.append(f"  {result.restarted}")
    if result.resumed:
        lines.append(
            f"  resumed delivery #{result.delivery_id}: {result.already} chunk(s) already "
            "acknowledged were not sent again"
        )
    sent = ", ".join(f"{k} {v}" for k, v in result.sent.items()) or "nothing"
    lines.append(f"  {result.chunks} chunk(s), {result.bytes / 1024 / 1024:.1f} MB: {sent}")
    if result.would_wipe:
        wipe = ", ".join(f"{k} {v}" for k, v in result.would_wipe.items())
        lines.append(f"  replace would first delete everything on the server ({wipe}, ...)")
    if result.server_stats:
        stats = ", ".join(f"{k} {v}" for k, v in result.server_stats.items())
        lines.append(f"  the server counted: {stats}")
    if not result.dry_run and result.outcome in (Outcome.SUCCEEDED, Outcome.FAILED):
        if result.verified:
            lines.append("  verified: every record sent is on the server")
        for name, n in result.missing_counts.items():
            shown = ", ".join(result.missing.get(name, [])[:10])
            lines.append(f"  missing on the server: {n} {name} ({shown})")
        if result.unverified:
            lines.append("  could not be read back: " + ", ".join(result.unverified))
    if result.too_big:
        lines.append(
            f"  too big for any request, not sent: {', '.join(result.too_big[:10])}"
            + (f" and {len(result.too_big) - 10} more" if len(result.too_big) > 10 else "")
        )
    if result.audit_id is not None:
        lines.append(f"Audit entry #{result.audit_id}")
    return lines


def cmd_revert(args: argparse.Namespace) -> int:
    with _open(args) as store:
        result = runs.revert(store, args.audit_id)
    if args.json:
        _print_json(result.to_dict())
    elif result.ok:
        removed = ", ".join(f"{k} {v}" for k, v in result.removed.items()) or "none"
        restored = ", ".join(f"{k} {v}" for k, v in result.restored.items()) or "none"
        _say(
            f"Reverted import #{result.target_id}: removed the records it added ({removed}); "
            f"restored the previous versions ({restored}). Audit entry #{result.audit_id}"
        )
    if not result.ok:
        _err(result.error or "revert refused")
        return EXIT_REFUSED
    return EXIT_OK


# -- prune -----------------------------------------------------------------------------------------
IMPORTS_NAMED = 20  # how many imports the human output of prune names


def cmd_prune(args: argparse.Namespace) -> int:
    """Drop the revert data of entries older than ``--older-than`` (or say what would go)."""
    bar = ProgressBar()
    flag = threading.Event()
    with _open(args) as store, _ctrl_c_cancels(flag):
        gen = pruning.prune_steps(store, args.older_than, dry_run=args.dry_run, cancel=flag.is_set)

        def show(step: pruning.PruneStep) -> None:
            bar.update(str(step.phase), step.done, step.total)

        result = _drive_shown(gen, show)
        bar.clear()
    if result is None:
        _err("interrupted; no revert data was dropped")
        return EXIT_CANCELLED
    if args.json:
        _print_json(result.to_dict())
    else:
        for line in _prune_lines(store, result):
            _say(line)
    if result.compact_error:
        _err(result.compact_error)
    if result.ok:
        return EXIT_OK
    _err(_advised(result.error or str(result.outcome), result.error_code))
    if result.outcome == Outcome.CANCELLED:
        return EXIT_CANCELLED
    if result.error_code == ErrorKind.INTERNAL and result.exception is not None:
        log_crash(result.exception)
        _err(f"details in {log_path()}")
    return EXIT_STORE


def _prune_lines(store: Store, result: pruning.PruneResult) -> list[str]:
    """What a prune did (or would do), for people."""
    what = f"revert data older than {result.older_than} (before {result.cutoff})"
    if not result.ok:
        return [] if result.audit_id is None else [f"Audit entry #{result.audit_id}"]
    if result.dry_run:
        lines = [f"Dry run: pruning {what} in {store.path} would:"]
        drop, imports = "drop", "make these imports impossible to revert"
    else:
        lines = [f"Pruned {what} in {store.path}:"]
        drop, imports = "dropped", "these imports can no longer be reverted"
    if result.rows:
        entries = "1 audit entry" if result.entries == 1 else f"{result.entries:,} audit entries"
        lines.append(
            f"  {drop} {result.rows:,} previous versions of records ({result.data_bytes:,} "
            f"bytes), kept by {entries}"
        )
    else:
        lines.append(f"  {drop} no previous versions of records: there are none that old")
    if result.imports:
        named = ", ".join(f"#{n}" for n in result.imports[:IMPORTS_NAMED])
        more = len(result.imports) - IMPORTS_NAMED
        lines.append(f"  {imports}: {named}" + (f" and {more} more" if more > 0 else ""))
    if result.dry_run:
        lines.append(f"  store file now: {result.bytes_before:,} bytes")
    elif result.bytes_after is not None:
        how = "compacted" if result.compacted else "nothing to compact"
        lines.append(
            f"  store file: {result.bytes_before:,} bytes before, {result.bytes_after:,} bytes "
            f"after ({how})"
        )
    if result.audit_id is not None:
        lines.append(f"Audit entry #{result.audit_id}")
    return lines
