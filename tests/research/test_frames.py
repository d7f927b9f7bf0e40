"""DataFrame loaders on the real recording in ../shared, on data-portal files built from it, and on
captures with gaps written on purpose."""

import gzip
import hashlib
import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from liqkit.data.capture import read_capture, sample_recording_paths
from liqkit.data.frames import GAP_STREAM, load_frames, read_capture_frames
from liqkit.domain.errors import DataError


@pytest.fixture(scope="module")
def shared_frames(shared_dir):
    return load_frames(shared_dir / "data" / "binance-spot-btcusdt")


def test_shared_capture_as_frames_matches_its_provenance(shared_frames, shared_dir):
    f = shared_frames
    assert f.symbols == ["BTCUSDT"]
    assert len(f.book) == 28_040 + 45_134 and len(f.trades) == 9_757 + 10_147
    s = f.summary()
    assert s["depth_updates"] == 3_451 + 3_044 and s["depth_snapshots"] == 1
    assert f.gaps.empty  # the README: gap-free
    assert s["skew_median_ms"] == pytest.approx(1273, abs=5)  # recorder clock ~1.27 s behind Binance
    assert f.trades["price"].min() == pytest.approx(61_556.04) and f.trades["price"].max() == pytest.approx(61_860.80)
    assert (f.book["bid"] < f.book["ask"]).all() and str(f.book.index.tz) == "UTC"
    # the snapshot rows are the REST answer kept verbatim in binance-rest/
    rest = json.loads(
        (shared_dir / "data/binance-rest/depth_BTCUSDT_limit1000_lastUpdateId50093239218_2024-08-08.json").read_text()
    )
    snap = f.depth[f.depth["snapshot"]]
    assert (snap["last_id"] == rest["lastUpdateId"]).all()
    bids = snap[snap["side"] == "bid"]
    assert len(bids) == len(rest["bids"]) and bids["price"].iloc[0] == float(rest["bids"][0][0])
    assert snap["symbol"].astype(str).unique().tolist() == ["BTCUSDT"]
    # a depth update's levels share its ids; removed levels have qty 0
    upd = f.depth[~f.depth["snapshot"]]
    assert (upd.groupby("seq")["first_id"].nunique() == 1).all() and (upd["qty"] == 0).any()


def test_frames_and_the_backtest_loader_agree(shared_frames):
    md = shared_frames.to_market_data()
    ref = read_capture(sample_recording_paths())
    for k in ref.book:
        assert np.array_equal(md.book[k], ref.book[k]), k
    for k in ref.trades:
        assert np.array_equal(md.trades[k], ref.trades[k]), k
    assert md.meta["depth_snapshot"]["lastUpdateId"] == ref.meta["depth_snapshot"]["lastUpdateId"]


def _lines(shared_dir, n):
    with gzip.open(shared_dir / "data/binance-spot-btcusdt/btcusdt_20240809.gz", "rt") as fh:
        return [next(fh) for _ in range(n)]


def test_gaps_are_reported_not_hidden(tmp_path, shared_dir):
    lines = _lines(shared_dir, 3000)
    trades = [i for i, ln in enumerate(lines) if "@trade" in ln]
    depths = [i for i, ln in enumerate(lines) if "@depth" in ln]
    drop = {trades[10], trades[11], depths[5]}  # two trades and one depth update lost
    kept = [ln for i, ln in enumerate(lines) if i not in drop]
    # a recorder reconnect: a marker, then 30 s without data
    last = int(kept[-1].split(" ", 1)[0])
    marker = {"stream": f"btcusdt@{GAP_STREAM}", "data": {"e": GAP_STREAM, "reason": "stream lost", "last_ns": last}}
    kept.append(f"{last + 1} {json.dumps(marker)}\n")
    ts, body = kept[-2].split(" ", 1)
    kept.append(f"{int(ts) + 30 * 10**9} {body}")  # 30 s later the same bookTicker again: u does not increase
    p = tmp_path / "gappy.gz"
    with gzip.open(p, "wt") as fh:
        fh.writelines(kept)
    gaps = load_frames(p).gaps
    assert sorted(gaps["kind"].unique()) == ["book_id", "depth_id", "marker", "silence", "trade_id"]
    tid = gaps[gaps["kind"] == "trade_id"]
    assert tid["missing"].tolist() == [2.0]
    assert gaps.loc[gaps["kind"] == "marker", "detail"].tolist() == ["stream lost"]
    assert gaps.loc[gaps["kind"] == "silence", "detail"].str.contains("30.0 s").all()
    # the backtest loader still reads the file: it skips the marker stream
    assert len(read_capture(p).trades["price"]) == sum("@trade" in ln for ln in kept)


def _portal_csv(shared_dir, micro: bool) -> str:
    rows = []
    for ln in _lines(shared_dir, 2000):
        msg = json.loads(ln.split(" ", 1)[1])
        if msg.get("stream", "").endswith("@trade"):
            d = msg["data"]
            quote = float(d["p"]) * float(d["q"])
            t = d["T"] * 1000 if micro else d["T"]
            rows.append(f"{d['t']},{d['p']},{d['q']},{quote:.8f},{t},{'True' if d['m'] else 'False'},True")
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("micro", [False, True], ids=["ms", "us"])
def test_data_portal_zip_with_checksum(tmp_path, shared_dir, micro):
    text = _portal_csv(shared_dir, micro)
    z = tmp_path / "BTCUSDT-trades-2024-08-09.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("BTCUSDT-trades-2024-08-09.csv", text)
    (tmp_path / (z.name + ".CHECKSUM")).write_text(f"{hashlib.sha256(z.read_bytes()).hexdigest()}  {z.name}\n")
    f = load_frames(z)
    csv = pd.read_csv(io.StringIO(text), header=None)
    assert f.symbols == ["BTCUSDT"] and len(f.trades) == len(csv)
    assert f.trades["trade_id"].tolist() == csv[0].tolist()
    assert f.trades.index[0] == pd.Timestamp(int(csv[4].iloc[0]), unit="us" if micro else "ms", tz="UTC")
    assert (f.trades["aggressor"] == np.where(csv[5], -1, 1)).all()
    assert f.book.empty and f.gaps.empty and f.skew.empty  # no local clock: skew unknown, not invented
    (tmp_path / (z.name + ".CHECKSUM")).write_text("0" * 64 + f"  {z.name}\n")
    with pytest.raises(DataError, match="sha256"):
        load_frames(z)


def test_bad_lines_and_paths_are_named(tmp_path):
    p = tmp_path / "bad.gz"
    with gzip.open(p, "wt") as fh:
        fh.write('1723161254000000000 {"stream":"btcusdt@trade","data":{"e":"trade"}}\n')
    with pytest.raises(DataError, match=r"bad.gz:1: .*'E'"):
        read_capture_frames(p)
    with gzip.open(p, "wt") as fh:
        fh.write('1723161254000000000 {"hello": 1}\n')
    with pytest.raises(DataError, match=r"bad\.gz:1: not a combined-stream frame"):
        read_capture_frames(p)
    with pytest.raises(DataError, match="no such file"):
        load_frames(tmp_path / "missing.gz")
    with pytest.raises(DataError, match="unknown format"):
        load_frames(_touch(tmp_path / "x.txt"))


def _touch(p):
    p.write_text("x")
    return p


def test_symbol_filter_and_time_slices(shared_frames):
    with pytest.raises(DataError, match="no data for ETHUSDT"):
        shared_frames.for_symbol("ETHUSDT")
    start = shared_frames.book.index[0]
    part = shared_frames.slice_time(start, start + pd.Timedelta(seconds=60))
    assert 0 < len(part.book) < len(shared_frames.book)
    assert part.book.index.max() < start + pd.Timedelta(seconds=60)
