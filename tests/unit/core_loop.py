"""A small zero-latency loop for unit tests: an engine core on a simulated exchange.

Every intent the core emits runs on the exchange at once and the exchange's answer goes straight
back to the core, first in first out, as a venue would answer. It is the tests' own loop (the
backtest driver and the runner are not under test here), with a hook that sees each core call's
intents while the core's state is still the one they were decided in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from liqkit.engine.core import EngineCore
from liqkit.engine.intents import Amend, Cancel, CancelAll, Intent, Place
from liqkit.venues.sim.exchange import SimExchange, SimFill

WOULD_CROSS = "Order would immediately match and take."


class CoreLoop:
    """Drive ``core`` on ``sim`` (one pair, index 0 on both)."""

    def __init__(
        self, core: EngineCore, sim: SimExchange, on_intents: Callable[[list[Intent]], None] | None = None
    ) -> None:
        self.core = core
        self.sim = sim
        self.on_intents = on_intents
        self.emitted: list[Intent] = []
        self.answers: list[tuple[str, str, int, str]] = []  # (kind, client_id, code, message) from the exchange
        self._queue: deque[Intent] = deque()

    def take(self, intents: list[Intent], ts: int) -> None:
        """Run a core call's intents, and all they cause, to the end."""
        self._hear(intents)
        while self._queue:
            self._execute(self._queue.popleft(), ts)

    def book(self, ts: int, bid: int, ask: int, bid_qty: int = 5, ask_qty: int = 5) -> None:
        """A book update: the exchange first (fills), then the engine."""
        self._fills(self.sim.on_book(0, bid, bid_qty, ask, ask_qty), ts)
        self.take(self.core.on_book(0, ts, bid, bid_qty, ask, ask_qty), ts)

    def trade(self, ts: int, price: int, qty: int, aggressor: int) -> None:
        """A public trade (``aggressor`` -1 a seller, +1 a buyer): our fills, if any."""
        self._fills(self.sim.on_trade(0, price, qty, aggressor), ts)
        while self._queue:
            self._execute(self._queue.popleft(), ts)

    def _hear(self, intents: list[Intent]) -> None:
        if self.on_intents is not None:
            self.on_intents(intents)
        self.emitted += intents
        self._queue.extend(intents)

    def _fills(self, fills: list[SimFill], ts: int) -> None:
        for f in fills:
            self._hear(self.core.on_fill(f.client_id, ts, f.price, f.qty, f.fee_nu, f.is_maker, f.trade_id))

    def _execute(self, it: Intent, ts: int) -> None:
        core, sim = self.core, self.sim
        if isinstance(it, Place):
            r = sim.place(0, ts, it.client_id, it.side, it.price, it.qty, it.post_only)
            self.answers.append(("place", it.client_id, r.code, r.message))
            if r.accepted:
                self._hear(core.on_accepted(it.client_id, ts))
                self._fills(r.fills, ts)
            else:
                self._hear(core.on_rejected(it.client_id, ts, f"[{r.code}] {r.message}", r.message == WOULD_CROSS))
        elif isinstance(it, Cancel):
            if sim.cancel(it.client_id):
                self._hear(core.on_canceled(it.client_id, ts))
            else:
                self._hear(core.on_cancel_unknown_order(it.client_id, ts))
        elif isinstance(it, Amend):
            r = sim.amend(it.client_id, it.qty)
            self.answers.append(("amend", it.client_id, r.code, r.message))
            if r.accepted:
                self._hear(core.on_amended(it.client_id, it.qty, ts))
            else:
                self._hear(core.on_amend_rejected(it.client_id, ts, f"[{r.code}] {r.message}"))
        elif isinstance(it, CancelAll):
            for cid in sim.cancel_all(0, it.own_only):
                self._hear(core.on_canceled(cid, ts))
