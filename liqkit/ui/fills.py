"""``FillsPanel``: PnL per pair (spread capture, inventory, fees, the active rebalance's cost) and the most
recent fills, newest first, each labelled (a quote's, or the rebalance's) with its price and quantities
in their assets.

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
from liqkit.ui.fmt import clock, num, with_unit
from liqkit.ui.orders import SIDE_STYLE
from liqkit.ui.rows import KeyedRows

RECENT = 15


class FillsPanel(Panel):
    """PnL table and recent-fills table (of every pair, or of ``symbol`` only)."""

    def __init__(self, symbol: str | None = None, recent: int = RECENT) -> None:
        import ipywidgets as W

        self.symbol = symbol.upper() if symbol else None
        self.recent = recent
        self.n_fills = 0
        self.pnl: dict[str, PairPnl] = {}
        self.assets: dict[str, tuple[str, str]] = {}  # symbol -> (base, quote), from the snapshot's pairs
        self._seq = itertools.count()
        self._shown: deque[int] = deque()
        self.pnl_table = KeyedRows(
            ["pair", "PnL", "spread capture", "inventory", "fees", "rebalance", "volume", "fills", "position"],
            "72px 110px 96px 80px 66px 74px 86px 36px 1fr",
            sort_key=lambda k, _: str(k),
            empty_text="no PnL yet",
            css_class="lq-pnl",
        )
        self.fills_table = KeyedRows(
            ["time (UTC)", "pair", "side", "for", "price", "qty", "fee", "maker"],
            "62px 72px 36px 66px 118px 96px 136px 1fr",
            sort_key=lambda k, _: -int(k),  # type: ignore[call-overload]
            empty_text="no fills yet",
            css_class="lq-fills",
        )
        self.widget = W.VBox(
            [W.HTML("<b>PnL</b> (quote asset, since each pair was run: PnL = spread capture + inventory - fees "
                    "- rebalance cost)"), self.pnl_table.box,
             W.HTML("<b>Recent fills</b>"), self.fills_table.box]
        )  # fmt: skip

    def _mine(self, symbol: str | None) -> bool:
        return self.symbol is None or symbol == self.symbol

    def _add_fill(self, f: Fill | FillEvent) -> None:
        key = next(self._seq)
        base, quote = self.assets.get(f.symbol, ("", ""))
        cells = [
            clock(f.ts),
            f.symbol,
            f.side,
            f.purpose,
            with_unit(f.price, quote),
            with_unit(f.qty, base),
            with_unit(f.fee, f.fee_asset),
            "yes" if f.maker else "no",
        ]
        self.fills_table.upsert(key, cells, SIDE_STYLE.get(f.side, ""))
        self._shown.append(key)
        while len(self._shown) > self.recent:
            self.fills_table.remove(self._shown.popleft())

    def on_snapshot(self, snap: Snapshot) -> None:
        self.assets = {s: (p.base_asset, p.quote_asset) for s, p in snap.pairs.items()}
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
            base = self.assets.get(sym, ("", ""))[0]
            self.pnl_table.upsert(
                sym,
                [sym, f"{num(p.pnl, 4)} {p.quote_asset}", num(p.spread_capture, 4), num(p.inventory_pnl, 4),
                 num(p.fees, 4), num(p.rebalance_cost, 4), num(p.volume, 2), p.fills, with_unit(p.position, base)],
            )  # fmt: skip

    def flush(self) -> None:
        self.pnl_table.apply()
        self.fills_table.apply()
