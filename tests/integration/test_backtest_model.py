"""Model-based quoting on the one engine path: a ``model = "glft"`` pair backtested on the shipped
recording quotes the model's spreads and skews them with its inventory (fixed spreads do not), and
the live runner on a virtual clock makes the very same decisions."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from liqkit.backtest import run_backtest
from liqkit.backtest.replay import run_replay
from liqkit.domain.config import LiqkitConfig, PairConfig, SimConfig

# the shipped recording's fit (liqkit.research.stats.fit_intensity): A = 2.54/s, k = 1.28/bps
MODEL = {"intensity_a": "2.54/s", "intensity_k": "1.28/bps", "gamma": 1.0, "vol_window": 30}


def config(pair: PairConfig) -> LiqkitConfig:
    sim = SimConfig(balances={"BTC": Decimal(1), "USDT": Decimal(100_000)}, maker_fee_bps=Decimal(0))
    return LiqkitConfig(sim=sim, pairs={"BTCUSDT": pair})


GLFT = PairConfig(symbol="BTCUSDT", model="glft", refresh_tolerance="0.1bps", max_spread="20bps", **MODEL)
FIXED = PairConfig(symbol="BTCUSDT", spread="1bps", refresh_tolerance="0.1bps")


def placements(result, data) -> dict[str, np.ndarray]:
    """Every order placed: its side, its distance from the mid the engine saw (ticks; no latency, so the
    last book row at or before it) and the inventory then (lots of 0.001 BTC, from the fills before it)."""
    o = result.orders
    new = o[o["status"] == "PENDING_NEW"]
    ts = new["ts"].to_numpy(np.int64)
    book_ts = np.asarray(data.book["ts_local"], np.int64)
    row = np.searchsorted(book_ts, ts, side="right") - 1
    mid = (np.asarray(data.book["bid"])[row] + np.asarray(data.book["ask"])[row]) / 2
    f = result.fills
    signed = f["side_sign"].to_numpy(np.int64) * f["qty_steps"].to_numpy(np.int64)
    fill_ts = f["ts"].to_numpy(np.int64)
    pos = np.concatenate([[0], np.cumsum(signed)])[np.searchsorted(fill_ts, ts, side="right")]
    buy = new["side"].astype(str).to_numpy() == "BUY"
    price = new["price_ticks"].to_numpy(np.int64)
    return {"buy": buy, "depth": np.where(buy, mid - price, price - mid), "lots": pos / 100}


@pytest.fixture(scope="module")
def runs(sample_data):
    return {name: run_backtest(sample_data, config(pc)) for name, pc in (("glft", GLFT), ("fixed", FIXED))}


def test_glft_skews_with_the_inventory_and_fixed_spreads_do_not(runs, sample_data):
    g = placements(runs["glft"], sample_data)
    f = placements(runs["fixed"], sample_data)
    assert runs["glft"].metrics["fills"] > 50 and len(g["depth"]) > 200
    held = g["lots"] != 0
    assert held.sum() > 100 and (g["lots"] > 0).any() and (g["lots"] < 0).any()  # long and short
    bids, asks = g["buy"], ~g["buy"]
    # long (q > 0): the bid farther from the mid, the ask closer -- both quotes lower; short: the mirror
    assert np.corrcoef(g["depth"][bids], g["lots"][bids])[0, 1] > 0.6
    assert np.corrcoef(g["depth"][asks], g["lots"][asks])[0, 1] < -0.6
    # the skew is sigma*c2 a lot: at a sigma near the recording's 1.19 bps/sqrt(s), c2 = 0.756 /sqrt(s)
    slope = np.polyfit(g["lots"][bids], g["depth"][bids], 1)[0] / 618  # ticks -> bps at 61,800
    assert 0.3 < slope < 2.5
    # fixed spreads: 1 bps from the mid, whatever the inventory (618 ticks, give or take rounding)
    assert np.abs(f["depth"] - 618).max() <= 16
    assert runs["fixed"].metrics["fills"] > 50 and (f["lots"] != 0).sum() > 100


def test_the_model_spreads_stay_within_min_and_max_spread(sample_data):
    tight = GLFT.model_copy(update={"max_spread": PairConfig(symbol="BTCUSDT", spread="0.6bps").bid_spread})
    res = run_backtest(sample_data, config(tight))
    d = placements(res, sample_data)["depth"]
    assert res.metrics["orders_placed"] > 50
    top = 0.6e-4 * np.asarray(sample_data.book["ask"]).max()  # 0.6 bps of the highest mid, ticks
    assert d.max() <= top + 1 and d.min() >= 0 and (d > top - 2).mean() > 0.5  # clamped, never across the mid


def test_the_live_runner_on_a_virtual_clock_makes_the_same_glft_decisions(sample_data, runs, tmp_path):
    bt = runs["glft"]
    live = run_replay(sample_data, config(GLFT), state_dir=tmp_path)
    cols = ["ts", "client_id", "status", "price_ticks", "qty_steps", "filled_steps", "reason"]
    assert bt.orders[cols].reset_index(drop=True).equals(live.orders[cols].reset_index(drop=True))
    fcols = ["ts", "client_id", "price_ticks", "qty_steps", "fee_nu"]
    assert bt.fills[fcols].reset_index(drop=True).equals(live.fills[fcols].reset_index(drop=True))
    for k in ("orders_placed", "orders_cancelled", "fills", "final_position", "pnl"):
        assert bt.metrics[k] == live.metrics[k], k
