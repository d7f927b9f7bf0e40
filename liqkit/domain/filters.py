"""The one order-filter check: a symbol's filters in integer units, and whether an order passes them.

The engine core (through ``liqkit.quoting``), the simulated exchange and ``SymbolRules.check_order``
all decide with ``OrderFilters.failure``, so what the engine quotes, what the simulated exchange
accepts and what the rules call valid cannot drift apart. It is integer comparisons only: prices in
ticks, quantities in lot steps, notionals in ``tick*step`` units. This module is compiled with the
hot path (it runs for every order the engine places), which is why it is a small module of its own
rather than a method of ``SymbolRules``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

if TYPE_CHECKING:
    from liqkit.domain.rules import SymbolRules

NO_BOUND: Final = 1 << 62  # an upper bound no order reaches; small enough to stay an unboxed int compiled
PRICE_FILTER: Final = "PRICE_FILTER"
LOT_SIZE: Final = "LOT_SIZE"
NOTIONAL: Final = "NOTIONAL"
ICEBERG_PARTS: Final = "ICEBERG_PARTS"


@final
class OrderFilters:
    """A symbol's price, quantity, notional and percent-price filters as integer bounds.

    Upper bounds the exchange does not set are ``NO_BOUND``; the band multipliers are integer
    numerator/denominator pairs (bid up, bid down, ask up, ask down), as Binance's
    ``PERCENT_PRICE_BY_SIDE`` gives them (``PERCENT_PRICE`` uses the same pair for both sides).
    """

    __slots__ = (
        "a_dd",
        "a_dn",
        "a_ud",
        "a_un",
        "b_dd",
        "b_dn",
        "b_ud",
        "b_un",
        "band_name",
        "iceberg_parts",
        "max_notional",
        "max_price",
        "max_qty",
        "min_notional",
        "min_price",
        "min_qty",
    )

    def __init__(
        self,
        min_price: int = 0,
        max_price: int = 0,
        min_qty: int = 0,
        max_qty: int = 0,
        min_notional: int = 0,
        max_notional: int = 0,
        band: tuple[int, int, int, int, int, int, int, int] | None = None,
        band_name: str = "",
        iceberg_parts: int = 0,
    ) -> None:
        self.min_price = max(min_price, 1)
        self.max_price = max_price or NO_BOUND
        self.min_qty = max(min_qty, 1)
        self.max_qty = max_qty or NO_BOUND
        self.min_notional = min_notional
        self.max_notional = max_notional or NO_BOUND
        b = band or (0, 1, 0, 1, 0, 1, 0, 1)
        self.b_un, self.b_ud, self.b_dn, self.b_dd, self.a_un, self.a_ud, self.a_dn, self.a_dd = b
        self.band_name = band_name if band is not None else ""  # "": no percent-price band
        self.iceberg_parts = iceberg_parts or NO_BOUND  # ICEBERG_PARTS limit (0: the symbol sets none)

    @staticmethod
    def from_rules(rules: SymbolRules) -> OrderFilters:
        """The filters of a symbol's rules (0 in a rule's ``*_ticks``/``*_steps``/``*_units``: no bound)."""
        pp = rules.percent_price
        band = None if pp is None else (*pp.bid_up, *pp.bid_down, *pp.ask_up, *pp.ask_down)
        return OrderFilters(
            rules.min_price_ticks,
            rules.max_price_ticks,
            rules.min_qty_steps,
            rules.max_qty_steps,
            rules.min_notional_units,
            rules.max_notional_units,
            band,
            pp.name if pp is not None else "",
            rules.iceberg_parts,
        )

    def failure(self, buy: bool, price: int, qty: int, ref: int) -> str:
        """The name of the first filter a limit order breaks, as Binance names it ("" if it passes).

        Checked in Binance's order: PRICE_FILTER (price bounds), LOT_SIZE (quantity bounds),
        NOTIONAL (minimum and maximum order value), then the percent-price band around ``ref``
        (in ticks; 0 skips the band, e.g. before the first book or for an order already resting).
        """
        if price < self.min_price or price > self.max_price:
            return PRICE_FILTER
        if qty < self.min_qty or qty > self.max_qty:
            return LOT_SIZE
        n = price * qty
        if n < self.min_notional or n > self.max_notional:
            return NOTIONAL
        if ref > 0 and self.band_name:
            lo, hi = self.band(buy, ref)
            if price < lo or price > hi:
                return self.band_name
        return ""

    def iceberg_failure(self, qty: int, visible: int) -> str:
        """The filter an iceberg order of ``qty`` steps showing ``visible`` steps breaks ("" if none).

        Binance's rules: ``icebergQty`` obeys LOT_SIZE like a quantity (minQty, maxQty; it is in steps
        here, so stepSize holds), and ICEBERG_PARTS limits ``CEIL(qty / icebergQty)`` to its ``limit``.
        (That ``icebergQty`` must be below ``qty`` is not a filter: ``-2010 IcebergQty exceeds QTY.``)
        """
        if visible < self.min_qty or visible > self.max_qty:
            return LOT_SIZE
        if (qty + visible - 1) // visible > self.iceberg_parts:
            return ICEBERG_PARTS
        return ""

    def band(self, buy: bool, ref: int) -> tuple[int, int]:
        """The inclusive tick range the percent-price filter allows a side around ``ref`` ticks."""
        if buy:
            return -((-ref * self.b_dn) // self.b_dd), ref * self.b_un // self.b_ud
        return -((-ref * self.a_dn) // self.a_dd), ref * self.a_un // self.a_ud
