"""The budget rule: how large an order a pair's config may ask for, decided in one place.

The config loader, the control API, the CLI (``liqkit config``), the dashboard form and the engine all
call these functions, so a size one of them accepts is one all of them accept. The rule:

- every amount is finite and within ``MAX_AMOUNT`` (NaN, infinities and ``1e300`` never get in);
- one order's value is at most the pair's ``max_order_notional`` (quote asset, default
  ``DEFAULT_MAX_ORDER_NOTIONAL``), and within the symbol's own maximum quantity and order value;
- a size no side could place in full (more than the balances and ``max_inventory`` let it buy, and more
  than the base it holds to sell) is refused, once the balances are known (a pair without any balance is
  not refused for its size: nothing could be placed at any size).

A size in base units needs a price to be valued: the current book when there is one (API, CLI, form,
engine), otherwise the lowest price the symbol's rules allow (config load: a lower bound of the order's
value, so a refusal then is certain). The engine also enforces the cap on every order it places
(``liqkit.quoting``), whatever config it was given.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from liqkit.domain.errors import ConfigError

if TYPE_CHECKING:
    from liqkit.domain.rules import SymbolRules

MAX_AMOUNT = Decimal("1e15")  # no price, quantity or quote amount liqkit handles is larger
DEFAULT_MAX_ORDER_NOTIONAL = Decimal(1000)  # quote asset: a conservative cap on one order's value
AMOUNT_FIELDS = ("size", "max_order_notional", "max_inventory", "price_ceiling", "price_floor", "max_loss")


class BudgetError(ConfigError):
    """A size or amount breaks the budget rule; the message names the field, the value and the limit."""


def _plain(d: Decimal) -> str:
    """A decimal as plain text, without exponent for everyday values (1E+300 stays short)."""
    if not d.is_finite() or abs(d.adjusted()) > 20:
        return str(d)
    return f"{d.normalize():f}"


def check_amount(field: str, value: Any) -> None:
    """Raise ``BudgetError`` unless ``value`` (None: unset) is a finite amount within ``MAX_AMOUNT``."""
    if value is None:
        return
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
    except ArithmeticError:
        raise BudgetError(f"{field}: {str(value)[:40]!r} is not a number") from None
    if not d.is_finite():
        raise BudgetError(f"{field} = {d}: must be a finite number")
    if abs(d) > MAX_AMOUNT:
        raise BudgetError(f"{field} = {_plain(d)}: above the largest amount liqkit accepts, {_plain(MAX_AMOUNT)}")


def check_static(
    size: Decimal, size_unit: str, max_order_notional: Decimal, amounts: Mapping[str, Any] | None = None
) -> None:
    """The part of the rule that needs neither the symbol nor a price (a config file on its own):
    every amount bounded, and a size given as a quote notional within ``max_order_notional``."""
    for field, value in (amounts or {}).items():
        check_amount(field, value)
    check_amount("size", size)
    check_amount("max_order_notional", max_order_notional)
    if size_unit == "quote" and size > max_order_notional:
        raise BudgetError(
            f"size = {_plain(size)} (quote): one order would be worth {_plain(size)}, above "
            f"max_order_notional {_plain(max_order_notional)}: lower size or raise max_order_notional"
        )


def check_budget(
    cfg: Any,
    rules: SymbolRules,
    price: Decimal | None = None,
    balances: Mapping[str, tuple[Decimal, Decimal]] | None = None,
) -> None:
    """Raise ``BudgetError`` naming the field, the value and the limit when ``cfg`` (a ``PairConfig``)
    asks for orders larger than the rule allows on ``rules``' symbol.

    ``price`` values a base size (the current mid; None: the rules' lowest price, a lower bound);
    ``balances`` (asset -> (free, locked); None: unknown) refuse a size neither side could place.
    """
    check_static(cfg.size, cfg.size_unit, cfg.max_order_notional)
    cap: Decimal = cfg.max_order_notional
    q, b = rules.quote_asset, rules.base_asset
    known = price is not None and price.is_finite() and price > 0
    if not known:  # value a base size at the lowest price, a quote size at the highest: lower bounds
        price, at = rules.price(max(rules.min_price_ticks, 1)), "the lowest price the symbol allows"
    else:
        at = "the current price"
    assert price is not None
    if cfg.size_unit == "quote":
        value = cfg.size
        top = price if known else rules.price(rules.max_price_ticks) if rules.max_price_ticks else None
        qty = cfg.size / top if top else Decimal(0)
    else:
        qty = cfg.size
        value = cfg.size * price
        if value > cap:
            raise BudgetError(
                f"size = {_plain(cfg.size)} {b}: one order would be worth about {value:.2f} {q} at {at} "
                f"{_plain(price)}, above max_order_notional {_plain(cap)} {q}: lower size or raise max_order_notional"
            )
    if rules.max_qty_steps and qty > rules.qty(rules.max_qty_steps):
        raise BudgetError(
            f"size = {_plain(cfg.size)}: {_plain(qty)} {b} is above {rules.symbol}'s maximum quantity "
            f"{_plain(rules.qty(rules.max_qty_steps))} (LOT_SIZE maxQty): lower size"
        )
    if rules.max_notional_units and value > rules.max_notional:
        raise BudgetError(
            f"size = {_plain(cfg.size)}: an order worth {value:.2f} {q} is above {rules.symbol}'s maximum order "
            f"value {_plain(rules.max_notional)} (NOTIONAL maxNotional): lower size"
        )
    if balances:  # the size must fit in full on one side at least: bought (quote, max_inventory) or sold
        qf, ql = balances.get(q, (Decimal(0), Decimal(0)))
        bf, bl = balances.get(b, (Decimal(0), Decimal(0)))
        quote_total, base_total = qf + ql, bf + bl
        buys = quote_total / price if cfg.max_inventory is None else min(quote_total / price, cfg.max_inventory)
        if (quote_total or base_total) and qty > buys and qty > base_total:  # none at all: not the size's fault
            inv = "" if cfg.max_inventory is None else f", max_inventory {_plain(cfg.max_inventory)} {b}"
            raise BudgetError(
                f"size = {_plain(cfg.size)}: an order of {_plain(qty)} {b} (about {value:.2f} {q}) is more than "
                f"either side can place ({_plain(quote_total)} {q} to buy{inv}; {_plain(base_total)} {b} to "
                "sell): lower size"
            )
