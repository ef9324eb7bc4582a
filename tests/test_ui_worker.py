"""The background worker: generator driving, results, errors, cancel, throttled progress."""

from __future__ import annotations

import threading

import pytest

from wizard.core.problems import Cancelled
from wizard.ui.worker import Job, Task, cancel_all_and_wait, running_tasks


def test_generator_result_and_progress_run_off_the_gui_thread(qtbot):
    main = threading.get_ident()
    seen_threads = []

    def job(ctx):
        def gen():
            seen_threads.append(threading.get_ident())
            yield from range(3)
            return "done"

        return gen()

    task = Task(job, interval=0)
    progress = []
    task.progress.connect(progress.append)
    with (
        qtbot.waitSignal(task.stopped, timeout=5000),
        qtbot.waitSignal(task.finished, timeout=5000) as result,
    ):
        task.start()
    assert result.args == ["done"]
    assert progress == [0, 1, 2]
    assert seen_threads and seen_threads[0] != main
    assert task.outcome == "finished"
    assert task not in running_tasks()


def test_plain_function_result(qtbot):
    task = Task(lambda ctx: 42)
    with qtbot.waitSignal(task.finished, timeout=5000) as blocker:
        task.start()
    assert blocker.args == [42]


def test_exception_is_emitted_not_raised(qtbot):
    def job(ctx):
        raise ValueError("boom")

    task = Task(job)
    with qtbot.waitSignal(task.failed, timeout=5000) as blocker:
        task.start()
    assert isinstance(blocker.args[0], ValueError)
    assert task.outcome == "failed"
    qtbot.waitUntil(lambda: not task.is_running())


def test_cancel_throws_into_a_plain_generator(qtbot):
    release = threading.Event()
    closed = []

    def job(ctx):
        def gen():
            try:
                while True:
                    release.wait(5)
                    yield 1
            except Cancelled:
                closed.append("cancelled")
                raise

        return gen()

    task = Task(job)
    with qtbot.waitSignal(task.cancelled, timeout=5000):
        task.start()
        task.cancel()
        release.set()
    assert closed == ["cancelled"]
    assert task.outcome == "cancelled"


def test_cooperative_generator_is_not_interrupted(qtbot):
    """A store job decides itself where stopping is safe; the worker only sets the flag."""

    def job(ctx):
        def gen():
            n = 0
            while not ctx.cancelled():
                n += 1
                yield n
            yield "after cancel"  # not interrupted: runs to its own end
            return "stopped cleanly"

        return gen()

    task = Task(Job(job, cooperative=True), interval=0)
    items = []
    task.progress.connect(items.append)
    task.progress.connect(lambda _i: task.cancel())
    with qtbot.waitSignal(task.finished, timeout=5000) as blocker:
        task.start()
    assert blocker.args == ["stopped cleanly"]
    qtbot.waitUntil(lambda: not task.is_running())


def test_progress_is_throttled(qtbot):
    def job(ctx):
        def gen():
            yield from range(200_000)
            return "ok"

        return gen()

    task = Task(job)  # default interval: at most 20 signals per second
    items = []
    task.progress.connect(items.append)
    with qtbot.waitSignal(task.finished, timeout=10_000):
        task.start()
    assert 1 <= len(items) < 1000


def test_cancel_all_and_wait_stops_everything(qtbot):
    def job(ctx):
        def gen():
            while True:
                yield None

        return gen()

    tasks = [Task(job).start() for _ in range(3)]
    assert cancel_all_and_wait(5000)
    qtbot.waitUntil(lambda: not any(t.is_running() for t in tasks))


def test_a_task_runs_once(qtbot):
    task = Task(lambda ctx: None)
    with qtbot.waitSignal(task.stopped, timeout=5000):
        task.start()
    with pytest.raises(RuntimeError):
        task.start()
