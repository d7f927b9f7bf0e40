"""What ``liqkit preflight`` needs from a venue, gathered without placing or cancelling anything.

- ``sim`` (no keys, no network): the shipped exchangeInfo's rules and rate limits (the simulated
  exchange trades its symbols), the ``[sim]`` starting balances, and the feed the simulated exchange
  would play: the same seeded synthetic feed per pair (``SIM_FEED``), or the recording given, whose
  first top is the market a start quotes against and whose whole length is the movement measured
  (``speed`` plays it faster, as ``liqkit serve --speed`` does).
- a Binance venue (testnet, Demo Mode, live, or a ``liqkit sim-server`` URL): exchangeInfo (rules and
  ``rateLimits``), the account's balances (needs the API keys), and per pair its book ticker (the market
  now) and its latest 1,000 trades: their prices, with the book's spread around them, are the recent
  movement (a recording given replaces them).

A pair the venue does not list is a ``LiqkitError`` naming its table and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from liqkit.data.feed import MarketData
from liqkit.domain.config import LiqkitConfig
from liqkit.domain.errors import LiqkitError, RulesError
from liqkit.domain.ratelimits import RateLimitRule, shipped_rate_limits
from liqkit.domain.rules import SymbolRules, default_rules
from liqkit.preflight import MarketSample

SIM_FEED: Final = {"seconds": 600, "events_per_s": 20}  # what SimVenue plays for a pair without data (seed + index)
RECENT_TRADES: Final = 1000


@dataclass(frozen=True)
class Survey:
    """A venue's rules, balances, markets and declared rate limits, for ``liqkit.preflight.preflight``."""

    venue: str
    rules: dict[str, SymbolRules]
    balances: dict[str, tuple[Decimal, Decimal]]
    markets: dict[str, MarketSample]
    limits: list[RateLimitRule]


def _not_listed(symbol: str, why: str) -> LiqkitError:
    return LiqkitError(
        f"pairs.{symbol}: {why}: check the pair's name (as Binance writes it, e.g. BTCUSDT) or remove its "
        f"[pairs.{symbol}] table"
    )


def sample_of(md: MarketData, source: str, speed: float = 1.0) -> MarketSample:
    """A recording (or feed) as a market sample: its first top quoted against, all of it as movement,
    its times compressed by ``speed``."""
    b = md.book
    ts = b["ts_local"].tolist()
    if not ts:
        raise LiqkitError(f"{source}: no book rows: give a recording with {md.rules.symbol}'s bookTicker")
    t0 = ts[0]
    times = [t0 + int((t - t0) / speed) for t in ts] if speed != 1.0 else ts
    bids, asks = b["bid"].tolist(), b["ask"].tolist()
    return MarketSample(bid=bids[0], ask=asks[0], ts=times, bids=bids, asks=asks, source=source)


def sample_of_trades(bid: int, ask: int, times: Sequence[int], prices: Sequence[int], source: str) -> MarketSample:
    """The market now (``bid``, ``ask``) with recent trade prices as the movement: each trade is a top
    with the current spread around its price (the bid at the price, less half the spread)."""
    spread = max(1, ask - bid)
    below = spread // 2
    bids = [p - below for p in prices]
    return MarketSample(bid=bid, ask=ask, ts=list(times), bids=bids, asks=[x + spread for x in bids], source=source)


def _survey_sim(cfg: LiqkitConfig, symbols: Sequence[str], data: MarketData | None, speed: float) -> Survey:
    from liqkit.data.synthetic import synthetic_feed

    rules: dict[str, SymbolRules] = {}
    markets: dict[str, MarketSample] = {}
    for i, sym in enumerate(symbols):  # as SimVenue.start: the data's rules, else the shipped exchangeInfo's
        if data is not None and data.rules.symbol == sym:
            rules[sym] = data.rules
            markets[sym] = sample_of(data, f"the recording {data.source or sym}", speed)
            continue
        try:
            rules[sym] = default_rules(sym)
        except RulesError:
            raise _not_listed(sym, "the simulated exchange does not list it (it trades the shipped exchangeInfo's "
                              "symbols)") from None  # fmt: skip
        feed = synthetic_feed(sym, seed=cfg.sim.seed + i, **SIM_FEED)  # type: ignore[arg-type]
        where = f"the simulated exchange's feed (synthetic, seed {cfg.sim.seed + i}"
        markets[sym] = sample_of(feed, where + (f", speed x{speed:g})" if speed != 1.0 else ")"), speed)
    balances = {a: (Decimal(v), Decimal(0)) for a, v in cfg.sim.balances.items()}
    return Survey("sim", rules, balances, markets, shipped_rate_limits())


async def _survey_binance(cfg: LiqkitConfig, symbols: Sequence[str], data: MarketData | None) -> Survey:
    from liqkit.venues.binance import BinanceVenue
    from liqkit.venues.factory import make_venue

    venue = make_venue(cfg, list(symbols))
    assert isinstance(venue, BinanceVenue)
    try:
        await venue.connect()
        try:
            rules = await venue.rules(symbols)
        except RulesError as e:
            sym = next((s for s in symbols if repr(s) in str(e) or str(e).startswith(s)), symbols[0])
            raise _not_listed(sym, str(e).split(": check", 1)[0]) from None
        balances = await venue.balances()
        markets: dict[str, MarketSample] = {}
        for sym in symbols:
            top, trades = await venue.recent_market(sym, RECENT_TRADES)
            if data is not None and data.rules.symbol == sym:
                rec = sample_of(data, f"the recording {data.source or sym}")
                markets[sym] = MarketSample(top.bid, top.ask, rec.ts, rec.bids, rec.asks, rec.source)
            else:
                where = f"{venue.name}'s latest {len(trades):,} trades"
                times, prices = [t.ts_exchange for t in trades], [t.price for t in trades]
                markets[sym] = sample_of_trades(top.bid, top.ask, times, prices, where)
        return Survey(venue.name, rules, balances, markets, list(venue.rate.declared))
    finally:
        await venue.close()


async def survey(
    cfg: LiqkitConfig, symbols: Sequence[str], data: MarketData | None = None, speed: float = 1.0
) -> Survey:
    """Gather what a pre-flight of ``symbols`` on ``cfg``'s venue needs (``data``: a recording of one of
    them to measure the movement on)."""
    if data is not None and data.rules.symbol not in symbols:
        raise LiqkitError(
            f"--data: the recording is of {data.rules.symbol}, which the config does not quote: add "
            f"[pairs.{data.rules.symbol}] or give a recording of {', '.join(symbols)}"
        )
    if cfg.engine.venue == "sim":
        return _survey_sim(cfg, symbols, data, speed)
    return await _survey_binance(cfg, symbols, data)
