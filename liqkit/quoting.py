"""The quoting pipeline: pure functions from (book, inventory, parameters) to wanted quotes.

reference -> spreads and levels -> inventory skew -> clamps (min spread, never crossing the book)
-> sizes (config, balances, max inventory) -> symbol filters and the order-value cap -> wanted quotes.

The cap (``max_order_notional``, ``liqkit.domain.budget``) is one integer bound compiled into
``QuoteParams.max_order_units``: ``quote_qty`` places nothing worth more, ``resized_qty`` takes down
a working order worth more, whatever config the engine was given.

The engine core prices every level with ``level_prices`` and sizes and filters each quote with
``quote_qty`` (a working order with ``resized_qty``); ``wanted_quotes`` composes the same functions
for a whole book state, so the engine and this pipeline cannot disagree about a quote.

Everything is integer arithmetic in the symbol's units: prices in ticks, quantities in lot steps,
notionals in ``tick*step`` units. A reference price is carried doubled (``r2``: twice the price in ticks)
so that a mid between two ticks stays exact. A distance is ``ticks + ppb/1e8 * price`` (bps become
ppb = bps * 1e4). Bids round down and asks round up: rounding never moves a quote toward crossing.

A pair with a quoting model (``model = "glft"``/``"as"``: ``QuoteParams.model``) gets its level-0
distances from ``model_depths`` (the closed form at the mid's realised variance, ``MidVariance``, and
the inventory), set into its params by ``with_depths``; everything downstream is the same pipeline.

``bid_price``/``ask_price`` are monotone non-decreasing in ``r2``; ``bid_band``/``ask_band`` invert
them exactly, which is what lets the engine decide "nothing to do" for most book updates with a
handful of integer comparisons (see ``liqkit.engine.core``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from fractions import Fraction
from typing import Final, NamedTuple

from liqkit.domain.budget import check_budget
from liqkit.domain.config import Distance, PairConfig
from liqkit.domain.filters import OrderFilters
from liqkit.domain.rules import SymbolRules
from liqkit.domain.types import Side

PPB: Final = 100_000_000  # parts per 1e8: 1 bps = 10_000 ppb
_TWO_PPB: Final = 2 * PPB
INF: Final = 1 << 60  # "no bound"; small enough that compiled code keeps it an unboxed int


def _dist(d: Distance) -> tuple[int, int]:
    """A Distance as (ticks, ppb)."""
    if d.unit == "ticks":
        if d.value != d.value.to_integral_value():
            raise ValueError(f"a distance in ticks must be a whole number, got {d}")
        return int(d.value), 0
    return 0, int((d.value * 10_000).to_integral_value(ROUND_CEILING))


MODEL_GLFT: Final = 1
MODEL_AS: Final = 2


@dataclass(frozen=True, slots=True)
class ModelParams:
    """A pair's quoting model (``model = "glft"`` or ``"as"``) compiled from its config.

    ``k`` and ``gamma`` keep the distance unit ``intensity_k`` was written in (per bps when ``k_bps``,
    else per tick); ``model_depths`` turns them into per tick at the mid it is given.
    """

    kind: int  # MODEL_GLFT or MODEL_AS
    gamma: float
    a: float  # trades per second reaching the mid
    k: float  # decay per bps (k_bps) or per tick
    k_bps: bool
    horizon_s: float  # AS only
    window_ns: int  # the realised volatility's window
    max_t: int  # max_spread: ticks
    max_p: int  # max_spread: ppb


@dataclass(frozen=True, slots=True)
class QuoteParams:
    """A pair's config compiled to integer units of its symbol (built by ``compile_params``)."""

    symbol: str
    mid: bool  # reference: True mid, False touch
    levels: int
    bid_t: tuple[int, ...]  # per level: distance ticks
    bid_p: tuple[int, ...]  # per level: distance ppb
    ask_t: tuple[int, ...]
    ask_p: tuple[int, ...]
    min_t: int
    min_p: int
    tol_t: int
    tol_p: int
    size_steps: int  # >0 when size is in base units
    size_units: int  # >0 when size is a quote notional (tick*step units)
    post_only: bool
    max_inv_steps: int  # 0: none
    ceiling_ticks: int  # 0: none
    floor_ticks: int  # 0: none
    max_loss_units: int  # 0: none (kill switch), in tick*step units
    ticks_only: bool = False  # every distance is in whole ticks: a cheaper exact path
    skew_on: bool = False
    # the wanted base share of value (target) and the skew as integer ratios: exact, without Fractions
    tgt_n: int = 0
    tgt_d: int = 1
    span_n: int = 1  # max(target, 1 - target) = span_n / tgt_d
    skew_n: int = 0
    skew_d: int = 1
    max_order_units: int = INF  # the largest order value (max_order_notional), tick*step units
    model: ModelParams | None = None  # set: the level-0 distances are the model's (``with_depths``)
    ice_on: bool = False  # each quote an iceberg (iceberg_visible): ice_steps shown, or ice_ppb of its size
    ice_steps: int = 0
    ice_ppb: int = 0
    # active rebalance (``rebalance_order``): the band of the base share as rb_lo_n/rb_d .. rb_hi_n/rb_d around
    # the target rb_t_n/rb_d (exact integer ratios), the mode, and a taker's slippage from the mid (ticks, ppb)
    rebal_on: bool = False
    rebal_taker: bool = False
    rb_lo_n: int = 0
    rb_hi_n: int = 0
    rb_t_n: int = 0
    rb_d: int = 1
    slip_t: int = 0
    slip_p: int = 0


def compile_params(
    cfg: PairConfig,
    rules: SymbolRules,
    max_loss: Decimal | None = None,
    price: Decimal | None = None,
    balances: Mapping[str, tuple[Decimal, Decimal]] | None = None,
) -> QuoteParams:
    """Compile a validated config against the symbol's rules. Raise ValueError naming the field on
    values the symbol cannot honour (e.g. a size under the minimum quantity) or the budget rule
    refuses (``liqkit.domain.budget.check_budget``, at ``price`` and ``balances`` when known)."""
    check_budget(cfg, rules, price, balances)
    bt, bp = _dist(cfg.bid_spread)
    at, ap = _dist(cfg.ask_spread)
    st, sp = _dist(cfg.level_spacing)
    mt, mp = _dist(cfg.min_spread)
    tt, tp = _dist(cfg.refresh_tolerance)
    n = cfg.levels
    size_steps = size_units = 0
    if cfg.size_unit == "base":
        size_steps = int((cfg.size / rules.step).to_integral_value(ROUND_FLOOR))
        if size_steps < max(rules.min_qty_steps, 1):
            raise ValueError(
                f"size = {cfg.size}: below {rules.symbol}'s minimum quantity {rules.qty(max(rules.min_qty_steps, 1))} "
                f"(LOT_SIZE); use at least that"
            )
    else:
        size_units = int((cfg.size / (rules.tick * rules.step)).to_integral_value(ROUND_FLOOR))
        if size_units < rules.min_notional_units:
            raise ValueError(
                f"size = {cfg.size} {rules.quote_asset}: below {rules.symbol}'s minimum order value "
                f"{rules.min_notional} (NOTIONAL); use at least that"
            )
    model = compile_model(cfg, n, sp)
    if model is not None:  # the model sets the level-0 distances (``with_depths``); spacing stays
        bt = bp = at = ap = 0
    for name, p in (("bid_spread", bp), ("ask_spread", ap)):
        if p + (n - 1) * sp >= PPB // 2:
            raise ValueError(
                f"{name} = {getattr(cfg, name)}: with {n} levels spaced {cfg.level_spacing} the outer quote "
                "is 5000bps or more from the reference; use a smaller spread, spacing or fewer levels"
            )
    ice_steps, ice_ppb = _visible(cfg, rules, size_steps, size_units, price)
    loss = max_loss if cfg.max_loss is None else cfg.max_loss
    target, skew = Fraction(str(cfg.inventory_target)), Fraction(str(cfg.skew))
    band = Fraction(str(cfg.rebalance_band)) if cfg.rebalance_band is not None else Fraction(0)
    rb_d = (target - band).denominator * (target + band).denominator * target.denominator
    slip_t, slip_p = _dist(cfg.rebalance_max_slippage)
    return QuoteParams(
        symbol=rules.symbol,
        mid=cfg.reference == "mid",
        levels=n,
        bid_t=tuple(bt + i * st for i in range(n)),
        bid_p=tuple(bp + i * sp for i in range(n)),
        ask_t=tuple(at + i * st for i in range(n)),
        ask_p=tuple(ap + i * sp for i in range(n)),
        min_t=mt,
        min_p=mp,
        tol_t=tt,
        tol_p=tp,
        size_steps=size_steps,
        size_units=size_units,
        post_only=cfg.post_only,
        max_inv_steps=int((cfg.max_inventory / rules.step).to_integral_value(ROUND_FLOOR)) if cfg.max_inventory else 0,
        ceiling_ticks=rules.price_to_ticks(cfg.price_ceiling, Side.SELL) if cfg.price_ceiling else 0,
        floor_ticks=rules.price_to_ticks(cfg.price_floor, Side.BUY) if cfg.price_floor else 0,
        max_loss_units=rules.notional_to_units(loss) if loss else 0,
        ticks_only=not (bp or ap or mp or (sp and n > 1)),
        skew_on=cfg.skew > 0,
        tgt_n=target.numerator,
        tgt_d=target.denominator,
        span_n=max(target.numerator, target.denominator - target.numerator),
        skew_n=skew.numerator,
        skew_d=skew.denominator,
        max_order_units=int((cfg.max_order_notional / (rules.tick * rules.step)).to_integral_value(ROUND_FLOOR)),
        ice_on=bool(ice_steps or ice_ppb),
        ice_steps=ice_steps,
        ice_ppb=ice_ppb,
        model=model,
        rebal_on=cfg.rebalance_band is not None,
        rebal_taker=cfg.rebalance_mode == "taker",
        rb_lo_n=int((target - band) * rb_d),
        rb_hi_n=int((target + band) * rb_d),
        rb_t_n=int(target * rb_d),
        rb_d=rb_d,
        slip_t=slip_t,
        slip_p=slip_p,
    )


def compile_model(cfg: PairConfig, levels: int, spacing_ppb: int) -> ModelParams | None:
    """The pair's quoting model, or None for ``model = "fixed"`` (the config checked that it has its settings)."""
    if cfg.model == "fixed" or cfg.gamma is None or cfg.intensity_a is None or cfg.intensity_k is None:
        return None
    xt, xp = _dist(cfg.max_spread)
    if xp + (levels - 1) * spacing_ppb >= PPB // 2:
        raise ValueError(
            f"max_spread = {cfg.max_spread}: with {levels} levels spaced {cfg.level_spacing} the outer quote may be "
            "5000bps or more from the mid; use a smaller max_spread, spacing or fewer levels"
        )
    return ModelParams(
        kind=MODEL_AS if cfg.model == "as" else MODEL_GLFT,
        gamma=float(cfg.gamma),
        a=float(cfg.intensity_a.value),
        k=float(cfg.intensity_k.value),
        k_bps=cfg.intensity_k.per == "bps",
        horizon_s=float(cfg.horizon or 0.0),
        window_ns=int(cfg.vol_window * 1e9),
        max_t=xt,
        max_p=xp,
    )


def _visible(
    cfg: PairConfig, rules: SymbolRules, size_steps: int, size_units: int, price: Decimal | None
) -> tuple[int, int]:
    """``iceberg_visible`` as (steps, ppb of the size); ValueError naming the field when the symbol cannot
    honour it: icebergs not allowed, a visible part under the minimum quantity, or (for a size in base
    units, or at ``price`` for a quote size) more parts than ICEBERG_PARTS allows."""
    v = cfg.iceberg_visible
    if v is None:
        return 0, 0
    field = f"iceberg_visible = {v}"
    if not rules.iceberg_allowed:
        raise ValueError(f"{field}: {rules.symbol} does not allow iceberg orders (icebergAllowed false); remove it")
    if v.percent:
        steps, ppb = 0, int((v.value * 1_000_000).to_integral_value(ROUND_FLOOR))
    else:
        steps, ppb = int((v.value / rules.step).to_integral_value(ROUND_FLOOR)), 0
        if v.value != rules.qty(steps):
            raise ValueError(
                f"{field}: not a multiple of {rules.symbol}'s stepSize {rules.step.normalize():f} (LOT_SIZE); "
                f"use e.g. {rules.qty(max(steps, 1)).normalize():f}"
            )
    qty = size_steps
    if not qty and size_units and price:
        qty = size_units // max(rules.price_to_ticks(price, Side.BUY), 1)
    if qty:
        shown = steps or qty * ppb // PPB
        if shown < qty:
            name = OrderFilters.from_rules(rules).iceberg_failure(qty, shown)
            if name:
                raise ValueError(f"{field}: {rules.iceberg_why(name, qty, shown)} ({name})")
    return steps, ppb


def iceberg_qty(params: QuoteParams, qty: int) -> int:
    """The visible part of a quote of ``qty`` steps (0: a plain order, when it would show it all)."""
    v = params.ice_steps or qty * params.ice_ppb // PPB
    return v if v < qty else 0


def balance_units(rules: SymbolRules, balances: Mapping[str, tuple[Decimal, Decimal]]) -> tuple[int, int, int, int]:
    """A pair's balances (asset -> (free, locked)) in its integer units, rounded down (never more than
    held): base free and locked in lot steps, quote free and locked in tick*step units."""
    zero = (Decimal(0), Decimal(0))
    bf, bl = balances.get(rules.base_asset, zero)
    qf, ql = balances.get(rules.quote_asset, zero)
    unit = rules.tick * rules.step
    return (
        int((bf / rules.step).to_integral_value(ROUND_FLOOR)),
        int((bl / rules.step).to_integral_value(ROUND_FLOOR)),
        int((qf / unit).to_integral_value(ROUND_FLOOR)),
        int((ql / unit).to_integral_value(ROUND_FLOOR)),
    )


# ---- prices as functions of the doubled reference ------------------------------------------------
def bid_price(r2: int, t: int, p: int) -> int:
    """Bid at distance (t ticks, p ppb) below reference r2/2, rounded down."""
    return (r2 * (PPB - p) - _TWO_PPB * t) // _TWO_PPB


def ask_price(r2: int, t: int, p: int) -> int:
    """Ask at distance (t ticks, p ppb) above reference r2/2, rounded up."""
    return -((-(r2 * (PPB + p) + _TWO_PPB * t)) // _TWO_PPB)


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def bid_r2_range(t: int, p: int, lo_price: int, hi_price: int) -> tuple[int, int]:
    """The r2 interval on which ``lo_price <= bid_price(r2, t, p) <= hi_price``."""
    if not p:  # bid = floor((r2 - 2t) / 2)
        return 2 * (lo_price + t), 2 * (hi_price + t) + 1
    a = PPB - p  # bid = floor((r2*a - c) / D)
    c = _TWO_PPB * t
    if a <= 0:
        return (-INF, INF) if lo_price <= bid_price(0, t, p) <= hi_price else (INF, -INF)
    r_lo = _ceil_div(lo_price * _TWO_PPB + c, a)
    r_hi = ((hi_price + 1) * _TWO_PPB + c - 1) // a
    return r_lo, r_hi


def ask_r2_range(t: int, p: int, lo_price: int, hi_price: int) -> tuple[int, int]:
    """The r2 interval on which ``lo_price <= ask_price(r2, t, p) <= hi_price``."""
    if not p:  # ask = ceil((r2 + 2t) / 2)
        return 2 * (lo_price - t) - 1, 2 * (hi_price - t)
    a = PPB + p  # ask = ceil((r2*a + c) / D)
    c = _TWO_PPB * t
    r_lo = _ceil_div((lo_price - 1) * _TWO_PPB + 1 - c, a)
    r_hi = (hi_price * _TWO_PPB - c) // a
    return r_lo, r_hi


def tolerance(params: QuoteParams, price: int) -> int:
    """Largest tick distance from ``price`` at which a working order is kept."""
    return params.tol_t + price * params.tol_p // PPB if params.tol_p else params.tol_t


class Quote(NamedTuple):
    """One wanted order."""

    side: Side
    level: int
    price: int  # ticks
    qty: int  # steps


class Inventory(NamedTuple):
    """What the pipeline needs to know about holdings (all in the pair's integer units)."""

    base_steps: int  # total base held (free + locked)
    quote_units: int  # total quote held, tick*step units
    base_free_for_sells: int  # base available to sell orders (free + locked in our own sells)
    quote_free_for_buys: int  # quote available to buy orders, units


def skew_shift(params: QuoteParams, r2: int, inv: Inventory) -> int:
    """Tick shift of every quote from the inventory skew (negative when holding too much base)."""
    if not params.skew_on:
        return 0
    base_value = inv.base_steps * r2  # in half units
    total = base_value + 2 * inv.quote_units
    if total <= 0:
        return 0
    # dev = (share - target) / span, share = base_value / total, clamped to [-1, 1]: dev = num / den
    num = base_value * params.tgt_d - params.tgt_n * total
    den = total * params.span_n
    if num > den:
        num = den
    elif num < -den:
        num = -den
    # a full deviation shifts by skew x the level-0 half spread (spread = ask0 - bid0 at this reference)
    spread = ask_price(r2, params.ask_t[0], params.ask_p[0]) - bid_price(r2, params.bid_t[0], params.bid_p[0])
    n = -params.skew_n * num * spread
    d = params.skew_d * den * 2
    q, r = divmod(n, d)  # round half to even, as round(Fraction) does
    if 2 * r > d or (2 * r == d and q & 1):
        q += 1
    return q


# ---- model-based spreads (model = "glft" / "as") --------------------------------------------------
# Distances d from the mid, inventory q in lots of the order size (Delta = 1 lot), intensity A*exp(-k*d)
# (A per second, k per distance unit), sigma in distance units per sqrt(second), gamma per distance unit.
# Any one distance unit will do (the formulas are homogeneous in it); ``model_depths`` uses ticks.
def glft_coefficients(gamma: float, a: float, k: float) -> tuple[float, float]:
    """Gueant-Lehalle-Fernandez-Tapia's c1 and c2 (xi = gamma, Delta = 1 lot): c1 = ln(1 + gamma/k) / gamma,
    c2 = sqrt(gamma / (2 A k) * (1 + gamma/k)^(k/gamma + 1)). The half spread is c1 + sigma*c2/2, the skew
    sigma*c2 per lot held."""
    x = gamma / k
    lx = math.log1p(x)
    return lx / gamma, math.sqrt(gamma / (2.0 * a * k) * math.exp((1.0 / x + 1.0) * lx))


def glft_depths(gamma: float, a: float, k: float, sigma: float, q: float) -> tuple[float, float]:
    """GLFT's bid and ask distances from the mid: ``c1 + sigma*c2/2 +- sigma*c2*q`` (holding base, q > 0,
    the bid moves away and the ask closer: both quotes lower)."""
    c1, c2 = glft_coefficients(gamma, a, k)
    skew = sigma * c2
    half = c1 + 0.5 * skew
    return half + skew * q, half - skew * q


def as_depths(gamma: float, k: float, sigma: float, horizon: float, q: float) -> tuple[float, float]:
    """Avellaneda-Stoikov's bid and ask distances from the mid, over ``horizon`` seconds: the half spread
    ``ln(1 + gamma/k)/gamma + gamma*sigma^2*T/2`` around the reservation price ``mid - q*gamma*sigma^2*T``."""
    skew = gamma * sigma * sigma * horizon
    half = math.log1p(gamma / k) / gamma + 0.5 * skew
    return half + skew * q, half - skew * q


def _bound(d: float, lo: int, hi: int) -> int:
    """``d`` rounded to whole ticks (half to even), within ``[lo, hi]`` (``lo`` wins should they cross)."""
    if d != d or d >= hi:  # NaN, +inf: as far as allowed
        return hi if hi > lo else lo
    if d <= lo:
        return lo
    r = round(d)
    if r > hi:
        return hi
    return lo if r < lo else r


class MidVariance:
    """The realised variance of a pair's mid over a time window, kept incrementally. The engine keeps one
    per model pair (``PairState.vol``) and adds the mid it holds at each timer tick (``EngineCore.on_timer``;
    the same ticks in a backtest and live); the pre-flight walks a market sample through one the same way.

    Integer sums of the squared mid changes (doubled mids: half ticks) and of the elapsed times over
    the increments that ended within the last ``window_ns``: ``variance`` is their ratio, ticks^2 per
    second (no mean taken out: over seconds the drift is noise). A gap in the samples (a stale feed)
    is one increment over its whole time.
    """

    __slots__ = ("items", "last_r2", "last_ts", "sum_dt", "sum_sq", "window_ns")

    def __init__(self, window_ns: int) -> None:
        self.window_ns = window_ns
        self.items: deque[tuple[int, int, int]] = deque()  # (end time, squared change in half ticks, ns)
        self.sum_sq = 0
        self.sum_dt = 0
        self.last_r2 = 0
        self.last_ts = 0

    def add(self, ts: int, r2: int) -> None:
        """The doubled mid ``r2`` at time ``ts`` (a time not after the last one adds no increment)."""
        if self.last_ts:
            if ts <= self.last_ts:
                return
            d = r2 - self.last_r2
            dt = ts - self.last_ts
            self.items.append((ts, d * d, dt))
            self.sum_sq += d * d
            self.sum_dt += dt
        self.last_r2 = r2
        self.last_ts = ts
        items = self.items
        start = ts - self.window_ns
        while items and items[0][0] <= start:
            _, sq, dt = items.popleft()
            self.sum_sq -= sq
            self.sum_dt -= dt

    def variance(self) -> float:
        """Ticks^2 per second over the window (0 before the second sample)."""
        if self.sum_dt <= 0:
            return 0.0
        return self.sum_sq * 250_000_000.0 / self.sum_dt  # (sum_sq / 4 half ticks^2) / (sum_dt / 1e9 s)


def model_depths(params: QuoteParams, r2: int, var_ticks: float, q: float) -> tuple[int, int]:
    """The model's level-0 bid and ask distances from the mid ``r2 / 2``, whole ticks, each within
    ``[min_spread, max_spread]`` at that mid. ``var_ticks``: the realised variance of the mid, ticks^2
    per second; ``q``: the inventory in lots of the order size (> 0: long)."""
    m = params.model
    if m is None or r2 <= 0:
        return 0, 0
    per_tick = 20_000.0 / r2 if m.k_bps else 1.0  # bps in one tick at this mid (a rate per bps times it: per tick)
    k = m.k * per_tick
    gamma = m.gamma * per_tick
    sigma = math.sqrt(var_ticks) if var_ticks > 0 else 0.0
    if m.kind == MODEL_AS:
        db, da = as_depths(gamma, k, sigma, m.horizon_s, q)
    else:
        db, da = glft_depths(gamma, m.a, k, sigma, q)
    lo = params.min_t - ((-r2 * params.min_p) // _TWO_PPB)  # min_spread at this mid, ticks rounded up
    hi = m.max_t + (r2 * m.max_p) // _TWO_PPB  # max_spread, rounded down
    return _bound(db, lo, hi), _bound(da, lo, hi)


def with_depths(params: QuoteParams, bid0: int, ask0: int) -> QuoteParams:
    """``params`` with level 0 at ``bid0``/``ask0`` ticks from the mid (the other levels keep their spacing)."""
    b0, a0 = params.bid_t[0], params.ask_t[0]
    return QuoteParams(
        symbol=params.symbol,
        mid=params.mid,
        levels=params.levels,
        bid_t=tuple(t - b0 + bid0 for t in params.bid_t),
        bid_p=params.bid_p,
        ask_t=tuple(t - a0 + ask0 for t in params.ask_t),
        ask_p=params.ask_p,
        min_t=params.min_t,
        min_p=params.min_p,
        tol_t=params.tol_t,
        tol_p=params.tol_p,
        size_steps=params.size_steps,
        size_units=params.size_units,
        post_only=params.post_only,
        max_inv_steps=params.max_inv_steps,
        ceiling_ticks=params.ceiling_ticks,
        floor_ticks=params.floor_ticks,
        max_loss_units=params.max_loss_units,
        ticks_only=params.ticks_only,
        skew_on=params.skew_on,
        tgt_n=params.tgt_n,
        tgt_d=params.tgt_d,
        span_n=params.span_n,
        skew_n=params.skew_n,
        skew_d=params.skew_d,
        max_order_units=params.max_order_units,
        model=params.model,
    )


def sides_enabled(params: QuoteParams, bid: int, ask: int, base_steps: int) -> tuple[bool, bool]:
    """Which sides may quote: price ceiling/floor on the mid, and the inventory maximum
    (``base_steps``: all base held, free and locked)."""
    buy = sell = True
    if params.ceiling_ticks and bid + ask > 2 * params.ceiling_ticks:
        buy = False
    if params.floor_ticks and bid + ask < 2 * params.floor_ticks:
        sell = False
    if params.max_inv_steps and base_steps >= params.max_inv_steps:
        buy = False
    return buy, sell


def buy_room(params: QuoteParams, base_steps: int) -> int:
    """How much more base the bids may buy before ``max_inventory`` (``INF`` without one)."""
    return params.max_inv_steps - base_steps if params.max_inv_steps else INF


# ---- active rebalance ------------------------------------------------------------------------------
# The base share of the pair's value at the mid r2/2 is s = B*r2 / V2 with V2 = B*r2 + 2Q (B: base steps held,
# Q: quote units held, both free and locked): twice the value, in tick*step units. Everything stays integer.
def rebalance_excess(params: QuoteParams, r2: int, base_steps: int, quote_units: int) -> int:
    """What the active rebalance wants, in base steps: > 0 buy that much, < 0 sell that much, 0 while the
    base share is within the band (its edges included) or rebalancing is off. The size is the excess
    back to the target share at the mid, rounded toward zero (a rebalance never overshoots the target)."""
    if not params.rebal_on or r2 <= 0:
        return 0
    base2 = base_steps * r2
    v2 = base2 + 2 * quote_units
    if v2 <= 0:
        return 0
    d = params.rb_d
    if params.rb_lo_n * v2 <= base2 * d <= params.rb_hi_n * v2:
        return 0
    x = params.rb_t_n * v2 - base2 * d  # the excess is x / (d * r2) steps
    den = d * r2
    return x // den if x > 0 else -((-x) // den)


def share_band_r2(params: QuoteParams, base_steps: int, quote_units: int) -> tuple[int, int]:
    """The doubled mids ``r2`` at which these holdings' base share stays within the band (edges included):
    ``rebalance_excess`` is 0 exactly there. (-INF, INF) without rebalance; empty (INF, -INF) when no mid
    brings the share into the band."""
    if not params.rebal_on:
        return -INF, INF
    d, lo_n, hi_n = params.rb_d, params.rb_lo_n, params.rb_hi_n
    b, q = base_steps, quote_units
    if b <= 0:  # share 0 (or nothing held: no rebalance)
        return (-INF, INF) if lo_n <= 0 or q <= 0 else (INF, -INF)
    if q <= 0:  # share 1
        return (-INF, INF) if hi_n >= d else (INF, -INF)
    # lower edge: b r2 d >= lo_n (b r2 + 2q)  <=>  b r2 (d - lo_n) >= 2 q lo_n
    lo = -INF if lo_n <= 0 else -((-2 * q * lo_n) // (b * (d - lo_n)))
    # upper edge: b r2 (d - hi_n) <= 2 q hi_n
    hi = INF if hi_n >= d else (2 * q * hi_n) // (b * (d - hi_n))
    return lo, hi


def rebalance_price(params: QuoteParams, buy: bool, bid: int, ask: int, own_other: int) -> int:
    """The rebalancing order's limit price in ticks (0: none now).

    maker: the touch of its own side (a buy at the best bid, a sell at the best ask), post-only.
    taker: the worst price ``rebalance_max_slippage`` allows from the mid (rounded toward the mid), and
    never at or through ``own_other``, our own best quote on the other side (0: none), so that it never
    trades with our own order; 0 (refused) when the touch it would take is beyond that price."""
    if not params.rebal_taker:
        return bid if buy else ask
    r2 = bid + ask
    if buy:
        limit = (r2 * (PPB + params.slip_p) + _TWO_PPB * params.slip_t) // _TWO_PPB
        if own_other and limit >= own_other:
            limit = own_other - 1
        return limit if ask <= limit else 0
    limit = -((-(r2 * (PPB - params.slip_p) - _TWO_PPB * params.slip_t)) // _TWO_PPB)
    if own_other and limit <= own_other:
        limit = own_other + 1
    return limit if 0 < limit <= bid else 0


def rebalance_qty(
    params: QuoteParams, filters: OrderFilters, buy: bool, price: int, excess: int, budget: int, room: int, ref: int
) -> int:
    """The rebalancing order's quantity at ``price`` (0: none): the excess (``rebalance_excess``, as a
    size), cut to what ``budget`` pays for (a buy: quote units; a sell: base steps), to ``room``
    (``buy_room``; ``INF`` for sells), to ``max_order_notional`` and to the symbol's largest order; kept
    only if it passes the symbol's filters around ``ref`` (the mid), as every quote must."""
    q = excess if excess > 0 else -excess
    if buy:
        afford = budget // price if price > 0 else 0
        if afford < q:
            q = afford
        if room < q:
            q = room
    elif budget < q:
        q = budget
    cap = params.max_order_units // price if price > 0 else 0
    if cap < q:
        q = cap
    if filters.max_qty < q:  # a big excess goes out in orders the symbol accepts, one after the other
        q = filters.max_qty
    if price > 0 and filters.max_notional // price < q:
        q = filters.max_notional // price
    if q <= 0 or filters.failure(buy, price, q, ref):
        return 0
    return q


def reference_r2(params: QuoteParams, bid: int, ask: int) -> tuple[int, int]:
    """Doubled reference for the bid side and for the ask side."""
    if params.mid:
        m = bid + ask
        return m, m
    return 2 * bid, 2 * ask


def level_prices(params: QuoteParams, bid: int, ask: int, shift: int) -> tuple[list[int], list[int]]:
    """Wanted prices per level (before sizing and filters), clamped to never cross the book."""
    if params.mid:
        rb = ra = bid + ask
    else:
        rb, ra = 2 * bid, 2 * ask
    if params.ticks_only:  # bid_price(r2, t, 0) == (r2 - 2t) // 2, ask_price == ceil((r2 + 2t) / 2)
        bmin = (rb - 2 * params.min_t) // 2
        amin = -((-ra - 2 * params.min_t) // 2)
        cap = min(bmin, ask - 1)
        floor_ = max(amin, bid + 1)
        return (
            [min((rb - 2 * t) // 2 + shift, cap) for t in params.bid_t],
            [max(-((-ra - 2 * t) // 2) + shift, floor_) for t in params.ask_t],
        )
    bmin = bid_price(rb, params.min_t, params.min_p)
    amin = ask_price(ra, params.min_t, params.min_p)
    cap = min(bmin, ask - 1)
    floor_ = max(amin, bid + 1)
    bid_t, bid_p, ask_t, ask_p = params.bid_t, params.bid_p, params.ask_t, params.ask_p
    bids = [min(bid_price(rb, bid_t[i], bid_p[i]) + shift, cap) for i in range(len(bid_t))]
    asks = [max(ask_price(ra, ask_t[i], ask_p[i]) + shift, floor_) for i in range(len(ask_t))]
    return bids, asks


def size_for(params: QuoteParams, price: int) -> int:
    """Configured size at ``price`` in steps (a quote notional converts down to whole steps)."""
    if params.size_steps:
        return params.size_steps
    return params.size_units // price if price > 0 else 0


def level_qty(params: QuoteParams, buy: bool, price: int, budget: int, room: int) -> int:
    """The size a level wants at ``price``: the configured size, cut to what the side's ``budget``
    pays for (a bid: quote units; an ask: base steps) and to ``room`` (``buy_room``; ``INF`` for asks)."""
    q = size_for(params, price)
    if buy:
        afford = budget // price if price > 0 else 0
        if afford < q:
            q = afford
    elif budget < q:
        q = budget
    return room if room < q else q


def quote_qty(
    params: QuoteParams, filters: OrderFilters, buy: bool, price: int, budget: int, room: int, ref: int
) -> int:
    """The quantity to quote at ``price`` (0: no quote there): ``level_qty``, kept only if it is worth
    at most ``max_order_notional`` and passes the symbol's filters (the percent-price band around
    ``ref`` ticks, the mid)."""
    q = level_qty(params, buy, price, budget, room)
    if q <= 0 or q * price > params.max_order_units or filters.failure(buy, price, q, ref):
        return 0
    if params.ice_on:
        v = iceberg_qty(params, q)
        if v and filters.iceberg_failure(q, v):
            return 0
    return q


def resized_qty(
    params: QuoteParams, filters: OrderFilters, buy: bool, price: int, qty: int, budget: int, room: int
) -> int:
    """What a working order of ``qty`` steps at ``price`` should become: ``qty`` to keep it, 0 when
    its level wants no quote at that price any more, or the size its level now wants there.

    It is the level's size at the order's own price, so a quote-notional size does not follow the
    book and a partial fill changes nothing (the order's original ``qty`` is compared). ``budget`` and
    ``room`` are the side's with the order counted out (what it holds given back, as when it was
    placed). The configured size and the max-inventory room may shrink an order; the budget only
    caps growth, so money the order already holds never makes it shrink (a budget-limited quote
    does not churn). An order worth more than ``max_order_notional`` is taken down (0).
    """
    if qty * price > params.max_order_units:
        return 0
    size = size_for(params, price)
    cap = room if room < size else size
    if cap < qty:
        want = cap
    elif size > qty:
        want = level_qty(params, buy, price, budget, room)
        if want <= qty:
            return qty
    else:
        return qty
    if want <= 0 or want * price > params.max_order_units or filters.failure(buy, price, want, 0):
        return 0
    if params.ice_on:
        v = iceberg_qty(params, want)
        if v and filters.iceberg_failure(want, v):
            return 0
    return want


def wanted_quotes(
    params: QuoteParams,
    rules: SymbolRules,
    bid: int,
    ask: int,
    inv: Inventory,
    working: Sequence[Quote] = (),
) -> tuple[list[Quote | None], list[Quote | None]]:
    """Run the whole pipeline: the wanted quote per level for each side (None: no quote there).

    ``working`` are orders already resting (``qty``: what remains of each): their levels are taken
    and what they hold comes off the side's budget and room first, as the engine counts it; the
    other levels get what is left, level by level.
    """
    filters = OrderFilters.from_rules(rules)
    n = params.levels
    r2 = bid + ask
    buy_ok, sell_ok = sides_enabled(params, bid, ask, inv.base_steps)
    shift = skew_shift(params, r2, inv)
    bid_px, ask_px = level_prices(params, bid, ask, shift)
    ref = r2 // 2
    out: dict[Side, list[Quote | None]] = {Side.BUY: [None] * n, Side.SELL: [None] * n}
    for side, ok, prices in ((Side.BUY, buy_ok, bid_px), (Side.SELL, sell_ok, ask_px)):
        buy = side is Side.BUY
        budget = inv.quote_free_for_buys if buy else inv.base_free_for_sells
        room = buy_room(params, inv.base_steps) if buy else INF
        taken: set[int] = set()
        for w in working:
            if w.side is side:
                taken.add(w.level)
                budget -= w.qty * w.price if buy else w.qty
                room -= w.qty
        if not ok:
            continue
        for i, px in enumerate(prices):
            if i in taken:
                continue
            q = quote_qty(params, filters, buy, px, budget, room, ref)
            if q:
                out[side][i] = Quote(side, i, px, q)
                budget -= q * px if buy else q
                room -= q
    return out[Side.BUY], out[Side.SELL]


def bid_side_band(params: QuoteParams, shift: int, prices: list[int]) -> tuple[int, int, int]:
    """Where the bid side stays as it is: ``(r2_lo, r2_hi, ask_lo)``.

    For every reference ``r2`` in ``[r2_lo, r2_hi]`` each level's wanted bid
    ``min(bid_price(r2, level) + shift, bid_price(r2, min_spread))`` is within tolerance of the working
    price ``prices[level]`` (exact: a min of monotone functions, inverted end by end). ``ask_lo`` is a
    lower bound the best ask must respect so that the never-cross clamp ``bid <= ask - 1`` cannot
    bind (``-INF`` when the level distances already guarantee it on any uncrossed book).
    """
    r_lo, r_hi = -INF, INF
    mt, mp = params.min_t, params.min_p
    bid_t, bid_p = params.bid_t, params.bid_p
    if len(prices) != len(bid_t):
        raise ValueError(f"bid_side_band: {len(prices)} prices for {len(bid_t)} levels")
    t_min = INF
    for i in range(len(prices)):  # index loops and two-argument min/max: plain C once compiled
        t, w = bid_t[i], prices[i]
        tol = params.tol_t + w * params.tol_p // PPB if params.tol_p else params.tol_t
        f_lo, f_hi = bid_r2_range(t, bid_p[i], w - tol - shift, w + tol - shift)
        g_lo, g_hi = bid_r2_range(mt, mp, w - tol, w + tol)
        r_lo = max(r_lo, max(f_lo, g_lo))
        r_hi = min(r_hi, max(f_hi, g_hi))
        t_min = min(t_min, t)
    cross = -INF
    if t_min < shift:  # a quote may sit above the reference: pin the ask above it
        for w in prices:
            cross = max(cross, w + tolerance(params, w) + 1)
    return r_lo, r_hi, cross


def ask_side_band(params: QuoteParams, shift: int, prices: list[int]) -> tuple[int, int, int]:
    """Where the ask side stays as it is: ``(r2_lo, r2_hi, bid_hi)`` (mirror of ``bid_side_band``)."""
    r_lo, r_hi = -INF, INF
    mt, mp = params.min_t, params.min_p
    ask_t, ask_p = params.ask_t, params.ask_p
    if len(prices) != len(ask_t):
        raise ValueError(f"ask_side_band: {len(prices)} prices for {len(ask_t)} levels")
    t_min = INF
    for i in range(len(prices)):
        t, w = ask_t[i], prices[i]
        tol = params.tol_t + w * params.tol_p // PPB if params.tol_p else params.tol_t
        f_lo, f_hi = ask_r2_range(t, ask_p[i], w - tol - shift, w + tol - shift)
        g_lo, g_hi = ask_r2_range(mt, mp, w - tol, w + tol)
        r_lo = max(r_lo, min(f_lo, g_lo))
        r_hi = min(r_hi, min(f_hi, g_hi))
        t_min = min(t_min, t)
    cross = INF
    if t_min < -shift:
        for w in prices:
            cross = min(cross, w - tolerance(params, w) - 1)
    return r_lo, r_hi, cross


FREE_SIDE: Final = (-INF, INF, -INF)  # a side with no orders that wants none: no constraint
FREE_ASK_SIDE: Final = (-INF, INF, INF)


def combine_bands(
    params: QuoteParams, bid: int, ask: int, bid_band: tuple[int, int, int], ask_band: tuple[int, int, int]
) -> tuple[int, int, int, int, int, int]:
    """Turn the two side bands into the box ``(b_lo, b_hi, a_lo, a_hi, m_lo, m_hi)`` the engine
    checks on each book update (``m`` is ``bid + ask``), adding the price ceiling/floor: the box keeps
    the mid on the side of each it is on now, so a side they switch off or on is re-evaluated."""
    rb_lo, rb_hi, a_lo = bid_band
    ra_lo, ra_hi, b_hi = ask_band
    if params.mid:
        b_lo, a_hi = -INF, INF
        m_lo, m_hi = max(rb_lo, ra_lo), min(rb_hi, ra_hi)
    else:
        b_lo, b_hi = -((-rb_lo) // 2), min(b_hi, rb_hi // 2)
        a_lo, a_hi = max(a_lo, -((-ra_lo) // 2)), ra_hi // 2
        m_lo, m_hi = -INF, INF
    m = bid + ask
    if params.ceiling_ticks:
        c2 = 2 * params.ceiling_ticks
        if m > c2:
            m_lo = max(m_lo, c2 + 1)
        else:
            m_hi = min(m_hi, c2)
    if params.floor_ticks:
        f2 = 2 * params.floor_ticks
        if m < f2:
            m_hi = min(m_hi, f2 - 1)
        else:
            m_lo = max(m_lo, f2)
    return b_lo, b_hi, a_lo, a_hi, m_lo, m_hi


def price_band_for_orders(
    params: QuoteParams, bid: int, ask: int, shift: int, bid_prices: list[int], ask_prices: list[int]
) -> tuple[int, int, int, int, int, int]:
    """The box of uncrossed books (b, a) in which ``level_prices(params, b, a, shift)`` stays within
    tolerance of every working order (``bid_prices``/``ask_prices`` per level; an empty list is a side
    without orders) and no ceiling/floor is crossed. See ``bid_side_band`` for why it is exact."""
    bb = bid_side_band(params, shift, bid_prices) if bid_prices else FREE_SIDE
    ab = ask_side_band(params, shift, ask_prices) if ask_prices else FREE_ASK_SIDE
    return combine_bands(params, bid, ask, bb, ab)
