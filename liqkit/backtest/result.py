"""``BacktestResult``: the tables of one run (orders, fills, samples) and its metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from liqkit.backtest import metrics as M
from liqkit.backtest.driver import fill_columns, order_columns
from liqkit.data.feed import MarketData
from liqkit.engine.core import FEE_SCALE
from liqkit.engine.records import StateRecord

SAMPLE_COLS = [
    "ts",
    "symbol",
    "bid_ticks",
    "ask_ticks",
    "our_bid_ticks",
    "our_ask_ticks",
    "pos_steps",
    "cash_units",
    "fee_nu",
    "state",
]


def _time_index(ts: pd.Series) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(ts.to_numpy(np.int64), unit="ns", utc=True), name="time")


@dataclass
class BacktestResult:
    """Tables (pandas, prices and quantities in exchange units) and metrics of one backtest."""

    orders: pd.DataFrame
    fills: pd.DataFrame
    samples: pd.DataFrame
    states: pd.DataFrame
    metrics: dict[str, Any]
    per_pair: dict[str, dict[str, Any]] = field(default_factory=dict)

    def summary(self) -> pd.Series:
        """Metrics as a Series (for display)."""
        return pd.Series(self.metrics)


def build_result(
    core: Any, samples: list[tuple[Any, ...]], datas: list[MarketData], events: int, wall_s: float
) -> BacktestResult:
    """Turn the engine core's logs and the driver's samples into tables and metrics."""
    rules = {md.symbol: md.rules for md in datas}
    orders = _frame(order_columns(core.order_log), ("symbol", "status", "reason"))
    fills = _frame(fill_columns(core.fill_log), ("symbol",))
    states = pd.DataFrame(
        [(r.ts, r.symbol, r.state, r.reason) for r in core.event_log if isinstance(r, StateRecord)],
        columns=["ts", "symbol", "state", "reason"],
    )
    samp = pd.DataFrame(samples, columns=SAMPLE_COLS)
    for df in (orders, fills):
        df["side"] = pd.Categorical.from_codes(
            (np.asarray(df["side"], dtype=np.int64) > 0).astype(np.int8), pd.Index(["SELL", "BUY"])
        )
    _to_units(
        orders,
        rules,
        {"price_ticks": ("price", "tick"), "qty_steps": ("qty", "step"), "filled_steps": ("filled", "step")},
    )
    _to_units(fills, rules, {"price_ticks": ("price", "tick"), "qty_steps": ("qty", "step")})
    fills["side_sign"] = np.where(fills["side"] == "BUY", 1, -1) if len(fills) else pd.Series(dtype=int)
    unit = (
        fills["symbol"].map({s: float(r.tick * r.step) for s, r in rules.items()}).astype(float)
        if len(fills)
        else pd.Series(dtype=float)
    )
    fills["fee"] = fills["fee_nu"].astype(float) * unit / FEE_SCALE if len(fills) else pd.Series(dtype=float)
    fills["notional"] = fills["price"] * fills["qty"] if len(fills) else pd.Series(dtype=float)
    _to_units(
        samp,
        rules,
        {
            "bid_ticks": ("bid", "tick"),
            "ask_ticks": ("ask", "tick"),
            "our_bid_ticks": ("our_bid", "tick"),
            "our_ask_ticks": ("our_ask", "tick"),
            "pos_steps": ("position", "step"),
        },
    )
    if len(samp):
        samp["mid"] = (samp["bid"] + samp["ask"]) / 2
        u = samp["symbol"].map({s: float(r.tick * r.step) for s, r in rules.items()}).astype(float)
        samp["equity"] = (
            samp["cash_units"] * u + samp["position"] * samp["mid"] - samp["fee_nu"].astype(float) * u / FEE_SCALE
        )
        samp.loc[samp["our_bid"] <= 0, "our_bid"] = np.nan
        samp.loc[samp["our_ask"] <= 0, "our_ask"] = np.nan
    for df in (orders, fills, samp, states):
        df.index = _time_index(df["ts"]) if len(df) else pd.DatetimeIndex([], name="time", tz="UTC")

    per_pair: dict[str, dict[str, Any]] = {}
    for md in datas:
        sym = md.symbol
        f = fills[fills["symbol"] == sym]
        o = orders[orders["symbol"] == sym]
        tick = float(md.rules.tick)
        bts = md.book["ts_local"]
        mid = (md.book["bid"] + md.book["ask"]) * (tick / 2)
        m: dict[str, Any] = {}
        m.update(M.pnl_split(f, bts, mid))
        m.update(M.order_counts(o))
        m["fills"] = len(f)
        m["buy_fills"] = int((f["side"] == "BUY").sum())
        m["sell_fills"] = int((f["side"] == "SELL").sum())
        m["volume"] = float(f["notional"].sum()) if len(f) else 0.0
        m["fill_rate"] = m["orders_filled"] / m["orders_placed"] if m["orders_placed"] else 0.0
        m["max_inventory"] = M.max_inventory(f)
        m["final_position"] = float((f["side_sign"] * f["qty"]).sum()) if len(f) else 0.0
        m.update(M.markouts(f, bts, mid))
        per_pair[sym] = m
    total: dict[str, Any] = {"events": events, "events_per_s": events / wall_s if wall_s > 0 else 0.0, "wall_s": wall_s}
    if len(datas) == 1:
        total.update(per_pair[datas[0].symbol])
    else:
        for key in (
            "pnl",
            "spread_capture",
            "inventory_pnl",
            "fees",
            "volume",
            "fills",
            "buy_fills",
            "sell_fills",
            "orders_placed",
            "orders_cancelled",
            "orders_filled",
            "orders_rejected",
        ):
            total[key] = sum(m[key] for m in per_pair.values())
    total["symbols"] = [md.symbol for md in datas]
    total["start"] = (
        str(
            pd.Timestamp(
                min(int(md.book["ts_local"][0]) for md in datas if len(md.book["ts_local"])), unit="ns", tz="UTC"
            )
        )
        if events
        else None
    )
    total["duration_s"] = (
        float(
            (max(int(md.book["ts_local"][-1]) for md in datas) - min(int(md.book["ts_local"][0]) for md in datas)) / 1e9
        )
        if events
        else 0.0
    )
    return BacktestResult(orders, fills, samp, states, total, per_pair)


def _frame(cols: dict[str, list[Any]], categorical: tuple[str, ...]) -> pd.DataFrame:
    """Columns to a DataFrame; repetitive strings become categoricals (fast to build and to group)."""
    data: dict[str, Any] = {}
    for k, v in cols.items():
        data[k] = (
            pd.Categorical(v) if k in categorical else (np.array(v, dtype=np.int64) if v and type(v[0]) is int else v)
        )
    return pd.DataFrame(data)


def _to_units(df: pd.DataFrame, rules: dict[str, Any], cols: dict[str, tuple[str, str]]) -> None:
    if not len(df):
        for _, (name, _) in cols.items():
            df[name] = pd.Series(dtype=float)
        return
    for src, (name, kind) in cols.items():
        if len(rules) == 1:
            scale: Any = float(getattr(next(iter(rules.values())), kind))
        else:
            scale = df["symbol"].map({s: float(getattr(r, kind)) for s, r in rules.items()}).astype(float).to_numpy()
        df[name] = df[src].to_numpy(dtype=float) * scale


def decimal_pnl(result: BacktestResult) -> Decimal:
    """Total PnL as a Decimal (exact from the fills' integers), for accounting checks."""
    return Decimal(repr(result.metrics.get("pnl", 0.0)))
