"""Parameter sweeps: a grid (or a random search) over ``PairConfig`` fields, each point a full engine
backtest, with a tqdm progress bar; on local processes by default, on ``dask.distributed`` when given a
``Client`` (the same call scales out to a cluster). Results as a DataFrame, and a heatmap.

>>> df = sweep(data, {"symbol": "BTCUSDT", "levels": 2}, {"spread": ["1bps", "2bps", "5bps"], "skew": [0, 0.5, 1]})
>>> heatmap(df, x="spread", y="skew", value="pnl")

``data`` is a ``MarketData`` (sent once to each worker process, or scattered once to a dask cluster), or a
path every worker loads itself (what a cluster with shared storage wants). Every point is validated
before anything runs: an unknown field or a bad value raises ``ConfigError`` naming the field.
"""

from __future__ import annotations

import difflib
import itertools
import os
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from liqkit.data.feed import MarketData
from liqkit.domain.config import LiqkitConfig, PairConfig, SimConfig, update_pair
from liqkit.domain.errors import ConfigError

Data = MarketData | str | Path
_ALIASES = {"spread": ("bid_spread", "ask_spread")}  # one value for both sides
METRICS = (
    "pnl",
    "spread_capture",
    "inventory_pnl",
    "fees",
    "rebalance_cost",
    "volume",
    "fills",
    "rebalance_fills",
    "exit_fills",
    "buy_fills",
    "sell_fills",
    "orders_placed",
    "orders_cancelled",
    "fill_rate",
    "max_inventory",
    "final_position",
    "markout_1s_bps",
    "markout_10s_bps",
    "markout_60s_bps",
    "wall_s",
)


@dataclass(frozen=True)
class Uniform:
    """A random-search range: a float drawn uniformly in ``[low, high]``, written with ``unit``
    (``Uniform(1, 10, "bps")`` gives values such as ``"4.27bps"``), rounded to ``digits`` decimals."""

    low: float
    high: float
    unit: str = ""
    digits: int = 2

    def draw(self, rng: random.Random) -> Any:
        """One value."""
        x = round(rng.uniform(self.low, self.high), self.digits)
        return f"{x:g}{self.unit}" if self.unit else x


def grid_points(space: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the values of ``space`` (the first field varies slowest)."""
    for name, values in space.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise ConfigError(f"sweep field {name}: give a list of values, got {values!r}")
    keys = list(space)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(list(space[k]) for k in keys))]


def random_points(space: Mapping[str, Sequence[Any] | Uniform], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` points drawn at random (seeded): from a list, one of its values; from a ``Uniform``, a value in
    its range."""
    if n < 1:
        raise ConfigError(f"random search: n = {n}; draw at least one point")
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        point = {}
        for name, values in space.items():
            if isinstance(values, Uniform):
                point[name] = values.draw(rng)
            elif isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
                raise ConfigError(f"sweep field {name}: give a non-empty list of values or a Uniform, got {values!r}")
            else:
                point[name] = rng.choice(list(values))
        out.append(point)
    return out


def _changes(point: Mapping[str, Any]) -> dict[str, Any]:
    fields = set(PairConfig.model_fields)
    out: dict[str, Any] = {}
    for name, value in point.items():
        if name in _ALIASES:
            for target in _ALIASES[name]:
                out[target] = value
            continue
        if name not in fields:
            known = sorted(fields | set(_ALIASES))
            near = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ConfigError(f"sweep field {name!r} is not a PairConfig field{hint}; fields: {', '.join(known)}")
        if name == "symbol":
            raise ConfigError("sweep field 'symbol': a sweep varies settings of one pair; sweep data instead")
        out[name] = value
    return out


def point_configs(base: PairConfig, points: Sequence[Mapping[str, Any]]) -> list[PairConfig]:
    """Each point applied to ``base`` and validated; ConfigError names the point, the field and the rule."""
    configs = []
    for i, point in enumerate(points):
        try:
            configs.append(update_pair(base, _changes(point)))
        except ConfigError as e:
            raise ConfigError(f"sweep point {i} {dict(point)}: {e}") from None
    return configs


# ---- the work of one point (runs in a worker) -----------------------------------------------------
_WORKER: dict[str, Any] = {}


@lru_cache(maxsize=4)
def _load(path: str, symbol: str) -> MarketData:
    from liqkit.data.loader import load_market_data

    return load_market_data(path, symbol=symbol or None)


def _resolve(data: Data, symbol: str) -> MarketData:
    return data if isinstance(data, MarketData) else _load(str(data), symbol)


def _init_worker(data: Data, symbol: str, sim: SimConfig) -> None:
    """Process-pool initializer: keep the data (sent once per process) and the sim config."""
    _WORKER.update(data=_resolve(data, symbol), sim=sim)


def _run_in_worker(pc: PairConfig) -> dict[str, Any]:
    return run_point(_WORKER["data"], pc, _WORKER["sim"])


def run_point(data: Data, pc: PairConfig, sim: SimConfig) -> dict[str, Any]:
    """One full backtest; its scalar metrics."""
    from liqkit.backtest import run_backtest

    md = _resolve(data, pc.symbol)
    result = run_backtest(md, LiqkitConfig(sim=sim, pairs={pc.symbol: pc}))
    return {k: result.metrics.get(k) for k in METRICS}


# ---- the sweep ------------------------------------------------------------------------------------
def sweep(
    data: Data,
    base: PairConfig | Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]] | None = None,
    *,
    points: Sequence[Mapping[str, Any]] | None = None,
    sim: SimConfig | None = None,
    n_jobs: int | None = None,
    client: Any = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Backtest every point of ``grid`` (all combinations) or of ``points`` (e.g. ``random_points``) on
    ``data``, each point being ``base`` with the point's fields changed. Return one row per point, in
    point order: the point's fields (as given), then the metrics (``METRICS``).

    ``n_jobs`` worker processes (default: one per CPU; 1 runs here, in this process); with ``client``, a
    ``dask.distributed.Client``, the points run on its cluster instead. ``sim`` sets the simulated
    exchange (fees, fill model, latency). ``progress`` shows a tqdm bar.
    """
    if (grid is None) == (points is None):
        raise ConfigError("sweep: give either grid= (a dict of value lists) or points= (a list of dicts)")
    pts = grid_points(grid) if grid is not None else [dict(p) for p in points or []]
    if not pts:
        raise ConfigError("sweep: no points to run")
    pc0 = base if isinstance(base, PairConfig) else _base(base, data)
    configs = point_configs(pc0, pts)
    simcfg = sim or SimConfig()
    if n_jobs is not None and n_jobs < 1:
        raise ConfigError(f"sweep: n_jobs = {n_jobs}; use 1 or more (or None: one per CPU)")
    bar = _bar(len(configs), progress, "sweep")
    try:
        if client is not None:
            rows = _on_dask(client, data, pc0.symbol, configs, simcfg, bar.update)
        elif (n_jobs or os.cpu_count() or 1) == 1 or len(configs) == 1:
            md = _resolve(data, pc0.symbol)
            rows = []
            for pc in configs:
                rows.append(run_point(md, pc, simcfg))
                bar.update(1)
        else:
            workers = min(n_jobs or os.cpu_count() or 1, len(configs))
            rows = _on_processes(workers, data, pc0.symbol, configs, simcfg, bar.update)
    finally:
        bar.close()
    params = pd.DataFrame(pts)
    return pd.concat([params, pd.DataFrame(rows)], axis=1)


def _base(base: Mapping[str, Any], data: Data) -> PairConfig:
    from liqkit.domain.config import pair_config

    settings = dict(base)
    if "symbol" not in settings and isinstance(data, MarketData):
        settings["symbol"] = data.symbol
    if "symbol" not in settings:
        raise ConfigError("sweep: base needs a symbol when data is a path")
    return pair_config(settings)


def _bar(total: int, show: bool, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="backtest", disable=not show)


def _on_processes(
    workers: int, data: Data, symbol: str, configs: list[PairConfig], sim: SimConfig, tick: Callable[[int], Any]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any] | None] = [None] * len(configs)
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(data, symbol, sim)) as pool:
        futures: dict[Future[dict[str, Any]], int] = {
            pool.submit(_run_in_worker, pc): i for i, pc in enumerate(configs)
        }
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = futures[fut]
                try:
                    rows[i] = fut.result()
                except Exception as e:
                    for f in pending:
                        f.cancel()
                    raise RuntimeError(f"sweep point {i} ({configs[i]!r}) failed: {type(e).__name__}: {e}") from e
                tick(1)
    return [r for r in rows if r is not None]


def _on_dask(
    client: Any, data: Data, symbol: str, configs: list[PairConfig], sim: SimConfig, tick: Callable[[int], Any]
) -> list[dict[str, Any]]:
    from distributed import as_completed

    payload = client.scatter(data, broadcast=True) if isinstance(data, MarketData) else data
    futures = [client.submit(run_point, payload, pc, sim, pure=False) for pc in configs]
    index = {f.key: i for i, f in enumerate(futures)}
    rows: list[dict[str, Any] | None] = [None] * len(configs)
    try:
        for fut in as_completed(futures):
            i = index[fut.key]
            try:
                rows[i] = fut.result()
            except Exception as e:
                raise RuntimeError(f"sweep point {i} ({configs[i]!r}) failed: {type(e).__name__}: {e}") from e
            tick(1)
    finally:
        client.cancel([f for f in futures if not f.done()])
    return [r for r in rows if r is not None]


# ---- results --------------------------------------------------------------------------------------
def pivot(df: pd.DataFrame, x: str, y: str, value: str = "pnl", agg: Any = "mean") -> pd.DataFrame:
    """``value`` by ``y`` (rows) and ``x`` (columns), in the order the values first appear."""
    for col in (x, y, value):
        if col not in df.columns:
            raise ConfigError(f"heatmap: no column {col!r}; the sweep has {', '.join(map(str, df.columns))}")
    xs = list(dict.fromkeys(df[x].astype(str)))
    ys = list(dict.fromkeys(df[y].astype(str)))
    t = df.assign(**{x: df[x].astype(str), y: df[y].astype(str)}).pivot_table(
        index=y, columns=x, values=value, aggfunc=agg
    )
    return t.reindex(index=ys, columns=xs)


def heatmap(df: pd.DataFrame, x: str, y: str, value: str = "pnl", agg: Any = "mean", title: str | None = None) -> Any:
    """A plotly heatmap of ``value`` over two swept fields (each cell annotated with its value)."""
    try:
        import plotly.graph_objects as go
    except ImportError:  # plotly comes with liqkit's notebook extra
        raise ImportError("charts need plotly: pip install 'liqkit[notebook]'") from None
    t = pivot(df, x, y, value, agg)
    z = t.to_numpy(float)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(t.columns),
            y=list(t.index),
            colorscale="RdYlGn",
            zmid=0 if (z < 0).any() and (z > 0).any() else None,
            text=[[f"{v:.4g}" for v in row] for row in z],
            texttemplate="%{text}",
            colorbar={"title": value},
        )
    )
    fig.update_layout(
        title=title or f"{value} by {x} and {y}",
        xaxis_title=x,
        yaxis_title=y,
        height=420,
        margin={"t": 50, "b": 40},
    )
    return fig
