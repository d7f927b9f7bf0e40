"""Market data as pandas DataFrames for research: book tops, trades and depth, with gaps and clock skew.

``load_frames(path)`` reads a capture (gzip lines ``<local receive ns> <raw JSON>``: a file, a folder or a
list), a Binance data-portal trades/aggTrades ``.csv``/``.zip`` (checksum verified when a ``.CHECKSUM`` is
beside it), or a Parquet folder written by ``liqkit convert``, and returns ``MarketFrames``:

- ``book``:   a row per bookTicker: ``ts_local, update_id, bid, bid_qty, ask, ask_qty``
- ``trades``: a row per trade: ``ts_local, ts_exchange`` (event time E, ns), ``trade_time`` (T, ns),
  ``trade_id, price, qty, aggressor`` (+1 the buyer took, -1 the seller took), ``buyer_maker, best_match``
- ``depth``:  a row per level of a diff-depth update or of a REST snapshot: ``ts_local, ts_exchange,
  first_id`` (U), ``last_id`` (u; a snapshot's lastUpdateId), ``side`` ("bid"/"ask"), ``price, qty``
  (0 removes the level), ``snapshot`` (bool)
- ``other``:  lines not decoded above (gap markers of ``liqkit record``, unknown streams), kept raw

Each table also has ``symbol``, ``stream`` (the frame's stream name) and ``seq`` (the line's position in
the capture, so mixed lines can be put back in order); its index is the local receive time (UTC).
Prices and quantities are floats in exchange units: this module is for looking at data, the backtest
reads integers (``to_market_data``). What is missing is reported in ``gaps`` and the local clock's
offset from Binance's in ``skew``, never hidden.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from liqkit.data.capture import capture_files, to_grid
from liqkit.data.depth import RawDepth, floor_steps, synchronise
from liqkit.data.feed import MarketData
from liqkit.data.lines import CaptureLines, describe_units, exchange_ns
from liqkit.domain.errors import DataError
from liqkit.domain.rules import SymbolRules, default_rules

GAP_STREAM = "liqkitGap"  # stream kind of the gap markers ``liqkit record`` writes: ``<sym>@liqkitGap``
GAP_COLUMNS = ["kind", "symbol", "start_ns", "end_ns", "missing", "detail"]
_FORMATS = "a capture (.gz), a folder of captures, a data-portal .csv/.zip, or a Parquet folder"


def _index(ts: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(np.asarray(ts, np.int64), unit="ns", utc=True), name="time")


def _table(cols: dict[str, Any]) -> pd.DataFrame:
    df = pd.DataFrame(cols)
    df.index = _index(df["ts_local"].to_numpy(np.int64))
    return df


@dataclass(frozen=True)
class MarketFrames:
    """Book tops, trades and depth of one or more symbols as DataFrames, with gaps and clock skew."""

    book: pd.DataFrame
    trades: pd.DataFrame
    depth: pd.DataFrame
    other: pd.DataFrame
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    silence_s: float = 10.0

    @property
    def symbols(self) -> list[str]:
        """The symbols present (sorted)."""
        found: set[str] = set()
        for df in (self.book, self.trades, self.depth):
            found.update(str(s) for s in pd.unique(df["symbol"]) if s)
        return sorted(found)

    def for_symbol(self, symbol: str) -> MarketFrames:
        """Only the rows of ``symbol``."""
        sym = symbol.upper()
        if sym not in self.symbols:
            raise DataError(f"{self.source}: no data for {sym}; it holds {', '.join(self.symbols) or 'nothing'}")

        def keep(df: pd.DataFrame) -> pd.DataFrame:
            return df[df["symbol"] == sym]

        other = self.other[self.other["stream"].str.upper().str.startswith(sym.upper() + "@")]
        return replace(self, book=keep(self.book), trades=keep(self.trades), depth=keep(self.depth), other=other)

    def slice_time(self, start: Any = None, end: Any = None) -> MarketFrames:
        """Rows with ``start <= time < end`` (anything ``pd.Timestamp`` takes; naive means UTC)."""

        def ns(t: Any) -> int | None:
            if t is None:
                return None
            ts = pd.Timestamp(t)
            return int((ts.tz_localize("UTC") if ts.tzinfo is None else ts).value)

        lo, hi = ns(start), ns(end)

        def cut(df: pd.DataFrame) -> pd.DataFrame:
            t = df["ts_local"].to_numpy(np.int64)
            ok = np.ones(len(t), bool)
            if lo is not None:
                ok &= t >= lo
            if hi is not None:
                ok &= t < hi
            return df[ok]

        return replace(self, book=cut(self.book), trades=cut(self.trades), depth=cut(self.depth), other=cut(self.other))

    @property
    def gaps(self) -> pd.DataFrame:
        """What is missing or wrong: id jumps, gap markers, silences, local time going backwards."""
        return find_gaps(self, self.silence_s)

    @property
    def skew(self) -> pd.DataFrame:
        """Exchange event time minus local receive time, in ms, for every trade and depth update."""
        return clock_skew(self)

    def skew_summary(self) -> dict[str, float | None]:
        """Median, 5th and 95th percentile of the skew (ms) and its drift (ms per hour); None without data."""
        s = self.skew
        if s.empty:
            return {"median_ms": None, "p05_ms": None, "p95_ms": None, "drift_ms_per_h": None}
        v = s["skew_ms"].to_numpy(float)
        t = s["ts_local"].to_numpy(np.int64)
        drift = None
        if len(v) > 2 and t[-1] > t[0]:
            hours = (t - t[0]) / 3.6e12
            drift = float(np.polyfit(hours, v, 1)[0])
        return {
            "median_ms": float(np.median(v)),
            "p05_ms": float(np.percentile(v, 5)),
            "p95_ms": float(np.percentile(v, 95)),
            "drift_ms_per_h": drift,
        }

    def summary(self) -> pd.Series:
        """Counts, time span, gaps and skew at a glance."""
        ts = [df["ts_local"].to_numpy(np.int64) for df in (self.book, self.trades, self.depth) if len(df)]
        start = min(int(t[0]) for t in ts) if ts else None
        end = max(int(t[-1]) for t in ts) if ts else None
        depth = self.depth
        return pd.Series(
            {
                "source": self.source,
                "symbols": ", ".join(self.symbols),
                "start": pd.Timestamp(start, unit="ns", tz="UTC") if start is not None else None,
                "end": pd.Timestamp(end, unit="ns", tz="UTC") if end is not None else None,
                "duration_s": (end - start) / 1e9 if start is not None and end is not None else 0.0,
                "book_rows": len(self.book),
                "trades": len(self.trades),
                "depth_updates": int(depth.loc[~depth["snapshot"], "seq"].nunique()),
                "depth_snapshots": int(depth.loc[depth["snapshot"], "seq"].nunique()),
                "gaps": len(self.gaps),
                **{f"skew_{k}": v for k, v in self.skew_summary().items()},
            }
        )

    def to_market_data(
        self, symbol: str | None = None, rules: SymbolRules | None = None, depth: bool = True
    ) -> MarketData:
        """The backtest's integer input for one symbol (prices in ticks, quantities in steps), with its
        depth in sync when it has any and ``depth`` (``liqkit.data.depth``, as ``read_capture`` does)."""
        syms = self.symbols
        if symbol is None and len(syms) != 1:
            raise DataError(f"{self.source}: several symbols ({', '.join(syms)}); pass symbol=")
        f = self.for_symbol(symbol or syms[0])
        r = rules or default_rules(f.symbols[0])
        tick, step = float(r.tick), float(r.step)
        b, t = f.book, f.trades
        book = {
            "ts_local": b["ts_local"].to_numpy(np.int64),
            "ts_exchange": np.zeros(len(b), np.int64),
            "bid": to_grid(b["bid"].to_numpy(float), tick, "bid", f.source),
            "bid_qty": to_grid(b["bid_qty"].to_numpy(float), step, "bid_qty", f.source),
            "ask": to_grid(b["ask"].to_numpy(float), tick, "ask", f.source),
            "ask_qty": to_grid(b["ask_qty"].to_numpy(float), step, "ask_qty", f.source),
        }
        trades = {
            "ts_local": t["ts_local"].to_numpy(np.int64),
            "ts_exchange": t["trade_time"].to_numpy(np.int64),
            "price": to_grid(t["price"].to_numpy(float), tick, "trade price", f.source),
            "qty": to_grid(t["qty"].to_numpy(float), step, "trade qty", f.source),
            "aggressor": t["aggressor"].to_numpy(np.int8),
            "trade_id": t["trade_id"].to_numpy(np.int64),
        }
        snaps = f.depth[f.depth["snapshot"]]
        snapshot = None
        if len(snaps):
            first = snaps[snaps["seq"] == snaps["seq"].iloc[0]]
            snapshot = {"ts_local": int(first["ts_local"].iloc[0]), "lastUpdateId": int(first["last_id"].iloc[0])}
        gaps = f.gaps
        unit = f.meta.get("local_time_unit") or f.meta.get("time_unit")
        extra: dict[str, Any] = {}
        table = None
        if depth and len(f.depth):
            synced = _synced_depth(f.depth, tick, step, f.source)
            table = synced.table
            extra = {"depth_gaps": synced.gaps, "depth_notes": synced.notes}
        return MarketData.from_columns(
            r,
            book,
            trades,
            source=f"{f.source} (local times in {unit})" if unit and "times in" not in f.source else f.source,
            depth=table,
            **extra,
            local_time_unit=unit,
            gaps=[f"{k}: {d}" for k, d in zip(gaps["kind"], gaps["detail"], strict=True)],
            clock_skew_ms=f.skew_summary()["median_ms"],
            depth_updates=int(f.depth.loc[~f.depth["snapshot"], "seq"].nunique()),
            depth_snapshot=snapshot,
        )


def _synced_depth(depth: pd.DataFrame, tick: float, step: float, source: str) -> Any:
    """The depth table's events (one per ``seq``, in line order) put in sync (``liqkit.data.depth``)."""
    d = depth.sort_values("seq", kind="stable")
    seq = d["seq"].to_numpy(np.int64)
    heads = np.flatnonzero(np.concatenate([[True], seq[1:] != seq[:-1]]))
    raw = RawDepth()
    raw.ts = d["ts_local"].to_numpy(np.int64)[heads].tolist()
    raw.first = d["first_id"].to_numpy(np.int64)[heads].tolist()
    raw.last = d["last_id"].to_numpy(np.int64)[heads].tolist()
    raw.snap = d["snapshot"].to_numpy(bool)[heads].tolist()
    side = d["side"].astype(str).to_numpy()
    named = side != ""  # an event that changed no level has one row naming none
    event = np.cumsum(np.concatenate([[True], seq[1:] != seq[:-1]])) - 1
    raw.level_event = event[named].tolist()
    raw.side = np.where(side[named] == "bid", 1, -1).tolist()
    prices = to_grid(d["price"].to_numpy(float)[named], tick, "depth price", source)
    qtys, off = floor_steps(d["qty"].to_numpy(float)[named], step, source)
    synced = synchronise(raw, prices, qtys, source)
    if off:
        synced.notes.append(f"{off} depth quantities finer than the lot step, rounded down")
    return synced


# ---- captures -------------------------------------------------------------------------------------


class _Rows:
    """Column lists filled line by line."""

    def __init__(self) -> None:
        self.book: dict[str, list[Any]] = {k: [] for k in ("seq", "ts_local", "symbol", "stream", "update_id")}
        self.book_px: dict[str, list[str]] = {k: [] for k in ("bid", "bid_qty", "ask", "ask_qty")}
        self.trades: dict[str, list[Any]] = {
            k: []
            for k in (
                "seq",
                "ts_local",
                "symbol",
                "stream",
                "ts_exchange",
                "trade_time",
                "trade_id",
                "buyer_maker",
                "best_match",
                "buyer_order_id",
                "seller_order_id",
            )
        }
        self.trades_px: dict[str, list[str]] = {"price": [], "qty": []}
        self.depth: dict[str, list[Any]] = {
            k: []
            for k in ("seq", "ts_local", "symbol", "stream", "ts_exchange", "first_id", "last_id", "side", "snapshot")
        }
        self.depth_px: dict[str, list[str]] = {"price": [], "qty": []}
        self.other: dict[str, list[Any]] = {k: [] for k in ("seq", "ts_local", "stream", "raw")}
        self.seq = 0
        self.seen: set[str] = set()  # every symbol met, kept or not

    def levels(
        self, ts: int, sym: str | None, stream: str, ex: int, first: int, last: int, d: dict[str, Any], snap: bool
    ) -> None:
        bids, asks = (d["bids"], d["asks"]) if snap else (d["b"], d["a"])
        n = 0
        for side, rows in (("bid", bids), ("ask", asks)):
            for px, qty in rows:
                self.depth_px["price"].append(px)
                self.depth_px["qty"].append(qty)
                self.depth["side"].append(side)
                n += 1
        if n == 0:  # an update that changes nothing still advances the ids: keep it
            self.depth_px["price"].append("nan")
            self.depth_px["qty"].append("nan")
            self.depth["side"].append("")
            n = 1
        for k, v in (
            ("seq", self.seq),
            ("ts_local", ts),
            ("symbol", sym),
            ("stream", stream),
            ("ts_exchange", ex),
            ("first_id", first),
            ("last_id", last),
            ("snapshot", snap),
        ):
            self.depth[k].extend([v] * n)


def _read_one(path: Path, rows: _Rows, symbol: str | None) -> str | None:
    """Read one capture file into ``rows``; return the unit its local times were written in."""
    snaps_from = len(rows.depth["seq"])
    seen: set[str] = set()
    lines = CaptureLines(path)
    src = lines.src
    for lineno, ts, body in lines:
        try:
            msg = json.loads(body)
        except ValueError as e:
            raise DataError(f"{src}:{lineno}: not '<ns> <json>': {e}") from None
        rows.seq += 1
        try:
            sym = _take(rows, ts, msg, body.strip(), symbol)
        except DataError as e:
            raise DataError(f"{src}:{lineno}: {e}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise DataError(f"{src}:{lineno}: frame lacks or garbles field {e}") from None
        if sym:
            seen.add(sym)
            rows.seen.add(sym)
    # a REST snapshot names no symbol: it belongs to the file's only symbol
    owner = next(iter(seen)) if len(seen) == 1 else ""
    if symbol and owner != symbol.upper():
        owner = "-"  # another symbol's snapshot: dropped below
    syms = rows.depth["symbol"]
    for i in range(snaps_from, len(syms)):
        if syms[i] is None:
            syms[i] = owner
    return lines.unit


def _take(rows: _Rows, ts: int, msg: Any, body: str, symbol: str | None) -> str:
    if not isinstance(msg, dict):
        raise DataError("not a JSON object") from None
    stream = msg.get("stream")
    if stream is None:
        if "lastUpdateId" not in msg:
            raise DataError("not a combined-stream frame nor a depth snapshot")
        u = int(msg["lastUpdateId"])
        rows.levels(ts, None, "", 0, u, u, msg, True)
        return ""
    name, _, kind = str(stream).partition("@")
    sym = name.upper()
    kl = kind.lower()
    if symbol and sym != symbol.upper():
        return sym
    d = msg["data"]
    if kl == "bookticker":
        b = rows.book
        b["seq"].append(rows.seq)
        b["ts_local"].append(ts)
        b["symbol"].append(sym)
        b["stream"].append(stream)
        b["update_id"].append(int(d["u"]))
        for k, src in (("bid", "b"), ("bid_qty", "B"), ("ask", "a"), ("ask_qty", "A")):
            rows.book_px[k].append(d[src])
    elif kl == "trade":
        t = rows.trades
        for k, v in (
            ("seq", rows.seq),
            ("ts_local", ts),
            ("symbol", sym),
            ("stream", stream),
            ("ts_exchange", int(d["E"])),  # ms (or µs): exchange_ns when the table is built
            ("trade_time", int(d["T"])),
            ("trade_id", int(d["t"])),
            ("buyer_maker", bool(d["m"])),
            ("best_match", d.get("M")),
            ("buyer_order_id", d.get("b")),
            ("seller_order_id", d.get("a")),
        ):
            t[k].append(v)
        rows.trades_px["price"].append(d["p"])
        rows.trades_px["qty"].append(d["q"])
    elif kl.startswith("depth") and "U" in d:
        rows.levels(ts, sym, stream, int(d["E"]), int(d["U"]), int(d["u"]), d, False)
    else:
        o = rows.other
        o["seq"].append(rows.seq)
        o["ts_local"].append(ts)
        o["stream"].append(stream)
        o["raw"].append(body)
    return sym


def _decimals(values: list[str]) -> int:
    """Digits after the point shared by every value (Binance spot sends 8), or -1 when they differ."""
    s = pd.Series(values, dtype=object).astype(str)
    s = s[s != "nan"]
    if s.empty:
        return -1
    dot = s.str.find(".")
    n = np.where(dot.to_numpy() < 0, 0, s.str.len().to_numpy() - dot.to_numpy() - 1)
    return int(n[0]) if (n == n[0]).all() else -1


def _floats(values: list[str], what: str, source: str) -> np.ndarray:
    try:
        return np.array(values, dtype=np.float64)
    except ValueError as e:
        raise DataError(f"{source}: a {what} is not a number ({e})") from None


def read_capture_frames(
    paths: str | Path | Iterable[str | Path], symbol: str | None = None, silence_s: float = 10.0
) -> MarketFrames:
    """Read captures (one file, a folder by name order, or a list) as ``MarketFrames``.

    ``symbol`` keeps only that symbol's frames. ``silence_s``: a stretch without any line longer
    than this is reported as a gap.
    """
    files = capture_files(paths)
    rows = _Rows()
    unit = describe_units([_read_one(f, rows, symbol) for f in files])
    source = ", ".join(f.name for f in files)
    if symbol and rows.seen and symbol.upper() not in rows.seen:
        raise DataError(f"{source}: no data for {symbol.upper()}; it holds {', '.join(sorted(rows.seen))}")
    prices = rows.book_px["bid"] + rows.book_px["ask"] + rows.trades_px["price"] + rows.depth_px["price"]
    qtys = rows.book_px["bid_qty"] + rows.book_px["ask_qty"] + rows.trades_px["qty"] + rows.depth_px["qty"]
    book = _table(
        {
            **{k: np.array(v, np.int64) for k, v in rows.book.items() if k in ("seq", "ts_local", "update_id")},
            **{k: _floats(v, k, source) for k, v in rows.book_px.items()},
            "symbol": pd.Categorical(rows.book["symbol"]),
            "stream": pd.Categorical(rows.book["stream"]),
        }
    )
    t = rows.trades
    buyer_maker = np.array(t["buyer_maker"], bool)
    trades = _table(
        {
            **{k: np.array(t[k], np.int64) for k in ("seq", "ts_local", "trade_id")},
            **{k: exchange_ns(t[k]) for k in ("ts_exchange", "trade_time")},
            "price": _floats(rows.trades_px["price"], "trade price", source),
            "qty": _floats(rows.trades_px["qty"], "trade quantity", source),
            "aggressor": np.where(buyer_maker, -1, 1).astype(np.int8),
            "buyer_maker": buyer_maker,
            "best_match": pd.array(t["best_match"], dtype="boolean"),
            "buyer_order_id": pd.array(t["buyer_order_id"], dtype="Int64"),
            "seller_order_id": pd.array(t["seller_order_id"], dtype="Int64"),
            "symbol": pd.Categorical(t["symbol"]),
            "stream": pd.Categorical(t["stream"]),
        }
    )
    d = rows.depth
    depth = _table(
        {
            **{k: np.array(d[k], np.int64) for k in ("seq", "ts_local", "first_id", "last_id")},
            "ts_exchange": exchange_ns(d["ts_exchange"]),  # a snapshot's 0 stays 0
            "side": pd.Categorical(d["side"]),
            "price": _floats(rows.depth_px["price"], "depth price", source),
            "qty": _floats(rows.depth_px["qty"], "depth quantity", source),
            "snapshot": np.array(d["snapshot"], bool),
            "symbol": pd.Categorical(d["symbol"]),
            "stream": pd.Categorical(d["stream"]),
        }
    )
    depth = depth[depth["symbol"] != "-"]
    other = _table(
        {
            "seq": np.array(rows.other["seq"], np.int64),
            "ts_local": np.array(rows.other["ts_local"], np.int64),
            "stream": pd.array(rows.other["stream"], dtype=object),
            "raw": pd.array(rows.other["raw"], dtype=object),
        }
    )
    meta = {"kind": "capture", "price_decimals": _decimals(prices), "qty_decimals": _decimals(qtys)}
    if files:
        meta["local_time_unit"] = unit
    return MarketFrames(book, trades, depth, other, source, meta, silence_s)


# ---- data portal ----------------------------------------------------------------------------------
def read_portal_frames(path: str | Path, symbol: str | None = None) -> MarketFrames:
    """A data-portal trades/aggTrades file as ``MarketFrames`` (trades only; local time = exchange time)."""
    from liqkit.data.portal import load_portal_trades

    md = load_portal_trades(path, symbol)
    tf = md.trades_frame()
    ts = md.trades["ts_exchange"]
    n = len(ts)
    trades = _table(
        {
            "seq": np.arange(1, n + 1, dtype=np.int64),
            "ts_local": ts,
            "ts_exchange": ts,
            "trade_time": ts,
            "trade_id": md.trades["trade_id"],
            "price": tf["price"].to_numpy(float),
            "qty": tf["qty"].to_numpy(float),
            "aggressor": md.trades["aggressor"],
            "buyer_maker": md.trades["aggressor"] < 0,
            "best_match": pd.array([pd.NA] * n, dtype="boolean"),
            "buyer_order_id": pd.array([pd.NA] * n, dtype="Int64"),
            "seller_order_id": pd.array([pd.NA] * n, dtype="Int64"),
            "symbol": pd.Categorical([md.symbol] * n),
            "stream": pd.Categorical([md.meta.get("kind", "trades")] * n),
        }
    )
    empty = read_capture_frames([])  # empty tables with the right columns
    meta = {"kind": "portal", "no_local_time": True, "price_decimals": -1, "qty_decimals": -1}
    meta["time_unit"] = md.meta.get("time_unit")
    return MarketFrames(empty.book, trades, empty.depth, empty.other, md.source, meta)


# ---- any path -------------------------------------------------------------------------------------
def load_frames(path: str | Path | Iterable[str | Path], symbol: str | None = None) -> MarketFrames:
    """Load ``path`` as ``MarketFrames`` whatever it holds: a capture file/folder/list, a data-portal
    ``.csv``/``.zip``, or a Parquet folder of ``liqkit convert``. ``symbol`` keeps one symbol."""
    if not isinstance(path, (str, Path)):
        return read_capture_frames(path, symbol)
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder")
    if p.is_dir() and (p / "trades.parquet").exists():
        from liqkit.data.parquet import read_parquet

        frames = read_parquet(p)
        return frames.for_symbol(symbol) if symbol else frames
    if p.suffix in (".csv", ".zip"):
        return read_portal_frames(p, symbol)
    if p.is_dir() or p.suffix == ".gz":
        return read_capture_frames(p, symbol)
    raise DataError(f"{p}: unknown format; liqkit reads {_FORMATS}")


# ---- reports --------------------------------------------------------------------------------------
def find_gaps(frames: MarketFrames, silence_s: float = 10.0) -> pd.DataFrame:
    """Every gap found, one row each (index: where it was noticed, local time).

    Kinds: ``trade_id`` (ids skipped), ``book_id`` (bookTicker ``u`` not increasing), ``depth_id``
    (an update's U is not the previous u + 1), ``marker`` (a gap ``liqkit record`` saw: reconnect),
    ``silence`` (no line at all for longer than ``silence_s``), ``clock`` (local time went backwards).
    """
    out: list[tuple[int, str, str, int, int, float, str]] = []

    def add(at: Any, kind: str, sym: Any, start: Any, end: Any, missing: float, detail: str) -> None:
        out.append((int(at), kind, str(sym), int(start), int(end), float(missing), detail))

    nan = float("nan")
    for sym, g in frames.trades.groupby("symbol", observed=True, sort=True):
        ids = g["trade_id"].to_numpy(np.int64)
        ts = g["ts_local"].to_numpy(np.int64)
        for i in np.flatnonzero(np.diff(ids) != 1):
            a, b = int(ids[i]), int(ids[i + 1])
            add(ts[i + 1], "trade_id", sym, ts[i], ts[i + 1], b - a - 1, f"trade id {a} -> {b}")
    for sym, g in frames.book.groupby("symbol", observed=True, sort=True):
        u = g["update_id"].to_numpy(np.int64)
        ts = g["ts_local"].to_numpy(np.int64)
        for i in np.flatnonzero(np.diff(u) <= 0):
            add(ts[i + 1], "book_id", sym, ts[i], ts[i + 1], nan, f"bookTicker u {int(u[i])} -> {int(u[i + 1])}")
    dep = frames.depth[~frames.depth["snapshot"]]
    for sym, g in dep.drop_duplicates("seq").groupby("symbol", observed=True, sort=True):
        first = g["first_id"].to_numpy(np.int64)
        last = g["last_id"].to_numpy(np.int64)
        ts = g["ts_local"].to_numpy(np.int64)
        for i in np.flatnonzero(first[1:] != last[:-1] + 1):
            what = f"depth U={int(first[i + 1])} after u={int(last[i])}"
            add(ts[i + 1], "depth_id", sym, ts[i], ts[i + 1], first[i + 1] - last[i] - 1, what)
    o = frames.other
    marks = o[o["stream"].astype(str).str.endswith("@" + GAP_STREAM)]
    for ts_local, stream, raw in zip(marks["ts_local"], marks["stream"], marks["raw"], strict=True):
        data = json.loads(raw).get("data", {})
        sym = str(stream).partition("@")[0].upper()
        add(ts_local, "marker", sym, data.get("last_ns") or ts_local, ts_local, nan, str(data.get("reason", "gap")))
    parts = [df[["seq", "ts_local"]] for df in (frames.book, frames.trades, frames.depth, frames.other) if len(df)]
    if parts:
        allrows = pd.concat(parts).drop_duplicates("seq").sort_values("seq")
        ts = allrows["ts_local"].to_numpy(np.int64)
        dt = np.diff(ts)
        for i in np.flatnonzero(dt > silence_s * 1e9):
            add(ts[i + 1], "silence", "", ts[i], ts[i + 1], nan, f"no data for {dt[i] / 1e9:.1f} s")
        for i in np.flatnonzero(dt < 0):
            add(ts[i + 1], "clock", "", ts[i], ts[i + 1], nan, f"local time went back {-dt[i] / 1e6:.3f} ms")
    out.sort(key=lambda r: r[0])
    df = pd.DataFrame([r[1:] for r in out], columns=GAP_COLUMNS)
    df.index = _index(np.array([r[0] for r in out], np.int64))
    return df


def clock_skew(frames: MarketFrames) -> pd.DataFrame:
    """Exchange event time (E) minus local receive time, ms, per trade and depth update.

    Positive: the local clock is behind Binance's (or the network is fast, never negative latency);
    a drift over time shows in ``MarketFrames.skew_summary()['drift_ms_per_h']``.
    """
    if frames.meta.get("no_local_time"):
        return pd.DataFrame({"ts_local": np.zeros(0, np.int64), "symbol": [], "source": [], "skew_ms": []})
    t = frames.trades
    d = frames.depth[~frames.depth["snapshot"]].drop_duplicates("seq")
    parts = [
        pd.DataFrame(
            {
                "ts_local": df["ts_local"].to_numpy(np.int64),
                "symbol": df["symbol"].astype(str).to_numpy(),
                "source": src,
                "skew_ms": (df["ts_exchange"].to_numpy(np.int64) - df["ts_local"].to_numpy(np.int64)) / 1e6,
            }
        )
        for df, src in ((t, "trade"), (d, "depth"))
        if len(df)
    ]
    if not parts:
        return pd.DataFrame({"ts_local": np.zeros(0, np.int64), "symbol": [], "source": [], "skew_ms": []})
    out = pd.concat(parts, ignore_index=True).sort_values("ts_local", kind="stable")
    out.index = _index(out["ts_local"].to_numpy(np.int64))
    return out
