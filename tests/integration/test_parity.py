"""The one rule, proven: the backtest and the live runner on a virtual clock make the same decisions.

``run_backtest`` walks the simulated exchange's timeline synchronously; ``run_replay`` runs the async
``EngineRunner`` (execution, timer, journal) on ``ReplayVenue`` over the same timeline. Every order
record (client id, status, time, reason) and every fill must be the same, and so the metrics.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqkit.backtest import bench_config, run_backtest
from liqkit.backtest.replay import run_replay
from liqkit.data.feed import MarketData
from liqkit.data.synthetic import load_bench_data
from liqkit.domain.config import Distance, EngineConfig, LiqkitConfig, PairConfig, SimConfig
from liqkit.journal import Journal

SHARED_BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "bench"
SAME = ("orders_placed", "orders_cancelled", "orders_filled", "orders_rejected", "fills", "buy_fills", "sell_fills")


def quoting_config(latency_ms: float = 5) -> LiqkitConfig:
    """(b): two levels, skew 0.5, realistic fills, fees, 5 ms each way."""
    return LiqkitConfig(
        sim=SimConfig(
            fill_model="realistic",
            maker_fee_bps=Decimal(1),
            taker_fee_bps=Decimal(2),
            latency_ms=latency_ms,
            balances={"BTC": Decimal(1), "USDT": Decimal(100_000)},
        ),
        pairs={
            "BTCUSDT": PairConfig(
                symbol="BTCUSDT",
                spread="2bps",  # type: ignore[arg-type]
                levels=2,
                level_spacing="1bps",  # type: ignore[arg-type]
                skew=Decimal("0.5"),
                inventory_target=Decimal("0.5"),
                size=Decimal("0.001"),
            )
        },
    )


def dist(text: str) -> Distance:
    return PairConfig(symbol="BTCUSDT", spread=text).bid_spread  # type: ignore[arg-type]


def records(result) -> tuple[list, list]:
    o, f = result.orders, result.fills
    orders = list(zip(o["ts"], o["client_id"], o["status"], o["filled_steps"], o["reason"], strict=True))
    fills = list(
        zip(f["ts"], f["client_id"], f["price_ticks"], f["qty_steps"], f["fee_nu"], f["is_maker"], strict=True)
    )
    return orders, fills


def assert_same(bt, live) -> None:
    bo, bf = records(bt)
    lo, lf = records(live)
    first = next((i for i, (a, b) in enumerate(zip(bo, lo, strict=False)) if a != b), None)
    assert first is None and len(bo) == len(lo), (
        f"orders differ at record {first}: {bo[first or 0]} vs {lo[first or 0]}"
    )
    assert bf == lf
    for k in SAME:
        assert bt.metrics[k] == live.metrics[k], k
    assert bt.metrics["final_position"] == live.metrics["final_position"]
    assert bt.metrics["pnl"] == live.metrics["pnl"]


@pytest.mark.parametrize("config", ["bench strategy", "levels 2, skew 0.5, realistic, fees, 5 ms"])
def test_shipped_recording_same_orders_and_fills_in_backtest_and_live_runner(sample_data, config, tmp_path):
    cfg = quoting_config() if config.startswith("levels") else bench_config()
    bt = run_backtest(sample_data, cfg)
    live = run_replay(sample_data, cfg, state_dir=tmp_path)
    assert bt.metrics["orders_placed"] > 200
    if config.startswith("levels"):
        assert bt.metrics["fills"] > 50 and bt.metrics["buy_fills"] and bt.metrics["sell_fills"]
    assert_same(bt, live)
    # the live run journaled what it did: every order it placed and every fill, in its SQLite journal
    with Journal.in_state_dir(tmp_path, engine_id="replay") as j:
        placed = j.orders()
        assert (placed["status"] == "PENDING_NEW").sum() >= live.metrics["orders_placed"]
        assert len(j.fills()) == live.metrics["fills"]


@pytest.fixture(scope="module")
def bench_slice(tmp_path_factory) -> MarketData:
    """The common benchmark's generator, 60,000 book events (about 72,000 events with trades)."""
    if not SHARED_BENCH.is_dir():
        pytest.fail(f"the common benchmark is missing: expected {SHARED_BENCH} (../shared beside the repository)")
    out = tmp_path_factory.mktemp("bench")
    subprocess.run(
        [sys.executable, "gen_data.py", "--n", "60000", "--out", str(out)],
        cwd=SHARED_BENCH,
        check=True,
        env=dict(os.environ, LIQKIT_BENCH_DATA=str(out)),
        capture_output=True,
    )
    return load_bench_data(out)


@pytest.mark.parametrize("config", ["bench strategy", "levels 2, skew 0.5, realistic, fees, 5 ms"])
def test_common_benchmark_data_same_orders_and_fills_in_backtest_and_live_runner(bench_slice, config):
    cfg = quoting_config() if config.startswith("levels") else bench_config()
    if config.startswith("levels"):  # the benchmark's market is 1-3 ticks wide at 60,000: quote in ticks
        pair = cfg.pairs["BTCUSDT"].model_copy(
            update={
                "bid_spread": dist("2ticks"),
                "ask_spread": dist("2ticks"),
                "level_spacing": dist("1ticks"),
                "refresh_tolerance": dist("3ticks"),
            }
        )
        cfg = cfg.model_copy(
            update={
                "pairs": {"BTCUSDT": pair},
                "sim": cfg.sim.model_copy(update={"balances": {"BTC": Decimal(10), "USDT": Decimal(1_000_000)}}),
            }
        )
    bt = run_backtest(bench_slice, cfg)
    live = run_replay(bench_slice, cfg)
    assert bt.metrics["orders_placed"] > 1000 and bt.metrics["fills"] > 100
    assert_same(bt, live)


def test_cli_backtest_and_trade_on_a_virtual_clock_print_the_same_metrics(tmp_path):
    cfg = tmp_path / "b.toml"
    cfg.write_text(
        "[sim]\nfill_model = 'realistic'\nmaker_fee_bps = 1\ntaker_fee_bps = 2\nlatency_ms = 5\n"
        "[sim.balances]\nBTC = 1\nUSDT = 100000\n"
        "[pairs.BTCUSDT]\nspread = '2bps'\nlevels = 2\nlevel_spacing = '1bps'\nskew = 0.5\nsize = '0.001'\n"
    )
    data = Path(__file__).resolve().parents[2] / "liqkit" / "data" / "samples"

    def run(*args: str) -> dict:
        p = subprocess.run(
            [sys.executable, "-m", "liqkit.cli", *args, "--data", str(data), "--config", str(cfg), "--json"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    bt = run("backtest")
    live = run("trade", "--clock", "virtual", "--state-dir", str(tmp_path / "state"))
    assert set(bt) == set(live)  # the same keys
    for k in (*SAME, "final_position", "pnl", "volume", "spread_capture", "fees", "events"):
        assert bt[k] == live[k], k
    assert bt["fills"] > 50
    assert (tmp_path / "state").is_dir()


def test_trade_refuses_data_without_a_virtual_clock(tmp_path):
    p = subprocess.run(
        [sys.executable, "-m", "liqkit.cli", "trade", "--data", str(tmp_path)], capture_output=True, text=True
    )
    assert p.returncode == 2 and "--clock virtual" in p.stderr and "Traceback" not in p.stderr


class Jitter:
    """A latency that varies with time (1 to 9 ms, answers slower than requests): answers overtake each other."""

    def request_ns(self, ts: int, kind: int) -> int:
        return 1_000_000 + (ts // 1_000 % 5) * 1_000_000

    def response_ns(self, ts: int, kind: int) -> int:
        return 2_000_000 + (ts // 1_000 % 7) * 1_000_000

    def feed_ns(self, ts: int) -> int:
        return 0


def test_a_varying_latency_keeps_the_two_paths_equal(sample_data):
    cfg = quoting_config()
    bt = run_backtest(sample_data, cfg, latency=Jitter())
    live = run_replay(sample_data, cfg, latency=Jitter())
    assert bt.metrics["fills"] > 50
    assert_same(bt, live)
    assert records(bt) != records(run_backtest(sample_data, cfg))  # the model was used


_SLICE: dict[str, MarketData] = {}


def _short_slice(sample: MarketData) -> MarketData:
    """The shipped recording's first 20 s (about 3,000 events)."""
    if "s" not in _SLICE:
        b, t = sample.book, sample.trades
        end = int(b["ts_local"][0]) + 20_000_000_000
        nb, nt = int(np.searchsorted(b["ts_local"], end)), int(np.searchsorted(t["ts_local"], end))
        _SLICE["s"] = MarketData.from_columns(
            sample.rules, {k: v[:nb] for k, v in b.items()}, {k: v[:nt] for k, v in t.items()}, source="slice"
        )
    return _SLICE["s"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    spread=st.sampled_from(["0.5bps", "1bps", "2bps", "1ticks", "3ticks"]),
    levels=st.integers(1, 3),
    tolerance=st.sampled_from(["0ticks", "1ticks", "0.5bps", "2bps"]),
    skew=st.sampled_from(["0", "0.3", "1"]),
    post_only=st.booleans(),
    reference=st.sampled_from(["mid", "touch"]),
    fill_model=st.sampled_from(["realistic", "trade-through"]),
    latency_ms=st.sampled_from([0, 1, 5, 40]),
    fee_bps=st.sampled_from([0, 1]),
    size=st.sampled_from(["0.001", "0.01"]),
)
def test_random_configs_same_records_in_backtest_and_live_runner(
    sample_data, spread, levels, tolerance, skew, post_only, reference, fill_model, latency_ms, fee_bps, size
):
    cfg = LiqkitConfig(
        sim=SimConfig(
            fill_model=fill_model,
            maker_fee_bps=Decimal(fee_bps),
            taker_fee_bps=Decimal(fee_bps),
            latency_ms=latency_ms,
            balances={"BTC": Decimal("0.05"), "USDT": Decimal(3000)},  # small: budgets bind sometimes
        ),
        pairs={
            "BTCUSDT": PairConfig(
                symbol="BTCUSDT",
                spread=spread,  # type: ignore[arg-type]
                levels=levels,
                level_spacing="1bps",  # type: ignore[arg-type]
                refresh_tolerance=tolerance,  # type: ignore[arg-type]
                skew=Decimal(skew),
                post_only=post_only,
                reference=reference,
                size=Decimal(size),
            )
        },
    )
    data = _short_slice(sample_data)
    assert_same(run_backtest(data, cfg), run_replay(data, cfg))


@pytest.mark.parametrize("mode", ["cancel-then-place", "cancel-replace"])
def test_takers_walking_the_recorded_depth_same_in_backtest_and_live_runner(sample_data, mode):
    """Crossing orders (not post-only, 40 ms late, 2 BTC) on the shipped recording with its depth: some
    take more than one level of the L2 book (with cancel-then-place; a cancel-replace's new orders, priced
    40 ms before they arrive, meet a book that has moved and take the touch alone), and both paths
    still make the same records, whichever way quotes move."""
    cfg = LiqkitConfig(
        engine=EngineConfig(replace_mode=mode),
        sim=SimConfig(
            fill_model="realistic",
            taker_fee_bps=Decimal(1),
            latency_ms=40,
            balances={"BTC": Decimal(50), "USDT": Decimal(5_000_000)},
        ),
        pairs={
            "BTCUSDT": PairConfig(
                symbol="BTCUSDT",
                spread="0ticks",  # type: ignore[arg-type]
                reference="touch",
                levels=2,
                level_spacing="1ticks",  # type: ignore[arg-type]
                refresh_tolerance="0ticks",  # type: ignore[arg-type]
                post_only=False,
                size=Decimal("2"),
                max_order_notional=Decimal(200_000),
            )
        },
    )
    data = sample_data.slice_time(None, int(sample_data.book["ts_local"][0]) + 120_000_000_000)
    assert data.depth is not None
    bt = run_backtest(data, cfg)
    f = bt.fills
    takers = f[~f["is_maker"].astype(bool)]
    walked = takers.groupby(takers["client_id"].astype(str))["price_ticks"].nunique()
    assert len(takers) > 20
    if mode == "cancel-then-place":
        assert (walked > 1).sum() >= 1  # at least one order took more than one level
    assert_same(bt, run_replay(data, cfg))


def test_queue_models_with_depth_same_in_backtest_and_live_runner(sample_data):
    """Each queue model on the shipped recording with its depth (three levels from the touch, where every
    level has a queue; 3 ms each way): the two paths make the same records, and the models differ."""
    data = sample_data.slice_time(None, int(sample_data.book["ts_local"][0]) + 600_000_000_000)
    assert data.depth is not None
    fills = {}
    for model in ("risk-averse", "prob-power", "prob-log"):
        cfg = LiqkitConfig(
            sim=SimConfig(queue_model=model, latency_ms=3, balances={"BTC": Decimal(2), "USDT": Decimal(200_000)}),
            pairs={
                "BTCUSDT": PairConfig(
                    symbol="BTCUSDT",
                    reference="touch",
                    spread="0ticks",  # type: ignore[arg-type]
                    levels=3,
                    level_spacing="1ticks",  # type: ignore[arg-type]
                    refresh_tolerance="1ticks",  # type: ignore[arg-type]
                    size=Decimal("0.002"),
                )
            },
        )
        bt = run_backtest(data, cfg)
        assert_same(bt, run_replay(data, cfg))
        fills[model] = bt.metrics["fills"]
    assert fills["risk-averse"] > 100
    assert fills["prob-log"] > fills["risk-averse"], fills  # cancels ahead of us advance the queue


def test_iceberg_quotes_with_depth_same_in_backtest_and_live_runner(sample_data):
    """Iceberg quotes (25% shown) on the shipped recording with its depth, prob-power queues, 3 ms each way:
    the two paths make the same records, and orders fill slice by slice (each refill rejoins the queue)."""
    data = sample_data.slice_time(None, int(sample_data.book["ts_local"][0]) + 600_000_000_000)
    cfg = LiqkitConfig(
        sim=SimConfig(queue_model="prob-power", latency_ms=3, balances={"BTC": Decimal(2), "USDT": Decimal(200_000)}),
        pairs={
            "BTCUSDT": PairConfig(
                symbol="BTCUSDT",
                reference="touch",
                spread="0ticks",  # type: ignore[arg-type]
                levels=2,
                level_spacing="1ticks",  # type: ignore[arg-type]
                refresh_tolerance="1ticks",  # type: ignore[arg-type]
                size=Decimal("0.002"),
                iceberg_visible="25%",  # type: ignore[arg-type]
            )
        },
    )
    bt = run_backtest(data, cfg)
    assert_same(bt, run_replay(data, cfg))
    assert bt.metrics["fills"] > 50
    per_order = np.unique(np.asarray(bt.fills["client_id"]), return_counts=True)[1]
    assert per_order.max() >= 2  # an order filled in more than one slice
    # trades meet the visible part: many fills are one whole 0.0005 BTC slice (a book through the price
    # takes all that is left at once, refills included)
    assert (np.asarray(bt.fills["qty_steps"]) == 50).sum() > 100


def test_oco_exits_same_in_backtest_and_live_runner(sample_data):
    """OCO exits (``exit_inventory``) on the shipped recording: the core decides them, the simulated exchange
    rests the take-profit, triggers the stop on a trade and ends the other leg; the backtest and the runner on
    ReplayVenue make the same records, the legs' fills among them, labelled "exit" and in the PnL."""
    data = sample_data.slice_time(None, int(sample_data.book["ts_local"][0]) + 900_000_000_000)
    cfg = LiqkitConfig(
        sim=SimConfig(latency_ms=3, taker_fee_bps=Decimal(1), balances={"BTC": Decimal(4), "USDT": Decimal(50_000)}),
        pairs={
            "BTCUSDT": PairConfig(
                symbol="BTCUSDT",
                spread="3bps",  # type: ignore[arg-type]
                size=Decimal("0.002"),
                exit_inventory=Decimal("0.2"),
                exit_take_profit="4bps",  # type: ignore[arg-type]
                exit_stop_loss="4bps",  # type: ignore[arg-type]
            )
        },
    )
    bt = run_backtest(data, cfg)
    assert_same(bt, run_replay(data, cfg))
    legs = bt.orders[np.asarray(bt.orders["purpose"]) == "exit"]
    fills = bt.fills[np.asarray(bt.fills["purpose"]) == "exit"]
    assert len(set(legs["client_id"])) >= 2 and len(fills) > 0, (len(legs), len(fills))
    assert bt.metrics["exit_fills"] == len(fills) and bt.metrics["rebalance_fills"] == 0
    ends = {s for s in legs["status"]} & {"FILLED", "EXPIRED", "CANCELED"}
    assert {"FILLED", "EXPIRED"} <= ends, ends  # one leg filled, the other ended by it
    # the exits sold base: the position is what every fill, the exits' included, adds up to
    signed = np.where(np.asarray(bt.fills["side"]) == "BUY", 1, -1) * np.asarray(bt.fills["qty_steps"])
    assert int(signed.sum()) == round(bt.metrics["final_position"] / 0.00001)
