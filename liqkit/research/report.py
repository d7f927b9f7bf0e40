"""Backtest reports: PnL split, markouts after fills, fills per level, time to fill, and plotly charts of
equity, inventory and our quotes over the market.

>>> rep = backtest_report(result, data)      # result = run_backtest(data, config)
>>> rep.pnl, rep.markouts(), rep.levels()    # tables
>>> rep.markouts_ci(), rep.fills_per_level(), rep.time_to_fill()   # with liqkit.research.fills
>>> rep.quotes_figure(); rep.summary_figure() # charts (plotly)

Every table is computed when asked for: ``backtest_report`` itself only picks the symbol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from liqkit.backtest.metrics import MidLine, markout_returns
from liqkit.backtest.result import BacktestResult
from liqkit.data.feed import MarketData
from liqkit.domain.errors import DataError
from liqkit.research import fills as F

MARKOUT_HORIZONS_S = (0.0, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class BacktestReport:
    """The tables and charts of one backtest on one symbol's ``data``."""

    result: BacktestResult
    data: MarketData

    @property
    def symbol(self) -> str:
        """The symbol reported on."""
        return self.data.symbol

    def _fills(self) -> pd.DataFrame:
        f = self.result.fills
        return f[f["symbol"] == self.symbol] if len(f) else f

    def _mid(self) -> MidLine:
        return MidLine.of_book(self.data.book, float(self.data.rules.tick))

    def _markout_bps(self, f: pd.DataFrame, sign: np.ndarray, horizon_s: float) -> np.ndarray:
        """Each fill's markout ``horizon_s`` later in bps (NaN past the end of the data)."""
        ts, px = f["ts"].to_numpy(np.int64), f["price"].to_numpy(float)
        return markout_returns(ts, sign, px, self._mid(), round(horizon_s * 1e9)) * 1e4

    @cached_property
    def fill_table(self) -> pd.DataFrame:
        """The symbol's fills as ``liqkit.research.fills.fill_table`` has them (level, placement, time to fill)."""
        return F.fill_table(self.result, self.symbol)

    @property
    def pnl(self) -> pd.Series:
        """PnL and its parts in the quote asset, each signed as it adds up:
        spread capture + inventory - fees - rebalance cost = pnl (the rebalance's cost on its own line:
        its fills' spread paid against the mid, and their fees)."""
        m = self.result.per_pair.get(self.symbol, self.result.metrics)
        return pd.Series(
            {
                "spread_capture": m["spread_capture"],
                "inventory_pnl": m["inventory_pnl"],
                "fees": -m["fees"],
                "rebalance_cost": -m["rebalance_cost"],
                "pnl": m["pnl"],
            },
            name=self.symbol,
        )

    def markouts(self, horizons_s: Sequence[float] = MARKOUT_HORIZONS_S) -> pd.DataFrame:
        """Mean markout in bps at each horizon, for all fills and by side: side x (mid h later - price) / price.

        Horizon 0 is the edge at the fill (spread capture); a curve that falls afterwards shows adverse
        selection. Fills too close to the end of the data to look ``h`` ahead are left out (``fills`` counts).
        """
        f = self._fills()
        sign = f["side_sign"].to_numpy(float) if len(f) else np.zeros(0)
        buy = sign > 0
        rows = []
        for h in horizons_s:
            row: dict[str, float] = {"horizon_s": float(h)}
            mo = self._markout_bps(f, sign, float(h)) if len(f) else np.zeros(0)
            ok = ~np.isnan(mo)
            row.update(
                {
                    "all_bps": float(np.mean(mo[ok])) if ok.any() else np.nan,
                    "buy_bps": float(np.mean(mo[ok & buy])) if (ok & buy).any() else np.nan,
                    "sell_bps": float(np.mean(mo[ok & ~buy])) if (ok & ~buy).any() else np.nan,
                    "fills": float(ok.sum()),
                }
            )
            rows.append(row)
        return pd.DataFrame(rows).set_index("horizon_s")

    def markouts_ci(
        self, horizons_s: Sequence[float] = (1, 10, 60), n_boot: int = 1000, ci: float = 0.95, seed: int = 0
    ) -> pd.DataFrame:
        """Mean markout (bps) per side and horizon with bootstrap confidence intervals
        (``liqkit.research.fills.markouts``: its arguments, and the same table)."""
        return F.markouts(self.fill_table, self.data, horizons_s, n_boot=n_boot, ci=ci, seed=seed)

    def time_to_fill(self) -> pd.DataFrame:
        """Quantiles of the time from placement to fill per side and level (``liqkit.research.fills``)."""
        return F.time_to_fill(self.fill_table).droplevel("symbol")

    def levels(self, horizon_s: float = 10.0) -> pd.DataFrame:
        """Fills per quote level and side (``liqkit.research.fills.fills_per_level``: count, base quantity,
        notional, maker share, mean time to fill) with the mean edge at fill and markout ``horizon_s`` later (bps)."""
        f = self.fill_table
        if len(f) and "purpose" in f:  # the active rebalance's and the exits' fills are not a quote level's
            f = f[f["purpose"] == "quote"]
        cols = [
            "fills",
            "qty",
            "notional",
            "maker_share",
            "mean_time_to_fill_s",
            "edge_bps",
            f"markout_{horizon_s:g}s_bps",
        ]
        if not len(f):
            return pd.DataFrame(columns=cols, index=pd.MultiIndex.from_tuples([], names=["level", "side"]))
        sign = np.where(f["side"].to_numpy() == "BUY", 1.0, -1.0)
        d = pd.DataFrame(
            {
                "level": f["level"].array,
                "side": f["side"].to_numpy(),
                "edge_bps": self._markout_bps(f, sign, 0.0),
                cols[-1]: self._markout_bps(f, sign, horizon_s),
            }
        )
        edges = d.groupby(["level", "side"], dropna=False)[["edge_bps", cols[-1]]].mean()
        out = F.fills_per_level(f).droplevel("symbol").reorder_levels(["level", "side"]).sort_index()
        return out.join(edges)[cols]

    def timeline(self) -> pd.DataFrame:
        """The run sampled over time: market bid/ask, our best bid/ask, position and equity (PnL)."""
        s = self.result.samples
        s = s[s["symbol"] == self.symbol] if len(s) else s
        return s[["bid", "ask", "our_bid", "our_ask", "position", "equity"]]

    # ---- charts -----------------------------------------------------------------------------------
    def quotes_figure(self) -> Any:
        """One figure, three rows sharing time: the market's bid/ask with our quotes and fills, our
        inventory (base asset), and equity (PnL in the quote asset, marked to the mid)."""
        go, make_subplots = _plotly()
        tl = self.timeline()
        f = self._fills()
        fig = make_subplots(
            rows=3,
            cols=1,
            shared_xaxes=True,
            row_heights=[0.55, 0.2, 0.25],
            vertical_spacing=0.04,
            subplot_titles=(f"{self.symbol}: market and our quotes", "inventory", "equity (PnL)"),
        )
        for col, name, style in (
            ("bid", "market bid", {"color": "#2ca02c", "width": 1}),
            ("ask", "market ask", {"color": "#d62728", "width": 1}),
            ("our_bid", "our bid", {"color": "#2ca02c", "dash": "dot"}),
            ("our_ask", "our ask", {"color": "#d62728", "dash": "dot"}),
        ):
            fig.add_trace(go.Scatter(x=tl.index, y=tl[col], name=name, mode="lines", line=style), 1, 1)
        for side, symbol, color in (("BUY", "triangle-up", "#2ca02c"), ("SELL", "triangle-down", "#d62728")):
            s = f[f["side"] == side] if len(f) else f
            fig.add_trace(
                go.Scatter(
                    x=s.index,
                    y=s["price"] if len(s) else [],
                    name=f"{side.lower()} fills",
                    mode="markers",
                    marker={"symbol": symbol, "size": 9, "color": color, "line": {"width": 1, "color": "black"}},
                ),
                1,
                1,
            )
        fig.add_trace(go.Scatter(x=tl.index, y=tl["position"], name="position", line={"shape": "hv"}), 2, 1)
        fig.add_trace(go.Scatter(x=tl.index, y=tl["equity"], name="equity", fill="tozeroy"), 3, 1)
        fig.update_layout(height=720, margin={"t": 40, "b": 30}, legend={"orientation": "h", "y": -0.06})
        return fig

    def summary_figure(self) -> Any:
        """One figure, three panels: the PnL split, the markout curve by side, and fills per level."""
        go, make_subplots = _plotly()
        fig = make_subplots(
            rows=1,
            cols=3,
            subplot_titles=("PnL split (quote asset)", "markout after fills (bps)", "fills per level"),
        )
        p = self.pnl
        colors = ["#1f77b4", "#ff7f0e", "#7f7f7f", "#9467bd", "#2ca02c" if p["pnl"] >= 0 else "#d62728"]
        fig.add_trace(go.Bar(x=list(p.index), y=p.to_numpy(), marker_color=colors, showlegend=False), 1, 1)
        mo = self.markouts()
        for col, name in (("all_bps", "all"), ("buy_bps", "buys"), ("sell_bps", "sells")):
            fig.add_trace(go.Scatter(x=mo.index, y=mo[col], name=f"markout {name}", mode="lines+markers"), 1, 2)
        fig.update_xaxes(type="log", title_text="seconds after fill (log)", row=1, col=2)
        lv = self.levels()
        for side in ("BUY", "SELL"):
            s = lv.xs(side, level="side") if len(lv) and side in lv.index.get_level_values("side") else lv.iloc[:0]
            fig.add_trace(go.Bar(x=[f"level {i}" for i in s.index], y=s["fills"], name=f"{side.lower()} fills"), 1, 3)
        fig.update_layout(height=380, margin={"t": 40, "b": 30}, barmode="group", legend={"orientation": "h"})
        return fig


def backtest_report(result: BacktestResult, data: MarketData, symbol: str | None = None) -> BacktestReport:
    """The report of ``result`` (from ``run_backtest``) on ``data`` (one ``MarketData`` or the list given
    to the backtest, then ``symbol`` picks one)."""
    if not isinstance(data, MarketData):
        datas = list(data)
        pick = [d for d in datas if symbol is None or d.symbol == symbol.upper()]
        if len(pick) != 1:
            raise DataError(f"backtest_report: pass symbol= one of {[d.symbol for d in datas]}")
        data = pick[0]
    elif symbol is not None and data.symbol != symbol.upper():
        raise DataError(f"backtest_report: the data are {data.symbol}, not {symbol}")
    return BacktestReport(result, data)


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError:  # plotly comes with liqkit's notebook extra
        raise ImportError("charts need plotly: pip install 'liqkit[notebook]'") from None
    return go, make_subplots
