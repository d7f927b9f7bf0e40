"""The simulated exchange in virtual time: a ``SimExchange``, a latency model and one ordered timeline.

Everything besides the market rows is an item ``(time, seq, kind, payload)``, processed in that order
(``seq`` breaks ties: first registered, first processed; items for the current time wait in a FIFO
instead of the heap, which keeps that order and costs less):

- the exchange sees each market row at its time and matches our orders against it; a fill reaches
  the engine ``response_ns`` later, the row itself ``feed_ns`` later (``MARKET``);
- a request the engine sends at ``t`` reaches the exchange at ``t + request_ns`` (``ARRIVE``), is
  executed there, and its answer reaches the engine ``response_ns`` after that (``ANSWER``), followed
  by what the user stream says of it (``EVENT``: fills, order updates);
- balances the exchange changed are reported at most every ``report_ns`` per pair (``REPORT``, then an
  ``EVENT`` with a ``BalanceUpdate``): Binance reports after every change; the engine keeps its own
  books between reports, and a report every change would cost a backtest more than its orders;
- what the exchange did to an order list's legs unasked (``SimExchange.take_events``: a leg EXPIRED when
  the other filled or triggered, a triggered stop's unfilled rest EXPIRED, the other leg CANCELED with a
  cancelled one) reaches the engine as ``OrderEvent`` items, ``response_ns`` after the row or request that
  caused it, after that row's fills (``EVENT``; so a triggered stop's fills come before its take-profit's
  EXPIRED, which Binance tells first); a ``PlaceOco`` answers DONE for both legs (no NEW events), a
  ``CancelList`` DONE, then each open leg's CANCELED;
- a wait on the virtual clock (a retry, a backoff, the engine's timer) wakes at its time (``WAKE``,
  ``TIMER``);
- the data's depth rows (``load_depth``), when it has any, reach the exchange's L2 book at their time
  (``DEPTH``: one item on the heap at a time, for the next time that has rows). Without depth there is
  no such item: the rows cost nothing more.

Heap items due at or before a market row's time are processed before the row. Two drivers walk the
same timeline and so see the same world: ``liqkit.backtest.driver`` (synchronously, calling the
engine's ``Execution``), and ``liqkit.venues.sim.replay.ReplayVenue`` (the async ``Venue`` the live
``EngineRunner`` trades on in virtual time). This module holds everything the exchange side does;
the drivers only hand the engine what it hears.
"""

from __future__ import annotations

import heapq
from collections import deque
from decimal import Decimal
from typing import Any, Final

import numpy as np
from librt.vecs import vec
from mypy_extensions import i64

from liqkit.domain.types import Balance, BalanceUpdate, OrderStatus, RejectReason
from liqkit.engine.execution import (
    DONE,
    NOT_OPEN,
    OK,
    REFUSED,
    FetchBalances,
    FetchFills,
    Later,
    Outcome,
    Query,
    Request,
)
from liqkit.engine.intents import Amend, Cancel, CancelAll, CancelList, Place, PlaceOco, Replace
from liqkit.engine.latency import CANCEL, PLACE, STREAM, ConstantLatency, LatencyModel
from liqkit.engine.ports import OpenOrder, UserFill, UserOrder
from liqkit.venues.sim.exchange import FEE_SCALE, TIF_GTC, TIF_IOC, PlaceResult, SimExchange, SimFill

# item kinds
ARRIVE: Final = 0  # a request reaches the exchange: (request, token)
ANSWER: Final = 1  # the engine hears an answer: (request, Outcome, token)
EVENT: Final = 2  # the engine hears the user stream: (pair, exchange time, [SimFill]), an OrderEvent, a BalanceUpdate
WAKE: Final = 3  # a wait on the clock ends: (request or None, token)
TIMER: Final = 4  # the engine's periodic check (backtest driver)
REPORT: Final = 5  # the exchange reports the balances it changed
MARKET: Final = 6  # the engine hears a market row that had to wait its turn: the row's index
DEPTH: Final = 7  # the exchange applies the depth rows of one time (``load_depth``)
REPORT_NS: Final = 250_000_000
NEVER: Final = (1 << 62) - 1  # later than any time
_CANCELED: Final = OrderStatus.CANCELED
_EXPIRED_IN_MATCH: Final = OrderStatus.EXPIRED_IN_MATCH

Item = tuple[int, int, int, Any]


class OrderEvent:
    """An order's new status on the simulated user stream (a ``UserOrder`` once a venue hands it on):
    compiled, it costs a backtest less than the frozen dataclass would."""

    __slots__ = ("client_id", "filled", "status", "symbol", "ts_exchange")

    def __init__(self, symbol: str, client_id: str, status: OrderStatus, filled: int, ts_exchange: int) -> None:
        self.symbol = symbol
        self.client_id = client_id
        self.status = status
        self.filled = filled
        self.ts_exchange = ts_exchange

    def user_order(self, ts_local: int) -> UserOrder:
        """The event as the user stream reports it, received at ``ts_local``."""
        return UserOrder(self.symbol, self.client_id, self.status, self.filled, self.ts_exchange, ts_local)


class Timeline:
    """One simulated exchange and everything in flight between it and the engine, in virtual time."""

    def __init__(self, exchange: SimExchange, latency: LatencyModel, report_ns: int = REPORT_NS) -> None:
        self.exchange = exchange
        self.latency = latency
        self.report_ns = report_ns
        self.heap: list[Item] = []  # items due later than now
        self.nowq: deque[tuple[int, Any]] = deque()  # items due now, registered while now was current
        self.seq = 0
        self.now = 0
        self.next_t = NEVER  # when the next item is due: ``now`` while the FIFO holds one, else the heap's first
        self._dirty: set[int] = set()  # pairs whose balances changed since the last report
        self._report_due = False
        self._fixed = isinstance(latency, ConstantLatency)  # then no call per request
        self._lat = latency.ns if isinstance(latency, ConstantLatency) else 0
        empty = vec[i64]()
        self._d_ts = self._d_pair = self._d_reset = self._d_side = self._d_price = self._d_qty = empty
        self._d_next = 0  # the next depth row to apply

    # ---- the heap ----------------------------------------------------------------------------------
    def push(self, t: int, kind: int, payload: Any) -> None:
        """Schedule an item at time ``t`` (after everything already scheduled at ``t``).

        Items for the current time go to a FIFO: anything on the heap at that time was registered
        earlier and goes first, so the order is still (time, registration)."""
        if t <= self.now:
            self.nowq.append((kind, payload))
            if self.now < self.next_t:
                self.next_t = self.now
        else:
            self.seq += 1
            heapq.heappush(self.heap, (t, self.seq, kind, payload))
            if t < self.next_t:
                self.next_t = t

    def pending(self, until: int) -> bool:
        """Whether an item is due at or before ``until``."""
        return self.next_t <= until

    def take(self, until: int) -> tuple[int, int, Any] | None:
        """The next item due at or before ``until`` as (time, kind, payload); the clock moves to it."""
        heap = self.heap
        if heap and heap[0][0] <= self.now:
            t, _, kind, payload = heapq.heappop(heap)
            self._next()
            return t, kind, payload
        if self.nowq:
            kind, payload = self.nowq.popleft()
            self._next()
            return self.now, kind, payload
        if heap and heap[0][0] <= until:
            t, _, kind, payload = heapq.heappop(heap)
            self.now = t
            self._next()
            return t, kind, payload
        return None

    def _next(self) -> None:
        if self.nowq:
            self.next_t = self.now
        elif self.heap:
            self.next_t = self.heap[0][0]
        else:
            self.next_t = NEVER

    def request_ns(self, t: int, req: Request) -> int:
        """The latency of ``req`` sent at ``t``."""
        return self._lat if self._fixed else self.latency.request_ns(t, request_kind(req))

    def response_ns(self, t: int, kind: int = STREAM) -> int:
        """The latency of an answer to a ``kind`` request (or of the user stream) leaving at ``t``."""
        return self._lat if self._fixed else self.latency.response_ns(t, kind)

    # ---- the engine sends ----------------------------------------------------------------------------
    def submit(self, req: Request, now: int, token: Any = None) -> None:
        """A request leaves the engine at ``now``: ``Later`` waits first, the rest travels to the exchange."""
        if type(req) is Later:
            later: Later = req  # type: ignore[assignment]
            self.push(now + later.delay_ns, WAKE, (later.request, token))
        else:
            self.push(now + self.request_ns(now, req), ARRIVE, (req, token))

    def sleep(self, until: int, token: Any) -> None:
        """A wait on the virtual clock until ``until`` (the async venue's clock)."""
        self.push(until, WAKE, (None, token))

    # ---- the exchange side -------------------------------------------------------------------------
    def load_depth(self, depth: tuple[np.ndarray, ...] | None) -> None:
        """The data's depth rows (``liqkit.data.feed.merge_depth``: ts, pair, reset, side, price, qty),
        applied to the exchange at their times from now on (None: no depth)."""
        if depth is None or not len(depth[0]):
            return
        ts, pair, reset, side, price, qty = depth
        self._d_ts = vec[i64](ts)
        self._d_pair = vec[i64](pair)
        self._d_reset = vec[i64](reset)
        self._d_side = vec[i64](side)
        self._d_price = vec[i64](price)
        self._d_qty = vec[i64](qty)
        self._d_next = 0
        self.push(self._d_ts[0], DEPTH, None)

    def depth(self) -> None:
        """Apply the depth rows of the next time that has any (a ``DEPTH`` item), then schedule the next."""
        ex = self.exchange
        ts = self._d_ts
        i = self._d_next
        n = len(ts)
        t = ts[i]
        while i < n and ts[i] == t:
            ex.on_depth(self._d_pair[i], self._d_reset[i], self._d_side[i], self._d_price[i], self._d_qty[i])
            i += 1
        self._d_next = i
        if i < n:
            self.push(ts[i], DEPTH, None)

    def book(self, idx: int, t: int, bid: int, bid_qty: int, ask: int, ask_qty: int) -> None:
        """The exchange sees a book row: fills it causes (realistic model) reach the engine later."""
        fills = self.exchange.on_book(idx, bid, bid_qty, ask, ask_qty)
        if fills:  # (a take-profit leg's fill may have expired its stop leg: events come with fills only)
            self._filled(idx, t, fills)

    def trade(self, idx: int, t: int, price: int, qty: int, aggressor: int) -> None:
        """The exchange sees a public trade (it may trigger a list's stop leg: its fills come with the
        trade's, the legs' ends after them)."""
        fills = self.exchange.on_trade(idx, price, qty, aggressor)
        if fills or self.exchange.events:
            self._filled(idx, t, fills)

    def _filled(self, idx: int, t: int, fills: list[SimFill]) -> None:
        """A row's fills, then what it did to lists' legs, reach the engine ``response_ns`` later."""
        back = t + self.response_ns(t)
        if fills:
            self.push(back, EVENT, (idx, t, fills))
            self._touch(idx, t)
        if self.exchange.events:
            self._leg_events(t, back)

    def _leg_events(self, t: int, back: int) -> None:
        """What the exchange did to lists' legs at ``t`` unasked (``SimExchange.take_events``), heard at ``back``."""
        ex = self.exchange
        for idx, cid, status, filled in ex.take_events():
            self.push(back, EVENT, OrderEvent(ex.books[idx].rules.symbol, cid, status, filled, t))
            self._touch(idx, t)

    def _touch(self, idx: int, t: int) -> None:
        self._dirty.add(idx)
        if not self._report_due:
            self._report_due = True
            self.push(t + self.report_ns, REPORT, None)

    def report(self, t: int) -> None:
        """Report the balances of the pairs whose balances changed (a ``REPORT`` item)."""
        self._report_due = False
        ex = self.exchange
        assets: list[str] = []
        for idx in sorted(self._dirty):
            r = ex.books[idx].rules
            for a in (r.base_asset, r.quote_asset):
                if a not in assets:
                    assets.append(a)
        self._dirty.clear()
        bal = ex.balances()
        update = BalanceUpdate(tuple(Balance(a, *bal[a]) for a in assets), t, 0)
        self.push(t + self.response_ns(t), EVENT, update)

    def arrive(self, req: Request, t: int, token: Any) -> None:
        """A request reaches the exchange at ``t``: execute it; its answer (and stream events) follow."""
        ex = self.exchange
        back = t + (self._lat if self._fixed else self.latency.response_ns(t, request_kind(req)))
        kind = type(req)
        if kind is Place:
            p: Place = req  # type: ignore[assignment]
            idx = ex.index[p.symbol]
            tif = TIF_IOC if p.ioc else TIF_GTC
            if p.iceberg_qty:
                r = ex.place(idx, t, p.client_id, p.side, p.price, p.qty, p.post_only, tif, iceberg_qty=p.iceberg_qty)
            else:
                r = ex.place(idx, t, p.client_id, p.side, p.price, p.qty, p.post_only, tif)
            if r.accepted:
                self.push(back, ANSWER, (req, DONE, token))
                if r.matched:  # it met the book or its time in force ended it (only then are there fills)
                    self._taken(p.symbol, p.client_id, idx, t, back, r)
                self._touch(idx, t)
            else:
                out = Outcome(REFUSED, reason=r.reason, text=f"[{r.code}] {r.message}")
                self.push(back, ANSWER, (req, out, token))
        elif kind is Cancel:  # a list's leg: the whole list (the other leg's CANCELED from the exchange's events)
            c: Cancel = req  # type: ignore[assignment]
            o = ex.orders.get(c.client_id)
            filled = o.filled if o is not None else 0
            if ex.cancel(c.client_id):
                self.push(back, ANSWER, (req, DONE, token))
                self.push(back, EVENT, OrderEvent(c.symbol, c.client_id, _CANCELED, filled, t))
                self._touch(o.pair if o is not None else ex.index[c.symbol], t)
            else:
                self.push(back, ANSWER, (req, Outcome(NOT_OPEN, text="[-2011] Unknown order sent."), token))
        elif kind is Replace:  # STOP_ON_FAILURE: the new order only after a done cancel
            rp: Replace = req  # type: ignore[assignment]
            o = ex.orders.get(rp.client_id)
            if o is None or not ex.cancel(rp.client_id):
                self.push(back, ANSWER, (req, Outcome(NOT_OPEN, text="[-2011] Unknown order sent."), token))
            else:
                p = rp.place
                tif = TIF_IOC if p.ioc else TIF_GTC
                if p.iceberg_qty:
                    r = ex.place(
                        o.pair, t, p.client_id, p.side, p.price, p.qty, p.post_only, tif, iceberg_qty=p.iceberg_qty
                    )
                else:
                    r = ex.place(o.pair, t, p.client_id, p.side, p.price, p.qty, p.post_only, tif)
                if r.accepted:
                    self.push(back, ANSWER, (req, DONE, token))
                else:
                    half = Outcome(REFUSED, reason=r.reason, text=f"[{r.code}] {r.message}")
                    self.push(back, ANSWER, (req, Outcome(OK, half), token))
                self.push(back, EVENT, OrderEvent(rp.symbol, rp.client_id, _CANCELED, o.filled, t))
                if r.accepted and r.matched:  # as a plain place's: fills, expiry, self-trade prevention
                    self._taken(p.symbol, p.client_id, o.pair, t, back, r)
                self._touch(o.pair, t)
        elif kind is Amend:
            a: Amend = req  # type: ignore[assignment]
            so = ex.orders.get(a.client_id)
            r = ex.amend(a.client_id, a.qty)
            if r.accepted:
                self.push(back, ANSWER, (req, DONE, token))
                if so is not None:
                    self._touch(so.pair, t)
            else:
                why = RejectReason.FILTER if r.code == -1013 else RejectReason.OTHER
                self.push(back, ANSWER, (req, Outcome(REFUSED, reason=why, text=f"[{r.code}] {r.message}"), token))
        elif kind is CancelAll:
            ca: CancelAll = req  # type: ignore[assignment]
            idx = ex.index[ca.symbol]
            ids = ex.cancel_all(idx, ca.own_only)
            self.push(back, ANSWER, (req, Outcome(OK, ids), token))
            if ids:
                self._touch(idx, t)
        elif kind is PlaceOco:
            x: PlaceOco = req  # type: ignore[assignment]
            idx = ex.index[x.symbol]
            r = ex.place_oco(idx, t, x.list_id, x.tp_id, x.sl_id, x.side, x.qty, x.take_profit, x.stop)
            if r.accepted:  # DONE: both legs NEW
                self.push(back, ANSWER, (req, DONE, token))
                self._touch(idx, t)
            else:
                out = Outcome(REFUSED, reason=r.reason, text=f"[{r.code}] {r.message}")
                self.push(back, ANSWER, (req, out, token))
        elif kind is CancelList:  # DONE, then each open leg's CANCELED (the exchange's events, below)
            cl: CancelList = req  # type: ignore[assignment]
            lst = ex.lists.get(cl.list_id)
            if lst is not None and lst.pair == ex.index[cl.symbol] and ex.cancel_list(cl.list_id):
                self.push(back, ANSWER, (req, DONE, token))
                self._touch(lst.pair, t)
            else:
                self.push(back, ANSWER, (req, Outcome(NOT_OPEN, text="[-2011] Unknown order list sent."), token))
        elif kind is Query:
            q: Query = req  # type: ignore[assignment]
            so = ex.orders.get(q.client_id)
            value = None
            if so is not None:
                status = OrderStatus.PARTIALLY_FILLED if so.filled else OrderStatus.NEW
                value = OpenOrder(q.symbol, so.client_id, so.side, so.price, so.qty, so.filled, status)
            elif ex.legs and q.client_id in ex.legs:  # a list's waiting stop leg (at its stop price)
                sl = ex.legs[q.client_id]
                value = OpenOrder(q.symbol, sl.sl_id, sl.side, sl.stop, sl.qty, 0, OrderStatus.NEW)
            self.push(back, ANSWER, (req, Outcome(OK, value), token))
        elif kind is FetchFills:  # the simulated user stream never drops: nothing is ever missed
            self.push(back, ANSWER, (req, Outcome(OK, []), token))
        elif kind is FetchBalances:
            self.push(back, ANSWER, (req, Outcome(OK, ex.balances()), token))
        else:
            raise TypeError(f"the simulated exchange cannot execute {req!r}")
        if ex.events:  # what the request did to lists' legs besides (a taker of ours filling a take-profit leg)
            self._leg_events(t, back)

    def _taken(self, symbol: str, client_id: str, idx: int, t: int, back: int, r: PlaceResult) -> None:
        """What the user stream says of an order matched on arrival: the fills (its own, and those of our
        resting orders it traded with), then each order self-trade prevention expired, then the new
        order's end if it expired on arrival."""
        fills = r.fills + r.maker_fills if r.maker_fills else r.fills
        if fills:
            self.push(back, EVENT, (idx, t, fills))
        for cid, _qty, expired, filled in r.prevented:
            if expired:
                self.push(back, EVENT, OrderEvent(symbol, cid, _EXPIRED_IN_MATCH, filled, t))
        if r.expired:
            self.push(back, EVENT, OrderEvent(symbol, client_id, r.status, sum([f.qty for f in r.fills]), t))

    def user_fill(self, idx: int, f: SimFill, ts_exchange: int, ts: int) -> UserFill:
        """A fill as the user stream reports it (the fee in the quote asset)."""
        r = self.exchange.books[idx].rules
        fee = Decimal(f.fee_nu) * (r.tick * r.step) / FEE_SCALE
        return UserFill(
            r.symbol, f.client_id, f.price, f.qty, fee, r.quote_asset, f.is_maker, f.trade_id, ts_exchange, ts
        )


def request_kind(req: Request) -> int:
    """The latency model's kind of a request: ``CANCEL`` for a cancel (of one order, a list, or all), else
    ``PLACE`` (an order list's placement too)."""
    t = type(req)
    return CANCEL if t is Cancel or t is CancelAll or t is CancelList else PLACE
