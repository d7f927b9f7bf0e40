"""``OrderCount``: the engine's own order traffic over the last minutes, as the rate-limit planner reads it.

The runner records each new order it sends and each cancel request (from the core's order records:
``PENDING_NEW`` and ``PENDING_CANCEL``, the statuses the backtest counts as placed and cancelled), at
the engine's clock. ``flow`` hands the last ``window_s`` to ``liqkit.rateplan`` as an ``OrderFlow``;
the totals count everything since ``begin``.
"""

from __future__ import annotations

from collections import deque

from liqkit.rateplan import OrderFlow

WINDOW_S = 600.0  # the recent period the planner predicts from


class OrderCount:
    """New orders and cancel requests with their times (ns), kept for ``window_s``."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_ns = int(window_s * 1e9)
        self.since = 0  # when counting began (ns); 0: not yet
        self.placed = 0  # since ``begin``
        self.cancels = 0
        self._orders: deque[int] = deque()
        self._requests: deque[int] = deque()

    def begin(self, ts: int) -> None:
        """Start counting at ``ts`` (the engine's start)."""
        self.since = ts
        self.placed = self.cancels = 0
        self._orders.clear()
        self._requests.clear()

    def order(self, ts: int) -> None:
        """A new order was sent at ``ts``."""
        self.placed += 1
        self._orders.append(ts)
        self._requests.append(ts)
        self._trim(ts)

    def cancel(self, ts: int) -> None:
        """A cancel was sent at ``ts``."""
        self.cancels += 1
        self._requests.append(ts)
        self._trim(ts)

    def _trim(self, now: int) -> None:
        old = now - self.window_ns
        for q in (self._orders, self._requests):
            while q and q[0] < old:
                q.popleft()

    def flow(self, now: int) -> OrderFlow:
        """The orders and requests of the last ``window_s`` up to ``now`` (or since ``begin``, if later)."""
        self._trim(now)
        start = max(self.since or now, now - self.window_ns)
        return OrderFlow(tuple(self._orders), tuple(self._requests), start, now)
