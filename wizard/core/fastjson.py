"""Records encoded as the store keeps them, fast (orjson), and as earlier versions kept them.

A record's stored text is compact JSON and its content hash is taken over that text. orjson
writes it 10-15 times faster than ``json`` and gives the same text for every value but three:
a float below 1e-4 (``json`` writes ``1e-05`` and ``1e-07``, orjson ``0.00001`` and ``1e-7``),
an integer beyond 64 bits and a lone surrogate. orjson refuses the last two; they are written
by ``json`` (the surrogate escaped, so the text is valid UTF-8). The first one means a record
holding a small float is stored in orjson's form; a store written by an earlier version holds
``json``'s form, so the importer compares such a record in both forms before calling it changed
(``maybe_json_differs``, ``json_utf8``). Reading stays with ``json``: it is faster than orjson
on text (orjson encodes it to UTF-8 first and shares no key strings), and orjson reads integers
beyond 64 bits as floats.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# allow_nan=False: a non-finite float raises rather than writing "Infinity" (not JSON); the
# reader refuses them (jsonstream), so only a bug could bring one here
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_ASCII = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode
# orjson's forms of the floats json writes otherwise (1e-7 for 1e-07)
_SMALL_EXPONENT = re.compile(rb"[0-9]e-[0-9](?![0-9])")
_orjson_dumps = orjson.dumps


def dumps(value: Any) -> str:
    """Compact JSON text of ``value`` (always valid UTF-8)."""
    return dumps_utf8(value)[0]


def dumps_utf8(value: Any) -> tuple[str, bytes]:
    """Compact JSON text of ``value`` and its UTF-8 bytes (what a content hash is taken over)."""
    try:
        data = _orjson_dumps(value)
    except (TypeError, orjson.JSONEncodeError):  # a 65-bit integer, a lone surrogate
        data = json_utf8(value)
    return data.decode("utf-8"), data


def maybe_json_differs(data: bytes) -> bool:
    """Whether ``json`` may write the value of orjson's text ``data`` otherwise (it holds a
    float below 1e-4, or text that looks like one)."""
    return b"0.0000" in data or (b"e-" in data and _SMALL_EXPONENT.search(data) is not None)


def json_utf8(value: Any) -> bytes:
    """The UTF-8 bytes of ``json``'s compact text of ``value``: what versions before 0.3
    stored (a lone surrogate escaped)."""
    text = _COMPACT(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (JavaScript allows them): escape it
        return _ASCII(value).encode("utf-8")


def escaped(text: str) -> str:
    """``text`` with each lone surrogate written as its escape (``\\udcff``): text that UTF-8,
    SQLite and a terminal can take. A file name that is not UTF-8 (``os.fsdecode`` gives
    surrogates for its odd bytes) or a JSON ``"\\ud800"`` is shown and audited so, losslessly
    enough to tell it apart; valid text is returned as it is."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def escaped_all(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings...) with every string and key
    :func:`escaped`. For small values (an audit entry's fields), not records."""
    if isinstance(value, str):
        return escaped(value)
    if isinstance(value, dict):
        return {escaped_all(k): escaped_all(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [escaped_all(v) for v in value]
    return value
