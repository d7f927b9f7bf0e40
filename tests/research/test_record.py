"""``liqkit record`` through python-binance against liqkit's Binance-compatible server on 127.0.0.1,
replaying the real shipped recording: files in the capture format, rotation, snapshots, reconnects."""

import asyncio
import gzip
import json

import numpy as np
import pytest
from processes import free_port

from liqkit.data.capture import load_sample
from liqkit.data.frames import GAP_STREAM, load_frames
from liqkit.data.record import Recorder
from liqkit.venues.binance_server.faults import Fault, FaultPlan


def _lines(path):
    with gzip.open(path, "rt") as fh:
        return [(int(ln.split(" ", 1)[0]), json.loads(ln.split(" ", 1)[1])) for ln in fh]


def test_record_rotates_snapshots_and_survives_a_dropped_stream(serve_binance, tmp_path):
    faults = FaultPlan([Fault("stream", "drop", at=(400,))])  # the server drops the stream once
    with serve_binance(faults) as srv:
        rec = Recorder(["BTCUSDT"], tmp_path, venue=srv["url"], rotate_s=2)
        stats = asyncio.run(rec.run(duration=7))
    assert faults.injected["drop"] == 1
    files = sorted((tmp_path / "btcusdt").glob("btcusdt_*.gz"))
    assert files == sorted(stats.files) and len(files) >= 3  # 7 s in 2 s files
    assert stats.frames["BTCUSDT bookTicker"] > 100 and stats.frames["BTCUSDT trade"] > 10
    first = _lines(files[0])
    assert "lastUpdateId" in first[0][1]  # the recording starts with a REST depth snapshot
    for f in files[1:]:  # every later file has its own snapshot near its top
        assert any("lastUpdateId" in msg for _, msg in _lines(f)[:200]), f.name
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


def test_record_command_writes_a_capture_per_symbol(serve_binance, liqkit_main, tmp_path, capsys):
    with serve_binance() as srv:
        code = liqkit_main(
            ["record", "--symbols", "btcusdt", "--out", str(tmp_path), "--duration", "2", "--venue", srv["url"]]
        )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "BTCUSDT bookTicker" in out and "BTCUSDT trade" in out and "gaps 0" in out
    (f,) = (tmp_path / "btcusdt").glob("*.gz")
    assert load_frames(f).summary()["book_rows"] > 50
    # record -> convert -> backtest, all from the command line
    assert liqkit_main(["convert", str(tmp_path / "btcusdt"), "--out", str(tmp_path / "btcusdt.parquet")]) == 0
    assert liqkit_main(["backtest", "--data", str(tmp_path / "btcusdt.parquet"), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert metrics["symbols"] == ["BTCUSDT"] and metrics["events"] > 50


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--symbols", "BTC-USDT"], "'BTC-USDT' is not a Binance symbol"),
        (["--symbols", "BTCUSDT", "--venue", "binance-moon"], "is neither binance-testnet nor binance-live"),
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
