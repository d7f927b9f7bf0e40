"""Latency: how long a request takes to reach a venue, and its answer or a stream event to come back.

One model object serves every simulated venue and the backtest, so a backtest and the live runner on
a replay see the same delays. ``ConstantLatency`` is the one model today; a distribution or measured
round trips plug in behind the same three methods.
"""

from __future__ import annotations

from typing import Protocol


class LatencyModel(Protocol):
    """Delays in integer ns, each given the time ``ts`` it starts at."""

    def request_ns(self, ts: int) -> int:
        """From the engine sending a request to the venue executing it."""
        ...

    def response_ns(self, ts: int) -> int:
        """From the venue answering (or streaming a fill, an order update, balances) to the engine hearing it."""
        ...

    def feed_ns(self, ts: int) -> int:
        """From the venue's market data to the engine (0: the data's own receive times are the engine's)."""
        ...


class ConstantLatency:
    """The same delay each way for every request and answer; market data as recorded."""

    __slots__ = ("ns",)

    def __init__(self, ns: int = 0) -> None:
        if ns < 0:
            raise ValueError(f"latency: must be >= 0 ns, got {ns}")
        self.ns = ns

    @classmethod
    def from_ms(cls, ms: float) -> ConstantLatency:
        """A constant latency given in milliseconds (the ``[sim] latency_ms`` setting)."""
        return cls(round(ms * 1_000_000))

    def request_ns(self, ts: int) -> int:
        """The one-way delay."""
        return self.ns

    def response_ns(self, ts: int) -> int:
        """The one-way delay."""
        return self.ns

    def feed_ns(self, ts: int) -> int:
        """Market data arrives at its recorded receive time."""
        return 0

    def __repr__(self) -> str:
        return f"ConstantLatency({self.ns / 1e6:g} ms)"
