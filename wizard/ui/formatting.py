"""How numbers, counts of things, sizes, durations and times left are written for people."""

from __future__ import annotations

import math


def fmt_int(n: object) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n)


def plural(n: int, one: str, many: str | None = None) -> str:
    """'1 session', '2 sessions', '1,000 entries' (``many`` when adding an s is wrong)."""
    return f"{fmt_int(n)} {one if n == 1 else (many or one + 's')}"


def fmt_size(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size):,} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def fmt_duration_ms(ms: object) -> str:
    """A recorded duration in milliseconds (an import result's or an audit entry's
    ``duration_ms``), written as ``fmt_duration`` writes it; '' when there is none."""
    if isinstance(ms, bool) or not isinstance(ms, (int, float)):
        return ""
    return fmt_duration(ms / 1000)


def fmt_eta(seconds: float | None) -> str:
    if seconds is None or seconds < 0 or math.isinf(seconds):
        return "estimating…"
    if seconds < 1:
        return "less than a second left"
    if seconds < 60:
        return f"about {math.ceil(seconds)} s left"
    return f"about {fmt_duration(seconds)} left"
