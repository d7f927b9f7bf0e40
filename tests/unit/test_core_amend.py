"""A config change reaches the working orders at once: the diff compares sizes too, a smaller size is
an amend where the venue keeps queue priority (else a replace), and nothing churns without cause."""

from decimal import Decimal

from core_loop import CoreLoop

from liqkit.domain.config import PairConfig
from liqkit.domain.rules import default_rules
from liqkit.domain.types import Side
from liqkit.engine.core import EngineCore
from liqkit.engine.intents import Amend, Cancel, Intent, Place
from liqkit.venues.sim.exchange import PlaceResult, SimExchange

BTC = default_rules("BTCUSDT")
BID, ASK = 6_000_000, 6_000_001  # 60,000.00 / 60,000.01
CFG = PairConfig(
    symbol="BTCUSDT", reference="touch", spread="2ticks", refresh_tolerance="5ticks", size=Decimal("0.001")
)


def said(r: PlaceResult) -> tuple[bool, int, str]:
    """The simulated exchange's answer as (accepted, code, message)."""
    return r.accepted, r.code, r.message


def start(
    cfg: PairConfig = CFG, amend: bool = True, btc: str = "1", usdt: str = "100000", maker_bps: int = 0
) -> CoreLoop:
    """A quoting pair with its first orders resting (bid 59,999.98, ask 60,000.03)."""
    core = EngineCore(run_nonce="amnd", amend_keeps_priority=amend)
    core.add_pair(cfg, BTC)
    sim = SimExchange("realistic", maker_bps, 0, {"BTC": Decimal(btc), "USDT": Decimal(usdt)})
    sim.add_symbol(BTC)
    core.on_balances(sim.balances(), 0)
    loop = CoreLoop(core, sim)
    loop.take(core.run("BTCUSDT", 0), 0)
    loop.book(1, BID, ASK, 50_000, 50_000)
    return loop


def resting(loop: CoreLoop) -> dict[Side, tuple[str, int, int]]:
    """What rests at the exchange per side: (client id, qty, filled)."""
    out = {}
    for o in loop.sim.open_orders(0):
        assert o.side not in out, "two live orders on one side"
        out[o.side] = (o.client_id, o.qty, o.filled)
    return out


def of(kind: type, intents: list[Intent]) -> list[Intent]:
    return [i for i in intents if isinstance(i, kind)]


def test_a_smaller_size_is_amended_in_place_and_keeps_the_queue():
    loop = start()
    core, sim = loop.core, loop.sim
    before = {o.side: (o.client_id, o.order_id, o.queue, o.ts) for o in sim.open_orders(0)}
    assert {s: q for s, (_, q, _) in resting(loop).items()} == {Side.BUY: 100, Side.SELL: 100}
    usdt_locked = sim.balances()["USDT"][1]
    out = core.configure(CFG.model_copy(update={"size": Decimal("0.0006")}), 2)
    assert sorted((type(i).__name__, i.qty) for i in out) == [("Amend", 60), ("Amend", 60)]
    loop.take(out, 2)
    assert loop.answers[-2:] == [("amend", out[0].client_id, 0, ""), ("amend", out[1].client_id, 0, "")]
    # the same orders, smaller, where they were in the queue
    assert {o.side: (o.client_id, o.order_id, o.queue, o.ts) for o in sim.open_orders(0)} == before
    assert {s: q for s, (_, q, _) in resting(loop).items()} == {Side.BUY: 60, Side.SELL: 60}
    assert sim.balances()["USDT"][1] == usdt_locked * 60 / 100  # the cut is released
    st_ = core.pair("BTCUSDT")
    unit = BTC.tick * BTC.step  # the engine agrees with the exchange on what is free and locked
    assert (st_.quote_free * unit, st_.quote_locked * unit) == sim.balances()["USDT"]
    assert (st_.base_free * BTC.step, st_.base_locked * BTC.step) == sim.balances()["BTC"]
    n = len(loop.emitted)
    for k in range(2, 40):  # within tolerance: nothing more to do
        loop.book(k, BID + k % 2, ASK + k % 2, 50_000, 50_000)
    assert loop.emitted[n:] == []


def test_without_priority_keeping_amends_a_smaller_size_is_a_replace():
    loop = start(amend=False)
    old = {s: cid for s, (cid, _, _) in resting(loop).items()}
    seen_two_per_side = []
    loop.on_intents = lambda _: seen_two_per_side.append(len(loop.sim.open_orders(0)) > 2)
    out = loop.core.configure(CFG.model_copy(update={"size": Decimal("0.0006")}), 2)
    assert sorted(type(i).__name__ for i in out) == ["Cancel", "Cancel"]  # replacements wait for the cancels
    loop.take(out, 2)
    now = resting(loop)
    assert {s: q for s, (_, q, _) in now.items()} == {Side.BUY: 60, Side.SELL: 60}
    assert all(now[s][0] != old[s] for s in old)
    assert not any(seen_two_per_side)


def test_a_larger_size_is_a_replace_even_where_amends_keep_priority():
    loop = start(amend=True)
    out = loop.core.configure(CFG.model_copy(update={"size": Decimal("0.002")}), 2)
    assert sorted(type(i).__name__ for i in out) == ["Cancel", "Cancel"]
    loop.take(out, 2)
    assert {s: q for s, (_, q, _) in resting(loop).items()} == {Side.BUY: 200, Side.SELL: 200}
    assert of(Amend, loop.emitted) == []


def test_an_amend_refused_by_the_venue_falls_back_to_a_replace():
    """The bid is filled past the new size while the amend is on its way: the exchange refuses it
    (-1013 LOT_SIZE) and the core replaces the order instead."""
    loop = start(amend=True)
    core = loop.core
    bid_id = resting(loop)[Side.BUY][0]
    out = core.configure(CFG.model_copy(update={"size": Decimal("0.0006")}), 2)
    assert Amend("BTCUSDT", bid_id, 60) in out
    loop.trade(3, 5_999_990, 70, -1)  # a seller through our bid: 70 of its 100 fill
    assert resting(loop)[Side.BUY] == (bid_id, 100, 70)
    loop.take(out, 4)
    assert ("amend", bid_id, -1013, "Filter failure: LOT_SIZE") in loop.answers
    assert Cancel("BTCUSDT", bid_id) in loop.emitted
    new_bid = resting(loop)[Side.BUY]
    assert new_bid[0] != bid_id and new_bid[1:] == (60, 0)
    assert resting(loop)[Side.SELL][1:] == (60, 0)  # the ask's amend went through


def test_partial_fills_and_a_moving_book_change_nothing():
    """A quote-notional size is the level's size at the order's own price: the book moving within
    tolerance does not resize it, and neither does a partial fill (the original size is compared)."""
    cfg = CFG.model_copy(update={"size": Decimal(100), "size_unit": "quote", "max_inventory": Decimal("0.5")})
    loop = start(cfg, btc="0.1", maker_bps=1)
    bid_id, bid_qty, _ = resting(loop)[Side.BUY]
    assert bid_qty == 166  # 100 USDT at 59,999.98
    n = len(loop.emitted)
    loop.trade(2, 5_999_990, 40, -1)  # a seller through our bid: 40 of ours fill
    assert resting(loop)[Side.BUY] == (bid_id, 166, 40)
    for k in range(3, 60):
        loop.book(k, BID - k % 3, ASK - k % 3, 10, 10)
    assert loop.emitted[n:] == []


def test_a_budget_limited_quote_does_not_churn():
    """With 30 USDT the bid is budget-limited (50 of 100 steps): it stays as it is through book
    updates, a maker fill with fees, and a larger configured size the budget cannot pay for."""
    loop = start(usdt="30", maker_bps=1)
    bid_id, qty, _ = resting(loop)[Side.BUY]
    assert qty == 50  # 30 USDT / 59,999.98 = 0.0005 BTC
    n = len(loop.emitted)
    for k in range(2, 30):
        loop.book(k, BID + k % 3, ASK + k % 3, 10, 10)
    loop.trade(30, 5_999_990, 20, -1)  # 20 of ours fill, with a fee in USDT
    loop.book(31, BID, ASK, 10, 10)
    assert loop.emitted[n:] == []
    out = loop.core.configure(CFG.model_copy(update={"size": Decimal("0.002")}), 32)
    loop.take(out, 32)
    assert Cancel("BTCUSDT", bid_id) not in out  # no money for more: the bid stays
    assert resting(loop)[Side.BUY] == (bid_id, 50, 20)
    assert resting(loop)[Side.SELL][1] == 200  # the ask has the base: it grows


def test_a_config_change_reaches_orders_accepted_after_it():
    """Orders still pending when the config changes are resized once they rest (the quiet band does
    not hide them)."""
    core = EngineCore(run_nonce="amnd", amend_keeps_priority=True)
    core.add_pair(CFG, BTC)
    sim = SimExchange("realistic", 0, 0, {"BTC": Decimal(1), "USDT": Decimal(100_000)})
    sim.add_symbol(BTC)
    core.on_balances(sim.balances(), 0)
    loop = CoreLoop(core, sim)
    loop.take(core.run("BTCUSDT", 0), 0)
    sim.on_book(0, BID, 10, ASK, 10)
    places = core.on_book(0, 1, BID, 10, ASK, 10)
    assert [p.qty for p in of(Place, places)] == [100, 100]
    assert core.configure(CFG.model_copy(update={"size": Decimal("0.0004")}), 2) == []  # nothing rests yet
    loop.take(places, 3)  # accepted now
    loop.book(4, BID, ASK, 10, 10)  # the next update resizes them
    assert sorted((type(i).__name__, i.qty) for i in loop.emitted if isinstance(i, Amend)) == [
        ("Amend", 40),
        ("Amend", 40),
    ]
    assert {s: q for s, (_, q, _) in resting(loop).items()} == {Side.BUY: 40, Side.SELL: 40}


def test_a_lower_max_inventory_shrinks_the_resting_bid():
    loop = start(btc="0.0003")  # 30 steps held
    assert resting(loop)[Side.BUY][1] == 100
    out = loop.core.configure(CFG.model_copy(update={"max_inventory": Decimal("0.001")}), 2)
    loop.take(out, 2)
    assert Amend("BTCUSDT", resting(loop)[Side.BUY][0], 70) in out  # 100 - 30 held
    assert resting(loop)[Side.BUY][1] == 70


# ---- the simulated exchange's amend -----------------------------------------------------------
def sim_with_bid(qty: int = 1_000) -> SimExchange:
    ex = SimExchange("realistic", 0, 0, {"BTC": Decimal(1), "USDT": Decimal(100_000)})
    ex.add_symbol(BTC)
    ex.on_book(0, BID, 50_000, 6_000_002, 50_000)
    assert ex.place(0, 1, "b", Side.BUY, BID, qty, True).accepted  # joins 50,000 steps at the bid
    return ex


def test_sim_amend_keeps_the_queue_and_releases_the_cut():
    ex = sim_with_bid()
    assert ex.on_trade(0, BID, 30_000, -1) == []  # 20,000 still ahead of us
    r = ex.amend("b", 400)
    assert (r.accepted, r.code, r.message, r.fills) == (True, 0, "", [])
    assert ex.balances()["USDT"] == (Decimal(100_000) - Decimal("240.00000"), Decimal("240.00000"))
    fills = ex.on_trade(0, BID, 20_400, -1)  # the rest of the queue, then all 400 of ours
    assert [(f.client_id, f.qty) for f in fills] == [("b", 400)]
    assert ex.open_orders() == [] and ex.n_amended == 1


def test_a_replace_instead_loses_the_queue():
    """The contrast: cancel and place again joins behind what is displayed at the price."""
    ex = sim_with_bid()
    ex.on_trade(0, BID, 30_000, -1)
    ex.cancel("b")
    assert ex.place(0, 2, "b2", Side.BUY, BID, 400, True).accepted
    assert ex.on_trade(0, BID, 20_400, -1) == []  # 50,000 ahead again


def test_sim_amend_refuses_like_binance():
    ex = sim_with_bid()
    assert said(ex.amend("nope", 10)) == (False, -2013, "Order does not exist.")
    assert said(ex.amend("b", 1_000))[:2] == (False, -2038)
    assert said(ex.amend("b", 1_001)) == (False, -2038, "Order amend (quantity increase) is not supported.")
    assert said(ex.amend("b", 0)) == (False, -1013, "Filter failure: LOT_SIZE")
    assert said(ex.amend("b", 10)) == (False, -1013, "Filter failure: NOTIONAL")  # 6 USDT: under 10
    ex.on_trade(0, 5_999_000, 700, -1)  # 700 fill (through our price)
    assert said(ex.amend("b", 700)) == (False, -1013, "Filter failure: LOT_SIZE")  # not above what executed
    assert ex.amend("b", 800).accepted
    assert ex.balances()["USDT"][1] == Decimal("60.00000")  # 100 steps left at 60,000
