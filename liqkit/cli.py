"""The ``liqkit`` command line.

``liqkit backtest --data PATH [--config FILE] [--json]`` runs the engine on recorded or synthetic data
on the simulated exchange and prints its metrics. Errors in input (a missing file, a malformed
config or data file) print one clear message and exit with status 2; nothing is half-done.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from liqkit.domain.errors import LiqkitError

EXIT_BAD_INPUT = 2


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    return v


def cmd_backtest(args: argparse.Namespace) -> int:
    """Run a backtest and print its metrics."""
    from liqkit.backtest import run_backtest
    from liqkit.data.loader import load_market_data
    from liqkit.domain.config import LiqkitConfig, load_config

    cfg = load_config(args.config) if args.config else LiqkitConfig()
    data = load_market_data(args.data, symbol=args.symbol)
    progress = None
    bar = None
    if not args.json and not args.quiet and sys.stderr.isatty():
        from tqdm import tqdm

        start = int(data.book["ts_local"][0]) if len(data.book["ts_local"]) else 0
        end = int(data.book["ts_local"][-1]) if len(data.book["ts_local"]) else 0
        bar = tqdm(total=max(1, (end - start) // 10**9), unit="s", desc=f"backtest {data.symbol}", file=sys.stderr)

        def progress(ts: int) -> None:
            bar.n = (ts - start) // 10**9
            bar.refresh()

    result = run_backtest(data, cfg, progress=progress)
    if bar is not None:
        bar.close()
    metrics = {k: _jsonable(v) for k, v in result.metrics.items()}
    if args.json:
        print(json.dumps(metrics, sort_keys=True))
        return 0
    width = max(len(k) for k in metrics)
    print(f"backtest of {data.symbol} on {data.source or args.data}")
    for k, v in metrics.items():
        shown = f"{v:,.6g}" if isinstance(v, float) else (f"{v:,}" if isinstance(v, int) else v)
        print(f"  {k:<{width}}  {shown}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = argparse.ArgumentParser(prog="liqkit", description="Provide liquidity on Binance spot pairs.")
    sub = p.add_subparsers(dest="command", required=True)
    bt = sub.add_parser("backtest", help="run the engine on recorded or synthetic data (simulated exchange)")
    bt.add_argument(
        "--data",
        required=True,
        type=Path,
        help="a capture .gz file or folder, a data-portal .csv/.zip, a Parquet folder, or bench data",
    )
    bt.add_argument("--config", type=Path, help="TOML config ([engine], [sim], [pairs.SYMBOL])")
    bt.add_argument("--symbol", help="symbol of the data when it cannot be told from the file")
    bt.add_argument("--json", action="store_true", help="print one JSON object of the metrics")
    bt.add_argument("--quiet", action="store_true", help="no progress bar")
    bt.set_defaults(func=cmd_backtest)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``liqkit`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except LiqkitError as e:
        print(f"liqkit: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
