"""Value types that cross layer boundaries.

Prices are integer ticks and quantities integer lot steps of the pair's symbol (see ``SymbolRules``);
every event carries two integer-nanosecond timestamps: ``ts_exchange`` (venue time, 0 when the venue
gives none, as with Binance's spot bookTicker) and ``ts_local`` (when liqkit received it).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal


class Side(enum.IntEnum):
    """Order side; the value is the sign of the inventory change of a fill."""

    BUY = 1
    SELL = -1

    @property
    def binance(self) -> str:
        """Binance's spelling ("BUY"/"SELL")."""
        return self.name

    @classmethod
    def parse(cls, text: str) -> Side:
        """Parse "BUY"/"SELL" (any case)."""
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"side must be BUY or SELL, got {text!r}") from None


class OrderStatus(enum.StrEnum):
    """Lifecycle of an order as liqkit tracks it (a superset of Binance's ``X`` statuses).

    A ``StrEnum``: members equal their plain-string values, which the engine core uses on its hot path.
    """

    PENDING_NEW = "PENDING_NEW"  # sent, no answer yet
    NEW = "NEW"  # resting at the venue
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"  # cancel sent, no answer yet
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    EXPIRED_IN_MATCH = "EXPIRED_IN_MATCH"  # expired by self-trade prevention
    UNKNOWN = "UNKNOWN"  # fate unknown (timeout, -1007, 5xx): resolve, never re-send blindly

    @property
    def is_open(self) -> bool:
        """Whether the order may still rest at the venue."""
        return self in _OPEN

    @classmethod
    def parse(cls, text: str) -> OrderStatus:
        """A venue's status text (Binance's ``X``); one liqkit does not know is UNKNOWN (to be resolved)."""
        try:
            return cls(text)
        except ValueError:
            return cls.UNKNOWN


_OPEN = {
    OrderStatus.PENDING_NEW,
    OrderStatus.NEW,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.PENDING_CANCEL,
    OrderStatus.UNKNOWN,
}


class RejectReason(enum.StrEnum):
    """Why a venue refused a new order, as the engine needs to know it."""

    WOULD_CROSS = "would-cross"  # a post-only order that would take: re-price from the next book, not a failure
    FILTER = "filter"  # a symbol filter (-1013): the quote breaks PRICE_FILTER, LOT_SIZE, NOTIONAL, ...
    RATE_LIMIT = "rate-limit"  # refused for now (429, -1003, -1015): not the order's fault
    BALANCE = "balance"  # insufficient balance
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class BookTop:
    """Best bid and ask of one symbol."""

    symbol: str
    bid: int  # ticks
    bid_qty: int  # steps
    ask: int  # ticks
    ask_qty: int  # steps
    ts_exchange: int
    ts_local: int


@dataclass(frozen=True, slots=True)
class Trade:
    """A public trade. ``aggressor`` is the taker's side (BUY when the buyer took liquidity)."""

    symbol: str
    price: int  # ticks
    qty: int  # steps
    aggressor: Side
    ts_exchange: int
    ts_local: int
    trade_id: int = 0


@dataclass(frozen=True, slots=True)
class Balance:
    """One asset's balance at the venue."""

    asset: str
    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        """Free plus locked."""
        return self.free + self.locked


@dataclass(frozen=True, slots=True)
class BalanceUpdate:
    """Balances that changed (only the assets named), as of ``ts_local``."""

    balances: tuple[Balance, ...]
    ts_exchange: int
    ts_local: int
