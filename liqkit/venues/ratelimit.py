"""Binance rate limits: what exchangeInfo declares, what the answers' headers say is used, and pacing.

Binance counts request weight per minute (``X-MBX-USED-WEIGHT-1M``) and new orders per 10 s and per day
(``X-MBX-ORDER-COUNT-10S``, ``X-MBX-ORDER-COUNT-1D``). Going over earns 429 and, repeated, a 418 ban.
``RateLimits`` keeps the last figures the server sent and tells the venue how long to hold a new order
back: nothing below 80 % of a limit, a short growing pause up to 95 %, then a refusal until the
window turns (cancels are never held back: they only reduce exposure).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from liqkit.domain.ratelimits import SLOW_FROM, STOP_FROM, RateLimitRule, parse_rate_limits, shipped_rate_limits

__all__ = ["SLOW_FROM", "STOP_FROM", "Limit", "RateLimits", "declared_limits"]


@dataclass
class Limit:
    """One declared limit and the last usage the server reported for it."""

    kind: str  # "REQUEST_WEIGHT" or "ORDERS"
    window_s: int
    limit: int
    header: str
    used: int = 0
    seen_at: float = 0.0  # wall-clock seconds of the answer that reported ``used``

    def usage(self, now: float) -> int:
        """Usage now: the reported figure while its window lasts (windows turn on wall-clock multiples)."""
        if self.seen_at == 0.0 or int(now // self.window_s) != int(self.seen_at // self.window_s):
            return 0
        return self.used

    def window_left(self, now: float) -> float:
        return self.window_s - (now % self.window_s)


@dataclass
class RateLimits:
    """The limits of one account/IP and their usage, fed from response headers."""

    limits: list[Limit] = field(default_factory=list)
    clock: Any = time.time
    declared: list[RateLimitRule] = field(default_factory=list)  # every limit exchangeInfo declares

    @classmethod
    def from_exchange_info(cls, info: Mapping[str, Any], clock: Any = time.time) -> RateLimits:
        """The limits declared in an exchangeInfo answer; REQUEST_WEIGHT and ORDERS are tracked from
        the answers' headers (RAW_REQUESTS has no header)."""
        rules = parse_rate_limits(info)
        out = [Limit(r.kind, r.window_s, r.limit, r.header) for r in rules if r.header]
        return cls(out, clock, rules)

    def observe(self, headers: Mapping[str, str] | None) -> None:
        """Take the usage figures of one answer's headers (case-insensitive names)."""
        if not headers or not self.limits:
            return
        now = self.clock()
        lower = {k.lower(): v for k, v in headers.items()}
        for lim in self.limits:
            v = lower.get(lim.header.lower())
            if v is not None and v.isdigit():
                lim.used, lim.seen_at = int(v), now

    def observe_ws(self, entries: Any) -> None:
        """Take the usage figures of a WebSocket API answer's ``rateLimits`` list (each entry names its
        type, interval and ``count``, the figure a REST answer's header would carry)."""
        if not entries or not self.limits:
            return
        now = self.clock()
        by_header = {lim.header: lim for lim in self.limits}
        for e in entries:
            try:
                rule = RateLimitRule(e["rateLimitType"], e["interval"], int(e.get("intervalNum", 1)), 0)
                count = e["count"]
                lim = by_header.get(rule.header)
            except (KeyError, TypeError, ValueError):
                continue
            if lim is not None and isinstance(count, int):
                lim.used, lim.seen_at = count, now

    def order_delay(self) -> tuple[float, str]:
        """(seconds to hold a new order back, why); (inf-like window rest, why) past ``STOP_FROM``."""
        now = self.clock()
        worst, why, left = 0.0, "", 0.0
        for lim in self.limits:
            ratio = lim.usage(now) / lim.limit if lim.limit else 0.0
            if ratio > worst:
                worst, why, left = ratio, f"{lim.header} at {lim.usage(now)}/{lim.limit}", lim.window_left(now)
        if worst >= STOP_FROM:
            return left, why
        if worst >= SLOW_FROM:
            return min(left, 0.5 * (worst - SLOW_FROM) / (STOP_FROM - SLOW_FROM)), why
        return 0.0, ""

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Usage per header: {"X-MBX-USED-WEIGHT-1M": {"used": 12, "limit": 6000}, ...}."""
        now = self.clock()
        return {lim.header: {"used": lim.usage(now), "limit": lim.limit} for lim in self.limits}


def declared_limits(venue: object) -> list[RateLimitRule]:
    """The rate limits ``venue`` declares: its exchangeInfo's, once a Binance venue has read it (none
    before); for the simulated exchange the shipped exchangeInfo's, whose symbols it trades (and which
    ``liqkit sim-server`` serves)."""
    from liqkit.venues.sim.venue import SimVenue

    if isinstance(venue, SimVenue):
        return shipped_rate_limits()
    rate = getattr(venue, "rate", None)
    return list(rate.declared) if isinstance(rate, RateLimits) else []
