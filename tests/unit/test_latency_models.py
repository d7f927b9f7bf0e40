"""The latency models: constant, lognormal (seeded, reproducible) and measured (interpolated round trips),
and the simulated exchange's timeline asking them by request kind."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from liqkit.domain.rules import default_rules
from liqkit.domain.types import Side
from liqkit.engine.execution import Query
from liqkit.engine.intents import Amend, Cancel, CancelAll, Place
from liqkit.engine.latency import (
    CANCEL,
    PLACE,
    STREAM,
    ConstantLatency,
    LognormalLatency,
    MeasuredLatency,
)
from liqkit.venues.sim.exchange import SimExchange
from liqkit.venues.sim.timeline import ANSWER, ARRIVE, REPORT, Timeline, request_kind

T0 = 1_723_161_254_087_891_268
MS = 1_000_000


def draws(model: LognormalLatency, n: int, kind: int, leg: int = 0, step: int = 1_000_003) -> np.ndarray:
    ts = T0 + np.arange(n, dtype=np.int64) * step
    f = model.request_ns if leg == 0 else model.response_ns
    return np.array([f(int(t), kind) for t in ts], dtype=np.int64)


# ---- constant -------------------------------------------------------------------------------------
def test_constant_is_the_same_each_way_for_every_kind():
    m = ConstantLatency.from_ms(2.5)
    assert {m.request_ns(t, k) for t in (0, T0) for k in (PLACE, CANCEL)} == {2_500_000}
    assert {m.response_ns(t, k) for t in (0, T0) for k in (PLACE, CANCEL, STREAM)} == {2_500_000}
    assert m.feed_ns(T0) == 0
    with pytest.raises(ValueError, match=">= 0 ns"):
        ConstantLatency(-1)


# ---- lognormal ------------------------------------------------------------------------------------
def test_lognormal_quantiles_match_p50_and_p99_within_sampling_error():
    m = LognormalLatency.from_ms(5, 40, seed=3)
    n = 40_000
    d = draws(m, n, PLACE)
    # the sample median's standard error is about 1.25 * sigma / sqrt(n) in log space (~0.6 %); the
    # p99's about sqrt(.99 * .01 / n) / pdf(z99) * sigma (~1.5 %): 5 % bounds are several of each
    p50, p99 = np.percentile(d, [50, 99])
    assert p50 == pytest.approx(5 * MS, rel=0.05)
    assert p99 == pytest.approx(40 * MS, rel=0.05)
    # and the shape is lognormal: log-draws have the mean ln(p50) and the sd ln(p99/p50)/z99
    logs = np.log(d)
    assert logs.mean() == pytest.approx(math.log(5 * MS), abs=0.02)
    assert logs.std() == pytest.approx(math.log(8) / 2.3263478740408408, rel=0.03)


def test_lognormal_cancels_and_answers_have_their_own_distribution_and_draws():
    m = LognormalLatency.from_ms(5, 40, 1, 3, seed=3)
    n = 20_000
    cancel = draws(m, n, CANCEL)
    assert np.percentile(cancel, 50) == pytest.approx(1 * MS, rel=0.05)
    assert np.percentile(cancel, 99) == pytest.approx(3 * MS, rel=0.05)
    back = draws(m, n, CANCEL, leg=1)  # a cancel's answer: the cancel's distribution, other draws
    assert np.percentile(back, 50) == pytest.approx(1 * MS, rel=0.05)
    assert abs(np.corrcoef(cancel, back)[0, 1]) < 0.05
    stream = draws(m, n, STREAM, leg=1)  # the user stream: order entry's distribution
    assert np.percentile(stream, 50) == pytest.approx(5 * MS, rel=0.05)
    out = draws(m, n, PLACE)
    assert abs(np.corrcoef(out, draws(m, n, PLACE, leg=1))[0, 1]) < 0.05
    assert abs(np.corrcoef(np.log(out), np.log(stream))[0, 1]) < 0.05  # a kind is its own stream of draws


def test_lognormal_is_reproducible_and_depends_on_the_seed_not_the_call_order():
    a, b, c = (LognormalLatency.from_ms(5, 40, seed=s) for s in (9, 9, 10))
    ts = [T0 + i * 7_919 for i in range(500)]
    forward = [a.request_ns(t, PLACE) for t in ts]
    assert [b.request_ns(t, PLACE) for t in reversed(ts)] == forward[::-1]  # a pure function of (seed, t, kind)
    assert [a.request_ns(t, PLACE) for t in ts] == forward  # asking again changes nothing
    other = [c.request_ns(t, PLACE) for t in ts]
    assert sum(x != y for x, y in zip(forward, other, strict=True)) > 490
    assert len(set(forward)) > 490


def test_lognormal_with_p99_equal_to_p50_is_constant():
    m = LognormalLatency.from_ms(3, 3, seed=1)
    assert set(draws(m, 200, PLACE)) == {3 * MS}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((0, 5), "median must be > 0"),
        ((-1, 5), "median must be > 0"),
        ((5 * MS, 4 * MS), "p99 (4000000 ns) must be >= the median (5000000 ns)"),
        ((5 * MS, 9 * MS, 2 * MS, MS), "cancel p99"),
    ],
)
def test_lognormal_refuses_impossible_quantiles(args, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        LognormalLatency(*args)


# ---- measured -------------------------------------------------------------------------------------
def test_measured_is_exact_at_the_samples_linear_between_and_held_outside():
    ts = [T0, T0 + 10 * MS, T0 + 30 * MS]
    rtt = [4 * MS, 8 * MS, 2 * MS]
    m = MeasuredLatency(ts, rtt)
    for t, r in zip(ts, rtt, strict=True):
        assert m.round_trip_ns(t, PLACE) == r
        assert m.request_ns(t, PLACE) + m.response_ns(t, PLACE) == r
        assert m.request_ns(t, PLACE) == r // 2
    assert m.round_trip_ns(T0 + 5 * MS, PLACE) == 6 * MS  # halfway up
    assert m.round_trip_ns(T0 + 25 * MS, PLACE) == 3_500_000  # three quarters of the way down
    assert m.round_trip_ns(T0 + 10 * MS + 1_000, PLACE) == 8 * MS - 300  # 1 us past a sample: -6 ms over 20 ms
    assert m.round_trip_ns(T0 - 10**12, PLACE) == 4 * MS
    assert m.round_trip_ns(T0 + 10**12, PLACE) == 2 * MS
    assert m.response_ns(T0 + 5 * MS, STREAM) == 3 * MS  # the user stream: half of order entry's


def test_measured_keeps_order_entry_and_cancels_apart():
    m = MeasuredLatency([T0, T0 + 100], [10 * MS, 20 * MS], [T0 + 50], [2 * MS])
    assert m.round_trip_ns(T0 + 50, PLACE) == 15 * MS
    assert m.round_trip_ns(T0 + 50, CANCEL) == 2 * MS
    assert m.request_ns(T0, CANCEL) == MS and m.response_ns(T0, CANCEL) == MS
    assert m.samples(PLACE) == 2 and m.samples(CANCEL) == 1
    only_entry = MeasuredLatency([T0], [7 * MS])  # no cancels recorded: they take order entry's
    assert only_entry.round_trip_ns(T0, CANCEL) == 7 * MS


def test_measured_odd_round_trip_splits_into_halves_that_add_up():
    m = MeasuredLatency([T0], [7])
    assert (m.request_ns(T0, PLACE), m.response_ns(T0, PLACE)) == (3, 4)


def test_measured_sorts_samples_and_averages_those_sent_together():
    m = MeasuredLatency([T0 + 20, T0, T0 + 20], [30, 10, 50])
    assert m.round_trip_ns(T0 + 20, PLACE) == 40
    assert m.round_trip_ns(T0 + 10, PLACE) == 25


def test_measured_offset_shifts_the_recording():
    m = MeasuredLatency([100, 200], [10, 20], offset_ns=1_000)
    assert m.round_trip_ns(1_150, PLACE) == 15
    assert m.span() == (1_100, 1_200)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (([], []), "no order entry"),
        (([1, 2], [3]), "2 send times but 1 round trips"),
        (([1], [-5]), "a round trip of -5 ns"),
        (([1], [5], [2], [-1]), "a round trip of -1 ns"),
    ],
)
def test_measured_refuses_bad_samples(args, words):
    with pytest.raises(ValueError, match=words):
        MeasuredLatency(*args)


# ---- the timeline asks by kind ------------------------------------------------------------------------
class Recorder:
    """A latency that says which kinds it was asked for (5 ms out for order entry, 1 ms for cancels)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    def request_ns(self, ts: int, kind: int) -> int:
        self.asked.append(("request", kind))
        return MS if kind == CANCEL else 5 * MS

    def response_ns(self, ts: int, kind: int) -> int:
        self.asked.append(("response", kind))
        return 2 * MS

    def feed_ns(self, ts: int) -> int:
        return 0


def test_the_timeline_names_each_request_kind_to_the_model():
    assert [request_kind(r) for r in (Place("BTCUSDT", "a", Side.BUY, 1, 1, True, 0), Cancel("BTCUSDT", "a"))] == [
        PLACE,
        CANCEL,
    ]
    assert request_kind(CancelAll("BTCUSDT", True)) == CANCEL
    assert request_kind(Amend("BTCUSDT", "a", 1)) == PLACE and request_kind(Query("BTCUSDT", "a")) == PLACE
    rules = default_rules("BTCUSDT")
    ex = SimExchange("realistic", Decimal(0), Decimal(0), {"BTC": Decimal(1), "USDT": Decimal(100_000)})
    ex.add_symbol(rules)
    rec = Recorder()
    tl = Timeline(ex, rec)
    tl.now = T0
    tl.book(0, T0, 6_000_000, 10, 6_000_010, 10)
    place = Place("BTCUSDT", "lq.x", Side.BUY, 5_999_990, 1_000, True, 0)
    tl.submit(place, T0)
    tl.submit(Cancel("BTCUSDT", "lq.x"), T0)
    seen = []
    while (item := tl.take(T0 + 10**9)) is not None:
        t, kind, payload = item
        if kind in (ARRIVE, ANSWER):
            seen.append((t - T0, kind, type(payload[0]).__name__))
        if kind == ARRIVE:
            tl.arrive(payload[0], t, None)
        elif kind == REPORT:
            tl.report(t)
    # the cancel (1 ms) overtakes the place (5 ms): unknown at the exchange, then the place rests
    assert seen == [
        (MS, ARRIVE, "Cancel"),
        (3 * MS, ANSWER, "Cancel"),
        (5 * MS, ARRIVE, "Place"),
        (7 * MS, ANSWER, "Place"),
    ]
    assert ("request", PLACE) in rec.asked and ("request", CANCEL) in rec.asked
    assert ("response", CANCEL) in rec.asked and ("response", PLACE) in rec.asked
    assert "lq.x" in ex.orders


def test_measured_round_trips_split_by_the_inbound_share():
    from liqkit.engine.latency import CANCEL, PLACE, MeasuredLatency

    even = MeasuredLatency([0, 10], [21_000_001, 21_000_001])
    assert (even.request_ns(5, PLACE), even.response_ns(5, PLACE)) == (10_500_000, 10_500_001)  # rtt // 2
    inbound = MeasuredLatency([0], [20_000_000], [0], [8_000_000], inbound_share=0.75)
    assert (inbound.request_ns(0, PLACE), inbound.response_ns(0, PLACE)) == (15_000_000, 5_000_000)
    assert (inbound.request_ns(0, CANCEL), inbound.response_ns(0, CANCEL)) == (6_000_000, 2_000_000)
    all_in = MeasuredLatency([0], [20_000_000], inbound_share=1.0)
    assert (all_in.request_ns(0, PLACE), all_in.response_ns(0, PLACE)) == (20_000_000, 0)
    with pytest.raises(ValueError, match="inbound_share"):
        MeasuredLatency([0], [1], inbound_share=1.5)
