"""A quote moves with one cancel-replace request where the venue has one (Binance's order.cancelReplace,
STOP_ON_FAILURE): the core's ``Replace`` and the execution's handling of every outcome of it — both halves
done, the cancel failed (the new order not attempted), the cancel done and the new order refused, a
rate-limit refusal of the whole, an unknown outcome — and, under random faults on a real simulated
exchange, never two live orders for one pair, side and level."""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqkit.domain.config import PairConfig
from liqkit.domain.errors import OrderRejected, ReplaceFailed, UnknownOrderError
from liqkit.domain.rules import default_rules
from liqkit.domain.types import OrderStatus, RejectReason
from liqkit.engine.execution import (
    NOT_OPEN,
    OK,
    REFUSED,
    RETRY,
    UNKNOWN,
    Execution,
    FetchBalances,
    FetchFills,
    Later,
    Outcome,
    Query,
    outcome_of,
)
from liqkit.engine.intents import Amend, Cancel, CancelAll, Place, Replace
from liqkit.engine.ports import OpenOrder
from liqkit.venues.sim.exchange import SimExchange

BTC = default_rules("BTCUSDT")
BID, ASK = 6_000_000, 6_000_001
CFG = PairConfig(
    symbol="BTCUSDT", reference="touch", spread="2ticks", refresh_tolerance="3ticks", size=Decimal("0.001")
)


def engine(cancel_replace: bool = True):
    from liqkit.engine.core import EngineCore

    core = EngineCore(run_nonce="repl", amend_keeps_priority=True, cancel_replace=cancel_replace)
    core.add_pair(CFG, BTC)
    core.on_balances({"BTC": (Decimal(1), Decimal(0)), "USDT": (Decimal(100_000), Decimal(0))}, 0)
    x = Execution(core)
    first = core.run("BTCUSDT", 0) + core.on_book(0, 1, BID, 5, ASK, 5)
    places = [r for r in first if isinstance(r, Place)]
    assert len(places) == 2
    for p in places:
        assert x.on_answer(p, Outcome(OK), 2) == []
    return core, x, places


def unwrap(reqs):
    """The requests, with each ``Later`` (a backoff) opened."""
    out = []
    for r in reqs:
        while isinstance(r, Later):
            r = r.request
        out.append(r)
    return out


def move(core, ts: int = 10, ticks: int = 10):
    """The market moves up ``ticks``: both quotes are off by more than the tolerance."""
    return core.on_book(0, ts, BID + ticks, 5, ASK + ticks, 5)


def test_a_price_move_is_one_replace_per_side_and_its_successor_takes_the_level():
    core, x, places = engine()
    out = move(core)
    assert [type(r) for r in out] == [Replace, Replace]
    bid = next(r for r in out if r.place.side.name == "BUY")
    assert bid.client_id == places[0].client_id and bid.place.price == BID + 10 - 2
    assert core.orders[bid.client_id].status == "PENDING_CANCEL"
    assert core.orders[bid.place.client_id].status == "PENDING_NEW"
    assert core.pair("BTCUSDT").bids[0] is core.orders[bid.client_id]  # the old order keeps the level ...
    assert core.on_book(0, 11, BID + 10, 5, ASK + 10, 5) == []  # ... and nothing else is sent meanwhile
    assert x.on_answer(bid, Outcome(OK), 12) == []
    assert bid.client_id not in core.orders
    assert core.pair("BTCUSDT").bids[0] is core.orders[bid.place.client_id]  # the successor has it
    assert core.orders[bid.place.client_id].status == "NEW"
    # the money the old order held went to the new one, once
    st_ = core.pair("BTCUSDT")
    assert st_.own_buy_locked == bid.place.price * bid.place.qty + 0 * BID


def test_without_cancel_replace_a_price_move_is_a_cancel_then_a_place():
    core, x, _ = engine(cancel_replace=False)
    out = move(core)
    assert [type(r) for r in out] == [Cancel, Cancel]
    after = x.on_answer(out[0], Outcome(OK), 12)
    assert [type(r) for r in after] == [Place] and after[0].price == BID + 10 - 2


def test_cancel_failed_the_new_order_is_dropped_and_the_old_one_resolved():
    core, x, _ = engine()
    bid = move(core)[0]
    out = outcome_of(ReplaceFailed(UnknownOrderError("Unknown order sent.", -2011), None))
    assert out.kind == NOT_OPEN
    after = unwrap(x.on_answer(bid, out, 12))
    assert bid.place.client_id not in core.orders  # never placed: gone without a refusal counted
    assert core.pair("BTCUSDT").n_refused == 0 and core.pair("BTCUSDT").hold_until == 0
    assert core.orders[bid.client_id].status == "UNKNOWN"
    assert [type(r) for r in after] == [Query] and after[0].client_id == bid.client_id
    assert core.on_book(0, 13, BID + 10, 5, ASK + 10, 5) == []  # the level stays blocked until its fate is known
    # it had filled: the level is free again and quoted anew
    res = x.on_answer(
        after[0],
        Outcome(OK, OpenOrder("BTCUSDT", bid.client_id, bid.place.side, BID - 2, 100, 0, OrderStatus.CANCELED)),
        14,
    )
    assert bid.client_id not in core.orders
    assert [type(r) for r in res] == [Place]


def test_cancel_done_new_order_refused_as_post_only_crossing_is_re_quoted_once():
    core, x, _ = engine()
    bid = move(core)[0]
    out = outcome_of(
        ReplaceFailed(None, OrderRejected("Order would immediately match and take.", -2010, RejectReason.WOULD_CROSS))
    )
    assert out.kind == OK and out.value.kind == REFUSED
    after = x.on_answer(bid, out, 12)
    assert bid.client_id not in core.orders and bid.place.client_id not in core.orders
    places = [r for r in after if isinstance(r, Place)]
    assert len(places) == 1 and places[0].side.name == "BUY"  # the level, quoted again, once
    assert core.pair("BTCUSDT").bids[0] is core.orders[places[0].client_id]


def test_rate_limited_replace_drops_the_new_order_and_retries_the_cancel():
    core, x, _ = engine()
    bid = move(core)[0]
    after = x.on_answer(bid, Outcome(RETRY, retry_after_ns=1_000_000_000, text="[-1015] too many"), 12)
    assert bid.place.client_id not in core.orders
    assert after == [Later(1_000_000_000, Cancel("BTCUSDT", bid.client_id))]


def test_unknown_outcome_queries_both_and_the_level_goes_to_the_new_order_found_resting():
    core, x, _ = engine()
    bid = move(core)[0]
    after = unwrap(x.on_answer(bid, Outcome(UNKNOWN, text="TimeoutError"), 12))
    assert sorted(r.client_id for r in after) == sorted([bid.client_id, bid.place.client_id])
    assert all(type(r) is Query for r in after)
    old_q = next(r for r in after if r.client_id == bid.client_id)
    new_q = next(r for r in after if r.client_id == bid.place.client_id)
    p = bid.place
    x.on_answer(new_q, Outcome(OK, OpenOrder("BTCUSDT", p.client_id, p.side, p.price, p.qty, 0, OrderStatus.NEW)), 13)
    assert core.orders[p.client_id].status == "NEW"
    for k in range(5):  # the old one is not found: never there any more (cancelled)
        x.on_answer(old_q, Outcome(OK, None), 14 + k)
    assert bid.client_id not in core.orders
    assert core.pair("BTCUSDT").bids[0] is core.orders[p.client_id]


# ---- the invariant under random faults, on a real simulated exchange ----------------------------------
FAULTS = ["ok", "ok", "ok", "unknown-done", "unknown-not-done", "retry", "refuse-new"]


class FaultyVenue:
    """The simulated exchange behind the execution, answering each request with a chosen fault."""

    def __init__(self, core, x, faults) -> None:
        self.core, self.x = core, x
        self.sim = SimExchange("realistic", 0, 0, {"BTC": Decimal(1), "USDT": Decimal(100_000)})
        self.sim.add_symbol(BTC)
        self.faults = faults
        self.queue: deque = deque()
        self.worst = 0

    def fault(self) -> str:
        return self.faults.pop() if self.faults else "ok"

    def run(self, reqs, ts: int) -> None:
        self.queue.extend(reqs)
        n = 0
        while self.queue and n < 500:
            n += 1
            req = self.queue.popleft()
            while isinstance(req, Later):
                req = req.request
            self.queue.extend(self.x.on_answer(req, self.execute(req, ts), ts))
            self.check()

    def execute(self, req, ts: int) -> Outcome:
        sim = self.sim
        f = self.fault() if isinstance(req, (Place, Cancel, Replace)) else "ok"
        if f == "retry":
            return Outcome(RETRY, retry_after_ns=1, text="[-1015] too many")
        if f == "unknown-not-done":
            return Outcome(UNKNOWN, text="timeout")
        if isinstance(req, Place):
            r = sim.place(0, ts, req.client_id, req.side, req.price, req.qty, req.post_only)
            out = Outcome(OK) if r.accepted else Outcome(REFUSED, reason=r.reason, text=r.message)
        elif isinstance(req, Cancel):
            out = Outcome(OK) if sim.cancel(req.client_id) else Outcome(NOT_OPEN, text="[-2011] Unknown order sent.")
        elif isinstance(req, Replace):
            if not sim.cancel(req.client_id):
                out = Outcome(NOT_OPEN, text="[-2011] Unknown order sent.")
            elif f == "refuse-new":
                out = Outcome(OK, Outcome(REFUSED, reason=RejectReason.FILTER, text="[-1013] Filter failure"))
            else:
                p = req.place
                r = sim.place(0, ts, p.client_id, p.side, p.price, p.qty, p.post_only)
                half = None if r.accepted else Outcome(REFUSED, reason=r.reason, text=r.message)
                out = Outcome(OK, half)
        elif isinstance(req, Query):
            o = sim.orders.get(req.client_id)
            val = (
                None
                if o is None
                else OpenOrder(
                    "BTCUSDT",
                    o.client_id,
                    o.side,
                    o.price,
                    o.qty,
                    o.filled,
                    OrderStatus.PARTIALLY_FILLED if o.filled else OrderStatus.NEW,
                )
            )
            out = Outcome(OK, val)
        elif isinstance(req, FetchFills):
            out = Outcome(OK, [])
        elif isinstance(req, FetchBalances):
            out = Outcome(OK, sim.balances())
        elif isinstance(req, CancelAll):
            out = Outcome(OK, sim.cancel_all(0, req.own_only))
        elif isinstance(req, Amend):
            r = sim.amend(req.client_id, req.qty)
            out = Outcome(OK) if r.accepted else Outcome(REFUSED, text=r.message)
        else:
            raise AssertionError(repr(req))
        return Outcome(UNKNOWN, text="timeout after it was done") if f == "unknown-done" else out

    def check(self) -> None:
        levels: dict[tuple[str, int], str] = {}
        for o in self.sim.open_orders(0):
            key = (o.side.name, int(o.client_id.split(".")[2][1:]))
            assert key not in levels, f"two live orders at {key}: {levels[key]} and {o.client_id}"
            levels[key] = o.client_id
        self.worst = max(self.worst, len(levels))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    moves=st.lists(st.integers(-12, 12), min_size=5, max_size=40),
    faults=st.lists(st.sampled_from(FAULTS), max_size=60),
)
def test_never_two_live_orders_per_level_whatever_the_venue_answers(moves, faults):
    from liqkit.engine.core import EngineCore

    core = EngineCore(run_nonce="prop", amend_keeps_priority=True, cancel_replace=True)
    core.add_pair(CFG.model_copy(update={"levels": 2}), BTC)
    x = Execution(core)
    v = FaultyVenue(core, x, list(faults))
    core.on_balances(v.sim.balances(), 0)
    v.run(core.run("BTCUSDT", 0), 0)
    bid, ts = BID, 1
    for m in moves:
        bid += m
        ts += 1
        for f in v.sim.on_book(0, bid, 5, bid + 1, 5):
            v.run(x.on_fill_units(f.client_id, ts, f.price, f.qty, f.fee_nu, f.is_maker, f.trade_id, ts), ts)
        v.run(core.on_book(0, ts, bid, 5, bid + 1, 5), ts)
    # after the faults: the engine and the exchange agree on what rests
    v.faults.clear()
    for k in range(1, 12):  # a refusal holds the pair for a second: step past it while the queries land
        now = ts + k * 2_000_000_000
        v.run([Query("BTCUSDT", cid) for cid in list(core.orders)], now)
        v.run(core.on_book(0, now, bid, 5, bid + 1, 5), now)
    resting = {o.client_id for o in v.sim.open_orders(0)}
    mine = {c for c, o in core.orders.items() if o.status in ("NEW", "PARTIALLY_FILLED")}
    assert resting == mine
    assert len(resting) == 4  # two levels a side quoted again
