"""Measure the wizard's GUI thread during a real read, plan and import of a big file.

Usage: python bench/gui_probe.py FILE [--db PATH]
(QT_QPA_PLATFORM=offscreen works; so does a real display or xvfb-run.)

A 1 ms QTimer on the GUI thread records the longest gap between its ticks per phase, and the
wizard's import progress signals are timed: the longest interval between two updates and the
updates per second, and the same for what the page shows (progress, or its 250 ms heartbeat
during single long steps such as index builds and the commit). The goals (issue 7): no gap
over 50 ms, at least 4 progress updates a second.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import itertools

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication


def wait_for(condition, timeout_s: float) -> None:
    """Run the event loop until condition() is true (no sleeping, no busy GUI thread)."""
    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: (condition() or time.monotonic() > deadline) and loop.quit())
    timer.start()
    if not condition():
        loop.exec()
    timer.stop()
    if not condition():
        sys.exit(f"timed out after {timeout_s:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--db", default=None)
    args = ap.parse_args()
    db = Path(args.db or Path(tempfile.mkdtemp()) / "store.sqlite")
    os.environ.setdefault("AGENTMEMORY_WIZARD_LOG_DIR", str(db.parent))
    app = QApplication.instance() or QApplication([])
    from wizard.ui import open_wizard
    from wizard.ui.wizard import PageId

    wizard = open_wizard(db)
    wizard.show()
    gaps: dict[str, float] = {}
    state = {"phase": "start", "last": time.perf_counter()}

    def tick() -> None:
        now = time.perf_counter()
        gap = (now - state["last"]) * 1000
        phase = state["phase"]
        gaps[phase] = max(gaps.get(phase, 0.0), gap)
        state["last"] = now

    timer = QTimer()
    timer.setInterval(1)
    timer.timeout.connect(tick)
    updates: list[float] = []  # progress reported by the worker
    visible: list[float] = []  # the import page changing: progress or its heartbeat
    wizard.session.importProgress.connect(lambda *_: updates.append(time.perf_counter()))
    wizard.session.importProgress.connect(lambda *_: visible.append(time.perf_counter()))
    wizard.import_page.heartbeat.timeout.connect(lambda: visible.append(time.perf_counter()))
    phase_time: dict[str, float] = {}

    def phase(name: str) -> None:
        state["phase"] = name
        phase_time[name] = time.perf_counter()

    done = {"inspected": False, "imported": False}
    wizard.session.inspectionFinished.connect(lambda: done.__setitem__("inspected", True))
    wizard.session.importFinished.connect(lambda: done.__setitem__("imported", True))
    timer.start()
    phase("read+check")
    wizard.load_file(args.file)
    wait_for(lambda: done["inspected"], 600)
    if not (wizard.session.inspection and wizard.session.inspection.ok):
        sys.exit("the file was refused")
    wizard.next()
    wizard.next()
    phase("plan")
    wait_for(wizard.strategy_page.isComplete, 600)
    phase("import")
    wizard.next()
    wait_for(lambda: done["imported"], 1200)
    end = time.perf_counter()
    phase("after")
    wait_for(lambda: wizard.currentId() == PageId.RESULT, 60)
    settle = time.perf_counter() + 1.0
    wait_for(lambda: time.perf_counter() > settle, 5)
    timer.stop()
    intervals = [b - a for a, b in itertools.pairwise(updates)]
    shown = sorted(t for t in visible if t <= end)
    shown_intervals = [b - a for a, b in itertools.pairwise(shown)]
    seconds = end - phase_time["import"]
    print(f"outcome: {wizard.session.import_outcome}")
    for name in ("read+check", "plan", "import", "after"):
        print(f"longest GUI-thread gap during {name}: {gaps.get(name, 0.0):.1f} ms")
    if intervals:
        print(
            f"import: {seconds:.1f} s, {len(updates)} progress updates "
            f"({len(updates) / seconds:.1f} per second), longest interval "
            f"{max(intervals) * 1000:.0f} ms"
        )
    if shown_intervals:
        print(
            f"import page: {len(shown) / seconds:.1f} updates per second, longest interval "
            f"{max(shown_intervals) * 1000:.0f} ms"
        )
    app.quit()


if __name__ == "__main__":
    main()
