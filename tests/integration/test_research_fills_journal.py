"""Fill analytics from a live session's journal equal those of a backtest of the same data.

``liqkit trade --data ... --clock virtual`` is the live runner (journal included) on the simulated exchange
replaying the shipped recording, as a real process; the backtest runs the same config on the same data.
The one engine path makes the same fills, so the journal's fill table, markouts, fills per level and time
to fill are the backtest's, value for value.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from liqkit.backtest import run_backtest
from liqkit.data.loader import load_market_data
from liqkit.domain.config import load_config
from liqkit.journal import Journal
from liqkit.research import fill_table, fills_per_level, markouts, time_to_fill

SAMPLES = Path(__file__).resolve().parents[2] / "liqkit" / "data" / "samples"
CONFIG = """
[sim]
fill_model = 'realistic'
maker_fee_bps = 1
taker_fee_bps = 2
latency_ms = 5
[sim.balances]
BTC = 1
USDT = 100000
[pairs.BTCUSDT]
spread = '1bps'
levels = 3
level_spacing = '0.5bps'
size = '0.001'
"""


def test_a_journaled_session_and_a_backtest_of_its_data_give_the_same_fill_analytics(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG)
    state = tmp_path / "state"
    replay = ["trade", "--data", str(SAMPLES), "--clock", "virtual", "--config", str(cfg), "--state-dir", str(state)]
    p = subprocess.run(
        [sys.executable, "-m", "liqkit.cli", *replay, "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr
    live_metrics = json.loads(p.stdout)
    data = load_market_data(SAMPLES)
    bt = run_backtest(data, load_config(cfg))

    live = fill_table(state)  # the state directory's SQLite journal
    with Journal.in_state_dir(state, engine_id="reader") as j:
        pd.testing.assert_frame_equal(fill_table(j), live)  # a Journal object reads the same
        assert len(j.fills()) == len(live) == live_metrics["fills"]
    back = fill_table(bt)
    assert len(back) == bt.metrics["fills"] == live_metrics["fills"] > 100
    assert list(live.columns) == list(back.columns) and (live.dtypes == back.dtypes).all()
    assert live["level"].notna().all() and live["placed_ts"].notna().all()  # the journal's order records tell
    pd.testing.assert_frame_equal(live, back)
    pd.testing.assert_frame_equal(markouts(live, data), markouts(back, data))
    pd.testing.assert_frame_equal(fills_per_level(live), fills_per_level(back))
    pd.testing.assert_frame_equal(time_to_fill(live), time_to_fill(back))
    assert set(fills_per_level(live).index.get_level_values("level")) == {0, 1, 2}
