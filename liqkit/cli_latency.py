"""The ``liqkit latency`` subcommands (added to liqkit's parser by ``register``).

``liqkit latency export --journal FILE | --state-dir DIR [--out FILE.csv|FILE.parquet] [--all-sessions]``
writes the order requests' round trips a journal recorded (the latest session's unless
``--all-sessions``), the file ``[sim] latency = "measured"`` replays (CSV on stdout without ``--out``).
``liqkit latency feed --data PATH [--json]`` prints the feed's latency where the data has both
exchange and local times (``liqkit.data.latency``). Bad input raises ``LiqkitError`` (liqkit's
``main`` prints one line and exits 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from liqkit.domain.errors import DataError

_SUFFIXES = (".csv", ".parquet")
CLOCK_CAVEAT = (
    "local receive minus exchange time: the feed's latency plus the offset between this machine's clock and "
    "Binance's (the level is only as good as the clock's sync; the spread, p99 - p50, holds either way)"
)


def out_file(text: str) -> Path:
    """A file to write round trips to: .csv or .parquet, in an existing folder."""
    p = Path(text).expanduser()
    if p.suffix.lower() not in _SUFFIXES:
        raise argparse.ArgumentTypeError(f"{text}: give a file ending in .csv or .parquet")
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder: give a .csv or .parquet file")
    if not p.absolute().parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: no folder {p.absolute().parent}: create it first")
    return p


def _journal_path(args: argparse.Namespace) -> Path:
    from liqkit.journal import FILE_NAME

    if args.journal is not None:
        p = Path(args.journal)
        if p.is_dir():
            raise DataError(f"--journal {p}: is a folder; give the journal file, or the folder as --state-dir")
    else:
        p = Path(args.state_dir) / FILE_NAME
    if not p.is_file():
        flag = "--journal" if args.journal is not None else "--state-dir"
        raise DataError(f"{flag} {args.journal or args.state_dir}: no journal at {p}: give a liqkit state directory")
    return p


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def cmd_export(args: argparse.Namespace) -> int:
    """Write a session's round trips; say on stderr what was written."""
    from liqkit.data.latency import export_frame, write_round_trips
    from liqkit.journal import Journal

    path = _journal_path(args)
    with Journal(path, engine_id="reader") as j:
        sessions = j.sessions()
        if not sessions:
            raise DataError(
                f"{path}: no order requests recorded (the engine sent none, or a liqkit from before round trips "
                "were journaled wrote it)"
            )
        session = None if args.all_sessions else sessions[-1]
        df = export_frame(j.requests(session))
    if args.out is None:
        df.to_csv(sys.stdout, index=False)
    else:
        write_round_trips(df, args.out)
    started = _when(int(df["ts_sent"].min()))
    which = f"all {len(sessions)} sessions (from {started})" if session is None else f"the session started {started}"
    more = (
        f" ({len(sessions)} in the journal: --all-sessions exports all)"
        if session is not None and len(sessions) > 1
        else ""
    )
    parts = []
    for kind in ("place", "cancel", "amend", "replace", "cancel_all", "query"):
        rows = df[df["kind"] == kind]
        if len(rows):
            rt = rows["round_trip_ms"]
            parts.append(f"{kind} {len(rows)} (p50 {rt.quantile(0.5):.3g} ms, p99 {rt.quantile(0.99):.3g} ms)")
    print(
        f"liqkit latency export: {len(df)} round trips of {which}{more} to {args.out or 'stdout'}: {'; '.join(parts)}",
        file=sys.stderr,
    )
    return 0


def cmd_feed(args: argparse.Namespace) -> int:
    """Print the feed latency (local minus exchange time) per source, with the clock caveat."""
    from liqkit.data.frames import load_frames
    from liqkit.data.latency import feed_latency

    p = Path(args.data)
    if not p.exists():
        raise DataError(f"--data {p}: no such file or folder")
    frames = load_frames(p, args.symbol)
    stats = feed_latency(frames)
    if not stats:
        raise DataError(
            f"--data {p}: no rows with both an exchange and a local time (trades' T, depth updates' E; bookTicker "
            "has none, data-portal files no local time): nothing to estimate"
        )
    if args.json:
        print(json.dumps({"sources": stats, "caveat": CLOCK_CAVEAT}, sort_keys=True))
        return 0
    print(f"feed latency of {frames.source or p}: {CLOCK_CAVEAT}")
    for source, s in stats.items():
        print(
            f"  {source:<6} n {s['n']:>9,}   p50 {s['p50_ms']:8.2f} ms   p99 {s['p99_ms']:8.2f} ms   "
            f"min {s['min_ms']:8.2f} ms   max {s['max_ms']:8.2f} ms"
        )
    lowest = min(s["min_ms"] for s in stats.values())
    if lowest < 0:
        print(
            f"  negative: this machine's clock was behind Binance's by at least {-lowest:.0f} ms while recording; "
            "only the spread of these figures says something of the feed"
        )
    return 0


def register(subparsers: Any) -> None:
    """Add ``latency export`` and ``latency feed`` to liqkit's subcommands."""
    from liqkit import cli_args

    lat = subparsers.add_parser(
        "latency", help="order round trips from a journal (for measured latency), and the feed's latency in data"
    )
    sub = lat.add_subparsers(
        dest="latency_command", required=True, metavar="COMMAND", help="export (round trips) or feed (its latency)"
    )
    what = 'write a session\'s order round trips (sent, answered, kind, outcome) for [sim] latency = "measured"'
    ex = sub.add_parser("export", help=what, description=what[0].upper() + what[1:] + ".")
    src = ex.add_mutually_exclusive_group(required=True)
    src.add_argument("--journal", type=Path, metavar="FILE", help="a journal file (journal.sqlite)")
    src.add_argument("--state-dir", type=cli_args.folder, metavar="DIR", help="the state directory holding it")
    ex.add_argument("--out", type=out_file, metavar="FILE", help="a .csv or .parquet file (default: CSV on stdout)")
    ex.add_argument("--all-sessions", action="store_true", help="every session's (default: the latest one's)")
    ex.set_defaults(func=cmd_export, command="latency export")
    what = "the feed's latency (local minus exchange time) in recorded data"
    fd = sub.add_parser("feed", help=what, description=f"Print {what}: {CLOCK_CAVEAT}.")
    fd.add_argument("--data", type=Path, required=True, metavar="PATH", help="captures (.gz) or a folder, Parquet")
    fd.add_argument("--symbol", metavar="SYMBOL", help="the symbol, when the data holds several")
    fd.add_argument("--json", action="store_true", help="one JSON object")
    fd.set_defaults(func=cmd_feed, command="latency feed")
