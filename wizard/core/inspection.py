"""The whole core chain for one file: read, detect, convert, check. Never raises for bad input."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from wizard.core import preflight, spool
from wizard.core.adapters.agentmemory import AGENTMEMORY_FORMATS
from wizard.core.allocation import paused_gc, release
from wizard.core.detection import detect
from wizard.core.fastjson import escaped
from wizard.core.formats import Conversion, ConvertOptions, Format, Payload
from wizard.core.losses import Kept, LeftBehind
from wizard.core.names import Phase
from wizard.core.problems import Cancelled, Code, InputRefused, Problem
from wizard.core.reading import FileFacts, Limits, read_payload
from wizard.core.redact import REDACTED, redact
from wizard.core.report import Report
from wizard.core.spool import counted_objects, head_view, holds_spooled, materialize
from wizard.core.validation import RecordValidator
from wizard.crashlog import log_crash

DEFAULT_MAX_BYTES = 2 * 1024**3  # 2 GiB after decompression (FORMATS.md section 7)

ProgressFn = Callable[[str, int, int], None]
CancelFn = Callable[[], bool]


@dataclass(frozen=True)
class InspectOptions:
    skip_invalid: bool = False
    treat_as_version: str | None = None
    include_deleted: bool = False  # memories the source marks deleted (never live)
    include_inactive: bool = False  # OpenMemory's archived and paused memories (never live)
    max_bytes: int = DEFAULT_MAX_BYTES
    vectors: str | None = None  # mem0's Qdrant folder, read with the history.db given


@dataclass(frozen=True)
class SourceInfo:
    path: str
    name: str
    size: int
    sha256: str

    def to_dict(self) -> dict:
        """Printable: a path that is not UTF-8 is escaped (``fastjson.escaped``)."""
        return {
            "path": escaped(self.path),
            "name": self.name,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass
class Inspection:
    source: SourceInfo
    report: Report
    data: dict | None = None  # the canonical ExportData to import; None when refused
    options: InspectOptions = field(default_factory=InspectOptions)
    unique_keys: bool = False  # preflight left one record per key in each collection

    @property
    def ok(self) -> bool:
        return self.report.ok and self.data is not None

    @property
    def format(self) -> str | None:
        return self.report.format


def source_info(
    path: str | os.PathLike,
    sha256: str | None = None,
    cancel: CancelFn | None = None,
    size: int | None = None,
) -> SourceInfo:
    """Name, size and SHA-256 of a file as the audit records them. ``inspect_file`` passes
    those of the bytes it read (``FileFacts``; for a storage, over every file it read, whose
    total is ``size``), and "" as the hash of a file refused before it was read to its end:
    such a file is never read on just to hash it. Only without ``sha256`` (a caller that has
    not read the file) is a regular file hashed here, from one open file, in chunks (not a
    pipe or a device: their hash is ""). The name is printable (a name that is not UTF-8 is
    escaped: ``fastjson.escaped``); the path is the path given."""
    p = Path(path)
    if size is None:
        try:
            st = p.stat()
            size = st.st_size if stat.S_ISREG(st.st_mode) else 0
        except OSError:
            size = 0
    if sha256 is None:
        sha256 = _hash_regular_file(p, cancel)
    return SourceInfo(path=str(p.absolute()), name=escaped(p.name), size=size, sha256=sha256)


def _hash_regular_file(p: Path, cancel: CancelFn | None) -> str:
    """The SHA-256 of a regular file ("" for anything else, or one that cannot be read)."""
    h = hashlib.sha256()
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return ""
            while chunk := f.read(4 * 1024 * 1024):
                if cancel is not None and cancel():
                    raise Cancelled()
                h.update(chunk)
    except OSError:
        return ""
    return h.hexdigest()


def inspect_file(
    path: str | os.PathLike,
    options: InspectOptions | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> Inspection:
    """Read, detect, convert and check one file. Bad input gives a refused report, never an
    exception; ``problems.Cancelled`` is raised when ``cancel()`` turns true."""
    options = options or InspectOptions()
    with paused_gc():
        return _inspect(path, options, progress, cancel)


def _inspect(
    path: str | os.PathLike,
    options: InspectOptions,
    progress: ProgressFn | None,
    cancel: CancelFn | None,
) -> Inspection:
    report = Report(ok=False)

    facts = FileFacts()  # what the reader learned of the bytes, refused or not

    def refused(problem: Problem) -> Inspection:
        size = facts.size if facts.opened else None
        return Inspection(
            source_info(path, facts.sha256, size=size), report.refuse(problem), None, options
        )

    # Records are validated as the reader decodes them; used when the file is agentmemory's
    # own single document (then nothing is decoded twice), else preflight validates.
    validator = RecordValidator()
    try:
        payload = read_payload(
            path,
            Limits(max_bytes=options.max_bytes, spill_after=spool.SPILL_AFTER),
            progress=(lambda done, total: progress(Phase.READING, done, total))
            if progress
            else None,
            cancel=cancel,
            sink=validator,
            vectors=options.vectors,
            include_deleted=options.include_deleted,
            facts=facts,
        )
        fmt = _detect(payload)
        report.format = fmt.id
        conversion = fmt.convert(
            payload,
            ConvertOptions(
                include_deleted=options.include_deleted,
                include_inactive=options.include_inactive,
                treat_as_version=options.treat_as_version,
            ),
        )
        conversion.warnings[:0] = payload.warnings
        if facts.surrogates:  # names the store keeps as text (in records: the validator's)
            surrogate = preflight.lone_surrogate_in_names(conversion.data)
            if surrogate is not None:
                return refused(surrogate)
        if fmt.id not in AGENTMEMORY_FORMATS:
            _redact_secrets(conversion)
    except Cancelled:
        raise
    except InputRefused as exc:
        return refused(exc.problem)
    except (MemoryError, RecursionError) as exc:
        problem = Problem(
            "",
            f"the file is too large or too deeply nested to read ({type(exc).__name__})",
            code=Code.TOO_COMPLEX,
        )
        return refused(problem)
    except Exception as exc:  # an adapter bug must not take the app down: refuse, log it
        log_crash(exc)
        problem = Problem(
            "",
            f"the file looks like {report.format or 'a known format'} but "
            f"could not be converted ({type(exc).__name__}: {exc})",
            code=Code.CONVERSION_FAILED,
        )
        return refused(problem)
    source = source_info(path, payload.sha256, size=payload.size or facts.size or None)
    read_as_is = (
        fmt.id == "agentmemory"
        and payload.kind == "json"
        and payload.container != "zip"  # a zip's members are not fed to the validator
        and not payload.unwrapped
        and not validator.spoiled
        and conversion.data is payload.value
    )
    report = preflight.check(
        conversion.data,
        fmt.id,
        conversion,
        skip_invalid=options.skip_invalid,
        treat_as_version=options.treat_as_version,
        progress=progress,
        cancel=cancel,
        validated=validator if read_as_is else None,
        surrogates=facts.surrogates,
    )
    if not report.ok:  # nothing will be imported: free it a piece at a time (see allocation)
        release(conversion.data)
        return Inspection(source, report, None, options)
    return Inspection(source, report, conversion.data, options, unique_keys=True)


def _detect(payload: Payload) -> Format:
    """The payload's format. Record arrays kept in a spool are looked at by their first
    records; formats that stream (``Format.streams``: all but the current Letta agent file)
    are converted from the spool a chunk at a time; for the others they are read back into
    memory first, after a check that there is the memory for them."""
    if (
        not holds_spooled(payload.value)
        and not counted_objects(payload.value)
        and not any(holds_spooled(v) for v in payload.members.values())
    ):
        return detect(payload)
    fmt = detect(dataclasses.replace(payload, value=head_view(payload.value)))
    if fmt.id not in AGENTMEMORY_FORMATS:
        for counted in counted_objects(payload.value):
            if not counted.dropped:  # every entry kept (past the first ones, in the spool)
                continue
            raise InputRefused(
                f"{counted.path} holds more than {len(counted):,} entries "
                f"({len(counted) + counted.more_keys:,}): too many to read as {fmt.id}",
                path=counted.path,
                code=Code.TOO_MANY_FIELDS,
            )
    if not fmt.streams:
        _check_room(payload, fmt)
        payload.value = materialize(payload.value)
        payload.members = {k: materialize(v) for k, v in payload.members.items()}
    return fmt


# What converting a file of another format takes in memory, per character of its records (a
# mem0 export of 57 MB peaked at 486 MB: the records decoded, then their conversion).
CONVERSION_MEMORY_FACTOR = 10
MB = 1024 * 1024


def _check_room(payload: Payload, fmt: Format) -> None:
    """Refuse, before reading them back into memory, records of another format that this
    computer has no memory to convert (rather than be killed for it)."""
    need = spool.spooled_chars(payload.value, *payload.members.values())
    need *= CONVERSION_MEMORY_FACTOR
    free = spool.available_memory()
    if free is not None and need > free:
        raise InputRefused(
            f"converting this {fmt.label} needs about {need // MB:,} MB of memory and this "
            f"computer has {free // MB:,} MB free; close other programs, or split the export "
            "into smaller files and import them one after the other",
            code=Code.NOT_ENOUGH_MEMORY,
        )


NAMED_SECRETS = 10  # how many secret names the warning lists


def _redact_secrets(conversion: Conversion) -> None:
    """Replace every secret value of a converted source by "[redacted]" (wizard.core.redact),
    and say so, naming the keys (never the values)."""
    conversion.data, found = redact(conversion.data)
    if not found:
        return
    names = sorted(set(found.names))
    listed = ", ".join(names[:NAMED_SECRETS]) + (
        f" and {len(names) - NAMED_SECRETS} more" if len(names) > NAMED_SECRETS else ""
    )
    n = len(found.paths)
    conversion.warnings.append(
        Problem(
            found.paths[0],
            f"{n} secret value{'s' if n != 1 else ''} replaced by {REDACTED} ({listed}): "
            "they are never stored, exported or shown",
            code=Code.SECRET_REDACTED,
        )
    )
    conversion.left_behind.append(
        LeftBehind(
            "secrets",
            "secret values (credentials, tokens, environment values)",
            Kept.REDACTED,
            n,
            f"keys: {listed}",
        )
    )
