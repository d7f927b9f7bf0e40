"""An independent account of a backtest's PnL, for tests to check liqkit's metrics against.

From the fills table alone (each fill's side, price, quantity and fee, in exchange units) and the
market data's book: cash and position are summed fill by fill in exact Decimal arithmetic, the
position is marked to the last mid of the data, and the edge of each fill is taken against the mid
in force when it happened. A fill whose ``purpose`` is "rebalance" (the active rebalance's) adds its
spread paid and its fee to ``rebalance_cost`` instead of to the spread capture and the fees. Nothing
here calls liqkit's metrics code (``liqkit.backtest.metrics``, ``BacktestResult``'s own figures), so a
test comparing the two can fail.

(``tests/`` is on ``sys.path`` because its conftest.py lives there: import as ``from pnl_check import ...``.)
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from liqkit.data.feed import MarketData

__all__ = ["PnlCheck", "assert_metrics_match", "pnl_from_fills"]


@dataclass(frozen=True)
class PnlCheck:
    """One symbol's account, in the quote asset (``position`` in the base asset)."""

    fills: int
    cash: Decimal  # paid for buys, received for sells, before fees
    position: Decimal
    fees: Decimal  # of the quotes' fills
    last_mid: Decimal
    spread_capture: Decimal  # the quotes' qty x (mid at the fill - price) for buys, (price - mid) for sells
    rebalance_cost: Decimal = Decimal(0)  # the rebalance's fills: qty x (price - mid) for buys ..., plus fees
    rebalance_fees: Decimal = Decimal(0)
    rebalance_fills: int = 0

    @property
    def pnl(self) -> Decimal:
        """Cash + position at the last mid - every fee."""
        return self.cash + self.position * self.last_mid - self.fees - self.rebalance_fees

    @property
    def inventory_pnl(self) -> Decimal:
        """What is left of the PnL besides the spread capture, the fees and the rebalance's cost."""
        return self.pnl + self.fees + self.rebalance_cost - self.spread_capture


def _on_grid(value: float, unit: Decimal, what: str) -> Decimal:
    """A float price or quantity as the exact multiple of ``unit`` it stands for (it must be one)."""
    exact = Decimal(repr(float(value))).quantize(unit)
    assert abs(float(exact) - float(value)) <= 1e-9 * max(1.0, abs(float(value))), f"{what} {value} is off the grid"
    return exact


def pnl_from_fills(fills: Any, data: MarketData) -> PnlCheck:
    """The account of ``data.symbol``'s rows of ``fills`` (a fills table: ts, symbol, side, price, qty, fee)."""
    rules = data.rules
    tick, step = rules.tick, rules.step
    book_ts = [int(t) for t in data.book["ts_local"]]
    bids, asks = data.book["bid"], data.book["ask"]
    assert book_ts, f"{data.symbol}: no book rows to mark the position to"

    def mid(i: int) -> Decimal:
        return (Decimal(int(bids[i])) + Decimal(int(asks[i]))) * tick / 2

    cash = position = fees = capture = rb_cost = rb_fees = Decimal(0)
    n = n_rb = 0
    for row in fills.itertuples(index=False):
        if str(row.symbol) != data.symbol:
            continue
        sign = {"BUY": 1, "SELL": -1}[str(row.side)]
        price = _on_grid(row.price, tick, "price")
        qty = _on_grid(row.qty, step, "qty")
        assert qty > 0, f"a fill of {qty}"
        cash -= sign * price * qty
        position += sign * qty
        fee = Decimal(repr(float(row.fee)))
        i = bisect.bisect_right(book_ts, int(row.ts)) - 1  # the last book row at or before the fill
        edge = sign * (mid(i) - price) * qty if i >= 0 else Decimal(0)
        if str(getattr(row, "purpose", "quote")) == "rebalance":
            rb_fees += fee
            rb_cost += fee - edge
            n_rb += 1
        else:
            fees += fee
            capture += edge
        n += 1
    return PnlCheck(n, cash, position, fees, mid(len(book_ts) - 1), capture, rb_cost, rb_fees, n_rb)


def assert_metrics_match(metrics: Any, fills: Any, data: MarketData) -> PnlCheck:
    """Assert a backtest's metrics (``pnl``, ``fees``, ``spread_capture``, ``inventory_pnl``,
    ``rebalance_cost``, ``fills``, ``final_position`` when present) equal the independent account of
    ``fills``; return that account."""
    check = pnl_from_fills(fills, data)
    assert metrics["fills"] == check.fills, (metrics["fills"], check.fills)
    figures = {
        "pnl": check.pnl,
        "fees": check.fees,
        "spread_capture": check.spread_capture,
        "inventory_pnl": check.inventory_pnl,
    }
    if "rebalance_cost" in metrics:
        figures["rebalance_cost"] = check.rebalance_cost
        assert metrics["rebalance_fills"] == check.rebalance_fills
    if "final_position" in metrics:
        figures["final_position"] = check.position
    for key, want in figures.items():
        got = metrics[key]
        assert abs(Decimal(repr(float(got))) - want) <= Decimal("1e-6"), f"{key}: metrics {got}, from the fills {want}"
    return check
