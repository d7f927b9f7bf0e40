"""Order entry on loopback: the WebSocket API against REST, through python-binance, on a `liqkit sim-server`.

Starts a real `liqkit sim-server` process on 127.0.0.1 (generated HMAC keys, or an Ed25519 key with
``--ed25519``), then for each path (``order_entry = "ws-api"`` and ``"rest"``):

- round trip: ``--orders`` post-only orders far from the market, each placed and then cancelled by
  ``BinanceVenue``; the time from the call to its answer, p50 and p99, for the place and the cancel;
- tick to wire: the engine quoting BTCUSDT (re-quoting at every book move, one cancel-replace per move)
  for ``--seconds``; per order request, the time from the newest market event's arrival at the venue
  to the signed request being written (WebSocket API: as it is sent; REST: as python-binance hands it
  to aiohttp), p50 and p99.

Usage: python bench/order_entry_bench.py [--orders 300] [--seconds 20] [--ed25519]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from liqkit.domain.config import PairConfig, RiskConfig
from liqkit.domain.types import Side
from liqkit.engine.intents import Place
from liqkit.engine.runner import EngineRunner
from liqkit.venues.binance import BinanceVenue
from liqkit.venues.ratelimit import RateLimits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from processes import ProcessOutput, accepts, free_port, wait_for


def start_server(state: Path, ed25519: bool) -> tuple[subprocess.Popen[str], ProcessOutput, str, dict[str, str]]:
    port = free_port()
    cmd = [sys.executable, "-m", "liqkit.cli", "sim-server", "--port", str(port), "--state-dir", str(state)]
    cmd += ["--no-rate-limits"]  # the bundled exchangeInfo's 50 orders / 10 s would make this a pacing test
    keys: dict[str, str] = {}
    if ed25519:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519 as ed

        key = ed.Ed25519PrivateKey.generate()
        priv, pub = state / "bench-ed25519.pem", state / "bench-ed25519.pub.pem"
        priv.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        pub.write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        keys = {"key": "bench-ed25519-key", "private": priv.read_text()}
        cmd += ["--api-key", keys["key"], "--public-key", str(pub)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQKIT_SIM_")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = ProcessOutput(proc)
    out.wait_for_line(lambda ln: "Binance spot API for" in ln, what="the server's banner")
    wait_for(lambda: accepts(port), 60, "the server to accept connections")
    if not ed25519:
        pairs = dict(line.split("=", 1) for line in (state / "sim-server-keys.env").read_text().split())
        keys = {"key": pairs["BINANCE_API_KEY"], "secret": pairs["BINANCE_API_SECRET"]}
    return proc, out, f"http://127.0.0.1:{port}", keys


def venue(url: str, keys: dict[str, str], entry: str) -> BinanceVenue:
    return BinanceVenue(
        ["BTCUSDT"],
        keys["key"],
        keys.get("secret", ""),
        private_key=keys.get("private", ""),
        order_entry=entry,
        base_url=url,
    )


async def until_connected(v: BinanceVenue) -> None:
    """The WebSocket API connection is up (the user data subscription opens it)."""
    for _ in range(600):
        api = v.client.ws_api if v.client is not None else None
        if api is not None and api.ws is not None and getattr(api.ws_state, "name", "") == "STREAMING":
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the WebSocket API did not connect")


async def round_trips(url: str, keys: dict[str, str], entry: str, n: int) -> dict[str, np.ndarray]:
    v = venue(url, keys, entry)
    await v.start()
    try:
        r = (await v.rules(["BTCUSDT"]))["BTCUSDT"]
        v.rate = RateLimits()  # no pacing: the server does not enforce its limits here
        await until_connected(v)
        places, cancels = [], []
        book = await v._c().get_orderbook_ticker(symbol="BTCUSDT")
        while Decimal(book["bidPrice"]) == 0:  # the server's feed shows its first book
            await asyncio.sleep(0.1)
            book = await v._c().get_orderbook_ticker(symbol="BTCUSDT")
        price = r.price_to_ticks(Decimal(book["bidPrice"])) * 97 // 100  # 3 % below: it rests
        qty = max(r.min_qty_steps, -(-r.min_notional_units // price) if r.min_notional_units else 1)
        for i in range(n):
            cid = f"bench.{entry}.{i}.{time.time_ns() % 10**9}"
            t0 = time.perf_counter_ns()
            await v.place(Place("BTCUSDT", cid, Side.BUY, price, qty, True, 0))
            t1 = time.perf_counter_ns()
            await v.cancel("BTCUSDT", cid)
            t2 = time.perf_counter_ns()
            if i >= 10:  # the first ones warm the connection up
                places.append(t1 - t0)
                cancels.append(t2 - t1)
        if entry == "ws-api":
            assert v.ws_orders >= 2 * n and v.rest_orders == 0, (v.ws_orders, v.rest_orders)
        else:
            assert v.ws_orders == 0 and v.rest_orders >= 2 * n
        return {"place": np.array(places), "cancel": np.array(cancels)}
    finally:
        await v.close()


async def tick_to_wire(url: str, keys: dict[str, str], entry: str, seconds: float) -> np.ndarray:
    v = venue(url, keys, entry)
    v.wire_log = []
    cfg = PairConfig.model_validate(
        {
            "symbol": "BTCUSDT",
            "spread": "1ticks",
            "refresh_tolerance": "0ticks",
            "size": "0.001",
            "max_order_notional": "1000",
        }
    )
    runner = EngineRunner(v, [cfg], None, RiskConfig())
    await runner.start()
    v.rate = RateLimits()
    if entry == "rest":  # REST requests: timed when python-binance hands the signed request to aiohttp
        session = v._c().session
        for name in ("post", "delete", "put"):
            setattr(session, name, _timed(getattr(session, name), v))
    try:
        await until_connected(v)
        await runner.run_pair("BTCUSDT")
        await asyncio.sleep(seconds)
    finally:
        await runner.stop()
    n_ws = sum(1 for p, _, _ in v.wire_log if p == "ws-api")
    n_rest = len(v.wire_log) - n_ws
    if entry == "ws-api" and n_rest:
        print(f"  note: {n_rest} of {len(v.wire_log)} requests went over REST (WebSocket API not connected)")
    return np.array([ns for p, _, ns in v.wire_log if p == entry])


def _timed(call: Any, v: BinanceVenue) -> Any:
    """``call`` (an aiohttp session method), logging each order request's tick to wire in ``v.wire_log``."""

    def timed(url: str, *args: Any, **kwargs: Any) -> Any:
        if v.wire_log is not None and "/order" in str(url):
            v.wire_log.append(("rest", str(url).rsplit("/api/v3/", 1)[-1], time.time_ns() - v.last_market_ns))
        return call(url, *args, **kwargs)

    return timed


def pct(a: np.ndarray, q: float) -> float:
    return float(np.percentile(a, q)) / 1e3 if len(a) else float("nan")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--ed25519", action="store_true", help="an Ed25519 key (else the server's generated HMAC key)")
    args = ap.parse_args()
    logging.getLogger("binance").setLevel(logging.CRITICAL)  # its reconnect attempts after the server stops
    with tempfile.TemporaryDirectory() as tmp:
        proc, out, url, keys = start_server(Path(tmp), args.ed25519)
        try:
            kind = "Ed25519" if args.ed25519 else "HMAC"
            print(f"order entry on loopback, python-binance -> liqkit sim-server, {kind} key")
            print(f"{'':22}{'p50 us':>10}{'p99 us':>10}{'n':>7}")
            rows = {}
            for entry in ("ws-api", "rest"):
                rt = await round_trips(url, keys, entry, args.orders)
                for k in ("place", "cancel"):
                    rows[(entry, k)] = rt[k]
                    name = f"{entry} {k} round trip"
                    print(f"{name:22}{pct(rt[k], 50):10.0f}{pct(rt[k], 99):10.0f}{len(rt[k]):7}")
            for entry in ("ws-api", "rest"):
                t = await tick_to_wire(url, keys, entry, args.seconds)
                rows[(entry, "wire")] = t
                print(f"{entry + ' tick to wire':22}{pct(t, 50):10.0f}{pct(t, 99):10.0f}{len(t):7}")
            for k in ("place", "cancel", "wire"):
                ws, rest = rows[("ws-api", k)], rows[("rest", k)]
                r50, r99 = pct(rest, 50) / pct(ws, 50), pct(rest, 99) / pct(ws, 99)
                print(f"rest/ws-api {k:7} p50 {r50:5.2f}x  p99 {r99:5.2f}x")
        finally:
            proc.send_signal(signal.SIGINT)
            out.finish(60)


if __name__ == "__main__":
    asyncio.run(main())
