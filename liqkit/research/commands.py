"""The ``liqkit record``, ``convert``, ``sweep`` and ``calibrate`` subcommands (added to liqkit's parser by
``register``).

``liqkit record --symbols BTCUSDT,ETHUSDT --out DIR [--duration S] [--venue binance-testnet|binance-live|URL]``
records bookTicker, trade and depth streams into captures (see ``liqkit.research.record``).
``liqkit convert SRC --out DEST`` writes a capture (file or folder) or a data-portal file as a Parquet
folder, or a Parquet folder back to one capture file when DEST ends in ``.gz``.
``liqkit calibrate --config FILE --venue URL|binance-testnet|binance-demo --duration S --out DIR [--json]``
trades live while recording, backtests the recording under each queue model and reports which is closest
(see ``liqkit.research.calibrate``).
``liqkit sweep --data PATH [--config FILE] [--set KEY=VALUE ...] --grid KEY=V1,V2 ... [--json]`` backtests
every combination of the ``--grid`` values (``liqkit.research.sweep``) on the config's pair (or the
defaults) and prints one row per point.
Bad input raises ``LiqkitError`` (liqkit's ``main`` prints one message and exits 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from liqkit.domain.errors import ConfigError, DataError


def cmd_record(args: argparse.Namespace) -> int:
    """Record market streams until Ctrl-C or ``--duration``, then print what was written."""
    from liqkit.research.record import record

    if args.duration is not None and args.duration <= 0:
        raise ConfigError(f"--duration: {args.duration} must be > 0 seconds")
    print(
        f"liqkit record: {args.symbols} from {args.venue} into {args.out}"
        + (f" for {args.duration:g} s" if args.duration else "; Ctrl-C stops"),
        flush=True,
    )
    stats = record(
        args.symbols,
        args.out,
        duration=args.duration,
        venue=args.venue,
        rotate_s=args.rotate,
        depth_limit=args.depth_limit,
    )
    for key, n in sorted(stats.frames.items()):
        print(f"  {key:<24} {n:>10,} frames")
    print(f"  files {len(stats.files)}, depth snapshots {sum(stats.snapshots.values())}, gaps {len(stats.gaps)}")
    for g in stats.gaps[:10]:
        print(f"  gap: {g}")
    for e in stats.errors[:10]:
        print(f"  error: {e}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    """Convert captures to Parquet (or a Parquet folder back to a capture file)."""
    from liqkit.data.parquet import convert, read_parquet, write_capture

    src, dest = Path(args.src), Path(args.out)
    if not src.exists():
        raise DataError(f"{src}: no such file or folder")
    if src.is_dir() and (src / "trades.parquet").exists():
        if dest.suffix != ".gz":
            raise ConfigError(f"--out: {dest}: a Parquet folder converts to a capture file; name it *.gz")
        frames = read_parquet(src)
        if args.symbol:
            frames = frames.for_symbol(args.symbol)
        write_capture(frames, dest)
        print(f"liqkit convert: {src} -> {dest}")
        return 0
    if dest.suffix == ".gz":
        raise ConfigError(f"--out: {dest}: captures convert to a Parquet folder; give a folder name")
    frames = convert(src, dest, args.symbol)
    s = frames.summary()
    print(
        f"liqkit convert: {src} -> {dest}/{{book,trades,depth,other}}.parquet: {s['symbols']}, "
        f"{s['book_rows']:,} book rows, {s['trades']:,} trades, {s['depth_updates']:,} depth updates, "
        f"{s['gaps']} gaps, clock skew {_ms(s['skew_median_ms'])}"
    )
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Trade live, record, backtest under each queue model; print the comparison (or one JSON object)."""
    import json
    import sys

    from liqkit.cli_args import venue_override
    from liqkit.domain.config import load_config
    from liqkit.research.calibrate import DEFAULT_MODELS, calibrate, parse_models

    models = args.models or DEFAULT_MODELS
    parse_models(models)  # a bad model name fails before anything starts
    cfg = load_config(args.config)
    if not cfg.pairs:
        raise ConfigError(f"{args.config}: no [pairs.SYMBOL] table: configure the pairs to calibrate")
    cfg = cfg.model_copy(update={"engine": cfg.engine.model_copy(update=venue_override(args.venue))})

    def say(line: str) -> None:
        print(f"liqkit calibrate: {line}", file=sys.stderr, flush=True)

    report = calibrate(cfg, args.out, args.duration, models, tail_s=args.tail, say=say, keys_file=args.keys_file)
    if args.json:
        print(json.dumps(report.to_json(), sort_keys=True))
        return 0
    with _wide_pandas():
        print(f"calibration on {report.venue}, {report.duration_s:.0f} s live; closest model: {report.best}")
        print(report.comparison().to_string(float_format=lambda v: f"{v:,.4g}"))
        print("\nfills per side and level")
        print(report.per_level().to_string())
        trips = {k: v for k, v in report.latency.items() if k != "feed_lag_ms"}
        if trips:
            shown = (f"{k} {v['n']} (p50 {v['p50_ms']:.3g} ms, p99 {v['p99_ms']:.3g} ms)" for k, v in trips.items())
            print("\nround trips: " + "; ".join(shown))
        lag = report.latency.get("feed_lag_ms")
        if lag:
            print(
                f"feed lag behind the venue: p50 {lag['p50']:.3g} ms, p90 {lag['p90']:.3g} ms, max {lag['max']:.3g} ms"
            )
    for note in report.notes:
        print(f"note: {note}")
    print(f"report: {Path(args.out) / 'report'}")
    return 0


def _wide_pandas() -> Any:
    import pandas as pd

    return pd.option_context("display.width", 200, "display.max_columns", 30)


SWEEP_COLUMNS = ("pnl", "spread_capture", "inventory_pnl", "fees", "fills", "max_inventory", "markout_10s_bps")


def sweep_points(grid: list[str], points: list[str]) -> tuple[dict[str, list[Any]] | None, list[dict[str, Any]] | None]:
    """``--grid KEY=V1,V2`` (every combination) or ``--point KEY=V,KEY=V`` (each one point), values read
    as ``liqkit config`` reads them (``liqkit.cli_service.parse_assignments``: keys checked)."""
    from liqkit.cli_service import parse_assignments

    if bool(grid) == bool(points):
        raise ConfigError("liqkit sweep: give --grid KEY=V1,V2 (repeat for more fields) or --point KEY=V,KEY=V")
    if grid:
        space: dict[str, list[Any]] = {}
        for item in grid:
            key, sep, raw = item.partition("=")
            key = key.strip()
            values = [v.strip() for v in raw.split(",") if v.strip()]
            if not sep or not key or not values:
                raise ConfigError(f"--grid {item!r}: write KEY=V1,V2,..., e.g. --grid model=fixed,glft")
            if key in space:
                raise ConfigError(f"--grid {key}: given twice; list all its values in one --grid {key}=V1,V2")
            space[key] = [parse_assignments([f"{key}={v}"])[key] for v in values]
        return space, None
    out = []
    for item in points:
        parts = [p.strip() for p in item.split(",") if p.strip()]
        if not parts:
            raise ConfigError(f"--point {item!r}: write KEY=V,KEY=V, e.g. --point model=glft,gamma=0.1")
        out.append(parse_assignments(parts))
    return None, out


def cmd_sweep(args: argparse.Namespace) -> int:
    """Backtest each point of a grid over the pair's settings; print the points with their metrics."""
    import json

    from liqkit.cli_service import parse_assignments
    from liqkit.data.loader import load_market_data
    from liqkit.domain.config import LiqkitConfig, PairConfig, load_config, update_pair
    from liqkit.research.sweep import sweep

    grid, points = sweep_points(args.grid or [], args.point or [])
    if args.n_jobs is not None and args.n_jobs < 1:
        raise ConfigError(f"--n-jobs: {args.n_jobs}; use 1 or more")
    cfg = load_config(args.config) if args.config else LiqkitConfig()
    data = load_market_data(args.data, symbol=args.symbol)
    base = cfg.pairs.get(data.symbol) or PairConfig(symbol=data.symbol)
    if args.set:
        base = update_pair(base, parse_assignments(args.set))
    df = sweep(data, base, grid, points=points, sim=cfg.sim, n_jobs=args.n_jobs, progress=not args.json)
    fields = list(grid) if grid else _point_keys(points)
    if args.json:
        rows = df.to_dict(orient="records")
        print(json.dumps([{k: _jsonable(v) for k, v in r.items()} for r in rows]))
        return 0
    print(f"sweep of {data.symbol} on {data.source or args.data}: {len(df)} backtests")
    print(df[[*fields, *SWEEP_COLUMNS]].to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.6g}"))
    return 0


def _point_keys(points: list[dict[str, Any]] | None) -> list[str]:
    return list(dict.fromkeys(k for p in points or [] for k in p))


def _jsonable(v: Any) -> Any:
    if hasattr(v, "item"):  # numpy scalars
        v = v.item()
    if isinstance(v, float) and v != v:  # NaN: a field a point did not set, a metric without data
        return None
    return v


def _ms(v: Any) -> str:
    return "unknown" if v is None else f"{v:+.0f} ms (exchange minus local)"


def register(subparsers: Any) -> None:
    """Add ``record`` and ``convert`` to liqkit's subcommands (``subparsers`` of ``build_parser``)."""
    rec = subparsers.add_parser("record", help="record Binance bookTicker, trade and depth streams to captures")
    rec.add_argument("--symbols", required=True, help="comma-separated, e.g. BTCUSDT,ETHUSDT")
    rec.add_argument("--out", required=True, type=Path, help="folder; each symbol gets a subfolder of .gz files")
    rec.add_argument("--duration", type=float, help="stop after this many seconds (default: run until Ctrl-C)")
    rec.add_argument(
        "--venue",
        default="binance-testnet",
        help="binance-testnet (default), binance-demo, binance-live (market data only, no keys) or a server URL "
        "such as http://127.0.0.1:8790 (a liqkit sim-server)",
    )
    rec.add_argument("--rotate", type=float, default=3600.0, help="seconds per file (default 3600: hourly)")
    rec.add_argument("--depth-limit", type=int, default=1000, help="levels of each REST depth snapshot")
    rec.set_defaults(func=cmd_record)
    conv = subparsers.add_parser("convert", help="write captures as Parquet (or Parquet back to a capture)")
    conv.add_argument("src", type=Path, help="a capture .gz file or folder, a data-portal .csv/.zip, a Parquet folder")
    conv.add_argument("--out", required=True, type=Path, help="a Parquet folder (or a .gz file from Parquet)")
    conv.add_argument("--symbol", help="keep only this symbol")
    conv.set_defaults(func=cmd_convert)
    from liqkit.cli_args import positive_seconds, seconds

    cal = subparsers.add_parser(
        "calibrate",
        help="trade live while recording, backtest the recording under each queue model, report the closest",
    )
    cal.add_argument("--config", required=True, type=Path, help="TOML config: the pairs to trade and how")
    cal.add_argument(
        "--venue",
        required=True,
        help="a liqkit sim-server URL (http://127.0.0.1:PORT), binance-testnet or binance-demo (keys from the "
        "environment or .env)",
    )
    cal.add_argument("--duration", required=True, type=positive_seconds, help="seconds of live trading")
    cal.add_argument("--out", required=True, type=Path, help="folder for the journal, recording and report")
    cal.add_argument(
        "--models",
        help="queue models to backtest, comma-separated, prob-power with its exponent (default: "
        "risk-averse,prob-log,prob-power:1,prob-power:2,prob-power:3,prob-power:4)",
    )
    cal.add_argument(
        "--tail",
        type=seconds,
        default=10.0,
        help="seconds the recording goes on after the engine stopped, for the last fills' markouts (default 10)",
    )
    cal.add_argument(
        "--keys-file",
        type=Path,
        help="API keys from this .env file alone (e.g. the sim-server-keys.env a liqkit sim-server wrote), "
        "not from the environment",
    )
    cal.add_argument("--json", action="store_true", help="print one JSON object: live, models, best, latency")
    cal.set_defaults(func=cmd_calibrate)
    sw = subparsers.add_parser("sweep", help="backtest every point of a grid over a pair's settings, side by side")
    sw.add_argument("--data", required=True, type=Path, help="the data, as `liqkit backtest --data` reads it")
    sw.add_argument("--config", type=Path, help="TOML config: its [sim] and the data's [pairs.SYMBOL] are the base")
    sw.add_argument("--symbol", help="symbol of the data when it cannot be told from the file")
    sw.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="change the base pair's setting (repeat for more)"
    )
    sw.add_argument(
        "--grid",
        action="append",
        metavar="KEY=V1,V2",
        help="a field and its values, e.g. model=fixed,glft (repeat: every combination)",
    )
    sw.add_argument(
        "--point", action="append", metavar="KEY=V,KEY=V", help="instead of --grid: one point (repeat for more)"
    )
    sw.add_argument("--n-jobs", type=int, metavar="N", help="worker processes (default: one per CPU; 1: this process)")
    sw.add_argument("--json", action="store_true", help="print one JSON list: each point's fields and all metrics")
    sw.set_defaults(func=cmd_sweep)
