"""OCO order lists through the virtual-time ``Timeline`` (the backtest's and the replay's exchange side): a
``PlaceOco`` and a ``CancelList`` answer as Binance does, and what the exchange does to the legs (a trigger,
a take-profit's fill, a cancel of one leg) reaches the engine as user-stream events, in order, with the
latency."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from liqkit.domain.rules import default_rules
from liqkit.domain.types import BalanceUpdate, OrderStatus, RejectReason, Side
from liqkit.engine.execution import NOT_OPEN, OK, REFUSED
from liqkit.engine.intents import Cancel, CancelList, Place, PlaceOco
from liqkit.engine.latency import CANCEL, PLACE, ConstantLatency
from liqkit.venues.sim.exchange import SimExchange
from liqkit.venues.sim.timeline import ANSWER, ARRIVE, EVENT, REPORT, OrderEvent, Timeline, request_kind

L = 2_000_000  # 2 ms each way
SYM = "BTCUSDT"
SELL = PlaceOco(SYM, "lq.L1", Side.SELL, 1_000, 6_000_100, 5_999_900, "lq.tp1", "lq.sl1")
BUY = PlaceOco(SYM, "lq.L2", Side.BUY, 1_000, 5_999_900, 6_000_100, "lq.tp2", "lq.sl2")


def timeline() -> Timeline:
    ex = SimExchange("realistic", 0, 10, {"BTC": Decimal(1), "USDT": Decimal(100_000)})
    ex.add_symbol(default_rules(SYM))
    ex.on_book(0, 6_000_000, 300, 6_000_002, 300)
    return Timeline(ex, ConstantLatency(L), report_ns=1_000_000_000)


def heard(tl: Timeline, until: int) -> list[tuple[Any, ...]]:
    """Process the timeline up to ``until``: what the engine hears, as (time, what, ...)."""
    out: list[tuple[Any, ...]] = []
    while (item := tl.take(until)) is not None:
        t, kind, payload = item
        if kind == ARRIVE:
            tl.arrive(payload[0], t, payload[1])
        elif kind == ANSWER:
            _req, o, token = payload
            out.append((t, "answer", token, o.kind, o.text, o.reason))
        elif kind == EVENT and type(payload) is tuple:
            out.append((t, "fills", [(f.client_id, f.price, f.qty, f.is_maker) for f in payload[2]]))
        elif kind == EVENT and type(payload) is OrderEvent:
            assert payload.symbol == SYM
            out.append((t, "order", payload.client_id, payload.status, payload.filled, payload.ts_exchange))
        elif kind == EVENT:
            assert type(payload) is BalanceUpdate
            out.append((t, "balances", {b.asset: (b.free, b.locked) for b in payload.balances}))
        elif kind == REPORT:
            tl.report(t)
    return out


def test_a_list_is_placed_with_one_answer_and_its_trigger_is_heard_after_the_latency():
    tl = timeline()
    tl.submit(SELL, 0, "place")
    assert heard(tl, 10 * L) == [(2 * L, "answer", "place", OK, "", RejectReason.OTHER)]  # DONE: both legs NEW
    assert [x.list_id for x in tl.exchange.open_lists()] == ["lq.L1"]
    tl.now = t = 100 * L
    tl.trade(0, t, 5_999_900, 5, -1)  # at the stop: the stop leg sells 1,000 steps into the book
    assert heard(tl, t + 10 * L) == [
        (t + L, "fills", [("lq.sl1", 6_000_000, 300, False)]),  # 300 at the top, the rest expired
        (t + L, "order", "lq.tp1", OrderStatus.EXPIRED, 0, t),
        (t + L, "order", "lq.sl1", OrderStatus.EXPIRED, 300, t),
    ]
    tl.now = t = 200 * L
    tl.trade(0, t, 5_999_000, 5, -1)
    assert heard(tl, t + 10 * L) == []  # the list is done


def test_a_refused_list_answers_refused_with_binances_code_and_message():
    tl = timeline()
    bad = PlaceOco(SYM, "lq.L3", Side.SELL, 1_000, 6_000_100, 6_000_050, "lq.tp3", "lq.sl3")  # stop above the mid
    tl.submit(bad, 0, "bad")
    tl.submit(PlaceOco(SYM, "lq.L4", Side.BUY, 10, 5_999_900, 6_000_100, "lq.tp4", "lq.sl4"), 0, "small")
    assert heard(tl, 10 * L) == [
        (
            2 * L,
            "answer",
            "bad",
            REFUSED,
            "[-2010] The relationship of the prices for the orders is not correct.",
            RejectReason.OTHER,
        ),
        (2 * L, "answer", "small", REFUSED, "[-1013] Filter failure: NOTIONAL", RejectReason.FILTER),
    ]
    assert tl.exchange.open_lists() == []


def test_cancel_list_is_done_then_each_legs_canceled_and_an_unknown_list_is_not_open():
    tl = timeline()
    tl.submit(BUY, 0, "place")
    tl.submit(CancelList(SYM, "lq.L2"), 10 * L, "cancel")
    tl.submit(CancelList(SYM, "lq.L2"), 20 * L, "again")
    got = heard(tl, 30 * L)
    assert got == [
        (2 * L, "answer", "place", OK, "", RejectReason.OTHER),
        (12 * L, "answer", "cancel", OK, "", RejectReason.OTHER),
        (12 * L, "order", "lq.tp2", OrderStatus.CANCELED, 0, 11 * L),
        (12 * L, "order", "lq.sl2", OrderStatus.CANCELED, 0, 11 * L),
        (22 * L, "answer", "again", NOT_OPEN, "[-2011] Unknown order list sent.", RejectReason.OTHER),
    ]
    assert tl.exchange.balances()["USDT"] == (Decimal(100_000), Decimal(0))
    got = heard(tl, 2_000 * L)  # the balance report the list's changes asked for
    assert got == [
        (L + 1_000_000_000 + L, "balances", {"BTC": (Decimal(1), Decimal(0)), "USDT": (Decimal(100_000), Decimal(0))})
    ]


def test_a_cancel_of_the_stop_leg_cancels_the_list_and_the_take_profits_canceled_follows():
    tl = timeline()
    tl.submit(SELL, 0, "place")
    tl.submit(Cancel(SYM, "lq.sl1"), 10 * L, "cancel")
    assert heard(tl, 20 * L) == [
        (2 * L, "answer", "place", OK, "", RejectReason.OTHER),
        (12 * L, "answer", "cancel", OK, "", RejectReason.OTHER),
        (12 * L, "order", "lq.sl1", OrderStatus.CANCELED, 0, 11 * L),
        (12 * L, "order", "lq.tp1", OrderStatus.CANCELED, 0, 11 * L),
    ]
    assert tl.exchange.open_lists() == [] and tl.exchange.open_orders() == []


def test_a_taker_of_ours_filling_the_take_profit_is_heard_with_the_stops_expiry():
    tl = timeline()
    tl.exchange.on_book(0, 5_999_990, 300, 6_000_200, 300)  # the take-profit (60,001.00) will be the best ask
    tl.submit(SELL, 0, "place")
    tl.submit(Place(SYM, "lq.buy", Side.BUY, 6_000_100, 400, False, 0, ioc=True), 10 * L, "buy")
    assert heard(tl, 20 * L) == [
        (2 * L, "answer", "place", OK, "", RejectReason.OTHER),
        (12 * L, "answer", "buy", OK, "", RejectReason.OTHER),
        (12 * L, "fills", [("lq.buy", 6_000_100, 400, False), ("lq.tp1", 6_000_100, 400, True)]),
        (12 * L, "order", "lq.sl1", OrderStatus.EXPIRED, 0, 11 * L),
    ]


def test_the_latency_models_kinds():
    assert request_kind(SELL) == PLACE and request_kind(CancelList(SYM, "lq.L1")) == CANCEL
