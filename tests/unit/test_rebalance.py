"""The active rebalance's decision: the band of the base share and its edges, the size back to the
target, maker (post-only at the touch, re-placed as it moves) and taker (IOC within the slippage, refused
beyond), the money-safety limits it shares with the quotes, and stop cancelling it. Pure functions and the
sans-I/O core, driven by hand."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqkit.domain.config import PairConfig, pair_config
from liqkit.domain.errors import ConfigError
from liqkit.domain.filters import OrderFilters
from liqkit.domain.rules import default_rules
from liqkit.domain.types import Side
from liqkit.engine.core import REBALANCE_RETRY_NS, EngineCore
from liqkit.engine.intents import Cancel, CancelAll, Place
from liqkit.quoting import INF, compile_params, rebalance_excess, rebalance_price, rebalance_qty, share_band_r2

BTC = default_rules("BTCUSDT")  # tick 0.01 USDT, step 0.00001 BTC: 60,000 USDT is 6,000,000 ticks
FILTERS = OrderFilters.from_rules(BTC)
P = 6_000_000  # the mid in ticks
R2 = 2 * P


def params(**kw):
    return compile_params(PairConfig(**{"symbol": "BTCUSDT", "rebalance_band": Decimal("0.1"), **kw}), BTC)


def share(base_steps: int, quote_units: int, r2: int = R2) -> Fraction:
    return Fraction(base_steps * r2, base_steps * r2 + 2 * quote_units)


# ---- the band and the size (pure) -----------------------------------------------------------------
def test_the_band_edges_are_inside_and_one_unit_past_them_rebalances_back_to_the_target():
    p = params()  # target 0.5, band 0.1: 40% to 60%
    base = 30_000  # 0.3 BTC; quote in tick*step units (1e-7 USDT)
    at_upper = 2 * base * P // 3  # share exactly 0.6
    assert share(base, at_upper) == Fraction(3, 5)
    assert rebalance_excess(p, R2, base, at_upper) == 0  # the edge is in the band
    # one unit of quote less: just above 60%; sell the excess back to 50%, rounded toward zero
    want = base - Fraction(base * R2 + 2 * (at_upper - 1), 2 * R2)  # B - V/(2P) in steps
    assert rebalance_excess(p, R2, base, at_upper - 1) == -int(want) and int(want) == 5_000
    at_lower = 3 * base * P // 2  # share exactly 0.4
    assert share(base, at_lower) == Fraction(2, 5)
    assert rebalance_excess(p, R2, base, at_lower) == 0
    buy = rebalance_excess(p, R2, base, at_lower + 1)  # just below 40%: buy up to 50%
    assert buy == int(Fraction(base * R2 + 2 * (at_lower + 1), 2 * R2) - base) == 7_500
    # off by default: nothing, whatever the share
    assert rebalance_excess(compile_params(PairConfig(symbol="BTCUSDT"), BTC), R2, base, 0) == 0


@settings(max_examples=300, deadline=None)
@given(
    base=st.integers(0, 10**7),
    quote=st.integers(0, 10**13),
    r2=st.integers(2, 10**8),
    target=st.sampled_from(["0.5", "0.3", "0.75", "0.1"]),
    band=st.sampled_from(["0.05", "0.1", "0.2", "0.01"]),
)
def test_share_band_r2_is_exactly_where_the_share_is_in_the_band_and_a_rebalance_never_overshoots(
    base, quote, r2, target, band
):
    if base == 0 and quote == 0:
        return
    p = params(inventory_target=Decimal(target), rebalance_band=Decimal(band))
    t, b = Fraction(target), Fraction(band)
    s = share(base, quote, r2)
    inside = t - b <= s <= t + b
    lo, hi = share_band_r2(p, base, quote)
    assert (lo <= r2 <= hi) == inside
    x = rebalance_excess(p, r2, base, quote)
    if inside:
        assert x == 0
        return
    exact = (t * (base * r2 + 2 * quote) - base * r2) / r2  # steps to trade at the mid to reach the target
    assert x == (int(exact) if exact > 0 else -int(-exact))  # rounded toward zero
    if x:  # trading it at the mid ends between where the share was and the target
        after = share(base + x, quote - Fraction(x * r2, 2), r2)
        assert (s < t) == (x > 0)
        assert min(s, t) <= after <= max(s, t)


def test_maker_prices_at_its_own_touch_and_taker_within_the_slippage_or_not_at_all():
    maker = params()
    assert rebalance_price(maker, True, P - 1, P + 1, 0) == P - 1  # a buy at the best bid
    assert rebalance_price(maker, False, P - 1, P + 1, 0) == P + 1  # a sell at the best ask
    taker = params(rebalance_mode="taker", rebalance_max_slippage="10bps")
    # 10bps of 60,000 is 60 USDT: 6,000 ticks; the buy's limit rounds down, the sell's up (toward the mid)
    assert rebalance_price(taker, True, P - 1, P + 1, 0) == P + 6_000
    assert rebalance_price(taker, False, P - 1, P + 1, 0) == P - 6_000
    # the touch beyond the slippage: refused (0)
    assert rebalance_price(taker, True, P - 7_000, P + 7_000, 0) == 0
    assert rebalance_price(taker, False, P - 7_000, P + 7_000, 0) == 0
    # never at or through our own quote on the other side: below our ask, above our bid
    assert rebalance_price(taker, True, P - 1, P + 1, P + 100) == P + 99
    assert rebalance_price(taker, False, P - 1, P + 1, P - 100) == P - 99
    assert rebalance_price(taker, False, P - 1, P + 1, P - 1) == 0  # only our own bid is there: refused
    ticks = params(rebalance_mode="taker", rebalance_max_slippage="3ticks")
    assert rebalance_price(ticks, True, P - 1, P + 1, 0) == P + 3


def test_the_size_obeys_the_money_the_order_value_cap_and_the_filters():
    p = params(max_order_notional=Decimal(1000))  # 1,000 USDT: 0.01666 BTC at 60,000
    assert rebalance_qty(p, FILTERS, True, P, 50_000, 10**15, INF, P) == 1_666  # capped by max_order_notional
    assert rebalance_qty(p, FILTERS, True, P, 500, 10**15, INF, P) == 500
    assert rebalance_qty(p, FILTERS, True, P, 500, 300 * P, INF, P) == 300  # what the quote free pays for
    assert rebalance_qty(p, FILTERS, True, P, 500, 10**15, 200, P) == 200  # max_inventory's room
    assert rebalance_qty(p, FILTERS, False, P, -500, 120, INF, P) == 120  # the base free
    assert rebalance_qty(p, FILTERS, False, P, -10, 10**9, INF, P) == 0  # 6 USDT: under the minimum order value


# ---- config ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"rebalance_band": 0}, "rebalance_band", "greater than 0"),
        ({"rebalance_band": 1}, "rebalance_band", "less than 1"),
        ({"rebalance_band": "a lot"}, "rebalance_band", "decimal"),
        ({"rebalance_band": 0.6}, "rebalance_band", "covers every share"),
        ({"rebalance_band": 0.7, "inventory_target": 0.3}, "rebalance_band", "use a band below 0.7"),
        ({"rebalance_mode": "market"}, "rebalance_mode", "'maker' or 'taker'"),
        ({"rebalance_max_slippage": "0bps"}, "rebalance_max_slippage", "above 0"),
        ({"rebalance_max_slippage": "2000bps"}, "rebalance_max_slippage", "1000bps"),
        ({"rebalance_max_slippage": "1.5ticks"}, "rebalance_max_slippage", "whole number"),
        ({"rebalance_max_slippage": 10}, "rebalance_max_slippage", "bare number"),
    ],
)
def test_bad_rebalance_settings_are_refused_naming_the_field(changes, field, words):
    with pytest.raises(ConfigError) as e:
        pair_config({"symbol": "BTCUSDT", **changes})
    text = str(e.value)
    assert f"pairs.{field}" in text and words in text, text
    assert "Traceback" not in text


def test_a_band_that_covers_most_but_not_every_share_is_accepted():
    cfg = pair_config({"symbol": "BTCUSDT", "rebalance_band": 0.3, "inventory_target": 0.8})  # 0.5 to 1.1
    assert cfg.rebalance_band == Decimal("0.3") and cfg.rebalance_mode == "maker"
    assert str(cfg.rebalance_max_slippage) == "10bps"


# ---- the core -------------------------------------------------------------------------------------
def core_with(btc: str, usdt: str, **kw) -> EngineCore:
    cfg = {"symbol": "BTCUSDT", "reference": "touch", "spread": "50ticks", "refresh_tolerance": "5ticks"}
    core = EngineCore(run_nonce="test")
    core.add_pair(PairConfig(**{**cfg, "rebalance_band": Decimal("0.1"), **kw}), BTC)
    core.on_balances({"BTC": (Decimal(btc), Decimal(0)), "USDT": (Decimal(usdt), Decimal(0))}, 0)
    assert core.run("BTCUSDT", 1) == [CancelAll("BTCUSDT", True)]
    return core


def rebal_orders(core: EngineCore) -> list:
    return [o for o in core.orders.values() if o.rebalance]


def rebal_places(out) -> list[Place]:
    return [i for i in out if isinstance(i, Place) and ".R" in i.client_id]


def test_maker_rebalance_rests_at_the_touch_moves_with_it_and_never_has_two_orders():
    # 1 BTC and 20,000 USDT at 60,000: 75% BTC, above 60%; sell back to 50%: 0.33333 BTC, capped by the
    # order value cap to 100,000 USDT / 60,000.01 (1.66666 BTC): the whole excess, one order
    core = core_with("1", "20000", max_order_notional=Decimal(100_000))
    out = core.on_book(0, 2, P, 10, P + 1, 10)
    (rb,) = rebal_places(out)
    assert (rb.side, rb.price, rb.qty, rb.post_only, rb.ioc) == (Side.SELL, P + 1, 33_333, True, False)
    st = core.pair("BTCUSDT")
    assert "rebalancing" in st.reason and "75.0%" in st.reason and "post-only at the touch" in st.reason
    assert core.on_accepted(rb.client_id, 3) == []
    assert rebal_places(core.on_book(0, 4, P + 3, 10, P + 6, 10)) == []  # 5 ticks: kept where it is
    out = core.on_book(0, 5, P + 5, 10, P + 7, 10)  # 6 ticks: cancelled, and not yet replaced
    assert Cancel("BTCUSDT", rb.client_id) in out and rebal_places(out) == []
    assert rebal_places(core.on_book(0, 6, P + 5, 10, P + 8, 10)) == []  # the cancel unconfirmed: wait
    assert len(rebal_orders(core)) == 1
    again = rebal_places(core.on_canceled(rb.client_id, 7))  # confirmed: at the touch it moved to
    assert [(p.side, p.price) for p in again] == [(Side.SELL, P + 8)]
    assert len(rebal_orders(core)) == 1 and again[0].client_id != rb.client_id


def test_a_partial_fill_that_brings_the_share_into_the_band_cancels_the_rest():
    core = core_with("1", "20000", max_order_notional=Decimal(100_000))
    (rb,) = rebal_places(core.on_book(0, 2, P, 10, P + 1, 10))
    core.on_accepted(rb.client_id, 3)
    # 0.20001 BTC sold at 60,000.01: 0.79999 BTC and 32,000.6 USDT, 59.999% of the value: back in the band
    assert core.on_fill(rb.client_id, 4, P + 1, 20_001, 0, True, 1) == []
    out = core.on_book(0, 5, P, 10, P + 1, 10)
    assert Cancel("BTCUSDT", rb.client_id) in out and rebal_places(out) == []
    assert core.pair("BTCUSDT").reason.startswith("rebalanced:")
    core.on_canceled(rb.client_id, 6)
    assert rebal_places(core.on_book(0, 7, P, 10, P + 1, 10)) == [] and rebal_orders(core) == []


def test_taker_rebalance_is_one_ioc_within_the_slippage_and_waits_after_one_that_took_nothing():
    core = core_with("0.2", "100000", rebalance_mode="taker", max_order_notional=Decimal(100_000))
    # 0.2 BTC (12,000 USDT) of 112,000: 10.7%, below 40%; buy up to 50%: 0.73333 BTC
    (rb,) = rebal_places(core.on_book(0, 2, P, 10, P + 2, 10))
    assert (rb.side, rb.post_only, rb.ioc, rb.qty) == (Side.BUY, False, True, 73_333)
    assert rb.price == (2 * P + 2) * (10**8 + 100_000) // (2 * 10**8)  # mid + 10bps, rounded down
    assert "IOC up to" in core.pair("BTCUSDT").reason
    core.on_accepted(rb.client_id, 3)
    assert rebal_places(core.on_book(0, 4, P, 10, P + 2, 10)) == []  # an IOC on its way: one at a time
    core.on_order_status(rb.client_id, "EXPIRED", 0, 5)  # it met nothing
    assert rebal_orders(core) == []
    assert rebal_places(core.on_book(0, 6, P, 10, P + 2, 10)) == []  # wait a second after one that took nothing
    (again,) = rebal_places(core.on_book(0, 5 + REBALANCE_RETRY_NS, P, 10, P + 2, 10))
    core.on_accepted(again.client_id, 7 + REBALANCE_RETRY_NS)
    assert core.on_fill(again.client_id, 8 + REBALANCE_RETRY_NS, P + 2, again.qty, 0, False, 9) == []
    st = core.pair("BTCUSDT")
    assert rebal_orders(core) == [] and st.pos == again.qty
    assert rebal_places(core.on_book(0, 9 + REBALANCE_RETRY_NS, P, 10, P + 2, 10)) == []  # in the band now
    assert st.reason.startswith("rebalanced:") and "50.0%" in st.reason


def test_taker_refused_beyond_the_slippage_says_why_and_takes_once_the_book_is_back():
    core = core_with("1", "20000", rebalance_mode="taker", rebalance_max_slippage="5bps")
    assert rebal_places(core.on_book(0, 2, P - 4_000, 10, P + 4_000, 10)) == []  # the bid 6.7bps below the mid
    st = core.pair("BTCUSDT")
    assert "rebalance_max_slippage 5bps" in st.reason and "not taken" in st.reason
    (rb,) = rebal_places(core.on_book(0, 3, P, 10, P + 1, 10))
    assert rb.side is Side.SELL and rb.ioc and rb.price == -((-(2 * P + 1) * (10**8 - 50_000)) // (2 * 10**8))


def test_stop_cancels_the_rebalancing_order_like_the_quotes():
    core = core_with("1", "20000")
    out = core.on_book(0, 2, P, 10, P + 1, 10)
    (rb,) = rebal_places(out)
    for p in out:
        core.on_accepted(p.client_id, 3)
    stop = core.stop("BTCUSDT", 4)
    cancelled = {c.client_id for c in stop if isinstance(c, Cancel)}
    assert rb.client_id in cancelled and cancelled == {p.client_id for p in out if isinstance(p, Place)}
    assert stop[-1] == CancelAll("BTCUSDT", True)
    core.on_canceled(rb.client_id, 5)
    assert rebal_orders(core) == [] and rebal_places(core.on_book(0, 6, P, 10, P + 1, 10)) == []


def test_the_rebalance_obeys_the_quotes_limits():
    # the order value cap: a 0.33333 BTC excess goes out 1,000 USDT at a time
    core = core_with("1", "20000", max_order_notional=Decimal(1000))
    (rb,) = rebal_places(core.on_book(0, 2, P, 10, P + 1, 10))
    assert rb.qty == 1_666 and rb.qty * rb.price <= 1000 * 10**7
    # price_floor: below it only buys, so no rebalancing sell
    core = core_with("1", "20000", price_floor=Decimal(61_000))
    assert rebal_places(core.on_book(0, 2, P, 10, P + 1, 10)) == []
    # max_inventory: a rebalancing buy stops at it, and the bid quotes then have no room left
    core = core_with("0.2", "100000", max_inventory=Decimal("0.25"), max_order_notional=Decimal(100_000))
    out = core.on_book(0, 2, P, 10, P + 2, 10)
    (rb,) = rebal_places(out)
    assert rb.side is Side.BUY and rb.qty == 5_000  # 0.25 - 0.2 BTC
    assert sum(i.qty for i in out if isinstance(i, Place) and i.side is Side.BUY) == 5_000
    # the money: what the rebalancing buy holds is not the bid quote's (70 USDT: 31.8 for it, the rest a bid)
    core = core_with("0.0001", "70")
    out = core.on_book(0, 2, P, 10, P + 2, 10)
    (rb,) = rebal_places(out)
    (bid,) = [i for i in out if isinstance(i, Place) and i.side is Side.BUY and i is not rb]
    assert rb.qty == 53 and bid.qty < 100  # the bid is cut from its size, 0.001 BTC, to the money left
    assert rb.qty * rb.price + bid.qty * bid.price <= 70 * 10**7


def test_rebalance_off_places_no_such_order_whatever_the_share():
    core = EngineCore(run_nonce="test")
    core.add_pair(PairConfig(symbol="BTCUSDT", reference="touch", spread="50ticks"), BTC)
    core.on_balances({"BTC": (Decimal(10), Decimal(0)), "USDT": (Decimal(1), Decimal(0))}, 0)
    core.run("BTCUSDT", 1)
    out = core.on_book(0, 2, P, 10, P + 1, 10)
    assert out and rebal_places(out) == [] and core.pair("BTCUSDT").params.rebal_on is False


def test_turning_it_off_cancels_the_order_and_the_quotes_keep_going():
    core = core_with("1", "20000")
    out = core.on_book(0, 2, P, 10, P + 1, 10)
    (rb,) = rebal_places(out)
    for p in out:
        core.on_accepted(p.client_id, 3)
    cfg = core.pair("BTCUSDT").cfg.model_copy(update={"rebalance_band": None})
    changed = core.configure(cfg, 4)
    assert Cancel("BTCUSDT", rb.client_id) in changed
    core.on_canceled(rb.client_id, 5)
    assert rebal_orders(core) == [] and rebal_places(core.on_book(0, 6, P, 10, P + 1, 10)) == []
    assert core.pair("BTCUSDT").state == "quoting"
