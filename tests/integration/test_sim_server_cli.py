"""`liqkit sim-server` and `liqkit trade` as separate processes: the engine trades through python-binance."""

import os
import signal
import socket
import subprocess
import sys
import time

from processes import free_port

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
    try:
        assert server.stdout is not None
        assert "Binance spot API for BTCUSDT" in server.stdout.readline()
        for _ in range(100):  # until it accepts connections
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
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
        assert trader.stdout is not None
        banner = trader.stdout.readline()
        assert "quoting BTCUSDT on binance-local" in banner, banner
        time.sleep(3)
        trader.send_signal(signal.SIGINT)
        out, err = trader.communicate(timeout=60)
        assert trader.returncode == 0, err
        assert "open orders 2" in out and "stopped: 0 liqkit orders left open" in out
        assert "s" * 40 not in out + err and "k" * 20 not in out + err  # keys never printed
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)


def test_keys_from_env_or_dotenv_never_shown(tmp_path, monkeypatch):
    from liqkit.venues.keys import load_api_keys

    monkeypatch.delenv("BINANCE_API_KEY", raising=False)
    monkeypatch.delenv("BINANCE_API_SECRET", raising=False)
    try:
        load_api_keys(tmp_path / ".env")
        raise AssertionError("missing keys must raise")
    except ConfigError as e:
        assert "BINANCE_API_KEY and BINANCE_API_SECRET not set" in str(e)
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
    try:
        assert server.stdout is not None and "Binance spot API" in server.stdout.readline()
        statuses = []
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v3/ping", timeout=5) as r:
                    statuses.append((r.status, r.read().decode()))
            except urllib.error.HTTPError as e:
                statuses.append((e.code, e.read().decode()))
            except urllib.error.URLError:
                time.sleep(0.05)  # not listening yet
                continue
            if len(statuses) == 4:
                break
        assert [s for s, _ in statuses] == [200, 502, 200, 502]  # every 2nd ping
        assert "<html>" in statuses[1][1] and statuses[0][1] == "{}"
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)


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
