"""`GET /api/preflight` and the rate plan of `liqkit serve` as a real process, and `liqkit status` printing it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from processes import start_service, stop_service, wait_for

from liqkit.client import EngineClient
from liqkit.domain.rules import load_exchange_info
from liqkit.preflight import Preflight

DECLARED = {f"{r['rateLimitType']} per {r['intervalNum']} {r['interval']}" for r in load_exchange_info()["rateLimits"]}


def get(url: str, token: str | None) -> tuple[int, dict]:
    req = urllib.request.Request(url)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    state = tmp_path_factory.mktemp("svc")
    proc, url = start_service(state, "--speed", "5", "--run", "BTCUSDT")
    token = (state / "token").read_text().strip()
    yield url, token, state
    code, _, err = stop_service(proc)
    assert code == 0, err


def test_preflight_endpoint_answers_the_table_of_every_pair_and_sends_nothing(service):
    url, token, _ = service
    assert get(f"{url}/api/preflight", None)[0] == 401

    def quoting() -> bool:
        code, orders = get(f"{url}/api/orders?symbol=BTCUSDT", token)
        return code == 200 and {o["side"] for o in orders} == {"BUY", "SELL"}

    wait_for(quoting, 60, "BTCUSDT quoting both sides")
    code, body = get(f"{url}/api/preflight", token)
    assert code == 200, body
    report = Preflight.model_validate(body)
    assert report.venue == "sim" and set(report.pairs) == {"BTCUSDT", "ETHUSDT"}
    for sym, p in report.pairs.items():
        assert p.bid is not None and p.filters is not None and len(p.quotes) == 2, sym
        assert p.rate is not None and p.rate.sample_s > 0 and "as the engine saw it" in p.rate.source
        assert p.bids is not None and p.bids.asset == "USDT"
    # liqkit's own open orders count as free: the table is a fresh start's, whatever rests now
    btc = report.pairs["BTCUSDT"]
    assert btc.bids is not None and btc.bids.funded == 1 and btc.asks is not None and btc.asks.funded == 1
    assert {lp.limit for lp in report.rate_plan.limits} == DECLARED
    assert report.observed is not None and report.observed.orders >= 2  # BTCUSDT's own orders
    assert {lp.limit for lp in report.observed.limits} == DECLARED
    assert get(f"{url}/api/orders?symbol=ETHUSDT", token) == (200, [])  # a pre-flight places nothing
    _, pairs = get(f"{url}/api/pairs", token)
    assert pairs["ETHUSDT"]["state"] == "stopped" and pairs["ETHUSDT"]["open_orders"] == 0
    _, schema = get(f"{url}/openapi.json", token)
    assert "/api/preflight" in schema["paths"] and "PairPreflight" in schema["components"]["schemas"]

    async def via_client() -> Preflight:
        async with EngineClient(url, token) as c:
            return await c.preflight()

    again = asyncio.run(via_client())
    assert set(again.pairs) == set(report.pairs)
    moving = {"bid_band", "ask_band"}  # the percent-price band follows the market
    f1, f2 = again.pairs["ETHUSDT"].filters, report.pairs["ETHUSDT"].filters
    assert f1 is not None and f2 is not None and f1.model_dump(exclude=moving) == f2.model_dump(exclude=moving)


def test_status_carries_the_rate_plan_and_liqkit_status_prints_it(service):
    url, token, state = service

    def planned() -> dict | None:
        _, st = get(f"{url}/api/status", token)
        plan = st.get("rate_plan")
        return plan if plan and plan["orders"] >= 2 else None

    plan = wait_for(planned, 60, "a rate plan with BTCUSDT's orders")
    assert isinstance(plan, dict)
    assert {lp["limit"] for lp in plan["limits"]} == DECLARED and "engine's orders" in plan["source"]
    ten = next(lp for lp in plan["limits"] if lp["limit"] == "ORDERS per 10 SECOND")
    declared = next(r["limit"] for r in load_exchange_info()["rateLimits"] if r["interval"] == "SECOND")
    assert ten["predicted"] >= 1 and ten["allowed"] == declared and ten["level"] in ("ok", "warning", "over")
    p = subprocess.run(
        [sys.executable, "-m", "liqkit.cli", "status", "--state-dir", str(state)], capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "rate limits (the venue's exchangeInfo), from the engine's orders over the last" in p.stdout
    assert "ORDERS per 10 SECOND" in p.stdout and "ORDERS per 1 DAY" in p.stdout
