"""What the engine core asks a venue to do: small immutable-by-convention value objects.

Plain slotted classes rather than NamedTuples or frozen dataclasses: they are made on the hot path,
and these are the cheapest to construct both interpreted and compiled.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final, final

from liqkit.domain.types import Side


class _Value:
    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def _key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in self._fields)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def __repr__(self) -> str:
        args = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__name__}({args})"


@final
class Place(_Value):
    """Place a limit order (LIMIT_MAKER when ``post_only``; LIMIT IOC when ``ioc``: what does not fill on
    arrival expires, as the active rebalance's taker orders do). Price in ticks, quantity in steps;
    ``iceberg_qty`` > 0 makes it an iceberg showing that many steps at a time (Binance's ``icebergQty``)."""

    __slots__ = ("client_id", "iceberg_qty", "ioc", "level", "post_only", "price", "qty", "side", "symbol")
    _fields: ClassVar[tuple[str, ...]] = (
        "symbol",
        "client_id",
        "side",
        "price",
        "qty",
        "post_only",
        "level",
        "iceberg_qty",
        "ioc",
    )

    def __init__(
        self,
        symbol: str,
        client_id: str,
        side: Side,
        price: int,
        qty: int,
        post_only: bool,
        level: int,
        iceberg_qty: int = 0,
        ioc: bool = False,
    ) -> None:
        self.symbol: Final = symbol
        self.client_id: Final = client_id
        self.side: Final = side
        self.price: Final = price
        self.qty: Final = qty
        self.post_only: Final = post_only
        self.level: Final = level
        self.iceberg_qty: Final = iceberg_qty
        self.ioc: Final = ioc


class OrderRef(_Value):
    """A request about one order, named by symbol and client order id (``Cancel`` here; the execution
    module's ``Query`` and ``FetchFills``). Each kind is its own class: equal fields of two kinds differ."""

    __slots__ = ("client_id", "symbol")
    _fields: ClassVar[tuple[str, ...]] = ("symbol", "client_id")

    def __init__(self, symbol: str, client_id: str) -> None:
        self.symbol: Final = symbol
        self.client_id: Final = client_id


@final
class Cancel(OrderRef):
    """Cancel one order by its client order id."""

    __slots__ = ()


@final
class Amend(_Value):
    """Reduce a resting order's quantity in place, keeping its queue priority (Binance's
    ``order.amend.keepPriority``). ``qty`` is the order's new total quantity in steps."""

    __slots__ = ("client_id", "qty", "symbol")
    _fields: ClassVar[tuple[str, ...]] = ("symbol", "client_id", "qty")

    def __init__(self, symbol: str, client_id: str, qty: int) -> None:
        self.symbol: Final = symbol
        self.client_id: Final = client_id
        self.qty: Final = qty


@final
class Replace(_Value):
    """Cancel one order and place another in its level, in one request (Binance's ``order.cancelReplace``
    in ``STOP_ON_FAILURE`` mode: the new order is placed only once the cancel succeeded, so the level
    never has two live orders). The new order loses the old one's queue position."""

    __slots__ = ("client_id", "place", "symbol")
    _fields: ClassVar[tuple[str, ...]] = ("symbol", "client_id", "place")

    def __init__(self, symbol: str, client_id: str, place: Place) -> None:
        self.symbol: Final = symbol
        self.client_id: Final = client_id  # the order cancelled
        self.place: Final = place  # the order placed once it is


@final
class CancelAll(_Value):
    """Cancel the pair's open orders: only liqkit's (``own_only``, by client id prefix) or all."""

    __slots__ = ("own_only", "symbol")
    _fields: ClassVar[tuple[str, ...]] = ("symbol", "own_only")

    def __init__(self, symbol: str, own_only: bool) -> None:
        self.symbol: Final = symbol
        self.own_only: Final = own_only


@final
class PlaceOco(_Value):
    """Place an OCO exit for the pair's excess inventory (Binance's ``orderList/oco`` / ``orderList.place.oco``):
    ``qty`` steps on ``side`` as two legs, a LIMIT_MAKER take-profit at ``take_profit`` (ticks; above the
    market for a SELL, below it for a BUY) and a STOP_LOSS (a MARKET order once a trade reaches ``stop``,
    ticks, on the other side of the market). The first leg to fill (even partly) or to trigger ends the
    other. ``list_id`` is the list's client id (``listClientOrderId``), ``tp_id`` and ``sl_id`` its legs'."""

    __slots__ = ("list_id", "qty", "side", "sl_id", "stop", "symbol", "take_profit", "tp_id")
    _fields: ClassVar[tuple[str, ...]] = ("symbol", "list_id", "side", "qty", "take_profit", "stop", "tp_id", "sl_id")

    def __init__(
        self, symbol: str, list_id: str, side: Side, qty: int, take_profit: int, stop: int, tp_id: str, sl_id: str
    ) -> None:
        self.symbol: Final = symbol
        self.list_id: Final = list_id
        self.side: Final = side
        self.qty: Final = qty
        self.take_profit: Final = take_profit
        self.stop: Final = stop
        self.tp_id: Final = tp_id
        self.sl_id: Final = sl_id


@final
class CancelList(_Value):
    """Cancel an order list (both legs) by its client id (``DELETE orderList`` / ``orderList.cancel``)."""

    __slots__ = ("list_id", "symbol")
    _fields: ClassVar[tuple[str, ...]] = ("symbol", "list_id")

    def __init__(self, symbol: str, list_id: str) -> None:
        self.symbol: Final = symbol
        self.list_id: Final = list_id


Intent = Place | Cancel | Amend | Replace | CancelAll | PlaceOco | CancelList
