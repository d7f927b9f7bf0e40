"""Iceberg orders at the simulated exchange: only the visible slice is on the book, it trades at its level
behind the queue ahead of it, each refill (``min(visible, reserve)``) joins the back of the queue at its
price behind what rests there, and the balances stay exact; Binance's refusals of an ``icebergQty``."""

from __future__ import annotations

from decimal import Decimal

from liqkit.domain.rules import default_rules
from liqkit.domain.types import Side
from liqkit.venues.sim.exchange import DEPTH_SNAPSHOT, TIF_IOC, SimExchange

BTC = default_rules("BTCUSDT")  # tick 0.01 USDT, step 0.00001 BTC; ICEBERG_PARTS limit 10
D = Decimal
BID, ASK = 6_000_000, 6_000_002


def exchange(model: str = "realistic", depth: bool = True) -> SimExchange:
    """BTCUSDT with 10 BTC and 1,000,000 USDT; the top BID x 400 / ASK x 300, with depth a level behind each."""
    ex = SimExchange(model, 0, 0, {"BTC": D(10), "USDT": D(1_000_000)})
    ex.add_symbol(BTC)
    if depth:
        ex.on_depth(0, DEPTH_SNAPSHOT, 0, 0, 0)
        ex.on_depth(0, 0, 1, 5_999_990, 100)
        ex.on_depth(0, 0, -1, 6_000_005, 200)
    ex.on_book(0, BID, 400, ASK, 300)
    return ex


def test_only_the_visible_slice_is_in_the_book() -> None:
    ex = exchange()
    assert ex.place(0, 1, "ice", Side.BUY, BID, 1_000, True, iceberg_qty=300).accepted
    assert ex.place(0, 1, "plain", Side.SELL, 6_000_005, 250, True).accepted
    bids, asks = ex.levels(0, 5)
    assert bids[0] == (BID, 400 + 300)  # the market's 400 and our slice of 300, not the 1,000
    assert asks == [(ASK, 300), (6_000_005, 200 + 250)]  # a plain order shows all of it
    assert ex.balances()["USDT"] == (D(1_000_000) - D(600), D(600))  # the whole order is held, not the slice


def test_a_trade_takes_the_queue_then_the_slice_and_the_refill_joins_the_back() -> None:
    ex = exchange()
    ex.place(0, 1, "ice", Side.BUY, BID, 1_000, True, iceberg_qty=300)
    o = ex.orders["ice"]
    assert o.queue == 400  # behind the market's quantity at its price
    fills = ex.on_trade(0, BID, 500, -1)  # a seller: the 400 ahead, then 100 of our slice
    assert [(f.client_id, f.qty, f.price, f.is_maker) for f in fills] == [("ice", 100, BID, True)]
    assert (o.filled, o.shown, o.queue) == (100, 200, 0)
    fills = ex.on_trade(0, BID, 250, -1)  # 200 finish the slice; the refill joins behind the market's 400
    assert [f.qty for f in fills] == [200]
    assert (o.filled, o.shown) == (300, 300)
    assert o.queue == 400 - 50  # the trade's last 50 went to what rests ahead of the refill
    assert ex.levels(0, 1)[0] == [(BID, 400 + 300)]
    assert ex.on_trade(0, BID, 349, -1) == []  # all of it the queue's: the refill is behind
    assert [f.qty for f in ex.on_trade(0, BID, 2, -1)] == [1]
    usdt_free, usdt_locked = ex.balances()["USDT"]
    assert ex.balances()["BTC"] == (D("10.00301"), D(0))
    assert usdt_locked == D(699) * D("0.6")  # 699 steps left at 60000.00: 0.6 USDT a step
    assert usdt_free == D(1_000_000) - D(600)  # the fills were paid out of what the order held


def test_an_iceberg_fills_slice_by_slice_to_the_end_and_stays_open_until_then() -> None:
    ex = exchange(depth=False)
    ex.place(0, 1, "ice", Side.SELL, ASK, 700, True, iceberg_qty=300)
    o = ex.orders["ice"]
    sizes = []
    for _ in range(10):
        if "ice" not in ex.orders:
            break
        sizes += [f.qty for f in ex.on_trade(0, ASK, 300 + 300, 1)]  # the market's 300 ahead, then a slice
        assert "ice" not in ex.orders or 0 < o.filled < 700  # partly filled, open, until all is done
    assert sizes == [300, 300, 100]  # the last refill is what the reserve held: min(visible, reserve)
    assert o.filled == 700 and "ice" not in ex.orders
    assert ex.balances()["BTC"] == (D(10) - D("0.007"), D(0))
    assert ex.balances()["USDT"] == (D(1_000_000) + D("420.00014"), D(0))  # 700 steps at 60000.02


def test_a_book_row_moves_the_refills_queue_by_the_queue_model() -> None:
    ex = SimExchange("realistic", 0, 0, {"BTC": D(10), "USDT": D(1_000_000)}, queue_model="prob-power")
    ex.add_symbol(BTC)
    ex.on_book(0, BID, 400, ASK, 300)
    ex.place(0, 1, "ice", Side.BUY, BID, 600, True, iceberg_qty=200)
    o = ex.orders["ice"]
    ex.on_trade(0, BID, 600, -1)  # 400 ahead, the slice of 200; the refill joins behind the market's 400
    assert (o.filled, o.shown, o.queue, o.seen) == (200, 200, 400, 400)
    ex.on_book(0, BID, 400, ASK, 300)  # nothing changed at the level: the queue stays
    assert o.queue == 400
    ex.on_book(0, BID, 100, ASK, 300)  # 300 left the level unexplained by trades: most from ahead of us
    assert 0 <= o.queue < 400


def test_binance_refuses_an_icebergqty_as_it_does() -> None:
    ex = exchange()
    r = ex.place(0, 1, "a", Side.BUY, BID, 1_000, True, iceberg_qty=50)  # 20 parts, the limit is 10
    assert (r.accepted, r.code, r.message) == (False, -1013, "Filter failure: ICEBERG_PARTS")
    r = ex.place(0, 1, "b", Side.BUY, BID, 1_000, True, iceberg_qty=1_000)
    assert (r.code, r.message) == (-2010, "IcebergQty exceeds QTY.")
    r = ex.place(0, 1, "c", Side.BUY, BID, 1_000, False, tif=TIF_IOC, iceberg_qty=300)
    assert (r.code, r.message) == (-2010, "Unsupported order combination")
    r = ex.place(0, 1, "d", Side.BUY, 0, 1_000, False, market=True, iceberg_qty=300)
    assert (r.code, r.message) == (-2010, "Unsupported order combination")
    assert ex.place(0, 1, "e", Side.BUY, BID, 1_000, True, iceberg_qty=100).accepted  # 10 parts: the limit
    assert not ex.orders.keys() - {"e"}
