"""OCO exits in the engine core, through the execution module (the path every venue shares): one list for the
excess at a time, its legs kept as the core's own orders (purpose "exit") with the balance the list holds,
their fills in the pair's PnL, refusals held off, unknown fates queried, and stop cancelling the list."""

from __future__ import annotations

from decimal import Decimal

from liqkit.domain.config import PairConfig
from liqkit.domain.rules import default_rules
from liqkit.domain.types import RejectReason, Side
from liqkit.engine.core import EngineCore
from liqkit.engine.execution import DONE, NOT_OPEN, REFUSED, UNKNOWN, Execution, Later, Outcome, Query
from liqkit.engine.exits import HOLD_NS
from liqkit.engine.intents import Cancel, CancelAll, CancelList, Place, PlaceOco
from liqkit.engine.records import FillRecord, StateRecord
from liqkit.engine.state import purpose

BTC = default_rules("BTCUSDT")  # tick 0.01 USDT, step 0.00001 BTC
P = 6_000_000  # 60,000.00 in ticks
STEPS = 100_000  # steps in one BTC
EXIT = {"exit_inventory": Decimal("0.5"), "exit_take_profit": "20ticks", "exit_stop_loss": "30ticks"}


def engine(btc: str = "5", usdt: str = "60000", **kw) -> tuple[EngineCore, Execution]:
    cfg = {"symbol": "BTCUSDT", "reference": "touch", "spread": "5ticks", "size": Decimal("0.01"), **EXIT, **kw}
    core = EngineCore(run_nonce="test")
    core.add_pair(PairConfig(**cfg), BTC)
    x = Execution(core)
    x.on_balances({"BTC": (Decimal(btc), Decimal(0)), "USDT": (Decimal(usdt), Decimal(0))}, 0)
    assert core.run("BTCUSDT", 1) == [CancelAll("BTCUSDT", True)]
    return core, x


def ocos(out) -> list[PlaceOco]:
    return [i for i in out if isinstance(i, PlaceOco)]


def reasons(core: EngineCore) -> list[str]:
    return [e.reason for e in core.event_log if isinstance(e, StateRecord)]


def test_the_excess_gets_one_list_whose_legs_are_the_cores_and_whose_balance_the_quotes_cannot_use():
    core, x = engine()
    st = core.pair("BTCUSDT")
    out = core.on_book(0, 2, P, 10, P + 2, 10)
    (oco,) = ocos(out)
    # 5 BTC and 60,000 USDT at 60,000.01: 3 BTC wanted, 2 past it (the exit goes before the quotes)
    assert (oco.side, oco.qty, oco.take_profit, oco.stop) == (Side.SELL, 2 * STEPS, P + 21, P + 1 - 30)
    assert all(i.startswith("lq.BTCUSDT.") for i in (oco.list_id, oco.tp_id, oco.sl_id))
    legs = [core.orders[oco.tp_id], core.orders[oco.sl_id]]
    assert [purpose(o) for o in legs] == ["exit", "exit"] and [o.price for o in legs] == [P + 21, P - 29]
    # the list holds its base (once, for both legs): nothing of it is free for a quote
    asks = [i for i in out if isinstance(i, Place) and i.side is Side.SELL]
    assert sum(a.qty for a in asks) == 1_000  # the quote's ask: its size, from what the exit left
    assert st.base_free == 5 * STEPS - oco.qty - 1_000 and st.base_locked == oco.qty + 1_000
    assert x.on_answer(oco, DONE, 3) == []
    assert [o.status for o in legs] == ["NEW", "NEW"]
    assert ocos(core.on_book(0, 4, P + 50, 10, P + 52, 10)) == []  # one at a time, wherever the market goes
    assert any(r.startswith(f"exit {oco.list_id}: OCO SELL 2 BTC, take-profit 60000.21") for r in reasons(core))


def test_the_take_profit_fills_in_the_pnl_the_stop_expires_and_a_later_excess_gets_a_new_list():
    core, x = engine()
    st = core.pair("BTCUSDT")
    (oco,) = ocos(core.on_book(0, 2, P, 10, P + 2, 10))
    x.on_answer(oco, DONE, 3)
    half = oco.qty // 2
    core.fill_log.clear()
    free_before, locked_before = st.quote_free, st.base_locked
    assert x.on_fill_units(oco.tp_id, 4, oco.take_profit, half, 0, True, 77, 4) == []
    assert st.pos == -half and st.cash == half * oco.take_profit
    (fill,) = core.fill_log
    assert isinstance(fill, FillRecord) and purpose(fill.order) == "exit"
    assert st.base_locked == locked_before - half and st.quote_free == free_before + half * oco.take_profit
    assert x.on_order_update(oco.sl_id, "EXPIRED", 0, 5) == []  # the venue expires the stop on the first fill
    assert st.exit is not None and oco.sl_id not in core.orders  # the take-profit still rests: the list is not done
    x.on_fill_units(oco.tp_id, 6, oco.take_profit, oco.qty - half, 0, True, 78, 6)
    assert st.exit is None and not [o for o in core.orders.values() if o.exit_list]
    assert st.pos == -oco.qty and st.base_locked == st.own_sell_locked  # the list holds nothing any more
    assert f"exit {oco.list_id} done: take-profit filled" in reasons(core)
    # 1.01 BTC and 179,400 USDT at 60,000.01: 0.99 BTC short of half the value: a BUY list (its stop above)
    x.on_balances({"BTC": (Decimal("1.01"), Decimal(0)), "USDT": (Decimal("179400"), Decimal(0))}, 7)
    (buy,) = ocos(core.on_book(0, 8, P, 10, P + 2, 10))
    assert buy.side is Side.BUY and buy.take_profit < P < buy.stop and buy.list_id != oco.list_id
    assert st.quote_locked >= buy.qty * buy.stop  # a BUY list holds its dearer leg's price


def test_a_refused_list_frees_its_balance_and_the_next_waits_the_hold():
    core, x = engine()
    st = core.pair("BTCUSDT")
    (oco,) = ocos(core.on_book(0, 2, P, 10, P + 2, 10))
    refused = Outcome(REFUSED, reason=RejectReason.FILTER, text="[-1013] Filter failure: NOTIONAL")
    assert x.on_answer(oco, refused, 3) == []
    assert st.exit is None and oco.tp_id not in core.orders and st.base_free == 5 * STEPS - 1_000  # all but the ask
    assert any("refused: [-1013] Filter failure: NOTIONAL" in r for r in reasons(core))
    assert ocos(core.on_book(0, 3 + HOLD_NS - 1, P + 4, 10, P + 6, 10)) == []
    (again,) = ocos(core.on_book(0, 3 + HOLD_NS, P, 10, P + 2, 10))
    assert again.list_id != oco.list_id


def test_an_unknown_outcome_asks_for_each_leg_and_a_leg_found_open_makes_the_list_work():
    core, x = engine()
    (oco,) = ocos(core.on_book(0, 2, P, 10, P + 2, 10))
    out = x.on_answer(oco, Outcome(UNKNOWN, text="timeout"), 3)
    assert sorted(r.request.client_id for r in out if isinstance(r, Later) and isinstance(r.request, Query)) == sorted(
        [oco.tp_id, oco.sl_id]
    )
    assert core.orders[oco.tp_id].status == "UNKNOWN"
    x.on_order_update(oco.tp_id, "NEW", 0, 4)
    assert core.orders[oco.tp_id].status == "NEW" and core.pair("BTCUSDT").exit.placed


def test_stop_cancels_the_list_once_and_a_list_accepted_after_stop_is_cancelled_then():
    core, x = engine()
    st = core.pair("BTCUSDT")
    (oco,) = ocos(core.on_book(0, 2, P, 10, P + 2, 10))
    x.on_answer(oco, DONE, 3)
    out = core.stop("BTCUSDT", 4)
    assert [i for i in out if isinstance(i, CancelList)] == [CancelList("BTCUSDT", oco.list_id)]
    assert not [i for i in out if getattr(i, "client_id", "") in (oco.tp_id, oco.sl_id)]  # no per-leg cancel
    assert [i for i in core.stop("BTCUSDT", 5) if isinstance(i, CancelList)] == []  # in flight: not twice
    x.on_answer(CancelList("BTCUSDT", oco.list_id), DONE, 6)
    assert st.exit is None and st.base_locked == st.own_sell_locked
    # a list whose answer comes after the stop: cancelled as soon as it is accepted
    core2, x2 = engine()
    (late,) = ocos(core2.on_book(0, 2, P, 10, P + 2, 10))
    core2.stop("BTCUSDT", 3)
    assert x2.on_answer(late, DONE, 4) == [CancelList("BTCUSDT", late.list_id)]
    # a cancel the venue says is not open: the legs' fates are asked for, never assumed
    queried = x2.on_answer(CancelList("BTCUSDT", late.list_id), Outcome(NOT_OPEN, text="[-2011]"), 5)
    assert {r.request.client_id for r in queried if isinstance(r, Later)} == {late.tp_id, late.sl_id}


def test_turning_exits_off_cancels_the_list_at_work_and_within_the_threshold_there_is_none():
    core, x = engine()
    (oco,) = ocos(core.on_book(0, 2, P, 10, P + 2, 10))
    x.on_answer(oco, DONE, 3)
    cfg = core.pair("BTCUSDT").cfg.model_copy(update={k: None for k in EXIT})
    assert CancelList("BTCUSDT", oco.list_id) in core.configure(cfg, 4)
    near, _ = engine(btc="3.4", usdt="180000")  # 3.2 BTC wanted: 0.2 past a 0.5 threshold, no list
    assert ocos(near.on_book(0, 2, P, 10, P + 2, 10)) == []


def test_a_take_profit_left_alone_after_its_stop_expired_is_cancelled_as_an_order():
    core, x = engine()
    st = core.pair("BTCUSDT")
    (oco,) = ocos(core.on_book(0, 2, P, 10, P + 2, 10))
    x.on_answer(oco, DONE, 3)
    x.on_fill_units(oco.tp_id, 4, oco.take_profit, 10, 0, True, 77, 4)
    x.on_order_update(oco.sl_id, "EXPIRED", 0, 5)  # the first fill expired the stop: the list may be done
    out = core.stop("BTCUSDT", 6)
    assert Cancel("BTCUSDT", oco.tp_id) in out and not [i for i in out if isinstance(i, CancelList)]
    x.on_answer(Cancel("BTCUSDT", oco.tp_id), DONE, 7)
    assert st.exit is None and not [o for o in core.orders.values() if o.exit_list]
    assert st.base_locked == st.own_sell_locked  # what the list held: released at its end
