"""The fault suite: each of Binance's failure modes, and many at once, against the engine through python-binance.

After every scenario the invariants are asserted: no liqkit order left open at the server after stop;
never two live orders for one pair, side and level; every fill the server made journaled exactly once;
liqkit's balances equal the server's.
"""

import asyncio

import pytest

from liqkit.domain.errors import ConfigError
from liqkit.venues.binance_server.faults import Fault, FaultPlan, parse_faults
from liqkit.venues.binance_server.scenario import run_scenario

SCENARIOS = {
    "http 502 with an HTML body on orders": [Fault("POST /api/v3/order", "http502", every=4)],
    "-1007, the order placed": [Fault("POST /api/v3/order", "-1007-placed", at=(3, 7, 11))],
    "-1007, the order not placed": [Fault("POST /api/v3/order", "-1007-not-placed", at=(2, 6, 10))],
    "429 with Retry-After": [Fault("POST /api/v3/order", "429", at=(5,), retry_after=1)],
    "418 with Retry-After": [Fault("DELETE /api/v3/order", "418", at=(3,), retry_after=1)],
    "slow answers": [Fault("*", "delay", every=3, delay_ms=300)],
    "clock skew past recvWindow": [Fault("*", "clock-skew", at=(4,), skew_ms=15_000)],
    "market stream drops": [Fault("stream", "drop", every=150)],
    "WebSocket API drop (user data goes silent)": [Fault("ws-api", "drop", at=(4, 20))],
    "serverShutdown": [Fault("ws-api", "server-shutdown", at=(6,))],
    "502 on cancels": [Fault("DELETE /api/v3/order", "http502", every=3)],
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fault_scenario_keeps_the_invariants(name):
    plan = FaultPlan(SCENARIOS[name], seed=11)
    report = asyncio.run(run_scenario(name, plan, seconds=3.0))
    assert report.faults_injected > 0, "the fault never fired: the scenario tested nothing"
    assert report.orders_placed > 2
    assert report.orphans == [], f"orders left open at the server: {report.orphans}"
    assert report.duplicates == [], report.duplicates
    assert report.fills_lost == 0, f"server made {report.fills_server} fills, journal has {report.fills_journal}"
    assert report.balance_mismatch == {}, report.balance_mismatch
    if name.startswith("clock skew"):
        assert report.resyncs >= 1
    if "drop" in name or name == "serverShutdown":
        assert report.stream_restarts >= 1


def test_many_faults_at_once():
    plan = FaultPlan(
        [
            Fault("POST /api/v3/order", "http502", probability=0.08),
            Fault("POST /api/v3/order", "-1007-placed", probability=0.05),
            Fault("POST /api/v3/order", "-1007-not-placed", probability=0.05),
            Fault("DELETE /api/v3/order", "http502", probability=0.08),
            Fault("*", "delay", probability=0.1, delay_ms=150),
            Fault("POST /api/v3/order", "429", at=(30,), retry_after=1),
            Fault("stream", "drop", probability=0.003),
            Fault("ws-api", "drop", at=(15,)),
        ],
        seed=5,
    )
    report = asyncio.run(run_scenario("mixed", plan, seconds=5.0))
    assert report.faults_injected >= 5
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
