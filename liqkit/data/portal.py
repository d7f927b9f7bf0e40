"""Binance data-portal spot trades and aggTrades: header-less CSV, plain or zipped.

trades: ``tradeId, price, qty, quoteQty, time, isBuyerMaker, isBestMatch`` (7 columns);
aggTrades: ``aggTradeId, price, quantity, firstTradeId, lastTradeId, timestamp, isBuyerMaker,
isBestMatch`` (8 columns). Spot timestamps are microseconds from 2025 on, milliseconds before:
told apart per file by their digit count. A ``.CHECKSUM`` file beside a zip is verified.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from liqkit.data.capture import to_grid
from liqkit.data.feed import MarketData
from liqkit.domain.errors import DataError
from liqkit.domain.rules import SymbolRules, default_rules

_NAME = re.compile(r"^([A-Z0-9]+)-(trades|aggTrades)-", re.IGNORECASE)


def _verify_checksum(path: Path) -> None:
    side = path.with_name(path.name + ".CHECKSUM")
    if not side.exists():
        return
    want = side.read_text().split()[0].strip().lower()
    got = hashlib.sha256(path.read_bytes()).hexdigest()
    if want != got:
        raise DataError(f"{path}: sha256 {got} differs from {side.name} ({want}): the download is damaged")


def _read_text(path: Path) -> str:
    if path.suffix == ".zip":
        _verify_checksum(path)
        try:
            with zipfile.ZipFile(path) as z:
                names = [n for n in z.namelist() if n.endswith(".csv")]
                if len(names) != 1:
                    raise DataError(f"{path}: expected one .csv inside, found {names}")
                return z.read(names[0]).decode("utf-8")
        except zipfile.BadZipFile as e:
            raise DataError(f"{path}: not a zip file ({e})") from None
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None


def load_portal_trades(path: str | Path, symbol: str | None = None, rules: SymbolRules | None = None) -> MarketData:
    """Trades (or aggTrades) of one data-portal file as ``MarketData`` with an empty book."""
    p = Path(path)
    m = _NAME.match(p.name)
    sym = (symbol or (m.group(1) if m else "")).upper()
    if not sym:
        raise DataError(f"{p}: cannot tell the symbol from the file name; pass symbol=")
    text = _read_text(p)
    try:
        df = pd.read_csv(io.StringIO(text), header=None, dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(f"{p}: not a CSV file ({e})") from None
    if df.shape[1] not in (7, 8):
        raise DataError(f"{p}: {df.shape[1]} columns; data-portal trades have 7, aggTrades 8")
    if not str(df.iloc[0, 0]).isdigit():
        raise DataError(f"{p}:1: starts with a header or text ({df.iloc[0, 0]!r}); portal files have none")
    agg = df.shape[1] == 8
    ts_col, maker_col, qty_col = (5, 6, 2) if agg else (4, 5, 2)
    ts_text = df[ts_col]
    digits = ts_text.str.len()
    if not ((digits == 13) | (digits == 16)).all():
        bad = int(np.flatnonzero(~((digits == 13) | (digits == 16)).to_numpy())[0])
        raise DataError(f"{p}:{bad + 1}: timestamp {ts_text.iloc[bad]!r} is neither ms (13 digits) nor µs (16)")
    ts = ts_text.astype(np.int64).to_numpy() * np.where(digits.to_numpy() == 16, 1_000, 1_000_000)
    r = rules or default_rules(sym)
    maker = df[maker_col].str.lower().map({"true": True, "false": False})
    if maker.isna().any():
        bad = int(np.flatnonzero(maker.isna().to_numpy())[0])
        raise DataError(f"{p}:{bad + 1}: isBuyerMaker is {df[maker_col].iloc[bad]!r}, expected true/false")
    order = np.argsort(ts, kind="stable")
    trades = {
        "ts_local": ts[order],
        "ts_exchange": ts[order],
        "price": to_grid(df[1].tolist(), float(r.tick), "price", str(p))[order],
        "qty": to_grid(df[qty_col].tolist(), float(r.step), "quantity", str(p))[order],
        "aggressor": np.where(maker.to_numpy(bool), -1, 1).astype(np.int8)[order],
        "trade_id": df[0].astype(np.int64).to_numpy()[order],
    }
    empty = {k: np.zeros(0, np.int64) for k in ("ts_local", "ts_exchange", "bid", "bid_qty", "ask", "ask_qty")}
    return MarketData.from_columns(r, empty, trades, source=p.name, kind="aggTrades" if agg else "trades")
