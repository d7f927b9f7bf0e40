"""Data-portal CSVs as Binance publishes them: with or without a header, spot or futures, any time unit."""

import zipfile

import numpy as np
import pytest

from liqkit.data.frames import load_frames
from liqkit.data.loader import load_market_data
from liqkit.data.portal import load_portal_trades
from liqkit.domain.errors import DataError

T_MS = 1_723_161_254_087
ROWS = [
    (101, "61837.63", "0.02", T_MS, True),
    (102, "61837.64", "0.01", T_MS + 5, False),
    (103, "61837.62", "0.5", T_MS + 9, True),
]


def _spot_trades(scale=1):
    return "".join(f"{i},{p},{q},1.0,{t * scale},{m},True\n" for i, p, q, t, m in ROWS)


def _futures_trades(header=True):
    head = "id,price,qty,quote_qty,time,is_buyer_maker\n" if header else ""
    return head + "".join(f"{i},{p},{q},1.0,{t},{str(m).lower()}\n" for i, p, q, t, m in ROWS)


def _futures_agg(header=True):
    head = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n" if header else ""
    return head + "".join(f"{i},{p},{q},{i * 10},{i * 10 + 1},{t},{str(m).lower()}\n" for i, p, q, t, m in ROWS)


def _check(md, kind="trades"):
    assert md.symbol == "BTCUSDT" and md.meta["kind"] == kind
    assert md.trades["trade_id"].tolist() == [101, 102, 103]
    assert md.rules.price(int(md.trades["price"][0])) == md.rules.price(6183763)
    assert md.trades["aggressor"].tolist() == [-1, 1, -1]
    assert md.trades["ts_exchange"][0] == T_MS * 10**6


@pytest.mark.parametrize(
    ("text", "kind", "header"),
    [
        (_futures_trades(), "trades", True),
        (_futures_trades(header=False), "trades", False),
        (_futures_agg(), "aggTrades", True),
        (_futures_agg(header=False), "aggTrades", False),
        ("tradeId,price,qty,quoteQty,time,isBuyerMaker,isBestMatch\n" + _spot_trades(), "trades", True),
        (_spot_trades(), "trades", False),
    ],
    ids=["futures-header", "futures-bare", "futures-agg-header", "futures-agg-bare", "spot-header", "spot-bare"],
)
def test_portal_files_with_or_without_a_header(tmp_path, text, kind, header):
    f = tmp_path / "BTCUSDT-trades-2024-08.csv"
    f.write_text(text)
    md = load_portal_trades(f)
    _check(md, kind)
    assert md.meta["header"] is header and md.source == "BTCUSDT-trades-2024-08.csv (times in ms)"
    z = tmp_path / "BTCUSDT-trades-2024-08.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("BTCUSDT-trades-2024-08.csv", text)
    _check(load_market_data(z), kind)
    assert len(load_frames(z).trades) == 3


@pytest.mark.parametrize(("scale", "unit"), [(1, "ms"), (1000, "µs"), (10**6, "ns")])
def test_portal_time_units_are_named(tmp_path, scale, unit):
    f = tmp_path / "BTCUSDT-trades-2025-01.csv"
    f.write_text(_spot_trades(scale))
    md = load_portal_trades(f)
    assert md.meta["time_unit"] == unit and f"(times in {unit})" in md.source
    assert md.trades["ts_exchange"].tolist() == [row[3] * 10**6 for row in ROWS]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello,world\n1,2\n", r"x\.csv:1: a header line without id, price, qty, time, maker \(hello,world\)"),
        (
            "id,price,qty,quote_qty,time,is_buyer_maker\n" + "abc,1,1,1,1723161254087,true\n",
            r"x\.csv:2: trade id 'abc'",
        ),
        ("id,price,qty,quote_qty,time,is_buyer_maker\n" + "1,x,1,1,1723161254087,true\n", r"x\.csv:2: price 'x'"),
        ("id,price,qty,quote_qty,time,is_buyer_maker\n" + "1,1,1,1,12345,true\n", r"x\.csv:2: timestamp 12345 is not"),
        ("id,price,qty,quote_qty,time,is_buyer_maker\n" + "1,1,1,1,soon,true\n", r"x\.csv:2: timestamp 'soon'"),
        ("id,price,qty,quote_qty,time,is_buyer_maker\n" + "1,1,1,1,1723161254087,maybe\n", r"x\.csv:2: isBuyerMaker"),
        ("id,price,qty,quote_qty,time,is_buyer_maker\n", r"x\.csv: no trades in this file"),
        (
            _spot_trades() + "1,2,3,4,5,6,7,8,9\n",
            r"x\.csv: not a data-portal CSV \(Expected 7 fields in line 4, saw 9\)",
        ),
        ("-5,1,1,1,1723161254087,true,true\n", r"x\.csv:1: '-5,1,1.*is neither a header nor a trade"),
    ],
    ids=["unknown-header", "id", "price", "time-untold", "time-text", "maker", "header-only", "ragged", "junk-line"],
)
def test_garbage_is_refused_naming_file_line_and_problem(tmp_path, text, message):
    f = tmp_path / "x.csv"
    f.write_text(text)
    with pytest.raises(DataError, match=message):
        load_portal_trades(f, symbol="BTCUSDT")


def test_binary_portal_files_are_named(tmp_path):
    f = tmp_path / "BTCUSDT-trades-x.csv"
    f.write_bytes(bytes(range(256)))
    with pytest.raises(DataError, match=r"BTCUSDT-trades-x\.csv: not UTF-8 text \(byte 0x80 at offset 128\)"):
        load_portal_trades(f)
    f.write_bytes(b"1,2\x00,3\n")
    with pytest.raises(DataError, match=r"not text \(NUL bytes"):
        load_portal_trades(f)
    z = tmp_path / "BTCUSDT-trades-x.zip"
    z.write_bytes(b"PK not really a zip")
    with pytest.raises(DataError, match=r"BTCUSDT-trades-x\.zip: not a zip file"):
        load_portal_trades(z)
    assert np.all(np.diff(load_portal_trades(_write(tmp_path, _spot_trades())).trades["ts_local"]) >= 0)


def _write(tmp_path, text):
    f = tmp_path / "BTCUSDT-trades-ok.csv"
    f.write_text(text)
    return f
