"""The pre-flight table: what a config would quote on a venue, and every reason a quote would be
refused, worked out before anything is sent.

Per pair: the symbol's filters; each level's price and size after rounding (bids down, asks up,
quantities down to the step), its value, and what the engine would send there; how many levels the
balances fund on each side; the order rate the refresh tolerance implies on a recent market; and the
refusals: the symbol's filters (``OrderFilters.failure``, Binance's order of checks; for an iceberg quote
``iceberg_failure``: LOT_SIZE on its icebergQty, ICEBERG_PARTS), the balances, the symbol's maximum number
of open orders, and the config's money-safety caps (``max_order_notional``,
the budget rule of ``liqkit.domain.budget``, ``max_inventory``, ``price_ceiling``/``price_floor``).
Then the rate-limit plan (``liqkit.rateplan``) of every pair's implied orders against the venue's
declared limits.

Every decision is the engine's own: ``liqkit.quoting`` prices, sizes and filters each level
(``level_prices``, ``size_for``, ``level_qty``, ``quote_qty``) and decides when a working order is
refreshed (``tolerance``), as ``EngineCore`` does; this module only records what they decide, and why.
Pure: no I/O, no clock, no logging. The inputs (rules, balances, a market sample, the declared limits)
come from the venue through the caller: ``liqkit.venues.survey`` for ``liqkit preflight``, the running
engine for ``LocalEngine.preflight``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from liqkit.domain.budget import BudgetError, check_budget
from liqkit.domain.config import PairConfig
from liqkit.domain.errors import FilterError
from liqkit.domain.filters import OrderFilters
from liqkit.domain.ratelimits import RateLimitRule
from liqkit.domain.rules import SymbolRules, plain_decimal
from liqkit.domain.types import Side
from liqkit.quoting import (
    INF,
    Inventory,
    MidVariance,
    QuoteParams,
    balance_units,
    buy_room,
    compile_params,
    iceberg_qty,
    level_prices,
    level_qty,
    model_depths,
    quote_qty,
    sides_enabled,
    size_for,
    skew_shift,
    tolerance,
    with_depths,
)
from liqkit.rateplan import MIN_SPAN_S, OrderFlow, RatePlan, busiest, plan

DAY_S: Final = 86_400
TEN_S_NS: Final = 10_000_000_000
TIMER_NS: Final = 1_000_000_000  # the engine's timer, on which a model samples the mid
Balances = Mapping[str, tuple[Decimal, Decimal]]


@dataclass(frozen=True, slots=True)
class MarketSample:
    """A symbol's market for a pre-flight: the top a start would quote against (``bid``, ``ask``,
    ticks) and recent tops over time (``ts`` ns ascending, ``bids``, ``asks`` ticks; may be empty): the
    movement the refresh tolerance is measured on. ``source`` says where they come from."""

    bid: int
    ask: int
    ts: Sequence[int] = ()
    bids: Sequence[int] = ()
    asks: Sequence[int] = ()
    source: str = ""


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Refusal(_View):
    """One reason a quote (or a whole pair) would not go out as configured."""

    code: str = Field(
        description="A filter as Binance names it (PRICE_FILTER, LOT_SIZE, NOTIONAL, PERCENT_PRICE, "
        "PERCENT_PRICE_BY_SIDE, MAX_NUM_ORDERS, ICEBERG_PARTS), or liqkit's: max_order_notional, budget, balance, "
        "max_inventory, price_ceiling, price_floor, config, status, symbol, market."
    )
    field: str = Field(description="What to change: a config field (pairs.BTCUSDT.size) or a balance (balances.USDT).")
    message: str = Field(description="Why, with the limit and the fix.")


class QuoteCheck(_View):
    """One level of one side, as the engine would quote it now."""

    side: Literal["BUY", "SELL"] = Field(description="BUY or SELL.")
    level: int = Field(description="0 nearest the reference price.")
    price: str = Field(description="Limit price after rounding (bids down, asks up), quote asset.")
    qty: str = Field(description="The configured size at this price, rounded down to the step, base asset.")
    notional: str = Field(description="price x qty, quote asset.")
    placed_qty: str = Field(description="What the engine would send (the balance may cut it); '0': nothing.")
    placed_notional: str = Field(description="price x placed_qty, quote asset.")
    funded: bool = Field(description="The balances pay for the full size (after the levels nearer the reference).")
    iceberg_qty: str | None = Field(
        default=None, description="iceberg_visible: the icebergQty sent with the full size; null: a plain order."
    )
    iceberg_parts: int | None = Field(
        default=None, description="The iceberg's parts, CEIL(qty / icebergQty) (ICEBERG_PARTS); null: a plain order."
    )
    refusals: list[Refusal] = Field(description="Why it would not go out as configured; empty: it would.")


class SideCheck(_View):
    """What one side's balance funds."""

    side: Literal["BUY", "SELL"] = Field(description="BUY (spends the quote asset) or SELL (the base asset).")
    asset: str = Field(description="The asset the side spends.")
    available: str = Field(description="Its free balance.")
    levels: int = Field(description="Levels configured.")
    placed: int = Field(description="Levels the engine would place.")
    funded: int = Field(description="Levels the balance funds at the full size.")
    fundable: int = Field(description="Orders of level 0's full size the balance pays for (max_inventory too).")


class FilterSummary(_View):
    """The symbol's filters (exchangeInfo), in its assets."""

    tick: str = Field(description="PRICE_FILTER tickSize.")
    step: str = Field(description="LOT_SIZE stepSize.")
    min_price: str = Field(description="PRICE_FILTER minPrice (one tick when 0).")
    max_price: str | None = Field(description="PRICE_FILTER maxPrice; null: none.")
    min_qty: str = Field(description="LOT_SIZE minQty (one step when 0).")
    max_qty: str | None = Field(description="LOT_SIZE maxQty; null: none.")
    min_notional: str | None = Field(description="NOTIONAL / MIN_NOTIONAL minNotional; null: none.")
    max_notional: str | None = Field(description="NOTIONAL maxNotional; null: none.")
    max_orders: int | None = Field(description="MAX_NUM_ORDERS: open orders on the symbol; null: none.")
    iceberg_parts: int | None = Field(
        default=None, description="ICEBERG_PARTS limit: an iceberg's parts at most; null: none (or not allowed)."
    )
    percent_price: str | None = Field(description="PERCENT_PRICE or PERCENT_PRICE_BY_SIDE and its multipliers.")
    bid_band: list[str] | None = Field(description="The bid prices the percent-price filter allows now [low, high].")
    ask_band: list[str] | None = Field(description="The ask prices it allows now [low, high].")


class OrderRate(_View):
    """The orders the refresh tolerance implies on the sampled market."""

    source: str = Field(description="The market sampled.")
    sample_s: float = Field(description="Seconds sampled.")
    refreshes: int = Field(description="Times a quote's wanted price moved past refresh_tolerance: cancel, new order.")
    touches: int = Field(description="Times the market reached a quote (a likely fill): a new order.")
    orders: int = Field(description="New orders in the sample (the first quotes included).")
    cancels: int = Field(description="Cancels in the sample.")
    orders_per_min: float = Field(description="New orders a minute (over at least a minute).")
    busiest_10s: int = Field(description="New orders in the busiest 10 s of the sample.")
    orders_per_day: int = Field(description="New orders a day at the sample's rate.")


class PairPreflight(_View):
    """One pair's pre-flight."""

    symbol: str = Field(description="Binance symbol.")
    base_asset: str = Field(description="Base asset (quantities).")
    quote_asset: str = Field(description="Quote asset (prices, notionals).")
    bid: str | None = Field(description="The market's best bid quoted against; null: no market.")
    ask: str | None = Field(description="The market's best ask; null: no market.")
    market: str = Field(description="Where the market comes from.")
    size: str = Field(description="The configured size with its unit, e.g. '20 USDT' or '0.001 BTC'.")
    filters: FilterSummary | None = Field(description="The symbol's filters; null when the venue does not list it.")
    quotes: list[QuoteCheck] = Field(default_factory=list, description="Every level of both sides, bids first.")
    bids: SideCheck | None = Field(default=None, description="What the quote balance funds.")
    asks: SideCheck | None = Field(default=None, description="What the base balance funds.")
    rate: OrderRate | None = Field(default=None, description="The order rate implied on the sampled market.")
    refusals: list[Refusal] = Field(description="The pair's own: config, budget rule, symbol status, market.")
    ok: bool = Field(description="Every level would go out in full and nothing would be refused.")


class Preflight(_View):
    """The pre-flight of every configured pair, and the rate-limit plan of their orders."""

    venue: str = Field(description="The venue checked against.")
    pairs: dict[str, PairPreflight] = Field(description="Per pair.")
    rate_plan: RatePlan = Field(description="The pairs' implied orders against the venue's declared limits.")
    observed: RatePlan | None = Field(default=None, description="The engine's own recent orders, when it runs.")
    ok: bool = Field(description="Every pair ok and no rate-limit warning.")


# ---- the computation --------------------------------------------------------------------------------
def preflight(
    pairs: Sequence[PairConfig],
    rules: Mapping[str, SymbolRules],
    balances: Balances,
    markets: Mapping[str, MarketSample],
    limits: Sequence[RateLimitRule],
    venue: str = "",
    max_loss: Decimal | None = None,
) -> Preflight:
    """The pre-flight of ``pairs`` on a venue whose symbols have ``rules`` and whose account holds
    ``balances`` (asset -> (free, locked)), quoting against ``markets``, under the declared ``limits``.
    ``max_loss`` is the engine-wide kill switch a pair's config may override."""
    reports: dict[str, PairPreflight] = {}
    flows: list[OrderFlow] = []
    sources: list[str] = []
    for cfg in pairs:
        report, flow = check_pair(cfg, rules.get(cfg.symbol), balances, markets.get(cfg.symbol), max_loss)
        reports[cfg.symbol] = report
        if flow is not None:
            flows.append(flow)
            sources.append(f"{cfg.symbol} on {report.rate.source}" if report.rate else cfg.symbol)
    source = "refresh_tolerance on " + ("; ".join(sources) if sources else "no market sample")
    rate_plan = plan(limits, flows, source)
    ok = all(r.ok for r in reports.values()) and not rate_plan.warnings
    return Preflight(venue=venue, pairs=reports, rate_plan=rate_plan, ok=ok)


def check_pair(
    cfg: PairConfig,
    rules: SymbolRules | None,
    balances: Balances,
    market: MarketSample | None,
    max_loss: Decimal | None = None,
) -> tuple[PairPreflight, OrderFlow | None]:
    """One pair's pre-flight, and the orders its refresh tolerance implies on ``market``'s movement."""
    sym = cfg.symbol
    if rules is None:
        why = Refusal(
            code="symbol",
            field=f"pairs.{sym}",
            message=f"the venue does not list {sym}: check the pair's name (as Binance writes it, e.g. BTCUSDT)",
        )
        out = PairPreflight(
            symbol=sym, base_asset="", quote_asset="", bid=None, ask=None, market="",
            size=f"{plain_decimal(cfg.size)} {cfg.size_unit}", filters=None, refusals=[why], ok=False,
        )  # fmt: skip
        return out, None
    r = rules
    top = market if market is not None and 0 < market.bid < market.ask else None
    refusals: list[Refusal] = []
    if r.status != "TRADING":
        why_text = f"{sym} is not trading (status {r.status}): quote another pair"
        refusals.append(Refusal(code="status", field=f"pairs.{sym}", message=why_text))
    params: QuoteParams | None = None
    try:
        params = compile_params(cfg, r, max_loss)
    except ValueError as e:
        refusals.append(_config_refusal(sym, e))
    if top is None:
        no_market = f"no market for {sym} yet: nothing to price quotes on"
        refusals.append(Refusal(code="market", field=f"pairs.{sym}", message=no_market))
    base = PairPreflight(
        symbol=sym,
        base_asset=r.base_asset,
        quote_asset=r.quote_asset,
        bid=plain_decimal(r.price(top.bid)) if top else None,
        ask=plain_decimal(r.price(top.ask)) if top else None,
        market=market.source if market is not None else "",
        size=f"{plain_decimal(cfg.size)} {r.quote_asset if cfg.size_unit == 'quote' else r.base_asset}",
        filters=_filters(r, (top.bid + top.ask) // 2 if top else 0),
        refusals=refusals,
        ok=False,
    )
    if params is None or top is None:
        return base, None
    bid, ask = top.bid, top.ask
    params = _model_spreads(params, top)
    try:
        check_budget(cfg, r, r.price(bid + ask) / 2, balances)
    except BudgetError as e:
        refusals.append(_config_refusal(sym, e, "budget"))
    bf, bl, qf, ql = balance_units(r, balances)
    inv = Inventory(base_steps=bf + bl, quote_units=qf + ql, base_free_for_sells=bf, quote_free_for_buys=qf)
    quotes, (bids, asks) = _levels(cfg, r, params, bid, ask, inv)
    flow, rate = _implied(params, top, inv, [q for q in quotes if q.placed_qty != "0"])
    ok = not refusals and all(not q.refusals for q in quotes)
    update = {"quotes": quotes, "bids": bids, "asks": asks, "rate": rate, "refusals": refusals, "ok": ok}
    return base.model_copy(update=update), flow


def _model_spreads(p: QuoteParams, market: MarketSample) -> QuoteParams:
    """A model pair (``model = "glft"``/``"as"``) as the engine quotes it at the sample's top, flat (q = 0):
    its spreads at the realised volatility of the sample's tops over the model's window, sampled on the
    engine's timer grid (the last top at or before each tick), as ``EngineCore.on_timer`` measures it."""
    m = p.model
    if m is None:
        return p
    vol = MidVariance(m.window_ns)
    ts, bids, asks = market.ts, market.bids, market.asks
    n = min(len(ts), len(bids), len(asks))
    k = 0
    tick = ts[0] - ts[0] % TIMER_NS + TIMER_NS if n else 0
    while k < n:
        while k + 1 < n and ts[k + 1] <= tick:
            k += 1
        if ts[k] <= tick and bids[k] < asks[k]:
            vol.add(tick, bids[k] + asks[k])
        if k + 1 >= n:
            break
        tick += TIMER_NS
    db, da = model_depths(p, market.bid + market.ask, vol.variance(), 0.0)
    return with_depths(p, db, da)


def _config_refusal(sym: str, e: ValueError, code: str = "") -> Refusal:
    """A refusal of the config itself: its message starts with the field it names (``size = ...``)."""
    text = str(e).removeprefix(f"pairs.{sym}.")
    name = text.split(" ", 1)[0].split("=", 1)[0].rstrip(":")
    budget = isinstance(e, BudgetError)
    return Refusal(code=code or ("budget" if budget else "config"), field=f"pairs.{sym}.{name}", message=text)


def _filters(r: SymbolRules, ref: int) -> FilterSummary:
    pp = r.percent_price
    bands: dict[str, list[str] | None] = {"bid_band": None, "ask_band": None}
    text = None
    if pp is not None:

        def m(f: tuple[int, int]) -> str:
            return plain_decimal(Decimal(f[0]) / Decimal(f[1]))

        if pp.bid_up == pp.ask_up and pp.bid_down == pp.ask_down:
            text = f"{pp.name}: x{m(pp.bid_down)} to x{m(pp.bid_up)} of the average price"
        else:
            text = (
                f"{pp.name}: bids x{m(pp.bid_down)} to x{m(pp.bid_up)}, asks x{m(pp.ask_down)} to x{m(pp.ask_up)} "
                "of the average price"
            )
        if ref > 0:
            for key, side in (("bid_band", Side.BUY), ("ask_band", Side.SELL)):
                lo, hi = pp.bounds(side, ref)
                bands[key] = [plain_decimal(r.price(lo)), plain_decimal(r.price(hi))]
    return FilterSummary(
        tick=plain_decimal(r.tick),
        step=plain_decimal(r.step),
        min_price=plain_decimal(r.price(max(r.min_price_ticks, 1))),
        max_price=plain_decimal(r.price(r.max_price_ticks)) if r.max_price_ticks else None,
        min_qty=plain_decimal(r.qty(max(r.min_qty_steps, 1))),
        max_qty=plain_decimal(r.qty(r.max_qty_steps)) if r.max_qty_steps else None,
        min_notional=plain_decimal(r.min_notional) if r.min_notional else None,
        max_notional=plain_decimal(r.max_notional) if r.max_notional_units else None,
        max_orders=r.max_orders or None,
        iceberg_parts=(r.iceberg_parts or None) if r.iceberg_allowed else None,
        percent_price=text,
        **bands,
    )


def _levels(
    cfg: PairConfig, r: SymbolRules, p: QuoteParams, bid: int, ask: int, inv: Inventory
) -> tuple[list[QuoteCheck], tuple[SideCheck, SideCheck]]:
    """Each level as the engine would quote it (``quoting.wanted_quotes``' walk: level by level, what
    each takes coming off its side's budget and room), and every reason one would be refused."""
    sym = cfg.symbol
    filters = OrderFilters.from_rules(r)
    buy_ok, sell_ok = sides_enabled(p, bid, ask, inv.base_steps)
    shift = skew_shift(p, bid + ask, inv)
    bid_px, ask_px = level_prices(p, bid, ask, shift)
    ref = (bid + ask) // 2
    mid = r.price(bid + ask) / 2
    quotes: list[QuoteCheck] = []
    sides: list[SideCheck] = []
    sent = 0  # orders the engine would have open on the symbol (MAX_NUM_ORDERS)
    for buy, enabled, prices in ((True, buy_ok, bid_px), (False, sell_ok, ask_px)):
        side = Side.BUY if buy else Side.SELL
        asset = r.quote_asset if buy else r.base_asset
        start_budget = inv.quote_free_for_buys if buy else inv.base_free_for_sells
        budget, room = start_budget, buy_room(p, inv.base_steps) if buy else INF
        placed_n = funded_n = 0
        for i, px in enumerate(prices):
            wanted = size_for(p, px)
            why: list[Refusal] = []
            placed = 0
            if not enabled:
                why.append(_side_off(cfg, r, buy, mid))
            else:
                why += _filter_refusals(cfg, r, filters, side, px, wanted, ref)
                why += _iceberg_refusals(cfg, r, filters, p, wanted)
                if wanted > 0 and wanted * px > p.max_order_units:
                    why.append(
                        Refusal(
                            code="max_order_notional",
                            field=f"pairs.{sym}.max_order_notional",
                            message=f"{r.qty(wanted).normalize():f} {r.base_asset} at {r.price(px)} is worth "
                            f"{r.price(px) * r.qty(wanted):.2f} {r.quote_asset}, over max_order_notional "
                            f"{cfg.max_order_notional.normalize():f} {r.quote_asset}: lower size or raise "
                            "max_order_notional",
                        )
                    )
                afford = level_qty(p, buy, px, budget, room)
                placed = quote_qty(p, filters, buy, px, budget, room, ref)
                if 0 <= afford < wanted:
                    why.append(_short(cfg, r, buy, i, px, wanted, afford, budget, room, placed))
                    name = filters.failure(buy, px, afford, ref) if afford > 0 else ""
                    if name and not any(w.code == name for w in why):
                        what = "what the balance pays for"
                        why += _filter_refusals(cfg, r, filters, side, px, afford, ref, what=what)
                    if afford > 0 and not any(w.code in ("ICEBERG_PARTS", "LOT_SIZE") for w in why):
                        why += _iceberg_refusals(cfg, r, filters, p, afford, "what the balance pays for")
                if placed > 0:
                    if r.max_orders and sent >= r.max_orders:
                        why.append(
                            Refusal(
                                code="MAX_NUM_ORDERS",
                                field=f"pairs.{sym}.levels",
                                message=f"{sym} allows {r.max_orders} open orders (MAX_NUM_ORDERS): quote fewer levels",
                            )
                        )
                    sent += 1
                    placed_n += 1
                    budget -= placed * px if buy else placed
                    room -= placed
                if placed == 0 and not why:  # the engine's own decision, whatever this table found
                    why.append(Refusal(code="config", field=f"pairs.{sym}", message="the engine places nothing here"))
            funded = enabled and wanted > 0 and placed == wanted
            vis = iceberg_qty(p, wanted) if p.ice_on and wanted > 0 else 0
            funded_n += funded
            quotes.append(
                QuoteCheck(
                    side="BUY" if buy else "SELL",
                    level=i,
                    price=plain_decimal(r.price(px)),
                    qty=plain_decimal(r.qty(wanted)),
                    notional=plain_decimal(r.price(px) * r.qty(wanted)),
                    placed_qty=plain_decimal(r.qty(placed)),
                    placed_notional=plain_decimal(r.price(px) * r.qty(placed)),
                    funded=funded,
                    iceberg_qty=plain_decimal(r.qty(vis)) if vis else None,
                    iceberg_parts=r.iceberg_parts_of(wanted, vis) if vis else None,
                    refusals=why,
                )
            )
        w0 = size_for(p, prices[0]) if prices else 0
        if w0 <= 0:
            fundable = 0
        elif buy:
            fundable = start_budget // (w0 * prices[0])
            if p.max_inv_steps:
                fundable = min(fundable, max(0, buy_room(p, inv.base_steps)) // w0)
        else:
            fundable = start_budget // w0
        avail = r.qty(start_budget) if not buy else start_budget * r.tick * r.step
        sides.append(
            SideCheck(
                side="BUY" if buy else "SELL",
                asset=asset,
                available=plain_decimal(avail),
                levels=len(prices),
                placed=placed_n,
                funded=funded_n,
                fundable=max(0, fundable),
            )
        )
    return quotes, (sides[0], sides[1])


def _filter_refusals(
    cfg: PairConfig,
    r: SymbolRules,
    filters: OrderFilters,
    side: Side,
    px: int,
    qty: int,
    ref: int,
    what: str = "",
) -> list[Refusal]:
    """The symbol's filter an order of ``qty`` steps at ``px`` breaks (Binance's first), worded by
    ``SymbolRules.check_order``; none when it passes."""
    name = filters.failure(side is Side.BUY, px, qty, ref)
    if not name:
        return []
    try:
        r.check_order(side, px, qty, ref)
        text = name
    except FilterError as e:
        text = str(e).removeprefix(f"Filter failure: {name}: ").removeprefix(f"{r.symbol}: ")
    spread = "bid_spread" if side is Side.BUY else "ask_spread"
    field, fix = {
        "PRICE_FILTER": (spread, "change the spread"),
        "LOT_SIZE": ("size", "change size"),
        "NOTIONAL": ("size", "change size"),
    }.get(name, (spread, "quote nearer the market"))
    prefix = f"{what}: " if what else ""
    return [Refusal(code=name, field=f"pairs.{cfg.symbol}.{field}", message=f"{prefix}{text} ({name}): {fix}")]


def _iceberg_refusals(
    cfg: PairConfig, r: SymbolRules, filters: OrderFilters, p: QuoteParams, qty: int, what: str = ""
) -> list[Refusal]:
    """The filter an iceberg quote of ``qty`` steps breaks (``OrderFilters.iceberg_failure``, as
    ``quoting.quote_qty`` decides), worded by ``SymbolRules.iceberg_why``; none for a plain quote."""
    vis = iceberg_qty(p, qty) if p.ice_on and qty > 0 else 0
    name = filters.iceberg_failure(qty, vis) if vis else ""
    if not name:
        return []
    prefix = f"{what}: " if what else ""
    text = f"{prefix}{r.iceberg_why(name, qty, vis)} ({name}): change iceberg_visible"
    return [Refusal(code=name, field=f"pairs.{cfg.symbol}.iceberg_visible", message=text)]


def _side_off(cfg: PairConfig, r: SymbolRules, buy: bool, mid: Decimal) -> Refusal:
    """Why a whole side does not quote (``quoting.sides_enabled``): the ceiling, the floor or max inventory."""
    sym = cfg.symbol
    if not buy:
        return Refusal(
            code="price_floor",
            field=f"pairs.{sym}.price_floor",
            message=f"no sell orders: the mid {mid.normalize():f} is below price_floor {cfg.price_floor}",
        )
    if cfg.price_ceiling is not None and mid > cfg.price_ceiling:
        return Refusal(
            code="price_ceiling",
            field=f"pairs.{sym}.price_ceiling",
            message=f"no buy orders: the mid {mid.normalize():f} is above price_ceiling {cfg.price_ceiling}",
        )
    return Refusal(
        code="max_inventory",
        field=f"pairs.{sym}.max_inventory",
        message=f"no buy orders: the {r.base_asset} held has reached max_inventory {cfg.max_inventory}",
    )


def _short(
    cfg: PairConfig, r: SymbolRules, buy: bool, level: int, px: int, wanted: int, afford: int, budget: int, room: int,
    placed: int,
) -> Refusal:  # fmt: skip
    """Why a level cannot have its full size: the room under max_inventory, or the balance."""
    then = (
        f"the engine quotes {r.qty(placed).normalize():f} {r.base_asset} instead"
        if placed
        else "the engine quotes nothing there"
    )
    want = f"{r.qty(wanted).normalize():f} {r.base_asset}"
    if buy and room < wanted and room <= afford:
        left = r.qty(max(room, 0)).normalize()
        return Refusal(
            code="max_inventory",
            field=f"pairs.{cfg.symbol}.max_inventory",
            message=f"max_inventory {cfg.max_inventory} {r.base_asset} leaves room for {left:f} {r.base_asset}, "
            f"level {level} wants {want}: {then}",
        )
    if buy:
        need = r.price(px) * r.qty(wanted)
        have = max(budget, 0) * r.tick * r.step
        return Refusal(
            code="balance",
            field=f"balances.{r.quote_asset}",
            message=f"not enough {r.quote_asset}: buying {want} at level {level} needs {need:.2f} "
            f"{r.quote_asset}, {have:.2f} left after the levels before it: {then}; add {r.quote_asset}, "
            "lower size or quote fewer levels",
        )
    have_b = r.qty(max(budget, 0)).normalize()
    return Refusal(
        code="balance",
        field=f"balances.{r.base_asset}",
        message=f"not enough {r.base_asset}: selling {want} at level {level} needs it, {have_b:f} left after "
        f"the levels before it: {then}; add {r.base_asset}, lower size or quote fewer levels",
    )


# ---- the order rate the refresh tolerance implies ---------------------------------------------------
def _implied(
    p: QuoteParams, market: MarketSample, inv: Inventory, placed: Sequence[QuoteCheck]
) -> tuple[OrderFlow | None, OrderRate | None]:
    """Walk the sampled tops with the placed levels: a level whose wanted price (``level_prices``) moves
    more than ``tolerance`` from its order's price is refreshed (a cancel and a new order), one the
    market reaches (the ask down to a bid, the bid up to an ask) is refilled (a new order), a side
    ``sides_enabled`` switches off is cancelled, and one it switches on is placed again."""
    ts, bids, asks = market.ts, market.bids, market.asks
    n = min(len(ts), len(bids), len(asks))
    if n < 2:
        return None, None
    levels_b = [q.level for q in placed if q.side == "BUY"]
    levels_a = [q.level for q in placed if q.side == "SELL"]
    shift = skew_shift(p, market.bid + market.ask, inv)  # the holdings stay as they are now
    work_b: dict[int, int] = {}
    work_a: dict[int, int] = {}
    orders: list[int] = []
    requests: list[int] = []
    refreshes = touches = cancels = 0
    last = (-1, -1)
    for k in range(n):
        b, a = bids[k], asks[k]
        if (b, a) == last or b >= a:
            continue
        last = (b, a)
        t = ts[k]
        bp, ap = level_prices(p, b, a, shift)
        buy_ok, sell_ok = sides_enabled(p, b, a, inv.base_steps)
        for work, lv, prices, ok, buy in ((work_b, levels_b, bp, buy_ok, True), (work_a, levels_a, ap, sell_ok, False)):
            for i in lv:
                want = prices[i]
                w = work.get(i)
                if w is None:
                    if ok:
                        work[i] = want
                        orders.append(t)
                        requests.append(t)
                elif not ok:
                    del work[i]
                    cancels += 1
                    requests.append(t)
                elif (a <= w) if buy else (b >= w):
                    work[i] = want
                    touches += 1
                    orders.append(t)
                    requests.append(t)
                elif abs(want - w) > tolerance(p, w):
                    work[i] = want
                    refreshes += 1
                    cancels += 1
                    orders.append(t)
                    requests += (t, t)
    flow = OrderFlow(orders, requests, ts[0], ts[n - 1])
    span = flow.span_s
    per_s = len(orders) / max(span, MIN_SPAN_S)
    rate = OrderRate(
        source=market.source or "the recent market",
        sample_s=span,
        refreshes=refreshes,
        touches=touches,
        orders=len(orders),
        cancels=cancels,
        orders_per_min=per_s * 60,
        busiest_10s=busiest(orders, TEN_S_NS),
        orders_per_day=round(per_s * DAY_S),
    )
    return flow, rate
