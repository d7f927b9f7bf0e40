"""Bad input, slice h6 (data files and config files): each row a file a newcomer might hand liqkit.

Every row asserts that the answer names the file or the field (and the line, for data) and says what
is wrong; rows that are accepted assert what was read (the unit of the times) so nothing is silently
wrong. Nothing runs while these files are read, so no running pair can be harmed by them; the rows
that run a backtest check its result. ``python tests/badinput/test_badinput_h6.py`` prints the rows as
the Markdown table of TABLE_h6.md (run it with the old checkout on PYTHONPATH for "before").
"""

from __future__ import annotations

import gzip
import logging
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from liqkit.data.capture import sample_recording_paths
from liqkit.data.loader import load_market_data

LINES = 3000  # of the shipped recording: about half a minute of BTCUSDT, ns local times


@dataclass(frozen=True)
class Row:
    """One bad input: what it is, how to make it, what the answer must contain."""

    name: str
    make: Callable[[Path], Callable[[], str]]  # builds the input in a folder; returns what liqkit is asked
    expect: tuple[str, ...]  # every one of these is in the answer


def _sample_lines() -> list[str]:
    with gzip.open(sample_recording_paths()[0], "rt") as fh:
        return [next(fh) for _ in range(LINES)]


def _rescale(lines: list[str], div: int) -> list[str]:
    return [f"{int(ln.split(' ', 1)[0]) // div} {ln.split(' ', 1)[1]}" for ln in lines]


def _gz(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt") as fh:
        fh.writelines(lines)
    return path


def _read(path: Path) -> str:
    md = load_market_data(path)
    ts = md.book["ts_local"] if len(md.book["ts_local"]) else md.trades["ts_local"]
    import pandas as pd

    start = pd.Timestamp(int(ts[0]), unit="ns", tz="UTC")
    return f"read {md.source or path.name}: {len(md)} rows from {start:%Y-%m-%d %H:%M}, {(ts[-1] - ts[0]) / 1e9:.0f} s"


def data(name: str, build: Callable[[Path], Path], *expect: str) -> Row:
    """A data file row: ``build`` writes the file; liqkit loads it."""
    return Row(name, lambda d: lambda: _read(build(d)), expect)


def _config_file(text: str | bytes) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        p = d / "bad.toml"
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(text)
        return p

    return build


def _backtest_with(path: Path, d: Path) -> str:
    from liqkit.backtest import run_backtest
    from liqkit.domain.config import load_config

    cfg = load_config(path)
    md = load_market_data(_gz(d / "btc.gz", _sample_lines()[:600]))
    notes: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda r: notes.append(r.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("liqkit.backtest")
    logger.addHandler(handler)
    try:
        res = run_backtest(md, cfg)
    finally:
        logger.removeHandler(handler)
    said = f"; says: {notes[0]}" if notes else " (says nothing)"
    return f"runs {', '.join(sorted(res.per_pair)) if hasattr(res, 'per_pair') else md.symbol}{said}"


def config(name: str, text: str | bytes, *expect: str, backtest: bool = False) -> Row:
    """A config file row: liqkit loads it (and, with ``backtest``, runs it on BTCUSDT data)."""
    from liqkit.domain.config import load_config

    def make(d: Path) -> Callable[[], str]:
        p = _config_file(text)(d)
        if backtest:
            return lambda: _backtest_with(p, d)
        return lambda: f"accepted: {load_config(p).model_dump(mode='json')}"

    return Row(name, make, expect)


def _portal(text: str | bytes, name: str = "BTCUSDT-trades-2024-08.csv") -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        p = d / name
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(text)
        return p

    return build


T = 1_723_161_254_087
FUT_TRADES = "id,price,qty,quote_qty,time,is_buyer_maker\n" + "".join(
    f"{i},61837.6{i},0.01,618.37,{T + i},{'true' if i % 2 else 'false'}\n" for i in range(1, 6)
)
FUT_AGG = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n" + "".join(
    f"{i},61837.6{i},0.01,{i * 10},{i * 10},{T + i},true\n" for i in range(1, 6)
)
SPOT_HEADER = "tradeId,price,qty,quoteQty,time,isBuyerMaker,isBestMatch\n" + "".join(
    f"{i},61837.6{i},0.01,618.37,{T + i},True,True\n" for i in range(1, 6)
)


def _capture(div: int = 1, cut: Callable[[list[str]], list[str]] | None = None) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        lines = _rescale(_sample_lines(), div)
        return _gz(d / "old.gz", cut(lines) if cut else lines)

    return build


def _bytes(name: str, content: Callable[[], bytes]) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        p = d / name
        p.write_bytes(content())
        return p

    return build


def _parquet_us(d: Path) -> Path:
    from dataclasses import replace

    from liqkit.data.frames import read_capture_frames
    from liqkit.data.parquet import write_parquet

    f = read_capture_frames(_gz(d / "ns.gz", _sample_lines()))
    old = replace(
        f, **{k: getattr(f, k).assign(ts_local=getattr(f, k)["ts_local"] // 1000) for k in ("book", "trades")}
    )
    write_parquet(old, d / "pq")
    return d / "pq"


def _zip(text: str) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        z = d / "BTCUSDT-trades-2024-08.zip"
        with zipfile.ZipFile(z, "w") as zf:
            zf.writestr("BTCUSDT-trades-2024-08.csv", text)
        return z

    return build


ROWS: list[Row] = [
    # ---- config files ----------------------------------------------------------------------------
    config("binary config file", bytes(range(256)) * 8, "bad.toml", "not UTF-8 TOML", "binary file"),
    config("gzip file as config", gzip.compress(b"[engine]\n"), "bad.toml", "not UTF-8 TOML", "gzip"),
    config("NUL bytes in config", b"[engine]\x00\x00\n", "bad.toml", "not UTF-8 TOML", "NUL"),
    config("empty config, backtest", "", "no pairs", "BTCUSDT quoted on the defaults", "spread", backtest=True),
    config("config without pairs", '[sim]\nfill_model = "realistic"\n', "no pairs", "defaults", backtest=True),
    config(
        "[pairs.NOPEUSDT] on BTCUSDT data",
        '[pairs.NOPEUSDT]\nspread = "5bps"\n',
        "[pairs.NOPEUSDT]",
        "BTCUSDT",
        backtest=True,
    ),
    config(
        "extra [pairs.ETHUSDT] on BTCUSDT data",
        "[pairs.BTCUSDT]\n[pairs.ETHUSDT]\n",
        "[pairs.ETHUSDT]",
        "it holds BTCUSDT",
        backtest=True,
    ),
    config(
        "spread with bid_spread",
        '[pairs.BTCUSDT]\nspread = "5bps"\nbid_spread = "3bps"\n',
        "pairs.BTCUSDT.spread",
        "bid_spread",
        "not both",
    ),
    config(
        "spread with ask_spread",
        '[pairs.BTCUSDT]\nspread = "5bps"\nask_spread = "3bps"\n',
        "pairs.BTCUSDT.spread",
        "ask_spread",
        "not both",
    ),
    config("spread = '10pct'", '[pairs.BTCUSDT]\nspread = "10pct"\n', "pairs.BTCUSDT.spread", "'pct'", "bps", "ticks"),
    config("spread = '-5bps'", '[pairs.BTCUSDT]\nspread = "-5bps"\n', "pairs.BTCUSDT.spread", "negative", "ticks"),
    config("spread = 5 (bare number)", "[pairs.BTCUSDT]\nspread = 5\n", "pairs.BTCUSDT.spread", "unit", "'5bps'"),
    config("level_spacing = 2.5", "[pairs.BTCUSDT]\nlevel_spacing = 2.5\n", "level_spacing", "bare number", "ticks"),
    config("refresh_tolerance = '3'", '[pairs.BTCUSDT]\nrefresh_tolerance = "3"\n', "refresh_tolerance", "no unit"),
    config("min_spread = '5 pips'", '[pairs.BTCUSDT]\nmin_spread = "5 pips"\n', "min_spread", "'pips'", "bps"),
    config("nosuchkey at the top", "nosuchkey = 1\n", "nosuchkey", "valid keys here: engine, sim, pairs"),
    config("[engine] nosuchkey", "[engine]\nnosuchkey = 1\n", "engine.nosuchkey", "valid keys", "state_dir"),
    config("[engine.risk] nosuchkey", "[engine.risk]\nnosuchkey = 1\n", "engine.risk.nosuchkey", "stale_feed_s"),
    config("[sim] nosuchkey", "[sim]\nnosuchkey = 1\n", "sim.nosuchkey", "valid keys", "fill_model"),
    config("[pairs.BTCUSDT] nosuchkey", "[pairs.BTCUSDT]\nnosuchkey = 1\n", "pairs.BTCUSDT.nosuchkey", "bid_spread"),
    config("size = nan", "[pairs.BTCUSDT]\nsize = nan\n", "pairs.BTCUSDT.size", "finite"),
    config("skew = inf", "[pairs.BTCUSDT]\nskew = inf\n", "pairs.BTCUSDT.skew", "finite"),
    config("stale_feed_s = inf", "[engine.risk]\nstale_feed_s = inf\n", "engine.risk.stale_feed_s", "finite"),
    config("latency_ms = inf", "[sim]\nlatency_ms = inf\n", "sim.latency_ms", "finite"),
    config("balance = nan", "[sim.balances]\nUSDT = nan\n", "sim.balances.USDT", "finite"),
    config(
        "size = 10 MB of digits",
        '[pairs.BTCUSDT]\nsize = "' + "1" * 10_000_000 + '"\n',
        "pairs.BTCUSDT.size",
        "characters long",
    ),
    config(
        "spread = 100k digits + bps",
        '[pairs.BTCUSDT]\nspread = "' + "5" * 100_000 + 'bps"\n',
        "pairs.BTCUSDT.spread",
        "characters long",
    ),
    config("sim.seed = -1", "[sim]\nseed = -1\n", "sim.seed", "greater than or equal to 0"),
    # ---- data files ------------------------------------------------------------------------------
    data("capture with local times in µs", _capture(1000), "old.gz", "µs", "2024-08-0"),
    data("capture with local times in ms", _capture(10**6), "old.gz", "ms", "2024-08-0"),
    data(
        "capture with local times 1, 2, 3...",
        _capture(cut=lambda ls: [f"{i + 1} {ln.split(' ', 1)[1]}" for i, ln in enumerate(ls[:20])]),
        "old.gz:1",
        "local time 1",
        "cannot be told",
    ),
    data(
        "capture mixing ns and µs lines",
        _capture(cut=lambda ls: ls[:100] + _rescale(ls[100:120], 1000)),
        "old.gz:101",
        "µs",
        "ns",
    ),
    data("text file named .gz", _bytes("x.gz", lambda: b"hello\n"), "x.gz", "not gzip"),
    data("empty .gz", _bytes("x.gz", lambda: b""), "x.gz", "not gzip", "empty"),
    data("binary inside gzip", _bytes("x.gz", lambda: gzip.compress(bytes(range(256)) * 64)), "x.gz:1", "binary"),
    data(
        "latin-1 text inside gzip",
        _bytes("x.gz", lambda: gzip.compress(b"1723161254000000000 caf\xe9\n")),
        "x.gz:1",
        "not UTF-8",
    ),
    data(
        "truncated gzip",
        _bytes("cut.gz", lambda: sample_recording_paths()[0].read_bytes()[:200_000]),
        "cut.gz",
        "truncated after",
    ),
    data("futures trades CSV with header", _portal(FUT_TRADES), "BTCUSDT-trades-2024-08.csv", "ms", "2024-08-08 23:54"),
    data(
        "futures aggTrades CSV with header", _portal(FUT_AGG, "BTCUSDT-aggTrades-2024-08.csv"), "ms", "2024-08-08 23:54"
    ),
    data("spot CSV with a header line", _portal(SPOT_HEADER), "BTCUSDT-trades-2024-08.csv", "2024-08-08 23:54"),
    data("zipped futures CSV with header", _zip(FUT_TRADES), "BTCUSDT-trades-2024-08.zip", "2024-08-08 23:54"),
    data("CSV with an unknown header", _portal("when,what\n1,2\n"), ".csv:1", "header", "price"),
    data("CSV: a trade id that is text", _portal(FUT_TRADES + "abc,1,1,1,1723161254087,true\n"), ".csv:7", "trade id"),
    data("CSV: a row with 9 fields", _portal(FUT_TRADES + "1,2,3,4,5,6,7,8,9\n"), ".csv", "line 7", "9"),
    data("CSV: timestamp 12345", _portal(FUT_TRADES + "9,1,1,1,12345,true\n"), ".csv:7", "timestamp 12345"),
    data("CSV: binary bytes", _portal(bytes(range(256))), ".csv", "not UTF-8"),
    data("zip that is not a zip", _bytes("BTCUSDT-trades-2024-08.zip", lambda: b"PK no"), ".zip", "not a zip"),
    data("Parquet with µs local times", _parquet_us, "µs", "2024-08-0"),
]


def answer(row: Row, folder: Path) -> str:
    """What liqkit answers: the result, or the error's type and message."""
    try:
        return row.make(folder)()
    except Exception as e:  # the table records whatever came back, tracebacks included
        return f"{type(e).__name__}: {e}"


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_bad_input_is_named(row, tmp_path):
    got = answer(row, tmp_path)
    for part in row.expect:
        assert part in got, got[:600]
    assert "Traceback" not in got and not got.startswith(("UnicodeDecodeError", "ValueError", "KeyError", "TypeError"))
    assert len(got) < 2000  # excerpts, never the whole input


def _cell(text: str, folder: Path, limit: int = 170) -> str:
    text = " ".join(text.replace(f"{folder}/", "").split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


if __name__ == "__main__":  # the table rows: | input | answer |
    for row in ROWS:
        with tempfile.TemporaryDirectory() as d:
            sys.stdout.write(f"| {row.name} | {_cell(answer(row, Path(d)), Path(d))} |\n")
