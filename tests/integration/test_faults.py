"""The fault suite: each of Binance's failure modes, and many at once, against the engine through python-binance.

After every scenario the invariants are asserted: no liqkit order left open at the server after stop;
never two live orders for one pair, side and level; every fill the server made journaled exactly once;
liqkit's balances equal the server's. A scenario runs until what it is about has happened (its fault
fired, the engine reacted), not for a fixed time: a busy machine makes it longer, never vacuous.
"""

import asyncio

import pytest

from liqkit.domain.errors import ConfigError
from liqkit.venues.binance_server.faults import Fault, FaultPlan, parse_faults
from liqkit.venues.binance_server.scenario import SCENARIOS, ScenarioReport, mixed_plan, mixed_ws_plan, run_scenario


def _reacted(name: str, r: ScenarioReport) -> bool:
    """Whether scenario ``name`` has shown what it tests: its fault fired, and the engine's answer to it."""
    if r.faults_injected == 0 or r.orders_placed <= 2:
        return False
    if name.startswith("clock skew") and r.resyncs < 1:
        return False
    return not (("drop" in name or name == "serverShutdown") and r.stream_restarts < 1)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fault_scenario_keeps_the_invariants(name):
    plan = FaultPlan(SCENARIOS[name], seed=11)
    report = asyncio.run(run_scenario(name, plan, seconds=3.0, until=lambda r: _reacted(name, r)))
    assert report.faults_injected > 0, "the fault never fired: the scenario tested nothing"
    assert report.orders_placed > 2
    assert report.orphans == [], f"orders left open at the server: {report.orphans}"
    assert report.duplicates == [], report.duplicates
    assert report.fills_lost == 0, f"server made {report.fills_server} fills, journal has {report.fills_journal}"
    assert report.balance_mismatch == {}, report.balance_mismatch
    if report.order_entry == "ws-api":  # order entry went over the WebSocket API, REST only while it was down
        assert report.ws_orders > 0 and report.rest_orders == report.ws_fallbacks, report
    else:
        assert report.rest_orders > 0 and report.ws_orders == 0, report
    if name.startswith("clock skew"):
        assert report.resyncs >= 1
    if "drop" in name or name == "serverShutdown":
        assert report.stream_restarts >= 1


def test_many_faults_at_once():
    plan = mixed_plan(seed=5)
    report = asyncio.run(run_scenario("mixed", plan, seconds=5.0, until=lambda r: r.faults_injected >= 5))
    assert report.faults_injected >= 5
    assert report.ok, report


def test_many_websocket_api_faults_at_once():
    plan = mixed_ws_plan(seed=5)
    report = asyncio.run(run_scenario("mixed ws", plan, seconds=5.0, until=lambda r: r.faults_injected >= 5))
    assert report.faults_injected >= 5 and report.order_entry == "ws-api" and report.ws_orders > 0
    assert report.ok, report


def test_message_queue_overflow_recreates_the_stream():
    # python-binance ends a socket's read loop when its queue overflows (the venue's own drain task keeps
    # that queue near empty, so here a queue of size 0 overflows on every message): the venue must
    # notice, recreate the socket with backoff, and the invariants must hold
    report = asyncio.run(
        run_scenario(
            "overflow", FaultPlan([]), seconds=2.0, stream_queue_size=0, until=lambda r: r.stream_restarts >= 1
        )
    )
    assert report.stream_restarts >= 1
    assert report.ok, report


def test_a_silent_market_socket_is_recreated():
    # the connection stays open (pings answered) but no frame comes: python-binance would wait forever
    plan = FaultPlan([Fault("stream", "stall", at=(30,))], seed=3)

    def done(r: ScenarioReport) -> bool:
        # without a new socket the pair pauses on the stale feed and stops placing at about 13 orders:
        # waiting for more than 25 cannot pass by waiting longer
        return r.stream_restarts >= 1 and r.orders_placed > 25

    report = asyncio.run(run_scenario("stall", plan, seconds=4.0, market_silence_s=1.0, until=done))
    assert report.faults_injected == 1
    assert report.stream_restarts >= 1
    assert report.orders_placed > 25  # quoting went on with the new socket
    assert report.ok, report


def test_faults_file_is_validated():
    fault = {"target": "POST /api/v3/order", "kind": "429", "at": [2], "retry_after": 5}
    plan = parse_faults({"seed": 3, "fault": [fault]})
    assert plan.faults[0].retry_after == 5 and plan.seed == 3
    with pytest.raises(ConfigError, match="kind = 'explode'"):
        parse_faults({"fault": [{"target": "*", "kind": "explode"}]})
    with pytest.raises(ConfigError, match=r"probability = 2\.0"):
        parse_faults({"fault": [{"target": "*", "kind": "delay", "probability": 2}]})
    with pytest.raises(ConfigError, match="unknown keys"):
        parse_faults({"fault": [{"target": "*", "kind": "delay", "when": 3}]})
