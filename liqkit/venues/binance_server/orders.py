"""The account's orders at the local Binance, whatever the transport: place, test, cancel, cancel-replace,
keepPriority amend, query, open orders, cancel all, order history, trades and the account, each taking a
request's parameters (name -> text) and answering Binance's object, or raising ``ApiError`` with Binance's
code and message. REST handlers and WebSocket API methods both call these; nothing here knows HTTP.

Orders go to the simulated exchange (``SimVenue``); this module keeps their Binance side: order ids,
client ids (a keepPriority amend may change one), statuses, fills, the unfilled-order count, and the
user data stream's ``executionReport`` of every change (given to ``emit``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from liqkit.domain.errors import FilterError, OrderRejected, UnknownOrderError
from liqkit.domain.filters import OrderFilters
from liqkit.domain.rules import SymbolRules, plain_decimal
from liqkit.domain.types import Side
from liqkit.engine.ids import is_valid_client_id
from liqkit.engine.intents import Amend, Place
from liqkit.engine.latency import CANCEL, PLACE, ConstantLatency, LatencyModel
from liqkit.engine.ports import UserFill
from liqkit.venues.binance_server import params as pp
from liqkit.venues.binance_server.auth import ApiError
from liqkit.venues.binance_server.limits import RateLimitError, UnfilledOrders
from liqkit.venues.sim.exchange import STP_NAMES, TIF_NAMES, iceberg_refusal
from liqkit.venues.sim.latency import request_delay
from liqkit.venues.sim.venue import SimVenue

OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED")
ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET")
STOP_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT")  # served as legs of an order list (``order_lists``) only
_ON_TRIGGER = {"STOP_LOSS": "MARKET", "STOP_LOSS_LIMIT": "LIMIT"}  # what a stop order becomes when it triggers
RESP_TYPES = ("ACK", "RESULT", "FULL")
TIME_IN_FORCE = ("GTC", "IOC", "FOK")
STP_MODES = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT")  # what exchangeInfo allows
_ALL_STP_MODES = (*STP_MODES, "TRANSFER")  # Binance's enum (TRANSFER needs a trade group)
MAX_AMENDS = 10  # Binance's MAX_NUM_ORDER_AMENDS per order
CID_RANGE = "^[\\.A-Z\\:/a-z0-9_-]{1,36}$"
DAY_MS = 86_400_000
_PLACED_FIELDS = (
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
)
_CANCELED_FIELDS = tuple(k for k in _PLACED_FIELDS if k != "workingTime")
CANCEL_REPLACE_FAULTS = ("cancel-replace-new-fails", "cancel-replace-cancel-fails")


def generated_id() -> str:
    """A client order id for a request that sent none (Binance makes up 22 characters too)."""
    return secrets.token_urlsafe(16)[:22]


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A new order's parameters, read and checked (price in ticks, quantity in steps)."""

    symbol: str
    side: Side
    kind: str
    price: int
    qty: int
    quote_qty: Decimal
    client_id: str
    resp_type: str
    time_in_force: str
    stp: str
    stop_price: int = 0  # STOP_LOSS / STOP_LOSS_LIMIT: the last trade price that triggers it (ticks)
    iceberg_qty: int = 0  # steps; 0: not an iceberg

    @property
    def acts_as(self) -> str:
        """The order type it matches as (a stop order: the type it becomes when it triggers)."""
        return _ON_TRIGGER.get(self.kind, self.kind)


def _no_list(order: dict[str, Any], event: str) -> dict[str, Any] | None:
    return None


class Orders:
    """The account's orders: Binance's order objects by ``orderId``, kept in step with the simulated exchange."""

    def __init__(
        self,
        venue: SimVenue,
        clock: Callable[[], int],
        count: UnfilledOrders,
        enforce_limits: bool,
        emit: Callable[[dict[str, Any]], None],
        latency: LatencyModel | None = None,
    ) -> None:
        self.venue = venue
        self.latency = latency or ConstantLatency(0)  # of each order request on its way to the matching
        self.clock = clock
        self.count = count
        self.enforce_limits = enforce_limits
        self.emit = emit  # a user data stream event
        self.orders: dict[int, dict[str, Any]] = {}  # Binance order objects by orderId (every order ever placed)
        self.by_cid: dict[str, int] = {}  # client id -> orderId of the latest order that used it
        self.by_key: dict[str, int] = {}  # the simulated exchange's id for an order -> orderId
        self.applied: set[int] = set()  # trade ids of fills applied when their order was placed
        self.duplicates: list[str] = []  # moments two live liqkit orders shared a pair, side and level
        self.fills_made = 0
        self._execution_id = 0
        # an order list leg changed ("TRADE", "CANCELED"): ``order_lists`` finishes its list (the cancel's
        # answer for the list when it did)
        self.leg_changed: Callable[[dict[str, Any], str], dict[str, Any] | None] = _no_list

    async def _arrive(self, kind: int) -> None:
        """An order request (``PLACE``: a new order, a cancelReplace, an amend; ``CANCEL``) travels to the
        matching: the ``[sim]`` latency model's delay, once a request (REST and WebSocket API alike)."""
        await request_delay(self.latency, time.time_ns(), kind)

    # ---- new orders -------------------------------------------------------------------------------
    def parse_new(self, p: Mapping[str, str], kinds: tuple[str, ...] = ORDER_TYPES) -> NewOrder:
        """Read and check a new order's parameters as Binance does before it reaches the matching engine:
        type (one of ``kinds``), side, client id, price and quantity on the symbol's grid, its filters,
        timeInForce and STP; a stop order's ``stopPrice`` (it is checked as the type it becomes)."""
        sym = pp.symbol(p, self.venue.exchange.index)
        r = self.venue._rules[sym]
        kind = p.get("type", "")
        if kind not in kinds:
            raise ApiError(-1116, "Invalid orderType.")
        stop_price = 0
        if kind in STOP_TYPES:
            try:
                stop_price = r.price_to_ticks(pp.decimal(p, "stopPrice"))
            except FilterError:
                raise ApiError(-1013, "Filter failure: PRICE_FILTER") from None
        elif "stopPrice" in p:
            raise ApiError(-1106, "Parameter 'stopPrice' sent when not required.")
        acts_as = _ON_TRIGGER.get(kind, kind)
        resp_type = pp.choice(p, "newOrderRespType", RESP_TYPES, "FULL" if kind in ("LIMIT", "MARKET") else "ACK")
        try:
            side = Side.parse(p.get("side", ""))
        except ValueError:
            raise ApiError(-1117, "Invalid side.") from None
        cid = p.get("newClientOrderId") or generated_id()
        if not is_valid_client_id(cid):
            raise pp.illegal("newClientOrderId", CID_RANGE)
        stp = pp.choice(p, "selfTradePreventionMode", _ALL_STP_MODES, "NONE")
        if stp not in STP_MODES:
            raise ApiError(-1013, "This symbol does not allow the specified self-trade prevention mode.")
        tif = "GTC"
        quote_qty = Decimal(0)
        if acts_as == "MARKET":
            for name in ("timeInForce", "price", "icebergQty"):
                if name in p:
                    raise ApiError(-1106, f"Parameter '{name}' sent when not required.")
            if "quantity" in p and "quoteOrderQty" in p:
                raise ApiError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
            if "quantity" not in p and "quoteOrderQty" not in p:
                raise ApiError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
            bk = self.venue.exchange.books[self.venue.exchange.index[sym]]
            price = bk.ask if side is Side.BUY else bk.bid  # the touch: a taker at its price
            if not price:
                raise ApiError(-2010, "Order book liquidity is less than symbol minimum quantity.")
            if "quantity" in p:
                qty = _steps(r, p, "quantity")
            else:
                quote_qty = pp.decimal(p, "quoteOrderQty")
                qty = int(quote_qty / (r.price(price) * r.step))  # as much as the amount buys (or sells) at the touch
        else:
            if kind == "LIMIT_MAKER" and "timeInForce" in p:
                raise ApiError(-1106, "Parameter 'timeInForce' sent when not required.")
            if acts_as == "LIMIT":
                if not p.get("timeInForce"):
                    raise pp.missing("timeInForce")
                tif = p["timeInForce"]
                if tif not in TIME_IN_FORCE:
                    raise ApiError(-1115, "Invalid timeInForce.")
            try:
                price = r.price_to_ticks(pp.decimal(p, "price"))
            except FilterError:
                raise ApiError(-1013, "Filter failure: PRICE_FILTER") from None
            qty = _steps(r, p, "quantity")
        bk = self.venue.exchange.books[self.venue.exchange.index[sym]]
        failed = OrderFilters.from_rules(r).failure(
            side is Side.BUY, price, qty, (bk.bid + bk.ask) // 2 if bk.bid else 0
        )
        if failed:
            raise ApiError(-1013, f"Filter failure: {failed}")
        iceberg = 0
        if p.get("icebergQty") and pp.decimal(p, "icebergQty"):
            iceberg = _steps(r, p, "icebergQty")
            code, message = iceberg_refusal(r, bk.filters, qty, iceberg, TIF_NAMES.index(tif), acts_as == "MARKET")
            if code:
                raise ApiError(code, message)
        return NewOrder(sym, side, kind, price, qty, quote_qty, cid, resp_type, tif, stp, stop_price, iceberg)

    def _count_new(self, now: int) -> None:
        """Count a new order in the unfilled-order count; ``RateLimitError`` -1015 past a limit (when enforced)."""
        if self.enforce_limits:
            self.count.check(now)
        self.count.new_order(now)

    async def place(self, p: Mapping[str, str]) -> dict[str, Any]:
        """``POST /api/v3/order`` / ``order.place``: the new order's answer in its ``newOrderRespType``."""
        req = self.parse_new(p)
        self._count_new(self.clock())
        await self._arrive(PLACE)
        return await self._submit(req)

    def test(self, p: Mapping[str, str]) -> dict[str, Any]:
        """``POST /api/v3/order/test`` / ``order.test``: the checks of a new order, nothing placed; with
        ``computeCommissionRates`` the rates its trades would pay."""
        self.parse_new(p)
        if not pp.boolean(p, "computeCommissionRates", False):
            return {}
        cfg = self.venue.config
        rate = {"maker": _rate(cfg.maker_fee_bps), "taker": _rate(cfg.taker_fee_bps)}
        zero = {"maker": "0.00000000", "taker": "0.00000000"}
        return {
            "standardCommissionForOrder": rate,
            "specialCommissionForOrder": zero,
            "taxCommissionForOrder": zero,
            "discount": {
                "enabledForAccount": False,
                "enabledForSymbol": False,
                "discountAsset": "BNB",
                "discount": "0",
            },
        }

    async def _submit(self, req: NewOrder) -> dict[str, Any]:
        """Send a checked new order to the simulated exchange and record it; the answer to give."""
        order = await self.enter(req)
        return self._placed(order, req.resp_type, self.clock())

    def check_unique(self, cid: str) -> None:
        """-2010 when an open order already has this client id."""
        live = self.orders.get(self.by_cid.get(cid, -1))
        if live is not None and live["status"] in OPEN_STATUSES:
            raise ApiError(-2010, "Duplicate order sent.")

    def record(self, req: NewOrder, order_id: int, list_id: int, key: str, now: int) -> dict[str, Any]:
        """The Binance order object of a new order (status NEW), kept under ``order_id``; a stop order waits
        off the book (not working) until it triggers."""
        r = self.venue._rules[req.symbol]
        stop = req.kind in STOP_TYPES
        order = self.orders[order_id] = {
            "symbol": req.symbol,
            "orderId": order_id,
            "orderListId": list_id,
            "clientOrderId": req.client_id,
            "price": r.format_price(0 if req.acts_as == "MARKET" else req.price),
            "origQty": r.format_qty(req.qty),
            "executedQty": "0",
            "cummulativeQuoteQty": "0",
            "status": "NEW",
            "timeInForce": req.time_in_force,
            "type": req.kind,
            "side": req.side.name,
            "stopPrice": r.format_price(req.stop_price) if stop else "0",
            "icebergQty": r.format_qty(req.iceberg_qty),
            "time": now,
            "updateTime": now,
            "isWorking": not stop,
            "workingTime": -1 if stop else now,
            "origQuoteOrderQty": plain_decimal(req.quote_qty),
            "selfTradePreventionMode": req.stp,
            "_key": key,
            "_qty": req.qty,
            "_filled": 0,
            "_quote": Decimal(0),
            "_trades": [],
            "_amends": 0,
        }
        self.by_cid[req.client_id] = order_id
        if not stop:
            self.by_key[key] = order_id
        return order

    def reserve_id(self) -> int:
        """An order id for an order that is not sent to the matching yet (a stop order waiting to trigger)."""
        oid: int = self.venue.exchange.next_order_id
        self.venue.exchange.next_order_id += 1
        return oid

    async def enter(self, req: NewOrder, list_id: int = -1, waiting: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a checked new order to the simulated exchange and record it (``waiting``: a triggered stop
        order, already recorded, now going to the matching as the type it becomes); the order object."""
        cid = req.client_id
        if waiting is None:
            self.check_unique(cid)
        key = cid
        while key in self.venue.exchange.orders:  # held at the exchange by an order an amend renamed
            key = f"{cid}#{secrets.token_hex(3)}"
        self._check_duplicate(req.symbol, cid)
        market = req.acts_as == "MARKET"
        r = self.venue._rules[req.symbol]
        # a MARKET order walks the book for its quantity, or for its quote amount (then in tick*step units)
        quote_units = int(req.quote_qty / (r.tick * r.step)) if market and req.quote_qty else 0
        qty = 0 if quote_units else req.qty
        place = Place(
            req.symbol, key, req.side, 0 if market else req.price, qty, req.acts_as == "LIMIT_MAKER", 0, req.iceberg_qty
        )
        try:
            placed = await self.venue.submit(
                place,
                tif=TIF_NAMES.index(req.time_in_force),
                stp=STP_NAMES.index(req.stp),
                market=market,
                quote_qty=quote_units,
            )
        except OrderRejected as e:
            raise ApiError(e.code or -2010, str(e).split("] ", 1)[-1]) from None
        now = self.clock()
        if waiting is None:
            order = self.record(req, placed.order_id, list_id, key, now)
        else:
            order = waiting
            order.update(isWorking=True, workingTime=now, updateTime=now, _key=key)
            self.by_key[key] = order["orderId"]
        self.report(order, "NEW")
        for fill in placed.fills:  # what it took on arrival: applied now, so the answer shows it
            self.applied.add(fill.trade_id)
            self.apply_fill(order, fill)
        if quote_units and not placed.expired and order["_filled"]:  # a quote amount spent: filled as spent
            order["_qty"] = order["_filled"]
            order.update(origQty=order["executedQty"], status="FILLED", isWorking=False)
        self._prevented(placed.prevented, now)
        if placed.prevented_qty:
            order["preventedQuantity"] = r.format_qty(placed.prevented_qty)
        status = placed.status.value if hasattr(placed.status, "value") else str(placed.status)
        if status == "EXPIRED_IN_MATCH":  # self-trade prevention expired the taker
            order.update(status=status, isWorking=False, updateTime=now)
            self.report(order, "TRADE_PREVENTION")
        elif placed.expired:  # IOC/FOK/MARKET: what did not fill at once (or a FOK that could not fill)
            reason = placed.expiry or "INSUFFICIENT_LIQUIDITY"
            order.update(status="EXPIRED", isWorking=False, expiryReason=reason, updateTime=now)
            self.report(order, "EXPIRED")
        return order

    def _prevented(self, prevented: Any, now: int) -> None:
        """The account's resting orders a taker's self-trade prevention touched: expired (EXPIRED_IN_MATCH,
        reported as TRADE_PREVENTION) or, with DECREMENT, left open with that much less to execute."""
        for key, qty, expired, _filled in prevented:
            order = self.orders.get(self.by_key.get(key, -1))
            if order is None:
                continue
            r = self.venue._rules[order["symbol"]]
            if expired:
                order.update(status="EXPIRED_IN_MATCH", isWorking=False, updateTime=now)
                order["preventedQuantity"] = r.format_qty(qty)
                self.report(order, "TRADE_PREVENTION")
            else:
                order["_qty"] -= qty
                order["preventedQuantity"] = r.format_qty(qty)

    def _placed(self, order: dict[str, Any], resp_type: str, now: int) -> dict[str, Any]:
        """The answer to a new order in Binance's ACK, RESULT or FULL shape."""
        out: dict[str, Any] = {k: order[k] for k in ("symbol", "orderId", "orderListId", "clientOrderId")}
        out["transactTime"] = now
        if resp_type == "ACK":
            return out
        for k in _PLACED_FIELDS:
            out[k] = order[k]
        if order["type"] in STOP_TYPES:
            out["stopPrice"] = order["stopPrice"]
        if "expiryReason" in order:
            out["expiryReason"] = order["expiryReason"]
        if order["icebergQty"] != "0":  # as Binance: only when the request sent one
            out["icebergQty"] = order["icebergQty"]
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

    def _check_duplicate(self, symbol: str, cid: str) -> None:
        """Record it if a new liqkit order would join another live one of the same pair, side and level."""
        parts = cid.split(".")
        if len(parts) < 5 or parts[0] != "lq":
            return
        for o in self.orders.values():
            other = o["clientOrderId"].split(".")
            if o["symbol"] == symbol and o["status"] in OPEN_STATUSES and other[2:3] == parts[2:3]:
                self.duplicates.append(f"{cid} while {o['clientOrderId']} is live")

    # ---- finding and cancelling ---------------------------------------------------------------------
    def find(
        self,
        p: Mapping[str, str],
        sym: str,
        code: int,
        msg: str,
        by_id: str = "orderId",
        by_cid: str = "origClientOrderId",
    ) -> dict[str, Any]:
        """The order named by ``orderId`` and/or ``origClientOrderId`` (both: they must agree), or
        ``ApiError(code, msg)``; -1102 when neither is given. ``by_id``/``by_cid``: the parameters' names
        (cancelReplace's are ``cancelOrderId``/``cancelOrigClientOrderId``)."""
        oid, cid = pp.integer(p, by_id), p.get(by_cid) or None
        if oid is None and cid is None:
            raise ApiError(-1102, f"Param '{by_cid}' or '{by_id}' must be sent, but both were empty/null!")
        if oid is not None:
            order = self.orders.get(oid)
            if order is not None and cid is not None and order["clientOrderId"] != cid:
                order = None
        else:
            order = self.orders.get(self.by_cid.get(cid or "", -1))
        if order is None or order["symbol"] != sym:
            raise ApiError(code, msg)
        return order

    async def cancel(self, p: Mapping[str, str]) -> dict[str, Any]:
        """``DELETE /api/v3/order`` / ``order.cancel``."""
        sym = pp.symbol(p, self.venue.exchange.index)
        await self._arrive(CANCEL)
        return await self._cancel(p, sym, "orderId", "origClientOrderId", "newClientOrderId")

    async def _cancel(self, p: Mapping[str, str], sym: str, by_id: str, by_cid: str, new_id: str) -> dict[str, Any]:
        restriction = p.get("cancelRestrictions")
        if restriction is not None and restriction not in ("ONLY_NEW", "ONLY_PARTIALLY_FILLED"):
            raise ApiError(-1145, "Invalid cancelRestrictions")
        order = self.find(p, sym, -2011, "Unknown order sent.", by_id, by_cid)
        cancel_id = p.get(new_id) or generated_id()
        if not is_valid_client_id(cancel_id):
            raise pp.illegal(new_id, CID_RANGE)
        if order["status"] not in OPEN_STATUSES:
            raise ApiError(-2011, "Unknown order sent.")
        if restriction is not None and order["status"] != restriction[len("ONLY_") :]:
            raise ApiError(-2011, "Order was not canceled due to cancel restrictions.")
        if order["isWorking"]:  # (a stop order waiting to trigger is not at the matching)
            try:
                await self.venue.cancel(sym, order["_key"])
            except UnknownOrderError:  # filled (or cancelled) while this request waited
                raise ApiError(-2011, "Unknown order sent.") from None
        out = self._canceled(order, cancel_id)
        self.leg_changed(order, "CANCELED")  # an order list's leg: the whole list is cancelled
        return out

    def _canceled(self, order: dict[str, Any], cancel_id: str) -> dict[str, Any]:
        """Binance's answer to a cancel: the order as it is now, under the cancel's own client id."""
        order["status"] = "CANCELED"
        order["isWorking"] = False
        order["updateTime"] = now = self.clock()
        self.report(order, "CANCELED", cancel_id=cancel_id)
        out = {
            "symbol": order["symbol"],
            "origClientOrderId": order["clientOrderId"],
            "orderId": order["orderId"],
            "orderListId": order["orderListId"],
            "clientOrderId": cancel_id,
            "transactTime": now,
        }
        for k in _CANCELED_FIELDS:
            out[k] = order[k]
        if order["type"] in STOP_TYPES:
            out["stopPrice"] = order["stopPrice"]
        return out

    async def cancel_all(self, p: Mapping[str, str]) -> list[dict[str, Any]]:
        """``DELETE /api/v3/openOrders`` / ``openOrders.cancelAll``: the symbol's open orders, cancelled."""
        sym = pp.symbol(p, self.venue.exchange.index)
        await self._arrive(CANCEL)
        keys = await self.venue.cancel_all(sym, own_only=False)
        out: list[dict[str, Any]] = []
        for order in [self.orders[self.by_key[k]] for k in keys if k in self.by_key]:
            single = self._canceled(order, generated_id())
            finished = self.leg_changed(order, "CANCELED")  # a leg: its list, cancelled, in the answer instead
            out.append(single if finished is None else finished)
        for order in list(self.orders.values()):  # stop legs waiting off the book: their lists too
            if order["symbol"] == sym and order["status"] in OPEN_STATUSES and not order["isWorking"]:
                self._canceled(order, generated_id())
                finished = self.leg_changed(order, "CANCELED")
                if finished is not None:
                    out.append(finished)
        return out

    async def cancel_replace(self, p: Mapping[str, str], fault: str = "") -> dict[str, Any]:
        """``POST /api/v3/order/cancelReplace`` / ``order.cancelReplace``: cancel an order and place a new one.

        The new order's parameters and filters, and the unfilled-order count, are checked first (a plain
        error, nothing done). Then the cancel; ``STOP_ON_FAILURE`` places the new order only if the cancel
        went through, ``ALLOW_FAILURE`` places it anyway. Both done: the answer; one failed: ``ApiError``
        -2021 (409) with both halves in ``data``; both failed: -2022 (400). A new order counts in the
        unfilled-order count even when it is not attempted. ``orderRateLimitExceededMode=CANCEL_ONLY``
        lets the cancel go through past the limit (the new order then fails with -1015).
        ``fault`` (fault injection): ``cancel-replace-cancel-fails`` refuses the cancel with -2011 and
        leaves the order open; ``cancel-replace-new-fails`` refuses the new order after the cancel."""
        sym = pp.symbol(p, self.venue.exchange.index)
        mode = pp.choice(p, "cancelReplaceMode", ("STOP_ON_FAILURE", "ALLOW_FAILURE"))
        exceeded = pp.choice(p, "orderRateLimitExceededMode", ("DO_NOTHING", "CANCEL_ONLY"), "DO_NOTHING")
        if pp.integer(p, "cancelOrderId") is None and not p.get("cancelOrigClientOrderId"):
            raise ApiError(
                -1102, "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, but both were empty/null!"
            )
        req = self.parse_new(p)
        now = self.clock()
        over: RateLimitError | None = None
        try:
            self._count_new(now)
        except RateLimitError as e:
            if exceeded == "DO_NOTHING":
                raise
            over = e
        await self._arrive(PLACE)  # one request: both halves arrive together
        cancel: dict[str, Any] | None = None
        cancel_error: dict[str, object] | None = None
        try:
            if fault == "cancel-replace-cancel-fails":
                raise ApiError(-2011, "Unknown order sent.")
            cancel = await self._cancel(p, sym, "cancelOrderId", "cancelOrigClientOrderId", "cancelNewClientOrderId")
        except ApiError as e:
            cancel_error = e.body()
        new: dict[str, Any] | None = None
        new_error: dict[str, object] | None = None
        attempted = cancel is not None or mode == "ALLOW_FAILURE"
        if attempted:
            try:
                if over is not None:
                    raise over
                if fault == "cancel-replace-new-fails":
                    raise ApiError(-2010, "Account has insufficient balance for requested action.")
                new = await self._submit(req)
            except ApiError as e:
                new_error = e.body()
        data = {
            "cancelResult": "SUCCESS" if cancel is not None else "FAILURE",
            "newOrderResult": "SUCCESS" if new is not None else "FAILURE" if attempted else "NOT_ATTEMPTED",
            "cancelResponse": cancel if cancel is not None else cancel_error,
            "newOrderResponse": new if new is not None else new_error,
        }
        if cancel is not None and new is not None:
            return data
        if cancel is not None or new is not None:
            raise ApiError(-2021, "Order cancel-replace partially failed.", 409, data)
        raise ApiError(-2022, "Order cancel-replace failed.", 400, data)

    # ---- keepPriority amend -------------------------------------------------------------------------
    async def amend(self, p: Mapping[str, str]) -> dict[str, Any]:
        """``PUT /api/v3/order/amend/keepPriority`` / ``order.amend.keepPriority``: reduce an open order's
        quantity in place (its queue position and order id stay); its client id becomes
        ``newClientOrderId`` (one is made up when none is sent). Adds nothing to the unfilled-order count."""
        sym = pp.symbol(p, self.venue.exchange.index)
        await self._arrive(PLACE)
        order = self.find(p, sym, -2013, "Order does not exist.")
        r = self.venue._rules[sym]
        qty = _steps(r, p, "newQty")
        new_cid = p.get("newClientOrderId") or generated_id()
        if not is_valid_client_id(new_cid):
            raise pp.illegal("newClientOrderId", CID_RANGE)
        if order["status"] not in OPEN_STATUSES:
            raise ApiError(-2013, "Order does not exist.")
        other = self.orders.get(self.by_cid.get(new_cid, -1))
        if other is not None and other is not order and other["status"] in OPEN_STATUSES:
            raise ApiError(-2010, "Duplicate order sent.")
        if order["_amends"] >= MAX_AMENDS:
            raise ApiError(-1013, "Filter failure: MAX_NUM_ORDER_AMENDS")
        try:
            await self.venue.amend(Amend(sym, order["_key"], qty))
        except OrderRejected as e:
            raise ApiError(e.code or -2038, str(e).split("] ", 1)[-1]) from None
        old_cid = order["clientOrderId"]
        if self.by_cid.get(old_cid) == order["orderId"]:
            del self.by_cid[old_cid]
        self.by_cid[new_cid] = order["orderId"]
        now = self.clock()
        order.update(clientOrderId=new_cid, origQty=r.format_qty(qty), _qty=qty, updateTime=now)
        order["_amends"] += 1
        self._execution_id += 1
        self.report(order, "REPLACED", orig_id=old_cid)
        return {
            "transactTime": now,
            "executionId": self._execution_id,
            "amendedOrder": {
                "symbol": sym,
                "orderId": order["orderId"],
                "orderListId": order["orderListId"],
                "origClientOrderId": old_cid,
                "clientOrderId": new_cid,
                "price": order["price"],
                "qty": order["origQty"],
                "executedQty": order["executedQty"],
                "preventedQty": "0",
                "quoteOrderQty": order["origQuoteOrderQty"],
                "cumulativeQuoteQty": order["cummulativeQuoteQty"],
                "status": order["status"],
                "timeInForce": order["timeInForce"],
                "type": order["type"],
                "side": order["side"],
                "workingTime": order["workingTime"],
                "selfTradePreventionMode": order["selfTradePreventionMode"],
            },
        }

    # ---- queries ------------------------------------------------------------------------------------
    def query(self, p: Mapping[str, str]) -> dict[str, Any]:
        """``GET /api/v3/order`` / ``order.status``."""
        order = self.find(p, pp.symbol(p, self.venue.exchange.index), -2013, "Order does not exist.")
        return public(order)

    def open_orders(self, p: Mapping[str, str]) -> list[dict[str, Any]]:
        """``GET /api/v3/openOrders`` / ``openOrders.status``: one symbol's or all."""
        sym = pp.symbol(p, self.venue.exchange.index, mandatory=False)
        return [
            public(o) for o in self.orders.values() if o["status"] in OPEN_STATUSES and (not sym or o["symbol"] == sym)
        ]

    def all_orders(self, p: Mapping[str, str]) -> list[dict[str, Any]]:
        """``GET /api/v3/allOrders``: the symbol's orders by ``orderId``, ``startTime``, ``endTime``, ``limit``."""
        sym = pp.symbol(p, self.venue.exchange.index)
        limit = pp.limit(p, 500, 1000)
        oid, start, end = pp.integer(p, "orderId"), pp.integer(p, "startTime"), pp.integer(p, "endTime")
        if start is not None and end is not None and end - start > DAY_MS:
            raise ApiError(-1127, "More than 24 hours between startTime and endTime.")
        mine = [
            o
            for o in self.orders.values()  # in orderId order: ids grow as orders come
            if o["symbol"] == sym
            and (oid is None or o["orderId"] >= oid)
            and (start is None or o["time"] >= start)
            and (end is None or o["time"] <= end)
        ]
        picked = mine[:limit] if oid is not None or start is not None else mine[-limit:]
        return [public(o) for o in picked]

    def my_trades(self, p: Mapping[str, str]) -> list[dict[str, Any]]:
        """``GET /api/v3/myTrades``: the account's fills of a symbol (of one ``orderId``)."""
        sym, oid = pp.symbol(p, self.venue.exchange.index), pp.integer(p, "orderId")
        trades = [
            t
            for o in self.orders.values()
            if o["symbol"] == sym and (oid is None or o["orderId"] == oid)
            for t in o["_trades"]
        ]
        return sorted(trades, key=lambda t: t["id"])

    def account(self, p: Mapping[str, str]) -> dict[str, Any]:
        """``GET /api/v3/account`` / ``account.status``: balances (``omitZeroBalances`` drops the empty ones)."""
        omit = pp.boolean(p, "omitZeroBalances", False)
        bal = self.venue.exchange.balances()
        return {
            "makerCommission": 0,
            "takerCommission": 0,
            "canTrade": True,
            "canWithdraw": False,
            "canDeposit": False,
            "updateTime": self.clock(),
            "accountType": "SPOT",
            "permissions": ["SPOT"],
            "balances": [
                {"asset": a, "free": format(f, "f"), "locked": format(lk, "f")}
                for a, (f, lk) in bal.items()
                if not omit or f or lk
            ],
        }

    def order_count(self) -> list[dict[str, object]]:
        """``GET /api/v3/rateLimit/order`` / ``account.rateLimits.orders``: the unfilled-order count."""
        return self.count.rate_limits(self.clock())

    # ---- fills and the user data stream -------------------------------------------------------------
    def on_fill(self, ev: UserFill) -> None:
        """A fill the simulated exchange reported (those the placing request applied already are skipped)."""
        if ev.trade_id in self.applied:
            self.applied.discard(ev.trade_id)
            return
        order = self.orders.get(self.by_key.get(ev.client_id, -1))
        if order is not None:
            self.apply_fill(order, ev)

    def apply_fill(self, order: dict[str, Any], ev: UserFill) -> None:
        """One fill of ``order``: its trade, filled quantity, status, the unfilled-order count (an order's
        first fill takes one off), and the user stream's TRADE report."""
        r = self.venue._rules[ev.symbol]
        self.fills_made += 1
        now = self.clock()
        if order["_filled"] == 0:
            self.count.first_fill(now)
        order["_trades"].append(
            {
                "symbol": ev.symbol,
                "id": ev.trade_id,
                "orderId": order["orderId"],
                "orderListId": order["orderListId"],
                "price": r.format_price(ev.price),
                "qty": r.format_qty(ev.qty),
                "quoteQty": plain_decimal(r.price(ev.price) * r.qty(ev.qty)),
                "commission": format(ev.fee, "f"),
                "commissionAsset": ev.fee_asset,
                "time": now,
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
        order["updateTime"] = now
        self.report(order, "TRADE", ev)
        if order["orderListId"] != -1:
            self.leg_changed(order, "TRADE")

    def report(
        self,
        order: dict[str, Any],
        exec_type: str,
        fill: UserFill | None = None,
        cancel_id: str = "",
        orig_id: str = "",
    ) -> None:
        """An ``executionReport`` of the order as it is now (for a cancel, ``c`` is the cancel's id and ``C``
        the order's; for an amend, ``C`` is the client id it had)."""
        now = self.clock()
        ev = {
            "e": "executionReport",
            "E": now,
            "s": order["symbol"],
            "c": cancel_id or order["clientOrderId"],
            "S": order["side"],
            "o": order["type"],
            "f": order["timeInForce"],
            "q": order["origQty"],
            "p": order["price"],
            "P": order["stopPrice"],
            "F": order["icebergQty"],
            "g": order["orderListId"],
            "C": order["clientOrderId"] if exec_type == "CANCELED" else orig_id,
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
            "w": order["status"] in OPEN_STATUSES and order["isWorking"],
            "m": False,
            "O": order["time"],
            "Z": order["cummulativeQuoteQty"],
            "Y": "0",
            "Q": "0",
            "V": order["selfTradePreventionMode"],
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
        self.emit(ev)


def public(order: dict[str, Any]) -> dict[str, Any]:
    """An order object as Binance shows it (without this module's own ``_`` fields)."""
    return {k: v for k, v in order.items() if not k.startswith("_")}


def _steps(r: SymbolRules, p: Mapping[str, str], name: str) -> int:
    try:
        return r.qty_to_steps(pp.decimal(p, name), exact=True)
    except FilterError:
        raise ApiError(-1013, "Filter failure: LOT_SIZE") from None


def _rate(bps: Decimal | float | int) -> str:
    return f"{Decimal(str(bps)) / 10_000:.8f}"
