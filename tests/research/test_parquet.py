"""Captures to Parquet and back, the backtest on Parquet, and ``liqkit convert``."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from liqkit.backtest import run_backtest
from liqkit.data.capture import read_capture, sample_recording_paths
from liqkit.data.frames import load_frames
from liqkit.data.loader import load_market_data
from liqkit.data.parquet import read_parquet, write_capture, write_parquet
from liqkit.domain.config import PairConfig
from liqkit.domain.errors import DataError


def _text(path: Path) -> list[str]:
    with gzip.open(path, "rt") as fh:
        return fh.readlines()


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("pq") / "btcusdt"
    write_parquet(load_frames(sample_recording_paths()), out)
    return out


def test_parquet_round_trip_gives_back_the_capture_byte_for_byte(parquet_dir, tmp_path):
    frames = read_parquet(parquet_dir)
    assert frames.symbols == ["BTCUSDT"] and frames.meta["price_decimals"] == 8
    out = write_capture(frames, tmp_path / "again.gz")
    original = [ln for p in sample_recording_paths() for ln in _text(p)]
    again = _text(out)
    assert len(again) == len(original) == 99_574
    assert again == original


def test_backtest_reads_parquet_and_gets_the_same_run(parquet_dir):
    pq_md = load_market_data(parquet_dir)
    ref = read_capture(sample_recording_paths())
    assert all(np.array_equal(pq_md.book[k], ref.book[k]) for k in ref.book)
    assert all(np.array_equal(pq_md.trades[k], ref.trades[k]) for k in ref.trades)
    start = int(ref.book["ts_local"][0])
    cfg = PairConfig(symbol="BTCUSDT", spread="2bps")
    a = run_backtest(pq_md.slice_time(start, start + 90 * 10**9), cfg).metrics
    b = run_backtest(ref.slice_time(start, start + 90 * 10**9), cfg).metrics
    assert a["fills"] == b["fills"] > 0 and a["pnl"] == b["pnl"]


def test_a_damaged_parquet_folder_is_a_data_error(parquet_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("book", "trades", "depth", "other"):
        (bad / f"{name}.parquet").write_bytes((parquet_dir / f"{name}.parquet").read_bytes()[:100])
    with pytest.raises(DataError, match=r"book.parquet: not a liqkit Parquet table"):
        read_parquet(bad)


def test_convert_command_both_ways(liqkit_main, tmp_path, capsys):
    out = tmp_path / "pq"
    assert liqkit_main(["convert", str(sample_recording_paths()[0]), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "28,040 book rows" in said and "9,757 trades" in said and "clock skew +127" in said
    assert sorted(p.name for p in out.iterdir()) == ["book.parquet", "depth.parquet", "other.parquet", "trades.parquet"]
    back = tmp_path / "back.gz"
    assert liqkit_main(["convert", str(out), "--out", str(back)]) == 0
    assert _text(back) == _text(sample_recording_paths()[0])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["convert", "{tmp}/nothing.gz", "--out", "{tmp}/o"], "nothing.gz: no such file or folder"),
        (["convert", "{sample}", "--out", "{tmp}/o.gz"], "captures convert to a Parquet folder"),
        (["convert", "{sample}", "--out", "{tmp}/o", "--symbol", "ETHUSDT"], "no data for ETHUSDT"),
    ],
)
def test_convert_bad_input_is_one_message_and_exit_2(liqkit_main, tmp_path, capsys, argv, message):
    subst = {"tmp": str(tmp_path), "sample": str(sample_recording_paths()[0])}
    code = liqkit_main([a.format(**subst) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") <= 2 and "Traceback" not in err
