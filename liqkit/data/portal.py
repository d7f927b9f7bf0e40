"""Binance data-portal trades and aggTrades: CSV, plain or zipped, with or without a header line.

Spot files have no header: trades ``tradeId, price, qty, quoteQty, time, isBuyerMaker, isBestMatch``
(7 columns), aggTrades ``aggTradeId, price, quantity, firstTradeId, lastTradeId, timestamp,
isBuyerMaker, isBestMatch`` (8). Futures archives start with a header line (``id,price,qty,quote_qty,
time,is_buyer_maker`` for trades, ``agg_trade_id,price,quantity,first_trade_id,last_trade_id,
transact_time,is_buyer_maker`` for aggTrades): a header is detected and its columns are found by name.
Header-less futures files (6 columns, or 7 with the time in the sixth) are read too.

Timestamps are told apart by magnitude (spot: microseconds from 2025 on, milliseconds before; any of
s/ms/µs/ns is read), and the unit read is named in ``source`` and ``meta["time_unit"]``. A
``.CHECKSUM`` file beside a zip is verified. Anything else is a DataError naming the file, the line
and the problem.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from liqkit.data.capture import to_grid
from liqkit.data.feed import MarketData
from liqkit.data.lines import UNITS, describe_units, units_to_ns, untold
from liqkit.domain.errors import DataError
from liqkit.domain.rules import SymbolRules, default_rules

_NAME = re.compile(r"^([A-Z0-9]+)-(trades|aggTrades)-", re.IGNORECASE)
# header names (lower case, no underscores) -> the column they are
_HEADER = {
    "id": ("id", "tradeid", "aggtradeid"),
    "price": ("price",),
    "qty": ("qty", "quantity"),
    "time": ("time", "timestamp", "transacttime"),
    "maker": ("isbuyermaker",),
}
_KNOWN_HEADERS = "id,price,qty,quote_qty,time,is_buyer_maker (or agg_trade_id,price,quantity,...,transact_time,...)"


def _verify_checksum(path: Path) -> None:
    side = path.with_name(path.name + ".CHECKSUM")
    if not side.exists():
        return
    words = side.read_text(encoding="utf-8", errors="replace").split()
    want = words[0].strip().lower() if words else ""
    got = hashlib.sha256(path.read_bytes()).hexdigest()
    if want != got:
        raise DataError(f"{path}: sha256 {got} differs from {side.name} ({want[:64]}): the download is damaged")


def _decode(raw: bytes, where: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{where}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}): is it a binary file?"
        ) from None
    if "\x00" in text:
        raise DataError(f"{where}: not text (NUL bytes at offset {text.index(chr(0))}): is it a binary file?")
    return text


def _read_text(path: Path) -> str:
    if path.suffix == ".zip":
        _verify_checksum(path)
        try:
            with zipfile.ZipFile(path) as z:
                names = [n for n in z.namelist() if n.endswith(".csv")]
                if len(names) != 1:
                    raise DataError(f"{path}: expected one .csv inside, found {names}")
                return _decode(z.read(names[0]), f"{path}:{names[0]}")
        except (zipfile.BadZipFile, zlib.error, EOFError) as e:
            raise DataError(f"{path}: not a zip file, or a damaged one ({e})") from None
    try:
        return _decode(path.read_bytes(), str(path))
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None


def _columns(p: Path, df: pd.DataFrame, header: list[str] | None) -> tuple[dict[str, int], bool]:
    """Where id, price, qty, time and maker are, and whether the file holds aggTrades."""
    if header is not None:
        names = [re.sub(r"[^a-z]", "", h.lower()) for h in header]
        found = {col: next((i for i, n in enumerate(names) if n in alts), -1) for col, alts in _HEADER.items()}
        missing = [col for col, i in found.items() if i < 0]
        if missing:
            raise DataError(
                f"{p}:1: a header line without {', '.join(missing)} ({','.join(header)[:120]}); "
                f"data-portal headers are {_KNOWN_HEADERS}"
            )
        return found, "firsttradeid" in names or names[found["id"]] == "aggtradeid"
    n = df.shape[1]
    if n == 8:  # spot aggTrades
        return {"id": 0, "price": 1, "qty": 2, "time": 5, "maker": 6}, True
    if n == 7 and str(df.iloc[0, 5]).isdigit():  # futures aggTrades: the time in the sixth column
        return {"id": 0, "price": 1, "qty": 2, "time": 5, "maker": 6}, True
    if n == 7:  # spot trades
        return {"id": 0, "price": 1, "qty": 2, "time": 4, "maker": 5}, False
    if n == 6:  # futures trades
        return {"id": 0, "price": 1, "qty": 2, "time": 4, "maker": 5}, False
    raise DataError(f"{p}: {n} columns; data-portal trades have 7 (futures 6), aggTrades 8 (futures 7)")


def _first_bad(ok: pd.Series | np.ndarray) -> int | None:
    bad = np.flatnonzero(~np.asarray(ok, bool))
    return int(bad[0]) if bad.size else None


def load_portal_trades(path: str | Path, symbol: str | None = None, rules: SymbolRules | None = None) -> MarketData:
    """Trades (or aggTrades) of one data-portal file as ``MarketData`` with an empty book."""
    p = Path(path)
    m = _NAME.match(p.name)
    sym = (symbol or (m.group(1) if m else "")).upper()
    if not sym:
        raise DataError(f"{p}: cannot tell the symbol from the file name; pass symbol=")
    text = _read_text(p)
    first = text.split("\n", 1)[0].strip()
    has_header = bool(first) and not first.split(",", 1)[0].strip().isdigit()
    if has_header and not re.search(r"[A-Za-z]", first.split(",", 1)[0]):
        raise DataError(f"{p}:1: {first[:60]!r} is neither a header nor a trade (its first field is not an id)")
    try:
        df = pd.read_csv(io.StringIO(text), header=None, dtype=str, skiprows=1 if has_header else 0)
    except pd.errors.EmptyDataError:
        raise DataError(f"{p}: no trades in this file" if has_header else f"{p}: empty file") from None
    except pd.errors.ParserError as e:
        detail = str(e).removeprefix("Error tokenizing data. C error: ").strip()
        raise DataError(f"{p}: not a data-portal CSV ({detail})") from None
    header = [h.strip() for h in first.split(",")] if has_header else None
    cols, agg = _columns(p, df, header)
    skip = 2 if has_header else 1  # row i of df is line i + skip of the file

    def line(i: int) -> str:
        return f"{p}:{i + skip}"

    if df.shape[1] <= max(cols.values()):
        raise DataError(f"{p}: {df.shape[1]} columns, but the header names column {max(cols.values()) + 1}")
    ids = df[cols["id"]].str.strip()
    bad = _first_bad(ids.str.isdigit().fillna(False))
    if bad is not None:
        what = "a missing field" if pd.isna(ids.iloc[bad]) else f"trade id {str(ids.iloc[bad])[:30]!r} is not a number"
        raise DataError(f"{line(bad)}: {what}")
    for col in ("price", "qty"):
        num = pd.to_numeric(df[cols[col]], errors="coerce")
        bad = _first_bad(num.notna() & (num >= 0))
        if bad is not None:
            raise DataError(f"{line(bad)}: {col} {str(df[cols[col]].iloc[bad])[:30]!r} is not a number >= 0")
    ts_text = df[cols["time"]].str.strip()
    bad = _first_bad(ts_text.str.isdigit().fillna(False) & (ts_text.str.len() <= 19))
    if bad is not None:
        raise DataError(f"{line(bad)}: timestamp {str(ts_text.iloc[bad])[:30]!r} is not a whole number")
    raw_ts = ts_text.astype(np.int64).to_numpy()
    factor, ok = units_to_ns(raw_ts)
    bad = _first_bad(ok)
    if bad is not None:
        raise DataError(f"{line(bad)}: timestamp {untold(int(raw_ts[bad]))} (portal files use ms or µs)")
    ts = raw_ts * factor
    unit = describe_units([name for name, f in UNITS if (factor == f).any()])
    r = rules or default_rules(sym)
    maker = df[cols["maker"]].str.strip().str.lower().map({"true": True, "false": False})
    bad = _first_bad(maker.notna())
    if bad is not None:
        raise DataError(f"{line(bad)}: isBuyerMaker is {df[cols['maker']].iloc[bad]!r}, expected true/false")
    order = np.argsort(ts, kind="stable")
    trades = {
        "ts_local": ts[order],
        "ts_exchange": ts[order],
        "price": to_grid(df[cols["price"]].tolist(), float(r.tick), "price", str(p))[order],
        "qty": to_grid(df[cols["qty"]].tolist(), float(r.step), "quantity", str(p))[order],
        "aggressor": np.where(maker.to_numpy(bool), -1, 1).astype(np.int8)[order],
        "trade_id": ids.astype(np.int64).to_numpy()[order],
    }
    empty = {k: np.zeros(0, np.int64) for k in ("ts_local", "ts_exchange", "bid", "bid_qty", "ask", "ask_qty")}
    return MarketData.from_columns(
        r,
        empty,
        trades,
        source=f"{p.name} (times in {unit})",
        kind="aggTrades" if agg else "trades",
        time_unit=unit,
        header=header is not None,
    )
