"""OCO exits for accumulated inventory: when a pair holds more base than ``inventory_target``'s base amount
by more than ``exit_inventory`` (or less by as much), the whole excess gets one OCO order list: a
LIMIT_MAKER take-profit ``exit_take_profit`` from the mid and a STOP_LOSS whose stopPrice is
``exit_stop_loss`` from the mid on the other side (a SELL list for too much base, a BUY list for too
little). Distances are measured from the mid when the exit is placed (bps of the mid, or ticks), each
price rounded away from the mid to the tick; the excess is the base held less ``inventory_target`` of
the pair's value at the mid, and the exit's quantity is all of it (or what is free of it).

``exit_for`` decides: a pure function of the pair's balances and book, returning the ``PlaceOco`` request.
The engine core (``EngineCore._exit``) asks it at each full evaluation of a pair with exits on and no exit
at work, keeps the list and its legs as orders of its own (purpose "exit": their fills count in the pair's
PnL), and cancels the list with a ``CancelList`` at stop; every venue executes the two requests (Binance
over REST or the WebSocket API, the simulated exchange in a backtest, a replay and ``liqkit run``).
"""

from __future__ import annotations

from fractions import Fraction

from liqkit.domain.config import Distance, PairConfig
from liqkit.domain.filters import OrderFilters
from liqkit.domain.rules import SymbolRules
from liqkit.domain.types import Side
from liqkit.engine.intents import PlaceOco

HOLD_NS = 5_000_000_000  # after a refused exit, the pair's next one waits this long


def offset(d: Distance, mid: Fraction) -> Fraction:
    """A distance from ``mid`` in ticks (bps of the mid, or ticks), exact."""
    if d.unit == "ticks":
        return Fraction(str(d.value))
    return mid * Fraction(str(d.value)) / 10_000


def _ceil(f: Fraction) -> int:
    return -(-f.numerator // f.denominator)


def _floor(f: Fraction) -> int:
    return f.numerator // f.denominator


def excess_steps(cfg: PairConfig, base_steps: int, quote_units: int, bid: int, ask: int) -> int:
    """Base held beyond ``inventory_target``'s base amount at the mid (negative: short of it), in steps."""
    r2 = bid + ask  # twice the mid, ticks
    value2 = base_steps * r2 + 2 * quote_units  # the pair's value in half tick*step units
    target = Fraction(str(cfg.inventory_target)) * value2 / r2
    return base_steps - round(target)


def exit_for(
    cfg: PairConfig,
    rules: SymbolRules,
    base_free: int,
    base_total: int,
    quote_free: int,
    quote_total: int,
    bid: int,
    ask: int,
    ids: tuple[str, str, str],
) -> PlaceOco | None:
    """The exit the pair needs now (None: exits off, no book, within ``exit_inventory``, or nothing the
    filters and free balance allow). Quantities in steps, quote in tick*step units, prices in ticks."""
    if cfg.exit_inventory is None or cfg.exit_take_profit is None or cfg.exit_stop_loss is None:
        return None
    if bid <= 0 or ask <= bid:
        return None
    dev = excess_steps(cfg, base_total, quote_total, bid, ask)
    threshold = int(Fraction(str(cfg.exit_inventory)) / Fraction(str(rules.step)))
    if abs(dev) <= threshold:
        return None
    mid = Fraction(bid + ask, 2)
    tp_off, sl_off = offset(cfg.exit_take_profit, mid), offset(cfg.exit_stop_loss, mid)
    # each price is the mid plus or minus its distance, rounded away from the mid to the tick
    if dev > 0:
        side = Side.SELL
        tp = max(ask, _ceil(mid + tp_off))  # a maker: never below the ask
        stop = _floor(mid - sl_off)
        qty = min(dev, base_free)
    else:
        side = Side.BUY
        tp = min(bid, _floor(mid - tp_off))
        stop = _ceil(mid + sl_off)
        qty = min(-dev, quote_free // max(1, stop))
    if qty <= 0 or stop <= 0:
        return None
    filters = OrderFilters.from_rules(rules)
    if filters.failure(side is Side.BUY, tp, qty, 0) or filters.failure(side is Side.BUY, stop, qty, 0):
        return None
    list_id, tp_id, sl_id = ids
    return PlaceOco(rules.symbol, list_id, side, qty, tp, stop, tp_id, sl_id)
