"""The equity chart's data and traces: each pair's PnL over time and the parts it adds up from.

Equity here is the pair's PnL since it was run, marked at the mid: spread capture + inventory - fees -
rebalance cost (``liqkit.engine.views.PairPnl``). The parts are drawn as they add up, fees and the
rebalance's cost below zero, so the equity line is their sum at every point. The data come from the
engine service: its history of the last minutes in every snapshot (``Snapshot.pnl_history``), then a
point from each PnL it sends (health events, polls). ``MarketChart`` draws them in its figure's last
row (one FigureWidget for the whole dashboard: each costs the browser plotly's bundle).
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from liqkit.engine.views import PairPnl, PnlPoint

EQUITY_POINTS = 1_800  # per pair: half an hour at a point a second
MIN_GAP_NS = 500_000_000  # a health event and a poll a moment apart make one point
EQUITY_TRACES = ("equity", "spread capture", "inventory PnL", "fees", "rebalance cost")
_STYLE = (
    {"color": "#1f2328", "width": 2.5},
    {"color": "#0969da", "width": 1.5},
    {"color": "#8250df", "width": 1.5},
    {"color": "#9a6700", "width": 1.5, "dash": "dot"},
    {"color": "#cf222e", "width": 1.5, "dash": "dash"},
)
Row = tuple[str, float, float, float, float, float]  # time, equity, capture, inventory, -fees, -rebalance cost


def _iso(ts_ns: int) -> str:
    return dt.datetime.fromtimestamp(ts_ns / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def add_equity_traces(fig: go.Figure, row: int) -> None:
    """Add the equity line and its parts to ``fig``'s subplot ``row`` (column 1), empty."""
    for name, line in zip(EQUITY_TRACES, _STYLE, strict=True):
        fig.add_trace(go.Scatter(name=name, mode="lines", line={**line, "shape": "hv"}), row, 1)


class EquitySeries:
    """Each pair's equity and its parts over time (bounded), as rows ready to draw."""

    def __init__(self, n: int = EQUITY_POINTS) -> None:
        self.n = n
        self.rows: dict[str, deque[Row]] = {}
        self._last: dict[str, int] = {}

    def reset(self, history: Mapping[str, Sequence[PnlPoint]]) -> None:
        """Start over from the service's history (a new connection's snapshot)."""
        self.rows = {}
        self._last = {}
        for sym, points in history.items():
            for p in points:
                self.add(sym, p.ts, p)

    def add(self, symbol: str, ts: int, p: PairPnl | PnlPoint) -> bool:
        """A point of ``symbol`` at ``ts`` (ns); False when it is too close after the last one to matter."""
        last = self._last.get(symbol)
        if last is not None and ts - last < MIN_GAP_NS:
            return False
        rows = self.rows.get(symbol)
        if rows is None:
            rows = self.rows[symbol] = deque(maxlen=self.n)
        self._last[symbol] = ts
        rows.append((_iso(ts), p.pnl, p.spread_capture, p.inventory_pnl, -p.fees, -p.rebalance_cost))
        return True

    def columns(self, symbol: str) -> tuple[list[str], list[list[float]]]:
        """The time axis and one column a trace (``EQUITY_TRACES``' order) of ``symbol``."""
        rows = list(self.rows.get(symbol, ()))
        return [r[0] for r in rows], [
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3] for r in rows],
            [r[4] for r in rows],
            [r[5] for r in rows],
        ]
