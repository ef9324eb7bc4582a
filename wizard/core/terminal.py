"""Text for a terminal and for spreadsheets, from names and records nobody vetted.

``terminal_safe`` shows every control character as an escape (C0 and C1, DEL, and the Unicode
direction overrides that make text read backwards), so that a file name or a record title can
neither send an escape sequence to the terminal nor forge extra lines in the output.
``spreadsheet_safe`` keeps a CSV cell from being run as a formula by a spreadsheet.
"""

from __future__ import annotations

import re

# DEL, C1, the bidirectional overrides and isolates, the line and paragraph separators: what
# json.dumps(ensure_ascii=False) leaves raw but a terminal acts on
_RAW_IN_JSON = "\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029"
_JSON_CONTROL = re.compile(f"[{_RAW_IN_JSON}]")
# and C0 but tab
_CONTROL = re.compile(f"[\x00-\x08\x0a-\x1f{_RAW_IN_JSON}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\x1b": "\\e"}
# what spreadsheets read as the start of a formula (OWASP's list for CSV injection)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with its control characters shown as escapes (``\\e``, ``\\n``, ``\\x9b``)."""
    return _CONTROL.sub(_escape, text)


def json_terminal_safe(text: str) -> str:
    """JSON text with the characters ``json.dumps(ensure_ascii=False)`` leaves raw but a
    terminal acts on (C1 controls, direction overrides) written as ``\\uXXXX``: the same JSON."""
    return _JSON_CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def spreadsheet_safe(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text: one starting like a formula gets a leading
    apostrophe (the convention spreadsheets hide). Numbers and empty cells are left alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
