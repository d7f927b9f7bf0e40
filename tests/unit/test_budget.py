"""The budget rule (liqkit.domain.budget) and the engine's own cap on an order's value."""

from decimal import Decimal

import pytest
from core_loop import CoreLoop

from liqkit.domain.budget import DEFAULT_MAX_ORDER_NOTIONAL, BudgetError, check_budget
from liqkit.domain.config import PairConfig, load_config, pair_config, update_pair
from liqkit.domain.errors import ConfigError
from liqkit.domain.filters import OrderFilters
from liqkit.domain.rules import default_rules
from liqkit.engine.core import EngineCore
from liqkit.engine.intents import Place
from liqkit.engine.records import StateRecord
from liqkit.quoting import compile_params, quote_qty
from liqkit.venues.sim.exchange import SimExchange

BTC = default_rules("BTCUSDT")


def test_the_default_cap_is_1000_quote_and_documented():
    field = PairConfig.model_fields["max_order_notional"]
    assert PairConfig(symbol="BTCUSDT").max_order_notional == DEFAULT_MAX_ORDER_NOTIONAL == Decimal(1000)
    assert "quote asset" in (field.description or "")


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"size": "1e300"}, ["size", "1E+15"]),
        ({"size": "NaN"}, ["size", "finite"]),
        ({"size": "Infinity"}, ["size", "finite"]),
        ({"max_order_notional": "1e20"}, ["max_order_notional", "1E+15"]),
        ({"max_inventory": "-Infinity"}, ["max_inventory"]),
        ({"size": "2000", "size_unit": "quote"}, ["size", "2000", "max_order_notional 1000"]),
    ],
)
def test_config_alone_refuses_absurd_and_non_finite_amounts(changes, names):
    with pytest.raises(ConfigError) as e:
        update_pair(PairConfig(symbol="BTCUSDT"), changes)
    for name in names:
        assert name in str(e.value)


def test_a_config_file_with_an_absurd_size_is_refused_naming_the_field(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[pairs.BTCUSDT]\nsize = "500"\nmax_order_notional = "1e300"\n')
    with pytest.raises(ConfigError, match=r"pairs\.BTCUSDT\.max_order_notional"):
        load_config(p)


def test_a_base_size_is_valued_at_the_current_price():
    cfg = pair_config({"symbol": "BTCUSDT", "size": "0.02"})  # 1,200 USDT at 60,000
    check_budget(cfg, BTC)  # at the rules' lowest price (config load) it cannot be told: accepted
    check_budget(cfg, BTC, Decimal(40_000))  # 800 USDT
    with pytest.raises(BudgetError) as e:
        check_budget(cfg, BTC, Decimal(60_000))
    assert str(e.value).startswith("size = 0.02 BTC: one order would be worth about 1200.00 USDT")
    assert "above max_order_notional 1000 USDT" in str(e.value)
    raised = cfg.model_copy(update={"max_order_notional": Decimal(2000)})
    check_budget(raised, BTC, Decimal(60_000))


def test_symbol_limits_max_inventory_and_balances_bound_the_size():
    big = pair_config({"symbol": "BTCUSDT", "size": "10000", "max_order_notional": "1e15"})
    with pytest.raises(BudgetError, match=r"maximum quantity 9000 \(LOT_SIZE maxQty\)"):
        check_budget(big, BTC)
    cfg = pair_config({"symbol": "BTCUSDT", "size": "0.01"})
    poor = {"USDT": (Decimal(100), Decimal(0)), "BTC": (Decimal("0.001"), Decimal(0))}
    with pytest.raises(BudgetError, match=r"more than either side can place \(100 USDT to buy; 0\.001 BTC to sell"):
        check_budget(cfg, BTC, Decimal(60_000), poor)
    rich = {"USDT": (Decimal(10_000), Decimal(0)), "BTC": (Decimal("0.001"), Decimal(0))}
    check_budget(cfg, BTC, Decimal(60_000), rich)  # buys 0.01 in full
    inv = cfg.model_copy(update={"max_inventory": Decimal("0.005")})
    check_budget(inv, BTC, Decimal(60_000))  # balances unknown: bids are cut to the room, not refused
    with pytest.raises(BudgetError, match=r"to buy, max_inventory 0\.005 BTC; 0\.001 BTC to sell"):
        check_budget(inv, BTC, Decimal(60_000), rich)
    check_budget(cfg, BTC, Decimal(60_000), {"BTC": (Decimal("0.005"), Decimal("0.005"))})  # sells 0.01
    check_budget(cfg, BTC, Decimal(60_000), {})  # balances unknown: not a reason to refuse


def test_the_cap_is_one_integer_bound_in_the_compiled_params():
    p = compile_params(pair_config({"symbol": "BTCUSDT", "size": "0.01", "max_order_notional": "700"}), BTC)
    assert p.max_order_units == 700 * 10**7  # 700 USDT in (0.01 x 0.00001) units
    filters = OrderFilters.from_rules(BTC)
    assert quote_qty(p, filters, True, 7_000_000, 10**15, 10**9, 7_000_000) == 1_000  # 0.01 at 70,000: 700
    assert quote_qty(p, filters, True, 7_000_001, 10**15, 10**9, 7_000_001) == 0  # a cent more: not quoted


def start(cfg: PairConfig) -> CoreLoop:
    core = EngineCore(run_nonce="budget")
    core.add_pair(cfg, BTC)
    sim = SimExchange("realistic", 0, 0, {"BTC": Decimal(10), "USDT": Decimal(1_000_000)})
    sim.add_symbol(BTC)
    core.on_balances(sim.balances(), 0)
    loop = CoreLoop(core, sim)
    loop.take(core.run("BTCUSDT", 0), 0)
    return loop


def test_the_engine_never_places_above_the_cap_as_the_price_rises_and_says_so_once():
    """0.015 BTC is 900 USDT at 60,000 and over 1,000 above 66,667: the core quotes below that and
    places nothing worth more above it, explaining the skipped quotes once."""
    loop = start(PairConfig(symbol="BTCUSDT", reference="touch", spread="2ticks", size=Decimal("0.015")))
    bid, ts = 6_000_000, 0
    while bid < 7_000_000:
        bid += 5_000
        ts += 1_000_000
        loop.book(ts, bid, bid + 1)
    places = [i for i in loop.emitted if isinstance(i, Place)]
    worth = [BTC.price(p.price) * BTC.qty(p.qty) for p in places]
    assert places and max(worth) <= 1000 and max(worth) > 990
    st = loop.core.pair("BTCUSDT")
    assert st.state == "quoting" and "over max_order_notional 1000 USDT" in st.reason
    said = [e for e in loop.core.event_log if isinstance(e, StateRecord) and "max_order_notional" in e.reason]
    assert len(said) == 1
    assert loop.core.open_orders() == []  # above 66,667 nothing may rest


def test_lowering_the_cap_takes_down_what_rests_above_it_and_a_config_over_it_is_refused():
    loop = start(PairConfig(symbol="BTCUSDT", reference="touch", spread="2ticks", size=Decimal("0.01")))
    loop.book(1_000_000, 6_000_000, 6_000_001)
    assert len(loop.core.open_orders()) == 2  # 600 USDT each
    core, st = loop.core, loop.core.pair("BTCUSDT")
    with pytest.raises(ConfigError, match=r"pairs\.BTCUSDT\.size = 0\.02 BTC: .*1200\.00 USDT at the current price"):
        core.configure(st.cfg.model_copy(update={"size": Decimal("0.02")}), 2_000_000)
    assert st.cfg.size == Decimal("0.01") and len(core.open_orders()) == 2  # nothing changed
    with pytest.raises(ConfigError, match="max_order_notional"):
        core.configure(st.cfg.model_copy(update={"max_order_notional": Decimal(500)}), 2_000_000)
    lower = st.cfg.model_copy(update={"max_order_notional": Decimal(500), "size": Decimal("0.008")})
    out = core.configure(lower, 2_000_000)
    assert {type(i).__name__ for i in out} == {"Cancel"}  # the 600 USDT orders come down first


def test_a_side_switched_off_and_a_side_without_money_are_each_explained_once():
    """A price ceiling under the market stops the bids; no BTC stops the asks: two reasons, each said
    once over many book updates (neither re-announces the other)."""
    core = EngineCore(run_nonce="off")
    cfg = PairConfig(symbol="BTCUSDT", reference="touch", spread="2ticks", price_ceiling=Decimal(50_000))
    core.add_pair(cfg, BTC)
    sim = SimExchange("realistic", 0, 0, {"BTC": Decimal(0), "USDT": Decimal(100_000)})
    sim.add_symbol(BTC)
    core.on_balances(sim.balances(), 0)
    loop = CoreLoop(core, sim)
    loop.take(core.run("BTCUSDT", 0), 0)
    for n in range(1, 60):
        loop.book(n * 1_000_000, 6_000_000 + n % 7, 6_000_001 + n % 7)
    assert [i for i in loop.emitted if isinstance(i, Place)] == []
    said = [e.reason for e in core.event_log if isinstance(e, StateRecord) and e.reason != "run"]
    assert len(said) == 2, said
    assert any("no buy orders: the mid 60000" in r and "above price_ceiling 50000" in r for r in said)
    assert any(r.startswith("not enough BTC to sell") for r in said)
