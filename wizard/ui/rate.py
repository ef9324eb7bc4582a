"""Speed and time left of long work, from (done, total) samples: the import page (records)
and the delivery window (bytes) use the same meter."""

from __future__ import annotations

import time


class RateMeter:
    """Records per second and time left, from (done, total) samples (smoothed)."""

    def __init__(self, window: float = 3.0) -> None:
        self.window = window
        self.samples: list[tuple[float, int]] = []
        self.total = 0

    def reset(self) -> None:
        self.samples.clear()
        self.total = 0

    def add(self, done: int, total: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self.samples and done < self.samples[-1][1]:
            self.samples.clear()  # a new phase restarted its count
        self.samples.append((now, done))
        self.total = total
        while len(self.samples) > 2 and now - self.samples[0][0] > self.window:
            self.samples.pop(0)

    def rate(self) -> float | None:
        if len(self.samples) < 2:
            return None
        (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
        if t1 - t0 <= 0:
            return None
        return (d1 - d0) / (t1 - t0)

    def eta(self) -> float | None:
        rate = self.rate()
        if not rate or rate <= 0 or not self.samples:
            return None
        return max(0.0, (self.total - self.samples[-1][1]) / rate)
