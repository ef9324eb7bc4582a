"""Reading an input file into a :class:`~wizard.core.formats.Payload`, safely.

Plain JSON or JSON Lines, ``.gz`` of either, and zip (OpenMemory backups), recognised by their
first bytes, never by the name. Everything is streamed: decompression stops at the size limit,
text is decoded in chunks, and JSON is parsed record by record (``jsonstream``). Every refusal
of FORMATS.md section 7 is an :class:`InputRefused` naming what and where.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import os
import posixpath
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from wizard.core.formats import Payload
from wizard.core.jsonstream import JsonStream, RecordSink
from wizard.core.problems import Code, InputRefused, Problem
from wizard.core.spool import SPILL_AFTER
from wizard.core.storage import reader as storage_reader

READ_BYTES = 1024 * 1024
GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 2 * GIB  # after decompression
    max_depth: int = 200
    max_string: int = 10 * MIB
    max_ratio: int = 100  # expanded size / compressed size, for zip members and gzip
    # gzip only (FORMATS.md section 7 sets the ratio for zip members at any size): a small
    # repetitive .json.gz may compress better than 100x
    gzip_ratio_grace: int = 16 * MIB
    # record text kept in memory before record arrays go to a temporary spool (None: never)
    spill_after: int | None = SPILL_AFTER


ProgressFn = Callable[[int, int], None]  # (bytes read, total bytes)
CancelFn = Callable[[], bool]


def _human(n: int) -> str:
    if n >= GIB:
        return f"{n / GIB:.1f} GB"
    if n >= MIB:
        return f"{n / MIB:.1f} MB"
    return f"{n} bytes"


class _ByteSource(Protocol):
    """What :class:`_Counted` reads: an open file, a GzipFile, a zip member or a _Hashing."""

    def read(self, n: int, /) -> bytes: ...


class _Counted:
    """Counts the bytes of a binary stream and stops at the limit."""

    def __init__(
        self, raw: _ByteSource, limits: Limits, compressed: Callable[[], int] | None, what: str
    ) -> None:
        self.raw = raw
        self.limits = limits
        self.compressed = compressed
        self.what = what
        self.total = 0
        self.grace = 0  # bytes read before the ratio applies

    def read(self, n: int) -> bytes:
        try:
            data = self.raw.read(n)
        except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
            code = Code.FILE_UNREADABLE if self.compressed is None else Code.DAMAGED_ARCHIVE
            raise InputRefused(f"{self.what} is damaged: {exc}", code=code) from None
        self.total += len(data)
        if self.total > self.limits.max_bytes:
            raise InputRefused(
                f"{self.what} expands beyond {_human(self.limits.max_bytes)}, the largest input "
                "accepted",
                code=Code.SIZE_LIMIT,
            )
        if self.compressed is not None and self.total > self.grace:
            packed = max(self.compressed(), 1)
            if self.total > packed * self.limits.max_ratio:
                raise InputRefused(
                    f"{self.what} expands more than {self.limits.max_ratio} times its compressed "
                    "size (a compression bomb?)",
                    code=Code.COMPRESSION_BOMB,
                )
        return data


class _Hashing:
    """Hashes the bytes of a file as they are read, so the audit's SHA-256 costs no extra pass."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.name = getattr(raw, "name", "")
        self.mode = "rb"

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.sha256.update(data)
        return data

    def tell(self) -> int:
        return self.raw.tell()

    def seek(self, _offset: int, _whence: int = 0, /) -> int:
        """Not seekable: the hash covers the bytes in the order read. (GzipFile, which reads
        through this object, only seeks to rewind, and nothing here rewinds it.)"""
        raise io.UnsupportedOperation("seek")

    def digest_of_all(self) -> str:
        """The file's SHA-256 (reads what the parser left, e.g. trailing whitespace)."""
        while self.read(READ_BYTES):
            pass
        return self.sha256.hexdigest()


def _text_chunks(stream: _Counted, what: str, first: bytes = b"") -> Iterator[str]:
    """Decode UTF-8 (an optional BOM is dropped) in chunks; refuse binary and other encodings."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    head = True
    data = first or stream.read(READ_BYTES)
    while data:
        if head:
            head = False
            if data.startswith(codecs.BOM_UTF8):
                data = data[3:]
                offset = 3
            elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                raise InputRefused(
                    f"{what} is UTF-16 text; JSON files must be UTF-8", code=Code.NOT_UTF8
                )
            if b"\x00" in data[:8192]:
                raise InputRefused(f"{what} is a binary file, not JSON text", code=Code.BINARY_FILE)
        try:
            text = decoder.decode(data)
        except UnicodeDecodeError as exc:
            raise InputRefused(
                f"{what} is not valid UTF-8 (byte offset {offset + exc.start})",
                code=Code.NOT_UTF8,
            ) from None
        offset += len(data)
        if "\x00" in text:
            raise InputRefused(
                f"{what} holds NUL characters: a binary file, not JSON text",
                code=Code.BINARY_FILE,
            )
        yield text
        data = stream.read(READ_BYTES)
    try:
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InputRefused(
            f"{what} is not valid UTF-8 (it ends inside a character)", code=Code.NOT_UTF8
        ) from None
    if tail:
        yield tail


def _parse(
    stream: _Counted,
    what: str,
    limits: Limits,
    progress: Callable[[], None] | None,
    cancel: CancelFn | None,
    warnings: list[Problem],
    sink: RecordSink | None = None,
) -> tuple[Any, str]:
    """Parse a stream as one JSON document or JSON Lines: (value, kind). What the parser
    noticed (objects repeating a key) is added to ``warnings``."""
    first = stream.read(READ_BYTES)
    if not first.strip(b" \t\r\n\xef\xbb\xbf"):
        raise InputRefused(
            f"{what} is empty" if not first else f"{what} holds only whitespace",
            code=Code.EMPTY_FILE,
        )
    parser = JsonStream(
        _text_chunks(stream, what, first),
        max_depth=limits.max_depth,
        max_string=limits.max_string,
        on_progress=progress,
        cancel=cancel,
        spill_after=limits.spill_after,
        sink=sink,
    )
    values = []
    for value, _line in parser.values():
        values.append(value)
    warnings.extend(parser.finish_warnings())
    if len(values) == 1:
        return values[0], "json"
    return values, "jsonl"


def _unwrap(value: Any, limits: Limits, warnings: list[Problem] | None = None) -> tuple[Any, bool]:
    """A document that is one JSON string holding JSON (a twice-encoded file): unwrap once.
    What the inner parse notices (a repeated key) joins ``warnings``."""
    if not isinstance(value, str) or not value.lstrip().startswith(("{", "[")):
        return value, False
    parser = JsonStream(iter([value]), max_depth=limits.max_depth, max_string=limits.max_string)
    try:
        inner = [v for v, _ in parser.values()]
    except InputRefused as exc:
        p = exc.problem
        raise InputRefused(
            "the file is one JSON string whose content is not valid JSON: "
            f"{p.message} (line {p.line}, column {p.column} inside the string)",
            code=p.code,
        ) from None
    if warnings is not None:
        warnings.extend(parser.finish_warnings())
    return (inner[0] if len(inner) == 1 else inner), True


def read_payload(
    path: str | os.PathLike,
    limits: Limits | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
    sink: RecordSink | None = None,
    *,
    vectors: str | os.PathLike | None = None,
    include_deleted: bool = False,
) -> Payload:
    """Read and parse one input file, or a source's own storage (a SQLite database or a
    folder: ``wizard.core.storage``; ``vectors`` is mem0's Qdrant folder read with a
    history.db). Raises InputRefused (what and where) or Cancelled.

    ``sink`` is handed the records of each record array of a JSON or gzip file as they are
    decoded (``jsonstream.RecordSink``); a zip's members are not."""
    limits = limits or Limits()
    p = Path(path)
    name = p.name
    if vectors is not None or storage_reader.is_storage(p):
        return storage_reader.read_storage(
            p,
            vectors=Path(vectors) if vectors is not None else None,
            include_deleted=include_deleted,
            cancel=cancel,
            max_bytes=limits.max_bytes,
        )
    try:
        size = p.stat().st_size
        if not p.is_file():
            raise InputRefused(f"{name} is not a regular file", code=Code.NOT_A_FILE)
        f = open(p, "rb")  # noqa: SIM115 - closed below
    except InputRefused:
        raise
    except FileNotFoundError:
        raise InputRefused(f"{p} does not exist", code=Code.FILE_NOT_FOUND) from None
    except PermissionError:
        raise InputRefused(
            f"{p} cannot be read (permission denied)", code=Code.FILE_UNREADABLE
        ) from None
    except OSError as exc:
        raise InputRefused(
            f"{p} cannot be read: {exc.strerror or exc}", code=Code.FILE_UNREADABLE
        ) from None
    with f:
        if size == 0:
            raise InputRefused(f"{name} is empty", code=Code.EMPTY_FILE)
        if size > limits.max_bytes:
            raise InputRefused(
                f"{name} is {_human(size)}; files up to {_human(limits.max_bytes)} are accepted",
                code=Code.SIZE_LIMIT,
            )
        tick = (lambda: progress(f.tell(), size)) if progress else None
        magic = f.read(4)
        f.seek(0)
        if magic[:1] == b"\x80" and magic[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
            raise InputRefused(
                f"{name} is a Python pickle (mem0's FAISS docstore before mem0 2.0 is one). The "
                "wizard never unpickles such files: they can run code. Start mem0 2.0 or newer "
                "once with this store (it rewrites it as NAME.json, which the wizard reads), or "
                "export the memories with get_all and import that file",
                code=Code.UNSUPPORTED_FORMAT,
            )
        if magic == b"PK\x03\x04" or magic == b"PK\x05\x06":
            return _read_zip(f, name, limits, cancel)  # read at random: hashed separately
        hashing = _Hashing(f)
        if magic[:2] == b"\x1f\x8b":
            payload = _read_gzip(hashing, name, limits, tick, cancel, sink)
        else:
            warnings: list[Problem] = []
            stream = _Counted(hashing, limits, None, name)
            value, kind = _parse(stream, name, limits, tick, cancel, warnings, sink)
            value, unwrapped = _unwrap(value, limits, warnings)
            payload = Payload(
                value=value, name=name, kind=kind, unwrapped=unwrapped, warnings=warnings
            )
        payload.sha256 = hashing.digest_of_all()
    return payload


def _read_gzip(
    f: _Hashing,
    name: str,
    limits: Limits,
    tick: Callable[[], None] | None,
    cancel: CancelFn | None,
    sink: RecordSink | None = None,
) -> Payload:
    gz = gzip.GzipFile(fileobj=f, mode="rb")
    stream = _Counted(gz, limits, f.tell, f"{name} (gzip)")
    stream.grace = limits.gzip_ratio_grace
    warnings: list[Problem] = []
    value, kind = _parse(stream, f"{name} (gzip)", limits, tick, cancel, warnings, sink)
    value, unwrapped = _unwrap(value, limits, warnings)
    return Payload(
        value=value,
        name=name,
        kind=kind,
        container="gzip",
        unwrapped=unwrapped,
        warnings=warnings,
    )


# OpenMemory's backup: memories.json (required) and memories.jsonl.gz (optional), found by
# basename anywhere in the zip, like OpenMemory's own importer.
ZIP_MAIN = "memories.json"
ZIP_EXTRA = "memories.jsonl.gz"


_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError)


def _read_zip(f: IO[bytes], name: str, limits: Limits, cancel: CancelFn | None) -> Payload:
    try:
        return _read_zip_members(f, name, limits, cancel)
    except _ZIP_ERRORS as exc:
        raise InputRefused(
            f"{name} is a damaged zip archive: {exc}", code=Code.DAMAGED_ARCHIVE
        ) from None


def _read_zip_members(f: IO[bytes], name: str, limits: Limits, cancel: CancelFn | None) -> Payload:
    try:
        archive = zipfile.ZipFile(f)
        infos = archive.infolist()
    except _ZIP_ERRORS as exc:
        raise InputRefused(
            f"{name} is not a readable zip archive: {exc}", code=Code.DAMAGED_ARCHIVE
        ) from None
    by_base: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        member = info.filename
        norm = posixpath.normpath(member.replace("\\", "/"))
        if member.startswith(("/", "\\")) or norm.startswith("..") or ":" in member.split("/")[0]:
            raise InputRefused(
                f"{name}: zip member {member!r} has an unsafe path",
                path=member,
                code=Code.UNSAFE_ZIP_PATH,
            )
        if info.file_size > limits.max_bytes:
            raise InputRefused(
                f"{name}: zip member {member!r} expands to "
                f"{_human(info.file_size)}, over the {_human(limits.max_bytes)} "
                "limit",
                path=member,
                code=Code.SIZE_LIMIT,  # the same user-adjustable limit as the file size
            )
        if info.file_size > max(info.compress_size, 1) * limits.max_ratio:
            raise InputRefused(
                f"{name}: zip member {member!r} expands more than "
                f"{limits.max_ratio} times its compressed size (a zip bomb?)",
                path=member,
                code=Code.COMPRESSION_BOMB,
            )
        by_base.setdefault(posixpath.basename(norm), info)
    main = by_base.get(ZIP_MAIN)
    if main is None:
        listed = ", ".join(i.filename for i in infos[:5]) or "nothing"
        raise InputRefused(
            f"{name} is a zip archive without {ZIP_MAIN} (an OpenMemory backup "
            f"holds one); it contains {listed}",
            code=Code.UNKNOWN_FORMAT,
        )
    what = f"{name}: {main.filename}"
    warnings: list[Problem] = []
    with archive.open(main) as main_file:
        stream = _Counted(main_file, limits, lambda: main.compress_size, what)
        value, kind = _parse(stream, what, limits, None, cancel, warnings)
    members: dict[str, Any] = {}
    extra = by_base.get(ZIP_EXTRA)
    if extra is not None:
        what_extra = f"{name}: {extra.filename}"
        with archive.open(extra) as extra_file:
            gz = gzip.GzipFile(fileobj=extra_file, mode="rb")
            stream = _Counted(gz, limits, lambda: extra.compress_size, what_extra)
            lines, extra_kind = _parse(stream, what_extra, limits, None, cancel, warnings)
        members[ZIP_EXTRA] = lines if extra_kind == "jsonl" else [lines]
    return Payload(
        value=value,
        name=name,
        kind=kind,
        container="zip",
        member=main.filename,
        members=members,
        warnings=warnings,
    )


__all__ = ["Limits", "read_payload"]
