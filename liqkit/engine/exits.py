"""OCO exits for accumulated inventory: when a pair holds more base than ``inventory_target``'s base amount
by more than ``exit_inventory`` (or less by as much), the whole excess gets one OCO order list: a
LIMIT_MAKER take-profit ``exit_take_profit`` from the mid and a STOP_LOSS whose stopPrice is
``exit_stop_loss`` from the mid on the other side (a SELL list for too much base, a BUY list for too
little). Distances are measured from the mid when the exit is placed (bps of the mid, or ticks), each
price rounded away from the mid to the tick; the excess is the base held less ``inventory_target`` of
the pair's value at the mid, and the exit's quantity is all of it (or what is free of it).

``exit_for`` decides (a pure function of the pair's balances and book); ``Exits`` keeps the lists the
runner placed, follows their legs on the user stream (a leg filled, or both ended: the list is done and
a later excess may get a new one) and journals the list and its legs. The runner places them through a
venue that has ``place_oco`` / ``cancel_order_list`` (``BinanceVenue``, REST or WebSocket API per
``order_entry``) and cancels them at stop, as it cancels its orders. The simulated venues of the backtest
do not model exits.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from liqkit.domain.config import Distance, PairConfig
from liqkit.domain.filters import OrderFilters
from liqkit.domain.rules import SymbolRules
from liqkit.domain.types import OrderStatus, Side
from liqkit.engine.ports import Sink

HOLD_NS = 5_000_000_000  # after a refused exit, the pair's next one waits this long
_ENDED = frozenset({OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED, OrderStatus.EXPIRED_IN_MATCH})


@dataclass(frozen=True, slots=True)
class OcoExit:
    """One exit: an OCO of ``qty`` steps, its take-profit limit price and stop price in ticks, and the
    client ids of the list and its legs."""

    symbol: str
    side: Side
    qty: int
    take_profit: int
    stop: int
    list_id: str
    tp_id: str
    sl_id: str


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
) -> OcoExit | None:
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
    return OcoExit(rules.symbol, side, qty, tp, stop, *ids)


class Exits:
    """The exits the runner placed, by list client id, with their legs' states."""

    def __init__(self, journal: Sink | None) -> None:
        self.journal = journal
        self.open: dict[str, OcoExit] = {}  # list client id -> exit (placed or being placed, not done)
        self.known: dict[str, OcoExit] = {}  # every exit placed, by list client id (its legs' later reports)
        self.legs: dict[str, tuple[str, OrderStatus]] = {}  # leg client id -> (list client id, status)
        self.placed = 0
        self.done = 0
        self.refusals = 0
        self.hold_until: dict[str, int] = {}  # symbol -> no new exit before this time (ns) after a refusal
        self._seq = 0

    def ids(self, symbol: str, nonce: str) -> tuple[str, str, str]:
        """Client ids for a new list and its legs (liqkit's prefix, so start-up cleanup finds them)."""
        self._seq += 1
        base = f"lq.{symbol[:10]}.x{nonce}{self._seq}"
        return base, f"{base}.tp", f"{base}.sl"

    def busy(self, symbol: str, ts: int) -> bool:
        """Whether the pair has an exit open (one at a time) or had one refused within ``HOLD_NS``."""
        return ts < self.hold_until.get(symbol, 0) or any(x.symbol == symbol for x in self.open.values())

    def placing(self, x: OcoExit, ts: int) -> None:
        self.open[x.list_id] = self.known[x.list_id] = x
        self.legs[x.tp_id] = (x.list_id, OrderStatus.PENDING_NEW)
        self.legs[x.sl_id] = (x.list_id, OrderStatus.PENDING_NEW)

    def placed_ok(self, x: OcoExit, rules: SymbolRules, ts: int) -> None:
        self.placed += 1
        if self.journal is not None:
            self.journal.state(
                ts,
                x.symbol,
                "exit",
                f"OCO {x.list_id}: {x.side.name} {rules.format_qty(x.qty)} take-profit "
                f"{rules.format_price(x.take_profit)} stop {rules.format_price(x.stop)}",
            )
            for cid, price, what in ((x.tp_id, x.take_profit, "take-profit"), (x.sl_id, x.stop, "stop-loss")):
                self.journal.order(
                    ts,
                    x.symbol,
                    cid,
                    x.side,
                    rules.format_price(price),
                    rules.format_qty(x.qty),
                    "0",
                    OrderStatus.NEW,
                    reason=f"exit {what} of {x.list_id}",
                )

    def refused(self, x: OcoExit, ts: int, why: str) -> None:
        """The venue refused the list: none for the pair for ``HOLD_NS`` (the next balance change after it
        tries again, at the prices of then)."""
        self._forget(x)
        self.refusals += 1
        self.hold_until[x.symbol] = ts + HOLD_NS
        if self.journal is not None:
            self.journal.state(ts, x.symbol, "exit", f"OCO {x.list_id} refused: {why}")

    def is_leg(self, client_id: str) -> bool:
        return client_id in self.legs

    def on_order(self, client_id: str, status: OrderStatus, filled: str, rules: SymbolRules, ts: int) -> None:
        """A leg's update from the user stream, journaled; a leg filled, or both ended, finish the list."""
        list_id, _ = self.legs[client_id]
        self.legs[client_id] = (list_id, status)
        x = self.known.get(list_id)
        if x is None:
            return
        if self.journal is not None:
            price = x.take_profit if client_id == x.tp_id else x.stop
            self.journal.order(
                ts, x.symbol, client_id, x.side, rules.format_price(price), rules.format_qty(x.qty), filled, status
            )
        if list_id not in self.open:
            return
        states = {"take-profit": self.legs[x.tp_id][1], "stop-loss": self.legs[x.sl_id][1]}
        filled_leg = next((name for name, s in states.items() if s == OrderStatus.FILLED), "")
        if filled_leg or all(s in _ENDED for s in states.values()):
            self.done += 1
            self._forget(x)
            if self.journal is not None:
                how = f"{filled_leg} FILLED" if filled_leg else "both legs ended"
                self.journal.state(ts, x.symbol, "exit", f"OCO {list_id} done: {how}")

    def _forget(self, x: OcoExit) -> None:
        self.open.pop(x.list_id, None)
