"""Our own orders taken out of a recording of the market we traded in.

A venue's depth shows every resting order, ours too: a recording made while liqkit quoted holds our
quotes in its levels. Replayed as the market, they would stand in front of (or behind) the backtest's
own copies of them, and each of our cancels would look like the level shrinking, which the
probabilistic queue models read as orders ahead of us leaving. ``remove_footprint`` subtracts, from
each depth row at a price where one of our orders may rest, what that order had left then.

When an order may rest: from its first journal row (the request was sent) until its final one (its
fill, cancel, expiry or refusal was answered), with the quantity left after each row in between. That
window holds the venue's own (a row the venue sent between our request and its answer may or may not
show the order; we take it off either way, clamped at zero), so a level is never left with our order
in it; it may lose a little of others' quantity for a few milliseconds.

Book tops (bookTicker) are left as they are: liqkit's sim-server shows the recorded top there,
without our orders (Binance's would include ours; see README's sim-server table).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from liqkit.data.feed import MarketData
from liqkit.domain.types import OrderStatus

_DONE = {s.value for s in OrderStatus if not s.is_open and s is not OrderStatus.UNKNOWN}


def order_footprint(orders: pd.DataFrame, md: MarketData) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]:
    """Per (depth side, price ticks): the times (ns) at which our resting quantity there changes and the
    quantity (steps) from each time on, from a journal's ``orders`` rows of ``md``'s symbol."""
    rows = orders[orders["symbol"] == md.symbol]
    if rows.empty:
        return {}
    tick, step = md.rules.tick, md.rules.step
    text = {c: f"{c}_text" if f"{c}_text" in rows else c for c in ("price", "qty", "filled")}  # exact decimals
    changes: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for _cid, o in rows.sort_values("id").groupby("client_id", sort=False):
        first = o.iloc[0]
        side = 1 if first["side"] == "BUY" else -1
        price = int(Decimal(str(first[text["price"]])) / tick)
        key = (side, price)
        was = 0
        ts = o["ts_local"].to_numpy(np.int64)
        for i, (qty, filled, status) in enumerate(zip(o[text["qty"]], o[text["filled"]], o["status"], strict=True)):
            left = 0 if status in _DONE else max(0, int((Decimal(str(qty)) - Decimal(str(filled))) / step))
            if left != was:
                # a row that ends the order takes it off only after the row's time (the answer came then)
                at = int(ts[i]) + (1 if left < was else 0)
                changes.setdefault(key, []).append((at, left - was))
                was = left
    out: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    for key, ch in changes.items():
        ch.sort()
        times = np.fromiter((t for t, _ in ch), np.int64, len(ch))
        level = np.cumsum(np.fromiter((d for _, d in ch), np.int64, len(ch)))
        out[key] = (times, level)
    return out


def remove_footprint(md: MarketData, orders: pd.DataFrame) -> tuple[MarketData, int]:
    """``md`` with our resting quantity (from the journal's ``orders`` rows) taken off its depth rows;
    and how many steps were taken off in all. Data without depth comes back as it is."""
    if md.depth is None:
        return md, 0
    prints = order_footprint(orders, md)
    if not prints:
        return md, 0
    depth = {k: v.copy() for k, v in md.depth.items()}
    side, price, qty, ts = depth["side"], depth["price"], depth["qty"], depth["ts_local"]
    removed = 0
    for (s, p), (times, level) in prints.items():
        at = np.flatnonzero((side == s) & (price == p))
        if not len(at):
            continue
        k = np.searchsorted(times, ts[at], "right") - 1
        ours = np.where(k >= 0, level[np.maximum(k, 0)], 0)
        new = np.maximum(qty[at] - ours, 0)
        removed += int((qty[at] - new).sum())
        qty[at] = new
    return MarketData(
        md.rules, md.book, md.trades, md.source, {**md.meta, "footprint_removed": removed}, depth
    ), removed
