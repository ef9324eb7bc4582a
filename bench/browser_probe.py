"""Measure the store browser's GUI thread on a store at agentmemory's caps.

Usage: QT_QPA_PLATFORM=offscreen python bench/browser_probe.py STORE [--rows 20000]

A 1 ms QTimer on the GUI thread records the longest gap between its ticks while the browser
opens on 500,000 observations, the view fills page by page to ``--rows`` rows (fetchMore, as
scrolling asks), a search runs for a common and a rare word, and a record's detail loads;
the time each step takes to show its results is printed too. The goals (issue 16): results
within a fraction of a second, no gap over 50 ms while the view fills.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QEventLoop, QModelIndex, QTimer
from PySide6.QtWidgets import QApplication


class Probe:
    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(1)
        self.timer.timeout.connect(self.tick)
        self.last = time.perf_counter()
        self.worst: dict[str, float] = {}
        self.phase = ""

    def tick(self) -> None:
        now = time.perf_counter()
        gap = (now - self.last) * 1000
        self.worst[self.phase] = max(self.worst.get(self.phase, 0.0), gap)
        self.last = now


def wait(app: QApplication, cond, timeout: float = 120.0) -> float:
    t0 = time.perf_counter()
    while not cond():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--rows", type=int, default=20_000)
    args = ap.parse_args()
    app = QApplication([])
    from wizard.ui.store_browser import StoreBrowser

    probe = Probe()
    probe.timer.start()
    probe.phase = "open"
    window = StoreBrowser(args.store)
    window.resize(1200, 800)
    window.show()
    shown = wait(app, lambda: not window.is_loading() and window.model.rowCount() > 0)
    print(f"open (memories, first page): {shown:.3f} s")
    if window._search_ready is False:  # an older store: the index is built first
        probe.phase = "index"
        print(f"index build: {wait(app, lambda: window._search_ready, 600):.3f} s")

    probe.phase = "observations: first page"
    window.collection_combo.setCurrentIndex(window.collection_combo.findData("observations"))
    first = wait(app, lambda: not window.is_loading() and window.model.rowCount() > 0)
    print(f"observations, first page: {first:.3f} s")

    probe.phase = "filling the view"
    t0 = time.perf_counter()
    while window.model.rowCount() < args.rows and not window.model.is_complete():
        if window.model.canFetchMore(QModelIndex()):
            window.model.fetchMore(QModelIndex())  # what scrolling to the end asks for
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
    print(f"{window.model.rowCount():,} rows in the view: {time.perf_counter() - t0:.3f} s")

    for word in ("cache", "zyzzyva"):
        probe.phase = f"search {word!r}"
        window.search.setText(word)
        window.refresh()
        took = wait(app, lambda: not window.is_loading())
        print(f"search {word!r}: {took:.3f} s, {window.model.rowCount():,} rows shown")

    probe.phase = "detail"
    window.search.setText("")
    window.refresh()
    wait(app, lambda: not window.is_loading() and window.model.rowCount() > 0)
    window.table.selectRow(0)
    took = wait(app, lambda: window.detail.toPlainText().strip() != "", 30)
    print(f"detail of a record: {took:.3f} s")
    probe.timer.stop()
    print("longest GUI-thread gap per step (ms):")
    for phase, worst in probe.worst.items():
        print(f"  {phase:28} {worst:6.1f}")
    window.close()
    wait(app, lambda: not window.is_loading(), 30)
    from wizard.ui.worker import cancel_all_and_wait

    cancel_all_and_wait()


if __name__ == "__main__":
    main()
