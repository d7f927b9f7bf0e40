"""Model-based quoting (``model = "glft"`` / ``"as"``): the closed forms against values worked out by
hand, their monotonicity, the clamps, the running volatility, and the engine core quoting with them.

The hand values (30-digit decimal arithmetic, independent of the code under test) for GLFT with
gamma = 0.1, k = 1, A = 2 (per second), sigma = 2 (per sqrt second), q = 3 lots, Delta = 1 lot, xi = gamma:
x = gamma/k = 0.1; c1 = ln(1.1)/0.1 = 0.953101798043; 1.1^11 = 2.85311670611;
c2 = sqrt(0.1/(2*2*1) * 1.1^11) = sqrt(0.0713279176528) = 0.267072869556;
half spread = c1 + sigma*c2/2 = 1.220174667599; skew = sigma*c2 = 0.534145739112 per lot;
bid = half + 3*skew = 2.822611884934; ask = half - 3*skew = -0.382262549736.
Avellaneda-Stoikov with the same gamma, k, sigma and T = 10 s: skew = gamma*sigma^2*T = 4 per lot,
half = ln(1.1)/0.1 + 4/2 = 2.953101798043; bid = 14.953101798043, ask = -9.046898201957.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqkit.domain.config import Distance, PairConfig
from liqkit.domain.rules import default_rules
from liqkit.engine.core import EngineCore
from liqkit.engine.intents import Place, Replace
from liqkit.quoting import (
    MidVariance,
    as_depths,
    compile_params,
    glft_coefficients,
    glft_depths,
    level_prices,
    model_depths,
    with_depths,
)

BTC = default_rules("BTCUSDT")  # tick 0.01, step 0.00001
BAL = {"BTC": (Decimal(10), Decimal(0)), "USDT": (Decimal(1_000_000), Decimal(0))}
S = 1_000_000_000


def glft(**kw) -> PairConfig:
    base = {
        "symbol": "BTCUSDT",
        "model": "glft",
        "gamma": 0.001,
        "intensity_a": "2/s",
        "intensity_k": "0.01/tick",
        "max_spread": "400ticks",
        "refresh_tolerance": "0ticks",
    }
    base.update(kw)
    return PairConfig(**base)


# ---- the closed forms -----------------------------------------------------------------------------
def test_glft_coefficients_and_depths_match_the_hand_values():
    c1, c2 = glft_coefficients(0.1, 2.0, 1.0)
    assert c1 == pytest.approx(0.953101798043, rel=1e-11)
    assert c2 == pytest.approx(0.267072869556, rel=1e-11)
    bid, ask = glft_depths(0.1, 2.0, 1.0, 2.0, 3.0)
    assert bid == pytest.approx(2.822611884934, rel=1e-11)
    assert ask == pytest.approx(-0.382262549736, rel=1e-11)
    flat = glft_depths(0.1, 2.0, 1.0, 2.0, 0.0)
    assert flat[0] == flat[1] == pytest.approx(1.220174667599, rel=1e-11)
    short = glft_depths(0.1, 2.0, 1.0, 2.0, -3.0)  # short: the mirror image
    assert short == pytest.approx((ask, bid), rel=1e-12)


def test_avellaneda_stoikov_depths_match_the_hand_values():
    bid, ask = as_depths(0.1, 1.0, 2.0, 10.0, 3.0)
    assert bid == pytest.approx(14.953101798043, rel=1e-11)
    assert ask == pytest.approx(-9.046898201957, rel=1e-11)


def test_long_inventory_lowers_both_quotes_short_raises_them():
    for q in (1.0, 5.0):
        b0, a0 = glft_depths(0.1, 2.0, 1.0, 2.0, 0.0)
        b, a = glft_depths(0.1, 2.0, 1.0, 2.0, q)
        assert b > b0 and a < a0  # bid farther below the mid, ask closer above it: both lower
        b, a = glft_depths(0.1, 2.0, 1.0, 2.0, -q)
        assert b < b0 and a > a0


# the ranges liqkit's users meet: per bps or per tick, small to large (the formulas are homogeneous)
gammas = st.floats(1e-4, 5.0)
intensities = st.floats(0.01, 100.0)
decays = st.floats(0.01, 20.0)
sigmas = st.floats(0.0, 20.0)
lots = st.floats(-50.0, 50.0)


@settings(max_examples=300, deadline=None)
@given(gammas, intensities, decays, sigmas, sigmas, lots)
def test_more_volatility_widens_the_spread(gamma, a, k, s1, s2, q):
    lo, hi = sorted((s1, s2))
    b1, a1 = glft_depths(gamma, a, k, lo, q)
    b2, a2 = glft_depths(gamma, a, k, hi, q)
    assert b2 + a2 >= b1 + a1
    if hi > lo * 1.001 + 1e-9:
        assert b2 + a2 > b1 + a1
    b1, a1 = as_depths(gamma, k, lo, 30.0, q)
    b2, a2 = as_depths(gamma, k, hi, 30.0, q)
    assert b2 + a2 >= b1 + a1


@settings(max_examples=300, deadline=None)
@given(gammas, intensities, decays, st.floats(0.01, 20.0), lots, lots)
def test_more_inventory_skews_more_and_the_sign_follows_it(gamma, a, k, sigma, q1, q2):
    lo, hi = sorted((abs(q1), abs(q2)))
    for sign in (1.0, -1.0):
        b1, a1 = glft_depths(gamma, a, k, sigma, sign * lo)
        b2, a2 = glft_depths(gamma, a, k, sigma, sign * hi)
        assert abs(b2 - a2) >= abs(b1 - a1) - 1e-9 * (1 + abs(b1 - a1))
        if hi > 1e-6:
            assert (b2 - a2) * sign > 0  # long: the bid is the farther side (quotes lowered)


@settings(max_examples=300, deadline=None)
@given(gammas, gammas, intensities, decays, sigmas)
def test_more_risk_aversion_skews_more(g1, g2, a, k, sigma):
    lo, hi = sorted((g1, g2))
    assert glft_coefficients(hi, a, k)[1] >= glft_coefficients(lo, a, k)[1] * (1 - 1e-12)
    assert (as_depths(hi, k, sigma, 30.0, 1.0)[0] - as_depths(hi, k, sigma, 30.0, 1.0)[1]) >= (
        as_depths(lo, k, sigma, 30.0, 1.0)[0] - as_depths(lo, k, sigma, 30.0, 1.0)[1]
    ) * (1 - 1e-12)


@settings(max_examples=300, deadline=None)
@given(gammas, gammas, intensities, decays, st.floats(1.0, 10.0), lots)
def test_more_risk_aversion_widens_the_spread_where_volatility_carries_it(g1, g2, a, k, factor, q):
    """The spread is 2*c1 + sigma*c2: c1 = ln(1 + gamma/k)/gamma narrows as gamma grows (d c1/d gamma >=
    -1/(2k^2)), sigma*c2 widens (d c2/d gamma >= sqrt(e)/(2*sqrt(2*A*k*gamma))). So a larger gamma widens
    the spread once sigma >= 2*sqrt(2*A*k*gamma)/(sqrt(e)*k^2); AS's once sigma^2*T >= 1/k^2."""
    lo, hi = sorted((g1, g2))
    sigma = factor * 2 * math.sqrt(2 * a * k * hi) / (math.sqrt(math.e) * k * k)
    b1, a1 = glft_depths(lo, a, k, sigma, q)
    b2, a2 = glft_depths(hi, a, k, sigma, q)
    assert b2 + a2 >= (b1 + a1) * (1 - 1e-12)
    t = factor / (k * k * sigma * sigma)
    b1, a1 = as_depths(lo, k, sigma, t, q)
    b2, a2 = as_depths(hi, k, sigma, t, q)
    assert b2 + a2 >= (b1 + a1) * (1 - 1e-12)


def test_without_volatility_more_risk_aversion_narrows_the_spread():
    """Why the property above needs its volatility: at sigma = 0 the spread is 2*c1, falling in gamma."""
    assert sum(glft_depths(0.5, 2.0, 1.0, 0.0, 0.0)) < sum(glft_depths(0.1, 2.0, 1.0, 0.0, 0.0))


# ---- in ticks, at a mid, clamped ------------------------------------------------------------------
def test_model_depths_convert_per_bps_rates_at_the_mid_and_clamp():
    # mid 50,000 ticks: one tick is 0.2 bps, so k = 5/bps is 1/tick and gamma = 0.5/bps is 0.1/tick;
    # sigma = 2 ticks/sqrt(s) (variance 4): the hand example, bid 2.82 -> 3 ticks, ask -0.38 -> min_spread 0
    cfg = glft(gamma=0.5, intensity_k="5/bps", min_spread="0ticks", max_spread="10bps")
    p = compile_params(cfg, BTC)
    assert model_depths(p, 100_000, 4.0, 3.0) == (3, 0)
    assert model_depths(p, 100_000, 4.0, 0.0) == (1, 1)  # 1.22 each side
    assert model_depths(p, 100_000, 4.0, -3.0) == (0, 3)
    tight = compile_params(cfg.model_copy(update={"max_spread": Distance(value=Decimal(2), unit="ticks")}), BTC)
    assert model_depths(tight, 100_000, 4.0, 3.0) == (2, 0)  # max_spread 2 ticks
    floor = compile_params(glft(gamma=0.5, intensity_k="5/bps", min_spread="2ticks", max_spread="10bps"), BTC)
    assert model_depths(floor, 100_000, 4.0, 3.0) == (3, 2)  # min_spread 2 ticks
    per_tick = compile_params(glft(gamma=0.1, intensity_k="1/tick"), BTC)
    assert model_depths(per_tick, 100_000, 4.0, 3.0) == model_depths(per_tick, 12_000_000, 4.0, 3.0) == (3, 0)


@settings(max_examples=300, deadline=None)
@given(
    gamma=st.floats(1e-6, 1e6),
    a=st.floats(1e-6, 1e6),
    k=st.floats(1e-6, 1e6),
    var=st.floats(0.0, 1e12),
    q=st.floats(-1e6, 1e6),
    r2=st.integers(2, 10**10),
    lo=st.integers(0, 50),
    extra=st.integers(1, 5000),
    per=st.sampled_from(["bps", "tick"]),
    kind=st.sampled_from(["glft", "as"]),
)
def test_model_spreads_stay_within_min_and_max_spread(gamma, a, k, var, q, r2, lo, extra, per, kind):
    cfg = glft(
        model=kind,
        gamma=gamma,
        intensity_a=f"{a!r}/s",
        intensity_k=f"{k!r}/{per}",
        min_spread=f"{lo}ticks",
        max_spread=f"{lo + extra}ticks",
        horizon=60,
    )
    p = compile_params(cfg, BTC)
    db, da = model_depths(p, r2, var, q)
    assert lo <= db <= lo + extra and lo <= da <= lo + extra


@settings(max_examples=200, deadline=None)
@given(sigmas, sigmas, gammas, gammas, lots)
def test_in_whole_ticks_the_properties_hold_weakly(s1, s2, g1, g2, q):
    cfg = glft(gamma=1.0, intensity_k="1.3/bps", max_spread="40bps")
    r2 = 2 * 6_000_000  # 1 bps = 600 ticks

    def depths(gamma: float, sigma_bps: float, lots: float) -> tuple[int, int]:
        p = compile_params(cfg.model_copy(update={"gamma": gamma}), BTC)
        return model_depths(p, r2, (sigma_bps * 600) ** 2, lots)

    lo, hi = sorted((s1, s2))
    assert sum(depths(g1, hi, 0.0)) >= sum(depths(g1, lo, 0.0))  # wider with volatility
    gl, gh = sorted((g1, g2))
    small, big = sorted((abs(q), 2 * abs(q)))
    for gamma in (gl, gh):
        b1, a1 = depths(gamma, hi, small)
        b2, a2 = depths(gamma, hi, big)
        assert b2 - a2 >= b1 - a1 >= 0 and b2 >= b1 and a2 <= a1  # more inventory, more skew, both lower


def test_with_depths_moves_level_zero_and_keeps_the_spacing():
    p = compile_params(glft(levels=3, level_spacing="7ticks"), BTC)
    assert p.bid_t == p.ask_t == (0, 7, 14) and p.ticks_only and not p.skew_on
    p2 = with_depths(p, 100, 40)
    assert p2.bid_t == (100, 107, 114) and p2.ask_t == (40, 47, 54) and p2.model is p.model
    assert with_depths(p2, 3, 5).bid_t == (3, 10, 17)
    bids, asks = level_prices(p2, 5_999_999, 6_000_001, 0)  # mid 6,000,000
    assert bids == [5_999_900, 5_999_893, 5_999_886] and asks == [6_000_040, 6_000_047, 6_000_054]
    fixed = compile_params(PairConfig(symbol="BTCUSDT", spread="3ticks"), BTC)
    assert fixed.model is None and fixed.bid_t == (3,)


def test_max_spread_with_levels_must_stay_under_5000bps():
    with pytest.raises(ValueError, match="max_spread = 4990bps"):
        compile_params(glft(max_spread="4990bps", levels=3, level_spacing="10bps"), BTC)


# ---- the running volatility ------------------------------------------------------------------------
def test_mid_variance_is_the_realised_variance_over_its_window():
    v = MidVariance(3 * S)
    assert v.variance() == 0.0
    v.add(10 * S, 200)  # doubled mids: 100 ticks
    assert v.variance() == 0.0  # one sample: no increment yet
    v.add(11 * S, 204)  # +2 ticks in 1 s
    assert v.variance() == 4.0
    v.add(13 * S, 196)  # -4 ticks in 2 s
    assert v.variance() == pytest.approx((4 + 16) / 3)
    v.add(14 * S, 196)  # 0 in 1 s; the increment that ended at 11 s is now out of the 3 s window
    assert v.variance() == pytest.approx(16 / 3)
    v.add(30 * S, 206)  # a 16 s gap (stale feed): one increment over all of it, the others out
    assert v.variance() == pytest.approx(25 / 16)
    v.add(30 * S, 300)  # the same time again (or an earlier one): no increment, the sample is dropped
    v.add(29 * S, 300)
    assert v.variance() == pytest.approx(25 / 16) and (v.sum_sq, v.sum_dt, v.last_r2) == (100, 16 * S, 206)


# ---- the engine core ------------------------------------------------------------------------------
def core_with(cfg: PairConfig, cancel_replace: bool = False) -> EngineCore:
    core = EngineCore(run_nonce="test", cancel_replace=cancel_replace)
    core.add_pair(cfg, BTC)
    core.on_balances(BAL, 0)
    core.run("BTCUSDT", 1)
    return core


def settle(core: EngineCore, intents, ts: int) -> dict[str, Place]:
    """Confirm every intent as a venue would (cancels done, orders resting); the orders placed, by side."""
    out = {}
    for i in intents:
        if isinstance(i, Replace):
            core.on_canceled(i.client_id, ts)
            i = i.place
        if isinstance(i, Place):
            core.on_accepted(i.client_id, ts)
            out[i.side.name] = i
    return out


def test_the_core_quotes_the_model_spreads_and_skews_them_with_its_fills():
    """gamma = 0.001/tick, k = 0.01/tick, A = 2/s: x = 0.1, c1 = ln(1.1)/0.001 = 95.3102 ticks,
    c2 = sqrt(0.001/(2*2*0.01) * 1.1^11) = 0.267073. A mid moving 20 ticks a second gives sigma = 20:
    half spread 95.3102 + 20*0.267073/2 = 97.9809 -> 98 ticks; skew 20*0.267073 = 5.34146 a lot. One
    lot (the order size, 0.001 BTC) bought: bid 97.9809 + 5.3415 = 103.322 -> 103, ask 92.6394 -> 93."""
    core = core_with(glft(), cancel_replace=True)
    st = core.pairs[0]
    first = settle(core, core.on_book(0, 2, 5_999_999, 5, 6_000_001, 5), 3)  # mid 6,000,000; sigma 0: c1
    assert (first["BUY"].price, first["SELL"].price) == (6_000_000 - 95, 6_000_000 + 95)
    assert core.on_timer(S) == [] and st.params.bid_t[0] == 95  # the first sample: no increment yet
    follow = settle(core, core.on_book(0, S + 10, 6_000_019, 5, 6_000_021, 5), S + 11)  # +20 ticks
    assert (follow["BUY"].price, follow["SELL"].price) == (6_000_020 - 95, 6_000_020 + 95)
    out = settle(core, core.on_timer(2 * S), 2 * S + 1)
    assert st.vol is not None and st.vol.variance() == 400.0
    assert (st.params.bid_t[0], st.params.ask_t[0]) == (98, 98)
    assert (out["BUY"].price, out["SELL"].price) == (6_000_020 - 98, 6_000_020 + 98)
    core.on_fill(out["BUY"].client_id, 2 * S + 2, out["BUY"].price, 100, 0, True, trade_id=1)  # long one lot
    assert st.pos == 100 and (st.params.bid_t[0], st.params.ask_t[0]) == (103, 93)
    nxt = settle(core, core.on_book(0, 2 * S + 3, 6_000_018, 5, 6_000_022, 5), 2 * S + 4)  # the same mid
    assert (nxt["BUY"].price, nxt["SELL"].price) == (6_000_020 - 103, 6_000_020 + 93)
    assert nxt["BUY"].price < out["BUY"].price and nxt["SELL"].price < out["SELL"].price  # both lower


def test_a_new_run_forgets_the_inventory_and_configure_keeps_the_volatility():
    core = core_with(glft())
    st = core.pairs[0]
    core.on_book(0, 2, 5_999_999, 5, 6_000_001, 5)
    core.on_timer(S)
    core.on_book(0, S + 10, 6_000_019, 5, 6_000_021, 5)
    core.on_timer(2 * S)
    st.pos = 300  # as three lots of fills would leave it
    core.stop("BTCUSDT", 3 * S)
    core.run("BTCUSDT", 3 * S + 1)
    core.on_book(0, 3 * S + 2, 6_000_018, 5, 6_000_022, 5)
    assert (st.params.bid_t[0], st.params.ask_t[0]) == (98, 98)  # q = 0 again, sigma kept
    core.configure(glft(gamma=0.002), 3 * S + 3)  # a new gamma: the same samples, new spreads at once
    assert st.vol is not None and st.vol.variance() == 400.0
    c1, c2 = glft_coefficients(0.002, 2.0, 0.01)
    assert st.params.bid_t[0] == round(c1 + 10 * c2)
    core.configure(PairConfig(symbol="BTCUSDT", spread="3ticks"), 3 * S + 4)  # back to fixed spreads
    assert st.vol is None and st.params.model is None and st.params.bid_t == (3,)


def test_fixed_spreads_keep_no_model_state():
    core = core_with(PairConfig(symbol="BTCUSDT", spread="3ticks"))
    st = core.pairs[0]
    core.on_book(0, 2, 5_999_999, 5, 6_000_001, 5)
    core.on_timer(S)
    assert st.vol is None and st.model_r2 == 0 and st.params.bid_t == (3,)


def test_the_preflight_shows_the_model_spreads_at_the_sample_volatility():
    """The hand example above at mid 50,000.01 (5,000,001 ticks): flat, sigma 0: 95 ticks (c1); on a
    sample whose mid zigzags 20 ticks a second: sigma 20, 98 ticks; the skew is 0 (a start is flat)."""
    from liqkit.preflight import MarketSample, check_pair

    bal = {"USDT": (Decimal(100_000), Decimal(0)), "BTC": (Decimal(1), Decimal(0))}
    n = 30
    zig = [20 * (i % 2) for i in range(n)]
    moving = MarketSample(
        5_000_000,
        5_000_002,
        ts=[S // 2 + i * S for i in range(n)],
        bids=[5_000_000 + z for z in zig],
        asks=[5_000_002 + z for z in zig],
        source="zigzag",
    )
    for top, depth in ((MarketSample(5_000_000, 5_000_002, source="flat"), 95), (moving, 98)):
        report, _ = check_pair(glft(), BTC, bal, top)
        prices = {q.side: q.price for q in report.quotes}
        assert prices == {"BUY": f"{(5_000_001 - depth) / 100:.2f}", "SELL": f"{(5_000_001 + depth) / 100:.2f}"}
