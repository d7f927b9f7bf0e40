"""The account's order lists at the local Binance: OCO (one cancels the other), whatever the transport.

``POST /api/v3/orderList/oco`` / ``orderList.place.oco`` places two legs of one quantity: a LIMIT_MAKER
(the take-profit: above the last trade price for a SELL, below it for a BUY) that rests on the book, and a
STOP_LOSS or STOP_LOSS_LIMIT (the stop: on the other side of the last price) that waits off the book until
a public trade reaches its ``stopPrice``, then goes to the matching (at once) as a MARKET or LIMIT order. The first
leg to fill (even partly) or to trigger expires the other, and the list is done. ``DELETE
/api/v3/orderList`` / ``orderList.cancel`` (or a cancel of either leg, or of the symbol's open orders)
cancels both. ``GET /api/v3/orderList`` / ``orderList.status`` and ``GET /api/v3/openOrderList`` /
``openOrderLists.status`` answer the lists in Binance's shape. The user data stream gets an
``executionReport`` for each leg's change and a ``listStatus`` event when the list starts and ends.

The legs themselves are ``Orders``' orders (``orderListId`` set): placed, filled, reported and queried as
any other; this module keeps the lists and the stop trigger, fed by the public trades the server plays.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from liqkit.domain.types import Side
from liqkit.engine.ids import is_valid_client_id
from liqkit.engine.latency import CANCEL, PLACE
from liqkit.venues.binance_server import params as pp
from liqkit.venues.binance_server.auth import ApiError
from liqkit.venues.binance_server.orders import (
    CID_RANGE,
    OPEN_STATUSES,
    RESP_TYPES,
    STOP_TYPES,
    NewOrder,
    Orders,
    generated_id,
)

LEG_TYPES = ("LIMIT_MAKER", *STOP_TYPES)  # the leg types served (Binance's TAKE_PROFIT ones are not)
_ALL_LEG_TYPES = (*LEG_TYPES, "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
_LEG_PARAMS = ("price", "stopPrice", "timeInForce", "clientOrderId", "icebergQty", "trailingDelta")
BAD_PRICES = "The relationship of the prices for the orders is not correct."


@dataclass(eq=False)
class OrderList:
    """One OCO: its id, client id, the legs' order ids (below first, as Binance lists them) and its state."""

    list_id: int
    client_id: str
    symbol: str
    below: int
    above: int
    stop: NewOrder  # the stop leg's order, as it goes to the matching when it triggers
    stop_id: int
    limit_id: int
    status_type: str = "EXEC_STARTED"  # Binance's listStatusType
    order_status: str = "EXECUTING"  # listOrderStatus
    time: int = 0

    @property
    def open(self) -> bool:
        return self.order_status == "EXECUTING"


class OrderLists:
    """The account's order lists by ``orderListId``; ``last_price(symbol)``: the last public trade's price
    (ticks; 0 before the first)."""

    def __init__(self, orders: Orders, last_price: Callable[[str], int]) -> None:
        self.orders = orders
        self.last_price = last_price
        self.lists: dict[int, OrderList] = {}
        self.by_cid: dict[str, int] = {}
        self._next_id = 1
        self._tasks: set[asyncio.Task[None]] = set()
        orders.leg_changed = self.leg_changed

    # ---- placing ------------------------------------------------------------------------------------
    def _leg(self, p: Mapping[str, str], where: str, kind: str) -> NewOrder:
        """One leg's order, read from the list's ``above*`` or ``below*`` parameters (errors name those)."""
        q = {k: p[k] for k in ("symbol", "side", "quantity", "selfTradePreventionMode") if k in p}
        q["type"] = kind
        for name in _LEG_PARAMS:
            value = p.get(where + name[0].upper() + name[1:])
            if value is not None:
                q["newClientOrderId" if name == "clientOrderId" else name] = value
        for name in ("icebergQty", "trailingDelta"):
            if name in q:
                raise ApiError(-1106, f"Parameter '{where}{name[0].upper()}{name[1:]}' is not served here.")
        try:
            return self.orders.parse_new(q, LEG_TYPES)
        except ApiError as e:
            msg = e.msg
            for name in ("price", "stopPrice", "timeInForce"):
                msg = msg.replace(f"'{name}'", f"'{where}{name[0].upper()}{name[1:]}'")
            msg = msg.replace("'newClientOrderId'", f"'{where}ClientOrderId'")
            raise ApiError(e.code, msg, e.status) from None

    async def place_oco(self, p: Mapping[str, str]) -> dict[str, Any]:
        """``POST /api/v3/orderList/oco`` / ``orderList.place.oco``: the new list's answer."""
        sym = pp.symbol(p, self.orders.venue.exchange.index)
        above_type = pp.choice(p, "aboveType", _ALL_LEG_TYPES)
        below_type = pp.choice(p, "belowType", _ALL_LEG_TYPES)
        if above_type not in LEG_TYPES or below_type not in LEG_TYPES:
            raise ApiError(-1158, "Order type not supported in OCO.")
        if above_type == below_type == "LIMIT_MAKER":
            raise ApiError(-1168, "At least one OCO order must be contingent.")
        if "LIMIT_MAKER" not in (above_type, below_type):
            raise ApiError(-1167, "Both OCO orders cannot be contingent.")
        try:
            side = Side.parse(p.get("side", ""))
        except ValueError:
            raise ApiError(-1117, "Invalid side.") from None
        if side is Side.SELL and below_type == "LIMIT_MAKER":
            raise ApiError(-1166, "A limit order in a sell OCO must be above.")
        if side is Side.BUY and above_type == "LIMIT_MAKER":
            raise ApiError(-1165, "A limit order in a buy OCO must be below.")
        pp.choice(p, "newOrderRespType", RESP_TYPES, "ACK")
        list_cid = p.get("listClientOrderId") or generated_id()
        if not is_valid_client_id(list_cid):
            raise pp.illegal("listClientOrderId", CID_RANGE)
        known = self.lists.get(self.by_cid.get(list_cid, -1))
        if known is not None and known.open:
            raise ApiError(-2010, "Duplicate order sent.")
        below, above = self._leg(p, "below", below_type), self._leg(p, "above", above_type)
        limit, stop = (above, below) if side is Side.SELL else (below, above)
        if limit.client_id == stop.client_id:
            raise ApiError(-2010, "Duplicate order sent.")
        self.orders.check_unique(stop.client_id)
        last = self.last_price(sym)
        if not last:
            bk = self.orders.venue.exchange.books[self.orders.venue.exchange.index[sym]]
            last = (bk.bid + bk.ask) // 2
        ok = limit.price > last > stop.stop_price if side is Side.SELL else limit.price < last < stop.stop_price
        if not ok:
            raise ApiError(-2010, BAD_PRICES)
        now = self.orders.clock()
        self.orders._count_new(now)
        self.orders._count_new(now)  # an OCO adds two orders to the unfilled-order count
        await self.orders._arrive(PLACE)  # the request's way to the matching (the [sim] latency model)
        list_id = self._next_id
        self._next_id += 1
        first_id = self.orders.reserve_id() if side is Side.SELL else -1  # ids in the order Binance lists them
        limit_order = await self.orders.enter(limit, list_id)
        stop_id = first_id if first_id >= 0 else self.orders.reserve_id()
        stop_order = self.orders.record(stop, stop_id, list_id, stop.client_id, self.orders.clock())
        self.orders.report(stop_order, "NEW")
        below_id, above_id = (
            (stop_id, limit_order["orderId"]) if side is Side.SELL else (limit_order["orderId"], stop_id)
        )
        ol = OrderList(list_id, list_cid, sym, below_id, above_id, stop, stop_id, limit_order["orderId"], time=now)
        self.lists[list_id] = ol
        self.by_cid[list_cid] = list_id
        self._status_event(ol)
        if not limit_order["isWorking"]:  # the take-profit leg ended on arrival (self-trade prevention)
            self._finish(ol, stop_order, "EXPIRED")
        return self._answer(ol, "RESULT")

    # ---- the legs' life -------------------------------------------------------------------------------
    def on_trade(self, symbol: str, price: int) -> None:
        """A public trade: each open list's waiting stop leg it reaches triggers (SELL: at or below its
        stopPrice; BUY: at or above), the take-profit leg expires, and the list is done."""
        for ol in list(self.lists.values()):
            if not ol.open or ol.symbol != symbol:
                continue
            stop = ol.stop
            if (price <= stop.stop_price) if stop.side is Side.SELL else (price >= stop.stop_price):
                limit_order = self.orders.orders[ol.limit_id]
                if limit_order["status"] in OPEN_STATUSES:
                    self.orders.venue.exchange.cancel(limit_order["_key"])  # in the matching, at once
                    self.orders.venue._push_balances(symbol, self.orders.clock())
                    self._expire(limit_order)
                self._done(ol)
                task = asyncio.get_running_loop().create_task(self._trigger(ol))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _trigger(self, ol: OrderList) -> None:
        """The triggered stop leg goes to the matching as a MARKET (STOP_LOSS) or LIMIT (STOP_LOSS_LIMIT) order."""
        order = self.orders.orders[ol.stop_id]
        try:
            await self.orders.enter(ol.stop, ol.list_id, waiting=order)
        except ApiError:  # refused by the matching (a balance gone meanwhile): the stop order expires
            self._expire(order)

    def leg_changed(self, order: dict[str, Any], event: str) -> dict[str, Any] | None:
        """``Orders``' hook: a leg traded (the take-profit leg's first fill expires the waiting stop) or was
        cancelled (the other leg is cancelled too); the list's cancel answer when this finished it."""
        ol = self.lists.get(order["orderListId"])
        if ol is None or not ol.open:
            return None
        other = self.orders.orders[ol.stop_id if order["orderId"] == ol.limit_id else ol.limit_id]
        if event == "TRADE":
            if order["orderId"] == ol.limit_id:
                self._finish(ol, other, "EXPIRED")
            return None
        self._finish(ol, other, "CANCELED")
        return self._answer(ol, "RESULT")

    def _finish(self, ol: OrderList, other: dict[str, Any], how: str) -> None:
        """The list is done: its other leg (if still open) expired or cancelled, and ``listStatus`` ALL_DONE."""
        if other["status"] in OPEN_STATUSES:
            if other["isWorking"]:
                self.orders.venue.exchange.cancel(other["_key"])
                self.orders.venue._push_balances(ol.symbol, self.orders.clock())
            if how == "EXPIRED":
                self._expire(other)
            else:
                self.orders._canceled(other, generated_id())
        self._done(ol)

    def _expire(self, order: dict[str, Any]) -> None:
        order.update(status="EXPIRED", isWorking=False, updateTime=self.orders.clock())
        self.orders.report(order, "EXPIRED")

    def _done(self, ol: OrderList) -> None:
        ol.status_type = ol.order_status = "ALL_DONE"
        self._status_event(ol)

    def _status_event(self, ol: OrderList) -> None:
        now = self.orders.clock()
        self.orders.emit(
            {
                "e": "listStatus",
                "E": now,
                "s": ol.symbol,
                "g": ol.list_id,
                "c": "OCO",
                "l": ol.status_type,
                "L": ol.order_status,
                "r": "NONE",
                "C": ol.client_id,
                "T": now,
                "O": [
                    {"s": ol.symbol, "i": oid, "c": self.orders.orders[oid]["clientOrderId"]}
                    for oid in (ol.below, ol.above)
                ],
            }
        )

    # ---- cancelling and queries -----------------------------------------------------------------------
    def _find(self, p: Mapping[str, str], code: int, msg: str) -> OrderList:
        lid, cid = pp.integer(p, "orderListId"), p.get("listClientOrderId") or p.get("origClientOrderId") or None
        if lid is None and cid is None:
            raise ApiError(-1102, "Param 'listClientOrderId' or 'orderListId' must be sent, but both were empty/null!")
        ol = self.lists.get(lid if lid is not None else self.by_cid.get(cid or "", -1))
        if ol is None or (cid is not None and ol.client_id != cid):
            raise ApiError(code, msg)
        return ol

    async def cancel(self, p: Mapping[str, str]) -> dict[str, Any]:
        """``DELETE /api/v3/orderList`` / ``orderList.cancel``: both legs cancelled."""
        sym = pp.symbol(p, self.orders.venue.exchange.index)
        ol = self._find(p, -2011, "Unknown order list sent.")
        if ol.symbol != sym or not ol.open:
            raise ApiError(-2011, "Unknown order list sent.")
        cancel_id = p.get("newClientOrderId") or generated_id()
        if not is_valid_client_id(cancel_id):
            raise pp.illegal("newClientOrderId", CID_RANGE)
        await self.orders._arrive(CANCEL)
        if not ol.open:  # done while the cancel travelled
            raise ApiError(-2011, "Unknown order list sent.")
        limit_order = self.orders.orders[ol.limit_id]
        if limit_order["isWorking"]:
            await self.orders._cancel(
                {"symbol": sym, "orderId": str(ol.limit_id)}, sym, "orderId", "origClientOrderId", "newClientOrderId"
            )  # the hook cancels the stop leg and ends the list
        if ol.open:  # (the take-profit leg was gone already)
            self._finish(ol, self.orders.orders[ol.stop_id], "CANCELED")
        return self._answer(ol, "RESULT")

    def query(self, p: Mapping[str, str]) -> dict[str, Any]:
        """``GET /api/v3/orderList`` / ``orderList.status``."""
        return self._shape(self._find(p, -2013, "Order list does not exist."))

    def open_lists(self, p: Mapping[str, str]) -> list[dict[str, Any]]:
        """``GET /api/v3/openOrderList`` / ``openOrderLists.status``."""
        return [self._shape(ol) for ol in self.lists.values() if ol.open]

    def open_count(self, symbol: str = "") -> int:
        """Open lists (of ``symbol``, or all)."""
        return sum(1 for ol in self.lists.values() if ol.open and (not symbol or ol.symbol == symbol))

    def _shape(self, ol: OrderList) -> dict[str, Any]:
        return {
            "orderListId": ol.list_id,
            "contingencyType": "OCO",
            "listStatusType": ol.status_type,
            "listOrderStatus": ol.order_status,
            "listClientOrderId": ol.client_id,
            "transactionTime": ol.time,
            "symbol": ol.symbol,
            "orders": [
                {"symbol": ol.symbol, "orderId": oid, "clientOrderId": self.orders.orders[oid]["clientOrderId"]}
                for oid in (ol.below, ol.above)
            ],
        }

    def _answer(self, ol: OrderList, resp_type: str) -> dict[str, Any]:
        """The list with its legs' reports (placement and cancels), in Binance's shape (``resp_type``: the
        reports' newOrderRespType; an OCO answers RESULT-shaped reports for ACK too, as Binance does)."""
        out = self._shape(ol)
        out["transactionTime"] = now = self.orders.clock()
        out["orderReports"] = [
            self.orders._placed(self.orders.orders[oid], resp_type, now) for oid in (ol.below, ol.above)
        ]
        return out
