"""``[sim]`` latency settings and round-trip files: each model's settings checked, each bad value or
file named with its field (or row and column) and the fix; the model the config names is built."""

from __future__ import annotations

import pandas as pd
import pytest

from liqkit.data.latency import read_round_trips
from liqkit.domain.config import load_config, parse_config
from liqkit.domain.errors import ConfigError, DataError
from liqkit.engine.latency import CANCEL, PLACE, ConstantLatency, LognormalLatency, MeasuredLatency
from liqkit.venues.sim.latency import latency_model

T0 = 1_723_161_254_000_000_000
MS = 1_000_000


def sim(**kw):
    return parse_config({"sim": kw}).sim


def test_latency_ms_keeps_working_as_a_constant():
    cfg = sim(latency_ms=3)
    assert cfg.latency == "constant"
    m = latency_model(cfg, T0)
    assert isinstance(m, ConstantLatency) and m.ns == 3 * MS


def test_a_full_file_with_each_model(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text(
        '[sim]\nlatency = "lognormal"\nlatency_p50_ms = 5\nlatency_p99_ms = 40\n'
        "latency_cancel_p50_ms = 1\nlatency_cancel_p99_ms = 4\nlatency_seed = 12\n"
    )
    m = latency_model(load_config(f).sim, T0)
    assert isinstance(m, LognormalLatency)
    assert m.p50_ns == (5 * MS, MS) and m.p99_ns == (40 * MS, 4 * MS) and m.seed == 12
    f.write_text('[sim]\nlatency = "lognormal"\nlatency_p50_ms = 5\nlatency_p99_ms = 40\nseed = 3\n')
    m = latency_model(load_config(f).sim, T0)
    assert isinstance(m, LognormalLatency) and m.seed == 3 and m.p50_ns == (5 * MS, 5 * MS)  # cancels: entry's


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"latency": "fast"}, ["sim.latency = 'fast'", "'constant', 'lognormal' or 'measured'"]),
        ({"latency_ms": -1}, ["sim.latency_ms = -1", "greater than or equal to 0"]),
        ({"latency": "lognormal"}, ["sim.latency_p50_ms: missing", 'latency = "lognormal" needs latency_p50_ms']),
        ({"latency": "lognormal", "latency_p50_ms": 5}, ["sim.latency_p99_ms: missing", "99th percentile"]),
        (
            {"latency": "lognormal", "latency_p50_ms": 5, "latency_p99_ms": 2},
            ["sim.latency_p99_ms = 2.0", "below latency_p50_ms = 5", "must be >= the median"],
        ),
        ({"latency": "lognormal", "latency_p50_ms": -5, "latency_p99_ms": 20}, ["sim.latency_p50_ms = -5", "than 0"]),
        ({"latency": "lognormal", "latency_p50_ms": 0, "latency_p99_ms": 20}, ["sim.latency_p50_ms = 0", "than 0"]),
        (
            {"latency": "lognormal", "latency_p50_ms": 5, "latency_p99_ms": 20, "latency_cancel_p50_ms": 1},
            ["sim.latency_cancel_p99_ms: missing", "give it with latency_cancel_p50_ms"],
        ),
        (
            {"latency": "lognormal", "latency_p50_ms": 5, "latency_p99_ms": 20, "latency_cancel_p99_ms": 1},
            ["sim.latency_cancel_p50_ms: missing", "give it with latency_cancel_p99_ms"],
        ),
        (
            {
                "latency": "lognormal",
                "latency_p50_ms": 5,
                "latency_p99_ms": 20,
                "latency_cancel_p50_ms": 3,
                "latency_cancel_p99_ms": 1,
            },
            ["sim.latency_cancel_p99_ms = 1.0", "below latency_cancel_p50_ms = 3"],
        ),
        (
            {"latency": "lognormal", "latency_p50_ms": 5, "latency_p99_ms": 20, "latency_seed": -1},
            ["sim.latency_seed = -1", "greater than or equal to 0"],
        ),
        ({"latency_p50_ms": 5}, ["sim.latency_p50_ms = 5.0", 'latency = "lognormal"', 'but latency is "constant"']),
        (
            {"latency": "lognormal", "latency_p50_ms": 5, "latency_p99_ms": 20, "latency_ms": 3},
            ["sim.latency_ms = 3.0", 'latency = "constant"', 'but latency is "lognormal"', "remove it"],
        ),
        ({"latency": "measured"}, ["sim.latency_file: missing", "liqkit latency export"]),
        ({"latency_file": "x.csv"}, ["sim.latency_file = ", 'latency = "measured"', 'but latency is "constant"']),
        ({"latency": "measured", "latency_file": "x.csv", "latency_seed": 1}, ["sim.latency_seed = 1", "lognormal"]),
        ({"latency_p50": 5}, ["sim.latency_p50: unknown key", "latency_p50_ms"]),
    ],
)
def test_bad_latency_settings_name_the_field_and_the_fix(settings, words):
    with pytest.raises(ConfigError) as e:
        sim(**settings)
    text = str(e.value)
    for w in words:
        assert w in text, (w, text)
    assert len(text.splitlines()) == 2  # "invalid configuration:" and the one error


def test_a_long_latency_file_path_is_read():
    long_path = "/tmp/" + "d" * 90 + "/round_trips.csv"
    assert str(sim(latency="measured", latency_file=long_path).latency_file) == long_path


# ---- round-trip files --------------------------------------------------------------------------------
def write(tmp_path, rows, name="rt.csv"):
    p = tmp_path / name
    df = pd.DataFrame(rows)
    if name.endswith(".parquet"):
        df.to_parquet(p)
    else:
        df.to_csv(p, index=False)
    return p


GOOD_ROWS = {
    "ts_sent": [T0, T0 + 10 * MS, T0 + 5 * MS, T0 + 20 * MS, T0 + 30 * MS],
    "ts_answer": [T0 + 4 * MS, T0 + 18 * MS, T0 + 6 * MS, T0 + 20 * MS + 1, T0 + 90 * MS],
    "kind": ["place", "place", "cancel", "query", "place"],
    "outcome": ["ok", "refused", "not_open", "ok", "unknown"],
}


@pytest.mark.parametrize("name", ["rt.csv", "rt.parquet"])
def test_a_round_trip_file_becomes_the_measured_model(tmp_path, name):
    p = write(tmp_path, GOOD_ROWS, name)
    trips = read_round_trips(p)
    assert trips.place_ts.tolist() == [T0, T0 + 10 * MS]  # the unknown outcome (no answer) is left out
    assert trips.place_rtt.tolist() == [4 * MS, 8 * MS]
    assert trips.cancel_ts.tolist() == [T0 + 5 * MS] and trips.cancel_rtt.tolist() == [MS]
    m = latency_model(sim(latency="measured", latency_file=str(p)), T0, T0 + 10**9)
    assert isinstance(m, MeasuredLatency) and m.offset_ns == 0  # recorded during the run: its own times
    assert m.round_trip_ns(T0 + 5 * MS, PLACE) == 6 * MS
    assert m.round_trip_ns(T0 + 5 * MS, CANCEL) == MS


def test_round_trips_recorded_at_another_time_replay_from_the_runs_start(tmp_path, caplog):
    p = write(tmp_path, GOOD_ROWS)
    later = T0 + 86_400 * 10**9
    m = latency_model(sim(latency="measured", latency_file=str(p)), later, later + 10**9)
    assert isinstance(m, MeasuredLatency) and m.offset_ns == later - T0
    assert m.round_trip_ns(later + 5 * MS, PLACE) == 6 * MS
    assert "not during this run" in caplog.text and "sim.latency_file" in caplog.text


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        ({"ts_sent": [T0], "kind": ["place"]}, ["missing column ts_answer", "it has ts_sent, kind"]),
        ({"sent": [T0], "answer": [T0], "what": ["place"]}, ["missing column ts_sent, ts_answer, kind"]),
        (
            {"ts_sent": [T0, -5], "ts_answer": [T0, T0], "kind": ["place", "place"]},
            ["row 2", "ts_sent = -5", "negative"],
        ),
        ({"ts_sent": [T0], "ts_answer": [T0 - 7], "kind": ["place"]}, ["row 1", "before ts_sent", "-7 ns"]),
        ({"ts_sent": ["soon"], "ts_answer": [T0], "kind": ["place"]}, ["row 1", "ts_sent = 'soon'", "whole number"]),
        ({"ts_sent": [1.5], "ts_answer": [T0], "kind": ["place"]}, ["ts_sent = '1.5'", "whole number"]),
        ({"ts_sent": [T0], "ts_answer": [T0], "kind": ["buy"]}, ["row 1", "kind = 'buy'", "place, cancel"]),
        (
            {"ts_sent": [T0], "ts_answer": [T0], "kind": ["place"], "outcome": ["maybe"]},
            ["outcome = 'maybe'", "ok, refused"],
        ),
        ({"ts_sent": [T0], "ts_answer": [T0], "kind": ["cancel"]}, ["no answered order entry", "at least one"]),
        (
            {"ts_sent": [T0], "ts_answer": [T0], "kind": ["place"], "outcome": ["unknown"]},
            ["no answered order entry"],
        ),
    ],
)
def test_bad_round_trip_files_name_the_row_column_and_fix(tmp_path, rows, words):
    p = write(tmp_path, rows)
    with pytest.raises(DataError) as e:
        latency_model(sim(latency="measured", latency_file=str(p)), T0)
    text = str(e.value)
    assert text.startswith(f"sim.latency_file = {str(p)!r}: ")
    for w in words:
        assert w in text, (w, text)


def test_a_missing_unreadable_or_misnamed_round_trip_file(tmp_path):
    with pytest.raises(DataError, match="no such file; a round-trip file has the columns ts_sent"):
        read_round_trips(tmp_path / "none.csv")
    with pytest.raises(DataError, match="is a folder"):
        read_round_trips(tmp_path)
    bad = tmp_path / "rt.parquet"
    bad.write_text("not parquet")
    with pytest.raises(DataError, match="cannot read it as parquet"):
        read_round_trips(bad)
    other = tmp_path / "rt.json"
    other.write_text("{}")
    with pytest.raises(DataError, match=r"unknown format '\.json'; give a \.csv or \.parquet file"):
        read_round_trips(other)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="cannot read it as csv"):
        read_round_trips(empty)


def test_an_inbound_share_belongs_to_measured_latency():
    from liqkit.domain.config import SimConfig

    with pytest.raises(ValueError, match="latency_inbound_share"):
        SimConfig(latency_inbound_share=0.8)  # constant latency: it would change nothing, silently
    with pytest.raises(ValueError, match="latency_inbound_share"):
        SimConfig(latency="measured", latency_file="x.csv", latency_inbound_share=1.5)
    assert SimConfig(latency="measured", latency_file="x.csv", latency_inbound_share=1).latency_inbound_share == 1
