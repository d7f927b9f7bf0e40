"""`liqkit sim-server` and `liqkit trade` as separate processes: the engine trades through python-binance."""

import os
import signal
import subprocess
import sys

from processes import ProcessOutput, accepts, free_port, wait_for

from liqkit.domain.errors import ConfigError, LiveTradingRefused


def test_trade_on_binance_testnet_config_pointed_at_the_local_server(tmp_path):
    port = free_port()
    env = dict(os.environ, LIQKIT_SIM_API_KEY="k" * 20, LIQKIT_SIM_API_SECRET="s" * 40)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "liqkit.cli",
            "sim-server",
            "--port",
            str(port),
            "--symbols",
            "BTCUSDT",
            "--speed",
            "2",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    served = ProcessOutput(server)
    try:
        served.wait_for_line(lambda ln: "Binance spot API for BTCUSDT" in ln, what="the server's banner")
        wait_for(lambda: accepts(port), 60, "the server to accept connections")
        cfg = tmp_path / "c.toml"
        cfg.write_text(
            f'[engine]\nvenue = "binance-testnet"\nbase_url = "http://127.0.0.1:{port}"\n\n'
            '[pairs.BTCUSDT]\nspread = "0.5bps"\nrefresh_tolerance = "1bps"\n'
        )
        trade_env = dict(os.environ, BINANCE_API_KEY="k" * 20, BINANCE_API_SECRET="s" * 40)
        trader = subprocess.Popen(
            [sys.executable, "-m", "liqkit.cli", "trade", "--config", str(cfg), "--state-dir", str(tmp_path / "state")],
            env=trade_env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        trading = ProcessOutput(trader)
        try:
            banner = trading.wait_for_line(lambda ln: "liqkit: quoting" in ln, what="the trader's banner")
            assert "quoting BTCUSDT on binance-local" in banner, banner
            # the status line every 2 s: wait until it shows both sides quoted, then Ctrl-C
            trading.wait_for_line(lambda ln: "BTCUSDT:" in ln and " open orders 2 " in ln, what="two open orders")
        finally:
            trader.send_signal(signal.SIGINT)
            code, out, err = trading.finish()
        assert code == 0, err
        assert "stopped: 0 liqkit orders left open" in out
        assert "s" * 40 not in out + err and "k" * 20 not in out + err  # keys never printed
    finally:
        server.send_signal(signal.SIGINT)
        served.finish(30)


def test_keys_from_env_or_dotenv_never_shown(tmp_path, monkeypatch):
    from liqkit.venues.keys import load_api_keys

    monkeypatch.delenv("BINANCE_API_KEY", raising=False)
    monkeypatch.delenv("BINANCE_API_SECRET", raising=False)
    try:
        load_api_keys(tmp_path / ".env")
        raise AssertionError("missing keys must raise")
    except ConfigError as e:
        assert (
            "BINANCE_API_KEY and BINANCE_PRIVATE_KEY_PATH (an Ed25519 or RSA private key file) or "
            "BINANCE_API_SECRET (HMAC) not set" in str(e)
        )
    (tmp_path / ".env").write_text("BINANCE_API_KEY=fromfile\nBINANCE_API_SECRET=filesecret\n")
    keys = load_api_keys(tmp_path / ".env")
    assert (keys.key, keys.secret) == ("fromfile", "filesecret")
    assert "filesecret" not in repr(keys) and "fromfile" not in str(keys)
    monkeypatch.setenv("BINANCE_API_KEY", "fromenv")
    monkeypatch.setenv("BINANCE_API_SECRET", "envsecret")
    assert load_api_keys(tmp_path / ".env").key == "fromenv"


def test_live_trading_needs_both_opt_ins(monkeypatch):
    from liqkit.venues.binance import BinanceVenue

    monkeypatch.delenv("LIQKIT_ALLOW_LIVE", raising=False)
    for allow in (False, True):
        try:
            BinanceVenue(["BTCUSDT"], "k", "s", live=True, allow_live=allow)
            raise AssertionError("live trading must be refused")
        except LiveTradingRefused as e:
            assert "LIQKIT_ALLOW_LIVE=1" in str(e)
    monkeypatch.setenv("LIQKIT_ALLOW_LIVE", "1")
    assert BinanceVenue(["BTCUSDT"], "k", "s", live=True, allow_live=True).name == "binance-live"


def test_sim_server_injects_faults_from_a_file(tmp_path):
    import urllib.error
    import urllib.request

    faults = tmp_path / "faults.toml"
    faults.write_text('seed = 1\n\n[[fault]]\ntarget = "GET /api/v3/ping"\nkind = "http502"\nevery = 2\n')
    port = free_port()
    env = dict(os.environ, LIQKIT_SIM_API_KEY="k" * 20, LIQKIT_SIM_API_SECRET="s" * 40)
    cmd = [sys.executable, "-m", "liqkit.cli", "sim-server", "--port", str(port), "--faults", str(faults)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    served = ProcessOutput(server)
    try:
        served.wait_for_line(lambda ln: "Binance spot API" in ln, what="the server's banner")
        wait_for(lambda: accepts(port), 60, "the server to accept connections")
        statuses = []
        for _ in range(4):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v3/ping", timeout=30) as r:
                    statuses.append((r.status, r.read().decode()))
            except urllib.error.HTTPError as e:
                statuses.append((e.code, e.read().decode()))
        assert [s for s, _ in statuses] == [200, 502, 200, 502]  # every 2nd ping
        assert "<html>" in statuses[1][1] and statuses[0][1] == "{}"
    finally:
        server.send_signal(signal.SIGINT)
        served.finish(30)


def test_sim_server_refuses_a_bad_faults_file(tmp_path):
    faults = tmp_path / "faults.toml"
    faults.write_text('[[fault]]\ntarget = "*"\nkind = "delay"\nprobability = 3\n')
    out = subprocess.run(
        [sys.executable, "-m", "liqkit.cli", "sim-server", "--port", str(free_port()), "--faults", str(faults)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, LIQKIT_SIM_API_KEY="k" * 20, LIQKIT_SIM_API_SECRET="s" * 40),
    )
    assert out.returncode == 2
    assert "fault #1: probability = 3.0; must be between 0 and 1" in out.stderr
