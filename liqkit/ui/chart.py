"""``MarketChart``: one plotly ``FigureWidget`` for every pair: market bid/ask, our quotes, fills, spreads,
inventory, over a rolling window; and below them the equity chart (``liqkit.ui.equity``): the pair's PnL
over the last half hour with its parts, spread capture, inventory, fees and the rebalance's cost.

The figure is built whole (four stacked subplots, every trace, the title naming the pair and the time
zone of its axis) before it is wrapped once in a ``FigureWidget``: Voila loses changes made to a
FigureWidget's layout while the notebook runs (the data are sent again on every flush, a title would
not be), so the widget is made when the first pair is known, usually from the first snapshot. Each
FigureWidget costs the browser plotly's 5 MB bundle, so there is one, showing the selected pair.
Data of every pair is kept in Python (bounded deques); ``flush`` sends the selected pair's window in
one ``batch_update`` when it changed, at most twice a second.

The market's bid and ask are often a tick apart (BTCUSDT: 0.01 on 60,000), one line on the other at
the chart's scale: the bid is drawn first and wider, the ask thin on top, so both stay visible, and the
unified hover gives both prices.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from collections.abc import Iterable, Mapping

import ipywidgets as W
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from liqkit.engine.events import Event, FillEvent, TickerEvent
from liqkit.engine.views import PairPnl, Snapshot
from liqkit.ui.base import Panel
from liqkit.ui.equity import EQUITY_TRACES, EquitySeries, add_equity_traces
from liqkit.ui.fmt import to_float

WINDOW_POINTS = 240  # 2 minutes of tickers at 2 a second
TRACES = (
    "market bid",
    "market ask",
    "our bid",
    "our ask",
    "buy fills",
    "sell fills",
    "market spread (bps)",
    "our spread (bps)",
    "inventory",
    *EQUITY_TRACES,
)
EQUITY_ROW = 4
EQUITY_FIRST = 9  # the index of the equity chart's first trace
# trace index -> its column in a ticker row (ts, bid, ask, our bid, our ask, spread, our spread, position)
_COLUMN_OF_TRACE = {0: 1, 1: 2, 2: 3, 3: 4, 6: 5, 7: 6, 8: 7}


class _Series:
    """The rolling window of one pair."""

    def __init__(self, n: int) -> None:
        self.ticks: deque[tuple[str, float | None, float | None, float | None, float | None, float | None,
                                float | None, float | None]] = deque(maxlen=n)  # fmt: skip
        self.fills: deque[tuple[str, str, float]] = deque(maxlen=n)


def _iso(ts_ns: int) -> str:
    return dt.datetime.fromtimestamp(ts_ns / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def title(symbol: str) -> str:
    """The chart's title: the pair, and the time zone of the time axis (tickers' times are UTC)."""
    return f"{symbol} · market, our quotes and fills · times UTC"


def equity_axis_title(quote: str) -> str:
    """The equity chart's y axis: PnL in the pair's quote asset."""
    return f"PnL ({quote})" if quote else "PnL"


def build_figure(symbol: str = "", quote: str = "") -> go.Figure:
    """The whole figure, every trace empty: prices, spreads in bps, inventory (one time axis), then the
    equity chart with its own time axis (the last half hour, not the market's two minutes)."""
    fig = make_subplots(
        rows=4,
        cols=1,
        row_heights=[0.44, 0.14, 0.14, 0.28],
        vertical_spacing=0.07,
        subplot_titles=("", "", "", "equity: PnL since the pair was run, and its parts"),
    )
    for row in (1, 2):  # the market rows share the inventory row's time axis
        fig.update_xaxes(matches="x3", showticklabels=False, row=row, col=1)
    line = {"width": 1.5}
    # the bid under the ask, wider: a tick apart, the ask's thin line runs inside the bid's
    fig.add_trace(go.Scatter(name=TRACES[0], mode="lines", line={"width": 4.5, "color": "#2da44e"}), 1, 1)
    fig.add_trace(go.Scatter(name=TRACES[1], mode="lines", line={"width": 1.5, "color": "#cf222e"}), 1, 1)
    fig.add_trace(
        go.Scatter(name=TRACES[2], mode="lines", line={**line, "color": "#1a7f37", "dash": "dot", "shape": "hv"}), 1, 1
    )
    fig.add_trace(
        go.Scatter(name=TRACES[3], mode="lines", line={**line, "color": "#a40e26", "dash": "dot", "shape": "hv"}), 1, 1
    )
    fig.add_trace(
        go.Scatter(name=TRACES[4], mode="markers", marker={"symbol": "triangle-up", "size": 10, "color": "#1a7f37"}),
        1,
        1,
    )
    fig.add_trace(
        go.Scatter(name=TRACES[5], mode="markers", marker={"symbol": "triangle-down", "size": 10, "color": "#a40e26"}),
        1,
        1,
    )
    fig.add_trace(go.Scatter(name=TRACES[6], mode="lines", line={**line, "color": "#8c959f"}), 2, 1)
    fig.add_trace(go.Scatter(name=TRACES[7], mode="lines", line={**line, "color": "#0969da", "shape": "hv"}), 2, 1)
    fig.add_trace(go.Scatter(name=TRACES[8], mode="lines", line={**line, "color": "#8250df", "shape": "hv"}), 3, 1)
    add_equity_traces(fig, EQUITY_ROW)
    fig.update_layout(
        title={"text": title(symbol) if symbol else "", "x": 0.01, "font": {"size": 14}},
        height=720,
        margin={"l": 60, "r": 10, "t": 36, "b": 30},
        legend={"orientation": "h", "y": -0.08, "font": {"size": 11}},
        hovermode="x unified",
        uirevision="liqkit",
        template="plotly_white",
    )
    fig.update_yaxes(title_text="price", row=1, col=1)
    fig.update_yaxes(title_text="bps", row=2, col=1)
    fig.update_yaxes(title_text="position", row=3, col=1)
    fig.update_yaxes(title_text=equity_axis_title(quote), zeroline=True, row=EQUITY_ROW, col=1)
    fig.layout.annotations[0].font.size = 12
    return fig


class MarketChart(Panel):
    """One FigureWidget (``figure``, made when the first pair is known) in ``widget``; ``show(symbol)``
    chooses the pair it draws."""

    def __init__(self, symbols: Iterable[str] = (), window: int = WINDOW_POINTS) -> None:
        self.window = window
        self.series: dict[str, _Series] = {s.upper(): _Series(window) for s in symbols}
        self.symbol = next(iter(self.series), "")
        self.figure: go.FigureWidget | None = None
        waiting = W.HTML('<span style="color:#57606a">waiting for the engine\'s pairs...</span>')
        self.widget = W.Box([waiting], layout=W.Layout(min_height="720px"))
        self.renders = 0
        self.equity = EquitySeries()
        self.quotes: dict[str, str] = {}  # symbol -> quote asset (the equity axis' unit)
        self._dirty = False
        if self.symbol:
            self._make_figure()

    def _make_figure(self) -> go.FigureWidget:
        """The FigureWidget of the whole figure, titled for ``self.symbol`` (made once)."""
        if self.figure is None:
            self.figure = go.FigureWidget(build_figure(self.symbol, self.quotes.get(self.symbol, "")))
            self.figure.add_class("lq-chart")
            old = self.widget.children
            self.widget.children = [self.figure]
            for w in old:
                w.close()
        return self.figure

    def show(self, symbol: str) -> None:
        """Draw ``symbol`` from the next flush on."""
        self.symbol = symbol.upper()
        self.series.setdefault(self.symbol, _Series(self.window))
        self._make_figure()
        self._dirty = True
        self.flush()

    def on_snapshot(self, snap: Snapshot) -> None:
        for sym, view in snap.pairs.items():
            self.series.setdefault(sym, _Series(self.window))
            if view.quote_asset:
                self.quotes[sym] = view.quote_asset
        self.equity.reset(snap.pnl_history)
        if not self.symbol and self.series:
            self.symbol = next(iter(self.series))
        if self.symbol:
            self._make_figure()
        self._dirty = True

    def on_pnl(self, pnl: Mapping[str, PairPnl]) -> None:
        """A point of each pair's equity chart (health events and polls: about one a second)."""
        now = time.time_ns()
        for sym, p in pnl.items():
            if self.equity.add(sym, now, p) and sym == self.symbol:
                self._dirty = True

    def on_event(self, ev: Event) -> None:
        if not isinstance(ev, (TickerEvent, FillEvent)):
            return
        sym = ev.symbol
        s = self.series.get(sym)
        if s is None:
            s = self.series[sym] = _Series(self.window)
        t = _iso(ev.ts)  # plotly reads ISO strings as dates (the axes share the bottom one's type)
        if isinstance(ev, TickerEvent):
            s.ticks.append(
                (
                    t,
                    to_float(ev.bid),
                    to_float(ev.ask),
                    to_float(ev.our_bid),
                    to_float(ev.our_ask),
                    ev.spread_bps,
                    ev.our_spread_bps,
                    to_float(ev.position),
                )
            )
        else:
            s.fills.append((t, ev.side, float(ev.price)))
        if sym == self.symbol:
            self._dirty = True

    def flush(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        s = self.series.get(self.symbol)
        fw = self.figure
        if s is None or fw is None:
            return
        ticks = list(s.ticks)
        x = [r[0] for r in ticks]
        t0 = x[0] if x else ""
        fills = [f for f in s.fills if f[0] >= t0]
        buys = [f for f in fills if f[1] == "BUY"]
        sells = [f for f in fills if f[1] == "SELL"]
        with fw.batch_update():
            for trace, col in _COLUMN_OF_TRACE.items():
                fw.data[trace].x, fw.data[trace].y = x, [r[col] for r in ticks]
            fw.data[4].x, fw.data[4].y = [f[0] for f in buys], [f[2] for f in buys]
            fw.data[5].x, fw.data[5].y = [f[0] for f in sells], [f[2] for f in sells]
            ex, ecols = self.equity.columns(self.symbol)
            for i, ys in enumerate(ecols):
                fw.data[EQUITY_FIRST + i].x, fw.data[EQUITY_FIRST + i].y = ex, ys
            if fw.layout.title.text != title(self.symbol):
                fw.layout.title.text = title(self.symbol)
            axis = equity_axis_title(self.quotes.get(self.symbol, ""))
            if fw.layout.yaxis4.title.text != axis:
                fw.layout.yaxis4.title.text = axis
        self.renders += 1

    def close(self) -> None:
        if self.figure is not None:
            self.figure.close()
        super().close()
