"""``ReplayVenue``: the simulated exchange replaying recorded data in virtual time, as an async ``Venue``.

The live ``EngineRunner`` trades on it exactly as on Binance (``liqkit trade --data PATH --clock
virtual``), as fast as the machine allows. Time is the replay's: ``clock`` is a ``Clock`` whose
``sleep_until`` is an item on the exchange's timeline (``liqkit.venues.sim.timeline``), so the runner's
timer, retries and backoffs happen in virtual time too.

One task walks the market rows and the timeline's items in order. Before each, it lets every other
task run until none can (the engine has fully reacted to what it heard: its requests are on the
timeline). That is what makes a replay deterministic, and equal to the backtest, which walks the same
timeline synchronously (``liqkit.backtest.driver``): the parity tests hold the two to the same orders,
fills and PnL.

Before the engine listens to ``events()`` the session has not begun: calls (rules, balances, the
start-up cleanup) are answered at once, at the first row's time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from decimal import Decimal
from typing import Any

from liqkit.data.feed import MarketData, merge_depth, merge_events
from liqkit.domain.config import SimConfig
from liqkit.domain.errors import (
    OrderRejected,
    ReplaceFailed,
    RetryableError,
    RulesError,
    UnknownOrderError,
    UnknownOutcomeError,
    VenueError,
)
from liqkit.domain.rules import SymbolRules
from liqkit.domain.types import BookTop, Side, Trade
from liqkit.engine.execution import NOT_OPEN, OK, REFUSED, RETRY, UNKNOWN, FetchBalances, Outcome, Query, Request
from liqkit.engine.intents import Amend, Cancel, CancelAll, CancelList, Place, PlaceOco, Replace
from liqkit.engine.latency import LatencyModel
from liqkit.engine.ports import OpenOrder, UserFill, VenueEvent
from liqkit.venues.sim.latency import latency_model
from liqkit.venues.sim.matching import sim_exchange
from liqkit.venues.sim.timeline import ANSWER, ARRIVE, DEPTH, EVENT, MARKET, REPORT, WAKE, OrderEvent, Timeline

_FOREVER = 1 << 62


class VirtualClock:
    """The replay's time: the timeline's, advanced only by the replay task."""

    def __init__(self, venue: ReplayVenue) -> None:
        self._venue = venue

    def now(self) -> int:
        """The virtual time, ns."""
        return self._venue.timeline.now

    async def sleep_until(self, ts: int) -> None:
        """Wait until the replay reaches ``ts`` (an item on its timeline)."""
        fut: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._venue.timeline.sleep(max(ts, self._venue.timeline.now), fut)
        self._venue.wake()
        await fut


class ReplayVenue:
    """Recorded market data through the simulated exchange, in virtual time."""

    name = "sim-replay"
    amend_keeps_priority = True  # the simulated exchange reduces an order in place, keeping its queue position

    def __init__(
        self,
        data: Sequence[MarketData],
        config: SimConfig | None = None,
        latency: LatencyModel | None = None,
        cancel_replace: bool = True,
    ) -> None:
        self.config = config or SimConfig()
        self.cancel_replace = cancel_replace  # the engine moves a quote with one ``replace``
        self.datas = list(data)
        if not self.datas:
            raise ValueError("data: give at least one MarketData")
        cfg = self.config
        self.exchange = sim_exchange(cfg)
        for md in self.datas:
            self.exchange.add_symbol(md.rules)
        self._rules = {md.symbol: md.rules for md in self.datas}
        self.rows = merge_events(self.datas)
        self.end = int(self.rows[2][-1]) if len(self.rows[2]) else 0
        start = int(self.rows[2][0]) if len(self.rows[2]) else 0
        self.timeline = Timeline(self.exchange, latency or latency_model(cfg, start, self.end))
        self.timeline.now = start
        self.timeline.load_depth(merge_depth(self.datas))  # the data's L2 book, when it has depth
        self.clock = VirtualClock(self)
        self.done = asyncio.Event()  # set when the data has been replayed (and what was due by its end)
        self.events_replayed = 0
        self.error: BaseException | None = None  # what stopped the replay, if it failed
        self._queue: asyncio.Queue[VenueEvent] = asyncio.Queue()
        self._live = False
        self._task: asyncio.Task[None] | None = None
        self._kick = asyncio.Event()

    # ---- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Nothing to connect; the replay begins when the engine listens to ``events()``."""

    async def close(self) -> None:
        """Stop the replay task."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _ended(self, task: asyncio.Task[None]) -> None:
        """The replay task ended: only by an error (or a close); nobody waits for ``done`` in vain."""
        if not task.cancelled() and task.exception() is not None:
            self.error = task.exception()
        self.done.set()

    def wake(self) -> None:
        """Something new is on the timeline (the replay task may be waiting after the data's end)."""
        self._kick.set()

    async def events(self) -> AsyncIterator[VenueEvent]:  # type: ignore[override]
        """Market and user events as the engine hears them."""
        if not self._live:
            self._live = True
            self._task = asyncio.get_running_loop().create_task(self._replay(), name="liqkit-replay")
            self._task.add_done_callback(self._ended)
        while True:
            yield await self._queue.get()

    # ---- the replay ---------------------------------------------------------------------------------
    async def _settle(self) -> None:
        """Return once no other task can run: the engine has done all it will do with what it heard."""
        loop = asyncio.get_running_loop()
        ready = getattr(loop, "_ready", None)  # CPython's run queue (asyncio's default loops)
        if ready is None:
            raise RuntimeError("virtual time needs asyncio's default event loop (one with a _ready queue)")
        await asyncio.sleep(0)
        while ready:
            await asyncio.sleep(0)

    async def _replay(self) -> None:
        tl = self.timeline
        kinds, pairs, tss, aa, bb, cc, dd = (col.tolist() for col in self.rows)
        n = len(tss)
        feed = tl.latency.feed_ns(0)
        i = 0
        heard = True  # whether the engine was handed something it may act on since the last settle
        while True:
            if heard:
                await self._settle()
            heard = True
            if i < n and not tl.pending(tss[i]):  # a market row
                k, p, ts = kinds[i], pairs[i], tss[i]
                tl.now = ts
                a, b, c, d = aa[i], bb[i], cc[i], dd[i]
                i += 1
                self.events_replayed += 1
                sym = self.datas[p].symbol
                if k == 0:
                    tl.book(p, ts, a, b, c, d)
                    te = ts + feed
                    if tl.pending(te):  # what the exchange sent first reaches the engine first
                        tl.push(te, MARKET, (p, a, b, c, d))
                        heard = False
                    else:
                        self._queue.put_nowait(BookTop(sym, a, b, c, d, te, te))
                else:  # the engine reads nothing in a trade: no need to wait for it
                    tl.trade(p, ts, a, b, c)
                    aggr = Side.BUY if c > 0 else Side.SELL
                    self._queue.put_nowait(Trade(sym, a, b, aggr, ts, ts + feed, d))
                    heard = False
                continue
            item = tl.take(tss[i] if i < n else (_FOREVER if self.done.is_set() else self.end))
            if item is not None:
                self._item(*item)
                continue
            if not self.done.is_set():
                self.done.set()  # the data is replayed: what follows (the engine's stop) is not the run's
                continue
            self._kick.clear()  # nothing to do: wait for the engine to ask for something
            await self._kick.wait()

    def _item(self, t: int, kind: int, payload: Any) -> None:
        tl = self.timeline
        q = self._queue
        if kind == MARKET:
            p, a, b, c, d = payload
            q.put_nowait(BookTop(self.datas[p].symbol, a, b, c, d, t, t))
        elif kind == ANSWER:
            _req, out, fut = payload
            if not fut.done():
                fut.set_result(out)
        elif kind == ARRIVE:
            tl.arrive(payload[0], t, payload[1])
        elif kind == EVENT:
            if type(payload) is tuple:
                idx, t_ex, fills = payload
                for f in fills:
                    q.put_nowait(tl.user_fill(idx, f, t_ex, t))
            elif type(payload) is OrderEvent:
                q.put_nowait(payload.user_order(t))
            else:
                q.put_nowait(_stamped(payload, t))
        elif kind == WAKE:
            req, fut = payload
            if req is not None:
                tl.submit(req, t, fut)
            elif not fut.done():
                fut.set_result(None)
        elif kind == REPORT:
            tl.report(t)
        elif kind == DEPTH:
            tl.depth()
        else:
            raise AssertionError(f"unexpected timeline item {kind}")

    async def _ask(self, req: Request) -> Any:
        """Send ``req`` through the timeline and wait for the exchange's answer; raise as a venue would."""
        fut: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.timeline.submit(req, self.timeline.now, fut)
        self.wake()
        out = await fut
        if out.kind == OK:
            return out.value
        raise _error(out)

    async def replace(self, order: Replace) -> None:
        """Cancel-replace through the timeline; ``ReplaceFailed`` naming the half that failed."""
        fut: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.timeline.submit(order, self.timeline.now, fut)
        self.wake()
        out = await fut
        if out.kind == OK:
            if out.value is not None:
                raise ReplaceFailed(None, _error(out.value))
            return
        err = _error(out)
        raise ReplaceFailed(err, None) if out.kind == NOT_OPEN else err

    # ---- account and orders -------------------------------------------------------------------------
    async def rules(self, symbols: Iterable[str]) -> dict[str, SymbolRules]:
        """Rules of the replayed symbols."""
        out = {}
        for s in symbols:
            if s.upper() not in self._rules:
                raise RulesError(f"symbol {s!r}: the data replayed has {', '.join(self._rules)} only")
            out[s.upper()] = self._rules[s.upper()]
        return out

    async def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """(free, locked) per asset."""
        if not self._live:
            return self.exchange.balances()
        value: dict[str, tuple[Decimal, Decimal]] = await self._ask(FetchBalances())
        return value

    async def open_orders(self, symbol: str) -> list[OpenOrder]:
        """The symbol's resting orders (as of now: a read, not a request through the timeline)."""
        idx = self.exchange.index[symbol]
        return [
            OpenOrder(symbol, o.client_id, o.side, o.price, o.qty, o.filled, _status(o.filled))
            for o in self.exchange.open_orders(idx)
        ]

    async def place(self, order: Place) -> None:
        """Place through the timeline."""
        await self._ask(order)

    async def cancel(self, symbol: str, client_id: str) -> None:
        """Cancel through the timeline."""
        await self._ask(Cancel(symbol, client_id))

    async def place_oco(self, x: PlaceOco) -> None:
        """Place an OCO order list through the timeline."""
        await self._ask(x)

    async def cancel_order_list(self, symbol: str, list_id: str) -> None:
        """Cancel an order list through the timeline; ``UnknownOrderError`` (-2011) when it is not open."""
        await self._ask(CancelList(symbol, list_id))

    async def amend(self, order: Amend) -> None:
        """Amend through the timeline."""
        await self._ask(order)

    async def cancel_all(self, symbol: str, own_only: bool) -> list[str]:
        """Cancel the symbol's open orders (liqkit's only, or all)."""
        if not self._live:
            return self.exchange.cancel_all(self.exchange.index[symbol], own_only)
        ids: list[str] = await self._ask(CancelAll(symbol, own_only))
        return ids

    async def query_order(self, symbol: str, client_id: str) -> OpenOrder | None:
        """The order if it rests at the exchange, else None."""
        value: OpenOrder | None = await self._ask(Query(symbol, client_id))
        return value

    async def order_fills(self, symbol: str, client_id: str) -> list[UserFill]:
        """The simulated user stream never drops, so nothing is ever missed."""
        return []


def _status(filled: int) -> Any:
    from liqkit.domain.types import OrderStatus

    return OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.NEW


def _error(out: Outcome) -> VenueError:
    """The exception a venue raises for a failed ``out``."""
    text = out.text.split("] ", 1)[-1]
    code = _code(out.text)
    if out.kind == REFUSED:
        return OrderRejected(text, code, out.reason)
    if out.kind == NOT_OPEN:
        return UnknownOrderError(text, code)
    if out.kind == RETRY:
        return RetryableError(text, code, out.retry_after_ns / 1e9)
    if out.kind == UNKNOWN:
        return UnknownOutcomeError(text, code)
    raise AssertionError(f"unexpected outcome {out!r}")


def _code(text: str) -> int | None:
    if text.startswith("[") and "]" in text:
        try:
            return int(text[1 : text.index("]")])
        except ValueError:
            return None
    return None


def _stamped(ev: Any, t: int) -> Any:
    """A stream event as received at ``t``."""
    from dataclasses import replace

    return replace(ev, ts_local=t)
