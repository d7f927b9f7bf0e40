"""OCO order lists at the simulated exchange (``SimExchange.place_oco``): Binance's refusals, the stop leg's
trigger on a trade (a MARKET walk through the book, taker fees), the take-profit's first fill expiring the
stop, cancels (of the list, of either leg, of all), and exact balances."""

from __future__ import annotations

from decimal import Decimal

import pytest

from liqkit.domain.rules import default_rules
from liqkit.domain.types import OrderStatus, RejectReason, Side
from liqkit.venues.sim.exchange import DEPTH_SNAPSHOT, FEE_SCALE, SimExchange

BTC = default_rules("BTCUSDT")
D = Decimal
EXPIRED, CANCELED = OrderStatus.EXPIRED, OrderStatus.CANCELED
BID, ASK = 6_000_000, 6_000_002  # 60,000.00 / 60,000.02
START = {"BTC": D(1), "USDT": D(100_000)}


def make(model: str = "realistic", taker_bps: int = 0, balances: dict[str, Decimal] | None = None) -> SimExchange:
    ex = SimExchange(model, 0, taker_bps, dict(START if balances is None else balances))
    ex.add_symbol(BTC)
    ex.on_book(0, BID, 50_000, ASK, 50_000)
    return ex


def totals(ex: SimExchange) -> dict[str, Decimal]:
    return {a: free + locked for a, (free, locked) in ex.balances().items()}


def sell_list(ex: SimExchange, qty: int = 1_000, tp: int = 6_000_100, stop: int = 5_999_900, n: str = "1"):
    return ex.place_oco(0, 1, f"lq.L{n}", f"lq.tp{n}", f"lq.sl{n}", Side.SELL, qty, tp, stop)


def buy_list(ex: SimExchange, qty: int = 1_000, tp: int = 5_999_900, stop: int = 6_000_100, n: str = "1"):
    return ex.place_oco(0, 1, f"lq.L{n}", f"lq.tp{n}", f"lq.sl{n}", Side.BUY, qty, tp, stop)


def refused(r) -> tuple[bool, int, str]:
    return r.accepted, r.code, r.message


# ---- placing and refusals ---------------------------------------------------------------------------------
def test_a_sell_list_rests_its_take_profit_locks_its_base_once_and_waits_its_stop():
    ex = make()
    r = sell_list(ex)
    assert r.accepted and r.status is OrderStatus.NEW
    assert [(o.client_id, o.side, o.price, o.qty) for o in ex.open_orders(0)] == [
        ("lq.tp1", Side.SELL, 6_000_100, 1_000)
    ]
    (lst,) = ex.open_lists(0)
    assert (lst.list_id, lst.tp_id, lst.sl_id, lst.waiting, lst.tp is not None) == (
        "lq.L1",
        "lq.tp1",
        "lq.sl1",
        True,
        True,
    )
    assert ex.balances()["BTC"] == (D("0.99"), D("0.01"))  # 1,000 steps of 0.00001, held once
    assert ex.balances()["USDT"] == (D(100_000), D(0))
    assert (ex.n_placed, ex.next_order_id) == (2, 3)  # two orders, two ids
    assert ex.take_events() == []


def test_a_buy_list_locks_quantity_times_the_stop_its_dearer_leg():
    ex = make()
    assert buy_list(ex, qty=1_000, tp=5_999_900, stop=6_000_100).accepted
    # 0.01 BTC x 60,001.00 = 600.01 USDT held: 599.99 by the take-profit leg, 0.02 by the list for its stop
    assert ex.balances()["USDT"] == (D("99399.99"), D("600.01"))
    assert ex.balances()["BTC"] == (D(1), D(0))
    assert totals(ex) == {"BTC": D(1), "USDT": D(100_000)}


def test_known_client_ids_are_duplicates():
    ex = make()
    assert ex.place(0, 1, "lq.plain", Side.BUY, 5_999_000, 1_000, True).accepted
    assert sell_list(ex).accepted
    dup = (False, -2010, "Duplicate order sent.")
    assert refused(ex.place_oco(0, 1, "lq.L1", "lq.a", "lq.b", Side.SELL, 1_000, 6_000_100, 5_999_900)) == dup
    assert refused(ex.place_oco(0, 1, "lq.L2", "lq.plain", "lq.b", Side.SELL, 1_000, 6_000_100, 5_999_900)) == dup
    assert refused(ex.place_oco(0, 1, "lq.L2", "lq.a", "lq.sl1", Side.SELL, 1_000, 6_000_100, 5_999_900)) == dup
    assert refused(ex.place_oco(0, 1, "lq.L2", "lq.a", "lq.a", Side.SELL, 1_000, 6_000_100, 5_999_900)) == dup
    # a waiting stop leg's id is known to a plain order too
    assert refused(ex.place(0, 1, "lq.sl1", Side.BUY, 5_999_000, 1_000, True)) == dup
    assert ex.n_rejected == 5


@pytest.mark.parametrize(
    ("qty", "tp", "stop", "failed"),
    [
        (1_000, 6_000_100, 0, "PRICE_FILTER"),  # the stop leg's price
        (1_000, 100_000_001, 5_999_900, "PRICE_FILTER"),  # the take-profit's
        (0, 6_000_100, 5_999_900, "LOT_SIZE"),
        (10, 6_000_100, 5_999_900, "NOTIONAL"),  # 0.0001 BTC: 6 USDT, below 10
        (1_000, 30_000_100, 5_999_900, "PERCENT_PRICE"),  # the take-profit far above 5x the mid
    ],
)
def test_a_leg_breaking_a_filter_is_minus_1013_naming_it(qty, tp, stop, failed):
    ex = make()
    r = sell_list(ex, qty=qty, tp=tp, stop=stop)
    assert refused(r) == (False, -1013, f"Filter failure: {failed}") and r.reason is RejectReason.FILTER
    assert ex.open_lists() == [] and ex.balances()["BTC"] == (D(1), D(0))


def test_prices_on_the_wrong_side_of_the_last_trade_are_refused():
    ex = make()
    bad = (False, -2010, "The relationship of the prices for the orders is not correct.")
    # before any trade the mid (60,000.01) stands for the last price
    assert refused(sell_list(ex, tp=6_000_100, stop=6_000_001)) == bad  # stop at the mid
    assert refused(buy_list(ex, tp=6_000_001, stop=6_000_100)) == bad
    assert refused(sell_list(ex, tp=5_999_950, stop=5_999_900)) == bad  # take-profit below the mid
    ex.on_trade(0, 5_999_800, 1, -1)  # the last price is now 59,998.00
    assert refused(sell_list(ex, tp=6_000_100, stop=5_999_900)) == bad  # the stop above the last price
    assert sell_list(ex, tp=6_000_100, stop=5_999_700).accepted


def test_a_take_profit_that_would_take_is_refused_as_a_limit_maker():
    ex = make()
    ex.on_trade(0, 5_999_000, 1, -1)  # a trade far below the bid: the price relation allows a low take-profit
    r = sell_list(ex, tp=5_999_500, stop=5_998_000)  # above the last price, but at or below the bid (60,000.00)
    assert refused(r) == (False, -2010, "Order would immediately match and take.")
    assert r.reason is RejectReason.WOULD_CROSS
    assert ex.open_orders() == [] and ex.balances()["BTC"] == (D(1), D(0))


def test_a_list_the_balance_cannot_hold_is_refused():
    ex = make(balances={"BTC": D("0.005"), "USDT": D(600)})
    short = (False, -2010, "Account has insufficient balance for requested action.")
    assert refused(sell_list(ex, qty=1_000)) == short  # 0.01 BTC, 0.005 held
    # a BUY list needs qty x stop: 600.01 USDT, though its take-profit alone would need 599.99
    r = buy_list(ex, qty=1_000, tp=5_999_900, stop=6_000_100)
    assert refused(r) == short and r.reason is RejectReason.BALANCE
    assert buy_list(ex, qty=999, tp=5_999_900, stop=6_000_100).accepted


# ---- the stop's trigger -----------------------------------------------------------------------------------
def depth_book(ex: SimExchange, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
    """An L2 book (the top first on each side) and its top."""
    rows = [(1, p, q) for p, q in bids] + [(-1, p, q) for p, q in asks]
    for i, (side, p, q) in enumerate(rows):
        ex.on_depth(0, DEPTH_SNAPSHOT if i == 0 else 0, side, p, q)
    ex.on_book(0, bids[0][0], bids[0][1], asks[0][0], asks[0][1])


def test_a_trade_at_a_sell_lists_stop_expires_the_take_profit_and_sells_through_the_book():
    ex = make(taker_bps=10)
    depth_book(ex, [(6_000_000, 300), (5_999_990, 300), (5_999_980, 5_000)], [(6_000_002, 50_000)])
    assert sell_list(ex, qty=1_000, tp=6_000_100, stop=5_999_995).accepted
    assert ex.on_trade(0, 5_999_996, 7, -1) == []  # above the stop: nothing
    fills = ex.on_trade(0, 5_999_995, 7, -1)  # at the stop: triggered
    assert [(f.client_id, f.price, f.qty, f.is_maker) for f in fills] == [
        ("lq.sl1", 6_000_000, 300, False),
        ("lq.sl1", 5_999_990, 300, False),
        ("lq.sl1", 5_999_980, 400, False),
    ]
    assert [f.fee_nu for f in fills] == [
        p * q * 100_000 for p, q in ((6_000_000, 300), (5_999_990, 300), (5_999_980, 400))
    ]
    assert ex.take_events() == [(0, "lq.tp1", EXPIRED, 0)]
    assert ex.open_orders() == [] and ex.open_lists() == []
    notional = D(6_000_000 * 300 + 5_999_990 * 300 + 5_999_980 * 400) / 10_000_000  # USDT
    fee = sum(D(f.fee_nu) for f in fills) / FEE_SCALE / 10_000_000
    assert ex.balances()["BTC"] == (D("0.99"), D(0))
    assert ex.balances()["USDT"] == (D(100_000) + notional - fee, D(0))
    assert ex.take_events() == []  # drained
    assert ex.on_trade(0, 5_999_000, 7, -1) == []  # the list is done


def test_a_trade_at_a_buy_lists_stop_buys_through_the_book_and_what_it_cannot_fill_expires():
    ex = make(taker_bps=10)
    depth_book(ex, [(6_000_000, 50_000)], [(6_000_002, 200), (6_000_010, 500)])  # 700 steps offered in all
    assert buy_list(ex, qty=1_000, tp=5_999_900, stop=6_000_005).accepted
    before = totals(ex)
    fills = ex.on_trade(0, 6_000_006, 3, 1)  # at or above the stop
    assert [(f.client_id, f.price, f.qty, f.is_maker) for f in fills] == [
        ("lq.sl1", 6_000_002, 200, False),
        ("lq.sl1", 6_000_010, 500, False),
    ]
    assert ex.take_events() == [(0, "lq.tp1", EXPIRED, 0), (0, "lq.sl1", EXPIRED, 700)]
    cost = D(6_000_002 * 200 + 6_000_010 * 500) / 10_000_000
    fee = sum(D(f.fee_nu) for f in fills) / FEE_SCALE / 10_000_000
    assert ex.balances()["BTC"] == (D("1.007"), D(0))
    assert ex.balances()["USDT"] == (before["USDT"] - cost - fee, D(0))  # the list's lock all released
    assert ex.open_lists() == [] and ex.open_orders() == []


def test_a_trigger_with_no_book_to_take_expires_the_stop_leg_unfilled():
    ex = make()
    ex.on_book(0, 0, 0, ASK, 50_000)  # no bids at all
    ex.on_trade(0, 6_000_001, 1, 1)  # the last price, which the list's prices are checked against
    assert sell_list(ex, tp=6_000_100, stop=5_999_900).accepted
    rejected, expired = ex.n_rejected, ex.n_expired
    assert ex.on_trade(0, 5_999_900, 1, -1) == []
    assert ex.take_events() == [(0, "lq.tp1", EXPIRED, 0), (0, "lq.sl1", EXPIRED, 0)]
    assert (ex.n_rejected, ex.n_expired) == (rejected, expired + 2)  # two legs expired, nothing refused
    assert ex.balances()["BTC"] == (D(1), D(0))


def test_only_trades_trigger_a_stop_not_book_rows():
    ex = make()
    assert sell_list(ex, tp=6_000_100, stop=5_999_900).accepted
    assert not ex.quiet_trade(0, 5_999_900) and ex.quiet_trade(0, 5_999_901)  # the driver must show it
    assert ex.on_book(0, 5_999_000, 100, 5_999_002, 100) == []  # the book far below the stop: no trigger
    assert ex.take_events() == [] and len(ex.open_lists()) == 1


# ---- the take-profit's fill -------------------------------------------------------------------------------
def test_a_take_profits_partial_fill_expires_the_stop_and_the_rest_stays_open():
    ex = make()
    assert sell_list(ex, qty=1_000, tp=6_000_100, stop=5_999_900).accepted
    fills = ex.on_trade(0, 6_000_101, 300, 1)  # a buyer through our price: up to its quantity
    assert [(f.client_id, f.qty, f.is_maker) for f in fills] == [("lq.tp1", 300, True)]
    assert ex.take_events() == [(0, "lq.sl1", EXPIRED, 0)]
    (lst,) = ex.open_lists()  # the take-profit leg still rests: the list is open until it ends
    assert (lst.waiting, lst.tp is not None) == (False, True)
    assert ex.on_trade(0, 5_999_000, 10, -1) == []  # the stop is gone
    assert ex.cancel_list("lq.L1")
    assert ex.take_events() == [(0, "lq.tp1", CANCELED, 300)]
    assert ex.open_lists() == [] and ex.balances()["BTC"] == (D("0.997"), D(0))


def test_a_book_through_the_take_profit_fills_it_and_ends_the_list():
    ex = make()
    assert buy_list(ex, qty=1_000, tp=5_999_900, stop=6_000_100).accepted
    fills = ex.on_book(0, 5_999_800, 10, 5_999_900, 10)  # the ask down to our bid
    assert [(f.client_id, f.price, f.qty) for f in fills] == [("lq.tp1", 5_999_900, 1_000)]
    assert ex.take_events() == [(0, "lq.sl1", EXPIRED, 0)]
    assert ex.open_lists() == [] and not ex.cancel_list("lq.L1")
    assert ex.balances()["BTC"] == (D("1.01"), D(0))
    assert ex.balances()["USDT"] == (D(100_000) - D("599.99"), D(0))  # the stop's share released


def test_a_taker_of_ours_filling_the_take_profit_expires_the_stop():
    ex = make()
    assert sell_list(ex, qty=1_000, tp=6_000_100, stop=5_999_900).accepted
    ex.on_book(0, BID, 50_000, 6_000_200, 50_000)  # our take-profit is the best ask now
    r = ex.place(0, 2, "lq.buy", Side.BUY, 6_000_100, 400, False)
    assert [(f.client_id, f.qty) for f in r.maker_fills] == [("lq.tp1", 400)]
    assert ex.take_events() == [(0, "lq.sl1", EXPIRED, 0)]
    assert len(ex.open_lists()) == 1  # 600 steps of the take-profit rest on


# ---- cancels ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("named", "other"), [("lq.tp1", "lq.sl1"), ("lq.sl1", "lq.tp1")])
def test_a_cancel_of_either_leg_cancels_the_list(named, other):
    ex = make()
    assert buy_list(ex).accepted
    assert ex.cancel(named)
    assert ex.take_events() == [(0, other, CANCELED, 0)]  # the caller reports the one it named
    assert ex.open_lists() == [] and ex.open_orders() == []
    assert ex.balances()["USDT"] == (D(100_000), D(0))
    assert not ex.cancel(named) and not ex.cancel(other) and not ex.cancel_list("lq.L1")
    assert ex.n_cancelled == 2


def test_cancel_list_cancels_both_legs_and_an_unknown_list_is_false():
    ex = make()
    assert not ex.cancel_list("lq.nope")
    assert sell_list(ex).accepted
    assert ex.cancel_list("lq.L1")
    assert ex.take_events() == [(0, "lq.tp1", CANCELED, 0), (0, "lq.sl1", CANCELED, 0)]
    assert not ex.cancel_list("lq.L1")
    assert ex.balances()["BTC"] == (D(1), D(0)) and ex.quiet_trade(0, 5_999_000)


def test_cancel_all_cancels_the_symbols_lists_with_its_orders():
    ex = make()
    assert ex.place(0, 1, "lq.plain", Side.BUY, 5_999_000, 1_000, True).accepted
    assert sell_list(ex, n="1").accepted
    assert ex.place_oco(0, 1, "theirs", "their-tp", "their-sl", Side.SELL, 1_000, 6_000_200, 5_999_800).accepted
    assert ex.cancel_all(0, own_only=True) == ["lq.plain", "lq.tp1", "lq.sl1"]
    assert [x.list_id for x in ex.open_lists()] == ["theirs"]
    assert ex.cancel_all(0, own_only=False) == ["their-tp", "their-sl"]
    assert ex.take_events() == []  # the ids are the answer
    assert ex.balances() == {"BTC": (D(1), D(0)), "USDT": (D(100_000), D(0))}


# ---- balances and the hot path ----------------------------------------------------------------------------
def test_balances_are_conserved_through_a_lists_life():
    ex = make(taker_bps=0)
    assert buy_list(ex, qty=2_000, tp=5_999_900, stop=6_000_100).accepted
    assert totals(ex) == {"BTC": D(1), "USDT": D(100_000)}
    fills = ex.on_trade(0, 5_999_899, 500, -1)  # a seller through our take-profit: 500 steps
    assert [f.qty for f in fills] == [500]
    # 0.005 BTC bought at 59,999.00; what is held is the rest of the take-profit leg only
    assert ex.balances()["BTC"] == (D("1.005"), D(0))
    assert ex.balances()["USDT"] == (D(100_000) - D("299.995") - D("899.985"), D("899.985"))
    assert totals(ex)["USDT"] == D(100_000) - D("299.995")
    assert ex.cancel("lq.tp1")
    assert ex.balances()["USDT"] == (D(100_000) - D("299.995"), D(0))


def test_with_no_list_trades_answer_as_before():
    def run(ex: SimExchange) -> list[str]:
        assert ex.place(0, 1, "b", Side.BUY, BID, 1_000, True).accepted
        assert ex.place(0, 1, "s", Side.SELL, ASK, 1_000, True).accepted
        out = [repr(ex.on_trade(0, p, q, a)) for p, q, a in [(BID, 50_500, -1), (ASK + 5, 300, 1), (5_999_000, 9, -1)]]
        return [*out, repr(ex.balances()), repr(ex.take_events())]

    plain = make()
    with_one = make()
    assert sell_list(with_one, tp=6_000_500, stop=5_990_000).accepted and with_one.cancel_list("lq.L1")
    with_one.take_events()
    with_one.next_order_id = plain.next_order_id  # ids aside, the two exchanges are alike
    assert run(with_one) == run(plain)
