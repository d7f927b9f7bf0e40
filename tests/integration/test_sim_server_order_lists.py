"""sim-server's OCO order lists, over raw REST, the raw WebSocket API and python-binance: placement in
Binance's shape, the take-profit leg filling (the stop expires), the stop triggering (the take-profit
expires), cancels of the list and of the symbol's open orders, queries, the user stream's
``executionReport`` and ``listStatus`` events, and Binance's errors.

The markets: the still one (``markets.still_feed``, stopped for exact checks) and the drifting ones
(``markets.drifting_feed``), whose last trade price walks up (reaching a take-profit above) or down
(reaching a stop below) at 10 cents a second.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import yarl
from binance.exceptions import BinanceAPIException
from markets import drifting_feed, settle, still_feed
from processes import until

from liqkit.data.feed import MarketData
from liqkit.domain.config import SimConfig
from liqkit.venues.binance import client_class, close_client
from liqkit.venues.binance_server.server import BinanceServer

KEY, SECRET = "oco-key-0123456789", "oco-secret-abcdefghijklmnop"
D = Decimal
SYM = "BTCUSDT"


def sign(params: dict[str, Any]) -> str:
    q = urlencode({**params, "timestamp": int(time.time() * 1000), "recvWindow": 10_000})
    return f"{q}&signature={hmac.new(SECRET.encode(), q.encode(), hashlib.sha256).hexdigest()}"


def ws_signed(params: dict[str, Any]) -> dict[str, Any]:
    p = {**params, "apiKey": KEY, "timestamp": int(time.time() * 1000)}
    text = "&".join(f"{k}={v}" for k, v in sorted(p.items()))
    p["signature"] = hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()
    return p


class Rest:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url

    async def __call__(self, method: str, path: str, **params: Any) -> tuple[int, Any]:
        body = sign(params)
        post = method == "POST"
        url = yarl.URL(f"{self.url}{path}" + ("" if post else f"?{body}"), encoded=True)
        headers = {"X-MBX-APIKEY": KEY}
        if post:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        async with self.session.request(method, url, data=body if post else None, headers=headers) as r:
            return r.status, await r.json()


class UserStream:
    """The user data stream over the WebSocket API (``userDataStream.subscribe.signature``): every event kept."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.answers: dict[str, dict[str, Any]] = {}
        self._n = 0

    async def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._n += 1
        rid = f"r{self._n}"
        await self.ws.send_str(json.dumps({"id": rid, "method": method, "params": ws_signed(params)}))
        while rid not in self.answers:
            await self._read()
        return self.answers.pop(rid)

    async def _read(self) -> None:
        m = json.loads((await self.ws.receive(timeout=60)).data)
        if "event" in m:
            self.events.append(m["event"])
        else:
            self.answers[m["id"]] = m

    async def until(self, pred: Any, what: str) -> list[dict[str, Any]]:
        """Read events until ``pred(events)`` holds (60 s at most)."""
        end = time.monotonic() + 60
        while not pred(self.events):
            assert time.monotonic() < end, f"no {what} in {self.events}"
            await self._read()
        return self.events


def mine(events: list[dict[str, Any]], list_id: int) -> list[tuple[str, ...]]:
    """The list's own events in order: ("report", clientOrderId, x, X) and ("list", l, L) (a cancel's
    report names the order in ``C``, its ``c`` is the cancel's own id)."""
    out: list[tuple[str, ...]] = []
    for e in events:
        if e.get("e") == "executionReport" and e["g"] == list_id:
            out.append(("report", e["C"] if e["x"] == "CANCELED" else e["c"], e["x"], e["X"]))
        elif e.get("e") == "listStatus" and e["g"] == list_id:
            out.append(("list", e["l"], e["L"]))
    return out


def run(scenario: Any, data: MarketData, speed: float = 1.0) -> None:
    async def main() -> None:
        sim = SimConfig(balances={"BTC": D(2), "USDT": D(200_000)})
        server = BinanceServer([SYM], {KEY: SECRET}, sim, {SYM: data}, speed=speed)
        runner, url = await server.listen()
        try:
            ws_url = f"{url.replace('http', 'ws')}/ws-api/v3"
            async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
                user = UserStream(ws)
                sub = await user.call("userDataStream.subscribe.signature", {})
                assert sub["status"] == 200, sub
                await until(lambda: server.tapes[SYM].trades and server._book(SYM).bid, 60, "a trade and a book")
                await scenario(server, Rest(session, url), user, url)
        finally:
            await runner.cleanup()

    asyncio.run(main())


def last(server: BinanceServer) -> Decimal:
    return D(server._last_price(SYM))


SELL_OCO = {
    "symbol": SYM,
    "side": "SELL",
    "quantity": "0.01",
    "aboveType": "LIMIT_MAKER",
    "abovePrice": "60100.00",
    "aboveClientOrderId": "oco.tp.1",
    "belowType": "STOP_LOSS_LIMIT",
    "belowStopPrice": "59900.00",
    "belowPrice": "59890.00",
    "belowTimeInForce": "GTC",
    "belowClientOrderId": "oco.sl.1",
    "listClientOrderId": "oco.list.1",
}


def test_rest_oco_placed_queried_and_cancelled_in_binance_shapes_with_its_user_stream_events():
    async def scenario(server: BinanceServer, rest: Rest, user: UserStream, url: str) -> None:
        await settle(server)  # the market is still: the last trade is 60000.00 or 60000.01
        status, placed = await rest("POST", "/api/v3/orderList/oco", **SELL_OCO)
        assert status == 200, placed
        lid = placed["orderListId"]
        assert (placed["contingencyType"], placed["listStatusType"], placed["listOrderStatus"]) == (
            "OCO",
            "EXEC_STARTED",
            "EXECUTING",
        )
        assert placed["listClientOrderId"] == "oco.list.1" and placed["symbol"] == SYM
        # below (the stop) first, then above (the take-profit), as Binance lists a SELL OCO
        assert [o["clientOrderId"] for o in placed["orders"]] == ["oco.sl.1", "oco.tp.1"]
        stop, tp = placed["orderReports"]
        assert [o["orderId"] for o in placed["orders"]] == [stop["orderId"], tp["orderId"]]
        assert (stop["type"], stop["status"], stop["stopPrice"], stop["price"], stop["workingTime"]) == (
            "STOP_LOSS_LIMIT",
            "NEW",
            "59900",
            "59890",
            -1,
        )
        assert (tp["type"], tp["status"], tp["price"], tp["origQty"]) == ("LIMIT_MAKER", "NEW", "60100", "0.01")
        assert tp["workingTime"] > 0 and stop["orderListId"] == tp["orderListId"] == lid
        # the take-profit rests on the book; the stop waits off it
        bids, asks = server._levels(SYM)
        assert (6_010_000, 1_000) in asks and not any(p == 5_989_000 for p, _ in bids)
        status, got = await rest("GET", "/api/v3/orderList", orderListId=lid)
        assert status == 200 and got["orders"] == placed["orders"] and got["listOrderStatus"] == "EXECUTING"
        status, by_cid = await rest("GET", "/api/v3/orderList", origClientOrderId="oco.list.1")
        assert by_cid["orderListId"] == lid
        status, open_lists = await rest("GET", "/api/v3/openOrderList")
        assert [x["orderListId"] for x in open_lists] == [lid]
        status, open_orders = await rest("GET", "/api/v3/openOrders", symbol=SYM)
        assert sorted((o["clientOrderId"], o["orderListId"], o["isWorking"]) for o in open_orders) == [
            ("oco.sl.1", lid, False),
            ("oco.tp.1", lid, True),
        ]
        await user.until(lambda ev: ("list", "EXEC_STARTED", "EXECUTING") in mine(ev, lid), "EXEC_STARTED")

        status, cancelled = await rest("DELETE", "/api/v3/orderList", symbol=SYM, orderListId=lid)
        assert status == 200, cancelled
        assert (cancelled["listStatusType"], cancelled["listOrderStatus"]) == ("ALL_DONE", "ALL_DONE")
        assert [r["status"] for r in cancelled["orderReports"]] == ["CANCELED", "CANCELED"]
        bids, asks = server._levels(SYM)
        assert (6_010_000, 1_000) not in asks
        assert (await rest("GET", "/api/v3/openOrderList"))[1] == []
        assert (await rest("GET", "/api/v3/openOrders", symbol=SYM))[1] == []
        events = await user.until(lambda ev: ("list", "ALL_DONE", "ALL_DONE") in mine(ev, lid), "ALL_DONE")
        assert mine(events, lid) == [
            ("report", "oco.tp.1", "NEW", "NEW"),
            ("report", "oco.sl.1", "NEW", "NEW"),
            ("list", "EXEC_STARTED", "EXECUTING"),
            ("report", "oco.tp.1", "CANCELED", "CANCELED"),
            ("report", "oco.sl.1", "CANCELED", "CANCELED"),
            ("list", "ALL_DONE", "ALL_DONE"),
        ]
        stop_report = next(e for e in events if e.get("e") == "executionReport" and e["c"] == "oco.sl.1")
        assert (stop_report["o"], stop_report["P"], stop_report["w"]) == ("STOP_LOSS_LIMIT", "59900", False)
        # a cancelled list is not open: cancelling it again is refused
        status, again = await rest("DELETE", "/api/v3/orderList", symbol=SYM, orderListId=lid)
        assert (status, again["code"]) == (400, -2011)

    run(scenario, still_feed())


def test_rest_oco_errors_are_binances():
    async def scenario(server: BinanceServer, rest: Rest, user: UserStream, url: str) -> None:
        await settle(server)

        async def refused(**change: str) -> tuple[int, str]:
            params = {**SELL_OCO, **change}
            for k in [k for k, v in change.items() if v == ""]:
                del params[k]
            status, body = await rest("POST", "/api/v3/orderList/oco", **params)
            assert status == 400, body
            return body["code"], body["msg"]

        assert await refused(abovePrice="59950.00") == (
            -2010,
            "The relationship of the prices for the orders is not correct.",
        )
        assert (await refused(belowStopPrice="60050.00"))[0] == -2010
        assert await refused(aboveType="STOP_LOSS", belowType="LIMIT_MAKER") == (
            -1166,
            "A limit order in a sell OCO must be above.",
        )
        assert (await refused(side="BUY"))[0] == -1165
        assert await refused(belowType="LIMIT_MAKER", belowStopPrice="", belowTimeInForce="") == (
            -1168,
            "At least one OCO order must be contingent.",
        )
        assert (await refused(aboveType="STOP_LOSS", abovePrice="", aboveStopPrice="60100"))[0] == -1167
        assert (await refused(aboveType="TAKE_PROFIT_LIMIT"))[0] == -1158
        code, msg = await refused(belowStopPrice="")
        assert code == -1102 and "'belowStopPrice'" in msg, msg
        code, msg = await refused(belowTimeInForce="")
        assert code == -1102 and "'belowTimeInForce'" in msg, msg
        code, msg = await refused(aboveType="LIMIT")
        assert code == -1100 and "'aboveType'" in msg, msg
        assert (await refused(quantity="0.000001"))[0] == -1013  # not on the lot grid
        # nothing was placed by the refused lists
        assert (await rest("GET", "/api/v3/openOrders", symbol=SYM))[1] == []
        status, body = await rest("GET", "/api/v3/orderList", orderListId=99)
        assert (status, body["code"], body["msg"]) == (400, -2013, "Order list does not exist.")
        status, body = await rest("GET", "/api/v3/orderList")
        assert (status, body["code"]) == (400, -1102)
        status, body = await rest("DELETE", "/api/v3/orderList", symbol=SYM, listClientOrderId="nope")
        assert (status, body["code"]) == (400, -2011)
        # a duplicate listClientOrderId while the first list is open
        assert (await rest("POST", "/api/v3/orderList/oco", **SELL_OCO))[0] == 200
        other = {"aboveClientOrderId": "oco.tp.2", "belowClientOrderId": "oco.sl.2"}
        assert (await refused(**other))[0] == -2010

    run(scenario, still_feed())


def test_python_binance_oco_take_profit_fills_and_the_stop_expires():
    async def scenario(server: BinanceServer, rest: Rest, user: UserStream, url: str) -> None:
        client = await client_class(url).create(KEY, SECRET)
        try:
            price = last(server)  # rising 10 cents a second from 60000.00
            placed = await client.create_oco_order(
                symbol=SYM,
                side="SELL",
                quantity="0.01",
                aboveType="LIMIT_MAKER",
                abovePrice=f"{price + D('0.50'):.2f}",
                aboveClientOrderId="pb.tp",
                belowType="STOP_LOSS",
                belowStopPrice=f"{price - D('5'):.2f}",
                belowClientOrderId="pb.sl",
            )
            lid = placed["orderListId"]
            assert placed["listStatusType"] == "EXEC_STARTED" and placed["listClientOrderId"]
            events = await user.until(lambda ev: ("list", "ALL_DONE", "ALL_DONE") in mine(ev, lid), "the fill")
            assert mine(events, lid) == [
                ("report", "pb.tp", "NEW", "NEW"),
                ("report", "pb.sl", "NEW", "NEW"),
                ("list", "EXEC_STARTED", "EXECUTING"),
                ("report", "pb.tp", "TRADE", "FILLED"),
                ("report", "pb.sl", "EXPIRED", "EXPIRED"),
                ("list", "ALL_DONE", "ALL_DONE"),
            ]
            got = await client.ws_get_oco_order(orderListId=lid)
            assert (got["listStatusType"], got["listOrderStatus"]) == ("ALL_DONE", "ALL_DONE")
            tp = await client.get_order(symbol=SYM, origClientOrderId="pb.tp")
            sl = await client.get_order(symbol=SYM, origClientOrderId="pb.sl")
            assert (tp["status"], tp["executedQty"], tp["orderListId"]) == ("FILLED", "0.01", lid)
            assert (sl["status"], sl["executedQty"], sl["type"]) == ("EXPIRED", "0", "STOP_LOSS")
            assert await client.get_open_oco_orders() == []
            trades = await client.get_my_trades(symbol=SYM)
            assert [(t["orderId"], t["orderListId"]) for t in trades] == [(tp["orderId"], lid)]
        finally:
            await close_client(client)

    run(scenario, drifting_feed(+1))


def test_ws_api_oco_stop_triggers_sells_at_market_and_the_take_profit_expires():
    async def scenario(server: BinanceServer, rest: Rest, user: UserStream, url: str) -> None:
        price = last(server)  # falling 10 cents a second from 60000.00; the book's bid stays at 60000.00
        answer = await user.call(
            "orderList.place.oco",
            {
                "symbol": SYM,
                "side": "SELL",
                "quantity": "0.02",
                "aboveType": "LIMIT_MAKER",
                "abovePrice": f"{price + D('5'):.2f}",
                "aboveClientOrderId": "ws.tp",
                "belowType": "STOP_LOSS",
                "belowStopPrice": f"{price - D('0.50'):.2f}",
                "belowClientOrderId": "ws.sl",
            },
        )
        assert answer["status"] == 200, answer
        lid = answer["result"]["orderListId"]
        assert any(x["rateLimitType"] == "ORDERS" for x in answer["rateLimits"])
        events = await user.until(
            lambda ev: ("report", "ws.sl", "TRADE", "FILLED") in mine(ev, lid), "the stop's market fill"
        )
        assert mine(events, lid) == [
            ("report", "ws.tp", "NEW", "NEW"),
            ("report", "ws.sl", "NEW", "NEW"),
            ("list", "EXEC_STARTED", "EXECUTING"),
            ("report", "ws.tp", "EXPIRED", "EXPIRED"),
            ("list", "ALL_DONE", "ALL_DONE"),
            ("report", "ws.sl", "NEW", "NEW"),  # triggered: it goes to the matching as a market order
            ("report", "ws.sl", "TRADE", "FILLED"),
        ]
        fill = next(e for e in events if e.get("e") == "executionReport" and e["c"] == "ws.sl" and e["x"] == "TRADE")
        assert (fill["L"], fill["l"], fill["m"], fill["o"]) == ("60000", "0.02", False, "STOP_LOSS")
        status = await user.call("orderList.status", {"orderListId": lid})
        assert status["result"]["listOrderStatus"] == "ALL_DONE"
        sl = await user.call("order.status", {"symbol": SYM, "origClientOrderId": "ws.sl"})
        assert (sl["result"]["status"], sl["result"]["isWorking"] is False) == ("FILLED", True)
        assert (await user.call("openOrderLists.status", {}))["result"] == []
        gone = await user.call("orderList.cancel", {"symbol": SYM, "orderListId": lid})
        assert (gone["status"], gone["error"]["code"]) == (400, -2011)

    run(scenario, drifting_feed(-1))


def test_python_binance_ws_oco_cancel_and_cancel_all_take_the_lists_with_them():
    async def scenario(server: BinanceServer, rest: Rest, user: UserStream, url: str) -> None:
        await settle(server)
        client = await client_class(url).create(KEY, SECRET)
        try:
            first = await client.ws_create_oco_order(**SELL_OCO)
            got = await client.ws_get_oco_order(listClientOrderId="oco.list.1")
            assert got["orderListId"] == first["orderListId"] and got["listOrderStatus"] == "EXECUTING"
            done = await client.ws_cancel_oco_order(symbol=SYM, listClientOrderId="oco.list.1")
            assert done["listOrderStatus"] == "ALL_DONE"
            assert [r["status"] for r in done["orderReports"]] == ["CANCELED", "CANCELED"]
            # cancelling one leg cancels its list; cancelling the symbol's open orders answers the lists
            second = await client.ws_create_oco_order(**{**SELL_OCO, "listClientOrderId": "oco.list.2"})
            await client.cancel_order(symbol=SYM, origClientOrderId="oco.sl.1")
            got = await client.ws_get_oco_order(orderListId=second["orderListId"])
            assert got["listOrderStatus"] == "ALL_DONE"
            tp = await client.get_order(symbol=SYM, origClientOrderId="oco.tp.1")
            assert tp["status"] == "CANCELED"
            third = await client.create_oco_order(**{**SELL_OCO, "listClientOrderId": "oco.list.3"})
            plain = await client.create_order(
                symbol=SYM, side="BUY", type="LIMIT_MAKER", quantity="0.01", price="59000", newClientOrderId="plain"
            )
            answer = await client.cancel_all_open_orders(symbol=SYM)
            lists = [a for a in answer if "orderListId" in a and a.get("contingencyType") == "OCO"]
            singles = [a for a in answer if "contingencyType" not in a]
            assert [x["orderListId"] for x in lists] == [third["orderListId"]]
            assert [s["orderId"] for s in singles] == [plain["orderId"]]
            assert await client.get_open_oco_orders() == [] and await client.get_open_orders(symbol=SYM) == []
            with pytest.raises(BinanceAPIException) as e:
                await client.ws_get_oco_order(orderListId=12345)
            assert e.value.code == -2013
        finally:
            await close_client(client)

    run(scenario, still_feed())
