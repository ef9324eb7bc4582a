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
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from wizard.core.fastjson import escaped
from wizard.core.formats import Payload
from wizard.core.jsonstream import JsonStream, RecordSink
from wizard.core.problems import Cancelled, Code, InputRefused, Problem
from wizard.core.spool import SPILL_AFTER, RecordList
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


@dataclass
class FileFacts:
    """What reading learned of the file, for the audit, whether it was read or refused: the
    size of the open file (``fstat``, never the path's), then of the bytes read, and their
    SHA-256 once read to the end ("" when refused before: a refused file is never read on
    just to hash it); whether the text held a surrogate escape (``JsonStream.surrogates``)."""

    size: int = 0
    sha256: str = ""
    opened: bool = False
    surrogates: bool = False


# Zip directories: more members than an OpenMemory backup (two) could ever need, yet bounded,
# so a hostile directory of millions of entries is refused before zipfile parses it.
MAX_ZIP_MEMBERS = 10_000
MAX_ZIP_DIRECTORY = 8 * MIB
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


def _what_kind(mode: int) -> str:
    """What a thing that is not a regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a device (character special file)"
    if stat.S_ISBLK(mode):
        return "a device (block special file)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _not_regular(name: str, mode: int) -> InputRefused:
    return InputRefused(
        f"{name} is {_what_kind(mode)}, not a regular file: the wizard reads only files",
        code=Code.NOT_A_FILE,
    )


def _cannot_read(shown: str, exc: OSError) -> InputRefused:
    if isinstance(exc, FileNotFoundError):
        return InputRefused(f"{shown} does not exist", code=Code.FILE_NOT_FOUND)
    if isinstance(exc, PermissionError):
        return InputRefused(
            f"{shown} cannot be read (permission denied)", code=Code.FILE_UNREADABLE
        )
    return InputRefused(f"{shown} cannot be read: {exc.strerror or exc}", code=Code.FILE_UNREADABLE)


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

    def __init__(self, raw: IO[bytes], size: int, what: str) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.name = getattr(raw, "name", "")
        self.mode = "rb"
        self.size = size  # the open file's size: reading never goes past it
        self.total = 0
        self.what = what

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.total += len(data)
        if self.total > self.size:  # a file being written: not what was opened
            raise _changed(self.what, self.size, self.total)
        self.sha256.update(data)
        return data

    def tell(self) -> int:
        return self.raw.tell()

    def seek(self, _offset: int, _whence: int = 0, /) -> int:
        """Not seekable: the hash covers the bytes in the order read. (GzipFile, which reads
        through this object, only seeks to rewind, and nothing here rewinds it.)"""
        raise io.UnsupportedOperation("seek")

    def digest_of_all(self) -> str:
        """The file's SHA-256 (reads what the parser left, e.g. trailing whitespace, and
        never more than the open file's size, plus a byte to notice that it grew)."""
        while self.read(min(READ_BYTES, self.size - self.total + 1)):
            pass
        if self.total != self.size:
            raise _changed(self.what, self.size, self.total)
        return self.sha256.hexdigest()


def _changed(what: str, size: int, total: int) -> InputRefused:
    return InputRefused(
        f"{what} changed while it was read ({size:,} bytes when opened, "
        f"{'more' if total > size else f'{total:,}'} read): try again once it is written",
        code=Code.FILE_CHANGED,
    )


def _other_encoding(head: bytes) -> str | None:
    """The encoding of text that starts so, when it is UTF-16 or UTF-32 (by a byte order mark,
    else by the NUL bytes around the first characters, which JSON keeps in ASCII: RFC 4627)."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # (before UTF-16's)
        return "UTF-32 text"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "UTF-16 text"
    b = head[:4]
    if len(b) < 4 or b"\x00" not in b:
        return None
    if b[1:] == b"\x00\x00\x00" or b[:3] == b"\x00\x00\x00":
        return "UTF-32 text without a byte order mark"
    if (b[1] == b[3] == 0 and b[0] and b[2]) or (b[0] == b[2] == 0 and b[1] and b[3]):
        return "UTF-16 text without a byte order mark"
    return None


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
            else:
                encoding = _other_encoding(data)
                if encoding is not None:
                    raise InputRefused(
                        f"{what} is {encoding}; JSON files must be UTF-8", code=Code.NOT_UTF8
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
    facts: FileFacts | None = None,
) -> tuple[Any, str]:
    """Parse a stream as one JSON document or JSON Lines: (value, kind). What the parser
    noticed (objects repeating a key) is added to ``warnings``; a surrogate escape sets
    ``facts.surrogates``."""
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
    try:
        for value, _line in parser.values():
            values.append(value)
    finally:
        if facts is not None and parser.surrogates:
            facts.surrogates = True
    warnings.extend(parser.finish_warnings())
    if len(values) == 1:
        return values[0], "json"
    # JSON Lines: a line that is a bare array is a page of its own, read back into memory
    return [list(v) if isinstance(v, RecordList) else v for v in values], "jsonl"


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
    facts: FileFacts | None = None,
) -> Payload:
    """Read and parse one input file, or a source's own storage (a SQLite database or a
    folder: ``wizard.core.storage``; ``vectors`` is mem0's Qdrant folder read with a
    history.db). Raises InputRefused (what and where) or Cancelled.

    The file is opened once, without blocking (a named pipe never waits for a writer), and
    everything is taken from that open file: its type and size (``fstat``, so a thing that is
    not a regular file is refused before a byte is read), its bytes and their SHA-256 (into
    ``facts``, refused or not; a file that changes while it is read is refused). A file
    replaced or deleted meanwhile is read as it was opened.

    ``sink`` is handed the records of each record array of a JSON or gzip file as they are
    decoded (``jsonstream.RecordSink``); a zip's members are not."""
    limits = limits or Limits()
    facts = facts if facts is not None else FileFacts()
    p = Path(path)
    name = escaped(p.name)  # shown and audited: a name that is not UTF-8 stays printable
    shown = escaped(str(p))
    try:
        mode = p.stat().st_mode
    except OSError as exc:
        raise _cannot_read(shown, exc) from None
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):  # before anything opens it
        raise _not_regular(name, mode)
    if vectors is not None or storage_reader.is_storage(p):
        return storage_reader.read_storage(
            p,
            vectors=Path(vectors) if vectors is not None else None,
            include_deleted=include_deleted,
            cancel=cancel,
            max_bytes=limits.max_bytes,
        )
    try:
        fd = os.open(p, _OPEN_FLAGS)
    except OSError as exc:
        raise _cannot_read(shown, exc) from None
    with open(fd, "rb") as f:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):  # swapped for another thing since the stat
            raise _not_regular(name, opened.st_mode)
        size = opened.st_size
        facts.size, facts.opened = size, True
        if size > limits.max_bytes:
            raise InputRefused(
                f"{name} is {_human(size)}; files up to {_human(limits.max_bytes)} are accepted",
                code=Code.SIZE_LIMIT,
            )
        if size == 0:
            if f.read(1):  # a size of 0 that reads on: /proc, /sys (may never end)
                raise InputRefused(
                    f"{name} says it holds 0 bytes but has content: a special file (of /proc "
                    "or /sys?), not an export; copy what it shows into a file first",
                    code=Code.NOT_A_FILE,
                )
            raise InputRefused(f"{name} is empty", code=Code.EMPTY_FILE)
        payload = _read_opened(f, name, size, limits, progress, cancel, sink, facts)
        after = os.fstat(fd)
        if (after.st_size, after.st_mtime_ns) != (size, opened.st_mtime_ns):
            raise _changed(name, size, size if after.st_size == size else after.st_size)
    facts.sha256 = payload.sha256 or ""
    return payload


def _read_opened(
    f: IO[bytes],
    name: str,
    size: int,
    limits: Limits,
    progress: ProgressFn | None,
    cancel: CancelFn | None,
    sink: RecordSink | None,
    facts: FileFacts,
) -> Payload:
    """Read a regular file opened by :func:`read_payload`, whose size was ``size``."""
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
    hashing = _Hashing(f, size, name)
    if magic == b"PK\x03\x04" or magic == b"PK\x05\x06":
        # zipfile reads at random: the same open file is hashed first, in one pass
        digest = hashing.digest_of_all() if cancel is None else _digest(hashing, cancel)
        f.seek(0)
        payload = _read_zip(f, name, limits, cancel, facts)
        payload.sha256 = digest
        return payload
    if magic[:2] == b"\x1f\x8b":
        payload = _read_gzip(hashing, name, limits, tick, cancel, sink, facts)
    else:
        warnings: list[Problem] = []
        stream = _Counted(hashing, limits, None, name)
        value, kind = _parse(stream, name, limits, tick, cancel, warnings, sink, facts)
        value, unwrapped = _unwrap(value, limits, warnings)
        payload = Payload(value=value, name=name, kind=kind, unwrapped=unwrapped, warnings=warnings)
    payload.sha256 = hashing.digest_of_all()
    return payload


def _digest(hashing: _Hashing, cancel: CancelFn) -> str:
    """``hashing.digest_of_all()``, honouring cancel between chunks."""
    while hashing.read(min(READ_BYTES, hashing.size - hashing.total + 1)):
        if cancel():
            raise Cancelled()
    return hashing.digest_of_all()


def _read_gzip(
    f: _Hashing,
    name: str,
    limits: Limits,
    tick: Callable[[], None] | None,
    cancel: CancelFn | None,
    sink: RecordSink | None = None,
    facts: FileFacts | None = None,
) -> Payload:
    gz = gzip.GzipFile(fileobj=f, mode="rb")
    stream = _Counted(gz, limits, f.tell, f"{name} (gzip)")
    stream.grace = limits.gzip_ratio_grace
    warnings: list[Problem] = []
    value, kind = _parse(stream, f"{name} (gzip)", limits, tick, cancel, warnings, sink, facts)
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


def _read_zip(
    f: IO[bytes], name: str, limits: Limits, cancel: CancelFn | None, facts: FileFacts
) -> Payload:
    try:
        return _read_zip_members(f, name, limits, cancel, facts)
    except _ZIP_ERRORS as exc:
        raise InputRefused(
            f"{name} is a damaged zip archive: {exc}", code=Code.DAMAGED_ARCHIVE
        ) from None


def _check_zip_directory(f: IO[bytes], name: str) -> None:
    """Refuse a zip whose directory lists more members than MAX_ZIP_MEMBERS or is larger than
    MAX_ZIP_DIRECTORY, from its end record alone (zipfile would parse every entry of it into
    memory first). A zip without an end record is left to zipfile to call damaged."""
    end = getattr(zipfile, "_EndRecData", None)
    if end is None:  # (private in zipfile; without it the counts are checked after parsing)
        return
    record = end(f)
    f.seek(0)
    if not record:
        return
    entries = record[getattr(zipfile, "_ECD_ENTRIES_TOTAL", 4)]
    directory = record[getattr(zipfile, "_ECD_SIZE", 5)]
    if entries > MAX_ZIP_MEMBERS or directory > MAX_ZIP_DIRECTORY:
        raise InputRefused(
            f"{name} is a zip archive of {entries:,} members ({_human(directory)} of "
            f"directory); the wizard reads archives of up to {MAX_ZIP_MEMBERS:,} members "
            f"and {_human(MAX_ZIP_DIRECTORY)} of directory (an OpenMemory backup holds two)",
            code=Code.TOO_MANY_ZIP_MEMBERS,
        )


def _unsafe(member: str) -> bool:
    """An absolute path, a parent folder (``..`` as a whole part: ``..name`` is a name) or a
    drive letter."""
    norm = posixpath.normpath(member.replace("\\", "/"))
    return (
        member.startswith(("/", "\\"))
        or norm == ".."
        or norm.startswith("../")
        or ":" in member.split("/")[0]
    )


def _read_zip_members(
    f: IO[bytes], name: str, limits: Limits, cancel: CancelFn | None, facts: FileFacts
) -> Payload:
    _check_zip_directory(f, name)
    try:
        archive = zipfile.ZipFile(f)
        infos = archive.infolist()
    except _ZIP_ERRORS as exc:
        raise InputRefused(
            f"{name} is not a readable zip archive: {exc}", code=Code.DAMAGED_ARCHIVE
        ) from None
    if len(infos) > MAX_ZIP_MEMBERS:  # (when the end record could not be read first)
        raise InputRefused(
            f"{name} is a zip archive of {len(infos):,} members; the wizard reads archives of "
            f"up to {MAX_ZIP_MEMBERS:,}",
            code=Code.TOO_MANY_ZIP_MEMBERS,
        )
    by_base: dict[str, list[zipfile.ZipInfo]] = {}
    for info in infos:
        member = info.filename
        if _unsafe(member):
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
        base = posixpath.basename(posixpath.normpath(member.replace("\\", "/")))
        by_base.setdefault(base, []).append(info)
    found = by_base.get(ZIP_MAIN)
    if not found:
        listed = ", ".join(i.filename for i in infos[:5]) or "nothing"
        raise InputRefused(
            f"{name} is a zip archive without {ZIP_MAIN} (an OpenMemory backup "
            f"holds one); it contains {listed}",
            code=Code.UNKNOWN_FORMAT,
        )
    warnings: list[Problem] = []
    main = _chosen(name, found, warnings)
    what = f"{name}: {main.filename}"
    with _open_member(archive, main, what) as main_file:
        stream = _Counted(main_file, limits, lambda: main.compress_size, what)
        value, kind = _parse(stream, what, limits, None, cancel, warnings, None, facts)
    members: dict[str, Any] = {}
    if by_base.get(ZIP_EXTRA):
        extra = _chosen(name, by_base[ZIP_EXTRA], warnings)
        what_extra = f"{name}: {extra.filename}"
        with _open_member(archive, extra, what_extra) as extra_file:
            gz = gzip.GzipFile(fileobj=extra_file, mode="rb")
            stream = _Counted(gz, limits, lambda: extra.compress_size, what_extra)
            lines, extra_kind = _parse(
                stream, what_extra, limits, None, cancel, warnings, None, facts
            )
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


def _chosen(name: str, found: list[zipfile.ZipInfo], warnings: list[Problem]) -> zipfile.ZipInfo:
    """The member read among those of one base name: the first in the archive's directory.
    More than one is reported, naming the one read (a zip tool may show another)."""
    first = found[0]
    if len(found) > 1:
        others = ", ".join(f"{i.filename!r} at byte {i.header_offset:,}" for i in found[1:4])
        more = f" and {len(found) - 4} more" if len(found) > 4 else ""
        warnings.append(
            Problem(
                first.filename,
                f"{name} holds {len(found)} members named {posixpath.basename(first.filename)}"
                f": the first in its directory is read ({first.filename!r} at byte "
                f"{first.header_offset:,}); not {others}{more}",
                code=Code.DUPLICATE_ZIP_MEMBER,
            )
        )
    return first


def _open_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, what: str) -> IO[bytes]:
    """The member's bytes; an encrypted one is refused as such (zipfile would ask for a
    password)."""
    if info.flag_bits & 0x1:
        raise InputRefused(
            f"{what} is encrypted: the wizard cannot read it; export it without a password",
            path=info.filename,
            code=Code.ENCRYPTED_ARCHIVE,
        )
    return archive.open(info)


__all__ = ["FileFacts", "Limits", "read_payload"]
