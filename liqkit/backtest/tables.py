"""The pandas tables of a backtest result, built from its columns when a caller reads them.

Every table has a UTC ``DatetimeIndex`` named ``time`` (from ``ts``), the integer columns it was built
from (``price_ticks``, ``qty_steps`` ...) and the same values in exchange units (``price``, ``qty`` ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from liqkit.domain.rules import SymbolRules
from liqkit.engine.core import FEE_SCALE


def orders_frame(cols: Mapping[str, Sequence[Any]], rules: Mapping[str, SymbolRules]) -> pd.DataFrame:
    """Order state changes; ``side`` is a BUY/SELL categorical; price, qty and filled in exchange units."""
    df = _frame(cols, ("symbol", "status", "reason", "purpose"))
    _sides(df)
    _to_units(
        df,
        rules,
        {"price_ticks": ("price", "tick"), "qty_steps": ("qty", "step"), "filled_steps": ("filled", "step")},
    )
    return _indexed(df)


def fills_frame(cols: Mapping[str, Sequence[Any]], rules: Mapping[str, SymbolRules]) -> pd.DataFrame:
    """Fills, with ``side_sign`` (+1/-1), ``fee`` (quote asset), ``notional`` (price x qty) and ``purpose``
    ("quote" or "rebalance")."""
    df = _frame(cols, ("symbol", "purpose"))
    _sides(df)
    _to_units(df, rules, {"price_ticks": ("price", "tick"), "qty_steps": ("qty", "step")})
    if len(df):
        df["side_sign"] = np.where(df["side"] == "BUY", 1, -1)
        unit = df["symbol"].map({s: float(r.tick * r.step) for s, r in rules.items()}).astype(float)
        df["fee"] = df["fee_nu"].astype(float) * unit / FEE_SCALE
        df["notional"] = df["price"] * df["qty"]
    else:
        df["side_sign"] = pd.Series(dtype=int)
        df["fee"] = pd.Series(dtype=float)
        df["notional"] = pd.Series(dtype=float)
    return _indexed(df)


def samples_frame(rows: Sequence[Sequence[Any]], columns: list[str], rules: Mapping[str, SymbolRules]) -> pd.DataFrame:
    """The driver's samples, with the mid, equity (marked to the mid, after fees) and our best quotes
    (NaN when we had none on a side)."""
    df = pd.DataFrame(rows, columns=columns)
    _to_units(
        df,
        rules,
        {
            "bid_ticks": ("bid", "tick"),
            "ask_ticks": ("ask", "tick"),
            "our_bid_ticks": ("our_bid", "tick"),
            "our_ask_ticks": ("our_ask", "tick"),
            "pos_steps": ("position", "step"),
        },
    )
    if len(df):
        df["mid"] = (df["bid"] + df["ask"]) / 2
        u = df["symbol"].map({s: float(r.tick * r.step) for s, r in rules.items()}).astype(float)
        df["equity"] = df["cash_units"] * u + df["position"] * df["mid"] - df["fee_nu"].astype(float) * u / FEE_SCALE
        df.loc[df["our_bid"] <= 0, "our_bid"] = np.nan
        df.loc[df["our_ask"] <= 0, "our_ask"] = np.nan
    return _indexed(df)


def states_frame(rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> pd.DataFrame:
    """The engine's state changes."""
    return _indexed(pd.DataFrame(rows, columns=list(columns)))


def _frame(cols: Mapping[str, Sequence[Any]], categorical: tuple[str, ...]) -> pd.DataFrame:
    """Columns to a DataFrame; repetitive strings become categoricals (fast to build and to group)."""
    data: dict[str, Any] = {}
    for k, v in cols.items():
        if k in categorical:
            data[k] = pd.Categorical(v)
        elif not isinstance(v, np.ndarray) and len(v) and type(v[0]) is int:  # not bool: is_maker stays bool
            data[k] = np.array(v, dtype=np.int64)
        else:
            data[k] = v
    return pd.DataFrame(data)


def _sides(df: pd.DataFrame) -> None:
    df["side"] = pd.Categorical.from_codes(
        (np.asarray(df["side"], dtype=np.int64) > 0).astype(np.int8), pd.Index(["SELL", "BUY"])
    )


def _to_units(df: pd.DataFrame, rules: Mapping[str, SymbolRules], cols: dict[str, tuple[str, str]]) -> None:
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


def _indexed(df: pd.DataFrame) -> pd.DataFrame:
    if len(df):
        df.index = pd.DatetimeIndex(pd.to_datetime(df["ts"].to_numpy(np.int64), unit="ns", utc=True), name="time")
    else:
        df.index = pd.DatetimeIndex([], name="time", tz="UTC")
    return df
