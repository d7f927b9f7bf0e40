"""Captures of Binance streams: gzip text, one record a line: ``<local receive ns> <raw JSON>``.

The JSON is a combined-stream frame ``{"stream": "btcusdt@bookTicker" | "...@trade" | "...@depth@100ms",
"data": {...}}``, or a bare REST depth answer (``{"lastUpdateId": ..., "bids": ..., "asks": ...}``)
taken when recording started. hftbacktest's collector writes the same format. Spot bookTicker frames
carry no event time: their ``ts_exchange`` is 0 and the local receive time stands.

``read_capture`` converts prices and quantities exactly to the symbol's ticks and steps, tells the
unit of the local times by magnitude (s/ms/µs/ns, see ``liqkit.data.lines``; named in ``source``
and ``meta["local_time_unit"]``), checks time order, and reports (in ``meta``) what it found: gaps in
trade ids, bookTicker ids and depth update ids, and the clock skew between the recorder and Binance
(median of trade time minus local time). When the capture has depth updates and a snapshot they can
start from, ``MarketData.depth`` holds them in sync (``liqkit.data.depth``): the simulated exchange
then keeps an L2 book; ``depth=False`` reads the top of the book only.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from liqkit.data.depth import RawDepth, floor_steps, synchronise
from liqkit.data.feed import MarketData
from liqkit.data.lines import CaptureLines, describe_units, exchange_ns
from liqkit.domain.errors import DataError
from liqkit.domain.rules import SymbolRules, default_rules

SAMPLES = Path(__file__).resolve().parent / "samples"


def capture_files(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """The capture files of a path (a file, or the ``*.gz`` of a folder by name) or of a list."""
    if isinstance(paths, (str, Path)):
        p = Path(paths)
        if p.is_dir():
            files = sorted(x for x in p.glob("*.gz") if not x.name.startswith("exchangeInfo"))
            if not files:
                raise DataError(f"{p}: no capture files (*.gz) in this folder")
            return files
        return [p]
    return [Path(x) for x in paths]


def to_grid(values: Sequence[str] | np.ndarray, unit: float, what: str, source: str) -> np.ndarray:
    """Decimal strings (or floats) to integer multiples of ``unit``; refuse values off the grid."""
    try:
        x = np.array(values, dtype=np.float64)
    except ValueError as e:
        raise DataError(f"{source}: a {what} is not a number ({e})") from None
    n = np.rint(x / unit)
    bad = np.flatnonzero(np.abs(n * unit - x) > unit * 1e-6)
    if bad.size:
        raise DataError(f"{source}: {what} {values[int(bad[0])]} is not a multiple of {unit:g}")
    return n.astype(np.int64)


class _Columns:
    def __init__(self) -> None:
        self.only = ""  # keep only this symbol's frames ("" = all)
        self.b_ts: list[int] = []
        self.b_u: list[int] = []
        self.b_bid: list[str] = []
        self.b_bq: list[str] = []
        self.b_ask: list[str] = []
        self.b_aq: list[str] = []
        self.t_ts: list[int] = []
        self.t_ex: list[int] = []
        self.t_px: list[str] = []
        self.t_q: list[str] = []
        self.t_aggr: list[int] = []
        self.t_id: list[int] = []
        self.depth_ids: list[tuple[int, int, int]] = []  # (ts, U, u)
        self.depth_updates = 0
        self.snapshot: dict[str, Any] | None = None
        self.symbols: set[str] = set()
        self.file_symbols: set[str] = set()  # the symbols of the file being read
        self.depth: RawDepth | None = RawDepth()  # None: depth not wanted


def _read_file(path: Path, cols: _Columns) -> str | None:
    """Read one file into ``cols``; return the unit its local times were written in."""
    lines = CaptureLines(path)
    cols.file_symbols = set()
    first_event = len(cols.depth) if cols.depth is not None else 0
    for lineno, ts, body in lines:
        try:
            msg = json.loads(body)
        except ValueError as e:
            raise DataError(f"{lines.src}:{lineno}: not '<ns> <json>': {e}") from None
        _take(msg, ts, cols, lines.src, lineno)
    # a REST snapshot names no symbol: it is the book of the file's only symbol, if that is the one kept
    owner = next(iter(cols.file_symbols)) if len(cols.file_symbols) == 1 else ""
    if cols.depth is not None and (not owner or (cols.only and owner != cols.only)):
        cols.depth.drop_snapshots(first_event)
    return lines.unit


def _take(msg: Any, ts: int, cols: _Columns, src: str, lineno: int) -> None:
    try:
        stream = msg.get("stream") if isinstance(msg, dict) else None
        if stream is None:
            if isinstance(msg, dict) and "lastUpdateId" in msg:
                cols.snapshot = {"ts_local": ts, **msg}
                if cols.depth is not None:
                    u = int(msg["lastUpdateId"])
                    cols.depth.add(ts, u, u, True, msg["bids"], msg["asks"])
                return
            raise DataError(f"{src}:{lineno}: not a combined-stream frame nor a depth snapshot")
        d = msg["data"]
        kind = stream.split("@", 1)[1]
        sym = stream.split("@", 1)[0].upper()
        cols.symbols.add(sym)
        cols.file_symbols.add(sym)
        if cols.only and sym != cols.only:  # a file of several symbols: keep the one asked for
            return
        if kind.lower() == "bookticker":
            cols.b_ts.append(ts)
            cols.b_u.append(int(d["u"]))
            cols.b_bid.append(d["b"])
            cols.b_bq.append(d["B"])
            cols.b_ask.append(d["a"])
            cols.b_aq.append(d["A"])
        elif kind == "trade":
            cols.t_ts.append(ts)
            cols.t_ex.append(int(d["T"]))  # ms (µs if the stream was asked for them): exchange_ns below
            cols.t_px.append(d["p"])
            cols.t_q.append(d["q"])
            cols.t_aggr.append(-1 if d["m"] else 1)  # buyer is maker: the seller took
            cols.t_id.append(int(d["t"]))
        elif kind.startswith("depth"):
            cols.depth_updates += 1
            cols.depth_ids.append((ts, int(d["U"]), int(d["u"])))
            if cols.depth is not None:
                cols.depth.add(ts, int(d["U"]), int(d["u"]), False, d["b"], d["a"])
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        raise DataError(f"{src}:{lineno}: frame lacks field {e}") from None


def read_capture(
    paths: str | Path | Iterable[str | Path],
    symbol: str | None = None,
    rules: SymbolRules | None = None,
    depth: bool = True,
) -> MarketData:
    """Read one capture file, a folder of them (by name order) or a list, as one ``MarketData``
    (with its depth in sync when it has any and ``depth``; see ``liqkit.data.depth``)."""
    files = capture_files(paths)
    cols = _Columns()
    cols.only = symbol.upper() if symbol else ""
    if not depth:
        cols.depth = None
    units = [_read_file(f, cols) for f in files]
    unit = describe_units(units)
    source = ", ".join(f.name for f in files)
    if len(cols.symbols) > 1 and symbol is None:
        raise DataError(f"{source}: several symbols ({', '.join(sorted(cols.symbols))}); pass symbol=")
    sym = (symbol or next(iter(cols.symbols), "")).upper()
    if not sym:
        raise DataError(f"{source}: no bookTicker or trade frames")
    r = rules or default_rules(sym)
    tick, step = float(r.tick), float(r.step)
    book = {
        "ts_local": np.array(cols.b_ts, np.int64),
        "ts_exchange": np.zeros(len(cols.b_ts), np.int64),
        "bid": to_grid(cols.b_bid, tick, "bid price", source),
        "bid_qty": to_grid(cols.b_bq, step, "bid quantity", source),
        "ask": to_grid(cols.b_ask, tick, "ask price", source),
        "ask_qty": to_grid(cols.b_aq, step, "ask quantity", source),
    }
    trades = {
        "ts_local": np.array(cols.t_ts, np.int64),
        "ts_exchange": exchange_ns(cols.t_ex),
        "price": to_grid(cols.t_px, tick, "trade price", source),
        "qty": to_grid(cols.t_q, step, "trade quantity", source),
        "aggressor": np.array(cols.t_aggr, np.int8),
        "trade_id": np.array(cols.t_id, np.int64),
    }
    named = f"{source} (local times in {unit})"  # the unit read, in every heading that shows the source
    report = _report(cols)
    table = None
    if cols.depth is not None and len(cols.depth):
        raw = cols.depth
        prices = to_grid(raw.price, tick, "depth price", source)
        qtys, off = floor_steps(raw.qty, step, source)
        synced = synchronise(raw, prices, qtys, source)
        table = synced.table
        report["depth_gaps"] = synced.gaps
        report["depth_notes"] = synced.notes + (
            [f"{off} depth quantities finer than the lot step, rounded down"] * (off > 0)
        )
    return MarketData.from_columns(r, book, trades, source=named, depth=table, local_time_unit=unit, **report)


def _report(cols: _Columns) -> dict[str, Any]:
    """Gaps and clock skew, reported rather than hidden."""
    gaps: list[str] = []
    tid = np.array(cols.t_id, np.int64)
    for i in np.flatnonzero(np.diff(tid) != 1)[:20]:
        gaps.append(f"trade id {tid[i]} -> {tid[i + 1]}")
    u = np.array(cols.b_u, np.int64)
    for i in np.flatnonzero(np.diff(u) <= 0)[:20]:
        gaps.append(f"bookTicker u not increasing at row {i + 1}: {u[i]} -> {u[i + 1]}")
    for (_, _, prev_u), (ts, first, _) in zip(cols.depth_ids, cols.depth_ids[1:], strict=False):
        if first != prev_u + 1:
            gaps.append(f"depth update U={first} after u={prev_u} (local ns {ts})")
            if len(gaps) > 60:
                break
    skew = None
    if cols.t_ts:
        skew = float(np.median(exchange_ns(cols.t_ex) - np.array(cols.t_ts, np.int64))) / 1e6
    return {
        "gaps": gaps,
        "clock_skew_ms": skew,  # exchange time minus local receive time, median over trades
        "depth_updates": cols.depth_updates,
        "depth_snapshot": cols.snapshot,
    }


def sample_recording_paths() -> list[Path]:
    """The real BTCUSDT capture shipped with liqkit (two files, 10 min 51 s in all)."""
    return sorted(SAMPLES.glob("btcusdt_*.gz"))


@lru_cache(maxsize=1)
def load_sample() -> MarketData:
    """The shipped BTCUSDT recording as ``MarketData`` (read once per process)."""
    return read_capture(sample_recording_paths())


class CaptureWriter:
    """Write records in the capture format (gzip, ``<ns> <raw json>`` a line)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fh = gzip.open(self.path, "wt", encoding="utf-8")  # noqa: SIM115

    def write(self, ts_local_ns: int, raw: str | dict[str, Any]) -> None:
        """Append one record: ``raw`` is the frame exactly as received (or a dict to serialise)."""
        text = raw if isinstance(raw, str) else json.dumps(raw, separators=(",", ":"))
        self._fh.write(f"{int(ts_local_ns)} {text.strip()}\n")

    def close(self) -> None:
        """Flush and close the file."""
        self._fh.close()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
