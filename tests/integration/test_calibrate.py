"""``liqkit calibrate`` end to end: the engine trades a ``liqkit sim-server`` replaying the shipped recording
with hidden matching parameters (a queue model and a latency of its own), the market is recorded, and the
recording is backtested under each queue model; the report compares them with live."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from liqkit.journal import Journal
from liqkit.venues.binance_server.process import SimServerProcess

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "binance-spot-btcusdt" / "btcusdt_20240808.gz"
CONFIG = """
[sim]
fill_model = "realistic"

[pairs.BTCUSDT]
reference = "touch"
spread = "0ticks"
levels = 1
refresh_tolerance = "1bps"
"""
HIDDEN_P50_MS = 15


@pytest.fixture
def config(tmp_path: Path) -> Path:
    p = tmp_path / "calibrate.toml"
    p.write_text(CONFIG)
    return p


def test_calibrate_against_a_sim_server_with_hidden_matching(tmp_path: Path, config: Path) -> None:
    assert DATA.is_file(), f"the shipped recording is missing: {DATA}"
    hidden = ["--queue-model", "prob-log"]
    hidden += ["--latency-p50-ms", str(HIDDEN_P50_MS), "--latency-p99-ms", "40", "--latency-seed", "3"]
    out = tmp_path / "out"
    with SimServerProcess(["--data", str(DATA), "--config", str(config), *hidden], speed=1.0) as srv:
        cmd = [sys.executable, "-m", "liqkit.cli", "calibrate", "--config", str(config), "--venue", srv.url]
        cmd += ["--duration", "60", "--out", str(out), "--keys-file", str(srv.keys_file), "--tail", "2"]
        cmd += ["--models", "risk-averse,prob-log,prob-power:3", "--json"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) >= {"venue", "live", "models", "best", "latency", "duration_s"}
    assert report["venue"] == srv.url and 59 <= report["duration_s"] < 120

    # live is what the journal says
    with Journal(out / "journal" / "journal.sqlite", engine_id="reader") as j:
        fills, orders = j.fills(), j.orders()
    live = report["live"]
    assert live["fills"] == len(fills) > 0, "no live fills: nothing was calibrated"
    assert live["buy_fills"] == int((fills["side"] == "BUY").sum())
    assert live["orders_placed"] == int((orders["status"] == "PENDING_NEW").sum())
    assert sum(live["per_level"].values()) == len(fills)

    # one entry per model, the same metrics as live, and the closest is one of them
    assert set(report["models"]) == {"risk-averse", "prob-log", "prob-power:3"}
    for label, m in report["models"].items():
        assert set(live) <= set(m), label
        assert m["orders_placed"] > 0 and 0 <= m["matched_share"] <= 1, label
        assert m["score"] == pytest.approx(abs(m["fills"] - live["fills"]) / live["fills"] + 1 - m["matched_share"])
    assert report["best"] == min(report["models"], key=lambda k: report["models"][k]["score"])

    # quoting at the touch, the queue decides: the calibration names the model the server hides, and it is
    # close (on a quiet machine within 10 % of live fills and 80 % matched; a loaded one delays the engine's
    # view of the market more than the recorded feed lags show: 11 % was seen with five test runs beside
    # it, hence the margin). prob-log is hidden because it differs from the others by more than a minute of
    # fills can resolve: on this recording 461 fills against risk-averse's 334 and prob-power:3's 343 (those
    # two are 3 % apart, less than the noise of 40 live fills; a minute cannot tell them apart)
    models = report["models"]
    assert report["best"] == "prob-log", {k: (m["fills"], round(m["score"], 3)) for k, m in models.items()}
    best = models["prob-log"]
    assert abs(best["fill_count_error"]) <= 0.20 and best["matched_share"] >= 0.75, best

    # the latency the server hid is in the round trips the session measured (never less); the fit says how
    # much of each is spent on the way in (the server delays requests, not answers: on a quiet machine the
    # fit picks 0.75 or 1, the even split being 13 % over live; on a loaded one the engine's own delays
    # before it sends make live slower than the round trips say, and 0.5 fitted best in a CI run)
    assert report["latency"]["place"]["n"] > 0
    assert report["latency"]["place"]["p50_ms"] >= HIDDEN_P50_MS
    assert all(m["inbound_share"] in (0.5, 0.75, 1.0) for m in models.values())
    assert report["latency"]["inbound_share"] == best["inbound_share"], best
    place = report["latency"]["place"]
    assert place["inbound_p50_ms"] == pytest.approx(place["p50_ms"] * best["inbound_share"])

    # the tables and the figure are written
    d = out / "report"
    assert json.loads((d / "report.json").read_text())["best"] == report["best"]
    cmp = pd.read_csv(d / "comparison.csv", index_col=0)
    assert list(cmp.index) == ["live", "risk-averse", "prob-log", "prob-power:3"]
    assert cmp.loc["live", "fills"] == len(fills)
    assert (d / "report.html").stat().st_size > 100_000  # plotly.js inside: it opens offline
    assert (out / "latency.csv").is_file() and any((out / "recording" / "btcusdt").glob("*.gz"))


def test_calibrate_refuses_bad_input_before_anything_starts(tmp_path: Path, config: Path) -> None:
    base = [sys.executable, "-m", "liqkit.cli", "calibrate", "--config", str(config), "--out", str(tmp_path / "o")]
    for extra, says in (
        (["--venue", "http://127.0.0.1:9", "--duration", "0"], "--duration"),
        (["--venue", "sim", "--duration", "5"], "not the in-process simulated exchange"),
        (["--venue", "http://127.0.0.1:9", "--duration", "5", "--models", "fifo"], "'fifo' is not a queue model"),
        (["--venue", "moon", "--duration", "5"], "--venue 'moon'"),
    ):
        done = subprocess.run([*base, *extra], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, (extra, done.stderr)
        assert says in done.stderr and "Traceback" not in done.stderr, (extra, done.stderr)
    assert not (tmp_path / "o").exists()
