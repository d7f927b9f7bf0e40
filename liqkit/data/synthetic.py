"""Synthetic market data: a seeded feed for any symbol, and the common benchmark's data files."""

from __future__ import annotations

import zipfile
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

import numpy as np

from liqkit.data.feed import MarketData
from liqkit.data.lines import column_to_ns
from liqkit.domain.errors import DataError
from liqkit.domain.rules import SymbolRules, default_rules
from liqkit.domain.types import Side

_START_PRICES = {"BTCUSDT": "60000", "ETHUSDT": "3000", "BNBUSDT": "500", "SOLUSDT": "150"}


def synthetic_feed(
    symbol: str = "BTCUSDT",
    *,
    seconds: float = 600,
    seed: int = 7,
    rules: SymbolRules | None = None,
    start_price: str | None = None,
    events_per_s: float = 50,
    trade_rate: float = 0.2,
    volatility_bps: float = 1.0,
    start_ns: int = 1_704_067_200_000_000_000,
) -> MarketData:
    """A deterministic book-and-trades feed: the same seed gives the same arrays.

    The mid follows a random walk (``volatility_bps`` a second, in bps), the spread is 1-3 ticks,
    sizes lie on the step grid above the minimum quantity, and about ``trade_rate`` trades per book
    update hit the touch with a random aggressor.
    """
    r = rules or default_rules(symbol)
    rng = np.random.default_rng(seed)
    n = max(2, int(seconds * events_per_s))
    gaps = rng.exponential(1e9 / events_per_s, n).astype(np.int64) + 2
    gaps[0] = 0
    ts = start_ns + np.cumsum(gaps)
    p0 = r.price_to_ticks(Decimal(start_price or _START_PRICES.get(r.symbol, "100")), Side.BUY)
    sigma_ticks = p0 * volatility_bps * 1e-4 / np.sqrt(events_per_s)
    steps = np.rint(rng.normal(0, sigma_ticks, n)).astype(np.int64)
    steps[0] = 0
    bid = np.maximum(p0 + np.cumsum(steps), 1)
    ask = bid + rng.choice(np.array([1, 2, 3]), size=n, p=[0.6, 0.3, 0.1])
    lo = max(r.min_qty_steps, 1)
    qty_b = np.maximum(np.rint(rng.lognormal(np.log(lo * 50), 1.0, n)), lo).astype(np.int64)
    qty_a = np.maximum(np.rint(rng.lognormal(np.log(lo * 50), 1.0, n)), lo).astype(np.int64)
    per = rng.poisson(trade_rate, n - 1)
    at = np.repeat(np.arange(n - 1), per)
    span = ts[at + 1] - ts[at] - 1
    t_ts = ts[at] + 1 + (rng.random(at.size) * np.maximum(span - 1, 1)).astype(np.int64)
    side = np.where(rng.random(at.size) < 0.5, 1, -1).astype(np.int8)
    t_px = np.where(side > 0, ask[at], bid[at])
    t_q = np.maximum(np.rint(rng.lognormal(np.log(lo * 5), 1.2, at.size)), lo).astype(np.int64)
    order = np.argsort(t_ts, kind="stable")
    book = {"ts_local": ts, "ts_exchange": ts, "bid": bid, "bid_qty": qty_b, "ask": ask, "ask_qty": qty_a}
    trades = {
        "ts_local": t_ts[order],
        "ts_exchange": t_ts[order],
        "price": t_px[order],
        "qty": t_q[order],
        "aggressor": side[order],
        "trade_id": np.arange(1, at.size + 1, dtype=np.int64),
    }
    return MarketData.from_columns(r, book, trades, source=f"synthetic {r.symbol} seed={seed}", seed=seed)


def load_bench_data(directory: str | Path, rules: SymbolRules | None = None) -> MarketData:
    """The common benchmark's data (``book.npz``/``trades.npz`` from ``../shared/bench/gen_data.py``).

    Reads only the columns it uses, straight into their arrays, and converts quantities in place:
    the file's floats never exist twice (the whole benchmark is 1.2 M rows).
    """
    d = Path(directory)
    try:
        b = _npz_columns(d / "book.npz", ("ts", "bid_tick", "ask_tick", "bid_qty", "ask_qty"))
        t = _npz_columns(d / "trades.npz", ("ts", "tick", "qty", "side"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
        raise DataError(f"{d}: not the common benchmark's data (book.npz, trades.npz): {e}") from None
    r = rules or default_rules("BTCUSDT")
    step = float(r.step)
    b["ts"], unit = column_to_ns(b["ts"], "ts", str(d / "book.npz"))  # told by magnitude, as captures are
    t["ts"], _ = column_to_ns(t["ts"], "ts", str(d / "trades.npz"))
    book = {
        "ts_local": b["ts"],
        "ts_exchange": b["ts"],
        "bid": b["bid_tick"],
        "ask": b["ask_tick"],
        "bid_qty": _steps(b.pop("bid_qty"), step),
        "ask_qty": _steps(b.pop("ask_qty"), step),
    }
    trades = {
        "ts_local": t["ts"],
        "ts_exchange": t["ts"],
        "price": t["tick"],
        "qty": _steps(t.pop("qty"), step),
        "aggressor": t["side"],
        "trade_id": np.arange(1, len(t["ts"]) + 1, dtype=np.int64),
    }
    return MarketData.from_columns(r, book, trades, source=f"bench data {d} (times in {unit})", time_unit=unit)


def _steps(qty: np.ndarray, step: float) -> np.ndarray:
    """Quantities in lot steps, rounded to the nearest (in place: ``qty`` is consumed)."""
    q = qty if qty.dtype == np.float64 and qty.flags.writeable else qty.astype(np.float64)
    np.divide(q, step, out=q)
    np.rint(q, out=q)
    return q.astype(np.int64)


def _npz_columns(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Arrays ``names`` of an ``.npz`` file. Members stored uncompressed (as ``np.savez`` writes them)
    are read straight from the file into their arrays; others through ``np.load``."""
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as zf, open(path, "rb") as fh:
        for name in names:
            info = zf.getinfo(f"{name}.npy")  # KeyError names the missing column
            arr = _stored_array(fh, info) if info.compress_type == zipfile.ZIP_STORED else None
            if arr is None:
                with zf.open(info) as member:
                    arr = np.lib.format.read_array(member, allow_pickle=False)
            out[name] = arr
    return out


def _stored_array(fh: BinaryIO, info: zipfile.ZipInfo) -> np.ndarray | None:
    """The ``.npy`` member ``info`` read in place from ``fh``; None when its layout is not a plain
    C-order array of numbers (then ``np.load`` reads it)."""
    fh.seek(info.header_offset)
    local = fh.read(30)  # the local file header: its name and extra field lengths are at 26 and 28
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        return None
    fh.seek(int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little"), 1)
    fmt = np.lib.format
    version = fmt.read_magic(fh)
    shape, fortran, dtype = fmt.read_array_header_1_0(fh) if version == (1, 0) else fmt.read_array_header_2_0(fh)
    if fortran or dtype.hasobject or len(shape) != 1:
        return None
    arr = np.fromfile(fh, dtype=dtype, count=shape[0])
    if len(arr) != shape[0]:
        raise ValueError(f"{info.filename} is truncated")
    return arr
