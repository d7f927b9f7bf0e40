"""One quoting pipeline: the engine core quotes what ``quoting.wanted_quotes`` wants, and the core,
the simulated exchange and ``SymbolRules.check_order`` judge an order by the same filter check."""

import copy
from decimal import Decimal
from functools import cache

import pytest
from core_loop import CoreLoop
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqkit.domain.budget import BudgetError, check_budget
from liqkit.domain.config import PairConfig
from liqkit.domain.errors import ConfigError, FilterError
from liqkit.domain.rules import SymbolRules, default_rules, load_exchange_info
from liqkit.domain.types import Side
from liqkit.engine.core import EngineCore
from liqkit.engine.intents import Intent, Place
from liqkit.quoting import Quote, size_for, wanted_quotes
from liqkit.venues.sim.exchange import SimExchange

BTC = default_rules("BTCUSDT")


@cache
def btc_with_max_notional(max_notional: str = "50") -> SymbolRules:
    """BTCUSDT's real 2021 entry with its MIN_NOTIONAL filter changed into a NOTIONAL filter (today's
    form) that also caps the order value at ``max_notional`` USDT."""
    info = copy.deepcopy(next(s for s in load_exchange_info()["symbols"] if s["symbol"] == "BTCUSDT"))
    info["filters"] = [f for f in info["filters"] if f["filterType"] != "MIN_NOTIONAL"] + [
        {
            "filterType": "NOTIONAL",
            "minNotional": "10.00000000",
            "applyMinToMarket": True,
            "maxNotional": f"{max_notional}.00000000",
            "applyMaxToMarket": False,
            "avgPriceMins": 5,
        }
    ]
    return SymbolRules.from_symbol_info(info)


def usdt(rules: SymbolRules, p: Place) -> Decimal:
    return rules.price(p.price) * rules.qty(p.qty)


def start(rules: SymbolRules, cfg: PairConfig, btc: str, usdt_: str, model: str = "realistic", **kw) -> CoreLoop:
    bal = {"BTC": Decimal(btc), "USDT": Decimal(usdt_)}
    core = EngineCore(run_nonce="pipe", **kw)
    core.add_pair(cfg, rules)
    sim = SimExchange(model, 0, 0, bal)
    sim.add_symbol(rules)
    core.on_balances(sim.balances(), 0)
    loop = CoreLoop(core, sim)
    loop.take(core.run("BTCUSDT", 0), 0)
    return loop


def test_the_shipped_entry_with_a_max_notional_parses_to_50_usdt():
    r = btc_with_max_notional()
    assert r.max_notional == Decimal(50) and r.min_notional == Decimal(10)
    assert (r.tick, r.step) == (BTC.tick, BTC.step)
    with pytest.raises(FilterError, match="maxNotional 50") as e:
        r.check_order(Side.BUY, 6_000_000, 1_000, 6_000_000)  # 0.01 BTC at 60,000: 600 USDT
    assert e.value.filter_name == "NOTIONAL"
    r.check_order(Side.BUY, 6_000_000, 80, 6_000_000)  # 48 USDT passes


def test_a_size_over_max_notional_is_never_placed_and_is_explained_once():
    rules = btc_with_max_notional()
    loop = start(rules, PairConfig(symbol="BTCUSDT", spread="10bps", size=Decimal("0.01"), levels=2), "1", "100000")
    for n in range(1, 20):
        loop.book(n * 1_000_000, 6_000_000 + n, 6_000_001 + n)
    assert [i for i in loop.emitted if isinstance(i, Place)] == []
    st_ = loop.core.pair("BTCUSDT")
    assert st_.state == "quoting"
    assert st_.reason == (  # the first refused quote: the level-0 bid, 10 bps under the first mid (59,940)
        "size 0.01 BTC is worth about 599.40 USDT, over BTCUSDT's maximum order value 50 USDT (NOTIONAL): lower size"
    )
    said = [e for e in loop.core.event_log if e.kind == "state" and "maximum order value" in e.reason]
    assert len(said) == 1
    # the pipeline agrees: nothing is wanted at that size
    inv = st_.inventory()
    assert wanted_quotes(st_.params, rules, st_.bid, st_.ask, inv) == ([None, None], [None, None])


def test_quotes_crossing_max_notional_as_the_price_rises_stop_at_50_usdt():
    """0.0008 BTC is 48 USDT at 60,000 and over 50 USDT above 62,500: as the market walks up through it
    the core keeps quoting until then, and never emits a Place worth more than 50 USDT."""
    rules = btc_with_max_notional()
    cfg = PairConfig(symbol="BTCUSDT", reference="touch", spread="2ticks", size=Decimal("0.0008"), levels=3)
    loop = start(rules, cfg, "1", "100000")
    bid, ts = 6_000_000, 0
    while bid < 6_400_000:
        bid += 2_000
        ts += 1_000_000
        loop.book(ts, bid, bid + 1)
    places = [i for i in loop.emitted if isinstance(i, Place)]
    assert places, "the core quoted below 62,500"
    assert max(usdt(rules, p) for p in places) <= 50
    assert any(usdt(rules, p) > Decimal("49.9") for p in places)  # it did quote up to the limit
    for p in places:
        rules.check_order(p.side, p.price, p.qty, p.price)
    assert all(code == 0 for kind, _, code, _ in loop.answers if kind == "place")  # the exchange took them all
    assert "maximum order value 50 USDT" in loop.core.pair("BTCUSDT").reason
    assert loop.core.open_orders() == []  # above 62,500 nothing may rest


orders = st.tuples(
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(-5, 9_000_000),  # price ticks (0.01 USDT)
    st.integers(-5, 200_000),  # qty steps (0.00001 BTC)
    st.integers(0, 6_100_000),  # the mid (0: no book yet)
)


@settings(max_examples=300, deadline=None)
@given(order=orders, capped=st.booleans())
def test_rules_and_exchange_judge_every_order_alike(order, capped):
    """``check_order`` and the simulated exchange's -1013 answer name the same filter, or both pass."""
    side, price, qty, mid = order
    rules = btc_with_max_notional() if capped else BTC
    sim = SimExchange("trade-through", 0, 0, {"BTC": Decimal(10**6), "USDT": Decimal(10**12)})
    sim.add_symbol(rules)
    if mid:
        sim.on_book(0, mid, 1, mid + 1, 1)
    try:
        rules.check_order(side, price, qty, mid or None)
        verdict = ""
    except FilterError as e:
        verdict = e.filter_name
    r = sim.place(0, 1, "lq.x", side, price, qty, False)
    if verdict:
        assert (r.accepted, r.code, r.message) == (False, -1013, f"Filter failure: {verdict}")
    else:
        assert r.code != -1013, r


configs = st.fixed_dictionaries(
    {
        "reference": st.sampled_from(["mid", "touch"]),
        "bid_spread": st.sampled_from(["0ticks", "2ticks", "1bps", "7.5bps"]),
        "ask_spread": st.sampled_from(["1ticks", "3ticks", "2bps"]),
        "levels": st.integers(1, 3),
        "level_spacing": st.sampled_from(["1ticks", "5ticks", "1bps"]),
        "refresh_tolerance": st.sampled_from(["0ticks", "2ticks", "1bps"]),
        "skew": st.sampled_from([Decimal(0), Decimal("0.5"), Decimal(2)]),
        "max_inventory": st.sampled_from([None, Decimal("0.003"), Decimal("0.05"), Decimal(2)]),
        "price_ceiling": st.sampled_from([None, Decimal("60000.5")]),
        "sizing": st.sampled_from(
            [
                ("0.0002", "base"),
                ("0.0007", "base"),
                ("0.001", "base"),
                ("0.01", "base"),
                ("12", "quote"),
                ("45", "quote"),
            ]
        ),
    }
)


def pair_config(d: dict) -> PairConfig:
    d = dict(d)
    size, unit = d.pop("sizing")
    return PairConfig(symbol="BTCUSDT", size=Decimal(size), size_unit=unit, **d)


def run_scenario(rules, cfg, later, btc, usdt_, model, amend, moves) -> int:
    """Drive the core through ``moves`` checking every Place and the settled orders; return how many
    Places were checked."""
    loop = start(rules, cfg, btc, usdt_, model, amend_keeps_priority=amend)
    core = loop.core
    st_ = core.pair("BTCUSDT")
    checked = 0

    def check(intents: list[Intent]) -> None:
        nonlocal checked
        places = [i for i in intents if isinstance(i, Place)]
        if not places:
            return
        new = {p.client_id for p in places}
        working = [
            Quote(o.side, o.level, o.price, o.qty - o.filled)
            for o in (*st_.bids, *st_.asks)
            if o is not None and o.client_id not in new
        ]
        mid = (st_.bid + st_.ask) // 2
        bids, asks = wanted_quotes(st_.params, rules, st_.bid, st_.ask, st_.inventory(), working)
        for p in places:
            assert st_.filters.failure(p.side is Side.BUY, p.price, p.qty, mid) == ""
            rules.check_order(p.side, p.price, p.qty, mid)
            want = (bids if p.side is Side.BUY else asks)[p.level]
            assert want is not None and (want.price, want.qty) == (p.price, p.qty), (p, want)
            checked += 1

    loop.on_intents = check
    bid, ts = 6_000_000, 0
    for n, (step, spread, at, size) in enumerate(moves):
        if later is not None and n == len(moves) // 2:
            ts += 1
            try:
                loop.take(core.configure(later, ts), ts)
            except ConfigError as e:  # the budget rule refuses it at this book: nothing changed
                assert "size" in str(e) and st_.cfg == cfg
                with pytest.raises(BudgetError):
                    check_budget(later, rules, rules.price(st_.bid + st_.ask) / 2, core.balances)
        bid += step
        ts += 1_000_000
        loop.book(ts, bid, bid + spread)
        if size:  # a trade near the touch: by a seller at or below the mid, else by a buyer
            loop.trade(ts, bid + at, size, -1 if at <= spread // 2 else 1)
        if n % 7 == 3:  # the venue's balances, as an account update brings them
            loop.take(core.on_balances(loop.sim.balances(), ts), ts)
        ts += 1
        loop.book(ts, bid, bid + spread)  # settled: the same book again
        if st_.state != "quoting":
            continue
        p = st_.params
        for o in (*st_.bids, *st_.asks):
            if o is not None and o.status in ("NEW", "PARTIALLY_FILLED") and not o.amend_qty:
                assert o.qty <= size_for(p, o.price), (o, size_for(p, o.price))
        can_buy = sum(o.qty - o.filled for o in st_.bids if o is not None)
        if p.max_inv_steps and can_buy:
            assert st_.base_free + st_.base_locked + can_buy <= p.max_inv_steps
    return checked


moves = st.lists(
    st.tuples(st.integers(-6, 6), st.integers(1, 5), st.integers(-8, 8), st.integers(0, 300)), min_size=10, max_size=80
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cfg=configs,
    later=st.one_of(st.none(), configs),
    capped=st.booleans(),
    btc=st.sampled_from(["0", "0.0009", "0.004", "0.05", "10"]),
    usdt_=st.sampled_from(["0", "40", "130", "2000", "1000000"]),
    model=st.sampled_from(["realistic", "trade-through"]),
    amend=st.booleans(),
    moves=moves,
)
def test_every_place_passes_the_filters_and_is_what_the_pipeline_wants(
    cfg, later, capped, btc, usdt_, model, amend, moves
):
    """Over random configs (and a config change midway), books, trades and balances: every Place the
    core emits passes the shared filter check and is, price and quantity, what ``wanted_quotes``
    wants for its level given the orders already working. Once an update has settled, no resting
    order is larger than its level's size at its own price, and resting bids never buy past
    max_inventory."""
    rules = btc_with_max_notional() if capped else BTC
    run_scenario(rules, pair_config(cfg), later and pair_config(later), btc, usdt_, model, amend, moves)


def test_the_property_scenario_does_place_and_check_orders():
    """The scenario above is not vacuous: on a plain market it checks many Places."""
    cfg = pair_config(
        {
            "reference": "touch",
            "bid_spread": "2ticks",
            "ask_spread": "2ticks",
            "levels": 2,
            "level_spacing": "1ticks",
            "refresh_tolerance": "0ticks",
            "skew": Decimal("0.5"),
            "max_inventory": Decimal("0.05"),
            "price_ceiling": None,
            "sizing": ("45", "quote"),
        }
    )
    later = cfg.model_copy(update={"size": Decimal(20)})
    walk = [((-1) ** n * (n % 4), 1 + n % 3, n % 5 - 2, 40 * (n % 3)) for n in range(60)]
    assert run_scenario(btc_with_max_notional(), cfg, later, "0.05", "2000", "realistic", True, walk) > 30
