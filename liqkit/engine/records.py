"""What the engine core says happened: small typed records it appends to its logs.

The core appends ``OrderRecord``s to ``order_log``, ``FillRecord``s to ``fill_log`` and
``StateRecord``/``ConfigRecord``s to ``event_log``; the runner drains them into its sink (the journal)
and its subscribers, the backtest keeps them to build its tables. Slotted classes: they are made on
the hot path, where these are the cheapest to build both interpreted and compiled.
"""

from __future__ import annotations

from typing import Any, Final, final

from liqkit.engine.state import Order


@final
class OrderRecord:
    """An order's status changed: ``status`` with ``filled`` steps done (``reason`` says why, if any)."""

    __slots__ = ("filled", "order", "reason", "status", "ts")

    def __init__(self, ts: int, order: Order, status: str, filled: int, reason: str) -> None:
        self.ts: Final = ts
        self.order: Final = order
        self.status: Final = status
        self.filled: Final = filled
        self.reason: Final = reason

    def __repr__(self) -> str:
        return f"OrderRecord({self.ts}, {self.order.client_id}, {self.status}, filled={self.filled}, {self.reason!r})"


@final
class FillRecord:
    """An execution of one of our orders: price in ticks, qty in steps, fee in (tick*step)/1e8 units."""

    __slots__ = ("fee_nu", "is_maker", "order", "price", "qty", "trade_id", "ts", "ts_exchange")

    def __init__(
        self,
        ts: int,
        ts_exchange: int,
        order: Order,
        price: int,
        qty: int,
        fee_nu: int,
        is_maker: bool,
        trade_id: int,
    ) -> None:
        self.ts: Final = ts
        self.ts_exchange: Final = ts_exchange
        self.order: Final = order
        self.price: Final = price
        self.qty: Final = qty
        self.fee_nu: Final = fee_nu
        self.is_maker: Final = is_maker
        self.trade_id: Final = trade_id

    def __repr__(self) -> str:
        return f"FillRecord({self.ts}, {self.order.client_id}, {self.qty}@{self.price}, #{self.trade_id})"


@final
class StateRecord:
    """A pair's state changed (stopped, quoting, paused, halted, error), or its reason did."""

    __slots__ = ("reason", "state", "symbol", "ts")
    kind: Final = "state"

    def __init__(self, ts: int, symbol: str, state: str, reason: str) -> None:
        self.ts: Final = ts
        self.symbol: Final = symbol
        self.state: Final = state
        self.reason: Final = reason

    def __repr__(self) -> str:
        return f"StateRecord({self.ts}, {self.symbol}, {self.state}, {self.reason!r})"


@final
class ConfigRecord:
    """A pair's config was replaced (``config`` as JSON-ready data) by ``source`` (api, cli, file...)."""

    __slots__ = ("config", "source", "symbol", "ts")
    kind: Final = "config"

    def __init__(self, ts: int, symbol: str, config: dict[str, Any], source: str) -> None:
        self.ts: Final = ts
        self.symbol: Final = symbol
        self.config: Final = config
        self.source: Final = source

    def __repr__(self) -> str:
        return f"ConfigRecord({self.ts}, {self.symbol}, {self.source})"


EventRecord = StateRecord | ConfigRecord
