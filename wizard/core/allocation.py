"""Keeping the GIL free while hundreds of thousands of records are built or freed.

Two things hold the GIL for long stretches when a big export is read on a worker thread, and
starve the GUI thread: the cyclic garbage collector's full collections (each one walks every
object; 170 ms per pass at 50,000 observations), and freeing the whole dataset at once (one
deallocation cascade in C). Records are plain acyclic dicts and lists, freed by reference
counting, so the collector can pause while they are built (and what was built is then frozen
out of its sight); and :func:`release` takes a dataset apart a chunk at a time.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False
RELEASE_CHUNK = 2000


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for the duration (re-entrant, thread-safe)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                # Everything allocated meanwhile sits in the youngest generation: the next
                # collection would walk all of it at once. Freezing moves it out of the
                # collector's sight in O(1); reference counting still frees it.
                gc.freeze()
                gc.enable()


def release(data: object) -> None:
    """Empty a canonical export (or any dict of lists/dicts of records) in small steps, then
    give what was frozen back to the collector: with the big data gone, a full collection is
    cheap again, and garbage cycles left from the work (a failed import's exception and its
    frames) can be collected."""
    _dismantle(data)
    gc.unfreeze()


def _dismantle(data: object) -> None:
    if isinstance(data, dict):
        # popitem, not a list of the keys: each key is freed with its value. (Kept to the end,
        # 10,000 session ids each pinned an otherwise empty allocator arena, and freeing them
        # together held the GIL for 85 ms while the arenas went back to the OS.)
        while data:
            _key, value = data.popitem()
            if isinstance(value, (dict, list)):
                _dismantle(value)
            del _key, value
    elif isinstance(data, list):
        while data:
            tail = data[-RELEASE_CHUNK:]
            del data[-RELEASE_CHUNK:]
            for item in tail:
                if isinstance(item, list) and len(item) > RELEASE_CHUNK:
                    _dismantle(item)
            del tail
