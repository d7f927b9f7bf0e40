"""What the engine core asks a venue to do. Plain named tuples: cheap to make, immutable, typed."""

from __future__ import annotations

from typing import NamedTuple

from liqkit.domain.types import Side


class Place(NamedTuple):
    """Place a limit order (LIMIT_MAKER when ``post_only``). Price in ticks, quantity in steps."""

    symbol: str
    client_id: str
    side: Side
    price: int
    qty: int
    post_only: bool
    level: int


class Cancel(NamedTuple):
    """Cancel one order by its client order id."""

    symbol: str
    client_id: str


class CancelAll(NamedTuple):
    """Cancel the pair's open orders: only liqkit's (``own_only``, by client id prefix) or all."""

    symbol: str
    own_only: bool


Intent = Place | Cancel | CancelAll
