"""Rate limits: the local server counts and refuses like Binance; the venue paces itself to stay under."""

import asyncio
import itertools

import pytest
from binance.exceptions import BinanceAPIException

from liqkit.venues.binance import client_class
from liqkit.venues.binance_server.faults import FaultPlan
from liqkit.venues.binance_server.scenario import ScenarioReport, run_scenario
from liqkit.venues.binance_server.server import BinanceServer
from liqkit.venues.ratelimit import RateLimits

KEY, SECRET = "rate-key-0123456789", "rate-secret-0123456789abcdef"
INFO = {
    "rateLimits": [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 6100},
    ]
}


def test_limits_come_from_exchange_info_and_headers_drive_the_pacing():
    now = [1_000_000.0]
    rl = RateLimits.from_exchange_info(INFO, clock=lambda: now[0])
    assert [lim.header for lim in rl.limits] == ["X-MBX-USED-WEIGHT-1M", "X-MBX-ORDER-COUNT-10S"]
    assert rl.order_delay() == (0.0, "")
    rl.observe({"x-mbx-order-count-10s": "30", "X-MBX-USED-WEIGHT-1M": "100"})
    assert rl.order_delay()[0] == 0.0  # 60 % of the order limit: no pause
    rl.observe({"X-MBX-ORDER-COUNT-10S": "44"})  # 88 %: a short pause
    delay, why = rl.order_delay()
    assert 0 < delay <= 0.5 and "X-MBX-ORDER-COUNT-10S at 44/50" in why
    rl.observe({"X-MBX-ORDER-COUNT-10S": "48"})  # 96 %: hold until the 10 s window turns
    assert rl.order_delay()[0] == pytest.approx(10 - now[0] % 10)
    now[0] += 10  # the window turned: the old figure no longer counts
    assert rl.order_delay() == (0.0, "")
    assert rl.snapshot()["X-MBX-ORDER-COUNT-10S"] == {"used": 0, "limit": 50}


def test_server_refuses_new_orders_past_the_limit_with_1015():
    async def main() -> tuple[list[str], BinanceAPIException]:
        server = BinanceServer(["BTCUSDT"], {KEY: SECRET})
        runner, url = await server.listen()
        client = await client_class(url).create(KEY, SECRET)
        counts = []
        try:
            book = await client.get_orderbook_ticker(symbol="BTCUSDT")
            price = f"{float(book['bidPrice']) * 0.9:.2f}"
            for i in range(server.order_limit_10s + 1):
                try:
                    await client.create_order(
                        symbol="BTCUSDT",
                        side="BUY",
                        type="LIMIT_MAKER",
                        quantity="0.001",
                        price=price,
                        newClientOrderId=f"rate-{i}",
                    )
                    counts.append(client.response.headers["X-MBX-ORDER-COUNT-10S"])
                except BinanceAPIException as e:
                    return counts, e
            raise AssertionError("the limit was never enforced")
        finally:
            await client.close_connection()
            await runner.cleanup()

    counts, err = asyncio.run(main())
    # the 10 s window may turn during the burst: the count restarts from 1 then, never skips
    assert all(int(b) in (int(a) + 1, 1) for a, b in itertools.pairwise(counts))
    assert err.status_code == 429 and err.code == -1015
    assert int(err.response.headers["Retry-After"]) >= 1


def test_engine_paces_itself_and_is_never_refused():
    # spread and tolerance this tight at 20x market speed want far more than 50 new orders per 10 s
    def done(r: ScenarioReport) -> bool:  # the limit was reached, and enough orders went out
        return r.paced > 0 and r.orders_placed >= 30

    report = asyncio.run(run_scenario("pacing", FaultPlan([]), seconds=4.0, until=done))
    assert report.paced > 0, "the venue never held an order back: the test did not reach the limit"
    assert report.rate_limited == 0
    assert report.orders_placed >= 30
    assert report.ok, report


def test_orders_that_succeed_cost_no_weight_and_failures_do():
    async def main() -> tuple[int, int, int]:
        server = BinanceServer(["BTCUSDT"], {KEY: SECRET})
        runner, url = await server.listen()
        client = await client_class(url).create(KEY, SECRET)
        try:
            book = await client.get_orderbook_ticker(symbol="BTCUSDT")
            before = int(client.response.headers["X-MBX-USED-WEIGHT-1M"])
            low = f"{float(book['bidPrice']) * 0.9:.2f}"
            await client.create_order(
                symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER", quantity="0.001", price=low, newClientOrderId="w1"
            )
            placed = int(client.response.headers["X-MBX-USED-WEIGHT-1M"])
            with pytest.raises(BinanceAPIException) as e:  # a post-only buy above the ask: refused
                high = f"{float(book['askPrice']) * 1.1:.2f}"
                await client.create_order(
                    symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER", quantity="0.001", price=high,
                    newClientOrderId="w2",
                )  # fmt: skip
            return before, placed, int(e.value.response.headers["X-MBX-USED-WEIGHT-1M"])
        finally:
            await client.close_connection()
            await runner.cleanup()

    for _ in range(3):  # the minute's weight restarts at 0 when the minute turns: run again then
        before, placed, refused = asyncio.run(main())
        if before <= placed <= refused:
            break
    assert placed == before  # a successful placement costs 0 weight (Binance, since 2026-04-02)
    assert refused == placed + 1  # a refused one still costs
