"""Backtest metrics: small functions of NumPy columns, each computing one thing (no pandas).

Definitions (quote asset, per pair):

- ``pnl`` = cash flow of fills + position x final mid - fees (mark-to-market at the last mid).
- ``spread_capture`` = sum over the quotes' fills of qty x (mid at fill - price) for buys, (price - mid)
  for sells: the edge earned against the mid when filled.
- ``fees``: the fees of the quotes' fills.
- ``rebalance_cost``: what the active rebalance's fills cost against the mid at the time: the spread they
  paid, qty x (price - mid) for buys, (mid - price) for sells, plus their fees.
- ``inventory_pnl`` = pnl + fees + rebalance_cost - spread_capture: what holding the position gained or
  lost, so that ``pnl = spread_capture + inventory_pnl - fees - rebalance_cost``.
- ``markout_<h>s_bps``: mean over fills of side x (mid h seconds later - fill price) / price, in bps
  (fills too close to the end to look h seconds ahead are left out).

The inputs are one pair's fills in exchange units (``PairFills``) and its book (``MidLine``); the
result's tables are not needed, so a caller that wants only metrics never builds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

MARKOUT_HORIZONS_S = (1, 10, 60)
_ORDER_STATUSES = (
    ("orders_placed", "PENDING_NEW"),  # sent
    ("orders_cancelled", "CANCELED"),  # confirmed
    ("orders_filled", "FILLED"),  # whole
    ("orders_rejected", "REJECTED"),
)


def mid_at(book_ts: np.ndarray, mid: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """The mid in force at each of ``ts`` (the last book row at or before it; NaN before the first)."""
    i = np.searchsorted(book_ts, ts, side="right") - 1
    out = np.where(i >= 0, mid[np.clip(i, 0, len(mid) - 1)], np.nan) if len(mid) else np.full(len(ts), np.nan)
    return out.astype(float)


@dataclass(frozen=True)
class MidLine:
    """A pair's mid over time, computed only where it is asked for (not for every book row)."""

    ts: np.ndarray  # the book's ts_local, int64 ns
    bid: np.ndarray  # int64 ticks
    ask: np.ndarray  # int64 ticks
    half_tick: float  # tick / 2, so that (bid + ask) * half_tick is the mid in the quote asset

    @classmethod
    def of_book(cls, book: Mapping[str, np.ndarray], tick: float) -> MidLine:
        """The mid line of a ``MarketData.book``."""
        return cls(book["ts_local"], book["bid"], book["ask"], tick / 2)

    def __len__(self) -> int:
        return len(self.ts)

    def at(self, ts: np.ndarray) -> np.ndarray:
        """The mid in force at each of ``ts`` (as ``mid_at``; NaN before the first row)."""
        n = len(self.ts)
        if not n:
            return np.full(len(ts), np.nan)
        i = np.searchsorted(self.ts, ts, side="right") - 1
        j = np.clip(i, 0, n - 1)
        return np.where(i >= 0, (self.bid[j] + self.ask[j]) * self.half_tick, np.nan).astype(float)

    def last(self) -> float:
        """The final mid."""
        return float((self.bid[-1] + self.ask[-1]) * self.half_tick)


@dataclass(frozen=True)
class MidPoints:
    """A mid-price series given as prices (a recording's mids, a session's samples): ``ts`` int64 ns in
    time order and ``mid`` in the quote asset; the same ``at`` as ``MidLine``."""

    ts: np.ndarray  # int64 ns, non-decreasing
    mid: np.ndarray  # float, quote asset

    def __len__(self) -> int:
        return len(self.ts)

    def at(self, ts: np.ndarray) -> np.ndarray:
        """The mid in force at each of ``ts`` (``mid_at``; NaN before the first point)."""
        return mid_at(self.ts, self.mid, ts)


Mids = MidLine | MidPoints


def markout_returns(ts: np.ndarray, sign: np.ndarray, price: np.ndarray, mid: Mids, horizon_ns: int) -> np.ndarray:
    """Each fill's markout ``horizon_ns`` after it, as a fraction of its price: sign x (mid then - price) /
    price (positive: good for us). NaN where the mid series ends before that time, or has not begun.

    The one markout computation: the run's ``markout_<h>s_bps`` metrics, the report's tables and
    ``liqkit.research.fills.markouts`` (with confidence intervals) all take their means of these.
    """
    out = np.full(len(ts), np.nan)
    if not len(mid) or not len(ts):
        return out
    later = ts + horizon_ns
    ok = later <= int(mid.ts[-1])
    px = price[ok]
    out[ok] = sign[ok] * (mid.at(later[ok]) - px) / px
    return out


@dataclass(frozen=True)
class PairFills:
    """One pair's fills in time order, in exchange units (float64 arrays, one entry a fill)."""

    ts: np.ndarray  # int64 ns, when the engine heard of the fill
    sign: np.ndarray  # +1.0 buy, -1.0 sell
    price: np.ndarray
    qty: np.ndarray  # base asset
    fee: np.ndarray  # quote asset
    rebalance: np.ndarray | None = None  # bool: a fill of the active rebalance (None: none is)
    exit: np.ndarray | None = None  # bool: a fill of an OCO exit's leg (None: none is)

    def __len__(self) -> int:
        return len(self.ts)


def pnl_split(f: PairFills, mid: MidLine) -> dict[str, float]:
    """Total PnL and its parts: spread capture, inventory, fees, and the rebalance's cost."""
    if not len(f) or not len(mid):
        return {"pnl": 0.0, "spread_capture": 0.0, "inventory_pnl": 0.0, "fees": 0.0, "rebalance_cost": 0.0}
    sign, px, qty = f.sign, f.price, f.qty
    m = mid.at(f.ts)
    cash = float(np.sum(-sign * px * qty))
    pos = float(np.sum(sign * qty))
    edge = sign * (m - px) * qty
    rb = f.rebalance
    if rb is None or not rb.any():
        fees = float(np.sum(f.fee))
        pnl = cash + pos * mid.last() - fees
        spread = float(np.nansum(edge))
        cost = 0.0
    else:
        fees = float(np.sum(f.fee[~rb]))
        pnl = cash + pos * mid.last() - fees - float(np.sum(f.fee[rb]))
        spread = float(np.nansum(edge[~rb]))
        cost = float(np.sum(f.fee[rb]) - np.nansum(edge[rb]))
    return {
        "pnl": pnl,
        "spread_capture": spread,
        "inventory_pnl": pnl + fees + cost - spread,
        "fees": fees,
        "rebalance_cost": cost,
    }


def markouts(f: PairFills, mid: MidLine, horizons_s: tuple[int, ...] = MARKOUT_HORIZONS_S) -> dict[str, float | None]:
    """Mean markout in bps at each horizon (None when no fill has that much data after it)."""
    out: dict[str, float | None] = {}
    for h in horizons_s:
        r = markout_returns(f.ts, f.sign, f.price, mid, h * 1_000_000_000)
        r = r[~np.isnan(r)]
        out[f"markout_{h}s_bps"] = float(np.mean(r) * 1e4) if r.size else None
    return out


def max_inventory(f: PairFills) -> float:
    """Largest absolute position (base asset) reached during the run."""
    if not len(f):
        return 0.0
    return float(np.max(np.abs(np.cumsum(f.sign * f.qty))))


def order_counts(statuses: Mapping[str, int]) -> dict[str, int]:
    """Orders placed (sent), cancelled (confirmed), filled (whole), rejected, from a count per status."""
    return {key: int(statuses.get(status, 0)) for key, status in _ORDER_STATUSES}


def pair_metrics(f: PairFills, mid: MidLine, statuses: Mapping[str, int]) -> dict[str, Any]:
    """Every metric of one pair, in the order the CLI prints them."""
    m: dict[str, Any] = pnl_split(f, mid)
    m.update(order_counts(statuses))
    n = len(f)
    buys = int(np.count_nonzero(f.sign > 0))
    m["fills"] = n
    m["rebalance_fills"] = int(np.count_nonzero(f.rebalance)) if f.rebalance is not None else 0
    m["exit_fills"] = int(np.count_nonzero(f.exit)) if f.exit is not None else 0
    m["buy_fills"] = buys
    m["sell_fills"] = n - buys
    m["volume"] = float(np.sum(f.price * f.qty)) if n else 0.0
    m["fill_rate"] = m["orders_filled"] / m["orders_placed"] if m["orders_placed"] else 0.0
    m["max_inventory"] = max_inventory(f)
    m["final_position"] = float(np.sum(f.sign * f.qty)) if n else 0.0
    m.update(markouts(f, mid))
    return m


def utc_text(ns: int) -> str:
    """``ns`` (since the epoch) as ``YYYY-MM-DD HH:MM:SS[.ffffff[fff]]+00:00``, the way pandas prints a
    UTC ``Timestamp`` (micro- or nanoseconds shown only when there are any)."""
    secs, frac = divmod(int(ns), 1_000_000_000)
    text = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%d %H:%M:%S")
    if frac % 1000:
        text += f".{frac:09d}"
    elif frac:
        text += f".{frac // 1000:06d}"
    return text + "+00:00"
