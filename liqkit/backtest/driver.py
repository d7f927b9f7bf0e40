"""Drive the engine on the simulated exchange in virtual time: the backtest's loop, and nothing else.

The feed's book and trade rows are merged into one time-ordered stream (book first on equal times);
its depth rows, when it has any, are the timeline's (``Timeline.load_depth``), not rows of this loop.
The exchange side — matching, latency, answers, the user stream, balance reports — is the simulated
exchange's ``Timeline`` (``liqkit.venues.sim.timeline``); the order lifecycle between exchange and core
is ``liqkit.engine.execution``; quoting is the core's. This loop walks the rows and the timeline's items
in order and hands the engine what it hears, exactly as ``ReplayVenue`` does for the live runner
(``liqkit trade --clock virtual``): the parity tests hold the two to the same orders and fills.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from librt.vecs import vec
from mypy_extensions import i64

from liqkit.domain.types import BalanceUpdate
from liqkit.engine.core import EngineCore
from liqkit.engine.execution import TIMER_NS, Execution, Request
from liqkit.engine.latency import ConstantLatency, LatencyModel
from liqkit.engine.records import FillRecord, OrderRecord
from liqkit.engine.state import purpose
from liqkit.venues.sim.exchange import SimExchange, SimFill
from liqkit.venues.sim.timeline import (
    ANSWER,
    ARRIVE,
    DEPTH,
    EVENT,
    MARKET,
    REPORT,
    TIMER,
    WAKE,
    OrderEvent,
    Timeline,
)

_CHUNK: Final = 1 << 16  # rows copied into native vectors at a time (a few MB, not a copy of the whole feed)


@dataclass
class RunStats:
    """What the loop itself measured."""

    events: int = 0
    wall_s: float = 0.0
    start_ns: int = 0
    end_ns: int = 0
    samples: list[tuple[Any, ...]] = field(default_factory=list)


class Driver:
    """One backtest run: an engine core behind its execution, a simulated exchange's timeline, a feed."""

    def __init__(
        self,
        core: EngineCore,
        sim: SimExchange,
        latency: LatencyModel | int = 0,
        sample_ns: int = 1_000_000_000,
        timer_ns: int = TIMER_NS,
        hold_quiet: bool = True,
    ) -> None:
        self.core = core
        self.sim = sim
        self.execution = Execution(core)
        self.timeline = Timeline(sim, ConstantLatency(latency) if isinstance(latency, int) else latency)
        self.timer_ns = timer_ns
        self.hold_quiet = hold_quiet  # False: show every row (the same run, slower: the tests compare the two)
        self.sample_ns = max(sample_ns, timer_ns)
        self.next_sample = 0
        self.stats = RunStats()
        self.on_progress: Callable[[int], None] | None = None

    # ---- start ------------------------------------------------------------------------------------
    def start(self, symbols: list[str], t0: int) -> None:
        """What ``EngineRunner.start`` does on a fresh simulated exchange at ``t0``: balances, the
        timer, then each pair run (its cleanup goes to the exchange like any request)."""
        core = self.core
        self.execution.on_balances(self.sim.balances(), t0)
        self.timeline.push(t0 - t0 % self.timer_ns + self.timer_ns, TIMER, None)
        self.next_sample = t0
        for sym in symbols:
            self.submit(core.run(sym, t0), t0)  # type: ignore[arg-type]

    def submit(self, requests: list[Request], ts: int) -> None:
        """Send requests from the engine to the exchange."""
        tl = self.timeline
        for r in requests:
            tl.submit(r, ts)

    # ---- the timeline's items -----------------------------------------------------------------------
    def due(self, until: int) -> None:
        """Process every timeline item due at or before ``until``."""
        tl = self.timeline
        x = self.execution
        core = self.core
        while True:
            item = tl.take(until)
            if item is None:
                return
            t, kind, payload = item
            if kind == ANSWER:
                req, out, _tok = payload
                self.submit(x.on_answer(req, out, t), t)
            elif kind == ARRIVE:
                tl.arrive(payload[0], t, None)
            elif kind == EVENT:
                if type(payload) is tuple:
                    self._fills(payload, t)
                elif type(payload) is OrderEvent:
                    u: OrderEvent = payload
                    self.submit(x.on_order_update(u.client_id, u.status, u.filled, t), t)
                else:
                    bu: BalanceUpdate = payload
                    self.submit(x.on_balances({b.asset: (b.free, b.locked) for b in bu.balances}, t), t)
            elif kind == MARKET:
                p, a, b, c, d = payload
                intents = core.on_book(p, t, a, b, c, d)
                if intents:
                    self.submit(intents, t)  # type: ignore[arg-type]
            elif kind == TIMER:
                self._tick(t)
            elif kind == REPORT:
                tl.report(t)
            elif kind == WAKE:
                req, _tok = payload
                if req is not None:
                    tl.submit(req, t)
            elif kind == DEPTH:
                tl.depth()
            else:
                raise AssertionError(f"unknown timeline item {kind}")

    def _fills(self, payload: tuple[int, int, list[SimFill]], t: int) -> None:
        _idx, t_ex, fills = payload
        x = self.execution
        for f in fills:
            out = x.on_fill_units(f.client_id, t, f.price, f.qty, f.fee_nu, f.is_maker, f.trade_id, t_ex)
            if out:
                self.submit(out, t)

    def _tick(self, t: int) -> None:
        """The engine's periodic check, then the next one (registered before its requests, as the
        runner's timer task does), a sample for the result's tables, progress."""
        intents = self.execution.on_timer(t)
        self.timeline.push(t - t % self.timer_ns + self.timer_ns, TIMER, None)
        if intents:
            self.submit(intents, t)
        if t >= self.next_sample:
            self._sample(t)
            self.next_sample = t - t % self.sample_ns + self.sample_ns
        if self.on_progress is not None:
            self.on_progress(t)

    # ---- the loop -----------------------------------------------------------------------------
    def run(self, events: tuple[np.ndarray, ...], on_progress: Callable[[int], None] | None = None) -> RunStats:
        """Run the merged event stream through exchange and engine.

        Most rows change nothing but the stored top of book: nothing is due on the timeline, the
        exchange says the row reaches none of our orders (``quiet_book``/``quiet_trade``) and the core
        that its quotes stay as they are (``PairState.quiet``). Of a run of such rows only the last
        book row of each pair is shown to exchange and core (``_show_held``), before anything else
        happens: what they store is what showing every row would have left, and both check it
        (they would answer with fills or intents if a held row were not quiet).
        """
        n = len(events[0])
        tl = self.timeline
        core = self.core
        ex = self.sim
        sts = core.pairs
        realistic = ex.realistic
        feed = tl.latency.feed_ns(0)
        stats = self.stats
        self.on_progress = on_progress
        stats.start_ns = int(events[2][0]) if n else 0
        end = int(events[2][-1]) if n else 0
        hold = self.hold_quiet
        held = vec[i64]([-1] * len(sts))  # per pair, the chunk's row of its last book row not yet shown
        # The logs grow by hundreds of thousands of objects; the cyclic collector would rescan them
        # all, again and again, for nothing (the loop makes no garbage cycles). Pause it meanwhile.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        t0 = time.perf_counter()
        for lo in range(0, n, _CHUNK):
            hi = min(lo + _CHUNK, n)
            # native int64 vectors (librt.vecs): compiled, a row is read with no Python int made
            kinds = vec[i64](events[0][lo:hi])
            pairs = vec[i64](events[1][lo:hi])
            tss = vec[i64](events[2][lo:hi])
            aa = vec[i64](events[3][lo:hi])
            bb = vec[i64](events[4][lo:hi])
            cc = vec[i64](events[5][lo:hi])
            dd = vec[i64](events[6][lo:hi])
            holding = False
            for i in range(hi - lo):
                ts = tss[i]
                k = kinds[i]
                p = pairs[i]
                a = aa[i]
                if hold:
                    if k == 0:
                        c = cc[i]
                        if tl.next_t > ts + feed and sts[p].quiet(a, c) and (not realistic or ex.quiet_book(p, a, c)):
                            held[p] = i
                            holding = True
                            continue
                    elif tl.next_t > ts and ex.quiet_trade(p, a):
                        continue
                if holding:
                    self._show_held(held, tss, aa, bb, cc, dd, feed)
                    holding = False
                if tl.next_t <= ts:
                    self.due(ts)
                tl.now = ts
                if k == 0:
                    b = bb[i]
                    c = cc[i]
                    d = dd[i]
                    tl.book(p, ts, a, b, c, d)
                    te = ts + feed
                    if tl.next_t <= te:  # what the exchange sent first reaches the engine first
                        tl.push(te, MARKET, (p, a, b, c, d))
                    else:
                        intents = core.on_book(p, te, a, b, c, d)
                        if intents:
                            self.submit(intents, te)  # type: ignore[arg-type]
                else:
                    tl.trade(p, ts, a, bb[i], cc[i])
            if holding:
                self._show_held(held, tss, aa, bb, cc, dd, feed)
        self.due(end)  # what is due by the end of the data still happens; later answers are not the run's
        stats.wall_s = time.perf_counter() - t0
        stats.events = n
        stats.end_ns = end
        self._sample(end)
        if gc_was_enabled:  # last: the first allocation after would start a pass over every record kept
            gc.enable()
        return stats

    def _show_held(
        self,
        held: vec[i64],
        tss: vec[i64],
        aa: vec[i64],
        bb: vec[i64],
        cc: vec[i64],
        dd: vec[i64],
        feed: int,
    ) -> None:
        """Show exchange and core the last quiet book row of each pair that has one held."""
        for p in range(len(held)):
            i = held[p]
            if i < 0:
                continue
            held[p] = -1
            a, b, c, d = aa[i], bb[i], cc[i], dd[i]
            if self.sim.on_book(p, a, b, c, d) or self.core.on_book(p, tss[i] + feed, a, b, c, d):
                raise AssertionError(f"a book row held as quiet was not (pair {p}, row time {tss[i]})")

    def _sample(self, ts: int) -> None:
        for st in self.core.pairs:
            best_bid = max((o.price for o in st.bids if o is not None), default=0)
            best_ask = min((o.price for o in st.asks if o is not None), default=0)
            base2 = (st.base_free + st.base_locked) * (st.bid + st.ask)  # twice the base's value at the mid
            value2 = base2 + 2 * (st.quote_free + st.quote_locked)
            share = base2 / value2 if value2 > 0 else 0.0
            self.stats.samples.append(
                (ts, st.symbol, st.bid, st.ask, best_bid, best_ask, st.pos, st.cash, st.fee_nu, st.state, share)
            )


def order_columns(order_log: list[OrderRecord]) -> dict[str, list[Any]]:
    """The engine core's order log as columns (compiled with the loop: it runs once per row)."""
    ts: list[int] = []
    sym: list[str] = []
    cid: list[str] = []
    side: list[int] = []
    price: list[int] = []
    qty: list[int] = []
    filled: list[int] = []
    status: list[str] = []
    level: list[int] = []
    reason: list[str] = []
    why: list[str] = []
    for rec in order_log:
        o = rec.order
        ts.append(rec.ts)
        sym.append(o.symbol)
        cid.append(o.client_id)
        side.append(int(o.side))
        price.append(o.price)
        qty.append(o.qty)
        filled.append(rec.filled)
        status.append(rec.status)
        level.append(o.level)
        reason.append(rec.reason)
        why.append(purpose(o))
    return {
        "ts": ts,
        "symbol": sym,
        "client_id": cid,
        "side": side,
        "price_ticks": price,
        "qty_steps": qty,
        "filled_steps": filled,
        "status": status,
        "level": level,
        "reason": reason,
        "purpose": why,
    }


def fill_columns(fill_log: list[FillRecord]) -> dict[str, list[Any]]:
    """The engine core's fill log as columns."""
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "ts",
            "ts_exchange",
            "symbol",
            "client_id",
            "side",
            "price_ticks",
            "qty_steps",
            "fee_nu",
            "is_maker",
            "trade_id",
            "level",
            "purpose",
        )
    }
    for rec in fill_log:
        o = rec.order
        cols["ts"].append(rec.ts)
        cols["ts_exchange"].append(rec.ts_exchange)
        cols["symbol"].append(o.symbol)
        cols["client_id"].append(o.client_id)
        cols["side"].append(int(o.side))
        cols["price_ticks"].append(rec.price)
        cols["qty_steps"].append(rec.qty)
        cols["fee_nu"].append(rec.fee_nu)
        cols["is_maker"].append(rec.is_maker)
        cols["trade_id"].append(rec.trade_id)
        cols["level"].append(o.level)
        cols["purpose"].append(purpose(o))
    return cols
