"""Analytics of our own fills, the same for a backtest and for a live session's journal.

``fill_table`` turns a ``BacktestResult`` or a journal (a ``Journal``, its file or its state directory)
into one table of our fills, the same columns and meaning from either; everything else here reads
that table:

>>> fills = fill_table(result)                # or fill_table("state/"), fill_table(journal)
>>> markouts(fills, data)                     # mean markout (bps) per side and horizon, bootstrap CI
>>> fills_per_level(fills), time_to_fill(fills)
>>> markout_figure(markouts(fills, data)); time_to_fill_figure(fills)   # plotly

The table's columns (``FILL_TABLE_COLUMNS``), one row a fill, in time order, indexed by UTC time:

- ``ts``: when the engine heard of the fill (int64 ns since the epoch, the engine's clock);
  ``ts_exchange``: the venue's execution time (0 when the venue gave none).
- ``symbol``; ``side``: ``"BUY"`` or ``"SELL"``; ``price``, ``qty`` (base asset): floats in the pair's units.
- ``is_maker``; ``fee_quote``: the fee in the quote asset (NaN when the journal holds it in another asset).
- ``client_id``; ``order_id``: the venue's order id where the source holds one (nullable ``Int64``);
  ``trade_id``.
- ``level``: the quote level (0 nearest the mid) the order was placed for, as the engine's order records
  say (nullable ``Int64``: missing when the source has no record of the order; never read from the id).
- ``placed_ts``: when the engine sent the order (its ``PENDING_NEW`` record, ns; nullable ``Int64``);
  the venue accepted it one round trip later (a journal's ``requests`` table has the round trips).
- ``time_to_fill_s``: ``ts - placed_ts`` in seconds (NaN when ``placed_ts`` is missing).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from liqkit.backtest.metrics import MidLine, MidPoints, Mids, markout_returns
from liqkit.backtest.result import BacktestResult
from liqkit.data.feed import MarketData
from liqkit.journal import FILE_NAME, Journal, JournalError

FILL_TABLE_COLUMNS = (
    "ts",
    "ts_exchange",
    "symbol",
    "side",
    "price",
    "qty",
    "is_maker",
    "fee_quote",
    "client_id",
    "order_id",
    "trade_id",
    "level",
    "placed_ts",
    "time_to_fill_s",
)
SIDES = ("BUY", "SELL", "all")
QUANTILES = (0.1, 0.5, 0.9, 0.99)
MIN_BOOT = 100
_CHUNK = 1 << 22  # resampled values drawn at once (bounds the bootstrap's memory: 4 Mi x 8 bytes)
_PLACED = "PENDING_NEW"

Source = BacktestResult | Journal | str | os.PathLike[str]


# ---- the table ------------------------------------------------------------------------------------
def fill_table(source: Source, symbol: str | None = None) -> pd.DataFrame:
    """Our fills from ``source`` (a ``BacktestResult`` or a live session's journal: a ``Journal``, a
    journal file or a state directory) as one table (see the module docstring); ``symbol`` keeps one pair.

    Levels and placement times come from the source's order records (the backtest's ``orders``, the
    journal's ``orders`` table), matched by client id to the last placement at or before each fill.
    """
    if isinstance(source, BacktestResult):
        fills, orders, keys = _result_frames(source)
    elif isinstance(source, Journal):
        fills, orders, keys = _journal_frames(source)
    elif isinstance(source, str | os.PathLike):
        with Journal(_journal_file(source), engine_id="reader") as j:
            fills, orders, keys = _journal_frames(j)
    else:
        raise TypeError(f"source: expected a BacktestResult, a Journal or a journal path, not {type(source).__name__}")
    if symbol is not None:
        sym = symbol.upper()
        fills = fills[fills["symbol"] == sym]
        orders = orders[orders["symbol"] == sym]
    return _table(fills, orders, keys)


def _journal_file(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if p.is_dir():
        p = p / FILE_NAME
    if not p.is_file():
        raise JournalError(f"source: no journal at {p} (give a journal file or the state directory holding one)")
    return p


def _result_frames(result: BacktestResult) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """A backtest's fills and order records in the shape ``_table`` reads (one run: client ids are keys)."""
    f, o = result.fills, result.orders
    fills = pd.DataFrame(
        {
            "ts": f["ts"].to_numpy(np.int64),
            "ts_exchange": f["ts_exchange"].to_numpy(np.int64),
            "symbol": f["symbol"].astype(str).to_numpy(),
            "side": f["side"].astype(str).to_numpy(),
            "price": f["price"].to_numpy(float),
            "qty": f["qty"].to_numpy(float),
            "is_maker": f["is_maker"].to_numpy(bool),
            "fee_quote": f["fee"].to_numpy(float),
            "client_id": f["client_id"].astype(str).to_numpy(),
            "order_id": pd.array([pd.NA] * len(f), dtype="Int64"),  # the simulated exchange's ids never reach it
            "trade_id": f["trade_id"].to_numpy(np.int64),
        }
    )
    placed = o[o["status"] == _PLACED]
    orders = pd.DataFrame(
        {
            "ts": placed["ts"].to_numpy(np.int64),
            "symbol": placed["symbol"].astype(str).to_numpy(),
            "client_id": placed["client_id"].astype(str).to_numpy(),
            "level": placed["level"].to_numpy(),
        }
    )
    return fills, orders, ["client_id"]


def _journal_frames(j: Journal) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """A journal's fills and order placements (engines may share a journal: engine and client id are keys)."""
    f, o = j.fills(), j.orders()
    quote = np.array([s.endswith(a) for s, a in zip(f["symbol"], f["fee_asset"], strict=True)], dtype=bool)
    fills = pd.DataFrame(
        {
            "ts": f["ts_local"].to_numpy(np.int64),
            "ts_exchange": f["ts_exchange"].to_numpy(np.int64),
            "symbol": f["symbol"].astype(str).to_numpy(),
            "side": f["side"].astype(str).to_numpy(),
            "price": f["price"].to_numpy(float),
            "qty": f["qty"].to_numpy(float),
            "is_maker": f["is_maker"].to_numpy().astype(bool),
            "fee_quote": np.where(quote, f["fee"].to_numpy(float), np.nan),
            "client_id": f["client_id"].astype(str).to_numpy(),
            "engine_id": f["engine_id"].astype(str).to_numpy(),
            "trade_id": f["trade_id"].to_numpy(np.int64),
        }
    )
    keys = ["engine_id", "client_id"]
    known = o[o["venue_order_id"].notna()]  # the venue's id, once an order record carries it
    ids = pd.DataFrame(
        {
            "engine_id": known["engine_id"].astype(str).to_numpy(),
            "client_id": known["client_id"].astype(str).to_numpy(),
            "order_id": pd.array(known["venue_order_id"].to_numpy(), dtype="Int64"),
        }
    ).drop_duplicates(keys, keep="last")
    fills = fills.merge(ids, on=keys, how="left")
    fills["order_id"] = fills["order_id"].astype("Int64")
    placed = o[o["status"] == _PLACED]
    orders = pd.DataFrame(
        {
            "ts": placed["ts_local"].to_numpy(np.int64),
            "symbol": placed["symbol"].astype(str).to_numpy(),
            "client_id": placed["client_id"].astype(str).to_numpy(),
            "engine_id": placed["engine_id"].astype(str).to_numpy(),
            "level": placed["level"].to_numpy(),
        }
    )
    return fills, orders, keys


def _table(fills: pd.DataFrame, orders: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Each fill with the level and time of its order's last placement at or before it, in time order."""
    fills = fills.sort_values("ts", kind="stable").reset_index(drop=True)
    o = orders.sort_values("ts", kind="stable")
    placed = pd.DataFrame({k: o[k].to_numpy() for k in keys})
    placed["at"] = o["ts"].to_numpy(np.int64)  # matched on; the nullable copy stays exact beside unmatched fills
    placed["placed_ts"] = pd.array(placed["at"].to_numpy(), dtype="Int64")
    placed["level"] = o["level"].astype("Int64").array
    if len(fills) and len(placed):
        t = pd.merge_asof(fills, placed, left_on="ts", right_on="at", by=keys, direction="backward")
    else:
        none = pd.array([pd.NA] * len(fills), dtype="Int64")
        t = fills.assign(placed_ts=none, level=none)
    t["level"] = t["level"].astype("Int64")
    t["placed_ts"] = t["placed_ts"].astype("Int64")
    wait = (t["ts"].astype("Int64") - t["placed_ts"]).to_numpy(np.float64, na_value=np.nan)  # exact ns, then float
    t["time_to_fill_s"] = wait / 1e9
    t = t[list(FILL_TABLE_COLUMNS)]
    t.index = pd.DatetimeIndex(pd.to_datetime(t["ts"].to_numpy(np.int64), unit="ns", utc=True), name="time")
    return t


# ---- markouts with confidence intervals ------------------------------------------------------------
def markouts(
    fills: pd.DataFrame,
    mids: MarketData | MidLine | MidPoints | pd.DataFrame,
    horizons_s: Sequence[float] = (1, 10, 60),
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean markout in bps per side (``BUY``, ``SELL`` and ``all``) and horizon, with a percentile
    bootstrap confidence interval over the fills.

    A fill's markout at ``h`` seconds is side x (mid at ts + h - price) / price x 1e4: positive is good for
    us (a buy's mid later above its price). Fills too close to the end of ``mids`` to look ``h`` ahead
    are left out (``n`` counts those kept). ``mids``: a ``MarketData`` (its book's mid; only that symbol's
    fills are used), a ``MidLine``/``MidPoints``, or a DataFrame with ``ts`` (int64 ns, or a UTC time
    index) and ``mid`` (a backtest's ``samples`` is one). ``ci`` is the interval's coverage; ``n_boot``
    resamples of the fills (at least 100) drawn from a generator seeded with ``seed``: the same call gives
    the same table.

    Returns a frame indexed by (side, horizon_s) with ``n``, ``mean_bps``, ``ci_low_bps``, ``ci_high_bps``.
    """
    hs = _horizons(horizons_s)
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < MIN_BOOT:
        raise ValueError(f"n_boot: {n_boot!r} resamples are too few for an interval: give an integer >= {MIN_BOOT}")
    if not isinstance(ci, float | int) or not 0 < ci < 1:
        raise ValueError(f"ci: {ci!r} is not a coverage: give a fraction between 0 and 1, such as 0.95")
    mid, symbol = _mids(mids)
    f = _checked(fills, ("ts", "symbol", "side", "price"))
    if symbol is not None:
        f = f[f["symbol"] == symbol]
        if not len(f):
            raise ValueError(f"fills: none of {symbol}, the symbol of mids: pass the fills of that symbol")
    elif f["symbol"].nunique() > 1:
        raise ValueError(
            f"fills: of {sorted(f['symbol'].unique())}: pass one symbol's fills (fills[fills.symbol == ...]) "
            "with its mids"
        )
    ts = f["ts"].to_numpy(np.int64)
    side = f["side"].astype(str).to_numpy()
    sign = np.where(side == "BUY", 1.0, -1.0)
    price = f["price"].to_numpy(float)
    pick = {"BUY": side == "BUY", "SELL": side == "SELL", "all": np.ones(len(f), bool)}
    per_h = [markout_returns(ts, sign, price, mid, round(h * 1e9)) * 1e4 for h in hs]
    streams = iter(np.random.SeedSequence(seed).spawn(len(SIDES) * len(hs)))
    q = ((1 - ci) / 2, (1 + ci) / 2)
    rows = []
    for s in SIDES:
        for h, r in zip(hs, per_h, strict=True):
            x = r[pick[s] & ~np.isnan(r)]
            rng = np.random.default_rng(next(streams))
            lo, hi = np.quantile(_boot_means(x, n_boot, rng), q) if x.size else (np.nan, np.nan)
            mean = float(np.mean(x)) if x.size else np.nan
            rows.append((s, h, x.size, mean, float(lo), float(hi)))
    out = pd.DataFrame(rows, columns=["side", "horizon_s", "n", "mean_bps", "ci_low_bps", "ci_high_bps"])
    out = out.set_index(["side", "horizon_s"])
    out.attrs.update(ci=float(ci), n_boot=int(n_boot), seed=seed)
    return out


def _boot_means(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``n_boot`` means of resamples (with replacement, of ``x``'s size) of ``x``, a block of resamples at
    a time (each block one array operation)."""
    n = x.size
    out = np.empty(n_boot)
    per = max(1, _CHUNK // n)
    for start in range(0, n_boot, per):
        k = min(per, n_boot - start)
        out[start : start + k] = x[rng.integers(0, n, size=(k, n))].mean(axis=1)
    return out


def _horizons(horizons_s: Sequence[float]) -> tuple[float, ...]:
    try:
        hs = tuple(float(h) for h in horizons_s)
    except (TypeError, ValueError):
        raise ValueError(f"horizons_s: {horizons_s!r} is not a list of seconds, such as (1, 10, 60)") from None
    if not hs:
        raise ValueError("horizons_s: give at least one horizon in seconds, such as (1, 10, 60)")
    bad = [h for h in hs if not h > 0 or not np.isfinite(h)]
    if bad:
        raise ValueError(f"horizons_s: {bad[0]:g} s is not a horizon after the fill: give seconds > 0")
    return hs


def _mids(mids: Any) -> tuple[Mids, str | None]:
    """The mid series of ``mids`` and its symbol when it knows it."""
    if isinstance(mids, MarketData):
        line: Mids = MidLine.of_book(mids.book, float(mids.rules.tick))
        symbol: str | None = mids.symbol
    elif isinstance(mids, MidLine | MidPoints):
        line, symbol = mids, None
    elif isinstance(mids, pd.DataFrame):
        if "mid" not in mids.columns:
            raise ValueError(f"mids: the frame has no 'mid' column (it has {list(mids.columns)})")
        if "ts" in mids.columns:
            ts = mids["ts"].to_numpy(np.int64)
        elif isinstance(mids.index, pd.DatetimeIndex):
            ts = mids.index.as_unit("ns").asi8
        else:
            raise ValueError("mids: give a 'ts' column (int64 ns) or a time index beside 'mid'")
        m = mids["mid"].to_numpy(float)
        keep = ~np.isnan(m)
        ts, m = ts[keep], m[keep]
        if len(ts) > 1 and (np.diff(ts) < 0).any():
            raise ValueError("mids: the times go backwards: sort the frame by time (mids.sort_values('ts'))")
        line, symbol = MidPoints(ts, m), None
    else:
        raise ValueError(f"mids: expected a MarketData, a MidLine or a DataFrame with ts and mid, not {type(mids)}")
    if not len(line):
        raise ValueError("mids: the series is empty: markouts need the mid after the fills")
    return line, symbol


# ---- fills per level and time to fill --------------------------------------------------------------
def fills_per_level(fills: pd.DataFrame) -> pd.DataFrame:
    """Per symbol, side and level (missing when the source cannot tell): fills, quantity (base asset),
    notional (quote asset), the share filled as maker and the mean time from placement to fill (s)."""
    f = _checked(fills, ("symbol", "side", "level", "price", "qty", "is_maker", "time_to_fill_s"))
    d = pd.DataFrame(
        {
            "symbol": f["symbol"].astype(str).to_numpy(),
            "side": f["side"].astype(str).to_numpy(),
            "level": f["level"].astype("Int64").array,
            "qty": f["qty"].to_numpy(float),
            "notional": f["price"].to_numpy(float) * f["qty"].to_numpy(float),
            "maker": f["is_maker"].to_numpy(bool).astype(float),
            "ttf": f["time_to_fill_s"].to_numpy(float),
        }
    )
    g = d.groupby(["symbol", "side", "level"], dropna=False, sort=True)
    out = pd.DataFrame(
        {
            "fills": g.size(),
            "qty": g["qty"].sum(),
            "notional": g["notional"].sum(),
            "maker_share": g["maker"].mean(),
            "mean_time_to_fill_s": g["ttf"].mean(),
        }
    )
    return out


def time_to_fill(fills: pd.DataFrame) -> pd.DataFrame:
    """Quantiles (p10, p50, p90, p99) of the time from placement to fill (s) per symbol, side and level;
    ``n`` counts the fills whose placement the source knows (the others are left out)."""
    f = _checked(fills, ("symbol", "side", "level", "time_to_fill_s"))
    d = pd.DataFrame(
        {
            "symbol": f["symbol"].astype(str).to_numpy(),
            "side": f["side"].astype(str).to_numpy(),
            "level": f["level"].astype("Int64").array,
            "ttf": f["time_to_fill_s"].to_numpy(float),
        }
    )
    g = d.groupby(["symbol", "side", "level"], dropna=False, sort=True)["ttf"]
    q = g.quantile(np.array(QUANTILES)).unstack()
    q.columns = [f"p{round(x * 100)}_s" for x in QUANTILES]
    out = pd.concat([g.count().rename("n"), q], axis=1)
    out["n"] = out["n"].astype(np.int64)
    return out


def _checked(fills: Any, need: Sequence[str]) -> pd.DataFrame:
    if not isinstance(fills, pd.DataFrame):
        raise ValueError(f"fills: expected the DataFrame fill_table returns, not {type(fills).__name__}")
    missing = [c for c in need if c not in fills.columns]
    if missing:
        raise ValueError(f"fills: the table lacks {missing}: pass fill_table(result or journal)")
    if not len(fills):
        raise ValueError("fills: the table is empty: there are no fills to analyse")
    return fills


# ---- charts ---------------------------------------------------------------------------------------
def markout_figure(markouts: pd.DataFrame) -> Any:
    """The markout curve of each side (bps against seconds after the fill, log), with its confidence
    interval as error bars: the table ``markouts`` returns."""
    from liqkit.research.stats import _plotly

    go, _ = _plotly()
    need = ("n", "mean_bps", "ci_low_bps", "ci_high_bps")
    if not isinstance(markouts, pd.DataFrame) or any(c not in markouts.columns for c in need):
        raise ValueError(f"markouts: expected the table markouts() returns (columns {list(need)})")
    fig = go.Figure()
    for side, color in (("all", "#1f77b4"), ("BUY", "#2ca02c"), ("SELL", "#d62728")):
        if side not in markouts.index.get_level_values("side"):
            continue
        m = markouts.xs(side, level="side")
        fig.add_trace(
            go.Scatter(
                x=m.index,
                y=m["mean_bps"],
                name="all fills" if side == "all" else f"{side.lower()}s",
                mode="lines+markers",
                line={"color": color},
                customdata=m["n"],
                hovertemplate="%{x:g} s: %{y:.3g} bps (%{customdata} fills)",
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": m["ci_high_bps"] - m["mean_bps"],
                    "arrayminus": m["mean_bps"] - m["ci_low_bps"],
                },
            )
        )
    ci = markouts.attrs.get("ci")
    title = "markout after fills (bps)" + (f", {ci:.0%} bootstrap intervals" if ci else "")
    fig.add_hline(y=0, line={"color": "#7f7f7f", "width": 1})
    fig.update_xaxes(type="log", title_text="seconds after the fill (log)")
    fig.update_yaxes(title_text="bps (positive: good for us)")
    fig.update_layout(title=title, height=380, margin={"t": 50, "b": 40}, legend={"orientation": "h"})
    return fig


def time_to_fill_figure(fills: pd.DataFrame) -> Any:
    """The distribution of the time from placement to fill per side and level: one empirical CDF each,
    on a log time axis (fills whose placement the source does not know are left out)."""
    from liqkit.research.stats import _plotly

    go, _ = _plotly()
    f = _checked(fills, ("side", "level", "time_to_fill_s"))
    f = f[f["time_to_fill_s"].notna()]
    fig = go.Figure()
    d = pd.DataFrame(
        {
            "side": f["side"].astype(str).to_numpy(),
            "level": f["level"].astype("Int64").array,
            "ttf": f["time_to_fill_s"].to_numpy(float),
        }
    )
    for key, g in d.groupby(["side", "level"], dropna=False, sort=True):
        side, level = str(key[0]), key[1]  # type: ignore[index]
        x = np.sort(g["ttf"].to_numpy(float))
        name = f"{side.lower()} level {'?' if level is pd.NA or level != level else level}"
        dash = "solid" if side == "BUY" else "dot"
        fig.add_trace(
            go.Scatter(
                x=x, y=np.arange(1, x.size + 1) / x.size, name=name, mode="lines", line={"shape": "hv", "dash": dash}
            )
        )
    fig.update_xaxes(type="log", title_text="seconds from placement to fill (log)")
    fig.update_yaxes(title_text="share of fills", range=[0, 1.02])
    fig.update_layout(title="time to fill", height=380, margin={"t": 50, "b": 40}, legend={"orientation": "h"})
    return fig
