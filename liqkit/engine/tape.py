"""``MarketTape``: the recent tops of each pair's book, the movement a pre-flight measures the refresh
tolerance on (``liqkit.preflight.MarketSample``).

Only a top that differs from the one before is kept (a size-only update cannot move a quote), at most
``max_rows`` a pair and none older than ``window_s``.
"""

from __future__ import annotations

from collections import deque

from liqkit.preflight import MarketSample

WINDOW_S = 600.0
MAX_ROWS = 5_000  # a pre-flight walks every row kept: about 20 µs a row and level


class MarketTape:
    """Per symbol: (time ns, bid ticks, ask ticks) of the recent distinct tops."""

    def __init__(self, window_s: float = WINDOW_S, max_rows: int = MAX_ROWS) -> None:
        self.window_ns = int(window_s * 1e9)
        self.max_rows = max_rows
        self.rows: dict[str, deque[tuple[int, int, int]]] = {}

    def add(self, symbol: str, ts: int, bid: int, ask: int) -> None:
        """Record a top of ``symbol``'s book (ignored when it equals the last one kept)."""
        q = self.rows.get(symbol)
        if q is None:
            q = self.rows[symbol] = deque(maxlen=self.max_rows)
        elif q and q[-1][1] == bid and q[-1][2] == ask:
            return
        q.append((ts, bid, ask))
        old = ts - self.window_ns
        while q[0][0] < old:
            q.popleft()

    def sample(self, symbol: str, bid: int, ask: int, source: str) -> MarketSample:
        """A market sample quoting against (``bid``, ``ask``), with the tops kept of ``symbol``."""
        rows = list(self.rows.get(symbol, ()))
        return MarketSample(
            bid=bid,
            ask=ask,
            ts=[r[0] for r in rows],
            bids=[r[1] for r in rows],
            asks=[r[2] for r in rows],
            source=source,
        )
