"""`liqkit sim-server` with hidden matching parameters of its own: a queue model and an order latency.

The process starts with ``--queue-model prob-power --queue-param 3`` and a lognormal order latency whose
median and 99th percentile are equal (every draw is that delay): each new order and each cancel waits it
before it reaches the matching, so its round trip, measured here over REST and the WebSocket API, is at
least that long. (No upper bound: a busy machine only adds to it.)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal
from urllib.parse import urlencode

import aiohttp
import yarl
from processes import ProcessOutput, accepts, free_port, wait_for

KEY, SECRET = "matching-key-0123456789", "matching-secret-abcdefghijklmnop"
FLOOR_MS = 300.0


def signed(params: dict[str, str]) -> str:
    q = urlencode({**params, "timestamp": int(time.time() * 1000), "recvWindow": 10_000})
    return f"{q}&signature={hmac.new(SECRET.encode(), q.encode(), hashlib.sha256).hexdigest()}"


def call(url: str, method: str, path: str, params: dict[str, str]) -> tuple[float, int, dict]:
    """One signed REST request: (its round trip in ms, HTTP status, JSON body)."""
    body = signed(params)
    req = urllib.request.Request(
        f"{url}{path}" + (f"?{body}" if method != "POST" else ""),
        data=body.encode() if method == "POST" else None,
        method=method,
        headers={"X-MBX-APIKEY": KEY},
    )
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, text = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    return (time.perf_counter() - t0) * 1000, status, json.loads(text)


def test_sim_server_matches_with_its_own_queue_model_and_delays_order_entry_and_cancels():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "liqkit.cli", "sim-server", "--port", str(port), "--symbols", "BTCUSDT"]
    flags = ["--queue-model", "prob-power", "--queue-param", "3"]
    flags += ["--latency-p50-ms", str(FLOOR_MS), "--latency-p99-ms", str(FLOOR_MS), "--latency-seed", "5"]
    proc = subprocess.Popen(
        [*cmd, "--speed", "5", "--api-key", KEY, "--api-secret", SECRET, *flags],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    served = ProcessOutput(proc)
    try:
        line = served.wait_for_line(lambda ln: "matching:" in ln, what="the server's matching line")
        assert "queue model prob-power (exponent 3)" in line and "p50 300 ms, p99 300 ms (seed 5)" in line, line
        served.wait_for_line(lambda ln: "Binance spot API for" in ln, what="the server's banner")
        wait_for(lambda: accepts(port), 60, "the server to accept connections")

        def bid() -> Decimal:
            with urllib.request.urlopen(f"{url}/api/v3/ticker/bookTicker?symbol=BTCUSDT", timeout=30) as r:
                return Decimal(json.loads(r.read())["bidPrice"])

        top = wait_for(bid, 60, "a book")
        price = f"{top * Decimal('0.99'):.2f}"  # far below the touch: it rests
        order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.001", "price": price}
        order["newOrderRespType"] = "RESULT"
        rtt, status, placed = call(url, "POST", "/api/v3/order", {**order, "newClientOrderId": "slow-1"})
        assert status == 200 and placed["status"] == "NEW", placed
        assert rtt >= FLOOR_MS, f"order entry answered in {rtt:.0f} ms, before its {FLOOR_MS:g} ms latency"
        rtt, status, cancelled = call(
            url, "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "slow-1"}
        )
        assert status == 200 and cancelled["status"] == "CANCELED", cancelled
        assert rtt >= FLOOR_MS, f"a cancel answered in {rtt:.0f} ms, before its {FLOOR_MS:g} ms latency"

        async def over_ws_api() -> float:  # the WebSocket API enters orders through the same path
            async with aiohttp.ClientSession() as s, s.ws_connect(f"ws://127.0.0.1:{port}/ws-api/v3") as ws:
                params = {**order, "apiKey": KEY, "newClientOrderId": "slow-2", "timestamp": int(time.time() * 1000)}
                text = "&".join(f"{k}={v}" for k, v in sorted(params.items()))  # Binance's WebSocket API payload
                params["signature"] = hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()
                t0 = time.perf_counter()
                await ws.send_json({"id": 1, "method": "order.place", "params": params})
                answer = await ws.receive_json(timeout=60)
                took = (time.perf_counter() - t0) * 1000
                assert answer["status"] == 200 and answer["result"]["status"] == "NEW", answer
                return took

        rtt = asyncio.run(over_ws_api())
        assert rtt >= FLOOR_MS, f"order.place answered in {rtt:.0f} ms, before its {FLOOR_MS:g} ms latency"
    finally:
        proc.send_signal(signal.SIGINT)
        code, _out, err = served.finish(60)
    assert code == 0, err


def test_a_matching_flag_that_does_not_fit_is_one_line_and_writes_nothing(tmp_path):
    state = tmp_path / "state"
    cmd = [sys.executable, "-m", "liqkit.cli", "sim-server", "--port", "0", "--state-dir", str(state)]
    env = {k: v for k, v in os.environ.items() if k not in ("LIQKIT_SIM_API_KEY", "LIQKIT_SIM_API_SECRET")}
    r = subprocess.run([*cmd, "--queue-param", "2"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == "", r
    (line,) = r.stderr.strip().splitlines()
    assert "--queue-param 2: is the exponent of --queue-model prob-power" in line
    assert not state.exists()  # checked before keys are generated


class Recorded:
    """A latency model that delays nothing and notes each request it is asked about (its kind)."""

    def __init__(self) -> None:
        self.kinds: list[int] = []

    def request_ns(self, ts: int, kind: int) -> int:
        self.kinds.append(kind)
        return 0

    def response_ns(self, ts: int, kind: int) -> int:
        return 0

    def feed_ns(self, ts: int) -> int:
        return 0


def test_each_order_request_travels_once_a_cancel_replace_too():
    """New order, amend, cancelReplace (one request: its cancel and its new order arrive together), cancel,
    cancel of all open orders: one delay each, of order entry's kind or a cancel's; queries none."""
    from markets import still_feed

    from liqkit.domain.config import SimConfig
    from liqkit.engine.latency import CANCEL, PLACE
    from liqkit.venues.binance_server.server import BinanceServer

    async def main() -> list[int]:
        sim = SimConfig(queue_model="prob-log", balances={"BTC": Decimal(1), "USDT": Decimal(100_000)})
        server = BinanceServer(["BTCUSDT"], {KEY: SECRET}, sim, {"BTCUSDT": still_feed(600.0)}, speed=1)
        assert server.venue.exchange.queue_model == 2  # the [sim] queue model is the server's matching
        seen = server.book.latency = Recorded()
        runner, url = await server.listen()
        try:
            async with aiohttp.ClientSession() as s:

                async def send(method: str, path: str, **params: str) -> dict:
                    q = signed(params)
                    kw = {"data": q} if method in ("POST", "PUT") else {"params": None}
                    target = f"{url}{path}" if method in ("POST", "PUT") else f"{url}{path}?{q}"
                    headers = {"X-MBX-APIKEY": KEY, "Content-Type": "application/x-www-form-urlencoded"}
                    async with s.request(method, yarl.URL(target, encoded=True), headers=headers, **kw) as r:
                        body = await r.json()
                        assert r.status == 200, body
                        return body

                order = dict(symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER", quantity="0.002", price="59000.00")
                await send("POST", "/api/v3/order", **order, newClientOrderId="a")
                await send(
                    "PUT",
                    "/api/v3/order/amend/keepPriority",
                    symbol="BTCUSDT",
                    origClientOrderId="a",
                    newQty="0.001",
                    newClientOrderId="a2",
                )
                await send("GET", "/api/v3/openOrders", symbol="BTCUSDT")
                await send(
                    "POST",
                    "/api/v3/order/cancelReplace",
                    **{**order, "price": "59000.01"},
                    cancelReplaceMode="STOP_ON_FAILURE",
                    cancelOrigClientOrderId="a2",
                    newClientOrderId="b",
                )
                await send("DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="b")
                await send("POST", "/api/v3/order", **order, newClientOrderId="c")
                await send("DELETE", "/api/v3/openOrders", symbol="BTCUSDT")
        finally:
            await runner.cleanup()
        return seen.kinds

    assert asyncio.run(main()) == [PLACE, PLACE, PLACE, CANCEL, PLACE, CANCEL]
