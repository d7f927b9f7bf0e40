"""The API's event hub: encoded once, fanned out in order, a client too far behind is told to reconnect."""

import asyncio
import json

from liqkit.service.api import EventHub


class Events:
    """An engine whose event stream is a fixed list (the hub only reads ``events()``)."""

    def __init__(self, n: int) -> None:
        self.n = n

    async def events(self):
        yield {"kind": "snapshot"}
        for i in range(self.n):
            yield {"kind": "order", "seq": i, "price": float("nan") if i == 0 else i}
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
    assert [e["seq"] for e in got] == list(range(50))  # every order event, in order, no snapshot from the hub
    assert got[0]["price"] is None  # NaN is not JSON: sent as null
    assert len(slow_items) == 11 and slow_items[-1] is None  # 10 events, then "reconnect"
    assert [json.loads(t)["seq"] for t in slow_items[:-1]] == list(range(10))
    assert not hub.clients
