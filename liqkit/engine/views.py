"""The views an ``EngineHandle`` returns: pydantic models with the control API's JSON shapes.

``LocalEngine`` builds them from its runner, ``liqkit.client.EngineClient`` parses the API's answers
into them, and the API declares them as its response models, so ``/openapi.json`` documents every
answer. Decimals are plain decimal strings (never exponent form), timestamps integer nanoseconds
(UTC), PnL figures floats in the pair's quote asset. Every model is frozen and refuses unknown
fields: a service and a client of different liqkit versions fail loudly instead of guessing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from liqkit.domain.config import PairConfig
from liqkit.rateplan import RatePlan

SideName = Literal["BUY", "SELL"]
Purpose = Literal["quote", "rebalance", "exit"]


def side_name(side: int) -> SideName:
    """The name of an order side (``Side.BUY`` is 1, ``Side.SELL`` -1)."""
    return "BUY" if side > 0 else "SELL"


class View(BaseModel):
    """Base of the views: frozen, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Filters(View):
    """The symbol's exchange filters that size and price its quotes."""

    tick: str = Field(description="Price tick size (PRICE_FILTER tickSize).")
    step: str = Field(description="Quantity step size (LOT_SIZE stepSize).")
    min_notional: str | None = Field(description="Smallest order value in the quote asset; null if none.")


class PairView(View):
    """One configured pair: state, config, market, position."""

    symbol: str = Field(description="Binance symbol, e.g. BTCUSDT.")
    base_asset: str = Field(default="", description="The asset quantities are in, e.g. BTC.")
    quote_asset: str = Field(default="", description="The asset prices and values are in, e.g. USDT.")
    state: str = Field(description="stopped, quoting, paused or halted.")
    reason: str = Field(description="Why the pair is in its state (empty when there is nothing to say).")
    config: PairConfig = Field(description="The pair's current config.")
    bid: str | None = Field(description="Market best bid; null before the first book update.")
    ask: str | None = Field(description="Market best ask; null before the first book update.")
    feed_age_s: float | None = Field(description="Seconds since the last book update; null before the first.")
    open_orders: int = Field(description="liqkit's working orders on the pair.")
    position: str = Field(description="Base quantity bought minus sold since the pair was run.")
    fills: int = Field(description="Fills since the pair was run.")
    filters: Filters = Field(description="The symbol's filters.")


class PairHealth(View):
    """A pair's health as the engine status reports it."""

    state: str = Field(description="stopped, quoting, paused or halted.")
    reason: str = Field(description="Why the pair is in its state.")
    feed_age_s: float | None = Field(description="Seconds since the last book update; null before the first.")
    open_orders: int = Field(description="liqkit's working orders on the pair.")
    position: str = Field(description="Base quantity bought minus sold since the pair was run.")
    fills: int = Field(description="Fills since the pair was run.")


class LoopLag(View):
    """How late the event loop woke the engine's timer."""

    last: float | None = Field(description="At the last timer tick, milliseconds; null before the first.")
    max: float | None = Field(description="Worst over the last minute, milliseconds; null before the first tick.")


class LatencyStats(View):
    """Decision latency (book update in -> intents handed out) over the recent samples, microseconds."""

    n: int = Field(description="Samples in the window.")
    p50_us: float = Field(description="Median, microseconds (within the histogram's relative error).")
    p99_us: float = Field(description="99th percentile, microseconds (within the histogram's relative error).")
    max_us: float = Field(description="Largest sample in the window, microseconds (exact).")


class RateUse(View):
    """Usage of one venue rate limit."""

    used: int = Field(description="Weight or count used in the current interval.")
    limit: int = Field(description="The limit of the interval.")


class EngineStatus(View):
    """Engine state, venue, feed health per pair, rate-limit usage, decision latency."""

    state: str = Field(description="created, running, stopping or stopped.")
    venue: str = Field(
        description="The venue's name (sim, binance-testnet, binance-demo, binance-live, binance-local)."
    )
    events: int = Field(description="Venue events consumed since start.")
    reconnects: int = Field(description="Stream gaps seen (each followed by a reconcile).")
    loop_lag_ms: LoopLag = Field(description="Event-loop lateness.")
    errors: list[str] = Field(description="The latest errors, oldest first (at most 50).")
    pairs: dict[str, PairHealth] = Field(description="Health per configured pair.")
    rate_limits: dict[str, RateUse] = Field(description="Usage per rate-limit header; empty if the venue has none.")
    latency_us: LatencyStats = Field(description="Decision latency.")
    rate_plan: RatePlan | None = Field(
        default=None,
        description="The orders predicted per window, from the engine's recent orders, against the venue's "
        "declared limits (exchangeInfo rateLimits), with warnings from 80 % of a limit.",
    )


class PairPnl(View):
    """A pair's PnL since it was last run, marked at the mid:
    pnl = spread capture + inventory - fees - rebalance cost."""

    pnl: float = Field(description="Total PnL, quote asset.")
    spread_capture: float = Field(
        description="Sum over the quotes' fills of the edge against the mid at the fill, times qty."
    )
    inventory_pnl: float = Field(description="PnL of the position's moves with the market.")
    fees: float = Field(description="Fees paid on the quotes' fills, quote asset.")
    rebalance_cost: float = Field(
        default=0.0,
        description="What the active rebalance's fills cost against the mid at the fill (the spread they paid, "
        "plus their fees), quote asset.",
    )
    rebalance_fills: int = Field(default=0, description="Fills of the active rebalance's orders.")
    position: str = Field(description="Base quantity bought minus sold.")
    volume: float = Field(description="Traded value, quote asset.")
    fills: int = Field(description="Number of fills.")
    quote_asset: str = Field(description="The asset the figures are in.")


class OrderView(View):
    """One of liqkit's working orders."""

    client_id: str = Field(description="liqkit's client order id (prefix, pair, side, level, sequence).")
    symbol: str = Field(description="Binance symbol.")
    side: SideName = Field(description="BUY or SELL.")
    level: int = Field(description="Quote level, 0 nearest the reference price.")
    price: str = Field(description="Limit price.")
    qty: str = Field(description="Order quantity, base asset.")
    filled: str = Field(description="Quantity filled so far.")
    status: str = Field(description="PENDING_NEW, NEW, PARTIALLY_FILLED, PENDING_CANCEL or UNKNOWN.")
    purpose: Purpose = Field(default="quote", description="quote, or rebalance (the active rebalance's order).")
    placed_ts: int | None = Field(default=None, description="When the engine placed it, ns (null: not seen).")
    updated_ts: int | None = Field(default=None, description="Its last state change, ns (null: not seen).")


class Balance(View):
    """An asset's balance."""

    free: str = Field(description="Available.")
    locked: str = Field(description="Held by open orders.")


class Fill(View):
    """One execution of a liqkit order.

    Fills from the engine's memory know the mid at the time (``mid``); fills read from the journal
    know the exchange's time and trade id instead. What a source does not know is null.
    """

    kind: Literal["fill"] = Field(default="fill", description="Always 'fill' (the event stream's kind).")
    ts: int = Field(description="Local receive time, ns.")
    symbol: str = Field(description="Binance symbol.")
    client_id: str = Field(description="The order's client id.")
    side: SideName = Field(description="BUY or SELL.")
    price: str = Field(description="Execution price.")
    qty: str = Field(description="Executed quantity, base asset.")
    fee: str = Field(description="Fee paid.")
    fee_asset: str = Field(description="The fee's asset.")
    maker: bool = Field(description="Whether the order was the maker.")
    mid: str | None = Field(default=None, description="Market mid at the fill (engine memory only).")
    ts_exchange: int | None = Field(default=None, description="Exchange time, ns (journal only).")
    trade_id: int | None = Field(default=None, description="Exchange trade id (journal only).")
    purpose: Purpose = Field(default="quote", description="quote, or rebalance (the active rebalance's order).")


class PnlPoint(View):
    """A pair's PnL and its parts at one time (the dashboard's equity chart):
    pnl = spread_capture + inventory_pnl - fees - rebalance_cost."""

    ts: int = Field(description="Time, ns.")
    pnl: float = Field(description="Total PnL (the equity's change since the pair was run), quote asset.")
    spread_capture: float = Field(description="The quotes' spread capture so far.")
    inventory_pnl: float = Field(description="The position's PnL so far.")
    fees: float = Field(description="The quotes' fees so far.")
    rebalance_cost: float = Field(description="The active rebalance's cost so far.")


class Quote(View):
    """A quote the pair would place (a preview: nothing is sent)."""

    side: SideName = Field(description="BUY or SELL.")
    level: int = Field(description="Quote level, 0 nearest the reference price.")
    price: str = Field(description="Limit price.")
    qty: str = Field(description="Quantity, base asset.")


class Snapshot(View):
    """Everything a client needs to start from: status, pairs, open orders, balances, recent fills, PnL."""

    status: EngineStatus = Field(description="Engine status.")
    pairs: dict[str, PairView] = Field(description="Every configured pair.")
    orders: list[OrderView] = Field(description="liqkit's working orders.")
    balances: dict[str, Balance] = Field(description="Balances per asset.")
    fills: list[Fill] = Field(description="Recent fills, oldest first.")
    pnl: dict[str, PairPnl] = Field(description="PnL per pair.")
    pnl_history: dict[str, list[PnlPoint]] = Field(
        default_factory=dict, description="PnL per pair over the last minutes, oldest first (the equity chart)."
    )


PAIRS = TypeAdapter(dict[str, PairView])
ORDERS = TypeAdapter(list[OrderView])
BALANCES = TypeAdapter(dict[str, Balance])
FILLS = TypeAdapter(list[Fill])
PNL = TypeAdapter(dict[str, PairPnl])
PNL_HISTORY = TypeAdapter(dict[str, list[PnlPoint]])
QUOTES = TypeAdapter(list[Quote])
