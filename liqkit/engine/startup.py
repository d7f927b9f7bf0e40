"""Start-up steps that ride out a misbehaving venue: transient faults retried with backoff, permanent ones raised.

A restart after a crash meets the venue at its worst (429/-1003 after the crash's burst of requests,
5xx, -1007, a skewed clock, dropped connections). Each start-up step (connect, exchangeInfo, open
orders and the cleanup of what the crash left, account) runs through ``StartupRetry``: tenacity's
jittered exponential backoff, never shorter than the venue's ``Retry-After``, for as long as it takes
(or ``give_up_after_s``). Transient is what liqkit's error tree calls so — ``RetryableError`` (rate
limits) and ``UnknownOutcomeError`` (5xx, -1007, timeouts, a host that cannot be reached): every other
error (bad keys, an unknown symbol, a refused opt-in) is permanent and raised at once.

What it waits for is kept in ``waiting`` (what the service's status shows: ``waiting for exchangeInfo
(HTTP 429 [-1003] ...), attempt 3``) and logged, one line an attempt: the cause in full the first time
it is met, then, while the same cause repeats (no network, say), a short line without it. The backoff
spaces those lines out (0.5 s, 1 s, 2 s ... up to 30 s): no log storm, and still a sign of life.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_delay, stop_never
from tenacity.wait import wait_exponential_jitter

from liqkit.domain.errors import RetryableError, UnknownOutcomeError

T = TypeVar("T")
log = logging.getLogger("liqkit.startup")


def is_transient(e: BaseException) -> bool:
    """Whether a start-up step that raised ``e`` may succeed if tried again later."""
    return isinstance(e, (RetryableError, UnknownOutcomeError))


class StartupRetry:
    """Run start-up steps with retries; ``waiting`` says what the latest retry waits for (None: nothing)."""

    def __init__(
        self,
        initial_s: float = 0.5,
        max_s: float = 30.0,
        give_up_after_s: float | None = None,
        on_wait: Callable[[str | None], None] | None = None,
    ) -> None:
        self.initial_s, self.max_s, self.give_up_after_s = initial_s, max_s, give_up_after_s
        self.on_wait = on_wait
        self.waiting: str | None = None
        self.waiting_for: str | None = None  # the step ``waiting`` is about
        self.attempts = 0  # retries made, over every step
        self._said: tuple[str, str] | None = None  # (step, cause) of the last line that gave the cause

    def _wait(self, state: RetryCallState) -> float:
        """The backoff, but never less than the Retry-After the venue asked for (capped by ``max_s``
        only when the venue asked for less)."""
        backoff = wait_exponential_jitter(multiplier=self.initial_s, max=self.max_s, jitter=self.initial_s)(state)
        e = state.outcome.exception() if state.outcome is not None else None
        asked = e.retry_after if isinstance(e, RetryableError) and e.retry_after else 0.0
        return max(backoff, asked)

    def _before_sleep(self, what: str) -> Callable[[RetryCallState], None]:
        def say(state: RetryCallState) -> None:
            e = state.outcome.exception() if state.outcome is not None else None
            delay = state.next_action.sleep if state.next_action is not None else 0.0
            self.attempts += 1
            cause, attempt = _one_line(e), state.attempt_number + 1
            self.waiting, self.waiting_for = f"waiting for {what} ({cause}), attempt {attempt}", what
            if self._said != (what, cause):
                self._said = (what, cause)
                log.warning("start-up: %s; retrying in %.1fs", self.waiting, delay)
            else:
                log.warning(
                    "start-up: still waiting for %s (same cause), attempt %d; retrying in %.1fs", what, attempt, delay
                )
            if self.on_wait is not None:
                self.on_wait(self.waiting)

        return say

    async def run(self, what: str, step: Callable[[], Awaitable[T]]) -> T:
        """``await step()``, retried while it fails transiently; ``what`` names it in what is said."""
        stop = stop_never if self.give_up_after_s is None else stop_after_delay(self.give_up_after_s)
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_transient),
            wait=self._wait,
            stop=stop,
            before_sleep=self._before_sleep(what),
            reraise=True,
        )

        async def attempt() -> T:  # tenacity awaits only what is a coroutine function
            return await step()

        out: T = await retrying(attempt)
        if self.waiting is not None:
            self.waiting = self.waiting_for = self._said = None
            if self.on_wait is not None:
                self.on_wait(None)
        return out


def _one_line(e: BaseException | None) -> str:
    text = " ".join(str(e).split()) if e is not None else "no answer"
    return text if len(text) <= 240 else text[:237] + "..."
