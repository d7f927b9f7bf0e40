"""Open any market data liqkit knows by looking at the path."""

from __future__ import annotations

from pathlib import Path

from liqkit.data.feed import MarketData
from liqkit.domain.errors import DataError
from liqkit.domain.rules import SymbolRules

FORMATS = (
    "a capture (.gz lines '<ns> <json>') or a folder of them; "
    "the common benchmark's folder (book.npz, trades.npz); "
    "a Binance data-portal trades/aggTrades .csv or .zip; "
    "a Parquet folder written by `liqkit convert`"
)


def load_market_data(
    path: str | Path, symbol: str | None = None, rules: SymbolRules | None = None, depth: bool = True
) -> MarketData:
    """Load ``path`` whatever it holds of the formats above; DataError naming it otherwise. A capture
    (or its Parquet) with depth updates and a snapshot carries its depth (``MarketData.depth``) unless
    ``depth`` is False."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder")
    if p.is_dir():
        if (p / "book.npz").exists():
            from liqkit.data.synthetic import load_bench_data

            return load_bench_data(p, rules)
        if (p / "trades.parquet").exists():
            from liqkit.data.parquet import read_market_data

            return read_market_data(p, symbol, rules, depth)
        if any(x for x in p.glob("*.gz") if not x.name.startswith("exchangeInfo")):
            from liqkit.data.capture import read_capture

            return read_capture(p, symbol, rules, depth)
        raise DataError(f"{p}: nothing liqkit can read in this folder; it reads {FORMATS}")
    if p.suffix == ".gz":
        from liqkit.data.capture import read_capture

        return read_capture(p, symbol, rules, depth)
    if p.suffix in (".csv", ".zip"):
        from liqkit.data.portal import load_portal_trades

        return load_portal_trades(p, symbol, rules)
    raise DataError(f"{p}: unknown format; liqkit reads {FORMATS}")
