"""``EngineRunner``: the async I/O around the engine core, on any ``Venue``, in any ``Clock``'s time.

It feeds the venue's events to the engine, performs what the engine asks (the core's intents and the
execution's queries, each as its own task, so one slow pair never blocks another), and hands every
answer back. Turning intents into requests and answers into core events — unknown fates resolved by
querying, never by re-sending; retries after rate limits; reconciliation after stream gaps — is
``liqkit.engine.execution``'s, the same code the backtest runs. It runs the periodic timer, and
drains the core's records into its sink (the journal) and to subscribers. ``stop()`` cancels every
liqkit order, waits for the venue to confirm, and flushes.

With a wall clock it trades live (the simulated exchange, or Binance); with a replay's virtual clock
(``liqkit.venues.sim.replay``) the very same code replays recorded data as fast as it can.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

from liqkit.domain.config import PairConfig, RiskConfig
from liqkit.domain.errors import OrderRejected, RetryableError, UnknownOrderError, VenueError
from liqkit.domain.rules import plain_decimal
from liqkit.domain.types import BalanceUpdate, BookTop, Trade
from liqkit.engine.core import FEE_SCALE, EngineCore
from liqkit.engine.events import BalanceEvent, BookEvent, ConfigEvent, FillEvent, OrderEvent, RunnerEvent, StateEvent
from liqkit.engine.execution import (
    DONE,
    OK,
    OUTCOME_NAMES,
    TIMER_NS,
    Execution,
    FetchBalances,
    FetchFills,
    Later,
    Outcome,
    Query,
    Request,
    outcome_of,
)
from liqkit.engine.histogram import LatencyHistogram
from liqkit.engine.ids import new_run_nonce
from liqkit.engine.intents import Amend, Cancel, CancelAll, CancelList, Place, PlaceOco, Replace
from liqkit.engine.ordercount import OrderCount
from liqkit.engine.ports import Clock, Sink, StreamGap, UserFill, UserOrder, Venue, WallClock
from liqkit.engine.records import StateRecord
from liqkit.engine.startup import StartupRetry
from liqkit.engine.state import purpose
from liqkit.engine.views import Balance, side_name

log = logging.getLogger("liqkit.runner")
E = TypeVar("E", bound=RunnerEvent)
_JOURNALED = {
    Place: "place",
    Cancel: "cancel",
    Amend: "amend",
    Replace: "replace",
    CancelAll: "cancel_all",
    PlaceOco: "place_oco",
    CancelList: "cancel_list",
    Query: "query",
}


class EngineRunner:
    """Run an engine core on a venue."""

    def __init__(
        self,
        venue: Venue,
        pairs: Iterable[PairConfig],
        journal: Sink | None = None,
        risk: RiskConfig | None = None,
        clock: Clock | None = None,
        timer_s: float = TIMER_NS / 1e9,
        run_nonce: str | None = None,
    ) -> None:
        self.venue = venue
        self.configs = {p.symbol: p for p in pairs}
        self.journal = journal
        self.core = EngineCore(
            risk,
            run_nonce,
            amend_keeps_priority=getattr(venue, "amend_keeps_priority", False),
            cancel_replace=getattr(venue, "cancel_replace", False),
        )
        self.execution = Execution(self.core)
        self.time: Clock = clock or WallClock()
        self.clock: Callable[[], int] = self.time.now
        self.timer_ns = max(1, int(timer_s * 1e9))
        self.state = "created"
        self.errors: deque[str] = deque(maxlen=50)
        self.latency = LatencyHistogram()  # decision latency, ns
        self.loop_lag_ms: deque[float] = deque(maxlen=60)  # how late the timer ran, at each tick
        self.subscribers: list[tuple[asyncio.Queue[RunnerEvent], int]] = []
        self.listeners: dict[type, list[Callable[[Any], None]]] = {}
        self.taps: list[Callable[[list[Any], list[Any], list[Any]], None]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._changed: asyncio.Event | None = None
        self.n_events = 0
        self.reconnects = 0
        self.startup = StartupRetry()  # start-up's retry policy (replace it to bound or speed it up)
        self.order_count = OrderCount()  # new orders and cancels sent, for the rate-limit planner
        self.session = ""  # ``start``'s time (the clock's ns) and a nonce: the journal's round trips name it

    # ---- lifecycle ------------------------------------------------------------------------------
    async def start(self, run: Iterable[str] = (), cleanup: bool = True) -> None:
        """Connect, learn rules and balances, cancel liqkit's orders left open on every configured pair
        (a crash may have left some; ``cleanup=False`` skips this), and run the named pairs.

        Each step is retried through transient faults (``liqkit.engine.startup``); ``state`` says what
        it waits for. A permanent error is raised as it came, after the venue is closed (quietly: a
        failure to close never hides the cause), and leaves the runner stopped."""
        self._changed = asyncio.Event()
        self.state = "starting"
        self.order_count.begin(self.clock())
        self.session = f"{self.clock()}-{new_run_nonce()}"
        retry = self.startup

        def waiting(text: str | None) -> None:
            self.state = f"starting: {text}" if text else "starting"

        retry.on_wait = waiting
        try:
            await retry.run("the venue (connect)", self.venue.start)
            rules = await retry.run("exchangeInfo (symbol rules)", lambda: self.venue.rules(self.configs))
            for sym, cfg in self.configs.items():
                self.core.add_pair(cfg, rules[sym])
                if cfg.exit_inventory is not None and not hasattr(self.venue, "place_oco"):
                    text = f"{sym}: exit_inventory is set but this venue ({self.venue.name}) places no OCO exits"
                    self._error(text)
                    if self.journal is not None:
                        self.journal.state(self.clock(), sym, "exit", text)
            for sym in self.configs if cleanup else ():
                left = await retry.run(f"open orders of {sym} (cleanup)", partial(self.venue.cancel_all, sym, True))
                if left and self.journal is not None:
                    self.journal.state(self.clock(), sym, "cleanup", f"cancelled {len(left)} liqkit orders left open")
            self.execution.on_balances(await retry.run("the account (balances)", self.venue.balances), self.clock())
        except BaseException:
            with contextlib.suppress(Exception):
                await self.venue.close()
            self.state = "stopped"
            raise
        self.state = "running"
        self._loops = [
            asyncio.create_task(self._consume(), name="liqkit-events"),
            asyncio.create_task(self._timer(), name="liqkit-timer"),
        ]
        for loop_task in self._loops:
            loop_task.add_done_callback(self._loop_died)
        for sym in run:
            await self.run_pair(sym)
        self._drain()

    async def run_pair(self, symbol: str) -> None:
        """Start quoting ``symbol`` (its open orders are cleaned up first)."""
        self._submit(self.core.run(symbol, self.clock()))  # type: ignore[arg-type]
        self._drain()

    async def stop_pair(self, symbol: str) -> None:
        """Stop quoting ``symbol`` and cancel its orders (and its exit)."""
        self._submit(self.core.stop(symbol, self.clock()))  # type: ignore[arg-type]
        self._drain()

    def configure(self, cfg: PairConfig, source: str = "api") -> None:
        """Apply a new pair config (checked first; a bad one raises ConfigError and changes nothing)."""
        self._submit(self.core.configure(cfg, self.clock(), source))  # type: ignore[arg-type]
        self.configs[cfg.symbol] = cfg
        stp = getattr(self.venue, "stp_modes", None)  # a venue that sends Binance's STP mode with each order
        if isinstance(stp, dict):
            if cfg.stp_mode:
                stp[cfg.symbol] = cfg.stp_mode
            else:
                stp.pop(cfg.symbol, None)
        self._drain()

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Stop every pair, wait until no liqkit order is open at the venue, flush and disconnect."""
        if self.state == "stopped":
            return
        self.state = "stopping"
        self._submit(self.core.stop_all(self.clock()))  # type: ignore[arg-type]
        deadline = time.monotonic() + timeout_s
        await self._settled(deadline)
        await self._sweep(deadline)
        if self.core.orders:
            self.errors.append(f"stop: {len(self.core.orders)} orders not confirmed cancelled within {timeout_s}s")
        for t in self._loops:
            t.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        final = await self._final_balances(deadline)  # the stream may hold updates nobody will read now
        if final is not None:
            self.execution.on_balances(final, self.clock())
            if self.journal is not None:
                now = self.clock()
                for asset, (free, locked) in final.items():
                    self.journal.balance(now, asset, free, locked)
        self._drain()
        try:
            await self.venue.close()
        finally:
            if self.journal is not None:
                self.journal.flush()
            self.state = "stopped"

    async def _final_balances(self, deadline: float) -> dict[str, tuple[Decimal, Decimal]] | None:
        """The account's balances once everything is cancelled, asked again while the venue says to wait
        (a rate limit, its circuit breaker), at most until ``deadline`` plus the sweep's 10 s; None (and an
        error said) when they cannot be had: the stop goes on regardless."""
        while True:
            try:
                return await self.venue.balances()
            except RetryableError as e:
                if time.monotonic() >= deadline + 10:
                    self._error(f"stop: final balances not read: {e}")
                    return None
                await self.time.sleep_until(self.clock() + int(min(max(e.retry_after or 0.0, 0.05), 5.0) * 1e9))
            except VenueError as e:
                self._error(f"stop: final balances not read: {e}")
                return None

    async def _settled(self, deadline: float) -> None:
        """Wait (until the monotonic ``deadline``) for no open order and no request in flight."""
        while (self.core.orders or self._tasks) and self._changed is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                return

    async def _sweep(self, deadline: float) -> None:
        """Last cleanup at stop: ask the venue for liqkit's open orders and cancel what is left, then
        ask once more after every order whose fate is still unknown."""
        for st in self.core.pairs:
            while time.monotonic() < deadline + 10:
                try:
                    ids = await self.venue.cancel_all(st.symbol, own_only=True)
                    self._submit(self.execution.on_answer(CancelAll(st.symbol, True), Outcome(OK, ids), self.clock()))
                    break
                except RetryableError as e:
                    await self.time.sleep_until(self.clock() + int(min(e.retry_after or 1.0, 5.0) * 1e9))
                except VenueError as e:
                    self._error(f"stop sweep {st.symbol}: {e}")
                    await self.time.sleep_until(self.clock() + 200_000_000)
        self._submit([Query(o.symbol, o.client_id) for o in self.core.orders.values()])
        await self._settled(deadline + 10)
        self._drain()

    # ---- events in --------------------------------------------------------------------------------
    async def _consume(self) -> None:
        x = self.execution
        index = {st.symbol: st.idx for st in self.core.pairs}
        async for ev in self.venue.events():
            self.n_events += 1
            t = type(ev)
            if t is BookTop:
                b: BookTop = ev  # type: ignore[assignment]
                idx = index.get(b.symbol)
                if idx is None:
                    continue
                t0 = time.perf_counter_ns()
                intents = x.on_book(idx, b.ts_local, b.bid, b.bid_qty, b.ask, b.ask_qty)
                if intents:
                    self._submit(intents)  # type: ignore[arg-type]
                self.latency.record(time.perf_counter_ns() - t0)
                self._publish(BookEvent(symbol=b.symbol, bid=b.bid, ask=b.ask, ts=b.ts_local))
            elif t is Trade:
                continue
            elif t is UserFill:
                self._submit(x.on_fill(ev, ev.ts_local))  # type: ignore[arg-type]
            elif t is UserOrder:
                u: UserOrder = ev  # type: ignore[assignment]
                self._submit(x.on_order_update(u.client_id, u.status, u.filled, u.ts_local))
            elif t is BalanceUpdate:
                bu: BalanceUpdate = ev  # type: ignore[assignment]
                self._submit(x.on_balances({a.asset: (a.free, a.locked) for a in bu.balances}, bu.ts_local))
                if self.journal is not None:
                    for a in bu.balances:
                        self.journal.balance(bu.ts_local, a.asset, a.free, a.locked)
                self._publish_balances(bu.ts_local, [a.asset for a in bu.balances])
            elif t is StreamGap:
                self.reconnects += 1
                self._submit(x.on_gap(self.clock()))
            self._drain()

    async def _timer(self) -> None:
        """The engine's periodic check on a grid of ``timer_ns``: its requests follow the next wait."""
        period = self.timer_ns
        nxt = self.clock() // period * period + period
        while True:
            await self.time.sleep_until(nxt)
            now = self.clock()
            self.loop_lag_ms.append(max(0, now - nxt) / 1e6)  # how late the loop woke us
            self._submit(self.execution.on_timer(now))
            self._drain()
            if self.journal is not None:
                self.journal.flush()
            nxt = now // period * period + period

    # ---- requests out -----------------------------------------------------------------------------
    def _submit(self, requests: list[Request]) -> None:
        for r in requests:
            self._spawn(self._perform(r))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._error(f"{type(task.exception()).__name__}: {task.exception()}")
        if self._changed is not None:
            self._changed.set()

    def _loop_died(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._error(f"{task.get_name()} stopped: {task.exception()!r}")

    def _error(self, text: str) -> None:
        self.errors.append(text)
        log.error(text)

    async def _perform(self, req: Request) -> None:
        """Perform one request on the venue and hand the answer to the execution."""
        if type(req) is Later:
            later: Later = req  # type: ignore[assignment]
            await self.time.sleep_until(self.clock() + later.delay_ns)
            req = later.request
            if type(req) is Later:
                self._submit([req])
                return
        sent = self.clock()
        try:
            value = await self._call(req)
            out = DONE if value is None else Outcome(OK, value)
        except Exception as e:
            out = outcome_of(e)  # the liqkit error tree and transport errors; anything else is a bug: raised
        now = self.clock()
        kind = _JOURNALED.get(type(req))
        if kind is not None and self.journal is not None:  # its round trip (``liqkit latency export``)
            symbol, cid = getattr(req, "symbol", ""), getattr(req, "client_id", "") or getattr(req, "list_id", "")
            if type(req) is Replace:  # named by the order it places (the one it cancels is in the orders)
                cid = req.place.client_id  # type: ignore[attr-defined]
            self.journal.request(sent, now, symbol, cid, kind, OUTCOME_NAMES[out.kind], self.session)
        self._submit(self.execution.on_answer(req, out, now))
        if self.execution.errors:
            for text in self.execution.errors:
                self._error(text)
            self.execution.errors.clear()
        self._drain()

    async def _call(self, req: Request) -> Any:
        v = self.venue
        t = type(req)
        if t is Place:
            return await v.place(req)  # type: ignore[arg-type]
        if t is Cancel:
            c: Cancel = req  # type: ignore[assignment]
            return await v.cancel(c.symbol, c.client_id)
        if t is Amend:
            return await v.amend(req)  # type: ignore[arg-type]
        if t is Replace:
            return await v.replace(req)  # type: ignore[arg-type]
        if t is CancelAll:
            ca: CancelAll = req  # type: ignore[assignment]
            return await v.cancel_all(ca.symbol, ca.own_only)
        if t is Query:
            q: Query = req  # type: ignore[assignment]
            return await v.query_order(q.symbol, q.client_id)
        if t is FetchFills:
            f: FetchFills = req  # type: ignore[assignment]
            return await v.order_fills(f.symbol, f.client_id)
        if t is FetchBalances:
            return await v.balances()
        if t is PlaceOco or t is CancelList:
            return await self._list_call(req)  # type: ignore[arg-type]
        raise TypeError(f"unknown request {req!r}")

    async def _list_call(self, req: PlaceOco | CancelList) -> Any:
        """An order list's request, on a venue that has them (``place_oco``/``cancel_order_list``)."""
        v = self.venue
        if type(req) is PlaceOco:
            place = getattr(v, "place_oco", None)
            if place is None:
                raise OrderRejected(f"{v.name} places no OCO exits")
            return await place(req)
        cancel = getattr(v, "cancel_order_list", None)
        if cancel is None:
            raise UnknownOrderError(f"{v.name} has no order lists")
        return await cancel(req.symbol, req.list_id)

    # ---- journal and subscribers ------------------------------------------------------------------
    def _drain(self) -> None:
        core = self.core
        j = self.journal
        if self.taps and (core.order_log or core.fill_log or core.event_log):
            for tap in self.taps:
                tap(core.order_log, core.fill_log, core.event_log)
        if core.order_log:
            olog, core.order_log = core.order_log, []
            count = self.order_count
            for rec in olog:
                ts, o, status, filled, reason = rec.ts, rec.order, rec.status, rec.filled, rec.reason
                if status == "PENDING_NEW":
                    count.order(ts)
                elif status == "PENDING_CANCEL":
                    count.cancel(ts)
                r = core.pairs[o.pair].rules
                why = purpose(o)
                if j is not None:
                    j.order(
                        ts,
                        o.symbol,
                        o.client_id,
                        o.side,
                        r.price(o.price),
                        r.qty(o.qty),
                        r.qty(filled),
                        status,
                        level=o.level,
                        reason=reason,
                        purpose=why,
                    )
                self._publish(
                    OrderEvent(
                        symbol=o.symbol,
                        client_id=o.client_id,
                        side=side_name(o.side),
                        price=format(r.price(o.price), "f"),
                        qty=format(r.qty(o.qty), "f"),
                        filled=format(r.qty(filled), "f"),
                        level=o.level,
                        status=status,
                        ts=ts,
                        purpose=why,
                    )
                )
        if core.fill_log:
            flog, core.fill_log = core.fill_log, []
            for fr in flog:
                ts, tx, o, px, q = fr.ts, fr.ts_exchange, fr.order, fr.price, fr.qty
                fee_nu, maker, tid = fr.fee_nu, fr.is_maker, fr.trade_id
                st = core.pairs[o.pair]
                r = st.rules
                fee = Decimal(fee_nu) * r.tick * r.step / FEE_SCALE
                why = purpose(o)
                if j is not None:
                    j.fill(
                        ts,
                        o.symbol,
                        o.client_id,
                        o.side,
                        r.price(px),
                        r.qty(q),
                        fee,
                        r.quote_asset,
                        maker,
                        ts_exchange=tx,
                        trade_id=tid,
                        purpose=why,
                    )
                self._publish(
                    FillEvent(
                        symbol=o.symbol,
                        client_id=o.client_id,
                        side=side_name(o.side),
                        price=format(r.price(px), "f"),
                        qty=format(r.qty(q), "f"),
                        fee=format(fee, "f"),
                        mid=plain_decimal(r.price(st.bid + st.ask) / 2) if st.has_book else None,
                        fee_asset=r.quote_asset,
                        maker=maker,
                        ts=ts,
                        purpose=why,
                    )
                )
        if core.event_log:
            elog, core.event_log = core.event_log, []
            for ev in elog:
                if isinstance(ev, StateRecord):
                    if j is not None:
                        j.state(ev.ts, ev.symbol, ev.state, ev.reason)
                    self._publish(StateEvent(ts=ev.ts, symbol=ev.symbol, state=ev.state, reason=ev.reason))
                else:
                    if j is not None:
                        j.config_change(ev.ts, ev.symbol, ev.config, ev.source)
                    self._publish(ConfigEvent(ts=ev.ts, symbol=ev.symbol, config=ev.config, source=ev.source))

    def subscribe(self, book_backlog: int = 1000) -> asyncio.Queue[RunnerEvent]:
        """A queue of events (``liqkit.engine.events``). Book events are skipped while the reader is
        ``book_backlog`` behind; order, fill, balance, state and config events are never dropped nor reordered."""
        q: asyncio.Queue[RunnerEvent] = asyncio.Queue()
        self.subscribers.append((q, book_backlog))
        return q

    def unsubscribe(self, q: asyncio.Queue[RunnerEvent]) -> None:
        """Stop feeding a queue ``subscribe`` returned."""
        self.subscribers = [(sq, b) for sq, b in self.subscribers if sq is not q]

    def _publish_balances(self, ts: int, assets: Iterable[str]) -> None:
        bal = self.core.balances
        self._publish(
            BalanceEvent(
                ts=ts,
                balances={
                    a: Balance(free=plain_decimal(bal[a][0]), locked=plain_decimal(bal[a][1]))
                    for a in assets
                    if a in bal
                },
            )
        )

    def listen(self, kind: type[E], fn: Callable[[E], None]) -> None:
        """Call ``fn`` with every event of class ``kind`` (e.g. ``FillEvent``) as it is published
        (no queue: it must be quick)."""
        self.listeners.setdefault(kind, []).append(fn)

    def _publish(self, event: RunnerEvent) -> None:
        for fn in self.listeners.get(type(event), ()):
            fn(event)
        book = type(event) is BookEvent
        for q, backlog in self.subscribers:
            if book and q.qsize() >= backlog:
                continue
            q.put_nowait(event)

    # ---- views --------------------------------------------------------------------------------
    def latency_stats(self) -> dict[str, float]:
        """Decision latency (book update in -> intents handed out) over the latest samples, microseconds:
        ``n``, ``p50_us``, ``p99_us`` (within ``histogram.RELATIVE_ERROR``) and ``max_us`` (exact)."""
        h = self.latency
        p50, p99 = h.percentiles(0.5, 0.99)
        return {"n": h.n, "p50_us": p50 / 1e3, "p99_us": p99 / 1e3, "max_us": h.max / 1e3}

    def status(self) -> dict[str, Any]:
        """Engine state, per-pair state and reason, feed age, open orders, errors."""
        now = self.clock()
        return {
            "state": self.state,
            "venue": self.venue.name,
            "events": self.n_events,
            "reconnects": self.reconnects,
            "loop_lag_ms": {
                "last": round(self.loop_lag_ms[-1], 2) if self.loop_lag_ms else None,
                "max": round(max(self.loop_lag_ms), 2) if self.loop_lag_ms else None,  # over the last minute
            },
            "errors": list(self.errors),
            "pairs": {
                st.symbol: {
                    "state": st.state,
                    "reason": st.reason,
                    "feed_age_s": (now - st.last_book_ts) / 1e9 if st.last_book_ts else None,
                    "open_orders": sum(1 for o in self.core.orders.values() if o.pair == st.idx),
                    "position": str(st.rules.qty(st.pos)),
                    "fills": st.n_fills,
                }
                for st in self.core.pairs
            },
        }
