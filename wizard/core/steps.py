"""Long work is written as step generators: each yields progress items between chunks and
``return``s its result. This module holds the one loop that runs such a generator to its end."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def drive(
    gen: Generator[Item, None, Result],
    on_item: Callable[[Item], None] | None = None,
    interrupt: Callable[[], BaseException | None] | None = None,
) -> Result:
    """Run ``gen`` to its end and return its value.

    ``on_item(item)`` sees every yielded item; after each one, ``interrupt()`` may return an
    exception, which is thrown into the generator at its ``yield`` (so it can roll back). An
    exception raised by ``on_item`` (Ctrl-C while the caller shows progress) is thrown into the
    generator too: it decides (roll back and re-raise, or return the result of work already
    committed). The generator is closed whatever happens.
    """
    try:
        item = next(gen)
        while True:
            if on_item is not None:
                try:
                    on_item(item)
                except BaseException as raised:
                    item = gen.throw(raised)
                    continue
            exc = interrupt() if interrupt is not None else None
            item = gen.throw(exc) if exc is not None else next(gen)
    except StopIteration as stop:
        # StopIteration.value is typed Any; a Generator[..., Result] returns a Result.
        result: Result = stop.value
        return result
    finally:
        gen.close()
