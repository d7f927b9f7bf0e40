"""Binance's market streams for the sim-server: connections, their subscriptions, and every stream's frames.

Connections come in at ``/ws/<name>`` or ``/ws`` (raw: each frame is the payload) and at
``/stream?streams=<a>/<b>`` (combined: ``{"stream": name, "data": payload}``); either subscribes to more
streams later with ``SUBSCRIBE``, drops some with ``UNSUBSCRIBE``, lists them with ``LIST_SUBSCRIPTIONS``
and switches the wrapping with ``SET_PROPERTY``/``GET_PROPERTY`` ``combined``, answered as Binance answers
(``{"result": null, "id": 1}``, or ``{"error": {"code", "msg"}, "id"}`` with its codes 0 to 3). Binance's
limits hold: at most 1024 streams a connection, and a connection that sends more than 5 messages (frames,
pings, pongs) within a second is closed (1008, "Too many requests").

The streams served, per symbol: ``bookTicker``, ``trade`` and ``aggTrade`` in real time; ``depth`` (every
1000 ms) and ``depth@100ms``, the diff depth Binance's local-order-book recipe applies to a REST snapshot;
``depth5``/``10``/``20`` (and ``@100ms``), the partial book; ``ticker`` and ``miniTicker`` every 1000 ms,
the 24 h rolling statistics ``GET /api/v3/ticker/24hr`` answers; and ``!miniTicker@arr`` for every symbol
whose statistics changed. The ``stream`` fault target (drop, stall, burst, server-shutdown) applies to
every frame of every kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from liqkit.domain.rules import SymbolRules
from liqkit.domain.types import BookTop, Side, Trade
from liqkit.venues.binance_server.auth import ApiError
from liqkit.venues.binance_server.faults import FaultPlan

STREAM_LIMIT = 1024  # streams one connection may listen to
MESSAGE_LIMIT = 5  # incoming messages (frames, pings, pongs) a connection may send within a second
TICK_S = 0.1  # the fastest cadence (the @100ms streams); the others run every 10th tick
AGG_GRACE_MS = 1000  # an aggregate trade nothing has followed goes out this long after its trade
PARTIAL_LEVELS = (5, 10, 20)

# the kinds served under <symbol>@..., by their lower-case spelling (a name is matched case-insensitively)
_KINDS = {
    k.lower(): k
    for k in (
        "bookTicker",
        "trade",
        "aggTrade",
        "ticker",
        "miniTicker",
        "depth",
        "depth@100ms",
        *(f"depth{n}{speed}" for n in PARTIAL_LEVELS for speed in ("", "@100ms")),
    )
}
_DEPTH_KINDS = {k for k in _KINDS.values() if k.startswith("depth")}
MINI_ARR = "!miniTicker@arr"
_WELL_FORMED = re.compile(r"^!?[A-Za-z0-9_.-]+(@[A-Za-z0-9_]+)+$")
_ID_TEXT = re.compile(r"^[A-Za-z0-9_-]{0,36}$")
_METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
_METHOD_VALUE = re.compile(r'"method"\s*:\s*("(?:[^"\\]|\\.)*"|[^,}\s]+)')
# Python's JSON errors in the words of Binance's parser (serde_json)
_JSON_WORDS = {
    "Expecting value": "expected value",
    "Expecting property name enclosed in double quotes": "key must be a string",
    "Expecting ',' delimiter": "expected `,` or `}`",
    "Expecting ':' delimiter": "expected `:`",
    "Extra data": "trailing characters",
    "Unterminated string starting at": "EOF while parsing a string",
    "Invalid control character at": "control character (\\u0000-\\u001F) found while parsing a string",
}


@dataclass(eq=False)
class _Conn:
    """One market-stream connection: its socket, its streams in the order subscribed, its wrapping."""

    ws: web.WebSocketResponse
    combined: bool
    names: dict[str, None] = field(default_factory=dict)
    stalled: bool = False  # a "stall" fault silenced it: open, answering pings, sending nothing more
    recent: deque[float] = field(default_factory=deque)  # arrival times of its latest messages


@dataclass
class _Pending:
    """What changed in a book since one diff-depth cadence last published it."""

    last_u: int  # the final update id it published (the next event's U is one more)
    bids: set[int] = field(default_factory=set)  # prices touched, in ticks
    asks: set[int] = field(default_factory=set)


class DepthBook:
    """A symbol's book as the depth streams show it: its levels (ticks -> steps) as of update
    ``update_id``, and what changed since each cadence (100 and 1000 ms) last published.

    The book is read once a tick (``refresh``), not on every book event: a replay with depth moves
    thousands of levels many times a second. A refresh that finds a change takes a new update id, so
    that a REST snapshot taken before it (whose ``lastUpdateId`` is lower) is followed by an update
    holding that change. The tops of the book events in between (``note``) count as touched too: a
    snapshot taken between two ticks may show one, and the next update must then set it to what it is.
    """

    def __init__(self, levels: tuple[list[tuple[int, int]], list[tuple[int, int]]], update_id: int) -> None:
        self.bids, self.asks = dict(levels[0]), dict(levels[1])
        self.update_id = update_id
        self.pending = {100: _Pending(update_id), 1000: _Pending(update_id)}
        self._noted = False

    def note(self, ev: BookTop) -> None:
        """A book event's top, touched whatever the book shows at the next refresh."""
        for p in self.pending.values():
            if ev.bid:
                p.bids.add(ev.bid)
            if ev.ask:
                p.asks.add(ev.ask)
        self._noted = True

    def refresh(
        self, levels: tuple[list[tuple[int, int]], list[tuple[int, int]]], next_update_id: Callable[[], int]
    ) -> None:
        """Take the book as it is now; a new update id (``next_update_id()``) when anything changed."""
        new_bids, new_asks = dict(levels[0]), dict(levels[1])
        touched_bids = {p for p in new_bids.keys() | self.bids.keys() if new_bids.get(p) != self.bids.get(p)}
        touched_asks = {p for p in new_asks.keys() | self.asks.keys() if new_asks.get(p) != self.asks.get(p)}
        if not (touched_bids or touched_asks or self._noted):
            return
        for p in self.pending.values():
            p.bids |= touched_bids
            p.asks |= touched_asks
        self.bids, self.asks, self.update_id = new_bids, new_asks, next_update_id()
        self._noted = False

    def top(self, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The best ``n`` levels a side (bids, asks), best first."""
        return heapq.nlargest(n, self.bids.items()), heapq.nsmallest(n, self.asks.items())

    def diff(self, cadence: int, r: SymbolRules, symbol: str, now_ms: int) -> dict[str, Any] | None:
        """The ``depthUpdate`` of the levels touched since this cadence last published (None: nothing new)."""
        p = self.pending[cadence]
        if self.update_id <= p.last_u or not (p.bids or p.asks):
            return None
        frame = {
            "e": "depthUpdate",
            "E": now_ms,
            "s": symbol,
            "U": p.last_u + 1,
            "u": self.update_id,
            "b": [[r.format_price(x), r.format_qty(self.bids.get(x, 0))] for x in sorted(p.bids, reverse=True)],
            "a": [[r.format_price(x), r.format_qty(self.asks.get(x, 0))] for x in sorted(p.asks)],
        }
        self.pending[cadence] = _Pending(self.update_id)
        return frame

    def partial(self, n: int, r: SymbolRules) -> dict[str, Any]:
        """The top ``n`` levels a side, as the partial book depth streams send them."""
        bids, asks = self.top(n)
        return {
            "lastUpdateId": self.update_id,
            "bids": [[r.format_price(p), r.format_qty(q)] for p, q in bids],
            "asks": [[r.format_price(p), r.format_qty(q)] for p, q in asks],
        }


def _ticker_frame(stats: Mapping[str, Any], now_ms: int) -> dict[str, Any]:
    """``24hrTicker`` from the statistics ``GET /api/v3/ticker/24hr`` answers (type FULL)."""
    return {
        "e": "24hrTicker",
        "E": now_ms,
        "s": stats["symbol"],
        "p": stats["priceChange"],
        "P": stats["priceChangePercent"],
        "w": stats["weightedAvgPrice"],
        "x": stats["prevClosePrice"],
        "c": stats["lastPrice"],
        "Q": stats["lastQty"],
        "b": stats["bidPrice"],
        "B": stats["bidQty"],
        "a": stats["askPrice"],
        "A": stats["askQty"],
        "o": stats["openPrice"],
        "h": stats["highPrice"],
        "l": stats["lowPrice"],
        "v": stats["volume"],
        "q": stats["quoteVolume"],
        "O": stats["openTime"],
        "C": stats["closeTime"],
        "F": stats["firstId"],
        "L": stats["lastId"],
        "n": stats["count"],
    }


def _mini_frame(stats: Mapping[str, Any], now_ms: int) -> dict[str, Any]:
    """``24hrMiniTicker`` from the statistics ``GET /api/v3/ticker/24hr`` answers (type MINI)."""
    return {
        "e": "24hrMiniTicker",
        "E": now_ms,
        "s": stats["symbol"],
        "c": stats["lastPrice"],
        "o": stats["openPrice"],
        "h": stats["highPrice"],
        "l": stats["lowPrice"],
        "v": stats["volume"],
        "q": stats["quoteVolume"],
    }


def _json_type(value: Any) -> str:
    """A JSON value's kind in serde's words (``invalid type: string "x", expected ...``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{json.dumps(value)}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f"string {json.dumps(value)}"
    return "sequence" if isinstance(value, list) else "map"


def _position(text: str, index: int) -> str:
    """``line L column C`` of character ``index`` of ``text`` (1-based, as serde counts)."""
    line = text.count("\n", 0, index) + 1
    return f"line {line} column {index - (text.rfind(chr(10), 0, index) + 1)}"


class MarketStreams:
    """Binance's market streams over the simulated exchange's market data.

    The server feeds it every book (``book``) and trade (``trade``) as it plays them, and routes the
    stream URLs to ``raw`` and ``combined``; the 100 ms and 1000 ms streams go out from a task of their own,
    started with the first connection. ``levels(symbol)`` gives the book's (bids, asks) levels best first,
    in (ticks, steps); ``ticker(symbol, mini)`` the 24 h statistics of ``GET /api/v3/ticker/24hr``;
    ``faults()`` the server's fault plan (read on every frame: the plan may be replaced while serving);
    ``next_update_id()`` a new order book update id from the server's sequence (bookTicker ``u``, REST
    depth's ``lastUpdateId``). ``snapshot`` is the book REST depth should answer while depth streams
    show the symbol.
    """

    def __init__(
        self,
        symbols: Iterable[str],
        rules: Mapping[str, SymbolRules],
        levels: Callable[[str], tuple[list[tuple[int, int]], list[tuple[int, int]]]],
        ticker: Callable[[str, bool], dict[str, Any]],
        faults: Callable[[], FaultPlan],
        now_ms: Callable[[], int],
        next_update_id: Callable[[], int],
    ) -> None:
        self.symbols = [s.upper() for s in symbols]
        self._rules = rules
        self._levels = levels
        self._ticker = ticker
        self._faults = faults
        self._now_ms = now_ms
        self._next_update_id = next_update_id
        self.conns: list[_Conn] = []
        self._subs: dict[str, set[_Conn]] = {}  # stream name -> the connections listening to it
        self._books: dict[str, DepthBook] = {}  # symbols with a depth stream listened to
        self._aggs: dict[str, list[int]] = {}  # each symbol's latest aggregate trade, not yet published
        self._minis_sent: dict[str, tuple[str, ...]] = {}  # each symbol's mini ticker as !miniTicker@arr last had it
        self._task: asyncio.Task[None] | None = None

    # ---- connections --------------------------------------------------------------------------------
    async def combined(self, request: web.Request) -> web.WebSocketResponse:
        """``/stream?streams=<a>/<b>``: a combined connection (``/stream`` alone: subscribe by frame)."""
        return await self._serve(request, request.query.get("streams", "").split("/"), combined=True)

    async def raw(self, request: web.Request) -> web.WebSocketResponse:
        """``/ws/<name>`` (or ``/ws/<a>/<b>``, or ``/ws`` alone): a raw connection."""
        return await self._serve(request, request.match_info.get("names", "").split("/"), combined=False)

    async def _serve(self, request: web.Request, asked: list[str], combined: bool) -> web.WebSocketResponse:
        # a URL's names are subscribed when served; others are ignored as Binance ignores them (clients such
        # as ccxt connect to /ws/0 and subscribe by frame), so LIST_SUBSCRIPTIONS shows what was taken. (No
        # URL holds more than 1024 names: aiohttp refuses a request line past 8190 bytes.)
        names = list(dict.fromkeys(n for n in (self._served(a) for a in asked if a) if n))
        ws = web.WebSocketResponse(heartbeat=20, autoping=False)  # pings and pongs count toward the limit
        await ws.prepare(request)
        conn = _Conn(ws, combined)
        self.conns.append(conn)
        self._subscribe(conn, names)
        if self._task is None:
            self._task = asyncio.create_task(self._cadence(), name="binance-server-streams")
        loop = asyncio.get_running_loop()
        try:
            async for msg in ws:
                now = loop.time()
                conn.recent.append(now)
                while conn.recent[0] <= now - 1.0:
                    conn.recent.popleft()
                if len(conn.recent) > MESSAGE_LIMIT:
                    await ws.close(code=1008, message=b"Too many requests")
                    break
                if msg.type is WSMsgType.PING:
                    await ws.pong(msg.data)
                elif msg.type in (WSMsgType.TEXT, WSMsgType.BINARY) and not conn.stalled:
                    text = msg.data if isinstance(msg.data, str) else msg.data.decode("utf-8", "replace")
                    await self._send(conn, json.dumps(self._control(conn, text), separators=(",", ":")))
        finally:
            self.conns.remove(conn)
            self._unsubscribe(conn, list(conn.names))
        return ws

    async def close(self, *_: Any) -> None:
        """Stop the cadence task and close every connection (the server is shutting down)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        for conn in list(self.conns):
            await conn.ws.close(code=1001, message=b"server shutdown")

    def snapshot(self, symbol: str, limit: int) -> tuple[int, list[tuple[int, int]], list[tuple[int, int]]] | None:
        """The book for ``GET /api/v3/depth`` while depth streams show ``symbol``: (lastUpdateId, bids, asks),
        ``limit`` levels a side, read now (a new update id if it changed), so that the updates after it
        start from exactly this book; None when no depth stream shows the symbol (the live book and the
        current update id are then as good)."""
        b = self._books.get(symbol)
        if b is None:
            return None
        b.refresh(self._levels(symbol), self._next_update_id)
        return (b.update_id, *b.top(limit))

    # ---- subscriptions --------------------------------------------------------------------------------
    def _served(self, name: str) -> str | None:
        """The canonical name of a stream this server serves (None: not one)."""
        try:
            return self._name(name)
        except ApiError:
            return None

    def _name(self, name: str) -> str:
        """``name`` as this server spells it (symbol lower-case, kind as Binance writes it); ``ApiError``
        (code 2) when it is malformed or not served, naming what is."""
        if not _WELL_FORMED.match(name):
            raise ApiError(2, "Invalid request: invalid stream")
        if name.lower() == MINI_ARR.lower():
            return MINI_ARR
        if name.lower() == "!ticker@arr":
            raise ApiError(
                2, "Invalid request: !ticker@arr was retired on 2026-03-26; use <symbol>@ticker or !miniTicker@arr"
            )
        sym, _, kind = name.partition("@")
        canonical = _KINDS.get(kind.lower())
        if canonical is None or sym.upper() not in self.symbols:
            raise ApiError(
                2,
                f"Invalid request: liqkit sim-server does not serve {name}; it serves <symbol>@"
                f"{'|'.join(_KINDS.values())} and {MINI_ARR} for the symbols "
                + ", ".join(s.lower() for s in self.symbols),
            )
        return f"{sym.lower()}@{canonical}"

    def _subscribe(self, conn: _Conn, names: list[str]) -> None:
        for name in names:
            conn.names[name] = None
            self._subs.setdefault(name, set()).add(conn)
            sym, _, kind = name.partition("@")
            if kind in _DEPTH_KINDS and sym.upper() not in self._books:  # the depth streams start from now
                self._books[sym.upper()] = DepthBook(self._levels(sym.upper()), self._next_update_id())

    def _unsubscribe(self, conn: _Conn, names: list[str]) -> None:
        for name in names:
            conn.names.pop(name, None)
            listeners = self._subs.get(name)
            if listeners is not None:
                listeners.discard(conn)
                if not listeners:
                    del self._subs[name]
        for sym in list(self._books):
            if not any(f"{sym.lower()}@{k}" in self._subs for k in _DEPTH_KINDS):
                del self._books[sym]

    def _control(self, conn: _Conn, text: str) -> dict[str, Any]:
        """The answer to one frame a client sent: a result, or an error as Binance words it."""
        rid: Any = None
        try:
            try:
                req = json.loads(text)
            except json.JSONDecodeError as e:
                words = next((w for k, w in _JSON_WORDS.items() if e.msg.startswith(k)), e.msg)
                raise ApiError(3, f"Invalid JSON: {words} at line {e.lineno} column {e.colno}") from None
            if not isinstance(req, dict):
                raise ApiError(
                    2, f"Invalid request: invalid type: {_json_type(req)}, expected a map at {_position(text, 1)}"
                )
            rid = req.get("id", ...)  # 64-bit integers, up to 36 letters, digits, - and _ (UUIDs), or null
            if not (
                rid is None
                or (isinstance(rid, int) and not isinstance(rid, bool) and -(2**63) <= rid < 2**63)
                or (isinstance(rid, str) and _ID_TEXT.match(rid))
            ):
                rid = None
                raise ApiError(2, "Invalid request: request ID must be an unsigned integer")
            method = req.get("method")
            if "method" in req and method not in _METHODS:
                m = _METHOD_VALUE.search(text)
                where = _position(text, m.end() if m else len(text))
                shown = method if isinstance(method, str) else json.dumps(method)
                raise ApiError(
                    2,
                    f"Invalid request: unknown variant `{shown}`, expected one of "
                    f"{', '.join(f'`{x}`' for x in _METHODS)} at {where}",
                )
            if "method" not in req:
                raise ApiError(2, f"Invalid request: missing field `method` at {_position(text, len(text.rstrip()))}")
            return {"result": self._method(conn, str(method), req.get("params")), "id": rid}
        except ApiError as e:
            return {"error": {"code": e.code, "msg": e.msg}, "id": rid}

    def _method(self, conn: _Conn, method: str, params: Any) -> Any:
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list):
                kind = _json_type(params)
                raise ApiError(2, f"Invalid request: invalid type: {kind}, expected a sequence of stream names")
            bad = next((p for p in params if not isinstance(p, str)), None)
            if bad is not None:
                raise ApiError(2, f"Invalid request: invalid type: {_json_type(bad)}, expected a stream name")
            names = list(dict.fromkeys(self._name(p) for p in params))
            if method == "UNSUBSCRIBE":
                self._unsubscribe(conn, names)
                return None
            total = len(conn.names.keys() | set(names))
            if total > STREAM_LIMIT:
                raise ApiError(2, f"Invalid request: {total} streams; a connection listens to {STREAM_LIMIT} at most")
            self._subscribe(conn, names)
            return None
        args = params if isinstance(params, list) else ([] if params is None else [params])
        if method == "LIST_SUBSCRIPTIONS":
            if args:
                raise ApiError(2, "Invalid request: too many parameters")
            return list(conn.names)
        most = 2 if method == "SET_PROPERTY" else 1
        if len(args) > most:
            raise ApiError(2, "Invalid request: too many parameters")
        if not args or not isinstance(args[0], str):
            raise ApiError(2, "Invalid request: property name must be a string")
        if args[0] != "combined":
            raise ApiError(0, "Unknown property")
        if method == "GET_PROPERTY":
            return conn.combined
        if len(args) < 2 or not isinstance(args[1], bool):
            raise ApiError(1, "Invalid value type: expected Boolean")
        conn.combined = args[1]
        return None

    # ---- publishing -----------------------------------------------------------------------------------
    async def _send(self, conn: _Conn, text: str) -> None:
        with contextlib.suppress(ConnectionError):  # the client went away mid-send: its handler cleans up
            await conn.ws.send_str(text)

    async def _publish(self, name: str, payload: Any) -> None:
        """Send a stream's frame to each connection listening to it, faults applied per connection."""
        listeners = self._subs.get(name)
        if not listeners:
            return
        texts: dict[bool, str] = {}
        for conn in list(listeners):
            if conn.ws.closed or conn.stalled or name not in conn.names:  # (unsubscribed while a send waited)
                continue
            f = self._faults().pick("stream")
            if f is not None and f.kind == "drop":
                await conn.ws.close()
                continue
            if f is not None and f.kind == "stall":  # open, answering pings, but silent from now on
                conn.stalled = True
                continue
            if f is not None and f.kind == "server-shutdown":  # as Binance announces a restart, then drops
                event = {"e": "serverShutdown", "E": self._now_ms()}
                shutdown = {"stream": "!serverShutdown", "data": event} if conn.combined else event
                await self._send(conn, json.dumps(shutdown, separators=(",", ":")))
                await conn.ws.close()
                continue
            text = texts.get(conn.combined)
            if text is None:
                wrapped = {"stream": name, "data": payload} if conn.combined else payload
                text = texts[conn.combined] = json.dumps(wrapped, separators=(",", ":"))
            for _ in range(f.repeat if f is not None and f.kind == "burst" else 1):
                await self._send(conn, text)

    def _wanted(self, name: str) -> bool:
        return bool(self._subs.get(name))

    async def book(self, ev: BookTop, update_id: int) -> None:
        """A new top of the book (order book update ``update_id``): ``bookTicker`` now, the depth
        streams at their next tick."""
        await self._publish_aggs(ev.ts_local // 1_000_000)
        b = self._books.get(ev.symbol)
        if b is not None:
            b.note(ev)
        name = f"{ev.symbol.lower()}@bookTicker"
        if self._wanted(name):
            r = self._rules[ev.symbol]
            await self._publish(
                name,
                {
                    "u": update_id,
                    "s": ev.symbol,
                    "b": r.format_price(ev.bid),
                    "B": r.format_qty(ev.bid_qty),
                    "a": r.format_price(ev.ask),
                    "A": r.format_qty(ev.ask_qty),
                },
            )

    async def trade(self, ev: Trade, agg: list[int]) -> None:
        """A public trade: ``trade`` now; ``aggTrade`` once its aggregate ``agg`` (the tape's: id, price,
        qty, first id, last id, ms, buyer maker) can take no more trades."""
        ms = ev.ts_local // 1_000_000
        await self._publish_aggs(ms)
        pending = self._aggs.get(ev.symbol)
        if pending is not None and pending is not agg:  # this trade began another aggregate
            await self._publish_agg(ev.symbol, pending)
        self._aggs[ev.symbol] = agg
        name = f"{ev.symbol.lower()}@trade"
        if self._wanted(name):
            r = self._rules[ev.symbol]
            await self._publish(
                name,
                {
                    "e": "trade",
                    "E": ms,
                    "s": ev.symbol,
                    "t": ev.trade_id,
                    "p": r.format_price(ev.price),
                    "q": r.format_qty(ev.qty),
                    "T": ms,
                    "m": ev.aggressor is Side.SELL,
                    "M": True,
                },
            )

    async def _publish_aggs(self, before_ms: int) -> None:
        """Publish the pending aggregates of trades older than ``before_ms``: events come in time order, so
        no later trade can join them."""
        for sym, a in list(self._aggs.items()):
            if a[5] < before_ms:
                await self._publish_agg(sym, a)

    async def _publish_agg(self, sym: str, a: list[int]) -> None:
        if self._aggs.get(sym) is a:
            del self._aggs[sym]
        name = f"{sym.lower()}@aggTrade"
        if self._wanted(name):
            r = self._rules[sym]
            frame = {
                "e": "aggTrade",
                "E": self._now_ms(),
                "s": sym,
                "a": a[0],
                "p": r.format_price(a[1]),
                "q": r.format_qty(a[2]),
                "f": a[3],
                "l": a[4],
                "T": a[5],
                "m": bool(a[6]),
                "M": True,
            }
            await self._publish(name, frame)

    # ---- the 100 ms and 1000 ms streams ------------------------------------------------------------------
    async def _cadence(self) -> None:
        loop = asyncio.get_running_loop()
        due, n = loop.time(), 0
        while True:
            due = max(due + TICK_S, loop.time() - TICK_S)  # a late tick is not made up for by a burst
            await asyncio.sleep(max(0.0, due - loop.time()))
            n += 1
            await self._tick(n % 10 == 0)

    async def _tick(self, second: bool) -> None:
        """Publish the 100 ms streams, and the 1000 ms ones on the ``second`` tick. The books are read and
        every frame made before any is sent: a tick's diff and partial frames show one update."""
        now = self._now_ms()
        await self._publish_aggs(now - AGG_GRACE_MS)  # a trade nothing followed (a paused feed)
        frames: list[tuple[str, Any]] = []
        for sym, b in self._books.items():
            b.refresh(self._levels(sym), self._next_update_id)
            r = self._rules[sym]
            low = sym.lower()
            for cadence, suffix in ((100, "@100ms"), (1000, "")) if second else ((100, "@100ms"),):
                if self._wanted(f"{low}@depth{suffix}"):
                    frame = b.diff(cadence, r, sym, now)
                    if frame is not None:
                        frames.append((f"{low}@depth{suffix}", frame))
                else:
                    b.pending[cadence] = _Pending(b.update_id)  # nobody listens: start afresh when one does
                if b.bids or b.asks:
                    for n in PARTIAL_LEVELS:
                        if self._wanted(f"{low}@depth{n}{suffix}"):
                            frames.append((f"{low}@depth{n}{suffix}", b.partial(n, r)))
        if second:
            frames += self._tickers(now)
        for name, payload in frames:
            await self._publish(name, payload)

    def _tickers(self, now: int) -> list[tuple[str, Any]]:
        """The ticker, miniTicker and !miniTicker@arr frames listened to (the array: the symbols whose
        statistics changed since it last went out)."""
        frames: list[tuple[str, Any]] = []
        minis: list[dict[str, Any]] = []
        for sym in self.symbols:
            low = sym.lower()
            if self._wanted(f"{low}@ticker"):
                frames.append((f"{low}@ticker", _ticker_frame(self._ticker(sym, False), now)))
            if self._wanted(f"{low}@miniTicker") or self._wanted(MINI_ARR):
                mini = _mini_frame(self._ticker(sym, True), now)
                if self._wanted(f"{low}@miniTicker"):
                    frames.append((f"{low}@miniTicker", mini))
                values = tuple(str(mini[k]) for k in "cohlvq")
                if self._wanted(MINI_ARR) and self._minis_sent.get(sym) != values:
                    self._minis_sent[sym] = values
                    minis.append(mini)
        if minis:
            frames.append((MINI_ARR, minis))
        elif not self._wanted(MINI_ARR):
            self._minis_sent.clear()  # a new listener starts with every symbol
        return frames
