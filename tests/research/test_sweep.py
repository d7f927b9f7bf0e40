"""Sweeps: every point a full engine backtest, in this process, on local processes and on dask."""

import pytest

from liqkit.backtest import run_backtest
from liqkit.data.capture import sample_recording_paths
from liqkit.domain.config import LiqkitConfig, PairConfig, SimConfig
from liqkit.domain.errors import ConfigError
from liqkit.research.sweep import METRICS, Uniform, grid_points, heatmap, pivot, random_points, sweep

BASE = {"symbol": "BTCUSDT", "levels": 2}
GRID = {"spread": ["1bps", "3bps"], "skew": [0, 1]}


@pytest.fixture(scope="module")
def local(two_minutes):
    return sweep(two_minutes, BASE, GRID, n_jobs=2, progress=False)


def test_each_point_is_a_full_backtest(local, two_minutes):
    assert list(local.columns[:2]) == ["spread", "skew"] and set(METRICS) <= set(local.columns)
    assert local[["spread", "skew"]].values.tolist() == [["1bps", 0], ["1bps", 1], ["3bps", 0], ["3bps", 1]]
    for _, row in local.iterrows():
        pc = PairConfig(
            symbol="BTCUSDT", levels=2, bid_spread=row["spread"], ask_spread=row["spread"], skew=row["skew"]
        )
        m = run_backtest(two_minutes, LiqkitConfig(pairs={"BTCUSDT": pc})).metrics
        assert (row["pnl"], row["fills"], row["orders_placed"]) == (m["pnl"], m["fills"], m["orders_placed"])
    assert local["fills"].nunique() > 1  # the points differ


def test_one_process_gives_the_same_rows(local, two_minutes, capsys):
    here = sweep(two_minutes, BASE, GRID, n_jobs=1, progress=True)
    cols = [c for c in local.columns if c != "wall_s"]
    assert here[cols].equals(local[cols])
    assert "4/4" in capsys.readouterr().err  # the tqdm bar ran to the end


def test_workers_can_load_the_data_themselves(tmp_path):
    df = sweep(
        sample_recording_paths()[0], BASE, {"spread": ["2bps", "5bps"]}, n_jobs=2, progress=False,
        sim=SimConfig(maker_fee_bps=0),
    )  # fmt: skip
    assert len(df) == 2 and (df["fees"] == 0).all() and df.loc[0, "fills"] >= df.loc[1, "fills"]


def test_on_a_dask_cluster_the_same_call_gives_the_same_rows(local, two_minutes):
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1", dashboard_address=None) as lc,
        Client(lc) as client,
    ):
        df = sweep(two_minutes, BASE, GRID, client=client, progress=False)
        assert len(client.scheduler_info()["workers"]) == 1
    cols = [c for c in local.columns if c != "wall_s"]
    assert df[cols].equals(local[cols])


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"sprad": ["1bps"]}, "sweep field 'sprad' is not a PairConfig field (did you mean 'spread'?)"),
        ({"spread": ["-1bps"]}, "pairs.BTCUSDT.bid_spread = '-1bps'"),
        ({"levels": [1, 0]}, "sweep point 1 {'levels': 0}"),
        ({"skew": "0.5"}, "sweep field skew: give a list of values"),
        ({"symbol": ["ETHUSDT"]}, "sweep field 'symbol'"),
    ],
)
def test_bad_fields_and_values_name_the_field_before_anything_runs(two_minutes, grid, message):
    with pytest.raises(ConfigError) as e:
        sweep(two_minutes, BASE, grid, n_jobs=2, progress=False)
    assert message in str(e.value)


def test_grid_and_random_points():
    assert grid_points({"a": [1, 2], "b": ["x", "y", "z"]})[:2] == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}]
    assert len(grid_points({"a": [1, 2], "b": ["x", "y", "z"]})) == 6
    pts = random_points({"spread": Uniform(1, 5, "bps"), "skew": [0, 0.5]}, 20, seed=3)
    assert pts == random_points({"spread": Uniform(1, 5, "bps"), "skew": [0, 0.5]}, 20, seed=3)
    assert all(1 <= float(p["spread"].removesuffix("bps")) <= 5 and p["skew"] in (0, 0.5) for p in pts)
    assert len({p["spread"] for p in pts}) > 10
    with pytest.raises(ConfigError, match="n = 0"):
        random_points({"skew": [0]}, 0)


def test_random_search_runs(two_minutes):
    pts = random_points({"spread": Uniform(1, 4, "bps"), "levels": [1, 2]}, 3, seed=1)
    df = sweep(two_minutes, BASE, points=pts, n_jobs=1, progress=False)
    assert df["spread"].tolist() == [p["spread"] for p in pts] and df["orders_placed"].gt(0).all()


def test_heatmap(local):
    t = pivot(local, "spread", "skew", "pnl")
    assert list(t.columns) == ["1bps", "3bps"] and list(t.index) == ["0", "1"]
    assert t.loc["1", "3bps"] == local.query("spread == '3bps' and skew == 1")["pnl"].item()
    fig = heatmap(local, "spread", "skew", "fills")
    assert fig.data[0].type == "heatmap" and fig.data[0].z[0][0] == local.loc[0, "fills"]
    with pytest.raises(ConfigError, match="no column 'pnl_x'"):
        heatmap(local, "spread", "skew", "pnl_x")


# ---- model-based quoting beside fixed spreads ------------------------------------------------------
MODEL_BASE = {"symbol": "BTCUSDT", "intensity_a": "2.54/s", "intensity_k": "1.28/bps", "refresh_tolerance": "0.5bps"}


def test_a_sweep_over_model_compares_glft_with_fixed_spreads(two_minutes):
    df = sweep(two_minutes, MODEL_BASE, {"model": ["fixed", "glft"], "gamma": [0.05, 1.0]}, n_jobs=2, progress=False)
    assert df[["model", "gamma"]].values.tolist() == [["fixed", 0.05], ["fixed", 1.0], ["glft", 0.05], ["glft", 1.0]]
    for _, row in df.iterrows():
        pc = PairConfig(**MODEL_BASE, model=row["model"], gamma=row["gamma"])
        m = run_backtest(two_minutes, LiqkitConfig(pairs={"BTCUSDT": pc})).metrics
        assert (row["pnl"], row["fills"], row["orders_placed"]) == (m["pnl"], m["fills"], m["orders_placed"])
    fixed, glft = df[df["model"] == "fixed"], df[df["model"] == "glft"]
    assert fixed["orders_placed"].nunique() == 1  # fixed spreads use no gamma
    assert glft["orders_placed"].nunique() == 2 and not set(glft["orders_placed"]) & set(fixed["orders_placed"])


def test_the_sweep_command_compares_models_on_a_recording(shared_dir, tmp_path):
    """``liqkit sweep`` from a plain shell, as the README shows it, on the shipped recording's first file."""
    import json
    import subprocess
    import sys

    from liqkit.data.loader import load_market_data

    data = shared_dir / "data" / "binance-spot-btcusdt" / "btcusdt_20240808.gz"
    cmd = [sys.executable, "-m", "liqkit.cli", "sweep", "--data", str(data), "--n-jobs", "2"]
    cmd += ["--set", "intensity_a=2.54/s", "--set", "intensity_k=1.28/bps", "--set", "refresh_tolerance=0.5bps"]
    cmd += ["--point", "model=fixed,spread=1bps", "--point", "model=glft,gamma=0.1", "--point", "model=glft,gamma=1"]
    table = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("sweep of BTCUSDT") and "3 backtests" in lines[0]
    assert lines[1].split()[:4] == ["model", "spread", "gamma", "pnl"] and len(lines) == 5
    out = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [(r["model"], r["gamma"]) for r in rows] == [("fixed", None), ("glft", 0.1), ("glft", 1.0)]
    md = load_market_data(data)
    for r, change in zip(
        rows,
        ({"model": "fixed", "spread": "1bps"}, {"model": "glft", "gamma": 0.1}, {"model": "glft", "gamma": 1.0}),
        strict=True,
    ):
        pc = PairConfig(**MODEL_BASE, **change)
        m = run_backtest(md, LiqkitConfig(pairs={"BTCUSDT": pc})).metrics
        assert (r["fills"], r["orders_placed"], r["pnl"]) == (m["fills"], m["orders_placed"], m["pnl"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--grid", "model"], "--grid 'model': write KEY=V1,V2,..."),
        (["--grid", "gama=0.1,0.2"], "gama: not a pair setting; valid keys:"),
        (["--grid", "model=fixed", "--point", "model=glft"], "give --grid KEY=V1,V2"),
        ([], "give --grid KEY=V1,V2"),
        (["--grid", "model=glft"], 'gamma: missing: model = "glft" needs gamma'),
        (["--grid", "model=fixed,glfx"], "model = 'glfx': Input should be 'fixed', 'glft' or 'as'"),
        (["--grid", "gamma=nan"], "gamma = nan: not a finite number"),
        (
            ["--grid", "model=glft", "--set", "gamma=1", "--set", "intensity_a=2", "--set", "intensity_k=1/bps"],
            "intensity_a = 2: 2 is a bare number: give its unit, as a string ('2/s')",
        ),
        (["--grid", "levels=1", "--n-jobs", "0"], "--n-jobs: 0; use 1 or more"),
    ],
)
def test_the_sweep_command_names_bad_input_and_runs_nothing(liqkit_main, capsys, argv, message):
    data = str(sample_recording_paths()[0])
    code = liqkit_main(["sweep", "--data", data, *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
