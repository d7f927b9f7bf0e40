"""Data files as they come: local time units told apart, gzip and text checked, each refusal named."""

import gzip

import numpy as np
import pytest

from liqkit.data.capture import read_capture, sample_recording_paths
from liqkit.data.frames import read_capture_frames
from liqkit.data.lines import column_to_ns, exchange_ns, unit_of
from liqkit.data.loader import load_market_data
from liqkit.domain.errors import DataError


@pytest.fixture(scope="module")
def lines():
    """The first 6000 lines of the shipped recording (its local times are ns)."""
    with gzip.open(sample_recording_paths()[0], "rt") as fh:
        return [next(fh) for _ in range(6000)]


def _rescaled(lines, div):
    out = []
    for ln in lines:
        head, body = ln.split(" ", 1)
        out.append(f"{int(head) // div} {body}")
    return out


def _write(path, lines):
    with gzip.open(path, "wt") as fh:
        fh.writelines(lines)
    return path


@pytest.mark.parametrize(("unit", "div"), [("ns", 1), ("µs", 10**3), ("ms", 10**6), ("s", 10**9)])
def test_local_times_in_any_unit_read_as_the_same_instants(tmp_path, lines, unit, div):
    ref = read_capture(_write(tmp_path / "ns.gz", lines))
    md = read_capture(_write(tmp_path / "x.gz", _rescaled(lines, div)))
    assert md.meta["local_time_unit"] == unit and md.source == f"x.gz (local times in {unit})"
    # the same instants, to the unit's resolution: minutes of 2024, not a fraction of a second of 1970
    assert np.array_equal(md.book["ts_local"], ref.book["ts_local"] // div * div)
    span = (md.book["ts_local"][-1] - md.book["ts_local"][0]) / 1e9
    assert span == pytest.approx((ref.book["ts_local"][-1] - ref.book["ts_local"][0]) / 1e9, abs=2)
    assert md.book["ts_local"][0] > 1_700_000_000 * 10**9
    assert len(md.trades["price"]) == len(ref.trades["price"])
    frames = read_capture_frames(tmp_path / "x.gz")
    assert frames.meta["local_time_unit"] == unit
    assert np.array_equal(frames.book["ts_local"].to_numpy(), md.book["ts_local"])
    assert frames.to_market_data().source == f"x.gz (local times in {unit})"


def test_a_backtest_on_microsecond_captures_fills_like_on_nanoseconds(tmp_path, lines):
    from liqkit.backtest import run_backtest

    cfg = {"reference": "touch", "spread": "1ticks", "refresh_tolerance": "2ticks"}
    ns = run_backtest(read_capture(_write(tmp_path / "ns.gz", lines)), cfg).metrics
    us = run_backtest(read_capture(_write(tmp_path / "us.gz", _rescaled(lines, 1000))), cfg).metrics
    assert ns["fills"] > 0 and abs(us["fills"] - ns["fills"]) <= max(2, ns["fills"] // 10)


def test_what_cannot_be_told_is_refused_naming_file_and_line(tmp_path, lines):
    tiny = [f"{i + 1} {ln.split(' ', 1)[1]}" for i, ln in enumerate(lines[:5])]
    with pytest.raises(DataError, match=r"tiny\.gz:1: local time 1 is not a date between 2000 and 2100"):
        read_capture(_write(tmp_path / "tiny.gz", tiny))
    mixed = lines[:50] + _rescaled(lines[50:60], 1000)
    with pytest.raises(DataError, match=r"mixed\.gz:51: local time \d{16} is in µs, the lines before in ns"):
        read_capture(_write(tmp_path / "mixed.gz", mixed))
    with pytest.raises(DataError, match=r"mixed\.gz:51: local time"):
        read_capture_frames(tmp_path / "mixed.gz")


def test_units_by_magnitude():
    assert unit_of(1_723_161_254) == ("s", 10**9) and unit_of(1_723_161_254_087) == ("ms", 10**6)
    assert unit_of(1_723_161_254_087_891) == ("µs", 10**3) and unit_of(1_723_161_254_087_891_000) == ("ns", 1)
    assert unit_of(12345) is None and unit_of(-1) is None
    assert exchange_ns([1_723_161_254_087, 1_723_161_254_087_891, 5]).tolist() == [
        1_723_161_254_087_000_000,
        1_723_161_254_087_891_000,
        5_000_000,  # no unit fits: the documented ms
    ]
    assert column_to_ns(np.array([1_723_161_254_087_891]), "t", "src")[1] == "µs"
    with pytest.raises(DataError, match=r"src: t row 1: 1723161254087 is in ms while row 0 is in µs"):
        column_to_ns(np.array([1_723_161_254_087_891, 1_723_161_254_087]), "t", "src")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello, not gzip\n", r"x\.gz: not gzip \(starts with b'he'\)"),
        (b"", r"x\.gz: not gzip \(an empty file\)"),
        (gzip.compress(bytes(range(256)) * 4), r"x\.gz:1: not text \(NUL bytes\): is it a binary file\?"),
        (gzip.compress(b"1723161254000000000 \xff\xfe{}\n"), r"x\.gz:1: not UTF-8 text \(byte 0xff at column 21\)"),
    ],
    ids=["not-gzip", "empty", "binary", "latin1"],
)
def test_binary_and_non_gzip_files_are_named(tmp_path, content, message):
    f = tmp_path / "x.gz"
    f.write_bytes(content)
    for read in (read_capture, read_capture_frames, load_market_data):
        with pytest.raises(DataError, match=message):
            read(f)


def test_a_truncated_gzip_says_after_how_many_lines(tmp_path):
    src = sample_recording_paths()[0].read_bytes()
    f = tmp_path / "cut.gz"
    f.write_bytes(src[: len(src) // 3])
    for read in (read_capture, read_capture_frames):
        with pytest.raises(DataError, match=r"cut\.gz: truncated after \d+ lines") as e:
            read(f)
        assert "may be truncated" not in str(e.value)


def test_parquet_written_from_microsecond_times_is_read_as_such(tmp_path, lines):
    from dataclasses import replace

    from liqkit.data.parquet import read_parquet, write_parquet

    frames = read_capture_frames(_write(tmp_path / "ns.gz", lines))

    def old(df):  # what an older liqkit wrote for a µs capture: the µs values as if ns
        return df.assign(ts_local=df["ts_local"] // 1000)

    stale = replace(frames, book=old(frames.book), trades=old(frames.trades), depth=old(frames.depth))
    write_parquet(stale, tmp_path / "pq")
    back = read_parquet(tmp_path / "pq")
    assert back.meta["local_time_unit"] == "µs"
    assert np.array_equal(back.book["ts_local"].to_numpy(), frames.book["ts_local"].to_numpy() // 1000 * 1000)
    assert back.book.index[0].year == 2024
    assert "(local times in µs)" in back.to_market_data().source
    ok = read_parquet(write_parquet(frames, tmp_path / "pq2")[0].parent)
    assert "local_time_unit" not in ok.meta or ok.meta["local_time_unit"] == "ns"


def test_bench_data_times_are_told_by_magnitude(tmp_path):
    from liqkit.data.synthetic import load_bench_data

    ts_us = np.array([1_704_067_200_000_000, 1_704_067_200_000_100, 1_704_067_200_000_200], np.int64)

    def write(ts):
        ticks = np.array([6_000_000, 6_000_001, 6_000_000], np.int64)
        np.savez(
            tmp_path / "book.npz", ts=ts, bid_tick=ticks, ask_tick=ticks + 2, bid_qty=np.ones(3), ask_qty=np.ones(3)
        )
        np.savez(tmp_path / "trades.npz", ts=ts + 1, tick=ticks, qty=np.ones(3), side=np.array([1, -1, 1], np.int8))

    write(ts_us)
    md = load_bench_data(tmp_path)
    assert md.book["ts_local"].tolist() == (ts_us * 1000).tolist() and md.meta["time_unit"] == "µs"
    assert "(times in µs)" in md.source
    write(np.array([1, 2, 3], np.int64))
    with pytest.raises(DataError, match=r"book\.npz: ts row 0: 1 is not a date between 2000 and 2100"):
        load_bench_data(tmp_path)
