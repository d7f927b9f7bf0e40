"""``EngineRunner``: the async I/O around the engine core, on any ``Venue``.

It feeds the venue's events to the core (the same ``EngineCore`` a backtest drives), executes the
core's intents on the venue (each as its own task, so one slow pair never blocks another), turns
answers and failures into core events (an unknown outcome is resolved by querying the order, never
by re-sending it), runs the stale-feed timer, and drains the core's logs into the SQLite journal and
to subscribers. ``stop()`` cancels every liqkit order, waits for the venue to confirm, and flushes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, TypeVar

from liqkit.domain.config import PairConfig, RiskConfig
from liqkit.domain.errors import OrderRejected, RetryableError, UnknownOrderError, UnknownOutcomeError, VenueError
from liqkit.domain.rules import plain_decimal
from liqkit.domain.types import BalanceUpdate, BookTop, Trade
from liqkit.engine.core import FEE_SCALE, EngineCore
from liqkit.engine.events import BalanceEvent, BookEvent, ConfigEvent, FillEvent, OrderEvent, RunnerEvent, StateEvent
from liqkit.engine.histogram import LatencyHistogram
from liqkit.engine.intents import Cancel, CancelAll, Intent, Place
from liqkit.engine.views import Balance, side_name
from liqkit.journal import Journal
from liqkit.venues.base import StreamGap, UserFill, UserOrder, Venue

log = logging.getLogger("liqkit.runner")
E = TypeVar("E", bound=RunnerEvent)
_FINAL = {"CANCELED", "EXPIRED", "REJECTED", "EXPIRED_IN_MATCH"}


class EngineRunner:
    """Run an engine core on a venue, in wall-clock time."""

    def __init__(
        self,
        venue: Venue,
        pairs: Iterable[PairConfig],
        journal: Journal | None = None,
        risk: RiskConfig | None = None,
        clock: Callable[[], int] = time.time_ns,
        timer_s: float = 1.0,
    ) -> None:
        self.venue = venue
        self.configs = {p.symbol: p for p in pairs}
        self.journal = journal
        self.core = EngineCore(risk)
        self.clock = clock
        self.timer_s = timer_s
        self.state = "created"
        self.errors: deque[str] = deque(maxlen=50)
        self.latency = LatencyHistogram()  # decision latency, ns
        self.loop_lag_ms: deque[float] = deque(maxlen=60)  # event-loop lateness at each timer tick
        self.subscribers: list[tuple[asyncio.Queue[RunnerEvent], int]] = []
        self.listeners: dict[type, list[Callable[[Any], None]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self.n_events = 0
        self.reconnects = 0
        self._reconciling = False

    # ---- lifecycle ------------------------------------------------------------------------------
    async def start(self, run: Iterable[str] = (), cleanup: bool = True) -> None:
        """Connect, learn rules and balances, cancel liqkit's orders left open on every configured pair
        (a crash may have left some; ``cleanup=False`` skips this), and run the named pairs."""
        await self.venue.start()
        rules = await self.venue.rules(self.configs)
        for sym, cfg in self.configs.items():
            self.core.add_pair(cfg, rules[sym])
        if cleanup:
            for sym in self.configs:
                left = await self.venue.cancel_all(sym, own_only=True)
                if left and self.journal is not None:
                    self.journal.state(self.clock(), sym, "cleanup", f"cancelled {len(left)} liqkit orders left open")
        self.core.on_balances(await self.venue.balances(), self.clock())
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
        self._submit(self.core.run(symbol, self.clock()))
        self._drain()

    async def stop_pair(self, symbol: str) -> None:
        """Stop quoting ``symbol`` and cancel its orders."""
        self._submit(self.core.stop(symbol, self.clock()))
        self._drain()

    def configure(self, cfg: PairConfig, source: str = "api") -> None:
        """Apply a new pair config (checked first; a bad one raises ConfigError and changes nothing)."""
        self._submit(self.core.configure(cfg, self.clock(), source))
        self.configs[cfg.symbol] = cfg
        self._drain()

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Stop every pair, wait until no liqkit order is open at the venue, flush and disconnect."""
        if self.state == "stopped":
            return
        self.state = "stopping"
        self._submit(self.core.stop_all(self.clock()))
        deadline = time.monotonic() + timeout_s
        while (self.core.orders or self._tasks) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await self._sweep(deadline)
        if self.core.orders:
            self.errors.append(f"stop: {len(self.core.orders)} orders not confirmed cancelled within {timeout_s}s")
        for t in self._loops:
            t.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        final = await self.venue.balances()  # the stream may hold updates nobody will read now
        self.core.on_balances(final, self.clock())
        if self.journal is not None:
            now = self.clock()
            for asset, (free, locked) in final.items():
                self.journal.balance(now, asset, free, locked)
        self._drain()
        await self.venue.close()
        if self.journal is not None:
            self.journal.flush()
        self.state = "stopped"

    async def _sweep(self, deadline: float) -> None:
        """Last cleanup at stop: ask the venue for liqkit's open orders and cancel what is left."""
        for st in self.core.pairs:
            while time.monotonic() < deadline + 10:
                try:
                    for cid in await self.venue.cancel_all(st.symbol, own_only=True):
                        self._submit(self.core.on_canceled(cid, self.clock()))
                    break
                except RetryableError as e:
                    await asyncio.sleep(min(e.retry_after or 1.0, 5.0))
                except VenueError as e:
                    self._error(f"stop sweep {st.symbol}: {e}")
                    await asyncio.sleep(0.2)
        for o in list(self.core.orders.values()):  # anything still unknown: ask once more
            await self._resolve(o.symbol, o.client_id)
        self._drain()

    # ---- events in --------------------------------------------------------------------------------
    async def _consume(self) -> None:
        core = self.core
        index = {st.symbol: st.idx for st in core.pairs}
        async for ev in self.venue.events():
            self.n_events += 1
            if isinstance(ev, BookTop):
                idx = index.get(ev.symbol)
                if idx is None:
                    continue
                t0 = time.perf_counter_ns()
                intents = core.on_book(idx, ev.ts_local, ev.bid, ev.bid_qty, ev.ask, ev.ask_qty)
                if intents:
                    self._submit(intents)
                self.latency.record(time.perf_counter_ns() - t0)
                self._publish(BookEvent(symbol=ev.symbol, bid=ev.bid, ask=ev.ask, ts=ev.ts_local))
            elif isinstance(ev, Trade):
                continue
            elif isinstance(ev, UserFill):
                if ev.symbol not in core.by_symbol:
                    continue
                fee_nu = self._fee_nu(ev)
                self._submit(
                    core.on_fill(
                        ev.client_id, ev.ts_local, ev.price, ev.qty, fee_nu, ev.is_maker, ev.trade_id, ev.ts_exchange
                    )
                )
            elif isinstance(ev, UserOrder):
                if ev.status in _FINAL or ev.status in ("NEW", "PARTIALLY_FILLED", "FILLED"):
                    self._submit(core.on_order_status(ev.client_id, ev.status, ev.filled, ev.ts_local))
            elif isinstance(ev, BalanceUpdate):
                self._submit(core.on_balances({b.asset: (b.free, b.locked) for b in ev.balances}, ev.ts_local))
                if self.journal is not None:
                    for b in ev.balances:
                        self.journal.balance(ev.ts_local, b.asset, b.free, b.locked)
                self._publish_balances(ev.ts_local, [b.asset for b in ev.balances])
            elif isinstance(ev, StreamGap):
                self.reconnects += 1
                self._spawn(self._reconcile())
            self._drain()

    async def _timer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(self.timer_s)
            self.loop_lag_ms.append((loop.time() - t0 - self.timer_s) * 1e3)  # how late the loop woke us
            self._submit(self.core.on_timer(self.clock()))
            self._drain()
            if self.journal is not None:
                self.journal.flush()

    async def _reconcile(self) -> None:
        """After a gap in a stream: balances and our orders' states (and missed fills) from the venue."""
        if self._reconciling:
            return
        self._reconciling = True
        try:
            await asyncio.sleep(0.2)  # let the venue reconnect first; gaps come in bursts
            try:
                self._submit(self.core.on_balances(await self.venue.balances(), self.clock()))
            except VenueError as e:
                self._error(f"reconcile balances: {e}")
            await asyncio.gather(*(self._resolve(o.symbol, o.client_id) for o in list(self.core.orders.values())))
        finally:
            self._reconciling = False

    # ---- intents out ------------------------------------------------------------------------------
    def _submit(self, intents: list[Intent]) -> None:
        for it in intents:
            self._spawn(self._execute(it))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._error(f"{type(task.exception()).__name__}: {task.exception()}")

    def _loop_died(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._error(f"{task.get_name()} stopped: {task.exception()!r}")

    def _error(self, text: str) -> None:
        self.errors.append(text)
        log.error(text)

    async def _execute(self, it: Intent) -> None:
        core, clock = self.core, self.clock
        if isinstance(it, Place):
            try:
                await self.venue.place(it)
                out = core.on_accepted(it.client_id, clock())
            except OrderRejected as e:
                out = core.on_rejected(it.client_id, clock(), str(e), e.would_cross)
            except RetryableError as e:  # refused for now: not placed
                out = core.on_rejected(it.client_id, clock(), f"retry later: {e}", retryable=True)
            except (TimeoutError, UnknownOutcomeError, VenueError, OSError) as e:
                core.on_unknown_outcome(it.client_id, clock(), f"{type(e).__name__}: {e}")
                out = []
                self._spawn(self._resolve(it.symbol, it.client_id))
        elif isinstance(it, Cancel):
            try:
                await self.venue.cancel(it.symbol, it.client_id)
                out = core.on_canceled(it.client_id, clock())
            except RetryableError as e:  # not sent: send it again once the venue allows
                await asyncio.sleep(e.retry_after or 1.0)
                if it.client_id in core.orders:
                    self._spawn(self._execute(it))
                out = []
            except UnknownOrderError:
                out = core.on_cancel_unknown_order(it.client_id, clock())
                self._spawn(self._resolve(it.symbol, it.client_id))
            except (TimeoutError, UnknownOutcomeError, VenueError, OSError) as e:
                out = core.on_unknown_outcome(it.client_id, clock(), f"cancel: {type(e).__name__}: {e}")
                self._spawn(self._resolve(it.symbol, it.client_id))
        elif isinstance(it, CancelAll):
            out = []
            try:
                for cid in await self.venue.cancel_all(it.symbol, it.own_only):
                    out += core.on_canceled(cid, clock())
            except VenueError as e:  # the sweep at stop (and the next run) tries again
                self._error(f"cleanup of {it.symbol}: {e}")
        else:
            raise TypeError(f"unknown intent {it!r}")
        self._submit(out)
        self._drain()

    async def _resolve(self, symbol: str, client_id: str, misses_to_give_up: int = 5) -> None:
        """Find out an order's fate by asking the venue, and recover fills a stream gap hid.

        Only repeated "no such order" answers (-2013; one right after a timeout may mean "not yet")
        conclude the order was never placed; errors and rate limits only delay the answer.
        """
        core = self.core
        misses, delay = 0, 0.05
        deadline = time.monotonic() + 120
        while client_id in core.orders and time.monotonic() < deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            try:
                o = await self.venue.query_order(symbol, client_id)
                if o is None:
                    misses += 1
                    if misses >= misses_to_give_up:
                        self._submit(core.on_order_status(client_id, "EXPIRED", 0, self.clock()))
                        break
                    continue
                mine = core.orders.get(client_id)
                if mine is not None and o.filled > mine.filled:
                    for f in await self.venue.order_fills(symbol, client_id):
                        self._submit(
                            core.on_fill(
                                f.client_id,
                                self.clock(),
                                f.price,
                                f.qty,
                                self._fee_nu(f),
                                f.is_maker,
                                f.trade_id,
                                f.ts_exchange,
                            )
                        )
                self._submit(core.on_order_status(client_id, o.status, o.filled, self.clock()))
                break
            except RetryableError as e:
                await asyncio.sleep(e.retry_after or 1.0)
            except VenueError as e:
                self._error(f"query {client_id}: {e}")
            finally:
                self._drain()

    def _fee_nu(self, f: UserFill) -> int:
        st = self.core.by_symbol[f.symbol]
        r = st.rules
        return int(f.fee / (r.tick * r.step) * FEE_SCALE) if f.fee_asset == r.quote_asset else 0

    # ---- journal and subscribers ------------------------------------------------------------------
    def _drain(self) -> None:
        core = self.core
        j = self.journal
        if core.order_log:
            olog, core.order_log = core.order_log, []
            for ts, o, status, filled, reason in olog:
                r = core.pairs[o.pair].rules
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
                    )
                )
        if core.fill_log:
            flog, core.fill_log = core.fill_log, []
            for ts, tx, o, px, q, fee_nu, maker, tid in flog:
                st = core.pairs[o.pair]
                r = st.rules
                fee = Decimal(fee_nu) * r.tick * r.step / FEE_SCALE
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
                    )
                )
        if core.event_log:
            elog, core.event_log = core.event_log, []
            for ev in elog:
                if j is not None:
                    if ev[0] == "state":
                        j.state(ev[1], ev[2], ev[3], ev[4])
                    else:
                        j.config_change(ev[1], ev[2], ev[3], ev[4])
                if ev[0] == "state":
                    self._publish(StateEvent(ts=ev[1], symbol=ev[2], state=ev[3], reason=ev[4]))
                else:
                    self._publish(ConfigEvent(ts=ev[1], symbol=ev[2], config=ev[3], source=ev[4]))

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
