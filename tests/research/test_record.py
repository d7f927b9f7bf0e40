"""``liqkit record`` through python-binance against liqkit's Binance-compatible server on 127.0.0.1,
replaying the real shipped recording: files in the capture format, rotation, snapshots, reconnects."""

import asyncio
import gzip
import json
import signal
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from processes import free_port, wait_for

from liqkit.data.capture import load_sample
from liqkit.data.frames import GAP_STREAM, load_frames
from liqkit.research.record import Recorder
from liqkit.venues.binance_server.faults import Fault, FaultPlan


def _lines(path):
    with gzip.open(path, "rt") as fh:
        return [(int(ln.split(" ", 1)[0]), json.loads(ln.split(" ", 1)[1])) for ln in fh]


def _book_sync(lines) -> str:
    """How a file rebuilds the book, as Binance says to: from a depth snapshot, the first update with
    ``u`` > its lastUpdateId must have ``U`` <= lastUpdateId + 1 ("synced"). The recording's very first
    snapshot, taken before the streams came up, cannot be synced to; the one taken once they streamed
    can. A file with no update after its snapshots (it began during an outage, or at the stop) "ends at
    its snapshot"; updates that skip ahead of every snapshot "skip ahead"."""
    msgs = [m for _, m in lines]
    result = "no snapshot"
    for i, m in enumerate(msgs):
        if "lastUpdateId" not in m:
            continue
        last_id = m["lastUpdateId"]
        depth = (x["data"] for x in msgs[i + 1 :] if x.get("stream", "").startswith("btcusdt@depth"))
        first = next((u for u in depth if u["u"] > last_id), None)
        if first is not None and first["U"] <= last_id + 1:
            return "synced"
        if result != "skip ahead":
            result = "ends at its snapshot" if first is None else "skip ahead"
    return result


async def record_until(rec: Recorder, done, timeout: float = 120.0):
    """Run ``rec`` until ``done(rec)`` holds (checked between frames, on the recorder's loop), at most
    ``timeout`` seconds; the assertions after it say what was missing if it never did."""

    async def watch() -> None:
        end = asyncio.get_running_loop().time() + timeout
        while not done(rec) and asyncio.get_running_loop().time() < end:
            await asyncio.sleep(0.05)
        rec.stop()

    watcher = asyncio.create_task(watch())
    try:
        return await rec.run()
    finally:
        watcher.cancel()


def test_record_rotates_snapshots_and_survives_a_dropped_stream(serve_binance, tmp_path):
    faults = FaultPlan([Fault("stream", "drop", at=(400,))])  # the server drops the stream once
    seen = {}

    def done(rec: Recorder) -> bool:
        # the drop behind us and two whole files begun after it (and a third just begun), and every
        # snapshot asked for written (one at the start, one when the streams came up, one per later file,
        # one after the reconnect). Whether a file around the drop gets an update after its snapshot
        # depends on when, under load, the drop fell; the two whole files after it do not.
        st = rec.stats
        if rec.reconnects and "files" not in seen:
            seen["files"] = len(st.files)
        return (
            len(st.files) >= 3
            and len(st.files) >= seen.get("files", len(st.files)) + 3
            and st.snapshots["BTCUSDT"] == len(st.files) + 2
        )

    with serve_binance(faults) as srv:
        rec = Recorder(["BTCUSDT"], tmp_path, venue=srv["url"], rotate_s=2)
        stats = asyncio.run(record_until(rec, done))
    assert faults.injected["drop"] == 1
    files = sorted((tmp_path / "btcusdt").glob("btcusdt_*.gz"))
    assert files == sorted(stats.files) and len(files) >= 3, stats  # new files every 2 s of local time
    assert not stats.errors, stats.errors
    assert stats.frames["BTCUSDT bookTicker"] > 100 and stats.frames["BTCUSDT trade"] > 10
    first = _lines(files[0])
    assert "lastUpdateId" in first[0][1]  # the recording starts with a REST depth snapshot
    # every file rebuilds the book on its own (one begun during the outage holds its snapshot and no update)
    sync = {f.name: _book_sync(_lines(f)) for f in files}
    assert set(sync.values()) <= {"synced", "ends at its snapshot"}, sync
    after_drop = [sync[f.name] for f in files[seen["files"] : -1]]  # the whole files begun after the drop
    assert after_drop == ["synced", "synced"], sync
    for f in files:
        ts = [t for t, _ in _lines(f)]
        assert ts == sorted(ts), f"{f.name}: local times go backwards"
    # the drop: python-binance reconnected by itself, the files say where, and a new snapshot followed
    assert rec.reconnects == 1 and len(stats.gaps) == 1
    every = [(t, m) for f in files for t, m in _lines(f)]
    marks = [i for i, (_, m) in enumerate(every) if m.get("stream") == f"btcusdt@{GAP_STREAM}"]
    assert len(marks) == 1
    after = [m for _, m in every[marks[0] :]]
    assert any("lastUpdateId" in m for m in after) and any(m.get("stream", "").endswith("@trade") for m in after)
    # the recording reads back: real trades of the replayed capture, and the gap is reported
    frames = load_frames(tmp_path / "btcusdt")
    sample = load_sample()
    assert set(frames.trades["trade_id"]) <= set(sample.trades["trade_id"].tolist())
    assert len(frames.book) == stats.frames["BTCUSDT bookTicker"]
    assert (frames.book["bid"] < frames.book["ask"]).all()
    assert "marker" in frames.gaps["kind"].tolist() and "trade_id" in frames.gaps["kind"].tolist()
    assert np.isfinite(frames.skew_summary()["median_ms"])


def _readable_lines(path: Path) -> list[str]:
    """The complete lines of a gzip capture still being written (what its last flush made readable)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return zlib.decompressobj(wbits=31).decompress(data).decode("utf-8", "replace").split("\n")[:-1]


def test_record_command_writes_a_capture_per_symbol(serve_binance, liqkit_main, tmp_path, capsys):
    def recorded() -> bool:  # frames on disk (the recorder flushes every 2 s)
        lines = [ln for f in (tmp_path / "btcusdt").glob("*.gz") for ln in _readable_lines(f)]
        return sum("@bookTicker" in ln for ln in lines) > 50 and any("@trade" in ln for ln in lines)

    with serve_binance() as srv:  # `liqkit record` as a user runs it, until Ctrl-C
        cmd = [sys.executable, "-m", "liqkit.cli", "record", "--symbols", "btcusdt", "--out", str(tmp_path)]
        cmd += ["--venue", srv["url"]]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: recorded() or proc.poll() is not None, 120, "frames in the capture")
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Ctrl-C stops" in out and "BTCUSDT bookTicker" in out and "BTCUSDT trade" in out and "gaps 0" in out
    assert "Traceback" not in err
    # closed cleanly: every file reads back whole (one, unless the run crossed the UTC hour)
    assert load_frames(tmp_path / "btcusdt").summary()["book_rows"] > 50
    # record -> convert -> backtest, all from the command line
    assert liqkit_main(["convert", str(tmp_path / "btcusdt"), "--out", str(tmp_path / "btcusdt.parquet")]) == 0
    assert liqkit_main(["backtest", "--data", str(tmp_path / "btcusdt.parquet"), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert metrics["symbols"] == ["BTCUSDT"] and metrics["events"] > 50


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--symbols", "BTC-USDT"], "'BTC-USDT' is not a Binance symbol"),
        (["--symbols", "BTCUSDT", "--venue", "binance-moon"], "is none of binance-testnet, binance-demo, binance-live"),
        (["--symbols", "BTCUSDT", "--duration", "-1"], "--duration: -1.0 must be > 0"),
        (["--symbols", "BTCUSDT", "--depth-limit", "7"], "--depth-limit: 7"),
        (["--symbols", "BTCUSDT", "--venue", "http://127.0.0.1:{port}"], "cannot reach http://127.0.0.1:"),
    ],
)
def test_record_bad_input_is_one_message_and_exit_2(liqkit_main, tmp_path, capsys, argv, message):
    argv = [a.format(port=free_port()) for a in argv]
    code = liqkit_main(["record", "--out", str(tmp_path / "out"), "--duration", "1", *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing half-done


def test_record_refuses_a_symbol_the_venue_does_not_list(serve_binance, liqkit_main, tmp_path, capsys):
    with serve_binance() as srv:
        code = liqkit_main(
            [
                "record",
                "--symbols",
                "BTCUSDT,DOGEUSDT",
                "--out",
                str(tmp_path),
                "--duration",
                "1",
                "--venue",
                srv["url"],
            ]
        )
    err = capsys.readouterr().err
    assert code == 2 and "DOGEUSDT on http://127.0.0.1" in err and "Invalid symbol" in err
