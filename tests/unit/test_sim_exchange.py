"""The simulated exchange's matching core: Binance's answers, both fill models, fees, balances."""

from decimal import Decimal

import pytest

from liqkit.domain.rules import default_rules
from liqkit.domain.types import Side
from liqkit.venues.sim.exchange import SimExchange

BTC = default_rules("BTCUSDT")


def make(model: str = "realistic", maker: int = 0) -> SimExchange:
    ex = SimExchange(model, maker, 0, {"BTC": Decimal(1), "USDT": Decimal(100_000)})
    ex.add_symbol(BTC)
    ex.on_book(0, 6_000_000, 50_000, 6_000_002, 50_000)
    return ex


def test_post_only_that_would_cross_is_rejected_like_binance():
    ex = make()
    r = ex.place(0, 1, "lq.a", Side.BUY, 6_000_002, 100, True)
    assert (r.accepted, r.code, r.message) == (False, -2010, "Order would immediately match and take.")
    assert ex.balances()["USDT"] == (Decimal(100_000), Decimal(0))


def test_filters_answer_minus_1013_with_the_filter_name():
    ex = make()
    assert ex.place(0, 1, "a", Side.BUY, 5_000_000, 10, True).message == "Filter failure: NOTIONAL"
    # 1,000 USDT for 1 BTC is far below 0.2 x the mid: the 2021 rules' PERCENT_PRICE filter
    assert ex.place(0, 1, "b", Side.BUY, 100_000, 100_000, True).message == "Filter failure: PERCENT_PRICE"
    r = ex.place(0, 1, "c", Side.BUY, 6_000_000, 0, True)
    assert (r.code, r.message) == (-1013, "Filter failure: LOT_SIZE")


def test_insufficient_balance_and_locking():
    ex = make()
    assert ex.place(0, 1, "big", Side.BUY, 5_999_000, 200_000, True).message.startswith(
        "Account has insufficient balance"
    )
    assert ex.place(0, 1, "ok", Side.BUY, 5_999_000, 100_000, True).accepted  # 1 BTC at 59,990
    free, locked = ex.balances()["USDT"]
    assert locked == Decimal("59990") and free == Decimal("40010")
    assert ex.cancel("ok") and not ex.cancel("ok")
    assert ex.balances()["USDT"] == (Decimal(100_000), Decimal(0))


def test_trade_through_fills_whole_on_any_trade_at_or_through_the_price():
    ex = make("trade-through")
    ex.place(0, 1, "b", Side.BUY, 5_999_998, 100, True)
    ex.place(0, 1, "s", Side.SELL, 6_000_004, 100, True)
    assert ex.on_trade(0, 5_999_999, 1, -1) == []
    fills = ex.on_trade(0, 5_999_998, 1, -1)  # a tiny trade at our price fills us whole
    assert [(f.client_id, f.qty, f.price) for f in fills] == [("b", 100, 5_999_998)]
    assert [f.client_id for f in ex.on_trade(0, 6_000_010, 1, 1)] == ["s"]
    assert ex.balances()["BTC"] == (Decimal(1), Decimal(0))  # bought 0.001, sold 0.001


def test_realistic_queue_partial_fills_and_book_cross():
    ex = make("realistic")
    ex.place(0, 1, "b", Side.BUY, 6_000_000, 1_000, True)  # joins 50,000 steps at the bid
    assert ex.on_trade(0, 6_000_000, 30_000, -1) == []  # queue ahead trades first
    fills = ex.on_trade(0, 6_000_000, 20_400, -1)  # 20,000 clears the queue, 400 reach us
    assert [(f.qty, f.is_maker) for f in fills] == [(400, True)]
    fills = ex.on_trade(0, 5_999_990, 250, -1)  # through our price: up to the trade's size
    assert [f.qty for f in fills] == [250]
    fills = ex.on_book(0, 5_999_990, 10, 6_000_000, 10)  # the ask comes down to our bid: filled whole
    assert [f.qty for f in fills] == [350]
    assert ex.open_orders() == []


def test_maker_fee_in_quote_is_exact():
    ex = make("trade-through", maker=10)  # 10 bps
    ex.place(0, 1, "s", Side.SELL, 6_000_004, 1_000, True)  # 0.01 BTC at 60,000.04
    (f,) = ex.on_trade(0, 6_000_004, 1, 1)
    assert f.fee_nu == 6_000_004 * 1_000 * 100_000
    free, _ = ex.balances()["USDT"]
    assert free == Decimal(100_000) + Decimal("600.0004") - Decimal("0.60000040")


def test_cancel_all_spares_other_peoples_orders_when_own_only():
    ex = make()
    ex.place(0, 1, "lq.BTCUSDT.B0.x.1", Side.BUY, 5_999_000, 100, True)
    ex.place(0, 1, "manual-1", Side.BUY, 5_998_000, 100, True)
    assert ex.cancel_all(0, own_only=True) == ["lq.BTCUSDT.B0.x.1"]
    assert [o.client_id for o in ex.open_orders()] == ["manual-1"]
    assert ex.cancel_all(0, own_only=False) == ["manual-1"]


def test_unknown_fill_model_is_refused():
    with pytest.raises(ValueError, match="fill_model"):
        SimExchange("magic")
