"""Run an engine core's intents against a ``SimExchange`` by hand, through the core's public methods only.

The unit tests of the core drive it update by update and look at its state in between; they need the
exchange to execute what the core decides and the core to hear the answers, with no latency and no
event loop. This helper is that, and nothing of the backtest driver: ``Place``/``Cancel``/``CancelAll``
go to the exchange, and its answers come back as ``on_accepted``, ``on_rejected``, ``on_canceled``,
``on_cancel_unknown_order`` and ``on_fill``; whatever the core says to that is executed in turn, in
order, until it has nothing more to say. A whole run over a feed is ``liqkit.backtest.run_backtest``.

(``tests/`` is on ``sys.path`` because its conftest.py lives there: import as ``from simloop import ...``.)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from liqkit.engine.core import EngineCore
from liqkit.engine.intents import Cancel, CancelAll, Intent, Place
from liqkit.venues.sim.exchange import SimExchange, SimFill

__all__ = ["SimLoop"]

WOULD_CROSS = -2010, "immediately match"  # how the exchange refuses a post-only order that would take


class SimLoop:
    """An engine core and a simulated exchange, wired together with zero latency."""

    def __init__(self, core: EngineCore, sim: SimExchange) -> None:
        self.core = core
        self.sim = sim
        self.executed: list[Intent] = []  # every intent that reached the exchange, in order

    def submit(self, intents: Iterable[Intent], ts: int) -> None:
        """Execute ``intents`` at ``ts``, and the core's reactions to the answers, until none is left."""
        todo = deque(intents)
        while todo:
            todo.extend(self._execute(todo.popleft(), ts))

    def book(self, idx: int, ts: int, bid: int, bid_qty: int, ask: int, ask_qty: int) -> list[Intent]:
        """A new top of book: the exchange sees it first (fills reach the core), then the core; the core's
        intents are executed; returns the intents the core made for the book itself."""
        self.deliver(self.sim.on_book(idx, bid, bid_qty, ask, ask_qty), ts)
        out = self.core.on_book(idx, ts, bid, bid_qty, ask, ask_qty)
        self.submit(out, ts)
        return out

    def deliver(self, fills: Iterable[SimFill], ts: int) -> None:
        """Tell the core about the exchange's ``fills`` and execute what it does about them."""
        for f in fills:
            self.submit(self.core.on_fill(f.client_id, ts, f.price, f.qty, f.fee_nu, f.is_maker, f.trade_id), ts)

    def _execute(self, it: Intent, ts: int) -> list[Intent]:
        """One intent on the exchange; the core's reactions to the answers."""
        core, sim = self.core, self.sim
        self.executed.append(it)
        if isinstance(it, Place):
            r = sim.place(sim.index[it.symbol], ts, it.client_id, it.side, it.price, it.qty, it.post_only)
            if not r.accepted:
                would_cross = r.code == WOULD_CROSS[0] and WOULD_CROSS[1] in r.message
                return core.on_rejected(it.client_id, ts, f"[{r.code}] {r.message}", would_cross)
            out = core.on_accepted(it.client_id, ts)
            for f in r.fills:  # a plain limit order that crossed took liquidity at once
                out += core.on_fill(f.client_id, ts, f.price, f.qty, f.fee_nu, f.is_maker, f.trade_id)
            return out
        if isinstance(it, Cancel):
            if sim.cancel(it.client_id):
                return core.on_canceled(it.client_id, ts)
            return core.on_cancel_unknown_order(it.client_id, ts)
        if isinstance(it, CancelAll):
            out = []
            for cid in sim.cancel_all(sim.index[it.symbol], it.own_only):
                out += core.on_canceled(cid, ts)
            return out
        raise TypeError(f"unknown intent {it!r}")
