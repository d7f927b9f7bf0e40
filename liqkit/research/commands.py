"""The ``liqkit record`` and ``liqkit convert`` subcommands (added to liqkit's parser by ``register``).

``liqkit record --symbols BTCUSDT,ETHUSDT --out DIR [--duration S] [--venue binance-testnet|binance-live|URL]``
records bookTicker, trade and depth streams into captures (see ``liqkit.data.record``).
``liqkit convert SRC --out DEST`` writes a capture (file or folder) or a data-portal file as a Parquet
folder, or a Parquet folder back to one capture file when DEST ends in ``.gz``.
Bad input raises ``LiqkitError`` (liqkit's ``main`` prints one message and exits 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from liqkit.domain.errors import ConfigError, DataError


def cmd_record(args: argparse.Namespace) -> int:
    """Record market streams until Ctrl-C or ``--duration``, then print what was written."""
    from liqkit.data.record import record

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
        help="binance-testnet (default), binance-live (market data only, no keys) or a server URL "
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
