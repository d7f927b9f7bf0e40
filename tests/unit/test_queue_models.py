"""Queue models at the simulated exchange (realistic fills): where a resting order joins the queue at its
price (the top's quantity, or with depth the L2 book's at any level), how trades and the market's
quantity at its price move it under ``risk-averse``, ``prob-power`` and ``prob-log``, and that changing
between the top and the L2 book as the source of that quantity fakes no decrease."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqkit.domain.config import parse_config
from liqkit.domain.errors import ConfigError
from liqkit.domain.rules import default_rules
from liqkit.domain.types import Side
from liqkit.venues.sim.exchange import (
    DEPTH_SNAPSHOT,
    QUEUE_PROB_LOG,
    QUEUE_PROB_POWER,
    SimExchange,
    SimOrder,
    front_share,
)
from liqkit.venues.sim.matching import sim_exchange

BTC = default_rules("BTCUSDT")
D = Decimal
BID, ASK = 6_000_000, 6_000_002
DEEP = 5_999_990  # an L2 bid level 10 ticks below the top
MODELS = ("risk-averse", "prob-power", "prob-log")


def exchange(model: str, depth: bool = True, param: float = 3.0, top_qty: int = 100) -> SimExchange:
    """BTCUSDT, the top BID x ``top_qty`` / ASK x 300; with ``depth`` an L2 book behind it (BID's level
    shows a stale 400 there, DEEP 100, 5,999,980 none)."""
    ex = SimExchange("realistic", 0, 0, {"BTC": D(10), "USDT": D(1_000_000)}, model, param)
    ex.add_symbol(BTC)
    if depth:
        ex.on_depth(0, DEPTH_SNAPSHOT, 1, BID, 400)
        ex.on_depth(0, 0, 1, DEEP, 100)
        ex.on_depth(0, 0, 1, 5_999_970, 250)
        ex.on_depth(0, 0, -1, ASK, 300)
    ex.on_book(0, BID, top_qty, ASK, 300)
    return ex


def order(ex: SimExchange, cid: str = "b") -> SimOrder:
    return ex.orders[cid]


def power_take(front: int, back: int, drop: int, n: float = 3.0) -> int:
    """What prob-power takes from ahead of us, straight from the formula: f(x) = x**n."""
    return math.floor(drop * front**n / (front**n + back**n) + 0.5)


def log_take(front: int, back: int, drop: int) -> int:
    """prob-log's: f(x) = ln(1 + x)."""
    return math.floor(drop * math.log(1 + front) / (math.log(1 + front) + math.log(1 + back)) + 0.5)


def at_the_top_100_ahead_50_behind(model: str, depth: bool = True) -> SimExchange:
    """Our bid joins 100 at the top, then 50 more join behind it."""
    ex = exchange(model, depth)
    assert ex.place(0, 1, "b", Side.BUY, BID, 20, True).accepted
    assert order(ex).queue == 100
    ex.on_book(0, BID, 150, ASK, 300)
    assert order(ex).queue == 100  # an increase joins behind us: nothing changes ahead
    return ex


# ---- the formulas -----------------------------------------------------------------------------------
def test_front_share_is_hftbacktests_probability():
    assert front_share(QUEUE_PROB_POWER, 3.0, 100, 50) == pytest.approx(100**3 / (100**3 + 50**3), rel=1e-12)
    assert front_share(QUEUE_PROB_POWER, 1.0, 30, 10) == pytest.approx(0.75, rel=1e-12)
    log = math.log(101) / (math.log(101) + math.log(51))
    assert front_share(QUEUE_PROB_LOG, 0.0, 100, 50) == pytest.approx(log, rel=1e-12)
    for model in (QUEUE_PROB_POWER, QUEUE_PROB_LOG):
        assert front_share(model, 3.0, 0, 50) == 0.0  # nothing ahead: nothing taken from ahead
        assert front_share(model, 3.0, 50, 0) == 1.0  # nothing behind: all of it
    assert front_share(QUEUE_PROB_POWER, 500.0, 1, 10**9) == 0.0  # no overflow
    assert front_share(QUEUE_PROB_POWER, 500.0, 10**9, 1) == 1.0


# ---- a cancel at the level: 100 ahead, 50 behind, 30 cancelled -----------------------------------------
@pytest.mark.parametrize("depth", [True, False])
@pytest.mark.parametrize(("model", "front"), [("risk-averse", 100), ("prob-power", 73), ("prob-log", 84)])
def test_a_cancel_at_the_level_moves_the_front_by_the_models_value(model, front, depth):
    ex = at_the_top_100_ahead_50_behind(model, depth)
    ex.on_book(0, BID, 120, ASK, 300)  # 30 left the level, not by trades
    assert order(ex).queue == front
    assert (
        front
        == {"risk-averse": 100, "prob-power": 100 - power_take(100, 50, 30), "prob-log": 100 - log_take(100, 50, 30)}[
            model
        ]
    )
    # trades at our price take what is ahead of us first, then fill us
    assert ex.on_trade(0, BID, front, -1) == []
    assert order(ex).queue == 0
    (f,) = ex.on_trade(0, BID, 5, -1)
    assert (f.client_id, f.qty, f.price, f.is_maker) == ("b", 5, BID, True)


def test_the_exponent_is_the_models_parameter():
    ex = exchange("prob-power", param=1.0)
    ex.place(0, 1, "b", Side.BUY, BID, 20, True)
    ex.on_book(0, BID, 150, ASK, 300)
    ex.on_book(0, BID, 120, ASK, 300)
    assert order(ex).queue == 100 - round(30 * 100 / 150)  # f(x) = x: in proportion, 20 of the 30


@pytest.mark.parametrize("model", MODELS)
def test_a_decrease_past_what_rests_behind_comes_from_ahead_and_the_front_stays_in_the_level(model):
    ex = at_the_top_100_ahead_50_behind(model)
    ex.on_book(0, BID, 40, ASK, 300)  # 110 gone: at least 60 of them were ahead of us
    take = {"risk-averse": 0, "prob-power": power_take(100, 50, 110), "prob-log": log_take(100, 50, 110)}[model]
    assert order(ex).queue == min(100 - max(take, 110 - 50), 40)  # never more ahead than the level holds
    assert order(ex).queue == {"risk-averse": 40, "prob-power": 2, "prob-log": 40}[model]  # log: 59 by the formula
    ex.on_book(0, BID, 0, ASK, 300)
    assert order(ex).queue == 0


@pytest.mark.parametrize("model", MODELS)
def test_trades_at_the_level_are_not_counted_again_when_the_level_shows_them(model):
    ex = at_the_top_100_ahead_50_behind(model)
    assert ex.on_trade(0, BID, 30, -1) == []  # a seller took 30 from the front
    assert order(ex).queue == 70
    ex.on_book(0, BID, 120, ASK, 300)  # the level shows the trade: no decrease left to explain
    assert order(ex).queue == 70
    ex.on_book(0, BID, 100, ASK, 300)  # then 20 cancelled
    want = {"risk-averse": 70, "prob-power": 70 - power_take(70, 50, 20), "prob-log": 70 - log_take(70, 50, 20)}
    assert order(ex).queue == want[model]


@pytest.mark.parametrize("model", MODELS)
def test_an_increase_changes_nothing_ahead(model):
    ex = at_the_top_100_ahead_50_behind(model)
    for qty in (400, 1_000):
        ex.on_book(0, BID, qty, ASK, 300)
        assert order(ex).queue == 100
    ex.on_book(0, BID, 970, ASK, 300)  # a later decrease sees the 900 behind us: less of it from ahead
    want = {"risk-averse": 100, "prob-power": 100 - power_take(100, 900, 30), "prob-log": 100 - log_take(100, 900, 30)}
    assert order(ex).queue == want[model]
    assert want["prob-power"] == 100 and want["prob-log"] == 88


# ---- depth: a queue at any level, from the L2 book ---------------------------------------------------------
@pytest.mark.parametrize("model", MODELS)
def test_an_order_below_the_top_queues_behind_the_l2_level(model):
    ex = exchange(model)
    ex.place(0, 1, "b", Side.BUY, DEEP, 20, True)
    ex.place(0, 1, "e", Side.BUY, 5_999_980, 20, True)  # an empty level: first in the queue
    ex.place(0, 1, "t", Side.BUY, BID, 20, True)  # at the top: the top's quantity, not L2's stale 400
    ex.place(0, 1, "i", Side.BUY, 6_000_001, 20, True)  # inside the spread: none ahead
    assert [order(ex, c).queue for c in "beti"] == [100, 0, 100, 0]
    plain = exchange(model, depth=False)  # without depth the top is all there is: its quantity
    plain.place(0, 1, "b", Side.BUY, DEEP, 20, True)
    assert order(plain).queue == 100


@pytest.mark.parametrize(("model", "front"), [("risk-averse", 100), ("prob-power", 73), ("prob-log", 84)])
def test_depth_rows_at_a_deeper_orders_price_move_it_and_book_rows_do_not(model, front):
    ex = exchange(model)
    ex.place(0, 1, "b", Side.BUY, DEEP, 20, True)
    ex.on_depth(0, 0, 1, DEEP, 150)  # 50 join behind
    for qty in (10, 500, 80):
        ex.on_book(0, BID, qty, ASK, 300)  # the top's changes are not our level's
    ex.on_depth(0, 0, 1, 5_999_995, 70)  # nor another level's
    assert order(ex).queue == 100
    ex.on_depth(0, 0, 1, DEEP, 120)  # 30 cancelled at our level
    assert order(ex).queue == front
    ex.on_book(0, DEEP, 120, DEEP + 3, 50)  # the top comes down to us: trades then reach us
    assert ex.on_trade(0, DEEP, front, -1) == []
    assert [f.qty for f in ex.on_trade(0, DEEP, 7, -1)] == [7]


@pytest.mark.parametrize("model", ["prob-power", "prob-log"])
def test_from_the_top_to_l2_no_fake_decrease(model):
    """The order's level was the top (its real-time quantity 150); the top moves up, away from it: the L2
    book still shows the level's stale 400 from before. A depth row then shows it at 150: no change."""
    ex = at_the_top_100_ahead_50_behind(model)
    ex.on_book(0, BID + 1, 60, ASK, 300)  # a better bid: our level is below the top now
    assert order(ex).queue == 100
    ex.on_depth(0, 0, 1, BID, 150)  # compared with the 150 it last saw, not the stale 400
    assert order(ex).queue == 100
    ex.on_depth(0, 0, 1, BID, 120)  # a real decrease of 30 is still one
    assert order(ex).queue == {"prob-power": 73, "prob-log": 84}[model]


@pytest.mark.parametrize("model", ["prob-power", "prob-log"])
def test_from_l2_to_the_top_no_fake_decrease(model):
    """A deeper order's level becomes the top: from then on the top shows its quantity, and the batched
    depth rows at the top's price (older news than the top) move nothing."""
    ex = exchange(model)
    ex.place(0, 1, "b", Side.BUY, DEEP, 20, True)
    ex.on_depth(0, 0, 1, DEEP, 150)
    ex.on_book(0, DEEP, 150, DEEP + 2, 40)  # the top comes down to our level: 150 there, as L2 showed
    assert order(ex).queue == 100
    ex.on_depth(0, 0, 1, DEEP, 60)  # a depth row at the top's price: the top wins
    assert order(ex).queue == 100
    ex.on_book(0, DEEP, 150, DEEP + 2, 40)
    assert order(ex).queue == 100
    ex.on_book(0, DEEP, 120, DEEP + 2, 40)  # the top's own decrease moves it
    assert order(ex).queue == {"prob-power": 73, "prob-log": 84}[model]


@pytest.mark.parametrize("model", MODELS)
def test_with_depth_a_top_that_moves_below_an_order_empties_its_level(model):
    ex = at_the_top_100_ahead_50_behind(model)
    ex.on_book(0, BID - 1, 80, ASK, 300)  # the level at our price emptied (the real-time top says so)
    assert order(ex).queue == 0
    ex.on_book(0, BID, 90, ASK, 300)  # what comes back arrived after us
    assert order(ex).queue == 0
    plain = at_the_top_100_ahead_50_behind(model, depth=False)  # without depth, as it always was
    plain.on_book(0, BID - 1, 80, ASK, 300)
    assert order(plain).queue == 100


def test_trade_through_has_no_queue_model():
    with pytest.raises(ValueError, match="queue_model = 'prob-power': the trade-through fill model has no queue"):
        SimExchange("trade-through", queue_model="prob-power")
    with pytest.raises(ValueError, match="queue_model = 'fifo'"):
        SimExchange("realistic", queue_model="fifo")
    with pytest.raises(ValueError, match="queue_param = 0"):
        SimExchange("realistic", queue_model="prob-power", queue_param=0)
    ex = SimExchange("trade-through", 0, 0, {"USDT": D(10_000)})  # and depth rows do no queue work there
    ex.add_symbol(BTC)
    ex.on_book(0, BID, 100, ASK, 100)
    assert ex.place(0, 1, "b", Side.BUY, DEEP, 20, True).accepted
    ex.on_depth(0, DEPTH_SNAPSHOT, 1, DEEP, 500)
    assert order(ex).queue == 0


# ---- properties ---------------------------------------------------------------------------------------
rows_st = st.lists(
    st.one_of(
        st.tuples(st.just("book"), st.integers(-3, 1), st.integers(1, 3), st.integers(0, 300), st.integers(0, 300)),
        st.tuples(st.just("depth"), st.sampled_from([1, -1]), st.integers(-4, 4), st.integers(0, 300), st.just(0)),
        st.tuples(st.just("trade"), st.sampled_from([1, -1]), st.integers(-2, 2), st.integers(1, 200), st.just(0)),
    ),
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(rows=rows_st, depth=st.booleans(), n=st.sampled_from([0.5, 1.0, 3.0, 8.0]))
def test_fronts_stay_in_their_level_and_prob_models_never_fill_later_than_risk_averse(rows, depth, n):
    """The same rows to one exchange per model, one bid at P and one ask at P + 2 resting from the start:
    each queue stays within [0, the last quantity its order saw at its price]; a probabilistic model's
    queue is never longer than the risk-averse one's, and its order never has filled less."""
    p = BID
    exes = {m: exchange(m, depth, n) for m in MODELS}
    for ex in exes.values():
        ex.on_book(0, p, 120, p + 2, 120)
        assert ex.place(0, 1, "b", Side.BUY, p, 150, True).accepted
        assert ex.place(0, 1, "s", Side.SELL, p + 2, 150, True).accepted
    filled = {m: {"b": 0, "s": 0} for m in MODELS}
    for kind, a, b, c, d in rows:
        for m, ex in exes.items():
            if kind == "book":
                fills = ex.on_book(0, p + a, c, p + a + b, d)
            elif kind == "depth":
                ex.on_depth(0, 0, a, p + 1 + b, c)
                fills = []
            else:
                fills = ex.on_trade(0, p + 1 + b, c, a)
            for f in fills:
                filled[m][f.client_id] += f.qty
            for o in ex.open_orders():
                assert o.queue >= 0
                assert o.seen < 0 or o.queue <= o.seen
        for m in ("prob-power", "prob-log"):
            for cid in "bs":
                assert filled[m][cid] >= filled["risk-averse"][cid]
                mine, safe = exes[m].orders.get(cid), exes["risk-averse"].orders.get(cid)
                if mine is not None and safe is not None:
                    assert mine.queue <= safe.queue


# ---- config ---------------------------------------------------------------------------------------------
def sim(**kw):
    return parse_config({"sim": kw}).sim


def test_config_names_the_queue_model_and_every_driver_builds_it():
    assert sim().queue_model == "risk-averse"
    cfg = sim(queue_model="prob-power", queue_param=2.5)
    ex = sim_exchange(cfg)
    assert (ex.queue_model, ex.queue_param) == (QUEUE_PROB_POWER, 2.5)
    assert sim_exchange(sim(queue_model="prob-power")).queue_param == 3.0  # the default exponent
    assert sim_exchange(sim(queue_model="prob-log")).queue_model == QUEUE_PROB_LOG


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"queue_model": "fifo"}, ["sim.queue_model = 'fifo'", "'risk-averse', 'prob-power' or 'prob-log'"]),
        ({"queue_model": "prob-power", "queue_param": 0}, ["sim.queue_param = 0", "greater than 0"]),
        ({"queue_model": "prob-power", "queue_param": -1}, ["sim.queue_param = -1", "greater than 0"]),
        (
            {"queue_param": 3},
            ["sim.queue_param = 3", 'exponent of queue_model = "prob-power"', 'queue_model is "risk-averse"'],
        ),
        ({"queue_model": "prob-log", "queue_param": 2}, ["sim.queue_param = 2", 'queue_model is "prob-log"']),
        (
            {"fill_model": "trade-through", "queue_model": "prob-log"},
            ["sim.queue_model = 'prob-log'", 'needs fill_model = "realistic"', "has no queue"],
        ),
    ],
)
def test_bad_queue_settings_are_refused_naming_the_field(settings, words):
    with pytest.raises(ConfigError) as e:
        sim(**settings)
    for w in words:
        assert w in str(e.value), str(e.value)
