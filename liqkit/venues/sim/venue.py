"""``SimVenue``: the embedded simulated exchange as an async ``Venue``, in wall-clock time.

It plays a market feed (a seeded synthetic one per symbol by default, or recorded data) at
``speed`` times real time, looping with shifted times when the data ends, shows every row to the
matching core (``SimExchange``; the data's depth rows too, when it has any: the exchange then keeps an
L2 book), and streams the market and our fills, order changes and balances. OCO order lists
(``place_oco``, ``cancel_order_list``) are the exchange's: their legs' changes are on the user stream as
Binance's executionReports tell them (NEW for both legs on acceptance, fills, EXPIRED, CANCELED). Order calls take the
``[sim]`` latency model's delays each way (``liqkit.venues.sim.latency``) and answer as Binance does.
No keys, no network.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from liqkit.data.feed import MarketData
from liqkit.domain.config import SimConfig
from liqkit.domain.errors import OrderRejected, ReplaceFailed, RulesError, UnknownOrderError
from liqkit.domain.rules import SymbolRules, default_rules
from liqkit.domain.types import Balance, BalanceUpdate, BookTop, OrderStatus, RejectReason, Side, Trade
from liqkit.engine.ids import is_liqkit_id
from liqkit.engine.intents import Amend, Place, PlaceOco, Replace
from liqkit.engine.latency import CANCEL, PLACE, LatencyModel
from liqkit.engine.ports import OpenOrder, UserFill, UserOrder, VenueEvent
from liqkit.venues.sim.exchange import FEE_SCALE, STP_NONE, TIF_GTC, TIF_IOC, SimFill
from liqkit.venues.sim.latency import latency_model, request_delay
from liqkit.venues.sim.matching import sim_exchange


@dataclass(frozen=True, slots=True)
class Submitted:
    """What a new order did on arrival: the exchange's order id, the taker fills it made at once, and
    whether what did not fill at once was expired instead of left resting (IOC, FOK, a MARKET order, or
    self-trade prevention).

    ``status``: the order's status after arrival (NEW, PARTIALLY_FILLED, FILLED, EXPIRED, or
    EXPIRED_IN_MATCH when self-trade prevention expired it) and ``expiry`` Binance's expiryReason for
    EXPIRED (UNFILLED_IOC_QUANTITY_EXPIRED, UNFILLED_FOK_ORDER_EXPIRED, INSUFFICIENT_LIQUIDITY).
    ``prevented``: (client id, quantity, expired, filled) of each of our resting orders self-trade
    prevention touched (expired: it is EXPIRED_IN_MATCH; else DECREMENT left it open with that much less
    to execute); ``prevented_qty``: the new order's own prevented quantity. ``maker_fills``: fills of our
    resting orders it traded with (STP NONE), also queued as events like any maker fill."""

    order_id: int
    fills: list[UserFill]
    expired: bool
    status: OrderStatus = OrderStatus.NEW
    expiry: str = ""
    prevented: list[tuple[str, int, bool, int]] = field(default_factory=list)
    prevented_qty: int = 0
    maker_fills: list[UserFill] = field(default_factory=list)


class SimVenue:
    """The simulated exchange behind the ``Venue`` protocol."""

    name = "sim"
    amend_keeps_priority = True  # the simulated exchange reduces an order in place, keeping its queue position

    def __init__(
        self,
        symbols: Iterable[str],
        config: SimConfig | None = None,
        data: dict[str, MarketData] | None = None,
        speed: float = 1.0,
        clock: Callable[[], int] = time.time_ns,
        cancel_replace: bool = True,
        latency: LatencyModel | None = None,
    ) -> None:
        self.config = config or SimConfig()
        self.cancel_replace = cancel_replace  # the engine moves a quote with one ``replace``
        self.speed = speed
        self.clock = clock
        self.symbols = [s.upper() for s in symbols]
        self.exchange = sim_exchange(self.config)
        self._rules: dict[str, SymbolRules] = {}
        self._data = dict(data or {})
        self._queue: asyncio.Queue[VenueEvent] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._feed_on = asyncio.Event()
        self._feed_on.set()
        self.latency = latency or latency_model(self.config, clock())

    async def start(self) -> None:
        """Load rules and feeds, and start playing them."""
        from liqkit.data.synthetic import synthetic_feed

        for i, sym in enumerate(self.symbols):
            r = self._data[sym].rules if sym in self._data else default_rules(sym)
            self._rules[sym] = r
            self.exchange.add_symbol(r)
            if sym not in self._data:
                self._data[sym] = synthetic_feed(sym, seconds=600, seed=self.config.seed + i, events_per_s=20)
        self._tasks = [asyncio.create_task(self._play(sym), name=f"sim-feed-{sym}") for sym in self.symbols]

    async def close(self) -> None:
        """Stop the feeds."""
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def pause_feed(self) -> None:
        """Stop emitting market data (as if the stream went silent)."""
        self._feed_on.clear()

    def resume_feed(self) -> None:
        """Emit market data again."""
        self._feed_on.set()

    # ---- market data --------------------------------------------------------------------------------
    async def _play(self, sym: str) -> None:
        md = self._data[sym]
        idx = self.exchange.index[sym]
        b, t = md.book, md.trades
        d = md.depth or {k: np.zeros(0, np.int64) for k in ("ts_local", "reset", "side", "price", "qty")}
        dts = d["ts_local"]
        heads = np.flatnonzero(np.concatenate([[True], dts[1:] != dts[:-1]])) if len(dts) else np.zeros(0, np.int64)
        rows = sorted(  # depth first on equal times: what the exchange knows of the book, then the row
            [(int(dts[i]), 0, int(i)) for i in heads]
            + [(int(x), 1, i) for i, x in enumerate(b["ts_local"])]
            + [(int(x), 2, i) for i, x in enumerate(t["ts_local"])]
        )
        if not rows:
            return
        bid, bq, ask, aq = (b[k].tolist() for k in ("bid", "bid_qty", "ask", "ask_qty"))
        tp, tq, ta, tid = (t[k].tolist() for k in ("price", "qty", "aggressor", "trade_id"))
        dt, dr, ds, dp, dq = (d[k].tolist() for k in ("ts_local", "reset", "side", "price", "qty"))
        on_depth = self.exchange.on_depth
        span = rows[-1][0] - rows[0][0] + 1
        id_span = max(tid) - min(tid) + 1 if tid else 0  # a loop's trade ids follow the last pass's
        loop = 0
        while True:
            start_wall = time.monotonic()
            first = rows[0][0]
            for ts, kind, i in rows:
                due = (ts - first) / 1e9 / self.speed
                delay = start_wall + due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if not self._feed_on.is_set():
                    await self._feed_on.wait()
                    start_wall = time.monotonic() - due  # resume where we were
                now = self.clock()
                ts_ex = ts + loop * span
                if kind == 0:  # the depth rows of one time
                    while i < len(dt) and dt[i] == ts:
                        on_depth(idx, dr[i], ds[i], dp[i], dq[i])
                        i += 1
                elif kind == 1:
                    self._user_fills(sym, self.exchange.on_book(idx, bid[i], bq[i], ask[i], aq[i]), now)
                    self._leg_events(now)
                    self._queue.put_nowait(BookTop(sym, bid[i], bq[i], ask[i], aq[i], ts_ex, now))
                else:
                    self._user_fills(sym, self.exchange.on_trade(idx, tp[i], tq[i], ta[i]), now)
                    self._leg_events(now)
                    aggr = Side.BUY if ta[i] > 0 else Side.SELL
                    self._queue.put_nowait(Trade(sym, tp[i], tq[i], aggr, ts_ex, now, tid[i] + loop * id_span))
            loop += 1

    def _user_fills(self, sym: str, fills: list[SimFill], now: int) -> list[UserFill]:
        if not fills:
            return []
        r = self._rules[sym]
        unit = r.tick * r.step
        out = []
        for f in fills:
            fee = Decimal(f.fee_nu) * unit / FEE_SCALE
            fill = UserFill(sym, f.client_id, f.price, f.qty, fee, r.quote_asset, f.is_maker, f.trade_id, now, now)
            self._queue.put_nowait(fill)
            out.append(fill)
        self._push_balances(sym, now)
        return out

    def _leg_events(self, now: int) -> None:
        """What the exchange did to lists' legs unasked (``SimExchange.take_events``) as order updates, then
        the balances of the pairs it touched."""
        ex = self.exchange
        if not ex.events:
            return
        touched: list[str] = []
        for idx, cid, status, filled in ex.take_events():
            sym = ex.books[idx].rules.symbol
            self._queue.put_nowait(UserOrder(sym, cid, status, filled, now, now))
            if sym not in touched:
                touched.append(sym)
        for sym in touched:
            self._push_balances(sym, now)

    def _push_balances(self, sym: str, now: int) -> None:
        """Like Binance's outboundAccountPosition: the pair's assets after any change."""
        r = self._rules[sym]
        bal = self.exchange.balances()
        changed = tuple(Balance(a, *bal[a]) for a in (r.base_asset, r.quote_asset))
        self._queue.put_nowait(BalanceUpdate(changed, now, now))

    async def _out(self, kind: int) -> None:
        """A request of ``kind`` travels to the exchange."""
        await request_delay(self.latency, self.clock(), kind)

    async def _back(self, kind: int) -> None:
        """Its answer travels back."""
        await asyncio.sleep(self.latency.response_ns(self.clock(), kind) / 1e9)

    async def events(self) -> AsyncIterator[VenueEvent]:  # type: ignore[override]
        """Market and user events, in order."""
        while True:
            yield await self._queue.get()

    # ---- account and orders -------------------------------------------------------------------------
    async def rules(self, symbols: Iterable[str]) -> dict[str, SymbolRules]:
        """Rules of the symbols this venue trades."""
        out = {}
        for s in symbols:
            s = s.upper()
            if s not in self._rules:
                raise RulesError(f"unknown symbol {s!r}: this simulated exchange trades {', '.join(self._rules)}")
            out[s] = self._rules[s]
        return out

    async def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """(free, locked) per asset."""
        return self.exchange.balances()

    async def open_orders(self, symbol: str) -> list[OpenOrder]:
        """The symbol's resting orders."""
        idx = self.exchange.index[symbol]
        return [
            OpenOrder(
                symbol,
                o.client_id,
                o.side,
                o.price,
                o.qty,
                o.filled,
                OrderStatus.NEW if not o.filled else OrderStatus.PARTIALLY_FILLED,
            )
            for o in self.exchange.open_orders(idx)
        ]

    async def place(self, order: Place) -> None:
        """Place after the latency (a LIMIT IOC when ``order.ioc``); raise ``OrderRejected`` as Binance would
        refuse. What expired on arrival is told on the user stream, as Binance's executionReport does."""
        done = await self.submit(order, tif=TIF_IOC if order.ioc else TIF_GTC)
        if done.expired:
            filled = sum((f.qty for f in done.fills), 0)
            now = self.clock()
            self._queue.put_nowait(UserOrder(order.symbol, order.client_id, done.status, filled, now, now))

    async def submit(
        self,
        order: Place,
        take_only: bool = False,
        *,
        tif: int = TIF_GTC,
        stp: int = STP_NONE,
        market: bool = False,
        quote_qty: int = 0,
    ) -> Submitted:
        """Place like ``place`` and tell what happened on arrival (``Submitted``: order id, taker fills,
        how it ended).

        ``tif``: time in force (``exchange.TIF_GTC``, ``TIF_IOC``, ``TIF_FOK``); ``stp``: self-trade
        prevention mode (``exchange.STP_NONE``, ``STP_EXPIRE_TAKER``, ``STP_EXPIRE_MAKER``,
        ``STP_EXPIRE_BOTH``, ``STP_DECREMENT``); ``market``: a MARKET order for ``order.qty`` steps, or for
        ``quote_qty`` (quoteOrderQty in tick*step units; ``order.qty`` 0), ``order.price`` unused.
        ``take_only``: IOC at ``order.price`` (what does not fill at once expires). The fills are also
        queued as events, as ``place`` queues them; so is EXPIRED_IN_MATCH for each resting order
        self-trade prevention expired."""
        await self._out(PLACE)
        idx = self.exchange.index[order.symbol]
        order_id = self.exchange.next_order_id  # the id the exchange gives the order if it accepts it
        if take_only and tif == TIF_GTC:
            tif = TIF_IOC
        r = self.exchange.place(
            idx,
            self.clock(),
            order.client_id,
            order.side,
            order.price,
            order.qty,
            order.post_only,
            tif=tif,
            stp=stp,
            market=market,
            quote_qty=quote_qty,
            iceberg_qty=order.iceberg_qty,
        )
        now = self.clock()
        await self._back(PLACE)
        if not r.accepted:
            raise OrderRejected(r.message, r.code, r.reason)
        self._push_balances(order.symbol, now)
        fills = self._user_fills(order.symbol, r.fills, now)
        maker_fills = self._user_fills(order.symbol, r.maker_fills, now)
        for cid, _qty, expired, filled in r.prevented:
            if expired:
                self._queue.put_nowait(UserOrder(order.symbol, cid, OrderStatus.EXPIRED_IN_MATCH, filled, now, now))
        self._leg_events(now)  # a take-profit leg it traded with (or expired) ended its list's stop leg
        return Submitted(
            order_id, fills, r.expired, r.status, r.expiry, list(r.prevented), r.taker_prevented, maker_fills
        )

    async def cancel(self, symbol: str, client_id: str) -> None:
        """Cancel after the latency; ``UnknownOrderError`` (-2011) if it is not open. A leg of an order list
        cancels the list: the other leg's CANCELED follows this one's."""
        await self._out(CANCEL)
        ok = self.exchange.cancel(client_id)
        await self._back(CANCEL)
        if not ok:
            raise UnknownOrderError("Unknown order sent.", -2011)
        now = self.clock()
        self._queue.put_nowait(UserOrder(symbol, client_id, OrderStatus.CANCELED, 0, now, now))
        self._push_balances(symbol, now)
        self._leg_events(now)

    async def place_oco(self, x: PlaceOco) -> None:
        """Place an OCO list after the latency (a LIMIT_MAKER take-profit and a STOP_LOSS; see
        ``SimExchange.place_oco``); raise ``OrderRejected`` as Binance would refuse it. Accepted, both legs
        are NEW on the user stream (the leg below the market first, as Binance lists them), then the
        balances, at once: before the answer, as Binance's executionReports may be, and before anything the
        feed does to the legs while the answer travels."""
        await self._out(PLACE)
        ex = self.exchange
        r = ex.place_oco(
            ex.index[x.symbol], self.clock(), x.list_id, x.tp_id, x.sl_id, x.side, x.qty, x.take_profit, x.stop
        )
        now = self.clock()
        if r.accepted:
            for cid in (x.sl_id, x.tp_id) if x.side is Side.SELL else (x.tp_id, x.sl_id):
                self._queue.put_nowait(UserOrder(x.symbol, cid, OrderStatus.NEW, 0, now, now))
            self._push_balances(x.symbol, now)
        await self._back(PLACE)
        if not r.accepted:
            raise OrderRejected(r.message, r.code, r.reason)

    async def cancel_order_list(self, symbol: str, list_id: str) -> None:
        """Cancel an order list by its client id after the latency: each open leg CANCELED on the user
        stream, then the balances; ``UnknownOrderError`` (-2011) when it is not open."""
        await self._out(CANCEL)
        ex = self.exchange
        lst = ex.lists.get(list_id)
        ok = lst is not None and lst.pair == ex.index.get(symbol, -1) and ex.cancel_list(list_id)
        await self._back(CANCEL)
        if not ok:
            raise UnknownOrderError("Unknown order list sent.", -2011)
        self._leg_events(self.clock())

    async def replace(self, order: Replace) -> None:
        """Cancel, then (once that is done) place, in one request after the latency; ``ReplaceFailed``
        names the half that failed, as Binance's cancelReplace in STOP_ON_FAILURE mode (its latency: order
        entry's)."""
        await self._out(PLACE)
        ok = self.exchange.cancel(order.client_id)
        p = order.place
        r = (
            self.exchange.place(
                self.exchange.index[p.symbol],
                self.clock(),
                p.client_id,
                p.side,
                p.price,
                p.qty,
                p.post_only,
                iceberg_qty=p.iceberg_qty,
            )
            if ok
            else None
        )
        now = self.clock()
        await self._back(PLACE)
        if r is None:
            raise ReplaceFailed(UnknownOrderError("Unknown order sent.", -2011), None)
        self._queue.put_nowait(UserOrder(order.symbol, order.client_id, OrderStatus.CANCELED, 0, now, now))
        self._leg_events(now)  # the cancelled order was a list's leg: the other leg's CANCELED
        if not r.accepted:
            self._push_balances(order.symbol, now)
            raise ReplaceFailed(None, OrderRejected(r.message, r.code, r.reason))
        self._user_fills(order.symbol, r.fills, now)
        self._push_balances(order.symbol, now)
        self._leg_events(now)

    async def amend(self, order: Amend) -> None:
        """Reduce an order's quantity after the latency, keeping its queue position."""
        await self._out(PLACE)
        r = self.exchange.amend(order.client_id, order.qty)
        now = self.clock()
        await self._back(PLACE)
        if not r.accepted:
            why = RejectReason.FILTER if r.code == -1013 else RejectReason.OTHER
            raise OrderRejected(r.message, r.code, why)
        self._push_balances(order.symbol, now)

    async def cancel_all(self, symbol: str, own_only: bool) -> list[str]:
        """Cancel the symbol's open orders (liqkit's only, or all)."""
        await self._out(CANCEL)
        ids = self.exchange.cancel_all(self.exchange.index[symbol], own_only)
        if ids:
            self._push_balances(symbol, self.clock())
        return ids

    async def query_order(self, symbol: str, client_id: str) -> OpenOrder | None:
        """The order if it rests here, else None."""
        o = self.exchange.orders.get(client_id)
        if o is None:
            sl = self.exchange.legs.get(client_id)
            if sl is not None:  # a list's waiting stop leg (at its stop price)
                return OpenOrder(symbol, sl.sl_id, sl.side, sl.stop, sl.qty, 0, OrderStatus.NEW)
            return None
        return OpenOrder(
            symbol,
            o.client_id,
            o.side,
            o.price,
            o.qty,
            o.filled,
            OrderStatus.NEW if not o.filled else OrderStatus.PARTIALLY_FILLED,
        )

    async def order_fills(self, symbol: str, client_id: str) -> list[UserFill]:
        """Fills of one order: the simulated user stream never drops, so nothing is ever missed."""
        return []

    def own_open_orders(self) -> list[str]:
        """Client ids of liqkit's orders resting here (for checks)."""
        return [cid for cid in self.exchange.orders if is_liqkit_id(cid)]


def _status(filled: int) -> OrderStatus:
    return OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.NEW
