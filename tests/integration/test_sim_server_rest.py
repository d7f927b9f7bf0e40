"""sim-server's REST surface, endpoint by endpoint, in Binance's shapes: requests built and signed here
with the standard library (so the exact bytes on the wire are the test's), against the server on 127.0.0.1.

Where a test needs exact figures it stops the replay (``pause_feed``) and waits until the server has
handled everything the feed had sent: from then on the market is still, and every answer must agree
with every other one.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import numpy as np
import pytest
import yarl
from binance.exceptions import BinanceAPIException
from markets import settle, still_feed
from processes import ProcessOutput, accepts, free_port, until, wait_for

from liqkit.data.capture import CaptureWriter
from liqkit.data.feed import MarketData
from liqkit.domain.config import SimConfig
from liqkit.venues.binance import client_class, close_client, socket_manager_class
from liqkit.venues.binance_server.server import BinanceServer

KEY, SECRET = "rest-key-0123456789", "rest-secret-abcdefghijklmnop"
D = Decimal


async def serve(data: dict[str, MarketData] | None = None, speed: float = 10.0) -> tuple[BinanceServer, Any, str]:
    sim = SimConfig(balances={"BTC": D(2), "USDT": D(200_000), "ETH": D(20)})
    symbols = list(data) if data else ["BTCUSDT", "ETHUSDT"]
    server = BinanceServer(symbols, {KEY: SECRET}, sim, data, speed=speed)
    runner, url = await server.listen()
    return server, runner, url


async def freeze(server: BinanceServer, trades: int = 1) -> None:
    """Wait for ``trades`` public trades and a book on every symbol, then stop the replay and wait
    until the server has handled all it was sent: nothing changes the market after this."""
    await until(
        lambda: all(len(server.tapes[s].trades) >= trades and server._book(s).bid for s in server.venue.symbols),
        120,
        f"{trades} trades and a book",
    )
    await settle(server)


def signature(payload: str, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def payload(params: dict[str, Any]) -> str:
    """Parameters percent-encoded as a form (``:`` and ``/`` become %3A and %2F), with a fresh timestamp."""
    return urlencode({**params, "timestamp": int(time.time() * 1000), "recvWindow": 10_000})


class Api:
    """Raw requests to the server: (HTTP status, JSON body, headers)."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url

    async def get(self, path: str, raw_query: str = "", **params: Any) -> tuple[int, Any, Any]:
        q = raw_query or urlencode(params)
        async with self.session.get(yarl.URL(f"{self.url}{path}?{q}", encoded=True)) as r:
            return r.status, await r.json(), r.headers

    async def signed(
        self, method: str, path: str, params: dict[str, Any], *, in_body: bool = False, secret: str = SECRET
    ) -> tuple[int, Any]:
        """A signed request: in the query string (GET, DELETE) or the form body (POST by default)."""
        p = payload(params)
        text = f"{p}&signature={signature(p, secret)}"
        return await self.send(
            method, path, "" if in_body or method == "POST" else text, text if (in_body or method == "POST") else ""
        )

    async def send(self, method: str, path: str, query: str, body: str) -> tuple[int, Any]:
        """Exactly this query string and body, with the API key."""
        url = yarl.URL(f"{self.url}{path}" + (f"?{query}" if query else ""), encoded=True)
        headers = {"X-MBX-APIKEY": KEY}
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        async with self.session.request(method, url, data=body or None, headers=headers) as r:
            return r.status, await r.json()


def run(scenario: Any, data: dict[str, MarketData] | None = None, speed: float = 10.0) -> Any:
    async def main() -> Any:
        server, runner, url = await serve(data, speed)
        try:
            async with aiohttp.ClientSession() as session:
                return await scenario(server, Api(session, url))
        finally:
            await runner.cleanup()

    return asyncio.run(main())


# ---- market data ------------------------------------------------------------------------------------
def test_market_data_answers_agree_with_the_trades_and_book_the_server_played():
    async def scenario(server: BinanceServer, api: Api) -> None:
        await freeze(server, trades=20)
        tape_len = len(server.tapes["BTCUSDT"].trades)
        assert tape_len < 1000, "the frozen tape must fit in one /trades answer for the exact checks below"

        # bookTicker: one symbol, a JSON list of them (encoded or not), or all
        status, one, _ = await api.get("/api/v3/ticker/bookTicker", symbol="BTCUSDT")
        assert status == 200 and set(one) == {"symbol", "bidPrice", "bidQty", "askPrice", "askQty"}
        assert one["symbol"] == "BTCUSDT" and D(one["bidPrice"]) < D(one["askPrice"]) and D(one["bidQty"]) > 0
        _, listed, _ = await api.get("/api/v3/ticker/bookTicker", symbols='["ETHUSDT","BTCUSDT"]')
        assert [t["symbol"] for t in listed] == ["ETHUSDT", "BTCUSDT"] and listed[1] == one
        _, raw, _ = await api.get("/api/v3/ticker/bookTicker", raw_query='symbols=["BTCUSDT"]')
        assert raw == [one]
        _, every, _ = await api.get("/api/v3/ticker/bookTicker")
        assert [t["symbol"] for t in every] == ["BTCUSDT", "ETHUSDT"] and every[0] == one
        for query, code in (
            ({"symbols": '["BTCUSDT","NOPE"]'}, -1121),
            ({"symbols": "BTCUSDT"}, -1100),
            ({"symbol": "BTCUSDT", "symbols": '["BTCUSDT"]'}, -1128),
            ({"symbol": "NOPE"}, -1121),
        ):
            status, err, _ = await api.get("/api/v3/ticker/bookTicker", **query)
            assert (status, err["code"]) == (400, code), (query, err)

        # trades: the latest, oldest first; limit keeps the newest
        _, trades, _ = await api.get("/api/v3/trades", symbol="BTCUSDT", limit=1000)
        assert len(trades) == tape_len
        assert set(trades[0]) == {"id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isBestMatch"}
        ids = [t["id"] for t in trades]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        assert all(D(t["quoteQty"]) == D(t["price"]) * D(t["qty"]) for t in trades)
        assert all(isinstance(t["isBuyerMaker"], bool) for t in trades)
        _, last3, _ = await api.get("/api/v3/trades", symbol="BTCUSDT", limit=3)
        assert last3 == trades[-3:]
        _, default, _ = await api.get("/api/v3/trades", symbol="BTCUSDT")
        assert default == trades[-500:]
        status, err, _ = await api.get("/api/v3/trades")
        assert (status, err["code"]) == (400, -1102) and "'symbol'" in err["msg"]

        # ticker/price: the last trade's price
        _, price, _ = await api.get("/api/v3/ticker/price", symbol="BTCUSDT")
        assert price == {"symbol": "BTCUSDT", "price": trades[-1]["price"]}
        _, prices, _ = await api.get("/api/v3/ticker/price", symbols='["BTCUSDT","ETHUSDT"]')
        assert [p["symbol"] for p in prices] == ["BTCUSDT", "ETHUSDT"] and prices[0] == price

        # aggTrades: every trade in exactly one aggregate, quantities adding up
        _, aggs, _ = await api.get("/api/v3/aggTrades", symbol="BTCUSDT", limit=1000)
        assert set(aggs[0]) == {"a", "p", "q", "f", "l", "T", "m", "M"}
        assert [a["a"] for a in aggs] == sorted({a["a"] for a in aggs})
        by_id = {t["id"]: t for t in trades}
        covered = [i for a in aggs for i in range(a["f"], a["l"] + 1)]
        assert covered == ids  # each trade once, in order
        for a in aggs:
            members = [by_id[i] for i in range(a["f"], a["l"] + 1)]
            assert D(a["q"]) == sum(D(t["qty"]) for t in members)
            assert {t["price"] for t in members} == {a["p"]} and {t["isBuyerMaker"] for t in members} == {a["m"]}
            assert {t["time"] for t in members} == {a["T"]}
        mid = aggs[len(aggs) // 2]
        _, from_mid, _ = await api.get("/api/v3/aggTrades", symbol="BTCUSDT", fromId=mid["a"], limit=2)
        assert from_mid == aggs[len(aggs) // 2 : len(aggs) // 2 + 2]
        _, since, _ = await api.get("/api/v3/aggTrades", symbol="BTCUSDT", startTime=mid["T"], limit=1000)
        assert since == [a for a in aggs if a["T"] >= mid["T"]]
        _, until_mid, _ = await api.get("/api/v3/aggTrades", symbol="BTCUSDT", endTime=mid["T"], limit=1000)
        assert until_mid == [a for a in aggs if a["T"] <= mid["T"]]
        status, err, _ = await api.get("/api/v3/aggTrades", symbol="BTCUSDT", fromId="x1")
        assert (status, err["code"]) == (400, -1100)

        # ticker/24hr: figures of every trade played (all of them within the last 24 h here)
        _, full, _ = await api.get("/api/v3/ticker/24hr", symbol="BTCUSDT")
        prices_ = [D(t["price"]) for t in trades]
        volume = sum(D(t["qty"]) for t in trades)
        quote_volume = sum(D(t["quoteQty"]) for t in trades)
        assert list(full) == [
            "symbol", "priceChange", "priceChangePercent", "weightedAvgPrice", "prevClosePrice", "lastPrice",
            "lastQty", "bidPrice", "bidQty", "askPrice", "askQty", "openPrice", "highPrice", "lowPrice",
            "volume", "quoteVolume", "openTime", "closeTime", "firstId", "lastId", "count",
        ]  # fmt: skip
        assert (full["firstId"], full["lastId"], full["count"]) == (ids[0], ids[-1], len(ids))
        assert D(full["openPrice"]) == prices_[0] and D(full["lastPrice"]) == prices_[-1]
        assert (D(full["highPrice"]), D(full["lowPrice"])) == (max(prices_), min(prices_))
        assert D(full["priceChange"]) == prices_[-1] - prices_[0]
        assert D(full["priceChangePercent"]) == ((prices_[-1] - prices_[0]) * 100 / prices_[0]).quantize(D("0.001"))
        assert D(full["volume"]) == volume and D(full["quoteVolume"]) == quote_volume
        assert D(full["weightedAvgPrice"]) == (quote_volume / volume).quantize(D("1e-8"))
        assert full["lastQty"] == trades[-1]["qty"] and D(full["prevClosePrice"]) == prices_[0]
        assert (full["bidPrice"], full["askQty"]) == (one["bidPrice"], one["askQty"])
        assert full["openTime"] <= trades[0]["time"] and full["closeTime"] >= trades[-1]["time"]
        _, mini, _ = await api.get("/api/v3/ticker/24hr", symbol="BTCUSDT", type="MINI")
        assert list(mini) == [
            "symbol", "openPrice", "highPrice", "lowPrice", "lastPrice", "volume", "quoteVolume",
            "openTime", "closeTime", "firstId", "lastId", "count",
        ]  # fmt: skip
        assert {k: mini[k] for k in mini if k != "closeTime"} == {k: full[k] for k in mini if k != "closeTime"}
        _, both, _ = await api.get("/api/v3/ticker/24hr")
        assert [t["symbol"] for t in both] == ["BTCUSDT", "ETHUSDT"] and both[1]["count"] > 0
        status, err, _ = await api.get("/api/v3/ticker/24hr", symbol="BTCUSDT", type="HUGE")
        assert (status, err["code"]) == (400, -1100)

        # depth: the levels the server has (the replay's top of book: one a side), as many as asked
        status, depth, headers = await api.get("/api/v3/depth", symbol="BTCUSDT", limit=5000)
        assert status == 200 and int(headers["X-MBX-USED-WEIGHT-1M"]) >= 250  # 1001-5000 levels weigh 250
        assert depth["bids"] == [[one["bidPrice"], one["bidQty"]]] and depth["asks"] == [
            [one["askPrice"], one["askQty"]]
        ]
        assert isinstance(depth["lastUpdateId"], int)
        _, one_level, _ = await api.get("/api/v3/depth", symbol="BTCUSDT", limit=1)
        assert one_level == depth
        status, err, _ = await api.get("/api/v3/depth", symbol="BTCUSDT", limit="lots")
        assert (status, err["code"]) == (400, -1100)

    run(scenario, speed=10.0)


def test_a_replay_that_loops_keeps_trade_ids_rising():
    async def scenario(server: BinanceServer, api: Api) -> None:
        # 3 s of data at speed 10 loops every 0.3 s: wait for more trades than one pass holds
        await until(lambda: len(server.tapes["BTCUSDT"].trades) > 60, 120, "a second pass of the replay")
        _, trades, _ = await api.get("/api/v3/trades", symbol="BTCUSDT", limit=1000)
        ids = [t["id"] for t in trades]
        assert max(ids) > 30 and ids == sorted(ids) and len(set(ids)) == len(ids)

    run(scenario, {"BTCUSDT": still_feed(seconds=3.0)}, speed=10.0)


# ---- orders by either id, signatures ------------------------------------------------------------------
def test_orders_are_found_and_cancelled_by_order_id_or_client_id():
    async def scenario(server: BinanceServer, api: Api) -> None:
        await freeze(server)
        cid = "lq:desk/1.a_b-c"  # every character kind Binance allows, ':' and '/' included
        order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.001"}
        status, placed = await api.signed("POST", "/api/v3/order", {**order, "price": "59000", "newClientOrderId": cid})
        assert status == 200, placed
        assert set(placed) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}  # ACK
        oid = placed["orderId"]
        assert placed["clientOrderId"] == cid
        _, by_id = await api.signed("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": oid})
        _, by_cid = await api.signed("GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": cid})
        _, by_both = await api.signed(
            "GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": oid, "origClientOrderId": cid}
        )
        assert by_id == by_cid == by_both
        assert (by_id["orderId"], by_id["clientOrderId"], by_id["status"], by_id["price"]) == (oid, cid, "NEW", "59000")
        for params, code, msg in (
            ({"orderId": oid, "origClientOrderId": "other"}, -2013, "Order does not exist."),
            ({"orderId": oid + 1000}, -2013, "Order does not exist."),
            ({"origClientOrderId": "never-sent"}, -2013, "Order does not exist."),
            ({}, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"),
        ):
            status, err = await api.signed("GET", "/api/v3/order", {"symbol": "BTCUSDT", **params})
            assert (status, err) == (400, {"code": code, "msg": msg}), params
        status, err = await api.signed("GET", "/api/v3/order", {"symbol": "ETHUSDT", "orderId": oid})
        assert err["code"] == -2013  # another symbol's order book does not have it

        # cancel by orderId, the cancel with its own client id
        status, canceled = await api.signed(
            "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": oid, "newClientOrderId": "cancel:1"}
        )
        assert status == 200, canceled
        assert (canceled["orderId"], canceled["origClientOrderId"], canceled["clientOrderId"]) == (oid, cid, "cancel:1")
        assert canceled["status"] == "CANCELED"
        assert set(canceled) == {
            "symbol", "origClientOrderId", "orderId", "orderListId", "clientOrderId", "transactTime", "price",
            "origQty", "executedQty", "origQuoteOrderQty", "cummulativeQuoteQty", "status", "timeInForce", "type",
            "side", "selfTradePreventionMode",
        }  # fmt: skip
        for params, code, msg in (
            ({"orderId": oid}, -2011, "Unknown order sent."),  # no longer open
            ({"origClientOrderId": cid}, -2011, "Unknown order sent."),
            ({"orderId": oid + 1000}, -2011, "Unknown order sent."),
            ({}, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"),
        ):
            status, err = await api.signed("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", **params})
            assert (status, err) == (400, {"code": code, "msg": msg}), params
        _, after = await api.signed("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": oid})
        assert after["status"] == "CANCELED" and after["isWorking"] is False

        # a client id is unique among open orders only: reused, it names the new order; the old one
        # is still there by its orderId
        _, again = await api.signed("POST", "/api/v3/order", {**order, "price": "58000", "newClientOrderId": cid})
        assert again["orderId"] != oid
        _, latest = await api.signed("GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": cid})
        assert (latest["orderId"], latest["status"], latest["price"]) == (again["orderId"], "NEW", "58000")
        _, by_cid_cancel = await api.signed("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": cid})
        assert by_cid_cancel["orderId"] == again["orderId"] and by_cid_cancel["status"] == "CANCELED"
        _, old = await api.signed("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": oid})
        assert old["price"] == "59000"
        # client ids outside Binance's rule are refused
        for bad in ("has space", "x" * 37, "semi;colon"):
            status, err = await api.signed(
                "POST", "/api/v3/order", {**order, "price": "58000", "newClientOrderId": bad}
            )
            assert (status, err["code"]) == (400, -1100) and "newClientOrderId" in err["msg"], bad

    run(scenario)


def test_signatures_are_checked_against_the_query_string_as_sent():
    async def scenario(server: BinanceServer, api: Api) -> None:
        await freeze(server)
        base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.001", "price": "59000"}
        # percent-encoded as sent, signed as sent: accepted, and the id decodes to its characters
        p = payload({**base, "newClientOrderId": "enc:a/1"})
        assert "enc%3Aa%2F1" in p
        status, placed = await api.send("POST", "/api/v3/order", "", f"{p}&signature={signature(p)}")
        assert status == 200 and placed["clientOrderId"] == "enc:a/1"
        # signed over the decoded text but sent encoded (what Binance refuses since 2026-01-15): -1022
        p2 = payload({**base, "newClientOrderId": "enc:a/2"})
        status, err = await api.send(
            "POST", "/api/v3/order", "", f"{p2}&signature={signature(p2.replace('%3A', ':').replace('%2F', '/'))}"
        )
        assert (status, err) == (400, {"code": -1022, "msg": "Signature for this request is not valid."})
        # sent unencoded (':' and '/' are legal in a query string) and signed that way: accepted
        raw = f"symbol=BTCUSDT&origClientOrderId=enc:a/1&timestamp={int(time.time() * 1000)}"
        status, got = await api.send("GET", "/api/v3/order", f"{raw}&signature={signature(raw)}", "")
        assert status == 200 and got["clientOrderId"] == "enc:a/1"
        # the same request signed over its encoded form: not what was sent, -1022
        status, err = await api.send("GET", "/api/v3/order", f"{raw}&signature={signature(quote(raw, safe='=&'))}", "")
        assert err["code"] == -1022
        # parameters in the query string and the body: the payload is the two without a separator
        q = f"symbol=BTCUSDT&origClientOrderId={quote('enc:a/1', safe='')}"
        b = payload({})
        status, canceled = await api.send("DELETE", "/api/v3/order", q, f"{b}&signature={signature(q + b)}")
        assert status == 200 and canceled["status"] == "CANCELED", canceled
        # HMAC hex is not case-sensitive; a wrong secret is -1022; no signature is -1102
        p3 = payload({"omitZeroBalances": "false"})
        status, _ = await api.send("GET", "/api/v3/account", f"{p3}&signature={signature(p3).upper()}", "")
        assert status == 200
        status, err = await api.signed("GET", "/api/v3/account", {}, secret="not-the-secret")
        assert (status, err["code"]) == (400, -1022)
        status, err = await api.send("GET", "/api/v3/account", payload({}), "")
        assert (status, err["code"]) == (400, -1102)
        p4 = payload({})
        status, err = await api.send("GET", "/api/v3/account", f"{p4}&signature=%C3%A9", "")
        assert (status, err["code"]) == (400, -1022)  # not hex at all (and not ASCII): refused, not a crash
        status, err = await api.signed("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": "\u00b2"})
        assert (status, err["code"]) == (400, -1100)  # a digit to Unicode, not to Binance

    run(scenario)


# ---- market orders and newOrderRespType --------------------------------------------------------------
async def balances(api: Api) -> dict[str, tuple[Decimal, Decimal]]:
    _, acct = await api.signed("GET", "/api/v3/account", {})
    return {b["asset"]: (D(b["free"]), D(b["locked"])) for b in acct["balances"]}


def test_market_orders_take_the_touch_and_expire_what_it_cannot_fill():
    async def scenario(server: BinanceServer, api: Api) -> None:
        await freeze(server)  # the still feed's book: 60000.00 x 0.3 bid, 60000.01 x 0.2 ask
        before = await balances(api)
        market = {"symbol": "BTCUSDT", "type": "MARKET"}

        # a buy the ask can fill: FILLED at the ask, as a taker, in the FULL shape (MARKET's default)
        status, buy = await api.signed("POST", "/api/v3/order", {**market, "side": "BUY", "quantity": "0.05"})
        assert status == 200, buy
        assert list(buy) == [
            "symbol", "orderId", "orderListId", "clientOrderId", "transactTime", "price", "origQty", "executedQty",
            "origQuoteOrderQty", "cummulativeQuoteQty", "status", "timeInForce", "type", "side", "workingTime",
            "selfTradePreventionMode", "fills",
        ]  # fmt: skip
        assert (buy["status"], buy["type"], buy["price"], buy["origQty"], buy["executedQty"]) == (
            "FILLED", "MARKET", "0", "0.05", "0.05",
        )  # fmt: skip
        assert [(f["price"], f["qty"]) for f in buy["fills"]] == [("60000.01", "0.05")]
        fee = D(buy["fills"][0]["commission"])
        assert buy["fills"][0]["commissionAsset"] == "USDT" and fee == D("3000.0005") * D("0.0001")  # taker, 1 bps
        assert D(buy["cummulativeQuoteQty"]) == D("3000.0005")
        after_buy = await balances(api)
        assert after_buy["BTC"] == (before["BTC"][0] + D("0.05"), D(0))
        assert after_buy["USDT"] == (before["USDT"][0] - D("3000.0005") - fee, D(0))  # the cost and the commission

        # a sell larger than the bid's 0.3: 0.3 at the bid, the rest expired (Binance: EXPIRED,
        # expiryReason INSUFFICIENT_LIQUIDITY), nothing left resting or locked
        status, sell = await api.signed("POST", "/api/v3/order", {**market, "side": "SELL", "quantity": "0.5"})
        assert status == 200, sell
        assert (sell["status"], sell["executedQty"], sell["expiryReason"]) == (
            "EXPIRED",
            "0.3",
            "INSUFFICIENT_LIQUIDITY",
        )
        assert [(f["price"], f["qty"]) for f in sell["fills"]] == [("60000", "0.3")]
        after_sell = await balances(api)
        assert after_sell["BTC"] == (after_buy["BTC"][0] - D("0.3"), D(0))
        _, queried = await api.signed("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": sell["orderId"]})
        assert (queried["status"], queried["executedQty"], queried["isWorking"]) == ("EXPIRED", "0.3", False)
        _, open_ = await api.signed("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"})
        assert open_ == []

        # quoteOrderQty: as much as 1000 USDT buys at the ask, down to the lot step
        status, quoted = await api.signed("POST", "/api/v3/order", {**market, "side": "BUY", "quoteOrderQty": "1000"})
        assert status == 200, quoted
        assert (quoted["status"], quoted["executedQty"], quoted["origQuoteOrderQty"]) == ("FILLED", "0.01666", "1000")
        assert D(quoted["cummulativeQuoteQty"]) == D("0.01666") * D("60000.01") <= 1000

        # account trades: the three takers' fills, isMaker false
        _, mine = await api.signed("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"})
        assert [(t["orderId"], t["qty"], t["isMaker"], t["isBuyer"]) for t in mine] == [
            (buy["orderId"], "0.05", False, True),
            (sell["orderId"], "0.3", False, False),
            (quoted["orderId"], "0.01666", False, True),
        ]

        # what a MARKET order may not carry, and what it must
        for params, code in (
            ({"side": "BUY", "quantity": "0.01", "price": "60000"}, -1106),
            ({"side": "BUY", "quantity": "0.01", "timeInForce": "GTC"}, -1106),
            ({"side": "BUY", "quantity": "0.01", "quoteOrderQty": "100"}, -1106),
            ({"side": "BUY"}, -1102),
            ({"side": "BUY", "quantity": "0.000001"}, -1013),  # off the lot step
            ({"side": "BUY", "quantity": "0.1", "newOrderRespType": "EVERYTHING"}, -1100),
        ):
            status, err = await api.signed("POST", "/api/v3/order", {**market, **params})
            assert (status, err["code"]) == (400, code), (params, err)

    run(scenario, {"BTCUSDT": still_feed()})


def test_new_order_answers_in_the_shape_asked_and_shows_fills_made_on_arrival():
    async def scenario(server: BinanceServer, api: Api) -> None:
        await freeze(server)
        ack_keys = ["symbol", "orderId", "orderListId", "clientOrderId", "transactTime"]
        market = {"symbol": "BTCUSDT", "type": "MARKET", "side": "BUY", "quantity": "0.01"}
        _, ack = await api.signed("POST", "/api/v3/order", {**market, "newOrderRespType": "ACK"})
        assert list(ack) == ack_keys
        _, result = await api.signed("POST", "/api/v3/order", {**market, "newOrderRespType": "RESULT"})
        assert "fills" not in result and (result["status"], result["executedQty"]) == ("FILLED", "0.01")
        _, full = await api.signed("POST", "/api/v3/order", {**market, "newOrderRespType": "FULL"})
        _, mine = await api.signed("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT", "orderId": full["orderId"]})
        assert [f["tradeId"] for f in full["fills"]] == [t["id"] for t in mine] and len(mine) == 1
        # the ACK'd order filled all the same
        _, q = await api.signed("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": ack["orderId"]})
        assert (q["status"], q["executedQty"]) == ("FILLED", "0.01")

        # LIMIT defaults to FULL: crossing, it takes at the ask at once and says so (not NEW with 0)
        limit = {"symbol": "BTCUSDT", "type": "LIMIT", "timeInForce": "GTC", "side": "BUY"}
        _, taker = await api.signed("POST", "/api/v3/order", {**limit, "quantity": "0.05", "price": "60010"})
        assert (taker["status"], taker["executedQty"]) == ("FILLED", "0.05")
        assert [(f["price"], f["qty"]) for f in taker["fills"]] == [("60000.01", "0.05")]
        # crossing for more than the ask shows: that much filled, the rest rests at its limit. The ask
        # showed 0.2; the three market buys and the taker above took 0.08 of it, and the frozen feed
        # shows no new book row: 0.12 is left
        _, part = await api.signed("POST", "/api/v3/order", {**limit, "quantity": "0.25", "price": "60010"})
        assert (part["status"], part["executedQty"]) == ("PARTIALLY_FILLED", "0.12")
        _, open_ = await api.signed("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"})
        assert [(o["orderId"], o["status"], o["executedQty"]) for o in open_] == [
            (part["orderId"], "PARTIALLY_FILLED", "0.12")
        ]
        # a resting LIMIT in FULL: NEW with no fills; LIMIT_MAKER defaults to ACK, and RESULT on request
        _, resting = await api.signed("POST", "/api/v3/order", {**limit, "quantity": "0.01", "price": "59000"})
        assert (resting["status"], resting["executedQty"], resting["fills"]) == ("NEW", "0", [])
        maker = {"symbol": "BTCUSDT", "type": "LIMIT_MAKER", "side": "SELL", "quantity": "0.01", "price": "61000"}
        _, default = await api.signed("POST", "/api/v3/order", maker)
        assert list(default) == ack_keys
        _, asked = await api.signed("POST", "/api/v3/order", {**maker, "newOrderRespType": "RESULT"})
        assert (asked["status"], asked["type"], asked["price"]) == (
            "NEW",
            "LIMIT_MAKER",
            "61000",
        ) and "fills" not in asked

    run(scenario, {"BTCUSDT": still_feed()})


def test_all_orders_lists_every_order_of_the_account():
    async def scenario(server: BinanceServer, api: Api) -> None:
        await freeze(server)
        ids = []
        for i, price in enumerate(("59000", "59001", "59002", "59003")):
            _, o = await api.signed(
                "POST",
                "/api/v3/order",
                {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.001", "price": price,
                 "newClientOrderId": f"all:{i}"},
            )  # fmt: skip
            ids.append(o["orderId"])
        await api.signed("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": ids[1]})
        _, listed = await api.signed("GET", "/api/v3/allOrders", {"symbol": "BTCUSDT"})
        assert [(o["orderId"], o["status"]) for o in listed] == [
            (ids[0], "NEW"), (ids[1], "CANCELED"), (ids[2], "NEW"), (ids[3], "NEW"),
        ]  # fmt: skip
        _, query = await api.signed("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": ids[0]})
        assert listed[0] == query  # the query's shape
        _, from_id = await api.signed("GET", "/api/v3/allOrders", {"symbol": "BTCUSDT", "orderId": ids[1], "limit": 2})
        assert [o["orderId"] for o in from_id] == ids[1:3]
        _, newest = await api.signed("GET", "/api/v3/allOrders", {"symbol": "BTCUSDT", "limit": 2})
        assert [o["orderId"] for o in newest] == ids[2:]
        _, later = await api.signed(
            "GET", "/api/v3/allOrders", {"symbol": "BTCUSDT", "startTime": int(time.time() * 1000) + 60_000}
        )
        assert later == []
        _, eth = await api.signed("GET", "/api/v3/allOrders", {"symbol": "ETHUSDT"})
        assert eth == []
        status, err = await api.signed("GET", "/api/v3/allOrders", {"startTime": 0, "endTime": 2 * 86_400_000})
        assert (status, err["code"]) == (400, -1102)
        status, err = await api.signed(
            "GET", "/api/v3/allOrders", {"symbol": "BTCUSDT", "startTime": 0, "endTime": 2 * 86_400_000}
        )
        assert (status, err["code"]) == (400, -1127)

    run(scenario)


def test_python_binance_market_order_and_its_user_stream_reports():
    async def scenario(server: BinanceServer, api: Api) -> None:
        await freeze(server)
        client = await client_class(api.url).create(KEY, SECRET)
        try:
            bsm = socket_manager_class(api.url)(client)
            async with bsm.user_socket() as user:
                answer = await client.create_order(
                    symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.5", newClientOrderId="pb.mkt.1"
                )
                assert (answer["status"], answer["executedQty"]) == ("EXPIRED", "0.3")
                reports: list[dict[str, Any]] = []
                while not any(r["x"] == "EXPIRED" for r in reports):
                    event = await asyncio.wait_for(user.recv(), 60)
                    if event.get("e") == "executionReport" and event["c"] == "pb.mkt.1":
                        reports.append(event)
            # as Binance reports a market order that ran out of liquidity: NEW, its trade, EXPIRED
            assert [(r["x"], r["X"]) for r in reports] == [
                ("NEW", "NEW"),
                ("TRADE", "PARTIALLY_FILLED"),
                ("EXPIRED", "EXPIRED"),
            ]
            trade = reports[1]
            assert (trade["l"], trade["L"], trade["m"], trade["o"]) == ("0.3", "60000", False, "MARKET")
            assert reports[2]["z"] == "0.3" and reports[2]["eR"] == "INSUFFICIENT_LIQUIDITY"
            with pytest.raises(BinanceAPIException) as e:
                await client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01", price="1")
            assert e.value.code == -1106
            # python-binance 1.0.37 signs a POST's parameters unencoded but sends them form-encoded: an id
            # with ':' fails as it does on Binance since 2026-01-15 (liqkit's own ids use '.' only)
            with pytest.raises(BinanceAPIException) as e:
                await client.create_order(
                    symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01", newClientOrderId="pb:colon"
                )
            assert e.value.code == -1022
        finally:
            await close_client(client)

    run(scenario, {"BTCUSDT": still_feed()})


def test_symbols_parameter_is_the_json_list_binance_documents():
    # the same list sent percent-encoded (as clients do) and as the documented plain text
    encoded = "symbols=" + quote(json.dumps(["BTCUSDT", "ETHUSDT"], separators=(",", ":")), safe="")
    assert encoded.startswith("symbols=%5B%22BTCUSDT%22")

    async def scenario(server: BinanceServer, api: Api) -> None:
        await freeze(server)
        _, a, _ = await api.get("/api/v3/ticker/price", raw_query=encoded)
        _, b, _ = await api.get("/api/v3/ticker/price", raw_query='symbols=["BTCUSDT","ETHUSDT"]')
        assert a == b and [x["symbol"] for x in a] == ["BTCUSDT", "ETHUSDT"]
        _, empty, _ = await api.get("/api/v3/ticker/price", raw_query="symbols=%5B%5D")
        assert empty == []

    run(scenario)


# ---- depth and takers walking it --------------------------------------------------------------------
def deep_feed(seconds: float = 30.0) -> MarketData:
    """The still feed with an L2 book behind its top, from a depth snapshot at its first row: bids
    60000.00 x 0.3 (the top), 59999.50 x 0.4, 59999.00 x 1; asks 60000.01 x 0.2 (the top), 60000.50 x 0.1,
    60001.00 x 0.5, 60002.00 x 2."""
    md = still_feed(seconds)
    bids = [(6_000_000, 30_000), (5_999_950, 40_000), (5_999_900, 100_000)]
    asks = [(6_000_001, 20_000), (6_000_050, 10_000), (6_000_100, 50_000), (6_000_200, 200_000)]
    rows = [(1, p, q) for p, q in bids] + [(-1, p, q) for p, q in asks]
    n = len(rows)
    depth = {
        "ts_local": np.full(n, md.book["ts_local"][0]),
        "update_id": np.full(n, 1_000),
        "reset": np.array([1] + [0] * (n - 1)),
        "side": np.array([r[0] for r in rows]),
        "price": np.array([r[1] for r in rows]),
        "qty": np.array([r[2] for r in rows]),
    }
    return MarketData.from_columns(md.rules, md.book, md.trades, "still, with depth", depth=depth)


def test_a_crossing_limit_order_walks_two_levels_of_the_depth():
    async def scenario(server: BinanceServer, api: Api) -> None:
        await freeze(server)
        assert server.venue.exchange.has_depth(0)
        _, depth, _ = await api.get("/api/v3/depth", symbol="BTCUSDT", limit=3)
        assert [(D(p), D(q)) for p, q in depth["bids"]] == [
            (D("60000"), D("0.3")),
            (D("59999.5"), D("0.4")),
            (D(59999), D(1)),
        ]
        assert [(D(p), D(q)) for p, q in depth["asks"]] == [
            (D("60000.01"), D("0.2")),
            (D("60000.5"), D("0.1")),
            (D(60001), D("0.5")),
        ]
        before = await balances(api)
        order = {"symbol": "BTCUSDT", "type": "LIMIT", "timeInForce": "GTC", "side": "BUY"}
        status, buy = await api.signed("POST", "/api/v3/order", {**order, "quantity": "0.35", "price": "60000.50"})
        assert status == 200, buy
        # level by level, each at its own price, as a taker; the rest rests at the limit
        assert [(D(f["price"]), D(f["qty"])) for f in buy["fills"]] == [
            (D("60000.01"), D("0.2")),
            (D("60000.5"), D("0.1")),
        ]
        cost = D("60000.01") * D("0.2") + D("60000.5") * D("0.1")
        assert (buy["status"], D(buy["executedQty"]), D(buy["cummulativeQuoteQty"])) == (
            "PARTIALLY_FILLED",
            D("0.3"),
            cost,
        )
        fees = sum(D(f["commission"]) for f in buy["fills"])
        assert fees == cost * D("0.0001")  # taker, 1 bps
        after = await balances(api)
        rest = D("60000.5") * D("0.05")
        assert after["USDT"] == (before["USDT"][0] - cost - fees - rest, rest)
        assert after["BTC"] == (before["BTC"][0] + D("0.3"), D(0))
        # the depth now: our rest is the best bid; what it took is gone from the asks
        _, depth, _ = await api.get("/api/v3/depth", symbol="BTCUSDT", limit=2)
        assert [(D(p), D(q)) for p, q in depth["bids"]] == [(D("60000.5"), D("0.05")), (D("60000"), D("0.3"))]
        assert [(D(p), D(q)) for p, q in depth["asks"]] == [(D(60001), D("0.5")), (D(60002), D(2))]
        _, mine = await api.signed("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT", "orderId": buy["orderId"]})
        assert [(D(t["price"]), t["isMaker"]) for t in mine] == [(D("60000.01"), False), (D("60000.5"), False)]

    run(scenario, {"BTCUSDT": deep_feed()})


def test_sim_server_replaying_a_depth_recording_answers_depth_with_as_many_levels_as_asked(tmp_path):
    """``liqkit sim-server --data <capture>`` with a REST snapshot and diff updates: GET /api/v3/depth
    answers the L2 book it rebuilt, up to ``limit`` levels a side."""
    t0 = 1_723_161_254_000_000_000
    path = tmp_path / "btcusdt_depth.gz"
    with CaptureWriter(path) as w:
        for k in range(300):  # 30 s of a still top: 60000.00 x 1 / 60000.02 x 1
            u = 20 + k
            top = {"u": u, "s": "BTCUSDT", "b": "60000.00", "B": "1.00000000", "a": "60000.02", "A": "1.00000000"}
            w.write(t0 + k * 100_000_000, {"stream": "btcusdt@bookTicker", "data": top})
            if k == 0:
                snap = {
                    "lastUpdateId": 10,
                    "bids": [["60000.00", "1.0"], ["59999.99", "2.0"], ["59999.98", "3.0"], ["59999.97", "4.0"]],
                    "asks": [["60000.02", "1.0"], ["60000.03", "5.0"], ["60000.04", "6.0"], ["60000.05", "7.0"]],
                }
                w.write(t0 + 1_000_000, snap)
                diff = {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": 11, "u": 12}
                diff |= {"b": [["59999.96", "8.0"]], "a": [["60000.05", "0.0"]]}
                w.write(t0 + 2_000_000, {"stream": "btcusdt@depth@100ms", "data": diff})
    port = free_port()
    env = dict(os.environ, LIQKIT_SIM_API_KEY=KEY, LIQKIT_SIM_API_SECRET=SECRET)
    cmd = [sys.executable, "-m", "liqkit.cli", "sim-server", "--port", str(port), "--data", str(path)]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    served = ProcessOutput(proc)

    def depth(limit: int) -> dict[str, Any]:
        url = f"http://127.0.0.1:{port}/api/v3/depth?symbol=BTCUSDT&limit={limit}"
        with urllib.request.urlopen(url, timeout=30) as r:
            return json.loads(r.read())

    try:
        served.wait_for_line(lambda ln: "Binance spot API for BTCUSDT" in ln, what="the server's banner")
        wait_for(lambda: accepts(port), 60, "the server to accept connections")
        wait_for(lambda: len(depth(100)["bids"]) == 5, 60, "the book rebuilt from the snapshot and its update")
        full = depth(100)
        assert [(D(p), D(q)) for p, q in full["bids"]] == [
            (D("60000"), D(1)),
            (D("59999.99"), D(2)),
            (D("59999.98"), D(3)),
            (D("59999.97"), D(4)),
            (D("59999.96"), D(8)),
        ]
        assert [(D(p), D(q)) for p, q in full["asks"]] == [
            (D("60000.02"), D(1)),
            (D("60000.03"), D(5)),
            (D("60000.04"), D(6)),
        ]
        two = depth(2)
        assert (two["bids"], two["asks"]) == (full["bids"][:2], full["asks"][:2])
        assert depth(5000)["bids"] == full["bids"]
    finally:
        proc.send_signal(signal.SIGINT)
        code, _out, err = served.finish(60)
    assert code == 0, err
