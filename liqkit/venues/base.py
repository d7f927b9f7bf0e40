"""The ``Venue`` protocol: who executes orders. Small and async; prices in ticks, quantities in steps.

A venue answers order calls by returning (the order is accepted / cancelled) or by raising from the
liqkit error tree (``liqkit.domain.errors``): ``OrderRejected`` (``would_cross`` for a post-only order
that would take), ``UnknownOutcomeError`` (the fate is unknown: timeout, -1007, 5xx),
``RetryableError`` (refused for now: rate limits) and ``UnknownOrderError`` (cancel of an order that
is not open). Everything else it knows arrives through ``events()``: market data (``BookTop``,
``Trade``) and the user stream (``UserFill``, ``UserOrder``, ``BalanceUpdate``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from liqkit.domain.rules import SymbolRules
from liqkit.domain.types import BalanceUpdate, BookTop, Side, Trade
from liqkit.engine.intents import Place


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An order the venue reports (open, or as queried)."""

    symbol: str
    client_id: str
    side: Side
    price: int
    qty: int
    filled: int
    status: str  # Binance's X: NEW, PARTIALLY_FILLED, FILLED, CANCELED, REJECTED, EXPIRED


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
    status: str
    filled: int
    ts_exchange: int
    ts_local: int


@dataclass(frozen=True, slots=True)
class StreamGap:
    """The venue lost part of a stream (reconnect, overflow): reconcile from REST."""

    what: str
    ts_local: int


VenueEvent = BookTop | Trade | UserFill | UserOrder | BalanceUpdate | StreamGap


@runtime_checkable
class Venue(Protocol):
    """What the engine runner needs from an exchange."""

    name: str

    async def start(self) -> None:
        """Connect (and start streaming) ."""

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
