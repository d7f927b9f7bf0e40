"""The rate-limit planner (``liqkit.rateplan``), the declared limits it reads (``liqkit.domain.ratelimits``),
and the engine's own counts it plans from (``OrderCount``, and ``MarketTape`` for the pre-flight)."""

from __future__ import annotations

import pytest

from liqkit.domain.ratelimits import RateLimitRule, parse_rate_limits, shipped_rate_limits
from liqkit.domain.rules import load_exchange_info
from liqkit.engine.ordercount import OrderCount
from liqkit.engine.tape import MarketTape
from liqkit.rateplan import OrderFlow, busiest, plan
from liqkit.venues.ratelimit import RateLimits

S = 1_000_000_000
TEN_S = RateLimitRule("ORDERS", "SECOND", 10, 50)
DAY = RateLimitRule("ORDERS", "DAY", 1, 160_000)
RAW = RateLimitRule("RAW_REQUESTS", "MINUTE", 5, 6100)
WEIGHT = RateLimitRule("REQUEST_WEIGHT", "MINUTE", 1, 1200)


def test_declared_limits_are_read_from_exchange_info_never_assumed():
    doc = load_exchange_info()
    rules = parse_rate_limits(doc)
    assert [(r.kind, r.interval, r.interval_num, r.limit) for r in rules] == [
        (r["rateLimitType"], r["interval"], r["intervalNum"], r["limit"]) for r in doc["rateLimits"]
    ]
    assert shipped_rate_limits() == rules
    assert TEN_S.label == "ORDERS per 10 SECOND" and TEN_S.window_s == 10 and TEN_S.header == "X-MBX-ORDER-COUNT-10S"
    assert WEIGHT.header == "X-MBX-USED-WEIGHT-1M" and RAW.header == "" and DAY.window_s == 86_400
    odd = {
        "rateLimits": [
            {"rateLimitType": "ORDERS", "interval": "WEEK", "intervalNum": 1, "limit": 5},
            {"rateLimitType": "CONNECTIONS", "interval": "MINUTE", "intervalNum": 1, "limit": 5},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": "x"},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 7},
        ]
    }
    assert parse_rate_limits(odd) == [RateLimitRule("ORDERS", "SECOND", 10, 7)]
    assert parse_rate_limits({}) == [] and parse_rate_limits({"rateLimits": "none"}) == []
    # the venue tracks the limits whose usage an answer's headers report (RAW_REQUESTS has none)
    venue = RateLimits.from_exchange_info(doc)
    assert venue.declared == rules and {lim.header for lim in venue.limits} == {r.header for r in rules if r.header}


def test_busiest_counts_the_fullest_window():
    assert busiest([], 10) == 0
    assert busiest([0, 1, 2, 10, 11, 12, 13], 10) == 4  # [10, 20) holds 10..13; [0, 10) only 3
    assert busiest([5, 5, 5], 1) == 3


def test_short_windows_take_the_busiest_and_long_ones_the_rate():
    # 60 orders over 600 s: 30 of them in one burst of 5 s, then one every 16 s from 100 s to 564 s
    orders = [i * S // 6 for i in range(30)] + [100 * S + i * 16 * S for i in range(30)]
    flow = OrderFlow(sorted(orders), sorted(orders + orders[:10]), 0, 600 * S)
    p = plan([TEN_S, DAY, RAW, WEIGHT], [flow], "test")
    ten, day, raw, weight = p.limits
    assert (ten.predicted, ten.level, ten.share) == (30, "ok", 0.6)
    assert day.predicted == 60 * 86_400 // 600 and day.level == "ok"  # 0.1/s for a day: 8640
    assert raw.predicted == 30 + 10 + 13  # the busiest 300 s, [0, 300): the burst, its 10 cancels, 13 more orders
    assert weight.predicted == 0 and "no request weight" in weight.basis
    assert p.orders == 60 and p.requests == 70 and p.orders_per_s == pytest.approx(0.1)
    assert p.warnings == []
    # two pairs: their busiest windows add up (an upper bound)
    both = plan([TEN_S], [flow, flow], "two")
    assert both.limits[0].predicted == 60 and both.limits[0].level == "over"
    assert "would be refused" in both.warnings[0] and "refresh_tolerance" in both.warnings[0]


def test_a_warning_comes_at_80_percent_before_the_limit():
    burst = OrderFlow([i * S // 10 for i in range(40)], [], 0, 60 * S)  # 40 in 4 s
    p = plan([TEN_S], [burst], "burst")
    assert p.limits[0].predicted == 40 and p.limits[0].level == "warning"
    assert p.warnings == [
        "ORDERS per 10 SECOND: 40 predicted of 50 (80%): liqkit paces new orders from 80% and holds them from 95%; "
        "widen refresh_tolerance, quote fewer levels or fewer pairs"
    ]
    assert plan([TEN_S], [OrderFlow(burst.orders[:39], [], 0, 60 * S)], "").limits[0].level == "ok"


def test_a_day_adds_the_rate_to_what_the_venue_reports_used():
    flow = OrderFlow([i * S for i in range(120)], [], 0, 120 * S)  # 1 order a second
    now = 86_400 * 19_000 * S + 86_000 * S  # 400 s before a UTC midnight
    p = plan([DAY, TEN_S], [flow], "observed", used={DAY.label: 150_000, TEN_S.label: 45}, now_ns=now)
    day, ten = p.limits
    assert day.predicted == 150_400 and day.used == 150_000 and day.level == "warning"
    assert ten.predicted == 45 and ten.used == 45 and "reports used now" in ten.basis  # above the busiest 10 s
    # a short sample is rated over a minute at least: 5 orders in 5 s is not 86,400 a day
    start = plan([DAY], [OrderFlow([0, 1, 2, 3, 4], [], 0, 5 * S)], "start")
    assert start.limits[0].predicted == 5 * 86_400 // 60 and start.orders_per_s == pytest.approx(5 / 60)


def test_no_declared_limit_plans_nothing():
    p = plan([], [OrderFlow([0], [0], 0, S)], "sim")
    assert p.limits == [] and p.warnings == []


def test_the_engine_counts_its_orders_and_cancels_over_the_last_minutes():
    count = OrderCount(window_s=60)
    count.begin(1000 * S)
    assert count.flow(1010 * S).span_s == 10 and count.flow(1010 * S).orders == ()
    for t in range(1000, 1100, 10):
        count.order(t * S)
        count.cancel(t * S + 1)
    assert (count.placed, count.cancels) == (10, 10)
    flow = count.flow(1100 * S)
    assert flow.start_ns == 1040 * S and flow.span_s == 60  # the last minute only
    assert list(flow.orders) == [t * S for t in range(1040, 1100, 10)] and len(flow.requests) == 12
    count.begin(2000 * S)
    assert count.placed == 0 and count.flow(2001 * S).orders == ()


def test_the_tape_keeps_distinct_recent_tops():
    tape = MarketTape(window_s=10, max_rows=100)
    tape.add("BTCUSDT", 0, 100, 101)
    tape.add("BTCUSDT", S, 100, 101)  # the same top (a size change): not kept
    tape.add("BTCUSDT", 2 * S, 99, 101)
    tape.add("BTCUSDT", 12 * S, 99, 100)  # 10 s after: the first row goes
    s = tape.sample("BTCUSDT", 99, 100, "x")
    assert (list(s.ts), list(s.bids), list(s.asks)) == ([2 * S, 12 * S], [99, 99], [101, 100])
    assert (s.bid, s.ask, s.source) == (99, 100, "x") and list(tape.sample("ETHUSDT", 1, 2, "").ts) == []
