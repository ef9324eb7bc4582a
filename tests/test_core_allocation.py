"""The GC pause and the chunked release that keep a worker from starving the GUI thread."""

from __future__ import annotations

import gc
import weakref

from wizard.core.allocation import paused_gc, release


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_pause_is_reentrant_and_restores_the_collector():
    assert gc.isenabled()
    with paused_gc():
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_cycles_made_during_a_pause_are_collected_once_the_data_is_released():
    with paused_gc():
        cycle = Node()
        data = {"memories": [{"id": str(i)} for i in range(5000)], "observations": {"s": []}}
    ref = weakref.ref(cycle)
    del cycle
    release(data)
    gc.collect()
    assert ref() is None
    assert data == {}
