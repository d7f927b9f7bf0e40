"""Binance's WebSocket API (``/ws-api/v3``) on the local server: requests ``{"id", "method", "params"}``
answered ``{"id", "status", "result" | "error", "rateLimits"}``, one text frame each, in order.

Methods: ``ping``, ``time``; ``session.logon`` / ``session.status`` / ``session.logout`` (an Ed25519 key
authenticates the connection: later requests need a ``timestamp`` but no ``apiKey`` or ``signature``);
order entry (``order.place``, ``order.test``, ``order.cancel``, ``order.cancelReplace``,
``order.amend.keepPriority``, ``openOrders.cancelAll``, ``orderList.place.oco``, ``orderList.cancel``)
and queries (``orderList.status``, ``openOrderLists.status``, ``order.status``, ``openOrders.status``,
``account.status``, ``account.rateLimits.orders``), all answered by ``Orders`` as REST is; and the user
data stream (``userDataStream.subscribe`` on a logged-on connection, ``.subscribe.signature`` on any,
``.unsubscribe``, ``session.subscriptions``), its events ``{"subscriptionId", "event"}``.

Fault injection reaches each method (target ``"ws-api <method>"``): the connection cut before or after
the request is carried out, -1007 answers, delays, cancelReplace's partial outcomes, and the end of the
connection's 24 hours (``serverShutdown``, then closed); target ``"ws-api"`` acts on user data events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from liqkit.venues.binance_server import params as pp
from liqkit.venues.binance_server.auth import ED25519, ApiError, ApiKey, AuthError, check_time, check_ws, ws_text
from liqkit.venues.binance_server.faults import FaultPlan
from liqkit.venues.binance_server.limits import Limits, RateLimitError
from liqkit.venues.binance_server.order_lists import OrderLists
from liqkit.venues.binance_server.orders import Orders

UNKNOWN = {
    "code": -1007,
    "msg": "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
}


@dataclass(eq=False)
class Session:
    """One WebSocket API connection: when it opened, the API key it is logged on with, its subscriptions."""

    ws: web.WebSocketResponse
    connected_ms: int
    return_rate_limits: bool = True
    api_key: str | None = None
    authorized_ms: int | None = None
    subs: dict[int, bool] = field(default_factory=dict)  # subscription id -> made by userDataStream.subscribe

    def status(self, now_ms: int) -> dict[str, Any]:
        return {
            "apiKey": self.api_key,
            "authorizedSince": self.authorized_ms,
            "connectedSince": self.connected_ms,
            "returnRateLimits": self.return_rate_limits,
            "serverTime": now_ms,
            "userDataStream": bool(self.subs),
        }


@dataclass(frozen=True)
class Call:
    """One request as a method sees it: its connection, its params as text (``raw``: as sent, what a
    signature covers) and the fault injected into it ("" for none)."""

    session: Session
    params: dict[str, str]
    raw: dict[str, object]
    fault: str = ""


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True)
class Method:
    """A method: its handler, its request weight (``heavy``: when ``heavier`` says its params make it
    so; ``ok_weight`` when it succeeds: order entry costs 0 since 2026-04-02), whether it is signed, and
    whether its answer shows the unfilled-order count."""

    handler: Handler
    weight: int
    signed: bool = False
    ok_weight: int | None = None
    orders: bool = False
    heavy: int = 0
    heavier: Callable[[Mapping[str, str]], bool] | None = None

    def cost(self, params: Mapping[str, str], ok: bool) -> int:
        if ok and self.ok_weight is not None:
            return self.ok_weight
        return self.heavy if self.heavier is not None and self.heavier(params) else self.weight


def _no_symbol(p: Mapping[str, str]) -> bool:
    return not p.get("symbol")


def _with_commissions(p: Mapping[str, str]) -> bool:
    return p.get("computeCommissionRates", "").lower() == "true"


class WsApi:
    """The WebSocket API of one server: its connections, their sessions and user data subscriptions."""

    def __init__(
        self,
        orders: Orders,
        lists: OrderLists,
        keys: Mapping[str, ApiKey],
        limits: Limits,
        faults: Callable[[], FaultPlan],
        clock: Callable[[], int],
    ) -> None:
        self.orders = orders
        self.keys = keys
        self.limits = limits
        self.faults = faults  # the server's plan (a scenario may swap it)
        self.clock = clock
        self.sessions: set[Session] = set()
        self.user_subs: dict[int, Session] = {}
        self._next_sub = 0
        o = orders
        self.methods: dict[str, Method] = {
            "ping": Method(self._ping, 1),
            "time": Method(self._time, 1),
            "session.logon": Method(self._logon, 2),
            "session.status": Method(self._session_status, 2),
            "session.logout": Method(self._logout, 2),
            "session.subscriptions": Method(self._subscriptions, 2),
            "userDataStream.subscribe": Method(self._subscribe, 2),
            "userDataStream.subscribe.signature": Method(self._subscribe_signature, 2),
            "userDataStream.unsubscribe": Method(self._unsubscribe, 2),
            "order.place": Method(_call(o.place), 1, signed=True, ok_weight=0, orders=True),
            "order.test": Method(self._test, 1, signed=True, heavy=20, heavier=_with_commissions),
            "order.cancel": Method(_call(o.cancel), 1, signed=True, ok_weight=0),
            "order.cancelReplace": Method(self._cancel_replace, 1, signed=True, ok_weight=0, orders=True),
            "order.amend.keepPriority": Method(_call(o.amend), 4, signed=True),
            "openOrders.cancelAll": Method(_call(o.cancel_all), 1, signed=True, ok_weight=0),
            "orderList.place.oco": Method(_call(lists.place_oco), 1, signed=True, ok_weight=0, orders=True),
            "orderList.cancel": Method(_call(lists.cancel), 1, signed=True, ok_weight=0),
            "orderList.status": Method(_sync(lists.query), 4, signed=True),
            "openOrderLists.status": Method(_sync(lists.open_lists), 6, signed=True),
            "order.status": Method(_sync(o.query), 4, signed=True),
            "openOrders.status": Method(_sync(o.open_orders), 6, signed=True, heavy=80, heavier=_no_symbol),
            "account.status": Method(_sync(o.account), 20, signed=True),
            "account.rateLimits.orders": Method(_sync(lambda p: o.order_count()), 40, signed=True),
        }

    # ---- connections ------------------------------------------------------------------------------
    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        """One connection: its requests answered in order until it closes."""
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        now = self.clock()
        session = Session(ws, now, request.query.get("returnRateLimits", "true").lower() != "false")
        self.limits.weight.add(now, 2)  # connecting costs 2
        self.sessions.add(session)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                reply = await self.handle(session, msg.data)
                if reply is None:  # the connection was cut (a fault)
                    break
                await ws.send_str(json.dumps(reply))
        finally:
            self.sessions.discard(session)
            for sub in session.subs:
                self.user_subs.pop(sub, None)
        return ws

    async def close_all(self) -> None:
        for s in list(self.sessions):
            await s.ws.close(code=1001, message=b"server shutdown")

    async def expire(self, session: Session) -> None:
        """The connection's 24 hours are over: ``serverShutdown``, then Binance closes it."""
        await session.ws.send_str(json.dumps({"event": {"e": "serverShutdown", "E": self.clock()}}))
        await session.ws.close()

    # ---- requests ---------------------------------------------------------------------------------
    async def handle(self, session: Session, text: str) -> dict[str, Any] | None:
        """The answer to one request frame (None: the connection was cut instead)."""
        try:
            req = json.loads(text, parse_float=str)  # a number's text as sent: what its signature covers
            rid, name, raw = req.get("id"), str(req["method"]), req.get("params", {})
            if not isinstance(raw, dict):
                raise ValueError
        except (ValueError, KeyError, AttributeError, TypeError):
            return {"id": None, "status": 400, "error": {"code": -1102, "msg": "Malformed request."}}
        name = name.removeprefix("v3/")
        method = self.methods.get(name)
        if method is None:
            return {"id": rid, "status": 400, "error": {"code": -1100, "msg": f"Unknown method {name}."}}
        params = {k: ws_text(v) for k, v in raw.items()}
        show = session.return_rate_limits
        fault = self.faults().pick(f"ws-api {name}")
        kind = fault.kind if fault is not None else ""
        if kind == "drop":
            await session.ws.close()
            return None
        if kind == "session-expire":
            await self.expire(session)
            return None
        if kind == "delay" and fault is not None:
            await asyncio.sleep(fault.delay_ms / 1000)
        if kind == "-1007-not-placed":
            return {"id": rid, "status": 408, "error": UNKNOWN}
        now = self.clock()
        try:
            show = pp.boolean(params, "returnRateLimits", session.return_rate_limits)
            self.limits.check_weight(now)
            if method.signed:
                self._authenticate(session, raw, params)
            result = await method.handler(Call(session, params, raw, kind))
            reply: dict[str, Any] = {"id": rid, "status": 200, "result": result}
        except ApiError as e:
            if isinstance(e, RateLimitError):
                self.limits.refused += 1
                e = ApiError(e.code, e.msg, e.status, {"serverTime": now, "retryAfter": e.retry_after_ms})
            reply = {"id": rid, "status": e.status, "error": e.body()}
        self.limits.weight.add(self.clock(), method.cost(params, "result" in reply))
        if kind == "drop-after":
            await session.ws.close()
            return None
        if kind == "-1007-placed":
            return {"id": rid, "status": 408, "error": UNKNOWN}
        if show:
            now = self.clock()
            reply["rateLimits"] = (self.limits.orders.rate_limits(now) if method.orders else []) + [
                self.limits.weight_entry(now)
            ]
        return reply

    def _authenticate(self, session: Session, raw: Mapping[str, object], params: Mapping[str, str]) -> None:
        """A signed request: its own signature (any key), or the session's logon (a timestamp still needed)."""
        if "signature" in raw:
            check_ws(raw, self.keys, self.clock())
            return
        if session.api_key is None:
            raise pp.missing("apiKey")
        if session.api_key not in self.keys:  # the key went away: the session is revoked
            session.api_key = session.authorized_ms = None
            raise AuthError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        check_time(params, self.clock())

    # ---- methods ----------------------------------------------------------------------------------
    async def _ping(self, c: Call) -> dict[str, Any]:
        return {}

    async def _time(self, c: Call) -> dict[str, Any]:
        return {"serverTime": self.clock()}

    async def _logon(self, c: Call) -> dict[str, Any]:
        s = c.session
        name = check_ws(c.raw, self.keys, self.clock())
        if self.keys[name].kind != ED25519:
            raise AuthError(
                -1022,
                "Signature for this request is not valid. (session.logon takes an Ed25519 key only: "
                "sign each request with this key instead)",
            )
        s.api_key, s.authorized_ms = name, self.clock()
        return s.status(self.clock())

    async def _session_status(self, c: Call) -> dict[str, Any]:
        return c.session.status(self.clock())

    async def _logout(self, c: Call) -> dict[str, Any]:
        s = c.session
        for sub in [sub for sub, logon in s.subs.items() if logon]:  # only the logon's subscription ends
            await self._end(s, sub)
        s.api_key = s.authorized_ms = None
        return s.status(self.clock())

    async def _subscriptions(self, c: Call) -> list[dict[str, int]]:
        return [{"subscriptionId": sub} for sub in c.session.subs]

    def _new_sub(self, s: Session, logon: bool) -> dict[str, int]:
        sub = self._next_sub
        self._next_sub += 1
        s.subs[sub] = logon
        self.user_subs[sub] = s
        return {"subscriptionId": sub}

    async def _subscribe(self, c: Call) -> dict[str, int]:
        s = c.session
        if s.api_key is None:
            raise ApiError(-1002, "You are not authorized to execute this request.", 401)
        if any(s.subs.values()):
            raise ApiError(-2035, "User Data Stream subscription already active.")
        return self._new_sub(s, logon=True)

    async def _subscribe_signature(self, c: Call) -> dict[str, int]:
        check_ws(c.raw, self.keys, self.clock())
        return self._new_sub(c.session, logon=False)

    async def _unsubscribe(self, c: Call) -> dict[str, Any]:
        s = c.session
        sub = pp.integer(c.params, "subscriptionId")
        for one in list(s.subs) if sub is None else [sub] if sub in s.subs else []:
            await self._end(s, one)
        return {}

    async def _end(self, s: Session, sub: int) -> None:
        """End a subscription: ``eventStreamTerminated`` on it, before the answer of the request that ended it."""
        s.subs.pop(sub, None)
        self.user_subs.pop(sub, None)
        if not s.ws.closed:
            event = {"e": "eventStreamTerminated", "E": self.clock()}
            await s.ws.send_str(json.dumps({"subscriptionId": sub, "event": event}))

    async def _test(self, c: Call) -> dict[str, Any]:
        return self.orders.test(c.params)

    async def _cancel_replace(self, c: Call) -> dict[str, Any]:
        return await self.orders.cancel_replace(c.params, c.fault)

    # ---- user data --------------------------------------------------------------------------------
    async def user_event(self, event: dict[str, Any]) -> None:
        """A user data event to every subscription (faults of target ``"ws-api"`` act here); a connection
        that closes meanwhile just misses it, as on Binance."""
        for sub, s in list(self.user_subs.items()):
            if not s.ws.closed:
                with contextlib.suppress(ConnectionError):
                    await self._deliver(sub, s, event)

    async def _deliver(self, sub: int, s: Session, event: dict[str, Any]) -> None:
        f = self.faults().pick("ws-api")
        kind = f.kind if f is not None else ""
        if kind == "server-shutdown":
            shutdown = {"subscriptionId": sub, "event": {"e": "serverShutdown", "E": self.clock()}}
            await s.ws.send_str(json.dumps(shutdown))
            await s.ws.close()
        elif kind == "session-expire":
            await self.expire(s)
        elif kind == "drop":
            await s.ws.close()  # the event is lost with the connection, as on a real drop
        else:
            await s.ws.send_str(json.dumps({"subscriptionId": sub, "event": event}))


def _call(fn: Callable[[dict[str, str]], Awaitable[Any]]) -> Handler:
    """A method answered by an ``Orders`` coroutine of the request's params."""

    async def handler(c: Call) -> Any:
        return await fn(c.params)

    return handler


def _sync(fn: Callable[[dict[str, str]], Any]) -> Handler:
    """A method answered by an ``Orders`` function of the request's params."""

    async def handler(c: Call) -> Any:
        return fn(c.params)

    return handler
