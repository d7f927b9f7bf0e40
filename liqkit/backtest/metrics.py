"""Backtest metrics: small functions of the result's tables, each computing one thing.

Definitions (quote asset, per pair):

- ``pnl`` = cash flow of fills + position x final mid - fees (mark-to-market at the last mid).
- ``spread_capture`` = sum over fills of qty x (mid at fill - price) for buys, (price - mid) for sells:
  the edge earned against the mid when filled.
- ``inventory_pnl`` = pnl + fees - spread_capture: what holding the position gained or lost.
- ``markout_<h>s_bps``: mean over fills of side x (mid h seconds later - fill price) / price, in bps
  (fills too close to the end to look h seconds ahead are left out).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MARKOUT_HORIZONS_S = (1, 10, 60)


def mid_at(book_ts: np.ndarray, mid: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """The mid in force at each of ``ts`` (the last book row at or before it; NaN before the first)."""
    i = np.searchsorted(book_ts, ts, side="right") - 1
    out = np.where(i >= 0, mid[np.clip(i, 0, len(mid) - 1)], np.nan) if len(mid) else np.full(len(ts), np.nan)
    return out.astype(float)


def pnl_split(fills: pd.DataFrame, book_ts: np.ndarray, mid: np.ndarray) -> dict[str, float]:
    """Total PnL and its parts: spread capture, inventory, fees."""
    if fills.empty or not len(mid):
        return {"pnl": 0.0, "spread_capture": 0.0, "inventory_pnl": 0.0, "fees": 0.0}
    sign = fills["side_sign"].to_numpy(float)
    px = fills["price"].to_numpy(float)
    qty = fills["qty"].to_numpy(float)
    m = mid_at(book_ts, mid, fills["ts"].to_numpy(np.int64))
    fees = float(fills["fee"].sum())
    cash = float(np.sum(-sign * px * qty))
    pos = float(np.sum(sign * qty))
    pnl = cash + pos * float(mid[-1]) - fees
    spread = float(np.nansum(sign * (m - px) * qty))
    return {"pnl": pnl, "spread_capture": spread, "inventory_pnl": pnl + fees - spread, "fees": fees}


def markouts(
    fills: pd.DataFrame, book_ts: np.ndarray, mid: np.ndarray, horizons_s: tuple[int, ...] = MARKOUT_HORIZONS_S
) -> dict[str, float | None]:
    """Mean markout in bps at each horizon (None when no fill has that much data after it)."""
    out: dict[str, float | None] = {}
    if fills.empty or not len(book_ts):
        return {f"markout_{h}s_bps": None for h in horizons_s}
    ts = fills["ts"].to_numpy(np.int64)
    sign = fills["side_sign"].to_numpy(float)
    px = fills["price"].to_numpy(float)
    end = int(book_ts[-1])
    for h in horizons_s:
        later = ts + h * 1_000_000_000
        ok = later <= end
        if not ok.any():
            out[f"markout_{h}s_bps"] = None
            continue
        m = mid_at(book_ts, mid, later[ok])
        out[f"markout_{h}s_bps"] = float(np.mean(sign[ok] * (m - px[ok]) / px[ok]) * 1e4)
    return out


def max_inventory(fills: pd.DataFrame) -> float:
    """Largest absolute position (base asset) reached during the run."""
    if fills.empty:
        return 0.0
    pos = np.cumsum(fills["side_sign"].to_numpy(float) * fills["qty"].to_numpy(float))
    return float(np.max(np.abs(pos)))


def order_counts(orders: pd.DataFrame) -> dict[str, int]:
    """Orders placed (sent), cancelled (confirmed), filled (whole), rejected."""
    st = orders["status"] if not orders.empty else pd.Series(dtype=str)
    return {
        "orders_placed": int((st == "PENDING_NEW").sum()),
        "orders_cancelled": int((st == "CANCELED").sum()),
        "orders_filled": int((st == "FILLED").sum()),
        "orders_rejected": int((st == "REJECTED").sum()),
    }
