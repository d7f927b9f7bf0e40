"""``FillsPanel``: PnL per pair (spread capture, inventory, fees) and the most recent fills, newest first.

Fills arrive as events the moment they happen; PnL is read from the engine (polled by the event
stream, and once more soon after a fill) because it is marked at the engine's own mid.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping

from liqkit.engine.events import Event, FillEvent
from liqkit.engine.views import Fill, PairPnl, Snapshot
from liqkit.ui.base import Panel
from liqkit.ui.fmt import dec, num
from liqkit.ui.orders import SIDE_STYLE
from liqkit.ui.rows import KeyedRows

RECENT = 15


def _clock(ts_ns: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts_ns / 1e9, dt.UTC).strftime("%H:%M:%S") if ts_ns else ""


class FillsPanel(Panel):
    """PnL table and recent-fills table (of every pair, or of ``symbol`` only)."""

    def __init__(self, symbol: str | None = None, recent: int = RECENT) -> None:
        import ipywidgets as W

        self.symbol = symbol.upper() if symbol else None
        self.recent = recent
        self.n_fills = 0
        self.pnl: dict[str, PairPnl] = {}
        self._seq = itertools.count()
        self._shown: deque[int] = deque()
        self.pnl_table = KeyedRows(
            ["pair", "PnL", "spread capture", "inventory", "fees", "volume", "fills", "position"],
            "80px 90px 110px 90px 80px 100px 50px 1fr",
            sort_key=lambda k, _: str(k),
            empty_text="no PnL yet",
            css_class="lq-pnl",
        )
        self.fills_table = KeyedRows(
            ["time (UTC)", "pair", "side", "price", "qty", "fee", "maker"],
            "70px 80px 44px 100px 80px 100px 1fr",
            sort_key=lambda k, _: -int(k),  # type: ignore[call-overload]
            empty_text="no fills yet",
            css_class="lq-fills",
        )
        self.widget = W.VBox(
            [W.HTML("<b>PnL</b> (quote asset, since each pair was run)"), self.pnl_table.box,
             W.HTML("<b>Recent fills</b>"), self.fills_table.box]
        )  # fmt: skip

    def _mine(self, symbol: str | None) -> bool:
        return self.symbol is None or symbol == self.symbol

    def _add_fill(self, f: Fill | FillEvent) -> None:
        key = next(self._seq)
        cells = [_clock(f.ts), f.symbol, f.side, dec(f.price), dec(f.qty), dec(f.fee), "yes" if f.maker else "no"]
        self.fills_table.upsert(key, cells, SIDE_STYLE.get(f.side, ""))
        self._shown.append(key)
        while len(self._shown) > self.recent:
            self.fills_table.remove(self._shown.popleft())

    def on_snapshot(self, snap: Snapshot) -> None:
        self.fills_table.clear()
        self._shown.clear()
        fills = [f for f in snap.fills if self._mine(f.symbol)]
        for f in sorted(fills, key=lambda f: f.ts)[-self.recent :]:
            self._add_fill(f)

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, FillEvent) and self._mine(ev.symbol):
            self.n_fills += 1
            self._add_fill(ev)

    def on_pnl(self, pnl: Mapping[str, PairPnl]) -> None:
        for sym, p in pnl.items():
            if not self._mine(sym):
                continue
            self.pnl[sym] = p
            self.pnl_table.upsert(
                sym,
                [sym, num(p.pnl, 4), num(p.spread_capture, 4), num(p.inventory_pnl, 4), num(p.fees, 4),
                 num(p.volume, 2), p.fills, dec(p.position)],
            )  # fmt: skip

    def flush(self) -> None:
        self.pnl_table.apply()
        self.fills_table.apply()
