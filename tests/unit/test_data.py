"""Market data loaders on the real shipped recording, data-portal CSVs, synthetic and bench data."""

import gzip
import hashlib
import json
import zipfile

import numpy as np
import pytest

from liqkit.data.capture import CaptureWriter, read_capture, sample_recording_paths
from liqkit.data.loader import load_market_data
from liqkit.data.portal import load_portal_trades
from liqkit.data.synthetic import synthetic_feed
from liqkit.domain.errors import DataError

T0 = 1_723_161_254_000_000_000  # a local receive time in ns (2024-08-08)
T0S = str(T0)


def test_shipped_recording_matches_its_provenance(sample_data):
    md = sample_data
    assert md.symbol == "BTCUSDT"
    assert len(md.book["bid"]) == 28_040 + 45_134
    assert len(md.trades["price"]) == 9_757 + 10_147
    assert md.book["bid"].min() >= 6_155_604 and md.book["ask"].max() <= 6_186_080
    assert (md.book["bid"] < md.book["ask"]).all()
    assert (np.diff(md.trades["trade_id"]) == 1).all() and md.meta["gaps"] == []
    assert md.meta["clock_skew_ms"] == pytest.approx(1273, abs=5)
    assert md.meta["depth_updates"] == 3_451 + 3_044
    assert md.meta["depth_snapshot"]["lastUpdateId"] == 50_093_239_218
    assert (md.book["ts_exchange"] == 0).all()  # spot bookTicker has no event time
    assert set(np.unique(md.trades["aggressor"])) == {-1, 1}
    assert len(sample_recording_paths()) == 2


def test_frames_in_exchange_units(sample_data):
    b = sample_data.book_frame()
    assert b["bid"].iloc[0] == pytest.approx(61837.63) and str(b.index.tz) == "UTC"
    t = sample_data.trades_frame()
    assert t["qty"].iloc[0] == pytest.approx(0.02)


def test_capture_writer_round_trip(tmp_path):
    f = tmp_path / "x.gz"
    with CaptureWriter(f) as w:
        w.write(
            T0 + 1,
            '{"stream":"ethusdt@bookTicker","data":{"u":1,"s":"ETHUSDT","b":"3000.01","B":"1.5","a":"3000.02","A":"2"}}',
        )
        w.write(
            T0 + 2,
            {
                "stream": "ethusdt@trade",
                "data": {"e": "trade", "E": 5, "s": "ETHUSDT", "t": 9, "p": "3000.02", "q": "0.1", "T": 5, "m": False},
            },
        )
    md = read_capture(f)
    assert md.symbol == "ETHUSDT" and md.book["bid"].tolist() == [300001] and md.book["ask_qty"].tolist() == [20000]
    assert md.trades["aggressor"].tolist() == [1] and md.trades["ts_exchange"].tolist() == [5_000_000]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (T0S + " {not json}\n", "x.gz:1: not '<ns> <json>'"),
        ("abc {}\n", "x.gz:1"),
        (T0S + ' {"stream":"btcusdt@bookTicker","data":{"u":1}}\n', "x.gz:1: frame lacks field"),
        (T0S + ' {"stream":"btcusdt@bookTicker","data":{"u":1,"b":"x","B":"1","a":"2","A":"1"}}\n', "is not a number"),
        (
            T0S + ' {"stream":"btcusdt@bookTicker","data":{"u":1,"b":"1.001","B":"1","a":"2","A":"1"}}\n',
            "not a multiple",
        ),
    ],
)
def test_malformed_capture_lines_are_named(tmp_path, content, message):
    f = tmp_path / "x.gz"
    with gzip.open(f, "wt") as fh:
        fh.write(content)
    with pytest.raises(DataError, match=message):
        read_capture(f, "BTCUSDT")


def test_truncated_gzip_is_a_data_error(tmp_path):
    src = sample_recording_paths()[0].read_bytes()
    f = tmp_path / "cut.gz"
    f.write_bytes(src[: len(src) // 3])
    with pytest.raises(DataError, match="truncated"):
        read_capture(f)


def _portal_rows(sample_data, n=50, micros=False):
    t = sample_data.trades
    rows = []
    for i in range(n):
        ms = int(t["ts_exchange"][i]) // 1_000_000
        ts = ms * 1000 if micros else ms
        px, q = t["price"][i] / 100, t["qty"][i] / 100_000
        rows.append(
            f"{t['trade_id'][i]},{px:.8f},{q:.8f},{px * q:.8f},{ts},{'True' if t['aggressor'][i] < 0 else 'False'},True"
        )
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("micros", [False, True])
def test_portal_trades_csv_ms_and_us(tmp_path, sample_data, micros):
    f = tmp_path / "BTCUSDT-trades-2024-08-08.csv"
    f.write_text(_portal_rows(sample_data, micros=micros))
    md = load_portal_trades(f)
    assert md.symbol == "BTCUSDT" and len(md.trades["price"]) == 50 and len(md.book["bid"]) == 0
    assert md.trades["price"].tolist() == sample_data.trades["price"][:50].tolist()
    assert md.trades["aggressor"].tolist() == sample_data.trades["aggressor"][:50].tolist()
    assert md.trades["ts_exchange"][0] == sample_data.trades["ts_exchange"][0]


def test_portal_zip_with_checksum(tmp_path, sample_data):
    z = tmp_path / "BTCUSDT-trades-2024-08-08.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("BTCUSDT-trades-2024-08-08.csv", _portal_rows(sample_data))
    (tmp_path / (z.name + ".CHECKSUM")).write_text(f"{hashlib.sha256(z.read_bytes()).hexdigest()}  {z.name}\n")
    assert len(load_market_data(z).trades["price"]) == 50
    (tmp_path / (z.name + ".CHECKSUM")).write_text(f"{'0' * 64}  {z.name}\n")
    with pytest.raises(DataError, match="damaged"):
        load_market_data(z)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tradeId,price,qty,quoteQty,time,isBuyerMaker,isBestMatch\n1,2,3,4,5,True,True\n", "x.csv:2: timestamp 5"),
        ("1,2,3\n", "3 columns"),
        ("1,61837.63,0.1,6183.7,17231612553,True,True\n", "x.csv:1: timestamp 17231612553 is not a date"),
        ("1,61837.63,0.1,6183.7,1723161255343,maybe,True\n", "isBuyerMaker"),
    ],
)
def test_malformed_portal_files(tmp_path, text, message):
    f = tmp_path / "BTCUSDT-trades-x.csv"
    f.write_text(text)
    with pytest.raises(DataError, match=message):
        load_portal_trades(f)


def test_synthetic_feed_is_deterministic_and_valid():
    a, b = synthetic_feed("ETHUSDT", seconds=20, seed=5), synthetic_feed("ETHUSDT", seconds=20, seed=5)
    for k in a.book:
        assert np.array_equal(a.book[k], b.book[k])
    assert not np.array_equal(a.book["bid"], synthetic_feed("ETHUSDT", seconds=20, seed=6).book["bid"])
    assert (a.book["bid"] < a.book["ask"]).all() and (np.diff(a.book["ts_local"]) > 0).all()
    assert (a.book["bid_qty"] >= a.rules.min_qty_steps).all() and len(a.trades["price"]) > 0


def test_loader_refuses_unknown_paths(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_market_data(tmp_path / "nope")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DataError, match="unknown format"):
        load_market_data(tmp_path / "x.txt")
    with pytest.raises(DataError, match="nothing liqkit can read"):
        load_market_data(tmp_path)
    assert json.dumps(load_market_data(sample_recording_paths()[1]).meta["gaps"]) == "[]"


def test_a_capture_of_several_symbols_is_read_one_symbol_at_a_time(tmp_path):
    frames = []
    for i in range(6):
        for sym, px in (("btcusdt", 60000 + i), ("ethusdt", 3000 + i)):
            book = {"u": i + 1, "s": sym.upper(), "b": f"{px}.00", "B": "1.0", "a": f"{px}.01", "A": "2.0"}
            trade = {"e": "trade", "E": 1, "s": sym.upper(), "t": i + 1, "p": f"{px}.00", "q": "0.5", "T": 1_000 + i,
                     "m": True, "M": True}  # fmt: skip
            frames.append(json.dumps({"stream": f"{sym}@bookTicker", "data": book}))
            frames.append(json.dumps({"stream": f"{sym}@trade", "data": trade}))
    path = tmp_path / "both.gz"
    with gzip.open(path, "wt") as f:
        for n, fr in enumerate(frames):
            f.write(f"{1_700_000_000_000_000_000 + n} {fr}\n")
    with pytest.raises(DataError, match="several symbols"):
        read_capture(path)
    eth = read_capture(path, symbol="ETHUSDT")
    assert eth.symbol == "ETHUSDT" and len(eth.book["bid"]) == 6 and len(eth.trades["price"]) == 6
    assert eth.rules.price(int(eth.book["bid"][0])) == 3000  # no BTCUSDT row slipped in
    assert not eth.meta["gaps"]  # each symbol's ids are consecutive on their own
