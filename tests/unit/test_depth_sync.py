"""The L2 book from a recording's depth: diff updates in sync with a REST snapshot as Binance documents
it ("How to manage a local order book correctly"), gaps reported loudly, the book kept by the simulated
exchange through the replay, and sliced data starting from the book as it stood."""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from liqkit.backtest import run_backtest
from liqkit.data.capture import CaptureWriter, read_capture
from liqkit.data.depth import DIFF, LOST, SNAPSHOT, book_at
from liqkit.data.feed import merge_depth
from liqkit.data.frames import load_frames
from liqkit.domain.config import LiqkitConfig, PairConfig, SimConfig
from liqkit.engine.latency import ConstantLatency
from liqkit.venues.sim.exchange import SimExchange
from liqkit.venues.sim.timeline import DEPTH, Timeline

T0 = 1_723_161_254_000_000_000  # local receive ns


def book_line(u: int, bid: str, ask: str) -> dict:
    return {"stream": "btcusdt@bookTicker", "data": {"u": u, "s": "BTCUSDT", "b": bid, "B": "1", "a": ask, "A": "1"}}


def trade_line(i: int) -> dict:
    ms = T0 // 1_000_000 + i
    data = {"e": "trade", "E": ms, "s": "BTCUSDT", "t": i, "p": "100.00", "q": "0.001", "T": ms, "m": True, "M": True}
    return {"stream": "btcusdt@trade", "data": data}


def update(first: int, last: int, bids=(), asks=()) -> dict:
    data = {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": first, "u": last, "b": list(bids), "a": list(asks)}
    return {"stream": "btcusdt@depth@100ms", "data": data}


def snapshot(last: int, bids, asks) -> dict:
    return {"lastUpdateId": last, "bids": list(bids), "asks": list(asks)}


def capture(path: Path, lines: list[dict]) -> Path:
    """A capture of ``lines`` 1 ms apart, with a book row and a trade first (a symbol to read)."""
    with CaptureWriter(path) as w:
        w.write(T0, book_line(1, "99.99", "100.02"))
        w.write(T0 + 1, trade_line(1))
        for k, line in enumerate(lines, 1):
            w.write(T0 + k * 1_000_000, line)
    return path


def levels(book: dict[int, int]) -> dict[str, str]:
    """Ticks/steps back to BTCUSDT decimals, for readable expectations."""
    return {f"{Decimal(p) / 100:.2f}": f"{Decimal(q) / 100_000:f}".rstrip("0").rstrip(".") for p, q in book.items()}


def test_snapshot_and_updates_synchronised_as_binance_documents(tmp_path):
    lines = [
        update(100, 105, bids=[["100.00", "1"]]),  # older than the snapshot: dropped
        update(106, 110, bids=[["100.00", "2"]], asks=[["100.05", "3"]]),  # bridges it (U <= 108+1 <= u)
        snapshot(108, [["100.00", "5"], ["99.99", "1"]], [["100.02", "4"], ["100.03", "2"]]),
        update(111, 115, bids=[["99.98", "7"]], asks=[["100.02", "0"]]),  # 0 removes the level
        update(113, 114, asks=[["100.10", "9"]]),  # u below the book's id: old, ignored
        update(116, 118, bids=[["99.99", "0"]]),
    ]
    md = read_capture(capture(tmp_path / "c.gz", lines))
    d = md.depth
    assert d is not None and md.meta["depth_gaps"] == []
    # the snapshot and the buffered update it bridges to are applied at the snapshot's receive time
    heads = np.flatnonzero(d["reset"] == SNAPSHOT)
    assert list(heads) == [0] and d["ts_local"][0] == T0 + 3_000_000
    assert sorted(set(d["update_id"].tolist())) == [108, 110, 115, 118]
    assert set(d["ts_local"][d["update_id"] == 110].tolist()) == {T0 + 3_000_000}
    bids, asks, synced, uid = book_at(d, len(d["ts_local"]))
    assert synced and uid == 118
    assert levels(bids) == {"100.00": "2", "99.98": "7"}
    assert levels(asks) == {"100.03": "2", "100.05": "3"}
    # the research frames give the backtest the same depth
    same = load_frames(tmp_path / "c.gz").to_market_data()
    assert same.depth is not None and all(np.array_equal(same.depth[k], d[k]) for k in d)
    assert read_capture(tmp_path / "c.gz", depth=False).depth is None


def test_a_snapshot_too_old_for_the_stream_is_skipped_for_the_next(tmp_path):
    lines = [
        snapshot(50, [["99.99", "1"]], [["100.02", "1"]]),  # a recorder's first snapshot, before its streams
        update(100, 105, bids=[["99.98", "4"]]),
        snapshot(103, [["99.99", "2"]], [["100.02", "3"]]),
        update(106, 107, asks=[["100.04", "1"]]),
    ]
    md = read_capture(capture(tmp_path / "c.gz", lines))
    assert md.depth is not None and md.meta["depth_gaps"] == []
    assert any("lastUpdateId=50 is too old" in n for n in md.meta["depth_notes"])
    assert md.depth["ts_local"][0] == T0 + 3_000_000  # from the second snapshot on
    bids, asks, synced, _ = book_at(md.depth, len(md.depth["ts_local"]))
    assert synced and levels(bids) == {"99.99": "2", "99.98": "4"} and levels(asks) == {"100.02": "3", "100.04": "1"}


def test_a_gap_drops_the_book_loudly_until_a_snapshot_rebuilds_it(tmp_path, caplog):
    lines = [
        snapshot(10, [["99.99", "1"]], [["100.02", "1"]]),
        update(11, 12, bids=[["99.98", "2"]]),
        update(15, 16, bids=[["99.97", "3"]]),  # 13 and 14 lost
        update(17, 18, asks=[["100.03", "5"]]),  # applies to nothing: the book is gone
        snapshot(20, [["99.95", "8"]], [["100.06", "9"]]),
        update(21, 22, asks=[["100.07", "1"]]),
    ]
    with caplog.at_level(logging.WARNING, logger="liqkit.data"):
        md = read_capture(capture(tmp_path / "c.gz", lines))
    (gap,) = md.meta["depth_gaps"]
    assert "U=15 after u=12" in gap and "2 updates missing" in gap and "dropped" in gap
    assert any(gap in r.getMessage() for r in caplog.records)
    d = md.depth
    assert d is not None
    lost = np.flatnonzero(d["reset"] == LOST)
    assert len(lost) == 1 and d["ts_local"][lost[0]] == T0 + 3_000_000
    assert list(d["reset"][d["reset"] != DIFF]) == [SNAPSHOT, LOST, SNAPSHOT]
    # the simulated exchange follows it: L2 book, top alone, L2 book again
    ex = SimExchange()
    ex.add_symbol(md.rules)
    ex.on_book(0, 9_999, 100_000, 10_002, 100_000)
    seen = []
    for reset, side, price, qty in zip(*(d[k].tolist() for k in ("reset", "side", "price", "qty")), strict=True):
        ex.on_depth(0, reset, side, price, qty)
        seen.append(ex.has_depth(0))
    assert seen[0] and not seen[lost[0]] and seen[-1]
    assert ex.levels(0, 5) == (
        [(9_999, 100_000), (9_995, 800_000)],
        [(10_002, 100_000), (10_006, 900_000), (10_007, 100_000)],
    )


def test_a_gap_never_rebuilt_is_said_and_no_snapshot_means_no_depth(tmp_path, caplog):
    lines = [snapshot(10, [["99.99", "1"]], [["100.02", "1"]]), update(11, 12), update(20, 21)]
    with caplog.at_level(logging.WARNING, logger="liqkit.data"):
        md = read_capture(capture(tmp_path / "a.gz", lines))
    assert len(md.meta["depth_gaps"]) == 2 and "never rebuilt" in md.meta["depth_gaps"][1]
    assert list(md.depth["reset"][md.depth["reset"] != DIFF]) == [SNAPSHOT, LOST]
    no_snap = read_capture(capture(tmp_path / "b.gz", [update(11, 12), update(13, 14)]))
    assert no_snap.depth is None and any("no snapshot" in n for n in no_snap.meta["depth_notes"])


def test_the_shipped_recording_rebuilds_its_book_without_a_gap(sample_data):
    d = sample_data.depth
    assert d is not None and sample_data.meta["depth_gaps"] == []
    assert d["reset"][0] == SNAPSHOT and int(d["update_id"][0]) == 50_093_239_218
    assert np.count_nonzero(d["reset"]) == 1  # one snapshot, in sync to the end
    bids, asks, synced, uid = book_at(d, len(d["ts_local"]))
    assert synced and uid == 50_093_696_318
    # the book rebuilt from depth ends where the real-time top ends
    assert (max(bids), min(asks)) == (int(sample_data.book["bid"][-1]), int(sample_data.book["ask"][-1]))
    # a slice starts from the book as it stood at its start, and ends where the whole does
    mid = int(sample_data.book["ts_local"][len(sample_data.book["ts_local"]) // 2])
    part = sample_data.slice_time(mid, None)
    assert part.depth is not None and part.depth["reset"][0] == SNAPSHOT and part.depth["ts_local"][0] == mid
    before = int(np.searchsorted(d["ts_local"], mid))
    at_cut = book_at(d, before)
    head = int(np.count_nonzero(part.depth["ts_local"] == mid)) - int(np.count_nonzero(d["ts_local"] == mid))
    assert book_at(part.depth, head)[:2] == at_cut[:2]
    assert book_at(part.depth, len(part.depth["ts_local"]))[:2] == (bids, asks)


def test_the_timeline_applies_depth_at_its_times(sample_data):
    md = sample_data.slice_time(None, int(sample_data.book["ts_local"][0]) + 5_000_000_000)
    ex = SimExchange()
    ex.add_symbol(md.rules)
    tl = Timeline(ex, ConstantLatency(0))
    depth = merge_depth([md])
    assert depth is not None
    tl.load_depth(depth)
    snap_ts = int(md.depth["ts_local"][0])
    item = tl.take(snap_ts - 1)
    assert item is None and not ex.has_depth(0)  # nothing before the snapshot's time
    t, kind, _ = tl.take(snap_ts)
    assert (t, kind) == (snap_ts, DEPTH)
    tl.depth()
    assert ex.has_depth(0) and len(ex.levels(0, 2000)[0]) > 500
    while (item := tl.take(1 << 62)) is not None:
        tl.depth()
    assert (dict(ex.books[0].l2_bids), dict(ex.books[0].l2_asks)) == book_at(md.depth, len(md.depth["ts_local"]))[:2]


def _post_only_config() -> LiqkitConfig:
    return LiqkitConfig(
        sim=SimConfig(fill_model="realistic", latency_ms=5, balances={"BTC": Decimal(1), "USDT": Decimal(100_000)}),
        pairs={"BTCUSDT": PairConfig(symbol="BTCUSDT", spread="1bps", levels=2, size=Decimal("0.001"))},  # type: ignore[arg-type]
    )


def test_the_backtest_runs_the_same_with_and_without_depth_when_no_order_crosses(sample_data):
    md = sample_data.slice_time(None, int(sample_data.book["ts_local"][0]) + 120_000_000_000)
    cfg = _post_only_config()
    with_depth = run_backtest(md, cfg)
    without = run_backtest(replace(md, depth=None), cfg)
    assert with_depth.metrics["fills"] > 10
    assert with_depth.orders.equals(without.orders) and with_depth.fills.equals(without.fills)
    timing = ("wall_s", "events_per_s")
    assert {k: v for k, v in with_depth.metrics.items() if k not in timing} == {
        k: v for k, v in without.metrics.items() if k not in timing
    }


@pytest.mark.parametrize("path", ["capture", "frames"])
def test_loader_keeps_depth_optional(tmp_path, path):
    lines = [snapshot(10, [["99.99", "1"]], [["100.02", "1"]]), update(11, 12, bids=[["99.98", "2"]])]
    p = capture(tmp_path / "c.gz", lines)
    from liqkit.data.loader import load_market_data

    if path == "capture":
        assert load_market_data(p).depth is not None and load_market_data(p, depth=False).depth is None
    else:
        frames = load_frames(p)
        assert frames.to_market_data().depth is not None and frames.to_market_data(depth=False).depth is None
