"""The rate limits an exchange declares: ``exchangeInfo.rateLimits`` read into typed rules.

Binance declares, per account or IP, ``REQUEST_WEIGHT`` (e.g. 6000 a minute), ``ORDERS`` (new orders,
e.g. 100 per 10 seconds and 200,000 a day) and ``RAW_REQUESTS`` (every request, e.g. 300,000 per 5
minutes). The values differ between venues and change over time: liqkit reads them, never assumes them.
The venue's pacing (``liqkit.venues.ratelimit``) and the rate-limit planner (``liqkit.rateplan``) both
start from ``parse_rate_limits`` and share the thresholds below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

INTERVAL_S: Final = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}
KINDS: Final = ("ORDERS", "REQUEST_WEIGHT", "RAW_REQUESTS")
SLOW_FROM: Final = 0.80  # of a limit: the venue starts pacing new orders; the planner warns
STOP_FROM: Final = 0.95  # of a limit: the venue holds new orders until the window turns


@dataclass(frozen=True, slots=True)
class RateLimitRule:
    """One declared limit: at most ``limit`` of ``kind`` per ``interval_num`` ``interval``s."""

    kind: str  # "ORDERS", "REQUEST_WEIGHT" or "RAW_REQUESTS"
    interval: str  # "SECOND", "MINUTE", "HOUR" or "DAY"
    interval_num: int
    limit: int

    @property
    def window_s(self) -> int:
        """The window's length in seconds."""
        return INTERVAL_S[self.interval] * self.interval_num

    @property
    def label(self) -> str:
        """As Binance words it: ``ORDERS per 10 SECOND``."""
        return f"{self.kind} per {self.interval_num} {self.interval}"

    @property
    def header(self) -> str:
        """The answer header that reports this limit's usage ("" for RAW_REQUESTS, which has none)."""
        unit = {"SECOND": "S", "MINUTE": "M", "HOUR": "H", "DAY": "D"}[self.interval]
        if self.kind == "REQUEST_WEIGHT":
            return f"X-MBX-USED-WEIGHT-{self.interval_num}{unit}"
        if self.kind == "ORDERS":
            return f"X-MBX-ORDER-COUNT-{self.interval_num}{unit}"
        return ""


def parse_rate_limits(info: Mapping[str, Any]) -> list[RateLimitRule]:
    """The limits an ``exchangeInfo`` answer declares (entries of other kinds or intervals are skipped)."""
    out = []
    entries = info.get("rateLimits") if isinstance(info, Mapping) else None
    for r in entries if isinstance(entries, list) else []:
        if not isinstance(r, Mapping):
            continue
        kind, interval = r.get("rateLimitType"), r.get("interval")
        if kind not in KINDS or interval not in INTERVAL_S:
            continue
        try:
            num, limit = int(r.get("intervalNum", 1)), int(r["limit"])
        except (KeyError, TypeError, ValueError):
            continue
        if num > 0 and limit > 0:
            out.append(RateLimitRule(str(kind), str(interval), num, limit))
    return out


def shipped_rate_limits() -> list[RateLimitRule]:
    """The limits of the exchangeInfo shipped with liqkit: those of the simulated exchange, which trades
    that exchangeInfo's symbols (``liqkit sim-server`` serves the same document)."""
    from liqkit.domain.rules import load_exchange_info

    return parse_rate_limits(load_exchange_info())
