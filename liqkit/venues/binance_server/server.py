"""A Binance-compatible spot exchange on 127.0.0.1: the simulated exchange behind Binance's protocol.

REST under ``/api/v3/`` (ping, time, exchangeInfo, ticker/bookTicker, depth, account, order
place/cancel/query, openOrders query/cancel), market streams under ``/stream?streams=`` (combined)
and ``/ws/<name>`` (raw), and the WebSocket API under ``/ws-api/v3`` with the user data stream
(``userDataStream.subscribe.signature`` / ``userDataStream.unsubscribe``). Signed requests are
checked (HMAC-SHA256, -1022; timestamp and recvWindow, -1021); orders go through the same filters
and answers as the simulated exchange (-1013, -2010, -2011, -2013), in Binance's JSON shapes.
Any ordinary Binance spot client can point at it: a local testnet that never resets.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from liqkit.data.feed import MarketData
from liqkit.domain.config import SimConfig
from liqkit.domain.errors import OrderRejected, UnknownOrderError
from liqkit.domain.rules import load_exchange_info
from liqkit.domain.types import BalanceUpdate, BookTop, Side, Trade
from liqkit.engine.intents import Place
from liqkit.engine.ports import UserFill, UserOrder
from liqkit.venues.binance_server.auth import AuthError, check_rest, check_time, check_ws
from liqkit.venues.binance_server.faults import FaultPlan
from liqkit.venues.sim.venue import SimVenue


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
        self.orders: dict[str, dict[str, Any]] = {}  # Binance order objects by client id
        self.streams: list[tuple[web.WebSocketResponse, set[str], bool]] = []
        self.user_subs: dict[int, web.WebSocketResponse] = {}
        self.ws_api_conns: set[web.WebSocketResponse] = set()
        self.stalled: set[web.WebSocketResponse] = set()  # stream connections a "stall" fault silenced
        self._next_sub = 0
        self._update_id = 1  # order book update id: bookTicker "u", depthUpdate "U"/"u", REST depth lastUpdateId
        self._last_top: dict[str, tuple[int, int]] = {}
        self._weight = _Window(60_000)  # request weight used
        self._pump: asyncio.Task[None] | None = None
        self.app = web.Application(middlewares=[self._fault_middleware])
        self.app.add_routes(
            [
                web.get("/api/v3/ping", self.ping),
                web.get("/api/v3/time", self.server_time),
                web.get("/api/v3/exchangeInfo", self.exchange_info),
                web.get("/api/v3/ticker/bookTicker", self.book_ticker),
                web.get("/api/v3/depth", self.depth),
                web.get("/api/v3/account", self.account),
                web.post("/api/v3/order", self.new_order),
                web.delete("/api/v3/order", self.cancel_order),
                web.get("/api/v3/order", self.query_order),
                web.get("/api/v3/openOrders", self.open_orders),
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
        body = await request.text() if request.can_read_body else ""
        total = "&".join(x for x in (request.query_string, body) if x)
        return check_rest(total, request.headers.get("X-MBX-APIKEY"), self.keys, self.now_ms())

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

    async def book_ticker(self, request: web.Request) -> web.Response:
        sym = request.query.get("symbol", "").upper()
        bk = self._book(sym)
        if bk is None:
            return _err(-1121, "Invalid symbol.")
        r = bk.rules
        return self._json(
            {
                "symbol": sym,
                "bidPrice": r.format_price(bk.bid),
                "bidQty": r.format_qty(bk.bid_qty),
                "askPrice": r.format_price(bk.ask),
                "askQty": r.format_qty(bk.ask_qty),
            },
            weight=2,
        )

    async def depth(self, request: web.Request) -> web.Response:
        sym = request.query.get("symbol", "").upper()
        bk = self._book(sym)
        if bk is None:
            return _err(-1121, "Invalid symbol.")
        r = bk.rules
        return self._json(
            {
                "lastUpdateId": self._update_id,
                "bids": [[r.format_price(bk.bid), r.format_qty(bk.bid_qty)]],
                "asks": [[r.format_price(bk.ask), r.format_qty(bk.ask_qty)]],
            },
            weight=5,
        )

    # ---- signed REST ------------------------------------------------------------------------------
    async def account(self, request: web.Request) -> web.Response:
        try:
            await self._signed(request)
        except AuthError as e:
            return _err(e.code, e.msg, e.status)
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
        try:
            p = await self._signed(request)
        except AuthError as e:
            return _err(e.code, e.msg, e.status)
        sym = p.get("symbol", "").upper()
        bk = self._book(sym)
        if bk is None:
            return _err(-1121, "Invalid symbol.")
        kind = p.get("type", "")
        if kind not in ("LIMIT", "LIMIT_MAKER"):
            return _err(-1116, "Invalid orderType.")
        if kind == "LIMIT_MAKER" and "timeInForce" in p:
            return _err(-1106, "Parameter 'timeInForce' sent when not required.")
        if kind == "LIMIT" and p.get("timeInForce") != "GTC":
            return _err(-1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
        r = bk.rules
        try:
            side = Side.parse(p.get("side", ""))
            price, qty = r.price_to_ticks(p["price"]), r.qty_to_steps(p["quantity"], exact=True)
        except (KeyError, ValueError, ArithmeticError):
            return _err(-1013, "Filter failure: PRICE_FILTER")
        cid = p.get("newClientOrderId") or f"sim-{time.time_ns()}"
        refused = self._count_order()
        if refused is not None:
            return refused
        self._check_duplicate(sym, side, cid)
        try:
            await self.venue.place(Place(sym, cid, side, price, qty, kind == "LIMIT_MAKER", 0))
        except OrderRejected as e:
            return _err(e.code or -2010, str(e).split("] ", 1)[-1])
        o = self.venue.exchange.orders.get(cid)
        order = self.orders[cid] = {
            "symbol": sym,
            "orderId": o.order_id if o else len(self.orders) + 1,
            "orderListId": -1,
            "clientOrderId": cid,
            "price": r.format_price(price),
            "origQty": r.format_qty(qty),
            "executedQty": "0",
            "cummulativeQuoteQty": "0",
            "status": "NEW",
            "timeInForce": "GTC",
            "type": kind,
            "side": side.name,
            "stopPrice": "0",
            "icebergQty": "0",
            "time": self.now_ms(),
            "updateTime": self.now_ms(),
            "isWorking": True,
            "workingTime": self.now_ms(),
            "origQuoteOrderQty": "0",
            "selfTradePreventionMode": "NONE",
            "_filled": 0,
            "_quote": Decimal(0),
            "_trades": [],
        }
        self._report(order, "NEW")
        return self._json(
            {**self._public(order), "transactTime": self.now_ms(), "fills": []}, weight=0, orders=True
        )  # placements that succeed cost no weight (2026-04-02)

    async def cancel_order(self, request: web.Request) -> web.Response:
        try:
            p = await self._signed(request)
        except AuthError as e:
            return _err(e.code, e.msg, e.status)
        cid = p.get("origClientOrderId", "")
        order = self.orders.get(cid)
        try:
            await self.venue.cancel(p.get("symbol", "").upper(), cid)
        except UnknownOrderError:
            return _err(-2011, "Unknown order sent.")
        assert order is not None
        order["status"] = "CANCELED"
        self._report(order, "CANCELED")
        return self._json(
            {**self._public(order), "origClientOrderId": cid, "transactTime": self.now_ms()}, weight=0
        )  # nor cancels

    async def query_order(self, request: web.Request) -> web.Response:
        try:
            p = await self._signed(request)
        except AuthError as e:
            return _err(e.code, e.msg, e.status)
        order = self.orders.get(p.get("origClientOrderId", ""))
        if order is None:
            return _err(-2013, "Order does not exist.")
        return self._json(self._public(order), weight=4)

    async def open_orders(self, request: web.Request) -> web.Response:
        try:
            p = await self._signed(request)
        except AuthError as e:
            return _err(e.code, e.msg, e.status)
        sym = p.get("symbol", "").upper()
        live = [
            self._public(o)
            for o in self.orders.values()
            if o["status"] in ("NEW", "PARTIALLY_FILLED") and (not sym or o["symbol"] == sym)
        ]
        return self._json(live, weight=6)

    async def my_trades(self, request: web.Request) -> web.Response:
        try:
            p = await self._signed(request)
        except AuthError as e:
            return _err(e.code, e.msg, e.status)
        sym, oid = p.get("symbol", "").upper(), p.get("orderId")
        trades = [
            t
            for o in self.orders.values()
            if o["symbol"] == sym and (oid is None or str(o["orderId"]) == oid)
            for t in o["_trades"]
        ]
        return self._json(sorted(trades, key=lambda t: t["id"]), weight=20)

    async def cancel_open_orders(self, request: web.Request) -> web.Response:
        try:
            p = await self._signed(request)
        except AuthError as e:
            return _err(e.code, e.msg, e.status)
        sym = p.get("symbol", "").upper()
        ids = await self.venue.cancel_all(sym, own_only=False)
        out = []
        for cid in ids:
            order = self.orders[cid]
            order["status"] = "CANCELED"
            self._report(order, "CANCELED")
            out.append({**self._public(order), "origClientOrderId": cid})
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

    def _report(self, order: dict[str, Any], exec_type: str, fill: UserFill | None = None) -> None:
        now = self.now_ms()
        ev = {
            "e": "executionReport",
            "E": now,
            "s": order["symbol"],
            "c": order["clientOrderId"],
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
                order = self.orders.get(ev.client_id)
                if order is None:
                    continue
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
                        "quoteQty": format(r.price(ev.price) * r.qty(ev.qty), "f"),
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
                order["cummulativeQuoteQty"] = format(order["_quote"], "f")
                order["status"] = "FILLED" if order["executedQty"] == order["origQty"] else "PARTIALLY_FILLED"
                order["updateTime"] = self.now_ms()
                self._report(order, "TRADE", ev)
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
