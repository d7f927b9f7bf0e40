"""A Binance-compatible spot exchange on 127.0.0.1: the simulated exchange behind Binance's protocol.

REST under ``/api/v3/``: ping, time, exchangeInfo; market data (depth, trades, aggTrades,
ticker/24hr, ticker/price, ticker/bookTicker) built from the replayed market as the server played it;
account, order (place, test, query and cancel by ``orderId`` or ``origClientOrderId``), cancelReplace,
keepPriority amends, openOrders (query, cancel), allOrders, myTrades, the unfilled-order count, and OCO
order lists (``order_lists``: orderList/oco, orderList, openOrderList).
Market streams (``streams``) under ``/stream`` (combined) and ``/ws`` (raw), named in the URL or
subscribed by frame, and the WebSocket API under ``/ws-api/v3`` (``ws_api``: order entry, queries,
sessions, the user data stream). Signed requests
are checked as Binance checks them (``auth``: HMAC, Ed25519 and RSA keys, -1022; timestamp and
recvWindow, -1021); orders are kept by ``orders``, one implementation for both APIs, and go through the
same filters and answers as the simulated exchange (-1013, -2010, -2011, -2013), in Binance's JSON
shapes. Any ordinary Binance spot client can point at it: a local testnet that never resets. README's
"What `liqkit sim-server` implements" lists what is there and what is not.

Matching: the ``[sim]`` table's fill and queue models (``liqkit.venues.sim.matching``); its latency model
delays each order request once on its way in (``Orders._arrive``), and the answer goes back at once over
the client's own connection (``liqkit sim-server --queue-model ... --latency-p50-ms ...`` set them).

Limits of the data: a recording with depth gives the simulated exchange its L2 book (depth answers and
takers walk it); without depth the replay holds the top of the book only, one level a side, and a taker
(MARKET, IOC, FOK or a crossing LIMIT) meets only that and the account's own orders; 24 h statistics
cover what the server played since it started.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from liqkit.data.feed import MarketData
from liqkit.domain.config import SimConfig
from liqkit.domain.rules import load_exchange_info, plain_decimal
from liqkit.domain.types import BalanceUpdate, BookTop, Side, Trade
from liqkit.engine.latency import ConstantLatency
from liqkit.engine.ports import UserFill, UserOrder
from liqkit.venues.binance_server import params as pp
from liqkit.venues.binance_server.auth import ApiError, ApiKey, as_keys, check_rest
from liqkit.venues.binance_server.faults import FaultPlan
from liqkit.venues.binance_server.limits import Limits, RateLimitError
from liqkit.venues.binance_server.order_lists import OrderLists
from liqkit.venues.binance_server.orders import CANCEL_REPLACE_FAULTS, MAX_AMENDS, STP_MODES, Orders
from liqkit.venues.binance_server.streams import MarketStreams
from liqkit.venues.binance_server.ws_api import WsApi
from liqkit.venues.sim.latency import latency_model
from liqkit.venues.sim.venue import SimVenue

_DAY_MS = 86_400_000
_FAULT = web.RequestKey("fault", str)  # a fault the middleware leaves for a handler to act out
TAPE_KEEP = 10_000  # public trades (and aggregate trades) kept per symbol for /trades and /aggTrades
# a minute of the 24 h statistics: [minute, open, high, low, close, volume, quote, count, first id, last id, last qty]
_MINUTE, _OPEN, _HIGH, _LOW, _CLOSE, _VOLUME, _QUOTE, _COUNT, _FIRST_ID, _LAST_ID, _LAST_QTY = range(11)


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


def _err(code: int, msg: str, status: int = 400) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status)


def _as_served(info: dict[str, Any]) -> dict[str, Any]:
    """A symbol's exchangeInfo entry with what this server does on it today: cancelReplace, keepPriority
    amends (at most ``MAX_AMENDS`` an order), the STP modes it accepts (default NONE)."""
    filters = [f for f in info.get("filters", []) if f.get("filterType") != "MAX_NUM_ORDER_AMENDS"]
    return {
        **info,
        "cancelReplaceAllowed": True,
        "amendAllowed": True,
        "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": list(STP_MODES),
        "filters": [*filters, {"filterType": "MAX_NUM_ORDER_AMENDS", "maxNumOrderAmends": MAX_AMENDS}],
    }


class BinanceServer:
    """Serve a ``SimVenue`` through Binance's REST, stream and WebSocket API protocols.

    ``api_keys``: API key -> its credential: an HMAC secret (a string) or an ``auth.ApiKey`` (an Ed25519
    or RSA public key, ``auth.load_public_key``). Every key trades the one account."""

    def __init__(
        self,
        symbols: Iterable[str],
        api_keys: Mapping[str, str | ApiKey],
        config: SimConfig | None = None,
        data: dict[str, MarketData] | None = None,
        speed: float = 1.0,
        faults: FaultPlan | None = None,
        enforce_limits: bool = True,
    ) -> None:
        cfg = config or SimConfig()
        # the limits exchangeInfo declares: usage is always reported, refused past them when enforced
        self.limits = Limits(load_exchange_info()["rateLimits"], enforce_limits)
        self.enforce_limits = enforce_limits
        self.faults = faults or FaultPlan()
        # the [sim] matching (fill and queue models); its latency model delays each order request once, on
        # its way in (``Orders``), and the answer goes back at once over the client's connection
        self.venue = SimVenue(symbols, cfg, data, speed=speed, latency=ConstantLatency(0))
        self.keys = as_keys(api_keys)
        self.book = Orders(
            self.venue, self.now_ms, self.limits.orders, enforce_limits, self._emit, latency_model(cfg, time.time_ns())
        )
        self.tapes = {s.upper(): _Tape() for s in symbols}
        self.lists = OrderLists(self.book, self._last_trade)  # OCO lists, their stops fed the public trades
        self.wsapi = WsApi(self.book, self.lists, self.keys, self.limits, lambda: self.faults, self.now_ms)
        # the fan-out's view of the book (the same objects): fills are routed by the exchange's order key
        self.orders = self.book.orders
        self._by_cid = self.book.by_key
        self._applied = self.book.applied
        self.started_ms = self.now_ms()
        self.streams = MarketStreams(
            self.venue.symbols,
            self.venue._rules,
            self._levels,
            self._ticker_24h,
            lambda: self.faults,
            self.now_ms,
            self._next_update_id,
        )
        self._update_id = 1  # order book update id: bookTicker "u", depthUpdate "U"/"u", REST depth lastUpdateId
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
                web.get("/api/v3/rateLimit/order", self.order_count),
                web.post("/api/v3/order", self.new_order),
                web.post("/api/v3/order/test", self.test_order),
                web.delete("/api/v3/order", self.cancel_order),
                web.get("/api/v3/order", self.query_order),
                web.post("/api/v3/order/cancelReplace", self.cancel_replace),
                web.put("/api/v3/order/amend/keepPriority", self.amend_order),
                web.get("/api/v3/openOrders", self.open_orders),
                web.get("/api/v3/allOrders", self.all_orders),
                web.get("/api/v3/myTrades", self.my_trades),
                web.delete("/api/v3/openOrders", self.cancel_open_orders),
                web.post("/api/v3/orderList/oco", self.new_oco),
                web.delete("/api/v3/orderList", self.cancel_order_list),
                web.get("/api/v3/orderList", self.query_order_list),
                web.get("/api/v3/openOrderList", self.open_order_lists),
                web.get("/stream", self.streams.combined),
                web.get("/ws", self.streams.raw),
                web.get("/ws/{names:.+}", self.streams.raw),
                web.get("/ws-api/v3", self.ws_api),
            ]
        )
        self.app.on_startup.append(self._start)
        self.app.on_shutdown.append(self._close_sockets)  # before aiohttp waits for handlers to end
        self.app.on_cleanup.append(self._stop)

    @property
    def weight_limit(self) -> int:
        """Request weight allowed per minute (exchangeInfo's REQUEST_WEIGHT)."""
        return self.limits.weight_limit

    @property
    def order_limit_10s(self) -> int:
        """Unfilled orders allowed per 10 s (exchangeInfo's ORDERS)."""
        return self.limits.orders.limit_10s

    @property
    def rate_limited(self) -> int:
        """Requests refused with 429 for going over a limit (not injected faults)."""
        return self.limits.refused

    @property
    def duplicates(self) -> list[str]:
        """Moments two live liqkit orders shared a pair, side and level."""
        return self.book.duplicates

    @property
    def fills_made(self) -> int:
        """Fills of the account's orders so far."""
        return self.book.fills_made

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
        await self.streams.close()
        await self.wsapi.close_all()

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
        try:
            self.limits.check_weight(now)
        except RateLimitError as e:
            self.limits.refused += 1
            return web.json_response(
                e.body(), status=429, headers={"Retry-After": str(self.limits.weight.retry_after_s(now))}
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
        if f.kind in CANCEL_REPLACE_FAULTS:
            request[_FAULT] = f.kind  # for the cancelReplace handler to act out
        return await handler(request)  # type: ignore[no-any-return]

    @web.middleware
    async def _error_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """A handler's ``ApiError`` (auth, parameters, refusals) answered as Binance answers it; over a
        rate limit with ``Retry-After`` (and the unfilled-order count for -1015)."""
        try:
            return await handler(request)  # type: ignore[no-any-return]
        except ApiError as e:
            headers: dict[str, str] = {}
            if isinstance(e, RateLimitError):
                self.limits.refused += 1
                now = self.now_ms()
                headers = {
                    "Retry-After": str(max(1, -(-(e.retry_after_ms - now) // 1000))),
                    **self._headers(1, orders=e.code == -1015),
                }
            return web.json_response(e.body(), status=e.status, headers=headers)

    def _headers(self, weight: int, orders: bool = False) -> dict[str, str]:
        now = self.now_ms()
        out = {"X-MBX-USED-WEIGHT-1M": str(self.limits.weight.add(now, weight))}
        if orders:
            out.update(self.limits.orders.headers(now))
        return out

    def _json(self, body: Any, weight: int = 1, status: int = 200, orders: bool = False) -> web.Response:
        return web.json_response(body, status=status, headers=self._headers(weight, orders))

    async def _signed(self, request: web.Request) -> dict[str, str]:
        """The parameters of a signed request, checked against the query string and body as sent."""
        body = await request.text() if request.can_read_body else ""
        return check_rest(
            request.rel_url.raw_query_string, body, request.headers.get("X-MBX-APIKEY"), self.keys, self.now_ms()
        )

    # ---- parameters ---------------------------------------------------------------------------------
    def _symbol(self, params: Mapping[str, str], mandatory: bool = True) -> str:
        """The ``symbol`` parameter, upper-cased: -1102 when missing (if mandatory), -1121 when not served."""
        return pp.symbol(params, self.venue.exchange.index, mandatory)

    def _symbols(self, params: Mapping[str, str]) -> tuple[list[str], bool]:
        """``symbol`` or ``symbols`` (a JSON array) or neither (every symbol): (symbols, asked for one)."""
        return pp.symbols(params, self.venue.symbols)

    @staticmethod
    def _int(params: Mapping[str, str], name: str, default: int | None = None) -> int | None:
        """An integer parameter (None or ``default`` when absent); -1100 when it is not one."""
        return pp.integer(params, name, default)

    def _limit(self, params: Mapping[str, str], default: int, most: int) -> int:
        """``limit``: ``default`` when absent, at most ``most`` (more is answered as ``most``)."""
        return pp.limit(params, default, most)

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
        served = [_as_served(s) for s in doc["symbols"] if s["symbol"] in wanted]
        return self._json({**doc, "serverTime": self.now_ms(), "symbols": served}, weight=20)

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
        # while depth streams show the symbol, the book they show (the updates after it start from exactly
        # it); otherwise the live book under the current update id
        snap = self.streams.snapshot(sym, limit)
        last_id, bids, asks = snap if snap is not None else (self._update_id, *self._levels(sym, limit))
        weight = 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250
        return self._json(
            {
                "lastUpdateId": last_id,
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

    # ---- signed REST: the account's orders (``orders.Orders``) ----------------------------------------
    async def account(self, request: web.Request) -> web.Response:
        return self._json(self.book.account(await self._signed(request)), weight=20)

    async def order_count(self, request: web.Request) -> web.Response:
        return self._json(self.book.order_count(), weight=40)

    async def new_order(self, request: web.Request) -> web.Response:
        p = await self._signed(request)
        return self._json(await self.book.place(p), weight=0, orders=True)  # successes cost no weight

    async def test_order(self, request: web.Request) -> web.Response:
        p = await self._signed(request)
        weight = 20 if pp.boolean(p, "computeCommissionRates", False) else 1
        return self._json(self.book.test(p), weight=weight)

    async def cancel_order(self, request: web.Request) -> web.Response:
        p = await self._signed(request)
        return self._json(await self.book.cancel(p), weight=0)  # nor cancels

    async def cancel_replace(self, request: web.Request) -> web.Response:
        p = await self._signed(request)
        return self._json(await self.book.cancel_replace(p, request.get(_FAULT, "")), weight=0, orders=True)

    async def amend_order(self, request: web.Request) -> web.Response:
        p = await self._signed(request)
        return self._json(await self.book.amend(p), weight=4)

    async def query_order(self, request: web.Request) -> web.Response:
        return self._json(self.book.query(await self._signed(request)), weight=4)

    async def open_orders(self, request: web.Request) -> web.Response:
        p = await self._signed(request)
        return self._json(self.book.open_orders(p), weight=6 if p.get("symbol") else 80)

    async def all_orders(self, request: web.Request) -> web.Response:
        return self._json(self.book.all_orders(await self._signed(request)), weight=20)

    async def my_trades(self, request: web.Request) -> web.Response:
        return self._json(self.book.my_trades(await self._signed(request)), weight=20)

    async def cancel_open_orders(self, request: web.Request) -> web.Response:
        p = await self._signed(request)
        return self._json(await self.book.cancel_all(p), weight=0)

    async def new_oco(self, request: web.Request) -> web.Response:
        p = await self._signed(request)
        return self._json(await self.lists.place_oco(p), weight=0, orders=True)

    async def cancel_order_list(self, request: web.Request) -> web.Response:
        return self._json(await self.lists.cancel(await self._signed(request)), weight=0)

    async def query_order_list(self, request: web.Request) -> web.Response:
        return self._json(self.lists.query(await self._signed(request)), weight=4)

    async def open_order_lists(self, request: web.Request) -> web.Response:
        return self._json(self.lists.open_lists(await self._signed(request)), weight=6)

    def _last_trade(self, sym: str) -> int:
        """The last public trade's price the server played (ticks; 0 before the first)."""
        tape = self.tapes[sym]
        return tape.trades[-1][1] if tape.trades else 0

    # ---- WebSocket API (``ws_api.WsApi``) and the user data stream ------------------------------------
    async def ws_api(self, request: web.Request) -> web.WebSocketResponse:
        return await self.wsapi.serve(request)

    def _emit(self, event: dict[str, Any]) -> None:
        """A user data event from the book, sent to every subscription in order."""
        asyncio.get_running_loop().create_task(self._user_event(event))

    async def _user_event(self, event: dict[str, Any]) -> None:
        await self.wsapi.user_event(event)

    def _apply_fill(self, order: dict[str, Any], ev: UserFill) -> None:
        self.book.apply_fill(order, ev)

    # ---- the simulated exchange's events, fanned out ------------------------------------------------
    def _next_update_id(self) -> int:
        """A new order book update id: for each book event, and for each change the depth streams find."""
        self._update_id += 1
        return self._update_id

    async def _fan_out(self) -> None:
        async for ev in self.venue.events():
            if isinstance(ev, BookTop):
                await self.streams.book(ev, self._next_update_id())
            elif isinstance(ev, Trade):
                tape = self.tapes[ev.symbol]
                tape.add(ev.trade_id, ev.price, ev.qty, ev.ts_local // 1_000_000, ev.aggressor is Side.SELL)
                await self.streams.trade(ev, tape.aggs[-1])
                self.lists.on_trade(ev.symbol, ev.price)  # OCO stop legs this trade reaches trigger
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
