"""Symbol rules parsed from Binance's ``exchangeInfo``, with integer bounds for the hot path.

A price is an integer number of ticks, a quantity an integer number of lot steps; a notional
``price_ticks * qty_steps`` is in units of ``tick * step`` quote asset. All bounds below are
converted once, exactly, into those integer units, so checking an order is integer comparisons.
Both filter eras parse (``MIN_NOTIONAL`` before 2023, ``NOTIONAL`` after; ``PERCENT_PRICE`` and
``PERCENT_PRICE_BY_SIDE``); unknown filter types are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from liqkit.domain.errors import FilterError, RulesError
from liqkit.domain.filters import OrderFilters
from liqkit.domain.types import Side


def _dec(value: Any, field: str, symbol: str) -> Decimal:
    try:
        return Decimal(str(value))
    except Exception:  # decimal.InvalidOperation and friends
        raise RulesError(f"{symbol}: filter field {field}={value!r} is not a decimal number") from None


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


@dataclass(frozen=True, slots=True)
class PriceBand:
    """Allowed price range as multipliers of a reference (average) price, per side.

    Multipliers are kept as integer numerator/denominator pairs so ``bounds`` is integer arithmetic.
    """

    bid_up: tuple[int, int]
    bid_down: tuple[int, int]
    ask_up: tuple[int, int]
    ask_down: tuple[int, int]
    name: str = "PERCENT_PRICE_BY_SIDE"

    @classmethod
    def from_multipliers(cls, bid_up: str, bid_down: str, ask_up: str, ask_down: str, name: str) -> PriceBand:
        """Build from the filter's decimal strings."""

        def frac(v: str) -> tuple[int, int]:
            f = Fraction(str(v))
            return f.numerator, f.denominator

        return cls(frac(bid_up), frac(bid_down), frac(ask_up), frac(ask_down), name)

    def bounds(self, side: Side, ref_ticks: int) -> tuple[int, int]:
        """Inclusive integer tick bounds for ``side`` around ``ref_ticks``."""
        (un, ud), (dn, dd) = (self.bid_up, self.bid_down) if side is Side.BUY else (self.ask_up, self.ask_down)
        return -((-ref_ticks * dn) // dd), (ref_ticks * un) // ud


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """Trading rules of one symbol. Decimal fields are the exchange's values; ``*_ticks``/``*_steps``
    and ``min_notional_units`` are the same bounds in integer units (0 = no bound)."""

    symbol: str
    base_asset: str
    quote_asset: str
    status: str
    tick: Decimal
    step: Decimal
    min_price_ticks: int
    max_price_ticks: int
    min_qty_steps: int
    max_qty_steps: int
    min_notional: Decimal
    min_notional_units: int
    max_notional_units: int
    percent_price: PriceBand | None
    max_orders: int
    iceberg_parts: int = 0  # ICEBERG_PARTS limit: at most this many parts, CEIL(qty / icebergQty) (0: none)
    iceberg_allowed: bool = True  # exchangeInfo's icebergAllowed

    # ---- conversions (edges only: parsing and formatting) -------------------------------------
    def price_to_ticks(self, price: Decimal | str, side: Side | None = None) -> int:
        """Convert a price to ticks: exact if on the grid; otherwise bids down, asks up
        (never toward crossing); with ``side=None`` an off-grid price is an error."""
        p = Decimal(price)
        q = p / self.tick
        if q == q.to_integral_value():
            return int(q)
        if side is None:
            raise FilterError("PRICE_FILTER", f"{self.symbol}: price {p} is not a multiple of tickSize {self.tick}")
        return int(q.to_integral_value(ROUND_FLOOR if side is Side.BUY else ROUND_CEILING))

    def qty_to_steps(self, qty: Decimal | str, exact: bool = False) -> int:
        """Convert a quantity to lot steps, rounding down (or refusing an off-grid value if ``exact``)."""
        q = Decimal(qty) / self.step
        if exact and q != q.to_integral_value():
            raise FilterError("LOT_SIZE", f"{self.symbol}: quantity {qty} is not a multiple of stepSize {self.step}")
        return int(q.to_integral_value(ROUND_FLOOR))

    def notional_to_units(self, notional: Decimal | str) -> int:
        """Convert a quote amount to ``tick*step`` units, rounding up (used for lower bounds)."""
        return int((Decimal(notional) / (self.tick * self.step)).to_integral_value(ROUND_CEILING))

    def price(self, ticks: int) -> Decimal:
        """Ticks to a Decimal price on the grid."""
        return self.tick * ticks

    def qty(self, steps: int) -> Decimal:
        """Steps to a Decimal quantity on the grid."""
        return self.step * steps

    def format_price(self, ticks: int) -> str:
        """Price as a plain decimal string (never exponent form), as order parameters need."""
        return plain_decimal(self.tick * ticks)

    def format_qty(self, steps: int) -> str:
        """Quantity as a plain decimal string (never exponent form)."""
        return plain_decimal(self.step * steps)

    # ---- checks -------------------------------------------------------------------------------
    def check_order(
        self, side: Side, price_ticks: int, qty_steps: int, ref_ticks: int | None = None, iceberg_steps: int = 0
    ) -> None:
        """Raise ``FilterError`` naming the filter an order breaks; return None if it passes.

        The decision is ``OrderFilters.failure`` (and ``iceberg_failure`` for an iceberg showing
        ``iceberg_steps``), the check the engine and the simulated exchange use too; this only words it.
        The percent-price band is checked around ``ref_ticks`` if given.
        """
        f = OrderFilters.from_rules(self)
        name = f.failure(side is Side.BUY, price_ticks, qty_steps, ref_ticks or 0)
        if name:
            raise FilterError(name, f"{self.symbol}: {self._why(name, side, price_ticks, qty_steps, ref_ticks or 0)}")
        if iceberg_steps:
            name = f.iceberg_failure(qty_steps, iceberg_steps)
            if name:
                raise FilterError(name, f"{self.symbol}: {self.iceberg_why(name, qty_steps, iceberg_steps)}")

    def iceberg_parts_of(self, qty_steps: int, iceberg_steps: int) -> int:
        """How many parts an iceberg of ``qty_steps`` showing ``iceberg_steps`` has: ``CEIL(qty / icebergQty)``."""
        return -(-qty_steps // iceberg_steps) if iceberg_steps > 0 else 1

    def iceberg_why(self, name: str, qty_steps: int, iceberg_steps: int) -> str:
        """Word an iceberg's filter failure ``name`` (``OrderFilters.iceberg_failure``)."""
        vis = self.qty(iceberg_steps).normalize()
        if name == "ICEBERG_PARTS":
            least = self.qty(-(-qty_steps // max(self.iceberg_parts, 1))).normalize()
            return (
                f"quantity {self.qty(qty_steps).normalize():f} shown {vis:f} at a time is "
                f"{self.iceberg_parts_of(qty_steps, iceberg_steps)} parts, over the ICEBERG_PARTS limit "
                f"{self.iceberg_parts}: show at least {least:f}"
            )
        if self.max_qty_steps and iceberg_steps > self.max_qty_steps:
            return f"icebergQty {vis:f} is above maxQty {self.qty(self.max_qty_steps)}"
        return f"icebergQty {vis:f} is below minQty {self.qty(max(self.min_qty_steps, 1))}"

    def _why(self, name: str, side: Side, price_ticks: int, qty_steps: int, ref_ticks: int) -> str:
        """Word the filter failure ``name`` of an order (the limit it breaks, in the exchange's units)."""
        price, qty = self.price(price_ticks), self.qty(qty_steps)
        if name == "PRICE_FILTER":
            if self.max_price_ticks and price_ticks > self.max_price_ticks:
                return f"price {price} is above maxPrice {self.price(self.max_price_ticks)}"
            return f"price {price} is below minPrice {self.price(max(self.min_price_ticks, 1))}"
        if name == "LOT_SIZE":
            if self.max_qty_steps and qty_steps > self.max_qty_steps:
                return f"quantity {qty} is above maxQty {self.qty(self.max_qty_steps)}"
            return f"quantity {qty} is below minQty {self.qty(max(self.min_qty_steps, 1))}"
        if name == "NOTIONAL":
            if self.max_notional_units and price_ticks * qty_steps > self.max_notional_units:
                return f"order value {price * qty} is above maxNotional {plain_decimal(self.max_notional)}"
            return f"order value {price * qty} is below minNotional {self.min_notional}"
        band = self.percent_price
        if band is None:  # no other filter is checked
            return name
        lo, hi = band.bounds(side, ref_ticks)
        return (
            f"{side.name} price {price} is outside [{self.price(lo)}, {self.price(hi)}] around {self.price(ref_ticks)}"
        )

    @property
    def max_notional(self) -> Decimal:
        """The largest order value the NOTIONAL filter allows, in the quote asset (0: no bound)."""
        return self.max_notional_units * self.tick * self.step

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def from_symbol_info(cls, info: Mapping[str, Any]) -> SymbolRules:
        """Build rules from one entry of ``exchangeInfo["symbols"]``."""
        try:
            symbol = str(info["symbol"])
            filters = {f["filterType"]: f for f in info.get("filters", [])}
            base, quote = str(info["baseAsset"]), str(info["quoteAsset"])
        except (KeyError, TypeError) as e:
            raise RulesError(f"exchangeInfo symbol entry lacks field {e}") from None
        pf = filters.get("PRICE_FILTER")
        lot = filters.get("LOT_SIZE")
        if pf is None or lot is None:
            raise RulesError(f"{symbol}: exchangeInfo lacks PRICE_FILTER or LOT_SIZE")
        tick = _dec(pf["tickSize"], "tickSize", symbol).normalize()
        step = _dec(lot["stepSize"], "stepSize", symbol).normalize()
        if tick <= 0 or step <= 0:
            raise RulesError(f"{symbol}: tickSize and stepSize must be > 0 (got {tick}, {step})")

        def ticks(v: Any, name: str, up: bool) -> int:
            d = _dec(v, name, symbol) / tick
            return int(d.to_integral_value(ROUND_CEILING if up else ROUND_FLOOR))

        def steps(v: Any, name: str, up: bool) -> int:
            d = _dec(v, name, symbol) / step
            return int(d.to_integral_value(ROUND_CEILING if up else ROUND_FLOOR))

        unit = tick * step
        min_notional = Decimal(0)
        max_notional_units = 0
        nf = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL")
        if nf is not None:
            min_notional = _dec(nf.get("minNotional", 0), "minNotional", symbol)
            if "maxNotional" in nf:
                max_notional_units = int(
                    (_dec(nf["maxNotional"], "maxNotional", symbol) / unit).to_integral_value(ROUND_FLOOR)
                )
        band: PriceBand | None = None
        if "PERCENT_PRICE_BY_SIDE" in filters:
            f = filters["PERCENT_PRICE_BY_SIDE"]
            band = PriceBand.from_multipliers(
                str(f["bidMultiplierUp"]),
                str(f["bidMultiplierDown"]),
                str(f["askMultiplierUp"]),
                str(f["askMultiplierDown"]),
                name="PERCENT_PRICE_BY_SIDE",
            )
        elif "PERCENT_PRICE" in filters:
            f = filters["PERCENT_PRICE"]
            up, down = str(f["multiplierUp"]), str(f["multiplierDown"])
            band = PriceBand.from_multipliers(up, down, up, down, name="PERCENT_PRICE")
        mo = filters.get("MAX_NUM_ORDERS", {})
        parts = filters.get("ICEBERG_PARTS", {})
        return cls(
            symbol=symbol,
            base_asset=base,
            quote_asset=quote,
            status=str(info.get("status", "TRADING")),
            tick=tick,
            step=step,
            min_price_ticks=ticks(pf.get("minPrice", 0), "minPrice", True),
            max_price_ticks=ticks(pf.get("maxPrice", 0), "maxPrice", False),
            min_qty_steps=steps(lot.get("minQty", 0), "minQty", True),
            max_qty_steps=steps(lot.get("maxQty", 0), "maxQty", False),
            min_notional=min_notional,
            min_notional_units=int((min_notional / unit).to_integral_value(ROUND_CEILING)),
            max_notional_units=max_notional_units,
            percent_price=band,
            max_orders=int(mo.get("maxNumOrders", 0) or mo.get("limit", 0) or 0),
            iceberg_parts=int(parts.get("limit", 0) or 0),
            iceberg_allowed=bool(info.get("icebergAllowed", True)),
        )


def plain_decimal(d: Decimal) -> str:
    """A decimal as plain text without trailing zeros, never exponent form (``1E-5`` is ``0.00001``)."""
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s or "0"


def parse_exchange_info(doc: Mapping[str, Any], symbols: Iterable[str] | None = None) -> dict[str, SymbolRules]:
    """Parse an ``exchangeInfo`` answer into rules per symbol (all, or only ``symbols``).

    Entries that cannot be parsed are skipped when parsing everything; a requested symbol that is
    missing or unparsable raises ``RulesError`` naming it.
    """
    if not isinstance(doc, Mapping) or not isinstance(doc.get("symbols"), list):
        raise RulesError("exchangeInfo answer has no 'symbols' list")
    wanted = {s.upper() for s in symbols} if symbols is not None else None
    out: dict[str, SymbolRules] = {}
    errors: dict[str, str] = {}
    for info in doc["symbols"]:
        sym = str(info.get("symbol", "")) if isinstance(info, Mapping) else ""
        if wanted is not None and sym not in wanted:
            continue
        try:
            out[sym] = SymbolRules.from_symbol_info(info)
        except RulesError as e:
            errors[sym] = str(e)
    if wanted is not None:
        for sym in sorted(wanted - out.keys()):
            raise RulesError(
                errors.get(sym)
                or f"unknown symbol {sym!r}: not in the venue's exchangeInfo: check the pair's name (as Binance "
                "writes it, e.g. BTCUSDT) and that this venue lists it"
            )
    return out


_BUNDLED = Path(__file__).resolve().parent.parent / "data" / "samples" / "exchangeInfo_spot_full_2021-10-12.json.gz"


def load_exchange_info(path: str | Path | None = None) -> dict[str, Any]:
    """Read an exchangeInfo JSON file (``.gz`` allowed); default: the real 2021 answer shipped with liqkit."""
    import gzip

    p = Path(path) if path is not None else _BUNDLED
    opener = gzip.open if p.suffix == ".gz" else open
    try:
        with opener(p, "rt", encoding="utf-8") as fh:
            doc: dict[str, Any] = json.load(fh)
    except (OSError, json.JSONDecodeError) as e:
        raise RulesError(f"cannot read exchangeInfo from {p}: {e}") from None
    return doc


_SHIPPED_ENTRIES: dict[str, Mapping[str, Any]] = {}  # symbol -> its entry in the shipped exchangeInfo
_DEFAULT_CACHE: dict[str, SymbolRules] = {}


def _shipped_entries() -> dict[str, Mapping[str, Any]]:
    """The shipped exchangeInfo's entries by symbol, read once (parsing an entry is left to its first use)."""
    if not _SHIPPED_ENTRIES:
        doc = load_exchange_info()
        entries = doc.get("symbols") if isinstance(doc, Mapping) else None
        if not isinstance(entries, list):
            raise RulesError(f"{_BUNDLED}: exchangeInfo answer has no 'symbols' list")
        _SHIPPED_ENTRIES.update(
            {str(e["symbol"]).upper(): e for e in entries if isinstance(e, Mapping) and "symbol" in e}
        )
    return _SHIPPED_ENTRIES


def default_rules(symbol: str) -> SymbolRules:
    """Rules for ``symbol`` from the shipped real exchangeInfo (2021-10-12, 1,695 symbols).

    Only the requested symbol's entry is parsed, once: the first call costs reading the file, not
    parsing 1,695 symbols, and later calls are a dictionary lookup.
    """
    sym = symbol.upper()
    rules = _DEFAULT_CACHE.get(sym)
    if rules is not None:
        return rules
    entries = _shipped_entries()
    info = entries.get(sym)
    if info is None:
        raise RulesError(
            f"unknown symbol {symbol!r}: not among the {len(entries)} symbols of the shipped "
            "exchangeInfo; check the spelling (e.g. BTCUSDT) or give an exchangeInfo file"
        )
    rules = _DEFAULT_CACHE[sym] = SymbolRules.from_symbol_info(info)
    return rules
