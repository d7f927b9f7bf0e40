"""OCO order lists on ``SimVenue`` (``liqkit run``'s simulated exchange): ``place_oco`` and
``cancel_order_list`` answer as Binance does, and the legs' life is on the user stream as Binance's
executionReports tell it: NEW for both legs, the stop's fills when a trade of the feed triggers it, the
take-profit's EXPIRED, CANCELED on a cancel, and the balances after."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from processes import until

from liqkit.data.feed import MarketData
from liqkit.domain.config import SimConfig
from liqkit.domain.errors import OrderRejected, UnknownOrderError
from liqkit.domain.rules import default_rules
from liqkit.domain.types import BalanceUpdate, OrderStatus, RejectReason, Side
from liqkit.engine.intents import PlaceOco
from liqkit.engine.ports import UserFill, UserOrder
from liqkit.venues.sim.venue import SimVenue

D = Decimal
SYM = "BTCUSDT"
BTC = default_rules(SYM)
BID, ASK = 6_000_000, 6_000_002
T0 = 1_704_067_200_000_000_000
SELL = PlaceOco(SYM, "lq.L1", Side.SELL, 1_000, 6_000_100, 5_999_900, "lq.tp1", "lq.sl1")


def feed() -> MarketData:
    """One book row (60000.00 x 0.003 BTC / 60000.02 x 0.5 BTC), a trade at 60000.01, and 0.1 s later a
    seller's trade at 59999.00, which reaches a SELL list's stop at 59999.00."""
    one = np.array([T0], dtype=np.int64)
    book = {"ts_local": one, "ts_exchange": one, "bid": [BID], "bid_qty": [300], "ask": [ASK], "ask_qty": [50_000]}
    tts = np.array([T0 + 1_000_000, T0 + 100_000_000], dtype=np.int64)
    trades = {
        "ts_local": tts,
        "ts_exchange": tts,
        "price": [6_000_001, 5_999_900],
        "qty": [1, 1],
        "aggressor": [1, -1],
        "trade_id": [1, 2],
    }
    return MarketData.from_columns(BTC, book, trades, "oco")


def venue(data: dict[str, MarketData] | None = None) -> SimVenue:
    cfg = SimConfig(latency_ms=0, taker_fee_bps=D(10), balances={"BTC": D(1), "USDT": D(100_000)})
    return SimVenue([SYM], cfg, data=data)


def user_events(v: SimVenue) -> list[Any]:
    out = []
    while not v._queue.empty():
        ev = v._queue.get_nowait()
        if isinstance(ev, UserFill | UserOrder | BalanceUpdate):
            out.append(ev)
    return out


def shape(events: list[Any]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for ev in events:
        if isinstance(ev, UserFill):
            out.append(("fill", ev.client_id, ev.price, ev.qty, ev.is_maker, ev.fee))
        elif isinstance(ev, UserOrder):
            out.append(("order", ev.client_id, ev.status, ev.filled))
        else:
            out.append(("balances", {b.asset: (b.free, b.locked) for b in ev.balances}))
    return out


def test_a_list_placed_on_the_feed_triggers_and_the_stream_tells_each_leg():
    async def main() -> None:
        v = venue({SYM: feed()})
        await v.start()
        v.pause_feed()  # the feed task has not run yet: nothing plays until it resumes
        ex = v.exchange
        try:
            ex.on_book(0, BID, 300, ASK, 50_000)
            ex.on_trade(0, 6_000_001, 1, 1)  # the last price the list's prices are checked against
            await v.place_oco(SELL)
            placed = shape(user_events(v))
            assert placed == [
                ("order", "lq.sl1", OrderStatus.NEW, 0),  # the leg below the market first, as Binance lists them
                ("order", "lq.tp1", OrderStatus.NEW, 0),
                ("balances", {"BTC": (D("0.99"), D("0.01")), "USDT": (D(100_000), D(0))}),
            ]
            got: list[Any] = []

            def ended() -> bool:
                got.extend(user_events(v))
                return any(isinstance(e, UserOrder) and e.client_id == "lq.sl1" for e in got)

            v.resume_feed()
            await until(ended, 60, "the stop leg's end")
            fee = D(6_000_000 * 300) / 10_000_000 * D("0.001")  # 10 bps of 180 USDT
            left = {"BTC": (D("0.997"), D(0)), "USDT": (D(100_000) + D(180) - fee, D(0))}
            assert shape(got) == [
                ("fill", "lq.sl1", BID, 300, False, fee),  # the book's 300 steps at the bid, a taker
                ("balances", left),
                ("order", "lq.tp1", OrderStatus.EXPIRED, 0),
                ("order", "lq.sl1", OrderStatus.EXPIRED, 300),  # the rest the book could not fill
                ("balances", left),
            ]
            assert ex.open_lists() == [] and await v.open_orders(SYM) == []
        finally:
            await v.close()

    asyncio.run(main())


def test_refusals_raise_order_rejected_with_binances_code_and_an_unknown_list_is_unknown():
    async def main() -> None:
        v = venue()
        v._rules[SYM] = BTC
        v.exchange.add_symbol(BTC)
        v.exchange.on_book(0, BID, 300, ASK, 50_000)
        bad = PlaceOco(SYM, "lq.L2", Side.BUY, 1_000, 6_000_100, 6_000_200, "lq.tp2", "lq.sl2")  # above the mid
        with pytest.raises(OrderRejected) as e:
            await v.place_oco(bad)
        assert str(e.value) == "[-2010] The relationship of the prices for the orders is not correct."
        v.exchange.on_trade(0, 5_999_000, 1, -1)  # a trade far below the bid: a take-profit at 59,995 is above it
        with pytest.raises(OrderRejected) as e:
            await v.place_oco(PlaceOco(SYM, "lq.L3", Side.SELL, 1_000, 5_999_500, 5_998_000, "lq.a", "lq.b"))
        assert e.value.reason is RejectReason.WOULD_CROSS and e.value.would_cross and e.value.code == -2010
        with pytest.raises(UnknownOrderError) as u:
            await v.cancel_order_list(SYM, "lq.nope")
        assert (u.value.code, str(u.value)) == (-2011, "[-2011] Unknown order list sent.")
        assert user_events(v) == []

    asyncio.run(main())


@pytest.mark.parametrize("how", ["list", "stop leg"])
def test_a_cancel_of_the_list_or_a_leg_tells_both_legs_canceled(how):
    async def main() -> None:
        v = venue()
        v._rules[SYM] = BTC
        v.exchange.add_symbol(BTC)
        v.exchange.on_book(0, BID, 300, ASK, 50_000)
        buy = PlaceOco(SYM, "lq.L4", Side.BUY, 1_000, 5_999_900, 6_000_100, "lq.tp4", "lq.sl4")
        await v.place_oco(buy)
        assert shape(user_events(v))[:2] == [
            ("order", "lq.tp4", OrderStatus.NEW, 0),  # a BUY list's take-profit is the leg below
            ("order", "lq.sl4", OrderStatus.NEW, 0),
        ]
        query = await v.query_order(SYM, "lq.sl4")
        assert query is not None and (query.price, query.qty, query.status) == (6_000_100, 1_000, OrderStatus.NEW)
        if how == "list":
            await v.cancel_order_list(SYM, "lq.L4")
            order = [("lq.tp4", OrderStatus.CANCELED), ("lq.sl4", OrderStatus.CANCELED)]
        else:
            await v.cancel(SYM, "lq.sl4")
            order = [("lq.sl4", OrderStatus.CANCELED), ("lq.tp4", OrderStatus.CANCELED)]
        got = shape(user_events(v))
        assert [(x[1], x[2]) for x in got if x[0] == "order"] == order
        assert got[-1] == ("balances", {"BTC": (D(1), D(0)), "USDT": (D(100_000), D(0))})
        with pytest.raises(UnknownOrderError):
            await v.cancel_order_list(SYM, "lq.L4")

    asyncio.run(main())
