"""The active rebalance in backtests: the base share drifts out of its band and the rebalance brings it
back (the share's trajectory), its fills labelled, its cost on its own PnL line adding up with the rest,
the same decisions in the backtest and in the live runner on a virtual clock, and the CLI's metrics."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from pnl_check import assert_metrics_match

from liqkit.backtest import run_backtest
from liqkit.backtest.replay import run_replay
from liqkit.data.synthetic import synthetic_feed
from liqkit.domain.config import LiqkitConfig, PairConfig, SimConfig
from liqkit.journal import Journal
from liqkit.research import backtest_report

BAND = Decimal("0.01")  # the share kept within 49% .. 51%
LO, HI = 0.5 - float(BAND), 0.5 + float(BAND)
SAMPLES = Path(__file__).resolve().parents[2] / "liqkit" / "data" / "samples"


@pytest.fixture(scope="module")
def drifting():
    """A synthetic BTCUSDT market that wanders about 7% in 10 minutes: half BTC, half USDT at the start,
    so the base share of the value follows the price out of a 1% band."""
    return synthetic_feed("BTCUSDT", seconds=600, seed=3, volatility_bps=40, events_per_s=20)


def config(**rebalance) -> LiqkitConfig:
    pair = PairConfig(symbol="BTCUSDT", spread="30bps", max_order_notional=Decimal(2000), **rebalance)
    sim = SimConfig(balances={"BTC": Decimal(1), "USDT": Decimal(60_000)}, maker_fee_bps=1, taker_fee_bps=2)
    return LiqkitConfig(sim=sim, pairs={"BTCUSDT": pair})


def outside_runs(share: np.ndarray) -> list[int]:
    """How many samples (seconds) in a row each excursion out of the band lasted."""
    runs, n = [], 0
    for out in (share > HI + 1e-9) | (share < LO - 1e-9):
        if out:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    return runs + ([n] if n else [])


def test_without_rebalance_the_share_drifts_out_of_the_band_and_stays(drifting):
    res = run_backtest(drifting, config())
    share = res.samples["base_share"].to_numpy()
    assert abs(share[0] - 0.5) < 0.001
    assert share.max() > HI + 0.015  # the price took it well past 51%
    assert max(outside_runs(share)) > 30  # and it stayed out
    assert res.metrics["rebalance_fills"] == 0 and res.metrics["rebalance_cost"] == 0.0
    assert set(res.fills["purpose"]) <= {"quote"}


@pytest.mark.parametrize("mode", ["taker", "maker"])
def test_the_rebalance_brings_the_share_back_into_the_band(drifting, mode):
    res = run_backtest(drifting, config(rebalance_band=BAND, rebalance_mode=mode))
    share = res.samples["base_share"].to_numpy()
    m = res.metrics
    assert m["rebalance_fills"] >= 3, m
    # the trajectory: every excursion out of the band is short, and never far
    runs = outside_runs(share)
    assert not runs or max(runs) <= 15, runs  # seconds: a thin synthetic top, an IOC a second
    assert share.min() > LO - 0.005 and share.max() < HI + 0.005, (share.min(), share.max())
    assert LO - 1e-9 <= share[-1] <= HI + 1e-9 or runs[-1] <= 15
    # the labelled fills: the rebalance's orders (their own ids), maker or taker as configured
    f = res.fills
    rb = f[f["purpose"] == "rebalance"]
    assert len(rb) == m["rebalance_fills"] and set(f["purpose"]) <= {"quote", "rebalance"}
    assert rb["client_id"].str.contains(r"\.R[BS]0\.").all()
    assert (rb["is_maker"] == (mode == "maker")).all()
    assert not f[f["purpose"] == "quote"]["client_id"].str.contains(r"\.R[BS]0\.").any()
    # while the price rose the share went up: the rebalance sold BTC (and bought when it fell)
    assert set(rb["side"].astype(str)) >= {"SELL"}
    o = res.orders
    assert set(o[o["purpose"] == "rebalance"]["client_id"]) >= set(rb["client_id"])
    # the PnL split: rebalance cost on its own line, and the lines add up
    check = assert_metrics_match(m, f, drifting)
    assert check.rebalance_fills == len(rb) > 0
    parts = m["spread_capture"] + m["inventory_pnl"] - m["fees"] - m["rebalance_cost"]
    assert parts == pytest.approx(m["pnl"], rel=1e-12, abs=1e-9)
    assert check.spread_capture + check.inventory_pnl - check.fees - check.rebalance_cost == check.pnl  # exact
    if mode == "taker":  # a taker pays the spread and the taker fee: a cost
        assert m["rebalance_cost"] > 0
    report = backtest_report(res, drifting).pnl
    assert list(report.index) == ["spread_capture", "inventory_pnl", "fees", "rebalance_cost", "pnl"]
    assert report.drop("pnl").sum() == pytest.approx(report["pnl"], abs=1e-9)
    assert report["rebalance_cost"] == -m["rebalance_cost"]


def test_the_shipped_recording_starts_out_of_the_band_and_is_rebalanced_at_once(sample_data):
    # 1 BTC and 100,000 USDT at about 61,800: 38% BTC, below 40%
    sim = SimConfig(balances={"BTC": 1, "USDT": 100_000})
    off = run_backtest(sample_data, LiqkitConfig(sim=sim, pairs={"BTCUSDT": PairConfig(symbol="BTCUSDT")}))
    assert (off.samples["base_share"] < 0.4).all()  # without it, 38% all along
    pair = PairConfig(symbol="BTCUSDT", rebalance_band=Decimal("0.1"), max_order_notional=Decimal(5000))
    res = run_backtest(sample_data, LiqkitConfig(sim=sim, pairs={"BTCUSDT": pair}))
    share = res.samples["base_share"].to_numpy()
    assert ((share >= 0.4) & (share <= 0.6)).all()  # back in the band by the first sample, and kept there
    rb = res.fills[res.fills["purpose"] == "rebalance"]
    assert len(rb) >= 1 and set(rb["side"].astype(str)) == {"BUY"} and rb["is_maker"].all()
    assert res.metrics["rebalance_fills"] == len(rb)
    assert rb["ts"].iloc[0] - int(sample_data.book["ts_local"][0]) < 5_000_000_000  # within seconds of the start
    reasons = " ".join(res.states["reason"])
    assert "rebalancing: BTC share 38." in reasons and "rebalanced: BTC share" in reasons


@pytest.mark.parametrize("mode", ["taker", "maker"])
def test_backtest_and_live_runner_make_the_same_rebalance(drifting, mode, tmp_path):
    cfg = config(rebalance_band=BAND, rebalance_mode=mode)
    bt = run_backtest(drifting, cfg)
    live = run_replay(drifting, cfg, state_dir=tmp_path)
    for a, b in ((bt.orders, live.orders), (bt.fills, live.fills)):
        cols = [
            c for c in ("ts", "client_id", "status", "filled_steps", "price_ticks", "qty_steps", "purpose") if c in a
        ]
        assert a[cols].reset_index(drop=True).equals(b[cols].reset_index(drop=True))
    assert bt.metrics["rebalance_fills"] == live.metrics["rebalance_fills"] > 0
    assert bt.metrics["rebalance_cost"] == live.metrics["rebalance_cost"]
    assert bt.metrics["pnl"] == live.metrics["pnl"]
    # the live runner journaled the labels: its rebalance's orders and fills
    with Journal.in_state_dir(tmp_path, engine_id="replay") as j:
        fills, orders = j.fills(), j.orders()
    assert (fills["purpose"] == "rebalance").sum() == live.metrics["rebalance_fills"]
    assert set(orders[orders["purpose"] == "rebalance"]["client_id"]) == set(
        live.orders[live.orders["purpose"] == "rebalance"]["client_id"]
    )


def test_the_backtest_command_prints_the_rebalance_cost(tmp_path):
    cfg = tmp_path / "rebalance.toml"
    cfg.write_text(
        '[sim.balances]\nBTC = 1\nUSDT = 100000\n\n[pairs.BTCUSDT]\nrebalance_band = 0.1\nrebalance_mode = "taker"\n'
        'max_order_notional = "5000"\n'
    )
    data = str(SAMPLES)
    out = subprocess.run(
        [sys.executable, "-m", "liqkit.cli", "backtest", "--data", data, "--config", str(cfg), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    m = json.loads(out.stdout)
    assert m["rebalance_fills"] >= 1 and m["rebalance_cost"] > 0
    assert m["spread_capture"] + m["inventory_pnl"] - m["fees"] - m["rebalance_cost"] == pytest.approx(m["pnl"])
    text = subprocess.run(
        [sys.executable, "-m", "liqkit.cli", "backtest", "--data", data, "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "rebalance_cost" in text.stdout and "rebalance_fills" in text.stdout
