"""Binance's rate limits as the local server keeps them: fixed windows (a 1-minute window restarts at each
minute, a 10-second one at :00, :10, ...; a day at 00:00 UTC), the request weight per IP, and the account's
unfilled-order count.

The unfilled-order count is Binance's since 2023: each new order adds one, in every ``ORDERS`` window;
an order's first fill (partial or whole, at once or later) takes one off again, in every window, never
below zero. Cancels, expiries and keepPriority amends change nothing. Binance's FAQ adds that an order
first filled as maker may take off more than one; this server takes off one.
"""

from __future__ import annotations

from liqkit.venues.binance_server.auth import ApiError

SECOND_10_MS = 10_000
DAY_MS = 86_400_000


class Window:
    """A count that restarts at 0 every ``ms`` milliseconds (Binance's fixed rate-limit intervals)."""

    def __init__(self, ms: int) -> None:
        self.ms = ms
        self._slot = 0
        self._n = 0

    def used(self, now_ms: int) -> int:
        return self._n if now_ms // self.ms == self._slot else 0

    def add(self, now_ms: int, n: int = 1) -> int:
        """Add ``n`` (may be negative; the count never goes below 0); the count after."""
        self._n = max(0, self.used(now_ms) + n)
        self._slot = now_ms // self.ms
        return self._n

    def turns_at(self, now_ms: int) -> int:
        """When the window turns (ms), as the WebSocket API's ``retryAfter`` says it."""
        return (now_ms // self.ms + 1) * self.ms

    def retry_after_s(self, now_ms: int) -> int:
        """Whole seconds until the window turns (at least 1), as ``Retry-After`` says it."""
        return max(1, -(-(self.turns_at(now_ms) - now_ms) // 1000))


class RateLimitError(ApiError):
    """Refused for going over a limit (429): -1003 request weight, -1015 orders; ``retry_after_ms`` is
    when the window that was full turns (a timestamp, as the WebSocket API's ``retryAfter``)."""

    def __init__(self, code: int, msg: str, retry_after_ms: int) -> None:
        super().__init__(code, msg, 429)
        self.retry_after_ms = retry_after_ms


class UnfilledOrders:
    """The account's unfilled-order count over 10 s and one day, with the limits exchangeInfo declares."""

    def __init__(self, limit_10s: int, limit_1d: int) -> None:
        self.limit_10s, self.limit_1d = limit_10s, limit_1d
        self._10s, self._1d = Window(SECOND_10_MS), Window(DAY_MS)

    def counts(self, now_ms: int) -> tuple[int, int]:
        """(10 s count, day count) now."""
        return self._10s.used(now_ms), self._1d.used(now_ms)

    def check(self, now_ms: int) -> None:
        """``RateLimitError`` -1015 when a window is full (the 10 s one named first, as Binance does)."""
        for w, limit, what in ((self._10s, self.limit_10s, "10 SECOND"), (self._1d, self.limit_1d, "1 DAY")):
            if w.used(now_ms) >= limit:
                msg = f"Too many new orders; current limit is {limit} orders per {what}."
                raise RateLimitError(-1015, msg, w.turns_at(now_ms))

    def new_order(self, now_ms: int) -> None:
        """A new order: one more in every window."""
        self._10s.add(now_ms)
        self._1d.add(now_ms)

    def first_fill(self, now_ms: int) -> None:
        """An order traded for the first time: one less in every window (not below 0)."""
        self._10s.add(now_ms, -1)
        self._1d.add(now_ms, -1)

    def headers(self, now_ms: int) -> dict[str, str]:
        """``X-MBX-ORDER-COUNT-10S`` and ``-1D``."""
        n10, n1d = self.counts(now_ms)
        return {"X-MBX-ORDER-COUNT-10S": str(n10), "X-MBX-ORDER-COUNT-1D": str(n1d)}

    def rate_limits(self, now_ms: int) -> list[dict[str, object]]:
        """The ``ORDERS`` entries of a WebSocket API ``rateLimits`` array (and of ``GET /api/v3/rateLimit/order``)."""
        n10, n1d = self.counts(now_ms)
        return [
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": self.limit_10s, "count": n10},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": self.limit_1d, "count": n1d},
        ]


class Limits:
    """The server's rate limits, as exchangeInfo declares them: the request weight per minute (REST and
    WebSocket API share it) and the unfilled-order count; refused past them only when ``enforce``."""

    def __init__(self, declared: list[dict[str, object]], enforce: bool = True) -> None:
        found = {(str(r["rateLimitType"]), str(r["interval"])): int(str(r["limit"])) for r in declared}
        self.weight_limit = found.get(("REQUEST_WEIGHT", "MINUTE"), 6000)
        self.orders = UnfilledOrders(found.get(("ORDERS", "SECOND"), 100), found.get(("ORDERS", "DAY"), 200_000))
        self.weight = Window(60_000)
        self.enforce = enforce
        self.refused = 0  # requests refused with 429 for going over a limit (not injected faults)

    def check_weight(self, now_ms: int) -> None:
        """``RateLimitError`` -1003 when this minute's weight is used up (when enforced)."""
        if self.enforce and self.weight.used(now_ms) >= self.weight_limit:
            retry = self.weight.turns_at(now_ms)
            raise RateLimitError(
                -1003,
                f"Too much request weight used; current limit is {self.weight_limit} request weight per 1 MINUTE. "
                "Please use WebSocket Streams for live updates to avoid polling the API.",
                retry,
            )

    def weight_entry(self, now_ms: int) -> dict[str, object]:
        """The ``REQUEST_WEIGHT`` entry of a WebSocket API ``rateLimits`` array."""
        n = self.weight.used(now_ms)
        return {
            "rateLimitType": "REQUEST_WEIGHT",
            "interval": "MINUTE",
            "intervalNum": 1,
            "limit": self.weight_limit,
            "count": n,
        }
