"""Sweep benchmark: a 20-point grid (spread x inventory skew), each point a full engine backtest on the
real recording shipped with liqkit, timed on 1 process, on 2 processes (the speed-up), and through a
local dask.distributed cluster of 2 single-threaded worker processes on 127.0.0.1.

Prints figures; asserts nothing about time. The three runs must give the same rows (checked).

Usage: python bench/sweep_bench.py [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import time

import pandas as pd

from liqkit.data.capture import load_sample
from liqkit.research.sweep import sweep

BASE = {"symbol": "BTCUSDT", "levels": 2, "level_spacing": "1bps"}
GRID = {"spread": ["1bps", "2bps", "3bps", "5bps", "8bps"], "skew": [0, 0.25, 0.5, 1]}  # 20 points


def timed(label: str, fn: object, repeat: int) -> tuple[float, pd.DataFrame]:
    """Best wall time of ``repeat`` runs of ``fn()``, printed."""
    best, df = float("inf"), pd.DataFrame()
    for _ in range(repeat):
        t0 = time.perf_counter()
        df = fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    print(f"  {label:<44} {best:7.2f} s   ({len(df) / best:5.1f} backtests/s)", flush=True)
    return best, df


def main() -> None:
    """Run the three sweeps and print their wall times and the speed-ups."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each sweep (the best is shown)")
    args = ap.parse_args()
    data = load_sample()
    n = len(GRID["spread"]) * len(GRID["skew"])
    print(
        f"sweep benchmark: {n} backtests of {data.symbol}, {len(data):,} events each "
        f"({data.source}); {os.cpu_count()} CPUs"
    )
    t1, df1 = timed(
        "1 process (in this process)", lambda: sweep(data, BASE, GRID, n_jobs=1, progress=False), args.repeat
    )
    t2, df2 = timed("2 local processes", lambda: sweep(data, BASE, GRID, n_jobs=2, progress=False), args.repeat)

    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as lc,
        Client(lc) as client,
    ):
        started = time.perf_counter() - t0
        t3, df3 = timed(
            "dask.distributed, 2 worker processes", lambda: sweep(data, BASE, GRID, client=client, progress=False), 1
        )
    print(f"  (starting the local dask cluster took {started:.2f} s, not counted)")
    cols = [c for c in df1.columns if c != "wall_s"]
    same = df1[cols].equals(df2[cols]) and df1[cols].equals(df3[cols])
    print(f"speed-up on 2 processes: x{t1 / t2:.2f}; on dask: x{t1 / t3:.2f}; identical results: {same}")
    if not same:
        raise SystemExit("the sweeps disagree: that is a bug")
    best = df1.loc[df1["pnl"].idxmax()]
    print(f"best point: spread {best['spread']}, skew {best['skew']}: pnl {best['pnl']:.4f}, fills {best['fills']}")


if __name__ == "__main__":
    main()
