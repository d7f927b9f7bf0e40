"""The ``liqkit`` command as a user runs it: a real process, real data, real exit codes."""

import json
import subprocess
import sys
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "liqkit" / "data" / "samples"


def liqkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "liqkit.cli", *args], capture_output=True, text=True, timeout=600)


def test_backtest_json_on_the_shipped_recording():
    p = liqkit("backtest", "--data", str(SAMPLES), "--json")
    assert p.returncode == 0, p.stderr
    m = json.loads(p.stdout)
    for key in ("events", "events_per_s", "orders_placed", "orders_cancelled", "fills", "pnl", "spread_capture",
                "inventory_pnl", "fees", "volume", "fill_rate", "max_inventory", "markout_1s_bps", "markout_10s_bps",
                "markout_60s_bps", "buy_fills", "sell_fills"):
        assert key in m, key
    assert m["events"] == 73_174 + 19_904
    assert m["orders_placed"] > 0 and m["events_per_s"] > 0
    assert abs(m["pnl"] - (m["spread_capture"] + m["inventory_pnl"] - m["fees"])) < 1e-6


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
    assert p.returncode == 2 and "pairs.BTCUSDT.bid_spread" in p.stderr and "Traceback" not in p.stderr
    cfg.write_text('[pairs.BTCUSDT]\nsize = "0.0000001"\n')
    p = liqkit("backtest", "--data", str(SAMPLES), "--config", str(cfg))
    assert p.returncode == 2 and "size" in p.stderr and "LOT_SIZE" in p.stderr, p.stderr
