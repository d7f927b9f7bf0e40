"""Background work in a kernel: tasks whose failures are shown, never silently lost.

In a kernel an exception in a task nobody awaits vanishes, and ``print`` from it after its cell ended
shows nowhere; ``spawn`` keeps a reference to the task (so it is not garbage-collected mid-flight) and
hands any exception to ``on_error`` (usually a panel's status line).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

_LIVE: set[asyncio.Task[Any]] = set()


def spawn(
    coro: Coroutine[Any, Any, Any], on_error: Callable[[BaseException], None] | None = None, name: str = ""
) -> asyncio.Task[Any]:
    """Run ``coro`` as a task on the running loop; ``on_error`` gets its exception (cancellation is not one)."""
    task = asyncio.get_running_loop().create_task(coro, name=name or None)
    _LIVE.add(task)

    def done(t: asyncio.Task[Any]) -> None:
        _LIVE.discard(t)
        if t.cancelled():
            return
        exc = t.exception()
        if exc is not None and on_error is not None:
            on_error(exc)

    task.add_done_callback(done)
    return task


def describe(exc: BaseException) -> str:
    """One line for a person: the message (a ``ConfigError`` already names the field), else the type."""
    text = str(exc).strip()
    if text.startswith("invalid configuration:"):
        text = "; ".join(line.strip() for line in text.splitlines()[1:])
    return text or type(exc).__name__
