"""Problems found in an input file, and the exception that refuses one."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Code(str, Enum):
    """What kind of problem a :class:`Problem` is: a stable machine code for the shells, which
    decide by code, never by message text. The values never change once released."""

    # -- the file itself --------------------------------------------------------------------
    FILE_NOT_FOUND = "file-not-found"  # the path does not exist
    NOT_A_FILE = "not-a-file"  # the path is a folder, not a file
    FILE_UNREADABLE = "file-unreadable"  # the file cannot be opened or read (permissions, I/O)
    EMPTY_FILE = "empty-file"  # the file (or archive member) is empty or only whitespace
    SIZE_LIMIT = "size-limit"  # larger than the size limit in the settings (it can be raised)
    COMPRESSION_BOMB = "compression-bomb"  # expands more than the fixed ratio allows (not settable)
    DAMAGED_ARCHIVE = "damaged-archive"  # a gzip or zip container that cannot be decompressed
    UNSAFE_ZIP_PATH = "unsafe-zip-path"  # a zip member with an absolute or escaping path
    NOT_UTF8 = "not-utf8"  # text in another encoding (UTF-16) or invalid UTF-8
    BINARY_FILE = "binary-file"  # binary data (NUL bytes), not JSON text
    FILE_CHANGED = "file-changed"  # the file changed (grew, shrank, was rewritten) while read
    ENCRYPTED_ARCHIVE = "encrypted-archive"  # a zip member behind a password
    DUPLICATE_ZIP_MEMBER = "duplicate-zip-member"  # a zip names the member read more than once
    TOO_MANY_ZIP_MEMBERS = "too-many-zip-members"  # a zip directory past its fixed limits
    # -- a source's own storage (docs/SOURCES.md) ---------------------------------------------
    SOURCE_BUSY = "source-busy"  # the source's program is writing its files; close it and retry
    UNSAFE_PICKLE = "unsafe-pickle"  # a Qdrant row holds something other than the allowed classes
    STORE_NOT_READABLE = "store-not-readable"  # a known store the wizard cannot read (a server)
    # -- JSON ---------------------------------------------------------------------------------
    SYNTAX_ERROR = "syntax-error"  # malformed JSON (has line and column)
    NAN_OR_INFINITY = "nan-or-infinity"  # NaN or Infinity, which JSON does not allow
    TOO_DEEP = "too-deep"  # nesting deeper than the fixed depth limit
    STRING_TOO_LONG = "string-too-long"  # one string longer than the fixed string limit
    UNREADABLE_VALUE = "unreadable-value"  # a value Python cannot read (e.g. a huge integer)
    TOO_COMPLEX = "too-complex"  # reading ran out of memory or recursion depth
    RECORD_TOO_LARGE = "record-too-large"  # one record longer than the fixed record limit
    NO_TEMP_SPACE = "no-temp-space"  # the temporary folder a big file's records wait in is full
    NOT_ENOUGH_MEMORY = "not-enough-memory"  # converting a big file of another format would not fit
    TOO_MANY_FIELDS = "too-many-fields"  # an object with more fields than the reader keeps
    LONE_SURROGATE = "lone-surrogate"  # a name holds half a UTF-16 pair ("\\ud800"), not text
    # -- format -------------------------------------------------------------------------------
    UNKNOWN_FORMAT = "unknown-format"  # no supported format matches the file
    UNSUPPORTED_FORMAT = "unsupported-format"  # a recognised export that holds nothing to import
    CONVERSION_FAILED = "conversion-failed"  # the format was recognised but converting it failed
    WRONG_SHAPE = "wrong-shape"  # a collection or container is missing or of the wrong JSON type
    # -- agentmemory versions -----------------------------------------------------------------
    VERSION_MISSING = "version-missing"  # an agentmemory file (or page) without a version
    VERSION_UNSUPPORTED = "version-unsupported"  # an agentmemory version the wizard does not know
    VERSION_OVERRIDDEN = "version-overridden"  # read as another version, as the user chose
    VERSION_MIXED = "version-mixed"  # pages of one file have different versions
    # -- records ------------------------------------------------------------------------------
    INVALID_RECORD = "invalid-record"  # one record failed validation ("only valid ones" drops it)
    INVALID_RECORDS_SKIPPED = "invalid-records-skipped"  # invalid records left out, as asked
    UNCONVERTIBLE_RECORD = "unconvertible-record"  # a source record the adapter could not convert
    CAP_EXCEEDED = "cap-exceeded"  # more records than agentmemory's import caps allow
    DUPLICATE_KEY = "duplicate-key"  # records repeat an id or key; only one of them is kept
    DUPLICATE_JSON_KEY = "duplicate-json-key"  # an object names a key twice; the last is read
    UNKNOWN_VALUE = "unknown-value"  # a field value agentmemory does not list; kept as is
    DELETED_LEFT_OUT = "deleted-left-out"  # records marked deleted in the source, not imported
    DATA_DROPPED = "data-dropped"  # source data the wizard does not import (fields, embeddings)
    DANGLING_REFERENCE = "dangling-reference"  # records refer to records not in the file
    INACTIVE_LEFT_OUT = "inactive-left-out"  # paused or archived memories, not imported
    ACCESS_RULES = "access-rules"  # source access rules agentmemory does not enforce
    SECRET_REDACTED = "secret-redacted"  # credential values replaced by [redacted]
    INCOMPLETE_EXPORT = "incomplete-export"  # one page of a listing, or fewer records than declared
    OWNERS_UNKNOWN = "owners-unknown"  # mem0 history alone: whose memories they are is unknown
    CONVERSION_NOTE = "conversion-note"  # how the file was read (pages merged, unwrapped...)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Problem:
    """One error or warning, with what kind it is (``code``) and where it is: a JSON path
    (``memories[3].id``), and for syntax errors the line and column (1-based)."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None
    code: Code = field(kw_only=True)

    def to_dict(self) -> dict:
        d: dict = {"code": str(self.code), "path": self.path, "message": self.message}
        if self.line is not None:
            d["line"] = self.line
            d["column"] = self.column
        return d

    def where(self) -> str:
        if self.line is not None:
            return f"line {self.line}, column {self.column}"
        return self.path or "(file)"

    def __str__(self) -> str:
        return f"{self.where()}: {self.message}"


class InputRefused(Exception):
    """The input cannot be imported. ``problem`` says what and where; nothing was written."""

    def __init__(
        self,
        message: str,
        path: str = "",
        line: int | None = None,
        column: int | None = None,
        *,
        code: Code,
    ) -> None:
        super().__init__(message)
        self.problem = Problem(path=path, message=message, line=line, column=column, code=code)


class Cancelled(Exception):
    """The user asked to stop; raised between chunks of long work."""
