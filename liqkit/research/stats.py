"""Market statistics for research: the spread over time and its distribution, trade intensity as a
function of the distance from the mid, and volatility. Numbers in DataFrames; charts (plotly) at the end.

Every function takes book tops and trades as ``MarketFrames`` (``liqkit.data.frames``), ``MarketData``
(``liqkit.data.feed``) or DataFrames with ``bid``/``ask`` (book) and ``price``/``qty``/``aggressor``
(trades) columns and a UTC time index.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from liqkit.data.feed import MarketData
from liqkit.data.frames import MarketFrames
from liqkit.domain.errors import DataError
from liqkit.domain.rules import default_rules

Market = MarketFrames | MarketData | pd.DataFrame


def _book(data: Market) -> pd.DataFrame:
    if isinstance(data, MarketFrames):
        return data.book
    if isinstance(data, MarketData):
        return data.book_frame()
    if {"bid", "ask"} <= set(data.columns):
        return data
    raise DataError("book: expected MarketFrames, MarketData or a DataFrame with bid and ask columns")


def _trades(data: Market) -> pd.DataFrame:
    if isinstance(data, MarketFrames):
        return data.trades
    if isinstance(data, MarketData):
        return data.trades_frame()
    if {"price", "qty", "aggressor"} <= set(data.columns):
        return data
    raise DataError("trades: expected MarketFrames, MarketData or a DataFrame with price, qty and aggressor")


def _ns(df: pd.DataFrame) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(df.index).asi8, dtype=np.int64)


def _tick(data: Market, tick: float | None) -> float:
    if tick is not None:
        return float(tick)
    if isinstance(data, MarketData):
        return float(data.rules.tick)
    if isinstance(data, MarketFrames) and len(data.symbols) == 1:
        return float(default_rules(data.symbols[0]).tick)
    raise DataError("tick: cannot tell the tick size of these data; pass tick=")


def spreads(data: Market, tick: float | None = None) -> pd.DataFrame:
    """The market spread at every book update: ``mid, spread, spread_ticks, spread_bps`` and ``duration_s``
    (how long that book stood: the weight of a time-weighted average)."""
    b = _book(data)
    if b.empty:
        raise DataError("spreads: the data hold no book tops (a data-portal file has trades only)")
    t = _tick(data, tick)
    bid, ask = b["bid"].to_numpy(float), b["ask"].to_numpy(float)
    mid = (bid + ask) / 2
    ts = _ns(b)
    dur = np.diff(ts, append=ts[-1]) / 1e9
    return pd.DataFrame(
        {
            "mid": mid,
            "spread": ask - bid,
            "spread_ticks": np.rint((ask - bid) / t).astype(np.int64),
            "spread_bps": (ask - bid) / mid * 1e4,
            "duration_s": dur,
        },
        index=b.index,
    )


def spread_distribution(sp: pd.DataFrame) -> pd.DataFrame:
    """How often (share of updates) and how long (share of time) the spread was each number of ticks."""
    g = sp.groupby("spread_ticks")
    out = pd.DataFrame({"updates": g.size(), "seconds": g["duration_s"].sum(), "spread_bps": g["spread_bps"].mean()})
    out["share_updates"] = out["updates"] / out["updates"].sum()
    total = out["seconds"].sum()
    out["share_time"] = out["seconds"] / total if total > 0 else np.nan
    return out


def spread_summary(sp: pd.DataFrame) -> pd.Series:
    """Mean (by update and by time), median and 95th percentile of the spread, in ticks and bps."""
    w = sp["duration_s"].to_numpy(float)
    tw = float(np.average(sp["spread_bps"], weights=w)) if w.sum() > 0 else float("nan")
    tw_ticks = float(np.average(sp["spread_ticks"], weights=w)) if w.sum() > 0 else float("nan")
    return pd.Series(
        {
            "mean_ticks": float(sp["spread_ticks"].mean()),
            "time_weighted_ticks": tw_ticks,
            "median_ticks": float(sp["spread_ticks"].median()),
            "p95_ticks": float(sp["spread_ticks"].quantile(0.95)),
            "mean_bps": float(sp["spread_bps"].mean()),
            "time_weighted_bps": tw,
            "p95_bps": float(sp["spread_bps"].quantile(0.95)),
            "one_tick_share_of_time": float(w[sp["spread_ticks"].to_numpy() == 1].sum() / w.sum())
            if w.sum() > 0
            else float("nan"),
        }
    )


def spread_over_time(sp: pd.DataFrame, freq: str = "1s") -> pd.DataFrame:
    """Spread per ``freq`` bucket: mean and max in bps and ticks (buckets without updates are left out)."""
    r = sp[["spread_bps", "spread_ticks"]].resample(freq)
    mean, high = r.mean(), r.max()
    out = pd.DataFrame(
        {
            "spread_bps_mean": mean["spread_bps"],
            "spread_bps_max": high["spread_bps"],
            "spread_ticks_mean": mean["spread_ticks"],
            "spread_ticks_max": high["spread_ticks"],
        }
    )
    return out.dropna()


def trade_distances(data: Market, trades: Market | None = None) -> pd.DataFrame:
    """Each trade with the mid standing just before it and its distance from that mid.

    ``distance_bps`` is positive when the trade went through the mid on the aggressor's side (a buy
    above the mid, a sell below): how far a resting quote had to be to be hit by it.
    """
    b = _book(data)
    t = _trades(trades if trades is not None else data)
    if b.empty or t.empty:
        raise DataError("trade intensity needs both book tops and trades")
    bts = _ns(b)
    mid = (b["bid"].to_numpy(float) + b["ask"].to_numpy(float)) / 2
    i = np.searchsorted(bts, _ns(t), side="left") - 1  # the book strictly before the trade
    ok = i >= 0
    m = mid[np.clip(i, 0, None)]
    px = t["price"].to_numpy(float)
    side = t["aggressor"].to_numpy(float)
    out = pd.DataFrame(
        {
            "price": px,
            "qty": t["qty"].to_numpy(float),
            "aggressor": t["aggressor"].to_numpy(),
            "mid": np.where(ok, m, np.nan),
            "distance_bps": np.where(ok, side * (px - m) / m * 1e4, np.nan),
        },
        index=t.index,
    )
    return out.dropna(subset=["mid"])


def trade_intensity(data: Market, trades: Market | None = None, grid_bps: Any = None, points: int = 25) -> pd.DataFrame:
    """Trade intensity by distance from the mid: for each distance d (bps), the trades per second (and
    base volume per second) that reached at least d, i.e. would have filled a quote resting d from the mid.

    ``grid_bps`` defaults to ``points`` distances from 0 to the 99.5th percentile of the trades' distances.
    The classic market-making model fits it as ``A * exp(-k * d)`` (``fit_intensity``).
    """
    td = trade_distances(data, trades)
    d = td["distance_bps"].to_numpy(float)
    ts = _ns(td)
    seconds = max((int(ts[-1]) - int(ts[0])) / 1e9, 1e-9) if len(ts) > 1 else 1.0
    if grid_bps is None:
        hi = float(np.percentile(d, 99.5)) if len(d) else 1.0
        grid_bps = np.linspace(0.0, max(hi, 1e-6), points)
    grid = np.asarray(grid_bps, float)
    ds = np.sort(d)
    qty = td["qty"].to_numpy(float)[np.argsort(d)]
    vol_from = np.cumsum(qty[::-1])[::-1]  # volume of trades at or beyond each sorted distance
    k = np.searchsorted(ds, grid, side="left")
    n = len(ds) - k
    vol = np.where(k < len(ds), vol_from[np.clip(k, 0, max(len(ds) - 1, 0))], 0.0) if len(ds) else np.zeros(len(k))
    return pd.DataFrame(
        {"trades_per_s": n / seconds, "volume_per_s": vol / seconds, "share_of_trades": n / max(len(ds), 1)},
        index=pd.Index(grid, name="distance_bps"),
    )


def fit_intensity(intensity: pd.DataFrame) -> dict[str, float]:
    """Fit ``trades_per_s = A * exp(-k * distance_bps)`` (least squares on the log); ``k`` is per bps."""
    x = intensity.index.to_numpy(float)
    y = intensity["trades_per_s"].to_numpy(float)
    ok = y > 0
    if ok.sum() < 2:
        raise DataError("fit_intensity: fewer than two distances with trades; widen the grid")
    slope, icept = np.polyfit(x[ok], np.log(y[ok]), 1)
    return {"A": float(np.exp(icept)), "k": float(-slope)}


def volatility(data: Market, freq: str = "1s", window: int = 60) -> pd.DataFrame:
    """Mid-price returns on a ``freq`` grid (last mid of each bucket, carried forward) and their rolling
    standard deviation over ``window`` buckets, in bps per bucket."""
    b = _book(data)
    if b.empty:
        raise DataError("volatility: the data hold no book tops")
    mid = ((b["bid"] + b["ask"]) / 2).resample(freq).last().ffill()
    ret = np.log(mid).diff() * 1e4
    return pd.DataFrame({"mid": mid, "return_bps": ret, "vol_bps": ret.rolling(window, min_periods=2).std()})


def volatility_summary(data: Market, freq: str = "1s") -> pd.Series:
    """Realised volatility of the mid: bps per ``freq``, per minute, per hour and per day (sqrt-time
    scaling), and annualised in percent (365 days: crypto trades every day)."""
    v = volatility(data, freq)
    sd = float(v["return_bps"].std())
    step_s = pd.Timedelta(freq).total_seconds()

    def per(seconds: float) -> float:
        return sd * float(np.sqrt(seconds / step_s))

    return pd.Series(
        {
            f"bps_per_{freq}": sd,
            "bps_per_minute": per(60),
            "bps_per_hour": per(3600),
            "bps_per_day": per(86400),
            "annualised_pct": per(365 * 86400) / 100,
            "range_bps": float((v["mid"].max() - v["mid"].min()) / v["mid"].mean() * 1e4),
        }
    )


# ---- charts ---------------------------------------------------------------------------------------
def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError:  # plotly comes with liqkit's notebook extra
        raise ImportError("charts need plotly: pip install 'liqkit[notebook]'") from None
    return go, make_subplots


def spread_figure(sp: pd.DataFrame, freq: str = "1s") -> Any:
    """One figure: the spread over time (mean and max per ``freq``, bps) and its distribution (share of
    time per number of ticks)."""
    go, make_subplots = _plotly()
    ot = spread_over_time(sp, freq)
    dist = spread_distribution(sp)
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.7, 0.3],
        subplot_titles=(f"market spread per {freq} (bps)", "spread distribution (share of time)"),
    )
    fig.add_trace(go.Scatter(x=ot.index, y=ot["spread_bps_mean"], name="mean", mode="lines"), 1, 1)
    fig.add_trace(go.Scatter(x=ot.index, y=ot["spread_bps_max"], name="max", mode="lines", line={"dash": "dot"}), 1, 1)
    fig.add_trace(go.Bar(x=[f"{k} tick" for k in dist.index], y=dist["share_time"], name="time share"), 1, 2)
    fig.update_yaxes(title_text="bps", row=1, col=1)
    fig.update_layout(height=380, margin={"t": 40, "b": 30}, legend={"orientation": "h"})
    return fig


def intensity_figure(intensity: pd.DataFrame, fit: dict[str, float] | None = None) -> Any:
    """Trades per second reaching each distance from the mid (log scale), with the exponential fit."""
    go, _ = _plotly()
    fig = go.Figure(go.Scatter(x=intensity.index, y=intensity["trades_per_s"], mode="markers+lines", name="observed"))
    if fit is not None:
        x = intensity.index.to_numpy(float)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=fit["A"] * np.exp(-fit["k"] * x),
                mode="lines",
                name=f"A·exp(-k·d): A={fit['A']:.3g}/s, k={fit['k']:.3g}/bps",
                line={"dash": "dash"},
            )
        )
    fig.update_layout(
        title="trade intensity by distance from mid",
        xaxis_title="distance from mid (bps)",
        yaxis_title="trades per second reaching it",
        yaxis_type="log",
        height=360,
        margin={"t": 40, "b": 30},
    )
    return fig
