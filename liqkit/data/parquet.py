"""Captures to Parquet and back (pyarrow): a folder of ``book``, ``trades``, ``depth`` and ``other`` tables.

``liqkit convert SRC --out DIR`` writes the ``MarketFrames`` of a capture (file, folder, or a data-portal
file) as ``DIR/{book,trades,depth,other}.parquet``; the columns are those of ``liqkit.data.frames``, and
each file's schema metadata (key ``liqkit``) holds the source, the symbols and the decimals the source
wrote prices and quantities with. Nothing is dropped: ``seq`` keeps the order of the original lines, and
``write_capture`` rebuilds the capture lines from Parquet (Binance spot's 8-decimal strings come back
identical), so ``liqkit convert DIR --out file.gz`` goes the other way. Local times are told apart by
magnitude on reading (a folder converted from a µs capture by an older liqkit holds µs): ``meta``
then says ``local_time_unit``.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from liqkit.data.feed import MarketData
from liqkit.data.frames import MarketFrames, load_frames
from liqkit.data.lines import column_to_ns, describe_units
from liqkit.domain.errors import DataError
from liqkit.domain.rules import SymbolRules

TABLES = ("book", "trades", "depth", "other")
FORMAT_VERSION = 1
_KEY = b"liqkit"


def write_parquet(frames: MarketFrames, out_dir: str | Path) -> list[Path]:
    """Write ``frames`` as Parquet files in ``out_dir`` (created); return their paths."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "version": FORMAT_VERSION,
        "source": frames.source,
        "symbols": frames.symbols,
        "silence_s": frames.silence_s,
        **frames.meta,
    }
    paths = []
    for name in TABLES:
        df: pd.DataFrame = getattr(frames, name)
        table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _KEY: json.dumps(meta).encode()})
        path = out / f"{name}.parquet"
        pq.write_table(table, path, compression="zstd")
        paths.append(path)
    return paths


def read_parquet(directory: str | Path) -> MarketFrames:
    """Read a folder written by ``write_parquet`` back as ``MarketFrames``."""
    d = Path(directory)
    tables: dict[str, pd.DataFrame] = {}
    meta: dict[str, Any] = {}
    units: dict[str, str] = {}
    for name in TABLES:
        path = d / f"{name}.parquet"
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as e:
            raise DataError(f"{path}: not a liqkit Parquet table ({e})") from None
        raw = (table.schema.metadata or {}).get(_KEY)
        if raw is None:
            raise DataError(f"{path}: no liqkit metadata; write it with `liqkit convert`")
        meta = json.loads(raw)
        if meta.get("version") != FORMAT_VERSION:
            raise DataError(f"{path}: format version {meta.get('version')}; this liqkit reads {FORMAT_VERSION}")
        df = table.to_pandas()
        if "ts_local" not in df.columns:
            raise DataError(f"{path}: no ts_local column; write it with `liqkit convert`")
        ts, unit = column_to_ns(df["ts_local"].to_numpy(np.int64), "ts_local", str(path))
        if unit != "ns":  # written by a liqkit that read µs captures as ns: say so, and read them right
            df["ts_local"] = ts
            units[name] = unit
        df.index = pd.DatetimeIndex(pd.to_datetime(ts, unit="ns", utc=True), name="time")
        tables[name] = df
    source = str(meta.pop("source", d.name))
    silence = float(meta.pop("silence_s", 10.0))
    for k in ("version", "symbols"):
        meta.pop(k, None)
    if units:
        meta["local_time_unit"] = describe_units(list(units.values()))
    return MarketFrames(
        tables["book"], tables["trades"], tables["depth"], tables["other"], source or d.name, meta, silence
    )


def read_market_data(
    directory: str | Path, symbol: str | None = None, rules: SymbolRules | None = None, depth: bool = True
) -> MarketData:
    """A Parquet folder as the backtest's ``MarketData`` (one symbol; its depth in sync unless ``depth`` is False)."""
    return read_parquet(directory).to_market_data(symbol, rules, depth)


def convert(src: str | Path, out_dir: str | Path, symbol: str | None = None) -> MarketFrames:
    """Read ``src`` (capture file or folder, data-portal file) and write it as Parquet into ``out_dir``."""
    frames = load_frames(src, symbol)
    if not (len(frames.book) or len(frames.trades) or len(frames.depth)):
        raise DataError(f"{src}: no bookTicker, trade or depth frames to convert")
    write_parquet(frames, out_dir)
    return frames


# ---- back to capture lines ------------------------------------------------------------------------
def _formatter(decimals: int) -> Any:
    if decimals >= 0:
        return lambda x: f"{x:.{decimals}f}"
    return lambda x: np.format_float_positional(x, trim="-")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def capture_lines(frames: MarketFrames) -> list[tuple[int, int, str]]:
    """``(seq, local ns, line text)`` of every record, in the original line order."""
    px = _formatter(int(frames.meta.get("price_decimals", -1)))
    qx = _formatter(int(frames.meta.get("qty_decimals", -1)))
    out: list[tuple[int, int, str]] = []
    b = frames.book
    for seq, ts, stream, sym, u, bid, bq, ask, aq in zip(
        b["seq"], b["ts_local"], b["stream"], b["symbol"], b["update_id"], b["bid"], b["bid_qty"], b["ask"],
        b["ask_qty"], strict=True,
    ):  # fmt: skip
        data: dict[str, Any] = {"u": int(u), "s": sym, "b": px(bid), "B": qx(bq), "a": px(ask), "A": qx(aq)}
        out.append((int(seq), int(ts), _dumps({"stream": stream, "data": data})))
    t = frames.trades
    cols = [t[c].to_numpy() for c in ("seq", "ts_local", "stream", "symbol", "ts_exchange", "trade_id", "price")]
    cols += [t[c].to_numpy() for c in ("qty", "trade_time", "buyer_maker")]
    cols += [t[c].astype(object).to_numpy() for c in ("buyer_order_id", "seller_order_id", "best_match")]
    for seq, ts, stream, sym, ex, tid, price, qty, tt, maker, buyer, seller, best in zip(*cols, strict=True):
        tr: dict[str, Any] = {"e": "trade", "E": int(ex) // 1_000_000, "s": sym, "t": int(tid)}
        tr.update({"p": px(price), "q": qx(qty)})
        if buyer is not None and buyer is not pd.NA:
            tr["b"] = int(buyer)
        if seller is not None and seller is not pd.NA:
            tr["a"] = int(seller)
        tr.update({"T": int(tt) // 1_000_000, "m": bool(maker)})
        if best is not None and best is not pd.NA:
            tr["M"] = bool(best)
        out.append((int(seq), int(ts), _dumps({"stream": stream, "data": tr})))
    out.extend(_depth_lines(frames.depth, px, qx))
    o = frames.other
    out.extend((int(s), int(ts), str(raw)) for s, ts, raw in zip(o["seq"], o["ts_local"], o["raw"], strict=True))
    out.sort(key=lambda r: r[0])
    return out


def _depth_lines(d: pd.DataFrame, px: Any, qx: Any) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    if d.empty:
        return out
    seq = d["seq"].to_numpy(np.int64)
    starts = np.flatnonzero(np.r_[True, seq[1:] != seq[:-1]])
    ends = np.r_[starts[1:], len(seq)]
    side = d["side"].astype(str).to_numpy()
    price, qty = d["price"].to_numpy(float), d["qty"].to_numpy(float)
    ts, ex = d["ts_local"].to_numpy(np.int64), d["ts_exchange"].to_numpy(np.int64)
    first, last = d["first_id"].to_numpy(np.int64), d["last_id"].to_numpy(np.int64)
    snap, stream, sym = d["snapshot"].to_numpy(bool), d["stream"].astype(str).to_numpy(), d["symbol"].to_numpy()
    for a, z in zip(starts, ends, strict=True):
        bids = [[px(price[i]), qx(qty[i])] for i in range(a, z) if side[i] == "bid"]
        asks = [[px(price[i]), qx(qty[i])] for i in range(a, z) if side[i] == "ask"]
        if snap[a]:
            text = _dumps({"lastUpdateId": int(last[a]), "bids": bids, "asks": asks})
        else:
            data = {"e": "depthUpdate", "E": int(ex[a]) // 1_000_000, "s": sym[a], "U": int(first[a])}
            data.update({"u": int(last[a]), "b": bids, "a": asks})
            text = _dumps({"stream": stream[a], "data": data})
        out.append((int(seq[a]), int(ts[a]), text))
    return out


def write_capture(frames: MarketFrames, path: str | Path) -> Path:
    """Write ``frames`` as one capture file (gzip lines ``<local ns> <json>``)."""
    p = Path(path)
    with gzip.open(p, "wt", encoding="utf-8", compresslevel=6) as fh:
        for _, ts, text in capture_lines(frames):
            fh.write(f"{ts} {text}\n")
    return p
