"""``MarketData``: one symbol's book tops and trades as integer columns (the backtest's input).

Columns (NumPy arrays, all the same length within a table):

- book:   ``ts_local, ts_exchange`` (int64 ns; ts_exchange 0 when the venue gives none),
          ``bid, ask`` (int64 ticks), ``bid_qty, ask_qty`` (int64 lot steps)
- trades: ``ts_local, ts_exchange`` (int64 ns), ``price`` (int64 ticks), ``qty`` (int64 steps),
          ``aggressor`` (int8: +1 the buyer took, -1 the seller took), ``trade_id`` (int64)
- depth (optional, None without): the L2 book's level changes in sync with a snapshot, as
          ``liqkit.data.depth`` describes them (``DEPTH_COLUMNS``); the simulated exchange keeps an L2
          book from them, and the top of the book alone without

Rows are in ``ts_local`` order. Integer units are those of ``rules`` (tick, step), so a loader converts
exchange decimals exactly once and nothing downstream touches floats to decide a price.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from liqkit.data.depth import DEPTH_COLUMNS, check_depth, cut_depth
from liqkit.domain.errors import DataError
from liqkit.domain.rules import SymbolRules

if TYPE_CHECKING:
    import pandas as pd

BOOK_COLUMNS = ("ts_local", "ts_exchange", "bid", "bid_qty", "ask", "ask_qty")
TRADE_COLUMNS = ("ts_local", "ts_exchange", "price", "qty", "aggressor", "trade_id")
_DTYPES = {"aggressor": np.int8}


def _table(cols: dict[str, Any], names: tuple[str, ...], what: str) -> dict[str, np.ndarray]:
    missing = [n for n in names if n not in cols]
    if missing:
        raise DataError(f"{what} table lacks columns {missing}")
    out = {n: np.ascontiguousarray(cols[n], dtype=_DTYPES.get(n, np.int64)) for n in names}
    lengths = {len(a) for a in out.values()}
    if len(lengths) > 1:
        raise DataError(f"{what} columns differ in length: {sorted(lengths)}")
    return out


def _out_of_order(ts: np.ndarray) -> bool:
    return bool(len(ts) > 1 and np.any(ts[1:] < ts[:-1]))  # no diff array: 1 byte a row, not 8


@dataclass(frozen=True)
class MarketData:
    """Book tops and trades of one symbol, in integer units of ``rules`` (and its depth, if it has any)."""

    rules: SymbolRules
    book: dict[str, np.ndarray]
    trades: dict[str, np.ndarray]
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    depth: dict[str, np.ndarray] | None = None

    @classmethod
    def from_columns(
        cls,
        rules: SymbolRules,
        book: dict[str, Any],
        trades: dict[str, Any],
        source: str = "",
        depth: dict[str, Any] | None = None,
        **meta: Any,
    ) -> MarketData:
        """Build and check: columns present, equal lengths, time order, bid < ask (and the depth table's)."""
        b = _table(book, BOOK_COLUMNS, "book")
        t = _table(trades, TRADE_COLUMNS, "trades")
        if _out_of_order(b["ts_local"]):
            raise DataError(f"{source or 'book'}: book rows are not in ts_local order")
        if _out_of_order(t["ts_local"]):
            raise DataError(f"{source or 'trades'}: trade rows are not in ts_local order")
        crossed = np.flatnonzero(b["bid"] >= b["ask"])
        if crossed.size:
            raise DataError(f"{source or 'book'}: row {int(crossed[0])} has bid >= ask")
        d = None if depth is None else check_depth(depth, source)
        return cls(rules, b, t, source, dict(meta), d)

    @property
    def symbol(self) -> str:
        """The symbol these data are for."""
        return self.rules.symbol

    def __len__(self) -> int:
        return len(self.book["ts_local"]) + len(self.trades["ts_local"])

    def slice_time(self, start_ns: int | None = None, end_ns: int | None = None) -> MarketData:
        """Rows with ``start_ns <= ts_local < end_ns`` (depth: the book as it stood at ``start_ns`` first)."""

        def cut(tab: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            ts = tab["ts_local"]
            lo = 0 if start_ns is None else int(np.searchsorted(ts, start_ns, "left"))
            hi = len(ts) if end_ns is None else int(np.searchsorted(ts, end_ns, "left"))
            return {k: v[lo:hi] for k, v in tab.items()}

        depth = None if self.depth is None else cut_depth(self.depth, start_ns, end_ns)
        return MarketData(self.rules, cut(self.book), cut(self.trades), self.source, self.meta, depth)

    def book_frame(self) -> pd.DataFrame:
        """Book tops as a DataFrame in exchange units (float prices/quantities, UTC time index)."""
        import pandas as pd

        tick, step = float(self.rules.tick), float(self.rules.step)
        b = self.book
        return pd.DataFrame(
            {
                "bid": b["bid"] * tick,
                "bid_qty": b["bid_qty"] * step,
                "ask": b["ask"] * tick,
                "ask_qty": b["ask_qty"] * step,
                "ts_exchange": b["ts_exchange"],
            },
            index=pd.to_datetime(b["ts_local"], unit="ns", utc=True).rename("time"),
        )

    def trades_frame(self) -> pd.DataFrame:
        """Trades as a DataFrame in exchange units (UTC time index)."""
        import pandas as pd

        tick, step = float(self.rules.tick), float(self.rules.step)
        t = self.trades
        return pd.DataFrame(
            {
                "price": t["price"] * tick,
                "qty": t["qty"] * step,
                "aggressor": t["aggressor"],
                "trade_id": t["trade_id"],
                "ts_exchange": t["ts_exchange"],
            },
            index=pd.to_datetime(t["ts_local"], unit="ns", utc=True).rename("time"),
        )


def merge_events(datas: Sequence[MarketData]) -> tuple[np.ndarray, ...]:
    """One time-ordered stream of every pair's rows: (kind 0 book / 1 trade, pair, ts, a, b, c, d) as int64
    columns (book: bid, bid qty, ask, ask qty; trade: price, qty, aggressor, trade id)."""
    kinds, pairs, tss, aa, bb, cc, dd = [], [], [], [], [], [], []
    for p, md in enumerate(datas):
        b, t = md.book, md.trades
        nb, nt = len(b["ts_local"]), len(t["ts_local"])
        kinds += [np.zeros(nb, np.int64), np.ones(nt, np.int64)]
        pairs += [np.full(nb, p, np.int64), np.full(nt, p, np.int64)]
        tss += [b["ts_local"], t["ts_local"]]
        aa += [b["bid"], t["price"]]
        bb += [b["bid_qty"], t["qty"]]
        cc += [b["ask"], t["aggressor"].astype(np.int64)]
        dd += [b["ask_qty"], t["trade_id"]]
    ts = np.concatenate(tss)
    kind = np.concatenate(kinds)
    order = np.lexsort((kind, ts))  # by time, book before trade on ties, stable otherwise
    return tuple(np.concatenate(x)[order] for x in (kinds, pairs, tss, aa, bb, cc, dd))


def merge_depth(datas: Sequence[MarketData]) -> tuple[np.ndarray, ...] | None:
    """Every pair's depth rows in one time-ordered stream: (ts, pair, reset, side, price, qty) as int64
    columns, each pair's rows in their own order (None when no pair has depth)."""
    parts = [(p, md.depth) for p, md in enumerate(datas) if md.depth is not None and len(md.depth["ts_local"])]
    if not parts:
        return None
    cols = {k: np.concatenate([d[k] for _, d in parts]) for k in DEPTH_COLUMNS}
    pair = np.concatenate([np.full(len(d["ts_local"]), p, np.int64) for p, d in parts])
    order = np.lexsort((np.arange(len(pair)), pair, cols["ts_local"]))  # by time, then pair, rows kept in order
    return tuple(x[order] for x in (cols["ts_local"], pair, cols["reset"], cols["side"], cols["price"], cols["qty"]))
