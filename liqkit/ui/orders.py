"""``OrdersTable``: liqkit's open orders, one row widget per order, updated incrementally.

Order events (placed, accepted, cancelled, filled) only record the order's latest state; ``flush``
applies the net change: an order placed and cancelled between two flushes never reaches the browser,
a changed order re-sends its own row, a finished order's row goes back to the pool.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from liqkit.engine.events import Event, FillEvent, OrderEvent
from liqkit.engine.views import OrderView, Snapshot
from liqkit.ui.base import Panel
from liqkit.ui.fmt import dec
from liqkit.ui.rows import KeyedRows

OPEN = {"PENDING_NEW", "NEW", "PARTIALLY_FILLED", "PENDING_CANCEL", "UNKNOWN"}
SIDE_STYLE = {"BUY": "color:#1a7f37", "SELL": "color:#cf222e"}


def _sort(key: Hashable, cells: Sequence[Any]) -> tuple[str, int, float]:
    symbol, side, price = cells[0], cells[1], cells[2]
    try:
        p = float(price)
    except ValueError:
        p = 0.0
    return (symbol, 0 if side == "SELL" else 1, -p)  # like a book: asks above bids, prices falling


class OrdersTable(Panel):
    """Open orders of every pair (or of ``symbol`` only)."""

    def __init__(self, symbol: str | None = None) -> None:
        self.symbol = symbol.upper() if symbol else None
        self.orders: dict[str, OrderView] = {}
        self.table = KeyedRows(
            ["pair", "side", "price", "qty", "filled", "status", "client id"],
            "80px 44px 100px 80px 80px 120px 1fr",
            sort_key=_sort,
            empty_text="no open orders",
            css_class="lq-orders",
        )
        self.widget = self.table.box

    def _mine(self, symbol: str | None) -> bool:
        return self.symbol is None or symbol == self.symbol

    def _show(self, o: OrderView) -> None:
        self.orders[o.client_id] = o
        cells = [o.symbol, o.side, dec(o.price), dec(o.qty), dec(o.filled), o.status, o.client_id]
        self.table.upsert(o.client_id, cells, SIDE_STYLE.get(o.side, ""))

    def on_snapshot(self, snap: Snapshot) -> None:
        self.table.clear()
        self.orders = {}
        for o in snap.orders:
            if self._mine(o.symbol) and o.status in OPEN:
                self._show(o)

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, FillEvent) and self._mine(ev.symbol):
            o = self.orders.get(ev.client_id)
            if o is not None:  # the fills seen add up: an order event before its fill event keeps ``filled``
                try:
                    filled = str(Decimal(o.filled or "0") + Decimal(ev.qty))
                except InvalidOperation:
                    return
                self._show(o.model_copy(update={"filled": filled}))
        elif isinstance(ev, OrderEvent) and self._mine(ev.symbol):
            if ev.status not in OPEN:
                if self.orders.pop(ev.client_id, None) is not None:
                    self.table.remove(ev.client_id)
                return
            known = self.orders.get(ev.client_id)
            self._show(
                OrderView(
                    client_id=ev.client_id,
                    symbol=ev.symbol,
                    side=ev.side,
                    level=ev.level,
                    price=ev.price,
                    qty=ev.qty,
                    filled=known.filled if known is not None else "0",
                    status=ev.status,
                )
            )

    def flush(self) -> None:
        self.table.apply()
