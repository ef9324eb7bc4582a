"""Background work for the GUI: a QObject worker on a QThread driving a generator.

The GUI thread only starts a :class:`Task` and receives its signals; it never waits on it.

A :class:`Job` wraps a callable taking a :class:`TaskContext`. It either returns a value, or
returns a step generator whose yielded items are progress reports and whose ``return`` value is
the result (the shape of ``runs.plan_steps`` / ``runs.import_steps``). Between two items the
worker checks the cancel flag; when it is set, :class:`wizard.core.problems.Cancelled` is thrown
into the generator at its ``yield``. A *cooperative* job (whose generator polls ``ctx.cancelled``
itself, like ``runs.import_steps(cancel=...)``) is never interrupted from outside: it decides
where stopping is safe (never after its commit). Jobs that take callbacks instead
(``runs.read(progress=, cancel=)``) use ``ctx.report`` and ``ctx.cancelled`` directly. A
*heavy* job builds or walks a whole export: the cyclic GC stays paused while it runs.

Every exception is caught in the worker and emitted: ``cancelled`` for ``Cancelled``,
``failed(exc)`` for anything else; a job that handles the cancellation itself and returns a
result (an ImportResult whose outcome is "cancelled") ends with ``finished(result)``.
Progress is throttled to at most one signal per ``PROGRESS_INTERVAL`` seconds (the last one
before the end is not guaranteed: ``finished`` follows).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from wizard.core.allocation import paused_gc, release
from wizard.core.inspection import Inspection
from wizard.core.names import Name
from wizard.core.problems import Cancelled
from wizard.core.steps import drive

PROGRESS_INTERVAL = 0.05  # seconds: at most 20 progress signals per second

# A busy worker hands the interpreter to a waiting thread only every "switch interval" (5 ms by
# default); the GUI thread needs it for every Python slot it runs, so a handful of slots in a
# row could wait 5 ms each. 1 ms keeps the window's longest pause well under 50 ms; it costs
# nothing while the GUI thread is idle (the worker is only asked to switch when it waits).
GUI_SWITCH_INTERVAL = 0.001
sys.setswitchinterval(min(sys.getswitchinterval(), GUI_SWITCH_INTERVAL))

_running: set[Task] = set()  # strong references: a running task is never garbage collected


class TaskContext:
    """What a job may touch: the cancel flag and the (throttled) progress report."""

    def __init__(self, emit: Callable[[object], None], interval: float) -> None:
        self._event = threading.Event()
        self._emit = emit
        self._interval = interval
        self._last = 0.0
        self.deferred: list[Callable[[], None]] = []

    def defer(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in the worker thread after the result has been sent (clean-up that must
        not delay the result, e.g. freeing the imported data)."""
        self.deferred.append(fn)

    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        self._event.set()

    def report(self, *item: Any, force: bool = False) -> None:
        """Send a progress item to the GUI thread, at most every ``interval`` seconds.

        ``report(x)`` sends ``x``; ``report(a, b, c)`` sends the tuple (callback style:
        ``inspect_file(progress=ctx.report)``).
        """
        now = time.monotonic()
        if force or now - self._last >= self._interval:
            self._last = now
            self._emit(item[0] if len(item) == 1 else item)


class TaskEnd(Name):
    """How a task's job ended, as its signals said."""

    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Job:
    """What a Task runs: ``fn(ctx)``, and how (see the module doc)."""

    fn: Callable[[TaskContext], Any]
    heavy: bool = False
    cooperative: bool = False


class _Worker(QObject):
    """Lives in the task's thread; runs the job once and emits what happened."""

    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(object)
    cancelled = Signal()

    def __init__(self, job: Job, interval: float) -> None:
        super().__init__()
        self._job: Callable[[TaskContext], Any] | None = job.fn
        self._cooperative = job.cooperative
        self._heavy = job.heavy
        self.ctx = TaskContext(self.progress.emit, interval)

    @Slot()
    def run(self) -> None:
        # A heavy job builds or walks a whole export: the cyclic GC stays paused meanwhile
        # (see wizard.core.allocation).
        with paused_gc() if self._heavy else contextlib.nullcontext():
            self._run_job()
        # Quit the thread from inside it: a queued quit could never be delivered to a GUI
        # thread that happens to wait on this thread (at application exit).
        thread = self.thread()
        if thread is not None:
            thread.quit()

    def _run_job(self) -> None:
        try:
            assert self._job is not None, "a worker runs its job once"
            result = self._job(self.ctx)
            if isinstance(result, Generator):
                result = self._drive(result)
            self._job = None  # drop references (and data) held by the job in this thread
            self.finished.emit(result)
            del result
            self._run_deferred()
        except Cancelled:
            self.cancelled.emit()
        except BaseException as exc:  # every error crosses to the GUI thread as a signal
            self.failed.emit(exc)
        finally:
            self._job = None

    def _run_deferred(self) -> None:
        while self.ctx.deferred:
            fn = self.ctx.deferred.pop(0)
            try:
                fn()
            except Exception:  # clean-up only: never turn a finished job into a failure
                pass

    def _drive(self, gen: Generator) -> Any:
        ctx = self.ctx

        def interrupt() -> BaseException | None:
            if ctx.cancelled() and not self._cooperative:
                return Cancelled("cancelled by the user")
            return None

        return drive(gen, ctx.report, interrupt)


class Task(QObject):
    """One background job. Create it, connect its signals, ``start()`` it.

    Signals (all delivered in the GUI thread): ``progress(item)``, ``finished(result)``,
    ``failed(exception)``, ``cancelled()``, and ``stopped()`` once the thread has ended,
    whatever the outcome (the moment a deferred close may proceed).
    """

    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    stopped = Signal()

    def __init__(
        self,
        job: Job | Callable[[TaskContext], Any],
        name: str = "task",
        interval: float = PROGRESS_INTERVAL,
    ) -> None:
        super().__init__()
        self.name = name
        self._thread: QThread | None = QThread()
        self._thread.setObjectName(f"wizard-{name}")
        self._worker: _Worker | None = _Worker(job if isinstance(job, Job) else Job(job), interval)
        self._worker.moveToThread(self._thread)
        self._ctx = self._worker.ctx
        self._started = False
        self._running = False
        self.outcome: TaskEnd | None = None  # once known
        w = self._worker
        w.progress.connect(self.progress)
        w.finished.connect(self._on_finished)
        w.failed.connect(self._on_failed)
        w.cancelled.connect(self._on_cancelled)
        self._thread.started.connect(w.run)
        self._thread.finished.connect(self._on_thread_finished)

    # -- control ---------------------------------------------------------------------------------
    def start(self) -> Task:
        if self._started:
            raise RuntimeError("a task runs once")
        assert self._thread is not None  # set until the thread has finished
        self._started = self._running = True
        _running.add(self)
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the job to stop; ``cancelled`` (or ``finished``) follows. Never blocks."""
        self._ctx.cancel()

    def is_cancel_requested(self) -> bool:
        return self._ctx.cancelled()

    def is_running(self) -> bool:
        return self._running

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the thread ends. Only for application exit and test teardown."""
        if self._thread is None:
            return True
        return self._thread.wait(msecs)

    # -- worker signals (GUI thread) -------------------------------------------------------------
    def _on_finished(self, result: object) -> None:
        if self.outcome is None:
            self.outcome = TaskEnd.FINISHED
        self.finished.emit(result)

    def _on_failed(self, exc: object) -> None:
        self.outcome = TaskEnd.FAILED
        self.failed.emit(exc)

    def _on_cancelled(self) -> None:
        self.outcome = TaskEnd.CANCELLED
        self.cancelled.emit()

    def _on_thread_finished(self) -> None:
        self._running = False
        _running.discard(self)
        if self._worker is not None:
            self._worker.deleteLater()
            self._worker = None
        if self._thread is not None:
            self._thread.deleteLater()
            self._thread = None
        self.stopped.emit()


def start_task(
    job: Job | Callable[[TaskContext], Any],
    *,
    name: str = "task",
    progress: Callable | None = None,
    finished: Callable | None = None,
    failed: Callable | None = None,
    cancelled: Callable | None = None,
    stopped: Callable | None = None,
) -> Task:
    """Create, connect and start a :class:`Task`."""
    task = Task(job, name=name)
    for signal, slot in (
        (task.progress, progress),
        (task.finished, finished),
        (task.failed, failed),
        (task.cancelled, cancelled),
        (task.stopped, stopped),
    ):
        if slot is not None:
            signal.connect(slot)
    return task.start()


def running_tasks() -> list[Task]:
    return list(_running)


def cancel_all_and_wait(msecs: int = 30_000) -> bool:
    """Cancel every running task and wait for their threads (application exit, test teardown).

    Returns True when all stopped in time.
    """
    tasks = list(_running)
    for task in tasks:
        task.cancel()
    deadline = time.monotonic() + msecs / 1000
    ok = True
    for task in tasks:
        left = max(0, int((deadline - time.monotonic()) * 1000))
        ok = task.wait(left) and ok
    return ok


def dispose_in_background(data: dict) -> None:
    """Drop big data (a canonical export) piece by piece on a worker thread.

    Freeing hundreds of thousands of records in one ``del`` holds the interpreter for a long
    moment; doing it in a loop on a worker lets the GUI thread run in between.
    """
    box = [data]

    def job(ctx: TaskContext) -> None:
        release(box.pop())

    start_task(job, name="dispose")


def release_data(inspection: Inspection) -> None:
    """Take an Inspection's export away from it and free it piece by piece, in the calling
    (worker) thread."""
    data, inspection.data = inspection.data, None
    if data is not None:
        release(data)
