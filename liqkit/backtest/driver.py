"""Drive the engine core on the simulated exchange in virtual time.

The feed's book and trade rows are merged into one time-ordered stream (book first on equal times).
For each row the driver shows it to the exchange (fills) and to the engine (intents), executes the
engine's intents on the exchange and feeds the answers back. With zero latency answers are
immediate; with a latency ``L`` an intent reaches the exchange ``L`` after it was made and every
answer or fill reaches the engine ``L`` after the exchange produced it.

This module is the backtest's loop and nothing else: quoting decisions are the engine core's, the
matching is the exchange's, and the result's tables and metrics are built in ``result``.
"""

from __future__ import annotations

import gc
import heapq
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from liqkit.data.feed import MarketData
from liqkit.engine.core import EngineCore
from liqkit.engine.intents import Cancel, CancelAll, Intent, Place
from liqkit.engine.state import Order
from liqkit.venues.sim.exchange import SimExchange, SimFill

_TIMER_NS = 250_000_000  # stale-feed checks and samples run on this virtual-time grid
_AT_EXCHANGE, _ANSWER, _FILL = 0, 1, 2
_ACCEPTED, _REJECTED, _CANCELED, _CANCEL_UNKNOWN = 0, 1, 2, 3


@dataclass
class RunStats:
    """What the loop itself measured."""

    events: int = 0
    wall_s: float = 0.0
    start_ns: int = 0
    end_ns: int = 0
    samples: list[tuple[Any, ...]] = field(default_factory=list)


def merge_events(datas: list[MarketData]) -> tuple[list[int], ...]:
    """One time-ordered stream of every pair's rows: (kind 0 book / 1 trade, pair, ts, a, b, c, d)."""
    kinds, pairs, tss, aa, bb, cc, dd = [], [], [], [], [], [], []
    for p, md in enumerate(datas):
        b, t = md.book, md.trades
        nb, nt = len(b["ts_local"]), len(t["ts_local"])
        kinds += [np.zeros(nb, np.int8), np.ones(nt, np.int8)]
        pairs += [np.full(nb, p, np.int32), np.full(nt, p, np.int32)]
        tss += [b["ts_local"], t["ts_local"]]
        aa += [b["bid"], t["price"]]
        bb += [b["bid_qty"], t["qty"]]
        cc += [b["ask"], t["aggressor"].astype(np.int64)]
        dd += [b["ask_qty"], t["trade_id"]]
    ts = np.concatenate(tss)
    kind = np.concatenate(kinds)
    order = np.lexsort((kind, ts))  # by time, book before trade on ties, stable otherwise
    return tuple(np.concatenate(x)[order].tolist() for x in (kinds, pairs, tss, aa, bb, cc, dd))


class Driver:
    """One backtest run: an engine core, a simulated exchange, a latency and a feed."""

    def __init__(self, core: EngineCore, sim: SimExchange, latency_ns: int = 0, sample_ns: int = 1_000_000_000) -> None:
        self.core = core
        self.sim = sim
        self.latency = latency_ns
        self.sample_ns = max(sample_ns, _TIMER_NS)
        self.heap: list[tuple[int, int, int, Any]] = []
        self.seq = 0
        self.pending: deque[Intent] = deque()
        self.stats = RunStats()

    # ---- intents and answers ------------------------------------------------------------------
    # Heap entries: (due, seq, what, payload). what: _AT_EXCHANGE (an intent arrives),
    # _ANSWER (the engine hears an answer: (kind, client_id, text)), _FILL (the engine hears a fill).
    def submit(self, intents: list[Intent], ts: int) -> None:
        """Send the engine's intents to the exchange (now, or after the latency)."""
        if not intents:
            return
        if self.latency:
            for it in intents:
                self._later(ts + self.latency, _AT_EXCHANGE, it)
            return
        q = self.pending
        q.extend(intents)
        if len(q) > len(intents):
            return  # an outer call is draining the queue
        while q:
            q.extend(self._execute(q[0], ts))
            q.popleft()

    def _later(self, due: int, what: int, payload: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (due, self.seq, what, payload))

    def _due(self, due: int, what: int, payload: Any) -> None:
        if what == _AT_EXCHANGE:
            self._execute(payload, due)
        elif what == _ANSWER:
            self.submit(self._hear(payload, due), due)
        else:
            f: SimFill = payload
            self.submit(self.core.on_fill(f.client_id, due, f.price, f.qty, f.fee_nu, f.is_maker, f.trade_id), due)

    def _execute(self, it: Intent, ts: int) -> list[Intent]:
        """Run one intent on the exchange; with zero latency return the engine's reaction."""
        sim = self.sim
        if type(it) is Place:
            idx = sim.index[it.symbol]
            if not sim.realistic:  # the trade-through model reads the book only here
                st = self.core.pairs[idx]
                bk = sim.books[idx]
                bk.bid, bk.ask, bk.bid_qty, bk.ask_qty = st.bid, st.ask, st.bid_qty, st.ask_qty
            r = sim.place(idx, ts, it.client_id, it.side, it.price, it.qty, it.post_only)
            if r.accepted:
                out = self._answer((_ACCEPTED, it.client_id, ""), ts)
                if r.fills:
                    out += self._fills(r.fills, ts)
                return out
            return self._answer((_REJECTED, it.client_id, f"[{r.code}] {r.message}"), ts)
        if type(it) is Cancel:
            ok = sim.cancel(it.client_id)
            return self._answer((_CANCELED if ok else _CANCEL_UNKNOWN, it.client_id, ""), ts)
        if type(it) is CancelAll:
            out = []
            for cid in sim.cancel_all(sim.index[it.symbol], it.own_only):
                out += self._answer((_CANCELED, cid, ""), ts)
            return out
        raise TypeError(f"unknown intent {it!r}")

    def _answer(self, answer: tuple[int, str, str], ts: int) -> list[Intent]:
        if self.latency:
            self._later(ts + self.latency, _ANSWER, answer)
            return []
        return self._hear(answer, ts)

    def _hear(self, answer: tuple[int, str, str], ts: int) -> list[Intent]:
        kind, cid, text = answer
        core = self.core
        if kind == _ACCEPTED:
            return core.on_accepted(cid, ts)
        if kind == _CANCELED:
            return core.on_canceled(cid, ts)
        if kind == _CANCEL_UNKNOWN:
            return core.on_cancel_unknown_order(cid, ts)
        return core.on_rejected(cid, ts, text, "immediately match" in text)

    def _fills(self, fills: list[SimFill], ts: int) -> list[Intent]:
        if self.latency:
            for f in fills:
                self._later(ts + self.latency, _FILL, f)
            return []
        out: list[Intent] = []
        on_fill = self.core.on_fill
        for f in fills:
            out += on_fill(f.client_id, ts, f.price, f.qty, f.fee_nu, f.is_maker, f.trade_id)
        return out

    def _deliver_fills(self, fills: list[SimFill], ts: int) -> None:
        self.submit(self._fills(fills, ts), ts)

    # ---- the loop -----------------------------------------------------------------------------
    def run(self, events: tuple[list[int], ...], on_progress: Callable[[int], None] | None = None) -> RunStats:
        """Run the merged event stream through exchange and engine."""
        kinds, pairs, tss, aa, bb, cc, dd = events
        core, sim = self.core, self.sim
        on_book = core.on_book
        sim_book = sim.on_book
        sim_trade = sim.on_trade
        realistic = sim.realistic
        submit = self.submit
        deliver_fills = self._deliver_fills
        heap = self.heap
        next_timer = tss[0] if tss else 0
        next_sample = next_timer
        stats = self.stats
        stats.start_ns = next_timer
        # The logs grow by hundreds of thousands of objects; the cyclic collector would rescan them
        # all, again and again, for nothing (the loop makes no garbage cycles). Pause it meanwhile.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        t0 = time.perf_counter()
        for k, p, ts, a, b, c, d in zip(kinds, pairs, tss, aa, bb, cc, dd, strict=True):
            if ts >= next_timer:
                while heap and heap[0][0] <= next_timer:
                    due, _, what, payload = heapq.heappop(heap)
                    self._due(due, what, payload)
                submit(core.on_timer(ts), ts)
                if ts >= next_sample:
                    self._sample(ts)
                    next_sample = ts - ts % self.sample_ns + self.sample_ns
                next_timer = ts - ts % _TIMER_NS + _TIMER_NS
                if on_progress is not None:
                    on_progress(ts)
            if heap and heap[0][0] <= ts:
                while heap and heap[0][0] <= ts:
                    due, _, what, payload = heapq.heappop(heap)
                    self._due(due, what, payload)
            if k == 0:
                if realistic:
                    fills = sim_book(p, a, b, c, d)
                    if fills:
                        deliver_fills(fills, ts)
                intents = on_book(p, ts, a, b, c, d)
                if intents:
                    submit(intents, ts)
            else:
                fills = sim_trade(p, a, b, c)
                if fills:
                    deliver_fills(fills, ts)
        while heap:  # answers still in flight arrive
            due, _, what, payload = heapq.heappop(heap)
            self._due(due, what, payload)
        stats.wall_s = time.perf_counter() - t0
        if gc_was_enabled:
            gc.enable()
        stats.events = len(tss)
        stats.end_ns = tss[-1] if tss else 0
        self._sample(stats.end_ns)
        return stats

    def _sample(self, ts: int) -> None:
        for st in self.core.pairs:
            best_bid = max((o.price for o in st.bids if o is not None), default=0)
            best_ask = min((o.price for o in st.asks if o is not None), default=0)
            self.stats.samples.append(
                (ts, st.symbol, st.bid, st.ask, best_bid, best_ask, st.pos, st.cash, st.fee_nu, st.state)
            )


def order_columns(order_log: list[tuple[int, Order, str, int, str]]) -> dict[str, list[Any]]:
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
    for t, o, st, f, why in order_log:
        ts.append(t)
        sym.append(o.symbol)
        cid.append(o.client_id)
        side.append(int(o.side))
        price.append(o.price)
        qty.append(o.qty)
        filled.append(f)
        status.append(st)
        level.append(o.level)
        reason.append(why)
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
    }


def fill_columns(fill_log: list[tuple[int, int, Order, int, int, int, bool, int]]) -> dict[str, list[Any]]:
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
        )
    }
    for t, tx, o, px, q, fee, mk, tid in fill_log:
        cols["ts"].append(t)
        cols["ts_exchange"].append(tx)
        cols["symbol"].append(o.symbol)
        cols["client_id"].append(o.client_id)
        cols["side"].append(int(o.side))
        cols["price_ticks"].append(px)
        cols["qty_steps"].append(q)
        cols["fee_nu"].append(fee)
        cols["is_maker"].append(mk)
        cols["trade_id"].append(tid)
        cols["level"].append(o.level)
    return cols
