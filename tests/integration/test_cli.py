"""The ``liqkit`` command as a user runs it: a real process, real data, real exit codes."""

import json
import subprocess
import sys
from pathlib import Path

from pnl_check import assert_metrics_match
from processes import ProcessOutput

from liqkit.backtest import run_backtest
from liqkit.data.loader import load_market_data
from liqkit.domain.config import LiqkitConfig

SAMPLES = Path(__file__).resolve().parents[2] / "liqkit" / "data" / "samples"


def liqkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "liqkit.cli", *args], capture_output=True, text=True, timeout=600)


def test_backtest_json_on_the_shipped_recording():
    p = liqkit("backtest", "--data", str(SAMPLES), "--json")
    assert p.returncode == 0, p.stderr
    m = json.loads(p.stdout)
    for key in (
        "events",
        "events_per_s",
        "orders_placed",
        "orders_cancelled",
        "fills",
        "pnl",
        "spread_capture",
        "inventory_pnl",
        "fees",
        "volume",
        "fill_rate",
        "max_inventory",
        "markout_1s_bps",
        "markout_10s_bps",
        "markout_60s_bps",
        "buy_fills",
        "sell_fills",
    ):
        assert key in m, key
    assert m["events"] == 73_174 + 19_904
    assert m["orders_placed"] > 0 and m["events_per_s"] > 0
    # the printed PnL is the account of the run's fills (the same deterministic run, in-process)
    data = load_market_data(SAMPLES)
    res = run_backtest(data, LiqkitConfig())
    assert (m["orders_placed"], m["fills"]) == (res.metrics["orders_placed"], len(res.fills))
    assert_metrics_match(m, res.fills, data)


def test_backtest_with_a_config_file(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[sim]\nfill_model = "trade-through"\n\n[pairs.BTCUSDT]\nreference = "touch"\nspread = "1ticks"\n')
    p = liqkit("backtest", "--data", str(SAMPLES / "btcusdt_20240808.gz"), "--config", str(cfg), "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["orders_placed"] > 0


def test_bad_input_is_one_clear_message(tmp_path):
    p = liqkit("backtest", "--data", str(tmp_path / "missing.gz"))
    assert p.returncode == 2 and "no such file" in p.stderr and "Traceback" not in p.stderr
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[pairs.BTCUSDT]\nspread = "-1bps"\n')
    p = liqkit("backtest", "--data", str(SAMPLES), "--config", str(cfg))
    assert p.returncode == 2 and "pairs.BTCUSDT.spread = '-1bps'" in p.stderr and "Traceback" not in p.stderr
    cfg.write_text('[pairs.BTCUSDT]\nsize = "0.0000001"\n')
    p = liqkit("backtest", "--data", str(SAMPLES), "--config", str(cfg))
    assert p.returncode == 2 and "size" in p.stderr and "LOT_SIZE" in p.stderr, p.stderr


def test_trade_on_the_simulated_exchange_stops_clean_on_ctrl_c(tmp_path):
    import signal

    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[pairs.BTCUSDT]\nspread = "0.5bps"\nrefresh_tolerance = "0.2bps"\n\n'
        '[pairs.ETHUSDT]\nspread = "1bps"\nsize = "0.01"\n'
    )
    cmd = [sys.executable, "-m", "liqkit.cli", "trade", "--config", str(cfg), "--speed", "20"]
    p = subprocess.Popen(
        [*cmd, "--state-dir", str(tmp_path / "state")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    output = ProcessOutput(p)
    try:
        banner = output.wait_for_line(lambda ln: "liqkit: quoting" in ln, what="the banner")
        assert "quoting BTCUSDT, ETHUSDT on sim" in banner, banner
        for sym in ("BTCUSDT", "ETHUSDT"):  # the status line every 2 s: both sides quoted, on both pairs
            output.wait_for_line(lambda ln, sym=sym: f"{sym}:" in ln and " open orders 2 " in ln, what=f"{sym} quoted")
    finally:
        p.send_signal(signal.SIGINT)
        code, out, err = output.finish()
    assert code == 0, err
    assert "stopped: 0 liqkit orders left open" in out
    from liqkit.journal import read_journal

    j = read_journal(tmp_path / "state")
    assert {"BTCUSDT", "ETHUSDT"} <= set(j["orders"]["symbol"])
    last = j["orders"].groupby("client_id")["status"].last()
    assert not last.isin(["PENDING_NEW", "NEW", "PARTIALLY_FILLED", "PENDING_CANCEL", "UNKNOWN"]).any()
