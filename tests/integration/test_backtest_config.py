"""A backtest's config must fit its data: no section for a symbol the data lacks, defaults said aloud."""

import logging
import subprocess
import sys

import pytest

from liqkit.backtest import run_backtest
from liqkit.backtest.replay import run_replay
from liqkit.data.capture import CaptureWriter
from liqkit.data.synthetic import synthetic_feed
from liqkit.domain.config import LiqkitConfig, PairConfig, parse_config
from liqkit.domain.errors import ConfigError


@pytest.fixture(scope="module")
def btc():
    return synthetic_feed("BTCUSDT", seconds=20, seed=3)


@pytest.mark.parametrize(
    "config",
    [
        parse_config({"pairs": {"NOPEUSDT": {"spread": "5bps"}}}),
        PairConfig(symbol="NOPEUSDT"),
        {"pairs": {"NOPEUSDT": {}}},
    ],
    ids=["LiqkitConfig", "PairConfig", "dict"],
)
def test_a_section_for_a_symbol_the_data_lacks_is_an_error(btc, config):
    for run in (run_backtest, run_replay):
        with pytest.raises(ConfigError) as e:
            run(btc, config)
        assert "[pairs.NOPEUSDT]" in str(e.value) and "it holds BTCUSDT" in str(e.value)


def test_extra_sections_beside_the_datas_symbol_are_named(btc):
    cfg = parse_config({"pairs": {"BTCUSDT": {}, "ETHUSDT": {}, "SOLUSDT": {}}})
    with pytest.raises(ConfigError, match=r"\[pairs\.ETHUSDT\], \[pairs\.SOLUSDT\]: the data has no ETHUSDT, SOLUSDT"):
        run_backtest(btc, cfg)


def test_a_config_without_pairs_says_which_defaults_it_used(btc, caplog):
    with caplog.at_level(logging.WARNING, logger="liqkit.backtest"):
        res = run_backtest(btc, LiqkitConfig())
    notes = [r.getMessage() for r in caplog.records if r.name == "liqkit.backtest"]
    assert len(notes) == 1 and notes[0].startswith("liqkit: the config has no pairs: BTCUSDT quoted on the defaults (")
    assert "spread 2bps" in notes[0]
    assert "defaults" not in " ".join(map(str, res.metrics))  # no new metrics key
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="liqkit.backtest"):
        run_backtest(btc, {"pairs": {"BTCUSDT": {"spread": "5bps"}}})
    assert not [r for r in caplog.records if r.name == "liqkit.backtest"]


def test_the_cli_says_on_stderr_which_defaults_an_empty_config_used(tmp_path, btc):
    data = tmp_path / "btc.gz"
    rules = btc.rules
    with CaptureWriter(data) as w:
        b = btc.book
        for i in range(200):
            frame = {"u": i + 1, "s": "BTCUSDT", "b": str(rules.price(int(b["bid"][i]))),
                     "B": str(rules.qty(int(b["bid_qty"][i]))), "a": str(rules.price(int(b["ask"][i]))),
                     "A": str(rules.qty(int(b["ask_qty"][i])))}  # fmt: skip
            w.write(int(b["ts_local"][i]), {"stream": "btcusdt@bookTicker", "data": frame})
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    out = subprocess.run(
        [sys.executable, "-m", "liqkit.cli", "backtest", "--data", str(data), "--config", str(empty), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    said = [ln for ln in lines if ln.startswith("liqkit: the config has no pairs: BTCUSDT quoted on the defaults")]
    assert len(said) == 1, lines  # said once (a run without fills also says why, on its own line)
    assert all(ln.startswith("liqkit: ") for ln in lines), lines  # one line each, no traceback
    nope = tmp_path / "nope.toml"
    nope.write_text("[pairs.NOPEUSDT]\nspread = '5bps'\n")
    out = subprocess.run(
        [sys.executable, "-m", "liqkit.cli", "backtest", "--data", str(data), "--config", str(nope)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2 and "[pairs.NOPEUSDT]" in out.stderr and "it holds BTCUSDT" in out.stderr
    assert "Traceback" not in out.stderr
