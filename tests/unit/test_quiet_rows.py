"""The backtest loop shows exchange and core only the last of a run of quiet rows: the same run.

``Driver.run`` holds the book rows that change nothing but the stored top (nothing due on the
timeline, the exchange's ``quiet_book``/``quiet_trade``, the core's ``PairState.quiet``) and skips
trades that reach no order of ours. With ``hold_quiet=False`` it shows every row, as the live runner
on a virtual clock does; on random markets and configs both give the same records and balances.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqkit.backtest.driver import Driver
from liqkit.data.feed import MarketData, merge_depth, merge_events
from liqkit.domain.config import PairConfig, RiskConfig
from liqkit.domain.rules import default_rules
from liqkit.engine.core import EngineCore
from liqkit.engine.latency import ConstantLatency
from liqkit.venues.sim.exchange import SimExchange

RULES = default_rules("BTCUSDT")


class FeedDelay:
    """Orders and answers ``ns`` each way; market data reaches the engine ``feed`` after the exchange."""

    def __init__(self, ns: int, feed: int) -> None:
        self.ns = ns
        self.feed = feed

    def request_ns(self, ts: int, kind: int) -> int:
        return self.ns

    def response_ns(self, ts: int, kind: int) -> int:
        return self.ns

    def feed_ns(self, ts: int) -> int:
        return self.feed


T0 = 1_700_000_000_000_000_000


def market(seed: int, n: int) -> MarketData:
    """A random walk of the top (1-3 ticks wide) and trades at or near the touch."""
    rng = np.random.default_rng(seed)
    ts = T0 + np.cumsum(rng.integers(1, 40_000_000, n)).astype(np.int64)
    bid = 6_000_000 + np.cumsum(rng.integers(-2, 3, n)).astype(np.int64)
    ask = bid + rng.integers(1, 4, n)
    book = {
        "ts_local": ts,
        "ts_exchange": ts,
        "bid": bid,
        "bid_qty": rng.integers(1, 400, n).astype(np.int64),
        "ask": ask,
        "ask_qty": rng.integers(1, 400, n).astype(np.int64),
    }
    m = n // 3
    rows = np.sort(rng.choice(n, m, replace=False))
    aggr = rng.choice([-1, 1], m)
    price = np.where(aggr < 0, bid[rows], ask[rows]) + rng.integers(-3, 4, m) * (rng.random(m) < 0.3)
    trades = {
        "ts_local": ts[rows] + 1,
        "ts_exchange": ts[rows] + 1,
        "price": price.astype(np.int64),
        "qty": rng.integers(1, 300, m).astype(np.int64),
        "aggressor": aggr.astype(np.int8),
        "trade_id": np.arange(1, m + 1, dtype=np.int64),
    }
    return MarketData.from_columns(RULES, book, trades, "random walk")


def run(
    md: MarketData, cfg: PairConfig, fill_model: str, latency_ns: int, hold: bool, btc: str = "2", feed_ns: int = 0
) -> tuple:
    core = EngineCore(RiskConfig(), run_nonce="bt00", amend_keeps_priority=True)
    sim = SimExchange(fill_model, Decimal(1), Decimal(2), {"BTC": Decimal(btc), "USDT": Decimal(200_000)})
    core.add_pair(cfg, RULES)
    sim.add_symbol(RULES)
    latency = FeedDelay(latency_ns, feed_ns) if feed_ns else ConstantLatency(latency_ns)
    d = Driver(core, sim, latency, hold_quiet=hold)
    events = merge_events([md])
    d.start(["BTCUSDT"], int(events[2][0]))
    d.run(events)
    orders = [(r.ts, r.order.client_id, r.status, r.filled, r.order.price, r.order.qty) for r in core.order_log]
    fills = [(r.ts, r.order.client_id, r.price, r.qty, r.fee_nu) for r in core.fill_log]
    p = core.pairs[0]
    top = (p.bid, p.ask, p.bid_qty, p.ask_qty, p.last_book_ts)
    return orders, fills, sim.balances(), top, d.stats.samples


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    levels=st.integers(1, 3),
    skew=st.sampled_from(["0", "0.5", "1"]),
    spread=st.sampled_from(["1ticks", "3bps"]),
    btc=st.sampled_from(["0.5", "2", "9"]),
    fill_model=st.sampled_from(["realistic", "trade-through"]),
    latency_ms=st.sampled_from([0, 1, 30]),
    feed_ms=st.sampled_from([0, 0, 20]),
    tolerance=st.sampled_from(["0ticks", "2ticks", "5ticks"]),
)
def test_holding_quiet_rows_gives_the_same_run_as_showing_every_row(
    seed, levels, skew, spread, btc, fill_model, latency_ms, feed_ms, tolerance
):
    """With skew and spreads in bps the skew shift moves with the mid inside the box: held rows
    must still be checked for it."""
    md = market(seed, 3_000)
    cfg = PairConfig(
        symbol="BTCUSDT",
        reference="touch",
        bid_spread=spread,  # type: ignore[arg-type]
        ask_spread=spread,  # type: ignore[arg-type]
        levels=levels,
        level_spacing="1ticks",  # type: ignore[arg-type]
        size=Decimal("0.001"),
        refresh_tolerance=tolerance,  # type: ignore[arg-type]
        skew=Decimal(skew),
        post_only=True,
    )
    held = run(md, cfg, fill_model, latency_ms * 1_000_000, True, btc, feed_ms * 1_000_000)
    shown = run(md, cfg, fill_model, latency_ms * 1_000_000, False, btc, feed_ms * 1_000_000)
    assert held[0], "the run placed no order: the comparison would prove nothing"
    assert held == shown


def test_the_bench_strategy_holds_most_rows_and_keeps_its_counts():
    """The common benchmark's strategy on a random market: the same counts either way."""
    md = market(7, 20_000)
    cfg = PairConfig(
        symbol="BTCUSDT",
        reference="touch",
        bid_spread="2ticks",  # type: ignore[arg-type]
        ask_spread="2ticks",  # type: ignore[arg-type]
        size=Decimal("0.001"),
        refresh_tolerance="5ticks",  # type: ignore[arg-type]
        post_only=True,
    )
    held = run(md, cfg, "trade-through", 0, True)
    shown = run(md, cfg, "trade-through", 0, False)
    assert len(held[1]) > 100
    assert held == shown


@pytest.mark.parametrize("queue_model", ["risk-averse", "prob-power", "prob-log"])
def test_with_depth_and_each_queue_model_holding_quiet_rows_gives_the_same_run(queue_model):
    """On the shipped recording with its depth, three levels from the touch a tick apart: orders behind
    the touch move with depth rows at their price, never with book rows, so holding book rows is still
    the same run."""
    from liqkit.data.capture import load_sample

    md = load_sample()
    md = md.slice_time(None, int(md.book["ts_local"][0]) + 600_000_000_000)
    assert md.depth is not None
    cfg = PairConfig(
        symbol="BTCUSDT",
        reference="touch",
        spread="0ticks",  # type: ignore[arg-type]
        levels=3,
        level_spacing="1ticks",  # type: ignore[arg-type]
        refresh_tolerance="1ticks",  # type: ignore[arg-type]
        size=Decimal("0.002"),
    )

    def one(hold: bool) -> tuple:
        core = EngineCore(RiskConfig(), run_nonce="bt00", amend_keeps_priority=True)
        sim = SimExchange("realistic", 1, 1, {"BTC": Decimal(2), "USDT": Decimal(200_000)}, queue_model)
        core.add_pair(cfg, md.rules)
        sim.add_symbol(md.rules)
        d = Driver(core, sim, ConstantLatency(2_000_000), hold_quiet=hold)
        d.timeline.load_depth(merge_depth([md]))
        events = merge_events([md])
        d.start(["BTCUSDT"], int(events[2][0]))
        d.run(events)
        orders = [(r.ts, r.order.client_id, r.status, r.filled) for r in core.order_log]
        fills = [(r.ts, r.order.client_id, r.price, r.qty, r.fee_nu) for r in core.fill_log]
        return orders, fills, sim.balances()

    held = one(True)
    assert len(held[1]) > 100, "too few fills for the comparison to prove anything"
    assert held == one(False)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    model=st.sampled_from(["glft", "as"]),
    gamma=st.sampled_from([0.01, 0.2]),
    levels=st.integers(1, 2),
    latency_ms=st.sampled_from([0, 30]),
    feed_ms=st.sampled_from([0, 20]),
    tolerance=st.sampled_from(["0ticks", "3ticks"]),
)
def test_model_spreads_hold_quiet_rows_the_same_as_showing_every_row(
    seed, model, gamma, levels, latency_ms, feed_ms, tolerance
):
    """The model's state (the mid's running variance, sampled on the timer; the inventory) changes the
    spreads between book rows: holding quiet rows must give the same run all the same."""
    md = market(seed, 3_000)
    cfg = PairConfig(
        symbol="BTCUSDT",
        model=model,
        gamma=gamma,
        intensity_a="3/s",  # type: ignore[arg-type]
        intensity_k="0.5/tick",  # type: ignore[arg-type]
        horizon=5,
        vol_window=10,
        max_spread="30ticks",  # type: ignore[arg-type]
        levels=levels,
        level_spacing="1ticks",  # type: ignore[arg-type]
        size=Decimal("0.001"),
        refresh_tolerance=tolerance,  # type: ignore[arg-type]
    )
    held = run(md, cfg, "realistic", latency_ms * 1_000_000, True, "2", feed_ms * 1_000_000)
    shown = run(md, cfg, "realistic", latency_ms * 1_000_000, False, "2", feed_ms * 1_000_000)
    assert held[0] and held[1], "no order or no fill: the comparison would prove little"
    assert held == shown
