"""The pre-flight table (``liqkit.preflight``): hand-computed rounding and funded levels, every refusal
reason detected, the engine's own decisions (a scratch ``EngineCore`` places exactly what the table says
it sends), and the order rate the refresh tolerance implies (hand-walked, and against a backtest)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqkit.backtest import run_backtest
from liqkit.data.synthetic import synthetic_feed
from liqkit.domain.config import LiqkitConfig, PairConfig
from liqkit.domain.ratelimits import RateLimitRule, shipped_rate_limits
from liqkit.domain.rules import SymbolRules, default_rules, load_exchange_info
from liqkit.engine.core import EngineCore
from liqkit.engine.intents import Place
from liqkit.preflight import MarketSample, PairPreflight, QuoteCheck, check_pair, preflight
from liqkit.venues.survey import SIM_FEED, sample_of

BTC = default_rules("BTCUSDT")  # tick 0.01, step 0.00001, minQty 0.00001, MIN_NOTIONAL 10, PERCENT_PRICE x0.2-x5
BID, ASK = 5_000_000, 5_000_002  # 50000.00 / 50000.02: mid 50000.01
TOP = MarketSample(BID, ASK, source="hand")


def rules_with(**changes: dict[str, Any]) -> SymbolRules:
    """BTCUSDT's shipped entry with some filters' fields changed (``PRICE_FILTER={"maxPrice": "1"}``);
    a filter not in the entry is added; ``status`` changes the symbol's status."""
    info = copy.deepcopy(next(s for s in load_exchange_info()["symbols"] if s["symbol"] == "BTCUSDT"))
    for name, fields in changes.items():
        if name == "status":
            info["status"] = fields
            continue
        f = next((f for f in info["filters"] if f["filterType"] == name), None)
        if f is None:
            info["filters"].append({"filterType": name, **fields})
        else:
            f.update(fields)
    return SymbolRules.from_symbol_info(info)


def pair(rules: SymbolRules = BTC, usdt: str = "100000", btc: str = "1", top: MarketSample = TOP, **cfg: Any):
    config = PairConfig(symbol="BTCUSDT", **cfg)
    balances = {"USDT": (Decimal(usdt), Decimal(0)), "BTC": (Decimal(btc), Decimal(0))}
    report, _ = check_pair(config, rules, balances, top)
    return report


def quote(report: PairPreflight, side: str, level: int) -> QuoteCheck:
    return next(q for q in report.quotes if q.side == side and q.level == level)


def codes(q: QuoteCheck) -> list[str]:
    return [w.code for w in q.refusals]


TICKS = {"spread": "10ticks", "level_spacing": "10ticks", "refresh_tolerance": "5ticks"}


def test_prices_and_sizes_are_rounded_as_the_engine_rounds_them():
    # bids down, asks up: 50000.01 x (1 - 2bps) = 49990.009998 -> 49990.00; x (1 + 2bps) = 50010.010002 -> 50010.02
    r = pair(size="0.0123456", spread="2bps")
    assert (quote(r, "BUY", 0).price, quote(r, "SELL", 0).price) == ("49990", "50010.02")
    assert quote(r, "BUY", 0).qty == "0.01234"  # down to the 0.00001 step
    assert quote(r, "BUY", 0).notional == "616.8766"  # 49990 x 0.01234
    # 20 USDT a quote: 20 / 49999.91 = 0.00040000072 -> 40 steps; 20 / 50000.11 = 0.00039999912 -> 39 steps
    q = pair(size="20", size_unit="quote", **TICKS)
    assert (quote(q, "BUY", 0).price, quote(q, "BUY", 0).qty) == ("49999.91", "0.0004")
    assert (quote(q, "SELL", 0).price, quote(q, "SELL", 0).qty) == ("50000.11", "0.00039")
    assert q.ok and q.size == "20 USDT" and r.size == "0.0123456 BTC"


def test_funded_levels_are_counted_exactly_against_hand_computed_balances():
    # 3 levels of 0.01 BTC: bids at 49999.91, 49999.81, 49999.71 (499.9991 + 499.9981 = 999.9972 USDT for two),
    # asks at 50000.11, .21, .31; 1250 USDT leaves 250.0028 for the third bid: 0.005 BTC (249.99855 USDT)
    r = pair(usdt="1250", btc="0.025", size="0.01", levels=3, **TICKS)
    assert [q.price for q in r.quotes] == ["49999.91", "49999.81", "49999.71", "50000.11", "50000.21", "50000.31"]
    assert r.bids is not None and r.asks is not None
    assert (r.bids.levels, r.bids.funded, r.bids.placed, r.bids.fundable) == (3, 2, 3, 2)
    assert (r.asks.levels, r.asks.funded, r.asks.placed, r.asks.fundable) == (3, 2, 3, 2)
    assert r.bids.available == "1250" and r.asks.available == "0.025"
    assert [q.placed_qty for q in r.quotes] == ["0.01", "0.01", "0.005", "0.01", "0.01", "0.005"]
    assert codes(quote(r, "BUY", 2)) == ["balance"] and codes(quote(r, "SELL", 2)) == ["balance"]
    why = quote(r, "BUY", 2).refusals[0]
    assert why.field == "balances.USDT" and "250.00 left" in why.message and "quotes 0.005 BTC instead" in why.message
    assert not r.ok
    # 1005 USDT: 5.0028 left pays for 0.0001 BTC, 5.00 USDT: under the 10 USDT minimum, so nothing is sent
    thin = pair(usdt="1005", size="0.01", levels=3, **TICKS)
    assert thin.bids is not None and (thin.bids.funded, thin.bids.placed) == (2, 2)
    assert quote(thin, "BUY", 2).placed_qty == "0" and codes(quote(thin, "BUY", 2)) == ["balance", "NOTIONAL"]
    # plenty: every level funded, 100000 USDT pays for 200 bids of 499.9991, 1 BTC for 100 asks
    full = pair(size="0.01", levels=3, **TICKS)
    assert full.ok and full.bids is not None and full.asks is not None
    assert (full.bids.funded, full.bids.fundable, full.asks.funded, full.asks.fundable) == (3, 200, 3, 100)


def test_each_filter_failure_is_detected_and_named_as_binance_names_it():
    notional = pair(size="0.0001")  # 5 USDT an order, under (MIN_)NOTIONAL 10
    assert codes(quote(notional, "BUY", 0)) == ["NOTIONAL"] and quote(notional, "BUY", 0).placed_qty == "0"
    assert quote(notional, "BUY", 0).refusals[0].field == "pairs.BTCUSDT.size"
    assert "below minNotional 10" in quote(notional, "BUY", 0).refusals[0].message
    lot = pair(rules_with(LOT_SIZE={"minQty": "0.00100000"}), size="30", size_unit="quote")  # 0.0006 BTC < 0.001
    assert codes(quote(lot, "BUY", 0)) == codes(quote(lot, "SELL", 0)) == ["LOT_SIZE"]
    price = pair(rules_with(PRICE_FILTER={"maxPrice": "50000.20000000"}), levels=3, **TICKS)
    assert [codes(q) for q in price.quotes if q.side == "SELL"] == [[], ["PRICE_FILTER"], ["PRICE_FILTER"]]
    assert "above maxPrice 50000.2" in quote(price, "SELL", 1).refusals[0].message
    band = pair(rules_with(PERCENT_PRICE={"multiplierUp": "1.0001", "multiplierDown": "0.9999"}), spread="5bps")
    assert codes(quote(band, "BUY", 0)) == codes(quote(band, "SELL", 0)) == ["PERCENT_PRICE"]
    assert band.filters is not None and band.filters.bid_band == ["49995.01", "50005.01"]
    assert band.filters.percent_price == "PERCENT_PRICE: x0.9999 to x1.0001 of the average price"
    orders = pair(rules_with(MAX_NUM_ORDERS={"maxNumOrders": 3}), levels=2, **TICKS)
    assert [codes(q) for q in orders.quotes] == [[], [], [], ["MAX_NUM_ORDERS"]]
    assert quote(orders, "SELL", 1).refusals[0].field == "pairs.BTCUSDT.levels"


def test_each_money_safety_cap_and_balance_refusal_is_detected():
    cap = pair(size="0.01", max_order_notional="400")  # 0.01 BTC is worth about 500 USDT
    assert codes(quote(cap, "BUY", 0)) == ["max_order_notional"] and quote(cap, "BUY", 0).placed_qty == "0"
    assert [w.code for w in cap.refusals] == ["budget"] and cap.refusals[0].field == "pairs.BTCUSDT.size"
    assert "max_order_notional" in quote(cap, "SELL", 0).refusals[0].message
    poor = pair(usdt="3", btc="0", size="0.001")  # neither side can place 0.001 BTC
    assert [w.code for w in poor.refusals] == ["budget"] and "either side" in poor.refusals[0].message
    # 3 USDT pays for 0.00006 BTC, 3.00 USDT: under the minimum order value too
    assert codes(quote(poor, "BUY", 0)) == ["balance", "NOTIONAL"] and codes(quote(poor, "SELL", 0)) == ["balance"]
    assert quote(poor, "SELL", 0).refusals[0].field == "balances.BTC"
    room = pair(btc="0", size="0.01", max_inventory="0.015", levels=2, **TICKS)  # room for 0.015 BTC of bids
    assert codes(quote(room, "BUY", 1)) == ["max_inventory"] and quote(room, "BUY", 1).placed_qty == "0.005"
    full = pair(btc="1", size="0.01", max_inventory="0.5")  # holds more than max_inventory: no bids at all
    assert codes(quote(full, "BUY", 0)) == ["max_inventory"] and codes(quote(full, "SELL", 0)) == []
    ceiling = pair(price_ceiling="40000")
    assert codes(quote(ceiling, "BUY", 0)) == ["price_ceiling"] and codes(quote(ceiling, "SELL", 0)) == []
    floor = pair(price_floor="60000")
    assert codes(quote(floor, "SELL", 0)) == ["price_floor"] and floor.quotes[0].placed_qty != "0"
    assert quote(floor, "SELL", 0).refusals[0].field == "pairs.BTCUSDT.price_floor"


def test_a_pair_that_cannot_quote_at_all_says_why():
    tiny = pair(size="0.000001")  # under minQty: the config itself is refused, no levels
    assert [w.code for w in tiny.refusals] == ["config"] and not tiny.quotes
    assert tiny.refusals[0].field == "pairs.BTCUSDT.size" and "minimum quantity" in tiny.refusals[0].message
    wide = pair(spread="6000bps")
    assert [w.code for w in wide.refusals] == ["config"] and wide.refusals[0].field == "pairs.BTCUSDT.bid_spread"
    halted = pair(rules_with(status="BREAK"))
    assert [w.code for w in halted.refusals] == ["status"] and not halted.ok
    blind = pair(top=MarketSample(0, 0))
    assert [w.code for w in blind.refusals] == ["market"] and blind.bid is None and not blind.quotes
    config = PairConfig(symbol="NOPEUSDT")
    unknown, flow = check_pair(config, None, {}, TOP)
    assert [w.code for w in unknown.refusals] == ["symbol"] and unknown.filters is None and flow is None


def engine_places(cfg: PairConfig, rules: SymbolRules, balances: dict[str, tuple[Decimal, Decimal]]) -> set[tuple]:
    """What a scratch engine core places on the first book (the engine's own decision)."""
    core = EngineCore()
    core.add_pair(cfg, rules)
    core.on_balances(balances, 0)
    core.run(cfg.symbol, 0)
    out = core.on_book(0, 1, BID, 100, ASK, 100)
    return {(p.side.name, p.level, p.price, p.qty) for p in out if isinstance(p, Place)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spread=st.sampled_from(["1bps", "2bps", "10bps", "3ticks", "40ticks"]),
    levels=st.integers(1, 5),
    size=st.sampled_from(["0.0001", "0.0004", "0.002", "0.01", "0.05"]),
    usdt=st.sampled_from(["0", "15", "700", "2600", "100000"]),
    btc=st.sampled_from(["0", "0.0003", "0.02", "0.07", "1"]),
    max_inventory=st.sampled_from([None, "0.01", "0.5"]),
    skew=st.sampled_from(["0", "0.5"]),
)
def test_the_table_sends_exactly_what_the_engine_places(spread, levels, size, usdt, btc, max_inventory, skew):
    cfg = PairConfig(symbol="BTCUSDT", spread=spread, levels=levels, size=size, max_inventory=max_inventory, skew=skew)
    balances = {"USDT": (Decimal(usdt), Decimal(0)), "BTC": (Decimal(btc), Decimal(0))}
    report, _ = check_pair(cfg, BTC, balances, TOP)
    sent = {
        (q.side, q.level, BTC.price_to_ticks(q.price), BTC.qty_to_steps(q.placed_qty))
        for q in report.quotes
        if q.placed_qty != "0"
    }
    assert sent == engine_places(cfg, BTC, balances)
    for q in report.quotes:  # nothing short of the configured size goes unexplained
        assert q.refusals or (q.funded and q.placed_qty == q.qty), q


def test_the_order_rate_is_walked_by_the_refresh_tolerance():
    # one level, 10 ticks from the mid, kept while within 5 ticks; times in seconds
    tops = [
        (0, 1_000_000, 1_000_002),  # bid 999_991, ask 1_000_011: the first two orders
        (1, 1_000_003, 1_000_005),  # wanted 999_994 / 1_000_014: 3 ticks away, kept
        (2, 1_000_006, 1_000_008),  # 999_997 / 1_000_017: 6 > 5, both refreshed (2 cancels, 2 orders)
        (3, 1_000_006, 1_000_008),  # the same top: nothing
        (4, 999_990, 999_997),  # the ask reaches our bid at 999_997: touched (a new order at 999_983);
        # the ask wants 1_000_004, 13 ticks from 1_000_017: refreshed
        (15, 999_990, 999_997),
    ]
    sample = MarketSample(
        1_000_000,
        1_000_002,
        ts=[t * 1_000_000_000 for t, _, _ in tops],
        bids=[b for _, b, _ in tops],
        asks=[a for _, _, a in tops],
        source="hand",
    )
    cfg = PairConfig(symbol="BTCUSDT", spread="10ticks", refresh_tolerance="5ticks", size="0.002")
    bal = {"USDT": (Decimal(100_000), Decimal(0)), "BTC": (Decimal(1), Decimal(0))}
    report, flow = check_pair(cfg, BTC, bal, sample)
    r = report.rate
    assert r is not None and flow is not None
    assert (r.refreshes, r.touches, r.orders, r.cancels) == (3, 1, 6, 3)
    s = 1_000_000_000
    assert flow.orders == [0, 0, 2 * s, 2 * s, 4 * s, 4 * s] and len(flow.requests) == 2 + 4 + 3
    assert r.sample_s == 15 and r.busiest_10s == 6
    assert r.orders_per_min == 6.0 and r.orders_per_day == 6 * 1440  # a sample under a minute counts as one


def test_the_implied_orders_match_a_backtest_of_the_same_feed():
    """The simulated exchange's own feed, backtested: the pre-flight predicts its orders and cancels."""
    cfg = PairConfig(symbol="BTCUSDT", size="20", size_unit="quote")
    feed = synthetic_feed("BTCUSDT", seed=7, **SIM_FEED)
    result = run_backtest(feed, LiqkitConfig(pairs={"BTCUSDT": cfg}))
    m = result.metrics
    bal = {a: (v, Decimal(0)) for a, v in LiqkitConfig().sim.balances.items()}
    report, _ = check_pair(cfg, BTC, bal, sample_of(feed, "feed"))
    r = report.rate
    assert r is not None and m["orders_placed"] > 100
    assert abs(r.orders - m["orders_placed"]) <= 0.05 * m["orders_placed"], (r, m["orders_placed"])
    assert abs(r.cancels - m["orders_cancelled"]) <= 0.05 * m["orders_cancelled"], (r, m["orders_cancelled"])


def test_the_rate_plan_adds_up_the_pairs_against_the_declared_limits():
    cfgs = [PairConfig(symbol=s, size="20", size_unit="quote") for s in ("BTCUSDT", "ETHUSDT")]
    feeds = {s: synthetic_feed(s, seed=7 + i, **SIM_FEED) for i, s in enumerate(("BTCUSDT", "ETHUSDT"))}
    markets = {s: sample_of(f, "feed") for s, f in feeds.items()}
    rules = {s: default_rules(s) for s in feeds}
    bal = {a: (v, Decimal(0)) for a, v in LiqkitConfig().sim.balances.items()}
    report = preflight(cfgs, rules, bal, markets, shipped_rate_limits(), "sim")
    doc = load_exchange_info()
    declared = {f"{r['rateLimitType']} per {r['intervalNum']} {r['interval']}" for r in doc["rateLimits"]}
    assert {lp.limit for lp in report.rate_plan.limits} == declared
    ten = next(lp for lp in report.rate_plan.limits if lp.limit == "ORDERS per 10 SECOND")
    assert ten.predicted == sum(p.rate.busiest_10s for p in report.pairs.values() if p.rate)
    assert report.rate_plan.orders == sum(p.rate.orders for p in report.pairs.values() if p.rate)
    assert report.ok == (not report.rate_plan.warnings)
    # a tighter limit warns, naming what to change
    tight = [RateLimitRule("ORDERS", "SECOND", 10, ten.predicted)]
    warned = preflight(cfgs, rules, bal, markets, tight, "sim")
    assert not warned.ok and warned.rate_plan.limits[0].level == "over"
    assert "refresh_tolerance" in warned.rate_plan.warnings[0]
