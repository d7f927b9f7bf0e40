"""The API's event hub: encoded once, fanned out in order, a client too far behind is told to reconnect."""

import asyncio
import json

from liqkit.engine.events import SnapshotEvent, TickerEvent
from liqkit.engine.views import EngineStatus, Snapshot
from liqkit.service.api import EventHub

STATUS = EngineStatus.model_validate(
    {
        "state": "running",
        "venue": "sim",
        "events": 0,
        "reconnects": 0,
        "loop_lag_ms": {"last": None, "max": None},
        "errors": [],
        "pairs": {},
        "rate_limits": {},
        "latency_us": {"n": 0, "p50_us": 0.0, "p99_us": 0.0, "max_us": 0.0},
    }
)


def ticker(i: int) -> TickerEvent:
    return TickerEvent(
        symbol="BTCUSDT",
        ts=i,
        bid="100",
        ask="101",
        spread_bps=float("nan") if i == 0 else float(i),
        our_bid=None,
        our_ask=None,
        our_spread_bps=None,
        position="0",
        state="quoting",
    )


class Events:
    """An engine whose event stream is a fixed list (the hub only reads ``events()``)."""

    def __init__(self, n: int) -> None:
        self.n = n

    async def events(self):
        # the hub skips the snapshot: each client gets its own when it joins
        yield SnapshotEvent(Snapshot(status=STATUS, pairs={}, orders=[], balances={}, fills=[], pnl={}))
        for i in range(self.n):
            yield ticker(i)
            await asyncio.sleep(0)


def test_fan_out_in_order_and_slow_clients_are_cut_not_silently_dropped():
    async def main():
        hub = EventHub(Events(50), max_backlog=10)  # type: ignore[arg-type]
        fast, slow = hub.join(), hub.join()
        got = []
        while len(got) < 50:
            got.append(json.loads(await fast.get()))
        slow_items = [slow.get_nowait() for _ in range(slow.qsize())]
        hub.leave(fast)
        return got, slow_items, hub

    got, slow_items, hub = asyncio.run(main())
    assert [e["ts"] for e in got] == list(range(50))  # every event, in order, no snapshot from the hub
    assert got[1] == ticker(1).to_json()  # the record's JSON, as is
    assert got[0]["spread_bps"] is None  # NaN is not JSON: sent as null
    assert len(slow_items) == 11 and slow_items[-1] is None  # 10 events, then "reconnect"
    assert [json.loads(t)["ts"] for t in slow_items[:-1]] == list(range(10))
    assert not hub.clients
