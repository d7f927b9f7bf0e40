"""sim-server's WebSocket API in raw JSON frames: Binance's envelopes, order entry and queries, sessions
logged on with an Ed25519 key, cancelReplace's outcomes, keepPriority amends, the unfilled-order count,
the signatures of the three key kinds, and every fault kind a method can be given.

Requests are built and signed here (HMAC, Ed25519, RSA) with the standard library and ``cryptography``,
sent over aiohttp to the server on 127.0.0.1. Where a test looks at the simulated exchange's state it
stops the replay first (``markets.settle``), so the market cannot move under it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import pytest
import yarl
from binance.exceptions import BinanceAPIException
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from markets import settle, still_feed
from processes import sim_server, until

from liqkit.domain.config import SimConfig
from liqkit.domain.errors import ConfigError
from liqkit.venues.binance import client_class, close_client
from liqkit.venues.binance_server.auth import public_key
from liqkit.venues.binance_server.faults import Fault, FaultPlan, parse_faults
from liqkit.venues.binance_server.server import BinanceServer

D = Decimal
HMAC_KEY, SECRET = "ws-hmac-key-0123456789", "ws-hmac-secret-abcdefghijklmnop"
ED_KEY, RSA_KEY = "ws-ed25519-key-0123456789", "ws-rsa-key-0123456789"
ED_PRIV = ed25519.Ed25519PrivateKey.generate()
RSA_PRIV = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_ED_PRIV = ed25519.Ed25519PrivateKey.generate()  # a key the server does not know
BID, ASK = "60000.00", "60000.01"  # the still market's touch
FAR = "59000.00"  # a bid far below it: rests, never filled


def pem(private: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def text(v: object) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def payload(params: dict[str, Any]) -> str:
    """Binance's WebSocket API signature payload: the params sorted by name, ``name=value`` joined by ``&``."""
    return "&".join(f"{k}={text(v)}" for k, v in sorted(params.items()))


def now_ms() -> int:
    return int(time.time() * 1000)


def signed(params: dict[str, Any] | None = None, key: str = HMAC_KEY, private: Any = None) -> dict[str, Any]:
    """``params`` with apiKey, timestamp and signature: HMAC hex with ``SECRET`` (no ``private``), else base64
    of ``private``'s Ed25519 or RSA (PKCS#1 v1.5, SHA-256) signature."""
    p = {**(params or {}), "apiKey": key, "timestamp": now_ms()}
    data = payload(p).encode()
    if private is None:
        p["signature"] = hmac.new(SECRET.encode(), data, hashlib.sha256).hexdigest()
    elif isinstance(private, rsa.RSAPrivateKey):
        p["signature"] = base64.b64encode(private.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()
    else:
        p["signature"] = base64.b64encode(private.sign(data)).decode()
    return p


def ed(params: dict[str, Any] | None = None, private: ed25519.Ed25519PrivateKey = ED_PRIV) -> dict[str, Any]:
    return signed(params, ED_KEY, private)


class Closed(Exception):
    """The server closed the connection instead of answering."""


class Conn:
    """One WebSocket API connection: requests answered by id, everything else kept as events."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self._n = 0

    async def _frame(self) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=60)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise Closed(msg.type)
        return json.loads(msg.data)  # type: ignore[no-any-return]

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._n += 1
        rid = f"req-{self._n}"
        frame: dict[str, Any] = {"id": rid, "method": method}
        if params is not None:
            frame["params"] = params
        await self.ws.send_str(json.dumps(frame))
        while True:
            m = await self._frame()
            if m.get("id") == rid:
                return m
            self.events.append(m)

    async def event(self, pred: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first event (kept or still to come) that ``pred`` accepts."""
        while True:
            for e in self.events:
                if pred(e):
                    return e
            self.events.append(await self._frame())


class Api:
    """Raw connections and signed REST requests to one server."""

    def __init__(self, session: aiohttp.ClientSession, url: str, server: BinanceServer) -> None:
        self.session, self.url, self.server = session, url, server

    async def connect(self, query: str = "") -> Conn:
        return Conn(await self.session.ws_connect(self.url.replace("http://", "ws://") + "/ws-api/v3" + query))

    async def rest(
        self, method: str, path: str, params: dict[str, Any], key: str = HMAC_KEY, private: Any = None
    ) -> tuple[int, Any, Any]:
        """A signed REST request, parameters in the query string, signature percent-encoded."""
        q = urlencode({**params, "timestamp": now_ms()})
        data = q.encode()
        if private is None:
            sig = hmac.new(SECRET.encode(), data, hashlib.sha256).hexdigest()
        elif isinstance(private, rsa.RSAPrivateKey):
            sig = base64.b64encode(private.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()
        else:
            sig = base64.b64encode(private.sign(data)).decode()
        url = yarl.URL(f"{self.url}{path}?{q}&signature={quote(sig, safe='')}", encoded=True)
        async with self.session.request(method, url, headers={"X-MBX-APIKEY": key}) as r:
            return r.status, await r.json(), r.headers


def run(
    scenario: Callable[[BinanceServer, Api], Awaitable[Any]],
    faults: FaultPlan | None = None,
    fill_model: str = "realistic",
    speed: float = 1.0,
) -> Any:
    async def main() -> Any:
        sim = SimConfig(balances={"BTC": D(2), "USDT": D(200_000)}, fill_model=fill_model)
        keys = {HMAC_KEY: SECRET, ED_KEY: public_key(pem(ED_PRIV)), RSA_KEY: public_key(pem(RSA_PRIV))}
        server = BinanceServer(["BTCUSDT"], keys, sim, {"BTCUSDT": still_feed(600.0)}, speed=speed, faults=faults)
        runner, url = await server.listen()
        try:
            await until(lambda: server._book("BTCUSDT").bid, 60, "a first book")
            async with aiohttp.ClientSession() as session:
                return await scenario(server, Api(session, url, server))
        finally:
            await runner.cleanup()

    return asyncio.run(main())


def limit_maker(price: str = FAR, qty: str = "0.001", **more: Any) -> dict[str, Any]:
    return {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "price": price, "quantity": qty, **more}


def day_count(reply: dict[str, Any]) -> int:
    """The unfilled-order count of the day in a reply's rateLimits."""
    return next(r["count"] for r in reply["rateLimits"] if r["rateLimitType"] == "ORDERS" and r["interval"] == "DAY")


# ---- envelopes and order entry --------------------------------------------------------------------------
def test_order_entry_and_queries_answer_in_binances_envelopes():
    async def scenario(server: BinanceServer, api: Api) -> None:
        c = await api.connect()
        pong = await c.call("ping")
        assert (pong["status"], pong["result"]) == (200, {}) and pong["id"] == "req-1"
        assert [r["rateLimitType"] for r in pong["rateLimits"]] == ["REQUEST_WEIGHT"]
        assert abs((await c.call("v3/time"))["result"]["serverTime"] - now_ms()) < 5_000  # "v3/" prefix allowed

        placed = await c.call(
            "order.place", signed(limit_maker(newClientOrderId="ws:raw/1", newOrderRespType="RESULT"))
        )
        assert placed["status"] == 200, placed
        order = placed["result"]
        assert (order["clientOrderId"], order["status"], order["type"], order["price"]) == (
            "ws:raw/1",
            "NEW",
            "LIMIT_MAKER",
            "59000",
        )
        assert (order["timeInForce"], order["selfTradePreventionMode"]) == ("GTC", "NONE") and "fills" not in order
        kinds = [(r["rateLimitType"], r["interval"], r["intervalNum"]) for r in placed["rateLimits"]]
        assert kinds == [("ORDERS", "SECOND", 10), ("ORDERS", "DAY", 1), ("REQUEST_WEIGHT", "MINUTE", 1)]
        assert day_count(placed) == 1

        by_id = await c.call("order.status", signed({"symbol": "BTCUSDT", "orderId": order["orderId"]}))
        by_cid = await c.call("order.status", signed({"symbol": "BTCUSDT", "origClientOrderId": "ws:raw/1"}))
        assert by_id["result"] == by_cid["result"] and by_id["result"]["status"] == "NEW"
        assert by_id["result"]["origQty"] == "0.001" and by_id["result"]["isWorking"] is True
        listed = await c.call("openOrders.status", signed({"symbol": "BTCUSDT"}))
        assert [o["orderId"] for o in listed["result"]] == [order["orderId"]]
        account = (await c.call("account.status", signed()))["result"]
        usdt = next(b for b in account["balances"] if b["asset"] == "USDT")
        assert D(usdt["locked"]) == D(FAR) * D("0.001")
        nonzero = (await c.call("account.status", signed({"omitZeroBalances": True})))["result"]["balances"]
        assert {b["asset"] for b in nonzero} == {"BTC", "USDT"}

        # rate limits hidden per request, or per connection from its URL
        quiet = await c.call(
            "order.status", signed({"symbol": "BTCUSDT", "orderId": order["orderId"], "returnRateLimits": False})
        )
        assert "rateLimits" not in quiet and quiet["status"] == 200
        c2 = await api.connect("?returnRateLimits=false")
        assert "rateLimits" not in await c2.call("ping")
        assert "rateLimits" in await c2.call("ping", {"returnRateLimits": True})

        cancelled = await c.call("order.cancel", signed({"symbol": "BTCUSDT", "origClientOrderId": "ws:raw/1"}))
        assert cancelled["result"]["status"] == "CANCELED" and cancelled["result"]["origClientOrderId"] == "ws:raw/1"
        again = await c.call("order.cancel", signed({"symbol": "BTCUSDT", "orderId": order["orderId"]}))
        assert (again["status"], again["error"]) == (400, {"code": -2011, "msg": "Unknown order sent."})
        assert "rateLimits" in again  # errors carry them too

        # order.test checks without placing; timeInForce and STP modes are read, echoed, refused as Binance does
        assert (await c.call("order.test", signed(limit_maker())))["result"] == {}
        rates = (await c.call("order.test", signed(limit_maker(computeCommissionRates=True))))["result"]
        assert set(rates) == {
            "standardCommissionForOrder",
            "specialCommissionForOrder",
            "taxCommissionForOrder",
            "discount",
        }
        lim = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "price": FAR, "quantity": "0.001"}
        refusals = [
            ({**lim, "timeInForce": "GTD"}, -1115, "Invalid timeInForce."),
            (lim, -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."),
            ({**lim, "timeInForce": "GTC", "selfTradePreventionMode": "TRANSFER"}, -1013,
             "This symbol does not allow the specified self-trade prevention mode."),
            ({**lim, "timeInForce": "GTC", "selfTradePreventionMode": "NEVER"}, -1100,
             "Illegal characters found in parameter 'selfTradePreventionMode'; legal range is "
             "'NONE, EXPIRE_TAKER, EXPIRE_MAKER, EXPIRE_BOTH, DECREMENT, TRANSFER'."),
        ]  # fmt: skip
        for params, code, msg in refusals:
            for method in ("order.test", "order.place"):
                reply = await c.call(method, signed(params))
                assert reply["error"] == {"code": code, "msg": msg}, (method, params, reply)
        assert (await c.call("openOrders.status", signed({"symbol": "BTCUSDT"})))["result"] == []
        # IOC and FOK far from the market: nothing fills, nothing rests, each expired with Binance's reason
        for tif, why in (("IOC", "UNFILLED_IOC_QUANTITY_EXPIRED"), ("FOK", "UNFILLED_FOK_ORDER_EXPIRED")):
            r = await c.call("order.place", signed({**lim, "timeInForce": tif, "newOrderRespType": "RESULT"}))
            res = r["result"]
            assert (res["status"], res["timeInForce"], Decimal(res["executedQty"])) == ("EXPIRED", tif, 0), r
            assert r["result"].get("expiryReason") == why, r
        assert (await c.call("openOrders.status", signed({"symbol": "BTCUSDT"})))["result"] == []
        for stp in ("EXPIRE_MAKER", "EXPIRE_TAKER", "EXPIRE_BOTH", "DECREMENT"):
            r = await c.call("order.place", signed({**lim, "timeInForce": "GTC", "selfTradePreventionMode": stp}))
            assert r["result"]["selfTradePreventionMode"] == stp, r
            status = await c.call("order.status", signed({"symbol": "BTCUSDT", "orderId": r["result"]["orderId"]}))
            assert status["result"]["selfTradePreventionMode"] == stp and status["result"]["timeInForce"] == "GTC"
        gone = await c.call("openOrders.cancelAll", signed({"symbol": "BTCUSDT"}))
        assert [o["status"] for o in gone["result"]] == ["CANCELED"] * 4

        # the request weights: heavier for every symbol's open orders, 0 for an order placed
        async def weight_of(method: str, params: dict[str, Any]) -> int:
            while True:  # measured within one minute: the weight's window
                first = await c.call("time")
                used = (await c.call(method, signed(params)))["rateLimits"][-1]["count"]
                last = await c.call("time")
                if first["result"]["serverTime"] // 60_000 == last["result"]["serverTime"] // 60_000:
                    return used - first["rateLimits"][-1]["count"]

        assert await weight_of("openOrders.status", {"symbol": "BTCUSDT"}) == 6
        assert await weight_of("openOrders.status", {}) == 80
        assert await weight_of("order.test", {**lim, "timeInForce": "GTC", "computeCommissionRates": True}) == 20
        assert await weight_of("order.place", {**lim, "timeInForce": "GTC"}) == 0

        # requests Binance would refuse before looking at them
        await c.ws.send_str("{not json")
        assert (await c._frame())["error"]["code"] == -1102
        unknown = await c.call("order.explode", {})
        assert (unknown["status"], unknown["error"]["code"]) == (400, -1100)
        unsigned = await c.call("order.place", limit_maker())
        assert unsigned["error"] == {
            "code": -1102,
            "msg": "Mandatory parameter 'apiKey' was not sent, was empty/null, or malformed.",
        }

    run(scenario)


# ---- sessions and keys ----------------------------------------------------------------------------------
def test_session_logon_with_ed25519_then_requests_without_signatures_and_user_data_on_the_connection():
    async def scenario(server: BinanceServer, api: Api) -> None:
        c = await api.connect()
        before = (await c.call("session.status"))["result"]
        assert (before["apiKey"], before["authorizedSince"], before["userDataStream"]) == (None, None, False)
        logon = await c.call("session.logon", ed())
        assert logon["status"] == 200, logon
        assert set(logon["result"]) == {
            "apiKey", "authorizedSince", "connectedSince", "returnRateLimits", "serverTime", "userDataStream",
        }  # fmt: skip
        assert logon["result"]["apiKey"] == ED_KEY and logon["result"]["authorizedSince"] >= before["connectedSince"]

        sub = await c.call("userDataStream.subscribe")
        assert sub["status"] == 200 and isinstance(sub["result"]["subscriptionId"], int)
        sid = sub["result"]["subscriptionId"]
        assert (await c.call("session.status"))["result"]["userDataStream"] is True
        assert (await c.call("session.subscriptions"))["result"] == [{"subscriptionId": sid}]
        twice = await c.call("userDataStream.subscribe")
        assert twice["error"] == {"code": -2035, "msg": "User Data Stream subscription already active."}

        # logged on: a timestamp, no apiKey or signature
        placed = await c.call("order.place", {**limit_maker(newClientOrderId="ed:1"), "timestamp": now_ms()})
        assert placed["status"] == 200 and placed["result"]["clientOrderId"] == "ed:1"
        report = await c.event(lambda e: e.get("event", {}).get("e") == "executionReport")
        assert report["subscriptionId"] == sid and (report["event"]["c"], report["event"]["x"]) == ("ed:1", "NEW")
        no_time = await c.call("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "ed:1"})
        assert no_time["error"]["code"] == -1102 and "'timestamp'" in no_time["error"]["msg"]
        # an ad hoc signature with another key still works on the same connection
        hmac_status = await c.call("order.status", signed({"symbol": "BTCUSDT", "origClientOrderId": "ed:1"}))
        assert hmac_status["result"]["status"] == "NEW"

        out = await c.call("session.logout")
        assert (out["result"]["apiKey"], out["result"]["userDataStream"]) == (None, False)
        ended = await c.event(lambda e: e.get("event", {}).get("e") == "eventStreamTerminated")
        assert ended["subscriptionId"] == sid
        refused = await c.call(
            "order.status", {"symbol": "BTCUSDT", "origClientOrderId": "ed:1", "timestamp": now_ms()}
        )
        assert refused["error"]["code"] == -1102 and "'apiKey'" in refused["error"]["msg"]
        not_on = await c.call("userDataStream.subscribe")
        assert (not_on["status"], not_on["error"]["code"]) == (401, -1002)

        # subscribe.signature works with any key, on any connection; unsubscribe ends it with eventStreamTerminated
        c2 = await api.connect()
        sub2 = (await c2.call("userDataStream.subscribe.signature", signed()))["result"]["subscriptionId"]
        await c2.call("order.cancel", signed({"symbol": "BTCUSDT", "origClientOrderId": "ed:1"}))
        cancel_report = await c2.event(lambda e: e.get("event", {}).get("x") == "CANCELED")
        assert cancel_report["subscriptionId"] == sub2 and cancel_report["event"]["C"] == "ed:1"
        assert (await c2.call("userDataStream.unsubscribe", {"subscriptionId": sub2}))["result"] == {}
        assert (await c2.event(lambda e: e.get("event", {}).get("e") == "eventStreamTerminated"))[
            "subscriptionId"
        ] == sub2
        assert (await c2.call("session.subscriptions"))["result"] == []

    run(scenario)


def test_signatures_of_each_key_kind_and_minus_1022_for_a_wrong_one():
    async def scenario(server: BinanceServer, api: Api) -> None:
        c = await api.connect()
        # RSA and Ed25519 sign order entry like HMAC does (base64, case-sensitive)
        rsa_placed = await c.call("order.place", signed(limit_maker(newClientOrderId="rsa:1"), RSA_KEY, RSA_PRIV))
        assert rsa_placed["status"] == 200, rsa_placed
        ed_placed = await c.call("order.place", ed(limit_maker(newClientOrderId="ed25519:1")))
        assert ed_placed["status"] == 200, ed_placed

        bad = {"code": -1022, "msg": "Signature for this request is not valid."}
        wrong_key = await c.call("order.place", ed(limit_maker(), private=OTHER_ED_PRIV))
        assert (wrong_key["status"], wrong_key["error"]) == (400, bad)
        tampered = ed(limit_maker())
        tampered["quantity"] = "0.002"
        assert (await c.call("order.place", tampered))["error"] == bad
        flipped = ed(limit_maker())
        flipped["signature"] = flipped["signature"].swapcase()  # Ed25519 signatures are case-sensitive
        assert (await c.call("order.place", flipped))["error"] == bad
        logon_wrong = await c.call("session.logon", ed(private=OTHER_ED_PRIV))
        assert logon_wrong["error"] == bad and (await c.call("session.status"))["result"]["apiKey"] is None
        hmac_logon = await c.call("session.logon", signed())
        assert hmac_logon["error"]["code"] == -1022 and "Ed25519 key only" in hmac_logon["error"]["msg"]
        unknown = await c.call("order.place", signed(limit_maker(), "nobody"))
        assert (unknown["status"], unknown["error"]["code"]) == (401, -2015)
        assert [o["clientOrderId"] for o in (await c.call("openOrders.status", signed()))["result"]] == [
            "rsa:1",
            "ed25519:1",
        ]

        # a client id with ':' and '/' signed raw (Binance's payload) or percent-encoded (as python-binance
        # and binance-sdk-spot sign it) passes either way
        p = {**limit_maker(newClientOrderId="a:b/c"), "apiKey": ED_KEY, "timestamp": now_ms()}
        p["signature"] = base64.b64encode(ED_PRIV.sign(urlencode(sorted(p.items())).encode())).decode()
        assert (await c.call("order.place", p))["result"]["clientOrderId"] == "a:b/c"

        # REST: the same keys, the signature base64 and percent-encoded in the query string
        for key, private in ((ED_KEY, ED_PRIV), (RSA_KEY, RSA_PRIV)):
            status, account, _ = await api.rest("GET", "/api/v3/account", {}, key, private)
            assert status == 200 and {b["asset"] for b in account["balances"]} >= {"BTC", "USDT"}
        status, err, _ = await api.rest("GET", "/api/v3/account", {}, ED_KEY, OTHER_ED_PRIV)
        assert (status, err) == (400, bad)
        status, placed, _ = await api.rest(
            "POST", "/api/v3/order", limit_maker(newClientOrderId="rest:ed"), ED_KEY, ED_PRIV
        )
        assert status == 200 and placed["clientOrderId"] == "rest:ed"

    run(scenario)


# ---- cancelReplace ----------------------------------------------------------------------------------------
def test_cancel_replace_answers_each_outcome_as_binance_documents_it():
    async def scenario(server: BinanceServer, api: Api) -> None:
        c = await api.connect()
        await c.call("order.place", signed(limit_maker(newClientOrderId="cr:old")))
        new = {"side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.002", "price": "59100.00"}

        def replace(mode: str, cancel: dict[str, Any], **more: Any) -> dict[str, Any]:
            return signed({"symbol": "BTCUSDT", "cancelReplaceMode": mode, **cancel, **new, **more})

        ok = await c.call(
            "order.cancelReplace",
            replace(
                "STOP_ON_FAILURE",
                {"cancelOrigClientOrderId": "cr:old"},
                newClientOrderId="cr:new",
                newOrderRespType="RESULT",
            ),
        )
        assert ok["status"] == 200, ok
        r = ok["result"]
        assert list(r) == ["cancelResult", "newOrderResult", "cancelResponse", "newOrderResponse"]
        assert (r["cancelResult"], r["newOrderResult"]) == ("SUCCESS", "SUCCESS")
        assert (r["cancelResponse"]["origClientOrderId"], r["cancelResponse"]["status"]) == ("cr:old", "CANCELED")
        assert (r["newOrderResponse"]["clientOrderId"], r["newOrderResponse"]["status"]) == ("cr:new", "NEW")
        assert r["newOrderResponse"]["origQty"] == "0.002" and day_count(ok) == 2

        unknown = {"code": -2011, "msg": "Unknown order sent."}
        stop = await c.call("order.cancelReplace", replace("STOP_ON_FAILURE", {"cancelOrderId": 999}))
        assert stop["status"] == 400 and stop["error"] == {
            "code": -2022,
            "msg": "Order cancel-replace failed.",
            "data": {
                "cancelResult": "FAILURE",
                "newOrderResult": "NOT_ATTEMPTED",
                "cancelResponse": unknown,
                "newOrderResponse": None,
            },
        }
        assert day_count(stop) == 3  # counted though not attempted

        allow = await c.call(
            "order.cancelReplace", replace("ALLOW_FAILURE", {"cancelOrderId": 999}, newClientOrderId="cr:anyway")
        )
        assert (allow["status"], allow["error"]["code"], allow["error"]["msg"]) == (
            409,
            -2021,
            "Order cancel-replace partially failed.",
        )
        data = allow["error"]["data"]
        assert (data["cancelResult"], data["newOrderResult"], data["cancelResponse"]) == ("FAILURE", "SUCCESS", unknown)
        assert (
            data["newOrderResponse"]["clientOrderId"] == "cr:anyway"
        )  # placed all the same (ACK: LIMIT_MAKER's default)

        # the cancel done, the new order refused by the exchange (a post-only bid above the ask)
        crossing = await c.call(
            "order.cancelReplace",
            signed({"symbol": "BTCUSDT", "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrigClientOrderId": "cr:new",
                    **new, "price": "60001.00"}),
        )  # fmt: skip
        assert (crossing["status"], crossing["error"]["code"]) == (409, -2021)
        data = crossing["error"]["data"]
        assert (data["cancelResult"], data["newOrderResult"]) == ("SUCCESS", "FAILURE")
        assert (
            data["cancelResponse"]["status"] == "CANCELED" and data["cancelResponse"]["origClientOrderId"] == "cr:new"
        )
        assert data["newOrderResponse"] == {"code": -2010, "msg": "Order would immediately match and take."}

        both = await c.call(
            "order.cancelReplace", replace("ALLOW_FAILURE", {"cancelOrigClientOrderId": "cr:new"}, price="60001.00")
        )
        assert (both["status"], both["error"]["code"], both["error"]["msg"]) == (
            400,
            -2022,
            "Order cancel-replace failed.",
        )
        assert {k: v for k, v in both["error"]["data"].items() if k != "newOrderResponse"} == {
            "cancelResult": "FAILURE",
            "newOrderResult": "FAILURE",
            "cancelResponse": unknown,
        }
        # the new order's own parameters are checked before anything is done: a plain error, nothing cancelled
        bad_qty = await c.call(
            "order.cancelReplace",
            replace("ALLOW_FAILURE", {"cancelOrigClientOrderId": "cr:anyway"}, quantity="0.0000001"),
        )
        assert bad_qty["error"] == {"code": -1013, "msg": "Filter failure: LOT_SIZE"}
        open_now = (await c.call("openOrders.status", signed({"symbol": "BTCUSDT"})))["result"]
        assert [o["clientOrderId"] for o in open_now] == ["cr:anyway"]

        # the REST twin answers the same objects, the partial outcomes with HTTP 409 and Binance's data
        path = "/api/v3/order/cancelReplace"
        stop_rest = {
            "symbol": "BTCUSDT",
            "cancelReplaceMode": "STOP_ON_FAILURE",
            "cancelOrigClientOrderId": "cr:anyway",
        }
        status, body, headers = await api.rest("POST", path, {**stop_rest, **new})
        assert status == 200 and (body["cancelResult"], body["newOrderResult"]) == ("SUCCESS", "SUCCESS")
        assert int(headers["X-MBX-ORDER-COUNT-1D"]) == 7
        allow_rest = {"symbol": "BTCUSDT", "cancelReplaceMode": "ALLOW_FAILURE", "cancelOrderId": 999}
        status, body, _ = await api.rest("POST", path, {**allow_rest, **new, "price": "60001.00"})
        assert status == 400 and (body["code"], body["data"]["newOrderResult"]) == (-2022, "FAILURE")

    run(scenario)


# ---- keepPriority amends ----------------------------------------------------------------------------------
def test_amend_keep_priority_keeps_the_queue_position_a_cancel_replace_loses():
    async def scenario(server: BinanceServer, api: Api) -> None:
        await settle(server)
        ex = server.venue.exchange
        c = await api.connect()
        await c.call("session.logon", ed())
        sub = (await c.call("userDataStream.subscribe"))["result"]["subscriptionId"]
        first = (await c.call("order.place", ed(limit_maker(FAR, "0.01", newClientOrderId="first"))))["result"]
        second = (await c.call("order.place", ed(limit_maker(FAR, "0.01", newClientOrderId="second"))))["result"]
        assert ex.orders["first"].ts < ex.orders["second"].ts  # first in the queue at 59000.00
        queue_before, ts_before = ex.orders["first"].queue, ex.orders["first"].ts
        count_before = (await c.call("account.rateLimits.orders", {"timestamp": now_ms()}))["result"]

        amended = await c.call(
            "order.amend.keepPriority", ed({"symbol": "BTCUSDT", "orderId": first["orderId"], "newQty": "0.004"})
        )
        assert amended["status"] == 200, amended
        a = amended["result"]
        assert set(a) == {"transactTime", "executionId", "amendedOrder"}
        o = a["amendedOrder"]
        assert list(o) == [
            "symbol", "orderId", "orderListId", "origClientOrderId", "clientOrderId", "price", "qty", "executedQty",
            "preventedQty", "quoteOrderQty", "cumulativeQuoteQty", "status", "timeInForce", "type", "side",
            "workingTime", "selfTradePreventionMode",
        ]  # fmt: skip
        assert (o["orderId"], o["origClientOrderId"], o["qty"], o["status"]) == (
            first["orderId"],
            "first",
            "0.004",
            "NEW",
        )
        renamed = o["clientOrderId"]
        assert renamed != "first" and len(renamed) == 22  # a new client id, made up as Binance does
        # at the exchange: the same order, same place in the queue, smaller; what the cut held is free again
        held = ex.orders["first"]
        assert (held.order_id, held.ts, held.queue, held.qty) == (first["orderId"], ts_before, queue_before, 400)
        usdt = next(
            b
            for b in (await c.call("account.status", {"timestamp": now_ms()}))["result"]["balances"]
            if b["asset"] == "USDT"
        )
        assert D(usdt["locked"]) == D(FAR) * (D("0.004") + D("0.01"))
        report = await c.event(lambda e: e.get("event", {}).get("x") == "REPLACED")
        assert report["subscriptionId"] == sub
        assert (report["event"]["c"], report["event"]["C"], report["event"]["q"], report["event"]["i"]) == (
            renamed, "first", "0.004", first["orderId"],
        )  # fmt: skip
        assert (await c.call("account.rateLimits.orders", {"timestamp": now_ms()}))["result"] == count_before  # adds 0
        status = await c.call(
            "order.status", {"symbol": "BTCUSDT", "origClientOrderId": renamed, "timestamp": now_ms()}
        )
        assert (status["result"]["orderId"], status["result"]["origQty"]) == (first["orderId"], "0.004")
        old_name = await c.call(
            "order.status", {"symbol": "BTCUSDT", "origClientOrderId": "first", "timestamp": now_ms()}
        )
        assert old_name["error"]["code"] == -2013  # the old client id is free

        # a sell that trades through the queue ahead fills the amended order first: it kept its priority
        idx = ex.index["BTCUSDT"]
        fills = ex.on_trade(idx, 5_900_000, held.queue + 100, -1)
        assert [(f.client_id, f.qty) for f in fills] == [("first", 100)]

        # cancelReplace gives a new order at the back of the queue: the other order now fills before it
        replaced = await c.call(
            "order.cancelReplace",
            ed({"symbol": "BTCUSDT", "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrderId": first["orderId"],
                "newClientOrderId": "first.again", **limit_maker(FAR, "0.003")}),
        )  # fmt: skip
        assert replaced["result"]["newOrderResponse"]["orderId"] != first["orderId"]
        assert ex.orders["first.again"].ts > ex.orders["second"].ts
        fills = ex.on_trade(idx, 5_900_000, ex.orders["second"].queue + 1, -1)
        assert [f.client_id for f in fills] == ["second"]

        # the REST twin, and Binance's refusals
        rest = {"symbol": "BTCUSDT", "orderId": second["orderId"]}
        status_, body, _ = await api.rest(
            "PUT", "/api/v3/order/amend/keepPriority", {**rest, "newQty": "0.009", "newClientOrderId": "second"}
        )
        assert status_ == 200 and (body["amendedOrder"]["clientOrderId"], body["amendedOrder"]["qty"]) == (
            "second",
            "0.009",
        )
        status_, body, _ = await api.rest("PUT", "/api/v3/order/amend/keepPriority", {**rest, "newQty": "0.02"})
        assert (status_, body) == (400, {"code": -2038, "msg": "Order amend (quantity increase) is not supported."})
        status_, body, _ = await api.rest(
            "PUT", "/api/v3/order/amend/keepPriority", {"symbol": "BTCUSDT", "orderId": 999, "newQty": "0.001"}
        )
        assert body == {"code": -2013, "msg": "Order does not exist."}
        for i in range(9):  # ten amends an order at most (MAX_NUM_ORDER_AMENDS)
            r = await c.call(
                "order.amend.keepPriority",
                ed({**rest, "newQty": f"0.00{8 - i}" if i < 8 else "0.0005", "newClientOrderId": "second"}),
            )
            assert r["status"] == 200, (i, r)
        eleventh = await c.call("order.amend.keepPriority", ed({**rest, "newQty": "0.0001"}))
        assert eleventh["error"] == {"code": -1013, "msg": "Filter failure: MAX_NUM_ORDER_AMENDS"}
        async with api.session.get(f"{api.url}/api/v3/exchangeInfo?symbol=BTCUSDT") as resp:
            sym = (await resp.json())["symbols"][0]
        assert (sym["amendAllowed"], sym["cancelReplaceAllowed"]) == (True, True)
        assert {"filterType": "MAX_NUM_ORDER_AMENDS", "maxNumOrderAmends": 10} in sym["filters"]

    run(scenario)


# ---- the unfilled-order count -------------------------------------------------------------------------------
def test_unfilled_order_count_goes_up_on_each_new_order_and_down_on_an_orders_first_fill():
    async def scenario(server: BinanceServer, api: Api) -> None:
        c = await api.connect()
        await c.call("userDataStream.subscribe.signature", signed())
        rest_ = await c.call("order.place", signed(limit_maker(newClientOrderId="rests")))
        assert day_count(rest_) == 1
        status, _, headers = await api.rest("POST", "/api/v3/order", limit_maker(newClientOrderId="rests.rest"))
        assert status == 200 and (headers["X-MBX-ORDER-COUNT-1D"], headers["X-MBX-ORDER-COUNT-10S"]) in (
            ("2", "2"),
            ("2", "1"),
        )
        # a maker bid at the bid: the next public sell trades through it (trade-through fills) and fills it whole
        maker = await c.call("order.place", signed(limit_maker(BID, newClientOrderId="maker")))
        assert day_count(maker) == 3
        fill = await c.event(lambda e: e.get("event", {}).get("c") == "maker" and e["event"]["x"] == "TRADE")
        assert fill["event"]["X"] == "FILLED" and fill["event"]["m"] is True
        after_fill = await c.call("account.rateLimits.orders", signed())
        assert [r["count"] for r in after_fill["result"] if r["interval"] == "DAY"] == [
            2
        ]  # its first fill took one off
        # a market order fills at once: one on, one off
        market = await c.call(
            "order.place", signed({"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.001"})
        )
        assert market["result"]["status"] == "FILLED" and day_count(market) == 2
        # cancels and amends change nothing, nor does a second fill of the same order
        await c.call("order.cancel", signed({"symbol": "BTCUSDT", "origClientOrderId": "rests"}))
        await c.call(
            "order.amend.keepPriority",
            signed({"symbol": "BTCUSDT", "origClientOrderId": "rests.rest", "newQty": "0.0005"}),
        )
        # a bid above the ask's displayed quantity: takes it at once (its first fill), the rest fills later
        big = {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "price": ASK,
            "quantity": "0.3",
        }
        partial = await c.call("order.place", signed({**big, "newClientOrderId": "big"}))
        assert partial["result"]["status"] == "PARTIALLY_FILLED" and day_count(partial) == 2
        done = await c.event(lambda e: e.get("event", {}).get("c") == "big" and e["event"]["X"] == "FILLED")
        assert D(done["event"]["z"]) == D("0.3")
        final = (await c.call("account.rateLimits.orders", signed()))["result"]
        assert [r["count"] for r in final if r["interval"] == "DAY"] == [2]
        status, body, _ = await api.rest("GET", "/api/v3/rateLimit/order", {})
        assert status == 200 and [r["count"] for r in body if r["interval"] == "DAY"] == [2]
        assert [(r["rateLimitType"], r["interval"], r["intervalNum"]) for r in body] == [
            ("ORDERS", "SECOND", 10),
            ("ORDERS", "DAY", 1),
        ]

    run(scenario, fill_model="trade-through", speed=1.0)


def test_new_orders_past_the_unfilled_order_limit_get_minus_1015_in_the_envelope():
    async def scenario(server: BinanceServer, api: Api) -> None:
        c = await api.connect()
        limit = server.order_limit_10s
        for i in range(3 * limit):  # the 10 s window may turn once during the burst
            reply = await c.call("order.place", signed(limit_maker(newClientOrderId=f"burst-{i}")))
            if reply["status"] != 200:
                break
        else:
            raise AssertionError("the limit was never enforced")
        assert reply["status"] == 429
        err = reply["error"]
        assert (err["code"], err["msg"]) == (
            -1015,
            f"Too many new orders; current limit is {limit} orders per 10 SECOND.",
        )
        assert err["data"]["retryAfter"] > err["data"]["serverTime"]
        ten_s = next(r for r in reply["rateLimits"] if r["interval"] == "SECOND")
        assert (ten_s["count"], ten_s["limit"]) == (limit, limit)
        assert server.rate_limited == 1

    run(scenario)


# ---- fault injection ----------------------------------------------------------------------------------------
def test_each_fault_kind_reaches_the_websocket_api_methods():
    plan = FaultPlan(
        [
            Fault("ws-api order.place", "drop", at=(1,)),
            Fault("ws-api order.place", "drop-after", at=(2,)),
            Fault("ws-api order.place", "-1007-placed", at=(3,)),
            Fault("ws-api order.place", "-1007-not-placed", at=(4,)),
            Fault("ws-api order.place", "delay", at=(5,), delay_ms=400),
            Fault("ws-api order.cancelReplace", "cancel-replace-new-fails", at=(1,)),
            Fault("ws-api order.cancelReplace", "cancel-replace-cancel-fails", at=(2, 3)),
            Fault("POST /api/v3/order/cancelReplace", "cancel-replace-new-fails", at=(1,)),
            Fault("ws-api session.status", "session-expire", at=(1,)),
        ]
    )

    async def scenario(server: BinanceServer, api: Api) -> None:
        async def fate(cid: str) -> str:
            probe = await api.connect()
            r = await probe.call("order.status", signed({"symbol": "BTCUSDT", "origClientOrderId": cid}))
            return r["result"]["status"] if r["status"] == 200 else str(r["error"]["code"])

        for cid, kind in (("f.drop", "drop"), ("f.after", "drop-after")):
            c = await api.connect()
            with pytest.raises(Closed):  # cut without an answer
                await c.call("order.place", signed(limit_maker(newClientOrderId=cid)))
            assert c.ws.closed, kind
        assert (await fate("f.drop"), await fate("f.after")) == ("-2013", "NEW")  # cut before / after placing

        c = await api.connect()
        unknown = {
            "code": -1007,
            "msg": "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
        }
        for cid, placed in (("f.1007p", "NEW"), ("f.1007n", "-2013")):
            r = await c.call("order.place", signed(limit_maker(newClientOrderId=cid)))
            assert (r["status"], r["error"]) == (408, unknown)
            assert await fate(cid) == placed
        started = time.monotonic()
        slow = await c.call("order.place", signed(limit_maker(newClientOrderId="f.slow")))
        assert slow["status"] == 200 and time.monotonic() - started >= 0.4

        # cancelReplace's partial outcomes on demand
        cr = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.001", "price": "59200.00"}
        r = await c.call(
            "order.cancelReplace",
            signed(
                {
                    **cr,
                    "cancelReplaceMode": "STOP_ON_FAILURE",
                    "cancelOrigClientOrderId": "f.slow",
                    "newClientOrderId": "f.new1",
                }
            ),
        )
        data = r["error"]["data"]
        assert (r["status"], r["error"]["code"], data["cancelResult"], data["newOrderResult"]) == (
            409, -2021, "SUCCESS", "FAILURE",
        )  # fmt: skip
        assert r["error"]["data"]["newOrderResponse"]["code"] == -2010
        assert (await fate("f.slow"), await fate("f.new1")) == ("CANCELED", "-2013")
        r = await c.call(
            "order.cancelReplace",
            signed({**cr, "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrigClientOrderId": "f.1007p"}),
        )
        assert (r["status"], r["error"]["code"], r["error"]["data"]["newOrderResult"]) == (400, -2022, "NOT_ATTEMPTED")
        r = await c.call(
            "order.cancelReplace",
            signed(
                {
                    **cr,
                    "cancelReplaceMode": "ALLOW_FAILURE",
                    "cancelOrigClientOrderId": "f.1007p",
                    "newClientOrderId": "f.new2",
                }
            ),
        )
        assert (r["status"], r["error"]["data"]["cancelResult"], r["error"]["data"]["newOrderResult"]) == (
            409,
            "FAILURE",
            "SUCCESS",
        )
        assert (await fate("f.1007p"), await fate("f.new2")) == ("NEW", "NEW")  # the cancel refused: both open
        status, body, _ = await api.rest(
            "POST",
            "/api/v3/order/cancelReplace",
            {**cr, "cancelReplaceMode": "STOP_ON_FAILURE", "cancelOrigClientOrderId": "f.new2"},
        )
        assert (status, body["code"], body["data"]["cancelResult"], body["data"]["newOrderResult"]) == (
            409,
            -2021,
            "SUCCESS",
            "FAILURE",
        )

        # the connection's 24 hours end: serverShutdown, then closed
        with pytest.raises(Closed):
            await c.call("session.status")
        assert [e["event"]["e"] for e in c.events] == ["serverShutdown"] and "subscriptionId" not in c.events[0]
        assert server.faults.injected["session-expire"] == 1 and server.faults.total_injected == 10

    run(scenario, plan)


def test_a_user_data_event_can_end_the_connections_24_hours():
    async def scenario(server: BinanceServer, api: Api) -> None:
        c = await api.connect()
        await c.call("userDataStream.subscribe.signature", signed())
        placed = await c.call("order.place", signed(limit_maker()))
        assert placed["status"] == 200  # answered; its first user data event ends the connection instead
        shutdown = await c.event(lambda e: e.get("event", {}).get("e") == "serverShutdown")
        assert "subscriptionId" not in shutdown and not [e for e in c.events if e.get("subscriptionId") is not None]
        with pytest.raises(Closed):
            await c._frame()

    run(scenario, FaultPlan([Fault("ws-api", "session-expire", at=(1,))]))


def test_faults_file_checks_the_new_kinds_against_their_targets():
    plan = parse_faults(
        {
            "fault": [
                {"target": "ws-api order.place", "kind": "drop-after", "at": [2]},
                {"target": "ws-api order.cancelReplace", "kind": "cancel-replace-cancel-fails", "every": 3},
                {"target": "POST /api/v3/order/cancelReplace", "kind": "cancel-replace-new-fails", "at": [1]},
                {"target": "ws-api", "kind": "session-expire", "at": [40]},
            ]
        }
    )
    assert [f.kind for f in plan.faults] == [
        "drop-after",
        "cancel-replace-cancel-fails",
        "cancel-replace-new-fails",
        "session-expire",
    ]
    with pytest.raises(ConfigError, match="acts on cancelReplace only"):
        parse_faults({"fault": [{"target": "ws-api order.place", "kind": "cancel-replace-new-fails"}]})
    with pytest.raises(ConfigError, match="on a WebSocket API method; use one of drop, drop-after"):
        parse_faults({"fault": [{"target": "ws-api order.place", "kind": "http502"}]})
    with pytest.raises(ConfigError, match=r"name a method: target = 'ws-api order\.place'"):
        parse_faults({"fault": [{"target": "ws-api", "kind": "-1007-placed"}]})
    with pytest.raises(ConfigError, match="acts on the WebSocket API"):
        parse_faults({"fault": [{"target": "POST /api/v3/order", "kind": "drop-after"}]})


# ---- python-binance against a `liqkit sim-server` process -------------------------------------------------
@pytest.fixture
def keyed_server(tmp_path: Path) -> Iterator[str]:
    """`liqkit sim-server` with three keys given on its command line: HMAC, Ed25519 and RSA (public keys in
    PEM files); its base URL."""
    (tmp_path / "ed.pem").write_bytes(pem(ED_PRIV))
    (tmp_path / "rsa.pem").write_bytes(pem(RSA_PRIV))
    keys = [
        "--api-key",
        HMAC_KEY,
        "--api-secret",
        SECRET,
        "--api-key",
        ED_KEY,
        "--public-key",
        str(tmp_path / "ed.pem"),
    ]
    keys += ["--public-key", str(tmp_path / "rsa.pem"), "--api-key", RSA_KEY]  # a credential before its key
    with sim_server(*keys, symbols="BTCUSDT") as url:
        yield url


def private_pem(private: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> str:
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.mark.parametrize("kind", ["hmac", "ed25519", "rsa"])
def test_python_binance_enters_orders_over_the_websocket_api(keyed_server, kind):
    async def flow() -> None:
        cls = client_class(keyed_server)
        if kind == "hmac":
            client = await cls.create(HMAC_KEY, SECRET)
        else:
            key, private = (ED_KEY, ED_PRIV) if kind == "ed25519" else (RSA_KEY, RSA_PRIV)
            client = await cls.create(key, private_key=private_pem(private))
        try:
            book = await client.get_orderbook_ticker(symbol="BTCUSDT")
            price = f"{D(book['bidPrice']) * D('0.98'):.2f}"
            cid = f"pb:{kind}/1"
            placed = await client.ws_create_order(
                symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER", quantity="0.001", price=price, newClientOrderId=cid
            )
            assert (placed["clientOrderId"], placed["orderListId"]) == (cid, -1) and isinstance(placed["orderId"], int)
            got = await client.ws_get_order(symbol="BTCUSDT", origClientOrderId=cid)
            assert (got["orderId"], got["status"], D(got["price"]), got["origQty"]) == (
                placed["orderId"],
                "NEW",
                D(price),
                "0.001",
            )
            assert got == await client.get_order(symbol="BTCUSDT", orderId=placed["orderId"])  # REST agrees
            assert [o["orderId"] for o in await client.ws_get_open_orders(symbol="BTCUSDT")] == [placed["orderId"]]
            replaced = await client.ws_cancel_and_replace_order(
                symbol="BTCUSDT", cancelReplaceMode="STOP_ON_FAILURE", cancelOrigClientOrderId=cid,
                side="BUY", type="LIMIT_MAKER", quantity="0.002", price=price, newClientOrderId=f"pb:{kind}/2",
            )  # fmt: skip
            assert (replaced["cancelResult"], replaced["newOrderResult"]) == ("SUCCESS", "SUCCESS")
            canceled = await client.ws_cancel_order(symbol="BTCUSDT", orderId=replaced["newOrderResponse"]["orderId"])
            assert (canceled["status"], canceled["origClientOrderId"]) == ("CANCELED", f"pb:{kind}/2")
            with pytest.raises(BinanceAPIException) as e:
                await client.ws_cancel_order(symbol="BTCUSDT", origClientOrderId=cid)
            assert e.value.code == -2011 and "Unknown order sent" in e.value.message
            counts = await client.ws_get_account_rate_limits_orders()
            assert [c["interval"] for c in counts] == ["SECOND", "DAY"] and counts[1]["count"] == 2
            assert [c["count"] for c in await client.get_current_order_count()][1] == counts[1]["count"]  # REST twin
            account = await client.ws_get_account()
            assert next(b for b in account["balances"] if b["asset"] == "USDT")["locked"] == "0"
        finally:
            await close_client(client)

    asyncio.run(flow())


def test_sim_server_refuses_unpaired_or_unreadable_keys_in_one_line(tmp_path):
    (tmp_path / "ed.pem").write_bytes(pem(ED_PRIV))
    (tmp_path / "private.pem").write_text(private_pem(ED_PRIV))
    cases = [
        (["--public-key", str(tmp_path / "ed.pem")], "--public-key: give the key's name with --api-key K"),
        (["--api-key", "k", "--public-key", str(tmp_path / "private.pem")], "a private key: give its public half"),
        (["--api-key", "k", "--public-key", str(tmp_path / "none.pem")], "cannot read the public key"),
        (["--api-key", "a", "--api-secret", "s", "--api-key", "b"], "each --api-key needs one --api-secret S"),
        (["--api-key", "a", "--api-secret", "s", "--api-key", "a", "--api-secret", "t"], "given twice"),
    ]
    for args, expected in cases:
        cmd = [sys.executable, "-m", "liqkit.cli", "sim-server", "--port", "0", "--state-dir", str(tmp_path), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and expected in lines[0], (args, done.stderr)
        assert "Traceback" not in done.stderr and "secret" not in done.stdout
        assert lines[0].startswith("liqkit sim-server: error: ")
