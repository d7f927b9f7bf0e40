"""Start-up against a misbehaving local Binance: transient faults retried with backoff, permanent ones said once.

Every scenario runs the engine through python-binance against the project's Binance-compatible server
on 127.0.0.1: faults during start-up (429/-1003 on exchangeInfo and account, 502 on openOrders, a
skewed clock), and a restart after a crash with orders open while faults are on.
"""

import asyncio
import importlib.util
import itertools
import logging
import socket
from decimal import Decimal
from pathlib import Path

import pytest
from processes import NO_DNS, free_port, until

from liqkit.domain.config import PairConfig, RiskConfig, SimConfig
from liqkit.domain.errors import RulesError, UnknownOutcomeError, VenueError
from liqkit.engine.runner import EngineRunner
from liqkit.venues.binance import BinanceVenue
from liqkit.venues.binance_server.faults import Fault, FaultPlan
from liqkit.venues.binance_server.scenario import KEY, RESTART_SCENARIOS, SECRET, STARTUP_SCENARIOS, run_scenario
from liqkit.venues.binance_server.server import BinanceServer

CFG = {"symbol": "BTCUSDT", "spread": "5bps", "size": "0.002"}


@pytest.mark.parametrize("name", list(STARTUP_SCENARIOS))
def test_start_up_rides_out_a_transient_fault(name):
    report = asyncio.run(
        run_scenario(name, FaultPlan(STARTUP_SCENARIOS[name], seed=1), seconds=1.0, until=lambda r: r.orders_placed > 2)
    )
    assert report.faults_injected >= 1, "the fault never fired: the scenario tested nothing"
    if "clock" in name:
        assert report.resyncs >= 1  # the skew was seen (-1021) and the clock re-synced
    else:
        assert report.startup_retries >= 1  # the step failed, was retried, and start-up went on
    assert report.orders_placed > 2  # it came up and quoted
    assert report.ok, report


@pytest.mark.parametrize("name", list(RESTART_SCENARIOS))
def test_restart_after_a_crash_with_faults_on_cancels_the_orphans_and_quotes(name):
    report = asyncio.run(
        run_scenario(
            name,
            FaultPlan(RESTART_SCENARIOS[name], seed=2),
            seconds=1.0,
            crash_first=True,
            until=lambda r: r.faults_injected >= len(RESTART_SCENARIOS[name]),
        )
    )
    assert report.orphans_at_restart >= 1, "the crash left no order open: nothing to clean up"
    assert report.faults_injected >= len(RESTART_SCENARIOS[name])
    assert report.startup_retries >= 1
    assert report.placed_after_restart > 0  # the restarted engine quotes
    assert report.orphans == [] and report.duplicates == [], report
    assert report.ok, report


async def _serve(faults: FaultPlan, keys: dict[str, str] | None = None):
    sim = SimConfig(balances={"BTC": Decimal(1), "USDT": Decimal(100_000)})
    server = BinanceServer(["BTCUSDT"], keys or {KEY: SECRET}, sim, speed=5, faults=faults)
    site, url = await server.listen()
    return server, site, url


async def _start(url: str, key: str = KEY, secret: str = SECRET, symbol: str = "BTCUSDT", give_up: float | None = None):
    venue = BinanceVenue([symbol], key, secret, base_url=url)
    runner = EngineRunner(venue, [PairConfig.model_validate({**CFG, "symbol": symbol})], None, RiskConfig())
    runner.startup.initial_s, runner.startup.give_up_after_s = 0.1, give_up
    return venue, runner


@pytest.mark.parametrize(
    ("key", "secret", "code", "variable"),
    [
        ("unknown-key-0123456789", SECRET, -2015, "BINANCE_API_KEY"),
        (KEY, "wrong-secret-0123456789abcdef", -1022, "BINANCE_API_SECRET"),
    ],
)
def test_bad_keys_stop_start_up_at_once_with_one_line_naming_the_variable(key, secret, code, variable, caplog):
    async def go():
        server, site, url = await _serve(FaultPlan())
        venue, runner = await _start(url, key, secret)
        try:
            with pytest.raises(VenueError) as err:
                await runner.start(run=["BTCUSDT"])
            await runner.stop()  # after a failed start: a no-op, never an error over the cause
            return err.value, venue, runner, server
        finally:
            await site.cleanup()

    with caplog.at_level(logging.WARNING, logger="liqkit"):
        e, venue, runner, server = asyncio.run(go())
    text = str(e)
    assert e.code == code and variable in text and "\n" not in text, text
    assert secret not in text and "signature=" not in text
    assert [r for r in caplog.records if r.name == "liqkit.startup"] == []  # permanent: not retried, no storm
    assert runner.state == "stopped" and venue.client is None
    assert server.faults.calls["GET /api/v3/openOrders"] == 1  # asked once, not 100 times


def test_unknown_symbol_is_permanent():
    async def go():
        _server, site, url = await _serve(FaultPlan())
        _venue, runner = await _start(url, symbol="NOPEUSDT")
        try:
            with pytest.raises(RulesError, match="NOPEUSDT") as err:
                await runner.start()
            return err.value, runner
        finally:
            await site.cleanup()

    _, runner = asyncio.run(go())
    assert runner.startup.attempts == 0 and runner.state == "stopped"


def test_status_says_what_start_up_waits_for_then_runs():
    async def go():
        faults = FaultPlan([Fault("GET /api/v3/exchangeInfo", "429", at=(1, 2), retry_after=1)])
        _server, site, url = await _serve(faults)
        _venue, runner = await _start(url)
        seen: list[str] = []
        task = asyncio.create_task(runner.start())
        try:
            while not task.done():
                if runner.state not in seen:
                    seen.append(runner.state)
                await asyncio.sleep(0.01)
            await task
            state = runner.state
            await runner.stop()
            return seen, state
        finally:
            await site.cleanup()

    seen, state = asyncio.run(go())
    waits = [s for s in seen if s.startswith("starting: waiting for exchangeInfo")]
    assert waits, seen
    assert any(s.endswith("attempt 2") for s in waits) and any(s.endswith("attempt 3") for s in waits), waits
    assert all("429" in s and "-1003" in s for s in waits), waits  # the why: HTTP status and Binance code
    assert state == "running"


def _startup_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "liqkit.startup"]


def test_a_host_that_cannot_be_reached_is_named_not_masked(caplog):
    # nothing listens on this port of 127.0.0.1: connecting fails as it does without network
    port = free_port()

    async def go():
        _venue, runner = await _start(f"http://127.0.0.1:{port}", give_up=1.5)
        with pytest.raises(UnknownOutcomeError) as err:
            await runner.start()
        await runner.stop()  # cleanup after the failed start raises nothing over the cause
        return err.value, runner

    with caplog.at_level(logging.WARNING, logger="liqkit"):
        e, runner = asyncio.run(go())
    text = str(e)
    assert f"cannot connect to 127.0.0.1:{port}: connection refused" in text and "not started" not in text, text
    assert "check that the server runs" in text and "--venue, or engine.base_url" in text and "\n" not in text
    assert runner.startup.attempts >= 2  # transient: it was retried before giving up (bounded here)
    said = [r.getMessage() for r in _startup_lines(caplog)]
    assert len(said) == runner.startup.attempts and sum("connection refused" in t for t in said) == 1, said


def _refuse_invalid_names(monkeypatch, log: Path) -> None:
    """This process's resolver fails names under .invalid at once, as tests/nodns does for a process."""
    spec = importlib.util.spec_from_file_location("nodns_sitecustomize", NO_DNS / "sitecustomize.py")
    assert spec is not None and spec.loader is not None
    shim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shim)
    monkeypatch.setattr(socket, "getaddrinfo", shim.refusing_invalid(socket.getaddrinfo, str(log)))


def test_a_host_that_cannot_be_resolved_is_said_once_then_retried_with_backoff(monkeypatch, tmp_path, caplog):
    log = tmp_path / "dns.log"
    _refuse_invalid_names(monkeypatch, log)  # no DNS query leaves the machine

    async def go():
        venue, runner = await _start("http://liqkit-test.invalid:9")
        runner.startup.initial_s = 0.05
        task = asyncio.create_task(runner.start())
        await until(lambda: runner.startup.attempts >= 5, 60, "five retries")
        state = runner.state
        task.cancel()  # as a signal does: start-up never gives up on a transient fault by itself
        with pytest.raises(asyncio.CancelledError):
            await task
        await runner.stop()
        return state, venue, runner

    with caplog.at_level(logging.WARNING, logger="liqkit"):
        state, venue, runner = asyncio.run(go())
    cause = (
        "cannot resolve host liqkit-test.invalid (Name or service not known): check the network and DNS, and "
        "the venue's URL (--venue, or engine.base_url in the config); liqkit tries again"
    )
    assert state.startswith(f"starting: waiting for the venue (connect) ({cause}), attempt "), state
    lines = _startup_lines(caplog)
    said = [r.getMessage() for r in lines]
    assert len(said) >= 5 and cause in said[0] and "not started" not in said[0], said
    assert sum("cannot resolve" in t for t in said) == 1, said  # the cause once ...
    assert all(t.startswith("start-up: still waiting for the venue (connect) (same cause)") for t in said[1:]), said
    delays = [r.args[-1] for r in lines]  # ... then a line an attempt, each wait longer than the last
    assert all(a < b for a, b in itertools.pairwise(delays)), delays
    assert runner.state == "stopped" and venue.client is None
    lookups = log.read_text().split()
    assert set(lookups) == {"liqkit-test.invalid"}
    assert runner.startup.attempts <= len(lookups) <= runner.startup.attempts + 1  # one lookup an attempt


def test_a_502_is_one_line_without_the_signed_url():
    async def go():
        _server, site, url = await _serve(FaultPlan([Fault("GET /api/v3/account", "http502", at=(1,))]))
        venue = BinanceVenue(["BTCUSDT"], KEY, SECRET, base_url=url)
        try:
            await venue.start()
            with pytest.raises(UnknownOutcomeError) as err:
                await venue.balances()
            return err.value
        finally:
            await venue.close()
            await site.cleanup()

    text = str(asyncio.run(go()))
    assert text == "[0] GET /api/v3/account: HTTP 502 Bad Gateway (no JSON body); liqkit tries again", text
