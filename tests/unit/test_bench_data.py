"""The common benchmark's data files (``book.npz``, ``trades.npz`` as ``../shared/bench/gen_data.py``
writes them): read right whether stored plainly or compressed, and refused clearly when damaged."""

import numpy as np
import pytest

from liqkit.data.loader import load_market_data
from liqkit.domain.errors import DataError
from liqkit.domain.rules import default_rules

T0 = 1_704_067_200_000_000_000


def _columns(n: int = 500, seed: int = 3) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    ts = T0 + np.cumsum(rng.integers(2, 200_000, n))
    bid = 6_000_000 + np.cumsum(rng.integers(-2, 3, n))
    ask = bid + rng.integers(1, 4, n)
    book = {
        "ts": ts,
        "bid_px": bid * 0.01,
        "bid_qty": rng.integers(1, 900_000, n) * 1e-5,  # float BTC on the 0.00001 step grid
        "ask_px": ask * 0.01,
        "ask_qty": rng.integers(1, 900_000, n) * 1e-5,
        "bid_tick": bid,
        "ask_tick": ask,
    }
    m = n // 5
    at = np.sort(rng.choice(n - 1, m, replace=False))
    side = np.where(rng.random(m) < 0.5, 1, -1).astype(np.int8)
    tick = np.where(side > 0, ask[at], bid[at])
    trades = {"ts": ts[at] + 1, "px": tick * 0.01, "qty": rng.integers(1, 5000, m) * 1e-5, "side": side, "tick": tick}
    return book, trades


def _write(directory, book, trades, save=np.savez):
    directory.mkdir(exist_ok=True)
    save(directory / "book.npz", **book)
    save(directory / "trades.npz", **trades)
    return directory


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed], ids=["stored", "compressed"])
def test_bench_data_reads_to_integer_columns(tmp_path, save):
    book, trades = _columns()
    md = load_market_data(_write(tmp_path / "d", book, trades, save))
    step = float(default_rules("BTCUSDT").step)
    assert md.symbol == "BTCUSDT" and "bench data" in md.source
    assert np.array_equal(md.book["ts_local"], book["ts"]) and np.array_equal(md.book["ts_exchange"], book["ts"])
    assert np.array_equal(md.book["bid"], book["bid_tick"]) and np.array_equal(md.book["ask"], book["ask_tick"])
    for col in ("bid_qty", "ask_qty"):
        assert md.book[col].dtype == np.int64
        assert np.array_equal(md.book[col], [round(q / step) for q in book[col]])
    assert np.array_equal(md.trades["price"], trades["tick"]) and np.array_equal(md.trades["aggressor"], trades["side"])
    assert np.array_equal(md.trades["qty"], [round(q / step) for q in trades["qty"]])
    assert md.trades["trade_id"].tolist() == list(range(1, len(trades["ts"]) + 1))


def test_stored_and_compressed_files_give_the_same_data(tmp_path):
    book, trades = _columns(n=2000, seed=9)
    a = load_market_data(_write(tmp_path / "a", book, trades, np.savez))
    b = load_market_data(_write(tmp_path / "b", book, trades, np.savez_compressed))
    for x, y in ((a.book, b.book), (a.trades, b.trades)):
        assert list(x) == list(y)
        for k in x:
            assert x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k]), k


def test_a_missing_column_is_named(tmp_path):
    book, trades = _columns()
    del book["ask_qty"]
    with pytest.raises(DataError, match=r"not the common benchmark's data.*ask_qty"):
        load_market_data(_write(tmp_path / "d", book, trades))


def test_damaged_files_are_refused_with_the_folder_named(tmp_path):
    book, trades = _columns()
    d = _write(tmp_path / "d", book, trades)
    (d / "trades.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(DataError, match=str(d)):
        load_market_data(d)
    d = _write(tmp_path / "e", book, trades)
    raw = bytearray((d / "book.npz").read_bytes())
    at = raw.index(b"\x93NUMPY")  # the first member's .npy magic
    raw[at : at + 6] = b"BROKEN"
    (d / "book.npz").write_bytes(bytes(raw))
    with pytest.raises(DataError, match="not the common benchmark's data"):
        load_market_data(d)
    d = _write(tmp_path / "f", book, trades)
    (d / "book.npz").write_bytes((d / "book.npz").read_bytes()[:5000])
    with pytest.raises(DataError, match="not the common benchmark's data"):
        load_market_data(d)
