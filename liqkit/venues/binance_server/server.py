"""A Binance-compatible spot exchange on 127.0.0.1: the simulated exchange behind Binance's protocol.

REST under ``/api/v3/``: ping, time, exchangeInfo; market data (depth, trades, aggTrades,
ticker/24hr, ticker/price, ticker/bookTicker) built from the replayed market as the server played it;
account, order (place, query and cancel by ``orderId`` or ``origClientOrderId``), openOrders (query,
cancel), allOrders and myTrades. Market streams under ``/stream?streams=`` (combined) and
``/ws/<name>`` (raw), and the WebSocket API under ``/ws-api/v3`` with the user data stream
(``userDataStream.subscribe.signature`` / ``userDataStream.unsubscribe``). Signed requests are checked
against the query string and body exactly as sent (HMAC-SHA256, -1022; timestamp and recvWindow,
-1021); orders go through the same filters and answers as the simulated exchange (-1013, -2010, -2011,
-2013), in Binance's JSON shapes. Any ordinary Binance spot client can point at it: a local testnet
that never resets. README's "What `liqkit sim-server` implements" lists what is there and what is not.

Limits of the data: the replay holds the top of the book only, so depth has one level a side; a
MARKET order takes at the touch what the displayed quantity there allows and expires the rest (no
walk through deeper levels yet); 24 h statistics cover what the server played since it started.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections import deque
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from liqkit.data.feed import MarketData
from liqkit.domain.config import SimConfig
from liqkit.domain.errors import FilterError, OrderRejected, UnknownOrderError
from liqkit.domain.rules import SymbolRules, load_exchange_info, plain_decimal
from liqkit.domain.types import BalanceUpdate, BookTop, Side, Trade
from liqkit.engine.ids import is_valid_client_id
from liqkit.engine.intents import Place
from liqkit.engine.ports import UserFill, UserOrder
from liqkit.venues.binance_server.auth import ApiError, AuthError, check_rest, check_time, check_ws
from liqkit.venues.binance_server.faults import FaultPlan
from liqkit.venues.sim.venue import SimVenue

_DAY_MS = 86_400_000
_OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED")
# Binance's rule for symbols=[...], its "9-_" read as three characters (a regex would read a range)
_SYMBOLS = re.compile(r'^\[("[A-Z0-9_.-]{1,20}"(,"[A-Z0-9_.-]{1,20}")*)?\]$')
_DECIMAL = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_CID_RANGE = "^[\\.A-Z\\:/a-z0-9_-]{1,36}$"
TAPE_KEEP = 10_000  # public trades (and aggregate trades) kept per symbol for /trades and /aggTrades
# a minute of the 24 h statistics: [minute, open, high, low, close, volume, quote, count, first id, last id, last qty]
_MINUTE, _OPEN, _HIGH, _LOW, _CLOSE, _VOLUME, _QUOTE, _COUNT, _FIRST_ID, _LAST_ID, _LAST_QTY = range(11)


def _generated_id() -> str:
    """A client order id for a request that sent none (Binance makes up 22 characters too)."""
    return secrets.token_urlsafe(16)[:22]


class _Tape:
    """One symbol's public trades as the server played them: the latest ``keep`` (for /trades), their
    aggregates (for /aggTrades: consecutive trades at one price, one time and one taker side make one),
    and per-minute figures of the last 24 h (for /ticker/24hr) with the close before them."""

    def __init__(self, keep: int = TAPE_KEEP) -> None:
        self.trades: deque[tuple[int, int, int, int, bool]] = deque(maxlen=keep)  # id, price, qty, ms, buyer maker
        self.aggs: deque[list[int]] = deque(maxlen=keep)  # agg id, price, qty, first id, last id, ms, buyer maker
        self.minutes: deque[list[int]] = deque()
        self.prev_close = 0
        self._next_agg = 1

    def add(self, tid: int, price: int, qty: int, ms: int, buyer_maker: bool) -> None:
        self.trades.append((tid, price, qty, ms, buyer_maker))
        a = self.aggs[-1] if self.aggs else None
        if a is not None and (a[1], a[5], a[6]) == (price, ms, int(buyer_maker)):
            a[2] += qty
            a[4] = tid
        else:
            self.aggs.append([self._next_agg, price, qty, tid, tid, ms, int(buyer_maker)])
            self._next_agg += 1
        minute = ms // 60_000
        m = self.minutes[-1] if self.minutes else None
        if m is not None and m[_MINUTE] == minute:
            m[_HIGH], m[_LOW], m[_CLOSE] = max(m[_HIGH], price), min(m[_LOW], price), price
            m[_VOLUME] += qty
            m[_QUOTE] += price * qty
            m[_COUNT] += 1
            m[_LAST_ID], m[_LAST_QTY] = tid, qty
        else:
            self.minutes.append([minute, price, price, price, price, qty, price * qty, 1, tid, tid, qty])

    def window(self, now_ms: int) -> list[list[int]]:
        """The minutes of the last 24 h (older ones are dropped, the last of them kept as prev close)."""
        first = (now_ms - _DAY_MS) // 60_000
        while self.minutes and self.minutes[0][_MINUTE] < first:
            self.prev_close = self.minutes.popleft()[_CLOSE]
        return list(self.minutes)


class _Window:
    """A count that restarts at 0 every ``ms`` milliseconds (Binance's fixed rate-limit intervals)."""

    def __init__(self, ms: int) -> None:
        self.ms = ms
        self._slot = 0
        self._n = 0

    def used(self, now_ms: int) -> int:
        return self._n if now_ms // self.ms == self._slot else 0

    def add(self, now_ms: int, n: int = 1) -> int:
        self._n = self.used(now_ms) + n
        self._slot = now_ms // self.ms
        return self._n


def _err(code: int, msg: str, status: int = 400) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status)


class BinanceServer:
    """Serve a ``SimVenue`` through Binance's REST, stream and WebSocket API protocols."""

    def __init__(
        self,
        symbols: Iterable[str],
        api_keys: dict[str, str],
        config: SimConfig | None = None,
        data: dict[str, MarketData] | None = None,
        speed: float = 1.0,
        faults: FaultPlan | None = None,
        enforce_limits: bool = True,
    ) -> None:
        cfg = (config or SimConfig()).model_copy(update={"latency_ms": 0.0})
        # the limits exchangeInfo declares: usage is always reported in headers, refused past them when enforced
        declared = {(r["rateLimitType"], r["interval"]): int(r["limit"]) for r in load_exchange_info()["rateLimits"]}
        self.weight_limit = declared.get(("REQUEST_WEIGHT", "MINUTE"), 6000)
        self.order_limit_10s = declared.get(("ORDERS", "SECOND"), 100)
        self.enforce_limits = enforce_limits
        self.rate_limited = 0  # requests refused with 429 for going over a limit (not injected faults)
        self._orders_10s = _Window(10_000)  # new orders
        self._orders_1d = _Window(86_400_000)
        self.faults = faults or FaultPlan()
        self.duplicates: list[str] = []  # moments two live liqkit orders shared a pair, side and level
        self.fills_made = 0
        self.venue = SimVenue(symbols, cfg, data, speed=speed)
        self.keys = dict(api_keys)
        self.orders: dict[int, dict[str, Any]] = {}  # Binance order objects by orderId (every order ever placed)
        self._by_cid: dict[str, int] = {}  # client id -> orderId of the latest order that used it
        self._applied: set[int] = set()  # trade ids of fills applied when their order was placed
        self.tapes = {s.upper(): _Tape() for s in symbols}
        self.started_ms = self.now_ms()
        self.streams: list[tuple[web.WebSocketResponse, set[str], bool]] = []
        self.user_subs: dict[int, web.WebSocketResponse] = {}
        self.ws_api_conns: set[web.WebSocketResponse] = set()
        self.stalled: set[web.WebSocketResponse] = set()  # stream connections a "stall" fault silenced
        self._next_sub = 0
        self._update_id = 1  # order book update id: bookTicker "u", depthUpdate "U"/"u", REST depth lastUpdateId
        self._last_top: dict[str, tuple[int, int]] = {}
        self._weight = _Window(60_000)  # request weight used
        self._pump: asyncio.Task[None] | None = None
        self.app = web.Application(middlewares=[self._fault_middleware, self._error_middleware])
        self.app.add_routes(
            [
                web.get("/api/v3/ping", self.ping),
                web.get("/api/v3/time", self.server_time),
                web.get("/api/v3/exchangeInfo", self.exchange_info),
                web.get("/api/v3/ticker/bookTicker", self.book_ticker),
                web.get("/api/v3/ticker/price", self.ticker_price),
                web.get("/api/v3/ticker/24hr", self.ticker_24h),
                web.get("/api/v3/depth", self.depth),
                web.get("/api/v3/trades", self.trades),
                web.get("/api/v3/aggTrades", self.agg_trades),
                web.get("/api/v3/account", self.account),
                web.post("/api/v3/order", self.new_order),
                web.delete("/api/v3/order", self.cancel_order),
                web.get("/api/v3/order", self.query_order),
                web.get("/api/v3/openOrders", self.open_orders),
                web.get("/api/v3/allOrders", self.all_orders),
                web.get("/api/v3/myTrades", self.my_trades),
                web.delete("/api/v3/openOrders", self.cancel_open_orders),
                web.get("/stream", self.combined_stream),
                web.get("/ws/{name}", self.raw_stream),
                web.get("/ws-api/v3", self.ws_api),
            ]
        )
        self.app.on_startup.append(self._start)
        self.app.on_shutdown.append(self._close_sockets)  # before aiohttp waits for handlers to end
        self.app.on_cleanup.append(self._stop)

    # ---- lifecycle --------------------------------------------------------------------------------
    async def listen(self, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
        """Serve on ``host:port`` (0: a free port) in the running loop; (runner to ``cleanup()``, base URL)."""
        runner = web.AppRunner(self.app)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        bound = runner.addresses[0][1]
        return runner, f"http://{host}:{bound}"

    async def _start(self, _: web.Application) -> None:
        await self.venue.start()
        self._pump = asyncio.create_task(self._fan_out(), name="binance-server-events")

    async def _close_sockets(self, _: web.Application) -> None:
        for ws in [w for w, _s, _c in self.streams] + list(self.ws_api_conns):
            await ws.close(code=1001, message=b"server shutdown")

    async def _stop(self, _: web.Application) -> None:
        if self._pump is not None:
            self._pump.cancel()
        await self.venue.close()

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.faults.skew_ms

    @web.middleware
    async def _fault_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith(("/stream", "/ws")):
            return await handler(request)  # type: ignore[no-any-return]
        now = self.now_ms()
        if self.enforce_limits and self._weight.used(now) >= self.weight_limit:
            self.rate_limited += 1
            return web.json_response(
                {
                    "code": -1003,
                    "msg": f"Too much request weight used; current limit is {self.weight_limit} "
                    "request weight per 1 MINUTE. Please use WebSocket Streams for live updates "
                    "to avoid polling the API.",
                },
                status=429,
                headers={"Retry-After": str(60 - (now // 1000) % 60)},
            )
        f = self.faults.pick(f"{request.method} {request.path}")
        if f is None:
            response = await handler(request)
            if response.status >= 400 and "X-MBX-USED-WEIGHT-1M" not in response.headers:
                response.headers.update(self._headers(1))  # a failed request costs weight, even an order
            return response  # type: ignore[no-any-return]
        if f.kind == "http502":
            html = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
            return web.Response(status=502, content_type="text/html", text=html)
        if f.kind in ("429", "418"):
            msg = "Too much request weight used; current limit is 6000 request weight per 1 MINUTE."
            if f.kind == "418":
                msg = "Way too much request weight used; IP banned until later."
            return web.json_response(
                {"code": -1003, "msg": msg},
                status=int(f.kind),
                headers={"Retry-After": str(int(max(1, f.retry_after)))},
            )
        unknown = {
            "code": -1007,
            "msg": "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
        }
        if f.kind == "-1007-not-placed":
            return web.json_response(unknown, status=408)
        if f.kind == "-1007-placed":
            await handler(request)
            return web.json_response(unknown, status=408)
        if f.kind == "delay":
            await asyncio.sleep(f.delay_ms / 1000)
        return await handler(request)  # type: ignore[no-any-return]

    @web.middleware
    async def _error_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """A handler's ``ApiError`` (auth or parameters) answered as Binance answers it."""
        try:
            return await handler(request)  # type: ignore[no-any-return]
        except ApiError as e:
            return _err(e.code, e.msg, e.status)

    def _headers(self, weight: int, orders: bool = False) -> dict[str, str]:
        now = self.now_ms()
        out = {"X-MBX-USED-WEIGHT-1M": str(self._weight.add(now, weight))}
        if orders:
            out["X-MBX-ORDER-COUNT-10S"] = str(self._orders_10s.used(now))
            out["X-MBX-ORDER-COUNT-1D"] = str(self._orders_1d.used(now))
        return out

    def _json(self, body: Any, weight: int = 1, status: int = 200, orders: bool = False) -> web.Response:
        return web.json_response(body, status=status, headers=self._headers(weight, orders))

    def _count_order(self) -> web.Response | None:
        """Count a new order; past the 10 s limit (when enforced) the 429 -1015 answer instead."""
        now = self.now_ms()
        if self.enforce_limits and self._orders_10s.used(now) >= self.order_limit_10s:
            self.rate_limited += 1
            return web.json_response(
                {
                    "code": -1015,
                    "msg": f"Too many new orders; current limit is {self.order_limit_10s} orders per 10 SECOND.",
                },
                status=429,
                headers={"Retry-After": str(max(1, 10 - (now // 1000) % 10)), **self._headers(1, orders=True)},
            )
        self._orders_10s.add(now)
        self._orders_1d.add(now)
        return None

    async def _signed(self, request: web.Request) -> dict[str, str]:
        """The parameters of a signed request, checked against the query string and body as sent."""
        body = await request.text() if request.can_read_body else ""
        return check_rest(
            request.rel_url.raw_query_string, body, request.headers.get("X-MBX-APIKEY"), self.keys, self.now_ms()
        )

    # ---- parameters ---------------------------------------------------------------------------------
    def _symbol(self, params: Mapping[str, str], mandatory: bool = True) -> str:
        """The ``symbol`` parameter, upper-cased: -1102 when missing (if mandatory), -1121 when not served."""
        sym = params.get("symbol", "").upper()
        if not sym:
            if mandatory:
                raise ApiError(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
            return ""
        if sym not in self.venue.exchange.index:
            raise ApiError(-1121, "Invalid symbol.")
        return sym

    def _symbols(self, params: Mapping[str, str]) -> tuple[list[str], bool]:
        """``symbol`` or ``symbols`` (a JSON array) or neither (every symbol): (symbols, asked for one)."""
        one, many = params.get("symbol"), params.get("symbols")
        if one is not None and many is not None:
            raise ApiError(-1128, "Combination of optional parameters invalid.")
        if one is not None:
            return [self._symbol(params)], True
        if many is None:
            return list(self.venue.symbols), False
        if not _SYMBOLS.match(many):
            raise ApiError(
                -1100,
                "Illegal characters found in parameter 'symbols'; legal range is "
                '\'^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$\'.',
            )
        names = [str(x) for x in json.loads(many)]
        if any(n not in self.venue.exchange.index for n in names):
            raise ApiError(-1121, "Invalid symbol.")
        return list(dict.fromkeys(names)), False

    @staticmethod
    def _int(params: Mapping[str, str], name: str, default: int | None = None) -> int | None:
        """An integer parameter (None or ``default`` when absent); -1100 when it is not one."""
        text = params.get(name)
        if text is None or text == "":
            return default
        if not (text.isascii() and text.isdigit()) or len(text) > 20:
            raise ApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.")
        return int(text)

    def _limit(self, params: Mapping[str, str], default: int, most: int) -> int:
        """``limit``: ``default`` when absent, at most ``most`` (more is answered as ``most``)."""
        n = self._int(params, "limit", default)
        assert n is not None
        if n < 1:
            raise ApiError(-1100, "Illegal characters found in parameter 'limit'; legal range is '^[1-9][0-9]{0,19}$'.")
        return min(n, most)

    @staticmethod
    def _decimal(params: Mapping[str, str], name: str) -> Decimal:
        """A positive decimal parameter: -1102 when missing, -1100 when it is not a plain decimal."""
        text = params.get(name, "")
        if not text:
            raise ApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        if not _DECIMAL.match(text):
            raise ApiError(
                -1100,
                f"Illegal characters found in parameter '{name}'; legal range is '{_DECIMAL.pattern}'.",
            )
        return Decimal(text)

    # ---- public REST ------------------------------------------------------------------------------
    async def ping(self, request: web.Request) -> web.Response:
        return self._json({})

    async def server_time(self, request: web.Request) -> web.Response:
        return self._json({"serverTime": self.now_ms()})

    async def exchange_info(self, request: web.Request) -> web.Response:
        doc = load_exchange_info()
        wanted = set(self.venue.symbols)
        asked = request.query.get("symbol")
        if asked:
            if asked.upper() not in wanted:
                return _err(-1121, "Invalid symbol.")
            wanted = {asked.upper()}
        doc = {**doc, "serverTime": self.now_ms(), "symbols": [s for s in doc["symbols"] if s["symbol"] in wanted]}
        return self._json(doc, weight=20)

    def _book(self, symbol: str) -> Any:
        idx = self.venue.exchange.index.get(symbol.upper())
        return None if idx is None else self.venue.exchange.books[idx]

    def _top(self, sym: str) -> dict[str, str]:
        bk = self._book(sym)
        r = bk.rules
        return {
            "symbol": sym,
            "bidPrice": r.format_price(bk.bid),
            "bidQty": r.format_qty(bk.bid_qty),
            "askPrice": r.format_price(bk.ask),
            "askQty": r.format_qty(bk.ask_qty),
        }

    async def book_ticker(self, request: web.Request) -> web.Response:
        syms, one = self._symbols(request.query)
        if one:
            return self._json(self._top(syms[0]), weight=2)
        return self._json([self._top(s) for s in syms], weight=4)

    def _last_price(self, sym: str) -> str:
        tape = self.tapes[sym]
        return self.venue._rules[sym].format_price(tape.trades[-1][1] if tape.trades else 0)

    async def ticker_price(self, request: web.Request) -> web.Response:
        syms, one = self._symbols(request.query)
        if one:
            return self._json({"symbol": syms[0], "price": self._last_price(syms[0])}, weight=2)
        return self._json([{"symbol": s, "price": self._last_price(s)} for s in syms], weight=4)

    def _ticker_24h(self, sym: str, mini: bool) -> dict[str, Any]:
        r = self.venue._rules[sym]
        tape = self.tapes[sym]
        now = self.now_ms()
        w = tape.window(now)
        if w:
            open_, last, last_qty = w[0][_OPEN], w[-1][_CLOSE], w[-1][_LAST_QTY]
            high, low = max(m[_HIGH] for m in w), min(m[_LOW] for m in w)
            volume, quote = sum(m[_VOLUME] for m in w), sum(m[_QUOTE] for m in w)
            count, first_id, last_id = sum(m[_COUNT] for m in w), w[0][_FIRST_ID], w[-1][_LAST_ID]
        else:
            open_ = last = last_qty = high = low = volume = quote = count = 0
            first_id = last_id = -1
        quote_volume = plain_decimal(r.tick * r.step * quote)
        stats: dict[str, Any] = {
            "symbol": sym,
            "openPrice": r.format_price(open_),
            "highPrice": r.format_price(high),
            "lowPrice": r.format_price(low),
            "lastPrice": r.format_price(last),
            "volume": r.format_qty(volume),
            "quoteVolume": quote_volume,
            "openTime": max(now - _DAY_MS, self.started_ms),
            "closeTime": now,
            "firstId": first_id,
            "lastId": last_id,
            "count": count,
        }
        if mini:
            return stats
        prev = tape.prev_close or open_
        pct = (Decimal(100) * (last - open_) / open_).quantize(Decimal("0.001")) if open_ else Decimal("0.000")
        wavg = (r.tick * quote / volume).quantize(Decimal("1e-8")) if volume else Decimal(0)
        top = self._top(sym)
        return {
            "symbol": sym,
            "priceChange": r.format_price(last - open_),
            "priceChangePercent": format(pct, "f"),
            "weightedAvgPrice": plain_decimal(wavg),
            "prevClosePrice": r.format_price(prev),
            "lastPrice": stats["lastPrice"],
            "lastQty": r.format_qty(last_qty),
            "bidPrice": top["bidPrice"],
            "bidQty": top["bidQty"],
            "askPrice": top["askPrice"],
            "askQty": top["askQty"],
            **{k: v for k, v in stats.items() if k not in ("symbol", "lastPrice")},
        }

    async def ticker_24h(self, request: web.Request) -> web.Response:
        kind = request.query.get("type", "FULL")
        if kind not in ("FULL", "MINI"):
            raise ApiError(-1100, "Illegal characters found in parameter 'type'; legal range is 'FULL, MINI'.")
        syms, one = self._symbols(request.query)
        if one:
            return self._json(self._ticker_24h(syms[0], kind == "MINI"), weight=2)
        weight = 80 if "symbols" not in request.query else (2 if len(syms) <= 20 else 40 if len(syms) <= 100 else 80)
        return self._json([self._ticker_24h(s, kind == "MINI") for s in syms], weight=weight)

    def _levels(self, sym: str, limit: int = 5000) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Up to ``limit`` price levels a side, best first: (bids, asks) of (ticks, steps), from the
        simulated exchange (``SimExchange.levels``): the replayed data's L2 book when it has depth, else
        its top (one level a side; none before the first book), with our resting orders in it."""
        return self.venue.exchange.levels(self.venue.exchange.index[sym.upper()], limit)

    async def depth(self, request: web.Request) -> web.Response:
        sym = self._symbol(request.query)
        limit = self._limit(request.query, 100, 5000)
        r = self.venue._rules[sym]
        bids, asks = self._levels(sym, limit)
        weight = 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250
        return self._json(
            {
                "lastUpdateId": self._update_id,
                "bids": [[r.format_price(p), r.format_qty(q)] for p, q in bids[:limit]],
                "asks": [[r.format_price(p), r.format_qty(q)] for p, q in asks[:limit]],
            },
            weight=weight,
        )

    async def trades(self, request: web.Request) -> web.Response:
        sym = self._symbol(request.query)
        limit = self._limit(request.query, 500, 1000)
        r = self.venue._rules[sym]
        out = [
            {
                "id": tid,
                "price": r.format_price(price),
                "qty": r.format_qty(qty),
                "quoteQty": plain_decimal(r.price(price) * r.qty(qty)),
                "time": ms,
                "isBuyerMaker": maker,
                "isBestMatch": True,
            }
            for tid, price, qty, ms, maker in list(self.tapes[sym].trades)[-limit:]
        ]
        return self._json(out, weight=25)

    async def agg_trades(self, request: web.Request) -> web.Response:
        q = request.query
        sym = self._symbol(q)
        limit = self._limit(q, 500, 1000)
        from_id, start, end = self._int(q, "fromId"), self._int(q, "startTime"), self._int(q, "endTime")
        aggs = list(self.tapes[sym].aggs)
        if from_id is not None:
            picked = [a for a in aggs if a[0] >= from_id][:limit]
        elif start is not None or end is not None:
            picked = [a for a in aggs if (start is None or a[5] >= start) and (end is None or a[5] <= end)]
            picked = picked[:limit] if start is not None else picked[-limit:]
        else:
            picked = aggs[-limit:]
        r = self.venue._rules[sym]
        out = [
            {
                "a": a[0],
                "p": r.format_price(a[1]),
                "q": r.format_qty(a[2]),
                "f": a[3],
                "l": a[4],
                "T": a[5],
                "m": bool(a[6]),
                "M": True,
            }
            for a in picked
        ]
        return self._json(out, weight=4)

    # ---- signed REST ------------------------------------------------------------------------------
    async def account(self, request: web.Request) -> web.Response:
        await self._signed(request)
        bal = self.venue.exchange.balances()
        return self._json(
            {
                "makerCommission": 0,
                "takerCommission": 0,
                "canTrade": True,
                "canWithdraw": False,
                "canDeposit": False,
                "updateTime": self.now_ms(),
                "accountType": "SPOT",
                "permissions": ["SPOT"],
                "balances": [
                    {"asset": a, "free": format(f, "f"), "locked": format(lk, "f")} for a, (f, lk) in bal.items()
                ],
            },
            weight=20,
        )

    async def new_order(self, request: web.Request) -> web.Response:
        p = await self._signed(request)
        sym = self._symbol(p)
        r = self.venue._rules[sym]
        bk = self._book(sym)
        kind = p.get("type", "")
        if kind not in ("LIMIT", "LIMIT_MAKER", "MARKET"):
            return _err(-1116, "Invalid orderType.")
        resp_type = p.get("newOrderRespType") or ("FULL" if kind in ("LIMIT", "MARKET") else "ACK")
        if resp_type not in ("ACK", "RESULT", "FULL"):
            return _err(
                -1100, "Illegal characters found in parameter 'newOrderRespType'; legal range is 'ACK, RESULT, FULL'."
            )
        try:
            side = Side.parse(p.get("side", ""))
        except ValueError:
            return _err(-1117, "Invalid side.")
        cid = p.get("newClientOrderId") or _generated_id()
        if not is_valid_client_id(cid):
            return _err(
                -1100, f"Illegal characters found in parameter 'newClientOrderId'; legal range is '{_CID_RANGE}'."
            )
        quote_qty = Decimal(0)
        if kind == "MARKET":
            for name in ("timeInForce", "price"):
                if name in p:
                    return _err(-1106, f"Parameter '{name}' sent when not required.")
            if "quantity" in p and "quoteOrderQty" in p:
                return _err(-1106, "Parameter 'quoteOrderQty' sent when not required.")
            if "quantity" not in p and "quoteOrderQty" not in p:
                return _err(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
            price = bk.ask if side is Side.BUY else bk.bid  # the touch: a taker at its price (no book walk yet)
            if not price:
                return _err(-2010, "Order book liquidity is less than symbol minimum quantity.")
            if "quantity" in p:
                qty = self._steps(r, p)
            else:
                quote_qty = self._decimal(p, "quoteOrderQty")
                qty = int(quote_qty / (r.price(price) * r.step))  # as much as the amount buys (or sells) at the touch
        else:
            if kind == "LIMIT_MAKER" and "timeInForce" in p:
                return _err(-1106, "Parameter 'timeInForce' sent when not required.")
            if kind == "LIMIT" and p.get("timeInForce") != "GTC":
                return _err(-1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
            try:
                price = r.price_to_ticks(self._decimal(p, "price"))
            except FilterError:
                return _err(-1013, "Filter failure: PRICE_FILTER")
            qty = self._steps(r, p)
        refused = self._count_order()
        if refused is not None:
            return refused
        self._check_duplicate(sym, side, cid)
        try:
            placed = await self.venue.submit(
                Place(sym, cid, side, price, qty, kind == "LIMIT_MAKER", 0), take_only=kind == "MARKET"
            )
        except OrderRejected as e:
            return _err(e.code or -2010, str(e).split("] ", 1)[-1])
        now = self.now_ms()
        order = self.orders[placed.order_id] = {
            "symbol": sym,
            "orderId": placed.order_id,
            "orderListId": -1,
            "clientOrderId": cid,
            "price": r.format_price(0 if kind == "MARKET" else price),
            "origQty": r.format_qty(qty),
            "executedQty": "0",
            "cummulativeQuoteQty": "0",
            "status": "NEW",
            "timeInForce": "GTC",
            "type": kind,
            "side": side.name,
            "stopPrice": "0",
            "icebergQty": "0",
            "time": now,
            "updateTime": now,
            "isWorking": True,
            "workingTime": now,
            "origQuoteOrderQty": plain_decimal(quote_qty),
            "selfTradePreventionMode": "NONE",
            "_qty": qty,
            "_filled": 0,
            "_quote": Decimal(0),
            "_trades": [],
        }
        self._by_cid[cid] = placed.order_id
        self._report(order, "NEW")
        for fill in placed.fills:  # what it took on arrival: applied now, so the answer shows it
            self._applied.add(fill.trade_id)
            self._apply_fill(order, fill)
        if placed.expired:  # a market order that ran out of displayed liquidity
            order.update(status="EXPIRED", isWorking=False, expiryReason="INSUFFICIENT_LIQUIDITY", updateTime=now)
            self._report(order, "EXPIRED")
        return self._json(self._placed(order, resp_type, now), weight=0, orders=True)  # successes cost no weight

    @staticmethod
    def _steps(r: SymbolRules, p: Mapping[str, str]) -> int:
        try:
            return r.qty_to_steps(BinanceServer._decimal(p, "quantity"), exact=True)
        except FilterError:
            raise ApiError(-1013, "Filter failure: LOT_SIZE") from None

    def _placed(self, order: dict[str, Any], resp_type: str, now: int) -> dict[str, Any]:
        """The answer to a new order in Binance's ACK, RESULT or FULL shape."""
        out: dict[str, Any] = {k: order[k] for k in ("symbol", "orderId", "orderListId", "clientOrderId")}
        out["transactTime"] = now
        if resp_type == "ACK":
            return out
        for k in (
            "price",
            "origQty",
            "executedQty",
            "origQuoteOrderQty",
            "cummulativeQuoteQty",
            "status",
            "timeInForce",
            "type",
            "side",
            "workingTime",
            "selfTradePreventionMode",
        ):
            out[k] = order[k]
        if "expiryReason" in order:
            out["expiryReason"] = order["expiryReason"]
        if resp_type == "FULL":
            out["fills"] = [
                {
                    "price": t["price"],
                    "qty": t["qty"],
                    "commission": t["commission"],
                    "commissionAsset": t["commissionAsset"],
                    "tradeId": t["id"],
                }
                for t in order["_trades"]
            ]
        return out

    def _find(self, p: Mapping[str, str], sym: str, code: int, msg: str) -> dict[str, Any]:
        """The order named by ``orderId`` and/or ``origClientOrderId`` (both: they must agree), or
        ``ApiError(code, msg)``; -1102 when neither is given."""
        oid, cid = self._int(p, "orderId"), p.get("origClientOrderId") or None
        if oid is None and cid is None:
            raise ApiError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        if oid is not None:
            order = self.orders.get(oid)
            if order is not None and cid is not None and order["clientOrderId"] != cid:
                order = None
        else:
            order = self.orders.get(self._by_cid.get(cid or "", -1))
        if order is None or order["symbol"] != sym:
            raise ApiError(code, msg)
        return order

    def _canceled(self, order: dict[str, Any], cancel_id: str) -> dict[str, Any]:
        """Binance's answer to a cancel: the order as it is now, under the cancel's own client id."""
        order["status"] = "CANCELED"
        order["isWorking"] = False
        order["updateTime"] = now = self.now_ms()
        self._report(order, "CANCELED", cancel_id=cancel_id)
        out = {
            "symbol": order["symbol"],
            "origClientOrderId": order["clientOrderId"],
            "orderId": order["orderId"],
            "orderListId": -1,
            "clientOrderId": cancel_id,
            "transactTime": now,
        }
        for k in (
            "price",
            "origQty",
            "executedQty",
            "origQuoteOrderQty",
            "cummulativeQuoteQty",
            "status",
            "timeInForce",
            "type",
            "side",
            "selfTradePreventionMode",
        ):
            out[k] = order[k]
        return out

    async def cancel_order(self, request: web.Request) -> web.Response:
        p = await self._signed(request)
        sym = self._symbol(p)
        order = self._find(p, sym, -2011, "Unknown order sent.")
        cancel_id = p.get("newClientOrderId") or _generated_id()
        if order["status"] not in _OPEN_STATUSES:
            return _err(-2011, "Unknown order sent.")
        try:
            await self.venue.cancel(sym, order["clientOrderId"])
        except UnknownOrderError:  # filled (or cancelled) while this request waited
            return _err(-2011, "Unknown order sent.")
        return self._json(self._canceled(order, cancel_id), weight=0)  # nor cancels

    async def query_order(self, request: web.Request) -> web.Response:
        p = await self._signed(request)
        order = self._find(p, self._symbol(p), -2013, "Order does not exist.")
        return self._json(self._public(order), weight=4)

    async def open_orders(self, request: web.Request) -> web.Response:
        p = await self._signed(request)
        sym = self._symbol(p, mandatory=False)
        live = [
            self._public(o)
            for o in self.orders.values()
            if o["status"] in _OPEN_STATUSES and (not sym or o["symbol"] == sym)
        ]
        return self._json(live, weight=6 if sym else 80)

    async def all_orders(self, request: web.Request) -> web.Response:
        p = await self._signed(request)
        sym = self._symbol(p)
        limit = self._limit(p, 500, 1000)
        oid, start, end = self._int(p, "orderId"), self._int(p, "startTime"), self._int(p, "endTime")
        if start is not None and end is not None and end - start > _DAY_MS:
            return _err(-1127, "More than 24 hours between startTime and endTime.")
        mine = [
            o
            for o in self.orders.values()  # in orderId order: ids grow as orders come
            if o["symbol"] == sym
            and (oid is None or o["orderId"] >= oid)
            and (start is None or o["time"] >= start)
            and (end is None or o["time"] <= end)
        ]
        picked = mine[:limit] if oid is not None or start is not None else mine[-limit:]
        return self._json([self._public(o) for o in picked], weight=20)

    async def my_trades(self, request: web.Request) -> web.Response:
        p = await self._signed(request)
        sym, oid = self._symbol(p), self._int(p, "orderId")
        trades = [
            t
            for o in self.orders.values()
            if o["symbol"] == sym and (oid is None or o["orderId"] == oid)
            for t in o["_trades"]
        ]
        return self._json(sorted(trades, key=lambda t: t["id"]), weight=20)

    async def cancel_open_orders(self, request: web.Request) -> web.Response:
        p = await self._signed(request)
        sym = self._symbol(p)
        ids = await self.venue.cancel_all(sym, own_only=False)
        out = [self._canceled(self.orders[self._by_cid[cid]], _generated_id()) for cid in ids]
        return self._json(out)

    def _check_duplicate(self, symbol: str, side: Side, cid: str) -> None:
        """Record it if a new liqkit order would join another live one of the same pair, side and level."""
        parts = cid.split(".")
        if len(parts) < 5 or parts[0] != "lq":
            return
        for o in self.orders.values():
            other = o["clientOrderId"].split(".")
            if o["symbol"] == symbol and o["status"] in ("NEW", "PARTIALLY_FILLED") and other[2:3] == parts[2:3]:
                self.duplicates.append(f"{cid} while {o['clientOrderId']} is live")

    @staticmethod
    def _public(order: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in order.items() if not k.startswith("_")}

    # ---- streams ----------------------------------------------------------------------------------
    async def combined_stream(self, request: web.Request) -> web.WebSocketResponse:
        names = {n.lower() for n in request.query.get("streams", "").split("/") if n}
        return await self._serve_stream(request, names, combined=True)

    async def raw_stream(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve_stream(request, {request.match_info["name"].lower()}, combined=False)

    async def _serve_stream(self, request: web.Request, names: set[str], combined: bool) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        entry = (ws, names, combined)
        self.streams.append(entry)
        try:
            async for _ in ws:  # clients send nothing we need (pongs are handled by aiohttp)
                pass
        finally:
            self.streams.remove(entry)
            self.stalled.discard(ws)
        return ws

    async def _publish(self, name: str, payload: dict[str, Any]) -> None:
        text_combined = text_raw = ""
        for ws, names, combined in list(self.streams):
            if name.lower() not in names or ws.closed or ws in self.stalled:
                continue
            f = self.faults.pick("stream")
            if f is not None and f.kind == "drop":
                await ws.close()
                continue
            if f is not None and f.kind == "stall":  # open, answering pings, but silent from now on
                self.stalled.add(ws)
                continue
            if combined:
                text_combined = text_combined or json.dumps({"stream": name, "data": payload})
                text = text_combined
            else:
                text_raw = text_raw or json.dumps(payload)
                text = text_raw
            for _ in range(f.repeat if f is not None and f.kind == "burst" else 1):
                await ws.send_str(text)

    # ---- WebSocket API ----------------------------------------------------------------------------
    async def ws_api(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        mine: list[int] = []
        self.ws_api_conns.add(ws)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                reply = self._ws_request(msg.data, ws, mine)
                await ws.send_str(json.dumps(reply))
        finally:
            self.ws_api_conns.discard(ws)
            for sub in mine:
                self.user_subs.pop(sub, None)
        return ws

    def _ws_request(self, text: str, ws: web.WebSocketResponse, mine: list[int]) -> dict[str, Any]:
        try:
            req = json.loads(text)
            rid, method, params = req.get("id"), req["method"], req.get("params", {})
        except (ValueError, KeyError, AttributeError):
            return {"id": None, "status": 400, "error": {"code": -1102, "msg": "Malformed request."}}
        ok = {"id": rid, "status": 200, "rateLimits": []}
        try:
            if method == "ping":
                return {**ok, "result": {}}
            if method == "time":
                return {**ok, "result": {"serverTime": self.now_ms()}}
            if method == "userDataStream.subscribe.signature":
                check_ws(params, self.keys, self.now_ms())
                sub = self._next_sub
                self._next_sub += 1
                self.user_subs[sub] = ws
                mine.append(sub)
                return {**ok, "result": {"subscriptionId": sub}}
            if method == "userDataStream.unsubscribe":
                sub = int(params.get("subscriptionId", -1))
                self.user_subs.pop(sub, None)
                return {**ok, "result": {}}
            if method == "session.status":
                check_time({"timestamp": str(self.now_ms())}, self.now_ms())
                return {**ok, "result": {"userDataStream": bool(mine)}}
        except AuthError as e:
            return {"id": rid, "status": e.status, "error": {"code": e.code, "msg": e.msg}}
        return {"id": rid, "status": 400, "error": {"code": -1100, "msg": f"Unknown method {method}."}}

    async def _user_event(self, event: dict[str, Any]) -> None:
        for sub, ws in list(self.user_subs.items()):
            if ws.closed:
                continue
            f = self.faults.pick("ws-api")
            if f is not None and f.kind == "server-shutdown":
                await ws.send_str(
                    json.dumps({"subscriptionId": sub, "event": {"e": "serverShutdown", "E": self.now_ms()}})
                )
                await ws.close()
                continue
            if f is not None and f.kind == "drop":
                await ws.close()  # the event is lost with the connection, as on a real drop
                continue
            await ws.send_str(json.dumps({"subscriptionId": sub, "event": event}))

    def _report(self, order: dict[str, Any], exec_type: str, fill: UserFill | None = None, cancel_id: str = "") -> None:
        """An ``executionReport`` of the order as it is now (for a cancel, ``c`` is the cancel's id)."""
        now = self.now_ms()
        ev = {
            "e": "executionReport",
            "E": now,
            "s": order["symbol"],
            "c": cancel_id or order["clientOrderId"],
            "S": order["side"],
            "o": order["type"],
            "f": "GTC",
            "q": order["origQty"],
            "p": order["price"],
            "P": "0",
            "F": "0",
            "g": -1,
            "C": order["clientOrderId"] if exec_type == "CANCELED" else "",
            "x": exec_type,
            "X": order["status"],
            "r": "NONE",
            "i": order["orderId"],
            "l": "0",
            "z": order["executedQty"],
            "L": "0",
            "n": "0",
            "N": None,
            "T": now,
            "t": -1,
            "w": order["status"] in ("NEW", "PARTIALLY_FILLED"),
            "m": False,
            "O": order["time"],
            "Z": order["cummulativeQuoteQty"],
            "Y": "0",
            "Q": "0",
            "V": "NONE",
        }
        if "expiryReason" in order:
            ev["eR"] = order["expiryReason"]
        if fill is not None:
            r = self.venue._rules[order["symbol"]]
            ev.update(
                {
                    "l": r.format_qty(fill.qty),
                    "L": r.format_price(fill.price),
                    "n": format(fill.fee, "f"),
                    "N": fill.fee_asset,
                    "t": fill.trade_id,
                    "m": fill.is_maker,
                }
            )
        asyncio.get_running_loop().create_task(self._user_event(ev))

    def _apply_fill(self, order: dict[str, Any], ev: UserFill) -> None:
        """One fill of ``order``: its trade, filled quantity, status, and the user stream's TRADE report."""
        r = self.venue._rules[ev.symbol]
        self.fills_made += 1
        order["_trades"].append(
            {
                "symbol": ev.symbol,
                "id": ev.trade_id,
                "orderId": order["orderId"],
                "orderListId": -1,
                "price": r.format_price(ev.price),
                "qty": r.format_qty(ev.qty),
                "quoteQty": plain_decimal(r.price(ev.price) * r.qty(ev.qty)),
                "commission": format(ev.fee, "f"),
                "commissionAsset": ev.fee_asset,
                "time": self.now_ms(),
                "isBuyer": order["side"] == "BUY",
                "isMaker": ev.is_maker,
                "isBestMatch": True,
            }
        )
        order["_filled"] += ev.qty
        order["_quote"] += r.price(ev.price) * r.qty(ev.qty)
        order["executedQty"] = r.format_qty(order["_filled"])
        order["cummulativeQuoteQty"] = plain_decimal(order["_quote"])
        order["status"] = "FILLED" if order["_filled"] >= order["_qty"] else "PARTIALLY_FILLED"
        order["isWorking"] = order["status"] != "FILLED"
        order["updateTime"] = self.now_ms()
        self._report(order, "TRADE", ev)

    async def _publish_depth(self, ev: BookTop, r: Any) -> None:
        """A ``depthUpdate`` for the top of the book: the new levels, and the old ones at quantity 0."""
        prev = self._last_top.get(ev.symbol)
        self._last_top[ev.symbol] = (ev.bid, ev.ask)
        bids = [[r.format_price(ev.bid), r.format_qty(ev.bid_qty)]]
        asks = [[r.format_price(ev.ask), r.format_qty(ev.ask_qty)]]
        if prev is not None and prev[0] != ev.bid:
            bids.append([r.format_price(prev[0]), "0"])
        if prev is not None and prev[1] != ev.ask:
            asks.append([r.format_price(prev[1]), "0"])
        ms = ev.ts_local // 1_000_000
        frame = {
            "e": "depthUpdate",
            "E": ms,
            "s": ev.symbol,
            "U": self._update_id,
            "u": self._update_id,
            "b": bids,
            "a": asks,
        }
        for name in ("depth", "depth@100ms"):
            await self._publish(f"{ev.symbol.lower()}@{name}", frame)

    # ---- the simulated exchange's events, fanned out ------------------------------------------------
    async def _fan_out(self) -> None:
        async for ev in self.venue.events():
            if isinstance(ev, BookTop):
                r = self.venue._rules[ev.symbol]
                self._update_id += 1
                await self._publish_depth(ev, r)
                await self._publish(
                    f"{ev.symbol.lower()}@bookTicker",
                    {
                        "u": self._update_id,
                        "s": ev.symbol,
                        "b": r.format_price(ev.bid),
                        "B": r.format_qty(ev.bid_qty),
                        "a": r.format_price(ev.ask),
                        "A": r.format_qty(ev.ask_qty),
                    },
                )
            elif isinstance(ev, Trade):
                r = self.venue._rules[ev.symbol]
                ms = ev.ts_local // 1_000_000
                self.tapes[ev.symbol].add(ev.trade_id, ev.price, ev.qty, ms, ev.aggressor is Side.SELL)
                await self._publish(
                    f"{ev.symbol.lower()}@trade",
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
            elif isinstance(ev, UserFill):
                if ev.trade_id in self._applied:  # already applied by the request that placed the order
                    self._applied.discard(ev.trade_id)
                    continue
                order = self.orders.get(self._by_cid.get(ev.client_id, -1))
                if order is not None:
                    self._apply_fill(order, ev)
            elif isinstance(ev, UserOrder):
                continue  # cancels are reported by the cancel handlers
            elif isinstance(ev, BalanceUpdate):
                await self._user_event(
                    {
                        "e": "outboundAccountPosition",
                        "E": self.now_ms(),
                        "u": self.now_ms(),
                        "B": [
                            {"a": b.asset, "f": format(b.free, "f"), "l": format(b.locked, "f")} for b in ev.balances
                        ],
                    }
                )
