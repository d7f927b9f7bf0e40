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
