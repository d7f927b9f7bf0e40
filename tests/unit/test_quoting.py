"""The quoting pipeline: rounding direction, exact band inversion, filters, skew, sizes."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqkit.domain.config import PairConfig
from liqkit.domain.rules import default_rules
from liqkit.domain.types import Side
from liqkit.quoting import (
    PPB,
    Inventory,
    ask_price,
    ask_r2_range,
    bid_price,
    bid_r2_range,
    compile_params,
    level_prices,
    skew_shift,
    wanted_quotes,
)

BTC = default_rules("BTCUSDT")
RICH = Inventory(base_steps=10**8, quote_units=10**16, base_free_for_sells=10**8, quote_free_for_buys=10**16)

dist_t = st.integers(0, 50)
dist_p = st.integers(0, 3_000_000)  # up to 300 bps


@given(r2=st.integers(2, 10**9), t=dist_t, p=dist_p)
def test_bid_rounds_down_and_ask_rounds_up(r2, t, p):
    exact_bid = Fraction(r2, 2) * (1 - Fraction(p, PPB)) - t
    exact_ask = Fraction(r2, 2) * (1 + Fraction(p, PPB)) + t
    b, a = bid_price(r2, t, p), ask_price(r2, t, p)
    assert b <= exact_bid < b + 1
    assert a - 1 < exact_ask <= a
    assert b < a or (t == 0 and p == 0)


@settings(max_examples=200)
@given(r2=st.integers(1000, 10**7), t=dist_t, p=dist_p, lo=st.integers(-3, 3), width=st.integers(0, 6))
def test_r2_ranges_invert_prices_exactly(r2, t, p, lo, width):
    """Brute force around the reference: r2 is in the range iff the price is in [L, H]."""
    L = bid_price(r2, t, p) + lo
    H = L + width
    r_lo, r_hi = bid_r2_range(t, p, L, H)
    for x in range(r2 - 400, r2 + 400):
        assert (r_lo <= x <= r_hi) == (L <= bid_price(x, t, p) <= H), x
    L = ask_price(r2, t, p) + lo
    H = L + width
    r_lo, r_hi = ask_r2_range(t, p, L, H)
    for x in range(r2 - 400, r2 + 400):
        assert (r_lo <= x <= r_hi) == (L <= ask_price(x, t, p) <= H), x


def test_touch_reference_in_ticks():
    p = compile_params(
        PairConfig(symbol="BTCUSDT", reference="touch", spread="2ticks", level_spacing="3ticks", levels=3), BTC
    )
    bids, asks = level_prices(p, 6_000_000, 6_000_003, 0)
    assert bids == [5_999_998, 5_999_995, 5_999_992]
    assert asks == [6_000_005, 6_000_008, 6_000_011]


def test_mid_reference_in_bps_never_crosses_and_rounds_outward():
    p = compile_params(PairConfig(symbol="BTCUSDT", reference="mid", spread="0.001bps"), BTC)
    bid, ask = 6_000_000, 6_000_001  # mid 6,000,000.5 ticks; 0.001 bps of it is 0.6 ticks
    bids, asks = level_prices(p, bid, ask, 0)
    assert bids == [5_999_999] and asks == [6_000_002]  # 5,999,999.9 down, 6,000,001.1 up
    p0 = compile_params(PairConfig(symbol="BTCUSDT", reference="mid", spread="0ticks"), BTC)
    assert level_prices(p0, bid, ask, 0) == ([bid], [ask])  # at the mid: joins the touch, never crosses


def test_min_spread_clamps_after_skew():
    cfg = PairConfig(symbol="BTCUSDT", reference="mid", spread="1tick", min_spread="3ticks")
    p = compile_params(cfg, BTC)
    bids, asks = level_prices(p, 6_000_000, 6_000_002, 0)
    assert bids == [5_999_998] and asks == [6_000_004]


def test_skew_lowers_quotes_when_holding_too_much_base():
    cfg = PairConfig(symbol="BTCUSDT", spread="10bps", skew=Decimal(1), inventory_target=Decimal("0.5"))
    p = compile_params(cfg, BTC)
    r2 = 12_000_000  # mid 60000.00
    heavy = Inventory(base_steps=200_000, quote_units=0, base_free_for_sells=200_000, quote_free_for_buys=0)
    light = Inventory(base_steps=0, quote_units=12 * 10**12, base_free_for_sells=0, quote_free_for_buys=12 * 10**12)
    even = Inventory(
        base_steps=100_000, quote_units=6 * 10**11, base_free_for_sells=100_000, quote_free_for_buys=6 * 10**11
    )
    assert skew_shift(p, r2, heavy) < 0 < skew_shift(p, r2, light)
    assert skew_shift(p, r2, even) == 0
    # a full deviation moves quotes by the half spread: 10 bps of 60000 = 6000 ticks
    assert skew_shift(p, r2, heavy) == -6000


def test_sizes_limited_by_balance_and_filters():
    p = compile_params(PairConfig(symbol="BTCUSDT", spread="10bps", size=Decimal("0.01"), levels=2), BTC)
    poor = Inventory(base_steps=1500, quote_units=10**15, base_free_for_sells=1500, quote_free_for_buys=10**15)
    bids, asks = wanted_quotes(p, BTC, 6_000_000, 6_000_001, poor)
    assert [q.qty for q in bids if q] == [1000, 1000]
    assert asks[0] is not None and asks[0].qty == 1000
    assert asks[1] is not None and asks[1].qty == 500  # what is left of the base balance


def test_min_notional_drops_a_quote():
    # 0.0001 BTC at 60,000 is 6 USDT: below the shipped BTCUSDT rule of 10 USDT
    with pytest.raises(ValueError, match=r"minimum quantity|LOT_SIZE"):
        compile_params(PairConfig(symbol="BTCUSDT", size=Decimal("0.000001")), BTC)
    p = compile_params(PairConfig(symbol="BTCUSDT", size=Decimal("0.0001")), BTC)
    bids, asks = wanted_quotes(p, BTC, 6_000_000, 6_000_001, RICH)
    assert bids == [None] and asks == [None]


def test_quote_notional_size_converts_down_to_steps():
    p = compile_params(
        PairConfig(symbol="BTCUSDT", reference="touch", spread="0ticks", size=Decimal(100), size_unit="quote"), BTC
    )
    bids, _ = wanted_quotes(p, BTC, 6_000_000, 6_000_001, RICH)
    assert bids[0] is not None
    assert bids[0].qty == 166  # 100 / 60000 = 0.0016666 -> 0.00166 BTC
    assert bids[0].price * bids[0].qty * BTC.tick * BTC.step <= 100


def test_ceiling_and_floor_switch_sides_off():
    cfg = PairConfig(symbol="BTCUSDT", price_ceiling=Decimal(59000), price_floor=Decimal(50000))
    p = compile_params(cfg, BTC)
    bids, asks = wanted_quotes(p, BTC, 6_000_000, 6_000_001, RICH)
    assert bids == [None] and asks[0] is not None and asks[0].side is Side.SELL


def test_max_inventory_stops_buying():
    p = compile_params(PairConfig(symbol="BTCUSDT", max_inventory=Decimal("0.5")), BTC)
    full = RICH._replace(base_steps=50_000)
    bids, asks = wanted_quotes(p, BTC, 6_000_000, 6_000_001, full)
    assert bids == [None] and asks[0] is not None


def test_too_wide_spread_is_refused_naming_the_field():
    with pytest.raises(ValueError, match="bid_spread"):
        compile_params(PairConfig(symbol="BTCUSDT", spread="6000bps"), BTC)


def _skew_shift_reference(cfg: PairConfig, p, r2: int, inv: Inventory) -> int:
    """The skew shift by its definition, in Fractions from the config (the engine computes it in integers)."""
    target, skew = Fraction(str(cfg.inventory_target)), Fraction(str(cfg.skew))
    base_value = inv.base_steps * r2
    total = base_value + 2 * inv.quote_units
    if total <= 0:
        return 0
    span = max(target, 1 - target)
    dev = max(Fraction(-1), min(Fraction(1), (Fraction(base_value, total) - target) / span))
    half = Fraction(ask_price(r2, p.ask_t[0], p.ask_p[0]) - bid_price(r2, p.bid_t[0], p.bid_p[0]), 2)
    return round(-skew * dev * half)


@given(
    r2=st.integers(2, 10**9),
    base=st.integers(0, 10**9),
    quote=st.integers(0, 10**17),
    target=st.sampled_from(["0", "0.1", "0.25", "0.5", "0.7", "1"]),
    skew=st.sampled_from(["0.1", "0.5", "1", "2.5", "10"]),
    spread=st.sampled_from(["1ticks", "3ticks", "1bps", "10bps", "7.5bps"]),
)
@settings(max_examples=500)
def test_integer_skew_shift_equals_its_definition(r2, base, quote, target, skew, spread):
    cfg = PairConfig(symbol="BTCUSDT", spread=spread, skew=Decimal(skew), inventory_target=Decimal(target))
    p = compile_params(cfg, BTC)
    inv = Inventory(base_steps=base, quote_units=quote, base_free_for_sells=base, quote_free_for_buys=quote)
    assert skew_shift(p, r2, inv) == _skew_shift_reference(cfg, p, r2, inv)
