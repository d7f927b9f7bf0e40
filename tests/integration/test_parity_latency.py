"""The one rule under every latency model: the backtest and the live runner on a virtual clock make the
same decisions with lognormal and measured latency too; a seed reproduces a run; measured round trips
that are all the same are the constant latency."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
from test_parity import assert_same, quoting_config, records

from liqkit.backtest import run_backtest
from liqkit.backtest.replay import run_replay
from liqkit.domain.config import LiqkitConfig, SimConfig
from liqkit.engine.latency import LognormalLatency, MeasuredLatency


def with_sim(cfg: LiqkitConfig, **sim: object) -> LiqkitConfig:
    base = cfg.sim.model_dump()
    base.update(latency_ms=0.0, **sim)
    return cfg.model_copy(update={"sim": SimConfig(**base)})


def test_lognormal_latency_keeps_the_two_paths_equal_and_a_seed_reproduces_the_run(sample_data):
    cfg = with_sim(
        quoting_config(),
        latency="lognormal",
        latency_p50_ms=8,
        latency_p99_ms=80,
        latency_cancel_p50_ms=2,
        latency_cancel_p99_ms=20,
        latency_seed=5,
    )
    bt = run_backtest(sample_data, cfg)
    assert bt.metrics["fills"] > 30
    assert_same(bt, run_replay(sample_data, cfg))
    assert records(run_backtest(sample_data, cfg)) == records(bt)  # the same seed: the same backtest
    other = with_sim(cfg, latency_seed=6)
    assert records(run_backtest(sample_data, other)) != records(bt)  # another seed: other delays, other run
    model = LognormalLatency.from_ms(8, 80, 2, 20, seed=5)
    assert records(run_backtest(sample_data, quoting_config(), latency=model)) == records(bt)  # the config's model


def test_measured_latency_keeps_the_two_paths_equal(sample_data):
    b = sample_data.book["ts_local"]
    t0, t1 = int(b[0]), int(b[-1])
    ts = [t0 + i * (t1 - t0) // 50 for i in range(51)]
    place = [(3 + 40 * (i % 7 == 0) + i % 5) * 1_000_000 for i in range(51)]  # 3 to 47 ms, spiky
    cancel = [(1 + i % 3) * 1_000_000 for i in range(51)]
    model = MeasuredLatency(ts, place, ts, cancel)
    cfg = quoting_config(latency_ms=0)
    bt = run_backtest(sample_data, cfg, latency=model)
    assert bt.metrics["fills"] > 30
    assert_same(bt, run_replay(sample_data, cfg, latency=model))
    assert records(bt) != records(run_backtest(sample_data, quoting_config(latency_ms=5)))


def test_round_trips_all_the_same_replay_as_the_constant_latency(sample_data, tmp_path):
    b = sample_data.book["ts_local"]
    t0 = int(b[0])
    rows = pd.DataFrame(
        {
            "ts_sent": [t0 + i * 10**9 for i in range(5)] * 2,
            "ts_answer": [t0 + i * 10**9 + 10_000_000 for i in range(5)] * 2,  # 10 ms round trips
            "kind": ["place"] * 5 + ["cancel"] * 5,
        }
    )
    rows.to_csv(tmp_path / "rt.csv", index=False)
    measured = with_sim(quoting_config(), latency="measured", latency_file=str(tmp_path / "rt.csv"))
    constant = quoting_config(latency_ms=5)  # 5 ms each way
    assert records(run_backtest(sample_data, measured)) == records(run_backtest(sample_data, constant))
    assert measured.sim.balances == {"BTC": Decimal(1), "USDT": Decimal(100_000)}
