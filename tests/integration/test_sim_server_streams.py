"""Market streams of a `liqkit sim-server` process, as Binance serves them.

On the wire (aiohttp): streams named in the URL and subscribed by frame after connecting, listed and
unsubscribed; the ``combined`` property; Binance's errors for bad frames and its limit of 5 messages a
second; every stream kind's payload checked field by field against Binance's documentation and its values
against the server's REST answers; the ``stream`` faults on every kind. Then two clients nobody here wrote,
ccxt.pro and binance-sdk-spot's WebSocket Streams client, with every URL they use at the server on
127.0.0.1.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import ccxt.pro
import pytest
from aiohttp import web
from binance_common.configuration import ConfigurationWebSocketStreams
from binance_sdk_spot.spot import Spot
from binance_sdk_spot.websocket_streams.models import DiffBookDepthUpdateSpeedEnum
from processes import sim_server, until

from liqkit.venues.binance_server.faults import FaultPlan
from liqkit.venues.binance_server.streams import MarketStreams

NUM = re.compile(r"^[0-9]+(\.[0-9]+)?$")  # Binance's decimal strings: plain, never exponent form
SIGNED = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")

# the payloads as Binance documents them (web-socket-streams.md): field -> type ("num": a decimal string,
# "signed": one that may be negative, "levels": [[price, qty], ...])
BOOK_TICKER = {"u": int, "s": str, "b": "num", "B": "num", "a": "num", "A": "num"}
TRADE = {"e": str, "E": int, "s": str, "t": int, "p": "num", "q": "num", "T": int, "m": bool, "M": bool}
AGG_TRADE = {
    "e": str,
    "E": int,
    "s": str,
    "a": int,
    "p": "num",
    "q": "num",
    "f": int,
    "l": int,
    "T": int,
    "m": bool,
    "M": bool,
}
TICKER = {
    "e": str,
    "E": int,
    "s": str,
    "p": "signed",
    "P": "signed",
    "w": "num",
    "x": "num",
    "c": "num",
    "Q": "num",
    "b": "num",
    "B": "num",
    "a": "num",
    "A": "num",
    "o": "num",
    "h": "num",
    "l": "num",
    "v": "num",
    "q": "num",
    "O": int,
    "C": int,
    "F": int,
    "L": int,
    "n": int,
}
MINI_TICKER = {"e": str, "E": int, "s": str, "c": "num", "o": "num", "h": "num", "l": "num", "v": "num", "q": "num"}
DIFF_DEPTH = {"e": str, "E": int, "s": str, "U": int, "u": int, "b": "levels", "a": "levels"}
PARTIAL_DEPTH = {"lastUpdateId": int, "bids": "levels", "asks": "levels"}

URL_STREAMS = ["btcusdt@bookTicker", "btcusdt@trade", "btcusdt@aggTrade", "btcusdt@depth@100ms", "btcusdt@depth5@100ms"]
FRAME_STREAMS = [
    "btcusdt@ticker",
    "btcusdt@miniTicker",
    "btcusdt@depth",
    "btcusdt@depth10",
    "btcusdt@depth20@100ms",
    "!miniTicker@arr",
]


def shape_of(stream: str) -> dict[str, Any]:
    """The documented payload of a stream."""
    kind = stream.split("@", 1)[1]
    if kind.startswith(("depth5", "depth10", "depth20")):
        return PARTIAL_DEPTH
    return {
        "bookTicker": BOOK_TICKER,
        "trade": TRADE,
        "aggTrade": AGG_TRADE,
        "ticker": TICKER,
        "miniTicker": MINI_TICKER,
        "arr": MINI_TICKER,
        "depth": DIFF_DEPTH,
        "depth@100ms": DIFF_DEPTH,
    }[kind]


def check_shape(payload: dict[str, Any], shape: dict[str, Any], what: str) -> None:
    """``payload`` has exactly the documented fields, each of its documented type."""
    assert set(payload) == set(shape), (what, sorted(set(payload) ^ set(shape)))
    for k, t in shape.items():
        v = payload[k]
        if t == "num":
            assert isinstance(v, str) and NUM.match(v), (what, k, v)
        elif t == "signed":
            assert isinstance(v, str) and SIGNED.match(v), (what, k, v)
        elif t == "levels":
            assert isinstance(v, list) and all(
                isinstance(x, list) and len(x) == 2 and all(isinstance(y, str) and NUM.match(y) for y in x) for x in v
            ), (what, k, v)
        else:
            assert type(v) is t, (what, k, v)


def prices(levels: list[list[str]]) -> list[float]:
    return [float(p) for p, _ in levels]


@contextmanager
def streams_server(state_dir: Path, *args: str) -> Iterator[dict[str, str]]:
    """A sim-server (BTCUSDT and ETHUSDT, synthetic feeds; its generated keys in ``state_dir``, unused: the
    market streams are public): {"url": its REST base, "ws": the same as ws://}."""
    with sim_server("--state-dir", str(state_dir), *args) as url:
        yield {"url": url, "ws": "ws" + url.removeprefix("http")}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One sim-server for the module (the stream tests change nothing on it)."""
    with streams_server(tmp_path_factory.mktemp("streams")) as srv:
        yield srv


class Wire:
    """One market-stream connection, read in the background: every text frame parsed, in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[Any] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.frames.append(json.loads(msg.data))

    async def ask(self, frame: dict[str, Any] | str) -> tuple[dict[str, Any], int]:
        """Send a control frame; (the answer to it, its index in ``frames``). Data frames never carry
        ``result`` or ``error``."""
        start = len(self.frames)
        await self.ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))

        def answer() -> tuple[dict[str, Any], int] | None:
            for i in range(start, len(self.frames)):
                f = self.frames[i]
                if isinstance(f, dict) and ("result" in f or "error" in f):
                    return f, i
            return None

        found = await until(answer, 30, f"the answer to {frame}")
        assert isinstance(found, tuple)
        return found

    def of(self, stream: str, since: int = 0, upto: int | None = None) -> list[Any]:
        """The payloads of ``stream`` in ``frames[since:upto]`` (combined frames unwrapped)."""
        out = []
        for f in self.frames[since:upto]:
            if isinstance(f, dict) and f.keys() == {"stream", "data"}:
                if f["stream"] == stream:
                    out.append(f["data"])
            elif stream_of(f) == stream:
                out.append(f)
        return out

    async def close(self) -> None:
        await self.ws.close()
        await self._reader


def stream_of(payload: Any) -> str | None:
    """The BTCUSDT stream a raw payload belongs to, told by its fields."""
    if isinstance(payload, list):
        return "!miniTicker@arr"
    if not isinstance(payload, dict) or "result" in payload or "error" in payload:
        return None
    if "lastUpdateId" in payload:
        return "btcusdt@depth#"  # a partial book: raw frames do not say which
    kind = {"trade": "trade", "aggTrade": "aggTrade", "24hrTicker": "ticker", "24hrMiniTicker": "miniTicker"}
    if "e" not in payload:
        return f"{payload['s'].lower()}@bookTicker"
    return f"{payload['s'].lower()}@{kind.get(payload['e'], payload['e'])}"


@asynccontextmanager
async def wire(server: dict[str, str], path: str) -> AsyncIterator[Wire]:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(server["ws"] + path, autoping=True)
        w = Wire(ws)
        try:
            yield w
        finally:
            await w.close()


async def rest(server: dict[str, str], path: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(server["url"] + path) as r:
        assert r.status == 200, (path, r.status, await r.text())
        return await r.json()


async def soon(call: Awaitable[Any], timeout: float = 60) -> Any:
    """``call``'s result, or an AssertionError after ``timeout`` seconds (a client waiting on a frame
    that never comes would wait for ever)."""
    try:
        return await asyncio.wait_for(call, timeout)
    except TimeoutError:
        raise AssertionError(f"no answer within {timeout:g} s") from None


async def eventually(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """Await ``check()`` (a coroutine function) until it gives something truthy (``processes.until``)."""
    return await until(check, timeout, what)


# ---- frames on the wire ---------------------------------------------------------------------------------
def test_subscribe_after_connect_list_and_unsubscribe_stops_the_frames(server):
    async def run() -> None:
        async with wire(server, "/ws") as w:
            assert await w.ask({"method": "LIST_SUBSCRIPTIONS", "id": 1}) == ({"result": [], "id": 1}, 0)
            answer, _ = await w.ask({"method": "SUBSCRIBE", "params": ["btcusdt@trade", "btcusdt@bookTicker"], "id": 2})
            assert answer == {"result": None, "id": 2}
            await until(lambda: w.of("btcusdt@trade") and w.of("btcusdt@bookTicker"), 60, "trades and books")
            assert all("stream" not in f for f in w.frames), "a raw connection sends payloads unwrapped"
            listed, _ = await w.ask({"method": "LIST_SUBSCRIPTIONS", "id": "list-3"})
            assert listed == {"result": ["btcusdt@trade", "btcusdt@bookTicker"], "id": "list-3"}

            answer, at = await w.ask({"method": "UNSUBSCRIBE", "params": ["btcusdt@trade"], "id": 4})
            assert answer == {"result": None, "id": 4}
            last_seen = max(t["t"] for t in w.of("btcusdt@trade"))

            async def traded_since() -> bool:  # the market went on trading while this connection heard none
                trades = await rest(server, "/api/v3/trades?symbol=BTCUSDT&limit=5")
                return max(t["id"] for t in trades) > last_seen

            await eventually(traded_since, "a trade after the unsubscribe")
            books = len(w.of("btcusdt@bookTicker", at))
            await until(lambda: len(w.of("btcusdt@bookTicker", at)) >= books + 5, 60, "books after that trade")
            assert w.of("btcusdt@trade", at) == []

    asyncio.run(run())


def test_streams_named_in_the_url_and_the_combined_property(server):
    async def run() -> None:
        async with wire(server, "/stream?streams=btcusdt@bookTicker/btcusdt@kline_1m") as w:
            await until(lambda: w.frames, 60, "a first frame")
            assert w.frames[0]["stream"] == "btcusdt@bookTicker" and w.frames[0]["data"]["s"] == "BTCUSDT"
            listed, _ = await w.ask({"method": "LIST_SUBSCRIPTIONS", "id": 1})
            assert listed == {"result": ["btcusdt@bookTicker"], "id": 1}  # a stream it does not serve is ignored
            answer, _ = await w.ask({"method": "SUBSCRIBE", "params": ["ethusdt@trade"], "id": 2})
            assert answer == {"result": None, "id": 2}
            await until(lambda: w.of("ethusdt@trade"), 60, "an ETHUSDT trade")
            assert w.of("ethusdt@trade")[0]["s"] == "ETHUSDT"
            got, _ = await w.ask({"method": "GET_PROPERTY", "params": ["combined"], "id": 3})
            assert got == {"result": True, "id": 3}
            got, at = await w.ask({"method": "SET_PROPERTY", "params": ["combined", False], "id": 4})
            assert got == {"result": None, "id": 4}
            await until(lambda: len(w.frames) > at + 10, 60, "frames after the switch")
            after = w.frames[at + 1 :]
            assert all("stream" not in f and f["s"] in ("BTCUSDT", "ETHUSDT") for f in after), after[:3]

        async with wire(server, "/ws/btcusdt@bookTicker") as raw, wire(server, "/ws/0") as empty:
            assert (await raw.ask({"method": "GET_PROPERTY", "params": ["combined"], "id": 7}))[0] == {
                "result": False,
                "id": 7,
            }
            listed, _ = await raw.ask({"method": "LIST_SUBSCRIPTIONS", "id": 8})
            assert listed == {"result": ["btcusdt@bookTicker"], "id": 8}
            got, at = await raw.ask({"method": "SET_PROPERTY", "params": ["combined", True], "id": 9})
            assert got == {"result": None, "id": 9}
            await until(lambda: len(raw.frames) > at + 3, 60, "wrapped frames")
            assert all(f["stream"] == "btcusdt@bookTicker" for f in raw.frames[at + 1 :])
            # ccxt's way: /ws/<a number>, then SUBSCRIBE; the number is no stream
            assert (await empty.ask({"method": "LIST_SUBSCRIPTIONS", "id": 10}))[0] == {"result": [], "id": 10}

    asyncio.run(run())


UNKNOWN_METHOD = (
    "Invalid request: unknown variant `PING`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, "
    "`SET_PROPERTY`, `GET_PROPERTY` at line 1 column 17"
)
SERVED = (
    "it serves <symbol>@bookTicker|trade|aggTrade|ticker|miniTicker|depth|depth@100ms|depth5|depth5@100ms|depth10|"
    "depth10@100ms|depth20|depth20@100ms and !miniTicker@arr for the symbols btcusdt, ethusdt"
)


@pytest.mark.parametrize(
    ("frame", "code", "msg", "rid"),
    [
        ("{bad", 3, "Invalid JSON: key must be a string at line 1 column 2", None),
        ('{"method": "SUBSCRIBE", "id": 1', 3, "Invalid JSON: expected `,` or `}` at line 1 column 32", None),
        ("[1, 2]", 2, "Invalid request: invalid type: sequence, expected a map at line 1 column 1", None),
        ('{"method": "PING", "id": 4}', 2, UNKNOWN_METHOD, 4),
        ('{"params": [], "id": 5}', 2, "Invalid request: missing field `method` at line 1 column 23", 5),
        (
            '{"method": "LIST_SUBSCRIPTIONS", "id": true}',
            2,
            "Invalid request: request ID must be an unsigned integer",
            None,
        ),
        ('{"method": "LIST_SUBSCRIPTIONS"}', 2, "Invalid request: request ID must be an unsigned integer", None),
        (
            json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": "x" * 37}),
            2,
            "Invalid request: request ID must be an unsigned integer",
            None,
        ),
        (json.dumps({"method": "SUBSCRIBE", "params": ["@@@x###"], "id": 6}), 2, "Invalid request: invalid stream", 6),
        (
            json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@trade", "btcusdt@kline_1m"], "id": 7}),
            2,
            f"Invalid request: liqkit sim-server does not serve btcusdt@kline_1m; {SERVED}",
            7,
        ),
        (
            json.dumps({"method": "SUBSCRIBE", "params": ["xrpusdt@trade"], "id": 8}),
            2,
            f"Invalid request: liqkit sim-server does not serve xrpusdt@trade; {SERVED}",
            8,
        ),
        (
            json.dumps({"method": "SUBSCRIBE", "params": ["!ticker@arr"], "id": 9}),
            2,
            "Invalid request: !ticker@arr was retired on 2026-03-26; use <symbol>@ticker or !miniTicker@arr",
            9,
        ),
        (
            json.dumps({"method": "SUBSCRIBE", "params": "btcusdt@trade", "id": 10}),
            2,
            'Invalid request: invalid type: string "btcusdt@trade", expected a sequence of stream names',
            10,
        ),
        (
            json.dumps({"method": "UNSUBSCRIBE", "params": [5], "id": 11}),
            2,
            "Invalid request: invalid type: integer `5`, expected a stream name",
            11,
        ),
        (
            json.dumps({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 12}),
            1,
            "Invalid value type: expected Boolean",
            12,
        ),
        (json.dumps({"method": "SET_PROPERTY", "params": ["speed", True], "id": 13}), 0, "Unknown property", 13),
        (
            json.dumps({"method": "GET_PROPERTY", "params": [5], "id": 14}),
            2,
            "Invalid request: property name must be a string",
            14,
        ),
        (
            json.dumps({"method": "GET_PROPERTY", "params": ["combined", True], "id": 15}),
            2,
            "Invalid request: too many parameters",
            15,
        ),
        (
            json.dumps({"method": "LIST_SUBSCRIPTIONS", "params": ["x"], "id": 16}),
            2,
            "Invalid request: too many parameters",
            16,
        ),
    ],
)
def test_a_bad_frame_gets_binances_error_and_subscribes_nothing(server, frame, code, msg, rid):
    async def run() -> None:
        async with wire(server, "/ws") as w:
            answer, _ = await w.ask(frame)
            assert answer == {"error": {"code": code, "msg": msg}, "id": rid}
            listed, _ = await w.ask({"method": "LIST_SUBSCRIPTIONS", "id": 99})
            assert listed == {"result": [], "id": 99}

    asyncio.run(run())


def test_a_sixth_message_within_a_second_closes_the_connection(server):
    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(server["ws"] + "/ws")
            for i in range(3):
                await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
            for _ in range(3):  # pings count as messages too
                await ws.ping()

            async def read() -> list[Any]:
                return [json.loads(m.data) async for m in ws if m.type is aiohttp.WSMsgType.TEXT]

            answers = await asyncio.wait_for(read(), 60)  # the server closes it: the reading ends
            assert answers == [{"result": [], "id": i} for i in range(3)]
            assert ws.close_code == 1008

    asyncio.run(run())


def test_a_connection_listens_to_1024_streams_at_most():
    """Binance's limit of streams a connection, on the stream module served alone for 160 symbols (the
    sim-server's two give 27 streams, far from it)."""
    symbols = [f"S{i:03d}USDT" for i in range(160)]
    kinds = [k for k in ("bookTicker", "trade", "aggTrade", "depth", "depth@100ms", "depth5", "depth20@100ms")]
    streams = MarketStreams(
        symbols, {}, lambda s: ([], []), lambda s, mini: {}, FaultPlan, lambda: 0, itertools.count(1).__next__
    )
    names = [f"{s.lower()}@{k}" for s in symbols for k in kinds]

    async def run() -> None:
        app = web.Application()
        app.add_routes([web.get("/ws", streams.raw)])
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        try:
            async with wire({"ws": f"ws://127.0.0.1:{runner.addresses[0][1]}"}, "/ws") as w:
                assert (await w.ask({"method": "SUBSCRIBE", "params": names[:1000], "id": 1}))[0] == {
                    "result": None,
                    "id": 1,
                }
                again = names[1000:1024] + names[:1]  # 1024 in all: one of these it already has
                assert (await w.ask({"method": "SUBSCRIBE", "params": again, "id": 2}))[0] == {"result": None, "id": 2}
                refused, _ = await w.ask({"method": "SUBSCRIBE", "params": names[1024:1025], "id": 3})
                assert refused == {
                    "error": {"code": 2, "msg": "Invalid request: 1025 streams; a connection listens to 1024 at most"},
                    "id": 3,
                }
                listed, _ = await w.ask({"method": "LIST_SUBSCRIPTIONS", "id": 4})
                assert listed == {"result": names[:1024], "id": 4}
        finally:
            await streams.close()
            await runner.cleanup()

    asyncio.run(run())


def test_every_stream_kind_carries_binances_fields_and_the_servers_values(server):
    async def run() -> None:
        async with wire(server, "/stream?streams=" + "/".join(URL_STREAMS)) as w:
            answer, _ = await w.ask({"method": "SUBSCRIBE", "params": FRAME_STREAMS, "id": 1})
            assert answer == {"result": None, "id": 1}
            every = URL_STREAMS + FRAME_STREAMS
            await until(lambda: all(len(w.of(s)) >= 3 for s in every), 90, "three frames of every stream")
            for s in every:
                for payload in w.of(s):
                    if s == "!miniTicker@arr":
                        assert payload and {m["s"] for m in payload} <= {"BTCUSDT", "ETHUSDT"}
                        for m in payload:
                            check_shape(m, MINI_TICKER, s)
                    else:
                        check_shape(payload, shape_of(s), s)

            books = w.of("btcusdt@bookTicker")
            assert [b["u"] for b in books] == sorted({b["u"] for b in books})  # update ids only grow
            assert all(float(b["b"]) < float(b["a"]) for b in books)

            # REST's top of the book is one the stream sent (or is about to)
            top = await rest(server, "/api/v3/ticker/bookTicker?symbol=BTCUSDT")
            shown = (top["bidPrice"], top["bidQty"], top["askPrice"], top["askQty"])
            await until(
                lambda: any((b["b"], b["B"], b["a"], b["A"]) == shown for b in w.of("btcusdt@bookTicker")),
                60,
                f"the REST top {shown} among the bookTicker frames",
            )

            # trades and aggregates are the REST tape's (the latest of them: it keeps the last 1000), the
            # ticker's figures ticker/24hr's
            upto = len(w.frames)
            tape = {t["id"]: t for t in await rest(server, "/api/v3/trades?symbol=BTCUSDT&limit=1000")}
            for t in w.of("btcusdt@trade", 0, upto)[-20:]:
                r = tape[t["t"]]
                assert (t["e"], t["s"], t["p"], t["q"], t["T"], t["m"]) == (
                    "trade",
                    "BTCUSDT",
                    r["price"],
                    r["qty"],
                    r["time"],
                    r["isBuyerMaker"],
                )
            aggs = w.of("btcusdt@aggTrade", 0, upto)[-20:]
            listed = await rest(server, f"/api/v3/aggTrades?symbol=BTCUSDT&fromId={aggs[0]['a']}&limit=1000")
            rest_aggs = {a["a"]: a for a in listed}
            assert [a["a"] for a in aggs] == sorted({a["a"] for a in aggs})
            for a in aggs:
                assert {k: a[k] for k in "apqflTm"} == {k: rest_aggs[a["a"]][k] for k in "apqflTm"}

            day = await rest(server, "/api/v3/ticker/24hr?symbol=BTCUSDT")
            ticks = w.of("btcusdt@ticker", 0, upto)
            assert [t["E"] for t in ticks] == sorted({t["E"] for t in ticks})
            for t in ticks:
                assert (t["e"], t["s"], t["o"], t["F"]) == ("24hrTicker", "BTCUSDT", day["openPrice"], day["firstId"])
                assert t["O"] == day["openTime"] and t["L"] <= day["lastId"] and t["n"] <= day["count"]
                assert float(t["b"]) < float(t["a"]) and float(t["l"]) <= float(t["c"]) <= float(t["h"])
            for m in w.of("btcusdt@miniTicker", 0, upto):
                assert (m["e"], m["s"], m["o"]) == ("24hrMiniTicker", "BTCUSDT", day["openPrice"])
            last = ticks[-1]
            assert tape[last["L"]]["price"] == last["c"]  # its last price is trade L's

            # diff depth: each event starts where the one before ended; the REST snapshot can be synced to
            for s in ("btcusdt@depth", "btcusdt@depth@100ms"):
                events = w.of(s)
                assert all(e["U"] <= e["u"] for e in events)
                assert all(b["U"] == a["u"] + 1 for a, b in itertools.pairwise(events)), s
                for e in events:
                    assert prices(e["b"]) == sorted(prices(e["b"]), reverse=True) and prices(e["a"]) == sorted(
                        prices(e["a"])
                    )
            # partial books: the top levels a side, best first
            for s, n in (("btcusdt@depth5@100ms", 5), ("btcusdt@depth10", 10), ("btcusdt@depth20@100ms", 20)):
                for p in w.of(s):
                    assert 1 <= len(p["bids"]) <= n and 1 <= len(p["asks"]) <= n
                    assert prices(p["bids"]) == sorted(prices(p["bids"]), reverse=True)
                    assert prices(p["asks"]) == sorted(prices(p["asks"]))
                    assert prices(p["bids"])[0] < prices(p["asks"])[0]

            # Binance's local-order-book recipe: the REST snapshot, then the updates after it, is the server's
            # book at each update (the partial book of the same update id shows it)
            snapshot = await rest(server, "/api/v3/depth?symbol=BTCUSDT&limit=1000")
            last_id = snapshot["lastUpdateId"]

            def past_snapshot() -> list[dict[str, Any]]:
                return [e for e in w.of("btcusdt@depth@100ms") if e["u"] > last_id]

            await until(lambda: len(past_snapshot()) >= 5, 60, "five updates past the snapshot")
            events = past_snapshot()
            assert events[0]["U"] <= last_id + 1, (events[0], last_id)
            local = {"bids": dict(snapshot["bids"]), "asks": dict(snapshot["asks"])}
            partials = {p["lastUpdateId"]: p for p in w.of("btcusdt@depth20@100ms")}
            compared = 0
            for e in events:
                for side, key in (("bids", "b"), ("asks", "a")):
                    for price, qty in e[key]:
                        if float(qty) == 0:
                            local[side].pop(price, None)
                        else:
                            local[side][price] = qty
                shown = partials.get(e["u"])
                if shown is not None:
                    compared += 1
                    best = sorted(local["bids"].items(), key=lambda x: -float(x[0]))[:20]
                    assert [list(x) for x in best] == shown["bids"], e["u"]
                    best = sorted(local["asks"].items(), key=lambda x: float(x[0]))[:20]
                    assert [list(x) for x in best] == shown["asks"], e["u"]
            assert compared >= 3, compared

    asyncio.run(run())


def test_stream_faults_reach_every_stream_kind(tmp_path: Path):
    """With a server told to announce a shutdown on the first stream frame and to send every later frame
    twice, a first connection gets ``serverShutdown`` and is closed, and every kind on a second comes twice."""
    faults = tmp_path / "faults.toml"
    faults.write_text(
        '[[fault]]\ntarget = "stream"\nkind = "server-shutdown"\nat = [1]\n\n'
        '[[fault]]\ntarget = "stream"\nkind = "burst"\nevery = 1\nrepeat = 2\n'
    )

    async def run(srv: dict[str, str]) -> None:
        async with wire(srv, "/stream?streams=btcusdt@bookTicker") as first:
            await asyncio.wait_for(first._reader, 60)  # it ends when the server closes the connection
            assert first.frames[0]["stream"] == "!serverShutdown" and first.frames[0]["data"]["e"] == "serverShutdown"
            assert first.ws.close_code is not None and len(first.frames) == 1
        every = URL_STREAMS + FRAME_STREAMS
        async with wire(srv, "/stream?streams=" + "/".join(every)) as w:
            await until(lambda: all(len(w.of(s)) >= 4 for s in every), 90, "four frames of every stream")
            for s in every:
                got = w.of(s)[:4]
                assert got[0] == got[1] and got[2] == got[3], (s, got)

    with streams_server(tmp_path, "--faults", str(faults)) as srv:
        asyncio.run(run(srv))


# ---- ccxt.pro -------------------------------------------------------------------------------------------
def local_ccxt_pro(srv: dict[str, str]) -> tuple[Any, list[str]]:
    """``ccxt.pro.binance`` with every REST and WebSocket URL at the server (spot at /api/v3 and /ws, every
    other API at a path the server does not serve, so a stray call fails loudly instead of leaving the
    machine), and the list of REST URLs it requests."""
    ex = ccxt.pro.binance(
        {
            "timeout": 30_000,
            "options": {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False},
        }
    )
    base, ws = srv["url"], srv["ws"]
    rest_urls = {
        n: f"{base}/api/v3" if n in ("public", "private") else f"{base}/not-served/{n}" for n in ex.urls["api"]
    }
    ws_urls: dict[str, Any] = {n: f"{ws}/not-served/{n}" for n in ex.urls["api"]["ws"]}
    ws_urls.update(spot=f"{ws}/ws", margin=f"{ws}/ws", **{"ws-api": {"spot": f"{ws}/ws-api/v3"}})
    ex.urls["api"] = {**rest_urls, "ws": ws_urls}
    seen: list[str] = []
    fetch = ex.fetch

    async def recorded(url: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(url)
        return await fetch(url, *args, **kwargs)

    ex.fetch = recorded
    return ex, seen


def test_ccxt_pro_watches_tickers_trades_the_order_book_and_bids_asks(server):
    async def run() -> None:
        ex, seen = local_ccxt_pro(server)
        try:
            await ex.load_markets()
            async with wire(server, "/stream?streams=btcusdt@bookTicker/btcusdt@depth20@100ms") as truth:
                await until(lambda: truth.of("btcusdt@depth20@100ms"), 60, "the partial book")

                mini = await soon(ex.watch_ticker("BTC/USDT"))  # ccxt's default: <symbol>@miniTicker
                full = await soon(ex.watch_ticker("BTC/USDT", {"name": "ticker"}))
                day = await ex.fetch_ticker("BTC/USDT")
                assert mini["info"]["e"] == "24hrMiniTicker" and full["info"]["e"] == "24hrTicker"
                for t in (mini, full):
                    assert t["symbol"] == "BTC/USDT" and t["open"] == day["open"] and t["low"] <= t["last"] <= t["high"]
                assert full["info"]["F"] == day["info"]["firstId"] and 0 < full["bid"] < full["ask"]

                trades = await soon(ex.watch_trades("BTC/USDT"))
                recent = await ex.fetch_trades("BTC/USDT", limit=1000, params={"fetchTradesMethod": "publicGetTrades"})
                tape = {t["id"]: t for t in recent}
                assert trades
                for t in trades:
                    r = tape[t["id"]]
                    assert (t["symbol"], t["price"], t["amount"], t["side"], t["timestamp"]) == (
                        "BTC/USDT",
                        r["price"],
                        r["amount"],
                        r["side"],
                        r["timestamp"],
                    )

                # the book ccxt keeps (REST snapshot + diffs) is, at each update id, the server's own book then
                books = []
                for _ in range(15):
                    ob = await soon(ex.watch_order_book("BTC/USDT"))
                    books.append((ob["nonce"], [list(x) for x in ob["bids"]], [list(x) for x in ob["asks"]]))
                nonces = [n for n, _, _ in books]
                assert nonces == sorted(set(nonces)), nonces
                for nonce, bids, asks in books[1:]:  # the first is the REST snapshot's
                    await until(
                        lambda n=nonce: any(p["lastUpdateId"] >= n for p in truth.of("btcusdt@depth20@100ms")),
                        60,
                        f"the server's book at update {nonce}",
                    )
                    then = next(p for p in truth.of("btcusdt@depth20@100ms") if p["lastUpdateId"] == nonce)
                    assert (bids[:20], asks[:20]) == (
                        [[float(p), float(q)] for p, q in then["bids"]],
                        [[float(p), float(q)] for p, q in then["asks"]],
                    )

                quotes = await soon(ex.watch_bids_asks(["BTC/USDT"]))
                q = quotes["BTC/USDT"]
                sent = await until(
                    lambda: next((b for b in truth.of("btcusdt@bookTicker") if b["u"] == q["info"]["u"]), None),
                    60,
                    "the same bookTicker frame on the other connection",
                )
                assert (q["bid"], q["bidVolume"], q["ask"], q["askVolume"]) == (
                    float(sent["b"]),
                    float(sent["B"]),
                    float(sent["a"]),
                    float(sent["A"]),
                )
            assert seen and all(u.startswith(server["url"] + "/api/v3/") for u in seen), set(seen)
            assert {u.split("?")[0].rsplit("/", 1)[1] for u in seen} >= {"exchangeInfo", "depth", "24hr", "trades"}
            assert ex.clients and all(u.startswith(server["ws"] + "/ws/") for u in ex.clients), list(ex.clients)
        finally:
            await ex.close()

    asyncio.run(run())


# ---- binance-sdk-spot ---------------------------------------------------------------------------------------
def test_binance_sdk_spot_websocket_streams_on_the_sim_server(server, caplog):
    caplog.set_level(logging.INFO)

    async def run() -> None:
        client = Spot(config_ws_streams=ConfigurationWebSocketStreams(stream_url=server["ws"]))
        conn = await client.websocket_streams.create_connection()
        got: dict[str, list[Any]] = {"book": [], "trade": [], "depth": []}
        try:
            book = await conn.book_ticker(symbol="BTCUSDT")
            book.on("message", got["book"].append)
            trade = await conn.trade(symbol="BTCUSDT")
            trade.on("message", got["trade"].append)
            depth = await conn.diff_book_depth(
                symbol="BTCUSDT", update_speed=DiffBookDepthUpdateSpeedEnum.UPDATE_SPEED_100ms
            )
            depth.on("message", got["depth"].append)
            listed = await conn.list_subscribe()
            assert listed["result"] == ["btcusdt@bookTicker", "btcusdt@trade", "btcusdt@depth@100ms"]
            await until(lambda: all(len(v) >= 3 for v in got.values()), 60, "frames of the three streams")
            for v in got.values():
                assert all(m.additional_properties == {} for m in v), v[0]

            snapshot = await rest(server, "/api/v3/depth?symbol=BTCUSDT&limit=1000")
            await until(lambda: any(d.u > snapshot["lastUpdateId"] for d in got["depth"]), 60, "an update past REST's")
            events = list(got["depth"])
            assert all(a.u + 1 == b.U for a, b in itertools.pairwise(events))
            first = next(d for d in events if d.u > snapshot["lastUpdateId"])
            assert snapshot["lastUpdateId"] + 1 >= first.U and first.s == "BTCUSDT"

            heard = got["trade"][-20:]  # the latest (REST keeps the last 1000 trades)
            tape = {t["id"]: t for t in await rest(server, "/api/v3/trades?symbol=BTCUSDT&limit=1000")}
            for t in heard:
                assert (t.s, t.p, t.q, t.m) == (
                    "BTCUSDT",
                    tape[t.t]["price"],
                    tape[t.t]["qty"],
                    tape[t.t]["isBuyerMaker"],
                )
            top = await rest(server, "/api/v3/ticker/bookTicker?symbol=BTCUSDT")
            shown = (top["bidPrice"], top["bidQty"], top["askPrice"], top["askQty"])
            await until(lambda: any((b.b, b.B, b.a, b.A) == shown for b in got["book"]), 60, "REST's top in the stream")

            await trade.unsubscribe()
            listed = await conn.list_subscribe()
            assert listed["result"] == ["btcusdt@bookTicker", "btcusdt@depth@100ms"]
        finally:
            await conn.close_connection(close_session=True)

    asyncio.run(run())
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "binance_" in r.pathname]
    assert errors == []
