"""Taker orders at the simulated exchange: the walk through the book's levels (L2 from depth, or the
top alone), time in force, self-trade prevention, the displayed quantity a taker leaves, and the rule
for a taker's rest (not filled as maker by book rows that only show the recorded market beside it)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqkit.domain.config import SimConfig
from liqkit.domain.rules import default_rules
from liqkit.domain.types import OrderStatus, Side
from liqkit.engine.intents import Place
from liqkit.engine.ports import UserFill, UserOrder
from liqkit.venues.sim.exchange import (
    DEPTH_LOST,
    DEPTH_SNAPSHOT,
    STP_DECREMENT,
    STP_EXPIRE_BOTH,
    STP_EXPIRE_MAKER,
    STP_EXPIRE_TAKER,
    STP_NONE,
    TIF_FOK,
    TIF_IOC,
    SimExchange,
)
from liqkit.venues.sim.venue import SimVenue

BTC = default_rules("BTCUSDT")  # tick 0.01 USDT, step 0.00001 BTC; balances: 1e-5 BTC, 1e-7 USDT
D = Decimal
BID, ASK = 6_000_000, 6_000_002  # 60000.00 / 60000.02
ASKS = [(ASK, 300), (6_000_005, 200), (6_000_009, 500)]  # price ticks, qty steps
BIDS = [(BID, 400), (5_999_990, 100), (5_999_970, 250)]


def exchange(model: str = "realistic", depth: bool = True, taker_bps: int = 0, maker_bps: int = 0) -> SimExchange:
    """BTCUSDT with 10 BTC and 1,000,000 USDT; the recorded top BID x 400 / ASK x 300 and, with
    ``depth``, the L2 book ``BIDS``/``ASKS`` behind it."""
    ex = SimExchange(model, maker_bps, taker_bps, {"BTC": D(10), "USDT": D(1_000_000)})
    ex.add_symbol(BTC)
    if depth:
        ex.on_depth(0, DEPTH_SNAPSHOT, 0, 0, 0)
        for p, q in BIDS:
            ex.on_depth(0, 0, 1, p, q)
        for p, q in ASKS:
            ex.on_depth(0, 0, -1, p, q)
    ex.on_book(0, BID, 400, ASK, 300)
    return ex


def usdt(ex: SimExchange) -> tuple[Decimal, Decimal]:
    return ex.balances()["USDT"]


def btc(ex: SimExchange) -> tuple[Decimal, Decimal]:
    return ex.balances()["BTC"]


def value(ticks: int, steps: int) -> Decimal:
    return D(ticks) * BTC.tick * D(steps) * BTC.step


# ---- the walk -------------------------------------------------------------------------------------
def test_crossing_limit_takes_level_by_level_at_each_price_and_rests_the_rest():
    ex = exchange(taker_bps=10)
    r = ex.place(0, 1, "t", Side.BUY, 6_000_005, 700, False)  # up to 60000.05: two levels, 500 steps
    assert r.accepted and r.matched and r.status is OrderStatus.PARTIALLY_FILLED
    assert [(f.price, f.qty, f.is_maker) for f in r.fills] == [(ASK, 300, False), (6_000_005, 200, False)]
    assert len({f.trade_id for f in r.fills}) == 2
    cost = value(ASK, 300) + value(6_000_005, 200)
    fees = sum(D(f.fee_nu) * BTC.tick * BTC.step / 100_000_000 for f in r.fills)
    assert fees == cost * D("0.001")  # 10 bps taker, exact here
    (o,) = ex.open_orders()
    assert (o.client_id, o.price, o.qty - o.filled) == ("t", 6_000_005, 200)  # the rest, at its limit
    # balances exact: the cost and fees paid, the rest's value locked at its price
    assert usdt(ex) == (D(1_000_000) - cost - fees - value(6_000_005, 200), value(6_000_005, 200))
    assert btc(ex) == (D(10) + D("0.005"), D(0))
    # what it took is off the displayed book; the level beyond its limit is untouched, and the rest is
    # now the best bid (the recorded asks at or below it are not shown)
    bids, asks = ex.levels(0, 10)
    assert asks == [(6_000_009, 500)]
    assert bids[0] == (6_000_005, 200) and bids[1:] == BIDS


def test_without_depth_only_the_top_is_known():
    ex = exchange(depth=False)
    r = ex.place(0, 1, "t", Side.SELL, 5_999_000, 1_000, False)  # far through: only the top is there
    assert [(f.price, f.qty) for f in r.fills] == [(BID, 400)]
    assert ex.levels(0, 5) == ([], [(5_999_000, 600), (ASK, 300)])  # our rest is the best ask; no bid shown
    ex.on_book(0, BID, 400, ASK, 300)  # the data shows the level again
    assert ex.levels(0, 5)[0] == []  # ... but our resting ask is through it: not shown


def test_taken_quantity_is_displayed_less_until_the_data_shows_the_level_again():
    ex = exchange()
    ex.place(0, 1, "a", Side.BUY, 6_000_005, 350, False, tif=TIF_IOC)  # 300 at ASK, 50 of the next
    assert ex.levels(0, 3)[1] == [(6_000_005, 150), (6_000_009, 500)]
    r = ex.place(0, 1, "b", Side.BUY, ASK, 100, False, tif=TIF_IOC)  # ASK's quantity is gone for now
    assert r.fills == [] and r.status is OrderStatus.EXPIRED and r.expiry == "UNFILLED_IOC_QUANTITY_EXPIRED"
    ex.on_book(0, BID, 400, ASK, 120)  # a book row: the top is as it shows
    ex.on_depth(0, 0, -1, 6_000_005, 180)  # a depth update names the level: so is it
    assert ex.levels(0, 3)[1] == [(ASK, 120), (6_000_005, 180), (6_000_009, 500)]
    r = ex.place(0, 1, "c", Side.BUY, 6_000_005, 400, False, tif=TIF_IOC)
    assert [(f.price, f.qty) for f in r.fills] == [(ASK, 120), (6_000_005, 180)]
    assert r.status is OrderStatus.EXPIRED and ex.open_orders() == []
    assert usdt(ex)[1] == 0  # what expired was released


def test_market_order_by_quantity_and_by_quote_amount():
    ex = exchange()
    r = ex.place(0, 1, "m", Side.BUY, 0, 1_200, False, market=True)  # more than the book's 1,000 steps
    assert [(f.price, f.qty) for f in r.fills] == [(ASK, 300), (6_000_005, 200), (6_000_009, 500)]
    assert (r.status, r.expiry) == (OrderStatus.EXPIRED, "INSUFFICIENT_LIQUIDITY")
    cost = value(ASK, 300) + value(6_000_005, 200) + value(6_000_009, 500)
    assert usdt(ex) == (D(1_000_000) - cost, D(0))  # exactly its cost: nothing left locked
    ex2 = exchange()
    spend = value(ASK, 300) + value(6_000_005, 100) + D("0.3")  # and less than a step's worth more
    units = int(spend / (BTC.tick * BTC.step))
    r = ex2.place(0, 1, "q", Side.BUY, 0, 0, False, market=True, quote_qty=units)
    assert [(f.price, f.qty) for f in r.fills] == [(ASK, 300), (6_000_005, 100)]
    assert r.status is OrderStatus.FILLED
    assert usdt(ex2) == (D(1_000_000) - value(ASK, 300) - value(6_000_005, 100), D(0))
    sell = ex2.place(0, 1, "s", Side.SELL, 0, 450, False, market=True)
    assert [(f.price, f.qty) for f in sell.fills] == [(BID, 400), (5_999_990, 50)]
    assert sell.status is OrderStatus.FILLED and btc(ex2) == (D(10) + D("0.004") - D("0.0045"), D(0))


def test_market_orders_refused_like_binance():
    ex = exchange()
    r = ex.place(0, 1, "m", Side.BUY, 0, 1_000_000_000, False, market=True)
    assert (r.accepted, r.code, r.message) == (False, -1013, "Filter failure: LOT_SIZE")
    rich = ex.place(0, 1, "m", Side.BUY, 0, 1_000, False, market=True)  # 60 k USDT: affordable
    assert rich.accepted
    poor = SimExchange("realistic", 0, 0, {"BTC": D(0), "USDT": D(100)})
    poor.add_symbol(BTC)
    poor.on_book(0, BID, 400, ASK, 300)
    r = poor.place(0, 1, "m", Side.BUY, 0, 200, False, market=True)  # 120 USDT at the ask
    assert (r.accepted, r.code) == (False, -2010) and "insufficient balance" in r.message
    empty = SimExchange("realistic", 0, 0, {"USDT": D(100)})
    empty.add_symbol(BTC)
    r = empty.place(0, 1, "m", Side.BUY, 0, 100, False, market=True)
    assert (r.code, r.message) == (-2010, "Order book liquidity is less than symbol minimum quantity.")


def test_market_notional_is_checked_on_what_the_order_asks_not_on_what_a_thin_book_fills():
    """Binance checks NOTIONAL on the order (its quoteOrderQty, or its quantity at the market price)
    before matching: a book thinner than the order fills what it has and the rest expires."""
    ex = exchange(depth=False)
    ex.on_book(0, BID, 400, ASK, 5)  # 5 steps at the ask: 3 USDT, under the 10 USDT minimum notional
    assert BTC.min_notional > 3
    units = int(D(15) / (BTC.tick * BTC.step))
    r = ex.place(0, 1, "q", Side.BUY, 0, 0, False, market=True, quote_qty=units)
    assert r.accepted and [(f.price, f.qty) for f in r.fills] == [(ASK, 5)]
    assert (r.status, r.expiry) == (OrderStatus.EXPIRED, "INSUFFICIENT_LIQUIDITY")
    little = int(D(1) / (BTC.tick * BTC.step))  # 1 USDT asked: refused whatever the book holds
    r = ex.place(0, 1, "q2", Side.BUY, 0, 0, False, market=True, quote_qty=little)
    assert (r.accepted, r.code, r.message) == (False, -1013, "Filter failure: NOTIONAL")
    r = ex.place(0, 1, "m", Side.SELL, 0, 2, False, market=True)  # 2 steps at the bid: 1.2 USDT
    assert (r.accepted, r.code, r.message) == (False, -1013, "Filter failure: NOTIONAL")


def test_fok_is_all_or_nothing():
    ex = exchange()
    before = ex.balances()
    r = ex.place(0, 1, "f", Side.BUY, 6_000_005, 501, False, tif=TIF_FOK)  # 500 there within the limit
    assert r.accepted and r.fills == [] and (r.status, r.expiry) == (OrderStatus.EXPIRED, "UNFILLED_FOK_ORDER_EXPIRED")
    assert ex.balances() == before and ex.levels(0, 5)[1] == ASKS and ex.open_orders() == []
    r = ex.place(0, 1, "f2", Side.BUY, 6_000_005, 500, False, tif=TIF_FOK)
    assert r.status is OrderStatus.FILLED and sum(f.qty for f in r.fills) == 500
    assert ex.place(0, 1, "f3", Side.BUY, 5_999_000, 100, False, tif=TIF_FOK).status is OrderStatus.EXPIRED


def test_post_only_that_would_meet_our_own_resting_order_is_refused():
    ex = exchange()
    assert ex.place(0, 1, "s", Side.SELL, 6_000_001, 100, True).accepted  # inside the spread
    r = ex.place(0, 1, "b", Side.BUY, 6_000_001, 100, True)
    assert (r.accepted, r.message) == (False, "Order would immediately match and take.")


def test_in_the_trade_through_model_our_orders_never_meet_one_another():
    ex = exchange("trade-through")
    assert ex.place(0, 1, "s", Side.SELL, 6_000_001, 100, True).accepted
    assert ex.place(0, 1, "b", Side.BUY, 6_000_001, 100, True).accepted  # the benchmark's reference accepts it
    r = ex.place(0, 1, "t", Side.BUY, ASK, 100, False)
    assert [(f.price, f.qty) for f in r.fills] == [(ASK, 100)] and r.maker_fills == []


# ---- self-trade prevention -------------------------------------------------------------------------
def resting_asks(ex: SimExchange) -> None:
    """Our own asks: 100 steps at 60000.01 (better than the market) and 150 at ASK (behind its 300)."""
    assert ex.place(0, 1, "own1", Side.SELL, 6_000_001, 100, True).accepted
    assert ex.place(0, 2, "own2", Side.SELL, ASK, 150, True).accepted


def test_stp_none_trades_with_our_own_order_one_trade_both_sides():
    ex = exchange(taker_bps=10, maker_bps=2)
    resting_asks(ex)
    r = ex.place(0, 3, "t", Side.BUY, ASK, 600, False, stp=STP_NONE)
    # our ask at 60000.01 first; at ASK the market's 300 was there before our 150
    assert [(f.client_id, f.price, f.qty) for f in r.fills] == [("t", 6_000_001, 100), ("t", ASK, 300), ("t", ASK, 150)]
    assert [(f.client_id, f.price, f.qty, f.is_maker) for f in r.maker_fills] == [
        ("own1", 6_000_001, 100, True),
        ("own2", ASK, 150, True),
    ]
    assert r.fills[0].trade_id == r.maker_fills[0].trade_id and r.fills[2].trade_id == r.maker_fills[1].trade_id
    assert r.status is OrderStatus.PARTIALLY_FILLED and [o.client_id for o in ex.open_orders()] == ["t"]


def test_stp_expire_taker_stops_at_our_own_order():
    ex = exchange()
    resting_asks(ex)
    r = ex.place(0, 3, "t", Side.BUY, ASK, 600, False, stp=STP_EXPIRE_TAKER)
    assert r.fills == [] and r.status is OrderStatus.EXPIRED_IN_MATCH and r.taker_prevented == 600
    assert r.prevented == [] and sorted(o.client_id for o in ex.open_orders()) == ["own1", "own2"]
    assert usdt(ex) == (D(1_000_000), D(0))  # nothing held for the expired taker


def test_a_market_order_meeting_our_own_order_first_expires_in_match_not_refused():
    ex = exchange()
    resting_asks(ex)
    r = ex.place(0, 3, "m", Side.BUY, 0, 500, False, market=True, stp=STP_EXPIRE_TAKER)
    assert (r.accepted, r.status, r.fills, r.taker_prevented) == (True, OrderStatus.EXPIRED_IN_MATCH, [], 500)
    assert usdt(ex) == (D(1_000_000), D(0))


def test_stp_expire_maker_expires_ours_and_goes_on():
    ex = exchange()
    resting_asks(ex)
    r = ex.place(0, 3, "t", Side.BUY, ASK, 600, False, stp=STP_EXPIRE_MAKER)
    assert [(f.price, f.qty) for f in r.fills] == [(ASK, 300)]  # the market only
    assert r.prevented == [("own1", 100, True, 0), ("own2", 150, True, 0)]
    assert r.status is OrderStatus.PARTIALLY_FILLED
    assert [(o.client_id, o.qty - o.filled) for o in ex.open_orders()] == [("t", 300)]
    assert btc(ex) == (D(10) + D("0.003"), D(0))  # the expired asks' BTC is free again


def test_stp_expire_both():
    ex = exchange()
    resting_asks(ex)
    r = ex.place(0, 3, "t", Side.BUY, ASK, 600, False, stp=STP_EXPIRE_BOTH)
    assert r.fills == [] and r.prevented == [("own1", 100, True, 0)] and r.status is OrderStatus.EXPIRED_IN_MATCH
    assert [o.client_id for o in ex.open_orders()] == ["own2"]


def test_stp_decrement_takes_the_smaller_off_both():
    ex = exchange()
    resting_asks(ex)
    # the taker is larger: own1 (100) expires, the taker goes on 100 smaller
    r = ex.place(0, 3, "t", Side.BUY, 6_000_001, 130, False, stp=STP_DECREMENT)
    assert r.prevented == [("own1", 100, True, 0)] and r.fills == []
    (o,) = [o for o in ex.open_orders() if o.client_id == "t"]
    assert (o.qty - o.filled, r.taker_prevented, r.status) == (30, 100, OrderStatus.NEW)
    assert usdt(ex)[1] == value(6_000_001, 30)  # held for what it can still execute only
    ex.cancel("t")
    # the taker is smaller: it expires, our resting order stays, 40 smaller
    assert ex.place(0, 4, "own3", Side.SELL, 6_000_001, 150, True).accepted
    r = ex.place(0, 5, "u", Side.BUY, ASK, 40, False, stp=STP_DECREMENT)
    assert r.fills == [] and r.status is OrderStatus.EXPIRED_IN_MATCH and r.taker_prevented == 40
    assert r.prevented == [("own3", 40, False, 0)]
    assert [(o.client_id, o.qty - o.filled) for o in ex.open_orders()] == [("own2", 150), ("own3", 110)]
    # equal: both expire
    ex2 = exchange()
    resting_asks(ex2)
    r = ex2.place(0, 3, "v", Side.BUY, 6_000_001, 100, False, stp=STP_DECREMENT)
    assert r.prevented == [("own1", 100, True, 0)] and r.status is OrderStatus.EXPIRED_IN_MATCH
    assert usdt(ex2) == (D(1_000_000), D(0))


def test_stp_decrement_leaves_a_larger_resting_order_open_and_smaller():
    ex = exchange()
    assert ex.place(0, 1, "big", Side.SELL, 6_000_001, 500, True).accepted
    r = ex.place(0, 2, "t", Side.BUY, 6_000_001, 120, False, stp=STP_DECREMENT)
    assert r.prevented == [("big", 120, False, 0)] and r.status is OrderStatus.EXPIRED_IN_MATCH
    (o,) = ex.open_orders()
    assert (o.client_id, o.qty - o.filled) == ("big", 380)
    assert btc(ex) == (D(10) - D("0.0038"), D("0.0038"))  # what was taken off is released


# ---- the rule for a taker's rest -------------------------------------------------------------------
def test_a_taker_rest_is_not_filled_by_rows_that_show_the_recorded_market_beside_it():
    ex = exchange(depth=False)
    r = ex.place(0, 1, "t", Side.BUY, 6_000_004, 500, False)  # takes ASK's 300, rests 200 at 60000.04
    assert sum(f.qty for f in r.fills) == 300
    for qty in (300, 250, 400):  # the recorded market, unaware of us, still shows its ask below our bid
        assert ex.on_book(0, BID, 400, ASK, qty) == []
    assert ex.on_trade(0, ASK, 50, 1) == []  # a buyer lifting the recorded ask is no seller for us
    fills = ex.on_trade(0, 6_000_003, 80, -1)  # a seller hitting at or below our price would meet us first
    assert [(f.price, f.qty, f.is_maker) for f in fills] == [(6_000_004, 80, True)]
    ex.on_book(0, 6_000_005, 10, 6_000_007, 10)  # the market moves off our price ...
    fills = ex.on_book(0, 6_000_001, 10, 6_000_003, 10)  # ... and comes back through it: a seller came
    assert [(f.price, f.qty) for f in fills] == [(6_000_004, 120)] and ex.open_orders() == []


def test_trade_through_model_keeps_its_rule_for_a_taker_rest():
    ex = exchange("trade-through", depth=False)
    ex.place(0, 1, "t", Side.BUY, 6_000_004, 500, False)
    assert ex.on_book(0, BID, 400, ASK, 300) == []
    fills = ex.on_trade(0, ASK, 1, 1)  # the benchmark's rule: any trade at or below the price
    assert [(f.price, f.qty) for f in fills] == [(6_000_004, 200)]


# ---- the L2 book --------------------------------------------------------------------------------
def test_depth_rows_maintain_the_book_and_a_lost_book_leaves_the_top():
    ex = exchange()
    assert ex.has_depth(0)
    ex.on_depth(0, 0, -1, 6_000_009, 0)  # a level removed
    ex.on_depth(0, 0, -1, 6_000_007, 70)  # one added
    ex.on_depth(0, 0, 1, 5_999_990, 0)
    assert ex.levels(0, 10) == ([(BID, 400), (5_999_970, 250)], [(ASK, 300), (6_000_005, 200), (6_000_007, 70)])
    assert ex.levels(0, 1) == ([(BID, 400)], [(ASK, 300)])
    ex.on_book(0, 5_999_990, 20, 6_000_005, 40)  # the real-time top wins: depth levels inside it not shown
    assert ex.levels(0, 10) == ([(5_999_990, 20), (5_999_970, 250)], [(6_000_005, 40), (6_000_007, 70)])
    ex.on_depth(0, DEPTH_LOST, 0, 0, 0)
    assert not ex.has_depth(0) and ex.levels(0, 10) == ([(5_999_990, 20)], [(6_000_005, 40)])


def test_levels_include_our_resting_orders():
    ex = exchange()
    ex.place(0, 1, "b1", Side.BUY, BID, 50, True)
    ex.place(0, 1, "b2", Side.BUY, 6_000_001, 20, True)
    bids, _ = ex.levels(0, 3)
    assert bids == [(6_000_001, 20), (BID, 450), (5_999_990, 100)]


# ---- properties --------------------------------------------------------------------------------------
levels_st = st.dictionaries(st.integers(1, 30), st.integers(1, 500), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    asks=levels_st,
    top_qty=st.integers(0, 400),
    limit_off=st.integers(0, 35),
    qty=st.integers(20, 3000),  # at least the minimum notional
    tif=st.sampled_from([0, TIF_IOC, TIF_FOK]),
    fee=st.integers(0, 20),
)
def test_walk_properties(asks, top_qty, limit_off, qty, tif, fee):
    """Whatever the book: fills best price first, each within the limit and its level, as much as the
    book within the limit holds (FOK: all or nothing); balances move by exactly the fills and fees;
    the displayed levels lose exactly what was taken."""
    ex = SimExchange("realistic", 0, fee, {"BTC": D(10), "USDT": D(10_000_000)})
    ex.add_symbol(BTC)
    ex.on_depth(0, DEPTH_SNAPSHOT, 0, 0, 0)
    book = {ASK + off: q for off, q in asks.items()}
    for p, q in book.items():
        ex.on_depth(0, 0, -1, p, q)
    ex.on_book(0, BID, 400, ASK, top_qty)
    shown = {p: q for p, q in book.items() if p > ASK}
    if top_qty:
        shown[ASK] = top_qty
    limit = ASK + limit_off
    within = sum(q for p, q in shown.items() if p <= limit)
    before_usdt, before_btc = usdt(ex), btc(ex)
    r = ex.place(0, 1, "t", Side.BUY, limit, qty, False, tif=tif)
    assert r.accepted
    got = [(f.price, f.qty) for f in r.fills]
    assert [p for p, _ in got] == sorted(p for p, _ in got) and all(p <= limit for p, _ in got)
    filled = sum(q for _, q in got)
    if tif == TIF_FOK and within < qty:
        assert got == [] and ex.levels(0, 100)[1] == sorted(shown.items())
    else:
        assert filled == min(qty, within)
        for p, q in got:
            assert q <= shown[p]
        after = dict(ex.levels(0, 100)[1])
        resting = qty - filled if tif == 0 else 0
        for p, q in shown.items():
            took = sum(x for y, x in got if y == p)
            if p <= limit and resting:
                assert p not in after  # shown no more: our rest's bid is at or through it
            else:
                assert after.get(p, 0) == q - took
    cost = sum(value(p, q) for p, q in got)
    unit = ex.units["USDT"]  # the balance unit fees are rounded up to
    free, locked = usdt(ex)
    rest = qty - filled if (tif == 0 and r.status is not OrderStatus.FILLED) else 0
    charged = sum(  # each fill's fee, rounded up to the balance unit
        (value(p, q) * fee / 10_000 / unit).to_integral_value(rounding="ROUND_CEILING") * unit for p, q in got
    )
    assert locked == value(limit, rest)
    assert free == before_usdt[0] - cost - charged - value(limit, rest)
    assert btc(ex) == (before_btc[0] + D(filled) * BTC.step, D(0))
    assert r.status in (
        (OrderStatus.FILLED,) if filled == qty else (OrderStatus.EXPIRED, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
    )


@pytest.mark.parametrize("stp", [STP_NONE, STP_EXPIRE_TAKER, STP_EXPIRE_MAKER, STP_EXPIRE_BOTH, STP_DECREMENT])
@settings(max_examples=40, deadline=None)
@given(
    own=st.lists(st.tuples(st.integers(1, 6), st.integers(20, 300)), min_size=1, max_size=4), qty=st.integers(20, 1500)
)
def test_stp_never_trades_with_our_own_orders_unless_none_and_balances_add_up(stp, own, qty):
    ex = exchange()
    for k, (off, q) in enumerate(own):
        assert ex.place(0, k, f"own{k}", Side.SELL, ASK + off, q, True).accepted
    total = (D(10), D(1_000_000))
    r = ex.place(0, 9, "t", Side.BUY, ASK + 6, qty, False, stp=stp)
    own_ids = {f"own{k}" for k in range(len(own))}
    assert (len(r.maker_fills) > 0) <= (stp == STP_NONE)
    assert all(f.client_id == "t" for f in r.fills)
    if stp != STP_NONE:
        assert not {f.client_id for f in r.maker_fills} & own_ids
    # nothing is created or lost: BTC and USDT in all (free + locked) moved only with the market's fills
    market = [(f.price, f.qty) for f in r.fills if f.trade_id not in {m.trade_id for m in r.maker_fills}]
    b_free, b_locked = btc(ex)
    u_free, u_locked = usdt(ex)
    assert b_free + b_locked == total[0] + D(sum(q for _, q in market)) * BTC.step
    assert u_free + u_locked == total[1] - sum(value(p, q) for p, q in market)


# ---- the venue's API ---------------------------------------------------------------------------------
def test_sim_venue_submit_passes_time_in_force_and_stp_and_reports_how_the_order_ended():
    venue = SimVenue(["BTCUSDT"], SimConfig(latency_ms=0, balances={"BTC": D(10), "USDT": D(1_000_000)}))
    venue._rules["BTCUSDT"] = BTC
    ex = venue.exchange
    ex.add_symbol(BTC)
    ex.on_depth(0, DEPTH_SNAPSHOT, 0, 0, 0)
    for p, q in ASKS:
        ex.on_depth(0, 0, -1, p, q)
    ex.on_book(0, BID, 400, ASK, 300)

    async def main() -> None:
        own = await venue.submit(Place("BTCUSDT", "own", Side.SELL, 6_000_001, 100, True, 0))
        assert own.status is OrderStatus.NEW and not own.expired
        ioc = await venue.submit(
            Place("BTCUSDT", "ioc", Side.BUY, ASK, 600, False, 0), tif=TIF_IOC, stp=STP_EXPIRE_MAKER
        )
        assert [(f.price, f.qty) for f in ioc.fills] == [(ASK, 300)]
        assert (ioc.status, ioc.expiry, ioc.expired) == (OrderStatus.EXPIRED, "UNFILLED_IOC_QUANTITY_EXPIRED", True)
        assert ioc.prevented == [("own", 100, True, 0)] and ex.open_orders() == []
        m = await venue.submit(Place("BTCUSDT", "m", Side.BUY, 0, 0, False, 0), market=True, quote_qty=10**9)
        assert [f.price for f in m.fills] == [6_000_005] and m.status is OrderStatus.FILLED  # 100 USDT's worth
        fok = await venue.submit(Place("BTCUSDT", "f", Side.BUY, 6_000_009, 10_000, False, 0), tif=TIF_FOK)
        assert (fok.status, fok.fills) == (OrderStatus.EXPIRED, [])
        legacy = await venue.submit(Place("BTCUSDT", "t", Side.BUY, 6_000_005, 5_000, False, 0), take_only=True)
        assert legacy.expired and legacy.status is OrderStatus.EXPIRED  # take_only is IOC at the price

    asyncio.run(main())
    events = []
    while not venue._queue.empty():
        events.append(venue._queue.get_nowait())
    expired = [e for e in events if isinstance(e, UserOrder)]
    assert [(e.client_id, e.status) for e in expired] == [("own", OrderStatus.EXPIRED_IN_MATCH)]
    assert [e.client_id for e in events if isinstance(e, UserFill)] == ["ioc", "m", "t"]


@settings(max_examples=60, deadline=None)
@given(
    bids=st.dictionaries(st.integers(1, 40), st.integers(1, 500), max_size=25),
    asks=st.dictionaries(st.integers(1, 40), st.integers(1, 500), max_size=25),
    own=st.lists(st.tuples(st.booleans(), st.integers(-3, 6), st.integers(20, 200)), max_size=5),
    n=st.integers(1, 30),
)
def test_levels_are_the_best_n_of_the_whole_book(bids, asks, own, n):
    ex = SimExchange("realistic", 0, 0, {"BTC": D(10), "USDT": D(10_000_000)})
    ex.add_symbol(BTC)
    ex.on_depth(0, DEPTH_SNAPSHOT, 0, 0, 0)
    for off, q in bids.items():
        ex.on_depth(0, 0, 1, BID - off, q)
    for off, q in asks.items():
        ex.on_depth(0, 0, -1, ASK + off, q)
    ex.on_book(0, BID, 400, ASK, 300)
    for k, (buy, off, q) in enumerate(own):
        ex.place(0, k, f"o{k}", Side.BUY if buy else Side.SELL, (BID - off) if buy else (ASK + off), q, True)
    whole_bids, whole_asks = ex.levels(0, 10_000)
    assert ex.levels(0, n) == (whole_bids[:n], whole_asks[:n])
    assert [p for p, _ in whole_bids] == sorted({p for p, _ in whole_bids}, reverse=True)
    assert [p for p, _ in whole_asks] == sorted({p for p, _ in whole_asks})
    assert not whole_bids or not whole_asks or whole_bids[0][0] < whole_asks[0][0]  # never crossed
