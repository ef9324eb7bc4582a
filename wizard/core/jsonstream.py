"""A streaming JSON reader for export files of any size.

``json.loads`` of a 370 MB file holds the GIL for seconds (a worker thread would starve the GUI)
and needs the whole text in memory next to the parsed result. This reader walks the outer
containers of a document in Python and hands each record (an element two or three levels
down), or a whole small array of them, to the C decoder (``JSONDecoder.raw_decode``), over a
sliding window of text. The result is the same value ``json.loads`` gives, with these rules of
FORMATS.md section 7 enforced on the way: no ``NaN``/``Infinity``, nesting at most ``max_depth``
deep, no string over ``max_string`` characters, and errors reported with line and column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from operator import methodcaller
from typing import Any, Protocol, cast

from wizard.core.collections import BY_NAME, collection
from wizard.core.problems import Cancelled, Code, InputRefused, Problem
from wizard.core.spool import CountedObject, RecordList, Spool

CHUNK_CHARS = 4 * 1024 * 1024  # text read per refill
_WS = re.compile(r"[ \t\n\r]*")
# _WS matches the empty string, so its match() never returns None (a pos past the end is
# clamped to it): typed as such once here, at no cost per call.
_ws_match = cast("Callable[[str, int], re.Match[str]]", _WS.match)
# Strings as an "unrolled loop": runs of plain characters are one repeat, so a 64 MB string
# costs no backtracking state per character (the naive (?:[^"\\]|\\.)* peaked near 2 GB).
_STR = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_STRING_OR_CONSTANT = re.compile(_STR + r"|(-?Infinity|NaN)")
_STRING_OR_BRACKET = re.compile(_STR + r"|([\[\]{}])")
_STRING = re.compile(_STR + "?")
# a JSON escape of a UTF-16 surrogate, which json decodes alone when it is not half of a pair
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
PROGRESS_EVERY = 2000  # elements between progress callbacks / cancel checks
_LOOKAHEAD = 64 * 1024  # a record starting closer than this to the window's end is refilled
_MISSING = object()
MAX_KEY_SETS = 4096  # distinct key sets remembered per file
# A small array (an observation bucket) is decoded in one C call. The first try reads at most
# SMALL_FIRST characters, then twice as many, up to SMALL_MAX, so one C call never holds the
# GIL for more than a few milliseconds and a big array wastes at most about SMALL_MAX.
SMALL_FIRST = 16 * 1024
SMALL_MAX = 256 * 1024
# Only quotes and brackets matter to the nesting depth of a JSON text.
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'"[]{}')
_QUOTED = re.compile(rb'"[^"]*"')
_ONE_BRACKET_KIND = bytes.maketrans(b"{}", b"[]")


class _NotJson(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NotJson(name)


class _NotFinite(ValueError):
    """A number literal beyond a double's range (``1e999``), which ``float`` reads as inf."""


_INF = float("inf")


def _finite_float(text: str, _float: Callable[[str], float] = float) -> float:
    """``float(text)``, refusing what would be infinite. (A call per float literal: records
    hold few; a file of embeddings reads about a third slower, still in C otherwise.)"""
    value = _float(text)
    if value == _INF or value == -_INF:
        raise _NotFinite(text)
    return value


# a number outside strings: where a _NotFinite literal is
_STRING_OR_NUMBER = re.compile(_STR + r"|(-?[0-9]+(?:\.[0-9]+)?[eE][-+]?[0-9]+|-?[0-9]{300,}\.?)")


# With a spool (a file read for import), the bounds that keep memory flat whatever the shape:
# a record (an element of a record array) is at most RECORD_LIMIT characters of text, the same
# as agentmemory's whole request frame; the document has at most MAX_OBJECT_KEYS fields, and an
# object one level down (observation buckets) keeps that many, the rest only counted.
RECORD_LIMIT = 16 * 1024 * 1024
RECORD_MEMORY = 48 * 1024 * 1024  # estimated (see decoded_cost)
MAX_OBJECT_KEYS = 20_000


def _keys(records: list, field: str | None) -> list[Any] | None:
    """The ``field`` of each record (in C), or None when not every record is an object."""
    if field is None:
        return None
    try:
        return list(map(methodcaller("get", field), records))
    except AttributeError:
        return None


def _usable(keys: list[Any] | None) -> list[str] | None:
    """Keys the engine can count a run by: all non-empty strings (else it decodes the run)."""
    if keys is None or set(map(type, keys)) != {str} or "" in keys:
        return None
    return keys


def decoded_cost(text: str, start: int, end: int) -> int:
    """About how many bytes decoding ``text[start:end]`` makes: its characters, and Python's
    overhead per string (two quotes) and per container (an opening bracket)."""
    strings = text.count('"', start, end) // 2
    containers = text.count("{", start, end) + text.count("[", start, end)
    return (end - start) + 48 * strings + 120 * containers


class RecordSink(Protocol):
    """What the reader hands the records of each record array to, as it decodes them (a
    ``validation.RecordValidator``), so a big file need not be decoded a second time."""

    def feed(
        self,
        name: str,
        bucket: str | None,
        start: int,
        chunk: list[Any],
        keys: list[Any] | None = None,
    ) -> None:
        """``keys``: each record's key field, when the reader has read them already."""

    def spoil(self) -> None:
        """What was fed is not the document (a key repeated, JSON Lines): do not use it."""

    def surrogates(self) -> None:
        """The text holds an escaped UTF-16 surrogate: records fed from now on may hold lone
        surrogates (told before the first such record is fed)."""


SINK_CHUNK = 500  # records per feed of an array read element by element

MAX_DUPLICATE_WARNINGS = 20  # objects with a repeated key named one by one (then counted)


class JsonStream:
    """Parse one or more JSON values (JSON Lines) from an iterator of text chunks."""

    def __init__(
        self,
        chunks: Iterator[str],
        *,
        max_depth: int = 200,
        max_string: int = 10 * 1024 * 1024,
        on_progress: Callable[[], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        spill_after: int | None = None,
        spool_factory: Callable[[], Spool] = Spool,
        sink: RecordSink | None = None,
    ) -> None:
        self._chunks = chunks
        self._eof = False
        self.buf = ""
        self.pos = 0
        self._base = 0  # characters dropped from the front of buf so far
        self._line_base = 0  # newlines before buf[0]
        self._col_base = 0  # characters between the last newline and buf[0]
        self.max_depth = max_depth
        self.max_string = max_string
        self._on_progress = on_progress
        self._cancel = cancel
        self._elements = 0
        self._key_sets: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._last_keys: tuple[str, ...] = ()
        self._small_size = SMALL_FIRST  # first try for the next small array
        self._small_misses = 0  # big arrays in a row
        self._small_pause = 0  # arrays left to the careful path before trying again
        # Objects that repeat a key keep the last value (as json.loads does); each is reported.
        self.warnings: list[Problem] = []
        self._repeated: list[str] = []  # keys repeated in the values just decoded
        self._repeats = 0
        self._decoder = json.JSONDecoder(
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            object_pairs_hook=self._pairs,
        )
        # Record arrays (the document, or one or two levels down) are kept in memory until
        # what they cost decoded (``decoded_cost``) passes ``spill_after``; past it, each is a
        # RecordList in a spool, holding its text as read (None: never).
        self._spill_after = spill_after
        self._spool_factory = spool_factory
        self.spool: Spool | None = None
        self._held = 0
        self._sink = sink
        self._keys: list[str] = []  # the keys leading to the value being read
        # whether the text holds an escape of a UTF-16 surrogate (see _look_for_surrogates)
        self.surrogates = False
        self._tail = ""

    def _feed(self, depth: int, start: int, records: list, keys: list[Any] | None = None) -> None:
        """Hand the records of a record array at ``depth`` (from index ``start``) to the sink,
        with their keys when read already."""
        if self._sink is not None and self._keys:
            bucket = self._keys[1] if depth == 2 else None
            self._sink.feed(self._keys[0], bucket, start, records, keys)

    def _record_array(self, depth: int, parent: str) -> bool:
        """Whether an array holds records: the document itself (a bare list of records, as
        mem0's Platform gives), the value of a key of the document (or of a JSON Lines page)
        or of an object one level down (an observation bucket)."""
        return self._spill_after is not None and (
            (parent == "object" and (depth == 1 or depth == 2)) or parent == "top"
        )

    def _spilling(self, depth: int, parent: str) -> bool:
        """Whether a record array at ``depth`` now goes to the spool."""
        return self._held > (self._spill_after or 0) and self._record_array(depth, parent)

    def _key_field(self) -> str | None:
        """The field keying the records of the record array being read, were the document
        agentmemory's (the collection named by its top key; observations' for a bucket): the
        validator's key, and what the engine counts a spooled run by."""
        return collection(self._keys[0]).key if self._keys else None

    def _spooled(self) -> RecordList:
        if self.spool is None:
            self.spool = self._spool_factory()
        return RecordList(self.spool)

    # -- buffer -------------------------------------------------------------------------------
    def _fill(self, need: int = 1) -> bool:
        """Make sure ``need`` characters are available after ``pos``; False at end of input.

        The chunks needed are joined once: appending them one by one to the window copied it
        at each chunk, quadratic in the size of one huge record."""
        have = len(self.buf) - self.pos
        if have >= need or self._eof:
            return have >= need
        parts = [self.buf[self.pos :]] if have else []
        if self.pos > 0:
            consumed = self.buf[: self.pos]
            newlines = consumed.count("\n")
            if newlines:
                self._line_base += newlines
                self._col_base = len(consumed) - consumed.rfind("\n") - 1
            else:
                self._col_base += len(consumed)
            self._base += self.pos
            self.pos = 0
        while have < need:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._eof = True
                break
            if not self.surrogates:
                self._look_for_surrogates(chunk)
            parts.append(chunk)
            have += len(chunk)
        self.buf = "".join(parts) if len(parts) != 1 else parts[0]
        return have >= need

    def _look_for_surrogates(self, chunk: str) -> None:
        """Note a ``\\uD800``-``\\uDFFF`` escape in the text (``json`` decodes a lone one into
        a lone surrogate, which is not text: UTF-8, SQLite and orjson refuse it). Only then
        are strings looked at for them (``RecordSink.surrogates``); C-speed searches per chunk,
        and across the boundary with the chunk before."""
        if _SURROGATE_ESCAPE.search(chunk) or (
            self._tail and _SURROGATE_ESCAPE.search(self._tail + chunk[:5])
        ):
            self.surrogates = True
            if self._sink is not None:
                self._sink.surrogates()
        self._tail = chunk[-5:]

    def location(self, pos: int) -> tuple[int, int]:
        """1-based line and column of a position in the current buffer."""
        newlines = self.buf.count("\n", 0, pos)
        line = self._line_base + newlines + 1
        col = pos - self.buf.rfind("\n", 0, pos) if newlines else self._col_base + pos + 1
        return line, col

    def refuse(
        self, message: str, pos: int | None = None, path: str = "", *, code: Code
    ) -> InputRefused:
        """An InputRefused at a position (``pos``, else the current one) with line and column."""
        line, col = self.location(self.pos if pos is None else pos)
        return InputRefused(message, path=path, line=line, column=col, code=code)

    def _skip_ws(self) -> None:
        while True:
            self.pos = _ws_match(self.buf, self.pos).end()
            if self.pos < len(self.buf) or not self._fill(1):
                return

    def _peek(self) -> str:
        self._skip_ws()
        return self.buf[self.pos] if self.pos < len(self.buf) else ""

    def _expect(self, char: str, message: str, path: str) -> None:
        if self._peek() != char:
            raise self.refuse(f"malformed JSON: {message}", path=path, code=Code.SYNTAX_ERROR)
        self.pos += 1

    # -- repeated keys ------------------------------------------------------------------------
    def _pairs(self, pairs: list[tuple[str, Any]]) -> dict:
        """An object from its pairs (the C decoder calls this), noting a repeated key."""
        value = dict(pairs)
        if len(value) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    self._repeated.append(key)
                seen.add(key)
        return value

    def _note_repeated(self, keys: list[str], path: str, pos: int) -> None:
        """Warn of objects with a repeated key inside the value at ``path`` (starting at
        ``pos``): only the last value of each such key is kept."""
        self._repeats += 1
        if self._repeats <= MAX_DUPLICATE_WARNINGS:
            line, col = self.location(pos)
            names = ", ".join(f"'{k}'" for k in dict.fromkeys(keys))
            self.warnings.append(
                Problem(
                    path,
                    f"a key appears twice in one object ({names}): only its last value is "
                    "read, the earlier one is dropped",
                    line=line,
                    column=col,
                    code=Code.DUPLICATE_JSON_KEY,
                )
            )

    def _check_repeated(self, path: str, pos: int) -> None:
        if self._repeated:
            keys, self._repeated = self._repeated, []
            self._note_repeated(keys, path, pos)

    def finish_warnings(self) -> list[Problem]:
        """The warnings of the whole text, with a count of repeated keys not named one by one."""
        extra = self._repeats - MAX_DUPLICATE_WARNINGS
        if extra > 0:
            self.warnings.append(
                Problem(
                    "",
                    f"and {extra} more objects with a repeated key (only the last value read)",
                    code=Code.DUPLICATE_JSON_KEY,
                )
            )
            self._repeats = MAX_DUPLICATE_WARNINGS
        return self.warnings

    # -- values -------------------------------------------------------------------------------
    def values(self) -> Iterator[tuple[Any, int]]:
        """Yield each top-level value with the 1-based line it starts on."""
        end_line = 0
        while True:
            self._skip_ws()
            if self.pos >= len(self.buf):
                if not end_line:
                    raise InputRefused(
                        "the file holds only whitespace, no JSON", code=Code.EMPTY_FILE
                    )
                return
            line, column = self.location(self.pos)
            if end_line and self._sink is not None:  # JSON Lines: pages, not the document
                self._sink.spoil()
                self._sink = None
            if line == end_line:
                # A second value must start on a new line (JSON Lines), else it is garbage.
                raise self.refuse(
                    "malformed JSON: extra data after the end of the document",
                    code=Code.SYNTAX_ERROR,
                )
            try:
                value = self._value(0, "", "top")
            except InputRefused as exc:
                if end_line:  # a later JSON Lines record: say which one
                    p = exc.problem
                    raise InputRefused(
                        f"{p.message} (in the JSON Lines record that starts on line {line})",
                        p.path,
                        p.line,
                        p.column,
                        code=p.code,
                    ) from None
                p = exc.problem
                if p.code == Code.SYNTAX_ERROR and (p.line, p.column) == (line, column):
                    # Not JSON from its first character on: text, HTML, a log... not an export.
                    raise InputRefused(
                        "this is not a memory export: it is not JSON (a memory export starts "
                        "with '{' or '[')",
                        p.path,
                        p.line,
                        p.column,
                        code=p.code,
                    ) from None
                raise
            end_line = self.location(self.pos)[0]
            yield value, line

    def _value(self, depth: int, path: str, parent: str, limit: int | None = None) -> Any:
        char = self._peek()
        if char == "{" and (depth == 0 or (depth == 1 and parent == "object")):
            return self._object(depth, path)
        if char == "[" and depth <= 2:
            return self._array(depth, path, parent)
        return self._decode(depth, path, limit)

    def _object(self, depth: int, path: str) -> dict:
        self.pos += 1
        result: dict = {}
        bounded = self._spill_after is not None
        if self._peek() == "}":
            self.pos += 1
            return result
        while True:
            if self._peek() != '"':
                raise self.refuse(
                    "malformed JSON: expecting a property name in double quotes",
                    path=path,
                    code=Code.SYNTAX_ERROR,
                )
            key_pos = self.pos
            key = self._decode(depth + 1, path)
            self._expect(":", "expecting ':' after a property name", path)
            if key in result:
                self._note_repeated([key], path or "(top level)", key_pos)
                if self._sink is not None:  # both values were fed; only the last one is kept
                    self._sink.spoil()
                    self._sink = None
            self._keys.append(key)
            if bounded and len(result) >= MAX_OBJECT_KEYS and key not in result:
                if depth == 0:
                    raise self.refuse(
                        f"the document has more than {MAX_OBJECT_KEYS:,} fields: no supported "
                        "format has so many",
                        key_pos,
                        path,
                        code=Code.TOO_MANY_FIELDS,
                    )
                if not isinstance(result, CountedObject):
                    result = CountedObject(path, result)
                value = self._value(depth + 1, _join(path, key), "object")
                if isinstance(value, (list, RecordList)):  # a bucket: counted for the caps
                    result.count(key, len(value))
                else:  # a record keyed by its id (FAISS's docstore): kept in the spool
                    result.keep(key, value, self._spooled)
            else:
                result[key] = self._value(depth + 1, _join(path, key), "object")
            self._keys.pop()
            char = self._peek()
            if char == ",":
                self.pos += 1
            elif char == "}":
                self.pos += 1
                return result
            else:
                raise self.refuse(
                    "malformed JSON: expecting ',' or '}' in an object",
                    path=path,
                    code=Code.SYNTAX_ERROR,
                )

    def _array(self, depth: int, path: str, parent: str) -> list | RecordList:
        small = self._small_array(depth, parent)
        if small is not None:
            return small
        self.pos += 1
        result: list | RecordList = self._spooled() if self._spilling(depth, parent) else []
        sinking = self._sink is not None and parent == "object" and (depth == 1 or depth == 2)
        if self._peek() == "]":
            self.pos += 1
            if sinking:
                self._feed(depth, 0, [])
            return result
        counted = self._record_array(depth, parent)
        # the record limits hold for agentmemory's collections (whose records go to the store
        # as they are); another format's record (a Letta agent) is converted, not sent
        limited = counted and bool(self._keys) and self._keys[0] in BY_NAME
        batch: list = []  # decoded records not yet handed to the sink
        fed = 0
        key_field = self._key_field() if counted else None
        child = depth + 1
        depth_budget = self.max_depth - child
        while True:
            # Fast path: a compact record ("{...}" right here, whole in the window, small, not
            # deep) goes straight to the C decoder. Anything else takes the careful path below.
            buf, pos = self.buf, self.pos
            value = _MISSING
            if pos < len(buf) and buf[pos] == "{" and (len(buf) - pos > _LOOKAHEAD or self._eof):
                try:
                    value, end = self._decoder.raw_decode(buf, pos)
                except (ValueError, RecursionError):
                    value = _MISSING
                    self._repeated.clear()
                else:
                    if (
                        end - pos > self.max_string
                        or (limited and end - pos > RECORD_LIMIT)
                        or end >= len(buf)
                        or (buf.count("[", pos, end) + buf.count("{", pos, end) > depth_budget)
                    ):
                        value = _MISSING
                        self._repeated.clear()  # the careful path reads it again
                    else:
                        self.pos = end
                        self._check_repeated(f"{path}[{len(result)}]", pos)
                        if sinking:
                            batch.append(value)
                        if result.__class__ is RecordList:
                            key = value.get(key_field) if key_field else None
                            result.append_text(
                                buf[pos:end], key if key.__class__ is str and key else None
                            )
                            value = None
                        else:
                            value = self._share_keys(value)
            if value is _MISSING:
                start = self._base + pos
                value = self._value(
                    child, f"{path}[{len(result)}]", "array", RECORD_LIMIT if limited else None
                )
                if sinking:
                    batch.append(value)
                if result.__class__ is RecordList:
                    key = value.get(key_field) if key_field and value.__class__ is dict else None
                    result.append(value, key if key.__class__ is str and key else None)
                else:
                    result.append(value)
                if counted:  # (the text may have left the window: estimated)
                    self._held += 16 * (self._base + self.pos - start)
            elif value is not None or result.__class__ is list:
                result.append(value)
                if counted:
                    self._held += decoded_cost(buf, pos, self.pos)
            if counted and result.__class__ is list and self._spilling(depth, parent):
                spooled = self._spooled()
                spooled.extend(result)
                result = spooled
            if len(batch) >= SINK_CHUNK:
                self._feed(depth, fed, batch)
                fed += len(batch)
                batch = []
            self._counted(1)
            buf, pos = self.buf, self.pos
            char = buf[pos] if pos < len(buf) else self._peek()
            if char in " \t\r\n":
                char = self._peek()
            if char == ",":
                self.pos += 1
                if self.pos >= len(self.buf) or self.buf[self.pos] in " \t\r\n":
                    self._skip_ws()
                if self.pos >= len(self.buf):
                    raise self.refuse(
                        "malformed JSON: expecting a value", path=path, code=Code.SYNTAX_ERROR
                    )
            elif char == "]":
                self.pos += 1
                if sinking and (batch or not fed):
                    self._feed(depth, fed, batch)
                return result
            else:
                raise self.refuse(
                    "malformed JSON: expecting ',' or ']' in an array",
                    path=path,
                    code=Code.SYNTAX_ERROR,
                )

    def _small_array(self, depth: int, parent: str) -> list | RecordList | None:
        """The array at ``pos`` decoded in one C call when it is small and plainly valid.

        None (nothing consumed) leaves it to the element-by-element path, which locates any
        error and streams a big array. An observation bucket is a few dozen records: decoding
        it whole saves the Python work per record, which was most of the reading time."""
        if self._small_pause:
            self._small_pause -= 1
            return None
        cap = min(SMALL_MAX, self.max_string)
        size = min(self._small_size, cap)
        while True:
            self._fill(size)
            buf, pos = self.buf, self.pos
            text, start = (buf[pos : pos + size], 0) if len(buf) - pos > size else (buf, pos)
            try:
                value, end = self._decoder.raw_decode(text, start)
                break
            except json.JSONDecodeError as exc:
                self._repeated.clear()
                if not _cut_off(exc, text) or (text is buf and self._eof):
                    return None  # really broken: the careful path says where
                if size >= cap:  # a big array: stream it
                    self._small_missed()
                    return None
                size = min(2 * size, cap)
            except (ValueError, RecursionError):  # NaN, a giant number...: the careful path
                self._repeated.clear()
                return None
        if self._repeated:  # a repeated key: the element-by-element path says which element
            self._repeated.clear()
            return None
        # Too deep? Each element's own levels can be no more than the array's brackets less
        # one per other element (cheap to count); only when that bound fails, measure exactly.
        room = self.max_depth - depth - 1
        brackets = text.count("[", start, end) + text.count("{", start, end)
        containers = sum(1 for v in value if v.__class__ is dict or v.__class__ is list)
        if brackets - containers > room and _levels(text[start:end], room + 1) > room + 1:
            self._small_missed()  # too deep (or deep enough to check one by one)
            return None
        self.pos = pos + end - start if text is not buf else end
        self._small_size = max(SMALL_FIRST, 2 * (end - start))
        self._small_misses = 0
        self._counted(len(value))
        sinking = self._sink is not None and parent == "object" and (depth == 1 or depth == 2)
        spilling = self._spilling(depth, parent)
        keys = _keys(value, self._key_field()) if sinking or spilling else None  # read once
        if sinking:
            self._feed(depth, 0, value, keys)
        if self._record_array(depth, parent):
            if spilling:
                spooled = self._spooled()
                spooled.extend_text(text[start:end], len(value), _usable(keys))
                return spooled
            self._held += decoded_cost(text, start, end)
        return value

    def _small_missed(self) -> None:
        """After an array too big or too deep to read whole, leave the next few (1, 2, 4, ...
        up to 1024 after misses in a row) to the careful path before trying again."""
        self._small_misses += 1
        self._small_pause = 2 ** min(self._small_misses, 10)

    def _counted(self, elements: int) -> None:
        before = self._elements
        self._elements += elements
        if self._elements // PROGRESS_EVERY != before // PROGRESS_EVERY:
            self._tick()

    def _tick(self) -> None:
        """About every PROGRESS_EVERY elements (a small array read whole counts its own
        elements only): honour cancel, report progress."""
        if self._cancel is not None and self._cancel():
            raise Cancelled()
        if self._on_progress is not None:
            self._on_progress()

    def _decode(self, depth: int, path: str, limit: int | None = None) -> Any:
        """Decode one whole value at ``pos`` with the C decoder, growing the window as needed
        (a record refused past ``limit`` characters, before it is decoded)."""
        self._fill(_LOOKAHEAD)
        start = self.pos
        checked = 0  # where the next string check starts its blocks (see _check_strings)
        while True:
            self._repeated.clear()
            try:
                value, end = self._decoder.raw_decode(self.buf, start)
            except _NotJson as exc:
                raise self._constant_error(start, str(exc), path) from None
            except _NotFinite as exc:
                raise self._infinite_error(start, str(exc), path) from None
            except RecursionError:
                raise self._depth_error(start, depth, path) from None
            except json.JSONDecodeError as exc:
                if self._eof or not _cut_off(exc, self.buf):
                    raise self._syntax_error(exc, path) from None
                end = -1
            except ValueError as exc:  # e.g. an integer literal of thousands of digits
                raise self.refuse(
                    f"a value that cannot be read: {exc}", start, path, code=Code.UNREADABLE_VALUE
                ) from None
            if end == -1 or (end >= len(self.buf) and not self._eof):
                # Maybe cut off at the end of the window: read more and try again.
                if len(self.buf) - start > self.max_string:  # (from where it stopped)
                    checked = (
                        self._check_strings(start, len(self.buf), path, start + checked) - start
                    )
                if limit is None:
                    self._fill(2 * (len(self.buf) - start) + CHUNK_CHARS)
                else:  # a record: refused before it is decoded, memory bounded on the way
                    self._record_bounds(start, path, limit)
                    # twice the window each time (up to the limit): decoding again from the
                    # record's start after each chunk made one big record quadratic
                    self._fill(min(2 * (len(self.buf) - start), limit) + CHUNK_CHARS)
                start = self.pos
                continue
            break
        if limit is not None and end - start > limit:
            raise self._too_long(start, path, limit)
        self.pos = end
        self._check_repeated(path, start)
        size = end - start
        # Only a value with more brackets than levels left can be too deep: count first (fast).
        if size > 64 and isinstance(value, (dict, list)):
            brackets = self.buf.count("[", start, end) + self.buf.count("{", start, end)
            if brackets > self.max_depth - depth:
                self._check_depth(start, end, depth, path)
        if size > self.max_string:
            self._check_strings(start, end, path, start + min(checked, size))
        return self._share_keys(value)

    def _too_long(self, start: int, path: str, limit: int) -> InputRefused:
        return self.refuse(
            f"one record is longer than {limit // (1024 * 1024)} MB (agentmemory takes "
            "requests up to 16 MiB, records included)",
            start,
            path,
            code=Code.RECORD_TOO_LARGE,
        )

    def _record_bounds(self, start: int, path: str, limit: int) -> None:
        """Refuse a record that is cut off at the window's end when the part read already
        passes ``limit`` characters, or would take more than RECORD_MEMORY once decoded."""
        if len(self.buf) - start > limit:
            raise self._too_long(start, path, limit)
        if decoded_cost(self.buf, start, len(self.buf)) > RECORD_MEMORY:
            raise self.refuse(
                f"one record holds too many values to read (more than about "
                f"{RECORD_MEMORY // (1024 * 1024)} MB once decoded)",
                start,
                path,
                code=Code.RECORD_TOO_LARGE,
            )

    def _share_keys(self, value: Any) -> Any:
        """Give a record the key strings of an earlier record with the same keys.

        ``json.loads`` shares key strings across a document (its memo); decoding record by
        record does not, and 500,000 records with a dozen private key strings each cost
        hundreds of megabytes. Records of one collection read one at a time share their keys
        (and key order); a small array read whole shares them among its own records (about
        1 KB more per observation bucket, 10 MB at agentmemory's caps).
        """
        if type(value) is not dict:
            return value
        keys = tuple(value)
        # most records have the keys of the one before
        shared: tuple[str, ...] | None = self._last_keys
        if keys != shared:
            shared = self._key_sets.get(keys)
            if shared is None:
                if len(self._key_sets) < MAX_KEY_SETS:
                    self._key_sets[keys] = keys
                self._last_keys = keys
                return value
            self._last_keys = shared
        return dict(zip(shared, value.values()))  # noqa: B905 - same length by construction

    # -- errors -------------------------------------------------------------------------------
    def _syntax_error(self, exc: json.JSONDecodeError, path: str) -> InputRefused:
        message = exc.msg
        if message.startswith("Unterminated string"):
            message = "unterminated string"
        elif message.startswith("Invalid control character"):
            message = "invalid control character in a string"
        return self.refuse(
            f"malformed JSON: {message[0].lower()}{message[1:]}",
            exc.pos,
            path,
            code=Code.SYNTAX_ERROR,
        )

    def _constant_error(self, start: int, name: str, path: str) -> InputRefused:
        for m in _STRING_OR_CONSTANT.finditer(self.buf, start):
            if m.group(1):
                return self.refuse(
                    f"{m.group(1)} is not valid JSON (no NaN or Infinity)",
                    m.start(1),
                    path,
                    code=Code.NAN_OR_INFINITY,
                )
        return self.refuse(
            f"{name} is not valid JSON (no NaN or Infinity)",
            start,
            path,
            code=Code.NAN_OR_INFINITY,
        )

    def _infinite_error(self, start: int, literal: str, path: str) -> InputRefused:
        pos = start
        for m in _STRING_OR_NUMBER.finditer(self.buf, start):
            if m.group(1) and m.group(1).rstrip(".") == literal.rstrip("."):
                pos = m.start(1)
                break
        shown = literal if len(literal) <= 24 else f"{literal[:12]}...{literal[-8:]}"
        return self.refuse(
            f"the number {shown} is beyond what a double can hold: it would be read as "
            "infinity, which is not valid JSON (no NaN or Infinity)",
            pos,
            path,
            code=Code.NAN_OR_INFINITY,
        )

    def _check_depth(self, start: int, end: int, depth: int, path: str) -> None:
        level = depth
        for m in _STRING_OR_BRACKET.finditer(self.buf, start, end):
            bracket = m.group(1)
            if not bracket:
                continue
            if bracket in "[{":
                level += 1
                if level > self.max_depth:
                    raise self.refuse(
                        f"nesting deeper than {self.max_depth} levels",
                        m.start(1),
                        path,
                        code=Code.TOO_DEEP,
                    )
            else:
                level -= 1

    def _depth_error(self, start: int, depth: int, path: str) -> InputRefused:
        try:
            self._check_depth(start, len(self.buf), depth, path)
        except InputRefused as exc:
            return exc
        return self.refuse(
            f"nesting deeper than {self.max_depth} levels", start, path, code=Code.TOO_DEEP
        )

    def _check_strings(self, start: int, end: int, path: str, fast_from: int | None = None) -> int:
        """Refuse a string over the limit in ``buf[start:end]`` (``start`` outside a string).

        First in C: a block of half the limit with a quote not after a backslash (a string's
        end or start) cannot be inside a string, so when every block from ``fast_from`` on has
        one, no string is too long (strings cut off at ``end`` aside). Only otherwise are the
        strings matched one by one. Returns where a check of a longer window of the same value
        may start its blocks: a growing record costs C work once per character, not a Python
        step per string each time it grows."""
        limit = self.max_string
        half = limit // 2
        buf = self.buf
        pos = start if fast_from is None else fast_from
        if half >= 4096:
            while pos + half <= end and buf.count('"', pos, pos + half) > buf.count(
                '\\"', pos, pos + half
            ):
                pos += half
            if pos + half > end:
                return max(start, end - limit)
        for m in _STRING.finditer(buf, start, end):
            if m.end() - m.start() - 2 > limit:
                raise self.refuse(
                    f"a single string longer than {limit // (1024 * 1024)} MB",
                    m.start(),
                    path,
                    code=Code.STRING_TOO_LONG,
                )
        return max(start, end - limit)


def _cut_off(exc: json.JSONDecodeError, text: str) -> bool:
    """Whether a decode error may only mean the value goes on past the end of ``text``."""
    return exc.pos >= len(text) - 64 or exc.msg.startswith("Unterminated")


def _levels(text: str, limit: int) -> int:
    """How deeply the brackets of a valid JSON text nest (counted up to limit + 1), with
    C-speed string operations only. Each level is a pass over the brackets: for a text both
    large and deep (a hostile one) it gives up early and says limit + 1, "too deep to tell
    here", and the caller takes the element-by-element path, which finds the exact place."""
    raw = text.encode("utf-8", "surrogatepass")
    if b"\\" in raw:  # escaped backslashes, then escaped quotes, can hide or fake a quote
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = raw.translate(None, _NOT_STRUCTURE)
    structure = _QUOTED.sub(b"", structure.replace(b'""', b""))  # strings and their brackets
    structure = structure.translate(_ONE_BRACKET_KIND)
    levels = 0
    while structure and levels <= limit:  # each pass removes the innermost pairs: one level
        if levels >= 8 and len(structure) > 16 * 1024:
            return limit + 1
        shorter = structure.replace(b"[]", b"")
        if len(shorter) == len(structure):  # not balanced: not a valid text; say "too deep"
            return limit + 1
        structure = shorter
        levels += 1
    return levels


def _join(path: str, key: str) -> str:
    if key.isidentifier():
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"
