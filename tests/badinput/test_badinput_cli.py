"""Bad input on the command line, table-driven (issue 11, slice h5-cli; the table is TABLE_cli.md).

Each row runs ``liqkit.cli.main`` on one bad command line and asserts: exit status 2, one line on
stderr, no traceback, and the words that name the flag or field and the fix. The rows against a
running service (``liqkit config``, ``run``, ``stop``) also assert that nothing running was harmed: the
quoted pair still quotes, with the same config and the same number of orders.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from processes import start_service, stop_service

from liqkit.cli import main
from liqkit.client import EngineClient

# (argv, words the one line must hold); {file} is a regular file, {empty} an empty folder
ARGUMENT_ROWS: list[tuple[list[str], list[str]]] = [
    (["serve", "--port", "99999"], ["--port", "99999", "1 to 65535"]),
    (["serve", "--port", "-5"], ["--port", "-5", "1 to 65535"]),
    (["serve", "--port", "abc"], ["--port", "'abc'", "whole number"]),
    (["serve", "--state-dir", "{file}"], ["--state-dir", "is a file, not a directory"]),
    (["serve", "--state-dir", "{file}/sub"], ["--state-dir", "is a file, not a directory"]),
    (["serve", "--speed", "-1"], ["--speed", "-1", "above 0"]),
    (["serve", "--speed", "0"], ["--speed", "above 0"]),
    (["serve", "--speed", "nan"], ["--speed", "not a finite number"]),
    (["serve", "--speed", "inf"], ["--speed", "not a finite number"]),
    (["serve", "--speed", "1e9"], ["--speed", "at most 1000"]),
    (["sim-server", "--port", "70000"], ["--port", "70000", "1 to 65535"]),
    (["sim-server", "--speed", "0"], ["--speed", "above 0"]),
    (["sim-server", "--state-dir", "{file}"], ["--state-dir", "is a file"]),
    (["dashboard", "--port", "99999"], ["--port", "1 to 65535"]),
    (["dashboard", "--speed", "-2"], ["--speed", "above 0"]),
    (["dashboard", "--state-dir", "{file}"], ["--state-dir", "is a file"]),
    (["trade", "--speed", "0"], ["--speed", "above 0"]),
    (["trade", "--speed", "-1"], ["--speed", "above 0"]),
    (["trade", "--duration", "-1"], ["--duration", "0 or more"]),
    (["trade", "--state-dir", "{file}"], ["--state-dir", "is a file"]),
    (["status", "--state-dir", "{file}"], ["--state-dir", "is a file"]),
    (["status", "--state-dir", "{empty}"], ["no running service", "liqkit serve"]),
    (["status", "--url", "http://127.0.0.1:9"], ["--url needs --token", "LIQKIT_TOKEN"]),
    (["stop", "BTCUSDT", "--wait", "-1"], ["--wait", "0 or more"]),
    (["serve", "--venue", "bogus", "--state-dir", "{empty}"], ["--venue", "'bogus'", "binance-testnet"]),
    (["dashboard", "--venue", "binance", "--state-dir", "{empty}"], ["--venue", "'binance'", "server URL"]),
    (["serve", "--host", "0.0.0.0", "--state-dir", "{empty}"], ["--host 0.0.0.0", "--allow-remote"]),
    (["backtest", "--data", "{csv}"], ["cannot tell the symbol", "pass --symbol SYMBOL"]),
]

# rows run against a service quoting BTCUSDT
SERVICE_ROWS: list[tuple[list[str], list[str]]] = [
    (["config", "BTCUSDT", "skew=nan"], ["skew = nan", "not a finite number"]),
    (["config", "BTCUSDT", "skew=inf"], ["skew = inf", "not a finite number"]),
    (["config", "BTCUSDT", "size=NaN"], ["size = NaN", "not a finite number"]),
    (["config", "BTCUSDT", "size=-inf"], ["size = -inf", "not a finite number"]),
    (["config", "BTCUSDT", "nosuchkey=1"], ["nosuchkey", "valid keys", "bid_spread", "size_unit"]),
    (["config", "BTCUSDT", "levels="], ["levels", "no value"]),
    (["config", "BTCUSDT", "spread 5bps"], ["'spread 5bps'", "key=value"]),
    (["config", "BTCUSDT", "skew=[1,2]"], ["skew = [1,2]", "one number"]),
    (["config", "BTCUSDT", "levels=-1"], ["levels = -1", "greater than or equal to 1"]),
    (["config", "BTCUSDT", "levels=abc"], ["levels", "integer"]),
    (["run", "BTC/USDT"], ["'BTC/USDT'", "e.g. BTCUSDT", "configured: BTCUSDT, ETHUSDT"]),
    (["stop", "BTC-USDT"], ["'BTC-USDT'", "configured: BTCUSDT, ETHUSDT"]),
    (["config", "btc/usdt", "levels=2"], ["'btc/usdt'", "configured: BTCUSDT, ETHUSDT"]),
    (["run", "NOPEUSDT"], ["'NOPEUSDT' is not a configured pair", "configured: BTCUSDT, ETHUSDT"]),
]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``liqkit ARGV`` in this process: (exit status, stderr); argparse's exits are caught as statuses."""
    try:
        code = main(argv)
    except SystemExit as e:
        code = int(e.code or 0)
    return code, capsys.readouterr().err


def assert_one_clear_line(code: int, err: str, words: list[str]) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    for w in words:
        assert w in err, (w, err)


@pytest.mark.parametrize(("argv", "words"), ARGUMENT_ROWS, ids=[" ".join(a) for a, _ in ARGUMENT_ROWS])
def test_bad_argument_is_one_line_naming_the_flag(argv, words, tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "ticks.csv").write_text("1,60000.1,1.0,60000.2,2.0,1723075200000,1723075200000\n")
    subst = {"file": str(tmp_path / "file"), "empty": str(tmp_path / "empty"), "csv": str(tmp_path / "ticks.csv")}
    code, err = run_cli([a.format(**subst) for a in argv], capsys)
    assert_one_clear_line(code, err, words)
    assert (tmp_path / "file").read_text() == "not a folder\n"  # nothing half-done
    assert list((tmp_path / "empty").iterdir()) == []


@pytest.fixture(scope="module")
def quoting_service(tmp_path_factory):
    """A real `liqkit serve` quoting BTCUSDT (ETHUSDT configured, stopped); its state directory."""
    state = tmp_path_factory.mktemp("svc")
    proc, _ = start_service(state, "--run", "BTCUSDT")
    try:
        yield state
    finally:
        code, _, err = stop_service(proc)
        assert code == 0, err


def btc_now(state: Path) -> tuple[str, dict[str, object], int]:
    """BTCUSDT's state, config and open order count, once it quotes both sides (within 60 s)."""

    async def read() -> tuple[str, dict[str, object], int]:
        async with EngineClient.from_state_dir(state) as c:
            loop = asyncio.get_running_loop()
            end = loop.time() + 60
            view = await c.pair("BTCUSDT")
            while view.open_orders != 2 and loop.time() < end:  # a refresh may be in flight
                await asyncio.sleep(0.2)
                view = await c.pair("BTCUSDT")
            return view.state, view.config.model_dump(mode="json"), view.open_orders

    return asyncio.run(read())


@pytest.mark.parametrize(("argv", "words"), SERVICE_ROWS, ids=[" ".join(a) for a, _ in SERVICE_ROWS])
def test_bad_command_to_a_running_service_harms_nothing(argv, words, quoting_service, capsys):
    before = btc_now(quoting_service)
    assert before[0] == "quoting"
    code, err = run_cli([*argv, "--state-dir", str(quoting_service)], capsys)
    assert_one_clear_line(code, err, words)
    assert btc_now(quoting_service) == before  # still quoting, same config, both sides quoted
