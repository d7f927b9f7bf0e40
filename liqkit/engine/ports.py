"""The engine's ports: what it needs from the outside, defined here and implemented outside.

- ``Venue``: who executes orders (``liqkit.venues``: the simulated exchange, Binance through
  python-binance). Small and async; prices in ticks, quantities in steps. A venue answers order calls
  by returning (accepted / cancelled) or by raising from the liqkit error tree
  (``liqkit.domain.errors``): ``OrderRejected`` (with a typed ``RejectReason``), ``UnknownOutcomeError``
  (fate unknown: timeout, -1007, 5xx), ``RetryableError`` (refused for now: rate limits) and
  ``UnknownOrderError`` (cancel of an order that is not open). Everything else it knows arrives through
  ``events()``: market data (``BookTop``, ``Trade``) and the user stream (``UserFill``, ``UserOrder``,
  ``BalanceUpdate``, ``StreamGap``).
- ``Sink``: where the runner writes what happened (``liqkit.journal.Journal`` implements it).
- ``Clock``: the time the runner lives in: the wall clock, or a venue's virtual time (a replay).

Adapters import these types; nothing in the engine imports an adapter.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from liqkit.domain.rules import SymbolRules
from liqkit.domain.types import BalanceUpdate, BookTop, OrderStatus, Side, Trade
from liqkit.engine.intents import Amend, Place, Replace

__all__ = [
    "Clock",
    "OpenOrder",
    "OrderStatus",
    "Sink",
    "StreamGap",
    "UserFill",
    "UserOrder",
    "Venue",
    "VenueEvent",
    "WallClock",
]


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An order the venue reports (open, or as queried)."""

    symbol: str
    client_id: str
    side: Side
    price: int
    qty: int
    filled: int
    status: OrderStatus


@dataclass(frozen=True, slots=True)
class UserFill:
    """An execution of one of our orders, from the user stream. ``fee`` is in ``fee_asset``."""

    symbol: str
    client_id: str
    price: int
    qty: int
    fee: Decimal
    fee_asset: str
    is_maker: bool
    trade_id: int
    ts_exchange: int
    ts_local: int


@dataclass(frozen=True, slots=True)
class UserOrder:
    """An order's new status from the user stream (CANCELED, EXPIRED, REJECTED, NEW, ...)."""

    symbol: str
    client_id: str
    status: OrderStatus
    filled: int
    ts_exchange: int
    ts_local: int


@dataclass(frozen=True, slots=True)
class StreamGap:
    """The venue lost part of a stream (reconnect, overflow): reconcile from the venue."""

    what: str
    ts_local: int


VenueEvent = BookTop | Trade | UserFill | UserOrder | BalanceUpdate | StreamGap


@runtime_checkable
class Venue(Protocol):
    """What the engine runner needs from an exchange."""

    name: str
    amend_keeps_priority: bool  # an amend that only reduces the quantity keeps the queue position
    cancel_replace: bool  # cancel one order and place another in one request (``replace``)

    async def start(self) -> None:
        """Connect (and start streaming)."""

    async def close(self) -> None:
        """Disconnect; idempotent."""

    async def rules(self, symbols: Iterable[str]) -> dict[str, SymbolRules]:
        """Trading rules of ``symbols``; ``RulesError`` naming a symbol that is unknown or not trading."""
        ...

    async def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """(free, locked) per asset."""
        ...

    async def open_orders(self, symbol: str) -> list[OpenOrder]:
        """The symbol's open orders (ours and others')."""
        ...

    async def place(self, order: Place) -> None:
        """Place a limit order (LIMIT_MAKER when post-only) with the intent's client id."""

    async def cancel(self, symbol: str, client_id: str) -> None:
        """Cancel one order by client id."""

    async def amend(self, order: Amend) -> None:
        """Reduce an order's quantity keeping its queue position (only where ``amend_keeps_priority``)."""

    async def replace(self, order: Replace) -> None:
        """Cancel ``order.client_id`` and, once that is done, place ``order.place`` (only where
        ``cancel_replace``). ``ReplaceFailed`` says which half failed; a request refused as a whole or of
        unknown outcome raises the plain error."""

    async def cancel_all(self, symbol: str, own_only: bool) -> list[str]:
        """Cancel the symbol's open orders (only liqkit's when ``own_only``); return their client ids."""
        ...

    async def query_order(self, symbol: str, client_id: str) -> OpenOrder | None:
        """An order's current state by client id; None if the venue never had it."""
        ...

    async def order_fills(self, symbol: str, client_id: str) -> list[UserFill]:
        """Every fill of one order (to recover fills a gap in the user stream hid)."""
        ...

    def events(self) -> AsyncIterator[VenueEvent]:
        """Market and user events, in the order the venue saw them."""
        ...


class Sink(Protocol):
    """Where the runner records every order change, fill, balance, config change and state change."""

    def order(
        self,
        ts_local: int,
        symbol: str,
        client_id: str,
        side: Side,
        price: Decimal | str,
        qty: Decimal | str,
        filled: Decimal | str,
        status: OrderStatus | str,
        *,
        ts_exchange: int = 0,
        level: int | None = None,
        venue_order_id: int | None = None,
        reason: str = "",
        purpose: str = "quote",
    ) -> None:
        """An order's new state (``purpose``: "quote", "rebalance" or "exit")."""

    def fill(
        self,
        ts_local: int,
        symbol: str,
        client_id: str,
        side: Side,
        price: Decimal | str,
        qty: Decimal | str,
        fee: Decimal | str,
        fee_asset: str,
        is_maker: bool,
        *,
        ts_exchange: int = 0,
        trade_id: int = 0,
        purpose: str = "quote",
    ) -> None:
        """One execution of one of our orders (``purpose``: "quote", "rebalance" or "exit")."""

    def balance(self, ts_local: int, asset: str, free: Decimal | str, locked: Decimal | str) -> None:
        """An asset's balance."""

    def config_change(self, ts_local: int, symbol: str | None, config: Mapping[str, Any] | str, source: str) -> None:
        """A configuration change."""

    def state(self, ts_local: int, symbol: str | None, state: str, reason: str = "") -> None:
        """An engine (symbol None) or pair state change."""

    def request(
        self, ts_sent: int, ts_answer: int, symbol: str, client_id: str, kind: str, outcome: str, session: str = ""
    ) -> None:
        """One order request's round trip: sent, answered, its kind and outcome, the runner's session."""

    def flush(self) -> None:
        """Make what was recorded durable."""


class Clock(Protocol):
    """The runner's time: ``now()`` in integer ns, and waiting until a time of that clock."""

    def now(self) -> int:
        """The current time, ns."""
        ...

    async def sleep_until(self, ts: int) -> None:
        """Return once the clock reads ``ts`` or later."""


class WallClock:
    """Wall-clock time (``time.time_ns``) and asyncio's sleep."""

    def now(self) -> int:
        """The current time, ns since the epoch."""
        return time.time_ns()

    async def sleep_until(self, ts: int) -> None:
        """Sleep until the wall clock reads ``ts``."""
        import asyncio  # here: a backtest imports the ports, never the event loop

        await asyncio.sleep(max(0.0, (ts - time.time_ns()) / 1e9))
