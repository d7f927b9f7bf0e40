"""The engine service under load: 10 pairs quoting, 20 event-stream clients and a loop of API calls.

Starts a real ``liqkit serve`` on the simulated exchange, then for ``--seconds`` (60 by default) keeps
20 WebSocket clients on ``/api/events`` and one client calling the API in a loop (status, pairs,
orders, balances, pnl, and a config change). Prints API latency p50/p99, event lag p99 (order and
fill events: engine time to client receipt; tickers include their ≤ 0.5 s coalescing), and the
service's CPU (share of one core) and RSS. The clients run on the same machine.

Usage: python bench/service_bench.py [--seconds 60] [--clients 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import numpy as np
from procstat import cpu_seconds, rss_mb

from liqkit.dashboard import start_service
from liqkit.domain.errors import LiqkitError

PAIRS = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "XRPUSDT", "ADAUSDT", "SOLUSDT", "DOGEUSDT", "LTCUSDT", "DOTUSDT", "LINKUSDT"]


def config_text() -> str:
    bases = {p[:-4] for p in PAIRS}
    balances = "\n".join(f"{b} = 100000" for b in sorted(bases))
    pairs = "\n\n".join(
        f'[pairs.{p}]\nspread = "3bps"\nsize = "20"\nsize_unit = "quote"\nlevels = 2\nrefresh_tolerance = "1bps"'
        for p in PAIRS
    )
    return f'[engine]\nvenue = "sim"\n\n[sim.balances]\nUSDT = 10000000\n{balances}\n\n{pairs}\n'


async def event_client(url: str, token: str, stop: asyncio.Event, lags: dict[str, list[float]], counts: list[int]):
    ws_url = url.replace("http://", "ws://") + "/api/events"
    async with aiohttp.ClientSession() as s, s.ws_connect(ws_url, headers={"Authorization": f"Bearer {token}"}) as ws:
        while not stop.is_set():
            try:
                msg = await asyncio.wait_for(ws.receive(), 0.5)
            except TimeoutError:
                continue
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            now = time.time_ns()
            ev = json.loads(msg.data)
            counts[0] += 1
            if ev["kind"] in ("order", "fill", "ticker"):
                lags[ev["kind"]].append((now - ev["ts"]) / 1e6)


async def api_loop(url: str, token: str, stop: asyncio.Event, lat: list[float]):
    h = {"Authorization": f"Bearer {token}"}
    calls = [
        ("GET", "/api/status", None),
        ("GET", "/api/pairs", None),
        ("GET", "/api/orders", None),
        ("GET", "/api/balances", None),
        ("GET", "/api/pnl", None),
    ]
    i = 0
    async with aiohttp.ClientSession(headers=h) as s:
        while not stop.is_set():
            method, path, body = calls[i % len(calls)]
            if i % 25 == 24:  # a config change now and then (spread between 3 and 4 bps)
                method, path, body = "PUT", f"/api/pairs/{PAIRS[i % 10]}", {"spread": f"{3 + (i // 25) % 2}bps"}
            t0 = time.perf_counter()
            async with s.request(method, url + path, json=body) as r:
                await r.read()
                assert r.status == 200, (path, r.status)
            lat.append((time.perf_counter() - t0) * 1e3)
            i += 1


async def load(url: str, token: str, seconds: float, n_clients: int, pid: int) -> dict:
    stop = asyncio.Event()
    lags: dict[str, list[float]] = {"order": [], "fill": [], "ticker": []}
    counts = [0]
    lat: list[float] = []
    tasks = [asyncio.create_task(event_client(url, token, stop, lags, counts)) for _ in range(n_clients)]
    tasks.append(asyncio.create_task(api_loop(url, token, stop, lat)))
    await asyncio.sleep(2)  # warm up: snapshots sent, quotes placed
    lat.clear()
    for v in lags.values():
        v.clear()
    counts[0] = 0
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, t1 = cpu_seconds(pid), time.monotonic()
    rss = rss_mb(pid)
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s,
        s.get(url + "/api/status") as r,
    ):
        loop_lag = (await r.json())["loop_lag_ms"]
    stop.set()
    await asyncio.gather(*tasks)
    return {
        "lat": lat,
        "lags": lags,
        "events": counts[0],
        "cpu": (cpu1 - cpu0) / (t1 - t0),
        "rss": rss,
        "wall": t1 - t0,
        "loop_lag": loop_lag,
    }


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "bench.toml"
        cfg.write_text(config_text())
        try:
            proc, url = start_service(Path(tmp) / "s", cfg, None, 1.0, ",".join(PAIRS))
        except LiqkitError as e:
            print(e, file=sys.stderr)
            return 1
        token = (Path(tmp) / "s" / "token").read_text().strip()
        try:
            r = asyncio.run(load(url, token, args.seconds, args.clients, proc.pid))
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=60)
    lat, lags = r["lat"], r["lags"]
    print(f"service: {len(PAIRS)} pairs quoting, {args.clients} event clients, API loop, {r['wall']:.0f} s")
    print(f"  API calls            {len(lat):>8,}   latency p50 {pct(lat, 50):6.2f} ms   p99 {pct(lat, 99):6.2f} ms")
    print(f"  events delivered     {r['events']:>8,}   ({r['events'] / r['wall'] / args.clients:,.0f}/s per client)")
    for kind in ("order", "fill", "ticker"):
        xs = lags[kind]
        print(f"  {kind:<6} event lag     {len(xs):>8,}   p50 {pct(xs, 50):6.2f} ms   p99 {pct(xs, 99):6.2f} ms")
    print(f"  service event loop late by at most {r['loop_lag']['max']} ms in its last minute (1 s timer ticks)")
    print(
        f"  service CPU {r['cpu'] * 100:5.1f} % of a core, RSS {r['rss']:.0f} MB; exit {proc.returncode}: {out.strip()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
