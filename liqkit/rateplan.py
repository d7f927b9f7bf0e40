"""The rate-limit planner: how many orders and requests a flow of orders makes in each window the
venue limits, against the limits it declares (``exchangeInfo.rateLimits``), with a warning before one
is reached.

A flow (``OrderFlow``) is the timestamps of the new orders and of every order request (placements and
cancels) over a period: what the engine did recently (``liqkit.engine.ordercount``), or what a config
would do on a recent market (``liqkit.preflight``). For a window no longer than the period the
prediction is the busiest such window in it; for a longer one (a day) the period's rate times the
window (plus what the venue reports used already, when it does). Flows of several pairs add up
(their busiest windows too: an upper bound).

What counts: ``ORDERS`` counts new orders; ``RAW_REQUESTS`` every request; ``REQUEST_WEIGHT`` the
weight of failed order requests only (successful placements and cancels cost no weight since
2026-04-02), so its prediction is what the venue reports used. From ``SLOW_FROM`` (80 %) of a limit the
venue paces new orders and the plan warns; at 100 % Binance refuses (HTTP 429: -1015 for new orders,
-1003 for requests).

Pure: no I/O, no clock (the caller passes ``now_ns``), no logging.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from liqkit.domain.ratelimits import SLOW_FROM, STOP_FROM, RateLimitRule

ORDER_WEIGHT: Final = 0  # request weight of a successful placement or cancel (Binance since 2026-04-02)
MIN_SPAN_S: Final = 60.0  # a rate is never taken over less: a start's burst over 5 s would make a day of it
Level = Literal["ok", "warning", "over"]


@dataclass(frozen=True, slots=True)
class OrderFlow:
    """Orders over a period: the times (ns, ascending) of each new order and of each order request
    (placements and cancels), between ``start_ns`` and ``end_ns``."""

    orders: Sequence[int]
    requests: Sequence[int]
    start_ns: int
    end_ns: int

    @property
    def span_s(self) -> float:
        """The period's length in seconds."""
        return max(0, self.end_ns - self.start_ns) / 1e9


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LimitPlan(_View):
    """One declared limit and the count predicted in its window."""

    limit: str = Field(description="The limit as Binance words it, e.g. 'ORDERS per 10 SECOND'.")
    kind: str = Field(description="ORDERS, REQUEST_WEIGHT or RAW_REQUESTS.")
    window_s: int = Field(description="The window, seconds.")
    allowed: int = Field(description="The most the venue allows in the window.")
    predicted: int = Field(description="The count predicted in one window.")
    used: int | None = Field(description="What the venue reports used in the current window; null if unknown.")
    share: float = Field(description="predicted / allowed.")
    level: Level = Field(description="ok; warning from 80 % (new orders are paced); over from 100 % (refused).")
    basis: str = Field(description="How the prediction was made.")


class RatePlan(_View):
    """Predicted counts per window against the venue's declared limits, and the warnings they raise."""

    source: str = Field(description="What the flow is: the engine's recent orders, or a config on a recent market.")
    sample_s: float = Field(description="Seconds of flow the prediction is made from.")
    orders: int = Field(description="New orders in the sample.")
    requests: int = Field(description="Order requests (placements and cancels) in the sample.")
    orders_per_s: float = Field(description="New orders a second over the sample (at least a minute).")
    limits: list[LimitPlan] = Field(description="One per declared limit; empty when the venue declares none.")
    warnings: list[str] = Field(description="One line per limit at 80 % or more, naming what to change.")


def busiest(times: Sequence[int], window_ns: int) -> int:
    """The most of ``times`` (ascending) that fall in any window ``[t, t + window_ns)``."""
    best = lo = 0
    for hi in range(len(times)):
        while times[hi] - times[lo] >= window_ns:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _level(share: float) -> Level:
    return "over" if share >= 1.0 else "warning" if share >= SLOW_FROM else "ok"


def plan(
    rules: Sequence[RateLimitRule],
    flows: Sequence[OrderFlow],
    source: str,
    used: Mapping[str, int] | None = None,
    now_ns: int | None = None,
) -> RatePlan:
    """Predict each of ``rules``' counts from ``flows``.

    ``used`` maps a rule's ``label`` to the usage the venue reports for its current window; with
    ``now_ns`` (wall-clock, windows turn on its multiples, as Binance's do) a window longer than the
    sample is predicted as that usage plus the rate over what is left of the window.
    """
    span = max((f.span_s for f in flows), default=0.0)
    n_orders = sum(len(f.orders) for f in flows)
    n_requests = sum(len(f.requests) for f in flows)
    per_s = {
        "ORDERS": sum(len(f.orders) / max(f.span_s, MIN_SPAN_S) for f in flows),
        "RAW_REQUESTS": sum(len(f.requests) / max(f.span_s, MIN_SPAN_S) for f in flows),
        "REQUEST_WEIGHT": 0.0,
    }
    out: list[LimitPlan] = []
    warnings: list[str] = []
    for rule in rules:
        w = rule.window_s
        now_used = (used or {}).get(rule.label)
        if rule.kind == "REQUEST_WEIGHT":
            predicted = (now_used or 0) + ORDER_WEIGHT * n_requests
            basis = "successful orders and cancels cost no request weight: what the venue reports used"
        elif w <= span:
            times = "orders" if rule.kind == "ORDERS" else "requests"
            predicted = sum(busiest(getattr(f, times), w * 1_000_000_000) for f in flows)
            basis = f"the busiest {w:,} s of the {span:,.0f} s sampled"
            if now_used is not None and now_used > predicted:
                predicted, basis = now_used, "what the venue reports used now (above the busiest window sampled)"
        else:
            rate = per_s[rule.kind]
            if now_used is not None and now_ns is not None:
                left = w - (now_ns / 1e9) % w
                predicted = now_used + math.ceil(rate * left)
                basis = f"{now_used:,} used so far + {rate:,.3g}/s for the {left:,.0f} s left of the window"
            else:
                predicted = math.ceil(rate * w)
                basis = f"{rate:,.3g}/s (the {span:,.0f} s sampled) over {w:,} s"
        share = predicted / rule.limit
        level = _level(share)
        out.append(
            LimitPlan(
                limit=rule.label,
                kind=rule.kind,
                window_s=w,
                allowed=rule.limit,
                predicted=predicted,
                used=now_used,
                share=share,
                level=level,
                basis=basis,
            )
        )
        if level != "ok":
            code = "-1015 (too many new orders)" if rule.kind == "ORDERS" else "-1003 (too many requests)"
            what = (
                f"would be refused (Binance answers HTTP 429, {code})"
                if level == "over"
                else f"liqkit paces new orders from {SLOW_FROM:.0%} and holds them from {STOP_FROM:.0%}"
            )
            warnings.append(
                f"{rule.label}: {predicted:,} predicted of {rule.limit:,} ({share:.0%}): {what}; widen "
                "refresh_tolerance, quote fewer levels or fewer pairs"
            )
    return RatePlan(
        source=source,
        sample_s=span,
        orders=n_orders,
        requests=n_requests,
        orders_per_s=per_s["ORDERS"],
        limits=out,
        warnings=warnings,
    )
