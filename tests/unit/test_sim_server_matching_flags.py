"""``liqkit sim-server``'s hidden matching flags: --queue-model, --queue-param and an order latency of its
own (--latency-p50-ms, --latency-p99-ms, --latency-seed) set the server's ``[sim]`` table; bad ones are
one line naming the flag and the fix."""

from __future__ import annotations

import pytest

from liqkit.cli import _matching_text, _sim_server_matching, build_parser
from liqkit.domain.config import parse_config
from liqkit.domain.errors import ConfigError, LiqkitError
from liqkit.engine.latency import CANCEL, PLACE, LognormalLatency
from liqkit.venues.sim.latency import latency_model


def matching(*flags: str, sim: dict | None = None):
    args = build_parser().parse_args(["sim-server", *flags])
    return _sim_server_matching(parse_config({"sim": sim or {}}).sim, args)


def test_the_flags_set_the_queue_model_and_a_lognormal_order_latency():
    cfg = matching(
        "--queue-model", "prob-power", "--queue-param", "3", "--latency-p50-ms", "20", "--latency-p99-ms", "80"
    )
    assert (cfg.queue_model, cfg.queue_exponent, cfg.latency, cfg.latency_p50_ms, cfg.latency_p99_ms) == (
        "prob-power",
        3.0,
        "lognormal",
        20.0,
        80.0,
    )
    assert _matching_text(cfg) == (
        "realistic fills, queue model prob-power (exponent 3); order latency lognormal, p50 20 ms, p99 80 ms (seed 7)"
    )
    model = latency_model(cfg, 0)
    assert isinstance(model, LognormalLatency) and model.p50_ns == (20_000_000, 20_000_000)  # cancels alike
    assert (
        model.p99_ns == (80_000_000, 80_000_000) and model.request_ns(5, CANCEL) > 0 and model.request_ns(5, PLACE) > 0
    )
    seeded = matching("--latency-p50-ms", "20", "--latency-p99-ms", "80", "--latency-seed", "11")
    assert latency_model(seeded, 0).seed == 11


def test_the_flags_replace_the_tables_settings_and_keep_the_rest():
    table = {"queue_model": "prob-power", "queue_param": 2, "latency_ms": 5, "maker_fee_bps": 3}
    cfg = matching("--queue-model", "prob-log", "--latency-p50-ms", "1", "--latency-p99-ms", "2", sim=table)
    assert (cfg.queue_model, cfg.queue_param, cfg.latency, cfg.latency_ms, cfg.maker_fee_bps) == (
        "prob-log",
        None,
        "lognormal",
        0.0,
        3,
    )
    assert matching(sim=table) == parse_config({"sim": table}).sim  # no flags: the table as it is
    assert "queue model risk-averse" in _matching_text(matching())


@pytest.mark.parametrize(
    ("flags", "sim", "words"),
    [
        (["--queue-param", "3"], {}, ["--queue-param 3: is the exponent of --queue-model prob-power", "risk-averse"]),
        (["--queue-model", "prob-log", "--queue-param", "2"], {}, ["--queue-param 2", "queue model is prob-log"]),
        (["--latency-p50-ms", "5"], {}, ["--latency-p99-ms: missing: give it with --latency-p50-ms"]),
        (["--latency-p99-ms", "5"], {}, ["--latency-p50-ms: missing: give it with --latency-p99-ms"]),
        (["--latency-p50-ms", "5", "--latency-p99-ms", "2"], {}, ["--latency-p99-ms 2: is below --latency-p50-ms 5"]),
        (["--latency-seed", "3"], {}, ["--latency-seed 3: seeds the lognormal order latency"]),
    ],
)
def test_bad_combinations_name_the_flag(flags, sim, words):
    with pytest.raises(LiqkitError) as e:
        matching(*flags, sim=sim)
    for w in words:
        assert w in str(e.value), str(e.value)


def test_a_table_the_flags_cannot_go_with_is_a_config_error_naming_the_field():
    with pytest.raises(ConfigError, match=r"sim.queue_model = 'prob-power': needs fill_model = \"realistic\""):
        matching("--queue-model", "prob-power", sim={"fill_model": "trade-through"})


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--queue-model", "fifo"], "argument --queue-model: invalid choice: 'fifo'"),
        (["--queue-param", "0"], "argument --queue-param: 0: give a number above 0"),
        (["--queue-param", "inf"], "argument --queue-param: 'inf' is not a finite number"),
        (["--latency-p50-ms", "-1"], "argument --latency-p50-ms: -1: give a number of milliseconds above 0"),
        (["--latency-p99-ms", "x"], "argument --latency-p99-ms: 'x' is not a number"),
        (["--latency-seed", "-2"], "argument --latency-seed: -2: give a whole number, 0 or more"),
    ],
)
def test_bad_values_stop_the_command_with_one_line(flags, words, capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["sim-server", *flags])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1, err
