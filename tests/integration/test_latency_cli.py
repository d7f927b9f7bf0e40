"""``liqkit latency export`` then ``liqkit backtest`` with ``latency = "measured"``, as processes: a
session's round trips are written, replayed, and change the run; constant round trips replay as the
constant latency; ``liqkit latency feed`` reads the recording's times; bad input is one line, status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from liqkit.data.capture import sample_recording_paths
from liqkit.journal import read_journal

DATA = str(sample_recording_paths()[0])  # the shipped recording's first file (about 6 minutes)
TIMING = ("orders_placed", "orders_cancelled", "fills", "buy_fills", "sell_fills", "pnl", "markout_1s_bps")
PAIR = '[pairs.BTCUSDT]\nspread = "1bps"\nlevels = 2\nlevel_spacing = "1bps"\n'
LOGNORMAL = (
    '[sim]\nlatency = "lognormal"\nlatency_p50_ms = 20\nlatency_p99_ms = 150\n'
    "latency_cancel_p50_ms = 5\nlatency_cancel_p99_ms = 30\nlatency_seed = 11\n"
)


def liqkit(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([sys.executable, "-m", "liqkit.cli", *args], capture_output=True, text=True, timeout=600)
    if ok:
        assert p.returncode == 0, p.stderr
    return p


def config(tmp_path: Path, name: str, sim: str) -> str:
    """A config: ``sim`` and the pair; quotes move with a cancel and a new order (two kinds of round trip
    to record and replay: order entry and cancel)."""
    f = tmp_path / name
    f.write_text('[engine]\nreplace_mode = "cancel-then-place"\n\n' + sim + PAIR)
    return str(f)


def metrics(*args: str) -> dict:
    return json.loads(liqkit(*args, "--json").stdout)


def session(tmp_path: Path, name: str, cfg: str) -> dict:
    """A virtual-time session of the live runner, journaled in ``tmp_path/name``."""
    return metrics("trade", "--data", DATA, "--clock", "virtual", "--config", cfg, "--state-dir", str(tmp_path / name))


def round_trips(df: pd.DataFrame, kind: str) -> np.ndarray:
    rows = df[(df["kind"] == kind) & df["outcome"].isin(["ok", "refused", "not_open"])]
    return (rows["ts_answer"] - rows["ts_sent"]).to_numpy()


def test_export_then_backtest_replays_the_sessions_round_trips(tmp_path):
    live = session(tmp_path, "a", config(tmp_path, "logn.toml", LOGNORMAL))
    p = liqkit("latency", "export", "--state-dir", str(tmp_path / "a"), "--out", str(tmp_path / "a.csv"))
    said = p.stderr.strip()
    assert said.startswith("liqkit latency export: ") and "round trips of the session started" in said
    assert "place " in said and "cancel " in said and str(tmp_path / "a.csv") in said
    exported = pd.read_csv(tmp_path / "a.csv")
    assert list(exported.columns[:5]) == ["ts_sent", "ts_answer", "round_trip_ms", "kind", "outcome"]
    orders = read_journal(tmp_path / "a")["orders"]
    sent = orders.loc[orders["status"] == "PENDING_NEW", "client_id"]
    places = exported.loc[exported["kind"] == "place", "client_id"]
    assert len(places) == sent.nunique() > 50 and set(places) == set(sent)  # every order sent, once
    assert live["orders_placed"] >= len(places)
    place, cancel = round_trips(exported, "place"), round_trips(exported, "cancel")
    assert 30 < np.median(place) / 1e6 < 80 and 6 < np.median(cancel) / 1e6 < 20  # two one-way draws each

    measured = config(tmp_path, "measured.toml", f'[sim]\nlatency = "measured"\nlatency_file = "{tmp_path}/a.csv"\n')
    one_way = int(np.median(place) / 2 / 1e6)
    constant = config(tmp_path, "constant.toml", f"[sim]\nlatency_ms = {one_way}\n")
    m = metrics("backtest", "--data", DATA, "--config", measured, "--quiet")
    c = metrics("backtest", "--data", DATA, "--config", constant, "--quiet")
    assert m["fills"] > 20 and c["fills"] > 20
    assert [m[k] for k in TIMING] != [c[k] for k in TIMING]  # the same median, other timing: another run
    # the live runner on the measured model is the backtest (the one rule), and its own journal holds
    # round trips like the session's: interpolated between recorded ones, never outside their range,
    # their median within the recorded middle half (interpolation smooths: not the recorded median)
    again = session(tmp_path, "m", measured)
    assert [again[k] for k in TIMING] == [m[k] for k in TIMING]
    replayed = read_journal(tmp_path / "m")["requests"]
    for kind, recorded in (("place", place), ("cancel", cancel)):
        mine = round_trips(replayed, kind)
        assert recorded.min() <= mine.min() and mine.max() <= recorded.max(), kind
        assert np.percentile(recorded, 25) < np.median(mine) < np.percentile(recorded, 75), kind
        assert len(set(mine)) > 20, kind  # varying, as recorded
    # and its fills came at other times than under the constant latency of the same median
    session(tmp_path, "c", constant)
    constant_fills = read_journal(tmp_path / "c")["fills"]
    measured_fills = read_journal(tmp_path / "m")["fills"]
    assert measured_fills["ts_local"].tolist() != constant_fills["ts_local"].tolist()


def test_constant_round_trips_replay_as_the_constant_latency(tmp_path):
    constant = config(tmp_path, "constant.toml", "[sim]\nlatency_ms = 7\n")
    session(tmp_path, "s", constant)
    liqkit(
        "latency", "export", "--journal", str(tmp_path / "s" / "journal.sqlite"), "--out", str(tmp_path / "s.parquet")
    )
    assert set(pd.read_parquet(tmp_path / "s.parquet")["round_trip_ms"]) == {14.0}
    measured = config(tmp_path, "m.toml", f'[sim]\nlatency = "measured"\nlatency_file = "{tmp_path}/s.parquet"\n')
    m = metrics("backtest", "--data", DATA, "--config", measured, "--quiet")
    c = metrics("backtest", "--data", DATA, "--config", constant, "--quiet")
    for k in (*TIMING, "volume", "final_position", "fees", "markout_10s_bps"):
        assert m[k] == c[k], k


def test_export_to_stdout_and_of_every_session(tmp_path):
    constant = config(tmp_path, "constant.toml", "[sim]\nlatency_ms = 3\n")
    session(tmp_path, "s", constant)
    first = liqkit("latency", "export", "--state-dir", str(tmp_path / "s")).stdout
    session(tmp_path, "s", constant)  # a second session in the same state directory
    latest = liqkit("latency", "export", "--state-dir", str(tmp_path / "s"))
    every = liqkit("latency", "export", "--state-dir", str(tmp_path / "s"), "--all-sessions").stdout
    assert "2 in the journal: --all-sessions exports all" in latest.stderr
    n = len(first.splitlines())
    assert len(latest.stdout.splitlines()) == n and len(every.splitlines()) == 2 * n - 1  # one header
    assert first.startswith("ts_sent,ts_answer,round_trip_ms,kind,outcome,")


def test_feed_latency_of_the_shipped_recording_names_the_clock_caveat():
    p = liqkit("latency", "feed", "--data", DATA)
    assert "local receive minus exchange time" in p.stdout and "clock" in p.stdout
    lines = {ln.split()[0]: ln for ln in p.stdout.splitlines()[1:] if ln.strip().startswith(("trade", "depth"))}
    assert set(lines) == {"trade", "depth"}
    out = json.loads(liqkit("latency", "feed", "--data", DATA, "--json").stdout)
    for source in ("trade", "depth"):
        s = out["sources"][source]
        assert s["n"] > 1000 and s["min_ms"] <= s["p50_ms"] <= s["p99_ms"] <= s["max_ms"]
    # this recording's machine clock was behind Binance's: every difference is negative, and it says so
    assert out["sources"]["trade"]["max_ms"] < 0 and "behind Binance's" in p.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["latency", "export", "--state-dir", "{tmp}/none"], ["--state-dir", "no journal at", "state directory"]),
        (["latency", "export", "--journal", "{tmp}/bad.sqlite"], ["bad.sqlite", "cannot use as a journal"]),
        (["latency", "export", "--journal", "{tmp}/empty.sqlite"], ["no order requests recorded"]),
        (["latency", "export", "--journal", "{tmp}"], ["--journal", "is a folder", "--state-dir"]),
        (["latency", "export", "--state-dir", "{tmp}", "--out", "{tmp}/rt.txt"], ["--out", ".csv or .parquet"]),
        (["latency", "export", "--state-dir", "{tmp}", "--out", "{tmp}/no/rt.csv"], ["--out", "create it first"]),
        (["latency", "export"], ["one of the arguments --journal --state-dir is required"]),
        (["latency", "feed", "--data", "{tmp}/none.gz"], ["--data", "no such file"]),
        (["backtest", "--data", DATA, "--config", "{tmp}/missing.toml"], ["latency_file", "no such file"]),
        (["backtest", "--data", DATA, "--config", "{tmp}/columns.toml"], ["latency_file", "missing column ts_answer"]),
        (["backtest", "--data", DATA, "--config", "{tmp}/negative.toml"], ["row 2", "ts_sent = -4", "negative"]),
        (["backtest", "--data", DATA, "--config", "{tmp}/p99.toml"], ["sim.latency_p99_ms", "must be >= the median"]),
    ],
)
def test_bad_input_is_one_line_naming_the_field_and_status_2(tmp_path, args, words):
    from liqkit.journal import Journal

    (tmp_path / "bad.sqlite").write_text("not a database")
    Journal(tmp_path / "empty.sqlite").close()
    (tmp_path / "cols.csv").write_text("ts_sent,kind\n1,place\n")
    (tmp_path / "neg.csv").write_text("ts_sent,ts_answer,kind\n5,6,place\n-4,6,place\n")
    for name, body in (
        ("missing", f'latency = "measured"\nlatency_file = "{tmp_path}/nothing.csv"'),
        ("columns", f'latency = "measured"\nlatency_file = "{tmp_path}/cols.csv"'),
        ("negative", f'latency = "measured"\nlatency_file = "{tmp_path}/neg.csv"'),
        ("p99", 'latency = "lognormal"\nlatency_p50_ms = 9\nlatency_p99_ms = 3'),
    ):
        (tmp_path / f"{name}.toml").write_text(f"[sim]\n{body}\n" + PAIR)
    p = liqkit(*(a.replace("{tmp}", str(tmp_path)) for a in args), ok=False)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    errors = [ln for ln in p.stderr.splitlines() if "error:" in ln]
    assert len(errors) == 1, p.stderr
    for w in words:
        assert w in errors[0], (w, errors[0])
