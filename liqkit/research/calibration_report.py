"""The calibration report: a live session beside its backtests, one per queue model, and the closest.

For live and for each model, the same metrics from the same functions (``liqkit.backtest.metrics``'s
``pair_metrics`` on fills in one table, ``liqkit.research.fills``): orders, fills per side and per quote
level, fill rate, time to fill, markouts at 1, 10 and 60 s with bootstrap confidence intervals, and the
PnL split (spread capture, inventory, fees). Each model is also matched against live fill by fill: a
live fill is *matched* when the model has a fill of the same symbol, side and quote level within
``MATCH_WINDOW_S`` of it (each model fill matches one live fill at most, nearest first).

The closest model has the smallest ``score`` = |model fills - live fills| / live fills + (1 - the share
of live fills matched): as many fills as live, at the same places and times.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from liqkit.backtest.result import BacktestResult
    from liqkit.data.feed import MarketData
    from liqkit.research.calibrate import LiveSession

MATCH_WINDOW_S = 1.0
HORIZONS_S = (1, 10, 60)
LIVE = "live"


def match_fills(live: pd.DataFrame, model: pd.DataFrame, window_s: float = MATCH_WINDOW_S) -> np.ndarray:
    """For each live fill (in ``live``'s order), whether a model fill of the same symbol, side and level
    lies within ``window_s``; each model fill is used once, the nearest in time first."""
    matched = np.zeros(len(live), bool)
    if not len(live) or not len(model):
        return matched
    window = int(window_s * 1e9)
    keys = ["symbol", "side", "level"]
    lv = live.reset_index(drop=True)
    for key, rows in lv.groupby(keys, sort=False, dropna=False):
        sel = model
        for k, v in zip(keys, key, strict=True):
            missing = v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
            sel = sel[sel[k].isna()] if missing else sel[sel[k] == v]
        if sel.empty:
            continue
        mts = np.sort(sel["ts"].to_numpy(np.int64))
        used = np.zeros(len(mts), bool)
        # the pairs closest in time are matched first
        cand: list[tuple[int, int, int]] = []
        for i, t in zip(rows.index, rows["ts"].to_numpy(np.int64), strict=True):
            lo, hi = np.searchsorted(mts, t - window, "left"), np.searchsorted(mts, t + window, "right")
            cand.extend((abs(int(mts[j]) - int(t)), int(i), int(j)) for j in range(lo, hi))
        for _gap, i, j in sorted(cand):
            if not matched[i] and not used[j]:
                matched[i] = used[j] = True
    return matched


def _pair_fills(fills: pd.DataFrame) -> Any:
    from liqkit.backtest.metrics import PairFills

    f = fills.sort_values("ts")
    return PairFills(
        f["ts"].to_numpy(np.int64),
        np.where(f["side"].to_numpy() == "BUY", 1.0, -1.0),
        f["price"].to_numpy(float),
        f["qty"].to_numpy(float),
        f["fee_quote"].to_numpy(float),
    )


def source_metrics(fills: pd.DataFrame, orders: pd.DataFrame, markets: Mapping[str, MarketData]) -> dict[str, Any]:
    """One source's metrics (live or a model), over every symbol: fills as ``fill_table`` gives them,
    orders as the journal's or the backtest's order rows (one row per state change)."""
    from liqkit.backtest.metrics import MidLine, pair_metrics

    total: dict[str, Any] = {}
    for sym, md in markets.items():
        f = fills[fills["symbol"] == sym]
        statuses = {str(k): int(n) for k, n in orders[orders["symbol"] == sym]["status"].value_counts().items()}
        m = pair_metrics(_pair_fills(f), MidLine.of_book(md.book, float(md.rules.tick)), statuses)
        for k, v in m.items():
            if isinstance(v, int | float) and not k.startswith(("markout", "fill_rate", "max_", "final_")):
                total[k] = total.get(k, 0) + v
    total["fill_rate"] = total["orders_filled"] / total["orders_placed"] if total.get("orders_placed") else 0.0
    counts = fills.groupby(["symbol", "side", "level"], dropna=False).size() if len(fills) else pd.Series(dtype=int)
    total["per_level"] = (
        {f"{key[0]} {key[1]} L{_level(key[2])}": int(n) for key, n in counts.items() if isinstance(key, tuple)}
        if len(fills)
        else {}
    )
    ttf = fills["time_to_fill_s"].dropna() if "time_to_fill_s" in fills else pd.Series(dtype=float)
    total["time_to_fill_p50_s"] = float(ttf.quantile(0.5)) if len(ttf) else None
    total["time_to_fill_p90_s"] = float(ttf.quantile(0.9)) if len(ttf) else None
    return total


def _level(v: Any) -> str:
    return "?" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else str(int(v))


def _markouts(fills: pd.DataFrame, markets: Mapping[str, MarketData]) -> pd.DataFrame:
    """Markouts with bootstrap CIs per symbol, as ``liqkit.research.fills.markouts`` gives them."""
    from liqkit.research.fills import markouts

    parts = []
    for sym, md in markets.items():
        f = fills[fills["symbol"] == sym]
        if len(f):
            m = markouts(f, md, horizons_s=HORIZONS_S).reset_index()
            m.insert(0, "symbol", sym)
            parts.append(m)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


@dataclass
class CalibrationReport:
    """Live beside each queue model's backtest (see the module); ``to_json()`` is what ``--json`` prints."""

    venue: str
    duration_s: float
    live: dict[str, Any]
    models: dict[str, dict[str, Any]]
    best: str | None
    latency: dict[str, Any]
    fills: dict[str, pd.DataFrame] = field(repr=False, default_factory=dict)
    markouts: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)

    def comparison(self) -> pd.DataFrame:
        """One row per source (live first), the headline metrics as columns."""
        cols = [
            "orders_placed",
            "fills",
            "buy_fills",
            "sell_fills",
            "fill_rate",
            "time_to_fill_p50_s",
            "pnl",
            "spread_capture",
            "inventory_pnl",
            "fees",
            "fill_count_error",
            "matched_share",
            "score",
        ]
        rows = {LIVE: self.live, **self.models}
        df = pd.DataFrame({k: {c: v.get(c) for c in cols} for k, v in rows.items()}).T
        df.index.name = "source"
        return df

    def per_level(self) -> pd.DataFrame:
        """Fills per symbol, side and quote level: one column per source."""
        rows = {LIVE: self.live, **self.models}
        return pd.DataFrame({k: v.get("per_level", {}) for k, v in rows.items()}).fillna(0).astype(int)

    def to_json(self) -> dict[str, Any]:
        """``{"venue", "duration_s", "live", "models", "best", "latency", "notes"}``, JSON-ready."""
        return _clean(
            {
                "venue": self.venue,
                "duration_s": self.duration_s,
                "live": self.live,
                "models": self.models,
                "best": self.best,
                "latency": self.latency,
                "notes": self.notes,
            }
        )

    def figure(self) -> Any:
        """Fills per side and level, and markouts with their confidence intervals, per source."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        fig = make_subplots(rows=1, cols=2, subplot_titles=("fills per side and level", "markout (bps), 95% CI"))
        per = self.per_level()
        for col in per.columns:
            fig.add_trace(
                go.Bar(name=str(col), x=list(per.index), y=per[col].tolist(), legendgroup=str(col)), row=1, col=1
            )
        mk = self.markouts
        if len(mk):
            for src, rows in mk[mk["side"] == "all"].groupby("source", sort=False):
                fig.add_trace(
                    go.Scatter(
                        name=str(src),
                        x=rows["horizon_s"],
                        y=rows["mean_bps"],
                        mode="lines+markers",
                        legendgroup=str(src),
                        showlegend=False,
                        error_y={
                            "type": "data",
                            "symmetric": False,
                            "array": (rows["ci_high_bps"] - rows["mean_bps"]).tolist(),
                            "arrayminus": (rows["mean_bps"] - rows["ci_low_bps"]).tolist(),
                        },
                    ),
                    row=1,
                    col=2,
                )
        fig.update_layout(barmode="group", title=f"calibration on {self.venue}: closest model {self.best}")
        fig.update_xaxes(title_text="horizon (s)", row=1, col=2)
        return fig

    def write(self, out: str | Path) -> Path:
        """``out/report.json``, ``comparison.csv``, ``per_level.csv``, ``markouts.csv``, ``fills_<source>.csv``
        and ``report.html`` (the figure, plotly.js inside: it opens offline)."""
        d = Path(out) / "report"
        d.mkdir(parents=True, exist_ok=True)
        (d / "report.json").write_text(json.dumps(self.to_json(), indent=2, sort_keys=True))
        self.comparison().to_csv(d / "comparison.csv")
        self.per_level().to_csv(d / "per_level.csv")
        self.markouts.to_csv(d / "markouts.csv", index=False)
        for src, f in self.fills.items():
            f.to_csv(d / f"fills_{src.replace(':', '_')}.csv", index=False)
        try:
            self.figure().write_html(d / "report.html", include_plotlyjs=True)
        except ImportError:  # plotly is the notebook extra's: the tables are written all the same
            self.notes.append("report.html not written: plotly is not installed (pip install liqkit[notebook])")
        return d


def _clean(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def latency_summary(path: Path) -> dict[str, Any]:
    """Round trips per request kind (place, cancel, replace ...): count, p50 and p99 in ms."""
    if not path.exists():
        return {}
    df = pd.read_csv(path)
    out: dict[str, Any] = {}
    for kind, rows in df.groupby("kind", sort=False):
        rt = rows["round_trip_ms"]
        out[str(kind)] = {"n": len(rt), "p50_ms": float(rt.quantile(0.5)), "p99_ms": float(rt.quantile(0.99))}
    return out


def build_report(
    session: LiveSession, results: Mapping[str, BacktestResult], markets: Mapping[str, MarketData]
) -> CalibrationReport:
    """Compare the live session with each model's backtest."""
    from liqkit.journal import Journal
    from liqkit.research.fills import fill_table

    with Journal(session.journal_path, engine_id="reader") as j:
        live_fills = fill_table(j)
        live_orders = j.orders()
    live = source_metrics(live_fills, live_orders, markets)
    fills = {LIVE: live_fills}
    marks = [_markouts(live_fills, markets).assign(source=LIVE)]
    models: dict[str, dict[str, Any]] = {}
    n_live = len(live_fills)
    for label, res in results.items():
        mf = fill_table(res)
        m = source_metrics(mf, res.orders, markets)
        matched = match_fills(live_fills, mf)
        m["fill_count_error"] = (len(mf) - n_live) / n_live if n_live else None
        m["matched_share"] = float(matched.mean()) if n_live else None
        m["score"] = abs(len(mf) - n_live) / n_live + (1 - float(matched.mean())) if n_live else None
        models[label] = m
        fills[label] = mf
        marks.append(_markouts(mf, markets).assign(source=label))
    scored = {k: v["score"] for k, v in models.items() if v.get("score") is not None}
    best = min(scored, key=lambda k: scored[k]) if scored else None
    notes = []
    if not n_live:
        notes.append("no live fills: nothing to calibrate against (a longer --duration or tighter spreads)")
    if session.left_open:
        notes.append(f"{session.left_open} liqkit orders were left open on the venue after the stop")
    notes.extend(session.record_errors[:10])
    return CalibrationReport(
        venue=session.venue,
        duration_s=(session.end_ns - session.start_ns) / 1e9,
        live=live,
        models=models,
        best=best,
        latency={**latency_summary(session.latency_file), "feed_lag_ms": session.feed_ms},
        fills=fills,
        markouts=pd.concat([m for m in marks if len(m)], ignore_index=True)
        if any(len(m) for m in marks)
        else pd.DataFrame(),
        notes=notes,
    )
