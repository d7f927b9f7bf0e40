"""The ``liqkit`` command as a user runs it: a real process, real data, real exit codes."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from pnl_check import assert_metrics_match
from processes import ProcessOutput, start_service, stop_service, wait_for

from liqkit.backtest import run_backtest
from liqkit.cli import build_parser
from liqkit.data.loader import load_market_data
from liqkit.domain.config import LiqkitConfig, PairConfig

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


BAD_COMMAND_LINES = [  # (argv, the words of the one line on stderr); {file} is a regular file
    (["backtest", "--data", "{file}.missing.gz"], ["no such file"]),
    (["trade", "--speed", "-1"], ["--speed", "above 0"]),
    (["sim-server", "--port", "99999"], ["--port", "1 to 65535"]),
    (["serve", "--state-dir", "{file}"], ["--state-dir", "is a file, not a directory"]),
    (["dashboard", "--speed", "0"], ["--speed", "above 0"]),
    (["status", "--state-dir", "{file}"], ["--state-dir", "is a file"]),
    (["pairs", "--url", "http://127.0.0.1:9"], ["--url needs --token"]),
    (["run", "BTCUSDT", "--state-dir", "{dir}"], ["no running service"]),
    (["stop", "BTCUSDT", "--wait", "nan"], ["--wait", "not a finite number"]),
    (["config", "BTCUSDT", "nosuchkey=1"], ["nosuchkey", "valid keys"]),
    (["record", "--symbols", "BTCUSDT", "--out", "{file}", "--duration", "1"], ["--out", "not a folder"]),
    (["convert", "{file}.missing.gz", "--out", "{dir}/o"], ["no such file"]),
    (["sweep", "--data", "{file}.missing.gz", "--grid", "model=fixed,glft"], ["no such file"]),
    (
        [
            "calibrate",
            "--config",
            "{file}",
            "--venue",
            "http://127.0.0.1:9",
            "--duration",
            "5",
            "--out",
            "{dir}/o",
            "--models",
            "fifo",
        ],
        ["--models", "'fifo' is not a queue model"],
    ),
    (["preflight", "--config", "{file}.missing.toml"], ["cannot read config file", "existing TOML file"]),
    (["latency", "export", "--state-dir", "{dir}"], ["--state-dir", "no journal at"]),
]


def test_every_command_answers_bad_input_with_one_line_and_status_2(tmp_path):
    """Each subcommand, a real process: status 2, one line on stderr, no traceback, the flag named."""
    (tmp_path / "f").write_text("x\n")
    (tmp_path / "d").mkdir()
    subst = {"file": str(tmp_path / "f"), "dir": str(tmp_path / "d")}
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    commands = set(sub.choices)
    assert {argv[0] for argv, _ in BAD_COMMAND_LINES} == commands  # every command has its bad input here
    for argv, words in BAD_COMMAND_LINES:
        p = liqkit(*[a.format(**subst) for a in argv])
        assert p.returncode == 2, (argv, p.stdout, p.stderr)
        assert "Traceback" not in p.stderr and p.stderr.count("\n") == 1, (argv, p.stderr)
        command = " ".join(argv[:2]) if argv[0] == "latency" else argv[0]  # a command of commands
        assert p.stderr.startswith(f"liqkit {command}: error: "), p.stderr
        for w in words:
            assert w in p.stderr, (argv, w, p.stderr)


def test_every_option_and_argument_has_help_text():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help and len(action.help) > 10, (name, action.dest)
    p = liqkit("serve", "--help")
    assert p.returncode == 0 and "--port" in p.stdout and "0: a free one" in p.stdout and "--allow-remote" in p.stdout


def test_status_stop_and_config_against_a_service(tmp_path):
    """Units in `status`, `stop` waits for the cancels, `config SYMBOL` alone prints every setting."""
    proc, _ = start_service(tmp_path, "--run", "BTCUSDT,ETHUSDT")
    try:

        def status() -> str:
            p = liqkit("status", "--state-dir", str(tmp_path))
            assert p.returncode == 0, p.stderr
            return p.stdout if "orders 2 " in p.stdout.split("ETHUSDT", 1)[-1] else ""

        out = str(wait_for(status, timeout=180, what="ETHUSDT quoting both sides"))
        eth = next(ln for ln in out.splitlines() if ln.startswith("ETHUSDT"))
        assert "size 20 USDT" in eth and " USDT " in eth.split("orders")[0] and "position 0 ETH" in eth, eth
        # a generous --wait: on a busy machine the cancels may take longer than the default 15 s
        p = liqkit("stop", "ETHUSDT", "--state-dir", str(tmp_path), "--wait", "180")
        assert p.returncode == 0, p.stderr
        assert "ETHUSDT: stopped; every order cancelled, 0 left open" in p.stdout, p.stdout
        assert " orders 0 " in p.stdout, p.stdout
        p = liqkit("config", "btcusdt", "--state-dir", str(tmp_path))
        assert p.returncode == 0, p.stderr
        rows = (ln.split("=", 1) for ln in p.stdout.splitlines() if ln.startswith("  "))
        settings = {k.strip(): v.strip() for k, v in rows}
        assert set(settings) == set(PairConfig.model_fields), settings
        assert (settings["symbol"], settings["size"], settings["size_unit"]) == ("BTCUSDT", "20", "quote")
    finally:
        code, _, err = stop_service(proc)
    assert code == 0, err
