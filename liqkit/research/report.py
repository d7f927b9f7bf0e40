"""Backtest reports: PnL split, markouts after fills, fills per level, and plotly charts of equity,
inventory and our quotes over the market.

>>> rep = backtest_report(result, data)      # result = run_backtest(data, config)
>>> rep.pnl, rep.markouts(), rep.levels()    # tables
>>> rep.quotes_figure(); rep.summary_figure() # charts (plotly)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from liqkit.backtest.metrics import mid_at
from liqkit.backtest.result import BacktestResult
from liqkit.data.feed import MarketData
from liqkit.domain.errors import DataError

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

    def _mid(self) -> tuple[np.ndarray, np.ndarray]:
        b = self.data.book
        return b["ts_local"], (b["bid"] + b["ask"]) * (float(self.data.rules.tick) / 2)

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
        bts, mid = self._mid()
        rows = []
        for h in horizons_s:
            row: dict[str, float] = {"horizon_s": float(h)}
            if len(f) and len(bts):
                later = f["ts"].to_numpy(np.int64) + int(h * 1e9)
                ok = later <= int(bts[-1])
                px = f["price"].to_numpy(float)[ok]
                sign = f["side_sign"].to_numpy(float)[ok]
                mo = sign * (mid_at(bts, mid, later[ok]) - px) / px * 1e4
                buy = sign > 0
                row.update(
                    {
                        "all_bps": float(np.nanmean(mo)) if mo.size else np.nan,
                        "buy_bps": float(np.nanmean(mo[buy])) if buy.any() else np.nan,
                        "sell_bps": float(np.nanmean(mo[~buy])) if (~buy).any() else np.nan,
                        "fills": float(mo.size),
                    }
                )
            else:
                row.update({"all_bps": np.nan, "buy_bps": np.nan, "sell_bps": np.nan, "fills": 0.0})
            rows.append(row)
        return pd.DataFrame(rows).set_index("horizon_s")

    def levels(self, horizon_s: float = 10.0) -> pd.DataFrame:
        """Fills per quote level and side: count, base quantity, notional, edge at fill and markout (bps).
        The active rebalance's fills are not a quote level's: left out."""
        f = self._fills()
        if len(f) and "purpose" in f:
            f = f[f["purpose"] != "rebalance"]
        cols = ["fills", "qty", "notional", "edge_bps", f"markout_{horizon_s:g}s_bps"]
        if not len(f):
            return pd.DataFrame(columns=cols, index=pd.MultiIndex.from_tuples([], names=["level", "side"]))
        bts, mid = self._mid()
        ts = f["ts"].to_numpy(np.int64)
        px = f["price"].to_numpy(float)
        sign = f["side_sign"].to_numpy(float)
        later = ts + int(horizon_s * 1e9)
        mo = np.where(later <= int(bts[-1]), sign * (mid_at(bts, mid, later) - px) / px * 1e4, np.nan)
        d = pd.DataFrame(
            {
                "level": f["level"].to_numpy(),
                "side": f["side"].astype(str).to_numpy(),
                "qty": f["qty"].to_numpy(float),
                "notional": f["notional"].to_numpy(float),
                "edge_bps": sign * (mid_at(bts, mid, ts) - px) / px * 1e4,
                cols[-1]: mo,
            }
        )
        g = d.groupby(["level", "side"])
        out = pd.DataFrame({"fills": g.size(), "qty": g["qty"].sum(), "notional": g["notional"].sum()})
        out["edge_bps"] = g["edge_bps"].mean()
        out[cols[-1]] = g[cols[-1]].mean()
        return out

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
